//! `async:` and `poll:` on a task: Ansible's asynchronous actions, for `command` and `shell`.
//!
//! Semantics (Ansible's, for the uses hooks make of them):
//! - `async` absent or 0: the task runs synchronously (`poll` is ignored). Both keywords are
//!   templated and must be whole numbers of seconds; `poll` defaults to 15 (Ansible's
//!   `DEFAULT_POLL_INTERVAL`).
//! - `async: N, poll: 0` (fire and forget, e.g. `shell: sleep 2 && reboot`): the command is
//!   started on the host detached from the connection (its own session with `setsid` when the
//!   host has it, stdin/stdout/stderr on `/dev/null`, under `timeout N` when the host has
//!   `timeout`), and the task returns at once with Ansible's result: `started: 1`,
//!   `finished: 0`, `failed: 0`, `ansible_job_id` (`j<digits>.<pid>`), `results_file`,
//!   `changed: true`.
//!   The channel closes as soon as the launcher script exits, and the remote watchdog
//!   (`connection::watchdog`) leaves the job alone: it only signals a wrapper shell that is
//!   still running when the channel closes, and the job is in another session anyway.
//!   `results_file` (`~/.ansible_async/<jid>`, `/tmp/.ansible_async_<uid>/` when the home is
//!   not writable) holds `{"started": 1, "finished": 0, ...}`, then, once the job ended, its
//!   exit code (`"rc"`) and start and end times (`"hr_start"`, `"hr_end"`: epoch seconds from
//!   the target's clock), or `"failed"` with async_wrapper's `Timeout exceeded` when `timeout`
//!   ended it. The job's stdout and stderr are kept beside it (`<jid>.out`, `<jid>.err`), so
//!   `async_status` ([`crate::modules::async_status`]) reports them as Ansible reports the
//!   job's module result; the task's own result (its `cmd`) is remembered in this process for
//!   the same report.
//! - `async: N, poll: M > 0`: the command runs as usual, bounded by N seconds (the task's
//!   `timeout`, when shorter, still wins); past N it is ended and the task fails with
//!   Ansible's `async task did not complete within the requested time - Ns`. The result gets
//!   `ansible_job_id`, `started: 1`, `finished: 1`. There is no polling round trip: the
//!   connection waits for the command (M only has to be positive).
//! - Other modules: `async is not supported for this task.` (Ansible's message for action
//!   plugins without async support; ansible-core does run plain Python modules such as `file`
//!   asynchronously: a deliberate difference). Check mode: `check mode and async cannot be used
//!   on same task.`, as Ansible.
//! - `stdin:` is not passed to a fire-and-forget job; a polled job has no results file.

use crate::connection::{ConnError, Connection, ExecOutput, ExecRequest};
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Ansible's default `poll` interval when `async` is set without `poll`.
const DEFAULT_POLL: u64 = 15;

/// One task's asynchronous job: its limits, id, and what happened to it.
#[derive(Debug)]
pub(super) struct AsyncJob {
    /// `async`: the job's time limit in seconds.
    limit: u64,
    /// `poll`: 0 is fire and forget.
    poll: u64,
    jid: String,
    /// The results file once a fire-and-forget job was started.
    started: Mutex<Option<String>>,
    /// Set when the `async` limit ended a polled job.
    timed_out: Mutex<bool>,
}

/// The task's job, `None` when it runs synchronously. `template` renders a keyword's value.
pub(super) fn job_for(
    async_value: Option<&Value>,
    poll_value: Option<&Value>,
    module: &dyn crate::modules::Module,
    check_mode: bool,
    template: &dyn Fn(&Value) -> Result<Value, String>,
) -> Result<Option<Arc<AsyncJob>>, String> {
    let Some(async_value) = async_value else {
        return Ok(None);
    };
    let limit = seconds("async", &template(async_value)?)?;
    if limit == 0 {
        return Ok(None);
    }
    let poll = match poll_value {
        Some(v) => seconds("poll", &template(v)?)?,
        None => DEFAULT_POLL,
    };
    if !module.supports_async() {
        return Err("async is not supported for this task.".into());
    }
    if check_mode {
        return Err("check mode and async cannot be used on same task.".into());
    }
    Ok(Some(Arc::new(AsyncJob {
        limit,
        poll,
        jid: new_job_id(),
        started: Mutex::new(None),
        timed_out: Mutex::new(false),
    })))
}

/// A whole number of seconds (an integer or a string holding one).
fn seconds(keyword: &str, value: &Value) -> Result<u64, String> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Null => Some(0),
        _ => None,
    }
    .ok_or_else(|| {
        format!(
            "the field '{keyword}' must be a non-negative integer number of seconds, got {value}"
        )
    })
}

/// Ansible's job id shape: `j` + 12 random digits + `.` + the controller's pid.
fn new_job_id() -> String {
    let random = uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000;
    format!("j{random:012}.{}", std::process::id())
}

