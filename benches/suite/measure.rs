//! Measuring one run of a command: wall time, CPU time of its whole process tree, peak RSS.
//!
//! - **Wall time**: from spawn until `wait4` returns.
//! - **CPU time** (user + sys): the `wait4` rusage of the child, which already holds every
//!   descendant the tree reaped itself (Ansible's forked workers, hook-runner's ssh master), plus
//!   the rusage of descendants that were orphaned during the run (`ssh -f`-style daemons such as
//!   Ansible's `ControlPersist` masters): the suite makes itself a child subreaper, so those are
//!   re-parented to it and reaped here after the run's `cleanup` ended them.
//! - **Peak RSS**: `ru_maxrss`, i.e. the largest single process of the tree (not a sum), and
//!   separately the main process's own peak (`VmHWM`, sampled from /proc while it runs), so the
//!   table can say which process was the largest.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// One measured run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub wall: Duration,
    /// user + sys of the whole tree.
    pub cpu: Duration,
    /// Largest single process of the tree, KiB.
    pub tree_maxrss_kb: u64,
    /// The main process's own peak, KiB (sampled; 0 if it exited before the first sample).
    pub main_hwm_kb: u64,
    /// The main process's own user+sys time, without its children (last sample before exit).
    pub main_cpu: Duration,
}

/// Makes this process the reaper of its orphaned descendants (see the module doc).
pub fn become_subreaper() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("prctl(PR_SET_CHILD_SUBREAPER)");
    }
    Ok(())
}

/// Runs `cmd` to completion with stdout/stderr in `log_prefix.{out,err}`, measuring it; then
/// calls `cleanup` (e.g. `ssh -O exit` on control sockets) and reaps the orphans it left.
/// Fails (with the tail of stderr/stdout) when the command does not exit 0.
pub fn run(cmd: &mut Command, log_prefix: &Path, cleanup: &dyn Fn()) -> Result<Sample> {
    let out_path = log_prefix.with_extension("out");
    let err_path = log_prefix.with_extension("err");
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?);
    let orphans = Orphans::snapshot();
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let pid = child.id() as i32;
    let hwm = HwmSampler::start(pid);
    let (status, usage) = wait4(pid, 0)?.context("wait4 returned no child")?;
    let wall = started.elapsed();
    let (main_hwm_kb, main_cpu) = hwm.stop();
    // The Child handle is done with: it was reaped by wait4 above.
    drop(child);
    cleanup();
    let mut sample = Sample {
        wall,
        cpu: cpu_of(&usage),
        tree_maxrss_kb: usage.ru_maxrss.max(0) as u64,
        main_hwm_kb,
        main_cpu,
    };
    for orphan in orphans.reap(Duration::from_secs(5)) {
        sample.cpu += cpu_of(&orphan);
        sample.tree_maxrss_kb = sample.tree_maxrss_kb.max(orphan.ru_maxrss.max(0) as u64);
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!(
            "{:?} failed (wait status {status:#x}, exit {}):\n{}\n{}",
            cmd.get_program(),
            libc::WEXITSTATUS(status),
            tail(&out_path, 25),
            tail(&err_path, 25)
        );
    }
    Ok(sample)
}

fn cpu_of(usage: &libc::rusage) -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// `wait4(pid, options)`: `None` when WNOHANG found it still running.
fn wait4(pid: i32, options: i32) -> Result<Option<(i32, libc::rusage)>> {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals.
        let rc = unsafe { libc::wait4(pid, &mut status, options, &mut usage) };
        if rc == pid {
            return Ok(Some((status, usage)));
        }
        if rc == 0 {
            return Ok(None);
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err).with_context(|| format!("wait4({pid})"));
        }
    }
}

/// The pids whose parent is this process (from /proc).
fn own_children() -> HashSet<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = fs::read_dir("/proc") else {
        return HashSet::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| parent_of(*pid) == Some(me))
        .collect()
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The children this process had before something ran: whatever appears later was orphaned by
/// it and re-parented to us (we are a subreaper).
pub struct Orphans(HashSet<i32>);

impl Orphans {
    pub fn snapshot() -> Orphans {
        Orphans(own_children())
    }

    /// Reaps the children that appeared since the snapshot, waiting up to `grace` for them to
    /// exit, then ending them (they are ours: daemons the run left behind); their rusages.
    pub fn reap(&self, grace: Duration) -> Vec<libc::rusage> {
        reap_orphans(&self.0, grace)
    }
}

fn reap_orphans(before: &HashSet<i32>, grace: Duration) -> Vec<libc::rusage> {
    let deadline = Instant::now() + grace;
    let mut reaped = Vec::new();
    let mut signalled = false;
    loop {
        let pending: Vec<i32> = own_children()
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        if pending.is_empty() {
            return reaped;
        }
        for pid in &pending {
            if let Ok(Some((_, usage))) = wait4(*pid, libc::WNOHANG) {
                reaped.push(usage);
            }
        }
        let now = Instant::now();
        if now >= deadline && !signalled {
            for pid in &pending {
                eprintln!("bench: ending leftover process {pid} of the run");
                // SAFETY: plain kill of a child of ours, by pid.
                unsafe { libc::kill(*pid, libc::SIGTERM) };
            }
            signalled = true;
        } else if now >= deadline + Duration::from_secs(3) {
            for pid in &pending {
                // SAFETY: as above; it ignored SIGTERM.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            if now >= deadline + Duration::from_secs(5) {
                eprintln!("bench: leftover processes {pending:?} did not exit");
                return reaped;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Samples `VmHWM` and the CPU ticks of one process every few ms on a thread until stopped.
struct HwmSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    ticks: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl HwmSampler {
    fn start(pid: i32) -> HwmSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let ticks = Arc::new(AtomicU64::new(0));
        let (s, p, t) = (stop.clone(), peak.clone(), ticks.clone());
        let thread = std::thread::spawn(move || {
            let status = format!("/proc/{pid}/status");
            let stat = format!("/proc/{pid}/stat");
            while !s.load(Ordering::Relaxed) {
                if let Some(kb) = fs::read_to_string(&status).ok().and_then(|x| hwm_kb(&x)) {
                    p.fetch_max(kb, Ordering::Relaxed);
                }
                if let Some(n) = fs::read_to_string(&stat).ok().and_then(|x| own_ticks(&x)) {
                    t.fetch_max(n, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        HwmSampler {
            stop,
            peak,
            ticks,
            thread,
        }
    }

    /// (peak RSS KiB, own CPU time).
    fn stop(self) -> (u64, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        let ticks = self.ticks.load(Ordering::Relaxed);
        (
            self.peak.load(Ordering::Relaxed),
            Duration::from_millis(ticks * 1000 / hz),
        )
    }
}

/// utime + stime (fields 14 and 15) of a /proc/PID/stat line, in clock ticks.
fn own_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn hwm_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The last `lines` lines of a file, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The median of some durations (upper median for even counts).
pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// The median of some integers (upper median).
pub fn median_u64(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}
