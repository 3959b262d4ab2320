//! `ansible.builtin.systemd_service` (alias `systemd`): systemd units.
//!
//! Semantics (ansible-core 2.18 `modules/systemd_service.py`), one `sh` round trip:
//! - `daemon_reload` / `daemon_reexec` run first (not in check mode) and never set `changed`.
//! - `systemctl show UNIT` (before any change) becomes `status` (`ActiveState`, `LoadState`,
//!   ...). The unit is found when `LoadState` is not `not-found`, or a SysV script
//!   `/etc/init.d/NAME` exists; otherwise `state`/`enabled` fail with
//!   `Could not find the requested service NAME: host`.
//! - Order: mask/unmask (`masked`), enable/disable (`enabled`, from `is-enabled`), then
//!   `state`: `started` starts unless active/activating, `stopped` stops when active,
//!   activating or deactivating, `restarted`/`reloaded` start a stopped unit and otherwise
//!   always restart/reload (always changed) and report `state: started`.
//! - Glob patterns in the name are refused. `scope` (`user`/`global`), `no_block` and `force`
//!   become `systemctl` flags.
//! - Results: `name, changed, status`, plus `enabled` and `state` when asked. Check mode
//!   computes `changed` and runs nothing. A task with only `name` (or nothing at all) is valid:
//!   Ansible's `required_one_of` (state, enabled, masked, daemon_reload, daemon_reexec) is
//!   checked after defaults and `daemon_reload` defaults to false, so it never fails; such a
//!   task reports the unit's `status`, unchanged, whether the unit exists or not.
//! - Failure messages quote systemctl's output as Ansible does: whole, trailing newline kept
//!   (`Unable to start service NAME: Job for ... for details.\n`, `failure RC during
//!   daemon-reload: ...`), except mask/unmask (`Failed to mask the service (NAME): ...`,
//!   stripped).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Systemd;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            aliases: &["service", "unit"],
            ..Param::new("name", Kind::Str)
        },
        Param {
            choices: &["reloaded", "restarted", "started", "stopped"],
            ..Param::new("state", Kind::Str)
        },
        Param::new("enabled", Kind::Bool),
        Param::new("force", Kind::Bool),
        Param::new("masked", Kind::Bool),
        Param {
            aliases: &["daemon-reload"],
            default: Some("false"),
            ..Param::new("daemon_reload", Kind::Bool)
        },
        Param {
            aliases: &["daemon-reexec"],
            default: Some("false"),
            ..Param::new("daemon_reexec", Kind::Bool)
        },
        Param {
            choices: &["system", "user", "global"],
            default: Some("system"),
            ..Param::new("scope", Kind::Str)
        },
        Param {
            default: Some("false"),
            ..Param::new("no_block", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    // Ansible declares `required_one_of: state, enabled, masked, daemon_reload, daemon_reexec`
    // but checks it after filling defaults, and `daemon_reload` defaults to false: the rule always
    // holds, so a task with only `name` reports the unit's status. No rule here, to match.
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SystemdArgs {
    pub name: Option<String>,
    pub state: Option<String>,
    pub enabled: Option<bool>,
    pub force: Option<bool>,
    pub masked: Option<bool>,
    #[serde(default)]
    pub daemon_reload: bool,
    #[serde(default)]
    pub daemon_reexec: bool,
    pub scope: Option<String>,
    #[serde(default)]
    pub no_block: bool,
}

#[async_trait]
impl Module for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.systemd_service"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<SystemdArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: SystemdArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        if let Err(result) = precheck(&args) {
            return Ok(result);
        }
        let script = format!(
            "{}{}systemd_unit\n",
            script_vars(&args, ctx.check_mode),
            SYSTEMD_SH
        );
        let records = match remote::run_script(ctx, &script, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        Ok(build_result(&args, &records))
    }
}

