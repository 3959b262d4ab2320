//! What a run is asked to do: the command line's choices, in one typed value.

use crate::connection::SshPolicy;
use std::path::PathBuf;

/// Where Kubernetes objects and hosts come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// A real run: SSH to the hosts, the Kubernetes API from the pod (or kubeconfig).
    #[default]
    Run,
    /// Offline: no SSH, no cluster. Remote tasks are shown, not run; Secrets come from files
    /// (`--secret NAMESPACE/NAME=FILE`) or clearly marked placeholders.
    DryRun {
        secrets: Vec<(String, String, PathBuf)>,
    },
}

/// Only list, check or run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    #[default]
    Run,
    SyntaxCheck,
    ListTasks,
    ListHosts,
    ListTags,
}

/// Everything the engine needs from the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub playbook: PathBuf,
    /// `-i` values: files (INI or YAML) or `host1,host2,` lists.
    pub inventories: Vec<String>,
    /// `-e` values as given: `k=v k2=v2`, JSON/YAML text, or `@file`.
    pub extra_vars: Vec<String>,
    pub check: bool,
    pub diff: bool,
    pub verbosity: u8,
    /// Parallel hosts per task; 0 means the default.
    pub forks: usize,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub limit: Option<String>,
    pub mode: Mode,
    pub action: Action,
    pub ssh: SshPolicy,
    /// `--kubeconfig`: use this kubeconfig instead of the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// Where relative paths start instead of the playbook's directory (`playbook_dir`): the
    /// ad-hoc command's `--playbook-dir`, else its current directory.
    pub playbook_dir: Option<PathBuf>,
    /// `-c`: the connection where neither the host's variables nor a keyword name one.
    pub connection: Option<String>,
    /// `-u`: the remote user where neither the host's variables nor a keyword name one.
    pub remote_user: Option<String>,
    /// `--force-handlers`: every play runs its notified handlers even for failed hosts.
    pub force_handlers: bool,
    /// `ansible-playbook a.yml b.yml`: the playbooks after the first, run in order in the same
    /// run (their plays follow the first playbook's).
    pub more_playbooks: Vec<PathBuf>,
}
