//! The `local` connection: scripts run on the controller with `/bin/sh -c`.
//!
//! Semantics: Ansible's `local` connection (`ansible_connection=local`, the implicit localhost).
//! The script runs in its own process group with the task's environment exported inside the
//! shell (and inside the become wrapper, see [`super::become`]); stdin bytes are written to
//! the script, stdout and stderr are captured whole; what the script leaves running in the
//! background may keep them open, so once it has exited they are read only until they stay
//! quiet for a second (see [`collect_output`]). When the task's `timeout` passes, the
//! whole process group is killed (so `sleep` children die too) and the result is
//! [`ConnError::Timeout`]. When the call is dropped before the script ends (the run was
//! cancelled: SIGTERM), the whole process group is killed as well, so nothing the task
//! started outlives the run. A local command never makes a host unreachable.

use super::r#become;
use super::{ConnError, Connection, ExecOutput, ExecRequest};
use async_trait::async_trait;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

/// Runs scripts on the machine hook-runner runs on.
#[derive(Debug, Default, Clone)]
pub struct LocalConnection;

impl LocalConnection {
    pub fn new() -> LocalConnection {
        LocalConnection
    }
}

#[async_trait]
impl Connection for LocalConnection {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, ConnError> {
        let prepared = r#become::prepare(&request)?;
        let output = run_shell(&prepared.command, &request).await?;
        r#become::finish(output, &prepared, &request)
    }

    async fn close(&self) {}

    fn transport(&self) -> &'static str {
        "local"
    }
}

/// Runs `/bin/sh -c command` in a new process group, feeding stdin, bounded by the timeout.
async fn run_shell(command: &str, request: &ExecRequest) -> Result<ExecOutput, ConnError> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(if request.has_stdin() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| ConnError::Other(format!("cannot run /bin/sh: {e}")))?;
    let pgid = child.id();
    // Kills the group if this future is dropped (cancel) or times out before the script ends.
    let mut group = GroupGuard { pgid, armed: true };

    // Feed stdin concurrently with reading output: a script that writes a lot before reading
    // its input must not deadlock against us.
    // A script that exits without reading its input closes the pipe: not an error.
    let feed = super::feed_stdin(child.stdin.take(), request);
    // Once the output is collected the input is abandoned too: a background child that
    // inherited stdin without reading it must not hold the call.
    let run = async {
        let collect = collect_output(&mut child);
        tokio::pin!(feed, collect);
        let mut fed = false;
        loop {
            tokio::select! {
                _ = &mut feed, if !fed => fed = true,
                out = &mut collect => break out,
            }
        }
    };

    let result = match request.timeout {
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(r) => r,
            Err(_) => return Err(ConnError::Timeout(limit.as_secs())),
        },
        None => run.await,
    };
    // The script ended by itself: what it left running in the background is its business,
    // as with Ansible.
    group.armed = false;
    let out = result.map_err(|e| ConnError::Other(format!("local command failed: {e}")))?;
    Ok(out)
}

/// How long the pipes must stay silent, once the script has exited, before what its
/// background children still hold open is abandoned.
const QUIET_AFTER_EXIT: Duration = Duration::from_secs(1);

/// Waits for the script and reads its stdout and stderr. Once the script has exited, reading
/// goes on only while the pipes keep giving output: at end of file on both, or after
/// [`QUIET_AFTER_EXIT`] without any, the output so far is the result. So a command left
/// running in the background (`yoink.sh &`), which inherits the pipes, does not hold the task
/// until it ends (as with Ansible's `run_command`); it is not killed either.
async fn collect_output(child: &mut Child) -> std::io::Result<ExecOutput> {
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let (mut out_buf, mut err_buf) = ([0u8; 8192], [0u8; 8192]);
    let mut status = None;
    loop {
        if status.is_some() && out_pipe.is_none() && err_pipe.is_none() {
            break;
        }
        let exited = status.is_some();
        tokio::select! {
            n = read_some(&mut out_pipe, &mut out_buf) => {
                take_chunk(n?, &out_buf, &mut stdout, &mut out_pipe)
            }
            n = read_some(&mut err_pipe, &mut err_buf) => {
                take_chunk(n?, &err_buf, &mut stderr, &mut err_pipe)
            }
            s = child.wait(), if !exited => status = Some(s?),
            _ = tokio::time::sleep(QUIET_AFTER_EXIT), if exited => break,
        }
    }
    let rc = match status {
        Some(s) => exit_code(&s),
        None => -1,
    };
    Ok(ExecOutput { rc, stdout, stderr })
}

