//! The templating engine with the Ansible filters (`Templar::render_str`, `eval`, `condition`) on
//! arbitrary templates against a small fixed set of variables, some of them templates themselves
//! (including a self-referencing pair, which must be reported as a loop, not recurse forever).
//! Input: one selector byte (which entry point), then the template text. Lookups that read files
//! or run commands are replaced by inert handlers, so the fuzzer never touches the machine.
#![no_main]

use hook_runner::template::{Scope, Templar};
use hook_runner::Map;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use std::sync::{Arc, OnceLock};

fn templar() -> &'static Templar {
    static TEMPLAR: OnceLock<Templar> = OnceLock::new();
    TEMPLAR.get_or_init(|| {
        let templar = Templar::new();
        for name in [
            "pipe",
            "file",
            "template",
            "env",
            "fileglob",
            "first_found",
            "url",
            "password",
        ] {
            templar.register_lookup(name, Arc::new(|terms, _options| Ok(terms.to_vec())));
        }
        templar
    })
}

fn vars() -> &'static Map {
    static VARS: OnceLock<Map> = OnceLock::new();
    VARS.get_or_init(|| {
        let value = json!({
            "n": 3,
            "f": 2.5,
            "t": true,
            "s": "hello world",
            "e": "",
            "l": [1, "two", 3.0, null, [4], {"k": "v"}],
            "d": {"a": 1, "b": [1, 2], "c": {"x": "y"}},
            "vm": {"name": "vm-1", "ips": ["10.0.0.1"], "disks": [{"size": 10}]},
            "indirect": "{{ s | upper }}",
            "loop_a": "{{ loop_b }}",
            "loop_b": "{{ loop_a }}",
            "groups": {"all": ["h1", "h2"], "web": ["h1"]},
            "inventory_hostname": "h1",
        });
        match value {
            serde_json::Value::Object(map) => map,
            _ => Map::new(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let scope = Scope {
        vars: vars(),
        search_paths: &[],
    };
    let templar = templar();
    match selector % 4 {
        0 => {
            let _ = templar.render_str(&text, scope);
        }
        1 => {
            let _ = templar.eval(&text, scope);
        }
        2 => {
            let _ = templar.condition(&text, scope);
        }
        _ => {
            let _ = templar.template(&serde_json::Value::String(text.into_owned()), scope);
        }
    }
});
