//! SIGTERM (the hook pod's deadline) and SIGINT end a run quickly with exit code 99, the
//! "User interrupted execution" message, a `canceled` status in the runner artifacts and
//! the termination message.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hook-runner");

/// A slow local command with arguments unique to this test run, so a leftover is recognisable.
fn slow_playbook(marker: &str) -> String {
    format!(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: Wait a long time\n      command: sleep {marker}\n"
    )
}

/// Pids of processes whose command line is exactly `sleep <marker>`.
fn leftovers(marker: &str) -> Vec<i32> {
    let wanted = format!("sleep\0{marker}\0");
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| c == wanted.as_bytes())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn interrupt_with(signal: i32) {
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("playbook.yml");
    let marker = format!("29.{}{signal}", std::process::id() % 1000);
    std::fs::write(&playbook, slow_playbook(&marker)).unwrap();
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
    // Stopping the command itself is the engine's part (tested with the engine); here, only
    // make sure this test leaves nothing running.
    for pid in leftovers(&marker) {
        eprintln!("warning: the interrupted command (pid {pid}) was still running; killing it");
        // SAFETY: kill(2) on a process running exactly the command this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
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

#[test]
fn timeout_stops_the_run_with_status_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("playbook.yml");
    let marker = format!("29.{}7", std::process::id() % 1000);
    std::fs::write(&playbook, slow_playbook(&marker)).unwrap();
    let private = dir.path().join("runner");
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(["ansible-runner", "run"])
        .arg(&private)
        .arg("-p")
        .arg(&playbook)
        .args(["--ident", "t", "--timeout", "1"])
        .output()
        .unwrap();
    for pid in leftovers(&marker) {
        // SAFETY: kill(2) on a process running exactly the command this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(99), "{stdout}");
    assert!(
        stdout.contains("HOOK CANCELED: Timeout (1s) exceeded"),
        "{stdout}"
    );
    let status = std::fs::read_to_string(private.join("artifacts/t/status")).unwrap();
    assert_eq!(status, "timeout");
}
