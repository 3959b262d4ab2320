//! Modules: what a task does. One file per module, each with its semantics in its doc comment.
//!
//! A module declares its parameters ([`argspec::ArgSpec`], Ansible's names, aliases, types,
//! defaults, choices) so the whole playbook is validated before anything runs, then turns the
//! templated arguments into (at most a few, usually one) remote shell scripts run through the
//! task's [`Connection`], and returns Ansible's result keys (`changed`, `failed`, `msg`, `rc`,
//! module-specific ones). Failures are results with `failed: true`; only a broken transport is
//! an `Err` (the host becomes unreachable).
//!
//! Some result keys are requests to the engine, as in Ansible: `ansible_facts` (set_fact,
//! include_vars, setup), `add_host` / `add_group` (add_host).

pub mod add_host;
pub mod argspec;
pub mod assert;
pub mod command;
pub mod copy;
pub mod debug;
pub mod fail;
pub mod file;
pub mod getent;
pub mod group;
pub mod include_vars;
pub mod k8s_info;
pub mod lineinfile;
pub mod ping;
pub mod remote;
pub mod service;
pub mod set_fact;
pub mod setup;
pub mod shell;
pub mod stat;
pub mod systemd;
pub mod template;
pub mod user;
pub mod wait_for_connection;

use crate::connection::{Become, ConnError, Connection};
use crate::template::{Scope, Templar};
use crate::Map;
use async_trait::async_trait;
use std::time::Duration;

/// Everything a module may use while it runs on one host.
pub struct ModuleContext<'a> {
    /// `inventory_hostname` of the host the task runs for.
    pub host: &'a str,
    /// Where commands go (the delegated host's connection under `delegate_to`).
    pub conn: &'a dyn Connection,
    pub check_mode: bool,
    pub diff: bool,
    pub become_: Option<Become>,
    /// The task's `environment:` for remote commands.
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    pub templar: &'a Templar,
    /// The task's variables (already merged by precedence) and file search paths.
    pub scope: Scope<'a>,
    /// The Kubernetes API as this run sees it (in-cluster, kubeconfig, or dry-run files).
    pub kube: &'a dyn crate::kube::Cluster,
    /// `-v` count.
    pub verbosity: u8,
}

/// A module's implementation.
#[async_trait]
pub trait Module: Send + Sync {
    /// The short name (`copy`); the registry maps FQCNs onto it.
    fn name(&self) -> &'static str;
    /// The FQCN Ansible prints in messages (`ansible.builtin.copy`).
    fn fqcn(&self) -> &'static str;
    /// Its parameters, for validation before the run and normalisation at run time.
    fn spec(&self) -> &'static argspec::ArgSpec;
    /// True for modules whose arguments are free key/value data (`set_fact`, `add_host`): any
    /// name is accepted, so [`argspec::ArgSpec::check_names`] and `normalize` must not reject
    /// names missing from the spec (the module validates its own keys).
    fn accepts_any_args(&self) -> bool {
        false
    }
    /// True when the module acts on, or reads from, the managed host: dry-run shows such a task
    /// instead of running it. The default is true so that a new module is never run by dry-run
    /// by mistake; modules that only work in the controller (`debug`, `set_fact`, `k8s_info`...)
    /// say false and run in dry-run too.
    fn touches_host(&self) -> bool {
        true
    }
    /// True for modules that can run as an `async` job (a command line started on the target).
    fn supports_async(&self) -> bool {
        false
    }
    /// True for modules Ansible runs once per batch of hosts whatever the hosts (`add_host`,
    /// `group_by`): the engine runs the task for the first host only.
    fn bypasses_host_loop(&self) -> bool {
        false
    }
    /// Facts dry-run reports in place of running a host module, so that later tasks reading
    /// them still template (e.g. `getent_passwd`). `args` are the normalised arguments.
    fn dry_run_facts(&self, _args: &Map) -> Option<Map> {
        None
    }
    /// For modules that read their arguments into a typed struct ([`typed_args`]): whether
    /// normalised arguments `args` read into it. Modules reading the map directly keep the
    /// default. The test over all modules calls it with arguments built from each spec, so a
    /// spec and its struct cannot drift apart unnoticed.
    fn check_typed_args(&self, _args: &Map) -> Result<(), String> {
        Ok(())
    }
    /// Runs with templated, normalised arguments (aliases resolved, defaults filled, types coerced).
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError>;
}

/// A module's typed arguments from its normalised ones. A mismatch between the spec and the
/// struct is a bug of the module; it fails the task (`invalid arguments: ...`) instead of
/// panicking. `Err` is that failed result, for `run` to return.
pub fn typed_args<T: serde::de::DeserializeOwned>(args: Map) -> Result<T, Map> {
    serde_json::from_value(crate::Value::Object(args))
        .map_err(|e| remote::failed(format!("invalid arguments: {e}")))
}

/// [`Module::check_typed_args`] for a module whose arguments read into `T`.
pub fn check_typed<T: serde::de::DeserializeOwned>(args: &Map) -> Result<(), String> {
    serde_json::from_value::<T>(crate::Value::Object(args.clone()))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Finds a module by the name a task uses: short (`copy`), FQCN (`ansible.builtin.copy`),
/// `ansible.legacy.copy`, or a known collection alias (`kubernetes.core.k8s_info`).
pub fn lookup(name: &str) -> Option<&'static dyn Module> {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    all()
        .iter()
        .copied()
        .find(|m| m.name() == short || m.fqcn() == name || collection_alias(name) == Some(m.name()))
}

