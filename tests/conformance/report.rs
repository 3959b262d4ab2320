//! The census results: per target, the README table row, and the detailed list of runs and
//! failures for the test's output and `target/conformance/results.md`.
//!
//! The README section lies between `<!-- conformance:begin -->` and `<!-- conformance:end -->`;
//! the runner rewrites it when `HOOK_RUNNER_UPDATE_README=1`. It holds only target names,
//! numbers, hook-runner's own messages and our explanations, never text of the (GPL-3.0) tests.

use std::fmt::Write as _;
use std::time::Duration;

use crate::events::{Counts, Failure};
use crate::targets::Scope;

pub const BEGIN: &str = "<!-- conformance:begin -->";
pub const END: &str = "<!-- conformance:end -->";

/// One hook-runner run inside a target (the wrapper play, or one call of a runme.sh).
#[derive(Debug, Clone)]
pub struct RunResult {
    /// What was run (`play.yml`, or the playbook a runme.sh call named).
    pub label: String,
    pub rc: Option<i32>,
    pub ended: bool,
    pub counts: Counts,
    /// The failures that failed a host (not rescued, not ignored).
    pub failures: Vec<Failure>,
    /// A run-level error (load error, template error outside a task).
    pub error: Option<String>,
    /// Why this run makes the target fail even when the script's exit code is 0 (a crash, an
    /// error the script does not expect), if it does.
    pub unsound: Option<String>,
}

/// How a target came out.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Fail,
    /// In scope but not run (needs a VM, needs the internet).
    NotRun(String),
    /// Out of scope or a dependency: nothing to run.
    NotATarget,
}

/// One target's result.
#[derive(Debug, Clone)]
pub struct TargetResult {
    pub name: String,
    pub scope: Scope,
    /// `role` or `runme.sh`.
    pub shape: &'static str,
    pub verdict: Verdict,
    pub runs: Vec<RunResult>,
    /// For runme.sh targets: the script's exit code (`None` when killed).
    pub script_rc: Option<i32>,
    pub timed_out: bool,
    /// Why the target failed, in one line.
    pub first_failure: Option<String>,
    pub elapsed: Duration,
    /// Stand-ins given (package installs from the internet).
    pub notes: Vec<String>,
}

impl TargetResult {
    pub fn not_run(name: &str, scope: Scope) -> TargetResult {
        let verdict = match &scope {
            Scope::Vm(_) => Verdict::NotRun("needs a lab VM".into()),
            Scope::Internet(_) => Verdict::NotRun("needs the internet".into()),
            _ => Verdict::NotATarget,
        };
        TargetResult {
            name: name.to_string(),
            scope,
            shape: "",
            verdict,
            runs: Vec::new(),
            script_rc: None,
            timed_out: false,
            first_failure: None,
            elapsed: Duration::ZERO,
            notes: Vec::new(),
        }
    }

    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    pub fn tasks(&self) -> u64 {
        self.runs.iter().map(|r| r.counts.tasks).sum()
    }

    /// Tasks that ran and did not fail a host.
    pub fn passing(&self) -> u64 {
        let failed: u64 = self.runs.iter().map(|r| r.failures.len() as u64).sum();
        self.tasks().saturating_sub(failed)
    }

