//! Loading plays, blocks and tasks from YAML nodes, with validation (see the module doc of
//! [`crate::playbook`]).

use super::kv::parse_kv;
use super::role::{expand_role, RoleRequest};
use super::{
    parent_dir, Action, Block, Item, Keywords, LoadError, Loc, LoopSource, Play, Playbook, Role,
    Task,
};
use crate::modules::argspec::Kind;
use crate::yaml::{self, Node, Yaml};
use crate::{Map, Value};
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

/// Keywords a play, block and task share (inherited downwards).
const COMMON_KEYS: &[&str] = &[
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

/// Keys a task may have besides the common ones (and `with_<lookup>`).
const TASK_KEYS: &[&str] = &[
    "action",
    "local_action",
    "args",
    "async",
    "poll",
    "changed_when",
    "failed_when",
    "delay",
    "retries",
    "until",
    "delegate_to",
    "delegate_facts",
    "loop",
    "loop_control",
    "notify",
    "register",
    "when",
    "listen",
];

/// Lookups `with_<name>` may use.
const WITH_LOOKUPS: &[&str] = &[
    "items",
    "list",
    "dict",
    "indexed_items",
    "together",
    "sequence",
    "nested",
    "cartesian",
    "flattened",
    "env",
    "file",
];

/// Valid `meta:` actions.
const META_ACTIONS: &[&str] = &[
    "noop",
    "flush_handlers",
    "refresh_inventory",
    "clear_facts",
    "clear_host_errors",
    "end_play",
    "end_host",
    "end_batch",
    "end_role",
    "reset_connection",
];

/// Modules whose `k=v` text keeps unknown words as the command (`check_raw`).
const RAW_MODULES: &[&str] = &["command", "shell", "raw", "script"];

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
        }
    }
    pub fn loc(&self, node: &Node) -> Loc {
        Loc::new(&self.file, node.mark)
    }
    fn err(&self, node: &Node, message: impl Into<String>) -> LoadError {
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

const MAX_DEPTH: usize = 64;

/// Loads and validates a playbook file (imports expanded).
pub fn load_playbook(path: &Path) -> Result<Playbook, LoadError> {
    let dir = parent_dir(path);
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
                load_plays_into(&file, &dir, depth + 1, plays)?;
            }
            None => plays.push(Arc::new(load_play(entry, &ctx)?)),
        }
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
        let items = load_items(h, ctx, &mut acc)?;
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
        None => Vec::new().pipe(Ok),
    }
}

/// Small helper so `Ok(Vec::new())` reads in expression position.
trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}

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
        kw.when = list_of(w);
    }
    if let Some(d) = node.get("delegate_to") {
        kw.delegate_to = Some(d.to_value());
    }
    // Vars given with the role are its parameters in Ansible's eyes as well.
    for (k, v) in std::mem::take(&mut kw.vars) {
        params.insert(k, v);
    }
    Ok(RoleRequest {
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
    let ctx = Ctx::for_file(path, playbook_dir, role, 0);
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
    load_task(node, entries, ctx, acc)
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
    let mut kw = parse_common(entries, ctx)?;
    parse_block_extras(node, &mut kw);
    Ok(Block {
        name: node.get("name").map(scalar_string),
        loc: ctx.loc(node),
        block: load_section(node.get("block"), ctx, acc)?,
        rescue: load_section(node.get("rescue"), ctx, acc)?,
        always: load_section(node.get("always"), ctx, acc)?,
        kw,
        role: None,
    })
}

fn parse_block_extras(node: &Node, kw: &mut Keywords) {
    if let Some(w) = node.get("when") {
        kw.when = list_of(w);
    }
    if let Some(d) = node.get("delegate_to") {
        kw.delegate_to = Some(d.to_value());
    }
    if let Some(d) = node.get("delegate_facts") {
        kw.delegate_facts = Some(d.to_value());
    }
}

/// The inheritable keywords of a play, block or task.
fn parse_common(entries: &[(Node, Node)], ctx: &Ctx) -> Result<Keywords, LoadError> {
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
        Value::Array(list) => list.iter().map(value_string).collect(),
        Value::Null => Vec::new(),
        Value::String(s) => s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect(),
        other => vec![value_string(&other)],
    }
}

