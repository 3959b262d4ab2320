//! `ansible.builtin.tempfile`: creates a temporary file or directory on the target.
//!
//! Semantics (ansible-core 2.18 `modules/tempfile.py`, which calls Python's `mkstemp` /
//! `mkdtemp`), one `sh` round trip:
//! - `state: file` (default) makes an empty file with mode `0600`, `state: directory` a
//!   directory with mode `0700`, named `PREFIX` + 8 random characters of `[a-z0-9_]` +
//!   `SUFFIX` (`prefix` defaults to `ansible.`, `suffix` to empty), created exclusively (an
//!   existing name is never reused).
//! - `path` is the directory to create it in; without it, Python's `gettempdir()` on the target:
//!   the first writable of `$TMPDIR`, `$TEMP`, `$TMP`, `/tmp`, `/var/tmp`, `/usr/tmp`, the current
//!   directory.
//! - The result is always `changed` with `path` and the path info (`uid, gid, owner, group,
//!   mode, state, size`). Failures carry Python's `OSError` text, e.g.
//!   `[Errno 2] No such file or directory: '/missing/ansible.abc12345'`.
//! - No check mode (Ansible's module does not support it): the task is skipped with
//!   `remote module (tempfile) does not support check mode`.
//!
//! Ansible's `setup_remote_tmp_dir` test role depends on this module.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Tempfile;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            choices: &["file", "directory"],
            default: Some("file"),
            ..Param::new("state", Kind::Str)
        },
        Param::new("path", Kind::Path),
        Param {
            default: Some("ansible."),
            ..Param::new("prefix", Kind::Str)
        },
        Param {
            default: Some(""),
            ..Param::new("suffix", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct TempfileArgs {
    #[serde(default = "file")]
    pub state: String,
    pub path: Option<String>,
    #[serde(default = "ansible")]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
}

fn file() -> String {
    "file".into()
}

fn ansible() -> String {
    "ansible.".into()
}

/// Names tried in turn, as Python retries on a name that exists already.
const CANDIDATES: usize = 16;

#[async_trait]
impl Module for Tempfile {
    fn name(&self) -> &'static str {
        "tempfile"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.tempfile"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<TempfileArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: TempfileArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        if ctx.check_mode {
            return Ok(unsupported_check_mode(self.name()));
        }
        let records = match remote::run_script(ctx, &build_script(&args), None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        if let Some(failure) = records.failure() {
            return Ok(failure);
        }
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(true));
        result.insert(
            "path".into(),
            Value::String(records.get("path").unwrap_or("").into()),
        );
        remote::add_path_info(&mut result, &records);
        Ok(result)
    }
}

/// What Ansible returns for a module without check mode support run in check mode.
pub fn unsupported_check_mode(name: &str) -> Map {
    let mut result = Map::new();
    result.insert("changed".into(), Value::Bool(false));
    result.insert("skipped".into(), Value::Bool(true));
    result.insert(
        "msg".into(),
        Value::String(format!(
            "remote module ({name}) does not support check mode"
        )),
    );
    result
}

/// `n` random names of Python's `_RandomNameSequence` shape: 8 characters of `[a-z0-9_]`.
fn random_names(n: usize) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    (0..n)
        .map(|_| {
            let bytes = uuid::Uuid::new_v4().into_bytes();
            bytes[..8]
                .iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect()
        })
        .collect()
}

fn build_script(args: &TempfileArgs) -> String {
    let dir = match &args.path {
        Some(path) => path_word(path),
        None => "''".into(),
    };
    format!(
        "DIR={dir}\nDIRSTATE={}\nPREFIX={}\nSUFFIX={}\nNAMES={}\n{TEMPFILE_SH}",
        u8::from(args.state == "directory"),
        quote(&args.prefix),
        quote(&args.suffix),
        quote(&random_names(CANDIDATES).join(" ")),
    )
}

