//! The simulated pod: runs a command the way a Forklift hook Job's container runs it.
//!
//! What the command sees (as in a pod under OpenShift's restricted SCC):
//! - a private mount namespace (`unshare -m`, private propagation: nothing leaks to the host);
//! - the hook directory bound read-only at `/tmp/hook` (the ConfigMap: playbook.yml, plan.yml,
//!   workload.yml), and optionally a service-account directory bound read-only at
//!   `/var/run/secrets/kubernetes.io/serviceaccount` (token, ca.crt, namespace);
//! - a writable termination-message file bound at `/dev/termination-log`;
//! - its own PID namespace with `/proc` remounted: the command is PID 1 itself with
//!   [`Pod::pid1`]`(true)` (zombie and signal tests), otherwise it runs under `tini` as PID 1, like an
//!   image whose entrypoint is an init; either way every process of the pod dies with it;
//! - an arbitrary UID (default [`DEFAULT_UID`]) with GID 0, no supplementary groups, no passwd
//!   entry, `no_new_privs`; a clean environment: `HOME` (a fresh dir owned by the UID unless set),
//!   `PATH`, `HOSTNAME`, `KUBERNETES_SERVICE_HOST`/`PORT` when given, and the `env` pairs;
//! - optionally the network namespace of a [`Netns`] (otherwise the host's: loopback works);
//! - optionally a read-only root filesystem ([`Pod::read_only_root`], as `readOnlyRootFilesystem`):
//!   after the standard mounts and the binds, `/` and every other mount of the pod's private mount
//!   namespace are remounted read-only, except `/proc`, `/sys`, `/dev` (and below: the container
//!   runtime's own), the termination-log file and the binds made writable (the emptyDirs: `/tmp`,
//!   `$HOME`). The host's mounts are untouched (the remount is per mount namespace).
//!
//! The deadline works like `activeDeadlineSeconds`: when it passes, PID 1 of the pod gets SIGTERM
//! (ignored by a PID 1 without a handler, as in a real container), and SIGKILL after the grace period.
//!
//! Mount points that do not exist on the host (e.g. `/tmp/hook`, `/run/secrets/...`,
//! `/dev/termination-log`) must be created on the host filesystem before they can be bound. The lab
//! records what it created and removes it when the last pod of any test process has finished
//! (reference-counted under a file lock, because a directory removed on the host would vanish from a
//! pod still running in parallel).
//!
//! The hook and service-account directories are made world-readable (0755 dirs, 0644 files), as
//! Kubernetes projects ConfigMap and Secret volumes, so the arbitrary UID can read them.

use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::{Netns, STATE_DIR};
use crate::util::{descendants, find_command, kill_pid, kill_tree, pid_alive, wait_until};

/// The UID OpenShift's restricted SCC typically assigns (first of the namespace's range).
pub const DEFAULT_UID: u32 = 1_000_770_000;
/// Where the hook ConfigMap is mounted in a Forklift hook pod.
pub const HOOK_MOUNT: &str = "/tmp/hook";
/// Where Kubernetes mounts the service-account token, CA and namespace.
pub const SERVICE_ACCOUNT_MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The default `terminationMessagePath`.
pub const TERMINATION_LOG: &str = "/dev/termination-log";
/// `PATH` inside the pod.
const POD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A pod to run; build it with the methods, then [`Pod::run`].
#[derive(Debug, Clone)]
pub struct Pod {
    hook_dir: PathBuf,
    service_account: Option<PathBuf>,
    env: Vec<(String, String)>,
    uid: u32,
    pid1: bool,
    deadline: Option<Duration>,
    grace: Duration,
    home: Option<PathBuf>,
    workdir: PathBuf,
    netns: Option<String>,
    binds: Vec<(PathBuf, PathBuf, bool)>,
    read_only_root: bool,
}

/// How the pod's command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodExit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal (e.g. `libc::SIGKILL` after the deadline's grace period).
    Signal(i32),
}

/// What a finished pod left: exit, output, the termination message, and whether the deadline hit.
#[derive(Debug, Clone)]
pub struct PodOutput {
    pub exit: PodExit,
    pub stdout: String,
    pub stderr: String,
    /// The contents of `/dev/termination-log` as the command left it.
    pub termination_message: String,
    /// True when the deadline passed and the pod was sent SIGTERM.
    pub deadline_exceeded: bool,
    /// Wall-clock time from start to the end of the pod.
    pub duration: Duration,
}

