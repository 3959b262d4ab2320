//! `ansible.builtin.assemble`: builds a file from a directory of fragments.
//!
//! Semantics (ansible-core 2.18 action + module `assemble.py`):
//! - `src` is a directory on the target (`remote_src: true`, the default) or on the controller
//!   (found like copy's `src`). Its regular files, in sorted name order, are joined: a newline
//!   is added after a fragment that does not end with one, and `delimiter` (with `\n`-style
//!   escapes decoded, and a newline after it when it lacks one) goes between fragments.
//!   `regexp` keeps the names it matches (Python `re.search`), `ignore_hidden` skips `.names`.
//! - The result goes to `dest` through copy's transfer: replaced atomically only when its
//!   SHA-1 differs (`validate` with `%s`: `failed to validate: rc:N error:STDERR`; `backup` →
//!   `backup_file`), then `mode`/`owner`/`group`.
//! - `remote_src` results (the module's): `changed, src, dest, checksum, md5sum, msg: "OK"` and
//!   the path info of `dest`. Controller sources give copy's result (changed) or file's
//!   (unchanged), as Ansible's action does.
//! - Errors: `Source (P) does not exist`, `Source (P) is not a directory`, `validate must
//!   contain %s: V`, `src and dest are required`. Check mode: skipped (`This action (assemble)
//!   does not support check mode.`).
//!
//! Round trips with `remote_src`: one when there is no `regexp` (the target joins the
//! fragments and sends the result back), one more to list the names first when there is; then
//! copy's transfer. Not supported: `decrypt` (there are no vault secrets: a vault fragment is
//! joined as it is), `follow` of the action.

use super::argspec::{ArgSpec, Kind, Param};
use super::copy::{self, find_source, not_found_message, CopyArgs, Payload, Transfer};
use super::remote::{self, with_file_common, Records};
use super::replace::validate_failure;
use super::slurp::split_body;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use md5::Digest;

