//! The control modules: `gather_facts`, `wait_for`, `pause`, `async_status`, `group_by`,
//! `set_stats`, `validate_argument_spec`, `reboot`, `service_facts`, `hostname`,
//! `known_hosts`, `cron` and `sysvinit`, against the lab's systemd VMs over real SSH, and a
//! differential case against ansible-core 2.18 on the python3 VM variant
//! (`differential/cases/vm_control.yml`).
//!
//! Needs root and the lab VM's host commands (and, for the differential case, the Ansible
//! venv): a failure with `CI=true`, a loud skip otherwise.

// Shared with tests/differential.rs; each binary uses a part of it.
#[allow(dead_code)]
#[path = "differential/harness.rs"]
mod harness;
mod modules_common;

use harness::{check, Case};
use lab::vm::HOST_COMMANDS;
use modules_common::{boot_vm, connect, control_dir, Runner};
use serde_json::json;

/// Ansible's async job ids, results files and timings differ from run to run; `elapsed` is
/// compared (whole seconds: the waits here are far from a second's edge).
const VOLATILE: &[&str] = &["ansible_job_id", "results_file", "erased", "stop"];

#[test]
fn vm_control_modules_match_ansible() {
    let reset = "rm -f /srv/hr-diff/never /srv/hr-diff/gone; rm -rf /root/.ansible_async";
    check(Case::new("vm_control").on_vm(reset).ignore_keys(VOLATILE));
}

