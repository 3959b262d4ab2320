//! Python's value semantics, in one place: how Ansible (a Python program) turns values into
//! text and truth, so that hook-runner prints and decides the same way.
//!
//! - [`str`] and [`repr`]: Python's `str()` and `repr()` of JSON-shaped values (`True`, `None`,
//!   `'a'`, `"it's"`, `{'k': [1, 2.0]}`);
//! - [`json_dumps`]: `json.dumps` with its `indent`, `sort_keys` and `ensure_ascii` options and
//!   Python's separators (`", "`/`": "`, or `","` at line ends with an indent);
//! - [`type_name`] and [`class_name`]: `type(v).__name__` and `str(type(v))`;
//! - [`truthy`] is `bool(v)`;
//! - [`BOOL_TRUE`]/[`BOOL_FALSE`] and [`convert_bool`]: Ansible's `boolean()` word lists, the
//!   ones module parameters and `set_fact` accept. Two narrower lists exist on purpose
//!   elsewhere: the `bool` filter's (`yes`, `on`, `1`, `true`: anything else is false) and
//!   YAML 1.1's plain-scalar booleans (`src/yaml/resolve.rs`).
//! - [`float_repr`]: Python's shortest round-trip float text (`1.0`, `1e+16`).

use crate::Value;
use std::fmt::Write as _;

/// The words Ansible's `boolean()` reads as true (compared lower-cased), in the order its
/// messages list them.
pub const BOOL_TRUE: &[&str] = &["y", "yes", "on", "1", "true", "t"];
/// The words Ansible's `boolean()` reads as false.
pub const BOOL_FALSE: &[&str] = &["n", "no", "off", "0", "false", "f"];

/// Ansible's `boolean()` without its error: `Some` for a bool, a word of [`BOOL_TRUE`] /
/// [`BOOL_FALSE`] (trimmed, any case), or the numbers 1 and 0; `None` for anything else.
pub fn convert_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => {
            let norm = s.trim().to_lowercase();
            if BOOL_TRUE.contains(&norm.as_str()) {
                Some(true)
            } else if BOOL_FALSE.contains(&norm.as_str()) {
                Some(false)
            } else {
                None
            }
        }
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Python's `bool(value)`: empty, zero and `None` are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// `type(value).__name__`.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// `str(type(value))`, as Ansible's messages print a type: `<class 'int'>`.
pub fn class_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<class 'NoneType'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Number(n) if n.is_f64() => "<class 'float'>",
        Value::Number(_) => "<class 'int'>",
        Value::String(_) => "<class 'str'>",
        Value::Array(_) => "<class 'list'>",
        Value::Object(_) => "<class 'dict'>",
    }
}

/// Python's `str(value)`: a string as it is, anything else as its [`repr`] (`True`, `420`,
/// `['a']`).
pub fn str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// Python's `repr(value)`: dict keys in insertion order, strings in single quotes unless
/// they hold a single quote and no double quote.
pub fn repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&number_text(n)),
        Value::String(s) => write_str_repr(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, key);
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// A number as Python prints it: integers as they are, floats by [`float_repr`].
fn number_text(n: &serde_json::Number) -> String {
    match (n.is_f64(), n.as_f64()) {
        (true, Some(f)) => float_repr(f),
        _ => n.to_string(),
    }
}

/// Python's `repr(float)`: the shortest text that reads back as the same float, with `.0` on
/// whole numbers and exponent notation (`1e+16`, `1e-05`) outside 1e-4..1e16.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// `json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)`.
/// Python's defaults are `None, false, true`; Ansible's console prints results with
/// `sort_keys=True, ensure_ascii=False`.
pub fn json_dumps(
    value: &Value,
    indent: Option<usize>,
    sort_keys: bool,
    ensure_ascii: bool,
) -> String {
    let mut out = String::new();
    Dumper {
        indent,
        sort_keys,
        ensure_ascii,
    }
    .write(value, 0, &mut out);
    out
}

struct Dumper {
    indent: Option<usize>,
    sort_keys: bool,
    ensure_ascii: bool,
}

