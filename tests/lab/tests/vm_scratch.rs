use lab::vm::Vm;
#[test]
fn scratch_crash() {
    let vm = Vm::boot().unwrap();
    eprintln!("BOOTED {:?}", vm.trace());
    std::thread::sleep(std::time::Duration::from_secs(300));
}
#[test]
fn scratch_sweep() {
    eprintln!("SWEPT {:?}", lab::vm::cleanup_leftovers().unwrap());
}
