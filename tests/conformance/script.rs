//! Running a `runme.sh` target as ansible-test does: its own script, in its own directory,
//! with hook-runner on `PATH` as `ansible-playbook` and `ansible`.
//!
//! - The script's `set -e`, exit codes and greps decide; nothing of it is transcribed.
//! - `PATH` starts with a directory holding `ansible-playbook` and `ansible` links to the
//!   hook-runner binary (its argv0 forms); directories holding a real Ansible are left out.
//! - ansible-test's environment: `OUTPUT_DIR`, `INVENTORY_PATH` (`../../inventory`, the lab
//!   host as `testhost`), `ANSIBLE_TEST_PYTHON_INTERPRETER`.
//! - Every hook-runner the script starts writes its JSON events to a file of its own
//!   (`HOOK_RUNNER_EVENT_LOG`): the harness reads the runs there (tasks, failures, whether
//!   each run reached its end).
//! - The script runs as root on this machine, so it runs in a mount namespace where `/etc`
//!   is a copy, and `/home` and `/var/spool` are empty: users, sudoers files and crontabs it
//!   makes vanish with it. Its process tree is killed when it overruns its budget.

use std::fs::{self, File};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::events::{self, Parsed};

/// One hook-runner run the script made.
#[derive(Debug)]
pub struct ScriptRun {
    /// The run's event file name (`<nanoseconds>-<pid>.jsonl`), for the logs.
    pub file: String,
    pub parsed: Parsed,
}

/// What the script did.
#[derive(Debug)]
pub struct ScriptResult {
    /// The script's exit code; `None` when it was killed.
    pub rc: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub runs: Vec<ScriptRun>,
    /// Where the script stopped: its last traced command (`set -x`) and what was printed on
    /// stderr after it, else the last lines of stderr.
    pub stderr_tail: String,
    pub stdout_tail: String,
    /// A panic message seen in the script's output (hook-runner crashed).
    pub panic: Option<String>,
}

/// Everything the script needs, prepared by the caller.
pub struct Script<'a> {
    /// `<work>/targets/<name>`: the copied target.
    pub dir: &'a Path,
    pub work: &'a Path,
    pub output_dir: &'a Path,
    pub inventory: &'a Path,
    pub budget: Duration,
    /// Where the script's stdout/stderr are kept (`<logs>/runme.stdout`, `.stderr`).
    pub logs: &'a Path,
}

/// `<work>/bin`: `ansible-playbook` and `ansible` as links to hook-runner.
fn shims(work: &Path) -> Result<PathBuf> {
    let bin = work.join("bin");
    fs::create_dir_all(&bin)?;
    let exe = Path::new(env!("CARGO_BIN_EXE_hook-runner"));
    for name in ["ansible-playbook", "ansible"] {
        symlink(exe, bin.join(name))?;
    }
    Ok(bin)
}

/// The caller's `PATH` without directories holding a real Ansible, after the shims.
fn script_path(shims: &Path, inherited: &str) -> String {
    let mut dirs = vec![shims.display().to_string()];
    dirs.extend(
        inherited
            .split(':')
            .filter(|d| !d.is_empty() && !Path::new(d).join("ansible-playbook").exists())
            .map(str::to_string),
    );
    dirs.join(":")
}

