//! Mode parsing (`hook_runner::modules::remote::parse_mode`) on arbitrary strings and numbers,
//! then what the modules do with a parsed mode: applying symbolic clauses to a current mode and
//! umask, and compiling the mode into the remote `sh` function. Input: 4 bytes of current mode,
//! 2 bytes of umask, then the mode text (or, when the text is 8 bytes long and starts with `#`,
//! the number in the remaining bytes: modes also come as YAML integers).
#![no_main]

use hook_runner::modules::remote::{
    apply_symbolic, attrs_function, format_mode, parse_mode, ModeSpec,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let current = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let umask = u32::from(u16::from_le_bytes([data[4], data[5]])) & 0o7777;
    let text = &data[6..];
    let value = match text {
        [b'#', n @ ..] if n.len() == 7 => {
            let mut bytes = [0u8; 8];
            bytes[..7].copy_from_slice(n);
            Value::from(i64::from_le_bytes(bytes) >> 8)
        }
        _ => Value::String(String::from_utf8_lossy(text).into_owned()),
    };
    let Ok(Some(spec)) = parse_mode(&value) else {
        let _ = attrs_function(None);
        return;
    };
    if let ModeSpec::Symbolic(clauses) = &spec {
        for is_dir in [false, true] {
            let mode = apply_symbolic(clauses, current & 0o7777, is_dir, umask);
            assert!(mode <= 0o7777, "{mode:o} has bits beyond permissions");
            let _ = format_mode(mode);
        }
    }
    let _ = attrs_function(Some(&spec));
});
