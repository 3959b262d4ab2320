//! The state of one run: inventory, per-host variables, connections, stats, failed and
//! unreachable hosts, and the event stream. Shared by every play, task and host future.

use super::cancel::Cancel;
use super::frame::Frame;
use super::lock;
use super::options::{Mode, RunOptions};
use super::play_ctx::PlayCtx;
use crate::connection::local::LocalConnection;
use crate::connection::ssh::{self, SshConnection};
use crate::connection::Connection;
use crate::inventory::Inventory;
use crate::kube::{Cluster, EventSpec, InfoAnswer, InfoQuery, KubeError};
use crate::playbook::Task;
use crate::report::{Event, HostStats, Reporter};
use crate::template::Templar;
use crate::vars::{self, HostState, Layers};
use crate::{Map, Value};
use indexmap::{IndexMap, IndexSet};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Everything a run shares.
pub(crate) struct Run<'a> {
    pub opts: &'a RunOptions,
    reporter: &'a dyn Reporter,
    emit_lock: Mutex<()>,
    pub templar: Templar,
    pub inventory: Arc<Mutex<Inventory>>,
    pub hosts: Arc<Mutex<HashMap<String, HostState>>>,
    /// The play whose variables `hostvars` shows (shared with the `hostvars` lookup).
    hostvars_play: Arc<Mutex<Option<Arc<PlayLayers>>>>,
    conns: Mutex<HashMap<String, Arc<dyn Connection>>>,
    pub stats: Mutex<IndexMap<String, HostStats>>,
    /// Hosts failed for good (removed from later tasks and plays).
    pub failed: Mutex<IndexSet<String>>,
    pub unreachable: Mutex<IndexSet<String>>,
    /// Hosts made by `add_host` during the run: a VM that may still be booting, so its SSH
    /// connection waits for it (`SshPolicy::connect_wait`).
    pub added_hosts: Mutex<std::collections::HashSet<String>>,
    /// `set_stats` data, as Ansible's `AggregateStats.custom`: `_run` for the whole run, else
    /// by host name.
    pub custom_stats: Mutex<Map>,
    pub extra_vars: Map,
    pub playbook_dir: PathBuf,
    pub kube: Arc<dyn Cluster>,
    pub cancel: Cancel,
    pub dry_run: bool,
    pub forks: tokio::sync::Semaphore,
    counter: AtomicU64,
    /// Bumped whenever a host's variables or the inventory change, so a loop can keep its
    /// task variables while nothing changed (see [`Run::vars_generation`]).
    vars_generation: AtomicU64,
}

