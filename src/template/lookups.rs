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
//!   `indexed_items`, `dict`, `url` (in-process HTTP(S), [`crate::http::url_lookup`]).
//! - `first_found`: terms are file names (split on `,` and `;`), mappings with `files`, `paths`
//!   (split on `,`, `:` and `;`) and `skip`, or lists of these; the same options as keywords.
//!   With paths each file is tried in each path, in order; every candidate is looked up as
//!   `file` is (`<search path>/files/<candidate>`, then `<search path>/<candidate>`, role first,
//!   absolute paths as they are). The first that exists is the answer (its absolute path);
//!   none is "No file was found when using first_found." unless `skip=True` (then `[]`).
//! - `fileglob`: a pattern with a directory is globbed in the first search-path match of that
//!   directory; a bare pattern in each `<search path>/files` then `<search path>`, the first
//!   with matches wins. Regular files only, sorted (Python's glob order is the directory's).
//! - `lines`: each term is run with `sh -c` in the playbook directory; its output lines are the
//!   results; a non-zero exit fails with "lookup_plugin.lines(CMD) returned RC".
//! - `password`: `PATH [length=N] [chars=SPEC,...] [encrypt=ALGO] [ident=X]` (or keywords). A
//!   relative path is relative to the playbook directory. An existing file gives its password
//!   (the text before ` salt=`); else a password of `length` (20) characters drawn from the
//!   operating system's random source out of `chars` (names of Python's `string` sets such as
//!   `ascii_letters`, `digits`, `punctuation`, or literal characters; `,,` is a comma; quotes are
//!   dropped; default `ascii_letters,digits,.,:-_`) is generated and written to the file (mode
//!   0600, parent directories 0700, atomically) unless the path is `/dev/null`. `encrypt`
//!   (`sha512_crypt`, `sha256_crypt`) returns the crypt hash instead, keeping the salt in the
//!   file as ` salt=...`. `seed` is refused (Python's seeded generator cannot be reproduced).
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

/// Separates the Python exception class from the message in a handler's error (see [`raised_as`]).
const EXCEPTION_MARK: char = '\u{2}';

/// A handler's failure raised as the Python exception `class`, which Ansible's message names
/// ("Error was a <class '...'>"); a handler's plain `Err(message)` is an `AnsibleError`.
pub fn raised_as(class: &str, message: &str) -> String {
    format!("{EXCEPTION_MARK}{class}{EXCEPTION_MARK}{message}")
}

