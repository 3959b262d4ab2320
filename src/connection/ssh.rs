//! The `ssh` connection: the system OpenSSH client, one multiplexed master per host.
//!
//! Semantics (Ansible's `ssh` connection plugin, reference §2.6, with the deliberate differences
//! listed below):
//! - One ControlMaster per host, started on the first `exec` and reused by every later command
//!   over the openssh crate's native-mux client (no `ssh` process per command). A master that
//!   went away (killed, network) is started again on the next command; `close()` ends it.
//! - The master is started by this module, not by `openssh::SessionBuilder`, because the builder
//!   cannot pass arbitrary options, hides ssh's stderr when the master fails (so a
//!   refused key would read as a bare exit code) and daemonizes the master with `ssh -f` (reparented to PID 1, it becomes a
//!   zombie when the runner is PID 1 without an init). The command is
//!   `ssh -E LOG -S CTL -M -N -o ControlPersist=no -o BatchMode=yes [USER ARGS] [OURS] -- HOST`,
//!   run in the foreground as our child (reaped on `close()`); it is ready when its control
//!   socket answers, and the session attaches with `Session::resume_mux`. USER ARGS are
//!   `ansible_ssh_common_args` + `ansible_ssh_extra_args`, split as a shell would, passed as raw
//!   ssh arguments (`-o ProxyJump=..`, `-J`, `-o StrictHostKeyChecking=no`, ...). They come before
//!   OURS (host key policy, ConnectTimeout, port, user, key) because ssh keeps the first value
//!   of an option: the user's explicit choices win over those defaults (in Ansible the plugin's
//!   own options come first); the mux settings before them are fixed. A user `-f` makes ssh fork
//!   into the background; that still works, but that master is no longer our child (reaping it
//!   then needs an init as PID 1, as with the openssh crate's own builder).
//! - The user's `~/.ssh/config` and `/etc/ssh/ssh_config` are read as usual (no `-F`).
//! - Host keys: `host_key_checking=false` (Forklift's `ANSIBLE_HOST_KEY_CHECKING=False`) gives
//!   `StrictHostKeyChecking=no` with `UserKnownHostsFile=/dev/null` (nothing is written, a missing
//!   or read-only `~/.ssh` is fine); `true` gives `StrictHostKeyChecking=yes` against
//!   `policy.known_hosts` (ssh's default files when unset).
//! - Keys: `ansible_ssh_private_key_file` → `-i FILE`. Without one, ssh's default identities
//!   (`~/.ssh/id_rsa`, `id_ecdsa`, `id_ed25519`, ...) are used, looked up when the master starts,
//!   so a key a playbook wrote a moment ago is picked up. ssh takes `~` from the passwd entry;
//!   when `$HOME` differs from it, the default key files found under `$HOME/.ssh` are added too
//!   (Ansible expands `~` from `$HOME`, so playbooks write keys there).
//! - Passwords are not supported (keys only): [`target_from_vars`] refuses `ansible_password`.
//! - Failures to connect and exit status 255 are [`ConnError::Unreachable`] with Ansible's
//!   wording, `Failed to connect to the host via ssh: <ssh's message>`. Before starting ssh the
//!   controller's passwd entry is checked (the OpenSSH client refuses to run without one).
//! - A connection lost while a command runs is UNREACHABLE with ssh's own words from the
//!   master's log (`LogLevel=INFO` keeps `Timeout, server X not responding.`; the host key
//!   notice is left out), else `Connection to X closed by remote host.` (sshd killed, host
//!   shut down), as Ansible shows ssh's stderr.
//! - The master gets SIGTERM from the kernel when hook-runner dies without closing it
//!   (`PR_SET_PDEATHSIG`; SIGKILL, the OOM killer), so no master outlives the run. The first
//!   master of a run removes control dirs that killed runs left (ours, their process gone, no
//!   master answering on their socket).
//! - At most [`MAX_CHANNELS`] commands run at once per host (sshd's `MaxSessions` default).
//! - The master has a keepalive (`ServerAliveInterval=15`, `ServerAliveCountMax=4`, after the
//!   user's arguments so theirs win): a link cut while a command runs makes the host
//!   unreachable within a minute (Ansible's default ssh arguments have none). A task whose
//!   `timeout` backstop fires (the host sent nothing back) closes the master, so the next
//!   command does not wait on a dead connection.
//! - A task `timeout` runs the command under the remote `timeout` utility when the host has it
//!   (so the remote process group is ended), and the channel is dropped locally as a backstop.
//! - Every command runs inside the remote watchdog ([`super::watchdog`]): the channel's stdin
//!   stays open while the command runs, and when the client goes away (the exec is dropped on
//!   SIGTERM, the master is closed, the link breaks) the command's process group is ended on
//!   the host. Input bytes travel with a length and a completion marker, so truncated input is
//!   never acted on.
//! - A host that does not answer yet (connection refused, no route, timed out, closed before
//!   the banner) is retried with exponential backoff (1 s doubling to 5 s) for the target's
//!   `connect_wait` (host variable `hook_runner_connect_wait`; hosts made by `add_host` get
//!   `--connect-wait`, default 300 s, from the engine), each retry a warning with the time
//!   left; then it is unreachable with ssh's last message and how long it was waited for.
//!   Answers that will not change (key refused, host key mismatch, unknown host name) fail at
//!   once. Ansible has no such wait (only `ansible_ssh_retries` on exit 255); it is a
//!   deliberate difference for PostHooks, which run right after the target VM is created.

use super::r#become;
use super::watchdog;
use super::{ConnError, Connection, ExecOutput, ExecRequest, SshPolicy, SshTarget};
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;
use openssh::{Session, Stdio};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// First pause before retrying a host that does not answer yet; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Default keepalive of the master (the user's `ServerAlive*` options win): a dead link is
/// declared after `KEEPALIVE_INTERVAL * KEEPALIVE_COUNT` without an answer.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_COUNT: u32 = 4;

