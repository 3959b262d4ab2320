//! The command line: `hook-runner run|dry-run`, and the argv shapes hook-runner must accept
//! because Forklift or users call it by other names.
//!
//! Forms accepted:
//! - `hook-runner run [PLAYBOOK] [OPTIONS]` (PLAYBOOK defaults to `/tmp/hook/playbook.yml`, where
//!   Forklift mounts the hook's ConfigMap), with ansible-playbook's options.
//! - `hook-runner dry-run [HOOK_DIR] [--secret NAMESPACE/NAME=FILE]...`: no cluster, no SSH.
//!   Without HOOK_DIR: `playbooks/example` when run from the repository, else the example
//!   embedded in the binary, written to a temporary directory. With `--inventory-json FILE
//!   --provider P [--plan FILE]`, against the workload.yml Forklift would write for that
//!   inventory record (see [`crate::lint::inventory`]).
//! - `hook-runner lint [HOOK_DIR | PLAYBOOK] [--provider P|all] [--format human|json|sarif]`:
//!   static checks ([`crate::lint`]), nothing run; without a target, the bundled example.
//! - `hook-runner ansible-runner run DIR -p PLAYBOOK` (and `--playbook`), Forklift's exact argv
//!   after `/bin/entrypoint`; also when the binary is called as `ansible-runner`. DIR is the
//!   private data dir, created if missing; a relative PLAYBOOK is looked up in `DIR/project`
//!   first, as ansible-runner does.
//! - `ansible-playbook [OPTIONS] PLAYBOOK` when the binary is called as `ansible-playbook`.
//! - `ansible HOSTS -m MODULE -a ARGS ...` when called as `ansible` ([`crate::adhoc`]).
//!
//! Exit codes follow ansible-playbook: a bad option is 5 (`AnsibleOptionsError`), a
//! non-UTF-8 argument 6; `--help` and `--version` exit 0.

use crate::connection::SshPolicy;
use crate::engine::{Action, Mode, RunOptions};
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where Forklift mounts the hook's playbook.
pub const DEFAULT_PLAYBOOK: &str = "/tmp/hook/playbook.yml";

/// ansible-playbook's exit code for bad options.
pub const RC_BAD_OPTIONS: i32 = 5;
/// ansible-playbook's exit code for non-UTF-8 arguments.
pub const RC_BAD_ENCODING: i32 = 6;

/// The bundled example hook, embedded so `hook-runner dry-run` works from any directory.
pub const EXAMPLE_FILES: [(&str, &str); 3] = [
    (
        "playbook.yml",
        include_str!("../playbooks/example/playbook.yml"),
    ),
    ("plan.yml", include_str!("../playbooks/example/plan.yml")),
    (
        "workload.yml",
        include_str!("../playbooks/example/workload.yml"),
    ),
];

#[derive(Debug, Parser)]
#[command(
    name = "hook-runner",
    version,
    about = "Runs Forklift/MTV migration hook playbooks with Ansible's semantics over SSH",
    after_help = "Exit codes (as ansible-playbook): 0 ok, 1 error, 2 a host failed, 4 a host was unreachable or the playbook is invalid, 5 bad options, 99 interrupted."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a hook playbook (as ansible-playbook would).
    Run(RunArgs),
    /// Show what a hook would do, offline: no cluster, no SSH.
    DryRun(DryRunArgs),
    /// Check a hook statically (nothing runs): templates, variables, Forklift's data paths.
    Lint(LintArgs),
    /// Forklift's argv: `ansible-runner run DIR -p PLAYBOOK`.
    #[command(name = "ansible-runner", hide = true)]
    AnsibleRunner(RunnerCli),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The playbook to run.
    #[arg(default_value = DEFAULT_PLAYBOOK)]
    playbook: PathBuf,
    #[command(flatten)]
    opts: PlaybookOptions,
}

