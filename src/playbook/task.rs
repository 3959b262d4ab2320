//! Loading one task: its action (module, `meta`, includes and imports), keywords, loop and
//! the checks Ansible makes on it.
//!
//! Any key that is not a task keyword is a candidate action. Exactly one must resolve: two
//! give `conflicting action statements: a, b`; none gives `couldn't resolve module/action 'x'`
//! (when an unknown key is there) or `no module/action detected in task.`; an unknown key
//! beside a valid action is `'x' is not a valid attribute for a Task`. `import_tasks` and
//! `import_role` are expanded here into blocks; `include_*` stay tasks for the engine.

use super::args::{check_reserved_names, free_args, is_free_form, module_args};
use super::load::{
    find_task_file, handles_own_failure, list_of, load_file_items, parse_block_extras,
    parse_common, scalar_string, strings_of, Ctx, HandlerLevel, PlayAcc, COMMON_KEYS, MAX_DEPTH,
};
use super::role::{expand_role, load_role_tasks, RoleRequest};
use super::{Action, Block, Item, Keywords, LoadError, LoopSource, Task};
use crate::yaml::{Node, Yaml};
use crate::{value_text, Map, Value};
use std::sync::Arc;

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

/// The action keys of a task (everything that is not a task keyword).
struct ActionKey<'a> {
    key: &'a Node,
    name: String,
    value: &'a Node,
}

pub fn is_task_keyword(key: &str) -> bool {
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
    crate::modules::lookup(name)
        .or_else(|| super::unimplemented::lookup(name))
        .map(Resolved::Module)
}

pub(crate) fn load_task(
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
    parse_block_extras(node, &mut kw, ctx);
    if local_action {
        kw.delegate_to = Some(Value::String("localhost".into()));
    }
    let loop_ = loop_source(entries, ctx)?;
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
    let free_form = matches!(resolved, Resolved::Module(m) if is_free_form(m));
    check_reserved_names(&action_key.name, free_form, action_key.value, ctx)?;
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
                &action_key.name,
                action_key.value,
                extra_args,
                from_action_keyword,
                handles_own_failure(node, ctx),
                ctx,
            )?;
            Ok(Item::Task(Arc::new(
                base.task(Action::Module { module, args }),
            )))
        }
        Resolved::Special("meta") => meta_task(base, &action_key, extra_args),
        Resolved::Special("include_tasks") => include_tasks(base, &action_key, extra_args),
        Resolved::Special("import_tasks") => import_tasks(base, &action_key, extra_args, acc),
        Resolved::Special(which) if ctx.handlers != HandlerLevel::No => Err(ctx.err(
            node,
            format!("Using '{which}' as a handler is not supported."),
        )),
        Resolved::Special(which) => role_task(base, which, &action_key, extra_args, acc),
    }
}

/// `meta: ACTION`.
fn meta_task(
    base: TaskBase<'_>,
    action: &ActionKey<'_>,
    extra: Option<&Node>,
) -> Result<Item, LoadError> {
    let args = free_args(action.value, extra);
    let what = args.get("_raw_params").map(value_text).unwrap_or_default();
    if !META_ACTIONS.contains(&what.as_str()) {
        return Err(base.ctx.err(
            action.value,
            format!("invalid meta action requested: {what}"),
        ));
    }
    Ok(Item::Task(Arc::new(base.task(Action::Meta(what)))))
}

