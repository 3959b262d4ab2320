//! End to end: every playbook of the hook corpus (beside the repository, `../shared/corpus/hooks/`, real hooks from
//! Forklift, MTV, MTC and kubectl-mtv documentation) that Ansible accepts is run for real by
//! the hook-runner binary, as Forklift runs a hook: in the simulated pod, against a lab systemd
//! VM reached over SSH and the lab Kubernetes API server, with Forklift's `plan.yml` and a
//! vSphere `workload.yml` whose `vm.ipaddress` is the VM's address.
//!
//! The API server holds what the hooks read: the VM's root key as the Secrets `privkey`
//! (the MTV docs hook, `{namespace}` filled in as the docs render it) and `ssh-credentials` in
//! `konveyor-forklift` (the Forklift docs hook), the kubectl-mtv guide's Secrets in `migration`,
//! and the hook's own Pod (`HOSTNAME` of the pod) in `openshift-migration` (the MTC docs hook).
//! The pod's service account may read exactly those, and create ConfigMaps in
//! `migration-backups` (where the guide's backup hook would write).
//!
//! Each playbook's expected outcome is what ansible-playbook (ansible-core 2.18) does with the
//! same inputs: several corpus hooks are "realistic but broken" (variables the real Forklift
//! files do not have), and they fail as Ansible fails them, at the same task. The recap counts
//! and the effects on the VM and in the API server are checked.
//!
//! Playbooks Ansible rejects before running anything are listed in [`REJECTED_BY_ANSIBLE`]
//! with the reason; hook-runner must reject them too. Playbooks whose modules this build lacks
//! are listed in [`NEEDS_MODULE`]: while the module is missing, hook-runner must reject them at
//! load naming it (and the test says loudly that they did not run); once it exists they run here.
//!
//! Without the corpus (the repository alone) the test is not run and says so with the lab's
//! NOT RUN banner.

use crate::common;

use common::*;
use lab::kube_api::{service_account, KubeApi, Rule};
use lab::pod::PodOutput;
use lab::vm::Vm;
use serde_json::json;
use std::time::Instant;

/// Playbooks ansible-playbook refuses at load, and why.
const REJECTED_BY_ANSIBLE: &[(&str, &str)] = &[
    (
        "forklift-issue956-windows-bring-disks-online.yml",
        "Windows-only: `win_shell` is no module of ansible-core (it needs the ansible.windows \
         collection and a WinRM connection)",
    ),
    (
        "kubectl-mtv-guide-error-handling.yml",
        "a documentation skeleton: the tasks \"Send failure notification\" and \"Cleanup \
         operations\" have no module",
    ),
    (
        "kubectl-mtv-guide-secret-access.yml",
        "a documentation skeleton: the task \"Use credentials securely\" has no module",
    ),
];

/// Playbooks Ansible runs that need a module hook-runner may not have in this build.
const NEEDS_MODULE: &[(&str, &str)] = &[
    ("forklift-docs-hooks-cloud-init.yml", "dnf"),
    ("kubectl-mtv-guide-shell-script-hook.yml", "script"),
];

/// Playbooks run whatever the build (their modules are all here).
const RUN: &[&str] = &[
    "forklift-console-plugin-e2e-hook-template.yml",
    "forklift-sample-2021-load-vars-absolute.yml",
    "kubectl-mtv-guide-db-backup-hook.yml",
    "kubectl-mtv-guide-simple-notification.yml",
    "mtc-docs-fail-module.yml",
    "mtc-docs-k8s-info-own-pod.yml",
    "mtv-docs-stop-mariadb.yml",
];

/// The name the console plugin's e2e test substitutes for `{{ hook_name }}`.
const HOOK_NAME: &str = "e2e-corpus-hook";
/// The pod's `HOSTNAME` in the lab pod (the MTC docs hook reads its own Pod by it).
const POD_NAME: &str = "hook-pod";

/// A corpus playbook as its source submits it: the placeholders the docs or the e2e test fill
/// in textually are filled in.
fn submitted(name: &str) -> String {
    let text = std::fs::read_to_string(crate::data::corpus_file(name))
        .unwrap_or_else(|e| panic!("reading {name}: {e}"));
    match name {
        "mtv-docs-stop-mariadb.yml" => text.replace("{namespace}", NS),
        "forklift-console-plugin-e2e-hook-template.yml" => {
            text.replace("{{ hook_name }}", HOOK_NAME)
        }
        _ => text,
    }
}

