//! `ansible.builtin.file`: files, directories, links and their attributes.
//!
//! Semantics (ansible-core 2.18 `modules/file.py`, as documented and as observed against
//! ansible-playbook 2.18), all in one remote `sh` round trip:
//! - `state` defaults to the path's current type when it exists, else `directory` with
//!   `recurse`, else `file`; `recurse` with any other state (a link's default too) fails.
//! - With `follow` (default true), `state: file`/`directory` on a symlink act on its target,
//!   which every message and result then names; `link`, `touch`, `absent` act on the link.
//! - `absent`: removes a file, link or whole tree; ok when already absent.
//! - `directory`: `mkdir -p`, applying mode/owner/group to every newly created component;
//!   a failure names the first component that could not be made, with Python's OSError text
//!   (`[Errno 13] Permission denied: b'/x'`); an existing non-directory fails with
//!   `<path> already exists as a <state>`; `recurse` applies the attributes to everything
//!   below (following links into linked directories with `follow`); the diff covers the
//!   path itself.
//! - `file`: never creates; a missing path fails with `file (<path>) is absent, cannot continue`.
//! - `touch`: creates an empty file, removed again when its attributes then fail; times
//!   default to `now` (both set in one call, which needs only write access), so it always
//!   reports a change unless both times are `preserve`.
//! - `link`: symlink to `src` (relative to the link's directory); replacing a file or an empty
//!   directory needs `force`, so does a `src` that does not exist (dangling counts as
//!   missing). A retargeted link diffs `src`. Without `src` an existing link keeps its target
//!   (`src` in the result only when following it leads somewhere); a dangling link with
//!   `follow` warns that its attributes cannot be set.
//! - `hard`: hard link to an existing `src`; replaces a symlink freely, a plain file or a
//!   different hard link only with `force`. Without `src` an existing hard link only gets its
//!   attributes (`src: null`).
//! - Attributes: owner, group, then mode (octal or symbolic); `changed` only when something
//!   differs (a symlink's own mode, which Linux cannot change, shows in the diff only). Check
//!   mode reports what would change and touches nothing, and warns about an owner or group
//!   that does not exist yet. Results carry `path` (or `dest`/`src` for touch/link/hard) and
//!   Ansible's path info (`mode`, `owner`, `state`...).
//!
//! Not supported: `attributes` (chattr) and SELinux contexts are accepted and ignored;
//! `diff` carries state, src and attributes, plus `path_content` for removed trees.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, attrs_function, attrs_vars, with_file_common, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;

