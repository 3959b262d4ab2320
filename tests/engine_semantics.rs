//! ansible-core 2.18 semantics the engine keeps, end to end on localhost (local connection):
//! - registered results and `set_fact` values are data: text that holds `{{ ... }}` is never
//!   templated again, directly or through `hostvars`;
//! - `meta: flush_handlers` honours `when` per host, and a handler failing during a flush
//!   inside a block is a failure of the block (its `rescue` runs); hosts running a block's
//!   `always` after a failure still get their handlers flushed there;
//! - forms Ansible refuses as handlers (a block inside a handler block, roles,
//!   `flush_handlers`);
//! - module arguments the module refuses: refused at load time (nothing runs), unless the task
//!   handles its own failure, when it fails at run time with the module's message;
//! - a lone `{{ expr }}` keeps its native type; text around a template gives a string.

mod engine_common;
use engine_common::*;
use hook_runner::report::{Event, Status};
use serde_json::json;

/// A two-host local inventory (`A`, `B`) beside the playbook.
const TWO_HOSTS: &str = "[two]\nA\nB\n\n[two:vars]\nansible_connection=local\n";

async fn run_two_hosts(playbook: &str) -> Outcome {
    run_with_inventory(playbook, TWO_HOSTS).await
}

/// `msg` of a debug task on `host`.
fn msg_on(out: &Outcome, task: &str, host: &str) -> serde_json::Value {
    out.result(task, host)
        .1
        .get("msg")
        .cloned()
        .unwrap_or_default()
}

// ---------------------------------------------------------------- registered values are data

#[tokio::test]
async fn registered_and_set_fact_values_are_never_templated_again() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("CANARY");
    let payload = dir.path().join("payload.txt");
    let text = format!("{{{{ lookup('pipe', 'touch {}') }}}}", canary.display());
    std::fs::write(&payload, &text).unwrap();
    let playbook = format!(
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: output that looks like a template
      command: cat {payload}
      register: out
    - name: copy it
      set_fact:
        copied: "{{{{ out.stdout }}}}"
    - name: direct
      debug:
        msg: "{{{{ out.stdout }}}}"
    - name: through hostvars
      debug:
        msg: "{{{{ hostvars[inventory_hostname].out.stdout }}}}"
    - name: through hostvars item access
      debug:
        msg: "{{{{ hostvars['localhost']['out']['stdout'] }}}}"
    - name: set_fact copy
      debug:
        msg: "{{{{ copied }}}}"
    - name: set_fact copy through hostvars
      debug:
        msg: "{{{{ hostvars.localhost.copied }}}}"
    - name: through vars
      debug:
        msg: "{{{{ vars['copied'] }}}}"
"#,
        payload = payload.display()
    );
    let out = run(&playbook).await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    for task in [
        "direct",
        "through hostvars",
        "through hostvars item access",
        "set_fact copy",
        "set_fact copy through hostvars",
        "through vars",
    ] {
        assert_eq!(out.debug_msg(task), json!(text), "{task}");
    }
    assert!(
        !canary.exists(),
        "a registered value was templated: the lookup ran"
    );
}

#[tokio::test]
async fn play_vars_seen_through_hostvars_stay_lazy() {
    // Only task-produced values are data: a play variable that is a template is still one.
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  vars:
    base: 40
    answer: "{{ base + 2 }}"
  tasks:
    - name: lazy
      debug:
        msg: "{{ hostvars['localhost'].answer }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("lazy"), json!(42));
}

// ---------------------------------------------------------------- handlers and flushes

#[tokio::test]
async fn flush_handlers_with_a_false_condition_does_not_flush() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: change
      command: "true"
      notify: handler
    - meta: flush_handlers
      when: false
    - name: after the skipped flush
      debug:
        msg: after
  handlers:
    - name: handler
      debug:
        msg: handler ran
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let names = out.task_names();
    let after = names.iter().position(|n| n == "after the skipped flush");
    let handler = names.iter().position(|n| n == "handler");
    assert!(after < handler && handler.is_some(), "{names:?}");
}

