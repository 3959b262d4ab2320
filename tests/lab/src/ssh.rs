//! SSH hosts: a private `sshd` per test, on loopback or inside a [`Netns`].
//!
//! Each [`SshHost`] has its own temp dir holding a generated ed25519 host key, an ed25519 user key,
//! the `authorized_keys` file (readable by the test user), the `sshd_config`, the pid file and the
//! daemon's log. The daemon listens on a port picked at run time, accepts public keys only, runs
//! without PAM (`UsePAM no`), allows 100 sessions per connection and serves sftp.
//!
//! The login user is [`TEST_USER`] (`hrtest`): a system user with `/bin/sh`, an empty home and no rc
//! files (root's rc files on this machine cost 120-180 ms per command), created on first use under a
//! file lock so parallel tests do not race. Root may log in too with the same key when the host was
//! started with [`SshOptions::root`] (namespace hosts allow it by default): `PermitRootLogin
//! prohibit-password` with `AuthorizedKeysFile` pointing at the lab's file, in the private config
//! only; `/root/.ssh` is never touched.
//!
//! Start-up waits for the port to accept connections with a bounded poll. `Drop` stops the daemon
//! by the pid from its pid file, kills the per-connection processes it forked, and removes the temp
//! dir; it runs on panic too.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::{Netns, STATE_DIR};
use crate::util::{
    find_command, free_port, kill_tree, pid_alive, port_open, report_timing, run, run_checked,
    wait_until,
};

/// The unprivileged login user of every lab sshd.
pub const TEST_USER: &str = "hrtest";
/// How long `ssh_command` waits for a TCP connection (`ConnectTimeout`, seconds).
pub const CONNECT_TIMEOUT_SECS: u64 = 5;
/// Upper bound for a fresh sshd to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Options of an [`SshHost`]; `SshHost::options()` starts from the defaults.
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    root: Option<bool>,
    extra_config: String,
}

impl SshOptions {
    /// Lets root log in with the lab key (default: only for hosts in a namespace).
    pub fn root(mut self, allow: bool) -> Self {
        self.root = Some(allow);
        self
    }

    /// Appends raw `sshd_config` lines (e.g. `ClientAliveInterval 1`).
    pub fn config(mut self, lines: &str) -> Self {
        self.extra_config.push_str(lines);
        self.extra_config.push('\n');
        self
    }

    /// Starts the host on 127.0.0.1.
    pub fn start_loopback(self) -> Result<SshHost> {
        SshHost::start(self, None)
    }

    /// Starts the host inside `netns`, listening on the namespace's address.
    pub fn start_in(self, netns: &Netns) -> Result<SshHost> {
        SshHost::start(self, Some(netns))
    }
}

/// A running private sshd. See the module doc.
#[derive(Debug)]
pub struct SshHost {
    dir: tempfile::TempDir,
    address: Ipv4Addr,
    port: u16,
    netns: Option<String>,
    root_allowed: bool,
    child: Child,
}

impl SshHost {
    /// Default options, to be customised before `start_loopback`/`start_in`.
    pub fn options() -> SshOptions {
        SshOptions::default()
    }

    /// A host on 127.0.0.1 that accepts [`TEST_USER`] (not root).
    pub fn start_loopback() -> Result<SshHost> {
        SshOptions::default().start_loopback()
    }

    /// A host inside `netns` on its address; accepts [`TEST_USER`] and root.
    pub fn start_in(netns: &Netns) -> Result<SshHost> {
        SshOptions::default().start_in(netns)
    }

    fn start(options: SshOptions, netns: Option<&Netns>) -> Result<SshHost> {
        let started = Instant::now();
        ensure_test_user()?;
        fs::create_dir_all("/run/sshd")
            .context("creating sshd's privilege separation dir /run/sshd")?;
        let dir = tempfile::Builder::new().prefix("hrlab-ssh-").tempdir()?;
        // sshd reads authorized_keys as the user: the dir must be traversable by it.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        generate_key(&dir.path().join("host_ed25519"))?;
        generate_key(&dir.path().join("id_ed25519"))?;
        let public_key = fs::read_to_string(dir.path().join("id_ed25519.pub"))?;
        let authorized = dir.path().join("authorized_keys");
        fs::write(&authorized, public_key)?;
        fs::set_permissions(&authorized, fs::Permissions::from_mode(0o644))?;

        let address = netns.map_or(Ipv4Addr::LOCALHOST, Netns::address);
        let root_allowed = options.root.unwrap_or(netns.is_some());
        // The free port is only free until someone else binds it: retry on that race.
        let mut attempt = 0;
        let (port, child) = loop {
            attempt += 1;
            let port = free_port()?;
            let config = sshd_config(
                dir.path(),
                address,
                port,
                root_allowed,
                &options.extra_config,
            );
            let config_path = dir.path().join("sshd_config");
            fs::write(&config_path, config)?;
            let mut child = spawn_sshd(dir.path(), &config_path, netns)?;
            match wait_ready(&mut child, dir.path(), address, port) {
                Ok(()) => break (port, child),
                Err(e) => {
                    kill_tree(child.id() as i32, Duration::from_secs(1));
                    let _ = child.wait();
                    let port_taken = format!("{e:#}").contains("Address already in use");
                    if !port_taken || attempt >= 3 {
                        return Err(e);
                    }
                }
            }
        };
        report_timing("sshd-start", started.elapsed());
        Ok(SshHost {
            dir,
            address,
            port,
            netns: netns.map(|n| n.name().to_string()),
            root_allowed,
            child,
        })
    }

