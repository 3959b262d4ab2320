//! A YAML emitter shaped like PyYAML's `yaml.dump`, for the `to_yaml` and `to_nice_yaml` filters.
//!
//! Layout as PyYAML: keys sorted (dump's default `sort_keys=True`), sequences under a mapping key
//! are not indented (`key:\n- a`), a sequence item's content starts after `-` plus `indent - 1`
//! spaces, `to_yaml` (`default_flow_style=None`) writes collections whose children are all
//! scalars in flow style (`a: [1, 2]`), `to_nice_yaml` writes everything in block style.
//! Strings are plain when they read back as the same string, else single-quoted, else
//! double-quoted (control characters). A plain scalar document ends with `...`, as PyYAML does.
//! Plain and single-quoted scalars in block context fold at a single space past column 80, as
//! PyYAML's default width does; flow collections and double-quoted scalars are not wrapped.

use super::resolve::resolve_plain;
use super::Yaml;
use crate::py::float_repr;
use crate::Value;
use std::sync::LazyLock;

/// Emitter settings (the parts of `yaml.dump`'s keywords that the filters use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitOptions {
    /// Spaces per nesting level (PyYAML `indent`, 2 to 9).
    pub indent: usize,
    /// `default_flow_style=None`: collections of scalars in flow style.
    pub flow_leaves: bool,
    pub sort_keys: bool,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions {
            indent: 2,
            flow_leaves: true,
            sort_keys: true,
        }
    }
}

/// `to_yaml`: PyYAML `dump(default_flow_style=None)`.
pub fn to_yaml_string(value: &Value) -> String {
    to_yaml_string_with(value, &EmitOptions::default())
}

/// `to_nice_yaml(indent=N)`: block style throughout.
pub fn to_nice_yaml_string(value: &Value, indent: usize) -> String {
    to_yaml_string_with(
        value,
        &EmitOptions {
            indent,
            flow_leaves: false,
            sort_keys: true,
        },
    )
}

/// Emits one YAML document for `value` with `options`.
pub fn to_yaml_string_with(value: &Value, options: &EmitOptions) -> String {
    let options = EmitOptions {
        indent: options.indent.clamp(2, 9),
        ..*options
    };
    let emitter = Emitter { options };
    let mut out = String::new();
    if is_collection(value) && !emitter.is_flow(value) {
        emitter.block(value, 0, &mut out);
    } else if is_collection(value) {
        out.push_str(&emitter.flow(value));
        out.push('\n');
    } else {
        let (text, plain) = emitter.scalar(value, false, options.indent, Some(0));
        out.push_str(&text);
        out.push('\n');
        if plain {
            out.push_str("...\n");
        }
    }
    out
}

struct Emitter {
    options: EmitOptions,
}

fn is_collection(value: &Value) -> bool {
    matches!(value, Value::Array(_) | Value::Object(_))
}

