//! The Kubernetes API as hook-runner uses it: read objects (`k8s_info`) and post Events.
//!
//! [`Cluster`] hides where objects come from: the real API server (in-cluster service account
//! first, then kubeconfig when asked, like kubernetes.core), or, for `dry-run`, local files
//! given with `--secret NAMESPACE/NAME=FILE` and clearly marked placeholders.
//!
//! [`ApiCluster`] (the real server):
//! - Credentials: [`ApiCluster::connect`] uses the pod's service account when
//!   `KUBERNETES_SERVICE_HOST`/`_PORT` are set and the token is mounted
//!   (`/var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}`); a kubeconfig
//!   only when one is asked for (an explicit path, or `K8S_AUTH_KUBECONFIG`). kube's own
//!   `Config::infer` tries kubeconfig first, which is the opposite of kubernetes.core, so it is
//!   not used. The token file is re-read by kube when the kubelet rotates it.
//! - `info`: the kind is resolved by discovery pinned to the group/version of `api_version`
//!   (matched on kind, plural, singular as kubernetes.core does); a get by name that finds
//!   nothing is `resources: []`; an unknown group/version/kind is `api_found: false`; any other
//!   failure (401, 403, ...) is a [`KubeError`] carrying the server's `Status` message, which
//!   names the service account, verb and resource. Objects are returned as the server sent them
//!   (lists flattened to their items).
//! - `post_event`: a core/v1 Event involving the pod.
//!
//! [`FileCluster`] (dry-run): objects from files. `--secret NS/NAME=FILE` takes a YAML/JSON
//! Secret manifest, or any other file (a raw private key, typically), which becomes
//! `data: {key: base64(FILE)}`. A Secret nobody provided is answered with a placeholder whose
//! `data.key` is base64 of `<placeholder: dry-run has no Secret NS/NAME>`, annotated
//! `hook-runner.io/dry-run-placeholder: "true"`, plus a warning, so a dry-run goes on. Other
//! kinds that were not provided are "not found" with a warning.

use crate::Value;
use async_trait::async_trait;
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What `k8s_info` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoQuery {
    /// `v1`, `apps/v1`, `forklift.konveyor.io/v1beta1`.
    pub api_version: String,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selectors: Vec<String>,
    pub field_selectors: Vec<String>,
}

/// What the API answered: the objects found (empty when not found) and whether the kind exists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InfoAnswer {
    pub resources: Vec<Value>,
    pub api_found: bool,
    /// Things the user should know (dry-run placeholders); shown as the task's warnings.
    pub warnings: Vec<String>,
}

/// A failed API call, with the server's `Status` message (`secrets "x" is forbidden: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KubeError {
    /// HTTP status (401, 403, ...), 0 when the server was not reached.
    pub code: u16,
    pub reason: String,
    pub message: String,
}

/// A Kubernetes Event to record on the pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSpec {
    pub namespace: String,
    pub pod_name: String,
    /// `HookSucceeded` / `HookFailed`.
    pub reason: String,
    /// `Normal` / `Warning`.
    pub event_type: String,
    pub message: String,
}

/// A source of Kubernetes objects.
#[async_trait]
pub trait Cluster: Send + Sync {
    async fn info(&self, query: &InfoQuery) -> Result<InfoAnswer, KubeError>;
    async fn post_event(&self, event: &EventSpec) -> Result<(), KubeError>;
    /// Whether a task may bring its own credentials (`k8s_info`'s `kubeconfig`, `host` +
    /// `api_key`) and so reach a real server; false for dry-run sources.
    fn allows_task_credentials(&self) -> bool {
        true
    }
}

/// The message kubernetes.core gives for an unknown apiVersion/kind.
pub fn api_not_found_message(api_version: &str, kind: &str) -> String {
    format!("Failed to find API for resource with apiVersion \"{api_version}\" and kind \"{kind}\"")
}

// ---------------------------------------------------------------------------------------------
// The real API server

