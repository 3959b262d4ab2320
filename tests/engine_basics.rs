//! The engine through the local connection: variables, conditions, loops, register,
//! changed_when/failed_when, until, ignore_errors and exit codes.

use crate::engine_common;
use engine_common::*;
use hook_runner::report::Status;
use serde_json::json;

#[tokio::test]
async fn debug_set_fact_register_and_when() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  vars:
    greeting: "hello {{ name }}"
    name: world
  tasks:
    - name: say
      debug:
        msg: "{{ greeting }}"
    - name: remember
      set_fact:
        counter: 3
    - name: registered
      debug:
        msg: "v{{ counter + 1 }}"
      register: r
    - name: use register
      debug:
        msg: "{{ r.msg }}"
    - name: skipped
      debug:
        msg: never
      when: counter > 5
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("say"), json!("hello world"));
    assert_eq!(out.debug_msg("use register"), json!("v4"));
    let (status, r) = out.result("skipped", "localhost");
    assert_eq!(status, Status::Skipped);
    assert_eq!(r["skip_reason"], json!("Conditional result was False"));
    assert_eq!(r["false_condition"], json!("counter > 5"));
    let s = out.stats("localhost");
    assert_eq!((s.ok, s.skipped, s.failed), (4, 1, 0));
}

#[tokio::test]
async fn loops_with_control_and_registered_results() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: plain loop
      debug:
        msg: "{{ item }}"
      loop: [a, b]
      register: plain
    - name: with_items flattens once
      debug:
        msg: "{{ thing }} at {{ idx }}"
      with_items: [[1, 2], 3]
      loop_control:
        loop_var: thing
        index_var: idx
        label: "L{{ thing }}"
      register: flat
    - name: with_dict
      debug:
        msg: "{{ item.key }}={{ item.value }}"
      with_dict: {x: 1}
      register: d
    - name: when per item
      debug:
        msg: "{{ item }}"
      loop: [1, 2, 3]
      when: item != 2
      register: partial
    - name: empty loop
      debug:
        msg: nothing
      loop: []
    - name: show
      debug:
        msg: "{{ plain.results | map(attribute='msg') | list }} {{ flat.results | length }} {{ d.results[0].msg }} {{ partial.results[1].skipped }} {{ flat.results[2].ansible_loop_var }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("show"), json!("['a', 'b'] 3 x=1 True thing"));
    let labels: Vec<_> = out
        .items("with_items flattens once")
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert_eq!(labels, vec![json!("L1"), json!("L2"), json!("L3")]);
    let (_, partial) = out.result("when per item", "localhost");
    assert_eq!(partial["msg"], json!("All items completed"));
    assert_eq!(
        partial["results"][1]["skip_reason"],
        json!("Conditional result was False")
    );
    let (status, empty) = out.result("empty loop", "localhost");
    assert_eq!(status, Status::Skipped);
    assert_eq!(empty["skipped_reason"], json!("No items in the list"));
}

#[tokio::test]
async fn changed_when_failed_when_and_ignore_errors() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: forced change
      debug:
        msg: hi
      changed_when: true
    - name: failed by rule
      debug:
        msg: "bad"
      register: res
      failed_when: res.msg == 'bad'
      ignore_errors: true
    - name: after
      debug:
        msg: "{{ res.failed_when_result }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.result("forced change", "localhost").0, Status::Changed);
    let (status, r) = out.result("failed by rule", "localhost");
    assert_eq!(status, Status::Ignored);
    assert_eq!(r["failed_when_result"], json!(true));
    assert_eq!(out.debug_msg("after"), json!(true));
    let s = out.stats("localhost");
    assert_eq!((s.ok, s.changed, s.ignored, s.failed), (3, 1, 1, 0));
}

#[tokio::test]
async fn until_retries_counts_attempts() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: count
      set_fact:
        n: "{{ (n | default(0) | int) + 1 }}"
      register: r
      until: n | int >= 3
      retries: 5
      delay: 0
    - name: give up
      debug:
        msg: x
      register: g
      until: false
      retries: 2
      delay: 0
      ignore_errors: true
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (_, r) = out.result("count", "localhost");
    assert_eq!(r["attempts"], json!(3));
    let (status, g) = out.result("give up", "localhost");
    assert_eq!(status, Status::Ignored);
    // ansible-core reports the retries (2), not the runs (3), once they are exhausted.
    assert_eq!(g["attempts"], json!(2));
    let retries: Vec<u32> = out
        .events
        .iter()
        .filter_map(|e| match e {
            hook_runner::report::Event::Retry {
                task, retries_left, ..
            } if task.name == "give up" => Some(*retries_left),
            _ => None,
        })
        .collect();
    assert_eq!(retries, vec![2, 1]);
}

