//! The results of the suite: per target, the table row for the README and the detailed failure
//! list for the test's output and `target/conformance/results.md`.
//!
//! The README section lies between `<!-- conformance:begin -->` and `<!-- conformance:end -->`;
//! the runner rewrites it when `HOOK_RUNNER_UPDATE_README=1`. It holds only target names,
//! numbers and our own explanations, never text of the (GPL-3.0) tests.

use std::fmt::Write as _;
use std::time::Duration;

use crate::events::{Counts, Failure};
use crate::targets::Exit;

pub const BEGIN: &str = "<!-- conformance:begin -->";
pub const END: &str = "<!-- conformance:end -->";

/// One playbook run's result, inside a target.
#[derive(Debug, Clone)]
pub struct InvocationResult {
    pub playbook: String,
    pub exit: Exit,
    /// The runme.sh output checks that did not hold.
    pub failed_checks: Vec<String>,
    pub rc: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub counts: Counts,
    pub failures: Vec<Failure>,
    /// A run-level error (load error, crash, stray output) when there is no task failure.
    pub error: Option<String>,
    pub warnings: Vec<String>,
}

impl InvocationResult {
    /// ansible-test's criterion: the exit code (zero, or non-zero where the script expects it).
    pub fn passed(&self) -> bool {
        self.exit_ok() && self.failed_checks.is_empty() && self.unmatched_hosts().is_none()
    }

    /// hook-runner's warning that a play matched no host: the target's playbooks all name hosts
    /// their inventory has, so this means the inventory was not read as Ansible reads it.
    fn unmatched_hosts(&self) -> Option<&String> {
        self.warnings
            .iter()
            .find(|w| w.contains("Could not match supplied host pattern"))
    }

    fn exit_ok(&self) -> bool {
        match (self.rc, self.exit) {
            // 99 is hook-runner's own timeout; a playbook failure is 2 (or 4 unreachable).
            (Some(99) | None, _) => false,
            (_, Exit::Unchecked) => true,
            (Some(0), exit) => exit == Exit::Zero,
            (Some(_), exit) => exit == Exit::NonZero,
        }
    }

    /// One line saying why the run did not pass.
    pub fn why(&self) -> String {
        if self.timed_out {
            return format!("timed out after {:.0} s", self.elapsed.as_secs_f64());
        }
        if self.exit == Exit::NonZero && self.rc == Some(0) {
            return "expected the playbook to fail (runme.sh checks a non-zero exit), it passed"
                .into();
        }
        if self.exit_ok() && !self.failed_checks.is_empty() {
            let checks = format!("runme.sh output check: {}", self.failed_checks.join("; "));
            return match self.failures.first() {
                Some(f) => format!("{checks}; first failed task: {}", describe_failure(f)),
                None => checks,
            };
        }
        if self.exit_ok() {
            let all = self.warnings.join("; ");
            return format!("no host matched a play; warnings: {all}");
        }
        if let Some(f) = self.failures.first() {
            return describe_failure(f);
        }
        if let Some(e) = &self.error {
            return crate::events::one_line(e);
        }
        format!("exit code {:?} without a task failure", self.rc)
    }
}

pub fn describe_failure(f: &Failure) -> String {
    match &f.expected {
        Some(expected) => format!(
            "task \"{}\" ({}) on {}: expected `{}`, got: {}",
            f.task, f.path, f.host, expected, f.got
        ),
        None => format!("task \"{}\" ({}) on {}: {}", f.task, f.path, f.host, f.got),
    }
}

/// One target's result.
#[derive(Debug, Clone)]
pub struct TargetResult {
    pub name: String,
    pub shape: &'static str,
    pub must_pass: bool,
    pub runs: Vec<InvocationResult>,
    /// Why the target could not be run at all (missing lab prerequisite, layout error).
    pub not_started: Option<String>,
    pub counts: Counts,
    pub elapsed: Duration,
    /// For `file`/`copy`: the tasks of the whole target (the run stops at the first failure).
    pub planned_tasks: Option<u64>,
    pub min_pass_ratio: Option<f64>,
    /// What this suite does not run, and the unsupported-by-design features found in the files.
    pub notes: Vec<String>,
}

impl TargetResult {
    pub fn passed(&self) -> bool {
        self.not_started.is_none() && !self.runs.is_empty() && self.runs.iter().all(|r| r.passed())
    }

