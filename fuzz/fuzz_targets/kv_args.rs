//! `k=v` argument parsing (`hook_runner::playbook::kv::parse_kv`) on arbitrary text, for both the
//! ordinary modules and the free-form ones (`check_raw`). The first byte picks the mode.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let args = hook_runner::playbook::kv::parse_kv(&text, mode & 1 == 1);
    // Every value is a string (Ansible's parse_kv never types values).
    for (key, value) in &args {
        assert!(value.is_string(), "{key} is not a string: {value}");
    }
});
