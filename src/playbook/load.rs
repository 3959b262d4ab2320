//! Loading plays, blocks and tasks from YAML nodes, with validation (see the module doc of
//! [`crate::playbook`]).

use super::role::{expand_role, RoleRequest};
use super::{parent_dir, Block, Item, Keywords, LoadError, Loc, Play, Playbook, Role, Task};
use crate::yaml::{self, Node, Yaml};
use crate::{value_text, Map, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Keys a play may have besides the inheritable keywords.
const PLAY_KEYS: &[&str] = &[
    "hosts",
    "name",
    "vars",
    "vars_files",
    "vars_prompt",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "fact_path",
    "roles",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "serial",
    "max_fail_percentage",
    "strategy",
    "order",
    "force_handlers",
];

/// Play keys accepted but not implemented (the engine warns when a play has them). Inheritable
/// keywords hook-runner does not implement are kept in [`Keywords::not_implemented`] instead,
/// so that every task they reach warns.
const IGNORED_PLAY_KEYS: &[&str] = &[
    "vars_prompt",
    "gather_subset",
    "gather_timeout",
    "fact_path",
    "order",
];

/// Collections whose modules hook-runner knows by their short names: a `collections:` keyword
/// naming only these changes nothing; any other is reported as not implemented.
const KNOWN_COLLECTIONS: &[&str] = &[
    "ansible.builtin",
    "ansible.legacy",
    "kubernetes.core",
    "community.kubernetes",
];

/// Keywords a play, block and task share (inherited downwards).
pub(crate) const COMMON_KEYS: &[&str] = &[
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "become_exe",
    "remote_user",
    "port",
    "connection",
    "environment",
    "any_errors_fatal",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "no_log",
    "tags",
    "module_defaults",
    "collections",
    "timeout",
    "throttle",
    "run_once",
    "debugger",
    "vars",
    "name",
];

/// Keys a block may have besides the common ones.
const BLOCK_KEYS: &[&str] = &[
    "block",
    "rescue",
    "always",
    "when",
    "delegate_to",
    "delegate_facts",
    "notify",
];

/// What the loader knows about the file it is reading.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub file: Arc<str>,
    /// Directory of the file (relative imports start here).
    pub dir: PathBuf,
    pub playbook_dir: PathBuf,
    pub role: Option<Arc<Role>>,
    /// Import depth, against include loops.
    pub depth: usize,
    /// Where in a `handlers` list this is, for the forms handlers refuse.
    pub handlers: HandlerLevel,
    /// Inside a block that handles its tasks' failures (`ignore_errors: true`, or the
    /// `block` section of one with `rescue`): see [`handles_own_failure`].
    pub failure_handled: bool,
}

/// Whether a task's failure is handled where it is written: its own `ignore_errors` (true or
/// a template) or `failed_when`, or an enclosing block's `ignore_errors` or `rescue`. Such a
/// task keeps arguments its module refuses and fails at run time with the module's message,
/// as in Ansible; any other is refused at load time, before anything runs.
pub(crate) fn handles_own_failure(node: &Node, ctx: &Ctx) -> bool {
    ctx.failure_handled || node.get("failed_when").is_some() || ignores_errors(node)
}

/// `ignore_errors:` set to true, or to a template (which may be true when it runs).
fn ignores_errors(node: &Node) -> bool {
    match node.get("ignore_errors").map(Node::to_value) {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) => {
            crate::template::Templar::is_template(&s)
                || matches!(
                    s.trim().to_ascii_lowercase().as_str(),
                    "true" | "yes" | "on" | "1"
                )
        }
        _ => false,
    }
}

/// Where a task list sits relative to a play's or role's handlers. ansible-core 2.18 takes a
/// block at the top of a handlers list (it is what holds each handler anyway) but refuses a
/// block inside it ("Using a block as a handler is not supported.") and roles as handlers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum HandlerLevel {
    /// Not handlers.
    #[default]
    No,
    /// The handlers list itself (or a file it imports).
    Top,
    /// Inside a block of the handlers list.
    InBlock,
}

