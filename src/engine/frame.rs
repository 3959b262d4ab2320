//! What a task inherits from the play, blocks, roles and includes around it.
//!
//! Keywords (`become`, `ignore_errors`, `no_log`, ...) are inherited downwards, the innermost
//! setting winning; `when` conditions accumulate (a block's `when` is checked for each of its
//! tasks); tags accumulate; `environment` maps merge (inner keys win); block vars stack.

use crate::playbook::{Keywords, RoleUse, Task};
use crate::Map;
use std::sync::Arc;

/// The inherited context of a task.
#[derive(Debug, Clone, Default)]
pub(crate) struct Frame {
    pub kw: Keywords,
    pub block_vars: Vec<Map>,
    pub roles: Vec<Arc<RoleUse>>,
    pub include_params: Vec<Map>,
    /// Inside the `block` section of a block that has a `rescue` section: a failure here is
    /// rescued, not final.
    pub rescuable: bool,
    pub is_handler: bool,
}

/// `child` over `parent` for every keyword; `when`, tags and environment accumulate.
pub(crate) fn merge_keywords(parent: &Keywords, child: &Keywords) -> Keywords {
    fn pick(p: &Option<crate::Value>, c: &Option<crate::Value>) -> Option<crate::Value> {
        c.clone().or_else(|| p.clone())
    }
    let mut tags = parent.tags.clone();
    for t in &child.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let mut when = parent.when.clone();
    when.extend(child.when.iter().cloned());
    // Kept aligned with `when` (a parent's conditions may have no recorded place).
    let mut when_locs = parent.when_locs.clone();
    when_locs.resize(parent.when.len(), None);
    when_locs.extend(child.when_locs.iter().cloned());
    let mut environment = parent.environment.clone();
    environment.extend(child.environment.iter().cloned());
    let mut not_implemented = parent.not_implemented.clone();
    for k in &child.not_implemented {
        if !not_implemented.contains(k) {
            not_implemented.push(k.clone());
        }
    }
    Keywords {
        become_: pick(&parent.become_, &child.become_),
        become_user: pick(&parent.become_user, &child.become_user),
        become_method: pick(&parent.become_method, &child.become_method),
        become_flags: pick(&parent.become_flags, &child.become_flags),
        environment,
        any_errors_fatal: pick(&parent.any_errors_fatal, &child.any_errors_fatal),
        ignore_errors: pick(&parent.ignore_errors, &child.ignore_errors),
        ignore_unreachable: pick(&parent.ignore_unreachable, &child.ignore_unreachable),
        check_mode: pick(&parent.check_mode, &child.check_mode),
        diff: pick(&parent.diff, &child.diff),
        no_log: pick(&parent.no_log, &child.no_log),
        timeout: pick(&parent.timeout, &child.timeout),
        run_once: pick(&parent.run_once, &child.run_once),
        delegate_to: pick(&parent.delegate_to, &child.delegate_to),
        delegate_facts: pick(&parent.delegate_facts, &child.delegate_facts),
        connection: pick(&parent.connection, &child.connection),
        remote_user: pick(&parent.remote_user, &child.remote_user),
        port: pick(&parent.port, &child.port),
        tags,
        when,
        when_locs,
        throttle: pick(&parent.throttle, &child.throttle),
        not_implemented,
        notify: if child.notify.is_empty() {
            parent.notify.clone()
        } else {
            child.notify.clone()
        },
        // Vars are layered separately (block vars vs task vars have their own precedence).
        vars: Map::new(),
    }
}

impl Frame {
    /// The play's frame.
    pub fn for_play(kw: &Keywords) -> Frame {
        Frame {
            kw: Keywords {
                vars: Map::new(),
                ..kw.clone()
            },
            ..Frame::default()
        }
    }

    /// Entering a block (or role/import block).
    pub fn enter_block(&self, kw: &Keywords, role: Option<&Arc<RoleUse>>) -> Frame {
        let mut f = self.clone();
        f.kw = merge_keywords(&self.kw, kw);
        if !kw.vars.is_empty() {
            f.block_vars.push(kw.vars.clone());
        }
        if let Some(r) = role {
            f.roles.push(r.clone());
        }
        f
    }

    /// The keywords in force for a task in this frame.
    pub fn task_keywords(&self, task: &Task) -> Keywords {
        merge_keywords(&self.kw, &task.kw)
    }
}
