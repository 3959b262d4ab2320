//! Task results as Ansible shapes them (reference §1.0, §2.5, §2.7): normalisation of module
//! results, loop aggregation, skip results, `no_log` censoring and the recap status.

use crate::report::Status;
use crate::{Map, Value};

/// Ansible's `no_log` text.
pub const NO_LOG_MESSAGE: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// Fills what the executor adds to every module result: `failed` from `rc`, `changed`
/// default false, `stdout_lines`/`stderr_lines`.
pub fn normalize(mut r: Map) -> Map {
    if !r.contains_key("failed") {
        let failed = match r.get("rc") {
            Some(Value::Number(n)) => n.as_i64() != Some(0),
            Some(Value::String(s)) => s != "0",
            _ => false,
        };
        r.insert("failed".into(), Value::Bool(failed));
    }
    if !r.contains_key("changed") {
        r.insert("changed".into(), Value::Bool(false));
    }
    for (stream, lines) in [("stdout", "stdout_lines"), ("stderr", "stderr_lines")] {
        if let Some(Value::String(text)) = r.get(stream) {
            if !r.contains_key(lines) {
                let split: Vec<Value> =
                    text.lines().map(|l| Value::String(l.to_string())).collect();
                r.insert(lines.into(), Value::Array(split));
            }
        }
    }
    r
}

/// A failure result with a message.
pub fn failed(msg: impl Into<String>) -> Map {
    let mut r = Map::new();
    r.insert("failed".into(), Value::Bool(true));
    r.insert("msg".into(), Value::String(msg.into()));
    r
}

/// The result of a task (or item) whose `when` was false.
pub fn skipped_by_condition(condition: &Value) -> Map {
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r.insert("skipped".into(), Value::Bool(true));
    r.insert(
        "skip_reason".into(),
        Value::String("Conditional result was False".into()),
    );
    r.insert("false_condition".into(), condition.clone());
    r
}

/// The result of a loop over no items.
pub fn skipped_empty_loop() -> Map {
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r.insert("skipped".into(), Value::Bool(true));
    r.insert(
        "skipped_reason".into(),
        Value::String("No items in the list".into()),
    );
    r.insert("results".into(), Value::Array(Vec::new()));
    r
}

pub fn flag(r: &Map, key: &str) -> bool {
    matches!(r.get(key), Some(Value::Bool(true)))
}

/// Whether a result counts as failed: by `failed_when_result` when `failed_when` gave one
/// (an exhausted `until` leaves `failed: true` beside `failed_when_result: false`, and
/// Ansible then reports the task ok), else by `failed`.
pub fn is_failed(r: &Map) -> bool {
    match r.get("failed_when_result") {
        Some(Value::Bool(verdict)) => *verdict,
        _ => flag(r, "failed"),
    }
}

/// Combines item results: `changed` any, `failed` any, `skipped` all, and the message.
pub fn aggregate(items: Vec<Map>) -> Map {
    let changed = items.iter().any(|r| flag(r, "changed"));
    let failed = items.iter().any(is_failed);
    let all_skipped = !items.is_empty() && items.iter().all(|r| flag(r, "skipped"));
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(changed));
    // As ansible-core: `skipped` is always present, `failed` only when true.
    r.insert("skipped".into(), Value::Bool(all_skipped));
    let msg = if failed {
        r.insert("failed".into(), Value::Bool(true));
        "One or more items failed"
    } else if all_skipped {
        "All items skipped"
    } else {
        "All items completed"
    };
    r.insert("msg".into(), Value::String(msg.into()));
    r.insert(
        "results".into(),
        Value::Array(items.into_iter().map(Value::Object).collect()),
    );
    r
}

/// Drops Ansible-internal keys (`_ansible_*`, at any depth: loop item results carry them too,
/// e.g. `assert`'s `_ansible_verbose_always`) and the top-level `invocation` before a result is
/// registered, as Ansible's strategy does.
pub fn for_register(r: &Map) -> Map {
    r.iter()
        .filter(|(k, _)| k.as_str() != "invocation")
        .filter_map(|(k, v)| without_internal_key(k, v))
        .collect()
}