/// Where the service account's files are mounted in a pod.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The Kubernetes API server, through the `kube` client.
#[derive(Clone)]
pub struct ApiCluster {
    client: kube::Client,
    /// The namespace of the credentials (service account namespace or kubeconfig context).
    default_namespace: String,
}

impl std::fmt::Debug for ApiCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCluster")
            .field("default_namespace", &self.default_namespace)
            .finish_non_exhaustive()
    }
}

impl ApiCluster {
    /// kubernetes.core's order: an explicit kubeconfig (argument, else `K8S_AUTH_KUBECONFIG`)
    /// when given, else the in-cluster service account.
    pub async fn connect(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
    ) -> Result<ApiCluster, KubeError> {
        let env_kubeconfig = std::env::var_os("K8S_AUTH_KUBECONFIG").map(PathBuf::from);
        let env_context = std::env::var("K8S_AUTH_CONTEXT").ok();
        let context = context.map(str::to_string).or(env_context);
        match kubeconfig.map(Path::to_path_buf).or(env_kubeconfig) {
            Some(path) => ApiCluster::from_kubeconfig(&path, context.as_deref()).await,
            None => ApiCluster::in_cluster(),
        }
    }

    /// The pod's service account (`KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted files).
    pub fn in_cluster() -> Result<ApiCluster, KubeError> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").map_err(|_| {
            config_error(
                "no Kubernetes credentials: KUBERNETES_SERVICE_HOST is not set (not running in a pod?) and no kubeconfig was given (--kubeconfig or K8S_AUTH_KUBECONFIG)",
            )
        })?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let url = service_url(&host, &port)?;
        ApiCluster::from_service_account(&url, Path::new(SERVICE_ACCOUNT_DIR))
    }

    /// A service account directory (`token`, `ca.crt`, `namespace`) and a server URL. The
    /// token and CA files are re-read by the client when they rotate.
    pub fn from_service_account(url: &str, dir: &Path) -> Result<ApiCluster, KubeError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| config_error(&format!("invalid API server URL {url:?}: {e}")))?;
        let token = dir.join("token");
        let ca = dir.join("ca.crt");
        if !token.is_file() {
            return Err(config_error(&format!(
                "no service account token at {} (is automountServiceAccountToken off?)",
                token.display()
            )));
        }
        let ca_pem = std::fs::read(&ca)
            .map_err(|e| config_error(&format!("cannot read {}: {e}", ca.display())))?;
        let roots = pem_certificates(&ca_pem);
        if roots.is_empty() {
            return Err(config_error(&format!("no certificate in {}", ca.display())));
        }
        let namespace = std::fs::read_to_string(dir.join("namespace"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "default".into());
        let mut config = kube::Config::new(uri);
        config.default_namespace = namespace.clone();
        config.root_cert = Some(roots);
        config.root_cert_file = Some(ca);
        config.auth_info.token_file = Some(token.display().to_string());
        ApiCluster::from_config(config)
    }

    /// A kubeconfig file, its current context or `context`.
    pub async fn from_kubeconfig(
        path: &Path,
        context: Option<&str>,
    ) -> Result<ApiCluster, KubeError> {
        let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
            config_error(&format!("cannot load kubeconfig {}: {e}", path.display()))
        })?;
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| config_error(&format!("invalid kubeconfig {}: {e}", path.display())))?;
        ApiCluster::from_config(config)
    }

    /// An API server URL and a bearer token (`k8s_info`'s `host` + `api_key`), verified with
    /// `ca_pem` when given (else the system roots), or not at all when `validate_certs` is false.
    pub fn from_host_token(
        host: &str,
        token: &str,
        ca_pem: Option<&[u8]>,
        validate_certs: bool,
    ) -> Result<ApiCluster, KubeError> {
        let uri: http::Uri = host
            .parse()
            .map_err(|e| config_error(&format!("invalid API server URL {host:?}: {e}")))?;
        let mut config = kube::Config::new(uri);
        if let Some(pem) = ca_pem {
            let roots = pem_certificates(pem);
            if roots.is_empty() {
                return Err(config_error("no certificate in ca_cert"));
            }
            config.root_cert = Some(roots);
        }
        config.accept_invalid_certs = !validate_certs;
        config.auth_info.token = Some(token.to_string().into());
        ApiCluster::from_config(config)
    }

    pub fn from_config(config: kube::Config) -> Result<ApiCluster, KubeError> {
        let default_namespace = config.default_namespace.clone();
        let client = kube::Client::try_from(config)
            .map_err(|e| config_error(&format!("cannot build the Kubernetes client: {e}")))?;
        Ok(ApiCluster {
            client,
            default_namespace,
        })
    }

    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Finds the resource type for `api_version`/`kind`, or `None` when the API has no such
    /// group, version or kind.
    async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<
        Option<(
            kube::discovery::ApiResource,
            kube::discovery::ApiCapabilities,
        )>,
        KubeError,
    > {
        let gv: kube::core::GroupVersion = match api_version.parse() {
            Ok(gv) => gv,
            Err(_) => return Ok(None),
        };
        let group = match kube::discovery::pinned_group(&self.client, &gv).await {
            Ok(g) => g,
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
            Err(kube::Error::Discovery(_)) => return Ok(None),
            Err(e) => return Err(kube_error(e)),
        };
        let resources: Vec<_> = group
            .versioned_resources(&gv.version)
            .into_iter()
            .filter(|(ar, _)| !ar.plural.contains('/'))
            .collect();
        // kubernetes.core matches the kind, then the plural and singular names.
        let found = resources
            .iter()
            .find(|(ar, _)| ar.kind == kind)
            .or_else(|| resources.iter().find(|(ar, _)| ar.plural == kind))
            .or_else(|| {
                resources
                    .iter()
                    .find(|(ar, _)| ar.kind.to_lowercase() == kind)
            })
            .cloned();
        Ok(found)
    }

    async fn get_json(&self, request: http::Request<Vec<u8>>) -> Result<Value, kube::Error> {
        self.client.request::<Value>(request).await
    }
}

