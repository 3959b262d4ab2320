//! Regression check for the design rule "one remote round trip per module" (the hot path of
//! every task): the number of SSH sessions (channels that run a command) each module opens per task,
//! counted in the lab sshd, must stay at its designed count. No timing is asserted here (the
//! benchmark suite, scripts/bench.sh, measures time).
//!
//! How it counts: the lab sshd gets a `ForceCommand` wrapper that appends one line per session
//! to a log and then runs the requested command exactly as sshd would (`/bin/sh -c`). For each
//! module the real `hook-runner` binary runs a playbook with the task once, then with it twice;
//! the difference is what one more task costs, whatever per-host set-up the run does once.
//! Stateful modules are counted both when the second task changes something (another path) and
//! when it is a no-op (the same path again).
//!
//! The same runs also count the programs each module's remote script starts (a
//! process per helper tool is what a task costs on the target, beyond the round trip). The
//! wrapper puts a directory of shims first on the command's PATH: one symlink per program of
//! the usual bin directories, to a script that logs its name and `exec`s the real program. Each
//! module has a budget of such programs per task ([`Case::programs`]), the count this design
//! reached; a change that adds a helper process fails here and must raise the budget on
//! purpose. Programs run by absolute path (`/bin/sh`, `command: /bin/echo`) are not counted.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use lab::SshHost;

#[path = "support/sshd.rs"]
mod sshd;

const BASE: &str = "/home/hrtest/round-trips";

struct Counter {
    dir: tempfile::TempDir,
}

/// The directories whose programs get a counting shim.
const BIN_DIRS: &[&str] = &["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"];

impl Counter {
    fn new() -> Counter {
        let dir = tempfile::Builder::new()
            .prefix("hr-roundtrips-")
            .tempdir()
            .unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let counter = Counter { dir };
        let real_path = BIN_DIRS.join(":");
        let script = format!(
            "#!/bin/sh\n\
             printf '%s\\n' \"$(printf '%s' \"$SSH_ORIGINAL_COMMAND\" | tr '\\n' ' ' | cut -c1-300)\" >> {log}\n\
             case \"$SSH_ORIGINAL_COMMAND\" in\n\
             \x20 sftp|internal-sftp|*/sftp-server) exec /usr/lib/openssh/sftp-server ;;\n\
             esac\n\
             PATH={shims}:{real_path}; export PATH\n\
             exec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
            log = counter.log().display(),
            shims = counter.shims().display(),
        );
        fs::write(counter.wrapper(), script).unwrap();
        fs::set_permissions(counter.wrapper(), fs::Permissions::from_mode(0o755)).unwrap();
        counter.make_shims(&real_path);
        counter.clear();
        counter
    }

    fn shims(&self) -> PathBuf {
        self.dir.path().join("shims")
    }

    fn programs_log(&self) -> PathBuf {
        self.dir.path().join("programs.log")
    }

