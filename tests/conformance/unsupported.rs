//! Finds, in a target's files, the features hook-runner deliberately does not support, so the
//! table lists them per target instead of letting them surface only as failures.
//!
//! Deliberately unsupported (DESIGN.md: only a POSIX shell on the target): Python on the target
//! (custom `library/`/`action_plugins/`, setting `ansible_python_interpreter` to choose the
//! interpreter modules run with, the controller's `ansible_playbook_python`; reading the
//! `ansible_python` fact and the `ansible_python_interpreter` variable works), the `tempfile`
//! and `raw` modules, `lookup('first_found')`/`with_first_found`, vault, and `setup` beyond the
//! small fact set. The scan is textual (task keys at the start of a line, lookup names anywhere):
//! it names what a target contains, whether or not the task would run.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use regex::Regex;

/// (feature, pattern) pairs; patterns are matched per line.
fn patterns() -> Vec<(&'static str, Regex)> {
    let module = |m: &str| {
        Regex::new(&format!(r"^\s*(-\s+)?(ansible\.builtin\.)?{m}:(\s|$)")).expect("static regex")
    };
    vec![
        ("`tempfile` module", module("tempfile")),
        ("`raw` module", module("raw")),
        ("`setup` module", module("setup")),
        (
            "`lookup('first_found')`",
            Regex::new(r"first_found").expect("static regex"),
        ),
        (
            "Python interpreter choice (`ansible_playbook_python`, setting \
             `ansible_python_interpreter`)",
            Regex::new(r"ansible_playbook_python|ansible_python_interpreter\s*[:=]")
                .expect("static regex"),
        ),
        (
            "vault",
            Regex::new(r"\$ANSIBLE_VAULT|!vault").expect("static regex"),
        ),
    ]
}

/// Feature → number of lines using it, over the target's YAML/J2 files; plus custom plugin
/// directories (Python on the controller or target).
pub fn scan(target_dir: &Path) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    let patterns = patterns();
    walk(target_dir, &mut |path| {
        let name = path.to_string_lossy();
        if path.is_dir() {
            for plugin_dir in [
                "library",
                "action_plugins",
                "filter_plugins",
                "lookup_plugins",
                "test_plugins",
            ] {
                if name.ends_with(&format!("/{plugin_dir}")) {
                    *found
                        .entry(format!("custom Python `{plugin_dir}/`"))
                        .or_insert(0) += 1;
                }
            }
            return;
        }
        let is_text = [".yml", ".yaml", ".j2"].iter().any(|e| name.ends_with(e))
            || name.contains("/vars/")
            || name.contains("/host_vars/");
        if !is_text {
            return;
        }
        let Ok(text) = fs::read_to_string(path) else {
            return;
        };
        for line in text.lines() {
            for (feature, re) in &patterns {
                if re.is_match(line) {
                    *found.entry(feature.to_string()).or_insert(0) += 1;
                }
            }
        }
    });
    found
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        visit(&path);
        if path.is_dir() && !path.is_symlink() {
            walk(&path, visit);
        }
    }
}

/// `feature ×N, feature ×M` for the table.
pub fn describe(found: &BTreeMap<String, usize>) -> String {
    found
        .iter()
        .map(|(f, n)| format!("{f} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_unsupported_modules_lookups_and_plugin_dirs() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("tasks")).unwrap();
        fs::create_dir_all(dir.path().join("action_plugins")).unwrap();
        fs::write(
            dir.path().join("tasks/main.yml"),
            "- tempfile:\n    state: directory\n- ansible.builtin.raw: echo\n\
             - debug: msg=\"{{ lookup('first_found', x) }}\"\n- name: tempfile is fine in a name\n\
             - command: \"{{ ansible_python.executable }} {{ ansible_python_interpreter }}\"\n\
             - set_fact:\n    ansible_python_interpreter: /usr/bin/python3\n",
        )
        .unwrap();
        let found = scan(dir.path());
        assert_eq!(found.get("`tempfile` module"), Some(&1));
        assert_eq!(found.get("`raw` module"), Some(&1));
        assert_eq!(found.get("`lookup('first_found')`"), Some(&1));
        assert_eq!(found.get("custom Python `action_plugins/`"), Some(&1));
        assert_eq!(found.get("vault"), None);
        // Reading the fact and the variable works; only setting the interpreter is listed.
        assert_eq!(
            found.get(
                "Python interpreter choice (`ansible_playbook_python`, setting \
                 `ansible_python_interpreter`)"
            ),
            Some(&1)
        );
    }
}
