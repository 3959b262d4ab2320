//! `ansible.builtin.async_status`: the status (and, once finished, the result) of a job that
//! an `async: N, poll: 0` task started; or its cleanup.
//!
//! Semantics (ansible-core 2.18 action and module `async_status.py`):
//! - `jid` (required), `mode`: `status` (default) or `cleanup`. The results file is
//!   `~/.ansible_async/<jid>` on the target (`/tmp/.ansible_async_<uid>/<jid>` when the job
//!   could not write to the home; see [`crate::engine`]'s async jobs).
//! - No such file: `failed`, `msg: could not find job`, `started: 1, finished: 1`.
//! - `cleanup`: the file (and the kept output) removed; `erased: <path>`.
//! - A running job: `started: 1, finished: 0, results_file`, `changed: false`.
//! - A finished job: the job's module result, as async_wrapper writes it for Ansible:
//!   `cmd` (when this process started the job), `rc`, `stdout`, `stderr` (trailing newlines
//!   stripped, as `command` does), `start`, `end`, `delta`, `changed: true`, and `failed`
//!   with `msg: non-zero return code` when rc is not 0; a job that its `async` limit ended:
//!   `failed, msg: Timeout exceeded`. Always `ansible_job_id`, `started: 1, finished: 1`,
//!   `results_file`, `stdout`/`stderr` (empty when there are none).
//! - Check mode runs it too (the module supports check mode).
//!
//! One round trip. Not supported: jobs started by other modules than `command`/`shell` (none
//! run async here); `cmd` of a job started by another hook-runner process is not known.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

pub struct AsyncStatus;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            required: true,
            ..Param::new("jid", Kind::Str)
        },
        Param {
            default: Some("status"),
            choices: &["cleanup", "status"],
            ..Param::new("mode", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// What the task that started a job said about it (its `cmd`), by job id.
fn launched() -> &'static Mutex<HashMap<String, Map>> {
    static JOBS: OnceLock<Mutex<HashMap<String, Map>>> = OnceLock::new();
    JOBS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Called when a fire-and-forget job was started, with the module's result for the launch:
/// the keys that describe the job itself (`cmd`) are reported again by `async_status`.
pub fn remember(jid: &str, launch_result: &Map) {
    let mut kept = Map::new();
    if let Some(cmd) = launch_result.get("cmd") {
        kept.insert("cmd".into(), cmd.clone());
    }
    if let Ok(mut jobs) = launched().lock() {
        jobs.insert(jid.to_string(), kept);
    }
}

fn launch_keys(jid: &str) -> Map {
    launched()
        .lock()
        .ok()
        .and_then(|jobs| jobs.get(jid).cloned())
        .unwrap_or_default()
}

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
struct AsyncStatusArgs {
    jid: String,
    mode: String,
}

#[async_trait]
impl Module for AsyncStatus {
    fn name(&self) -> &'static str {
        "async_status"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.async_status"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<AsyncStatusArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let AsyncStatusArgs { jid, mode } = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let cleanup = mode == "cleanup";
        let script = format!(
            "J={}\nMODE={}\n{STATUS_SH}",
            quote(&jid),
            if cleanup { "cleanup" } else { "status" }
        );
        let records = match remote::run_script(ctx, &script, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        let file = records.get("file").unwrap_or_default().to_string();
        let mut result = Map::new();
        result.insert("ansible_job_id".into(), Value::String(jid.clone()));
        result.insert("started".into(), Value::from(0));
        result.insert("finished".into(), Value::from(0));
        result.insert("stdout".into(), Value::String(String::new()));
        result.insert("stderr".into(), Value::String(String::new()));
        if cleanup {
            result.insert("erased".into(), Value::String(file.clone()));
        } else {
            result.insert("results_file".into(), Value::String(file.clone()));
            result.insert("started".into(), Value::from(1));
        }
        if records.has("missing") {
            result.insert("failed".into(), Value::Bool(true));
            result.insert("msg".into(), Value::String("could not find job".into()));
            result.insert("started".into(), Value::from(1));
            result.insert("finished".into(), Value::from(1));
            return Ok(result);
        }
        if cleanup {
            return Ok(result);
        }
        let status: Map = records
            .get("status")
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default();
        if status.get("finished").and_then(Value::as_i64) != Some(1) {
            // Not written yet, or written at the start: the job runs.
            result.insert("changed".into(), Value::Bool(false));
            return Ok(result);
        }
        result.extend(finished_result(&jid, &status, &records));
        Ok(result)
    }
}

/// The module result of a finished job, from its status record and kept output.
fn finished_result(jid: &str, status: &Map, records: &remote::Records) -> Map {
    let mut result = Map::new();
    result.insert("started".into(), Value::from(1));
    result.insert("finished".into(), Value::from(1));
    result.insert("ansible_job_id".into(), Value::String(jid.to_string()));
    if status.get("failed").is_some_and(|v| v.as_i64() == Some(1)) {
        result.insert("failed".into(), Value::Bool(true));
        result.insert(
            "msg".into(),
            status.get("msg").cloned().unwrap_or(Value::Null),
        );
        return result;
    }
    result.extend(launch_keys(jid));
    let text = |key: &str| {
        records
            .get(key)
            .unwrap_or_default()
            .trim_end_matches(['\r', '\n'])
            .to_string()
    };
    let rc = status.get("rc").and_then(Value::as_i64).unwrap_or(0);
    result.insert("changed".into(), Value::Bool(true));
    result.insert("rc".into(), Value::from(rc));
    result.insert("stdout".into(), Value::String(text("out")));
    result.insert("stderr".into(), Value::String(text("err")));
    let time = |key: &str| {
        status
            .get(key)
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<f64>().ok())
    };
    if let (Some(start), Some(end)) = (time("hr_start"), time("hr_end")) {
        result.insert("start".into(), Value::String(python_datetime(start)));
        result.insert("end".into(), Value::String(python_datetime(end)));
        let delta = std::time::Duration::from_secs_f64((end - start).max(0.0));
        result.insert(
            "delta".into(),
            Value::String(super::command::python_timedelta(delta)),
        );
    }
    result.insert("msg".into(), Value::String(String::new()));
    if rc != 0 {
        result.insert("failed".into(), Value::Bool(true));
        result.insert("msg".into(), Value::String("non-zero return code".into()));
    }
    result
}

/// Epoch seconds as Python's `str(datetime)` in the controller's time zone.
fn python_datetime(epoch: f64) -> String {
    let secs = epoch.trunc() as i64;
    let nanos = ((epoch - epoch.trunc()) * 1e9)
        .round()
        .clamp(0.0, 999_999_999.0) as u32;
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(t) => t
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string(),
        None => String::new(),
    }
}