/// Picks the directory (`gettempdir()` when none is given), then creates the first free name.
/// Python reports the path it tried in its `OSError`; the checks before each attempt give the
/// errno the same call would have.
const TEMPFILE_SH: &str = r#"if [ -z "$DIR" ]; then
  for _d in "$TMPDIR" "$TEMP" "$TMP" /tmp /var/tmp /usr/tmp "$PWD"; do
    [ -n "$_d" ] && [ -d "$_d" ] && [ -w "$_d" ] && [ -x "$_d" ] && { DIR=$_d; break; }
  done
  [ -n "$DIR" ] || die "[Errno 2] No usable temporary directory found in ['/tmp', '/var/tmp', '/usr/tmp', '$PWD']"
  while :; do case $DIR in ?*/) DIR=${DIR%/} ;; *) break ;; esac; done
fi
case $DIR in /*) ;; *) DIR="$PWD/$DIR" ;; esac
for _n in $NAMES; do
  _p="${DIR%/}/$PREFIX$_n$SUFFIX"
  [ "$DIR" = / ] && _p="/$PREFIX$_n$SUFFIX"
  if [ ! -e "$DIR" ]; then die "[Errno 2] No such file or directory: '$_p'"; fi
  if [ ! -d "$DIR" ]; then die "[Errno 20] Not a directory: '$_p'"; fi
  if [ ! -w "$DIR" ] || [ ! -x "$DIR" ]; then die "[Errno 13] Permission denied: '$_p'"; fi
  [ -e "$_p" ] || [ -L "$_p" ] && continue
  if [ "$DIRSTATE" = 1 ]; then
    _e=$( (umask 077; mkdir -- "$_p") 2>&1) || { [ -e "$_p" ] && continue; die "$(py_oserror "$_e" "$_p")"; }
  else
    _e=$( (umask 077; set -C; : >"$_p") 2>&1) || { [ -e "$_p" ] && continue; die "$(py_oserror "$_e" "$_p")"; }
  fi
  emit path "$_p"
  pinfo "$_p"
  exit 0
done
die "[Errno 17] No usable temporary file name found"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, nasty_tempdir, run};
    use serde_json::json;

    #[tokio::test]
    async fn makes_a_private_file_with_the_prefix_and_suffix() {
        let (_dir, path) = nasty_tempdir();
        let result = run(
            &Tempfile,
            json!({"path": path, "prefix": "hello.", "suffix": ".goodbye"}),
        )
        .await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["state"], "file");
        assert_eq!(result["mode"], "0600");
        assert_eq!(result["size"], 0);
        let made = result["path"].as_str().unwrap();
        let name = made.strip_prefix(&format!("{path}/")).expect("in path");
        let middle = name
            .strip_prefix("hello.")
            .and_then(|n| n.strip_suffix(".goodbye"))
            .expect("prefix and suffix");
        assert_eq!(middle.len(), 8);
        assert!(std::path::Path::new(made).is_file());
    }

    #[tokio::test]
    async fn makes_a_private_directory() {
        let (_dir, path) = nasty_tempdir();
        let result = run(&Tempfile, json!({"path": path, "state": "directory"})).await;
        assert_eq!(result["state"], "directory", "{result:?}");
        assert_eq!(result["mode"], "0700");
        let made = result["path"].as_str().unwrap();
        assert!(made.starts_with(&format!("{path}/ansible.")));
        assert!(std::path::Path::new(made).is_dir());
    }

    #[tokio::test]
    async fn a_missing_directory_fails_with_pythons_oserror() {
        let (_dir, path) = nasty_tempdir();
        let missing = format!("{path}/does_not_exist");
        let result = run(&Tempfile, json!({"path": missing})).await;
        assert_eq!(result["failed"], true);
        let msg = result["msg"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!(
                "[Errno 2] No such file or directory: '{missing}/ansible."
            )),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn check_mode_skips_as_ansible_does() {
        let result = check(&Tempfile, json!({})).await;
        assert_eq!(result["skipped"], true);
        assert_eq!(
            result["msg"],
            "remote module (tempfile) does not support check mode"
        );
    }
}
