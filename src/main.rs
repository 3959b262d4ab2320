//! hook-runner's entry point: parse the command line ([`hook_runner::cli`]), set up logging and
//! the reporters, run the playbook with the engine, and exit with ansible-playbook's code.
//!
//! SIGTERM (the hook pod's `activeDeadlineSeconds`) and SIGINT ask the engine to stop: no new
//! task starts and running commands are ended. The run then ends with exit code 99 and
//! ansible-playbook's "User interrupted execution". If the engine has not returned
//! [`CANCEL_GRACE`] after the signal (or a second signal arrives), the process reports the
//! interruption and exits 99 anyway: the pod's grace period must not run out with nothing said.

use hook_runner::cli::{self, Invocation, LogFormat};
use hook_runner::engine::{Mode, RunOptions};
use hook_runner::report::console::Console;
use hook_runner::report::json::JsonLines;
use hook_runner::report::redact;
use hook_runner::report::summary::RC_INTERRUPTED;
use hook_runner::report::{Event, Fanout, Reporter};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long the engine gets to stop after SIGTERM/SIGINT before the process exits on its own.
const CANCEL_GRACE: Duration = Duration::from_secs(4);

/// ansible-playbook's words for an interrupted run.
const INTERRUPTED: &str = "User interrupted execution";

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let invocation = match cli::parse(std::env::args_os().collect()) {
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
    init_tracing(invocation.options.verbosity, invocation.log_format);
    if let Err(message) = prepare(&invocation) {
        eprintln!("ERROR! {message}");
        return 1;
    }
    register_secret_files(&invocation.options);

    let reporter = Arc::new(EndTracker::new(build_reporter(&invocation)));
    let interrupted = Arc::new(AtomicBool::new(false));
    watch_signals(reporter.clone(), interrupted.clone());

    let rc = engine_link::run_playbook(&invocation.options, reporter.as_ref());
    let rc = if interrupted.load(Ordering::SeqCst) {
        RC_INTERRUPTED
    } else {
        rc
    };
    let error = (rc == RC_INTERRUPTED).then(|| INTERRUPTED.to_string());
    reporter.end(rc, error);

    if let Some(dir) = &invocation.write_example_to {
        let _ = std::fs::remove_dir_all(dir);
    }
    rc
}

/// The engine's entry points. `engine::run_playbook` and its cancel hook are written in
/// parallel with this file; until they exist this build says so clearly and exits 1.
mod engine_link {
    use super::*;

    pub fn run_playbook(_options: &RunOptions, reporter: &dyn Reporter) -> i32 {
        reporter.event(&Event::PlaybookEnd {
            rc: 1,
            error: Some("this build of hook-runner has no playbook engine yet (engine::run_playbook is missing)".into()),
        });
        1
    }

    /// Asks the running engine to stop (no new task, running commands ended).
    pub fn cancel() {}
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
            None => redact::global().add_secret(text.trim()),
        }
    }
}

fn build_reporter(invocation: &Invocation) -> Box<dyn Reporter> {
    let verbosity = invocation.options.verbosity;
    let primary: Box<dyn Reporter> = match invocation.log_format {
        LogFormat::Human => Box::new(Console::stdio(verbosity)),
        LogFormat::Json => {
            let ident = invocation
                .runner
                .as_ref()
                .map(|r| r.ident.as_str())
                .unwrap_or("");
            Box::new(JsonLines::stdout(ident, verbosity))
        }
    };
    Box::new(Fanout(vec![primary]))
}

/// Human logs on stderr (warnings by default, debug at `-vvv`, trace at `-vvvv`; `RUST_LOG`
/// overrides), JSON lines with `--log-format json`.
fn init_tracing(verbosity: u8, format: LogFormat) {
    let default = match verbosity {
        0..=2 => "warn",
        3 => "hook_runner=debug,warn",
        _ => "hook_runner=trace,info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let _ = match format {
        LogFormat::Human => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Forwards events and remembers whether the run's end was reported, so it is reported
/// exactly once whoever ends the run (the engine, `main`, or the signal watchdog).
struct EndTracker {
    inner: Box<dyn Reporter>,
    ended: AtomicBool,
}

impl EndTracker {
    fn new(inner: Box<dyn Reporter>) -> Self {
        EndTracker {
            inner,
            ended: AtomicBool::new(false),
        }
    }

    fn end(&self, rc: i32, error: Option<String>) {
        if !self.ended.swap(true, Ordering::SeqCst) {
            self.inner.event(&Event::PlaybookEnd { rc, error });
        }
    }
}

impl Reporter for EndTracker {
    fn event(&self, event: &Event) {
        if let Event::PlaybookEnd { .. } = event {
            if self.ended.swap(true, Ordering::SeqCst) {
                return;
            }
        }
        self.inner.event(event);
    }
}

/// On SIGTERM/SIGINT: mark the run interrupted and cancel the engine; exit 99 if it has not
/// stopped within [`CANCEL_GRACE`] or on a second signal.
fn watch_signals(reporter: Arc<EndTracker>, interrupted: Arc<AtomicBool>) {
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
                engine_link::cancel();
                tokio::select! {
                    _ = tokio::time::sleep(CANCEL_GRACE) => {}
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                reporter.end(RC_INTERRUPTED, Some(INTERRUPTED.to_string()));
                std::process::exit(RC_INTERRUPTED);
            });
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot watch SIGTERM/SIGINT: {e}");
    }
}
