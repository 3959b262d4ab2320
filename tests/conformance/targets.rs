//! The catalogue of Ansible integration targets the conformance suite runs, and how.
//!
//! A target runs in one of two shapes, as ansible-test runs it:
//! - [`Shape::Role`]: `tasks/main.yml` targets. ansible-test wraps them in a one-play playbook
//!   (`hosts: testhost`, `gather_facts: true`, `vars: {output_dir}`, `roles: [<target>]`) with
//!   the other targets as the roles path, so `meta/main.yml` dependencies resolve.
//! - [`Shape::Script`]: `runme.sh` targets. The script calls `ansible-playbook` several times
//!   and checks the exit code and/or greps the console output. We run the listed playbook
//!   invocations (same playbook, inventory, `-e` arguments), apply the same exit-code check
//!   ([`Exit`]) and line counts ([`Check`]) to hook-runner's console text, and name what we do
//!   not run in [`Target::not_run`] (CLI options and config we lack, diffs of the whole output).
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
    /// A host list passed as it is (`-i host1,host2`).
    List(&'static str),
    /// No `-i`: Ansible's implicit localhost only.
    Implicit,
}

/// What `runme.sh` checks of a run's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Zero,
    NonZero,
    /// The script pipes the output (`| tee`, no pipefail) or runs under `set +e`: only its
    /// output checks count.
    Unchecked,
}

/// A `runme.sh` check of the console output (`grep -c PATTERN out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// This many lines contain the text.
    Lines(&'static str, usize),
    /// As many lines contain the text as the run had plays (`N plays in`).
    LinesPerPlay(&'static str),
    /// At least one line contains the text (`grep -q`, `grep -o ... | uniq`); an error message
    /// hook-runner ends the run with counts as output.
    Some(&'static str),
}

/// Which of ansible-playbook's output streams a `runme.sh` line's checks read: its console
/// text goes to stdout, its `[WARNING]:` and `ERROR!` lines to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `| tee out`, `> out`, `$(...)`: stdout only.
    Stdout,
    /// `2>&1 | tee out`, `$(... 2>&1)`: stdout and stderr.
    Combined,
}

/// One `ansible-playbook` call of a `runme.sh`.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub playbook: &'static str,
    pub inventory: Inventory,
    /// Further arguments (`-e k=v`, `--tags t`), as in the script.
    pub args: &'static [&'static str],
    pub exit: Exit,
    pub checks: Vec<Check>,
    /// What the checks read, as the script redirects the call.
    pub output: Output,
}

fn run(playbook: &'static str, inventory: Inventory) -> Invocation {
    Invocation {
        playbook,
        inventory,
        args: &[],
        exit: Exit::Zero,
        checks: Vec::new(),
        output: Output::Stdout,
    }
}

impl Invocation {
    fn args(mut self, args: &'static [&'static str]) -> Self {
        self.args = args;
        self
    }

    fn failing(mut self) -> Self {
        self.exit = Exit::NonZero;
        self
    }

    fn unchecked(mut self) -> Self {
        self.exit = Exit::Unchecked;
        self
    }

    /// The script captures stderr too (`2>&1`).
    fn combined(mut self) -> Self {
        self.output = Output::Combined;
        self
    }

    fn lines(mut self, text: &'static str, count: usize) -> Self {
        self.checks.push(Check::Lines(text, count));
        self
    }

    fn some(mut self, text: &'static str) -> Self {
        self.checks.push(Check::Some(text));
        self
    }

    fn lines_per_play(mut self, text: &'static str) -> Self {
        self.checks.push(Check::LinesPerPlay(text));
        self
    }
}

/// How a target is run.
#[derive(Debug, Clone)]
pub enum Shape {
    Role,
    Script(Vec<Invocation>),
}

/// One integration target.
#[derive(Debug, Clone)]
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

use Inventory::{File, Generated, Implicit, List, LocalList};

/// runme.sh's verbosity flags: console greps depend on them.
const V: &[&str] = &["-v"];
const VV: &[&str] = &["-vv"];

fn assert_runs() -> Vec<Invocation> {
    vec![
        run("quiet.yml", LocalList("localhost,")),
        run("nested_tmpl.yml", LocalList("localhost,")),
    ]
}

