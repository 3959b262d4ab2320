//! Inventory parsing (`Inventory::parse_ini` / `Inventory::parse_yaml`) and host patterns on
//! arbitrary text. Input: one selector byte (bit 0: INI or YAML), then the inventory text, then
//! after the first NUL byte a host pattern that is matched and used as `--limit`.
#![no_main]

use hook_runner::inventory::Inventory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (text, pattern) = match rest.iter().position(|&b| b == 0) {
        Some(nul) => (&rest[..nul], &rest[nul + 1..]),
        None => (rest, &b"all"[..]),
    };
    let text = String::from_utf8_lossy(text);
    let pattern = String::from_utf8_lossy(pattern);
    let mut inventory = Inventory::new();
    let parsed = if selector & 1 == 0 {
        inventory.parse_ini(&text, "fuzz.ini")
    } else {
        inventory.parse_yaml(&text, "fuzz.yml")
    };
    if parsed.is_err() {
        return;
    }
    for host in inventory.host_names() {
        let _ = inventory.host_vars(&host);
        let _ = inventory.group_names(&host);
    }
    let _ = inventory.groups_var();
    let matched = inventory.match_pattern(&pattern);
    let _ = inventory.apply_limit(matched, Some(&pattern));
    let _ = hook_runner::inventory::split_pattern(&pattern);
});