/// The exception class and message of a handler's failure.
fn exception_of(failure: &str) -> (&str, &str) {
    failure
        .strip_prefix(EXCEPTION_MARK)
        .and_then(|rest| rest.split_once(EXCEPTION_MARK))
        .unwrap_or(("ansible.errors.AnsibleError", failure))
}

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
        Err(LookupFailure::Run(_) | LookupFailure::Lookup(_)) if on_error != OnError::Strict => {
            Vec::new()
        }
        Err(LookupFailure::Lookup(message)) => return Err(verbatim_error(message)),
        Err(LookupFailure::Run(failure)) => {
            let (class, message) = exception_of(&failure);
            return Err(verbatim_error(format!(
                "An unhandled exception occurred while running the lookup plugin '{name}'. Error was a <class '{class}'>, original message: {message}"
            )));
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
    /// The plugin's own `AnsibleLookupError`: shown as is, and subject to `errors=`.
    Lookup(String),
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
        "url" => {
            let terms: Vec<String> = terms.iter().map(term_text).collect();
            Ok(crate::http::url_lookup(&terms, options)?
                .into_iter()
                .map(Value::from)
                .collect())
        }
        "first_found" => first_found_lookup(root, terms, options),
        "fileglob" => fileglob_lookup(root, terms),
        "lines" => terms
            .iter()
            .map(|t| lines_lookup(root, &term_text(t)))
            .collect::<Result<Vec<_>, _>>()
            .map(|nested| nested.into_iter().flatten().collect()),
        "password" => terms
            .iter()
            .map(|t| password_lookup(root, &term_text(t), options))
            .collect(),
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
    let path = find_in_search_path(root, "files", term).ok_or_else(|| {
        LookupFailure::Lookup(format!(
            "The 'file' lookup had an issue accessing the file '{term}'. file not found, use -vvvvv to see paths searched"
        ))
    })?;
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

// ---------------------------------------------------------------- first_found

/// Splits `text` on any of `separators`, keeping empty parts (as Ansible's `_splitter`).
fn split_on_any(text: &str, separators: &[char]) -> Vec<String> {
    text.split(|c| separators.contains(&c))
        .map(str::to_string)
        .collect()
}

/// A string or a list of strings, split on `separators`.
fn split_option(value: Option<&Json>, separators: &[char]) -> Vec<String> {
    match value {
        Some(Json::String(s)) => split_on_any(s, separators),
        Some(Json::Array(items)) => items
            .iter()
            .flat_map(|i| split_option(Some(i), separators))
            .collect(),
        Some(Json::Null) | None => Vec::new(),
        Some(other) => vec![term_text(other)],
    }
}

/// The candidates of `first_found`, and the `skip` of the last mapping (Ansible's quirk).
fn first_found_candidates(
    terms: &[Json],
    options: &Map,
    out: &mut Vec<String>,
    skip: &mut bool,
) -> Result<(), LookupFailure> {
    for term in terms {
        let (files, paths, term_skip) = match term {
            Json::Object(inline) => {
                let mut merged = options.clone();
                merged.extend(inline.clone());
                (
                    split_option(merged.get("files"), &[',', ';']),
                    split_option(merged.get("paths"), &[',', ':', ';']),
                    option_bool(&merged, "skip", false),
                )
            }
            Json::String(s) => (
                vec![s.clone()],
                split_option(options.get("paths"), &[',', ':', ';']),
                option_bool(options, "skip", false),
            ),
            Json::Array(items) => {
                first_found_candidates(items, options, out, skip)?;
                continue;
            }
            other => {
                return Err(LookupFailure::Run(format!(
                    "Invalid term supplied, can handle string, mapping or list of strings but got: {} for {}",
                    crate::py::class_name(other),
                    crate::py::repr(other)
                )))
            }
        };
        *skip = term_skip;
        let files: Vec<String> = files
            .iter()
            .flat_map(|f| split_on_any(f, &[',', ';']))
            .collect();
        if paths.is_empty() {
            out.extend(files);
        } else {
            for path in &paths {
                for file in &files {
                    out.push(Path::new(path).join(file).display().to_string());
                }
            }
        }
    }
    Ok(())
}

fn first_found_lookup(
    root: &LazyVars,
    terms: &[Json],
    options: &Map,
) -> Result<Vec<Value>, LookupFailure> {
    let given: Vec<Json> = if terms.is_empty() {
        options
            .get("files")
            .map(|f| vec![f.clone()])
            .unwrap_or_default()
    } else {
        terms.to_vec()
    };
    let mut candidates = Vec::new();
    let mut skip = option_bool(options, "skip", false);
    first_found_candidates(&given, options, &mut candidates, &mut skip)?;
    for candidate in candidates.iter().filter(|c| !c.is_empty()) {
        if let Some(found) = find_existing_in_search_path(root, "files", candidate) {
            return Ok(vec![Value::from(absolute(&found).display().to_string())]);
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(LookupFailure::Run(
        "No file was found when using first_found.".into(),
    ))
}

/// Like [`find_in_search_path`], but a directory counts too (Ansible checks existence).
fn find_existing_in_search_path(root: &LazyVars, subdir: &str, term: &str) -> Option<PathBuf> {
    let path = Path::new(term);
    if path.is_absolute() {
        return path.exists().then(|| path.to_path_buf());
    }
    root.search_paths
        .iter()
        .flat_map(|base| [base.join(subdir).join(term), base.join(term)])
        .find(|candidate| candidate.exists())
}

/// An absolute, normalised path (`.` and `..` resolved lexically, links kept).
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

// ---------------------------------------------------------------- fileglob

fn fileglob_lookup(root: &LazyVars, terms: &[Json]) -> Result<Vec<Value>, LookupFailure> {
    let mut results = Vec::new();
    for term in terms {
        let term = term_text(term);
        let path = Path::new(&term);
        let pattern = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let directories: Vec<PathBuf> = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(dir) => find_existing_in_search_path(root, "files", &dir.display().to_string())
                .into_iter()
                .collect(),
            None => root
                .search_paths
                .iter()
                .flat_map(|base| [base.join("files"), base.clone()])
                .collect(),
        };
        let matcher = glob_regex(&pattern);
        for directory in directories {
            let Ok(entries) = std::fs::read_dir(&directory) else {
                continue;
            };
            let mut found: Vec<String> = entries
                .filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    // As Python's glob: a leading dot is matched only by a leading dot.
                    (!name.starts_with('.') || pattern.starts_with('.')) && matcher.is_match(&name)
                })
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .map(|p| p.display().to_string())
                .collect();
            if !found.is_empty() {
                found.sort();
                results.extend(found.into_iter().map(Value::from));
                break;
            }
        }
    }
    Ok(results)
}

