//! `copy` of big files streams: the real `hook-runner` binary copies a
//! controller file to a lab sshd host; its peak RSS (the kernel's `ru_maxrss` of the finished
//! child, from `wait4`, which also covers the ssh master it started) must stay far below the
//! file's size, the copy must be byte-identical, leave no temporary file behind, and a second
//! run must report no change without sending the file again.
//!
//! - `a_200_mb_copy_streams_with_bounded_memory`: part of the regular suite.
//! - `a_1_gb_copy_streams_with_bounded_memory`: the scale figure (1 GiB); it runs
//!   when `HR_SCALE_TESTS=1` (about 10 s here, but 2 GiB of disk in /tmp and /home).

use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use lab::SshHost;

#[path = "support/sshd.rs"]
mod sshd;

const MIB: u64 = 1024 * 1024;
/// The bound: hook-runner's peak RSS while copying 1 GB.
const RSS_LIMIT_KB: i64 = 50 * 1024;
/// Each test's destination directory is this plus the file size (tests run in parallel).
const DEST_BASE: &str = "/home/hrtest/copy-streaming";

/// Writes `size` bytes of pseudo-random data (xorshift: fast, incompressible enough).
fn make_file(path: &Path, size: u64) {
    let mut out = std::io::BufWriter::with_capacity(MIB as usize, fs::File::create(path).unwrap());
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(MIB) as usize;
        out.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
}

/// Whether two files hold the same bytes (compared in chunks, never whole in memory).
fn same_bytes(a: &Path, b: &Path) -> bool {
    let (Ok(mut fa), Ok(mut fb)) = (fs::File::open(a), fs::File::open(b)) else {
        return false;
    };
    let (mut ba, mut bb) = (vec![0u8; MIB as usize], vec![0u8; MIB as usize]);
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(file: &mut fs::File, buf: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => panic!("reading for the comparison: {e}"),
        }
    }
    filled
}

/// What one run of hook-runner did.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
    /// Peak RSS of hook-runner (and the processes it waited for), in KiB.
    max_rss_kb: i64,
    secs: f64,
}

/// Runs hook-runner and collects its peak RSS with `wait4` (which reaps it: clippy cannot see
/// that `Child::wait` is replaced, hence the allow).
#[allow(clippy::zombie_processes)]
fn run_hook_runner(inventory: &Path, playbook: &Path, work: &Path) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hook-runner"))
        .arg("run")
        .arg("-i")
        .arg(inventory)
        .arg(playbook)
        .env("HOOK_RUNNER_TERMINATION_LOG", work.join("termination-log"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Output is small (one task); read it before reaping so the child never blocks on a pipe.
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child with valid out-pointers; `child` is not waited elsewhere.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    let status = std::process::ExitStatus::from_raw(status);
    Run {
        success: status.success(),
        stdout,
        stderr,
        max_rss_kb: usage.ru_maxrss,
        secs: started.elapsed().as_secs_f64(),
    }
}

fn copies_with_bounded_memory(test: &str, size: u64) {
    if !lab::require_root(test) {
        return;
    }
    let host = SshHost::start_loopback().unwrap();
    let dest_dir = format!("{DEST_BASE}-{}m", size / MIB);
    let dest_dir = dest_dir.as_str();
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("big.bin");
    make_file(&source, size);
    let reset = host.ssh_command(&format!("rm -rf {dest_dir} && mkdir {dest_dir}"));
    assert!(reset.status.success(), "resetting {dest_dir}: {reset:?}");
    let dest = format!("{dest_dir}/big.bin");
    let inventory = sshd::write_target_inventory(work.path(), &host);
    let playbook = work.path().join("playbook.yml");
    fs::write(
        &playbook,
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy:\n        src: {}\n        dest: {dest}\n        mode: \"0640\"\n",
            source.display()
        ),
    )
    .unwrap();

    let first = run_hook_runner(&inventory, &playbook, work.path());
    eprintln!(
        "{test}: {} MiB copied in {:.2} s, hook-runner peak RSS {:.1} MiB",
        size / MIB,
        first.secs,
        first.max_rss_kb as f64 / 1024.0
    );
    assert!(
        first.success && first.stdout.contains("changed=1"),
        "the copy failed:\n{}\n{}\nsshd log:\n{}",
        first.stdout,
        first.stderr,
        host.log()
    );
    assert!(
        first.max_rss_kb < RSS_LIMIT_KB,
        "peak RSS {} KiB for a {} MiB copy (limit {RSS_LIMIT_KB} KiB): the file is buffered",
        first.max_rss_kb,
        size / MIB
    );
    // The lab host is this machine: the destination can be compared directly.
    assert!(
        same_bytes(&source, Path::new(&dest)),
        "{dest} differs from the source"
    );
    let leftovers: Vec<String> = fs::read_dir(dest_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "big.bin")
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");

    let second = run_hook_runner(&inventory, &playbook, work.path());
    eprintln!(
        "{test}: unchanged re-run in {:.2} s, peak RSS {:.1} MiB",
        second.secs,
        second.max_rss_kb as f64 / 1024.0
    );
    assert!(
        second.success && second.stdout.contains("changed=0"),
        "the second run:\n{}\n{}",
        second.stdout,
        second.stderr
    );
    assert!(
        second.max_rss_kb < RSS_LIMIT_KB,
        "peak RSS {} KiB for the unchanged re-run of a {} MiB copy (limit {RSS_LIMIT_KB} KiB)",
        second.max_rss_kb,
        size / MIB
    );
    let cleanup = host.ssh_command(&format!("rm -rf {dest_dir}"));
    assert!(cleanup.status.success(), "cleaning up: {cleanup:?}");
}

#[test]
fn a_200_mb_copy_streams_with_bounded_memory() {
    copies_with_bounded_memory("a_200_mb_copy_streams_with_bounded_memory", 200 * MIB);
}

#[test]
fn a_1_gb_copy_streams_with_bounded_memory() {
    if std::env::var("HR_SCALE_TESTS").map_or(true, |v| v != "1") {
        eprintln!("a_1_gb_copy_streams_with_bounded_memory: skipped (set HR_SCALE_TESTS=1)");
        return;
    }
    copies_with_bounded_memory("a_1_gb_copy_streams_with_bounded_memory", 1024 * MIB);
}
