//! `ansible.builtin.group`: makes a local group exist (or not) on the target.
//!
//! Semantics (ansible-core 2.18 module `group.py`, Linux flavour, from its documentation):
//! - `name` (required), `state` `present` (default) / `absent`, `gid`, `system`, `non_unique`
//!   (needs `gid`: `missing parameter(s) required by 'non_unique': gid` otherwise), `force`,
//!   `gid_min`, `gid_max`.
//! - present, group missing: `groupadd [-g GID [-o]] [-r] [-K GID_MIN=..] [-K GID_MAX=..] NAME`.
//!   present, group there: `groupmod -g GID [-o] NAME` only when `gid` is given and differs;
//!   otherwise nothing happens (`changed: false`).
//! - absent: `groupdel [-f] NAME` when the group exists (`-f` with `force`).
//! - A command that fails makes the task fail with its stderr as `msg` (and `name`; no `rc`).
//! - Check mode: creating or removing reports `{changed: true}` alone; a gid change reports
//!   `changed` with the current group info. Nothing runs.
//! - Result: `name`, `state`, `changed`, `stdout`/`stderr` when the command printed anything,
//!   and, when the group exists afterwards, `system` (as given) and `gid` (the real one).
//!
//! Group lookups go through `getent group` (NSS, as Python's `grp` does), with `/etc/group` as
//! the fallback where `getent` is missing. One round trip.
//! Not supported: `local: true` (the libuser `lgroupadd` tools): the task fails saying so.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Group;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            required: true,
            ..Param::new("name", Kind::Str)
        },
        Param {
            default: Some("present"),
            choices: &["absent", "present"],
            ..Param::new("state", Kind::Str)
        },
        Param {
            default: Some("false"),
            ..Param::new("force", Kind::Bool)
        },
        Param::new("gid", Kind::Int),
        Param {
            default: Some("false"),
            ..Param::new("system", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("local", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("non_unique", Kind::Bool)
        },
        Param::new("gid_min", Kind::Int),
        Param::new("gid_max", Kind::Int),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
struct GroupArgs {
    name: String,
    state: String,
    #[serde(default)]
    force: bool,
    gid: Option<i64>,
    #[serde(default)]
    system: bool,
    #[serde(default)]
    local: bool,
    #[serde(default)]
    non_unique: bool,
    gid_min: Option<i64>,
    gid_max: Option<i64>,
}

#[async_trait]
impl Module for Group {
    fn name(&self) -> &'static str {
        "group"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.group"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<GroupArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: GroupArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        if let Some(failure) = check_args(&args) {
            return Ok(failure);
        }
        let script = build_script(&args, ctx.check_mode);
        let records = match remote::run_script(ctx, &script, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        Ok(build_result(&args, &records))
    }
}

/// The argument rules Ansible checks before touching anything.
fn check_args(args: &GroupArgs) -> Option<Map> {
    if args.non_unique && args.gid.is_none() {
        return Some(remote::failed(
            "missing parameter(s) required by 'non_unique': gid",
        ));
    }
    if args.local {
        let msg = if args.force {
            "force is not a valid option for local, force=True and local=True are mutually exclusive"
        } else {
            "local: true (the libuser lgroupadd tools) is not supported by hook-runner"
        };
        return Some(remote::failed(msg));
    }
    None
}

/// Shell functions the account modules (`group`, `user`) share.
///
/// - `dbent DB KEY`: the `getent DB KEY` line (passwd, group, shadow), from `/etc/DB` when
///   `getent` is missing; status 2 when there is none.
/// - `runcmd CMD ARGS...`: runs a command (which must exist: Ansible's `get_bin_path` failure
///   otherwise), emitting `rc`, `out` and `err` records; returns its status.
/// - `cmdfail`: ends the script as a failed command (the module turns the records into
///   Ansible's `fail_json(name=..., msg=stderr, rc=...)`).
pub(crate) const ACCOUNT_SH: &str = r#"dbent() {
  if command -v getent >/dev/null 2>&1; then getent "$1" "$2"; return; fi
  [ -r "/etc/$1" ] || return 2
  while IFS= read -r _l; do
    case $_l in "$2":*) printf '%s\n' "$_l"; return 0 ;; esac
    if [ "$1" = group ]; then
      _r=${_l#*:}; _r=${_r#*:}; _r=${_r%%:*}
      [ "$_r" = "$2" ] && { printf '%s\n' "$_l"; return 0; }
    fi
  done <"/etc/$1"
  return 2
}
runcmd() {
  command -v "$1" >/dev/null 2>&1 || die "Failed to find required executable \"$1\" in paths: $PATH"
  _o=$(mktemp) && _e=$(mktemp) || die "cannot make a temporary file for $1's output"
  LC_ALL=C "$@" >"$_o" 2>"$_e" </dev/null
  _rc=$?
  emit rc "$_rc"
  printf 'out='; cat "$_o"; printf '\0'
  printf 'err='; cat "$_e"; printf '\0'
  rm -f -- "$_o" "$_e"
  return "$_rc"
}
cmdfail() { emit cmdfail 1; exit 0; }
field() { _n=$1; _IFS=$IFS; IFS=:; set -- $2; IFS=$_IFS; eval "printf '%s' \"\${$_n}\""; }
"#;

