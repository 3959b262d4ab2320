//! The built binary's command line: version, bad options, the argv shapes Forklift and users
//! call it with, and the bundled example's dry-run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_hook-runner");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run hook-runner")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A link to the binary under another name, as the image installs it.
fn linked_as(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    std::os::unix::fs::symlink(BIN, &link).expect("symlink");
    link
}

#[test]
fn version_exits_0() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("hook-runner {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_option_exits_5_with_clap_message() {
    let out = run(&["run", "--no-such-option"]);
    assert_eq!(out.status.code(), Some(5));
    let err = text(&out.stderr);
    assert!(
        err.contains("unexpected argument '--no-such-option'"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_option_value_exits_5() {
    let out = run(&["run", "--log-format", "xml"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).contains("xml"));
    let out = run(&["dry-run", "--secret", "no-namespace=file"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).contains("NAMESPACE/NAME=FILE"));
}

#[test]
fn host_key_checking_env_is_read_and_checked() {
    let out = Command::new(BIN)
        .args(["run", "/nonexistent.yml"])
        .env("ANSIBLE_HOST_KEY_CHECKING", "perhaps")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
}

#[test]
fn called_as_ansible_playbook_takes_its_argv() {
    let dir = tempfile::tempdir().unwrap();
    let ap = linked_as(dir.path(), "ansible-playbook");
    let out = Command::new(&ap).arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).starts_with("ansible-playbook "),
        "{}",
        text(&out.stdout)
    );
    // ansible-playbook requires the playbook: no `run` subcommand, no default.
    let out = Command::new(&ap).arg("-v").output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(
        text(&out.stderr).contains("<PLAYBOOK>"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn forklift_argv_creates_the_private_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("runner");
    let playbook = dir.path().join("missing.yml");
    let out = Command::new(BIN)
        .args(["ansible-runner", "run"])
        .arg(&private)
        .arg("-p")
        .arg(&playbook)
        .output()
        .unwrap();
    assert!(private.is_dir(), "{}", text(&out.stderr));
    assert_ne!(
        out.status.code(),
        Some(5),
        "the argv must parse: {}",
        text(&out.stderr)
    );
}

#[test]
fn called_as_ansible_runner_takes_its_argv() {
    let dir = tempfile::tempdir().unwrap();
    let ar = linked_as(dir.path(), "ansible-runner");
    let private = dir.path().join("r");
    let out = Command::new(&ar)
        .arg("run")
        .arg(&private)
        .args(["--playbook", "/nonexistent/playbook.yml"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(private.is_dir());
    let out = Command::new(&ar).args(["run", "/tmp/x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "-p is required");
}

#[test]
fn a_failed_run_ends_with_the_summary_block() {
    // Whatever fails (here: no such playbook), the last lines say so.
    let out = run(&["run", "/nonexistent/hook/playbook.yml"]);
    assert_ne!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    assert!(last.starts_with("hook-runner: exit code "), "{stdout}");
    assert!(stdout.contains("HOOK FAILED: "), "{stdout}");
}

#[test]
fn dry_run_of_the_bundled_example_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("dry-run")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("TASK [Add the VM to the inventory]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("PLAY [Quiesce the application on the VM]"),
        "{stdout}"
    );
    assert!(stdout.contains("TASK [Stop MariaDB]"), "{stdout}");
    assert!(
        stdout.contains("would run: ansible.builtin.service name=mariadb state=stopped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("changed: [localhost]"),
        "add_host changes the inventory: {stdout}"
    );
    assert!(
        stdout.contains("TASK [Record the migration on the VM]"),
        "{stdout}"
    );
    assert!(stdout.contains("PLAY RECAP"), "{stdout}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written to the cwd"
    );
}

#[test]
fn forklift_argv_writes_runner_artifacts_and_the_termination_message() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("runner");
    let term = dir.path().join("termination-log");
    let out = Command::new(BIN)
        .args(["ansible-runner", "run"])
        .arg(&private)
        .args([
            "-p",
            "/nonexistent/hook/playbook.yml",
            "--ident",
            "job1",
            "--termination-log",
        ])
        .arg(&term)
        .output()
        .unwrap();
    let rc = out.status.code().unwrap();
    assert_ne!(rc, 0);
    let artifacts = private.join("artifacts/job1");
    let read = |name: &str| std::fs::read_to_string(artifacts.join(name)).unwrap_or_default();
    assert_eq!(read("rc"), rc.to_string());
    assert_eq!(read("status"), "failed");
    assert!(
        read("command").contains("\"ansible-runner\""),
        "{}",
        read("command")
    );
    assert!(
        read("stdout").contains("HOOK FAILED: "),
        "{}",
        read("stdout")
    );
    let events = std::fs::read_dir(artifacts.join("job_events"))
        .unwrap()
        .count();
    assert!(events >= 1);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&term).unwrap()).unwrap();
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["rc"], rc);
}

#[test]
fn json_log_format_prints_one_object_per_line() {
    let out = run(&[
        "run",
        "/nonexistent/hook/playbook.yml",
        "--log-format",
        "json",
    ]);
    let stdout = text(&out.stdout);
    assert!(!stdout.is_empty());
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "hook_runner_end");
    assert_eq!(last["event_data"]["status"], "failed");
    for line in stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn a_failing_task_is_named_in_the_last_lines_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("playbook.yml");
    std::fs::write(
        &playbook,
        "- name: Quiesce\n  hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: Fine\n      command: \"true\"\n\n    - name: Stop the database\n      ansible.builtin.command: sh -c 'echo no such unit mariadb >&2; exit 5'\n",
    )
    .unwrap();
    let private = dir.path().join("runner");
    let out = Command::new(BIN)
        .args(["ansible-runner", "run"])
        .arg(&private)
        .arg("-p")
        .arg(&playbook)
        .args(["--ident", "f"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    let summary = tail
        .lines()
        .find(|l| l.starts_with("HOOK FAILED: "))
        .unwrap_or_else(|| panic!("no summary in the last lines:\n{tail}"));
    assert!(summary.contains("task \"Stop the database\""), "{summary}");
    assert!(summary.contains("playbook.yml:8"), "{summary}");
    assert!(summary.contains("ansible.builtin.command"), "{summary}");
    assert!(
        summary.contains("on localhost in play \"Quiesce\""),
        "{summary}"
    );
    assert!(summary.contains("no such unit mariadb"), "{summary}");
    assert!(summary.contains("rc=5"), "{summary}");
    let status = std::fs::read_to_string(private.join("artifacts/f/status")).unwrap();
    assert_eq!(status, "failed");
}
