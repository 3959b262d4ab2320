//! Ansible's own integration suite as hook-runner's yardstick: a census of every target.
//!
//! `cargo test --test conformance` fetches the pinned ansible-core sdist ([`sdist`]), reads the
//! committed census ([`targets`], `census.txt`: every directory of
//! `test/integration/targets/` in scope or out with its reason) and runs every in-scope target
//! the way ansible-test does:
//! - role targets wrapped in ansible-test's play ([`layout`]), run by hook-runner with its JSON
//!   events ([`runner`], [`events`]);
//! - `runme.sh` targets by their own script, with hook-runner on `PATH` as `ansible-playbook`
//!   and `ansible` ([`script`]).
//!
//! `testhost` is a lab sshd: the unprivileged `hrtest` on loopback, or root on a
//! [`sandbox::SandboxHost`] (private `/etc`, `/root`, `/home`) for `needs/root` and
//! `destructive` targets. Targets run `HOOK_RUNNER_CONFORMANCE_JOBS` at a time (default 4),
//! each worker with hosts of its own, so no two running targets share a host. Each target has a
//! time budget (census.txt), so a hang cannot eat the run.
//!
//! All targets run before the test judges: it prints the table and the failures, writes
//! `target/conformance/results.md` (and the README section with `HOOK_RUNNER_UPDATE_README=1`),
//! adds newly passing targets to the guard list `passing.txt` (which only grows), and fails
//! when a guarded target no longer passes, or when the census and the sdist disagree.
//!
//! Prerequisites (root for the lab, pip for the sdist) follow the lab's policy: a failure with
//! `CI=true`, a loud skip otherwise. `HOOK_RUNNER_CONFORMANCE_TARGETS=a,b` runs a subset;
//! `HOOK_RUNNER_CONFORMANCE_KEEP=1` keeps each target's scratch directory.

mod events;
mod layout;
mod patches;
mod report;
mod runner;
mod sandbox;
mod script;
mod sdist;
mod targets;

use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use layout::LabHost;
use report::{RunResult, TargetResult, Verdict};
use targets::{Host, Scope, Shape, Target};

const TEST: &str = "conformance::ansible_integration_targets";

/// Targets running at once unless `HOOK_RUNNER_CONFORMANCE_JOBS` says otherwise: most of a
/// target's time is SSH round trips and sleeps, so more than the 2 cores of CI.
const DEFAULT_JOBS: usize = 4;

/// The lab hosts of one worker, started on first use.
#[derive(Default)]
struct Lab {
    user: Option<lab::SshHost>,
    root: Option<(sandbox::SandboxHost, lab::Netns)>,
}

impl Lab {
    fn host(&mut self, which: Host) -> Result<LabHost> {
        match which {
            Host::User => {
                if self.user.is_none() {
                    self.user = Some(lab::SshHost::start_loopback()?);
                }
                let h = self.user.as_ref().context("user host")?;
                Ok(LabHost {
                    address: h.address().to_string(),
                    port: h.port(),
                    user: h.user().to_string(),
                    key: h.key_path(),
                    python: layout::target_python(),
                })
            }
            Host::Root => {
                if self.root.is_none() {
                    let ns = lab::Netns::new()?;
                    let host = sandbox::SandboxHost::start(&ns)?;
                    self.root = Some((host, ns));
                }
                let (h, _) = self.root.as_ref().context("root host")?;
                Ok(LabHost {
                    address: h.address().to_string(),
                    port: h.port(),
                    user: "root".into(),
                    key: h.key_path(),
                    python: layout::target_python(),
                })
            }
        }
    }
}

/// The committed guard list: targets that passed whole once and must keep passing.
fn guard_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/passing.txt")
}

