//! The typed playbook model, loaded from [`crate::yaml::Node`]s and validated whole before
//! anything runs.
//!
//! Semantics (Ansible's playbook keywords:
//! <https://docs.ansible.com/ansible/latest/reference_appendices/playbooks_keywords.html>):
//! - A playbook is a list of plays; `import_playbook` entries are replaced by the imported
//!   plays at load time (their directory becomes the plays' base directory).
//! - A play has `hosts` (required), `vars`, `vars_files`, `roles`, `pre_tasks`/`tasks`/
//!   `post_tasks`/`handlers` and the inheritable task keywords ([`Keywords`]). An unknown key
//!   is an error: `'foo' is not a valid attribute for a Play`.
//! - A task is one module (action) plus keywords. Any key that is not a task keyword is taken
//!   as the module's name, as Ansible does, so a misspelt keyword reads as an unknown module:
//!   `couldn't resolve module/action 'x'`. Two modules give `conflicting action statements`,
//!   none gives `no module/action detected in task.`.
//! - Module arguments: a dict, a `k=v` string ([`kv::parse_kv`]; for `command`/`shell` only the
//!   few documented options are split off, the rest is `_raw_params`), free-form text, plus the
//!   `args:` keyword merged in. Parameter names are checked against the module's spec here, on
//!   the untemplated values; types are checked at run time after templating.
//! - `import_tasks`/`import_role` are expanded at load time into a block carrying the import's
//!   keywords; `include_tasks`/`include_role` stay tasks and are expanded per host at run time.
//! - Roles live in `<playbook_dir>/roles/<name>` or `<playbook_dir>/<name>` with `tasks/`,
//!   `handlers/`, `defaults/`, `vars/`, `meta/` (dependencies), `files/`, `templates/`.
//!
//! Every task keeps its file, line and column; every load error is located
//! ([`LoadError`] prints `file:line:col: message` and Ansible's "The error appears to be in").

mod args;
pub mod kv;
mod load;
mod role;
mod task;
pub mod unimplemented;

pub use load::{load_playbook, load_playbook_in, load_task_file, load_task_file_as};
pub use role::{find_role, load_role};
pub use task::is_task_keyword;

use crate::yaml::Mark;
use crate::{Map, Value};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a playbook or task file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
}