#[derive(Debug, Args)]
struct DryRunArgs {
    /// A hook directory holding playbook.yml, plan.yml and workload.yml (default: the bundled
    /// example).
    hook_dir: Option<PathBuf>,
    /// A Secret's content for `k8s_info`: NAMESPACE/NAME=FILE (repeatable).
    #[arg(long = "secret", value_name = "NAMESPACE/NAME=FILE", value_parser = parse_secret)]
    secrets: Vec<(String, String, PathBuf)>,
    /// Build workload.yml from the inventory service's JSON for a VM (as Forklift does) and
    /// dry-run against it; needs --provider.
    #[arg(long = "inventory-json", value_name = "FILE", requires = "provider")]
    inventory_json: Option<PathBuf>,
    /// The source provider of --inventory-json.
    #[arg(long = "provider", value_name = "PROVIDER", value_parser = parse_provider, requires = "inventory_json")]
    provider: Option<crate::lint::shapes::Provider>,
    /// With --inventory-json: the plan.yml to use instead of the hook directory's.
    #[arg(long = "plan", value_name = "FILE", requires = "inventory_json")]
    plan: Option<PathBuf>,
    #[command(flatten)]
    opts: PlaybookOptions,
}

#[derive(Debug, Args)]
struct LintArgs {
    /// A hook directory (its playbook.yml) or a playbook (default: the bundled example).
    target: Option<PathBuf>,
    /// Check workload paths against this provider's workload.yml (vsphere, ovirt, openstack,
    /// ova, ocp, hyperv, nutanix, or all; default: the hook's workload.yml, else all).
    #[arg(long = "provider", value_name = "PROVIDER", value_parser = parse_lint_providers)]
    provider: Option<crate::lint::Providers>,
    /// Output format: human, json or sarif.
    #[arg(long = "format", value_name = "FORMAT", default_value = "human", value_parser = parse_format)]
    format: crate::lint::Format,
}

/// `dry-run --inventory-json`: the hook directory to stage with a generated workload.yml.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryStage {
    pub hook_dir: PathBuf,
    pub record: PathBuf,
    pub provider: crate::lint::shapes::Provider,
    pub plan: Option<PathBuf>,
    /// The staged directory (removed after the run).
    pub into: PathBuf,
}

fn parse_lint_providers(text: &str) -> Result<crate::lint::Providers, String> {
    use crate::lint::shapes::Provider;
    match text {
        "all" => Ok(crate::lint::Providers::Only(Provider::ALL.to_vec())),
        one => parse_provider(one)
            .map(|p| crate::lint::Providers::Only(vec![p]))
            .map_err(|e| format!("{e}, or all")),
    }
}

fn parse_format(text: &str) -> Result<crate::lint::Format, String> {
    match text {
        "human" => Ok(crate::lint::Format::Human),
        "json" => Ok(crate::lint::Format::Json),
        "sarif" => Ok(crate::lint::Format::Sarif),
        other => Err(format!("'{other}' is not a format (human, json, sarif)")),
    }
}

fn parse_provider(text: &str) -> Result<crate::lint::shapes::Provider, String> {
    crate::lint::shapes::Provider::from_name(text).ok_or_else(|| {
        format!("'{text}' is not a provider (vsphere, ovirt, openstack, ova, ocp, hyperv, nutanix)")
    })
}

/// `ansible-runner` as a command: only `run` is supported.
#[derive(Debug, Parser)]
#[command(name = "ansible-runner", version)]
struct RunnerCli {
    #[command(subcommand)]
    command: RunnerCommand,
}

#[derive(Debug, Subcommand)]
enum RunnerCommand {
    /// Run a playbook with DIR as the private data dir.
    Run(RunnerRunArgs),
}

#[derive(Debug, Args)]
struct RunnerRunArgs {
    /// The private data dir (created if missing; artifacts go under DIR/artifacts/IDENT).
    private_data_dir: PathBuf,
    /// The playbook (relative paths are looked up in DIR/project first).
    #[arg(short = 'p', long = "playbook")]
    playbook: PathBuf,
    /// The artifacts directory name (default: a random UUID).
    #[arg(long)]
    ident: Option<String>,
    /// Emit JSON events instead of Ansible's text (same as --log-format json).
    #[arg(short = 'j', long = "json")]
    json: bool,
    /// Accepted for compatibility; ignored.
    #[arg(long = "rotate-artifacts", value_name = "N", hide = true)]
    _rotate_artifacts: Option<u32>,
    #[command(flatten)]
    opts: PlaybookOptions,
}

/// `ansible-playbook [OPTIONS] PLAYBOOK`, when the binary is called by that name.
#[derive(Debug, Parser)]
#[command(name = "ansible-playbook", version)]
struct AnsiblePlaybookCli {
    /// The playbooks to run, in order.
    #[arg(required = true, num_args = 1.., value_name = "PLAYBOOK")]
    playbooks: Vec<PathBuf>,
    #[command(flatten)]
    opts: PlaybookOptions,
}

