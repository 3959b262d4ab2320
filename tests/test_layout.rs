//! The test binaries are declared in Cargo.toml (`autotests = false`): a test file that no
//! binary includes would silently never run. Every `tests/*.rs` file is either a binary's root
//! named in Cargo.toml or a module of exactly one root (`#[path = "file.rs"]`).

use std::collections::BTreeMap;
use std::path::Path;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `path = "tests/..."` entries of the package's [[test]] tables.
fn test_roots() -> Vec<String> {
    let manifest = std::fs::read_to_string(manifest_dir().join("Cargo.toml")).unwrap();
    manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("path = \"tests/"))
        .filter_map(|rest| rest.strip_suffix('"'))
        .map(str::to_string)
        .collect()
}

/// The files a root includes with `#[path = "..."]`, relative to tests/.
fn included_by(root: &str) -> Vec<String> {
    let text = std::fs::read_to_string(manifest_dir().join("tests").join(root)).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("#[path = \""))
        .filter_map(|rest| rest.strip_suffix("\"]"))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_test_file_belongs_to_exactly_one_test_binary() {
    let roots = test_roots();
    assert!(roots.iter().any(|r| r == "local.rs"), "{roots:?}");
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for root in roots.iter().filter(|r| !r.contains('/')) {
        owners
            .entry(root.clone())
            .or_default()
            .push("Cargo.toml".into());
        for file in included_by(root) {
            owners.entry(file).or_default().push(root.clone());
        }
    }
    let entries = std::fs::read_dir(manifest_dir().join("tests")).unwrap();
    let mut files: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".rs"))
        .collect();
    files.sort();
    let problems: Vec<String> = files
        .iter()
        .filter_map(|f| match owners.get(f).map(Vec::len) {
            Some(1) => None,
            None => Some(format!(
                "tests/{f} is in no test binary: add it to one of {roots:?}"
            )),
            Some(_) => Some(format!("tests/{f} is in several: {:?}", owners[f])),
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
