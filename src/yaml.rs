//! YAML loading as Ansible does it (PyYAML, YAML 1.1 resolution), with a position on every node.
//!
//! Semantics (PyYAML's YAML 1.1, which Ansible uses): plain scalars resolve with YAML 1.1 rules:
//! `yes/no/on/off/true/false` (any of the three usual casings) are booleans, `0644` is octal (420),
//! `0x1F` hex, `1_000` an int, `~`/`null`/empty are null, `.inf`/`.nan` floats, `12:30` sexagesimal;
//! quoted scalars always stay strings. Mapping key order is kept. Anchors/aliases and merge keys
//! (`<<`) are supported, with a bound against alias bombs. Duplicate keys: the last one wins (as
//! PyYAML). Errors carry file:line:column.
//!
//! Tags: the core `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` (and `!!binary`/`!!timestamp`,
//! kept as text); Ansible's `!unsafe`, whose strings are never templated (on a scalar: its text,
//! unresolved, so `!unsafe 12` is the string `12`; on a list or mapping: every string inside,
//! as Ansible's `wrap_var`; keys are marked in the tree but are plain text in a [`Value`]). `!vault`/`!vault-encrypted` are refused (hook-runner has no
//! vault password) and any other tag is an error, as with PyYAML's safe constructor ("could not
//! determine a constructor for the tag").
//!
//! How the `!unsafe` mark travels: the tree keeps it as [`Yaml::Unsafe`]; in a [`Value`] (plain
//! JSON) an unsafe string that holds template syntax starts with [`UNSAFE_MARK`], which the
//! templater recognises and returns verbatim, without the mark (see [`unsafe_text`]). Text without
//! `{{`, `{%` or `{#` needs no mark: templating leaves it unchanged anyway. So a value read where
//! nothing templates it (a keyword taken as is) carries the mark only if it looks like a template;
//! the engine strips marks from the results it reports ([`strip_unsafe_marks`]).

mod emit;
mod load;
mod quoted_indent;
mod resolve;

pub use emit::{to_nice_yaml_string, to_yaml_string, to_yaml_string_with, EmitOptions};
use load::Loader;
pub use resolve::resolve_plain;

use crate::{Map, Value};
use std::fmt;
use std::path::Path;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    pub line: usize,
    pub col: usize,
}

/// A loaded YAML node: its value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Yaml,
    pub mark: Mark,
}

/// A YAML value with Ansible's (YAML 1.1) scalar resolution applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A string from an `!unsafe` tag (Ansible's `AnsibleUnsafeText`): data, never a template.
    Unsafe(String),
    Seq(Vec<Node>),
    /// Keys in document order. Keys are nodes too (usually strings), so messages can point at them.
    Map(Vec<(Node, Node)>),
}

/// The first character of a string [`Value`] that came from an `!unsafe` scalar holding template
/// syntax: the templater returns the rest verbatim. A Unicode noncharacter, so real text does not
/// start with it by accident (and a string that does only escapes templating, never gains it).
pub const UNSAFE_MARK: char = '\u{FDD0}';

/// The text of a string marked unsafe ([`UNSAFE_MARK`]), or `None` for any other string.
pub fn unsafe_text(s: &str) -> Option<&str> {
    s.strip_prefix(UNSAFE_MARK)
}

/// Removes the [`UNSAFE_MARK`] from every string inside `value`, for showing it: the mark only
/// means something to the templater. Removed wherever it stands, as a message may quote a
/// marked text ("The conditional check '...' failed").
pub fn strip_unsafe_marks(value: &mut Value) {
    match value {
        Value::String(s) if s.contains(UNSAFE_MARK) => *s = s.replace(UNSAFE_MARK, ""),
        Value::Array(items) => items.iter_mut().for_each(strip_unsafe_marks),
        Value::Object(map) => map.values_mut().for_each(strip_unsafe_marks),
        _ => {}
    }
}

/// The string [`Value`] of an `!unsafe` scalar: marked only when it holds template syntax (the
/// same test as `Templar::is_template`; this layer sits below the templater).
fn unsafe_value(text: &str) -> Value {
    if text.contains("{{") || text.contains("{%") || text.contains("{#") {
        Value::String(format!("{UNSAFE_MARK}{text}"))
    } else {
        Value::String(text.to_string())
    }
}