fn without_internal_keys(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter_map(|(k, v)| without_internal_key(k, v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_internal_keys).collect()),
        other => other.clone(),
    }
}

fn without_internal_key(key: &str, v: &Value) -> Option<(String, Value)> {
    (!key.starts_with("_ansible_")).then(|| (key.to_string(), without_internal_keys(v)))
}

/// The result as reporters may see it under `no_log`: only the status flags remain.
pub fn censor(r: &Map) -> Map {
    let mut out = Map::new();
    out.insert("censored".into(), Value::String(NO_LOG_MESSAGE.into()));
    out.insert("_ansible_no_log".into(), Value::Bool(true));
    for key in [
        "changed",
        "failed",
        "skipped",
        "unreachable",
        "attempts",
        "dry_run",
    ] {
        if let Some(v) = r.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    out
}

/// The recap status of a (final) result.
pub fn status_of(r: &Map, ignore_errors: bool) -> Status {
    if flag(r, "unreachable") {
        Status::Unreachable
    } else if is_failed(r) {
        if ignore_errors {
            Status::Ignored
        } else {
            Status::Failed
        }
    } else if flag(r, "skipped") {
        Status::Skipped
    } else if flag(r, "changed") {
        Status::Changed
    } else {
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn rc_sets_failed_and_lines_are_added() {
        let r = normalize(m(json!({"rc": 2, "stdout": "a\nb"})));
        assert_eq!(r["failed"], json!(true));
        assert_eq!(r["changed"], json!(false));
        assert_eq!(r["stdout_lines"], json!(["a", "b"]));
        let ok = normalize(m(json!({"rc": 0})));
        assert_eq!(ok["failed"], json!(false));
    }

    #[test]
    fn failed_when_result_decides_over_failed() {
        let exhausted = m(json!({"failed": true, "failed_when_result": false, "attempts": 2}));
        assert!(!is_failed(&exhausted));
        assert_eq!(status_of(&exhausted, false), Status::Ok);
        let by_rule = m(json!({"failed": true, "failed_when_result": true}));
        assert_eq!(status_of(&by_rule, false), Status::Failed);
        assert!(is_failed(&m(json!({"failed": true}))));
        let items = aggregate(vec![exhausted, m(json!({"changed": false}))]);
        assert!(!items.contains_key("failed"));
    }

    #[test]
    fn aggregate_messages() {
        let r = aggregate(vec![
            m(json!({"changed": true})),
            m(json!({"failed": true})),
        ]);
        assert_eq!(r["msg"], json!("One or more items failed"));
        assert_eq!(r["changed"], json!(true));
        let s = aggregate(vec![m(json!({"skipped": true}))]);
        assert_eq!(s["skipped"], json!(true));
        assert_eq!(s["msg"], json!("All items skipped"));
        let ok = aggregate(vec![m(json!({"changed": false}))]);
        assert_eq!(ok["skipped"], json!(false));
        assert_eq!(ok["msg"], json!("All items completed"));
        assert!(
            !ok.contains_key("failed"),
            "failed is only present when true"
        );
    }

    #[test]
    fn registering_drops_internal_keys_at_any_depth() {
        let r = for_register(&m(json!({
            "msg": "ok", "invocation": {"module_args": {}},
            "_ansible_verbose_always": true,
            "results": [{"item": 1, "_ansible_item_label": 1, "_ansible_verbose_always": true}],
        })));
        assert_eq!(r, m(json!({"msg": "ok", "results": [{"item": 1}]})));
    }

    #[test]
    fn censor_keeps_only_flags() {
        let r = censor(&m(json!({"changed": true, "stdout": "secret"})));
        assert_eq!(r["changed"], json!(true));
        assert!(!r.contains_key("stdout"));
        assert_eq!(r["censored"], json!(NO_LOG_MESSAGE));
    }
}
