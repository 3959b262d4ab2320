//! End to end: SIGTERM in the middle of a remote command (the pod's
//! deadline): exit within 5 s, status `canceled`, the remote command is gone from the VM, no
//! partial file at a `copy` destination.
//!
//! The hook runs in the simulated Forklift pod (Forklift's argv, hook-runner as PID 1, read-only
//! root) and the pod's deadline (`activeDeadlineSeconds`) sends the SIGTERM while the second play
//! runs on the lab VM:
//! - `command: sleep 300`: the run ends within 5 s of the signal with exit 99, `canceled` in the
//!   artifacts and the termination message, and no `sleep 300` is left on the VM (the remote
//!   watchdog of `connection::watchdog` ends it when the channel closes);
//! - `copy` of a 64 MiB file over a link slowed to 2 MB/s (`tc tbf` on the VM's veth): the
//!   destination never appears and no temporary file is left beside it;
//! - (run directly, not in the pod) a `become: true` command under `sudo` configured with
//!   `use_pty`: it is gone from the VM too.

#[path = "e2e/common.rs"]
mod common;

use common::*;
use lab::vm::Vm;
use std::time::{Duration, Instant};

/// When the pod gets SIGTERM: the first play (key, add_host) takes 1-3 s.
const DEADLINE: Duration = Duration::from_secs(10);
/// SIGKILL comes this long after SIGTERM: long enough not to hide a slow exit.
const GRACE: Duration = Duration::from_secs(15);

const LONG_COMMAND_PLAY: &str = r#"
- name: On the VM
  hosts: vms
  gather_facts: false
  tasks:
  - name: Long command
    command: sleep 300
  - name: Never reached
    file:
      path: /tmp/never-reached
      state: touch
"#;

const BIG_COPY_PLAY: &str = r#"
- name: On the VM
  hosts: vms
  gather_facts: false
  tasks:
  - name: Big copy
    copy:
      src: /tmp/big.bin
      dest: /root/big.bin
"#;

/// The hook's pod layout and its API server: play 1 of the MTV docs hook (the VM's key from
/// the Secret, the VM added) followed by `vm_play`, run on the VM.
fn hook_pod_with_vm_play(vm: &Vm, vm_play: &str) -> (lab::kube_api::KubeApi, HookPod) {
    let (api, token, _key) = api_with_vm_key(vm);
    let playbook = format!("{KEY_PLAY}{vm_play}");
    let workload = workload_with_ip(&vm.address().to_string());
    let image = HookPod::new(&playbook, &workload, &api, &token);
    (api, image)
}

/// Runs the hook until the deadline's SIGTERM; returns the pod's output.
fn run_until_sigterm(image: &HookPod, api: &lab::kube_api::KubeApi) -> lab::PodOutput {
    image
        .pod(api)
        .deadline(DEADLINE)
        .grace(GRACE)
        .run(&FORKLIFT_ARGV)
        .expect("the pod runs")
}

/// Checks what every interrupted run must show: SIGTERM came during `task`, the run ended
/// within 5 s of it with exit 99 and `canceled` everywhere.
fn check_canceled(findings: &mut Findings, image: &HookPod, out: &lab::PodOutput, task: &str) {
    findings.check(out.deadline_exceeded, || {
        "the hook ended before the deadline's SIGTERM".to_string()
    });
    findings.check(out.stdout.contains(&format!("TASK [{task}]")), || {
        format!("SIGTERM did not come during the task {task:?}")
    });
    findings.eq("exit code after SIGTERM", Some(99), out.code());
    let after_signal = out.duration.saturating_sub(DEADLINE);
    findings.check(after_signal <= Duration::from_secs(5), || {
        format!("the run took {after_signal:?} after SIGTERM to exit (at most 5 s)")
    });
    check_outcome(
        findings,
        &image.artifacts(),
        &out.termination_message,
        "canceled",
        99,
    );
}