/// A scalar or list keyword as a list of values (`when`, `until`, `failed_when`).
fn list_of(node: &Node) -> Vec<Value> {
    match node.to_value() {
        Value::Array(list) => list,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn strings_of(node: &Node) -> Vec<String> {
    match node.to_value() {
        Value::Array(list) => list.iter().map(value_string).collect(),
        Value::Null => Vec::new(),
        other => vec![value_string(&other)],
    }
}

pub(crate) fn value_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn scalar_string(node: &Node) -> String {
    value_string(&node.to_value())
}

/// The action keys of a task (everything that is not a task keyword).
struct ActionKey<'a> {
    key: &'a Node,
    name: String,
    value: &'a Node,
}

fn is_task_keyword(key: &str) -> bool {
    TASK_KEYS.contains(&key) || COMMON_KEYS.contains(&key) || key.starts_with("with_")
}

/// What an action name refers to.
enum Resolved {
    Module(&'static dyn crate::modules::Module),
    Special(&'static str),
}

fn resolve_action(name: &str) -> Option<Resolved> {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    for special in [
        "meta",
        "include_tasks",
        "import_tasks",
        "include_role",
        "import_role",
    ] {
        if short == special {
            return Some(Resolved::Special(special));
        }
    }
    crate::modules::lookup(name).map(Resolved::Module)
}

fn load_task(
    node: &Node,
    entries: &[(Node, Node)],
    ctx: &Ctx,
    acc: &mut PlayAcc,
) -> Result<Item, LoadError> {
    let mut actions: Vec<ActionKey> = Vec::new();
    let mut unknown: Vec<&Node> = Vec::new();
    let mut local_action = false;
    for (k, v) in entries {
        let key = k.key_string();
        if key == "action" || key == "local_action" {
            local_action |= key == "local_action";
            let (name, value_node) = split_action_keyword(v, ctx)?;
            actions.push(ActionKey {
                key: k,
                name,
                value: value_node,
            });
            continue;
        }
        if is_task_keyword(&key) {
            continue;
        }
        if resolve_action(&key).is_some() {
            actions.push(ActionKey {
                key: k,
                name: key,
                value: v,
            });
        } else {
            unknown.push(k);
        }
    }
    if actions.len() > 1 {
        let names: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
        return Err(ctx.err(
            actions[1].key,
            format!("conflicting action statements: {}", names.join(", ")),
        ));
    }
    let Some(action_key) = actions.pop() else {
        return Err(match unknown.first() {
            Some(k) => ctx.err(
                k,
                format!(
                    "couldn't resolve module/action '{}'. This often indicates a misspelling, missing collection, or incorrect module path.",
                    k.key_string()
                ),
            ),
            None => ctx.err(node, "no module/action detected in task."),
        });
    };
    if let Some(k) = unknown.first() {
        return Err(ctx.err(
            k,
            format!("'{}' is not a valid attribute for a Task", k.key_string()),
        ));
    }
    let mut kw = parse_common(entries, ctx)?;
    parse_block_extras(node, &mut kw);
    if local_action {
        kw.delegate_to = Some(Value::String("localhost".into()));
    }
    let loop_ = loop_source(node, entries, ctx)?;
    let extra_args = match node.get("args") {
        Some(a) => match &a.value {
            Yaml::Map(_) => Some(a),
            Yaml::Null => None,
            _ => {
                return Err(ctx.err(
                    a,
                    "Complex args must be a dictionary or variable string (\"{{var}}\").",
                ))
            }
        },
        None => None,
    };
    let resolved = resolve_action(&action_key.name)
        .ok_or_else(|| ctx.err(action_key.key, "unresolvable action"))?;
    let base = TaskBase {
        node,
        ctx,
        kw,
        loop_,
        name: node.get("name").map(scalar_string),
        action_name: action_key.name.clone(),
    };
    match resolved {
        Resolved::Module(module) => {
            let from_action_keyword = matches!(
                action_key.key.as_str(),
                Some("action") | Some("local_action")
            );
            let args = module_args(
                module,
                action_key.value,
                extra_args,
                from_action_keyword,
                ctx,
            )?;
            Ok(Item::Task(Arc::new(
                base.task(Action::Module { module, args }),
            )))
        }
        Resolved::Special("meta") => {
            let args = free_args(action_key.value, extra_args);
            let what = args
                .get("_raw_params")
                .map(value_string)
                .unwrap_or_default();
            if !META_ACTIONS.contains(&what.as_str()) {
                return Err(ctx.err(
                    action_key.value,
                    format!("invalid meta action requested: {what}"),
                ));
            }
            Ok(Item::Task(Arc::new(base.task(Action::Meta(what)))))
        }
        Resolved::Special("include_tasks") => {
            let mut args = free_args(action_key.value, extra_args);
            let file = args
                .shift_remove("file")
                .or_else(|| args.shift_remove("_raw_params"))
                .ok_or_else(|| ctx.err(action_key.value, "No file specified for include_tasks"))?;
            let apply = match args.shift_remove("apply") {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            Ok(Item::Task(Arc::new(base.task(Action::IncludeTasks {
                file,
                params: args,
                apply,
            }))))
        }
        Resolved::Special("import_tasks") => {
            if base.loop_.is_some() {
                return Err(ctx.err(node, "You cannot use loops on 'import_tasks' statements. You should use 'include_tasks' instead."));
            }
            let args = free_args(action_key.value, extra_args);
            let file = args
                .get("file")
                .or_else(|| args.get("_raw_params"))
                .map(value_string)
                .ok_or_else(|| ctx.err(action_key.value, "No file specified for import_tasks"))?;
            if crate::template::Templar::is_template(&file) {
                return Err(ctx.err(action_key.value, "import_tasks needs a static file name here; use include_tasks for a templated one"));
            }
            if ctx.depth >= MAX_DEPTH {
                return Err(ctx.err(node, "import_tasks nested too deeply (a loop?)"));
            }
            let path = find_task_file(&file, ctx).ok_or_else(|| {
                ctx.err(
                    action_key.value,
                    format!("Could not find or access '{file}'"),
                )
            })?;
            let inner = Ctx {
                depth: ctx.depth + 1,
                ..ctx.clone()
            };
            let items = load_file_items(&path, &inner, acc)?;
            Ok(Item::Block(Arc::new(Block {
                name: base.name.clone(),
                loc: ctx.loc(node),
                block: items,
                kw: base.kw,
                ..Block::default()
            })))
        }
        Resolved::Special(which) => {
            // include_role / import_role
            let args = free_args(action_key.value, extra_args);
            let name_value = args
                .get("name")
                .or_else(|| args.get("_raw_params"))
                .cloned()
                .ok_or_else(|| {
                    ctx.err(
                        action_key.value,
                        format!("'name' is a required field for {which}."),
                    )
                })?;
            let tasks_from = args.get("tasks_from").map(value_string);
            let name_text = value_string(&name_value);
            let mut params = Map::new();
            for (k, v) in &args {
                if ![
                    "name",
                    "_raw_params",
                    "tasks_from",
                    "apply",
                    "public",
                    "allow_duplicates",
                    "defaults_from",
                    "vars_from",
                    "handlers_from",
                    "rolespec_validate",
                ]
                .contains(&k.as_str())
                {
                    params.insert(k.clone(), v.clone());
                }
            }
            if which == "import_role" {
                if base.loop_.is_some() {
                    return Err(ctx.err(node, "You cannot use loops on 'import_role' statements. You should use 'include_role' instead."));
                }
                let request = RoleRequest {
                    name: name_text,
                    loc: ctx.loc(node),
                    tasks_from,
                    params: base.kw.vars.clone(),
                    kw: Keywords {
                        vars: Map::new(),
                        ..base.kw.clone()
                    },
                };
                let items = expand_role(&request, ctx, acc, false)?;
                return Ok(Item::Block(Arc::new(Block {
                    name: base.name.clone(),
                    loc: ctx.loc(node),
                    block: items,
                    ..Block::default()
                })));
            }
            let preloaded = if crate::template::Templar::is_template(&name_text) {
                None
            } else {
                let request = RoleRequest {
                    name: name_text,
                    loc: ctx.loc(node),
                    tasks_from: tasks_from.clone(),
                    params: Map::new(),
                    kw: Keywords::default(),
                };
                Some(super::role::load_role_tasks(&request, ctx, acc)?)
            };
            Ok(Item::Task(Arc::new(base.task(Action::IncludeRole {
                name: name_value,
                tasks_from,
                params,
                preloaded,
            }))))
        }
    }
}

/// What every task shares before its action is known.
struct TaskBase<'a> {
    node: &'a Node,
    ctx: &'a Ctx,
    kw: Keywords,
    loop_: Option<LoopSource>,
    name: Option<String>,
    action_name: String,
}

impl TaskBase<'_> {
    fn task(self, action: Action) -> Task {
        let node = self.node;
        Task {
            name: self.name,
            loc: self.ctx.loc(node),
            action_name: self.action_name,
            action,
            kw: self.kw,
            register: node.get("register").map(scalar_string),
            loop_: self.loop_,
            loop_control: node.get("loop_control").map(Node::to_value),
            until: node.get("until").map(list_of).unwrap_or_default(),
            retries: node.get("retries").map(Node::to_value),
            delay: node.get("delay").map(Node::to_value),
            changed_when: node.get("changed_when").map(list_of),
            failed_when: node.get("failed_when").map(list_of),
            notify: node.get("notify").map(strings_of).unwrap_or_default(),
            listen: node.get("listen").map(strings_of).unwrap_or_default(),
            role: self.ctx.role.clone(),
            dir: self.ctx.dir.clone(),
        }
    }
}

/// `loop:` or one `with_<lookup>:`.
fn loop_source(
    node: &Node,
    entries: &[(Node, Node)],
    ctx: &Ctx,
) -> Result<Option<LoopSource>, LoadError> {
    let mut found: Option<LoopSource> = None;
    for (k, v) in entries {
        let key = k.key_string();
        let source = if key == "loop" {
            LoopSource::Loop(v.to_value())
        } else if let Some(lookup) = key.strip_prefix("with_") {
            if !WITH_LOOKUPS.contains(&lookup) {
                return Err(ctx.err(k, format!("lookup plugin ({lookup}) not found")));
            }
            LoopSource::With(lookup.to_string(), v.to_value())
        } else {
            continue;
        };
        if found.is_some() {
            return Err(ctx.err(
                k,
                "duplicate loop in task: only one of loop and with_<lookup> may be used",
            ));
        }
        found = Some(source);
    }
    let _ = node;
    Ok(found)
}

/// `action: copy src=a dest=b` / `action: {module: copy, src: a}`: the module name and a node
/// holding its arguments.
fn split_action_keyword<'a>(v: &'a Node, ctx: &Ctx) -> Result<(String, &'a Node), LoadError> {
    match &v.value {
        Yaml::Str(s) => {
            let name = s.split_whitespace().next().unwrap_or("").to_string();
            if name.is_empty() {
                return Err(ctx.err(v, "no module/action detected in task."));
            }
            Ok((name, v))
        }
        Yaml::Map(_) => {
            let name = v
                .get("module")
                .and_then(Node::as_str)
                .ok_or_else(|| ctx.err(v, "no module/action detected in task."))?;
            Ok((name.to_string(), v))
        }
        _ => Err(ctx.err(v, "no module/action detected in task.")),
    }
}

/// Free-form (non-module) action arguments: a string becomes `_raw_params` plus `k=v` words.
fn free_args(value: &Node, extra: Option<&Node>) -> Map {
    let mut args = match extra.map(Node::to_value) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    match value.to_value() {
        Value::Object(m) => {
            for (k, v) in m {
                if k != "module" {
                    args.insert(k, v);
                }
            }
        }
        Value::String(s) => args.extend(parse_kv(&s, false)),
        Value::Null => {}
        other => {
            args.insert("_raw_params".into(), Value::String(value_string(&other)));
        }
    }
    args
}

/// A module's arguments from the task (dict, `k=v` string or free-form text, plus `args:`),
/// with names and literal values checked against the module's spec.
fn module_args(
    module: &'static dyn crate::modules::Module,
    value: &Node,
    extra: Option<&Node>,
    from_action_keyword: bool,
    ctx: &Ctx,
) -> Result<Map, LoadError> {
    let mut args = match extra.map(Node::to_value) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut nodes: Vec<(String, &Node)> = Vec::new();
    match &value.value {
        Yaml::Map(entries) => {
            for (k, v) in entries {
                let key = k.key_string();
                if key == "module" && from_action_keyword {
                    continue;
                }
                nodes.push((key.clone(), v));
                args.insert(key, v.to_value());
            }
        }
        Yaml::Str(s) => {
            let text = strip_action_name(s, module);
            let check_raw = RAW_MODULES.contains(&module.name());
            args.extend(parse_kv(text, check_raw));
        }
        Yaml::Null => {}
        Yaml::Seq(_) => {
            return Err(ctx.err(
                value,
                format!(
                    "the arguments of module '{}' must be a mapping or a k=v string, got a list",
                    module.name()
                ),
            ));
        }
        _ => {
            args.insert("_raw_params".into(), value.to_value());
        }
    }
    if module.accepts_any_args() {
        // Free key/value data (set_fact, add_host): the module checks its own keys at run time.
        return Ok(args);
    }
    if let Err(message) = module.spec().check_names(module.fqcn(), &args) {
        let at = args_error_node(&message, &nodes).unwrap_or(value);
        return Err(ctx.err(at, message));
    }
    check_placeholder_mappings(module, &nodes, ctx)?;
    Ok(args)
}

/// For `action: copy src=a`, the text after the module name.
fn strip_action_name<'a>(text: &'a str, module: &'static dyn crate::modules::Module) -> &'a str {
    let trimmed = text.trim_start();
    match trimmed.split_once(char::is_whitespace) {
        Some((first, rest))
            if crate::modules::lookup(first).map(|m| m.name()) == Some(module.name()) =>
        {
            rest
        }
        None if crate::modules::lookup(trimmed).map(|m| m.name()) == Some(module.name()) => "",
        _ => text,
    }
}

/// The argument node an argspec message names (`... 'namespace' ...`), for its position.
fn args_error_node<'a>(message: &str, nodes: &[(String, &'a Node)]) -> Option<&'a Node> {
    nodes
        .iter()
        .find(|(k, _)| {
            message.contains(&format!("'{k}'"))
                || message.contains(&format!(" {k} "))
                || message.contains(&format!("{k}:"))
        })
        .map(|(_, n)| *n)
}

