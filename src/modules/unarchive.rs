//! `ansible.builtin.unarchive`: unpacks a tar (plain, gzip, bzip2, xz, zstd) or zip archive into
//! a directory of the target, with the target's own `tar` (GNU) and `unzip`.
//!
//! Semantics (ansible-core 2.18 action + module `unarchive.py`), one round trip:
//! - `src` is a controller file (found like copy's `src`, streamed to a private temp file on the
//!   target) or, with `remote_src: true` (or `copy: false`), a file already on the target.
//!   `dest` must be an existing directory (`dest 'D' must be an existing dir`). `creates` skips
//!   the task when that path exists (`skipped, since P exists`).
//! - The handler is the first that can list the archive, in Ansible's order: `ZipArchive`
//!   (`unzip -Z1`), then GNU tar with `-z`, none, `-j`, `-J`, zstd (`TgzArchive`, `TarArchive`,
//!   `TarBzipArchive`, `TarXzArchive`, `TarZstdArchive`). None: `Failed to find handler for
//!   "SRC". Make sure the required command to extract the file is installed.` An empty file:
//!   `Invalid archive 'SRC', the file is 0 bytes`.
//! - tar archives: `tar --diff` decides whether the tree is already unpacked (missing files,
//!   content, size, link, mtime differences; uid/gid when root and no `owner`/`group`; mode when
//!   no `mode`), then `tar --extract -C DEST [ZIPFLAG] [--show-transformed-names EXTRA_OPTS]
//!   [--owner/--group] [--keep-newer-files] [--exclude=X...] -f SRC [INCLUDE...]`. In check mode
//!   Ansible's module skips tar archives: `remote module (ansible.legacy.unarchive) does not
//!   support check mode when using gtar`.
//! - zip archives: `unzip -o EXTRA_OPTS SRC [-x EXCLUDE...] [INCLUDE...] -d DEST`; unchanged when
//!   every member already exists with the same content (hook-runner compares contents through a
//!   scratch extraction; Ansible compares size, CRC, mode, owner and mtime per member).
//! - Then `mode`/`owner`/`group` are applied to every unpacked path and the top folders.
//! - Result: `changed, handler, dest, src, extract_results {cmd, rc, out, err}` when it
//!   unpacked, `files` with `list_files`, and the path info of `dest`. A failing extraction:
//!   `failed to unpack SRC to DEST`.
//!
//! Not supported: `remote_src` URLs (`src: https://...`: use `get_url` first; it fails saying
//! so), `validate_certs` and `io_buffer_size` (accepted, warned about when set), `decrypt`
//! of vault archives (refused as copy refuses them).