/// A YAML syntax or structure error, located.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub file: String,
    pub mark: Mark,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.mark.line, self.mark.col, self.message
        )
    }
}

impl std::error::Error for YamlError {}

/// How much text the quoted-scalar repairs may parse again, as a multiple of the source's size
/// (plus [`REPAIR_WORK_FLOOR`]): each repair re-parses the whole document, so without a bound a
/// file of many under-indented scalars costs time quadratic in its size.
const REPAIR_WORK_FACTOR: usize = 32;
/// The part of the repair budget every document gets, however small (1 MiB: milliseconds).
const REPAIR_WORK_FLOOR: usize = 1 << 20;

/// Loads the first document of `source`; an empty document is `Null`. `file` names the source in errors.
/// A quoted scalar whose continuation lines are under-indented (PyYAML accepts them) is
/// re-indented and the load retried; see `quoted_indent`. Each scalar is repaired once (a repair
/// that does not help is not repeated), and all retries together parse at most
/// [`REPAIR_WORK_FACTOR`] times the source plus [`REPAIR_WORK_FLOOR`], so the cost stays linear.
pub fn load_str(source: &str, file: &str) -> Result<Node, YamlError> {
    let first = Loader::new(source, file).load_first_document();
    let mut error = match first {
        Ok(node) => return Ok(node),
        Err(e) => e,
    };
    let mut budget = source
        .len()
        .saturating_mul(REPAIR_WORK_FACTOR)
        .saturating_add(REPAIR_WORK_FLOOR);
    let mut repaired: Vec<Mark> = Vec::new();
    let mut text = source.to_string();
    while error.message.contains(quoted_indent::QUOTED_INDENT_ERROR) {
        // The error marks the opening quote: the same mark again means the repair did not help.
        if repaired.contains(&error.mark) {
            break;
        }
        let Some(fixed) =
            quoted_indent::reindent_quoted_scalar(&text, error.mark.line, error.mark.col)
        else {
            break;
        };
        if fixed.len() > budget {
            error.message.push_str(
                " (hook-runner re-indents under-indented quoted scalars, which PyYAML accepts, but this \
                 one is past the repair budget for a file of this size: indent its continuation \
                 lines deeper than its key)",
            );
            break;
        }
        budget -= fixed.len();
        repaired.push(error.mark);
        text = fixed;
        match Loader::new(&text, file).load_first_document() {
            Ok(node) => return Ok(node),
            Err(e) => error = e,
        }
    }
    Err(error)
}

/// Reads and loads a file; an unreadable file is an error located at 0:0 with the OS reason.
pub fn load_file(path: &Path) -> Result<Node, YamlError> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&text, &file),
        Err(e) => Err(YamlError {
            file,
            mark: Mark::default(),
            message: format!("could not read file: {e}"),
        }),
    }
}

