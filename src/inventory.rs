//! The inventory: hosts, groups, their variables, and host patterns.
//!
//! Semantics (Ansible's inventory and patterns:
//! <https://docs.ansible.com/ansible/latest/inventory_guide/intro_patterns.html>):
//! - Every host is in `all`; a host in no other group is also in `ungrouped`. Groups nest
//!   (`children`); a group's hosts include its children's.
//! - Sources (`-i`): an INI file (`[group]`, `[group:vars]`, `[group:children]`, `host k=v`),
//!   a YAML file (`all: {hosts:, vars:, children:}`), or a `host1,host2,` list. With no source
//!   the inventory is empty, as in a Forklift hook pod.
//! - The implicit `localhost` (also `127.0.0.1`, `::1`): when a pattern names it and the
//!   inventory has no such host, a host with `ansible_connection: local` is made. It is not in
//!   `all` or `ungrouped`, so `hosts: all` never matches it.
//! - Host variables: group variables by group depth (`all` first, then parents before
//!   children, groups at the same depth alphabetically), then the host's own variables.
//! - Patterns: `,`-separated (or `:` when no comma is used), terms are a group name (its
//!   hosts), a host name, `all`/`*`, fnmatch globs, `~regex`, `group[0]`/`group[1:3]`
//!   subscripts; `&term` intersects, `!term` excludes, applied as regular → `&` → `!`; a
//!   pattern with only `&`/`!` terms starts from `all`. Results keep inventory order.
//! - `add_host` adds hosts and groups during the run; later plays see them.

use crate::{Map, Value};
use indexmap::{IndexMap, IndexSet};
use std::path::Path;

/// Names that mean the controller itself.
pub const LOCALHOST_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// A host of the inventory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Host {
    pub name: String,
    /// The host's own variables (inventory host vars, `add_host` vars).
    pub vars: Map,
}

/// A group of the inventory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub name: String,
    pub vars: Map,
    /// Hosts listed directly in the group.
    pub hosts: IndexSet<String>,
    pub children: IndexSet<String>,
}

/// Hosts and groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    hosts: IndexMap<String, Host>,
    groups: IndexMap<String, Group>,
    /// Implicit localhost entries made on demand (not in `all`).
    implicit: IndexMap<String, Host>,
    /// `group_vars/<group>` files (beside the inventory, then the playbook), by group.
    group_files: IndexMap<String, Map>,
    /// `host_vars/<host>` files, by host (also for hosts added later).
    host_files: IndexMap<String, Map>,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory::new()
    }
}

impl Inventory {
    /// An empty inventory with the groups `all` and `ungrouped`.
    pub fn new() -> Inventory {
        let mut inv = Inventory {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            implicit: IndexMap::new(),
            group_files: IndexMap::new(),
            host_files: IndexMap::new(),
        };
        inv.add_group("all");
        inv.add_group("ungrouped");
        inv.add_child("all", "ungrouped");
        inv
    }

    /// Loads every `-i` source in order into one inventory.
    pub fn load(sources: &[String]) -> Result<Inventory, String> {
        let mut inv = Inventory::new();
        for source in sources {
            inv.add_source(source)?;
        }
        Ok(inv)
    }

