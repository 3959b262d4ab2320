//! Tag selection (`--tags`/`--skip-tags`), as Ansible's `Taggable.evaluate_tags`.
//!
//! A task's tags are its own plus every enclosing block's, role's and play's. An untagged
//! task counts as tagged `untagged`. With `--tags` (default `all`): `always` runs unless
//! skipped explicitly, `all` runs everything but `never`, `tagged` runs anything tagged,
//! otherwise a tag must match. Then `--skip-tags`: `all` skips everything but `always` (unless
//! `always` is skipped too), `tagged` skips tagged tasks, otherwise a matching tag skips.

use crate::template::{Scope, Templar};
use crate::{Map, Value};
use std::collections::HashSet;

/// Tags as Ansible evaluates them: a templated tag (`tags: "{{ the_tags }}"`) is rendered with
/// the play's variables and the extra vars (Ansible filters tasks by tags before any host is
/// chosen); a list result gives several tags, a string is split on commas. A tag that cannot
/// be rendered stays as written.
pub fn templated(tags: &[String], templar: &Templar, vars: &Map) -> Vec<String> {
    if !tags.iter().any(|t| Templar::is_template(t)) {
        return tags.to_vec();
    }
    let scope = Scope {
        vars,
        search_paths: &[],
    };
    let mut out = Vec::new();
    for tag in tags {
        if !Templar::is_template(tag) {
            out.push(tag.clone());
            continue;
        }
        match templar.template(&Value::String(tag.clone()), scope) {
            Ok(Value::Array(items)) => out.extend(items.iter().map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })),
            Ok(Value::String(s)) => out.extend(
                s.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            ),
            Ok(other) => out.push(other.to_string()),
            Err(_) => out.push(tag.clone()),
        }
    }
    out
}

/// The variables tags are rendered with: the play's `vars`, then the extra vars.
pub fn tag_vars(play_vars: &Map, extra_vars: &Map) -> Map {
    let mut vars = play_vars.clone();
    vars.extend(extra_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars
}

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
