//! The control modules: `gather_facts`, `wait_for`, `pause`, `async_status`, `group_by`,
//! `set_stats`, `validate_argument_spec`, `reboot`, `service_facts`, `hostname`,
//! `known_hosts`, `cron` and `sysvinit`, against the lab's systemd VMs over real SSH, and
//! differential cases against ansible-core 2.18 on the python3 VM variant
//! (`differential/cases/vm_control*.yml`).
//!
//! Needs root and the lab VM's host commands (and, for the differential case, the Ansible
//! venv): a failure with `CI=true`, a loud skip otherwise.

// Shared with tests/differential.rs; each binary uses a part of it.
use crate::engine_common;
use crate::harness;
use crate::modules_common;

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

/// The host modules against Ansible: service_facts, hostname, known_hosts, sysvinit and a
/// reboot (`differential/cases/vm_control_host.yml`).
#[test]
fn vm_host_control_modules_match_ansible() {
    let reset = r#"
hostnamectl set-hostname hr-diff-orig
rm -f /srv/hr-diff/kh
pkill -x -f 'sleep 86398' || :
cat > /etc/init.d/hr-ctl-sysv <<'INIT'
#!/bin/sh
case "$1" in
  start) setsid sleep 86398 </dev/null >/dev/null 2>&1 & echo started ;;
  stop) pkill -x -f 'sleep 86398' || : ;;
  *) echo "bad $1" >&2; exit 3 ;;
esac
INIT
chmod 755 /etc/init.d/hr-ctl-sysv
"#;
    check(
        Case::new("vm_control_host")
            .on_vm(reset)
            .ignore_keys(&["elapsed"]),
    );
}

/// cron against Ansible, through files of /etc/cron.d (`differential/cases/vm_control_cron.yml`):
/// add, keep, change, disable, a variable, a special time, an adopted line, the checks'
/// messages and the removal of the jobs (the emptied file stays, as in ansible-core).
#[test]
fn vm_cron_matches_ansible() {
    let reset = "rm -f /etc/cron.d/hr-diff-cron; \
                 printf '0 * * * * root /usr/local/bin/hr-adopted\\n' > /etc/cron.d/hr-diff-adopt";
    check(Case::new("vm_control_cron").on_vm(reset));
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
        json!({"changed": true, "rc": 0, "stdout": "started\n", "stderr": ""})
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
    assert_eq!(reload["stderr"], "bad reload\n");
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

    // cron: a job in /etc/cron.d (the VM has no crontab command; the file needs none).
    let job = json!({"name": "hr nightly", "job": "/usr/bin/true", "minute": "15", "hour": "1",
                     "user": "root", "cron_file": "/etc/cron.d/hr-nightly"});
    let added = r.run("cron", job.clone(), false).await;
    assert_eq!(added["changed"], true, "{added:?}");
    assert_eq!(added["jobs"], json!(["hr nightly"]));
    assert_eq!(
        vm.exec_ok("cat /etc/cron.d/hr-nightly; stat -c %a /etc/cron.d/hr-nightly"),
        "#Ansible: hr nightly\n15 1 * * * root /usr/bin/true\n644"
    );
    let kept = r.run("cron", job.clone(), false).await;
    assert_eq!(kept["changed"], false, "{kept:?}");
    let removed = r
        .run(
            "cron",
            json!({"name": "hr nightly", "cron_file": "/etc/cron.d/hr-nightly", "state": "absent"}),
            false,
        )
        .await;
    assert_eq!(removed["changed"], true, "{removed:?}");
    // Emptied by removing the named job, the file stays (as ansible-core keeps it); a task
    // with an empty name deletes it.
    assert_eq!(vm.exec_ok("cat /etc/cron.d/hr-nightly"), "");
    let deleted = r
        .run(
            "cron",
            json!({"name": "", "cron_file": "hr-nightly", "state": "absent"}),
            false,
        )
        .await;
    assert_eq!(deleted["changed"], true, "{deleted:?}");
    vm.exec_ok("test ! -e /etc/cron.d/hr-nightly");

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

/// group_by runs once per host (each host joins the group its own variables name, later plays
/// target it; `changed` only when the inventory changed), and set_stats' data reaches the
/// `playbook_on_stats` event: the run's aggregated over the hosts, per host with `per_host`.
#[tokio::test]
async fn group_by_per_host_and_set_stats_in_the_run_stats() {
    let inventory = "h1 ansible_connection=local os=debian\nh2 ansible_connection=local os=rhel\n";
    let playbook = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: group
      group_by:
        key: "os_{{ os }}"
        parents: linux
    - name: group again
      group_by:
        key: "os_{{ os }}"
        parents: linux
    - name: count
      set_stats:
        data:
          hosts: 1
          names: ["{{ inventory_hostname }}"]
    - name: mine
      set_stats:
        data:
          flavour: "{{ os }}"
        per_host: true
- hosts: os_debian
  gather_facts: false
  tasks:
    - name: only debian
      debug:
        msg: "{{ group_names }}"
- hosts: linux
  gather_facts: false
  tasks:
    - name: every linux host
      debug:
        msg: "{{ inventory_hostname }}"
"#;
    let out = engine_common::run_with_inventory(playbook, inventory).await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    for host in ["h1", "h2"] {
        let (_, first) = out.result("group", host);
        assert_eq!(first["changed"], true, "{first:?}");
        let (_, again) = out.result("group again", host);
        assert_eq!(again["changed"], false, "{again:?}");
    }
    let (_, groups) = out.result("only debian", "h1");
    assert_eq!(groups["msg"], json!(["linux", "os_debian"]));
    assert!(out.results("only debian").iter().all(|(h, _, _)| h == "h1"));
    assert_eq!(out.results("every linux host").len(), 2);
    let custom = out
        .events
        .iter()
        .find_map(|e| match e {
            hook_runner::report::Event::Stats { custom, .. } => Some(custom.clone()),
            _ => None,
        })
        .expect("a stats event");
    // The hosts' tasks finish in any order: the list is concatenated in that order.
    assert_eq!(custom["_run"]["hosts"], 2, "{custom:?}");
    let mut names: Vec<&str> = custom["_run"]["names"]
        .as_array()
        .expect("names aggregated into a list")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["h1", "h2"]);
    assert_eq!(custom["h1"], json!({"flavour": "debian"}));
    assert_eq!(custom["h2"], json!({"flavour": "rhel"}));
}