impl Ctx {
    pub fn for_file(
        path: &Path,
        playbook_dir: &Path,
        role: Option<Arc<Role>>,
        depth: usize,
    ) -> Ctx {
        Ctx {
            file: Arc::from(path.display().to_string().as_str()),
            dir: parent_dir(path),
            playbook_dir: playbook_dir.to_path_buf(),
            role,
            depth,
            handlers: HandlerLevel::No,
            failure_handled: false,
        }
    }
    pub fn loc(&self, node: &Node) -> Loc {
        Loc::new(&self.file, node.mark)
    }
    pub(crate) fn err(&self, node: &Node, message: impl Into<String>) -> LoadError {
        LoadError::new(self.loc(node), message)
    }
}

/// Collects what a play gathers while its parts load: role handlers, and the roles already
/// placed (a role runs once per play for the same parameters).
#[derive(Default)]
pub(crate) struct PlayAcc {
    pub handlers: Vec<Arc<Task>>,
    pub roles_seen: HashSet<String>,
    /// Roles whose handlers are already among the play's (a role used twice has one set).
    pub handler_roles: HashSet<PathBuf>,
}

pub(crate) const MAX_DEPTH: usize = 64;

/// Loads and validates a playbook file (imports expanded).
pub fn load_playbook(path: &Path) -> Result<Playbook, LoadError> {
    load_playbook_in(path, None)
}

/// [`load_playbook`] with relative paths starting from `dir` (the ad-hoc command's
/// `playbook_dir`) instead of the playbook's directory.
pub fn load_playbook_in(path: &Path, dir: Option<&Path>) -> Result<Playbook, LoadError> {
    // Absolute, as Ansible shows paths (`playbook_dir`, messages, `included:` lines).
    let absolute;
    let path = if path.is_relative() {
        absolute = std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf());
        absolute.as_path()
    } else {
        path
    };
    let dir = dir.map_or_else(|| parent_dir(path), Path::to_path_buf);
    let mut plays = Vec::new();
    load_plays_into(path, &dir, 0, &mut plays)?;
    Ok(Playbook {
        path: path.to_path_buf(),
        dir,
        plays,
    })
}

fn load_plays_into(
    path: &Path,
    playbook_dir: &Path,
    depth: usize,
    plays: &mut Vec<Arc<Play>>,
) -> Result<(), LoadError> {
    let root = yaml::load_file(path)?;
    let ctx = Ctx::for_file(path, playbook_dir, None, depth);
    let entries = match &root.value {
        Yaml::Seq(items) => items,
        Yaml::Null => return Ok(()),
        _ => {
            return Err(ctx.err(
                &root,
                "A playbook must be a list of plays, got a mapping or scalar instead",
            ))
        }
    };
    for entry in entries {
        if entry.as_map().is_none() {
            return Err(ctx.err(
                entry,
                "A playbook must be a list of plays (each play a mapping)",
            ));
        }
        let import = entry
            .get("import_playbook")
            .or_else(|| entry.get("ansible.builtin.import_playbook"));
        match import {
            Some(target) => {
                if depth >= MAX_DEPTH {
                    return Err(ctx.err(entry, "import_playbook nested too deeply (a loop?)"));
                }
                let name = target
                    .as_str()
                    .ok_or_else(|| ctx.err(target, "import_playbook needs a file name"))?;
                let file = resolve_relative(&ctx.dir, name);
                if !file.is_file() {
                    return Err(ctx.err(
                        target,
                        format!(
                            "Unable to retrieve file contents\nCould not find or access '{name}'"
                        ),
                    ));
                }
                let dir = parent_dir(&file);
                let first = plays.len();
                load_plays_into(&file, &dir, depth + 1, plays)?;
                apply_import_keywords(entry, &ctx, &mut plays[first..])?;
            }
            None => plays.push(Arc::new(load_play(entry, &ctx)?)),
        }
    }
    Ok(())
}

