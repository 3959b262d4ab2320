//! Shared pieces of the fault tests (`tests/faults_*.rs`, against the lab's real hosts):
//! a work directory holding a playbook and an inventory, hook-runner runs that are bounded (run
//! to their end, or started in the background so that a fault can be injected while they run,
//! and SIGKILLed with or without their ssh processes), the PLAY RECAP as numbers, the VM's
//! processes seen from the host, and sshd killed inside a VM.
//!
//! It builds on `tests/e2e/common.rs` (the bounded CLI run, recap helpers): a test file includes
//! both, `#[path = "e2e/common.rs"] mod common;` then `#[path = "faults/common.rs"] mod faults;`.
#![allow(dead_code)]

use crate::common::{hook_runner, hook_runner_command, recap_lines, CliRun};
use lab::vm::Vm;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// Options every fault run passes: a short `--connect-wait` (how long a host that does not
/// answer SSH yet is retried, 300 s by default for hosts made by `add_host`), so that a host
/// that went away is reported in seconds (the tests bound how long a run may take).
pub const FAST_FAILURE_ARGS: &[&str] = &["--connect-wait", "5"];

/// A temp dir with `home/`, `playbook.yml` and `inventory.yml`; removed on drop.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new(playbook: &str, inventory: &str) -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix("hr-faults-")
            .tempdir()
            .expect("creating a temp dir");
        fs::create_dir(dir.path().join("home")).expect("creating home");
        fs::create_dir(dir.path().join("c")).expect("creating the control dir");
        fs::write(dir.path().join("playbook.yml"), playbook).expect("writing the playbook");
        fs::write(dir.path().join("inventory.yml"), inventory).expect("writing the inventory");
        Workdir { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// `hook-runner run PLAYBOOK -i INVENTORY --control-dir DIR [FAST_FAILURE_ARGS] [extra]`.
    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = self.default_args(extra);
        args.extend(FAST_FAILURE_ARGS.iter().map(|a| a.to_string()));
        args
    }

    /// [`Workdir::args`] without [`FAST_FAILURE_ARGS`]: hook-runner's defaults, as in a pod.
    pub fn default_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "run".into(),
            self.path("playbook.yml").display().to_string(),
            "-i".into(),
            self.path("inventory.yml").display().to_string(),
        ];
        // The SSH control sockets in the work dir: a killed run's are removed with it.
        args.extend(["--control-dir".into(), self.path("c").display().to_string()]);
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    /// Runs the playbook to its end, bounded by `timeout` (a hang fails the test).
    pub fn run(&self, extra: &[&str], timeout: Duration) -> CliRun {
        let args = self.args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hook_runner(&args, &self.home(), timeout)
    }

    /// Starts the playbook in the background (for faults injected while it runs).
    pub fn spawn(&self, extra: &[&str]) -> Background {
        Background::start(&self.args(extra), &self.home())
    }

    /// [`Workdir::spawn`] with hook-runner's default settings (no [`FAST_FAILURE_ARGS`]).
    pub fn spawn_with_defaults(&self, extra: &[&str]) -> Background {
        Background::start(&self.default_args(extra), &self.home())
    }
}

/// A hook-runner started in the background, its outputs going to files. Dropping it SIGKILLs
/// what is left of its process tree, so a failing test leaves nothing running.
pub struct Background {
    child: Child,
    out: tempfile::NamedTempFile,
    err: tempfile::NamedTempFile,
    started: Instant,
}

