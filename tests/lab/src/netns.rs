//! Network namespaces: separate hosts with their own addresses on this machine.
//!
//! Each [`Netns`] is `ip netns add hrlab-X` plus a veth pair: `hrlab-X` on the host side with
//! `10.213.X.1/24`, `eth0` inside with `10.213.X.2/24`, and `lo` up. `X` (1..=254) is allocated under
//! a file lock in `/run/hook-runner-lab/`, so parallel tests (and parallel test binaries) never
//! collide; an owner file records the pid that holds each index.
//!
//! Reachability: the host reaches every namespace through its host-side address. A namespace only
//! reaches the host's side of its own link until [`Netns::join`] adds routes through the host to
//! another namespace; the host then forwards between the two host-side veths only (per-interface
//! `forwarding=1`; the global `ip_forward` is left alone and no namespace gets a default route, so no
//! lab traffic can leave the machine).
//!
//! Faults: [`Netns::cut`] takes the namespace's `eth0` down (packets to it vanish, like a pulled
//! cable); [`Netns::restore`] brings it up and re-adds the routes the cut removed.
//!
//! Cleanup: `Drop` kills the processes still inside the namespace (by pid, from `ip netns pids`),
//! deletes the namespace (which deletes the veth pair) and the owner file. It runs on panic too. A run
//! that crashed without unwinding leaves `hrlab-*` namespaces whose owner is dead:
//! [`cleanup_leftovers`] removes them, and the first `Netns::new` of each process calls it.

use std::fs::{self, File, OpenOptions};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::util::{kill_pid, pid_alive, report_timing, run, run_checked, wait_until};

/// Name prefix of every namespace and host-side link the lab creates.
pub const PREFIX: &str = "hrlab-";
/// The /16 the lab's /24s come from (`10.213.X.0/24`).
pub const NET_PREFIX: [u8; 2] = [10, 213];
/// Where the lab keeps its lock and owner files (tmpfs: gone after a reboot, like the namespaces).
pub const STATE_DIR: &str = "/run/hook-runner-lab";

/// One network namespace joined to the host by a veth pair. See the module doc.
#[derive(Debug)]
pub struct Netns {
    index: u8,
    name: String,
    /// Subnets (`10.213.Y.0/24`) routed through the host, re-added by `restore`.
    routes: Mutex<Vec<String>>,
}

impl Netns {
    /// Creates a namespace with a fresh index, its veth pair, addresses and `lo` up.
    pub fn new() -> Result<Netns> {
        let started = Instant::now();
        static CLEANUP: Once = Once::new();
        CLEANUP.call_once(|| {
            if let Err(e) = cleanup_leftovers() {
                eprintln!("lab: cleaning leftovers of earlier runs failed: {e:#}");
            }
        });
        let lock = StateLock::acquire()?;
        let index = free_index(&lock)?;
        let ns = Netns {
            index,
            name: format!("{PREFIX}{index}"),
            routes: Mutex::new(Vec::new()),
        };
        fs::write(ns.owner_file(), std::process::id().to_string())
            .with_context(|| format!("writing {}", ns.owner_file().display()))?;
        // From here on Drop undoes whatever part of the setup succeeded.
        run("ip", &["netns", "add", &ns.name])?;
        drop(lock);
        ns.configure()?;
        report_timing("netns-create", started.elapsed());
        Ok(ns)
    }

    fn configure(&self) -> Result<()> {
        let host_if = self.host_interface();
        let host_cidr = format!("{}/24", self.host_address());
        let ns_cidr = format!("{}/24", self.address());
        run(
            "ip",
            &[
                "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", &self.name,
            ],
        )?;
        run("ip", &["addr", "add", &host_cidr, "dev", host_if])?;
        run("ip", &["link", "set", host_if, "up"])?;
        self.ip(&["addr", "add", &ns_cidr, "dev", "eth0"])?;
        self.ip(&["link", "set", "eth0", "up"])?;
        self.ip(&["link", "set", "lo", "up"])?;
        Ok(())
    }

    /// The namespace's name (`hrlab-X`), as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace's own address (`10.213.X.2`).
    pub fn address(&self) -> Ipv4Addr {
        Ipv4Addr::new(NET_PREFIX[0], NET_PREFIX[1], self.index, 2)
    }

    /// The host's address on this namespace's link (`10.213.X.1`): how the namespace reaches
    /// services of the host (bind them to this address or to 0.0.0.0).
    pub fn host_address(&self) -> Ipv4Addr {
        Ipv4Addr::new(NET_PREFIX[0], NET_PREFIX[1], self.index, 1)
    }

    /// The namespace's /24 (`10.213.X.0/24`).
    pub fn subnet(&self) -> String {
        format!("{}.{}.{}.0/24", NET_PREFIX[0], NET_PREFIX[1], self.index)
    }