/// What an `import_playbook` entry passes to the plays it imports, as ansible-core does: its
/// `when` is prepended to every play's conditions (their tasks and fact gathering are then
/// skipped on a false condition), its `tags` are added and its `vars` override the plays'.
fn apply_import_keywords(
    entry: &Node,
    ctx: &Ctx,
    plays: &mut [Arc<Play>],
) -> Result<(), LoadError> {
    let mut import_kw = Keywords::default();
    if let Some(w) = entry.get("when") {
        set_when(&mut import_kw, w, ctx);
    }
    if let Some(t) = entry.get("tags") {
        import_kw.tags = strings_of(t);
    }
    let vars = match entry.get("vars") {
        None => Map::new(),
        Some(v) => match v.to_value() {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            _ => {
                return Err(ctx.err(
                    v,
                    "vars for import_playbook statements must be specified as a dictionary",
                ))
            }
        },
    };
    for play in plays {
        let play = Arc::make_mut(play);
        let mut when = import_kw.when.clone();
        when.extend(std::mem::take(&mut play.kw.when));
        let mut when_locs = import_kw.when_locs.clone();
        let own_locs = std::mem::take(&mut play.kw.when_locs);
        when_locs.extend(own_locs);
        play.kw.when = when;
        play.kw.when_locs = when_locs;
        for t in &import_kw.tags {
            if !play.kw.tags.contains(t) {
                play.kw.tags.push(t.clone());
            }
        }
        play.kw.vars.extend(vars.clone());
    }
    Ok(())
}

fn load_play(node: &Node, ctx: &Ctx) -> Result<Play, LoadError> {
    let entries = node.as_map().unwrap_or(&[]);
    for (k, _) in entries {
        let key = k.key_string();
        if !PLAY_KEYS.contains(&key.as_str()) && !COMMON_KEYS.contains(&key.as_str()) {
            return Err(ctx.err(k, format!("'{key}' is not a valid attribute for a Play")));
        }
    }
    let hosts = match node.get("hosts") {
        Some(h) if !matches!(h.value, Yaml::Null) => h.to_value(),
        _ => return Err(ctx.err(node, "the field 'hosts' is required but was not set")),
    };
    let name = match node.get("name") {
        Some(n) => scalar_string(n),
        None => String::new(),
    };
    let kw = parse_common(entries, ctx)?;
    let mut acc = PlayAcc::default();
    let pre_tasks = load_section(node.get("pre_tasks"), ctx, &mut acc)?;
    let roles = match node.get("roles") {
        Some(r) => load_roles_section(r, ctx, &mut acc)?,
        None => Vec::new(),
    };
    let tasks = load_section(node.get("tasks"), ctx, &mut acc)?;
    let post_tasks = load_section(node.get("post_tasks"), ctx, &mut acc)?;
    let mut handlers = Vec::new();
    if let Some(h) = node.get("handlers") {
        let handler_ctx = Ctx {
            handlers: HandlerLevel::Top,
            ..ctx.clone()
        };
        let items = load_items(h, &handler_ctx, &mut acc)?;
        flatten_handlers(&items, &mut handlers);
    }
    handlers.append(&mut acc.handlers);
    let vars_files = match node.get("vars_files") {
        Some(n) => match n.to_value() {
            Value::Array(v) => v,
            Value::Null => Vec::new(),
            other => vec![other],
        },
        None => Vec::new(),
    };
    let force_handlers = matches!(
        node.get("force_handlers").map(Node::to_value),
        Some(Value::Bool(true))
    );
    Ok(Play {
        name,
        hosts,
        loc: ctx.loc(node),
        dir: ctx.dir.clone(),
        gather_facts: node.get("gather_facts").map(Node::to_value),
        vars_files,
        serial: node.get("serial").map(Node::to_value),
        max_fail_percentage: node.get("max_fail_percentage").map(Node::to_value),
        force_handlers,
        strategy: node.get("strategy").map(scalar_string),
        ignored_keys: entries
            .iter()
            .map(|(k, _)| k.key_string())
            .filter(|k| IGNORED_PLAY_KEYS.contains(&k.as_str()))
            .collect(),
        kw,
        pre_tasks,
        roles,
        tasks,
        post_tasks,
        handlers,
    })
}

/// Handlers are tasks; blocks among them are flattened (their keywords are not kept).
fn flatten_handlers(items: &[Item], out: &mut Vec<Arc<Task>>) {
    for item in items {
        match item {
            Item::Task(t) => out.push(t.clone()),
            Item::Block(b) => {
                flatten_handlers(&b.block, out);
                flatten_handlers(&b.rescue, out);
                flatten_handlers(&b.always, out);
            }
        }
    }
}