impl<'a> Run<'a> {
    pub fn new(
        opts: &'a RunOptions,
        reporter: &'a dyn Reporter,
        inventory: Inventory,
        extra_vars: Map,
        playbook_dir: PathBuf,
        cancel: Cancel,
    ) -> Result<Run<'a>, String> {
        let dry_run = matches!(opts.mode, Mode::DryRun { .. });
        let kube: Arc<dyn Cluster> = match &opts.mode {
            Mode::DryRun { secrets } => {
                let mut files = crate::kube::FileCluster::new();
                for (namespace, name, file) in secrets {
                    files.add_secret_arg(&format!("{namespace}/{name}={}", file.display()))?;
                }
                Arc::new(files)
            }
            Mode::Run => Arc::new(LazyCluster {
                kubeconfig: opts.kubeconfig.clone(),
                cell: tokio::sync::OnceCell::new(),
            }),
        };
        let forks = if opts.forks == 0 { 50 } else { opts.forks };
        let source = HostvarsSource {
            inventory: Arc::new(Mutex::new(inventory)),
            hosts: Arc::new(Mutex::new(HashMap::new())),
            play: Arc::new(Mutex::new(None)),
            extra_vars: Arc::new(extra_vars.clone()),
        };
        let templar = Templar::new();
        let answer = source.clone();
        templar.register_lookup(
            vars::LAZY_HOSTVARS,
            Arc::new(move |terms, _| Ok(answer.answer(terms))),
        );
        let k8s_lookup = crate::modules::k8s::lookup_handler(kube.clone(), opts.kubeconfig.clone());
        for name in ["kubernetes.core.k8s", "community.kubernetes.k8s", "k8s"] {
            templar.register_lookup(name, k8s_lookup.clone());
        }
        Ok(Run {
            opts,
            reporter,
            emit_lock: Mutex::new(()),
            templar,
            inventory: source.inventory,
            hosts: source.hosts,
            hostvars_play: source.play,
            conns: Mutex::new(HashMap::new()),
            stats: Mutex::new(IndexMap::new()),
            failed: Mutex::new(IndexSet::new()),
            unreachable: Mutex::new(IndexSet::new()),
            added_hosts: Mutex::new(std::collections::HashSet::new()),
            custom_stats: Mutex::new(Map::new()),
            extra_vars,
            playbook_dir,
            kube,
            cancel,
            dry_run,
            forks: tokio::sync::Semaphore::new(forks),
            counter: AtomicU64::new(0),
            vars_generation: AtomicU64::new(0),
        })
    }

    /// Sends one event to the reporter (one at a time, in order).
    pub fn emit(&self, mut event: Event) {
        if let Event::HostResult { result, item, .. } = &mut event {
            // A result can hold `!unsafe` text as loaded (include_vars): shown without its mark.
            for value in result.values_mut().chain(item.iter_mut()) {
                crate::yaml::strip_unsafe_marks(value);
            }
        }
        let _guard = lock(&self.emit_lock);
        self.reporter.event(&event);
    }

    /// A fresh id for a task or play (for artifacts).
    pub fn next_uuid(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), n)
    }

    /// Updates a host's recap counters.
    pub fn stat(&self, host: &str, f: impl FnOnce(&mut HostStats)) {
        let mut stats = lock(&self.stats);
        f(stats.entry(host.to_string()).or_default());
    }

    pub fn host_state(&self, host: &str) -> HostState {
        lock(&self.hosts).get(host).cloned().unwrap_or_default()
    }

    pub fn update_host(&self, host: &str, f: impl FnOnce(&mut HostState)) {
        let mut hosts = lock(&self.hosts);
        f(hosts.entry(host.to_string()).or_default());
        self.vars_changed();
    }

    /// Notes that some host's variables (state or inventory) changed.
    pub fn vars_changed(&self) {
        self.vars_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A number that changes whenever a host's variables may have changed: task variables
    /// built under the same number are still right.
    pub fn vars_generation(&self) -> u64 {
        self.vars_generation.load(Ordering::SeqCst)
    }

    pub fn is_unreachable(&self, host: &str) -> bool {
        lock(&self.unreachable).contains(host)
    }

    pub fn is_failed(&self, host: &str) -> bool {
        lock(&self.failed).contains(host)
    }

    pub fn mark_failed(&self, host: &str) {
        lock(&self.failed).insert(host.to_string());
    }

    /// The variables of `host` for `task` (None: play level), by precedence, with magic
    /// variables and `hostvars`.
    pub fn task_vars(&self, pctx: &PlayCtx, frame: &Frame, task: Option<&Task>, host: &str) -> Map {
        self.vars_for(pctx, frame, task, Some(host))
    }

    /// The variables of `task` without any host's: play vars, `vars_files`, role defaults,
    /// vars and params, block and task vars, include params, extra vars and the host-free
    /// magic variables (and `hostvars`). ansible-core 2.18 templates a task's (and a
    /// handler's) name with these: a name that uses a host's variable stays as written.
    pub fn hostless_task_vars(&self, pctx: &PlayCtx, frame: &Frame, task: &Task) -> Map {
        self.vars_for(pctx, frame, Some(task), None)
    }

    fn vars_for(
        &self,
        pctx: &PlayCtx,
        frame: &Frame,
        task: Option<&Task>,
        host: Option<&str>,
    ) -> Map {
        let inventory_vars = host.map(|h| lock(&self.inventory).host_vars(h));
        let state = host.map(|h| self.host_state(h));
        let play = &pctx.play;
        // Roles of the play's `roles:` expose their defaults and vars to the whole play
        // (`DEFAULT_PRIVATE_ROLE_VARS=False`); the roles around the task come last (win).
        let play_roles = play_roles(&play.roles);
        let role_defaults: Vec<&Map> = play_roles
            .iter()
            .map(|r| &r.defaults)
            .chain(frame.roles.iter().map(|r| &r.role.defaults))
            .collect();
        let role_vars: Vec<&Map> = play_roles
            .iter()
            .map(|r| &r.vars)
            .chain(frame.roles.iter().map(|r| &r.role.vars))
            .collect();
        let role_params: Vec<&Map> = frame.roles.iter().map(|r| &r.params).collect();
        let handler_role = task
            .and_then(|t| t.role.as_ref())
            .filter(|_| frame.roles.is_empty());
        let mut role_defaults = role_defaults;
        let mut role_vars = role_vars;
        if let Some(role) = handler_role {
            role_defaults.push(&role.defaults);
            role_vars.push(&role.vars);
        }
        let block_vars: Vec<&Map> = frame.block_vars.iter().collect();
        let include_params: Vec<&Map> = frame.include_params.iter().collect();
        let failed_info = host.and_then(|h| pctx.failed_info(h));
        let layers = Layers {
            role_defaults,
            inventory: inventory_vars.as_ref(),
            facts: state.as_ref().map(|s| &s.facts),
            play_vars: Some(&play.kw.vars),
            vars_files: Some(&pctx.vars_files),
            role_vars,
            block_vars,
            task_vars: task.map(|t| &t.kw.vars),
            include_vars: state.as_ref().map(|s| &s.include_vars),
            set_facts: state.as_ref().map(|s| &s.set_facts),
            role_params,
            include_params,
            extra_vars: Some(&self.extra_vars),
        };
        let mut vars = layers.merge();
        if let Some(info) = failed_info {
            vars.extend(info);
        }
        let (groups, group_names) = {
            let inv = lock(&self.inventory);
            (inv.groups_var(), host.map(|h| inv.group_names(h)))
        };
        let mut magic = pctx.magic();
        magic.groups = groups;
        let alive = |h: &&String| !self.is_failed(h) && !self.is_unreachable(h);
        magic.play_hosts = magic.play_hosts_all.iter().filter(alive).cloned().collect();
        magic.play_batch = magic.play_batch.iter().filter(alive).cloned().collect();
        match (host, group_names) {
            (Some(h), Some(names)) => vars::add_magic(&mut vars, &magic, h, names),
            _ => vars::add_play_magic(&mut vars, &magic),
        }
        let tags = |list: &[String], default: &[&str]| -> Value {
            let items: Vec<Value> = if list.is_empty() {
                default
                    .iter()
                    .map(|t| Value::String(t.to_string()))
                    .collect()
            } else {
                list.iter().cloned().map(Value::String).collect()
            };
            Value::Array(items)
        };
        vars.insert("ansible_run_tags".into(), tags(&self.opts.tags, &["all"]));
        vars.insert("ansible_skip_tags".into(), tags(&self.opts.skip_tags, &[]));
        if let Some(role) = frame
            .roles
            .last()
            .map(|r| &r.role)
            .or(task.and_then(|t| t.role.as_ref()))
        {
            vars.insert(
                "role_path".into(),
                Value::String(role.path.display().to_string()),
            );
            vars.insert("role_name".into(), Value::String(role.name.clone()));
        }
        let search: Vec<Value> = self
            .search_paths(task)
            .iter()
            .map(|p| Value::String(p.display().to_string()))
            .collect();
        vars.insert("ansible_search_path".into(), Value::Array(search));
        self.show_play_in_hostvars(pctx);
        vars.insert("hostvars".into(), Value::String(vars::LAZY_HOSTVARS.into()));
        let mut unsafe_names = state.map(|s| s.unsafe_names()).unwrap_or_default();
        if vars.contains_key("ansible_failed_result") {
            unsafe_names.push(Value::String("ansible_failed_result".into()));
        }
        vars.insert(
            crate::template::UNSAFE_VARS.into(),
            Value::Array(unsafe_names),
        );
        vars
    }

    /// Makes `hostvars` show the variables of `pctx`'s play (plays run one after another).
    fn show_play_in_hostvars(&self, pctx: &PlayCtx) {
        let mut current = lock(&self.hostvars_play);
        let same = current
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(&p.play, &pctx.play) && p.vars_files == pctx.vars_files);
        if !same {
            *current = Some(Arc::new(PlayLayers {
                play: pctx.play.clone(),
                vars_files: pctx.vars_files.clone(),
            }));
        }
    }

    /// The connection to `host` (made on first use, then reused for the run). `vars` are the
    /// host's variables (the delegated host's under `delegate_to`); the `connection`,
    /// `remote_user` and `port` keywords apply where the variables say nothing (connection
    /// variables win over keywords, as in Ansible).
    pub fn connection(
        &self,
        host: &str,
        vars: &Map,
        kw: &crate::playbook::Keywords,
    ) -> Result<Arc<dyn Connection>, String> {
        let mut vars = vars.clone();
        for (var, keyword) in [
            ("ansible_connection", &kw.connection),
            ("ansible_user", &kw.remote_user),
            ("ansible_port", &kw.port),
        ] {
            if let (false, Some(v)) = (vars.contains_key(var), keyword) {
                vars.insert(var.to_string(), v.clone());
            }
        }
        // The command line's `-c`/`-u` come last: below the variables and the keywords.
        for (var, given) in [
            ("ansible_connection", &self.opts.connection),
            ("ansible_user", &self.opts.remote_user),
        ] {
            if let (false, Some(v)) = (vars.contains_key(var), given) {
                vars.insert(var.to_string(), Value::String(v.clone()));
            }
        }
        let kind = ssh::connection_kind(&vars)?;
        let target = match kind {
            ssh::Kind::Ssh => {
                let mut target = ssh::target_from_vars(host, &vars)?;
                if target.connect_wait.is_none() && lock(&self.added_hosts).contains(host) {
                    target.connect_wait = Some(self.opts.ssh.connect_wait);
                }
                Some(target)
            }
            ssh::Kind::Local => None,
        };
        let key = format!("{host}\u{0}{kind:?}\u{0}{target:?}");
        if let Some(c) = lock(&self.conns).get(&key) {
            return Ok(c.clone());
        }
        let conn: Arc<dyn Connection> = match target {
            None => Arc::new(LocalConnection::new()),
            Some(target) => Arc::new(SshConnection::new(target, self.opts.ssh.clone())),
        };
        lock(&self.conns).insert(key, conn.clone());
        Ok(conn)
    }

    /// Closes (and forgets) one host's connections (`meta: reset_connection`).
    pub async fn reset_connection(&self, host: &str) {
        let prefix = format!("{host}\u{0}");
        let conns: Vec<Arc<dyn Connection>> = {
            let mut all = lock(&self.conns);
            let keys: Vec<String> = all
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            keys.into_iter().filter_map(|k| all.remove(&k)).collect()
        };
        for c in conns {
            c.close().await;
        }
    }

    /// Closes every connection (end of run, or cancellation).
    pub async fn close_all(&self) {
        let conns: Vec<Arc<dyn Connection>> = lock(&self.conns).drain().map(|(_, c)| c).collect();
        for c in conns {
            c.close().await;
        }
    }
}

