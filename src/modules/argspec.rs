//! Module parameter specifications and their validation, as Ansible's `AnsibleModule` does it.
//!
//! Two passes: [`ArgSpec::check_names`] runs when the playbook is loaded, before anything runs,
//! on the raw (untemplated) arguments: unknown parameters and missing required ones fail there
//! with Ansible's wording. [`ArgSpec::normalize`] runs on the templated arguments: aliases become
//! canonical names, types are coerced as Ansible coerces them (`"yes"` → true, `"0644"` stays a
//! string for `raw`), choices are checked and defaults filled in.

use crate::Map;

/// A parameter's type, as in Ansible's argument specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    Int,
    Float,
    /// A path: a string with `~` left for the target to expand.
    Path,
    /// Anything, untouched (`mode`, `content`).
    Raw,
    /// A list; a comma-separated string is split.
    List,
    Dict,
}

/// One parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub required: bool,
    /// Allowed values (compared as strings), empty when any value goes.
    pub choices: &'static [&'static str],
    /// Default as YAML text (`"false"`, `"10"`), or `None`.
    pub default: Option<&'static str>,
    /// Values never printed (`no_log` in Ansible's spec).
    pub no_log: bool,
    /// An option of the action plugin, not of the module (copy's `decrypt`): accepted, but left
    /// out of the "Supported parameters include" list, which names the module's spec only.
    pub action_only: bool,
    /// Accepted so that playbooks written for Ansible load, but not implemented: a task that
    /// sets it to anything but its default gets a warning naming it (see
    /// [`ArgSpec::ignored_given`]).
    pub ignored: bool,
}

