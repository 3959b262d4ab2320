//! `ansible.builtin.assert`: checks conditions; runs on the controller.
//!
//! Semantics (ansible-core 2.18 `plugins/action/assert.py`, reference §1.7):
//! - `that` (required; a string or a list) holds bare conditionals, evaluated in order like
//!   `when`. The first false one fails the task with `failed: true, evaluated_to: false,
//!   assertion: <that item>, msg: <fail_msg>` (the item as written: `that: false` gives
//!   `assertion: false`).
//! - `fail_msg` (alias `msg`, default `Assertion failed`) and `success_msg` (default
//!   `All assertions passed`) are a string or a list; anything else fails with
//!   `Incorrect type for fail_msg or msg, expected a string or list and got <type>`.
//! - All true: `changed: false, msg: <success_msg>`.
//! - Unless `quiet` is true, a decided result (passed or failed, not an argument or evaluation
//!   error) carries `_ansible_verbose_always`, so the console prints it at default verbosity
//!   (`ok: [h] => {"changed": false, "msg": ...}`) as it does `debug`; registering drops the key.
//! - A conditional that cannot be evaluated (undefined variable, syntax error) fails the task
//!   with `The conditional check '<item>' failed. The error was: <error>`, the error of an
//!   undefined variable being `error while evaluating conditional (<item>): '<name>' is
//!   undefined`.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::failed_unchanged as failed;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Assert;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        // Raw as Ansible's action reads it: a string is one conditional (never split on
        // commas), a literal keeps its type (`that: false` fails with `assertion: false`).
        Param {
            required: true,
            ..Param::new("that", Kind::Raw)
        },
        Param {
            aliases: &["msg"],
            ..Param::new("fail_msg", Kind::Raw)
        },
        Param::new("success_msg", Kind::Raw),
        Param {
            default: Some("false"),
            ..Param::new("quiet", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for Assert {
    fn name(&self) -> &'static str {
        "assert"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.assert"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }

    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        Ok(assert(&args, |expr| {
            ctx.templar
                .condition(expr, ctx.scope)
                .map_err(|e| match e.undefined {
                    // Ansible's conditional names itself for an undefined variable only.
                    Some(_) => {
                        format!("error while evaluating conditional ({expr}): {}", e.message)
                    }
                    None => e.message,
                })
        }))
    }
}

/// The module's logic; `condition` evaluates one bare conditional.
pub fn assert(args: &Map, condition: impl Fn(&str) -> Result<bool, String>) -> Map {
    let fail_msg = match message_arg(args, &["fail_msg", "msg"], "Assertion failed") {
        Ok(m) => m,
        Err(t) => {
            return failed(format!(
                "Incorrect type for fail_msg or msg, expected a string or list and got {t}"
            ))
        }
    };
    let success_msg = match message_arg(args, &["success_msg"], "All assertions passed") {
        Ok(m) => m,
        Err(t) => {
            return failed(format!(
                "Incorrect type for success_msg, expected a string or list and got {t}"
            ))
        }
    };
    let that: Vec<Value> = match args.get("that") {
        None | Some(Value::Null) => {
            return failed("conditional required in \"that\" string");
        }
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    };
    let mut decided = Map::new();
    if !quiet(args) {
        decided.insert("_ansible_verbose_always".into(), Value::Bool(true));
    }
    for item in &that {
        let outcome = match item {
            Value::String(expr) => condition(expr)
                .map_err(|e| format!("The conditional check '{expr}' failed. The error was: {e}")),
            Value::Bool(b) => Ok(*b),
            // Ansible's conditional evaluation counts an empty item (`-` alone) as true.
            Value::Null => Ok(true),
            Value::Number(n) => Ok(n.as_f64() != Some(0.0)),
            other => Ok(!is_empty(other)),
        };
        match outcome {
            Err(message) => return failed(message),
            Ok(false) => {
                let mut r = decided;
                r.insert("failed".into(), Value::Bool(true));
                r.insert("evaluated_to".into(), Value::Bool(false));
                r.insert("assertion".into(), item.clone());
                r.insert("msg".into(), fail_msg);
                r.insert("changed".into(), Value::Bool(false));
                return r;
            }
            Ok(true) => {}
        }
    }
    let mut r = decided;
    r.insert("changed".into(), Value::Bool(false));
    r.insert("msg".into(), success_msg);
    r
}

/// `quiet`, as the argument spec converted it (a missing or unconverted value is not quiet).
fn quiet(args: &Map) -> bool {
    matches!(args.get("quiet"), Some(Value::Bool(true)))
}

/// The first present key's value when it is a string or list; `Err(python type)` otherwise.
fn message_arg(args: &Map, keys: &[&str], default: &str) -> Result<Value, &'static str> {
    match keys
        .iter()
        .find_map(|k| args.get(*k).filter(|v| !v.is_null()))
    {
        None => Ok(Value::String(default.into())),
        Some(v @ (Value::String(_) | Value::Array(_))) => Ok(v.clone()),
        Some(other) => Err(crate::py::class_name(other)),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::args;
    use serde_json::json;

    fn truth(expr: &str) -> Result<bool, String> {
        match expr {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err(format!("'{expr}' is undefined")),
        }
    }

    #[test]
    fn all_true_passes_with_the_default_message() {
        let r = assert(&args(json!({"that": ["yes", "yes"]})), truth);
        assert_eq!(
            r,
            args(json!({"changed": false, "msg": "All assertions passed",
                        "_ansible_verbose_always": true}))
        );
    }

    #[test]
    fn quiet_results_are_not_shown_at_default_verbosity() {
        let r = assert(&args(json!({"that": "yes", "quiet": true})), truth);
        assert_eq!(
            r,
            args(json!({"changed": false, "msg": "All assertions passed"}))
        );
        let r = assert(&args(json!({"that": "no", "quiet": true})), truth);
        assert!(!r.contains_key("_ansible_verbose_always"), "{r:?}");
        let r = assert(&args(json!({"that": "no", "quiet": false})), truth);
        assert_eq!(r["_ansible_verbose_always"], json!(true));
    }

    #[test]
    fn errors_are_not_flagged_verbose() {
        let r = assert(&args(json!({"that": "boom"})), truth);
        assert!(!r.contains_key("_ansible_verbose_always"), "{r:?}");
    }

    #[test]
    fn the_first_false_item_fails() {
        let r = assert(&args(json!({"that": ["yes", "no", "boom"]})), truth);
        assert_eq!(r["failed"], json!(true));
        assert_eq!(r["evaluated_to"], json!(false));
        assert_eq!(r["assertion"], json!("no"));
        assert_eq!(r["msg"], json!("Assertion failed"));
    }

    #[test]
    fn a_single_string_is_one_condition() {
        let r = assert(&args(json!({"that": "no", "msg": "custom"})), truth);
        assert_eq!(r["msg"], json!("custom"));
        let r = assert(&args(json!({"that": "no", "fail_msg": ["a", "b"]})), truth);
        assert_eq!(r["msg"], json!(["a", "b"]));
    }

    #[test]
    fn success_msg_is_used() {
        let r = assert(&args(json!({"that": "yes", "success_msg": "fine"})), truth);
        assert_eq!(r["msg"], json!("fine"));
    }

    #[test]
    fn evaluation_errors_name_the_conditional() {
        let r = assert(&args(json!({"that": "boom"})), truth);
        assert_eq!(
            r["msg"],
            json!("The conditional check 'boom' failed. The error was: 'boom' is undefined")
        );
    }

    #[test]
    fn bad_message_types_are_refused() {
        let r = assert(&args(json!({"that": "yes", "fail_msg": {"a": 1}})), truth);
        assert_eq!(
            r["msg"],
            json!("Incorrect type for fail_msg or msg, expected a string or list and got <class 'dict'>")
        );
    }

    #[test]
    fn an_empty_item_passes_as_in_ansible() {
        let r = assert(&args(json!({"that": ["yes", null]})), truth);
        assert_eq!(r.get("failed"), None, "{r:?}");
    }

    #[test]
    fn literal_booleans_work() {
        let r = assert(&args(json!({"that": [true, false]})), truth);
        assert_eq!(r["assertion"], json!(false));
    }

    #[tokio::test]
    async fn through_the_spec_and_the_real_templar() {
        use crate::modules::remote::testkit::{run_with, Options};
        let mut vars = Map::new();
        vars.insert("x".into(), json!(5));
        let opts = || Options {
            vars: vars.clone(),
            ..Options::default()
        };
        let r = run_with(&Assert, json!({"that": ["x == 5", "x > 1"]}), opts()).await;
        assert_eq!(r["msg"], json!("All assertions passed"), "{r:?}");
        assert_eq!(r["_ansible_verbose_always"], json!(true), "{r:?}");
        let r = run_with(&Assert, json!({"that": "x == 5", "quiet": "yes"}), opts()).await;
        assert!(!r.contains_key("_ansible_verbose_always"), "{r:?}");
        let r = run_with(
            &Assert,
            json!({"that": "x == 4", "msg": "x is {{ x }}"}),
            opts(),
        )
        .await;
        assert_eq!(r["assertion"], json!("x == 4"), "{r:?}");
        let r = run_with(&Assert, json!({"that": "x =="}), opts()).await;
        assert!(
            r["msg"]
                .as_str()
                .unwrap()
                .starts_with("The conditional check 'x ==' failed."),
            "{r:?}"
        );
        let r = run_with(&Assert, json!({"that": "nope.x == 1"}), opts()).await;
        assert_eq!(
            r["msg"],
            json!("The conditional check 'nope.x == 1' failed. The error was: error while evaluating conditional (nope.x == 1): 'nope' is undefined"),
            "{r:?}"
        );
        let r = run_with(&Assert, json!({"that": false}), opts()).await;
        assert_eq!(r["assertion"], json!(false), "{r:?}");
        // One conditional, never split at its comma.
        let r = run_with(&Assert, json!({"that": "x == 5, x > 9"}), opts()).await;
        let msg = r["msg"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with("The conditional check 'x == 5, x > 9' failed."),
            "{r:?}"
        );
        let r = run_with(&Assert, json!({"fail_msg": "x"}), opts()).await;
        assert_eq!(r["failed"], json!(true), "{r:?}");
    }
}
