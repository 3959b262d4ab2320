//! Module arguments as a task gives them: a mapping, a `k=v` string ([`super::kv::parse_kv`];
//! for `command`/`shell`/`raw`/`script` unknown words stay the command), free-form text
//! (`_raw_params`), plus the `args:` keyword (the inline arguments win). Names and literal
//! values are checked against the module's spec at load time
//! ([`crate::modules::argspec::ArgSpec::check_names`]), located at the offending argument,
//! except on a task that handles its own failure ([`super::load::handles_own_failure`]): that
//! one keeps its arguments and fails at run time with the same message, as in Ansible.

use super::kv::parse_kv;
use super::load::Ctx;
use super::LoadError;
use crate::modules::argspec::Kind;
use crate::value_text;
use crate::yaml::{Node, Yaml};
use crate::{Map, Value};

/// Modules whose `k=v` text keeps unknown words as the command (`check_raw`).
const RAW_MODULES: &[&str] = &["command", "shell", "raw", "script"];

/// Ansible's check while parsing a task: the arguments written with the action (not those of
/// the `args:` keyword) may not start with `_ansible_`, a prefix reserved for the keys it adds
/// to results, except for the free-form actions (`command`, `shell`, `raw`, `script`), whose
/// words are a command line. Ansible names the action as the task wrote it, and the whole
/// playbook stops, whatever the task's `ignore_errors`.
pub(crate) fn check_reserved_names(
    written_name: &str,
    free_form: bool,
    value: &Node,
    ctx: &Ctx,
) -> Result<(), LoadError> {
    if free_form {
        return Ok(());
    }
    let reserved = |key: &str| key.starts_with("_ansible_");
    let found = match &value.value {
        Yaml::Map(entries) => entries
            .iter()
            .map(|(k, _)| (k.key_string(), k))
            .find(|(key, _)| reserved(key)),
        Yaml::Str(s) => parse_kv(s, false)
            .into_iter()
            .map(|(key, _)| (key, value))
            .find(|(key, _)| reserved(key)),
        _ => None,
    };
    match found {
        Some((key, at)) => Err(ctx.err(
            at,
            format!(
                "Invalid parameter specified beginning with keyword '_ansible_' for action \
                 '{written_name}': '{key}'. The prefix '_ansible_' is reserved for internal use only."
            ),
        )),
        None => Ok(()),
    }
}

/// Whether a module's `k=v` text is a command line (Ansible's free-form actions).
pub(crate) fn is_free_form(module: &'static dyn crate::modules::Module) -> bool {
    RAW_MODULES.contains(&module.name())
}

/// Free-form (non-module) action arguments: a string becomes `_raw_params` plus `k=v` words.
pub(crate) fn free_args(value: &Node, extra: Option<&Node>) -> Map {
    let mut args = match extra.map(Node::to_value) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    match value.to_value() {
        Value::Object(m) => {
            for (k, v) in m {
                if k != "module" {
                    args.insert(k, v);
                }
            }
        }
        Value::String(s) => args.extend(parse_kv(&s, false)),
        Value::Null => {}
        other => {
            args.insert("_raw_params".into(), Value::String(value_text(&other)));
        }
    }
    args
}

