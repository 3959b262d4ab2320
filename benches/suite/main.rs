//! hook-runner's benchmark suite: hook-runner against ansible-core 2.18 stock, with
//! pipelining and with Mitogen, on the same lab targets in the same run, alternating.
//!
//! Run it with `scripts/bench.sh [ARGS]` (builds the release binary, this driver and the peers'
//! venv first, then runs `target/release/hook-runner-bench [ARGS]`):
//!
//! - `--quick`: one run per scenario (development); `--runs N` (or `BENCH_RUNS`, default 5);
//! - `--write-readme` (or `BENCH_WRITE_README=1`): writes the tables into README.md between the
//!   `<!-- bench:begin -->` / `<!-- bench:end -->` markers;
//! - scenario names (`seed tasks fanout startup bigfile`) to run only those.
//!
//! Scenarios are in `scenarios.rs` and `seed.rs`, how a run is measured in `measure.rs`, the
//! runners' configurations in `peers.rs`, the table and the target checks in `report.rs`.

mod counter;
mod measure;
mod peers;
mod report;
mod scenarios;
mod seed;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::report::Scenario;
use crate::scenarios::Ctx;

const ALL: &[&str] = &["startup", "tasks", "bigfile", "fanout", "seed"];

struct Args {
    quick: bool,
    runs: usize,
    write_readme: bool,
    scenarios: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let env_flag =
        |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    let mut args = Args {
        quick: env_flag("BENCH_QUICK"),
        runs: std::env::var("BENCH_RUNS")
            .ok()
            .map(|v| v.parse().context("BENCH_RUNS must be a number"))
            .transpose()?
            .unwrap_or(5),
        write_readme: env_flag("BENCH_WRITE_README"),
        scenarios: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--write-readme" => args.write_readme = true,
            "--runs" => {
                args.runs = it
                    .next()
                    .context("--runs needs a number")?
                    .parse()
                    .context("--runs needs a number")?
            }
            name if ALL.contains(&name) => args.scenarios.push(name.to_string()),
            other => bail!(
                "unknown argument {other:?} (use --quick, --runs N, --write-readme, or scenarios: {})",
                ALL.join(" ")
            ),
        }
    }
    if args.quick {
        args.runs = 1;
    }
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if args.scenarios.is_empty() {
        args.scenarios = ALL.iter().map(|s| s.to_string()).collect();
    }
    Ok(args)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = parse_args()?;
    if !lab::is_root() {
        bail!("the suite needs root (the lab starts sshd, namespaces and a systemd VM)");
    }
    measure::become_subreaper()?;
    // benches/ -> the workspace root.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(&manifest).to_path_buf();
    let peers = peers::Peers::from_env(&root)?;
    // Short path: Ansible's and the floor's control sockets live below it.
    let scratch = tempfile::Builder::new().prefix("hrb-").tempdir_in("/tmp")?;
    let ctx = Ctx {
        peers,
        root: root.clone(),
        scratch: scratch.path().to_path_buf(),
        runs: args.runs,
        quick: args.quick,
    };
    let header = header(&ctx)?;
    eprintln!("{header}");
    let mut results: Vec<Scenario> = Vec::new();
    let mut failures = Vec::new();
    for name in &args.scenarios {
        let started = std::time::Instant::now();
        eprintln!("bench: == {name} ==");
        let result = match name.as_str() {
            "startup" => scenarios::startup(&ctx),
            "tasks" => scenarios::tasks(&ctx),
            "bigfile" => scenarios::bigfile(&ctx),
            "fanout" => scenarios::fanout(&ctx),
            "seed" => scenarios::seed(&ctx),
            _ => unreachable!("checked in parse_args"),
        };
        match result {
            Ok(s) => {
                eprintln!(
                    "bench: {name} took {:.0} s\n{}",
                    started.elapsed().as_secs_f64(),
                    report::scenario_table(&s)
                );
                results.push(s);
            }
            Err(e) => {
                eprintln!("bench: scenario {name} could not run: {e:#}");
                failures.push(format!("- **{name}** could not run: {}", first_line(&e)));
            }
        }
    }
    let mut body = header;
    body.push_str(&format!("Load at the end: {}.\n\n", load_average()));
    for s in &results {
        body.push_str(&report::scenario_table(s));
        body.push('\n');
    }
    for f in &failures {
        body.push_str(f);
        body.push('\n');
    }
    body.push_str("\n**Targets**\n\n");
    body.push_str(&report::targets(&results));
    println!("\n{body}");
    if args.write_readme {
        report::write_readme(&root.join("README.md"), &body)?;
        eprintln!("bench: README.md updated");
    }
    Ok(())
}

fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}").lines().next().unwrap_or("").to_string()
}

/// Date, machine, load, versions: what a reader needs to weigh the figures.
fn header(ctx: &Ctx) -> Result<String> {
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let version = |cmd: &mut Command| -> String {
        cmd.output()
            .ok()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .unwrap_or_else(|| "?".into())
    };
    let hr = version(Command::new(&ctx.peers.hook_runner).arg("--version"));
    let mut peers = "Ansible peers: not installed (skipped)".to_string();
    if let Some(venv) = &ctx.peers.venv {
        let list = version(
            Command::new(venv.join("bin/python"))
                .args(["-c", "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in ['ansible', 'ansible-core', 'mitogen', 'kubernetes']))"]),
        );
        peers = format!("peers: {list} (PyPI, in {})", venv.display());
    }
    Ok(format!(
        "Run of {date} on {cores} cores, {} runs per scenario{} (median shown); load before the run: {}.\n{hr}; {peers}; {}.\n\n",
        ctx.runs,
        if ctx.quick { " (quick mode)" } else { "" },
        load_average(),
        ssh_version()
    ))
}

fn ssh_version() -> String {
    Command::new("ssh")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
        .unwrap_or_else(|_| "ssh ?".into())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