/// What fails before anything runs: a unit needed but missing, glob patterns.
pub fn precheck(args: &SystemdArgs) -> Result<(), Map> {
    for (given, key) in [
        (args.state.is_some(), "state"),
        (args.enabled.is_some(), "enabled"),
        (args.masked.is_some(), "masked"),
    ] {
        if given && args.name.is_none() {
            return Err(remote::failed(format!(
                "missing parameter(s) required by '{key}': name"
            )));
        }
    }
    if let Some(unit) = &args.name {
        for pattern in ["*", "?", "["] {
            if unit.contains(pattern) {
                return Err(remote::failed(format!(
                    "This module does not currently support using glob patterns, found '{pattern}' in service name: {unit}"
                )));
            }
        }
    }
    Ok(())
}

/// Shell variables for [`SYSTEMD_SH`].
pub fn script_vars(args: &SystemdArgs, check: bool) -> String {
    let mut systemctl = String::from("systemctl");
    match args.scope.as_deref() {
        Some("user") => systemctl.push_str(" --user"),
        Some("global") => systemctl.push_str(" --global"),
        _ => {}
    }
    if args.no_block {
        systemctl.push_str(" --no-block");
    }
    if args.force == Some(true) {
        systemctl.push_str(" --force");
    }
    let flag = |b: Option<bool>| b.map(|b| if b { "1" } else { "0" }).unwrap_or("");
    format!(
        "CHECK={}\nU={}\nSC={}\nWANT_STATE={}\nWANT_ENABLED={}\nWANT_MASKED={}\nDR={}\nDX={}\nSCOPE={}\n",
        u8::from(check),
        quote(args.name.as_deref().unwrap_or("")),
        quote(&systemctl),
        quote(args.state.as_deref().unwrap_or("")),
        flag(args.enabled),
        flag(args.masked),
        u8::from(args.daemon_reload),
        u8::from(args.daemon_reexec),
        quote(args.scope.as_deref().unwrap_or("system")),
    )
}

