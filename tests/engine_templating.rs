//! How task arguments and results meet the templar, end to end on localhost (local
//! connection), as in ansible-core 2.18:
//! - task arguments are rendered once: `{% raw %}{{ foo }}{% endraw %}` reaches the module as
//!   the text `{{ foo }}` (the `templating` integration target), also from a role's task file;
//! - a passing `assert` is shown at default verbosity (`_ansible_verbose_always`) unless
//!   `quiet`, and its registered result has no `_ansible_*` key, at the top or in loop items.

use crate::engine_common;
use engine_common::*;
use hook_runner::report::Status;
use serde_json::json;

const RAW_TASKS: &str = r#"
- name: echo raw
  command: echo {% raw %}{{ foo }}{% endraw %}
  register: result

- name: compare
  assert:
    that:
      - result.stdout_lines|first == expected
  vars:
    expected: !unsafe '{{ foo }}'

- name: debug raw
  debug:
    msg: "{% raw %}{{ foo }}{% endraw %} {{ item }}"
  loop: [1]
  register: shown
"#;

#[tokio::test]
async fn arguments_are_rendered_once_in_a_play_and_in_a_role() {
    let play = format!(
        "- hosts: localhost\n  gather_facts: false\n  tasks:{}",
        RAW_TASKS.replace("\n", "\n    ")
    );
    let role_play = "- hosts: localhost\n  gather_facts: false\n  roles: [raw]\n";
    let in_role = run_files(
        &[
            ("playbook.yml", role_play),
            ("roles/raw/tasks/main.yml", RAW_TASKS),
        ],
        |_| {},
    )
    .await;
    for (out, prefix) in [(run(&play).await, ""), (in_role, "raw : ")] {
        assert_eq!(out.rc, 0, "{:#?}", out.events);
        let name = |n: &str| format!("{prefix}{n}");
        let (_, echoed) = out.result(&name("echo raw"), "localhost");
        assert_eq!(echoed["stdout"], json!("{{ foo }}"));
        assert_eq!(out.result(&name("compare"), "localhost").0, Status::Ok);
        let (_, shown) = out.result(&name("debug raw"), "localhost");
        assert_eq!(shown["results"][0]["msg"], json!("{{ foo }} 1"));
    }
}

#[tokio::test]
async fn assert_results_ask_to_be_shown_and_register_clean() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: loud
      assert: {that: true, success_msg: lockstep works}
      loop: [1]
      register: loud
    - name: quiet
      assert: {that: true, quiet: true}
      register: quiet
    - name: check
      assert:
        that:
          - loud.results[0].msg == 'lockstep works'
          - loud.results[0] | dict2items | selectattr('key', 'match', '_ansible_') | list == []
          - quiet | dict2items | selectattr('key', 'match', '_ansible_') | list == []
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (_, loud) = out.result("loud", "localhost");
    assert_eq!(
        loud["results"][0]["_ansible_verbose_always"],
        json!(true),
        "{loud:?}"
    );
    let (_, quiet) = out.result("quiet", "localhost");
    assert!(!quiet.contains_key("_ansible_verbose_always"), "{quiet:?}");
    assert_eq!(out.result("check", "localhost").0, Status::Ok);
}
