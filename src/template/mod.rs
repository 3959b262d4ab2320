//! Jinja2 templating with Ansible's semantics, on minijinja.
//!
//! - Strict about undefined values: printing one, or getting one as the result of a value,
//!   conditional or expression, is an error naming it (`'foo' is undefined`, `'dict object' has
//!   no attribute 'bar'`, with [`TemplateError::undefined`] set to the dotted path), while
//!   `default`, `is defined` and friends work on it, also through a chain (`a.b.c | default(1)`).
//!   minijinja has no undefined mode equal to Ansible's: each evaluation runs with `Strict`
//!   first; when that fails on an undefined value it runs again with `Chainable`, whose result
//!   stands only if every missing variable it met was protected (`is ...`, `| default`). So
//!   `not missing`, `missing == 1`, `{% if missing %}` and `{% for x in missing %}` fail as in
//!   Ansible while `missing.x is defined` is false. (A failing evaluation with lookups runs twice.)
//! - ansible-core 2.18's value rules: a string that is exactly one `{{ expr }}` gives the
//!   expression's native value (list, dict, number, bool; `None` only for a bare `{{ name }}`,
//!   otherwise ''); any other string renders to text; a result text that starts with `[`/`{` or
//!   is `True`/`False` is read back as a Python literal when it is one (so `"[{{ a }}, 2]"` is a list).
//! - Variables are lazy: a variable whose value holds a template is templated when it is read,
//!   so `vars: {a: "{{ b }}", b: 1}` works whatever the order; nested mappings are templated per
//!   key; a self-referencing variable fails with "recursive loop detected in template string".
//!   Variables named in the [`UNSAFE_VARS`] variable are never templated.
//! - A string marked unsafe by the YAML loader (`!unsafe`, see [`crate::yaml::UNSAFE_MARK`]) is
//!   never templated: as an argument, a variable or inside a list or mapping, it gives its text
//!   verbatim (without the mark); as a conditional it is an error, as in Ansible.
//! - `omit` is a per-run placeholder token (`__omit_place_holder__` + 40 hex digits); the engine
//!   drops arguments equal to it ([`Templar::strip_omitted`] helps).
//! - Python-isms come from minijinja-contrib's pycompat (`.split()`, `.items()`, `.get()`,
//!   `.startswith()`, `.format()`...); `'%s' % x` with a string literal on the left is run as
//!   `'%s' | format(x)`.
//! - Ansible's filters, tests and lookups live in [`filters`], [`tests`] and [`lookups`];
//!   `now()`, `undef()`, `strftime`, `random`, `shuffle` in `globals`.
//! - Errors use Ansible's wording: "template error while templating string: <reason>. String:
//!   <template>", lookup failures as "An unhandled exception occurred while running the lookup
//!   plugin ...", filter failures with the filter's own message.

pub mod filters;
pub mod lookups;
pub mod tests;

mod context;
mod globals;
mod literal;
mod methods;
mod undefined;
mod urls;

#[cfg(test)]
mod core_tests;
#[cfg(test)]
mod pack_tests;

pub use literal::literal_eval;
pub use lookups::LookupHandler;

use crate::{Map, Value};
use context::{to_json, LazyVars};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// What a template can see: the merged variables of one host and task, and where `lookup('file')`
/// and `lookup('template')` search (role `files/`/`templates/`, then the playbook directory).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub vars: &'a Map,
    pub search_paths: &'a [PathBuf],
}

/// A templating failure, worded as Ansible words it (without the task location, which the
/// engine adds).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
    /// The undefined variable's name when the failure is an undefined variable: the dotted path up
    /// to the missing part (`workload.vm.nmae` when `workload.vm` exists but has no `nmae`).
    pub undefined: Option<String>,
}

/// A variable the engine may set to a list of top-level variable names whose values must never
/// be templated (registered results, gathered facts: Ansible's "unsafe" values), so output that
/// happens to contain `{{` is kept as data. An entry may also be a dotted path into a variable
/// (`hostvars.web1.result` for `hostvars['web1']['result']`).
pub const UNSAFE_VARS: &str = "__hook_runner_unsafe__";

/// Marks an error detail that is already a complete Ansible message (filter, lookup, nested
/// template failures), so it is passed through without the "template error" wrapping.
const VERBATIM: char = '\u{1}';

/// A minijinja error whose text is shown to the user as is.
pub(crate) fn verbatim_error(message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{VERBATIM}{message}"))
}

impl TemplateError {
    fn plain(message: impl Into<String>) -> TemplateError {
        TemplateError {
            message: message.into(),
            undefined: None,
        }
    }

