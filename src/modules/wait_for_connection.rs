//! `ansible.builtin.wait_for_connection`: waits until the host runs commands again.
//!
//! Semantics (ansible-core 2.18 action `wait_for_connection.py`):
//! - Options `connect_timeout` (5), `delay` (0), `sleep` (1), `timeout` (600); any other option
//!   fails with `Invalid options for wait_for_connection: foo` (the action checks its own
//!   options at run time, so the module accepts any name at load time).
//! - Check mode: `skipped: true`.
//! - Sleeps `delay`, then until `timeout` passes: resets the connection (a new SSH master),
//!   runs the ping test (a trivial command that must echo `pong`, bounded by
//!   `connect_timeout`), sleeping `sleep` between attempts.
//! - Result: `elapsed` (whole seconds), `changed: false`; on timeout `failed: true,
//!   msg: "timed out waiting for ping module test: <last error>"`, a task failure, not
//!   unreachable.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::{ConnError, ExecRequest};
use crate::{Map, Value};
use async_trait::async_trait;
use std::time::{Duration, Instant};

pub struct WaitForConnection;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            default: Some("5"),
            ..Param::new("connect_timeout", Kind::Int)
        },
        Param {
            default: Some("0"),
            ..Param::new("delay", Kind::Int)
        },
        Param {
            default: Some("1"),
            ..Param::new("sleep", Kind::Int)
        },
        Param {
            default: Some("600"),
            ..Param::new("timeout", Kind::Int)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for WaitForConnection {
    fn name(&self) -> &'static str {
        "wait_for_connection"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.wait_for_connection"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn accepts_any_args(&self) -> bool {
        true
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let mut unknown: Vec<&str> = args
            .keys()
            .map(String::as_str)
            .filter(|k| SPEC.param(k).is_none())
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Ok(remote::failed(format!(
                "Invalid options for wait_for_connection: {}",
                unknown.join(",")
            )));
        }
        let args = match SPEC.normalize(self.fqcn(), args) {
            Ok(args) => args,
            Err(msg) => return Ok(remote::failed(msg)),
        };
        if ctx.check_mode {
            let mut result = Map::new();
            result.insert("skipped".into(), Value::Bool(true));
            return Ok(result);
        }
        let seconds = |key: &str, default: u64| {
            Duration::from_secs(args.get(key).and_then(Value::as_u64).unwrap_or(default))
        };
        Ok(wait(
            ctx,
            seconds("connect_timeout", 5),
            seconds("delay", 0),
            seconds("sleep", 1),
            seconds("timeout", 600),
        )
        .await)
    }
}

/// The retry loop; always a result, never an `Err` (a timeout is a task failure).
async fn wait(
    ctx: &ModuleContext<'_>,
    connect_timeout: Duration,
    delay: Duration,
    sleep: Duration,
    timeout: Duration,
) -> Map {
    let start = Instant::now();
    tokio::time::sleep(delay).await;
    let deadline = Instant::now() + timeout;
    let mut last_error = String::from("no attempt was made");
    let mut result = Map::new();
    while Instant::now() < deadline {
        ctx.conn.close().await;
        match ping(ctx, connect_timeout).await {
            Ok(()) => {
                result.insert("elapsed".into(), Value::from(start.elapsed().as_secs()));
                result.insert("changed".into(), Value::Bool(false));
                return result;
            }
            Err(e) => last_error = e,
        }
        tokio::time::sleep(sleep).await;
    }
    result.insert("failed".into(), Value::Bool(true));
    result.insert(
        "msg".into(),
        Value::String(format!(
            "timed out waiting for ping module test: {last_error}"
        )),
    );
    result.insert("elapsed".into(), Value::from(start.elapsed().as_secs()));
    result
}

async fn ping(ctx: &ModuleContext<'_>, connect_timeout: Duration) -> Result<(), String> {
    let request = ExecRequest {
        script: "echo pong".into(),
        become_: ctx.become_.clone(),
        env: ctx.env.clone(),
        timeout: Some(connect_timeout),
        ..ExecRequest::default()
    };
    match tokio::time::timeout(
        connect_timeout + Duration::from_secs(1),
        ctx.conn.exec(request),
    )
    .await
    {
        Err(_) => Err(format!("timed out after {}s", connect_timeout.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(output)) if output.rc == 0 && output.stdout.starts_with(b"pong") => Ok(()),
        Ok(Ok(output)) => Err(if output.stderr.is_empty() {
            "ping test failed".to_string()
        } else {
            String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_string()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, run};
    use serde_json::json;

    #[tokio::test]
    async fn succeeds_at_once_on_a_live_host() {
        let result = run(&WaitForConnection, json!({"timeout": 5})).await;
        assert_eq!(result["elapsed"], 0);
        assert!(result.get("failed").is_none());
    }

    #[tokio::test]
    async fn options_are_checked_like_the_action_plugin() {
        let result = run(&WaitForConnection, json!({"foo": 1, "timeout": 3})).await;
        assert_eq!(
            result["msg"],
            "Invalid options for wait_for_connection: foo"
        );
        let result = check(&WaitForConnection, json!({})).await;
        assert_eq!(result["skipped"], true);
    }

    #[tokio::test]
    async fn times_out_with_ansible_message() {
        use crate::connection::{Connection, ExecOutput};
        struct Down;
        #[async_trait]
        impl Connection for Down {
            async fn exec(&self, _request: ExecRequest) -> Result<ExecOutput, ConnError> {
                Err(ConnError::Unreachable(
                    "ssh: connect to host 10.0.0.9 port 22: Connection refused".into(),
                ))
            }
            async fn close(&self) {}
            fn transport(&self) -> &'static str {
                "ssh"
            }
        }
        let templar = crate::template::Templar::new();
        let vars = Map::new();
        let ctx = crate::modules::remote::testkit::context("vm", &Down, &templar, &vars);
        let result = wait(
            &ctx,
            Duration::from_secs(1),
            Duration::ZERO,
            Duration::from_millis(100),
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(result["failed"], true);
        assert_eq!(
            result["msg"],
            "timed out waiting for ping module test: ssh: connect to host 10.0.0.9 port 22: Connection refused"
        );
    }
}