/// Console or JSON events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Ansible's console output.
    #[default]
    Human,
    /// One JSON object per event (ansible-runner's event names) on stdout.
    Json,
}

/// ansible-playbook's options, shared by every form.
#[derive(Debug, Args)]
struct PlaybookOptions {
    /// Inventory file (INI or YAML) or a comma-separated host list (`host1,`); repeatable.
    #[arg(short = 'i', long = "inventory", value_name = "INVENTORY")]
    inventories: Vec<String>,
    /// Extra variables: key=value, JSON/YAML, or @file; repeatable.
    #[arg(short = 'e', long = "extra-vars", value_name = "EXTRA_VARS")]
    extra_vars: Vec<String>,
    /// Don't change anything; predict what would change.
    #[arg(short = 'C', long = "check")]
    check: bool,
    /// Show the differences in changed files.
    #[arg(short = 'D', long = "diff")]
    diff: bool,
    /// More output (-v results, -vv task paths, -vvv debug logs, -vvvv trace logs).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Hosts handled in parallel per task (default 5).
    #[arg(short = 'f', long = "forks", value_name = "FORKS", value_parser = clap::value_parser!(u32).range(1..))]
    forks: Option<u32>,
    /// Check the playbook's syntax and exit.
    #[arg(long = "syntax-check")]
    syntax_check: bool,
    /// List the tasks that would run and exit.
    #[arg(long = "list-tasks")]
    list_tasks: bool,
    /// List the hosts each play would run on and exit.
    #[arg(long = "list-hosts")]
    list_hosts: bool,
    /// List the tags and exit.
    #[arg(long = "list-tags")]
    list_tags: bool,
    /// Only run plays and tasks tagged with these (comma-separated; repeatable).
    #[arg(short = 't', long = "tags", value_name = "TAGS")]
    tags: Vec<String>,
    /// Skip plays and tasks tagged with these (comma-separated; repeatable).
    #[arg(long = "skip-tags", value_name = "SKIP_TAGS")]
    skip_tags: Vec<String>,
    /// Limit the hosts to this pattern.
    #[arg(short = 'l', long = "limit", value_name = "SUBSET")]
    limit: Option<String>,
    /// Connection type (ssh, local) where the inventory and the play name none.
    #[arg(short = 'c', long = "connection", value_name = "CONNECTION")]
    connection: Option<String>,
    /// Connect as this user where the inventory and the play name none.
    #[arg(short = 'u', long = "user", value_name = "REMOTE_USER")]
    user: Option<String>,
    /// Run notified handlers even on hosts that failed.
    #[arg(long = "force-handlers")]
    force_handlers: bool,
    /// Clear the fact cache: hook-runner keeps no fact cache between runs, so there is
    /// nothing to clear.
    #[arg(long = "flush-cache")]
    _flush_cache: bool,
    /// Use this kubeconfig instead of the pod's service account.
    #[arg(long = "kubeconfig", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Output format.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Check SSH host keys against known_hosts (default false, as in the Forklift hook image;
    /// `--host-key-checking` alone means true).
    #[arg(
        long = "host-key-checking",
        env = "ANSIBLE_HOST_KEY_CHECKING",
        value_name = "BOOL",
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = parse_bool
    )]
    host_key_checking: bool,
    /// known_hosts file used when host keys are checked (default ~/.ssh/known_hosts).
    #[arg(long = "known-hosts", value_name = "FILE")]
    known_hosts: Option<String>,
    /// Short writable directory for SSH control sockets.
    #[arg(long = "control-dir", value_name = "DIR")]
    control_dir: Option<String>,
    /// How long a host added by `add_host` that does not answer SSH yet (a VM still booting) is
    /// retried before it is unreachable; 0 disables. The host variable
    /// `hook_runner_connect_wait` sets it per host (any host).
    #[arg(
        long = "connect-wait",
        env = "HOOK_RUNNER_CONNECT_WAIT",
        value_name = "SECONDS",
        default_value_t = crate::connection::DEFAULT_CONNECT_WAIT.as_secs()
    )]
    connect_wait: u64,
    /// Stop the whole run after this many seconds (status `timeout`, exit code 99).
    #[arg(long = "timeout", value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
    /// Where to write the JSON summary for the pod status (default /dev/termination-log,
    /// written only when it exists).
    #[arg(
        long = "termination-log",
        env = "HOOK_RUNNER_TERMINATION_LOG",
        value_name = "FILE"
    )]
    termination_log: Option<PathBuf>,
}

