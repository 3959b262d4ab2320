//! Running one playbook with hook-runner, bounded in time, and reading its event stream.
//!
//! hook-runner gets the target's budget as `--timeout` (it then stops itself with exit code 99);
//! the harness kills it by pid when it overruns that by [`KILL_GRACE`] (a hang in the runner
//! itself), so one target can never eat the suite's budget.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::events::{self, Parsed};

/// How much longer than its own `--timeout` hook-runner may take before it is killed.
pub const KILL_GRACE: Duration = Duration::from_secs(20);

/// One playbook run to do.
pub struct Run<'a> {
    pub playbook: &'a Path,
    pub inventory: Option<&'a Path>,
    pub args: &'a [&'a str],
    pub cwd: &'a Path,
    pub budget: Duration,
    /// Where stdout/stderr are kept for inspection (`<logs>.json`, `<logs>.stderr`).
    pub logs: PathBuf,
    /// The target's writable output directory, exported as `OUTPUT_DIR` as ansible-test does
    /// (targets read it with `lookup('env', 'OUTPUT_DIR')`).
    pub output_dir: Option<&'a Path>,
}

/// What a run did.
#[derive(Debug)]
pub struct Ran {
    /// The exit code; `None` when killed.
    pub rc: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub parsed: Parsed,
    /// The last lines of stderr (for runs that crash or fail before any event).
    pub stderr_tail: String,
}

/// Runs hook-runner on `run.playbook`.
pub fn run(run: &Run<'_>) -> Result<Ran> {
    let stdout_path = run.logs.with_extension("json");
    let stderr_path = run.logs.with_extension("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hook-runner"));
    cmd.arg("run").args(["--log-format", "json"]);
    cmd.arg("--timeout").arg(run.budget.as_secs().to_string());
    if let Some(inventory) = run.inventory {
        cmd.arg("-i").arg(inventory);
    }
    cmd.args(run.args)
        .arg(run.playbook)
        .current_dir(run.cwd)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path)?)
        .stderr(File::create(&stderr_path)?)
        // The termination log is the pod's; never write /dev/termination-log from a test.
        .env(
            "HOOK_RUNNER_TERMINATION_LOG",
            run.logs.with_extension("termination"),
        );
    if let Some(dir) = run.output_dir {
        cmd.env("OUTPUT_DIR", dir);
    }
    let started = Instant::now();
    let mut child = spawn_retrying(&mut cmd)?;
    let deadline = run.budget + KILL_GRACE;
    let (rc, timed_out) = loop {
        if let Some(status) = child.try_wait()? {
            break (status.code(), status.code() == Some(99));
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    Ok(Ran {
        rc,
        timed_out,
        elapsed,
        parsed: events::parse(&stdout),
        stderr_tail: tail(&stderr, 5),
    })
}

/// Starts hook-runner; the binary can be briefly missing while a concurrent `cargo build`
/// relinks it, so a missing file is retried for a while.
fn spawn_retrying(cmd: &mut Command) -> Result<std::process::Child> {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        match cmd.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e).context("starting hook-runner"),
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}
