//! One task on one host: `when` (per loop item), loops and `loop_control`, templating of the
//! arguments with `omit` removal, argument normalisation, the module call over the host's
//! connection (or the delegated host's), `until`/`retries`/`delay`, `changed_when`/
//! `failed_when`, `register`, `no_log`, and the requests a result makes to the engine
//! (`ansible_facts`, `add_host`).
//!
//! Dry-run: modules that touch a host are not run; their result is `{changed: false,
//! dry_run: true, would_run: {module, args}}` (args templated and normalised, so bad
//! arguments and undefined variables still fail). Facts are a placeholder set
//! ([`placeholder_facts`]).

use super::frame::Frame;
use super::lock;
use super::play_ctx::PlayCtx;
use super::result::{self, failed};
use super::run::Run;
use crate::connection::local::LocalConnection;
use crate::connection::{ConnError, Connection};
use crate::modules::ModuleContext;
use crate::playbook::{Action, Keywords, LoadError, Task};
use crate::report::{Event, Status, TaskInfo};
use crate::template::{Scope, TemplateError};
use crate::value_text;
use crate::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How one host's round ended.
#[derive(Debug, Clone)]
pub(crate) struct HostOutcome {
    pub host: String,
    pub status: Status,
    pub result: Map,
    pub ignore_unreachable: bool,
}

/// The task's settings that hold for all of its items on one host.
struct HostTask<'t> {
    task: &'t Task,
    kw: &'t Keywords,
    host: &'t str,
    info: &'t TaskInfo,
    search: Vec<PathBuf>,
    ignore_errors: bool,
    no_log: bool,
    delegate: Option<String>,
}