pub struct Assemble;

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        Param::new("src", Kind::Path),
        Param::new("delimiter", Kind::Str),
        Param::new("dest", Kind::Path),
        Param {
            default: Some("false"),
            ..Param::new("backup", Kind::Bool)
        },
        Param {
            default: Some("true"),
            ..Param::new("remote_src", Kind::Bool)
        },
        Param::new("regexp", Kind::Str),
        Param {
            default: Some("false"),
            ..Param::new("ignore_hidden", Kind::Bool)
        },
        Param::new("validate", Kind::Str),
        Param {
            default: Some("true"),
            ..Param::new("decrypt", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AssembleArgs {
    pub src: Option<String>,
    pub delimiter: Option<String>,
    pub dest: Option<String>,
    #[serde(default)]
    pub backup: bool,
    #[serde(default = "yes")]
    pub remote_src: bool,
    pub regexp: Option<String>,
    #[serde(default)]
    pub ignore_hidden: bool,
    pub validate: Option<String>,
    #[serde(default)]
    pub mode: Value,
    pub owner: Option<String>,
    pub group: Option<String>,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Module for Assemble {
    fn name(&self) -> &'static str {
        "assemble"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.assemble"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<AssembleArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: AssembleArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        if ctx.check_mode {
            let mut r = Map::new();
            r.insert("skipped".into(), Value::Bool(true));
            r.insert("changed".into(), Value::Bool(false));
            r.insert(
                "msg".into(),
                Value::String("This action (assemble) does not support check mode.".into()),
            );
            return Ok(r);
        }
        let (Some(src), Some(dest)) = (args.src.clone(), args.dest.clone()) else {
            return Ok(remote::failed("src and dest are required"));
        };
        let regexp = match args.regexp.as_deref().map(regex::Regex::new).transpose() {
            Ok(re) => re,
            Err(e) => {
                return Ok(remote::failed(format!(
                    "Invalid Regexp ({e}) in \"{}\"",
                    args.regexp.as_deref().unwrap_or("")
                )))
            }
        };
        if let Some(v) = args.validate.as_deref().filter(|v| !v.contains("%s")) {
            return Ok(remote::failed(format!("validate must contain %s: {v}")));
        }
        let delimiter = args.delimiter.as_deref().map(decode_escapes);
        if !args.remote_src {
            let Some(found) = find_source(&src, ctx.scope.search_paths) else {
                return Ok(remote::failed(not_found_message(
                    &src,
                    ctx.scope.search_paths,
                )));
            };
            if !found.is_dir() {
                return Ok(remote::failed(format!(
                    "Source ({}) is not a directory",
                    found.display()
                )));
            }
            let content = match local_fragments(&found, regexp.as_ref(), args.ignore_hidden) {
                Ok(fragments) => join(&fragments, delimiter.as_deref()),
                Err(e) => {
                    return Ok(remote::failed(format!(
                        "Could not read {}: {e}",
                        found.display()
                    )))
                }
            };
            let mut result = write(&args, &dest, content, ctx).await?;
            remote::mark_diff_mode(&mut result, ctx);
            return Ok(result);
        }
        let names = match &regexp {
            None => None,
            Some(re) => match list_remote(ctx, &src).await? {
                Ok(names) => Some(
                    names
                        .into_iter()
                        .filter(|n| re.is_match(n))
                        .collect::<Vec<_>>(),
                ),
                Err(failure) => return Ok(failure),
            },
        };
        let fragments =
            match remote_fragments(ctx, &src, names.as_deref(), args.ignore_hidden).await? {
                Ok(fragments) => fragments,
                Err(failure) => return Ok(failure),
            };
        let content = join(&fragments, delimiter.as_deref());
        let checksum = hex::encode(sha1::Sha1::digest(&content));
        let md5sum = hex::encode(md5::Md5::digest(&content));
        let written = write(&args, &dest, content, ctx).await?;
        if written.get("failed") == Some(&Value::Bool(true)) {
            return Ok(written);
        }
        let mut result = Map::new();
        result.insert("src".into(), Value::String(src));
        result.insert("dest".into(), Value::String(dest));
        result.insert("checksum".into(), Value::String(checksum));
        result.insert("md5sum".into(), Value::String(md5sum));
        if let Some(backup) = written.get("backup_file") {
            result.insert("backup_file".into(), backup.clone());
        }
        result.insert(
            "changed".into(),
            written
                .get("changed")
                .cloned()
                .unwrap_or(Value::Bool(false)),
        );
        result.insert("msg".into(), Value::String("OK".into()));
        for key in ["uid", "gid", "owner", "group", "mode", "state", "size"] {
            if let Some(v) = written.get(key) {
                result.insert(key.into(), v.clone());
            }
        }
        Ok(result)
    }
}

/// Python's `codecs.escape_decode`: `\n`, `\t`, `\\`, `\xNN`, octal... into bytes.
fn decode_escapes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 >= bytes.len() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let c = bytes[i + 1];
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'\n' => {}
            b'x' if i + 2 <= bytes.len() => match u8::from_str_radix(&text[i..i + 2], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 2;
                }
                Err(_) => out.extend_from_slice(b"\\x"),
            },
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut n = 1;
                while n < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                    v = v * 8 + u32::from(bytes[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push((v & 0xff) as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    out
}

/// The fragments joined as `assemble_from_fragments` joins them.
fn join(fragments: &[Vec<u8>], delimiter: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut add_newline = false;
    for (i, fragment) in fragments.iter().enumerate() {
        if add_newline {
            out.push(b'\n');
        }
        if i > 0 {
            if let Some(delimiter) = delimiter.filter(|d| !d.is_empty()) {
                out.extend_from_slice(delimiter);
                if !delimiter.ends_with(b"\n") {
                    out.push(b'\n');
                }
            }
        }
        out.extend_from_slice(fragment);
        add_newline = !fragment.ends_with(b"\n");
    }
    out
}

/// A controller directory's fragments, in sorted name order.
fn local_fragments(
    dir: &std::path::Path,
    regexp: Option<&regex::Regex>,
    ignore_hidden: bool,
) -> std::io::Result<Vec<Vec<u8>>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        if regexp.is_some_and(|re| !re.is_match(&name)) || (ignore_hidden && name.starts_with('.'))
        {
            continue;
        }
        let path = dir.join(&name);
        if path.is_file() {
            out.push(std::fs::read(path)?);
        }
    }
    Ok(out)
}

