//! The linear strategy over task lists: every host of the list finishes a task before the
//! next one starts; blocks route failed hosts to `rescue` and everyone to `always`; handlers,
//! `meta` and dynamic includes.
//!
//! Failure bookkeeping (reference §2.5, §2.7): a failed host leaves the rest of its list. If
//! the failure happens inside a block that has a `rescue`, it is counted as `rescued` and the
//! host runs the rescue (with `ansible_failed_task`/`ansible_failed_result`); otherwise it is
//! counted as `failed` and the host is out of the play and of later plays. Unreachable hosts
//! are out for the rest of the run (unless `ignore_unreachable`). `any_errors_fatal` and
//! `max_fail_percentage` end the play for every host.
//!
//! Handlers (ansible-core 2.18): a changed task notifies by name (templated with the host's
//! variables); a handler answers to its name templated with the play's variables (no host's),
//! with or without its role's prefix, and every handler whose `listen` has the topic answers
//! too. A notification nothing answers to fails the run at that host's next flush. Handlers
//! run at the end of each section and at `meta: flush_handlers`, which flushes only for the
//! hosts whose `when` holds; a handler failing during such a flush fails the flush for that
//! host, so an enclosing block's `rescue` takes it. Task banners show the name templated with
//! the play's variables, or as written when that fails.

use super::frame::Frame;
use super::host::HostOutcome;
use super::join::join_all;
use super::lock;
use super::play_ctx::PlayCtx;
use super::result;
use super::run::Run;
use super::tags;
use crate::playbook::{Action, Block, Item, Keywords, Task};
use crate::report::{Event, Status, TaskInfo};
use crate::template::{Scope, Templar};
use crate::value_text;
use crate::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) type Fut<'s, T> = Pin<Box<dyn Future<Output = T> + 's>>;