impl Run<'_> {
    pub(crate) async fn run_on_host(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: &Task,
        kw: &Keywords,
        host: &str,
        info: &TaskInfo,
    ) -> HostOutcome {
        let vars = self.task_vars(pctx, frame, Some(task), host);
        let search = self.search_paths(Some(task));
        let ignore_errors = self
            .bool_keyword(&kw.ignore_errors, &vars, &search)
            .ok()
            .flatten()
            .unwrap_or(false);
        let ignore_unreachable = self
            .bool_keyword(&kw.ignore_unreachable, &vars, &search)
            .ok()
            .flatten()
            .unwrap_or(false);
        let no_log = self
            .bool_keyword(&kw.no_log, &vars, &search)
            .ok()
            .flatten()
            .unwrap_or(false);
        let delegate = match self.delegate_target(kw, &vars, &search, host) {
            Ok(d) => d,
            Err(msg) => {
                return self.finish_host(
                    task,
                    host,
                    info,
                    failed(msg),
                    ignore_errors,
                    no_log,
                    None,
                    false,
                    ignore_unreachable,
                )
            }
        };
        let ht = HostTask {
            task,
            kw,
            host,
            info,
            search,
            ignore_errors,
            no_log,
            delegate,
        };
        let (result, looped) = match &task.loop_ {
            None => {
                let r = match self.check_when(kw, &vars, &ht.search) {
                    Err((msg, at)) => failed(located_at(at.as_ref().unwrap_or(&task.loc), msg)),
                    Ok(Some(cond)) => result::skipped_by_condition(&cond),
                    Ok(None) => self.execute(pctx, &ht, &vars).await,
                };
                (r, false)
            }
            Some(source) => (self.run_loop(pctx, frame, &ht, source, vars).await, true),
        };
        let delegate = ht.delegate.clone();
        self.finish_host(
            task,
            host,
            info,
            result,
            ignore_errors,
            no_log,
            delegate,
            looped,
            ignore_unreachable,
        )
    }

    /// Registers, reports and classifies a host's final result.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn finish_host(
        &self,
        task: &Task,
        host: &str,
        info: &TaskInfo,
        result: Map,
        ignore_errors: bool,
        no_log: bool,
        delegate: Option<String>,
        looped: bool,
        ignore_unreachable: bool,
    ) -> HostOutcome {
        if let Some(reg) = &task.register {
            let value = Value::Object(result::for_register(&result));
            self.update_host(host, |s| s.register(reg, value));
        }
        let status = result::status_of(&result, ignore_errors);
        let shown = if no_log {
            censor_loop(&result, looped)
        } else {
            result.clone()
        };
        // A successful include is reported once per included file (`included: ... for ...`).
        let is_include = matches!(
            task.action,
            Action::IncludeTasks { .. } | Action::IncludeRole { .. }
        );
        if !(is_include && status == Status::Ok) {
            self.emit(Event::HostResult {
                host: host.to_string(),
                task: info.clone(),
                status,
                result: shown,
                item: None,
                delegated_to: delegate,
            });
        }
        HostOutcome {
            host: host.to_string(),
            status,
            result,
            ignore_unreachable,
        }
    }

    /// `delegate_to`, templated; `None` when absent or the host itself.
    fn delegate_target(
        &self,
        kw: &Keywords,
        vars: &Map,
        search: &[PathBuf],
        host: &str,
    ) -> Result<Option<String>, String> {
        let Some(v) = &kw.delegate_to else {
            return Ok(None);
        };
        let scope = Scope {
            vars,
            search_paths: search,
        };
        let target = self.templar.template(v, scope).map_err(|e| e.message)?;
        let name = value_text(&target);
        if name.is_empty() || name == host {
            return Ok(None);
        }
        Ok(Some(name))
    }

    /// A loop: items from `loop`/`with_*`, `when` per item, one result per item, aggregated.
    async fn run_loop(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        ht: &HostTask<'_>,
        source: &crate::playbook::LoopSource,
        vars: Map,
    ) -> Map {
        let scope = Scope {
            vars: &vars,
            search_paths: &ht.search,
        };
        let control = match &ht.task.loop_control {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let text_of = |key: &str| -> Option<String> {
            control
                .get(key)
                .and_then(|v| self.templar.template(v, scope).ok())
                .map(|v| value_text(&v))
        };
        let loop_var = text_of("loop_var").unwrap_or_else(|| "item".into());
        let index_var = text_of("index_var");
        let pause: f64 = text_of("pause").and_then(|p| p.parse().ok()).unwrap_or(0.0);
        let extended = control
            .get("extended")
            .map(|v| crate::modules::argspec::to_bool(v).unwrap_or(false))
            .unwrap_or(false);
        let items = match super::loops::items(&self.templar, source, scope) {
            Ok(items) => items,
            Err(e) => {
                // A loop that cannot be templated is skipped when the task's condition is
                // false without it, as Ansible does.
                if let Ok(Some(cond)) = self.check_when(ht.kw, &vars, &ht.search) {
                    return result::skipped_by_condition(&cond);
                }
                return failed(self.template_failure(ht.task, &e));
            }
        };
        if items.is_empty() {
            return result::skipped_empty_loop();
        }
        let total = items.len();
        let mut results: Vec<Map> = Vec::new();
        // The task variables are built once and only the loop variables change per item; they
        // are built again when an item changed a host's variables (`set_fact` in a loop sees
        // the previous items' facts). Copying them per item would copy every registered result.
        let mut ivars = vars;
        let mut built_at = self.vars_generation();
        for (index, item) in items.iter().enumerate() {
            if self.cancel.is_cancelled() {
                break;
            }
            if index > 0 && self.vars_generation() != built_at {
                built_at = self.vars_generation();
                ivars = self.task_vars(pctx, frame, Some(ht.task), ht.host);
            }
            insert_data(&mut ivars, &loop_var, item.clone());
            ivars.insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
            if let Some(iv) = &index_var {
                ivars.insert(iv.clone(), Value::from(index));
                ivars.insert("ansible_index_var".into(), Value::String(iv.clone()));
            }
            let loop_info = extended.then(|| extended_loop_info(&items, index));
            if let Some(info) = &loop_info {
                ivars.insert("ansible_loop".into(), info.clone());
            }
            let mut r = match self.check_when(ht.kw, &ivars, &ht.search) {
                Err((msg, at)) => failed(located_at(at.as_ref().unwrap_or(&ht.task.loc), msg)),
                Ok(Some(cond)) => result::skipped_by_condition(&cond),
                Ok(None) => self.execute(pctx, ht, &ivars).await,
            };
            r.insert(loop_var.clone(), item.clone());
            r.insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
            if let Some(iv) = &index_var {
                r.insert(iv.clone(), Value::from(index));
                r.insert("ansible_index_var".into(), Value::String(iv.clone()));
            }
            if let Some(info) = loop_info {
                r.insert("ansible_loop".into(), info);
            }
            let label = match control.get("label") {
                Some(l) => {
                    let s = Scope {
                        vars: &ivars,
                        search_paths: &ht.search,
                    };
                    self.templar.template(l, s).unwrap_or_else(|_| l.clone())
                }
                None => item.clone(),
            };
            let status = result::status_of(&r, ht.ignore_errors);
            let shown = if ht.no_log {
                result::censor(&r)
            } else {
                r.clone()
            };
            self.emit(Event::HostResult {
                host: ht.host.to_string(),
                task: ht.info.clone(),
                status,
                result: shown,
                item: Some(if ht.no_log {
                    Value::String("(censored due to no_log)".into())
                } else {
                    label
                }),
                delegated_to: ht.delegate.clone(),
            });
            let unreachable = result::flag(&r, "unreachable");
            results.push(r);
            if unreachable {
                break;
            }
            if pause > 0.0 && index + 1 < total {
                self.sleep(Duration::from_secs_f64(pause)).await;
            }
        }
        let unreachable = results.iter().any(|r| result::flag(r, "unreachable"));
        let mut agg = result::aggregate(results);
        if unreachable {
            agg.insert("unreachable".into(), Value::Bool(true));
        }
        agg
    }

    /// Sleeps unless the run is cancelled first.
    async fn sleep(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.cancel.cancelled() => {}
        }
    }

    /// One item: the module call, repeated for `until`/`retries`, then `changed_when` and
    /// `failed_when` with the registered name bound to the result.
    async fn execute(&self, pctx: &PlayCtx, ht: &HostTask<'_>, vars: &Map) -> Map {
        let task = ht.task;
        let scope = Scope {
            vars,
            search_paths: &ht.search,
        };
        let has_until = !task.until.is_empty();
        let retrying = has_until || task.retries.is_some();
        let retries = if retrying {
            match task
                .retries
                .as_ref()
                .map(|v| self.templar.template(v, scope))
            {
                Some(Ok(v)) => value_text(&v).parse::<i64>().unwrap_or(3).max(0) as u32,
                Some(Err(e)) => return failed(self.template_failure(task, &e)),
                None => 3,
            }
        } else {
            0
        };
        let delay = match task.delay.as_ref().map(|v| self.templar.template(v, scope)) {
            Some(Ok(v)) => value_text(&v).parse::<f64>().unwrap_or(5.0).max(0.0),
            Some(Err(e)) => return failed(self.template_failure(task, &e)),
            None => 5.0,
        };
        let mut attempt: u32 = 0;
        // Facts a result sets are visible to the next attempt and to the conditions, as in
        // Ansible's retry loop. The variables are copied only when something changes them
        // (they can hold large registered results, and a loop runs this per item).
        let mut cur_vars = std::borrow::Cow::Borrowed(vars);
        let has_conditions = has_until || task.changed_when.is_some() || task.failed_when.is_some();
        loop {
            attempt += 1;
            let mut r = self.execute_once(pctx, ht, &cur_vars).await;
            if result::flag(&r, "unreachable") {
                return r;
            }
            // As in Ansible, a retried task's result carries `attempts` while `until` is
            // evaluated (`until: result.attempts >= 2`), and `retries` alone counts them too.
            if retrying {
                r.insert("attempts".into(), Value::from(attempt));
            }
            if r.contains_key("ansible_facts") {
                merge_result_facts(cur_vars.to_mut(), task.module_name().unwrap_or(""), &r);
            }
            let mut cond_vars = Map::new();
            if has_conditions {
                cond_vars = cur_vars.as_ref().clone();
                if let Some(reg) = &task.register {
                    insert_data(&mut cond_vars, reg, Value::Object(result::for_register(&r)));
                }
                self.apply_changed_failed_when(task, &mut r, &cond_vars, &ht.search);
            }
            if !retrying {
                return r;
            }
            if let Some(reg) = &task.register {
                insert_data(&mut cond_vars, reg, Value::Object(result::for_register(&r)));
            }
            let done = if has_until {
                let s = Scope {
                    vars: &cond_vars,
                    search_paths: &ht.search,
                };
                let mut all = Ok(true);
                for cond in &task.until {
                    match cond {
                        Value::String(text) => match self.templar.condition(text, s) {
                            Ok(true) => {}
                            Ok(false) => {
                                all = Ok(false);
                                break;
                            }
                            Err(e) => {
                                all = Err(format!(
                                    "The conditional check '{text}' failed. The error was: error while evaluating conditional ({text}): {}",
                                    e.message
                                ));
                                break;
                            }
                        },
                        Value::Bool(false) => {
                            all = Ok(false);
                            break;
                        }
                        _ => {}
                    }
                }
                match all {
                    Ok(b) => b,
                    Err(msg) => {
                        r.insert("failed".into(), Value::Bool(true));
                        r.insert("msg".into(), Value::String(msg));
                        return r;
                    }
                }
            } else {
                !result::flag(&r, "failed")
            };
            if done {
                return r;
            }
            if attempt > retries {
                // As ansible-core: exhausted, `attempts` reports the retries, not the runs,
                // and the result says `failed`; a `failed_when` verdict still decides the
                // task's status (see `result::is_failed`).
                r.insert("attempts".into(), Value::from(retries));
                r.insert("failed".into(), Value::Bool(true));
                return r;
            }
            self.emit(Event::Retry {
                host: ht.host.to_string(),
                task: ht.info.clone(),
                retries_left: retries + 1 - attempt,
                result: if ht.no_log {
                    result::censor(&r)
                } else {
                    r.clone()
                },
            });
            self.sleep(Duration::from_secs_f64(delay)).await;
            if self.cancel.is_cancelled() {
                return r;
            }
        }
    }

    /// `changed_when` first, then `failed_when` (which also records `failed_when_result`).
    fn apply_changed_failed_when(&self, task: &Task, r: &mut Map, vars: &Map, search: &[PathBuf]) {
        if result::flag(r, "skipped") {
            return;
        }
        let eval = |conds: &[Value]| -> Result<bool, String> {
            let scope = Scope {
                vars,
                search_paths: search,
            };
            for c in conds {
                let ok = match c {
                    Value::Bool(b) => *b,
                    Value::Null => true,
                    Value::String(text) => self.templar.condition(text, scope).map_err(|e| {
                        format!(
                            "The conditional check '{text}' failed. The error was: error while evaluating conditional ({text}): {}",
                            e.message
                        )
                    })?,
                    other => self.templar.condition(&other.to_string(), scope).map_err(|e| e.message)?,
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        if let Some(conds) = &task.changed_when {
            match eval(conds) {
                Ok(b) => {
                    r.insert("changed".into(), Value::Bool(b));
                }
                Err(msg) => {
                    r.insert("failed".into(), Value::Bool(true));
                    r.insert("msg".into(), Value::String(msg));
                    return;
                }
            }
        }
        if let Some(conds) = &task.failed_when {
            match eval(conds) {
                Ok(b) => {
                    r.insert("failed".into(), Value::Bool(b));
                    r.insert("failed_when_result".into(), Value::Bool(b));
                }
                Err(msg) => {
                    r.insert("failed".into(), Value::Bool(true));
                    r.insert("failed_when_result".into(), Value::Bool(true));
                    r.insert("msg".into(), Value::String(msg));
                }
            }
        }
    }

    /// One module call: templated and normalised arguments, connection, become,
    /// environment, timeout, check mode; then the result's requests to the engine.
    async fn execute_once(&self, pctx: &PlayCtx, ht: &HostTask<'_>, vars: &Map) -> Map {
        let task = ht.task;
        let Action::Module { module, args } = &task.action else {
            return failed("internal error: not a module task");
        };
        let module = *module;
        let scope = Scope {
            vars,
            search_paths: &ht.search,
        };
        let templated = match self.templar.template(&Value::Object(args.clone()), scope) {
            Ok(Value::Object(m)) => m,
            Ok(other) => {
                return failed(format!(
                    "module arguments must be a mapping, got {}",
                    value_text(&other)
                ))
            }
            Err(e) => return failed(self.template_failure_with_keys(task, &e, scope)),
        };
        let mut args = remove_omit(templated, self.templar.omit_token());
        if self.dry_run {
            super::hook_dir::redirect_args(&mut args, &self.playbook_dir);
        }
        // What the task itself set (templated), for dry-run's `would_run`; values of
        // `no_log` parameters (passwords) are masked as in Ansible's `invocation`.
        let mut given = args.clone();
        for (name, value) in given.iter_mut() {
            if module.spec().param(name).is_some_and(|p| p.no_log) {
                *value = Value::String("VALUE_SPECIFIED_IN_NO_LOG_PARAMETER".into());
            }
        }
        let args = if module.accepts_any_args() {
            args
        } else {
            match module.spec().normalize(&task.action_name, args) {
                Ok(a) => a,
                Err(msg) => return failed(msg),
            }
        };
        let settings = match self.call_settings(ht.kw, vars, &ht.search) {
            Ok(s) => s,
            Err(msg) => return failed(self.located(task, msg)),
        };
        let remote = module.touches_host();
        if self.dry_run && remote {
            let mut r = would_run(module.fqcn(), &given, ht.no_log, ht.delegate.as_deref());
            if let Some(facts) = module.dry_run_facts(&args) {
                r.insert("ansible_facts".into(), Value::Object(facts));
                self.apply_requests(pctx, module.name(), &mut r, ht, vars);
            }
            return r;
        }
        let template_keyword = |v: &Value| {
            self.templar
                .template(v, scope)
                .map_err(|e| self.template_failure_with_keys(task, &e, scope))
        };
        let job = match super::async_task::job_for(
            task.async_.as_ref(),
            task.poll.as_ref(),
            module,
            settings.check_mode,
            &template_keyword,
        ) {
            Ok(job) => job,
            Err(msg) => return failed(msg),
        };
        let conn: Arc<dyn Connection> = if remote {
            let (name, conn_vars) = match &ht.delegate {
                Some(d) => (d.clone(), self.delegated_vars(d)),
                None => (ht.host.to_string(), vars.clone()),
            };
            match self.connection(&name, &conn_vars, ht.kw) {
                Ok(c) => c,
                Err(msg) => return failed(msg),
            }
        } else {
            Arc::new(LocalConnection::new())
        };
        let conn: Arc<dyn Connection> = match &job {
            Some(job) => Arc::new(super::async_task::AsyncConnection::new(conn, job.clone())),
            None => conn,
        };
        let ctx = ModuleContext {
            host: ht.host,
            conn: &*conn,
            check_mode: settings.check_mode,
            diff: settings.diff,
            become_: settings.become_,
            env: settings.env,
            timeout: settings.timeout,
            templar: &self.templar,
            scope,
            kube: &*self.kube,
            verbosity: self.opts.verbosity,
        };
        let outcome = tokio::select! {
            r = module.run(args, &ctx) => r,
            _ = self.cancel.cancelled() => Err(ConnError::Other("interrupted: the run was cancelled".into())),
        };
        let mut r = match outcome {
            Ok(r) => result::normalize(r),
            Err(ConnError::Unreachable(msg)) => {
                let mut r = Map::new();
                r.insert("unreachable".into(), Value::Bool(true));
                r.insert("changed".into(), Value::Bool(false));
                r.insert("msg".into(), Value::String(msg));
                r
            }
            Err(e @ ConnError::Timeout(period)) => {
                // As ansible-core's task timeout: `timedout` with the period (and, there, the
                // Python frame it interrupted).
                let mut r = failed(e.to_string());
                r.insert("changed".into(), Value::Bool(false));
                r.insert(
                    "timedout".into(),
                    serde_json::json!({"frame": "the task's command", "period": period}),
                );
                r
            }
            Err(e) => failed(e.to_string()),
        };
        if let Some(job) = &job {
            job.finish(&mut r);
        }
        if !module.accepts_any_args() {
            warn_ignored_params(&mut r, module, &given);
        }
        if !result::flag(&r, "failed") && !result::flag(&r, "unreachable") {
            self.apply_requests(pctx, module.name(), &mut r, ht, vars);
        }
        r
    }

    /// `ansible_facts`, `add_host`, `add_group` and `ansible_stats` in a result, applied to
    /// the run.
    fn apply_requests(
        &self,
        _pctx: &PlayCtx,
        module: &str,
        r: &mut Map,
        ht: &HostTask<'_>,
        vars: &Map,
    ) {
        // `debug: var=ansible_facts` shows facts; it does not set them (ansible/ansible#74060).
        let sets_facts = module != "debug";
        if let Some(Value::Object(facts)) = r.get("ansible_facts").cloned().filter(|_| sets_facts) {
            let cacheable = result::flag(r, "_ansible_facts_cacheable");
            let delegate_facts = self
                .bool_keyword(&ht.kw.delegate_facts, vars, &ht.search)
                .ok()
                .flatten()
                .unwrap_or(false);
            let target = match (&ht.delegate, delegate_facts) {
                (Some(d), true) => d.clone(),
                _ => ht.host.to_string(),
            };
            self.update_host(&target, |s| match module {
                "set_fact" => {
                    s.set_fact(facts.clone());
                    if cacheable {
                        s.facts.extend(facts);
                    }
                }
                "include_vars" => s.include_vars.extend(facts),
                _ => s.facts.extend(facts),
            });
        }
        if let Some(Value::Object(add)) = r.get("add_host") {
            let name = add.get("host_name").map(value_text).unwrap_or_default();
            let groups: Vec<String> = match add.get("groups") {
                Some(Value::Array(list)) => list.iter().map(value_text).collect(),
                _ => Vec::new(),
            };
            let host_vars = match add.get("host_vars") {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            if !name.is_empty() {
                let changed = lock(&self.inventory).add_host(&name, &groups, host_vars);
                self.vars_changed();
                lock(&self.added_hosts).insert(name.clone());
                r.insert("changed".into(), Value::Bool(changed));
            }
        }
        if let Some(Value::String(group)) = r.get("add_group") {
            let parents: Vec<String> = match r.get("parent_groups") {
                Some(Value::Array(list)) => list.iter().map(value_text).collect(),
                _ => Vec::new(),
            };
            let changed = lock(&self.inventory).add_dynamic_group(ht.host, group, &parents);
            self.vars_changed();
            r.insert("changed".into(), Value::Bool(changed));
        }
        if let Some(Value::Object(stats)) = r.get("ansible_stats") {
            self.record_custom_stats(ht.host, stats);
        }
    }

    /// `set_stats`' request: its data recorded for the run, or for `host` with `per_host`.
    fn record_custom_stats(&self, host: &str, stats: &Map) {
        let flag = |key: &str| stats.get(key).and_then(Value::as_bool).unwrap_or(false);
        let Some(Value::Object(data)) = stats
            .get("data")
            .filter(|d| d.as_object().is_some_and(|m| !m.is_empty()))
        else {
            return;
        };
        let owner = if flag("per_host") { host } else { "_run" };
        let mut custom = lock(&self.custom_stats);
        let slot = custom
            .entry(owner.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(slot) = slot {
            for (key, value) in data {
                crate::modules::set_stats::record(slot, key, value.clone(), flag("aggregate"));
            }
        }
    }

    /// The delegated host's variables (inventory and facts; the implicit localhost's own).
    fn delegated_vars(&self, host: &str) -> Map {
        let mut inv = lock(&self.inventory);
        if !inv.has_host(host) && crate::inventory::LOCALHOST_NAMES.contains(&host) {
            inv.implicit_localhost(host);
        }
        let mut vars = inv.host_vars(host);
        drop(inv);
        vars.extend(crate::vars::fact_vars(&self.host_state(host).facts));
        vars
    }

    /// A task-level message with Ansible's location paragraph.
    pub(crate) fn located(&self, task: &Task, msg: String) -> String {
        located_at(&task.loc, msg)
    }

    /// [`Self::template_failure`], and in dry-run, for a missing key, a last line with the keys
    /// that do exist at that level (Ansible's text stays as it is; a real run shows only it).
    pub(crate) fn template_failure_with_keys(
        &self,
        task: &Task,
        e: &TemplateError,
        scope: Scope,
    ) -> String {
        let msg = self.template_failure(task, e);
        let Some(path) = e.undefined.as_deref().filter(|_| self.dry_run) else {
            return msg;
        };
        let keys = self.templar.sibling_keys(path, scope);
        let Some((parent, _)) = path.rsplit_once('.').filter(|_| !keys.is_empty()) else {
            return msg;
        };
        let sep = if msg.ends_with('\n') { "" } else { "\n" };
        format!(
            "{msg}{sep}hook-runner dry-run: `{path}` does not exist; `{parent}` has: {}",
            keys.join(", ")
        )
    }

    /// A templating failure in a task's options, worded as Ansible words it: an undefined
    /// variable is located in the playbook (ansible-core raises it with the task's source);
    /// any other failure (a lookup's, a syntax error) is its message alone, as there.
    pub(crate) fn template_failure(&self, task: &Task, e: &TemplateError) -> String {
        if e.undefined.is_none() {
            return e.message.clone();
        }
        // ansible-core 2.18's wording, double full stop included.
        let msg = format!(
            "The task includes an option with an undefined variable.. {}",
            e.message
        );
        self.located(task, msg)
    }
}

/// `msg` with Ansible's location paragraph for `loc`; like ansible-core's error text, it
/// ends with a newline after the `^ here` line.
pub(crate) fn located_at(loc: &crate::playbook::Loc, msg: String) -> String {
    let context = LoadError::new(loc.clone(), "").ansible_context();
    if context.ends_with("^ here") {
        format!("{msg}\n\n{context}\n")
    } else {
        format!("{msg}\n\n{context}")
    }
}

/// Sets a variable whose value is data (a registered result, a loop item that was already
/// templated): it is listed among the names the templar must not template again.
fn insert_data(vars: &mut Map, name: &str, value: Value) {
    vars.insert(name.to_string(), value);
    let key = crate::template::UNSAFE_VARS;
    let entry = vars
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(names) = entry {
        if !names.iter().any(|n| n.as_str() == Some(name)) {
            names.push(Value::String(name.to_string()));
        }
    }
}

/// Adds the facts a result carries to `vars` (set_fact/include_vars as plain variables,
/// others as facts: namespaced and injected).
fn merge_result_facts(vars: &mut Map, module: &str, r: &Map) {
    let Some(Value::Object(facts)) = r.get("ansible_facts") else {
        return;
    };
    if module == "debug" {
        return;
    }
    if matches!(module, "set_fact" | "include_vars") {
        vars.extend(facts.clone());
        return;
    }
    let injected = crate::vars::fact_vars(facts);
    let mut namespaced = match vars.get("ansible_facts") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if let Some(Value::Object(new)) = injected.get("ansible_facts") {
        namespaced.extend(new.clone());
    }
    for (k, v) in injected {
        vars.insert(k, v);
    }
    vars.insert("ansible_facts".into(), Value::Object(namespaced));
}

/// Removes arguments equal to the omit token, in dicts at any depth (list elements stay, as
/// in Ansible's `remove_omit`).
pub(crate) fn remove_omit(args: Map, omit: &str) -> Map {
    fn clean(v: Value, omit: &str) -> Option<Value> {
        match v {
            Value::String(s) if s == omit => None,
            Value::Object(m) => Some(Value::Object(
                m.into_iter()
                    .filter_map(|(k, v)| clean(v, omit).map(|v| (k, v)))
                    .collect(),
            )),
            Value::Array(list) => Some(Value::Array(
                list.into_iter()
                    .map(|v| match v {
                        Value::Object(_) => clean(v, omit).unwrap_or(Value::Null),
                        other => other,
                    })
                    .collect(),
            )),
            other => Some(other),
        }
    }
    args.into_iter()
        .filter_map(|(k, v)| clean(v, omit).map(|v| (k, v)))
        .collect()
}

/// The dry-run result of a remote module.
fn would_run(fqcn: &str, args: &Map, no_log: bool, delegate: Option<&str>) -> Map {
    let mut plan = Map::new();
    plan.insert("module".into(), Value::String(fqcn.to_string()));
    plan.insert(
        "args".into(),
        if no_log {
            Value::String(result::NO_LOG_MESSAGE.into())
        } else {
            Value::Object(args.clone())
        },
    );
    if let Some(d) = delegate {
        plan.insert("delegate_to".into(), Value::String(d.to_string()));
    }
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r.insert("dry_run".into(), Value::Bool(true));
    r.insert("would_run".into(), Value::Object(plan));
    r
}

/// Adds a warning to the result naming the parameters the task set that the module accepts
/// but does not implement ([`crate::modules::argspec::Param::ignored`]).
fn warn_ignored_params(r: &mut Map, module: &dyn crate::modules::Module, given: &Map) {
    let ignored = module.spec().ignored_given(given);
    if ignored.is_empty() {
        return;
    }
    let warning = format!(
        "{}: hook-runner does not implement {} and ignores {}",
        module.fqcn(),
        ignored.join(", "),
        if ignored.len() == 1 { "it" } else { "them" }
    );
    match r
        .entry("warnings")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(list) => list.push(Value::String(warning)),
        other => *other = Value::Array(vec![Value::String(warning)]),
    }
}

/// The censored form of a final result (each item of a loop censored).
fn censor_loop(r: &Map, looped: bool) -> Map {
    let mut out = result::censor(r);
    if looped {
        if let Some(Value::Array(items)) = r.get("results") {
            let censored = items
                .iter()
                .map(|i| match i {
                    Value::Object(m) => Value::Object(result::censor(m)),
                    other => other.clone(),
                })
                .collect();
            out.insert("results".into(), Value::Array(censored));
        }
    }
    out
}

/// `ansible_loop` for `loop_control: {extended: true}`.
fn extended_loop_info(items: &[Value], index: usize) -> Value {
    let len = items.len();
    let mut info = serde_json::json!({
        "allitems": items,
        "index": index + 1,
        "index0": index,
        "revindex": len - index,
        "revindex0": len - index - 1,
        "first": index == 0,
        "last": index + 1 == len,
        "length": len,
    });
    // As Ansible: no `previtem` on the first item, no `nextitem` on the last.
    if let Value::Object(m) = &mut info {
        if index > 0 {
            m.insert("previtem".into(), items[index - 1].clone());
        }
        if let Some(next) = items.get(index + 1) {
            m.insert("nextitem".into(), next.clone());
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn omit_is_removed_from_dicts_not_lists() {
        let args = match json!({"a": "OMIT", "b": {"c": "OMIT", "d": 1}, "e": ["OMIT", {"f": "OMIT"}]})
        {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let out = remove_omit(args, "OMIT");
        assert_eq!(
            Value::Object(out),
            json!({"b": {"d": 1}, "e": ["OMIT", {}]})
        );
    }
}