fn read_guard() -> BTreeSet<String> {
    fs::read_to_string(guard_path())
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Adds `new` to the guard list (it only grows), keeping its header and sorting the names.
fn grow_guard(new: &[&str]) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let path = guard_path();
    let text = fs::read_to_string(&path).unwrap_or_default();
    let header: String = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut names = read_guard();
    names.extend(new.iter().map(|n| n.to_string()));
    let body: String = names.iter().map(|n| format!("{n}\n")).collect();
    let tmp = path.with_extension("txt.tmp");
    fs::write(&tmp, format!("{header}{body}"))?;
    fs::rename(&tmp, &path)?;
    Ok(())
}

#[test]
fn ansible_integration_targets() {
    if !lab::require_root(TEST) {
        return;
    }
    let sdist_root = sdist::root();
    let sdist_targets = match sdist::ensure(&sdist_root) {
        Ok(t) => t,
        Err(e) => {
            lab::require(
                false,
                TEST,
                &format!("the ansible-core {} sdist: {e:#}", sdist::VERSION),
            );
            return;
        }
    };
    let census = targets::load().unwrap_or_else(|e| panic!("{e:#}"));
    let (unlisted, stale) =
        targets::mismatches(&census, &sdist_targets).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "tests/conformance/census.txt and the sdist disagree: directories without a line: {unlisted:?}; \
         lines without a directory: {stale:?}"
    );
    let selected: Option<Vec<String>> = std::env::var("HOOK_RUNNER_CONFORMANCE_TARGETS")
        .ok()
        .map(|s| s.split(',').map(|t| t.trim().to_string()).collect());
    let jobs = std::env::var("HOOK_RUNNER_CONFORMANCE_JOBS")
        .ok()
        .and_then(|j| j.parse::<usize>().ok())
        .filter(|j| *j > 0)
        .unwrap_or(DEFAULT_JOBS);

    let mut results = Vec::new();
    let mut queue = Vec::new();
    for target in census {
        if let Some(sel) = &selected {
            if !sel.contains(&target.name) {
                continue;
            }
        }
        match target.scope {
            Scope::In { .. } => queue.push(target),
            scope => results.push(TargetResult::not_run(&target.name, scope)),
        }
    }
    // The longest budgets first, so the slow targets do not start last.
    queue.sort_by_key(|t| match t.scope {
        Scope::In { budget, .. } => std::cmp::Reverse(budget),
        _ => std::cmp::Reverse(Duration::ZERO),
    });
    let queue = Mutex::new(VecDeque::from(queue));
    let done = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                let mut lab = Lab::default();
                while let Some(target) = next_target(&queue) {
                    let result = run_target(&target, &sdist_targets, &mut lab);
                    eprintln!(
                        "conformance: {} {} in {:.1} s",
                        target.name,
                        if result.passed() { "passed" } else { "FAILED" },
                        result.elapsed.as_secs_f64()
                    );
                    if let Ok(mut d) = done.lock() {
                        d.push(result);
                    }
                }
            });
        }
    });
    let total = started.elapsed();
    results.extend(done.into_inner().unwrap_or_default());
    results.sort_by(|a, b| a.name.cmp(&b.name));

    let table = report::table(&results, total, jobs);
    let details = report::details(&results);
    eprintln!("\n{table}\n{details}");
    eprintln!(
        "conformance: {} ({:.0} s)",
        report::summary_line(&results),
        total.as_secs_f64()
    );
    if let Err(e) = write_outputs(&table, &details) {
        eprintln!("conformance: writing the results failed: {e:#}");
    }

    let guarded = read_guard();
    let newly: Vec<&str> = results
        .iter()
        .filter(|r| r.passed() && !guarded.contains(&r.name))
        .map(|r| r.name.as_str())
        .collect();
    if !newly.is_empty() {
        eprintln!(
            "conformance: passing now, added to tests/conformance/passing.txt: {}",
            newly.join(", ")
        );
        if let Err(e) = grow_guard(&newly) {
            eprintln!("conformance: updating the guard list failed: {e:#}");
        }
    }
    let regressed: Vec<&str> = results
        .iter()
        .filter(|r| guarded.contains(&r.name) && !r.passed())
        .map(|r| r.name.as_str())
        .collect();
    assert!(
        regressed.is_empty(),
        "targets of tests/conformance/passing.txt that fail now: {}",
        regressed.join(", ")
    );
}

