//! `ansible.builtin.set_fact`: sets host variables; runs on the controller.
//!
//! Semantics (ansible-core 2.18 `plugins/action/set_fact.py`, reference §1.7):
//! - Every argument except `cacheable` is a fact to set (dict form or `k=v` form; any key, so
//!   the module accepts any argument name, see [`Module::accepts_any_args`]).
//! - Keys must be Python identifiers (not keywords): otherwise the task fails with
//!   `The variable name 'x-y' is not valid. Variables must start with a letter or underscore
//!   character, and contain only letters, numbers and underscores.`
//! - As in 2.18's default (non-native Jinja2) mode, a string value equal to `true`, `false`,
//!   `yes` or `no` in any case becomes a boolean.
//! - A key written with the task starting with `_ansible_` is refused when the playbook loads,
//!   as for every non-free-form action (`crate::playbook` `check_reserved_names`, Ansible's
//!   parse-time check); a key that only a template or the `args:` keyword gives is set, as in
//!   Ansible.
//! - No facts at all fails with `No key/value pairs provided, at least one is required for this
//!   action to succeed`.
//! - Result: `ansible_facts: {...}`, `_ansible_facts_cacheable: <cacheable>`, `changed: false`.
//!   The engine stores the facts as the host's non-persistent facts (high precedence, kept
//!   across plays); with `cacheable` they are real facts too.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::failed_unchanged as failed;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct SetFact;

static SPEC: ArgSpec = ArgSpec {
    params: &[Param {
        default: Some("false"),
        ..Param::new("cacheable", Kind::Bool)
    }],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for SetFact {
    fn name(&self) -> &'static str {
        "set_fact"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.set_fact"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn accepts_any_args(&self) -> bool {
        true
    }

    async fn run(&self, args: Map, _ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        Ok(set_fact(args))
    }
}

pub fn set_fact(mut args: Map) -> Map {
    let cacheable = args
        .remove("cacheable")
        .map(|v| truthy(&v))
        .unwrap_or(false);
    if args.is_empty() {
        return failed(
            "No key/value pairs provided, at least one is required for this action to succeed",
        );
    }
    let mut facts = Map::new();
    for (key, value) in args {
        if !is_identifier(&key) {
            return failed(format!(
                "The variable name '{key}' is not valid. Variables must start with a letter or underscore character, and contain only letters, numbers and underscores."
            ));
        }
        facts.insert(key, bool_string(value));
    }
    let mut r = Map::new();
    r.insert("ansible_facts".into(), Value::Object(facts));
    r.insert("_ansible_facts_cacheable".into(), Value::Bool(cacheable));
    r.insert("changed".into(), Value::Bool(false));
    r
}

/// 2.18 (non-native): `"yes"`, `"No"`, `"TRUE"`... become booleans.
fn bool_string(value: Value) -> Value {
    if let Value::String(s) = &value {
        match s.to_ascii_lowercase().as_str() {
            "true" | "yes" => return Value::Bool(true),
            "false" | "no" => return Value::Bool(false),
            _ => {}
        }
    }
    value
}

/// Ansible's `boolean()` of a `set_fact` value; anything it does not read is false.
fn truthy(v: &Value) -> bool {
    crate::py::convert_bool(v).unwrap_or(false)
}

/// Python's `str.isidentifier()` (ASCII) minus keywords, as Ansible's `isidentifier`.
pub fn is_identifier(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    let mut chars = name.chars();
    let starts_well = matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic());
    starts_well && chars.all(|c| c == '_' || c.is_alphanumeric()) && !KEYWORDS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::args;
    use serde_json::json;

    #[test]
    fn facts_are_returned_as_ansible_facts() {
        let r = set_fact(args(json!({"a": 1, "b": {"c": [1]}})));
        assert_eq!(r["ansible_facts"], json!({"a": 1, "b": {"c": [1]}}));
        assert_eq!(r["_ansible_facts_cacheable"], json!(false));
        assert_eq!(r["changed"], json!(false));
    }

    #[test]
    fn yes_no_strings_become_booleans_as_in_2_18() {
        let r = set_fact(args(
            json!({"a": "yes", "b": "False", "c": "on", "d": "NO"}),
        ));
        assert_eq!(
            r["ansible_facts"],
            json!({"a": true, "b": false, "c": "on", "d": false})
        );
    }

    #[test]
    fn cacheable_is_not_a_fact() {
        let r = set_fact(args(json!({"a": 1, "cacheable": "yes"})));
        assert_eq!(r["ansible_facts"], json!({"a": 1}));
        assert_eq!(r["_ansible_facts_cacheable"], json!(true));
    }

    #[test]
    fn invalid_names_fail() {
        let r = set_fact(args(json!({"my-var": 1})));
        assert_eq!(r["failed"], json!(true));
        assert!(r["msg"]
            .as_str()
            .unwrap()
            .starts_with("The variable name 'my-var' is not valid."));
        assert_eq!(set_fact(args(json!({"class": 1})))["failed"], json!(true));
        assert_eq!(set_fact(args(json!({"1a": 1})))["failed"], json!(true));
    }

    #[test]
    fn the_ansible_prefix_is_the_loaders_check_not_the_modules() {
        // The loader refuses `_ansible_` keys written with the task; what reaches the module
        // (through `args:` or a templated key) is set, as Ansible's set_fact sets it.
        let r = set_fact(args(json!({"_ansible_foo": "bar", "_ansible": 1})));
        assert!(r.get("failed").is_none(), "{r:?}");
        assert_eq!(r["ansible_facts"]["_ansible_foo"], json!("bar"));
    }

    #[test]
    fn nothing_to_set_fails() {
        let r = set_fact(args(json!({"cacheable": true})));
        assert_eq!(
            r["msg"],
            json!(
                "No key/value pairs provided, at least one is required for this action to succeed"
            )
        );
    }
}