/// Python's `fnmatch` pattern (`*`, `?`, `[seq]`, `[!seq]`) as an anchored regex.
fn glob_regex(pattern: &str) -> regex::Regex {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => match chars[i + 1..].iter().skip(1).position(|c| *c == ']') {
                Some(offset) => {
                    let end = i + 2 + offset;
                    let mut class: String = chars[i + 1..end].iter().collect();
                    if let Some(rest) = class.strip_prefix('!') {
                        class = format!("^{rest}");
                    }
                    out.push('[');
                    out.push_str(&class.replace('\\', "\\\\"));
                    out.push(']');
                    i = end;
                }
                None => out.push_str("\\["),
            },
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push('$');
    regex::Regex::new(&out).unwrap_or_else(|_| {
        regex::Regex::new(&format!("^{}$", regex::escape(pattern))).expect("an escaped pattern")
    })
}

// ---------------------------------------------------------------- lines

fn lines_lookup(root: &LazyVars, term: &str) -> Result<Vec<Value>, LookupFailure> {
    let mut command = std::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(term)
        .stdin(std::process::Stdio::null());
    if let Some(dir) = root.search_paths.last().filter(|d| d.is_dir()) {
        command.current_dir(dir);
    }
    let output = command
        .output()
        .map_err(|e| format!("lookup_plugin.lines({term}) failed to start: {e}"))?;
    if !output.status.success() {
        let rc = output.status.code().unwrap_or(-1);
        return Err(format!("lookup_plugin.lines({term}) returned {rc}").into());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(crate::py::splitlines(&text)
        .into_iter()
        .map(Value::from)
        .collect())
}

// ---------------------------------------------------------------- password

/// The parameters the password lookup knows.
const PASSWORD_PARAMS: &[&str] = &["length", "encrypt", "chars", "ident", "seed"];

/// Python's `string` module sets, by name.
fn string_set(name: &str) -> Option<&'static str> {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    Some(match name {
        "ascii_letters" => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "ascii_lowercase" => LOWER,
        "ascii_uppercase" => UPPER,
        "digits" => "0123456789",
        "hexdigits" => "0123456789abcdefABCDEF",
        "octdigits" => "01234567",
        "punctuation" => "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "whitespace" => " \t\n\r\x0b\x0c",
        "printable" => "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c",
        _ => return None,
    })
}

/// The candidate characters of `chars` specs (set names or literal text), quotes removed.
fn password_chars(specs: &[String]) -> Vec<char> {
    specs
        .iter()
        .map(|spec| string_set(spec).unwrap_or(spec))
        .collect::<String>()
        .chars()
        .filter(|c| *c != '"' && *c != '\'')
        .collect()
}

/// `chars=...` text: comma-separated, `,,` being a comma itself.
fn parse_chars_option(text: &str) -> Vec<String> {
    let mut specs = Vec::new();
    if text.contains(",,") {
        specs.push(",".to_string());
    }
    specs.extend(
        text.replace(",,", ",")
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_string),
    );
    specs
}

