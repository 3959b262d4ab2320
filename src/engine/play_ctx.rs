//! The state of one play (one batch of it) that its tasks share: play magic variables,
//! handler notifications, hosts ended or failed, and what ends the play.

use super::lock;
use crate::playbook::Play;
use crate::vars::PlayMagic;
use crate::{Map, Value};
use indexmap::{IndexMap, IndexSet};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The state of one play (one batch of it).
pub(crate) struct PlayCtx {
    pub play: Arc<Play>,
    pub vars_files: Map,
    magic: Mutex<PlayMagic>,
    /// Handler index → hosts that notified it.
    notified: Mutex<IndexMap<usize, IndexSet<String>>>,
    /// Handler index → the name it answers to, once templated (see `Run::handler_name`).
    handler_names: Mutex<HashMap<usize, String>>,
    /// Notifications no handler answered: (name, host). The host's next flush fails the run.
    missing: Mutex<Vec<(String, String)>>,
    /// Hosts that ran `meta: end_host`.
    ended: Mutex<IndexSet<String>>,
    end_play: AtomicBool,
    /// `max_fail_percentage` ended the play.
    max_fail_broke: AtomicBool,
    /// Per host, how many times `meta: clear_host_errors` cleared it: a failure recorded
    /// under an older generation no longer counts.
    generations: Mutex<HashMap<String, u64>>,
    /// Hosts failed by another host's `any_errors_fatal` while not in the failing round:
    /// each fails at its next task (and so still gets its blocks' rescue/always).
    aborted: Mutex<HashSet<String>>,
    /// `ansible_failed_task`/`ansible_failed_result` per host, for rescue.
    failed_info: Mutex<HashMap<String, Map>>,
    /// An error that ends the run (exit 1), such as a missing handler.
    pub fatal: Mutex<Option<String>>,
    pub batch: Vec<String>,
}

impl PlayCtx {
    /// A batch's state before its first task (its `vars_files` are loaded into it next).
    pub fn new(play: Arc<Play>, magic: PlayMagic, batch: Vec<String>) -> PlayCtx {
        PlayCtx {
            play,
            vars_files: Map::new(),
            magic: Mutex::new(magic),
            notified: Mutex::new(IndexMap::new()),
            handler_names: Mutex::new(HashMap::new()),
            missing: Mutex::new(Vec::new()),
            ended: Mutex::new(IndexSet::new()),
            end_play: AtomicBool::new(false),
            max_fail_broke: AtomicBool::new(false),
            generations: Mutex::new(HashMap::new()),
            aborted: Mutex::new(HashSet::new()),
            failed_info: Mutex::new(HashMap::new()),
            fatal: Mutex::new(None),
            batch,
        }
    }
    /// Whether `max_fail_percentage` ended the play.
    pub fn broke_by_max_fail(&self) -> bool {
        self.max_fail_broke.load(Ordering::SeqCst)
    }
    pub fn magic(&self) -> PlayMagic {
        lock(&self.magic).clone()
    }
    pub fn failed_info(&self, host: &str) -> Option<Map> {
        lock(&self.failed_info).get(host).cloned()
    }
    pub fn set_failed_info(&self, host: &str, task: Map, result: Map) {
        let mut m = Map::new();
        m.insert("ansible_failed_task".into(), Value::Object(task));
        m.insert("ansible_failed_result".into(), Value::Object(result));
        lock(&self.failed_info).insert(host.to_string(), m);
    }
    pub fn generation(&self, host: &str) -> u64 {
        lock(&self.generations).get(host).copied().unwrap_or(0)
    }
    /// `meta: clear_host_errors` for one host: its earlier failures stop counting.
    pub fn clear_errors(&self, host: &str) {
        *lock(&self.generations).entry(host.to_string()).or_insert(0) += 1;
    }
    pub fn abort_host(&self, host: &str) {
        lock(&self.aborted).insert(host.to_string());
    }
    /// Whether the host was aborted (and forgets it: the failure is taken once).
    pub fn take_aborted(&self, host: &str) -> bool {
        lock(&self.aborted).remove(host)
    }
    pub fn notify(&self, handler: usize, host: &str) {
        lock(&self.notified)
            .entry(handler)
            .or_default()
            .insert(host.to_string());
    }
    /// The hosts that notified `handler`, forgetting them; with `only`, just those hosts (the
    /// others stay notified for a later flush).
    pub fn take_notified(&self, handler: usize, only: Option<&[String]>) -> Vec<String> {
        let mut notified = lock(&self.notified);
        let Some(hosts) = notified.get_mut(&handler) else {
            return Vec::new();
        };
        let taken: Vec<String> = hosts
            .iter()
            .filter(|h| only.is_none_or(|o| o.contains(h)))
            .cloned()
            .collect();
        hosts.retain(|h| !taken.contains(h));
        if hosts.is_empty() {
            notified.shift_remove(&handler);
        }
        taken
    }
    pub fn handler_name(&self, handler: usize) -> Option<String> {
        lock(&self.handler_names).get(&handler).cloned()
    }
    pub fn set_handler_name(&self, handler: usize, name: String) {
        lock(&self.handler_names).insert(handler, name);
    }
    pub fn add_missing(&self, name: &str, host: &str) {
        lock(&self.missing).push((name.to_string(), host.to_string()));
    }
    /// The first notification no handler answered, of a host `flushing` says flushes now.
    pub fn first_missing(&self, flushing: &dyn Fn(&str) -> bool) -> Option<String> {
        lock(&self.missing)
            .iter()
            .find(|(_, h)| flushing(h))
            .map(|(n, _)| n.clone())
    }
    pub fn end_host(&self, host: &str) {
        lock(&self.ended).insert(host.to_string());
    }
    pub fn is_ended(&self, host: &str) -> bool {
        lock(&self.ended).contains(host)
    }
    pub fn end_play(&self) {
        self.end_play.store(true, Ordering::SeqCst);
    }
    pub fn broke_on_max_fail(&self) {
        self.max_fail_broke.store(true, Ordering::SeqCst);
    }
    pub fn stopped(&self) -> bool {
        self.end_play.load(Ordering::SeqCst) || lock(&self.fatal).is_some()
    }
}
