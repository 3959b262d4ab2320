//! A Kubernetes Event on the hook pod when the run ends: `HookSucceeded` (Normal) or
//! `HookFailed` (Warning), with the run's JSON summary as its message.
//!
//! Forklift deletes hook pods after a successful migration and shows users only "Job has
//! reached the specified backoff limit" after a failed one; an Event is visible with
//! `kubectl get events` / `oc describe pod` without reading logs. It is best effort: the hook's
//! service account usually may not create events, so any failure (403 included) is a debug
//! log line, never a failed run, and the call is bounded by [`POST_TIMEOUT`].
//!
//! The pod is named by `HOSTNAME` (Kubernetes sets it to the pod name) and its namespace is the
//! service account's (`.../serviceaccount/namespace`).

use super::redact::Redactor;
use super::summary::RunSummary;
use super::termination;
use crate::kube::{Cluster, EventSpec};
use std::path::Path;
use std::time::Duration;

/// How long the Event may take to post before the run ends without it.
pub const POST_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest message posted (the summary JSON is shortened to fit, staying valid JSON).
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// The Event for `summary` on pod `pod_name` in `namespace`, redacted.
pub fn event_spec(
    summary: &RunSummary,
    pod_name: &str,
    namespace: &str,
    redactor: &Redactor,
) -> EventSpec {
    let succeeded = summary.rc == 0;
    let value = serde_json::to_value(summary).unwrap_or_default();
    EventSpec {
        namespace: namespace.to_string(),
        pod_name: pod_name.to_string(),
        reason: if succeeded {
            "HookSucceeded"
        } else {
            "HookFailed"
        }
        .into(),
        event_type: if succeeded { "Normal" } else { "Warning" }.into(),
        message: termination::fit(redactor.redact_value(&value), MAX_MESSAGE_BYTES),
    }
}

/// The pod this process runs in: `HOSTNAME` and the service account's namespace file in `sa_dir`.
pub fn current_pod(sa_dir: &Path) -> Option<(String, String)> {
    let pod = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty())?;
    let namespace = std::fs::read_to_string(sa_dir.join("namespace")).ok()?;
    Some((pod, namespace.trim().to_string()))
}

/// Posts the Event; any failure is logged at debug level and otherwise ignored.
pub async fn post(cluster: &dyn Cluster, spec: &EventSpec) {
    match tokio::time::timeout(POST_TIMEOUT, cluster.post_event(spec)).await {
        Ok(Ok(())) => tracing::debug!("posted event {} on pod {}", spec.reason, spec.pod_name),
        Ok(Err(e)) => tracing::debug!(
            "could not post event {} (code {}): {e}",
            spec.reason,
            e.code
        ),
        Err(_) => tracing::debug!("posting event {} timed out", spec.reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::SummaryCollector;

    #[test]
    fn failed_runs_post_a_warning_with_the_summary() {
        let summary =
            SummaryCollector::default().finish(2, Some("task failed with key abcd-secret-1"));
        let redactor = Redactor::new();
        redactor.add_secret("abcd-secret-1");
        let spec = event_spec(&summary, "hook-pod-x", "ns1", &redactor);
        assert_eq!(spec.reason, "HookFailed");
        assert_eq!(spec.event_type, "Warning");
        assert_eq!(
            (spec.pod_name.as_str(), spec.namespace.as_str()),
            ("hook-pod-x", "ns1")
        );
        let message: serde_json::Value = serde_json::from_str(&spec.message).unwrap();
        assert_eq!(message["rc"], 2);
        assert_eq!(message["error"], "task failed with key ********");
    }

    #[test]
    fn successful_runs_post_a_normal_event() {
        let summary = SummaryCollector::default().finish(0, None);
        let spec = event_spec(&summary, "p", "n", &Redactor::new());
        assert_eq!(
            (spec.reason.as_str(), spec.event_type.as_str()),
            ("HookSucceeded", "Normal")
        );
        assert!(spec.message.len() <= MAX_MESSAGE_BYTES);
    }
}