/// Reads what the pipe has; never completes once the pipe is closed (`None`).
async fn read_some<R: AsyncRead + Unpin>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match pipe {
        Some(p) => p.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Keeps a chunk read from a pipe; a read of 0 bytes is end of file: the pipe is closed.
fn take_chunk<R>(n: usize, buf: &[u8], into: &mut Vec<u8>, pipe: &mut Option<R>) {
    if n == 0 {
        *pipe = None;
    } else {
        into.extend_from_slice(&buf[..n]);
    }
}

/// Kills the script's process group when dropped while armed (timeout, cancellation).
struct GroupGuard {
    pgid: Option<u32>,
    armed: bool,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            kill_group(self.pgid);
        }
    }
}

/// Kills the process group led by `pgid` (the shell and everything it started).
fn kill_group(pgid: Option<u32>) {
    if let Some(pid) = pgid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals the group we created; no memory involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// The shell convention: the exit code, or 128 + the signal number.
fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Become, BecomeMethod};
    use std::time::Instant;

    fn req(script: &str) -> ExecRequest {
        ExecRequest {
            script: script.into(),
            ..Default::default()
        }
    }

    /// An empty scratch directory for one test, named `name` and this process's id.
    fn fresh_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Runs `r` (bounded at 10 s) and asserts the call returned within 2.5 s: sooner than the
    /// 3 s background child its script leaves behind would let it.
    async fn exec_returning_promptly(mut r: ExecRequest) -> ExecOutput {
        r.timeout = Some(Duration::from_secs(10));
        let started = Instant::now();
        let out = LocalConnection.exec(r).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{:?}",
            started.elapsed()
        );
        out
    }

    #[tokio::test]
    async fn runs_a_script_and_returns_rc_and_output() {
        let out = LocalConnection
            .exec(req("echo out; echo err >&2; exit 3"))
            .await
            .unwrap();
        assert_eq!(out.rc, 3);
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[tokio::test]
    async fn exports_the_environment() {
        let mut r = req("printf '%s' \"$GREETING\"");
        r.env = vec![("GREETING".into(), "hello $(world) 'x'".into())];
        let out = LocalConnection.exec(r).await.unwrap();
        assert_eq!(out.stdout, b"hello $(world) 'x'");
    }

    #[tokio::test]
    async fn feeds_stdin() {
        let mut r = req("cat");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        r.stdin = Some(data.clone());
        let out = LocalConnection.exec(r).await.unwrap();
        assert_eq!(out.rc, 0);
        assert_eq!(out.stdout, data);
    }

    #[tokio::test]
    async fn a_script_ignoring_stdin_still_finishes() {
        let mut r = req("echo done");
        r.stdin = Some(vec![b'x'; 1_000_000]);
        let out = LocalConnection.exec(r).await.unwrap();
        assert_eq!(out.stdout, b"done\n");
    }

    #[tokio::test]
    async fn timeout_kills_the_process_group() {
        let dir = fresh_dir("hr-local");
        let marker = dir.join("survived");
        // The child sleep would create the marker if it outlived the kill.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let mut r = req(&script);
        r.timeout = Some(Duration::from_millis(300));
        let started = Instant::now();
        let err = LocalConnection.exec(r).await.unwrap_err();
        assert_eq!(err, ConnError::Timeout(0));
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "a child of the timed-out script survived");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn dropping_the_call_kills_the_process_group() {
        let dir = fresh_dir("hr-local-drop");
        let marker = dir.join("survived");
        // A child that would outlive a kill of the shell alone.
        let script = format!("(sleep 1; touch {}) & sleep 30; true", marker.display());
        let call = LocalConnection.exec(req(&script));
        // As a cancelled run does: the call is dropped while the script runs.
        let dropped = tokio::time::timeout(Duration::from_millis(300), call).await;
        assert!(
            dropped.is_err(),
            "the script should still have been running"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!marker.exists(), "a child of the dropped script survived");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_background_child_holding_the_pipes_does_not_hold_the_call() {
        let dir = fresh_dir("hr-local-bg");
        let marker = dir.join("finished");
        // The background child inherits stdout/stderr and keeps them open for 3 s; what it
        // writes promptly after the script exits is still part of the output.
        let script = format!(
            "(sleep 0.2; echo late; sleep 2.8; touch {}) & echo early",
            marker.display()
        );
        let out = exec_returning_promptly(req(&script)).await;
        assert_eq!(out.rc, 0);
        assert_eq!(out.stdout, b"early\nlate\n");
        // Not killed: it finishes its work.
        tokio::time::sleep(Duration::from_millis(3000)).await;
        assert!(marker.exists(), "the background child was killed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_background_child_ignoring_stdin_does_not_hold_the_call() {
        // The background `sleep` keeps the input pipe open (as fd 3) and never reads it.
        let mut r = req("exec 3<&0; sleep 3 & echo done");
        r.stdin = Some(vec![b'x'; 1_000_000]);
        let out = exec_returning_promptly(r).await;
        assert_eq!(out.stdout, b"done\n");
    }

    #[tokio::test]
    async fn signal_exit_is_128_plus_signal() {
        let out = LocalConnection.exec(req("kill -TERM $$")).await.unwrap();
        assert_eq!(out.rc, 128 + 15);
    }

    fn has(cmd: &str) -> bool {
        std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("command -v {cmd}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// A user other than root with a login shell, to become (root may become anyone).
    fn other_user() -> Option<String> {
        std::fs::read_to_string("/etc/passwd")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.ends_with(":/bin/sh") || l.ends_with(":/bin/bash"))
            .filter_map(|l| l.split(':').next().map(str::to_string))
            .find(|u| u != "root")
    }

    #[tokio::test]
    async fn become_with_sudo_when_available() {
        // SAFETY: getuid has no preconditions.
        let root = unsafe { libc::getuid() } == 0;
        let (true, true, Some(user)) = (has("sudo"), root, other_user()) else {
            eprintln!("sudo, root or another user missing: become-via-sudo test skipped");
            return;
        };
        let mut r = req("id -un; printf '%s|' \"$X\"; cat");
        r.env = vec![("X".into(), "kept across sudo".into())];
        r.stdin = Some(b"from stdin".to_vec());
        r.become_ = Some(Become {
            method: BecomeMethod::Sudo,
            user: user.clone(),
            flags: None,
        });
        let out = LocalConnection.exec(r).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{user}\nkept across sudo|from stdin")
        );
    }

    #[tokio::test]
    async fn become_with_su_as_root() {
        // SAFETY: getuid has no preconditions.
        let root = unsafe { libc::getuid() } == 0;
        let (true, Some(user)) = (root, other_user()) else {
            eprintln!("not root or no other user with a shell: su test skipped");
            return;
        };
        let mut r = req("id -un; echo $X");
        r.env = vec![("X".into(), "kept".into())];
        r.become_ = Some(Become {
            method: BecomeMethod::Su,
            user: user.clone(),
            flags: None,
        });
        let out = LocalConnection.exec(r).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{user}\nkept\n")
        );
    }
}
