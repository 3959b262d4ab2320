//! `ansible.builtin.fail`: fails the task with a message; runs on the controller.
//!
//! Semantics (ansible-core 2.18 `plugins/action/fail.py`, reference §1.7): `msg` (default
//! `Failed as requested from task`); the result is `failed: true, msg, changed: false`. The
//! message keeps its type (a list or dict `msg` is shown as such).

use super::argspec::{ArgSpec, Kind, Param};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Fail;

pub const DEFAULT_MSG: &str = "Failed as requested from task";

static SPEC: ArgSpec = ArgSpec {
    params: &[Param {
        default: Some(DEFAULT_MSG),
        ..Param::new("msg", Kind::Raw)
    }],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for Fail {
    fn name(&self) -> &'static str {
        "fail"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.fail"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }

    async fn run(&self, args: Map, _ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        Ok(fail(&args))
    }
}

pub fn fail(args: &Map) -> Map {
    let msg = args
        .get("msg")
        .filter(|v| !v.is_null())
        .cloned()
        .unwrap_or_else(|| Value::String(DEFAULT_MSG.into()));
    let mut r = Map::new();
    r.insert("failed".into(), Value::Bool(true));
    r.insert("msg".into(), msg);
    r.insert("changed".into(), Value::Bool(false));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_message() {
        let r = fail(&Map::new());
        assert_eq!(r["failed"], json!(true));
        assert_eq!(r["msg"], json!(DEFAULT_MSG));
    }

    #[test]
    fn custom_message() {
        let mut a = Map::new();
        a.insert("msg".into(), json!("VM has no IP"));
        assert_eq!(fail(&a)["msg"], json!("VM has no IP"));
    }
}
