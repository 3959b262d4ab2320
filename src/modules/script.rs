//! `ansible.builtin.script`: runs a controller script on the target.
//!
//! Semantics (ansible-core 2.18 action `script.py`), one round trip:
//! - The free-form text (or `cmd`) is the script's path, found like copy's `src` (under
//!   `files/` of the role and playbook dirs), and its arguments. The script goes into a private
//!   temp directory on the target (mode 0700), then the text, with each occurrence of the path
//!   replaced by the temp file, runs in `/bin/sh` (so quotes and variables in the arguments work
//!   as in Ansible), after `executable` when given (`python3 x.py`), in `chdir` (which must be
//!   absolute: `chdir P must be an absolute path for a Unix-aware remote node`). The temp
//!   directory is removed afterwards.
//! - `creates` (exists) / `removes` (missing) skip the task: `P exists, matching creates option`,
//!   `P does not exist, matching removes option`.
//! - The result is always `changed`, with `rc`, `stdout(_lines)`, `stderr(_lines)`; a non-zero
//!   `rc` fails with `non-zero return code`. The task's `environment` and `become` apply.
//! - Check mode: with `creates`/`removes` the task reports `changed` without running (when not
//!   skipped by them), else it is skipped (`Check mode is not supported for this task.`).
//! - A missing script: copy's `Could not find or access 'P'` message. A vault-encrypted script
//!   fails as copy's does (hook-runner has no vault secrets) unless `decrypt: false`.
//!
//! Difference: as for `raw`, Ansible runs the script with a terminal (`\r\n` line ends, stderr
//! in stdout); hook-runner keeps the streams apart, and the script's stdin is empty.

use super::argspec::{ArgSpec, Kind, Param};
use super::copy::{self, find_source, not_found_message};
use super::raw::add_output;
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Script;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param::new("cmd", Kind::Str),
        Param::new("creates", Kind::Str),
        Param::new("removes", Kind::Str),
        Param::new("chdir", Kind::Str),
        Param::new("executable", Kind::Str),
        Param {
            default: Some("true"),
            action_only: true,
            ..Param::new("decrypt", Kind::Bool)
        },
    ],
    free_form: true,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ScriptArgs {
    #[serde(rename = "_raw_params")]
    pub raw_params: Option<String>,
    pub cmd: Option<String>,
    pub creates: Option<String>,
    pub removes: Option<String>,
    pub chdir: Option<String>,
    pub executable: Option<String>,
    #[serde(default = "yes")]
    pub decrypt: bool,
}

fn yes() -> bool {
    true
}

/// What the script prints, alone on stdout, when `creates`/`removes` skip it.
const SKIP_MARK: &str = "hook-runner-script-skip:";

#[async_trait]
impl Module for Script {
    fn name(&self) -> &'static str {
        "script"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.script"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<ScriptArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: ScriptArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let text = match args.raw_params.clone().or_else(|| args.cmd.clone()) {
            Some(text) if !text.trim().is_empty() => text.trim().to_string(),
            _ => {
                return Ok(remote::failed(
                    "one of the following is required: _raw_params, cmd",
                ))
            }
        };
        if let Some(dir) = args.chdir.as_deref().filter(|d| !d.starts_with('/')) {
            return Ok(remote::failed(format!(
                "chdir {dir} must be an absolute path for a Unix-aware remote node"
            )));
        }
        let words = match crate::shell::shlex_words(&text) {
            Ok(words) => words,
            Err(e) => return Ok(remote::failed(e)),
        };
        let source = words.first().cloned().unwrap_or_default();
        let Some(found) = find_source(&source, ctx.scope.search_paths) else {
            return Ok(remote::failed(not_found_message(
                &source,
                ctx.scope.search_paths,
            )));
        };
        let mut decrypt_check = copy::CopyArgs::for_dest(String::new());
        decrypt_check.decrypt = args.decrypt;
        if let Some(msg) = copy::vault_refusal(&decrypt_check, &found) {
            return Ok(remote::failed(msg));
        }
        let body = match std::fs::read(&found) {
            Ok(body) => body,
            Err(e) => {
                return Ok(remote::failed(format!(
                    "Could not read source file {}: {e}",
                    found.display()
                )))
            }
        };
        let script = build_script(&args, &text, &source, &found, ctx.check_mode);
        let output = remote::exec(ctx, script, Some(body)).await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut result = Map::new();
        if let Some(reason) = stdout.strip_prefix(SKIP_MARK) {
            let (kind, path) = reason.split_once(':').unwrap_or(("", reason));
            let msg = match kind {
                "creates" => format!("{path} exists, matching creates option"),
                "removes" => format!("{path} does not exist, matching removes option"),
                _ => "Check mode is not supported for this task.".to_string(),
            };
            result.insert("skipped".into(), Value::Bool(true));
            result.insert("changed".into(), Value::Bool(false));
            result.insert("msg".into(), Value::String(msg));
            return Ok(result);
        }
        if ctx.check_mode {
            result.insert("changed".into(), Value::Bool(true));
            return Ok(result);
        }
        add_output(&mut result, output.rc, &output.stdout, &output.stderr);
        Ok(result)
    }
}