/// The next target of the shared queue (the lock is released before the target runs).
fn next_target(queue: &Mutex<VecDeque<Target>>) -> Option<Target> {
    queue.lock().ok().and_then(|mut q| q.pop_front())
}

fn write_outputs(table: &str, details: &str) -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance");
    fs::create_dir_all(&dir)?;
    fs::write(
        dir.join("results.md"),
        format!("# Ansible conformance census\n\n{table}\n# Runs and failures\n\n{details}"),
    )?;
    if std::env::var("HOOK_RUNNER_UPDATE_README").as_deref() == Ok("1") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = fs::read_to_string(&path).unwrap_or_default();
        let tmp = path.with_extension("md.tmp");
        fs::write(&tmp, report::splice_readme(&readme, table))?;
        fs::rename(&tmp, &path)?;
        eprintln!("conformance: README.md section updated");
    }
    Ok(())
}

fn run_target(target: &Target, sdist_targets: &Path, lab: &mut Lab) -> TargetResult {
    let started = Instant::now();
    let shape = target.shape(sdist_targets);
    let mut result = TargetResult {
        shape: match shape {
            Shape::Role => "role",
            Shape::Script => "runme.sh",
        },
        verdict: Verdict::Fail,
        ..TargetResult::not_run(&target.name, target.scope.clone())
    };
    let (host, budget) = match target.scope {
        Scope::In { host, budget } => (host, budget),
        _ => unreachable!("only in-scope targets are queued"),
    };
    let outcome = match shape {
        Shape::Role => run_role(target, sdist_targets, lab, host, budget, &mut result),
        Shape::Script => run_script(target, sdist_targets, lab, host, budget, &mut result),
    };
    if let Err(e) = outcome {
        result.verdict = Verdict::Fail;
        result.first_failure = Some(format!("not started: {e:#}"));
    }
    result.elapsed = started.elapsed();
    result
}

/// A scratch directory the lab's unprivileged user can use too (output_dir lives there).
fn scratch(target: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("hrconf-{target}-"))
        .tempdir()?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

/// The scratch dir, its inventory, output dir and logs dir, and the copy of the target among
/// its siblings (`<work>/<siblings>/`).
struct Work {
    dir: tempfile::TempDir,
    inventory: PathBuf,
    output_dir: PathBuf,
    logs: PathBuf,
}

impl Work {
    fn new(
        target: &Target,
        host: &LabHost,
        sdist_targets: &Path,
        siblings: &str,
    ) -> Result<(Work, Vec<String>)> {
        let dir = scratch(&target.name)?;
        let inventory = dir.path().join("inventory");
        fs::write(&inventory, layout::generated_inventory(host))?;
        let output_dir = dir.path().join("output");
        fs::create_dir_all(&output_dir)?;
        fs::set_permissions(&output_dir, fs::Permissions::from_mode(0o1777))?;
        let applied =
            layout::siblings_dir(&dir.path().join(siblings), sdist_targets, &target.name)?;
        let notes = if applied.is_empty() {
            Vec::new()
        } else {
            vec![format!("stand-ins for {}", patches::describe(&applied))]
        };
        Ok((
            Work {
                dir,
                inventory,
                output_dir,
                logs: logs_dir(&target.name)?,
            },
            notes,
        ))
    }

    fn finish(self) {
        if std::env::var("HOOK_RUNNER_CONFORMANCE_KEEP").as_deref() == Ok("1") {
            eprintln!("conformance: keeping {}", self.dir.path().display());
            let _ = self.dir.keep();
        }
    }
}