/// `include_tasks: FILE` or `{file: FILE, apply: {...}}`, resolved per host at run time.
fn include_tasks(
    base: TaskBase<'_>,
    action: &ActionKey<'_>,
    extra: Option<&Node>,
) -> Result<Item, LoadError> {
    let mut args = free_args(action.value, extra);
    let file = args
        .shift_remove("file")
        .or_else(|| args.shift_remove("_raw_params"))
        .ok_or_else(|| {
            base.ctx
                .err(action.value, "No file specified for include_tasks")
        })?;
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

/// `import_tasks: FILE`: the file's tasks, loaded now, in a block carrying the import's
/// keywords.
fn import_tasks(
    base: TaskBase<'_>,
    action: &ActionKey<'_>,
    extra: Option<&Node>,
    acc: &mut PlayAcc,
) -> Result<Item, LoadError> {
    let ctx = base.ctx;
    if base.loop_.is_some() {
        return Err(ctx.err(
            base.node,
            "You cannot use loops on 'import_tasks' statements. You should use 'include_tasks' instead.",
        ));
    }
    let args = free_args(action.value, extra);
    let file = args
        .get("file")
        .or_else(|| args.get("_raw_params"))
        .map(value_text)
        .ok_or_else(|| ctx.err(action.value, "No file specified for import_tasks"))?;
    if crate::template::Templar::is_template(&file) {
        return Err(ctx.err(
            action.value,
            "import_tasks needs a static file name here; use include_tasks for a templated one",
        ));
    }
    if ctx.depth >= MAX_DEPTH {
        return Err(ctx.err(base.node, "import_tasks nested too deeply (a loop?)"));
    }
    let path = find_task_file(&file, ctx)
        .ok_or_else(|| ctx.err(action.value, format!("Could not find or access '{file}'")))?;
    let inner = Ctx {
        depth: ctx.depth + 1,
        ..ctx.clone()
    };
    let items = load_file_items(&path, &inner, acc)?;
    Ok(Item::Block(Arc::new(Block {
        name: base.name.clone(),
        loc: ctx.loc(base.node),
        block: items,
        kw: base.kw,
        ..Block::default()
    })))
}

/// Options of `include_role`/`import_role` that are not role parameters.
const ROLE_OPTIONS: &[&str] = &[
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
];

/// `import_role` (expanded now) and `include_role` (a task; its role is loaded now when the
/// name is not templated, so its handlers join the play's).
fn role_task(
    base: TaskBase<'_>,
    which: &str,
    action: &ActionKey<'_>,
    extra: Option<&Node>,
    acc: &mut PlayAcc,
) -> Result<Item, LoadError> {
    let ctx = base.ctx;
    let node = base.node;
    let args = free_args(action.value, extra);
    let name_value = args
        .get("name")
        .or_else(|| args.get("_raw_params"))
        .cloned()
        .ok_or_else(|| {
            ctx.err(
                action.value,
                format!("'name' is a required field for {which}."),
            )
        })?;
    let tasks_from = args.get("tasks_from").map(value_text);
    let handlers_from = args.get("handlers_from").map(value_text);
    let name_text = value_text(&name_value);
    let params: Map = args
        .iter()
        .filter(|(k, _)| !ROLE_OPTIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if which == "import_role" {
        if base.loop_.is_some() {
            return Err(ctx.err(
                node,
                "You cannot use loops on 'import_role' statements. You should use 'include_role' instead.",
            ));
        }
        let mut role_params = base.kw.vars.clone();
        role_params.extend(params);
        let request = RoleRequest {
            inherited: Map::new(),
            handlers_from: handlers_from.clone(),
            name: name_text,
            loc: ctx.loc(node),
            tasks_from,
            params: role_params,
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
            inherited: Map::new(),
            handlers_from: handlers_from.clone(),
            name: name_text,
            loc: ctx.loc(node),
            tasks_from: tasks_from.clone(),
            params: Map::new(),
            kw: Keywords::default(),
        };
        // The role's dependencies run first, as for `roles:` (each once in the play), then
        // its own tasks.
        let mut items = expand_role(&request, ctx, acc, false)?;
        match items.pop() {
            Some(Item::Block(own)) if own.role.is_some() => {
                let role = own.role.as_ref().map(|r| r.role.clone());
                items.extend(own.block.iter().cloned());
                role.map(|role| (role, items))
            }
            _ => Some(load_role_tasks(&request, ctx, acc)?),
        }
    };
    Ok(Item::Task(Arc::new(base.task(Action::IncludeRole {
        name: name_value,
        tasks_from,
        params,
        preloaded,
    }))))
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
        let mut kw = self.kw;
        kw.notify = node.get("notify").map(strings_of).unwrap_or_default();
        Task {
            name: self.name,
            loc: self.ctx.loc(node),
            action_name: self.action_name,
            action,
            kw,
            register: node.get("register").map(scalar_string),
            loop_: self.loop_,
            loop_control: node.get("loop_control").map(Node::to_value),
            until: node.get("until").map(list_of).unwrap_or_default(),
            retries: node.get("retries").map(Node::to_value),
            delay: node.get("delay").map(Node::to_value),
            changed_when: node.get("changed_when").map(list_of),
            failed_when: node.get("failed_when").map(list_of),
            notify: node.get("notify").map(strings_of).unwrap_or_default(),
            async_: node.get("async").map(Node::to_value),
            poll: node.get("poll").map(Node::to_value),
            listen: node.get("listen").map(strings_of).unwrap_or_default(),
            role: self.ctx.role.clone(),
            dir: self.ctx.dir.clone(),
        }
    }
}

/// `loop:` or one `with_<lookup>:`.
fn loop_source(entries: &[(Node, Node)], ctx: &Ctx) -> Result<Option<LoopSource>, LoadError> {
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
