//! Ansible's filters for minijinja (ansible-core `plugins/filter/core.py`, `mathstuff.py`,
//! Jinja2's `int`/`float`/`default` signatures), registered over minijinja's builtins where
//! Ansible differs.
//!
//! Semantics worth knowing:
//! - `bool`: `None` and booleans pass through; `'yes'`, `'on'`, `'1'`, `'true'` (any case) and
//!   `1` are true; everything else is false (Ansible's `to_bool`, not truthiness).
//! - `int(default=0, base=10)` / `float(default=0.0)`: invalid input gives the default, as Jinja2.
//! - `default(value='', boolean=False)` / `d`: keyword arguments accepted.
//! - `regex_*`: Python `re` syntax on Rust's `regex` engine (no lookaround/backreferences in the
//!   pattern); `\1`, `\g<1>`, `\g<name>` in replacements; `regex_search` returns `None` when
//!   nothing matches, the match, or the requested groups.
//! - `to_json` is `json.dumps` (`", "`/`": "` separators, `ensure_ascii`), `to_nice_json` uses
//!   indent 4 and sorted keys; `to_yaml`/`to_nice_yaml` use [`crate::yaml`]'s PyYAML-shaped emitter.
//! - `mandatory` fails with "Mandatory variable 'x' not defined." naming the expression it filters.
//! - set operations keep first-seen order and drop duplicates, as Ansible's `unique` does.

use super::context::{from_json, to_json};
use super::{verbatim_error, TemplateError};
use crate::{Map, Value as Json};
use base64::Engine as _;
use minijinja::value::{Kwargs, Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State, Value};
use std::sync::LazyLock;

/// Adds Ansible's filters to `env` (overriding minijinja's where Ansible differs).
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("bool", to_bool);
    env.add_filter("int", to_int);
    env.add_filter("float", to_float);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
    env.add_filter("ternary", ternary);
    env.add_filter("mandatory", mandatory);
    env.add_filter("basename", basename);
    env.add_filter("dirname", dirname);
    env.add_filter("splitext", splitext);
    env.add_filter("path_join", path_join);
    env.add_filter("expanduser", expanduser);
    env.add_filter("quote", quote);
    env.add_filter("hash", hash);
    env.add_filter("checksum", |v: Value| hash(v, Some("sha1".into())));
    env.add_filter("sha1", |v: Value| hash(v, Some("sha1".into())));
    env.add_filter("md5", |v: Value| hash(v, Some("md5".into())));
    env.add_filter("union", union);
    env.add_filter("intersect", intersect);
    env.add_filter("difference", difference);
    env.add_filter("symmetric_difference", symmetric_difference);
    env.add_filter("unique", unique);
    env.add_filter("flatten", flatten);
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("to_json", to_json_filter);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json_filter);
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_nice_yaml);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("zip", zip);
    env.add_filter("type_debug", type_debug);
    env.add_filter("extract", extract);
    env.add_filter("split", split);
    env.add_filter("to_uuid", to_uuid);
    env.add_filter("password_hash", password_hash);
    env.add_filter("subelements", subelements);
    strict_builtins(env);
    fqcn_aliases(env);
}

/// Ansible's own filters, also reachable by their FQCN (`ansible.builtin.b64decode`).
const ANSIBLE_FILTERS: &[&str] = &[
    "b64encode",
    "b64decode",
    "bool",
    "regex_replace",
    "regex_search",
    "regex_findall",
    "regex_escape",
    "ternary",
    "mandatory",
    "basename",
    "dirname",
    "splitext",
    "path_join",
    "expanduser",
    "quote",
    "hash",
    "checksum",
    "sha1",
    "md5",
    "union",
    "intersect",
    "difference",
    "symmetric_difference",
    "unique",
    "flatten",
    "combine",
    "dict2items",
    "items2dict",
    "to_json",
    "to_nice_json",
    "from_json",
    "to_yaml",
    "to_nice_yaml",
    "from_yaml",
    "zip",
    "type_debug",
    "extract",
    "split",
    "password_hash",
    "to_uuid",
    "strftime",
    "random",
    "shuffle",
    "min",
    "max",
];

fn fqcn_aliases(env: &mut Environment<'static>) {
    for name in ANSIBLE_FILTERS {
        env.add_filter(
            format!("ansible.builtin.{name}"),
            move |state: &mut State, value: Value, rest: Rest<ValueOrKwargs>| {
                let mut args = Vec::with_capacity(rest.len() + 1);
                args.push(value);
                args.extend(rest.iter().map(|v| Value::clone(v)));
                // The template's own state: the filter spends the template's budget.
                let out = state.apply_filter(name, &args)?;
                // Ansible keeps text only for the short names (`to_json`, not
                // `ansible.builtin.to_json`): the FQCN's text is read back like any other.
                Ok(match out.as_str() {
                    Some(text) if out.is_safe() => Value::from(text),
                    _ => out,
                })
            },
        );
    }
}