pub struct File;

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        Param {
            aliases: &["dest", "name"],
            required: true,
            ..Param::new("path", Kind::Path)
        },
        Param {
            choices: &["absent", "directory", "file", "hard", "link", "touch"],
            ..Param::new("state", Kind::Str)
        },
        Param::new("src", Kind::Path),
        Param {
            default: Some("false"),
            ..Param::new("recurse", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("force", Kind::Bool)
        },
        Param {
            default: Some("true"),
            ..Param::new("follow", Kind::Bool)
        },
        Param::new("modification_time", Kind::Str),
        Param {
            default: Some("%Y%m%d%H%M.%S"),
            ..Param::new("modification_time_format", Kind::Str)
        },
        Param::new("access_time", Kind::Str),
        Param {
            default: Some("%Y%m%d%H%M.%S"),
            ..Param::new("access_time_format", Kind::Str)
        },
        Param::new("_original_basename", Kind::Str),
        Param {
            default: Some("false"),
            ..Param::new("_diff_peek", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FileArgs {
    pub path: String,
    pub state: Option<String>,
    pub src: Option<String>,
    #[serde(default)]
    pub recurse: bool,
    #[serde(default)]
    pub force: bool,
    #[serde(default = "yes")]
    pub follow: bool,
    pub modification_time: Option<String>,
    pub modification_time_format: Option<String>,
    pub access_time: Option<String>,
    pub access_time_format: Option<String>,
    #[serde(default)]
    pub mode: Value,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub _original_basename: Option<String>,
    #[serde(default)]
    pub _diff_peek: bool,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Module for File {
    fn name(&self) -> &'static str {
        "file"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.file"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<FileArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: FileArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let script = match build_script(&args, ctx.check_mode) {
            Ok(script) => script,
            Err(result) => return Ok(result),
        };
        let records = match remote::run_script(ctx, &script, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        let mut result = build_result(&records);
        remote::mark_diff_mode(&mut result, ctx);
        Ok(result)
    }
}

/// Checks what can be checked without the target, then writes the script.
pub fn build_script(args: &FileArgs, check: bool) -> Result<String, Map> {
    let fail = |msg: &str| {
        let mut result = remote::failed(msg);
        result.insert("path".into(), Value::String(args.path.clone()));
        result
    };
    if args._diff_peek {
        return Ok(diff_peek_script(&args.path));
    }
    let state = args.state.as_deref();
    if args.src.is_some() && !matches!(state, Some("link") | Some("hard") | None) {
        return Err(fail("src option requires state to be 'link' or 'hard'"));
    }
    if args.recurse && !matches!(state, Some("directory") | None) {
        return Err(fail("recurse option requires state to be 'directory'"));
    }
    let mode = match remote::parse_mode(&args.mode) {
        Ok(mode) => mode,
        // Ansible finds a bad mode once it looks at the file: the failure carries its info.
        Err(e) => {
            return Ok(format!(
                "P={}\nemit path \"$P\"\nemit details {}\npinfo \"$P\"\ndie {}\n",
                path_word(&args.path),
                quote(&e.details),
                quote(&e.msg)
            ))
        }
    };
    let is_touch = state == Some("touch");
    let mtime = time_spec(
        args.modification_time.as_deref(),
        args.modification_time_format.as_deref(),
        is_touch,
    )
    .map_err(remote::failed)?;
    let atime = time_spec(
        args.access_time.as_deref(),
        args.access_time_format.as_deref(),
        is_touch,
    )
    .map_err(remote::failed)?;

    let mut s = attrs_vars(check, args.owner.as_deref(), args.group.as_deref());
    s.push_str(&format!(
        "P={}\nST={}\nSRC={}\nHAVE_SRC={}\nRECURSE={}\nFORCE={}\nFOLLOW={}\nOB={}\nMT={}\nAT={}\n",
        path_word(&args.path),
        quote(state.unwrap_or("")),
        args.src
            .as_deref()
            .map(path_word)
            .unwrap_or_else(|| "''".into()),
        u8::from(args.src.is_some()),
        u8::from(args.recurse),
        u8::from(args.force),
        u8::from(args.follow),
        quote(args._original_basename.as_deref().unwrap_or("")),
        quote(&mtime),
        quote(&atime),
    ));
    let attrs = attrs_function(mode.as_ref());
    s.push_str(&attrs);
    s.push_str(&recurse_function(&attrs, check, args));
    s.push_str(FILE_SH);
    Ok(s)
}

/// `_diff_peek` (what Ansible's diff machinery asks before showing a file): whether the
/// file's first 8 KiB hold a NUL byte, and its path info; nothing changes.
fn diff_peek_script(path: &str) -> String {
    format!(
        "P={}\nemit path \"$P\"\nemit peek 1\n\
         if [ -f \"$P\" ] && [ -r \"$P\" ] && [ \"$(head -c 8192 -- \"$P\" | tr -dc '\\000' | wc -c)\" -gt 0 ]; then emit binary 1; fi\n\
         pinfo \"$P\"\n",
        path_word(path)
    )
}

/// `now`, `preserve` (empty: leave alone) or a `touch -t` stamp, from a time parameter.
fn time_spec(value: Option<&str>, format: Option<&str>, is_touch: bool) -> Result<String, String> {
    let value = match value {
        None => {
            return Ok(if is_touch {
                "now".into()
            } else {
                String::new()
            })
        }
        Some(v) => v,
    };
    match value {
        "preserve" => Ok(String::new()),
        "now" => Ok("now".into()),
        text => {
            let format = format.unwrap_or("%Y%m%d%H%M.%S");
            chrono::NaiveDateTime::parse_from_str(text, format)
                .map(|t| t.format("%Y%m%d%H%M.%S").to_string())
                .map_err(|_| format!("Error while obtaining timestamp for time {text} using format {format}: time data '{text}' does not match format '{format}'"))
        }
    }
}

/// `recurse PATH`: applies the attributes to everything under PATH, through `find -exec`
/// with a self-contained inner script (so names are passed as arguments, never parsed).
fn recurse_function(attrs: &str, check: bool, args: &FileArgs) -> String {
    let inner = format!(
        "{}{}{}FOLLOW={}\nfor f do\n  if [ \"$FOLLOW\" = 1 ] && [ -L \"$f\" ]; then\n    t=$(readlink -f -- \"$f\") && [ -e \"$t\" ] && setattrs \"$t\"\n  else\n    setattrs \"$f\"\n  fi\ndone\n",
        remote::PRELUDE,
        attrs_vars(check, args.owner.as_deref(), args.group.as_deref()),
        attrs,
        u8::from(args.follow),
    );
    // Following links also descends into the directories they point to, as Ansible does.
    let follow = if args.follow { "-L " } else { "" };
    format!(
        "recurse() {{ find {follow}\"$1\" -exec /bin/sh -c {} sh {{}} + ; }}\n",
        quote(&inner)
    )
}

/// The state machine, run on the target (variables set by [`build_script`]).
const FILE_SH: &str = r#"# A file that touch created goes again when its attributes cannot be set.
on_die() { if [ "$TOUCHED" = 1 ]; then rm -f -- "$P"; fi; pinfo "$P"; }
TOUCHED=0
# The type of $1 into `_gs` (a variable, not output: no subshell).
getstate() {
  if [ -L "$1" ]; then _gs=link
  elif [ -d "$1" ]; then _gs=directory
  elif [ -e "$1" ]; then lst "$1"; if [ "$st_h" -gt 1 ]; then _gs=hard; else _gs=file; fi
  else _gs=absent; fi
}
# Where attributes go: the link's target when following an existing link.
target() {
  t=$P
  if [ "$FOLLOW" = 1 ] && [ -L "$P" ] && [ -e "$P" ]; then t=$(readlink -f -- "$P"); fi
  getstate "$t"; pt=$_gs
}
settimes() {
  [ -n "$MT$AT" ] || return 0
  need=0
  for _w in m a; do
    if [ $_w = m ]; then _v=$MT; _f=%Y; else _v=$AT; _f=%X; fi
    case $_v in
      '') ;;
      now) need=1 ;;
      *) _ref=$(mktemp) && touch -t "$_v" "$_ref" 2>/dev/null \
           && [ "$(stat -c $_f -- "$_ref")" = "$(stat -L -c $_f -- "$1")" ] || need=1
         rm -f "$_ref" ;;
    esac
  done
  [ $need = 1 ] || return 0
  emit chg times
  [ -n "$MT" ] && emit t_m 1
  [ -n "$AT" ] && emit t_a 1
  emit b_times "$(stat -L -c '%X|%Y|%x|%y' -- "$1")"
  if [ "$CHECK" = 1 ]; then _n=$(date +%s); emit a_times "$_n|$_n"; return 0; fi
  # Both times at once when they agree: setting both to now needs only write access, one
  # time alone needs ownership.
  _both=ma; [ "$MT" = "$AT" ] || _both='m a'
  for _w in $_both; do
    case $_w in m) _v=$MT ;; a) _v=$AT ;; *) _v=$MT; _w= ;; esac
    _flag=${_w:+-$_w}
    case $_v in
      '') ;;
      now) _e=$(touch -c $_flag -- "$1" 2>&1) ;;
      *) _e=$(touch -c $_flag -t "$_v" -- "$1" 2>&1) ;;
    esac || die "Error while updating modification or access time: $_e"
  done
  emit a_times "$(stat -L -c '%X|%Y|%x|%y' -- "$1")"
}
do_absent() {
  case $prev in
    absent) ;;
    directory)
      emit chg removed
      # The diff lists what goes: directories, then files, as Ansible's os.walk finds them.
      find "$P" -mindepth 1 -type d -exec sh -c 'for f do printf "pc_dir=%s\0" "$f"; done' sh {} +
      find "$P" -mindepth 1 ! -type d -exec sh -c 'for f do printf "pc_file=%s\0" "$f"; done' sh {} +
      if [ "$CHECK" != 1 ]; then _e=$(rm -rf -- "$P" 2>&1) || die "rmtree failed: $_e"; fi ;;
    *)
      emit chg removed
      if [ "$CHECK" != 1 ]; then _e=$(rm -f -- "$P" 2>&1) || die "unlinking failed: $_e"; fi ;;
  esac
}
do_file() {
  target
  case $pt in
    file|hard) ;;
    *) emit fstate "$pt"; die "file ($P) is $pt, cannot continue" ;;
  esac
  setattrs "$t"; settimes "$t"
}
# Ansible makes one component at a time and names the one that failed, with Python's
# OSError text: the topmost component still missing after `mkdir -p` gave up.
mkdir_failed() {
  _c=$t; _top=$t
  while [ ! -e "$_c" ] && [ ! -L "$_c" ]; do _top=$_c; dir_of "$_c"; _c=$_dn; done
  die "There was an issue creating $_top as requested: $(py_oserror "$1" "$_top")"
}
do_directory() {
  target
  case $pt in
    absent)
      emit chg created
      [ "$CHECK" = 1 ] && { emit early 1; return 0; }
      _c=$t; _top=$t
      while [ ! -e "$_c" ] && [ ! -L "$_c" ]; do _top=$_c; dir_of "$_c"; _c=$_dn; done
      _e=$(LC_ALL=C mkdir -p -- "$t" 2>&1) || mkdir_failed "$_e"
      _c=$t
      while :; do setattrs "$_c"; [ "$_c" = "$_top" ] && break; dir_of "$_c"; _c=$_dn; done ;;
    directory) setattrs "$t" ;;
    *) die "$P already exists as a $pt" ;;
  esac
  # The diff covers the path itself: records after this mark come from below it.
  if [ "$RECURSE" = 1 ]; then emit below 1; recurse "$t"; fi
  settimes "$t"
}
do_touch() {
  if [ "$prev" = absent ]; then
    emit chg created
    [ "$CHECK" = 1 ] && { emit early 1; return 0; }
    _e=$( (: >>"$P") 2>&1) || die "Error, could not touch target: $(py_oserror "$_e" "$P")"
    TOUCHED=1
  fi
  target
  setattrs "$t"; settimes "$t"
  TOUCHED=0
}
do_link() {
  _s=$SRC
  if [ "$HAVE_SRC" != 1 ]; then
    # An existing link keeps its target; the result names it only when following it leads
    # somewhere.
    [ "$prev" = link ] || die "src is required for creating new symlinks"
    _s=$(readlink -- "$P")
    if [ "$FOLLOW" = 1 ] && [ -e "$P" ]; then emit src "$_s"; fi
  else
    emit src "$_s"
    case $_s in /*) _abs=$_s ;; *) dir_of "$P"; _abs="$_dn/$_s" ;; esac
    # A dangling or looping src counts as missing, as for Python's os.path.exists.
    if [ "$FORCE" != 1 ] && [ ! -e "$_abs" ]; then
      emit src_missing 1
      die "src file does not exist, use \"force=yes\" if you really want to create the link: $_abs"
    fi
  fi
  case $prev in
    directory)
      [ "$FORCE" = 1 ] || die "refusing to convert from directory to symlink for $P"
      [ -z "$(ls -A -- "$P")" ] || die "the directory $P is not empty, refusing to convert it" ;;
    file|hard) [ "$FORCE" = 1 ] || die "refusing to convert from $prev to symlink for $P" ;;
  esac
  _ch=0
  case $prev in
    link) _old=$(readlink -- "$P"); [ "$_old" = "$_s" ] || { _ch=1; emit b_src "$_old"; emit a_src "$_s"; } ;;
    *) _ch=1 ;;
  esac
  if [ $_ch = 1 ]; then
    emit chg link
    if [ "$CHECK" != 1 ]; then
      if [ "$prev" = directory ]; then rmdir -- "$P" || die "the directory $P is not empty, refusing to convert it"; fi
      case $prev in
        # A forced file goes first (`ln -f` and `mv` refuse a link to the file itself).
        file|hard)
          _e=$( { LC_ALL=C rm -f -- "$P" && LC_ALL=C ln -s -- "$_s" "$P"; } 2>&1) \
            || die "Error while linking: $(py_oserror "$_e" "$_s" "$P")" ;;
        *) _e=$(LC_ALL=C ln -sfn -- "$_s" "$P" 2>&1) || die "Error while linking: $(py_oserror "$_e" "$_s" "$P")" ;;
      esac
    fi
  fi
  if [ ! -e "$P" ]; then
    # A dangling link: following it leads nowhere.
    if [ "$FOLLOW" = 1 ]; then
      emit warning "Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this."
      return 0
    fi
    [ -L "$P" ] || return 0
  fi
  target
  setattrs "$t"; settimes "$t"
}
do_hard() {
  if [ "$HAVE_SRC" != 1 ]; then
    # An existing hard link without src only gets its attributes.
    [ "$prev" = hard ] || die "src is required for creating new hardlinks"
    setattrs "$P"; settimes "$P"; return 0
  fi
  case $SRC in /*) _abs=$SRC ;; *) dir_of "$P"; _abs="$_dn/$SRC" ;; esac
  emit src "$SRC"
  [ -e "$_abs" ] || die "src does not exist"
  _si=$(stat -L -c '%d:%i' -- "$_abs")
  _ch=0
  case $prev in
    absent) _ch=1 ;;
    link) _ch=1; emit b_src "$(readlink -- "$P")"; emit a_src "$SRC" ;;
    hard)
      if [ "$(stat -c '%d:%i' -- "$P")" != "$_si" ]; then
        _ch=1
        [ "$FORCE" = 1 ] || die "Cannot link, different hard link exists at destination"
      fi ;;
    # A file with one link is no hard link of anything, even of itself: replaced by force only.
    file) _ch=1; [ "$FORCE" = 1 ] || die "Cannot link, file exists at destination" ;;
    directory) die "Cannot link, directory exists at destination" ;;
  esac
  if [ $_ch = 1 ]; then
    emit chg link
    if [ "$CHECK" != 1 ]; then
      if [ "$prev" = link ]; then rm -f -- "$P"; fi
      # Linking a file onto itself leaves it as it is (mv refuses the same file).
      [ "$prev" = file ] && [ "$(stat -c '%d:%i' -- "$P")" = "$_si" ] && return 0
      dir_of "$P"; _tmp="$_dn/.hook-runner.$$.tmp"
      _e=$( { ln -- "$_abs" "$_tmp" && mv -f -- "$_tmp" "$P"; } 2>&1) || { rm -f -- "$_tmp"; die "Error while linking: $_e"; }
    fi
  fi
  [ -e "$P" ] || return 0
  setattrs "$P"; settimes "$P"
}
# Check mode cannot fail on an owner or group a real run would create first: it warns.
warn_unknown_ids() {
  [ "$CHECK" = 1 ] || return 0
  _tail='up to this point in real play'
  case $OWN in
    '') ;;
    *[!0-9]*) [ -n "$(uid_of "$OWN")" ] || emit warning "failed to look up user $OWN. Create user $_tail" ;;
    *) id -nu "$OWN" >/dev/null 2>&1 || emit warning "failed to look up user with uid $OWN. Create user $_tail" ;;
  esac
  case $GRP in
    '') ;;
    *[!0-9]*) [ -n "$(gid_of "$GRP")" ] || emit warning "failed to look up group $GRP. Create group $_tail" ;;
    *) gid_known "$GRP" || emit warning "failed to look up group with gid $GRP. Create group $_tail" ;;
  esac
}
gid_known() {
  if command -v getent >/dev/null 2>&1; then getent group "$1" >/dev/null 2>&1; return; fi
  while IFS=: read -r _n _x _g _r; do [ "$_g" = "$1" ] && return 0; done </etc/group
  return 1
}
warn_unknown_ids
if [ -n "$OB" ] && [ -d "$P" ] && [ "$ST" != link ] && [ "$ST" != absent ]; then P="${P%/}/$OB"; fi
emit path "$P"
getstate "$P"; prev=$_gs
emit prev "$prev"
if [ -z "$ST" ]; then
  if [ "$prev" != absent ]; then ST=$prev
  elif [ "$RECURSE" = 1 ]; then ST=directory
  else ST=file; fi
fi
emit state "$ST"
case $ST in
  link|hard) ;;
  *) [ "$HAVE_SRC" = 1 ] && die "src option requires state to be 'link' or 'hard'" ;;
esac
# The state a link gives by default is checked here, once known.
if [ "$RECURSE" = 1 ] && [ "$ST" != directory ]; then die "recurse option requires state to be 'directory'"; fi
# A file or directory asked for through a followed link is its target, in every message too.
case $ST in
  file|directory)
    if [ "$FOLLOW" = 1 ] && [ -L "$P" ] && [ -e "$P" ]; then
      P=$(readlink -f -- "$P"); emit path "$P"; getstate "$P"; prev=$_gs; emit prev "$prev"
    fi ;;
esac
case $ST in
  absent) do_absent ;;
  directory) do_directory ;;
  file) do_file ;;
  touch) do_touch ;;
  link) do_link ;;
  hard) do_hard ;;
esac
pinfo "$P"
"#;

/// Ansible's result from the script's records.
/// The file module always returns `diff` (state and attributes); the engine shows it with
/// `--diff` only.
pub fn build_result(records: &Records) -> Map {
    let path = records.get("path").unwrap_or("").to_string();
    let state = records.get("state").unwrap_or("file");
    if let Some(mut failure) = records.failure() {
        let missing_src = failure
            .get("msg")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("src is required"));
        if !missing_src {
            // Hard links report `dest`, everything else `path`, as Ansible's results do.
            let key = if state == "hard" { "dest" } else { "path" };
            failure.insert(key.into(), Value::String(path));
            // A symlink's failure names its src only when the src is what is missing.
            if state != "link" || records.has("src_missing") {
                if let Some(src) = records.get("src") {
                    failure.insert("src".into(), Value::String(src.into()));
                }
            }
        }
        if let Some(state) = records.get("fstate") {
            failure.insert("state".into(), Value::String(state.into()));
        }
        if let Some(details) = records.get("details") {
            failure.insert("details".into(), Value::String(details.into()));
        }
        if !missing_src {
            remote::add_path_info(&mut failure, records);
        }
        remote::add_warnings(&mut failure, records);
        return failure;
    }
    if records.has("peek") {
        let mut result = Map::new();
        result.insert("path".into(), Value::String(path));
        result.insert("changed".into(), Value::Bool(false));
        result.insert("appears_binary".into(), Value::Bool(records.has("binary")));
        remote::add_path_info(&mut result, records);
        return result;
    }
    let prev = records.get("prev").unwrap_or("absent");
    let mut result = Map::new();
    if matches!(state, "touch" | "link" | "hard") {
        result.insert("dest".into(), Value::String(path.clone()));
        let src = records.get("src").map(|s| Value::String(s.into()));
        if state != "touch" || src.is_some() {
            result.insert("src".into(), src.unwrap_or(Value::Null));
        }
    } else {
        result.insert("path".into(), Value::String(path.clone()));
    }
    result.insert("changed".into(), Value::Bool(records.attrs_changed()));
    if let Some(diff) = file_diff(records, &path, prev, state) {
        result.insert("diff".into(), diff);
    }
    if state == "absent" {
        result.insert("state".into(), Value::String("absent".into()));
    }
    remote::add_path_info(&mut result, records);
    remote::add_warnings(&mut result, records);
    result
}

/// Ansible's `diff` for the file module: path, state change and attribute changes; removed
/// trees list their content. None where Ansible returns no diff (nothing to remove, a touch
/// that stops early in check mode).
fn file_diff(records: &Records, path: &str, prev: &str, state: &str) -> Option<Value> {
    if (state == "absent" && prev == "absent") || (state == "touch" && records.has("early")) {
        return None;
    }
    let mut before = Map::new();
    let mut after = Map::new();
    before.insert("path".into(), Value::String(path.into()));
    after.insert("path".into(), Value::String(path.into()));
    if prev != state {
        before.insert("state".into(), Value::String(prev.into()));
        after.insert("state".into(), Value::String(state.into()));
    }
    if state == "absent" && prev == "directory" {
        let list = |key| Value::Array(records.all(key).map(|p| Value::String(p.into())).collect());
        let mut content = Map::new();
        content.insert("directories".into(), list("pc_dir"));
        content.insert("files".into(), list("pc_file"));
        before.insert("path_content".into(), Value::Object(content));
    }
    if let (Some(b), Some(a)) = (records.get("b_src"), records.get("a_src")) {
        before.insert("src".into(), Value::String(b.into()));
        after.insert("src".into(), Value::String(a.into()));
    }
    top_level(records).attrs_diff(&mut before, &mut after);
    times_diff(records, &mut before, &mut after);
    let mut diff = Map::new();
    diff.insert("before".into(), Value::Object(before));
    diff.insert("after".into(), Value::Object(after));
    Some(Value::Object(diff))
}

/// The records about the path itself, without those `recurse` emitted for what is below it.
fn top_level(records: &Records) -> Records {
    let items = records
        .items
        .iter()
        .take_while(|(key, _)| key != "below")
        .cloned()
        .collect();
    Records { items }
}

/// `mtime`/`atime` before and after, for the times the task set (float seconds).
fn times_diff(records: &Records, before: &mut Map, after: &mut Map) {
    let (Some(b), Some(a)) = (records.get("b_times"), records.get("a_times")) else {
        return;
    };
    let b = parse_times(b);
    let a = parse_times(a);
    for (key, flag, i) in [("mtime", "t_m", 1), ("atime", "t_a", 0)] {
        if records.has(flag) {
            before.insert(key.into(), Value::from(b[i]));
            after.insert(key.into(), Value::from(a[i]));
        }
    }
}

/// `%X|%Y|%x|%y` (or `now|now` in check mode) as [atime, mtime] floats.
fn parse_times(text: &str) -> [f64; 2] {
    let parts: Vec<&str> = text.split('|').collect();
    let at = |secs: usize, human: usize| {
        let whole = parts
            .get(secs)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
        let fraction = parts
            .get(human)
            .and_then(|h| h.split_whitespace().nth(1))
            .and_then(|clock| clock.split_once('.'))
            .and_then(|(_, digits)| format!("0.{digits}").parse::<f64>().ok())
            .unwrap_or(0.0);
        whole + fraction
    };
    [at(0, 2), at(1, 3)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, nasty_tempdir, run};
    use serde_json::json;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode_of(path: &str) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[tokio::test]
    async fn directory_is_created_with_mode_then_idempotent() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/a b/$(x)/c");
        let args = json!({"path": path, "state": "directory", "mode": "0750"});
        let first = run(&File, args.clone()).await;
        assert_eq!(first["changed"], true, "{first:?}");
        assert_eq!(first["mode"], "0750");
        assert_eq!(first["state"], "directory");
        assert_eq!(first["path"], path.as_str());
        assert_eq!(mode_of(&path), 0o750);
        // Every newly created component gets the mode.
        assert_eq!(mode_of(&format!("{dir}/a b")), 0o750);
        let second = run(&File, args).await;
        assert_eq!(second["changed"], false, "{second:?}");
        assert!(!std::path::Path::new(&format!("{dir}/PWNED")).exists());
    }

    #[tokio::test]
    async fn check_mode_reports_and_changes_nothing() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/d");
        let result = check(&File, json!({"path": path, "state": "directory"})).await;
        assert_eq!(result["changed"], true);
        assert!(!std::path::Path::new(&path).exists());
        std::fs::write(format!("{dir}/f"), "x").unwrap();
        std::fs::set_permissions(format!("{dir}/f"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let result = check(&File, json!({"path": format!("{dir}/f"), "mode": "u+x"})).await;
        assert_eq!(result["changed"], true);
        assert_eq!(mode_of(&format!("{dir}/f")), 0o644);
    }

    #[tokio::test]
    async fn uncreatable_directory_names_the_component_with_python_errno_text() {
        let (_tmp, dir) = nasty_tempdir();
        let file = format!("{dir}/plain");
        std::fs::write(&file, "x").unwrap();
        let path = format!("{file}/sub/deeper");
        let result = run(&File, json!({"path": path, "state": "directory"})).await;
        assert_eq!(result["failed"], true, "{result:?}");
        assert_eq!(
            result["msg"],
            format!("There was an issue creating {file}/sub as requested: [Errno 20] Not a directory: b'{file}/sub'")
        );
    }

    #[tokio::test]
    async fn retargeting_a_symlink_diffs_its_src() {
        let (_tmp, dir) = nasty_tempdir();
        std::fs::write(format!("{dir}/a"), "x").unwrap();
        let link = format!("{dir}/l");
        let first = run(
            &File,
            json!({"path": link, "src": format!("{dir}/a"), "state": "link"}),
        )
        .await;
        assert_eq!(first["diff"]["before"].get("src"), None, "{first:?}");
        let result = run(&File, json!({"path": link, "src": "a", "state": "link"})).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["diff"]["before"]["src"], format!("{dir}/a"));
        assert_eq!(result["diff"]["after"]["src"], "a");
    }

    #[tokio::test]
    async fn touch_removes_the_file_it_created_when_attributes_fail() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/new");
        let args = json!({"path": path, "state": "touch", "owner": "no-such-user-hr"});
        let result = run(&File, args.clone()).await;
        assert_eq!(result["failed"], true, "{result:?}");
        assert!(!std::path::Path::new(&path).exists());
        // A file that was there before stays.
        std::fs::write(&path, "x").unwrap();
        assert_eq!(run(&File, args).await["failed"], true);
        assert!(std::path::Path::new(&path).exists());
    }

    #[tokio::test]
    async fn existing_hard_link_without_src_gets_attributes_only() {
        let (_tmp, dir) = nasty_tempdir();
        let (a, b) = (format!("{dir}/a"), format!("{dir}/b"));
        std::fs::write(&a, "x").unwrap();
        std::fs::hard_link(&a, &b).unwrap();
        let result = run(&File, json!({"dest": b, "mode": "0701"})).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["state"], "hard");
        assert_eq!(result["dest"], b.as_str());
        assert_eq!(result["src"], Value::Null);
        assert_eq!(mode_of(&a), 0o701);
        let plain = format!("{dir}/plain");
        std::fs::write(&plain, "x").unwrap();
        let result = run(&File, json!({"path": plain, "state": "hard"})).await;
        assert_eq!(result["msg"], "src is required for creating new hardlinks");
    }

    #[tokio::test]
    async fn check_mode_warns_about_unknown_owner_and_group() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/missing");
        let result = check(
            &File,
            json!({"path": path, "owner": "no-such-user-hr", "group": "999999"}),
        )
        .await;
        assert_eq!(
            result["warnings"],
            json!([
                "failed to look up user no-such-user-hr. Create user up to this point in real play",
                "failed to look up group with gid 999999. Create group up to this point in real play"
            ]),
            "{result:?}"
        );
        let result = check(&File, json!({"path": path, "owner": "root", "group": "0"})).await;
        assert_eq!(result.get("warnings"), None, "{result:?}");
        let result = run(
            &File,
            json!({"path": dir, "group": "999999", "owner": "99999"}),
        )
        .await;
        assert_eq!(result.get("warnings"), None, "{result:?}");
    }

    #[tokio::test]
    async fn touch_sets_both_times_in_one_call() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/t");
        std::fs::write(&path, "x").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_times(
                std::fs::FileTimes::new()
                    .set_accessed(old)
                    .set_modified(old),
            )
            .unwrap();
        let result = run(&File, json!({"path": path, "state": "touch"})).await;
        assert_eq!(result["changed"], true, "{result:?}");
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.modified().unwrap() > old && meta.accessed().unwrap() > old);
    }

    #[tokio::test]
    async fn recurse_with_follow_descends_into_linked_directories() {
        let (_tmp, dir) = nasty_tempdir();
        let top = format!("{dir}/top");
        let outside = format!("{dir}/outside");
        std::fs::create_dir_all(&top).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(format!("{outside}/f"), "x").unwrap();
        for p in [&outside, &format!("{outside}/f")] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::os::unix::fs::symlink("../outside", format!("{top}/l")).unwrap();
        let no_follow = json!({"path": top, "recurse": true, "follow": false, "mode": "a-x"});
        run(&File, no_follow).await;
        assert_eq!(mode_of(&format!("{outside}/f")), 0o700);
        let follow = json!({"path": top, "recurse": true, "follow": true, "mode": "a-x"});
        let result = run(&File, follow).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(mode_of(&outside), 0o600);
        assert_eq!(mode_of(&format!("{outside}/f")), 0o600);
    }

    #[tokio::test]
    async fn link_results_follow_ansibles_observed_shapes() {
        let (_tmp, dir) = nasty_tempdir();
        std::fs::write(format!("{dir}/a"), "x").unwrap();
        std::fs::write(format!("{dir}/b"), "x").unwrap();
        std::fs::create_dir_all(format!("{dir}/d/sub")).unwrap();
        std::os::unix::fs::symlink("a", format!("{dir}/l")).unwrap();
        std::os::unix::fs::symlink("nope", format!("{dir}/dangling")).unwrap();
        // Refusals name no src; only a missing src does.
        let r = run(
            &File,
            json!({"path": format!("{dir}/b"), "src": "a", "state": "link"}),
        )
        .await;
        assert_eq!(r.get("src"), None, "{r:?}");
        let r = run(
            &File,
            json!({"path": format!("{dir}/n"), "src": "nope", "state": "link"}),
        )
        .await;
        assert_eq!(r["src"], "nope", "{r:?}");
        // A link's own mode shows in the diff but is no change.
        let r = run(
            &File,
            json!({"path": format!("{dir}/l"), "mode": "0600", "follow": false}),
        )
        .await;
        assert_eq!(r["changed"], false, "{r:?}");
        assert_eq!(r["src"], Value::Null);
        assert_eq!(r["diff"]["after"]["mode"], "0600");
        // Without src, following names the existing target; a dangling one warns.
        let r = run(&File, json!({"path": format!("{dir}/l"), "state": "link"})).await;
        assert_eq!(r["src"], "a", "{r:?}");
        let r = run(
            &File,
            json!({"path": format!("{dir}/dangling"), "mode": "0600"}),
        )
        .await;
        assert_eq!(r["changed"], false, "{r:?}");
        assert_eq!(r["src"], Value::Null);
        assert_eq!(
            r["warnings"][0],
            "Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this."
        );
        // A link in a missing directory fails with Python's two-path OSError text.
        let (src, dest) = (format!("{dir}/a"), format!("{dir}/none/x"));
        let r = run(&File, json!({"path": dest, "src": src, "state": "link"})).await;
        assert_eq!(
            r["msg"],
            format!(
                "Error while linking: [Errno 2] No such file or directory: b'{src}' -> b'{dest}'"
            )
        );
    }

    #[tokio::test]
    async fn hard_link_replaces_a_symlink_without_force() {
        let (_tmp, dir) = nasty_tempdir();
        let src = format!("{dir}/a");
        std::fs::write(&src, "x").unwrap();
        std::os::unix::fs::symlink("a", format!("{dir}/l")).unwrap();
        let r = run(
            &File,
            json!({"path": format!("{dir}/l"), "src": src, "state": "hard"}),
        )
        .await;
        assert_eq!(r["changed"], true, "{r:?}");
        assert_eq!(r["diff"]["before"]["src"], "a");
        assert_eq!(r["diff"]["after"]["src"], src.as_str());
        assert_eq!(r["diff"]["before"]["state"], "link");
        assert_eq!(r["state"], "hard");
        // Missing src on a plain file: a bare failure, no path info.
        let plain = format!("{dir}/plain");
        std::fs::write(&plain, "x").unwrap();
        let r = run(&File, json!({"path": plain, "state": "hard"})).await;
        assert_eq!(r["msg"], "src is required for creating new hardlinks");
        assert_eq!(r.get("mode"), None, "{r:?}");
    }

    #[tokio::test]
    async fn recurse_diff_covers_only_the_top_path() {
        let (_tmp, dir) = nasty_tempdir();
        let top = format!("{dir}/t");
        std::fs::create_dir_all(&top).unwrap();
        std::fs::set_permissions(&top, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(format!("{top}/f"), "x").unwrap();
        std::fs::set_permissions(format!("{top}/f"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let r = run(&File, json!({"path": top, "recurse": true, "mode": "u+x"})).await;
        assert_eq!(r["changed"], true, "{r:?}");
        assert_eq!(r["diff"]["before"].get("mode"), None, "{r:?}");
        assert_eq!(mode_of(&format!("{top}/f")), 0o744);
    }

    #[tokio::test]
    async fn file_and_directory_through_a_followed_link_act_on_its_target() {
        let (_tmp, dir) = nasty_tempdir();
        std::fs::create_dir_all(format!("{dir}/d")).unwrap();
        std::fs::write(format!("{dir}/f"), "x").unwrap();
        std::os::unix::fs::symlink("d", format!("{dir}/ld")).unwrap();
        std::os::unix::fs::symlink("f", format!("{dir}/lf")).unwrap();
        let r = run(
            &File,
            json!({"path": format!("{dir}/ld"), "state": "directory"}),
        )
        .await;
        assert_eq!(r["path"], format!("{dir}/d"), "{r:?}");
        assert_eq!(r["changed"], false);
        assert_eq!(r["diff"]["before"].get("state"), None);
        let r = run(
            &File,
            json!({"path": format!("{dir}/lf"), "state": "directory"}),
        )
        .await;
        assert_eq!(
            r["msg"],
            format!("{dir}/f already exists as a file"),
            "{r:?}"
        );
        // Links are not followed for a link state, touch or absent.
        let r = run(
            &File,
            json!({"path": format!("{dir}/ld"), "recurse": true, "mode": "0700"}),
        )
        .await;
        assert_eq!(
            r["msg"], "recurse option requires state to be 'directory'",
            "{r:?}"
        );
        assert_eq!(r["state"], "link");
    }

    #[tokio::test]
    async fn touch_in_a_missing_directory_reads_as_python_oserror() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/no/such/t");
        let r = run(&File, json!({"path": path, "state": "touch"})).await;
        assert_eq!(
            r["msg"],
            format!(
                "Error, could not touch target: [Errno 2] No such file or directory: b'{path}'"
            )
        );
    }

    #[tokio::test]
    async fn hard_link_onto_a_plain_file_needs_force_even_onto_itself() {
        let (_tmp, dir) = nasty_tempdir();
        let a = format!("{dir}/a");
        std::fs::write(&a, "x").unwrap();
        let r = run(&File, json!({"path": a, "src": a, "state": "hard"})).await;
        assert_eq!(r["msg"], "Cannot link, file exists at destination", "{r:?}");
        // Forced onto itself: reported as a change, the file left as it is.
        let r = run(
            &File,
            json!({"path": a, "src": a, "state": "hard", "force": true}),
        )
        .await;
        assert_eq!(r["changed"], true, "{r:?}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "x");
    }

    #[tokio::test]
    async fn forced_symlink_replaces_a_file_even_with_itself_and_dangling_src_is_missing() {
        let (_tmp, dir) = nasty_tempdir();
        let a = format!("{dir}/a");
        std::fs::write(&a, "x").unwrap();
        let r = run(
            &File,
            json!({"path": a, "src": a, "state": "link", "force": true}),
        )
        .await;
        assert_eq!(r["changed"], true, "{r:?}");
        assert!(std::fs::symlink_metadata(&a)
            .unwrap()
            .file_type()
            .is_symlink());
        // `a` now loops onto itself: as a src it does not exist.
        let rel = format!("{dir}/rel");
        let r = run(&File, json!({"path": rel, "src": "a", "state": "link"})).await;
        assert_eq!(
            r["msg"],
            format!("src file does not exist, use \"force=yes\" if you really want to create the link: {dir}/a"),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn diff_peek_reports_binary_content_and_changes_nothing() {
        let (_tmp, dir) = nasty_tempdir();
        let (text, bin) = (format!("{dir}/t"), format!("{dir}/b"));
        std::fs::write(&text, "plain\n").unwrap();
        std::fs::write(&bin, b"a\0b").unwrap();
        let r = run(&File, json!({"path": text, "_diff_peek": true})).await;
        assert_eq!(r["appears_binary"], false, "{r:?}");
        assert_eq!(r["changed"], false);
        assert_eq!(r.get("diff"), None);
        let r = run(&File, json!({"path": bin, "_diff_peek": true})).await;
        assert_eq!(r["appears_binary"], true, "{r:?}");
    }

    #[tokio::test]
    async fn numeric_mode_clears_a_directorys_setgid_bit() {
        let (_tmp, dir) = nasty_tempdir();
        let d = format!("{dir}/d");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o2755)).unwrap();
        let r = run(
            &File,
            json!({"path": d, "state": "directory", "mode": "1777"}),
        )
        .await;
        assert_eq!(r["mode"], "01777", "{r:?}");
        assert_eq!(mode_of(&d), 0o1777);
    }

    #[tokio::test]
    async fn file_state_never_creates() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/missing");
        let result = run(&File, json!({"path": path, "state": "file"})).await;
        assert_eq!(result["failed"], true);
        assert_eq!(
            result["msg"],
            format!("file ({path}) is absent, cannot continue")
        );
        assert_eq!(result["state"], "absent");
        assert!(!std::path::Path::new(&path).exists());
        let result = run(&File, json!({"path": dir, "state": "file"})).await;
        assert_eq!(
            result["msg"],
            format!("file ({dir}) is directory, cannot continue")
        );
    }

    #[tokio::test]
    async fn symbolic_and_octal_modes_on_existing_files() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/f;rm -rf x");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let result = run(&File, json!({"path": path, "mode": "u+x,g=rX,o="})).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["mode"], "0750");
        assert_eq!(mode_of(&path), 0o750);
        let result = run(&File, json!({"path": path, "mode": 0o750})).await;
        assert_eq!(result["changed"], false);
        let result = run(&File, json!({"path": path, "mode": "01640"})).await;
        assert_eq!(result["mode"], "01640");
        let result = run(&File, json!({"path": path, "mode": "x+q"})).await;
        assert_eq!(result["msg"], "mode must be in octal or symbolic form");
    }

    #[tokio::test]
    async fn absent_removes_trees_and_is_idempotent() {
        let (_tmp, dir) = nasty_tempdir();
        let tree = format!("{dir}/t");
        std::fs::create_dir_all(format!("{tree}/a/b")).unwrap();
        std::fs::write(format!("{tree}/a/b/f"), "x").unwrap();
        let result = run(&File, json!({"path": tree, "state": "absent"})).await;
        assert_eq!(result["changed"], true);
        assert_eq!(result["state"], "absent");
        assert!(!std::path::Path::new(&tree).exists());
        let result = run(&File, json!({"path": tree, "state": "absent"})).await;
        assert_eq!(result["changed"], false);
    }

    #[tokio::test]
    async fn touch_creates_then_always_changes_unless_preserved() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/t\nx");
        let result = run(
            &File,
            json!({"path": path, "state": "touch", "mode": "0600"}),
        )
        .await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["dest"], path.as_str());
        assert_eq!(mode_of(&path), 0o600);
        let result = run(&File, json!({"path": path, "state": "touch"})).await;
        assert_eq!(result["changed"], true);
        let preserve = json!({"path": path, "state": "touch",
            "modification_time": "preserve", "access_time": "preserve"});
        assert_eq!(run(&File, preserve).await["changed"], false);
        let stamp = json!({"path": path, "state": "touch",
            "modification_time": "202001021030.00", "access_time": "preserve"});
        assert_eq!(run(&File, stamp.clone()).await["changed"], true);
        assert_eq!(run(&File, stamp).await["changed"], false);
    }

    #[tokio::test]
    async fn symlinks_need_force_to_replace_files_and_follow_for_attrs() {
        let (_tmp, dir) = nasty_tempdir();
        let target = format!("{dir}/target file");
        let link = format!("{dir}/link");
        std::fs::write(&target, "x").unwrap();
        let args = json!({"path": link, "src": "target file", "state": "link"});
        let result = run(&File, args.clone()).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["src"], "target file");
        assert_eq!(result["state"], "link");
        assert_eq!(
            std::fs::read_link(&link).unwrap().to_string_lossy(),
            "target file"
        );
        assert_eq!(run(&File, args).await["changed"], false);
        let result = run(&File, json!({"path": link, "src": "nope", "state": "link"})).await;
        assert!(result["msg"]
            .as_str()
            .unwrap()
            .starts_with("src file does not exist"));
        let file = format!("{dir}/plain");
        std::fs::write(&file, "x").unwrap();
        let result = run(&File, json!({"path": file, "src": target, "state": "link"})).await;
        assert_eq!(
            result["msg"],
            format!("refusing to convert from file to symlink for {file}")
        );
        let result = run(
            &File,
            json!({"path": file, "src": target, "state": "link", "force": true}),
        )
        .await;
        assert_eq!(result["changed"], true);
        // Attributes follow the link to its target.
        let result = run(&File, json!({"path": link, "mode": "0604"})).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(mode_of(&target), 0o604);
    }

    #[tokio::test]
    async fn hard_links_compare_inodes() {
        let (_tmp, dir) = nasty_tempdir();
        let src = format!("{dir}/src");
        let dest = format!("{dir}/dest");
        std::fs::write(&src, "x").unwrap();
        let args = json!({"path": dest, "src": src, "state": "hard"});
        assert_eq!(run(&File, args.clone()).await["changed"], true);
        assert_eq!(
            std::fs::metadata(&src).unwrap().ino(),
            std::fs::metadata(&dest).unwrap().ino()
        );
        let again = run(&File, args).await;
        assert_eq!(again["changed"], false);
        assert_eq!(again["state"], "hard");
    }

    #[tokio::test]
    async fn recurse_applies_attributes_below() {
        let (_tmp, dir) = nasty_tempdir();
        let tree = format!("{dir}/r");
        std::fs::create_dir_all(format!("{tree}/a\nb")).unwrap();
        std::fs::write(format!("{tree}/a\nb/f"), "x").unwrap();
        let args =
            json!({"path": tree, "state": "directory", "recurse": true, "mode": "u=rwX,go="});
        let result = run(&File, args.clone()).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(mode_of(&format!("{tree}/a\nb")), 0o700);
        assert_eq!(mode_of(&format!("{tree}/a\nb/f")), 0o600);
        assert_eq!(run(&File, args).await["changed"], false);
    }

    #[tokio::test]
    async fn unknown_owner_fails_with_ansible_message() {
        let (_tmp, dir) = nasty_tempdir();
        let result = run(&File, json!({"path": dir, "owner": "no-such-user-hr"})).await;
        assert_eq!(
            result["msg"],
            "chown failed: failed to look up user no-such-user-hr"
        );
    }

    #[tokio::test]
    async fn parameter_errors_use_ansible_wording() {
        let result = run(&File, json!({"path": "/x", "state": "foo"})).await;
        assert_eq!(
            result["msg"],
            "value of state must be one of: absent, directory, file, hard, link, touch, got: foo"
        );
        let result = run(&File, json!({"path": "/x", "src": "/y", "state": "file"})).await;
        assert_eq!(
            result["msg"],
            "src option requires state to be 'link' or 'hard'"
        );
        let result = run(&File, json!({"dest": "/x", "foo": 1})).await;
        assert!(result["msg"]
            .as_str()
            .unwrap()
            .starts_with("Unsupported parameters for (ansible.builtin.file) module: foo. Supported parameters include: _diff_peek, _original_basename, access_time,"));
    }
}
