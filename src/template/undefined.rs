//! Names the undefined value behind a failure, in Ansible's words.
//!
//! minijinja's undefined carries no name, so after a failure the template's variable paths
//! (`a.b.c`, in source order) are resolved against the context: the first path whose root is
//! missing gives `'a' is undefined`; the first whose member is missing gives
//! `'dict object' has no attribute 'c'` (Jinja2's wording, with Python's type names). Paths
//! guarded in the source (`is defined`, `| default`) are only blamed when nothing else is.

use super::context::LazyVars;
use super::{Templar, TemplateError, GLOBAL_NAMES};
use minijinja::value::{Object, ValueKind};
use minijinja::Value;
use std::sync::Arc;

/// The start of the message when no variable can be blamed (an empty `first`, a missing index).
pub(crate) const FALLBACK: &str = "an undefined value was used in: ";

/// Describes the undefined value used in `source` (an expression when `is_expr`).
pub(crate) fn describe(
    templar: &Templar,
    source: &str,
    root: &Arc<LazyVars>,
    is_expr: bool,
) -> TemplateError {
    let paths = variable_paths(templar, source, is_expr);
    let mut guarded = None;
    for (path, position) in paths {
        if let Some(err) = resolve_path(&path, root) {
            if is_guarded(source, position + path.len()) {
                guarded.get_or_insert(err);
            } else {
                return err;
            }
        }
    }
    guarded.unwrap_or_else(|| TemplateError {
        message: format!("{FALLBACK}{}", source.trim()),
        undefined: Some(source.trim().to_string()),
    })
}

/// The undefined value used without protection in `source`, if any: used after a strict
/// evaluation failed while the chainable one succeeded, to tell Ansible's allowed uses
/// (`a.b.c is defined`, `a.b | default(1)`) from its errors (`not a`, `a == 1`, `if a`).
pub(crate) fn describe_unguarded(
    templar: &Templar,
    source: &str,
    root: &Arc<LazyVars>,
    is_expr: bool,
) -> Option<TemplateError> {
    variable_paths(templar, source, is_expr)
        .into_iter()
        .filter(|(path, position)| !is_guarded(source, position + path.len()))
        .find_map(|(path, _)| resolve_path(&path, root))
}

/// The dotted variable paths of a template or expression, in source order.
fn variable_paths(templar: &Templar, source: &str, is_expr: bool) -> Vec<(String, usize)> {
    let names = if is_expr {
        match templar.env().compile_expression(source) {
            Ok(e) => e.undeclared_variables(true),
            Err(_) => return Vec::new(),
        }
    } else {
        match templar.env().template_from_str(source) {
            Ok(t) => t.undeclared_variables(true),
            Err(_) => return Vec::new(),
        }
    };
    let mut paths: Vec<(String, usize)> = names
        .into_iter()
        .filter(|p| !GLOBAL_NAMES.contains(&p.split('.').next().unwrap_or_default()))
        .map(|p| {
            let position = find_word(source, &p)
                .or_else(|| find_word(source, p.split('.').next().unwrap_or_default()))
                .unwrap_or(usize::MAX);
            (p, position)
        })
        .collect();
    paths.sort_by_key(|(p, pos)| (*pos, std::cmp::Reverse(p.len())));
    paths
}

/// The first occurrence of `word` not inside a longer identifier.
fn find_word(source: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut start = 0;
    while let Some(i) = source[start..].find(word) {
        let at = start + i;
        let before = source[..at].chars().next_back();
        let after = source[at + word.len()..].chars().next();
        if !before.is_some_and(|c| is_ident(c) || c == '.') && !after.is_some_and(is_ident) {
            return Some(at);
        }
        start = at + word.len();
    }
    None
}

/// Whether the text after a variable use protects it (`is defined`, `| default(...)`, ...).
fn is_guarded(source: &str, end: usize) -> bool {
    let Some(rest) = source.get(end..) else {
        return false;
    };
    let rest: String = rest.split_whitespace().collect::<Vec<_>>().join(" ");
    [
        "is ", // Jinja tests take undefined values without failing
        "is\n",
        "| default",
        "|default",
        "| d(",
        "|d(",
        "| mandatory",
        "|mandatory",
    ]
    .iter()
    .any(|g| rest.starts_with(g))
}

/// Python's type name of a value, as Jinja2 puts it in "'X object' has no attribute".
pub(crate) fn python_type_name(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Map => "dict object",
        ValueKind::Seq | ValueKind::Iterable => "list object",
        ValueKind::String => "str object",
        ValueKind::Bool => "bool object",
        ValueKind::Number if value.is_integer() => "int object",
        ValueKind::Number => "float object",
        ValueKind::None => "None",
        _ => "object",
    }
}

/// The error for the first missing part of `path`, or `None` when the whole path resolves.
fn resolve_path(path: &str, root: &Arc<LazyVars>) -> Option<TemplateError> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut value = match root.get_value(&Value::from(first)) {
        Some(v) => v,
        None => {
            return Some(TemplateError {
                message: format!("'{first}' is undefined"),
                undefined: Some(first.to_string()),
            })
        }
    };
    let mut walked = first.to_string();
    for part in parts {
        if let Err(e) = super::context::check_valid(&value) {
            return Some(templar_error_from(e));
        }
        walked.push('.');
        walked.push_str(part);
        let next = value.get_attr(part).unwrap_or(Value::UNDEFINED);
        if next.is_undefined() {
            let owner = python_type_name(&value);
            let message = if owner == "None" {
                format!("'None' has no attribute '{part}'")
            } else {
                format!("'{owner}' has no attribute '{part}'")
            };
            return Some(TemplateError {
                message,
                undefined: Some(walked),
            });
        }
        value = next;
    }
    if let Err(e) = super::context::check_valid(&value) {
        return Some(templar_error_from(e));
    }
    None
}

/// A nested (lazy variable) failure found while walking a path.
fn templar_error_from(err: minijinja::Error) -> TemplateError {
    let detail = err.detail().unwrap_or_default();
    let text = detail.trim_start_matches(super::VERBATIM);
    match text.split_once(super::VERBATIM) {
        Some((name, message)) => TemplateError {
            message: message.to_string(),
            undefined: Some(name.to_string()),
        },
        None => TemplateError {
            message: text.to_string(),
            undefined: None,
        },
    }
}
