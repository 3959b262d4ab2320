//! SIGTERM (the hook pod's deadline) and SIGINT end a run quickly with exit code 99, the
//! "User interrupted execution" message, a `canceled` status in the runner artifacts and
//! the termination message.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hook-runner");

const SLOW_PLAYBOOK: &str = "\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Wait a long time
      command: sleep 30
";

fn interrupt_with(signal: i32) {
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("playbook.yml");
    std::fs::write(&playbook, SLOW_PLAYBOOK).unwrap();
    let private = dir.path().join("runner");
    let term = dir.path().join("termination-log");
    let child = Command::new(BIN)
        .args(["ansible-runner", "run"])
        .arg(&private)
        .arg("-p")
        .arg(&playbook)
        .args(["--ident", "sig"])
        .arg("--termination-log")
        .arg(&term)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id() as i32;
    // SAFETY: kill(2) on the child we spawned; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?}",
        sent.elapsed()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(99), "{stdout}\n{stderr}");
    assert!(stderr.contains("User interrupted execution"), "{stderr}");
    assert!(stdout.contains("TASK [Wait a long time]"), "{stdout}");
    assert!(
        stdout
            .trim_end()
            .ends_with("hook-runner: exit code 99 (canceled, 1 host(s) failed)")
            || stdout
                .trim_end()
                .ends_with("hook-runner: exit code 99 (canceled)"),
        "{stdout}"
    );
    let artifacts = private.join("artifacts/sig");
    assert_eq!(
        std::fs::read_to_string(artifacts.join("status")).unwrap(),
        "canceled"
    );
    assert_eq!(std::fs::read_to_string(artifacts.join("rc")).unwrap(), "99");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&term).unwrap()).unwrap();
    assert_eq!(summary["status"], "canceled");
}

#[test]
fn sigterm_ends_the_run_with_99_and_canceled() {
    interrupt_with(libc::SIGTERM);
}

#[test]
fn sigint_ends_the_run_with_99_and_canceled() {
    interrupt_with(libc::SIGINT);
}