use super::argspec::{ArgSpec, Kind, Param};
use super::copy::{self, find_source, not_found_message};
use super::remote::{self, attrs_function, attrs_vars, with_file_common, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Unarchive;

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        Param::new("src", Kind::Path),
        Param::new("dest", Kind::Path),
        Param {
            default: Some("false"),
            ..Param::new("remote_src", Kind::Bool)
        },
        Param::new("creates", Kind::Path),
        Param {
            default: Some("false"),
            ..Param::new("list_files", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("keep_newer", Kind::Bool)
        },
        Param {
            default: Some("[]"),
            ..Param::new("exclude", Kind::List)
        },
        Param {
            default: Some("[]"),
            ..Param::new("include", Kind::List)
        },
        Param {
            default: Some("[]"),
            ..Param::new("extra_opts", Kind::List)
        },
        Param::new("validate_certs", Kind::Bool),
        Param::new("io_buffer_size", Kind::Int),
        Param::new("copy", Kind::Bool),
        Param {
            default: Some("true"),
            ..Param::new("decrypt", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[&["include", "exclude"]],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct UnarchiveArgs {
    pub src: Option<String>,
    pub dest: Option<String>,
    #[serde(default)]
    pub remote_src: bool,
    pub creates: Option<String>,
    #[serde(default)]
    pub list_files: bool,
    #[serde(default)]
    pub keep_newer: bool,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub extra_opts: Vec<String>,
    pub validate_certs: Option<bool>,
    pub io_buffer_size: Option<i64>,
    pub copy: Option<bool>,
    #[serde(default = "yes")]
    pub decrypt: bool,
    #[serde(default)]
    pub mode: Value,
    pub owner: Option<String>,
    pub group: Option<String>,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Module for Unarchive {
    fn name(&self) -> &'static str {
        "unarchive"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.unarchive"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<UnarchiveArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let given_remote_src = args.contains_key("remote_src");
        let mut args: UnarchiveArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        if let Some(copy) = args.copy {
            if given_remote_src {
                return Ok(remote::failed(
                    "parameters are mutually exclusive: ('copy', 'remote_src')",
                ));
            }
            args.remote_src = !copy;
        }
        let (Some(src), Some(dest)) = (args.src.clone(), args.dest.clone()) else {
            return Ok(remote::failed("src (or content) and dest are required"));
        };
        if args.remote_src && src.contains("://") {
            return Ok(remote::failed(format!(
                "Source '{src}': downloading a URL with remote_src is not supported here; fetch it with get_url first"
            )));
        }
        let mode = match remote::parse_mode(&args.mode) {
            Ok(mode) => mode,
            Err(e) => return Ok(e.into_result(&dest)),
        };
        let local = if args.remote_src {
            None
        } else {
            let expanded = expand_home(&src);
            let Some(found) = find_source(&expanded, ctx.scope.search_paths) else {
                return Ok(remote::failed(not_found_message(
                    &expanded,
                    ctx.scope.search_paths,
                )));
            };
            let mut decrypt_check = copy::CopyArgs::for_dest(String::new());
            decrypt_check.decrypt = args.decrypt;
            if let Some(msg) = copy::vault_refusal(&decrypt_check, &found) {
                return Ok(remote::failed(msg));
            }
            Some(found)
        };
        let script = build_script(&args, &src, &dest, mode.as_ref(), ctx.check_mode);
        let output = match &local {
            Some(path) => remote::run_script_streaming(ctx, &script, path).await?,
            None => remote::run_script(ctx, &script, None).await?,
        };
        let records = match output {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        let mut result = build_result(&args, &dest, &records);
        let mut warnings: Vec<Value> = Vec::new();
        for (name, set) in [
            ("validate_certs", args.validate_certs.is_some()),
            ("io_buffer_size", args.io_buffer_size.is_some()),
        ] {
            if set {
                warnings.push(Value::String(format!(
                    "unarchive: '{name}' is ignored (no download or Python buffer is involved)"
                )));
            }
        }
        if !warnings.is_empty() {
            result.insert("warnings".into(), Value::Array(warnings));
        }
        Ok(result)
    }
}

/// `os.path.expanduser` for a controller path.
fn expand_home(path: &str) -> String {
    match (path.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    }
}

/// Shell words, each quoted.
fn words(list: &[String]) -> String {
    list.iter()
        .map(|w| format!(" {}", quote(w)))
        .collect::<String>()
}

fn build_script(
    args: &UnarchiveArgs,
    src: &str,
    dest: &str,
    mode: Option<&remote::ModeSpec>,
    check: bool,
) -> String {
    let excludes: Vec<String> = args
        .exclude
        .iter()
        .map(|e| e.trim_end_matches('/').to_string())
        .collect();
    let tar_opts = if args.extra_opts.is_empty() {
        String::new()
    } else {
        format!(" --show-transformed-names{}", words(&args.extra_opts))
    };
    let mut owner_opts = String::new();
    if let Some(owner) = &args.owner {
        owner_opts.push_str(&format!(" {}", quote(&format!("--owner={}", quote(owner)))));
    }
    if let Some(group) = &args.group {
        owner_opts.push_str(&format!(" {}", quote(&format!("--group={}", quote(group)))));
    }
    if args.keep_newer {
        owner_opts.push_str(" --keep-newer-files");
    }
    let tar_excludes: String = excludes
        .iter()
        .map(|e| format!(" {}", quote(&format!("--exclude={e}"))))
        .collect();
    let zip_excludes = if excludes.is_empty() {
        String::new()
    } else {
        format!(" -x{}", words(&excludes))
    };
    let mut s = attrs_vars(check, args.owner.as_deref(), args.group.as_deref());
    s.push_str(&format!(
        "REMOTE={}\nS={}\nD={}\nDEST_TEXT={}\nCREATES={}\nHAS_MODE={}\nLIST={}\n",
        u8::from(args.remote_src),
        if args.remote_src {
            path_word(src)
        } else {
            "''".into()
        },
        path_word(dest),
        quote(dest),
        args.creates
            .as_deref()
            .map(path_word)
            .unwrap_or_else(|| "''".into()),
        u8::from(mode.is_some()),
        u8::from(args.list_files),
    ));
    s.push_str(&attrs_function(mode));
    s.push_str(&format!(
        "tar_cmd() {{ \"$TAR\" \"$1\" -C \"$D\" $ZF{tar_opts}{owner_opts}{tar_excludes} -f \"$S\"{includes}; }}\n\
         tar_list() {{ \"$TAR\" --list -C \"$D\" $ZF{tar_opts}{tar_excludes} -f \"$S\"{includes}; }}\n\
         unzip_to() {{ unzip -o{opts} \"$S\"{zip_excludes}{includes} -d \"$1\"; }}\n",
        includes = words(&args.include),
        opts = words(&args.extra_opts),
    ));
    s.push_str(UNARCHIVE_SH);
    s
}

/// The action's checks, the transfer, the handler choice, the up-to-date check, the extraction
/// and the attributes. `tar_cmd` and `unzip_to` (defined before) hold the user's options.
const UNARCHIVE_SH: &str = r#"_tmp=
trap '[ -z "$_tmp" ] || rm -rf -- "$_tmp"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
if [ -n "$CREATES" ] && [ -e "$CREATES" ]; then emit skip "skipped, since $CREATES exists"; exit 0; fi
if [ ! -d "$D" ]; then die "dest '$DEST_TEXT' must be an existing dir"; fi
_tmp=$(umask 077; mktemp -d "${TMPDIR:-/tmp}/ansible-tmp-XXXXXXXX") || die "cannot create a temporary directory"
if [ "$REMOTE" != 1 ]; then
  S="$_tmp/source"
  (umask 077; cat >"$S") || die "Source '$S' failed to transfer"
else
  [ -e "$S" ] || die "Source '$S' does not exist"
fi
[ -r "$S" ] || die "Source '$S' not readable"
case $S in /*) ;; *) S="$PWD/$S" ;; esac
[ -s "$S" ] || die "Invalid archive '$S', the file is 0 bytes"
case $D in /*) ;; *) emit warning "Relative destination path '$D' was resolved to absolute path '$PWD/$D'."; D="$PWD/$D" ;; esac
emit src "$S"
_list="$_tmp/list"; _out="$_tmp/out"; _err="$_tmp/err"
H=; ZF=; _reasons=
if command -v unzip >/dev/null 2>&1 && unzip -Z1 "$S" >"$_list" 2>"$_err"; then
  H=ZipArchive
else
  if command -v unzip >/dev/null 2>&1; then
    _reasons="Command \"$(command -v unzip)\" could not handle archive: $(cat "$_err")"
  else
    _reasons="Unable to find required 'unzip' or 'unzip -Z' binary in the path."
  fi
  if [ "$CHECK" = 1 ]; then emit skip "remote module (ansible.legacy.unarchive) does not support check mode when using gtar"; emit skipped_module 1; exit 0; fi
  TAR=$(command -v gtar 2>/dev/null || command -v tar 2>/dev/null)
  if [ -z "$TAR" ]; then
    _reasons="$_reasons
Unable to find required 'gtar' or 'tar' binary in the path"
  elif ! "$TAR" --version 2>/dev/null | head -n 1 | grep -q GNU; then
    _reasons="$_reasons
Command \"$TAR\" detected as tar type None. GNU tar required."
  else
    for _z in -z '' -j -J --use-compress-program=zstd; do
      ZF=$_z
      if LC_ALL=C tar_list >"$_list" 2>"$_err" && [ -s "$_list" ]; then
        case $_z in -z) H=TgzArchive ;; '') H=TarArchive ;; -j) H=TarBzipArchive ;; -J) H=TarXzArchive ;; *) H=TarZstdArchive ;; esac
        break
      fi
    done
    [ -n "$H" ] || _reasons="$_reasons
Command \"$TAR\" could not handle archive: $(cat "$_err")"
  fi
fi
[ -n "$H" ] || die "Failed to find handler for \"$S\". Make sure the required command to extract the file is installed.
$_reasons"
emit handler "$H"
emit dest_abs "$D"
[ -n "$TAR" ] && emit tar "$TAR"
emit zf "$ZF"
command -v unzip >/dev/null 2>&1 && emit unzip "$(command -v unzip)"
# Up to date?
_differs=0
if [ "$H" = ZipArchive ]; then
  _scratch="$_tmp/scratch"; mkdir "$_scratch"
  unzip_to "$_scratch" >/dev/null 2>&1 </dev/null
  while IFS= read -r _f; do
    case $_f in
      */) [ -d "$D/$_f" ] || { _differs=1; break; } ;;
      *) if [ -L "$_scratch/$_f" ]; then
           [ -L "$D/$_f" ] && [ "$(readlink -- "$D/$_f")" = "$(readlink -- "$_scratch/$_f")" ] || { _differs=1; break; }
         elif [ -f "$_scratch/$_f" ]; then
           [ -f "$D/$_f" ] && cmp -s -- "$_scratch/$_f" "$D/$_f" || { _differs=1; break; }
         fi ;;
    esac
  done <"$_list"
else
  _root=0; [ "$(id -u)" = 0 ] && _root=1
  LC_ALL=C tar_cmd --diff >"$_out" 2>&1 </dev/null
  while IFS= read -r _l; do
    case $_l in *': : Warning: Cannot stat: No such file or directory') continue ;; esac
    case $_l in
      *': Uid differs') [ $_root = 1 ] && [ -z "$OWN" ] && _differs=1 ;;
      *': Gid differs') [ $_root = 1 ] && [ -z "$GRP" ] && _differs=1 ;;
      *': Mode differs') [ "$HAS_MODE" != 1 ] && _differs=1 ;;
      *': Mod time differs'|*': Warning: Cannot stat: No such file or directory'|*': Invalid owner'*|*': Invalid group'*|*': Symlink differs'|*': Contents differ'|*': Size differs') _differs=1 ;;
    esac
  done <"$_out"
