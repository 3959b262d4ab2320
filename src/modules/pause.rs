//! `ansible.builtin.pause`: waits some time, or for an answer to a prompt; runs on the
//! controller.
//!
//! Semantics (ansible-core 2.18 action `pause.py`), for a run without a terminal (a hook
//! pod, CI):
//! - `minutes` or `seconds` (not both: `parameters are mutually exclusive: minutes|seconds`),
//!   whole numbers (a float is cut to its integer, as Python's `int()`); less than one second
//!   waits one second. Without a terminal Ansible sleeps the duration: so does this.
//! - Without a duration, a `prompt` (or the default one) would wait for Enter; with no terminal
//!   Ansible does not wait and warns `Not waiting for response to prompt as stdin is not
//!   interactive`: so does this, and `user_input` is empty.
//! - `echo` (default true) only hides typed input; it is returned as given.
//! - Result: `changed: false, rc: 0, stdout: "Paused for N seconds"` (or minutes, rounded to
//!   two decimals as Python prints a float), `stderr: ""`, `start`, `stop` (Python's
//!   `str(datetime.now())`), `delta` (whole seconds), `echo`, `user_input`.
//! - Check mode pauses too, as Ansible's action does.
//!
//! Not supported: reading an answer from a terminal (hook-runner never prompts), and the
//! `Pausing for N seconds` console line.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;
use std::time::{Duration, Instant};

pub struct Pause;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            default: Some("true"),
            ..Param::new("echo", Kind::Bool)
        },
        Param::new("minutes", Kind::Raw),
        Param::new("seconds", Kind::Raw),
        Param::new("prompt", Kind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[&["minutes", "seconds"]],
    required_one_of: &[],
};

pub const NOT_INTERACTIVE: &str = "Not waiting for response to prompt as stdin is not interactive";

#[async_trait]
impl Module for Pause {
    fn name(&self) -> &'static str {
        "pause"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.pause"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, _ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let echo = args.get("echo").and_then(Value::as_bool).unwrap_or(true);
        let (seconds, unit) = match (whole("minutes", &args), whole("seconds", &args)) {
            (Err(msg), _) | (_, Err(msg)) => return Ok(remote::failed_unchanged(msg)),
            (Ok(Some(m)), _) => (Some(m * 60), "minutes"),
            (Ok(None), Ok(Some(s))) => (Some(s), "seconds"),
            (Ok(None), Ok(None)) => (None, "minutes"),
        };
        let start = chrono::Local::now();
        let clock = Instant::now();
        let mut warnings = Vec::new();
        match seconds {
            Some(s) => tokio::time::sleep(Duration::from_secs(s.max(1) as u64)).await,
            None => warnings.push(Value::String(NOT_INTERACTIVE.into())),
        }
        let elapsed = clock.elapsed().as_secs_f64();
        let stop = chrono::Local::now();
        let shown = if unit == "minutes" {
            elapsed / 60.0
        } else {
            elapsed
        };
        let shown = (shown * 100.0).round() / 100.0;
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(false));
        result.insert("rc".into(), Value::from(0));
        result.insert("stderr".into(), Value::String(String::new()));
        result.insert(
            "stdout".into(),
            Value::String(format!(
                "Paused for {} {unit}",
                crate::py::float_repr(shown)
            )),
        );
        result.insert("start".into(), Value::String(python_now(start)));
        result.insert("stop".into(), Value::String(python_now(stop)));
        result.insert("delta".into(), Value::from(elapsed as u64));
        result.insert("echo".into(), Value::Bool(echo));
        result.insert("user_input".into(), Value::String(String::new()));
        if !warnings.is_empty() {
            result.insert("warnings".into(), Value::Array(warnings));
        }
        Ok(result)
    }
}

/// `minutes`/`seconds` through Python's `int()`: integers, floats (cut), integer strings.
fn whole(name: &str, args: &Map) -> Result<Option<i64>, String> {
    let value = match args.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let n = match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    };
    n.map(Some).ok_or_else(|| {
        format!(
            "argument '{name}' is of type {} and we were unable to convert to int: invalid literal for int() with base 10: {}",
            crate::py::class_name(value),
            crate::py::repr(value)
        )
    })
}

/// Python's `str(datetime.now())`.
fn python_now(time: chrono::DateTime<chrono::Local>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::run;
    use serde_json::json;

    #[tokio::test]
    async fn seconds_are_waited_for() {
        let clock = Instant::now();
        let result = run(&Pause, json!({"seconds": "1"})).await;
        assert!(clock.elapsed() >= Duration::from_secs(1));
        assert_eq!(result["stdout"], "Paused for 1.0 seconds", "{result:?}");
        assert_eq!(result["delta"], 1);
        assert_eq!(result["user_input"], "");
        assert_eq!(result["changed"], false);
        assert_eq!(result.get("warnings"), None);
    }

    #[tokio::test]
    async fn a_prompt_without_a_terminal_returns_at_once_with_a_warning() {
        let clock = Instant::now();
        let result = run(&Pause, json!({"prompt": "Continue?", "echo": false})).await;
        assert!(clock.elapsed() < Duration::from_secs(1));
        assert_eq!(result["stdout"], "Paused for 0.0 minutes");
        assert_eq!(result["echo"], false);
        assert_eq!(result["warnings"], json!([NOT_INTERACTIVE]));
    }

    #[tokio::test]
    async fn minutes_and_seconds_are_exclusive_and_numbers() {
        let result = run(&Pause, json!({"minutes": 1, "seconds": 1})).await;
        assert_eq!(
            result["msg"],
            "parameters are mutually exclusive: minutes|seconds"
        );
        let result = run(&Pause, json!({"seconds": "soon"})).await;
        assert!(
            result["msg"]
                .as_str()
                .unwrap()
                .starts_with("argument 'seconds' is of type <class 'str'>"),
            "{result:?}"
        );
    }
}
