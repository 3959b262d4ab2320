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
