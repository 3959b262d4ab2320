//! Counting SSH sessions in the lab sshd: a `ForceCommand` wrapper appends one line per
//! session (a channel that runs a command, or sftp) to a log, then runs what was asked exactly
//! as sshd would have (`/bin/sh -c "$SSH_ORIGINAL_COMMAND"`, or the sftp server).
//! (tests/round_trips.rs has the same wrapper for the regression test.)

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use lab::SshHost;

pub struct SessionCounter {
    dir: tempfile::TempDir,
}

impl SessionCounter {
    pub fn new() -> Result<SessionCounter> {
        let dir = tempfile::Builder::new()
            .prefix("hrbench-count-")
            .tempdir()?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        let counter = SessionCounter { dir };
        let log = counter.log();
        let script = format!(
            "#!/bin/sh\n\
             printf '%s\\n' \"$(printf '%s' \"$SSH_ORIGINAL_COMMAND\" | tr '\\n' ' ' | cut -c1-200)\" >> {log}\n\
             case \"$SSH_ORIGINAL_COMMAND\" in\n\
             \x20 sftp|internal-sftp|*/sftp-server) exec /usr/lib/openssh/sftp-server ;;\n\
             esac\n\
             exec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n",
            log = log.display()
        );
        let wrapper = counter.wrapper();
        fs::write(&wrapper, script)?;
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755))?;
        counter.clear()?;
        Ok(counter)
    }

    fn wrapper(&self) -> PathBuf {
        self.dir.path().join("count-session")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("sessions.log")
    }

    /// A loopback sshd (127.0.0.1) whose sessions are counted.
    pub fn start_host(&self) -> Result<SshHost> {
        let config = format!("ForceCommand {}\n", self.wrapper().display());
        SshHost::options().config(&config).start_loopback()
    }

    /// Empties the log (world-writable: the sessions run as the lab user).
    pub fn clear(&self) -> Result<()> {
        fs::write(self.log(), "")?;
        fs::set_permissions(self.log(), fs::Permissions::from_mode(0o666))?;
        Ok(())
    }

    /// Sessions since the last `clear`.
    pub fn count(&self) -> Result<u64> {
        let text = fs::read_to_string(self.log()).context("reading the session log")?;
        Ok(text.lines().count() as u64)
    }
}
