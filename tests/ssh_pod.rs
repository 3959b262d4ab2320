//! The `ssh` connection inside a simulated hook pod (arbitrary UID, no passwd entry, a fresh
//! `$HOME`): without a passwd entry the OpenSSH client cannot run, and the error must say so
//! (the openssh crate alone reports "No such file or directory"); with an nss_wrapper passwd
//! entry whose home is `$HOME`, the key a playbook wrote to `~/.ssh/id_rsa` is used.
//!
//! The pod runs this very test binary again with `HR_POD_CHILD` set, selecting the
//! [`pod_child`] test, which connects and prints one `RESULT:` line.

use hook_runner::connection::ssh::SshConnection;
use hook_runner::connection::{Connection, ExecRequest, SshPolicy, SshTarget};
use lab::pod::{Pod, DEFAULT_UID};
use lab::SshHost;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const NSS_WRAPPER: &str = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";

/// Runs only inside the pod: connects to `HR_TARGET` (`addr:port:user`) without a key file.
#[tokio::test]
async fn pod_child() {
    let Ok(target) = std::env::var("HR_POD_CHILD") else {
        return;
    };
    let mut parts = target.splitn(3, ':');
    let (Some(address), Some(port), Some(user)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("bad HR_POD_CHILD {target:?}");
    };
    let t = SshTarget {
        address: address.into(),
        port: port.parse().ok(),
        user: Some(user.into()),
        ..SshTarget::default()
    };
    let request = || ExecRequest {
        script: "id -un".into(),
        ..ExecRequest::default()
    };
    let mode = std::env::var("HR_POD_MODE").unwrap_or_default();
    let mut t = t;
    if mode == "zombies-daemon" {
        // `ssh -f` daemonizes the master, as the openssh crate's SessionBuilder does.
        t.extra_args = vec!["-f".into()];
    }
    if mode.starts_with("zombies") {
        // Open and close a few masters, then count defunct ssh processes in the pod.
        for _ in 0..3 {
            let conn = SshConnection::new(t.clone(), SshPolicy::default());
            if let Err(e) = conn.exec(request()).await {
                println!("RESULT: err {e}");
                return;
            }
            conn.close().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        println!(
            "RESULT: pid={} zombies={}",
            std::process::id(),
            zombie_ssh_processes()
        );
        return;
    }
    let conn = SshConnection::new(t, SshPolicy::default());
    match conn.exec(request()).await {
        Ok(out) => println!("RESULT: ok {}", String::from_utf8_lossy(&out.stdout).trim()),
        Err(e) => println!("RESULT: err {e}"),
    }
    conn.close().await;
}

/// `ssh` processes in state Z (defunct) visible in this PID namespace.
fn zombie_ssh_processes() -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return usize::MAX;
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // "pid (comm) S ...": the state follows the last ')'.
            let comm_ok = stat.contains("(ssh)");
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            comm_ok && state == Some("Z")
        })
        .count()
}

fn write(path: &Path, text: &[u8], mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    std::os::unix::fs::chown(path, Some(DEFAULT_UID), Some(0)).unwrap();
}

fn run_child(host: &SshHost, home: &Path, hook_dir: &Path, nss: bool) -> String {
    run_child_in(Pod::new(hook_dir), host, home, nss, "exec")
}

fn run_child_in(pod: Pod, host: &SshHost, home: &Path, nss: bool, mode: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut pod = pod.home(home).env("HR_POD_MODE", mode).env(
        "HR_POD_CHILD",
        format!("{}:{}:{}", host.address(), host.port(), host.user()),
    );
    if nss {
        pod = pod
            .env("LD_PRELOAD", NSS_WRAPPER)
            .env(
                "NSS_WRAPPER_PASSWD",
                home.join("passwd").display().to_string(),
            )
            .env(
                "NSS_WRAPPER_GROUP",
                home.join("group").display().to_string(),
            );
    }
    let exe = exe.display().to_string();
    let child = lab::util::test_path(module_path!(), "pod_child");
    let out = pod
        .run(&[
            exe.as_str(),
            "--exact",
            child.as_str(),
            "--nocapture",
            "--test-threads=1",
        ])
        .expect("pod");
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.find("RESULT: ").map(|at| l[at..].to_string()));
    line.unwrap_or_else(|| {
        panic!(
            "no RESULT line; stdout:\n{}\nstderr:\n{}",
            out.stdout, out.stderr
        )
    })
}