    /// The host-side veth (named like the namespace).
    pub fn host_interface(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`: for `systemd-nspawn --network-namespace-path` and the like.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// A `Command` that runs `program` inside the namespace (`ip netns exec NAME program`).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `program args...` inside the namespace and returns its output whatever its exit status.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output> {
        let mut cmd = self.command(program);
        cmd.args(args);
        cmd.output()
            .with_context(|| format!("running {program} in {}", self.name))
    }

    /// `ip -n NAME args...`, failing on a non-zero exit.
    fn ip(&self, args: &[&str]) -> Result<Output> {
        run_checked(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// Lets this namespace and `other` reach each other's addresses, routed through the host.
    pub fn join(&self, other: &Netns) -> Result<()> {
        self.add_route_to(&other.subnet())?;
        other.add_route_to(&self.subnet())?;
        Ok(())
    }

    fn add_route_to(&self, subnet: &str) -> Result<()> {
        enable_forwarding(self.host_interface())?;
        let via = self.host_address().to_string();
        self.ip(&["route", "replace", subnet, "via", &via])?;
        let mut routes = self
            .routes
            .lock()
            .map_err(|_| anyhow!("routes lock poisoned"))?;
        if !routes.iter().any(|r| r == subnet) {
            routes.push(subnet.to_string());
        }
        Ok(())
    }

    /// Cuts the namespace off: its `eth0` goes down, packets to and from it are lost.
    pub fn cut(&self) -> Result<()> {
        self.ip(&["link", "set", "eth0", "down"]).map(|_| ())
    }

    /// Undoes [`Netns::cut`]: `eth0` up again and the joined routes back (taking a link down
    /// deletes its routes).
    pub fn restore(&self) -> Result<()> {
        self.ip(&["link", "set", "eth0", "up"])?;
        let via = self.host_address().to_string();
        let routes = self
            .routes
            .lock()
            .map_err(|_| anyhow!("routes lock poisoned"))?
            .clone();
        for subnet in routes {
            self.ip(&["route", "replace", &subnet, "via", &via])?;
        }
        Ok(())
    }

    /// Pids of the processes whose network namespace this is.
    pub fn pids(&self) -> Vec<i32> {
        namespace_pids(&self.name)
    }

    fn owner_file(&self) -> PathBuf {
        owner_file(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = remove_namespace(&self.name) {
            eprintln!("lab: removing network namespace {}: {e:#}", self.name);
        }
    }
}

/// Removes the `hrlab-*` namespaces and links whose owner process is gone (crashed earlier runs),
/// killing the processes left inside them. Returns the names removed.
pub fn cleanup_leftovers() -> Result<Vec<String>> {
    let _lock = StateLock::acquire()?;
    let mut removed = Vec::new();
    for name in lab_namespaces()? {
        if owner_alive(&name) {
            continue;
        }
        remove_namespace(&name)?;
        removed.push(name);
    }
    // A host-side link without its namespace cannot normally exist (deleting the namespace deletes
    // the pair), but a half-made setup can leave one.
    for link in lab_links()? {
        if !Path::new("/run/netns").join(&link).exists() && !owner_alive(&link) {
            let _ = run("ip", &["link", "del", &link]);
            let _ = fs::remove_file(owner_file(&link));
            removed.push(link);
        }
    }
    Ok(removed)
}

/// Names of the lab's namespaces that exist now (`ip netns list`, filtered by [`PREFIX`]).
pub fn lab_namespaces() -> Result<Vec<String>> {
    let out = run("ip", &["netns", "list"])?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(PREFIX))
        .map(str::to_string)
        .collect())
}

/// Names of the lab's host-side links that exist now (`ip -o link`, filtered by [`PREFIX`]).
pub fn lab_links() -> Result<Vec<String>> {
    let out = run("ip", &["-o", "link", "show"])?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        // "7: hrlab-3@if2: <...>": the name is the second field, up to '@' or ':'.
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|n| {
            n.trim_end_matches(':')
                .split('@')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .filter(|n| n.starts_with(PREFIX))
        .collect())
}

fn remove_namespace(name: &str) -> Result<()> {
    kill_namespace_processes(name);
    if Path::new("/run/netns").join(name).exists() {
        run("ip", &["netns", "del", name])?;
    }
    let _ = fs::remove_file(owner_file(name));
    Ok(())
}

/// SIGKILLs what still runs in the namespace (only the lab starts processes there) and waits,
/// bounded, until they are gone so the namespace really goes away.
fn kill_namespace_processes(name: &str) {
    let pids = namespace_pids(name);
    for &pid in &pids {
        let _ = kill_pid(pid, libc::SIGKILL);
    }
    let gone = wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        pids.iter().all(|&p| !pid_alive(p))
    });
    if !gone {
        eprintln!("lab: processes {pids:?} in {name} survived SIGKILL for 5 s");
    }
}

fn namespace_pids(name: &str) -> Vec<i32> {
    if !Path::new("/run/netns").join(name).exists() {
        return Vec::new();
    }
    match run("ip", &["netns", "pids", name]) {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn enable_forwarding(interface: &str) -> Result<()> {
    let path = format!("/proc/sys/net/ipv4/conf/{interface}/forwarding");
    fs::write(&path, "1").with_context(|| format!("writing {path}"))
}

fn owner_file(name: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{name}.owner"))
}

fn owner_alive(name: &str) -> bool {
    fs::read_to_string(owner_file(name))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .is_some_and(pid_alive)
}

/// The first index whose namespace, link and owner file are all absent. Needs the state lock.
fn free_index(_lock: &StateLock) -> Result<u8> {
    let links = lab_links()?;
    for index in 1..=254u8 {
        let name = format!("{PREFIX}{index}");
        let taken = Path::new("/run/netns").join(&name).exists()
            || owner_file(&name).exists()
            || links.contains(&name);
        if !taken {
            return Ok(index);
        }
    }
    bail!("all 254 lab network indexes (10.213.1-254.0/24) are in use")
}

/// An exclusive `flock` on `STATE_DIR/netns.lock`, released on drop (or when the process dies).
pub(crate) struct StateLock {
    _file: File,
}

impl StateLock {
    pub(crate) fn acquire() -> Result<StateLock> {
        fs::create_dir_all(STATE_DIR).with_context(|| format!("creating {STATE_DIR}"))?;
        let path = Path::new(STATE_DIR).join("netns.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock on a valid, open descriptor; it blocks until the lock is ours.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error()).context("flock on the lab state lock");
        }
        Ok(StateLock { _file: file })
    }
}
