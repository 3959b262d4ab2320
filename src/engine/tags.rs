//! Tag selection (`--tags`/`--skip-tags`), as Ansible's `Taggable.evaluate_tags`.
//!
//! A task's tags are its own plus every enclosing block's, role's and play's. An untagged
//! task counts as tagged `untagged`. With `--tags` (default `all`): `always` runs unless
//! skipped explicitly, `all` runs everything but `never`, `tagged` runs anything tagged,
//! otherwise a tag must match. Then `--skip-tags`: `all` skips everything but `always` (unless
//! `always` is skipped too), `tagged` skips tagged tasks, otherwise a matching tag skips.

use std::collections::HashSet;

/// Whether a task with `tags` runs under `only` (`--tags`, empty = all) and `skip`.
pub fn should_run(tags: &[String], only: &[String], skip: &[String]) -> bool {
    let mut set: HashSet<&str> = tags.iter().map(String::as_str).collect();
    let untagged = set.is_empty();
    if untagged {
        set.insert("untagged");
    }
    let only: Vec<&str> = if only.is_empty() {
        vec!["all"]
    } else {
        only.iter().map(String::as_str).collect()
    };
    let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
    let hits = |list: &[&str]| list.iter().any(|t| set.contains(t));
    let mut run = set.contains("always")
        || (only.contains(&"all") && !set.contains("never"))
        || hits(&only)
        || (only.contains(&"tagged") && !untagged && !set.contains("never"));
    if run && !skip.is_empty() {
        if skip.contains(&"all") {
            if !set.contains("always") || skip.contains(&"always") {
                run = false;
            }
        } else if hits(&skip) || (skip.contains(&"tagged") && !untagged) {
            run = false;
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_run_all_but_never() {
        assert!(should_run(&[], &[], &[]));
        assert!(should_run(&s(&["a"]), &[], &[]));
        assert!(!should_run(&s(&["never"]), &[], &[]));
        assert!(should_run(&s(&["never", "x"]), &s(&["x"]), &[]));
    }

    #[test]
    fn only_tags_and_special_selectors() {
        assert!(!should_run(&s(&["a"]), &s(&["b"]), &[]));
        assert!(should_run(&s(&["always"]), &s(&["b"]), &[]));
        assert!(should_run(&s(&["a"]), &s(&["tagged"]), &[]));
        assert!(!should_run(&[], &s(&["tagged"]), &[]));
        assert!(should_run(&[], &s(&["untagged"]), &[]));
    }

    #[test]
    fn skip_tags() {
        assert!(!should_run(&s(&["a"]), &[], &s(&["a"])));
        assert!(should_run(&s(&["always"]), &[], &s(&["all"])));
        assert!(!should_run(&s(&["always"]), &[], &s(&["always"])));
        assert!(!should_run(&s(&["a"]), &[], &s(&["tagged"])));
        assert!(should_run(&[], &[], &s(&["tagged"])));
    }
}
