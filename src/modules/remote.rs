//! Shared machinery for modules that work on the target through a POSIX `sh` script.
//!
//! A module builds ONE script: [`PRELUDE`] (small shell functions), then its own variables
//! (every user value quoted by [`crate::shell`]), then its logic. The script reports back with
//! NUL-terminated `key=value` records written by the `emit` function ([`Records`]), so any
//! byte except NUL may appear in a value (paths with newlines included). A script that hits a
//! module failure emits `msg` and `failed` and exits 0; a non-zero exit without records means
//! the script itself broke, and the module reports its stderr.
//!
//! Modes follow Ansible (`set_mode_if_different`): integers are taken as-is, strings are octal
//! when they parse as octal, else symbolic (`u+rwx,g=rX,o-w`). Symbolic modes depend on the
//! file's current mode and the umask, so they are compiled into `sh` arithmetic evaluated on the
//! target ([`ModeSpec::sh_compute`]): the script stays one round trip, and check mode can report
//! the exact mode that would be set.

use super::ModuleContext;
use crate::connection::{ConnError, ExecOutput, ExecRequest};
use crate::shell::quote;
use crate::{Map, Value};

/// Shell functions every module script may use.
///
/// - `emit KEY VALUE`: one record.
/// - `die MSG`: fail the module with MSG (the script ends); a script may redefine `on_die`
///   to report more first (the file module reports the path info, as Ansible's `fail_json`).
/// - `lst PATH`: lstat PATH into `st_f` (raw mode, hex), `st_u`, `st_g`, `st_s` (size), `st_h`
///   (links), `st_U`, `st_G` (names, `UNKNOWN` when unknown); returns 1 when it does not exist.
///   `setattrs` leaves `_lp` set to the path it just read and did not change: the next `lst`
///   of that same path (its `pinfo`) reuses those values instead of running `stat` again; any
///   other `lst` call forgets them.
/// - `dir_of PATH`: POSIX `dirname` of PATH into `_dn`, by parameter expansion (no process).
/// - `oct N`: the permission bits N (a number) as octal digits (`420` → `644`) into `_oc`, by
///   arithmetic (no `$(printf %o)` subshell).
/// - `pinfo PATH`: Ansible's `add_path_info` fields (`pi_*` records) when PATH exists.
/// - `uid_of NAME` / `gid_of NAME`: numeric ids (numbers pass through), empty when unknown.
/// - `py_oserror TEXT PATH [PATH2]`: a failed tool's stderr TEXT as Python's `str(OSError)` for
///   PATH (`[Errno 1] Operation not permitted: b'PATH'`, `...: b'PATH' -> b'PATH2'` for two-path
///   calls such as symlink), the form Ansible's messages quote; TEXT itself when its reason
///   (the text after the last `: `) is not a known errno.
pub const PRELUDE: &str = r#"set -f
emit() { printf '%s=%s\0' "$1" "$2"; }
die() { emit msg "$1"; emit failed 1; on_die; exit 0; }
on_die() { :; }
lst() {
  if [ -n "$_lp" ] && [ "$_lp" = "$1" ]; then _lp=; return 0; fi
  _lp=
  _st=$(stat -c '%f %u %g %s %h %U %G' -- "$1" 2>/dev/null) || return 1
  set -- $_st
  st_f=$1 st_u=$2 st_g=$3 st_s=$4 st_h=$5 st_U=$6 st_G=$7
}
oct() { _oc=$(( ($1>>9&7)*1000 + ($1>>6&7)*100 + ($1>>3&7)*10 + ($1&7) )); }
dir_of() {
  _dn=$1
  while :; do case $_dn in */) _dn=${_dn%/} ;; *) break ;; esac; done
  case $_dn in
    '') [ -n "$1" ] && _dn=/ || _dn=. ;;
    */*)
      _dn=${_dn%/*}
      while :; do case $_dn in */) _dn=${_dn%/} ;; *) break ;; esac; done
      [ -n "$_dn" ] || _dn=/ ;;
    *) _dn=. ;;
  esac
}
pinfo() {
  [ -e "$1" ] || return 0
  lst "$1" || return 0
  emit pi_raw "$st_f"; emit pi_uid "$st_u"; emit pi_gid "$st_g"; emit pi_owner "$st_U"
  emit pi_group "$st_G"; emit pi_size "$st_s"; emit pi_nlink "$st_h"
}
py_oserror() {
  # The reason is what follows the last `: ` (a path may hold any other text).
  case ${1##*: } in
    'Operation not permitted') _en=1 _es='Operation not permitted' ;;
    'No such file or directory'|'Directory nonexistent') _en=2 _es='No such file or directory' ;;
    'Permission denied') _en=13 _es='Permission denied' ;;
    'File exists') _en=17 _es='File exists' ;;
    'Not a directory') _en=20 _es='Not a directory' ;;
    'Is a directory') _en=21 _es='Is a directory' ;;
    'No space left on device') _en=28 _es='No space left on device' ;;
    'Directory not empty') _en=39 _es='Directory not empty' ;;
    'Read-only file system') _en=30 _es='Read-only file system' ;;
    'Invalid argument') _en=22 _es='Invalid argument' ;;
    *) printf '%s' "$1"; return 0 ;;
  esac
  printf "[Errno %s] %s: b'%s'" "$_en" "$_es" "$2"
  if [ -n "$3" ]; then printf " -> b'%s'" "$3"; fi
}
uid_of() {
  case $1 in
    ''|*[!0-9]*) id -u "$1" 2>/dev/null || true ;;
    *) printf '%s\n' "$1" ;;
  esac
}
gid_of() {
  case $1 in
    ''|*[!0-9]*)
      if command -v getent >/dev/null 2>&1; then
        getent group "$1" 2>/dev/null | cut -d: -f3
      else
        while IFS=: read -r _n _x _g _r; do
          if [ "$_n" = "$1" ]; then printf '%s\n' "$_g"; break; fi
        done </etc/group
      fi ;;
    *) printf '%s\n' "$1" ;;
  esac
}
"#;

