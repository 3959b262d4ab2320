//! Faults of the SSH transport while a play runs, against the lab's systemd VMs, through
//! the hook-runner binary:
//!
//! - sshd killed on a VM in the middle of a task: that host is `UNREACHABLE!` with a message that
//!   names it and the cause, the other host of the play goes on, exit 4, bounded run time.
//! - The VM's link cut during a long remote command: with a keepalive configured
//!   (`ServerAliveInterval` in `ansible_ssh_common_args`) the loss is detected within it and the
//!   host is unreachable; with nothing configured it is still detected (a default keepalive),
//!   within two minutes.
//! - A task `timeout:` ends a command that never returns, and the command is gone from the VM;
//!   when the command never returns because the link was cut, the timeout ends it too, and the
//!   next task on that host does not wait forever on the dead connection.
//!
//! The link is cut on the VM's side of its veth pair (packets vanish, as with a pulled cable;
//! none leaves the machine) and restored before teardown. Each run is bounded (a hang is a failure, not a stuck
//! suite) and each VM is torn down.

#[path = "e2e/common.rs"]
mod common;
#[path = "faults/common.rs"]
mod faults;

use common::{CliRun, Findings};
use faults::*;
use lab::vm::Vm;
use std::time::{Duration, Instant};

/// Bound on one hook-runner run.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn prerequisites(test: &str) -> bool {
    lab::require_root_and(test, lab::vm::HOST_COMMANDS)
}

/// Waits (up to 60 s) until the play's long task has touched [`LONG_TASK_MARKER`] on the VM,
/// with the run still going: the fault must come in the middle of that task.
fn wait_for_long_task(vm: &Vm, run: &mut Background) {
    let started = wait_for(Duration::from_secs(60), || {
        vm_path_exists(vm, LONG_TASK_MARKER) || !run.running()
    });
    assert!(
        started && run.running(),
        "the long task never started on the VM: {:?}",
        run.output(None)
    );
}

/// The fault: every sshd of the VM SIGKILLed. Returns the end of the run and how long after
/// the kill it came.
fn kill_sshd_then_wait(vm: &Vm, run: Background) -> (CliRun, Duration) {
    let killed_at = Instant::now();
    assert!(kill_sshd(vm) > 0, "no sshd process found in the VM");
    let out = run.wait(RUN_TIMEOUT);
    (out, killed_at.elapsed())
}

/// The fault: the VM's link cut until the run ends (bounded by `timeout`), then restored.
/// Returns the end of the run and how long after the cut it came.
fn cut_link_then_wait(vm: &Vm, run: Background, timeout: Duration) -> (CliRun, Duration) {
    let cut = LinkCut::cut(vm);
    let cut_at = Instant::now();
    let out = run.wait(timeout);
    let after_cut = cut_at.elapsed();
    drop(cut);
    (out, after_cut)
}

/// The `fatal: [host]: UNREACHABLE! =>` line of the output (empty when there is none), with a
/// finding when it is missing or does not say that the SSH connection failed.
fn unreachable_via_ssh(findings: &mut Findings, stdout: &str, host: &str) -> String {
    let host_lines = lines_about(stdout, host);
    let tag = format!("fatal: [{host}]: UNREACHABLE! =>");
    let fatal = host_lines
        .iter()
        .find(|l| l.contains(&tag))
        .cloned()
        .unwrap_or_default();
    findings.check(!fatal.is_empty(), || {
        format!("no `{tag}` line; lines about {host}: {host_lines:?}")
    });
    findings.check(
        fatal.contains("Failed to connect to the host via ssh"),
        || format!("the unreachable message does not say the SSH connection failed: {fatal}"),
    );
    fatal
}

/// Two hosts: the VM whose sshd dies during `Long task`, and a loopback host that keeps going.
const TWO_HOST_PLAY: &str = r#"- name: Two hosts, one loses its sshd
  hosts: targets
  gather_facts: false
  tasks:
  - name: Long task
    shell: "{{ long_command }}"
  - name: After the fault
    command: echo still going
"#;