impl<'a> Run<'a> {
    /// Runs a list of tasks/blocks on `hosts`; returns the hosts that failed in it (and were
    /// not cleared by `meta: clear_host_errors` since).
    pub(crate) fn run_items<'s>(
        &'s self,
        pctx: &'s PlayCtx,
        frame: &'s Frame,
        items: &'s [Item],
        hosts: Vec<String>,
    ) -> Fut<'s, Vec<String>> {
        Box::pin(async move {
            let mut failed = Failures::default();
            for item in items {
                if self.cancel.is_cancelled() || pctx.stopped() {
                    break;
                }
                let aborted: Vec<String> = hosts
                    .iter()
                    .filter(|h| !failed.has(pctx, h) && pctx.take_aborted(h))
                    .cloned()
                    .collect();
                failed.add(pctx, aborted);
                let active: Vec<String> = hosts
                    .iter()
                    .filter(|h| {
                        !failed.has(pctx, h) && !self.is_unreachable(h) && !pctx.is_ended(h)
                    })
                    .cloned()
                    .collect();
                if active.is_empty() {
                    break;
                }
                let newly = match item {
                    Item::Task(t) => self.run_task(pctx, frame, t, &active).await,
                    Item::Block(b) => self.run_block(pctx, frame, b, active).await,
                };
                failed.add(pctx, newly);
            }
            failed.current(pctx)
        })
    }

    /// A block: `block` for all, `rescue` for the hosts that failed in it, `always` for all.
    fn run_block<'s>(
        &'s self,
        pctx: &'s PlayCtx,
        frame: &'s Frame,
        block: &'s Arc<Block>,
        hosts: Vec<String>,
    ) -> Fut<'s, Vec<String>> {
        Box::pin(async move {
            let outer = frame.enter_block(&block.kw, block.role.as_ref());
            let mut inner = outer.clone();
            inner.rescuable = frame.rescuable || !block.rescue.is_empty();
            let failed_in_block = self
                .run_items(pctx, &inner, &block.block, hosts.clone())
                .await;
            let mut failed = Failures::default();
            if !block.rescue.is_empty() && !failed_in_block.is_empty() {
                let rescue_hosts: Vec<String> = failed_in_block
                    .iter()
                    .filter(|h| !self.is_unreachable(h))
                    .cloned()
                    .collect();
                let failed_in_rescue = self
                    .run_items(pctx, &outer, &block.rescue, rescue_hosts)
                    .await;
                failed.add(pctx, failed_in_rescue);
            } else {
                failed.add(pctx, failed_in_block);
            }
            if !block.always.is_empty() && !pctx.stopped() {
                let always_hosts: Vec<String> = hosts
                    .iter()
                    .filter(|h| !self.is_unreachable(h) && !pctx.is_ended(h))
                    .cloned()
                    .collect();
                let failed_in_always = self
                    .run_items(pctx, &outer, &block.always, always_hosts)
                    .await;
                failed.add(pctx, failed_in_always);
            }
            failed.current(pctx)
        })
    }

    /// What reporters are told about a task: the banner name ([`Run::banner_name`]) goes to the
    /// console, the JSON events and the artifacts alike.
    pub(crate) fn task_info(&self, pctx: &PlayCtx, frame: &Frame, task: &Task) -> TaskInfo {
        TaskInfo {
            name: self.banner_name(pctx, frame, task),
            action: task.action_name.clone(),
            path: format!("{}:{}", task.loc.file, task.loc.line),
            is_handler: frame.is_handler,
            uuid: self.next_uuid(),
        }
    }

    /// A task's name as the `TASK [...]` banner shows it. As ansible-core 2.18's linear
    /// strategy: the name is templated with the task's variables without any host's (play
    /// vars, `vars_files`, role and block and task vars, extra vars, host-free magic), and a
    /// name that cannot be templated (a host's variable, an undefined one) is shown as
    /// written. A role's task is prefixed with `role : `.
    pub(crate) fn banner_name(&self, pctx: &PlayCtx, frame: &Frame, task: &Task) -> String {
        let Some(name) = task.name.as_deref().filter(|n| !n.trim().is_empty()) else {
            return task.display_name();
        };
        let shown = if crate::template::Templar::is_template(name) {
            let vars = self.hostless_task_vars(pctx, frame, task);
            let search = self.search_paths(Some(task));
            let scope = Scope {
                vars: &vars,
                search_paths: &search,
            };
            self.templar
                .template(&Value::String(name.to_string()), scope)
                .map(|v| value_text(&v))
                .unwrap_or_else(|_| name.to_string())
        } else {
            name.to_string()
        };
        match &task.role {
            Some(r) => format!("{} : {}", r.name, shown),
            None => shown,
        }
    }

    /// One task on every host of `hosts` (concurrently, up to `forks`).
    pub(crate) async fn run_task(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: &Arc<Task>,
        hosts: &[String],
    ) -> Vec<String> {
        let kw = frame.task_keywords(task);
        // Handlers are not filtered by tags: a notified handler runs (its notifier ran).
        if !frame.is_handler {
            let task_tags = if kw.tags.iter().any(|t| Templar::is_template(t)) {
                let vars = tags::tag_vars(&pctx.play.kw.vars, &self.extra_vars);
                tags::templated(&kw.tags, &self.templar, &vars)
            } else {
                kw.tags.clone()
            };
            if !tags::should_run(&task_tags, &self.opts.tags, &self.opts.skip_tags) {
                return Vec::new();
            }
        }
        match &task.action {
            Action::Meta(what) => return self.run_meta(pctx, frame, task, &kw, what, hosts).await,
            Action::IncludeTasks { .. } | Action::IncludeRole { .. } => {
                return self.run_include(pctx, frame, task, &kw, hosts).await
            }
            Action::Module { .. } => {}
        }
        let info = self.task_info(pctx, frame, task);
        self.emit(if frame.is_handler {
            Event::HandlerStart { task: info.clone() }
        } else {
            Event::TaskStart { task: info.clone() }
        });
        if !kw.not_implemented.is_empty() {
            self.emit(Event::Warning {
                message: format!(
                    "{}: hook-runner does not implement {} and ignores it",
                    task.loc,
                    kw.not_implemented.join(", ")
                ),
            });
        }
        let bypass = task.module().is_some_and(|m| m.bypasses_host_loop());
        let run_once = bypass || self.round_bool(pctx, frame, task, &kw.run_once, hosts);
        let targets: Vec<String> = if run_once {
            hosts.iter().take(1).cloned().collect()
        } else {
            hosts.to_vec()
        };
        let throttle = self.round_throttle(pctx, frame, task, &kw.throttle, hosts);
        let futures: Vec<_> = targets
            .iter()
            .map(|h| {
                let info = &info;
                let kw = &kw;
                let throttle = &throttle;
                async move {
                    // The task's own limit first, so a throttled task holds few fork slots.
                    let _throttled = match throttle {
                        Some(t) => t.acquire().await.ok(),
                        None => None,
                    };
                    let _permit = self.forks.acquire().await;
                    self.run_on_host(pctx, frame, task, kw, h, info).await
                }
            })
            .collect();
        let outcomes = join_all(futures).await;
        self.finish_round(pctx, frame, task, &kw, hosts, outcomes, run_once)
    }

    /// A keyword that applies to the whole round (`run_once`, `any_errors_fatal`), templated
    /// with the first host's variables.
    fn round_bool(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: &Task,
        value: &Option<Value>,
        hosts: &[String],
    ) -> bool {
        let Some(v) = value else {
            return false;
        };
        if let Value::Bool(b) = v {
            return *b;
        }
        let Some(first) = hosts.first() else {
            return false;
        };
        let vars = self.task_vars(pctx, frame, Some(task), first);
        let search = self.search_paths(Some(task));
        self.bool_keyword(value, &vars, &search)
            .ok()
            .flatten()
            .unwrap_or(false)
    }

    /// `throttle`, templated with the first host's variables: a semaphore with that many
    /// permits, or `None` when unset, 0 (no limit, as in Ansible) or not a number (warned).
    fn round_throttle(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: &Task,
        value: &Option<Value>,
        hosts: &[String],
    ) -> Option<tokio::sync::Semaphore> {
        let v = value.as_ref()?;
        let first = hosts.first()?;
        let vars = self.task_vars(pctx, frame, Some(task), first);
        let search = self.search_paths(Some(task));
        let scope = Scope {
            vars: &vars,
            search_paths: &search,
        };
        let text = match self.templar.template(v, scope) {
            Ok(t) => value_text(&t),
            Err(e) => e.message,
        };
        match text.trim().parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(tokio::sync::Semaphore::new(n)),
            Err(_) => {
                self.emit(Event::Warning {
                    message: format!(
                        "{}: throttle must be a whole number, got {text:?}: the task runs without it",
                        task.loc
                    ),
                });
                None
            }
        }
    }

    /// Stats, failures, notifications and the play-ending rules after a round.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_round(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: &Task,
        kw: &Keywords,
        hosts: &[String],
        outcomes: Vec<HostOutcome>,
        run_once: bool,
    ) -> Vec<String> {
        let mut failed = Vec::new();
        let mut any_final_failure = false;
        for outcome in &outcomes {
            let host = outcome.host.as_str();
            match outcome.status {
                Status::Unreachable => {
                    if outcome.ignore_unreachable {
                        self.stat(host, |s| {
                            s.ok += 1;
                            s.ignored += 1;
                        });
                    } else {
                        self.stat(host, |s| s.unreachable += 1);
                        lock(&self.unreachable).insert(host.to_string());
                    }
                }
                Status::Failed => {
                    failed.push(host.to_string());
                    if frame.rescuable {
                        self.stat(host, |s| s.rescued += 1);
                        pctx.set_failed_info(
                            host,
                            failed_task_map(task),
                            result::for_register(&outcome.result),
                        );
                    } else {
                        self.stat(host, |s| s.failed += 1);
                        self.mark_failed(host);
                        any_final_failure = true;
                    }
                }
                Status::Ignored => self.stat(host, |s| {
                    s.ok += 1;
                    s.ignored += 1;
                    if result::flag(&outcome.result, "changed") {
                        s.changed += 1;
                    }
                }),
                Status::Skipped => self.stat(host, |s| s.skipped += 1),
                Status::Ok => self.stat(host, |s| s.ok += 1),
                Status::Changed => self.stat(host, |s| {
                    s.ok += 1;
                    s.changed += 1;
                }),
            }
            if outcome.status == Status::Changed {
                // The task's own `notify`, else the one its blocks give it (`kw` merges them).
                self.notify_handlers(pctx, frame, task, &kw.notify, host);
            }
        }
        if run_once {
            if let Some(first) = outcomes.first() {
                for other in hosts.iter().filter(|h| **h != first.host) {
                    if let Some(reg) = &task.register {
                        let value = Value::Object(result::for_register(&first.result));
                        self.update_host(other, |s| s.register(reg, value));
                    }
                    if first.status == Status::Failed {
                        failed.push(other.clone());
                        if !frame.rescuable {
                            self.mark_failed(other);
                        }
                    }
                }
            }
        }
        // any_errors_fatal: every other host of the round fails too (without a recap count);
        // like any failure, that sends them to their blocks' rescue/always, and otherwise out
        // of the play.
        if any_final_failure && self.round_bool(pctx, frame, task, &kw.any_errors_fatal, hosts) {
            for h in hosts {
                if !failed.contains(h) && !self.is_unreachable(h) {
                    failed.push(h.clone());
                    if !frame.rescuable {
                        self.mark_failed(h);
                    }
                }
            }
            // Hosts of the batch elsewhere in the play (waiting in an outer list) fail too.
            for h in &pctx.batch {
                if !hosts.contains(h)
                    && !self.is_failed(h)
                    && !self.is_unreachable(h)
                    && !pctx.is_ended(h)
                {
                    self.mark_failed(h);
                    pctx.abort_host(h);
                }
            }
        }
        self.check_max_fail(pctx);
        failed
    }

    /// `max_fail_percentage`: more than that share of the batch failed ends the play.
    fn check_max_fail(&self, pctx: &PlayCtx) {
        let Some(limit) = pctx.play.max_fail_percentage.as_ref() else {
            return;
        };
        let pct: f64 = match limit {
            Value::Number(n) => n.as_f64().unwrap_or(100.0),
            other => value_text(other)
                .trim_end_matches('%')
                .parse()
                .unwrap_or(100.0),
        };
        let total = pctx.batch.len();
        if total == 0 {
            return;
        }
        let failed = pctx.batch.iter().filter(|h| self.is_failed(h)).count();
        if (failed as f64) / (total as f64) * 100.0 > pct {
            for h in &pctx.batch {
                self.mark_failed(h);
            }
            pctx.end_play();
            pctx.broke_on_max_fail();
            // ansible-playbook prints it here (the strategy) and again when the batch ends.
            self.emit(Event::NoMoreHosts);
        }
    }

    /// Records `notify` for a changed host. Each notification is templated with the host's
    /// variables (a name that cannot be templated is used as written); it names the first
    /// handler whose (templated) name is that, with or without its `role : ` prefix, as
    /// ansible-core 2.18 does, plus every handler that `listen`s to it. A name nothing answers
    /// to fails the run at that host's next flush (ansible-core's "requested handler was not
    /// found" error).
    fn notify_handlers(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: &Task,
        notify: &[String],
        host: &str,
    ) {
        let mut vars = None;
        for raw in notify {
            let name = if crate::template::Templar::is_template(raw) {
                let vars =
                    vars.get_or_insert_with(|| self.task_vars(pctx, frame, Some(task), host));
                let search = self.search_paths(Some(task));
                let scope = Scope {
                    vars,
                    search_paths: &search,
                };
                self.templar
                    .template(&Value::String(raw.clone()), scope)
                    .map(|v| value_text(&v))
                    .unwrap_or_else(|_| raw.clone())
            } else {
                raw.clone()
            };
            let handlers = &pctx.play.handlers;
            let by_name = handlers.iter().enumerate().position(|(i, h)| {
                self.handler_name(pctx, i, h)
                    .is_some_and(|n| answers_to(&name, &n, h))
            });
            let listeners: Vec<usize> = handlers
                .iter()
                .enumerate()
                .filter(|(i, h)| {
                    Some(*i) != by_name && h.listen.iter().any(|l| answers_to(&name, l, h))
                })
                .map(|(i, _)| i)
                .collect();
            for i in by_name.into_iter().chain(listeners.iter().copied()) {
                pctx.notify(i, host);
            }
            if by_name.is_none() && listeners.is_empty() {
                pctx.add_missing(&name, host);
            }
        }
    }

    /// The name handler `i` answers to: its name templated once with the play's variables (no
    /// host's), as ansible-core 2.18 does when it first looks for a handler. A name that cannot
    /// be templated makes the handler unusable by name (a warning when it has no `listen`
    /// either; it is tried again at the next notification). An unnamed handler has no name.
    fn handler_name(&self, pctx: &PlayCtx, i: usize, handler: &Task) -> Option<String> {
        if let Some(n) = pctx.handler_name(i) {
            return Some(n);
        }
        let raw = handler.name.as_deref().filter(|n| !n.trim().is_empty())?;
        if !crate::template::Templar::is_template(raw) {
            pctx.set_handler_name(i, raw.to_string());
            return Some(raw.to_string());
        }
        let mut frame = Frame::for_play(&pctx.play.kw);
        frame.is_handler = true;
        let vars = self.hostless_task_vars(pctx, &frame, handler);
        let search = self.search_paths(Some(handler));
        let scope = Scope {
            vars: &vars,
            search_paths: &search,
        };
        match self
            .templar
            .template(&Value::String(raw.to_string()), scope)
        {
            Ok(v) => {
                let name = value_text(&v);
                pctx.set_handler_name(i, name.clone());
                Some(name)
            }
            Err(e) => {
                if handler.listen.is_empty() {
                    self.emit(Event::Warning {
                        message: format!(
                            "Handler '{raw}' is unusable because it has no listen topics and the name could not be templated (host-specific variables are not supported in handler names). The error: {}",
                            e.message
                        ),
                    });
                }
                None
            }
        }
    }

    /// Runs the notified handlers, in definition order, on the hosts that notified them. At
    /// the end of a section (`only` is `None`): the hosts still in the play (all of them with
    /// `force_handlers`). For a `meta: flush_handlers` (`only`: the hosts that ran it), those
    /// hosts, which are running (a host in a block's `always` after a failure included); a
    /// handler failing there is a failure of the flush, so a block's `rescue` takes it
    /// (`rescuable`). Returns the hosts that failed.
    pub(crate) fn run_handlers<'s>(
        &'s self,
        pctx: &'s PlayCtx,
        only: Option<&'s [String]>,
        rescuable: bool,
    ) -> Fut<'s, Vec<String>> {
        Box::pin(async move {
            let mut failed = Vec::new();
            // The hosts this flush is for: those running the meta task, else those still in
            // the play (all with `force_handlers`).
            let flushing = |h: &str| {
                !self.is_unreachable(h)
                    && match only {
                        Some(o) => o.iter().any(|x| x == h),
                        None => {
                            pctx.play.force_handlers
                                || self.opts.force_handlers
                                || !self.is_failed(h)
                        }
                    }
            };
            if let Some(name) = pctx.first_missing(&flushing) {
                let mut fatal = lock(&pctx.fatal);
                if fatal.is_none() {
                    *fatal = Some(format!(
                        "The requested handler '{name}' was not found in either the main handlers list nor in the listening handlers list"
                    ));
                }
                return failed;
            }
            let mut frame = Frame::for_play(&pctx.play.kw);
            frame.is_handler = true;
            frame.rescuable = rescuable;
            for (i, handler) in pctx.play.handlers.iter().enumerate() {
                if self.cancel.is_cancelled() || pctx.stopped() {
                    break;
                }
                let hosts: Vec<String> = pctx
                    .take_notified(i, only)
                    .into_iter()
                    .filter(|h| flushing(h) && !failed.contains(h))
                    .collect();
                if hosts.is_empty() {
                    continue;
                }
                if matches!(&handler.action, Action::Meta(m) if m == "flush_handlers") {
                    let mut fatal = lock(&pctx.fatal);
                    if fatal.is_none() {
                        *fatal = Some("flush_handlers cannot be used as a handler".into());
                    }
                    break;
                }
                failed.extend(self.run_task(pctx, &frame, handler, &hosts).await);
            }
            failed
        })
    }

    /// `meta:` actions. `when` is honoured per host for the host-scoped ones.
    async fn run_meta(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: &Task,
        kw: &Keywords,
        what: &str,
        hosts: &[String],
    ) -> Vec<String> {
        // As ansible-playbook: a `TASK [meta]` banner, `skipping:` for hosts whose condition is
        // false, nothing else shown and nothing counted in the recap.
        let info = self.task_info(pctx, frame, task);
        self.emit(if frame.is_handler {
            Event::HandlerStart { task: info.clone() }
        } else {
            Event::TaskStart { task: info.clone() }
        });
        let mut selected = Vec::new();
        for h in hosts {
            let vars = self.task_vars(pctx, frame, Some(task), h);
            let search = self.search_paths(Some(task));
            match self.check_when(kw, &vars, &search) {
                Ok(None) => {
                    self.meta_verbose_line(&meta_message(what, h, &role_of(frame, task)));
                    selected.push(h.clone());
                }
                _ => {
                    let reason = meta_skip_reason(what, h, &role_of(frame, task));
                    self.meta_verbose_line(&reason);
                    let mut r = Map::new();
                    r.insert("changed".into(), Value::Bool(false));
                    r.insert("skipped".into(), Value::Bool(true));
                    r.insert("skip_reason".into(), Value::String(reason));
                    self.emit(Event::HostResult {
                        host: h.clone(),
                        task: info.clone(),
                        status: Status::Skipped,
                        result: r,
                        item: None,
                        delegated_to: None,
                    });
                }
            }
        }
        match what {
            // Only the hosts whose condition holds flush; a handler failing fails them here.
            "flush_handlers" if !selected.is_empty() => {
                return self
                    .run_handlers(pctx, Some(&selected), frame.rescuable)
                    .await
            }
            "end_play" | "end_batch" if !selected.is_empty() => pctx.end_play(),
            "end_host" => selected.iter().for_each(|h| pctx.end_host(h)),
            "clear_facts" => selected
                .iter()
                .for_each(|h| self.update_host(h, |s| s.facts.clear())),
            // As Ansible: every host of the play gets its failed/unreachable state cleared.
            "clear_host_errors" if !selected.is_empty() => {
                for h in &pctx.batch {
                    lock(&self.failed).shift_remove(h);
                    lock(&self.unreachable).shift_remove(h);
                    pctx.clear_errors(h);
                }
            }
            "reset_connection" => {
                for h in &selected {
                    self.reset_connection(h).await;
                }
            }
            // noop, refresh_inventory (static inventory), end_role: nothing to do here.
            _ => {}
        }
        Vec::new()
    }

    /// ansible-playbook's `-vv` line for a meta task on a host (`META: noop`, `META: triggered
    /// running handlers for web1`, or the skip reason).
    fn meta_verbose_line(&self, msg: &str) {
        if self.opts.verbosity >= 2 {
            self.emit(Event::Output {
                line: format!("META: {msg}"),
            });
        }
    }

    /// Where `lookup('file')` and friends search: the role, the task's directory, the
    /// playbook directory.
    pub(crate) fn search_paths(&self, task: Option<&Task>) -> Vec<std::path::PathBuf> {
        let mut paths = Vec::new();
        if let Some(t) = task {
            if let Some(role) = &t.role {
                paths.push(role.path.clone());
            }
            paths.push(t.dir.clone());
        }
        if !paths.contains(&self.playbook_dir) {
            paths.push(self.playbook_dir.clone());
        }
        paths
    }

    /// `when` on a frame+task: `Ok(None)` when every condition holds, `Ok(Some(cond))` with the
    /// first false one, `Err((message, place))` when one cannot be evaluated (`place`: where
    /// that condition is written, when known; Ansible's error points there).
    pub(crate) fn check_when(
        &self,
        kw: &Keywords,
        vars: &Map,
        search: &[std::path::PathBuf],
    ) -> Result<Option<Value>, (String, Option<crate::playbook::Loc>)> {
        let scope = Scope {
            vars,
            search_paths: search,
        };
        for (i, cond) in kw.when.iter().enumerate() {
            let text = match cond {
                Value::Bool(true) | Value::Null => continue,
                Value::Bool(false) => return Ok(Some(Value::Bool(false))),
                Value::String(s) if s.trim().is_empty() => continue,
                Value::String(s) => s.clone(),
                Value::Number(n) => {
                    if n.as_f64() == Some(0.0) {
                        return Ok(Some(Value::Number(n.clone())));
                    }
                    continue;
                }
                other => other.to_string(),
            };
            match self.templar.condition(&text, scope) {
                Ok(true) => {}
                Ok(false) => return Ok(Some(self.false_condition(text, scope))),
                Err(e) => {
                    return Err((
                        format!(
                            "The conditional check '{text}' failed. The error was: error while evaluating conditional ({text}): {}",
                            e.message
                        ),
                        kw.when_locs.get(i).cloned().flatten(),
                    ))
                }
            }
        }
        Ok(None)
    }

    /// The `false_condition` of a skipped result: the conditional as written, except that a
    /// template (`when: "{{ flag }}"`) is shown by its value, as ansible-core shows it.
    fn false_condition(&self, text: String, scope: Scope) -> Value {
        if !text.contains("{{") {
            return Value::String(text);
        }
        self.templar
            .template(&Value::String(text.clone()), scope)
            .unwrap_or(Value::String(text))
    }

    /// A boolean keyword, templated when it is a string; `Ok(None)` when unset.
    pub(crate) fn bool_keyword(
        &self,
        value: &Option<Value>,
        vars: &Map,
        search: &[std::path::PathBuf],
    ) -> Result<Option<bool>, String> {
        let Some(v) = value else {
            return Ok(None);
        };
        let scope = Scope {
            vars,
            search_paths: search,
        };
        let templated = match v {
            Value::String(_) => self.templar.template(v, scope).map_err(|e| e.message)?,
            other => other.clone(),
        };
        crate::modules::argspec::to_bool(&templated).map(Some)
    }
}

