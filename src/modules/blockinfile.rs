//! `ansible.builtin.blockinfile`: inserts, updates or removes a block of lines between markers.
//!
//! Semantics (ansible-core 2.18 `modules/blockinfile.py`):
//! - The block is framed by `marker` with `{mark}` replaced by `marker_begin` (`BEGIN`) and
//!   `marker_end` (`END`): `# BEGIN ANSIBLE MANAGED BLOCK` ... `# END ANSIBLE MANAGED BLOCK`.
//!   `block` (alias `content`) gets a final newline when it lacks one.
//! - When both markers are in the file (the last line equal to each), the lines between them
//!   (markers included) are replaced by the new block. Otherwise the block goes after the last
//!   line matching `insertafter` (default `EOF`) or before the last line matching
//!   `insertbefore` (`BOF`: at the start); a pattern with the `(?m)` flag is searched in the
//!   whole file instead; without a match, at the end. `prepend_newline`/`append_newline` add a
//!   blank line around the block when its neighbours are not blank.
//! - `state: absent` (or an empty block) removes the framed block. A missing file fails
//!   (`Path P does not exist !`, rc 257) unless `create` (parent directories are made), or,
//!   for absent, `File P not present` unchanged. A directory: `Path P is a directory !` (rc 256).
//! - `msg`: `Block inserted`, `Block removed`, `File created`, or empty when unchanged; attribute
//!   changes add `ownership, perms or SE linux context changed`. `backup` → `backup_file`,
//!   `validate` (`failed to validate: rc:N error:STDERR`). The `diff` is a list of the content
//!   diff (`P (content)`, texts with `--diff`) and the attribute diff; in check mode on a
//!   missing file only the content diff. Check mode reports without writing.
//!
//! Reads with slurp's one round trip, writes through copy's transfer (atomic, to the link's
//! real path). Patterns are Rust's `regex` (see `replace`).

use super::argspec::{ArgSpec, Kind, Param};
use super::copy::{self, CopyArgs, Payload, Transfer};
use super::remote::{self, with_file_common};
use super::replace::validate_failure;
use super::slurp::read_remote_file;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::path_word;
use crate::{Map, Value};
use async_trait::async_trait;
use regex::bytes::Regex;

