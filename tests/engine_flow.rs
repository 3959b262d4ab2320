//! Control flow through the engine: block/rescue/always, handlers, tags, includes and
//! imports, roles, add_host with hostvars/groups, run_once, meta, precedence.

use crate::engine_common;
use engine_common::*;
use hook_runner::report::Status;
use serde_json::json;

#[tokio::test]
async fn block_rescue_always() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: guarded
      block:
        - name: breaks
          fail:
            msg: first failure
        - name: skipped by failure
          debug:
            msg: no
      rescue:
        - name: rescuer
          debug:
            msg: "{{ ansible_failed_result.msg }} in {{ ansible_failed_task.name }}"
      always:
        - name: cleanup
          debug:
            msg: always
    - name: continues
      debug:
        msg: yes
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.result("breaks", "localhost").0, Status::Failed);
    assert_eq!(out.debug_msg("rescuer"), json!("first failure in breaks"));
    assert_eq!(out.debug_msg("cleanup"), json!("always"));
    assert_eq!(out.debug_msg("continues"), json!(true));
    assert!(!out.task_names().contains(&"skipped by failure".to_string()));
    let s = out.stats("localhost");
    assert_eq!((s.ok, s.failed, s.rescued), (3, 0, 1));
}

#[tokio::test]
async fn always_runs_after_an_unrescued_failure_and_the_host_fails() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - block:
        - name: breaks
          fail:
            msg: no rescue
      always:
        - name: cleanup
          debug:
            msg: ran
    - name: not reached
      debug:
        msg: no
"#)
    .await;
    assert_eq!(out.rc, 2);
    assert_eq!(out.debug_msg("cleanup"), json!("ran"));
    assert!(!out.task_names().contains(&"not reached".to_string()));
    let s = out.stats("localhost");
    assert_eq!((s.ok, s.failed, s.rescued), (1, 1, 0));
}

#[tokio::test]
async fn block_keywords_are_inherited() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - block:
        - name: inner
          debug:
            msg: "{{ from_block }}"
        - name: inner skipped
          debug:
            msg: x
          when: false
      vars:
        from_block: block var
      when: from_block is defined
    - block:
        - name: whole block skipped
          debug:
            msg: x
      when: false
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("inner"), json!("block var"));
    assert_eq!(out.result("inner skipped", "localhost").0, Status::Skipped);
    assert_eq!(
        out.result("whole block skipped", "localhost").0,
        Status::Skipped
    );
}

#[tokio::test]
async fn handlers_run_once_in_definition_order_when_notified_by_a_change() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: change one
      debug:
        msg: a
      changed_when: true
      notify: second handler
    - name: change two
      debug:
        msg: b
      changed_when: true
      notify: [first handler, second handler, topic]
    - name: no change
      debug:
        msg: c
      notify: never handler
  handlers:
    - name: first handler
      debug:
        msg: h1
    - name: never handler
      debug:
        msg: h0
    - name: second handler
      debug:
        msg: h2
    - name: listener
      debug:
        msg: h3
      listen: topic
    - name: first handler
      debug:
        msg: same name, defined later
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let names = out.task_names();
    assert_eq!(
        names,
        vec![
            "change one",
            "change two",
            "no change",
            "first handler",
            "second handler",
            "listener"
        ]
    );
}

#[tokio::test]
async fn flush_handlers_runs_them_mid_play() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: change
      debug:
        msg: a
      changed_when: true
      notify: h
    - meta: flush_handlers
    - name: after flush
      debug:
        msg: b
  handlers:
    - name: h
      debug:
        msg: handler
"#)
    .await;
    assert_eq!(out.task_names(), vec!["change", "meta", "h", "after flush"]);
}

#[tokio::test]
async fn unknown_handler_is_an_error() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: change
      debug:
        msg: a
      changed_when: true
      notify: missing
"#)
    .await;
    assert_eq!(out.rc, 1);
    assert!(out
        .end_error()
        .unwrap()
        .contains("The requested handler 'missing' was not found"));
}

const TAGGED: &str = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: alpha
      debug: msg=a
      tags: [a]
    - name: beta
      debug: msg=b
      tags: b
    - name: untagged
      debug: msg=u
    - name: forever
      debug: msg=f
      tags: always
    - name: hidden
      debug: msg=n
      tags: never
    - block:
        - name: in block
          debug: msg=x
      tags: blocktag