/// Shell function `setattrs PATH`: brings PATH's owner, group and mode to what the task asks
/// (shell variables `OWN`, `GRP`, and the mode code from [`attrs_function`]), in Ansible's order
/// (owner, group, mode). It emits `chg` records naming what changed (or would change, when
/// `CHECK=1`) and `b_*`/`a_*` records with the values before and after, for `diff`.
/// Symlinks are never followed (`lchown`; a link's own mode cannot change on Linux, so a mode
/// request on a link is left out of `changed` but kept in the diff, and leaves the target
/// alone, as Ansible does).
pub fn attrs_function(mode: Option<&ModeSpec>) -> String {
    attrs_function_named("setattrs", mode)
}

/// [`attrs_function`] under another name (copy's `directory_mode` needs a second one).
pub fn attrs_function_named(name: &str, mode: Option<&ModeSpec>) -> String {
    let mode_code = match mode {
        Some(spec) => format!(
            r#"  m=$_cur; d=$_d
{}
  if [ "$m" -ne "$_cur" ]; then
    # A link's own mode cannot change on Linux: Ansible shows it in the diff, not as a change.
    [ -L "$1" ] || emit chg mode
    oct "$_cur"; emit b_mode "$_oc"; oct "$m"; emit a_mode "$_oc"
    if [ "$CHECK" != 1 ] && [ ! -L "$1" ]; then
      # Five digits: GNU chmod keeps a directory's setuid/setgid bits for shorter numbers.
      _o5=0000$_oc; _o5=0${{_o5#"${{_o5%????}}"}}
      _chd=1; chmod -- "$_o5" "$1" 2>/dev/null || die "chmod failed"
    fi
  fi
"#,
            spec.sh_compute()
        ),
        None => String::new(),
    };
    format!(
        r#"{name}() {{
  lst "$1" || return 0
  _chd=0
  _cur=$(( 0x$st_f & 4095 )); _d=0
  if [ -d "$1" ] && [ ! -L "$1" ]; then _d=1; fi
  if [ -n "$OWN" ]; then
    [ -n "$WUID" ] || WUID=$(uid_of "$OWN")
    [ -n "$WUID" ] || die "chown failed: failed to look up user $OWN"
    if [ "$st_u" != "$WUID" ]; then
      emit chg owner; emit b_owner "$st_u"; emit a_owner "$WUID"
      if [ "$CHECK" != 1 ]; then
        _chd=1; _err=$(LC_ALL=C chown -h -- "$WUID" "$1" 2>&1) || die "chown failed: $(py_oserror "$_err" "$1")"
      fi
    fi
  fi
  if [ -n "$GRP" ]; then
    [ -n "$WGID" ] || WGID=$(gid_of "$GRP")
    [ -n "$WGID" ] || die "chgrp failed: failed to look up group $GRP"
    if [ "$st_g" != "$WGID" ]; then
      emit chg group; emit b_group "$st_g"; emit a_group "$WGID"
      if [ "$CHECK" != 1 ]; then _chd=1; chgrp -h -- "$WGID" "$1" 2>/dev/null || die "chgrp failed"; fi
    fi
  fi
{mode_code}  [ "$_chd" = 1 ] || _lp=$1
}}
"#
    )
}

/// Marks a result of a task that runs in diff mode (`--diff` or the `diff` keyword), so the
/// console prints its `diff` as Ansible's `v2_on_file_diff` does only then; without it the
/// `diff` is kept in the result (Ansible registers it too) but not printed. `_ansible_*` keys
/// are dropped before a result is registered.
pub fn mark_diff_mode(result: &mut Map, ctx: &ModuleContext<'_>) {
    if ctx.diff && result.contains_key("diff") {
        result.insert(crate::report::DIFF_MODE_KEY.into(), Value::Bool(true));
    }
}

/// Shell variable assignments every attribute-setting script starts with.
pub fn attrs_vars(check: bool, owner: Option<&str>, group: Option<&str>) -> String {
    format!(
        "CHECK={}\nOWN={}\nGRP={}\nWUID=\nWGID=\n",
        u8::from(check),
        quote(owner.unwrap_or("")),
        quote(group.unwrap_or(""))
    )
}