/// Names from collections that map onto a built-in module here.
fn collection_alias(name: &str) -> Option<&'static str> {
    match name {
        "kubernetes.core.k8s_info" | "community.kubernetes.k8s_info" | "k8s_facts" => {
            Some("k8s_info")
        }
        "ansible.builtin.systemd_service" | "systemd_service" => Some("systemd"),
        _ => None,
    }
}

/// Every module this build has. Each module file adds itself here.
pub fn all() -> &'static [&'static dyn Module] {
    &[
        // registry: one line per module, keep sorted
        &add_host::AddHost,
        &assert::Assert,
        &command::Command,
        &copy::Copy,
        &debug::Debug,
        &fail::Fail,
        &file::File,
        &getent::Getent,
        &group::Group,
        &include_vars::IncludeVars,
        &k8s_info::K8sInfo,
        &lineinfile::LineInFile,
        &ping::Ping,
        &service::Service,
        &set_fact::SetFact,
        &setup::Setup,
        &shell::Shell,
        &stat::Stat,
        &systemd::Systemd,
        &template::Template,
        &user::User,
        &wait_for_connection::WaitForConnection,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    /// The modules that run in the controller alone: dry-run runs them for real. Any other
    /// module must be shown, not run, so a module added here by mistake is a visible change.
    const CONTROLLER_ONLY: &[&str] = &[
        "add_host",
        "assert",
        "debug",
        "fail",
        "include_vars",
        "k8s_info",
        "set_fact",
    ];

    #[test]
    fn only_controller_modules_run_in_dry_run() {
        let runs_in_dry_run: Vec<&str> = all()
            .iter()
            .filter(|m| !m.touches_host())
            .map(|m| m.name())
            .collect();
        for name in &runs_in_dry_run {
            assert!(
                CONTROLLER_ONLY.contains(name),
                "{name} says it does not touch the host: dry-run would run it"
            );
        }
    }

    #[test]
    fn async_and_host_loop_bypass_are_declared_by_the_modules() {
        assert!(lookup("command").is_some_and(|m| m.supports_async()));
        assert!(lookup("ansible.builtin.shell").is_some_and(|m| m.supports_async()));
        assert!(!lookup("copy").is_some_and(|m| m.supports_async()));
        assert!(lookup("add_host").is_some_and(|m| m.bypasses_host_loop()));
        assert!(!lookup("debug").is_some_and(|m| m.bypasses_host_loop()));
    }

    /// A value of the parameter's kind (its first choice when it has choices).
    fn sample(param: &argspec::Param) -> Value {
        if let Some(choice) = param.choices.first() {
            return Value::from(*choice);
        }
        match param.kind {
            argspec::Kind::Str | argspec::Kind::Raw => Value::from("x"),
            argspec::Kind::Path => Value::from("/tmp/x"),
            argspec::Kind::Bool => Value::Bool(true),
            argspec::Kind::Int => Value::from(1),
            argspec::Kind::Float => Value::from(1.5),
            argspec::Kind::List => serde_json::json!(["x"]),
            argspec::Kind::Dict => serde_json::json!({"x": "y"}),
        }
    }

    /// Arguments for `spec`: the required ones and one of each required group, and with
    /// `every` also every other parameter that no chosen one excludes.
    fn arguments_for(spec: &argspec::ArgSpec, every: bool) -> Map {
        let mut args = Map::new();
        let excluded = |args: &Map, name: &str| {
            spec.mutually_exclusive
                .iter()
                .any(|group| group.contains(&name) && group.iter().any(|n| args.contains_key(*n)))
        };
        for param in spec.params.iter().filter(|p| !p.action_only) {
            let wanted = param.required
                || spec
                    .required_one_of
                    .iter()
                    .any(|g| g.first() == Some(&param.name))
                || every;
            if wanted && !excluded(&args, param.name) {
                args.insert(param.name.to_string(), sample(param));
            }
        }
        args
    }

    #[test]
    fn every_argument_spec_normalises_into_its_modules_typed_arguments() {
        let mut checked = Vec::new();
        for module in all().iter().filter(|m| !m.accepts_any_args()) {
            for every in [false, true] {
                let args = arguments_for(module.spec(), every);
                let Ok(normalised) = module.spec().normalize(module.fqcn(), args.clone()) else {
                    // Sample values a module's own rules refuse say nothing about its struct.
                    continue;
                };
                if let Err(e) = module.check_typed_args(&normalised) {
                    panic!(
                        "{}: {args:?} normalised to {normalised:?}: {e}",
                        module.name()
                    );
                }
                checked.push((module.name(), every));
            }
        }
        // Every module's minimal arguments normalise; the sample values of "every parameter"
        // may break a module's own rules, but not most of them.
        let minimal = checked.iter().filter(|(_, every)| !every).count();
        let every = checked.len() - minimal;
        let modules = all().iter().filter(|m| !m.accepts_any_args()).count();
        assert_eq!(minimal, modules, "{checked:?}");
        assert!(every * 2 >= modules, "{checked:?}");
    }

    #[test]
    fn getent_answers_a_passwd_entry_in_dry_run() {
        let mut args = Map::new();
        args.insert("database".into(), Value::from("passwd"));
        args.insert("key".into(), Value::from("root"));
        let facts = lookup("getent")
            .and_then(|m| m.dry_run_facts(&args))
            .expect("getent gives dry-run facts");
        assert_eq!(facts["getent_passwd"]["root"][4], "/root");
    }
}
