//! The `ssh` connection when the run stops mid-command, and when a host does not answer yet,
//! against a private sshd on loopback (the lab's `SshHost`, same machine: its processes are
//! visible here).
//!
//! - A dropped `exec` (the engine drops the task's future on SIGTERM), a closed master, and the
//!   same under `become: sudo`: the remote command and its children are gone within a few
//!   seconds (the remote watchdog, `connection::watchdog`).
//! - Input cut off mid-transfer: the script is ended before it sees end-of-file, so it never
//!   acts on truncated input.
//! - A host whose sshd starts answering 3 s late is waited for; one that never answers is
//!   unreachable once the connect wait has passed, naming host, port and cause; a refused key
//!   is not retried.
//! - A connection lost mid-command is unreachable in ssh's own words: `Connection to X closed
//!   by remote host.` when sshd is killed, `Timeout, server X not responding.` when the server
//!   stops answering (its sshd frozen: a cut link as the keepalive sees it).
//! - hook-runner SIGKILLed alone (the OOM killer): its ssh master does not survive it (it gets
//!   SIGTERM from the kernel, `PR_SET_PDEATHSIG`), the remote command ends, and the next run
//!   removes the control dir the killed one left.

use hook_runner::connection::ssh::SshConnection;
use hook_runner::connection::{Become, BecomeMethod, ConnError, Connection, SshTarget};
use lab::SshHost;
use sshd::{control_dir, policy, req, target};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sshd;

const NEEDS: &[&str] = &["ssh", "sshd", "ssh-keygen", "pgrep"];

fn lab_ready(test: &str) -> bool {
    lab::require_root_and(test, NEEDS)
}

