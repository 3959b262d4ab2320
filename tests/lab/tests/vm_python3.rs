//! Self-test of the lab's python3 VM variant (`VmRecipe::Python3`): it boots like the base VM
//! (MariaDB and sshd active, the sudo user), has python3 and setfacl for ansible-playbook, lives
//! in its own cache entry, and leaves the base rootfs Python-free.

use std::time::Instant;

use lab::util::report_timing;
use lab::vm::{Rootfs, Vm, VmOptions, VmRecipe, HOST_COMMANDS, PYTHON3_RECIPE, RECIPE};

#[test]
fn python3_variant_boots_with_python_and_the_base_stays_without() {
    let test = "python3_variant_boots_with_python_and_the_base_stays_without";
    if !lab::require_root_and(test, HOST_COMMANDS) {
        return;
    }
    let started = Instant::now();
    let vm = Vm::boot_with(VmOptions::python3()).expect("booting a python3 VM");
    let variant = Rootfs::get_recipe(VmRecipe::Python3).expect("the python3 rootfs");
    eprintln!(
        "python3 variant: built in {:.1} s ({}), VM booted in {:.1} s",
        variant.build_time().as_secs_f64(),
        if variant.built_now() { "now" } else { "cached" },
        vm.boot_time().as_secs_f64()
    );
    assert_eq!(vm.recipe(), VmRecipe::Python3);
    assert_eq!(variant.recipe(), VmRecipe::Python3);
    assert_eq!(vm.exec_ok("systemctl is-active mariadb"), "active");
    assert_eq!(vm.exec_ok("systemctl is-active ssh"), "active");
    assert_eq!(
        vm.exec_ok("/usr/bin/python3 -c 'import json, sys; print(sys.version_info[0])'"),
        "3"
    );
    assert!(!vm.exec_ok("command -v setfacl").is_empty());
    let user = vm.exec_as_user("sudo -n id -un");
    assert!(user.status.success(), "{:?}", user);
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "root");

    // Separate cache entries: the variant is never the base, and the base keeps no Python.
    let base = Rootfs::get().expect("the base rootfs");
    assert_ne!(base.path(), variant.path());
    let entry_name = |r: &Rootfs| {
        r.path()
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    assert!(entry_name(variant).starts_with(&format!("{PYTHON3_RECIPE}@")));
    assert!(entry_name(base).starts_with(&format!("{RECIPE}@")));
    assert!(!base.path().join("usr/bin/python3").exists());
    assert!(variant.path().join("usr/bin/python3").exists());

    let trace = vm.trace();
    vm.shutdown().expect("tearing the VM down");
    let left = trace.leftovers();
    assert!(left.is_empty(), "VM {} left behind: {left:#?}", trace.name);
    report_timing("test-vm-python3", started.elapsed());
}
