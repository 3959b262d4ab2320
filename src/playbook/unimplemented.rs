//! Modules Ansible has that this build of hook-runner does not implement.
//!
//! Ansible resolves a task's module when it loads the file, and every `ansible.builtin` module
//! exists there: a package-manager task behind a false `when:` loads and is skipped. So a task
//! using one of these names loads here too, and fails only when it runs, with a message naming
//! the module; a name Ansible does not know either (a misspelling) is still the load error
//! `couldn't resolve module/action`. A module hook-runner implements is always found first.

use crate::connection::ConnError;
use crate::modules::argspec::ArgSpec;
use crate::modules::{Module, ModuleContext};
use crate::{Map, Value};
use async_trait::async_trait;

/// An `ansible.builtin` module without an implementation here.
pub struct Unimplemented {
    fqcn: &'static str,
}

static SPEC: ArgSpec = ArgSpec {
    params: &[],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// ansible-core 2.18's `ansible.builtin` modules (the `import_*`/`include_*`/`meta` actions are
/// the loader's own).
static MODULES: &[Unimplemented] = &[
    Unimplemented {
        fqcn: "ansible.builtin.add_host",
    },
    Unimplemented {
        fqcn: "ansible.builtin.apt",
    },
    Unimplemented {
        fqcn: "ansible.builtin.apt_key",
    },
    Unimplemented {
        fqcn: "ansible.builtin.apt_repository",
    },
    Unimplemented {
        fqcn: "ansible.builtin.assemble",
    },
    Unimplemented {
        fqcn: "ansible.builtin.assert",
    },
    Unimplemented {
        fqcn: "ansible.builtin.async_status",
    },
    Unimplemented {
        fqcn: "ansible.builtin.blockinfile",
    },
    Unimplemented {
        fqcn: "ansible.builtin.command",
    },
    Unimplemented {
        fqcn: "ansible.builtin.copy",
    },
    Unimplemented {
        fqcn: "ansible.builtin.cron",
    },
    Unimplemented {
        fqcn: "ansible.builtin.deb822_repository",
    },
    Unimplemented {
        fqcn: "ansible.builtin.debconf",
    },
    Unimplemented {
        fqcn: "ansible.builtin.debug",
    },
    Unimplemented {
        fqcn: "ansible.builtin.dnf",
    },
    Unimplemented {
        fqcn: "ansible.builtin.dnf5",
    },
    Unimplemented {
        fqcn: "ansible.builtin.dpkg_selections",
    },
    Unimplemented {
        fqcn: "ansible.builtin.expect",
    },
    Unimplemented {
        fqcn: "ansible.builtin.fail",
    },
    Unimplemented {
        fqcn: "ansible.builtin.fetch",
    },
    Unimplemented {
        fqcn: "ansible.builtin.file",
    },
    Unimplemented {
        fqcn: "ansible.builtin.find",
    },
    Unimplemented {
        fqcn: "ansible.builtin.gather_facts",
    },
    Unimplemented {
        fqcn: "ansible.builtin.get_url",
    },
    Unimplemented {
        fqcn: "ansible.builtin.getent",
    },
    Unimplemented {
        fqcn: "ansible.builtin.git",
    },
    Unimplemented {
        fqcn: "ansible.builtin.group",
    },
    Unimplemented {
        fqcn: "ansible.builtin.group_by",
    },
    Unimplemented {
        fqcn: "ansible.builtin.hostname",
    },
    Unimplemented {
        fqcn: "ansible.builtin.include_vars",
    },
    Unimplemented {
        fqcn: "ansible.builtin.iptables",
    },
    Unimplemented {
        fqcn: "ansible.builtin.known_hosts",
    },
    Unimplemented {
        fqcn: "ansible.builtin.lineinfile",
    },
    Unimplemented {
        fqcn: "ansible.builtin.mount_facts",
    },
    Unimplemented {
        fqcn: "ansible.builtin.package",
    },
    Unimplemented {
        fqcn: "ansible.builtin.package_facts",
    },
    Unimplemented {
        fqcn: "ansible.builtin.pause",
    },
    Unimplemented {
        fqcn: "ansible.builtin.ping",
    },
    Unimplemented {
        fqcn: "ansible.builtin.pip",
    },
    Unimplemented {
        fqcn: "ansible.builtin.raw",
    },
    Unimplemented {
        fqcn: "ansible.builtin.reboot",
    },
    Unimplemented {
        fqcn: "ansible.builtin.replace",
    },
    Unimplemented {
        fqcn: "ansible.builtin.rpm_key",
    },
    Unimplemented {
        fqcn: "ansible.builtin.script",
    },
    Unimplemented {
        fqcn: "ansible.builtin.service",
    },
    Unimplemented {
        fqcn: "ansible.builtin.service_facts",
    },
    Unimplemented {
        fqcn: "ansible.builtin.set_fact",
    },
    Unimplemented {
        fqcn: "ansible.builtin.set_stats",
    },
    Unimplemented {
        fqcn: "ansible.builtin.setup",
    },
    Unimplemented {
        fqcn: "ansible.builtin.shell",
    },
    Unimplemented {
        fqcn: "ansible.builtin.slurp",
    },
    Unimplemented {
        fqcn: "ansible.builtin.stat",
    },
    Unimplemented {
        fqcn: "ansible.builtin.subversion",
    },
    Unimplemented {
        fqcn: "ansible.builtin.systemd",
    },
    Unimplemented {
        fqcn: "ansible.builtin.sysvinit",
    },
    Unimplemented {
        fqcn: "ansible.builtin.tempfile",
    },
    Unimplemented {
        fqcn: "ansible.builtin.template",
    },
    Unimplemented {
        fqcn: "ansible.builtin.unarchive",
    },
    Unimplemented {
        fqcn: "ansible.builtin.uri",
    },
    Unimplemented {
        fqcn: "ansible.builtin.user",
    },
    Unimplemented {
        fqcn: "ansible.builtin.validate_argument_spec",
    },
    Unimplemented {
        fqcn: "ansible.builtin.wait_for",
    },
    Unimplemented {
        fqcn: "ansible.builtin.wait_for_connection",
    },
    Unimplemented {
        fqcn: "ansible.builtin.yum",
    },
    Unimplemented {
        fqcn: "ansible.builtin.yum_repository",
    },
];

/// The module `name` names (short, `ansible.builtin.`, `ansible.legacy.`), when Ansible has it.
pub fn lookup(name: &str) -> Option<&'static dyn Module> {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    MODULES
        .iter()
        .find(|m| m.name() == short)
        .map(|m| m as &'static dyn Module)
}

#[async_trait]
impl Module for Unimplemented {
    fn name(&self) -> &'static str {
        self.fqcn.trim_start_matches("ansible.builtin.")
    }
    fn fqcn(&self) -> &'static str {
        self.fqcn
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    /// Whatever the arguments, the task fails when it runs; its arguments are not judged.
    fn accepts_any_args(&self) -> bool {
        true
    }
    async fn run(&self, _args: Map, _ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let mut result = Map::new();
        result.insert("failed".into(), Value::Bool(true));
        result.insert("changed".into(), Value::Bool(false));
        result.insert(
            "msg".into(),
            Value::String(format!(
                "The module {} is not implemented by hook-runner (Ansible has it): the task cannot run",
                self.fqcn
            )),
        );
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansible_builtin_names_resolve_and_others_do_not() {
        for name in ["apt", "ansible.builtin.dnf", "ansible.legacy.uri", "yum"] {
            let m = lookup(name).unwrap_or_else(|| panic!("{name}"));
            assert!(m.fqcn().starts_with("ansible.builtin."));
            assert!(m.accepts_any_args());
        }
        assert_eq!(lookup("ansible.builtin.apt").map(|m| m.name()), Some("apt"));
        for name in [
            "whenn",
            "win_shell",
            "community.general.apt",
            "include_tasks",
        ] {
            assert!(lookup(name).is_none(), "{name}");
        }
    }
}
