//! Self-tests of `lab::vm`: a systemd VM boots from the Debian rootfs, has MariaDB active and no
//! Python, lets the unprivileged user sudo, keeps its writes to itself, and leaves nothing behind.

use std::time::Instant;

use lab::util::report_timing;
use lab::vm::{Rootfs, ViewKind, Vm, VmOptions, VmTrace, HOST_COMMANDS};

fn prerequisites(test: &str) -> bool {
    lab::require_root_and(test, HOST_COMMANDS)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn assert_gone(trace: &VmTrace) {
    let left = trace.leftovers();
    assert!(left.is_empty(), "VM {} left behind: {left:#?}", trace.name);
}

/// What every test VM must offer.
fn assert_lab_vm(vm: &Vm) {
    assert_eq!(vm.exec_ok("systemctl is-active mariadb"), "active");
    assert_eq!(vm.exec_ok("systemctl is-active ssh"), "active");
    let python = vm.exec("command -v python3 || command -v python");
    assert!(
        !python.status.success(),
        "the VM has Python: {}",
        stdout(&python)
    );
    assert_eq!(vm.exec_ok("id -un"), "root");

    let user = vm.exec_as_user("id -un; sudo -n true && echo sudo-ok; sudo -n id -u");
    assert!(
        user.status.success(),
        "{}",
        String::from_utf8_lossy(&user.stderr)
    );
    assert_eq!(stdout(&user), format!("{}\nsudo-ok\n0", vm.user()));

    assert_eq!(vm.exec_ok("hostname"), vm.name());
    assert_eq!(vm.exec_ok("stat -c %a /etc/sudoers.d/vmuser"), "440");
    let ip = vm.exec_ok("cat /proc/net/fib_trie | grep -c ' 10.214.'");
    assert!(
        ip.parse::<u32>().unwrap_or(0) > 0,
        "no 10.214 address inside the VM"
    );
}

#[test]
fn vm_boots_with_mariadb_no_python_and_leaves_nothing() {
    if !prerequisites("vm_boots_with_mariadb_no_python_and_leaves_nothing") {
        return;
    }
    let started = Instant::now();
    let vm = Vm::boot().expect("booting a VM");
    assert_eq!(vm.view_kind(), Some(ViewKind::Overlay));
    assert_lab_vm(&vm);

    // Writes stay in the VM's own view: the shared rootfs is untouched.
    vm.exec_ok("echo written-by-the-test > /etc/lab-marker && chmod 0640 /etc/lab-marker");
    assert_eq!(vm.exec_ok("stat -c %a /etc/lab-marker"), "640");
    assert_eq!(vm.exec_ok("cat /etc/lab-marker"), "written-by-the-test");
    let rootfs = Rootfs::get().expect("rootfs");
    assert!(!rootfs.path().join("etc/lab-marker").exists());

    // The VM's exit status comes back as is.
    assert_eq!(vm.exec("exit 7").status.code(), Some(7));

    let trace = vm.trace();
    assert!(trace.nspawn.is_some() && trace.init.is_some(), "{trace:?}");
    assert!(
        trace.leftovers().len() >= 4,
        "a running VM should be visible: {trace:?}"
    );
    vm.shutdown().expect("clean teardown");
    assert_gone(&trace);
    report_timing("test-vm-single", started.elapsed());
}

#[test]
fn two_vms_boot_in_parallel_and_are_separate() {
    if !prerequisites("two_vms_boot_in_parallel_and_are_separate") {
        return;
    }
    let started = Instant::now();
    let vms = Vm::boot_many(2, VmOptions::default()).expect("booting two VMs");
    report_timing("vm-boot-two-parallel", started.elapsed());
    let (a, b) = (&vms[0], &vms[1]);
    assert_ne!(a.address(), b.address());
    assert_ne!(a.name(), b.name());
    for vm in &vms {
        assert_lab_vm(vm);
    }
    a.exec_ok("echo only-in-a > /root/marker");
    assert!(
        !b.exec("test -e /root/marker").status.success(),
        "B sees A's write"
    );

    let traces: Vec<VmTrace> = vms.iter().map(Vm::trace).collect();
    drop(vms);
    for trace in &traces {
        assert_gone(trace);
    }
    report_timing("test-vm-two-parallel", started.elapsed());
}

#[test]
fn vm_boots_from_a_copy_when_overlay_is_not_used() {
    if !prerequisites("vm_boots_from_a_copy_when_overlay_is_not_used") {
        return;
    }
    let started = Instant::now();
    let opts = VmOptions {
        force_copy: true,
        ..VmOptions::default()
    };
    let vm = Vm::boot_with(opts).expect("booting a VM from a copy");
    assert_eq!(vm.view_kind(), Some(ViewKind::Copy));
    assert_eq!(vm.exec_ok("systemctl is-active mariadb"), "active");
    let trace = vm.trace();
    drop(vm);
    assert_gone(&trace);
    report_timing("test-vm-copy", started.elapsed());
}

#[test]
fn a_panicking_test_still_tears_its_vm_down() {
    if !prerequisites("a_panicking_test_still_tears_its_vm_down") {
        return;
    }
    let trace = std::thread::spawn(|| {
        let vm = Vm::boot().expect("booting a VM");
        let trace = vm.trace();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _vm = vm;
            panic!("deliberate panic while the VM runs");
        }));
        assert!(result.is_err());
        trace
    })
    .join()
    .expect("the boot thread");
    assert_gone(&trace);
}

