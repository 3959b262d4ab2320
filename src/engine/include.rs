//! Dynamic includes (`include_tasks`, `include_role`): per host (and loop item) the file
//! name or role name is templated, the file or role loaded, and the hosts that include the
//! same thing with the same parameters run it together, in the linear order. Include
//! parameters (the include's `vars` and the loop variable) sit at "include params"
//! precedence; the include's own keywords are not inherited, except those given in `apply`.
//! A successful include is reported once per file (`included: FILE for HOSTS`) and counts as
//! `ok` for each host.

use super::frame::Frame;
use super::host::HostOutcome;
use super::play_ctx::PlayCtx;
use super::result::{self, failed};
use super::run::Run;
use crate::playbook::{Action, Item, Keywords, RoleUse, Task};
use crate::report::{Event, TaskInfo};
use crate::template::Scope;
use crate::value_text;
use crate::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// A file or role a host includes, with the parameters it passes.
#[derive(Debug, Clone)]
pub(crate) struct Inclusion {
    /// What tells inclusions apart (the file's path, or the role's path).
    pub key: String,
    /// What `included: ... for ...` shows: the file's path, or the role's name.
    pub label: String,
    pub items: Vec<Item>,
    pub params: Map,
    pub apply: Option<Keywords>,
    pub role: Option<Arc<RoleUse>>,
    pub hosts: Vec<String>,
}

