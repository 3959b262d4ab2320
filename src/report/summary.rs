//! The run's outcome in a few lines: what failed, where, and why.
//!
//! Forklift reads back only the Job's status ("Job has reached the specified backoff limit");
//! users find out what went wrong with `oc logs` on the hook pod. So after Ansible's PLAY
//! RECAP the console adds a block that names, for each host that ended failed or
//! unreachable, the play, the task, the playbook `file:line`, the module and the message:
//!
//! ```text
//! HOOK FAILED: task "Stop MariaDB" (playbook.yml:31, ansible.builtin.service) on 10.0.0.5 in play "vms": Could not find the requested service mariadb: host
//! ```
//!
//! [`RunSummary`] is built from the event stream by [`SummaryCollector`]. A failure counts only
//! if the host is still failed (or unreachable) in the recap, so failures that a `rescue`
//! handled or `ignore_errors` allowed do not show up. For loops, the failing item's result is
//! kept rather than the aggregate "One or more items failed". The same value is serialised for
//! the JSON log and, later, the termination message.

use super::{Event, HostStats, Status, EXIT_INTERRUPTED};
use crate::{Map, Value};
use serde::Serialize;

/// Messages longer than this are cut in the summary (the full result is above it in the log).
const MAX_MESSAGE_CHARS: usize = 1000;

/// One host's failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub play: String,
    pub task: String,
    /// `playbook.yml:31`.
    pub path: String,
    /// The module as written (`ansible.builtin.service`).
    pub action: String,
    pub host: String,
    pub unreachable: bool,
    /// The loop item's label, when a loop item failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub message: String,
}

/// Per-host recap line, for the JSON forms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRecap {
    pub host: String,
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// ansible-runner's words: `successful`, `failed`, `canceled` or `timeout`.
    pub status: &'static str,
    pub rc: i32,
    pub recap: Vec<HostRecap>,
    pub failures: Vec<Failure>,
    /// An error outside any task (bad playbook, interrupted run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How the error of a run stopped by `--timeout` starts (its status is then `timeout`).
pub const TIMEOUT_ERROR_PREFIX: &str = "Timeout";

/// ansible-runner's status word for a run that ended with `rc` and `error`.
pub fn status_for(rc: i32, error: Option<&str>) -> &'static str {
    match rc {
        0 => "successful",
        EXIT_INTERRUPTED if error.is_some_and(|e| e.starts_with(TIMEOUT_ERROR_PREFIX)) => "timeout",
        EXIT_INTERRUPTED => "canceled",
        _ => "failed",
    }
}

/// Builds a [`RunSummary`] from events.
#[derive(Debug, Default)]
pub struct SummaryCollector {
    play: String,
    /// Every failed or unreachable result seen, in order.
    seen: Vec<Failure>,
    recap: Vec<(String, HostStats)>,
}

impl SummaryCollector {
    pub fn observe(&mut self, event: &Event) {
        match event {
            Event::PlayStart { name, pattern, .. } => {
                self.play = if name.is_empty() {
                    pattern.clone()
                } else {
                    name.clone()
                };
            }
            Event::HostResult {
                host,
                task,
                status,
                result,
                item,
                ..
            } => {
                if matches!(status, Status::Failed | Status::Unreachable) {
                    self.record(host, task, *status, result, item.as_ref());
                }
            }
            Event::Stats { hosts } => self.recap = hosts.clone(),
            _ => {}
        }
    }

    fn record(
        &mut self,
        host: &str,
        task: &super::TaskInfo,
        status: Status,
        result: &Map,
        item: Option<&Value>,
    ) {
        let is_loop_aggregate = item.is_none() && super::is_loop_result(result);
        let item_failed_before = self.seen.last().is_some_and(|last| {
            last.host == host
                && last.task == task.name
                && last.path == task.path
                && last.item.is_some()
        });
        if is_loop_aggregate && item_failed_before {
            return; // the item's own message says more than "One or more items failed"
        }
        self.seen.push(Failure {
            play: self.play.clone(),
            task: task.name.clone(),
            path: task.path.clone(),
            action: task.action.clone(),
            host: host.to_string(),
            unreachable: status == Status::Unreachable,
            item: item.map(|i| item_label(result, i)),
            message: failure_message(result),
        });
    }

    /// The summary for a run that ended with `rc` (and `error`, if it ended outside a task).
    pub fn finish(&self, rc: i32, error: Option<&str>) -> RunSummary {
        RunSummary {
            status: status_for(rc, error),
            rc,
            recap: self
                .recap
                .iter()
                .map(|(host, s)| recap_line(host, s))
                .collect(),
            failures: self.final_failures(),
            error: error.map(String::from),
        }
    }

    /// The last failure of each host that is failed or unreachable in the recap. Without a
    /// recap (the run was cut short), every failure seen.
    fn final_failures(&self) -> Vec<Failure> {
        if self.recap.is_empty() {
            return self.seen.clone();
        }
        let mut out: Vec<Failure> = Vec::new();
        for (host, stats) in &self.recap {
            if stats.failed == 0 && stats.unreachable == 0 {
                continue;
            }
            if let Some(last) = self.seen.iter().rev().find(|f| &f.host == host) {
                out.push(last.clone());
            }
        }
        out
    }
}