    fn undefined(message: String, name: String) -> TemplateError {
        TemplateError {
            message,
            undefined: Some(name),
        }
    }

    /// Carries this error through minijinja (lazy variables templated inside another template).
    pub(crate) fn into_minijinja(self) -> Error {
        match self.undefined {
            Some(name) => Error::new(
                ErrorKind::UndefinedError,
                format!("{VERBATIM}{name}{VERBATIM}{}", self.message),
            ),
            None => verbatim_error(self.message),
        }
    }
}

/// The templating environment for one run. Cheap to clone (shared), `Send + Sync`.
#[derive(Clone)]
pub struct Templar {
    inner: Arc<Inner>,
}

struct Inner {
    /// Chainable undefined: the evaluation that decides values.
    env: Environment<'static>,
    /// The same environment with strict undefined: tried first, so uses Ansible rejects
    /// (`not missing`, `if missing`, `missing == 1`) are caught; see [`Templar::evaluate`].
    strict_env: Environment<'static>,
    omit: String,
    lookups: RwLock<HashMap<String, LookupHandler>>,
}

impl std::fmt::Debug for Templar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templar")
            .field("omit", &self.inner.omit)
            .finish()
    }
}

/// Names the environment defines itself; never reported as undefined variables.
pub(crate) const GLOBAL_NAMES: &[&str] = &[
    "omit",
    "lookup",
    "query",
    "q",
    "now",
    "undef",
    "range",
    "dict",
    "namespace",
    "lipsum",
    "cycler",
    "joiner",
    "debug",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "loop",
];

fn new_omit_token() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("__omit_place_holder__{}{}", a, &b[..8])
}

/// The budget of one template evaluation, in minijinja's fuel: one per instruction, and 1/64
/// per byte of every string or list the evaluation creates (operators, literals, filter inputs
/// and results, output), checked before a large allocation of known size (`~`, `+`, `*`). So
/// it bounds both work (4 million instructions: real hook templates use a few thousand, nested
/// `range()` loops end with an error instead of hanging the run) and memory (256 MB of data
/// created in all, so `'x' * 100000000` concatenated with itself is refused before it
/// allocates). Serialising (`to_json`, a dict printed as text) costs 16 per byte: 16 MB of JSON.
const TEMPLATE_FUEL: u64 = 4_000_000;

/// [`TEMPLATE_FUEL`] as data: 64 bytes per fuel.
const TEMPLATE_DATA_MB: u64 = TEMPLATE_FUEL * 64 / 1_000_000;

