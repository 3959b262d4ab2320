//! ansible-runner's artifacts in the private data dir, for tools that read them.
//!
//! Layout, as ansible-runner writes it under `<private_data_dir>/artifacts/<ident>/`:
//! - `command`: `{"command": [argv...], "cwd": ..., "env": {...}}`, written at the start (the
//!   environment is limited to `ANSIBLE_*`, `HOME`, `PATH` and `HOSTNAME`: nothing else is
//!   relevant and the rest may hold credentials);
//! - `job_events/<counter>-<uuid>.json`: one event object per file ([`super::json::EventBuilder`]:
//!   ansible-runner's names and fields), each written to a `.tmp` file and renamed, so readers
//!   never see half an event; the last is `playbook_on_stats`, as with ansible-runner
//!   (hook-runner's `hook_runner_end` is only in the JSON log stream);
//! - `stdout` and `stderr`: the console text (with hook-runner's closing summary);
//! - `rc` and `status` (`successful`, `failed`, `canceled`, `timeout`), written last, when the
//!   run ends.
//!   `rc` is hook-runner's own exit code (99 when interrupted, where ansible-runner writes 254).
//!
//! Everything is redacted. A write error (a full disk) is logged once and never stops the run.

use super::json::EventBuilder;
use super::redact::{self, Redactor};
use super::summary::status_for;
use super::{Event, Reporter};
use crate::Value;
use serde_json::json;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Writes `artifacts/<ident>/` for one run.
pub struct Artifacts {
    dir: PathBuf,
    state: Mutex<State>,
    redactor: Redactor,
}

struct State {
    builder: EventBuilder,
    stdout: File,
    stderr: File,
    failed_once: bool,
}

impl Artifacts {
    /// Creates `<private_data_dir>/artifacts/<ident>/` with `command`, `job_events/`, `stdout`
    /// and `stderr`, redacting with the global redactor.
    pub fn create(
        private_data_dir: &Path,
        ident: &str,
        argv: &[String],
        verbosity: u8,
    ) -> std::io::Result<Self> {
        Self::create_with(
            private_data_dir,
            ident,
            argv,
            verbosity,
            redact::global().clone(),
        )
    }

    pub fn create_with(
        private_data_dir: &Path,
        ident: &str,
        argv: &[String],
        verbosity: u8,
        redactor: Redactor,
    ) -> std::io::Result<Self> {
        let dir = private_data_dir.join("artifacts").join(ident);
        std::fs::create_dir_all(dir.join("job_events"))?;
        let command = redactor.redact_value(&command_record(argv));
        write_atomic(&dir.join("command"), command.to_string().as_bytes())?;
        let open = |name: &str| {
            OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(dir.join(name))
        };
        let state = State {
            builder: EventBuilder::new(ident, verbosity),
            stdout: open("stdout")?,
            stderr: open("stderr")?,
            failed_once: false,
        };
        Ok(Artifacts {
            dir,
            state: Mutex::new(state),
            redactor,
        })
    }

    /// `<private_data_dir>/artifacts/<ident>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write_event(&self, state: &mut State, event: &Event) -> std::io::Result<()> {
        if let Event::PlaybookEnd {
            error: Some(error), ..
        } = event
        {
            self.write_error_event(state, error)?;
        }
        let (object, stderr) = state.builder.build_with_stderr(event);
        let object = self.redactor.redact_value(&object);
        let name = format!(
            "{}-{}.json",
            object["counter"].as_u64().unwrap_or(0),
            object["uuid"].as_str().unwrap_or("event")
        );
        // ansible-runner's last job event is `playbook_on_stats`: hook-runner's own end event
        // stays in the JSON log stream; here its text goes to `stdout`, its outcome to `rc`
        // and `status`.
        if !matches!(event, Event::PlaybookEnd { .. }) {
            write_atomic(
                &self.dir.join("job_events").join(name),
                object.to_string().as_bytes(),
            )?;
        }
        if let Some(text) = object["stdout"].as_str().filter(|t| !t.is_empty()) {
            state.stdout.write_all(format!("{text}\n").as_bytes())?;
        }
        if !stderr.is_empty() {
            state
                .stderr
                .write_all(self.redactor.redact(&stderr).as_bytes())?;
        }
        if let Event::PlaybookEnd { rc, error } = event {
            state.stdout.flush()?;
            state.stderr.flush()?;
            // `rc` and `status` last: their presence means the run is over.
            write_atomic(&self.dir.join("rc"), rc.to_string().as_bytes())?;
            write_atomic(
                &self.dir.join("status"),
                status_for(*rc, error.as_deref()).as_bytes(),
            )?;
        }
        Ok(())
    }
}

impl Artifacts {
    /// A run-level error (a playbook that cannot be loaded) is, for ansible-runner, a `verbose`
    /// event holding ansible-playbook's `ERROR! ...` line; its text is already in `stderr`.
    fn write_error_event(&self, state: &mut State, error: &str) -> std::io::Result<()> {
        let line = Event::Output {
            line: format!("ERROR! {error}"),
        };
        let (object, _) = state.builder.build_with_stderr(&line);
        let object = self.redactor.redact_value(&object);
        let name = format!(
            "{}-{}.json",
            object["counter"].as_u64().unwrap_or(0),
            object["uuid"].as_str().unwrap_or("event")
        );
        write_atomic(
            &self.dir.join("job_events").join(name),
            object.to_string().as_bytes(),
        )
    }
}

