//! One play: its hosts, batches (`serial`), `vars_files`, fact gathering, sections
//! (`pre_tasks` → handlers → roles and `tasks` → handlers → `post_tasks` → handlers).
//!
//! A host failed or unreachable in an earlier play is not part of later plays. If every host
//! of a batch ends failed or unreachable, the rest of the playbook does not run.

use super::frame::Frame;
use super::lock;
use super::play_ctx::PlayCtx;
use super::run::Run;
use crate::playbook::Play;
use crate::report::Event;
use crate::template::Scope;
use crate::vars::PlayMagic;
use crate::{value_text, Map, Value};
use indexmap::IndexSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a play ended for the playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlayEnd {
    Continue,
    /// Every host of a batch failed: later batches and plays do not run.
    StopPlaybook,
}

impl Run<'_> {
    /// Runs one play. `Err` is an error outside tasks (exit code 1).
    pub(crate) async fn run_play(&self, play: &Arc<Play>) -> Result<PlayEnd, String> {
        let base_vars = self.play_level_vars(play);
        let name = self.play_name(play, &base_vars);
        let pattern_values = match &play.hosts {
            Value::Array(list) => list.clone(),
            other => vec![other.clone()],
        };
        let mut patterns = Vec::new();
        for p in &pattern_values {
            let scope = Scope {
                vars: &base_vars,
                search_paths: &[],
            };
            let templated = self
                .templar
                .template(p, scope)
                .map_err(|e| field_error(play, "hosts", &e))?;
            match templated {
                Value::Array(list) => patterns.extend(list.iter().map(value_text)),
                other => patterns.push(value_text(&other)),
            }
        }
        let pattern = patterns.join(",");
        // An unnamed play is called by its hosts, as Ansible prints it.
        let name = if name.trim().is_empty() {
            pattern.clone()
        } else {
            name
        };
        self.emit(Event::PlayStart {
            name: name.clone(),
            pattern: pattern.clone(),
            uuid: self.next_uuid(),
        });
        if !play.ignored_keys.is_empty() {
            self.emit(Event::Warning {
                message: format!(
                    "{}: hook-runner does not implement {} and ignores it",
                    play.loc,
                    play.ignored_keys.join(", ")
                ),
            });
        }
        if let Some(strategy) = &play.strategy {
            if strategy != "linear" {
                self.emit(Event::Warning {
                    message: format!("strategy '{strategy}' is not supported by hook-runner: the play runs with the linear strategy"),
                });
            }
        }
        let hosts = self.play_hosts(&patterns);
        if hosts.is_empty() {
            self.emit(Event::NoHostsMatched);
            return Ok(PlayEnd::Continue);
        }
        for batch in serial_batches(&hosts, play.serial.as_ref())? {
            if self.cancel.is_cancelled() {
                return Ok(PlayEnd::StopPlaybook);
            }
            let end = self.run_batch(play, &name, &hosts, batch.clone()).await?;
            let all_down = batch
                .iter()
                .all(|h| self.is_failed(h) || self.is_unreachable(h));
            if end == PlayEnd::StopPlaybook || all_down {
                return Ok(PlayEnd::StopPlaybook);
            }
        }
        Ok(PlayEnd::Continue)
    }

    /// Play vars and extra vars: what `hosts`, the play name and `vars_files` names see.
    fn play_level_vars(&self, play: &Play) -> Map {
        let mut vars = play.kw.vars.clone();
        vars.extend(self.extra_vars.clone());
        vars.insert(
            "playbook_dir".into(),
            Value::String(self.playbook_dir.display().to_string()),
        );
        vars
    }

    /// The play's name, templated with the play's variables. As in ansible-core (whose
    /// post-validation exempts `name`), a name that cannot be templated (an undefined
    /// variable) is not an error: the header shows it as written and the play runs.
    fn play_name(&self, play: &Play, vars: &Map) -> String {
        let scope = Scope {
            vars,
            search_paths: &[],
        };
        self.templar
            .template(&Value::String(play.name.clone()), scope)
            .map(|v| value_text(&v))
            .unwrap_or_else(|_| play.name.clone())
    }

    /// The hosts of the play's patterns, after `--limit`, without hosts already failed or
    /// unreachable; warns about patterns that match nothing.
    fn play_hosts(&self, patterns: &[String]) -> Vec<String> {
        let mut inv = lock(&self.inventory);
        let mut hosts: IndexSet<String> = IndexSet::new();
        for p in patterns {
            let found = inv.match_pattern(p);
            if found.is_empty() {
                drop_warning(self, p);
            }
            hosts.extend(found);
        }
        let hosts = inv.apply_limit(hosts.into_iter().collect(), self.opts.limit.as_deref());
        drop(inv);
        hosts
            .into_iter()
            .filter(|h| !self.is_failed(h) && !self.is_unreachable(h))
            .collect()
    }

    async fn run_batch(
        &self,
        play: &Arc<Play>,
        name: &str,
        all_hosts: &[String],
        batch: Vec<String>,
    ) -> Result<PlayEnd, String> {
        let magic = PlayMagic {
            playbook_dir: self.playbook_dir.display().to_string(),
            // The directory of the first inventory file (host lists have none).
            inventory_dir: self
                .opts
                .inventories
                .iter()
                .map(Path::new)
                .find(|p| p.is_file())
                .and_then(|p| std::fs::canonicalize(p).ok())
                .and_then(|p| p.parent().map(|d| d.display().to_string())),
            check_mode: self.opts.check,
            diff_mode: self.opts.diff,
            verbosity: self.opts.verbosity,
            omit: self.templar.omit_token().to_string(),
            groups: Map::new(),
            play_hosts: all_hosts.to_vec(),
            play_hosts_all: all_hosts.to_vec(),
            play_batch: batch.clone(),
            play_name: name.to_string(),
        };
        let mut pctx = PlayCtx::new(play.clone(), magic, batch.clone());
        pctx.vars_files = self.load_vars_files(&pctx, &batch)?;
        let frame = Frame::for_play(&play.kw);
        self.gather_facts(&pctx, &frame, &batch).await;
        let sections: [&[&[crate::playbook::Item]]; 3] = [
            &[&play.pre_tasks],
            &[&play.roles, &play.tasks],
            &[&play.post_tasks],
        ];
        for section in sections {
            for items in section {
                if pctx.stopped() || self.cancel.is_cancelled() {
                    break;
                }
                let hosts = self.alive(&pctx, &batch);
                if hosts.is_empty() {
                    break;
                }
                self.run_items(&pctx, &frame, items, hosts).await;
            }
            if !pctx.stopped() && !self.cancel.is_cancelled() {
                self.run_handlers(&pctx, None, false).await;
            }
            if let Some(err) = lock(&pctx.fatal).clone() {
                return Err(err);
            }
        }
        if pctx.broke_by_max_fail() {
            self.emit(Event::NoMoreHosts);
        }
        Ok(PlayEnd::Continue)
    }

    /// Hosts of the batch still in the play.
    pub(crate) fn alive(&self, pctx: &PlayCtx, batch: &[String]) -> Vec<String> {
        batch
            .iter()
            .filter(|h| !self.is_failed(h) && !self.is_unreachable(h) && !pctx.is_ended(h))
            .cloned()
            .collect()
    }

    /// `vars_files`: templated names (a list entry is "first found"), relative to the play's
    /// directory (`vars/<f>` then `<f>`). A missing file is an error (Ansible ≤2.14 and 2.19;
    /// 2.15-2.18 skip it silently, which hides mistakes).
    fn load_vars_files(&self, pctx: &PlayCtx, batch: &[String]) -> Result<Map, String> {
        let play = &pctx.play;
        if play.vars_files.is_empty() {
            return Ok(Map::new());
        }
        let mut vars = match batch.first() {
            Some(h) => self.task_vars(pctx, &Frame::default(), None, h),
            None => self.play_level_vars(play),
        };
        let mut out = Map::new();
        for entry in &play.vars_files {
            let choices = match entry {
                Value::Array(list) => list.clone(),
                other => vec![other.clone()],
            };
            let mut searched = Vec::new();
            let mut found: Option<PathBuf> = None;
            for choice in &choices {
                let scope = Scope {
                    vars: &vars,
                    search_paths: &[],
                };
                let name = self
                    .templar
                    .template(choice, scope)
                    .map(|v| value_text(&v))
                    .map_err(|e| format!("{}: vars_files: {}", play.loc, e.message))?;
                let name = match self.dry_run {
                    true => super::hook_dir::redirect(&name, &self.playbook_dir)
                        .map(|p| p.display().to_string())
                        .unwrap_or(name),
                    false => name,
                };
                for candidate in vars_file_candidates(&play.dir, &name) {
                    if candidate.is_file() {
                        found = Some(candidate);
                        break;
                    }
                    searched.push(candidate.display().to_string());
                }
                if found.is_some() {
                    break;
                }
            }
            let Some(path) = found else {
                return Err(format!(
                    "{}: vars file {} was not found\nSearched in:\n\t{}",
                    play.loc,
                    choices
                        .iter()
                        .map(value_text)
                        .collect::<Vec<_>>()
                        .join(", "),
                    searched.join("\n\t")
                ));
            };
            let node = crate::yaml::load_file(&path).map_err(|e| e.to_string())?;
            match node.to_value() {
                Value::Object(m) => {
                    vars.extend(m.clone());
                    out.extend(m);
                }
                Value::Null => {}
                _ => {
                    return Err(format!(
                        "{}: vars file {} must contain a mapping of variables",
                        play.loc,
                        path.display()
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// Ansible's message for a play field that cannot be templated.
fn field_error(play: &Play, field: &str, e: &crate::template::TemplateError) -> String {
    let what = if e.undefined.is_some() {
        format!(
            "The field '{field}' has an invalid value, which includes an undefined variable. The error was: {}",
            e.message
        )
    } else {
        format!("The field '{field}' has an invalid value: {}", e.message)
    };
    format!("{}: {what}", play.loc)
}

fn drop_warning(run: &Run<'_>, pattern: &str) {
    run.emit(Event::Warning {
        message: format!("Could not match supplied host pattern, ignoring: {pattern}"),
    });
}

fn vars_file_candidates(dir: &Path, name: &str) -> Vec<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return vec![p.to_path_buf()];
    }
    if let Some(rest) = name.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return vec![PathBuf::from(home).join(rest)];
        }
    }
    vec![dir.join("vars").join(name), dir.join(name)]
}

/// Splits hosts into `serial` batches: a number, `N%` (at least 1), or a list of them (the
/// last repeating). No `serial` is one batch.
pub(crate) fn serial_batches(
    hosts: &[String],
    serial: Option<&Value>,
) -> Result<Vec<Vec<String>>, String> {
    let Some(serial) = serial else {
        return Ok(vec![hosts.to_vec()]);
    };
    let steps: Vec<Value> = match serial {
        Value::Array(list) if !list.is_empty() => list.clone(),
        Value::Array(_) | Value::Null => return Ok(vec![hosts.to_vec()]),
        other => vec![other.clone()],
    };
    let total = hosts.len();
    let size_of = |v: &Value| -> Result<usize, String> {
        let text = value_text(v);
        let text = text.trim();
        if let Some(pct) = text.strip_suffix('%') {
            let pct: f64 = pct
                .trim()
                .parse()
                .map_err(|_| format!("serial: invalid percentage '{text}'"))?;
            Ok(((pct / 100.0) * total as f64) as usize).map(|n| n.max(1))
        } else {
            let n: i64 = text
                .parse()
                .map_err(|_| format!("serial: invalid value '{text}'"))?;
            Ok(if n <= 0 { total } else { n as usize })
        }
    };
    let mut batches = Vec::new();
    let mut rest = hosts.to_vec();
    let mut i = 0;
    while !rest.is_empty() {
        let step = &steps[i.min(steps.len() - 1)];
        let n = size_of(step)?.max(1).min(rest.len());
        batches.push(rest.drain(..n).collect());
        i += 1;
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hosts(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("h{i}")).collect()
    }

    #[test]
    fn serial_forms() {
        assert_eq!(serial_batches(&hosts(5), None).unwrap().len(), 1);
        let b = serial_batches(&hosts(5), Some(&json!(2))).unwrap();
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![2, 2, 1]);
        let b = serial_batches(&hosts(5), Some(&json!("30%"))).unwrap();
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![1, 1, 1, 1, 1]
        );
        let b = serial_batches(&hosts(6), Some(&json!([1, "50%"]))).unwrap();
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 3, 2]);
    }
}