/// Finds the results file where the job launcher writes it, then reports or removes it.
const STATUS_SH: &str = r#"f="${HOME:-/tmp}/.ansible_async/$J"
if [ ! -e "$f" ]; then
  _alt="/tmp/.ansible_async_$(id -u)/$J"
  [ -e "$_alt" ] && f=$_alt
fi
emit file "$f"
if [ ! -e "$f" ]; then emit missing 1; exit 0; fi
if [ "$MODE" = cleanup ]; then
  rm -f -- "$f" "$f.out" "$f.err"
  exit 0
fi
emit status "$(cat -- "$f" 2>/dev/null)"
case $(cat -- "$f" 2>/dev/null) in
  *'"finished": 1'*)
    [ -e "$f.out" ] && emit out "$(cat -- "$f.out")"
    [ -e "$f.err" ] && emit err "$(cat -- "$f.err")" ;;
esac
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{run_with, Options};
    use serde_json::json;

    fn home(dir: &std::path::Path) -> Options {
        Options {
            env: vec![("HOME".into(), dir.display().to_string())],
            ..Options::default()
        }
    }

    #[tokio::test]
    async fn running_finished_failed_and_cleaned_up_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = dir.path().join(".ansible_async");
        std::fs::create_dir(&jobs).unwrap();
        std::fs::write(
            jobs.join("j1.1"),
            "{\"started\": 1, \"finished\": 0, \"ansible_job_id\": \"j1.1\"}\n",
        )
        .unwrap();
        let result = run_with(&AsyncStatus, json!({"jid": "j1.1"}), home(dir.path())).await;
        assert_eq!(result["finished"], 0, "{result:?}");
        assert_eq!(result["started"], 1);
        assert_eq!(
            result["results_file"],
            jobs.join("j1.1").display().to_string()
        );

        std::fs::write(
            jobs.join("j1.1"),
            "{\"started\": 1, \"finished\": 1, \"ansible_job_id\": \"j1.1\", \"rc\": 3, \"hr_start\": \"1700000000.5\", \"hr_end\": \"1700000002.75\"}\n",
        )
        .unwrap();
        std::fs::write(jobs.join("j1.1.out"), "line one\nline two\n").unwrap();
        std::fs::write(jobs.join("j1.1.err"), "oops\n").unwrap();
        let mut launch = Map::new();
        launch.insert("cmd".into(), json!("exit 3"));
        remember("j1.1", &launch);
        let result = run_with(&AsyncStatus, json!({"jid": "j1.1"}), home(dir.path())).await;
        assert_eq!(result["finished"], 1, "{result:?}");
        assert_eq!(result["rc"], 3);
        assert_eq!(result["stdout"], "line one\nline two");
        assert_eq!(result["stderr"], "oops");
        assert_eq!(result["cmd"], "exit 3");
        assert_eq!(result["failed"], true);
        assert_eq!(result["msg"], "non-zero return code");
        assert_eq!(result["delta"], "0:00:02.250000");
        assert_eq!(result["changed"], true);

        let result = run_with(
            &AsyncStatus,
            json!({"jid": "j1.1", "mode": "cleanup"}),
            home(dir.path()),
        )
        .await;
        assert_eq!(result["erased"], jobs.join("j1.1").display().to_string());
        assert!(!jobs.join("j1.1").exists() && !jobs.join("j1.1.out").exists());

        let result = run_with(&AsyncStatus, json!({"jid": "j1.1"}), home(dir.path())).await;
        assert_eq!(result["msg"], "could not find job");
        assert_eq!(result["failed"], true);
        assert_eq!(result["finished"], 1);
    }

    #[tokio::test]
    async fn a_job_past_its_limit_reports_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let jobs = dir.path().join(".ansible_async");
        std::fs::create_dir(&jobs).unwrap();
        std::fs::write(
            jobs.join("j2.1"),
            "{\"started\": 1, \"finished\": 1, \"ansible_job_id\": \"j2.1\", \"rc\": 124, \"hr_start\": \"1\", \"hr_end\": \"2\", \"failed\": 1, \"msg\": \"Timeout exceeded\"}\n",
        )
        .unwrap();
        let result = run_with(&AsyncStatus, json!({"jid": "j2.1"}), home(dir.path())).await;
        assert_eq!(result["msg"], "Timeout exceeded", "{result:?}");
        assert_eq!(result["failed"], true);
    }
}