impl Background {
    fn start(args: &[String], home: &Path) -> Background {
        let out = tempfile::NamedTempFile::new().expect("stdout file");
        let err = tempfile::NamedTempFile::new().expect("stderr file");
        let child = hook_runner_command(args, home)
            .stdout(out.reopen().expect("stdout file"))
            .stderr(err.reopen().expect("stderr file"))
            .spawn()
            .expect("starting hook-runner");
        Background {
            child,
            out,
            err,
            started: Instant::now(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// True while hook-runner has not exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL to hook-runner and every process it started, at once (as when the hook pod is
    /// killed: nothing gets to clean up), then reaps it.
    pub fn kill_all(&mut self) {
        let tree = lab::util::descendants(self.pid());
        let _ = lab::util::kill_pid(self.pid(), libc::SIGKILL);
        for pid in tree {
            let _ = lab::util::kill_pid(pid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    /// SIGKILL to hook-runner alone (as the OOM killer does): the processes it started are not
    /// signalled. Returns them, guarded: they are SIGKILLed when the guard is dropped.
    pub fn kill_runner_only(&mut self) -> Orphans {
        let tree: Vec<lab::vm::ProcessId> = lab::util::descendants(self.pid())
            .into_iter()
            .filter_map(lab::vm::ProcessId::of)
            .collect();
        let _ = lab::util::kill_pid(self.pid(), libc::SIGKILL);
        let _ = self.child.wait();
        Orphans(tree)
    }

    /// Waits for the end of the run, bounded by `timeout` (then kills it and fails the test).
    pub fn wait(mut self, timeout: Duration) -> CliRun {
        let deadline = self.started + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => break None,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("waiting for hook-runner: {e}"),
            }
        };
        let run = self.output(status.and_then(|s| s.code()));
        assert!(
            status.is_some(),
            "hook-runner hung (killed after {timeout:?}): {run:?}"
        );
        run
    }

    /// What it printed so far, with `code` as its exit code.
    pub fn output(&mut self, code: Option<i32>) -> CliRun {
        if code.is_none() && self.running() {
            self.kill_all();
        }
        CliRun {
            code,
            stdout: fs::read_to_string(self.out.path()).unwrap_or_default(),
            stderr: fs::read_to_string(self.err.path()).unwrap_or_default(),
            duration: self.started.elapsed(),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.running() {
            self.kill_all();
        }
    }
}

/// Processes a killed hook-runner had started; SIGKILLed on drop (those still alive, told
/// apart from later processes with the same pid by their start time).
pub struct Orphans(pub Vec<lab::vm::ProcessId>);

impl Orphans {
    /// The command lines of those still alive.
    pub fn alive(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|p| p.alive())
            .map(|p| {
                fs::read(format!("/proc/{}/cmdline", p.pid))
                    .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                    .unwrap_or_default()
            })
            .collect()
    }
}

impl Drop for Orphans {
    fn drop(&mut self) {
        for p in self.0.iter().filter(|p| p.alive()) {
            let _ = lab::util::kill_pid(p.pid, libc::SIGKILL);
        }
    }
}

/// A VM as an inventory host (YAML, under `hosts:`): root with the lab key.
pub fn vm_host(name: &str, vm: &Vm, extra_vars: &str) -> String {
    format!(
        "        {name}:\n          ansible_host: \"{ip}\"\n          ansible_user: root\n          ansible_ssh_private_key_file: \"{key}\"\n{extra_vars}",
        ip = vm.address(),
        key = vm.root_key().display()
    )
}

/// A lab sshd host as an inventory host (YAML, under `hosts:`).
pub fn ssh_host(name: &str, host: &lab::SshHost, extra_vars: &str) -> String {
    format!(
        "        {name}:\n          ansible_host: \"{ip}\"\n          ansible_port: {port}\n          ansible_user: {user}\n          ansible_ssh_private_key_file: \"{key}\"\n{extra_vars}",
        ip = host.address(),
        port = host.port(),
        user = host.user(),
        key = host.key_path().display()
    )
}

/// A YAML inventory with one group `targets` holding `hosts` (made by [`vm_host`]/[`ssh_host`]).
pub fn inventory(hosts: &[String]) -> String {
    format!(
        "all:\n  children:\n    targets:\n      hosts:\n{}",
        hosts.concat()
    )
}

/// One host's PLAY RECAP counts: ok, changed, unreachable, failed, skipped, rescued, ignored.
pub fn recap_counts(stdout: &str, host: &str) -> Option<[u32; 7]> {
    let line = recap_lines(stdout)
        .into_iter()
        .find(|l| l.split_whitespace().next() == Some(host))?;
    let mut counts = [0u32; 7];
    let names = [
        "ok=",
        "changed=",
        "unreachable=",
        "failed=",
        "skipped=",
        "rescued=",
        "ignored=",
    ];
    for (slot, name) in counts.iter_mut().zip(names) {
        let word = line.split_whitespace().find(|w| w.starts_with(name))?;
        *slot = word[name.len()..].parse().ok()?;
    }
    Some(counts)
}

/// The console lines about `host` (`ok: [host]`, `fatal: [host]: ...`...).
pub fn lines_about(stdout: &str, host: &str) -> Vec<String> {
    let tag = format!("[{host}]");
    stdout
        .lines()
        .filter(|l| l.contains(&tag))
        .map(str::to_string)
        .collect()
}

/// Pids of the processes in the VM's network namespace whose command name is `comm`.
pub fn vm_processes(vm: &Vm, comm: &str) -> Vec<i32> {
    let Some(inode) = vm.trace().netns_inode else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::metadata(format!("/proc/{pid}/ns/net")).is_ok_and(|m| m.ino() == inode)
                && fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim_end() == comm)
        })
        .collect()
}

/// Kills every sshd of the VM with SIGKILL, from the host: the listener and the per-connection
/// processes, so open connections break and new ones are refused (as when sshd crashes or
/// the OOM killer takes it). Returns how many processes were killed.
pub fn kill_sshd(vm: &Vm) -> usize {
    let pids = vm_processes(vm, "sshd");
    for &pid in &pids {
        let _ = lab::util::kill_pid(pid, libc::SIGKILL);
    }
    pids.len()
}

/// Polls `probe` every 100 ms up to `timeout`.
pub fn wait_for(timeout: Duration, probe: impl FnMut() -> bool) -> bool {
    lab::util::wait_until(timeout, Duration::from_millis(100), probe)
}

/// True when `path` exists on the VM (checked over a separate SSH connection).
pub fn vm_path_exists(vm: &Vm, path: &str) -> bool {
    vm.try_exec(
        "root",
        &format!("test -e '{path}'"),
        Duration::from_secs(10),
    )
    .is_ok_and(|o| o.status.success())
}