    fn result_cell(&self) -> String {
        match &self.verdict {
            Verdict::Pass => "pass".into(),
            Verdict::Fail if self.timed_out => "FAIL (timed out)".into(),
            Verdict::Fail => "FAIL".into(),
            Verdict::NotRun(why) => format!("not run ({why})"),
            Verdict::NotATarget => "—".into(),
        }
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

/// "in scope: P of N targets pass whole".
pub fn summary_line(results: &[TargetResult]) -> String {
    let in_scope: Vec<&TargetResult> = results.iter().filter(|r| r.scope.in_scope()).collect();
    let passing = in_scope.iter().filter(|r| r.passed()).count();
    format!(
        "in scope: {passing} of {} targets pass whole",
        in_scope.len()
    )
}

/// The markdown section (the README's body between the markers).
pub fn table(results: &[TargetResult], total: Duration, jobs: usize) -> String {
    let mut out = String::new();
    let count = |f: &dyn Fn(&Scope) -> bool| results.iter().filter(|r| f(&r.scope)).count();
    let ran = results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Pass | Verdict::Fail))
        .count();
    let _ = writeln!(
        out,
        "**{}** ({} run; {} need a lab VM, {} need the internet: in scope, never passing; {} out of \
         scope; {} helpers).\n",
        summary_line(results),
        ran,
        count(&|s| matches!(s, Scope::Vm(_))),
        count(&|s| matches!(s, Scope::Internet(_))),
        count(&|s| matches!(s, Scope::Out(_))),
        count(&|s| matches!(s, Scope::Dependency(_))),
    );
    let _ = writeln!(
        out,
        "The census of every integration target of ansible-core {} (fetched at test time, never \
         committed), by `cargo test --test conformance`: scope from `tests/conformance/census.txt`, \
         role targets wrapped in ansible-test's play, runme.sh targets running their own script with \
         hook-runner as `ansible-playbook` and `ansible`. A target passes when the script (or the \
         wrapper play) exits 0 and every hook-runner run in it reached its end without an error the \
         script does not expect. *tasks*: tasks started, summed over the runs; *passing*: those that \
         did not fail a host. Whole census: {:.0} s with {jobs} targets at a time.\n",
        crate::sdist::VERSION,
        total.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| target | scope | result | tasks | passing | first failure | time |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for r in results {
        let ran = matches!(r.verdict, Verdict::Pass | Verdict::Fail);
        let scope = if r.shape.is_empty() {
            r.scope.describe()
        } else {
            format!("{} · {}", r.scope.describe(), r.shape)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            cell(&scope),
            r.result_cell(),
            if ran {
                r.tasks().to_string()
            } else {
                String::new()
            },
            if ran {
                r.passing().to_string()
            } else {
                String::new()
            },
            cell(&r.first_failure.clone().unwrap_or_default()),
            if ran {
                format!("{:.1} s", r.elapsed.as_secs_f64())
            } else {
                String::new()
            },
        );
    }
    let notes: Vec<String> = results
        .iter()
        .flat_map(|r| r.notes.iter().map(move |n| format!("- {}: {n}", r.name)))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "\nStand-ins (only for tasks that install a distribution package from the internet, or \
             a target's own Python plugin; in the scratch copy only, the task's other keys kept):"
        );
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
    }
    let _ = writeln!(
        out,
        "\nEach target has a time budget (default {} s; runme.sh process trees are killed when they \
         overrun it, a role target's hook-runner gets it as `--timeout`). Root targets run on a host \
         whose `/etc`, `/root` and `/home` are private; runme.sh scripts run in a mount namespace with \
         a private `/etc`, `/home` and `/var/spool`.",
        crate::targets::DEFAULT_BUDGET.as_secs()
    );
    out
}

/// Every run and failure of every target that ran, for the test output and results.md.
pub fn details(results: &[TargetResult]) -> String {
    let mut out = String::new();
    for r in results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Pass | Verdict::Fail))
    {
        let _ = writeln!(
            out,
            "## {} — {} ({:.1} s{})",
            r.name,
            r.result_cell(),
            r.elapsed.as_secs_f64(),
            match (r.shape, r.script_rc) {
                ("runme.sh", rc) => format!(", runme.sh exit {rc:?}"),
                _ => String::new(),
            }
        );
        if let Some(why) = &r.first_failure {
            let _ = writeln!(out, "- first failure: {why}");
        }
        for run in &r.runs {
            let c = &run.counts;
            let _ = writeln!(
                out,
                "- {}: rc {:?}, tasks {}, ok {}, changed {}, failed {}, skipped {}, ignored {}, rescued {}{}",
                run.label,
                run.rc,
                c.tasks,
                c.ok,
                c.changed,
                c.failed,
                c.skipped,
                c.ignored,
                c.rescued,
                if run.ended { "" } else { ", no end event" }
            );
            if let Some(why) = &run.unsound {
                let _ = writeln!(out, "  - {why}");
            }
            if let Some(e) = &run.error {
                let _ = writeln!(out, "  - error: {}", crate::events::one_line(e));
            }
            for f in run.failures.iter().take(5) {
                let _ = writeln!(out, "  - {}", describe_failure(f));
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
    const MAX: usize = 200;
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
    use crate::targets::Host;

    fn result(name: &str, scope: Scope, verdict: Verdict) -> TargetResult {
        TargetResult {
            verdict,
            ..TargetResult::not_run(name, scope)
        }
    }

    #[test]
    fn the_summary_counts_in_scope_targets_and_only_whole_passes() {
        let run = Scope::In {
            host: Host::User,
            budget: Duration::from_secs(1),
        };
        let results = [
            result("a", run.clone(), Verdict::Pass),
            result("b", run, Verdict::Fail),
            result(
                "c",
                Scope::Internet("x".into()),
                Verdict::NotRun("x".into()),
            ),
            result("d", Scope::Vm("x".into()), Verdict::NotRun("x".into())),
            result("e", Scope::Out("x".into()), Verdict::NotATarget),
            result("f", Scope::Dependency("x".into()), Verdict::NotATarget),
        ];
        assert_eq!(
            summary_line(&results),
            "in scope: 1 of 4 targets pass whole"
        );
        let table = table(&results, Duration::from_secs(3), 2);
        assert!(table.contains("**in scope: 1 of 4 targets pass whole**"));
        assert!(table.contains("| c | in, needs the internet: x | not run (x) |"));
        assert!(table.contains("| e | out: x | — |"));
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