#[tokio::test]
async fn flush_handlers_runs_only_for_hosts_whose_condition_holds() {
    let out = run_two_hosts(
        r#"
- hosts: two
  gather_facts: false
  tasks:
    - name: change
      command: "true"
      notify: handler
    - meta: flush_handlers
      when: inventory_hostname == 'A'
    - name: marker
      debug:
        msg: after
  handlers:
    - name: handler
      debug:
        msg: "{{ inventory_hostname }}"
"#,
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let handler_runs: Vec<(String, usize)> = out
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Event::HostResult { host, task, .. } if task.name == "handler" => {
                Some((host.clone(), i))
            }
            _ => None,
        })
        .collect();
    let marker_at = out
        .events
        .iter()
        .position(|e| matches!(e, Event::TaskStart { task } if task.name == "marker"))
        .unwrap();
    assert_eq!(handler_runs.len(), 2, "{handler_runs:?}");
    let (a, b) = (&handler_runs[0], &handler_runs[1]);
    assert_eq!((a.0.as_str(), b.0.as_str()), ("A", "B"));
    assert!(
        a.1 < marker_at && b.1 > marker_at,
        "A flushed early, B at the end"
    );
}

#[tokio::test]
async fn a_handler_failing_in_a_flush_inside_a_block_goes_to_rescue() {
    let out = run_two_hosts(
        r#"
- hosts: two
  gather_facts: false
  tasks:
    - block:
        - name: change
          command: "true"
          notify: sometimes_fail
        - meta: flush_handlers
        - name: not after a failed flush
          debug:
            msg: block rest
      rescue:
        - name: rescue
          debug:
            msg: "rescued {{ ansible_failed_task.name }}"
      always:
        - name: always
          debug:
            msg: always ran
    - name: both continue
      debug:
        msg: continued
  handlers:
    - name: sometimes_fail
      fail:
        msg: handler broke
      when: inventory_hostname == 'A'
"#,
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.result("sometimes_fail", "A").0, Status::Failed);
    assert_eq!(msg_on(&out, "rescue", "A"), json!("rescued sometimes_fail"));
    assert!(out.results("rescue").iter().all(|(h, _, _)| h == "A"));
    assert_eq!(out.results("not after a failed flush").len(), 1);
    assert_eq!(out.results("always").len(), 2);
    assert_eq!(out.results("both continue").len(), 2);
    assert_eq!(out.stats("A").rescued, 1);
    assert_eq!(out.stats("A").failed, 0);
}

#[tokio::test]
async fn handlers_notified_in_rescue_and_always_are_flushed_there() {
    let out = run_two_hosts(
        r#"
- hosts: two
  gather_facts: false
  tasks:
    - block:
        - name: break A
          fail:
          when: inventory_hostname == 'A'
      rescue:
        - name: notify in rescue
          command: "true"
          notify: handler_rescue
        - meta: flush_handlers
        - name: break A again
          fail:
      always:
        - name: notify in always
          command: "true"
          notify: handler_always
        - meta: flush_handlers
  handlers:
    - name: handler_rescue
      debug:
        msg: handler ran in rescue
    - name: handler_always
      debug:
        msg: handler ran in always
"#,
    )
    .await;
    assert_eq!(out.rc, 2, "{:#?}", out.events);
    let hosts =
        |task: &str| -> Vec<String> { out.results(task).into_iter().map(|(h, _, _)| h).collect() };
    assert_eq!(hosts("handler_rescue"), vec!["A"]);
    // A failed in rescue, yet it runs `always` and gets its handler flushed there.
    assert_eq!(hosts("handler_always"), vec!["A", "B"]);
}