pub struct BlockInFile;

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
            default: Some("# {mark} ANSIBLE MANAGED BLOCK"),
            ..Param::new("marker", Kind::Str)
        },
        Param {
            aliases: &["content"],
            default: Some(""),
            ..Param::new("block", Kind::Str)
        },
        Param::new("insertafter", Kind::Str),
        Param::new("insertbefore", Kind::Str),
        Param {
            default: Some("false"),
            ..Param::new("create", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("backup", Kind::Bool)
        },
        Param::new("validate", Kind::Str),
        Param {
            default: Some("BEGIN"),
            ..Param::new("marker_begin", Kind::Str)
        },
        Param {
            default: Some("END"),
            ..Param::new("marker_end", Kind::Str)
        },
        Param {
            default: Some("false"),
            ..Param::new("append_newline", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("prepend_newline", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[&["insertbefore", "insertafter"]],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct BlockArgs {
    pub path: String,
    #[serde(default = "present")]
    pub state: String,
    #[serde(default = "default_marker")]
    pub marker: String,
    #[serde(default)]
    pub block: String,
    pub insertafter: Option<String>,
    pub insertbefore: Option<String>,
    #[serde(default)]
    pub create: bool,
    #[serde(default)]
    pub backup: bool,
    pub validate: Option<String>,
    #[serde(default = "begin")]
    pub marker_begin: String,
    #[serde(default = "end")]
    pub marker_end: String,
    #[serde(default)]
    pub append_newline: bool,
    #[serde(default)]
    pub prepend_newline: bool,
    #[serde(default)]
    pub mode: Value,
    pub owner: Option<String>,
    pub group: Option<String>,
}

fn present() -> String {
    "present".into()
}
fn default_marker() -> String {
    "# {mark} ANSIBLE MANAGED BLOCK".into()
}
fn begin() -> String {
    "BEGIN".into()
}
fn end() -> String {
    "END".into()
}

#[async_trait]
impl Module for BlockInFile {
    fn name(&self) -> &'static str {
        "blockinfile"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.blockinfile"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<BlockArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: BlockArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let mut result = run_blockinfile(&args, ctx).await?;
        remote::mark_diff_mode(&mut result, ctx);
        Ok(result)
    }
}

async fn run_blockinfile(args: &BlockArgs, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
    let file = match read_remote_file(ctx, &args.path, None).await? {
        Ok(file) => file,
        Err(failure) => return Ok(failure),
    };
    let path = &args.path;
    let present = args.state == "present";
    let original = match file.records.get("kind") {
        Some("dir") => return Ok(failed_rc(256, format!("Path {path} is a directory !"))),
        Some("missing") if !args.create => {
            return Ok(failed_rc(257, format!("Path {path} does not exist !")))
        }
        Some("missing") => None,
        _ => match file.records.failure() {
            Some(failure) => return Ok(failure),
            None => Some(file.content),
        },
    };
    if original.is_none() && !ctx.check_mode {
        if let Some(failure) = make_parent(ctx, path).await? {
            return Ok(failure);
        }
    }
    let mut diff = Map::new();
    let text = |b: &[u8]| Value::String(String::from_utf8_lossy(b).into_owned());
    diff.insert(
        "before".into(),
        match (&original, ctx.diff) {
            (Some(o), true) => text(o),
            _ => Value::String(String::new()),
        },
    );
    diff.insert("after".into(), Value::String(String::new()));
    diff.insert(
        "before_header".into(),
        Value::String(format!("{path} (content)")),
    );
    diff.insert(
        "after_header".into(),
        Value::String(format!("{path} (content)")),
    );
    if !present && original.is_none() {
        let mut r = Map::new();
        r.insert("changed".into(), Value::Bool(false));
        r.insert(
            "msg".into(),
            Value::String(format!("File {path} not present")),
        );
        return Ok(r);
    }
    let (new, block_present) = match edit(original.as_deref().unwrap_or_default(), args) {
        Ok(edit) => edit,
        Err(msg) => return Ok(remote::failed(msg)),
    };
    if ctx.diff {
        diff.insert("after".into(), text(&new));
    }
    let (mut msg, changed) = match &original {
        Some(o) if *o == new => (String::new(), false),
        None => ("File created".to_string(), true),
        Some(_) if !block_present => ("Block removed".to_string(), true),
        Some(_) => ("Block inserted".to_string(), true),
    };
    let mut result = Map::new();
    if ctx.check_mode && original.is_none() {
        result.insert("changed".into(), Value::Bool(changed));
        result.insert("msg".into(), Value::String(msg));
        result.insert("diff".into(), Value::Object(diff));
        return Ok(result);
    }
    let attrs_requested = !args.mode.is_null() || args.owner.is_some() || args.group.is_some();
    let mut all_changed = changed;
    let mut attr_diff = Map::new();
    // Ansible writes nothing for a new file that stays empty (absent or an empty block).
    let exists_after = original.is_some() || changed;
    if changed || (attrs_requested && exists_after) {
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
            payload: Payload::Bytes(new),
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
            msg = if msg.is_empty() {
                "ownership, perms or SE linux context changed".into()
            } else {
                format!("{msg} and ownership, perms or SE linux context changed")
            };
        }
        if let Some(Value::Object(d)) = written.get("diff") {
            for side in ["before", "after"] {
                if let Some(Value::Object(attrs)) = d.get(side) {
                    let mut attrs = attrs.clone();
                    attrs.remove("path");
                    if !attrs.is_empty() {
                        attr_diff.insert(side.into(), Value::Object(attrs));
                    }
                }
            }
        }
    }
    attr_diff.insert(
        "before_header".into(),
        Value::String(format!("{path} (file attributes)")),
    );
    attr_diff.insert(
        "after_header".into(),
        Value::String(format!("{path} (file attributes)")),
    );
    result.insert("changed".into(), Value::Bool(all_changed));
    result.insert("msg".into(), Value::String(msg));
    result.insert(
        "diff".into(),
        Value::Array(vec![Value::Object(diff), Value::Object(attr_diff)]),
    );
    Ok(result)
}

fn failed_rc(rc: i64, msg: String) -> Map {
    let mut r = remote::failed(msg);
    r.insert("rc".into(), Value::from(rc));
    r
}

/// `create` on a file whose directory is missing: the directories are made first.
async fn make_parent(ctx: &ModuleContext<'_>, path: &str) -> Result<Option<Map>, ConnError> {
    let script = format!(
        "P={}\ndir_of \"$P\"\nif [ ! -e \"$_dn\" ]; then _e=$(LC_ALL=C mkdir -p -- \"$_dn\" 2>&1) || die \"Error creating $_dn Error: $_e\"; fi\n",
        path_word(path)
    );
    Ok(match remote::run_script(ctx, &script, None).await? {
        Ok(records) => records.failure(),
        Err(failure) => Some(failure),
    })
}

/// Lines with their endings, as Python's `bytes.splitlines(True)` (`\n`, `\r\n`, `\r`).
fn split_lines(data: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < data.len() {
        let end = match data[i] {
            b'\n' => i + 1,
            b'\r' if data.get(i + 1) == Some(&b'\n') => i + 2,
            b'\r' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        lines.push(data[start..end].to_vec());
        start = end;
        i = end;
    }
    if start < data.len() {
        lines.push(data[start..].to_vec());
    }
    lines
}

/// The new content, and whether it holds the block.
fn edit(original: &[u8], args: &BlockArgs) -> Result<(Vec<u8>, bool), String> {
    let present = args.state == "present";
    let mut lines = split_lines(original);
    let (mut insertafter, insertbefore) = (args.insertafter.clone(), args.insertbefore.clone());
    if insertafter.is_none() && insertbefore.is_none() {
        insertafter = Some("EOF".into());
    }
    let pattern = match (&insertafter, &insertbefore) {
        (Some(a), _) if a != "EOF" => Some(a.clone()),
        (None, Some(b)) if b != "BOF" => Some(b.clone()),
        _ => None,
    };
    let insertre = pattern
        .as_deref()
        .map(|p| Regex::new(p).map_err(|e| format!("invalid regular expression {p:?}: {e}")))
        .transpose()?;
    let mark = |word: &str| {
        let mut m = args.marker.replace("{mark}", word).into_bytes();
        m.push(b'\n');
        m
    };
    let (marker0, marker1) = (mark(&args.marker_begin), mark(&args.marker_end));
    let mut block = args.block.clone().into_bytes();
    let blocklines: Vec<Vec<u8>> = if present && !block.is_empty() {
        if !block.ends_with(b"\n") {
            block.push(b'\n');
        }
        let mut v = vec![marker0.clone()];
        v.extend(split_lines(&block));
        v.push(marker1.clone());
        v
    } else {
        Vec::new()
    };
    let (mut n0, mut n1) = (None, None);
    for (i, line) in lines.iter().enumerate() {
        if *line == marker0 {
            n0 = Some(i);
        }
        if *line == marker1 {
            n1 = Some(i);
        }
    }
    let mut at = match (n0, n1) {
        (Some(a), Some(b)) if a < b => {
            lines.drain(a..=b);
            a
        }
        (Some(a), Some(b)) => {
            lines.drain(b..=a);
            b
        }
        _ => match &insertre {
            Some(re) => {
                let multiline = pattern.as_deref().is_some_and(|p| {
                    p.starts_with("(?") && p[2..].split(')').next().is_some_and(|f| f.contains('m'))
                });
                let mut found = None;
                if multiline {
                    if let Some(m) = re.find(original) {
                        let upto = if insertafter.is_some() {
                            m.end()
                        } else {
                            m.start()
                        };
                        found = Some(original[..upto].iter().filter(|b| **b == b'\n').count());
                    }
                } else {
                    for (i, line) in lines.iter().enumerate() {
                        if re.is_match(line.strip_suffix(b"\n").unwrap_or(line)) {
                            found = Some(i);
                        }
                    }
                }
                match found {
                    None => lines.len(),
                    Some(i) if insertafter.is_some() => i + 1,
                    Some(i) => i,
                }
            }
            None if insertbefore.is_some() => 0,
            None => lines.len(),
        },
    };
    if at > 0 && !lines[at - 1].ends_with(b"\n") {
        lines[at - 1].push(b'\n');
    }
    if args.prepend_newline && present && at != 0 && lines[at - 1] != b"\n" {
        lines.insert(at, b"\n".to_vec());
        at += 1;
    }
    let count = blocklines.len();
    let holds_block = count > 0;
    lines.splice(at..at, blocklines);
    let after = at + count;
    if args.append_newline && present && after < lines.len() && lines[after] != b"\n" {
        lines.insert(after, b"\n".to_vec());
    }
    Ok((lines.concat(), holds_block))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, nasty_tempdir, run};
    use serde_json::json;

    fn args(v: Value) -> BlockArgs {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.entry("path").or_insert(json!("/x"));
        serde_json::from_value(Value::Object(m)).unwrap()
    }

    fn edited(text: &str, v: Value) -> String {
        String::from_utf8(edit(text.as_bytes(), &args(v)).unwrap().0).unwrap()
    }

    #[test]
    fn inserts_at_eof_then_replaces_between_markers() {
        let once = edited("a\nb", json!({"block": "x"}));
        assert_eq!(
            once,
            "a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"
        );
        let twice = edited(&once, json!({"block": "y\nz\n"}));
        assert_eq!(
            twice,
            "a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\ny\nz\n# END ANSIBLE MANAGED BLOCK\n"
        );
        assert_eq!(edited(&twice, json!({"state": "absent"})), "a\nb\n");
    }

    #[test]
    fn insertbefore_and_insertafter_use_the_last_matching_line() {
        let text = "[a]\nk\n[a]\nend\n";
        assert_eq!(
            edited(
                text,
                json!({"block": "x", "insertafter": "^\\[a\\]$", "marker": "#{mark}"})
            ),
            "[a]\nk\n[a]\n#BEGIN\nx\n#END\nend\n"
        );
        assert_eq!(
            edited(
                text,
                json!({"block": "x", "insertbefore": "BOF", "marker": "#{mark}"})
            ),
            "#BEGIN\nx\n#END\n[a]\nk\n[a]\nend\n"
        );
        assert_eq!(
            edited(
                text,
                json!({"block": "x", "insertbefore": "^end", "marker": "#{mark}", "prepend_newline": true, "append_newline": true})
            ),
            "[a]\nk\n[a]\n\n#BEGIN\nx\n#END\n\nend\n"
        );
    }

    #[tokio::test]
    async fn writes_reports_and_is_idempotent() {
        let (_dir, path) = nasty_tempdir();
        let file = format!("{path}/sub/conf");
        let a = json!({"path": file, "block": "k=v", "create": true, "mode": "0640"});
        let result = run(&BlockInFile, a.clone()).await;
        assert_eq!(
            result["msg"], "File created and ownership, perms or SE linux context changed",
            "{result:?}"
        );
        assert_eq!(result["changed"], true);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "# BEGIN ANSIBLE MANAGED BLOCK\nk=v\n# END ANSIBLE MANAGED BLOCK\n"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let again = run(&BlockInFile, a).await;
        assert_eq!(again["changed"], false, "{again:?}");
        assert_eq!(again["msg"], "");
        let removed = check(&BlockInFile, json!({"path": file, "state": "absent"})).await;
        assert_eq!(removed["msg"], "Block removed");
        assert!(std::fs::read_to_string(&file).unwrap().contains("k=v"));
        let missing = run(
            &BlockInFile,
            json!({"path": format!("{path}/nope"), "block": "x"}),
        )
        .await;
        assert_eq!(missing["rc"], 257);
    }
}