/// Checks the remote source directory (`die` with the module's messages).
const SOURCE_SH: &str = r#"[ -e "$S" ] || die "Source ($S) does not exist"
[ -d "$S" ] || die "Source ($S) is not a directory"
"#;

/// The sorted names of a remote directory, for `regexp`.
async fn list_remote(
    ctx: &ModuleContext<'_>,
    src: &str,
) -> Result<Result<Vec<String>, Map>, ConnError> {
    let script = format!(
        "S={}\n{SOURCE_SH}set +f\nfor _p in \"$S\"/* \"$S\"/.[!.]* \"$S\"/..?*; do [ -e \"$_p\" ] && emit name \"${{_p##*/}}\"; done\n",
        path_word(src)
    );
    let records = match remote::run_script(ctx, &script, None).await? {
        Ok(records) => records,
        Err(failure) => return Ok(Err(failure)),
    };
    if let Some(failure) = records.failure() {
        return Ok(Err(failure));
    }
    let mut names: Vec<String> = records.all("name").map(str::to_string).collect();
    names.sort();
    Ok(Ok(names))
}

/// The remote fragments (all regular files, or `names`), each sent as a length and its bytes
/// after the records.
async fn remote_fragments(
    ctx: &ModuleContext<'_>,
    src: &str,
    names: Option<&[String]>,
    ignore_hidden: bool,
) -> Result<Result<Vec<Vec<u8>>, Map>, ConnError> {
    let mut script = format!(
        "S={}\nHIDDEN={}\n{SOURCE_SH}",
        path_word(src),
        u8::from(!ignore_hidden)
    );
    script.push_str(
        r#"frag() {
  [ -f "$S/$1" ] || return 0
  case $1 in .*) [ "$HIDDEN" = 1 ] || return 0 ;; esac
  emit frag "$(wc -c <"$S/$1")|$1"
  _files="$_files
$1"
}
_files=
"#,
    );
    match names {
        Some(names) => {
            for name in names {
                script.push_str(&format!("frag {}\n", quote(name)));
            }
        }
        None => script.push_str(
            "set +f\nfor _p in \"$S\"/* \"$S\"/.[!.]* \"$S\"/..?*; do [ -e \"$_p\" ] && frag \"${_p##*/}\"; done\nset -f\n",
        ),
    }
    // The bytes follow the records, in the order the records name them.
    script.push_str(
        r#"printf 'body='
printf '%s\n' "$_files" | while IFS= read -r _n; do [ -n "$_n" ] && cat -- "$S/$_n"; done
"#,
    );
    let output = remote::exec(ctx, format!("{}{script}", remote::PRELUDE), None).await?;
    let (head, body) = split_body(&output.stdout);
    let records = Records::parse(head);
    if records.is_empty() {
        return Ok(Err(remote::records_or_failure(&output)
            .err()
            .unwrap_or_else(|| remote::failed("assemble: no answer"))));
    }
    if let Some(failure) = records.failure() {
        return Ok(Err(failure));
    }
    let body = body.unwrap_or_default();
    let mut frags: Vec<(String, usize)> = records
        .all("frag")
        .filter_map(|f| f.split_once('|'))
        .map(|(len, name)| (name.to_string(), len.trim().parse().unwrap_or(0)))
        .collect();
    // The names were read in shell order; the join is in Python's sorted order.
    let mut at = 0;
    let mut pieces: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, len) in frags.drain(..) {
        let end = (at + len).min(body.len());
        pieces.push((name, body[at..end].to_vec()));
        at = end;
    }
    pieces.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Ok(pieces.into_iter().map(|(_, bytes)| bytes).collect()))
}

