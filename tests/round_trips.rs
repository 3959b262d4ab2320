//! Regression check for the design's "one remote round trip per module" (DESIGN.md, the hot
//! path): the number of SSH sessions (channels that run a command) each module opens per task,
//! counted in the lab sshd, must stay at its designed count. No timing is asserted here (the
//! benchmark suite, scripts/bench.sh, measures time).
//!
//! How it counts: the lab sshd gets a `ForceCommand` wrapper that appends one line per session
//! to a log and then runs the requested command exactly as sshd would (`/bin/sh -c`). For each
//! module the real `hook-runner` binary runs a playbook with the task once, then with it twice;
//! the difference is what one more task costs, whatever per-host set-up the run does once.
//! Stateful modules are counted both when the second task changes something (another path) and
//! when it is a no-op (the same path again).

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use lab::SshHost;

/// Sessions one task of a module is designed to open.
const DESIGNED: u64 = 1;
const BASE: &str = "/home/hrtest/round-trips";

struct Counter {
    dir: tempfile::TempDir,
}

impl Counter {
    fn new() -> Counter {
        let dir = tempfile::Builder::new()
            .prefix("hr-roundtrips-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let counter = Counter { dir };
        let script = format!(
            "#!/bin/sh\n\
             printf '%s\\n' \"$(printf '%s' \"$SSH_ORIGINAL_COMMAND\" | tr '\\n' ' ' | cut -c1-300)\" >> {log}\n\
             case \"$SSH_ORIGINAL_COMMAND\" in\n\
             \x20 sftp|internal-sftp|*/sftp-server) exec /usr/lib/openssh/sftp-server ;;\n\
             esac\n\
             exec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
            log = counter.log().display()
        );
        fs::write(counter.wrapper(), script).unwrap();
        fs::set_permissions(counter.wrapper(), fs::Permissions::from_mode(0o755)).unwrap();
        counter.clear();
        counter
    }

    fn wrapper(&self) -> PathBuf {
        self.dir.path().join("count-session")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("sessions.log")
    }

    fn clear(&self) {
        fs::write(self.log(), "").unwrap();
        fs::set_permissions(self.log(), fs::Permissions::from_mode(0o666)).unwrap();
    }

    fn sessions(&self) -> Vec<String> {
        fs::read_to_string(self.log())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Runs `tasks` (YAML task list items, indented by 4) on the host; returns the sessions opened.
fn sessions_of(host: &SshHost, counter: &Counter, work: &Path, tasks: &[String]) -> Vec<String> {
    let reset = host.ssh_command(&format!("rm -rf {BASE} && mkdir {BASE}"));
    assert!(reset.status.success(), "resetting {BASE}: {reset:?}");
    let mut playbook = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for t in tasks {
        playbook.push_str(t);
    }
    let path = work.join("playbook.yml");
    fs::write(&path, &playbook).unwrap();
    counter.clear();
    let out = Command::new(env!("CARGO_BIN_EXE_hook-runner"))
        .arg("run")
        .arg("-i")
        .arg(work.join("inventory.ini"))
        .arg(&path)
        .env("HOOK_RUNNER_TERMINATION_LOG", work.join("termination-log"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hook-runner failed on\n{playbook}\nstdout:\n{}\nstderr:\n{}\nsshd log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        host.log()
    );
    counter.sessions()
}

/// A module task whose target path is `{path}`.
struct Case {
    module: &'static str,
    task: &'static str,
    stateful: bool,
}

const CASES: &[Case] = &[
    Case {
        module: "command",
        task: "    - command: /bin/echo {path}\n",
        stateful: false,
    },
    Case {
        module: "shell",
        task: "    - shell: echo {path} | cat\n",
        stateful: false,
    },
    Case {
        module: "file",
        task: "    - file:\n        path: {path}\n        state: directory\n        mode: \"0755\"\n",
        stateful: true,
    },
    Case {
        module: "copy",
        task: "    - copy:\n        dest: {path}\n        content: \"some content\\n\"\n        mode: \"0644\"\n",
        stateful: true,
    },
    Case {
        module: "stat",
        task: "    - stat:\n        path: {path}\n",
        stateful: false,
    },
];

fn task(case: &Case, name: &str) -> String {
    case.task.replace("{path}", &format!("{BASE}/{name}"))
}

#[test]
fn each_module_opens_its_designed_number_of_ssh_sessions_per_task() {
    if !lab::require_root("each_module_opens_its_designed_number_of_ssh_sessions_per_task") {
        return;
    }
    let counter = Counter::new();
    let host = SshHost::options()
        .config(&format!("ForceCommand {}", counter.wrapper().display()))
        .start_loopback()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    fs::write(
        work.path().join("inventory.ini"),
        format!(
            "target ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}\n",
            host.address(),
            host.port(),
            host.user(),
            host.key_path().display()
        ),
    )
    .unwrap();

    let mut report = String::new();
    let mut wrong = Vec::new();
    for case in CASES {
        let one = sessions_of(&host, &counter, work.path(), &[task(case, "a")]);
        let mut variants = vec![("another", task(case, "b"))];
        if case.stateful {
            variants.push(("no-op repeat", task(case, "a")));
        }
        for (what, second) in variants {
            let two = sessions_of(&host, &counter, work.path(), &[task(case, "a"), second]);
            let per_task = two.len() as u64 - (one.len() as u64).min(two.len() as u64);
            let setup = one.len() as u64 - per_task.min(one.len() as u64);
            let _ = writeln!(
                report,
                "{:<8} ({what}): {per_task} session(s) per task, {setup} per run besides",
                case.module
            );
            if per_task != DESIGNED {
                wrong.push(format!(
                    "{} ({what}): {per_task} sessions per task, designed {DESIGNED}; sessions of the two-task run:\n  {}",
                    case.module,
                    two.join("\n  ")
                ));
            }
        }
    }
    eprintln!("SSH sessions per module:\n{report}");
    assert!(
        wrong.is_empty(),
        "modules open more SSH sessions than designed:\n{}",
        wrong.join("\n")
    );
}