impl AsyncJob {
    fn fire_and_forget(&self) -> bool {
        self.poll == 0
    }

    /// Turns the module's result into the async task's result (see the module doc).
    pub(super) fn finish(&self, r: &mut Map) {
        if self.fire_and_forget() {
            let started = self.started.lock().map(|s| s.clone()).unwrap_or_default();
            if let Some(results_file) = started {
                crate::modules::async_status::remember(&self.jid, r);
                *r = Map::new();
                r.insert("ansible_job_id".into(), Value::String(self.jid.clone()));
                r.insert("changed".into(), Value::Bool(true));
                // async_wrapper's launch answer says `failed: 0`, a number.
                r.insert("failed".into(), Value::from(0));
                r.insert("finished".into(), Value::from(0));
                r.insert("results_file".into(), Value::String(results_file));
                r.insert("started".into(), Value::from(1));
            }
            return;
        }
        if self.timed_out.lock().map(|t| *t).unwrap_or(false) {
            r.insert("changed".into(), Value::Bool(false));
            return;
        }
        if r.get("unreachable") != Some(&Value::Bool(true)) {
            r.insert("ansible_job_id".into(), Value::String(self.jid.clone()));
            r.insert("finished".into(), Value::from(1));
            r.insert("started".into(), Value::from(1));
        }
    }

    /// The script that starts `script` detached and prints the results file.
    fn launcher(&self, script: &str) -> String {
        let limit = self.limit;
        let job = format!(
            "t0=$(date +%s.%N 2>/dev/null)\n\
             if command -v timeout >/dev/null 2>&1; then timeout -k 5 {limit} /bin/sh -c {q} >\"$1.out\" 2>\"$1.err\"; else /bin/sh -c {q} >\"$1.out\" 2>\"$1.err\"; fi\n\
             rc=$?\n\
             t1=$(date +%s.%N 2>/dev/null)\n\
             if [ \"$rc\" -eq 124 ]; then end=', \"failed\": 1, \"msg\": \"Timeout exceeded\"'; else end=; fi\n\
             printf '{{\"started\": 1, \"finished\": 1, \"ansible_job_id\": \"%s\", \"rc\": %d, \"hr_start\": \"%s\", \"hr_end\": \"%s\"%s}}\\n' \"$2\" \"$rc\" \"$t0\" \"$t1\" \"$end\" >\"$1.tmp\" 2>/dev/null && mv -f \"$1.tmp\" \"$1\"",
            q = quote(script)
        );
        format!(
            "j={jid}\n\
             d=\"${{HOME:-/tmp}}/.ansible_async\"\n\
             mkdir -p \"$d\" 2>/dev/null && [ -w \"$d\" ] || {{ d=/tmp/.ansible_async_$(id -u); mkdir -p \"$d\" 2>/dev/null; }}\n\
             f=\"$d/$j\"\n\
             printf '{{\"started\": 1, \"finished\": 0, \"ansible_job_id\": \"%s\"}}\\n' \"$j\" >\"$f\" 2>/dev/null\n\
             job={job}\n\
             if command -v setsid >/dev/null 2>&1; then\n\
             \x20 setsid /bin/sh -c \"$job\" async-job \"$f\" \"$j\" </dev/null >/dev/null 2>&1 &\n\
             else\n\
             \x20 /bin/sh -c \"trap '' HUP; $job\" async-job \"$f\" \"$j\" </dev/null >/dev/null 2>&1 &\n\
             fi\n\
             printf '%s\\n' \"$f\"\n",
            jid = quote(&self.jid),
            job = quote(&job),
        )
    }
}

/// A connection that runs every command of one task as that task's async job.
pub(super) struct AsyncConnection {
    inner: Arc<dyn Connection>,
    job: Arc<AsyncJob>,
}

impl AsyncConnection {
    pub(super) fn new(inner: Arc<dyn Connection>, job: Arc<AsyncJob>) -> AsyncConnection {
        AsyncConnection { inner, job }
    }

    async fn start_detached(&self, request: ExecRequest) -> Result<ExecOutput, ConnError> {
        let launch = ExecRequest {
            script: self.job.launcher(&request.script),
            stdin: None,
            stdin_file: None,
            timeout: None,
            ..request
        };
        let out = self.inner.exec(launch).await?;
        if out.rc != 0 {
            return Ok(out);
        }
        let results_file = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .to_string();
        if let Ok(mut started) = self.job.started.lock() {
            *started = Some(results_file);
        }
        Ok(ExecOutput::default())
    }

    async fn run_bounded(&self, mut request: ExecRequest) -> Result<ExecOutput, ConnError> {
        let limit = Duration::from_secs(self.job.limit);
        let async_bound = request.timeout.is_none_or(|t| t >= limit);
        if async_bound {
            request.timeout = Some(limit);
        }
        match self.inner.exec(request).await {
            Err(ConnError::Timeout(_)) if async_bound => {
                if let Ok(mut timed_out) = self.job.timed_out.lock() {
                    *timed_out = true;
                }
                Err(ConnError::Other(format!(
                    "async task did not complete within the requested time - {}s",
                    self.job.limit
                )))
            }
            other => other,
        }
    }
}