fn load_section(node: Option<&Node>, ctx: &Ctx, acc: &mut PlayAcc) -> Result<Vec<Item>, LoadError> {
    match node {
        Some(n) => load_items(n, ctx, acc),
        None => Ok(Vec::new()),
    }
}

/// The `roles:` section: names or mappings with `role:` (or `name:`) and params.
fn load_roles_section(node: &Node, ctx: &Ctx, acc: &mut PlayAcc) -> Result<Vec<Item>, LoadError> {
    let Some(list) = node.as_seq() else {
        if matches!(node.value, Yaml::Null) {
            return Ok(Vec::new());
        }
        return Err(ctx.err(
            node,
            "A malformed role declaration was encountered: 'roles' must be a list",
        ));
    };
    let mut items = Vec::new();
    for entry in list {
        let request = role_request(entry, ctx, None)?;
        items.extend(expand_role(&request, ctx, acc, true)?);
    }
    Ok(items)
}

/// Reads a role reference: a name, or a mapping with `role:`/`name:`, keywords and params.
pub(crate) fn role_request(
    node: &Node,
    ctx: &Ctx,
    tasks_from: Option<String>,
) -> Result<RoleRequest, LoadError> {
    if let Some(name) = node.as_str() {
        return Ok(RoleRequest {
            inherited: Map::new(),
            handlers_from: None,
            name: name.to_string(),
            loc: ctx.loc(node),
            tasks_from,
            params: Map::new(),
            kw: Keywords::default(),
        });
    }
    let Some(entries) = node.as_map() else {
        return Err(ctx.err(node, "A malformed role declaration was encountered"));
    };
    let name = node
        .get("role")
        .or_else(|| node.get("name"))
        .and_then(Node::as_str)
        .ok_or_else(|| ctx.err(node, "role definitions must contain a role name"))?;
    let mut params = Map::new();
    let mut kw_entries = Vec::new();
    for (k, v) in entries {
        let key = k.key_string();
        match key.as_str() {
            "role" | "name" => {}
            "when" | "tags" | "vars" | "become" | "become_user" | "become_method"
            | "environment" | "ignore_errors" | "no_log" | "delegate_to" | "check_mode"
            | "diff" | "any_errors_fatal" | "run_once" | "timeout" => {
                kw_entries.push((k.clone(), v.clone()))
            }
            _ => {
                params.insert(key, v.to_value());
            }
        }
    }
    let mut kw = parse_common(&kw_entries, ctx)?;
    if let Some(w) = node.get("when") {
        set_when(&mut kw, w, ctx);
    }
    if let Some(d) = node.get("delegate_to") {
        kw.delegate_to = Some(d.to_value());
    }
    // Vars given with the role are its parameters in Ansible's eyes as well.
    for (k, v) in std::mem::take(&mut kw.vars) {
        params.insert(k, v);
    }
    Ok(RoleRequest {
        inherited: Map::new(),
        handlers_from: None,
        name: name.to_string(),
        loc: ctx.loc(node),
        tasks_from,
        params,
        kw,
    })
}

/// Loads a task file (a list of tasks or blocks) for `include_tasks`/`import_tasks`/roles.
pub fn load_task_file(
    path: &Path,
    playbook_dir: &Path,
    role: Option<Arc<Role>>,
) -> Result<(Vec<Item>, Vec<Arc<Task>>), LoadError> {
    load_task_file_as(path, playbook_dir, role, false)
}

/// [`load_task_file`] for a file a handler includes (`as_handler`): the forms handlers refuse
/// (a block inside a block, roles) are refused in it too.
pub fn load_task_file_as(
    path: &Path,
    playbook_dir: &Path,
    role: Option<Arc<Role>>,
    as_handler: bool,
) -> Result<(Vec<Item>, Vec<Arc<Task>>), LoadError> {
    let mut ctx = Ctx::for_file(path, playbook_dir, role, 0);
    if as_handler {
        ctx.handlers = HandlerLevel::Top;
    }
    let mut acc = PlayAcc::default();
    let items = load_file_items(path, &ctx, &mut acc)?;
    Ok((items, acc.handlers))
}

