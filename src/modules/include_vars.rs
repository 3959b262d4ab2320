//! `ansible.builtin.include_vars`: loads variables from YAML/JSON files; runs on the controller.
//!
//! Semantics (ansible-core 2.18 `plugins/action/include_vars.py`):
//! - The source is `file`, the free-form text (`include_vars: workload.yml`), or `dir`; `file`
//!   and `dir` together fail with `You are mixing file only and dir only arguments, these are
//!   incompatible`.
//! - A relative `file` is searched, for each search path P (role directories first, then the
//!   playbook directory), as `P/vars/FILE` then `P/FILE`; the first that exists wins. Not found
//!   fails with `Could not find or access 'FILE'` and the places searched. `~` is expanded from
//!   `$HOME`.
//! - The file must hold a mapping (an empty file is `{}`); otherwise the task fails with
//!   `FILE must be stored as a dictionary/hash`. YAML errors fail with file:line:column.
//! - `dir` loads every file (recursively, `depth` levels when > 0) in sorted order whose
//!   extension is in `extensions` (`yaml`, `yml`, `json`); others fail with `FILE does not have a
//!   valid extension: yaml, yml, json` unless `ignore_unknown_extensions`; `files_matching` (a
//!   regex on the file name) and `ignore_files` (names or regexes) filter them. Later files
//!   replace earlier top-level keys.
//! - `name: x` puts everything under one variable `x`.
//! - Result: `ansible_facts: {...}`, `ansible_included_var_files: [absolute paths]`,
//!   `changed: false`. The engine stores the variables with include_vars precedence.
//! - Failures while finding or loading the files (not found, not a mapping, bad extension,
//!   missing directory) are reported as Ansible's action reports them: `failed: true` with the
//!   text under `message` (not `msg`), next to `ansible_facts: {}` and
//!   `ansible_included_var_files: []`. Argument errors (`file` with `dir`) and YAML syntax
//!   errors in a `dir` file are raised errors in Ansible, so they come back under `msg`.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::failed_unchanged as failed;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

pub struct IncludeVars;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param::new("file", Kind::Path),
        Param::new("dir", Kind::Path),
        Param::new("name", Kind::Str),
        Param {
            default: Some("0"),
            ..Param::new("depth", Kind::Int)
        },
        Param::new("files_matching", Kind::Str),
        Param::new("ignore_files", Kind::List),
        Param {
            default: Some("yaml,yml,json"),
            ..Param::new("extensions", Kind::List)
        },
        Param {
            default: Some("false"),
            ..Param::new("ignore_unknown_extensions", Kind::Bool)
        },
        Param {
            choices: &["replace", "merge"],
            ..Param::new("hash_behaviour", Kind::Str)
        }
        .ignored(),
    ],
    free_form: true,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for IncludeVars {
    fn name(&self) -> &'static str {
        "include_vars"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.include_vars"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }

    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        Ok(include_vars(&args, ctx.scope.search_paths))
    }
}

