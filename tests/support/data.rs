//! The test data the suite reads: Forklift's data shapes, kept in the repository
//! (`data/forklift/`), and the public hook corpus, which lives beside the repository
//! (`../shared/corpus/hooks`) and is not part of it.
//!
//! Tests that need the corpus call [`corpus_dir`]: without it they print the lab's loud
//! `LAB TEST NOT RUN` banner and pass, so a clone of the repository alone passes its suite; with
//! `CI=true` a missing corpus is a failure (CI always has it). `HOOK_CORPUS_DIR` names the
//! corpus's directory when the checkout is not beside it.
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

/// The public hook corpus, when it is beside the repository. Without it, the lab's
/// prerequisite policy applies ([`lab::require`]): a loud NOT RUN banner naming `test` (a failure
/// with `CI=true`).
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    let dir = corpus_root();
    let what = format!(
        "the public hook corpus {} beside the repository (or HOOK_CORPUS_DIR)",
        dir.display()
    );
    lab::require(dir.is_dir(), test, &what).then_some(dir)
}

/// A corpus file's path (call [`corpus_dir`] first).
pub fn corpus_file(name: &str) -> PathBuf {
    corpus_root().join(name)
}

/// Where the corpus is looked for: `HOOK_CORPUS_DIR`, else beside the repository.
fn corpus_root() -> PathBuf {
    match std::env::var_os("HOOK_CORPUS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/hooks"),
    }
}
