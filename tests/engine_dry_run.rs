//! Dry-run of the corpus hooks with Forklift's real input files: controller tasks run,
//! remote tasks are shown (`would_run`), and what would fail fails.

use crate::engine_common;
use engine_common::*;
use hook_runner::report::Status;
use serde_json::json;

async fn dry_run_hook(playbook: &str) -> Outcome {
    let plan = data::read_forklift("plan.yml");
    let workload = data::read_forklift("vsphere.workload.yml");
    run_files(
        &[
            ("playbook.yml", playbook),
            ("plan.yml", &plan),
            ("workload.yml", &workload),
        ],
        dry_run,
    )
    .await
}

#[tokio::test]
async fn mtv_docs_hook_dry_run_shows_what_would_run_on_the_vm() {
    let test = lab::test_name!();
    let Some(playbook) = corpus_hook(test, "mtv-docs-stop-mariadb.yml") else {
        return;
    };
    let playbook = playbook.replace("{namespace}", "openshift-mtv");
    let out = dry_run_hook(&playbook).await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (status, r) = out.result("Stop MariaDB", "10.10.20.31");
    assert_eq!(status, Status::Ok);
    assert_eq!(r["would_run"]["module"], json!("ansible.builtin.service"));
    assert_eq!(r["would_run"]["args"]["name"], json!("mariadb"));
    assert_eq!(r["would_run"]["args"]["state"], json!("stopped"));
    let (_, copy) = out.result("Create Test File", "10.10.20.31");
    assert_eq!(
        copy["would_run"]["args"]["content"],
        json!("Migration from boston of vm-2861 has finished\n")
    );
    // The key comes from a clearly marked placeholder Secret.
    let (_, key) = out.result("Create SSH key", "localhost");
    assert!(key["would_run"]["args"]["content"]
        .as_str()
        .unwrap()
        .contains("placeholder"));
}

#[tokio::test]
async fn guide_hook_with_a_wrong_variable_path_fails_naming_it() {
    let test = lab::test_name!();
    let Some(playbook) = corpus_hook(test, "kubectl-mtv-guide-simple-notification.yml") else {
        return;
    };
    let playbook = playbook.replace(
        "- hosts: localhost",
        "- hosts: localhost\n  vars_files: [workload.yml]",
    );
    let out = dry_run_hook(&playbook).await;
    assert_eq!(out.rc, 2);
    let (status, r) = out.result("Send notification", "localhost");
    assert_eq!(status, Status::Failed);
    let msg = r["msg"].as_str().unwrap();
    assert!(
        msg.contains("The task includes an option with an undefined variable"),
        "{msg}"
    );
    assert!(msg.contains("name"), "{msg}");
}

#[tokio::test]
async fn fail_module_hook_exits_2() {
    let Some(playbook) = corpus_hook("fail_module_hook_exits_2", "mtc-docs-fail-module.yml") else {
        return;
    };
    let out = dry_run_hook(&playbook).await;
    assert_eq!(out.rc, 2);
    assert_eq!(
        out.result("fail", "localhost").1["msg"],
        json!("Cause a failure")
    );
}

#[tokio::test]
async fn getent_gives_placeholder_facts_in_dry_run() {
    let out = dry_run_hook(
        r#"
- hosts: localhost
  tasks:
    - getent:
        database: passwd
        key: "{{ ansible_user_id }}"
        split: ':'
    - name: home
      debug:
        msg: "{{ ansible_facts.getent_passwd[ansible_user_id][4] }}"
"#,
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("home"), json!("/root"));
}

#[tokio::test]
async fn untemplated_hook_name_keeps_the_raw_play_name_and_fails_in_the_task() {
    // As ansible-core 2.18: an undefined variable in a play `name` is not an error (the
    // header shows the text as written); the debug task that uses it then fails: exit 2.
    let test = lab::test_name!();
    let Some(template) = corpus_hook(test, "forklift-console-plugin-e2e-hook-template.yml") else {
        return;
    };
    let out = dry_run_hook(&template).await;
    assert_eq!(out.rc, 2, "{:#?}", out.events);
    let (_, r) = out.result("Log migration hook execution", "localhost");
    let msg = r["msg"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with(
            "The task includes an option with an undefined variable.. 'hook_name' is undefined"
        ),
        "{msg}"
    );
    assert!(
        out.events.iter().any(|e| matches!(e, hook_runner::report::Event::PlayStart { name, .. } if name == "{{ hook_name }}")),
        "the play header shows the raw name: {:#?}",
        out.events
    );
    let filled = template.replace("{{ hook_name }}", "my-hook");
    let out = dry_run_hook(&filled).await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(
        out.debug_msg("Log migration hook execution"),
        json!("Executing hook: my-hook")
    );
}

#[tokio::test]
async fn absolute_hook_mount_paths_read_from_the_hook_dir_and_would_run_shows_given_args() {
    // `/tmp/hook/plan.yml` is the ConfigMap mount in the pod: a dry-run reads it from the
    // hook directory it was given (here /tmp/hook does not hold these files).
    let test = lab::test_name!();
    if let Some(sample) = corpus_hook(test, "forklift-sample-2021-load-vars-absolute.yml") {
        let out = dry_run_hook(&sample).await;
        assert_eq!(out.rc, 0, "{:#?}", out.events);
        assert_eq!(out.result("Load Plan", "localhost").0, Status::Ok);
    }
    let playbook = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - include_vars:
        file: /tmp/hook/plan.yml
        name: plan
    - name: remote
      command: echo {{ plan.targetnamespace }}
      delegate_to: 10.0.0.9
"#;
    let out = dry_run_hook(playbook).await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (_, r) = out.result("remote", "localhost");
    // Only what the task set, templated: no module defaults (chdir, creates, ...).
    let args = r["would_run"]["args"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        args.keys().collect::<Vec<_>>(),
        vec!["_raw_params"],
        "{args:?}"
    );
    assert_eq!(args["_raw_params"], json!("echo konveyor-forklift"));
}

#[tokio::test]
async fn dry_run_lists_the_keys_next_to_a_missing_one() {
    let playbook = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - include_vars:
        file: workload.yml
        name: workload
    - name: Send notification
      debug:
        msg: "Migration hook executed for {{ workload.vm.name }}"
"#;
    let out = dry_run_hook(playbook).await;
    assert_eq!(out.rc, 2, "{:#?}", out.events);
    let (_, r) = out.result("Send notification", "localhost");
    let msg = r["msg"].as_str().unwrap_or_default();
    // Ansible's text first, unchanged, then the hint line.
    assert!(
        msg.starts_with("The task includes an option with an undefined variable.. 'dict object' has no attribute 'name'"),
        "{msg}"
    );
    let hint = msg.lines().last().unwrap_or_default();
    assert!(
        hint.starts_with(
            "hook-runner dry-run: `workload.vm.name` does not exist; `workload.vm` has: "
        ),
        "{msg}"
    );
    assert!(hint.contains("vm1") && hint.contains("ipaddress"), "{msg}");
}