impl PodOutput {
    /// The exit code, or `None` when the pod was killed by a signal.
    pub fn code(&self) -> Option<i32> {
        match self.exit {
            PodExit::Code(c) => Some(c),
            PodExit::Signal(_) => None,
        }
    }

    /// True when the pod exited with code 0.
    pub fn success(&self) -> bool {
        self.exit == PodExit::Code(0)
    }
}

impl Pod {
    /// A pod whose `/tmp/hook` is `hook_dir`, with the defaults described in the module doc.
    pub fn new(hook_dir: impl Into<PathBuf>) -> Pod {
        Pod {
            hook_dir: hook_dir.into(),
            service_account: None,
            env: Vec::new(),
            uid: DEFAULT_UID,
            pid1: false,
            deadline: None,
            grace: Duration::from_secs(2),
            home: None,
            workdir: PathBuf::from("/"),
            netns: None,
            binds: Vec::new(),
            read_only_root: false,
        }
    }

    /// Makes the root filesystem read-only, as `securityContext.readOnlyRootFilesystem: true`
    /// (see the module doc for what stays writable).
    pub fn read_only_root(mut self, read_only: bool) -> Pod {
        self.read_only_root = read_only;
        self
    }

    /// Mounts `dir` (token, ca.crt, namespace) at [`SERVICE_ACCOUNT_MOUNT`].
    pub fn service_account(mut self, dir: impl Into<PathBuf>) -> Pod {
        self.service_account = Some(dir.into());
        self
    }

    /// Sets `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`, as the kubelet does.
    pub fn kubernetes_service(self, host: impl ToString, port: u16) -> Pod {
        self.env("KUBERNETES_SERVICE_HOST", host.to_string())
            .env("KUBERNETES_SERVICE_PORT", port.to_string())
    }

    /// Adds an environment variable (later values of the same key win).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Pod {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The UID to run as (GID is always 0); default [`DEFAULT_UID`].
    pub fn uid(mut self, uid: u32) -> Pod {
        self.uid = uid;
        self
    }

    /// Makes the command itself PID 1 of the pod's PID namespace (default: under `tini`).
    pub fn pid1(mut self, pid1: bool) -> Pod {
        self.pid1 = pid1;
        self
    }

    /// Wall-clock limit, like `activeDeadlineSeconds`: SIGTERM, then SIGKILL after the grace period.
    pub fn deadline(mut self, deadline: Duration) -> Pod {
        self.deadline = Some(deadline);
        self
    }

    /// Time between SIGTERM and SIGKILL once the deadline passed (default 2 s).
    pub fn grace(mut self, grace: Duration) -> Pod {
        self.grace = grace;
        self
    }

    /// Uses `home` as `$HOME` (it must be writable by the UID); default: a fresh dir per run.
    pub fn home(mut self, home: impl Into<PathBuf>) -> Pod {
        self.home = Some(home.into());
        self
    }

    /// The working directory of the command (default `/`).
    pub fn workdir(mut self, dir: impl Into<PathBuf>) -> Pod {
        self.workdir = dir.into();
        self
    }

    /// Runs the pod inside `netns` (its address, its routes) instead of the host's network.
    pub fn netns(mut self, netns: &Netns) -> Pod {
        self.netns = Some(netns.name().to_string());
        self
    }

    /// Binds `source` at `target`, read-only or writable, after the standard mounts (so a bind on
    /// `/tmp` hides `/tmp/hook`). A missing `target` is created on the host like the standard
    /// mount points (a file when `source` is not a directory) and removed with the last pod.
    pub fn bind(
        mut self,
        source: impl Into<PathBuf>,
        target: impl Into<PathBuf>,
        read_only: bool,
    ) -> Pod {
        self.binds.push((source.into(), target.into(), read_only));
        self
    }