    /// The address sshd listens on (127.0.0.1, or the namespace's address).
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// The TCP port sshd listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The unprivileged login user ([`TEST_USER`]).
    pub fn user(&self) -> &str {
        TEST_USER
    }

    /// The private key that logs in as [`TEST_USER`] (and root where allowed); mode 0600, owned by root.
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("id_ed25519")
    }

    /// The host's public key file (for a known_hosts line, `[addr]:port ssh-ed25519 ...`).
    pub fn host_key_path(&self) -> PathBuf {
        self.dir.path().join("host_ed25519.pub")
    }

    /// A `known_hosts` line for this host, for clients that check host keys.
    pub fn known_hosts_line(&self) -> Result<String> {
        let key = fs::read_to_string(self.host_key_path())?;
        let mut fields = key.split_whitespace();
        let (Some(kind), Some(blob)) = (fields.next(), fields.next()) else {
            bail!(
                "malformed host public key {}",
                self.host_key_path().display()
            );
        };
        Ok(format!("[{}]:{} {kind} {blob}", self.address, self.port))
    }

    /// Whether root may log in (see [`SshOptions::root`]).
    pub fn root_allowed(&self) -> bool {
        self.root_allowed
    }

    /// The namespace the daemon runs in, if any.
    pub fn netns_name(&self) -> Option<&str> {
        self.netns.as_deref()
    }

    /// The listening daemon's pid (from its pid file; the spawned child's pid before it is written).
    pub fn pid(&self) -> i32 {
        fs::read_to_string(self.dir.path().join("sshd.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(self.child.id() as i32)
    }

    /// The daemon's log (`sshd -E`), for diagnosing a failed login.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The lab's temp dir of this host (keys, config, log); removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client options every lab ssh uses: key, port, no host key checks, batch mode, bounded
    /// connect time. Append `user@address` and the command.
    pub fn ssh_options(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-i".into(),
            self.key_path().display().to_string(),
            "-p".into(),
            self.port.to_string(),
            "-F".into(),
            "/dev/null".into(),
        ];
        for opt in [
            "StrictHostKeyChecking=no".to_string(),
            "UserKnownHostsFile=/dev/null".to_string(),
            "BatchMode=yes".to_string(),
            "IdentitiesOnly=yes".to_string(),
            "LogLevel=ERROR".to_string(),
            format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}"),
        ] {
            args.push("-o".into());
            args.push(opt);
        }
        args
    }

    /// `ssh` with the lab options for `user@address` and `command` (not yet run): add `.output()`.
    pub fn ssh_as(&self, user: &str, command: &str) -> Command {
        let mut cmd = Command::new("ssh");
        self.add_ssh_args(&mut cmd, user, command);
        cmd
    }

    fn add_ssh_args(&self, cmd: &mut Command, user: &str, command: &str) {
        cmd.args(self.ssh_options())
            .arg(format!("{user}@{}", self.address))
            .arg("--")
            .arg(command)
            .stdin(Stdio::null());
    }

    /// Runs `command` as [`TEST_USER`] through the real ssh client from the host's namespace.
    ///
    /// # Panics
    /// When the `ssh` client cannot be started at all (a broken lab, not a test outcome).
    pub fn ssh_command(&self, command: &str) -> Output {
        self.ssh_as(TEST_USER, command)
            .output()
            .expect("lab: running the ssh client")
    }

    /// Runs `command` as root (the host must allow it, see [`SshOptions::root`]).
    ///
    /// # Panics
    /// When the `ssh` client cannot be started at all.
    pub fn root_command(&self, command: &str) -> Output {
        self.ssh_as("root", command)
            .output()
            .expect("lab: running the ssh client")
    }

    /// Runs `command` as [`TEST_USER`] with the ssh client running inside `from` (another host).
    ///
    /// # Panics
    /// When the `ssh` client cannot be started at all.
    pub fn ssh_command_from(&self, from: &Netns, command: &str) -> Output {
        let mut cmd = from.command("ssh");
        self.add_ssh_args(&mut cmd, TEST_USER, command);
        cmd.output()
            .expect("lab: running the ssh client in a namespace")
    }
}

impl Drop for SshHost {
    fn drop(&mut self) {
        kill_tree(self.pid(), Duration::from_secs(3));
        let spawned = self.child.id() as i32;
        if pid_alive(spawned) {
            kill_tree(spawned, Duration::from_secs(1));
        }
        // Reap it so no zombie outlives the host.
        let _ = self.child.wait();
    }
}

