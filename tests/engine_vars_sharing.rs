//! What the engine's variable sharing must keep (it builds `hostvars` lazily, keeps a loop's
//! task variables across items, and copies them only when something changes them), end to
//! end on local hosts:
//! - `hostvars`: every host of the inventory, with its inventory and `set_fact` variables and
//!   `group_names`, as of the reading task; an unknown host is undefined; a host made by
//!   `add_host` appears; `hostvars` lists its hosts (the expected values are ansible-core
//!   2.18's);
//! - a loop: `set_fact` items see the previous items' facts; a loop after a task that
//!   registered many results still sees them; `until` sees `attempts` on the registered result
//!   while it is evaluated (`until: r.attempts >= 2`), as in Ansible.

use crate::engine_common;
use engine_common::*;
use hook_runner::report::Status;
use serde_json::json;

const TWO_HOSTS: &str = "[two]\nA ansible_connection=local own=a\nB ansible_connection=local own=b\n\n[two:vars]\ngroup_var=g\n";

fn msg(out: &Outcome, task: &str, host: &str) -> serde_json::Value {
    let (status, r) = out.result(task, host);
    assert_eq!(status, Status::Ok, "{task} on {host}: {r:?}");
    r.get("msg").cloned().unwrap_or_default()
}

#[tokio::test]
async fn hostvars_shows_every_hosts_variables_as_of_the_reading_task() {
    let out = run_with_inventory(
        r#"
- hosts: two
  gather_facts: false
  vars:
    play_var: p
  tasks:
    - name: fact
      set_fact:
        mine: "{{ own }}-set"
    - name: read
      debug:
        msg: "{{ [hostvars['A'].own, hostvars['B'].mine, hostvars.B.group_var, hostvars['B'].group_names, hostvars['B'].inventory_hostname] }}"
    - name: unknown
      debug:
        msg: "{{ hostvars['nope'] is defined }}"
    - name: listed
      debug:
        msg: "{{ ['A', 'B'] | difference(hostvars | list) }}"
    - name: add
      add_host:
        name: C
        groups: late
        ansible_connection: local
        added: c
      run_once: true
    - name: added
      debug:
        msg: "{{ [hostvars['C'].added, hostvars['C'].group_names] }}"
"#,
        TWO_HOSTS,
    )
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    for host in ["A", "B"] {
        assert_eq!(
            msg(&out, "read", host),
            json!(["a", "b-set", "g", ["two"], "B"])
        );
        assert_eq!(msg(&out, "unknown", host), json!(false));
        assert_eq!(msg(&out, "listed", host), json!([]));
        assert_eq!(msg(&out, "added", host), json!(["c", ["late"]]));
    }
}

#[tokio::test]
async fn loops_keep_their_variables_and_see_set_fact_items() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: many
      debug:
        msg: "{{ item }}"
      loop: "{{ range(300) | list }}"
      register: many
    - name: accumulate
      set_fact:
        acc: "{{ (acc | default([])) + [item, many.results | length] }}"
      loop: [1, 2, 3]
    - name: indexed
      debug:
        msg: "{{ idx }}:{{ thing }}:{{ many.results[idx].msg }}"
      loop: [a, b]
      loop_control:
        loop_var: thing
        index_var: idx
      register: indexed
    - name: show
      debug:
        msg: "{{ [acc, indexed.results | map(attribute='msg') | list] }}"
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert_eq!(
        msg(&out, "show", "localhost"),
        json!([[1, 300, 2, 300, 3, 300], ["0:a:0", "1:b:1"]])
    );
}

#[tokio::test]
async fn until_sees_attempts_on_the_registered_result() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: retry
      debug:
        msg: try
      register: r
      until: r.attempts >= 2
      retries: 4
      delay: 0
    - name: retry in a condition too
      debug:
        msg: try
      register: c
      changed_when: c.attempts == 1
      until: true
      retries: 2
      delay: 0
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (status, r) = out.result("retry", "localhost");
    assert_eq!(status, Status::Ok, "{r:?}");
    assert_eq!(r["attempts"], json!(2));
    let (status, c) = out.result("retry in a condition too", "localhost");
    assert_eq!(status, Status::Changed, "{c:?}");
    assert_eq!(c["attempts"], json!(1));
}
