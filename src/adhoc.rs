//! `ansible HOSTS -m MODULE -a ARGS -i INV`: Ansible's ad-hoc command, when the binary is
//! called as `ansible` (e.g. `ansible all -m ping` against the VMs of a hook).
//!
//! The command becomes a one-task play run by the same engine as playbooks (`hosts: HOSTS`,
//! no fact gathering, the keywords the options name), so a module behaves exactly as in a
//! playbook. Relative paths start from `--playbook-dir`, else the current directory, as for
//! Ansible's ad-hoc runs. The output is Ansible's `minimal` callback (`-o`: `oneline`):
//!
//! ```text
//! host | SUCCESS => {            host | CHANGED | rc=0 >>
//!     "changed": false,          output of command/shell/raw/script
//!     "ping": "pong"
//! }
//! ```
//!
//! `FAILED!`, `UNREACHABLE!` and `SKIPPED` likewise; warnings go to stderr. The exit code is
//! ansible's: 0, 2 when a host failed, 4 when one was unreachable, 5 for bad options.
//!
//! Options: `-m`, `-a`, `-i`, `-e`, `-l`, `-f`, `-v`, `-C`, `-D`, `-b`/`--become`,
//! `--become-user`, `--become-method`, `-u`, `-c`, `-B`/`-P` (async), `--task-timeout`,
//! `--playbook-dir`, `--list-hosts`, `-o`, and hook-runner's `--timeout`, `--log-format`.
//! Not supported (an error, exit 5, as for any unknown option): vault options, `-t TREE`,
//! prompts for passwords (`-k`, `-K`), `-M` module paths.

use crate::cli::{Exit, Invocation, LogFormat, RC_BAD_OPTIONS};
use crate::connection::SshPolicy;
use crate::engine::{Action, Mode, RunOptions};
use crate::report::redact::Redactor;
use crate::report::{console, Event, Reporter, Status};
use crate::{Map, Value};
use clap::Parser;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

/// Modules whose result the minimal callback shows as `rc=N >>` and the output.
const COMMAND_MODULES: &[&str] = &["command", "shell", "raw", "script"];

/// Modules ad-hoc refuses to run without arguments.
const NEED_ARGS: &[&str] = &["command", "shell", "raw", "script"];

/// Actions that only make sense in a playbook.
const PLAYBOOK_ONLY: &[&str] = &["import_playbook"];

#[derive(Debug, Parser)]
#[command(
    name = "ansible",
    version,
    about = "Runs one module on the hosts matching a pattern (Ansible's ad-hoc command)"
)]
struct AdHocCli {
    /// Host pattern.
    pattern: String,
    /// Module to run.
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    module: String,
    /// The module's arguments: `k=v ...`, free form, or JSON.
    #[arg(short = 'a', long = "args", default_value = "")]
    args: String,
    /// Inventory file or comma-separated host list; repeatable.
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    inventories: Vec<String>,
    /// Extra variables; repeatable.
    #[arg(short = 'e', long = "extra-vars", value_name = "EXTRA_VARS")]
    extra_vars: Vec<String>,
    /// Limit the hosts to this pattern.
    #[arg(short = 'l', long = "limit", value_name = "SUBSET")]
    limit: Option<String>,
    /// Parallel hosts.
    #[arg(short = 'f', long = "forks", value_parser = clap::value_parser!(u32).range(1..))]
    forks: Option<u32>,
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    #[arg(short = 'C', long = "check")]
    check: bool,
    #[arg(short = 'D', long = "diff")]
    diff: bool,
    /// Run with become (sudo by default).
    #[arg(short = 'b', long = "become")]
    become_: bool,
    #[arg(long = "become-user", value_name = "USER")]
    become_user: Option<String>,
    #[arg(long = "become-method", value_name = "METHOD")]
    become_method: Option<String>,
    /// Connect as this user.
    #[arg(short = 'u', long = "user", value_name = "REMOTE_USER")]
    user: Option<String>,
    /// Connection type (ssh, local).
    #[arg(short = 'c', long = "connection", value_name = "CONNECTION")]
    connection: Option<String>,
    /// Run asynchronously, failing after this many seconds.
    #[arg(short = 'B', long = "background", value_name = "SECONDS")]
    background: Option<u64>,
    /// Poll interval with -B.
    #[arg(short = 'P', long = "poll", value_name = "POLL_INTERVAL")]
    poll: Option<u64>,
    /// The task's timeout in seconds.
    #[arg(long = "task-timeout", value_name = "TASK_TIMEOUT")]
    task_timeout: Option<u64>,
    /// Where relative paths start (default: the current directory).
    #[arg(long = "playbook-dir", value_name = "BASEDIR")]
    playbook_dir: Option<PathBuf>,
    /// List the matching hosts and exit.
    #[arg(long = "list-hosts")]
    list_hosts: bool,
    /// One line per host.
    #[arg(short = 'o', long = "one-line")]
    one_line: bool,
    /// Stop the whole run after this many seconds (exit code 99).
    #[arg(long = "timeout", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
    /// Output format.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
}