#[async_trait]
impl Cluster for ApiCluster {
    async fn info(&self, query: &InfoQuery) -> Result<InfoAnswer, KubeError> {
        use kube::core::{DynamicObject, Resource};
        let Some((ar, caps)) = self.resolve(&query.api_version, &query.kind).await? else {
            return Ok(InfoAnswer {
                api_found: false,
                ..Default::default()
            });
        };
        let namespace = match caps.scope {
            kube::discovery::Scope::Namespaced => query.namespace.as_deref(),
            kube::discovery::Scope::Cluster => None,
        };
        let url = DynamicObject::url_path(&ar, namespace);
        let request = kube::core::Request::new(url);
        let http_request = match &query.name {
            Some(name) => request.get(name, &Default::default()),
            None => {
                let lp = kube::api::ListParams {
                    label_selector: join_selectors(&query.label_selectors),
                    field_selector: join_selectors(&query.field_selectors),
                    ..Default::default()
                };
                request.list(&lp)
            }
        }
        .map_err(|e| KubeError {
            code: 0,
            reason: "BadRequest".into(),
            message: e.to_string(),
        })?;
        let answer = match self.get_json(http_request).await {
            Ok(v) => v,
            Err(kube::Error::Api(status)) if status.code == 404 && query.name.is_some() => {
                return Ok(InfoAnswer {
                    api_found: true,
                    ..Default::default()
                });
            }
            Err(e) => return Err(kube_error(e)),
        };
        Ok(InfoAnswer {
            resources: flatten_list(answer),
            api_found: true,
            warnings: vec![],
        })
    }

