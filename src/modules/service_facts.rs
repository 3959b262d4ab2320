//! `ansible.builtin.service_facts`: the host's services as the fact `services`.
//!
//! Semantics (ansible-core 2.18 `modules/service_facts.py`, Linux scanners):
//! - SysV: when the target has `service` (and neither `chkconfig` nor `rc-status`),
//!   `service --status-all` lines `[ + ] name` / `[ - ] name` give `{name, state:
//!   running|stopped, source: sysv}`.
//! - systemd (when the host runs it): `systemctl list-units --no-pager --type service --all
//!   --plain` gives `{name, state: running|stopped, status, source: systemd}` per unit, with
//!   `status` the unit's load state, or `not-found`/`masked`/`failed` when one of those shows;
//!   then `systemctl list-unit-files --no-pager --type service --all` sets `status` to the
//!   file state (`enabled`, `disabled`, `static`...) unless it was bad, and units known only
//!   from their files get their `ActiveState` as `state`. systemd's entries win over SysV's.
//! - Result: `ansible_facts.services` (keyed by name, `ssh` for SysV, `ssh.service` for
//!   systemd), `changed: false`; no services at all: `skipped: true` with Ansible's message.
//!   Tools that fail are warnings (`Unable to query 'service' tool (rc): stderr`, `Could not
//!   list units from systemd: ...`). Check mode gathers too.
//!
//! Two round trips (the lists, then `ActiveState` of the units known only from files).
//! Not supported: chkconfig (RHEL 6), upstart, OpenRC and the BSD/AIX scanners.

use super::argspec::ArgSpec;
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct ServiceFacts;

static SPEC: ArgSpec = ArgSpec {
    params: &[],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

const BAD_STATES: &[&str] = &["not-found", "masked", "failed"];

#[async_trait]
impl Module for ServiceFacts {
    fn name(&self) -> &'static str {
        "service_facts"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.service_facts"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, _args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let records = match remote::run_script(ctx, LIST_SH, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        let mut warnings = Vec::new();
        let mut services = Map::new();
        sysv_services(&records, &mut services, &mut warnings);
        if records.has("systemd") {
            let missing = systemd_services(&records, &mut services, &mut warnings);
            if !missing.is_empty() {
                // One record per unit, matched back by position (a unit name may hold
                // characters a record key cannot).
                let states =
                    match remote::run_script(ctx, &active_states_script(&missing), None).await? {
                        Ok(records) => records,
                        Err(result) => return Ok(result),
                    };
                for (i, (name, status)) in missing.into_iter().enumerate() {
                    let state = states
                        .get(&format!("s{i}"))
                        .map(|s| s.trim_end().trim_start_matches("ActiveState=").to_string())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "unknown".into());
                    services.insert(
                        name.clone(),
                        service(&name, &state, Some(&status), "systemd"),
                    );
                }
            }
        }
        let mut result = Map::new();
        if services.is_empty() {
            result.insert("skipped".into(), Value::Bool(true));
            result.insert("msg".into(), Value::String("Failed to find any services. This can be due to privileges or some other configuration issue.".into()));
        } else {
            let mut facts = Map::new();
            facts.insert("services".into(), Value::Object(services));
            result.insert("ansible_facts".into(), Value::Object(facts));
        }
        result.insert("changed".into(), Value::Bool(false));
        if !warnings.is_empty() {
            result.insert(
                "warnings".into(),
                Value::Array(warnings.into_iter().map(Value::String).collect()),
            );
        }
        Ok(result)
    }
}

/// One `emit s<i> "$(systemctl show ...)"` per unit, in order.
fn active_states_script(units: &[(String, String)]) -> String {
    units
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            format!(
                "emit s{i} \"$(systemctl show {} --property=ActiveState 2>/dev/null)\"\n",
                quote(name)
            )
        })
        .collect()
}

fn service(name: &str, state: &str, status: Option<&str>, source: &str) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.into()));
    m.insert("state".into(), Value::String(state.into()));
    if let Some(status) = status {
        m.insert("status".into(), Value::String(status.into()));
    }
    m.insert("source".into(), Value::String(source.into()));
    Value::Object(m)
}

/// `service --status-all`'s `[ + ]`/`[ - ]` lines.
fn sysv_services(records: &Records, services: &mut Map, warnings: &mut Vec<String>) {
    let Some(rc) = records.get("sysv_rc") else {
        return;
    };
    if rc == "4" && !records.has("initd") {
        return;
    }
    if rc != "0" {
        warnings.push(format!(
            "Unable to query 'service' tool ({rc}): {}",
            records.get("sysv_err").unwrap_or_default()
        ));
    }
    for line in records.get("sysv_out").unwrap_or_default().lines() {
        let line = line.trim_start();
        let (state, rest) = match line.get(..5) {
            Some("[ + ]") => ("running", &line[5..]),
            Some("[ - ]") => ("stopped", &line[5..]),
            _ => continue,
        };
        if !rest.starts_with(char::is_whitespace) {
            continue;
        }
        let name = rest.trim_start();
        if name.is_empty() {
            continue;
        }
        services.insert(name.into(), service(name, state, None, "sysv"));
    }
}