/// A module's parameters and the rules between them.
#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    pub params: &'static [Param],
    /// Takes free-form text (`command`, `shell`): kept as `_raw_params`.
    pub free_form: bool,
    pub mutually_exclusive: &'static [&'static [&'static str]],
    pub required_one_of: &'static [&'static [&'static str]],
}

use crate::template::Templar;
use crate::Value;

use crate::py::{BOOL_FALSE, BOOL_TRUE};

impl Param {
    /// A parameter with no aliases, choices or default, to build specs with struct update syntax.
    pub const fn new(name: &'static str, kind: Kind) -> Param {
        Param {
            name,
            aliases: &[],
            kind,
            required: false,
            choices: &[],
            default: None,
            no_log: false,
            action_only: false,
            ignored: false,
        }
    }

    /// The same parameter, marked as accepted but not implemented.
    pub const fn ignored(self) -> Param {
        Param {
            ignored: true,
            ..self
        }
    }
}

/// Whether a given value is the parameter's default written as YAML text (`"false"`, `"10"`,
/// `"all"`; a one-item list counts as its item, as list parameters read a scalar).
fn is_default(value: &Value, default: Option<&str>) -> bool {
    let Some(default) = default else {
        return false;
    };
    match value {
        Value::Array(items) => items.len() == 1 && is_default(&items[0], Some(default)),
        other => crate::py::str(other).eq_ignore_ascii_case(default),
    }
}

impl ArgSpec {
    /// The not-implemented parameters ([`Param::ignored`]) that `given` (the task's arguments,
    /// templated, before normalisation) sets to something other than their default or null.
    pub fn ignored_given(&self, given: &Map) -> Vec<&'static str> {
        self.params
            .iter()
            .filter(|p| p.ignored)
            .filter(|p| {
                std::iter::once(p.name)
                    .chain(p.aliases.iter().copied())
                    .filter_map(|n| given.get(n))
                    .any(|v| !v.is_null() && !is_default(v, p.default))
            })
            .map(|p| p.name)
            .collect()
    }

    /// The parameter a name (canonical or alias) refers to.
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params
            .iter()
            .find(|p| p.name == name || p.aliases.contains(&name))
    }

    /// Load-time validation of raw (untemplated) arguments: unknown parameters, mutually
    /// exclusive ones, missing required ones, and the types and choices of literal values.
    /// Values holding template syntax are only checked once templated, by [`ArgSpec::normalize`].
    pub fn check_names(&self, fqcn: &str, args: &Map) -> Result<(), String> {
        self.check_supported(fqcn, args)?;
        self.check_mutually_exclusive(args)?;
        self.check_required(args)?;
        for (key, value) in args {
            let Some(param) = self.lookup_arg(key) else {
                continue;
            };
            if contains_template(value) {
                continue;
            }
            let coerced = coerce(param, value)?;
            check_choices(param, &coerced)?;
        }
        Ok(())
    }

    /// Run-time normalisation of templated arguments, in Ansible's order of checks: unknown
    /// parameters, mutual exclusion, required, types, choices, required-one-of, then defaults.
    /// The result holds canonical names only.
    pub fn normalize(&self, fqcn: &str, args: Map) -> Result<Map, String> {
        self.check_supported(fqcn, &args)?;
        self.check_mutually_exclusive(&args)?;
        self.check_required(&args)?;
        let mut out = Map::new();
        for (key, value) in args {
            match self.lookup_arg(&key) {
                Some(param) => {
                    let coerced = if value.is_null() {
                        Value::Null
                    } else {
                        coerce(param, &value)?
                    };
                    check_choices(param, &coerced)?;
                    out.insert(param.name.to_string(), coerced);
                }
                // `_raw_params`, or `cmd` (its spelling in dict form) of a free-form module.
                None => merge_raw_params(&mut out, value)?,
            }
        }
        for group in self.required_one_of {
            if !group.iter().any(|name| out.contains_key(*name)) {
                return Err(format!(
                    "one of the following is required: {}",
                    group.join(", ")
                ));
            }
        }
        for param in self.params {
            if out.contains_key(param.name) {
                continue;
            }
            if let Some(text) = param.default {
                out.insert(param.name.to_string(), default_value(param.kind, text));
            }
        }
        Ok(out)
    }

    /// The spec entry for an argument key; `None` for `_raw_params`/`cmd` of free-form modules.
    fn lookup_arg(&self, key: &str) -> Option<&'static Param> {
        if self.free_form && is_raw_key(key) && self.param(key).is_none() {
            return None;
        }
        self.param(key)
    }

    fn check_supported(&self, fqcn: &str, args: &Map) -> Result<(), String> {
        let mut unknown: Vec<&str> = args
            .keys()
            .map(String::as_str)
            .filter(|key| self.param(key).is_none() && !(self.free_form && is_raw_key(key)))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort_unstable();
        if unknown == ["expand_argument_vars"] && fqcn.rsplit('.').next() == Some("shell") {
            // The shell action refuses this one itself, naming the task's module as written.
            return Err(format!(
                "Unsupported parameters for ({fqcn}) module: expand_argument_vars"
            ));
        }
        Err(format!(
            "Unsupported parameters for ({}) module: {}. Supported parameters include: {}.",
            printed_module_name(fqcn),
            unknown.join(", "),
            self.supported_list()
        ))
    }

    /// `a, b, c (alias1, alias2)`, as Ansible prints the supported parameters.
    fn supported_list(&self) -> String {
        let listed = || self.params.iter().filter(|p| !p.action_only);
        let mut names: Vec<&str> = listed().map(|p| p.name).collect();
        if self.free_form && self.param(RAW_PARAMS).is_none() {
            names.push(RAW_PARAMS);
        }
        names.sort_unstable();
        let mut aliases: Vec<&str> = listed().flat_map(|p| p.aliases.iter().copied()).collect();
        aliases.sort_unstable();
        let mut text = names.join(", ");
        if !aliases.is_empty() {
            text.push_str(&format!(" ({})", aliases.join(", ")));
        }
        text
    }

    fn check_mutually_exclusive(&self, args: &Map) -> Result<(), String> {
        let mut clashes = Vec::new();
        for group in self.mutually_exclusive {
            let present = group
                .iter()
                .filter(|name| self.is_given(args, name))
                .count();
            if present > 1 {
                clashes.push(group.join("|"));
            }
        }
        if clashes.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "parameters are mutually exclusive: {}",
                clashes.join(", ")
            ))
        }
    }

    fn check_required(&self, args: &Map) -> Result<(), String> {
        let mut missing: Vec<&str> = self
            .params
            .iter()
            .filter(|p| p.required && !self.is_given(args, p.name))
            .map(|p| p.name)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        Err(format!(
            "missing required arguments: {}",
            missing.join(", ")
        ))
    }

    /// Whether a parameter is present under its name or one of its aliases.
    fn is_given(&self, args: &Map, name: &str) -> bool {
        match self.param(name) {
            Some(p) => args.contains_key(p.name) || p.aliases.iter().any(|a| args.contains_key(*a)),
            None => args.contains_key(name),
        }
    }
}

/// The key where free-form modules (`command`, `shell`) receive their text.
pub const RAW_PARAMS: &str = "_raw_params";

