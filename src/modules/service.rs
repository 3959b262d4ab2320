//! `ansible.builtin.service`: start, stop, restart, reload and enable services, whatever the
//! init system.
//!
//! Semantics (ansible-core 2.18 action `service.py` + module `service.py`):
//! - The backend comes from `use`, else the `service_mgr` fact (`ansible_facts.service_mgr`),
//!   else it is detected on the target in the same script, as the fact would be (PID 1's name,
//!   then `systemctl` + `/run/systemd/system`, `/sbin/openrc`, `/etc/init.d`...).
//! - systemd: the `systemd` module's rules and results exactly ([`super::systemd`]);
//!   `pattern`, `runlevel`, `sleep` and `arguments` are ignored with a warning.
//! - Anything else: the SysV way. The init script `/etc/init.d/NAME` (or the `service`
//!   command) runs `status` to learn whether it runs (or `pattern` is looked for in `ps`
//!   output); `started`/`stopped` act only when needed, `restarted` always restarts
//!   (`sleep` seconds between stop and start), `reloaded` reloads a running service and starts
//!   a stopped one. `enabled` looks at `/etc/rc?.d/S??NAME` and uses `update-rc.d` or
//!   `chkconfig`. Results: `name, changed, state` (`started`/`stopped`) and `enabled`.
//! - `state` or `enabled` is required. Check mode computes `changed` and runs nothing.
//!
//! Not supported: OpenRC/upstart/BSD specifics (they get the SysV path), `runlevel`.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::systemd::{self, SystemdArgs};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Service;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            required: true,
            ..Param::new("name", Kind::Str)
        },
        Param {
            choices: &["reloaded", "restarted", "started", "stopped"],
            ..Param::new("state", Kind::Str)
        },
        Param::new("enabled", Kind::Bool),
        Param::new("sleep", Kind::Int),
        Param::new("pattern", Kind::Str),
        Param {
            default: Some("default"),
            ..Param::new("runlevel", Kind::Str)
        },
        Param {
            aliases: &["args"],
            default: Some(""),
            ..Param::new("arguments", Kind::Str)
        },
        Param {
            default: Some("auto"),
            ..Param::new("use", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[&["state", "enabled"]],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ServiceArgs {
    pub name: String,
    pub state: Option<String>,
    pub enabled: Option<bool>,
    pub sleep: Option<i64>,
    pub pattern: Option<String>,
    pub runlevel: Option<String>,
    #[serde(default)]
    pub arguments: String,
    #[serde(rename = "use", default = "auto")]
    pub use_: String,
}

fn auto() -> String {
    "auto".into()
}

/// Which backend runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Systemd,
    SysV,
    /// Not known yet: detect on the target.
    Detect,
}

#[async_trait]
impl Module for Service {
    fn name(&self) -> &'static str {
        "service"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.service"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<ServiceArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: ServiceArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let backend = choose_backend(&args.use_, ctx.scope.vars);
        let unit = SystemdArgs {
            name: Some(args.name.clone()),
            state: args.state.clone(),
            enabled: args.enabled,
            ..SystemdArgs::default()
        };
        if backend != Backend::SysV {
            if let Err(result) = systemd::precheck(&unit) {
                return Ok(result);
            }
        }
        let script = match build_script(&args, &unit, backend, ctx.check_mode) {
            Ok(script) => script,
            Err(result) => return Ok(result),
        };
        let records = match remote::run_script(ctx, &script, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        if records.get("backend") == Some("systemd") {
            let mut result = systemd::build_result(&unit, &records);
            add_ignored_warnings(&mut result, &args);
            return Ok(result);
        }
        Ok(sysv_result(&args, &records))
    }
}

/// `use`, else the `service_mgr` fact, else detection on the target.
fn choose_backend(use_: &str, vars: &Map) -> Backend {
    let fact = vars
        .get("ansible_facts")
        .and_then(|facts| facts.get("service_mgr"))
        .or_else(|| vars.get("ansible_service_mgr"))
        .and_then(Value::as_str);
    let name = if use_ == "auto" { fact } else { Some(use_) };
    match name {
        Some("systemd") => Backend::Systemd,
        Some(_) => Backend::SysV,
        None => Backend::Detect,
    }
}

fn build_script(
    args: &ServiceArgs,
    unit: &SystemdArgs,
    backend: Backend,
    check: bool,
) -> Result<String, Map> {
    let words = crate::shell::shlex_words(&args.arguments).map_err(remote::failed)?;
    let mut s = systemd::script_vars(unit, check);
    s.push_str(&format!(
        "PATTERN={}\nSLEEP={}\nARGS={}\n",
        quote(args.pattern.as_deref().unwrap_or("")),
        args.sleep.map(|n| n.to_string()).unwrap_or_default(),
        quote(&crate::shell::join(&words)),
    ));
    s.push_str(systemd::SYSTEMD_SH);
    s.push_str(SERVICE_MGR_SH);
    s.push_str(SYSV_SH);
    s.push_str(match backend {
        Backend::Systemd => "systemd_unit\n",
        Backend::SysV => "sysv_service\n",
        Backend::Detect => "detect_service_mgr\nemit service_mgr \"$SERVICE_MGR\"\nif [ \"$SERVICE_MGR\" = systemd ]; then systemd_unit; else sysv_service; fi\n",
    });
    Ok(s)
}

/// `detect_service_mgr`: sets `SERVICE_MGR` as Ansible's `service_mgr` fact collector does.
pub const SERVICE_MGR_SH: &str = r#"detect_service_mgr() {
  _p1=; IFS= read -r _p1 2>/dev/null </proc/1/comm || :
  if [ -z "$_p1" ]; then
    _p1=$(ps -p 1 -o comm= 2>/dev/null)
    case $_p1 in *[0-9]\ *|COMMAND) _p1= ;; esac
  fi
  if [ -z "$_p1" ] && [ -L /sbin/init ]; then _p1=$(readlink /sbin/init); _p1=${_p1##*/}; fi
  case $_p1 in init|*sh) _p1= ;; esac
  case $_p1 in
    procd) SERVICE_MGR=openwrt_init ;;
    runit-init) SERVICE_MGR=runit ;;
    svscan) SERVICE_MGR=svc ;;
    openrc-init) SERVICE_MGR=openrc ;;
    ?*) SERVICE_MGR=$_p1 ;;
    *)
      if command -v systemctl >/dev/null 2>&1 && { [ -d /run/systemd/system ] || [ -d /dev/.run/systemd ] || [ -d /dev/.systemd ]; }; then
        SERVICE_MGR=systemd
      elif command -v initctl >/dev/null 2>&1 && [ -d /etc/init ]; then SERVICE_MGR=upstart
      elif [ -e /sbin/openrc ]; then SERVICE_MGR=openrc
      elif [ -L /sbin/init ] && case $(readlink -f /sbin/init) in *systemd*) true ;; *) false ;; esac; then SERVICE_MGR=systemd
      elif [ -d /etc/init.d ]; then SERVICE_MGR=sysvinit
      elif [ -d /etc/dinit.d ]; then SERVICE_MGR=dinit
      else SERVICE_MGR=service; fi ;;
  esac
}
"#;

