//! The engine: runs a validated playbook play by play with Ansible's linear strategy.
//!
//! Entry points: [`run_playbook`] (and [`run_playbook_with_cancel`] for the CLI's SIGTERM
//! handling). The run: parse `-e`, load the inventory, load and validate the whole playbook
//! (nothing runs when it is invalid), then each play in order (`play.rs`), each task on all
//! hosts of the play before the next (`exec.rs`), each host's task (`host.rs`). Events go to the
//! reporter in Ansible's order; the return value is ansible-playbook's exit code:
//!
//! | code | when |
//! |---|---|
//! | 0 | every host ok (also: no hosts matched) |
//! | 1 | an error outside tasks (missing playbook, undefined variable in `hosts`, missing `vars_files`, unknown handler) |
//! | 2 | a host failed (and none unreachable) |
//! | 4 | a host unreachable (takes priority over failed), or the playbook could not be parsed/validated |
//! | 5 | bad options (`-e` data, inventory) |
//! | 99 | interrupted (cancelled: ansible-playbook's "User interrupted execution"; ansible-playbook has no SIGTERM handler of its own, so the CLI maps SIGTERM onto this) |
//!
//! Deliberate differences from ansible-core 2.18 (checked against it where noted in the tests):
//! - Unknown module parameters and literal values of the wrong type are rejected when the
//!   playbook is loaded (exit 4, nothing runs); Ansible fails the task at run time. A task that
//!   handles its own failure (`ignore_errors`, `failed_when`, or in a block with `rescue` or
//!   `ignore_errors`) is kept and fails at run time with the same message, as in Ansible.
//! - A missing `vars_files` entry is an error (exit 1); 2.15-2.18 skip it silently.
//! - `vars_files` names are templated once per play batch (with the first host's variables),
//!   not per host.
//! - Only the linear strategy exists (`strategy: free` warns and runs linearly); play keys
//!   hook-runner does not implement (`vars_prompt`, `order`, `gather_subset`...) are accepted
//!   with a warning when the play starts; inheritable keywords it does not implement
//!   (`module_defaults`, `debugger`, `become_exe`, `collections` naming an unknown collection)
//!   with a warning from each task they reach; module parameters it does not implement (SELinux
//!   fields, `attributes`, `unsafe_writes`, setup's `gather_subset`/`gather_timeout`/`fact_path`,
//!   include_vars' `hash_behaviour`) with a warning in the task's result. `throttle` works.
//! - `forks` defaults to 50 (Ansible: 5).
//! - Registered results, facts and `set_fact` values are never templated again, directly or
//!   through `hostvars[...]`. (ansible-core re-templates a `set_fact` value that did not come
//!   from an unsafe source; hook-runner treats every `set_fact` value as final data.)

mod async_task;
mod cancel;
mod exec;
mod facts;
mod frame;
pub(crate) mod hook_dir;
mod host;
mod include;
mod join;
mod loops;
pub mod options;
mod play;
mod play_ctx;
mod result;
mod run;
mod settings;
mod tags;

pub use cancel::Cancel;
pub use facts::placeholder_facts;
pub use options::{Action, Mode, RunOptions};
pub use result::NO_LOG_MESSAGE;

use crate::inventory::Inventory;
use crate::playbook::{Item, Playbook};
use crate::report::{Event, Reporter};
use play::PlayEnd;
use run::Run;

/// Locks a mutex, recovering the data if a panicking holder poisoned it.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub use crate::report::{
    EXIT_ERROR, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_OPTIONS, EXIT_PARSE, EXIT_UNREACHABLE,
};

/// Runs the playbook of `opts` and returns ansible-playbook's exit code.
pub async fn run_playbook(opts: &RunOptions, reporter: &dyn Reporter) -> i32 {
    run_playbook_with_cancel(opts, reporter, Cancel::new()).await
}

