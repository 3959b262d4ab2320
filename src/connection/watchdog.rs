//! The remote watchdog: a command started over SSH ends when its channel closes.
//!
//! sshd signals nothing to a command that runs without a pty when the client goes away (the
//! run was cancelled, the task future was dropped, the master was closed): a remote
//! `sleep 300` would outlive the run. The SSH `signal` request cannot help either (the mux
//! protocol has no message for it, and it would reach only the first process). So every
//! command runs inside a small POSIX `sh` wrapper built by [`wrap`], with no extra SSH round
//! trip:
//!
//! - The channel's stdin is kept open by the client for the whole command ([`feed_and_hold`]);
//!   the script itself reads `/dev/null` (or exactly its input bytes, below).
//! - A background watchdog reads the channel's stdin. It sees end-of-file only when the client
//!   closed it (the exec was dropped) or the channel/connection ended, or when sshd closes the
//!   pipe after the command exited (sshd stops feeding a session whose process is gone). It
//!   then checks whether the wrapper shell (`$$`) is still running: if it is, the client went
//!   away mid-command, and the watchdog sends SIGTERM to its whole process group (`kill 0`: sshd
//!   makes every session a process group leader; under `become` the watchdog is inside the
//!   escalated shell, so it may signal what runs there), and SIGKILL 2 s later. A command that
//!   finished normally is never signalled, so daemons a task started on purpose survive
//!   (so do fire-and-forget jobs, `async: N, poll: 0`: their launcher exits at once, and the
//!   job runs in its own session with its descriptors on `/dev/null`, see
//!   `engine::async_task`).
//! - The watchdog is double-forked (`( (…) & )`): it is not a child of the script's shell, so
//!   a bare `wait` in a user's script does not wait for it.
//! - Input bytes (file contents, `stdin:`) are the first N bytes on the channel, followed by one
//!   newline that says "complete". `head -c N` hands exactly those bytes to the script (GNU
//!   coreutils and BusyBox read no further than N); then the marker newline is read. When the
//!   channel ends before the marker, the group is killed *before* the script's input is closed,
//!   so a script never acts on truncated input (a `copy` never installs a partial file).
//!
//! Cost on the hot path: two `fork`s of the shell (no `exec`) for a command without input;
//! `head` and two subshells more for a command with input.

use super::ExecRequest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Ends the wrapper's process group when the wrapper shell (`$$`) still runs: SIGTERM, then
/// SIGKILL after a grace period for commands that ignore it.
const KILL_IF_RUNNING: &str =
    "kill -0 $$ 2>/dev/null && { kill -s TERM 0; sleep 2; kill -s KILL 0; }";

/// The byte that follows the input and proves it arrived whole.
const COMPLETE_MARKER: &[u8] = b"\n";

/// Wraps `script` so that it ends when the channel closes (see the module doc). `input_len` is
/// the number of input bytes the client sends (`None`: the script reads `/dev/null`).
pub fn wrap(script: &str, input_len: Option<u64>) -> String {
    let watch = format!(
        "(trap '' TERM; while read -r _; do :; done; {KILL_IF_RUNNING}) <&3 >/dev/null 2>&1 &"
    );
    match input_len {
        None => format!("exec 3<&0 </dev/null\n( {watch} )\nexec 3<&-\n{script}"),
        Some(n) => format!(
            "exec 3<&0 </dev/null\n{{ trap '' TERM\n  if head -c {n} <&3; then IFS= read -r _ <&3 || {{ {KILL_IF_RUNNING}; }}; fi\n  {watch}\n}} | {{ exec 3<&-\n{script}\n}}"
        ),
    }
}

