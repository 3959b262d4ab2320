//! A second run after a failed first run. Forklift's hook Job
//! has `backoffLimit: 1`, so a failed hook pod is run once more, from scratch, against a VM the
//! first run already changed. The second run must finish the work and report as changed only
//! what it changed itself: what the first run did is `ok` now.
//!
//! Through the hook-runner binary against the lab's systemd VM (MariaDB, no Python): the first
//! run stops MariaDB and writes a file, then fails on a step that is not ready yet; the second
//! run (a fresh process, as a new pod is) passes that step and does the rest.

#[path = "e2e/common.rs"]
mod common;
#[path = "faults/common.rs"]
mod faults;

use common::Findings;
use faults::*;
use lab::vm::Vm;
use std::time::Duration;

/// Bound on one hook-runner run.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

const PLAY: &str = r#"- name: A hook that fails once
  hosts: targets
  gather_facts: false
  tasks:
  - name: Stop MariaDB
    service:
      name: mariadb
      state: stopped
  - name: Mark the migration
    copy:
      content: "Migration started\n"
      dest: /root/faults-marker
      mode: "0644"
  - name: Not ready on the first attempt
    shell: "test -e /root/faults-ready || { touch /root/faults-ready; echo 'not ready yet' >&2; exit 1; }"
    changed_when: false
  - name: Finish
    copy:
      content: "Migration finished\n"
      dest: /root/faults-finished
  - name: Make the work directory
    file:
      path: /root/faults-work
      state: directory
      mode: "0750"
"#;

/// The status word (`ok`, `changed`, `fatal`, `skipping`...) of `host` in the task `task`, from
/// the console output.
fn task_status(stdout: &str, task: &str, host: &str) -> Option<String> {
    let header = format!("TASK [{task}]");
    let tag = format!("[{host}]");
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(&header))
        .skip(1)
        .take_while(|l| !l.starts_with("TASK [") && !l.starts_with("PLAY RECAP"))
        .find(|l| l.contains(&tag))
        .and_then(|l| l.split(':').next())
        .map(str::to_string)
}

/// The termination message of the last run (the pod status's copy of the outcome): `status`,
/// `rc`, and vm1's recap counts as [ok, changed, failed].
fn termination_summary(work: &Workdir) -> (String, i64, Option<[u64; 3]>) {
    let text = std::fs::read_to_string(work.home().join("termination-log")).unwrap_or_default();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let recap = summary["recap"].as_array().and_then(|hosts| {
        let vm1 = hosts.iter().find(|h| h["host"] == "vm1")?;
        Some([
            vm1["ok"].as_u64()?,
            vm1["changed"].as_u64()?,
            vm1["failed"].as_u64()?,
        ])
    });
    (
        summary["status"].as_str().unwrap_or_default().to_string(),
        summary["rc"].as_i64().unwrap_or(-1),
        recap,
    )
}

#[test]
fn faults_second_run_after_a_failed_run_finishes_and_reports_only_its_changes() {
    let test = "faults_second_run_after_a_failed_run_finishes_and_reports_only_its_changes";
    if !lab::require_root_and(test, lab::vm::HOST_COMMANDS) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let work = Workdir::new(PLAY, &inventory(&[vm_host("vm1", &vm, "")]));
    let mut findings = Findings::default();

    let first = work.run(&[], RUN_TIMEOUT);
    findings.eq("exit code of the first run", Some(2), first.code);
    findings.eq(
        "recap of the first run (ok, changed, unreachable, failed, skipped, rescued, ignored)",
        Some([2, 2, 0, 1, 0, 0, 0]),
        recap_counts(&first.stdout, "vm1"),
    );
    findings.check(first.stdout.contains("not ready yet"), || {
        "the first run's failure does not show the task's stderr".to_string()
    });

    findings.eq(
        "termination message of the first run (status, rc, vm1 [ok, changed, failed])",
        ("failed".to_string(), 2, Some([2, 2, 1])),
        termination_summary(&work),
    );

    let second = work.run(&[], RUN_TIMEOUT);
    findings.eq(
        "termination message of the second run (status, rc, vm1 [ok, changed, failed])",
        ("successful".to_string(), 0, Some([5, 2, 0])),
        termination_summary(&work),
    );
    findings.eq("exit code of the second run", Some(0), second.code);
    findings.eq(
        "recap of the second run (ok, changed, unreachable, failed, skipped, rescued, ignored)",
        Some([5, 2, 0, 0, 0, 0, 0]),
        recap_counts(&second.stdout, "vm1"),
    );
    for (task, status) in [
        ("Stop MariaDB", "ok"),
        ("Mark the migration", "ok"),
        ("Not ready on the first attempt", "ok"),
        ("Finish", "changed"),
        ("Make the work directory", "changed"),
    ] {
        findings.eq(
            &format!("status of `{task}` in the second run"),
            Some(status.to_string()),
            task_status(&second.stdout, task, "vm1"),
        );
    }
    findings.eq(
        "MariaDB after the second run",
        "inactive".to_string(),
        vm.exec_ok("systemctl is-active mariadb || true"),
    );
    findings.eq(
        "the work the second run finished",
        "Migration finished|750".to_string(),
        vm.exec_ok("printf '%s|' \"$(cat /root/faults-finished)\"; stat -c %a /root/faults-work"),
    );
    findings.finish(&format!("first run: {first:?}\nsecond run: {second:?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}