fn is_empty_collection(value: &Value) -> bool {
    match value {
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

impl Emitter {
    /// Whether a collection is written in flow style.
    fn is_flow(&self, value: &Value) -> bool {
        if is_empty_collection(value) {
            return true;
        }
        if !self.options.flow_leaves {
            return false;
        }
        match value {
            Value::Array(items) => !items.iter().any(is_collection),
            Value::Object(map) => !map.values().any(is_collection),
            _ => false,
        }
    }

    fn entries<'v>(&self, map: &'v crate::Map) -> Vec<(&'v String, &'v Value)> {
        let mut entries: Vec<_> = map.iter().collect();
        if self.options.sort_keys {
            entries.sort_by(|a, b| a.0.cmp(b.0));
        }
        entries
    }

    /// A block collection whose lines start at column `col`; the first line's indentation is
    /// assumed to be written already when `out` does not end with a newline.
    fn block(&self, value: &Value, col: usize, out: &mut String) {
        let step = self.options.indent;
        let mut first = true;
        let mut indent_line = |out: &mut String| {
            if !(first && !out.is_empty() && !out.ends_with('\n')) {
                out.push_str(&" ".repeat(col));
            }
            first = false;
        };
        match value {
            Value::Array(items) => {
                for item in items {
                    indent_line(out);
                    out.push('-');
                    out.push_str(&" ".repeat(step - 1));
                    self.child(item, col + step, false, out);
                }
            }
            Value::Object(map) => {
                for (key, item) in self.entries(map) {
                    indent_line(out);
                    let (key_text, _) = self.string(key, false, col + step, None);
                    out.push_str(&key_text);
                    out.push(':');
                    self.child(item, col + step, true, out);
                }
            }
            _ => {}
        }
    }

    /// Writes a collection item or mapping value after `- ` or `key:`.
    fn child(&self, value: &Value, col: usize, after_key: bool, out: &mut String) {
        if is_collection(value) && !self.is_flow(value) {
            if after_key {
                out.push('\n');
                // Sequences under a key are not indented (PyYAML's indentless sequences).
                let nested = if value.is_array() {
                    col - self.options.indent
                } else {
                    col
                };
                self.block(value, nested, out);
            } else {
                self.block(value, col, out);
            }
            return;
        }
        if after_key {
            out.push(' ');
        }
        if is_collection(value) {
            out.push_str(&self.flow(value));
        } else {
            let start = current_column(out);
            out.push_str(&self.scalar(value, false, col, Some(start)).0);
        }
        out.push('\n');
    }

    fn flow(&self, value: &Value) -> String {
        match value {
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(|v| self.flow_item(v)).collect();
                format!("[{}]", parts.join(", "))
            }
            Value::Object(map) => {
                let parts: Vec<String> = self
                    .entries(map)
                    .into_iter()
                    .map(|(k, v)| {
                        format!("{}: {}", self.string(k, true, 0, None).0, self.flow_item(v))
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            _ => self.scalar(value, true, 0, None).0,
        }
    }

    fn flow_item(&self, value: &Value) -> String {
        if is_collection(value) {
            self.flow(value)
        } else {
            self.scalar(value, true, 0, None).0
        }
    }

    /// A scalar's text and whether it is plain.
    /// A scalar's text and whether it is plain. `start` is the column it starts at when it may
    /// be folded at spaces past the line width (block context, not a key); `col` is the
    /// indentation of continuation lines.
    fn scalar(
        &self,
        value: &Value,
        in_flow: bool,
        col: usize,
        start: Option<usize>,
    ) -> (String, bool) {
        match value {
            Value::Null => ("null".into(), true),
            Value::Bool(b) => (if *b { "true" } else { "false" }.into(), true),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => (i.to_string(), true),
                (_, Some(u), _) => (u.to_string(), true),
                (_, _, Some(f)) => (yaml_float(f), true),
                _ => (n.to_string(), true),
            },
            Value::String(s) => self.string(s, in_flow, col, start),
            _ => (self.flow(value), false),
        }
    }

    fn string(&self, s: &str, in_flow: bool, col: usize, start: Option<usize>) -> (String, bool) {
        if needs_double_quotes(s) {
            return (double_quoted(s), false);
        }
        if plain_allowed(s, in_flow) {
            return match start {
                Some(column) => (fold_plain(s, column, col), true),
                None => (s.to_string(), true),
            };
        }
        (single_quoted(s, col, start), false)
    }
}

/// PyYAML's float representation: `repr()` lowercased, `.inf`, `.nan`, exponent with a dot.
fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let repr = float_repr(f).to_lowercase();
    if !repr.contains('.') && repr.contains('e') {
        repr.replacen('e', ".0e", 1)
    } else {
        repr
    }
}

static TIMESTAMP: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$")
        .expect("static regex")
});

/// Control characters (other than newline) force double quotes, as in PyYAML.
fn needs_double_quotes(s: &str) -> bool {
    s.chars().any(|c| {
        c != '\n'
            && (c < ' ' || c == '\x7f' || ('\u{80}'..'\u{a0}').contains(&c) || c == '\u{feff}')
    })
}