    /// Adds one `-i` value: a file (INI or YAML) or a comma-separated host list.
    pub fn add_source(&mut self, source: &str) -> Result<(), String> {
        let path = Path::new(source);
        if path.is_file() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("Unable to read inventory source {source}: {e}"))?;
            let is_yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yml") | Some("yaml") | Some("json")
            ) || looks_like_yaml(&text);
            if is_yaml {
                self.parse_yaml(&text, source)
            } else {
                self.parse_ini(&text, source)
            }
        } else if source.contains(',') {
            for name in source.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                self.add_host(name, &[], Map::new());
            }
            Ok(())
        } else {
            Err(format!(
                "Unable to parse {source} as an inventory source: no such file, and not a comma-separated host list"
            ))
        }
    }

    /// Adds (or updates) a host: its vars are merged over the ones it has, and it joins the
    /// given groups (made if needed). A host in no group but `all` is in `ungrouped`.
    /// Returns whether anything changed (new host, new vars, new group or membership), which
    /// is what `add_host` reports as `changed`.
    pub fn add_host(&mut self, name: &str, groups: &[String], vars: Map) -> bool {
        let mut changed = !self.hosts.contains_key(name);
        let host = self.hosts.entry(name.to_string()).or_insert_with(|| Host {
            name: name.to_string(),
            vars: Map::new(),
        });
        for (k, v) in vars {
            if host.vars.get(&k) != Some(&v) {
                host.vars.insert(k, v);
                changed = true;
            }
        }
        self.implicit.shift_remove(name);
        for group in groups {
            if group == "all" {
                continue;
            }
            changed |= !self.groups.contains_key(group);
            self.add_group(group);
            if let Some(g) = self.groups.get_mut(group) {
                changed |= g.hosts.insert(name.to_string());
            }
        }
        self.fix_ungrouped(name);
        changed
    }

    /// Makes a group (a child of `all`) if it does not exist.
    pub fn add_group(&mut self, name: &str) {
        if !self.groups.contains_key(name) {
            self.groups.insert(
                name.to_string(),
                Group {
                    name: name.to_string(),
                    ..Group::default()
                },
            );
        }
    }

    /// Nests `child` in `parent` (both made if needed).
    pub fn add_child(&mut self, parent: &str, child: &str) {
        self.add_group(parent);
        self.add_group(child);
        if let Some(p) = self.groups.get_mut(parent) {
            p.children.insert(child.to_string());
        }
    }

    /// Sets a group variable.
    pub fn set_group_var(&mut self, group: &str, key: &str, value: Value) {
        self.add_group(group);
        if let Some(g) = self.groups.get_mut(group) {
            g.vars.insert(key.to_string(), value);
        }
    }

    /// Keeps `ungrouped` right: a host with a group of its own leaves it.
    fn fix_ungrouped(&mut self, name: &str) {
        let in_other = self
            .groups
            .values()
            .any(|g| g.name != "all" && g.name != "ungrouped" && g.hosts.contains(name));
        if let Some(u) = self.groups.get_mut("ungrouped") {
            if in_other {
                u.hosts.shift_remove(name);
            } else {
                u.hosts.insert(name.to_string());
            }
        }
    }

    /// Whether a host (inventory or implicit) exists.
    pub fn has_host(&self, name: &str) -> bool {
        self.hosts.contains_key(name) || self.implicit.contains_key(name)
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name).or_else(|| self.implicit.get(name))
    }

    /// Whether the host is an implicit localhost.
    pub fn is_implicit(&self, name: &str) -> bool {
        self.implicit.contains_key(name)
    }

    /// Inventory hosts in order (the implicit localhost is not one of them).
    pub fn host_names(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    /// Every host the run knows (inventory, then implicit).
    pub fn known_hosts(&self) -> Vec<String> {
        self.hosts
            .keys()
            .chain(self.implicit.keys())
            .cloned()
            .collect()
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// All hosts of a group, its children's included, in inventory order.
    pub fn group_hosts(&self, name: &str) -> Vec<String> {
        if name == "all" {
            return self.host_names();
        }
        let mut found = IndexSet::new();
        let mut seen = IndexSet::new();
        self.collect_group_hosts(name, &mut found, &mut seen);
        self.hosts
            .keys()
            .filter(|h| found.contains(*h))
            .cloned()
            .collect()
    }

    fn collect_group_hosts(
        &self,
        name: &str,
        found: &mut IndexSet<String>,
        seen: &mut IndexSet<String>,
    ) {
        if !seen.insert(name.to_string()) {
            return;
        }
        if let Some(g) = self.groups.get(name) {
            found.extend(g.hosts.iter().cloned());
            for child in &g.children {
                self.collect_group_hosts(child, found, seen);
            }
        }
    }

    /// The groups a host is in (directly or through children), `all` included, ordered by
    /// depth then name (the order their variables apply in).
    pub fn host_groups(&self, host: &str) -> Vec<String> {
        if self.implicit.contains_key(host) {
            return Vec::new();
        }
        // The groups listing the host, then their ancestors: the cost depends on the groups,
        // not on how many hosts the inventory has (this runs for every host of every task).
        let mut member: IndexSet<&str> = IndexSet::new();
        let mut pending: Vec<&str> = if self.hosts.contains_key(host) {
            self.groups
                .values()
                .filter(|g| g.hosts.contains(host))
                .map(|g| g.name.as_str())
                .collect()
        } else {
            Vec::new()
        };
        while let Some(group) = pending.pop() {
            if member.insert(group) {
                pending.extend(
                    self.groups
                        .values()
                        .filter(|p| p.children.contains(group))
                        .map(|p| p.name.as_str()),
                );
            }
        }
        let mut groups: Vec<(usize, String)> = self
            .groups
            .keys()
            .filter(|g| g.as_str() == "all" || member.contains(g.as_str()))
            .map(|g| (self.depth(g), g.clone()))
            .collect();
        groups.sort();
        groups.into_iter().map(|(_, g)| g).collect()
    }

    /// `group_names`: the host's groups without `all`, sorted.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .host_groups(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        names.sort();
        names
    }

    /// The `groups` magic variable: every group with its hosts.
    pub fn groups_var(&self) -> Map {
        let mut out = Map::new();
        for name in self.groups.keys() {
            let hosts = self
                .group_hosts(name)
                .into_iter()
                .map(Value::String)
                .collect();
            out.insert(name.clone(), Value::Array(hosts));
        }
        out
    }

    /// A group's depth below `all` (the longest path; `all` is 0, top-level groups 1).
    fn depth(&self, group: &str) -> usize {
        if group == "all" {
            return 0;
        }
        let mut best = 1;
        let mut stack = vec![(group.to_string(), 1usize)];
        let mut guard = 0;
        while let Some((g, d)) = stack.pop() {
            guard += 1;
            if guard > 10_000 {
                break;
            }
            best = best.max(d);
            for parent in self
                .groups
                .values()
                .filter(|p| p.name != "all" && p.children.contains(&g))
            {
                stack.push((parent.name.clone(), d + 1));
            }
        }
        best
    }

    /// The host's inventory variables: group vars by depth (each group's inline vars, then its
    /// `group_vars` file), then its own (inline, then its `host_vars` file). The implicit
    /// localhost gets the `all` group's variables and its own, as in Ansible.
    pub fn host_vars(&self, host: &str) -> Map {
        let mut vars = Map::new();
        let groups = if self.implicit.contains_key(host) {
            vec!["all".to_string()]
        } else {
            self.host_groups(host)
        };
        for group in groups {
            if let Some(g) = self.groups.get(&group) {
                vars.extend(g.vars.clone());
            }
            if let Some(file_vars) = self.group_files.get(&group) {
                vars.extend(file_vars.clone());
            }
        }
        if let Some(h) = self.hosts.get(host).or_else(|| self.implicit.get(host)) {
            vars.extend(h.vars.clone());
        }
        if let Some(file_vars) = self.host_files.get(host) {
            vars.extend(file_vars.clone());
        }
        vars
    }

    /// Reads `DIR/group_vars/` and `DIR/host_vars/`: per name a file (no extension, `.yml`,
    /// `.yaml` or `.json`) or a directory of such files (merged in name order). Called for the
    /// inventory's directory, then the playbook's, so the playbook's win.
    pub fn load_vars_dirs(&mut self, dir: &Path) -> Result<(), String> {
        for (sub, is_group) in [("group_vars", true), ("host_vars", false)] {
            let base = dir.join(sub);
            let Ok(entries) = std::fs::read_dir(&base) else {
                continue;
            };
            let mut paths: Vec<std::path::PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for path in paths {
                let Some(name) = vars_file_name(&path) else {
                    continue;
                };
                let vars = read_vars_path(&path)?;
                let target = if is_group {
                    &mut self.group_files
                } else {
                    &mut self.host_files
                };
                target.entry(name).or_default().extend(vars);
            }
        }
        Ok(())
    }

    /// The hosts a pattern matches, in inventory order. A `localhost` name not in the
    /// inventory creates the implicit localhost.
    pub fn match_pattern(&mut self, pattern: &str) -> Vec<String> {
        let terms = split_pattern(pattern);
        let mut regular: Vec<&str> = Vec::new();
        let mut intersect: Vec<&str> = Vec::new();
        let mut exclude: Vec<&str> = Vec::new();
        for term in &terms {
            if let Some(t) = term.strip_prefix('&') {
                intersect.push(t);
            } else if let Some(t) = term.strip_prefix('!') {
                exclude.push(t);
            } else {
                regular.push(term);
            }
        }
        let mut result: IndexSet<String> = IndexSet::new();
        if regular.is_empty() {
            result.extend(self.host_names());
        }
        for term in regular {
            result.extend(self.match_term(term));
        }
        for term in intersect {
            let hits: IndexSet<String> = self.match_term(term).into_iter().collect();
            result.retain(|h| hits.contains(h));
        }
        for term in exclude {
            let hits: IndexSet<String> = self.match_term(term).into_iter().collect();
            result.retain(|h| !hits.contains(h));
        }
        result.into_iter().collect()
    }

    /// One pattern term (no `&`/`!` prefix).
    fn match_term(&mut self, term: &str) -> Vec<String> {
        let (base, subscript) = split_subscript(term);
        let mut hits = self.match_base(base);
        if let Some((start, end)) = subscript {
            let len = hits.len();
            let end = end.unwrap_or(start).min(len.saturating_sub(1));
            hits = if start < len && start <= end {
                hits[start..=end].to_vec()
            } else {
                Vec::new()
            };
        }
        hits
    }

    fn match_base(&mut self, term: &str) -> Vec<String> {
        if term == "all" || term == "*" {
            return self.host_names();
        }
        let mut results: IndexSet<String> = IndexSet::new();
        let is_regex = term.starts_with('~');
        let is_glob =
            term.contains(['*', '?', '[']) || term.contains('.') && !self.groups.contains_key(term);
        let group_names: Vec<String> = self.groups.keys().cloned().collect();
        let matching_groups: Vec<String> = group_names
            .into_iter()
            .filter(|g| name_matches(term, g))
            .collect();
        for g in &matching_groups {
            results.extend(self.group_hosts(g));
        }
        if matching_groups.is_empty() || is_regex || is_glob {
            for h in self.hosts.keys() {
                if name_matches(term, h) {
                    results.insert(h.clone());
                }
            }
        }
        if results.is_empty() && LOCALHOST_NAMES.contains(&term) {
            self.implicit_localhost(term);
            results.insert(term.to_string());
        }
        if results.is_empty() && self.implicit.contains_key(term) {
            results.insert(term.to_string());
        }
        // Keep inventory order for hosts found through groups and names alike.
        let order: Vec<String> = self.known_hosts();
        let mut ordered: Vec<String> = order.into_iter().filter(|h| results.contains(h)).collect();
        for h in results {
            if !ordered.contains(&h) {
                ordered.push(h);
            }
        }
        ordered
    }

    /// Makes the implicit localhost entry for `name`.
    pub fn implicit_localhost(&mut self, name: &str) {
        if self.hosts.contains_key(name) || self.implicit.contains_key(name) {
            return;
        }
        let mut vars = Map::new();
        vars.insert("ansible_connection".into(), Value::String("local".into()));
        vars.insert("ansible_host".into(), Value::String("127.0.0.1".into()));
        self.implicit.insert(
            name.to_string(),
            Host {
                name: name.to_string(),
                vars,
            },
        );
    }

    /// INI inventory text.
    pub fn parse_ini(&mut self, text: &str, source: &str) -> Result<(), String> {
        #[derive(PartialEq)]
        enum Section {
            Hosts(String),
            Vars(String),
            Children(String),
        }
        let mut section = Section::Hosts("ungrouped".into());
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let at = || format!("{source}:{}", index + 1);
            if let Some(header) = line.strip_prefix('[') {
                let header = header
                    .strip_suffix(']')
                    .ok_or_else(|| format!("{}: Invalid section entry: '{line}'", at()))?;
                section = match header.split_once(':') {
                    Some((g, "vars")) => Section::Vars(g.to_string()),
                    Some((g, "children")) => Section::Children(g.to_string()),
                    Some((_, other)) => {
                        return Err(format!(
                            "{}: Section [{header}] has unknown type: {other}",
                            at()
                        ))
                    }
                    None => Section::Hosts(header.to_string()),
                };
                match &section {
                    Section::Hosts(g) | Section::Vars(g) | Section::Children(g) => {
                        self.add_group(g)
                    }
                }
                continue;
            }
            match &section {
                Section::Hosts(group) => {
                    let words =
                        crate::shell::posix_words(line).map_err(|e| format!("{}: {e}", at()))?;
                    // A word starting with `#` or `;` starts a comment.
                    let end = words
                        .iter()
                        .position(|w| w.starts_with('#') || w.starts_with(';'))
                        .unwrap_or(words.len());
                    let Some((name, rest)) = words[..end].split_first() else {
                        continue;
                    };
                    let mut vars = Map::new();
                    for word in rest {
                        let (k, v) = word.split_once('=').ok_or_else(|| {
                            format!(
                                "{}: Expected key=value host variable assignment, got: {word}",
                                at()
                            )
                        })?;
                        vars.insert(k.to_string(), ini_literal(v));
                    }
                    let groups = if group == "ungrouped" {
                        vec![]
                    } else {
                        vec![group.clone()]
                    };
                    for host in expand_host_range(name) {
                        self.add_host(&host, &groups, vars.clone());
                    }
                }
                Section::Vars(group) => {
                    let (k, v) = line
                        .split_once('=')
                        .ok_or_else(|| format!("{}: Expected key=value, got: {line}", at()))?;
                    self.set_group_var(
                        group,
                        k.trim(),
                        Value::String(unquote(v.trim()).to_string()),
                    );
                }
                Section::Children(group) => self.add_child(group, line),
            }
        }
        self.reparent_top_groups();
        Ok(())
    }

    /// YAML inventory text (`all:` / group mappings with `hosts`, `vars`, `children`).
    pub fn parse_yaml(&mut self, text: &str, source: &str) -> Result<(), String> {
        let node = crate::yaml::load_str(text, source).map_err(|e| e.to_string())?;
        let value = node.to_value();
        let Value::Object(top) = value else {
            if value.is_null() {
                return Ok(());
            }
            return Err(format!(
                "{source}: Invalid \"all\" entry: an inventory must be a mapping of groups"
            ));
        };
        for (name, body) in top {
            self.yaml_group(&name, &body, source, 0)?;
        }
        self.reparent_top_groups();
        Ok(())
    }

    fn yaml_group(
        &mut self,
        name: &str,
        body: &Value,
        source: &str,
        depth: usize,
    ) -> Result<(), String> {
        if depth > 64 {
            return Err(format!("{source}: groups nested too deeply"));
        }
        self.add_group(name);
        let Value::Object(body) = body else {
            if body.is_null() {
                return Ok(());
            }
            return Err(format!(
                "{source}: Invalid group entry for '{name}': must be a mapping"
            ));
        };
        for (key, value) in body {
            match key.as_str() {
                "hosts" => {
                    if let Value::Object(hosts) = value {
                        for (host, vars) in hosts {
                            let vars = match vars {
                                Value::Object(m) => m.clone(),
                                _ => Map::new(),
                            };
                            let groups = if name == "all" || name == "ungrouped" {
                                vec![]
                            } else {
                                vec![name.to_string()]
                            };
                            self.add_host(host, &groups, vars);
                        }
                    }
                }
                "vars" => {
                    if let Value::Object(vars) = value {
                        for (k, v) in vars {
                            self.set_group_var(name, k, v.clone());
                        }
                    }
                }
                "children" => {
                    if let Value::Object(children) = value {
                        for (child, child_body) in children {
                            self.add_child(name, child);
                            self.yaml_group(child, child_body, source, depth + 1)?;
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "{source}: Skipping unexpected key ({other}) in group ({name}), only \"vars\", \"children\" and \"hosts\" are valid"
                    ))
                }
            }
        }
        Ok(())
    }

    /// Groups that no other group holds become children of `all`.
    fn reparent_top_groups(&mut self) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in names {
            if name == "all" {
                continue;
            }
            let has_parent = self
                .groups
                .values()
                .any(|g| g.name != "all" && g.children.contains(&name));
            if !has_parent {
                self.add_child("all", &name);
            }
        }
    }

    /// Restricts a host list to a `--limit` pattern.
    pub fn apply_limit(&mut self, hosts: Vec<String>, limit: Option<&str>) -> Vec<String> {
        match limit {
            None => hosts,
            Some(pattern) => {
                let allowed: IndexSet<String> = self.match_pattern(pattern).into_iter().collect();
                hosts.into_iter().filter(|h| allowed.contains(h)).collect()
            }
        }
    }
}