#[tokio::test]
async fn a_handler_failure_in_a_flush_with_any_errors_fatal_stops_every_host() {
    let out = run_two_hosts(
        r#"
- hosts: two
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: change
      command: "true"
      notify: test_handler
    - meta: flush_handlers
    - name: should not get here
      debug:
        msg: SHOULD NOT GET HERE
  handlers:
    - name: test_handler
      command: "{{ (inventory_hostname == 'A') | ternary('true', 'false') }}"
"#,
    )
    .await;
    assert_eq!(out.rc, 2, "{:#?}", out.events);
    assert!(out.results("should not get here").is_empty());
}

#[tokio::test]
async fn a_missing_handler_fails_the_run_only_when_its_host_flushes() {
    // The notifying host fails before any flush: no "handler not found" error, just exit 2.
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: notify nothing
      command: "true"
      notify: no such handler
    - name: break
      fail:
        msg: broken
"#)
    .await;
    assert_eq!(out.rc, 2, "{:#?}", out.events);
    assert_eq!(out.end_error(), None);
}

#[tokio::test]
async fn a_meta_handler_is_announced_as_a_handler() {
    let playbook = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: change
      command: "true"
      notify: noop_handler
  handlers:
    - name: noop_handler
      meta: noop
"#;
    let out = run(playbook).await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert!(out
        .events
        .iter()
        .any(|e| matches!(e, Event::HandlerStart { task } if task.name == "noop_handler")));
    let meta_lines = |out: &Outcome| -> Vec<String> {
        out.events
            .iter()
            .filter_map(|e| match e {
                Event::Output { line } if line.starts_with("META: ") => Some(line.clone()),
                _ => None,
            })
            .collect()
    };
    assert!(meta_lines(&out).is_empty(), "only at -vv");
    let vv = run_files(&[("playbook.yml", playbook)], |o| o.verbosity = 2).await;
    assert_eq!(meta_lines(&vv), vec!["META: noop"]);
}

#[tokio::test]
async fn forms_refused_as_handlers() {
    let nested_block = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - debug:
  handlers:
    - name: handler
      block:
        - name: fine, a handler block is what holds handlers anyway
          debug:
        - name: a block inside it is refused
          block:
            - debug:
"#;
    let out = run(nested_block).await;
    assert_eq!(out.rc, 4);
    let err = out.end_error().unwrap_or_default();
    assert!(
        err.contains("Using a block as a handler is not supported."),
        "{err}"
    );
    assert!(out.task_names().is_empty());

    let imported = run_tree(
        &[
            (
                "playbook.yml",
                "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug:\n  handlers:\n    - name: handler\n      import_tasks: handlers.yml\n",
            ),
            (
                "handlers.yml",
                "- name: handler\n  block:\n    - debug:\n    - block:\n        - debug:\n",
            ),
        ],
    )
    .await;
    assert_eq!(imported.rc, 4);
    assert!(imported
        .end_error()
        .unwrap_or_default()
        .contains("Using a block as a handler is not supported."));

    // A file a handler includes is checked when it is included.
    let included = run_tree(
        &[
            (
                "playbook.yml",
                "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - command: \"true\"\n      notify: handler\n  handlers:\n    - name: handler\n      include_tasks: handlers.yml\n",
            ),
            (
                "handlers.yml",
                "- name: handler\n  block:\n    - debug:\n    - block:\n        - debug:\n",
            ),
        ],
    )
    .await;
    assert_eq!(included.rc, 2, "{:#?}", included.events);
    let (status, r) = included.result("handler", "localhost");
    assert_eq!(status, Status::Failed);
    assert!(
        r["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("Using a block as a handler is not supported."),
        "{r:?}"
    );

    for action in ["include_role", "import_role"] {
        let out = run(&format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - command: \"true\"\n      notify: role_handler\n  handlers:\n    - name: role_handler\n      {action}:\n        name: does_not_matter\n"
        ))
        .await;
        assert_eq!(out.rc, 4, "{action}");
        let err = out.end_error().unwrap_or_default();
        assert!(
            err.contains(&format!("Using '{action}' as a handler is not supported.")),
            "{err}"
        );
    }

    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: change
      command: "true"
      notify: handler
  handlers:
    - name: handler
      meta: flush_handlers
"#)
    .await;
    assert_eq!(out.rc, 1);
    assert_eq!(
        out.end_error().as_deref(),
        Some("flush_handlers cannot be used as a handler")
    );
}

