//! Running the hook-runner binary for the reliability tests (`tests/k8s_faults.rs`,
//! `tests/secrets_matrix.rs`, `tests/scale.rs`): with a chosen environment, bounded in time (a
//! hang is a failure, not a stuck suite), and measured: wall time and the peak resident set
//! size of the hook-runner process itself, from `wait4`'s rusage (`ru_maxrss`), which counts
//! that process only, not the ssh children it starts.
//!
//! Included with `#[path = "support/reliability.rs"] mod run;`.
#![allow(dead_code)]

// The binary declares process.rs once (tests/support/process.rs) beside this module.
use crate::process;

use process::{hook_runner_command, kill_after};
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// How a run ended and what it printed.
pub struct Run {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    /// Peak RSS of the hook-runner process, in KiB.
    pub max_rss_kib: u64,
    /// CPU time (user + system) of the hook-runner process and the children it waited for: a
    /// measure of work that, unlike `duration`, hardly depends on the machine's load.
    pub cpu: Duration,
}

impl Run {
    /// Both streams, for searching.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// The last `n` lines of stdout then stderr, for failure messages of long runs.
    pub fn tail(&self, n: usize) -> String {
        let last = |text: &str| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        format!(
            "exit {:?} after {:.1} s\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
            self.code,
            self.duration.as_secs_f64(),
            last(&self.stdout),
            last(&self.stderr)
        )
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:.1} s, peak RSS {} KiB\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.duration.as_secs_f64(),
            self.max_rss_kib,
            self.stdout,
            self.stderr
        )
    }
}

/// Runs hook-runner with `args`, `HOME=home`, no Kubernetes environment from the test process,
/// the termination log at `home/termination-log`, plus `env`; killed (and the test failed)
/// after `timeout`.
pub fn hook_runner(args: &[&str], env: &[(&str, &str)], home: &Path, timeout: Duration) -> Run {
    let started = Instant::now();
    let mut command = hook_runner_command(args, home);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("starting hook-runner");
    let pid = child.id() as i32;
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let watchdog = kill_after(pid, timeout);
    let (status, max_rss_kib, cpu) = wait_with_rusage(pid);
    // The child is reaped by wait4 above; `Child` never waits on drop.
    drop(child);
    let timed_out = watchdog.join().unwrap_or(false);
    let run = Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        duration: started.elapsed(),
        max_rss_kib,
        cpu,
    };
    assert!(
        !timed_out,
        "hook-runner {args:?} hung (killed after {timeout:?}): {}",
        run.tail(40)
    );
    run
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for `pid` and returns its wait status, peak RSS (KiB, Linux's `ru_maxrss` unit) and CPU
/// time.
fn wait_with_rusage(pid: i32) -> (i32, u64, Duration) {
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waiting for our own child with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            let cpu = Duration::from_secs_f64(seconds(usage.ru_utime) + seconds(usage.ru_stime));
            return (status, u64::try_from(usage.ru_maxrss).unwrap_or(0), cpu);
        }
        let interrupted = std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR);
        assert!(
            r == -1 && interrupted,
            "wait4({pid}) failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A playbook directory with `playbook.yml` and an empty `home/`, removed on drop.
pub struct Hook {
    pub dir: tempfile::TempDir,
}

impl Hook {
    pub fn new(playbook: &str) -> Hook {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("playbook.yml"), playbook).expect("writing the playbook");
        std::fs::create_dir(dir.path().join("home")).expect("home dir");
        Hook { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn home(&self) -> std::path::PathBuf {
        self.dir.path().join("home")
    }

    /// `hook-runner run playbook.yml EXTRA...` with `env`.
    pub fn run(&self, extra: &[&str], env: &[(&str, &str)], timeout: Duration) -> Run {
        let playbook = self.path("playbook.yml");
        let mut args = vec!["run", playbook.as_str()];
        args.extend_from_slice(extra);
        hook_runner(&args, env, &self.home(), timeout)
    }
}