/// `sysv_service`: the generic SysV backend. Init scripts run with output to a temp file, so
/// a daemon they start cannot hold the connection's pipes open.
const SYSV_SH: &str = r#"sysv_service() {
  emit backend sysv
  _script=/etc/init.d/$U
  [ -x "$_script" ] || _script=
  _svc=$(command -v service 2>/dev/null)
  if [ -z "$_script" ] && [ -z "$_svc" ]; then
    die "cannot find 'service' binary or init script for service,  possible typo in service name?, aborting"
  fi
  _out=$(mktemp) || die "cannot create a temporary file"
  sv() { if [ -n "$_script" ]; then "$_script" "$@"; else "$_svc" "$U" "$@"; fi >"$_out" 2>&1 </dev/null; }
  _running=0
  if [ -n "$PATTERN" ]; then
    ps auxww 2>/dev/null >"$_out"
    while IFS= read -r _l; do
      case $_l in *PATTERN=*|*pattern=*) continue ;; esac
      case $_l in *"$PATTERN"*) _running=1 ;; esac
    done <"$_out"
  elif sv status; then
    _running=1
  fi
  emit running $_running
  if [ -n "$WANT_ENABLED" ]; then
    _en=0; sysv_enabled && _en=1
    if [ $_en != "$WANT_ENABLED" ]; then
      emit chg enabled
      if [ "$CHECK" != 1 ]; then
        if command -v update-rc.d >/dev/null 2>&1; then
          if [ "$WANT_ENABLED" = 1 ]; then
            update-rc.d "$U" defaults >"$_out" 2>&1 && update-rc.d "$U" enable >>"$_out" 2>&1
          else
            update-rc.d "$U" disable >"$_out" 2>&1
          fi
        elif command -v chkconfig >/dev/null 2>&1; then
          if [ "$WANT_ENABLED" = 1 ]; then chkconfig "$U" on >"$_out" 2>&1; else chkconfig "$U" off >"$_out" 2>&1; fi
        else
          rm -f -- "$_out"; die "no service or tool found for: $U"
        fi || { _e=$(cat "$_out"); rm -f -- "$_out"; die "Error when trying to enable or disable $U: $_e"; }
      fi
    fi
  fi
  if [ -n "$WANT_STATE" ]; then
    _act=
    case $WANT_STATE in
      started) [ $_running = 1 ] || _act=start ;;
      stopped) [ $_running = 1 ] && _act=stop ;;
      restarted) _act=restart ;;
      reloaded) if [ $_running = 1 ]; then _act=reload; else _act=start; fi ;;
    esac
    if [ -n "$_act" ]; then
      emit chg state
      if [ "$CHECK" != 1 ]; then
        if [ "$_act" = restart ] && [ -n "$SLEEP" ]; then sv stop; sleep "$SLEEP"; _act=start; fi
        set -f
        eval "sv \"\$_act\" $ARGS" || {
          _e=$(cat "$_out"); rm -f -- "$_out"
          [ -n "$_e" ] || _e="Unable to $_act service $U"
          die "$_e"
        }
      fi
    fi
  fi
  rm -f -- "$_out"
}
"#;