/// Runs a script on the task's connection, with the task's become, environment and timeout.
pub async fn exec(
    ctx: &ModuleContext<'_>,
    script: String,
    stdin: Option<Vec<u8>>,
) -> Result<ExecOutput, ConnError> {
    ctx.conn.exec(request(ctx, script, stdin)).await
}

/// The request for `script` with the task's become, environment and timeout.
fn request(ctx: &ModuleContext<'_>, script: String, stdin: Option<Vec<u8>>) -> ExecRequest {
    ExecRequest {
        script,
        stdin,
        become_: ctx.become_.clone(),
        env: ctx.env.clone(),
        timeout: ctx.timeout,
        ..ExecRequest::default()
    }
}

/// [`run_script`] with the controller file `stdin_file` streamed to the script's stdin in
/// chunks (big `copy` sources: never held whole in memory).
pub async fn run_script_streaming(
    ctx: &ModuleContext<'_>,
    body: &str,
    stdin_file: &std::path::Path,
) -> Result<Result<Records, Map>, ConnError> {
    let mut req = request(ctx, format!("{PRELUDE}{body}"), None);
    req.stdin_file = Some(stdin_file.to_path_buf());
    let output = ctx.conn.exec(req).await?;
    Ok(records_or_failure(&output))
}

/// Runs PRELUDE + `body` and parses its records. A script that exits non-zero without
/// reporting anything yields a failed result carrying its stderr.
pub async fn run_script(
    ctx: &ModuleContext<'_>,
    body: &str,
    stdin: Option<Vec<u8>>,
) -> Result<Result<Records, Map>, ConnError> {
    let output = exec(ctx, format!("{PRELUDE}{body}"), stdin).await?;
    Ok(records_or_failure(&output))
}

/// The records of a finished script, or the failure result when it broke before reporting.
pub fn records_or_failure(output: &ExecOutput) -> Result<Records, Map> {
    let records = Records::parse(&output.stdout);
    if output.rc != 0 && records.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr)
            .trim_end()
            .to_string();
        let mut result = failed(if stderr.is_empty() {
            format!("remote script failed with exit code {}", output.rc)
        } else {
            stderr
        });
        result.insert("rc".into(), Value::from(output.rc));
        return Err(result);
    }
    Ok(records)
}

/// `{failed: true, msg}`.
pub fn failed(msg: impl Into<String>) -> Map {
    let mut result = Map::new();
    result.insert("failed".into(), Value::Bool(true));
    result.insert("msg".into(), Value::String(msg.into()));
    result
}

/// `{failed: true, msg, changed: false}`: the failure shape of the controller-side
/// modules (add_host, assert, include_vars, k8s_info, set_fact), which always say
/// they changed nothing.
pub fn failed_unchanged(msg: impl Into<String>) -> Map {
    let mut result = failed(msg);
    result.insert("changed".into(), Value::Bool(false));
    result
}

/// The `key=value` records a script emitted, in order (a key may repeat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    pub items: Vec<(String, String)>,
}

impl Records {
    pub fn parse(stdout: &[u8]) -> Records {
        let items = stdout
            .split(|b| *b == 0)
            .filter(|chunk| !chunk.is_empty())
            .filter_map(|chunk| {
                // Scripts send nothing else to stdout; anything not shaped `identifier=` is
                // dropped rather than misread.
                let text = String::from_utf8_lossy(chunk);
                let (key, value) = text.split_once('=')?;
                let plain =
                    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                plain.then(|| (key.to_string(), value.to_string()))
            })
            .collect();
        Records { items }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.items
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.items.iter().any(|(k, _)| k == key)
    }

    /// The failure the script reported with `die`, as a result map.
    pub fn failure(&self) -> Option<Map> {
        self.has("failed")
            .then(|| failed(self.get("msg").unwrap_or("module failed")))
    }

    /// Whether `setattrs` changed (or would change) anything.
    pub fn attrs_changed(&self) -> bool {
        self.has("chg")
    }

    /// Ansible's attribute diff (`before`/`after` with mode, owner, group) for `path`.
    pub fn attrs_diff(&self, before: &mut Map, after: &mut Map) {
        if let (Some(b), Some(a)) = (self.get("b_mode"), self.get("a_mode")) {
            before.insert("mode".into(), Value::String(format_mode_str(b)));
            after.insert("mode".into(), Value::String(format_mode_str(a)));
        }
        for key in ["owner", "group"] {
            let (b, a) = (self.get(&format!("b_{key}")), self.get(&format!("a_{key}")));
            if let (Some(b), Some(a)) = (b, a) {
                before.insert(key.into(), number_or_string(b));
                after.insert(key.into(), number_or_string(a));
            }
        }
    }
}

fn number_or_string(text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// `'0%03o'`: how Ansible prints modes (`0644`, `01777`).
pub fn format_mode(mode: u32) -> String {
    format!("0{mode:03o}")
}

/// Formats an octal string from the target (`644`) as Ansible does (`0644`).
pub fn format_mode_str(octal: &str) -> String {
    u32::from_str_radix(octal, 8)
        .map(format_mode)
        .unwrap_or_else(|_| octal.to_string())
}

const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;

/// File type of a raw `st_mode`, as Ansible's `state` names it (`nlink` > 1 makes a file `hard`).
pub fn state_of(raw_mode: u32, nlink: u64) -> &'static str {
    match raw_mode & S_IFMT {
        S_IFLNK => "link",
        S_IFDIR => "directory",
        S_IFREG if nlink > 1 => "hard",
        _ => "file",
    }
}

