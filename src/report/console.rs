//! The console, in the shape of ansible-playbook 2.18's `default` stdout callback.
//!
//! Pod logs are what MTV users read, and they know Ansible's output, so hook-runner prints the
//! same lines (checked against real `ansible-playbook` 2.18 runs, see the tests):
//!
//! - Banners: a blank line, then `PLAY [name] `, `TASK [name] `, `RUNNING HANDLER [name] `,
//!   `PLAY RECAP ` padded with `*` so the line is 80 columns (`79 - len` stars, at least 3):
//!   there is no terminal in a pod, and Ansible uses 80 columns then.
//! - Results: `ok: [h]`, `changed: [h]`, `skipping: [h]`, `fatal: [h]: FAILED! => {json}`,
//!   `fatal: [h]: UNREACHABLE! => {json}`, then `...ignoring` when errors are ignored;
//!   `[h -> other]` for `delegate_to`. Loop items: `ok: [h] => (item=label)`,
//!   `failed: [h] (item=label) => {json}`, `skipping: [h] => (item=label) ` (Ansible leaves the
//!   trailing space); the loop's aggregate result prints nothing, except `skipping: [h]` when
//!   every item was skipped and `...ignoring`.
//! - JSON is Python's `json.dumps(sort_keys=True)` ([`crate::py::json_dumps`]) of the result without
//!   internal keys (`_ansible_*`, `failed`, `skipped`, `invocation` below `-vvv`, `diff`,
//!   `exception`, `warnings`). It is printed for failures always, for ok/changed/skipped with
//!   `-v`, and for `debug` always, indented by 4 (`-vvv` indents everything).
//! - `--diff`: a changed result's `diff` is printed before its line as a unified diff
//!   ([`file_diff`]); the engine includes `diff` in results only in diff mode.
//! - Dry-run results (`dry_run: true`, `would_run`) get a `    would run: module k=v ...` line
//!   below their status line (hook-runner's own; ansible-playbook has no offline mode).
//! - `[WARNING]: ...` lines (wrapped at 79 columns) and errors go to stderr, as Ansible does.
//! - `PLAY RECAP`: one line per host sorted by name, `%-26s : ok=%-4s changed=%-4s ...`
//!   (with Ansible's trailing spaces), then a blank line.
//!
//! After the recap, a failed run gets hook-runner's summary block ([`super::summary`]).
//! All text passes through the [`Redactor`] before it is written.

use super::redact::{self, Redactor};
use super::summary::SummaryCollector;
use super::{
    is_loop_result, Event, HostStats, Reporter, Status, TaskInfo, DIFF_MODE_KEY, EXIT_INTERRUPTED,
};
use crate::{Map, Value};
use std::io::Write;
use std::sync::Mutex;

/// Width Ansible uses without a terminal: banners are `COLUMNS - 1` wide before the final star.
const COLUMNS: usize = 79;

/// What no_log results show, in Ansible's words.
pub const CENSORED: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// One event's text: what goes to stdout and what goes to stderr.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rendered {
    pub stdout: String,
    pub stderr: String,
}

/// Turns events into Ansible's console text. Stateful: it remembers which task banner was
/// printed last, as Ansible's callback does, to print it again when results interleave.
#[derive(Debug, Clone, Default)]
pub struct Renderer {
    verbosity: u8,
    last_banner: Option<String>,
}

impl Renderer {
    pub fn new(verbosity: u8) -> Self {
        Renderer {
            verbosity,
            last_banner: None,
        }
    }

    pub fn render(&mut self, event: &Event) -> Rendered {
        let mut r = Rendered::default();
        match event {
            Event::PlaybookStart { .. } => {
                if self.verbosity > 0 {
                    r.stdout.push_str("No config file found; using defaults\n");
                }
            }
            Event::PlayStart { name, pattern, .. } => {
                let name = if name.trim().is_empty() {
                    pattern
                } else {
                    name
                };
                r.stdout.push_str(&banner(&format!("PLAY [{name}]")));
                self.last_banner = None;
            }
            Event::NoHostsMatched => r.stdout.push_str("skipping: no hosts matched\n"),
            Event::NoMoreHosts => r.stdout.push_str(&banner("NO MORE HOSTS LEFT")),
            Event::TaskStart { task } => r.stdout.push_str(&self.task_banner(task)),
            Event::HandlerStart { task } => {
                let handler = TaskInfo {
                    is_handler: true,
                    ..task.clone()
                };
                r.stdout.push_str(&self.task_banner(&handler));
            }
            Event::Included { task, file, hosts } => {
                self.ensure_banner(&mut r.stdout, task);
                r.stdout
                    .push_str(&format!("included: {file} for {}\n", hosts.join(", ")));
            }
            Event::HostResult {
                host,
                task,
                status,
                result,
                item,
                delegated_to,
            } => {
                self.ensure_banner(&mut r.stdout, task);
                let label = host_label(host, delegated_to.as_deref(), result);
                let hosts = HostNames {
                    host,
                    label: &label,
                };
                self.host_result(&mut r, hosts, task, *status, result, item.as_ref());
            }
            Event::Retry {
                host,
                task,
                retries_left,
                result,
            } => {
                r.stdout.push_str(&format!(
                    "FAILED - RETRYING: [{host}]: {} ({retries_left} retries left).",
                    task.name
                ));
                // Ansible shows the failed attempt from -vvv on, glued to the sentence.
                if self.verbosity > 2 {
                    let shown = clean_result(result, &task.action, self.verbosity);
                    let json = self.dump(&shown, result, &task.action);
                    r.stdout.push_str(&format!("Result was: {json}"));
                }
                r.stdout.push('\n');
            }
            Event::Warning { message } => r.stderr.push_str(&warning(message)),
            Event::Output { line } => {
                r.stdout.push_str(line);
                r.stdout.push('\n');
            }
            Event::Stats { hosts, .. } => r.stdout.push_str(&recap(hosts)),
            Event::PlaybookEnd { rc, error } => {
                if let Some(error) = error {
                    if *rc == EXIT_INTERRUPTED {
                        r.stderr.push_str(&format!(" [ERROR]: {error}\n"));
                    } else {
                        r.stderr.push_str(&format!("ERROR! {error}\n"));
                    }
                }
            }
        }
        r
    }

