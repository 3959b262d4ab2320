//! `ansible.builtin.command`: runs a program with arguments, without a shell.
//!
//! Semantics (ansible-core 2.18 `modules/command.py`; `shell` shares them, see
//! [`super::shell`]):
//! - The command comes free-form (`_raw_params`, or `cmd`), split like Python's `shlex.split`,
//!   or as a list in `argv` (not both: `only command or argv can be given, not both`; neither:
//!   `no command given`, rc 256).
//! - No shell interprets the user's words: each word is quoted, `~` and `$VAR` at the places
//!   Python's `expanduser`/`expandvars` would expand them are expanded on the target
//!   (`expand_argument_vars`, default true), and the program is `exec`ed (never a builtin).
//!   A missing program fails as Python does: `[Errno 2] No such file or directory: b'nope'`.
//! - `chdir` first (`Unable to change directory before execution: ...`), then `creates` (a glob:
//!   when it matches, the command is skipped: `Did not run command since 'X' exists`) and
//!   `removes` (skipped when nothing matches).
//! - `stdin` is fed to the program (plus a newline unless `stdin_add_newline: false`);
//!   `strip_empty_ends` (default true) strips trailing `\r`/`\n` from stdout and stderr.
//! - Results: `cmd` (the word list; a string for `shell`), `rc`, `stdout`, `stderr`, `start`,
//!   `end`, `delta` (`0:00:00.003456`), `msg`; `changed: true` whenever it runs;
//!   rc != 0 → `failed`, `msg: non-zero return code`.
//! - Check mode: only `creates`/`removes` are evaluated; without them the task is skipped
//!   (`Command would have run if not in check mode`).
//!
//! One round trip: the script checks chdir/creates/removes and the program, then `exec`s it, so
//! the program's own stdout/stderr/rc come back untouched.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use std::time::Instant;

pub struct Command;

/// Parameters shared with `shell` (which rejects `expand_argument_vars`).
macro_rules! command_params {
    ($($extra:expr),* $(,)?) => {
        &[
            Param {
                default: Some("false"),
                ..Param::new("_uses_shell", Kind::Bool)
            },
            Param::new("argv", Kind::List),
            Param::new("chdir", Kind::Path),
            Param::new("executable", Kind::Str),
            Param::new("creates", Kind::Path),
            Param::new("removes", Kind::Path),
            Param::new("stdin", Kind::Str),
            Param {
                default: Some("true"),
                ..Param::new("stdin_add_newline", Kind::Bool)
            },
            Param {
                default: Some("true"),
                ..Param::new("strip_empty_ends", Kind::Bool)
            },
            $($extra,)*
        ]
    };
}
pub(crate) use command_params;

