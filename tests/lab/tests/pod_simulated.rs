//! Self-tests of the simulated hook pod (need root; see `lab::require_root`).

use std::fs;
use std::path::Path;
use std::time::Duration;

use lab::pod::{Pod, PodExit, DEFAULT_UID};

fn hook_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("playbook.yml", "- hosts: localhost\n"),
        ("plan.yml", "kind: Plan\n"),
        ("workload.yml", "vm: {}\n"),
    ] {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn service_account_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("token", "tok-123"),
        ("ca.crt", "-----BEGIN CERTIFICATE-----\n"),
        ("namespace", "openshift-mtv"),
    ] {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[test]
fn pod_runs_as_an_arbitrary_uid_without_passwd_entry() {
    if !lab::require_root_and(
        "pod_runs_as_an_arbitrary_uid",
        &["unshare", "setpriv", "tini", "ssh"],
    ) {
        return;
    }
    let hook = hook_dir();
    let out = Pod::new(hook.path())
        .run(&sh(
            "id -u; id -g; id -G; getent passwd $(id -u) || echo no-passwd-entry",
        ))
        .unwrap();
    assert!(out.success(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            DEFAULT_UID.to_string().as_str(),
            "0",
            "0",
            "no-passwd-entry"
        ]
    );

    // Plain ssh cannot even start: the same failure as in a real hook pod without nss_wrapper.
    let out = Pod::new(hook.path())
        .run(&["ssh", "-o", "BatchMode=yes", "127.0.0.1", "true"])
        .unwrap();
    assert_eq!(out.code(), Some(255), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("No user exists for uid {DEFAULT_UID}")),
        "{}",
        out.stderr
    );

    let out = Pod::new(hook.path())
        .uid(1_000_123_456)
        .run(&["id", "-u"])
        .unwrap();
    assert_eq!(out.stdout.trim(), "1000123456");
}

#[test]
fn pod_sees_the_hook_and_service_account_volumes_and_environment() {
    if !lab::require_root_and("pod_sees_the_hook_volumes", &["unshare", "setpriv", "tini"]) {
        return;
    }
    let (hook, sa) = (hook_dir(), service_account_dir());
    let script = "cat /tmp/hook/playbook.yml /tmp/hook/plan.yml /tmp/hook/workload.yml; \
        cat /var/run/secrets/kubernetes.io/serviceaccount/token; echo; \
        cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; \
        touch /tmp/hook/new 2>/dev/null && echo hook-writable || echo hook-read-only; \
        echo \"$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT $MY_VAR\"; \
        touch \"$HOME/x\" && echo home-writable; \
        printf 'hook failed: reason' > /dev/termination-log; exit 3";
    let out = Pod::new(hook.path())
        .service_account(sa.path())
        .kubernetes_service("127.0.0.1", 6443)
        .env("MY_VAR", "v1")
        .run(&sh(script))
        .unwrap();
    assert_eq!(out.exit, PodExit::Code(3), "{out:?}");
    let expected =
        "- hosts: localhost\nkind: Plan\nvm: {}\ntok-123\nopenshift-mtv\nhook-read-only\n\
        127.0.0.1:6443 v1\nhome-writable\n";
    assert_eq!(out.stdout, expected, "stderr: {}", out.stderr);
    assert_eq!(out.termination_message, "hook failed: reason");
    assert!(!hook.path().join("new").exists());
}

#[test]
fn pod_command_can_be_pid_1_or_run_under_tini() {
    if !lab::require_root_and("pod_command_can_be_pid_1", &["unshare", "setpriv", "tini"]) {
        return;
    }
    let hook = hook_dir();
    let out = Pod::new(hook.path())
        .pid1(true)
        .run(&sh("echo $$; cat /proc/1/comm"))
        .unwrap();
    assert_eq!(out.stdout, "1\nsh\n", "{out:?}");
    let out = Pod::new(hook.path())
        .run(&sh("cat /proc/1/comm; ls /proc | grep -c '^[0-9]'"))
        .unwrap();
    // tini, sh, and the ls (grep reads the pipe): a PID namespace of its own.
    assert_eq!(out.stdout.lines().next(), Some("tini"), "{out:?}");
}

#[test]
fn pod_deadline_kills_a_sleeping_pid_1_after_the_grace_period() {
    if !lab::require_root_and("pod_deadline_kills_sleep", &["unshare", "setpriv"]) {
        return;
    }
    let hook = hook_dir();
    let out = Pod::new(hook.path())
        .pid1(true)
        .deadline(Duration::from_millis(500))
        .grace(Duration::from_millis(500))
        .run(&["sleep", "1000"])
        .unwrap();
    assert!(out.deadline_exceeded);
    // A PID 1 without a SIGTERM handler ignores SIGTERM: only the SIGKILL after the grace ends it.
    assert_eq!(out.exit, PodExit::Signal(libc::SIGKILL), "{out:?}");
    assert!(
        out.duration >= Duration::from_millis(1000),
        "{:?}",
        out.duration
    );
    assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
}

#[test]
fn pod_deadline_sigterm_reaches_the_command_under_tini() {
    if !lab::require_root_and(
        "pod_deadline_sigterm_under_tini",
        &["unshare", "setpriv", "tini"],
    ) {
        return;
    }
    let hook = hook_dir();
    let out = Pod::new(hook.path())
        .deadline(Duration::from_millis(500))
        .grace(Duration::from_secs(20))
        .run(&sh("trap 'echo got-term; exit 7' TERM; sleep 1000 & wait"))
        .unwrap();
    assert!(out.deadline_exceeded);
    assert_eq!(out.exit, PodExit::Code(7), "{out:?}");
    assert_eq!(out.stdout, "got-term\n");
    assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
}

#[test]
fn pod_reports_a_command_killed_by_a_signal_as_128_plus_signal_under_tini() {
    if !lab::require_root_and(
        "pod_reports_a_command_killed_by_a_signal",
        &["unshare", "setpriv", "tini"],
    ) {
        return;
    }
    let hook = hook_dir();
    let out = Pod::new(hook.path()).run(&sh("kill -SEGV $$")).unwrap();
    assert_eq!(out.exit, PodExit::Code(128 + libc::SIGSEGV), "{out:?}");
    // As PID 1 the same signal is ignored (no handler): the shell goes on and exits 0.
    let out = Pod::new(hook.path())
        .pid1(true)
        .run(&sh("kill -SEGV $$; echo survived"))
        .unwrap();
    assert_eq!(
        (out.exit.clone(), out.stdout.as_str()),
        (PodExit::Code(0), "survived\n"),
        "{out:?}"
    );
}

#[test]
fn pod_leaves_no_process_behind() {
    if !lab::require_root_and(
        "pod_leaves_no_process_behind",
        &["unshare", "setpriv", "tini"],
    ) {
        return;
    }
    let hook = hook_dir();
    // A background process that outlives the command: the PID namespace ends it.
    let marker = format!("{}.{}", 900_000 + std::process::id() % 1000, 4321);
    let out = Pod::new(hook.path())
        .run(&sh(&format!("sleep {marker} & echo started")))
        .unwrap();
    assert!(out.success(), "{out:?}");
    let alive = lab::util::wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
        !any_process_with_arg(&marker)
    });
    assert!(alive, "a pod process survived the pod");
}

fn any_process_with_arg(arg: &str) -> bool {
    fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let cmdline = Path::new("/proc").join(e.file_name()).join("cmdline");
        fs::read(cmdline)
            .map(|c| c.split(|&b| b == 0).any(|a| a == arg.as_bytes()))
            .unwrap_or(false)
    })
}
