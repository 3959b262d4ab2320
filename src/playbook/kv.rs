//! `k=v` argument strings, as Ansible's `parse_kv` reads them.
//!
//! The text is split on whitespace, except inside quotes and inside Jinja2 `{{ }}`/`{% %}`/
//! `{# #}`. A word `key=value` (the `=` before any quote) becomes an argument, its value
//! unquoted when it is quoted whole; every value is a string. Other words are free-form text
//! and go to `_raw_params`. For the free-form modules (`command`, `shell`, `raw`, `script`:
//! `check_raw`), only `creates`, `removes`, `chdir`, `executable`, `warn`, `stdin`,
//! `stdin_add_newline` and `strip_empty_ends` are taken as arguments: any other `k=v` word
//! stays part of the command. `_raw_params` keeps the original text as written (spacing and a
//! final newline included) when no word is taken; else minus the words taken, blanks collapsed.

use crate::{Map, Value};

/// The options a free-form module takes out of its command text.
const RAW_OPTIONS: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

/// A word of the text and where it sits (byte offsets).
struct Word<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

/// Splits `k=v` text into arguments; see the module doc.
pub fn parse_kv(text: &str, check_raw: bool) -> Map {
    let mut args = Map::new();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut has_raw = false;
    for word in split_words(text) {
        match split_key(word.text) {
            Some((key, value)) if !check_raw || RAW_OPTIONS.contains(&key) => {
                args.insert(key.to_string(), Value::String(unquote(value).to_string()));
                taken.push((word.start, word.end));
            }
            _ => has_raw = true,
        }
    }
    if has_raw {
        args.insert(
            "_raw_params".into(),
            Value::String(remove_spans(text, &taken)),
        );
    }
    args
}

/// The key and value of a `key=value` word, when the `=` comes before any quote and the key
/// looks like a parameter name or is a whole Jinja2 expression (`set_fact: "{{ k }}={{ v }}"`:
/// the key is templated when the task runs, as in Ansible).
fn split_key(word: &str) -> Option<(&str, &str)> {
    // A Jinja2 key runs to the `}}` that the `=` follows (it may hold quotes and `=`).
    if word.starts_with("{{") {
        if let Some(end) = word.find("}}=") {
            return Some((&word[..end + 2], &word[end + 3..]));
        }
    }
    let eq = word.find('=')?;
    let quote = word.find(['"', '\'']).unwrap_or(usize::MAX);
    if eq > quote || eq == 0 {
        return None;
    }
    let key = &word[..eq];
    if !key
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    Some((key, &word[eq + 1..]))
}

/// Removes a value's surrounding quotes when it is quoted whole.
fn unquote(value: &str) -> &str {
    let b = value.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

/// The text without the given spans (and the blank that separated each from the rest).
/// Without spans the text is kept as written, as Ansible keeps it: a `shell: |` block's
/// trailing newline stays in the command (and in the result's `cmd`).
fn remove_spans(text: &str, spans: &[(usize, usize)]) -> String {
    if spans.is_empty() {
        return text.to_string();
    }
    let mut out = String::new();
    let mut pos = 0;
    for &(start, end) in spans {
        out.push_str(&text[pos..start]);
        pos = end;
    }
    out.push_str(&text[pos..]);
    // Collapse the double blanks left where words were taken out, keeping newlines.
    let mut cleaned = String::new();
    for line in out.split('\n') {
        if !cleaned.is_empty() {
            cleaned.push('\n');
        }
        cleaned.push_str(
            &line
                .split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    cleaned.trim().to_string()
}

/// Splits on whitespace outside quotes and Jinja2 delimiters.
fn split_words(text: &str) -> Vec<Word<'_>> {
    let bytes = text.as_bytes();
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<u8> = None;
    let mut jinja_depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if start.is_none() && !c.is_ascii_whitespace() {
            start = Some(i);
        }
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == b'{' && matches!(next, Some(b'{') | Some(b'%') | Some(b'#')) {
                    jinja_depth += 1;
                    i += 1;
                } else if jinja_depth > 0 && matches!(c, b'}' | b'%' | b'#') && next == Some(b'}') {
                    jinja_depth -= 1;
                    i += 1;
                } else if jinja_depth == 0 && (c == b'"' || c == b'\'') {
                    quote = Some(c);
                } else if jinja_depth == 0 && c.is_ascii_whitespace() {
                    if let Some(s) = start.take() {
                        words.push(Word {
                            text: &text[s..i],
                            start: s,
                            end: i,
                        });
                    }
                }
            }
        }
        i += 1;
    }
    if let Some(s) = start {
        words.push(Word {
            text: &text[s..],
            start: s,
            end: text.len(),
        });
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_kv_gives_strings() {
        let m = parse_kv("path=/tmp/x mode=0600 state=directory", false);
        assert_eq!(
            Value::Object(m),
            json!({"path": "/tmp/x", "mode": "0600", "state": "directory"})
        );
    }

    #[test]
    fn quoted_values_are_unquoted_and_keep_spaces() {
        let m = parse_kv("msg=\"hello world\" other='a b'", false);
        assert_eq!(
            Value::Object(m),
            json!({"msg": "hello world", "other": "a b"})
        );
    }

    #[test]
    fn jinja_keeps_spaces_inside_a_value() {
        let m = parse_kv("msg={{ a | default('x y') }}", false);
        assert_eq!(Value::Object(m), json!({"msg": "{{ a | default('x y') }}"}));
    }

    #[test]
    fn command_keeps_unknown_kv_in_the_command() {
        let m = parse_kv("echo a=b chdir=/tmp creates=/x", true);
        assert_eq!(
            Value::Object(m),
            json!({"chdir": "/tmp", "creates": "/x", "_raw_params": "echo a=b"})
        );
    }

    #[test]
    fn command_multiline_text_is_kept() {
        // As ansible-core 2.18: the block's spacing and final newline are kept.
        let m = parse_kv("echo one\n  echo  two\n", true);
        assert_eq!(m["_raw_params"], json!("echo one\n  echo  two\n"));
    }

    #[test]
    fn a_templated_key_is_a_key() {
        let m = parse_kv("{{ item['key'] }}={{ hostvars[h][item.value] }}", false);
        assert_eq!(
            Value::Object(m),
            json!({"{{ item['key'] }}": "{{ hostvars[h][item.value] }}"})
        );
    }

    #[test]
    fn free_words_in_other_modules_go_to_raw_params() {
        let m = parse_kv("tasks.yml", false);
        assert_eq!(Value::Object(m), json!({"_raw_params": "tasks.yml"}));
    }
}