/// Parallel commands per host: sshd's default `MaxSessions`.
pub const MAX_CHANNELS: usize = 10;

/// Linux `sun_path` is 108 bytes; ssh appends a random suffix of up to 17 characters while it
/// binds the socket, plus the terminating NUL.
const MAX_CONTROL_PATH: usize = 108 - 18;

/// Default identity file names, in the order ssh tries them.
const DEFAULT_IDENTITIES: &[&str] = &[
    "id_rsa",
    "id_ecdsa",
    "id_ecdsa_sk",
    "id_ed25519",
    "id_ed25519_sk",
    "id_xmss",
    "id_dsa",
];

/// A host reached through the system OpenSSH client.
pub struct SshConnection {
    target: SshTarget,
    policy: SshPolicy,
    master: Mutex<Option<Master>>,
    channels: Arc<Semaphore>,
    home_override: Option<PathBuf>,
}

/// A running ControlMaster and the private directory holding its socket and logs.
struct Master {
    session: Arc<Session>,
    dir: PathBuf,
    /// The master process, our own child (`None` when a user option made it daemonize).
    process: Option<std::process::Child>,
}

impl SshConnection {
    pub fn new(target: SshTarget, policy: SshPolicy) -> SshConnection {
        SshConnection {
            target,
            policy,
            master: Mutex::new(None),
            channels: Arc::new(Semaphore::new(MAX_CHANNELS)),
            home_override: None,
        }
    }

