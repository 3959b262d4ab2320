//! Every corpus hook playbook either loads, or is rejected before anything runs with a
//! located, specific message (reference: shared/corpus/hooks, issue 3 "Done when").

use crate::data;

use data::corpus_file as corpus;
use hook_runner::playbook::{load_playbook, LoadError};

/// The 1-based line and column of the first occurrence of `needle` in the corpus file.
fn position_of(name: &str, needle: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(corpus(name)).unwrap();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(col) = line.find(needle) {
            return (i + 1, col + 1);
        }
    }
    panic!("{needle} not in {name}");
}

fn rejected(name: &str) -> LoadError {
    match load_playbook(&corpus(name)) {
        Ok(_) => panic!("{name} loaded but should be rejected"),
        Err(e) => e,
    }
}

fn assert_at(e: &LoadError, name: &str, needle: &str) {
    let (line, col) = position_of(name, needle);
    assert_eq!((e.loc.line, e.loc.col), (line, col), "{e}");
    assert!(e.loc.file.ends_with(name), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("{}:{line}:{col}: ", e.loc.file)),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "The error appears to be in '{}': line {line}, column {col}",
            e.loc.file
        )),
        "{shown}"
    );
}

#[test]
fn valid_corpus_playbooks_load() {
    if data::corpus_dir("valid_corpus_playbooks_load").is_none() {
        return;
    }
    for name in [
        "forklift-console-plugin-e2e-hook-template.yml",
        "forklift-docs-hooks-cloud-init.yml",
        "forklift-sample-2021-load-vars-absolute.yml",
        "kubectl-mtv-guide-db-backup-hook.yml",
        "kubectl-mtv-guide-shell-script-hook.yml",
        "kubectl-mtv-guide-simple-notification.yml",
        "mtc-docs-fail-module.yml",
        "mtc-docs-k8s-info-own-pod.yml",
    ] {
        let pb = load_playbook(&corpus(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!pb.plays.is_empty(), "{name}");
    }
}

#[test]
fn windows_module_is_unknown() {
    if data::corpus_dir("windows_module_is_unknown").is_none() {
        return;
    }
    let name = "forklift-issue956-windows-bring-disks-online.yml";
    let e = rejected(name);
    assert_eq!(
        e.message,
        "couldn't resolve module/action 'win_shell'. This often indicates a misspelling, missing collection, or incorrect module path."
    );
    assert_at(&e, name, "win_shell:");
}

#[test]
fn skeleton_tasks_have_no_module() {
    if data::corpus_dir("skeleton_tasks_have_no_module").is_none() {
        return;
    }
    let name = "kubectl-mtv-guide-error-handling.yml";
    let e = rejected(name);
    assert_eq!(e.message, "no module/action detected in task.");
    assert_at(&e, name, "name: Send failure notification");

    let name = "kubectl-mtv-guide-secret-access.yml";
    let e = rejected(name);
    assert_eq!(e.message, "no module/action detected in task.");
    assert_at(&e, name, "name: Use credentials securely");
}

#[test]
fn asciidoc_placeholder_is_not_a_valid_name() {
    if data::corpus_dir("asciidoc_placeholder_is_not_a_valid_name").is_none() {
        return;
    }
    let name = "mtv-docs-stop-mariadb.yml";
    let e = rejected(name);
    assert!(e.message.contains("'namespace'"), "{e}");
    assert!(e.message.contains("not a valid name"), "{e}");
    assert!(e.message.contains("{namespace}"), "{e}");
    assert_at(&e, name, "{namespace}");
}

#[test]
fn mariadb_hook_loads_once_the_placeholder_is_filled() {
    if data::corpus_dir("mariadb_hook_loads_once_the_placeholder_is_filled").is_none() {
        return;
    }
    let text = std::fs::read_to_string(corpus("mtv-docs-stop-mariadb.yml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("playbook.yml");
    std::fs::write(&path, text.replace("{namespace}", "openshift-mtv")).unwrap();
    let pb = load_playbook(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pb.plays.len(), 2);
    assert_eq!(pb.plays[0].tasks.len(), 4);
    assert_eq!(pb.plays[1].tasks.len(), 2);
}