    /// Tasks that ran and did not fail (failures that were not ignored).
    pub fn passing_tasks(&self) -> u64 {
        let failed: u64 = self.runs.iter().map(|r| r.failures.len() as u64).sum();
        self.counts.tasks.saturating_sub(failed)
    }

    /// Passing tasks over the target's tasks (planned when known, else those run).
    pub fn pass_ratio(&self) -> f64 {
        let total = self.planned_tasks.unwrap_or(self.counts.tasks).max(1);
        self.passing_tasks() as f64 / total as f64
    }

    /// Whether the target meets the bar (pass whole / pass the ratio / just be measured).
    pub fn meets_bar(&self) -> bool {
        if self.must_pass {
            return self.passed();
        }
        match self.min_pass_ratio {
            Some(min) => self.passed() || self.pass_ratio() >= min,
            None => true,
        }
    }

    fn result_cell(&self) -> String {
        if let Some(why) = &self.not_started {
            return format!("not run ({why})");
        }
        let passed = self.runs.iter().filter(|r| r.passed()).count();
        let verdict = if self.passed() { "pass" } else { "FAIL" };
        if self.runs.len() > 1 {
            format!("{verdict} ({passed}/{} playbooks)", self.runs.len())
        } else {
            verdict.to_string()
        }
    }

    fn first_failure(&self) -> Option<String> {
        self.runs.iter().find(|r| !r.passed()).map(|r| {
            if self.runs.len() > 1 {
                format!("{}: {}", r.playbook, r.why())
            } else {
                r.why()
            }
        })
    }
}

/// The markdown table (the README section's body).
pub fn table(results: &[TargetResult], total: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Ansible's own integration tests (ansible-core {}, fetched at test time, never committed), run by \
         `cargo test --test conformance` against a lab host over SSH. Pass/fail is the playbook's exit code, as for \
         ansible-test. *tasks* counts the tasks started (handlers included); *passing* those that did not fail; \
         the counts are the recap's, summed over hosts and playbooks. Whole run: {:.0} s.\n",
        crate::sdist::VERSION,
        total.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| target | how | result | tasks | passing | ok | changed | failed | skipped | time | first failure | known gaps |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let passing = match r.planned_tasks {
            Some(planned) => format!(
                "{} of ~{planned} ({:.0}%)",
                r.passing_tasks(),
                r.pass_ratio() * 100.0
            ),
            None => r.passing_tasks().to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s | {} | {} |",
            r.name,
            r.shape,
            r.result_cell(),
            r.counts.tasks,
            passing,
            r.counts.ok,
            r.counts.changed,
            r.counts.failed,
            r.counts.skipped,
            r.elapsed.as_secs_f64(),
            cell(&r.first_failure().unwrap_or_default()),
            cell(&r.notes.join("; ")),
        );
    }
    let _ = writeln!(
        out,
        "\nSubstituted dependency roles (our own stand-ins in `tests/conformance/roles/`):"
    );
    for (role, why) in crate::layout::SUBSTITUTED_ROLES {
        let _ = writeln!(out, "- `{role}`: {why}.");
    }
    let _ = writeln!(
        out,
        "\nTasks given stand-ins (modules hook-runner does not have: `tempfile`, package managers and a \
         target's own Python plugins by design, `pause` not yet; in the scratch copy of the target only, \
         the task's other keys kept, each listed in the table):"
    );
    for (module, stand_in) in crate::patches::STAND_INS {
        let _ = writeln!(out, "- `{module}`: {stand_in}.");
    }
    let _ = writeln!(
        out,
        "\nThe `needs/root` targets (file, copy) run as root on a host whose `/etc`, `/root` and `/home` are \
         private copies (a mount namespace around its sshd), so the users, groups and sudoers files they \
         create never reach the machine running the suite."
    );
    let budget: u64 = crate::targets::all()
        .iter()
        .map(|t| t.budget.as_secs())
        .sum();
    let _ = writeln!(
        out,
        "\nTime budget: each target has its own (60-420 s, {budget} s in all as the worst case); \
         hook-runner gets it as `--timeout` and is killed {} s after it.",
        crate::runner::KILL_GRACE.as_secs()
    );
    out
}