#[test]
fn no_passwd_entry_is_explained_and_nss_wrapper_fixes_it() {
    if std::env::var("HR_POD_CHILD").is_ok() {
        return;
    }
    let test = lab::test_name!();
    if !lab::require_root_and(test, &["ssh", "sshd", "unshare", "setpriv", "tini"])
        || !lab::require(Path::new(NSS_WRAPPER).exists(), test, NSS_WRAPPER)
    {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let hook_dir = tempfile::tempdir().unwrap();
    let home = tempfile::Builder::new().prefix("hrhome").tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(home.path(), Some(DEFAULT_UID), Some(0)).unwrap();
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir(&ssh_dir).unwrap();
    std::os::unix::fs::chown(&ssh_dir, Some(DEFAULT_UID), Some(0)).unwrap();
    // The key as a hook playbook leaves it: ~/.ssh/id_rsa, mode 0600, owned by the pod's UID.
    write(
        &ssh_dir.join("id_rsa"),
        &std::fs::read(host.key_path()).unwrap(),
        0o600,
    );
    let passwd = format!(
        "runner:x:{DEFAULT_UID}:0:runner:{}:/bin/sh\n",
        home.path().display()
    );
    write(&home.path().join("passwd"), passwd.as_bytes(), 0o644);
    write(&home.path().join("group"), b"root:x:0:\n", 0o644);

    let without = run_child(&host, home.path(), hook_dir.path(), false);
    assert!(
        without.contains(&format!("No user exists for uid {DEFAULT_UID}"))
            && without.contains("passwd entry"),
        "{without}"
    );

    let with = run_child(&host, home.path(), hook_dir.path(), true);
    assert_eq!(with, "RESULT: ok hrtest");
}

#[test]
fn no_zombie_masters_when_the_runner_is_pid_1() {
    if std::env::var("HR_POD_CHILD").is_ok() {
        return;
    }
    let test = lab::test_name!();
    if !lab::require_root_and(test, &["ssh", "sshd", "unshare", "setpriv"])
        || !lab::require(Path::new(NSS_WRAPPER).exists(), test, NSS_WRAPPER)
    {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let hook_dir = tempfile::tempdir().unwrap();
    let home = tempfile::Builder::new().prefix("hrhome").tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(DEFAULT_UID), Some(0)).unwrap();
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir(&ssh_dir).unwrap();
    std::os::unix::fs::chown(&ssh_dir, Some(DEFAULT_UID), Some(0)).unwrap();
    write(
        &ssh_dir.join("id_rsa"),
        &std::fs::read(host.key_path()).unwrap(),
        0o600,
    );
    let passwd = format!(
        "runner:x:{DEFAULT_UID}:0:runner:{}:/bin/sh\n",
        home.path().display()
    );
    write(&home.path().join("passwd"), passwd.as_bytes(), 0o644);
    write(&home.path().join("group"), b"root:x:0:\n", 0o644);

    let pod = Pod::new(hook_dir.path()).pid1(true);
    let result = run_child_in(pod, &host, home.path(), true, "zombies");
    assert_eq!(result, "RESULT: pid=1 zombies=0");

    // The control case proves the check works: a daemonized master (`ssh -f`, here through
    // ansible_ssh_extra_args) is reparented to PID 1 and stays a zombie without an init.
    let pod = Pod::new(hook_dir.path()).pid1(true);
    let result = run_child_in(pod, &host, home.path(), true, "zombies-daemon");
    assert_ne!(result, "RESULT: pid=1 zombies=0", "{result}");
    assert!(result.starts_with("RESULT: pid=1 zombies="), "{result}");
}