/// Jinja2 builtins that fail on an undefined input in Ansible (its undefined is strict) but
/// accept one in minijinja's chainable mode: each is re-registered behind a check.
fn strict_builtins(env: &mut Environment<'static>) {
    use minijinja::filters as f;
    env.add_filter("__builtin_length", f::length);
    env.add_filter("__builtin_first", f::first);
    env.add_filter("__builtin_last", f::last);
    env.add_filter("__builtin_join", f::join);
    env.add_filter("__builtin_lower", f::lower);
    env.add_filter("__builtin_upper", f::upper);
    env.add_filter("__builtin_trim", f::trim);
    env.add_filter("__builtin_replace", f::replace);
    env.add_filter("__builtin_list", f::list);
    env.add_filter("__builtin_sort", f::sort);
    env.add_filter("__builtin_string", f::string);
    env.add_filter("__builtin_reverse", f::reverse);
    env.add_filter("__builtin_min", f::min);
    env.add_filter("__builtin_max", f::max);
    env.add_filter("__builtin_sum", f::sum);
    env.add_filter("__builtin_capitalize", f::capitalize);
    env.add_filter("__builtin_title", f::title);
    env.add_filter("__builtin_items", f::items);
    env.add_filter("__builtin_dictsort", f::dictsort);
    for (name, builtin) in [
        ("length", "__builtin_length"),
        ("count", "__builtin_length"),
        ("first", "__builtin_first"),
        ("last", "__builtin_last"),
        ("join", "__builtin_join"),
        ("lower", "__builtin_lower"),
        ("upper", "__builtin_upper"),
        ("trim", "__builtin_trim"),
        ("replace", "__builtin_replace"),
        ("list", "__builtin_list"),
        ("sort", "__builtin_sort"),
        ("string", "__builtin_string"),
        ("reverse", "__builtin_reverse"),
        ("min", "__builtin_min"),
        ("max", "__builtin_max"),
        ("sum", "__builtin_sum"),
        ("capitalize", "__builtin_capitalize"),
        ("title", "__builtin_title"),
        ("items", "__builtin_items"),
        ("dictsort", "__builtin_dictsort"),
    ] {
        env.add_filter(
            name,
            move |state: &mut State, value: Value, rest: Rest<ValueOrKwargs>| {
                if value.is_undefined() {
                    return Err(Error::from(ErrorKind::UndefinedError));
                }
                match name {
                    "join" => ensure_room(state, join_size(state, &value, &rest))?,
                    "replace" => ensure_room(state, replace_size(&value, &rest))?,
                    _ => {}
                }
                let mut args = Vec::with_capacity(rest.len() + 1);
                args.push(value);
                args.extend(rest.iter().map(|v| Value::clone(v)));
                // The template's own state: the filter spends the template's budget.
                let out = state.apply_filter(builtin, &args)?;
                // minijinja keeps the mark through `trim`, `upper`...; Python's str methods
                // drop it: only `string` makes text that stays text.
                Ok(match out.as_str() {
                    Some(text) if name == "string" => native_text(text.to_string()),
                    Some(text) if out.is_safe() => Value::from(text),
                    _ => out,
                })
            },
        );
    }
}

// ---------------------------------------------------------------- memory budget

/// Bytes of data per fuel of the template budget (`TEMPLATE_FUEL` in the parent module).
const BYTES_PER_FUEL: u64 = 64;

/// Refuses a result of `bytes` bytes that the rest of the template's budget cannot pay for,
/// before it is built: minijinja charges a filter's result only once it exists, so without
/// this a filter could allocate far beyond the budget first.
fn ensure_room(state: &State, bytes: usize) -> Result<(), Error> {
    match state.fuel_levels() {
        Some((_, remaining)) if bytes as u64 / BYTES_PER_FUEL >= remaining => {
            Err(Error::from(ErrorKind::OutOfFuel))
        }
        _ => Ok(()),
    }
}

/// The remaining budget in bytes (no budget: unbounded), for size estimates to stop at.
fn room(state: &State) -> usize {
    match state.fuel_levels() {
        Some((_, remaining)) => {
            usize::try_from(remaining.saturating_mul(BYTES_PER_FUEL)).unwrap_or(usize::MAX)
        }
        None => usize::MAX,
    }
}

/// An estimate of the size of `value` as text, from above for what filters print: the bytes
/// of its strings, a few bytes per scalar, item and key, and `indent` per item and level of
/// nesting. Stops counting once it passes `limit` (a list repeating one large value many
/// times is cheap to hold but not to print).
fn text_size(value: &Value, indent: usize, limit: usize) -> usize {
    fn walk(value: &Value, depth: usize, indent: usize, limit: usize, total: &mut usize) {
        if *total > limit {
            return;
        }
        match value.kind() {
            ValueKind::String => {
                *total = total.saturating_add(value.as_str().map_or(0, str::len) + 2)
            }
            ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
                let is_map = value.kind() == ValueKind::Map;
                let Ok(items) = value.try_iter() else {
                    return;
                };
                for item in items {
                    *total = total.saturating_add(4 + (depth + 1) * indent);
                    if is_map {
                        let child = value.get_item(&item).unwrap_or_default();
                        walk(&item, depth + 1, indent, limit, total);
                        walk(&child, depth + 1, indent, limit, total);
                    } else {
                        walk(&item, depth + 1, indent, limit, total);
                    }
                    if *total > limit {
                        return;
                    }
                }
            }
            _ => *total = total.saturating_add(24),
        }
    }
    let mut total = 0;
    walk(value, 0, indent, limit, &mut total);
    total
}

/// The size of `join`'s result: the items' text and one joiner between each two (minijinja
/// only checks the size as it goes when the joiner is not empty).
fn join_size(state: &State, value: &Value, rest: &[ValueOrKwargs]) -> usize {
    let joiner: usize = rest
        .iter()
        .find_map(|a| match a.is_kwargs() {
            false => a.as_str().map(str::len),
            true => a.get_attr("d").ok().and_then(|d| d.as_str().map(str::len)),
        })
        .unwrap_or(0);
    let items = value.len().unwrap_or(0);
    text_size(value, 0, room(state)).saturating_add(joiner.saturating_mul(items))
}

/// The size of `replace`'s result: the text plus, per occurrence, the replacement (an empty
/// `old` matches between every two characters).
fn replace_size(value: &Value, rest: &[ValueOrKwargs]) -> usize {
    let Some(text) = value.as_str() else {
        return 0;
    };
    let strs: Vec<&str> = rest
        .iter()
        .filter(|a| !a.is_kwargs())
        .filter_map(|a| a.as_str())
        .collect();
    let (Some(old), Some(new)) = (strs.first(), strs.get(1)) else {
        return text.len();
    };
    let occurrences = if old.is_empty() {
        text.chars().count() + 1
    } else {
        text.matches(old).count()
    };
    text.len()
        .saturating_add(occurrences.saturating_mul(new.len()))
}

// ---------------------------------------------------------------- helpers

fn json_of(value: &Value) -> Result<Json, Error> {
    to_json(value)
}

fn invalid(message: impl std::fmt::Display) -> Error {
    verbatim_error(message)
}

/// [`text_of`], refused before it is built when a non-string value's text would not fit in the
/// template's remaining budget.
fn text_within(state: &State, value: &Value) -> Result<String, Error> {
    if value.as_str().is_none() {
        ensure_room(state, text_size(value, 0, room(state)))?;
    }
    text_of(value)
}

