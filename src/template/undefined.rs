//! Names the undefined value behind a failure, in Ansible's words.
//!
//! minijinja's undefined carries no name, so after a failure the template's variable paths
//! (`a.b.c`, in source order) are resolved against the context: the first path whose root is
//! missing gives `'a' is undefined`; the first whose member is missing gives
//! `'dict object' has no attribute 'c'` (Jinja2's wording, with Python's type names). Constant
//! subscripts written after a path (`d['k']`, `l[3]`) are followed too: a missing string key is
//! `'dict object' has no attribute 'k'` (Jinja2 falls back from item to attribute lookup), a
//! missing index `list object has no element 3`. Paths guarded in the source (`is defined`,
//! `| default`) are only blamed when nothing else is.

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
        .map(|p| match find_word(source, &p) {
            // The path as written, extended by the constant subscripts that follow it.
            Some(at) => (
                format!("{p}{}", trailing_accessors(&source[at + p.len()..])),
                at,
            ),
            None => {
                let position = find_word(source, p.split('.').next().unwrap_or_default())
                    .unwrap_or(usize::MAX);
                (p, position)
            }
        })
        .collect();
    paths.sort_by_key(|(p, pos)| (*pos, std::cmp::Reverse(p.len())));
    paths
}

/// One step of a variable path: `.name` / `['name']` (a string key) or `[3]` (an index).
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(i64),
}

/// The constant accessors (`.name`, `['key']`, `["key"]`, `[3]`) at the start of `rest`, as
/// path text (`['key'][3]`); stops at the first thing that is not one.
fn trailing_accessors(rest: &str) -> String {
    let mut end = 0;
    loop {
        let tail = &rest[end..];
        let step_len = if let Some(after) = tail.strip_prefix('.') {
            let ident = after
                .char_indices()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                .map_or(after.len(), |(i, _)| i);
            (ident > 0).then_some(1 + ident)
        } else {
            bracket_len(tail)
        };
        match step_len {
            Some(n) => end += n,
            None => return rest[..end].to_string(),
        }
    }
}

/// The length of a constant subscript (`['k']`, `["k"]`, `[3]`) at the start of `text`.
fn bracket_len(text: &str) -> Option<usize> {
    let inner = text.strip_prefix('[')?;
    let close = inner.find(']')?;
    let body = inner[..close].trim();
    let quoted = body.len() >= 2
        && ((body.starts_with('\'') && body.ends_with('\''))
            || (body.starts_with('"') && body.ends_with('"')))
        && !body[1..body.len() - 1].contains(['\'', '"', '\\']);
    (quoted || body.parse::<i64>().is_ok()).then_some(close + 2)
}

/// Splits a path (`a.b['c'][0]`) into its root name and steps.
fn parse_path(path: &str) -> (String, Vec<Step>) {
    let root_len = path.find(['.', '[']).unwrap_or(path.len());
    let mut steps = Vec::new();
    let mut rest = &path[root_len..];
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let len = after.find(['.', '[']).unwrap_or(after.len());
            steps.push(Step::Key(after[..len].to_string()));
            rest = &after[len..];
        } else if let Some(len) = bracket_len(rest) {
            let body = rest[1..len - 1].trim();
            steps.push(match body.parse::<i64>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(body[1..body.len() - 1].to_string()),
            });
            rest = &rest[len..];
        } else {
            break;
        }
    }
    (path[..root_len].to_string(), steps)
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
/// The error's `undefined` is the dotted path up to the missing part (`d.k` for `d['k']`), which
/// `Templar::sibling_keys` takes.
fn resolve_path(path: &str, root: &Arc<LazyVars>) -> Option<TemplateError> {
    let (first, steps) = parse_path(path);
    let mut value = match root.get_value(&Value::from(first.as_str())) {
        Some(v) => v,
        None => {
            return Some(TemplateError {
                message: format!("'{first}' is undefined"),
                undefined: Some(first),
            })
        }
    };
    let mut walked = first;
    for step in steps {
        if let Err(e) = super::context::check_valid(&value) {
            return Some(templar_error_from(e));
        }
        walked.push('.');
        let next = match &step {
            Step::Key(name) => {
                walked.push_str(name);
                value.get_attr(name).unwrap_or(Value::UNDEFINED)
            }
            Step::Index(i) => {
                walked.push_str(&i.to_string());
                value.get_item(&Value::from(*i)).unwrap_or(Value::UNDEFINED)
            }
        };
        if next.is_undefined() {
            return Some(TemplateError {
                message: missing_member_message(&value, &step),
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

/// Jinja2's words for a member missing from `owner`: a name is an attribute (quoted type), an
/// integer subscript an element (unquoted type).
fn missing_member_message(owner: &Value, step: &Step) -> String {
    let owner_type = python_type_name(owner);
    match step {
        Step::Key(name) => format!("'{owner_type}' has no attribute '{name}'"),
        Step::Index(i) => format!("{owner_type} has no element {i}"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_subscripts_extend_a_path() {
        assert_eq!(trailing_accessors("['absent'] }}"), "['absent']");
        assert_eq!(trailing_accessors("[\"a\"].b[0][x]"), "[\"a\"].b[0]");
        assert_eq!(trailing_accessors(" | default"), "");
        assert_eq!(
            parse_path("d['k'].x[2]"),
            (
                "d".to_string(),
                vec![Step::Key("k".into()), Step::Key("x".into()), Step::Index(2)]
            )
        );
    }
}
