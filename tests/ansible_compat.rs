//! Behaviours Ansible's own integration targets rely on, through the built binary on the
//! local connection: the `ansible` ad-hoc form, several playbooks in one `ansible-playbook`
//! call, `-c`, templated tags, `include_role` dependencies, `ANSIBLE_ROLES_PATH`, templated
//! argument keys, and an `ansible.builtin` module hook-runner lacks behind a false `when:`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_hook-runner");

/// A link to the binary under `name` (its argv0 form) in `dir`.
fn linked_as(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(BIN, &link).expect("symlink");
    }
    link
}

fn run_in(dir: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("HOOK_RUNNER_TERMINATION_LOG", dir.join("termination"))
        .output()
        .expect("run hook-runner")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, body) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        fs::write(path, body).expect("write");
    }
}

#[test]
fn ansible_adhoc_runs_a_module_and_prints_the_minimal_callback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ansible = linked_as(dir.path(), "ansible");
    let out = run_in(
        dir.path(),
        &ansible,
        &[
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-a",
            "echo from-adhoc",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "localhost | CHANGED | rc=0 >>\nfrom-adhoc\n");

    let out = run_in(
        dir.path(),
        &ansible,
        &["all", "-i", "localhost,", "-c", "local", "-m", "ping"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "localhost | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}\n"
    );

    // A relative path starts from the current directory, as for Ansible's ad-hoc runs.
    write(dir.path(), &[("vars/inc.yml", "porter: cable\n")]);
    let out = run_in(
        dir.path(),
        &ansible,
        &[
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-m",
            "include_vars",
            "-a",
            "vars/inc.yml",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("\"porter\": \"cable\""), "{stdout}");

    let out = run_in(
        dir.path(),
        &ansible,
        &[
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-m",
            "shell",
            "-a",
            "exit 3",
        ],
        &[],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.starts_with("localhost | FAILED | rc=3 >>\n"),
        "{stdout}"
    );

    let out = run_in(
        dir.path(),
        &ansible,
        &["nomatch", "-i", "localhost,", "-m", "ping"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("[WARNING]: No hosts matched, nothing to do"),
        "{stderr}"
    );
}

#[test]
fn ansible_playbook_runs_several_playbooks_with_the_connection_option() {
    let dir = tempfile::tempdir().expect("tempdir");
    let play = |msg: &str| {
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: echo {msg}\n      register: r\n    - debug: var=r.stdout\n"
        )
    };
    write(
        dir.path(),
        &[
            ("one.yml", &play("first-book")),
            ("two.yml", &play("second-book")),
        ],
    );
    let apb = linked_as(dir.path(), "ansible-playbook");
    let out = run_in(
        dir.path(),
        &apb,
        &[
            "-i",
            "localhost,",
            "-c",
            "local",
            "one.yml",
            "two.yml",
            "-vv",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let first = stdout
        .find("\"r.stdout\": \"first-book\"")
        .expect("first playbook ran");
    let second = stdout
        .find("\"r.stdout\": \"second-book\"")
        .expect("second playbook ran");
    assert!(first < second, "{stdout}");
    assert!(stdout.contains("1 plays in one.yml"), "{stdout}");

    // Called as ansible-playbook, the output ends with the recap, as ansible-playbook's does
    // (scripts count its lines); hook-runner's own form adds its closing summary.
    write(
        dir.path(),
        &[(
            "fail.yml",
            "- hosts: all
  gather_facts: false
  tasks:
    - fail: msg=expected-failure
",
        )],
    );
    let out = run_in(
        dir.path(),
        &apb,
        &["-i", "localhost,", "-c", "local", "fail.yml"],
        &[],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert_eq!(stdout.matches("expected-failure").count(), 1, "{stdout}");
    let out = run_in(
        dir.path(),
        Path::new(BIN),
        &["run", "-i", "localhost,", "-c", "local", "fail.yml"],
        &[],
    );
    let (stdout, _) = text(&out);
    assert!(stdout.contains("HOOK FAILED"), "{stdout}");
}

#[test]
fn a_builtin_module_hook_runner_lacks_loads_and_fails_only_when_it_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        &[(
            "pb.yml",
            "- hosts: localhost\n  gather_facts: false\n  connection: local\n  tasks:\n\
             \x20   - pip: name=requests\n      when: do_install | default(false)\n\
             \x20   - debug: msg=after-the-skipped-task\n",
        )],
    );
    let out = run_in(dir.path(), Path::new(BIN), &["run", "pb.yml"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("after-the-skipped-task"), "{stdout}");

    let out = run_in(
        dir.path(),
        Path::new(BIN),
        &["run", "pb.yml", "-e", "do_install=true"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains("The module ansible.builtin.pip is not implemented by hook-runner"),
        "{stdout}"
    );

    // A name Ansible does not know either is still a load error.
    write(
        dir.path(),
        &[(
            "typo.yml",
            "- hosts: localhost\n  tasks:\n    - aptt: name=acl\n",
        )],
    );
    let out = run_in(dir.path(), Path::new(BIN), &["run", "typo.yml"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("couldn't resolve module/action 'aptt'"),
        "{stdout}{stderr}"
    );
}

#[test]
fn templated_tags_are_listed_and_selected_with_the_play_vars() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        &[(
            "pb.yml",
            "- hosts: localhost\n  gather_facts: false\n  connection: local\n  vars:\n    the_tags: [tag3]\n  tasks:\n\
             \x20   - name: templated\n      debug: msg=templated-ran\n      tags: \"{{ the_tags }}\"\n\
             \x20   - name: plain\n      debug: msg=plain-ran\n      tags: other\n",
        )],
    );
    let out = run_in(
        dir.path(),
        Path::new(BIN),
        &["run", "pb.yml", "--list-tasks"],
        &[],
    );
    let (stdout, _) = text(&out);
    assert!(stdout.contains("templated\tTAGS: [tag3]"), "{stdout}");
    let out = run_in(
        dir.path(),
        Path::new(BIN),
        &["run", "pb.yml", "--tags", "tag3"],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("templated-ran") && !stdout.contains("plain-ran"),
        "{stdout}"
    );
}

#[test]
fn include_role_runs_dependencies_once_and_roles_path_is_searched() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        &[
            ("shared/a/tasks/main.yml", "- debug: msg=role-a-ran\n"),
            ("shared/b/meta/main.yml", "dependencies:\n  - a\n"),
            ("shared/b/tasks/main.yml", "- debug: msg=role-b-ran\n"),
            ("shared/c/meta/main.yml", "dependencies:\n  - a\n"),
            ("shared/c/tasks/main.yml", "- debug: msg=role-c-ran\n"),
            (
                "play/pb.yml",
                "- hosts: localhost\n  gather_facts: false\n  connection: local\n  tasks:\n\
                 \x20   - include_role: name=b\n    - include_role: name=c\n",
            ),
        ],
    );
    let out = run_in(
        &dir.path().join("play"),
        Path::new(BIN),
        &["run", "pb.yml"],
        &[("ANSIBLE_ROLES_PATH", "../shared")],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.matches("role-a-ran").count(), 1, "{stdout}");
    assert!(
        stdout.find("role-a-ran") < stdout.find("role-b-ran"),
        "{stdout}"
    );
    assert!(stdout.contains("role-c-ran"), "{stdout}");
}

#[test]
fn argument_keys_are_templated() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        &[(
            "pb.yml",
            "- hosts: localhost\n  gather_facts: false\n  connection: local\n  tasks:\n\
             \x20   - set_fact: \"{{ item }}=moo\"\n      with_items: [foo, bar]\n\
             \x20   - assert:\n        that: [foo == 'moo', bar == 'moo']\n",
        )],
    );
    let out = run_in(dir.path(), Path::new(BIN), &["run", "pb.yml"], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
}
