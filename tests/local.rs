//! Tests that need nothing but this machine: the command line, the engine run in-process on localhost, dry-run, templating limits, hostile and fuzzed input.
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
#[path = "support/manifests.rs"]
mod manifests;
#[path = "support/process.rs"]
mod process;
#[path = "support/reliability.rs"]
mod run;

#[path = "ansible_compat.rs"]
mod ansible_compat;
#[path = "cli_args.rs"]
mod cli_args;
#[path = "cli_console_golden.rs"]
mod cli_console_golden;
#[path = "cli_secrets.rs"]
mod cli_secrets;
#[path = "cli_signals.rs"]
mod cli_signals;
#[path = "e2e_dry_run.rs"]
mod e2e_dry_run;
#[path = "engine_basics.rs"]
mod engine_basics;
#[path = "engine_corpus.rs"]
mod engine_corpus;
#[path = "engine_dry_run.rs"]
mod engine_dry_run;
#[path = "engine_flow.rs"]
mod engine_flow;
#[path = "engine_names.rs"]
mod engine_names;
#[path = "engine_remote.rs"]
mod engine_remote;
#[path = "engine_retries.rs"]
mod engine_retries;
#[path = "engine_semantics.rs"]
mod engine_semantics;
#[path = "engine_templating.rs"]
mod engine_templating;
#[path = "engine_vars_sharing.rs"]
mod engine_vars_sharing;
#[path = "fuzz_regressions.rs"]
mod fuzz_regressions;
#[path = "lint.rs"]
mod lint;
#[path = "pod_manifests.rs"]
mod pod_manifests;
#[path = "template_budget.rs"]
mod template_budget;
#[path = "test_layout.rs"]
mod test_layout;
#[path = "yaml_unsafe.rs"]
mod yaml_unsafe;