impl Run<'_> {
    /// `include_tasks`/`include_role`: per host (and loop item) the file or role is resolved
    /// and loaded, then the hosts that included the same thing run it together.
    pub(crate) async fn run_include(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: &Arc<Task>,
        kw: &Keywords,
        hosts: &[String],
    ) -> Vec<String> {
        let info = self.task_info(pctx, frame, task);
        self.emit(Event::TaskStart { task: info.clone() });
        let mut groups: indexmap::IndexMap<String, Inclusion> = indexmap::IndexMap::new();
        let mut failed = Vec::new();
        let mut outcomes = Vec::new();
        for host in hosts {
            let (outcome, inclusions) = self
                .resolve_include(pctx, frame, task, kw, host, &info)
                .await;
            // Each included file (each loop item) counts as one `ok`, the round adds the last.
            for _ in 1..inclusions.len() {
                self.stat(host, |s| s.ok += 1);
            }
            for inc in inclusions {
                let key = format!(
                    "{}|{}",
                    inc.key,
                    serde_json::Value::Object(inc.params.clone())
                );
                groups
                    .entry(key)
                    .or_insert_with(|| Inclusion {
                        hosts: Vec::new(),
                        ..inc.clone()
                    })
                    .hosts
                    .push(host.clone());
            }
            outcomes.push(outcome);
        }
        failed.extend(self.finish_round(pctx, frame, task, kw, hosts, outcomes, false));
        for inc in groups.values() {
            self.emit(Event::Included {
                task: info.clone(),
                file: inc.label.clone(),
                hosts: inc.hosts.clone(),
            });
        }
        for (_, inc) in groups {
            if self.cancel.is_cancelled() || pctx.stopped() {
                break;
            }
            let mut child = frame.clone();
            child.include_params.push(inc.params.clone());
            if let Some(apply) = &inc.apply {
                child = child.enter_block(apply, None);
            }
            if let Some(role) = &inc.role {
                child = child.enter_block(&Keywords::default(), Some(role));
            }
            let active: Vec<String> = inc
                .hosts
                .iter()
                .filter(|h| !failed.contains(h))
                .cloned()
                .collect();
            for h in self.run_items(pctx, &child, &inc.items, active).await {
                if !failed.contains(&h) {
                    failed.push(h);
                }
            }
        }
        failed
    }

    /// Resolves an `include_tasks`/`include_role` for one host: its result and what it
    /// includes (one inclusion per loop item).
    pub(crate) async fn resolve_include(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: &Arc<Task>,
        kw: &Keywords,
        host: &str,
        info: &TaskInfo,
    ) -> (HostOutcome, Vec<Inclusion>) {
        let vars = self.task_vars(pctx, frame, Some(task), host);
        let search = self.search_paths(Some(task));
        let ignore_errors = self
            .bool_keyword(&kw.ignore_errors, &vars, &search)
            .ok()
            .flatten()
            .unwrap_or(false);
        let done = |r: Map, incs: Vec<Inclusion>| {
            let outcome = self.finish_host(
                task,
                host,
                info,
                r,
                ignore_errors,
                false,
                None,
                false,
                false,
            );
            (outcome, incs)
        };
        match self.check_when(kw, &vars, &search) {
            Err((msg, at)) => {
                let msg = super::host::located_at(at.as_ref().unwrap_or(&task.loc), msg);
                return done(failed(msg), Vec::new());
            }
            Ok(Some(cond)) => return done(result::skipped_by_condition(&cond), Vec::new()),
            Ok(None) => {}
        }
        let scope = Scope {
            vars: &vars,
            search_paths: &search,
        };
        // Per loop item, the loop variables the included tasks see (as include params):
        // `loop_var` (default `item`), `index_var`, and `ansible_loop_var`.
        let items: Vec<Map> = match &task.loop_ {
            None => vec![Map::new()],
            Some(source) => match super::loops::items(&self.templar, source, scope) {
                Ok(list) => {
                    let control = match &task.loop_control {
                        Some(Value::Object(m)) => m.clone(),
                        _ => Map::new(),
                    };
                    let text_of = |key: &str| {
                        control
                            .get(key)
                            .map(|v| match self.templar.template(v, scope) {
                                Ok(t) => value_text(&t),
                                Err(_) => value_text(v),
                            })
                    };
                    let loop_var = text_of("loop_var").unwrap_or_else(|| "item".into());
                    let index_var = text_of("index_var");
                    list.into_iter()
                        .enumerate()
                        .map(|(index, item)| {
                            let mut m = Map::new();
                            m.insert(loop_var.clone(), item);
                            m.insert("ansible_loop_var".into(), Value::String(loop_var.clone()));
                            if let Some(iv) = &index_var {
                                m.insert(iv.clone(), Value::from(index));
                                m.insert("ansible_index_var".into(), Value::String(iv.clone()));
                            }
                            m
                        })
                        .collect()
                }
                Err(e) => return done(failed(self.template_failure(task, &e)), Vec::new()),
            },
        };
        let mut inclusions = Vec::new();
        let mut shown = Vec::new();
        for loop_vars in items {
            let mut ivars = vars.clone();
            ivars.extend(loop_vars.clone());
            let mut params = task.kw.vars.clone();
            params.extend(loop_vars);
            match self.load_inclusion(task, &ivars, &search, params, frame.is_handler) {
                Ok(inc) => {
                    shown.push(Value::String(inc.key.clone()));
                    inclusions.push(inc);
                }
                Err(msg) => return done(failed(msg), Vec::new()),
            }
        }
        let mut r = Map::new();
        r.insert("changed".into(), Value::Bool(false));
        r.insert(
            "include".into(),
            if shown.len() == 1 {
                shown[0].clone()
            } else {
                Value::Array(shown)
            },
        );
        done(r, inclusions)
    }

    fn load_inclusion(
        &self,
        task: &Task,
        vars: &Map,
        search: &[PathBuf],
        mut params: Map,
        as_handler: bool,
    ) -> Result<Inclusion, String> {
        let scope = Scope {
            vars,
            search_paths: search,
        };
        match &task.action {
            Action::IncludeTasks {
                file,
                params: extra,
                apply,
            } => {
                let name = self
                    .templar
                    .template(file, scope)
                    .map(|v| value_text(&v))
                    .map_err(|e| self.template_failure(task, &e))?;
                let mut candidates = vec![task.dir.join(&name)];
                if let Some(role) = &task.role {
                    candidates.push(role.path.join("tasks").join(&name));
                }
                candidates.push(self.playbook_dir.join(&name));
                let path = if std::path::Path::new(&name).is_absolute() {
                    Some(PathBuf::from(&name))
                } else {
                    candidates.into_iter().find(|p| p.is_file())
                }
                .filter(|p| p.is_file())
                .ok_or_else(|| self.located(task, format!("Could not find or access '{name}'")))?;
                let (items, _handlers) = crate::playbook::load_task_file_as(
                    &path,
                    &self.playbook_dir,
                    task.role.clone(),
                    as_handler,
                )
                .map_err(|e| e.to_string())?;
                params.extend(extra.clone());
                Ok(Inclusion {
                    key: path.display().to_string(),
                    label: path.display().to_string(),
                    items,
                    params,
                    apply: (!apply.is_empty()).then(|| keywords_from_map(apply)),
                    role: None,
                    hosts: Vec::new(),
                })
            }
            Action::IncludeRole {
                name,
                tasks_from,
                params: role_params,
                preloaded,
            } => {
                let (role, items) = match preloaded {
                    Some((role, items)) => (role.clone(), items.clone()),
                    None => {
                        let role_name = self
                            .templar
                            .template(name, scope)
                            .map(|v| value_text(&v))
                            .map_err(|e| self.template_failure(task, &e))?;
                        let (role, items, _handlers) = crate::playbook::load_role(
                            &role_name,
                            tasks_from.as_deref(),
                            &self.playbook_dir,
                            &task.loc,
                        )
                        .map_err(|e| e.to_string())?;
                        (role, items)
                    }
                };
                let mut all_params = role_params.clone();
                all_params.extend(params);
                Ok(Inclusion {
                    key: format!("role:{}", role.path.display()),
                    label: role.name.clone(),
                    items,
                    params: Map::new(),
                    apply: None,
                    role: Some(Arc::new(RoleUse {
                        role,
                        params: all_params,
                    })),
                    hosts: Vec::new(),
                })
            }
            _ => Err("internal error: not an include".into()),
        }
    }
}

/// `apply:` keywords of `include_tasks` (tags, when, become, ignore_errors, no_log,
/// environment, vars).
fn keywords_from_map(m: &Map) -> Keywords {
    let list = |v: &Value| match v {
        Value::Array(l) => l.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    let mut kw = Keywords::default();
    for (k, v) in m {
        match k.as_str() {
            "tags" => kw.tags = list(v).iter().map(value_text).collect(),
            "when" => kw.when = list(v),
            "become" => kw.become_ = Some(v.clone()),
            "become_user" => kw.become_user = Some(v.clone()),
            "ignore_errors" => kw.ignore_errors = Some(v.clone()),
            "no_log" => kw.no_log = Some(v.clone()),
            "environment" => kw.environment = list(v),
            "vars" => {
                if let Value::Object(vars) = v {
                    kw.vars = vars.clone();
                }
            }
            _ => {}
        }
    }
    kw
}