/// The play-level layers of `hostvars`.
struct PlayLayers {
    play: Arc<crate::playbook::Play>,
    vars_files: Map,
}

/// What `hostvars` is made of, shared by the run and the templating lookup that answers
/// `hostvars` lazily ([`vars::LAZY_HOSTVARS`]).
#[derive(Clone)]
struct HostvarsSource {
    inventory: Arc<Mutex<Inventory>>,
    hosts: Arc<Mutex<HashMap<String, HostState>>>,
    play: Arc<Mutex<Option<Arc<PlayLayers>>>>,
    extra_vars: Arc<Map>,
}

impl HostvarsSource {
    /// The lookup's answer: with a host name, `[variables, unsafe names]` (nothing for an
    /// unknown host); without, every known host's name.
    fn answer(&self, terms: &[Value]) -> Vec<Value> {
        match terms.first() {
            None => lock(&self.inventory)
                .known_hosts()
                .into_iter()
                .map(Value::String)
                .collect(),
            Some(name) => match self.host_vars(&crate::value_text(name)) {
                Some((vars, unsafe_names)) => {
                    vec![Value::Object(vars), Value::Array(unsafe_names)]
                }
                None => Vec::new(),
            },
        }
    }

    /// One host's `hostvars` entry: inventory, facts, play vars, `vars_files`,
    /// `include_vars`, `set_fact`/registered values, extra vars, `inventory_hostname` and
    /// `group_names` (untemplated); and the names among them that are data (see
    /// [`HostState::unsafe_names`]).
    fn host_vars(&self, name: &str) -> Option<(Map, Vec<Value>)> {
        let (inventory_vars, group_names) = {
            let inv = lock(&self.inventory);
            if !inv.has_host(name) {
                return None;
            }
            (inv.host_vars(name), inv.group_names(name))
        };
        let play = lock(&self.play).clone();
        let no_state = HostState::default();
        let hosts = lock(&self.hosts);
        let state = hosts.get(name).unwrap_or(&no_state);
        let layers = Layers {
            inventory: Some(&inventory_vars),
            facts: Some(&state.facts),
            play_vars: play.as_ref().map(|p| &p.play.kw.vars),
            vars_files: play.as_ref().map(|p| &p.vars_files),
            include_vars: Some(&state.include_vars),
            set_facts: Some(&state.set_facts),
            extra_vars: Some(&self.extra_vars),
            ..Layers::default()
        };
        let mut vars = layers.merge();
        let unsafe_names = state.unsafe_names();
        drop(hosts);
        vars.insert("inventory_hostname".into(), Value::String(name.to_string()));
        vars.insert(
            "group_names".into(),
            Value::Array(group_names.into_iter().map(Value::String).collect()),
        );
        Some((vars, unsafe_names))
    }
}