/// What the command line asks for, ready to run.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub options: RunOptions,
    pub log_format: LogFormat,
    /// ansible-runner form: where the private data dir is and the artifacts' ident.
    pub runner: Option<RunnerDir>,
    /// dry-run without HOOK_DIR outside the repository: the bundled example must be written
    /// out before the run (and removed after).
    pub write_example_to: Option<PathBuf>,
    /// `--termination-log`: an explicit termination message path.
    pub termination_log: Option<PathBuf>,
    /// `--timeout`: the whole run's deadline.
    pub timeout: Option<std::time::Duration>,
    /// `lint`: run the linter instead of a playbook.
    pub lint: Option<crate::lint::LintRequest>,
    /// `dry-run --inventory-json`: stage the hook with a generated workload.yml first.
    pub inventory_stage: Option<InventoryStage>,
    /// Called as `ansible`: the generated play and how to show its results.
    pub adhoc: Option<crate::adhoc::AdHoc>,
    /// Called as `ansible-playbook`: the console prints exactly ansible-playbook's output
    /// (no closing hook summary after the recap).
    pub as_ansible_playbook: bool,
}

/// ansible-runner's private data dir and the artifacts ident.
#[derive(Debug, Clone, PartialEq)]
pub struct RunnerDir {
    pub private_data_dir: PathBuf,
    pub ident: String,
}

/// The command line could not be used: print `message` (to stdout for help/version, stderr
/// otherwise) and exit with `code`.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