    /// Uses `home` instead of `$HOME` when looking for default identities (tests).
    pub fn with_home(mut self, home: impl Into<PathBuf>) -> SshConnection {
        self.home_override = Some(home.into());
        self
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The running master, started when there is none.
    async fn session(&self) -> Result<Arc<Session>, ConnError> {
        let mut slot = self.master.lock().await;
        if let Some(m) = slot.as_ref() {
            return Ok(m.session.clone());
        }
        let master = self.launch_with_wait().await?;
        let session = master.session.clone();
        *slot = Some(master);
        Ok(session)
    }

    /// Forgets a master that no longer answers, so the next command starts a new one. Only
    /// `dead` is dropped: a parallel command may already have replaced it with a live one.
    async fn drop_master(&self, dead: &Arc<Session>) {
        let old = {
            let mut slot = self.master.lock().await;
            match slot.as_ref() {
                Some(m) if Arc::ptr_eq(&m.session, dead) => slot.take(),
                _ => None,
            }
        };
        if let Some(m) = old {
            shutdown(m).await;
        }
    }

    /// Starts the master, retrying a host that does not answer yet until the target's
    /// connect wait has passed (exponential backoff from [`FIRST_RETRY`] to [`MAX_RETRY`],
    /// each retry a warning with the time left). Refused credentials, a changed host key and
    /// other answers fail at once.
    async fn launch_with_wait(&self) -> Result<Master, ConnError> {
        let wait = self.target.connect_wait.unwrap_or(Duration::ZERO);
        let deadline = Instant::now() + wait;
        let mut delay = FIRST_RETRY;
        loop {
            let message = match self.launch_master().await {
                Err(ConnError::Unreachable(m)) if not_answering_yet(&m) => m,
                other => return other,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(ConnError::Unreachable(if wait.is_zero() {
                    message
                } else {
                    format!(
                        "{message} (still not answering after waiting {} s for {}; hook_runner_connect_wait or --connect-wait sets how long)",
                        wait.as_secs(),
                        self.host_and_port()
                    )
                }));
            }
            let remaining = deadline - now;
            let pause = delay.min(remaining);
            tracing::warn!(
                "{} does not answer SSH yet ({}); retrying in {} s, giving up in {} s",
                self.host_and_port(),
                ssh_cause(&message),
                pause.as_secs_f32().ceil(),
                remaining.as_secs_f32().ceil()
            );
            tokio::time::sleep(pause).await;
            delay = (delay * 2).min(MAX_RETRY);
        }
    }

    /// `host:port` for messages.
    fn host_and_port(&self) -> String {
        format!("{}:{}", self.target.address, self.target.port.unwrap_or(22))
    }

    async fn launch_master(&self) -> Result<Master, ConnError> {
        check_passwd_entry()?;
        let dir = make_control_dir(Path::new(&self.policy.control_dir))?;
        let ctl = dir.join("m");
        let log = dir.join("log");
        let err_path = dir.join("err");
        let args = self.master_args(&ctl, &log);
        match run_master(&args, &ctl, &err_path, self.connect_timeout()).await {
            Ok(MasterStart::Ready(process)) => {
                let session =
                    Session::resume_mux(ctl.into_boxed_path(), Some(log.into_boxed_path()));
                Ok(Master {
                    session: Arc::new(session),
                    dir,
                    process,
                })
            }
            Ok(MasterStart::Exited(code)) => {
                let message = master_failure_message(&log, &err_path, code);
                let _ = std::fs::remove_dir_all(&dir);
                Err(ConnError::Unreachable(message))
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    fn connect_timeout(&self) -> Duration {
        self.target
            .connect_timeout
            .unwrap_or(self.policy.connect_timeout)
    }

    /// The master's argument list (everything after `ssh`).
    fn master_args(&self, ctl: &Path, log: &Path) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "-E".into(),
            log.display().to_string(),
            "-S".into(),
            ctl.display().to_string(),
            "-M".into(),
            "-N".into(),
            "-o".into(),
            "ControlPersist=no".into(),
            "-o".into(),
            "BatchMode=yes".into(),
        ];
        a.extend(self.target.extra_args.iter().cloned());
        if self.policy.host_key_checking {
            a.extend(["-o".into(), "StrictHostKeyChecking=yes".into()]);
            if let Some(kh) = &self.policy.known_hosts {
                a.extend(["-o".into(), format!("UserKnownHostsFile={kh}")]);
            }
        } else {
            a.extend([
                "-o".into(),
                "StrictHostKeyChecking=no".into(),
                "-o".into(),
                "UserKnownHostsFile=/dev/null".into(),
                "-o".into(),
                // INFO, not ERROR: the keepalive's `Timeout, server X not responding.` is an
                // INFO line; the host key notice it also keeps is left out of messages.
                "LogLevel=INFO".into(),
            ]);
        }
        let secs = self.connect_timeout().as_secs().max(1);
        a.extend(["-o".into(), format!("ConnectTimeout={secs}")]);
        // A link that dies while a command runs is noticed within a minute (ssh has no
        // keepalive by default: the run would wait for the pod's deadline).
        a.extend([
            "-o".into(),
            format!("ServerAliveInterval={}", KEEPALIVE_INTERVAL.as_secs()),
            "-o".into(),
            format!("ServerAliveCountMax={KEEPALIVE_COUNT}"),
        ]);
        a.extend([
            "-o".into(),
            "KbdInteractiveAuthentication=no".into(),
            "-o".into(),
            "PasswordAuthentication=no".into(),
        ]);
        if let Some(port) = self.target.port {
            a.extend(["-p".into(), port.to_string()]);
        }
        if let Some(user) = &self.target.user {
            a.extend(["-l".into(), user.clone()]);
        }
        match &self.target.private_key_file {
            Some(key) => a.extend(["-i".into(), key.clone()]),
            None => {
                for id in self.home_identities() {
                    a.extend(["-o".into(), format!("IdentityFile={}", id.display())]);
                }
            }
        }
        a.push("--".into());
        a.push(self.target.address.clone());
        a
    }

    /// Default identities under `$HOME/.ssh` when `$HOME` is not the passwd home (which ssh
    /// searches by itself). Listing any identity turns ssh's defaults off, so the passwd home's
    /// existing defaults are listed too.
    fn home_identities(&self) -> Vec<PathBuf> {
        let home = self
            .home_override
            .clone()
            .or_else(|| std::env::var_os("HOME").map(PathBuf::from));
        let Some(home) = home else {
            return vec![];
        };
        let pw_home = passwd_home();
        if pw_home.as_deref() == Some(home.as_path()) {
            return vec![];
        }
        let in_home = existing_identities(&home);
        if in_home.is_empty() {
            return vec![];
        }
        let mut all = in_home;
        if let Some(pw) = pw_home {
            all.extend(existing_identities(&pw));
        }
        all
    }

    /// Runs one prepared command line over the master. The channel's stdin stays open until the
    /// output is complete: closing it early is what ends the command on the host
    /// ([`watchdog`]). `input` is the byte count [`watchdog::wrap`] was built with.
    async fn run_remote(
        &self,
        session: &Session,
        command: &str,
        request: &ExecRequest,
        input: Option<u64>,
    ) -> Result<ExecOutput, RunError> {
        let mut cmd = session.raw_command(command);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().await.map_err(RunError::Spawn)?;
        let stdin_pipe = child.stdin().take();
        // The remote command may exit without reading everything: not an error.
        let feed = watchdog::feed_and_hold(stdin_pipe, request, input);
        let (held, out) = tokio::join!(feed, child.wait_with_output());
        drop(held);
        let out = out.map_err(RunError::Wait)?;
        let rc = out.status.code().unwrap_or(-1);
        Ok(ExecOutput {
            rc,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Runs `command` once, starting a new master when the old one is gone.
    async fn exec_with_reconnect(
        &self,
        command: &str,
        request: &ExecRequest,
        input: Option<u64>,
    ) -> Result<ExecOutput, ConnError> {
        let _permit = self
            .channels
            .acquire()
            .await
            .map_err(|_| ConnError::Other("SSH channel limiter closed".into()))?;
        let mut retried = false;
        loop {
            let session = self.session().await?;
            match self.run_remote(&session, command, request, input).await {
                Ok(out) => return Ok(out),
                // The command never started: a dead master is restarted once.
                Err(RunError::Spawn(e)) if !retried => {
                    tracing::debug!(host = %self.target.address, "ssh master unusable ({e}); reconnecting");
                    retried = true;
                    self.drop_master(&session).await;
                }
                Err(RunError::Spawn(e)) => {
                    self.drop_master(&session).await;
                    return Err(unreachable(&format!("mux connection failed: {e}")));
                }
                Err(RunError::Wait(e)) => {
                    let alive = session.check().await.is_ok();
                    if !alive {
                        tracing::debug!(host = %self.target.address, "ssh connection lost ({e})");
                        let cause = self.lost_connection_cause(&session).await;
                        self.drop_master(&session).await;
                        return Err(unreachable(&cause));
                    }
                    // The master is fine, so the remote process died (killed by a signal).
                    return Ok(ExecOutput {
                        rc: -1,
                        stdout: vec![],
                        stderr: format!("remote process terminated: {e}").into_bytes(),
                    });
                }
            }
        }
    }
}

impl SshConnection {
    /// Why the master's connection ended, in ssh's own words: what the master wrote to its log
    /// (`Timeout, server X not responding.` when the keepalive gave up on a cut link,
    /// `client_loop: send disconnect: Broken pipe`, ...); when it wrote nothing, the signal
    /// that killed it, or else what the ssh client says when the server closes the connection
    /// (sshd killed, host shut down): `Connection to X closed by remote host.`
    async fn lost_connection_cause(&self, dead: &Arc<Session>) -> String {
        let log = dead
            .control_socket()
            .parent()
            .map(|dir| dir.join("log"))
            .unwrap_or_default();
        let status = self.master_exit_status(dead, Duration::from_secs(1)).await;
        // The last line is ssh's last word; earlier ones are from the connection's start.
        let text = ssh_log_text(&log);
        if let Some(last) = text.lines().last() {
            return last.to_string();
        }
        use std::os::unix::process::ExitStatusExt;
        match status.and_then(|s| s.signal()) {
            Some(signal) => format!("the ssh master process was killed by signal {signal}"),
            None => format!(
                "Connection to {} closed by remote host.",
                self.target.address
            ),
        }
    }

    /// The exit status of `dead`'s master process, waited for up to `grace` (ssh writes its
    /// last words to the log before it exits). `None` when it still runs or is not our child.
    async fn master_exit_status(
        &self,
        dead: &Arc<Session>,
        grace: Duration,
    ) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + grace;
        loop {
            {
                let mut slot = self.master.lock().await;
                let master = slot.as_mut().filter(|m| Arc::ptr_eq(&m.session, dead))?;
                match master.process.as_mut()?.try_wait() {
                    Ok(Some(status)) => return Some(status),
                    Ok(None) if Instant::now() < end => {}
                    _ => return None,
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What ssh wrote to a log file (`-E`), without its carriage returns and without the notice
/// about adding a host key to `/dev/null` (`LogLevel=INFO` keeps it, with the timeout line).
fn ssh_log_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.replace('\r', "")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why one remote command failed.
enum RunError {
    /// Opening the channel failed: nothing ran.
    Spawn(openssh::Error),
    /// The channel broke while the command ran.
    Wait(openssh::Error),
}

#[async_trait]
impl Connection for SshConnection {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, ConnError> {
        // The watchdog goes innermost (inside become and the remote `timeout`), where it may
        // signal the command's process group.
        let input = watchdog::input_len(&request);
        let guarded = ExecRequest {
            script: watchdog::wrap(&request.script, input),
            become_: request.become_.clone(),
            env: request.env.clone(),
            ..ExecRequest::default()
        };
        let prepared = r#become::prepare(&guarded)?;
        let command = match request.timeout {
            Some(limit) => with_remote_timeout(&prepared.command, limit),
            None => prepared.command.clone(),
        };
        // Connect first (or reuse the master): waiting for a host that does not answer yet
        // (`--connect-wait`) must not be cut short by the task's own timeout, which bounds the
        // command (a first task such as Gathering Facts has 60 s, the wait 300 s).
        self.session().await?;
        let started = Instant::now();
        let run = self.exec_with_reconnect(&command, &request, input);
        let output = match request.timeout {
            // Backstop when the host has no `timeout` utility, or does not answer any more:
            // drop the channel. Nothing came back from the host well after its own `timeout`
            // should have ended the command, so the master is suspect (a cut link is not seen
            // by an idle master until its keepalive gives up): the next command reconnects.
            Some(limit) => match tokio::time::timeout(limit + Duration::from_secs(5), run).await {
                Ok(result) => result?,
                Err(_) => {
                    self.close().await;
                    return Err(ConnError::Timeout(limit.as_secs()));
                }
            },
            None => run.await?,
        };
        if let Some(limit) = request.timeout {
            let killed = output.rc == 124 || output.rc == 137;
            if killed && started.elapsed() >= limit {
                return Err(ConnError::Timeout(limit.as_secs()));
            }
        }
        if output.rc == 255 {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(unreachable(stderr.trim()));
        }
        r#become::finish(output, &prepared, &request)
    }

    async fn close(&self) {
        let old = self.master.lock().await.take();
        if let Some(m) = old {
            shutdown(m).await;
        }
    }

    fn transport(&self) -> &'static str {
        "ssh"
    }
}

impl Drop for SshConnection {
    /// A connection dropped without `close()` still ends its master (a short blocking
    /// `ssh -O exit`), so no ssh process outlives the run.
    fn drop(&mut self) {
        if let Some(m) = self.master.get_mut().take() {
            let ctl = m.session.control_socket().to_path_buf();
            let _ = std::process::Command::new("ssh")
                .arg("-S")
                .arg(&ctl)
                .args(["-O", "exit", "x"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&m.dir);
            if let Some(mut child) = m.process {
                // Ends the process if `-O exit` did not, and reaps it.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Ends a master: `Session::close` when no command holds it, else `ssh -O exit`; then waits
/// for (reaps) the master process.
async fn shutdown(master: Master) {
    let ctl = master.session.control_socket().to_path_buf();
    let process = master.process;
    match Arc::try_unwrap(master.session) {
        Ok(session) => {
            let _ = session.close().await;
        }
        Err(_) => {
            let _ = tokio::process::Command::new("ssh")
                .arg("-S")
                .arg(&ctl)
                .args(["-O", "exit", "x"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await;
        }
    }
    if let Some(mut child) = process {
        reap_within(&mut child, Duration::from_secs(2)).await;
    }
    let _ = std::fs::remove_dir_all(&master.dir);
}

/// Waits up to `grace` for the master to exit (polling: it is a `std` child, see
/// [`spawn_master_process`]), then kills it; reaps it either way. The polls start at 1 ms and
/// back off to 20 ms: the master usually exits within a few ms of the mux `exit`, and this
/// wait is on the run's critical path (the last thing before the summary).
async fn reap_within(child: &mut std::process::Child, grace: Duration) {
    let end = Instant::now() + grace;
    let mut pause = Duration::from_millis(1);
    while Instant::now() < end {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether a failed connection means "nothing answers yet" (a VM still booting: refused, no
/// route, timed out, closed before the banner) rather than an answer that will not change
/// (authentication, host key, unknown name, no ssh client).
fn not_answering_yet(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    const FINAL: &[&str] = &[
        "permission denied",
        "host key verification failed",
        "remote host identification has changed",
        "could not resolve hostname",
        "no user exists for uid",
        "not installed",
        "too many authentication failures",
    ];
    const NOT_YET: &[&str] = &[
        "connection refused",
        "no route to host",
        "network is unreachable",
        "connection timed out",
        "operation timed out",
        "connection closed by",
        "connection reset by",
        "kex_exchange_identification",
        "banner exchange",
        "did not finish connecting",
    ];
    !FINAL.iter().any(|f| m.contains(f)) && NOT_YET.iter().any(|n| m.contains(n))
}

/// ssh's own words in an unreachable message (without Ansible's prefix), for retry warnings.
fn ssh_cause(message: &str) -> &str {
    message
        .strip_prefix("Failed to connect to the host via ssh: ")
        .unwrap_or(message)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
}

fn unreachable(detail: &str) -> ConnError {
    ConnError::Unreachable(format!("Failed to connect to the host via ssh: {detail}"))
}

/// Runs `command` under the remote `timeout` utility when the host has one.
fn with_remote_timeout(command: &str, limit: Duration) -> String {
    let secs = limit.as_secs().max(1);
    let script = format!(
        "if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {secs} /bin/sh -c {q}; else exec /bin/sh -c {q}; fi",
        q = quote(command)
    );
    format!("exec /bin/sh -c {}", quote(&script))
}

/// How starting a master ended.
enum MasterStart {
    /// The control socket answers. The process is our child (`None` when it forked into the
    /// background because the user's options asked for it, e.g. `-f`).
    Ready(Option<std::process::Child>),
    /// ssh exited before the socket answered (its exit code).
    Exited(Option<i32>),
}

/// Starts the master in the foreground, as a child of this process: no `ssh -f`, so the master
/// is never reparented to PID 1 (where, without an init, it would stay a zombie) and is reaped
/// here. It is ready when its control socket answers a mux alive check.
async fn run_master(
    args: &[String],
    ctl: &Path,
    err_path: &Path,
    connect_timeout: Duration,
) -> Result<MasterStart, ConnError> {
    let err_file = std::fs::File::create(err_path)
        .map_err(|e| ConnError::Other(format!("cannot create {}: {e}", err_path.display())))?;
    let mut cmd = std::process::Command::new("ssh");
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(err_file);
    let mut child = spawn_master_process(cmd).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            unreachable("the OpenSSH client `ssh` is not installed or not on PATH")
        } else {
            unreachable(&format!("cannot run ssh: {e}"))
        }
    })?;
    // ConnectTimeout bounds the TCP connect only; a stuck ProxyCommand or banner exchange is
    // bounded here.
    let bound = connect_timeout + Duration::from_secs(20);
    let started = Instant::now();
    loop {
        let exited = child
            .try_wait()
            .map_err(|e| unreachable(&format!("waiting for ssh failed: {e}")))?;
        if socket_answers(ctl).await {
            return Ok(MasterStart::Ready(match exited {
                None => Some(child),
                Some(_) => None,
            }));
        }
        if let Some(status) = exited {
            return Ok(MasterStart::Exited(status.code()));
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            return Err(unreachable(&format!(
                "ssh did not finish connecting within {} seconds",
                bound.as_secs()
            )));
        }
        // Short: the wait for the socket is on every run's critical path, and a poll that
        // finds no socket file yet costs one `stat`.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Starts the master so that it dies with this process: `PR_SET_PDEATHSIG` sends it SIGTERM
/// (ssh then removes its control socket and closes the connection, which ends the remote
/// command through the watchdog) when hook-runner is killed outright (SIGKILL, the OOM killer)
/// and cannot close it. The signal fires when the *thread* that forked the master exits, not
/// the process: tokio's blocking threads end when idle and a worker may be retired, so every
/// master is forked by one dedicated thread that lives as long as the process.
async fn spawn_master_process(cmd: std::process::Command) -> std::io::Result<std::process::Child> {
    use std::sync::mpsc;
    use std::sync::OnceLock;
    type Job = (
        std::process::Command,
        tokio::sync::oneshot::Sender<std::io::Result<std::process::Child>>,
    );
    static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ssh-master-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    die_with_this_process(&mut cmd);
                    let _ = reply.send(cmd.spawn());
                }
            })
            .ok()
            .map(|_| tx)
    });
    let Some(spawner) = spawner else {
        return Err(std::io::Error::other(
            "cannot start the thread that starts ssh masters",
        ));
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    spawner
        .send((cmd, reply))
        .map_err(|_| std::io::Error::other("the ssh master spawner thread is gone"))?;
    answer
        .await
        .map_err(|_| std::io::Error::other("the ssh master spawner thread is gone"))?
}

/// Makes the child get SIGTERM when the thread that forks it (and so this process) ends.
fn die_with_this_process(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure only calls prctl and getppid (async-signal-safe) and allocates
    // nothing but the error value on failure.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGTERM as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before the prctl took effect: the signal will never come.
            if libc::getppid() != parent {
                return Err(std::io::Error::other(
                    "hook-runner exited while starting ssh",
                ));
            }
            Ok(())
        });
    }
}

/// Whether a mux master listens on `ctl`.
async fn socket_answers(ctl: &Path) -> bool {
    if !ctl.exists() {
        return false;
    }
    let probe = Session::resume_mux(ctl.to_path_buf().into_boxed_path(), None);
    // A resumed session does not end the master when dropped.
    probe.check().await.is_ok()
}

/// ssh's own words from its log and stderr, as Ansible shows them.
fn master_failure_message(log: &Path, err: &Path, code: Option<i32>) -> String {
    let mut text = String::new();
    for p in [err, log] {
        let t = ssh_log_text(p);
        if !t.is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&t);
        }
    }
    if text.is_empty() {
        text = format!(
            "ssh exited with status {} and printed nothing",
            code.map(|c| c.to_string())
                .unwrap_or_else(|| "unknown".into())
        );
    }
    format!("Failed to connect to the host via ssh: {text}")
}

/// The OpenSSH client exits 255 with "No user exists for uid N" when the controller's uid
/// has no passwd entry (arbitrary UIDs on OpenShift); say so before ssh hides it.
fn check_passwd_entry() -> Result<(), ConnError> {
    // SAFETY: getuid has no preconditions; getpwuid returns NULL or a pointer to static data
    // that is only checked for NULL here.
    let (uid, found) = unsafe {
        let uid = libc::getuid();
        (uid, !libc::getpwuid(uid).is_null())
    };
    if found {
        Ok(())
    } else {
        Err(unreachable(&format!(
            "No user exists for uid {uid}: the SSH client needs a passwd entry for the user it runs as (use the image entrypoint, which adds one, or nss_wrapper)"
        )))
    }
}

/// The passwd entry's home directory of the current uid.
fn passwd_home() -> Option<PathBuf> {
    use std::ffi::CStr;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: the entry is copied out before any other passwd call can overwrite it.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_dir.is_null() {
            return None;
        }
        let dir = CStr::from_ptr((*pw).pw_dir);
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes())))
    }
}

fn existing_identities(home: &Path) -> Vec<PathBuf> {
    DEFAULT_IDENTITIES
        .iter()
        .map(|n| home.join(".ssh").join(n))
        .filter(|p| p.is_file())
        .collect()
}

/// Creates a private (0700) directory for one master under the policy's control dir.
fn make_control_dir(base: &Path) -> Result<PathBuf, ConnError> {
    use std::os::unix::fs::DirBuilderExt;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = base.join(format!("hr{}-{n}", std::process::id()));
    let socket_len = dir.join("m").as_os_str().len();
    if socket_len > MAX_CONTROL_PATH {
        return Err(ConnError::Other(format!(
            "the SSH control directory {} is too long for a unix socket path ({socket_len} > {MAX_CONTROL_PATH} bytes): use a short directory such as /tmp",
            base.display()
        )));
    }
    let _ = std::fs::remove_dir_all(&dir);
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| remove_stale_control_dirs(base));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(false)
        .create(&dir)
        .map_err(|e| {
            ConnError::Other(format!(
                "cannot create the SSH control directory {}: {e}",
                dir.display()
            ))
        })?;
    Ok(dir)
}

/// Removes the control dirs (`hrPID-N`) that runs killed outright left in `base`: only those
/// of our uid whose process is gone and whose master socket, if any, refuses connections, so a
/// shared directory (a multi-user `/tmp`) never loses another user's or a live run's master.
/// (In a pod, `/tmp` is private and ends with the pod: this only matters on a shared machine.)
fn remove_stale_control_dirs(base: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(control_dir_pid) else {
            continue;
        };
        let path = entry.path();
        let ours = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if ours && !process_exists(pid) && !socket_accepts(&path.join("m")) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// The pid in a control dir name `hrPID-N`.
fn control_dir_pid(name: &str) -> Option<i32> {
    let (pid, n) = name.strip_prefix("hr")?.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok().filter(|p| *p > 0)
}

fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether something listens on the unix socket `path` (a missing socket does not).
fn socket_accepts(path: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// How a host is reached (`ansible_connection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Local,
    Ssh,
}

/// Reads `ansible_connection`: `local`, `ssh` or `smart` (= ssh); absent means ssh.
pub fn connection_kind(vars: &Map) -> Result<Kind, String> {
    match vars.get("ansible_connection") {
        None | Some(Value::Null) => Ok(Kind::Ssh),
        Some(Value::String(s)) => match s.as_str() {
            "local" => Ok(Kind::Local),
            "ssh" | "smart" => Ok(Kind::Ssh),
            other => Err(format!(
                "the connection plugin '{other}' is not supported by hook-runner (supported: local, ssh, smart)"
            )),
        },
        Some(other) => Err(format!(
            "ansible_connection must be a string, got {other}"
        )),
    }
}

/// Builds an [`SshTarget`] from a host's variables (Ansible's names and aliases, §2.6).
pub fn target_from_vars(inventory_name: &str, vars: &Map) -> Result<SshTarget, String> {
    for key in [
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_ssh_password",
    ] {
        if matches!(vars.get(key), Some(v) if !is_empty(v)) {
            return Err(format!(
                "{key} is set for host {inventory_name}: hook-runner connects with SSH keys only; set ansible_ssh_private_key_file or write the key to ~/.ssh/id_rsa"
            ));
        }
    }
    let address = first_str(vars, &["ansible_host", "ansible_ssh_host"])?
        .unwrap_or_else(|| inventory_name.to_string());
    let port = match first(vars, &["ansible_port", "ansible_ssh_port"]) {
        Some((key, v)) => Some(as_port(key, v)?),
        None => None,
    };
    let user = first_str(vars, &["ansible_user", "ansible_ssh_user", "remote_user"])?;
    let private_key_file = first_str(
        vars,
        &["ansible_ssh_private_key_file", "ansible_private_key_file"],
    )?
    .map(|k| expand_home(&k));
    let mut extra_args = Vec::new();
    for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(text) = first_str(vars, &[key])? {
            extra_args.extend(crate::shell::posix_words(&text).map_err(|e| format!("{key}: {e}"))?);
        }
    }
    let connect_timeout = match first(vars, &["ansible_ssh_timeout", "ansible_timeout"]) {
        Some((key, v)) => Some(Duration::from_secs(as_u64(key, v)?)),
        None => None,
    };
    let connect_wait = match first(vars, &["hook_runner_connect_wait"]) {
        Some((key, v)) => Some(Duration::from_secs(as_u64(key, v)?)),
        None => None,
    };
    Ok(SshTarget {
        address,
        port,
        user,
        private_key_file,
        extra_args,
        connect_timeout,
        connect_wait,
    })
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn first<'a>(vars: &'a Map, keys: &[&'static str]) -> Option<(&'static str, &'a Value)> {
    keys.iter()
        .find_map(|k| vars.get(*k).filter(|v| !v.is_null()).map(|v| (*k, v)))
}

fn first_str(vars: &Map, keys: &[&'static str]) -> Result<Option<String>, String> {
    match first(vars, keys) {
        None => Ok(None),
        Some((_, Value::String(s))) => Ok(Some(s.clone())),
        Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
        Some((key, other)) => Err(format!("{key} must be a string, got {other}")),
    }
}

fn as_u64(key: &str, v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{key} must be a non-negative integer, got {v}"))
}

fn as_port(key: &str, v: &Value) -> Result<u16, String> {
    let n = as_u64(key, v)?;
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{key} must be a port number (1-65535), got {v}"))
}

/// `~` and `~/x` from `$HOME`, as Ansible's `os.path.expanduser`.
fn expand_home(path: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    if home.is_empty() {
        return path.to_string();
    }
    if path == "~" {
        home
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("{}/{rest}", home.trim_end_matches('/'))
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Map {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn target_defaults_to_the_inventory_name() {
        let t = target_from_vars("vm1", &Map::new()).unwrap();
        assert_eq!(t.address, "vm1");
        assert_eq!(t.port, None);
        assert_eq!(t.user, None);
    }

    #[test]
    fn target_reads_ansible_variables_and_aliases() {
        let t = target_from_vars(
            "vm1",
            &vars(json!({
                "ansible_ssh_host": "10.0.0.5",
                "ansible_port": "2222",
                "ansible_ssh_user": "cloud-user",
                "ansible_private_key_file": "/keys/id",
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o 'ProxyCommand=ssh -W %h:%p jump'",
                "ansible_ssh_extra_args": "-J \"a b\"",
                "ansible_timeout": 7,
            })),
        )
        .unwrap();
        assert_eq!(t.address, "10.0.0.5");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.user.as_deref(), Some("cloud-user"));
        assert_eq!(t.private_key_file.as_deref(), Some("/keys/id"));
        assert_eq!(
            t.extra_args,
            vec![
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "ProxyCommand=ssh -W %h:%p jump",
                "-J",
                "a b"
            ]
        );
        assert_eq!(t.connect_timeout, Some(Duration::from_secs(7)));
    }

    #[test]
    fn ansible_host_wins_over_ansible_ssh_host() {
        let t = target_from_vars(
            "vm",
            &vars(json!({"ansible_host": "a", "ansible_ssh_host": "b"})),
        )
        .unwrap();
        assert_eq!(t.address, "a");
    }

    #[test]
    fn passwords_are_refused_with_a_clear_message() {
        let err = target_from_vars("vm", &vars(json!({"ansible_password": "x"}))).unwrap_err();
        assert!(
            err.contains("ansible_password") && err.contains("keys only"),
            "{err}"
        );
        assert!(
            !err.contains(": x"),
            "the password must not be echoed: {err}"
        );
        let err = target_from_vars("vm", &vars(json!({"ansible_ssh_pass": "x"}))).unwrap_err();
        assert!(err.contains("ansible_ssh_pass"));
        assert!(target_from_vars("vm", &vars(json!({"ansible_password": ""}))).is_ok());
    }

    #[test]
    fn bad_ports_are_refused() {
        assert!(target_from_vars("vm", &vars(json!({"ansible_port": "http"}))).is_err());
        assert!(target_from_vars("vm", &vars(json!({"ansible_port": 70000}))).is_err());
    }

    #[test]
    fn unterminated_quotes_in_ssh_args_are_errors() {
        let err =
            target_from_vars("vm", &vars(json!({"ansible_ssh_common_args": "-o 'x"}))).unwrap_err();
        assert!(err.starts_with("ansible_ssh_common_args:"), "{err}");
    }

    #[test]
    fn connection_kinds() {
        assert_eq!(connection_kind(&Map::new()), Ok(Kind::Ssh));
        assert_eq!(
            connection_kind(&vars(json!({"ansible_connection": "local"}))),
            Ok(Kind::Local)
        );
        assert_eq!(
            connection_kind(&vars(json!({"ansible_connection": "smart"}))),
            Ok(Kind::Ssh)
        );
        let err = connection_kind(&vars(json!({"ansible_connection": "winrm"}))).unwrap_err();
        assert!(err.contains("'winrm' is not supported"), "{err}");
    }

    #[test]
    fn master_args_put_user_options_first_and_end_with_the_host() {
        let target = SshTarget {
            address: "-oProxyCommand=evil".into(),
            port: Some(2200),
            user: Some("u".into()),
            private_key_file: Some("/k".into()),
            extra_args: vec!["-o".into(), "UserKnownHostsFile=/mine".into()],
            ..SshTarget::default()
        };
        let c = SshConnection::new(target, SshPolicy::default());
        let a = c.master_args(Path::new("/tmp/x/m"), Path::new("/tmp/x/log"));
        let user_pos = a
            .iter()
            .position(|s| s == "UserKnownHostsFile=/mine")
            .unwrap();
        let ours = a
            .iter()
            .position(|s| s == "UserKnownHostsFile=/dev/null")
            .unwrap();
        assert!(user_pos < ours);
        assert_eq!(&a[a.len() - 2..], &["--", "-oProxyCommand=evil"]);
        assert!(a.windows(2).any(|w| w == ["-i", "/k"]));
        assert!(a.windows(2).any(|w| w == ["-p", "2200"]));
        assert!(a.windows(2).any(|w| w == ["-l", "u"]));
        assert!(a.contains(&"ConnectTimeout=10".to_string()));
        assert!(a.windows(2).any(|w| w == ["-o", "ServerAliveInterval=15"]));
        assert!(a.windows(2).any(|w| w == ["-o", "ServerAliveCountMax=4"]));
    }

    #[test]
    fn strict_host_key_checking_uses_the_policy_file() {
        let policy = SshPolicy {
            host_key_checking: true,
            known_hosts: Some("/etc/kh".into()),
            ..SshPolicy::default()
        };
        let c = SshConnection::new(SshTarget::default(), policy);
        let a = c.master_args(Path::new("/tmp/x/m"), Path::new("/tmp/x/log"));
        assert!(a.contains(&"StrictHostKeyChecking=yes".to_string()));
        assert!(a.contains(&"UserKnownHostsFile=/etc/kh".to_string()));
        assert!(!a.contains(&"StrictHostKeyChecking=no".to_string()));
    }

    #[test]
    fn home_identities_are_listed_when_home_is_not_the_passwd_home() {
        let dir = std::env::temp_dir().join(format!("hr-ssh-home-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".ssh")).unwrap();
        std::fs::write(dir.join(".ssh/id_rsa"), "k").unwrap();
        let c = SshConnection::new(SshTarget::default(), SshPolicy::default()).with_home(&dir);
        let a = c.master_args(Path::new("/tmp/x/m"), Path::new("/tmp/x/log"));
        let expected = format!("IdentityFile={}", dir.join(".ssh/id_rsa").display());
        assert!(a.contains(&expected), "{a:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ssh_logs_are_quoted_without_the_host_key_notice() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(
            &log,
            "Warning: Permanently added '[10.0.0.1]:22' (ED25519) to the list of known hosts.\r\nTimeout, server 10.0.0.1 not responding.\r\n",
        )
        .unwrap();
        assert_eq!(
            ssh_log_text(&log),
            "Timeout, server 10.0.0.1 not responding."
        );
        assert_eq!(ssh_log_text(&dir.path().join("none")), "");
    }

    #[test]
    fn long_control_dirs_are_refused_with_a_reason() {
        let long = format!("/tmp/{}", "x".repeat(120));
        match make_control_dir(Path::new(&long)) {
            Err(ConnError::Other(m)) => assert!(m.contains("too long"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stale_control_dirs_of_dead_runs_are_removed_and_live_ones_kept() {
        let base = tempfile::tempdir().unwrap();
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let dead = gone.id();
        gone.wait().unwrap();
        let dir = |name: String| {
            let p = base.path().join(name);
            std::fs::create_dir(&p).unwrap();
            p
        };
        let stale = dir(format!("hr{dead}-0"));
        std::fs::write(stale.join("log"), "x").unwrap();
        let ours = dir(format!("hr{}-7", std::process::id()));
        let listening = dir(format!("hr{dead}-1"));
        let _listener = std::os::unix::net::UnixListener::bind(listening.join("m")).unwrap();
        let other = dir("hrx-1".into());
        remove_stale_control_dirs(base.path());
        assert!(!stale.exists(), "a dead run's control dir was kept");
        assert!(ours.exists() && listening.exists() && other.exists());
    }

    #[test]
    fn remote_timeout_wraps_the_command_as_one_word() {
        let w = with_remote_timeout("/bin/sh -c 'sleep 9'", Duration::from_secs(3));
        assert!(w.starts_with("exec /bin/sh -c '"), "{w}");
        assert!(w.contains("timeout -k 5 3 /bin/sh -c"), "{w}");
    }

    #[test]
    fn hosts_that_do_not_answer_yet_are_told_from_final_refusals() {
        for waiting in [
            "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.1 port 22: Connection refused",
            "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.1 port 22: No route to host",
            "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.1 port 22: Connection timed out",
            "Failed to connect to the host via ssh: kex_exchange_identification: read: Connection reset by peer",
            "Failed to connect to the host via ssh: Connection closed by 10.0.0.1 port 22",
            "Failed to connect to the host via ssh: ssh did not finish connecting within 30 seconds",
        ] {
            assert!(not_answering_yet(waiting), "{waiting}");
        }
        for final_answer in [
            "Failed to connect to the host via ssh: root@10.0.0.1: Permission denied (publickey).",
            "Failed to connect to the host via ssh: Host key verification failed.",
            "Failed to connect to the host via ssh: ssh: Could not resolve hostname vm: Name or service not known",
            "Failed to connect to the host via ssh: No user exists for uid 1000770000: the SSH client needs a passwd entry",
            "Failed to connect to the host via ssh: the OpenSSH client `ssh` is not installed or not on PATH",
        ] {
            assert!(!not_answering_yet(final_answer), "{final_answer}");
        }
        assert_eq!(
            ssh_cause("Failed to connect to the host via ssh: warning\nssh: connect to host h port 22: Connection refused"),
            "ssh: connect to host h port 22: Connection refused"
        );
    }

    #[test]
    fn the_connect_wait_comes_from_a_host_variable() {
        let t = target_from_vars("vm", &vars(json!({"hook_runner_connect_wait": "45"}))).unwrap();
        assert_eq!(t.connect_wait, Some(Duration::from_secs(45)));
        let t = target_from_vars("vm", &vars(json!({"hook_runner_connect_wait": 0}))).unwrap();
        assert_eq!(t.connect_wait, Some(Duration::ZERO));
        assert_eq!(
            target_from_vars("vm", &Map::new()).unwrap().connect_wait,
            None
        );
        let err =
            target_from_vars("vm", &vars(json!({"hook_runner_connect_wait": "soon"}))).unwrap_err();
        assert!(
            err.contains("hook_runner_connect_wait must be a non-negative integer"),
            "{err}"
        );
    }

    #[test]
    fn master_failures_quote_ssh_from_its_log_and_stderr() {
        let dir = std::env::temp_dir().join(format!("hr-ssh-fail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (log, err) = (dir.join("log"), dir.join("err"));
        std::fs::write(
            &log,
            "ssh: connect to host 10.0.0.1 port 22: Connection refused\r\n",
        )
        .unwrap();
        std::fs::write(&err, "").unwrap();
        assert_eq!(
            master_failure_message(&log, &err, Some(255)),
            "Failed to connect to the host via ssh: ssh: connect to host 10.0.0.1 port 22: Connection refused"
        );
        std::fs::write(&log, "").unwrap();
        assert_eq!(
            master_failure_message(&log, &err, Some(255)),
            "Failed to connect to the host via ssh: ssh exited with status 255 and printed nothing"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
