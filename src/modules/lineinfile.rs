//! `ansible.builtin.lineinfile`: makes sure one line is in a file (or that no line matching is).
//!
//! Semantics (ansible-core 2.18 module `lineinfile.py`, reference §1.9):
//! - `path` (aliases `dest`, `destfile`, `name`), `state` present/absent, `regexp` (alias
//!   `regex`, Python `re.search` per line), `search_string` (a literal substring), `line`
//!   (alias `value`), `insertafter`/`insertbefore` (a regex, or `EOF`/`BOF`), `backrefs`,
//!   `create`, `backup`, `firstmatch`, `validate`, and the file attributes (`mode`, `owner`,
//!   `group`).
//! - present: the last line matching `regexp`/`search_string` (the first with `firstmatch`)
//!   is replaced by `line` when it differs (`line replaced`); with no match, an identical line
//!   leaves the file alone; otherwise `line` is inserted after/before the last (or first)
//!   anchor match, or at BOF/EOF (`line added`), not when the neighbouring line already equals
//!   it. With `backrefs`, `line` is expanded with the match's groups (`\1`, `\g<name>`) and a
//!   file without a match is left alone. A newline is added to an unterminated last line
//!   before appending.
//! - absent: every line matching (regexp, search string, or equal to `line`) is removed
//!   (`N line(s) removed`), and the result carries `found: N`.
//! - A missing file: present fails with rc 257 `Destination P does not exist !` unless
//!   `create` (its parent directories are made); absent reports `file not present`. A
//!   directory fails with rc 256 `Path P is a directory !`.
//! - Attribute changes add `ownership, perms or SE linux context changed` to `msg`.
//! - Result: `changed`, `msg`, `backup` (the backup file or ''), `diff` (content before/after
//!   with `--diff`, then the attribute diff), `found` for absent. Check mode reports without
//!   writing. An empty `regexp`/`search_string` warns as Ansible does.
//!
//! Two round trips: one reads the file (base64, so any byte survives), the new content is
//! computed here, and copy's [`copy::transfer`] writes it (atomic replace of the real path,
//! `backup`, `validate`, attributes). The write is skipped when nothing can change.
//! Regular expressions are Rust's `regex` (bytes): Python-only syntax such as lookarounds or
//! backreferences inside the pattern is refused with the compile error.

use super::argspec::{ArgSpec, Kind, Param};
use super::copy::{self, CopyArgs, Payload, Transfer};
use super::remote::{self, with_file_common};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::path_word;
use crate::{Map, Value};
use async_trait::async_trait;
use base64::Engine as _;
use regex::bytes::Regex;