static SPEC: ArgSpec = ArgSpec {
    params: command_params![Param {
        default: Some("true"),
        ..Param::new("expand_argument_vars", Kind::Bool)
    }],
    free_form: true,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation (`_raw_params` is the free-form text).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CommandArgs {
    #[serde(rename = "_raw_params")]
    pub raw_params: Option<Value>,
    #[serde(rename = "_uses_shell", default)]
    pub uses_shell: bool,
    pub argv: Option<Vec<Value>>,
    pub chdir: Option<String>,
    pub executable: Option<String>,
    pub creates: Option<String>,
    pub removes: Option<String>,
    pub stdin: Option<String>,
    #[serde(default = "yes")]
    pub stdin_add_newline: bool,
    #[serde(default = "yes")]
    pub strip_empty_ends: bool,
    #[serde(default = "yes")]
    pub expand_argument_vars: bool,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Module for Command {
    fn name(&self) -> &'static str {
        "command"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.command"
    }
    fn supports_async(&self) -> bool {
        true
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        match serde_json::from_value::<CommandArgs>(Value::Object(args)) {
            Ok(args) => run_command(&args, false, ctx).await,
            Err(e) => Ok(remote::failed(format!("invalid arguments: {e}"))),
        }
    }
}

/// What runs: a word list (command) or a shell string (shell).
enum Invocation {
    Argv(Vec<String>),
    Shell(String),
}

/// Runs `command` or `shell` (when `uses_shell`) with Ansible's rules; see the module doc.
pub async fn run_command(
    args: &CommandArgs,
    uses_shell: bool,
    ctx: &ModuleContext<'_>,
) -> Result<Map, ConnError> {
    let mut result = initial_result();
    let mut warnings = Vec::new();
    let raw = match &args.raw_params {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => crate::py::str(other),
    };
    let argv: Vec<String> = args.argv.iter().flatten().map(crate::py::str).collect();
    if raw.trim().is_empty() && argv.is_empty() {
        return Ok(fail_256(result, "no command given"));
    }
    if !raw.trim().is_empty() && !argv.is_empty() {
        return Ok(fail_256(
            result,
            "only command or argv can be given, not both",
        ));
    }
    let invocation = if uses_shell {
        Invocation::Shell(if raw.is_empty() { argv.join(" ") } else { raw })
    } else if raw.is_empty() {
        Invocation::Argv(argv)
    } else {
        match crate::shell::shlex_words(&raw) {
            Ok(words) => Invocation::Argv(words),
            Err(e) => return Ok(remote::failed(e)),
        }
    };
    if !uses_shell {
        if let Some(exe) = &args.executable {
            warnings.push(format!("As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '{exe}'."));
        }
    }
    result.insert(
        "cmd".into(),
        match &invocation {
            Invocation::Argv(words) => {
                Value::Array(words.iter().cloned().map(Value::String).collect())
            }
            Invocation::Shell(text) => Value::String(text.clone()),
        },
    );
    let script = build_script(args, &invocation, ctx.check_mode);
    let stdin = args.stdin.as_ref().map(|text| {
        let mut data = text.clone().into_bytes();
        if args.stdin_add_newline {
            data.push(b'\n');
        }
        data
    });
    let started = chrono::Local::now();
    let clock = Instant::now();
    let output = remote::exec(ctx, script, stdin).await?;
    let elapsed = clock.elapsed();
    let ended = chrono::Local::now();
    if !warnings.is_empty() {
        result.insert(
            "warnings".into(),
            Value::Array(warnings.into_iter().map(Value::String).collect()),
        );
    }
    if let Some(records) = precheck_records(&output.stdout) {
        return Ok(precheck_result(result, &records, args, ctx.check_mode));
    }
    let mut stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if args.strip_empty_ends {
        stdout = stdout.trim_end_matches(['\r', '\n']).to_string();
        stderr = stderr.trim_end_matches(['\r', '\n']).to_string();
    }
    result.insert("changed".into(), Value::Bool(true));
    result.insert("stdout".into(), Value::String(stdout));
    result.insert("stderr".into(), Value::String(stderr));
    result.insert("rc".into(), Value::from(output.rc));
    result.insert("start".into(), Value::String(python_datetime(started)));
    result.insert("end".into(), Value::String(python_datetime(ended)));
    result.insert("delta".into(), Value::String(python_timedelta(elapsed)));
    if output.rc != 0 {
        result.insert("msg".into(), Value::String("non-zero return code".into()));
        result.insert("failed".into(), Value::Bool(true));
    }
    Ok(result)
}

/// The keys every command result has before anything runs.
fn initial_result() -> Map {
    let mut result = Map::new();
    result.insert("changed".into(), Value::Bool(false));
    for key in ["stdout", "stderr"] {
        result.insert(key.into(), Value::String(String::new()));
    }
    for key in ["rc", "cmd", "start", "end", "delta"] {
        result.insert(key.into(), Value::Null);
    }
    result.insert("msg".into(), Value::String(String::new()));
    result
}

fn fail_256(mut result: Map, msg: &str) -> Map {
    result.insert("rc".into(), Value::from(256));
    result.insert("msg".into(), Value::String(msg.into()));
    result.insert("failed".into(), Value::Bool(true));
    result
}

/// Marks the records of a script that stopped before running the program.
const PRECHECK: &str = "__hook_runner_precheck=1\0";

fn precheck_records(stdout: &[u8]) -> Option<Records> {
    stdout
        .starts_with(PRECHECK.as_bytes())
        .then(|| Records::parse(stdout))
}

/// The script: chdir, creates/removes, check mode, program lookup, then `exec`.
fn build_script(args: &CommandArgs, invocation: &Invocation, check: bool) -> String {
    let mut s = String::from(remote::PRELUDE);
    s.push_str("pre() { emit __hook_runner_precheck 1; emit kind \"$1\"; }\n");
    s.push_str(GLOB_SH);
    if let Some(dir) = &args.chdir {
        s.push_str(&format!(
            "CD={}\ncd -P -- \"$CD\" 2>/dev/null || {{ pre chdir; emit path \"$CD\"; if [ ! -e \"$CD\" ]; then emit errno 2; elif [ ! -d \"$CD\" ]; then emit errno 20; else emit errno 13; fi; exit 0; }}\n",
            path_word(dir)
        ));
    }
    if let Some(creates) = &args.creates {
        s.push_str(&format!(
            "C={}\nif matches \"$C\"; then pre creates; emit path \"$C\"; exit 0; fi\n",
            path_word(creates)
        ));
    }
    if let Some(removes) = &args.removes {
        s.push_str(&format!(
            "R={}\nif ! matches \"$R\"; then pre removes; emit path \"$R\"; exit 0; fi\n",
            path_word(removes)
        ));
    }
    if check {
        s.push_str("pre check; exit 0\n");
        return s;
    }
    match invocation {
        Invocation::Shell(text) => {
            let exe = args.executable.as_deref().unwrap_or("/bin/sh");
            s.push_str(&format!("set +f\nexec {} -c {}\n", quote(exe), quote(text)));
        }
        Invocation::Argv(words) => {
            s.push_str("set --\n");
            for word in words {
                let value = if args.expand_argument_vars {
                    path_word(word)
                } else {
                    quote(word)
                };
                s.push_str(&format!("_a={value}; set -- \"$@\" \"$_a\"\n"));
            }
            s.push_str(FIND_EXE_SH);
            s.push_str("set +f\nexec \"$@\"\n");
        }
    }
    s
}

/// `matches PATTERN`: whether a glob matches anything (Python's `glob.glob`).
const GLOB_SH: &str = r#"matches() {
  _ifs=$IFS; IFS=''; set +f
  for _g in $1; do
    IFS=$_ifs; set -f
    if [ -e "$_g" ] || [ -L "$_g" ]; then return 0; fi
  done
  IFS=$_ifs; set -f
  return 1
}
"#;

