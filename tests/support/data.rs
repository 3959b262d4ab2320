//! The test data the suite reads: Forklift's data shapes, kept in the repository
//! (`data/forklift/`), and the public hook corpus, which lives beside the repository
//! (`../shared/corpus/hooks`) and is not part of it.
//!
//! Tests that need the corpus call [`corpus_dir`]: without it they print a loud `NOT RUN` line
//! and pass, so a clone of the repository alone passes its suite; with `CI=true` a missing
//! corpus is a failure (CI always has it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A file of Forklift's data shapes: `plan.yml`, `<provider>.workload.yml`,
/// `<provider>.inventory.json`.
pub fn forklift(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/forklift")
        .join(name)
}

/// [`forklift`]'s content.
pub fn read_forklift(name: &str) -> String {
    std::fs::read_to_string(forklift(name)).unwrap_or_else(|e| panic!("data/forklift/{name}: {e}"))
}

/// The public hook corpus, when it is beside the repository. `test` names the caller in the
/// NOT RUN line.
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/hooks");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{test}: the hook corpus {} is missing (CI=true)",
            dir.display()
        );
    }
    eprintln!(
        "NOT RUN: {test}: the hook corpus {} is not beside the repository",
        dir.display()
    );
    None
}

/// A corpus file's path (call [`corpus_dir`] first).
pub fn corpus_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/hooks")
        .join(name)
}