fn recap_line(host: &str, s: &HostStats) -> HostRecap {
    HostRecap {
        host: host.to_string(),
        ok: s.ok,
        changed: s.changed,
        unreachable: s.unreachable,
        failed: s.failed,
        skipped: s.skipped,
        rescued: s.rescued,
        ignored: s.ignored,
    }
}

fn item_label(result: &Map, item: &Value) -> String {
    if result.get("_ansible_no_log").and_then(Value::as_bool) == Some(true) {
        return "(censored due to no_log)".into();
    }
    crate::py::str(result.get("_ansible_item_label").unwrap_or(item))
}

/// The message a user needs: `msg`, with the command's stderr (or stdout) when `msg` is only
/// "non-zero return code", on one line.
pub fn failure_message(result: &Map) -> String {
    let text = |key: &str| {
        result.get(key).and_then(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::String(_) | Value::Null => None,
            other => Some(other.to_string()),
        })
    };
    let msg = text("msg").or_else(|| text("reason"));
    let output = text("stderr").or_else(|| text("stdout"));
    let message = match (msg, output) {
        (Some(msg), Some(out)) if result.contains_key("rc") => {
            let rc = result.get("rc").map(Value::to_string).unwrap_or_default();
            format!("{msg} (rc={rc}): {out}")
        }
        (Some(msg), _) => msg,
        (None, Some(out)) => out,
        (None, None) => "failed without a message".into(),
    };
    one_line(&message)
}

fn one_line(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if joined.chars().count() > MAX_MESSAGE_CHARS {
        let cut: String = joined.chars().take(MAX_MESSAGE_CHARS).collect();
        format!("{cut}... (truncated)")
    } else {
        joined
    }
}

/// A reporter that keeps the run's final summary for its owner (the pod Event is posted from
/// it after the run). Cloning shares the same summary.
#[derive(Debug, Default, Clone)]
pub struct SummaryKeeper {
    inner: std::sync::Arc<std::sync::Mutex<(SummaryCollector, Option<RunSummary>)>>,
}

impl SummaryKeeper {
    /// The summary, once the run has ended.
    pub fn summary(&self) -> Option<RunSummary> {
        self.inner.lock().ok().and_then(|inner| inner.1.clone())
    }
}

impl super::Reporter for SummaryKeeper {
    fn event(&self, event: &Event) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.0.observe(event);
        if let Event::PlaybookEnd { rc, error } = event {
            inner.1 = Some(inner.0.finish(*rc, error.as_deref()));
        }
    }
}

impl RunSummary {
    /// The human block printed after the recap; empty for a successful run.
    pub fn render_human(&self) -> String {
        if self.rc == 0 {
            return String::new();
        }
        // The recap ends with a blank line; without one, make the block stand apart.
        let mut out = if self.recap.is_empty() {
            String::from("\n")
        } else {
            String::new()
        };
        let word = if matches!(self.status, "canceled" | "timeout") {
            "HOOK CANCELED"
        } else {
            "HOOK FAILED"
        };
        if let Some(error) = &self.error {
            // Ansible's errors put the message first, then context (the offending line).
            let first = error
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            out.push_str(&format!("{word}: {}\n", one_line(first)));
        }
        for f in &self.failures {
            out.push_str(&format!("{word}: {}\n", describe(f)));
        }
        if self.error.is_none() && self.failures.is_empty() {
            out.push_str(&format!("{word}: exit code {}\n", self.rc));
        }
        let unreachable = self.failures.iter().filter(|f| f.unreachable).count();
        let failed = self.failures.len() - unreachable;
        let mut counts = String::new();
        if failed > 0 {
            counts.push_str(&format!(", {failed} host(s) failed"));
        }
        if unreachable > 0 {
            counts.push_str(&format!(", {unreachable} host(s) unreachable"));
        }
        out.push_str(&format!(
            "hook-runner: exit code {} ({}{counts})\n",
            self.rc, self.status
        ));
        out
    }
}

