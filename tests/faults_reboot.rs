//! A VM that goes away and comes back in the middle of a play (a
//! `reboot`-style task, then `wait_for_connection`), through the hook-runner binary against
//! the lab's systemd VM.
//!
//! Two variants:
//! - A real reboot, the canonical way a hook writes it: `shell: sleep 2 && systemctl reboot`
//!   with `async: 10, poll: 0` (the task returns before the host goes down), then
//!   `wait_for_connection`; the play goes on over a new connection, on a new boot. (The lab's
//!   VM supervisor starts `systemd-nspawn` again when the container reboots.)
//! - An outage without a reboot, scheduled by a transient timer (`systemd-run --on-active=2`):
//!   for 8 seconds the VM loses what a reboot takes from an SSH client: every sshd of the VM is
//!   SIGKILLed (the master connection hook-runner holds breaks, new connections are refused),
//!   MariaDB is stopped, then both start again (new sshd, new host state).

#[path = "e2e/common.rs"]
mod common;
#[path = "faults/common.rs"]
mod faults;

use common::Findings;
use faults::*;
use lab::vm::Vm;
use std::time::Duration;

/// Bound on the hook-runner run (the outage is 8 s, a reboot a few seconds here).
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// The outage of the variant, run by a transient timer 2 s after the task: sshd and MariaDB
/// down (sshd killed outright, with its sessions), 8 s later up again.
const OUTAGE_SCRIPT: &str = r#"systemctl stop ssh.socket ssh.service mariadb.service
for p in /proc/[0-9]*; do
  [ "$(cat "$p/comm" 2>/dev/null)" = sshd ] && kill -9 "${p#/proc/}"
done
sleep 8
systemctl start mariadb.service ssh.service
"#;

/// Identity of the sshd serving the VM (its main process start time): it changes when sshd
/// comes back.
const SSHD_IDENTITY: &str = "systemctl show -p ExecMainStartTimestampMonotonic --value ssh.service";

/// The boot's identity: the boot id and the start time of PID 1 (clock ticks since boot).
const BOOT_IDENTITY: &str = "cat /proc/sys/kernel/random/boot_id; cut -d' ' -f22 /proc/1/stat";

/// The play: a change, the identity, the outage task, `wait_for_connection`, the identity again
/// (asserted different by the play itself), a change after. `go_down` is the outage task's
/// action (and keywords), as YAML lines under the task.
fn play(prepare: &str, go_down: &str, identity: &str) -> String {
    format!(
        r#"- name: The VM goes away in the middle of a play
  hosts: targets
  gather_facts: false
  tasks:
  - name: Before the outage
    copy:
      content: "before\n"
      dest: /root/faults-before
{prepare}  - name: Identity before
    shell: "{identity}"
    register: before
  - name: Go down
{go_down}
  - name: Wait for the VM to come back
    wait_for_connection:
      delay: 5
      sleep: 1
      timeout: 180
  - name: Identity after
    shell: "{identity}"
    register: after
  - name: The VM did go down and come back
    assert:
      that:
        - before.stdout != after.stdout
  - name: After the outage
    copy:
      content: "after\n"
      dest: /root/faults-after
  - name: MariaDB is back
    command: systemctl is-active mariadb
    changed_when: false
"#
    )
}

/// Runs `playbook` against a fresh VM and checks that the play went through the outage.
fn run_through_outage(playbook: &str, identity: &str, expected_recap: [u32; 7]) {
    let vm = Vm::boot().expect("the lab VM boots");
    let identity_before = vm.exec_ok(identity);
    let work = Workdir::new(playbook, &inventory(&[vm_host("vm1", &vm, "")]));
    let out = work.run(&[], RUN_TIMEOUT);
    eprintln!("faults: {out:?}");

    let mut findings = Findings::default();
    findings.eq("exit code", Some(0), out.code);
    findings.eq(
        "recap of vm1 (ok, changed, unreachable, failed, skipped, rescued, ignored)",
        Some(expected_recap),
        recap_counts(&out.stdout, "vm1"),
    );
    // Checked from the test too, not only by the play's own assert.
    match vm.try_exec("root", "cat /root/faults-after", Duration::from_secs(30)) {
        Ok(o) => findings.eq(
            "the file written after the outage",
            "after".to_string(),
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
        ),
        Err(e) => findings.check(false, || {
            format!("the VM is not reachable after the run: {e:#}")
        }),
    }
    let identity_after = vm
        .try_exec("root", identity, Duration::from_secs(30))
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    findings.check(identity_before != identity_after, || {
        format!("the VM did not go down: identity {identity_before:?} before and {identity_after:?} after")
    });
    lab::util::report_timing("faults-outage-run", out.duration);
    findings.finish(&format!("{out:?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}

#[test]
fn faults_vm_going_down_and_up_mid_play_is_waited_for_and_the_play_goes_on() {
    let test = "faults_vm_going_down_and_up_mid_play_is_waited_for_and_the_play_goes_on";
    if !lab::require_root_and(test, lab::vm::HOST_COMMANDS) {
        return;
    }
    let prepare = format!(
        "  - name: Install the outage script\n    copy:\n      dest: /root/faults-outage.sh\n      content: |\n{}",
        OUTAGE_SCRIPT
            .lines()
            .map(|l| format!("        {l}\n"))
            .collect::<String>()
    );
    let playbook = play(
        &prepare,
        "    command: systemd-run --on-active=2 --timer-property=AccuracySec=100ms /bin/sh /root/faults-outage.sh",
        SSHD_IDENTITY,
    );
    // ok: both copies, the script, both identities, go down, wait, assert, is-active;
    // changed: the three copies, both identities (shell), go down.
    run_through_outage(&playbook, SSHD_IDENTITY, [9, 6, 0, 0, 0, 0, 0]);
}

#[test]
fn faults_vm_rebooting_mid_play_is_waited_for_and_the_play_goes_on() {
    let test = "faults_vm_rebooting_mid_play_is_waited_for_and_the_play_goes_on";
    if !lab::require_root_and(test, lab::vm::HOST_COMMANDS) {
        return;
    }
    let playbook = play(
        "",
        "    shell: sleep 2 && systemctl reboot\n    async: 10\n    poll: 0",
        BOOT_IDENTITY,
    );
    run_through_outage(&playbook, BOOT_IDENTITY, [8, 5, 0, 0, 0, 0, 0]);
}
