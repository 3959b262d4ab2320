//! Connections run POSIX shell scripts on a host and return their exit code and output.
//!
//! One primitive serves every module: [`Connection::exec`] runs `/bin/sh -c SCRIPT` on the host
//! (wrapped by `become` when asked), feeding optional bytes on stdin. File contents travel on
//! stdin, so a module needs one round trip. `local` runs on the controller; `ssh` drives the
//! system OpenSSH client through one multiplexed master connection per host.
//!
//! A command whose `exec` is dropped (the run is cancelled, a timeout passed) is ended where it
//! runs: `local` kills its process group; over `ssh` the [`watchdog`] wrapped around every
//! script ends the remote process group when the channel closes.

pub mod r#become;
pub mod local;
pub mod ssh;
pub mod watchdog;

use async_trait::async_trait;
use std::time::Duration;

/// How to gain privileges for one command (`become: true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    /// `sudo` (default) or `su`.
    pub method: BecomeMethod,
    /// Target user, `root` by default.
    pub user: String,
    /// Extra flags for the method (`become_flags`); sudo defaults to `-H -S -n`.
    pub flags: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BecomeMethod {
    Sudo,
    Su,
}

/// One command to run on a host.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// A POSIX `sh` script; it is passed as one argument to `/bin/sh -c`, never re-split.
    pub script: String,
    /// Bytes for the script's standard input (file contents, `stdin:` of command/shell).
    pub stdin: Option<Vec<u8>>,
    /// A controller file streamed to the script's standard input in fixed-size chunks (never
    /// held whole in memory), when `stdin` is `None`: big `copy` sources. It is opened when the
    /// command starts, so a retried command sends it again from the start.
    pub stdin_file: Option<std::path::PathBuf>,
    pub become_: Option<Become>,
    /// Environment for the script (task and play `environment:`), exported before it runs.
    pub env: Vec<(String, String)>,
    /// Wall-clock bound (task `timeout:`); when it passes the remote command is ended.
    pub timeout: Option<Duration>,
    /// `script` is a command line for the host's login shell, as Ansible's `raw` sends it:
    /// over SSH it goes to sshd as is (no `/bin/sh -c`, no watchdog, no remote `timeout`
    /// wrapper, stdin closed at once), so it works on a host without a POSIX `sh`. `env` is
    /// not applied; `become` still wraps it as Ansible's become plugins do.
    pub raw: bool,
}

impl ExecRequest {
    /// Whether the script gets anything on stdin (else stdin is `/dev/null`).
    pub fn has_stdin(&self) -> bool {
        self.stdin.is_some() || self.stdin_file.is_some()
    }
}

/// Chunk size for streaming [`ExecRequest::stdin_file`].
const STDIN_CHUNK: usize = 256 * 1024;

/// Writes the request's stdin (bytes, or the file in [`STDIN_CHUNK`] pieces) into `pipe`, then
/// closes it. A script may exit without reading all of it: a closed pipe is not an error, and
/// an unreadable file just ends the input early (the script's own checksum check catches a
/// short transfer).
pub(crate) async fn feed_stdin<W>(pipe: Option<W>, request: &ExecRequest)
where
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let Some(mut pipe) = pipe else { return };
    if let Some(data) = &request.stdin {
        let _ = pipe.write_all(data).await;
    } else if let Some(path) = &request.stdin_file {
        if let Ok(file) = tokio::fs::File::open(path).await {
            let mut reader = tokio::io::BufReader::with_capacity(STDIN_CHUNK, file);
            let _ = tokio::io::copy_buf(&mut reader, &mut pipe).await;
        }
    }
    let _ = pipe.shutdown().await;
}

/// What a finished command returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a command could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnError {
    /// The host could not be reached or the transport broke (Ansible: UNREACHABLE).
    #[error("{0}")]
    Unreachable(String),
    /// The task's `timeout` passed.
    #[error(
        "The command action failed to execute in the expected time frame ({0}) and was terminated"
    )]
    Timeout(u64),
    /// Privilege escalation failed (wrong password, user not in sudoers...), a task failure.
    #[error("{0}")]
    Become(String),
    /// Anything else that makes the command fail without reaching the host's shell.
    #[error("{0}")]
    Other(String),
}

/// A host the engine can run commands on.
#[async_trait]
pub trait Connection: Send + Sync {
    /// Runs one script and waits for it.
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, ConnError>;
    /// Ends the connection (the SSH master); later `exec` calls reconnect.
    async fn close(&self);
    /// `local` or `ssh`, for messages.
    fn transport(&self) -> &'static str;
}

/// How to reach a host over SSH, from its variables (`ansible_host`, `ansible_port`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SshTarget {
    /// `ansible_host`, else the inventory name.
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub private_key_file: Option<String>,
    /// `ansible_ssh_common_args` + `ansible_ssh_extra_args`, split as a shell would.
    pub extra_args: Vec<String>,
    pub connect_timeout: Option<Duration>,
    /// How long a host that does not answer yet (refused, no route, timed out, closed before
    /// the banner) is retried before it is unreachable: the host variable
    /// `hook_runner_connect_wait`, else (hosts made by `add_host`) the policy's
    /// [`SshPolicy::connect_wait`], else no retry (Ansible's behaviour).
    pub connect_wait: Option<Duration>,
}

/// Process-wide SSH policy (from the command line / environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPolicy {
    /// `ANSIBLE_HOST_KEY_CHECKING`: false (the Forklift default) accepts any host key.
    pub host_key_checking: bool,
    /// known_hosts file used when checking; `~/.ssh/known_hosts` when `None`.
    pub known_hosts: Option<String>,
    /// Short writable directory for master sockets (`sun_path` is 108 bytes).
    pub control_dir: String,
    pub connect_timeout: Duration,
    /// How long hosts added by `add_host` are waited for when they do not answer SSH yet (a
    /// PostHook runs right after the target VM is created): `--connect-wait` /
    /// `HOOK_RUNNER_CONNECT_WAIT`. The engine copies it into [`SshTarget::connect_wait`].
    pub connect_wait: Duration,
}

/// Default of [`SshPolicy::connect_wait`]: enough for a freshly created VM to boot.
pub const DEFAULT_CONNECT_WAIT: Duration = Duration::from_secs(300);

impl Default for SshPolicy {
    fn default() -> Self {
        SshPolicy {
            host_key_checking: false,
            known_hosts: None,
            control_dir: "/tmp".into(),
            connect_timeout: Duration::from_secs(10),
            connect_wait: DEFAULT_CONNECT_WAIT,
        }
    }
}
