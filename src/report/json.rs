//! `--log-format json`: one JSON object per event on stdout, in ansible-runner's event shape.
//!
//! Log collectors (and AWX-style tools) know ansible-runner's job events, so each [`Event`]
//! becomes one object with the same top-level fields (`uuid`, `counter`, `stdout`,
//! `start_line`, `end_line`, `runner_ident`, `event`, `event_data`, `pid`, `created`,
//! `parent_uuid`) and the same event names:
//!
//! | hook-runner event | `event` |
//! |---|---|
//! | `PlaybookStart` | `playbook_on_start` |
//! | `PlayStart` | `playbook_on_play_start` |
//! | `TaskStart`, `HandlerStart` | `playbook_on_task_start` (`event_data.is_handler` tells them apart) |
//! | `Included` | `playbook_on_include` |
//! | `NoHostsMatched` / `NoMoreHosts` | `playbook_on_no_hosts_matched` / `playbook_on_no_hosts_remaining` |
//! | `HostResult` ok/changed, failed/ignored, skipped, unreachable | `runner_on_ok`, `runner_on_failed`, `runner_on_skipped`, `runner_on_unreachable` (`runner_item_on_*` for loop items) |
//! | `Retry` | `runner_retry` |
//! | `Warning` | `warning` |
//! | `Output` (listings) | `verbose` |
//! | `Stats` | `playbook_on_stats` (`changed`, `dark`, `failures`, `ignored`, `ok`, `processed`, `rescued`, `skipped`) |
//! | `PlaybookEnd` | `hook_runner_end` (hook-runner's own: `status`, `rc`, recap, failures) |
//!
//! `stdout` is the text the console would print for the event, so the JSON stream carries the
//! human log too. Every string is redacted before it is serialised.

use super::console::Renderer;
use super::redact::{self, Redactor};
use super::summary::SummaryCollector;
use super::{Event, HostStats, Reporter, Status, TaskInfo};
use crate::{Map, Value};
use serde_json::json;
use std::io::Write;
use std::sync::Mutex;

/// Builds ansible-runner-shaped event objects from [`Event`]s, numbering them in order.
/// Also used for the runner artifacts (`job_events/<counter>-<uuid>.json`).
pub struct EventBuilder {
    ident: String,
    counter: u64,
    line: u64,
    playbook: String,
    playbook_uuid: String,
    play: Option<(String, String, String)>, // name, uuid, pattern
    task: Option<TaskInfo>,
    renderer: Renderer,
    summary: SummaryCollector,
}

impl EventBuilder {
    /// `ident` is the runner ident (the artifacts directory name).
    pub fn new(ident: &str, verbosity: u8) -> Self {
        EventBuilder {
            ident: ident.to_string(),
            counter: 0,
            line: 0,
            playbook: String::new(),
            playbook_uuid: uuid::Uuid::new_v4().to_string(),
            play: None,
            task: None,
            renderer: Renderer::new(verbosity),
            summary: SummaryCollector::default(),
        }
    }

    /// The event object for `event` (not yet redacted).
    pub fn build(&mut self, event: &Event) -> Value {
        self.build_with_stderr(event).0
    }

    /// The event object and the text the console would print on stderr for it (warnings,
    /// errors), for the runner artifacts' `stderr` file.
    pub fn build_with_stderr(&mut self, event: &Event) -> (Value, String) {
        self.summary.observe(event);
        self.track_context(event);
        let mut rendered = self.renderer.render(event);
        if let Event::PlaybookEnd { rc, error } = event {
            // The same closing lines as the console's.
            let summary = self.summary.finish(*rc, error.as_deref());
            rendered.stdout.push_str(&summary.render_human());
        }
        let stdout = rendered
            .stdout
            .strip_suffix('\n')
            .unwrap_or(&rendered.stdout)
            .to_string();
        let start_line = self.line;
        self.line += rendered.stdout.matches('\n').count() as u64;
        self.counter += 1;
        let (name, data) = self.name_and_data(event);
        let uuid = match event {
            Event::PlayStart { uuid, .. } if !uuid.is_empty() => uuid.clone(),
            Event::TaskStart { task } | Event::HandlerStart { task } if !task.uuid.is_empty() => {
                task.uuid.clone()
            }
            _ => uuid::Uuid::new_v4().to_string(),
        };
        let object = json!({
            "uuid": uuid,
            "counter": self.counter,
            "stdout": stdout,
            "start_line": start_line,
            "end_line": self.line,
            "runner_ident": self.ident,
            "event": name,
            "event_data": data,
            "pid": std::process::id(),
            "created": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
            "parent_uuid": self.parent_uuid(event),
        });
        (object, rendered.stderr)
    }