    /// One symlink per program name to a script that logs the name it was called by, then
    /// runs the real program with the real PATH (so what the program itself starts is its
    /// business, not counted).
    fn make_shims(&self, real_path: &str) {
        let shims = self.shims();
        fs::create_dir(&shims).unwrap();
        fs::set_permissions(&shims, fs::Permissions::from_mode(0o755)).unwrap();
        let counting = self.dir.path().join("count-program");
        fs::write(
            &counting,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"${{0##*/}}\" >> {log}\nPATH={real_path}; export PATH\nexec \"${{0##*/}}\" \"$@\"\n",
                log = self.programs_log().display()
            ),
        )
        .unwrap();
        fs::set_permissions(&counting, fs::Permissions::from_mode(0o755)).unwrap();
        for dir in BIN_DIRS {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let link = shims.join(entry.file_name());
                if !link.exists() {
                    std::os::unix::fs::symlink(&counting, &link).unwrap();
                }
            }
        }
    }

    fn wrapper(&self) -> PathBuf {
        self.dir.path().join("count-session")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("sessions.log")
    }

    fn clear(&self) {
        for log in [self.log(), self.programs_log()] {
            fs::write(&log, "").unwrap();
            fs::set_permissions(&log, fs::Permissions::from_mode(0o666)).unwrap();
        }
    }

    fn programs(&self) -> Vec<String> {
        fs::read_to_string(self.programs_log())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn sessions(&self) -> Vec<String> {
        fs::read_to_string(self.log())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// What a run started on the host.
struct Opened {
    sessions: Vec<String>,
    /// Programs the scripts started through PATH, by name, in order.
    programs: Vec<String>,
}

/// Runs `tasks` (YAML task list items, indented by 4) on the host; returns what it started.
fn sessions_of(host: &SshHost, counter: &Counter, work: &Path, tasks: &[String]) -> Opened {
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
    Opened {
        sessions: counter.sessions(),
        programs: counter.programs(),
    }
}

/// A module task whose target path is `{path}` (`{big}`: a 300 KiB controller file).
struct Case {
    module: &'static str,
    task: &'static str,
    stateful: bool,
    /// SSH sessions per task when it changes something (another path) and when it is a no-op
    /// (the same path again).
    sessions: (u64, u64),
    /// Programs the module's script may start per task (found through PATH), likewise.
    programs: (u64, u64),
}

const CASES: &[Case] = &[
    Case {
        module: "command",
        task: "    - command: /bin/echo {path}\n",
        stateful: false,
        sessions: (1, 1),
        programs: (0, 0),
    },
    Case {
        module: "shell",
        task: "    - shell: echo {path} | cat\n",
        stateful: false,
        sessions: (1, 1),
        programs: (1, 1),
    },
    Case {
        module: "file",
        task: "    - file:\n        path: {path}\n        state: directory\n        mode: \"0755\"\n",
        stateful: true,
        sessions: (1, 1),
        // mkdir, one stat (setattrs and the result share it).
        programs: (2, 1),
    },
    Case {
        module: "copy",
        task: "    - copy:\n        dest: {path}\n        content: \"some content\\n\"\n        mode: \"0644\"\n",
        stateful: true,
        sessions: (1, 1),
        // The connection's input reader (head), cat into the temp file, sha1sum of it, chmod,
        // mv, one stat; a no-op: head, sha1sum of dest, stat.
        programs: (6, 3),
    },
    Case {
        module: "copy src",
        task: "    - copy:\n        src: {big}\n        dest: {path}\n        mode: \"0644\"\n",
        stateful: true,
        // A big file is sent only when it differs: a probe first, then the transfer; a no-op
        // is answered by the probe alone.
        sessions: (2, 1),
        // Probe of an absent dest: nothing; transfer: head, cat, sha1sum, chmod, mv, stat.
        // No-op probe: sha1sum of dest, stat.
        programs: (6, 2),
    },
    Case {
        module: "stat",
        task: "    - stat:\n        path: {path}\n",
        stateful: false,
        sessions: (1, 1),
        // A missing path: nothing to run.
        programs: (0, 0),
    },
    Case {
        module: "stat dir",
        task: "    - stat:\n        path: /home/hrtest/round-trips\n",
        stateful: false,
        sessions: (1, 1),
        // One stat for every field, file (MIME type), lsattr (attributes).
        programs: (3, 3),
    },
];

fn task(case: &Case, name: &str, big: &Path) -> String {
    case.task
        .replace("{path}", &format!("{BASE}/{name}"))
        .replace("{big}", &big.display().to_string())
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
    sshd::write_target_inventory(work.path(), &host);

    let big = work.path().join("big.bin");
    fs::write(&big, vec![b'x'; 300 * 1024]).unwrap();
    let mut report = String::new();
    let mut wrong = Vec::new();
    for case in CASES {
        let first = task(case, "a", &big);
        let one = sessions_of(&host, &counter, work.path(), std::slice::from_ref(&first));
        let mut variants = vec![(
            "another",
            task(case, "b", &big),
            case.sessions.0,
            case.programs.0,
        )];
        if case.stateful {
            variants.push((
                "no-op repeat",
                first.clone(),
                case.sessions.1,
                case.programs.1,
            ));
        }
        for (what, second, designed, budget) in variants {
            let two = sessions_of(&host, &counter, work.path(), &[first.clone(), second]);
            let per_task = added(&one.sessions, &two.sessions);
            let setup = one.sessions.len() as u64 - per_task.min(one.sessions.len() as u64);
            let programs = added(&one.programs, &two.programs);
            let second_task_programs = &two.programs[one.programs.len().min(two.programs.len())..];
            let _ = writeln!(
                report,
                "{:<8} ({what}): {per_task} session(s) per task (designed {designed}), {setup} per run besides; \
                 {programs} program(s) per task (budget {budget}): {}",
                case.module,
                second_task_programs.join(" ")
            );
            if per_task != designed {
                wrong.push(format!(
                    "{} ({what}): {per_task} sessions per task, designed {designed}; sessions of the two-task run:\n  {}",
                    case.module,
                    two.sessions.join("\n  ")
                ));
            }
            if programs > budget {
                wrong.push(format!(
                    "{} ({what}): its script starts {programs} programs per task, budget {budget}: {}",
                    case.module,
                    second_task_programs.join(" ")
                ));
            }
        }
    }
    eprintln!("SSH sessions and remote programs per module:\n{report}");
    assert!(
        wrong.is_empty(),
        "modules cost more on the target than designed:\n{}",
        wrong.join("\n")
    );
}

/// How many more entries the two-task run logged than the one-task run.
fn added(one: &[String], two: &[String]) -> u64 {
    (two.len() as u64).saturating_sub(one.len() as u64)
}
