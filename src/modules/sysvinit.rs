//! `ansible.builtin.sysvinit`: starts, stops, restarts, reloads, enables and disables SysV
//! init services (`/etc/init.d` scripts).
//!
//! Semantics (ansible-core 2.18 `modules/sysvinit.py`):
//! - `name` (alias `service`; a path is the script itself), `state` (`started`, `stopped`,
//!   `restarted`, `reloaded`), `enabled`, `runlevels`, `sleep` (1, between restart's stop and
//!   start), `pattern`, `arguments` (alias `args`), `daemonize`. `state` or `enabled` is
//!   required. No script: `Could not find the requested service NAME: `.
//! - Running or not: `pattern` looked for in `ps auxww`; else `service NAME status` (or the
//!   script's `status`), read as Ansible reads it (one line of output saying stop/dead/
//!   inactive, or run/start/active without "not"; rc 1-4 or 69 mean stopped; rc 0 running;
//!   else the name in `ps` output, with Ansible's warning).
//! - Enabled: `/etc/rc?.d/S??NAME` (per runlevel with `runlevels`); changed with `update-rc.d`
//!   (`defaults`/`disable`, or `enable|disable RUNLEVELS`) or `chkconfig`.
//! - `started`/`stopped` act when needed, `restarted` always (stop, sleep, start), `reloaded`
//!   reloads when running, as Ansible's module does (it compares with "start").
//!   A failing script: `Failed to <action> service: NAME` with `rc, stdout, stderr`.
//! - Result: `name, changed, status: {enabled: {changed, rc, stdout, stderr[, runlevels]},
//!   <state>: {changed, rc, stdout, stderr}}` (the command's output when it ran, else null).
//!   Check mode reports, changes nothing.
//!
//! Two round trips (what is, then what changes). Not supported: `daemonize` (the script runs
//! with its output captured, detached from the connection's stdin; a warning says so).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Sysvinit;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            aliases: &["service"],
            required: true,
            ..Param::new("name", Kind::Str)
        },
        Param {
            choices: &["started", "stopped", "restarted", "reloaded"],
            ..Param::new("state", Kind::Str)
        },
        Param::new("enabled", Kind::Bool),
        Param {
            default: Some("1"),
            ..Param::new("sleep", Kind::Int)
        },
        Param::new("pattern", Kind::Str),
        Param {
            aliases: &["args"],
            ..Param::new("arguments", Kind::Str)
        },
        Param::new("runlevels", Kind::List),
        Param {
            default: Some("false"),
            ..Param::new("daemonize", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[&["state", "enabled"]],
};

#[derive(Debug, Clone, serde::Deserialize)]
struct SysvArgs {
    name: String,
    state: Option<String>,
    enabled: Option<bool>,
    sleep: i64,
    pattern: Option<String>,
    arguments: Option<String>,
    runlevels: Option<Vec<String>>,
    daemonize: bool,
}

#[async_trait]
impl Module for Sysvinit {
    fn name(&self) -> &'static str {
        "sysvinit"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.sysvinit"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<SysvArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: SysvArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let script_path = if args.name.starts_with('/') {
            args.name.clone()
        } else {
            format!("/etc/init.d/{}", args.name)
        };
        let runlevels = args.runlevels.clone().unwrap_or_default();
        let probe = format!(
            "N={}\nS={}\nRL={}\nUSE_PS={}\n{PROBE_SH}",
            quote(&args.name),
            quote(&script_path),
            quote(&runlevels.join(" ")),
            u8::from(args.pattern.is_some())
        );
        let facts = match remote::run_script(ctx, &probe, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        if let Some(failure) = facts.failure() {
            return Ok(failure);
        }
        let mut warnings = Vec::new();
        if args.daemonize {
            warnings.push("daemonize is not supported by hook-runner: the script runs with its output captured".to_string());
        }
        let (worked, is_started) = running(&args, &facts, &mut warnings);
        if !worked {
            warnings.push("Unable to determine if service is up, assuming it is down".into());
        }
        let mut result = Map::new();
        result.insert("name".into(), Value::String(args.name.clone()));
        let mut changed = false;
        let mut enable_step = step();
        if !runlevels.is_empty() {
            enable_step.insert(
                "runlevels".into(),
                Value::Array(runlevels.iter().cloned().map(Value::String).collect()),
            );
        }
        let enable_change = match args.enabled {
            Some(want) if !runlevels.is_empty() => runlevels
                .iter()
                .any(|rl| facts.has(&format!("en_{}", key(rl))) != want),
            Some(want) => facts.has("enabled") != want,
            None => false,
        };
        if enable_change {
            changed = true;
            enable_step.insert("changed".into(), Value::Bool(true));
        }
        let state_key = args.state.clone().unwrap_or_else(|| "null".into());
        let mut state_step = step();
        let action = args.state.as_deref().map(|s| {
            s.strip_suffix("ped")
                .or_else(|| s.strip_suffix("ed"))
                .unwrap_or(s)
                .to_string()
        });
        let act = match action.as_deref() {
            Some("restart") => true,
            Some(a) => is_started != (a == "start") || is_started == (a == "stop"),
            None => false,
        };
        if act {
            changed = true;
            state_step.insert("changed".into(), Value::Bool(true));
        }
        if !ctx.check_mode && (enable_change || act) {
            let change = format!(
                "N={}\nS={}\nRL={}\nENABLE={}\nACTION={}\nSLEEP={}\nARGS={}\n{CHANGE_SH}",
                quote(&args.name),
                quote(&script_path),
                quote(&runlevels.join(" ")),
                match (enable_change, args.enabled) {
                    (true, Some(true)) => "1",
                    (true, Some(false)) => "0",
                    _ => "",
                },
                quote(if act {
                    action.as_deref().unwrap_or("")
                } else {
                    ""
                }),
                args.sleep.max(0),
                quote(args.arguments.as_deref().unwrap_or("")),
            );
            let done = match remote::run_script(ctx, &change, None).await? {
                Ok(records) => records,
                Err(result) => return Ok(result),
            };
            if enable_change {
                fill(&mut enable_step, &done, "e");
                if done
                    .get("e_err")
                    .unwrap_or_default()
                    .contains("illegal runlevel specified")
                {
                    result.insert("changed".into(), Value::Bool(changed));
                    let mut failed = remote::failed(format!(
                        "Illegal runlevel specified for enable operation on service {}",
                        args.name
                    ));
                    failed.extend(result);
                    return Ok(failed);
                }
            }
            if act {
                if let Some(rc) = done.get("fail_rc") {
                    let mut failed = remote::failed(format!(
                        "Failed to {} service: {}",
                        action.as_deref().unwrap_or(""),
                        args.name
                    ));
                    failed.insert("rc".into(), Value::from(rc.parse::<i64>().unwrap_or(1)));
                    failed.insert("stdout".into(), Value::String(output(&done, "a_out")));
                    failed.insert("stderr".into(), Value::String(output(&done, "a_err")));
                    return Ok(failed);
                }
                fill(&mut state_step, &done, "a");
            }
        }
        let mut status = Map::new();
        status.insert("enabled".into(), Value::Object(enable_step));
        status.insert(state_key, Value::Object(state_step));
        result.insert("changed".into(), Value::Bool(changed));
        result.insert("status".into(), Value::Object(status));
        if !warnings.is_empty() {
            result.insert(
                "warnings".into(),
                Value::Array(warnings.into_iter().map(Value::String).collect()),
            );
        }
        Ok(result)
    }
}

