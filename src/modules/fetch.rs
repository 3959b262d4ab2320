//! `ansible.builtin.fetch`: copies a file from the target to the controller.
//!
//! Semantics (ansible-core 2.18 action `fetch.py`), one `sh` round trip:
//! - `dest` is a controller directory: the file lands in `DEST/INVENTORY_HOSTNAME/SRC` (the
//!   source's full path under the host's name). With `flat: true` it lands in `dest` itself,
//!   or in `dest/basename(src)` when `dest` ends with `/`; a relative `dest` is relative to the
//!   playbook's directory. `flat` onto an existing directory without the `/` fails: `dest is an
//!   existing directory, use a trailing slash if you want to fetch src into that directory`.
//! - Changed when the controller copy's SHA-1 differs from the target's; the target sends the
//!   bytes only then. Missing directories are made; the file is written through a temp file and
//!   renamed (atomic). Results: `changed, dest, checksum, md5sum, remote_checksum,
//!   remote_md5sum` (null), and `file` when nothing changed.
//! - A missing source fails with `the remote file does not exist, not transferring, ignored`
//!   (the wording Ansible uses even when failing); `fail_on_missing: false` makes it an ok
//!   result with that message. A directory: `remote file is a directory, fetch cannot work on
//!   directories` (`, not transferring, ignored` and no failure with `fail_on_missing: false`).
//! - `validate_checksum` (default true) compares what was written with the target's SHA-1:
//!   `checksum mismatch`.
//! - Check mode: skipped, `check mode not (yet) supported for this module`.
//!
//! The file is held in memory on the controller while it is written (as Ansible's slurp path
//! does); very large files are better fetched by other means.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::slurp::read_remote_file;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;
use sha1::Digest;
use std::path::{Component, Path, PathBuf};

