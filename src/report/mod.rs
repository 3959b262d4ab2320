//! What happened during a run, as a stream of events, and the places it is reported to.
//!
//! The engine emits [`Event`]s in order (the shape follows ansible-runner's event stream);
//! reporters render them: the console in Ansible's shape, JSON lines, runner artifacts, the
//! termination message. A reporter never sees a secret: the engine redacts `no_log` results
//! before emitting them.

use crate::{Map, Value};

pub mod artifacts;
pub mod console;
pub mod json;
pub mod pod_event;
pub mod redact;
pub mod summary;
pub mod termination;

// Exit codes, as ansible-playbook's.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_FAILED: i32 = 2;
pub const EXIT_UNREACHABLE: i32 = 4;
pub const EXIT_PARSE: i32 = 4;
pub const EXIT_OPTIONS: i32 = 5;
/// SIGINT, or SIGTERM at the pod's deadline (status `canceled`), or `--timeout` (`timeout`).
pub const EXIT_INTERRUPTED: i32 = 99;

/// A result key set (by the module or the engine) when the task runs in diff mode: only then
/// is its `diff` printed, as Ansible prints diffs only with `--diff` or the `diff` keyword.
pub const DIFF_MODE_KEY: &str = "_ansible_diff";

/// A loop's aggregate result: `results` holds one result per item, each naming its loop var.
/// (A module may return its own `results` list, e.g. `dnf`; those items are not results.)
pub fn is_loop_result(result: &Map) -> bool {
    match result.get("results") {
        Some(Value::Array(items)) => items.iter().all(|i| i.get("ansible_loop_var").is_some()),
        _ => false,
    }
}

/// Where a task comes from, for headers and failure summaries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskInfo {
    /// The task's name as Ansible prints it (`name`, else the module's short name, with the
    /// `role : ` prefix for role tasks).
    pub name: String,
    /// The module (action) as written (`ansible.builtin.copy`).
    pub action: String,
    /// `playbook.yml:12` (the task's position).
    pub path: String,
    pub is_handler: bool,
    /// Unique id of this task in the run (for artifacts).
    pub uuid: String,
}

/// How one host's result ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Changed,
    Failed,
    /// Failed but `ignore_errors: true` (`...ignoring`).
    Ignored,
    Skipped,
    Unreachable,
}

/// Counters for the PLAY RECAP, per host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostStats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    PlaybookStart {
        playbook: String,
    },
    PlayStart {
        name: String,
        pattern: String,
        uuid: String,
    },
    /// A play whose pattern matched no host: `skipping: no hosts matched`.
    NoHostsMatched,
    /// Every host of the play failed: `NO MORE HOSTS LEFT`.
    NoMoreHosts,
    TaskStart {
        task: TaskInfo,
    },
    /// A host's result for a task; for loops, one per item (`item` set) and then the
    /// aggregate (`results` in `result`) with `item: None`.
    HostResult {
        host: String,
        task: TaskInfo,
        status: Status,
        result: Map,
        item: Option<Value>,
        /// `delegate_to` target, printed as `[host -> other]`.
        delegated_to: Option<String>,
    },
    /// `include_tasks`/`include_role` loaded `file` for these hosts:
    /// `included: /path/file.yml for host1, host2`.
    Included {
        task: TaskInfo,
        file: String,
        hosts: Vec<String>,
    },
    /// `RUNNING HANDLER [name]` header.
    HandlerStart {
        task: TaskInfo,
    },
    /// `FAILED - RETRYING: [host]: name (N retries left).`
    Retry {
        host: String,
        task: TaskInfo,
        retries_left: u32,
        result: Map,
    },
    Warning {
        message: String,
    },
    /// Text printed as is on stdout, one line per event (`--list-tasks`, `--list-hosts`,
    /// `--list-tags`, `--syntax-check`'s `playbook: file`): `line` without its newline.
    Output {
        line: String,
    },
    /// The recap, host names in order of first appearance (the console sorts as Ansible does).
    Stats {
        hosts: Vec<(String, HostStats)>,
    },
    /// The run ended with this exit code (ansible-playbook's codes) and, on an error outside
    /// tasks (bad playbook, interrupted), a message.
    PlaybookEnd {
        rc: i32,
        error: Option<String>,
    },
}

/// A sink for events. Called from one task at a time, in order.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);
}

/// Sends each event to several reporters, after registering any Secret in it with the global
/// redactor.
pub struct Fanout(pub Vec<Box<dyn Reporter>>);

impl Reporter for Fanout {
    fn event(&self, event: &Event) {
        // A Secret read by a task (k8s_info) is registered before any reporter shows it.
        if let Event::HostResult { result, .. } = event {
            redact::global().learn_secrets_in(&Value::Object(result.clone()));
        }
        for reporter in &self.0 {
            reporter.event(event);
        }
    }
}
