//! Differential tests of the remote modules against ansible-core 2.18 on this machine.
//!
//! Each case prepares a directory with a shell snippet, runs one task with
//! `ansible-playbook` (local connection, result registered and written out as JSON), then
//! prepares the same directory again and runs the same arguments through our module on the
//! local connection. The results must be equal, key for key, except for values that
//! legitimately differ between two runs (times, inodes, temp paths) and the keys Ansible's
//! executor adds (`invocation`, `*_lines`, `failed: false`).
//!
//! Needs `ansible-playbook` from ansible-core 2.18: set `HR_ANSIBLE_PLAYBOOK` to its path
//! (for example a venv made with `pip install 'ansible-core<2.19'`); without it the test is
//! skipped with a message. `HR_DIFF_CASES=name,name` runs only the named cases. About three
//! seconds per case (ansible-playbook's start-up): three to five minutes in all.

use crate::modules_common;

use hook_runner::connection::local::LocalConnection;
use hook_runner::modules::{self, ModuleContext};
use hook_runner::template::{Scope, Templar};
use hook_runner::{Map, Value};
use modules_common::NoCluster;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

/// One comparison: `setup` (sh, `$D` is the case directory), then `module` with `args`
/// (`@D` in any string is replaced by the directory).
struct Case {
    name: &'static str,
    setup: &'static str,
    module: &'static str,
    args: Value,
    check: bool,
}

fn case(name: &'static str, setup: &'static str, module: &'static str, args: Value) -> Case {
    Case {
        name,
        setup,
        module,
        args,
        check: false,
    }
}

