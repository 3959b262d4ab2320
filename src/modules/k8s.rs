//! `kubernetes.core.k8s`: creates, updates, patches, applies and deletes Kubernetes objects;
//! runs on the controller with the run's credentials (the pod's service account first), as
//! `k8s_info` does. Also the `kubernetes.core.k8s` lookup ([`lookup_handler`]).
//!
//! Semantics (kubernetes.core `plugins/modules/k8s.py`, `module_utils/k8s/runner.py` and
//! `service.py`):
//! - The objects: `definition` (alias `resource_definition`: a mapping, a list, or YAML text with
//!   several documents; a `...List` kind is taken item by item), else the YAML file `src`
//!   (searched under `files/` like `copy`), else the rendered `template` (a path, or
//!   `{path: ...}`, searched under `templates/`, rendered with the task's variables), else one
//!   object from `kind`/`name`/`namespace`/`api_version`. Each object takes `kind`,
//!   `api_version`, `name`, `namespace` (and `generate_name`) from the parameters where it lacks
//!   them. Its type is found by discovery (kind, plural or singular); an unknown one fails with
//!   `Failed to find exact match for API_VERSION.KIND by [kind, name, singularName, shortNames]`.
//! - `state: present`: `apply: true` applies the object (method `apply`); else a missing object
//!   is created (`create`), an existing one is replaced when `force: true` (`replace`) or patched
//!   (`update`) with the `merge_type` list tried in order (default: strategic-merge, then merge
//!   when the server refuses strategic merge for a custom resource). `changed` compares the
//!   object before and after, ignoring `metadata.resourceVersion` and `metadata.generation`
//!   alone (with kubernetes.core's "No meaningful diff" warning); a create is always a change.
//! - `state: patched`: as present without create; a missing object gives the warning
//!   `resource 'kind=K,name=N' was not found but will not be created as 'state' parameter has
//!   been set to 'patched'` and `changed: false`.
//! - `state: absent`: deletes the object when it exists (method `delete`, with `delete_options`
//!   as the DeleteOptions body); a missing one is `changed: false`, `result: {}`.
//! - `wait` (with `wait_sleep` 5 and `wait_timeout` 120) polls after the write: for `absent`
//!   until the object is gone, else until `wait_condition` (`type`, `status` default `True`,
//!   `reason`) holds, or, without a condition, until a Deployment, DaemonSet, StatefulSet or Pod
//!   is ready (kubernetes.core's readiness rules) or any other object exists. It adds `duration`
//!   (seconds); a timeout fails with `"KIND" "NAME": Timed out waiting on resource` and the
//!   result so far.
//! - Result: `changed`, `method`, `result` (the object as the server answered, `hidden_fields`
//!   removed), `duration` with `wait`, `diff` (`before`/`after`, the differing parts) with
//!   `--diff` for update/replace/apply. Several objects give `result: {results: [...]}` with one
//!   such result each. `continue_on_error: true` records a failure as the object's `error` and
//!   goes on.
//! - Failures name the step as kubernetes.core does: `Failed to create object: `, `Failed to
//!   patch object: `, `Failed to replace object: `, `Failed to apply object: `, `Failed to delete
//!   object: `, `Failed to retrieve requested object: `, followed by the server's Status body as
//!   the Python client shows it (`{"kind":"Status",...}`; rebuilt from the status, message and
//!   reason: without `details` and the server's final newline), plus `reason` (the HTTP reason,
//!   e.g. `Forbidden`). A denied RBAC verb is such a failure, never a crash.
//! - Check mode: the writes are sent as server-side dry runs (`dryRun=All`, as kubernetes.core
//!   does with any server that supports them): nothing is stored, `changed` says what would
//!   change, and `wait` is skipped.
//! - `hook-runner dry-run` runs this module (it works in the controller), but its cluster is the
//!   dry-run's files: nothing is ever sent anywhere. It shows what would be done (`method`,
//!   `result` as the object would be, `changed`) with the warning `dry-run: no cluster was
//!   contacted; ...`; JSON patches are not evaluated offline.
//! - `apply: true` is a server-side apply (field manager `server_side_apply.field_manager`,
//!   default `hook-runner`; `server_side_apply.force_conflicts` forces). kubernetes.core without
//!   `server_side_apply` does a client-side apply (the `last-applied-configuration`
//!   annotation); the resulting object is the same for the fields a hook sets, but the
//!   annotation is not written.
//! - Credentials as `k8s_info`: the task's `host` + `api_key`, or `kubeconfig`/`context`, else
//!   the run's. Not supported, accepted and ignored with a warning: `validate`, `append_hash`,
//!   `delete_all`, `label_selectors`, `username`/`password`, client certificates, proxies,
//!   impersonation, `persist_config`.

use super::argspec::{ArgSpec, Kind, Param};
use super::k8s_info::{add_warnings, has_any, remove_path, task_cluster};
use super::remote::failed_unchanged;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::kube::{Cluster, KubeError, ObjectRef, PatchKind, ResourceType};
use crate::template::{LookupHandler, Scope};
use crate::{Map, Value};
use async_trait::async_trait;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct K8s;

/// Parameters accepted and ignored with a warning.
const IGNORED: &[&str] = &[
    "validate",
    "append_hash",
    "delete_all",
    "label_selectors",
    "username",
    "password",
    "client_cert",
    "client_key",
    "proxy",
    "no_proxy",
    "proxy_headers",
    "persist_config",
    "impersonate_user",
    "impersonate_groups",
];