/// Checks `creates`/`removes`, then (outside check mode) writes the script from stdin into a
/// private temp directory and runs the command line with the path replaced by the copy.
fn build_script(
    args: &ScriptArgs,
    text: &str,
    source: &str,
    found: &std::path::Path,
    check: bool,
) -> String {
    let name = found
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "script".into());
    // Python's `str.replace`: every occurrence of the path's text becomes the temp file.
    let target = text
        .split(source)
        .map(str::to_string)
        .collect::<Vec<_>>()
        .join("\"$_f\"");
    let line = match args.executable.as_deref().filter(|e| !e.is_empty()) {
        Some(exe) => format!("{exe} {target}"),
        None => target,
    };
    let check_mode_answer = if args.creates.is_some() || args.removes.is_some() {
        "exit 0"
    } else {
        "printf '%scheck:' \"$MARK\"; exit 0"
    };
    format!(
        r#"MARK={mark}
CREATES={creates}
REMOVES={removes}
if [ -n "$CREATES" ] && [ -e "$CREATES" ]; then printf '%s' "${{MARK}}creates:$CREATES"; exit 0; fi
if [ -n "$REMOVES" ] && [ ! -e "$REMOVES" ]; then printf '%s' "${{MARK}}removes:$REMOVES"; exit 0; fi
{check}
_d=$(umask 077; mktemp -d "${{TMPDIR:-/tmp}}/ansible-tmp-XXXXXXXX") || exit 1
trap 'rm -rf -- "$_d"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
_f="$_d"/{name}
cat >"$_f" && chmod 0700 -- "$_f" || exit 1
{chdir}eval {line} </dev/null
"#,
        mark = quote(SKIP_MARK),
        creates = args
            .creates
            .as_deref()
            .map(path_word)
            .unwrap_or_else(|| "''".into()),
        removes = args
            .removes
            .as_deref()
            .map(path_word)
            .unwrap_or_else(|| "''".into()),
        check = if check { check_mode_answer } else { "" },
        name = quote(&name),
        chdir = match &args.chdir {
            Some(dir) => format!("cd -- {} || exit 1\n", path_word(dir)),
            None => String::new(),
        },
        line = quote(&line),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{nasty_tempdir, run_with, Options};
    use serde_json::json;

    fn with_files(dir: &str) -> Options {
        Options {
            search_paths: vec![std::path::PathBuf::from(dir)],
            ..Options::default()
        }
    }

    fn write_script(dir: &str) {
        std::fs::create_dir_all(format!("{dir}/files")).unwrap();
        std::fs::write(
            format!("{dir}/files/hello.sh"),
            "#!/bin/sh\necho \"args: $*\"\necho \"name: ${0##*/}\"\npwd\necho oops >&2\nexit ${EXIT:-0}\n",
        )
        .unwrap();
    }

    #[tokio::test]
    async fn runs_the_script_with_shell_words_in_chdir() {
        let (_dir, path) = nasty_tempdir();
        write_script(&path);
        let result = run_with(
            &Script,
            json!({"_raw_params": "hello.sh 'a b' $HOME", "chdir": path}),
            with_files(&path),
        )
        .await;
        assert_eq!(result["rc"], 0, "{result:?}");
        let home = std::env::var("HOME").unwrap();
        assert_eq!(
            result["stdout"],
            format!("args: a b {home}\nname: hello.sh\n{path}\n")
        );
        assert_eq!(result["stderr"], "oops\n");
        assert_eq!(result["changed"], true);
    }

    #[tokio::test]
    async fn creates_removes_check_mode_and_failures() {
        let (_dir, path) = nasty_tempdir();
        write_script(&path);
        let result = run_with(
            &Script,
            json!({"_raw_params": "hello.sh", "creates": path}),
            with_files(&path),
        )
        .await;
        assert_eq!(result["skipped"], true);
        assert_eq!(
            result["msg"],
            format!("{path} exists, matching creates option")
        );
        let result = run_with(
            &Script,
            json!({"_raw_params": "hello.sh"}),
            Options {
                check: true,
                ..with_files(&path)
            },
        )
        .await;
        assert_eq!(result["msg"], "Check mode is not supported for this task.");
        let result = run_with(
            &Script,
            json!({"cmd": "hello.sh"}),
            Options {
                env: vec![("EXIT".into(), "3".into())],
                ..with_files(&path)
            },
        )
        .await;
        assert_eq!(result["rc"], 3);
        assert_eq!(result["msg"], "non-zero return code");
        let result = run_with(
            &Script,
            json!({"_raw_params": "nope.sh"}),
            with_files(&path),
        )
        .await;
        assert!(result["msg"]
            .as_str()
            .unwrap()
            .starts_with("Could not find or access 'nope.sh'"));
        let result = run_with(
            &Script,
            json!({"_raw_params": "hello.sh", "chdir": "rel"}),
            with_files(&path),
        )
        .await;
        assert_eq!(
            result["msg"],
            "chdir rel must be an absolute path for a Unix-aware remote node"
        );
    }
}