/// The generated play and how to show its results.
#[derive(Debug, Clone, PartialEq)]
pub struct AdHoc {
    /// The play, as JSON text (valid YAML), to be written to `RunOptions::playbook`.
    pub playbook_text: String,
    /// The temporary directory the play is written to (removed after the run).
    pub dir: PathBuf,
    pub module: String,
    pub one_line: bool,
}

/// Parses an `ansible ...` command line (argv[0] included).
pub fn parse(argv: Vec<OsString>) -> Result<Invocation, Exit> {
    let cli = AdHocCli::try_parse_from(argv).map_err(crate::cli::clap_exit)?;
    let bad = |message: String| Exit {
        code: RC_BAD_OPTIONS,
        message: format!("ERROR! {message}\n"),
    };
    let short = short_name(&cli.module);
    if PLAYBOOK_ONLY.contains(&short) {
        return Err(bad(format!(
            "'{}' is not a valid action for ad-hoc commands",
            cli.module
        )));
    }
    if NEED_ARGS.contains(&short) && cli.args.trim().is_empty() {
        return Err(bad(format!("No argument passed to {} module", cli.module)));
    }
    let args = module_args(&cli.args).map_err(bad)?;
    let dir = std::env::temp_dir().join(format!("hook-runner-adhoc-{}", std::process::id()));
    let playbook_dir = match cli.playbook_dir.clone() {
        Some(d) => Some(d),
        None => std::env::current_dir().ok(),
    };
    let adhoc = AdHoc {
        playbook_text: play(&cli, args).to_string(),
        dir: dir.clone(),
        module: cli.module.clone(),
        one_line: cli.one_line,
    };
    let options = RunOptions {
        playbook: dir.join("adhoc.yml"),
        playbook_dir,
        inventories: cli.inventories,
        extra_vars: cli.extra_vars,
        check: cli.check,
        diff: cli.diff,
        verbosity: cli.verbose,
        forks: cli.forks.map(|f| f as usize).unwrap_or(0),
        limit: cli.limit,
        mode: Mode::Run,
        action: if cli.list_hosts {
            Action::ListHosts
        } else {
            Action::Run
        },
        ssh: ssh_policy(),
        ..RunOptions::default()
    };
    Ok(Invocation {
        options,
        log_format: cli.log_format,
        runner: None,
        write_example_to: None,
        termination_log: std::env::var_os("HOOK_RUNNER_TERMINATION_LOG").map(PathBuf::from),
        timeout: cli.timeout.map(std::time::Duration::from_secs),
        adhoc: Some(adhoc),
        lint: None,
        inventory_stage: None,
        as_ansible_playbook: false,
    })
}

/// `ANSIBLE_HOST_KEY_CHECKING` as for playbooks (default false, as in the hook image).
fn ssh_policy() -> SshPolicy {
    let checking = std::env::var("ANSIBLE_HOST_KEY_CHECKING")
        .ok()
        .and_then(|v| crate::cli::parse_bool(&v).ok())
        .unwrap_or(false);
    SshPolicy {
        host_key_checking: checking,
        ..SshPolicy::default()
    }
}

/// `ansible.builtin.ping` → `ping`.
fn short_name(module: &str) -> &str {
    module
        .strip_prefix("ansible.builtin.")
        .or_else(|| module.strip_prefix("ansible.legacy."))
        .unwrap_or(module)
}

/// `-a`: a JSON object stays an object (Ansible accepts JSON there); anything else is the
/// `k=v`/free-form string a task line would carry; nothing is no arguments.
fn module_args(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    if trimmed.starts_with('{') {
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => Ok(Value::String(text.to_string())),
        };
    }
    Ok(Value::String(text.to_string()))
}

