//! Starting the hook-runner binary from the integration tests: the environment every run
//! outside the pod gets, a watchdog that ends a run which outlives its bound (a hang is a
//! failure, not a stuck suite), and putting the binary into a simulated image.
//!
//! Shared by `tests/support/e2e.rs`, `tests/support/reliability.rs` and `tests/pod_image.rs`, which
//! include it with `#[path = "../support/process.rs"] mod process;` (or `support/process.rs`).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Puts the hook-runner binary into `bin` (an image's `/usr/local/bin`) as a hard link, or a copy
/// on another filesystem. Not a symlink: inside the pod the link's target (the checkout's
/// `target/`) can be hidden, e.g. by the pod's own `/tmp` when the checkout is under `/tmp`.
pub fn install_binary(bin: &Path) {
    let binary = Path::new(env!("CARGO_BIN_EXE_hook-runner"));
    let dest = bin.join("hook-runner");
    if std::fs::hard_link(binary, &dest).is_err() {
        std::fs::copy(binary, &dest).expect("copying the hook-runner binary into the image");
    }
}

/// The hook-runner binary with `args`: `HOME` set to `home`, the termination message written
/// to `home/termination-log`, stdin closed, and no Kubernetes environment from the test process
/// (a run reaches only the cluster its arguments or `envs` name). Where its outputs go is the
/// caller's choice.
pub fn hook_runner_command<S: AsRef<OsStr>>(args: &[S], home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hook-runner"));
    command
        .args(args)
        .env("HOME", home)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("KUBECONFIG")
        .env_remove("K8S_AUTH_KUBECONFIG")
        .env("HOOK_RUNNER_TERMINATION_LOG", home.join("termination-log"))
        .stdin(Stdio::null());
    command
}

/// Kills the process tree of `pid` when it still runs `timeout` from now. The thread's value
/// says whether it had to.
pub fn kill_after(pid: i32, timeout: Duration) -> JoinHandle<bool> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if !lab::util::pid_alive(pid) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        lab::util::kill_tree(pid, Duration::from_secs(1));
        true
    })
}
