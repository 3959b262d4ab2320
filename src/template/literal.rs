//! Python `ast.literal_eval` for the text a template renders to (ansible-core 2.18's final pass).
//!
//! 2.18 renders a template to text and, when the text starts with `{` or `[` or is `True`/`False`,
//! reads it back as a Python literal, so `"{{ [1, 2] }}"` and `"x: {{ a }}"`-free dict strings
//! become real lists and dicts. This parser understands Python literals: dicts, lists, tuples,
//! sets, strings (quotes, escapes, `r`/`u`/`b` prefixes, implicit concatenation), ints (with
//! `0x`/`0o`/`0b` and underscores), floats, `True`, `False`, `None` and unary signs. Anything
//! else is `None`, and the caller keeps the text. For a template's result (not for
//! [`literal_eval`]), 2.18 first turns the bare names `true`, `false` and `null` into their
//! Python constants (its `Json2Python` pass), so rendered JSON becomes data too.

use crate::{Map, Value};

/// Applies 2.18's rule: literal-eval text that starts with `{`/`[` or is `True`/`False`.
pub fn maybe_literal(text: &str) -> Option<Value> {
    match text {
        "True" => return Some(Value::Bool(true)),
        "False" => return Some(Value::Bool(false)),
        _ => {}
    }
    if !(text.starts_with('{') || text.starts_with('[')) {
        return None;
    }
    parse(text, true)
}

/// Parses a whole Python literal.
pub fn literal_eval(text: &str) -> Option<Value> {
    parse(text, false)
}

/// Parses a whole literal; `json_names`: the bare names `true`, `false`, `null` are constants.
fn parse(text: &str, json_names: bool) -> Option<Value> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
        json_names,
    };
    let value = p.value()?;
    p.skip_ws();
    (p.pos == p.chars.len()).then_some(value)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    json_names: bool,
}

const MAX_DEPTH: usize = 200;

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_ws();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let v = match self.peek()? {
            '{' => self.dict_or_set(),
            '[' => self.sequence(']'),
            '(' => self.sequence(')'),
            '\'' | '"' => self.strings(),
            c if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' => self.number(),
            c if c.is_alphabetic() => self.word(),
            _ => None,
        };
        self.depth -= 1;
        v
    }

    fn sequence(&mut self, close: char) -> Option<Value> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(Value::Array(items));
            }
            items.push(self.value()?);
            if !self.eat(',') {
                return self.eat(close).then_some(Value::Array(items));
            }
        }
    }

    fn dict_or_set(&mut self) -> Option<Value> {
        self.pos += 1;
        let mut map = Map::new();
        let mut set = Vec::new();
        loop {
            if self.eat('}') {
                return Some(if set.is_empty() {
                    Value::Object(map)
                } else {
                    Value::Array(set)
                });
            }
            let key = self.value()?;
            if self.eat(':') {
                if !set.is_empty() {
                    return None;
                }
                let value = self.value()?;
                map.insert(python_str(&key)?, value);
            } else {
                if !map.is_empty() {
                    return None;
                }
                if !set.contains(&key) {
                    set.push(key);
                }
            }
            if !self.eat(',') {
                return self.eat('}').then_some(if set.is_empty() {
                    Value::Object(map)
                } else {
                    Value::Array(set)
                });
            }
        }
    }

    fn word(&mut self) -> Option<Value> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "True" => Some(Value::Bool(true)),
            "False" => Some(Value::Bool(false)),
            "None" => Some(Value::Null),
            "true" if self.json_names => Some(Value::Bool(true)),
            "false" if self.json_names => Some(Value::Bool(false)),
            "null" if self.json_names => Some(Value::Null),
            w if w.len() <= 2 && w.chars().all(|c| "rRuUbB".contains(c)) => {
                matches!(self.peek(), Some('\'' | '"')).then_some(())?;
                self.pos = start;
                self.strings()
            }
            _ => None,
        }
    }

    /// One or more adjacent string literals, concatenated as Python does.
    fn strings(&mut self) -> Option<Value> {
        let mut out = String::new();
        loop {
            self.skip_ws();
            let mut raw = false;
            while let Some(c) = self.peek() {
                if "rRuUbB".contains(c) {
                    raw |= c == 'r' || c == 'R';
                    self.pos += 1;
                } else {
                    break;
                }
            }
            match self.peek() {
                Some(q @ ('\'' | '"')) => out.push_str(&self.string(q, raw)?),
                _ if out.is_empty() => return None,
                _ => return None,
            }
            self.skip_ws();
            match self.peek() {
                Some('\'' | '"' | 'r' | 'R' | 'u' | 'U' | 'b' | 'B') => continue,
                _ => return Some(Value::String(out)),
            }
        }
    }

    fn string(&mut self, quote: char, raw: bool) -> Option<String> {
        let triple = self.chars.get(self.pos..self.pos + 3) == Some(&[quote, quote, quote][..]);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            if c == quote {
                if !triple {
                    self.pos += 1;
                    return Some(out);
                }
                if self.chars.get(self.pos..self.pos + 3) == Some(&[quote, quote, quote][..]) {
                    self.pos += 3;
                    return Some(out);
                }
            }
            if c == '\n' && !triple {
                return None;
            }
            self.pos += 1;
            if c != '\\' {
                out.push(c);
                continue;
            }
            let e = self.peek()?;
            self.pos += 1;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'v' => out.push('\x0b'),
                '\\' | '\'' | '"' => out.push(e),
                '\n' => {}
                'x' => out.push(self.hex_escape(2)?),
                'u' => out.push(self.hex_escape(4)?),
                'U' => out.push(self.hex_escape(8)?),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex_escape(&mut self, len: usize) -> Option<char> {
        let digits: String = self.chars.get(self.pos..self.pos + len)?.iter().collect();
        self.pos += len;
        char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
    }

    fn number(&mut self) -> Option<Value> {
        let mut negative = false;
        while let Some(c @ ('-' | '+')) = self.peek() {
            negative ^= c == '-';
            self.pos += 1;
            self.skip_ws();
        }
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '.'
            || ((c == '-' || c == '+') && matches!(self.chars.get(self.pos.wrapping_sub(1)), Some('e' | 'E'))))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos]
            .iter()
            .filter(|c| **c != '_')
            .collect();
        let lower = text.to_ascii_lowercase();
        let int =
            |digits: &str, radix: u32| i64::from_str_radix(digits, radix).ok().map(Value::from);
        let value = if let Some(h) = lower.strip_prefix("0x") {
            int(h, 16)?
        } else if let Some(o) = lower.strip_prefix("0o") {
            int(o, 8)?
        } else if let Some(b) = lower.strip_prefix("0b") {
            int(b, 2)?
        } else if lower.chars().all(|c| c.is_ascii_digit()) && !lower.is_empty() {
            if lower.len() > 1 && lower.starts_with('0') && lower.chars().any(|c| c != '0') {
                return None; // Python 3 rejects leading zeros
            }
            match lower.parse::<i64>() {
                Ok(i) => Value::from(i),
                Err(_) => Value::from(lower.parse::<f64>().ok()?),
            }
        } else if lower.chars().any(|c| c.is_ascii_digit())
            && !lower.contains("inf")
            && !lower.contains("nan")
        {
            let f = lower.parse::<f64>().ok()?;
            Value::Number(serde_json::Number::from_f64(f)?)
        } else {
            return None;
        };
        Some(if negative { negate(value)? } else { value })
    }
}

