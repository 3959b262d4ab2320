//! `ansible.builtin.user`: makes a local user account exist (or not) on the target.
//!
//! Semantics (ansible-core 2.18 module `user.py`, Linux `useradd` flavour, from its
//! documentation):
//! - `name` (alias `user`, required), `state` `present` (default) / `absent`.
//! - present, user missing: `useradd` with `-u UID [-o]`, `-g GROUP` (which must exist:
//!   `Group X does not exist`; without `group`, when a group named like the user exists, `-N`
//!   so useradd does not try to make it), `-G` the `groups` (each must exist), `-c comment`,
//!   `-d home` (its missing parent is created first when `create_home`), `-s shell`, `-p
//!   password` (a crypted hash; `!` in front with `password_lock`), `-m [-k skeleton] [-K
//!   UMASK=..]` with `create_home` (default true, alias `createhome`) or `-M`, `-r` with
//!   `system`, `-K UID_MIN/UID_MAX`.
//! - present, user there: one `usermod` with only what differs: `-u`, `-g` (the group's gid),
//!   `-G` (the wanted set; with `append`, `-a -G` and only when a wanted group is missing),
//!   `-c`, `-d` (`-m` with `move_home`), `-s`, `-L`/`-U` for `password_lock`, `-p` when
//!   `update_password: always` and the hash differs. Nothing differs: `changed: false`.
//! - Either way, an existing user whose home is missing gets it created (from `/etc/skel`) when
//!   `create_home`, and that is a change.
//! - absent: `userdel [-f] [-r] NAME` when the user exists (`force`, `remove`).
//! - A failing command fails the task with its stderr as `msg`, `name` and `rc`.
//! - Check mode: creating or removing reports `{changed: true}` alone; a modification reports
//!   `changed` with the current account info; nothing runs.
//! - Result: `name`, `state`, `changed`; after a creation `system` and `create_home`; after a
//!   modification check `append` and `move_home`; after a removal `force` and `remove`;
//!   `password: NOT_LOGGING_PASSWORD` when a password was given; `stdout`/`stderr` when the
//!   command printed anything; and for a present user `uid`, `group` (gid), `comment`, `home`,
//!   `shell`, and `groups` (as given, comma-joined) when `groups` was given.
//!
//! Accounts are read with `getent` (passwd, group, shadow), `/etc/*` where it is missing. One
//! round trip. Not supported (the task fails naming them): `local` (libuser), `expires`,
//! `password_expire_*`, `generate_ssh_key` and the `ssh_key_*` options, `seuser`, `login_class`,
//! `hidden`, `profile`/`authorization`/`role` (Solaris), `inactive`.