#[async_trait]
impl Connection for AsyncConnection {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, ConnError> {
        if self.job.fire_and_forget() {
            self.start_detached(request).await
        } else {
            self.run_bounded(request).await
        }
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    fn transport(&self) -> &'static str {
        self.inner.transport()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str) -> &'static dyn crate::modules::Module {
        crate::modules::lookup(name).expect("a module of this build")
    }
    use crate::connection::local::LocalConnection;
    use serde_json::json;
    use std::time::Instant;

    fn as_is(v: &Value) -> Result<Value, String> {
        Ok(v.clone())
    }

    fn job(limit: u64, poll: u64) -> Arc<AsyncJob> {
        job_for(
            Some(&json!(limit)),
            Some(&json!(poll)),
            module("shell"),
            false,
            &as_is,
        )
        .unwrap()
        .unwrap()
    }

    #[test]
    fn keywords_are_checked_like_ansible() {
        assert!(
            job_for(None, Some(&json!(0)), module("shell"), false, &as_is)
                .unwrap()
                .is_none()
        );
        assert!(
            job_for(Some(&json!(0)), None, module("copy"), false, &as_is)
                .unwrap()
                .is_none()
        );
        let j = job_for(Some(&json!("30")), None, module("command"), false, &as_is)
            .unwrap()
            .unwrap();
        assert_eq!((j.limit, j.poll), (30, DEFAULT_POLL));
        assert_eq!(
            job_for(Some(&json!(5)), None, module("copy"), false, &as_is).unwrap_err(),
            "async is not supported for this task."
        );
        assert_eq!(
            job_for(Some(&json!(5)), None, module("shell"), true, &as_is).unwrap_err(),
            "check mode and async cannot be used on same task."
        );
        let err = job_for(Some(&json!("soon")), None, module("shell"), false, &as_is).unwrap_err();
        assert!(err.contains("'async'"), "{err}");
        assert!(j.jid.starts_with('j') && j.jid.contains('.'), "{}", j.jid);
    }

    #[tokio::test]
    async fn fire_and_forget_returns_at_once_and_the_job_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("done");
        let job = job(10, 0);
        let conn = AsyncConnection::new(Arc::new(LocalConnection::new()), job.clone());
        let started = Instant::now();
        let request = ExecRequest {
            script: format!("sleep 1 && echo x > {}", marker.display()),
            env: vec![("HOME".into(), dir.path().display().to_string())],
            ..ExecRequest::default()
        };
        let out = conn.exec(request).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(out.rc, 0);
        let mut r = Map::new();
        job.finish(&mut r);
        assert_eq!(r["started"], json!(1));
        assert_eq!(r["finished"], json!(0));
        assert_eq!(r["changed"], json!(true));
        assert_eq!(r["ansible_job_id"], json!(job.jid));
        let results_file = r["results_file"].as_str().unwrap().to_string();
        assert_eq!(
            results_file,
            format!("{}/.ansible_async/{}", dir.path().display(), job.jid)
        );
        assert!(!marker.exists());
        let end = Instant::now() + Duration::from_secs(10);
        while !marker.exists() && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(marker.exists(), "the detached job did not finish");
        let mut status = String::new();
        while !status.contains("\"finished\": 1") && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(50)).await;
            status = std::fs::read_to_string(&results_file).unwrap_or_default();
        }
        let status: Value = serde_json::from_str(&status).unwrap();
        assert_eq!(status["rc"], json!(0));
        assert_eq!(status["ansible_job_id"], json!(job.jid));
    }

    #[tokio::test]
    async fn a_polled_job_past_its_limit_fails_with_ansible_words() {
        let job = job(1, 5);
        let conn = AsyncConnection::new(Arc::new(LocalConnection::new()), job.clone());
        let err = conn
            .exec(ExecRequest {
                script: "sleep 5".into(),
                ..ExecRequest::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "async task did not complete within the requested time - 1s"
        );
        let mut r = crate::engine::result::failed(err.to_string());
        job.finish(&mut r);
        assert_eq!(r["changed"], json!(false));
        assert!(!r.contains_key("ansible_job_id"));
    }

    #[tokio::test]
    async fn a_polled_job_within_its_limit_keeps_the_module_result() {
        let job = job(10, 1);
        let conn = AsyncConnection::new(Arc::new(LocalConnection::new()), job.clone());
        let out = conn
            .exec(ExecRequest {
                script: "echo hi".into(),
                ..ExecRequest::default()
            })
            .await
            .unwrap();
        assert_eq!(out.stdout, b"hi\n");
        let mut r = Map::new();
        r.insert("rc".into(), json!(0));
        job.finish(&mut r);
        assert_eq!(r["finished"], json!(1));
        assert_eq!(r["rc"], json!(0));
    }
}