/// The private `/etc`, `/home` and `/var/spool` of the script's mount namespace.
fn private_dirs(work: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let root = work.join("private");
    let etc = root.join("etc");
    fs::create_dir_all(&root)?;
    let out = Command::new("cp")
        .args(["-a", "/etc"])
        .arg(&etc)
        .output()
        .context("running cp -a /etc")?;
    if !out.status.success() {
        anyhow::bail!(
            "copying /etc failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let home = root.join("home");
    let spool = root.join("spool");
    for dir in [&home, &spool] {
        fs::create_dir_all(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    }
    Ok((etc, home, spool))
}

/// Runs `./runme.sh` (see the module doc).
pub fn run(script: &Script<'_>) -> Result<ScriptResult> {
    let bin = shims(script.work)?;
    let events_dir = script.work.join("events");
    fs::create_dir_all(&events_dir)?;
    let (etc, home, spool) = private_dirs(script.work)?;
    let q = |p: &Path| hook_runner::shell::quote(&p.display().to_string());
    let inner = format!(
        "mount --bind {etc} /etc && mount --bind {home} /home && mount --bind {spool} /var/spool \
         && cd {dir} && exec ./runme.sh",
        etc = q(&etc),
        home = q(&home),
        spool = q(&spool),
        dir = q(script.dir),
    );
    let stdout_path = script.logs.join("runme.stdout");
    let stderr_path = script.logs.join("runme.stderr");
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(&inner)
        .env(
            "PATH",
            script_path(
                &bin,
                &std::env::var("PATH").unwrap_or_else(|_| {
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
                }),
            ),
        )
        .env("OUTPUT_DIR", script.output_dir)
        .env("INVENTORY_PATH", script.inventory)
        .env("HOOK_RUNNER_EVENT_LOG", &events_dir)
        .env(
            "HOOK_RUNNER_TERMINATION_LOG",
            script.work.join("termination"),
        )
        .env(
            "ANSIBLE_TEST_PYTHON_INTERPRETER",
            crate::layout::target_python().unwrap_or_else(|| PathBuf::from("python3")),
        )
        .env("ANSIBLE_TEST_PYTHON_VERSION", "3")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path)?)
        .stderr(File::create(&stderr_path)?)
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting unshare for runme.sh")?;
    let (rc, timed_out) = loop {
        if let Some(status) = child.try_wait()? {
            break (status.code(), false);
        }
        if started.elapsed() > script.budget {
            lab::util::kill_tree(child.id() as i32, Duration::from_secs(2));
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    let panic = stdout
        .lines()
        .chain(stderr.lines())
        .find(|l| l.contains("panicked at"))
        .map(str::to_string);
    Ok(ScriptResult {
        rc,
        timed_out,
        elapsed,
        runs: read_runs(&events_dir, script.logs)?,
        stderr_tail: last_command(&stderr).unwrap_or_else(|| tail(&stderr, 3)),
        stdout_tail: tail(&stdout, 3),
        panic,
    })
}

/// The runs' event files, in the order they started; each is kept beside the logs.
fn read_runs(events_dir: &Path, logs: &Path) -> Result<Vec<ScriptRun>> {
    let mut files: Vec<PathBuf> = fs::read_dir(events_dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    // `<nanoseconds>-<pid>`: the numeric prefix orders them.
    files.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('-').next())
            .and_then(|n| n.parse::<u128>().ok())
            .unwrap_or(0)
    });
    let mut runs = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let text = fs::read_to_string(path).unwrap_or_default();
        let _ = fs::write(logs.join(format!("run-{:03}.json", i + 1)), &text);
        runs.push(ScriptRun {
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            parsed: events::parse(&text),
        });
    }
    Ok(runs)
}

/// `after `CMD`: MESSAGE` from a `set -x` trace: the last traced command and the lines after
/// it (its own error output).
fn last_command(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let at = lines.iter().rposition(|l| l.starts_with('+'))?;
    let command = lines[at].trim_start_matches('+').trim();
    let after: Vec<&str> = lines[at + 1..]
        .iter()
        .rev()
        .take(3)
        .rev()
        .copied()
        .collect();
    Some(if after.is_empty() {
        format!("after `{command}`")
    } else {
        format!("after `{command}`: {}", after.join(" / "))
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

/// Whether the script expects a run to end with `error`: some string the script quotes (a
/// grep pattern, an expected message) of at least 12 characters occurs in it. A load error
/// the script does not expect means the run did not run, whatever its greps then say.
pub fn expects_error(script_text: &str, error: &str) -> bool {
    quoted_strings(script_text)
        .iter()
        .map(|s| {
            s.replace('\\', "")
                .trim_start_matches("ERROR! ")
                .to_string()
        })
        .filter(|s| s.chars().count() >= 12)
        .any(|s| error.contains(s.as_str()))
}

fn quoted_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['\'', '"'] {
        for line in text.lines() {
            let parts: Vec<&str> = line.split(quote).collect();
            // Odd-indexed parts are inside the quotes.
            for (i, part) in parts.iter().enumerate() {
                if i % 2 == 1 && i + 1 < parts.len() {
                    out.push(part.to_string());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_expected_only_when_the_script_quotes_a_part_of_it() {
        let script = "ansible-playbook x.yml 2>&1 | grep 'ERROR! The requested handler'\n\
                      grep \"ok=1\" out\n";
        assert!(expects_error(
            script,
            "The requested handler 'h' was not found in either the main handlers list"
        ));
        // Short quoted strings (`ok=1`) do not make any error expected.
        assert!(!expects_error(script, "ok=1 and a load error"));
        assert!(!expects_error(script, "the module 'tempfile' is unknown"));
    }

    #[test]
    fn the_stop_is_the_last_traced_command_and_its_output() {
        let stderr = "+ ansible-playbook a.yml\n[WARNING]: x\n+ grep -c ok out\n+ ansible-inventory --list\n\
                      ./runme.sh: line 5: ansible-inventory: command not found\n";
        assert_eq!(
            last_command(stderr).as_deref(),
            Some("after `ansible-inventory --list`: ./runme.sh: line 5: ansible-inventory: command not found")
        );
        assert_eq!(last_command("no trace\n"), None);
    }

    #[test]
    fn the_path_puts_the_shims_first_and_drops_a_real_ansible() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("venv");
        fs::create_dir_all(&real).unwrap();
        fs::write(real.join("ansible-playbook"), "").unwrap();
        let path = script_path(
            Path::new("/shims"),
            &format!("{}::/usr/bin", real.display()),
        );
        assert_eq!(path, "/shims:/usr/bin");
    }
}