/// The field manager of a server-side apply when the task names none.
pub const DEFAULT_FIELD_MANAGER: &str = "hook-runner";

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            default: Some("present"),
            choices: &["present", "absent", "patched"],
            ..Param::new("state", Kind::Str)
        },
        Param {
            aliases: &["resource_definition"],
            ..Param::new("definition", Kind::Raw)
        },
        Param::new("src", Kind::Path),
        Param::new("template", Kind::Raw),
        Param::new("kind", Kind::Str),
        Param::new("name", Kind::Str),
        Param::new("namespace", Kind::Str),
        Param {
            aliases: &["api", "version"],
            default: Some("v1"),
            ..Param::new("api_version", Kind::Str)
        },
        Param::new("generate_name", Kind::Str),
        Param {
            default: Some("false"),
            ..Param::new("apply", Kind::Bool)
        },
        Param::new("server_side_apply", Kind::Dict),
        Param::new("merge_type", Kind::List),
        Param {
            default: Some("false"),
            ..Param::new("force", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("wait", Kind::Bool)
        },
        Param {
            default: Some("5"),
            ..Param::new("wait_sleep", Kind::Int)
        },
        Param {
            default: Some("120"),
            ..Param::new("wait_timeout", Kind::Int)
        },
        Param::new("wait_condition", Kind::Dict),
        Param::new("delete_options", Kind::Dict),
        Param {
            default: Some("false"),
            ..Param::new("continue_on_error", Kind::Bool)
        },
        Param::new("hidden_fields", Kind::List),
        Param::new("validate", Kind::Dict),
        Param {
            default: Some("false"),
            ..Param::new("append_hash", Kind::Bool)
        },
        Param {
            aliases: &["all"],
            default: Some("false"),
            ..Param::new("delete_all", Kind::Bool)
        },
        Param::new("label_selectors", Kind::List),
        Param {
            aliases: &["kubeconfig_path"],
            ..Param::new("kubeconfig", Kind::Raw)
        },
        Param::new("context", Kind::Str),
        Param::new("host", Kind::Str),
        Param {
            no_log: true,
            ..Param::new("api_key", Kind::Str)
        },
        Param::new("username", Kind::Str),
        Param {
            no_log: true,
            ..Param::new("password", Kind::Str)
        },
        Param {
            aliases: &["cert_file"],
            ..Param::new("client_cert", Kind::Path)
        },
        Param {
            aliases: &["key_file"],
            ..Param::new("client_key", Kind::Path)
        },
        Param {
            aliases: &["ssl_ca_cert"],
            ..Param::new("ca_cert", Kind::Path)
        },
        Param {
            aliases: &["verify_ssl"],
            ..Param::new("validate_certs", Kind::Bool)
        },
        Param::new("proxy", Kind::Str),
        Param::new("no_proxy", Kind::Str),
        Param::new("proxy_headers", Kind::Dict),
        Param::new("persist_config", Kind::Bool),
        Param::new("impersonate_user", Kind::Str),
        Param::new("impersonate_groups", Kind::List),
    ],
    free_form: false,
    mutually_exclusive: &[&["definition", "src", "template"]],
    required_one_of: &[],
};

#[async_trait]
impl Module for K8s {
    fn name(&self) -> &'static str {
        "k8s"
    }
    fn fqcn(&self) -> &'static str {
        "kubernetes.core.k8s"
    }
    /// Works in the controller; in a dry-run its cluster is the dry-run's files, so it shows
    /// what it would do and writes nowhere.
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<K8sArgs>(args)
    }

    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let typed: K8sArgs = match super::typed_args(args.clone()) {
            Ok(typed) => typed,
            Err(failure) => return Ok(failure),
        };
        let mut warnings = ignored_warnings(&args);
        let own = if ctx.kube.allows_task_credentials() {
            match task_cluster(&args, &mut warnings).await {
                Ok(own) => own,
                Err(msg) => return Ok(failed_unchanged(msg)),
            }
        } else {
            if has_any(&args, super::k8s_info::TASK_CREDENTIALS) {
                warnings
                    .push("k8s: the task's connection parameters are ignored in a dry-run".into());
            }
            None
        };
        for w in warnings.iter_mut() {
            if let Some(rest) = w.strip_prefix("k8s_info: ") {
                *w = format!("k8s: {rest}");
            }
        }
        let cluster: &dyn Cluster = match &own {
            Some(c) => c,
            None => ctx.kube,
        };
        if cluster.offline() {
            warnings.push(
                "dry-run: no cluster was contacted; the result shows what kubernetes.core.k8s would send"
                    .into(),
            );
        }
        let definitions = match definitions(&args, ctx) {
            Ok(d) => d,
            Err(msg) => {
                let mut r = failed_unchanged(msg);
                add_warnings(&mut r, warnings);
                return Ok(r);
            }
        };
        let options = Options::from_args(typed, ctx.check_mode, ctx.diff);
        let mut result = k8s(&definitions, &options, cluster).await;
        add_warnings(&mut result, warnings);
        Ok(result)
    }
}

/// What the task asks besides the objects.
#[derive(Debug, Clone)]
struct Options {
    state: String,
    apply: Option<PatchKind>,
    force: bool,
    merge_types: Vec<String>,
    wait: Option<Wait>,
    delete_options: Option<Value>,
    continue_on_error: bool,
    hidden_fields: Vec<String>,
    check_mode: bool,
    diff: bool,
}

#[derive(Debug, Clone)]
struct Wait {
    timeout: Duration,
    sleep: Duration,
    condition: Option<Condition>,
}

#[derive(Debug, Clone)]
struct Condition {
    type_: String,
    status: String,
    reason: Option<String>,
}

/// The arguments that shape the action, read from the normalised ones. The objects
/// themselves (`definition`, `src`, `template` and the names filling them) stay untyped:
/// they are free Kubernetes data.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct K8sArgs {
    #[serde(default = "present")]
    state: String,
    #[serde(default)]
    apply: bool,
    #[serde(default)]
    server_side_apply: Option<Map>,
    #[serde(default)]
    merge_type: Option<Vec<String>>,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    wait: bool,
    #[serde(default = "five")]
    wait_sleep: i64,
    #[serde(default = "hundred_twenty")]
    wait_timeout: i64,
    #[serde(default)]
    wait_condition: Option<Map>,
    #[serde(default)]
    delete_options: Option<Value>,
    #[serde(default)]
    continue_on_error: bool,
    #[serde(default)]
    hidden_fields: Option<Vec<String>>,
}

fn present() -> String {
    "present".into()
}
fn five() -> i64 {
    5
}
fn hundred_twenty() -> i64 {
    120
}

