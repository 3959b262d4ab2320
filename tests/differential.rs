//! Differential tests: each playbook under `tests/differential/cases/` is run by ansible-playbook
//! (ansible-core 2.18 from PyPI `ansible` 11.x, the oracle) and by hook-runner against the same
//! targets (localhost and a loopback sshd), and the exit code, the PLAY RECAP and the registered
//! results must be the same. See `differential/harness.rs` for how, and the README for the
//! deliberate differences.
//!
//! Needs root and the Ansible venv (`scripts/test.sh` makes it, or set `HOOK_RUNNER_ANSIBLE`):
//! a failure with `CI=true`, a loud skip otherwise. One case takes a few seconds, most of it
//! ansible-playbook's.

#[path = "differential/harness.rs"]
mod harness;

use harness::{check, Case};

#[test]
fn command_shell() {
    check(Case::new("command_shell"));
}