// ---------------------------------------------------------------- module arguments refused

const UNSUPPORTED: &str = "Unsupported parameters for (ansible.legacy.command) module: foo. Supported parameters include:";

#[tokio::test]
async fn an_unknown_parameter_is_refused_before_anything_runs() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: would run first
      debug:
        msg: ran
    - name: bad
      command:
        cmd: "true"
        foo: 1
"#)
    .await;
    assert_eq!(out.rc, 4);
    assert!(out.task_names().is_empty(), "{:?}", out.task_names());
    let err = out.end_error().unwrap_or_default();
    assert!(err.contains(UNSUPPORTED), "{err}");
}

#[tokio::test]
async fn an_unknown_parameter_on_a_task_that_handles_failure_fails_at_run_time() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: ignored
      command:
        cmd: "true"
        foo: 1
      ignore_errors: true
    - name: failed_when false
      command:
        cmd: "true"
        foo: 1
      register: r
      failed_when: false
    - name: registered message
      debug:
        msg: "{{ r.msg }}"
    - block:
        - name: rescued
          command:
            cmd: "true"
            foo: 1
      rescue:
        - name: rescuer
          debug:
            msg: "{{ ansible_failed_result.msg }}"
    - block:
        - name: in an ignoring block
          command: cmd="true" foo=1
      ignore_errors: true
    - name: still runs
      debug:
        msg: ran
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (status, r) = out.result("ignored", "localhost");
    assert_eq!(status, Status::Ignored);
    assert!(
        r["msg"]
            .as_str()
            .unwrap_or_default()
            .starts_with(UNSUPPORTED),
        "{r:?}"
    );
    assert_eq!(out.result("failed_when false", "localhost").0, Status::Ok);
    assert!(out
        .debug_msg("registered message")
        .as_str()
        .unwrap_or_default()
        .starts_with(UNSUPPORTED));
    assert_eq!(out.result("rescued", "localhost").0, Status::Failed);
    assert!(out
        .debug_msg("rescuer")
        .as_str()
        .unwrap_or_default()
        .starts_with(UNSUPPORTED));
    assert_eq!(
        out.result("in an ignoring block", "localhost").0,
        Status::Ignored
    );
    assert_eq!(out.debug_msg("still runs"), json!("ran"));
}

#[tokio::test]
async fn a_rescue_covers_the_block_section_only() {
    // The rescue section itself is not covered by its own block's rescue.
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: would run first
      debug:
        msg: ran
    - block:
        - debug:
      rescue:
        - name: bad in rescue
          command:
            cmd: "true"
            foo: 1
"#)
    .await;
    assert_eq!(out.rc, 4);
    assert!(out.task_names().is_empty());
}

// ---------------------------------------------------------------- native values

#[tokio::test]
async fn a_lone_expression_keeps_its_native_type() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  vars:
    n: 3
    flag: true
    text: "007"
    items: [1, 2]
  tasks:
    - {name: bare int, debug: {msg: "{{ n }}"}}
    - {name: bare bool, debug: {msg: "{{ flag }}"}}
    - {name: bare string of digits, debug: {msg: "{{ text }}"}}
    - {name: bare list, debug: {msg: "{{ items }}"}}
    - {name: arithmetic, debug: {msg: "{{ n + 1 }}"}}
    - {name: comparison, debug: {msg: "{{ n == 3 }}"}}
    - {name: list expression, debug: {msg: "{{ items + [3] }}"}}
    - {name: spaces around, debug: {msg: "  {{ n * 2 }}  "}}
    - {name: text around, debug: {msg: "n={{ n }}"}}
    - {name: two expressions, debug: {msg: "{{ n }}{{ n }}"}}
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let cases = [
        ("bare int", json!(3)),
        ("bare bool", json!(true)),
        ("bare string of digits", json!("007")),
        ("bare list", json!([1, 2])),
        ("arithmetic", json!(4)),
        ("comparison", json!(true)),
        ("list expression", json!([1, 2, 3])),
        ("text around", json!("n=3")),
        ("two expressions", json!("33")),
    ];
    for (task, expected) in cases {
        assert_eq!(out.debug_msg(task), expected, "{task}");
    }
    // Whitespace around a lone expression: the text keeps its spaces.
    assert_eq!(out.debug_msg("spaces around"), json!("  6  "));
}

