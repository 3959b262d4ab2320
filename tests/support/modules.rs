//! Shared pieces of the tests that run modules directly, without the engine
//! (`tests/modules_vm.rs`, `tests/modules_vm_extra.rs`, `tests/modules_differential.rs`): a
//! cluster that is never there, a runner that checks and normalises arguments as the engine
//! does before `run`, and an SSH connection to a lab VM as root or as its unprivileged user.
//!
//! Included with `#[path = "support/modules.rs"] mod modules_common;`, so not every file uses every helper.
#![allow(dead_code)]

use async_trait::async_trait;
use hook_runner::connection::ssh::SshConnection;
use hook_runner::connection::{Become, BecomeMethod, Connection, SshPolicy, SshTarget};
use hook_runner::kube::{Cluster, EventSpec, InfoAnswer, InfoQuery, KubeError};
use hook_runner::modules::{self, ModuleContext};
use hook_runner::template::{Scope, Templar};
use hook_runner::{Map, Value};
use lab::vm::Vm;
use std::path::PathBuf;
use std::time::Duration;

/// A cluster that refuses every call: the modules under test must not need one.
pub struct NoCluster;

#[async_trait]
impl Cluster for NoCluster {
    async fn info(&self, _q: &InfoQuery) -> Result<InfoAnswer, KubeError> {
        Err(no_cluster())
    }
    async fn post_event(&self, _e: &EventSpec) -> Result<(), KubeError> {
        Err(no_cluster())
    }
}

fn no_cluster() -> KubeError {
    KubeError {
        code: 0,
        reason: "test".into(),
        message: "no cluster".into(),
    }
}

/// Runs one module on the host `vm` as the engine would: names checked, arguments normalised,
/// then `run` (120 s timeout).
pub struct Runner<'a> {
    pub conn: &'a dyn Connection,
    pub vars: Map,
    pub search_paths: Vec<PathBuf>,
    pub become_: Option<Become>,
    pub templar: Templar,
}

impl<'a> Runner<'a> {
    /// No variables, no search paths, no become.
    pub fn new(conn: &'a dyn Connection) -> Runner<'a> {
        Runner {
            conn,
            vars: Map::new(),
            search_paths: Vec::new(),
            become_: None,
            templar: Templar::new(),
        }
    }

    /// With `become: true` (sudo to root), as a hook's escalated tasks run.
    pub fn through_sudo(mut self) -> Runner<'a> {
        self.become_ = Some(Become {
            method: BecomeMethod::Sudo,
            user: "root".into(),
            flags: None,
        });
        self
    }

    pub async fn run(&self, module: &str, args: Value, check: bool) -> Map {
        self.run_with_env(module, args, check, Vec::new()).await
    }

    /// [`Runner::run`] with the task's `environment:`.
    pub async fn run_with_env(
        &self,
        module: &str,
        args: Value,
        check: bool,
        env: Vec<(String, String)>,
    ) -> Map {
        let module = modules::lookup(module).expect("module exists");
        let Value::Object(args) = args else {
            panic!("args must be a mapping")
        };
        // Modules that take any argument (set_fact, package) check them themselves.
        let args = if module.accepts_any_args() {
            args
        } else {
            module
                .spec()
                .check_names(module.fqcn(), &args)
                .expect("valid names");
            module
                .spec()
                .normalize(module.fqcn(), args)
                .expect("valid args")
        };
        let ctx = ModuleContext {
            host: "vm",
            conn: self.conn,
            check_mode: check,
            diff: false,
            become_: self.become_.clone(),
            env,
            timeout: Some(Duration::from_secs(120)),
            templar: &self.templar,
            scope: Scope {
                vars: &self.vars,
                search_paths: &self.search_paths,
            },
            kube: &NoCluster,
            verbosity: 0,
        };
        module
            .run(args, &ctx)
            .await
            .expect("the VM stays reachable")
    }
}

/// Boots a lab VM off the async runtime's worker threads (booting blocks for seconds).
pub async fn boot_vm() -> Vm {
    tokio::task::spawn_blocking(Vm::boot)
        .await
        .unwrap()
        .expect("booting a VM")
}

/// A control dir for the SSH connections, short (a socket path is limited to 108 bytes).
pub fn control_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .unwrap()
}

/// An SSH connection to the VM as `user` (`root` or the VM's unprivileged user) with its lab key.
pub fn connect(vm: &Vm, user: &str, control: &tempfile::TempDir) -> SshConnection {
    let key = if user == "root" {
        vm.root_key()
    } else {
        vm.user_key()
    };
    SshConnection::new(
        SshTarget {
            address: vm.address().to_string(),
            port: Some(vm.port()),
            user: Some(user.to_string()),
            private_key_file: Some(key.display().to_string()),
            ..SshTarget::default()
        },
        SshPolicy {
            control_dir: control.path().display().to_string(),
            connect_timeout: Duration::from_secs(10),
            ..SshPolicy::default()
        },
    )
}