/// The script: see the module doc for what it does.
fn build_script(args: &GroupArgs, check: bool) -> String {
    let mut s = String::from(ACCOUNT_SH);
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    s.push_str(&format!(
        "CHECK={}\nNAME={}\nSTATE={}\nFORCE={}\nGID={}\nSYSTEM={}\nNON_UNIQUE={}\nGID_MIN={}\nGID_MAX={}\n",
        u8::from(check),
        quote(&args.name),
        quote(&args.state),
        u8::from(args.force),
        opt(args.gid),
        u8::from(args.system),
        u8::from(args.non_unique),
        opt(args.gid_min),
        opt(args.gid_max),
    ));
    s.push_str(GROUP_SH);
    s
}

/// The group logic on the target (variables set by [`build_script`]).
const GROUP_SH: &str = r#"_ent=$(dbent group "$NAME")
case $_ent in "$NAME":*) _exists=1 ;; *) _exists=0 ;; esac
if [ "$STATE" = absent ]; then
  if [ "$_exists" = 1 ]; then
    if [ "$CHECK" = 1 ]; then emit check_changed 1; exit 0; fi
    set -- groupdel
    [ "$FORCE" = 1 ] && set -- "$@" -f
    runcmd "$@" "$NAME" || cmdfail
  fi
  exit 0
fi
if [ "$_exists" = 0 ]; then
  if [ "$CHECK" = 1 ]; then emit check_changed 1; exit 0; fi
  set -- groupadd
  if [ -n "$GID" ]; then
    set -- "$@" -g "$GID"
    [ "$NON_UNIQUE" = 1 ] && set -- "$@" -o
  fi
  [ "$SYSTEM" = 1 ] && set -- "$@" -r
  [ -n "$GID_MIN" ] && set -- "$@" -K "GID_MIN=$GID_MIN"
  [ -n "$GID_MAX" ] && set -- "$@" -K "GID_MAX=$GID_MAX"
  runcmd "$@" "$NAME" || cmdfail
elif [ -n "$GID" ] && [ "$(field 3 "$_ent")" != "$GID" ]; then
  if [ "$CHECK" = 1 ]; then
    emit rc 0
  else
    set -- groupmod -g "$GID"
    [ "$NON_UNIQUE" = 1 ] && set -- "$@" -o
    runcmd "$@" "$NAME" || cmdfail
  fi
fi
_ent=$(dbent group "$NAME")
case $_ent in "$NAME":*) emit gid "$(field 3 "$_ent")" ;; esac
"#;