fn run_role(
    target: &Target,
    sdist_targets: &Path,
    lab: &mut Lab,
    host: Host,
    budget: Duration,
    result: &mut TargetResult,
) -> Result<()> {
    let host = lab.host(host)?;
    let (work, notes) = Work::new(target, &host, sdist_targets, "roles")?;
    result.notes = notes;
    let playbook = work.dir.path().join("play.yml");
    fs::write(
        &playbook,
        layout::wrapper_play(&target.name, &work.output_dir),
    )?;
    let ran = runner::run(&runner::Run {
        playbook: &playbook,
        inventory: Some(&work.inventory),
        args: &[],
        cwd: work.dir.path(),
        budget,
        logs: work.logs.join("play"),
        output_dir: Some(&work.output_dir),
    })?;
    let base = work.dir.path().to_path_buf();
    let mut run = run_result("play.yml".into(), &ran.parsed, &base);
    run.rc = ran.rc;
    if !run.ended && !ran.timed_out {
        run.unsound = Some(format!(
            "no end event (crash?): {}",
            events::one_line(&format!(
                "{} {}",
                ran.parsed.stray.join(" | "),
                ran.stderr_tail
            ))
        ));
    }
    result.timed_out = ran.timed_out;
    let passed = ran.rc == Some(0) && run.ended && !ran.timed_out;
    result.verdict = if passed { Verdict::Pass } else { Verdict::Fail };
    if !passed {
        result.first_failure = Some(if ran.timed_out {
            format!("timed out after {:.0} s", ran.elapsed.as_secs_f64())
        } else if let Some(why) = &run.unsound {
            why.clone()
        } else if let Some(f) = run.failures.first() {
            report::describe_failure(f)
        } else if let Some(e) = &run.error {
            e.clone()
        } else {
            format!("exit code {:?} without a task failure", ran.rc)
        });
    }
    result.runs = vec![run];
    work.finish();
    Ok(())
}

/// A run's numbers, with paths relative to the sdist's targets dir.
fn run_result(label: String, parsed: &events::Parsed, work: &Path) -> RunResult {
    let strip = |s: &str| -> String {
        let mut s = s.to_string();
        for base in [work.join("roles"), work.join("targets"), work.to_path_buf()] {
            s = s.replace(&format!("{}/", base.display()), "");
        }
        s
    };
    let mut failures = parsed.failures.clone();
    for f in &mut failures {
        f.path = strip(&f.path);
        f.got = strip(&f.got);
    }
    RunResult {
        label,
        rc: parsed.rc.map(|rc| rc as i32),
        ended: parsed.ended,
        counts: parsed.counts.clone(),
        failures,
        error: parsed.end_error.as_deref().map(strip),
        unsound: None,
    }
}