    async fn post_event(&self, event: &EventSpec) -> Result<(), KubeError> {
        let url = format!("/api/v1/namespaces/{}/events", event.namespace);
        let body = event_object(event);
        let bytes = serde_json::to_vec(&body).map_err(|e| KubeError {
            code: 0,
            reason: "Internal".into(),
            message: e.to_string(),
        })?;
        let request = kube::core::Request::new(url)
            .create(&Default::default(), bytes)
            .map_err(|e| KubeError {
                code: 0,
                reason: "BadRequest".into(),
                message: e.to_string(),
            })?;
        self.get_json(request).await.map_err(kube_error)?;
        Ok(())
    }
}

/// `https://HOST:PORT`, IPv6 hosts bracketed.
fn service_url(host: &str, port: &str) -> Result<String, KubeError> {
    let port: u16 = port
        .trim()
        .parse()
        .map_err(|_| config_error(&format!("KUBERNETES_SERVICE_PORT is not a port: {port:?}")))?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Ok(format!("https://{host}:{port}"))
}

/// The DER bytes of every `CERTIFICATE` block in a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b) = body.take() {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b.as_bytes()) {
                    out.push(der);
                }
            }
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    out
}

fn join_selectors(selectors: &[String]) -> Option<String> {
    if selectors.is_empty() {
        None
    } else {
        Some(selectors.join(","))
    }
}

/// A List answer becomes its items; a single object stays itself.
fn flatten_list(answer: Value) -> Vec<Value> {
    let is_list = answer
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        || (answer.get("items").is_some_and(Value::is_array) && answer.get("metadata").is_some());
    if !is_list {
        return vec![answer];
    }
    let Value::Object(mut list) = answer else {
        return vec![];
    };
    // The API leaves `apiVersion`/`kind` out of list items; kubernetes.core puts them back from
    // the list's own, so registered results look the same for a get and a list.
    let api_version = list.get("apiVersion").cloned();
    let kind = list
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| k.strip_suffix("List"))
        .map(|k| Value::String(k.to_string()));
    match list.remove("items") {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| with_type_meta(item, api_version.as_ref(), kind.as_ref()))
            .collect(),
        _ => vec![],
    }
}

/// Fills in a list item's missing `apiVersion` and `kind`, keeping them first as the API does.
fn with_type_meta(item: Value, api_version: Option<&Value>, kind: Option<&Value>) -> Value {
    let Value::Object(fields) = item else {
        return item;
    };
    let mut filled = crate::Map::new();
    for (key, value) in [("apiVersion", api_version), ("kind", kind)] {
        if let Some(value) = fields.get(key).or(value) {
            filled.insert(key.to_string(), value.clone());
        }
    }
    filled.extend(fields);
    Value::Object(filled)
}

#[cfg(test)]
mod flatten_tests {
    use super::*;

    #[test]
    fn list_items_get_the_lists_api_version_and_kind() {
        let list = serde_json::json!({
            "apiVersion": "v1", "kind": "PodList", "metadata": {},
            "items": [{"metadata": {"name": "a"}}, {"apiVersion": "v9", "kind": "X", "metadata": {}}]
        });
        let items = flatten_list(list);
        assert_eq!(items[0]["apiVersion"], "v1");
        assert_eq!(items[0]["kind"], "Pod");
        assert_eq!(items[0]["metadata"]["name"], "a");
        assert_eq!(items[1]["apiVersion"], "v9");
        assert_eq!(items[1]["kind"], "X");
    }

    #[test]
    fn a_single_object_is_kept_whole() {
        let object = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {}});
        assert_eq!(flatten_list(object.clone()), vec![object]);
    }
}

fn event_object(event: &EventSpec) -> Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "generateName": format!("{}.", event.pod_name),
            "namespace": event.namespace,
        },
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": event.pod_name,
            "namespace": event.namespace,
        },
        "reason": event.reason,
        "message": event.message,
        "type": event.event_type,
        "source": {"component": "hook-runner"},
        "reportingComponent": "hook-runner",
        "reportingInstance": event.pod_name,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    })
}

