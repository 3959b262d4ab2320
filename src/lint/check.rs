//! The checks, on the playbook's YAML as written (every value keeps its line and column).
//!
//! Plays and their task lists (`pre_tasks`, `tasks`, `post_tasks`, `handlers`, blocks) are
//! walked in order; imported files and roles are not followed (the engine's load-time
//! validation, run first, covers their modules and parameters).

use super::expr::{self, Ref, Seg, Uses};
use super::paths::{self, Reach};
use super::shapes::{self, Provider};
use super::{Finding, Severity};
use crate::template::Templar;
use crate::yaml::{Node, Yaml};
use crate::Value;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;

/// The `workload.yml` the hook is checked against: a provider's shape or the hook's own file.
pub struct Workload {
    pub label: String,
    pub value: Value,
}

impl Workload {
    pub fn of(provider: Provider) -> Workload {
        Workload {
            label: provider.name().to_string(),
            value: provider.workload().clone(),
        }
    }
}

/// Where a data file's keys land: under a name (`include_vars: {name: workload}`) or at the top.
#[derive(Default)]
struct DataRoots {
    workload_names: BTreeSet<String>,
    plan_names: BTreeSet<String>,
    workload_top: bool,
    plan_top: bool,
}

/// A template found in the playbook.
struct Site<'a> {
    node: &'a Node,
    uses: Uses,
    text: String,
    /// A bare expression (`when:`) rather than a template.
    expression: bool,
    /// Part of the module's arguments (not a keyword such as `environment`).
    in_args: bool,
    /// It does not parse: its references are not checked (the syntax error says enough).
    broken: bool,
    /// The task (or play) it belongs to: index into `Linter::tasks`.
    task: usize,
}

/// What the rules need of one task.
struct TaskInfo<'a> {
    node: &'a Node,
    module: String,
    args: Option<&'a Node>,
    no_log: bool,
    play: usize,
}

struct PlayInfo<'a> {
    node: &'a Node,
    hosts: Vec<String>,
    hosts_templated: bool,
}

pub struct Linter<'a> {
    file: String,
    source: Vec<&'a str>,
    dir: &'a Path,
    workloads: &'a [Workload],
    templar: Templar,
    plays: Vec<PlayInfo<'a>>,
    tasks: Vec<TaskInfo<'a>>,
    sites: Vec<Site<'a>>,
    defined: HashSet<String>,
    data: DataRoots,
    /// Variables from vars files found beside the playbook, with their values.
    vars_data: crate::Map,
    /// A vars file without a name could not be read: undefined variables cannot be told.
    unknown_vars_source: bool,
    collecting_args: bool,
    pub findings: Vec<Finding>,
}

/// Names every run defines (magic variables; `ansible_*` facts and settings are all accepted).
const MAGIC: &[&str] = &[
    "hostvars",
    "groups",
    "group_names",
    "inventory_hostname",
    "inventory_hostname_short",
    "inventory_dir",
    "inventory_file",
    "play_hosts",
    "playbook_dir",
    "role_path",
    "role_name",
    "role_names",
    "omit",
    "item",
    "environment",
];