/// The API server with what the hooks read, and a token allowed exactly that.
fn cluster(vm: &Vm) -> (KubeApi, String) {
    let api = KubeApi::start();
    let key = std::fs::read(vm.root_key()).unwrap();
    api.add_secret(NS, "privkey", &[("key", &key)]);
    api.add_secret("konveyor-forklift", "ssh-credentials", &[("key", &key)]);
    api.add_secret(
        "migration",
        "db-credentials",
        &[("username", b"backup"), ("password", b"corpus-db-pass")],
    );
    api.add_secret(
        "migration",
        "monitoring-token",
        &[("token", b"corpus-monitoring-token")],
    );
    api.seed_object(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD_NAME, "namespace": "openshift-migration"},
        "spec": {"containers": [{"name": "hook", "image": "quay.io/kubev2v/hook-runner"}]},
    }))
    .expect("seeding the hook's Pod");
    let token = api.token(
        &service_account(NS, SA),
        &[
            Rule::new(&["get"], &["secrets"])
                .in_namespace(NS)
                .named(&["privkey"]),
            Rule::new(&["get"], &["secrets"])
                .in_namespace("konveyor-forklift")
                .named(&["ssh-credentials"]),
            Rule::new(&["get"], &["secrets"])
                .in_namespace("migration")
                .named(&["db-credentials", "monitoring-token"]),
            Rule::new(&["get", "list"], &["pods"]).in_namespace("openshift-migration"),
            Rule::new(&["get", "create", "patch"], &["configmaps"])
                .in_namespace("migration-backups"),
        ],
    );
    (api, token)
}

/// One playbook's run in a fresh pod: its output, and the pod for looking at its files.
struct Ran {
    out: PodOutput,
    pod: HookPod,
}

impl Ran {
    fn context(&self) -> String {
        format!("{:#?}", self.out)
    }
}

fn run(name: &str, ip: &str, api: &KubeApi, token: &str) -> Ran {
    let pod = HookPod::new(&submitted(name), &workload_with_ip(ip), api, token);
    let out = pod.run(api, &FORKLIFT_ARGV);
    Ran { out, pod }
}

/// Exit code, recap (in ansible-playbook's host order) and ansible-runner's status of a run.
fn check_end(
    findings: &mut Findings,
    name: &str,
    ran: &Ran,
    code: i32,
    recap: &[(&str, [u32; 7])],
) {
    findings.eq(&format!("{name}: exit code"), Some(code), ran.out.code());
    let expected: Vec<String> = recap
        .iter()
        .map(|(host, counts)| recap_line(host, *counts).trim_end().to_string())
        .collect();
    findings.eq(
        &format!("{name}: PLAY RECAP"),
        expected,
        recap_lines(&ran.out.stdout),
    );
    let status = if code == 0 { "successful" } else { "failed" };
    let artifacts = only_artifacts_dir(&ran.pod.path("tmp/runner"));
    check_outcome(
        findings,
        &artifacts,
        &ran.out.termination_message,
        status,
        code,
    );
}

fn check_output(findings: &mut Findings, name: &str, ran: &Ran, needle: &str) {
    findings.check(ran.out.stdout.contains(needle), || {
        format!(
            "{name}: the console does not show {needle:?}:\n{}",
            ran.context()
        )
    });
}

/// ConfigMaps the API server holds in `namespace`.
fn config_maps(api: &KubeApi, namespace: &str) -> Vec<serde_json::Value> {
    api.objects("", "configmaps")
        .into_iter()
        .filter(|o| o["metadata"]["namespace"] == namespace)
        .collect()
}

fn vm_text(vm: &Vm, command: &str) -> String {
    String::from_utf8_lossy(&vm.exec(command).stdout)
        .trim()
        .to_string()
}