    fn track_context(&mut self, event: &Event) {
        match event {
            Event::PlaybookStart { playbook } => self.playbook = playbook.clone(),
            Event::PlayStart {
                name,
                pattern,
                uuid,
            } => {
                let uuid = if uuid.is_empty() {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    uuid.clone()
                };
                self.play = Some((name.clone(), uuid, pattern.clone()));
                self.task = None;
            }
            Event::TaskStart { task } | Event::HandlerStart { task } => {
                self.task = Some(task.clone())
            }
            // The recap and the end belong to the playbook, not to its last play or task.
            Event::Stats { .. } | Event::PlaybookEnd { .. } => {
                self.play = None;
                self.task = None;
            }
            _ => {}
        }
    }

    fn parent_uuid(&self, event: &Event) -> String {
        let task_uuid = self
            .task
            .as_ref()
            .map(|t| t.uuid.clone())
            .filter(|u| !u.is_empty());
        let play_uuid = self.play.as_ref().map(|p| p.1.clone());
        match event {
            Event::PlaybookStart { .. } | Event::PlayStart { .. } => String::new(),
            Event::TaskStart { .. } | Event::HandlerStart { .. } => play_uuid.unwrap_or_default(),
            _ => task_uuid
                .or(play_uuid)
                .unwrap_or_else(|| self.playbook_uuid.clone()),
        }
    }

    /// `event_data`: playbook fields, play fields inside a play, task fields inside a task.
    fn base_data(&self, task: Option<&TaskInfo>) -> Map {
        let mut data = Map::new();
        data.insert("playbook".into(), json!(self.playbook));
        data.insert("playbook_uuid".into(), json!(self.playbook_uuid));
        if let Some((name, uuid, pattern)) = &self.play {
            data.insert("play".into(), json!(name));
            data.insert("play_uuid".into(), json!(uuid));
            data.insert("play_pattern".into(), json!(pattern));
        }
        if let Some(task) = task.or(self.task.as_ref()) {
            data.insert("task".into(), json!(task.name));
            data.insert("task_uuid".into(), json!(task.uuid));
            data.insert("task_action".into(), json!(task.action));
            data.insert(
                "resolved_action".into(),
                json!(resolved_action(&task.action)),
            );
            data.insert("task_path".into(), json!(task.path));
            data.insert("name".into(), json!(task.name));
        }
        data
    }