/// The group or host a `group_vars`/`host_vars` entry is for (`web.yml` → `web`).
fn vars_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') {
        return None;
    }
    if path.is_dir() {
        return Some(name.to_string());
    }
    for ext in [".yml", ".yaml", ".json"] {
        if let Some(stem) = name.strip_suffix(ext) {
            return Some(stem.to_string());
        }
    }
    (!name.contains('.')).then(|| name.to_string())
}

/// Variables of a `group_vars`/`host_vars` file, or of every file in such a directory.
fn read_vars_path(path: &Path) -> Result<Map, String> {
    let mut out = Map::new();
    if path.is_dir() {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && vars_file_name(p).is_some())
            .collect();
        files.sort();
        for f in files {
            out.extend(read_vars_path(&f)?);
        }
        return Ok(out);
    }
    let node = crate::yaml::load_file(path).map_err(|e| e.to_string())?;
    match node.to_value() {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(out),
        _ => Err(format!(
            "{}: a variables file must be a mapping",
            path.display()
        )),
    }
}

fn looks_like_yaml(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.ends_with(':') || l.starts_with("---") || l.starts_with('{'))
}

/// An INI host-line value as Ansible reads it (a Python literal when it is one).
fn ini_literal(text: &str) -> Value {
    match text {
        "True" | "true" => return Value::Bool(true),
        "False" | "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = text.parse::<f64>() {
        if text.contains('.') {
            return serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::String(text.into()));
        }
    }
    Value::String(unquote(text).to_string())
}