/// The script's `warning` records as the result's `warnings` list (absent when none).
pub fn add_warnings(result: &mut Map, records: &Records) {
    let warnings: Vec<Value> = records
        .all("warning")
        .map(|w| Value::String(w.into()))
        .collect();
    if !warnings.is_empty() {
        result.insert("warnings".into(), Value::Array(warnings));
    }
}

/// Adds Ansible's `add_path_info` keys (`uid, gid, owner, group, mode, state, size`) from the
/// `pi_*` records `pinfo` emitted, when there are any (the path exists).
pub fn add_path_info(result: &mut Map, records: &Records) {
    let Some(raw) = records
        .get("pi_raw")
        .and_then(|r| u32::from_str_radix(r, 16).ok())
    else {
        return;
    };
    let num = |key: &str| {
        records
            .get(key)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let name = |key: &str, id: &str| match records.get(key) {
        Some(n) if n != "UNKNOWN" => n.to_string(),
        _ => records.get(id).unwrap_or("").to_string(),
    };
    result.insert("uid".into(), Value::from(num("pi_uid")));
    result.insert("gid".into(), Value::from(num("pi_gid")));
    result.insert("owner".into(), Value::String(name("pi_owner", "pi_uid")));
    result.insert("group".into(), Value::String(name("pi_group", "pi_gid")));
    result.insert("mode".into(), Value::String(format_mode(raw & 0o7777)));
    result.insert(
        "state".into(),
        Value::String(state_of(raw, num("pi_nlink")).into()),
    );
    result.insert("size".into(), Value::from(num("pi_size")));
}

/// A `mode` parameter, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeSpec {
    /// Permission bits, as a number.
    Octal(u32),
    /// Comma-separated clauses, already checked for syntax.
    Symbolic(Vec<Clause>),
}

/// One symbolic clause: `ug+rw-x` is users `ug` and the operations `+rw`, `-x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// `u`, `g` and/or `o` (`a` and the empty who are expanded to `ugo`).
    pub users: String,
    /// The empty who: bits masked by the umask.
    pub use_umask: bool,
    pub ops: Vec<(char, String)>,
}

/// Why a mode was rejected, with Ansible's `msg` and `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeError {
    pub msg: String,
    pub details: String,
}

impl ModeError {
    /// The failed result Ansible returns (`path`, `msg`, `details`).
    pub fn into_result(self, path: &str) -> Map {
        let mut result = failed(self.msg);
        result.insert("path".into(), Value::String(path.to_string()));
        result.insert("details".into(), Value::String(self.details));
        result
    }
}

/// Parses a `mode` value as Ansible does. `None` (or null) leaves the mode alone.
pub fn parse_mode(value: &Value) -> Result<Option<ModeSpec>, ModeError> {
    let invalid = |details: String| ModeError {
        msg: "Invalid mode supplied, only permission info is allowed".into(),
        details,
    };
    match value {
        Value::Null => Ok(None),
        // Ansible hands numbers to chmod(2) unchecked; the kernel keeps the permission bits.
        Value::Number(n) => match n.as_i64() {
            Some(m) if m >= 0 => Ok(Some(ModeSpec::Octal((m & 0o7777) as u32))),
            Some(m) => Err(invalid(m.to_string())),
            None => Err(ModeError {
                msg: "mode must be in octal or symbolic form".into(),
                details: format!("'float' object has no attribute 'split' ({n})"),
            }),
        },
        Value::String(text) => match parse_octal(text) {
            Some(m) if m >= 0 => Ok(Some(ModeSpec::Octal((m & 0o7777) as u32))),
            Some(m) => Err(invalid(m.to_string())),
            None => parse_symbolic(text).map(|c| Some(ModeSpec::Symbolic(c))),
        },
        other => Err(ModeError {
            msg: "mode must be in octal or symbolic form".into(),
            details: format!("unsupported mode value {other}"),
        }),
    }
}

/// Python's `int(text, 8)`: optional sign and `0o` prefix, digits with single underscores.
fn parse_octal(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits = t
        .strip_prefix("0o")
        .or_else(|| t.strip_prefix("0O"))
        .map(|d| d.strip_prefix('_').unwrap_or(d))
        .unwrap_or(t);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits
            .bytes()
            .all(|b| (b'0'..=b'7').contains(&b) || b == b'_')
    {
        return None;
    }
    let value = i64::from_str_radix(&digits.replace('_', ""), 8).ok()?;
    Some(if negative { -value } else { value })
}

