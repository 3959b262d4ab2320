//! Remote-module paths through the engine: command/shell over the local connection,
//! environment, check mode, delegate_to, unreachable hosts (exit 4), ignore_unreachable,
//! cancellation (exit 99) and dry-run.

use crate::engine_common;
use engine_common::*;
use hook_runner::engine::{run_playbook_with_cancel, Cancel, RunOptions};
use hook_runner::report::Status;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn command_and_shell_through_the_local_connection() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: cmd
      command: echo hello world
      register: c
    - name: sh
      shell: "echo $GREETING; exit 3"
      environment:
        GREETING: hi there
      register: s
      ignore_errors: true
    - name: check
      debug:
        msg: "{{ c.stdout }}|{{ s.stdout_lines }}|{{ s.rc }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.result("cmd", "localhost").0, Status::Changed);
    assert_eq!(out.result("sh", "localhost").0, Status::Ignored);
    assert_eq!(out.debug_msg("check"), json!("hello world|['hi there']|3"));
}

#[tokio::test]
async fn delegate_to_localhost_runs_on_the_controller() {
    let out = run_with_inventory(
        r#"
- hosts: vm
  gather_facts: false
  tasks:
    - name: delegated
      command: echo delegated
      delegate_to: localhost
      register: d
    - name: check
      debug:
        msg: "{{ d.stdout }} {{ inventory_hostname }}"
"#,
        // The host itself is unreachable: only delegated tasks can run.
        "vm ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\n",
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.result("check", "vm").1["msg"], json!("delegated vm"));
}

#[tokio::test]
async fn unreachable_host_exits_4_and_leaves_the_play() {
    let started = Instant::now();
    let out = run_with_inventory(
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: touch
      command: "true"
    - name: next
      debug: msg=x
"#,
        "dead ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\nalive ansible_connection=local\n",
    )
    .await;
    assert_eq!(out.rc, 4, "{:#?}", out.events);
    assert_eq!(out.result("touch", "dead").0, Status::Unreachable);
    let next: Vec<_> = out.results("next").into_iter().map(|(h, _, _)| h).collect();
    assert_eq!(next, vec!["alive"]);
    assert_eq!(out.stats("dead").unreachable, 1);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn ignore_unreachable_keeps_the_host() {
    let out = run_with_inventory(
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: touch
      command: "true"
      ignore_unreachable: true
    - name: next
      debug: msg=x
"#,
        "dead ansible_host=127.0.0.1 ansible_port=1 ansible_user=nobody\n",
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.results("next").len(), 1);
    let s = out.stats("dead");
    assert_eq!((s.ok, s.ignored, s.unreachable), (2, 1, 0));
}

#[tokio::test]
async fn cancel_stops_the_run_with_99() {
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("playbook.yml");
    std::fs::write(
        &pb,
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: long\n      command: sleep 30\n    - name: after\n      debug: msg=x\n",
    )
    .unwrap();
    let opts = RunOptions {
        playbook: pb,
        ..RunOptions::default()
    };
    let reporter = Collect::default();
    let cancel = Cancel::new();
    let trigger = cancel.clone();
    let started = Instant::now();
    let (rc, _) = tokio::join!(
        run_playbook_with_cancel(&opts, &reporter, cancel),
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.cancel();
        }
    );
    assert_eq!(rc, 99);
    assert!(started.elapsed() < Duration::from_secs(10));
    let events = reporter.0.into_inner().unwrap();
    assert!(!format!("{events:?}").contains("name: \"after\""));
}

#[tokio::test]
async fn dry_run_shows_remote_tasks_and_runs_controller_ones() {
    let out = run_files(
        &[(
            "playbook.yml",
            r#"
- hosts: localhost
  tasks:
    - name: fact
      set_fact:
        path: /tmp/does-not-matter
    - name: remote
      command: "rm -rf {{ path }}"
      register: r
    - name: after
      debug:
        msg: "{{ r.dry_run }} {{ ansible_facts.hostname }}"
"#,
        )],
        dry_run,
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (status, r) = out.result("remote", "localhost");
    assert_eq!(status, Status::Ok);
    assert_eq!(r["dry_run"], json!(true));
    assert_eq!(r["would_run"]["module"], json!("ansible.builtin.command"));
    assert_eq!(
        r["would_run"]["args"]["_raw_params"],
        json!("rm -rf /tmp/does-not-matter")
    );
    assert_eq!(out.debug_msg("after"), json!("True localhost"));
}

#[tokio::test]
async fn dry_run_still_fails_on_undefined_variables() {
    let out = run_files(
        &[("playbook.yml", "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: remote\n      command: \"echo {{ nope }}\"\n")],
        dry_run,
    )
    .await;
    assert_eq!(out.rc, 2);
    let (_, r) = out.result("remote", "localhost");
    assert!(r["msg"].as_str().unwrap().contains("'nope' is undefined"));
}