/// `n` uniformly random indexes below `bound`, from the operating system's random source.
fn random_indexes(n: usize, bound: usize) -> Result<Vec<usize>, String> {
    use std::io::Read;
    let mut source = std::fs::File::open("/dev/urandom")
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    let bound_u32 = u32::try_from(bound).map_err(|_| "too many characters".to_string())?;
    // Rejection sampling: values at or above the last whole multiple of `bound` are drawn again.
    let limit = u32::MAX - (u32::MAX % bound_u32);
    let mut out = Vec::with_capacity(n);
    let mut buf = [0u8; 4];
    while out.len() < n {
        source
            .read_exact(&mut buf)
            .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
        let v = u32::from_le_bytes(buf);
        if v < limit {
            out.push((v % bound_u32) as usize);
        }
    }
    Ok(out)
}

/// A random text of `length` characters out of `chars`.
pub(crate) fn random_text(length: usize, chars: &[char]) -> Result<String, String> {
    if chars.is_empty() {
        return Err("no characters to choose the password from".into());
    }
    Ok(random_indexes(length, chars.len())?
        .into_iter()
        .map(|i| chars[i])
        .collect())
}

/// Writes `content` to `path` atomically with mode 0600 (parents created 0700).
fn write_secret_file(path: &Path, content: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(content.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// The stored password, salt and ident of a password file's text.
fn parse_password_content(content: &str) -> (String, Option<String>, Option<String>) {
    let Some(at) = content.rfind(" salt=") else {
        return (content.to_string(), None, None);
    };
    let password = content[..at].to_string();
    let rest = &content[at + " salt=".len()..];
    match rest.rfind(" ident=") {
        Some(i) => (
            password,
            Some(rest[..i].to_string()),
            Some(rest[i + " ident=".len()..].to_string()),
        ),
        None => (password, Some(rest.to_string()), None),
    }
}

fn password_lookup(root: &LazyVars, term: &str, options: &Map) -> Result<Value, LookupFailure> {
    let (relpath, inline) = match term.split_once(' ') {
        Some((path, rest)) => (path.to_string(), crate::playbook::kv::parse_kv(rest, false)),
        None => (term.to_string(), Map::new()),
    };
    let mut params = options.clone();
    for (key, value) in inline {
        if key == "_raw_params" {
            return Err(LookupFailure::Run(
                "Unrecognized value after key=value parameters given to password lookup".into(),
            ));
        }
        params.insert(key, value);
    }
    let mut invalid: Vec<&str> = params
        .keys()
        .map(String::as_str)
        .filter(|k| !PASSWORD_PARAMS.contains(k))
        .collect();
    if !invalid.is_empty() {
        invalid.sort_unstable();
        return Err(LookupFailure::Run(format!(
            "Unrecognized parameter(s) given to password lookup: {}",
            invalid.join(", ")
        )));
    }
    if params.get("seed").is_some_and(|s| !s.is_null()) {
        return Err(LookupFailure::Run(
            "the password lookup's 'seed' is not supported by hook-runner (Python's seeded random generator cannot be reproduced)".into(),
        ));
    }
    let length = match params.get("length") {
        None | Some(Json::Null) => 20,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| format!("Invalid value for 'length': {}", term_text(v)))?
            as usize,
    };
    let specs = match params.get("chars") {
        Some(Json::String(text)) => parse_chars_option(text),
        Some(Json::Array(items)) => items.iter().map(term_text).collect(),
        _ => vec!["ascii_letters".into(), "digits".into(), ".,:-_".into()],
    };
    let encrypt = params
        .get("encrypt")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let asked_ident = params
        .get("ident")
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let path = if Path::new(&relpath).is_absolute() {
        PathBuf::from(&relpath)
    } else {
        root.search_paths
            .last()
            .map(|base| base.join(&relpath))
            .unwrap_or_else(|| PathBuf::from(&relpath))
    };
    let dev_null = path == Path::new("/dev/null");
    let stored = if dev_null {
        None
    } else {
        match std::fs::read(&path) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).trim_end().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display()).into()),
        }
    };
    let mut changed = false;
    let (password, mut salt, mut ident) = match stored {
        Some(content) => parse_password_content(&content),
        None => {
            changed = true;
            (random_text(length, &password_chars(&specs))?, None, None)
        }
    };
    if let Some(algorithm) = &encrypt {
        if salt.is_none() {
            changed = true;
            salt = Some(super::filters::random_salt(
                super::filters::crypt_salt_size(algorithm),
            )?);
        }
    }
    match (&ident, &asked_ident) {
        (None, _) => ident = asked_ident.clone(),
        (Some(stored), Some(asked)) if stored != asked => {
            return Err(LookupFailure::Run(format!(
                "The ident parameter provided ({asked}) does not match the stored one ({stored})."
            )))
        }
        _ => {}
    }
    if changed && !dev_null {
        let content = match (&salt, &ident) {
            (None, _) => password.clone(),
            (Some(s), Some(i)) => format!("{password} salt={s} ident={i}"),
            (Some(s), None) => format!("{password} salt={s}"),
        };
        write_secret_file(&path, &content)?;
    }
    match encrypt {
        Some(algorithm) => Ok(Value::from(super::filters::crypt_hash(
            &password,
            &algorithm,
            salt.as_deref(),
            None,
            None,
        )?)),
        None => Ok(Value::from(password)),
    }
}