fn unquote(text: &str) -> &str {
    let b = text.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &text[1..text.len() - 1]
    } else {
        text
    }
}

/// The most hosts one inventory line may expand to; a line over it is kept as written.
const MAX_RANGE_HOSTS: u64 = 10_001;

/// `web[01:03]` → web01, web02, web03 (numeric ranges keep their width). Several ranges in one
/// name multiply: the product is bounded by [`MAX_RANGE_HOSTS`] before anything is expanded.
fn expand_host_range(name: &str) -> Vec<String> {
    if range_product(name) > MAX_RANGE_HOSTS {
        return vec![name.to_string()];
    }
    expand_bounded_range(name)
}

/// How many names the numeric `[a:b]` ranges of `name` expand to (saturating).
fn range_product(name: &str) -> u64 {
    let mut product: u64 = 1;
    let mut rest = name;
    while let (Some(open), Some(close)) = (rest.find('['), rest.find(']')) {
        if close < open {
            break;
        }
        if let Some((a, b)) = rest[open + 1..close].split_once(':') {
            if let (Ok(start), Ok(end)) = (a.parse::<u64>(), b.parse::<u64>()) {
                if end >= start {
                    product = product.saturating_mul(end - start + 1);
                }
            }
        }
        rest = &rest[close + 1..];
    }
    product
}