/// The module name as Ansible prints it in argument errors. Most modules are named as the task
/// wrote them (`file`, `ansible.builtin.file`); those whose action plugin calls the module itself
/// through `ansible.legacy` are named that way whatever the task wrote (`copy` →
/// `ansible.legacy.copy`; `command` and `shell` → `ansible.legacy.command`). Checked against
/// ansible-core 2.18.
fn printed_module_name(name: &str) -> String {
    let short = name.rsplit('.').next().unwrap_or(name);
    match short {
        "copy" => "ansible.legacy.copy".to_string(),
        "command" | "shell" => "ansible.legacy.command".to_string(),
        _ => name.to_string(),
    }
}

fn merge_raw_params(out: &mut Map, value: Value) -> Result<(), String> {
    let given = |v: &Value| !(v.is_null() || v.as_str() == Some(""));
    if let Some(existing) = out.get(RAW_PARAMS) {
        if given(existing) && given(&value) {
            return Err(
                "The 'cmd' argument cannot be used when other raw parameters are specified. \
                 Please put everything in one or the other place."
                    .to_string(),
            );
        }
        if !given(&value) {
            return Ok(());
        }
    }
    out.insert(RAW_PARAMS.to_string(), value);
    Ok(())
}

fn is_raw_key(key: &str) -> bool {
    key == RAW_PARAMS || key == "cmd"
}

fn contains_template(value: &Value) -> bool {
    match value {
        Value::String(s) => Templar::is_template(s),
        Value::Array(items) => items.iter().any(contains_template),
        Value::Object(map) => map.values().any(contains_template),
        _ => false,
    }
}

/// Converts a value to the parameter's kind as Ansible's `check_type_*` functions do.
fn coerce(param: &Param, value: &Value) -> Result<Value, String> {
    let fail = |wanted: &str, why: String| {
        format!(
            "argument '{}' is of type {} and we were unable to convert to {wanted}: {why}",
            param.name,
            crate::py::class_name(value)
        )
    };
    match param.kind {
        Kind::Raw => Ok(value.clone()),
        Kind::Str | Kind::Path => Ok(Value::String(crate::py::str(value))),
        Kind::Bool => to_bool(value)
            .map(Value::Bool)
            .map_err(|why| fail("bool", why)),
        Kind::Int => to_int(value).map(Value::from).ok_or_else(|| {
            fail(
                "int",
                format!(
                    "{} cannot be converted to an int",
                    crate::py::class_name(value)
                ),
            )
        }),
        Kind::Float => to_float(value).map(Value::from).ok_or_else(|| {
            fail(
                "float",
                format!(
                    "{} cannot be converted to a float",
                    crate::py::class_name(value)
                ),
            )
        }),
        Kind::List => to_list(value).ok_or_else(|| {
            fail(
                "list",
                format!(
                    "{} cannot be converted to a list",
                    crate::py::class_name(value)
                ),
            )
        }),
        Kind::Dict => to_dict(value).ok_or_else(|| {
            fail(
                "dict",
                "dictionary requested, could not parse JSON or key=value".to_string(),
            )
        }),
    }
}

fn check_choices(param: &Param, value: &Value) -> Result<(), String> {
    if param.choices.is_empty() || value.is_null() {
        return Ok(());
    }
    let text = crate::py::str(value);
    if param.choices.contains(&text.as_str()) {
        return Ok(());
    }
    Err(format!(
        "value of {} must be one of: {}, got: {text}",
        param.name,
        param.choices.join(", ")
    ))
}

/// Ansible's truth table for boolean parameters ([`crate::py::convert_bool`]), with its
/// messages for what it refuses.
pub fn to_bool(value: &Value) -> Result<bool, String> {
    if let Some(b) = crate::py::convert_bool(value) {
        return Ok(b);
    }
    match value {
        Value::String(s) => Err(invalid_bool(s)),
        Value::Number(n) => Err(invalid_bool(&n.to_string())),
        other => Err(format!(
            "{} cannot be converted to a bool",
            crate::py::class_name(other)
        )),
    }
}

fn invalid_bool(text: &str) -> String {
    let valid: Vec<String> = BOOL_TRUE
        .iter()
        .chain(BOOL_FALSE)
        .map(|b| format!("'{b}'"))
        .chain(["1.0", "1", "0", "0.0"].map(String::from))
        .collect();
    format!(
        "The value '{text}' is not a valid boolean.  Valid booleans include: {}",
        valid.join(", ")
    )
}