/// The roles placed by a play's `roles:` section (dependencies included), in order.
fn play_roles(items: &[crate::playbook::Item]) -> Vec<Arc<crate::playbook::Role>> {
    items
        .iter()
        .filter_map(|item| match item {
            crate::playbook::Item::Block(b) => b.role.as_ref().map(|r| r.role.clone()),
            crate::playbook::Item::Task(_) => None,
        })
        .collect()
}

/// The real cluster, connected on first use: a playbook that never calls the API must not
/// need credentials.
struct LazyCluster {
    kubeconfig: Option<PathBuf>,
    cell: tokio::sync::OnceCell<Result<crate::kube::ApiCluster, KubeError>>,
}

impl LazyCluster {
    async fn get(&self) -> Result<&crate::kube::ApiCluster, KubeError> {
        let result = self
            .cell
            .get_or_init(|| crate::kube::ApiCluster::connect(self.kubeconfig.as_deref(), None))
            .await;
        result.as_ref().map_err(Clone::clone)
    }
}

#[async_trait::async_trait]
impl Cluster for LazyCluster {
    async fn info(&self, query: &InfoQuery) -> Result<InfoAnswer, KubeError> {
        self.get().await?.info(query).await
    }
    async fn post_event(&self, event: &EventSpec) -> Result<(), KubeError> {
        self.get().await?.post_event(event).await
    }
    async fn resource_type(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<crate::kube::ResourceType>, KubeError> {
        self.get().await?.resource_type(api_version, kind).await
    }
    async fn get_object(
        &self,
        target: &crate::kube::ObjectRef,
    ) -> Result<Option<crate::Value>, KubeError> {
        self.get().await?.get_object(target).await
    }
    async fn create_object(
        &self,
        target: &crate::kube::ObjectRef,
        object: &crate::Value,
        dry_run: bool,
    ) -> Result<crate::Value, KubeError> {
        self.get()
            .await?
            .create_object(target, object, dry_run)
            .await
    }
    async fn replace_object(
        &self,
        target: &crate::kube::ObjectRef,
        object: &crate::Value,
        dry_run: bool,
    ) -> Result<crate::Value, KubeError> {
        self.get()
            .await?
            .replace_object(target, object, dry_run)
            .await
    }
    async fn patch_object(
        &self,
        target: &crate::kube::ObjectRef,
        patch: &crate::Value,
        kind: &crate::kube::PatchKind,
        dry_run: bool,
    ) -> Result<crate::Value, KubeError> {
        self.get()
            .await?
            .patch_object(target, patch, kind, dry_run)
            .await
    }
    async fn delete_object(
        &self,
        target: &crate::kube::ObjectRef,
        options: Option<&crate::Value>,
        dry_run: bool,
    ) -> Result<crate::Value, KubeError> {
        self.get()
            .await?
            .delete_object(target, options, dry_run)
            .await
    }
}