#[test]
fn faults_sshd_killed_mid_task_makes_that_host_unreachable_and_the_others_go_on() {
    let test = "faults_sshd_killed_mid_task_makes_that_host_unreachable_and_the_others_go_on";
    if !prerequisites(test) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let other = lab::SshHost::options()
        .start_loopback()
        .expect("a loopback sshd starts");
    let inv = inventory(&[
        vm_host(
            "vm1",
            &vm,
            &format!("          long_command: \"touch {LONG_TASK_MARKER} && sleep 90\"\n"),
        ),
        ssh_host("other", &other, "          long_command: \"sleep 3\"\n"),
    ]);
    let work = Workdir::new(TWO_HOST_PLAY, &inv);
    let mut run = work.spawn(&[]);

    // The fault: once the long command runs on the VM, every sshd there is SIGKILLed.
    wait_for_long_task(&vm, &mut run);
    let (out, after_kill) = kill_sshd_then_wait(&vm, run);
    let ip = vm.address().to_string();

    let mut findings = Findings::default();
    findings.eq("exit code with an unreachable host", Some(4), out.code);
    let fatal = unreachable_via_ssh(&mut findings, &out.stdout, "vm1");
    findings.check(fatal.contains(&ip), || {
        format!("the unreachable message does not name the host's address {ip}: {fatal}")
    });
    findings.check(
        ["lost", "closed", "reset", "refused", "broken"]
            .iter()
            .any(|cause| fatal.to_lowercase().contains(cause)),
        || format!("the unreachable message does not give the cause (connection lost): {fatal}"),
    );
    findings.eq(
        "recap of vm1 (ok, changed, unreachable, failed, skipped, rescued, ignored)",
        Some([0, 0, 1, 0, 0, 0, 0]),
        recap_counts(&out.stdout, "vm1"),
    );
    findings.eq(
        "recap of the other host, which must go on",
        Some([2, 2, 0, 0, 0, 0, 0]),
        recap_counts(&out.stdout, "other"),
    );
    findings.check(
        !out.stdout.contains("TASK [After the fault]")
            || !lines_about(&out.stdout, "vm1")
                .iter()
                .any(|l| l.starts_with("changed: [vm1]") || l.starts_with("ok: [vm1]")),
        || "a task ran on vm1 after it was unreachable".to_string(),
    );
    // The VM's command sleeps 90 s: the run must end long before, from the broken connection.
    findings.check(after_kill < Duration::from_secs(30), || {
        format!("the run took {after_kill:?} after sshd was killed (bound: 30 s)")
    });
    lab::util::report_timing("faults-sshd-killed-detection", after_kill);
    eprintln!("faults: {out:?}");
    findings.finish(&format!("{out:?}"));
    drop(other);
    vm.shutdown().expect("the VM tears down cleanly");
}

/// Forklift's shape: the VM is added by `add_host` (hosts made so are waited for when they do
/// not answer yet, 300 s by default), its key given as a host variable.
fn add_host_play(vm: &Vm) -> String {
    format!(
        r#"- name: Add the VM
  hosts: localhost
  gather_facts: false
  tasks:
  - add_host:
      name: vm1
      ansible_host: "{ip}"
      ansible_user: root
      ansible_ssh_private_key_file: "{key}"
      groups: vms
- name: On the VM
  hosts: vms
  gather_facts: false
  tasks:
  - name: Long task
    shell: "touch {marker} && sleep 90"
  - name: After the fault
    command: echo still going
"#,
        ip = vm.address(),
        key = vm.root_key().display(),
        marker = LONG_TASK_MARKER,
    )
}