/// Ansible's result from the script's records.
fn build_result(args: &GroupArgs, records: &Records) -> Map {
    if let Some(failure) = records.failure() {
        return failure;
    }
    if records.has("check_changed") {
        return changed_only();
    }
    if records.has("cmdfail") {
        // group's fail_json carries no rc (user's does).
        let mut failure = command_failure(&args.name, records);
        failure.remove("rc");
        return failure;
    }
    let mut result = Map::new();
    result.insert("name".into(), Value::String(args.name.clone()));
    result.insert("state".into(), Value::String(args.state.clone()));
    result.insert("changed".into(), Value::Bool(records.has("rc")));
    add_command_output(&mut result, records);
    if let Some(gid) = records.get("gid") {
        result.insert("system".into(), Value::Bool(args.system));
        result.insert("gid".into(), number_or_text(gid));
    }
    result
}

/// `{changed: true}`: what Ansible's account modules report in check mode before creating or
/// removing (they exit early, with nothing else).
pub(crate) fn changed_only() -> Map {
    let mut result = Map::new();
    result.insert("changed".into(), Value::Bool(true));
    result
}

/// `fail_json(name=NAME, msg=STDERR, rc=RC)` after a failed command.
pub(crate) fn command_failure(name: &str, records: &Records) -> Map {
    let mut result = remote::failed(records.get("err").unwrap_or(""));
    result.insert("name".into(), Value::String(name.into()));
    if let Some(rc) = records.get("rc") {
        result.insert("rc".into(), number_or_text(rc));
    }
    result
}

/// `stdout` and `stderr`, only when the command printed something (as Ansible does).
pub(crate) fn add_command_output(result: &mut Map, records: &Records) {
    for (key, record) in [("stdout", "out"), ("stderr", "err")] {
        if let Some(text) = records.get(record).filter(|t| !t.is_empty()) {
            result.insert(key.into(), Value::String(text.into()));
        }
    }
}

/// A numeric field as a JSON number (ids), its text when it is not one.
pub(crate) fn number_or_text(text: &str) -> Value {
    text.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(text.into()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::modules::remote::testkit::{run_with, Options};
    use serde_json::json;
    use std::path::Path;

    /// A fake account database: `getent`, `groupadd`, `groupmod`, `groupdel`, `useradd`,
    /// `usermod` and `userdel` on PATH that work on `passwd`, `group` and `shadow` files in
    /// `dir`, and log their arguments to `dir/log`, so the modules' scripts run for real
    /// without root.
    pub(crate) fn fake_accounts(dir: &Path) -> Vec<(String, String)> {
        std::fs::write(dir.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(dir.join("group"), "root:x:0:\nusers:x:100:\n").unwrap();
        std::fs::write(dir.join("shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
        let d = dir.display().to_string();
        let log = format!("printf '%s\\n' \"$(basename \"$0\") $*\" >>'{d}/log'\n");
        let tools: &[(&str, &str)] = &[
            (
                "getent",
                r#"f="$DB/$1"; [ -n "$2" ] || { cat "$f"; exit 0; }
while IFS= read -r l; do
  case $l in "$2":*) printf '%s\n' "$l"; exit 0 ;; esac
  if [ "$1" = group ]; then r=${l#*:}; r=${r#*:}; r=${r%%:*}; [ "$r" = "$2" ] && { printf '%s\n' "$l"; exit 0; }; fi
done <"$f"
exit 2"#,
            ),
            (
                "groupadd",
                r#"gid=1000
while [ $# -gt 1 ]; do case $1 in -g) gid=$2; shift ;; -K) shift ;; esac; shift; done
grep -q "^$1:" "$DB/group" && { echo "groupadd: group '$1' already exists" >&2; exit 9; }
echo "$1:x:$gid:" >>"$DB/group""#,
            ),
            (
                "groupmod",
                r#"gid=$2; name=$3; [ "$3" = -o ] && name=$4
sed -i "s/^$name:x:[0-9]*:/$name:x:$gid:/" "$DB/group""#,
            ),
            (
                "groupdel",
                r#"for a; do n=$a; done
sed -i "/^$n:/d" "$DB/group""#,
            ),
            (
                "useradd",
                r#"uid=1000 gid=100 home= shell=/bin/sh comment= pw='!' groups=
while [ $# -gt 1 ]; do case $1 in
  -u) uid=$2; shift ;; -g) gid=$2; shift ;; -d) home=$2; shift ;; -s) shell=$2; shift ;;
  -c) comment=$2; shift ;; -p) pw=$2; shift ;; -G) groups=$2; shift ;; -k|-K) shift ;;
esac; shift; done
n=$1; [ -n "$home" ] || home=/home/$n
case $gid in *[!0-9]*) gid=$(grep "^$gid:" "$DB/group" | cut -d: -f3) ;; esac
echo "$n:x:$uid:$gid:$comment:$home:$shell" >>"$DB/passwd"
echo "$n:$pw:19000:0:99999:7:::" >>"$DB/shadow"
members "$n" "$groups" add"#,
            ),
            (
                "usermod",
                r#"for a; do n=$a; done
mode=set
while [ $# -gt 1 ]; do case $1 in
  -s) edit passwd "$n" 7 "$2"; shift ;;
  -u) edit passwd "$n" 3 "$2"; shift ;;
  -g) edit passwd "$n" 4 "$2"; shift ;;
  -c) edit passwd "$n" 5 "$2"; shift ;;
  -d) edit passwd "$n" 6 "$2"; shift ;;
  -p) edit shadow "$n" 2 "$2"; shift ;;
  -L) edit shadow "$n" 2 "!$(grep "^$n:" "$DB/shadow" | cut -d: -f2)" ;;
  -a) mode=add ;;
  -G) members "$n" "$2" "$mode"; shift ;;