    /// Runs `argv` in the pod and waits for it (and the deadline, if any).
    pub fn run<S: AsRef<str>>(&self, argv: &[S]) -> Result<PodOutput> {
        if argv.is_empty() {
            bail!("Pod::run needs a command");
        }
        let scratch = tempfile::Builder::new().prefix("hrlab-pod-").tempdir()?;
        let termination_log = self.prepare_files(scratch.path())?;
        let home = match &self.home {
            Some(h) => h.clone(),
            None => scratch.path().join("home"),
        };
        // The default HOME is a scratch dir on the host's filesystem: under a read-only root it
        // is a writable volume of its own, like the emptyDir the image's HOME is.
        let with_home;
        let pod = if self.read_only_root && self.home.is_none() {
            with_home = self.clone().bind(&home, &home, false);
            &with_home
        } else {
            self
        };
        let mut targets = vec![
            (PathBuf::from(HOOK_MOUNT), false),
            (PathBuf::from(TERMINATION_LOG), true),
        ];
        if pod.service_account.is_some() {
            targets.push((PathBuf::from(SERVICE_ACCOUNT_MOUNT), false));
        }
        for (source, target, _) in &pod.binds {
            targets.push((target.clone(), !source.is_dir()));
        }
        let _mount_points = MountPoints::acquire(&targets)?;
        let stage = pod.stage_bind_sources()?;
        let started = Instant::now();
        let mut child = pod
            .command(&termination_log, &home, stage.path(), argv)?
            .spawn()
            .context("starting the pod")?;
        let stdout = read_in_background(child.stdout.take());
        let stderr = read_in_background(child.stderr.take());
        let (status, deadline_exceeded) = self.supervise(&mut child, started)?;
        let duration = started.elapsed();
        let (exit, stderr) = exit_of(status, stderr.join().unwrap_or_default());
        Ok(PodOutput {
            exit,
            stdout: stdout.join().unwrap_or_default(),
            stderr,
            termination_message: fs::read_to_string(&termination_log).unwrap_or_default(),
            deadline_exceeded,
            duration,
        })
    }

    /// Makes the volumes readable by the UID, creates HOME and the termination-log file.
    fn prepare_files(&self, scratch: &Path) -> Result<PathBuf> {
        fs::set_permissions(scratch, fs::Permissions::from_mode(0o755))?;
        make_world_readable(&self.hook_dir)?;
        if let Some(sa) = &self.service_account {
            make_world_readable(sa)?;
        }
        if self.home.is_none() {
            let home = scratch.join("home");
            fs::create_dir(&home)?;
            owned_by_pod(&home, self.uid, 0o770)?;
        }
        let log = scratch.join("termination-log");
        fs::write(&log, "")?;
        owned_by_pod(&log, self.uid, 0o660)?;
        Ok(log)
    }

    /// A fresh directory under `/run` with one empty mount point per bind (a directory or a file,
    /// like its source). The pod's setup binds every source there first, because a later bind can
    /// hide a source: with the checkout under `/tmp` (or `/home`), the bind on `/tmp` hides every
    /// scratch directory below it before `/tmp/hook` is bound from one of them.
    fn stage_bind_sources(&self) -> Result<tempfile::TempDir> {
        let stage = tempfile::Builder::new()
            .prefix("hrlab-pod-stage-")
            .tempdir_in("/run")
            .context("creating the pod's staging directory under /run")?;
        for (i, (source, _, _)) in self.binds.iter().enumerate() {
            let point = stage.path().join(i.to_string());
            if source.is_dir() {
                fs::create_dir(&point)?;
            } else {
                fs::write(&point, "")?;
            }
        }
        Ok(stage)
    }

