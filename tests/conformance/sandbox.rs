//! The root lab host: a private sshd in a network namespace AND in a mount namespace of its
//! own, where `/etc`, `/root` and `/home` are private.
//!
//! The `needs/root` targets (file, copy) create and delete users and groups (`user`,
//! `group`), write `/etc/sudoers.d` files, and log in as the users they create (copy's
//! `remote_user`, with root's `~/.ssh/authorized_keys` copied to them, as in ansible-test's
//! environments). A namespace host of the lab shares this machine's filesystem, so those
//! changes would land in the machine's own `/etc`. Here the whole sshd (and so every session,
//! whatever the user) runs where `/etc` is a copy of the real one, `/home` is empty and
//! `/root` holds only `.ssh/authorized_keys` with the lab key: accounts, homes and sudoers
//! files made by a target exist there only and vanish with the host. The rest of the
//! filesystem (`/tmp`, the scratch dirs) is shared, as the targets expect.
//!
//! sshd runs with `UsePAM yes` and a permit-only PAM stack in the private `/etc`, because an
//! account created without a password is locked, and sshd without PAM refuses locked
//! accounts even for key logins.
//!
//! Start-up: `unshare --mount` runs `sh`, which bind-mounts the three directories and `exec`s
//! `ip netns exec NS sshd -D`; so the child's pid is sshd's. `Drop` kills the process tree
//! (the mount namespace goes with its last process) and removes the temp dir.

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Upper bound for sshd to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The private root host (see the module doc).
pub struct SandboxHost {
    dir: Option<tempfile::TempDir>,
    child: Option<Child>,
    address: Ipv4Addr,
}

impl SandboxHost {
    /// Starts sshd on port 22 of `netns`'s address, in a fresh private `/etc`, `/root`, `/home`.
    pub fn start(netns: &lab::Netns) -> Result<SandboxHost> {
        let dir = tempfile::Builder::new().prefix("hrconf-root-").tempdir()?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        let mut host = SandboxHost {
            dir: Some(dir),
            child: None,
            address: netns.address(),
        };
        host.set_up(netns)
            .context("starting the private root host for the conformance targets")?;
        Ok(host)
    }

    fn root(&self) -> &Path {
        self.dir
            .as_ref()
            .map_or(Path::new("/nonexistent"), |d| d.path())
    }

    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    pub fn port(&self) -> u16 {
        22
    }

    /// The client key authorized for root.
    pub fn key_path(&self) -> PathBuf {
        self.root().join("id_ed25519")
    }

    fn set_up(&mut self, netns: &lab::Netns) -> Result<()> {
        let root = self.root().to_path_buf();
        let etc = root.join("etc");
        run("cp", &["-a", "/etc", &path(&etc)])?;
        // Keys only, and PAM that lets any (even a locked) account in: see the module doc.
        fs::write(
            etc.join("pam.d/sshd"),
            "# hook-runner conformance root host: key logins only\n\
             auth required pam_deny.so\naccount required pam_permit.so\n\
             session required pam_permit.so\n",
        )?;
        let home = root.join("home");
        fs::create_dir(&home)?;
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755))?;
        let root_home = root.join("root");
        fs::create_dir_all(root_home.join(".ssh"))?;
        fs::set_permissions(&root_home, fs::Permissions::from_mode(0o700))?;
        fs::set_permissions(root_home.join(".ssh"), fs::Permissions::from_mode(0o700))?;
        keygen(&root.join("host_ed25519"))?;
        keygen(&self.key_path())?;
        let authorized = root_home.join(".ssh/authorized_keys");
        fs::copy(root.join("id_ed25519.pub"), &authorized)?;
        fs::set_permissions(&authorized, fs::Permissions::from_mode(0o600))?;
        let config = root.join("sshd_config");
        fs::write(&config, sshd_config(&root, self.address))?;
        let sshd = lab::util::find_command("sshd")
            .context("sshd not found (apt-get install openssh-server)")?;
        fs::create_dir_all("/run/sshd").context("creating /run/sshd")?;
        let script = format!(
            "mount --bind {etc} /etc && mount --bind {root_home} /root && mount --bind {home} /home \
             && exec ip netns exec {ns} {sshd} -D -f {config} -E {log}",
            etc = path(&etc),
            root_home = path(&root_home),
            home = path(&home),
            ns = netns.name(),
            sshd = path(&sshd),
            config = path(&config),
            log = path(&root.join("sshd.log")),
        );
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting unshare")?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            if lab::util::port_open(self.address, 22, Duration::from_millis(200)) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    let log = fs::read_to_string(self.root().join("sshd.log")).unwrap_or_default();
                    bail!("sshd exited during start-up ({status}): {}", log.trim());
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("sshd did not accept connections within {READY_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SandboxHost {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            lab::util::kill_tree(child.id() as i32, Duration::from_secs(2));
            let _ = child.wait();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

fn sshd_config(dir: &Path, address: Ipv4Addr) -> String {
    let d = dir.display();
    format!(
        "Port 22\nListenAddress {address}\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
         StrictModes no\nUsePAM yes\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nPrintMotd no\nPrintLastLog no\nMaxSessions 100\n\
         MaxStartups 100:30:200\nLogLevel ERROR\nPermitRootLogin prohibit-password\n\
         Subsystem sftp /usr/lib/openssh/sftp-server\n"
    )
}

fn keygen(key: &Path) -> Result<()> {
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "hook-runner-conformance",
            "-f",
            &path(key),
        ],
    )
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