pub struct LineInFile;

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        Param {
            required: true,
            aliases: &["dest", "destfile", "name"],
            ..Param::new("path", Kind::Path)
        },
        Param {
            default: Some("present"),
            choices: &["absent", "present"],
            ..Param::new("state", Kind::Str)
        },
        Param {
            aliases: &["regex"],
            ..Param::new("regexp", Kind::Str)
        },
        Param::new("search_string", Kind::Str),
        Param {
            aliases: &["value"],
            ..Param::new("line", Kind::Str)
        },
        Param::new("insertafter", Kind::Str),
        Param::new("insertbefore", Kind::Str),
        Param {
            default: Some("false"),
            ..Param::new("backrefs", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("create", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("backup", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("firstmatch", Kind::Bool)
        },
        Param::new("validate", Kind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[
        &["insertbefore", "insertafter"],
        &["regexp", "search_string"],
        &["backrefs", "search_string"],
    ],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
struct Args {
    path: String,
    state: String,
    regexp: Option<String>,
    search_string: Option<String>,
    line: Option<String>,
    insertafter: Option<String>,
    insertbefore: Option<String>,
    #[serde(default)]
    backrefs: bool,
    #[serde(default)]
    create: bool,
    #[serde(default)]
    backup: bool,
    #[serde(default)]
    firstmatch: bool,
    validate: Option<String>,
    #[serde(default)]
    mode: Value,
    owner: Option<String>,
    group: Option<String>,
}

#[async_trait]
impl Module for LineInFile {
    fn name(&self) -> &'static str {
        "lineinfile"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.lineinfile"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<Args>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: Args = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let mut result = run_lineinfile(&args, ctx).await?;
        if let Some(warning) = empty_pattern_warning(&args) {
            result.insert(
                "warnings".into(),
                Value::Array(vec![Value::String(warning)]),
            );
        }
        remote::mark_diff_mode(&mut result, ctx);
        Ok(result)
    }
}

/// What the read step found at `path`.
enum Current {
    Missing,
    Directory,
    File(Vec<u8>),
}

async fn run_lineinfile(args: &Args, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
    if let Some(failure) = check_args(args) {
        return Ok(failure);
    }
    let present = args.state == "present";
    let make_parent = present && args.create && !ctx.check_mode;
    let current = match read_current(&args.path, make_parent, ctx).await? {
        Ok(current) => current,
        Err(failure) => return Ok(failure),
    };
    let before = match current {
        Current::Directory => {
            return Ok(failed_rc(
                256,
                format!("Path {} is a directory !", args.path),
            ))
        }
        Current::Missing if !present => {
            let mut r = Map::new();
            r.insert("changed".into(), Value::Bool(false));
            r.insert("msg".into(), Value::String("file not present".into()));
            return Ok(r);
        }
        Current::Missing if !args.create => {
            return Ok(failed_rc(
                257,
                format!("Destination {} does not exist !", args.path),
            ))
        }
        Current::Missing => None,
        Current::File(bytes) => Some(bytes),
    };
    let lines = split_lines(before.as_deref().unwrap_or_default());
    let edit = if present {
        match present_edit(lines, args) {
            Ok(edit) => edit,
            Err(msg) => return Ok(remote::failed(msg)),
        }
    } else {
        match absent_edit(lines, args) {
            Ok(edit) => edit,
            Err(msg) => return Ok(remote::failed(msg)),
        }
    };
    let new_content = edit.lines.concat();
    let content_diff = content_diff(&args.path, before.as_deref(), &new_content, ctx.diff);
    let attrs_requested = !args.mode.is_null() || args.owner.is_some() || args.group.is_some();
    let exists = before.is_some();
    let mut msg = edit.msg.clone();
    let mut changed = edit.changed;
    let mut backup = String::new();
    let mut attr_diff = Map::new();
    if !exists && ctx.check_mode {
        // Ansible leaves before the attribute check when the file does not exist yet.
        return Ok(result(changed, msg, backup, vec![content_diff], edit.found));
    }
    if edit.changed || (exists && attrs_requested) {
        let written = write(args, new_content, ctx).await?;
        if written.get("failed") == Some(&Value::Bool(true)) {
            return Ok(written);
        }
        if let Some(b) = written.get("backup_file").and_then(Value::as_str) {
            backup = b.to_string();
        }
        let transfer_changed = written.get("changed") == Some(&Value::Bool(true));
        if transfer_changed && !edit.changed {
            changed = true;
            msg = attrs_message(&msg);
        }
        if let Some(Value::Object(diff)) = written.get("diff") {
            for side in ["before", "after"] {
                // copy's attribute diff names the path; lineinfile's only the attributes.
                if let Some(Value::Object(attrs)) = diff.get(side) {
                    let mut attrs = attrs.clone();
                    attrs.remove("path");
                    attr_diff.insert(side.into(), Value::Object(attrs));
                }
            }
        }
    }
    attr_diff.insert(
        "before_header".into(),
        Value::String(format!("{} (file attributes)", args.path)),
    );
    attr_diff.insert(
        "after_header".into(),
        Value::String(format!("{} (file attributes)", args.path)),
    );
    Ok(result(
        changed,
        msg,
        backup,
        vec![content_diff, Value::Object(attr_diff)],
        edit.found,
    ))
}

fn result(
    changed: bool,
    msg: String,
    backup: String,
    diff: Vec<Value>,
    found: Option<usize>,
) -> Map {
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(changed));
    if let Some(found) = found {
        r.insert("found".into(), Value::from(found));
    }
    r.insert("msg".into(), Value::String(msg));
    r.insert("backup".into(), Value::String(backup));
    r.insert("diff".into(), Value::Array(diff));
    r
}

/// The argument rules Ansible checks after its spec.
fn check_args(args: &Args) -> Option<Map> {
    if args.state == "present" {
        if args.backrefs && args.regexp.is_none() {
            return Some(remote::failed("regexp is required with backrefs=true"));
        }
        if args.line.is_none() {
            return Some(remote::failed("line is required with state=present"));
        }
    } else if args.regexp.is_none() && args.search_string.is_none() && args.line.is_none() {
        return Some(remote::failed(
            "one of line, search_string, or regexp is required with state=absent",
        ));
    }
    None
}

fn empty_pattern_warning(args: &Args) -> Option<String> {
    let (name, extra) = if args.regexp.as_deref() == Some("") {
        (
            "regular expression",
            " If this is desired, use '^' to match every line in the file and avoid this warning.",
        )
    } else if args.search_string.as_deref() == Some("") {
        ("search string", "")
    } else {
        return None;
    };
    Some(format!(
        "The {name} is an empty string, which will match every line in the file. This may have \
         unintended consequences, such as replacing the last line in the file rather than appending.{extra}"
    ))
}

fn failed_rc(rc: i64, msg: String) -> Map {
    let mut r = remote::failed(msg);
    r.insert("rc".into(), Value::from(rc));
    r
}

fn attrs_message(msg: &str) -> String {
    const ATTRS: &str = "ownership, perms or SE linux context changed";
    if msg.is_empty() {
        ATTRS.to_string()
    } else {
        format!("{msg} and {ATTRS}")
    }
}

/// Round trip 1: the file's bytes (base64), or that it is missing or a directory; makes the
/// parent directories first when asked (`create` outside check mode).
async fn read_current(
    path: &str,
    make_parent: bool,
    ctx: &ModuleContext<'_>,
) -> Result<Result<Current, Map>, ConnError> {
    let script = format!(
        r#"P={}
MKPARENT={}
if [ -d "$P" ]; then emit kind dir; exit 0; fi
if [ -e "$P" ]; then
  [ -r "$P" ] || die "Permission denied: $P"
  emit kind file; printf 'data='; base64 -w0 <"$P" || die "cannot read $P"; printf '\0'
  exit 0
fi
emit kind missing
_d=$(dirname -- "$P")
if [ "$MKPARENT" = 1 ] && [ ! -e "$_d" ]; then
  _e=$(mkdir -p -- "$_d" 2>&1) || die "Error creating $_d ($_e)"
fi
"#,
        path_word(path),
        u8::from(make_parent)
    );
    let records = match remote::run_script(ctx, &script, None).await? {
        Ok(records) => records,
        Err(failure) => return Ok(Err(failure)),
    };
    if let Some(failure) = records.failure() {
        return Ok(Err(failure));
    }
    Ok(Ok(match records.get("kind") {
        Some("dir") => Current::Directory,
        Some("file") => {
            let data = records.get("data").unwrap_or("");
            match base64::engine::general_purpose::STANDARD.decode(data.trim()) {
                Ok(bytes) => Current::File(bytes),
                Err(e) => return Ok(Err(remote::failed(format!("cannot read {path}: {e}")))),
            }
        }
        _ => Current::Missing,
    }))
}

/// Round trip 2: the new content through copy's transfer (atomic, backup, validate, attrs).
async fn write(args: &Args, content: Vec<u8>, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
    let mut copy_args = CopyArgs::for_dest(args.path.clone());
    copy_args.backup = args.backup;
    copy_args.follow = true;
    copy_args.validate = args.validate.clone();
    copy_args.mode = args.mode.clone();
    copy_args.owner = args.owner.clone();
    copy_args.group = args.group.clone();
    let transfer = Transfer {
        dest: args.path.clone(),
        payload: Payload::Bytes(content),
        basename: None,
        local_mode: None,
        after_header: args.path.clone(),
    };
    copy::transfer(&copy_args, transfer, ctx).await
}

fn content_diff(path: &str, before: Option<&[u8]>, after: &[u8], diff: bool) -> Value {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut d = Map::new();
    let (b, a) = if diff {
        (text(before.unwrap_or_default()), text(after))
    } else {
        (String::new(), String::new())
    };
    d.insert("before".into(), Value::String(b));
    d.insert("after".into(), Value::String(a));
    d.insert(
        "before_header".into(),
        Value::String(format!("{path} (content)")),
    );
    d.insert(
        "after_header".into(),
        Value::String(format!("{path} (content)")),
    );
    Value::Object(d)
}

/// Lines with their endings, as Python's `readlines()` on bytes (split after `\n`).
fn split_lines(data: &[u8]) -> Vec<Vec<u8>> {
    data.split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn strip_eol(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    &line[..end]
}

/// The edited lines, the message, whether they changed, and `found` (absent only).
#[derive(Debug)]
struct Edit {
    lines: Vec<Vec<u8>>,
    msg: String,
    changed: bool,
    found: Option<usize>,
}

/// The text a pattern is searched in: the line without its final `\n`, so that `$` matches
/// before it as Python's `$` does (Rust's `$` only matches at the very end).
fn subject(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// `state: present` (see the module doc for the rules).
fn present_edit(mut lines: Vec<Vec<u8>>, args: &Args) -> Result<Edit, String> {
    let line = args.line.clone().unwrap_or_default().into_bytes();
    let regexp = args.regexp.as_deref().map(compile).transpose()?;
    let after = args.insertafter.as_deref();
    let before = args.insertbefore.as_deref();
    let anchor = match (after, before) {
        (Some(a), _) if a != "BOF" && a != "EOF" => Some(compile(a)?),
        (None, Some(b)) if b != "BOF" => Some(compile(b)?),
        _ => None,
    };
    // index.0: the line to replace (or the identical line); index.1: where to insert.
    let mut target: Option<usize> = None;
    let mut insert_at: Option<usize> = None;
    let mut matched: Option<usize> = None;
    if let Some(re) = &regexp {
        for (n, l) in lines.iter().enumerate() {
            if re.is_match(subject(l)) {
                target = Some(n);
                matched = Some(n);
                if args.firstmatch {
                    break;
                }
            }
        }
    }
    if let Some(needle) = &args.search_string {
        for (n, l) in lines.iter().enumerate() {
            if contains(l, needle.as_bytes()) {
                target = Some(n);
                matched = Some(n);
                if args.firstmatch {
                    break;
                }
            }
        }
    }
    let mut exact = false;
    if matched.is_none() {
        for (n, l) in lines.iter().enumerate() {
            if strip_eol(l) == line.as_slice() {
                target = Some(n);
                exact = true;
            } else if anchor.as_ref().is_some_and(|re| re.is_match(subject(l))) {
                insert_at = Some(if after.is_some() { n + 1 } else { n });
                if args.firstmatch {
                    break;
                }
            }
        }
    }
    let mut with_eol = line.clone();
    with_eol.push(b'\n');
    let mut msg = "";
    let add = |lines: &mut Vec<Vec<u8>>, at: usize| {
        lines.insert(at.min(lines.len()), with_eol.clone());
    };
    if let Some(index) = target {
        let new_line = match (args.backrefs, matched, &regexp) {
            (true, Some(m), Some(re)) => expand_backrefs(re, &lines[m], &line),
            _ => line.clone(),
        };
        let mut new_line = new_line;
        if !new_line.ends_with(b"\n") {
            new_line.push(b'\n');
        }
        let no_pattern = args.regexp.is_none() && args.search_string.is_none() && matched.is_none();
        if no_pattern && !exact {
            // Unreachable in practice (an index without a pattern is an exact line); kept
            // for parity with Ansible's insert-relative-to-anchor branch.
            if let Some(at) = insert_at {
                add(&mut lines, at);
                msg = "line added";
            }
        } else if lines[index] != new_line {
            lines[index] = new_line;
            msg = "line replaced";
        }
    } else if args.backrefs {
        // No match: generating the line without its groups is not safe.
    } else if before == Some("BOF") || after == Some("BOF") {
        add(&mut lines, 0);
        msg = "line added";
    } else if after == Some("EOF") || insert_at.is_none() {
        if lines
            .last()
            .is_some_and(|l| !l.ends_with(b"\n") && !l.ends_with(b"\r"))
        {
            lines.push(b"\n".to_vec());
        }
        lines.push(with_eol.clone());
        msg = "line added";
    } else if let (Some(_), Some(at)) = (after, insert_at) {
        if at == lines.len() {
            if at == 0 || strip_eol(&lines[at - 1]) != line.as_slice() {
                lines.push(with_eol.clone());
                msg = "line added";
            }
        } else if strip_eol(&lines[at]) != line.as_slice() {
            add(&mut lines, at);
            msg = "line added";
        }
    } else if let Some(at) = insert_at {
        add(&mut lines, at);
        msg = "line added";
    }
    Ok(Edit {
        changed: !msg.is_empty(),
        msg: msg.to_string(),
        lines,
        found: None,
    })
}

/// `state: absent`: drops every matching line.
fn absent_edit(lines: Vec<Vec<u8>>, args: &Args) -> Result<Edit, String> {
    let regexp = args.regexp.as_deref().map(compile).transpose()?;
    let line = args.line.clone().unwrap_or_default().into_bytes();
    let matches = |l: &[u8]| match (&regexp, &args.search_string) {
        (Some(re), _) => re.is_match(subject(l)),
        (None, Some(s)) => contains(l, s.as_bytes()),
        (None, None) => strip_eol(l) == line.as_slice(),
    };
    let before = lines.len();
    let kept: Vec<Vec<u8>> = lines.into_iter().filter(|l| !matches(l)).collect();
    let found = before - kept.len();
    Ok(Edit {
        changed: found > 0,
        msg: if found > 0 {
            format!("{found} line(s) removed")
        } else {
            String::new()
        },
        lines: kept,
        found: Some(found),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Python's `match.expand(template)`: `\1`..`\99`, `\g<n>`/`\g<name>`, and the escapes
/// `\n`, `\t`, `\r`, `\\`; other text as is.
fn expand_backrefs(re: &Regex, subject: &[u8], template: &[u8]) -> Vec<u8> {
    let Some(caps) = re.captures(self::subject(subject)) else {
        return template.to_vec();
    };
    let group = |name: &str| -> Vec<u8> {
        let m = match name.parse::<usize>() {
            Ok(n) => caps.get(n),
            Err(_) => caps.name(name),
        };
        m.map(|m| m.as_bytes().to_vec()).unwrap_or_default()
    };
    let mut out = Vec::with_capacity(template.len());
    let mut i = 0;
    while i < template.len() {
        let c = template[i];
        if c != b'\\' || i + 1 >= template.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = template[i + 1];
        match next {
            b'0'..=b'9' => {
                let mut end = i + 2;
                if end < template.len() && template[end].is_ascii_digit() {
                    end += 1;
                }
                let name = String::from_utf8_lossy(&template[i + 1..end]).into_owned();
                out.extend(group(&name));
                i = end;
            }
            b'g' if template.get(i + 2) == Some(&b'<') => {
                let close = template[i + 3..].iter().position(|b| *b == b'>');
                match close {
                    Some(len) => {
                        let name =
                            String::from_utf8_lossy(&template[i + 3..i + 3 + len]).into_owned();
                        out.extend(group(&name));
                        i += 4 + len;
                    }
                    None => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            b'n' => {
                out.push(b'\n');
                i += 2;
            }
            b't' => {
                out.push(b'\t');
                i += 2;
            }
            b'r' => {
                out.push(b'\r');
                i += 2;
            }
            b'\\' => {
                out.push(b'\\');
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{nasty_tempdir, run_with, Options};
    use serde_json::json;

    fn args(v: Value) -> Args {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.entry("path").or_insert(json!("/f"));
        m.entry("state").or_insert(json!("present"));
        serde_json::from_value(Value::Object(m)).unwrap()
    }

    fn edit(text: &str, v: Value) -> (String, String) {
        let e = present_edit(split_lines(text.as_bytes()), &args(v)).unwrap();
        (String::from_utf8(e.lines.concat()).unwrap(), e.msg)
    }

    #[test]
    fn regexp_replaces_the_last_match_or_the_first_with_firstmatch() {
        let text = "a=1\nb=2\na=3\n";
        assert_eq!(
            edit(text, json!({"regexp": "^a=", "line": "a=9"})),
            ("a=1\nb=2\na=9\n".into(), "line replaced".into())
        );
        assert_eq!(
            edit(
                text,
                json!({"regexp": "^a=", "line": "a=9", "firstmatch": true})
            )
            .0,
            "a=9\nb=2\na=3\n"
        );
        assert_eq!(
            edit(text, json!({"regexp": "^b=", "line": "b=2"})),
            (text.into(), String::new()),
            "an identical replacement is no change"
        );
    }

    #[test]
    fn an_identical_line_stops_insertion_and_missing_lines_go_to_eof() {
        assert_eq!(
            edit("x\ny\n", json!({"line": "x"})),
            ("x\ny\n".into(), String::new())
        );
        assert_eq!(
            edit("x\ny", json!({"line": "z"})),
            ("x\ny\nz\n".into(), "line added".into()),
            "an unterminated last line gets its newline first"
        );
        assert_eq!(edit("", json!({"line": "z"})).0, "z\n");
        assert_eq!(
            edit("x\ny\n", json!({"regexp": "^q", "line": "y"})).1,
            "",
            "no regexp match, but the line is there"
        );
    }

    #[test]
    fn insert_after_and_before_anchors() {
        let text = "[a]\nk=1\n[b]\nk=2\n";
        assert_eq!(
            edit(text, json!({"line": "n=1", "insertafter": "^\\[a\\]"})).0,
            "[a]\nn=1\nk=1\n[b]\nk=2\n"
        );
        assert_eq!(
            edit(text, json!({"line": "n=1", "insertbefore": "^\\["})).0,
            "[a]\nk=1\nn=1\n[b]\nk=2\n",
            "the last anchor match wins"
        );
        assert_eq!(
            edit(
                text,
                json!({"line": "n=1", "insertbefore": "^\\[", "firstmatch": true})
            )
            .0,
            "n=1\n[a]\nk=1\n[b]\nk=2\n"
        );
        assert_eq!(
            edit(text, json!({"line": "n=1", "insertbefore": "BOF"})).0,
            format!("n=1\n{text}")
        );
        assert_eq!(
            edit(text, json!({"line": "n=1", "insertafter": "^nomatch"})).0,
            format!("{text}n=1\n"),
            "an anchor that matches nothing appends"
        );
        assert_eq!(
            edit(
                "[a]\nn=1\n",
                json!({"line": "n=1", "insertafter": "^\\[a\\]"})
            )
            .1,
            "",
            "the neighbouring line already equals it"
        );
    }

    #[test]
    fn backrefs_expand_groups_and_leave_a_file_without_match_alone() {
        assert_eq!(
            edit(
                "port=80\n",
                json!({"regexp": "^port=(\\d+)$", "line": "port=\\1\\g<1>0", "backrefs": true})
            )
            .0,
            "port=80800\n"
        );
        assert_eq!(
            edit(
                "x\n",
                json!({"regexp": "^port=", "line": "port=1", "backrefs": true})
            ),
            ("x\n".into(), String::new())
        );
    }

    #[test]
    fn absent_removes_every_match_and_counts_them() {
        let e = absent_edit(
            split_lines(b"a\nb\na\n"),
            &args(json!({"state": "absent", "line": "a"})),
        )
        .unwrap();
        assert_eq!(e.lines.concat(), b"b\n");
        assert_eq!(e.msg, "2 line(s) removed");
        assert_eq!(e.found, Some(2));
        let e = absent_edit(
            split_lines(b"a=1\nb\n"),
            &args(json!({"state": "absent", "search_string": "=1"})),
        )
        .unwrap();
        assert_eq!(e.lines.concat(), b"b\n");
    }

    #[tokio::test]
    async fn on_a_real_file_with_create_and_idempotence() {
        let (dir, path) = nasty_tempdir();
        let file = format!("{path}/sub/汉语.txt");
        let a = json!({"path": file, "line": "汉语", "create": true, "mode": "0640"});
        let r = run_with(&LineInFile, a.clone(), Options::default()).await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        assert_eq!(r["msg"], json!("line added"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/汉语.txt")).unwrap(),
            "汉语\n"
        );
        let r = run_with(&LineInFile, a, Options::default()).await;
        assert_eq!(r["changed"], json!(false), "{r:?}");
        let r = run_with(
            &LineInFile,
            json!({"path": file, "line": "汉语", "mode": "0600"}),
            Options::default(),
        )
        .await;
        assert_eq!(
            r["msg"],
            json!("ownership, perms or SE linux context changed")
        );
        let r = run_with(
            &LineInFile,
            json!({"path": file, "state": "absent", "regexp": "^汉"}),
            Options::default(),
        )
        .await;
        assert_eq!(r["found"], json!(1));
        assert_eq!(std::fs::read(dir.path().join("sub/汉语.txt")).unwrap(), b"");
    }

    #[tokio::test]
    async fn missing_files_and_directories_fail_as_ansible() {
        let (_dir, path) = nasty_tempdir();
        let r = run_with(
            &LineInFile,
            json!({"path": format!("{path}/none"), "line": "x"}),
            Options::default(),
        )
        .await;
        assert_eq!(r["rc"], json!(257));
        assert_eq!(
            r["msg"],
            json!(format!("Destination {path}/none does not exist !"))
        );
        let r = run_with(
            &LineInFile,
            json!({"path": path, "line": "x"}),
            Options::default(),
        )
        .await;
        assert_eq!(r["rc"], json!(256));
        let r = run_with(
            &LineInFile,
            json!({"path": format!("{path}/none"), "state": "absent", "line": "x"}),
            Options::default(),
        )
        .await;
        assert_eq!(
            Value::Object(r),
            json!({"changed": false, "msg": "file not present"})
        );
    }

    #[tokio::test]
    async fn check_mode_writes_nothing() {
        let (dir, path) = nasty_tempdir();
        std::fs::write(dir.path().join("f"), "a\n").unwrap();
        let r = run_with(
            &LineInFile,
            json!({"path": format!("{path}/f"), "line": "b"}),
            Options {
                check: true,
                diff: true,
                ..Options::default()
            },
        )
        .await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        assert_eq!(r["diff"][0]["after"], json!("a\nb\n"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("f")).unwrap(),
            "a\n"
        );
    }
}
