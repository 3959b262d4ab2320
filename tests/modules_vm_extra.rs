//! The account and file-content modules against a real systemd "VM" (the lab's Debian, no
//! Python) over the real SSH connection: `group` and `user` with the real shadow tools
//! (create, idempotence, modification, membership, lock, removal, a failing command, through
//! sudo as the unprivileged user), `template` (rendering with variables and the template vars,
//! owner/mode, idempotence, check mode, backup) and `lineinfile`.

use crate::modules_common;

use hook_runner::{Map, Value};
use lab::vm::{Vm, HOST_COMMANDS};
use modules_common::{boot_vm, connect, control_dir, Runner};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_and_content_modules_on_a_systemd_vm() {
    if !lab::require_root_and("account_and_content_modules_on_a_systemd_vm", HOST_COMMANDS) {
        return;
    }
    let vm = boot_vm().await;
    let control = control_dir("hrx");
    let root = connect(&vm, "root", &control);
    let templates = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(templates.path().join("templates")).unwrap();
    std::fs::write(
        templates.path().join("templates/app.conf.j2"),
        "# {{ ansible_managed }}\nname={{ app.name }}\n{% for p in app.ports %}\nport={{ p }}\n{% endfor %}\n",
    )
    .unwrap();
    let mut vars = Map::new();
    vars.insert("app".into(), json!({"name": "vm-1", "ports": [80, 443]}));
    let r = Runner {
        vars,
        search_paths: vec![templates.path().to_path_buf()],
        ..Runner::new(&root)
    };

    groups(&r, &vm).await;
    users(&r, &vm).await;
    template(&r, &vm).await;
    lineinfile(&r, &vm).await;

    // Through sudo as the unprivileged user, as a hook with `become: true` does.
    let user = connect(&vm, vm.user(), &control);
    let sudo = Runner::new(&user).through_sudo();
    let made = sudo
        .run(
            "user",
            json!({"name": "svc", "system": true, "create_home": false, "shell": "/usr/sbin/nologin"}),
            false,
        )
        .await;
    assert_eq!(made["changed"], true, "{made:?}");
    assert_eq!(made["system"], true);
    let uid = made["uid"].as_i64().expect("a numeric uid");
    assert!(uid < 1000, "a system uid: {uid}");
    assert_eq!(
        vm.exec_ok("getent passwd svc | cut -d: -f7"),
        "/usr/sbin/nologin"
    );

    drop(vm);
}

async fn groups(r: &Runner<'_>, vm: &Vm) {
    let made = r
        .run("group", json!({"name": "app", "gid": 2345}), false)
        .await;
    assert_eq!(
        Value::Object(made),
        json!({"name": "app", "state": "present", "changed": true, "system": false, "gid": 2345})
    );
    let again = r
        .run("group", json!({"name": "app", "gid": 2345}), false)
        .await;
    assert_eq!(again["changed"], false, "{again:?}");
    let checked = r
        .run("group", json!({"name": "app", "gid": 2346}), true)
        .await;
    assert_eq!(checked["changed"], true);
    assert_eq!(vm.exec_ok("getent group app | cut -d: -f3"), "2345");
    let moved = r
        .run("group", json!({"name": "app", "gid": 2346}), false)
        .await;
    assert_eq!(moved["gid"], 2346, "{moved:?}");
    r.run("group", json!({"name": "extra"}), false).await;
}

