//! Reading hook-runner's `--log-format json` event stream (ansible-runner's event shape, see
//! src/report/json.rs) into the numbers the table shows.
//!
//! - tasks run: `playbook_on_task_start` events (handlers included: they are tasks that ran);
//! - ok/changed/failed/skipped/ignored/rescued: the recap (`playbook_on_stats`), summed over hosts;
//! - the failures: those `hook_runner_end` lists (the ones that failed the host: not rescued, not
//!   ignored), each with the task's name, its file:line and the message, plus the assertion an
//!   `assert` evaluated (the "expected") from the matching `runner_on_failed` event; without an
//!   end event, every `runner_on_failed` not covered by `ignore_errors` and every unreachable;
//! - the console text: the `stdout` of every event, which is what the console would print
//!   (runme.sh checks grep it);
//! - the console's stderr text, rebuilt as the console prints it: `[WARNING]: ` lines (the
//!   `warning` events and the results' `warnings`, wrapped as the console wraps them) and the
//!   closing `ERROR! ` line (runme.sh greps it where it captures stderr with `2>&1`);
//! - a run that ends without a task failure but with an error (a load error, a template error
//!   outside a task) gives that error from `hook_runner_end`.
//!
//! Lines that are not JSON (stderr mixed in, panics) are kept as `stray` so a crash is visible.

use serde_json::Value;

/// One failed task.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub task: String,
    /// `file:line` of the task.
    pub path: String,
    pub host: String,
    /// What the task wanted (an assert's failed assertion), when the result says.
    pub expected: Option<String>,
    /// The result's message (`msg`, else stderr, else the whole result).
    pub got: String,
}

/// The numbers of one playbook run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub tasks: u64,
    pub ok: u64,
    pub changed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub ignored: u64,
    pub rescued: u64,
    pub unreachable: u64,
}

/// What one run's event stream says.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub counts: Counts,
    pub failures: Vec<Failure>,
    /// The error `hook_runner_end` reports (a run-level error, e.g. a load error).
    pub end_error: Option<String>,
    /// Whether `hook_runner_end` arrived at all.
    pub ended: bool,
    /// Lines that are not events.
    pub stray: Vec<String>,
    /// What the console would have printed on stdout.
    pub console: String,
    /// What the console would have printed on stderr (warnings, the closing error).
    pub stderr: String,
    /// Plays started.
    pub plays: u64,
    /// The warnings hook-runner gave (an inventory it could not parse shows here).
    pub warnings: Vec<String>,
    /// The playbook the run named (from any event's `playbook`).
    pub playbook: Option<String>,
    /// The exit code `hook_runner_end` reports.
    pub rc: Option<i64>,
}

/// Parses the whole stdout of `hook-runner run --log-format json`.
pub fn parse(stdout: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut failed_events = Vec::new();
    let mut end_failures = None;
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            parsed.stray.push(line.to_string());
            continue;
        };
        // hook_runner_end's text is hook-runner's own closing summary, which ansible-playbook
        // does not print: runme.sh greps would count its lines twice.
        let is_end = event["event"] == "hook_runner_end";
        if let Some(text) = event["stdout"]
            .as_str()
            .filter(|t| !t.is_empty() && !is_end)
        {
            parsed.console.push_str(text);
            parsed.console.push('\n');
        }
        let data = &event["event_data"];
        match event["event"].as_str().unwrap_or_default() {
            "runner_on_failed" | "runner_item_on_failed"
                if data["ignore_errors"].as_bool() != Some(true) =>
            {
                failed_events.push(failure(data));
            }
            "runner_on_unreachable" => failed_events.push(failure(data)),
            "hook_runner_end" => end_failures = data["failures"].as_array().cloned(),
            _ => {}
        }
        observe(&mut parsed, &event);
        console_stderr(&mut parsed.stderr, &event);
    }
    parsed.failures = match end_failures {
        Some(listed) => listed
            .iter()
            .map(|f| from_summary(f, &failed_events))
            .collect(),
        None => failed_events,
    };
    parsed
}

/// A failure of the end summary, with the assertion of its `runner_on_failed` event.
fn from_summary(f: &Value, events: &[Failure]) -> Failure {
    let path = f["path"].as_str().unwrap_or("?").to_string();
    let host = f["host"].as_str().unwrap_or("?").to_string();
    let matching = events.iter().find(|e| e.path == path && e.host == host);
    let mut got = one_line(f["message"].as_str().unwrap_or_default());
    if let Some(item) = f["item"].as_str() {
        got = format!("{got} (item: {item})");
    }
    Failure {
        task: f["task"].as_str().unwrap_or("?").to_string(),
        expected: matching.and_then(|e| e.expected.clone()),
        got: match matching {
            Some(e) if got.is_empty() => e.got.clone(),
            _ => got,
        },
        path,
        host,
    }
}