/// Whether `s` can be written without quotes and still read back as the same string.
fn plain_allowed(s: &str, in_flow: bool) -> bool {
    if s.is_empty() || s.contains('\n') || s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    if !matches!(resolve_plain(s), Yaml::Str(_)) || TIMESTAMP.is_match(s) || s == "=" || s == "<<" {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    let first = chars[0];
    let followed_by_space = |i: usize| chars.get(i + 1).is_none_or(|c| *c == ' ' || *c == '\t');
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if "-?:".contains(first) && followed_by_space(0) {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    for (i, c) in chars.iter().enumerate() {
        if in_flow && ",?[]{}".contains(*c) {
            return false;
        }
        if *c == ':' && (followed_by_space(i) || in_flow) {
            return false;
        }
        if *c == '#' && i > 0 && chars[i - 1] == ' ' {
            return false;
        }
    }
    true
}

/// PyYAML's line width: plain and single-quoted scalars fold at a single space past it.
const BEST_WIDTH: usize = 80;

/// The column the next character written to `out` lands on.
fn current_column(out: &str) -> usize {
    match out.rfind('\n') {
        Some(i) => out[i + 1..].chars().count(),
        None => out.chars().count(),
    }
}

/// A plain scalar folded as PyYAML's `write_plain` does: a single space met once the column is
/// past the width becomes a line break plus the continuation indentation.
fn fold_plain(text: &str, start_column: usize, indent: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut column = start_column;
    let (mut spaces, mut start) = (false, 0);
    for end in 0..=chars.len() {
        let ch = chars.get(end).copied();
        if spaces {
            if ch != Some(' ') {
                if start + 1 == end && column > BEST_WIDTH {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                    column = indent;
                } else {
                    out.extend(&chars[start..end]);
                    column += end - start;
                }
                start = end;
            }
        } else if ch.is_none() || ch == Some(' ') {
            out.extend(&chars[start..end]);
            column += end - start;
            start = end;
        }
        spaces = ch == Some(' ');
    }
    out
}

/// Single-quoted style as PyYAML's `write_single_quoted`: `'` doubled, a run of n line breaks
/// written as n + 1 breaks plus indentation, and (in block context) folding at single spaces
/// past the width.
fn single_quoted(s: &str, col: usize, start_column: Option<usize>) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::from("'");
    let mut column = start_column.unwrap_or(0) + 1;
    let (mut spaces, mut breaks, mut start) = (false, false, 0);
    for end in 0..=chars.len() {
        let ch = chars.get(end).copied();
        if spaces {
            if ch != Some(' ') {
                let foldable = start + 1 == end && start != 0 && end != chars.len();
                if foldable && start_column.is_some() && column > BEST_WIDTH {
                    out.push('\n');
                    out.push_str(&" ".repeat(col));
                    column = col;
                } else {
                    out.extend(&chars[start..end]);
                    column += end - start;
                }
                start = end;
            }
        } else if breaks {
            if ch != Some('\n') {
                for _ in 0..=(end - start) {
                    out.push('\n');
                }
                out.push_str(&" ".repeat(col));
                column = col;
                start = end;
            }
        } else if matches!(ch, None | Some(' ' | '\n' | '\'')) && start < end {
            out.extend(&chars[start..end]);
            column += end - start;
            start = end;
        }
        if ch == Some('\'') {
            out.push_str("''");
            column += 2;
            start = end + 1;
        }
        spaces = ch == Some(' ');
        breaks = ch == Some('\n');
    }
    out.push('\'');
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            '\x1b' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            c if (c as u32) < 0x100
                && (c < ' ' || c == '\x7f' || ('\u{80}'..'\u{a0}').contains(&c)) =>
            {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            '\u{feff}' => out.push_str("\\uFEFF"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn to_yaml_uses_flow_for_leaf_collections_and_sorts_keys() {
        let v = json!({"b": [1, 2], "a": {"x": "y"}, "c": {"d": [1, {"e": 1}]}});
        assert_eq!(
            to_yaml_string(&v),
            "a: {x: y}\nb: [1, 2]\nc:\n  d:\n  - 1\n  - {e: 1}\n"
        );
    }

    #[test]
    fn to_nice_yaml_is_block_with_indent_4() {
        let v = json!({"list": [{"a": 1, "b": "two"}, "x"], "m": {"k": true}, "e": []});
        assert_eq!(
            to_nice_yaml_string(&v, 4),
            "e: []\nlist:\n-   a: 1\n    b: two\n-   x\nm:\n    k: true\n"
        );
    }

    #[test]
    fn strings_are_quoted_when_they_would_change_meaning() {
        let v = json!([
            "yes",
            "0644",
            "",
            "a: b",
            "- x",
            "plain text",
            "null",
            "it's",
            "1.5",
            "#c",
            "2001-12-14"
        ]);
        assert_eq!(
            to_yaml_string(&v),
            "['yes', '0644', '', 'a: b', '- x', plain text, 'null', it's, '1.5', '#c', '2001-12-14']\n"
        );
        assert_eq!(to_yaml_string(&json!("a\tb")), "\"a\\tb\"\n");
        assert_eq!(
            to_nice_yaml_string(&json!({"k": "a\nb"}), 2),
            "k: 'a\n\n  b'\n"
        );
    }

    #[test]
    fn plain_scalar_documents_end_with_dots() {
        assert_eq!(to_yaml_string(&json!("abc")), "abc\n...\n");
        assert_eq!(to_yaml_string(&json!(1)), "1\n...\n");
        assert_eq!(to_yaml_string(&json!("yes")), "'yes'\n");
        assert_eq!(to_yaml_string(&json!({})), "{}\n");
        assert_eq!(to_yaml_string(&json!(1.0)), "1.0\n...\n");
    }

    #[test]
    fn nested_sequences() {
        let v = json!([[1, [2]], {"a": [3]}]);
        assert_eq!(to_yaml_string(&v), "- - 1\n  - [2]\n- a: [3]\n");
    }

    #[test]
    fn long_scalars_fold_at_the_line_width() {
        let words = "word ".repeat(20).trim_end().to_string(); // 99 characters
        let v = json!({"key": words});
        let expected_plain = format!(
            "key: {}\n  {}\n",
            "word ".repeat(16).trim_end(),
            "word ".repeat(4).trim_end()
        );
        assert_eq!(to_nice_yaml_string(&v, 2), expected_plain);
        let v = json!({"key": format!("@it's {words}")});
        let out = to_nice_yaml_string(&v, 4);
        assert!(out.starts_with("key: '@it''s word"), "{out}");
        assert!(out.contains("\n    word"), "{out}");
        assert!(out.lines().all(|l| l.chars().count() <= 86), "{out}");
        // Runs of several spaces never fold.
        let spaced = format!("{}  tail", "x".repeat(90));
        assert_eq!(
            to_nice_yaml_string(&json!({ "k": spaced }), 2),
            format!("k: {spaced}\n")
        );
    }
}