pub fn include_vars(args: &Map, search_paths: &[PathBuf]) -> Map {
    let text = |k: &str| {
        args.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    // Free-form text is split into words as Ansible's parse_kv does: `include_vars: >` with a
    // folded block leaves a trailing newline that is not part of the name.
    let raw = text("_raw_params").map(str::trim).filter(|s| !s.is_empty());
    let file = text("file").or(raw);
    let dir = text("dir");
    // `file: ''` (e.g. an empty first_found result) is a missing file, not a missing option.
    let empty_file = file.is_none()
        && dir.is_none()
        && args
            .get("file")
            .is_some_and(|v| v.is_null() || v.as_str() == Some(""));
    if empty_file {
        return reported_failure(format!("Could not find file{CONTROLLER_HINT}"), &[]);
    }
    let loaded = match (file, dir) {
        (Some(_), Some(_)) => Err(Failure::Raised(
            "You are mixing file only and dir only arguments, these are incompatible".to_string(),
        )),
        (Some(f), None) => load_one(f, search_paths).map_err(|m| Failure::Reported(m, Vec::new())),
        (None, Some(d)) => load_dir(d, args, search_paths),
        (None, None) => Err(Failure::Raised(
            "No file or dir was given to include_vars".to_string(),
        )),
    };
    let (mut vars, files) = match loaded {
        Ok(x) => x,
        Err(Failure::Raised(msg)) => return failed(msg),
        Err(Failure::Reported(message, loaded)) => return reported_failure(message, &loaded),
    };
    if let Some(name) = text("name") {
        let mut wrapped = Map::new();
        wrapped.insert(name.to_string(), Value::Object(vars));
        vars = wrapped;
    }
    let mut r = Map::new();
    r.insert("ansible_facts".into(), Value::Object(vars));
    r.insert(
        "ansible_included_var_files".into(),
        Value::Array(
            files
                .iter()
                .map(|p| Value::String(p.display().to_string()))
                .collect(),
        ),
    );
    r.insert("changed".into(), Value::Bool(false));
    r
}

type Loaded = (Map, Vec<PathBuf>);

/// The end of Ansible's file-not-found message.
const CONTROLLER_HINT: &str = " on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option";

/// How a failure reaches the result: Ansible's action either raises (the task's `msg`) or sets
/// `failed` and `message` on its own result.
#[derive(Debug)]
enum Failure {
    Raised(String),
    /// The message, and the files loaded before the failure (Ansible lists them).
    Reported(String, Vec<PathBuf>),
}

/// The action's own failure shape: `message`, empty facts, and the files loaded before.
fn reported_failure(message: String, loaded: &[PathBuf]) -> Map {
    let mut r = Map::new();
    r.insert("failed".into(), Value::Bool(true));
    r.insert("message".into(), Value::String(message));
    let loaded = loaded
        .iter()
        .map(|p| Value::String(p.display().to_string()))
        .collect();
    r.insert("ansible_included_var_files".into(), Value::Array(loaded));
    r.insert("ansible_facts".into(), Value::Object(Map::new()));
    r.insert("changed".into(), Value::Bool(false));
    r
}

fn load_one(file: &str, search_paths: &[PathBuf]) -> Result<Loaded, String> {
    let path = find_needle(file, search_paths)?;
    let vars = load_mapping(&path).map_err(|e| match e {
        LoadError::Syntax(msg) | LoadError::NotMapping(msg) => msg,
    })?;
    Ok((vars, vec![path]))
}

/// Why a vars file did not load.
enum LoadError {
    Syntax(String),
    NotMapping(String),
}

/// Where Ansible looks for a relative vars file: `P/vars/FILE`, then `P/FILE`.
fn candidates(needle: &str, search_paths: &[PathBuf]) -> Vec<PathBuf> {
    let expanded = expand_home(needle);
    let p = Path::new(&expanded);
    if p.is_absolute() {
        return vec![p.to_path_buf()];
    }
    let mut out = Vec::new();
    for base in search_paths {
        out.push(base.join("vars").join(p));
        out.push(base.join(p));
    }
    if search_paths.is_empty() {
        out.push(p.to_path_buf());
    }
    out
}

fn find_needle(needle: &str, search_paths: &[PathBuf]) -> Result<PathBuf, String> {
    let tried = candidates(needle, search_paths);
    if let Some(found) = tried.iter().find(|p| p.exists()) {
        return Ok(absolute(found));
    }
    let searched: Vec<String> = tried.iter().map(|p| format!("\t{}", p.display())).collect();
    Err(format!(
        "Could not find or access '{needle}'\nSearched in:\n{}{CONTROLLER_HINT}",
        searched.join("\n")
    ))
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

fn load_mapping(path: &Path) -> Result<Map, LoadError> {
    let node = crate::yaml::load_file(path).map_err(|e| LoadError::Syntax(e.to_string()))?;
    match node.to_value() {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m),
        _ => Err(LoadError::NotMapping(format!(
            "{} must be stored as a dictionary/hash",
            path.display()
        ))),
    }
}

fn load_dir(dir: &str, args: &Map, search_paths: &[PathBuf]) -> Result<Loaded, Failure> {
    let root = find_needle(dir, search_paths).map_err(|_| {
        let shown = candidates(dir, search_paths)
            .pop()
            .unwrap_or_else(|| PathBuf::from(dir));
        Failure::Reported(
            format!("{} directory does not exist", shown.display()),
            Vec::new(),
        )
    })?;
    if !root.is_dir() {
        return Err(Failure::Reported(
            format!("{} is not a directory", root.display()),
            Vec::new(),
        ));
    }
    let depth = args.get("depth").and_then(Value::as_i64).unwrap_or(0);
    let extensions = string_list(args.get("extensions"));
    let extensions = if extensions.is_empty() {
        vec!["yaml".into(), "yml".into(), "json".into()]
    } else {
        extensions
    };
    let ignore_unknown = args
        .get("ignore_unknown_extensions")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let matching = match args.get("files_matching").and_then(Value::as_str) {
        Some(re) => Some(
            regex::Regex::new(re)
                .map_err(|e| Failure::Raised(format!("Invalid regular expression: {re}: {e}")))?,
        ),
        None => None,
    };
    let ignore = string_list(args.get("ignore_files"));
    let mut files = Vec::new();
    walk(&root, 1, depth, &mut files)
        .map_err(|e| Failure::Raised(format!("cannot read {}: {e}", root.display())))?;
    let mut vars = Map::new();
    let mut included = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if is_ignored(&name, &ignore) {
            continue;
        }
        if let Some(re) = &matching {
            if !re.is_match(&name) {
                continue;
            }
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_string())
            .unwrap_or_default();
        if !extensions.contains(&ext) {
            if ignore_unknown {
                continue;
            }
            return Err(Failure::Reported(
                format!(
                    "{} does not have a valid extension: {}",
                    path.display(),
                    extensions.join(", ")
                ),
                included,
            ));
        }
        match load_mapping(&path) {
            Ok(loaded) => vars.extend(loaded),
            Err(LoadError::Syntax(msg)) => return Err(Failure::Raised(msg)),
            Err(LoadError::NotMapping(msg)) => return Err(Failure::Reported(msg, included)),
        }
        included.push(path);
    }
    Ok((vars, included))
}