/// Python's `str()` of a value, as Ansible's `to_text` gives filters.
fn text_of(value: &Value) -> Result<String, Error> {
    if value.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    Ok(match value.as_str() {
        Some(s) => s.to_string(),
        None if value.is_none() => "None".into(),
        None => value.to_string(),
    })
}

fn list_of(value: &Value) -> Result<Vec<Json>, Error> {
    match json_of(value)? {
        Json::Array(items) => Ok(items),
        Json::Object(map) => Ok(map.keys().map(|k| Json::String(k.clone())).collect()),
        Json::String(s) => Ok(s.chars().map(|c| Json::String(c.to_string())).collect()),
        other => Err(invalid(format!(
            "'{}' object is not iterable",
            crate::py::type_name(&other)
        ))),
    }
}

fn push_unique(out: &mut Vec<Json>, item: Json) {
    if !out.contains(&item) {
        out.push(item);
    }
}

// ---------------------------------------------------------------- encoding

fn b64encode(state: &State, value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let _: Option<String> = kwargs.get("encoding")?;
    let text = text_within(state, &value)?;
    ensure_room(state, text.len() / 3 * 4 + 4)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(text.as_bytes()))
}

fn b64decode(value: Value, kwargs: Kwargs) -> Result<String, Error> {
    let _: Option<String> = kwargs.get("encoding")?;
    // Python's b64decode discards characters outside the alphabet (newlines, spaces).
    let cleaned: String = text_of(&value)?
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    match base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(_) => Err(invalid("Incorrect padding")),
    }
}

// ---------------------------------------------------------------- types

fn default(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let fallback = match args.first() {
        Some(v) => v.clone(),
        None => kwargs
            .get::<Option<Value>>("default_value")?
            .unwrap_or(Value::from("")),
    };
    let boolean = match args.get(1) {
        Some(v) => v.is_true(),
        None => kwargs.get::<Option<bool>>("boolean")?.unwrap_or(false),
    };
    if value.is_undefined() || (boolean && !value.is_true()) {
        Ok(fallback)
    } else {
        Ok(value)
    }
}

/// Ansible's `to_bool`.
///
/// The `bool` filter's own word list, narrower on purpose than [`crate::py::BOOL_TRUE`]: it
/// reads `yes`, `on`, `1`, `true` as true and every other text as false.
pub(crate) fn ansible_bool(value: &Json) -> Option<bool> {
    match value {
        Json::Null => None,
        Json::Bool(b) => Some(*b),
        Json::String(s) => Some(matches!(
            s.to_lowercase().as_str(),
            "yes" | "on" | "1" | "true"
        )),
        Json::Number(n) => Some(n.as_f64() == Some(1.0)),
        _ => Some(false),
    }
}

fn to_bool(value: Value) -> Result<Value, Error> {
    Ok(match ansible_bool(&json_of(&value)?) {
        Some(b) => Value::from(b),
        None => Value::from(()),
    })
}

/// Python's `int(text, base)` for a string (prefixes allowed when they match the base).
fn python_int(text: &str, base: u32) -> Option<i64> {
    let t: String = text.trim().chars().filter(|c| *c != '_').collect();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = match (base, lower.get(..2)) {
        (16 | 0, Some("0x")) => (16, &lower[2..]),
        (8 | 0, Some("0o")) => (8, &lower[2..]),
        (2 | 0, Some("0b")) => (2, &lower[2..]),
        (0, _) => (10, lower.as_str()),
        (b, _) => (b, lower.as_str()),
    };
    if body.is_empty() || !(2..=36).contains(&radix) {
        return None;
    }
    let v = i64::from_str_radix(body, radix).ok()?;
    Some(if negative { -v } else { v })
}

fn to_int(
    value: Value,
    default: Option<Value>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let default = match default {
        Some(d) => d,
        None => kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0)),
    };
    let base = match base {
        Some(b) => b,
        None => kwargs.get::<Option<u32>>("base")?.unwrap_or(10),
    };
    let parsed = match json_of(&value)? {
        Json::String(s) => python_int(&s, base).or_else(|| {
            python_float(&s)
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64)
        }),
        Json::Bool(b) => Some(i64::from(b)),
        Json::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.trunc() as i64)
        }),
        _ => None,
    };
    Ok(parsed.map(Value::from).unwrap_or(default))
}

/// Python's `float(text)`.
fn python_float(text: &str) -> Option<f64> {
    let t: String = text.trim().chars().filter(|c| *c != '_').collect();
    match t.to_ascii_lowercase().trim_start_matches(['+', '-']) {
        "inf" | "infinity" | "nan" => t.to_ascii_lowercase().parse::<f64>().ok(),
        _ if t.chars().any(|c| c.is_ascii_digit()) => t.parse::<f64>().ok(),
        _ => None,
    }
}

fn to_float(value: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let default = match default {
        Some(d) => d,
        None => kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0.0)),
    };
    let parsed = match json_of(&value)? {
        Json::String(s) => python_float(&s),
        Json::Bool(b) => Some(f64::from(u8::from(b))),
        Json::Number(n) => n.as_f64(),
        _ => None,
    };
    Ok(parsed.map(Value::from).unwrap_or(default))
}

fn ternary(
    value: Value,
    true_val: Value,
    false_val: Value,
    none_val: Option<Value>,
) -> Result<Value, Error> {
    if value.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    if let (Some(n), true) = (none_val, value.is_none()) {
        return Ok(n);
    }
    Ok(if value.is_true() { true_val } else { false_val })
}

const MANDATORY: &str = "\u{2}mandatory\u{2}";

fn mandatory(value: Value, msg: Option<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let msg = match msg {
        Some(m) => Some(m),
        None => kwargs.get::<Option<String>>("msg")?,
    };
    if value.is_undefined() {
        return Err(invalid(format!("{MANDATORY}{}", msg.unwrap_or_default())));
    }
    Ok(value)
}

static MANDATORY_SUBJECT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r#"([A-Za-z_][\w.]*(?:\[[^\]]*\][\w.]*)*)\s*\|\s*mandatory"#)
        .expect("static regex")
});

