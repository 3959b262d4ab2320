//! `!unsafe` end to end: the binary runs a playbook on localhost whose tagged values hold a
//! `lookup('pipe', 'touch <canary>')`. Printed by debug (as an argument, a play variable, a
//! list item, a `set_fact`, a registered result, an `include_vars` value, a loop item) and
//! written by copy, the text must come out verbatim, and the canary file must never appear. A
//! plain (untagged) lookup in the same run shows that lookups do run. Also: `!vault` and unknown
//! tags stop the run with a located error, as ansible-playbook does, and an `!unsafe` conditional
//! fails its task ("Conditional is marked as unsafe").

use crate::engine_common;
use engine_common::{json_events, run_binary, run_binary_at, write_files};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A canary path no other test (or run) uses; removed again if a failing run created it.
struct Canary(PathBuf);

impl Canary {
    fn new() -> Canary {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        Canary(PathBuf::from(format!(
            "/tmp/CANARY-hook-runner-unsafe-{}-{nanos}",
            std::process::id()
        )))
    }

    /// The tagged text: a template that would create the canary if it were ever templated.
    fn template(&self) -> String {
        format!("{{{{ lookup('pipe', 'touch {}') }}}}", self.0.display())
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn playbook(canary: &str, out: &Path) -> String {
    format!(
        r#"- hosts: localhost
  gather_facts: false
  vars:
    payload: !unsafe "{canary}"
    mixed: [!unsafe "{canary}", "{{{{ 1 + 1 }}}}"]
  tasks:
    - name: tagged argument
      debug:
        msg: !unsafe "{canary}"
    - name: tagged variable
      debug:
        msg: "{{{{ payload }}}}"
    - name: list with a tagged item
      debug:
        var: mixed
    - name: written by copy
      copy:
        content: !unsafe "{canary}"
        dest: {out}
    - set_fact:
        kept: !unsafe "{canary}"
    - name: set_fact value
      debug:
        msg: "{{{{ kept }}}}"
    - command: cat {out}
      register: written
    - name: registered result
      debug:
        msg: "{{{{ written.stdout }}}}"
    - include_vars: vars.yml
    - name: include_vars value
      debug:
        msg: "{{{{ from_file }}}}"
    - name: loop item
      debug:
        msg: "{{{{ item }}}}"
      loop: "{{{{ mixed }}}}"
    - name: plain lookup runs
      debug:
        msg: "{{{{ lookup('pipe', 'echo control') }}}}"
"#,
        out = out.display()
    )
}

/// The `res` of every `kind` event (`runner_on_ok`, `runner_item_on_ok`) of the task `name`.
fn results<'a>(events: &'a [Value], kind: &str, name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == kind && e["event_data"]["task"] == name)
        .map(|e| &e["event_data"]["res"])
        .collect()
}

#[test]
fn unsafe_text_is_never_templated_wherever_it_flows() {
    let canary = Canary::new();
    let text = canary.template();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    write_files(
        dir.path(),
        &[
            ("playbook.yml", &playbook(&text, &out)),
            ("vars.yml", &format!("from_file: !unsafe \"{text}\"\n")),
        ],
    );

    let (rc, stdout, stderr) = run_binary_at(
        &dir.path().join("playbook.yml"),
        &["--log-format", "json", "-v"],
    );
    assert_eq!(rc, 0, "{stdout}\n{stderr}");
    assert!(
        !canary.0.exists(),
        "the !unsafe lookup ran:\n{stdout}\n{stderr}"
    );
    // The loader's internal mark never reaches the output.
    assert!(!stdout.contains('\u{FDD0}'), "{stdout}");

    let events = json_events(&stdout);
    let msg_of = |kind: &str, name: &str| -> Vec<Value> {
        results(&events, kind, name)
            .into_iter()
            .map(|r| r["msg"].clone())
            .collect()
    };
    let msg = |name: &str| msg_of("runner_on_ok", name);
    for name in [
        "tagged argument",
        "tagged variable",
        "set_fact value",
        "registered result",
        "include_vars value",
    ] {
        assert_eq!(msg(name), [Value::from(text.as_str())], "{name}");
    }
    assert_eq!(
        results(&events, "runner_on_ok", "list with a tagged item")
            .first()
            .map(|r| r["mixed"].clone()),
        Some(serde_json::json!([text, 2]))
    );
    assert_eq!(
        msg_of("runner_item_on_ok", "loop item"),
        [Value::from(text.as_str()), Value::from(2)]
    );
    assert_eq!(msg("plain lookup runs"), [Value::from("control")]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
}

/// Runs `playbook`, which the loader must refuse: exit 4 and nothing run. Stdout and stderr.
fn refused(playbook: &str) -> String {
    let (rc, stdout, stderr) = run_binary(playbook, &[]);
    let all = format!("{stdout}{stderr}");
    assert_eq!(rc, 4, "{all}");
    assert!(!all.contains("ok: [localhost]"), "{all}");
    all
}

#[test]
fn vault_values_stop_the_run_with_a_located_error() {
    let all = refused(
        "- hosts: localhost\n  gather_facts: false\n  vars:\n    secret: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6136\n  tasks:\n    - debug: msg=hi\n",
    );
    assert!(
        all.contains("vault-encrypted values are not supported"),
        "{all}"
    );
    assert!(all.contains("playbook.yml:4:"), "{all}");
}

#[test]
fn unknown_tags_stop_the_run_as_pyyaml_does() {
    let all = refused(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug:\n        msg: !include other.yml\n",
    );
    assert!(
        all.contains("could not determine a constructor for the tag '!include'"),
        "{all}"
    );
    assert!(all.contains("playbook.yml:5:"), "{all}");
}

#[test]
fn an_unsafe_conditional_fails_the_task_as_in_ansible() {
    let (rc, stdout, stderr) = run_binary(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: guarded\n      debug:\n        msg: x\n      when: !unsafe '{{ true }}'\n",
        &[],
    );
    assert_eq!(rc, 2, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Conditional is marked as unsafe, and cannot be evaluated."),
        "{stdout}"
    );
    assert!(
        stdout.contains("The conditional check '{{ true }}' failed"),
        "{stdout}"
    );
    assert!(!format!("{stdout}{stderr}").contains('\u{FDD0}'));
}