impl Options {
    fn from_args(args: K8sArgs, check_mode: bool, diff: bool) -> Options {
        let apply = args.apply.then(|| {
            let ssa = args.server_side_apply.as_ref();
            PatchKind::Apply {
                field_manager: ssa
                    .and_then(|s| s.get("field_manager"))
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(DEFAULT_FIELD_MANAGER)
                    .to_string(),
                force: ssa
                    .and_then(|s| s.get("force_conflicts"))
                    .and_then(crate::template::filters::ansible_bool)
                    .unwrap_or(false),
            }
        });
        let condition = args.wait_condition.as_ref().and_then(|c| {
            let type_ = c.get("type")?.as_str()?.to_string();
            // kubernetes.core's default status is "True"; a YAML `false` means "False".
            let status = match c.get("status") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(false)) => "False".into(),
                _ => "True".into(),
            };
            let reason = c.get("reason").and_then(Value::as_str).map(str::to_string);
            Some(Condition {
                type_,
                status,
                reason,
            })
        });
        let secs = |n: i64| n.max(0) as u64;
        Options {
            state: args.state,
            apply,
            force: args.force,
            merge_types: args.merge_type.unwrap_or_default(),
            wait: args.wait.then(|| Wait {
                timeout: Duration::from_secs(secs(args.wait_timeout)),
                sleep: Duration::from_secs(secs(args.wait_sleep).max(1)),
                condition,
            }),
            delete_options: args.delete_options.filter(|v| v.is_object()),
            continue_on_error: args.continue_on_error,
            hidden_fields: args.hidden_fields.unwrap_or_default(),
            check_mode,
            diff,
        }
    }
}

fn ignored_warnings(args: &Map) -> Vec<String> {
    IGNORED
        .iter()
        .filter(|k| match args.get(**k) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        })
        .map(|k| format!("k8s: '{k}' is not supported and is ignored"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The objects

/// The objects the task names, each completed from the parameters.
fn definitions(args: &Map, ctx: &ModuleContext<'_>) -> Result<Vec<Value>, String> {
    let text = |k: &str| {
        args.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let loaded = if let Some(definition) = args.get("definition").filter(|v| !v.is_null()) {
        from_definition(definition)?
    } else if let Some(src) = text("src") {
        let path = find_file(&src, ctx.scope.search_paths)?;
        let body = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "Failed to load resource definition: {}: {e}",
                path.display()
            )
        })?;
        parse_documents(&body, &path.display().to_string())?
    } else if let Some(template) = args.get("template").filter(|v| !v.is_null()) {
        let mut out = Vec::new();
        for rendered in render_templates(template, ctx)? {
            out.extend(parse_documents(&rendered.1, &rendered.0)?);
        }
        out
    } else {
        vec![json!({})]
    };
    let mut out = Vec::new();
    for object in loaded {
        out.push(complete(object, args)?);
    }
    Ok(out)
}

/// A definition given inline: a mapping, a list of them, or YAML text.
fn from_definition(definition: &Value) -> Result<Vec<Value>, String> {
    match definition {
        Value::String(text) => parse_documents(text, "definition"),
        Value::Array(items) => Ok(items.iter().flat_map(flatten_list_kind).collect()),
        Value::Object(_) => Ok(flatten_list_kind(definition)),
        other => Err(format!(
            "Failed to load resource definition: expected a mapping, a list or YAML text, not {}",
            crate::py::type_name(other)
        )),
    }
}

/// The documents of a YAML text (empty ones skipped).
fn parse_documents(text: &str, origin: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for document in split_documents(text) {
        let node = crate::yaml::load_str(&document, origin)
            .map_err(|e| format!("Failed to load resource definition: {e}"))?;
        let value = node.to_value();
        if !value.is_null() {
            out.extend(flatten_list_kind(&value));
        }
    }
    Ok(out)
}

/// The documents of a YAML stream: split at `---` lines (a document start at column 0, which
/// no block scalar inside a manifest can hold); a `...` line ends a document.
fn split_documents(text: &str) -> Vec<String> {
    let mut documents = vec![String::new()];
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end();
        let starts = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        if starts || bare == "..." {
            // Each document starts with blank lines for the ones before it, so that errors
            // name the line of the whole text.
            let mut next = "\n".repeat(number);
            if let Some(rest) = bare.strip_prefix("---").map(str::trim_start) {
                if !rest.is_empty() && !rest.starts_with('#') {
                    next.push_str(rest);
                }
            }
            next.push('\n');
            documents.push(next);
            continue;
        }
        if let Some(last) = documents.last_mut() {
            last.push_str(line);
        }
    }
    documents
        .into_iter()
        .filter(|d| !d.trim().is_empty())
        .collect()
}

/// A `...List` object becomes its items; anything else stays itself.
fn flatten_list_kind(object: &Value) -> Vec<Value> {
    let is_list = object
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && object.get("items").is_some_and(Value::is_array);
    match object.get("items").and_then(Value::as_array) {
        Some(items) if is_list => items.clone(),
        _ => vec![object.clone()],
    }
}

/// Fills `kind`, `apiVersion`, `metadata.name`/`namespace`/`generateName` from the parameters.
fn complete(mut object: Value, args: &Map) -> Result<Value, String> {
    let text = |k: &str| {
        args.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_string()))
    };
    let Some(fields) = object.as_object_mut() else {
        return Err(format!(
            "Failed to load resource definition: a resource definition must be a mapping, not {}",
            crate::py::type_name(&object)
        ));
    };
    for (key, param) in [("kind", "kind"), ("apiVersion", "api_version")] {
        if !fields.get(key).is_some_and(|v| v.is_string()) {
            if let Some(v) = text(param) {
                fields.insert(key.into(), v);
            }
        }
    }
    let metadata = fields.entry("metadata").or_insert_with(|| json!({}));
    let Some(metadata) = metadata.as_object_mut() else {
        return Err("Failed to load resource definition: metadata must be a mapping".into());
    };
    for (key, param) in [
        ("name", "name"),
        ("namespace", "namespace"),
        ("generateName", "generate_name"),
    ] {
        if !metadata.get(key).is_some_and(|v| v.is_string()) {
            if let Some(v) = text(param) {
                metadata.insert(key.into(), v);
            }
        }
    }
    if metadata.contains_key("generateName") && metadata.get("name").is_some_and(|n| n.is_string())
    {
        metadata.remove("generateName");
    }
    Ok(object)
}