/// Processes on this machine whose whole command line is `cmdline`.
fn processes(cmdline: &str) -> Vec<String> {
    let out = std::process::Command::new("pgrep")
        .args(["-fx", cmdline])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until a process runs `cmdline` (the remote command started).
async fn started(cmdline: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    while processes(cmdline).is_empty() {
        assert!(
            Instant::now() < end,
            "`{cmdline}` never started on the host"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that no process runs `cmdline` within `limit`; returns how long it took.
async fn gone_within(cmdline: &str, limit: Duration) -> Duration {
    let begin = Instant::now();
    while !processes(cmdline).is_empty() {
        assert!(
            begin.elapsed() < limit,
            "`{cmdline}` still runs on the host {limit:?} after the client went away: {:?}",
            processes(cmdline)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    begin.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_exec_ends_the_remote_command_and_its_children() {
    if !lab_ready("a_dropped_exec_ends_the_remote_command_and_its_children") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let conn = Arc::new(SshConnection::new(target(&host), policy(dir.path())));
    // A child of the script's shell, and the shell waiting for it.
    let run = tokio::spawn({
        let conn = conn.clone();
        async move { conn.exec(req("sleep 301.25 & wait")).await }
    });
    started("sleep 301.25").await;
    run.abort();
    let took = gone_within("sleep 301.25", Duration::from_secs(5)).await;
    eprintln!("LAB-TIMING remote-command-gone-after-drop {took:?}");
    // The master is still usable for the next command.
    assert_eq!(conn.exec(req("echo ok")).await.unwrap().stdout, b"ok\n");
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_master_ends_the_remote_command() {
    if !lab_ready("closing_the_master_ends_the_remote_command") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let conn = Arc::new(SshConnection::new(target(&host), policy(dir.path())));
    let run = tokio::spawn({
        let conn = conn.clone();
        async move { conn.exec(req("sleep 302.25")).await }
    });
    started("sleep 302.25").await;
    conn.close().await;
    let result = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the exec returns once its master is closed")
        .unwrap();
    assert!(
        result.is_err() || result.as_ref().unwrap().rc != 0,
        "{result:?}"
    );
    gone_within("sleep 302.25", Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_exec_under_sudo_ends_the_escalated_command() {
    lab::prologue!(test, lab_ready(test) || !lab::require_command(test, "sudo"));
    let host = SshHost::options()
        .root(true)
        .start_loopback()
        .expect("sshd");
    let dir = control_dir();
    // root escalates to the unprivileged test user: the command runs as someone else than the
    // SSH login, so only a watchdog inside the escalated shell may signal it.
    let mut as_root = target(&host);
    as_root.user = Some("root".into());
    let conn = Arc::new(SshConnection::new(as_root, policy(dir.path())));
    let mut r = req("sleep 303.25");
    r.become_ = Some(Become {
        method: BecomeMethod::Sudo,
        user: host.user().into(),
        flags: None,
    });
    let run = tokio::spawn({
        let conn = conn.clone();
        async move { conn.exec(r).await }
    });
    started("sleep 303.25").await;
    run.abort();
    gone_within("sleep 303.25", Duration::from_secs(5)).await;
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_cut_off_mid_transfer_is_never_acted_on() {
    if !lab_ready("input_cut_off_mid_transfer_is_never_acted_on") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let conn = Arc::new(SshConnection::new(target(&host), policy(dir.path())));
    let out_dir = tempfile::tempdir().unwrap();
    lab_chmod(out_dir.path(), 0o777);
    let dest = out_dir.path().join("dest");
    // The script reads its input only after a pause, so the transfer is still in flight (more
    // than the SSH window and pipe buffers) when the client goes away.
    let mut r = req(&format!(
        "sleep 1.5; cat >{0}.part && mv {0}.part {0}",
        dest.display()
    ));
    r.stdin = Some(vec![b'x'; 32 * 1024 * 1024]);
    let run = tokio::spawn({
        let conn = conn.clone();
        async move { conn.exec(r).await }
    });
    started("sleep 1.5").await;
    run.abort();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !dest.exists(),
        "the script saw end-of-file after truncated input and installed it"
    );
    // Whole input still works on the same connection.
    let mut r = req(&format!("cat >{0}.part && mv {0}.part {0}", dest.display()));
    r.stdin = Some(vec![b'y'; 1024 * 1024]);
    assert_eq!(conn.exec(r).await.unwrap().rc, 0);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), 1024 * 1024);
    conn.close().await;
}

fn lab_chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Forwards `127.0.0.1:port` to `to` from `after` on: a host whose sshd starts late.
fn late_forwarder(port: u16, to: (std::net::Ipv4Addr, u16), after: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) else {
            return;
        };
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(to) else {
                continue;
            };
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            std::thread::spawn(move || pipe(client, server));
            std::thread::spawn(move || pipe(s2, c2));
        }
    });
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_answers_late_is_waited_for() {
    if !lab_ready("a_host_that_answers_late_is_waited_for") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let port = lab::util::free_port().unwrap();
    late_forwarder(port, (host.address(), host.port()), Duration::from_secs(3));
    let mut t = target(&host);
    t.address = "127.0.0.1".into();
    t.port = Some(port);
    t.connect_wait = Some(Duration::from_secs(30));
    let conn = SshConnection::new(t, policy(dir.path()));
    let begin = Instant::now();
    let out = conn
        .exec(req("echo up"))
        .await
        .expect("the late host is waited for");
    assert_eq!(out.stdout, b"up\n");
    let took = begin.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(15),
        "{took:?}"
    );
    eprintln!("LAB-TIMING late-host-connected-after {took:?}");
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_answers_is_unreachable_after_the_wait() {
    if !lab_ready("a_host_that_never_answers_is_unreachable_after_the_wait") {
        return;
    }
    let dir = control_dir();
    let port = lab::util::free_port().unwrap();
    let t = SshTarget {
        address: "127.0.0.1".into(),
        port: Some(port),
        user: Some("nobody".into()),
        connect_wait: Some(Duration::from_secs(3)),
        ..SshTarget::default()
    };
    let conn = SshConnection::new(t, policy(dir.path()));
    let begin = Instant::now();
    match conn.exec(req("true")).await {
        Err(ConnError::Unreachable(m)) => {
            assert!(
                m.starts_with(&format!("Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port {port}: Connection refused")),
                "{m}"
            );
            assert!(
                m.contains(&format!("waiting 3 s for 127.0.0.1:{port}")),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    let took = begin.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_not_retried() {
    if !lab_ready("a_refused_key_is_not_retried") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let mut t = target(&host);
    // The host's own key is a valid private key the server does not accept for the user.
    t.private_key_file = Some(host.host_key_path().display().to_string());
    t.extra_args = vec!["-o".into(), "IdentitiesOnly=yes".into()];
    t.connect_wait = Some(Duration::from_secs(60));
    let conn = SshConnection::new(t, policy(dir.path()));
    let begin = Instant::now();
    match conn.exec(req("true")).await {
        Err(ConnError::Unreachable(m)) => assert!(m.contains("Permission denied"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(
        begin.elapsed() < Duration::from_secs(5),
        "{:?}",
        begin.elapsed()
    );
}

/// The ssh master processes whose control socket is under `control` (`ssh … -S CONTROL/…`).
fn masters_of(control: &Path) -> String {
    let pattern = format!("-S {}/", control.display());
    let out = std::process::Command::new("pgrep")
        .args(["-f", "--", &pattern])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts hook-runner on a playbook in `work` whose one play runs `task` on the inventory's
/// `target` (written by `sshd::write_target_inventory`), its ssh control sockets under
/// `control`, its outputs piped.
fn spawn_one_task_run(work: &Path, control: &Path, task: &str) -> std::process::Child {
    let playbook = work.join("playbook.yml");
    std::fs::write(
        &playbook,
        format!("- hosts: target\n  gather_facts: false\n  tasks:\n  - {task}\n"),
    )
    .unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_hook-runner"))
        .arg("run")
        .arg(&playbook)
        .arg("-i")
        .arg(work.join("inventory.ini"))
        .arg("--control-dir")
        .arg(control)
        .env("HOME", work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// SIGTERM to the hook-runner process while its remote command runs (outside the pod, so
/// nothing reaps for it): exit 99 within 5 s, the remote command gone, no ssh master process
/// and no control socket dir left behind.
#[test]
fn sigterm_to_the_cli_leaves_nothing_running_anywhere() {
    if !lab_ready("sigterm_to_the_cli_leaves_nothing_running_anywhere") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let work = tempfile::tempdir().unwrap();
    let control = control_dir();
    sshd::write_target_inventory(work.path(), &host);
    let child = spawn_one_task_run(work.path(), control.path(), "command: sleep 304.25");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(started("sleep 304.25"));
    assert!(
        !masters_of(control.path()).is_empty(),
        "the probe for ssh masters finds none while the run is on"
    );
    // SAFETY: signals the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let signalled = Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = signalled.elapsed();
    assert_eq!(out.status.code(), Some(99), "{out:?}");
    assert!(
        took < Duration::from_secs(5),
        "exit took {took:?} after SIGTERM"
    );
    runtime.block_on(gone_within("sleep 304.25", Duration::from_secs(5)));
    let masters = masters_of(control.path());
    assert!(masters.is_empty(), "ssh masters left running: {masters:?}");
    let left: Vec<_> = std::fs::read_dir(control.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "control dirs left: {left:?}");
}

/// SIGKILL to the hook-runner process alone while its remote command runs (nothing else is
/// signalled): its ssh master ends within 5 s (it was started with a parent-death signal), so
/// the connection closes and the remote command ends; the next run removes the control dir
/// the killed one could not.
#[test]
fn sigkill_of_the_cli_alone_leaves_no_ssh_master_and_the_next_run_sweeps_its_dir() {
    if !lab_ready("sigkill_of_the_cli_alone_leaves_no_ssh_master_and_the_next_run_sweeps_its_dir") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let work = tempfile::tempdir().unwrap();
    let control = control_dir();
    sshd::write_target_inventory(work.path(), &host);
    let run = |task: &str| spawn_one_task_run(work.path(), control.path(), task);
    let mut child = run("command: sleep 305.25");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(started("sleep 305.25"));
    assert!(
        !masters_of(control.path()).is_empty(),
        "the probe for ssh masters finds none while the run is on"
    );
    // SAFETY: signals the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    let end = Instant::now() + Duration::from_secs(5);
    let mut masters = masters_of(control.path());
    while !masters.is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        masters = masters_of(control.path());
    }
    if !masters.is_empty() {
        for pid in masters.split_whitespace() {
            let _ = std::process::Command::new("kill")
                .args(["-9", pid])
                .status();
        }
        panic!("the ssh master outlived the SIGKILLed hook-runner: {masters:?}");
    }
    runtime.block_on(gone_within("sleep 305.25", Duration::from_secs(10)));
    let next = run("command: 'true'").wait_with_output().unwrap();
    assert_eq!(next.status.code(), Some(0), "{next:?}");
    let left: Vec<_> = std::fs::read_dir(control.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        left.is_empty(),
        "control dirs left after the next run: {left:?}"
    );
}

/// Sends `signal` to every sshd serving a connection of `host` (the listener's descendants).
fn signal_sessions(host: &SshHost, signal: i32) -> usize {
    let sessions: Vec<i32> = lab::util::descendants(host.pid())
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "sshd")
        })
        .collect();
    for &pid in &sessions {
        let _ = lab::util::kill_pid(pid, signal);
    }
    sessions.len()
}

/// Runs `sleep SECONDS` over a fresh connection (keepalive 1 s x 2 unless `keepalive` is
/// false), applies `fault` to the sshd sessions once it runs, and returns the exec's error.
async fn lost_mid_command(seconds: &str, fault: impl FnOnce(&SshHost)) -> String {
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let mut t = target(&host);
    t.extra_args = ["-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2"]
        .map(String::from)
        .to_vec();
    let conn = Arc::new(SshConnection::new(t, policy(dir.path())));
    let command = format!("sleep {seconds}");
    let run = tokio::spawn({
        let conn = conn.clone();
        let command = command.clone();
        async move { conn.exec(req(&command)).await }
    });
    started(&command).await;
    fault(&host);
    let result = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the exec returns once the connection is lost")
        .unwrap();
    signal_sessions(&host, libc::SIGKILL);
    conn.close().await;
    match result {
        Err(ConnError::Unreachable(m)) => m,
        other => panic!("expected unreachable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_by_the_server_is_reported_in_ssh_words() {
    if !lab_ready("a_connection_closed_by_the_server_is_reported_in_ssh_words") {
        return;
    }
    let msg = lost_mid_command("307.25", |host| {
        assert!(
            signal_sessions(host, libc::SIGKILL) > 0,
            "no sshd session found"
        );
    })
    .await;
    assert_eq!(
        msg,
        "Failed to connect to the host via ssh: Connection to 127.0.0.1 closed by remote host."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_is_reported_in_ssh_words() {
    if !lab_ready("a_server_that_stops_answering_is_reported_in_ssh_words") {
        return;
    }
    let msg = lost_mid_command("308.25", |host| {
        assert!(
            signal_sessions(host, libc::SIGSTOP) > 0,
            "no sshd session found"
        );
    })
    .await;
    assert_eq!(
        msg,
        "Failed to connect to the host via ssh: Timeout, server 127.0.0.1 not responding."
    );
}