    fn task_banner(&mut self, task: &TaskInfo) -> String {
        self.last_banner = Some(banner_key(task));
        let kind = if task.is_handler {
            "RUNNING HANDLER"
        } else {
            "TASK"
        };
        let mut text = banner(&format!("{kind} [{}]", task.name));
        if self.verbosity >= 2 && !task.path.is_empty() {
            text.push_str(&format!("task path: {}\n", task.path));
        }
        text
    }

    fn ensure_banner(&mut self, out: &mut String, task: &TaskInfo) {
        if self.last_banner.as_deref() != Some(banner_key(task).as_str()) {
            out.push_str(&self.task_banner(task));
        }
    }

    fn host_result(
        &self,
        r: &mut Rendered,
        hosts: HostNames,
        task: &TaskInfo,
        status: Status,
        result: &Map,
        item: Option<&Value>,
    ) {
        for w in string_list(result.get("warnings")) {
            r.stderr.push_str(&warning(&w));
        }
        for d in deprecations(result.get("deprecations")) {
            r.stderr.push_str(&format!("[DEPRECATION WARNING]: {d}\n"));
        }
        if item.is_none() && flag(result, "changed") && flag(result, DIFF_MODE_KEY) {
            r.stdout.push_str(&file_diff(result.get("diff")));
        }
        let shown = clean_result(result, &task.action, self.verbosity);
        let line = HostLine {
            hosts,
            changed: status == Status::Changed || flag(result, "changed"),
            json: self.dump(&shown, result, &task.action),
            verbose: self.is_verbose(result, &task.action),
        };
        let text = match item {
            Some(item) => Some(line.item(status, &item_label(result, item))),
            None if is_loop_result(result) => {
                // The items were printed; a fully skipped loop still says so, without `results`.
                let mut shown = shown.clone();
                shown.remove("results");
                let json = self.dump(&shown, result, &task.action);
                let line = HostLine {
                    json,
                    verbose: self.verbosity > 0,
                    ..line
                };
                line.loop_aggregate(status)
            }
            None if is_include(&task.action) && matches!(status, Status::Ok | Status::Changed) => {
                None
            }
            None => Some(line.plain(status)),
        };
        if let Some(text) = text {
            r.stdout.push_str(&text);
            r.stdout.push('\n');
            if !self.is_verbose(result, &task.action) {
                r.stdout.push_str(&would_run_line(result));
            }
        }
        if item.is_none() && status == Status::Ignored {
            r.stdout.push_str("...ignoring\n");
        }
    }

    /// Ansible's `_run_is_verbose`: `-v`, or a result that asks to be shown (`debug`).
    fn is_verbose(&self, result: &Map, action: &str) -> bool {
        (self.verbosity > 0 || verbose_always(result, action))
            && !flag(result, "_ansible_verbose_override")
    }

    /// Ansible's `_dump_results`: indented by 4 for `debug`-like results and at `-vvv`.
    fn dump(&self, shown: &Map, raw: &Map, action: &str) -> String {
        let indent = verbose_always(raw, action) || self.verbosity > 2;
        crate::py::json_dumps(
            &Value::Object(shown.clone()),
            indent.then_some(4),
            true,
            false,
        )
    }
}

/// Results flagged `_ansible_verbose_always` (`assert` unless `quiet`) are always shown,
/// indented; so are `debug`'s own results, which Ansible's debug flags so. A skipped or failed
/// `debug` result (a false `when`, an argument that did not template) is not debug's own, and
/// Ansible prints it as any other task's.
fn verbose_always(result: &Map, action: &str) -> bool {
    flag(result, "_ansible_verbose_always")
        || (is_debug(action) && !flag(result, "skipped") && !flag(result, "failed"))
}

/// One host's result line, with its JSON ready in case the line shows it.
struct HostLine<'a> {
    hosts: HostNames<'a>,
    changed: bool,
    json: String,
    verbose: bool,
}