/// `systemd_unit`: the whole module on the target. `$SC` is split on purpose (fixed flags).
pub const SYSTEMD_SH: &str = r#"sysv_enabled() {
  set +f
  for _f in /etc/rc?.d/S??"$U"; do
    if [ -e "$_f" ]; then set -f; return 0; fi
  done
  set -f
  return 1
}
# `sc_err CMD...` / `sc_out CMD...`: runs CMD, leaving its stderr (sc_out: stdout and stderr) in
# `_e` with the trailing newline kept (Ansible quotes systemctl's text whole), and its status in
# `_rc` and as the return status.
sc_err() { _e=$("$@" 2>&1 >/dev/null; _rc=$?; printf x; exit $_rc); _rc=$?; _e=${_e%x}; return $_rc; }
sc_out() { _e=$("$@" 2>&1; _rc=$?; printf x; exit $_rc); _rc=$?; _e=${_e%x}; return $_rc; }
systemd_unit() {
  emit backend systemd
  [ -n "$XDG_RUNTIME_DIR" ] || { XDG_RUNTIME_DIR=/run/user/$(id -u); export XDG_RUNTIME_DIR; }
  command -v systemctl >/dev/null 2>&1 || die "Failed to find required executable \"systemctl\" in paths: $PATH"
  if [ "$DR" = 1 ] && [ "$CHECK" != 1 ]; then
    sc_err $SC daemon-reload || die "failure $_rc during daemon-reload: $_e"
  fi
  if [ "$DX" = 1 ] && [ "$CHECK" != 1 ]; then
    sc_err $SC daemon-reexec || die "failure $_rc during daemon-reexec: $_e"
  fi
  [ -n "$U" ] || return 0
  _initd=0; [ -x "/etc/init.d/$U" ] && _initd=1
  _sysd=0; _ls=; _as=; _le=
  _show=$($SC show -- "$U" 2>/dev/null); _rc=$?
  case $_show in *=*) ;; *) _rc=1 ;; esac
  if [ $_rc = 0 ]; then
    emit show "$_show"
    while IFS= read -r _l; do
      case $_l in
        LoadState=*) _ls=${_l#*=} ;;
        ActiveState=*) _as=${_l#*=} ;;
        LoadError=*) _le=${_l#*=} ;;
      esac
    done <<EOF
$_show
EOF
    if [ -n "$_ls" ] && [ "$_ls" != not-found ]; then _sysd=1; fi
    if [ $_sysd = 1 ] && [ "$_ls" != masked ] && [ -n "$_le" ]; then
      die "Error loading unit file '$U': $_le"
    fi
  else
    _ie=$($SC is-enabled -- "$U" 2>/dev/null)
    case $_ie in
      enabled|enabled-runtime|linked|linked-runtime|masked|masked-runtime|static|indirect|disabled|generated|transient) _sysd=1 ;;
      *) $SC list-unit-files -- "$U" >/dev/null 2>&1 && _sysd=1 ;;
    esac
  fi
  _found=0
  if [ $_sysd = 1 ] || [ $_initd = 1 ]; then _found=1; fi
  if [ $_initd = 1 ] && [ $_sysd = 0 ]; then
    emit warning "The service ($U) is actually an init script but the system is managed by systemd"
  fi
  if [ -n "$WANT_MASKED" ]; then
    _m=0; [ "$($SC is-enabled -- "$U" 2>/dev/null)" = masked ] && _m=1
    if [ $_m != "$WANT_MASKED" ]; then
      emit chg masked
      if [ "$WANT_MASKED" = 1 ]; then _act=mask; else _act=unmask; fi
      if [ "$CHECK" != 1 ]; then
        # Ansible strips this one (`err.strip()`): `$(...)` drops the trailing newlines.
        _e=$($SC $_act -- "$U" 2>&1 >/dev/null) || {
          [ $_found = 1 ] || die "Could not find the requested service $U: host"
          die "Failed to $_act the service ($U): $_e"
        }
      fi
    fi
  fi
  if [ -n "$WANT_ENABLED" ]; then
    [ $_found = 1 ] || die "Could not find the requested service $U: host"
    _ie=$($SC is-enabled -l -- "$U" 2>/dev/null); _rc=$?
    _en=0
    if [ $_rc = 0 ]; then
      case $_ie in enabled-runtime|indirect|alias) ;; *) _en=1 ;; esac
    elif [ $_rc = 1 ] && [ "$SCOPE" = system ] && [ $_initd = 1 ]; then
      case $_ie in *disabled) ;; *) sysv_enabled && _en=1 ;; esac
    fi
    emit enabled_before $_en
    if [ $_en != "$WANT_ENABLED" ]; then
      emit chg enabled
      if [ "$WANT_ENABLED" = 1 ]; then _act=enable; else _act=disable; fi
      if [ "$CHECK" != 1 ]; then
        sc_out $SC $_act -- "$U" || die "Unable to $_act service $U: $_e"
      fi
    fi
  fi
  if [ -n "$WANT_STATE" ]; then
    [ $_found = 1 ] || die "Could not find the requested service $U: host"
    [ -n "$_as" ] || die "Service is in unknown state"
    _act=
    case $WANT_STATE in
      started) case $_as in active|activating) ;; *) _act=start ;; esac ;;
      stopped) case $_as in active|activating|deactivating) _act=stop ;; esac ;;
      *) case $_as in active|activating) _act=${WANT_STATE%ed} ;; *) _act=start ;; esac ;;
    esac
    if [ -n "$_act" ]; then
      emit chg state
      if [ "$CHECK" != 1 ]; then
        sc_err $SC $_act -- "$U" || die "Unable to $_act service $U: $_e"
      fi
    fi
  fi
}
"#;

/// Ansible's systemd result from the script's records.
pub fn build_result(args: &SystemdArgs, records: &Records) -> Map {
    if let Some(failure) = records.failure() {
        return failure;
    }
    let mut result = Map::new();
    result.insert(
        "name".into(),
        args.name.clone().map(Value::String).unwrap_or(Value::Null),
    );
    result.insert("changed".into(), Value::Bool(records.has("chg")));
    result.insert(
        "status".into(),
        Value::Object(parse_show(records.get("show").unwrap_or(""))),
    );
    if let Some(wanted) = args.enabled {
        let before = records.get("enabled_before") == Some("1");
        let changed = records.all("chg").any(|c| c == "enabled");
        result.insert(
            "enabled".into(),
            Value::Bool(if changed { wanted } else { before }),
        );
    }
    if let Some(state) = &args.state {
        let reported = if state == "stopped" || state == "started" {
            state.as_str()
        } else {
            "started"
        };
        result.insert("state".into(), Value::String(reported.into()));
    }
    remote::add_warnings(&mut result, records);
    result
}

