//! `ansible.builtin.group_by`: puts the host in a group named by a templated key (and the
//! group under parent groups), for later plays to target; runs on the controller.
//!
//! Semantics (ansible-core 2.18 action `group_by.py` and `InventoryManager.add_dynamic_group`):
//! - `key` is required (`the 'key' param is required when using group_by`); `parents` is a
//!   list or one name, default `all`. Spaces in names become dashes.
//! - It runs once per host, unlike `add_host`: each host lands in the group its own variables
//!   name (`key: "os_{{ ansible_distribution }}"`).
//! - Result: `add_group`, `parent_groups`, a request the engine applies to the in-memory
//!   inventory; `changed` is what the inventory says: true when the host joined the group or
//!   a parent group was made or linked, false when it already was there.
//! - Check mode changes the in-memory inventory too, as Ansible's action does.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::failed_unchanged as failed;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct GroupBy;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param::new("key", Kind::Raw),
        Param::new("parents", Kind::Raw),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for GroupBy {
    fn name(&self) -> &'static str {
        "group_by"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.group_by"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, _ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        Ok(group_by(&args))
    }
}

pub fn group_by(args: &Map) -> Map {
    let Some(key) = args.get("key").filter(|v| !v.is_null()) else {
        return failed("the 'key' param is required when using group_by");
    };
    let name = |v: &Value| crate::py::str(v).replace(' ', "-");
    let parents: Vec<Value> = match args.get("parents") {
        None | Some(Value::Null) => vec![Value::String("all".into())],
        Some(Value::Array(list)) => list.iter().map(|v| Value::String(name(v))).collect(),
        Some(one) => vec![Value::String(name(one))],
    };
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r.insert("add_group".into(), Value::String(name(key)));
    r.insert("parent_groups".into(), Value::Array(parents));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn key_and_parents_become_the_engine_request() {
        let r = group_by(&args(
            json!({"key": "os Debian 12", "parents": "linux hosts"}),
        ));
        assert_eq!(r["add_group"], "os-Debian-12");
        assert_eq!(r["parent_groups"], json!(["linux-hosts"]));
        let r = group_by(&args(json!({"key": "x"})));
        assert_eq!(r["parent_groups"], json!(["all"]));
        let r = group_by(&args(json!({"key": "x", "parents": ["a", "b c"]})));
        assert_eq!(r["parent_groups"], json!(["a", "b-c"]));
    }

    #[test]
    fn key_is_required() {
        let r = group_by(&args(json!({"parents": "a"})));
        assert_eq!(r["msg"], "the 'key' param is required when using group_by");
        assert_eq!(r["failed"], true);
    }
}