fn describe(f: &Failure) -> String {
    let mut where_ = String::new();
    if !f.path.is_empty() {
        where_.push_str(&f.path);
    }
    if !f.action.is_empty() {
        if !where_.is_empty() {
            where_.push_str(", ");
        }
        where_.push_str(&f.action);
    }
    let location = if where_.is_empty() {
        String::new()
    } else {
        format!(" ({where_})")
    };
    let item = f
        .item
        .as_ref()
        .map(|i| format!(" (item={i})"))
        .unwrap_or_default();
    if f.unreachable {
        format!(
            "host {} unreachable at task \"{}\"{location}{item} in play \"{}\": {}",
            f.host, f.task, f.play, f.message
        )
    } else {
        format!(
            "task \"{}\"{location}{item} on {} in play \"{}\": {}",
            f.task, f.host, f.play, f.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TaskInfo;
    use serde_json::json;

    fn task(name: &str, line: u32, action: &str) -> TaskInfo {
        TaskInfo {
            name: name.into(),
            action: action.into(),
            path: format!("playbook.yml:{line}"),
            is_handler: false,
            uuid: format!("u{line}"),
        }
    }

    fn result(v: Value) -> Map {
        v.as_object().cloned().unwrap()
    }

    fn stats(failed: u32, unreachable: u32) -> HostStats {
        HostStats {
            ok: 1,
            failed,
            unreachable,
            ..Default::default()
        }
    }

    #[test]
    fn names_play_task_location_host_and_message() {
        let mut c = SummaryCollector::default();
        c.observe(&Event::PlayStart {
            name: "vms".into(),
            pattern: "vms".into(),
            uuid: "p".into(),
        });
        c.observe(&Event::HostResult {
            host: "10.0.0.5".into(),
            task: task("Stop MariaDB", 31, "ansible.builtin.service"),
            status: Status::Failed,
            result: result(json!({"changed": false, "failed": true,
                "msg": "Could not find the requested service mariadb: host"})),
            item: None,
            delegated_to: None,
        });
        c.observe(&Event::Stats {
            hosts: vec![
                ("10.0.0.5".into(), stats(1, 0)),
                ("localhost".into(), stats(0, 0)),
            ],
        });
        let s = c.finish(2, None);
        assert_eq!(s.status, "failed");
        assert_eq!(
            s.render_human(),
            "HOOK FAILED: task \"Stop MariaDB\" (playbook.yml:31, ansible.builtin.service) on 10.0.0.5 in play \"vms\": Could not find the requested service mariadb: host\nhook-runner: exit code 2 (failed, 1 host(s) failed)\n"
        );
    }

    #[test]
    fn statuses_follow_ansible_runner() {
        assert_eq!(status_for(0, None), "successful");
        assert_eq!(status_for(2, None), "failed");
        assert_eq!(
            status_for(99, Some("User interrupted execution")),
            "canceled"
        );
        assert_eq!(status_for(99, Some("Timeout (60s) exceeded")), "timeout");
    }

    #[test]
    fn rescued_or_ignored_failures_are_left_out() {
        let mut c = SummaryCollector::default();
        c.observe(&Event::HostResult {
            host: "h".into(),
            task: task("t", 3, "command"),
            status: Status::Failed,
            result: result(json!({"msg": "x"})),
            item: None,
            delegated_to: None,
        });
        c.observe(&Event::Stats {
            hosts: vec![(
                "h".into(),
                HostStats {
                    rescued: 1,
                    ..Default::default()
                },
            )],
        });
        let s = c.finish(0, None);
        assert!(s.failures.is_empty());
        assert_eq!(s.render_human(), "");
    }

    #[test]
    fn loop_item_message_beats_the_aggregate() {
        let mut c = SummaryCollector::default();
        let t = task("Loop", 9, "ansible.builtin.command");
        c.observe(&Event::HostResult {
            host: "h".into(),
            task: t.clone(),
            status: Status::Failed,
            result: result(json!({"msg": "non-zero return code", "rc": 1, "stderr": "no such file", "item": "x"})),
            item: Some(json!("x")),
            delegated_to: None,
        });
        c.observe(&Event::HostResult {
            host: "h".into(),
            task: t,
            status: Status::Failed,
            result: result(json!({"msg": "One or more items failed",
                "results": [{"ansible_loop_var": "item", "item": "x"}]})),
            item: None,
            delegated_to: None,
        });
        c.observe(&Event::Stats {
            hosts: vec![("h".into(), stats(1, 0))],
        });
        let f = &c.finish(2, None).failures[0];
        assert_eq!(f.item.as_deref(), Some("x"));
        assert_eq!(f.message, "non-zero return code (rc=1): no such file");
    }

    #[test]
    fn unreachable_and_errors_are_described() {
        let mut c = SummaryCollector::default();
        c.observe(&Event::PlayStart {
            name: "".into(),
            pattern: "vms".into(),
            uuid: "p".into(),
        });
        c.observe(&Event::HostResult {
            host: "10.0.0.9".into(),
            task: task("Gathering Facts", 1, "gather_facts"),
            status: Status::Unreachable,
            result: result(json!({"msg": "Failed to connect to the host via ssh: timeout\r\n", "unreachable": true})),
            item: None,
            delegated_to: None,
        });
        let s = c.finish(4, None);
        assert!(s
            .render_human()
            .ends_with("hook-runner: exit code 4 (failed, 1 host(s) unreachable)\n"));
        assert!(s.render_human().contains(
            "HOOK FAILED: host 10.0.0.9 unreachable at task \"Gathering Facts\" (playbook.yml:1, gather_facts) in play \"vms\": Failed to connect to the host via ssh: timeout\n"
        ));
        let e = SummaryCollector::default().finish(99, Some("User interrupted execution"));
        assert_eq!(e.status, "canceled");
        assert!(e
            .render_human()
            .starts_with("\nHOOK CANCELED: User interrupted execution\n"));
    }
}
