//! The YAML loader (`hook_runner::yaml::load_str`) on arbitrary text: it must return a value or a
//! located error, never panic, hang or blow up memory (alias bombs and deep nesting are refused
//! with a budget error). Loaded documents also go through `to_value` and the YAML emitter, which
//! walk the whole tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(node) = hook_runner::yaml::load_str(&text, "fuzz.yml") {
        let value = node.to_value();
        let _ = hook_runner::yaml::to_yaml_string(&value);
        let _ = hook_runner::yaml::to_map(&node);
    }
});
