//! Shared helpers of the lab: the prerequisite policy, bounded polling, free ports, command runners.
//!
//! Prerequisite policy (one place, used by every lab helper and test):
//! - a lab test that cannot run here (not root, a tool missing) must never pass silently;
//! - with `CI=true` in the environment a missing prerequisite is a failure: the helper panics;
//! - outside CI the helper prints a loud banner to stderr and returns `false`, and the test returns early.
//!
//! Usage in a test: `if !lab::require_root("ssh_two_hosts") { return; }`.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// True when the environment says we run in CI (`CI=true` or `CI=1`), where skips are failures.
pub fn in_ci() -> bool {
    matches!(
        std::env::var("CI").map(|v| v.to_ascii_lowercase()),
        Ok(v) if v == "true" || v == "1" || v == "yes"
    )
}

/// True when the process runs with effective UID 0.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Applies the prerequisite policy to one prerequisite.
///
/// Returns `true` when `available`; otherwise panics in CI, or prints a loud banner naming the test
/// and what is missing and returns `false` so the caller can return early.
pub fn require(available: bool, test: &str, what: &str) -> bool {
    if available {
        return true;
    }
    if in_ci() {
        panic!("lab prerequisite missing for {test}: {what} (CI=true: a missing prerequisite is a failure)");
    }
    // Written straight to fd 2: libtest captures eprintln! of passing tests, and this must show.
    let banner = format!(
        "\n{bar}\n!!! LAB TEST NOT RUN: {test}\n!!! missing prerequisite: {what}\n\
         !!! (it would be a failure with CI=true; run scripts/test.sh as root)\n{bar}\n\n",
        bar = "!".repeat(78)
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), banner.as_bytes());
    append_report_line(&format!("LAB-NOT-RUN {test}: {what}"));
    false
}

/// The name of the test function it is written in (the last path segment that is not a closure
/// or an async block), so a test's reports never drift from its name.
#[macro_export]
macro_rules! test_name {
    () => {{
        fn here() {}
        $crate::util::function_name(::std::any::type_name_of_val(&here))
    }};
}

/// The lab-test prologue: binds `$test` to the test's name ([`test_name!`]) and returns from the
/// test when `$ready` (an expression over `$test` applying the prerequisite policy) is false.
///
/// ```ignore
/// lab::prologue!(test, lab::require_root_and(test, &["ssh", "sshd"]));
/// ```
#[macro_export]
macro_rules! prologue {
    ($test:ident, $ready:expr) => {
        let $test = $crate::test_name!();
        if !$ready {
            return;
        }
    };
}

/// The name libtest knows a test by in the binary that runs it: its module path without the
/// crate (the binary) and the function's name, as `--exact` wants it when a test re-runs its
/// own binary for one test (`lab::test_path(module_path!(), "pod_child")`).
pub fn test_path(module_path: &str, function: &str) -> String {
    match module_path.split_once("::") {
        Some((_, inner)) => format!("{inner}::{function}"),
        None => function.to_string(),
    }
}

/// The enclosing function's name from the type name of a function item defined in it
/// (`crate::module::the_test::here`, or `...::the_test::{{closure}}::here` in async tests).
pub fn function_name(here: &'static str) -> &'static str {
    here.rsplit("::")
        .find(|segment| *segment != "here" && !segment.starts_with('{'))
        .unwrap_or(here)
}

/// The test needs root (namespaces, mounts, sshd, setpriv). See the module doc for the policy.
pub fn require_root(test: &str) -> bool {
    require(is_root(), test, "root privileges (effective UID 0)")
}

/// The test needs an executable on `PATH` (or an absolute path that exists).
pub fn require_command(test: &str, command: &str) -> bool {
    require(
        find_command(command).is_some(),
        test,
        &format!("command `{command}` (not found on PATH)"),
    )
}

/// The test needs root and every listed command; stops at the first missing one.
pub fn require_root_and(test: &str, commands: &[&str]) -> bool {
    require_root(test) && commands.iter().all(|c| require_command(test, c))
}

/// Locates an executable like the shell would (absolute paths are checked as they are).
pub fn find_command(command: &str) -> Option<std::path::PathBuf> {
    if command.contains('/') {
        let p = Path::new(command);
        return p.is_file().then(|| p.to_path_buf());
    }
    // sbin directories are searched too: non-login root shells do not always have them on PATH.
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(command))
        .find(|p| p.is_file());
    found
}

/// Polls `probe` every `interval` until it returns true or `timeout` passes; returns whether it did.
pub fn wait_until(timeout: Duration, interval: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if probe() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(interval);
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice, not a guess).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .context("binding 127.0.0.1:0 to pick a free port")?;
    Ok(listener.local_addr()?.port())
}

