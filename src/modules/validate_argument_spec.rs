//! `ansible.builtin.validate_argument_spec`: checks variables (or given arguments) against an
//! argument specification, as a role's `meta/argument_specs.yml` describes its inputs; runs
//! on the controller.
//!
//! Semantics (ansible-core 2.18 action `validate_argument_spec.py` with
//! `ArgumentSpecValidator`):
//! - `argument_spec` (required, a mapping of option name to `type`, `required`, `default`,
//!   `choices`, `elements`, `options`, `aliases`); `provided_arguments` (a mapping) wins over
//!   the task's variables of the same names, which are used for the options not provided.
//!   `validate_args_context` is returned as given.
//! - Checks, with Ansible's messages: unknown provided names (`x. Supported parameters
//!   include: a, b.`), `missing required arguments: a, b`, types (`argument 'n' is of type
//!   <class 'str'> and we were unable to convert to int: ...`), `choices` (`value of s must be
//!   one of: a, b, got: c`), list `elements`, and nested `options` of dicts and lists of dicts
//!   (messages end with ` found in parent`).
//! - Failure: `failed, msg: "Validation of arguments failed:\n<errors>"`, `argument_errors`,
//!   `argument_spec_data`. Success: `changed: false, msg: The arg spec validation passed`.
//!   A missing or non-mapping `argument_spec` or `provided_arguments` fails the task with
//!   Ansible's error text.
//!
//! Not supported (a warning names them): `required_if`, `required_one_of`,
//! `required_together`, `mutually_exclusive`, `required_by` inside an option; types other
//! than str, int, float, bool, list, dict, path and raw are checked as raw.

use super::argspec::{coerce_to, Kind};
use super::remote::failed_unchanged as failed;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::py;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct ValidateArgumentSpec;

static SPEC: super::argspec::ArgSpec = super::argspec::ArgSpec {
    params: &[
        super::argspec::Param::new("argument_spec", Kind::Raw),
        super::argspec::Param::new("provided_arguments", Kind::Raw),
        super::argspec::Param::new("validate_args_context", Kind::Raw),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for ValidateArgumentSpec {
    fn name(&self) -> &'static str {
        "validate_argument_spec"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.validate_argument_spec"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static super::argspec::ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let spec = match args.get("argument_spec") {
            Some(Value::Object(spec)) => spec.clone(),
            None | Some(Value::Null) => {
                return Ok(failed(format!(
                    "\"argument_spec\" arg is required in args: {}",
                    py::repr(&Value::Object(args.clone()))
                )))
            }
            Some(other) => {
                return Ok(failed(format!(
                    "Incorrect type for argument_spec, expected dict and got {}",
                    py::class_name(other)
                )))
            }
        };
        let provided = match args.get("provided_arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                return Ok(failed(format!(
                    "Incorrect type for provided_arguments, expected dict and got {}",
                    py::class_name(other)
                )))
            }
        };
        // The task's variables of the spec's names, templated, under the provided arguments.
        let mut values = Map::new();
        for name in spec.keys() {
            if let Some(v) = ctx.scope.vars.get(name) {
                match ctx.templar.template(v, ctx.scope) {
                    Ok(v) => values.insert(name.clone(), v),
                    Err(e) => return Ok(failed(e.message)),
                };
            }
        }
        values.extend(provided);
        let mut check = Check::default();
        check.options(&spec, &mut values, &[]);
        if !check.unsupported.is_empty() {
            check.unsupported.sort();
            check.errors.push(format!(
                "{}. Supported parameters include: {}.",
                check.unsupported.join(", "),
                check.supported
            ));
        }
        let mut result = Map::new();
        result.insert(
            "validate_args_context".into(),
            args.get("validate_args_context")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
        );
        if !check.ignored.is_empty() {
            check.ignored.sort();
            check.ignored.dedup();
            result.insert(
                "warnings".into(),
                Value::Array(vec![Value::String(format!(
                    "validate_argument_spec does not check: {}",
                    check.ignored.join(", ")
                ))]),
            );
        }
        if !check.errors.is_empty() {
            result.insert("failed".into(), Value::Bool(true));
            result.insert(
                "msg".into(),
                Value::String(format!(
                    "Validation of arguments failed:\n{}",
                    check.errors.join("\n")
                )),
            );
            result.insert("argument_spec_data".into(), Value::Object(spec));
            result.insert(
                "argument_errors".into(),
                Value::Array(check.errors.into_iter().map(Value::String).collect()),
            );
            return Ok(result);
        }
        result.insert("changed".into(), Value::Bool(false));
        result.insert(
            "msg".into(),
            Value::String("The arg spec validation passed".into()),
        );
        Ok(result)
    }
}