impl<'a> Linter<'a> {
    pub fn new(
        file: &str,
        source: &'a str,
        dir: &'a Path,
        workloads: &'a [Workload],
    ) -> Linter<'a> {
        Linter {
            file: file.to_string(),
            source: source.lines().collect(),
            dir,
            workloads,
            templar: Templar::new(),
            plays: Vec::new(),
            tasks: Vec::new(),
            sites: Vec::new(),
            defined: MAGIC.iter().map(|s| s.to_string()).collect(),
            data: DataRoots::default(),
            vars_data: crate::Map::new(),
            unknown_vars_source: false,
            collecting_args: false,
            findings: Vec::new(),
        }
    }

    pub fn run(&mut self, root: &'a Node) {
        let Some(plays) = root.as_seq() else {
            return;
        };
        for play in plays {
            if play.as_map().is_some() && play.get("import_playbook").is_none() {
                self.collect_play(play);
            }
        }
        self.check_templates();
        self.check_paths();
        self.check_secrets();
        self.check_hosts();
        self.check_key_modes();
        self.check_gather_facts();
        self.findings
            .sort_by(|a, b| (a.line, a.col, a.rule).cmp(&(b.line, b.col, b.rule)));
        self.findings.dedup();
    }

    fn finding(
        &mut self,
        node: &Node,
        needle: Option<&str>,
        rule: &'static str,
        severity: Severity,
        message: String,
        fix: Option<String>,
    ) {
        let (line, col) = self.locate(node, needle);
        self.findings.push(Finding {
            file: self.file.clone(),
            line,
            col,
            rule,
            severity,
            message,
            fix,
        });
    }

    /// Where `needle` is written, searching from the node's line (block scalars span lines).
    fn locate(&self, node: &Node, needle: Option<&str>) -> (usize, usize) {
        if let Some(needle) = needle {
            let first = node.mark.line.saturating_sub(1);
            for (i, line) in self.source.iter().enumerate().skip(first).take(200) {
                let from = if i == first {
                    node.mark.col.saturating_sub(1)
                } else {
                    0
                };
                if let Some(pos) = line.get(from..).and_then(|l| l.find(needle)) {
                    return (i + 1, line[..from + pos].chars().count() + 1);
                }
            }
        }
        (node.mark.line, node.mark.col)
    }

    // ----- collection -----

    fn collect_play(&mut self, play: &'a Node) {
        let play_index = self.plays.len();
        let (hosts, hosts_templated) = match play.get("hosts").map(|h| &h.value) {
            Some(Yaml::Str(s)) => (split_patterns(s), Templar::is_template(s)),
            Some(Yaml::Seq(items)) => {
                let texts: Vec<String> = items
                    .iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect();
                let templated = texts.iter().any(|t| Templar::is_template(t));
                (
                    texts.iter().flat_map(|t| split_patterns(t)).collect(),
                    templated,
                )
            }
            _ => (Vec::new(), true),
        };
        self.plays.push(PlayInfo {
            node: play,
            hosts,
            hosts_templated,
        });
        // The play itself, as a pseudo-task for the templates it holds (name, vars, hosts).
        let play_task = self.tasks.len();
        self.tasks.push(TaskInfo {
            node: play,
            module: String::new(),
            args: None,
            no_log: truthy(play.get("no_log")),
            play: play_index,
        });
        for (k, v) in play.as_map().unwrap_or_default() {
            match k.as_str().unwrap_or("") {
                "vars" => {
                    self.define_keys(v);
                    self.collect_templates(v, play_task, false);
                }
                "vars_files" => {
                    for file in v.as_seq().unwrap_or_default() {
                        if let Some(name) = file.as_str() {
                            self.load_vars_file(name, None);
                        }
                    }
                }
                "pre_tasks" | "tasks" | "post_tasks" | "handlers" => {
                    self.collect_tasks(v, play_index, false)
                }
                "name" | "hosts" | "environment" | "remote_user" | "become_user" => {
                    self.collect_templates(v, play_task, false)
                }
                _ => {}
            }
        }
    }

    fn collect_tasks(&mut self, list: &'a Node, play: usize, no_log: bool) {
        for task in list.as_seq().unwrap_or_default() {
            if task.as_map().is_none() {
                continue;
            }
            let no_log = no_log || truthy(task.get("no_log"));
            if let Some(block) = task.get("block") {
                let index = self.push_task(task, String::new(), None, no_log, play);
                self.collect_keywords(task, index);
                self.collect_tasks(block, play, no_log);
                for part in ["rescue", "always"] {
                    if let Some(items) = task.get(part) {
                        self.collect_tasks(items, play, no_log);
                    }
                }
                continue;
            }
            let action = task.as_map().unwrap_or_default().iter().find(|(k, _)| {
                k.as_str()
                    .is_some_and(|k| !crate::playbook::is_task_keyword(k))
            });
            let (module, args) = match action {
                Some((k, v)) => {
                    let written = k.as_str().unwrap_or_default();
                    let module = crate::modules::lookup(written)
                        .map(|m| m.name().to_string())
                        .unwrap_or_else(|| written.to_string());
                    (module, Some(v))
                }
                None => (String::new(), None),
            };
            let index = self.push_task(task, module, args, no_log, play);
            self.collect_keywords(task, index);
            self.learn_task(index);
            if let Some(args) = args {
                self.collecting_args = true;
                self.collect_templates(args, index, false);
                self.collecting_args = false;
                if self.tasks[index].module == "debug" {
                    if let Some(var) = args.get("var") {
                        self.collect_templates(var, index, true);
                    }
                }
            }
        }
    }

    fn push_task(
        &mut self,
        node: &'a Node,
        module: String,
        args: Option<&'a Node>,
        no_log: bool,
        play: usize,
    ) -> usize {
        self.tasks.push(TaskInfo {
            node,
            module,
            args,
            no_log,
            play,
        });
        self.tasks.len() - 1
    }

    /// The templates in a task's keywords, and the names it defines.
    fn collect_keywords(&mut self, task: &'a Node, index: usize) {
        for (k, v) in task.as_map().unwrap_or_default() {
            let key = k.as_str().unwrap_or("");
            match key {
                "when" | "changed_when" | "failed_when" | "until" => {
                    self.collect_templates(v, index, true)
                }
                "register" => {
                    if let Some(name) = v.as_str() {
                        self.defined.insert(name.to_string());
                    }
                }
                "vars" => {
                    self.define_keys(v);
                    self.collect_templates(v, index, false);
                }
                "loop_control" => {
                    for var in ["loop_var", "index_var"] {
                        if let Some(name) = v.get(var).and_then(Node::as_str) {
                            self.defined.insert(name.to_string());
                        }
                    }
                }
                "name" | "loop" | "environment" | "delegate_to" | "args" | "become_user"
                | "retries" | "delay" | "notify" => self.collect_templates(v, index, false),
                _ if key.starts_with("with_") => self.collect_templates(v, index, false),
                _ => {}
            }
        }
    }

    /// Names a task defines for the tasks after it (flow aside: a name any task defines counts).
    fn learn_task(&mut self, index: usize) {
        let module = self.tasks[index].module.clone();
        let Some(args) = self.tasks[index].args else {
            return;
        };
        match module.as_str() {
            "set_fact" | "set_stats" => self.define_keys(args),
            "add_host" => {
                for (k, _) in args.as_map().unwrap_or_default() {
                    if let Some(k) = k.as_str() {
                        if !matches!(
                            k,
                            "name" | "hostname" | "host" | "groups" | "group" | "groupname"
                        ) {
                            self.defined.insert(k.to_string());
                        }
                    }
                }
            }
            "include_vars" => {
                let file = args
                    .as_str()
                    .or_else(|| args.get("file").and_then(Node::as_str))
                    .or_else(|| args.get("_raw_params").and_then(Node::as_str));
                let name = args.get("name").and_then(Node::as_str);
                if let Some(file) = file {
                    self.load_vars_file(file, name);
                } else if let Some(name) = name {
                    self.defined.insert(name.to_string());
                }
            }
            "getent" => {
                if let Some(db) = args.get("database").and_then(Node::as_str) {
                    self.defined.insert(format!("getent_{db}"));
                }
            }
            _ => {}
        }
    }

    /// A vars file: `workload.yml` and `plan.yml` are Forklift's data (checked against the
    /// shapes); any other file found beside the playbook defines its keys.
    fn load_vars_file(&mut self, file: &str, name: Option<&str>) {
        let base = file.rsplit('/').next().unwrap_or(file);
        match (base, name) {
            ("workload.yml", Some(n)) => {
                self.data.workload_names.insert(n.to_string());
            }
            ("workload.yml", None) => self.data.workload_top = true,
            ("plan.yml", Some(n)) => {
                self.data.plan_names.insert(n.to_string());
            }
            ("plan.yml", None) => self.data.plan_top = true,
            (_, name) => {
                let path = crate::engine::hook_dir::redirect(file, self.dir)
                    .unwrap_or_else(|| self.dir.join(file));
                let loaded = crate::yaml::load_file(&path).ok().map(|n| n.to_value());
                match (name, loaded) {
                    (Some(n), Some(value)) => {
                        self.vars_data.insert(n.to_string(), value);
                    }
                    (Some(n), None) => {
                        self.defined.insert(n.to_string());
                    }
                    (None, Some(crate::Value::Object(map))) => self.vars_data.extend(map),
                    // A file this machine cannot read (templated name, not here yet) may
                    // define anything.
                    (None, _) => self.unknown_vars_source = true,
                }
            }
        }
    }

    fn define_keys(&mut self, node: &Node) {
        for (k, _) in node.as_map().unwrap_or_default() {
            if let Some(k) = k.as_str() {
                self.defined.insert(k.to_string());
            }
        }
    }

    fn collect_templates(&mut self, node: &'a Node, task: usize, expression: bool) {
        match &node.value {
            Yaml::Str(s) => {
                let is_template = Templar::is_template(s);
                if is_template || expression {
                    let uses = if is_template {
                        expr::template_uses(s)
                    } else {
                        expr::expression_uses(s)
                    };
                    self.sites.push(Site {
                        node,
                        uses,
                        text: s.clone(),
                        expression: expression && !is_template,
                        in_args: self.collecting_args,
                        broken: false,
                        task,
                    });
                }
            }
            Yaml::Seq(items) => {
                for item in items {
                    self.collect_templates(item, task, expression);
                }
            }
            Yaml::Map(entries) => {
                for (k, v) in entries {
                    // `assert: that:` holds bare expressions.
                    let bare = expression || k.as_str() == Some("that");
                    self.collect_templates(v, task, bare);
                }
            }
            _ => {}
        }
    }

    // ----- rules -----

    /// Every template parses; every filter, test and lookup it calls exists.
    fn check_templates(&mut self) {
        let mut out = Vec::new();
        {
            let env = self.templar.env();
            let probe = env.template_from_str("").ok();
            let mut state = probe.as_ref().map(|t| t.new_state());
            for (i, site) in self.sites.iter().enumerate() {
                let parsed = if site.expression {
                    env.compile_expression(&site.text).map(|_| ())
                } else {
                    env.template_from_str(&site.text).map(|_| ())
                };
                if let Err(e) = parsed {
                    let detail = e
                        .detail()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.kind().to_string());
                    out.push((
                        i,
                        None,
                        "template-syntax",
                        format!(
                            "template error while templating string: {detail}. String: {}",
                            site.text
                        ),
                        None,
                    ));
                    continue;
                }
                if let Some(state) = state.as_mut() {
                    for f in &site.uses.filters {
                        if matches!(state.apply_filter(f, &[]), Err(ref e) if e.kind() == minijinja::ErrorKind::UnknownFilter)
                        {
                            out.push((
                                i,
                                Some(f.clone()),
                                "unknown-filter",
                                format!("No filter named '{f}'."),
                                None,
                            ));
                        }
                    }
                    for t in &site.uses.tests {
                        if matches!(state.perform_test(t, &[]), Err(ref e) if e.kind() == minijinja::ErrorKind::UnknownTest)
                        {
                            out.push((
                                i,
                                Some(t.clone()),
                                "unknown-test",
                                format!("No test named '{t}'."),
                                None,
                            ));
                        }
                    }
                }
                for l in &site.uses.lookups {
                    if !self.lookup_exists(l) {
                        out.push((
                            i,
                            Some(l.clone()),
                            "unknown-lookup",
                            format!("lookup plugin ({l}) not found"),
                            None,
                        ));
                    }
                }
            }
        }
        for (i, needle, rule, message, fix) in out {
            if rule == "template-syntax" {
                self.sites[i].broken = true;
            }
            let node = self.sites[i].node;
            self.finding(node, needle.as_deref(), rule, Severity::Error, message, fix);
        }
    }

    /// Asks the engine's templar: an unknown lookup fails with "lookup plugin (x) not found".
    fn lookup_exists(&self, name: &str) -> bool {
        let vars = crate::Map::new();
        let scope = crate::template::Scope {
            vars: &vars,
            search_paths: &[],
        };
        let probe = format!("{{{{ lookup({}) }}}}", serde_json::Value::from(name));
        match self.templar.render_str(&probe, scope) {
            Ok(_) => true,
            Err(e) => !e
                .message
                .contains(&format!("lookup plugin ({name}) not found")),
        }
    }

    /// Variable paths into Forklift's data, and variables nothing defines.
    fn check_paths(&mut self) {
        let plan = shapes::plan();
        let mut out = Vec::new();
        let top_workload_keys: BTreeSet<String> = self
            .workloads
            .iter()
            .flat_map(|w| {
                w.value
                    .as_object()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .collect();
        for (i, site) in self.sites.iter().enumerate() {
            if site.broken {
                continue;
            }
            for r in &site.uses.refs {
                if self.defined.contains(&r.root)
                    || r.root.starts_with("ansible_")
                    || crate::template::GLOBAL_NAMES.contains(&r.root.as_str())
                {
                    continue;
                }
                if let Some(value) = self.vars_data.get(&r.root) {
                    if let (Reach::Missing(at), false) = (paths::reach(value, &r.path), r.guarded) {
                        let hint = paths::suggest(value, &r.path)
                            .map(|s| format!(" (did you mean `{}.{s}`?)", r.root))
                            .unwrap_or_default();
                        let missing = dotted(&r.path[..=at]);
                        let message = format!(
                            "`{}` does not exist: the vars file that defines `{}` has no `{missing}`{hint}",
                            r.dotted(),
                            r.root
                        );
                        out.push((
                            i,
                            r.text.clone(),
                            "vars-path",
                            Severity::Error,
                            message,
                            None,
                        ));
                    }
                    continue;
                }
                let (shape_kind, path): (&str, Vec<Seg>) =
                    if self.data.workload_names.contains(&r.root) {
                        ("workload", r.path.clone())
                    } else if self.data.plan_names.contains(&r.root) {
                        ("plan", r.path.clone())
                    } else if self.data.workload_top && top_workload_keys.contains(&r.root) {
                        (
                            "workload",
                            std::iter::once(Seg::Key(r.root.clone()))
                                .chain(r.path.iter().cloned())
                                .collect(),
                        )
                    } else if self.data.plan_top && plan.get(&r.root).is_some() {
                        (
                            "plan",
                            std::iter::once(Seg::Key(r.root.clone()))
                                .chain(r.path.iter().cloned())
                                .collect(),
                        )
                    } else {
                        if !r.guarded && !self.unknown_vars_source {
                            out.push((
                                i,
                                r.text.clone(),
                                "undefined-variable",
                                Severity::Error,
                                undefined_message(r, &self.data),
                                undefined_fix(r),
                            ));
                        }
                        continue;
                    };
                let shown = r.dotted();
                // Suggestions are written the way the hook reaches the data (`workload.` or not).
                let prefix = if r.path.len() < path.len() {
                    String::new()
                } else {
                    format!("{}.", r.root)
                };
                if shape_kind == "plan" {
                    if let Reach::Missing(at) = paths::reach(plan, &path) {
                        if !r.guarded {
                            let hint = paths::suggest(plan, &path)
                                .map(|s| format!("did you mean `{prefix}{s}`?"))
                                .unwrap_or_else(|| {
                                    "plan.yml holds the Plan's spec only, with lowercased keys"
                                        .to_string()
                                });
                            out.push((
                                i,
                                r.text.clone(),
                                "plan-path",
                                Severity::Error,
                                format!(
                                    "`{}` does not exist in plan.yml (no `{}`): {hint}",
                                    r.dotted(),
                                    dotted(&path[..=at])
                                ),
                                None,
                            ));
                        }
                    }
                    continue;
                }
                let mut present = Vec::new();
                let mut missing = Vec::new();
                for w in self.workloads {
                    match paths::reach(&w.value, &path) {
                        Reach::Exists => present.push(w.label.clone()),
                        Reach::Missing(_) => {
                            missing.push((w.label.clone(), paths::suggest(&w.value, &path)))
                        }
                    }
                }
                if missing.is_empty() || (r.guarded && !present.is_empty()) {
                    continue;
                }
                let severity = if present.is_empty() && !r.guarded {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                let mut message = format!("`{shown}` does not exist for ");
                let parts: Vec<String> = missing
                    .iter()
                    .map(|(label, hint)| match hint {
                        Some(h) => format!("{label} (did you mean `{prefix}{h}`?)"),
                        None => label.clone(),
                    })
                    .collect();
                message.push_str(&parts.join(", "));
                if !present.is_empty() {
                    message.push_str(&format!("; exists for {}", present.join(", ")));
                }
                if r.guarded {
                    message.push_str("; the default is always used there");
                }
                let fix = missing.iter().find_map(|(_, h)| h.clone()).map(|h| {
                    format!("use `{prefix}{h}` for that provider, or guard the path with `| default(...)`")
                });
                out.push((i, r.text.clone(), "workload-path", severity, message, fix));
            }
        }
        for (i, needle, rule, severity, message, fix) in out {
            let node = self.sites[i].node;
            self.finding(node, Some(&needle), rule, severity, message, fix);
        }
    }

    /// A Secret's data printed (debug, command lines, facts) by a task without `no_log`.
    fn check_secrets(&mut self) {
        let mut secret_vars: HashSet<String> = self
            .tasks
            .iter()
            .filter(|t| t.module == "k8s_info")
            .filter(|t| t.args.and_then(|a| a.get("kind")).and_then(Node::as_str) == Some("Secret"))
            .filter_map(|t| {
                t.node
                    .get("register")
                    .and_then(Node::as_str)
                    .map(String::from)
            })
            .collect();
        // A fact set from a Secret's data holds it too (`set_fact: {key: "{{ creds... }}"}`).
        loop {
            let before = secret_vars.len();
            for t in self.tasks.iter().filter(|t| t.module == "set_fact") {
                for (k, v) in t.args.and_then(Node::as_map).unwrap_or_default() {
                    let mut texts = Vec::new();
                    strings_in(v, &mut texts);
                    let tainted = texts.iter().any(|text| {
                        let uses = expr::template_uses(text);
                        uses.secret_lookup
                            || uses.refs.iter().any(|r| secret_vars.contains(&r.root))
                    });
                    if let (true, Some(name)) = (tainted, k.as_str()) {
                        secret_vars.insert(name.to_string());
                    }
                }
            }
            if secret_vars.len() == before {
                break;
            }
        }
        let mut out = Vec::new();
        for site in &self.sites {
            let task = &self.tasks[site.task];
            let prints = matches!(
                task.module.as_str(),
                "debug" | "fail" | "assert" | "command" | "shell" | "script" | "raw" | "set_fact"
            );
            if !prints || task.no_log || !site.in_args {
                continue;
            }
            let secret = site.uses.secret_lookup
                || site.uses.refs.iter().any(|r| secret_vars.contains(&r.root));
            if secret {
                let severity = if task.module == "debug" {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                out.push((site.node, severity, format!("a Secret's data reaches the output of this `{}` task (its result is printed)", task.module)));
            }
        }
        for (node, severity, message) in out {
            self.finding(
                node,
                None,
                "secret-no-log",
                severity,
                message,
                Some("add `no_log: true` to the task".into()),
            );
        }
    }

    /// Plays whose hosts no hook inventory holds: a hook starts with localhost alone; only
    /// `add_host` adds hosts.
    fn check_hosts(&mut self) {
        let mut out = Vec::new();
        // Names and groups added by add_host, with the index of the play that adds them.
        let mut added: Vec<(String, usize)> = Vec::new();
        for t in &self.tasks {
            if t.module != "add_host" {
                continue;
            }
            let Some(args) = t.args else { continue };
            for key in ["name", "hostname", "host", "groups", "group", "groupname"] {
                match args.get(key).map(|v| &v.value) {
                    Some(Yaml::Str(s)) => {
                        for g in s.split(',') {
                            added.push((g.trim().to_string(), t.play));
                        }
                    }
                    Some(Yaml::Seq(items)) => {
                        for i in items {
                            if let Some(s) = i.as_str() {
                                added.push((s.to_string(), t.play));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let any_templated_add = added.iter().any(|(n, _)| Templar::is_template(n));
        for (index, play) in self.plays.iter().enumerate() {
            if play.hosts_templated {
                continue;
            }
            for pattern in &play.hosts {
                let name = pattern.trim_start_matches(['!', '&']);
                if matches!(name, "localhost" | "127.0.0.1" | "") {
                    continue;
                }
                let everything = matches!(name, "all" | "*");
                let adders: Vec<usize> = added
                    .iter()
                    .filter(|(n, _)| {
                        everything || n == name || (name.contains('*') && glob_like(name, n))
                    })
                    .map(|(_, p)| *p)
                    .collect();
                if adders.is_empty() {
                    if !any_templated_add || !everything {
                        out.push((play.node, pattern.clone(), "hosts-match-nothing", Severity::Warning, format!("hosts pattern '{pattern}' matches no host in a hook: its inventory holds only localhost, and no add_host adds '{name}'"), Some("add the VM with add_host in an earlier play (groups: NAME), or target localhost".to_string())));
                    }
                } else if adders.iter().all(|p| *p >= index) {
                    out.push((play.node, pattern.clone(), "vm-before-add-host", Severity::Error, format!("this play targets '{pattern}' before any add_host adds it: in a hook the play finds no host and is skipped"), Some("move the add_host task into a play that runs before this one".to_string())));
                }
            }
        }
        for (node, needle, rule, severity, message, fix) in out {
            let node = node.get("hosts").unwrap_or(node);
            self.finding(node, Some(&needle), rule, severity, message, fix);
        }
    }

    /// A private key written without mode 0600: ssh refuses a key others can read.
    fn check_key_modes(&mut self) {
        let mut out = Vec::new();
        for t in &self.tasks {
            if !matches!(t.module.as_str(), "copy" | "template") {
                continue;
            }
            let Some(args) = t.args else { continue };
            let Some(dest) = args.get("dest").and_then(Node::as_str) else {
                continue;
            };
            let base = dest.rsplit('/').next().unwrap_or(dest);
            let is_key = matches!(base, "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519")
                || base.ends_with(".pem")
                || base.ends_with(".key");
            if !is_key {
                continue;
            }
            let mode = args.get("mode");
            let ok = mode.is_some_and(|m| private_mode(&m.value));
            if !ok {
                let written = mode
                    .map(|m| format!("mode {}", describe_mode(&m.value)))
                    .unwrap_or_else(|| "no mode".to_string());
                out.push((mode.unwrap_or(t.node), format!("private key {dest} is written with {written}: ssh refuses a key that others can read (\"UNPROTECTED PRIVATE KEY FILE\")")));
            }
        }
        for (node, message) in out {
            self.finding(
                node,
                None,
                "private-key-mode",
                Severity::Error,
                message,
                Some("set `mode: \"0600\"`".into()),
            );
        }
    }

    /// `gather_facts` left on for a play that runs on localhost only and uses no fact.
    fn check_gather_facts(&mut self) {
        let mut out = Vec::new();
        for (index, play) in self.plays.iter().enumerate() {
            let local_only = !play.hosts.is_empty()
                && play
                    .hosts
                    .iter()
                    .all(|h| matches!(h.as_str(), "localhost" | "127.0.0.1"));
            let gathers = match play.node.get("gather_facts") {
                None => true,
                Some(v) => truthy(Some(v)),
            };
            if !local_only || !gathers {
                continue;
            }
            let uses_facts = self
                .sites
                .iter()
                .filter(|s| self.tasks[s.task].play == index)
                .any(|s| {
                    s.uses
                        .refs
                        .iter()
                        .any(|r| r.root.starts_with("ansible_") || r.root == "hostvars")
                });
            if !uses_facts {
                out.push(play.node);
            }
        }
        for node in out {
            let at = node
                .get("gather_facts")
                .unwrap_or(node.get("hosts").unwrap_or(node));
            self.finding(at, None, "gather-facts-localhost", Severity::Warning, "this play runs on localhost only and uses no fact, but gathers facts (seconds of hook pod time)".into(), Some("add `gather_facts: false` to the play".into()));
        }
    }
}

/// Every string inside a value.
fn strings_in<'n>(node: &'n Node, out: &mut Vec<&'n str>) {
    match &node.value {
        Yaml::Str(s) => out.push(s),
        Yaml::Seq(items) => items.iter().for_each(|i| strings_in(i, out)),
        Yaml::Map(entries) => entries.iter().for_each(|(_, v)| strings_in(v, out)),
        _ => {}
    }
}

fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn undefined_message(r: &Ref, data: &DataRoots) -> String {
    let mut message = format!(
        "'{}' is undefined: no vars source of the hook defines it",
        r.root
    );
    if r.root == "workload" && data.workload_names.is_empty() {
        message =
            "'workload' is undefined: the hook does not load workload.yml under that name".into();
    } else if r.root == "plan" && data.plan_names.is_empty() {
        message = "'plan' is undefined: the hook does not load plan.yml under that name".into();
    }
    message
}

fn undefined_fix(r: &Ref) -> Option<String> {
    match r.root.as_str() {
        "workload" | "plan" => Some(format!(
            "load it first: `include_vars: {{file: {}.yml, name: {}}}`",
            r.root, r.root
        )),
        _ => Some("define it (vars:, set_fact, register) or pass it with -e".into()),
    }
}

/// `vms:!db,web` as patterns.
fn split_patterns(text: &str) -> Vec<String> {
    text.split([',', ':'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

fn glob_like(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    parts.last().is_some_and(|l| l.is_empty()) || rest.is_empty()
}

fn truthy(node: Option<&Node>) -> bool {
    match node.map(|n| &n.value) {
        Some(Yaml::Bool(b)) => *b,
        Some(Yaml::Str(s)) => matches!(
            s.to_ascii_lowercase().as_str(),
            "yes" | "true" | "on" | "1" | "y"
        ),
        Some(Yaml::Int(i)) => *i != 0,
        _ => false,
    }
}

/// No permission for group or others (0600, 0400, `u=rw,go=`).
fn private_mode(value: &Yaml) -> bool {
    match value {
        Yaml::Int(i) => i & 0o077 == 0 && *i > 0,
        Yaml::Str(s) => {
            let s = s.trim();
            if let Ok(n) = u32::from_str_radix(s, 8) {
                return n & 0o077 == 0 && n > 0;
            }
            // Symbolic: every clause for g, o or a must grant nothing.
            s.split(',').all(|clause| {
                let (who, perms) = clause.split_once('=').unwrap_or((clause, "x"));
                !(who.contains('g') || who.contains('o') || who.contains('a') || who.is_empty())
                    || perms.is_empty()
            }) && s.contains('=')
        }
        _ => false,
    }
}

fn describe_mode(value: &Yaml) -> String {
    match value {
        Yaml::Int(i) => format!("0{i:o}"),
        Yaml::Str(s) => s.clone(),
        _ => "?".into(),
    }
}