impl Reporter for Artifacts {
    fn event(&self, event: &Event) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Err(e) = self.write_event(&mut state, event) {
            if !state.failed_once {
                state.failed_once = true;
                tracing::warn!(
                    "cannot write the runner artifacts in {}: {e}",
                    self.dir.display()
                );
            }
        }
    }
}

/// The `command` file: argv, working directory, and the relevant environment.
fn command_record(argv: &[String]) -> Value {
    let env: crate::Map = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("ANSIBLE_") || matches!(k.as_str(), "HOME" | "PATH" | "HOSTNAME")
        })
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    json!({ "command": argv, "cwd": cwd, "env": env })
}

/// Writes `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{HostStats, Status, TaskInfo};

    #[test]
    fn a_run_level_error_is_a_verbose_event_and_no_end_event() {
        let tmp = std::env::temp_dir().join(format!("hr-artifacts-err-{}", std::process::id()));
        let argv = vec!["ansible-runner".to_string()];
        let a = Artifacts::create_with(&tmp, "id2", &argv, 0, Redactor::new()).unwrap();
        a.event(&Event::PlaybookEnd {
            rc: 1,
            error: Some("the playbook: x.yml could not be found".into()),
        });
        let dir = tmp.join("artifacts/id2/job_events");
        let events: Vec<Value> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["event"], "verbose");
        assert_eq!(
            events[0]["stdout"],
            "ERROR! the playbook: x.yml could not be found"
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn writes_the_runner_layout_and_ends_with_rc_and_status() {
        let tmp = std::env::temp_dir().join(format!("hr-artifacts-test-{}", std::process::id()));
        let redactor = Redactor::new();
        redactor.add_secret("private-key-bytes");
        let argv = vec![
            "ansible-runner".to_string(),
            "run".into(),
            "private-key-bytes".into(),
        ];
        let a = Artifacts::create_with(&tmp, "id1", &argv, 0, redactor).unwrap();
        let task = TaskInfo {
            name: "t".into(),
            action: "command".into(),
            path: "pb.yml:2".into(),
            is_handler: false,
            uuid: "t1".into(),
        };
        a.event(&Event::PlaybookStart {
            playbook: "pb.yml".into(),
        });
        a.event(&Event::PlayStart {
            name: "p".into(),
            pattern: "localhost".into(),
            uuid: "p1".into(),
        });
        assert!(!a.dir().join("rc").exists(), "rc only at the end");
        a.event(&Event::TaskStart { task: task.clone() });
        a.event(&Event::Warning {
            message: "careful".into(),
        });
        a.event(&Event::HostResult {
            host: "localhost".into(),
            task,
            status: Status::Failed,
            result: serde_json::json!({"msg": "private-key-bytes"})
                .as_object()
                .cloned()
                .unwrap(),
            item: None,
            delegated_to: None,
        });
        a.event(&Event::Stats {
            hosts: vec![(
                "localhost".into(),
                HostStats {
                    failed: 1,
                    ..Default::default()
                },
            )],
            custom: crate::Map::new(),
        });
        a.event(&Event::PlaybookEnd { rc: 2, error: None });
        let dir = tmp.join("artifacts/id1");
        assert_eq!(std::fs::read_to_string(dir.join("rc")).unwrap(), "2");
        assert_eq!(
            std::fs::read_to_string(dir.join("status")).unwrap(),
            "failed"
        );
        let mut events: Vec<String> = std::fs::read_dir(dir.join("job_events"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        events.sort_by_key(|n| n.split('-').next().unwrap().parse::<u32>().unwrap());
        assert_eq!(events.len(), 6);
        assert!(events[0].starts_with("1-") && events[0].ends_with(".json"));
        assert!(events.iter().all(|n| !n.ends_with(".tmp")));
        let last: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("job_events").join(&events[5])).unwrap(),
        )
        .unwrap();
        assert_eq!(last["event"], "playbook_on_stats");
        assert_eq!(events.last(), Some(&events[5]));
        let stdout = std::fs::read_to_string(dir.join("stdout")).unwrap();
        assert!(stdout.starts_with("\nPLAY [p] ***"), "{stdout}");
        assert!(
            stdout.contains("fatal: [localhost]: FAILED! => {\"msg\": \"********\"}"),
            "{stdout}"
        );
        assert!(stdout.contains("HOOK FAILED: task \"t\""), "{stdout}");
        assert_eq!(
            std::fs::read_to_string(dir.join("stderr")).unwrap(),
            "[WARNING]: careful\n"
        );
        let command = std::fs::read_to_string(dir.join("command")).unwrap();
        assert!(command.contains("\"ansible-runner\"") && !command.contains("private-key-bytes"));
        for entry in std::fs::read_dir(dir.join("job_events")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(!text.contains("private-key-bytes"));
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