    fn name_and_data(&self, event: &Event) -> (&'static str, Map) {
        match event {
            Event::PlaybookStart { .. } => ("playbook_on_start", self.base_data(None)),
            Event::PlayStart { .. } => ("playbook_on_play_start", self.base_data(None)),
            Event::NoHostsMatched => ("playbook_on_no_hosts_matched", self.base_data(None)),
            Event::NoMoreHosts => ("playbook_on_no_hosts_remaining", self.base_data(None)),
            Event::TaskStart { task } | Event::HandlerStart { task } => {
                let mut data = self.base_data(Some(task));
                data.insert("is_handler".into(), json!(task.is_handler));
                ("playbook_on_task_start", data)
            }
            Event::Included { task, file, hosts } => {
                let mut data = self.base_data(Some(task));
                data.insert("included_file".into(), json!(file));
                data.insert("hosts".into(), json!(hosts));
                ("playbook_on_include", data)
            }
            Event::HostResult {
                host,
                task,
                status,
                result,
                item,
                delegated_to,
            } => {
                let mut data = self.base_data(Some(task));
                data.insert("host".into(), json!(host));
                data.insert(
                    "remote_addr".into(),
                    json!(delegated_to.as_deref().unwrap_or(host)),
                );
                data.insert("res".into(), Value::Object(result.clone()));
                if let Some(item) = item {
                    data.insert("event_loop".into(), item.clone());
                }
                if matches!(status, Status::Failed | Status::Ignored) {
                    data.insert("ignore_errors".into(), json!(*status == Status::Ignored));
                }
                (result_event_name(*status, item.is_some()), data)
            }
            Event::Retry {
                host,
                task,
                retries_left,
                result,
            } => {
                let mut data = self.base_data(Some(task));
                data.insert("host".into(), json!(host));
                data.insert("retries_left".into(), json!(retries_left));
                data.insert("res".into(), Value::Object(result.clone()));
                ("runner_retry", data)
            }
            Event::Output { line } => {
                let mut data = self.base_data(None);
                data.insert("msg".into(), json!(line));
                ("verbose", data)
            }
            Event::Warning { message } => {
                let mut data = self.base_data(None);
                data.insert("msg".into(), json!(message));
                ("warning", data)
            }
            Event::Stats { hosts, custom } => {
                let mut data = self.base_data(None);
                data.extend(stats_data(hosts));
                // ansible-runner's `artifact_data`: the run's `set_stats` data.
                data.insert(
                    "artifact_data".into(),
                    custom.get("_run").cloned().unwrap_or_else(|| json!({})),
                );
                ("playbook_on_stats", data)
            }
            Event::PlaybookEnd { rc, error } => {
                let mut data = self.base_data(None);
                let summary = self.summary.finish(*rc, error.as_deref());
                if let Ok(Value::Object(fields)) = serde_json::to_value(&summary) {
                    data.extend(fields);
                }
                ("hook_runner_end", data)
            }
        }
    }
}

fn resolved_action(action: &str) -> String {
    if action.contains('.') {
        action.to_string()
    } else {
        format!("ansible.builtin.{action}")
    }
}

fn result_event_name(status: Status, is_item: bool) -> &'static str {
    match (status, is_item) {
        (Status::Ok | Status::Changed, false) => "runner_on_ok",
        (Status::Ok | Status::Changed, true) => "runner_item_on_ok",
        (Status::Failed | Status::Ignored, false) => "runner_on_failed",
        (Status::Failed | Status::Ignored, true) => "runner_item_on_failed",
        (Status::Skipped, false) => "runner_on_skipped",
        (Status::Skipped, true) => "runner_item_on_skipped",
        (Status::Unreachable, _) => "runner_on_unreachable",
    }
}

/// `playbook_on_stats` counters, each `{host: count}`, with only the non-zero counts as
/// Ansible's `AggregateStats` keeps them (`processed` lists every host with 1).
fn stats_data(hosts: &[(String, HostStats)]) -> Map {
    type Counter = fn(&HostStats) -> u32;
    let counters: [(&str, Counter); 7] = [
        ("changed", |s| s.changed),
        ("dark", |s| s.unreachable),
        ("failures", |s| s.failed),
        ("ignored", |s| s.ignored),
        ("ok", |s| s.ok),
        ("rescued", |s| s.rescued),
        ("skipped", |s| s.skipped),
    ];
    let mut data = Map::new();
    for (key, get) in counters {
        let per_host: Map = hosts
            .iter()
            .filter(|(_, s)| get(s) > 0)
            .map(|(h, s)| (h.clone(), json!(get(s))))
            .collect();
        data.insert(key.into(), Value::Object(per_host));
    }
    let processed: Map = hosts.iter().map(|(h, _)| (h.clone(), json!(1))).collect();
    data.insert("processed".into(), Value::Object(processed));
    data.insert("artifact_data".into(), json!({}));
    data
}

/// The `--log-format json` reporter: one line of JSON per event.
pub struct JsonLines {
    state: Mutex<LinesState>,
    redactor: Redactor,
}

struct LinesState {
    builder: EventBuilder,
    out: Box<dyn Write + Send>,
}

impl JsonLines {
    /// Writes to stdout, redacting with the global redactor.
    pub fn stdout(ident: &str, verbosity: u8) -> Self {
        Self::new(
            ident,
            verbosity,
            Box::new(std::io::stdout()),
            redact::global().clone(),
        )
    }

