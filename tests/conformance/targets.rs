//! The catalogue of Ansible integration targets the conformance suite runs, and how.
//!
//! A target runs in one of two shapes, as ansible-test runs it:
//! - [`Shape::Role`]: `tasks/main.yml` targets. ansible-test wraps them in a one-play playbook
//!   (`hosts: testhost`, `gather_facts: true`, `vars: {output_dir}`, `roles: [<target>]`) with
//!   the other targets as the roles path, so `meta/main.yml` dependencies resolve.
//! - [`Shape::Script`]: `runme.sh` targets. The script calls `ansible-playbook` several times
//!   and inspects the console output with grep/diff. We run the listed playbook invocations
//!   (same playbook, inventory, `-e`/`--tags` arguments and expected exit code) and name the
//!   output checks we cannot run in [`Target::not_run`]: they test ansible-playbook's CLI and
//!   console, not the playbook language.
//!
//! Every target carries a time budget: the runner stops a target that overruns it and
//! records a timeout.

use std::time::Duration;

/// Which lab host a target's `testhost` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The unprivileged `hrtest` user over SSH on loopback.
    User,
    /// root over SSH, in a network namespace (`needs/root` targets).
    Root,
}

/// The inventory of one playbook invocation.
#[derive(Debug, Clone, Copy)]
pub enum Inventory {
    /// ansible-test's generated inventory (`../../inventory`): `testhost` is the lab host.
    Generated,
    /// An inventory file shipped in the target directory.
    File(&'static str),
    /// A host list (`-i 'localhost,'`) with the local connection, as `-c local` gives.
    LocalList(&'static str),
    /// No `-i`: Ansible's implicit localhost only.
    Implicit,
}

/// One `ansible-playbook` call of a `runme.sh`.
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    pub playbook: &'static str,
    pub inventory: Inventory,
    /// Further arguments (`-e k=v`, `--tags t`), as in the script.
    pub args: &'static [&'static str],
    /// Whether the script expects the playbook to fail (non-zero exit).
    pub expect_failure: bool,
}

const fn run(playbook: &'static str, inventory: Inventory) -> Invocation {
    Invocation {
        playbook,
        inventory,
        args: &[],
        expect_failure: false,
    }
}

const fn run_args(
    playbook: &'static str,
    inventory: Inventory,
    args: &'static [&'static str],
) -> Invocation {
    Invocation {
        playbook,
        inventory,
        args,
        expect_failure: false,
    }
}

const fn run_failing(playbook: &'static str, inventory: Inventory) -> Invocation {
    Invocation {
        playbook,
        inventory,
        args: &[],
        expect_failure: true,
    }
}

/// How a target is run.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Role,
    Script(&'static [Invocation]),
}

/// One integration target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub shape: Shape,
    pub host: Host,
    /// The issue requires the target to pass whole: the test fails while it does not.
    pub must_pass: bool,
    /// The issue's bar for `file` and `copy`: this share of the tasks run must pass.
    pub min_pass_ratio: Option<f64>,
    /// The target's task count from a static parse of its files (reference §7), for the ratio:
    /// a run stops at the first failure, so the tasks run undercount the target.
    pub planned_tasks: Option<u64>,
    pub budget: Duration,
    /// What of the target this suite does not run, and why (shown in the table).
    pub not_run: &'static str,
}

const SECS: fn(u64) -> Duration = Duration::from_secs;

use Inventory::{File, Generated, Implicit, LocalList};

const ASSERT: &[Invocation] = &[
    run("quiet.yml", LocalList("localhost,")),
    run("nested_tmpl.yml", LocalList("localhost,")),
];

const SET_FACT: &[Invocation] = &[
    run("incremental.yml", File("inventory")),
    run("nowarn_clean_facts.yml", File("inventory")),
    run("set_fact_bool_conv.yml", Implicit),
    run("set_fact_empty_str_key.yml", File("inventory")),
    run("set_fact_auto_unsafe.yml", File("inventory")),
    run("set_fact_ansible_vars.yml", File("inventory")),
];

const DEBUG: &[Invocation] = &[
    run("main.yml", Generated),
    run("main_fqcn.yml", Generated),
    run("nosetfacts.yml", Implicit),
    run("unsafe.yml", Implicit),
];

const BLOCKS: &[Invocation] = &[
    run("main.yml", Generated),
    run("block_fail.yml", Generated),
    run("block_rescue_vars.yml", Implicit),
    run_failing("always_failure_with_rescue_rc.yml", Implicit),
    run_failing("always_no_rescue_rc.yml", Implicit),
    run_failing("always_failure_no_rescue_rc.yml", Implicit),
    run("issue29047.yml", Generated),
    run("block_in_rescue.yml", Generated),
    run("issue71306.yml", LocalList("host1,host2")),
    run("inherit_notify.yml", Implicit),
    run("finalized_task.yml", Implicit),
    run("72781.yml", LocalList("host1,host2")),
    run("78612.yml", LocalList("host1,host2")),
    run("43191.yml", Implicit),
    run("43191-2.yml", Implicit),
    run("79711.yml", Implicit),
];

