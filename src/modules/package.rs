//! `ansible.builtin.package`: the generic package module; runs the target's own package
//! manager module with the task's arguments.
//!
//! Semantics (ansible-core 2.18 action `package.py`):
//! - The backend is `use`, else the `ansible_package_use` variable, else the `pkg_mgr` fact
//!   (`ansible_facts.pkg_mgr`), else it is detected on the target as the fact is (the first of
//!   `dnf`, `yum`, `apt-get`, `zypper`, `apk`, `pacman` on `PATH`; `apt-get` means `apt`).
//! - Every argument but `use` goes to the backend, which checks them with its own parameter
//!   list (so `update_cache` reaches apt, `enablerepo` reaches dnf) and returns its own results.
//! - A backend this build does not have fails with Ansible's
//!   `Could not find a matching action for the "NAME" package manager.`
//!
//! Backends here: `apt`, `dnf`, and `yum` (the dnf module, as in ansible-core 2.17+).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Package;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param::new("name", Kind::List),
        Param::new("state", Kind::Str),
        Param {
            default: Some("auto"),
            ..Param::new("use", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// Backends this build has, by the names `pkg_mgr` and `use` give.
fn backend(name: &str) -> Option<&'static dyn Module> {
    match name {
        "apt" | "dnf" | "yum" => super::lookup(name),
        _ => None,
    }
}

#[async_trait]
impl Module for Package {
    fn name(&self) -> &'static str {
        "package"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.package"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    /// The backend's parameters are the task's: they are checked when the backend is known.
    fn accepts_any_args(&self) -> bool {
        true
    }
    async fn run(&self, mut args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let use_ = args
            .remove("use")
            .map(|v| crate::py::str(&v))
            .unwrap_or_else(|| "auto".into());
        let name = match choose(&use_, ctx.scope.vars) {
            Some(name) => name,
            None => match detect(ctx).await? {
                Ok(name) => name,
                Err(failure) => return Ok(failure),
            },
        };
        let Some(module) = backend(&name) else {
            return Ok(remote::failed(format!(
                "Could not find a matching action for the \"{name}\" package manager."
            )));
        };
        let args = match module.spec().normalize(module.fqcn(), args) {
            Ok(args) => args,
            Err(msg) => return Ok(remote::failed(msg)),
        };
        module.run(args, ctx).await
    }
}

/// `use`, then `ansible_package_use`, then the `pkg_mgr` fact; `None` when detection is needed.
fn choose(use_: &str, vars: &Map) -> Option<String> {
    if use_ != "auto" {
        return Some(use_.to_string());
    }
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    vars.get("ansible_package_use")
        .and_then(text)
        .or_else(|| {
            vars.get("ansible_facts")
                .and_then(|f| f.get("pkg_mgr"))
                .and_then(text)
        })
        .or_else(|| vars.get("ansible_pkg_mgr").and_then(text))
}

/// The `pkg_mgr` fact, found on the target as `setup` finds it.
async fn detect(ctx: &ModuleContext<'_>) -> Result<Result<String, Map>, ConnError> {
    let script = r#"for _p in dnf yum apt-get zypper apk pacman; do
  if command -v $_p >/dev/null 2>&1; then emit pkg_mgr $_p; break; fi
done
"#;
    let records = match remote::run_script(ctx, script, None).await? {
        Ok(records) => records,
        Err(failure) => {
            let msg = failure.get("msg").and_then(Value::as_str).unwrap_or("");
            return Ok(Err(remote::failed(format!(
                "Failed to fetch ansible_pkg_mgr to determine the package action backend: {msg}"
            ))));
        }
    };
    Ok(Ok(match records.get("pkg_mgr") {
        Some("apt-get") => "apt".into(),
        Some(name) => name.into(),
        None => "unknown".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backend_from_use_then_variable_then_fact() {
        let vars = json!({"ansible_facts": {"pkg_mgr": "dnf"}});
        let vars = vars.as_object().unwrap();
        assert_eq!(choose("apt", vars).as_deref(), Some("apt"));
        assert_eq!(choose("auto", vars).as_deref(), Some("dnf"));
        let both = json!({"ansible_package_use": "yum", "ansible_facts": {"pkg_mgr": "dnf"}});
        assert_eq!(
            choose("auto", both.as_object().unwrap()).as_deref(),
            Some("yum")
        );
        assert_eq!(choose("auto", &Map::new()), None);
    }

    #[tokio::test]
    async fn an_unknown_backend_fails_as_ansible_does() {
        let result =
            crate::modules::remote::testkit::run(&Package, json!({"name": "x", "use": "portage"}))
                .await;
        assert_eq!(
            result["msg"],
            "Could not find a matching action for the \"portage\" package manager."
        );
    }

    #[tokio::test]
    async fn backend_parameters_are_checked_by_the_backend() {
        let result = crate::modules::remote::testkit::run(
            &Package,
            json!({"name": "x", "use": "apt", "enablerepo": "y"}),
        )
        .await;
        let msg = result["msg"].as_str().unwrap();
        assert!(
            msg.starts_with("Unsupported parameters for (ansible.builtin.apt) module: enablerepo."),
            "{msg}"
        );
    }
}