fn set_fact_runs() -> Vec<Invocation> {
    vec![
        run("incremental.yml", File("inventory")),
        run("nowarn_clean_facts.yml", File("inventory"))
            .unchecked()
            .lines(
                "Removed restricted key from module data: ansible_ssh_common_args",
                0,
            ),
        run("set_fact_bool_conv.yml", Implicit),
        run("set_fact_empty_str_key.yml", File("inventory")),
        run("set_fact_auto_unsafe.yml", File("inventory")),
        run("set_fact_ansible_vars.yml", File("inventory"))
            .combined()
            .unchecked()
            .lines("is reserved for internal use only.", 1),
    ]
}

fn debug_runs() -> Vec<Invocation> {
    let items = |inv: Invocation| {
        inv.lines("ok: [localhost] => (item=1)", 1)
            .lines("ok: [localhost] => (item=2)", 1)
            .lines("ok: [localhost] => (item=3)", 1)
            .lines("\"item\": 1", 1)
            .lines("\"item\": 2", 1)
            .lines("\"item\": 3", 1)
    };
    vec![
        items(run("main.yml", Generated).unchecked()),
        items(run("main_fqcn.yml", Generated).unchecked()),
        run("nosetfacts.yml", Implicit),
        run("unsafe.yml", Implicit),
    ]
}

fn blocks_runs() -> Vec<Invocation> {
    vec![
        run("main.yml", Generated)
            .args(VV)
            .unchecked()
            .lines_per_play("TEST COMPLETE"),
        run("block_fail.yml", Generated)
            .args(VV)
            .unchecked()
            .lines_per_play("TEST COMPLETE"),
        run("block_rescue_vars.yml", Implicit).args(VV),
        run("always_failure_with_rescue_rc.yml", Implicit)
            .args(VV)
            .failing()
            .lines("Failure in block", 1)
            .lines("Rescue", 1)
            .lines("Failure in always", 1)
            .lines("DID NOT RUN", 0),
        run("always_no_rescue_rc.yml", Implicit)
            .args(VV)
            .failing()
            .lines("Failure in block", 1)
            .lines("Always", 1)
            .lines("DID NOT RUN", 0),
        run("always_failure_no_rescue_rc.yml", Implicit)
            .args(VV)
            .failing()
            .lines("Failure in block", 1)
            .lines("Failure in always", 1)
            .lines("DID NOT RUN", 0),
        run("issue29047.yml", Generated).args(VV),
        run("block_in_rescue.yml", Generated)
            .args(VV)
            .lines("rescued=3", 1)
            .lines("failed=0", 1),
        run("issue71306.yml", List("host1,host2")),
        run("69848.yml", List("host1,host2"))
            .args(&["--tags", "foo", "-vv"])
            .lines("Tagged task", 2)
            .lines("Not tagged task", 0),
        run("inherit_notify.yml", Implicit),
        run("unsafe_failed_task.yml", Implicit),
        run("finalized_task.yml", Implicit),
        run("72725.yml", List("host1,host2")).args(VV),
        run("72781.yml", List("host1,host2"))
            .args(VV)
            .unchecked()
            .lines("SHOULD NOT HAPPEN", 0),
        run("78612.yml", List("host1,host2"))
            .args(VV)
            .unchecked()
            .lines("PASSED", 1),
        run("43191.yml", Implicit).args(VV),
        run("43191-2.yml", Implicit).args(VV),
        run("79711.yml", Implicit)
            .args(VV)
            .unchecked()
            .lines("ok=5", 1)
            .lines("failed=1", 1)
            .lines("rescued=1", 1),
    ]
}

