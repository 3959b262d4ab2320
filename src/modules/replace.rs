//! `ansible.builtin.replace`: replaces every match of a regular expression in a file.
//!
//! Semantics (ansible-core 2.18 `modules/replace.py`):
//! - `path` (aliases `dest`, `destfile`, `name`) must exist (`Path P does not exist !`, rc 257)
//!   and not be a directory (`Path P is a directory !`, rc 256).
//! - `regexp` is a Python regular expression in MULTILINE mode (`^`/`$` at each line); every
//!   match is replaced by `replace` (default empty; `\1`, `\g<name>` expand groups).
//! - `after` / `before` limit the work to a section: the text after the first match of
//!   `after`, before the last match of `before` (both: the shortest text between them),
//!   matched in DOTALL mode. When the section's pattern does not match:
//!   `{changed: false, msg: "Pattern for before/after params did not match the given file:
//!   PATTERN"}`.
//! - Changed when the text differs: `msg: "N replacements made"`, written atomically through
//!   copy's transfer to the link's real path (`backup` → `backup_file`, `validate` with `%s`:
//!   `failed to validate: rc:N error:STDERR`), then `mode`/`owner`/`group` (`ownership, perms or
//!   SE linux context changed` is added to `msg`). Always `rc: 0` on success.
//! - `--diff` shows the whole text before and after. Check mode reports without writing.
//!
//! Two round trips when the file changes (read, then write), one when it does not. Regular
//! expressions are Rust's `regex`: Python-only syntax (lookarounds, backreferences inside the
//! pattern) fails with the compile error. Not supported: `encoding` other than UTF-8 (the file
//! is matched as bytes; a warning says so).

use super::argspec::{ArgSpec, Kind, Param};
use super::copy::{self, CopyArgs, Payload, Transfer};
use super::lineinfile::expand_captures;
use super::remote::{self, with_file_common};
use super::slurp::{read_remote_file, RemoteFile};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;
use regex::bytes::RegexBuilder;

