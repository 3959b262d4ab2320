//! `kubernetes.core.k8s_info`: reads Kubernetes objects of any kind; runs on the controller.
//!
//! Semantics (kubernetes.core `plugins/modules/k8s_info.py` and `module_utils/k8s/service.py`,
//! reference §1.5):
//! - `kind` (required), `api_version` (aliases `api`, `version`; default `v1`), `name`,
//!   `namespace`, `label_selectors` and `field_selectors` (lists, joined with `,`).
//! - Result: `changed: false`, `api_found`, `resources` (the objects as the API returned them;
//!   a list is flattened to its items). A get by name that finds nothing is `resources: []`
//!   and not a failure. An unknown apiVersion/kind gives `api_found: false`, `resources: []` and
//!   `msg: Failed to find API for resource with apiVersion "X" and kind "Y"` (not a failure).
//! - `wait` (with `wait_sleep` 5, `wait_timeout` 120, `wait_condition {type, status 'True',
//!   reason}`): polls until the objects exist and, with a condition, until every object has it;
//!   a condition not reached fails with `Failed to gather information about KIND(s) even after
//!   waiting for N seconds`.
//! - `hidden_fields` (dotted paths such as `metadata.managedFields`) are removed from each object.
//! - Any other API failure fails the task with the server's Status message, which for a 403
//!   names the service account, verb and resource: `msg: "Forbidden (403): secrets \"k\" is
//!   forbidden: User \"system:serviceaccount:ns:sa\" cannot get resource ..."`, plus `status`
//!   and `reason`. (kubernetes.core shows the Python client's exception text instead: a
//!   deliberate difference.) A client-side failure (no credentials, server unreachable) fails
//!   with its own message.
//! - Credentials, in kubernetes.core's order: the task's `host` + `api_key` (with `ca_cert` and
//!   `validate_certs`); else the task's `kubeconfig` (a path) and/or `context` (with
//!   `$KUBECONFIG` or `~/.kube/config`); else the run's (the pod's service account first, or
//!   the run's `--kubeconfig`). In a dry-run the task's parameters are ignored (no cluster is
//!   ever contacted). `username`/`password`, client certificates, proxies, impersonation,
//!   `persist_config` and an inline (dict) kubeconfig are accepted and ignored with a warning;
//!   `metadata_only` is accepted and full objects are returned.
//! - Read-only, so check mode runs it normally.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::failed_unchanged as failed;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::kube::{api_not_found_message, ApiCluster, Cluster, InfoQuery};
use crate::{Map, Value};
use async_trait::async_trait;
use std::time::{Duration, Instant};

pub struct K8sInfo;

/// Connection parameters that are accepted but ignored (with a warning).
pub(crate) const IGNORED_AUTH: &[&str] = &[
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

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            required: true,
            ..Param::new("kind", Kind::Str)
        },
        Param {
            aliases: &["api", "version"],
            default: Some("v1"),
            ..Param::new("api_version", Kind::Str)
        },
        Param::new("name", Kind::Str),
        Param::new("namespace", Kind::Str),
        Param {
            default: Some("[]"),
            ..Param::new("label_selectors", Kind::List)
        },
        Param {
            default: Some("[]"),
            ..Param::new("field_selectors", Kind::List)
        },
        Param::new("hidden_fields", Kind::List),
        Param {
            default: Some("false"),
            ..Param::new("metadata_only", Kind::Bool)
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
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for K8sInfo {
    fn name(&self) -> &'static str {
        "k8s_info"
    }
    fn fqcn(&self) -> &'static str {
        "kubernetes.core.k8s_info"
    }
    fn touches_host(&self) -> bool {
        false
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }

    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let mut warnings = Vec::new();
        let own = if ctx.kube.allows_task_credentials() {
            match task_cluster(&args, &mut warnings).await {
                Ok(own) => own,
                Err(msg) => return Ok(failed(msg)),
            }
        } else {
            if has_any(&args, TASK_CREDENTIALS) {
                warnings.push(
                    "k8s_info: the task's connection parameters are ignored in a dry-run".into(),
                );
            }
            None
        };
        let cluster: &dyn Cluster = match &own {
            Some(c) => c,
            None => ctx.kube,
        };
        let mut result = k8s_info(&args, cluster).await;
        add_warnings(&mut result, warnings);
        Ok(result)
    }
}