/// The errors found so far, and the spec keys this does not check.
#[derive(Default)]
struct Check {
    errors: Vec<String>,
    ignored: Vec<String>,
    /// Unknown names (`parent.name` when nested) and the supported names they were checked
    /// against, reported after every other error as Ansible does.
    unsupported: Vec<String>,
    supported: String,
}

/// The Python type the controller sees: strings read from YAML are `AnsibleUnicode`.
fn controller_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "<class 'ansible.parsing.yaml.objects.AnsibleUnicode'>",
        other => py::class_name(other),
    }
}

/// ansible-core 2.18.19's reasons: `check_type_int` quotes the value's repr.
fn reason(wanted: &str, value: &Value, why: String) -> String {
    if wanted == "int" {
        format!("\"{}\" cannot be converted to an int", py::repr(value))
    } else {
        why
    }
}

fn kind_of(name: Option<&str>) -> Kind {
    match name.unwrap_or("str") {
        "str" => Kind::Str,
        "int" => Kind::Int,
        "float" => Kind::Float,
        "bool" => Kind::Bool,
        "list" => Kind::List,
        "dict" => Kind::Dict,
        "path" => Kind::Path,
        _ => Kind::Raw,
    }
}

/// ` found in a -> b` (or with quotes, as Ansible words each message).
fn found_in(context: &[String], quoted: bool) -> String {
    if context.is_empty() {
        return String::new();
    }
    let path = context.join(" -> ");
    if quoted {
        format!(" found in '{path}'.")
    } else {
        format!(" found in {path}")
    }
}