/// [`run_playbook`] with a cancel flag the caller can trigger (SIGTERM/SIGINT).
pub async fn run_playbook_with_cancel(
    opts: &RunOptions,
    reporter: &dyn Reporter,
    cancel: Cancel,
) -> i32 {
    let end = |rc: i32, error: Option<String>| {
        reporter.event(&Event::PlaybookEnd { rc, error });
        rc
    };
    let extra_vars = match crate::vars::parse_extra_vars(&opts.extra_vars) {
        Ok(v) => v,
        Err(e) => return end(EXIT_OPTIONS, Some(e)),
    };
    // As ansible-playbook: a source that cannot be parsed is a warning, not an error.
    let mut inventory = Inventory::new();
    let mut parsed = 0;
    for source in &opts.inventories {
        match inventory.add_source(source) {
            Ok(()) => parsed += 1,
            Err(e) => reporter.event(&Event::Warning { message: e }),
        }
    }
    if parsed == 0 {
        reporter.event(&Event::Warning {
            message: "No inventory was parsed, only implicit localhost is available".into(),
        });
    }
    if inventory.host_names().is_empty() {
        reporter.event(&Event::Warning {
            message: "provided hosts list is empty, only localhost is available. Note that the implicit localhost does not match 'all'".into(),
        });
    }
    if !opts.playbook.is_file() {
        return end(
            EXIT_ERROR,
            Some(format!(
                "the playbook: {} could not be found",
                opts.playbook.display()
            )),
        );
    }
    let mut playbook =
        match crate::playbook::load_playbook_in(&opts.playbook, opts.playbook_dir.as_deref()) {
            Ok(p) => p,
            Err(e) => return end(EXIT_PARSE, Some(e.to_string())),
        };
    // `-vv` counts the plays of the first playbook, as Ansible counts per playbook.
    let first_plays = playbook.plays.len();
    for more in &opts.more_playbooks {
        if !more.is_file() {
            return end(
                EXIT_ERROR,
                Some(format!(
                    "the playbook: {} could not be found",
                    more.display()
                )),
            );
        }
        match crate::playbook::load_playbook(more) {
            Ok(p) => playbook.plays.extend(p.plays),
            Err(e) => return end(EXIT_PARSE, Some(e.to_string())),
        }
    }
    // group_vars/ and host_vars/ beside the inventory files, then beside the playbook.
    let mut vars_dirs: Vec<std::path::PathBuf> = opts
        .inventories
        .iter()
        .map(std::path::Path::new)
        .filter(|p| p.is_file())
        .map(crate::playbook::parent_dir)
        .collect();
    vars_dirs.push(playbook.dir.clone());
    for dir in vars_dirs {
        if let Err(e) = inventory.load_vars_dirs(&dir) {
            return end(EXIT_ERROR, Some(e));
        }
    }
    match opts.action {
        Action::SyntaxCheck => {
            reporter.event(&Event::Output {
                line: String::new(),
            });
            reporter.event(&Event::Output {
                line: format!("playbook: {}", opts.playbook.display()),
            });
            return end(EXIT_OK, None);
        }
        Action::ListTasks | Action::ListHosts | Action::ListTags => {
            for line in listing(&playbook, opts, inventory, &extra_vars) {
                reporter.event(&Event::Output { line });
            }
            return end(EXIT_OK, None);
        }
        Action::Run => {}
    }
    let run = match Run::new(
        opts,
        reporter,
        inventory,
        extra_vars,
        playbook.dir.clone(),
        cancel,
    ) {
        Ok(r) => r,
        Err(e) => return end(EXIT_OPTIONS, Some(e)),
    };
    run.emit(Event::PlaybookStart {
        playbook: opts.playbook.display().to_string(),
    });
    if opts.verbosity >= 2 && opts.playbook_dir.is_none() {
        // ansible-playbook -vv: the playbook's banner and how many plays it has.
        let shown = opts.playbook.display();
        let banner = crate::report::console::banner(&format!("PLAYBOOK: {shown}"));
        for line in banner.lines() {
            run.emit(Event::Output {
                line: line.to_string(),
            });
        }
        run.emit(Event::Output {
            line: format!("{first_plays} plays in {shown}"),
        });
    }
    let mut error = None;
    for play in &playbook.plays {
        if run.cancel.is_cancelled() {
            break;
        }
        match run.run_play(play).await {
            Ok(PlayEnd::Continue) => {}
            Ok(PlayEnd::StopPlaybook) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    run.close_all().await;
    let hosts: Vec<_> = lock(&run.stats)
        .iter()
        .map(|(h, s)| (h.clone(), s.clone()))
        .collect();
    let custom = lock(&run.custom_stats).clone();
    run.emit(Event::Stats { hosts, custom });
    let rc = if run.cancel.is_cancelled() {
        error = Some("User interrupted execution".into());
        EXIT_INTERRUPTED
    } else if error.is_some() {
        EXIT_ERROR
    } else if !lock(&run.unreachable).is_empty() {
        EXIT_UNREACHABLE
    } else if !lock(&run.failed).is_empty() {
        EXIT_FAILED
    } else {
        EXIT_OK
    };
    run.emit(Event::PlaybookEnd { rc, error });
    rc
}

/// `--list-tasks` / `--list-hosts` / `--list-tags` lines, in ansible-playbook's shape: a blank
/// line and `playbook: FILE`, then per play a blank line, `  play #N (PATTERN): NAME\tTAGS: [..]`
/// (an unnamed play is named by its pattern) and its tasks, tags or hosts. Tags are sorted.
fn listing(
    playbook: &Playbook,
    opts: &RunOptions,
    mut inventory: Inventory,
    extra_vars: &crate::Map,
) -> Vec<String> {
    let templar = crate::template::Templar::new();
    let mut out = vec![
        String::new(),
        format!("playbook: {}", opts.playbook.display()),
    ];
    for (i, play) in playbook.plays.iter().enumerate() {
        let pattern = match &play.hosts {
            serde_json::Value::Array(l) => l
                .iter()
                .map(crate::value_text)
                .collect::<Vec<_>>()
                .join(","),
            other => crate::value_text(other),
        };
        let name = if play.name.trim().is_empty() {
            pattern.clone()
        } else {
            play.name.clone()
        };
        out.push(String::new());
        out.push(format!(
            "  play #{} ({}): {}\tTAGS: [{}]",
            i + 1,
            pattern,
            name,
            sorted_tags(&play.kw.tags).join(", ")
        ));
        let sections = [&play.pre_tasks, &play.roles, &play.tasks, &play.post_tasks];
        match opts.action {
            Action::ListHosts => {
                let hosts = inventory.match_pattern(&pattern);
                let hosts = inventory.apply_limit(hosts, opts.limit.as_deref());
                out.push(format!("    pattern: ['{pattern}']"));
                out.push(format!("    hosts ({}):", hosts.len()));
                out.extend(hosts.iter().map(|h| format!("      {h}")));
            }
            Action::ListTags => {
                let mut all: Vec<String> = Vec::new();
                for items in sections {
                    collect_tags(items, &play.kw.tags, &mut all);
                }
                out.push(format!(
                    "      TASK TAGS: [{}]",
                    sorted_tags(&all).join(", ")
                ));
            }
            _ => {
                out.push("    tasks:".into());
                let lister = Lister {
                    opts,
                    templar: &templar,
                    vars: tags::tag_vars(&play.kw.vars, extra_vars),
                };
                for items in sections {
                    lister.items(items, &play.kw.tags, &mut out);
                }
            }
        }
    }
    out
}

/// Tags sorted and without duplicates, as ansible-playbook lists them.
fn sorted_tags(tags: &[String]) -> Vec<String> {
    let mut tags = tags.to_vec();
    tags.sort();
    tags.dedup();
    tags
}

fn collect_tags(items: &[Item], inherited: &[String], out: &mut Vec<String>) {
    for item in items {
        match item {
            Item::Task(t) => {
                out.extend(inherited.iter().cloned());
                out.extend(t.kw.tags.iter().cloned());
            }
            Item::Block(b) => {
                let mut tags = inherited.to_vec();
                tags.extend(b.kw.tags.iter().cloned());
                collect_tags(&b.block, &tags, out);
                collect_tags(&b.rescue, &tags, out);
                collect_tags(&b.always, &tags, out);
            }
        }
    }
}

/// `--list-tasks` for one play: tags rendered as the run renders them.
struct Lister<'a> {
    opts: &'a RunOptions,
    templar: &'a crate::template::Templar,
    vars: crate::Map,
}

impl Lister<'_> {
    fn items(&self, items: &[Item], inherited: &[String], out: &mut Vec<String>) {
        for item in items {
            match item {
                Item::Task(t) => {
                    let mut tags = inherited.to_vec();
                    tags.extend(t.kw.tags.iter().cloned());
                    let tags = tags::templated(&tags, self.templar, &self.vars);
                    if tags::should_run(&tags, &self.opts.tags, &self.opts.skip_tags) {
                        out.push(format!(
                            "      {}\tTAGS: [{}]",
                            t.display_name(),
                            sorted_tags(&tags).join(", ")
                        ));
                    }
                }
                Item::Block(b) => {
                    let mut tags = inherited.to_vec();
                    tags.extend(b.kw.tags.iter().cloned());
                    self.items(&b.block, &tags, out);
                    self.items(&b.rescue, &tags, out);
                    self.items(&b.always, &tags, out);
                }
            }
        }
    }
}