/// argv[0]'s basename, which chooses the command-line form.
fn program_name(argv: &[OsString]) -> String {
    argv.first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `--version` text when `argv` is exactly `PROGRAM --version` (or `-V`), without building
/// the clap parser: the answer is the same as [`parse`]'s, and the start-up stays a few
/// milliseconds (the version check is the cheapest call a probe makes). `None` for every other command line.
pub fn version_only(argv: &[OsString]) -> Option<String> {
    let [_, flag] = argv else {
        return None;
    };
    if flag != "--version" && flag != "-V" {
        return None;
    }
    let name = match program_name(argv).as_str() {
        form @ ("ansible-playbook" | "ansible-runner" | "ansible") => form.to_string(),
        _ => "hook-runner".to_string(),
    };
    Some(format!("{name} {}\n", env!("CARGO_PKG_VERSION")))
}

/// Parses `argv` (argv[0] included): the form is chosen by argv[0]'s basename.
pub fn parse(argv: Vec<OsString>) -> Result<Invocation, Exit> {
    let program = program_name(&argv);
    match program.as_str() {
        "ansible-playbook" => {
            let cli = AnsiblePlaybookCli::try_parse_from(argv).map_err(clap_exit)?;
            let mut playbooks = cli.playbooks.into_iter();
            let first = playbooks.next().unwrap_or_default();
            let mut inv = from_options(first, cli.opts, Mode::Run);
            inv.options.more_playbooks = playbooks.collect();
            inv.as_ansible_playbook = true;
            Ok(inv)
        }
        "ansible-runner" => {
            let cli = RunnerCli::try_parse_from(argv).map_err(clap_exit)?;
            Ok(from_runner(cli))
        }
        "ansible" => crate::adhoc::parse(argv),
        _ => {
            let cli = Cli::try_parse_from(argv).map_err(clap_exit)?;
            from_cli(cli)
        }
    }
}

fn from_cli(cli: Cli) -> Result<Invocation, Exit> {
    match cli.command {
        Command::Run(args) => Ok(from_options(args.playbook, args.opts, Mode::Run)),
        Command::AnsibleRunner(runner) => Ok(from_runner(runner)),
        Command::Lint(args) => lint_invocation(args),
        Command::DryRun(args) => {
            let (mut dir, write_example_to) = match args.hook_dir {
                Some(dir) => (dir, None),
                None => example_dir(),
            };
            let mut inventory_stage = None;
            if let (Some(record), Some(provider)) = (args.inventory_json, args.provider) {
                let into = std::env::temp_dir()
                    .join(format!("hook-runner-inventory-{}", std::process::id()));
                inventory_stage = Some(InventoryStage {
                    hook_dir: dir,
                    record,
                    provider,
                    plan: args.plan,
                    into: into.clone(),
                });
                dir = into;
            }
            let playbook = dir.join("playbook.yml");
            let mut inv = from_options(
                playbook,
                args.opts,
                Mode::DryRun {
                    secrets: args.secrets,
                },
            );
            inv.write_example_to = write_example_to;
            inv.inventory_stage = inventory_stage;
            Ok(inv)
        }
    }
}

fn lint_invocation(args: LintArgs) -> Result<Invocation, Exit> {
    // The run options stay at their defaults: lint runs nothing.
    let Command::Run(defaults) = Cli::try_parse_from(["hook-runner", "run"])
        .map_err(clap_exit)?
        .command
    else {
        unreachable!("`run` parses as the run command")
    };
    let mut inv = from_options(defaults.playbook, defaults.opts, Mode::Run);
    inv.lint = Some(crate::lint::LintRequest {
        target: args.target,
        providers: args.provider.unwrap_or_default(),
        format: args.format,
    });
    Ok(inv)
}

fn from_runner(cli: RunnerCli) -> Invocation {
    let RunnerCommand::Run(args) = cli.command;
    let playbook = runner_playbook(&args.private_data_dir, &args.playbook);
    let mut inv = from_options(playbook, args.opts, Mode::Run);
    if args.json {
        inv.log_format = LogFormat::Json;
    }
    inv.runner = Some(RunnerDir {
        private_data_dir: args.private_data_dir,
        ident: args
            .ident
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    });
    inv
}

/// ansible-runner runs relative playbooks from `DIR/project`.
fn runner_playbook(dir: &Path, playbook: &Path) -> PathBuf {
    if playbook.is_relative() {
        let in_project = dir.join("project").join(playbook);
        if in_project.exists() {
            return in_project;
        }
    }
    playbook.to_path_buf()
}

/// `playbooks/example` when run from the repository, else a fresh temporary directory the
/// embedded example will be written to.
fn example_dir() -> (PathBuf, Option<PathBuf>) {
    let in_repo = PathBuf::from("playbooks/example");
    if in_repo.join("playbook.yml").is_file() {
        return (in_repo, None);
    }
    let tmp = std::env::temp_dir().join(format!("hook-runner-example-{}", std::process::id()));
    (tmp.clone(), Some(tmp))
}

/// Writes the embedded example hook into `dir`.
pub fn write_example(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, content) in EXAMPLE_FILES {
        std::fs::write(dir.join(name), content)?;
    }
    Ok(())
}

fn from_options(playbook: PathBuf, o: PlaybookOptions, mode: Mode) -> Invocation {
    let action = if o.syntax_check {
        Action::SyntaxCheck
    } else if o.list_hosts {
        Action::ListHosts
    } else if o.list_tasks {
        Action::ListTasks
    } else if o.list_tags {
        Action::ListTags
    } else {
        Action::Run
    };
    let termination_log = o.termination_log;
    let timeout = o.timeout.map(std::time::Duration::from_secs);
    let default_ssh = SshPolicy::default();
    let ssh = SshPolicy {
        host_key_checking: o.host_key_checking,
        known_hosts: o.known_hosts,
        control_dir: o.control_dir.unwrap_or(default_ssh.control_dir),
        connect_timeout: default_ssh.connect_timeout,
        connect_wait: std::time::Duration::from_secs(o.connect_wait),
    };
    let options = RunOptions {
        playbook,
        inventories: o.inventories,
        extra_vars: o.extra_vars,
        check: o.check,
        diff: o.diff,
        verbosity: o.verbose,
        forks: o.forks.map(|f| f as usize).unwrap_or(0),
        tags: split_list(&o.tags),
        skip_tags: split_list(&o.skip_tags),
        limit: o.limit,
        mode,
        action,
        ssh,
        kubeconfig: o.kubeconfig,
        playbook_dir: None,
        connection: o.connection,
        remote_user: o.user,
        force_handlers: o.force_handlers,
        more_playbooks: Vec::new(),
    };
    Invocation {
        options,
        log_format: o.log_format,
        runner: None,
        write_example_to: None,
        termination_log,
        timeout,
        lint: None,
        inventory_stage: None,
        adhoc: None,
        as_ansible_playbook: false,
    }
}

