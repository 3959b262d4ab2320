//! Ansible's lookups for minijinja: `lookup(name, *terms, **kwargs)`, `query(...)`/`q(...)`.
//!
//! - `lookup` joins string results with `,` (unless `wantlist=True`); a single non-string result
//!   is returned as is, several as a list. `query`/`q` always return the list.
//! - `errors='strict'|'warn'|'ignore'` as Ansible: warn/ignore give an empty result.
//! - Built in: `file` (searched as `<path>/files/<term>` then `<path>/<term>` for each scope
//!   search path; `rstrip=True`, `lstrip=False`), `template` (searched under `templates/`,
//!   rendered with the current variables plus `template_vars`), `env` (`default=''`), `vars`
//!   (`default=`), `pipe` (`sh -c` on the controller, in the last search path, output
//!   right-stripped, non-zero exit is an error), `items` (one level flattened), `list`,
//!   `indexed_items`, `dict`.
//! - Other lookups (e.g. `kubernetes.core.k8s`) are plugged in with
//!   [`super::Templar::register_lookup`]. An unknown name fails with "lookup plugin (x) not found".
//! - Failures are worded as Ansible's: "An unhandled exception occurred while running the lookup
//!   plugin 'file'. Error was a <class 'ansible.errors.AnsibleError'>, original message: ...".

use super::context::{from_json, root_of, to_json, LazyVars};
use super::verbatim_error;
use crate::{Map, Value as Json};
use minijinja::value::{Kwargs, Object, Rest};
use minijinja::{Environment, Error, State, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A lookup plugin implemented outside the template module: positional terms and keyword
/// arguments in, the list of results out (Ansible's `run()` contract), or an error message
/// (Ansible's "original message").
pub type LookupHandler = Arc<dyn Fn(&[Json], &Map) -> Result<Vec<Json>, String> + Send + Sync>;

/// Adds `lookup`, `query` and `q` to `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_function(
        "lookup",
        |state: &State, name: String, args: Rest<Value>, kwargs: Kwargs| {
            run(state, &name, &args, kwargs, false)
        },
    );
    env.add_function(
        "query",
        |state: &State, name: String, args: Rest<Value>, kwargs: Kwargs| {
            run(state, &name, &args, kwargs, true)
        },
    );
    env.add_function(
        "q",
        |state: &State, name: String, args: Rest<Value>, kwargs: Kwargs| {
            run(state, &name, &args, kwargs, true)
        },
    );
}

/// How a lookup failure is handled (`errors=`).
#[derive(Clone, Copy, PartialEq)]
enum OnError {
    Strict,
    Warn,
    Ignore,
}

fn run(
    state: &State,
    name: &str,
    args: &[Value],
    kwargs: Kwargs,
    always_list: bool,
) -> Result<Value, Error> {
    let mut options = Map::new();
    for key in kwargs.args() {
        options.insert(key.to_string(), to_json(&kwargs.peek::<Value>(key)?)?);
    }
    let wantlist = always_list
        || options
            .remove("wantlist")
            .is_some_and(|v| crate::py::truthy(&v));
    let on_error = match options.remove("errors").as_ref().and_then(Json::as_str) {
        None | Some("strict") => OnError::Strict,
        Some("warn") => OnError::Warn,
        Some("ignore") => OnError::Ignore,
        Some(other) => {
            return Err(verbatim_error(format!(
                "Invalid value '{other}' for 'errors' option: must be one of 'strict', 'warn' or 'ignore'"
            )))
        }
    };
    let terms = terms_of(args)?;
    let short = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    let root = root_of(state);
    let outcome = match root.as_ref().and_then(|r| {
        r.templar
            .lookup_handler(name)
            .or_else(|| r.templar.lookup_handler(short))
    }) {
        Some(handler) => handler(&terms, &options)
            .map(|v| v.iter().map(from_json).collect())
            .map_err(LookupFailure::Run),
        None => match &root {
            Some(root) => builtin(root, short, &terms, &options),
            None => Err(LookupFailure::Plain(format!(
                "lookup plugin ({name}) not found"
            ))),
        },
    };
    let results = match outcome {
        Ok(results) => results,
        Err(LookupFailure::Plain(message)) => return Err(verbatim_error(message)),
        Err(LookupFailure::Template(e)) => return Err(e.into_minijinja()),
        Err(LookupFailure::Run(_)) if on_error != OnError::Strict => Vec::new(),
        Err(LookupFailure::Run(message)) => {
            return Err(verbatim_error(format!(
                "An unhandled exception occurred while running the lookup plugin '{name}'. Error was a <class 'ansible.errors.AnsibleError'>, original message: {message}"
            )))
        }
    };
    if wantlist {
        return Ok(Value::from(results));
    }
    if results.iter().all(|r| r.as_str().is_some()) {
        let joined: Vec<&str> = results.iter().filter_map(Value::as_str).collect();
        return Ok(Value::from(joined.join(",")));
    }
    Ok(match results.len() {
        1 => results.into_iter().next().unwrap_or_default(),
        _ => Value::from(results),
    })
}

impl From<String> for LookupFailure {
    fn from(message: String) -> Self {
        LookupFailure::Run(message)
    }
}

enum LookupFailure {
    /// The plugin failed: wrapped in Ansible's "unhandled exception" sentence.
    Run(String),
    /// A message shown as is (unknown plugin).
    Plain(String),
    /// A templating failure inside the lookup (template lookup, lazy variables).
    Template(super::TemplateError),
}