pub struct Fetch;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param::new("src", Kind::Str),
        Param::new("dest", Kind::Str),
        Param {
            default: Some("true"),
            ..Param::new("fail_on_missing", Kind::Bool)
        },
        Param {
            default: Some("true"),
            ..Param::new("validate_checksum", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("flat", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FetchArgs {
    pub src: Option<String>,
    pub dest: Option<String>,
    #[serde(default = "yes")]
    pub fail_on_missing: bool,
    #[serde(default = "yes")]
    pub validate_checksum: bool,
    #[serde(default)]
    pub flat: bool,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Module for Fetch {
    fn name(&self) -> &'static str {
        "fetch"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.fetch"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<FetchArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: FetchArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        if ctx.check_mode {
            let mut result = Map::new();
            result.insert("skipped".into(), Value::Bool(true));
            result.insert(
                "msg".into(),
                Value::String("check mode not (yet) supported for this module".into()),
            );
            return Ok(result);
        }
        let (Some(src), Some(dest)) = (args.src.clone(), args.dest.clone()) else {
            return Ok(remote::failed("src and dest are required"));
        };
        // The controller path is known before the run unless the target expands `src`.
        let early_dest = (!src.starts_with('~') && !src.contains('$'))
            .then(|| local_dest(&args, &src, &dest, ctx))
            .transpose();
        let early_dest = match early_dest {
            Ok(dest) => dest,
            Err(msg) => return Ok(remote::failed(msg)),
        };
        let local_sum = early_dest.as_deref().and_then(local_sha1);
        let file = match read_remote_file(ctx, &src, local_sum.as_deref()).await? {
            Ok(file) => file,
            Err(result) => return Ok(result),
        };
        if let Some(result) = source_failure(&args, &file.path, file.records.get("kind")) {
            return Ok(result);
        }
        if let Some(failure) = file.records.failure() {
            return Ok(failure);
        }
        let dest_path = match early_dest {
            Some(path) => path,
            None => match local_dest(&args, &file.path, &dest, ctx) {
                Ok(path) => path,
                Err(msg) => return Ok(remote::failed(msg)),
            },
        };
        let remote_sum = file.sha1.clone().unwrap_or_default();
        let local_sum = local_sum.or_else(|| local_sha1(&dest_path));
        let mut result = Map::new();
        let dest_text = Value::String(dest_path.to_string_lossy().into_owned());
        if local_sum.as_deref() == Some(remote_sum.as_str()) {
            result.insert("changed".into(), Value::Bool(false));
            result.insert("md5sum".into(), md5_of(&dest_path));
            result.insert("file".into(), Value::String(file.path.clone()));
            result.insert("dest".into(), dest_text);
            result.insert("checksum".into(), Value::String(remote_sum));
            return Ok(result);
        }
        if let Err(e) = write_atomically(&dest_path, &file.content) {
            return Ok(remote::failed(format!("Failed to fetch the file: {e}")));
        }
        let written = local_sha1(&dest_path).unwrap_or_default();
        result.insert("md5sum".into(), md5_of(&dest_path));
        result.insert("dest".into(), dest_text);
        result.insert("remote_md5sum".into(), Value::Null);
        result.insert("checksum".into(), Value::String(written.clone()));
        result.insert("remote_checksum".into(), Value::String(remote_sum.clone()));
        if args.validate_checksum && written != remote_sum {
            result.insert("failed".into(), Value::Bool(true));
            result.insert("msg".into(), Value::String("checksum mismatch".into()));
            result.insert("file".into(), Value::String(file.path));
        } else {
            result.insert("changed".into(), Value::Bool(true));
        }
        Ok(result)
    }
}

/// The action's answers for a source that is missing, a directory or unreadable.
fn source_failure(args: &FetchArgs, source: &str, kind: Option<&str>) -> Option<Map> {
    let mut result = Map::new();
    let mut msg = match kind? {
        "missing" => "the remote file does not exist, not transferring, ignored".to_string(),
        "dir" => "remote file is a directory, fetch cannot work on directories".to_string(),
        "unreadable" if !args.fail_on_missing => {
            result.insert("file".into(), Value::String(source.into()));
            result.insert("changed".into(), Value::Bool(false));
            return Some(result);
        }
        "unreadable" => return Some(remote::failed(format!("file is not readable: {source}"))),
        _ => return None,
    };
    if kind == Some("dir") {
        if args.fail_on_missing {
            result.insert("failed".into(), Value::Bool(true));
            result.insert("changed".into(), Value::Bool(false));
        } else {
            msg.push_str(", not transferring, ignored");
        }
    } else if args.fail_on_missing {
        result.insert("failed".into(), Value::Bool(true));
    } else {
        result.insert("file".into(), Value::String(source.into()));
        result.insert("changed".into(), Value::Bool(false));
    }
    result.insert("msg".into(), Value::String(msg));
    Some(result)
}

/// Where the file goes on the controller, as the action computes it.
fn local_dest(
    args: &FetchArgs,
    source: &str,
    dest: &str,
    ctx: &ModuleContext<'_>,
) -> Result<PathBuf, String> {
    let base = ctx
        .scope
        .vars
        .get("playbook_dir")
        .and_then(Value::as_str)
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    let dwim = |p: &str| {
        if p.starts_with('/') {
            PathBuf::from(p)
        } else {
            base.join(p)
        }
    };
    let path = if args.flat {
        let mut path = dest.to_string();
        if Path::new(dest).is_dir() && !dest.ends_with('/') {
            return Err("dest is an existing directory, use a trailing slash if you want to fetch src into that directory".into());
        }
        if dest.ends_with('/') {
            let name = source.rsplit('/').next().unwrap_or(source);
            path = format!("{dest}{name}");
            if Path::new(&path).is_dir() {
                return Err(format!("calculated dest '{path}' is an existing directory, use another path that does not point to an existing directory"));
            }
        }
        dwim(&path)
    } else {
        PathBuf::from(format!("{}/{}/{}", dwim(dest).display(), ctx.host, source))
    };
    Ok(normpath(&path))
}

/// Python's `os.path.normpath`: `.`, `..` and repeated separators folded, without the disk.
fn normpath(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(part),
            },
            other => out.push(other),
        }
    }
    out.iter().collect()
}

fn local_sha1(path: &Path) -> Option<String> {
    if !path.is_file() {
        return None;
    }
    std::fs::read(path)
        .ok()
        .map(|data| hex::encode(sha1::Sha1::digest(&data)))
}