impl Check {
    /// Checks `values` against `spec` (one level of options), filling defaults and resolving
    /// aliases in place, in `ArgumentSpecValidator`'s order: required, types (and elements),
    /// choices, nested options; unknown names are reported last, once for all levels.
    fn options(&mut self, spec: &Map, values: &mut Map, context: &[String]) {
        let option_of = |name: &str| {
            spec.get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let aliases_of = |name: &str| -> Vec<String> {
            option_of(name)
                .get("aliases")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(py::str).collect())
                .unwrap_or_default()
        };
        for name in spec.keys() {
            for alias in aliases_of(name) {
                if let Some(v) = values.remove(&alias) {
                    values.entry(name.clone()).or_insert(v);
                }
            }
        }
        let mut unknown: Vec<String> = values
            .keys()
            .filter(|k| !spec.contains_key(*k))
            .map(|k| {
                let mut path = context.to_vec();
                path.push(k.clone());
                path.join(".")
            })
            .collect();
        if !unknown.is_empty() {
            let mut names: Vec<String> = spec.keys().cloned().collect();
            names.sort();
            let mut aliases: Vec<String> = spec.keys().flat_map(|n| aliases_of(n)).collect();
            aliases.sort();
            let mut supported = names.join(", ");
            if !aliases.is_empty() {
                supported.push_str(&format!(" ({})", aliases.join(", ")));
            }
            self.unsupported.append(&mut unknown);
            self.supported = supported;
        }
        for (name, option) in spec {
            let Some(option) = option.as_object() else {
                continue;
            };
            if !values.contains_key(name) {
                if let Some(default) = option.get("default").filter(|d| !d.is_null()) {
                    values.insert(name.clone(), default.clone());
                }
            }
        }
        let mut missing: Vec<&str> = spec
            .keys()
            .filter(|name| {
                let required =
                    option_of(name).get("required").and_then(Value::as_bool) == Some(true);
                required && values.get(*name).is_none_or(Value::is_null)
            })
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            self.errors.push(format!(
                "missing required arguments: {}{}",
                missing.join(", "),
                found_in(context, false)
            ));
        }
        for (name, option) in spec {
            let option = option.as_object().cloned().unwrap_or_default();
            for key in option.keys() {
                if matches!(
                    key.as_str(),
                    "required_if"
                        | "required_one_of"
                        | "required_together"
                        | "mutually_exclusive"
                        | "required_by"
                ) {
                    self.ignored.push(format!("{name}.{key}"));
                }
            }
            if let Some(value) = values.get(name).filter(|v| !v.is_null()).cloned() {
                match self.typed(name, &option, value, context) {
                    Some(value) => {
                        values.insert(name.clone(), value);
                    }
                    None => {
                        values.remove(name);
                    }
                }
            }
        }
        for (name, option) in spec {
            if let (Some(value), Some(option)) = (values.get(name), option.as_object()) {
                self.choices(name, option, value, context);
            }
        }
        for (name, option) in spec {
            let Some(Value::Object(nested)) = option.get("options") else {
                continue;
            };
            let mut inner = context.to_vec();
            inner.push(name.to_string());
            match values.get_mut(name) {
                Some(Value::Object(map)) => self.options(nested, map, &inner),
                Some(Value::Array(items)) => {
                    for item in items.iter_mut() {
                        if let Value::Object(map) = item {
                            self.options(nested, map, &inner);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The value of `name` as its type (and its elements as theirs); `None` when it is not.
    fn typed(
        &mut self,
        name: &str,
        option: &Map,
        value: Value,
        context: &[String],
    ) -> Option<Value> {
        let type_name = option.get("type").and_then(Value::as_str);
        let mut value = match coerce_to(kind_of(type_name), &value) {
            Ok(v) => v,
            Err((wanted, why)) => {
                self.errors.push(format!(
                    "argument '{name}' is of type {}{} and we were unable to convert to {wanted}: {}",
                    controller_type(&value),
                    found_in(context, true),
                    reason(wanted, &value, why)
                ));
                return None;
            }
        };
        let elements = option.get("elements").and_then(Value::as_str);
        if let (Some(elements), Value::Array(items)) = (elements, &mut value) {
            for item in items.iter_mut() {
                match coerce_to(kind_of(Some(elements)), item) {
                    Ok(v) => *item = v,
                    Err((wanted, why)) => {
                        let at = if context.is_empty() {
                            String::new()
                        } else {
                            format!(" found in '{}'", context.join(" -> "))
                        };
                        self.errors.push(format!(
                            "Elements value for option '{name}'{at} is of type {} and we were unable to convert to {wanted}: {}",
                            controller_type(item),
                            reason(wanted, item, why)
                        ));
                    }
                }
            }
        }
        Some(value)
    }

    fn choices(&mut self, name: &str, option: &Map, value: &Value, context: &[String]) {
        let Some(Value::Array(choices)) = option.get("choices") else {
            return;
        };
        let allowed: Vec<String> = choices.iter().map(py::str).collect();
        let given: Vec<String> = match value {
            Value::Array(items) => items.iter().map(py::str).collect(),
            other => vec![py::str(other)],
        };
        if let Some(bad) = given.iter().find(|g| !allowed.contains(g)) {
            let got = if value.is_array() {
                given.join(", ")
            } else {
                bad.clone()
            };
            self.errors.push(format!(
                "value of {name} must be one of: {}, got: {got}{}",
                allowed.join(", "),
                found_in(context, false)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{run, run_with, Options};
    use serde_json::json;

    fn spec() -> Value {
        json!({
            "vm_name": {"type": "str", "required": true},
            "disks": {"type": "int", "default": 1},
            "mode": {"type": "str", "choices": ["fast", "safe"]},
            "ports": {"type": "list", "elements": "int"},
            "target": {"type": "dict", "options": {"host": {"type": "str", "required": true}}},
        })
    }

    #[tokio::test]
    async fn valid_arguments_pass_and_variables_fill_in() {
        let mut vars = Map::new();
        vars.insert("vm_name".into(), json!("db-1"));
        let result = run_with(
            &ValidateArgumentSpec,
            json!({"argument_spec": spec(), "provided_arguments": {"ports": ["22", 80], "target": {"host": "h"}}}),
            Options { vars, ..Options::default() },
        )
        .await;
        assert_eq!(
            result["msg"], "The arg spec validation passed",
            "{result:?}"
        );
        assert_eq!(result["changed"], false);
        assert_eq!(result["validate_args_context"], json!({}));
    }

    #[tokio::test]
    async fn errors_are_listed_with_ansible_words() {
        let result = run(
            &ValidateArgumentSpec,
            json!({"argument_spec": spec(), "provided_arguments": {
                "disks": "many", "mode": "slow", "ports": ["x"], "target": {}, "extra": 1
            }}),
        )
        .await;
        assert_eq!(result["failed"], true);
        let errors: Vec<&str> = result["argument_errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(
            errors,
            vec![
                "missing required arguments: vm_name",
                "argument 'disks' is of type <class 'ansible.parsing.yaml.objects.AnsibleUnicode'> and we were unable to convert to int: \"'many'\" cannot be converted to an int",
                "Elements value for option 'ports' is of type <class 'ansible.parsing.yaml.objects.AnsibleUnicode'> and we were unable to convert to int: \"'x'\" cannot be converted to an int",
                "value of mode must be one of: fast, safe, got: slow",
                "missing required arguments: host found in target",
                "extra. Supported parameters include: disks, mode, ports, target, vm_name.",
            ]
        );
        assert!(result["msg"]
            .as_str()
            .unwrap()
            .starts_with("Validation of arguments failed:\nmissing required arguments: vm_name\n"));
    }

    #[tokio::test]
    async fn the_spec_itself_must_be_a_mapping() {
        let result = run(&ValidateArgumentSpec, json!({"argument_spec": "x"})).await;
        assert_eq!(
            result["msg"],
            "Incorrect type for argument_spec, expected dict and got <class 'str'>"
        );
    }
}