/// The lookup's terms: its positional arguments, or the list when the only argument is a list.
fn terms_of(args: &[Value]) -> Result<Vec<Json>, Error> {
    let mut terms: Vec<Json> = args.iter().map(to_json).collect::<Result<_, _>>()?;
    if terms.len() == 1 {
        if let Some(Json::Array(items)) = terms.first().cloned() {
            terms = items;
        }
    }
    Ok(terms)
}

fn term_text(term: &Json) -> String {
    term.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| term.to_string())
}

fn option_bool(options: &Map, key: &str, default: bool) -> bool {
    options.get(key).map(crate::py::truthy).unwrap_or(default)
}

fn builtin(
    root: &Arc<LazyVars>,
    name: &str,
    terms: &[Json],
    options: &Map,
) -> Result<Vec<Value>, LookupFailure> {
    match name {
        "file" => terms
            .iter()
            .map(|t| file_lookup(root, &term_text(t), options))
            .collect(),
        "template" => terms
            .iter()
            .map(|t| template_lookup(root, &term_text(t), options))
            .collect(),
        "env" => Ok(terms
            .iter()
            .map(|t| {
                let fallback = options.get("default").map(term_text).unwrap_or_default();
                Value::from(std::env::var(term_text(t)).unwrap_or(fallback))
            })
            .collect()),
        "vars" => terms
            .iter()
            .map(|t| vars_lookup(root, &term_text(t), options))
            .collect(),
        "pipe" => terms
            .iter()
            .map(|t| pipe_lookup(root, &term_text(t)))
            .collect(),
        "items" => {
            let mut out = Vec::new();
            for t in terms {
                match t {
                    Json::Array(inner) => out.extend(inner.iter().map(from_json)),
                    other => out.push(from_json(other)),
                }
            }
            Ok(out)
        }
        "list" => Ok(terms.iter().map(from_json).collect()),
        "indexed_items" => Ok(terms
            .iter()
            .enumerate()
            .map(|(i, t)| Value::from(vec![Value::from(i), from_json(t)]))
            .collect()),
        "dict" => {
            let mut out = Vec::new();
            for t in terms {
                let Json::Object(map) = t else {
                    return Err(LookupFailure::Run("with_dict expects a dict".into()));
                };
                for (k, v) in map {
                    out.push(from_json(&serde_json::json!({"key": k, "value": v})));
                }
            }
            Ok(out)
        }
        other => Err(LookupFailure::Plain(format!(
            "lookup plugin ({other}) not found"
        ))),
    }
}

/// Finds `term` under `<search path>/<subdir>/` then `<search path>/` (absolute paths as is).
fn find_in_search_path(root: &LazyVars, subdir: &str, term: &str) -> Option<PathBuf> {
    let path = Path::new(term);
    if path.is_absolute() {
        return path.exists().then(|| path.to_path_buf());
    }
    root.search_paths
        .iter()
        .flat_map(|base| [base.join(subdir).join(term), base.join(term)])
        .find(|candidate| candidate.is_file())
}

fn file_lookup(root: &LazyVars, term: &str, options: &Map) -> Result<Value, LookupFailure> {
    let path = find_in_search_path(root, "files", term)
        .ok_or_else(|| format!("could not locate file in lookup: {term}"))?;
    let bytes =
        std::fs::read(&path).map_err(|e| format!("could not read file {}: {e}", path.display()))?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if option_bool(options, "rstrip", true) {
        text = text.trim_end().to_string();
    }
    if option_bool(options, "lstrip", false) {
        text = text.trim_start().to_string();
    }
    Ok(Value::from(text))
}

fn template_lookup(
    root: &Arc<LazyVars>,
    term: &str,
    options: &Map,
) -> Result<Value, LookupFailure> {
    let path = find_in_search_path(root, "templates", term)
        .ok_or_else(|| format!("the template file {term} could not be found for the lookup"))?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("could not read file {}: {e}", path.display()))?;
    let scope_root = match options.get("template_vars") {
        Some(Json::Object(extra)) => {
            let mut vars = root.vars.clone();
            vars.extend(extra.clone());
            LazyVars::new(&vars, &root.search_paths, &root.templar)
        }
        _ => root.clone(),
    };
    let rendered = root
        .templar
        .render_in(&text, &scope_root)
        .map_err(LookupFailure::Template)?;
    let convert = option_bool(options, "convert_data", true);
    Ok(match (convert, super::literal::maybe_literal(&rendered)) {
        (true, Some(v)) => from_json(&v),
        _ => Value::from(rendered),
    })
}

fn vars_lookup(root: &Arc<LazyVars>, term: &str, options: &Map) -> Result<Value, LookupFailure> {
    match root.get_value(&Value::from(term)) {
        Some(v) => match super::context::check_valid(&v) {
            Ok(()) => Ok(v),
            Err(e) => Err(LookupFailure::Plain(
                e.detail()
                    .unwrap_or_default()
                    .trim_start_matches(super::VERBATIM)
                    .to_string(),
            )),
        },
        None => match options.get("default") {
            Some(d) => Ok(from_json(d)),
            None => Err(format!("No variable found with this name: {term}").into()),
        },
    }
}

fn pipe_lookup(root: &LazyVars, term: &str) -> Result<Value, LookupFailure> {
    let mut command = std::process::Command::new("/bin/sh");
    command.arg("-c").arg(term);
    if let Some(dir) = root.search_paths.last().filter(|d| d.is_dir()) {
        command.current_dir(dir);
    }
    let output = command
        .output()
        .map_err(|e| format!("lookup_plugin.pipe({term}) failed to start: {e}"))?;
    if !output.status.success() {
        let rc = output.status.code().unwrap_or(-1);
        return Err(format!("lookup_plugin.pipe({term}) returned {rc}").into());
    }
    Ok(Value::from(
        String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_string(),
    ))
}
