//! `ansible.builtin.raw`: sends a command line to the host as is, the way to act on a host
//! that has no POSIX `sh` (or anything else) yet.
//!
//! Semantics (ansible-core 2.18 action `raw.py` and `_low_level_execute_command`):
//! - The free-form text goes to SSH untouched: the remote user's login shell runs it, with no
//!   `/bin/sh -c` around it and none of hook-runner's script machinery (no watchdog, no remote
//!   `timeout` wrapper; see [`crate::connection::ExecRequest::raw`]). With `executable`, the
//!   line becomes `EXECUTABLE -c 'TEXT'`. Locally (`connection: local`) it runs under
//!   `/bin/sh -c`, as Ansible's local connection does.
//! - `become` wraps it as for any command (`sudo -H -S -n -u USER /bin/sh -c '...'`), as
//!   Ansible's become plugins do.
//! - The result is always `changed`, with `rc`, `stdout`, `stdout_lines`, `stderr`,
//!   `stderr_lines` (the output as is: trailing newlines kept); a non-zero `rc` fails with
//!   `non-zero return code`.
//! - Check mode skips the task. `environment` is not applied; the warning is Ansible's (`raw
//!   module does not support the environment keyword`).
//!
//! Difference: Ansible's SSH connection asks for a terminal (`-tt`) for raw commands, so its
//! stdout ends lines with `\r\n`, carries stderr mixed in, and its stderr holds `Shared
//! connection to HOST closed.`; hook-runner runs without a terminal, keeps the two streams
//! apart and leaves the text unchanged. The command's stdin is empty. A cancelled run cannot
//! end a raw command on the host (there is no watchdog to do it).

use super::argspec::{ArgSpec, Kind, Param};
use super::{Module, ModuleContext};
use crate::connection::{ConnError, ExecRequest};
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Raw;

static SPEC: ArgSpec = ArgSpec {
    params: &[Param::new("executable", Kind::Str)],
    free_form: true,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RawArgs {
    #[serde(rename = "_raw_params", default)]
    pub command: String,
    pub executable: Option<String>,
}

#[async_trait]
impl Module for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.raw"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<RawArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: RawArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let warnings = if ctx.env.is_empty() {
            Vec::new()
        } else {
            vec![Value::String(
                "raw module does not support the environment keyword".into(),
            )]
        };
        let mut result = Map::new();
        if ctx.check_mode {
            result.insert("skipped".into(), Value::Bool(true));
            result.insert("changed".into(), Value::Bool(false));
        } else {
            let output = ctx.conn.exec(request(&args, ctx)).await?;
            add_output(&mut result, output.rc, &output.stdout, &output.stderr);
        }
        if !warnings.is_empty() {
            result.insert("warnings".into(), Value::Array(warnings));
        }
        Ok(result)
    }
}

/// The command line as Ansible builds it: the text, or `EXECUTABLE -c 'TEXT'`.
fn command_line(args: &RawArgs) -> String {
    match args.executable.as_deref().filter(|e| !e.is_empty()) {
        Some(executable) => format!("{executable} -c {}", quote(&args.command)),
        None => args.command.clone(),
    }
}

fn request(args: &RawArgs, ctx: &ModuleContext<'_>) -> ExecRequest {
    ExecRequest {
        script: command_line(args),
        become_: ctx.become_.clone(),
        timeout: ctx.timeout,
        raw: true,
        ..ExecRequest::default()
    }
}

/// `rc`, `stdout(_lines)`, `stderr(_lines)`, `changed`, and the failure on a non-zero rc.
pub(crate) fn add_output(result: &mut Map, rc: i32, stdout: &[u8], stderr: &[u8]) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let lines = |t: &str| {
        Value::Array(
            crate::py::splitlines(t)
                .into_iter()
                .map(Value::String)
                .collect(),
        )
    };
    let (out, err) = (text(stdout), text(stderr));
    result.insert("rc".into(), Value::from(rc));
    result.insert("stdout".into(), Value::String(out.clone()));
    result.insert("stdout_lines".into(), lines(&out));
    result.insert("stderr".into(), Value::String(err.clone()));
    result.insert("stderr_lines".into(), lines(&err));
    result.insert("changed".into(), Value::Bool(true));
    if rc != 0 {
        result.insert("failed".into(), Value::Bool(true));
        result.insert("msg".into(), Value::String("non-zero return code".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, run, run_with, Options};
    use serde_json::json;

    #[tokio::test]
    async fn output_is_kept_as_is_and_always_changed() {
        let result = run(
            &Raw,
            json!({"_raw_params": "printf 'a\\nb\\n'; echo e >&2"}),
        )
        .await;
        assert_eq!(result["stdout"], "a\nb\n", "{result:?}");
        assert_eq!(result["stdout_lines"], json!(["a", "b"]));
        assert_eq!(result["stderr"], "e\n");
        assert_eq!(result["rc"], 0);
        assert_eq!(result["changed"], true);
        assert!(result.get("failed").is_none());
    }

    #[tokio::test]
    async fn a_non_zero_rc_fails() {
        let result = run(&Raw, json!({"_raw_params": "exit 4"})).await;
        assert_eq!(result["rc"], 4);
        assert_eq!(result["failed"], true);
        assert_eq!(result["msg"], "non-zero return code");
    }

    #[tokio::test]
    async fn executable_runs_the_text_with_dash_c() {
        let args = RawArgs {
            command: "echo \"$0\" 'q'".into(),
            executable: Some("/bin/sh".into()),
        };
        assert_eq!(command_line(&args), "/bin/sh -c 'echo \"$0\" '\\''q'\\'''");
        let result = run(
            &Raw,
            json!({"_raw_params": "echo \"$0\"", "executable": "/bin/sh"}),
        )
        .await;
        assert_eq!(result["stdout"], "/bin/sh\n");
    }

    #[tokio::test]
    async fn check_mode_skips_and_environment_is_warned_about() {
        let result = check(&Raw, json!({"_raw_params": "touch /nonexistent/x"})).await;
        assert_eq!(result["skipped"], true);
        let result = run_with(
            &Raw,
            json!({"_raw_params": "printf %s \"${HR_X-unset}\""}),
            Options {
                env: vec![("HR_X".into(), "set".into())],
                ..Options::default()
            },
        )
        .await;
        assert_eq!(result["stdout"], "unset");
        assert_eq!(
            result["warnings"],
            json!(["raw module does not support the environment keyword"])
        );
    }
}