impl HostLine<'_> {
    fn ok_word(&self) -> &'static str {
        if self.changed {
            "changed"
        } else {
            "ok"
        }
    }

    fn with_json(&self, line: String) -> String {
        if self.verbose {
            format!("{line} => {}", self.json)
        } else {
            line
        }
    }

    fn plain(&self, status: Status) -> String {
        let (host, name) = (self.hosts.label, self.hosts.host);
        match status {
            Status::Ok | Status::Changed => self.with_json(format!("{}: [{host}]", self.ok_word())),
            Status::Skipped => self.with_json(format!("skipping: [{name}]")),
            Status::Failed | Status::Ignored => {
                format!("fatal: [{host}]: FAILED! => {}", self.json)
            }
            Status::Unreachable => format!("fatal: [{host}]: UNREACHABLE! => {}", self.json),
        }
    }

    fn item(&self, status: Status, label: &str) -> String {
        let (host, name) = (self.hosts.label, self.hosts.host);
        match status {
            Status::Ok | Status::Changed => {
                self.with_json(format!("{}: [{host}] => (item={label})", self.ok_word()))
            }
            Status::Skipped => self.with_json(format!("skipping: [{name}] => (item={label}) ")),
            Status::Failed | Status::Ignored => {
                format!("failed: [{host}] (item={label}) => {}", self.json)
            }
            Status::Unreachable => {
                format!(
                    "fatal: [{host}]: UNREACHABLE! => (item={label}) => {}",
                    self.json
                )
            }
        }
    }

    /// The aggregate of a loop prints nothing but a whole skip or an unreachable host.
    fn loop_aggregate(&self, status: Status) -> Option<String> {
        match status {
            Status::Skipped | Status::Unreachable => Some(self.plain(status)),
            _ => None,
        }
    }
}

/// `--diff` output for a changed result's `diff` (one or a list of `before`/`after` pairs with
/// optional `before_header`/`after_header`, or a `prepared` text), as Ansible's callback
/// prints it before the result line: a unified diff with 3 lines of context, then a blank line.
/// Non-text `before`/`after` (the `file` module's state dicts) are shown as indented JSON.
pub fn file_diff(diff: Option<&Value>) -> String {
    let diffs: Vec<&Value> = match diff {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return String::new(),
    };
    let mut out = String::new();
    for diff in diffs {
        for (key, what) in [
            ("dst_binary", "destination file appears to be binary"),
            ("src_binary", "source file appears to be binary"),
        ] {
            if flag_value(diff.get(key)) {
                out.push_str(&format!("diff skipped: {what}\n"));
            }
        }
        for (key, what) in [("dst_larger", "destination"), ("src_larger", "source")] {
            if let Some(size) = diff.get(key).filter(|v| !v.is_null()) {
                out.push_str(&format!(
                    "diff skipped: {what} file size is greater than {size}\n"
                ));
            }
        }
        if let (Some(before), Some(after)) = (diff.get("before"), diff.get("after")) {
            let header = |key: &str, word: &str| match diff.get(key).and_then(Value::as_str) {
                Some(h) => format!("{word}: {h}"),
                None => word.to_string(),
            };
            let (before, after) = (diff_text(before), diff_text(after));
            let unified = similar::TextDiff::from_lines(&before, &after)
                .unified_diff()
                .context_radius(3)
                .header(
                    &header("before_header", "before"),
                    &header("after_header", "after"),
                )
                .to_string();
            if !unified.is_empty() {
                out.push_str(&unified);
                out.push('\n');
            }
        }
        if let Some(prepared) = diff.get("prepared").and_then(Value::as_str) {
            out.push_str(prepared);
        }
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn flag_value(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool) == Some(true)
}

fn diff_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => format!("{}\n", crate::py::json_dumps(other, Some(4), true, false)),
    }
}

/// Longest argument value shown in a dry-run line.
const MAX_SHOWN_ARG: usize = 60;

/// In a dry-run, what the task would have run on the host, below its `ok:` line (at `-v`
/// the whole result, `would_run` included, is printed instead):
/// `    would run: ansible.builtin.service name=mariadb state=stopped`.
/// Not part of Ansible's output: ansible-playbook has no offline mode.
fn would_run_line(result: &Map) -> String {
    let Some(would_run) = result.get("would_run").filter(|_| flag(result, "dry_run")) else {
        return String::new();
    };
    let module = would_run
        .get("module")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let mut line = format!("    would run: {module}");
    if let Some(args) = would_run.get("args").and_then(Value::as_object) {
        for (key, value) in args.iter().filter(|(k, _)| !k.starts_with('_')) {
            line.push(' ');
            line.push_str(key);
            line.push('=');
            line.push_str(&shown_arg(value));
        }
    }
    line.push('\n');
    line
}

