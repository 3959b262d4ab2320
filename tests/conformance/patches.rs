//! Stand-in tasks for installs of distribution packages from the internet, and for a target's
//! own Python plugins.
//!
//! hook-runner resolves every task's module when it loads a playbook (as Ansible does for
//! static imports), so one task using a module it lacks stops a whole target before it runs.
//! The issue asks for such tasks to be listed per target with the reason, never silently
//! dropped. So, in the scratch copy of a target (never in the sdist), each task using one of
//! [`STAND_INS`] has its module and arguments replaced by a stand-in built from modules
//! hook-runner has; everything else of the task (`name`, `register`, `when`, `notify`...) is
//! kept. Each replacement is listed in the results table (file:line, module, stand-in).
//!
//! The rewrite is textual and line-based: the module key's line, then every following line
//! indented deeper than the key (its arguments), are replaced by the stand-in at the same
//! indentation.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use regex::Regex;

/// (module, what replaces it): the reason shown in the table.
pub const STAND_INS: &[(&str, &str)] = &[
    (
        "apt",
        "`debug` (a prerequisite package installed from the distribution's mirrors, which the lab does not have)",
    ),
    (
        "dnf",
        "`debug` (a prerequisite package installed from the distribution's mirrors, which the lab does not have)",
    ),
    (
        "shell_no_failed",
        "`shell` with the same arguments (the target's own Python action plugin runs `shell` and drops \
         `failed` from the result; the `until` loop it tests retries on `rc` either way)",
    ),
];

/// One task replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The file, relative to the sdist's targets dir (`file/tasks/state_link.yml`).
    pub file: String,
    /// 1-based line of the module key.
    pub line: usize,
    pub module: &'static str,
}

fn module_line() -> Regex {
    let names: Vec<&str> = STAND_INS.iter().map(|(m, _)| *m).collect();
    Regex::new(&format!(
        r"^(?P<lead>\s*(?:-\s+)?)(?:ansible\.builtin\.|ansible\.legacy\.)?(?P<m>{}):(?P<rest>.*)$",
        names.join("|")
    ))
    .expect("static regex")
}

/// Rewrites one YAML file's text; returns the new text and the (line, module) of each
/// replaced task.
pub fn patch_text(text: &str) -> (String, Vec<(usize, &'static str)>) {
    let re = module_line();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut applied = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(caps) = re.captures(lines[i]) else {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        };
        let lead = caps.name("lead").map_or("", |m| m.as_str());
        let column = lead.len();
        if !is_task_key(&lines[..i], lead) {
            // A keyword of the same name (`loop_control: {pause: 2}`), not a module.
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        let module = STAND_INS
            .iter()
            .map(|(m, _)| *m)
            .find(|m| Some(*m) == caps.name("m").map(|c| c.as_str()))
            .unwrap_or("apt");
        let mut end = i + 1;
        while end < lines.len() {
            let line = lines[end];
            if line.trim().is_empty() {
                // A blank line belongs to the arguments only when deeper lines follow it.
                let next = lines[end..].iter().find(|l| !l.trim().is_empty());
                if next.is_some_and(|l| indent(l) > column) {
                    end += 1;
                    continue;
                }
                break;
            }
            if indent(line) <= column {
                break;
            }
            end += 1;
        }
        let line_no = i + 1;
        if let Some(renamed) = renamed(module) {
            // Same arguments, another module: only the key changes.
            let rest = caps.name("rest").map_or("", |m| m.as_str());
            out.push(format!("{lead}{renamed}:{rest}"));
            applied.push((line_no, module));
            i += 1;
            continue;
        }
        let pad = " ".repeat(column + 2);
        out.push(format!("{lead}{}", stand_in(module, &pad)));
        applied.push((line_no, module));
        i = end;
    }
    (out.join("\n"), applied)
}

/// The module a stand-in keeps the arguments for, when it only renames the module.
fn renamed(module: &str) -> Option<&'static str> {
    (module == "shell_no_failed").then_some("shell")
}

/// Whether a key at `lead` is a task's own key: the line starts the task (`- pause:`), or
/// the nearest less-indented line above starts the list item the key belongs to.
fn is_task_key(above: &[&str], lead: &str) -> bool {
    if lead.trim_start().starts_with('-') {
        return true;
    }
    let column = lead.len();
    let parent = above
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && indent(l) < column);
    parent.is_some_and(|l| indent(l) + 2 == column && l.trim_start().starts_with("- "))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The stand-in's module key and arguments (continuation lines start with `pad`).
fn stand_in(module: &str, pad: &str) -> String {
    format!("debug:\n{pad}msg: \"hook-runner conformance stand-in for the {module} module\"")
}

/// Rewrites every YAML file under `dir` (a scratch copy of target `target`) in place.
pub fn patch_tree(dir: &Path, target: &str) -> Result<Vec<Applied>> {
    let mut applied = Vec::new();
    visit(dir, Path::new(""), &mut |path, rel| {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let (patched, lines) = patch_text(&text);
        if !lines.is_empty() {
            fs::write(path, patched)?;
        }
        for (line, module) in lines {
            applied.push(Applied {
                file: format!("{target}/{}", rel.display()),
                line,
                module,
            });
        }
        Ok(())
    })?;
    applied.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(applied)
}

/// `apt` at copy/tasks/acls.yml:3, ...; grouped by module.
pub fn describe(applied: &[Applied]) -> String {
    let mut parts = Vec::new();
    for (module, _) in STAND_INS {
        let places: Vec<String> = applied
            .iter()
            .filter(|a| a.module == *module)
            .map(|a| format!("{}:{}", a.file, a.line))
            .collect();
        if !places.is_empty() {
            parts.push(format!("`{module}` ({})", places.join(", ")));
        }
    }
    parts.join("; ")
}

fn visit(dir: &Path, rel: &Path, f: &mut dyn FnMut(&Path, &Path) -> Result<()>) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let child = rel.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            visit(&path, &child, f)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            f(&path, &child)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_module_keeps_its_arguments() {
        let text = "- shell_no_failed:\n    cmd: |\n      exit 1\n  until: r.rc == 0\n";
        let (out, applied) = patch_text(text);
        assert_eq!(applied, vec![(1, "shell_no_failed")]);
        assert_eq!(
            out,
            "- shell:\n    cmd: |\n      exit 1\n  until: r.rc == 0\n"
        );
    }

    #[test]
    fn keywords_of_the_same_name_are_left_alone() {
        let text = "- debug: var=i\n  loop_control:\n    dnf: 2\n- name: t\n  vars:\n    apt: 1\n";
        assert_eq!(patch_text(text), (text.to_string(), vec![]));
    }

    #[test]
    fn package_managers_become_debug_and_other_tasks_stay() {
        let text = "- apt:\n    name: acl\n  when: false\n- copy: src=a dest=b\n";
        let (out, applied) = patch_text(text);
        assert_eq!(applied, vec![(1, "apt")]);
        assert_eq!(
            out,
            "- debug:\n    msg: \"hook-runner conformance stand-in for the apt module\"\n  when: false\n- copy: src=a dest=b\n"
        );
        assert_eq!(patch_text("- aptitude: x\n").1, vec![]);
    }
}
