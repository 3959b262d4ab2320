//! Self-test of the simulated pod's read-only root filesystem (`Pod::read_only_root`), as
//! `readOnlyRootFilesystem: true` with emptyDirs for `/tmp` and `$HOME` (images/manifests/job.yaml).
//! Needs root (see `lab::require_root`).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use lab::pod::Pod;

/// Tries to create a file in each dir; prints `DIR=rw` or `DIR=ro`. (A failed redirection on
/// `:`, a special builtin, would end the shell: each runs in a subshell.)
const PROBE: &str = r#"for d in / /etc /usr/local/bin /var/tmp /tmp "$HOME" /tmp/hook; do
  if (: >"$d/.hr-ro-probe") 2>/dev/null; then rm -f "$d/.hr-ro-probe"; echo "$d=rw"; else echo "$d=ro"; fi
done
: >/dev/termination-log && echo termination-log=rw
echo "pid1=$(cat /proc/1/comm)""#;

/// A dir the pod's UID can traverse, outside /tmp (the pod gets its own /tmp bound over it).
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("hr-ro-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn read_only_root_leaves_only_the_volumes_writable() {
    if !lab::require_root_and(
        "read_only_root_leaves_only_the_volumes_writable",
        &["unshare", "setpriv", "tini"],
    ) {
        return;
    }
    let hook = scratch();
    fs::write(hook.path().join("playbook.yml"), "- hosts: localhost\n").unwrap();
    // The pod's /tmp and HOME (emptyDirs), /tmp with the hook mount point.
    let tmp = scratch();
    fs::create_dir(tmp.path().join("hook")).unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let home = scratch();
    // Root runs the probe, so only the mount's read-only flag can refuse a write.
    let out = Pod::new(hook.path())
        .uid(0)
        .read_only_root(true)
        .home("/home/runner")
        .bind(tmp.path(), "/tmp", false)
        .bind(hook.path(), "/tmp/hook", true)
        .bind(home.path(), "/home/runner", false)
        .run(&["sh", "-c", PROBE])
        .unwrap();
    assert!(out.success(), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "/=ro",
            "/etc=ro",
            "/usr/local/bin=ro",
            "/var/tmp=ro",
            "/tmp=rw",
            "/home/runner=rw",
            "/tmp/hook=ro",
            "termination-log=rw",
            "pid1=tini",
        ],
        "{out:?}"
    );
    // The host's filesystem is untouched.
    let probe = home.path().join("host-probe");
    fs::write(&probe, "").expect("the host's filesystem stays writable");
}

#[test]
fn read_only_root_keeps_the_default_home_writable() {
    if !lab::require_root_and(
        "read_only_root_keeps_the_default_home_writable",
        &["unshare", "setpriv", "tini"],
    ) {
        return;
    }
    let hook = scratch();
    let out = Pod::new(hook.path())
        .read_only_root(true)
        .run(&[
            "sh",
            "-c",
            "(: >\"$HOME/x\") && echo home=rw; (: >/var/tmp/x) 2>/dev/null || echo var=ro",
        ])
        .unwrap();
    assert_eq!(out.stdout, "home=rw\nvar=ro\n", "{out:?}");
}

#[test]
fn without_read_only_root_the_root_filesystem_is_writable_for_root() {
    if !lab::require_root_and(
        "without_read_only_root_the_root_filesystem_is_writable_for_root",
        &["unshare", "setpriv", "tini"],
    ) {
        return;
    }
    let hook = tempfile::tempdir().unwrap();
    let out = Pod::new(hook.path())
        .uid(0)
        .run(&[
            "sh",
            "-c",
            ": >/var/tmp/.hr-rw-probe && rm /var/tmp/.hr-rw-probe && echo rw",
        ])
        .unwrap();
    assert_eq!(out.stdout.trim(), "rw", "{out:?}");
}
