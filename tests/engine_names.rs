//! Task and handler names as ansible-core 2.18 treats them: a task's banner name is templated
//! with the play's variables (no host's) and shown as written when that fails; a handler's
//! name is templated the same way when it is first looked for, so `notify` finds it by its
//! rendered name; a notification is templated with the notifying host's variables.
//!
//! Each behaviour is checked on the real binary's console text (what a user sees) and, where
//! the engine's events carry it, on the events (what JSON and artifacts carry).

use crate::engine_common;
use engine_common::*;
use hook_runner::report::Event;

/// The names inside `TASK [...]` / `RUNNING HANDLER [...]` banners, in order.
fn banners(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| {
            let rest = l
                .strip_prefix("TASK [")
                .or_else(|| l.strip_prefix("RUNNING HANDLER ["))?;
            let end = rest.rfind("] ")?;
            Some(rest[..end].to_string())
        })
        .collect()
}

const NAMES_PLAYBOOK: &str = r#"
- hosts: localhost
  gather_facts: false
  vars:
    svc: nginx
    port: "{{ base_port + 1 }}"
    base_port: 8080
  tasks:
    - name: "restart {{ svc }} on {{ port }}"
      debug:
        msg: x
    - name: "from extra vars: {{ who }}"
      debug:
        msg: x
    - name: "a fact is not a play variable: {{ my_fact }}"
      set_fact:
        my_fact: later
    - name: "still raw after set_fact: {{ my_fact }}"
      debug:
        msg: "{{ my_fact }}"
    - name: "host variable: {{ inventory_hostname }}"
      debug:
        msg: x
    - name: "undefined stays raw: {{ nope }}"
      debug:
        msg: x
    - name: "task vars count: {{ tv }}"
      debug:
        msg: x
      vars:
        tv: seen
    - block:
        - name: "block vars count: {{ bv }}"
          debug:
            msg: x
      vars:
        bv: seen too
"#;

#[test]
fn task_banners_show_names_templated_with_play_variables_only() {
    let (rc, stdout, stderr) = run_binary(NAMES_PLAYBOOK, &["-e", "who=operator"]);
    assert_eq!(rc, 0, "{stdout}\n{stderr}");
    assert_eq!(
        banners(&stdout),
        vec![
            "restart nginx on 8081",
            "from extra vars: operator",
            "a fact is not a play variable: {{ my_fact }}",
            "still raw after set_fact: {{ my_fact }}",
            "host variable: {{ inventory_hostname }}",
            "undefined stays raw: {{ nope }}",
            "task vars count: seen",
            "block vars count: seen too",
        ],
        "{stdout}"
    );
}

#[tokio::test]
async fn events_carry_the_name_the_console_shows() {
    let out = run_files(&[("playbook.yml", NAMES_PLAYBOOK)], |o| {
        o.extra_vars = vec!["who=operator".into()];
    })
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let names = out.task_names();
    assert_eq!(names[0], "restart nginx on 8081");
    assert_eq!(names[5], "undefined stays raw: {{ nope }}");
    // Results are reported under the same name as the banner.
    let (status, _) = out.result("restart nginx on 8081", "localhost");
    assert_eq!(status, hook_runner::report::Status::Ok);
}

