//! Python's text forms of values, as Ansible's console output shows them.
//!
//! Ansible's default callback prints results with Python's `json.dumps(..., sort_keys=True,
//! ensure_ascii=False)`: compact form with `", "` and `": "` separators, or with `indent=4`
//! (debug results, `-vvv`), where empty containers stay `[]`/`{}`. Keys are sorted at every
//! level. Loop item labels that are not strings are printed with Python's `repr()`
//! (`{'n': 1, 's': "it's"}`, `True`, `None`), in insertion order.

use crate::Value;
use std::fmt::Write as _;

/// `json.dumps(value, sort_keys=True, ensure_ascii=False, indent=indent)`.
pub fn dumps(value: &Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_json(&mut out, value, indent, 0);
    out
}

fn write_json(out: &mut String, value: &Value, indent: Option<usize>, depth: usize) {
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separator(out, i, indent, depth + 1);
                write_json(out, item, indent, depth + 1);
            }
            close(out, ']', indent, depth);
        }
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                separator(out, i, indent, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_json(out, &map[key], indent, depth + 1);
            }
            close(out, '}', indent, depth);
        }
        Value::String(s) => write_string(out, s),
        // Scalars, `[]` and `{}` print the same in both languages.
        other => out.push_str(&other.to_string()),
    }
}

fn separator(out: &mut String, index: usize, indent: Option<usize>, depth: usize) {
    match indent {
        Some(width) => {
            if index > 0 {
                out.push(',');
            }
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
        None if index > 0 => out.push_str(", "),
        None => {}
    }
}

fn close(out: &mut String, bracket: char, indent: Option<usize>, depth: usize) {
    if let Some(width) = indent {
        out.push('\n');
        out.push_str(&" ".repeat(width * depth));
    }
    out.push(bracket);
}

/// serde_json escapes exactly the characters Python's json escapes with `ensure_ascii=False`.
fn write_string(out: &mut String, s: &str) {
    out.push_str(&Value::String(s.to_string()).to_string());
}

/// Python's `str()` of a loop item label: strings as they are, other values as `repr()`.
pub fn label(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// Python's `repr()` of a JSON-like value.
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
        Value::Number(n) => out.push_str(&n.to_string()),
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

/// Python picks single quotes unless the text has a single quote and no double quote.
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compact_form_sorts_keys_with_python_separators() {
        let v = json!({"msg": "boom", "changed": false, "cmd": ["false"], "e": {}, "l": []});
        assert_eq!(
            dumps(&v, None),
            r#"{"changed": false, "cmd": ["false"], "e": {}, "l": [], "msg": "boom"}"#
        );
    }

    #[test]
    fn indented_form_matches_python() {
        let v = json!({"groups": {"vms": ["vm1"], "ungrouped": [], "all": ["vm1", "10.0.0.1"]}});
        let expected = "{\n    \"groups\": {\n        \"all\": [\n            \"vm1\",\n            \"10.0.0.1\"\n        ],\n        \"ungrouped\": [],\n        \"vms\": [\n            \"vm1\"\n        ]\n    }\n}";
        assert_eq!(dumps(&v, Some(4)), expected);
    }

    #[test]
    fn strings_escape_like_python() {
        assert_eq!(
            dumps(&json!("a\"b\\c\nd\u{1}é"), None),
            r#""a\"b\\c\nd\u0001é""#
        );
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(
            label(&json!({"n": 1, "s": "it's"})),
            r#"{'n': 1, 's': "it's"}"#
        );
        assert_eq!(
            label(&json!([true, null, 1.5, "x"])),
            "[True, None, 1.5, 'x']"
        );
        assert_eq!(label(&json!("plain")), "plain");
        assert_eq!(repr(&json!("a'b\"c\n")), r#"'a\'b"c\n'"#);
    }
}