/// Hosts that failed in a task list, each with the clear-errors generation it failed in, so
/// that `meta: clear_host_errors` (which bumps the generation) lets them go on.
#[derive(Default)]
struct Failures(Vec<(String, u64)>);

impl Failures {
    fn add(&mut self, pctx: &PlayCtx, hosts: Vec<String>) {
        for h in hosts {
            let generation = pctx.generation(&h);
            self.0.retain(|(f, _)| *f != h);
            self.0.push((h, generation));
        }
    }
    fn has(&self, pctx: &PlayCtx, host: &str) -> bool {
        self.0
            .iter()
            .any(|(h, g)| h == host && *g == pctx.generation(h))
    }
    fn current(&self, pctx: &PlayCtx) -> Vec<String> {
        self.0
            .iter()
            .filter(|(h, g)| *g == pctx.generation(h))
            .map(|(h, _)| h.clone())
            .collect()
    }
}

/// The role a task runs in, for meta messages (empty outside roles).
fn role_of(frame: &Frame, task: &Task) -> String {
    frame
        .roles
        .last()
        .map(|r| r.role.name.clone())
        .or_else(|| task.role.as_ref().map(|r| r.name.clone()))
        .unwrap_or_default()
}

/// What ansible-core says a meta action did on `host`.
fn meta_message(what: &str, host: &str, role: &str) -> String {
    match what {
        "flush_handlers" => format!("triggered running handlers for {host}"),
        "refresh_inventory" => "inventory successfully refreshed".into(),
        "clear_facts" => "facts cleared".into(),
        "clear_host_errors" => "cleared host errors".into(),
        "end_batch" => "ending batch".into(),
        "end_play" => "ending play".into(),
        "end_host" => format!("ending play for {host}"),
        "end_role" => format!("ending role {role} for {host}"),
        "reset_connection" => "reset connection".into(),
        other => other.to_string(),
    }
}

