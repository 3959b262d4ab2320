//! The MTV documentation's hook (`corpus/hooks/mtv-docs-stop-mariadb.yml`, `{namespace}` filled
//! in) run by the engine as in a hook pod: the SSH key read from the (test) Kubernetes API,
//! written to `~/.ssh/id_rsa`, the VM added with `add_host`, then MariaDB stopped and
//! `/premigration.txt` written on a systemd VM without Python. A second run changes nothing
//! on the VM. (Own test binary: it sets `HOME` for the process.)

#[path = "support/data.rs"]
mod data;
#[path = "support/engine.rs"]
mod engine_common;
use engine_common::{corpus_hook, run_with, write_files};
use hook_runner::engine::RunOptions;
use hook_runner::report::{Event, HostStats};
use lab::kube_api::{service_account, KubeApi, Rule};
use lab::vm::{Vm, HOST_COMMANDS};
use std::path::Path;

const NS: &str = "openshift-mtv";

fn recap(events: &[Event]) -> Vec<(String, HostStats)> {
    events
        .iter()
        .find_map(|e| match e {
            Event::Stats { hosts, .. } => Some(hosts.clone()),
            _ => None,
        })
        .expect("a recap")
}

fn stats(ok: u32, changed: u32) -> HostStats {
    HostStats {
        ok,
        changed,
        ..HostStats::default()
    }
}

async fn run_hook(hook_dir: &Path, kubeconfig: &Path) -> (i32, Vec<Event>) {
    let opts = RunOptions {
        playbook: hook_dir.join("playbook.yml"),
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..RunOptions::default()
    };
    run_with(&opts).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtv_docs_hook_stops_mariadb_on_a_systemd_vm() {
    lab::prologue!(test, lab::require_root_and(test, HOST_COMMANDS));
    let Some(playbook) = corpus_hook(test, "mtv-docs-stop-mariadb.yml") else {
        return;
    };
    let vm = tokio::task::spawn_blocking(Vm::boot)
        .await
        .unwrap()
        .expect("the lab VM boots");
    assert_eq!(vm.exec_ok("systemctl is-active mariadb").trim(), "active");

    // The cluster: the VM's root key in the Secret the hook reads, a token allowed to read it.
    let api = KubeApi::start();
    let key = std::fs::read(vm.root_key()).unwrap();
    api.add_secret(NS, "privkey", &[("key", &key)]);
    let token = api.token(
        &service_account(NS, "forklift-hook"),
        &[Rule::new(&["get", "list"], &["secrets"]).in_namespace(NS)],
    );
    let work = tempfile::tempdir().unwrap();
    let kubeconfig = work.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig, &token).unwrap();

    // The hook directory as the ConfigMap mounts it.
    let hook = work.path().join("hook");
    let playbook = playbook.replace("{namespace}", NS);
    let workload = data::read_forklift("vsphere.workload.yml").replace(
        "ipaddress: 10.10.20.31",
        &format!("ipaddress: {}", vm.address()),
    );
    write_files(
        &hook,
        &[
            ("playbook.yml", &playbook),
            ("plan.yml", &data::read_forklift("plan.yml")),
            ("workload.yml", &workload),
        ],
    );

    // The pod's home: the hook writes ~/.ssh/id_rsa there and ssh uses it.
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::env::set_var("HOME", &home);

    let (rc, events) = run_hook(&hook, &kubeconfig).await;
    assert_eq!(rc, 0, "{events:#?}");
    let ip = vm.address().to_string();
    let mut expected = vec![
        ("localhost".to_string(), stats(5, 3)),
        (ip.clone(), stats(3, 2)),
    ];
    let mut got = recap(&events);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected, "{events:#?}");

    assert_eq!(vm.exec("systemctl is-active mariadb").stdout, b"inactive\n");
    assert_eq!(
        String::from_utf8_lossy(&vm.exec("cat /premigration.txt").stdout),
        "Migration from boston of vm-2861 has finished\n"
    );
    assert_eq!(vm.exec_ok("stat -c %a /premigration.txt").trim(), "644");
    let key_mode = std::fs::metadata(home.join(".ssh/id_rsa")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o777,
        0o600
    );
    assert_eq!(std::fs::read(home.join(".ssh/id_rsa")).unwrap(), key);

    // Run again: nothing changes on the VM (add_host always reports a change).
    let (rc, events) = run_hook(&hook, &kubeconfig).await;
    assert_eq!(rc, 0, "{events:#?}");
    let mut got = recap(&events);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![("localhost".to_string(), stats(5, 1)), (ip, stats(3, 0))];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected, "{events:#?}");
}

/// The engine over SSH as an unprivileged user: `become` through sudo, facts from the VM,
/// `delegate_to: localhost`, and an unreachable second host (exit 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn become_facts_and_unreachable_over_ssh() {
    if !lab::require_root_and("become_facts_and_unreachable_over_ssh", HOST_COMMANDS) {
        return;
    }
    let vm = tokio::task::spawn_blocking(Vm::boot)
        .await
        .unwrap()
        .expect("the lab VM boots");
    let work = tempfile::tempdir().unwrap();
    let inventory = format!(
        "[vms]\nvm ansible_host={} ansible_user={} ansible_ssh_private_key_file={}\ngone ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\n",
        vm.address(),
        vm.user(),
        vm.user_key().display()
    );
    const PLAYBOOK: &str = r#"
- hosts: vms
  tasks:
    - name: who
      command: id -un
      become: true
      register: who
    - name: plain
      command: id -un
      register: plain
    - name: here
      command: hostname
      delegate_to: localhost
      register: here
    - name: report
      debug:
        msg: "{{ who.stdout }} {{ plain.stdout }} {{ ansible_distribution }} {{ ansible_service_mgr }}"
"#;
    write_files(
        work.path(),
        &[("inventory.ini", &inventory), ("playbook.yml", PLAYBOOK)],
    );
    let opts = RunOptions {
        playbook: work.path().join("playbook.yml"),
        inventories: vec![work.path().join("inventory.ini").display().to_string()],
        ..RunOptions::default()
    };
    let (rc, events) = run_with(&opts).await;
    assert_eq!(rc, 4, "{events:#?}");
    let msg = events
        .iter()
        .find_map(|e| match e {
            Event::HostResult {
                host,
                task,
                result,
                item: None,
                ..
            } if host == "vm" && task.name == "report" => result.get("msg").cloned(),
            _ => None,
        })
        .expect("report on vm");
    assert_eq!(
        msg,
        serde_json::json!(format!("root {} Debian systemd", vm.user()))
    );
    let stats: Vec<(String, HostStats)> = recap(&events);
    let gone = stats.iter().find(|(h, _)| h == "gone").unwrap();
    assert_eq!(gone.1.unreachable, 1);
    let on_vm = stats.iter().find(|(h, _)| h == "vm").unwrap();
    assert_eq!((on_vm.1.ok, on_vm.1.changed, on_vm.1.failed), (5, 3, 0));
}