    /// `[ip netns exec NS] unshare -m --pid --fork --mount-proc sh -c MOUNTS ... setpriv ... env -i ... argv`.
    fn command<S: AsRef<str>>(
        &self,
        termination_log: &Path,
        home: &Path,
        stage: &Path,
        argv: &[S],
    ) -> Result<Command> {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "unshare"]);
                c
            }
            None => Command::new("unshare"),
        };
        cmd.args([
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--mount-proc",
            "--",
        ]);
        cmd.args(["sh", "-c", &self.mount_script(stage), "pod-setup"]);
        cmd.arg(&self.hook_dir)
            .arg(termination_log)
            .arg(&self.workdir);
        cmd.arg(self.service_account.as_deref().unwrap_or(Path::new("")));
        cmd.args([
            "setpriv",
            &format!("--reuid={}", self.uid),
            "--regid=0",
            "--clear-groups",
            "--no-new-privs",
            "env",
            "-i",
        ]);
        for (k, v) in self.environment(home) {
            cmd.arg(format!("{k}={v}"));
        }
        if !self.pid1 {
            let tini = find_command("tini").context("tini not found (apt-get install tini)")?;
            cmd.arg(tini).args(["-s", "--"]);
        }
        cmd.args(argv.iter().map(AsRef::as_ref));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Ok(cmd)
    }

    /// The root part inside the new mount namespace: `$1` hook dir, `$2` termination log, `$3`
    /// workdir, `$4` service-account dir or empty; the rest is the command to exec. Bind sources
    /// are first bound at their mount points in `stage` (see [`Pod::stage_bind_sources`]).
    fn mount_script(&self, stage: &Path) -> String {
        let mut s = String::from("set -e\n");
        let staged: Vec<String> = (0..self.binds.len())
            .map(|i| shell_quote(&stage.join(i.to_string()).display().to_string()))
            .collect();
        for ((source, _, _), point) in self.binds.iter().zip(&staged) {
            let source = shell_quote(&source.display().to_string());
            s.push_str(&format!("mount --bind {source} {point}\n"));
        }
        s.push_str(&format!(
            "mount --bind \"$1\" {HOOK_MOUNT}\nmount -o remount,bind,ro {HOOK_MOUNT}\n"
        ));
        s.push_str(&format!("mount --bind \"$2\" {TERMINATION_LOG}\n"));
        s.push_str(&format!(
            "if [ -n \"$4\" ]; then mount --bind \"$4\" {SERVICE_ACCOUNT_MOUNT}; \
             mount -o remount,bind,ro {SERVICE_ACCOUNT_MOUNT}; fi\n"
        ));
        for ((_, target, ro), source) in self.binds.iter().zip(&staged) {
            let target = shell_quote(&target.display().to_string());
            s.push_str(&format!("mount --bind {source} {target}\n"));
            if *ro {
                s.push_str(&format!("mount -o remount,bind,ro {target}\n"));
            }
        }
        if self.read_only_root {
            s.push_str(&self.read_only_script());
        }
        s.push_str("cd \"$3\"\nshift 4\nexec \"$@\"\n");
        s
    }

    /// Remounts every mount of the pod read-only but the runtime's (`/proc`, `/sys`, `/dev`) and
    /// the writable volumes. Mount points are read from `/proc/self/mounts` (spaces there are
    /// `\040`; such mounts stay as they are).
    fn read_only_script(&self) -> String {
        let mut writable = vec![shell_quote(TERMINATION_LOG)];
        for (_, target, ro) in &self.binds {
            if !*ro {
                writable.push(shell_quote(&target.display().to_string()));
            }
        }
        format!(
            "set +e\n\
             mount -o remount,bind,ro / || exit 97\n\
             cut -d' ' -f2 /proc/self/mounts | sort -u | while read -r m; do\n\
             \x20 case $m in /|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac\n\
             \x20 for w in {}; do [ \"$m\" = \"$w\" ] && continue 2; done\n\
             \x20 mount -o remount,bind,ro \"$m\" 2>/dev/null\n\
             done\n\
             set -e\n",
            writable.join(" ")
        )
    }

    fn environment(&self, home: &Path) -> Vec<(String, String)> {
        let mut env = vec![
            ("PATH".to_string(), POD_PATH.to_string()),
            ("HOME".to_string(), home.display().to_string()),
            ("HOSTNAME".to_string(), "hook-pod".to_string()),
        ];
        for (k, v) in &self.env {
            env.retain(|(key, _)| key != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// Waits for the pod, enforcing the deadline. Returns the status and whether the deadline hit.
    fn supervise(&self, child: &mut Child, started: Instant) -> Result<(ExitStatus, bool)> {
        let spawned = child.id() as i32;
        let mut terminated_at: Option<Instant> = None;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok((status, terminated_at.is_some()));
            }
            let now = Instant::now();
            match (self.deadline, terminated_at) {
                (Some(deadline), None) if now.duration_since(started) >= deadline => {
                    // The pod's PID 1 is unshare's only child.
                    for pid in pod_pid1(spawned) {
                        let _ = kill_pid(pid, libc::SIGTERM);
                    }
                    terminated_at = Some(now);
                }
                (_, Some(at)) if now.duration_since(at) >= self.grace => {
                    // SIGKILL to PID 1 ends every process of the PID namespace.
                    for pid in pod_pid1(spawned) {
                        let _ = kill_pid(pid, libc::SIGKILL);
                    }
                    let status = wait_bounded(child, Duration::from_secs(5))?;
                    return Ok((status, true));
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The pod's PID 1 seen from the host: the child of the `unshare --fork` process.
fn pod_pid1(unshare_pid: i32) -> Vec<i32> {
    let children: Vec<i32> = descendants(unshare_pid)
        .into_iter()
        .filter(|&p| crate::util::parent_pid(p) == Some(unshare_pid))
        .collect();
    children
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Result<ExitStatus> {
    let mut status = None;
    wait_until(limit, Duration::from_millis(10), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    match status {
        Some(s) => Ok(s),
        None => {
            kill_tree(child.id() as i32, Duration::from_secs(1));
            Ok(child.wait()?)
        }
    }
}

/// The message util-linux 2.38 `unshare --fork` prints when it cannot re-raise SIGKILL.
const UNSHARE_SIGKILL_MESSAGE: &str = "unshare: sigprocmask unblock failed: Invalid argument\n";

/// `unshare --fork` re-raises the signal that killed its child, so the status carries it, except
/// for SIGKILL: `signal(SIGKILL, SIG_DFL)` fails and it exits 1 with [`UNSHARE_SIGKILL_MESSAGE`],
/// which is therefore read as SIGKILL (and removed from stderr).
fn exit_of(status: ExitStatus, stderr: String) -> (PodExit, String) {
    match (status.code(), status.signal()) {
        (Some(1), _) if stderr.ends_with(UNSHARE_SIGKILL_MESSAGE) => {
            let stderr = stderr[..stderr.len() - UNSHARE_SIGKILL_MESSAGE.len()].to_string();
            (PodExit::Signal(libc::SIGKILL), stderr)
        }
        (Some(code), _) => (PodExit::Code(code), stderr),
        (None, Some(sig)) => (PodExit::Signal(sig), stderr),
        (None, None) => (PodExit::Code(-1), stderr),
    }
}

fn read_in_background<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn owned_by_pod(path: &Path, uid: u32, mode: u32) -> Result<()> {
    chown(path, Some(uid), Some(0)).with_context(|| format!("chown {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// 0755 on directories, 0644 on files (and +x kept for executables), recursively.
fn make_world_readable(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if meta.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o755))?;
        for entry in fs::read_dir(path)? {
            make_world_readable(&entry?.path())?;
        }
    } else {
        let exec = if mode & 0o100 != 0 { 0o755 } else { 0o644 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode | exec))?;
    }
    Ok(())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Mount points on the host that pods need, created when missing and removed when the last pod
/// (of any process) is done. The registry lives in `STATE_DIR`: `pod-users/<pid>-<n>` per live pod,
/// `pod-created` listing what the lab created.
struct MountPoints {
    user_file: PathBuf,
}

impl MountPoints {
    fn acquire(targets: &[(PathBuf, bool)]) -> Result<MountPoints> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let _lock = pod_lock()?;
        let users = Path::new(STATE_DIR).join("pod-users");
        fs::create_dir_all(&users)?;
        let user_file = users.join(format!(
            "{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::write(&user_file, "")?;
        let mut created = read_created()?;
        for (target, is_file) in targets {
            create_missing(target, *is_file, &mut created)?;
        }
        write_created(&created)?;
        Ok(MountPoints { user_file })
    }
}

impl Drop for MountPoints {
    fn drop(&mut self) {
        release_mount_points(Some(&self.user_file));
    }
}

/// Unregisters one pod (if given); when no pod is live any more, removes what the lab created.
fn release_mount_points(user_file: Option<&Path>) {
    let Ok(_lock) = pod_lock() else { return };
    if let Some(f) = user_file {
        let _ = fs::remove_file(f);
    }
    if live_pod_users() > 0 {
        return;
    }
    let Ok(created) = read_created() else { return };
    // Deepest first, so parents are empty when their turn comes.
    let mut left = Vec::new();
    for path in created.iter().rev() {
        let p = Path::new(path);
        let removed = if p.is_dir() {
            fs::remove_dir(p)
        } else {
            fs::remove_file(p)
        };
        if removed.is_err() && p.exists() {
            left.push(path.clone());
        }
    }
    left.reverse();
    let _ = write_created(&left);
}

/// Creates the missing components of `target` (the last one as a file when `is_file`), recording them.
fn create_missing(target: &Path, is_file: bool, created: &mut Vec<String>) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = Some(target);
    while let Some(p) = cur {
        // metadata follows symlinks: /var/run -> /run counts as present.
        if fs::metadata(p).is_ok() {
            break;
        }
        missing.push(p.to_path_buf());
        cur = p.parent();
    }
    for p in missing.into_iter().rev() {
        if is_file && p == target {
            fs::write(&p, "").with_context(|| format!("creating mount point {}", p.display()))?;
        } else {
            fs::create_dir(&p).with_context(|| format!("creating mount point {}", p.display()))?;
        }
        // Record the resolved path, so that /var/run/x and /run/x are the same entry.
        let resolved = fs::canonicalize(&p)?.display().to_string();
        if !created.contains(&resolved) {
            created.push(resolved);
        }
    }
    Ok(())
}

fn live_pod_users() -> usize {
    let Ok(entries) = fs::read_dir(Path::new(STATE_DIR).join("pod-users")) else {
        return 0;
    };
    let mut live = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(pid_alive) {
            live += 1;
        } else {
            // A crashed test process left it: it no longer holds its mount points.
            let _ = fs::remove_file(entry.path());
        }
    }
    live
}

fn read_created() -> Result<Vec<String>> {
    let path = Path::new(STATE_DIR).join("pod-created");
    match fs::read_to_string(&path) {
        Ok(s) => Ok(s
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_created(created: &[String]) -> Result<()> {
    let path = Path::new(STATE_DIR).join("pod-created");
    let mut text = created.join("\n");
    text.push('\n');
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

fn pod_lock() -> Result<fs::File> {
    fs::create_dir_all(STATE_DIR)?;
    let path = Path::new(STATE_DIR).join("pod.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    // SAFETY: flock on a valid, open descriptor; released when the file is dropped.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error()).context("flock on the lab pod lock");
    }
    Ok(file)
}

/// Removes mount points left by pods of crashed test processes (when no pod is live).
pub fn cleanup_leftovers() {
    release_mount_points(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_has_defaults_and_overrides() {
        let pod = Pod::new("/h")
            .env("HOME", "/x")
            .kubernetes_service("10.0.0.1", 6443);
        let env = pod.environment(Path::new("/home/pod"));
        assert!(env.contains(&("HOME".into(), "/x".into())));
        assert!(env.contains(&("KUBERNETES_SERVICE_HOST".into(), "10.0.0.1".into())));
        assert!(env.contains(&("KUBERNETES_SERVICE_PORT".into(), "6443".into())));
        assert_eq!(env.iter().filter(|(k, _)| k == "HOME").count(), 1);
    }

    #[test]
    fn missing_mount_points_are_created_and_removed_with_the_last_pod() {
        if !crate::require_root("missing_mount_points_are_created_and_removed_with_the_last_pod") {
            return;
        }
        let base = tempfile::tempdir().unwrap();
        let dir_target = base.path().join("a/b/c");
        let file_target = base.path().join("a/log");
        let targets = [(dir_target.clone(), false), (file_target.clone(), true)];
        let first = MountPoints::acquire(&targets).unwrap();
        assert!(dir_target.is_dir() && file_target.is_file());
        let second = MountPoints::acquire(&targets).unwrap();
        drop(first);
        assert!(
            dir_target.is_dir(),
            "removed while another pod still uses it"
        );
        drop(second);
        assert!(
            !base.path().join("a").exists(),
            "created mount points left behind"
        );
        assert!(base.path().exists(), "an existing directory was removed");
    }

    #[test]
    fn shell_quote_survives_quotes() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }
}