/// `{changed: false, rc: null, stdout: null, stderr: null}`.
fn step() -> Map {
    let mut m = Map::new();
    m.insert("changed".into(), Value::Bool(false));
    for k in ["rc", "stdout", "stderr"] {
        m.insert(k.into(), Value::Null);
    }
    m
}

fn fill(step: &mut Map, done: &Records, prefix: &str) {
    let rc = done
        .get(&format!("{prefix}_rc"))
        .and_then(|r| r.parse::<i64>().ok())
        .unwrap_or(0);
    step.insert("rc".into(), Value::from(rc));
    for (k, suffix) in [("stdout", "out"), ("stderr", "err")] {
        step.insert(
            k.into(),
            Value::String(output(done, &format!("{prefix}_{suffix}"))),
        );
    }
}

/// A command's output as the script captured it: ended with `x` so that trailing newlines
/// survive the command substitution.
fn output(done: &Records, key: &str) -> String {
    let text = done.get(key).unwrap_or_default();
    text.strip_suffix('x').unwrap_or(text).to_string()
}

/// A runlevel as a record key (`S` stays `S`).
fn key(runlevel: &str) -> String {
    runlevel
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Ansible's reading of `status` (and `ps`): (worked, is_started).
fn running(args: &SysvArgs, facts: &Records, warnings: &mut Vec<String>) -> (bool, bool) {
    let ps = facts.get("ps").unwrap_or_default();
    let in_ps = |needle: &str| {
        ps.lines()
            .filter(|l| !l.contains("HR_SYSVINIT_PROBE"))
            .any(|l| l.contains(needle))
    };
    if let Some(pattern) = &args.pattern {
        let found = in_ps(pattern);
        return (found, found);
    }
    let rc: i64 = facts
        .get("st_rc")
        .and_then(|r| r.parse().ok())
        .unwrap_or(-1);
    let out = facts.get("st_out").unwrap_or_default();
    let mut worked = false;
    let mut started = false;
    if rc != -1 {
        if args.name == "iptables" && out.contains("ACCEPT") {
            worked = true;
            started = true;
        }
        if !worked && out.matches('\n').count() <= 1 {
            let clean = out.to_lowercase().replace(&args.name.to_lowercase(), "");
            if [
                "stop",
                "is dead ",
                "dead but ",
                "could not access pid file",
                "inactive",
            ]
            .iter()
            .any(|s| clean.contains(s))
            {
                worked = true;
            } else if ["run", "start", "active"].iter().any(|s| clean.contains(s))
                && !clean.contains("not ")
            {
                worked = true;
                started = true;
            }
        }
        if !worked && [1, 2, 3, 4, 69].contains(&rc) {
            worked = true;
        }
    }
    if !worked {
        if rc == 0 {
            return (true, true);
        }
        if in_ps(&args.name) {
            warnings.push("Used ps output to match service name and determine it is up, this is very unreliable".into());
            return (true, true);
        }
    }
    (worked, started)
}

/// What is: the script exists, `status` (rc/out), enabled (any runlevel, and each of `RL`),
/// `ps` output when needed.
const PROBE_SH: &str = r#"# HR_SYSVINIT_PROBE
[ -e "$S" ] || die "Could not find the requested service $N: "
_e=$(mktemp) || die "cannot create a temporary file"
on_die() { rm -f -- "$_e"; }
set +f
for _f in /etc/rc?.d/S??"$N"; do [ -e "$_f" ] && { emit enabled 1; break; }; done
for _rl in $RL; do
  _k=$(printf '%s' "$_rl" | tr -c 'A-Za-z0-9' '_')
  if [ -d /etc/rc0.d ]; then _g="/etc/rc$_rl.d/"; else _g="/etc/init.d/rc$_rl.d/"; fi
  for _f in "$_g"S??"$N"; do [ -e "$_f" ] && { emit "en_$_k" 1; break; }; done
done
set -f
if [ "$USE_PS" != 1 ]; then
  _svc=
  for _d in /sbin /usr/sbin /bin /usr/bin; do [ -x "$_d/service" ] && { _svc=$_d/service; break; }; done
  [ -n "$_svc" ] || _svc=$(command -v service 2>/dev/null)
  if [ -n "$_svc" ]; then _o=$("$_svc" "$N" status 2>"$_e" </dev/null); else _o=$("$S" status 2>"$_e" </dev/null); fi
  emit st_rc $?
  emit st_out "$_o
"
fi
emit ps "$(ps auxww 2>/dev/null)"
rm -f -- "$_e"
"#;

/// What changes: enable/disable (`e_*` records), then the action (`a_*`; `fail_rc` when the
/// script failed).
const CHANGE_SH: &str = r#"_o1=$(mktemp) || die "cannot create a temporary file"
_o2=$(mktemp) || { rm -f -- "$_o1"; die "cannot create a temporary file"; }
on_die() { rm -f -- "$_o1" "$_o2"; }
tool() { for _d in /sbin /usr/sbin /bin /usr/bin; do [ -x "$_d/$1" ] && { printf '%s' "$_d/$1"; return 0; }; done; command -v "$1" 2>/dev/null; }
if [ -n "$ENABLE" ]; then
  _u=$(tool update-rc.d); _c=$(tool chkconfig)
  set +f
  if [ -n "$_u" ]; then
    if [ -n "$RL" ]; then
      if [ "$ENABLE" = 1 ]; then "$_u" "$N" enable $RL; else "$_u" "$N" disable $RL; fi
    elif [ "$ENABLE" = 1 ]; then "$_u" "$N" defaults; else "$_u" "$N" disable; fi
  elif [ -n "$_c" ]; then
    _on=off; [ "$ENABLE" = 1 ] && _on=on
    if [ -n "$RL" ]; then "$_c" --level "$(printf '%s' "$RL" | tr -d ' ')" "$N" $_on; else "$_c" "$N" $_on; fi
  else
    false
  fi >"$_o1" 2>"$_o2" </dev/null
  emit e_rc $?; emit e_out "$(cat -- "$_o1"; printf x)"; emit e_err "$(cat -- "$_o2"; printf x)"
  set -f
fi
runme() {
  eval "\"\$S\" \"\$1\" $ARGS" >"$_o1" 2>"$_o2" </dev/null
  _rc=$?
  emit a_rc $_rc; emit a_out "$(cat -- "$_o1"; printf x)"; emit a_err "$(cat -- "$_o2"; printf x)"
  [ $_rc = 0 ] || { emit fail_rc $_rc; rm -f -- "$_o1" "$_o2"; exit 0; }
}
case $ACTION in
  '') ;;
  restart) runme stop; [ "$SLEEP" -gt 0 ] && sleep "$SLEEP"; runme start; [ "$SLEEP" -gt 0 ] && sleep "$SLEEP" ;;
  *) runme "$ACTION" ;;