/// The task names of the `event` events of a `--log-format json` run, in order.
fn task_names_of(stdout: &str, event: &str) -> Vec<String> {
    json_events(stdout)
        .iter()
        .filter(|e| e["event"] == event)
        .map(|e| {
            e["event_data"]["task"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn json_events_carry_the_templated_name() {
    let (rc, stdout, stderr) = run_binary(
        NAMES_PLAYBOOK,
        &["-e", "who=operator", "--log-format", "json"],
    );
    assert_eq!(rc, 0, "{stdout}\n{stderr}");
    let started = task_names_of(&stdout, "playbook_on_task_start");
    assert_eq!(
        started.first().map(String::as_str),
        Some("restart nginx on 8081"),
        "{stdout}"
    );
    assert!(
        started.contains(&"undefined stays raw: {{ nope }}".to_string()),
        "{started:?}"
    );
    let ok_names = task_names_of(&stdout, "runner_on_ok");
    assert_eq!(
        ok_names.first().map(String::as_str),
        Some("restart nginx on 8081")
    );
}

#[test]
fn a_role_task_banner_keeps_the_role_prefix_and_sees_role_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "playbook.yml",
            "- hosts: localhost\n  gather_facts: false\n  roles:\n    - web\n",
        ),
        ("roles/web/defaults/main.yml", "site: example.org\n"),
        (
            "roles/web/tasks/main.yml",
            "- name: \"configure {{ site }}\"\n  debug:\n    msg: x\n",
        ),
    ];
    write_files(dir.path(), &files);
    let (rc, stdout, stderr) = run_binary_at(&dir.path().join("playbook.yml"), &[]);
    assert_eq!(rc, 0, "{stdout}\n{stderr}");
    assert_eq!(
        banners(&stdout),
        vec!["web : configure example.org"],
        "{stdout}"
    );
}

const HANDLER_PLAYBOOK: &str = r#"
- hosts: localhost
  gather_facts: false
  vars:
    svc: nginx
  tasks:
    - name: change something
      command: "true"
      notify: restart nginx
    - name: notify through a template
      command: "true"
      notify: "reload {{ svc }}"
  handlers:
    - name: "restart {{ svc }}"
      debug:
        msg: restarted
    - name: "reload {{ svc }}"
      debug:
        msg: reloaded
"#;

#[test]
fn a_templated_handler_name_is_notified_by_its_rendered_name() {
    let (rc, stdout, stderr) = run_binary(HANDLER_PLAYBOOK, &[]);
    assert_eq!(rc, 0, "{stdout}\n{stderr}");
    assert_eq!(
        banners(&stdout),
        vec![
            "change something",
            "notify through a template",
            "restart nginx",
            "reload nginx"
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains("RUNNING HANDLER [restart nginx]"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_handler_name_that_cannot_be_templated_is_unusable_with_a_warning() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: notify the plain one
      command: "true"
      notify: handler name
  handlers:
    - name: "handler name with {{ test_var }}"
      debug:
        msg: handler with var ran
    - name: handler name
      debug:
        msg: handler ran
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("handler name"), "handler ran");
    let warned = out.events.iter().any(|e| matches!(e, Event::Warning { message }
        if message.starts_with("Handler 'handler name with {{ test_var }}' is unusable because it has no listen topics")));
    assert!(warned, "{:#?}", out.events);
    // Notifying by the name it would have had finds nothing: the run fails at the flush.
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: notify the templated one
      command: "true"
      notify: handler name with myvar
    - name: still runs before the flush
      debug:
        msg: ran
  handlers:
    - name: "handler name with {{ test_var }}"
      debug:
        msg: handler with var ran
"#)
    .await;
    assert_eq!(out.rc, 1);
    assert_eq!(out.debug_msg("still runs before the flush"), "ran");
    assert_eq!(
        out.end_error().as_deref(),
        Some("The requested handler 'handler name with myvar' was not found in either the main handlers list nor in the listening handlers list")
    );
}

#[test]
fn a_handler_name_templated_with_extra_vars_is_found() {
    let playbook = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: notify
      command: "true"
      notify: handler name with myvar
  handlers:
    - name: "handler name with {{ test_var }}"
      debug:
        msg: handler with var ran
"#;
    let (rc, stdout, stderr) = run_binary(playbook, &["-e", "test_var=myvar"]);
    assert_eq!(rc, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("RUNNING HANDLER [handler name with myvar]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"msg\": \"handler with var ran\""),
        "{stdout}"
    );
}

#[tokio::test]
async fn role_handlers_answer_to_role_prefixed_names_and_topics_and_collection_roles_load() {
    let out = run_tree(
        &[
            (
                "playbook.yml",
                r#"
- hosts: localhost
  gather_facts: false
  roles:
    - web
    - ns.col.db
  tasks:
    - name: by role-prefixed name
      command: "true"
      notify: "web : restart"
    - meta: flush_handlers
    - name: by role-prefixed topic
      command: "true"
      notify: "web : reload"
    - meta: flush_handlers
    - name: by the collection role's FQCN and topic
      command: "true"
      notify: "ns.col.db : reload"
    - meta: flush_handlers
    - name: by the collection role's short name and topic
      command: "true"
      notify: "db : reload"
"#,
            ),
            ("roles/web/tasks/main.yml", ""),
            (
                "roles/web/handlers/main.yml",
                "- name: restart\n  debug:\n    msg: web restarted\n- name: web reloader\n  debug:\n    msg: web reloaded\n  listen: reload\n",
            ),
            (
                "collections/ansible_collections/ns/col/roles/db/tasks/main.yml",
                "- name: collection role task\n  debug:\n    msg: db\n",
            ),
            (
                "collections/ansible_collections/ns/col/roles/db/handlers/main.yml",
                "- name: db reloader\n  debug:\n    msg: db reloaded\n  listen: reload\n",
            ),
        ],
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(
        out.task_names(),
        vec![
            "ns.col.db : collection role task",
            "by role-prefixed name",
            "meta",
            "web : restart",
            "by role-prefixed topic",
            "meta",
            "web : web reloader",
            "by the collection role's FQCN and topic",
            "meta",
            "ns.col.db : db reloader",
            "by the collection role's short name and topic",
            "ns.col.db : db reloader",
        ]
    );
}