fn expand_bounded_range(name: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (name.find('['), name.find(']')) else {
        return vec![name.to_string()];
    };
    if close < open {
        return vec![name.to_string()];
    }
    let inner = &name[open + 1..close];
    let Some((a, b)) = inner.split_once(':') else {
        return vec![name.to_string()];
    };
    let (Ok(start), Ok(end)) = (a.parse::<u64>(), b.parse::<u64>()) else {
        return vec![name.to_string()];
    };
    if end < start || end - start > 10_000 {
        return vec![name.to_string()];
    }
    let width = a.len();
    (start..=end)
        .flat_map(|i| {
            let rest = format!(
                "{}{:0width$}{}",
                &name[..open],
                i,
                &name[close + 1..],
                width = width
            );
            expand_bounded_range(&rest)
        })
        .collect()
}

/// Splits a pattern on `,`, or on `:` when it has no comma (unless it is an IPv6 address or
/// a regex).
pub fn split_pattern(pattern: &str) -> Vec<String> {
    let pattern = pattern.trim();
    let parts: Vec<&str> = if pattern.contains(',') {
        pattern.split(',').collect()
    } else if pattern.starts_with('~') || pattern.parse::<std::net::Ipv6Addr>().is_ok() {
        vec![pattern]
    } else {
        split_colons_outside_brackets(pattern)
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits on `:` except inside `[...]` subscripts (`web[1:3]:db`).
fn split_colons_outside_brackets(pattern: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in pattern.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                parts.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&pattern[start..]);
    parts
}

/// `group[1:3]` → (`group`, (1, Some(3))); `group[0]` → (`group`, (0, None)).
fn split_subscript(term: &str) -> (&str, Option<(usize, Option<usize>)>) {
    if term.starts_with('~') || !term.ends_with(']') {
        return (term, None);
    }
    let Some(open) = term.rfind('[') else {
        return (term, None);
    };
    let inner = &term[open + 1..term.len() - 1];
    let parsed = match inner.split_once(':') {
        Some((a, b)) => {
            let start = if a.is_empty() {
                Some(0)
            } else {
                a.parse().ok()
            };
            let end = if b.is_empty() {
                Some(usize::MAX)
            } else {
                b.parse().ok()
            };
            start.zip(end).map(|(s, e)| (s, Some(e)))
        }
        None => inner.parse().ok().map(|i| (i, None)),
    };
    match parsed {
        Some(sub) if open > 0 => (&term[..open], Some(sub)),
        _ => (term, None),
    }
}

/// Whether a name matches a term: `~regex`, an fnmatch glob, or equality.
fn name_matches(term: &str, name: &str) -> bool {
    if let Some(re) = term.strip_prefix('~') {
        return regex::Regex::new(re)
            .map(|r| r.is_match(name))
            .unwrap_or(false);
    }
    if term.contains(['*', '?', '[']) {
        return glob_match(term.as_bytes(), name.as_bytes());
    }
    term == name
}

/// fnmatch: `*`, `?`, `[set]`, `[!set]`. Every token but `*` matches exactly one character, so
/// on a mismatch it is enough to let the last `*` swallow one more character and go on from
/// there: at most pattern x text steps, where trying every split at every `*` was exponential in
/// the number of stars (a fuzzer's `****...` pattern ran for minutes).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        if pattern.get(p) == Some(&b'*') {
            p += 1;
            last_star = Some((p, t));
            continue;
        }
        if let Some(next) = glob_token_matches(pattern, p, text[t]) {
            p = next;
            t += 1;
            continue;
        }
        match last_star {
            Some((after_star, swallowed)) => {
                p = after_star;
                t = swallowed + 1;
                last_star = Some((after_star, t));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether the single-character token at `pattern[p]` (`?`, a `[set]`, or a literal; an
/// unclosed `[` is a literal) matches `c`; the index after the token when it does.
fn glob_token_matches(pattern: &[u8], p: usize, c: u8) -> Option<usize> {
    match *pattern.get(p)? {
        b'?' => Some(p + 1),
        b'[' => {
            let Some(close) = pattern[p..]
                .iter()
                .skip(1)
                .position(|&ch| ch == b']')
                .map(|i| p + 1 + i)
            else {
                return (c == b'[').then_some(p + 1);
            };
            let mut set = &pattern[p + 1..close];
            let negate = matches!(set.first(), Some(b'!') | Some(b'^'));
            if negate {
                set = &set[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            (hit != negate).then_some(close + 1)
        }
        literal => (literal == c).then_some(p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Inventory {
        let mut inv = Inventory::new();
        inv.parse_ini(
            "solo x=1\n[web]\nweb[1:3] port=22\n[db]\ndb1 ansible_host=10.0.0.5\n[prod:children]\nweb\ndb\n[prod:vars]\nenv=prod\n[web:vars]\nenv=web\n",
            "inv.ini",
        )
        .unwrap();
        inv
    }

    #[test]
    fn ini_groups_children_and_ranges() {
        let mut inv = sample();
        assert_eq!(inv.match_pattern("web"), vec!["web1", "web2", "web3"]);
        assert_eq!(inv.match_pattern("prod").len(), 4);
        assert_eq!(inv.match_pattern("ungrouped"), vec!["solo"]);
        assert_eq!(inv.match_pattern("all").len(), 5);
    }

    #[test]
    fn child_group_vars_override_parent_and_host_vars_win() {
        let inv = sample();
        let vars = inv.host_vars("web1");
        assert_eq!(vars["env"], json!("web"));
        assert_eq!(vars["port"], json!(22));
        assert_eq!(inv.host_vars("db1")["env"], json!("prod"));
    }

    #[test]
    fn globs_match_as_fnmatch_in_bounded_steps() {
        for (pattern, name, expected) in [
            ("web*", "web01", true),
            ("*01", "web01", true),
            ("w?b*", "web01", true),
            ("w[a-f]b0[!2]", "web01", true),
            ("w[!e]b01", "web01", false),
            ("*b*1", "web01", true),
            ("*b*2", "web01", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("[ab", "[ab", true),
            ("", "", true),
            ("*", "", true),
            ("?", "", false),
        ] {
            assert_eq!(
                glob_match(pattern.as_bytes(), name.as_bytes()),
                expected,
                "{pattern} against {name}"
            );
        }
        // A fuzzer's pattern: 100 stars and a character the name does not end with. Trying every
        // split at every star never ended; the bounded walk answers at once.
        let stars = format!("{}x", "*".repeat(100));
        let name = "a".repeat(200);
        let started = std::time::Instant::now();
        assert!(!glob_match(stars.as_bytes(), name.as_bytes()));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn patterns_union_intersection_exclusion_glob_regex_subscript() {
        let mut inv = sample();
        assert_eq!(
            inv.match_pattern("web:db"),
            vec!["web1", "web2", "web3", "db1"]
        );
        assert_eq!(inv.match_pattern("prod:&db"), vec!["db1"]);
        assert_eq!(inv.match_pattern("prod:!web"), vec!["db1"]);
        assert_eq!(inv.match_pattern("!web"), vec!["solo", "db1"]);
        assert_eq!(inv.match_pattern("web*"), vec!["web1", "web2", "web3"]);
        assert_eq!(inv.match_pattern("~^web[12]$"), vec!["web1", "web2"]);
        assert_eq!(inv.match_pattern("web[0]"), vec!["web1"]);
        assert_eq!(inv.match_pattern("web[1:2]"), vec!["web2", "web3"]);
        assert_eq!(inv.match_pattern("solo,db1"), vec!["solo", "db1"]);
    }

    #[test]
    fn implicit_localhost_is_not_in_all() {
        let mut inv = Inventory::new();
        assert!(inv.match_pattern("all").is_empty());
        assert_eq!(inv.match_pattern("localhost"), vec!["localhost"]);
        assert!(inv.match_pattern("all").is_empty());
        assert_eq!(
            inv.host_vars("localhost")["ansible_connection"],
            json!("local")
        );
    }

    #[test]
    fn add_host_reports_whether_anything_changed() {
        let mut inv = Inventory::new();
        let vars = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        assert!(inv.add_host("h", &["g".into()], vars(json!({"a": 1}))));
        assert!(!inv.add_host("h", &["g".into()], vars(json!({"a": 1}))));
        assert!(inv.add_host("h", &["g".into()], vars(json!({"a": 2}))));
        assert!(inv.add_host("h", &["g2".into()], Map::new()));
    }

    #[test]
    fn ini_comments_after_a_host() {
        let mut inv = Inventory::new();
        inv.parse_ini("h1 a=1 # the first host\n", "inv").unwrap();
        assert_eq!(inv.host_vars("h1")["a"], json!(1));
    }

    #[test]
    fn host_groups_follow_children_up_to_every_ancestor_by_depth() {
        let mut inv = sample();
        inv.add_child("world", "prod");
        // A cycle must not hang the walk up the parents.
        inv.add_child("web", "world");
        assert_eq!(
            inv.host_groups("web1"),
            vec!["all", "prod", "web", "world"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        );
        assert_eq!(inv.group_names("db1"), vec!["db", "prod", "web", "world"]);
        assert_eq!(inv.host_groups("solo"), vec!["all", "ungrouped"]);
        assert_eq!(inv.host_groups("nobody"), vec!["all"]);
    }

    #[test]
    fn add_host_joins_groups_and_leaves_ungrouped() {
        let mut inv = Inventory::new();
        inv.add_host("10.0.0.9", &["vms".into()], Map::new());
        assert_eq!(inv.match_pattern("vms"), vec!["10.0.0.9"]);
        assert!(inv.match_pattern("ungrouped").is_empty());
        assert_eq!(inv.group_names("10.0.0.9"), vec!["vms"]);
        assert_eq!(inv.groups_var()["all"], json!(["10.0.0.9"]));
    }

    #[test]
    fn yaml_inventory() {
        let mut inv = Inventory::new();
        inv.parse_yaml(
            "all:\n  vars:\n    a: 1\n  hosts:\n    h1:\n      b: 2\n  children:\n    g:\n      hosts:\n        h2:\n",
            "inv.yml",
        )
        .unwrap();
        assert_eq!(inv.match_pattern("all"), vec!["h1", "h2"]);
        assert_eq!(inv.match_pattern("g"), vec!["h2"]);
        assert_eq!(inv.host_vars("h1")["b"], json!(2));
        assert_eq!(inv.host_vars("h2")["a"], json!(1));
    }

    #[test]
    fn group_and_host_vars_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("group_vars/web")).unwrap();
        std::fs::create_dir_all(dir.path().join("host_vars")).unwrap();
        std::fs::write(dir.path().join("group_vars/all.yml"), "a: all\nb: all\n").unwrap();
        std::fs::write(dir.path().join("group_vars/web/x.yml"), "b: web\n").unwrap();
        std::fs::write(dir.path().join("host_vars/web1"), "c: host\n").unwrap();
        std::fs::write(dir.path().join("host_vars/localhost.yml"), "d: local\n").unwrap();
        let mut inv = sample();
        inv.load_vars_dirs(dir.path()).unwrap();
        let v = inv.host_vars("web1");
        assert_eq!(
            (v["a"].clone(), v["b"].clone(), v["c"].clone()),
            (json!("all"), json!("web"), json!("host"))
        );
        inv.match_pattern("localhost");
        let l = inv.host_vars("localhost");
        assert_eq!(
            (l["a"].clone(), l["d"].clone()),
            (json!("all"), json!("local"))
        );
    }

    #[test]
    fn host_list_source_and_limit() {
        let mut inv = Inventory::load(&["a,b,".to_string()]).unwrap();
        let hosts = inv.match_pattern("all");
        assert_eq!(hosts, vec!["a", "b"]);
        assert_eq!(inv.apply_limit(hosts, Some("b")), vec!["b"]);
    }
}