/// Finds `src` as Ansible's `_find_needle('files', src)` does.
fn find_file(src: &str, search_paths: &[PathBuf]) -> Result<PathBuf, String> {
    let path = Path::new(src);
    if path.is_absolute() {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!(
                "Could not find or access '{src}' on the Ansible Controller."
            ))
        };
    }
    search_paths
        .iter()
        .flat_map(|base| [base.join("files").join(path), base.join(path)])
        .find(|c| c.is_file())
        .ok_or_else(|| format!("Could not find or access '{src}' on the Ansible Controller."))
}

/// Renders `template` (a path, `{path: ...}`, or a list of either): (origin, text) each.
fn render_templates(
    template: &Value,
    ctx: &ModuleContext<'_>,
) -> Result<Vec<(String, String)>, String> {
    let items: Vec<&Value> = match template {
        Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut out = Vec::new();
    for item in items {
        let path = match item {
            Value::String(p) => p.clone(),
            Value::Object(spec) => {
                let unsupported: Vec<&String> = spec
                    .keys()
                    .filter(|k| k.as_str() != "path")
                    .collect();
                if !unsupported.is_empty() {
                    return Err(format!(
                        "k8s: template options other than 'path' are not supported by hook-runner: {}",
                        unsupported.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
                spec.get("path")
                    .and_then(Value::as_str)
                    .ok_or("Must provide path for each template item")?
                    .to_string()
            }
            _ => return Err("Error while reading template file: template must be a path or a mapping with 'path'".into()),
        };
        let found = super::template::find_template(&path, ctx.scope.search_paths)?;
        let body = std::fs::read_to_string(&found).map_err(|e| {
            format!(
                "Error while reading template file: {}: {e}",
                found.display()
            )
        })?;
        let scope = Scope {
            vars: ctx.scope.vars,
            search_paths: ctx.scope.search_paths,
        };
        let rendered = ctx
            .templar
            .render_str(&body, scope)
            .map_err(|e| format!("Failed to render template {path}: {}", e.message))?;
        out.push((found.display().to_string(), rendered));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The actions

/// Runs every object and assembles kubernetes.core's result.
async fn k8s(definitions: &[Value], options: &Options, cluster: &dyn Cluster) -> Map {
    let mut results: Vec<Map> = Vec::new();
    let mut changed = false;
    for definition in definitions {
        let result = match perform(definition, options, cluster).await {
            Ok(r) => r,
            Err(failure) => {
                let mut error = failure.result.unwrap_or_default();
                error.insert("msg".into(), Value::String(failure.msg));
                if let Some(reason) = failure.reason {
                    error.insert("reason".into(), Value::String(reason));
                }
                if !options.continue_on_error {
                    error.insert("failed".into(), Value::Bool(true));
                    error.entry("changed").or_insert(Value::Bool(false));
                    return error;
                }
                let mut r = Map::new();
                r.insert("changed".into(), Value::Bool(false));
                r.insert("result".into(), json!({}));
                r.insert("error".into(), Value::Object(error));
                r
            }
        };
        changed |= result
            .get("changed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        results.push(result);
    }
    if results.len() == 1 {
        return results.remove(0);
    }
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(changed));
    r.insert(
        "result".into(),
        json!({"results": results.into_iter().map(Value::Object).collect::<Vec<_>>()}),
    );
    r
}

/// A failed object: the message, the HTTP reason, and the result so far (a wait timeout).
struct Failure {
    msg: String,
    reason: Option<String>,
    result: Option<Map>,
}

impl Failure {
    fn plain(msg: impl Into<String>) -> Failure {
        Failure {
            msg: msg.into(),
            reason: None,
            result: None,
        }
    }

    /// `Failed to STEP: BODY` from an API error.
    fn api(step: &str, e: &KubeError) -> Failure {
        Failure {
            msg: format!("{step}: {}", error_body(e)),
            reason: (e.code != 0).then(|| http_reason(e.code)),
            result: None,
        }
    }
}

/// The server's Status as the Python client's exception shows its body, or the client-side
/// message when no server answered.
fn error_body(e: &KubeError) -> String {
    if e.code == 0 {
        return e.message.clone();
    }
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": e.message,
        "reason": e.reason,
        "code": e.code,
    });
    status.to_string()
}

fn http_reason(code: u16) -> String {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|c| c.canonical_reason())
        .unwrap_or("Unknown")
        .to_string()
}

async fn perform(
    definition: &Value,
    options: &Options,
    cluster: &dyn Cluster,
) -> Result<Map, Failure> {
    // A Secret's values are hidden from every output before anything is sent.
    crate::report::redact::global().learn_secrets_in(definition);
    let kind = str_at(definition, "/kind").unwrap_or_default();
    let api_version = str_at(definition, "/apiVersion").unwrap_or_else(|| "v1".into());
    let name = str_at(definition, "/metadata/name");
    let resource = cluster
        .resource_type(&api_version, &kind)
        .await
        .map_err(|e| Failure::api("Failed to find exact match", &e))?
        .ok_or_else(|| {
            Failure::plain(format!(
                "Failed to find exact match for {api_version}.{kind} by [kind, name, singularName, shortNames]"
            ))
        })?;
    let mut definition = definition.clone();
    if let Some(fields) = definition.as_object_mut() {
        fields.insert("kind".into(), Value::String(resource.kind.clone()));
        fields.insert(
            "apiVersion".into(),
            Value::String(resource.api_version.clone()),
        );
    }
    let namespace = str_at(&definition, "/metadata/namespace");
    let target = name.as_ref().map(|n| ObjectRef {
        resource: resource.clone(),
        namespace: namespace.clone(),
        name: n.clone(),
    });
    let existing = match &target {
        Some(t) if resource.namespaced && namespace.is_none() => {
            let _ = t;
            None
        }
        Some(t) => cluster
            .get_object(t)
            .await
            .map_err(|e| Failure::api("Failed to retrieve requested object", &e))?,
        None => None,
    };
    let mut result = Map::new();
    result.insert("changed".into(), Value::Bool(false));
    result.insert("result".into(), json!({}));
    let dry = options.check_mode;
    let instance: Value;
    let method: &str;
    if options.state == "absent" {
        result.insert("method".into(), json!("delete"));
        let (Some(target), Some(_)) = (&target, &existing) else {
            return Ok(result);
        };
        instance = cluster
            .delete_object(target, options.delete_options.as_ref(), dry)
            .await
            .map_err(|e| Failure::api("Failed to delete object", &e))?;
        result.insert("changed".into(), Value::Bool(true));
        method = "delete";
    } else if let Some(apply) = &options.apply {
        let target = target.as_ref().ok_or_else(|| {
            Failure::plain("Failed to apply object: metadata.name is required for apply")
        })?;
        instance = cluster
            .patch_object(target, &definition, apply, dry)
            .await
            .map_err(|e| Failure::api("Failed to apply object", &e))?;
        method = "apply";
    } else if existing.is_none() {
        if options.state == "patched" {
            let warning = format!(
                "resource 'kind={},name={}' was not found but will not be created as 'state' parameter has been set to 'patched'",
                resource.kind,
                name.as_deref().unwrap_or("None")
            );
            result.insert("warnings".into(), json!([warning]));
            return Ok(result);
        }
        if resource.namespaced && namespace.is_none() {
            return Err(Failure::plain(format!(
                "Failed to create object: Namespace is required for {}.{}",
                resource.api_version, resource.kind
            )));
        }
        let collection = ObjectRef {
            resource: resource.clone(),
            namespace: namespace.clone(),
            name: name.clone().unwrap_or_default(),
        };
        instance = cluster
            .create_object(&collection, &definition, dry)
            .await
            .map_err(|e| Failure::api("Failed to create object", &e))?;
        result.insert("changed".into(), Value::Bool(true));
        method = "create";
    } else if options.force {
        let target = target
            .as_ref()
            .ok_or_else(|| Failure::plain("Failed to replace object: no name"))?;
        let mut body = definition.clone();
        if let (Some(meta), Some(rv)) = (
            body.get_mut("metadata").and_then(Value::as_object_mut),
            existing
                .as_ref()
                .and_then(|e| str_at(e, "/metadata/resourceVersion")),
        ) {
            meta.entry("resourceVersion").or_insert(Value::String(rv));
        }
        instance = cluster
            .replace_object(target, &body, dry)
            .await
            .map_err(|e| Failure::api("Failed to replace object", &e))?;
        method = "replace";
    } else {
        let target = target
            .as_ref()
            .ok_or_else(|| Failure::plain("Failed to patch object: no name"))?;
        instance = patch(cluster, target, &definition, &options.merge_types, dry).await?;
        method = "update";
    }
    result.insert("method".into(), json!(method));
    let mut instance = instance;
    let mut success = true;
    if let (Some(wait), false) = (&options.wait, options.check_mode) {
        let started = Instant::now();
        let waited_on = ObjectRef {
            resource: resource.clone(),
            namespace: namespace
                .clone()
                .or_else(|| str_at(&instance, "/metadata/namespace")),
            name: str_at(&instance, "/metadata/name")
                .or(name.clone())
                .unwrap_or_default(),
        };
        let (ok, last) = wait_for(cluster, &waited_on, &resource, wait, method == "delete")
            .await
            .map_err(|e| Failure::api("Failed to retrieve requested object", &e))?;
        success = ok;
        if method != "delete" {
            if let Some(last) = last {
                instance = last;
            }
        }
        result.insert("duration".into(), json!(started.elapsed().as_secs()));
    }
    if method != "create" && method != "delete" {
        let before = existing.clone().unwrap_or_else(|| json!({}));
        let (same, diff) = diff_objects(&before, &instance, &options.hidden_fields);
        let mut warnings = Vec::new();
        if same && diff.is_some() {
            warnings.push(Value::String("No meaningful diff was generated, but the API may not be idempotent (only metadata.generation or metadata.resourceVersion were changed)".into()));
        }
        if !warnings.is_empty() {
            result.insert("warnings".into(), Value::Array(warnings));
        }
        result.insert("changed".into(), Value::Bool(!same));
        if options.diff {
            let (b, a) = diff.unwrap_or_default();
            result.insert("diff".into(), json!({"before": b, "after": a}));
        }
    }
    for path in &options.hidden_fields {
        remove_path(&mut instance, path);
    }
    result.insert("result".into(), instance);
    if !success {
        return Err(Failure {
            msg: format!(
                "\"{}\" \"{}\": Timed out waiting on resource",
                resource.kind,
                name.as_deref().unwrap_or("None")
            ),
            reason: None,
            result: Some(result),
        });
    }
    Ok(result)
}

/// An update: each `merge_type` in turn (default strategic merge, then merge when the server
/// takes no strategic merge for this type, as for custom resources).
async fn patch(
    cluster: &dyn Cluster,
    target: &ObjectRef,
    definition: &Value,
    merge_types: &[String],
    dry_run: bool,
) -> Result<Value, Failure> {
    let asked = !merge_types.is_empty();
    let kinds: Vec<PatchKind> = if asked {
        merge_types
            .iter()
            .map(|m| match m.as_str() {
                "json" => Ok(PatchKind::Json),
                "merge" => Ok(PatchKind::Merge),
                "strategic-merge" => Ok(PatchKind::Strategic),
                other => Err(Failure::plain(format!(
                    "value of merge_type must be one or more of: json, merge, strategic-merge. Got no match for: {other}"
                ))),
            })
            .collect::<Result<_, _>>()?
    } else {
        vec![PatchKind::Strategic, PatchKind::Merge]
    };
    let mut last = None;
    for kind in &kinds {
        match cluster
            .patch_object(target, definition, kind, dry_run)
            .await
        {
            Ok(object) => return Ok(object),
            // The server refuses the media type (415): the next type is tried.
            Err(e) if e.code == 415 => last = Some(e),
            Err(e) => return Err(Failure::api("Failed to patch object", &e)),
        }
    }
    let e = last.unwrap_or_else(|| KubeError {
        code: 0,
        reason: "BadRequest".into(),
        message: "no merge_type".into(),
    });
    Err(Failure::api("Failed to patch object", &e))
}

/// Polls until the object is gone (`absent`) or ready; (reached, last object seen).
async fn wait_for(
    cluster: &dyn Cluster,
    target: &ObjectRef,
    resource: &ResourceType,
    wait: &Wait,
    absent: bool,
) -> Result<(bool, Option<Value>), KubeError> {
    let started = Instant::now();
    loop {
        let object = cluster.get_object(target).await?;
        let reached = match (&object, absent) {
            (None, true) => true,
            (Some(_), true) | (None, false) => false,
            (Some(o), false) => match &wait.condition {
                Some(c) => condition_holds(o, c),
                None => ready(&resource.kind, o),
            },
        };
        if reached || started.elapsed() >= wait.timeout {
            return Ok((reached, object));
        }
        let left = wait.timeout.saturating_sub(started.elapsed());
        tokio::time::sleep(wait.sleep.min(left)).await;
    }
}

/// kubernetes.core's `custom_condition`: the first condition of the type decides; `Unknown`
/// matches only an asked `Unknown`; other statuses compare as booleans; `reason` when asked.
fn condition_holds(object: &Value, c: &Condition) -> bool {
    let Some(found) = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|x| x.get("type").and_then(Value::as_str) == Some(c.type_.as_str()))
        })
    else {
        return false;
    };
    let status = found.get("status").and_then(Value::as_str).unwrap_or("");
    let reason_ok = || {
        c.reason
            .as_deref()
            .filter(|r| !r.is_empty())
            .is_none_or(|r| found.get("reason").and_then(Value::as_str) == Some(r))
    };
    if status == "Unknown" {
        return c.status == "Unknown" && reason_ok();
    }
    let asked =
        crate::template::filters::ansible_bool(&Value::String(c.status.clone())).unwrap_or(false);
    (status == "True") == asked && reason_ok()
}

