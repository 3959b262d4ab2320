//! The `local` connection: scripts run on the controller with `/bin/sh -c`.
//!
//! Semantics: Ansible's `local` connection (`ansible_connection=local`, the implicit localhost).
//! The script runs in its own process group with the task's environment exported inside the
//! shell (and inside the become wrapper, see [`super::become`]); stdin bytes are written to
//! the script, stdout and stderr are captured whole. When the task's `timeout` passes, the
//! whole process group is killed (so `sleep` children die too) and the result is
//! [`ConnError::Timeout`]. When the call is dropped before the script ends (the run was
//! cancelled: SIGTERM), the whole process group is killed as well, so nothing the task
//! started outlives the run. A local command never makes a host unreachable.

use super::r#become;
use super::{ConnError, Connection, ExecOutput, ExecRequest};
use async_trait::async_trait;
use std::process::Stdio;
use tokio::process::Command;

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
    let run = async {
        let (_, out) = tokio::join!(feed, child.wait_with_output());
        out
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
    Ok(ExecOutput {
        rc: exit_code(&out.status),
        stdout: out.stdout,
        stderr: out.stderr,
    })
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
    use std::time::{Duration, Instant};

    fn req(script: &str) -> ExecRequest {
        ExecRequest {
            script: script.into(),
            ..Default::default()
        }
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
        let dir = std::env::temp_dir().join(format!("hr-local-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
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
        let dir = std::env::temp_dir().join(format!("hr-local-drop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
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