fn md5_of(path: &Path) -> Value {
    std::fs::read(path)
        .map(|data| Value::String(hex::encode(md5::Md5::digest(&data))))
        .unwrap_or(Value::Null)
}

/// Makes the parent directories, then writes through a temp file renamed over `path`.
fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".fetch.{}", uuid::Uuid::new_v4().simple()));
    let written = (|| {
        // New files get the usual 0666 & ~umask (applied by open).
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, nasty_tempdir, run_with, Options};
    use serde_json::json;

    fn vars(dir: &str) -> Options {
        let mut vars = Map::new();
        vars.insert("playbook_dir".into(), json!(dir));
        Options {
            vars,
            ..Options::default()
        }
    }

    #[tokio::test]
    async fn fetches_under_the_host_name_then_reports_no_change() {
        let (_dir, path) = nasty_tempdir();
        let src = format!("{path}/remote/a file");
        std::fs::create_dir_all(format!("{path}/remote")).unwrap();
        std::fs::write(&src, b"payload\n").unwrap();
        let args = json!({"src": src, "dest": "out"});
        let result = run_with(&Fetch, args.clone(), vars(&path)).await;
        assert_eq!(result["changed"], true, "{result:?}");
        let dest = format!("{path}/out/localhost{src}");
        assert_eq!(result["dest"], dest.as_str());
        assert_eq!(std::fs::read(&dest).unwrap(), b"payload\n");
        assert_eq!(
            result["checksum"],
            hex::encode(sha1::Sha1::digest(b"payload\n")).as_str()
        );
        assert_eq!(result["remote_checksum"], result["checksum"]);
        assert_eq!(result["remote_md5sum"], Value::Null);
        let again = run_with(&Fetch, args, vars(&path)).await;
        assert_eq!(again["changed"], false, "{again:?}");
        assert_eq!(again["file"], src.as_str());
    }

    #[tokio::test]
    async fn flat_with_a_trailing_slash_uses_the_basename() {
        let (_dir, path) = nasty_tempdir();
        let src = format!("{path}/src.txt");
        std::fs::write(&src, b"x").unwrap();
        std::fs::create_dir(format!("{path}/flat")).unwrap();
        let result = run_with(
            &Fetch,
            json!({"src": src, "dest": format!("{path}/flat/"), "flat": true}),
            vars(&path),
        )
        .await;
        assert_eq!(result["dest"], format!("{path}/flat/src.txt"), "{result:?}");
        let result = run_with(
            &Fetch,
            json!({"src": src, "dest": format!("{path}/flat"), "flat": true}),
            vars(&path),
        )
        .await;
        assert_eq!(
            result["msg"],
            "dest is an existing directory, use a trailing slash if you want to fetch src into that directory"
        );
    }

    #[tokio::test]
    async fn missing_sources_fail_unless_told_not_to() {
        let (_dir, path) = nasty_tempdir();
        let src = format!("{path}/nope");
        let result = run_with(&Fetch, json!({"src": src, "dest": "o"}), vars(&path)).await;
        assert_eq!(result["failed"], true);
        assert_eq!(
            result["msg"],
            "the remote file does not exist, not transferring, ignored"
        );
        let result = run_with(
            &Fetch,
            json!({"src": src, "dest": "o", "fail_on_missing": false}),
            vars(&path),
        )
        .await;
        assert!(result.get("failed").is_none(), "{result:?}");
        assert_eq!(result["file"], src.as_str());
        let result = run_with(&Fetch, json!({"src": path, "dest": "o"}), vars(&path)).await;
        assert_eq!(
            result["msg"],
            "remote file is a directory, fetch cannot work on directories"
        );
        assert!(!Path::new(&format!("{path}/o")).exists());
    }

    #[tokio::test]
    async fn check_mode_is_skipped() {
        let result = check(&Fetch, json!({"src": "/etc/hostname", "dest": "x"})).await;
        assert_eq!(result["skipped"], true);
    }

    #[test]
    fn normpath_folds_like_python() {
        assert_eq!(
            normpath(Path::new("/a/b//c/../d/./e")),
            Path::new("/a/b/d/e")
        );
        assert_eq!(normpath(Path::new("/../x")), Path::new("/x"));
    }
}