#[tokio::test]
async fn a_failure_stops_the_host_and_exits_2() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: boom
      fail:
        msg: broken
    - name: never
      debug:
        msg: no
- hosts: localhost
  gather_facts: false
  tasks:
    - name: later play
      debug:
        msg: no
"#)
    .await;
    assert_eq!(out.rc, 2);
    let (status, r) = out.result("boom", "localhost");
    assert_eq!(status, Status::Failed);
    assert_eq!(r["msg"], json!("broken"));
    assert!(!out.task_names().contains(&"never".to_string()));
    assert!(!out.task_names().contains(&"later play".to_string()));
    assert_eq!(out.stats("localhost").failed, 1);
}

#[tokio::test]
async fn undefined_variables_are_named() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: bad arg
      debug:
        msg: "{{ workload.vm.name }}"
      ignore_errors: true
    - name: bad when
      debug:
        msg: x
      when: nope
"#)
    .await;
    assert_eq!(out.rc, 2, "{:#?}", out.events);
    let (_, r) = out.result("bad arg", "localhost");
    let msg = r["msg"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "The task includes an option with an undefined variable.. 'workload' is undefined"
        ),
        "{msg}"
    );
    assert!(
        msg.ends_with("^ here\n"),
        "ends as Ansible's error text: {msg:?}"
    );
    assert!(msg.contains("workload"), "{msg}");
    assert!(msg.contains("The error appears to be in '"), "{msg}");
    let (_, w) = out.result("bad when", "localhost");
    let msg = w["msg"].as_str().unwrap();
    assert!(msg.starts_with("The conditional check 'nope' failed. The error was: error while evaluating conditional (nope): "), "{msg}");
    assert!(msg.contains("nope"), "{msg}");
}

#[tokio::test]
async fn no_log_censors_events_but_register_keeps_values() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: secret
      debug:
        msg: "s3cret"
      no_log: true
      register: s
    - name: reveal length
      debug:
        msg: "{{ s.msg | length }}"
"#)
    .await;
    assert_eq!(out.rc, 0);
    let (_, r) = out.result("secret", "localhost");
    assert_eq!(r["censored"], json!(hook_runner::engine::NO_LOG_MESSAGE));
    assert!(!format!("{:?}", out.events).contains("s3cret"));
    assert_eq!(out.debug_msg("reveal length"), json!(6));
}

#[tokio::test]
async fn extra_vars_win_and_omit_drops_arguments() {
    let out = run_files(
        &[(
            "playbook.yml",
            r#"
- hosts: localhost
  gather_facts: false
  vars:
    who: play
  tasks:
    - name: who
      debug:
        msg: "{{ who }}"
      vars:
        who: task
    - name: omitted
      debug:
        msg: "{{ undefined_thing | default(omit) }}"
"#,
        )],
        |o| o.extra_vars = vec!["who=extra".into()],
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("who"), json!("extra"));
    // debug without msg prints its default text.
    assert_eq!(out.debug_msg("omitted"), json!("Hello world!"));
}

#[tokio::test]
async fn magic_variables() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: magic
      debug:
        msg: "{{ inventory_hostname }} {{ ansible_play_hosts }} {{ groups['all'] }} {{ ansible_check_mode }} {{ ansible_version.major }}.{{ ansible_version.minor }} {{ playbook_dir == (playbook_dir | dirname) ~ '/' ~ (playbook_dir | basename) }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(
        out.debug_msg("magic"),
        json!("localhost ['localhost'] [] False 2.18 True")
    );
}

#[tokio::test]
async fn no_hosts_matched_is_ok() {
    let out = run("- hosts: all\n  tasks:\n    - debug: msg=x\n").await;
    assert_eq!(out.rc, 0);
    assert!(out
        .events
        .iter()
        .any(|e| matches!(e, hook_runner::report::Event::NoHostsMatched)));
}

