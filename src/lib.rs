//! hook-runner: runs Forklift/MTV migration hook playbooks with Ansible's semantics over SSH,
//! needing nothing but a POSIX shell on the target VMs.
//!
//! Layers, bottom up: [`yaml`] reads playbooks as PyYAML 1.1 would, keeping positions;
//! [`template`] is the Jinja2 environment with Ansible's filters, tests and lookups;
//! [`connection`] runs shell scripts on a host (local or SSH); [`modules`] turn task arguments
//! into remote scripts and results; [`playbook`] is the typed, validated playbook model;
//! [`engine`] runs plays with the linear strategy; [`report`] prints and records what happened.

pub mod adhoc;
pub mod cli;
pub mod connection;
pub mod engine;
pub mod http;
pub mod inventory;
pub mod kube;
pub mod lint;
pub mod modules;
pub mod playbook;
pub mod py;
pub mod report;
pub mod shell;
pub mod template;
pub mod vars;
pub mod yaml;

/// The value type used for variables, module arguments and results: JSON with key order kept.
pub type Value = serde_json::Value;
/// A JSON object with key order kept.
pub type Map = serde_json::Map<String, Value>;

/// A keyword's, pattern's or lookup term's value as text: a string as it is, null as empty,
/// anything else its JSON text (`true`, `3`, `["a"]`). (Module parameters read non-strings
/// as Python's `str()` instead: [`py::str`].)
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