/// Files under `dir`, sorted by name, directories walked after the files of their parent.
fn walk(dir: &Path, level: i64, depth: i64, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) = entries.into_iter().partition(|p| p.is_dir());
    out.extend(files);
    if depth == 0 || level < depth {
        for d in dirs {
            walk(&d, level + 1, depth, out)?;
        }
    }
    Ok(())
}

/// Ansible's default `ignore_files` plus the user's (names or regexes).
fn is_ignored(name: &str, user: &[String]) -> bool {
    const DEFAULT: &[&str] = &[".DS_Store", ".gitkeep", ".keep"];
    DEFAULT.contains(&name)
        || user.iter().any(|pat| {
            pat == name
                || regex::Regex::new(pat)
                    .map(|re| re.is_match(name))
                    .unwrap_or(false)
        })
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(|s| s.trim().to_string()))
            .collect(),
        Some(Value::String(s)) => s.split(',').map(|x| x.trim().to_string()).collect(),
        _ => vec![],
    }
}

fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if !home.is_empty() => {
            format!("{}/{rest}", home.trim_end_matches('/'))
        }
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::args;
    use serde_json::json;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tempdir(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("hr-incvars-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    #[test]
    fn free_form_file_relative_to_the_playbook_dir() {
        let d = tempdir("free");
        std::fs::write(
            d.0.join("workload.yml"),
            "vm:\n  ipaddress: 10.0.0.7\nmode: 0644\n",
        )
        .unwrap();
        let r = include_vars(
            &args(json!({"_raw_params": "workload.yml"})),
            std::slice::from_ref(&d.0),
        );
        assert_eq!(
            r["ansible_facts"],
            json!({"vm": {"ipaddress": "10.0.0.7"}, "mode": 420})
        );
        assert_eq!(
            r["ansible_included_var_files"],
            json!([d.0.join("workload.yml").display().to_string()])
        );
        assert_eq!(r["changed"], json!(false));
    }

    #[test]
    fn free_form_text_is_trimmed() {
        let d = tempdir("trim");
        std::fs::write(d.0.join("s.yml"), "a: 1\n").unwrap();
        let r = include_vars(
            &args(json!({"_raw_params": "s.yml\n"})),
            std::slice::from_ref(&d.0),
        );
        assert_eq!(r["ansible_facts"], json!({"a": 1}), "{r:?}");
    }

    #[test]
    fn vars_subdir_wins_and_name_wraps() {
        let d = tempdir("vars");
        std::fs::create_dir_all(d.0.join("vars")).unwrap();
        std::fs::write(d.0.join("vars/x.yml"), "a: 1\n").unwrap();
        std::fs::write(d.0.join("x.yml"), "a: 2\n").unwrap();
        let r = include_vars(
            &args(json!({"file": "x.yml", "name": "plan"})),
            std::slice::from_ref(&d.0),
        );
        assert_eq!(r["ansible_facts"], json!({"plan": {"a": 1}}));
    }

    #[test]
    fn missing_files_list_where_they_were_searched() {
        let d = tempdir("missing");
        let r = include_vars(
            &args(json!({"file": "nope.yml"})),
            std::slice::from_ref(&d.0),
        );
        assert_eq!(r["failed"], json!(true));
        assert_eq!(r["ansible_facts"], json!({}));
        assert!(r.get("msg").is_none(), "{r:?}");
        let msg = r["message"].as_str().unwrap();
        assert!(
            msg.starts_with("Could not find or access 'nope.yml'"),
            "{msg}"
        );
        assert!(msg.contains(&d.0.join("vars/nope.yml").display().to_string()));
    }

    #[test]
    fn non_mappings_fail() {
        let d = tempdir("list");
        std::fs::write(d.0.join("l.yml"), "- a\n- b\n").unwrap();
        let r = include_vars(&args(json!({"file": "l.yml"})), std::slice::from_ref(&d.0));
        assert!(r["message"]
            .as_str()
            .unwrap()
            .ends_with("l.yml must be stored as a dictionary/hash"));
    }

    #[test]
    fn empty_files_are_empty_mappings() {
        let d = tempdir("empty");
        std::fs::write(d.0.join("e.yml"), "").unwrap();
        let r = include_vars(&args(json!({"file": "e.yml"})), std::slice::from_ref(&d.0));
        assert_eq!(r["ansible_facts"], json!({}));
    }

    #[test]
    fn yaml_errors_are_located() {
        let d = tempdir("bad");
        std::fs::write(d.0.join("b.yml"), "a: [1,\n").unwrap();
        let r = include_vars(&args(json!({"file": "b.yml"})), std::slice::from_ref(&d.0));
        let msg = r["message"].as_str().unwrap();
        assert!(msg.contains("b.yml:"), "{msg}");
        assert_eq!(r["failed"], json!(true));
    }

    #[test]
    fn dir_loads_sorted_files_and_checks_extensions() {
        let d = tempdir("dir");
        std::fs::create_dir_all(d.0.join("v")).unwrap();
        std::fs::write(d.0.join("v/a.yml"), "x: 1\ny: 1\n").unwrap();
        std::fs::write(d.0.join("v/b.json"), "{\"y\": 2}").unwrap();
        let r = include_vars(&args(json!({"dir": "v"})), std::slice::from_ref(&d.0));
        assert_eq!(r["ansible_facts"], json!({"x": 1, "y": 2}));
        std::fs::write(d.0.join("v/c.txt"), "z: 3").unwrap();
        let r = include_vars(&args(json!({"dir": "v"})), std::slice::from_ref(&d.0));
        assert!(r["message"]
            .as_str()
            .unwrap()
            .contains("does not have a valid extension: yaml, yml, json"));
        assert_eq!(
            r["ansible_included_var_files"],
            json!([
                d.0.join("v/a.yml").display().to_string(),
                d.0.join("v/b.json").display().to_string()
            ]),
            "the files loaded before the failure are listed"
        );
        let r = include_vars(
            &args(json!({"dir": "v", "ignore_unknown_extensions": true})),
            std::slice::from_ref(&d.0),
        );
        assert_eq!(r["ansible_facts"], json!({"x": 1, "y": 2}));
    }

    #[test]
    fn a_missing_dir_is_reported_under_message() {
        let d = tempdir("nodir");
        let r = include_vars(&args(json!({"dir": "absent"})), std::slice::from_ref(&d.0));
        assert_eq!(
            r["message"],
            json!(format!(
                "{} directory does not exist",
                d.0.join("absent").display()
            ))
        );
        assert_eq!(r["ansible_included_var_files"], json!([]));
    }

    #[test]
    fn an_empty_file_name_is_a_missing_file() {
        let r = include_vars(&args(json!({"file": ""})), &[]);
        assert!(r["message"]
            .as_str()
            .unwrap()
            .starts_with("Could not find file on the Ansible Controller."));
    }

    #[test]
    fn file_and_dir_together_fail() {
        let r = include_vars(&args(json!({"file": "a", "dir": "b"})), &[]);
        assert_eq!(
            r["msg"],
            json!("You are mixing file only and dir only arguments, these are incompatible")
        );
    }

    #[tokio::test]
    async fn through_the_spec() {
        use crate::modules::remote::testkit::{run_with, Options};
        let d = tempdir("spec");
        std::fs::write(d.0.join("plan.yml"), "targetnamespace: t\n").unwrap();
        let opts = Options {
            search_paths: vec![d.0.clone()],
            ..Options::default()
        };
        let r = run_with(&IncludeVars, json!({"_raw_params": "plan.yml"}), opts).await;
        assert_eq!(r["ansible_facts"], json!({"targetnamespace": "t"}), "{r:?}");
    }
}