/// ansible-core's `skip_reason` for a meta action whose condition is false on `host`.
fn meta_skip_reason(what: &str, host: &str, role: &str) -> String {
    let base = format!("{what} conditional evaluated to False");
    let tail = match what {
        "flush_handlers" => format!(", not running handlers for {host}"),
        "clear_facts" => format!(", not clearing facts and fact cache for {host}"),
        "clear_host_errors" => format!(", not clearing host error state for {host}"),
        "end_play" => ", continuing play".into(),
        "end_batch" => ", continuing current batch".into(),
        "end_host" => format!(", continuing execution for {host}"),
        "end_role" => format!(", continuing role {role} for {host}"),
        "reset_connection" => format!(", not resetting connection for {host}"),
        _ => String::new(),
    };
    format!("{base}{tail}")
}

/// Whether `notification` names `label` (a handler's name or one of its `listen` topics):
/// as it is, or prefixed with the handler's role (`web : restart`; a collection role also by
/// its short name, `ns.col.web : restart` and `web : restart`).
fn answers_to(notification: &str, label: &str, handler: &Task) -> bool {
    if notification == label {
        return true;
    }
    let Some(role) = &handler.role else {
        return false;
    };
    let Some((prefix, rest)) = notification.split_once(" : ") else {
        return false;
    };
    let short = role.name.rsplit('.').next().unwrap_or(&role.name);
    rest == label && (prefix == role.name || prefix == short)
}

