//! Differential tests: the same playbook run by ansible-playbook (ansible-core 2.18) and by hook-runner, results and recap compared.
//!
//! One test binary per kind of lab it needs: cargo links one binary instead of one per file,
//! and the files' tests run side by side. Each file below is a module named after what it tests.

// Helpers shared by the files below, declared once for the binary.
#[allow(dead_code)]
#[path = "differential/harness.rs"]
mod harness;
#[path = "support/modules.rs"]
mod modules_common;

#[path = "differential.rs"]
mod differential;
#[path = "differential_vm.rs"]
mod differential_vm;
#[path = "modules_differential.rs"]
mod modules_differential;
