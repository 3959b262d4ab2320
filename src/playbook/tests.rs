//! Loader and validation tests: every rejected shape has its located message.

use super::*;
use serde_json::json;

/// Writes files into a temp dir and loads `playbook.yml`.
fn load(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Playbook, LoadError>) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let pb = load_playbook(&dir.path().join("playbook.yml"));
    (dir, pb)
}

fn error(playbook: &str) -> LoadError {
    match load(&[("playbook.yml", playbook)]).1 {
        Ok(_) => panic!("expected an error for:\n{playbook}"),
        Err(e) => e,
    }
}

fn first_task(pb: &Playbook) -> Arc<Task> {
    match &pb.plays[0].tasks[0] {
        Item::Task(t) => t.clone(),
        Item::Block(_) => panic!("a block"),
    }
}

fn args_of(t: &Task) -> serde_json::Value {
    match &t.action {
        Action::Module { args, .. } => serde_json::Value::Object(args.clone()),
        other => panic!("not a module: {other:?}"),
    }
}

#[test]
fn two_modules_conflict() {
    let e = error("- hosts: localhost\n  tasks:\n    - copy: {dest: /x, content: y}\n      file: {path: /x}\n");
    assert_eq!(e.message, "conflicting action statements: copy, file");
    assert_eq!((e.loc.line, e.loc.col), (4, 7));
}

#[test]
fn unknown_keys_are_named_per_level() {
    let e = error("- hosts: localhost\n  taks: []\n");
    assert_eq!(e.message, "'taks' is not a valid attribute for a Play");
    assert_eq!((e.loc.line, e.loc.col), (2, 3));
    let e = error("- hosts: localhost\n  tasks:\n    - block: []\n      resuce: []\n");
    assert_eq!(e.message, "'resuce' is not a valid attribute for a Block");
    let e = error("- hosts: localhost\n  tasks:\n    - debug: msg=x\n      whenn: true\n");
    assert_eq!(e.message, "'whenn' is not a valid attribute for a Task");
    let e = error("- hosts: localhost\n  tasks:\n    - name: x\n      whenn: true\n");
    assert!(
        e.message
            .starts_with("couldn't resolve module/action 'whenn'."),
        "{e}"
    );
}

#[test]
fn a_play_needs_hosts() {
    let e = error("- name: x\n  tasks: []\n");
    assert_eq!(e.message, "the field 'hosts' is required but was not set");
}

#[test]
fn kv_args_args_keyword_and_fqcn() {
    let (_d, pb) = load(&[(
        "playbook.yml",
        "- hosts: localhost\n  tasks:\n    - ansible.builtin.file: path=/tmp/x state=directory\n      args:\n        mode: '0700'\n        state: absent\n",
    )]);
    let pb = pb.unwrap();
    let t = first_task(&pb);
    assert_eq!(t.action_name, "ansible.builtin.file");
    assert_eq!(t.module_name(), Some("file"));
    assert_eq!(
        args_of(&t),
        json!({"mode": "0700", "state": "directory", "path": "/tmp/x"})
    );
    assert_eq!(t.display_name(), "ansible.builtin.file");
}

#[test]
fn command_free_form_splits_only_its_options() {
    let (_d, pb) = load(&[(
        "playbook.yml",
        "- hosts: localhost\n  tasks:\n    - command: ls -l a=b chdir=/tmp\n    - action: shell echo hi creates=/x\n",
    )]);
    let pb = pb.unwrap();
    assert_eq!(
        args_of(&first_task(&pb)),
        json!({"chdir": "/tmp", "_raw_params": "ls -l a=b"})
    );
    let Item::Task(t) = &pb.plays[0].tasks[1] else {
        panic!()
    };
    assert_eq!(
        args_of(t),
        json!({"creates": "/x", "_raw_params": "echo hi"})
    );
}

#[test]
fn unknown_module_parameter_fails_at_load_on_its_line() {
    let e = error(
        "- hosts: localhost\n  tasks:\n    - file:\n        path: /x\n        modee: '0644'\n",
    );
    assert!(e.message.contains("modee"), "{e}");
    assert_eq!((e.loc.line, e.loc.col), (5, 9));
    assert!(
        e.message
            .starts_with("Unsupported parameters for (file) module: modee."),
        "{e}"
    );
}

