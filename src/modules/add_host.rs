//! `ansible.builtin.add_host`: adds a host (and its groups and variables) to the in-memory
//! inventory; runs on the controller.
//!
//! Semantics (ansible-core 2.18 `plugins/action/add_host.py`, reference §1.4):
//! - `name` (aliases `host`, `hostname`) is required; `host:port` and `[v6addr]:port` set the
//!   host variable `ansible_ssh_port` (an int). A bare IPv6 address has no port.
//! - `groups` (aliases `group`, `groupname`): a list or a comma-separated string; names are
//!   stripped and kept once, in order. Anything else fails with `Groups must be specified as a
//!   list.`
//! - Every other key becomes a host variable. As in Ansible only `name`, `hostname`, `groups`
//!   and `groupname` are left out, so `host:` and `group:` are also kept as variables.
//! - The whole argument dict may come from a template (`add_host: "{{ data }}"`): a mapping in
//!   `_raw_params` is merged under the explicit arguments.
//! - Result: `add_host: {host_name, groups, host_vars}`. The engine applies it to the inventory
//!   (the host is visible to later plays) and decides `changed` from what really changed (new
//!   host, new vars, new group membership); this module reports `changed: true`, the answer for
//!   a new host, so the console is right when the engine does not refine it.
//! - The engine runs it once per batch (BYPASS_HOST_LOOP), not once per host.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::failed_unchanged as failed;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct AddHost;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            aliases: &["host", "hostname"],
            required: true,
            ..Param::new("name", Kind::Str)
        },
        Param {
            aliases: &["group", "groupname"],
            ..Param::new("groups", Kind::List)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for AddHost {
    fn name(&self) -> &'static str {
        "add_host"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.add_host"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn bypasses_host_loop(&self) -> bool {
        true
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn accepts_any_args(&self) -> bool {
        true
    }

    async fn run(&self, args: Map, _ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        Ok(add_host(args))
    }
}

pub fn add_host(mut args: Map) -> Map {
    match args.remove("_raw_params") {
        None | Some(Value::Null) => {}
        Some(Value::Object(raw)) => {
            let mut merged = raw;
            merged.extend(args);
            args = merged;
        }
        Some(other) => {
            return failed(format!(
                "Invalid raw parameters passed, requires a dictionary/mapping got a  {}",
                crate::py::class_name(&other)
            ))
        }
    }
    let name = ["name", "hostname", "host"]
        .iter()
        .find_map(|k| args.get(*k).filter(|v| !v.is_null()))
        .map(scalar_text);
    let Some(name) = name else {
        return failed("name, host or hostname needs to be provided");
    };
    let (host_name, port) = parse_address(&name);
    if let Some(port) = port {
        args.insert("ansible_ssh_port".into(), Value::from(port));
    }
    let groups = match group_list(&args) {
        Ok(g) => g,
        Err(msg) => return failed(msg),
    };
    let host_vars: Map = args
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "name" | "hostname" | "groupname" | "groups"))
        .collect();
    let mut add = Map::new();
    add.insert("host_name".into(), Value::String(host_name));
    add.insert(
        "groups".into(),
        Value::Array(groups.into_iter().map(Value::String).collect()),
    );
    add.insert("host_vars".into(), Value::Object(host_vars));
    let mut r = Map::new();
    r.insert("add_host".into(), Value::Object(add));
    r.insert("changed".into(), Value::Bool(true));
    r
}

/// `groupname`, else `groups`, else `group`, as a list of stripped, distinct names.
fn group_list(args: &Map) -> Result<Vec<String>, String> {
    let raw = ["groupname", "groups", "group"]
        .iter()
        .find_map(|k| args.get(*k).filter(|v| !v.is_null()));
    let items: Vec<String> = match raw {
        None => vec![],
        Some(Value::String(s)) if s.is_empty() => vec![],
        Some(Value::String(s)) => s.split(',').map(str::to_string).collect(),
        Some(Value::Array(a)) => a.iter().map(scalar_text).collect(),
        Some(_) => return Err("Groups must be specified as a list.".into()),
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let g = item.trim().to_string();
        if !g.is_empty() && !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Splits `host:port` / `[addr]:port`; anything else is a name without a port (Ansible
/// falls back to the text as-is when it cannot parse it).
pub fn parse_address(address: &str) -> (String, Option<u16>) {
    let text = address.trim();
    if let Some(rest) = text.strip_prefix('[') {
        if let Some((inside, after)) = rest.split_once(']') {
            if after.is_empty() {
                return (inside.to_string(), None);
            }
            if let Some(port) = after.strip_prefix(':').and_then(|p| p.parse().ok()) {
                return (inside.to_string(), Some(port));
            }
        }
        return (text.to_string(), None);
    }
    if text.matches(':').count() == 1 {
        if let Some((host, port)) = text.split_once(':') {
            if let Ok(port) = port.parse::<u16>() {
                if !host.is_empty() {
                    return (host.to_string(), Some(port));
                }
            }
        }
    }
    (text.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::args;
    use serde_json::json;

    #[test]
    fn the_forklift_shape() {
        let r = add_host(args(json!({
            "name": "10.0.0.7",
            "groups": "vms",
            "ansible_user": "root",
            "ansible_ssh_private_key_file": "~/.ssh/id_rsa",
        })));
        assert_eq!(
            r["add_host"],
            json!({
                "host_name": "10.0.0.7",
                "groups": ["vms"],
                "host_vars": {"ansible_user": "root", "ansible_ssh_private_key_file": "~/.ssh/id_rsa"},
            })
        );
        assert_eq!(r["changed"], json!(true));
    }

    #[test]
    fn ports_become_ansible_ssh_port() {
        let r = add_host(args(json!({"hostname": "vm:2222"})));
        assert_eq!(r["add_host"]["host_name"], json!("vm"));
        assert_eq!(r["add_host"]["host_vars"]["ansible_ssh_port"], json!(2222));
        assert_eq!(parse_address("[fd00::1]:22"), ("fd00::1".into(), Some(22)));
        assert_eq!(parse_address("fd00::1"), ("fd00::1".into(), None));
        assert_eq!(
            parse_address("host:notaport"),
            ("host:notaport".into(), None)
        );
    }

    #[test]
    fn groups_as_list_or_comma_string() {
        let r = add_host(args(json!({"name": "h", "groupname": "a, b,a"})));
        assert_eq!(r["add_host"]["groups"], json!(["a", "b"]));
        let r = add_host(args(json!({"name": "h", "group": ["x", "y"]})));
        assert_eq!(r["add_host"]["groups"], json!(["x", "y"]));
        let r = add_host(args(json!({"name": "h", "groups": {"a": 1}})));
        assert_eq!(r["msg"], json!("Groups must be specified as a list."));
    }

    #[test]
    fn host_and_group_keys_stay_as_vars_like_ansible() {
        let r = add_host(args(json!({"host": "h", "group": "g"})));
        assert_eq!(r["add_host"]["host_name"], json!("h"));
        assert_eq!(
            r["add_host"]["host_vars"],
            json!({"host": "h", "group": "g"})
        );
    }

    #[test]
    fn a_templated_dict_in_raw_params_is_merged() {
        let r = add_host(args(json!({"_raw_params": {"name": "a", "x": 1}, "x": 2})));
        assert_eq!(r["add_host"]["host_name"], json!("a"));
        assert_eq!(r["add_host"]["host_vars"], json!({"x": 2}));
    }

    #[test]
    fn a_name_is_required() {
        let r = add_host(args(json!({"groups": "g"})));
        assert_eq!(r["failed"], json!(true));
    }
}