fn config_error(message: &str) -> KubeError {
    KubeError {
        code: 0,
        reason: "Configuration".into(),
        message: message.to_string(),
    }
}

/// The server's Status (code, reason, message) when there is one, else the client's error.
fn kube_error(e: kube::Error) -> KubeError {
    match e {
        kube::Error::Api(status) => KubeError {
            code: status.code,
            reason: status.reason.clone(),
            message: if status.message.is_empty() {
                format!("the API server answered {} {}", status.code, status.reason)
            } else {
                status.message.clone()
            },
        },
        other => KubeError {
            code: 0,
            reason: "ServiceUnavailable".into(),
            message: format!("cannot reach the Kubernetes API server: {other}"),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Dry-run: objects from files

/// Objects from local files, for `dry-run` (no cluster).
#[derive(Debug, Default)]
pub struct FileCluster {
    objects: Vec<Value>,
    events: Mutex<Vec<EventSpec>>,
}

/// Annotation set on placeholder objects.
pub const PLACEHOLDER_ANNOTATION: &str = "hook-runner.io/dry-run-placeholder";

impl FileCluster {
    pub fn new() -> FileCluster {
        FileCluster::default()
    }

    /// Adds an object (a manifest with apiVersion, kind, metadata.name/namespace).
    pub fn add_object(&mut self, object: Value) {
        self.objects.push(object);
    }

    /// Adds a Secret from a `--secret NAMESPACE/NAME=FILE` argument.
    pub fn add_secret_arg(&mut self, arg: &str) -> Result<(), String> {
        let (target, file) = arg
            .split_once('=')
            .ok_or_else(|| format!("--secret {arg:?}: expected NAMESPACE/NAME=FILE"))?;
        let (namespace, name) = target
            .split_once('/')
            .filter(|(ns, n)| !ns.is_empty() && !n.is_empty())
            .ok_or_else(|| format!("--secret {arg:?}: expected NAMESPACE/NAME=FILE"))?;
        let secret = secret_from_file(namespace, name, Path::new(file))?;
        self.objects.push(secret);
        Ok(())
    }

    /// Events posted so far (dry-run keeps them in memory).
    pub fn events(&self) -> Vec<EventSpec> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    fn matches(object: &Value, query: &InfoQuery) -> bool {
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let kind = s(object.get("kind"));
        let api_version = s(object.get("apiVersion")).unwrap_or_else(|| "v1".into());
        let meta = object.get("metadata");
        let name = s(meta.and_then(|m| m.get("name")));
        let namespace = s(meta.and_then(|m| m.get("namespace")));
        kind.as_deref() == Some(query.kind.as_str())
            && api_version == query.api_version
            && (query.name.is_none() || query.name == name)
            && (query.namespace.is_none() || query.namespace == namespace)
            && query
                .label_selectors
                .iter()
                .all(|sel| label_matches(meta.and_then(|m| m.get("labels")), sel))
    }
}

/// Equality (`a=b`, `a==b`), inequality (`a!=b`) and existence (`a`, `!a`) selectors, each
/// possibly a comma-joined list.
fn label_matches(labels: Option<&Value>, selector: &str) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    selector
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                get(k.trim()) != Some(v.trim())
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                get(k.trim()) == Some(v.trim())
            } else if let Some(k) = term.strip_prefix('!') {
                get(k.trim()).is_none()
            } else {
                get(term).is_some()
            }
        })
}