/// kubernetes.core's readiness of Deployments, DaemonSets, StatefulSets and Pods; any other
/// object is ready when it exists.
fn ready(kind: &str, o: &Value) -> bool {
    let at = |p: &str| o.pointer(p).cloned().unwrap_or(Value::Null);
    let num = |p: &str| o.pointer(p).and_then(Value::as_i64);
    let has_status = o
        .get("status")
        .is_some_and(|s| s.as_object().is_some_and(|m| !m.is_empty()));
    match kind {
        "Deployment" => {
            has_status
                && num("/spec/replicas").unwrap_or(1) == num("/status/replicas").unwrap_or(0)
                && at("/status/availableReplicas") == at("/status/replicas")
                && at("/status/observedGeneration") == at("/metadata/generation")
                && num("/status/unavailableReplicas").unwrap_or(0) == 0
        }
        "DaemonSet" => {
            has_status
                && num("/status/desiredNumberScheduled").is_some()
                && at("/status/updatedNumberScheduled") == at("/status/desiredNumberScheduled")
                && at("/status/numberReady") == at("/status/desiredNumberScheduled")
                && at("/status/observedGeneration") == at("/metadata/generation")
                && num("/status/unavailableReplicas").unwrap_or(0) == 0
        }
        "StatefulSet" => {
            has_status
                && str_at(o, "/spec/updateStrategy/type").as_deref() == Some("RollingUpdate")
                && num("/status/observedGeneration")
                    == Some(num("/metadata/generation").unwrap_or(0))
                && at("/status/updateRevision") == at("/status/currentRevision")
                && at("/status/updatedReplicas") == at("/spec/replicas")
                && at("/status/readyReplicas") == at("/spec/replicas")
                && at("/status/replicas") == at("/spec/replicas")
        }
        "Pod" => {
            has_status
                && o.pointer("/status/containerStatuses")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter()
                            .all(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                    })
        }
        _ => true,
    }
}