fn handlers_runs() -> Vec<Invocation> {
    let inv = File("inventory.handlers");
    // Each `2>&1 | tee out.txt` then `grep out.txt -e "ERROR! ..."`.
    let error_run =
        |playbook, message| run(playbook, Implicit).combined().unchecked().some(message);
    vec![
        run("test_handlers.yml", inv).args(&["-v", "--tags", "scenario1"]),
        run("from_handlers.yml", inv).args(&["-v", "--tags", "scenario1"]),
        run("test_listening_handlers.yml", inv).args(V),
        run("test_handlers.yml", inv)
            .args(&["-v", "--tags", "scenario2", "-l", "A"])
            .unchecked()
            .lines("RUNNING HANDLER [test_handlers : test handler]", 1),
        run("test_force_handlers.yml", inv)
            .args(&["-v", "--tags", "normal"])
            .unchecked()
            .lines("CALLED_HANDLER_A", 0)
            .some("CALLED_HANDLER_B"),
        run("test_force_handlers.yml", inv)
            .args(&["-v", "--tags", "force_true_in_play"])
            .unchecked()
            .some("CALLED_HANDLER_A")
            .some("CALLED_HANDLER_B"),
        run("test_handlers_include.yml", Generated)
            .args(&["-v", "--tags", "playbook_include_handlers"])
            .unchecked()
            .lines("RUNNING HANDLER [test handler]", 1),
        run("test_handlers_include.yml", Generated)
            .args(&["-v", "--tags", "role_include_handlers"])
            .unchecked()
            .lines("RUNNING HANDLER [test_handlers_include : test handler]", 1),
        run("test_handlers_include_role.yml", Generated)
            .args(V)
            .unchecked()
            .lines(
                "RUNNING HANDLER [test_handlers_include_role : test handler]",
                1,
            ),
        run("test_handlers_listen.yml", inv).args(V),
        run(
            "test_multiple_handlers_with_recursive_notification.yml",
            inv,
        )
        .args(V),
        run("test_handlers_inexistent_notify.yml", inv).combined()
            .unchecked()
            .some(
            "ERROR! The requested handler 'notify_inexistent_handler' was not found in either the \
             main handlers list nor in the listening handlers list",
        ),
        run("test_handlers_including_task.yml", Generated)
            .args(V)
            .unchecked()
            .lines("failed=0", 1),
        run("test_role_handlers_including_tasks.yml", Generated).args(V),
        run("test_handlers_template_run_once.yml", inv).combined()
            .unchecked()
            .some("handler A")
            .some("handler B"),
        run("58841.yml", Implicit)
            .args(&["--tags", "lazy_evaluation"])
            .combined()
            .unchecked()
            .some("[WARNING]: Handler 'handler name with {{ test_var }}' is unusable")
            .lines("handler ran", 1)
            .lines("handler with var ran", 0),
        run("58841.yml", Implicit)
            .args(&["--tags", "evaluation_time", "-e", "test_var=myvar"])
            .unchecked()
            .lines("handler ran", 0)
            .lines("handler with var ran", 1),
        error_run(
            "test_role_as_handler.yml",
            "Using 'include_role' as a handler is not supported.",
        ),
        run("test_notify_included.yml", Implicit).combined()
            .unchecked()
            .lines("I was included", 1)
            .some(
                "ERROR! The requested handler 'handler_from_include' was not found in either the \
                 main handlers list nor in the listening handlers list",
            ),
        run("test_handlers_meta.yml", inv)
            .args(VV)
            .unchecked()
            .lines("RUNNING HANDLER [noop_handler]", 1)
            .lines("META: noop", 1),
        run("46447.yml", inv).combined()
            .unchecked()
            .lines("SHOULD NOT GET HERE", 0),
        run("52561.yml", inv).combined().unchecked().lines("handler1 ran", 1),
        run("54991.yml", inv).combined().unchecked().lines("handler ran", 4),
        run("order.yml", inv).combined(),
        run("test_flush_handlers_as_handler.yml", inv).combined()
            .unchecked()
            .some("ERROR! flush_handlers cannot be used as a handler"),
        run("test_skip_flush.yml", inv).combined()
            .unchecked()
            .lines("handler ran", 0),
        run("test_flush_in_rescue_always.yml", inv).combined()
            .unchecked()
            .lines("handler ran in rescue", 1)
            .lines("handler ran in always", 2)
            .lines("lockstep works", 2),
        run("test_handlers_infinite_loop.yml", inv).combined(),
        run("test_flush_handlers_rescue_always.yml", inv).combined()
            .unchecked()
            .lines("rescue ran", 1)
            .lines("always ran", 2)
            .lines("should run for both hosts", 2),
        run("test_fqcn_meta_flush_handlers.yml", inv).combined()
            .unchecked()
            .some("handler ran")
            .some("after flush"),
        run("79776.yml", inv),
        error_run(
            "test_block_as_handler.yml",
            "Using a block as a handler is not supported.",
        ),
        error_run(
            "test_block_as_handler-include.yml",
            "Using a block as a handler is not supported.",
        ),
        error_run(
            "test_block_as_handler-import.yml",
            "Using a block as a handler is not supported.",
        ),
        run("test_include_role_handler_once.yml", inv).combined()
            .unchecked()
            .lines("handler ran", 1),
        run("test_listen_role_dedup.yml", Implicit).combined()
            .unchecked()
            .lines("a handler from a role", 1),
        run("test_include_tasks_in_include_role.yml", Implicit).combined()
            .unchecked()
            .lines("handler ran", 1),
        run("test_run_once.yml", inv).combined()
            .unchecked()
            .lines("handler ran once", 1),
        run("force_handlers_blocks_81533-1.yml", inv).combined()
            .unchecked()
            .lines("task1", 1)
            .lines("task2", 1)
            .lines("hosts_left", 1),
        run("force_handlers_blocks_81533-2.yml", inv).combined()
            .unchecked()
            .lines("hosts_left", 1),
        run("nested_flush_handlers_failure_force.yml", inv).combined()
            .unchecked()
            .lines("flush_handlers_rescued", 1)
            .lines("flush_handlers_always", 2),
        run("82241.yml", inv).combined()
            .unchecked()
            .lines("included_task_from_tasks_dir", 1),
        run("handlers_lockstep_82307.yml", inv).combined()
            .unchecked()
            .lines("TASK [handler2]", 0),
        run("handlers_lockstep_83019.yml", inv).combined()
            .unchecked()
            .lines("TASK [handler1]", 0),
        run("handler_notify_earlier_handler.yml", Implicit).combined()
            .unchecked()
            .lines("h1_ran", 1)
            .lines("h2_ran", 1)
            .lines("h3_ran", 1)
            .lines("h4_ran", 1),
    ]
}