fn cases() -> Vec<Case> {
    let mut all = vec![
        // file
        case(
            "dir-create",
            "",
            "file",
            json!({"path": "@D/a b/c", "state": "directory", "mode": "0750"}),
        ),
        case(
            "dir-exists",
            "mkdir -p \"$D/x\"; chmod 755 \"$D/x\"",
            "file",
            json!({"path": "@D/x", "state": "directory", "mode": "0755"}),
        ),
        case(
            "file-absent",
            "",
            "file",
            json!({"path": "@D/nope", "state": "file"}),
        ),
        case(
            "file-is-dir",
            "mkdir \"$D/d\"",
            "file",
            json!({"path": "@D/d", "state": "file"}),
        ),
        case(
            "dir-on-file",
            "echo x > \"$D/f\"",
            "file",
            json!({"path": "@D/f", "state": "directory"}),
        ),
        case(
            "touch-new",
            "",
            "file",
            json!({"path": "@D/t", "state": "touch", "mode": "0600"}),
        ),
        case(
            "absent-tree",
            "mkdir -p \"$D/t/a\"; echo x > \"$D/t/a/f\"",
            "file",
            json!({"path": "@D/t", "state": "absent"}),
        ),
        case(
            "absent-missing",
            "",
            "file",
            json!({"path": "@D/t", "state": "absent"}),
        ),
        case(
            "link-new",
            "echo x > \"$D/target\"",
            "file",
            json!({"path": "@D/l", "src": "target", "state": "link"}),
        ),
        case(
            "link-same",
            "echo x > \"$D/target\"; ln -s target \"$D/l\"",
            "file",
            json!({"path": "@D/l", "src": "target", "state": "link"}),
        ),
        case(
            "link-missing-src",
            "",
            "file",
            json!({"path": "@D/l", "src": "nope", "state": "link"}),
        ),
        case(
            "link-over-file",
            "echo x > \"$D/f\"; echo y > \"$D/g\"",
            "file",
            json!({"path": "@D/f", "src": "@D/g", "state": "link"}),
        ),
        case(
            "link-no-src",
            "",
            "file",
            json!({"path": "@D/l", "state": "link"}),
        ),
        case(
            "hard-new",
            "echo x > \"$D/s\"",
            "file",
            json!({"path": "@D/h", "src": "@D/s", "state": "hard"}),
        ),
        case(
            "hard-over-file",
            "echo x > \"$D/s\"; echo y > \"$D/h\"",
            "file",
            json!({"path": "@D/h", "src": "@D/s", "state": "hard"}),
        ),
        case(
            "symbolic-mode",
            "echo x > \"$D/f\"; chmod 644 \"$D/f\"",
            "file",
            json!({"path": "@D/f", "mode": "u+x,g-r,o=rw"}),
        ),
        case(
            "bad-mode",
            "echo x > \"$D/f\"; chmod 644 \"$D/f\"",
            "file",
            json!({"path": "@D/f", "mode": "u+q"}),
        ),
        case(
            "unknown-owner",
            "echo x > \"$D/f\"; chmod 644 \"$D/f\"",
            "file",
            json!({"path": "@D/f", "owner": "hr-no-such-user"}),
        ),
        case(
            "unknown-group",
            "echo x > \"$D/f\"; chmod 644 \"$D/f\"",
            "file",
            json!({"path": "@D/f", "group": "hr-no-such-group"}),
        ),
        case(
            "src-without-link",
            "",
            "file",
            json!({"path": "@D/f", "src": "@D/g", "state": "file"}),
        ),
        case(
            "src-without-state",
            "echo x > \"$D/g\"",
            "file",
            json!({"path": "@D/l", "src": "@D/g"}),
        ),
        case(
            "touch-existing",
            "echo x > \"$D/t\"; chmod 644 \"$D/t\"",
            "file",
            json!({"path": "@D/t", "state": "touch"}),
        ),
        case(
            "link-follow-mode",
            "echo x > \"$D/t\"; chmod 644 \"$D/t\"; ln -s t \"$D/l\"",
            "file",
            json!({"path": "@D/l", "mode": "0600"}),
        ),
        case(
            "copy-backup",
            "echo old > \"$D/c\"",
            "copy",
            json!({"dest": "@D/c", "content": "new", "backup": true}),
        ),
        case(
            "copy-owner-numeric",
            "",
            "copy",
            json!({"dest": "@D/o", "content": "x", "owner": "0", "group": "0", "mode": "u=rw,g=r"}),
        ),
        case(
            "copy-over-link",
            "echo x > \"$D/t\"; ln -s t \"$D/l\"",
            "copy",
            json!({"dest": "@D/l", "content": "x\n"}),
        ),
        case(
            "copy-slash-dest",
            "",
            "copy",
            json!({"dest": "@D/new/dir/", "src": "/etc/hostname", "directory_mode": "0700"}),
        ),
        case(
            "recurse",
            "mkdir -p \"$D/r/a\"; echo x > \"$D/r/a/f\"; chmod -R 777 \"$D/r\"",
            "file",
            json!({"path": "@D/r", "state": "directory", "recurse": true, "mode": "u=rwX,go=rX"}),
        ),
        // copy
        case(
            "copy-new",
            "",
            "copy",
            json!({"dest": "@D/c", "content": "hello\n", "mode": "0644"}),
        ),
        case(
            "copy-same",
            "printf 'hello\\n' > \"$D/c\"; chmod 644 \"$D/c\"",
            "copy",
            json!({"dest": "@D/c", "content": "hello\n", "mode": "0644"}),
        ),
        case(
            "copy-same-new-mode",
            "printf 'hello\\n' > \"$D/c\"; chmod 644 \"$D/c\"",
            "copy",
            json!({"dest": "@D/c", "content": "hello\n", "mode": "0600"}),
        ),
        case(
            "copy-replace",
            "printf 'old\\n' > \"$D/c\"; chmod 640 \"$D/c\"",
            "copy",
            json!({"dest": "@D/c", "content": "new\n"}),
        ),
        case(
            "copy-into-dir",
            "mkdir \"$D/d\"",
            "copy",
            json!({"dest": "@D/d", "content": "x"}),
        ),
        case(
            "copy-no-parent",
            "",
            "copy",
            json!({"dest": "@D/nd/f", "content": "x"}),
        ),
        case(
            "copy-no-force",
            "echo old > \"$D/c\"",
            "copy",
            json!({"dest": "@D/c", "content": "new", "force": false}),
        ),
        case(
            "copy-validate-fails",
            "",
            "copy",
            json!({"dest": "@D/v", "content": "x", "validate": "grep -q y %s"}),
        ),
        case(
            "copy-validate-no-s",
            "",
            "copy",
            json!({"dest": "@D/v", "content": "x", "validate": "true"}),
        ),
        case(
            "copy-dict",
            "",
            "copy",
            json!({"dest": "@D/j", "content": {"a": [1, "x"], "b": true}}),
        ),
        case(
            "copy-checksum",
            "",
            "copy",
            json!({"dest": "@D/k", "content": "x", "checksum": "abc"}),
        ),
        case(
            "copy-remote-src",
            "echo r > \"$D/s\"",
            "copy",
            json!({"dest": "@D/d", "src": "@D/s", "remote_src": true}),
        ),
        // command / shell
        case(
            "command-quoting",
            "",
            "command",
            json!({"cmd": "printf '%s|' 'a b' \"c'd\" $(x) ;"}),
        ),
        case("command-false", "", "command", json!({"cmd": "false"})),
        case(
            "command-missing",
            "",
            "command",
            json!({"cmd": "hr-no-such-program arg"}),
        ),
        case(
            "command-creates",
            "echo x > \"$D/made\"",
            "command",
            json!({"cmd": "touch @D/other", "creates": "@D/m*"}),
        ),
        case(
            "command-removes",
            "",
            "command",
            json!({"cmd": "true", "removes": "@D/nothing*"}),
        ),
        case(
            "command-chdir-missing",
            "",
            "command",
            json!({"cmd": "ls", "chdir": "@D/nope"}),
        ),
        case(
            "command-argv-stdin",
            "",
            "command",
            json!({"argv": ["cat"], "stdin": "in put"}),
        ),
        case(
            "shell-pipe",
            "",
            "shell",
            json!({"cmd": "echo one; echo two >&2; printf 'a\\nb\\n' | wc -l; exit 3"}),
        ),
        case(
            "shell-chdir",
            "mkdir \"$D/w\"",
            "shell",
            json!({"cmd": "pwd", "chdir": "@D/w"}),
        ),
        // stat, getent, ping
        case(
            "stat-file",
            "printf 'hello' > \"$D/f\"; chmod 640 \"$D/f\"",
            "stat",
            json!({"path": "@D/f"}),
        ),
        case(
            "stat-dir",
            "mkdir \"$D/d\"",
            "stat",
            json!({"path": "@D/d"}),
        ),
        case(
            "stat-link",
            "echo x > \"$D/t\"; ln -s t \"$D/l\"",
            "stat",
            json!({"path": "@D/l"}),
        ),
        case("stat-missing", "", "stat", json!({"path": "@D/nope"})),
        case(
            "getent-root",
            "",
            "getent",
            json!({"database": "passwd", "key": "root"}),
        ),
        case(
            "getent-missing",
            "",
            "getent",
            json!({"database": "passwd", "key": "hr-no-such-user"}),
        ),
        case("ping", "", "ping", json!({})),
    ];
    for (name, setup, module, args) in [
        (
            "check-dir-create",
            "",
            "file",
            json!({"path": "@D/n", "state": "directory"}),
        ),
        (
            "check-copy-change",
            "echo old > \"$D/c\"",
            "copy",
            json!({"dest": "@D/c", "content": "new"}),
        ),
        (
            "check-copy-same",
            "printf 'same' > \"$D/c\"",
            "copy",
            json!({"dest": "@D/c", "content": "same"}),
        ),
        ("check-command", "", "command", json!({"cmd": "touch @D/x"})),
        (
            "check-command-creates",
            "",
            "command",
            json!({"cmd": "touch @D/x", "creates": "@D/x"}),
        ),
        (
            "check-touch",
            "",
            "file",
            json!({"path": "@D/t", "state": "touch"}),
        ),
    ] {
        all.push(Case {
            name,
            setup,
            module,
            args,
            check: true,
        });
    }
    all
}