fn run_script(
    target: &Target,
    sdist_targets: &Path,
    lab: &mut Lab,
    host: Host,
    budget: Duration,
    result: &mut TargetResult,
) -> Result<()> {
    let host = lab.host(host)?;
    let (work, notes) = Work::new(target, &host, sdist_targets, "targets")?;
    result.notes = notes;
    let dir = work.dir.path().join("targets").join(&target.name);
    let script_text = fs::read_to_string(dir.join("runme.sh")).unwrap_or_default();
    let ran = script::run(&script::Script {
        dir: &dir,
        work: work.dir.path(),
        output_dir: &work.output_dir,
        inventory: &work.inventory,
        budget,
        logs: &work.logs,
    })?;
    let base = work.dir.path().to_path_buf();
    result.script_rc = ran.rc;
    result.timed_out = ran.timed_out;
    result.runs = ran
        .runs
        .iter()
        .map(|r| {
            let label = r
                .parsed
                .playbook
                .as_deref()
                .map(|p| {
                    Path::new(p)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| p.to_string())
                })
                .unwrap_or_else(|| r.file.clone());
            let mut run = run_result(label, &r.parsed, &base);
            run.unsound = if !run.ended {
                (!ran.timed_out).then(|| "no end event: the run crashed or was killed".to_string())
            } else {
                run.error
                    .as_ref()
                    .filter(|e| run.failures.is_empty() && !script::expects_error(&script_text, e))
                    .map(|e| {
                        format!(
                            "ended with an error the script does not expect: {}",
                            events::one_line(e)
                        )
                    })
            };
            run
        })
        .collect();
    let unsound = result.runs.iter().find(|r| r.unsound.is_some());
    let passed = ran.rc == Some(0)
        && !ran.timed_out
        && ran.panic.is_none()
        && !result.runs.is_empty()
        && unsound.is_none();
    result.verdict = if passed { Verdict::Pass } else { Verdict::Fail };
    if !passed {
        let last_failed = result.runs.last().filter(|r| r.rc != Some(0));
        result.first_failure = Some(if ran.timed_out {
            format!(
                "timed out after {:.0} s ({} runs started)",
                ran.elapsed.as_secs_f64(),
                result.runs.len()
            )
        } else if let Some(panic) = &ran.panic {
            format!("hook-runner panicked: {}", events::one_line(panic))
        } else if let Some(run) = unsound {
            format!("{}: {}", run.label, run.unsound.clone().unwrap_or_default())
        } else if let Some(run) = last_failed.filter(|_| ran.rc != Some(0)) {
            let why = match (run.failures.first(), &run.error) {
                (Some(f), _) => report::describe_failure(f),
                (None, Some(e)) => e.clone(),
                (None, None) => format!("exit code {:?}", run.rc),
            };
            format!("{}: {why}", run.label)
        } else if result.runs.is_empty() && ran.rc == Some(0) {
            "runme.sh ran no hook-runner".to_string()
        } else {
            let rc = ran.rc.map_or("(killed)".to_string(), |rc| rc.to_string());
            let stop = events::one_line(if ran.stderr_tail.is_empty() {
                &ran.stdout_tail
            } else {
                &ran.stderr_tail
            });
            if stop.starts_with("after `") {
                format!("runme.sh exited {rc} {stop}")
            } else {
                format!("runme.sh exited {rc}: {stop}")
            }
        });
    }
    work.finish();
    Ok(())
}

/// `target/conformance/<target>/`: the event streams and output of each run, for debugging.
fn logs_dir(target: &str) -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/conformance")
        .join(target);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A scratch sdist `targets/` dir holding one target of our own.
fn demo_sdist(files: &[(&str, &str)]) -> tempfile::TempDir {
    let sdist = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = sdist.path().join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        fs::write(&path, text).expect("write");
        if path.extension().is_some_and(|e| e == "sh") {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }
    sdist
}

fn in_scope(name: &str) -> Target {
    Target {
        name: name.into(),
        scope: Scope::In {
            host: Host::User,
            budget: Duration::from_secs(60),
        },
    }
}

/// The harness end to end on a role target of our own (no sdist needed): the wrapper play, a
/// dependency role beside it, the SSH lab host, and the failure it must report.
#[test]
fn the_harness_reports_a_failing_task_of_a_role_target() {
    if !lab::require_root("conformance::the_harness_reports_a_failing_task_of_a_role_target") {
        return;
    }
    let sdist = demo_sdist(&[
        ("demo/meta/main.yml", "dependencies:\n  - setup_demo\n"),
        (
            "setup_demo/tasks/main.yml",
            "- set_fact:\n    from_dependency: yes\n",
        ),
        (
            "demo/tasks/main.yml",
            "- name: the wrapper's variables and the dependency's fact are there\n\
             \x20 assert:\n    that:\n      - output_dir is defined\n      - from_dependency\n\
             - command: echo hi\n  register: said\n\
             - name: a failure the harness must report\n\
             \x20 assert:\n    that: said.stdout == 'bye'\n",
        ),
    ]);
    let mut lab = Lab::default();
    let result = run_target(&in_scope("demo"), sdist.path(), &mut lab);
    let details = report::details(std::slice::from_ref(&result));
    assert_eq!(result.shape, "role", "{details}");
    assert_eq!(result.verdict, Verdict::Fail, "{details}");
    let run = &result.runs[0];
    assert_eq!(run.rc, Some(2), "{details}");
    assert_eq!(run.failures.len(), 1, "{details}");
    let failure = &run.failures[0];
    assert_eq!(failure.task, "demo : a failure the harness must report");
    assert_eq!(failure.path, "demo/tasks/main.yml:8");
    assert_eq!(failure.expected.as_deref(), Some("said.stdout == 'bye'"));
    assert_eq!(failure.host, "testhost");
    // Facts, the dependency's task, then the demo's three up to the failure.
    assert_eq!(result.tasks(), 1 + 1 + 3, "{details}");
    assert!(result
        .first_failure
        .as_deref()
        .is_some_and(|f| f.contains("a failure the harness must report")));
}