/// How many input bytes `request` sends: its `stdin` bytes, or the size of its `stdin_file`
/// (0 when the file cannot be read: the script then gets empty input and its own checksum
/// check reports the failed transfer).
pub fn input_len(request: &ExecRequest) -> Option<u64> {
    if let Some(data) = &request.stdin {
        return Some(data.len() as u64);
    }
    request
        .stdin_file
        .as_ref()
        .map(|path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
}

/// Writes the request's input (exactly `len` bytes) and the completion marker into `pipe`, and
/// returns the pipe, to be held open until the command's output is complete: dropping it is
/// what tells the remote watchdog that the client went away. Returns `None` (the pipe is
/// closed, the remote command is ended) when the input could not be sent whole.
pub async fn feed_and_hold<W>(pipe: Option<W>, request: &ExecRequest, len: Option<u64>) -> Option<W>
where
    W: AsyncWrite + Unpin,
{
    let mut pipe = pipe?;
    let Some(len) = len else {
        return Some(pipe);
    };
    let sent = if let Some(data) = &request.stdin {
        pipe.write_all(data).await.ok().map(|_| data.len() as u64)
    } else if let Some(path) = &request.stdin_file {
        match tokio::fs::File::open(path).await {
            Ok(file) => copy_exactly(file, &mut pipe, len).await,
            Err(_) => Some(0),
        }
    } else {
        Some(0)
    };
    if sent != Some(len) {
        return None;
    }
    pipe.write_all(COMPLETE_MARKER).await.ok()?;
    pipe.flush().await.ok()?;
    Some(pipe)
}

/// Copies at most `len` bytes of `file` into `pipe`; the count sent, `None` on a write error.
async fn copy_exactly<R, W>(file: R, pipe: &mut W, len: u64) -> Option<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut limited = tokio::io::BufReader::with_capacity(256 * 1024, file.take(len));
    tokio::io::copy_buf(&mut limited, pipe).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// Runs `wrap(script)` under `/bin/sh` as sshd would: its own process group (so the
    /// watchdog's `kill 0` stays inside it), stdin a pipe the test holds.
    fn start(script: &str, input_len: Option<u64>) -> Child {
        Command::new("/bin/sh")
            .arg("-c")
            .arg(wrap(script, input_len))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap()
    }

    fn alive(pid: u32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid as i32, 0) == 0 }
    }

    fn wait_gone(pid: u32, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if !alive(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The pid a script wrote on its first stdout line.
    fn first_line(child: &mut Child) -> String {
        use std::io::BufRead;
        let out = child.stdout.as_mut().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    #[test]
    fn closing_the_channel_ends_the_running_command_and_its_children() {
        let mut child = start("sleep 300 & echo $!; wait", None);
        let sleeper: u32 = first_line(&mut child).parse().unwrap();
        assert!(alive(sleeper));
        drop(child.stdin.take());
        let status = child.wait().unwrap();
        assert!(!status.success(), "the wrapper was ended: {status:?}");
        assert!(
            wait_gone(sleeper, Duration::from_secs(5)),
            "the command's child survived the closed channel"
        );
    }

    #[test]
    fn a_finished_command_keeps_its_exit_code_and_its_daemons() {
        let mut child = start(
            "sleep 300 >/dev/null 2>&1 </dev/null & echo $!; echo out; echo err >&2; exit 7",
            None,
        );
        let stdin = child.stdin.take();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(7));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (pid, rest) = stdout.split_once('\n').unwrap();
        let daemon: u32 = pid.parse().unwrap();
        // As sshd does once the command exited: the channel's stdin is closed.
        drop(stdin);
        std::thread::sleep(Duration::from_millis(300));
        let survived = alive(daemon);
        // SAFETY: ends the test's own daemon (before any assertion can fail).
        unsafe { libc::kill(daemon as i32, libc::SIGKILL) };
        assert_eq!(rest, "out\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
        assert!(survived, "a daemon the task started on purpose was killed");
    }

    #[test]
    fn a_bare_wait_in_the_script_does_not_wait_for_the_watchdog() {
        let mut child = start("true & wait; echo done", None);
        let started = Instant::now();
        assert_eq!(first_line(&mut child), "done");
        assert!(started.elapsed() < Duration::from_secs(5));
        // `Child::wait` would close stdin first: hold it until the wrapper exited.
        let stdin = child.stdin.take();
        assert!(child.wait().unwrap().success());
        drop(stdin);
    }

    #[test]
    fn input_bytes_reach_the_script_exactly_and_the_exit_code_is_kept() {
        let data = b"line 1\nno newline at the end \x00\xff".to_vec();
        let mut child = start("od -An -c; exit 3", Some(data.len() as u64));
        let mut stdin = child.stdin.take().unwrap();
        use std::io::Write;
        stdin.write_all(&data).unwrap();
        stdin.write_all(COMPLETE_MARKER).unwrap();
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        assert_eq!(out.status.code(), Some(3));
        let expected = Command::new("od")
            .args(["-An", "-c"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut od| {
                od.stdin.take().unwrap().write_all(&data)?;
                od.wait_with_output()
            })
            .unwrap();
        assert_eq!(out.stdout, expected.stdout);
    }

    #[test]
    fn truncated_input_ends_the_script_before_it_sees_end_of_file() {
        // The script would record what it got; it must be killed while still reading.
        let dir = tempfile::tempdir().unwrap();
        let got = dir.path().join("got");
        let script = format!("cat >{0}.tmp && mv {0}.tmp {0}", got.display());
        let mut child = start(&script, Some(1000));
        let mut stdin = child.stdin.take().unwrap();
        use std::io::Write;
        stdin.write_all(&[b'x'; 10]).unwrap();
        drop(stdin);
        let status = child.wait().unwrap();
        assert!(!status.success(), "{status:?}");
        std::thread::sleep(Duration::from_millis(200));
        assert!(!got.exists(), "the script acted on truncated input");
    }

    #[test]
    fn input_length_comes_from_bytes_or_the_file_size() {
        let mut r = ExecRequest {
            stdin: Some(vec![1, 2, 3]),
            ..ExecRequest::default()
        };
        assert_eq!(input_len(&r), Some(3));
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), [0u8; 10]).unwrap();
        r.stdin = None;
        r.stdin_file = Some(f.path().to_path_buf());
        assert_eq!(input_len(&r), Some(10));
        r.stdin_file = None;
        assert_eq!(input_len(&r), None);
    }

    #[tokio::test]
    async fn the_feed_sends_input_and_marker_and_holds_the_pipe() {
        let r = ExecRequest {
            stdin: Some(b"abc".to_vec()),
            ..ExecRequest::default()
        };
        let (mut reader, writer) = tokio::io::duplex(64);
        let held = feed_and_hold(Some(writer), &r, input_len(&r)).await;
        assert!(held.is_some());
        let mut buf = [0u8; 4];
        reader.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abc\n");
        // A file shorter than announced is not sent as complete.
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"12").unwrap();
        let r = ExecRequest {
            stdin_file: Some(f.path().to_path_buf()),
            ..ExecRequest::default()
        };
        let (_reader, writer) = tokio::io::duplex(64);
        assert!(feed_and_hold(Some(writer), &r, Some(5)).await.is_none());
    }
}