fi
emit differs "$_differs"
if [ "$CHECK" = 1 ]; then
  if [ "$LIST" = 1 ]; then while IFS= read -r _f; do emit file "${_f#/}"; done <"$_list"; fi
  pinfo "$D"; exit 0
fi
if [ "$_differs" = 1 ]; then
  if [ "$H" = ZipArchive ]; then
    unzip_to "$D" >"$_out" 2>"$_err" </dev/null
  else
    LC_ALL=C tar_cmd --extract >"$_out" 2>"$_err" </dev/null
  fi
  _rc=$?
  emit x_rc "$_rc"
  printf 'x_out='; cat "$_out"; printf '\0'
  printf 'x_err='; cat "$_err"; printf '\0'
  [ "$_rc" = 0 ] || { emit unpack_failed 1; exit 0; }
fi
_tops=
while IFS= read -r _f; do
  _f=${_f#/}
  [ "$LIST" = 1 ] && emit file "$_f"
  setattrs "$D/$_f"
  case $_f in
    */*) _t=${_f%%/*}
      case "
$_tops
" in *"
$_t
"*) ;; *) _tops="$_tops
$_t" ;; esac ;;
  esac
done <"$_list"
printf '%s\n' "$_tops" | while IFS= read -r _t; do [ -n "$_t" ] && setattrs "$D/$_t"; done
pinfo "$D"
"#;

fn build_result(args: &UnarchiveArgs, dest: &str, records: &Records) -> Map {
    if let Some(skip) = records.get("skip") {
        let mut r = Map::new();
        r.insert("skipped".into(), Value::Bool(true));
        r.insert("msg".into(), Value::String(skip.into()));
        if !records.has("skipped_module") {
            r.insert("changed".into(), Value::Bool(false));
        }
        return r;
    }
    if let Some(failure) = records.failure() {
        return failure;
    }
    let src = records.get("src").unwrap_or("").to_string();
    let handler = records.get("handler").unwrap_or("").to_string();
    let mut r = Map::new();
    r.insert("handler".into(), Value::String(handler.clone()));
    r.insert("dest".into(), Value::String(dest.into()));
    r.insert("src".into(), Value::String(src.clone()));
    let differs = records.get("differs") == Some("1");
    let mut changed = differs;
    if let Some(rc) = records.get("x_rc") {
        let rc: i64 = rc.parse().unwrap_or(-1);
        let mut x = Map::new();
        x.insert(
            "cmd".into(),
            Value::Array(
                extract_cmd(args, &handler, &src, records)
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            ),
        );
        x.insert("rc".into(), Value::from(rc));
        x.insert(
            "out".into(),
            Value::String(records.get("x_out").unwrap_or("").into()),
        );
        x.insert(
            "err".into(),
            Value::String(records.get("x_err").unwrap_or("").into()),
        );
        r.insert("extract_results".into(), Value::Object(x));
        if records.has("unpack_failed") {
            r.insert("failed".into(), Value::Bool(true));
            r.insert(
                "msg".into(),
                Value::String(format!("failed to unpack {src} to {dest}")),
            );
            return r;
        }
    }
    changed |= records.attrs_changed();
    r.insert("changed".into(), Value::Bool(changed));
    if args.list_files {
        r.insert(
            "files".into(),
            Value::Array(
                records
                    .all("file")
                    .map(|f| Value::String(f.into()))
                    .collect(),
            ),
        );
    }
    remote::add_path_info(&mut r, records);
    remote::add_warnings(&mut r, records);
    r
}

/// The extraction command as Ansible reports it (`extract_results.cmd`).
fn extract_cmd(args: &UnarchiveArgs, handler: &str, src: &str, records: &Records) -> Vec<String> {
    let dest = records.get("dest_abs").unwrap_or("").to_string();
    let excludes: Vec<String> = args
        .exclude
        .iter()
        .map(|e| e.trim_end_matches('/').to_string())
        .collect();
    if handler == "ZipArchive" {
        let mut cmd = vec![
            records.get("unzip").unwrap_or("unzip").to_string(),
            "-o".into(),
        ];
        cmd.extend(args.extra_opts.iter().cloned());
        cmd.push(src.into());
        if !excludes.is_empty() {
            cmd.push("-x".into());
            cmd.extend(excludes);
        }
        cmd.extend(args.include.iter().cloned());
        cmd.extend(["-d".into(), dest]);
        return cmd;
    }
    let mut cmd = vec![
        records.get("tar").unwrap_or("tar").to_string(),
        "--extract".into(),
        "-C".into(),
        dest,
    ];
    if let Some(zf) = records.get("zf").filter(|z| !z.is_empty()) {
        cmd.push(zf.into());
    }
    if !args.extra_opts.is_empty() {
        cmd.push("--show-transformed-names".into());
        cmd.extend(args.extra_opts.iter().cloned());
    }
    if let Some(owner) = &args.owner {
        cmd.push(format!("--owner={}", quote(owner)));
    }
    if let Some(group) = &args.group {
        cmd.push(format!("--group={}", quote(group)));
    }
    if args.keep_newer {
        cmd.push("--keep-newer-files".into());
    }
    cmd.extend(excludes.iter().map(|e| format!("--exclude={e}")));
    cmd.extend(["-f".into(), src.into()]);
    cmd.extend(args.include.iter().cloned());
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, nasty_tempdir, run, run_with, Options};
    use serde_json::json;
    use std::process::Command;

    /// A directory `tree/` with two files, packed as `name` by `tar` with `flag`.
    fn archive(dir: &str, name: &str, flag: &str) -> String {
        let tree = format!("{dir}/tree");
        std::fs::create_dir_all(format!("{tree}/top/sub")).unwrap();
        std::fs::write(format!("{tree}/top/a.txt"), "a\n").unwrap();
        std::fs::write(format!("{tree}/top/sub/b.txt"), "b\n").unwrap();
        let out = format!("{dir}/{name}");
        let mut cmd = Command::new("tar");
        cmd.arg("-C").arg(&tree);
        if !flag.is_empty() {
            cmd.arg(flag);
        }
        assert!(cmd
            .arg("-cf")
            .arg(&out)
            .arg("top")
            .status()
            .unwrap()
            .success());
        out
    }

    #[tokio::test]
    async fn unpacks_a_remote_tgz_then_is_idempotent() {
        let (_dir, path) = nasty_tempdir();
        let src = archive(&path, "x.tgz", "-z");
        let dest = format!("{path}/dest");
        std::fs::create_dir(&dest).unwrap();
        let args = json!({"src": src, "dest": dest, "remote_src": true, "list_files": true});
        let result = run(&Unarchive, args.clone()).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["handler"], "TgzArchive");
        assert_eq!(result["extract_results"]["rc"], 0);
        assert_eq!(result["extract_results"]["cmd"][1], "--extract");
        let mut files: Vec<&str> = result["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        files.sort();
        assert_eq!(files, ["top/", "top/a.txt", "top/sub/", "top/sub/b.txt"]);
        assert_eq!(
            std::fs::read_to_string(format!("{dest}/top/sub/b.txt")).unwrap(),
            "b\n"
        );
        assert_eq!(result["state"], "directory");
        let again = run(&Unarchive, args).await;
        assert_eq!(again["changed"], false, "{again:?}");
        assert!(again.get("extract_results").is_none());
    }

    #[tokio::test]
    async fn xz_and_bz2_and_modes() {
        // GNU tar recognises the compression when listing without a flag, so (as in Ansible,
        // which tries `-z` then no flag first) xz and bzip2 archives get `TarArchive`.
        let (_dir, path) = nasty_tempdir();
        for (name, flag, handler) in [
            ("x.tar.xz", "-J", "TarArchive"),
            ("x.tar.bz2", "-j", "TarArchive"),
            ("x.tar", "", "TarArchive"),
        ] {
            let src = archive(&path, name, flag);
            let dest = format!("{path}/dest-{name}");
            std::fs::create_dir(&dest).unwrap();
            let result = run(
                &Unarchive,
                json!({"src": src, "dest": dest, "remote_src": true, "mode": "0750"}),
            )
            .await;
            assert_eq!(result["handler"], handler, "{result:?}");
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(format!("{dest}/top/a.txt"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o750);
        }
    }

    #[tokio::test]
    async fn unpacks_a_controller_zip_and_detects_changes() {
        let (_dir, path) = nasty_tempdir();
        let tree = format!("{path}/ztree");
        std::fs::create_dir_all(format!("{tree}/d")).unwrap();
        std::fs::write(format!("{tree}/d/f.txt"), "zip me\n").unwrap();
        let status = Command::new("zip")
            .current_dir(&tree)
            .args(["-qr", "../files.zip", "d"])
            .status();
        if !status.is_ok_and(|s| s.success()) {
            panic!("zip is needed for this test (Debian package zip)");
        }
        let dest = format!("{path}/zdest");
        std::fs::create_dir(&dest).unwrap();
        let options = || Options {
            search_paths: vec![std::path::PathBuf::from(&path)],
            ..Options::default()
        };
        let args = json!({"src": "files.zip", "dest": dest});
        let result = run_with(&Unarchive, args.clone(), options()).await;
        assert_eq!(result["handler"], "ZipArchive", "{result:?}");
        assert_eq!(result["changed"], true);
        assert_eq!(
            std::fs::read_to_string(format!("{dest}/d/f.txt")).unwrap(),
            "zip me\n"
        );
        let again = run_with(&Unarchive, args.clone(), options()).await;
        assert_eq!(again["changed"], false, "{again:?}");
        std::fs::write(format!("{dest}/d/f.txt"), "changed\n").unwrap();
        let checked = run_with(
            &Unarchive,
            args,
            Options {
                check: true,
                ..options()
            },
        )
        .await;
        assert_eq!(checked["changed"], true, "{checked:?}");
        assert_eq!(
            std::fs::read_to_string(format!("{dest}/d/f.txt")).unwrap(),
            "changed\n"
        );
    }

    #[tokio::test]
    async fn failures_and_skips_use_ansibles_words() {
        let (_dir, path) = nasty_tempdir();
        let src = archive(&path, "x.tgz", "-z");
        let result = run(
            &Unarchive,
            json!({"src": src, "dest": format!("{path}/nope"), "remote_src": true}),
        )
        .await;
        assert_eq!(
            result["msg"],
            format!("dest '{path}/nope' must be an existing dir")
        );
        let result = run(
            &Unarchive,
            json!({"src": src, "dest": path, "remote_src": true, "creates": src}),
        )
        .await;
        assert_eq!(result["skipped"], true);
        assert_eq!(result["msg"], format!("skipped, since {src} exists"));
        let result = check(
            &Unarchive,
            json!({"src": src, "dest": path, "remote_src": true}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "remote module (ansible.legacy.unarchive) does not support check mode when using gtar"
        );
        let empty = format!("{path}/empty.tgz");
        std::fs::write(&empty, b"").unwrap();
        let result = run(
            &Unarchive,
            json!({"src": empty, "dest": path, "remote_src": true}),
        )
        .await;
        assert_eq!(
            result["msg"],
            format!("Invalid archive '{empty}', the file is 0 bytes")
        );
        let text = format!("{path}/text.txt");
        std::fs::write(&text, b"not an archive\n").unwrap();
        let result = run(
            &Unarchive,
            json!({"src": text, "dest": path, "remote_src": true}),
        )
        .await;
        assert!(
            result["msg"].as_str().unwrap().starts_with(&format!(
                "Failed to find handler for \"{text}\". Make sure the required command to extract the file is installed."
            )),
            "{result:?}"
        );
    }
}