"#;

#[tokio::test]
async fn tags_select_tasks() {
    let only_a = run_files(&[("playbook.yml", TAGGED)], |o| o.tags = vec!["a".into()]).await;
    assert_eq!(only_a.task_names(), vec!["alpha", "forever"]);
    let skip_b = run_files(&[("playbook.yml", TAGGED)], |o| {
        o.skip_tags = vec!["b".into(), "always".into()]
    })
    .await;
    assert_eq!(skip_b.task_names(), vec!["alpha", "untagged", "in block"]);
    let block = run_files(&[("playbook.yml", TAGGED)], |o| {
        o.tags = vec!["blocktag".into(), "never".into()]
    })
    .await;
    assert_eq!(block.task_names(), vec!["forever", "hidden", "in block"]);
    let untagged = run_files(&[("playbook.yml", TAGGED)], |o| {
        o.tags = vec!["untagged".into()]
    })
    .await;
    assert_eq!(untagged.task_names(), vec!["untagged", "forever"]);
}

#[tokio::test]
async fn include_and_import_tasks() {
    let out = run_tree(&[
        (
            "playbook.yml",
            r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - import_tasks: tasks/static.yml
      vars:
        where: imported
    - name: dynamic
      include_tasks: "tasks/{{ which }}.yml"
      vars:
        which: dyn
    - name: looped include
      include_tasks: tasks/dyn.yml
      loop: [one, two]
      loop_control:
        loop_var: which
"#,
        ),
        (
            "tasks/static.yml",
            "- name: static task\n  debug:\n    msg: \"{{ where }}\"\n",
        ),
        (
            "tasks/dyn.yml",
            "- name: dynamic task\n  debug:\n    msg: \"dyn {{ which }}\"\n",
        ),
    ])
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("static task"), json!("imported"));
    let msgs: Vec<_> = out
        .results("dynamic task")
        .into_iter()
        .map(|(_, _, r)| r["msg"].clone())
        .collect();
    assert_eq!(
        msgs,
        vec![json!("dyn dyn"), json!("dyn one"), json!("dyn two")]
    );
    let included: Vec<(String, Vec<String>)> = out
        .events
        .iter()
        .filter_map(|e| match e {
            hook_runner::report::Event::Included { task, file, hosts }
                if task.name == "dynamic" =>
            {
                Some((file.clone(), hosts.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(included.len(), 1);
    assert!(included[0].0.ends_with("tasks/dyn.yml"), "{included:?}");
    assert_eq!(included[0].1, vec!["localhost"]);
    assert!(out.results("dynamic").is_empty());
    // static 1 + include 1 + its task 1 + looped include 2 (one per item) + its tasks 2.
    assert_eq!(out.stats("localhost").ok, 7);
}

#[tokio::test]
async fn roles_with_defaults_vars_params_handlers_files_and_dependencies() {
    let out = run_tree(
        &[
            (
                "playbook.yml",
                r#"
- hosts: localhost
  gather_facts: false
  vars:
    overridden_by_role_vars: play
    from_play: play
  roles:
    - web
    - role: web
      port: 9090
  tasks:
    - name: include role
      include_role:
        name: web
        tasks_from: extra
"#,
            ),
            ("roles/base/tasks/main.yml", "- name: base task\n  debug:\n    msg: base\n"),
            ("roles/web/meta/main.yml", "dependencies:\n  - base\n"),
            ("roles/web/defaults/main.yml", "port: 80\nfrom_play: default\n"),
            ("roles/web/vars/main.yml", "overridden_by_role_vars: role\n"),
            ("roles/web/files/motd.txt", "hello from files\n"),
            (
                "roles/web/tasks/main.yml",
                r#"
- name: show
  debug:
    msg: "{{ port }} {{ from_play }} {{ overridden_by_role_vars }} {{ lookup('file', 'motd.txt') }} {{ role_path | basename }}"
  changed_when: true
  notify: restart web
"#,
            ),
            ("roles/web/tasks/extra.yml", "- name: extra\n  debug:\n    msg: \"extra {{ port }}\"\n"),
            ("roles/web/handlers/main.yml", "- name: restart web\n  debug:\n    msg: restarted\n"),
        ],
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let shows: Vec<_> = out
        .results("web : show")
        .into_iter()
        .map(|(_, _, r)| r["msg"].clone())
        .collect();
    assert_eq!(
        shows,
        vec![
            json!("80 play role hello from files web"),
            json!("9090 play role hello from files web")
        ]
    );
    // The dependency runs once (same parameters), before the role.
    let names = out.task_names();
    assert_eq!(names.iter().filter(|n| *n == "base : base task").count(), 1);
    assert_eq!(names[0], "base : base task");
    assert_eq!(out.debug_msg("web : extra"), json!("extra 80"));
    assert_eq!(
        names.iter().filter(|n| *n == "web : restart web").count(),
        1
    );
    assert_eq!(names.last().unwrap(), "web : restart web");
}

#[tokio::test]
async fn add_host_makes_hosts_for_later_plays_with_hostvars_and_groups() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: add
      add_host:
        name: "vm-{{ item }}"
        groups: vms
        ansible_connection: local
        color: "{{ item }}"
      loop: [red, blue]
- hosts: vms
  gather_facts: false
  tasks:
    - name: on vm
      debug:
        msg: "{{ inventory_hostname }} {{ color }} {{ group_names }} {{ groups['vms'] }} {{ hostvars['vm-red']['color'] }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (_, r) = out.result("on vm", "vm-blue");
    assert_eq!(
        r["msg"],
        json!("vm-blue blue ['vms'] ['vm-red', 'vm-blue'] red")
    );
    // add_host runs once (BYPASS_HOST_LOOP) but per loop item.
    assert_eq!(out.items("add").len(), 2);
}

#[tokio::test]
async fn run_once_and_register_apply_to_all_hosts() {
    let out = run_with_inventory(
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: once
      debug:
        msg: "{{ inventory_hostname }}"
      run_once: true
      register: o
    - name: seen
      debug:
        msg: "{{ o.msg }}"
"#,
        TWO_LOCAL_HOSTS,
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.results("once").len(), 1);
    let seen: Vec<_> = out
        .results("seen")
        .into_iter()
        .map(|(h, _, r)| (h, r["msg"].clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("h1".to_string(), json!("h1")),
            ("h2".to_string(), json!("h1"))
        ]
    );
}

#[tokio::test]
async fn meta_end_host_and_end_play() {
    let out = run_with_inventory(
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - meta: end_host
      when: inventory_hostname == 'h1'
    - name: after end_host
      debug: msg=x
    - meta: end_play
    - name: after end_play
      debug: msg=y
"#,
        TWO_LOCAL_HOSTS,
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let hosts: Vec<_> = out
        .results("after end_host")
        .into_iter()
        .map(|(h, _, _)| h)
        .collect();
    assert_eq!(hosts, vec!["h2"]);
    assert!(out.results("after end_play").is_empty());
}

#[tokio::test]
async fn precedence_across_scopes() {
    let out = run_files(
        &[
            (
                "playbook.yml",
                r#"
- hosts: h1
  gather_facts: false
  vars:
    v_play: play
    v_group: play-over-group
  vars_files:
    - vars.yml
  tasks:
    - name: inventory and play
      debug:
        msg: "{{ v_group }} {{ v_host }} {{ v_play }} {{ v_file }}"
    - name: include vars
      include_vars:
        file: more.yml
    - name: task vars lose to include_vars
      debug:
        msg: "{{ v_inc }}"
      vars:
        v_inc: task
    - name: set_fact beats include_vars
      set_fact:
        v_inc: fact
    - name: extra wins
      debug:
        msg: "{{ v_inc }} {{ v_extra }}"
"#,
            ),
            (INVENTORY, "h1 ansible_connection=local v_host=host\n[g]\nh1\n[g:vars]\nv_group=group\nv_host=group\n"),
            ("vars.yml", "v_file: file\nv_play: file-over-play\n"),
            ("more.yml", "v_inc: included\n"),
        ],
        |o| {
            use_inventory(o);
            o.extra_vars = vec!["{\"v_extra\": \"extra\"}".into()];
        },
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let msg = |n: &str| out.result(n, "h1").1["msg"].clone();
    assert_eq!(
        msg("inventory and play"),
        json!("play-over-group host file-over-play file")
    );
    assert_eq!(msg("task vars lose to include_vars"), json!("included"));
    assert_eq!(msg("extra wins"), json!("fact extra"));
}

#[tokio::test]
async fn missing_vars_file_is_an_error() {
    let out = run("- hosts: localhost\n  gather_facts: false\n  vars_files: [nope.yml]\n  tasks:\n    - debug: msg=x\n").await;
    assert_eq!(out.rc, 1);
    assert!(out
        .end_error()
        .unwrap()
        .contains("vars file nope.yml was not found"));
}

#[tokio::test]
async fn ignore_errors_and_any_errors_fatal() {
    let out = run_with_inventory(
        r#"
- hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - name: fail one
      fail:
        msg: x
      when: inventory_hostname == 'h1'
    - name: not reached
      debug: msg=y
"#,
        TWO_LOCAL_HOSTS,
    )
    .await;
    assert_eq!(out.rc, 2);
    assert!(out.results("not reached").is_empty());
}

#[tokio::test]
async fn list_tasks_and_syntax_check_print_lines() {
    use hook_runner::engine::Action;
    let lines = |out: &Outcome| -> Vec<String> {
        out.events
            .iter()
            .filter_map(|e| match e {
                hook_runner::report::Event::Output { line } => Some(line.clone()),
                _ => None,
            })
            .collect()
    };
    let out = run_files(&[("playbook.yml", TAGGED)], |o| {
        o.action = Action::ListTasks
    })
    .await;
    assert_eq!(out.rc, 0);
    let text = lines(&out).join("\n");
    assert!(
        text.contains("  play #1 (localhost): localhost\tTAGS: []"),
        "{text}"
    );
    assert!(text.contains("      alpha\tTAGS: [a]"), "{text}");
    assert!(!text.contains("hidden"), "{text}");
    assert!(out.task_names().is_empty());
    let tags = run_files(&[("playbook.yml", TAGGED)], |o| o.action = Action::ListTags).await;
    assert!(lines(&tags)
        .join("\n")
        .contains("TASK TAGS: [a, always, b, blocktag, never]"));
    let syntax = run_files(&[("playbook.yml", TAGGED)], |o| {
        o.action = Action::SyntaxCheck
    })
    .await;
    assert_eq!(syntax.rc, 0);
    assert!(lines(&syntax)[1].starts_with("playbook: "));
}

#[tokio::test]
async fn serial_batches_and_max_fail_percentage() {
    let inv = "h1 ansible_connection=local\nh2 ansible_connection=local\nh3 ansible_connection=local\nh4 ansible_connection=local\n";
    let out = run_with_inventory(
        r#"
- hosts: all
  gather_facts: false
  serial: [1, 3]
  tasks:
    - name: batch
      debug:
        msg: "{{ ansible_play_batch }}"
"#,
        inv,
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let batches: Vec<_> = out
        .results("batch")
        .into_iter()
        .map(|(h, _, r)| (h, r["msg"].clone()))
        .collect();
    assert_eq!(batches[0], ("h1".to_string(), json!(["h1"])));
    assert_eq!(batches[1], ("h2".to_string(), json!(["h2", "h3", "h4"])));

    let out = run_with_inventory(
        r#"
- hosts: all
  gather_facts: false
  max_fail_percentage: 25
  tasks:
    - name: fail two
      fail:
        msg: x
      when: inventory_hostname in ['h1', 'h2']
    - name: not reached
      debug: msg=y
"#,
        inv,
    )
    .await;
    assert_eq!(out.rc, 2);
    assert!(out.results("not reached").is_empty());
    // As ansible-playbook: NO MORE HOSTS LEFT from the strategy, then from the batch.
    let no_more = out
        .events
        .iter()
        .filter(|e| matches!(e, hook_runner::report::Event::NoMoreHosts))
        .count();
    assert_eq!(no_more, 2);
}

#[tokio::test]
async fn check_mode_keyword_and_environment_inheritance() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  environment:
    FROM_PLAY: play
  tasks:
    - name: env
      shell: echo "$FROM_PLAY $FROM_TASK"
      environment:
        FROM_TASK: task
      register: e
    - name: check mode skips commands
      command: echo should-not-run
      check_mode: true
      register: c
    - name: show
      debug:
        msg: "{{ e.stdout }} {{ c.skipped | default(false) }} {{ ansible_check_mode }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("show"), json!("play task True False"));
}

#[tokio::test]
async fn timeout_ends_a_long_task() {
    let out = run("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: slow\n      command: sleep 20\n      timeout: 1\n").await;
    assert_eq!(out.rc, 2);
    let (_, r) = out.result("slow", "localhost");
    assert!(r["msg"].as_str().unwrap().contains("(1)"), "{r:?}");
}

#[tokio::test]
async fn delegate_facts_go_to_the_delegated_host() {
    let out = run_with_inventory(
        r#"
- hosts: h1
  gather_facts: false
  tasks:
    - name: gather for h2
      setup:
      delegate_to: h2
      delegate_facts: true
    - name: where
      debug:
        msg: "{{ hostvars['h2']['ansible_facts']['hostname'] is defined }} {{ ansible_facts.hostname is defined }}"
"#,
        TWO_LOCAL_HOSTS,
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.result("where", "h1").1["msg"], json!("True False"));
}

#[tokio::test]
async fn templated_include_role_and_its_handlers() {
    let out = run_tree(&[
        (
            "playbook.yml",
            r#"
- hosts: localhost
  gather_facts: false
  vars:
    which: app
  tasks:
    - name: dynamic role
      include_role:
        name: "{{ which }}"
      vars:
        greeting: hi
"#,
        ),
        (
            "roles/app/tasks/main.yml",
            "- name: hello\n  debug:\n    msg: \"{{ greeting }} {{ role_name }}\"\n",
        ),
    ])
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("app : hello"), json!("hi app"));
}

#[tokio::test]
async fn play_roles_expose_their_vars_and_defaults_to_the_play() {
    let out = run_tree(&[
        (
            "playbook.yml",
            r#"
- hosts: localhost
  gather_facts: false
  roles:
    - common
  tasks:
    - name: play task
      debug:
        msg: "{{ common_default }} {{ common_var }}"
"#,
        ),
        ("roles/common/defaults/main.yml", "common_default: d\n"),
        ("roles/common/vars/main.yml", "common_var: v\n"),
    ])
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.debug_msg("play task"), json!("d v"));
}

#[tokio::test]
async fn rescue_applies_even_with_any_errors_fatal() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
        - name: breaks
          fail: msg=x
      rescue:
        - name: saved
          debug: msg=saved
    - name: continues
      debug: msg=yes
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(out.results("continues").len(), 1);
    assert_eq!(out.stats("localhost").rescued, 1);
}

#[tokio::test]
async fn a_failing_handler_fails_the_host() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: change
      debug: msg=a
      changed_when: true
      notify: bad handler
    - name: after
      debug: msg=b
  handlers:
    - name: bad handler
      fail:
        msg: handler broke
"#)
    .await;
    assert_eq!(out.rc, 2);
    assert_eq!(out.task_names(), vec!["change", "after", "bad handler"]);
    assert_eq!(out.stats("localhost").failed, 1);
}

/// As ansible-core: `when` on `import_playbook` is prepended to the imported plays' tasks
/// (and their fact gathering), so a false one skips them all; `vars` reach the plays.
#[tokio::test]
async fn import_playbook_when_and_vars_apply_to_the_imported_plays() {
    let imported = r#"
- hosts: localhost
  tasks:
    - name: imported task
      debug:
        msg: "{{ greeting }}"
"#;
    let out = run_tree(
        &[
            (
                "playbook.yml",
                "- import_playbook: other.yml\n  when: false\n- import_playbook: other.yml\n  vars:\n    greeting: hi\n",
            ),
            ("other.yml", imported),
        ],
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let results = out.results("imported task");
    assert_eq!(results.len(), 2, "{results:#?}");
    assert_eq!(results[0].1, Status::Skipped);
    assert_eq!(results[0].2["false_condition"], json!(false));
    assert_eq!(results[1].2["msg"], json!("hi"));
    let gathered = out.results("Gathering Facts");
    assert_eq!(gathered[0].1, Status::Skipped, "{gathered:#?}");
    assert_eq!(out.stats("localhost").skipped, 2);
}