/// A Secret manifest from `file`, or a Secret with `data.key` = the file's bytes.
fn secret_from_file(namespace: &str, name: &str, file: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(file).map_err(|e| {
        format!(
            "--secret {namespace}/{name}: cannot read {}: {e}",
            file.display()
        )
    })?;
    if let Some(mut manifest) = parse_manifest(&bytes) {
        if manifest.get("kind").and_then(Value::as_str) == Some("Secret") {
            let meta = manifest
                .as_object_mut()
                .map(|m| m.entry("metadata").or_insert_with(|| serde_json::json!({})));
            if let Some(Value::Object(meta)) = meta {
                meta.insert("name".into(), Value::String(name.into()));
                meta.insert("namespace".into(), Value::String(namespace.into()));
            }
            if manifest.get("apiVersion").is_none() {
                if let Some(m) = manifest.as_object_mut() {
                    m.insert("apiVersion".into(), Value::String("v1".into()));
                }
            }
            return Ok(manifest);
        }
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Ok(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"key": encoded},
    }))
}

/// A JSON or YAML mapping, or `None` for anything else (a raw key file).
fn parse_manifest(bytes: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(bytes).ok()?;
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
        return Some(v);
    }
    if text.trim_start().starts_with("-----BEGIN") {
        return None;
    }
    let node = crate::yaml::load_str(text, "secret").ok()?;
    match node.to_value() {
        v @ Value::Object(_) => Some(v),
        _ => None,
    }
}

fn placeholder_secret(namespace: &str, name: &str) -> Value {
    let text = format!("<placeholder: dry-run has no Secret {namespace}/{name}>");
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {PLACEHOLDER_ANNOTATION: "true"},
        },
        "type": "Opaque",
        "data": {"key": base64::engine::general_purpose::STANDARD.encode(text)},
    })
}

#[async_trait]
impl Cluster for FileCluster {
    async fn info(&self, query: &InfoQuery) -> Result<InfoAnswer, KubeError> {
        let resources: Vec<Value> = self
            .objects
            .iter()
            .filter(|o| FileCluster::matches(o, query))
            .cloned()
            .collect();
        if !resources.is_empty() {
            return Ok(InfoAnswer {
                resources,
                api_found: true,
                warnings: vec![],
            });
        }
        let namespace = query.namespace.clone().unwrap_or_else(|| "default".into());
        let is_secret = query.kind == "Secret" && query.api_version == "v1";
        match (&query.name, is_secret) {
            (Some(name), true) => Ok(InfoAnswer {
                resources: vec![placeholder_secret(&namespace, name)],
                api_found: true,
                warnings: vec![format!(
                    "dry-run: no Secret {namespace}/{name} was given (--secret {namespace}/{name}=FILE); using a placeholder"
                )],
            }),
            _ => Ok(InfoAnswer {
                resources: vec![],
                api_found: true,
                warnings: vec![format!(
                    "dry-run: no {} {} was given; treated as not found",
                    query.kind,
                    match &query.name {
                        Some(n) => format!("{namespace}/{n}"),
                        None => format!("in {namespace}"),
                    }
                )],
            }),
        }
    }

    async fn post_event(&self, event: &EventSpec) -> Result<(), KubeError> {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
        Ok(())
    }