/// The host modules on the lab's VM without Python, over SSH: service_facts, hostname,
/// known_hosts and wait_for, then a real reboot (the VM's boot id changes and the same
/// connection object works again afterwards).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_control_modules_on_a_systemd_vm() {
    if !lab::require_root_and("host_control_modules_on_a_systemd_vm", HOST_COMMANDS) {
        return;
    }
    let vm = boot_vm().await;
    let control = control_dir("hrc");
    let root = connect(&vm, "root", &control);
    let r = Runner::new(&root);

    // service_facts: MariaDB as systemd sees it, and sshd.
    let facts = r.run("service_facts", json!({}), false).await;
    let services = &facts["ansible_facts"]["services"];
    assert_eq!(
        services["mariadb.service"],
        json!({"name": "mariadb.service", "state": "running", "status": "enabled", "source": "systemd"}),
        "{facts:?}"
    );
    assert_eq!(services["ssh.service"]["source"], "systemd", "{facts:?}");
    vm.exec_ok("systemctl stop mariadb");
    let facts = r.run("service_facts", json!({}), true).await;
    assert_eq!(
        facts["ansible_facts"]["services"]["mariadb.service"]["state"],
        "stopped"
    );
    vm.exec_ok("systemctl start mariadb");

    // hostname: check mode predicts, then the change, then nothing to do.
    let before = vm.exec_ok("hostname");
    let predicted = r.run("hostname", json!({"name": "hr-ctl-1"}), true).await;
    assert_eq!(predicted["changed"], true, "{predicted:?}");
    assert_eq!(vm.exec_ok("hostname"), before);
    let set = r.run("hostname", json!({"name": "hr-ctl-1"}), false).await;
    assert_eq!(set["changed"], true, "{set:?}");
    assert_eq!(set["ansible_facts"]["ansible_hostname"], "hr-ctl-1");
    assert_eq!(set["diff"]["after"], "hostname = hr-ctl-1\n");
    assert_eq!(set["diff"]["before"], format!("hostname = {before}\n"));
    assert_eq!(vm.exec_ok("hostname"), "hr-ctl-1");
    assert_eq!(vm.exec_ok("cat /etc/hostname"), "hr-ctl-1");
    let again = r.run("hostname", json!({"name": "hr-ctl-1"}), false).await;
    assert_eq!(again["changed"], false, "{again:?}");

    // known_hosts: add, keep, replace, hash, remove; the file checked on the VM.
    let pubkey = vm.exec_ok("cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub");
    let other = vm.exec_ok(
        "rm -f /tmp/hr-k /tmp/hr-k.pub; ssh-keygen -q -t ed25519 -N '' -f /tmp/hr-k && cut -d' ' -f1,2 /tmp/hr-k.pub",
    );
    let kh = "/root/hr dir/known_hosts";
    let add = json!({"name": "vm.example", "key": format!("vm.example {pubkey}"), "path": kh});
    let added = r.run("known_hosts", add.clone(), false).await;
    assert_eq!(added["changed"], true, "{added:?}");
    assert_eq!(added["diff"]["before_header"], "/dev/null");
    assert_eq!(
        vm.exec_ok(&format!("cat '{kh}'")),
        format!("vm.example {pubkey}")
    );
    let kept = r.run("known_hosts", add.clone(), false).await;
    assert_eq!(kept["changed"], false, "{kept:?}");
    let replaced = r
        .run(
            "known_hosts",
            json!({"name": "vm.example", "key": format!("vm.example {other}"), "path": kh}),
            false,
        )
        .await;
    assert_eq!(replaced["changed"], true, "{replaced:?}");
    assert_eq!(
        vm.exec_ok(&format!("cat '{kh}'")),
        format!("vm.example {other}")
    );
    let hashed = r
        .run(
            "known_hosts",
            json!({"name": "h2.example", "key": format!("h2.example {pubkey}"), "path": kh, "hash_host": true}),
            false,
        )
        .await;
    assert_eq!(hashed["changed"], true, "{hashed:?}");
    // ssh-keygen itself finds the hashed entry: the hash is right.
    assert!(vm
        .exec_ok(&format!("ssh-keygen -F h2.example -f '{kh}'"))
        .contains("|1|"));
    let hashed_again = r
        .run(
            "known_hosts",
            json!({"name": "h2.example", "key": format!("h2.example {pubkey}"), "path": kh, "hash_host": true}),
            false,
        )
        .await;
    assert_eq!(hashed_again["changed"], false, "{hashed_again:?}");
    let mismatch = r
        .run(
            "known_hosts",
            json!({"name": "x.example", "key": format!("y.example {pubkey}"), "path": kh}),
            false,
        )
        .await;
    assert_eq!(
        mismatch["msg"],
        "Host parameter does not match hashed host field in supplied key"
    );
    let removed = r
        .run(
            "known_hosts",
            json!({"name": "vm.example", "path": kh, "state": "absent"}),
            false,
        )
        .await;
    assert_eq!(removed["changed"], true, "{removed:?}");
    assert_eq!(
        vm.exec_ok(&format!("ssh-keygen -F vm.example -f '{kh}' || true")),
        ""
    );

    // wait_for on the VM's own view: sshd's port, a file that exists.
    let port = r
        .run("wait_for", json!({"port": 22, "timeout": 10}), false)
        .await;
    assert_eq!(port.get("failed"), None, "{port:?}");
    let closed = r
        .run(
            "wait_for",
            json!({"port": 9, "timeout": 1, "connect_timeout": 1}),
            false,
        )
        .await;
    assert_eq!(closed["msg"], "Timeout when waiting for 127.0.0.1:9");

    // sysvinit: a SysV script whose daemon is found by `pattern` (on a systemd host
    // `service NAME status` asks systemd, which did not start it; Ansible reads it the same way).
    vm.exec_ok(
        "cat > /etc/init.d/hr-ctl-sysv <<'EOF'\n#!/bin/sh\n### BEGIN INIT INFO\n# Provides: hr-ctl-sysv\n# Required-Start:\n# Required-Stop:\n# Default-Start: 2 3 4 5\n# Default-Stop: 0 1 6\n### END INIT INFO\ncase \"$1\" in\n  start) setsid sleep 86399 </dev/null >/dev/null 2>&1 & echo started ;;\n  stop) pkill -x -f 'sleep 86399' || : ;;\n  *) echo \"bad $1\" >&2; exit 3 ;;\nesac\nEOF\nchmod 755 /etc/init.d/hr-ctl-sysv",
    );
    let started = r
        .run(
            "sysvinit",
            json!({"name": "hr-ctl-sysv", "state": "started", "pattern": "sleep 86399"}),
            false,
        )
        .await;
    assert_eq!(started["changed"], true, "{started:?}");
    assert_eq!(
        started["status"]["started"],
        json!({"changed": true, "rc": 0, "stdout": "started", "stderr": ""})
    );
    assert_eq!(started["status"]["enabled"]["changed"], false);
    vm.exec_ok("pgrep -x -f 'sleep 86399'");
    let again = r
        .run(
            "sysvinit",
            json!({"name": "hr-ctl-sysv", "state": "started", "pattern": "sleep 86399"}),
            false,
        )
        .await;
    assert_eq!(again["changed"], false, "{again:?}");
    let predicted = r
        .run(
            "sysvinit",
            json!({"name": "hr-ctl-sysv", "state": "stopped", "pattern": "sleep 86399"}),
            true,
        )
        .await;
    assert_eq!(predicted["changed"], true, "{predicted:?}");
    assert_eq!(predicted["status"]["stopped"]["rc"], json!(null));
    vm.exec_ok("pgrep -x -f 'sleep 86399'");
    let restarted = r
        .run(
            "sysvinit",
            json!({"name": "hr-ctl-sysv", "state": "restarted", "sleep": 0, "pattern": "sleep 86399"}),
            false,
        )
        .await;
    assert_eq!(restarted["changed"], true, "{restarted:?}");
    let stopped = r
        .run(
            "sysvinit",
            json!({"name": "hr-ctl-sysv", "state": "stopped", "pattern": "sleep 86399"}),
            false,
        )
        .await;
    assert_eq!(stopped["changed"], true, "{stopped:?}");
    vm.exec_ok("! pgrep -x -f 'sleep 86399'");
    let reload = r
        .run(
            "sysvinit",
            json!({"name": "hr-ctl-sysv", "state": "reloaded", "pattern": "sleep 86399"}),
            false,
        )
        .await;
    assert_eq!(
        reload["msg"], "Failed to reload service: hr-ctl-sysv",
        "{reload:?}"
    );
    assert_eq!(reload["stderr"], "bad reload");
    let missing = r
        .run(
            "sysvinit",
            json!({"name": "hr-nope", "state": "started"}),
            false,
        )
        .await;
    assert_eq!(
        missing["msg"],
        "Could not find the requested service hr-nope: "
    );
    let enabled = r
        .run(
            "sysvinit",
            json!({"name": "hr-ctl-sysv", "enabled": true}),
            false,
        )
        .await;
    assert_eq!(enabled["changed"], true, "{enabled:?}");
    assert_eq!(enabled["status"]["enabled"]["changed"], true);
    vm.exec_ok("ls /etc/rc2.d/S*hr-ctl-sysv");
    let enabled_again = r
        .run(
            "sysvinit",
            json!({"name": "hr-ctl-sysv", "enabled": true}),
            false,
        )
        .await;
    assert_eq!(enabled_again["changed"], false, "{enabled_again:?}");

    // reboot: a new boot, and the connection works again.
    let boot_before = vm.exec_ok("cat /proc/sys/kernel/random/boot_id");
    let started = std::time::Instant::now();
    let rebooted = r.run("reboot", json!({"reboot_timeout": 180}), false).await;
    eprintln!("reboot took {:?}: {rebooted:?}", started.elapsed());
    assert_eq!(rebooted["rebooted"], true, "{rebooted:?}");
    assert_eq!(rebooted["changed"], true);
    assert_eq!(rebooted.get("failed"), None);
    let boot_after = r
        .run(
            "command",
            json!({"_raw_params": "cat /proc/sys/kernel/random/boot_id"}),
            false,
        )
        .await;
    assert_ne!(boot_after["stdout"], boot_before.as_str(), "{boot_after:?}");
    let check = r.run("reboot", json!({}), true).await;
    assert_eq!(
        check,
        json!({"changed": true, "elapsed": 0, "rebooted": true})
            .as_object()
            .unwrap()
            .clone()
    );
    vm.shutdown().expect("the VM tears down cleanly");
}