/// A runme.sh target runs its own script with hook-runner as `ansible-playbook` and `ansible`;
/// its exit code decides, but a run that ended with an error the script does not expect fails
/// the target even when the script exits 0.
#[test]
fn the_harness_runs_a_script_target_strictly() {
    if !lab::require_root("conformance::the_harness_runs_a_script_target_strictly") {
        return;
    }
    let play =
        "- hosts: testhost\n  gather_facts: no\n  tasks:\n    - command: echo from-the-play\n";
    let sdist = demo_sdist(&[
        (
            "good/runme.sh",
            "#!/bin/sh\nset -eu\n\
             ansible-playbook -i ../../inventory play.yml | grep -q 'from-the-play' && false || true\n\
             ansible-playbook -i ../../inventory play.yml -v | grep -q 'from-the-play'\n\
             ansible testhost -i ../../inventory -m command -a 'echo adhoc-ran' | grep -q 'adhoc-ran'\n\
             test -d \"$OUTPUT_DIR\"\n",
        ),
        ("good/play.yml", play),
        (
            "grepped/runme.sh",
            "#!/bin/sh\nansible-playbook -i ../../inventory broken.yml | grep -c TASK || true\n",
        ),
        ("grepped/broken.yml", "- hosts: testhost\n  tasks:\n    - no_such_module_here: x\n"),
        (
            "failing/runme.sh",
            "#!/bin/sh\nset -e\nansible-playbook -i ../../inventory play.yml -e fail=1\n",
        ),
        (
            "failing/play.yml",
            "- hosts: testhost\n  gather_facts: no\n  tasks:\n    - fail: msg=asked\n      when: fail is defined\n",
        ),
    ]);
    let mut lab = Lab::default();
    let good = run_target(&in_scope("good"), sdist.path(), &mut lab);
    let details = report::details(std::slice::from_ref(&good));
    assert_eq!(good.shape, "runme.sh");
    assert_eq!(good.verdict, Verdict::Pass, "{details}");
    assert_eq!(good.runs.len(), 3, "{details}");
    assert_eq!(good.runs[0].label, "play.yml", "{details}");
    assert!(
        good.runs.iter().all(|r| r.ended && r.rc == Some(0)),
        "{details}"
    );

    let grepped = run_target(&in_scope("grepped"), sdist.path(), &mut lab);
    let details = report::details(std::slice::from_ref(&grepped));
    assert_eq!(grepped.script_rc, Some(0), "{details}");
    assert_eq!(grepped.verdict, Verdict::Fail, "{details}");
    assert!(
        grepped
            .first_failure
            .as_deref()
            .is_some_and(|f| f.contains("does not expect") && f.contains("no_such_module_here")),
        "{details}"
    );

    let failing = run_target(&in_scope("failing"), sdist.path(), &mut lab);
    let details = report::details(std::slice::from_ref(&failing));
    assert_eq!(failing.script_rc, Some(2), "{details}");
    assert_eq!(failing.verdict, Verdict::Fail, "{details}");
    assert!(
        failing
            .first_failure
            .as_deref()
            .is_some_and(|f| f.starts_with("play.yml: task \"fail\"") && f.contains("asked")),
        "{details}"
    );
}
