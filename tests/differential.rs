//! Differential tests: each playbook under `tests/differential/cases/` is run by ansible-playbook
//! (ansible-core 2.18 from PyPI `ansible` 11.x, the oracle) and by hook-runner against the same
//! targets (localhost and a loopback sshd), and the exit code, the PLAY RECAP and the registered
//! results must be the same. See `differential/harness.rs` for how, and the README for the
//! deliberate differences.
//!
//! Needs root and the Ansible venv (`scripts/test.sh` makes it, or set `HOOK_RUNNER_ANSIBLE`):
//! a failure with `CI=true`, a loud skip otherwise. A case takes 5-15 s, nearly all of it
//! ansible-playbook's. `service`/`systemd` are not here: they need a systemd target, and the
//! lab's systemd VMs have no Python for Ansible (a VM variant with python3 would allow it).

#[path = "differential/harness.rs"]
mod harness;

use harness::{check, Case};

#[test]
fn command_shell() {
    check(Case::new("command_shell"));
}

#[test]
fn file() {
    check(Case::new("file"));
}

#[test]
fn copy() {
    check(Case::new("copy"));
}

#[test]
fn stat() {
    check(Case::new("stat"));
}

#[test]
fn set_fact_debug_assert_fail() {
    check(Case::new("set_fact_debug_assert_fail"));
}

#[test]
fn loops() {
    check(Case::new("loops"));
}

#[test]
fn conditionals() {
    check(Case::new("conditionals"));
}

#[test]
fn until_retries() {
    check(Case::new("until_retries"));
}

#[test]
fn blocks() {
    check(Case::new("blocks"));
}

#[test]
fn handlers() {
    check(Case::new("handlers"));
}

#[test]
fn includes() {
    check(Case::new("includes"));
}

#[test]
fn roles() {
    check(Case::new("roles"));
}

#[test]
fn add_host_hostvars() {
    check(Case::new("add_host_hostvars"));
}

#[test]
fn getent() {
    check(Case::new("getent"));
}

#[test]
fn variable_precedence() {
    check(
        Case::new("variable_precedence")
            .inventory("[all:vars]\nv1=inventory all\nv2=inventory all\n\n[targets:vars]\nv1=inventory group\nv2=inventory group\n")
            .host_vars("v2='inventory host' v3='inventory host'")
            .args(&["-e", "v8=extra", "-e", "{\"extra_number\": 7}"]),
    );
}

#[test]
fn tags() {
    check(Case::new("tags").args(&["--tags", "selected"]));
}

#[test]
fn check_mode() {
    check(Case::new("check_mode").args(&["--check"]));
}

#[test]
fn failing_task() {
    check(Case::new("failing_task").expect_exit(2));
}

#[test]
fn unreachable() {
    check(Case::new("unreachable").with_dead_host().expect_exit(4));
}