fn build_environment(omit: &str) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(TEMPLATE_FUEL));
    // Chainable: `missing.x is defined` is false and `missing.x | default(1)` works, as with
    // Ansible's undefined; printing an undefined value is made an error by the formatter below,
    // and `eval`/`condition` reject an undefined result.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .keep_trailing_newline(true)
        .build();
    if let Ok(syntax) = syntax {
        env.set_syntax(syntax);
    }
    env.set_formatter(|out, state, value| {
        if value.is_undefined() {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        if value.is_none() {
            return Ok(()); // Ansible's finalize prints None as ''
        }
        context::check_valid(value)?;
        if let Some(text) = value.as_str().and_then(crate::yaml::unsafe_text) {
            // `!unsafe` text reached without a variable lookup (`from_yaml`): printed as text.
            return minijinja::escape_formatter(out, state, &minijinja::Value::from(text));
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.set_unknown_method_callback(methods::callback);
    minijinja_contrib::add_to_environment(&mut env);
    env.add_global("omit", omit.to_string());
    filters::register(&mut env);
    tests::register(&mut env);
    urls::register(&mut env);
    lookups::register(&mut env);
    globals::register(&mut env);
    env
}

impl Templar {
    /// Builds the environment with Ansible's filters, tests, lookups and a fresh omit token.
    pub fn new() -> Templar {
        let omit = new_omit_token();
        let env = build_environment(&omit);
        let mut strict_env = env.clone();
        strict_env.set_undefined_behavior(UndefinedBehavior::Strict);
        Templar {
            inner: Arc::new(Inner {
                env,
                strict_env,
                omit,
                lookups: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The per-run `omit` placeholder.
    pub fn omit_token(&self) -> &str {
        &self.inner.omit
    }

    /// Adds (or replaces) a lookup plugin implemented outside this module, e.g.
    /// `kubernetes.core.k8s`. Names are matched as written and without an `ansible.builtin.` prefix.
    pub fn register_lookup(&self, name: &str, handler: LookupHandler) {
        if let Ok(mut map) = self.inner.lookups.write() {
            map.insert(name.to_string(), handler);
        }
    }

    pub(crate) fn lookup_handler(&self, name: &str) -> Option<LookupHandler> {
        self.inner.lookups.read().ok()?.get(name).cloned()
    }

    pub(crate) fn env(&self) -> &Environment<'static> {
        &self.inner.env
    }

    fn root(&self, scope: Scope<'_>) -> Arc<LazyVars> {
        LazyVars::new(scope.vars, scope.search_paths, self)
    }

    /// Templates every string inside `value`, recursively (keys too).
    pub fn template(&self, value: &Value, scope: Scope<'_>) -> Result<Value, TemplateError> {
        if !context::contains_template(value) {
            return Ok(value.clone());
        }
        let root = self.root(scope);
        self.template_value_in(value, &root)
    }

    fn template_value_in(
        &self,
        value: &Value,
        root: &Arc<LazyVars>,
    ) -> Result<Value, TemplateError> {
        Ok(match value {
            Value::String(s) => self.template_string_in(s, root)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.template_value_in(v, root))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let key = match self.template_string_in(k, root)? {
                        Value::String(s) => s,
                        other => python_str(&other),
                    };
                    out.insert(key, self.template_value_in(v, root)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Templates one string the 2.18 way: a lone `{{ expr }}` keeps the expression's native
    /// value; anything else renders to text; text that reads as a Python list/dict/bool literal
    /// becomes that value.
    pub(crate) fn template_string_in(
        &self,
        text: &str,
        root: &Arc<LazyVars>,
    ) -> Result<Value, TemplateError> {
        if let Some(data) = crate::yaml::unsafe_text(text) {
            return Ok(Value::String(data.to_string()));
        }
        if !Templar::is_template(text) {
            return Ok(Value::String(text.to_string()));
        }
        if let Some(expr) = lone_expression(text) {
            if self.env().compile_expression(expr).is_ok() {
                let ctx = minijinja::Value::from_dyn_object(root.clone());
                let value = self
                    .evaluate(expr, root, true, |env, src| {
                        env.compile_expression(src)?.eval(&ctx)
                    })
                    .map_err(|e| shown_as(e, expr, text))?;
                if value.is_undefined() {
                    return Err(undefined::describe(self, expr, root, true));
                }
                let json = to_json(&value)
                    .map_err(|e| shown_as(self.map_error(e, expr, root, true), expr, text))?;
                return Ok(match json {
                    // A string-type filter's text stays text (see `filters::native_text`).
                    Value::String(s) if value.is_safe() => Value::String(s),
                    Value::String(s) => literal::maybe_literal(&s).unwrap_or(Value::String(s)),
                    // 2.18 keeps None only for a bare `{{ name }}`; otherwise finalize prints ''.
                    Value::Null if !is_bare_name(expr) => Value::String(String::new()),
                    other => other,
                });
            }
        }
        let rendered = self.render_in(text, root)?;
        Ok(literal::maybe_literal(&rendered).unwrap_or(Value::String(rendered)))
    }

    pub(crate) fn render_in(
        &self,
        text: &str,
        root: &Arc<LazyVars>,
    ) -> Result<String, TemplateError> {
        let ctx = minijinja::Value::from_dyn_object(root.clone());
        self.evaluate(text, root, false, |env, src| env.render_str(src, &ctx))
    }

    /// Runs `job` in the strict environment, and when that fails on an undefined value, in the
    /// chainable one: its result stands only if every undefined value it met was protected
    /// (`is ...`, `| default`), as Ansible's undefined allows.
    ///
    /// Python's `'%s' % x` formatting, which minijinja lacks, is retried as `'%s' | format(x)`.
    fn evaluate<T>(
        &self,
        source: &str,
        root: &Arc<LazyVars>,
        is_expr: bool,
        job: impl Fn(&Environment<'static>, &str) -> Result<T, Error>,
    ) -> Result<T, TemplateError> {
        match self.evaluate_once(source, root, is_expr, &job) {
            Err(e) if e.message.contains("% operator on unsupported types string") => {
                match percent_format_rewrite(source) {
                    Some(rewritten) => self
                        .evaluate_once(&rewritten, root, is_expr, &job)
                        .map_err(|_| e),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    fn evaluate_once<T>(
        &self,
        source: &str,
        root: &Arc<LazyVars>,
        is_expr: bool,
        job: &impl Fn(&Environment<'static>, &str) -> Result<T, Error>,
    ) -> Result<T, TemplateError> {
        let strict_error = match job(&self.inner.strict_env, source) {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let detail = strict_error.detail().unwrap_or_default();
        let undefined_related = !detail.starts_with(VERBATIM)
            && (strict_error.kind() == ErrorKind::UndefinedError || detail.contains("undefined"));
        if !undefined_related {
            return Err(self.map_error(strict_error, source, root, is_expr));
        }
        match job(&self.inner.env, source) {
            Err(e) => Err(self.map_error(e, source, root, is_expr)),
            Ok(value) => match undefined::describe_unguarded(self, source, root, is_expr) {
                Some(err) => Err(err),
                None => Ok(value),
            },
        }
    }

    /// Renders a template text to a string (template module, `lookup('template')`).
    pub fn render_str(&self, text: &str, scope: Scope<'_>) -> Result<String, TemplateError> {
        if !Templar::is_template(text) {
            return Ok(text.to_string());
        }
        let root = self.root(scope);
        self.render_in(text, &root)
    }

    /// Evaluates a bare Jinja2 expression (`debug: var=`, loop sources) to a native value.
    pub fn eval(&self, expr: &str, scope: Scope<'_>) -> Result<Value, TemplateError> {
        let root = self.root(scope);
        self.eval_in(expr, &root)
    }

    fn eval_in(&self, expr: &str, root: &Arc<LazyVars>) -> Result<Value, TemplateError> {
        if Templar::is_template(expr) {
            return self.template_string_in(expr, root);
        }
        let value = self.eval_native(expr, root)?;
        to_json(&value).map_err(|e| self.map_error(e, expr, root, true))
    }

    fn eval_native(
        &self,
        expr: &str,
        root: &Arc<LazyVars>,
    ) -> Result<minijinja::Value, TemplateError> {
        self.env()
            .compile_expression(expr)
            .map_err(|e| self.map_error(e, expr, root, true))?;
        let ctx = minijinja::Value::from_dyn_object(root.clone());
        let value = self.evaluate(expr, root, true, |env, src| {
            env.compile_expression(src)?.eval(&ctx)
        })?;
        if value.is_undefined() {
            return Err(undefined::describe(self, expr, root, true));
        }
        context::check_valid(&value).map_err(|e| self.map_error(e, expr, root, true))?;
        Ok(value)
    }

    /// Evaluates a conditional (`when`, `failed_when`, `changed_when`, `until`, assert's `that`):
    /// a bare expression, `{{ }}` accepted, truthiness as Jinja2.
    pub fn condition(&self, expr: &str, scope: Scope<'_>) -> Result<bool, TemplateError> {
        if crate::yaml::unsafe_text(expr).is_some() {
            return Err(TemplateError::plain(
                "Conditional is marked as unsafe, and cannot be evaluated.",
            ));
        }
        let root = self.root(scope);
        self.condition_in(expr.trim(), &root, 0)
    }

    fn condition_in(
        &self,
        expr: &str,
        root: &Arc<LazyVars>,
        depth: usize,
    ) -> Result<bool, TemplateError> {
        if expr.is_empty() {
            return Ok(true); // Ansible: an empty conditional is true
        }
        if Templar::is_template(expr) {
            // Templated first (Ansible warns about delimiters in conditionals), then the result
            // is the condition.
            return match self.template_string_in(expr, root)? {
                Value::Bool(b) => Ok(b),
                Value::String(s) if depth < 2 && !s.trim().is_empty() => {
                    self.condition_in(s.trim(), root, depth + 1)
                }
                other => Ok(crate::py::truthy(&other)),
            };
        }
        Ok(self.eval_native(expr, root)?.is_true())
    }

    /// Whether a string contains template syntax at all (fast path: no templating needed).
    pub fn is_template(text: &str) -> bool {
        text.contains("{{") || text.contains("{%") || text.contains("{#")
    }

    /// For an undefined-variable message: the keys that do exist next to the missing one. Given
    /// [`TemplateError::undefined`] (`workload.vm.nmae`), the keys of `workload.vm`, sorted;
    /// empty when the parent is not a mapping or the path has a single part.
    pub fn sibling_keys(&self, undefined_path: &str, scope: Scope<'_>) -> Vec<String> {
        let Some((parent, _)) = undefined_path.rsplit_once('.') else {
            return Vec::new();
        };
        match self.eval(parent, scope) {
            Ok(Value::Object(map)) => {
                let mut keys: Vec<String> = map.keys().cloned().collect();
                keys.sort();
                keys
            }
            _ => Vec::new(),
        }
    }

    /// Removes mapping entries whose value is the omit placeholder, recursively (for callers
    /// that template whole argument trees).
    pub fn strip_omitted(&self, value: Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter(|(_, v)| v.as_str() != Some(self.omit_token()))
                    .map(|(k, v)| (k, self.strip_omitted(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .filter(|v| v.as_str() != Some(self.omit_token()))
                    .map(|v| self.strip_omitted(v))
                    .collect(),
            ),
            other => other,
        }
    }

    /// Turns a minijinja error into Ansible's wording.
    fn map_error(
        &self,
        err: Error,
        source: &str,
        root: &Arc<LazyVars>,
        is_expr: bool,
    ) -> TemplateError {
        let detail = err.detail().unwrap_or_default().to_string();
        if let Some(rest) = detail.strip_prefix(VERBATIM) {
            // A nested failure carries "<VERBATIM>name<VERBATIM>message" when it is an undefined.
            if err.kind() == ErrorKind::UndefinedError {
                if let Some((name, message)) = rest.split_once(VERBATIM) {
                    return TemplateError::undefined(message.to_string(), name.to_string());
                }
            }
            if let Some(message) = filters::mandatory_message(rest, source) {
                return message;
            }
            return TemplateError::plain(rest);
        }
        if err.kind() == ErrorKind::UndefinedError {
            return undefined::describe(self, source, root, is_expr);
        }
        if err.kind() == ErrorKind::UnknownFunction {
            let name = detail
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            return TemplateError::undefined(format!("'{name}' is undefined"), name);
        }
        if detail.contains("undefined") {
            // e.g. "tried to use + operator on ... undefined": name the variable if we can.
            let described = undefined::describe(self, source, root, is_expr);
            if !described.message.starts_with(undefined::FALLBACK) {
                return described;
            }
        }
        let reason = match err.kind() {
            ErrorKind::UnknownFilter => {
                format!("No filter named '{}'.", unknown_name(&detail, source, '|'))
            }
            ErrorKind::UnknownTest => {
                format!("No test named '{}'.", unknown_name(&detail, source, ' '))
            }
            ErrorKind::OutOfFuel => format!(
                "the template exceeds hook-runner's budget per evaluation ({TEMPLATE_FUEL} steps or {TEMPLATE_DATA_MB} MB of data)"
            ),
            _ if detail.is_empty() => err.kind().to_string(),
            _ => detail,
        };
        TemplateError::plain(format!(
            "template error while templating string: {reason}. String: {source}"
        ))
    }
}

static PERCENT_FORMAT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r#"('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*%\s*(\((?:[^()]|\([^()]*\))*\)|[A-Za-z_][\w.]*(?:\[[^\]]*\])*)"#,
    )
    .expect("static regex")
});

/// Rewrites `'fmt' % args` (a string literal on the left) to `'fmt' | format(args)`.
fn percent_format_rewrite(source: &str) -> Option<String> {
    let rewritten = PERCENT_FORMAT.replace_all(source, |caps: &regex::Captures<'_>| {
        let args = &caps[2];
        if args.starts_with('(') {
            format!("({} | format{})", &caps[1], args)
        } else {
            format!("({} | format({}))", &caps[1], args)
        }
    });
    (rewritten != source).then(|| rewritten.into_owned())
}

/// Shows the whole template text (not just the inner expression) in a "String: ..." message.
fn shown_as(mut err: TemplateError, expr: &str, text: &str) -> TemplateError {
    if let Some(head) = err.message.strip_suffix(expr) {
        if head.ends_with("String: ") {
            err.message = format!("{head}{text}");
        }
    }
    err
}

/// The name in minijinja's "unknown filter/test" detail, or the empty string.
fn unknown_name(detail: &str, _source: &str, _sep: char) -> String {
    detail
        .split_whitespace()
        .find(|w| !matches!(*w, "filter" | "test" | "unknown" | "is" | "not" | "found"))
        .unwrap_or_default()
        .trim_matches(|c| c == '\'' || c == '"' || c == '`')
        .to_string()
}

/// Whether an expression is just a variable name (Ansible's single-variable shortcut).
fn is_bare_name(expr: &str) -> bool {
    let name = expr.trim();
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `{{ expr }}` with nothing around it: the inner expression.
fn lone_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        // Most likely two templates ("{{ a }} {{ b }}"); the render path handles it.
        return None;
    }
    Some(inner)
}

/// Python's `str()` of a scalar JSON value, for templated mapping keys.
fn python_str(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Default for Templar {
    fn default() -> Self {
        Templar::new()
    }
}