/// A module's arguments from the task (dict, `k=v` string or free-form text, plus `args:`),
/// with names and literal values checked against the module's spec. With
/// `defer_spec_errors` (the task handles its own failure) arguments the spec refuses are
/// kept: the run-time check ([`crate::modules::argspec::ArgSpec::normalize`]) fails the task
/// with the same message, as Ansible fails it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn module_args(
    module: &'static dyn crate::modules::Module,
    written_name: &str,
    value: &Node,
    extra: Option<&Node>,
    from_action_keyword: bool,
    defer_spec_errors: bool,
    ctx: &Ctx,
) -> Result<Map, LoadError> {
    let mut args = match extra.map(Node::to_value) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut nodes: Vec<(String, &Node)> = Vec::new();
    let mut key_nodes: Vec<(String, &Node)> = Vec::new();
    match &value.value {
        Yaml::Map(entries) => {
            for (k, v) in entries {
                let key = k.key_string();
                if key == "module" && from_action_keyword {
                    continue;
                }
                nodes.push((key.clone(), v));
                key_nodes.push((key.clone(), k));
                args.insert(key, v.to_value());
            }
        }
        Yaml::Str(s) => {
            let text = strip_action_name(s, module);
            let check_raw = is_free_form(module);
            args.extend(parse_kv(text, check_raw));
        }
        Yaml::Null => {}
        Yaml::Seq(_) => {
            return Err(ctx.err(
                value,
                format!(
                    "the arguments of module '{}' must be a mapping or a k=v string, got a list",
                    module.name()
                ),
            ));
        }
        _ => {
            args.insert("_raw_params".into(), value.to_value());
        }
    }
    if module.accepts_any_args() {
        // Free key/value data (set_fact, add_host): the module checks its own keys at run time.
        return Ok(args);
    }
    // Ansible names the module as the task wrote it: `Unsupported parameters for (file) ...`.
    if let Err(message) = module.spec().check_names(written_name, &args) {
        if defer_spec_errors {
            check_placeholder_mappings(module, &nodes, ctx)?;
            return Ok(args);
        }
        // An unknown name is pointed at by its key, a bad value by the value.
        let candidates = if message.starts_with("Unsupported parameters") {
            &key_nodes
        } else {
            &nodes
        };
        let at = args_error_node(&message, candidates).unwrap_or(value);
        return Err(ctx.err(at, message));
    }
    check_placeholder_mappings(module, &nodes, ctx)?;
    Ok(args)
}

/// For `action: copy src=a`, the text after the module name.
fn strip_action_name<'a>(text: &'a str, module: &'static dyn crate::modules::Module) -> &'a str {
    let trimmed = text.trim_start();
    match trimmed.split_once(char::is_whitespace) {
        Some((first, rest))
            if crate::modules::lookup(first).map(|m| m.name()) == Some(module.name()) =>
        {
            rest
        }
        None if crate::modules::lookup(trimmed).map(|m| m.name()) == Some(module.name()) => "",
        _ => text,
    }
}

/// The argument node an argspec message names, for its position: the argument whose name
/// appears first in the message as a whole word (`... module: modee. Supported ...`), after
/// the module's own name.
fn args_error_node<'a>(message: &str, nodes: &[(String, &'a Node)]) -> Option<&'a Node> {
    // Skip `... for (NAME) module` so a parameter that shares the module's name is not hit.
    let message = match message.find(") ") {
        Some(i) if message.starts_with("Unsupported parameters for (") => &message[i..],
        _ => message,
    };
    nodes
        .iter()
        .filter_map(|(k, n)| first_word_at(message, k).map(|at| (at, *n)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, n)| n)
}

/// Where `word` first occurs in `text` as a whole word (not inside an identifier).
fn first_word_at(text: &str, word: &str) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return Some(at);
        }
        from = at + word.len().max(1);
    }
    None
}

/// A string parameter given a YAML mapping or list literally is a mistake Ansible would turn
/// into the string of a Python dict: most often a `{placeholder}` written in the docs' style
/// (`namespace: {namespace}` is the flow mapping `{namespace: null}`). Refuse it before anything
/// runs.
fn check_placeholder_mappings(
    module: &'static dyn crate::modules::Module,
    nodes: &[(String, &Node)],
    ctx: &Ctx,
) -> Result<(), LoadError> {
    for (key, node) in nodes {
        let Some(param) = module.spec().param(key) else {
            continue;
        };
        if !matches!(param.kind, Kind::Str | Kind::Path) {
            continue;
        }
        let shown = match &node.value {
            Yaml::Map(entries) => {
                let keys: Vec<String> = entries.iter().map(|(k, _)| k.key_string()).collect();
                format!("{{{}}}", keys.join(", "))
            }
            Yaml::Seq(_) => "a list".to_string(),
            _ => continue,
        };
        return Err(ctx.err(
            node,
            format!(
                "argument '{key}' of {} is not a valid name: {shown} is read by YAML as a {}, not a string (a documentation placeholder left in?). Replace it with a real value, or quote it",
                module.fqcn(),
                if matches!(node.value, Yaml::Map(_)) { "mapping" } else { "list" }
            ),
        ));
    }
    Ok(())
}