/// `ansible_failed_task`: the task's main attributes.
fn failed_task_map(task: &Task) -> Map {
    let mut m = Map::new();
    // The name as written (no `role : ` prefix), else the action, as Ansible's task `name`.
    let name = task
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| task.action_name.clone());
    m.insert("name".into(), Value::String(name));
    m.insert("action".into(), Value::String(task.action_name.clone()));
    if let Action::Module { args, .. } = &task.action {
        m.insert("args".into(), Value::Object(args.clone()));
    }
    m.insert(
        "path".into(),
        Value::String(format!("{}:{}", task.loc.file, task.loc.line)),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_messages_and_skip_reasons_are_ansibles() {
        assert_eq!(meta_message("noop", "h", ""), "noop");
        assert_eq!(
            meta_message("flush_handlers", "web1", ""),
            "triggered running handlers for web1"
        );
        assert_eq!(meta_message("end_role", "h", "r"), "ending role r for h");
        assert_eq!(
            meta_skip_reason("flush_handlers", "web1", ""),
            "flush_handlers conditional evaluated to False, not running handlers for web1"
        );
        assert_eq!(
            meta_skip_reason("end_play", "web1", ""),
            "end_play conditional evaluated to False, continuing play"
        );
        assert_eq!(
            meta_skip_reason("end_host", "web1", ""),
            "end_host conditional evaluated to False, continuing execution for web1"
        );
        assert_eq!(
            meta_skip_reason("noop", "web1", ""),
            "noop conditional evaluated to False"
        );
    }
}
