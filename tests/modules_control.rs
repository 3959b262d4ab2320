//! The control modules: `gather_facts`, `wait_for`, `pause`, `async_status`, `group_by`,
//! `set_stats`, `validate_argument_spec`, `reboot`, `service_facts`, `hostname`,
//! `known_hosts`, `cron` and `sysvinit`, against the lab's systemd VMs over real SSH, and a
//! differential case against ansible-core 2.18 on the python3 VM variant
//! (`differential/cases/vm_control.yml`).
//!
//! Needs root and the lab VM's host commands (and, for the differential case, the Ansible
//! venv): a failure with `CI=true`, a loud skip otherwise.

// Shared with tests/differential.rs; each binary uses a part of it.
#[allow(dead_code)]
#[path = "differential/harness.rs"]
mod harness;

use harness::{check, Case};

/// Ansible's async job ids, results files and timings differ from run to run; `elapsed` is
/// compared (whole seconds: the waits here are far from a second's edge).
const VOLATILE: &[&str] = &["ansible_job_id", "results_file", "erased", "stop"];

#[test]
fn vm_control_modules_match_ansible() {
    let reset = "rm -f /srv/hr-diff/never /srv/hr-diff/gone; rm -rf /root/.ansible_async";
    check(Case::new("vm_control").on_vm(reset).ignore_keys(VOLATILE));
}
