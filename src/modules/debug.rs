//! `ansible.builtin.debug`: prints a message or a variable; runs on the controller.
//!
//! Semantics (ansible-core 2.18 `plugins/action/debug.py`, reference §1.7):
//! - `msg` (raw, default `Hello world!`) and `var` (raw) are mutually exclusive; `verbosity`
//!   (int, default 0).
//! - When `verbosity` is above the run's `-v` count the task is skipped:
//!   `skipped: true, skipped_reason: "Verbosity threshold not met."`.
//! - `var` is a bare expression (implicitly wrapped in `{{ }}`), evaluated now; the result
//!   key is the expression text itself (`{"foo.bar": value}`). An undefined variable gives
//!   the value `"VARIABLE IS NOT DEFINED!"` (not a failure). When the templated `var` is not a
//!   string (a list or dict after templating), the value is shown as it is.
//! - `msg` is returned as `msg` (already templated by the engine).
//! - Always `changed: false`, `failed: false`.

use super::argspec::{ArgSpec, Kind, Param};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Debug;

/// The text Ansible shows for an undefined `var`.
pub const NOT_DEFINED: &str = "VARIABLE IS NOT DEFINED!";

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            default: Some("Hello world!"),
            ..Param::new("msg", Kind::Raw)
        },
        Param::new("var", Kind::Raw),
        Param {
            default: Some("0"),
            ..Param::new("verbosity", Kind::Int)
        },
    ],
    free_form: false,
    mutually_exclusive: &[&["msg", "var"]],
    required_one_of: &[],
};

#[async_trait]
impl Module for Debug {
    fn name(&self) -> &'static str {
        "debug"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.debug"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }

    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        Ok(debug(&args, ctx.verbosity, |expr| {
            ctx.templar
                .eval(expr, ctx.scope)
                .map_err(|e| (e.undefined.is_some(), e.message))
        }))
    }
}

/// The module's logic; `eval` evaluates a bare expression, its error says whether the
/// failure was an undefined variable.
pub fn debug(
    args: &Map,
    verbosity: u8,
    eval: impl Fn(&str) -> Result<Value, (bool, String)>,
) -> Map {
    let mut result = Map::new();
    let threshold = args.get("verbosity").and_then(as_int).unwrap_or(0);
    if threshold > i64::from(verbosity) {
        result.insert("skipped".into(), Value::Bool(true));
        result.insert(
            "skipped_reason".into(),
            Value::String("Verbosity threshold not met.".into()),
        );
        result.insert("changed".into(), Value::Bool(false));
        return result;
    }
    match args.get("var").filter(|v| !v.is_null()) {
        Some(Value::String(expr)) => {
            let value = match eval(expr) {
                Ok(v) => v,
                Err((true, _)) => Value::String(NOT_DEFINED.into()),
                Err((false, message)) => {
                    result.insert("failed".into(), Value::Bool(true));
                    result.insert("msg".into(), Value::String(message));
                    result.insert("changed".into(), Value::Bool(false));
                    return result;
                }
            };
            result.insert(expr.clone(), value);
        }
        Some(other) => {
            result.insert(type_key(other), other.clone());
        }
        None => {
            let msg = args
                .get("msg")
                .cloned()
                .filter(|v| !v.is_null())
                .unwrap_or_else(|| Value::String("Hello world!".into()));
            result.insert("msg".into(), msg);
        }
    }
    result.insert("failed".into(), Value::Bool(false));
    result.insert("changed".into(), Value::Bool(false));
    result
}

/// Python's `"%s" % type(var)` for a non-string `var`, the key Ansible uses then.
fn type_key(v: &Value) -> String {
    let name = match v {
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        _ => "str",
    };
    format!("<class '{name}'>")
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::args;
    use serde_json::json;

    fn no_eval(_: &str) -> Result<Value, (bool, String)> {
        panic!("eval must not be called")
    }

    #[test]
    fn msg_defaults_to_hello_world() {
        let r = debug(&Map::new(), 0, no_eval);
        assert_eq!(r["msg"], json!("Hello world!"));
        assert_eq!(r["changed"], json!(false));
        assert_eq!(r["failed"], json!(false));
    }

    #[test]
    fn msg_keeps_its_type() {
        let r = debug(&args(json!({"msg": [1, "a"]})), 0, no_eval);
        assert_eq!(r["msg"], json!([1, "a"]));
    }

    #[test]
    fn verbosity_above_v_count_skips() {
        let r = debug(&args(json!({"msg": "x", "verbosity": 2})), 1, no_eval);
        assert_eq!(r["skipped"], json!(true));
        assert_eq!(r["skipped_reason"], json!("Verbosity threshold not met."));
        let r = debug(&args(json!({"msg": "x", "verbosity": 2})), 2, no_eval);
        assert_eq!(r["msg"], json!("x"));
    }

    #[test]
    fn var_is_evaluated_and_keyed_by_the_expression() {
        let r = debug(&args(json!({"var": "a.b"})), 0, |e| {
            assert_eq!(e, "a.b");
            Ok(json!({"c": 1}))
        });
        assert_eq!(r["a.b"], json!({"c": 1}));
        assert!(!r.contains_key("msg"));
    }

    #[test]
    fn undefined_var_is_not_a_failure() {
        let r = debug(&args(json!({"var": "nope"})), 0, |_| {
            Err((true, "'nope' is undefined".into()))
        });
        assert_eq!(r["nope"], json!(NOT_DEFINED));
        assert_eq!(r["failed"], json!(false));
    }

    #[test]
    fn a_broken_expression_fails() {
        let r = debug(&args(json!({"var": "a |"})), 0, |_| {
            Err((false, "syntax error".into()))
        });
        assert_eq!(r["failed"], json!(true));
        assert_eq!(r["msg"], json!("syntax error"));
    }

    #[tokio::test]
    async fn through_the_spec_and_the_real_templar() {
        use crate::modules::remote::testkit::{run_with, Options};
        let mut vars = Map::new();
        vars.insert("vm".into(), json!({"ip": "10.0.0.7"}));
        let opts = || Options {
            vars: vars.clone(),
            ..Options::default()
        };
        let r = run_with(&Debug, json!({"var": "vm.ip"}), opts()).await;
        assert_eq!(r["vm.ip"], json!("10.0.0.7"), "{r:?}");
        let r = run_with(&Debug, json!({"var": "nope"}), opts()).await;
        assert_eq!(r["nope"], json!(NOT_DEFINED), "{r:?}");
        let r = run_with(&Debug, json!({"msg": "hi", "verbosity": "1"}), opts()).await;
        assert_eq!(r["skipped"], json!(true), "{r:?}");
        let r = run_with(&Debug, json!({}), opts()).await;
        assert_eq!(r["msg"], json!("Hello world!"), "{r:?}");
        let r = run_with(&Debug, json!({"msg": "a", "var": "b"}), opts()).await;
        assert_eq!(r["failed"], json!(true), "{r:?}");
    }
}