fn parse_symbolic(text: &str) -> Result<Vec<Clause>, ModeError> {
    let bad = |clause: &str| ModeError {
        msg: "mode must be in octal or symbolic form".into(),
        details: format!("bad symbolic permission for mode: {clause}"),
    };
    let mut clauses = Vec::new();
    for clause in text.split(',') {
        let op_at = clause.find(['+', '-', '=']).unwrap_or(clause.len());
        let who = &clause[..op_at];
        let use_umask = who.is_empty();
        let users = if who.is_empty() || who == "a" {
            "ugo"
        } else {
            who
        };
        if !users.bytes().all(|b| b"ugo".contains(&b)) {
            return Err(bad(clause));
        }
        let mut ops = Vec::new();
        let mut rest = &clause[op_at..];
        while let Some(op) = rest.chars().next() {
            let body = &rest[1..];
            let end = body.find(['+', '-', '=']).unwrap_or(body.len());
            let perms = &body[..end];
            if !perms.bytes().all(|b| b"rwxXstugo".contains(&b)) {
                return Err(bad(clause));
            }
            ops.push((op, perms.to_string()));
            rest = &body[end..];
        }
        clauses.push(Clause {
            users: users.to_string(),
            use_umask,
            ops,
        });
    }
    Ok(clauses)
}

/// The permission bits of one `perm` letter for one user, as (constant, umask-able) parts or
/// a copy of another class's bits; used by both the evaluator and the shell compiler.
enum Bits {
    Fixed(u32),
    /// Masked by the reversed umask when the who was empty.
    Maskable(u32),
    /// `X`: the x bit, only for directories or when some x bit is already set.
    CondExec(u32),
    /// Copy of a class's rwx bits: (mask, shift left (positive) or right (negative)).
    Copy(u32, i32),
}

fn perm_bits(user: char, perm: char) -> Bits {
    let shift = match user {
        'u' => 6,
        'g' => 3,
        _ => 0,
    };
    match perm {
        'r' => Bits::Maskable(4 << shift),
        'w' => Bits::Maskable(2 << shift),
        'x' => Bits::Maskable(1 << shift),
        'X' => Bits::CondExec(1 << shift),
        's' => Bits::Fixed(match user {
            'u' => 0o4000,
            'g' => 0o2000,
            _ => 0,
        }),
        't' => Bits::Fixed(if user == 'o' { 0o1000 } else { 0 }),
        source => {
            let from = match source {
                'u' => 6,
                'g' => 3,
                _ => 0,
            };
            Bits::Copy(0o7 << from, shift - from)
        }
    }
}

/// The bits `=` clears for a user class (its rwx and its special bit).
fn class_mask(user: char) -> u32 {
    match user {
        'u' => 0o4700,
        'g' => 0o2070,
        _ => 0o1007,
    }
}

/// Applies symbolic clauses to a current mode, as Ansible's `_symbolic_mode_to_octal` does.
pub fn apply_symbolic(clauses: &[Clause], current: u32, is_dir: bool, umask: u32) -> u32 {
    let rev_umask = umask ^ 0o7777;
    let mut mode = current & 0o7777;
    for clause in clauses {
        for (op, perms) in &clause.ops {
            for user in clause.users.chars() {
                let mut apply = 0;
                for perm in perms.chars() {
                    apply |= match perm_bits(user, perm) {
                        Bits::Fixed(b) => b,
                        Bits::Maskable(b) if clause.use_umask => b & rev_umask,
                        Bits::Maskable(b) => b,
                        Bits::CondExec(b) if is_dir || mode & 0o111 != 0 => b,
                        Bits::CondExec(_) => 0,
                        Bits::Copy(mask, shift) if shift >= 0 => (mode & mask) << shift,
                        Bits::Copy(mask, shift) => (mode & mask) >> -shift,
                    };
                }
                mode = match op {
                    '=' => (mode & (class_mask(user) ^ 0o7777)) | apply,
                    '+' => mode | apply,
                    _ => mode & !apply,
                };
            }
        }
    }
    mode
}

impl ModeSpec {
    /// `sh` code that turns `$m` (the current permission bits, decimal) into the wanted mode,
    /// given `$d` (1 for a directory). Symbolic modes read the umask on the target.
    pub fn sh_compute(&self) -> String {
        match self {
            ModeSpec::Octal(mode) => format!("  m={mode}"),
            ModeSpec::Symbolic(clauses) => {
                let mut code = String::from("  rum=$(( 4095 ^ 0$(umask) ))\n");
                for clause in clauses {
                    for (op, perms) in &clause.ops {
                        for user in clause.users.chars() {
                            code.push_str(&format!(
                                "  a=$(( {} ))\n  {}\n",
                                sh_apply_expr(user, perms, clause.use_umask),
                                sh_operation(user, *op)
                            ));
                        }
                    }
                }
                code
            }
        }
    }

    /// The mode for a path whose current mode, type and umask are known (check-mode reports,
    /// tests).
    pub fn resolve(&self, current: u32, is_dir: bool, umask: u32) -> u32 {
        match self {
            ModeSpec::Octal(mode) => *mode,
            ModeSpec::Symbolic(clauses) => apply_symbolic(clauses, current, is_dir, umask),
        }
    }
}

fn sh_apply_expr(user: char, perms: &str, use_umask: bool) -> String {
    let mut parts = vec!["0".to_string()];
    for perm in perms.chars() {
        parts.push(match perm_bits(user, perm) {
            Bits::Fixed(b) => b.to_string(),
            Bits::Maskable(b) if use_umask => format!("(rum & {b})"),
            Bits::Maskable(b) => b.to_string(),
            Bits::CondExec(b) => format!("((d || (m & 73)) ? {b} : 0)"),
            Bits::Copy(mask, shift) if shift >= 0 => format!("((m & {mask}) << {shift})"),
            Bits::Copy(mask, shift) => format!("((m & {mask}) >> {})", -shift),
        });
    }
    parts.join(" | ")
}