/// The message for a `mandatory` failure, naming the variable found before `| mandatory`.
pub(crate) fn mandatory_message(detail: &str, source: &str) -> Option<TemplateError> {
    let custom = detail.strip_prefix(MANDATORY)?;
    let name = MANDATORY_SUBJECT
        .captures(source)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let message = if custom.is_empty() {
        format!("Mandatory variable '{name}' not defined.")
    } else {
        custom.to_string()
    };
    Some(TemplateError {
        message,
        undefined: Some(name),
    })
}

fn type_debug(value: Value) -> Result<String, Error> {
    Ok(crate::py::type_name(&json_of(&value)?).to_string())
}

// ---------------------------------------------------------------- regular expressions

/// Compiles a Python-syntax pattern with Python's flags.
fn compile(pattern: &str, ignorecase: bool, multiline: bool) -> Result<regex::Regex, Error> {
    let translated = pattern.replace("\\Z", "\\z");
    regex::RegexBuilder::new(&translated)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| invalid(format!("Invalid regular expression '{pattern}': {e}")))
}

fn flags(kwargs: &Kwargs) -> Result<(bool, bool), Error> {
    Ok((
        kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false),
        kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false),
    ))
}

/// Python replacement syntax (`\1`, `\g<1>`, `\g<name>`, `\n`) → the regex crate's (`${1}`).
fn translate_replacement(repl: &str) -> String {
    let chars: Vec<char> = repl.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            out.push_str("$$");
        } else if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            if n.is_ascii_digit() {
                let mut j = i + 1;
                while j < chars.len() && j < i + 3 && chars[j].is_ascii_digit() {
                    j += 1;
                }
                out.push_str(&format!(
                    "${{{}}}",
                    chars[i + 1..j].iter().collect::<String>()
                ));
                i = j;
                continue;
            }
            if n == 'g' && chars.get(i + 2) == Some(&'<') {
                if let Some(end) = chars[i + 3..].iter().position(|c| *c == '>') {
                    let name: String = chars[i + 3..i + 3 + end].iter().collect();
                    out.push_str(&format!("${{{name}}}"));
                    i += 4 + end;
                    continue;
                }
            }
            match n {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            i += 2;
            continue;
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

fn regex_replace(
    state: &State,
    value: Value,
    pattern: Option<String>,
    replacement: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let text = text_within(state, &value)?;
    let (ignorecase, multiline) = flags(&kwargs)?;
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    let mandatory_count = kwargs.get::<Option<usize>>("mandatory_count")?.unwrap_or(0);
    let re = compile(&pattern.unwrap_or_default(), ignorecase, multiline)?;
    let repl = translate_replacement(&replacement.unwrap_or_default());
    let found = re.find_iter(&text).count();
    let done = if count == 0 { found } else { found.min(count) };
    // Each replacement is the replacement text with group references expanded (each at most
    // the match): bounded before it is built.
    let matched: usize = re.find_iter(&text).take(done).map(|m| m.len()).sum();
    let references = repl.matches('$').count();
    ensure_room(
        state,
        text.len()
            .saturating_add(done.saturating_mul(repl.len()))
            .saturating_add(references.saturating_mul(matched)),
    )?;
    if mandatory_count > 0 && done != mandatory_count {
        return Err(invalid(format!(
            "'{}' should match {mandatory_count} times, but matches {done} times in '{text}'",
            re.as_str()
        )));
    }
    Ok(re.replacen(&text, count, repl.as_str()).into_owned())
}

fn regex_search(
    value: Value,
    pattern: String,
    groups: Rest<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let text = text_of(&value)?;
    let (ignorecase, multiline) = flags(&kwargs)?;
    let re = compile(&pattern, ignorecase, multiline)?;
    let Some(caps) = re.captures(&text) else {
        return Ok(Value::from(()));
    };
    if groups.is_empty() {
        return Ok(Value::from(
            caps.get(0).map(|m| m.as_str()).unwrap_or_default(),
        ));
    }
    let mut items = Vec::new();
    for g in groups.iter() {
        let group = if let Some(n) = g.strip_prefix('\\').and_then(|n| n.parse::<usize>().ok()) {
            caps.get(n)
        } else if let Some(name) = g.strip_prefix("\\g<").and_then(|n| n.strip_suffix('>')) {
            match name.parse::<usize>() {
                Ok(n) => caps.get(n),
                Err(_) => caps.name(name),
            }
        } else {
            return Err(invalid(format!("Unknown argument: {g}")));
        };
        items.push(
            group
                .map(|m| Value::from(m.as_str()))
                .unwrap_or(Value::from(())),
        );
    }
    Ok(Value::from(items))
}

fn regex_findall(value: Value, pattern: String, kwargs: Kwargs) -> Result<Value, Error> {
    let text = text_of(&value)?;
    let (ignorecase, multiline) = flags(&kwargs)?;
    let re = compile(&pattern, ignorecase, multiline)?;
    let group_count = re.captures_len() - 1;
    let text_at =
        |m: Option<regex::Match<'_>>| Value::from(m.map(|m| m.as_str()).unwrap_or_default());
    let items: Vec<Value> = re
        .captures_iter(&text)
        .map(|caps| match group_count {
            0 => text_at(caps.get(0)),
            1 => text_at(caps.get(1)),
            n => Value::from((1..=n).map(|i| text_at(caps.get(i))).collect::<Vec<_>>()),
        })
        .collect();
    Ok(Value::from(items))
}

fn regex_escape(value: Value, re_type: Option<String>) -> Result<String, Error> {
    let text = text_of(&value)?;
    match re_type.as_deref().unwrap_or("python") {
        "python" => Ok(text
            .chars()
            .flat_map(|c| {
                let special = "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c);
                special
                    .then_some('\\')
                    .into_iter()
                    .chain(std::iter::once(c))
            })
            .collect()),
        "posix_basic" => Ok(text
            .chars()
            .flat_map(|c| {
                ("$*.[\\]^".contains(c).then_some('\\'))
                    .into_iter()
                    .chain(std::iter::once(c))
            })
            .collect()),
        other => Err(invalid(format!("Invalid regex type ({other})"))),
    }
}

// ---------------------------------------------------------------- paths and shell

fn basename(value: Value) -> Result<String, Error> {
    let p = text_of(&value)?;
    Ok(p.rsplit('/').next().unwrap_or_default().to_string())
}

/// Python's `os.path.dirname`.
pub(crate) fn python_dirname(p: &str) -> String {
    let head = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    if !head.is_empty() && head.chars().all(|c| c == '/') {
        head.to_string()
    } else {
        head.trim_end_matches('/').to_string()
    }
}

fn dirname(value: Value) -> Result<String, Error> {
    Ok(python_dirname(&text_of(&value)?))
}

fn splitext(value: Value) -> Result<Value, Error> {
    let p = text_of(&value)?;
    let base_start = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let base = &p[base_start..];
    let dot = base
        .trim_start_matches('.')
        .rfind('.')
        .map(|i| i + (base.len() - base.trim_start_matches('.').len()));
    Ok(match dot {
        Some(i) => Value::from(vec![p[..base_start + i].to_string(), base[i..].to_string()]),
        None => Value::from(vec![p.clone(), String::new()]),
    })
}

fn path_join(value: Value) -> Result<String, Error> {
    let parts: Vec<String> = match json_of(&value)? {
        Json::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect(),
        Json::String(s) => vec![s],
        other => {
            return Err(invalid(format!(
                "|path_join expects string or sequence, got {} instead.",
                crate::py::type_name(&other)
            )))
        }
    };
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') || out.is_empty() {
            out = part;
        } else {
            if !out.ends_with('/') {
                out.push('/');
            }
            out.push_str(&part);
        }
    }
    Ok(out)
}