fn shown_arg(value: &Value) -> String {
    let text = match value {
        Value::String(s) if !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '\'') => {
            s.clone()
        }
        other => crate::py::json_dumps(other, None, true, false),
    };
    if text.chars().count() > MAX_SHOWN_ARG {
        let cut: String = text.chars().take(MAX_SHOWN_ARG).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// `TASK [...]` is printed again when a result arrives for another task than the last banner.
fn banner_key(task: &TaskInfo) -> String {
    if task.uuid.is_empty() {
        format!("{}\0{}", task.name, task.path)
    } else {
        task.uuid.clone()
    }
}

/// `\nTITLE ****...` with the title padded to 80 columns by at least three stars.
pub fn banner(title: &str) -> String {
    let title = title.trim();
    let stars = COLUMNS.saturating_sub(title.chars().count()).max(3);
    format!("\n{title} {}\n", "*".repeat(stars))
}

/// `host -> delegate`, plus `(address)` when the delegate's `ansible_host` differs from its
/// name (from the result's `_ansible_delegated_vars`, as Ansible reports it).
fn host_label(host: &str, delegated_to: Option<&str>, result: &Map) -> String {
    match delegated_to {
        Some(other) if other != host => {
            let address = result
                .get("_ansible_delegated_vars")
                .and_then(|v| v.get("ansible_host"))
                .and_then(Value::as_str)
                .filter(|a| *a != other);
            match address {
                Some(address) => format!("{host} -> {other}({address})"),
                None => format!("{host} -> {other}"),
            }
        }
        _ => host.to_string(),
    }
}

/// The host's own name (skip lines use it) and its label with delegation (other lines).
#[derive(Clone, Copy)]
struct HostNames<'a> {
    host: &'a str,
    label: &'a str,
}

fn flag(result: &Map, key: &str) -> bool {
    result.get(key).and_then(Value::as_bool) == Some(true)
}

fn short_action(action: &str) -> &str {
    action.rsplit('.').next().unwrap_or(action)
}

fn is_debug(action: &str) -> bool {
    matches!(
        action,
        "debug" | "ansible.builtin.debug" | "ansible.legacy.debug"
    )
}

fn is_include(action: &str) -> bool {
    matches!(
        short_action(action),
        "include_tasks" | "include_role" | "include"
    )
}

fn item_label(result: &Map, item: &Value) -> String {
    if flag(result, "_ansible_no_log") {
        return "(censored due to no_log)".into();
    }
    crate::py::str(result.get("_ansible_item_label").unwrap_or(item))
}