fn sshd_config(dir: &Path, address: Ipv4Addr, port: u16, root: bool, extra: &str) -> String {
    let d = dir.display();
    let mut c = String::new();
    let _ = writeln!(c, "Port {port}");
    let _ = writeln!(c, "ListenAddress {address}");
    let _ = writeln!(c, "HostKey {d}/host_ed25519");
    let _ = writeln!(c, "PidFile {d}/sshd.pid");
    let _ = writeln!(c, "AuthorizedKeysFile {d}/authorized_keys");
    // The temp dir lives under /tmp (mode 1777), which StrictModes would refuse.
    c.push_str("StrictModes no\nUsePAM no\nPubkeyAuthentication yes\nPasswordAuthentication no\n");
    c.push_str("KbdInteractiveAuthentication no\nPrintMotd no\nPrintLastLog no\n");
    c.push_str("MaxSessions 100\nMaxStartups 100:30:200\nLogLevel ERROR\n");
    let allowed = if root {
        format!("{TEST_USER} root")
    } else {
        TEST_USER.to_string()
    };
    let _ = writeln!(c, "AllowUsers {allowed}");
    let _ = writeln!(
        c,
        "PermitRootLogin {}",
        if root { "prohibit-password" } else { "no" }
    );
    c.push_str("Subsystem sftp /usr/lib/openssh/sftp-server\n");
    c.push_str(extra);
    c
}

/// Polls (bounded) until the port accepts TCP connections; fails early if sshd exited.
fn wait_ready(child: &mut Child, dir: &Path, address: Ipv4Addr, port: u16) -> Result<()> {
    let mut exited = None;
    let ready = wait_until(START_TIMEOUT, Duration::from_millis(10), || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        port_open(address, port, Duration::from_millis(200))
    });
    let log = fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
    if let Some(status) = exited {
        bail!("sshd exited during start-up ({status}): {}", log.trim());
    }
    if !ready {
        bail!(
            "sshd on {address}:{port} did not accept connections within {START_TIMEOUT:?}: {}",
            log.trim()
        );
    }
    Ok(())
}

fn spawn_sshd(dir: &Path, config: &Path, netns: Option<&Netns>) -> Result<Child> {
    let sshd = find_command("sshd").context("sshd not found (apt-get install openssh-server)")?;
    let sshd = sshd.display().to_string();
    // -D: stay in the foreground as our child, so we can reap it; it still writes the pid file.
    let mut cmd = match netns {
        Some(ns) => ns.command(&sshd),
        None => Command::new(&sshd),
    };
    cmd.arg("-D")
        .arg("-f")
        .arg(config)
        .arg("-E")
        .arg(dir.join("sshd.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().with_context(|| format!("starting {sshd}"))
}

fn generate_key(path: &Path) -> Result<()> {
    let path_str = path.display().to_string();
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "hook-runner-lab",
            "-f",
            &path_str,
        ],
    )?;
    Ok(())
}

/// Creates [`TEST_USER`] if missing (system user, `/bin/sh`, empty home `/home/hrtest`, password
/// field `*` so `UsePAM no` does not treat it as locked). Idempotent; serialised by a file lock.
pub fn ensure_test_user() -> Result<()> {
    fs::create_dir_all(STATE_DIR)?;
    let lock_path = Path::new(STATE_DIR).join("user.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    // SAFETY: flock on a valid, open descriptor; released when `lock` is dropped.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error()).context("flock on the lab user lock");
    }
    let home = format!("/home/{TEST_USER}");
    if !user_exists(TEST_USER) {
        run(
            "useradd",
            &[
                "--system",
                "--user-group",
                "--shell",
                "/bin/sh",
                "--home-dir",
                &home,
                "--no-create-home",
                TEST_USER,
            ],
        )?;
    }
    if shadow_password(TEST_USER)?.as_deref() != Some("*") {
        run("usermod", &["-p", "*", TEST_USER])?;
    }
    if !Path::new(&home).is_dir() {
        fs::create_dir_all(&home)?;
        run("chown", &[&format!("{TEST_USER}:{TEST_USER}"), &home])?;
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755))?;
    }
    drop(lock);
    Ok(())
}

fn user_exists(user: &str) -> bool {
    Command::new("getent")
        .args(["passwd", user])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn shadow_password(user: &str) -> Result<Option<String>> {
    let out = run_checked(Command::new("getent").args(["shadow", user]))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.split(':').nth(1))
        .map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_allows_root_only_when_asked() {
        let c = sshd_config(Path::new("/x"), Ipv4Addr::LOCALHOST, 1234, false, "");
        assert!(c.contains("PermitRootLogin no\n"));
        assert!(c.contains("AllowUsers hrtest\n"));
        assert!(c.contains("Port 1234\n") && c.contains("ListenAddress 127.0.0.1\n"));
        assert!(c.contains("MaxSessions 100\n") && c.contains("UsePAM no\n"));
        assert!(c.contains("AuthorizedKeysFile /x/authorized_keys\n"));
        let c = sshd_config(
            Path::new("/x"),
            Ipv4Addr::LOCALHOST,
            1234,
            true,
            "ClientAliveInterval 1\n",
        );
        assert!(c.contains("PermitRootLogin prohibit-password\n"));
        assert!(c.contains("AllowUsers hrtest root\n"));
        assert!(c.ends_with("ClientAliveInterval 1\n"));
    }
}
