//! The remote modules against a real systemd "VM" (the lab's Debian + MariaDB, no Python) over
//! the real SSH connection: facts, service/systemd (stop/start MariaDB, enable, missing unit),
//! copy/file/stat (the MTV docs hook's steps, then idempotence), command/shell with become
//! through sudo, getent, ping, and paths with spaces, quotes and `$()` as data.

use crate::modules_common;

use hook_runner::connection::Connection;
use hook_runner::modules::setup;
use hook_runner::Map;
use lab::vm::HOST_COMMANDS;
use modules_common::{boot_vm, connect, control_dir, Runner};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_modules_on_a_systemd_vm() {
    if !lab::require_root_and("remote_modules_on_a_systemd_vm", HOST_COMMANDS) {
        return;
    }
    let vm = boot_vm().await;
    let control = control_dir("hrm");
    let root = connect(&vm, "root", &control);

    // Facts, from one round trip. The lab VM has no default route; give it one so that
    // `ansible_default_ipv4` has something to report (the VM has no iproute2: the kernel's
    // tables are read).
    let route = std::process::Command::new("ip")
        .args(["-n", vm.name(), "route", "add", "default", "via"])
        .arg(vm.host_address().to_string())
        .status()
        .expect("ip");
    assert!(route.success());
    let facts = setup::gather(&root, None).await.expect("facts");
    assert_eq!(facts["ansible_service_mgr"], "systemd");
    assert_eq!(facts["ansible_distribution"], "Debian");
    assert_eq!(facts["ansible_os_family"], "Debian");
    assert_eq!(facts["ansible_distribution_major_version"], "12");
    assert_eq!(facts["ansible_user_id"], "root");
    assert_eq!(
        facts["ansible_default_ipv4"]["address"],
        vm.address().to_string()
    );
    assert_eq!(facts["ansible_env"]["HOME"], "/root");

    let mut vars = Map::new();
    vars.insert("ansible_facts".into(), json!({"service_mgr": "systemd"}));
    let r = Runner {
        vars,
        ..Runner::new(&root)
    };

    // The MTV docs hook: stop MariaDB, write the key and the marker file; then again: no change.
    for round in 0..2 {
        let first = round == 0;
        let stop = r
            .run(
                "service",
                json!({"name": "mariadb", "state": "stopped"}),
                false,
            )
            .await;
        assert_eq!(stop["changed"], first, "{stop:?}");
        assert_eq!(stop["state"], "stopped");
        assert_eq!(stop["name"], "mariadb");
        let dir = r
            .run(
                "file",
                json!({"path": "~/.ssh", "state": "directory", "mode": 0o750}),
                false,
            )
            .await;
        assert_eq!(dir["mode"], "0750", "{dir:?}");
        let key = r
            .run(
                "copy",
                json!({"dest": "~/.ssh/id_rsa", "content": "KEY\n", "mode": 0o600}),
                false,
            )
            .await;
        assert_eq!(key["changed"], first, "{key:?}");
        assert_eq!(key["mode"], "0600");
        let marker = r
            .run("copy", json!({"dest": "/premigration.txt", "content": "Migration of vm-1 has finished\n", "mode": 0o644}), false)
            .await;
        assert_eq!(marker["changed"], first, "{marker:?}");
        assert_eq!(marker["mode"], "0644");
        assert_eq!(marker["owner"], "root");
    }
    assert_eq!(
        vm.exec_ok("systemctl is-active mariadb || true"),
        "inactive"
    );
    assert_eq!(vm.exec_ok("stat -c %a /root/.ssh/id_rsa"), "600");
    assert_eq!(
        vm.exec_ok("cat /premigration.txt"),
        "Migration of vm-1 has finished"
    );

    // systemd: status, enable in check mode (nothing changes), start, missing unit.
    let enabled_before = vm.exec_ok("systemctl is-enabled mariadb || true");
    let result = r
        .run(
            "systemd",
            json!({"name": "mariadb", "enabled": enabled_before != "enabled"}),
            true,
        )
        .await;
    assert_eq!(result["changed"], true, "{result:?}");
    assert_eq!(
        vm.exec_ok("systemctl is-enabled mariadb || true"),
        enabled_before
    );
    let started = r
        .run(
            "systemd",
            json!({"name": "mariadb", "state": "started"}),
            false,
        )
        .await;
    assert_eq!(started["changed"], true);
    assert_eq!(started["status"]["ActiveState"], "inactive");
    assert_eq!(vm.exec_ok("systemctl is-active mariadb"), "active");
    let restarted = r
        .run(
            "systemd",
            json!({"name": "mariadb", "state": "restarted"}),
            false,
        )
        .await;
    assert_eq!(restarted["changed"], true);
    assert_eq!(restarted["state"], "started");
    let missing = r
        .run(
            "service",
            json!({"name": "hr nope $(x)", "state": "started"}),
            false,
        )
        .await;
    assert_eq!(
        missing["msg"],
        "Could not find the requested service hr nope $(x): host"
    );

    // Backend detection on the target when facts were not gathered.
    let detect = Runner::new(&root);
    let again = detect
        .run(
            "service",
            json!({"name": "mariadb", "state": "started"}),
            false,
        )
        .await;
    assert_eq!(again["changed"], false, "{again:?}");
    assert!(
        again["status"].get("ActiveState").is_some(),
        "systemd backend detected: {again:?}"
    );

    // Paths that are data.
    let nasty = "/tmp/a b/it's $(touch /tmp/PWNED);x";
    let made = r
        .run("file", json!({"path": nasty, "state": "directory"}), false)
        .await;
    assert_eq!(made["changed"], true, "{made:?}");
    let st = r.run("stat", json!({"path": nasty}), false).await;
    assert_eq!(st["stat"]["isdir"], true);
    assert!(!vm.exec("test -e /tmp/PWNED").status.success());

    // command/shell as the unprivileged user, and with become through sudo.
    let user = connect(&vm, vm.user(), &control);
    let plain = Runner::new(&user);
    let who = plain
        .run("command", json!({"_raw_params": "id -un"}), false)
        .await;
    assert_eq!(who["stdout"], vm.user());
    let sudo = Runner::new(&user).through_sudo();
    let who = sudo
        .run("shell", json!({"_raw_params": "id -un; echo $HOME"}), false)
        .await;
    assert_eq!(who["stdout"], "root\n/root", "{who:?}");
    let owned = sudo.run("copy", json!({"dest": "/etc/hr-test", "content": "x", "owner": vm.user(), "mode": "u=rw,go=r"}), false).await;
    assert_eq!(owned["owner"], vm.user(), "{owned:?}");
    assert_eq!(owned["mode"], "0644");
    let nope = plain
        .run("command", json!({"_raw_params": "no-such-program"}), false)
        .await;
    assert_eq!(
        nope["msg"],
        "[Errno 2] No such file or directory: b'no-such-program'"
    );

    let ent = r
        .run(
            "getent",
            json!({"database": "passwd", "key": vm.user()}),
            false,
        )
        .await;
    assert_eq!(
        ent["ansible_facts"]["getent_passwd"][vm.user()][0],
        "x",
        "{ent:?}"
    );
    let pong = r.run("ping", json!({}), false).await;
    assert_eq!(pong["ping"], "pong");

    root.close().await;
    user.close().await;
    vm.shutdown().expect("VM teardown");
}