fn to_int(value: &Value) -> Option<i64> {
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().replace('_', "").parse::<i64>().ok(),
        _ => None,
    }
}

fn to_float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Ansible's list conversion: a list as is, a string split on commas, a number or boolean (a
/// Python int) the one-element list of its `str()` (`true` → `["True"]`); anything else fails.
fn to_list(value: &Value) -> Option<Value> {
    match value {
        Value::Bool(_) => Some(Value::Array(vec![Value::String(crate::py::str(value))])),
        Value::Array(_) => Some(value.clone()),
        Value::String(s) => Some(Value::Array(
            s.split(',')
                .map(|part| Value::String(part.to_string()))
                .collect(),
        )),
        Value::Number(_) => Some(Value::Array(vec![Value::String(crate::py::str(value))])),
        _ => None,
    }
}

fn to_dict(value: &Value) -> Option<Value> {
    match value {
        Value::Object(_) => Some(value.clone()),
        Value::String(s) if s.trim_start().starts_with('{') => serde_json::from_str::<Value>(s)
            .ok()
            .filter(Value::is_object),
        Value::String(s) => {
            let mut map = Map::new();
            for pair in s.split([',', ' ']).filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=')?;
                map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
            }
            Some(Value::Object(map))
        }
        _ => None,
    }
}