impl Node {
    /// The plain value, for variables and module arguments (map keys rendered as strings).
    pub fn to_value(&self) -> Value {
        match &self.value {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(i) => Value::from(*i),
            Yaml::Float(f) => float_value(*f),
            Yaml::Str(s) => Value::String(s.clone()),
            Yaml::Unsafe(s) => unsafe_value(s),
            Yaml::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Yaml::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.key_string(), v.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// A mapping key as the string Ansible ends up with (Python's `str()` of the key). An
    /// `!unsafe` key is its plain text: keys name variables and arguments.
    pub fn key_string(&self) -> String {
        match &self.value {
            Yaml::Str(s) | Yaml::Unsafe(s) => s.clone(),
            Yaml::Null => "None".to_string(),
            Yaml::Bool(true) => "True".to_string(),
            Yaml::Bool(false) => "False".to_string(),
            Yaml::Int(i) => i.to_string(),
            Yaml::Float(f) => crate::py::float_repr(*f),
            Yaml::Seq(_) | Yaml::Map(_) => {
                serde_json::to_string(&self.to_value()).unwrap_or_default()
            }
        }
    }
    /// The text of a string scalar; an `!unsafe` one gives its plain text (where a keyword is
    /// read as text, the mark has no meaning).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::Str(s) | Yaml::Unsafe(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Yaml::Seq(s) => Some(s),
            _ => None,
        }
    }
    /// The value under a string key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

/// Converts a whole mapping node to a [`Map`], or `None` if it is not a mapping.
pub fn to_map(node: &Node) -> Option<Map> {
    match node.to_value() {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// A float as JSON; infinities and NaN (which JSON cannot hold) become Python's spelling.
fn float_value(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None => Value::String(crate::py::float_repr(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(s: &str) -> Node {
        match load_str(s, "test.yml") {
            Ok(n) => n,
            Err(e) => panic!("load failed: {e}"),
        }
    }

    #[test]
    fn quoted_continuation_at_key_column_loads_as_pyyaml() {
        let n = load(
            "- debug:\n    msg: \"first part\n    second part\"\n  register: r\n- x: 'a\nb'\n",
        );
        assert_eq!(
            n.to_value(),
            json!([{"debug": {"msg": "first part second part"}, "register": "r"}, {"x": "a b"}])
        );
        let seq = n.as_seq().unwrap_or_default();
        assert_eq!(seq[0].get("register").map(|r| r.mark.line), Some(4));
    }

    #[test]
    fn quoted_continuation_after_a_lone_cr_loads_as_pyyaml() {
        // saphyr-parser ends a line at a lone CR too: the repair must re-indent the line after
        // it, or it repeats the same repair on an ever longer text (a fuzzer's 45 s timeout).
        let n = load("a:\n  m: \"one\rtwo\r\nthree\"\nb: 1\n");
        assert_eq!(n.to_value(), json!({"a": {"m": "one two three"}, "b": 1}));
    }

    #[test]
    fn quoted_scalar_repairs_stop_within_their_budget() {
        let count = 2000;
        let mut doc = String::from("m:\n");
        for i in 0..count {
            doc.push_str(&format!("  k{i}: \"a\n  b\"\n"));
        }
        let err = load_str(&doc, "t.yml")
            .err()
            .unwrap_or_else(|| panic!("{count} repairs should exceed the budget"));
        assert!(err.message.contains("past the repair budget"), "{err}");
        // Some were repaired before the budget ran out, not all of them.
        assert!(err.mark.line > 2 && err.mark.line < 2 * count, "{err}");
        // Below the budget, every scalar is repaired.
        let few: String = doc
            .lines()
            .take(1 + 2 * 20)
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(load(&few).to_value()["m"]["k19"], json!("a b"));
    }

    #[test]
    fn quoted_scalar_repair_does_not_blow_up_a_far_right_scalar() {
        // Re-indenting pads each continuation line to the quote's column: 1,000 columns times
        // 20,000 lines would make 40 kB of text 20 MB. The budget refuses it before building it.
        let lines = 20_000;
        let key = "k".repeat(1000);
        let doc = format!("m:\n  {key}: \"a{}\"\n", "\nb".repeat(lines));
        let err = load_str(&doc, "t.yml")
            .err()
            .unwrap_or_else(|| panic!("the wide scalar loaded"));
        assert!(err.message.contains("past the repair budget"), "{err}");
    }

    #[test]
    fn ansible_scalars_and_quoting() {
        let n = load("mode: 0644\nq: '0644'\nd: \"yes\"\nb: yes\non: off\nn: ~\ne:\nt: !!str 123\ni: !!int '0x10'\nblock: |\n  yes\n");
        assert_eq!(
            n.to_value(),
            json!({"mode": 420, "q": "0644", "d": "yes", "b": true, "True": false, "n": null, "e": null,
                   "t": "123", "i": 16, "block": "yes\n"})
        );
    }

    #[test]
    fn key_order_kept_and_duplicates_last_wins() {
        let n = load("z: 1\na: 2\nm: 3\na: 4\n");
        let keys: Vec<String> = n
            .to_value()
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["z", "a", "m"]);
        assert_eq!(n.to_value()["a"], json!(4));
    }

    #[test]
    fn int_keys_become_decimal_strings() {
        assert_eq!(
            load("1: a\n0x10: b\n").to_value(),
            json!({"1": "a", "16": "b"})
        );
    }

    #[test]
    fn marks_are_one_based() {
        let n = load("---\n- name: first\n  debug:\n    msg: hi\n");
        assert_eq!(n.mark, Mark { line: 2, col: 1 });
        let task = &n.as_seq().unwrap_or_default()[0];
        assert_eq!(task.mark, Mark { line: 2, col: 3 });
        let (key, value) = &task.as_map().unwrap_or_default()[1];
        assert_eq!(key.mark, Mark { line: 3, col: 3 });
        assert_eq!(
            value.get("msg").map(|m| m.mark),
            Some(Mark { line: 4, col: 10 })
        );
    }

    #[test]
    fn syntax_error_is_located() {
        let err = load_str("a: 1\nb: [1, 2\nc: 3\n", "play.yml").err();
        let err = err.unwrap_or_else(|| panic!("expected an error"));
        assert_eq!(err.file, "play.yml");
        assert!(err.mark.line >= 2, "{err}");
        assert!(
            err.message.starts_with("Syntax Error while loading YAML"),
            "{err}"
        );
        let err = load_str("a: 1\n  b: 2\n", "p.yml")
            .err()
            .unwrap_or_else(|| panic!("expected error"));
        assert_eq!((err.mark.line, err.mark.col), (2, 4), "{err}");
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = load("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b]\nmulti:\n  <<: [{k: 1}, {k: 2, j: 2}]\n");
        let v = n.to_value();
        assert_eq!(v["other"], json!({"x": 1, "y": 3}));
        assert_eq!(v["list"], json!([{"x": 1, "y": 2}]));
        assert_eq!(v["multi"], json!({"k": 1, "j": 2}));
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = load_str(&doc, "bomb.yml")
            .err()
            .unwrap_or_else(|| panic!("bomb loaded"));
        assert!(err.message.contains("alias bomb"), "{err}");
    }

    #[test]
    fn empty_and_multi_document() {
        assert_eq!(load("").value, Yaml::Null);
        assert_eq!(load("# only a comment\n").value, Yaml::Null);
        assert_eq!(load("--- 1\n--- 2\n").value, Yaml::Int(1));
    }

    fn load_err(s: &str) -> YamlError {
        load_str(s, "t.yml")
            .err()
            .unwrap_or_else(|| panic!("{s}: expected an error"))
    }

    #[test]
    fn unknown_tags_are_errors_as_with_pyyaml_safe_load() {
        let err = load_err("a: 1\nb: !foo x\n");
        assert_eq!(err.mark, Mark { line: 2, col: 4 });
        assert_eq!(
            err.message,
            "could not determine a constructor for the tag '!foo'"
        );
        let err = load_err("a: !!python/object:os.system [x]\n");
        assert!(
            err.message.contains("could not determine a constructor"),
            "{err}"
        );
        assert!(load_str("a: !foo {x: 1}\n", "t").is_err());
    }

    #[test]
    fn vault_values_are_refused_where_they_stand() {
        for doc in [
            "a: 1\nb: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3031\n",
            "a: 1\nb: !vault-encrypted |\n  $ANSIBLE_VAULT;1.1;AES256\n",
            "a: 1\nb: !vault {x: 1}\n",
        ] {
            let err = load_err(doc);
            assert_eq!((err.file.as_str(), err.mark.line), ("t.yml", 2), "{doc}");
            assert!(
                err.message
                    .contains("vault-encrypted values are not supported"),
                "{err}"
            );
        }
    }

    #[test]
    fn unsafe_scalar_is_kept_as_unresolved_text() {
        let n = load("a: !unsafe '{{ x }}'\nn: !unsafe 0644\nb: !unsafe yes\nplain: '{{ x }}'\n");
        assert_eq!(
            n.get("a").map(|a| &a.value),
            Some(&Yaml::Unsafe("{{ x }}".into()))
        );
        assert_eq!(n.get("a").and_then(Node::as_str), Some("{{ x }}"));
        let v = n.to_value();
        // Template syntax is marked for the templater; other unsafe text needs no mark.
        assert_eq!(v["a"], json!(format!("{UNSAFE_MARK}{{{{ x }}}}")));
        assert_eq!(v["a"].as_str().and_then(unsafe_text), Some("{{ x }}"));
        assert_eq!(v["n"], json!("0644"));
        assert_eq!(v["b"], json!("yes"));
        assert_eq!(v["plain"], json!("{{ x }}"));
        assert_eq!(v["plain"].as_str().and_then(unsafe_text), None);
    }

    #[test]
    fn unsafe_marks_every_kind_of_template_syntax() {
        let v = load(
            "- !unsafe '{% if x %}y{% endif %}'\n- !unsafe 'a {# c #}'\n- !unsafe 'a { b }'\n",
        )
        .to_value();
        assert!(v[0].as_str().and_then(unsafe_text).is_some());
        assert!(v[1].as_str().and_then(unsafe_text).is_some());
        assert_eq!(v[2], json!("a { b }"));
    }

    #[test]
    fn unsafe_values_in_a_list_or_mapping_keep_their_status() {
        let v =
            load("l: [!unsafe '{{ a }}', '{{ b }}']\nm: {x: !unsafe '{{ c }}', y: '{{ d }}'}\n")
                .to_value();
        let marked = |v: &Value| v.as_str().and_then(unsafe_text).is_some();
        assert!(marked(&v["l"][0]));
        assert!(!marked(&v["l"][1]));
        assert!(marked(&v["m"]["x"]));
        assert!(!marked(&v["m"]["y"]));
    }

    #[test]
    fn unsafe_collection_wraps_every_string_inside() {
        let n = load("x: !unsafe\n  - '{{ a }}'\n  - 3\n  - {'{{ k }}': '{{ v }}', n: true}\n");
        let x = n.get("x").unwrap_or_else(|| panic!("no x"));
        let items = x.as_seq().unwrap_or_default();
        assert_eq!(items[0].value, Yaml::Unsafe("{{ a }}".into()));
        assert_eq!(items[1].value, Yaml::Int(3));
        let entries = items[2].as_map().unwrap_or_default();
        assert_eq!(entries[0].0.value, Yaml::Unsafe("{{ k }}".into()));
        assert_eq!(entries[0].1.value, Yaml::Unsafe("{{ v }}".into()));
        assert_eq!(entries[1].1.value, Yaml::Bool(true));
        // Keys name things: they stay plain text in a Value.
        let v = n.to_value();
        assert!(v["x"][2]["{{ k }}"]
            .as_str()
            .and_then(unsafe_text)
            .is_some());
        let m = load("m: !unsafe {a: '{{ b }}'}\n").to_value();
        assert!(m["m"]["a"].as_str().and_then(unsafe_text).is_some());
    }

    #[test]
    fn marks_are_stripped_for_showing() {
        let mut v =
            load("a: [!unsafe '{{ x }}', {b: !unsafe '{% y %}'}]\nc: '{{ z }}'\n").to_value();
        let quoted = format!("check '{}' failed", v["a"][0].as_str().unwrap_or_default());
        v["msg"] = Value::String(quoted);
        strip_unsafe_marks(&mut v);
        assert_eq!(
            v,
            json!({"a": ["{{ x }}", {"b": "{% y %}"}], "c": "{{ z }}", "msg": "check '{{ x }}' failed"})
        );
    }

    #[test]
    fn unsafe_survives_anchors_and_aliases() {
        let v = load("a: &u !unsafe '{{ x }}'\nb: *u\n").to_value();
        assert!(v["b"].as_str().and_then(unsafe_text).is_some());
    }

    #[test]
    fn bom_and_crlf() {
        let n = load("\u{feff}a: 1\r\nb: |\r\n  x\r\n");
        assert_eq!(n.to_value(), json!({"a": 1, "b": "x\n"}));
    }

    #[test]
    fn unquoted_template_is_explained() {
        let err = load_str("key: {{ x }}\n", "t.yml")
            .err()
            .unwrap_or_else(|| panic!("no error"));
        assert_eq!(err.mark, Mark { line: 1, col: 7 });
        assert!(
            err.message.contains("always quote template expressions"),
            "{err}"
        );
    }

    #[test]
    fn load_file_reports_unreadable() {
        let err = load_file(Path::new("/nonexistent/x.yml"))
            .err()
            .unwrap_or_else(|| panic!("no error"));
        assert_eq!(err.mark, Mark::default());
        assert!(err
            .to_string()
            .starts_with("/nonexistent/x.yml:0:0: could not read file"));
    }
}