use super::argspec::{ArgSpec, Kind, Param};
use super::group::{add_command_output, changed_only, command_failure, number_or_text, ACCOUNT_SH};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct User;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            required: true,
            aliases: &["user"],
            ..Param::new("name", Kind::Str)
        },
        Param {
            default: Some("present"),
            choices: &["absent", "present"],
            ..Param::new("state", Kind::Str)
        },
        Param::new("uid", Kind::Int),
        Param {
            default: Some("false"),
            ..Param::new("non_unique", Kind::Bool)
        },
        Param::new("group", Kind::Str),
        Param::new("groups", Kind::List),
        Param::new("comment", Kind::Str),
        Param::new("home", Kind::Path),
        Param::new("shell", Kind::Path),
        Param {
            no_log: true,
            ..Param::new("password", Kind::Str)
        },
        Param {
            default: Some("false"),
            ..Param::new("force", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("remove", Kind::Bool)
        },
        Param {
            default: Some("true"),
            aliases: &["createhome"],
            ..Param::new("create_home", Kind::Bool)
        },
        Param::new("skeleton", Kind::Str),
        Param {
            default: Some("false"),
            ..Param::new("system", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("move_home", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("append", Kind::Bool)
        },
        Param {
            default: Some("always"),
            choices: &["always", "on_create"],
            ..Param::new("update_password", Kind::Str)
        },
        Param::new("password_lock", Kind::Bool),
        Param::new("umask", Kind::Str),
        Param::new("uid_min", Kind::Int),
        Param::new("uid_max", Kind::Int),
        // Accepted so playbooks validate; refused at run time when set (see the module doc).
        Param::new("local", Kind::Bool),
        Param::new("expires", Kind::Float),
        Param::new("password_expire_max", Kind::Int),
        Param::new("password_expire_min", Kind::Int),
        Param::new("password_expire_warn", Kind::Int),
        Param::new("password_expire_account_disable", Kind::Int),
        Param::new("generate_ssh_key", Kind::Bool),
        Param::new("ssh_key_bits", Kind::Int),
        Param::new("ssh_key_type", Kind::Str),
        Param::new("ssh_key_file", Kind::Path),
        Param::new("ssh_key_comment", Kind::Str),
        Param {
            no_log: true,
            ..Param::new("ssh_key_passphrase", Kind::Str)
        },
        Param::new("seuser", Kind::Str),
        Param::new("login_class", Kind::Str),
        Param::new("hidden", Kind::Bool),
        Param::new("profile", Kind::Str),
        Param::new("authorization", Kind::Str),
        Param::new("role", Kind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// Parameters hook-runner accepts but does not implement: a task setting one fails.
const UNSUPPORTED: &[&str] = &[
    "expires",
    "password_expire_max",
    "password_expire_min",
    "password_expire_warn",
    "password_expire_account_disable",
    "generate_ssh_key",
    "ssh_key_file",
    "ssh_key_passphrase",
    "seuser",
    "login_class",
    "hidden",
    "profile",
    "authorization",
    "role",
];

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
struct UserArgs {
    name: String,
    state: String,
    uid: Option<i64>,
    #[serde(default)]
    non_unique: bool,
    group: Option<String>,
    groups: Option<Vec<Value>>,
    comment: Option<String>,
    home: Option<String>,
    shell: Option<String>,
    password: Option<String>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    remove: bool,
    #[serde(default = "yes")]
    create_home: bool,
    skeleton: Option<String>,
    #[serde(default)]
    system: bool,
    #[serde(default)]
    move_home: bool,
    #[serde(default)]
    append: bool,
    update_password: String,
    password_lock: Option<bool>,
    umask: Option<String>,
    uid_min: Option<i64>,
    uid_max: Option<i64>,
    local: Option<bool>,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Module for User {
    fn name(&self) -> &'static str {
        "user"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.user"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<UserArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        if let Some(name) = UNSUPPORTED.iter().find(|k| {
            args.get(**k)
                .is_some_and(|v| !v.is_null() && v != &Value::Bool(false))
        }) {
            return Ok(remote::failed(format!(
                "the user module's `{name}` option is not supported by hook-runner"
            )));
        }
        let args: UserArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        if args.local == Some(true) {
            return Ok(remote::failed(
                "local: true (the libuser luseradd tools) is not supported by hook-runner",
            ));
        }
        let script = build_script(&args, ctx.check_mode);
        let records = match remote::run_script(ctx, &script, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        Ok(build_result(&args, &records))
    }
}

/// `groups` as Ansible joins it: the list's items, comma-joined (an item may itself hold
/// commas); `None` when not given.
fn groups_text(groups: &Option<Vec<Value>>) -> Option<String> {
    groups.as_ref().map(|items| {
        items
            .iter()
            .map(crate::py::str)
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// The script: see the module doc for what it does.
fn build_script(args: &UserArgs, check: bool) -> String {
    let opt_num = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let opt_text = |v: &Option<String>| quote(v.as_deref().unwrap_or(""));
    let set = |present: bool| u8::from(present);
    let groups = groups_text(&args.groups);
    let lock = match args.password_lock {
        Some(true) => "1",
        Some(false) => "0",
        None => "",
    };
    let mut s = String::from(ACCOUNT_SH);
    s.push_str(&format!(
        "CHECK={}\nNAME={}\nSTATE={}\nUID_W={}\nNON_UNIQUE={}\nGROUP_W={}\n\
         GROUPS_SET={}\nGROUPS_W={}\nAPPEND={}\nCOMMENT_SET={}\nCOMMENT_W={}\n\
         HOME_SET={}\nHOME_W={}\nSHELL_SET={}\nSHELL_W={}\nPW_SET={}\nPW_W={}\n\
         UPDATE_PW={}\nLOCK={}\nFORCE={}\nREMOVE={}\nCREATE_HOME={}\nSKEL={}\n\
         SYSTEM={}\nMOVE_HOME={}\nUMASK_W={}\nUID_MIN={}\nUID_MAX={}\n",
        u8::from(check),
        quote(&args.name),
        quote(&args.state),
        opt_num(args.uid),
        u8::from(args.non_unique),
        opt_text(&args.group),
        set(groups.is_some()),
        quote(groups.as_deref().unwrap_or("")),
        u8::from(args.append),
        set(args.comment.is_some()),
        opt_text(&args.comment),
        set(args.home.is_some()),
        opt_text(&args.home),
        set(args.shell.is_some()),
        opt_text(&args.shell),
        set(args.password.is_some()),
        opt_text(&args.password),
        quote(&args.update_password),
        lock,
        u8::from(args.force),
        u8::from(args.remove),
        u8::from(args.create_home),
        opt_text(&args.skeleton),
        u8::from(args.system),
        u8::from(args.move_home),
        opt_text(&args.umask),
        opt_num(args.uid_min),
        opt_num(args.uid_max),
    ));
    s.push_str(USER_SH);
    s
}

/// The user logic on the target (variables set by [`build_script`]).
///
/// `wanted_groups` resolves `GROUPS_W` to group names into `WANT` (failing on a missing one),
/// dropping the primary group when `DROP` names it, as Ansible does for `useradd -G`; it runs
/// in the script's own shell (not `$(...)`) so its `die` ends the script. `member_of`
/// lists the groups whose member list names the user (Ansible's membership test).
const USER_SH: &str = r#"uent() { _ent=$(dbent passwd "$NAME"); case $_ent in "$NAME":*) return 0 ;; esac; return 1; }
group_name() {
  _g=$(dbent group "$1") || return 1
  case $_g in '') return 1 ;; esac
  field 1 "$_g"
}
wanted_groups() {
  WANT=; _IFS=$IFS; IFS=,
  for _w in $GROUPS_W; do
    IFS=$_IFS
    _w=$(printf '%s' "$_w" | sed 's/^[[:space:]]*//;s/[[:space:]]*$//')
    [ -n "$_w" ] || continue
    _n=$(group_name "$_w") || die "Group $_w does not exist"
    [ -n "$DROP" ] && [ "$_n" = "$DROP" ] && continue
    case ",$WANT," in *",$_n,"*) ;; *) WANT=${WANT:+$WANT,}$_n ;; esac
  done
  IFS=$_IFS
}
member_of() {
  _out=
  { if command -v getent >/dev/null 2>&1; then getent group; else cat /etc/group; fi; } >"$_tmpg"
  while IFS=: read -r _gn _gx _gg _gm; do
    case ",$_gm," in *",$NAME,"*) _out=${_out:+$_out,}$_gn ;; esac
  done <"$_tmpg"
  printf '%s' "$_out"
}
make_home() {
  [ "$CHECK" = 1 ] && return 0
  _h=$1
  mkdir -p -- "$_h" || die "failed to create home directory $_h"
  _sk=${SKEL:-/etc/skel}
  [ -d "$_sk" ] && cp -R -- "$_sk/." "$_h/" 2>/dev/null
  chown -R -- "$2:$3" "$_h" 2>/dev/null
}
if [ "$STATE" = absent ]; then
  if uent; then
    if [ "$CHECK" = 1 ]; then emit check_changed 1; exit 0; fi
    set -- userdel
    [ "$FORCE" = 1 ] && set -- "$@" -f
    [ "$REMOVE" = 1 ] && set -- "$@" -r
    runcmd "$@" "$NAME" || cmdfail
    emit removed 1
  fi
  exit 0
fi
_tmpg=$(mktemp) || die "cannot make a temporary file"
trap 'rm -f -- "$_tmpg"' EXIT
if ! uent; then
  if [ "$CHECK" = 1 ]; then emit check_changed 1; exit 0; fi
  set -- useradd
  if [ -n "$UID_W" ]; then
    set -- "$@" -u "$UID_W"
    [ "$NON_UNIQUE" = 1 ] && set -- "$@" -o
  fi
  DROP=
  if [ -n "$GROUP_W" ]; then
    DROP=$(group_name "$GROUP_W") || die "Group $GROUP_W does not exist"
    set -- "$@" -g "$GROUP_W"
  elif group_name "$NAME" >/dev/null; then
    set -- "$@" -N
  fi
  if [ -n "$GROUPS_W" ]; then
    wanted_groups
    [ -n "$WANT" ] && set -- "$@" -G "$WANT"
  fi
  [ "$COMMENT_SET" = 1 ] && set -- "$@" -c "$COMMENT_W"
  if [ "$HOME_SET" = 1 ]; then
    if [ "$CREATE_HOME" = 1 ]; then
      _parent=$(dirname -- "$HOME_W")
      [ -d "$_parent" ] || mkdir -p -- "$_parent" || die "failed to create $_parent"
    fi
    set -- "$@" -d "$HOME_W"
  fi
  [ "$SHELL_SET" = 1 ] && set -- "$@" -s "$SHELL_W"
  if [ "$PW_SET" = 1 ]; then
    if [ "$LOCK" = 1 ]; then set -- "$@" -p "!$PW_W"; else set -- "$@" -p "$PW_W"; fi
  fi
  if [ "$CREATE_HOME" = 1 ]; then
    set -- "$@" -m
    [ -n "$SKEL" ] && set -- "$@" -k "$SKEL"
    [ -n "$UMASK_W" ] && set -- "$@" -K "UMASK=$UMASK_W"
  else
    set -- "$@" -M
  fi
  [ "$SYSTEM" = 1 ] && set -- "$@" -r
  [ -n "$UID_MIN" ] && set -- "$@" -K "UID_MIN=$UID_MIN"
  [ -n "$UID_MAX" ] && set -- "$@" -K "UID_MAX=$UID_MAX"
  runcmd "$@" "$NAME" || cmdfail
  emit created 1
else
  emit modify 1
  set -- usermod
  if [ -n "$UID_W" ] && [ "$(field 3 "$_ent")" != "$UID_W" ]; then
    set -- "$@" -u "$UID_W"
    [ "$NON_UNIQUE" = 1 ] && set -- "$@" -o
  fi
  if [ -n "$GROUP_W" ]; then
    _g=$(dbent group "$GROUP_W"); _gid=$(field 3 "$_g")
    [ -n "$_g" ] || die "Group $GROUP_W does not exist"
    [ "$(field 4 "$_ent")" != "$_gid" ] && set -- "$@" -g "$_gid"
  fi
  if [ "$GROUPS_SET" = 1 ]; then
    _cur=$(member_of)
    DROP=
    wanted_groups; _want=$WANT
    _missing=0; _extra=0
    _IFS=$IFS; IFS=,
    for _w in $_want; do case ",$_cur," in *",$_w,"*) ;; *) _missing=1 ;; esac; done
    for _c in $_cur; do case ",$_want," in *",$_c,"*) ;; *) _extra=1 ;; esac; done
    IFS=$_IFS
    if [ "$APPEND" = 1 ]; then
      [ "$_missing" = 1 ] && set -- "$@" -a -G "$_want"
    elif [ "$_missing" = 1 ] || [ "$_extra" = 1 ]; then
      set -- "$@" -G "$_want"
    fi
  fi
  [ "$COMMENT_SET" = 1 ] && [ "$(field 5 "$_ent")" != "$COMMENT_W" ] && set -- "$@" -c "$COMMENT_W"
  if [ "$HOME_SET" = 1 ] && [ "$(field 6 "$_ent")" != "$HOME_W" ]; then
    set -- "$@" -d "$HOME_W"
    [ "$MOVE_HOME" = 1 ] && set -- "$@" -m
  fi
  [ "$SHELL_SET" = 1 ] && [ "$(field 7 "$_ent")" != "$SHELL_W" ] && set -- "$@" -s "$SHELL_W"
  _hash=$(field 2 "$(dbent shadow "$NAME" 2>/dev/null)")
  _lockflag=
  case $_hash in
    '!'*) [ "$LOCK" = 0 ] && _lockflag=-U ;;
    *) [ "$LOCK" = 1 ] && _lockflag=-L ;;
  esac
  if [ "$UPDATE_PW" = always ] && [ "$PW_SET" = 1 ] && [ "${_hash#!}" != "${PW_W#!}" ]; then
    _lockflag=
    if [ "$LOCK" = 1 ]; then set -- "$@" -p "!$PW_W"; else set -- "$@" -p "$PW_W"; fi
  fi
  [ -n "$_lockflag" ] && set -- "$@" "$_lockflag"
  if [ $# -gt 1 ]; then
    if [ "$CHECK" = 1 ]; then emit rc 0; else runcmd "$@" "$NAME" || cmdfail; fi
  fi
fi
uent || exit 0
emit uid "$(field 3 "$_ent")"; emit gid "$(field 4 "$_ent")"; emit comment "$(field 5 "$_ent")"
emit home "$(field 6 "$_ent")"; emit shell "$(field 7 "$_ent")"
_home=$(field 6 "$_ent")
[ "$HOME_SET" = 1 ] && _home=$HOME_W
if [ "$CREATE_HOME" = 1 ] && [ -n "$_home" ] && [ ! -e "$_home" ]; then
  make_home "$_home" "$(field 3 "$_ent")" "$(field 4 "$_ent")"
  emit home_made 1
fi
"#;

/// Ansible's result from the script's records.
fn build_result(args: &UserArgs, records: &Records) -> Map {
    if let Some(failure) = records.failure() {
        return failure;
    }
    if records.has("check_changed") {
        return changed_only();
    }
    if records.has("cmdfail") {
        return command_failure(&args.name, records);
    }
    let mut result = Map::new();
    result.insert("name".into(), Value::String(args.name.clone()));
    result.insert("state".into(), Value::String(args.state.clone()));
    if records.has("removed") {
        result.insert("force".into(), Value::Bool(args.force));
        result.insert("remove".into(), Value::Bool(args.remove));
    }
    if records.has("created") {
        result.insert("system".into(), Value::Bool(args.system));
        result.insert("create_home".into(), Value::Bool(args.create_home));
    }
    if records.has("modify") {
        result.insert("append".into(), Value::Bool(args.append));
        result.insert("move_home".into(), Value::Bool(args.move_home));
    }
    if args.password.is_some() && args.state == "present" {
        result.insert(
            "password".into(),
            Value::String("NOT_LOGGING_PASSWORD".into()),
        );
    }
    let changed = records.has("rc") || records.has("home_made");
    result.insert("changed".into(), Value::Bool(changed));
    add_command_output(&mut result, records);
    if let Some(uid) = records.get("uid") {
        result.insert("uid".into(), number_or_text(uid));
        let gid = records.get("gid").unwrap_or("");
        result.insert("group".into(), number_or_text(gid));
        for key in ["comment", "home", "shell"] {
            let text = records.get(key).unwrap_or("");
            result.insert(key.into(), Value::String(text.into()));
        }
        if let Some(groups) = groups_text(&args.groups) {
            result.insert("groups".into(), Value::String(groups));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::group::tests::{fake_accounts, log};
    use crate::modules::remote::testkit::{run_with, Options};
    use serde_json::json;
    use std::path::Path;

    struct Db {
        dir: tempfile::TempDir,
        env: Vec<(String, String)>,
    }

    impl Db {
        fn new() -> Db {
            let dir = tempfile::tempdir().unwrap();
            let env = fake_accounts(dir.path());
            Db { dir, env }
        }
        fn path(&self) -> &Path {
            self.dir.path()
        }
        fn home(&self, name: &str) -> String {
            self.path().join("home").join(name).display().to_string()
        }
        async fn run(&self, args: Value, check: bool) -> Map {
            let opts = Options {
                check,
                env: self.env.clone(),
                ..Options::default()
            };
            run_with(&User, args, opts).await
        }
        fn file(&self, name: &str) -> String {
            std::fs::read_to_string(self.path().join(name)).unwrap()
        }
    }

    #[tokio::test]
    async fn creates_with_the_asked_attributes_then_is_idempotent() {
        let db = Db::new();
        let home = db.home("test1");
        let args = json!({"name": "test1", "uid": 1234, "shell": "/bin/bash", "home": home});
        let r = db.run(args.clone(), false).await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        assert_eq!(r["uid"], json!(1234));
        assert_eq!(r["group"], json!(100));
        assert_eq!(r["shell"], json!("/bin/bash"));
        assert_eq!(r["home"], json!(home));
        assert_eq!(r["system"], json!(false));
        assert_eq!(r["create_home"], json!(true));
        let log_text = log(db.path());
        assert!(
            log_text.contains(&format!("useradd -u 1234 -d {home} -s /bin/bash -m test1")),
            "{log_text}"
        );
        // The fake useradd does not make the home: the module does, and says so.
        assert!(Path::new(&home).is_dir());
        let r = db.run(args, false).await;
        assert_eq!(r["changed"], json!(false), "{r:?}");
        assert_eq!(r["append"], json!(false));
        assert_eq!(r["move_home"], json!(false));
        assert!(!log(db.path()).contains("usermod"), "nothing to modify");
    }

    #[tokio::test]
    async fn check_mode_reports_without_running() {
        let db = Db::new();
        let r = db.run(json!({"name": "u"}), true).await;
        assert_eq!(Value::Object(r), json!({"changed": true}));
        assert_eq!(log(db.path()), "");
        let r = db
            .run(
                json!({"name": "root", "shell": "/bin/zsh", "create_home": false}),
                true,
            )
            .await;
        assert_eq!(r["changed"], json!(true));
        assert_eq!(
            r["shell"],
            json!("/bin/sh"),
            "the current value is reported"
        );
        assert_eq!(log(db.path()), "");
    }

    #[tokio::test]
    async fn only_what_differs_is_modified() {
        let db = Db::new();
        let args = json!({"name": "root", "shell": "/bin/bash", "uid": 0, "create_home": false});
        let r = db.run(args, false).await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        assert!(log(db.path()).contains("usermod -s /bin/bash root"));
        assert_eq!(r["shell"], json!("/bin/bash"));
    }

    #[tokio::test]
    async fn primary_group_must_exist_and_is_compared_by_gid() {
        let db = Db::new();
        let r = db.run(json!({"name": "u", "group": "nope"}), false).await;
        assert_eq!(r["msg"], json!("Group nope does not exist"));
        let r = db
            .run(
                json!({"name": "u", "group": "users", "create_home": false}),
                false,
            )
            .await;
        assert_eq!(r["group"], json!(100), "{r:?}");
        assert!(log(db.path()).contains("useradd -g users -M u"));
        let r = db
            .run(
                json!({"name": "u", "group": "100", "create_home": false}),
                false,
            )
            .await;
        assert_eq!(r["changed"], json!(false), "{r:?}");
    }

    #[tokio::test]
    async fn a_same_named_group_means_no_user_group() {
        let db = Db::new();
        std::fs::write(db.path().join("group"), "root:x:0:\nu:x:700:\n").unwrap();
        db.run(json!({"name": "u", "create_home": false}), false)
            .await;
        assert!(
            log(db.path()).contains("useradd -N -M u"),
            "{}",
            log(db.path())
        );
    }

    #[tokio::test]
    async fn supplementary_groups_replace_or_append() {
        let db = Db::new();
        std::fs::write(
            db.path().join("group"),
            "root:x:0:\nusers:x:100:\na:x:201:\nb:x:202:\nc:x:203:\n",
        )
        .unwrap();
        let base = json!({"name": "u", "create_home": false});
        let with = |extra: Value| {
            let mut v = base.clone();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        let r = db.run(with(json!({"groups": ["a", "202"]})), false).await;
        assert_eq!(r["groups"], json!("a,202"), "{r:?}");
        assert!(log(db.path()).contains("useradd -G a,b -M u"));
        assert!(db.file("group").contains("a:x:201:u\nb:x:202:u\n"));
        // Same set: unchanged.
        let r = db.run(with(json!({"groups": "b, a"})), false).await;
        assert_eq!(r["changed"], json!(false), "{r:?}");
        // Append a group: only the missing one matters.
        let r = db
            .run(with(json!({"groups": ["c"], "append": true})), false)
            .await;
        assert_eq!(r["changed"], json!(true));
        assert!(log(db.path()).contains("usermod -a -G c u"));
        let r = db
            .run(with(json!({"groups": ["a"], "append": true})), false)
            .await;
        assert_eq!(r["changed"], json!(false), "{r:?}");
        // Replace: the others go.
        let r = db.run(with(json!({"groups": ["a"]})), false).await;
        assert_eq!(r["changed"], json!(true));
        assert!(db.file("group").contains("a:x:201:u\nb:x:202:\nc:x:203:\n"));
        // An empty list removes all of them.
        db.run(with(json!({"groups": []})), false).await;
        assert!(!db.file("group").contains(":u"), "{}", db.file("group"));
        let r = db.run(with(json!({"groups": ["zz"]})), false).await;
        assert_eq!(r["msg"], json!("Group zz does not exist"));
    }

    #[tokio::test]
    async fn password_and_lock() {
        let db = Db::new();
        let base = json!({"name": "u", "create_home": false, "password": "$6$abc$hash"});
        let r = db.run(base.clone(), false).await;
        assert_eq!(r["password"], json!("NOT_LOGGING_PASSWORD"));
        assert!(db.file("shadow").contains("u:$6$abc$hash:"));
        let r = db.run(base.clone(), false).await;
        assert_eq!(r["changed"], json!(false), "same hash: {r:?}");
        let mut locked = base.clone();
        locked["password_lock"] = json!(true);
        let r = db.run(locked.clone(), false).await;
        assert_eq!(r["changed"], json!(true));
        assert!(
            log(db.path()).contains("usermod -L u"),
            "{}",
            log(db.path())
        );
        let r = db.run(locked, false).await;
        assert_eq!(r["changed"], json!(false), "already locked: {r:?}");
        let mut on_create = base;
        on_create["password"] = json!("$6$other");
        on_create["update_password"] = json!("on_create");
        let r = db.run(on_create, false).await;
        assert_eq!(r["changed"], json!(false));
    }

    #[tokio::test]
    async fn absent_with_force_and_remove() {
        let db = Db::new();
        db.run(json!({"name": "u", "create_home": false}), false)
            .await;
        let r = db.run(json!({"name": "u", "state": "absent"}), true).await;
        assert_eq!(Value::Object(r), json!({"changed": true}));
        let r = db
            .run(
                json!({"name": "u", "state": "absent", "force": true, "remove": true}),
                false,
            )
            .await;
        assert_eq!(
            Value::Object(r),
            json!({"name": "u", "state": "absent", "changed": true, "force": true, "remove": true})
        );
        assert!(log(db.path()).contains("userdel -f -r u"));
        let r = db.run(json!({"name": "u", "state": "absent"}), false).await;
        assert_eq!(
            Value::Object(r),
            json!({"name": "u", "state": "absent", "changed": false})
        );
    }

    #[tokio::test]
    async fn unsupported_options_fail_clearly() {
        let db = Db::new();
        let r = db.run(json!({"name": "u", "expires": 1.0}), false).await;
        assert_eq!(
            r["msg"],
            json!("the user module's `expires` option is not supported by hook-runner")
        );
        let r = db.run(json!({"name": "u", "local": true}), false).await;
        assert_eq!(r["failed"], json!(true));
        assert_eq!(log(db.path()), "");
    }

    #[tokio::test]
    async fn names_and_comments_are_data() {
        let db = Db::new();
        let r = db
            .run(
                json!({"name": "u", "comment": "it's $(touch PWNED) `x`", "create_home": false}),
                false,
            )
            .await;
        assert_eq!(r["comment"], json!("it's $(touch PWNED) `x`"), "{r:?}");
        assert!(!db.path().join("PWNED").exists());
        assert!(!Path::new("PWNED").exists());
    }
}