/// A string parameter given a YAML mapping or list literally is a mistake Ansible would turn
/// into the string of a Python dict: most often a `{placeholder}` written in the docs' style
/// (`namespace: {namespace}` is the flow mapping `{namespace: null}`). Refuse it before anything
/// runs.
fn check_placeholder_mappings(
    module: &'static dyn crate::modules::Module,
    nodes: &[(String, &Node)],
    ctx: &Ctx,
) -> Result<(), LoadError> {
    for (key, node) in nodes {
        let Some(param) = module.spec().param(key) else {
            continue;
        };
        if !matches!(param.kind, Kind::Str | Kind::Path) {
            continue;
        }
        let shown = match &node.value {
            Yaml::Map(entries) => {
                let keys: Vec<String> = entries.iter().map(|(k, _)| k.key_string()).collect();
                format!("{{{}}}", keys.join(", "))
            }
            Yaml::Seq(_) => "a list".to_string(),
            _ => continue,
        };
        return Err(ctx.err(
            node,
            format!(
                "argument '{key}' of {} is not a valid name: {shown} is read by YAML as a {}, not a string (a documentation placeholder left in?). Replace it with a real value, or quote it",
                module.fqcn(),
                if matches!(node.value, Yaml::Map(_)) { "mapping" } else { "list" }
            ),
        ));
    }
    Ok(())
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
