//! Roles in their plain form: a directory with `tasks/`, `handlers/`, `defaults/`, `vars/`,
//! `meta/` (dependencies), `files/` and `templates/`, each holding `main.yml`.
//!
//! A role named `x` is searched as `<playbook_dir>/roles/x`, then `<playbook_dir>/x` (a path
//! is used as it is). Its dependencies (`meta/main.yml` `dependencies:`) run before it. In a
//! play's `roles:` section each role runs once for the same parameters (unless its meta says
//! `allow_duplicates: true`). The role's tasks become a block that carries the role's
//! defaults, vars and parameters for the engine; its handlers join the play's handlers.

use super::load::{load_file_items, role_request, Ctx, HandlerLevel, PlayAcc};
use super::{Block, Item, Keywords, LoadError, Loc, Role, RoleUse, Task};
use crate::yaml::{self, Yaml};
use crate::Map;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A request to use a role: its name, which tasks file, parameters and keywords.
#[derive(Debug, Clone)]
pub(crate) struct RoleRequest {
    pub name: String,
    /// Parameters of the roles that depend on this one (a dependency sees its parents'
    /// parameters under its own, as in Ansible's dependency chain).
    pub inherited: Map,
    /// `handlers_from` of include_role/import_role (default `main`).
    pub handlers_from: Option<String>,
    pub loc: Loc,
    pub tasks_from: Option<String>,
    pub params: Map,
    pub kw: Keywords,
}

/// Where a role's directory is, if anywhere.
pub fn find_role(name: &str, playbook_dir: &Path) -> Option<PathBuf> {
    let as_path = Path::new(name);
    if as_path.is_absolute() {
        return as_path.is_dir().then(|| as_path.to_path_buf());
    }
    let mut candidates = vec![playbook_dir.join("roles").join(name)];
    candidates.extend(roles_path().into_iter().map(|dir| dir.join(name)));
    candidates.push(playbook_dir.join(name));
    candidates.extend(collection_role_dirs(name, playbook_dir));
    candidates.into_iter().find(|p| p.is_dir())
}

/// Ansible's roles path, searched after `roles/` beside the playbook and before the playbook's
/// own directory: `ANSIBLE_ROLES_PATH` (colon-separated; relative entries from the current
/// directory), else the defaults `~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles`.
fn roles_path() -> Vec<PathBuf> {
    match std::env::var_os("ANSIBLE_ROLES_PATH") {
        Some(list) => std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => {
            let mut dirs = Vec::new();
            if let Some(home) = std::env::var_os("HOME") {
                dirs.push(PathBuf::from(home).join(".ansible/roles"));
            }
            dirs.push(PathBuf::from("/usr/share/ansible/roles"));
            dirs.push(PathBuf::from("/etc/ansible/roles"));
            dirs
        }
    }
}

/// Where a collection role `namespace.collection.role` can be: under `collections/` beside the
/// playbook (where ansible-playbook looks first), then the default collections paths.
fn collection_role_dirs(name: &str, playbook_dir: &Path) -> Vec<PathBuf> {
    let parts: Vec<&str> = name.split('.').collect();
    let [namespace, collection, role] = parts.as_slice() else {
        return Vec::new();
    };
    let valid = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !parts.iter().all(|p| valid(p)) {
        return Vec::new();
    }
    let mut roots = vec![playbook_dir.join("collections")];
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(home).join(".ansible/collections"));
    }
    roots.push(PathBuf::from("/usr/share/ansible/collections"));
    roots
        .into_iter()
        .map(|r| {
            r.join("ansible_collections")
                .join(namespace)
                .join(collection)
                .join("roles")
                .join(role)
        })
        .collect()
}

/// A role loaded on its own: identity, tasks and handlers.
pub type LoadedRole = (Arc<Role>, Vec<Item>, Vec<Arc<Task>>);

/// Loads a role by name for run-time `include_role` (templated names): its identity, the
/// tasks of `tasks_from` (default `main`) and its handlers.
pub fn load_role(
    name: &str,
    tasks_from: Option<&str>,
    playbook_dir: &Path,
    at: &Loc,
) -> Result<LoadedRole, LoadError> {
    let ctx = Ctx {
        file: at.file.clone(),
        dir: playbook_dir.to_path_buf(),
        playbook_dir: playbook_dir.to_path_buf(),
        role: None,
        depth: 0,
        handlers: HandlerLevel::No,
        failure_handled: false,
    };
    let request = RoleRequest {
        name: name.to_string(),
        inherited: Map::new(),
        handlers_from: None,
        loc: at.clone(),
        tasks_from: tasks_from.map(str::to_string),
        params: Map::new(),
        kw: Keywords::default(),
    };
    let mut acc = PlayAcc::default();
    let (role, items) = load_role_tasks(&request, &ctx, &mut acc)?;
    Ok((role, items, acc.handlers))
}