/// The one-play playbook of the command.
fn play(cli: &AdHocCli, args: Value) -> Value {
    let mut task = Map::new();
    task.insert(cli.module.clone(), args);
    if let Some(seconds) = cli.background {
        task.insert("async".into(), Value::from(seconds));
        task.insert("poll".into(), Value::from(cli.poll.unwrap_or(15)));
    }
    if let Some(t) = cli.task_timeout.filter(|t| *t > 0) {
        task.insert("timeout".into(), Value::from(t));
    }
    let mut play = Map::new();
    play.insert("name".into(), Value::from("Ansible Ad-Hoc"));
    play.insert("hosts".into(), Value::from(cli.pattern.clone()));
    play.insert("gather_facts".into(), Value::Bool(false));
    if cli.become_ || cli.become_user.is_some() || cli.become_method.is_some() {
        play.insert("become".into(), Value::Bool(cli.become_));
    }
    for (key, value) in [
        ("become_user", &cli.become_user),
        ("become_method", &cli.become_method),
        ("remote_user", &cli.user),
        ("connection", &cli.connection),
    ] {
        if let Some(v) = value {
            play.insert(key.into(), Value::from(v.clone()));
        }
    }
    play.insert("tasks".into(), Value::Array(vec![Value::Object(task)]));
    Value::Array(vec![Value::Object(play)])
}

/// Ansible's `minimal` (or, with `-o`, `oneline`) callback on stdout; warnings and the
/// closing error on stderr.
pub struct AdHocConsole {
    one_line: bool,
    out: Mutex<(Box<dyn Write + Send>, Box<dyn Write + Send>)>,
    redactor: Redactor,
}

impl AdHocConsole {
    pub fn stdio(one_line: bool) -> Self {
        Self::new(
            one_line,
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            crate::report::redact::global().clone(),
        )
    }

    pub fn new(
        one_line: bool,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
        redactor: Redactor,
    ) -> Self {
        AdHocConsole {
            one_line,
            out: Mutex::new((out, err)),
            redactor,
        }
    }

    fn render(&self, event: &Event) -> (String, String) {
        match event {
            Event::HostResult {
                host,
                task,
                status,
                result,
                item: None,
                ..
            } => {
                let mut err = String::new();
                for w in string_list(result.get("warnings")) {
                    err.push_str(&console::warning(&w));
                }
                (self.host_line(host, &task.action, *status, result), err)
            }
            Event::NoHostsMatched => (
                String::new(),
                console::warning("No hosts matched, nothing to do"),
            ),
            Event::Warning { message } => (String::new(), console::warning(message)),
            Event::Output { line } => (list_hosts_line(line), String::new()),
            Event::PlaybookEnd {
                error: Some(error), ..
            } => (String::new(), format!("ERROR! {error}\n")),
            _ => (String::new(), String::new()),
        }
    }

    fn host_line(&self, host: &str, action: &str, status: Status, result: &Map) -> String {
        let caption = match status {
            Status::Ok => "SUCCESS",
            Status::Changed => "CHANGED",
            Status::Failed | Status::Ignored => "FAILED",
            Status::Skipped => return format!("{host} | SKIPPED\n"),
            Status::Unreachable => "UNREACHABLE!",
        };
        let shown = console::clean_result(result, action, 0);
        let command_like = COMMAND_MODULES.contains(&short_name(action))
            && status != Status::Unreachable
            && !result.contains_key("module_stderr")
            && !result.contains_key("ansible_job_id");
        let text = |key: &str| result.get(key).and_then(Value::as_str).unwrap_or_default();
        let rc = result
            .get("rc")
            .map(crate::py::str)
            .unwrap_or_else(|| "-1".into());
        if command_like {
            if self.one_line {
                let stdout = text("stdout").replace('\n', "\\n");
                return format!("{host} | {caption} | rc={rc} | (stdout) {stdout}\n");
            }
            return format!(
                "{host} | {caption} | rc={rc} >>\n{}{}{}\n",
                text("stdout"),
                text("stderr"),
                text("msg")
            );
        }
        let caption = if caption == "FAILED" {
            "FAILED!"
        } else {
            caption
        };
        let body = Value::Object(shown);
        if self.one_line {
            format!(
                "{host} | {caption} => {}\n",
                crate::py::json_dumps(&body, None, true, false)
            )
        } else {
            format!(
                "{host} | {caption} => {}\n",
                crate::py::json_dumps(&body, Some(4), true, false)
            )
        }
    }
}