/// Whether `before` and `after` are the same object (apart from `metadata.generation` and
/// `metadata.resourceVersion` alone), and their differing parts (before, after).
fn diff_objects(
    before: &Value,
    after: &Value,
    hidden: &[String],
) -> (bool, Option<(Value, Value)>) {
    let (mut before, mut after) = (before.clone(), after.clone());
    for path in hidden {
        remove_path(&mut before, path);
        remove_path(&mut after, path);
    }
    let Some((b, a)) = recursive_diff(&before, &after) else {
        return (true, None);
    };
    let only_metadata = |v: &Value| {
        v.as_object()
            .is_some_and(|m| m.len() == 1 && m.contains_key("metadata"))
            && v["metadata"].as_object().is_some_and(|m| {
                m.keys()
                    .all(|k| k == "generation" || k == "resourceVersion")
            })
    };
    let same = only_metadata(&b) && only_metadata(&a);
    (same, Some((b, a)))
}

/// The keys of two mappings that differ, recursively: (left's side, right's side).
fn recursive_diff(left: &Value, right: &Value) -> Option<(Value, Value)> {
    let (Value::Object(l), Value::Object(r)) = (left, right) else {
        return (left != right).then(|| (left.clone(), right.clone()));
    };
    let mut lo = Map::new();
    let mut ro = Map::new();
    for (k, v) in l {
        match r.get(k) {
            None => {
                lo.insert(k.clone(), v.clone());
            }
            Some(w) if v.is_object() && w.is_object() => {
                if let Some((a, b)) = recursive_diff(v, w) {
                    lo.insert(k.clone(), a);
                    ro.insert(k.clone(), b);
                }
            }
            Some(w) if v != w => {
                lo.insert(k.clone(), v.clone());
                ro.insert(k.clone(), w.clone());
            }
            Some(_) => {}
        }
    }
    for (k, w) in r {
        if !l.contains_key(k) {
            ro.insert(k.clone(), w.clone());
        }
    }
    (!lo.is_empty() || !ro.is_empty()).then(|| (Value::Object(lo), Value::Object(ro)))
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// The lookup

/// The `kubernetes.core.k8s` lookup (also `k8s`, `community.kubernetes.k8s`): `kind`,
/// `api_version` (default `v1`), `resource_name`, `namespace`, `label_selector`,
/// `field_selector`, `resource_definition` (its kind, apiVersion, name and namespace) or `src`
/// (a YAML file, its first document). It answers the object (a list of one), `[]` when it does
/// not exist, or the items of a list; an unknown kind fails. Objects are read as `k8s_info`
/// reads them, so Secrets are registered with the redactor when they are read. `kubeconfig`
/// and `context` select other credentials; the other connection options are ignored.
///
/// Templating is synchronous and the API is not: on the run's (multi-thread) runtime the call
/// blocks its worker in place and uses the run's cluster; anywhere else (a test's
/// single-thread runtime) it runs on a thread of its own with its own connection.
pub fn lookup_handler(cluster: Arc<dyn Cluster>, run_kubeconfig: Option<PathBuf>) -> LookupHandler {
    Arc::new(move |_terms: &[Value], options: &Map| {
        let query = lookup_query(options)?;
        for key in options.keys() {
            if !LOOKUP_OPTIONS.contains(&key.as_str()) {
                tracing::warn!(
                    "lookup kubernetes.core.k8s: '{key}' is not supported and is ignored"
                );
            }
        }
        let text = |k: &str| {
            options
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let task_kubeconfig = text("kubeconfig").map(PathBuf::from);
        let context = text("context");
        let offline = cluster.offline();
        let own_credentials = !offline && (task_kubeconfig.is_some() || context.is_some());
        let kubeconfig = task_kubeconfig.or_else(|| run_kubeconfig.clone());
        let read = |in_process: bool| {
            let cluster = cluster.clone();
            let (query, kubeconfig, context) = (query.clone(), kubeconfig.clone(), context.clone());
            async move {
                if in_process && !own_credentials {
                    return cluster.info(&query).await;
                }
                if offline {
                    return cluster.info(&query).await;
                }
                crate::kube::ApiCluster::connect(kubeconfig.as_deref(), context.as_deref())
                    .await?
                    .info(&query)
                    .await
            }
        };
        let answer = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(read(true)))
            }
            _ => {
                let future = read(false);
                std::thread::scope(|scope| {
                    scope
                        .spawn(|| {
                            tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .map_err(|e| KubeError {
                                    code: 0,
                                    reason: "Internal".into(),
                                    message: format!("cannot start a runtime for the lookup: {e}"),
                                })?
                                .block_on(future)
                        })
                        .join()
                        .unwrap_or_else(|_| {
                            Err(KubeError {
                                code: 0,
                                reason: "Internal".into(),
                                message: "the Kubernetes lookup thread failed".into(),
                            })
                        })
                })
            }
        };
        let answer = answer.map_err(|e| {
            if e.code == 0 {
                e.message
            } else {
                format!("{} ({}): {}", e.reason, e.code, e.message)
            }
        })?;
        for w in &answer.warnings {
            tracing::warn!("{w}");
        }
        if !answer.api_found {
            return Err(resource_not_found(&query.api_version, &query.kind));
        }
        Ok(answer.resources)
    })
}