/// The units, then the unit files; returns the units known only from files (name, file
/// state), whose `ActiveState` is asked next.
fn systemd_services(
    records: &Records,
    services: &mut Map,
    warnings: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut systemd = Map::new();
    if records.get("units_rc") != Some("0") {
        warnings.push(format!(
            "Could not list units from systemd: {}",
            records.get("units_err").unwrap_or_default()
        ));
    } else {
        for line in records
            .get("units_out")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(".service"))
        {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 4 {
                continue;
            }
            let head = &fields[..fields.len() - 1];
            let status = BAD_STATES
                .iter()
                .find(|bad| head.contains(bad))
                .copied()
                .unwrap_or(fields[2]);
            let state = if fields[3] == "running" {
                "running"
            } else {
                "stopped"
            };
            systemd.insert(
                fields[0].into(),
                service(fields[0], state, Some(status), "systemd"),
            );
        }
    }
    let mut missing = Vec::new();
    if records.get("files_rc") != Some("0") {
        warnings.push(format!(
            "Could not get unit files data from systemd: {}",
            records.get("files_err").unwrap_or_default()
        ));
    } else {
        for line in records
            .get("files_out")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(".service"))
        {
            let mut fields = line.split_whitespace();
            let (Some(name), Some(status)) = (fields.next(), fields.next()) else {
                continue;
            };
            match systemd.get_mut(name) {
                Some(Value::Object(entry)) => {
                    let bad = entry
                        .get("status")
                        .and_then(Value::as_str)
                        .is_some_and(|s| BAD_STATES.contains(&s));
                    if !bad {
                        entry.insert("status".into(), Value::String(status.into()));
                    }
                }
                _ => missing.push((name.to_string(), status.to_string())),
            }
        }
    }
    services.extend(systemd);
    missing
}

/// Lists what the scanners read, each tool's stdout, stderr and exit code as records.
const LIST_SH: &str = r#"have() { command -v "$1" >/dev/null 2>&1; }
_e=$(mktemp) || die "cannot create a temporary file"
if have service && ! have chkconfig && ! have rc-status; then
  _o=$(service --status-all 2>"$_e"); emit sysv_rc $?
  emit sysv_out "$_o"; emit sysv_err "$(cat "$_e")"
  [ -e /etc/init.d ] && emit initd 1
fi
_sd=0
if [ -d /run/systemd/system ] || [ -d /dev/.run/systemd ] || [ -d /dev/.systemd ]; then _sd=1
elif [ -L /sbin/init ]; then case $(readlink /sbin/init) in *systemd*) _sd=1 ;; esac
fi
if [ $_sd = 1 ] && have systemctl; then
  emit systemd 1
  _o=$(systemctl list-units --no-pager --type service --all --plain 2>"$_e"); emit units_rc $?
  emit units_out "$_o"; emit units_err "$(cat "$_e")"
  _o=$(systemctl list-unit-files --no-pager --type service --all 2>"$_e"); emit files_rc $?
  emit files_out "$_o"; emit files_err "$(cat "$_e")"
fi
rm -f -- "$_e"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn records(items: &[(&str, &str)]) -> Records {
        Records {
            items: items
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn sysv_lines_give_running_and_stopped_services() {
        let r = records(&[
            ("sysv_rc", "0"),
            ("sysv_out", " [ + ]  ssh\n [ - ]  hwclock.sh\n [ ? ]  odd\n"),
        ]);
        let mut services = Map::new();
        let mut warnings = Vec::new();
        sysv_services(&r, &mut services, &mut warnings);
        assert_eq!(
            Value::Object(services),
            serde_json::json!({
                "ssh": {"name": "ssh", "state": "running", "source": "sysv"},
                "hwclock.sh": {"name": "hwclock.sh", "state": "stopped", "source": "sysv"},
            })
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn systemd_units_and_files_merge_as_ansible_does() {
        let r = records(&[
            ("units_rc", "0"),
            ("units_out", "mariadb.service loaded active running MariaDB 10.11\nnope.service not-found inactive dead nope.service\nx.socket loaded active listening X\n"),
            ("files_rc", "0"),
            ("files_out", "UNIT FILE STATE PRESET\nmariadb.service enabled enabled\nnope.service disabled enabled\nhr@.service static -\n\n3 unit files listed.\n"),
        ]);
        let mut services = Map::new();
        let mut warnings = Vec::new();
        let missing = systemd_services(&r, &mut services, &mut warnings);
        assert_eq!(services["mariadb.service"]["status"], "enabled");
        assert_eq!(services["mariadb.service"]["state"], "running");
        assert_eq!(services["nope.service"]["status"], "not-found");
        assert_eq!(services["nope.service"]["state"], "stopped");
        assert_eq!(
            missing,
            vec![("hr@.service".to_string(), "static".to_string())]
        );
    }
}
