//! The settings of one module call that come from keywords and connection variables:
//! check mode and diff (task keyword over `--check`/`--diff`), `environment` (play, block and
//! task maps merged, inner keys winning, values as Python's `str()`), `timeout` (seconds), and
//! `become` (`ansible_become*` variables override the `become*` keywords, as Ansible's
//! connection variables do; user `root` and method `sudo` by default; `sudo` and `su` only).

use super::run::Run;
use crate::connection::{Become, BecomeMethod};
use crate::playbook::Keywords;
use crate::template::Scope;
use crate::value_text;
use crate::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Keyword-derived settings of one module call.
pub(crate) struct CallSettings {
    pub check_mode: bool,
    pub diff: bool,
    pub become_: Option<Become>,
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
}

impl Run<'_> {
    /// Keyword-derived settings of a module call.
    pub(crate) fn call_settings(
        &self,
        kw: &Keywords,
        vars: &Map,
        search: &[PathBuf],
    ) -> Result<CallSettings, String> {
        let scope = Scope {
            vars,
            search_paths: search,
        };
        let check_mode = self
            .bool_keyword(&kw.check_mode, vars, search)?
            .unwrap_or(self.opts.check);
        let diff = self
            .bool_keyword(&kw.diff, vars, search)?
            .unwrap_or(self.opts.diff);
        let mut env_map = Map::new();
        for e in &kw.environment {
            match self.templar.template(e, scope).map_err(|e| e.message)? {
                Value::Object(m) => env_map.extend(m),
                Value::Null => {}
                other => {
                    return Err(format!(
                        "environment must be a dictionary, received {} ({})",
                        value_text(&other),
                        crate::py::class_name(&other)
                    ))
                }
            }
        }
        let env = env_map
            .into_iter()
            .map(|(k, v)| (k, crate::py::str(&v)))
            .collect();
        let timeout = match &kw.timeout {
            None => None,
            Some(v) => {
                let t = self.templar.template(v, scope).map_err(|e| e.message)?;
                let secs: u64 = value_text(&t).parse().map_err(|_| {
                    format!(
                        "timeout must be an integer number of seconds, got {}",
                        value_text(&t)
                    )
                })?;
                (secs > 0).then(|| Duration::from_secs(secs))
            }
        };
        Ok(CallSettings {
            check_mode,
            diff,
            become_: self.become_settings(kw, vars, search)?,
            env,
            timeout,
        })
    }

    /// `become*`: connection variables (`ansible_become*`) override the keywords.
    pub(crate) fn become_settings(
        &self,
        kw: &Keywords,
        vars: &Map,
        search: &[PathBuf],
    ) -> Result<Option<Become>, String> {
        let pick = |var: &str, keyword: &Option<Value>| -> Option<Value> {
            vars.get(var).cloned().or_else(|| keyword.clone())
        };
        let enabled = self
            .bool_keyword(&pick("ansible_become", &kw.become_), vars, search)?
            .unwrap_or(false);
        if !enabled {
            return Ok(None);
        }
        let scope = Scope {
            vars,
            search_paths: search,
        };
        let text = |v: Option<Value>| -> Result<Option<String>, String> {
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(v) => self
                    .templar
                    .template(&v, scope)
                    .map(|t| Some(value_text(&t)))
                    .map_err(|e| e.message),
            }
        };
        let user =
            text(pick("ansible_become_user", &kw.become_user))?.unwrap_or_else(|| "root".into());
        let method = match text(pick("ansible_become_method", &kw.become_method))?.as_deref() {
            None | Some("sudo") => BecomeMethod::Sudo,
            Some("su") => BecomeMethod::Su,
            Some(other) => {
                return Err(format!(
                    "Invalid become method specified, could not find matching plugin: '{other}'"
                ))
            }
        };
        let flags = text(pick("ansible_become_flags", &kw.become_flags))?;
        Ok(Some(Become {
            method,
            user,
            flags,
        }))
    }
}