/// The kubernetes client's `ResourceNotFoundError` for a kind the API server does not serve,
/// as the lookup raises it (its text names the query twice: the exception's args and message).
fn resource_not_found(api_version: &str, kind: &str) -> String {
    let query = format!(
        "No matches found for {{'prefix': None, 'api_version': {}, 'short_names': [{}]}}",
        crate::py::repr(&crate::Value::from(api_version)),
        crate::py::repr(&crate::Value::from(kind))
    );
    crate::template::lookups::raised_as(
        "kubernetes.dynamic.exceptions.ResourceNotFoundError",
        &format!("{query}. {query}"),
    )
}

/// The options the lookup reads.
const LOOKUP_OPTIONS: &[&str] = &[
    "kind",
    "api_version",
    "resource_name",
    "namespace",
    "label_selector",
    "field_selector",
    "resource_definition",
    "src",
    "kubeconfig",
    "context",
];

/// The query from the lookup's options.
fn lookup_query(options: &Map) -> Result<crate::kube::InfoQuery, String> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut kind = text(options.get("kind"));
    let mut api_version = text(options.get("api_version")).unwrap_or_else(|| "v1".into());
    let mut name = text(options.get("resource_name"));
    let mut namespace = text(options.get("namespace"));
    if let Some(src) = text(options.get("src")) {
        let body = std::fs::read_to_string(&src)
            .map_err(|e| format!("Failed to load resource definition: {src}: {e}"))?;
        if let Some(first) = parse_documents(&body, &src)?.into_iter().next() {
            kind = str_at(&first, "/kind");
            name = str_at(&first, "/metadata/name");
            namespace = str_at(&first, "/metadata/namespace");
            api_version = str_at(&first, "/apiVersion").unwrap_or_else(|| "v1".into());
        }
    }
    let definition = match options.get("resource_definition") {
        Some(Value::String(text)) => parse_documents(text, "resource_definition")?
            .into_iter()
            .next(),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        _ => None,
    };
    if let Some(d) = definition {
        kind = str_at(&d, "/kind").or(kind);
        api_version = str_at(&d, "/apiVersion").unwrap_or(api_version);
        name = str_at(&d, "/metadata/name").or(name);
        namespace = str_at(&d, "/metadata/namespace").or(namespace);
    }
    let Some(kind) = kind else {
        return Err("Error: no Kind specified. Use the 'kind' parameter, or provide an object YAML configuration using the 'resource_definition' parameter.".into());
    };
    let selector = |k: &str| text(options.get(k)).into_iter().collect::<Vec<_>>();
    Ok(crate::kube::InfoQuery {
        api_version,
        kind,
        name,
        namespace,
        label_selectors: selector("label_selector"),
        field_selectors: selector("field_selector"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_text_gives_each_document_and_list_kinds_give_their_items() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- {kind: Secret, metadata: {name: b}}\n- {kind: Secret, metadata: {name: c}}\n...\n";
        let docs = from_definition(&Value::String(text.into())).unwrap();
        let names: Vec<String> = docs
            .iter()
            .filter_map(|d| str_at(d, "/metadata/name"))
            .collect();
        assert_eq!(names, vec!["a", "b", "c"]);
        let err = from_definition(&Value::String("a: [\n---\nb: 1\n".into())).unwrap_err();
        assert!(
            err.starts_with("Failed to load resource definition: "),
            "{err}"
        );
        // The unclosed `[` of line 3 is reported where the text ends (line 4 of the whole
        // text, not line 2 of the second document).
        let err = parse_documents("x: 1\n---\ny: [\n", "def").unwrap_err();
        assert!(
            err.contains("def:4:"),
            "errors name the line of the whole text: {err}"
        );
    }

    #[test]
    fn parameters_fill_what_the_definition_lacks() {
        let args = crate::modules::remote::testkit::args(json!({
            "kind": "ConfigMap", "api_version": "v1", "name": "n", "namespace": "ns",
        }));
        let done = complete(json!({"data": {"a": "b"}}), &args).unwrap();
        assert_eq!(
            done,
            json!({"data": {"a": "b"}, "kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "n", "namespace": "ns"}})
        );
        let kept = complete(
            json!({"kind": "Secret", "metadata": {"name": "own"}}),
            &args,
        )
        .unwrap();
        assert_eq!(kept["kind"], json!("Secret"));
        assert_eq!(kept["metadata"]["name"], json!("own"));
        assert!(complete(json!(["not", "a", "mapping"]), &args).is_err());
    }

    #[test]
    fn only_version_and_generation_changes_are_no_change() {
        let before = json!({"metadata": {"name": "a", "resourceVersion": "1"}, "data": {"k": "1"}});
        let bumped = json!({"metadata": {"name": "a", "resourceVersion": "2"}, "data": {"k": "1"}});
        let (same, diff) = diff_objects(&before, &bumped, &[]);
        assert!(same && diff.is_some());
        let changed =
            json!({"metadata": {"name": "a", "resourceVersion": "2"}, "data": {"k": "2"}});
        let (same, diff) = diff_objects(&before, &changed, &[]);
        assert!(!same);
        let (b, a) = diff.unwrap();
        assert_eq!(
            b,
            json!({"metadata": {"resourceVersion": "1"}, "data": {"k": "1"}})
        );
        assert_eq!(
            a,
            json!({"metadata": {"resourceVersion": "2"}, "data": {"k": "2"}})
        );
        let (same, _) = diff_objects(&before, &before.clone(), &[]);
        assert!(same);
    }

    #[test]
    fn conditions_follow_kubernetes_core() {
        let object = |status: &str, reason: &str| json!({"status": {"conditions": [{"type": "Ready", "status": status, "reason": reason}]}});
        let asked = |status: &str, reason: Option<&str>| Condition {
            type_: "Ready".into(),
            status: status.into(),
            reason: reason.map(str::to_string),
        };
        assert!(condition_holds(
            &object("True", "Done"),
            &asked("True", None)
        ));
        assert!(condition_holds(
            &object("True", "Done"),
            &asked("yes", Some("Done"))
        ));
        assert!(!condition_holds(
            &object("True", "Done"),
            &asked("True", Some("Other"))
        ));
        assert!(condition_holds(&object("False", ""), &asked("False", None)));
        assert!(!condition_holds(
            &object("Unknown", ""),
            &asked("False", None)
        ));
        assert!(condition_holds(
            &object("Unknown", ""),
            &asked("Unknown", None)
        ));
        assert!(!condition_holds(&json!({}), &asked("True", None)));
    }

    #[test]
    fn readiness_of_pods_and_deployments() {
        let pod = json!({"status": {"containerStatuses": [{"ready": true}, {"ready": false}]}});
        assert!(!ready("Pod", &pod));
        let pod = json!({"status": {"containerStatuses": [{"ready": true}]}});
        assert!(ready("Pod", &pod));
        let deployment = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"replicas": 2, "availableReplicas": 2, "observedGeneration": 2}});
        assert!(ready("Deployment", &deployment));
        let rolling = json!({"metadata": {"generation": 3}, "spec": {"replicas": 2},
            "status": {"replicas": 2, "availableReplicas": 2, "observedGeneration": 2}});
        assert!(!ready("Deployment", &rolling));
        assert!(ready("ConfigMap", &json!({})));
    }

    #[test]
    fn api_errors_read_as_the_python_clients() {
        let e = KubeError {
            code: 403,
            reason: "Forbidden".into(),
            message: "configmaps is forbidden: User \"u\" cannot create".into(),
        };
        let f = Failure::api("Failed to create object", &e);
        assert_eq!(
            f.msg,
            "Failed to create object: {\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"configmaps is forbidden: User \\\"u\\\" cannot create\",\"reason\":\"Forbidden\",\"code\":403}"
        );
        assert_eq!(f.reason.as_deref(), Some("Forbidden"));
        let local = KubeError {
            code: 0,
            reason: "Configuration".into(),
            message: "no Kubernetes credentials".into(),
        };
        assert_eq!(
            Failure::api("Failed to create object", &local).msg,
            "Failed to create object: no Kubernetes credentials"
        );
    }

    #[test]
    fn the_lookup_reads_its_options() {
        let q = lookup_query(&crate::modules::remote::testkit::args(json!({
            "kind": "Secret", "namespace": "mtv", "resource_name": "k", "label_selector": "a=b",
        })))
        .unwrap();
        assert_eq!(
            (
                q.kind.as_str(),
                q.api_version.as_str(),
                q.name.as_deref(),
                q.namespace.as_deref()
            ),
            ("Secret", "v1", Some("k"), Some("mtv"))
        );
        assert_eq!(q.label_selectors, vec!["a=b"]);
        let q = lookup_query(&crate::modules::remote::testkit::args(json!({
            "resource_definition": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}},
        })))
        .unwrap();
        assert_eq!(
            (q.kind.as_str(), q.api_version.as_str()),
            ("Deployment", "apps/v1")
        );
        let e = lookup_query(&Map::new()).unwrap_err();
        assert!(e.starts_with("Error: no Kind specified."), "{e}");
    }

    #[tokio::test]
    async fn the_lookup_answers_from_the_dry_run_files_on_any_runtime() {
        let mut files = crate::kube::FileCluster::new();
        files.add_object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}, "data": {"a": "1"}}));
        let handler = lookup_handler(Arc::new(files), None);
        let got = handler(
            &[],
            &crate::modules::remote::testkit::args(
                json!({"kind": "ConfigMap", "namespace": "n", "resource_name": "c"}),
            ),
        )
        .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["data"]["a"], json!("1"));
    }
}
