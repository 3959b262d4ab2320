//! `ansible.builtin.set_stats`: records custom statistics of the run; runs on the controller.
//!
//! Semantics (ansible-core 2.18 action `set_stats.py`, `AggregateStats` and the strategy):
//! - `data` (a mapping; otherwise `The 'data' option needs to be a dictionary/hash`), whose
//!   keys must be identifiers (`The variable name 'x-y' is not valid. Variables must start
//!   with a letter or underscore character, and contain only letters, numbers and
//!   underscores.`); `per_host` (default false), `aggregate` (default true), booleans read
//!   leniently as Ansible's action does (`aggregate: "x"` is false, not an error).
//! - Result: `ansible_stats: {data, per_host, aggregate}`, `changed: false`: a request the
//!   engine applies. The task runs once per host; each run records its data for the whole
//!   run (or, with `per_host`, for that host). With `aggregate`, a value is added to the one
//!   already there (numbers add up, strings and lists concatenate, mappings merge; a value of
//!   another type is left alone), otherwise it replaces it.
//! - The run's stats (not the per-host ones) are the `artifact_data` of the
//!   `playbook_on_stats` event, as ansible-runner reports them.
//!
//! Not supported: the `CUSTOM STATS` console section (`show_custom_stats`, off by default).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::failed_unchanged as failed;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct SetStats;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param::new("data", Kind::Raw),
        // Booleans read leniently (anything else is false), as the action plugin reads them.
        Param::new("per_host", Kind::Raw),
        Param::new("aggregate", Kind::Raw),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for SetStats {
    fn name(&self) -> &'static str {
        "set_stats"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.set_stats"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, _ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        Ok(set_stats(&args))
    }
}

pub fn set_stats(args: &Map) -> Map {
    let data = match args.get("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return failed("The 'data' option needs to be a dictionary/hash"),
    };
    if let Some(bad) = data.keys().find(|k| !is_identifier(k)) {
        return failed(format!(
            "The variable name '{bad}' is not valid. Variables must start with a letter or underscore character, and contain only letters, numbers and underscores."
        ));
    }
    let flag = |key: &str, default: bool| match args.get(key) {
        None | Some(Value::Null) => default,
        Some(v) => lenient_bool(v),
    };
    let mut stats = Map::new();
    stats.insert("data".into(), Value::Object(data));
    stats.insert("per_host".into(), Value::Bool(flag("per_host", false)));
    stats.insert("aggregate".into(), Value::Bool(flag("aggregate", true)));
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r.insert("ansible_stats".into(), Value::Object(stats));
    r
}

/// Ansible's `boolean(value, strict=False)`: the true words and 1 are true, anything else false.
fn lenient_bool(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() == Some(1.0),
        Value::String(s) => matches!(
            s.trim().to_lowercase().as_str(),
            "y" | "yes" | "on" | "1" | "true" | "t" | "1.0"
        ),
        _ => false,
    }
}

/// Python's `str.isidentifier` for ASCII names (and not a keyword, as Ansible's `isidentifier`).
fn is_identifier(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && !KEYWORDS.contains(&name)
}

/// Records one stat as Ansible's `AggregateStats`: `aggregate` adds to the value already
/// there (see the module doc), otherwise the value replaces it.
pub fn record(stats: &mut Map, key: &str, value: Value, aggregate: bool) {
    let Some(old) = stats.get_mut(key).filter(|_| aggregate) else {
        stats.insert(key.to_string(), value);
        return;
    };
    match (old, value) {
        (Value::Object(old), Value::Object(new)) => merge(old, new),
        (Value::Array(old), Value::Array(new)) => old.extend(new),
        (Value::String(old), Value::String(new)) => old.push_str(&new),
        (old @ Value::Number(_), Value::Number(new)) => {
            let sum = match (old.as_i64(), new.as_i64()) {
                (Some(a), Some(b)) => a.checked_add(b).map(Value::from),
                _ => None,
            };
            let sum = sum.or_else(|| {
                let (a, b) = (old.as_f64()?, new.as_f64()?);
                serde_json::Number::from_f64(a + b).map(Value::Number)
            });
            if let Some(sum) = sum {
                *old = sum;
            }
        }
        // A value of another type is ignored, as Ansible does.
        _ => {}
    }
}

/// Ansible's `merge_hash`: nested mappings merge, anything else is replaced.
fn merge(old: &mut Map, new: Map) {
    for (k, v) in new {
        match (old.get_mut(&k), v) {
            (Some(Value::Object(o)), Value::Object(n)) => merge(o, n),
            (_, v) => {
                old.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn data_must_be_a_mapping_of_identifiers() {
        let r = set_stats(&args(json!({"data": "x"})));
        assert_eq!(r["msg"], "The 'data' option needs to be a dictionary/hash");
        let r = set_stats(&args(json!({"data": {"bad-name": 1}})));
        assert!(r["msg"]
            .as_str()
            .unwrap()
            .starts_with("The variable name 'bad-name' is not valid."));
        let r = set_stats(&args(json!({"data": {"migrated": 1}, "per_host": true})));
        assert_eq!(
            r["ansible_stats"],
            json!({"data": {"migrated": 1}, "per_host": true, "aggregate": true})
        );
        let r = set_stats(&args(
            json!({"data": {"a": 1}, "aggregate": "x", "per_host": "yes"}),
        ));
        assert_eq!(r["ansible_stats"]["aggregate"], false);
        assert_eq!(r["ansible_stats"]["per_host"], true);
    }

    #[test]
    fn aggregation_adds_concatenates_and_merges() {
        let mut stats = Map::new();
        record(&mut stats, "n", json!(1), true);
        record(&mut stats, "n", json!(2), true);
        record(&mut stats, "s", json!("a"), true);
        record(&mut stats, "s", json!("b"), true);
        record(&mut stats, "l", json!([1]), true);
        record(&mut stats, "l", json!([2]), true);
        record(&mut stats, "m", json!({"a": {"x": 1}}), true);
        record(&mut stats, "m", json!({"a": {"y": 2}, "b": 3}), true);
        record(&mut stats, "n", json!("mismatch"), true);
        assert_eq!(
            Value::Object(stats.clone()),
            json!({"n": 3, "s": "ab", "l": [1, 2], "m": {"a": {"x": 1, "y": 2}, "b": 3}})
        );
        record(&mut stats, "n", json!(7), false);
        assert_eq!(stats["n"], 7);
    }
}
