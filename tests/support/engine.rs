//! Shared helpers for the engine tests: a collecting reporter, a playbook runner on
//! temporary directories (localhost through the local connection, or an inventory written
//! beside the playbook), dry-run, and the binary run on a playbook (exit code and output).
#![allow(dead_code)]

use hook_runner::engine::{run_playbook, Mode, RunOptions};
use hook_runner::report::{Event, HostStats, Reporter, Status};
use hook_runner::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Keeps every event.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<Event>>);

impl Reporter for Collect {
    fn event(&self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// A finished run: exit code and events.
pub struct Outcome {
    pub rc: i32,
    pub events: Vec<Event>,
    pub dir: tempfile::TempDir,
}

impl Outcome {
    /// Final (non-item) results of the task named `name`, per host.
    pub fn results(&self, name: &str) -> Vec<(String, Status, Map)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::HostResult {
                    host,
                    task,
                    status,
                    result,
                    item: None,
                    ..
                } if task.name == name => Some((host.clone(), *status, result.clone())),
                _ => None,
            })
            .collect()
    }

    /// The one final result of `name` on `host`.
    pub fn result(&self, name: &str, host: &str) -> (Status, Map) {
        let found: Vec<_> = self
            .results(name)
            .into_iter()
            .filter(|(h, _, _)| h == host)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one result of '{name}' on {host}, got {found:?}\nevents: {:#?}",
            self.events
        );
        let (_, s, r) = found.into_iter().next().unwrap();
        (s, r)
    }

    /// Item results of `name` (item labels and statuses).
    pub fn items(&self, name: &str) -> Vec<(Value, Status)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::HostResult {
                    task,
                    status,
                    item: Some(item),
                    ..
                } if task.name == name => Some((item.clone(), *status)),
                _ => None,
            })
            .collect()
    }

    /// Names of the tasks started, in order (handlers included).
    pub fn task_names(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::TaskStart { task } | Event::HandlerStart { task } => Some(task.name.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn stats(&self, host: &str) -> HostStats {
        for e in &self.events {
            if let Event::Stats { hosts, .. } = e {
                if let Some((_, s)) = hosts.iter().find(|(h, _)| h == host) {
                    return s.clone();
                }
            }
        }
        panic!("no stats for {host}: {:#?}", self.events)
    }

    /// The `msg` of a debug task on localhost.
    pub fn debug_msg(&self, name: &str) -> Value {
        let (_, r) = self.result(name, "localhost");
        r.get("msg").cloned().unwrap_or(Value::Null)
    }

    pub fn end_error(&self) -> Option<String> {
        self.events.iter().find_map(|e| match e {
            Event::PlaybookEnd { error, .. } => error.clone(),
            _ => None,
        })
    }
}

/// Writes `files` (relative path, content) below `dir`, making the directories they need.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

/// Runs the engine with `opts`: its exit code and every event it reported.
pub async fn run_with(opts: &RunOptions) -> (i32, Vec<Event>) {
    let reporter = Collect::default();
    let rc = run_playbook(opts, &reporter).await;
    (rc, reporter.0.into_inner().unwrap())
}

/// Writes `files` (relative path, content) into a temp dir, then runs `playbook.yml` there.
pub async fn run_files(files: &[(&str, &str)], configure: impl FnOnce(&mut RunOptions)) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), files);
    let mut opts = RunOptions {
        playbook: dir.path().join("playbook.yml"),
        ..RunOptions::default()
    };
    configure(&mut opts);
    let (rc, events) = run_with(&opts).await;
    Outcome { rc, events, dir }
}

/// Runs `playbook.yml` and the other `files` with default options.
pub async fn run_tree(files: &[(&str, &str)]) -> Outcome {
    run_files(files, |_| {}).await
}

/// Runs one playbook text with defaults.
pub async fn run(playbook: &str) -> Outcome {
    run_tree(&[("playbook.yml", playbook)]).await
}

/// The inventory file [`use_inventory`] names: beside the playbook.
pub const INVENTORY: &str = "inv.ini";

/// Two hosts, `h1` and `h2`, both through the local connection.
pub const TWO_LOCAL_HOSTS: &str = "h1 ansible_connection=local\nh2 ansible_connection=local\n";

/// Option setter: the run reads [`INVENTORY`] beside the playbook.
pub fn use_inventory(o: &mut RunOptions) {
    o.inventories = vec![o.playbook.with_file_name(INVENTORY).display().to_string()];
}

/// Runs `playbook` on the hosts of `inventory` (INI text, written as [`INVENTORY`]).
pub async fn run_with_inventory(playbook: &str, inventory: &str) -> Outcome {
    run_files(
        &[("playbook.yml", playbook), (INVENTORY, inventory)],
        use_inventory,
    )
    .await
}

/// Option setter: a dry-run without secrets.
pub fn dry_run(o: &mut RunOptions) {
    o.mode = Mode::DryRun { secrets: vec![] };
}

pub(crate) use crate::data;

/// A corpus hook's text, or `None` (after a loud NOT RUN line for `test`) when the public
/// corpus is not beside the repository.
pub fn corpus_hook(test: &str, name: &str) -> Option<String> {
    data::corpus_dir(test)?;
    let path = data::corpus_file(name);
    Some(std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The hook-runner binary of this build.
pub const BIN: &str = env!("CARGO_BIN_EXE_hook-runner");

/// Runs the binary on `playbook` (written into a temp dir): exit code, stdout, stderr.
pub fn run_binary(playbook: &str, args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &[("playbook.yml", playbook)]);
    run_binary_at(&dir.path().join("playbook.yml"), args)
}

/// `hook-runner run <path> <args>` without colours: exit code, stdout, stderr.
pub fn run_binary_at(path: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("run")
        .arg(path)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("ANSIBLE_FORCE_COLOR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The events of a `--log-format json` run (one JSON object a line; other lines are skipped).
pub fn json_events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub fn path_in(dir: &Path, rel: &str) -> PathBuf {
    dir.join(rel)
}