fn substitute(value: &Value, dir: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("@D", dir)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, dir)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, dir)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn prepare(dir: &str, setup: &str) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("D={}; {setup}", hook_runner::shell::quote(dir)))
        .status()
        .unwrap();
    assert!(status.success(), "setup: {setup}");
}

fn ansible(playbook_bin: &str, case: &Case, dir: &str, work: &std::path::Path) -> Map {
    let out = work.join("result.json");
    let _ = std::fs::remove_file(&out);
    let task = json!({
        "name": case.name,
        case.module: substitute(&case.args, dir),
        "register": "r",
        "ignore_errors": true,
        "check_mode": case.check,
    });
    let dump = json!({
        "copy": {"content": "{{ r | to_json }}", "dest": out.display().to_string()},
        "check_mode": false,
    });
    let play = json!([{"hosts": "localhost", "gather_facts": false, "tasks": [task, dump]}]);
    let path = work.join("play.yml");
    std::fs::write(&path, serde_json::to_string(&play).unwrap()).unwrap();
    let output = Command::new(playbook_bin)
        .arg(&path)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "0")
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        panic!(
            "{}: ansible wrote no result:\n{}",
            case.name,
            String::from_utf8_lossy(&output.stdout)
        )
    });
    match serde_json::from_str(&text).unwrap() {
        Value::Object(map) => map,
        other => panic!("not a mapping: {other}"),
    }
}