fn sh_operation(user: char, op: char) -> String {
    match op {
        '=' => format!("m=$(( (m & {}) | a ))", class_mask(user) ^ 0o7777),
        '+' => "m=$(( m | a ))".to_string(),
        _ => "m=$(( m & (4095 ^ a) ))".to_string(),
    }
}

/// A string argument, when present and not null.
pub fn opt_str(args: &Map, key: &str) -> Option<String> {
    match args.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(crate::py::str(other)),
    }
}

/// A boolean argument (already coerced by the argspec), `default` when absent.
pub fn bool_arg(args: &Map, key: &str, default: bool) -> bool {
    args.get(key).and_then(Value::as_bool).unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sh(script: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{PRELUDE}\n{script}"))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        out.unwrap_or_default()
    }

    #[test]
    fn dir_of_is_posix_dirname_without_a_process() {
        let cases = [
            "/a/b",
            "/a/b/",
            "/a//b//",
            "a",
            "a/",
            "/",
            "//",
            "///x",
            "",
            ".",
            "..",
            "a/b/c",
            "/a b/$(x)/c",
            "./x",
            "x//y",
        ];
        for path in cases {
            let want = std::process::Command::new("dirname")
                .arg("--")
                .arg(path)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim_end().to_string())
                .unwrap();
            let got = sh(&format!("dir_of {}; printf %s \"$_dn\"", quote(path)));
            assert_eq!(got, want, "dirname of {path:?}");
        }
    }

    #[test]
    fn oct_formats_permission_bits_like_printf() {
        for mode in [0u32, 0o7, 0o44, 0o600, 0o644, 0o755, 0o1777, 0o4711, 0o7777] {
            let got = sh(&format!("oct {mode}; printf %s \"$_oc\""));
            assert_eq!(got, format!("{mode:o}"), "mode {mode:o}");
        }
    }

    #[test]
    fn tool_errors_read_as_python_oserrors() {
        assert_eq!(
            sh("py_oserror \"chown: changing ownership of '/x/y': Operation not permitted\" /x/y"),
            "[Errno 1] Operation not permitted: b'/x/y'"
        );
        assert_eq!(sh("py_oserror 'odd failure' /x"), "odd failure");
        assert_eq!(
            sh("py_oserror \"ln: failed to create symbolic link '/n/x': No such file or directory\" /a /n/x"),
            "[Errno 2] No such file or directory: b'/a' -> b'/n/x'"
        );
        assert_eq!(
            sh("py_oserror \"mkdir: cannot create directory '/a/b': Permission denied\" /a/b"),
            "[Errno 13] Permission denied: b'/a/b'"
        );
        assert_eq!(
            sh("py_oserror \"mkdir: cannot create directory '/f/x': Not a directory\" /f/x"),
            "[Errno 20] Not a directory: b'/f/x'"
        );
        // The reason is the last part: a path holding another reason's words does not count.
        assert_eq!(
            sh("py_oserror \"mkdir: cannot create directory '/File exists': No space left on device\" '/File exists'"),
            "[Errno 28] No space left on device: b'/File exists'"
        );
    }

    fn sym(text: &str) -> ModeSpec {
        parse_mode(&json!(text)).unwrap().unwrap()
    }

    #[test]
    fn octal_modes_parse_like_python_int_base_8() {
        assert_eq!(
            parse_mode(&json!(420)).unwrap(),
            Some(ModeSpec::Octal(0o644))
        );
        assert_eq!(
            parse_mode(&json!("0644")).unwrap(),
            Some(ModeSpec::Octal(0o644))
        );
        assert_eq!(
            parse_mode(&json!("644")).unwrap(),
            Some(ModeSpec::Octal(0o644))
        );
        assert_eq!(
            parse_mode(&json!("0o755")).unwrap(),
            Some(ModeSpec::Octal(0o755))
        );
        assert_eq!(
            parse_mode(&json!("1777")).unwrap(),
            Some(ModeSpec::Octal(0o1777))
        );
        assert_eq!(parse_mode(&Value::Null).unwrap(), None);
        // `mode: 644` unquoted in YAML is decimal 644 = 0o1204, used as-is.
        assert_eq!(
            parse_mode(&json!(644)).unwrap(),
            Some(ModeSpec::Octal(0o1204))
        );
    }

    #[test]
    fn out_of_range_and_garbage_modes_fail_with_ansible_messages() {
        // Like chmod(2), only the permission bits of a large octal value count.
        assert_eq!(
            parse_mode(&json!("07777777")).unwrap(),
            Some(ModeSpec::Octal(0o7777))
        );
        let err = parse_mode(&json!(-1)).unwrap_err();
        assert_eq!(
            err.msg,
            "Invalid mode supplied, only permission info is allowed"
        );
        let err = parse_mode(&json!("u+rwz")).unwrap_err();
        assert_eq!(err.msg, "mode must be in octal or symbolic form");
        assert_eq!(err.details, "bad symbolic permission for mode: u+rwz");
        assert!(parse_mode(&json!("q=r")).is_err());
        assert!(parse_mode(&json!("ua+r")).is_err());
    }

    #[test]
    fn symbolic_modes_follow_ansible_rules() {
        let on = |m: &str, cur: u32, dir: bool| sym(m).resolve(cur, dir, 0o022);
        assert_eq!(on("u+x", 0o644, false), 0o744);
        assert_eq!(on("u=rw,g=r,o=", 0o777, false), 0o640);
        assert_eq!(on("a+X", 0o644, false), 0o644);
        assert_eq!(on("a+X", 0o644, true), 0o755);
        assert_eq!(on("a+X", 0o744, false), 0o755);
        // The empty who applies the umask.
        assert_eq!(on("+w", 0o444, false), 0o644);
        assert_eq!(on("a+w", 0o444, false), 0o666);
        // `=` clears the special bit of the class.
        assert_eq!(on("u=rwx", 0o4755, false), 0o755);
        assert_eq!(on("o=t", 0o777, true), 0o1770);
        assert_eq!(on("g+s", 0o755, true), 0o2755);
        assert_eq!(on("u+r-w", 0o644, false), 0o444);
        assert_eq!(on("g=u", 0o640, false), 0o660);
        assert_eq!(on("o=g", 0o750, false), 0o755);
        assert_eq!(on("go-rwx", 0o777, false), 0o700);
        // A clause without an operator changes nothing (and is not an error).
        assert_eq!(on("ug", 0o600, false), 0o600);
    }

    /// The shell compilation of symbolic modes computes what the evaluator computes.
    #[test]
    fn symbolic_modes_compile_to_equivalent_sh_arithmetic() {
        let modes = [
            "u+x",
            "u=rw,g=r,o=",
            "a+X",
            "+w",
            "a+w",
            "u=rwx",
            "o=t",
            "g+s",
            "u+r-w",
            "g=u",
            "o=g",
            "go-rwx",
            "=r",
            "u=g,g=o,o=u",
            "a-X",
            "-x",
        ];
        for mode in modes {
            for (cur, dir) in [
                (0o644u32, false),
                (0o755, true),
                (0o4711, false),
                (0o1777, true),
            ] {
                let spec = sym(mode);
                let script = format!(
                    "umask 027; m={cur}; d={}\n{}\nprintf %o \"$m\"",
                    u8::from(dir),
                    spec.sh_compute()
                );
                let out = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&script)
                    .output()
                    .unwrap();
                let got = u32::from_str_radix(&String::from_utf8_lossy(&out.stdout), 8)
                    .unwrap_or(u32::MAX);
                assert_eq!(
                    got,
                    spec.resolve(cur, dir, 0o027),
                    "{mode} on {cur:o} (dir={dir}): {script}"
                );
            }
        }
    }

    #[test]
    fn records_are_nul_terminated_and_keep_any_byte() {
        let records = Records::parse(b"path=/a b\nc\0changed=1\0not a record\0msg=x=y\0");
        assert_eq!(records.get("path"), Some("/a b\nc"));
        assert_eq!(records.get("changed"), Some("1"));
        assert_eq!(records.get("msg"), Some("x=y"));
    }

    #[test]
    fn path_info_uses_ansible_names_and_formats() {
        let records = Records::parse(
            b"pi_raw=81a4\0pi_uid=0\0pi_gid=0\0pi_owner=root\0pi_group=UNKNOWN\0pi_size=5\0pi_nlink=2\0",
        );
        let mut result = Map::new();
        add_path_info(&mut result, &records);
        assert_eq!(result["mode"], "0644");
        assert_eq!(result["state"], "hard");
        assert_eq!(result["group"], "0");
        assert_eq!(result["owner"], "root");
        assert_eq!(result["size"], 5);
        assert_eq!(format_mode(0o1777), "01777");
        assert_eq!(format_mode(0o4444), "04444");
        assert_eq!(format_mode(0o7), "0007");
    }
}