fn expanduser(value: Value) -> Result<String, Error> {
    let p = text_of(&value)?;
    let home = std::env::var("HOME").unwrap_or_default();
    Ok(if p == "~" {
        home
    } else if let Some(rest) = p.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else {
        p
    })
}

/// Python's `shlex.quote`.
pub fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".into();
    }
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

fn quote(value: Value) -> Result<String, Error> {
    if value.is_none() {
        return Ok(shell_quote(""));
    }
    Ok(shell_quote(&text_of(&value)?))
}

fn hash(value: Value, hashtype: Option<String>) -> Result<String, Error> {
    use sha2::Digest;
    let data = text_of(&value)?.into_bytes();
    let kind = hashtype.unwrap_or_else(|| "sha1".into());
    Ok(match kind.as_str() {
        "sha1" => hex::encode(sha1::Sha1::digest(&data)),
        "md5" => hex::encode(md5::Md5::digest(&data)),
        "sha224" => hex::encode(sha2::Sha224::digest(&data)),
        "sha256" => hex::encode(sha2::Sha256::digest(&data)),
        "sha384" => hex::encode(sha2::Sha384::digest(&data)),
        "sha512" => hex::encode(sha2::Sha512::digest(&data)),
        other => return Err(invalid(format!("unsupported hash type {other}"))),
    })
}

/// Ansible's `to_uuid(namespace=...)`: a UUID version 5 of the text.
fn to_uuid(value: Value, namespace: Option<String>) -> Result<String, Error> {
    use sha1::Digest;
    let ns_text = namespace.unwrap_or_else(|| "361E6D51-FAEC-444A-9079-341386DA8E2E".into());
    let ns = uuid::Uuid::parse_str(&ns_text)
        .map_err(|e| invalid(format!("Invalid value '{ns_text}' for 'namespace': {e}")))?;
    let mut hasher = sha1::Sha1::new();
    hasher.update(ns.as_bytes());
    hasher.update(text_of(&value)?.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Ok(uuid::Uuid::from_bytes(bytes).hyphenated().to_string())
}

// ---------------------------------------------------------------- password_hash

/// `password_hash(hashtype='sha512', salt=None, salt_size=None, rounds=None, ident=None)` as
/// Ansible computes it with passlib: `sha512`/`sha512_crypt` (`$6$`) and `sha256`/`sha256_crypt`
/// (`$5$`); without `rounds`, Ansible's implicit rounds (656000 and 535000), written in the hash
/// as passlib does for any count but 5000; a random 16-character salt from `./0-9A-Za-z` unless
/// `salt` (at most 16 of those characters) or `salt_size` is given. `md5`, `blowfish`/`bcrypt`
/// and `ident` are refused with a message (not implemented here).
fn password_hash(value: Value, args: Rest<Value>, kwargs: Kwargs) -> Result<String, Error> {
    // Positional order as Ansible's: hashtype, salt, salt_size, rounds, ident.
    let positional = |i: usize, name: &str| -> Result<Option<Value>, Error> {
        match (args.get(i).cloned(), kwargs.get::<Option<Value>>(name)?) {
            (Some(_), Some(_)) => Err(invalid(format!(
                "password_hash() got multiple values for argument '{name}'"
            ))),
            (Some(v), None) | (None, Some(v)) => Ok((!v.is_none()).then_some(v)),
            (None, None) => Ok(None),
        }
    };
    if args.len() > 5 {
        return Err(invalid(
            "password_hash() takes at most 6 positional arguments",
        ));
    }
    let text =
        |v: Option<Value>| -> Result<Option<String>, Error> { v.map(|v| text_of(&v)).transpose() };
    let number = |v: Option<Value>, name: &str| -> Result<Option<i64>, Error> {
        v.map(|v| {
            i64::try_from(v.clone())
                .ok()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| invalid(format!("password_hash: {name} must be an integer")))
        })
        .transpose()
    };
    let hashtype = text(positional(0, "hashtype")?)?.unwrap_or_else(|| "sha512".into());
    let salt = text(positional(1, "salt")?)?;
    let salt_size = number(positional(2, "salt_size")?, "salt_size")?
        .map(|n| {
            usize::try_from(n).map_err(|_| invalid("password_hash: salt_size must not be negative"))
        })
        .transpose()?;
    let rounds = number(positional(3, "rounds")?, "rounds")?
        .map(|n| u32::try_from(n).map_err(|_| invalid("Could not hash the secret.")))
        .transpose()?;
    let ident = text(positional(4, "ident")?)?;
    kwargs.assert_all_used()?;
    if ident.is_some() {
        return Err(invalid(
            "password_hash: 'ident' applies to bcrypt, which hook-runner does not implement",
        ));
    }
    let password = text_of(&value)?;
    let algorithm = match hashtype.as_str() {
        "sha512" => "sha512_crypt",
        "sha256" => "sha256_crypt",
        other => other,
    };
    let salt = match salt {
        Some(s) => Some(s),
        None => match salt_size {
            Some(n) => Some(random_salt(n).map_err(invalid)?),
            None => None,
        },
    };
    crypt_hash(&password, algorithm, salt.as_deref(), rounds, None).map_err(invalid)
}

