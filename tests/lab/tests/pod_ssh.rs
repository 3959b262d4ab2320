//! The lab's parts composed as in production: a hook pod in its own network namespace reaches a
//! host in another one over SSH, once nss_wrapper gives its arbitrary UID a passwd entry (the fix
//! hook-runner's image entrypoint applies). Needs root; see `lab::require_root`.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};

use lab::pod::{Pod, DEFAULT_UID};
use lab::{Netns, SshHost};

const NSS_WRAPPER: &str = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";

#[test]
fn pod_in_a_namespace_reaches_a_host_over_ssh_with_nss_wrapper() {
    let test = "pod_in_a_namespace_reaches_a_host_over_ssh_with_nss_wrapper";
    if !lab::require_root_and(test, &["unshare", "setpriv", "tini", "ssh"])
        || !lab::require(
            std::path::Path::new(NSS_WRAPPER).exists(),
            test,
            "libnss-wrapper",
        )
    {
        return;
    }
    let (pod_ns, vm_ns) = (
        Netns::new().expect("pod netns"),
        Netns::new().expect("host netns"),
    );
    pod_ns.join(&vm_ns).expect("join");
    let host = SshHost::start_in(&vm_ns).expect("sshd");

    let hook = tempfile::tempdir().unwrap();
    fs::write(hook.path().join("playbook.yml"), "- hosts: all\n").unwrap();
    // HOME owned by the pod's UID, holding the nss_wrapper files and the private key.
    let home = tempfile::tempdir().unwrap();
    let passwd = format!(
        "runner:x:{DEFAULT_UID}:0:runner:{}:/bin/sh\n",
        home.path().display()
    );
    fs::write(home.path().join("passwd"), passwd).unwrap();
    fs::write(home.path().join("group"), "root:x:0:\n").unwrap();
    let key = home.path().join("id_ed25519");
    fs::copy(host.key_path(), &key).unwrap();
    for path in [home.path().to_path_buf(), key.clone()] {
        chown(&path, Some(DEFAULT_UID), Some(0)).unwrap();
    }
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o770)).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();

    let target = format!("{}@{}", host.user(), host.address());
    let mut argv = vec!["ssh".to_string()];
    argv.extend(host.ssh_options().into_iter().map(|a| {
        if a == host.key_path().display().to_string() {
            key.display().to_string()
        } else {
            a
        }
    }));
    argv.extend([target, "echo $SSH_CLIENT".to_string()]);

    let pod = Pod::new(hook.path()).netns(&pod_ns).home(home.path());
    let without = pod.clone().run(&argv).unwrap();
    assert!(
        without.stderr.contains("No user exists for uid"),
        "{without:?}"
    );

    let with = pod
        .env("LD_PRELOAD", NSS_WRAPPER)
        .env(
            "NSS_WRAPPER_PASSWD",
            home.path().join("passwd").display().to_string(),
        )
        .env(
            "NSS_WRAPPER_GROUP",
            home.path().join("group").display().to_string(),
        )
        .run(&argv)
        .unwrap();
    assert!(with.success(), "{with:?}");
    // The connection came from the pod's namespace address.
    assert!(
        with.stdout.starts_with(&format!("{} ", pod_ns.address())),
        "{with:?}"
    );
}
