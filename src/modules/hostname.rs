//! `ansible.builtin.hostname`: sets the host's name, now and across reboots.
//!
//! Semantics (ansible-core 2.18 `modules/hostname.py`):
//! - `name` (required), `use`: the strategy. Without `use`, a host that runs systemd gets the
//!   systemd strategy, as in Ansible; others the Debian one (`/etc/hostname`).
//! - `systemd`: `hostnamectl --transient status` / `--static status` are read; the
//!   permanent name is set first (`hostnamectl --pretty --static set-hostname`), then the
//!   current one (`--transient`). Names over 64 characters: `name cannot be longer than 64
//!   characters on systemd servers, try a shorter name`. A failing command: `Command failed
//!   rc=N, out=..., err=...`.
//! - `debian`: `/etc/hostname` holds the name (written atomically); the current name is the
//!   file's, as Ansible's file strategy reads it.
//! - `generic`: the `hostname` command reads and sets the current name only.
//! - Result: `name`, `changed`, `ansible_facts` (`ansible_hostname` (up to the first dot),
//!   `ansible_nodename`, `ansible_fqdn`, `ansible_domain`: the fqdn as `hostname -f` gives
//!   it on the target, for Python's `socket.getfqdn()`), and, when changed, `diff`
//!   (`hostname = <before>\n` / `hostname = <after>\n`). Check mode reports, changes nothing.
//!
//! Not supported (they fail with a message naming the supported ones): the `alpine`,
//! `freebsd`, `macos`, `openbsd`, `openrc`, `redhat`, `sles` and `solaris` strategies.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Hostname;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            required: true,
            ..Param::new("name", Kind::Str)
        },
        Param {
            choices: &[
                "alpine", "darwin", "debian", "freebsd", "generic", "macos", "macosx", "openbsd",
                "openrc", "redhat", "sles", "solaris", "systemd",
            ],
            ..Param::new("use", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
struct HostnameArgs {
    name: String,
    #[serde(rename = "use")]
    strategy: Option<String>,
}

#[async_trait]
impl Module for Hostname {
    fn name(&self) -> &'static str {
        "hostname"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.hostname"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<HostnameArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let HostnameArgs { name, strategy } = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let strategy = match strategy.as_deref() {
            None => "auto",
            Some(s @ ("systemd" | "debian" | "generic")) => s,
            Some(other) => {
                return Ok(remote::failed(format!(
                    "hostname: use={other} is not supported here; the supported strategies are systemd, debian and generic"
                )))
            }
        }
        .to_string();
        let script = format!(
            "NAME={}\nUSE={strategy}\nCHECK={}\n{HOSTNAME_SH}",
            quote(&name),
            u8::from(ctx.check_mode)
        );
        let records = match remote::run_script(ctx, &script, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        if let Some(failure) = records.failure() {
            return Ok(failure);
        }
        let current = records.get("cur").unwrap_or_default();
        let permanent = records.get("perm").unwrap_or_default();
        let changed = records.has("chg");
        let before = if name != current { current } else { permanent };
        let fqdn = records.get("fqdn").unwrap_or_default().to_string();
        let domain = fqdn.split_once('.').map(|(_, d)| d).unwrap_or("");
        let mut facts = Map::new();
        facts.insert(
            "ansible_hostname".into(),
            Value::String(name.split('.').next().unwrap_or("").into()),
        );
        facts.insert("ansible_nodename".into(), Value::String(name.clone()));
        facts.insert("ansible_fqdn".into(), Value::String(fqdn.clone()));
        facts.insert("ansible_domain".into(), Value::String(domain.into()));
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(changed));
        result.insert("name".into(), Value::String(name.clone()));
        result.insert("ansible_facts".into(), Value::Object(facts));
        if changed {
            let mut diff = Map::new();
            diff.insert(
                "before".into(),
                Value::String(format!("hostname = {before}\n")),
            );
            diff.insert(
                "after".into(),
                Value::String(format!("hostname = {name}\n")),
            );
            result.insert("diff".into(), Value::Object(diff));
            remote::mark_diff_mode(&mut result, ctx);
        }
        Ok(result)
    }
}

/// Reads (`cur`, `perm`), sets what differs (`chg`), then reports `fqdn`.
const HOSTNAME_SH: &str = r#"_e=$(mktemp) || die "cannot create a temporary file"
on_die() { rm -f -- "$_e"; }
run() {
  _o=$("$@" 2>"$_e"); _rc=$?; _er=$(cat -- "$_e")
  [ $_rc = 0 ] || die "Command failed rc=$_rc, out=$_o, err=$_er"
}
if [ "$USE" = auto ]; then
  if { [ -d /run/systemd/system ] || [ -d /dev/.run/systemd ] || [ -d /dev/.systemd ]; } && command -v hostnamectl >/dev/null 2>&1; then USE=systemd; else USE=debian; fi
fi
case $USE in
  systemd)
    command -v hostnamectl >/dev/null 2>&1 || die "Failed to find required executable \"hostnamectl\" in paths: $PATH"
    run hostnamectl --transient status; cur=$_o
    run hostnamectl --static status; perm=$_o
    emit cur "$cur"; emit perm "$perm"
    if [ "$perm" != "$NAME" ]; then
      [ ${#NAME} -le 64 ] || die "name cannot be longer than 64 characters on systemd servers, try a shorter name"
      emit chg permanent
      [ "$CHECK" = 1 ] || run hostnamectl --pretty --static set-hostname "$NAME"
    fi
    if [ "$cur" != "$NAME" ]; then
      [ ${#NAME} -le 64 ] || die "name cannot be longer than 64 characters on systemd servers, try a shorter name"
      emit chg current
      [ "$CHECK" = 1 ] || run hostnamectl --transient set-hostname "$NAME"
    fi ;;
  debian)
    perm=
    if [ -e /etc/hostname ]; then IFS= read -r perm </etc/hostname || :; fi
    emit cur "$perm"; emit perm "$perm"
    if [ "$perm" != "$NAME" ]; then
      emit chg permanent
      if [ "$CHECK" != 1 ]; then
        printf '%s\n' "$NAME" >/etc/.hostname.hr.$$ && mv -f /etc/.hostname.hr.$$ /etc/hostname \
          || { rm -f /etc/.hostname.hr.$$; die "failed to update hostname: cannot write /etc/hostname"; }
      fi
    fi ;;
  generic)
    run hostname; cur=$_o
    emit cur "$cur"; emit perm "$cur"
    if [ "$cur" != "$NAME" ]; then
      emit chg current
      [ "$CHECK" = 1 ] || run hostname "$NAME"
    fi ;;
esac
_f=$(hostname -f 2>/dev/null) || _f=
[ -n "$_f" ] || _f=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)
emit fqdn "$_f"
rm -f -- "$_e"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::run;
    use serde_json::json;

    #[tokio::test]
    async fn unsupported_strategies_say_so() {
        let result = run(&Hostname, json!({"name": "x", "use": "solaris"})).await;
        assert!(
            result["msg"]
                .as_str()
                .unwrap()
                .contains("use=solaris is not supported"),
            "{result:?}"
        );
    }
}