/// A module's parameters followed by Ansible's file common arguments (`mode`, `owner`,
/// `group`, `attributes`, SELinux fields, `unsafe_writes`), as one static slice. The last
/// three are accepted but not implemented: a task that sets them gets a warning.
macro_rules! with_file_common {
    ($($param:expr),* $(,)?) => {
        &[
            $($param,)*
            $crate::modules::argspec::Param::new("mode", $crate::modules::argspec::Kind::Raw),
            $crate::modules::argspec::Param::new("owner", $crate::modules::argspec::Kind::Str),
            $crate::modules::argspec::Param::new("group", $crate::modules::argspec::Kind::Str),
            $crate::modules::argspec::Param {
                aliases: &["attr"],
                ..$crate::modules::argspec::Param::new("attributes", $crate::modules::argspec::Kind::Str)
            }.ignored(),
            $crate::modules::argspec::Param::new("seuser", $crate::modules::argspec::Kind::Str).ignored(),
            $crate::modules::argspec::Param::new("serole", $crate::modules::argspec::Kind::Str).ignored(),
            $crate::modules::argspec::Param::new("setype", $crate::modules::argspec::Kind::Str).ignored(),
            $crate::modules::argspec::Param::new("selevel", $crate::modules::argspec::Kind::Str).ignored(),
            // Writes are always atomic here; the non-atomic fallback is never needed.
            $crate::modules::argspec::Param {
                default: Some("false"),
                ..$crate::modules::argspec::Param::new("unsafe_writes", $crate::modules::argspec::Kind::Bool)
            }.ignored(),
        ]
    };
}
pub(crate) use with_file_common;

