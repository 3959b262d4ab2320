//! `k=v` argument strings, as Ansible's `parse_kv` reads them.
//!
//! The text is split on whitespace, except inside quotes and inside Jinja2 `{{ }}`/`{% %}`/
//! `{# #}`. A word `key=value` (the `=` before any quote) becomes an argument, its value
//! unquoted when it is quoted whole; every value is a string. Other words are free-form text
//! and go to `_raw_params`. For the free-form modules (`command`, `shell`, `raw`, `script`:
//! `check_raw`), only `creates`, `removes`, `chdir`, `executable`, `warn`, `stdin`,
//! `stdin_add_newline` and `strip_empty_ends` are taken as arguments: any other `k=v` word
//! stays part of the command. `_raw_params` keeps the original text as written (spacing and
//! newlines included) minus the words taken and the line continuations (a lone `\` ending a
//! line); see [`remove_spans`] for the layout of what remains.

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
    let mut continuations: Vec<(usize, usize)> = Vec::new();
    let mut has_raw = false;
    for word in split_words(text) {
        if is_line_continuation(text, &word) {
            continuations.push((word.start, word.end));
            continue;
        }
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
            Value::String(remove_spans(text, &taken, &continuations)),
        );
    }
    args
}

/// Whether the word is a lone `\` that ends its line (blanks may follow it): a line
/// continuation, which Ansible drops with the newline.
fn is_line_continuation(text: &str, word: &Word) -> bool {
    let after = word.end + blanks_at(text, word.end);
    word.text == "\\" && matches!(text.as_bytes().get(after), None | Some(b'\n'))
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

/// The text without the taken words and the line continuations, laid out as Ansible lays it
/// out (observed on ansible-core 2.18). Without either the text is kept as written: a
/// `shell: |` block's trailing newline stays in the command (and in the result's `cmd`).
/// - a taken word in a line drops with the blanks after it;
/// - a taken word that ends its line drops with its newline (a line of taken words vanishes,
///   the other lines keep their newlines);
/// - a lone `\` ending a line drops with its newline and one leading blank of the next line,
///   which so continues the line (`echo a \⏎"b"` is `echo a "b"`);
/// - when nothing but blanks follows the last dropped piece, the blanks before it go too.
fn remove_spans(text: &str, spans: &[(usize, usize)], continuations: &[(usize, usize)]) -> String {
    if spans.is_empty() && continuations.is_empty() {
        return text.to_string();
    }
    let mut cuts: Vec<(usize, usize)> = spans
        .iter()
        .map(|&(start, end)| taken_word_cut(text, start, end))
        .chain(
            continuations
                .iter()
                .flat_map(|&(start, end)| continuation_cuts(text, start, end)),
        )
        .collect();
    cuts.sort_unstable();
    let mut out = String::new();
    let mut pos = 0;
    for (start, end) in cuts {
        if start >= pos {
            out.push_str(&text[pos..start]);
        }
        pos = pos.max(end);
    }
    let rest = &text[pos..];
    if rest.trim().is_empty() {
        let kept = out.trim_end_matches([' ', '\t']).len();
        out.truncate(kept);
    } else {
        out.push_str(rest);
    }
    out
}

/// The byte range a taken word removes: the word and the blanks after it, and its newline
/// when it ends its line.
fn taken_word_cut(text: &str, start: usize, end: usize) -> (usize, usize) {
    let after = end + blanks_at(text, end);
    match text.as_bytes().get(after) {
        Some(b'\n') => (start, after + 1),
        _ => (start, after),
    }
}

/// The byte ranges a line-ending `\` removes: itself, its newline (the blanks between stay)
/// and one blank that starts the next line.
fn continuation_cuts(text: &str, start: usize, end: usize) -> [(usize, usize); 2] {
    let newline = end + blanks_at(text, end);
    let mut cut_end = (newline + 1).min(text.len());
    if matches!(text.as_bytes().get(cut_end), Some(b' ' | b'\t')) {
        cut_end += 1;
    }
    [(start, end), (newline, cut_end)]
}

/// How many blanks (spaces, tabs) start `text[at..]`.
fn blanks_at(text: &str, at: usize) -> usize {
    text.as_bytes()[at..]
        .iter()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count()
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
    fn a_line_of_taken_words_vanishes_and_other_newlines_stay() {
        // command_shell `shell_result6`: the block's final newline is kept.
        let m = parse_kv(
            "executable=\"/bin/bash\"\ncreates=/x/a.txt\necho \"test\"\n",
            true,
        );
        assert_eq!(m["_raw_params"], json!("echo \"test\"\n"));
        assert_eq!(m["executable"], json!("/bin/bash"));
        let m = parse_kv("echo a\n\ncreates=/x\necho b\n", true);
        assert_eq!(m["_raw_params"], json!("echo a\n\necho b\n"));
    }

    #[test]
    fn a_taken_word_takes_its_blanks_or_its_newline() {
        let m = parse_kv("echo  a   chdir=/t  b\n", true);
        assert_eq!(m["_raw_params"], json!("echo  a   b\n"));
        let m = parse_kv("echo x creates=/y\necho z\n", true);
        assert_eq!(m["_raw_params"], json!("echo x echo z\n"));
        let m = parse_kv("  echo a\n  echo b creates=/x\n", true);
        assert_eq!(m["_raw_params"], json!("  echo a\n  echo b"));
    }

    #[test]
    fn a_lone_backslash_ending_a_line_continues_it() {
        // command_shell `shell_result5`.
        let text = "echo this is a \\\n\"multi echo\" \\\n\"with a\nin q\" \\\n| cat\necho \"x\"\n";
        let m = parse_kv(text, true);
        assert_eq!(
            m["_raw_params"],
            json!("echo this is a \"multi echo\" \"with a\nin q\" | cat\necho \"x\"\n")
        );
        assert_eq!(
            parse_kv("echo a \\\n  b\n", true)["_raw_params"],
            json!("echo a  b\n")
        );
        assert_eq!(
            parse_kv("echo a \\  \nb\n", true)["_raw_params"],
            json!("echo a   b\n")
        );
        assert_eq!(
            parse_kv("echo a \\\n", true)["_raw_params"],
            json!("echo a")
        );
        // Not a lone word, or inside quotes: kept.
        assert_eq!(
            parse_kv("echo a\\\nb\n", true)["_raw_params"],
            json!("echo a\\\nb\n")
        );
        assert_eq!(
            parse_kv("echo 'a \\\nb'\n", true)["_raw_params"],
            json!("echo 'a \\\nb'\n")
        );
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