/// The result as Ansible's callback shows it: internal keys and what is shown elsewhere removed,
/// no_log results censored.
pub fn clean_result(result: &Map, action: &str, verbosity: u8) -> Map {
    if flag(result, "_ansible_no_log") && !result.contains_key("censored") {
        let mut censored = Map::new();
        censored.insert("censored".into(), Value::String(CENSORED.into()));
        censored.insert("changed".into(), Value::Bool(flag(result, "changed")));
        return censored;
    }
    let mut shown: Map = result
        .iter()
        .filter(|(k, _)| !k.starts_with("_ansible"))
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "failed" | "skipped" | "exception" | "warnings" | "deprecations"
            )
        })
        .filter(|(k, _)| verbosity >= 3 || !matches!(k.as_str(), "invocation" | "diff"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if is_debug(action) {
        // `debug` shows its message alone, or the variable it was asked for.
        if shown.contains_key("msg") {
            shown.retain(|k, _| k == "msg");
        } else {
            for key in ["changed", "invocation", "skip_reason"] {
                shown.remove(key);
            }
        }
    }
    shown
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().map(crate::py::str).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn deprecations(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .map(|d| {
                d.get("msg")
                    .map(crate::py::str)
                    .unwrap_or_else(|| crate::py::str(d))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `[WARNING]: message`, wrapped at 79 columns like Python's `textwrap.wrap`.
pub fn warning(message: &str) -> String {
    let mut out = String::new();
    for line in wrap(&format!("[WARNING]: {message}"), COLUMNS) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        let line_len = line.chars().count();
        if line_len > 0 && line_len + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        // A word longer than a line is cut, as textwrap's break_long_words does.
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.extend(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `PLAY RECAP` with one line per host, sorted by name, and the blank line Ansible ends with.
pub fn recap(hosts: &[(String, HostStats)]) -> String {
    let mut sorted: Vec<&(String, HostStats)> = hosts.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = banner("PLAY RECAP");
    for (host, s) in sorted {
        out.push_str(&format!(
            "{host:<26} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={:<4}\n",
            s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
        ));
    }
    out.push('\n');
    out
}

/// The console reporter: Ansible's output on stdout/stderr, the failure summary after the recap.
pub struct Console {
    state: Mutex<ConsoleState>,
    redactor: Redactor,
}

struct ConsoleState {
    renderer: Renderer,
    summary: SummaryCollector,
    /// hook-runner's closing summary after the recap (off in the `ansible-playbook` form).
    closing_summary: bool,
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
}

impl Console {
    /// Without hook-runner's closing summary: exactly ansible-playbook's output, for the
    /// binary called as `ansible-playbook` (scripts count lines of that output).
    pub fn without_closing_summary(self) -> Self {
        if let Ok(mut state) = self.state.lock() {
            state.closing_summary = false;
        }
        self
    }

    /// Prints to the process's stdout and stderr, redacting with the global redactor.
    pub fn stdio(verbosity: u8) -> Self {
        Self::new(
            verbosity,
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            redact::global().clone(),
        )
    }

    pub fn new(
        verbosity: u8,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
        redactor: Redactor,
    ) -> Self {
        Console {
            state: Mutex::new(ConsoleState {
                renderer: Renderer::new(verbosity),
                summary: SummaryCollector::default(),
                closing_summary: true,
                out,
                err,
            }),
            redactor,
        }
    }
}

impl Reporter for Console {
    fn event(&self, event: &Event) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let state = &mut *state;
        state.summary.observe(event);
        let mut rendered = state.renderer.render(event);
        if let Event::PlaybookEnd { rc, error } = event {
            let summary = state.summary.finish(*rc, error.as_deref());
            if state.closing_summary {
                rendered.stdout.push_str(&summary.render_human());
            }
        }
        // A closed stdout (a pipe whose reader left) must not stop the run: ignore write errors.
        if !rendered.stderr.is_empty() {
            let _ = state.out.flush();
            let _ = state
                .err
                .write_all(self.redactor.redact(&rendered.stderr).as_bytes());
            let _ = state.err.flush();
        }
        if !rendered.stdout.is_empty() {
            let _ = state
                .out
                .write_all(self.redactor.redact(&rendered.stdout).as_bytes());
            let _ = state.out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(name: &str, action: &str, uuid: &str) -> TaskInfo {
        TaskInfo {
            name: name.into(),
            action: action.into(),
            path: "pb.yml:4".into(),
            is_handler: false,
            uuid: uuid.into(),
        }
    }

    fn res(v: Value) -> Map {
        v.as_object().cloned().unwrap()
    }

    fn result_event(
        host: &str,
        task: &TaskInfo,
        status: Status,
        result: Value,
        item: Option<Value>,
    ) -> Event {
        Event::HostResult {
            host: host.into(),
            task: task.clone(),
            status,
            result: res(result),
            item,
            delegated_to: None,
        }
    }

    /// Renders a sequence of events to stdout text, with a fresh renderer.
    fn render_all(verbosity: u8, events: &[Event]) -> String {
        let mut r = Renderer::new(verbosity);
        events.iter().map(|e| r.render(e).stdout).collect()
    }

    #[test]
    fn banners_are_padded_to_80_columns() {
        assert_eq!(
            banner("PLAY [Main]"),
            "\nPLAY [Main] ********************************************************************\n"
        );
        let long = "PLAY [Second play with a much longer name that goes on and on to exceed eighty columns wide]";
        assert_eq!(banner(long), format!("\n{long} ***\n"));
        assert_eq!(banner("TASK [Stop MariaDB]").trim().len(), 80);
    }

    // Golden text recorded from ansible-playbook [core 2.18.19] on this machine (no tty).
    #[test]
    fn matches_ansible_for_debug_changed_skipped_and_failed() {
        let hello = task("Say hello", "debug", "1");
        let touch = task("Touch", "command", "2");
        let skip = task("Skip me", "command", "3");
        let fail = task("Fail ignored", "fail", "4");
        let events = vec![
            Event::PlayStart {
                name: "Main".into(),
                pattern: "localhost".into(),
                uuid: "p".into(),
            },
            Event::TaskStart {
                task: hello.clone(),
            },
            result_event(
                "localhost",
                &hello,
                Status::Ok,
                json!({"msg": "hello", "changed": false, "_ansible_verbose_always": true}),
                None,
            ),
            Event::TaskStart {
                task: touch.clone(),
            },
            result_event(
                "localhost",
                &touch,
                Status::Changed,
                json!({"changed": true, "rc": 0}),
                None,
            ),
            Event::TaskStart { task: skip.clone() },
            result_event(
                "localhost",
                &skip,
                Status::Skipped,
                json!({"changed": false, "skipped": true, "skip_reason": "Conditional result was False"}),
                None,
            ),
            Event::TaskStart { task: fail.clone() },
            result_event(
                "localhost",
                &fail,
                Status::Ignored,
                json!({"changed": false, "failed": true, "msg": "boom"}),
                None,
            ),
        ];
        let expected = "
PLAY [Main] ********************************************************************

TASK [Say hello] ***************************************************************
ok: [localhost] => {
    \"msg\": \"hello\"
}

TASK [Touch] *******************************************************************
changed: [localhost]

TASK [Skip me] *****************************************************************
skipping: [localhost]

TASK [Fail ignored] ************************************************************
fatal: [localhost]: FAILED! => {\"changed\": false, \"msg\": \"boom\"}
...ignoring
";
        assert_eq!(render_all(0, &events), expected);
    }

    // Recorded from ansible-playbook [core 2.18.19]: `debug` with a false `when`, a `debug`
    // whose argument does not template, an assert that passes, a quiet one.
    #[test]
    fn only_debugs_own_and_flagged_results_are_shown_at_default_verbosity() {
        let skipped = task("debug", "debug", "1");
        let broken = task("debug", "ansible.builtin.debug", "2");
        let loud = task("assert", "assert", "3");
        let quiet = task("assert", "assert", "4");
        let mut events = Vec::new();
        for (t, status, result) in [
            (
                &skipped,
                Status::Skipped,
                json!({"changed": false, "skipped": true, "false_condition": false}),
            ),
            (
                &broken,
                Status::Ignored,
                json!({"failed": true, "msg": "'nope' is undefined"}),
            ),
            (
                &loud,
                Status::Ok,
                json!({"changed": false, "msg": "lockstep works", "_ansible_verbose_always": true}),
            ),
            (
                &quiet,
                Status::Ok,
                json!({"changed": false, "msg": "All assertions passed"}),
            ),
        ] {
            events.push(Event::TaskStart { task: t.clone() });
            events.push(result_event("localhost", t, status, result, None));
        }
        let expected = "
TASK [debug] *******************************************************************
skipping: [localhost]

TASK [debug] *******************************************************************
fatal: [localhost]: FAILED! => {\"msg\": \"'nope' is undefined\"}
...ignoring

TASK [assert] ******************************************************************
ok: [localhost] => {
    \"changed\": false,
    \"msg\": \"lockstep works\"
}

TASK [assert] ******************************************************************
ok: [localhost]
";
        assert_eq!(render_all(0, &events), expected);
    }

    #[test]
    fn matches_ansible_for_loops() {
        let label = task("Loop label", "command", "1");
        let dict = task("Loop dict item", "command", "2");
        let skip = task("Loop skip all", "command", "3");
        let lfail = task("Loop fail", "command", "4");
        let item_result = |item: Value, extra: Value| {
            let mut m = res(json!({"ansible_loop_var": "item", "item": item, "changed": false}));
            m.extend(res(extra));
            Value::Object(m)
        };
        let events = vec![
            Event::TaskStart {
                task: label.clone(),
            },
            result_event(
                "localhost",
                &label,
                Status::Ok,
                item_result(json!({"n": 1}), json!({"_ansible_item_label": 1})),
                Some(json!({"n": 1})),
            ),
            result_event(
                "localhost",
                &label,
                Status::Ok,
                item_result(json!({"n": 2}), json!({"_ansible_item_label": 2})),
                Some(json!({"n": 2})),
            ),
            result_event(
                "localhost",
                &label,
                Status::Ok,
                json!({"changed": false, "results": [{"ansible_loop_var": "item"}, {"ansible_loop_var": "item"}]}),
                None,
            ),
            Event::TaskStart { task: dict.clone() },
            result_event(
                "localhost",
                &dict,
                Status::Ok,
                item_result(json!({"n": 1, "s": "it's"}), json!({})),
                Some(json!({"n": 1, "s": "it's"})),
            ),
            Event::TaskStart { task: skip.clone() },
            result_event(
                "localhost",
                &skip,
                Status::Skipped,
                item_result(json!(1), json!({"skipped": true})),
                Some(json!(1)),
            ),
            result_event(
                "localhost",
                &skip,
                Status::Skipped,
                item_result(json!(2), json!({"skipped": true})),
                Some(json!(2)),
            ),
            result_event(
                "localhost",
                &skip,
                Status::Skipped,
                json!({"changed": false, "skipped": true, "results": [{"ansible_loop_var": "item"}]}),
                None,
            ),
            Event::TaskStart {
                task: lfail.clone(),
            },
            result_event(
                "localhost",
                &lfail,
                Status::Changed,
                item_result(json!("true"), json!({"changed": true})),
                Some(json!("true")),
            ),
            result_event(
                "localhost",
                &lfail,
                Status::Failed,
                item_result(
                    json!("false"),
                    json!({"changed": true, "failed": true, "cmd": ["false"], "msg": "non-zero return code", "rc": 1}),
                ),
                Some(json!("false")),
            ),
            result_event(
                "localhost",
                &lfail,
                Status::Ignored,
                json!({"changed": true, "failed": true, "msg": "One or more items failed", "results": []}),
                None,
            ),
        ];
        let expected = "
TASK [Loop label] **************************************************************
ok: [localhost] => (item=1)
ok: [localhost] => (item=2)

TASK [Loop dict item] **********************************************************
ok: [localhost] => (item={'n': 1, 's': \"it's\"})

TASK [Loop skip all] ***********************************************************
skipping: [localhost] => (item=1) 
skipping: [localhost] => (item=2) 
skipping: [localhost]

TASK [Loop fail] ***************************************************************
changed: [localhost] => (item=true)
failed: [localhost] (item=false) => {\"ansible_loop_var\": \"item\", \"changed\": true, \"cmd\": [\"false\"], \"item\": \"false\", \"msg\": \"non-zero return code\", \"rc\": 1}
...ignoring
";
        assert_eq!(render_all(0, &events), expected);
    }

    #[test]
    fn matches_ansible_for_verbose_results_and_debug_loops() {
        let t = task("ok task", "set_fact", "1");
        let skip = task("Skip me", "command", "2");
        let dl = task("Loop", "ansible.builtin.debug", "3");
        let events = vec![
            Event::TaskStart { task: t.clone() },
            result_event(
                "localhost",
                &t,
                Status::Ok,
                json!({"changed": false, "ansible_facts": {"x": 1}, "_ansible_no_log": false}),
                None,
            ),
            Event::TaskStart { task: skip.clone() },
            result_event(
                "localhost",
                &skip,
                Status::Skipped,
                json!({"changed": false, "false_condition": false, "skip_reason": "Conditional result was False", "skipped": true}),
                None,
            ),
        ];
        let expected = "
TASK [ok task] *****************************************************************
ok: [localhost] => {\"ansible_facts\": {\"x\": 1}, \"changed\": false}

TASK [Skip me] *****************************************************************
skipping: [localhost] => {\"changed\": false, \"false_condition\": false, \"skip_reason\": \"Conditional result was False\"}
";
        assert_eq!(render_all(1, &events), expected);
        let debug_loop = vec![
            Event::TaskStart { task: dl.clone() },
            result_event(
                "localhost",
                &dl,
                Status::Ok,
                json!({"msg": "a", "ansible_loop_var": "item", "item": "a", "changed": false}),
                Some(json!("a")),
            ),
        ];
        assert_eq!(
            render_all(0, &debug_loop),
            "\nTASK [Loop] ********************************************************************\nok: [localhost] => (item=a) => {\n    \"msg\": \"a\"\n}\n"
        );
    }

    #[test]
    fn matches_ansible_for_handlers_delegation_include_unreachable_and_no_log() {
        let h = task("Restart thing", "debug", "h");
        let d = task("Delegated", "command", "d");
        let inc = task("include_tasks", "include_tasks", "i");
        let ping = task("ping", "ping", "p");
        let nolog = task("no log", "command", "n");
        let events = vec![
            Event::TaskStart { task: inc.clone() },
            Event::Included {
                task: inc.clone(),
                file: "/tmp/golden/inc.yml".into(),
                hosts: vec!["localhost".into()],
            },
            Event::TaskStart { task: d.clone() },
            Event::HostResult {
                host: "localhost".into(),
                task: d.clone(),
                status: Status::Changed,
                result: res(json!({"changed": true})),
                item: None,
                delegated_to: Some("vm1".into()),
            },
            Event::HandlerStart { task: h.clone() },
            result_event(
                "localhost",
                &h,
                Status::Ok,
                json!({"msg": "handled", "_ansible_verbose_always": true}),
                None,
            ),
            Event::PlayStart {
                name: "bad".into(),
                pattern: "bad".into(),
                uuid: "p2".into(),
            },
            Event::TaskStart { task: ping.clone() },
            result_event(
                "10.255.255.1",
                &ping,
                Status::Unreachable,
                json!({"changed": false, "msg": "Failed to connect to the host via ssh: Connection timed out during banner exchange\r\nConnection to 10.255.255.1 port 22 timed out", "unreachable": true}),
                None,
            ),
            Event::TaskStart {
                task: nolog.clone(),
            },
            result_event(
                "localhost",
                &nolog,
                Status::Ignored,
                json!({"changed": true, "failed": true, "rc": 1, "_ansible_no_log": true}),
                None,
            ),
        ];
        let expected = "
TASK [include_tasks] ***********************************************************
included: /tmp/golden/inc.yml for localhost

TASK [Delegated] ***************************************************************
changed: [localhost -> vm1]

RUNNING HANDLER [Restart thing] ************************************************
ok: [localhost] => {
    \"msg\": \"handled\"
}

PLAY [bad] *********************************************************************

TASK [ping] ********************************************************************
fatal: [10.255.255.1]: UNREACHABLE! => {\"changed\": false, \"msg\": \"Failed to connect to the host via ssh: Connection timed out during banner exchange\\r\\nConnection to 10.255.255.1 port 22 timed out\", \"unreachable\": true}

TASK [no log] ******************************************************************
fatal: [localhost]: FAILED! => {\"censored\": \"the output has been hidden due to the fact that 'no_log: true' was specified for this result\", \"changed\": true}
...ignoring
";
        assert_eq!(render_all(0, &events), expected);
    }

    #[test]
    fn delegation_labels_match_ansible() {
        let t = task("Delegated", "command", "d");
        let event = |status, result: Value| Event::HostResult {
            host: "localhost".into(),
            task: t.clone(),
            status,
            result: res(result),
            item: None,
            delegated_to: Some("vm1".into()),
        };
        let mut r = Renderer::new(0);
        r.render(&Event::TaskStart { task: t.clone() });
        let with_address =
            json!({"changed": true, "_ansible_delegated_vars": {"ansible_host": "10.0.0.7"}});
        assert_eq!(
            r.render(&event(Status::Changed, with_address)).stdout,
            "changed: [localhost -> vm1(10.0.0.7)]\n"
        );
        // Skip lines name the host only, as Ansible's do.
        assert_eq!(
            r.render(&event(Status::Skipped, json!({"skipped": true})))
                .stdout,
            "skipping: [localhost]\n"
        );
    }

    #[test]
    fn retries_no_hosts_and_warnings_match_ansible() {
        let t = task("Retry", "command", "r");
        let mut r = Renderer::new(0);
        assert_eq!(
            r.render(&Event::Retry {
                host: "localhost".into(),
                task: t,
                retries_left: 2,
                result: Map::new()
            })
            .stdout,
            "FAILED - RETRYING: [localhost]: Retry (2 retries left).\n"
        );
        let mut vvv = Renderer::new(3);
        let retry = Event::Retry {
            host: "localhost".into(),
            task: task("Retry", "command", "r"),
            retries_left: 1,
            result: res(json!({"attempts": 1, "rc": 1})),
        };
        assert_eq!(
            vvv.render(&retry).stdout,
            "FAILED - RETRYING: [localhost]: Retry (1 retries left).Result was: {\n    \"attempts\": 1,\n    \"rc\": 1\n}\n"
        );
        assert_eq!(
            Renderer::new(2).render(&retry).stdout,
            "FAILED - RETRYING: [localhost]: Retry (1 retries left).\n"
        );
        assert_eq!(
            r.render(&Event::NoHostsMatched).stdout,
            "skipping: no hosts matched\n"
        );
        assert_eq!(
            r.render(&Event::Warning { message: "provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'".into() }).stderr,
            "[WARNING]: provided hosts list is empty, only localhost is available. Note that\nthe implicit localhost does not match 'all'\n"
        );
    }

    #[test]
    fn dry_run_results_say_what_would_run() {
        let t = task("Stop MariaDB", "ansible.builtin.service", "1");
        let result = json!({"changed": false, "dry_run": true, "would_run": {"module": "ansible.builtin.service",
            "args": {"name": "mariadb", "state": "stopped", "arguments": "", "_internal": 1,
                     "content": "two words\n"}}});
        let events = [result_event(
            "10.0.0.5",
            &t,
            Status::Ok,
            result.clone(),
            None,
        )];
        assert_eq!(
            render_all(0, &events),
            "\nTASK [Stop MariaDB] ************************************************************\nok: [10.0.0.5]\n    would run: ansible.builtin.service name=mariadb state=stopped arguments=\"\" content=\"two words\\n\"\n"
        );
        // -v shows the whole result instead.
        assert!(!render_all(1, &events).contains("    would run:"));
    }

    // Golden text from ansible-playbook 2.18 `--diff` (copy over an existing file, file
    // state change, new file).
    #[test]
    fn diffs_match_ansible() {
        let copy = task("copy", "copy", "1");
        let dir = task("dir", "file", "2");
        let events = vec![
            result_event(
                "localhost",
                &copy,
                Status::Changed,
                json!({"changed": true, "_ansible_diff": true,
                "diff": [{"before": "old\n", "after": "new\nline2\n", "before_header": "/tmp/dd/f", "after_header": "/tmp/dd/f"}]}),
                None,
            ),
            result_event(
                "localhost",
                &dir,
                Status::Changed,
                json!({"changed": true, "_ansible_diff": true,
                "diff": {"before": {"path": "/tmp/dd/sub", "state": "absent"}, "after": {"path": "/tmp/dd/sub", "state": "directory"}}}),
                None,
            ),
        ];
        let expected = "
TASK [copy] ********************************************************************
--- before: /tmp/dd/f
+++ after: /tmp/dd/f
@@ -1 +1,2 @@
-old
+new
+line2

changed: [localhost]

TASK [dir] *********************************************************************
--- before
+++ after
@@ -1,4 +1,4 @@
 {
     \"path\": \"/tmp/dd/sub\",
-    \"state\": \"absent\"
+    \"state\": \"directory\"
 }

changed: [localhost]
";
        assert_eq!(render_all(0, &events), expected);
        // Outside diff mode the result keeps its `diff`, but nothing is printed.
        let quiet = task("quiet", "file", "3");
        let events = vec![result_event(
            "localhost",
            &quiet,
            Status::Changed,
            json!({"changed": true,
            "diff": {"before": {"path": "/tmp/dd/sub", "state": "absent"}, "after": {"path": "/tmp/dd/sub", "state": "directory"}}}),
            None,
        )];
        assert!(!render_all(0, &events).contains("--- before"));
        let new_file = json!({"before": "", "after": "x\n", "after_header": "/tmp/dd/g"});
        assert_eq!(
            file_diff(Some(&new_file)),
            "--- before\n+++ after: /tmp/dd/g\n@@ -0,0 +1 @@\n+x\n\n"
        );
    }

    #[test]
    fn recap_matches_ansible_alignment() {
        let hosts = vec![
            (
                "localhost".to_string(),
                HostStats {
                    ok: 8,
                    changed: 4,
                    ..Default::default()
                },
            ),
            (
                "10.255.255.1".to_string(),
                HostStats {
                    unreachable: 1,
                    ..Default::default()
                },
            ),
        ];
        let expected = "
PLAY RECAP *********************************************************************
10.255.255.1               : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0   
localhost                  : ok=8    changed=4    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   

";
        assert_eq!(recap(&hosts), expected);
    }

    #[test]
    fn console_redacts_and_appends_the_summary() {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (out, err) = (Buf::default(), Buf::default());
        let redactor = Redactor::new();
        redactor.add_secret("s3cr3t-key-material");
        let console = Console::new(0, Box::new(out.clone()), Box::new(err.clone()), redactor);
        let t = task("Stop MariaDB", "ansible.builtin.service", "1");
        console.event(&Event::PlayStart {
            name: "vms".into(),
            pattern: "vms".into(),
            uuid: "p".into(),
        });
        console.event(&result_event(
            "10.0.0.5",
            &t,
            Status::Failed,
            json!({"msg": "bad key s3cr3t-key-material"}),
            None,
        ));
        console.event(&Event::Stats {
            hosts: vec![(
                "10.0.0.5".into(),
                HostStats {
                    failed: 1,
                    ..Default::default()
                },
            )],
            custom: Map::new(),
        });
        console.event(&Event::PlaybookEnd { rc: 2, error: None });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(
            text.contains("fatal: [10.0.0.5]: FAILED! => {\"msg\": \"bad key ********\"}"),
            "{text}"
        );
        assert!(text.ends_with(
            "HOOK FAILED: task \"Stop MariaDB\" (pb.yml:4, ansible.builtin.service) on 10.0.0.5 in play \"vms\": bad key ********\nhook-runner: exit code 2 (failed, 1 host(s) failed)\n"
        ), "{text}");
    }
}