/// Polls `probe` on the VM until it prints nothing, up to `limit`; returns the last output.
fn vm_until_empty(vm: &Vm, probe: &str, limit: Duration) -> String {
    let end = Instant::now() + limit;
    loop {
        let out = String::from_utf8_lossy(&vm.exec(probe).stdout)
            .trim()
            .to_string();
        if out.is_empty() || Instant::now() >= end {
            return out;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn e2e_sigterm_during_a_long_remote_command_cancels_and_ends_it_on_the_vm() {
    let test = "e2e_sigterm_during_a_long_remote_command_cancels_and_ends_it_on_the_vm";
    if !vm_and_pod_prerequisites(test) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let (api, image) = hook_pod_with_vm_play(&vm, LONG_COMMAND_PLAY);
    let out = run_until_sigterm(&image, &api);
    let mut findings = Findings::default();
    check_canceled(&mut findings, &image, &out, "Long command");
    let left = vm_until_empty(&vm, "pgrep -fx 'sleep 300' || true", Duration::from_secs(5));
    findings.eq(
        "`sleep 300` processes left on the VM 5 s after the run",
        String::new(),
        left,
    );
    findings.eq(
        "`Never reached` ran on the VM",
        false,
        vm.exec("test -e /tmp/never-reached").status.success(),
    );
    lab::util::report_timing("e2e-cancel-long-command", out.duration);
    findings.finish(&format!("{out:#?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}

/// The host side of the VM's veth (the interface holding the VM's gateway address).
fn host_interface(vm: &Vm) -> String {
    let out = lab::util::run(
        "ip",
        &[
            "-o",
            "-4",
            "addr",
            "show",
            "to",
            &vm.host_address().to_string(),
        ],
    )
    .expect("ip addr");
    let text = String::from_utf8_lossy(&out.stdout);
    let name = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no interface holds {}: {text}", vm.host_address()));
    name.split('@').next().unwrap_or(name).to_string()
}

/// Slows host → VM traffic to 2 MB/s until dropped.
struct SlowLink(String);

impl SlowLink {
    fn new(interface: String) -> SlowLink {
        lab::util::run(
            "tc",
            &[
                "qdisc", "add", "dev", &interface, "root", "tbf", "rate", "16mbit", "burst",
                "64kb", "latency", "500ms",
            ],
        )
        .expect("tc qdisc add");
        SlowLink(interface)
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        let _ = lab::util::run("tc", &["qdisc", "del", "dev", &self.0, "root"]);
    }
}

#[test]
fn e2e_sigterm_during_a_copy_leaves_no_partial_file() {
    let test = "e2e_sigterm_during_a_copy_leaves_no_partial_file";
    if !vm_and_pod_prerequisites(test) || !lab::require_command(test, "tc") {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let (api, image) = hook_pod_with_vm_play(&vm, BIG_COPY_PLAY);
    // 64 MiB of zeros (sparse: cheap to make) in the pod's /tmp: ~32 s at 2 MB/s.
    let big = std::fs::File::create(image.path("tmp/big.bin")).unwrap();
    big.set_len(64 << 20).unwrap();
    chmod(&image.path("tmp/big.bin"), 0o644);
    let slow = SlowLink::new(host_interface(&vm));
    let out = run_until_sigterm(&image, &api);
    drop(slow);
    let mut findings = Findings::default();
    check_canceled(&mut findings, &image, &out, "Big copy");
    let left = vm_until_empty(
        &vm,
        "ls -A /root | grep -e '^big.bin$' -e '^\\.hook-runner' || true",
        Duration::from_secs(5),
    );
    findings.eq(
        "files left in /root on the VM (the destination or a temporary copy)",
        String::new(),
        left,
    );
    lab::util::report_timing("e2e-cancel-copy", out.duration);
    findings.finish(&format!("{out:#?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}

/// SIGTERM to hook-runner (run directly, by root) while a `become: true` command runs on the VM
/// under `sudo` configured with `Defaults use_pty` (sudo's default since 1.9.14; it takes effect
/// only when sudo runs in a terminal, which it does not over hook-runner's SSH channels, but the
/// configuration must not change the outcome): exit 99 within 5 s and the escalated command is
/// gone from the VM.
#[test]
fn e2e_sigterm_ends_an_escalated_command_under_sudo_use_pty() {
    let test = "e2e_sigterm_ends_an_escalated_command_under_sudo_use_pty";
    if !lab::require_root_and(test, lab::vm::HOST_COMMANDS) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    vm.exec_ok("echo 'Defaults use_pty' >/etc/sudoers.d/zz-use-pty && chmod 0440 /etc/sudoers.d/zz-use-pty && visudo -c >/dev/null && echo ok");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("inventory.ini"),
        format!(
            "vm ansible_host={} ansible_user={} ansible_ssh_private_key_file={}\n",
            vm.address(),
            vm.user(),
            vm.user_key().display()
        ),
    )
    .unwrap();
    std::fs::write(
        work.path().join("playbook.yml"),
        "- hosts: vm\n  gather_facts: false\n  become: true\n  tasks:\n  - name: Long escalated command\n    command: sleep 305\n",
    )
    .unwrap();
    let playbook = work.path().join("playbook.yml");
    let inventory = work.path().join("inventory.ini");
    let args = [
        "run",
        playbook.to_str().unwrap(),
        "-i",
        inventory.to_str().unwrap(),
    ];
    let child = hook_runner_command(&args, work.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    let running = |vm: &Vm| {
        !String::from_utf8_lossy(&vm.exec("pgrep -fx 'sleep 305' || true").stdout)
            .trim()
            .is_empty()
    };
    while !running(&vm) {
        assert!(Instant::now() < end, "`sleep 305` never started on the VM");
        std::thread::sleep(Duration::from_millis(200));
    }
    let user = vm.exec_ok("ps -o user= -C sleep | sort -u");
    // SAFETY: signals the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let signalled = Instant::now();
    let out = child.wait_with_output().unwrap();
    let took = signalled.elapsed();
    let mut findings = Findings::default();
    findings.eq("the escalated command's user", "root".to_string(), user);
    findings.eq("exit code after SIGTERM", Some(99), out.status.code());
    findings.check(took <= Duration::from_secs(5), || {
        format!("the run took {took:?} after SIGTERM to exit (at most 5 s)")
    });
    let left = vm_until_empty(&vm, "pgrep -fx 'sleep 305' || true", Duration::from_secs(5));
    findings.eq(
        "`sleep 305` processes left on the VM 5 s after the run",
        String::new(),
        left,
    );
    findings.finish(&format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));
    vm.shutdown().expect("the VM tears down cleanly");
}