impl Loc {
    pub fn new(file: &Arc<str>, mark: Mark) -> Loc {
        Loc {
            file: file.clone(),
            line: mark.line,
            col: mark.col,
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A playbook that could not be loaded, with where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub loc: Loc,
    pub message: String,
}

impl LoadError {
    pub fn new(loc: Loc, message: impl Into<String>) -> LoadError {
        LoadError {
            loc,
            message: message.into(),
        }
    }

    /// Ansible's pointer paragraph ("The error appears to be in ..."), with the line before
    /// and the offending line when the file can be read, as Ansible prints them.
    pub fn ansible_context(&self) -> String {
        let mut text = format!(
            "The error appears to be in '{}': line {}, column {}, but may\nbe elsewhere in the file depending on the exact syntax problem.",
            self.loc.file, self.loc.line, self.loc.col
        );
        let source = std::fs::read_to_string(&*self.loc.file).ok();
        let lines: Vec<&str> = source
            .as_deref()
            .map(|t| t.lines().collect())
            .unwrap_or_default();
        if let Some(line) = self.loc.line.checked_sub(1).and_then(|i| lines.get(i)) {
            let prev = self
                .loc
                .line
                .checked_sub(2)
                .and_then(|i| lines.get(i))
                .copied()
                .unwrap_or("");
            let caret = " ".repeat(self.loc.col.saturating_sub(1));
            text.push_str(&format!(
                "\n\nThe offending line appears to be:\n\n{}\n{}\n{caret}^ here",
                prev.trim_end(),
                line.trim_end()
            ));
        }
        text
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc, self.message)?;
        if self.loc.line > 0 {
            write!(f, "\n\n{}", self.ansible_context())?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

impl From<crate::yaml::YamlError> for LoadError {
    fn from(e: crate::yaml::YamlError) -> LoadError {
        LoadError {
            loc: Loc {
                file: Arc::from(e.file.as_str()),
                line: e.mark.line,
                col: e.mark.col,
            },
            message: e.message,
        }
    }
}

/// A loaded playbook: its plays in order.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    /// The playbook's directory (`playbook_dir`).
    pub dir: PathBuf,
    pub plays: Vec<Arc<Play>>,
}

/// Keywords a play, block or task may carry and its children inherit. Values stay untemplated
/// (`become: "{{ x }}"` is legal); the engine templates them per host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keywords {
    pub become_: Option<Value>,
    pub become_user: Option<Value>,
    pub become_method: Option<Value>,
    pub become_flags: Option<Value>,
    pub environment: Vec<Value>,
    pub any_errors_fatal: Option<Value>,
    pub ignore_errors: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub no_log: Option<Value>,
    pub timeout: Option<Value>,
    pub run_once: Option<Value>,
    pub delegate_to: Option<Value>,
    pub delegate_facts: Option<Value>,
    pub connection: Option<Value>,
    pub remote_user: Option<Value>,
    pub port: Option<Value>,
    /// Tags as written (strings), inherited as a union.
    pub tags: Vec<String>,
    /// `when` conditions; a child adds its own (all must hold).
    pub when: Vec<Value>,
    /// Where each `when` condition is written (same order as `when`; `None` or missing when
    /// unknown): a condition that cannot be evaluated is reported there, as Ansible does.
    pub when_locs: Vec<Option<Loc>>,
    /// `notify` set on a block: its tasks notify these unless they name their own.
    pub notify: Vec<String>,
    /// `throttle`: at most this many hosts run the task at once (below `forks`).
    pub throttle: Option<Value>,
    /// Keywords written here or above that hook-runner does not implement (`module_defaults`,
    /// `debugger`, `become_exe`, `collections` naming collections it does not know), as they
    /// are named in the warning each task that inherits them gives when it runs.
    pub not_implemented: Vec<String>,
    pub vars: Map,
}

/// A play.
#[derive(Debug, Clone)]
pub struct Play {
    pub name: String,
    /// `hosts` as written: a pattern string or a list of them (templated at run time).
    pub hosts: Value,
    pub loc: Loc,
    /// The directory that relative `vars_files` and `include_*` paths start from.
    pub dir: PathBuf,
    pub gather_facts: Option<Value>,
    pub vars_files: Vec<Value>,
    pub serial: Option<Value>,
    pub max_fail_percentage: Option<Value>,
    pub force_handlers: bool,
    /// `strategy` as written (only `linear` is implemented).
    pub strategy: Option<String>,
    /// Play keys given but not implemented by hook-runner (`vars_prompt`, `order`,
    /// `gather_subset`...): the engine warns about them when the play starts.
    pub ignored_keys: Vec<String>,
    pub kw: Keywords,
    pub pre_tasks: Vec<Item>,
    /// `roles:` expanded (dependencies first, each role once), run before `tasks`.
    pub roles: Vec<Item>,
    pub tasks: Vec<Item>,
    pub post_tasks: Vec<Item>,
    /// Play handlers, then the handlers of its roles, in definition order.
    pub handlers: Vec<Arc<Task>>,
}

/// One entry of a task list.
#[derive(Debug, Clone)]
pub enum Item {
    Task(Arc<Task>),
    Block(Arc<Block>),
}

/// `block`/`rescue`/`always` with the keywords its tasks inherit. Imports and roles are blocks
/// too (with only `block`).
#[derive(Debug, Clone, Default)]
pub struct Block {
    pub name: Option<String>,
    pub loc: Loc,
    pub block: Vec<Item>,
    pub rescue: Vec<Item>,
    pub always: Vec<Item>,
    pub kw: Keywords,
    /// Set on the block that holds a role's tasks.
    pub role: Option<Arc<RoleUse>>,
}

/// A role as used: the loaded role and the parameters it was called with.
#[derive(Debug, Clone)]
pub struct RoleUse {
    pub role: Arc<Role>,
    /// Role parameters (precedence 20).
    pub params: Map,
}

/// A loaded role's identity and variables (its tasks sit in the block that uses it).
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub path: PathBuf,
    /// `defaults/main.yml` (lowest precedence).
    pub defaults: Map,
    /// `vars/main.yml` (above play vars).
    pub vars: Map,
}

/// Where a loop's items come from.
#[derive(Debug, Clone, PartialEq)]
pub enum LoopSource {
    /// `loop:` (the value must template to a list).
    Loop(Value),
    /// `with_<lookup>:` with the lookup's name (`items`, `list`, `dict`, `indexed_items`,
    /// `together`, `sequence`, `fileglob`...).
    With(String, Value),
}

/// What a task does.
#[derive(Clone)]
pub enum Action {
    /// A module with its (untemplated) arguments.
    Module {
        module: &'static dyn crate::modules::Module,
        args: Map,
    },
    /// `meta: flush_handlers` and friends.
    Meta(String),
    /// `include_tasks: FILE` (dynamic): the file name (templated per host) and extra params.
    IncludeTasks {
        file: Value,
        params: Map,
        apply: Map,
    },
    /// `include_role` (dynamic): the role name, `tasks_from`, and params.
    IncludeRole {
        name: Value,
        tasks_from: Option<String>,
        params: Map,
        /// The role's tasks, loaded up front when the name is not templated.
        preloaded: Option<(Arc<Role>, Vec<Item>)>,
    },
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Module { module, args } => f
                .debug_struct("Module")
                .field("module", &module.fqcn())
                .field("args", args)
                .finish(),
            Action::Meta(m) => f.debug_tuple("Meta").field(m).finish(),
            Action::IncludeTasks {
                file,
                params,
                apply,
            } => f
                .debug_struct("IncludeTasks")
                .field("file", file)
                .field("params", params)
                .field("apply", apply)
                .finish(),
            Action::IncludeRole {
                name,
                tasks_from,
                params,
                ..
            } => f
                .debug_struct("IncludeRole")
                .field("name", name)
                .field("tasks_from", tasks_from)
                .field("params", params)
                .finish(),
        }
    }
}

