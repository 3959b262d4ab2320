//! Jinja2 templating with Ansible's semantics, on minijinja.
//!
//! - Strict about undefined values: using one is an error naming it (`'foo' is undefined`,
//!   `'dict object' has no attribute 'bar'`), except under `default`, `is defined` and friends.
//! - A string that is exactly one `{{ expr }}` evaluates to the native value (list, dict, number,
//!   bool); any other string renders to a string (ansible-core 2.18 behaviour).
//! - Variables are lazy: a variable whose value holds a template is templated when it is read,
//!   so `vars: {a: "{{ b }}", b: 1}` works whatever the order.
//! - `omit` is a per-run placeholder token; the engine drops arguments equal to it.
//! - Ansible's filters, tests and lookups live in [`filters`], [`tests`] and [`lookups`].

pub mod filters;
pub mod lookups;
pub mod tests;

use crate::{Map, Value};
use std::path::PathBuf;

/// What a template can see: the merged variables of one host and task, and where `lookup('file')`
/// and `lookup('template')` search (role `files/`/`templates/`, then the playbook directory).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub vars: &'a Map,
    pub search_paths: &'a [PathBuf],
}

/// A templating failure, worded as Ansible words it (without the task location, which the
/// engine adds).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
    /// The undefined variable's name when the failure is an undefined variable.
    pub undefined: Option<String>,
}

/// The templating environment for one run.
pub struct Templar {
    env: minijinja::Environment<'static>,
    omit: String,
}

impl Templar {
    /// Builds the environment with Ansible's filters, tests, lookups and a fresh omit token.
    pub fn new() -> Templar {
        todo!("templar")
    }

    /// The per-run `omit` placeholder.
    pub fn omit_token(&self) -> &str {
        &self.omit
    }

    /// Templates every string inside `value`, recursively (keys too).
    pub fn template(&self, value: &Value, scope: Scope<'_>) -> Result<Value, TemplateError> {
        let _ = (value, scope, &self.env);
        todo!("templar")
    }

    /// Renders a template text to a string (template module, `lookup('template')`).
    pub fn render_str(&self, text: &str, scope: Scope<'_>) -> Result<String, TemplateError> {
        let _ = (text, scope);
        todo!("templar")
    }

    /// Evaluates a bare Jinja2 expression (`debug: var=`, loop sources) to a native value.
    pub fn eval(&self, expr: &str, scope: Scope<'_>) -> Result<Value, TemplateError> {
        let _ = (expr, scope);
        todo!("templar")
    }

    /// Evaluates a conditional (`when`, `failed_when`, `changed_when`, `until`, assert's `that`):
    /// a bare expression, `{{ }}` accepted, truthiness as Jinja2.
    pub fn condition(&self, expr: &str, scope: Scope<'_>) -> Result<bool, TemplateError> {
        let _ = (expr, scope);
        todo!("templar")
    }

    /// Whether a string contains template syntax at all (fast path: no templating needed).
    pub fn is_template(text: &str) -> bool {
        text.contains("{{") || text.contains("{%") || text.contains("{#")
    }
}

impl Default for Templar {
    fn default() -> Self {
        Templar::new()
    }
}