/// Looks the program up as `execvp` would and reports Python's errno when it cannot run.
const FIND_EXE_SH: &str = r#"_rc=2
case $1 in
  */*) if [ ! -e "$1" ]; then _rc=2; elif [ -d "$1" ] || [ ! -x "$1" ]; then _rc=13; else _rc=0; fi ;;
  *)
    _ifs=$IFS; IFS=:
    for _d in $PATH; do
      [ -n "$_d" ] || _d=.
      if [ -f "$_d/$1" ]; then
        if [ -x "$_d/$1" ]; then _rc=0; break; else _rc=13; fi
      fi
    done
    IFS=$_ifs ;;
esac
if [ $_rc -ne 0 ]; then pre exec; emit errno $_rc; emit path "$1"; exit 0; fi
"#;

/// The result when the script stopped before running the program.
fn precheck_result(mut result: Map, records: &Records, args: &CommandArgs, check: bool) -> Map {
    let path = records.get("path").unwrap_or("");
    let verb = if check { "Would" } else { "Did" };
    match records.get("kind").unwrap_or("") {
        "chdir" => {
            let errno = records
                .get("errno")
                .and_then(|e| e.parse().ok())
                .unwrap_or(2);
            result.insert(
                "msg".into(),
                Value::String(format!(
                    "Unable to change directory before execution: {}",
                    python_os_error(errno, path)
                )),
            );
            result.insert("failed".into(), Value::Bool(true));
        }
        "creates" => {
            result.insert(
                "msg".into(),
                Value::String(format!("{verb} not run command since '{path}' exists")),
            );
            result.insert(
                "stdout".into(),
                Value::String(format!("skipped, since {path} exists")),
            );
            result.insert("rc".into(), Value::from(0));
        }
        "removes" => {
            result.insert(
                "msg".into(),
                Value::String(format!(
                    "{verb} not run command since '{path}' does not exist"
                )),
            );
            result.insert(
                "stdout".into(),
                Value::String(format!("skipped, since {path} does not exist")),
            );
            result.insert("rc".into(), Value::from(0));
        }
        "check" => {
            result.insert("rc".into(), Value::from(0));
            result.insert(
                "msg".into(),
                Value::String("Command would have run if not in check mode".into()),
            );
            if args.creates.is_none() && args.removes.is_none() {
                result.insert("skipped".into(), Value::Bool(true));
                result.insert("changed".into(), Value::Bool(false));
            } else {
                result.insert("changed".into(), Value::Bool(true));
            }
        }
        _ => {
            // The program could not be started: Ansible's run_command fails with the OSError.
            let errno: i64 = records
                .get("errno")
                .and_then(|e| e.parse().ok())
                .unwrap_or(2);
            let cmd = match result.get("cmd") {
                Some(Value::Array(words)) => words
                    .iter()
                    .map(|w| python_shlex_quote(w.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(" "),
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            let mut failed = Map::new();
            failed.insert("rc".into(), Value::from(errno));
            failed.insert("stdout".into(), Value::String(String::new()));
            failed.insert("stderr".into(), Value::String(String::new()));
            failed.insert("msg".into(), Value::String(python_os_error(errno, path)));
            failed.insert("cmd".into(), Value::String(cmd));
            failed.insert("failed".into(), Value::Bool(true));
            return failed;
        }
    }
    result
}

/// Python's `str(OSError)` for a bytes path: `[Errno 2] No such file or directory: b'nope'`.
fn python_os_error(errno: i64, path: &str) -> String {
    let text = match errno {
        2 => "No such file or directory",
        13 => "Permission denied",
        20 => "Not a directory",
        _ => "Error",
    };
    format!(
        "[Errno {errno}] {text}: {}",
        python_bytes_repr(path.as_bytes())
    )
}

/// Python's `repr(bytes)`.
fn python_bytes_repr(bytes: &[u8]) -> String {
    let quote_char = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = format!("b{quote_char}");
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\'' if quote_char == '\'' => out.push_str("\\'"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote_char);
    out
}

/// Python's `shlex.quote`.
pub fn python_shlex_quote(word: &str) -> String {
    if word.is_empty() {
        return "''".into();
    }
    if word
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || "@%+=:,./-".contains(c))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\"'\"'"))
}

/// Python's `str(datetime.now())`: `2024-05-01 12:00:00.123456`.
fn python_datetime(time: chrono::DateTime<chrono::Local>) -> String {
    time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Python's `str(timedelta)`: `0:00:00.003456` (no fraction when it is zero).
pub fn python_timedelta(elapsed: std::time::Duration) -> String {
    let total = elapsed.as_secs();
    let micros = elapsed.subsec_micros();
    let (days, rest) = (total / 86_400, total % 86_400);
    let clock = format!("{}:{:02}:{:02}", rest / 3600, (rest % 3600) / 60, rest % 60);
    let clock = if micros == 0 {
        clock
    } else {
        format!("{clock}.{micros:06}")
    };
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        n => format!("{n} days, {clock}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, nasty_tempdir, run, run_with, Options};
    use serde_json::json;

    #[test]
    fn python_formats() {
        assert_eq!(
            python_timedelta(std::time::Duration::from_micros(3456)),
            "0:00:00.003456"
        );
        assert_eq!(
            python_timedelta(std::time::Duration::from_secs(3661)),
            "1:01:01"
        );
        assert_eq!(python_bytes_repr(b"nope"), "b'nope'");
        assert_eq!(python_bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(python_shlex_quote("a b"), "'a b'");
    }

    #[tokio::test]
    async fn runs_without_a_shell() {
        let (_tmp, dir) = nasty_tempdir();
        let result = run(
            &Command,
            json!({"_raw_params": "echo '$(touch PWNED); x' ; `id`"}),
        )
        .await;
        assert_eq!(result["stdout"], "$(touch PWNED); x ; `id`");
        assert_eq!(result["rc"], 0);
        assert_eq!(result["changed"], true);
        assert_eq!(
            result["cmd"],
            json!(["echo", "$(touch PWNED); x", ";", "`id`"])
        );
        assert!(result["delta"].as_str().unwrap().starts_with("0:00:0"));
        // The external echo runs, not the shell's builtin: `-e` is an option of coreutils' echo.
        let result = run(&Command, json!({"_raw_params": "echo -e 'a\\tb'"})).await;
        assert_eq!(result["stdout"], "a\tb");
        let result = run(
            &Command,
            json!({"argv": ["printf", "%s|", "a b", "c"], "chdir": dir}),
        )
        .await;
        assert_eq!(result["stdout"], "a b|c|");
        assert!(!std::path::Path::new(&format!("{dir}/PWNED")).exists());
    }

    #[tokio::test]
    async fn chdir_resolves_symlinks_like_os_chdir() {
        // Python's os.chdir leaves the physical directory, so `$PWD` names it, not the link.
        let (_tmp, dir) = nasty_tempdir();
        std::fs::create_dir(format!("{dir}/real")).unwrap();
        std::os::unix::fs::symlink(format!("{dir}/real"), format!("{dir}/link")).unwrap();
        let result = run(
            &Command,
            json!({"_raw_params": "printf %s \"$PWD\"", "_uses_shell": true, "chdir": format!("{dir}/link")}),
        )
        .await;
        let physical = std::fs::canonicalize(format!("{dir}/real")).unwrap();
        assert_eq!(result["stdout"], json!(physical.to_string_lossy()));
    }

    #[tokio::test]
    async fn failures_and_missing_programs() {
        let result = run(&Command, json!({"_raw_params": "false"})).await;
        assert_eq!(result["failed"], true);
        assert_eq!(result["rc"], 1);
        assert_eq!(result["msg"], "non-zero return code");
        let result = run(&Command, json!({"_raw_params": "nope arg"})).await;
        assert_eq!(
            result["msg"],
            "[Errno 2] No such file or directory: b'nope'"
        );
        assert_eq!(result["rc"], 2);
        assert_eq!(result["cmd"], "nope arg");
        let result = run(
            &Command,
            json!({"_raw_params": "ls", "chdir": "/nonexistent dir"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "Unable to change directory before execution: [Errno 2] No such file or directory: b'/nonexistent dir'"
        );
        let result = run(&Command, json!({"argv": ["ls"], "_raw_params": "ls"})).await;
        assert_eq!(result["msg"], "only command or argv can be given, not both");
        let result = run(&Command, json!({"chdir": "/"})).await;
        assert_eq!(result["msg"], "no command given");
        assert_eq!(result["rc"], 256);
    }

    #[tokio::test]
    async fn creates_removes_and_check_mode() {
        let (_tmp, dir) = nasty_tempdir();
        std::fs::write(format!("{dir}/there.txt"), "").unwrap();
        let result = run(
            &Command,
            json!({"_raw_params": "touch x", "creates": format!("{dir}/*.txt")}),
        )
        .await;
        assert_eq!(result["changed"], false);
        assert_eq!(
            result["msg"],
            format!("Did not run command since '{dir}/*.txt' exists")
        );
        let result = run(
            &Command,
            json!({"_raw_params": "true", "removes": format!("{dir}/*.nope")}),
        )
        .await;
        assert_eq!(
            result["msg"],
            format!("Did not run command since '{dir}/*.nope' does not exist")
        );
        let result = check(&Command, json!({"_raw_params": "touch x"})).await;
        assert_eq!(result["skipped"], true);
        assert_eq!(result["msg"], "Command would have run if not in check mode");
        let marker = format!("{dir}/made");
        let result = check(
            &Command,
            json!({"argv": ["touch", marker], "creates": marker}),
        )
        .await;
        assert_eq!(result["changed"], true);
        assert!(!std::path::Path::new(&marker).exists());
    }

    #[tokio::test]
    async fn stdin_and_strip_and_vars() {
        let result = run(&Command, json!({"_raw_params": "cat", "stdin": "hi"})).await;
        assert_eq!(result["stdout"], "hi");
        let result = run(
            &Command,
            json!({"_raw_params": "cat", "stdin": "hi", "strip_empty_ends": false}),
        )
        .await;
        assert_eq!(result["stdout"], "hi\n");
        let options = Options {
            env: vec![("HR_X".into(), "v a l".into())],
            ..Options::default()
        };
        let result = run_with(&Command, json!({"_raw_params": "printf %s $HR_X"}), options).await;
        assert_eq!(result["stdout"], "v a l");
    }

    #[tokio::test]
    async fn spec_checks() {
        let err = Command
            .spec()
            .check_names(
                "ansible.builtin.command",
                json!({"foo": 1}).as_object().unwrap(),
            )
            .unwrap_err();
        assert_eq!(err, "Unsupported parameters for (ansible.legacy.command) module: foo. Supported parameters include: _raw_params, _uses_shell, argv, chdir, creates, executable, expand_argument_vars, removes, stdin, stdin_add_newline, strip_empty_ends.");
        let result = run(&Command, json!({"cmd": "echo hi"})).await;
        assert_eq!(result["stdout"], "hi");
    }
}