/// Set in the child process of `leftovers_of_a_killed_process_are_swept`.
const CRASH_CHILD_ENV: &str = "LAB_VM_CRASH_CHILD";

/// Not a test on its own: the child half of `leftovers_of_a_killed_process_are_swept`, which runs
/// this test binary again with `CRASH_CHILD_ENV` set. It boots a VM, prints its trace, and waits
/// to be killed (bounded, in case the parent dies first).
#[test]
#[ignore = "helper process of leftovers_of_a_killed_process_are_swept, which runs it"]
fn crash_child_boots_a_vm_and_waits_to_be_killed() {
    if std::env::var_os(CRASH_CHILD_ENV).is_none() {
        return;
    }
    let vm = Vm::boot().expect("booting a VM in the crash child");
    let trace = serde_json::to_string(&vm.trace()).expect("trace as JSON");
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "TRACE {trace}").expect("stdout");
    out.flush().expect("stdout");
    std::thread::sleep(std::time::Duration::from_secs(120));
}

#[test]
fn leftovers_of_a_killed_process_are_swept() {
    if !prerequisites("leftovers_of_a_killed_process_are_swept") {
        return;
    }
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", "--nocapture"])
        .arg("crash_child_boots_a_vm_and_waits_to_be_killed")
        .env(CRASH_CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the crash child");
    let stdout = child.stdout.take().expect("child stdout");
    let line = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("TRACE ").map(str::to_string));
    // SIGKILL: no unwinding, no Drop; the VM is orphaned as after a crash.
    child.kill().expect("killing the crash child");
    child.wait().expect("reaping the crash child");
    let line = line.expect("the crash child printed no trace (did its VM boot?)");
    let trace: VmTrace = serde_json::from_str(&line).expect("the child's trace");
    assert!(
        !trace.leftovers().is_empty(),
        "a crashed VM should leave traces: {trace:?}"
    );

    let swept = lab::vm::cleanup_leftovers().expect("sweeping leftovers");
    assert!(
        !swept.is_empty(),
        "nothing swept; leftovers: {:?}",
        trace.leftovers()
    );
    assert_gone(&trace);
}

#[test]
fn a_failed_boot_removes_what_it_made() {
    if !prerequisites("a_failed_boot_removes_what_it_made") {
        return;
    }
    let started = Instant::now();
    let opts = VmOptions {
        boot_timeout: std::time::Duration::from_millis(1),
        ..VmOptions::default()
    };
    let err = format!(
        "{:#}",
        Vm::boot_with(opts).expect_err("a 1 ms boot must time out")
    );
    assert!(
        err.contains("did not answer SSH within the boot timeout"),
        "{err}"
    );
    // The error names the VM (hrvm-SLOT-PID-SEQ); nothing of that name may remain.
    let name = err
        .split_whitespace()
        .find(|w| w.starts_with("hrvm-"))
        .unwrap_or_else(|| panic!("no VM name in: {err}"))
        .to_string();
    assert!(!std::path::Path::new("/run/netns").join(&name).exists());
    assert!(!std::env::temp_dir().join(&name).exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(!mounts.contains(&name), "a mount of {name} remains");
    let processes = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(&name))
        .count();
    assert_eq!(processes, 0, "a process of {name} remains");
    report_timing("test-vm-failed-boot", started.elapsed());
}