#[cfg(test)]
mod tests {
    use crate::template::core_tests::vars;
    use crate::template::{Scope, Templar};
    use serde_json::{json, Value as Json};
    use std::path::{Path, PathBuf};

    /// A playbook directory with a role directory before it in the search path.
    struct Dirs {
        _tmp: tempfile::TempDir,
        role: PathBuf,
        play: PathBuf,
    }

    fn dirs() -> Dirs {
        let tmp = tempfile::tempdir().expect("temp dir");
        let role = tmp.path().join("roles/r");
        let play = tmp.path().join("play");
        for d in [role.join("files"), play.join("files"), play.join("conf")] {
            std::fs::create_dir_all(d).expect("dirs");
        }
        Dirs {
            _tmp: tmp,
            role,
            play,
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).expect("write");
    }

    fn eval(d: &Dirs, expr: &str) -> Result<Json, String> {
        let templar = Templar::new();
        let paths = vec![d.role.clone(), d.play.clone()];
        let m = vars(json!({}));
        templar
            .eval(
                expr,
                Scope {
                    vars: &m,
                    search_paths: &paths,
                },
            )
            .map_err(|e| e.message)
    }

    #[test]
    fn first_found_searches_the_role_first_and_gives_an_absolute_path() {
        let d = dirs();
        write(&d.play.join("files/b.yml"), "b");
        write(&d.role.join("files/b.yml"), "role b");
        write(&d.play.join("c.yml"), "c");
        let found = eval(&d, "lookup('first_found', ['a.yml', 'b.yml', 'c.yml'])").unwrap();
        assert_eq!(
            found,
            json!(d.role.join("files/b.yml").display().to_string())
        );
        let found = eval(&d, "lookup('first_found', 'a.yml,c.yml')").unwrap();
        assert_eq!(found, json!(d.play.join("c.yml").display().to_string()));
    }

    #[test]
    fn first_found_tries_each_file_in_each_path_and_skips_when_asked() {
        let d = dirs();
        write(&d.play.join("conf/debian.yml"), "");
        let expr = "lookup('first_found', {'files': ['redhat.yml', 'debian.yml'], 'paths': ['nope', 'conf']})";
        assert_eq!(
            eval(&d, expr).unwrap(),
            json!(d.play.join("conf/debian.yml").display().to_string())
        );
        assert_eq!(
            eval(&d, "query('first_found', 'x.yml', skip=True)").unwrap(),
            json!([])
        );
        let e = eval(&d, "lookup('first_found', 'x.yml')").unwrap_err();
        assert!(
            e.ends_with("original message: No file was found when using first_found."),
            "{e}"
        );
    }