/// Every failure of every run, for the test output and results.md.
pub fn details(results: &[TargetResult]) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(
            out,
            "## {} — {} ({:.1} s)",
            r.name,
            if r.passed() { "pass" } else { "FAIL" },
            r.elapsed.as_secs_f64()
        );
        if let Some(why) = &r.not_started {
            let _ = writeln!(out, "- not run: {why}");
        }
        for run in &r.runs {
            let _ = writeln!(
                out,
                "- {}: rc {:?}{} in {:.1} s, tasks {}, ok {}, changed {}, failed {}, skipped {}, ignored {}, rescued {}",
                run.playbook,
                run.rc,
                match run.exit {
                    Exit::Zero => "",
                    Exit::NonZero => " (failure expected)",
                    Exit::Unchecked => " (exit code not checked)",
                },
                run.elapsed.as_secs_f64(),
                run.counts.tasks,
                run.counts.ok,
                run.counts.changed,
                run.counts.failed,
                run.counts.skipped,
                run.counts.ignored,
                run.counts.rescued
            );
            // A passing run's failures are the ones its test provokes on purpose.
            for f in run.failures.iter().filter(|_| !run.passed()) {
                let _ = writeln!(out, "  - {}", describe_failure(f));
            }
            for c in &run.failed_checks {
                let _ = writeln!(out, "  - runme.sh output check: {c}");
            }
            let explained = !run.failures.is_empty() || !run.failed_checks.is_empty();
            if !explained && !run.passed() {
                let _ = writeln!(out, "  - {}", run.why());
            }
            for w in &run.warnings {
                let _ = writeln!(out, "  - warning: {w}");
            }
        }
        for note in &r.notes {
            let _ = writeln!(out, "- note: {note}");
        }
        out.push('\n');
    }
    out
}

/// A table cell: one line, without the "The error appears to be in..." excerpt, bounded,
/// pipes escaped.
fn cell(s: &str) -> String {
    let s = s.split(" The error appears to be in").next().unwrap_or(s);
    let line = crate::events::one_line(s);
    const MAX: usize = 220;
    let line = if line.chars().count() > MAX {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line
    };
    line.replace('|', "\\|")
}

/// The README with the section between the markers replaced by `body` (appended with a heading
/// when the markers are missing).
pub fn splice_readme(readme: &str, body: &str) -> String {
    let section = format!("{BEGIN}\n{body}{END}");
    match (readme.find(BEGIN), readme.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{section}{}", &readme[..b], &readme[e + END.len()..])
        }
        _ => {
            let sep = if readme.ends_with('\n') { "" } else { "\n" };
            format!("{readme}{sep}\n## Ansible conformance\n\n{section}\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rc: Option<i32>, expect_failure: bool) -> InvocationResult {
        InvocationResult {
            playbook: "p.yml".into(),
            exit: if expect_failure {
                Exit::NonZero
            } else {
                Exit::Zero
            },
            failed_checks: vec![],
            rc,
            timed_out: rc.is_none(),
            elapsed: Duration::from_secs(1),
            counts: Counts::default(),
            failures: vec![],
            error: None,
            warnings: vec![],
        }
    }

    #[test]
    fn pass_is_the_exit_code_the_script_expects() {
        assert!(run(Some(0), false).passed());
        assert!(!run(Some(2), false).passed());
        assert!(run(Some(2), true).passed());
        assert!(!run(Some(0), true).passed());
        assert!(!run(Some(99), true).passed());
        assert!(!run(None, false).passed());
        let unchecked = InvocationResult {
            exit: Exit::Unchecked,
            ..run(Some(2), false)
        };
        assert!(unchecked.passed());
        let check_failed = InvocationResult {
            failed_checks: vec!["x".into()],
            ..unchecked
        };
        assert!(!check_failed.passed());
    }

    #[test]
    fn the_readme_section_is_replaced_between_the_markers_only() {
        let readme = format!("# x\n\n## Ansible conformance\n\n{BEGIN}\nold\n{END}\n\n## after\n");
        let new = splice_readme(&readme, "new\n");
        assert_eq!(
            new,
            format!("# x\n\n## Ansible conformance\n\n{BEGIN}\nnew\n{END}\n\n## after\n")
        );
        let appended = splice_readme("# x\n", "t\n");
        assert!(appended.ends_with(&format!("## Ansible conformance\n\n{BEGIN}\nt\n{END}\n")));
    }
}