const HANDLERS: &[Invocation] = &[
    run("test_listening_handlers.yml", File("inventory.handlers")),
    run("test_handlers_listen.yml", File("inventory.handlers")),
    run(
        "test_multiple_handlers_with_recursive_notification.yml",
        File("inventory.handlers"),
    ),
    run("test_handlers_including_task.yml", Generated),
    run("test_role_handlers_including_tasks.yml", Generated),
    run("test_handlers_meta.yml", File("inventory.handlers")),
    run("order.yml", File("inventory.handlers")),
    run("test_skip_flush.yml", File("inventory.handlers")),
    run("test_flush_in_rescue_always.yml", File("inventory.handlers")),
    run("79776.yml", File("inventory.handlers")),
    run("test_include_tasks_in_include_role.yml", Implicit),
    run("test_run_once.yml", File("inventory.handlers")),
    run("82241.yml", File("inventory.handlers")),
    run("handlers_lockstep_82307.yml", File("inventory.handlers")),
    run("handler_notify_earlier_handler.yml", Implicit),
];

const VAR_PRECEDENCE: &[Invocation] = &[run_args(
    "test_var_precedence.yml",
    File("inventory"),
    &["-e", "extra_var=extra_var", "-e", "extra_var_override=extra_var_override"],
)];

const TEMPLATE_NON_NATIVE: &[Invocation] = &[
    run("46169.yml", Implicit),
    run("macro_override.yml", Implicit),
];

/// The targets, in the order of the table.
pub fn all() -> Vec<Target> {
    let role = |name, host, budget: u64| Target {
        name,
        shape: Shape::Role,
        host,
        must_pass: false,
        min_pass_ratio: None,
        planned_tasks: None,
        budget: SECS(budget),
        not_run: "",
    };
    let script = |name, invocations, not_run| Target {
        name,
        shape: Shape::Script(invocations),
        host: Host::User,
        must_pass: false,
        min_pass_ratio: None,
        planned_tasks: None,
        budget: SECS(180),
        not_run,
    };
    let must = |t: Target| Target {
        must_pass: true,
        ..t
    };
    let ratio = |t: Target, planned: u64| Target {
        min_pass_ratio: Some(0.9),
        planned_tasks: Some(planned),
        ..t
    };
    vec![
        must(role("add_host", Host::User, 60)),
        must(script(
            "assert",
            ASSERT,
            "runme.sh diffs of the console output against assert.out.* (ansible-playbook's callback text)",
        )),
        must(role("command_shell", Host::User, 180)),
        ratio(role("file", Host::Root, 420), 334),
        ratio(role("copy", Host::Root, 420), 496),
        must(role("stat", Host::User, 120)),
        must(role("wait_for_connection", Host::User, 120)),
        script(
            "set_fact",
            SET_FACT,
            "fact-cache plugin runs (set_fact_cached_1/2, set_fact_no_cache: jsonfile cache, --flush-cache), \
             ANSIBLE_INJECT_FACT_VARS=0 run, ANSIBLE_JINJA2_NATIVE=1 run, and the runme.sh greps for warnings",
        ),
        script(
            "debug",
            DEBUG,
            "runme.sh greps of the console output for `ok: [localhost] => (item=N)`",
        ),
        role("include_vars", Host::User, 120),
        role("getent", Host::User, 120),
        script(
            "blocks",
            BLOCKS,
            "runme.sh counts of `TEST COMPLETE` against `N plays in` (-vv console), the free/host_pinned \
             strategy reruns, 69848.yml (--tags), 72725.yml, unsafe_failed_task.yml (log grep), nested*_fail.yml \
             (output greps)",
        ),
        script(
            "handlers",
            HANDLERS,
            "42 of runme.sh's 57 ansible-playbook calls: --force-handlers, --tags/-l selections, calls whose \
             only check is a grep of the console or of an ERROR! message; for the calls run, the greps are not run",
        ),
        role("loops", Host::User, 180),
        role("until", Host::User, 120),
        script(
            "var_precedence",
            VAR_PRECEDENCE,
            "ansible-var-precedence-check.py (a Python generator of precedence scenarios run with ansible-playbook)",
        ),
        role("templating", Host::User, 120),
        script(
            "template_jinja2_non_native",
            TEMPLATE_NON_NATIVE,
            "the `pip install Jinja2>=3.1.0` step of runme.sh",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_targets_the_issue_requires_whole_are_marked() {
        let must: Vec<_> = all()
            .into_iter()
            .filter(|t| t.must_pass)
            .map(|t| t.name)
            .collect();
        assert_eq!(
            must,
            [
                "add_host",
                "assert",
                "command_shell",
                "stat",
                "wait_for_connection"
            ]
        );
    }
}
