//! The run's summary in the pod's termination message (`/dev/termination-log`).
//!
//! Kubernetes copies this file into the container status (`kubectl get pod -o yaml` shows it
//! under `lastState`/`state.terminated.message`), so the outcome survives even when the logs
//! are gone. The kubelet keeps at most 4096 bytes, so the JSON is made to fit rather than cut
//! mid-way (which would leave invalid JSON): messages are shortened first, then the recap keeps
//! only the hosts that failed, then failures are dropped from the end (counted in
//! `failures_omitted`), and as a last resort only `status`, `rc` and a shortened error remain.
//!
//! The default path is written only if it exists (the kubelet creates it in a pod): running
//! hook-runner on a workstation must not create `/dev/termination-log`. An explicit path is
//! always written.

use super::redact::{self, Redactor};
use super::summary::SummaryCollector;
use super::{Event, Reporter};
use crate::Value;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where Kubernetes reads the termination message by default.
pub const DEFAULT_PATH: &str = "/dev/termination-log";

/// The kubelet's limit for the termination message.
pub const MAX_BYTES: usize = 4096;

/// Writes the termination message when the run ends.
pub struct TerminationLog {
    path: PathBuf,
    /// Given on the command line: written even if it does not exist yet.
    explicit: bool,
    collector: Mutex<SummaryCollector>,
    redactor: Redactor,
}

impl TerminationLog {
    /// `path` if given (always written), else [`DEFAULT_PATH`] when it exists.
    pub fn new(path: Option<PathBuf>) -> Self {
        Self::with_redactor(path, redact::global().clone())
    }

    pub fn with_redactor(path: Option<PathBuf>, redactor: Redactor) -> Self {
        TerminationLog {
            explicit: path.is_some(),
            path: path.unwrap_or_else(|| PathBuf::from(DEFAULT_PATH)),
            collector: Mutex::new(SummaryCollector::default()),
            redactor,
        }
    }
}

impl Reporter for TerminationLog {
    fn event(&self, event: &Event) {
        let Ok(mut collector) = self.collector.lock() else {
            return;
        };
        collector.observe(event);
        let Event::PlaybookEnd { rc, error } = event else {
            return;
        };
        if !self.explicit && !self.path.exists() {
            return;
        }
        let summary = collector.finish(*rc, error.as_deref());
        let value = serde_json::to_value(&summary).unwrap_or_else(|_| json!({"rc": rc}));
        let text = fit(self.redactor.redact_value(&value), MAX_BYTES);
        if let Err(e) = std::fs::write(&self.path, text) {
            tracing::warn!(
                "cannot write the termination message to {}: {e}",
                self.path.display()
            );
        }
    }
}

/// The JSON text of `summary`, shortened until it is at most `max` bytes.
pub fn fit(mut summary: Value, max: usize) -> String {
    let fits = |v: &Value| v.to_string().len() <= max;
    if fits(&summary) {
        return summary.to_string();
    }
    shorten_messages(&mut summary, 200);
    if let Some(Value::Array(recap)) = summary.get_mut("recap") {
        recap.retain(|h| h["failed"].as_u64() > Some(0) || h["unreachable"].as_u64() > Some(0));
    }
    let mut omitted = 0;
    while !fits(&summary) {
        let Some(Value::Array(failures)) = summary.get_mut("failures") else {
            break;
        };
        if failures.pop().is_none() {
            break;
        }
        omitted += 1;
        summary["failures_omitted"] = json!(omitted);
    }
    if fits(&summary) {
        return summary.to_string();
    }
    let error = summary["error"].as_str().map(|e| cut(e, 200));
    json!({ "status": summary["status"], "rc": summary["rc"], "error": error, "truncated": true })
        .to_string()
}

fn shorten_messages(summary: &mut Value, chars: usize) {
    if let Some(Value::Array(failures)) = summary.get_mut("failures") {
        for failure in failures {
            if let Some(Value::String(message)) = failure.get_mut("message") {
                *message = cut(message, chars);
            }
        }
    }
    if let Some(Value::String(error)) = summary.get_mut("error") {
        *error = cut(error, chars * 2);
    }
}

fn cut(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(chars).collect();
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(i: usize, message: &str) -> Value {
        json!({"play": "vms", "task": format!("task {i}"), "path": "pb.yml:3", "action": "command",
               "host": format!("10.0.0.{i}"), "unreachable": false, "message": message})
    }

    #[test]
    fn small_summaries_are_unchanged() {
        let v = json!({"status": "successful", "rc": 0, "recap": [], "failures": []});
        assert_eq!(fit(v.clone(), MAX_BYTES), v.to_string());
    }

    #[test]
    fn large_summaries_stay_valid_json_under_the_limit() {
        let long = "x".repeat(3000);
        let failures: Vec<Value> = (0..40).map(|i| failure(i, &long)).collect();
        let recap: Vec<Value> = (0..40)
            .map(|i| json!({"host": format!("h{i}"), "ok": 1, "changed": 0, "unreachable": 0, "failed": (i % 2), "skipped": 0, "rescued": 0, "ignored": 0}))
            .collect();
        let v = json!({"status": "failed", "rc": 2, "recap": recap, "failures": failures});
        let text = fit(v, MAX_BYTES);
        assert!(text.len() <= MAX_BYTES, "{}", text.len());
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["rc"], 2);
        assert!(back["failures_omitted"].as_u64().unwrap() > 0);
        assert!(back["failures"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("..."));
        assert!(back["recap"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["failed"] == 1));
    }

    #[test]
    fn writes_an_explicit_path_and_skips_a_missing_default() {
        let path = std::env::temp_dir().join(format!("hr-termination-{}", std::process::id()));
        let redactor = Redactor::new();
        redactor.add_secret("the-secret-key");
        let log = TerminationLog::with_redactor(Some(path.clone()), redactor);
        log.event(&Event::PlaybookEnd {
            rc: 1,
            error: Some("bad the-secret-key".into()),
        });
        let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["status"], "failed");
        assert_eq!(back["error"], "bad ********");
        let _ = std::fs::remove_file(&path);
        let default = TerminationLog {
            path: path.clone(),
            explicit: false,
            collector: Mutex::default(),
            redactor: Redactor::new(),
        };
        default.event(&Event::PlaybookEnd { rc: 0, error: None });
        assert!(!path.exists());
    }
}