pub(crate) fn load_file_items(
    path: &Path,
    ctx: &Ctx,
    acc: &mut PlayAcc,
) -> Result<Vec<Item>, LoadError> {
    let root = yaml::load_file(path)?;
    let file_ctx = Ctx {
        file: Arc::from(path.display().to_string().as_str()),
        dir: parent_dir(path),
        ..ctx.clone()
    };
    if matches!(root.value, Yaml::Null) {
        return Ok(Vec::new());
    }
    load_items(&root, &file_ctx, acc)
}

/// A list of tasks/blocks.
pub(crate) fn load_items(
    node: &Node,
    ctx: &Ctx,
    acc: &mut PlayAcc,
) -> Result<Vec<Item>, LoadError> {
    let list = match &node.value {
        Yaml::Seq(items) => items,
        Yaml::Null => return Ok(Vec::new()),
        _ => {
            return Err(ctx.err(
                node,
                "A malformed block was found while loading tasks: a list of tasks was expected",
            ))
        }
    };
    let mut items = Vec::new();
    for entry in list {
        items.push(load_item(entry, ctx, acc)?);
    }
    Ok(items)
}

fn load_item(node: &Node, ctx: &Ctx, acc: &mut PlayAcc) -> Result<Item, LoadError> {
    let Some(entries) = node.as_map() else {
        return Err(ctx.err(
            node,
            "A malformed block was found while loading tasks: each task must be a mapping",
        ));
    };
    let is_block = ["block", "rescue", "always"]
        .iter()
        .any(|k| node.get(k).is_some());
    if is_block {
        return load_block(node, entries, ctx, acc).map(|b| Item::Block(Arc::new(b)));
    }
    super::task::load_task(node, entries, ctx, acc)
}

fn load_block(
    node: &Node,
    entries: &[(Node, Node)],
    ctx: &Ctx,
    acc: &mut PlayAcc,
) -> Result<Block, LoadError> {
    for (k, _) in entries {
        let key = k.key_string();
        if !BLOCK_KEYS.contains(&key.as_str()) && !COMMON_KEYS.contains(&key.as_str()) {
            return Err(ctx.err(k, format!("'{key}' is not a valid attribute for a Block")));
        }
    }
    let inner;
    let ctx = match ctx.handlers {
        HandlerLevel::No => ctx,
        HandlerLevel::Top => {
            inner = Ctx {
                handlers: HandlerLevel::InBlock,
                ..ctx.clone()
            };
            &inner
        }
        HandlerLevel::InBlock => {
            return Err(ctx.err(node, "Using a block as a handler is not supported."))
        }
    };
    let mut kw = parse_common(entries, ctx)?;
    parse_block_extras(node, &mut kw, ctx);
    // `ignore_errors` covers every section; `rescue` covers the `block` section only.
    let sections_ctx = Ctx {
        failure_handled: ctx.failure_handled || ignores_errors(node),
        ..ctx.clone()
    };
    let block_ctx = Ctx {
        failure_handled: sections_ctx.failure_handled || node.get("rescue").is_some(),
        ..ctx.clone()
    };
    Ok(Block {
        name: node.get("name").map(scalar_string),
        loc: ctx.loc(node),
        block: load_section(node.get("block"), &block_ctx, acc)?,
        rescue: load_section(node.get("rescue"), &sections_ctx, acc)?,
        always: load_section(node.get("always"), &sections_ctx, acc)?,
        kw,
        role: None,
    })
}

/// `when` and where each of its conditions is written (a list's items, else the value).
pub(crate) fn set_when(kw: &mut Keywords, w: &Node, ctx: &Ctx) {
    kw.when = list_of(w);
    kw.when_locs = match w.as_seq() {
        Some(items) => items.iter().map(|n| Some(ctx.loc(n))).collect(),
        None => vec![Some(ctx.loc(w)); kw.when.len()],
    };
}

pub(crate) fn parse_block_extras(node: &Node, kw: &mut Keywords, ctx: &Ctx) {
    if let Some(n) = node.get("notify") {
        kw.notify = strings_of(n);
    }
    if let Some(w) = node.get("when") {
        set_when(kw, w, ctx);
    }
    if let Some(d) = node.get("delegate_to") {
        kw.delegate_to = Some(d.to_value());
    }
    if let Some(d) = node.get("delegate_facts") {
        kw.delegate_facts = Some(d.to_value());
    }
}

