//! Tests against the lab Kubernetes API server: k8s_info, API faults, the pod's service account.
//!
//! One test binary per kind of lab it needs: cargo links one binary instead of one per file,
//! and the files' tests run side by side. Each file below is a module named after what it tests.

// Helpers shared by the files below, declared once for the binary.
#[path = "support/process.rs"]
mod process;
#[path = "support/reliability.rs"]
mod run;

#[path = "k8s_faults.rs"]
mod k8s_faults;
#[path = "k8s_info.rs"]
mod k8s_info;
#[path = "k8s_module.rs"]
mod k8s_module;
#[path = "k8s_pod.rs"]
mod k8s_pod;