#[test]
fn the_ansible_prefix_is_reserved_in_action_arguments() {
    let reserved = |action: &str, key: &str| {
        format!(
            "Invalid parameter specified beginning with keyword '_ansible_' for action \
             '{action}': '{key}'. The prefix '_ansible_' is reserved for internal use only."
        )
    };
    // Any action, ignore_errors or not, named as written and pointed at by its key.
    let e = error(
        "- hosts: localhost\n  tasks:\n    - ansible.builtin.set_fact:\n        ok: 1\n        _ansible_foo: bar\n      ignore_errors: true\n",
    );
    assert_eq!(
        e.message,
        reserved("ansible.builtin.set_fact", "_ansible_foo")
    );
    assert_eq!((e.loc.line, e.loc.col), (5, 9));
    let e = error("- hosts: localhost\n  tasks:\n    - debug: msg=hi _ansible_x=1\n");
    assert_eq!(e.message, reserved("debug", "_ansible_x"));
    let e =
        error("- hosts: localhost\n  tasks:\n    - include_tasks: {file: x.yml, _ansible_y: 1}\n");
    assert_eq!(e.message, reserved("include_tasks", "_ansible_y"));
    // Free-form actions' words are a command line; `args:` is not checked; only the prefix.
    for ok in [
        "- command: echo _ansible_z=1\n",
        "- ansible.builtin.shell: echo _ansible_z=1\n",
        "- set_fact:\n    a: 1\n  args:\n    _ansible_w: 1\n",
        "- set_fact:\n    _ansible: 1\n",
    ] {
        let tasks = ok.replace('\n', "\n    ");
        let (_d, r) = load(&[(
            "playbook.yml",
            &format!("- hosts: localhost\n  tasks:\n    {tasks}"),
        )]);
        assert!(r.is_ok(), "{ok}: {:?}", r.err());
    }
}

#[test]
fn meta_and_loops_on_imports() {
    let e = error("- hosts: localhost\n  tasks:\n    - meta: flush_everything\n");
    assert_eq!(e.message, "invalid meta action requested: flush_everything");
    let (_d, r) = load(&[
        (
            "playbook.yml",
            "- hosts: localhost\n  tasks:\n    - import_tasks: t.yml\n      loop: [1]\n",
        ),
        ("t.yml", "- debug: msg=x\n"),
    ]);
    assert!(r
        .unwrap_err()
        .message
        .starts_with("You cannot use loops on 'import_tasks' statements."));
    let e = error("- hosts: localhost\n  tasks:\n    - debug: msg=x\n      with_bogus: [1]\n");
    assert_eq!(e.message, "lookup plugin (bogus) not found");
}

#[test]
fn imports_are_expanded_with_their_keywords() {
    let (_d, pb) = load(&[
        ("playbook.yml", "- hosts: localhost\n  tasks:\n    - import_tasks: sub/t.yml\n      tags: imp\n      when: x is defined\n"),
        ("sub/t.yml", "- name: inner\n  debug: msg=x\n"),
    ]);
    let pb = pb.unwrap();
    let Item::Block(b) = &pb.plays[0].tasks[0] else {
        panic!("a block")
    };
    assert_eq!(b.kw.tags, vec!["imp"]);
    assert_eq!(b.kw.when, vec![json!("x is defined")]);
    let Item::Task(t) = &b.block[0] else { panic!() };
    assert!(t.loc.file.ends_with("sub/t.yml"));
    assert_eq!(t.loc.line, 1);
}

#[test]
fn import_playbook_and_missing_files() {
    let (_d, pb) = load(&[
        (
            "playbook.yml",
            "- import_playbook: other/second.yml\n- hosts: localhost\n  tasks: []\n",
        ),
        (
            "other/second.yml",
            "- hosts: all\n  vars_files: [v.yml]\n  tasks: []\n",
        ),
    ]);
    let pb = pb.unwrap();
    assert_eq!(pb.plays.len(), 2);
    assert!(pb.plays[0].dir.ends_with("other"));
    let e = error("- import_playbook: nope.yml\n");
    assert!(
        e.message.contains("Could not find or access 'nope.yml'"),
        "{e}"
    );
}

#[test]
fn roles_are_found_and_missing_ones_named() {
    let e = error("- hosts: localhost\n  roles: [ghost]\n");
    assert!(
        e.message.starts_with("the role 'ghost' was not found in "),
        "{e}"
    );
    let (_d, pb) = load(&[
        (
            "playbook.yml",
            "- hosts: localhost\n  roles:\n    - role: r\n      x: 1\n",
        ),
        ("r/tasks/main.yml", "- debug: msg=x\n"),
        ("r/handlers/main.yml", "- name: h\n  debug: msg=h\n"),
    ]);
    let pb = pb.unwrap();
    let Item::Block(b) = &pb.plays[0].roles[0] else {
        panic!()
    };
    let role = b.role.as_ref().unwrap();
    assert_eq!(role.role.name, "r");
    assert_eq!(role.params["x"], json!(1));
    assert_eq!(pb.plays[0].handlers.len(), 1);
    assert_eq!(pb.plays[0].handlers[0].display_name(), "r : h");
}

#[test]
fn errors_point_at_the_file_and_show_the_line() {
    let (_dir, r) = load(&[(
        "playbook.yml",
        "- hosts: localhost\n  tasks:\n    - win_shell: dir\n",
    )]);
    let text = r.unwrap_err().to_string();
    assert!(
        text.contains(":3:7: couldn't resolve module/action 'win_shell'."),
        "{text}"
    );
    assert!(
        text.contains("line 3, column 7, but may\nbe elsewhere"),
        "{text}"
    );
    assert!(
        text.contains("    - win_shell: dir\n      ^ here"),
        "{text}"
    );
}
