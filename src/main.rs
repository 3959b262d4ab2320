//! hook-runner's entry point: parse the command line ([`hook_runner::cli`]), set up logging and
//! the reporters, run the playbook with the engine, and exit with ansible-playbook's code.
//!
//! Reporters: the console (or `--log-format json` lines), ansible-runner's artifacts when
//! called in the ansible-runner form, the termination message, and after the run, inside a
//! pod, a `HookSucceeded`/`HookFailed` Event on the pod (best effort).
//!
//! SIGTERM (the hook pod's `activeDeadlineSeconds`) and SIGINT ask the engine to stop: no new
//! task starts and running commands are ended. The run then ends with exit code 99 and
//! ansible-playbook's "User interrupted execution". If the engine has not returned
//! [`CANCEL_GRACE`] after the signal (or a second signal arrives), the process reports the
//! interruption and exits 99 anyway: the pod's grace period must not run out with nothing said.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hook_runner::adhoc::AdHocConsole;
use hook_runner::cli::{self, Invocation, LogFormat};
use hook_runner::engine::{self, Action, Cancel, Mode, RunOptions};
use hook_runner::kube::ApiCluster;
use hook_runner::report::artifacts::Artifacts;
use hook_runner::report::console::Console;
use hook_runner::report::json::JsonLines;
use hook_runner::report::pod_event;
use hook_runner::report::redact;
use hook_runner::report::summary::{RunSummary, SummaryKeeper, TIMEOUT_ERROR_PREFIX};
use hook_runner::report::termination::TerminationLog;
use hook_runner::report::{Event, Fanout, Reporter};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the engine gets to stop after SIGTERM/SIGINT before the process exits on its own.
const CANCEL_GRACE: Duration = Duration::from_secs(4);

/// ansible-playbook's words for an interrupted run.
const INTERRUPTED: &str = "User interrupted execution";

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let argv: Vec<_> = std::env::args_os().collect();
    // `--version` answers before clap, logging or the runtime are built (start-up time).
    if let Some(version) = cli::version_only(&argv) {
        print!("{version}");
        return 0;
    }
    let invocation = match cli::parse(argv) {
        Ok(invocation) => invocation,
        Err(exit) => {
            if exit.code == 0 {
                print!("{}", exit.message);
            } else {
                eprint!("{}", exit.message);
            }
            return exit.code;
        }
    };
    if let Some(request) = &invocation.lint {
        return hook_runner::lint::run(request);
    }
    init_tracing(invocation.options.verbosity, invocation.log_format);
    if let Err(message) = prepare(&invocation) {
        eprintln!("ERROR! {message}");
        return 1;
    }
    register_secret_files(&invocation.options);

    let keeper = SummaryKeeper::default();
    let reporter = Arc::new(EndTracker::new(build_reporter(&invocation, keeper.clone())));
    let interrupted = Arc::new(AtomicBool::new(false));
    let cancel = Cancel::new();
    watch_signals(reporter.clone(), interrupted.clone(), cancel.clone());

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            reporter.end(1, Some(format!("cannot start the async runtime: {e}")));
            return 1;
        }
    };
    let engine_rc = runtime.block_on(run_with_deadline(
        &invocation.options,
        &reporter,
        cancel,
        invocation.timeout,
    ));
    // The engine reports its own end; if it did not (or a signal came in between), say it here.
    let rc = if interrupted.load(Ordering::SeqCst) {
        hook_runner::report::EXIT_INTERRUPTED
    } else {
        engine_rc
    };
    reporter.end(
        rc,
        (rc == hook_runner::report::EXIT_INTERRUPTED).then(|| INTERRUPTED.to_string()),
    );
    let rc = reporter.reported_rc().unwrap_or(rc);

    if wants_pod_event(&invocation.options) {
        if let Some(summary) = keeper.summary() {
            runtime.block_on(post_pod_event(&summary));
        }
    }
    if let Some(dir) = &invocation.write_example_to {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some(stage) = &invocation.inventory_stage {
        let _ = std::fs::remove_dir_all(&stage.into);
    }
    if let Some(adhoc) = &invocation.adhoc {
        let _ = std::fs::remove_dir_all(&adhoc.dir);
    }
    // A task the engine could not stop must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(500));
    rc
}

