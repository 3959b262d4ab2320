//! Reading the Kubernetes manifests of `images/manifests/` as JSON values (multi-document YAML
//! loaded with hook-runner's own YAML loader). Shared by `tests/pod_manifests.rs` and
//! `tests/image_podman.rs`, which include it with `#[path = "support/manifests.rs"] mod manifests;`.
#![allow(dead_code)]

use hook_runner::yaml;
use serde_json::Value;
use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the repository as text.
pub fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The documents of a multi-document YAML file of the repository, as JSON values.
pub fn documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    let mut docs = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line == "---" {
            docs.push(std::mem::take(&mut current));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs.push(current);
    docs.iter()
        .map(|doc| {
            yaml::load_str(doc, relative)
                .unwrap_or_else(|e| panic!("{e}"))
                .to_value()
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The one document of `kind` among `docs`.
pub fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind}, found {}", found.len());
    found[0]
}