/// The salt length a crypt algorithm gets by default.
pub(crate) fn crypt_salt_size(algorithm: &str) -> usize {
    match algorithm {
        "md5_crypt" => 8,
        "bcrypt" => 22,
        _ => 16,
    }
}

/// A random salt of `length` characters from `./0-9A-Za-z`.
pub(crate) fn random_salt(length: usize) -> Result<String, String> {
    const SALT_CHARS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./";
    let chars: Vec<char> = SALT_CHARS.chars().collect();
    super::lookups::random_text(length, &chars)
}

/// The modular crypt string of `password` for `algorithm` (`sha512_crypt`, `sha256_crypt`).
pub(crate) fn crypt_hash(
    password: &str,
    algorithm: &str,
    salt: Option<&str>,
    rounds: Option<u32>,
    _ident: Option<&str>,
) -> Result<String, String> {
    let (id, implicit_rounds) = match algorithm {
        "sha512_crypt" => ("6", 656_000),
        "sha256_crypt" => ("5", 535_000),
        "md5_crypt" | "bcrypt" | "md5" | "blowfish" => {
            return Err(format!(
                "hook-runner hashes passwords with sha512 and sha256 only, not {algorithm}"
            ))
        }
        other => {
            return Err(format!(
                "{other} is not in the list of supported passlib algorithms: md5, blowfish, sha256, sha512"
            ))
        }
    };
    let salt = match salt {
        Some(s) => s.to_string(),
        None => random_salt(16)?,
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if salt.is_empty() || salt.chars().count() > 16 || !salt.chars().all(valid) {
        return Err("Could not hash the secret.".into());
    }
    let rounds = rounds.unwrap_or(implicit_rounds) as usize;
    let checksum = match id {
        "6" => sha_crypt::Sha512Params::new(rounds)
            .map_err(|_| "Could not hash the secret.".to_string())
            .and_then(|p| {
                sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &p)
                    .map_err(|_| "Could not hash the secret.".to_string())
            })?,
        _ => sha_crypt::Sha256Params::new(rounds)
            .map_err(|_| "Could not hash the secret.".to_string())
            .and_then(|p| {
                sha_crypt::sha256_crypt_b64(password.as_bytes(), salt.as_bytes(), &p)
                    .map_err(|_| "Could not hash the secret.".to_string())
            })?,
    };
    Ok(if rounds == 5000 {
        format!("${id}${salt}${checksum}")
    } else {
        format!("${id}$rounds={rounds}${salt}${checksum}")
    })
}

// ---------------------------------------------------------------- lists and sets

fn unique(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let _: Option<bool> = kwargs.get("case_sensitive")?;
    let attribute: Option<String> = kwargs.get("attribute")?;
    let mut out: Vec<Json> = Vec::new();
    let mut seen: Vec<Json> = Vec::new();
    for item in list_of(&value)? {
        let key = match &attribute {
            Some(a) => item.get(a).cloned().unwrap_or(Json::Null),
            None => item.clone(),
        };
        if !seen.contains(&key) {
            seen.push(key);
            out.push(item);
        }
    }
    Ok(from_json(&Json::Array(out)))
}

fn union(a: Value, b: Value) -> Result<Value, Error> {
    let mut out = Vec::new();
    for item in list_of(&a)?.into_iter().chain(list_of(&b)?) {
        push_unique(&mut out, item);
    }
    Ok(from_json(&Json::Array(out)))
}

fn intersect(a: Value, b: Value) -> Result<Value, Error> {
    let other = list_of(&b)?;
    let mut out = Vec::new();
    for item in list_of(&a)? {
        if other.contains(&item) {
            push_unique(&mut out, item);
        }
    }
    Ok(from_json(&Json::Array(out)))
}

fn difference(a: Value, b: Value) -> Result<Value, Error> {
    let other = list_of(&b)?;
    let mut out = Vec::new();
    for item in list_of(&a)? {
        if !other.contains(&item) {
            push_unique(&mut out, item);
        }
    }
    Ok(from_json(&Json::Array(out)))
}

fn symmetric_difference(a: Value, b: Value) -> Result<Value, Error> {
    let (left, right) = (list_of(&a)?, list_of(&b)?);
    let mut out = Vec::new();
    for item in left.iter().chain(right.iter()) {
        if !(left.contains(item) && right.contains(item)) {
            push_unique(&mut out, item.clone());
        }
    }
    Ok(from_json(&Json::Array(out)))
}

fn flatten_into(items: Vec<Json>, levels: Option<i64>, skip_nulls: bool, out: &mut Vec<Json>) {
    for item in items {
        if skip_nulls && matches!(&item, Json::Null)
            || matches!(&item, Json::String(s) if skip_nulls && (s == "None" || s == "null"))
        {
            continue;
        }
        match item {
            Json::Array(inner) if levels.is_none_or(|l| l > 0) => {
                flatten_into(inner, levels.map(|l| l - 1), skip_nulls, out)
            }
            other => out.push(other),
        }
    }
}

fn flatten(value: Value, levels: Option<i64>, kwargs: Kwargs) -> Result<Value, Error> {
    let levels = match levels {
        Some(l) => Some(l),
        None => kwargs.get::<Option<i64>>("levels")?,
    };
    let skip_nulls = kwargs.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    let mut out = Vec::new();
    flatten_into(list_of(&value)?, levels, skip_nulls, &mut out);
    Ok(from_json(&Json::Array(out)))
}