    pub fn new(ident: &str, verbosity: u8, out: Box<dyn Write + Send>, redactor: Redactor) -> Self {
        JsonLines {
            state: Mutex::new(LinesState {
                builder: EventBuilder::new(ident, verbosity),
                out,
            }),
            redactor,
        }
    }
}

impl Reporter for JsonLines {
    fn event(&self, event: &Event) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let LinesState { builder, out } = &mut *state;
        let object = self.redactor.redact_value(&builder.build(event));
        let mut line = object.to_string();
        line.push('\n');
        // Write errors (a closed pipe) must not stop the run.
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buf: &Buf) -> Vec<Value> {
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn events_use_ansible_runner_names_and_fields() {
        let buf = Buf::default();
        let redactor = Redactor::new();
        redactor.add_secret("very-secret-value");
        let r = JsonLines::new("ident1", 0, Box::new(buf.clone()), redactor);
        let task = TaskInfo {
            name: "Stop".into(),
            action: "service".into(),
            path: "pb.yml:3".into(),
            is_handler: false,
            uuid: "t1".into(),
        };
        r.event(&Event::PlaybookStart {
            playbook: "pb.yml".into(),
        });
        r.event(&Event::PlayStart {
            name: "vms".into(),
            pattern: "vms".into(),
            uuid: "p1".into(),
        });
        r.event(&Event::TaskStart { task: task.clone() });
        r.event(&Event::HostResult {
            host: "h".into(),
            task: task.clone(),
            status: Status::Failed,
            result: json!({"msg": "very-secret-value leaked", "failed": true})
                .as_object()
                .cloned()
                .unwrap(),
            item: None,
            delegated_to: None,
        });
        r.event(&Event::HostResult {
            host: "h".into(),
            task,
            status: Status::Ok,
            result: Map::new(),
            item: Some(json!("a")),
            delegated_to: None,
        });
        r.event(&Event::Stats {
            hosts: vec![(
                "h".into(),
                HostStats {
                    ok: 1,
                    failed: 1,
                    ..Default::default()
                },
            )],
            custom: json!({"_run": {"migrated": 2}, "h": {"mine": 1}})
                .as_object()
                .cloned()
                .unwrap(),
        });
        r.event(&Event::PlaybookEnd { rc: 2, error: None });
        let events = lines(&buf);
        let names: Vec<&str> = events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "playbook_on_start",
                "playbook_on_play_start",
                "playbook_on_task_start",
                "runner_on_failed",
                "runner_item_on_ok",
                "playbook_on_stats",
                "hook_runner_end"
            ]
        );
        let failed = &events[3];
        assert_eq!(failed["counter"], 4);
        assert_eq!(failed["parent_uuid"], "t1");
        assert_eq!(failed["event_data"]["task_path"], "pb.yml:3");
        assert_eq!(failed["event_data"]["play"], "vms");
        assert_eq!(
            failed["event_data"]["resolved_action"],
            "ansible.builtin.service"
        );
        assert_eq!(failed["event_data"]["res"]["msg"], "******** leaked");
        assert_eq!(failed["event_data"]["ignore_errors"], false);
        assert!(failed["stdout"]
            .as_str()
            .unwrap()
            .starts_with("fatal: [h]: FAILED!"));
        assert_eq!(events[5]["event_data"]["failures"], json!({"h": 1}));
        assert_eq!(events[5]["event_data"]["dark"], json!({}));
        // ansible-runner's artifact_data: the run's set_stats data, not the per-host data.
        assert_eq!(
            events[5]["event_data"]["artifact_data"],
            json!({"migrated": 2})
        );
        assert!(events[5]["event_data"].get("task").is_none());
        assert!(events[5]["event_data"].get("play").is_none());
        assert_eq!(events[6]["event_data"]["status"], "failed");
        assert_eq!(events[6]["event_data"]["failures"][0]["task"], "Stop");
        assert!(!String::from_utf8(buf.0.lock().unwrap().clone())
            .unwrap()
            .contains("very-secret"));
    }
}