    #[test]
    fn fileglob_matches_files_in_the_first_directory_with_matches() {
        let d = dirs();
        for name in ["a.conf", "b.conf", "c.txt", ".hidden.conf"] {
            write(&d.play.join("files").join(name), "");
        }
        std::fs::create_dir_all(d.play.join("files/dir.conf")).unwrap();
        let found = eval(&d, "query('fileglob', '*.conf')").unwrap();
        let files = d.play.join("files");
        assert_eq!(
            found,
            json!([
                files.join("a.conf").display().to_string(),
                files.join("b.conf").display().to_string()
            ])
        );
        for name in ["a.conf", "b.conf", "c.conf"] {
            write(&d.play.join("conf").join(name), "");
        }
        let conf = d.play.join("conf");
        let joined = eval(&d, "lookup('fileglob', 'conf/[!c].conf')").unwrap();
        assert_eq!(
            joined,
            json!(format!(
                "{},{}",
                conf.join("a.conf").display(),
                conf.join("b.conf").display()
            ))
        );
        assert_eq!(eval(&d, "query('fileglob', '*.none')").unwrap(), json!([]));
    }

    #[test]
    fn lines_gives_one_result_per_line_and_fails_on_a_bad_exit() {
        let d = dirs();
        assert_eq!(
            eval(&d, "query('lines', 'printf \"a\\nb\\r\\nc\"', 'pwd')").unwrap(),
            json!(["a", "b", "c", d.play.display().to_string()])
        );
        let e = eval(&d, "lookup('lines', 'exit 3')").unwrap_err();
        assert!(e.ends_with("lookup_plugin.lines(exit 3) returned 3"), "{e}");
    }

    #[test]
    fn pipe_runs_in_the_playbook_directory_and_strips_the_end() {
        let d = dirs();
        assert_eq!(
            eval(&d, "lookup('pipe', 'pwd; echo; echo')").unwrap(),
            json!(d.play.display().to_string())
        );
        let e = eval(&d, "lookup('pipe', 'exit 2')").unwrap_err();
        assert!(e.ends_with("lookup_plugin.pipe(exit 2) returned 2"), "{e}");
    }

    #[test]
    fn password_is_generated_once_kept_in_a_private_file_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let d = dirs();
        let first = eval(&d, "lookup('password', 'creds/db length=32 chars=digits')").unwrap();
        let text = first.as_str().unwrap();
        assert_eq!(text.len(), 32);
        assert!(text.chars().all(|c| c.is_ascii_digit()), "{text}");
        let file = d.play.join("creds/db");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("{text}\n"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = eval(&d, "lookup('password', 'creds/db length=8')").unwrap();
        assert_eq!(again, first, "the stored password is reused");
        let other = eval(&d, "lookup('password', '/dev/null')").unwrap();
        let other = other.as_str().unwrap();
        assert_eq!(other.len(), 20);
        assert!(other
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".,:-_".contains(c)));
        let e = eval(&d, "lookup('password', 'x lenght=3')").unwrap_err();
        assert!(
            e.ends_with("Unrecognized parameter(s) given to password lookup: lenght"),
            "{e}"
        );
    }

    #[test]
    fn password_chars_take_string_sets_literals_and_double_commas() {
        assert_eq!(
            super::parse_chars_option("digits,,,ab"),
            vec![",", "digits", "ab"]
        );
        let chars: String = super::password_chars(&["digits".into(), "x'\"".into()])
            .into_iter()
            .collect();
        assert_eq!(chars, "0123456789x");
    }

    #[test]
    fn password_with_encrypt_keeps_the_salt_and_hashes_the_same_each_time() {
        let d = dirs();
        let hashed = eval(&d, "lookup('password', 'creds/h encrypt=sha512_crypt')").unwrap();
        let again = eval(&d, "lookup('password', 'creds/h encrypt=sha512_crypt')").unwrap();
        assert_eq!(hashed, again);
        let stored = std::fs::read_to_string(d.play.join("creds/h")).unwrap();
        let (password, salt, _) = super::parse_password_content(stored.trim_end());
        let salt = salt.expect("a salt is stored");
        assert_eq!(salt.len(), 16);
        assert_eq!(
            hashed,
            json!(crate::template::filters::crypt_hash(
                &password,
                "sha512_crypt",
                Some(&salt),
                None,
                None
            )
            .unwrap())
        );
    }
}