/// `systemctl show` output as a dictionary; `{ ... }` values may span lines.
pub fn parse_show(text: &str) -> Map {
    let mut status = Map::new();
    let mut pending: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some((key, mut value)) = pending.take() {
            value.push('\n');
            value.push_str(line);
            if line.trim_end().ends_with('}') {
                status.insert(key, Value::String(value));
            } else {
                pending = Some((key, value));
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if value.starts_with('{') && !value.trim_end().ends_with('}') {
            pending = Some((key.to_string(), value.to_string()));
        } else {
            status.insert(key.to_string(), Value::String(value.to_string()));
        }
    }
    if let Some((key, value)) = pending {
        status.insert(key, Value::String(value));
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{fake_command_env, run, run_with, Options};
    use serde_json::json;

    #[test]
    fn show_output_parses_multiline_values() {
        let status = parse_show(
            "ActiveState=active\nExecStart={ path=/bin/x ;\n argv[]=/bin/x }\nLoadState=loaded\n",
        );
        assert_eq!(status["ActiveState"], "active");
        assert_eq!(status["LoadState"], "loaded");
        assert_eq!(status["ExecStart"], "{ path=/bin/x ;\n argv[]=/bin/x }");
    }

    #[test]
    fn restarted_reports_started_and_enabled_tracks_changes() {
        let args = SystemdArgs {
            name: Some("x".into()),
            state: Some("restarted".into()),
            enabled: Some(true),
            ..SystemdArgs::default()
        };
        let records = Records::parse(b"show=ActiveState=active\nLoadState=loaded\0enabled_before=0\0chg=enabled\0chg=state\0");
        let result = build_result(&args, &records);
        assert_eq!(result["state"], "started");
        assert_eq!(result["enabled"], true);
        assert_eq!(result["changed"], true);
        assert_eq!(result["status"]["ActiveState"], "active");
    }

    #[tokio::test]
    async fn argument_rules() {
        let result = run(&Systemd, json!({"name": "a*"})).await;
        assert_eq!(result["msg"], "This module does not currently support using glob patterns, found '*' in service name: a*");
        let result = run(&Systemd, json!({"name": "a*", "state": "started"})).await;
        assert_eq!(result["msg"], "This module does not currently support using glob patterns, found '*' in service name: a*");
        let result = run(&Systemd, json!({"state": "started"})).await;
        assert_eq!(
            result["msg"],
            "missing parameter(s) required by 'state': name"
        );
        let result = run(&Systemd, json!({"name": "x", "state": "bogus"})).await;
        assert_eq!(
            result["msg"],
            "value of state must be one of: reloaded, restarted, started, stopped, got: bogus"
        );
    }

    /// A fake `systemctl` whose `show` prints `show` and whose other subcommands print `stderr`
    /// on stderr and exit with `rc`.
    fn failing_systemctl(dir: &std::path::Path, show: &str, stderr: &str, rc: i32) -> Options {
        let env = fake_command_env(
            dir,
            "systemctl",
            &format!(
                "#!/bin/sh\ncase \"$1\" in\n show) printf '{show}' ;;\n is-enabled) echo disabled; exit 1 ;;\n\
                 *) printf '{stderr}' >&2; exit {rc} ;;\nesac\n"
            ),
        );
        Options {
            env,
            ..Options::default()
        }
    }

    /// Ansible 2.18 accepts a task with only `name` (daemon_reload's default satisfies its
    /// `required_one_of`): ok, unchanged, the unit's status, for a missing unit too.
    #[tokio::test]
    async fn name_only_reports_the_status_of_a_loaded_or_missing_unit() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = failing_systemctl(
            dir.path(),
            "Id=db.service\\nLoadState=loaded\\nActiveState=active\\n",
            "",
            1,
        );
        let result = run_with(&Systemd, json!({"name": "db"}), loaded).await;
        assert_eq!(result.get("failed"), None, "{result:?}");
        assert_eq!(result["changed"], false);
        assert_eq!(result["name"], "db");
        assert_eq!(result["status"]["ActiveState"], "active");
        assert_eq!(result.get("state"), None);
        assert_eq!(result.get("enabled"), None);

        let dir = tempfile::tempdir().unwrap();
        let missing = failing_systemctl(
            dir.path(),
            "Id=hr-missing.service\\nLoadState=not-found\\nActiveState=inactive\\n",
            "",
            1,
        );
        let result = run_with(&Systemd, json!({"name": "hr-missing"}), missing).await;
        assert_eq!(result.get("failed"), None, "{result:?}");
        assert_eq!(result["changed"], false);
        assert_eq!(result["status"]["LoadState"], "not-found");
    }

    /// systemctl's error text is quoted whole, trailing newline included, as Ansible does;
    /// mask/unmask failures are Ansible's other wording, stripped.
    #[tokio::test]
    async fn failure_messages_keep_systemctls_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let options = || {
            failing_systemctl(
                dir.path(),
                "Id=x.service\\nLoadState=loaded\\nActiveState=inactive\\n",
                "Job for x.service failed.\\nSee the journal for details.\\n",
                1,
            )
        };
        let result = run_with(
            &Systemd,
            json!({"name": "x", "state": "started"}),
            options(),
        )
        .await;
        assert_eq!(
            result["msg"],
            "Unable to start service x: Job for x.service failed.\nSee the journal for details.\n"
        );
        let result = run_with(&Systemd, json!({"name": "x", "enabled": true}), options()).await;
        assert_eq!(
            result["msg"],
            "Unable to enable service x: Job for x.service failed.\nSee the journal for details.\n"
        );
        let result = run_with(&Systemd, json!({"daemon_reload": true}), options()).await;
        assert_eq!(
            result["msg"],
            "failure 1 during daemon-reload: Job for x.service failed.\nSee the journal for details.\n"
        );
        let result = run_with(&Systemd, json!({"name": "x", "masked": true}), options()).await;
        assert_eq!(
            result["msg"],
            "Failed to mask the service (x): Job for x.service failed.\nSee the journal for details."
        );
    }

    /// The script against a fake `systemctl` that records its calls: decisions and check mode.
    #[tokio::test]
    async fn script_decisions_with_a_fake_systemctl() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls");
        let env = fake_command_env(
            dir.path(),
            "systemctl",
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$1\" in\n show) printf 'Id=my unit.service\\nLoadState=loaded\\nActiveState=active\\n' ;;\n is-enabled) echo disabled; exit 1 ;;\nesac\nexit 0\n",
                log.display()
            ),
        );
        let options = || Options {
            env: env.clone(),
            ..Default::default()
        };
        let args = json!({"name": "my unit", "state": "stopped", "enabled": true});
        let result = run_with(
            &Systemd,
            args.clone(),
            Options {
                check: true,
                ..options()
            },
        )
        .await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["enabled"], true);
        let calls = std::fs::read_to_string(&log).unwrap();
        assert!(
            !calls.contains("stop") && !calls.contains("enable --"),
            "{calls}"
        );
        let result = run_with(&Systemd, args, options()).await;
        assert_eq!(result["changed"], true);
        assert_eq!(result["status"]["Id"], "my unit.service");
        let calls = std::fs::read_to_string(&log).unwrap();
        assert!(calls.contains("enable -- my unit"), "{calls}");
        assert!(calls.contains("stop -- my unit"), "{calls}");
        let result = run_with(
            &Systemd,
            json!({"name": "my unit", "state": "started"}),
            options(),
        )
        .await;
        assert_eq!(result["changed"], false);
    }
}