/// The inheritable keywords of a play, block or task.
pub(crate) fn parse_common(entries: &[(Node, Node)], ctx: &Ctx) -> Result<Keywords, LoadError> {
    let mut kw = Keywords::default();
    for (k, v) in entries {
        let value = || Some(v.to_value());
        match k.key_string().as_str() {
            "become" => kw.become_ = value(),
            "become_user" => kw.become_user = value(),
            "become_method" => kw.become_method = value(),
            "become_flags" => kw.become_flags = value(),
            "remote_user" => kw.remote_user = value(),
            "port" => kw.port = value(),
            "connection" => kw.connection = value(),
            "environment" => match v.to_value() {
                Value::Array(list) => kw.environment.extend(list),
                Value::Null => {}
                other => kw.environment.push(other),
            },
            "any_errors_fatal" => kw.any_errors_fatal = value(),
            "ignore_errors" => kw.ignore_errors = value(),
            "ignore_unreachable" => kw.ignore_unreachable = value(),
            "check_mode" => kw.check_mode = value(),
            "diff" => kw.diff = value(),
            "no_log" => kw.no_log = value(),
            "timeout" => kw.timeout = value(),
            "run_once" => kw.run_once = value(),
            "tags" => kw.tags = tags_of(v),
            "vars" => kw.vars = vars_of(v, ctx)?,
            "throttle" => kw.throttle = value(),
            "module_defaults" | "debugger" | "become_exe" => {
                kw.not_implemented.push(k.key_string());
            }
            "collections" => {
                let unknown: Vec<String> = list_of(v)
                    .iter()
                    .map(value_text)
                    .filter(|c| !KNOWN_COLLECTIONS.contains(&c.as_str()))
                    .collect();
                if !unknown.is_empty() {
                    kw.not_implemented
                        .push(format!("collections ({})", unknown.join(", ")));
                }
            }
            _ => {}
        }
    }
    Ok(kw)
}

/// `vars:` as a mapping (or the old list of mappings).
fn vars_of(node: &Node, ctx: &Ctx) -> Result<Map, LoadError> {
    match node.to_value() {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        Value::Array(list) => {
            let mut out = Map::new();
            for v in list {
                match v {
                    Value::Object(m) => out.extend(m),
                    _ => return Err(ctx.err(node, "Vars in a Play/Block/Task must be specified as a dictionary")),
                }
            }
            Ok(out)
        }
        _ => Err(ctx.err(node, "Vars in a Play/Block/Task must be specified as a dictionary, or a list of dictionaries")),
    }
}

/// Tags as strings: a list, or a comma-separated string.
fn tags_of(node: &Node) -> Vec<String> {
    match node.to_value() {
        Value::Array(list) => list.iter().map(value_text).collect(),
        Value::Null => Vec::new(),
        Value::String(s) => s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        other => vec![value_text(&other)],
    }
}

/// A scalar or list keyword as a list of values (`when`, `until`, `failed_when`).
pub(crate) fn list_of(node: &Node) -> Vec<Value> {
    match node.to_value() {
        Value::Array(list) => list,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

pub(crate) fn strings_of(node: &Node) -> Vec<String> {
    match node.to_value() {
        Value::Array(list) => list.iter().map(value_text).collect(),
        Value::Null => Vec::new(),
        other => vec![value_text(&other)],
    }
}

pub(crate) fn scalar_string(node: &Node) -> String {
    value_text(&node.to_value())
}

/// A relative path against a directory (absolute and `~` paths kept as they are).
pub(crate) fn resolve_relative(dir: &Path, name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        p.to_path_buf()
    } else if let Some(rest) = name.strip_prefix("~/") {
        match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => p.to_path_buf(),
        }
    } else {
        dir.join(p)
    }
}

/// Where an included/imported task file is: beside the including file, in the role's `tasks/`,
/// then in the playbook directory.
pub(crate) fn find_task_file(name: &str, ctx: &Ctx) -> Option<PathBuf> {
    let mut candidates = vec![resolve_relative(&ctx.dir, name)];
    if let Some(role) = &ctx.role {
        candidates.push(role.path.join("tasks").join(name));
    }
    candidates.push(resolve_relative(&ctx.playbook_dir, name));
    candidates.into_iter().find(|p| p.is_file())
}