/// What module tests share: the real local connection, a cluster that
/// refuses every call, and a runner that normalises arguments as the engine does.
#[cfg(test)]
pub(crate) mod testkit {
    use crate::connection::local::LocalConnection;
    use crate::kube::{Cluster, EventSpec, InfoAnswer, InfoQuery, KubeError};
    use crate::modules::{Module, ModuleContext};
    use crate::template::{Scope, Templar};
    use crate::{Map, Value};
    use async_trait::async_trait;
    use std::path::PathBuf;

    /// A test's JSON object as module arguments (anything else gives no arguments).
    pub fn args(v: Value) -> Map {
        v.as_object().cloned().unwrap_or_default()
    }

    /// Writes an executable shell script `name` into `dir` and returns the environment that
    /// puts `dir` first on PATH, so a module's script runs this fake instead of the real
    /// command (`service`, `systemctl`, ...).
    pub fn fake_command_env(
        dir: &std::path::Path,
        name: &str,
        script: &str,
    ) -> Vec<(String, String)> {
        let bin = dir.join(name);
        std::fs::write(&bin, script).unwrap();
        std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let path = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        vec![("PATH".into(), path)]
    }

    /// A cluster that is never there.
    pub struct NoCluster;

    #[async_trait]
    impl Cluster for NoCluster {
        async fn info(&self, _query: &InfoQuery) -> Result<InfoAnswer, KubeError> {
            Err(KubeError {
                code: 0,
                reason: "test".into(),
                message: "no cluster in tests".into(),
            })
        }
        async fn post_event(&self, _event: &EventSpec) -> Result<(), KubeError> {
            Err(KubeError {
                code: 0,
                reason: "test".into(),
                message: "no cluster in tests".into(),
            })
        }
    }

    /// A plain module context for `host` on `conn`: not in check or diff mode, no become,
    /// environment, timeout or search paths, `vars` as the task's variables and a cluster
    /// that is never there.
    pub fn context<'a>(
        host: &'a str,
        conn: &'a dyn crate::connection::Connection,
        templar: &'a Templar,
        vars: &'a Map,
    ) -> ModuleContext<'a> {
        ModuleContext {
            host,
            conn,
            check_mode: false,
            diff: false,
            become_: None,
            env: Vec::new(),
            timeout: None,
            templar,
            scope: Scope {
                vars,
                search_paths: &[],
            },
            kube: &NoCluster,
            verbosity: 0,
        }
    }

    /// How a test runs a module.
    #[derive(Default)]
    pub struct Options {
        pub check: bool,
        pub diff: bool,
        pub vars: Map,
        pub search_paths: Vec<PathBuf>,
        pub env: Vec<(String, String)>,
    }

    /// Normalises `args` with the module's spec, then runs it; a spec error is returned as
    /// the failed result the engine would report.
    pub async fn run_with(module: &dyn Module, args: Value, options: Options) -> Map {
        run_on(&LocalConnection, module, args, options).await
    }

    /// [`run_with`] on a given connection.
    pub async fn run_on(
        conn: &dyn crate::connection::Connection,
        module: &dyn Module,
        args: Value,
        options: Options,
    ) -> Map {
        let Value::Object(args) = args else {
            panic!("test args must be a mapping")
        };
        let args = if module.accepts_any_args() {
            args
        } else {
            if let Err(msg) = module.spec().check_names(module.fqcn(), &args) {
                return super::failed(msg);
            }
            match module.spec().normalize(module.fqcn(), args) {
                Ok(args) => args,
                Err(msg) => return super::failed(msg),
            }
        };
        let templar = Templar::new();
        let ctx = ModuleContext {
            check_mode: options.check,
            diff: options.diff,
            env: options.env,
            scope: Scope {
                vars: &options.vars,
                search_paths: &options.search_paths,
            },
            ..context("localhost", conn, &templar, &options.vars)
        };
        module
            .run(args, &ctx)
            .await
            .expect("the local shell is always reachable")
    }

    pub async fn run(module: &dyn Module, args: Value) -> Map {
        run_with(module, args, Options::default()).await
    }

    pub async fn check(module: &dyn Module, args: Value) -> Map {
        run_with(
            module,
            args,
            Options {
                check: true,
                ..Options::default()
            },
        )
        .await
    }

    /// A temp dir whose name has a space, a quote and `$()` in it, so every test also
    /// checks that paths are data.
    pub fn nasty_tempdir() -> (tempfile::TempDir, String) {
        let dir = tempfile::Builder::new()
            .prefix("hr it's $(touch PWNED); x\n")
            .tempdir()
            .expect("temp dir");
        let path = dir.path().to_string_lossy().to_string();
        (dir, path)
    }
}