pub struct Replace;

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        Param {
            required: true,
            aliases: &["dest", "destfile", "name"],
            ..Param::new("path", Kind::Path)
        },
        Param {
            required: true,
            ..Param::new("regexp", Kind::Str)
        },
        Param {
            default: Some(""),
            ..Param::new("replace", Kind::Str)
        },
        Param::new("after", Kind::Str),
        Param::new("before", Kind::Str),
        Param {
            default: Some("false"),
            ..Param::new("backup", Kind::Bool)
        },
        Param::new("validate", Kind::Str),
        Param {
            default: Some("utf-8"),
            ..Param::new("encoding", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReplaceArgs {
    pub path: String,
    pub regexp: String,
    #[serde(default)]
    pub replace: String,
    pub after: Option<String>,
    pub before: Option<String>,
    #[serde(default)]
    pub backup: bool,
    pub validate: Option<String>,
    pub encoding: Option<String>,
    #[serde(default)]
    pub mode: Value,
    pub owner: Option<String>,
    pub group: Option<String>,
}

#[async_trait]
impl Module for Replace {
    fn name(&self) -> &'static str {
        "replace"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.replace"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<ReplaceArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: ReplaceArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let mut result = run_replace(&args, ctx).await?;
        if args
            .encoding
            .as_deref()
            .is_some_and(|e| !matches!(e.to_lowercase().as_str(), "utf-8" | "utf8"))
        {
            result.insert(
                "warnings".into(),
                Value::Array(vec![Value::String(
                    "replace: 'encoding' is ignored: the file is matched as bytes (UTF-8)".into(),
                )]),
            );
        }
        remote::mark_diff_mode(&mut result, ctx);
        Ok(result)
    }
}

async fn run_replace(args: &ReplaceArgs, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
    let contents = match read_existing(ctx, &args.path).await? {
        Ok(contents) => contents,
        Err(failure) => return Ok(failure),
    };
    let edit = match substitute(&contents, args) {
        Ok(edit) => edit,
        Err(result) => return Ok(result),
    };
    let (new, count) = match edit {
        Some(edit) => edit,
        None => (contents.clone(), 0),
    };
    let changed = count > 0 && new != contents;
    let mut result = Map::new();
    result.insert("rc".into(), Value::from(0));
    let mut msg = if changed {
        format!("{count} replacements made")
    } else {
        String::new()
    };
    if changed && ctx.diff {
        result.insert("diff".into(), text_diff(&args.path, &contents, &new));
    }
    let attrs_requested = !args.mode.is_null() || args.owner.is_some() || args.group.is_some();
    let mut all_changed = changed;
    if changed || attrs_requested {
        let copy_args = CopyArgs {
            backup: args.backup,
            follow: true,
            validate: args.validate.clone(),
            mode: args.mode.clone(),
            owner: args.owner.clone(),
            group: args.group.clone(),
            report_attrs: true,
            ..CopyArgs::for_dest(args.path.clone())
        };
        let transfer = Transfer {
            dest: args.path.clone(),
            payload: Payload::Bytes(if changed { new } else { contents }),
            basename: None,
            local_mode: None,
            after_header: args.path.clone(),
        };
        let written = copy::transfer(&copy_args, transfer, ctx).await?;
        if written.get("failed") == Some(&Value::Bool(true)) {
            return Ok(validate_failure(written));
        }
        if let Some(backup) = written.get("backup_file") {
            result.insert("backup_file".into(), backup.clone());
        }
        let attrs_changed = if changed {
            written.get(copy::ATTRS_CHANGED_KEY) == Some(&Value::Bool(true))
        } else {
            written.get("changed") == Some(&Value::Bool(true))
        };
        if attrs_changed {
            all_changed = true;
            msg = attrs_message(&msg);
        }
    }
    result.insert("msg".into(), Value::String(msg));
    result.insert("changed".into(), Value::Bool(all_changed));
    Ok(result)
}

/// The file's bytes, or the module's failure for a missing path or a directory.
pub(crate) async fn read_existing(
    ctx: &ModuleContext<'_>,
    path: &str,
) -> Result<Result<Vec<u8>, Map>, ConnError> {
    let file: RemoteFile = match read_remote_file(ctx, path, None).await? {
        Ok(file) => file,
        Err(failure) => return Ok(Err(failure)),
    };
    let failed_rc = |rc: i64, msg: String| {
        let mut r = remote::failed(msg);
        r.insert("rc".into(), Value::from(rc));
        r
    };
    Ok(match file.records.get("kind") {
        Some("dir") => Err(failed_rc(256, format!("Path {path} is a directory !"))),
        Some("missing") => Err(failed_rc(257, format!("Path {path} does not exist !"))),
        Some("unreadable") => Err(remote::failed(format!(
            "Unable to read the contents of {path}: [Errno 13] Permission denied: '{}'",
            file.path
        ))),
        _ => match file.records.failure() {
            Some(failure) => Err(failure),
            None => Ok(file.content),
        },
    })
}

/// The new text and the number of replacements; `None` when the section pattern did not match
/// (then the module exits unchanged, with its message, as the `Err` result).
fn substitute(contents: &[u8], args: &ReplaceArgs) -> Result<Option<(Vec<u8>, usize)>, Map> {
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let section_pattern = match (non_empty(&args.after), non_empty(&args.before)) {
        (Some(a), Some(b)) => Some(format!("{a}(?P<subsection>.*?){b}")),
        (Some(a), None) => Some(format!("{a}(?P<subsection>.*)")),
        (None, Some(b)) => Some(format!("(?P<subsection>.*){b}")),
        (None, None) => None,
    };
    let (start, end) = match &section_pattern {
        None => (0, contents.len()),
        Some(pattern) => {
            let re = RegexBuilder::new(pattern)
                .dot_matches_new_line(true)
                .build()
                .map_err(|e| {
                    remote::failed(format!("Unable to process replace due to error: {e}"))
                })?;
            let Some(section) = re.captures(contents).and_then(|c| c.name("subsection")) else {
                let mut r = Map::new();
                r.insert("rc".into(), Value::from(0));
                r.insert(
                    "msg".into(),
                    Value::String(format!(
                        "Pattern for before/after params did not match the given file: {pattern}"
                    )),
                );
                r.insert("changed".into(), Value::Bool(false));
                return Err(r);
            };
            (section.start(), section.end())
        }
    };
    let re = RegexBuilder::new(&args.regexp)
        .multi_line(true)
        .build()
        .map_err(|e| remote::failed(format!("Unable to process replace due to error: {e}")))?;
    let section = &contents[start..end];
    let mut out = Vec::with_capacity(contents.len());
    out.extend_from_slice(&contents[..start]);
    let mut last = 0;
    let mut count = 0;
    for caps in re.captures_iter(section) {
        let whole = caps.get(0).expect("group 0 is the match");
        out.extend_from_slice(&section[last..whole.start()]);
        out.extend(expand_captures(&caps, args.replace.as_bytes()));
        last = whole.end();
        count += 1;
    }
    out.extend_from_slice(&section[last..]);
    out.extend_from_slice(&contents[end..]);
    Ok(Some((out, count)))
}

/// copy's validation failure in the words of replace, blockinfile and assemble.
pub(crate) fn validate_failure(written: Map) -> Map {
    if written.get("msg").and_then(Value::as_str) != Some("failed to validate") {
        return written;
    }
    let rc = written.get("exit_status").cloned().unwrap_or(Value::Null);
    let err = written
        .get("stderr")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    remote::failed(format!(
        "failed to validate: rc:{} error:{err}",
        crate::py::str(&rc)
    ))
}

fn attrs_message(msg: &str) -> String {
    const ATTRS: &str = "ownership, perms or SE linux context changed";
    if msg.is_empty() {
        ATTRS.to_string()
    } else {
        format!("{msg} and {ATTRS}")
    }
}

/// `{before_header, before, after_header, after}` of the whole text.
pub(crate) fn text_diff(path: &str, before: &[u8], after: &[u8]) -> Value {
    let mut d = Map::new();
    d.insert("before_header".into(), Value::String(path.into()));
    d.insert(
        "before".into(),
        Value::String(String::from_utf8_lossy(before).into()),
    );
    d.insert("after_header".into(), Value::String(path.into()));
    d.insert(
        "after".into(),
        Value::String(String::from_utf8_lossy(after).into()),
    );
    Value::Object(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, nasty_tempdir, run};
    use serde_json::json;

    fn file(text: &str) -> (tempfile::TempDir, String) {
        let (dir, path) = nasty_tempdir();
        let file = format!("{path}/conf");
        std::fs::write(&file, text).unwrap();
        (dir, file)
    }

    #[tokio::test]
    async fn replaces_every_match_with_groups_then_is_idempotent() {
        let (_dir, path) = file("a = 1\nb = 2\na = 3\n");
        let args = json!({"path": path, "regexp": "^a = (\\d)$", "replace": "a: \\1"});
        let result = run(&Replace, args.clone()).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["msg"], "2 replacements made");
        assert_eq!(result["rc"], 0);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a: 1\nb = 2\na: 3\n"
        );
        let again = run(&Replace, args).await;
        assert_eq!(again["changed"], false);
        assert_eq!(again["msg"], "");
    }

    #[tokio::test]
    async fn after_and_before_bound_the_section() {
        let (_dir, path) = file("x\n[s]\nx\n[t]\nx\n");
        let result = run(
            &Replace,
            json!({"path": path, "regexp": "^x$", "replace": "y", "after": "\\[s\\]", "before": "\\[t\\]"}),
        )
        .await;
        assert_eq!(result["msg"], "1 replacements made", "{result:?}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "x\n[s]\ny\n[t]\nx\n"
        );
        let result = run(
            &Replace,
            json!({"path": path, "regexp": "x", "after": "nomatch"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "Pattern for before/after params did not match the given file: nomatch(?P<subsection>.*)"
        );
        assert_eq!(result["changed"], false);
    }

    #[tokio::test]
    async fn check_mode_and_missing_files() {
        let (_dir, path) = file("a\n");
        let result = check(
            &Replace,
            json!({"path": path, "regexp": "a", "replace": "b"}),
        )
        .await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n");
        let missing = format!("{path}.nope");
        let result = run(&Replace, json!({"path": missing, "regexp": "a"})).await;
        assert_eq!(result["rc"], 257);
        assert_eq!(result["msg"], format!("Path {missing} does not exist !"));
    }

    #[tokio::test]
    async fn validation_failures_use_the_modules_wording() {
        let (_dir, path) = file("a\n");
        let result = run(
            &Replace,
            json!({"path": path, "regexp": "a", "replace": "b", "validate": "sh -c 'echo bad >&2; exit 3' -- %s"}),
        )
        .await;
        assert_eq!(
            result["msg"], "failed to validate: rc:3 error:bad\n",
            "{result:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n");
    }
}