/// The generic service module's result.
fn sysv_result(args: &ServiceArgs, records: &Records) -> Map {
    if let Some(failure) = records.failure() {
        return failure;
    }
    let mut result = Map::new();
    result.insert("name".into(), Value::String(args.name.clone()));
    result.insert("changed".into(), Value::Bool(records.has("chg")));
    let state = match args.state.as_deref() {
        Some("stopped") => "stopped",
        Some(_) => "started",
        None if records.get("running") == Some("1") => "started",
        None => "stopped",
    };
    result.insert("state".into(), Value::String(state.into()));
    if let Some(enabled) = args.enabled {
        result.insert("enabled".into(), Value::Bool(enabled));
    }
    result
}

/// Ansible's warnings for SysV-only parameters given to a systemd host.
fn add_ignored_warnings(result: &mut Map, args: &ServiceArgs) {
    let mut ignored = Vec::new();
    if args.pattern.is_some() {
        ignored.push("pattern");
    }
    if args.runlevel.as_deref().is_some_and(|r| r != "default") {
        ignored.push("runlevel");
    }
    if args.sleep.is_some() {
        ignored.push("sleep");
    }
    if !args.arguments.is_empty() {
        ignored.push("arguments");
    }
    if ignored.is_empty() {
        return;
    }
    let warnings = result
        .entry("warnings")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = warnings {
        for name in ignored {
            list.push(Value::String(format!(
                "Ignoring \"{name}\" as it is not used in \"ansible.legacy.systemd\""
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{fake_command_env, run, run_with, Options};
    use serde_json::json;

    #[test]
    fn backend_from_use_then_facts() {
        let facts = json!({"ansible_facts": {"service_mgr": "systemd"}});
        assert_eq!(
            choose_backend("auto", facts.as_object().unwrap()),
            Backend::Systemd
        );
        assert_eq!(
            choose_backend("sysvinit", facts.as_object().unwrap()),
            Backend::SysV
        );
        assert_eq!(choose_backend("auto", &Map::new()), Backend::Detect);
        let top = json!({"ansible_service_mgr": "openrc"});
        assert_eq!(
            choose_backend("auto", top.as_object().unwrap()),
            Backend::SysV
        );
    }

    #[tokio::test]
    async fn requires_state_or_enabled() {
        let result = run(&Service, json!({"name": "x"})).await;
        assert_eq!(
            result["msg"],
            "one of the following is required: state, enabled"
        );
    }

    /// The SysV path against a real init script in a temp `/etc/init.d` look-alike is not
    /// possible without root paths, so a fake `service` command stands in for it.
    #[tokio::test]
    async fn sysv_backend_with_a_fake_service_command() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("running");
        let env = fake_command_env(
            dir.path(),
            "service",
            &format!(
                "#!/bin/sh\ncase \"$2\" in\n status) [ -e '{0}' ] ;;\n start) : > '{0}' ;;\n stop) rm -f '{0}' ;;\n *) exit 3 ;;\nesac\n",
                state.display()
            ),
        );
        let options = || Options {
            env: env.clone(),
            ..Options::default()
        };
        let name = "hr-no-such-init-script $(x)";
        let args = json!({"name": name, "state": "started", "use": "sysvinit"});
        let result = run_with(&Service, args.clone(), options()).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["state"], "started");
        assert!(state.exists());
        assert_eq!(run_with(&Service, args, options()).await["changed"], false);
        let stop = json!({"name": name, "state": "stopped", "use": "sysvinit"});
        let result = run_with(
            &Service,
            stop.clone(),
            Options {
                check: true,
                ..options()
            },
        )
        .await;
        assert_eq!(result["changed"], true);
        assert!(state.exists());
        assert_eq!(run_with(&Service, stop, options()).await["changed"], true);
        assert!(!state.exists());
        let bad = json!({"name": name, "state": "reloaded", "use": "sysvinit"});
        let result = run_with(&Service, bad, options()).await;
        // reloaded on a stopped service starts it.
        assert_eq!(result["changed"], true, "{result:?}");
        assert!(state.exists());
    }

    #[tokio::test]
    async fn missing_systemd_unit_fails_like_ansible() {
        // Needs a running systemd (the lab's systemd VMs, or a host booted with it).
        if !std::path::Path::new("/run/systemd/system").is_dir() {
            return;
        }
        let result = run(
            &Service,
            json!({"name": "hr-no-such-unit", "state": "started", "use": "systemd"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "Could not find the requested service hr-no-such-unit: host"
        );
    }
}
