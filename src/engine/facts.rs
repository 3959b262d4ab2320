//! Fact gathering at the start of a play (`gather_facts`, default true; the implicit task is
//! tagged `always` unless the play has tags): one round trip per host through
//! [`crate::modules::setup::gather`]. The engine stores what comes back as the host's facts
//! (`ansible_facts.*` and the top-level `ansible_*` mirrors, see [`crate::vars::fact_vars`]).
//!
//! Dry-run hosts get [`placeholder_facts`] instead: a plausible RHEL 9 VM (names from the
//! inventory name, `root` user, systemd, a TEST-NET address, the controller's clock) marked
//! with `ansible_hook_runner_placeholder_facts: true`.

use super::exec::Fut;
use super::frame::Frame;
use super::host::HostOutcome;
use super::lock;
use super::play_ctx::PlayCtx;
use super::result::{self, failed};
use super::run::Run;
use crate::connection::ConnError;
use crate::report::{Event, Status, TaskInfo};
use crate::{Map, Value};

impl Run<'_> {
    /// Fact gathering at the start of a play (`gather_facts`, default true), tagged `always`
    /// unless the play has tags.
    pub(crate) fn gather_facts<'s>(
        &'s self,
        pctx: &'s PlayCtx,
        frame: &'s Frame,
        hosts: &'s [String],
    ) -> Fut<'s, ()> {
        Box::pin(async move {
            let play = &pctx.play;
            let first = match hosts.first() {
                Some(h) => h,
                None => return,
            };
            let vars = self.task_vars(pctx, frame, None, first);
            let search = self.search_paths(None);
            let gather = self
                .bool_keyword(&play.gather_facts, &vars, &search)
                .ok()
                .flatten()
                .unwrap_or(true);
            if !gather {
                return;
            }
            let tags = if play.kw.tags.is_empty() {
                vec!["always".to_string()]
            } else {
                play.kw.tags.clone()
            };
            if !super::tags::should_run(&tags, &self.opts.tags, &self.opts.skip_tags) {
                return;
            }
            let info = TaskInfo {
                name: "Gathering Facts".into(),
                action: "gather_facts".into(),
                path: format!("{}:{}", play.loc.file, play.loc.line),
                is_handler: false,
                uuid: self.next_uuid(),
            };
            self.emit(Event::TaskStart { task: info.clone() });
            let futures: Vec<_> = hosts
                .iter()
                .map(|h| {
                    let info = &info;
                    async move {
                        let _permit = self.forks.acquire().await;
                        self.gather_on_host(pctx, frame, h, info).await
                    }
                })
                .collect();
            let outcomes = super::join::join_all(futures).await;
            for o in outcomes {
                match o.status {
                    Status::Unreachable => {
                        self.stat(&o.host, |s| s.unreachable += 1);
                        lock(&self.unreachable).insert(o.host.clone());
                    }
                    Status::Failed => {
                        self.stat(&o.host, |s| s.failed += 1);
                        self.mark_failed(&o.host);
                    }
                    Status::Skipped => self.stat(&o.host, |s| s.skipped += 1),
                    _ => self.stat(&o.host, |s| s.ok += 1),
                }
            }
        })
    }

    async fn gather_on_host(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        host: &str,
        info: &TaskInfo,
    ) -> HostOutcome {
        let vars = self.task_vars(pctx, frame, None, host);
        let search = self.search_paths(None);
        // A play's `when` (set only by a conditional `import_playbook`) skips gathering too.
        let condition = match self.check_when(&pctx.play.kw, &vars, &search) {
            Ok(c) => c,
            Err((msg, _)) => Some(Value::String(msg)),
        };
        let result: Map = if let Some(cond) = condition {
            result::skipped_by_condition(&cond)
        } else if self.dry_run {
            let facts = placeholder_facts(host);
            self.update_host(host, |s| s.facts.extend(facts.clone()));
            ok_facts(facts)
        } else {
            let become_ = self.become_settings(&pctx.play.kw, &vars, &search);
            match (become_, self.connection(host, &vars, &pctx.play.kw)) {
                (Err(msg), _) | (_, Err(msg)) => failed(msg),
                (Ok(become_), Ok(conn)) => {
                    // `ansible_python` describes the host's `ansible_python_interpreter` when set.
                    let scope = crate::template::Scope {
                        vars: &vars,
                        search_paths: &search,
                    };
                    let python = crate::modules::setup::python_interpreter(&self.templar, scope);
                    let gathered = tokio::select! {
                        r = crate::modules::setup::gather_with_python(&*conn, become_, python.as_deref()) => r,
                        _ = self.cancel.cancelled() => Err(ConnError::Other("interrupted: the run was cancelled".into())),
                    };
                    match gathered {
                        Ok(facts) => {
                            self.update_host(host, |s| s.facts.extend(facts.clone()));
                            ok_facts(facts)
                        }
                        Err(ConnError::Unreachable(msg)) => {
                            let mut r = Map::new();
                            r.insert("unreachable".into(), Value::Bool(true));
                            r.insert("changed".into(), Value::Bool(false));
                            r.insert("msg".into(), Value::String(msg));
                            r
                        }
                        Err(e) => failed(e.to_string()),
                    }
                }
            }
        };
        let status = result::status_of(&result, false);
        self.emit(Event::HostResult {
            host: host.to_string(),
            task: info.clone(),
            status,
            result: result.clone(),
            item: None,
            delegated_to: None,
        });
        HostOutcome {
            host: host.to_string(),
            status,
            result,
            ignore_unreachable: false,
        }
    }
}

fn ok_facts(facts: Map) -> Map {
    let mut r = Map::new();
    r.insert("ansible_facts".into(), Value::Object(facts));
    r.insert("changed".into(), Value::Bool(false));
    // As Ansible's setup: verbose output does not dump the facts.
    r.insert("_ansible_verbose_override".into(), Value::Bool(true));
    r
}

/// Facts for dry-run hosts: a plausible RHEL 9 VM (documented in the README): names from the
/// inventory name, `root` user, systemd, a TEST-NET address, the controller's clock.
pub fn placeholder_facts(host: &str) -> Map {
    let short = host.split('.').next().unwrap_or(host);
    let now = chrono::Utc::now();
    let facts = serde_json::json!({
        "ansible_hostname": short,
        "ansible_nodename": host,
        "ansible_fqdn": host,
        "ansible_user_id": "root",
        "ansible_user_dir": "/root",
        "ansible_env": {"HOME": "/root", "USER": "root", "LOGNAME": "root", "SHELL": "/bin/bash", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
        "ansible_distribution": "RedHat",
        "ansible_distribution_version": "9.4",
        "ansible_distribution_major_version": "9",
        "ansible_os_family": "RedHat",
        "ansible_system": "Linux",
        "ansible_kernel": "5.14.0-427.el9.x86_64",
        "ansible_architecture": "x86_64",
        "ansible_machine": "x86_64",
        "ansible_service_mgr": "systemd",
        "ansible_pkg_mgr": "dnf",
        "ansible_default_ipv4": {"address": "192.0.2.10", "interface": "eth0"},
        "ansible_date_time": {
            "epoch": now.timestamp().to_string(),
            "date": now.format("%Y-%m-%d").to_string(),
            "time": now.format("%H:%M:%S").to_string(),
            "iso8601": now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        },
        "ansible_hook_runner_placeholder_facts": true,
    });
    match facts {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