#[tokio::test]
async fn syntax_errors_exit_4_before_anything_runs() {
    let out = run("- hosts: localhost\n  tasks:\n    - debug: {msg: x\n").await;
    assert_eq!(out.rc, 4);
    assert!(out
        .events
        .iter()
        .all(|e| !matches!(e, hook_runner::report::Event::TaskStart { .. })));
    let err = out.end_error().unwrap();
    assert!(err.contains("playbook.yml:"), "{err}");
}

#[tokio::test]
async fn facts_are_gathered_for_localhost() {
    let out = run(r#"
- hosts: localhost
  tasks:
    - name: facts
      debug:
        msg: "{{ ansible_facts.hostname == ansible_hostname }} {{ ansible_user_id | length > 0 }} {{ ansible_env.PATH is defined }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.task_names()[0], "Gathering Facts");
    assert_eq!(out.debug_msg("facts"), json!("True True True"));
    assert_eq!(out.stats("localhost").ok, 2);
}

#[tokio::test]
async fn registered_output_is_data_not_a_template() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: braces
      command: echo "{{ '{{' }} not_a_var }}"
      register: r
      changed_when: "'not_a_var' in r.stdout"
    - name: show
      debug:
        msg: "{{ r.stdout }}"
    - name: looped
      debug:
        msg: "{{ item }}"
      loop: "{{ r.stdout_lines }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.result("braces", "localhost").0, Status::Changed);
    assert_eq!(out.debug_msg("show"), json!("{{ not_a_var }}"));
    assert_eq!(out.items("looped")[0].0, json!("{{ not_a_var }}"));
}

/// ansible-core 2.18's shapes: a loop's registered result (`skipped` always, `failed` only
/// when true), a `shell: |` block's `cmd` with its final newline, a templated `k=v`
/// `set_fact`, `false_condition` as written (a template by its value), and an unevaluable
/// `when` located at the `when:` value.
#[tokio::test]
async fn ansible_result_shapes_and_locations() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  vars:
    __foo: bar
    is_off: false
  tasks:
    - name: loop
      debug:
        msg: "{{ item }}"
      loop: [a]
      register: looped
    - name: show loop
      debug:
        msg: "{{ looped | dict2items | rejectattr('key', 'eq', 'results') | items2dict }}"
    - name: block shell
      shell: |
        echo  one
      register: sh
    - name: show cmd
      debug:
        msg: "{{ sh.cmd }}"
    - name: templated kv
      set_fact: "{{ item.key }}={{ hostvars[inventory_hostname][item.value] }}"
      with_dict:
        foo: __foo
    - name: show fact
      debug:
        msg: "{{ foo }}"
    - name: literal false
      debug:
        msg: never
      when: false
    - name: template false
      debug:
        msg: never
      when: "{{ is_off }}"
    - name: bad when
      debug:
        msg: never
      when: nope == 1
      ignore_errors: true
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(
        out.debug_msg("show loop"),
        json!({"changed": false, "msg": "All items completed", "skipped": false})
    );
    assert_eq!(out.debug_msg("show cmd"), json!("echo  one\n"));
    assert_eq!(out.debug_msg("show fact"), json!("bar"));
    assert_eq!(
        out.result("literal false", "localhost").1["false_condition"],
        json!(false)
    );
    assert_eq!(
        out.result("template false", "localhost").1["false_condition"],
        json!(false)
    );
    let (_, w) = out.result("bad when", "localhost");
    let msg = w["msg"].as_str().unwrap_or_default();
    assert!(msg.contains("line 41, column 13, but may"), "{msg}");
    assert!(
        msg.ends_with("      when: nope == 1\n            ^ here\n"),
        "{msg:?}"
    );
}

/// A task `timeout`: ansible-core's result shape (`timedout.period`, `changed: false`).
#[tokio::test]
async fn task_timeout_result_shape() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: slow
      command: sleep 5
      timeout: 1
      ignore_errors: true
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (_, r) = out.result("slow", "localhost");
    assert_eq!(
        r["msg"],
        json!("The command action failed to execute in the expected time frame (1) and was terminated")
    );
    assert_eq!(r["changed"], json!(false));
    assert_eq!(r["timedout"]["period"], json!(1));
}