async fn ours(case: &Case, dir: &str) -> Map {
    let module = modules::lookup(case.module).expect("module");
    let Value::Object(mut args) = substitute(&case.args, dir) else {
        unreachable!()
    };
    if let Some(cmd) = args.remove("cmd") {
        args.insert("_raw_params".into(), cmd);
    }
    let templar = Templar::new();
    let vars = Map::new();
    let search: Vec<PathBuf> = Vec::new();
    let ctx = ModuleContext {
        host: "localhost",
        conn: &LocalConnection,
        check_mode: case.check,
        diff: false,
        become_: None,
        env: Vec::new(),
        timeout: None,
        templar: &templar,
        scope: Scope {
            vars: &vars,
            search_paths: &search,
        },
        kube: &NoCluster,
        verbosity: 0,
    };
    let args = match module
        .spec()
        .check_names(module.fqcn(), &args)
        .and_then(|_| module.spec().normalize(module.fqcn(), args))
    {
        Ok(args) => args,
        Err(msg) => {
            return json!({"failed": true, "msg": msg})
                .as_object()
                .unwrap()
                .clone()
        }
    };
    module.run(args, &ctx).await.expect("local connection")
}

/// Drops what legitimately differs between two runs or is added by Ansible's executor.
fn comparable(mut result: Map, module: &str) -> Map {
    // The file module's `diff` (state and attributes) is compared too; copy's content diff
    // is only produced under `--diff`, which these runs do not use.
    if module != "file" {
        result.remove("diff");
    }
    for key in [
        "invocation",
        "stdout_lines",
        "stderr_lines",
        "start",
        "end",
        "delta",
        "warnings",
        "deprecations",
        "exception",
        "module_stderr",
        "module_stdout",
        "_ansible_no_log",
        "src",
        "backup_file",
        "elapsed",
    ] {
        result.remove(key);
    }
    if result.get("failed") == Some(&Value::Bool(false)) {
        result.remove("failed");
    }
    result.entry("changed").or_insert(Value::Bool(false));
    // Times in a diff are "now" on each side: keep the keys, not the values.
    if let Some(Value::Object(diff)) = result.get_mut("diff") {
        for side in ["before", "after"] {
            if let Some(Value::Object(values)) = diff.get_mut(side) {
                for key in ["mtime", "atime"] {
                    if let Some(v) = values.get_mut(key) {
                        *v = Value::String("<time>".into());
                    }
                }
            }
        }
    }
    if let Some(Value::Object(stat)) = result.get_mut("stat") {
        for key in [
            "atime", "mtime", "ctime", "inode", "version", "dev", "blocks",
        ] {
            stat.remove(key);
        }
    }
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_match_ansible_core_2_18() {
    let Ok(bin) = std::env::var("HR_ANSIBLE_PLAYBOOK") else {
        eprintln!("skipped: set HR_ANSIBLE_PLAYBOOK to an ansible-core 2.18 ansible-playbook");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let dir = format!("/tmp/hr-diff-{}", std::process::id());
    let mut mismatches = Vec::new();
    // `HR_DIFF_CASES=name,name` runs only those cases.
    let only: Option<Vec<String>> = std::env::var("HR_DIFF_CASES")
        .ok()
        .map(|names| names.split(',').map(str::to_string).collect());
    for case in cases() {
        if only
            .as_ref()
            .is_some_and(|names| !names.iter().any(|n| n == case.name))
        {
            continue;
        }
        prepare(&dir, case.setup);
        let theirs = comparable(ansible(&bin, &case, &dir, work.path()), case.module);
        prepare(&dir, case.setup);
        let mine = comparable(ours(&case, &dir).await, case.module);
        if theirs != mine {
            mismatches.push(format!(
                "{}:\n  ansible: {}\n  ours:    {}",
                case.name,
                Value::Object(theirs),
                Value::Object(mine)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