// ---------------------------------------------------------------- accepted, never silently ignored

/// The warnings a run emitted, but for the implicit-localhost ones every inventory-less run has.
fn warnings(out: &Outcome) -> Vec<String> {
    out.events
        .iter()
        .filter_map(|e| match e {
            Event::Warning { message } if !message.contains("localhost") => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn keywords_hook_runner_does_not_implement_warn_once_per_task_that_inherits_them() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  module_defaults:
    ansible.builtin.command:
      chdir: /tmp
  tasks:
    - name: first
      debug:
        msg: one
    - block:
        - name: second
          debug:
            msg: two
      debugger: on_failed
      collections:
        - ansible.builtin
        - community.general
"#)
    .await;
    let w = warnings(&out);
    let about = |needle: &str| w.iter().filter(|m| m.contains(needle)).count();
    assert_eq!(
        about("does not implement module_defaults and ignores it"),
        1,
        "{w:#?}"
    );
    assert_eq!(
        about("does not implement module_defaults, debugger, collections (community.general)"),
        1,
        "{w:#?}"
    );
    assert_eq!(w.len(), 2, "one warning per task: {w:#?}");
}

#[tokio::test]
async fn known_collections_in_the_collections_keyword_do_not_warn() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  collections: [kubernetes.core, ansible.builtin]
  tasks:
    - debug:
        msg: hi
"#)
    .await;
    assert!(warnings(&out).is_empty(), "{:#?}", warnings(&out));
}

#[tokio::test]
async fn module_parameters_accepted_but_not_implemented_warn_in_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let out = run(&format!(
        r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: selinux and attributes
      file:
        path: {p}
        state: touch
        setype: tmp_t
        attributes: i
    - name: defaults only
      file:
        path: {p}
        state: touch
        unsafe_writes: false
"#,
        p = path.display()
    ))
    .await;
    let (_, r) = out.result("selinux and attributes", "localhost");
    assert_eq!(
        r["warnings"],
        json!(["ansible.builtin.file: hook-runner does not implement attributes, setype and ignores them"])
    );
    let (_, r) = out.result("defaults only", "localhost");
    assert!(r.get("warnings").is_none(), "{r:?}");
}

#[tokio::test]
async fn throttle_limits_how_many_hosts_run_the_task_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("lock");
    // mkdir is atomic: a second host inside the critical section at the same time fails.
    let playbook = |throttle: &str| {
        format!(
            r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: one at a time
      shell: mkdir {l} && sleep 0.3 && rmdir {l}
      {throttle}
"#,
            l = lock.display()
        )
    };
    let inventory = "[hosts]\nA\nB\nC\n\n[hosts:vars]\nansible_connection=local\n";
    let out = run_with_inventory(&playbook("throttle: 1"), inventory).await;
    for h in ["A", "B", "C"] {
        assert_eq!(out.result("one at a time", h).0, Status::Changed, "{h}");
    }
    // The control: without throttle the hosts overlap and at least one finds the lock taken.
    let out = run_with_inventory(&playbook(""), inventory).await;
    let failed = ["A", "B", "C"]
        .iter()
        .filter(|h| out.result("one at a time", h).0 == Status::Failed)
        .count();
    assert!(
        failed > 0,
        "the hosts did not run concurrently without throttle"
    );
}
