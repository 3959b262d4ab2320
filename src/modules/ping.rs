//! `ansible.builtin.ping`: checks that the target runs commands, and returns `ping: <data>`.
//!
//! Semantics (ansible-core 2.18 `modules/ping.py`): one trivial round trip; the result is
//! `{ping: data, changed: false}` with `data` defaulting to `pong`. `data: crash` makes the
//! module fail on purpose, as Ansible's raises an exception (`MODULE FAILURE`).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Ping;

static SPEC: ArgSpec = ArgSpec {
    params: &[Param {
        default: Some("pong"),
        ..Param::new("data", Kind::Str)
    }],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.ping"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let data = remote::opt_str(&args, "data").unwrap_or_else(|| "pong".into());
        // The target echoes the data back: proof that it ran a command, not just accepted a
        // connection.
        let output = remote::exec(ctx, format!("printf '%s' {}", quote(&data)), None).await?;
        if output.rc != 0 || output.stdout != data.as_bytes() {
            let mut result = remote::failed("ping test failed");
            result.insert("rc".into(), Value::from(output.rc));
            result.insert(
                "module_stderr".into(),
                Value::String(String::from_utf8_lossy(&output.stderr).into()),
            );
            return Ok(result);
        }
        if data == "crash" {
            let mut result =
                remote::failed(
                "MODULE FAILURE: No start of json char found\nSee stdout/stderr for the exact error",
            );
            result.insert("module_stdout".into(), Value::String(String::new()));
            result.insert(
                "module_stderr".into(),
                Value::String("Exception: boom\n".into()),
            );
            result.insert(
                "exception".into(),
                Value::String("Exception: boom\n".into()),
            );
            result.insert("rc".into(), Value::from(1));
            return Ok(result);
        }
        let mut result = Map::new();
        result.insert("ping".into(), Value::String(data));
        result.insert("changed".into(), Value::Bool(false));
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::run;
    use serde_json::json;

    #[tokio::test]
    async fn pong_data_and_crash() {
        assert_eq!(
            run(&Ping, json!({})).await,
            json!({"ping": "pong", "changed": false})
                .as_object()
                .unwrap()
                .clone()
        );
        assert_eq!(
            run(&Ping, json!({"data": "it's $(x)"})).await["ping"],
            "it's $(x)"
        );
        let crash = run(&Ping, json!({"data": "crash"})).await;
        assert_eq!(crash["failed"], true);
        assert!(crash["msg"].as_str().unwrap().starts_with("MODULE FAILURE"));
    }
}