    /// A dry-run never contacts a cluster, whatever a task says.
    fn allows_task_credentials(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret_query(ns: &str, name: &str) -> InfoQuery {
        InfoQuery {
            api_version: "v1".into(),
            kind: "Secret".into(),
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..Default::default()
        }
    }

    fn tmpfile(name: &str, content: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hr-kube-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    #[tokio::test]
    async fn a_raw_key_file_becomes_data_key() {
        let key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n";
        let p = tmpfile("id_rsa", key);
        let mut c = FileCluster::new();
        c.add_secret_arg(&format!("ns1/vm-key={}", p.display()))
            .unwrap();
        let a = c.info(&secret_query("ns1", "vm-key")).await.unwrap();
        assert!(a.api_found && a.warnings.is_empty());
        let data = a.resources[0]["data"]["key"].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
            key
        );
    }

    #[tokio::test]
    async fn a_json_manifest_is_used_as_is_with_the_given_name() {
        let p = tmpfile(
            "s.json",
            br#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"other"},"data":{"ssh-privatekey":"eA=="}}"#,
        );
        let mut c = FileCluster::new();
        c.add_secret_arg(&format!("ns1/s={}", p.display())).unwrap();
        let a = c.info(&secret_query("ns1", "s")).await.unwrap();
        assert_eq!(a.resources[0]["data"]["ssh-privatekey"], json!("eA=="));
        assert_eq!(a.resources[0]["metadata"]["name"], json!("s"));
    }

    #[tokio::test]
    async fn an_unknown_secret_is_a_marked_placeholder() {
        let c = FileCluster::new();
        let a = c.info(&secret_query("ns", "missing")).await.unwrap();
        assert_eq!(a.resources.len(), 1);
        let r = &a.resources[0];
        assert_eq!(
            r["metadata"]["annotations"][PLACEHOLDER_ANNOTATION],
            json!("true")
        );
        let text = base64::engine::general_purpose::STANDARD
            .decode(r["data"]["key"].as_str().unwrap())
            .unwrap();
        assert_eq!(text, b"<placeholder: dry-run has no Secret ns/missing>");
        assert_eq!(a.warnings.len(), 1);
    }

    #[tokio::test]
    async fn other_kinds_not_given_are_not_found() {
        let c = FileCluster::new();
        let q = InfoQuery {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: Some("x".into()),
            namespace: Some("n".into()),
            ..Default::default()
        };
        let a = c.info(&q).await.unwrap();
        assert!(a.resources.is_empty() && a.api_found);
    }

    #[tokio::test]
    async fn list_queries_filter_by_labels() {
        let mut c = FileCluster::new();
        c.add_object(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"n","labels":{"app":"x"}}}));
        c.add_object(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b","namespace":"n","labels":{"app":"y"}}}));
        let q = InfoQuery {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("n".into()),
            label_selectors: vec!["app=x".into()],
            ..Default::default()
        };
        let a = c.info(&q).await.unwrap();
        assert_eq!(a.resources.len(), 1);
        assert_eq!(a.resources[0]["metadata"]["name"], json!("a"));
    }

    #[test]
    fn bad_secret_args_are_refused() {
        let mut c = FileCluster::new();
        assert!(c.add_secret_arg("nonamespace=file").is_err());
        assert!(c.add_secret_arg("ns/name").is_err());
        assert!(c.add_secret_arg("ns/name=/does/not/exist").is_err());
    }

    #[test]
    fn lists_are_flattened() {
        let v =
            json!({"kind":"SecretList","apiVersion":"v1","metadata":{},"items":[{"a":1},{"b":2}]});
        assert_eq!(
            flatten_list(v),
            vec![
                json!({"apiVersion":"v1","kind":"Secret","a":1}),
                json!({"apiVersion":"v1","kind":"Secret","b":2})
            ]
        );
        let v = json!({"kind":"Secret","metadata":{"name":"x"}});
        assert_eq!(flatten_list(v.clone()), vec![v]);
    }

    #[test]
    fn service_urls() {
        assert_eq!(
            service_url("10.0.0.1", "443").unwrap(),
            "https://10.0.0.1:443"
        );
        assert_eq!(
            service_url("fd00::1", "6443").unwrap(),
            "https://[fd00::1]:6443"
        );
        assert!(service_url("h", "x").is_err());
    }

    #[test]
    fn pem_blocks_are_decoded() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nAwQ=\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem), vec![vec![0, 1, 2], vec![3, 4]]);
    }

    #[test]
    fn event_objects_involve_the_pod() {
        let e = event_object(&EventSpec {
            namespace: "ns".into(),
            pod_name: "hook-abc".into(),
            reason: "HookFailed".into(),
            event_type: "Warning".into(),
            message: "task x failed".into(),
        });
        assert_eq!(e["involvedObject"]["kind"], json!("Pod"));
        assert_eq!(e["involvedObject"]["name"], json!("hook-abc"));
        assert_eq!(e["metadata"]["generateName"], json!("hook-abc."));
    }
}