fn observe(parsed: &mut Parsed, event: &Value) {
    let data = &event["event_data"];
    if parsed.playbook.is_none() {
        parsed.playbook = data["playbook"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(str::to_string);
    }
    match event["event"].as_str().unwrap_or_default() {
        "playbook_on_task_start" => parsed.counts.tasks += 1,
        "playbook_on_play_start" => parsed.plays += 1,
        "warning" => {
            let msg = one_line(data["msg"].as_str().unwrap_or_default());
            // Ansible says the same for every run without -i: not worth a line in the report.
            let implicit_localhost = msg.starts_with("No inventory was parsed")
                || msg.starts_with("provided hosts list is empty");
            if !implicit_localhost {
                parsed.warnings.push(msg);
            }
        }
        "playbook_on_stats" => {
            let c = &mut parsed.counts;
            c.ok += sum_hosts(&data["ok"]);
            c.changed += sum_hosts(&data["changed"]);
            c.failed += sum_hosts(&data["failures"]);
            c.skipped += sum_hosts(&data["skipped"]);
            c.ignored += sum_hosts(&data["ignored"]);
            c.rescued += sum_hosts(&data["rescued"]);
            c.unreachable += sum_hosts(&data["dark"]);
        }
        "hook_runner_end" => {
            parsed.ended = true;
            parsed.rc = data["rc"].as_i64();
            parsed.end_error = data["error"]
                .as_str()
                .filter(|e| !e.is_empty())
                .map(str::to_string);
        }
        _ => {}
    }
}

/// Appends what the console prints on stderr for `event`.
fn console_stderr(out: &mut String, event: &Value) {
    use hook_runner::report::console::warning;
    let data = &event["event_data"];
    match event["event"].as_str().unwrap_or_default() {
        "warning" => out.push_str(&warning(data["msg"].as_str().unwrap_or_default())),
        name if name.starts_with("runner_") => {
            for w in data["res"]["warnings"].as_array().into_iter().flatten() {
                out.push_str(&warning(w.as_str().unwrap_or_default()));
            }
        }
        "hook_runner_end" => {
            if let Some(error) = data["error"].as_str().filter(|e| !e.is_empty()) {
                out.push_str(&format!("ERROR! {error}\n"));
            }
        }
        _ => {}
    }
}

fn sum_hosts(per_host: &Value) -> u64 {
    per_host
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

fn failure(data: &Value) -> Failure {
    let res = &data["res"];
    let expected = res["assertion"].as_str().map(str::to_string);
    let got = ["msg", "stderr", "module_stderr"]
        .iter()
        .filter_map(|k| res[*k].as_str())
        .find(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| res.to_string());
    let mut got = one_line(&got);
    if let Some(item) = res.get("item").filter(|i| !i.is_null()) {
        got = format!("{got} (item: {})", one_line(&item.to_string()));
    }
    Failure {
        task: data["task"].as_str().unwrap_or("?").to_string(),
        path: data["task_path"].as_str().unwrap_or("?").to_string(),
        host: data["host"].as_str().unwrap_or("?").to_string(),
        expected,
        got,
    }
}

/// Collapses whitespace and bounds the length, for one table cell / report line.
pub fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    const MAX: usize = 300;
    if joined.chars().count() <= MAX {
        return joined;
    }
    let cut: String = joined.chars().take(MAX).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = r#"{"event":"playbook_on_start","event_data":{}}
{"event":"playbook_on_task_start","stdout":"TASK [a]","event_data":{"task":"a"}}
{"event":"runner_on_ok","event_data":{"task":"a","host":"h","res":{}}}
{"event":"playbook_on_task_start","event_data":{"task":"b"}}
{"event":"runner_on_failed","event_data":{"task":"b","task_path":"m.yml:3","host":"h","ignore_errors":true,"res":{"msg":"ignored"}}}
{"event":"playbook_on_task_start","event_data":{"task":"c"}}
{"event":"runner_on_failed","event_data":{"task":"c","task_path":"m.yml:7","host":"h","ignore_errors":false,"res":{"msg":"Assertion failed","assertion":"x == 1"}}}
not json
{"event":"playbook_on_stats","event_data":{"ok":{"h":1},"changed":{},"failures":{"h":1},"skipped":{"h":0},"ignored":{"h":1}}}
{"event":"hook_runner_end","stdout":"HOOK FAILED","event_data":{"status":"failed","rc":2,"failures":[{"task":"c","path":"m.yml:7","host":"h","message":"Assertion failed"}]}}
"#;

    #[test]
    fn counts_tasks_and_recap_and_keeps_only_unignored_failures() {
        let p = parse(STREAM);
        assert_eq!(p.counts.tasks, 3);
        assert_eq!((p.counts.ok, p.counts.failed, p.counts.ignored), (1, 1, 1));
        assert_eq!(p.failures.len(), 1);
        assert_eq!(p.failures[0].path, "m.yml:7");
        assert_eq!(p.failures[0].expected.as_deref(), Some("x == 1"));
        assert_eq!(p.failures[0].got, "Assertion failed");
        assert!(p.ended);
        assert_eq!(p.rc, Some(2));
        assert_eq!(p.stray, ["not json"]);
        // hook-runner's own closing summary is not console text Ansible would print.
        assert_eq!(p.console, "TASK [a]\n");
    }

    #[test]
    fn stderr_has_the_warnings_and_the_closing_error() {
        let stream = r#"{"event":"warning","event_data":{"msg":"Handler 'h' is unusable"}}
{"event":"runner_on_ok","stdout":"ok: [h]","event_data":{"res":{"warnings":["careful"]}}}
{"event":"hook_runner_end","event_data":{"error":"it broke"}}
"#;
        let p = parse(stream);
        assert_eq!(p.console, "ok: [h]\n");
        assert_eq!(
            p.stderr,
            "[WARNING]: Handler 'h' is unusable\n[WARNING]: careful\nERROR! it broke\n"
        );
    }

    #[test]
    fn without_an_end_event_the_unignored_failed_events_count() {
        let cut: String = STREAM.lines().take(7).collect::<Vec<_>>().join("\n");
        let p = parse(&cut);
        assert!(!p.ended);
        assert_eq!(p.failures.len(), 1);
        assert_eq!(p.failures[0].task, "c");
    }
}