/// `--tags a,b --tags c` is `[a, b, c]`, as in Ansible.
fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// Ansible's boolean words for settings: yes/no, true/false, on/off, 1/0, y/n.
pub(crate) fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(true),
        "0" | "false" | "no" | "off" | "n" | "f" | "" => Ok(false),
        other => Err(format!(
            "'{other}' is not a valid boolean (use true or false)"
        )),
    }
}

/// `NAMESPACE/NAME=FILE`.
fn parse_secret(text: &str) -> Result<(String, String, PathBuf), String> {
    let bad = || format!("'{text}' is not NAMESPACE/NAME=FILE");
    let (object, file) = text.split_once('=').ok_or_else(bad)?;
    let (namespace, name) = object.split_once('/').ok_or_else(bad)?;
    if namespace.is_empty() || name.is_empty() || file.is_empty() {
        return Err(bad());
    }
    Ok((namespace.to_string(), name.to_string(), PathBuf::from(file)))
}

/// clap's error as an exit: help and version are not errors; usage errors exit 5 like
/// ansible-playbook's `AnsibleOptionsError`.
pub(crate) fn clap_exit(err: clap::Error) -> Exit {
    let code = match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
        ErrorKind::InvalidUtf8 => RC_BAD_ENCODING,
        _ => RC_BAD_OPTIONS,
    };
    Exit {
        code,
        message: err.render().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_version_fast_path_answers_as_clap_does() {
        for program in [
            "hook-runner",
            "/usr/bin/ansible-playbook",
            "ansible-runner",
            "/usr/bin/ansible",
            "x",
        ] {
            for flag in ["--version", "-V"] {
                let args = argv(&[program, flag]);
                let fast = version_only(&args).expect("a version-only command line");
                let clap = parse(args).unwrap_err();
                assert_eq!(clap.code, 0);
                assert_eq!(fast, clap.message, "{program} {flag}");
            }
        }
        assert_eq!(
            version_only(&argv(&["hook-runner", "run", "--version"])),
            None
        );
        assert_eq!(version_only(&argv(&["hook-runner", "--help"])), None);
        assert_eq!(version_only(&argv(&["hook-runner"])), None);
    }

    fn ok(args: &[&str]) -> Invocation {
        parse(argv(args)).unwrap_or_else(|e| panic!("{args:?}: {}", e.message))
    }

    #[test]
    fn connect_wait_is_an_option_with_a_default_of_five_minutes() {
        if std::env::var_os("HOOK_RUNNER_CONNECT_WAIT").is_none() {
            let inv = ok(&["hook-runner", "run"]);
            assert_eq!(
                inv.options.ssh.connect_wait,
                std::time::Duration::from_secs(300)
            );
        }
        let inv = ok(&["hook-runner", "run", "--connect-wait", "7"]);
        assert_eq!(
            inv.options.ssh.connect_wait,
            std::time::Duration::from_secs(7)
        );
        assert!(parse(argv(&["hook-runner", "run", "--connect-wait", "soon"])).is_err());
    }

    #[test]
    fn run_defaults_to_the_forklift_playbook() {
        let inv = ok(&["hook-runner", "run"]);
        assert_eq!(inv.options.playbook, PathBuf::from(DEFAULT_PLAYBOOK));
        assert_eq!(inv.options.action, Action::Run);
        assert!(!inv.options.ssh.host_key_checking);
        assert_eq!(inv.log_format, LogFormat::Human);
    }

    #[test]
    fn run_takes_ansible_playbook_options() {
        let inv = ok(&[
            "hook-runner",
            "run",
            "pb.yml",
            "-i",
            "h1,",
            "-e",
            "a=1",
            "-e",
            "@v.yml",
            "-C",
            "-D",
            "-vvv",
            "-f",
            "3",
            "-t",
            "a,b",
            "--tags",
            "c",
            "--skip-tags",
            "x",
            "-l",
            "vms",
            "--log-format",
            "json",
            "--host-key-checking=yes",
            "--known-hosts",
            "/k",
            "--control-dir",
            "/tmp/c",
            "--kubeconfig",
            "/kc",
            "--timeout",
            "600",
            "-c",
            "local",
            "-u",
            "cloud-user",
            "--force-handlers",
            "--flush-cache",
        ]);
        let o = &inv.options;
        assert_eq!(o.playbook, PathBuf::from("pb.yml"));
        assert_eq!(o.inventories, ["h1,"]);
        assert_eq!(o.extra_vars, ["a=1", "@v.yml"]);
        assert!(o.check && o.diff);
        assert_eq!(o.verbosity, 3);
        assert_eq!(o.forks, 3);
        assert_eq!(o.tags, ["a", "b", "c"]);
        assert_eq!(o.skip_tags, ["x"]);
        assert_eq!(o.limit.as_deref(), Some("vms"));
        assert_eq!(inv.log_format, LogFormat::Json);
        assert!(o.ssh.host_key_checking);
        assert_eq!(o.ssh.known_hosts.as_deref(), Some("/k"));
        assert_eq!(o.ssh.control_dir, "/tmp/c");
        assert_eq!(o.kubeconfig.as_deref(), Some(Path::new("/kc")));
        assert_eq!(inv.timeout, Some(std::time::Duration::from_secs(600)));
        assert_eq!(o.connection.as_deref(), Some("local"));
        assert_eq!(o.remote_user.as_deref(), Some("cloud-user"));
        assert!(o.force_handlers);
    }

    #[test]
    fn list_and_check_actions() {
        assert_eq!(
            ok(&["hook-runner", "run", "--syntax-check"]).options.action,
            Action::SyntaxCheck
        );
        assert_eq!(
            ok(&["hook-runner", "run", "--list-tasks"]).options.action,
            Action::ListTasks
        );
        assert_eq!(
            ok(&["hook-runner", "run", "--list-hosts"]).options.action,
            Action::ListHosts
        );
        assert_eq!(
            ok(&["hook-runner", "run", "--list-tags"]).options.action,
            Action::ListTags
        );
    }

    #[test]
    fn forklift_argv_through_the_entrypoint() {
        let inv = ok(&[
            "hook-runner",
            "ansible-runner",
            "run",
            "/tmp/runner",
            "-p",
            "/tmp/hook/playbook.yml",
        ]);
        assert_eq!(
            inv.options.playbook,
            PathBuf::from("/tmp/hook/playbook.yml")
        );
        let runner = inv.runner.unwrap();
        assert_eq!(runner.private_data_dir, PathBuf::from("/tmp/runner"));
        assert!(!runner.ident.is_empty());
        let inv = ok(&[
            "/usr/bin/ansible-runner",
            "run",
            "/tmp/r",
            "--playbook",
            "pb.yml",
            "--ident",
            "x",
        ]);
        assert_eq!(inv.options.playbook, PathBuf::from("pb.yml"));
        assert_eq!(inv.runner.unwrap().ident, "x");
    }

    #[test]
    fn called_as_ansible_playbook() {
        let inv = ok(&[
            "/usr/local/bin/ansible-playbook",
            "-i",
            "inv.ini",
            "site.yml",
            "-v",
        ]);
        assert_eq!(inv.options.playbook, PathBuf::from("site.yml"));
        assert!(inv.options.more_playbooks.is_empty());
        assert!(inv.as_ansible_playbook);
        assert!(!ok(&["hook-runner", "run", "site.yml"]).as_ansible_playbook);
        assert_eq!(inv.options.inventories, ["inv.ini"]);
        let inv = ok(&["ansible-playbook", "a.yml", "b.yml", "-v", "c.yml"]);
        assert_eq!(inv.options.playbook, PathBuf::from("a.yml"));
        assert_eq!(
            inv.options.more_playbooks,
            [PathBuf::from("b.yml"), PathBuf::from("c.yml")]
        );
        assert_eq!(inv.options.verbosity, 1);
        assert!(inv.runner.is_none());
    }

    #[test]
    fn dry_run_takes_secrets() {
        let inv = ok(&[
            "hook-runner",
            "dry-run",
            "/hooks/a",
            "--secret",
            "ns/privkey=/k/id_rsa",
        ]);
        assert_eq!(inv.options.playbook, PathBuf::from("/hooks/a/playbook.yml"));
        assert_eq!(
            inv.options.mode,
            Mode::DryRun {
                secrets: vec![("ns".into(), "privkey".into(), PathBuf::from("/k/id_rsa"))]
            }
        );
        let err = parse(argv(&["hook-runner", "dry-run", "--secret", "privkey=/k"])).unwrap_err();
        assert_eq!(err.code, RC_BAD_OPTIONS);
        assert!(
            err.message.contains("NAMESPACE/NAME=FILE"),
            "{}",
            err.message
        );
    }

    #[test]
    fn lint_takes_a_target_a_provider_and_a_format() {
        use crate::lint::shapes::Provider;
        use crate::lint::{Format, Providers};
        let lint = |args: &[&str]| ok(args).lint.expect("a lint request");
        let plain = lint(&["hook-runner", "lint"]);
        assert_eq!(plain.target, None);
        assert_eq!(plain.providers, Providers::Auto);
        assert_eq!(plain.format, Format::Human);
        let all = lint(&[
            "hook-runner",
            "lint",
            "hooks/a",
            "--provider",
            "all",
            "--format",
            "sarif",
        ]);
        assert_eq!(all.target, Some(PathBuf::from("hooks/a")));
        assert_eq!(all.providers, Providers::Only(Provider::ALL.to_vec()));
        assert_eq!(all.format, Format::Sarif);
        let one = lint(&[
            "hook-runner",
            "lint",
            "--provider",
            "ovirt",
            "--format",
            "json",
        ]);
        assert_eq!(one.providers, Providers::Only(vec![Provider::Ovirt]));
        for bad in [["--provider", "vmware"], ["--format", "xml"]] {
            let err = parse(argv(&["hook-runner", "lint", bad[0], bad[1]])).unwrap_err();
            assert_eq!(err.code, RC_BAD_OPTIONS, "{bad:?}");
        }
    }

    #[test]
    fn dry_run_from_an_inventory_record_needs_its_provider() {
        let inv = ok(&[
            "hook-runner",
            "dry-run",
            "/hooks/a",
            "--inventory-json",
            "vm.json",
            "--provider",
            "openstack",
        ]);
        let stage = inv.inventory_stage.expect("a staged hook");
        assert_eq!(stage.hook_dir, PathBuf::from("/hooks/a"));
        assert_eq!(stage.provider, crate::lint::shapes::Provider::Openstack);
        assert_eq!(inv.options.playbook, stage.into.join("playbook.yml"));
        for partial in [
            &["hook-runner", "dry-run", "--inventory-json", "vm.json"][..],
            &["hook-runner", "dry-run", "--provider", "ovirt"],
            &["hook-runner", "dry-run", "--plan", "plan.yml"],
        ] {
            assert_eq!(
                parse(argv(partial)).unwrap_err().code,
                RC_BAD_OPTIONS,
                "{partial:?}"
            );
        }
    }

    #[test]
    fn bad_options_exit_5_and_help_exits_0() {
        let err = parse(argv(&["hook-runner", "run", "--bogus"])).unwrap_err();
        assert_eq!(err.code, RC_BAD_OPTIONS);
        assert!(err.message.contains("--bogus"));
        assert_eq!(
            parse(argv(&["hook-runner", "run", "-f", "0"]))
                .unwrap_err()
                .code,
            RC_BAD_OPTIONS
        );
        assert_eq!(parse(argv(&["hook-runner", "--help"])).unwrap_err().code, 0);
        assert_eq!(
            parse(argv(&["hook-runner", "--version"])).unwrap_err().code,
            0
        );
        assert_eq!(
            parse(argv(&["ansible-playbook"])).unwrap_err().code,
            RC_BAD_OPTIONS
        );
    }

    #[test]
    fn host_key_checking_flag_alone_means_true() {
        assert!(
            ok(&["hook-runner", "run", "--host-key-checking"])
                .options
                .ssh
                .host_key_checking
        );
        let inv = ok(&["hook-runner", "run", "--host-key-checking=False", "pb.yml"]);
        assert!(!inv.options.ssh.host_key_checking);
        assert_eq!(inv.options.playbook, PathBuf::from("pb.yml"));
    }

    #[test]
    fn booleans_read_like_ansible() {
        assert_eq!(parse_bool("False"), Ok(false));
        assert_eq!(parse_bool("yes"), Ok(true));
        assert!(parse_bool("maybe").is_err());
    }
}
