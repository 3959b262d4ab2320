//! Tests against lab systemd VMs (systemd-nspawn in a network namespace, root): modules on a real VM, the hook pod end to end, faults, cancellation, reboots.
//!
//! One test binary per kind of lab it needs: cargo links one binary instead of one per file,
//! and the files' tests run side by side. Each file below is a module named after what it tests.

// Helpers shared by the files below, declared once for the binary.
#[path = "support/e2e.rs"]
mod common;
#[path = "support/data.rs"]
mod data;
#[path = "support/engine.rs"]
mod engine_common;
#[path = "support/faults.rs"]
mod faults;
#[allow(dead_code)]
#[path = "differential/harness.rs"]
mod harness;
#[path = "support/modules.rs"]
mod modules_common;
#[path = "support/process.rs"]
mod process;

#[path = "e2e_cancel.rs"]
mod e2e_cancel;
#[path = "e2e_corpus.rs"]
mod e2e_corpus;
#[path = "e2e_failures.rs"]
mod e2e_failures;
#[path = "e2e_late_host.rs"]
mod e2e_late_host;
#[path = "e2e_mtv_hook.rs"]
mod e2e_mtv_hook;
#[path = "faults_copy.rs"]
mod faults_copy;
#[path = "faults_reboot.rs"]
mod faults_reboot;
#[path = "faults_rerun.rs"]
mod faults_rerun;
#[path = "faults_ssh.rs"]
mod faults_ssh;
#[path = "modules_control.rs"]
mod modules_control;
#[path = "modules_files.rs"]
mod modules_files;
#[path = "modules_http.rs"]
mod modules_http;
#[path = "modules_packages.rs"]
mod modules_packages;
#[path = "modules_vm.rs"]
mod modules_vm;
#[path = "modules_vm_extra.rs"]
mod modules_vm_extra;