fn zip(value: Value, others: Rest<Value>) -> Result<Value, Error> {
    let mut lists = vec![list_of(&value)?];
    for o in others.iter() {
        lists.push(list_of(o)?);
    }
    let len = lists.iter().map(Vec::len).min().unwrap_or(0);
    let rows: Vec<Json> = (0..len)
        .map(|i| Json::Array(lists.iter().map(|l| l[i].clone()).collect()))
        .collect();
    Ok(from_json(&Json::Array(rows)))
}

fn extract(item: Value, container: Value, morekeys: Option<Value>) -> Result<Value, Error> {
    let mut value = container.get_item(&item)?;
    if let Some(keys) = morekeys {
        let keys: Vec<Value> = if keys.kind() == ValueKind::Seq {
            keys.try_iter()?.collect()
        } else {
            vec![keys]
        };
        for k in keys {
            value = value.get_item(&k)?;
        }
    }
    Ok(value)
}

/// Python's `str.split(sep=None, maxsplit=-1)` as Ansible's `split` filter.
fn split(value: Value, sep: Option<String>, maxsplit: Option<i64>) -> Result<Value, Error> {
    let text = text_of(&value)?;
    let max = maxsplit.filter(|m| *m >= 0).map(|m| m as usize);
    let parts: Vec<String> = match sep.as_deref() {
        None => split_whitespace(&text, max),
        Some("") => return Err(invalid("empty separator")),
        Some(s) => match max {
            Some(m) => text.splitn(m + 1, s).map(str::to_string).collect(),
            None => text.split(s).map(str::to_string).collect(),
        },
    };
    Ok(Value::from(parts))
}

/// `str.split()` without a separator: runs of whitespace separate, ends are ignored.
fn split_whitespace(text: &str, max: Option<usize>) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if max.is_some_and(|m| parts.len() == m) {
            parts.push(rest.to_string());
            break;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        parts.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    parts
}

/// Ansible's `subelements(key, skip_missing=False)`: `[item, sub]` for each sub in `item[key]`.
fn subelements(
    value: Value,
    key: String,
    skip_missing: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let skip_missing = match skip_missing {
        Some(s) => s,
        None => kwargs.get::<Option<bool>>("skip_missing")?.unwrap_or(false),
    };
    let items = match json_of(&value)? {
        Json::Array(items) => items,
        Json::Object(map) => map.into_iter().map(|(_, v)| v).collect(),
        _ => {
            return Err(invalid(
                "subelements lookup expects a list of two or three items",
            ))
        }
    };
    let mut out = Vec::new();
    for item in items {
        let mut current = Some(&item);
        for part in key.split('.') {
            current = current.and_then(|c| c.get(part));
        }
        match current {
            Some(Json::Array(subs)) => {
                for sub in subs {
                    out.push(Json::Array(vec![item.clone(), sub.clone()]));
                }
            }
            Some(_) => {
                return Err(invalid(format!(
                    "the key {key} should point to a list, got '{}'",
                    current.map(|c| c.to_string()).unwrap_or_default()
                )))
            }
            None if skip_missing => {}
            None => {
                return Err(invalid(format!(
                    "could not find '{key}' key in iterated item '{item}'"
                )))
            }
        }
    }
    Ok(from_json(&Json::Array(out)))
}

// ---------------------------------------------------------------- dicts

fn merge_lists(base: Vec<Json>, other: Vec<Json>, mode: &str) -> Vec<Json> {
    match mode {
        "keep" => base,
        "append" => base.into_iter().chain(other).collect(),
        "prepend" => other.into_iter().chain(base).collect(),
        "append_rp" => {
            let mut out: Vec<Json> = base.into_iter().filter(|x| !other.contains(x)).collect();
            out.extend(other);
            out
        }
        "prepend_rp" => {
            let mut out = other.clone();
            out.extend(base.into_iter().filter(|x| !other.contains(x)));
            out
        }
        _ => other,
    }
}

fn merge_maps(mut base: Map, other: Map, recursive: bool, list_merge: &str) -> Map {
    for (k, v) in other {
        let merged = match (base.remove(&k), v) {
            (Some(Json::Object(a)), Json::Object(b)) if recursive => {
                Json::Object(merge_maps(a, b, recursive, list_merge))
            }
            (Some(Json::Array(a)), Json::Array(b)) => Json::Array(merge_lists(a, b, list_merge)),
            (_, v) => v,
        };
        base.insert(k, merged);
    }
    base
}

fn combine(value: Value, terms: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = kwargs
        .get::<Option<String>>("list_merge")?
        .unwrap_or_else(|| "replace".into());
    if ![
        "replace",
        "keep",
        "append",
        "prepend",
        "append_rp",
        "prepend_rp",
    ]
    .contains(&list_merge.as_str())
    {
        return Err(invalid(format!(
            "'{list_merge}' is not a valid list_merge value"
        )));
    }
    let mut dicts = vec![json_of(&value)?];
    for t in terms.iter() {
        match json_of(t)? {
            Json::Array(items) => dicts.extend(items),
            other => dicts.push(other),
        }
    }
    let mut out = Map::new();
    for d in dicts {
        match d {
            Json::Object(m) => out = merge_maps(out, m, recursive, &list_merge),
            other => {
                return Err(invalid(format!(
                    "failed to combine variables, expected dicts but got a '{}'",
                    crate::py::type_name(&other)
                )))
            }
        }
    }
    Ok(from_json(&Json::Object(out)))
}

fn dict2items(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name = kwargs
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name = kwargs
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    let map = match json_of(&value)? {
        Json::Object(m) => m,
        other => {
            return Err(invalid(format!(
                "dict2items requires a dictionary, got <class '{}'> instead.",
                crate::py::type_name(&other)
            )))
        }
    };
    let items: Vec<Json> = map
        .into_iter()
        .map(|(k, v)| {
            let mut entry = Map::new();
            entry.insert(key_name.clone(), Json::String(k));
            entry.insert(value_name.clone(), v);
            Json::Object(entry)
        })
        .collect();
    Ok(from_json(&Json::Array(items)))
}