fn var_precedence_runs() -> Vec<Invocation> {
    vec![run("test_var_precedence.yml", File("inventory")).args(&[
        "-v",
        "-e",
        "extra_var=extra_var",
        "-e",
        "extra_var_override=extra_var_override",
    ])]
}

fn template_non_native_runs() -> Vec<Invocation> {
    vec![
        run("46169.yml", Implicit).args(V),
        run("macro_override.yml", Implicit).args(V),
    ]
}

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
    let script = |name, invocations: Vec<Invocation>, not_run| Target {
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
            assert_runs(),
            "runme.sh diffs of the console output against assert.out.* (ansible-playbook's callback text)",
        )),
        must(role("command_shell", Host::User, 180)),
        ratio(role("file", Host::Root, 420), 334),
        ratio(role("copy", Host::Root, 420), 496),
        must(role("stat", Host::User, 120)),
        must(role("wait_for_connection", Host::User, 120)),
        role("wait_for", Host::Root, 300),
        role("known_hosts", Host::User, 180),
        script(
            "group_by",
            vec![
                run("test_group_by.yml", File("inventory.group_by")).args(&["-v"]),
                run("test_group_by_skipped.yml", File("inventory.group_by")).args(&["-v"]),
            ],
            "ANSIBLE_HOST_PATTERN_MISMATCH=warning (Ansible's default, so not set)",
        ),
        script(
            "set_stats",
            vec![run("test_simple.yml", Generated)],
            "test_aggregate.yml, whose check reads the CUSTOM STATS console section \
             (ANSIBLE_SHOW_CUSTOM_STATS), which hook-runner does not print",
        ),
        script(
            "set_fact",
            set_fact_runs(),
            "fact-cache plugin runs (set_fact_cached_1/2, set_fact_no_cache: jsonfile cache, --flush-cache), \
             ANSIBLE_INJECT_FACT_VARS=0 run, ANSIBLE_JINJA2_NATIVE=1 run",
        ),
        script(
            "debug",
            debug_runs(),
            "",
        ),
        role("include_vars", Host::User, 120),
        role("getent", Host::User, 120),
        script(
            "blocks",
            blocks_runs(),
            "the free/host_pinned strategy reruns of main.yml (hook-runner has only the linear strategy); \
             the runs here get runme.sh's exit-code and grep checks, on hook-runner's console text",
        ),
        script(
            "handlers",
            handlers_runs(),
            "the runme.sh calls that need --force-handlers, ANSIBLE_FORCE_HANDLERS, ANSIBLE_STRATEGY=free, \
             ANSIBLE_ERROR_ON_MISSING_HANDLER=false (config hook-runner does not read), 80880.yml (-vv output only), \
             test_handlers_any_errors_fatal.yml (checks a file on the controller), the 58841.yml undefined-variable \
             ERROR run, include_handlers_fail_force.yml, order.yml with --force-handlers, and the `ansible localhost -m \
             include_role` call; the runs here get runme.sh's exit-code and grep checks, on hook-runner's console text",
        ),
        role("loops", Host::User, 180),
        role("until", Host::User, 120),
        script(
            "var_precedence",
            var_precedence_runs(),
            "ansible-var-precedence-check.py (a Python generator of precedence scenarios run with ansible-playbook)",
        ),
        role("templating", Host::User, 120),
        script(
            "template_jinja2_non_native",
            template_non_native_runs(),
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