/// The engine's run, stopped like an interruption when `--timeout` expires (with the reason
/// `Timeout (Ns) exceeded`, so the status is `timeout`).
async fn run_with_deadline(
    options: &RunOptions,
    reporter: &EndTracker,
    cancel: Cancel,
    timeout: Option<Duration>,
) -> i32 {
    let run = engine::run_playbook_with_cancel(options, reporter, cancel.clone());
    tokio::pin!(run);
    let Some(timeout) = timeout else {
        return run.await;
    };
    tokio::select! {
        rc = &mut run => rc,
        _ = tokio::time::sleep(timeout) => {
            let reason = format!(
                "{TIMEOUT_ERROR_PREFIX} ({}s) exceeded: the run was stopped",
                timeout.as_secs()
            );
            tracing::info!("{reason}");
            reporter.set_reason(reason.clone());
            cancel.cancel();
            match tokio::time::timeout(CANCEL_GRACE, &mut run).await {
                Ok(rc) => rc,
                Err(_) => {
                    reporter.end(hook_runner::report::EXIT_INTERRUPTED, Some(reason));
                    hook_runner::report::EXIT_INTERRUPTED
                }
            }
        }
    }
}

/// Files and directories the run needs before it starts.
fn prepare(invocation: &Invocation) -> Result<(), String> {
    if let Some(dir) = &invocation.write_example_to {
        cli::write_example(dir).map_err(|e| {
            format!(
                "could not write the bundled example hook to {}: {e}",
                dir.display()
            )
        })?;
    }
    if let Some(stage) = &invocation.inventory_stage {
        hook_runner::lint::stage_inventory_hook(
            &stage.hook_dir,
            &stage.record,
            stage.provider,
            stage.plan.as_deref(),
            &stage.into,
        )?;
    }
    if let Some(adhoc) = &invocation.adhoc {
        hook_runner::adhoc::write_playbook(adhoc, &invocation.options.playbook).map_err(|e| {
            format!(
                "could not write the ad-hoc play to {}: {e}",
                adhoc.dir.display()
            )
        })?;
    }
    if let Some(runner) = &invocation.runner {
        let dir = &runner.private_data_dir;
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "could not create the private data dir {}: {e}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// `dry-run --secret NS/NAME=FILE`: the file's values are secrets from the start, whatever
/// the engine later does with them.
fn register_secret_files(options: &RunOptions) {
    let Mode::DryRun { secrets } = &options.mode else {
        return;
    };
    for (_, _, path) in secrets {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // the engine reports the unreadable file where it is used
        };
        let as_object = hook_runner::yaml::load_str(&text, &path.display().to_string())
            .map(|node| node.to_value())
            .ok()
            .filter(|v| v.get("data").is_some() || v.get("stringData").is_some());
        match as_object {
            Some(secret) => redact::global().add_secret_object(&secret),
            None => {
                // A raw file becomes the Secret's `data.key`: base64 of the exact bytes.
                redact::global().add_secret(text.trim());
                redact::global().add_secret(&STANDARD.encode(text.as_bytes()));
            }
        }
    }
}

/// The console (or JSON lines), the runner artifacts in the ansible-runner form, and the
/// termination message.
fn build_reporter(invocation: &Invocation, keeper: SummaryKeeper) -> Box<dyn Reporter> {
    let verbosity = invocation.options.verbosity;
    let ident = invocation
        .runner
        .as_ref()
        .map(|r| r.ident.as_str())
        .unwrap_or("");
    let mut reporters: Vec<Box<dyn Reporter>> =
        vec![match (invocation.log_format, &invocation.adhoc) {
            (LogFormat::Human, Some(adhoc)) => Box::new(AdHocConsole::stdio(adhoc.one_line)),
            (LogFormat::Human, None) if invocation.as_ansible_playbook => {
                Box::new(Console::stdio(verbosity).without_closing_summary())
            }
            (LogFormat::Human, None) => Box::new(Console::stdio(verbosity)),
            (LogFormat::Json, _) => Box::new(JsonLines::stdout(ident, verbosity)),
        }];
    if let Some(runner) = &invocation.runner {
        let argv: Vec<String> = std::env::args().collect();
        match Artifacts::create(&runner.private_data_dir, &runner.ident, &argv, verbosity) {
            Ok(artifacts) => reporters.push(Box::new(artifacts)),
            Err(e) => tracing::warn!(
                "cannot create the runner artifacts in {}: {e}",
                runner.private_data_dir.display()
            ),
        }
    }
    if let Some(events) = event_log(verbosity) {
        reporters.push(Box::new(events));
    }
    reporters.push(Box::new(TerminationLog::new(
        invocation.termination_log.clone(),
    )));
    reporters.push(Box::new(keeper));
    Box::new(Fanout(reporters))
}

/// `HOOK_RUNNER_EVENT_LOG=DIR`: the run's JSON events also go to a new file in DIR
/// (`<nanoseconds>-<pid>.jsonl`), whatever the console shows; a harness that runs hook-runner
/// through someone else's script (as `ansible-playbook` or `ansible`) reads each run's events
/// there. A DIR that cannot be written is a warning, not a failed run.
fn event_log(verbosity: u8) -> Option<JsonLines> {
    let dir = std::env::var_os("HOOK_RUNNER_EVENT_LOG")?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let path = std::path::Path::new(&dir).join(format!("{stamp}-{}.jsonl", std::process::id()));
    match std::fs::File::create(&path) {
        Ok(file) => Some(JsonLines::new(
            "",
            verbosity,
            Box::new(file),
            redact::global().clone(),
        )),
        Err(e) => {
            tracing::warn!("cannot write the event log {}: {e}", path.display());
            None
        }
    }
}

/// Human logs on stderr (warnings by default, debug at `-vvv`, trace at `-vvvv`; `RUST_LOG`
/// overrides), JSON lines with `--log-format json`; redacted like every other output.
fn init_tracing(verbosity: u8, format: LogFormat) {
    let default = match verbosity {
        0..=2 => "warn",
        3 => "hook_runner=debug,warn",
        _ => "hook_runner=trace,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // No colour codes in pod logs (`oc logs`): only when stderr is a terminal.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_writer(|| redact::RedactingStderr)
        .with_ansi(ansi)
        .with_env_filter(filter);
    let _ = match format {
        LogFormat::Human => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Forwards events and remembers the exit code of the run's end once reported, so it is
/// reported exactly once whoever ends the run (the engine, `main`, or the signal watchdog), and
/// the process exits with the code the reports show.
struct EndTracker {
    inner: Box<dyn Reporter>,
    reported: Mutex<Option<i32>>,
    /// Why an interrupted run stopped, when it was not a signal (`--timeout`).
    reason: Mutex<Option<String>>,
}

impl EndTracker {
    fn new(inner: Box<dyn Reporter>) -> Self {
        EndTracker {
            inner,
            reported: Mutex::new(None),
            reason: Mutex::new(None),
        }
    }

    fn set_reason(&self, reason: String) {
        if let Ok(mut r) = self.reason.lock() {
            *r = Some(reason);
        }
    }

    /// Reports the end unless it was reported already.
    fn end(&self, rc: i32, error: Option<String>) {
        self.event(&Event::PlaybookEnd { rc, error });
    }

    fn reported_rc(&self) -> Option<i32> {
        self.reported.lock().ok().and_then(|r| *r)
    }
}

impl Reporter for EndTracker {
    fn event(&self, event: &Event) {
        if let Event::PlaybookEnd { rc, .. } = event {
            let Ok(mut reported) = self.reported.lock() else {
                return;
            };
            if reported.is_some() {
                return;
            }
            *reported = Some(*rc);
            let reason = self.reason.lock().ok().and_then(|r| r.clone());
            if let (hook_runner::report::EXIT_INTERRUPTED, Some(reason)) = (*rc, reason) {
                self.inner.event(&Event::PlaybookEnd {
                    rc: *rc,
                    error: Some(reason),
                });
                return;
            }
        }
        self.inner.event(event);
    }
}

/// Only a real run inside a pod posts an Event on it.
fn wants_pod_event(options: &RunOptions) -> bool {
    options.mode == Mode::Run
        && options.action == Action::Run
        && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
}

/// `HookSucceeded`/`HookFailed` on this pod, best effort (see `report::pod_event`).
async fn post_pod_event(summary: &RunSummary) {
    let dir = std::path::Path::new(hook_runner::kube::SERVICE_ACCOUNT_DIR);
    let Some((pod, namespace)) = pod_event::current_pod(dir) else {
        tracing::debug!("no pod name or namespace: no Event posted");
        return;
    };
    match ApiCluster::in_cluster() {
        Ok(cluster) => {
            let spec = pod_event::event_spec(summary, &pod, &namespace, redact::global());
            pod_event::post(&cluster, &spec).await;
        }
        Err(e) => tracing::debug!("no Event posted: {e}"),
    }
}

/// On SIGTERM/SIGINT: mark the run interrupted and cancel the engine; exit 99 if it has not
/// stopped within [`CANCEL_GRACE`] or on a second signal.
fn watch_signals(reporter: Arc<EndTracker>, interrupted: Arc<AtomicBool>, cancel: Cancel) {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                tracing::warn!("cannot watch SIGTERM/SIGINT: no signal runtime");
                return;
            };
            runtime.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    tracing::warn!("cannot watch SIGTERM/SIGINT");
                    return;
                };
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received: stopping"),
                    _ = int.recv() => tracing::info!("SIGINT received: stopping"),
                }
                interrupted.store(true, Ordering::SeqCst);
                cancel.cancel();
                tokio::select! {
                    _ = tokio::time::sleep(CANCEL_GRACE) => {}
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                reporter.end(
                    hook_runner::report::EXIT_INTERRUPTED,
                    Some(INTERRUPTED.to_string()),
                );
                // Exit with what the reports say (the run may have ended on its own meanwhile).
                std::process::exit(
                    reporter
                        .reported_rc()
                        .unwrap_or(hook_runner::report::EXIT_INTERRUPTED),
                );
            });
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot watch SIGTERM/SIGINT: {e}");
    }
}