fn items2dict(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name = kwargs
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let value_name = kwargs
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    let items = match json_of(&value)? {
        Json::Array(items) => items,
        other => {
            return Err(invalid(format!(
                "items2dict requires a list, got <class '{}'> instead.",
                crate::py::type_name(&other)
            )))
        }
    };
    let mut out = Map::new();
    for item in items {
        let (Some(k), Some(v)) = (item.get(&key_name), item.get(&value_name)) else {
            return Err(invalid(format!(
                "items2dict requires each dictionary in the list to contain the keys '{key_name}' and '{value_name}', got {item} instead."
            )));
        };
        let key = k
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| k.to_string());
        out.insert(key, v.clone());
    }
    Ok(from_json(&Json::Object(out)))
}

// ---------------------------------------------------------------- serialisation

/// The text of one of Ansible's string-type filters (`STRING_TYPE_FILTERS`: `string`,
/// `to_json`, `to_nice_json`, `to_yaml`, `to_nice_yaml`): marked so that a template whose
/// whole value it is stays text instead of being read back as a literal (Ansible's
/// `NativeJinjaText`; minijinja's "safe" mark carries it, and concatenation drops it as
/// Ansible's does).
pub(crate) fn native_text(text: String) -> Value {
    Value::from_safe_string(text)
}

fn to_json_filter(state: &State, value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true);
    ensure_room(state, text_size(&value, indent.unwrap_or(0), room(state)))?;
    Ok(native_text(crate::py::json_dumps(
        &json_of(&value)?,
        indent,
        sort_keys,
        ensure_ascii,
    )))
}

fn to_nice_json(state: &State, value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(4);
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
    let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true);
    ensure_room(state, text_size(&value, indent, room(state)))?;
    Ok(native_text(crate::py::json_dumps(
        &json_of(&value)?,
        Some(indent),
        sort_keys,
        ensure_ascii,
    )))
}

fn from_json_filter(value: Value) -> Result<Value, Error> {
    let text = text_of(&value)?;
    match serde_json::from_str::<Json>(&text) {
        Ok(v) => Ok(from_json(&v)),
        Err(e) => Err(invalid(format!(
            "Expecting value: line {} column {} ({e})",
            e.line(),
            e.column()
        ))),
    }
}

fn to_yaml(state: &State, value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(2);
    let _: Option<usize> = kwargs.get("width")?;
    let options = crate::yaml::EmitOptions {
        indent,
        ..Default::default()
    };
    ensure_room(state, text_size(&value, indent, room(state)))?;
    Ok(native_text(crate::yaml::to_yaml_string_with(
        &json_of(&value)?,
        &options,
    )))
}

fn to_nice_yaml(state: &State, value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.unwrap_or(4);
    let _: Option<usize> = kwargs.get("width")?;
    ensure_room(state, text_size(&value, indent, room(state)))?;
    Ok(native_text(crate::yaml::to_nice_yaml_string(
        &json_of(&value)?,
        indent,
    )))
}

fn from_yaml(value: Value) -> Result<Value, Error> {
    let text = text_of(&value)?;
    match crate::yaml::load_str(&text, "<string>") {
        Ok(node) => Ok(from_json(&node.to_value())),
        Err(e) => Err(invalid(format!(
            "{} (line {}, column {})",
            e.message, e.mark.line, e.mark.col
        ))),
    }
}

#[cfg(test)]
mod pack_additions_tests {
    use crate::template::core_tests::{err, ok};
    use serde_json::json;

    // Expected values computed with Python 3.11's crypt and uuid modules.

    #[test]
    fn password_hash_matches_crypt_with_ansibles_implicit_rounds() {
        assert_eq!(
            ok("{{ 'secret' | password_hash('sha512', 'mysalt') }}", json!({})),
            json!("$6$rounds=656000$mysalt$cDA0t8lm/qt.LT6DzpoHxJ.NwTpx.WTkOPwhseSva8pRixDSH2./ffedCjAMbTX1Uo1QNT7jJPJ6FIzU2i59K/")
        );
        assert_eq!(
            ok(
                "{{ 'secret' | password_hash('sha256_crypt', salt='mysalt') }}",
                json!({})
            ),
            json!("$5$rounds=535000$mysalt$GnEktJhWXRuwViyPsEWK9s63HYW1GqXFqU5SdKDqol6")
        );
        assert_eq!(
            ok("{{ 'secret' | password_hash('sha512', 'mysalt', rounds=5000) }}", json!({})),
            json!("$6$mysalt$UX6P1VKOf6dr0s2pg4pLNvIUB6hLXvP6M5f/Yj9hJgMPdAJ4oArvk5YUD9/XWtk1JOpVwt/JTsczMJr8sFVML1")
        );
        let random = ok("{{ 'secret' | password_hash(rounds=1000) }}", json!({}));
        let text = random.as_str().unwrap();
        assert!(text.starts_with("$6$rounds=1000$"), "{text}");
        assert_eq!(text.split('$').nth(3).map(str::len), Some(16), "{text}");
        let e = err("{{ 'secret' | password_hash('md5') }}", json!({}));
        assert!(
            e.message.contains("sha512 and sha256 only"),
            "{}",
            e.message
        );
        let e = err(
            "{{ 'secret' | password_hash('sha512', 'bad salt!') }}",
            json!({}),
        );
        assert!(
            e.message.contains("Could not hash the secret."),
            "{}",
            e.message
        );
    }

    #[test]
    fn to_uuid_uses_ansibles_namespace() {
        assert_eq!(
            ok("{{ 'example.com' | to_uuid }}", json!({})),
            json!("ae780c3a-a3ab-53c2-bfb4-098da300b3fe")
        );
        assert_eq!(
            ok("{{ 'example.com' | ansible.builtin.to_uuid }}", json!({})),
            json!("ae780c3a-a3ab-53c2-bfb4-098da300b3fe")
        );
    }

    #[test]
    fn hash_names_hashlib_algorithms() {
        assert_eq!(
            ok("{{ 'abc' | hash('sha256') }}", json!({})),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            ok("{{ 'abc' | hash }}", json!({})),
            json!("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            err("{{ 'abc' | hash('nope') }}", json!({})).message,
            "unsupported hash type nope"
        );
    }
}