fn default_value(kind: Kind, text: &str) -> Value {
    let as_text = Value::String(text.to_string());
    match kind {
        Kind::Bool => to_bool(&as_text).map(Value::Bool).unwrap_or(as_text),
        Kind::Int => to_int(&as_text).map(Value::from).unwrap_or(as_text),
        Kind::Float => to_float(&as_text).map(Value::from).unwrap_or(as_text),
        Kind::List if text == "[]" => Value::Array(Vec::new()),
        Kind::List => to_list(&as_text).unwrap_or(as_text),
        Kind::Dict if text == "{}" => Value::Object(Map::new()),
        _ => as_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static SPEC: ArgSpec = ArgSpec {
        params: &[
            Param {
                aliases: &["dest", "name"],
                required: true,
                ..Param::new("path", Kind::Path)
            },
            Param {
                choices: &["absent", "directory", "file"],
                ..Param::new("state", Kind::Str)
            },
            Param {
                default: Some("false"),
                ..Param::new("force", Kind::Bool)
            },
            Param::new("count", Kind::Int),
            Param::new("ratio", Kind::Float),
            Param::new("groups", Kind::List),
            Param::new("labels", Kind::Dict),
            Param::new("owner", Kind::Str),
            Param::new("content", Kind::Raw),
            Param::new("src", Kind::Path),
            Param {
                aliases: &["attr"],
                ..Param::new("attributes", Kind::Str)
            },
        ],
        free_form: false,
        mutually_exclusive: &[&["content", "src"]],
        required_one_of: &[],
    };

    fn map(value: serde_json::Value) -> Map {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn unknown_parameters_list_supported_ones_like_ansible() {
        let err = SPEC
            .check_names(
                "ansible.builtin.file",
                &map(json!({"path": "/x", "foo": 1, "bar": 2})),
            )
            .unwrap_err();
        assert_eq!(
            err,
            "Unsupported parameters for (ansible.builtin.file) module: bar, foo. Supported parameters include: attributes, content, count, force, groups, labels, owner, path, ratio, src, state (attr, dest, name)."
        );
    }

    #[test]
    fn module_names_print_as_ansible_2_18_prints_them() {
        let printed = |name: &str| {
            let err = SPEC
                .check_names(name, &map(json!({"path": "/x", "foo": 1})))
                .unwrap_err();
            err.split(") module").next().unwrap_or_default().to_string()
        };
        assert_eq!(printed("file"), "Unsupported parameters for (file");
        assert_eq!(
            printed("ansible.builtin.file"),
            "Unsupported parameters for (ansible.builtin.file"
        );
        assert_eq!(
            printed("copy"),
            "Unsupported parameters for (ansible.legacy.copy"
        );
        assert_eq!(
            printed("ansible.builtin.copy"),
            "Unsupported parameters for (ansible.legacy.copy"
        );
        assert_eq!(
            printed("shell"),
            "Unsupported parameters for (ansible.legacy.command"
        );
    }

    #[test]
    fn missing_required_and_mutually_exclusive() {
        let err = SPEC
            .check_names("m", &map(json!({"state": "file"})))
            .unwrap_err();
        assert_eq!(err, "missing required arguments: path");
        // An alias satisfies the requirement.
        assert!(SPEC.check_names("m", &map(json!({"dest": "/x"}))).is_ok());
        let err = SPEC
            .check_names("m", &map(json!({"path": "/x", "content": "a", "src": "b"})))
            .unwrap_err();
        assert_eq!(err, "parameters are mutually exclusive: content|src");
    }

    #[test]
    fn literal_values_are_checked_at_load_time_templates_later() {
        let err = SPEC
            .check_names("m", &map(json!({"path": "/x", "state": "foo"})))
            .unwrap_err();
        assert_eq!(
            err,
            "value of state must be one of: absent, directory, file, got: foo"
        );
        assert!(SPEC
            .check_names(
                "m",
                &map(json!({"path": "/x", "state": "{{ s }}", "force": "{{ f }}"}))
            )
            .is_ok());
        let err = SPEC
            .check_names("m", &map(json!({"path": "/x", "force": "maybe"})))
            .unwrap_err();
        assert!(err.starts_with("argument 'force' is of type <class 'str'> and we were unable to convert to bool: The value 'maybe' is not a valid boolean."), "{err}");
    }

    #[test]
    fn normalize_resolves_aliases_coerces_and_fills_defaults() {
        let out = SPEC
            .normalize(
                "m",
                map(
                    json!({"dest": "/x", "count": "12", "ratio": 2, "groups": "a,b", "owner": 1000,
                           "labels": "k=v x=y", "attr": "i", "content": {"a": 1}}),
                ),
            )
            .unwrap();
        assert_eq!(out["path"], "/x");
        assert!(out.get("dest").is_none());
        assert_eq!(out["count"], 12);
        assert_eq!(out["ratio"], 2.0);
        assert_eq!(out["groups"], json!(["a", "b"]));
        assert_eq!(out["owner"], "1000");
        assert_eq!(out["labels"], json!({"k": "v", "x": "y"}));
        assert_eq!(out["attributes"], "i");
        assert_eq!(out["content"], json!({"a": 1}));
        assert_eq!(out["force"], false);
        let out = SPEC
            .normalize("m", map(json!({"path": "/x", "force": "YES"})))
            .unwrap();
        assert_eq!(out["force"], true);
        let err = SPEC
            .normalize("m", map(json!({"path": "/x", "count": "ten"})))
            .unwrap_err();
        assert_eq!(
            err,
            "argument 'count' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"
        );
        let out = SPEC
            .normalize("m", map(json!({"path": "/x", "owner": true})))
            .unwrap();
        assert_eq!(out["owner"], "True");
    }

    #[test]
    fn free_form_modules_take_raw_params_and_cmd() {
        static FREE: ArgSpec = ArgSpec {
            params: &[Param::new("chdir", Kind::Path)],
            free_form: true,
            mutually_exclusive: &[],
            required_one_of: &[&["chdir"]],
        };
        let out = FREE
            .normalize("c", map(json!({"cmd": "ls -l", "chdir": "/"})))
            .unwrap();
        assert_eq!(out["_raw_params"], "ls -l");
        let err = FREE
            .normalize(
                "c",
                map(json!({"cmd": "ls", "_raw_params": "pwd", "chdir": "/"})),
            )
            .unwrap_err();
        assert!(
            err.starts_with("The 'cmd' argument cannot be used"),
            "{err}"
        );
        let err = FREE
            .normalize("c", map(json!({"_raw_params": "ls"})))
            .unwrap_err();
        assert_eq!(err, "one of the following is required: chdir");
        let err = FREE.check_names("c", &map(json!({"x": 1}))).unwrap_err();
        assert!(
            err.ends_with("Supported parameters include: _raw_params, chdir."),
            "{err}"
        );
    }

    #[test]
    fn scalars_become_one_element_string_lists() {
        let list = Param::new("that", Kind::List);
        assert_eq!(coerce(&list, &json!(true)), Ok(json!(["True"])));
        assert_eq!(coerce(&list, &json!(1)), Ok(json!(["1"])));
        assert_eq!(coerce(&list, &json!(1.5)), Ok(json!(["1.5"])));
        assert_eq!(coerce(&list, &json!("a,b")), Ok(json!(["a", "b"])));
        assert!(coerce(&list, &json!({"a": 1})).is_err());
    }
}
