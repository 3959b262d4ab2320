//! Shared helpers for the engine tests: a collecting reporter and a playbook runner on
//! temporary directories (localhost through the local connection).
#![allow(dead_code)]

use hook_runner::engine::{run_playbook, RunOptions};
use hook_runner::report::{Event, HostStats, Reporter, Status};
use hook_runner::{Map, Value};
use std::path::{Path, PathBuf};
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
            if let Event::Stats { hosts } = e {
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

/// Writes `files` (relative path, content) into a temp dir, then runs `playbook.yml` there.
pub async fn run_files(files: &[(&str, &str)], configure: impl FnOnce(&mut RunOptions)) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let mut opts = RunOptions {
        playbook: dir.path().join("playbook.yml"),
        ..RunOptions::default()
    };
    configure(&mut opts);
    let reporter = Collect::default();
    let rc = run_playbook(&opts, &reporter).await;
    let events = reporter.0.into_inner().unwrap();
    Outcome { rc, events, dir }
}

/// Runs one playbook text with defaults.
pub async fn run(playbook: &str) -> Outcome {
    run_files(&[("playbook.yml", playbook)], |_| {}).await
}

pub fn path_in(dir: &Path, rel: &str) -> PathBuf {
    dir.join(rel)
}
