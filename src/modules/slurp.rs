//! `ansible.builtin.slurp`: returns a file of the target, base64-encoded.
//!
//! Semantics (ansible-core 2.18 `modules/slurp.py`), one `sh` round trip:
//! - `src` (alias `path`; `~` and `$VAR` expanded on the target) is read whole; the result is
//!   `{changed: false, content: BASE64, encoding: base64, source: SRC}` (`source` expanded).
//! - Failures, by the error `open()` would meet: `file not found: SRC`, `file is not readable:
//!   SRC`, `source is a directory and must be a file: SRC`.
//! - Check mode reads as usual (nothing changes).
//!
//! The bytes travel raw after the script's records (no `base64` program needed on the target);
//! the controller encodes them. [`read_remote_file`] is shared with `fetch`.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use base64::Engine;

pub struct Slurp;

static SPEC: ArgSpec = ArgSpec {
    params: &[Param {
        aliases: &["path"],
        required: true,
        ..Param::new("src", Kind::Path)
    }],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SlurpArgs {
    pub src: String,
}

#[async_trait]
impl Module for Slurp {
    fn name(&self) -> &'static str {
        "slurp"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.slurp"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<SlurpArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: SlurpArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let file = match read_remote_file(ctx, &args.src, None).await? {
            Ok(file) => file,
            Err(result) => return Ok(result),
        };
        if let Some(failure) = file.records.failure() {
            return Ok(failure);
        }
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(false));
        result.insert(
            "content".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(&file.content)),
        );
        result.insert("encoding".into(), Value::String("base64".into()));
        result.insert("source".into(), Value::String(file.path));
        Ok(result)
    }
}

/// A file read from the target.
#[derive(Debug, Default)]
pub struct RemoteFile {
    /// The path as the target expanded it.
    pub path: String,
    /// Its SHA-1 (hex), when it was read.
    pub sha1: Option<String>,
    /// Its bytes; empty when it was not sent (`skip_if_sha1` matched) or could not be read.
    pub content: Vec<u8>,
    /// The script's records: `failure()` is slurp's failure; `kind` is `missing`, `dir`,
    /// `unreadable` or `file`.
    pub records: Records,
}

/// Reads `path` on the target in one round trip, with slurp's failure messages. When the
/// file's SHA-1 equals `skip_if_sha1`, its bytes are not sent.
pub async fn read_remote_file(
    ctx: &ModuleContext<'_>,
    path: &str,
    skip_if_sha1: Option<&str>,
) -> Result<Result<RemoteFile, Map>, ConnError> {
    let script = format!(
        "{}P={}\nSKIP={}\n{READ_SH}",
        remote::PRELUDE,
        path_word(path),
        quote(skip_if_sha1.unwrap_or("")),
    );
    let output = remote::exec(ctx, script, None).await?;
    let (head, body) = split_body(&output.stdout);
    let records = Records::parse(head);
    if records.is_empty() {
        return Ok(Err(remote::records_or_failure(&output)
            .err()
            .unwrap_or_else(|| {
                remote::failed("unable to slurp file: no answer")
            })));
    }
    Ok(Ok(RemoteFile {
        path: records.get("path").unwrap_or(path).to_string(),
        sha1: records.get("sha1").map(str::to_string),
        content: body.map(<[u8]>::to_vec).unwrap_or_default(),
        records,
    }))
}

/// The records before the `body=` record, and the raw bytes after it (to the end).
pub(crate) fn split_body(stdout: &[u8]) -> (&[u8], Option<&[u8]>) {
    const MARK: &[u8] = b"body=";
    let mut start = 0;
    while start < stdout.len() {
        if stdout[start..].starts_with(MARK) {
            return (&stdout[..start], Some(&stdout[start + MARK.len()..]));
        }
        match stdout[start..].iter().position(|b| *b == 0) {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    (stdout, None)
}

/// Classifies the path as `open()` would fail on it, then sends the bytes (unless the SHA-1
/// matches `SKIP`) as the last record, unterminated.
const READ_SH: &str = r#"emit path "$P"
if [ ! -e "$P" ]; then emit kind missing; die "file not found: $P"; fi
if [ -d "$P" ]; then emit kind dir; die "source is a directory and must be a file: $P"; fi
if [ ! -r "$P" ]; then emit kind unreadable; die "file is not readable: $P"; fi
emit kind file
_s=$(sha1sum <"$P" 2>&1) || die "unable to slurp file: $_s"
_s=${_s%% *}
emit sha1 "$_s"
if [ -n "$SKIP" ] && [ "$SKIP" = "$_s" ]; then exit 0; fi
printf 'body='
cat -- "$P"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{nasty_tempdir, run};
    use serde_json::json;

    #[tokio::test]
    async fn returns_any_bytes_base64_encoded() {
        let (_dir, path) = nasty_tempdir();
        let file = format!("{path}/data");
        let bytes = b"a\0b=c\0\xff\nbody=x".to_vec();
        std::fs::write(&file, &bytes).unwrap();
        let result = run(&Slurp, json!({"path": file})).await;
        assert_eq!(result["changed"], false, "{result:?}");
        assert_eq!(result["encoding"], "base64");
        assert_eq!(result["source"], file.as_str());
        let got = base64::engine::general_purpose::STANDARD
            .decode(result["content"].as_str().unwrap())
            .unwrap();
        assert_eq!(got, bytes);
    }

    #[tokio::test]
    async fn an_empty_file_is_empty_content() {
        let (_dir, path) = nasty_tempdir();
        let file = format!("{path}/empty");
        std::fs::write(&file, b"").unwrap();
        let result = run(&Slurp, json!({"src": file})).await;
        assert_eq!(result["content"], "", "{result:?}");
    }

    #[tokio::test]
    async fn missing_files_and_directories_fail_with_slurps_messages() {
        let (_dir, path) = nasty_tempdir();
        let missing = format!("{path}/nope");
        let result = run(&Slurp, json!({"src": missing})).await;
        assert_eq!(result["failed"], true);
        assert_eq!(result["msg"], format!("file not found: {missing}"));
        let result = run(&Slurp, json!({"src": path})).await;
        assert_eq!(
            result["msg"],
            format!("source is a directory and must be a file: {path}")
        );
    }

    #[test]
    fn the_body_starts_after_the_records() {
        let (head, body) = split_body(b"path=/x\0sha1=ab\0body=\0body=1");
        assert_eq!(head, b"path=/x\0sha1=ab\0");
        assert_eq!(body, Some(&b"\0body=1"[..]));
        assert_eq!(split_body(b"path=/x\0").1, None);
    }
}