/// The role's blocks for `roles:`/`import_role`: dependencies first, then the role itself, each
/// a block carrying its [`RoleUse`]. With `dedupe`, a role already placed in this play with
/// the same parameters is left out.
pub(crate) fn expand_role(
    request: &RoleRequest,
    ctx: &Ctx,
    acc: &mut PlayAcc,
    dedupe: bool,
) -> Result<Vec<Item>, LoadError> {
    if ctx.depth >= 32 {
        return Err(LoadError::new(
            request.loc.clone(),
            format!(
                "role '{}' depends on itself (dependency loop)",
                request.name
            ),
        ));
    }
    let path = role_dir(request, ctx)?;
    let meta = load_meta(&path)?;
    let key = format!(
        "{}|{}|{}",
        path.display(),
        request.tasks_from.as_deref().unwrap_or("main"),
        serde_json::Value::Object(request.params.clone())
    );
    if dedupe && !meta.allow_duplicates && !acc.roles_seen.insert(key) {
        return Ok(Vec::new());
    }
    let mut items = Vec::new();
    let dep_ctx = Ctx {
        depth: ctx.depth + 1,
        dir: path.clone(),
        ..ctx.clone()
    };
    if let Some(deps) = &meta.dependencies {
        for dep in deps.as_seq().unwrap_or(&[]) {
            let dep_request = role_request(dep, &meta_ctx(&path, ctx), None)?;
            let mut inherited = request.inherited.clone();
            inherited.extend(request.params.clone());
            let dep_request = RoleRequest {
                inherited,
                ..dep_request
            };
            items.extend(expand_role(&dep_request, &dep_ctx, acc, true)?);
        }
    }
    let (role, tasks) = load_role_tasks(request, ctx, acc)?;
    items.push(Item::Block(Arc::new(Block {
        name: None,
        loc: request.loc.clone(),
        block: tasks,
        kw: request.kw.clone(),
        role: Some(Arc::new(RoleUse {
            role,
            params: {
                let mut params = request.inherited.clone();
                params.extend(request.params.clone());
                params
            },
        })),
        ..Block::default()
    })));
    Ok(items)
}

/// Loads the role's identity, defaults, vars, tasks (of `tasks_from`) and handlers (added to
/// the play's).
pub(crate) fn load_role_tasks(
    request: &RoleRequest,
    ctx: &Ctx,
    acc: &mut PlayAcc,
) -> Result<(Arc<Role>, Vec<Item>), LoadError> {
    let path = role_dir(request, ctx)?;
    let name = Path::new(&request.name)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| request.name.clone());
    let role = Arc::new(Role {
        name,
        defaults: load_vars_dir(&path.join("defaults"), "main")?,
        vars: load_vars_dir(&path.join("vars"), "main")?,
        path: path.clone(),
    });
    let role_ctx = Ctx {
        role: Some(role.clone()),
        depth: ctx.depth + 1,
        ..ctx.clone()
    };
    let tasks_name = request.tasks_from.as_deref().unwrap_or("main");
    let tasks = match main_file(&path.join("tasks"), tasks_name) {
        Some(file) => load_file_items(&file, &role_ctx, acc)?,
        None if request.tasks_from.is_some() => {
            return Err(LoadError::new(
                request.loc.clone(),
                format!("Could not find specified file in role: tasks/{tasks_name}"),
            ))
        }
        None => Vec::new(),
    };
    let handlers_name = request.handlers_from.as_deref().unwrap_or("main");
    let handlers_file = main_file(&path.join("handlers"), handlers_name)
        .filter(|f| acc.handler_roles.insert(f.clone()));
    if let Some(file) = handlers_file {
        let mut handler_acc = PlayAcc::default();
        let handler_ctx = Ctx {
            handlers: HandlerLevel::Top,
            ..role_ctx.clone()
        };
        let items = load_file_items(&file, &handler_ctx, &mut handler_acc)?;
        collect_tasks(&items, &mut acc.handlers);
        acc.handlers.append(&mut handler_acc.handlers);
    }
    Ok((role, tasks))
}

fn collect_tasks(items: &[Item], out: &mut Vec<Arc<Task>>) {
    super::walk_tasks(items, &mut |t| out.push(t.clone()));
}

fn role_dir(request: &RoleRequest, ctx: &Ctx) -> Result<PathBuf, LoadError> {
    find_role(&request.name, &ctx.playbook_dir).ok_or_else(|| {
        let dir = ctx.playbook_dir.display();
        LoadError::new(
            request.loc.clone(),
            format!(
                "the role '{}' was not found in {dir}/roles:{dir}",
                request.name
            ),
        )
    })
}

/// `main.yml`, `main.yaml` or `main` (or `<name>`, `<name>.yml`, ...) in a role subdirectory.
fn main_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [
        dir.join(format!("{name}.yml")),
        dir.join(format!("{name}.yaml")),
        dir.join(name),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// A role's `defaults/` or `vars/` file as variables (absent: none).
fn load_vars_dir(dir: &Path, name: &str) -> Result<Map, LoadError> {
    let Some(file) = main_file(dir, name) else {
        return Ok(Map::new());
    };
    let node = yaml::load_file(&file)?;
    match node.to_value() {
        serde_json::Value::Object(m) => Ok(m),
        serde_json::Value::Null => Ok(Map::new()),
        _ => Err(LoadError::new(
            Loc::new(&Arc::from(file.display().to_string().as_str()), node.mark),
            "variables file must be a mapping",
        )),
    }
}

struct Meta {
    dependencies: Option<yaml::Node>,
    allow_duplicates: bool,
}

fn load_meta(role_path: &Path) -> Result<Meta, LoadError> {
    let Some(file) = main_file(&role_path.join("meta"), "main") else {
        return Ok(Meta {
            dependencies: None,
            allow_duplicates: false,
        });
    };
    let node = yaml::load_file(&file)?;
    let allow_duplicates = matches!(
        node.get("allow_duplicates").map(|n| &n.value),
        Some(Yaml::Bool(true))
    );
    Ok(Meta {
        dependencies: node.get("dependencies").cloned(),
        allow_duplicates,
    })
}

fn meta_ctx(role_path: &Path, ctx: &Ctx) -> Ctx {
    let file = role_path.join("meta").join("main.yml");
    Ctx {
        file: Arc::from(file.display().to_string().as_str()),
        dir: role_path.join("meta"),
        ..ctx.clone()
    }
}