fn negate(value: Value) -> Option<Value> {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(Value::from(-i)),
            (None, Some(f)) => serde_json::Number::from_f64(-f).map(Value::Number),
            _ => None,
        },
        _ => None,
    }
}

/// A literal used as a dict key, as the string Ansible's JSON ends up with.
fn python_str(key: &Value) -> Option<String> {
    Some(match key {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_literals() {
        assert_eq!(
            literal_eval("[1, 'a', \"b\", True, None, -2.5]"),
            Some(json!([1, "a", "b", true, null, -2.5]))
        );
        assert_eq!(
            literal_eval("{'k': {'n': [1, 2]}, 'x': (1, 2,)}"),
            Some(json!({"k": {"n": [1, 2]}, "x": [1, 2]}))
        );
        assert_eq!(literal_eval("{1: 'one'}"), Some(json!({"1": "one"})));
        assert_eq!(literal_eval("'it\\'s' \"x\""), Some(json!("it'sx")));
        assert_eq!(literal_eval("u'\\u00e9\\n'"), Some(json!("é\n")));
        assert_eq!(literal_eval("0x10"), Some(json!(16)));
        assert_eq!(literal_eval("{1, 2}"), Some(json!([1, 2])));
    }

    #[test]
    fn not_literals() {
        assert_eq!(literal_eval("[a, b]"), None);
        assert_eq!(literal_eval("{'a': 1"), None);
        assert_eq!(literal_eval("[1] extra"), None);
        assert_eq!(literal_eval("0644"), None);
        assert_eq!(maybe_literal("[not python"), None);
        assert_eq!(maybe_literal("1"), None);
        assert_eq!(maybe_literal("True"), Some(json!(true)));
        assert_eq!(literal_eval("{\"a\": true}"), None);
    }

    #[test]
    fn rendered_json_names_are_constants() {
        assert_eq!(
            maybe_literal("{\"null\": null, \"true\": true, \"false\": false}"),
            Some(json!({"null": null, "true": true, "false": false}))
        );
        assert_eq!(maybe_literal("[true, None, nil]"), None);
        assert_eq!(maybe_literal("true"), None);
    }
}