/// True when a TCP connection to `addr:port` is accepted within `timeout`.
pub fn port_open(addr: Ipv4Addr, port: u16, timeout: Duration) -> bool {
    TcpStream::connect_timeout(&SocketAddrV4::new(addr, port).into(), timeout).is_ok()
}

/// Runs a command to completion and returns its output; fails with the command line and stderr
/// when it cannot be started or exits non-zero.
pub fn run_checked(cmd: &mut Command) -> Result<Output> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("starting {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// `run_checked` for a program and its arguments.
pub fn run(program: &str, args: &[&str]) -> Result<Output> {
    run_checked(Command::new(program).args(args))
}

/// Sends `signal` to `pid`; ESRCH (already gone) is not an error.
pub fn kill_pid(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions; pid > 0 keeps it away from process groups.
    if pid <= 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pid must be > 0",
        ));
    }
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(err)
}

/// True while a process with this pid exists (zombies count as gone: they hold no resources).
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the ")" that closes the command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// All descendants of `pid` (children, grandchildren...), found through `/proc/*/stat` parents.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent_pid(child) {
                parents.push((child, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, ppid) in &parents {
            if ppid == p && !found.contains(&child) {
                found.push(child);
                frontier.push(child);
            }
        }
    }
    found
}

/// The parent pid of `pid`, from `/proc/PID/stat` (the field after the state letter).
pub fn parent_pid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Stops a process tree the lab started: SIGTERM to `pid`, SIGKILL to its descendants (collected
/// first, so none is orphaned out of sight), then SIGKILL to `pid` if it outlives `grace`.
pub fn kill_tree(pid: i32, grace: Duration) {
    let children = descendants(pid);
    let _ = kill_pid(pid, libc::SIGTERM);
    for &child in &children {
        let _ = kill_pid(child, libc::SIGKILL);
    }
    if !wait_until(grace, Duration::from_millis(10), || !pid_alive(pid)) {
        let _ = kill_pid(pid, libc::SIGKILL);
    }
}

/// Reports one lab setup timing: to stderr as `LAB-TIMING <what> <milliseconds> ms` (shown with
/// `--nocapture` or on failure), and appended to the file named by `$LAB_TIMINGS_FILE` when set,
/// where `scripts/test.sh` collects and summarises them (cargo captures passing tests' stderr).
/// `what` is one word with dashes (`vm-boot`), so the summary groups it.
pub fn report_timing(what: &str, elapsed: Duration) {
    let line = format!("LAB-TIMING {what} {} ms", elapsed.as_millis());
    eprintln!("{line}");
    append_report_line(&line);
}

/// Appends one line to the file named by `$LAB_TIMINGS_FILE`, if set (see [`report_timing`]).
fn append_report_line(line: &str) {
    let Some(path) = std::env::var_os("LAB_TIMINGS_FILE") else {
        return;
    };
    // One small O_APPEND write per line: concurrent tests do not interleave.
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()));
    if let Err(e) = appended {
        eprintln!(
            "lab: cannot append to LAB_TIMINGS_FILE {}: {e}",
            Path::new(&path).display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_name_is_the_enclosing_function() {
        assert_eq!(crate::test_name!(), "test_name_is_the_enclosing_function");
    }

    #[test]
    fn test_path_drops_the_binary_and_keeps_the_modules() {
        assert_eq!(
            test_path("sshd::ssh_pod", "pod_child"),
            "ssh_pod::pod_child"
        );
        assert_eq!(test_path("k8s_pod", "pod_child"), "pod_child");
    }

    #[test]
    fn test_name_skips_closures_and_async_blocks() {
        let in_closure = || crate::test_name!();
        assert_eq!(in_closure(), "test_name_skips_closures_and_async_blocks");
        assert_eq!(
            super::function_name("x::a_test::{{closure}}::{{closure}}::here"),
            "a_test"
        );
    }

    #[test]
    fn wait_until_is_bounded() {
        let start = Instant::now();
        assert!(!wait_until(
            Duration::from_millis(100),
            Duration::from_millis(10),
            || false
        ));
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(wait_until(
            Duration::from_secs(1),
            Duration::from_millis(10),
            || true
        ));
    }

    #[test]
    fn require_passes_when_available() {
        assert!(require(true, "t", "nothing"));
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().unwrap();
        assert!(port > 0);
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn find_command_finds_sh() {
        assert!(find_command("sh").is_some());
        assert!(find_command("definitely-not-a-command-xyz").is_none());
    }

    #[test]
    fn own_pid_is_alive() {
        assert!(pid_alive(std::process::id() as i32));
    }
}
