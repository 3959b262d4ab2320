//! End to end: a VM that does not answer SSH yet when the hook starts (a PostHook
//! right after the VM was created): a VM that starts answering SSH 20 s after the run starts
//! is waited for and the hook succeeds.
//!
//! A PostHook runs right after Forklift created the target VM, so the VM may still be booting:
//! hosts made by `add_host` are retried with backoff for `--connect-wait` /
//! `HOOK_RUNNER_CONNECT_WAIT` seconds (default 300), each retry a warning on stderr with the time
//! left. Here the lab VM's sshd is stopped and a systemd timer in the VM starts it again 20 s
//! later; the MTV docs hook runs meanwhile in the simulated Forklift pod with the default wait.
//! (The opposite case, a host that never answers within a short wait, is in `e2e_failures`.)

#[path = "e2e/common.rs"]
mod common;

use common::*;
use lab::vm::Vm;
use std::time::Duration;

/// How late sshd starts answering.
const LATE: Duration = Duration::from_secs(20);

#[test]
fn e2e_vm_answering_ssh_20s_late_is_waited_for_and_the_hook_succeeds() {
    let test = "e2e_vm_answering_ssh_20s_late_is_waited_for_and_the_hook_succeeds";
    if !vm_and_pod_prerequisites(test) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let ip = vm.address().to_string();
    let (api, token, key) = api_with_vm_key(&vm);
    let image = HookPod::new(&mtv_docs_playbook(), &workload_with_ip(&ip), &api, &token);

    // sshd stops now (the session that stops it survives it) and starts again in 20 s.
    vm.exec(&format!(
        "systemd-run --quiet --on-active={}s systemctl start ssh.service; \
         systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh",
        LATE.as_secs()
    ));
    assert!(
        !lab::util::port_open(vm.address(), 22, Duration::from_secs(1)),
        "sshd still answers on the VM"
    );
    let out = image
        .pod(&api)
        .deadline(Duration::from_secs(150))
        .run(&[
            ENTRYPOINT,
            "sh",
            "-c",
            "exec hook-runner ansible-runner run /tmp/runner -p /tmp/hook/playbook.yml",
        ])
        .expect("the pod runs");
    let context = format!("{out:#?}");
    let mut findings = Findings::default();
    findings.eq("exit code", Some(0), out.code());
    findings.check(out.duration >= LATE - Duration::from_secs(2), || {
        format!(
            "the hook ended after {:?}, before sshd answered",
            out.duration
        )
    });
    let retries: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(&format!("{ip}:22 does not answer SSH yet")))
        .collect();
    findings.check(
        retries.len() >= 3 && retries.iter().all(|l| l.contains("giving up in")),
        || format!("no retry warnings with the time left on stderr: {retries:?}"),
    );
    findings.check(!out.stderr.contains("\u{1b}["), || {
        "colour escape codes in the pod log".to_string()
    });
    findings.eq(
        "`systemctl is-active mariadb` on the VM after the hook",
        "inactive".to_string(),
        String::from_utf8_lossy(&vm.exec("systemctl is-active mariadb").stdout)
            .trim()
            .to_string(),
    );
    findings.eq(
        "PLAY RECAP",
        vec![
            recap_line(&ip, [3, 2, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
            recap_line("localhost", [5, 3, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
        ],
        recap_lines(&out.stdout),
    );
    check_outcome(
        &mut findings,
        &image.artifacts(),
        &out.termination_message,
        "successful",
        0,
    );
    assert_no_secret(
        &secret_needles(&key),
        &[("stdout", &out.stdout), ("stderr", &out.stderr)],
        &[&image.path("tmp/runner")],
    );
    lab::util::report_timing("e2e-late-host-run", out.duration);
    findings.finish(&context);
    vm.shutdown().expect("the VM tears down cleanly");
}