/// Puts the assembled bytes at `dest` with copy's transfer.
async fn write(
    args: &AssembleArgs,
    dest: &str,
    content: Vec<u8>,
    ctx: &ModuleContext<'_>,
) -> Result<Map, ConnError> {
    let copy_args = CopyArgs {
        backup: args.backup,
        validate: args.validate.clone(),
        mode: args.mode.clone(),
        owner: args.owner.clone(),
        group: args.group.clone(),
        ..CopyArgs::for_dest(dest.to_string())
    };
    let transfer = Transfer {
        dest: dest.to_string(),
        payload: Payload::Bytes(content),
        basename: None,
        local_mode: None,
        after_header: dest.to_string(),
    };
    let written = copy::transfer(&copy_args, transfer, ctx).await?;
    Ok(validate_failure(written))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, nasty_tempdir, run, run_with, Options};
    use serde_json::json;

    fn fragments(dir: &str) {
        std::fs::create_dir_all(format!("{dir}/frags")).unwrap();
        for (name, body) in [
            ("10-b", "b\n"),
            ("01-a", "a"),
            (".hidden", "h\n"),
            ("20-c", "c\n"),
        ] {
            std::fs::write(format!("{dir}/frags/{name}"), body).unwrap();
        }
    }

    #[test]
    fn joins_like_assemble_from_fragments() {
        let parts = vec![b"a".to_vec(), b"b\n".to_vec(), b"c".to_vec()];
        assert_eq!(join(&parts, None), b"a\nb\nc");
        assert_eq!(join(&parts, Some(b"--")), b"a\n--\nb\n--\nc");
        assert_eq!(decode_escapes("#\\n\\x41\\101"), b"#\nAA");
    }

    #[tokio::test]
    async fn assembles_remote_fragments_in_sorted_order_then_is_idempotent() {
        let (_dir, path) = nasty_tempdir();
        fragments(&path);
        let dest = format!("{path}/out");
        let args = json!({"src": format!("{path}/frags"), "dest": dest, "delimiter": "### \\n", "mode": "0600"});
        let result = run(&Assemble, args.clone()).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["msg"], "OK");
        assert_eq!(result["mode"], "0600");
        let text = std::fs::read_to_string(&dest).unwrap();
        assert_eq!(text, "h\n### \na\n### \nb\n### \nc\n");
        assert_eq!(
            result["checksum"],
            hex::encode(sha1::Sha1::digest(text.as_bytes()))
        );
        let again = run(&Assemble, args).await;
        assert_eq!(again["changed"], false, "{again:?}");
    }

    #[tokio::test]
    async fn regexp_hidden_and_controller_sources() {
        let (_dir, path) = nasty_tempdir();
        fragments(&path);
        let dest = format!("{path}/out");
        let result = run(
            &Assemble,
            json!({"src": format!("{path}/frags"), "dest": dest, "regexp": "^[0-9]+-[bc]$"}),
        )
        .await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "b\nc\n");
        let local = run_with(
            &Assemble,
            json!({"src": "frags", "dest": dest, "remote_src": false, "ignore_hidden": true}),
            Options {
                search_paths: vec![std::path::PathBuf::from(&path)],
                ..Options::default()
            },
        )
        .await;
        assert_eq!(local["changed"], true, "{local:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "a\nb\nc\n");
    }

    #[tokio::test]
    async fn errors_and_check_mode() {
        let (_dir, path) = nasty_tempdir();
        let missing = format!("{path}/nope");
        let result = run(
            &Assemble,
            json!({"src": missing, "dest": format!("{path}/o")}),
        )
        .await;
        assert_eq!(result["msg"], format!("Source ({missing}) does not exist"));
        let result = check(&Assemble, json!({"src": path, "dest": "/x"})).await;
        assert_eq!(result["skipped"], true);
        let result = run(
            &Assemble,
            json!({"src": path, "dest": "/x", "validate": "true"}),
        )
        .await;
        assert_eq!(result["msg"], "validate must contain %s: true");
    }
}