/// What `wait` asks for.
struct WaitSpec {
    timeout: Duration,
    sleep: Duration,
    condition: Option<Condition>,
}

/// `wait_condition`: a status condition every object must show.
struct Condition {
    type_: String,
    status: String,
    reason: Option<String>,
}

/// Parameters that select the task's own credentials instead of the run's.
pub(crate) const TASK_CREDENTIALS: &[&str] = &["kubeconfig", "context", "host", "api_key"];

pub(crate) fn has_any(args: &Map, keys: &[&str]) -> bool {
    keys.iter()
        .any(|k| args.get(*k).is_some_and(|v| !v.is_null()))
}

/// The task's own cluster, as kubernetes.core chooses it: `host` + `api_key` (with `ca_cert`,
/// `validate_certs`), else `kubeconfig` and/or `context`; `None` when the task gives none, so
/// the run's credentials (in-cluster first) are used.
pub(crate) async fn task_cluster(
    args: &Map,
    warnings: &mut Vec<String>,
) -> Result<Option<ApiCluster>, String> {
    let text = |k: &str| {
        args.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let (Some(host), Some(key)) = (text("host"), text("api_key")) {
        let ca = match text("ca_cert") {
            Some(path) => Some(
                std::fs::read(expand_home(&path))
                    .map_err(|e| format!("cannot read ca_cert {path}: {e}"))?,
            ),
            None => None,
        };
        let validate = args
            .get("validate_certs")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        return ApiCluster::from_host_token(&host, &key, ca.as_deref(), validate)
            .map(Some)
            .map_err(|e| e.message);
    }
    if text("host").is_some() {
        warnings.push(
            "k8s_info: 'host' without 'api_key' is ignored; hook-runner uses the run's Kubernetes credentials".into(),
        );
    }
    let kubeconfig = match args.get("kubeconfig") {
        Some(Value::String(path)) if !path.is_empty() => Some(expand_home(path)),
        Some(Value::Object(_)) => {
            warnings.push(
                "k8s_info: an inline kubeconfig (a dict) is not supported and is ignored".into(),
            );
            None
        }
        _ => None,
    };
    let context = text("context");
    let path = match (kubeconfig, &context) {
        (Some(p), _) => p,
        (None, Some(_)) => default_kubeconfig(),
        (None, None) => return Ok(None),
    };
    ApiCluster::from_kubeconfig(std::path::Path::new(&path), context.as_deref())
        .await
        .map(Some)
        .map_err(|e| e.message)
}

/// `$KUBECONFIG` (its first file), else `~/.kube/config`.
fn default_kubeconfig() -> String {
    match std::env::var("KUBECONFIG") {
        Ok(list) if !list.is_empty() => list.split(':').next().unwrap_or_default().to_string(),
        _ => expand_home("~/.kube/config"),
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

pub(crate) fn add_warnings(result: &mut Map, mut warnings: Vec<String>) {
    if warnings.is_empty() {
        return;
    }
    if let Some(Value::Array(existing)) = result.remove("warnings") {
        warnings.extend(
            existing
                .into_iter()
                .filter_map(|w| w.as_str().map(str::to_string)),
        );
    }
    result.insert(
        "warnings".into(),
        Value::Array(warnings.into_iter().map(Value::String).collect()),
    );
}

/// Reads with `cluster` (the task's own or the run's).
pub async fn k8s_info(args: &Map, cluster: &dyn Cluster) -> Map {
    let query = query_from_args(args);
    let mut warnings = ignored_param_warnings(args);
    let wait = wait_spec(args);
    let started = Instant::now();
    let mut answer = loop {
        let answer = match cluster.info(&query).await {
            Ok(a) => a,
            Err(e) => {
                // A server answer names its HTTP status; a client-side problem (no
                // credentials, server unreachable) is its own message.
                let msg = if e.code == 0 {
                    e.message.clone()
                } else {
                    format!("{} ({}): {}", reason_text(&e.reason), e.code, e.message)
                };
                let mut r = failed(msg);
                if e.code != 0 {
                    r.insert("status".into(), Value::from(e.code));
                    r.insert("reason".into(), Value::String(e.reason.clone()));
                }
                return r;
            }
        };
        let Some(w) = &wait else { break answer };
        let done = answer.api_found
            && !answer.resources.is_empty()
            && w.condition
                .as_ref()
                .is_none_or(|c| answer.resources.iter().all(|o| has_condition(o, c)));
        if done || started.elapsed() >= w.timeout {
            break answer;
        }
        tokio::time::sleep(w.sleep.min(w.timeout.saturating_sub(started.elapsed()))).await;
    };
    if let Some(w) = &wait {
        if let Some(c) = &w.condition {
            if !answer.resources.is_empty() && !answer.resources.iter().all(|o| has_condition(o, c))
            {
                return failed(format!(
                    "Failed to gather information about {}(s) even after waiting for {} seconds",
                    query.kind,
                    started.elapsed().as_secs()
                ));
            }
        }
    }
    warnings.append(&mut answer.warnings);
    let hidden = string_list(args.get("hidden_fields"));
    let resources: Vec<Value> = answer
        .resources
        .into_iter()
        .map(|mut o| {
            add_type_fields(&mut o, &query);
            for path in &hidden {
                remove_path(&mut o, path);
            }
            o
        })
        .collect();
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(false));
    r.insert("api_found".into(), Value::Bool(answer.api_found));
    r.insert("resources".into(), Value::Array(resources));
    if !answer.api_found {
        r.insert(
            "msg".into(),
            Value::String(api_not_found_message(&query.api_version, &query.kind)),
        );
    }
    if !warnings.is_empty() {
        r.insert(
            "warnings".into(),
            Value::Array(warnings.into_iter().map(Value::String).collect()),
        );
    }
    r
}

/// The items of a List answer lack `apiVersion` and `kind`; the Kubernetes Python client that
/// kubernetes.core uses appends them (the list's apiVersion, its kind without `List`). The list
/// is served in the requested group/version, and a kind written as a Kind name (`Pod`, not the
/// plural `pods`) is the items' kind.
// Answers from the API server already have both (`kube::flatten_list` fills them from the List);
// this covers the other sources, such as dry-run files.
fn add_type_fields(object: &mut Value, query: &InfoQuery) {
    let Value::Object(fields) = object else {
        return;
    };
    if !fields.contains_key("apiVersion") {
        fields.insert(
            "apiVersion".into(),
            Value::String(query.api_version.clone()),
        );
    }
    let written_as_kind = query.kind.starts_with(|c: char| c.is_ascii_uppercase());
    if !fields.contains_key("kind") && written_as_kind {
        fields.insert("kind".into(), Value::String(query.kind.clone()));
    }
}

fn query_from_args(args: &Map) -> InfoQuery {
    let text = |k: &str| {
        args.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    InfoQuery {
        api_version: text("api_version").unwrap_or_else(|| "v1".into()),
        kind: text("kind").unwrap_or_default(),
        name: text("name"),
        namespace: text("namespace"),
        label_selectors: string_list(args.get("label_selectors")),
        field_selectors: string_list(args.get("field_selectors")),
    }
}

fn ignored_param_warnings(args: &Map) -> Vec<String> {
    IGNORED_AUTH
        .iter()
        .filter(|k| args.get(**k).is_some_and(|v| !v.is_null()))
        .map(|k| format!("k8s_info: '{k}' is not supported and is ignored"))
        .collect()
}

fn wait_spec(args: &Map) -> Option<WaitSpec> {
    let on = args.get("wait").and_then(Value::as_bool).unwrap_or(false);
    if !on {
        return None;
    }
    let secs = |k: &str, d: u64| {
        args.get(k)
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(d)
    };
    let condition = args
        .get("wait_condition")
        .and_then(Value::as_object)
        .and_then(|c| {
            let type_ = c.get("type")?.as_str()?.to_string();
            let status = match c.get("status") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(true)) => "True".into(),
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
    Some(WaitSpec {
        timeout: Duration::from_secs(secs("wait_timeout", 120)),
        sleep: Duration::from_secs(secs("wait_sleep", 5).max(1)),
        condition,
    })
}

fn has_condition(object: &Value, c: &Condition) -> bool {
    let Some(conditions) = object
        .get("status")
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
    else {
        return false;
    };
    conditions.iter().any(|x| {
        x.get("type").and_then(Value::as_str) == Some(c.type_.as_str())
            && x.get("status").and_then(Value::as_str) == Some(c.status.as_str())
            && c.reason
                .as_deref()
                .is_none_or(|r| x.get("reason").and_then(Value::as_str) == Some(r))
    })
}

/// Removes a dotted path (`metadata.managedFields`) from an object.
pub(crate) fn remove_path(object: &mut Value, path: &str) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut node = object;
    for p in parts {
        match node.get_mut(p) {
            Some(next) => node = next,
            None => return,
        }
    }
    if let Some(m) = node.as_object_mut() {
        m.remove(last);
    }
}

pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => {
            s.split(',').map(|x| x.trim().to_string()).collect()
        }
        _ => vec![],
    }
}

fn reason_text(reason: &str) -> &str {
    if reason.is_empty() {
        "Error"
    } else {
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::{EventSpec, FileCluster, InfoAnswer, KubeError};
    use crate::modules::remote::testkit::args;
    use serde_json::json;
    use std::sync::Mutex;

    /// Answers from a script and records the queries.
    struct Scripted {
        answers: Mutex<Vec<Result<InfoAnswer, KubeError>>>,
        queries: Mutex<Vec<InfoQuery>>,
    }

    impl Scripted {
        fn new(answers: Vec<Result<InfoAnswer, KubeError>>) -> Scripted {
            Scripted {
                answers: Mutex::new(answers),
                queries: Mutex::new(vec![]),
            }
        }
    }

    #[async_trait]
    impl Cluster for Scripted {
        async fn info(&self, query: &InfoQuery) -> Result<InfoAnswer, KubeError> {
            self.queries.lock().unwrap().push(query.clone());
            let mut a = self.answers.lock().unwrap();
            if a.len() > 1 {
                a.remove(0)
            } else {
                a[0].clone()
            }
        }
        async fn post_event(&self, _: &EventSpec) -> Result<(), KubeError> {
            Ok(())
        }
    }

    fn found(resources: Vec<Value>) -> Result<InfoAnswer, KubeError> {
        Ok(InfoAnswer {
            resources,
            api_found: true,
            warnings: vec![],
        })
    }

    #[tokio::test]
    async fn query_is_built_from_the_arguments() {
        let c = Scripted::new(vec![found(vec![json!({"kind": "Secret"})])]);
        let r = k8s_info(
            &args(json!({
                "kind": "Secret", "name": "k", "namespace": "ns",
                "label_selectors": ["a=b", "c"], "field_selectors": ["x=y"],
            })),
            &c,
        )
        .await;
        assert_eq!(
            r["resources"],
            json!([{"kind": "Secret", "apiVersion": "v1"}])
        );
        assert_eq!(r["api_found"], json!(true));
        assert_eq!(r["changed"], json!(false));
        let q = c.queries.lock().unwrap()[0].clone();
        assert_eq!(q.api_version, "v1");
        assert_eq!(q.name.as_deref(), Some("k"));
        assert_eq!(q.label_selectors, vec!["a=b", "c"]);
        assert_eq!(q.field_selectors, vec!["x=y"]);
    }

    #[tokio::test]
    async fn list_items_get_api_version_and_kind_like_the_python_client() {
        let item = json!({"metadata": {"name": "p"}});
        let c = Scripted::new(vec![found(vec![item.clone()]), found(vec![item])]);
        let r = k8s_info(
            &args(json!({"kind": "Deployment", "api_version": "apps/v1"})),
            &c,
        )
        .await;
        assert_eq!(
            r["resources"],
            json!([{"metadata": {"name": "p"}, "apiVersion": "apps/v1", "kind": "Deployment"}])
        );
        let r = k8s_info(&args(json!({"kind": "pods"})), &c).await;
        assert_eq!(r["resources"][0].get("kind"), None);
    }

    #[tokio::test]
    async fn unknown_kinds_are_api_found_false_with_kubernetes_core_message() {
        let c = Scripted::new(vec![Ok(InfoAnswer::default())]);
        let r = k8s_info(&args(json!({"kind": "Nope", "api_version": "x.io/v1"})), &c).await;
        assert_eq!(r["api_found"], json!(false));
        assert_eq!(r["resources"], json!([]));
        assert_eq!(
            r["msg"],
            json!("Failed to find API for resource with apiVersion \"x.io/v1\" and kind \"Nope\"")
        );
        assert!(!r.contains_key("failed"));
    }

    #[tokio::test]
    async fn forbidden_fails_with_the_servers_message() {
        let message = "secrets \"k\" is forbidden: User \"system:serviceaccount:ns:default\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ns\"";
        let c = Scripted::new(vec![Err(KubeError {
            code: 403,
            reason: "Forbidden".into(),
            message: message.into(),
        })]);
        let r = k8s_info(
            &args(json!({"kind": "Secret", "name": "k", "namespace": "ns"})),
            &c,
        )
        .await;
        assert_eq!(r["failed"], json!(true));
        assert_eq!(r["msg"], json!(format!("Forbidden (403): {message}")));
        assert_eq!(r["status"], json!(403));
    }

    #[tokio::test]
    async fn client_side_errors_are_their_own_message() {
        let c = Scripted::new(vec![Err(KubeError {
            code: 0,
            reason: "Configuration".into(),
            message: "no Kubernetes credentials".into(),
        })]);
        let r = k8s_info(&args(json!({"kind": "Secret"})), &c).await;
        assert_eq!(r["msg"], json!("no Kubernetes credentials"));
        assert!(!r.contains_key("status"));
    }

    #[tokio::test]
    async fn hidden_fields_are_removed() {
        let c = Scripted::new(vec![found(vec![
            json!({"metadata": {"name": "a", "managedFields": [1]}, "data": {}}),
        ])]);
        let r = k8s_info(
            &args(json!({"kind": "Secret", "hidden_fields": ["metadata.managedFields"]})),
            &c,
        )
        .await;
        assert_eq!(
            r["resources"],
            json!([{"metadata": {"name": "a"}, "data": {}, "apiVersion": "v1", "kind": "Secret"}])
        );
    }

    #[tokio::test]
    async fn wait_polls_until_the_condition_holds() {
        let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        let ready = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let c = Scripted::new(vec![
            found(vec![]),
            found(vec![not_ready]),
            found(vec![ready.clone()]),
        ]);
        let r = k8s_info(
            &args(json!({
                "kind": "Pod", "wait": true, "wait_sleep": 1, "wait_timeout": 10,
                "wait_condition": {"type": "Ready"},
            })),
            &c,
        )
        .await;
        assert_eq!(r["resources"][0]["status"], ready["status"]);
        assert_eq!(c.queries.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn unsupported_auth_parameters_are_ignored_with_a_warning() {
        let c = Scripted::new(vec![found(vec![])]);
        let r = k8s_info(
            &args(json!({"kind": "Secret", "username": "u", "impersonate_user": "x"})),
            &c,
        )
        .await;
        let w = r["warnings"].as_array().unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(
            w[0],
            json!("k8s_info: 'username' is not supported and is ignored")
        );
    }

    #[tokio::test]
    async fn a_missing_task_kubeconfig_fails_the_task() {
        let mut warnings = vec![];
        let err = task_cluster(
            &args(json!({"kubeconfig": "/does/not/exist"})),
            &mut warnings,
        )
        .await
        .unwrap_err();
        assert!(err.contains("/does/not/exist"), "{err}");
        let none = task_cluster(&args(json!({"kind": "Secret"})), &mut warnings).await;
        assert!(none.unwrap().is_none());
    }

    #[tokio::test]
    async fn dry_run_placeholders_warn() {
        let c = FileCluster::new();
        let r = k8s_info(
            &args(json!({"kind": "Secret", "name": "s", "namespace": "n"})),
            &c,
        )
        .await;
        assert_eq!(r["resources"].as_array().unwrap().len(), 1);
        assert!(r["warnings"][0].as_str().unwrap().contains("placeholder"));
    }

    #[test]
    fn spec_defaults_and_aliases() {
        let spec = K8sInfo.spec();
        let a = spec
            .normalize(
                K8sInfo.fqcn(),
                args(json!({"kind": "Secret", "api": "v1", "name": "k"})),
            )
            .unwrap();
        assert_eq!(a["api_version"], json!("v1"));
        assert_eq!(a["label_selectors"], json!([]));
        assert_eq!(a["wait"], json!(false));
        assert_eq!(a["wait_timeout"], json!(120));
        let err = spec
            .check_names(K8sInfo.fqcn(), &args(json!({"kind": "Secret", "nme": "k"})))
            .unwrap_err();
        assert!(
            err.starts_with("Unsupported parameters for (kubernetes.core.k8s_info) module: nme."),
            "{err}"
        );
        let err = spec
            .check_names(K8sInfo.fqcn(), &args(json!({"name": "k"})))
            .unwrap_err();
        assert!(err.contains("kind"), "{err}");
    }
}