/// A task.
#[derive(Debug, Clone)]
pub struct Task {
    pub name: Option<String>,
    pub loc: Loc,
    /// The action's name as written (`ansible.builtin.copy`, `meta`, `include_tasks`).
    pub action_name: String,
    pub action: Action,
    pub kw: Keywords,
    pub register: Option<String>,
    pub loop_: Option<LoopSource>,
    pub loop_control: Option<Value>,
    pub until: Vec<Value>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
    pub changed_when: Option<Vec<Value>>,
    pub failed_when: Option<Vec<Value>>,
    pub notify: Vec<String>,
    /// `async:` and `poll:` as written (templated when the task runs; see `engine::async_task`).
    pub async_: Option<Value>,
    pub poll: Option<Value>,
    /// Handlers only: the topics it listens to.
    pub listen: Vec<String>,
    /// The role this task belongs to (for the `role : name` prefix, `role_path`, and the
    /// role's defaults and vars for handlers).
    pub role: Option<Arc<Role>>,
    /// Directory of the file the task came from (include_tasks paths are relative to it).
    pub dir: PathBuf,
}

impl Task {
    /// The task name as Ansible prints it: `name`, else the action, with a `role : ` prefix.
    pub fn display_name(&self) -> String {
        let base = match &self.name {
            Some(n) if !n.trim().is_empty() => n.clone(),
            _ => self.action_name.clone(),
        };
        match &self.role {
            Some(r) => format!("{} : {}", r.name, base),
            None => base,
        }
    }

    /// The module's short name when the task runs a module.
    pub fn module_name(&self) -> Option<&'static str> {
        self.module().map(|m| m.name())
    }

    /// The module the task runs, if it runs one.
    pub fn module(&self) -> Option<&'static dyn crate::modules::Module> {
        match &self.action {
            Action::Module { module, .. } => Some(*module),
            _ => None,
        }
    }
}

/// Calls `f` on every task reachable from `items` (blocks walked, includes not followed).
pub fn walk_tasks<'a>(items: &'a [Item], f: &mut dyn FnMut(&'a Arc<Task>)) {
    for item in items {
        match item {
            Item::Task(t) => f(t),
            Item::Block(b) => {
                walk_tasks(&b.block, f);
                walk_tasks(&b.rescue, f);
                walk_tasks(&b.always, f);
            }
        }
    }
}

/// The directory of a file path (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests;