esac; shift; done"#,
            ),
            (
                "userdel",
                r#"for a; do n=$a; done
sed -i "/^$n:/d" "$DB/passwd"; sed -i "/^$n:/d" "$DB/shadow""#,
            ),
        ];
        // `edit FILE NAME FIELD VALUE`; `members USER G1,G2 add|set` (set: only those groups).
        let helpers = r#"edit() { awk -F: -v OFS=: -v n="$2" -v f="$3" -v v="$4" '$1==n{$f=v}{print}' "$DB/$1" >"$DB/$1.t" && mv "$DB/$1.t" "$DB/$1"; }
members() { awk -F: -v OFS=: -v u="$1" -v gs=",$2," -v mode="$3" '{
  want = index(gs, "," $1 ",") > 0; m = "," $4 ","; has = index(m, "," u ",") > 0
  if (want && !has) { $4 = ($4 == "" ? u : $4 "," u) }
  if (!want && has && mode == "set") { sub("," u ",", ",", m); gsub(/^,|,$/, "", m); $4 = m }
  print }' "$DB/group" >"$DB/group.t" && mv "$DB/group.t" "$DB/group"; }
"#;
        let mut env = Vec::new();
        for (name, body) in tools {
            // Lookups are not logged: the log shows what changed the database.
            let logged = if *name == "getent" { "" } else { log.as_str() };
            let script = format!("#!/bin/sh\n{logged}{helpers}{body}\n");
            env = crate::modules::remote::testkit::fake_command_env(dir, name, &script);
        }
        env.push(("DB".into(), d));
        env
    }

    pub(crate) fn log(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
    }

    async fn run_group(dir: &Path, args: Value, check: bool) -> Map {
        let opts = Options {
            check,
            env: fake_accounts_env(dir),
            ..Options::default()
        };
        run_with(&Group, args, opts).await
    }

    /// The fake database, made once per test dir.
    fn fake_accounts_env(dir: &Path) -> Vec<(String, String)> {
        if dir.join("getent").exists() {
            let path = format!(
                "{}:{}",
                dir.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            vec![
                ("PATH".into(), path),
                ("DB".into(), dir.display().to_string()),
            ]
        } else {
            fake_accounts(dir)
        }
    }

    #[tokio::test]
    async fn creates_once_then_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let r = run_group(dir.path(), json!({"name": "test1", "gid": 1234}), false).await;
        assert_eq!(
            Value::Object(r.clone()),
            json!({"name": "test1", "state": "present", "changed": true, "system": false, "gid": 1234}),
        );
        assert!(log(dir.path()).contains("groupadd -g 1234 test1"));
        let r = run_group(dir.path(), json!({"name": "test1", "gid": 1234}), false).await;
        assert_eq!(r["changed"], json!(false), "{r:?}");
        assert_eq!(r["gid"], json!(1234));
        assert_eq!(log(dir.path()).matches("groupadd").count(), 1);
    }

    #[tokio::test]
    async fn a_different_gid_is_changed_with_groupmod() {
        let dir = tempfile::tempdir().unwrap();
        run_group(dir.path(), json!({"name": "g", "gid": 1500}), false).await;
        let r = run_group(dir.path(), json!({"name": "g", "gid": 1501}), true).await;
        assert_eq!(r["changed"], json!(true), "check mode reports the change");
        assert!(
            !log(dir.path()).contains("groupmod"),
            "check mode runs nothing"
        );
        let r = run_group(dir.path(), json!({"name": "g", "gid": 1501}), false).await;
        assert_eq!(r["changed"], json!(true));
        assert_eq!(r["gid"], json!(1501));
        assert!(log(dir.path()).contains("groupmod -g 1501 g"));
    }

    #[tokio::test]
    async fn absent_removes_only_what_exists_and_check_mode_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        run_group(dir.path(), json!({"name": "g"}), false).await;
        let r = run_group(dir.path(), json!({"name": "g", "state": "absent"}), true).await;
        assert_eq!(Value::Object(r), json!({"changed": true}));
        let r = run_group(
            dir.path(),
            json!({"name": "g", "state": "absent", "force": true}),
            false,
        )
        .await;
        assert_eq!(
            Value::Object(r),
            json!({"name": "g", "state": "absent", "changed": true})
        );
        assert!(log(dir.path()).contains("groupdel -f g"));
        let r = run_group(dir.path(), json!({"name": "g", "state": "absent"}), false).await;
        assert_eq!(r["changed"], json!(false));
    }

    #[tokio::test]
    async fn a_failing_command_fails_with_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        fake_accounts(dir.path());
        // The fake getent does not see the group, groupadd does: the command fails.
        std::fs::write(dir.path().join("group"), "dup:x:5:\n").unwrap();
        let getent = dir.path().join("getent");
        std::fs::write(&getent, "#!/bin/sh\nexit 2\n").unwrap();
        let r = run_group(dir.path(), json!({"name": "dup"}), false).await;
        assert_eq!(r["failed"], json!(true));
        assert_eq!(r["msg"], json!("groupadd: group 'dup' already exists\n"));
        assert!(
            r.get("rc").is_none(),
            "Ansible's group reports no rc: {r:?}"
        );
        assert_eq!(r["name"], json!("dup"));
    }

    #[tokio::test]
    async fn system_groups_and_names_that_are_data() {
        let dir = tempfile::tempdir().unwrap();
        let r = run_group(
            dir.path(),
            json!({"name": "svc", "system": true, "gid_min": 100, "gid_max": 999}),
            false,
        )
        .await;
        assert_eq!(r["system"], json!(true), "{r:?}");
        assert!(log(dir.path()).contains("groupadd -r -K GID_MIN=100 -K GID_MAX=999 svc"));
        let r = run_group(dir.path(), json!({"name": "x$(touch PWNED)"}), false).await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        assert!(!dir.path().join("PWNED").exists());
        assert!(!Path::new("PWNED").exists());
    }

    #[tokio::test]
    async fn argument_rules() {
        let dir = tempfile::tempdir().unwrap();
        let r = run_group(dir.path(), json!({"name": "g", "non_unique": true}), false).await;
        assert_eq!(
            r["msg"],
            json!("missing parameter(s) required by 'non_unique': gid")
        );
        let r = run_group(
            dir.path(),
            json!({"name": "g", "local": true, "force": true}),
            false,
        )
        .await;
        assert_eq!(r["failed"], json!(true));
        let r = run_group(dir.path(), json!({"name": "g", "state": "gone"}), false).await;
        assert_eq!(r["failed"], json!(true));
        assert_eq!(log(dir.path()), "", "nothing ran");
    }
}
