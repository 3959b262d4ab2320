//! Tests against lab sshd targets on loopback addresses (root): the SSH connection, its watchdog and faults, copy streaming, round trips, scale, the pod's SSH, secrets.
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
#[path = "support/process.rs"]
mod process;
#[path = "support/reliability.rs"]
mod run;
#[path = "support/sshd.rs"]
mod sshd;

#[path = "copy_streaming.rs"]
mod copy_streaming;
#[path = "engine_async.rs"]
mod engine_async;
#[path = "hostile_input.rs"]
mod hostile_input;
#[path = "pod_image.rs"]
mod pod_image;
#[path = "round_trips.rs"]
mod round_trips;
#[path = "scale.rs"]
mod scale;
#[path = "ssh_connection.rs"]
mod ssh_connection;
#[path = "ssh_pod.rs"]
mod ssh_pod;
#[path = "ssh_watchdog.rs"]
mod ssh_watchdog;