async fn users(r: &Runner<'_>, vm: &Vm) {
    let args = json!({"name": "appuser", "uid": 2345, "group": "app", "groups": ["extra"], "comment": "App user", "shell": "/bin/sh"});
    let made = r.run("user", args.clone(), false).await;
    assert_eq!(made["changed"], true, "{made:?}");
    assert_eq!(made["uid"], 2345);
    assert_eq!(made["group"], 2346);
    assert_eq!(made["home"], "/home/appuser");
    assert_eq!(made["groups"], "extra");
    assert_eq!(made["create_home"], true);
    assert_eq!(vm.exec_ok("stat -c %U:%G /home/appuser"), "appuser:app");
    assert_eq!(vm.exec_ok("id -Gn appuser"), "app extra");
    let again = r.run("user", args, false).await;
    assert_eq!(again["changed"], false, "{again:?}");

    let shell = r
        .run(
            "user",
            json!({"name": "appuser", "shell": "/bin/bash"}),
            false,
        )
        .await;
    assert_eq!(shell["changed"], true);
    assert_eq!(
        vm.exec_ok("getent passwd appuser | cut -d: -f7"),
        "/bin/bash"
    );
    let replaced = r
        .run("user", json!({"name": "appuser", "groups": []}), false)
        .await;
    assert_eq!(replaced["changed"], true, "{replaced:?}");
    assert_eq!(vm.exec_ok("id -Gn appuser"), "app");
    // A new account has no password (`!`, locked); with a hash it is usable, then locked.
    let hash = "$6$conformance$notarealhash";
    let password = r
        .run("user", json!({"name": "appuser", "password": hash}), false)
        .await;
    assert_eq!(password["changed"], true, "{password:?}");
    assert_eq!(password["password"], "NOT_LOGGING_PASSWORD");
    assert_eq!(vm.exec_ok("getent shadow appuser | cut -d: -f2"), hash);
    let locked = r
        .run(
            "user",
            json!({"name": "appuser", "password_lock": true}),
            false,
        )
        .await;
    assert_eq!(locked["changed"], true, "{locked:?}");
    assert_eq!(
        vm.exec_ok("getent shadow appuser | cut -d: -f2"),
        format!("!{hash}")
    );
    let still = r
        .run(
            "user",
            json!({"name": "appuser", "password_lock": true}),
            false,
        )
        .await;
    assert_eq!(still["changed"], false, "{still:?}");

    // The real groupdel refuses a user's primary group: its message is the task's.
    let refused = r
        .run("group", json!({"name": "app", "state": "absent"}), false)
        .await;
    assert_eq!(refused["failed"], true, "{refused:?}");
    assert!(
        refused["msg"]
            .as_str()
            .unwrap_or("")
            .contains("cannot remove the primary group"),
        "{refused:?}"
    );

    let removed = r
        .run(
            "user",
            json!({"name": "appuser", "state": "absent", "remove": true}),
            false,
        )
        .await;
    assert_eq!(removed["changed"], true, "{removed:?}");
    assert_eq!(removed["remove"], true);
    assert_eq!(
        vm.exec_ok("test -e /home/appuser && echo yes || echo no"),
        "no"
    );
    let gone = r
        .run("user", json!({"name": "appuser", "state": "absent"}), false)
        .await;
    assert_eq!(gone["changed"], false);
    let dropped = r
        .run("group", json!({"name": "app", "state": "absent"}), false)
        .await;
    assert_eq!(dropped["changed"], true, "{dropped:?}");
}

async fn template(r: &Runner<'_>, vm: &Vm) {
    r.run("user", json!({"name": "web", "create_home": false}), false)
        .await;
    let args = json!({"src": "app.conf.j2", "dest": "/etc/app.conf", "owner": "web", "mode": "0640", "backup": true});
    let checked = r.run("template", args.clone(), true).await;
    assert_eq!(checked["changed"], true, "{checked:?}");
    assert_eq!(
        vm.exec_ok("test -e /etc/app.conf && echo yes || echo no"),
        "no"
    );
    let made = r.run("template", args.clone(), false).await;
    assert_eq!(made["changed"], true, "{made:?}");
    assert_eq!(made["owner"], "web");
    assert_eq!(made["mode"], "0640");
    assert_eq!(
        vm.exec_ok("cat /etc/app.conf"),
        "# Ansible managed\nname=vm-1\nport=80\nport=443"
    );
    assert_eq!(vm.exec_ok("stat -c %U:%a /etc/app.conf"), "web:640");
    let again = r.run("template", args.clone(), false).await;
    assert_eq!(again["changed"], false, "{again:?}");
    // A changed file is replaced, the old one kept as a backup.
    vm.exec_ok("echo old > /etc/app.conf");
    let replaced = r.run("template", args, false).await;
    let backup = replaced["backup_file"].as_str().expect("a backup file");
    assert_eq!(vm.exec_ok(&format!("cat '{backup}'")), "old");
}

async fn lineinfile(r: &Runner<'_>, vm: &Vm) {
    vm.exec_ok("printf 'a=1\\n# b=2\\n' > /etc/lif.conf");
    let args = json!({"path": "/etc/lif.conf", "regexp": "^#? ?b=", "line": "b=3"});
    let replaced = r.run("lineinfile", args.clone(), false).await;
    assert_eq!(replaced["msg"], "line replaced", "{replaced:?}");
    assert_eq!(vm.exec_ok("cat /etc/lif.conf"), "a=1\nb=3");
    let again = r.run("lineinfile", args, false).await;
    assert_eq!(again["changed"], false, "{again:?}");
    let added = r
        .run(
            "lineinfile",
            json!({"path": "/etc/lif.conf", "line": "c=4", "insertbefore": "^b="}),
            false,
        )
        .await;
    assert_eq!(added["msg"], "line added");
    assert_eq!(vm.exec_ok("cat /etc/lif.conf"), "a=1\nc=4\nb=3");
}