#[test]
fn faults_sshd_killed_mid_task_on_an_added_host_is_unreachable_at_once_with_default_settings() {
    let test =
        "faults_sshd_killed_mid_task_on_an_added_host_is_unreachable_at_once_with_default_settings";
    if !prerequisites(test) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let work = Workdir::new(&add_host_play(&vm), "all:\n  hosts: {}\n");
    let mut run = work.spawn_with_defaults(&[]);
    wait_for_long_task(&vm, &mut run);
    let (out, after_kill) = kill_sshd_then_wait(&vm, run);
    eprintln!("faults: {out:?}");

    let mut findings = Findings::default();
    findings.eq("exit code with an unreachable host", Some(4), out.code);
    findings.check(out.stdout.contains("fatal: [vm1]: UNREACHABLE! =>"), || {
        "no `fatal: [vm1]: UNREACHABLE! =>` line".to_string()
    });
    findings.eq(
        "recap of vm1 (ok, changed, unreachable, failed, skipped, rescued, ignored)",
        Some([0, 0, 1, 0, 0, 0, 0]),
        recap_counts(&out.stdout, "vm1"),
    );
    // A connection lost in the middle of a command is not a host that is still booting: the
    // wait for hosts that do not answer yet must not apply.
    findings.check(after_kill < Duration::from_secs(30), || {
        format!("the run took {after_kill:?} after sshd was killed (bound: 30 s)")
    });
    lab::util::report_timing("faults-sshd-killed-added-host-detection", after_kill);
    findings.finish(&format!("{out:?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}

/// Cuts the VM's link: the VM's own `eth0` goes down, so packets to and from it vanish (as with
/// a pulled cable); it comes back up on drop, so teardown can still power the VM off over SSH.
///
/// Cut on the VM's side, not the host's: with the host-side veth down, the host would route the
/// VM's address through its default route and the test's packets would leave the machine.
/// With the peer down, the host-side route stays (flagged `linkdown`) and packets die there,
/// which `cut` checks.
struct LinkCut<'a> {
    vm: &'a Vm,
}

impl<'a> LinkCut<'a> {
    fn cut(vm: &'a Vm) -> LinkCut<'a> {
        set_vm_link(vm, "down");
        let cut = LinkCut { vm };
        let route = std::process::Command::new("ip")
            .args(["route", "get", &vm.address().to_string()])
            .output()
            .expect("running ip route get");
        let route = String::from_utf8_lossy(&route.stdout).into_owned();
        let link = vm.trace().link;
        assert!(
            route.contains(&format!("dev {link} ")),
            "with the VM's link cut, its address is no longer routed to {link}: {route}"
        );
        cut
    }
}

impl Drop for LinkCut<'_> {
    fn drop(&mut self) {
        set_vm_link(self.vm, "up");
    }
}

/// `ip -n <the VM's namespace> link set eth0 <state>`.
fn set_vm_link(vm: &Vm, state: &str) {
    let netns = vm.trace().name;
    let status = std::process::Command::new("ip")
        .args(["-n", &netns, "link", "set", "eth0", state])
        .status()
        .expect("running ip");
    assert!(
        status.success(),
        "ip -n {netns} link set eth0 {state} failed"
    );
}

/// One VM host, a long task that marks its start, then a task that must not run on it.
const LONG_TASK_PLAY: &str = r#"- name: A long remote command
  hosts: targets
  gather_facts: false
  tasks:
  - name: Long task
    shell: "touch /var/tmp/faults-long-task-started && sleep 120"
  - name: After the fault
    command: echo still going
"#;

const LONG_TASK_MARKER: &str = "/var/tmp/faults-long-task-started";

#[test]
fn faults_link_cut_during_a_long_command_is_unreachable_within_the_keepalive() {
    let test = "faults_link_cut_during_a_long_command_is_unreachable_within_the_keepalive";
    if !prerequisites(test) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    // The configured keepalive: a probe every second, the link declared dead after 3 unanswered.
    let keepalive = "          ansible_ssh_common_args: \"-o ServerAliveInterval=1 -o ServerAliveCountMax=3\"\n";
    let work = Workdir::new(
        LONG_TASK_PLAY,
        &inventory(&[vm_host("vm1", &vm, keepalive)]),
    );
    let mut run = work.spawn(&[]);
    wait_for_long_task(&vm, &mut run);
    let (out, detected_after) = cut_link_then_wait(&vm, run, RUN_TIMEOUT);

    let mut findings = Findings::default();
    findings.eq("exit code with an unreachable host", Some(4), out.code);
    unreachable_via_ssh(&mut findings, &out.stdout, "vm1");
    findings.eq(
        "recap of vm1 (ok, changed, unreachable, failed, skipped, rescued, ignored)",
        Some([0, 0, 1, 0, 0, 0, 0]),
        recap_counts(&out.stdout, "vm1"),
    );
    // 3 probes 1 s apart: ssh gives up after ~4 s; the bound leaves room for a loaded machine.
    findings.check(detected_after < Duration::from_secs(15), || {
        format!("the cut link was detected {detected_after:?} after the cut (keepalive: 3 x 1 s)")
    });
    lab::util::report_timing("faults-link-cut-detection", detected_after);
    eprintln!("faults: {out:?}");
    findings.finish(&format!("{out:?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}

/// `timeout:` on a command that never returns, then a task on the same host.
const TIMEOUT_PLAY: &str = r#"- name: A command that never returns
  hosts: targets
  gather_facts: false
  tasks:
  - name: Never returns
    command: sleep 1000
    timeout: 3
    ignore_errors: true
  - name: The host is still usable
    command: echo usable
"#;

#[test]
fn faults_task_timeout_ends_a_command_that_never_returns() {
    let test = "faults_task_timeout_ends_a_command_that_never_returns";
    if !prerequisites(test) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let work = Workdir::new(TIMEOUT_PLAY, &inventory(&[vm_host("vm1", &vm, "")]));
    let out = work.run(&[], RUN_TIMEOUT);
    eprintln!("faults: {out:?}");
    // What the timeout ended must be gone from the VM too (the remote side is killed, not
    // just abandoned); polled briefly, the kill travels back over SSH.
    let sleeps_gone = wait_for(Duration::from_secs(10), || {
        vm_processes(&vm, "sleep").is_empty()
    });

    let mut findings = Findings::default();
    findings.eq("exit code (the failure is ignored)", Some(0), out.code);
    let message =
        "The command action failed to execute in the expected time frame (3) and was terminated";
    let fatal = lines_about(&out.stdout, "vm1")
        .into_iter()
        .find(|l| l.starts_with("fatal: [vm1]: FAILED!"))
        .unwrap_or_default();
    findings.check(fatal.contains(message), || {
        format!("the timed-out task does not fail with `{message}`: {fatal:?}")
    });
    findings.eq(
        "recap of vm1 (ok, changed, unreachable, failed, skipped, rescued, ignored)",
        Some([2, 1, 0, 0, 0, 0, 1]),
        recap_counts(&out.stdout, "vm1"),
    );
    findings.check(sleeps_gone, || {
        format!(
            "`sleep 1000` still runs on the VM after its task timed out: pids {:?}",
            vm_processes(&vm, "sleep")
        )
    });
    // 3 s of timeout plus connection and task overheads; the command itself would last 1000 s.
    findings.check(out.duration < Duration::from_secs(30), || {
        format!("the run took {:?} (bound: 30 s)", out.duration)
    });
    lab::util::report_timing("faults-task-timeout-run", out.duration);
    findings.finish(&format!("{out:?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}

/// A command that never returns because the link is cut while it runs (no keepalive
/// configured), ended by its `timeout:`; then a task without a timeout on that host, which must
/// not wait forever on the dead connection.
const TIMEOUT_CUT_LINK_PLAY: &str = r#"- name: A command that never returns, cut link
  hosts: targets
  gather_facts: false
  tasks:
  - name: Never returns on a cut link
    shell: "touch /var/tmp/faults-long-task-started && sleep 1000"
    timeout: 4
    ignore_errors: true
  - name: Next task on the cut host
    command: echo after
"#;

#[test]
fn faults_task_after_a_timeout_on_a_cut_link_does_not_hang() {
    let test = "faults_task_after_a_timeout_on_a_cut_link_does_not_hang";
    if !prerequisites(test) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let work = Workdir::new(
        TIMEOUT_CUT_LINK_PLAY,
        &inventory(&[vm_host("vm1", &vm, "")]),
    );
    let mut run = work.spawn(&[]);
    wait_for_long_task(&vm, &mut run);
    let (out, ended_after) = cut_link_then_wait(&vm, run, RUN_TIMEOUT);
    eprintln!("faults: {out:?}");

    let mut findings = Findings::default();
    let message =
        "The command action failed to execute in the expected time frame (4) and was terminated";
    findings.check(out.stdout.contains(message), || {
        format!("no `{message}` for the task whose link was cut")
    });
    findings.check(out.stdout.contains("fatal: [vm1]: UNREACHABLE! =>"), || {
        "the task after the timed-out one on the cut host is not UNREACHABLE".to_string()
    });
    findings.eq("exit code with an unreachable host", Some(4), out.code);
    // 4 s of timeout (and its 5 s backstop), then the next task's connection attempt
    // (ConnectTimeout 10 s, --connect-wait 5 s) and a margin.
    findings.check(ended_after < Duration::from_secs(60), || {
        format!("the run ended {ended_after:?} after the link was cut (bound: 60 s)")
    });
    lab::util::report_timing("faults-timeout-cut-link-run", ended_after);
    findings.finish(&format!("{out:?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}

#[test]
fn faults_link_cut_with_default_settings_is_detected_without_a_task_timeout() {
    let test = "faults_link_cut_with_default_settings_is_detected_without_a_task_timeout";
    if !prerequisites(test) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    // Nothing configured: no keepalive in the inventory, no task timeout, no run timeout. A
    // hook's VM whose network dies must still be reported, not wait for the pod's deadline.
    let work = Workdir::new(LONG_TASK_PLAY, &inventory(&[vm_host("vm1", &vm, "")]));
    let mut run = work.spawn(&[]);
    wait_for_long_task(&vm, &mut run);
    let (out, detected_after) =
        cut_link_then_wait(&vm, run, DEFAULT_DETECTION_BOUND + Duration::from_secs(30));
    eprintln!("faults: {out:?}");

    let mut findings = Findings::default();
    findings.eq("exit code with an unreachable host", Some(4), out.code);
    findings.check(out.stdout.contains("fatal: [vm1]: UNREACHABLE! =>"), || {
        "no `fatal: [vm1]: UNREACHABLE! =>` line".to_string()
    });
    findings.check(detected_after < DEFAULT_DETECTION_BOUND, || {
        format!("the cut link was detected {detected_after:?} after the cut (bound {DEFAULT_DETECTION_BOUND:?})")
    });
    lab::util::report_timing("faults-link-cut-default-detection", detected_after);
    findings.finish(&format!("{out:?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}

/// How long a dead link may go unnoticed with hook-runner's default settings: two minutes
/// (a default keepalive of the order of ssh's usual 15 s x 4 fits well within it).
const DEFAULT_DETECTION_BOUND: Duration = Duration::from_secs(120);