/// `--list-hosts`: the engine lists per play (`playbook:`, `play #1`, `pattern:`); ad-hoc
/// shows only `  hosts (N):` and the names.
fn list_hosts_line(line: &str) -> String {
    let trimmed = line.trim_start();
    if trimmed.starts_with("hosts (") {
        format!("  {trimmed}\n")
    } else if line.starts_with("      ") && !trimmed.is_empty() {
        format!("    {trimmed}\n")
    } else {
        String::new()
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().map(crate::py::str).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

impl Reporter for AdHocConsole {
    fn event(&self, event: &Event) {
        let (stdout, stderr) = self.render(event);
        let Ok(mut streams) = self.out.lock() else {
            return;
        };
        let (out, err) = &mut *streams;
        // A closed pipe must not stop the run.
        if !stderr.is_empty() {
            let _ = out.flush();
            let _ = err.write_all(self.redactor.redact(&stderr).as_bytes());
            let _ = err.flush();
        }
        if !stdout.is_empty() {
            let _ = out.write_all(self.redactor.redact(&stdout).as_bytes());
            let _ = out.flush();
        }
    }
}

/// Writes the generated play where [`parse`] said (a fresh private directory).
pub fn write_playbook(adhoc: &AdHoc, playbook: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let _ = std::fs::remove_dir_all(&adhoc.dir);
    std::fs::DirBuilder::new().mode(0o700).create(&adhoc.dir)?;
    std::fs::write(playbook, &adhoc.playbook_text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TaskInfo;
    use serde_json::json;
    use std::sync::Arc;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn adhoc(args: &[&str]) -> (Invocation, Value) {
        let inv = parse(argv(args)).unwrap_or_else(|e| panic!("{args:?}: {}", e.message));
        let play = serde_json::from_str(&inv.adhoc.as_ref().unwrap().playbook_text).unwrap();
        (inv, play)
    }

    #[test]
    fn the_command_becomes_a_one_task_play_without_facts() {
        let (inv, play) = adhoc(&[
            "/usr/bin/ansible",
            "web:&db",
            "-i",
            "inv.ini",
            "-m",
            "ansible.builtin.copy",
            "-a",
            "src=a dest=/tmp/b",
            "-e",
            "x=1",
            "-b",
            "--become-user",
            "app",
            "-u",
            "cloud-user",
            "-l",
            "vm1",
            "-C",
            "-vv",
        ]);
        assert_eq!(
            play,
            json!([{
                "name": "Ansible Ad-Hoc", "hosts": "web:&db", "gather_facts": false,
                "become": true, "become_user": "app", "remote_user": "cloud-user",
                "tasks": [{"ansible.builtin.copy": "src=a dest=/tmp/b"}]
            }])
        );
        let o = &inv.options;
        assert_eq!(o.inventories, ["inv.ini"]);
        assert_eq!(o.extra_vars, ["x=1"]);
        assert_eq!(o.limit.as_deref(), Some("vm1"));
        assert!(o.check && !o.diff);
        assert_eq!(o.verbosity, 2);
        assert_eq!(o.action, Action::Run);
        assert_eq!(o.playbook_dir, std::env::current_dir().ok());
        assert!(o.playbook.ends_with("adhoc.yml"));
    }

    #[test]
    fn command_is_the_default_module_and_json_args_stay_an_object() {
        let (_, play) = adhoc(&["ansible", "all", "-a", "uptime"]);
        assert_eq!(play[0]["tasks"][0], json!({"command": "uptime"}));
        let (_, play) = adhoc(&["ansible", "all", "-m", "ping"]);
        assert_eq!(play[0]["tasks"][0], json!({"ping": {}}));
        let (_, play) = adhoc(&["ansible", "all", "-m", "debug", "-a", r#"{"msg": "hi"}"#]);
        assert_eq!(play[0]["tasks"][0], json!({"debug": {"msg": "hi"}}));
        let (inv, play) = adhoc(&[
            "ansible",
            "all",
            "-m",
            "shell",
            "-a",
            "sleep 1",
            "-B",
            "30",
            "-P",
            "2",
            "-c",
            "local",
            "--playbook-dir",
            "/pb",
            "--list-hosts",
        ]);
        assert_eq!(
            play[0]["tasks"][0],
            json!({"shell": "sleep 1", "async": 30, "poll": 2})
        );
        assert_eq!(play[0]["connection"], "local");
        assert_eq!(inv.options.playbook_dir, Some(PathBuf::from("/pb")));
        assert_eq!(inv.options.action, Action::ListHosts);
    }

    #[test]
    fn bad_commands_exit_5_with_ansibles_words() {
        let err = parse(argv(&["ansible", "all", "-m", "shell"])).unwrap_err();
        assert_eq!(err.code, 5);
        assert_eq!(err.message, "ERROR! No argument passed to shell module\n");
        let err = parse(argv(&[
            "ansible",
            "all",
            "-m",
            "import_playbook",
            "-a",
            "x.yml",
        ]))
        .unwrap_err();
        assert_eq!(
            err.message,
            "ERROR! 'import_playbook' is not a valid action for ad-hoc commands\n"
        );
        assert_eq!(parse(argv(&["ansible"])).unwrap_err().code, 5);
        assert_eq!(
            parse(argv(&["ansible", "all", "--vault-password-file", "x"]))
                .unwrap_err()
                .code,
            5
        );
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn shown(one_line: bool, events: &[Event]) -> (String, String) {
        let (out, err) = (Buf::default(), Buf::default());
        let console = AdHocConsole::new(
            one_line,
            Box::new(out.clone()),
            Box::new(err.clone()),
            Redactor::default(),
        );
        for e in events {
            console.event(e);
        }
        let text = |b: Buf| String::from_utf8(b.0.lock().unwrap().clone()).unwrap();
        (text(out), text(err))
    }

    fn result(host: &str, action: &str, status: Status, result: Value) -> Event {
        Event::HostResult {
            host: host.into(),
            task: TaskInfo {
                name: action.into(),
                action: action.into(),
                ..TaskInfo::default()
            },
            status,
            result: result.as_object().unwrap().clone(),
            item: None,
            delegated_to: None,
        }
    }

    #[test]
    fn results_print_as_the_minimal_callback() {
        let events = [
            result(
                "vm1",
                "ping",
                Status::Ok,
                json!({"changed": false, "ping": "pong"}),
            ),
            result(
                "vm2",
                "ansible.builtin.command",
                Status::Changed,
                json!({"changed": true, "rc": 0, "stdout": "up 3 days", "stderr": ""}),
            ),
            result(
                "vm3",
                "shell",
                Status::Failed,
                json!({"changed": true, "failed": true, "rc": 1, "stdout": "", "stderr": "boom", "msg": "non-zero return code"}),
            ),
            result(
                "vm4",
                "file",
                Status::Failed,
                json!({"failed": true, "changed": false, "msg": "nope"}),
            ),
            result(
                "vm5",
                "ping",
                Status::Unreachable,
                json!({"unreachable": true, "changed": false, "msg": "Failed to connect"}),
            ),
            result("vm6", "ping", Status::Skipped, json!({"skipped": true})),
            Event::NoHostsMatched,
            Event::PlaybookEnd { rc: 2, error: None },
        ];
        let (out, err) = shown(false, &events);
        assert_eq!(
            out,
            "vm1 | SUCCESS => {\n    \"changed\": false,\n    \"ping\": \"pong\"\n}\n\
             vm2 | CHANGED | rc=0 >>\nup 3 days\n\
             vm3 | FAILED | rc=1 >>\nboomnon-zero return code\n\
             vm4 | FAILED! => {\n    \"changed\": false,\n    \"msg\": \"nope\"\n}\n\
             vm5 | UNREACHABLE! => {\n    \"changed\": false,\n    \"msg\": \"Failed to connect\",\n    \"unreachable\": true\n}\n\
             vm6 | SKIPPED\n"
        );
        assert_eq!(err, "[WARNING]: No hosts matched, nothing to do\n");
        let listing = [
            "",
            "playbook: /tmp/adhoc.yml",
            "",
            "  play #1 (all): Ansible Ad-Hoc\tTAGS: []",
            "    pattern: ['all']",
            "    hosts (2):",
            "      vm1",
            "      vm2",
        ];
        let events: Vec<Event> = listing
            .iter()
            .map(|l| Event::Output {
                line: l.to_string(),
            })
            .collect();
        assert_eq!(shown(false, &events).0, "  hosts (2):\n    vm1\n    vm2\n");
        let events = [
            result(
                "vm1",
                "ping",
                Status::Ok,
                json!({"changed": false, "ping": "pong"}),
            ),
            result(
                "vm2",
                "command",
                Status::Changed,
                json!({"changed": true, "rc": 0, "stdout": "up 3 days"}),
            ),
        ];
        let (out, _) = shown(true, &events);
        assert_eq!(
            out,
            "vm1 | SUCCESS => {\"changed\": false, \"ping\": \"pong\"}\n\
             vm2 | CHANGED | rc=0 | (stdout) up 3 days\n"
        );
    }
}