/// The corpus files, by name.
fn corpus_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(crate::data::corpus_file(""))
        .expect("the corpus dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

/// The message hook-runner's loader gives for a playbook it refuses, if it refuses it.
fn load_error(name: &str, text: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    hook_runner::playbook::load_playbook(&path)
        .err()
        .map(|e| e.message)
}

fn not_run_banner(name: &str, why: &str) {
    let bar = "!".repeat(78);
    let banner = format!("\n{bar}\n!!! CORPUS PLAYBOOK NOT RUN: {name}\n!!! {why}\n{bar}\n\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), banner.as_bytes());
}

#[test]
fn e2e_every_corpus_hook_ansible_accepts_runs_against_a_vm_and_the_api_server() {
    lab::prologue!(
        test,
        crate::data::corpus_dir(test).is_some() && vm_and_pod_prerequisites(test)
    );
    let started = Instant::now();
    let mut findings = Findings::default();

    // Every corpus file is accounted for: a new one must be classified here.
    let mut classified: Vec<String> = RUN
        .iter()
        .chain(NEEDS_MODULE.iter().map(|(n, _)| n))
        .chain(REJECTED_BY_ANSIBLE.iter().map(|(n, _)| n))
        .map(|n| n.to_string())
        .collect();
    classified.sort();
    assert_eq!(
        corpus_files(),
        classified,
        "the corpus changed: classify each playbook"
    );

    // What Ansible refuses, hook-runner refuses before running anything.
    for (name, why) in REJECTED_BY_ANSIBLE {
        findings.check(load_error(name, &submitted(name)).is_some(), || {
            format!("{name} loads, but Ansible rejects it: {why}")
        });
    }

    let vm = Vm::boot().expect("the lab VM boots");
    assert_eq!(
        vm.exec_ok("systemctl is-active mariadb"),
        "active",
        "MariaDB must run before the hooks"
    );
    let ip = vm.address().to_string();
    let (api, token) = cluster(&vm);

    // The console plugin's e2e hook, its name filled in: one debug task.
    let name = "forklift-console-plugin-e2e-hook-template.yml";
    let ran = run(name, &ip, &api, &token);
    check_end(
        &mut findings,
        name,
        &ran,
        0,
        &[("localhost", [2, 0, 0, 0, 0, 0, 0])],
    );
    check_output(&mut findings, name, &ran, &format!("PLAY [{HOOK_NAME}]"));
    check_output(
        &mut findings,
        name,
        &ran,
        &format!("Executing hook: {HOOK_NAME}"),
    );

    // The 2021 sample: plan and workload read from the ConfigMap's absolute mount path.
    let name = "forklift-sample-2021-load-vars-absolute.yml";
    let ran = run(name, &ip, &api, &token);
    check_end(
        &mut findings,
        name,
        &ran,
        0,
        &[("localhost", [3, 0, 0, 0, 0, 0, 0])],
    );

    // The guide's backup hook: plan.yml is the Plan's spec, without `metadata`, so the
    // backup directory task fails on it; nothing is written to the API server.
    let name = "kubectl-mtv-guide-db-backup-hook.yml";
    let ran = run(name, &ip, &api, &token);
    check_end(
        &mut findings,
        name,
        &ran,
        2,
        &[("localhost", [3, 0, 0, 1, 0, 0, 0])],
    );
    check_output(&mut findings, name, &ran, "has no attribute 'metadata'");
    findings.eq(
        &format!("{name}: ConfigMaps in migration-backups"),
        0,
        config_maps(&api, "migration-backups").len(),
    );

    // The guide's notification: it never loads `workload`, so its one task fails on it.
    let name = "kubectl-mtv-guide-simple-notification.yml";
    let ran = run(name, &ip, &api, &token);
    check_end(
        &mut findings,
        name,
        &ran,
        2,
        &[("localhost", [1, 0, 0, 1, 0, 0, 0])],
    );
    check_output(&mut findings, name, &ran, "'workload' is undefined");

    // MTC's fail example: fails on purpose, with its message.
    let name = "mtc-docs-fail-module.yml";
    let ran = run(name, &ip, &api, &token);
    check_end(
        &mut findings,
        name,
        &ran,
        2,
        &[("localhost", [1, 0, 0, 1, 0, 0, 0])],
    );
    check_output(&mut findings, name, &ran, "Cause a failure");

    // MTC's k8s_info example: the hook reads its own Pod by HOSTNAME with the pod's token.
    let name = "mtc-docs-k8s-info-own-pod.yml";
    api.clear_requests();
    let ran = run(name, &ip, &api, &token);
    check_end(
        &mut findings,
        name,
        &ran,
        0,
        &[("localhost", [2, 0, 0, 0, 0, 0, 0])],
    );
    check_output(
        &mut findings,
        name,
        &ran,
        &format!("\"msg\": \"{POD_NAME}\""),
    );
    let path = format!("/api/v1/namespaces/openshift-migration/pods/{POD_NAME}");
    let reads = requests_to(&api, "GET", &path);
    findings.check(
        reads.iter().any(|r| {
            r.status == 200 && r.header("authorization") == Some(&*format!("Bearer {token}"))
        }),
        || format!("{name}: no authorised GET {path}: {:#?}", api.requests()),
    );

    // The MTV docs hook: the key from the Secret, MariaDB stopped on the VM, a file written.
    let name = "mtv-docs-stop-mariadb.yml";
    let ran = run(name, &ip, &api, &token);
    check_end(
        &mut findings,
        name,
        &ran,
        0,
        &[
            (&ip, [3, 2, 0, 0, 0, 0, 0]),
            ("localhost", [5, 3, 0, 0, 0, 0, 0]),
        ],
    );
    findings.eq(
        &format!("{name}: MariaDB on the VM"),
        "inactive".to_string(),
        vm_text(&vm, "systemctl is-active mariadb"),
    );
    findings.eq(
        &format!("{name}: /premigration.txt on the VM"),
        "Migration from boston of vm-2861 has finished".to_string(),
        vm_text(&vm, "cat /premigration.txt"),
    );
    findings.eq(
        &format!("{name}: /premigration.txt mode"),
        "644".to_string(),
        vm_text(&vm, "stat -c %a /premigration.txt"),
    );
    findings.eq(
        &format!("{name}: ~/.ssh/id_rsa mode in the pod"),
        0o600,
        mode_of(&ran.pod.path("home/runner/.ssh/id_rsa")),
    );

    for (name, module) in NEEDS_MODULE {
        if hook_runner::modules::lookup(module).is_none() {
            // Not run yet: hook-runner refuses it at load, naming the module, before any effect.
            let message = load_error(name, &submitted(name)).unwrap_or_default();
            findings.check(
                message.starts_with(&format!("couldn't resolve module/action '{module}'")),
                || format!("{name}: expected a load error naming '{module}', got {message:?}"),
            );
            not_run_banner(
                name,
                &format!("hook-runner has no `{module}` module in this build"),
            );
            continue;
        }
        match *name {
            "forklift-docs-hooks-cloud-init.yml" => {
                cloud_init(&mut findings, &vm, &ip, &api, &token)
            }
            "kubectl-mtv-guide-shell-script-hook.yml" => {
                shell_script(&mut findings, &ip, &api, &token)
            }
            other => panic!("no expectations for {other}"),
        }
    }

    eprintln!(
        "e2e: corpus run in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    findings.finish(&format!("VM console log: {}", vm.console_log().display()));
}

/// The Forklift docs hook: play 1 reads the key and adds the VM; play 2's `dnf` fails on the
/// Debian VM (it has no dnf), so the test file that follows is never written.
fn cloud_init(findings: &mut Findings, vm: &Vm, ip: &str, api: &KubeApi, token: &str) {
    let name = "forklift-docs-hooks-cloud-init.yml";
    let ran = run(name, ip, api, token);
    check_end(
        findings,
        name,
        &ran,
        2,
        &[
            (ip, [1, 0, 0, 1, 0, 0, 0]),
            ("localhost", [8, 3, 0, 0, 0, 0, 0]),
        ],
    );
    findings.eq(
        &format!("{name}: /test.txt on the VM"),
        "absent".to_string(),
        vm_text(vm, "test -e /test.txt && echo present || echo absent"),
    );
    findings.check(ran.pod.path("home/runner/.ssh/id_rsa").is_file(), || {
        format!("{name}: no ~/.ssh/id_rsa in the pod")
    });
}

/// The guide's script hook: its script text uses `workload.vm.name`, which the real
/// workload.yml lacks, so the task fails before the script reaches anything.
fn shell_script(findings: &mut Findings, ip: &str, api: &KubeApi, token: &str) {
    let name = "kubectl-mtv-guide-shell-script-hook.yml";
    let ran = run(name, ip, api, token);
    check_end(
        findings,
        name,
        &ran,
        2,
        &[("localhost", [2, 0, 0, 1, 0, 0, 0])],
    );
    check_output(findings, name, &ran, "has no attribute 'name'");
    findings.check(!ran.out.stdout.contains("corpus-monitoring-token"), || {
        format!("{name}: the monitoring token is printed")
    });
}