impl Dumper {
    fn newline(&self, out: &mut String, level: usize) {
        if let Some(n) = self.indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * level));
        }
    }

    fn write(&self, value: &Value, level: usize, out: &mut String) {
        let item_sep = if self.indent.is_some() { "," } else { ", " };
        match value {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(
                &number_text(n)
                    .replace("inf", "Infinity")
                    .replace("nan", "NaN"),
            ),
            Value::String(s) => self.write_string(s, out),
            Value::Array(items) if items.is_empty() => out.push_str("[]"),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    self.newline(out, level + 1);
                    self.write(item, level + 1, out);
                }
                self.newline(out, level);
                out.push(']');
            }
            Value::Object(map) if map.is_empty() => out.push_str("{}"),
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if self.sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(item_sep);
                    }
                    self.newline(out, level + 1);
                    self.write_string(k, out);
                    out.push_str(": ");
                    self.write(v, level + 1, out);
                }
                self.newline(out, level);
                out.push('}');
            }
        }
    }

    fn write_string(&self, s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                // ensure_ascii escapes everything outside printable ASCII (DEL too).
                c if self.ensure_ascii && (c as u32) > 0x7e => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

/// Python's `str.splitlines()` (and `bytes.splitlines()`) for the line ends that occur in
/// command output: `\n`, `\r\n` and `\r` end a line; a trailing line end adds no empty line.
pub fn splitlines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => lines.push(std::mem::take(&mut current)),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut current));
            }
            other => current.push(other),
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_ends_lines_as_python() {
        assert_eq!(splitlines("a\nb\r\nc\rd"), ["a", "b", "c", "d"]);
        assert_eq!(splitlines("a\n\nb\n"), ["a", "", "b"]);
        assert!(splitlines("").is_empty());
    }
    use serde_json::json;

    #[test]
    fn repr_and_str_match_python() {
        assert_eq!(
            repr(&json!({"n": 1, "s": "it's"})),
            r#"{'n': 1, 's': "it's"}"#
        );
        assert_eq!(
            repr(&json!([true, null, 1.5, 2.0, "x"])),
            "[True, None, 1.5, 2.0, 'x']"
        );
        assert_eq!(repr(&json!("a'b\"c\n")), r#"'a\'b"c\n'"#);
        assert_eq!(repr(&json!("tab\there\u{1}")), r"'tab\there\x01'");
        assert_eq!(str(&json!("plain")), "plain");
        assert_eq!(str(&json!(false)), "False");
        assert_eq!(str(&json!(1e20)), "1e+20");
    }

    #[test]
    fn json_dumps_compact_sorted_and_indented_forms() {
        let v = json!({"msg": "boom", "changed": false, "cmd": ["false"], "e": {}, "l": []});
        assert_eq!(
            json_dumps(&v, None, true, false),
            r#"{"changed": false, "cmd": ["false"], "e": {}, "l": [], "msg": "boom"}"#
        );
        assert_eq!(
            json_dumps(&json!({"b": 1, "a": [1.0]}), None, false, true),
            r#"{"b": 1, "a": [1.0]}"#
        );
        let v = json!({"groups": {"vms": ["vm1"], "ungrouped": [], "all": ["vm1", "10.0.0.1"]}});
        let expected = "{\n    \"groups\": {\n        \"all\": [\n            \"vm1\",\n            \"10.0.0.1\"\n        ],\n        \"ungrouped\": [],\n        \"vms\": [\n            \"vm1\"\n        ]\n    }\n}";
        assert_eq!(json_dumps(&v, Some(4), true, false), expected);
    }

    #[test]
    fn json_dumps_escapes_like_python() {
        let text = json!("a\"b\\c\nd\u{1}é\u{7f}😀");
        assert_eq!(
            json_dumps(&text, None, false, false),
            "\"a\\\"b\\\\c\\nd\\u0001é\u{7f}😀\""
        );
        assert_eq!(
            json_dumps(&text, None, false, true),
            r#""a\"b\\c\nd\u0001\u00e9\u007f\ud83d\ude00""#
        );
    }

    #[test]
    fn floats_print_as_python_does() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(0.5), "0.5");
        assert_eq!(float_repr(1e20), "1e+20");
        assert_eq!(float_repr(1.5e-7), "1.5e-07");
        assert_eq!(float_repr(f64::INFINITY), "inf");
    }

    #[test]
    fn truth_and_types() {
        assert!(!truthy(&json!("")) && truthy(&json!("0")) && !truthy(&json!(0.0)));
        assert!(!truthy(&json!([])) && truthy(&json!({"a": null})));
        assert_eq!(type_name(&json!(1.0)), "float");
        assert_eq!(class_name(&json!(null)), "<class 'NoneType'>");
        assert_eq!(convert_bool(&json!(" Yes ")), Some(true));
        assert_eq!(convert_bool(&json!("f")), Some(false));
        assert_eq!(convert_bool(&json!(1)), Some(true));
        assert_eq!(convert_bool(&json!("maybe")), None);
        assert_eq!(convert_bool(&json!([])), None);
    }
}