esac
rm -f -- "$_o1" "$_o2"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str) -> SysvArgs {
        SysvArgs {
            name: name.into(),
            state: Some("started".into()),
            enabled: None,
            sleep: 1,
            pattern: None,
            arguments: None,
            runlevels: None,
            daemonize: false,
        }
    }

    fn facts(rc: &str, out: &str) -> Records {
        Records {
            items: vec![
                ("st_rc".into(), rc.into()),
                ("st_out".into(), out.into()),
                ("ps".into(), "root 1 /sbin/init\n".into()),
            ],
        }
    }

    #[test]
    fn status_output_is_read_as_ansible_reads_it() {
        let mut w = Vec::new();
        let a = args("hr-sysv");
        assert_eq!(
            running(&a, &facts("0", "hr-sysv is running.\n"), &mut w),
            (true, true)
        );
        assert_eq!(
            running(
                &a,
                &facts("3", "hr-sysv is not running ... failed!\n"),
                &mut w
            ),
            (true, false)
        );
        assert_eq!(running(&a, &facts("3", "\n"), &mut w), (true, false));
        assert_eq!(running(&a, &facts("0", "\n"), &mut w), (true, true));
        assert_eq!(running(&a, &facts("5", "\n"), &mut w), (false, false));
        assert!(w.is_empty());
    }
}
