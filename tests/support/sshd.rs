//! Reaching the lab's private loopback sshd (`lab::SshHost`) from the integration tests: the
//! `ssh` connection's policy and target for it, and the one-host inventory a hook-runner run
//! uses to reach it (host `target`, with the lab's port, user and key).
//!
//! Included with `#[path = "support/sshd.rs"] mod sshd;` by the ssh, round-trip, copy and
//! hostile-input tests.
#![allow(dead_code)]

use hook_runner::connection::{ExecRequest, SshPolicy, SshTarget};
use lab::SshHost;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A short, private control directory for one test, under `/tmp` so the socket paths stay
/// within the Unix socket length limit.
pub fn control_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hrs")
        .tempdir_in("/tmp")
        .expect("control dir")
}

/// The default policy with its control sockets in `dir` and a 5 s connect wait.
pub fn policy(dir: &Path) -> SshPolicy {
    SshPolicy {
        control_dir: dir.display().to_string(),
        connect_timeout: Duration::from_secs(5),
        ..SshPolicy::default()
    }
}

/// The lab host's address, port, user and key as a connection target.
pub fn target(host: &SshHost) -> SshTarget {
    SshTarget {
        address: host.address().to_string(),
        port: Some(host.port()),
        user: Some(host.user().to_string()),
        private_key_file: Some(host.key_path().display().to_string()),
        ..SshTarget::default()
    }
}

/// A request that runs `script` with every other field at its default.
pub fn req(script: &str) -> ExecRequest {
    ExecRequest {
        script: script.into(),
        ..ExecRequest::default()
    }
}

/// Writes `dir/inventory.ini` with one host, `target`, reached at the lab host; returns its
/// path.
pub fn write_target_inventory(dir: &Path, host: &SshHost) -> PathBuf {
    let inventory = dir.join("inventory.ini");
    std::fs::write(
        &inventory,
        format!(
            "target ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}\n",
            host.address(),
            host.port(),
            host.user(),
            host.key_path().display()
        ),
    )
    .expect("write inventory");
    inventory
}
