//! Differential tests on a systemd VM: `service`, `systemd`/`systemd_service` and `become`
//! (sudo and su, `become_user`), the same playbook run by ansible-playbook (ansible-core 2.18,
//! the oracle) and by hook-runner against the same VM of the lab's python3 variant, comparing
//! the exit code, the PLAY RECAP and the registered results. See `differential/harness.rs`
//! ([`Case::on_vm`]) for how, and `differential/README.md` for the deliberate differences.
//!
//! Each case boots its own VM (about 1 s; the python3 rootfs is built once, about 5 s from the
//! base rootfs) and resets it before each tool's run with its setup script, run as root.
//!
//! Needs root, the lab VM's host commands and the Ansible venv (`scripts/test.sh` makes it, or
//! set `HOOK_RUNNER_ANSIBLE`): a failure with `CI=true`, a loud skip otherwise.

// Shared with tests/differential.rs; each binary uses a part of it.
use crate::harness;

use harness::{check, Case};

/// `hr-diff.service`: a harmless unit (a sleep that reloads with `true`), left stopped and
/// disabled; the other units the cases write stopped and removed; MariaDB unmasked, enabled and
/// running, as the VM boots.
const RESET_SERVICES: &str = r#"
cat > /etc/systemd/system/hr-diff.service <<'UNIT'
[Unit]
Description=hook-runner differential test service
[Service]
ExecStart=/bin/sleep infinity
ExecReload=/bin/true
[Install]
WantedBy=multi-user.target
UNIT
for unit in hr-diff2 hr-noreload hr-failstart; do
    systemctl stop $unit.service 2>/dev/null || true
    systemctl disable $unit.service 2>/dev/null || true
    rm -f /etc/systemd/system/$unit.service
done
if [ -e /etc/init.d/hr-sysv ]; then
    systemctl stop hr-sysv.service 2>/dev/null || true
    update-rc.d -f hr-sysv remove >/dev/null 2>&1 || true
    rm -f /etc/init.d/hr-sysv /run/hr-sysv.running
fi
systemctl daemon-reload
systemctl stop hr-diff.service
systemctl disable hr-diff.service 2>/dev/null
systemctl reset-failed 2>/dev/null || true
systemctl unmask mariadb.service 2>/dev/null
systemctl enable mariadb.service 2>/dev/null
systemctl restart mariadb.service
"#;

/// The second unprivileged user (`hrother`, shell `/bin/sh`) and no files of earlier runs.
const RESET_USERS: &str = r#"
id hrother >/dev/null 2>&1 || useradd -m -s /bin/sh hrother
rm -f /etc/hr-diff.conf /etc/hr-diff-denied.conf /tmp/hr-diff-by-sudo
systemctl unmask mariadb.service 2>/dev/null
systemctl restart mariadb.service
"#;

/// The `systemctl show` properties compared: stable across runs (no pids, times, ids).
const STATUS_KEYS: &[&str] = &[
    "Id",
    "Description",
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "CanReload",
];

fn service_case(name: &str) -> Case {
    Case::new(name)
        .on_vm(RESET_SERVICES)
        .status_keys(STATUS_KEYS)
}

#[test]
fn vm_service_states() {
    check(service_case("vm_service_states"));
}

#[test]
fn vm_service_enabled() {
    check(service_case("vm_service_enabled"));
}

#[test]
fn vm_service_missing() {
    check(service_case("vm_service_missing").expect_exit(2));
}

#[test]
fn vm_systemd_daemon_reload() {
    check(service_case("vm_systemd_daemon_reload"));
}

#[test]
fn vm_service_check_mode() {
    check(service_case("vm_service_check_mode").args(&["--check"]));
}

#[test]
fn vm_service_errors() {
    check(service_case("vm_service_errors"));
}

#[test]
fn vm_service_sysv() {
    check(service_case("vm_service_sysv"));
}

#[test]
fn vm_become_sudo() {
    check(
        Case::new("vm_become_sudo")
            .on_vm(RESET_USERS)
            .status_keys(STATUS_KEYS),
    );
}

#[test]
fn vm_become_more() {
    check(Case::new("vm_become_more").on_vm(RESET_USERS));
}

#[test]
fn vm_become_from_root() {
    check(Case::new("vm_become_from_root").on_vm(RESET_USERS));
}

#[test]
fn vm_systemd_name_only() {
    check(service_case("vm_systemd_name_only"));
}

#[test]
fn vm_file_denied() {
    check(Case::new("vm_file_denied").on_vm(RESET_USERS));
}

#[test]
fn vm_become_errors() {
    check(Case::new("vm_become_errors").on_vm(RESET_USERS));
}

#[test]
fn vm_facts_python() {
    check(Case::new("vm_facts_python").on_vm(RESET_USERS));
}

#[test]
fn vm_facts_become() {
    check(Case::new("vm_facts_become").on_vm(RESET_USERS));
}
