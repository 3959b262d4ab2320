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
//!   (lists flattened to their items). Every Secret read is registered with the run's redactor
//!   right away ([`crate::report::redact::global`]), whatever the task's `no_log`.
//! - `post_event`: a core/v1 Event involving the pod.
//! - Writes (`kubernetes.core.k8s`): [`Cluster::resource_type`] (the same discovery as `info`),
//!   then [`Cluster::get_object`], `create_object`, `replace_object`, `patch_object` (strategic
//!   merge, merge, JSON patch or server-side apply, see [`PatchKind`]) and `delete_object`, each
//!   optionally a server-side dry run (`dryRun=All`, check mode). Every object they return is
//!   registered with the redactor like a read Secret.
//! - Faults ([`RetryPolicy`]): every request, discovery included, is retried on `429` and (for
//!   reads) `5xx` with a bounded backoff that honours `Retry-After` up to a cap, then reported
//!   with the status, reason, server and request; an unreachable server is retried likewise and
//!   then named; a certificate the configured CA does not sign is a clear error at once (never a
//!   fallback to no verification); each attempt has a timeout (`HOOK_RUNNER_API_TIMEOUT`).
//!   kube's own retry layer is off: its delays are not bounded.
//!
//! [`FileCluster`] (dry-run): objects from files. `--secret NS/NAME=FILE` takes a YAML/JSON
//! Secret manifest, or any other file (a raw private key, typically), which becomes
//! `data: {key: base64(FILE)}`. A Secret nobody provided is answered with a placeholder whose
//! `data.key` is base64 of `<placeholder: dry-run has no Secret NS/NAME>`, annotated
//! `hook-runner.io/dry-run-placeholder: "true"`, plus a warning, so a dry-run goes on. Other
//! kinds that were not provided are "not found" with a warning. Writes never leave the process:
//! they answer what the object would be (a create gives the definition, a patch the given object
//! with the patch merged in) and store nothing; `offline()` is true so callers can say so.

use crate::Value;
use async_trait::async_trait;
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

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
    /// True when nothing is sent to a cluster (dry-run files): writes are only shown.
    fn offline(&self) -> bool {
        false
    }
    /// The resource type of `kind` in `api_version`, `None` when the API has no such kind.
    async fn resource_type(
        &self,
        _api_version: &str,
        _kind: &str,
    ) -> Result<Option<ResourceType>, KubeError> {
        Err(cannot_write())
    }
    /// The object, `None` when it does not exist.
    async fn get_object(&self, _target: &ObjectRef) -> Result<Option<Value>, KubeError> {
        Err(cannot_write())
    }
    /// Creates `object`; `dry_run` asks the server to validate and answer without storing.
    async fn create_object(
        &self,
        _target: &ObjectRef,
        _object: &Value,
        _dry_run: bool,
    ) -> Result<Value, KubeError> {
        Err(cannot_write())
    }
    /// Replaces the object (PUT).
    async fn replace_object(
        &self,
        _target: &ObjectRef,
        _object: &Value,
        _dry_run: bool,
    ) -> Result<Value, KubeError> {
        Err(cannot_write())
    }
    /// Patches the object with `patch` of `kind`.
    async fn patch_object(
        &self,
        _target: &ObjectRef,
        _patch: &Value,
        _kind: &PatchKind,
        _dry_run: bool,
    ) -> Result<Value, KubeError> {
        Err(cannot_write())
    }
    /// Deletes the object with `options` (a DeleteOptions body: `propagationPolicy`...).
    async fn delete_object(
        &self,
        _target: &ObjectRef,
        _options: Option<&Value>,
        _dry_run: bool,
    ) -> Result<Value, KubeError> {
        Err(cannot_write())
    }
}

/// A resource type found by discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// `v1` or `group/version`.
    pub api_version: String,
    pub kind: String,
    /// The plural resource name (`configmaps`).
    pub plural: String,
    pub namespaced: bool,
}

impl ResourceType {
    fn api_resource(&self) -> kube::discovery::ApiResource {
        let (group, version) = split_api_version(&self.api_version).unwrap_or(("", "v1"));
        kube::discovery::ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }
}

/// One object of a resource type: its namespace (ignored for cluster-scoped types) and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub resource: ResourceType,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    fn namespace(&self) -> Option<&str> {
        if self.resource.namespaced {
            self.namespace.as_deref()
        } else {
            None
        }
    }
}

/// How a patch is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/strategic-merge-patch+json` (built-in types only).
    Strategic,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/json-patch+json` (RFC 6902): the patch is a list of operations.
    Json,
    /// Server-side apply (`application/apply-patch+yaml`) as `field_manager`; `force` takes
    /// over fields other managers own.
    Apply { field_manager: String, force: bool },
}

fn cannot_write() -> KubeError {
    config_error("this Kubernetes source cannot read or write objects by name")
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
    /// `https://HOST:PORT`, for messages.
    server: String,
    policy: RetryPolicy,
}

impl std::fmt::Debug for ApiCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCluster")
            .field("default_namespace", &self.default_namespace)
            .field("server", &self.server)
            .field("policy", &self.policy)
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

    /// A client for `config`, with hook-runner's retries and timeouts (see [`RetryPolicy`])
    /// instead of kube's own retry layer, whose delays are unbounded.
    pub fn from_config(mut config: kube::Config) -> Result<ApiCluster, KubeError> {
        let policy = RetryPolicy::from_env()?;
        config.default_retry = false;
        config.connect_timeout = Some(policy.request_timeout);
        config.read_timeout = Some(policy.request_timeout);
        config.write_timeout = Some(policy.request_timeout);
        let default_namespace = config.default_namespace.clone();
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let client = kube::Client::try_from(config)
            .map_err(|e| config_error(&format!("cannot build the Kubernetes client: {e}")))?;
        Ok(ApiCluster {
            client,
            default_namespace,
            server,
            policy,
        })
    }

    /// The same client with another retry policy (tests use short delays).
    pub fn with_policy(mut self, policy: RetryPolicy) -> ApiCluster {
        self.policy = policy;
        self
    }

    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Finds the resource type for `api_version`/`kind` from the group/version's resource list
    /// (`/api/v1`, `/apis/GROUP/VERSION`), or `None` when the API has no such group, version
    /// or kind. Discovery goes through [`ApiCluster::call`] like every request, so it is
    /// retried and timed out the same way.
    async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<(kube::discovery::ApiResource, bool)>, KubeError> {
        let Some((group, version)) = split_api_version(api_version) else {
            return Ok(None);
        };
        let path = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let request = http::Request::get(&path)
            .body(Vec::new())
            .map_err(|e| config_error(&format!("cannot build a request for {path}: {e}")))?;
        let list = match self.call(request).await {
            Ok(list) => list,
            Err(e) if e.code == 404 => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(find_resource(&list, group, version, kind))
    }
}

#[async_trait]
impl Cluster for ApiCluster {
    async fn info(&self, query: &InfoQuery) -> Result<InfoAnswer, KubeError> {
        use kube::core::{DynamicObject, Resource};
        let Some((ar, namespaced)) = self.resolve(&query.api_version, &query.kind).await? else {
            return Ok(InfoAnswer {
                api_found: false,
                ..Default::default()
            });
        };
        let namespace = if namespaced {
            query.namespace.as_deref()
        } else {
            None
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
        let answer = match self.call(http_request).await {
            Ok(v) => v,
            Err(e) if e.code == 404 && query.name.is_some() => {
                return Ok(InfoAnswer {
                    api_found: true,
                    ..Default::default()
                });
            }
            Err(e) => return Err(e),
        };
        // Registered here, where the Secret enters the process, not when the task's result is
        // reported: a result under `no_log` is censored before any reporter sees it, and a
        // value derived from it would then be printed by a later task without `no_log`.
        // After flattening: the items of a SecretList carry no `kind` until then.
        let resources = flatten_list(answer);
        for resource in &resources {
            crate::report::redact::global().learn_secrets_in(resource);
        }
        Ok(InfoAnswer {
            resources,
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
        self.call(request).await?;
        Ok(())
    }

    async fn resource_type(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<ResourceType>, KubeError> {
        Ok(self
            .resolve(api_version, kind)
            .await?
            .map(|(ar, namespaced)| ResourceType {
                api_version: ar.api_version,
                kind: ar.kind,
                plural: ar.plural,
                namespaced,
            }))
    }

    async fn get_object(&self, target: &ObjectRef) -> Result<Option<Value>, KubeError> {
        let request = object_request(target)
            .get(&target.name, &Default::default())
            .map_err(bad_request)?;
        match self.call(request).await {
            Ok(object) => Ok(Some(learned(object))),
            Err(e) if e.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create_object(
        &self,
        target: &ObjectRef,
        object: &Value,
        dry_run: bool,
    ) -> Result<Value, KubeError> {
        let params = kube::api::PostParams {
            dry_run,
            field_manager: None,
        };
        let request = object_request(target)
            .create(&params, json_bytes(object)?)
            .map_err(bad_request)?;
        self.call(request).await.map(learned)
    }

    async fn replace_object(
        &self,
        target: &ObjectRef,
        object: &Value,
        dry_run: bool,
    ) -> Result<Value, KubeError> {
        let params = kube::api::PostParams {
            dry_run,
            field_manager: None,
        };
        let request = object_request(target)
            .replace(&target.name, &params, json_bytes(object)?)
            .map_err(bad_request)?;
        self.call(request).await.map(learned)
    }

    async fn patch_object(
        &self,
        target: &ObjectRef,
        patch: &Value,
        kind: &PatchKind,
        dry_run: bool,
    ) -> Result<Value, KubeError> {
        use kube::api::{Patch, PatchParams};
        let mut params = PatchParams {
            dry_run,
            ..Default::default()
        };
        let body = match kind {
            PatchKind::Strategic => Patch::Strategic(patch),
            // kube builds JSON patches only with its `jsonpatch` feature: the body is the same
            // JSON, sent as a merge patch whose media type is then corrected below.
            PatchKind::Merge | PatchKind::Json => Patch::Merge(patch),
            PatchKind::Apply {
                field_manager,
                force,
            } => {
                params.field_manager = Some(field_manager.clone());
                params.force = *force;
                Patch::Apply(patch)
            }
        };
        let mut request = object_request(target)
            .patch(&target.name, &params, &body)
            .map_err(bad_request)?;
        if *kind == PatchKind::Json {
            request.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json-patch+json"),
            );
        }
        self.call(request).await.map(learned)
    }

    async fn delete_object(
        &self,
        target: &ObjectRef,
        options: Option<&Value>,
        dry_run: bool,
    ) -> Result<Value, KubeError> {
        let params = kube::api::DeleteParams {
            dry_run,
            ..Default::default()
        };
        let mut request = object_request(target)
            .delete(&target.name, &params)
            .map_err(bad_request)?;
        if let Some(Value::Object(options)) = options {
            let mut body = serde_json::json!({"apiVersion": "v1", "kind": "DeleteOptions"});
            if let Some(fields) = body.as_object_mut() {
                fields.extend(options.clone());
                if dry_run {
                    fields.insert("dryRun".into(), serde_json::json!(["All"]));
                }
            }
            *request.body_mut() = json_bytes(&body)?;
        }
        self.call(request).await.map(learned)
    }
}

/// A request builder for `target`'s collection.
fn object_request(target: &ObjectRef) -> kube::core::Request {
    use kube::core::{DynamicObject, Resource};
    let ar = target.resource.api_resource();
    kube::core::Request::new(DynamicObject::url_path(&ar, target.namespace()))
}

fn bad_request(e: kube::core::request::Error) -> KubeError {
    KubeError {
        code: 0,
        reason: "BadRequest".into(),
        message: e.to_string(),
    }
}

fn json_bytes(value: &Value) -> Result<Vec<u8>, KubeError> {
    serde_json::to_vec(value).map_err(|e| KubeError {
        code: 0,
        reason: "Internal".into(),
        message: e.to_string(),
    })
}

/// An object that entered the process: its Secrets (if it is one, or holds some) are
/// registered with the run's redactor at once, as `info` does.
fn learned(object: Value) -> Value {
    crate::report::redact::global().learn_secrets_in(&object);
    object
}

// ---------------------------------------------------------------------------------------------
// Retries and timeouts

/// How [`ApiCluster`] retries and times out its requests.
///
/// - A `429`, and for reads a `500`, `502`, `503` or `504`, is retried up to `attempts` times
///   in all. A write (the Event's `POST`) is retried only on `429` and `503`, which the server
///   answers without having done anything; after a `500` it may have created the object.
/// - A connection that cannot be made (refused, reset before an answer, DNS) is retried the same
///   way: the API server may be restarting. A TLS verification failure is never retried, and
///   never falls back to an unverified connection.
/// - The delay before a retry is the server's `Retry-After` (seconds) when it sends one, up to
///   `max_retry_after`, else a backoff doubling from `first_backoff` up to `max_backoff`.
/// - No retry starts once `budget` has passed since the first attempt, so a request ends within
///   `budget` + one `request_timeout` whatever the server does.
/// - Each attempt must be answered within `request_timeout` (`HOOK_RUNNER_API_TIMEOUT` seconds,
///   30 by default); a slow server is reported, not retried (a retry would only wait again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub max_retry_after: Duration,
    pub budget: Duration,
    pub request_timeout: Duration,
}

/// The environment variable that sets [`RetryPolicy::request_timeout`] (seconds).
pub const API_TIMEOUT_ENV: &str = "HOOK_RUNNER_API_TIMEOUT";

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
            budget: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The default policy, with the request timeout from [`API_TIMEOUT_ENV`] when set.
    pub fn from_env() -> Result<RetryPolicy, KubeError> {
        let mut policy = RetryPolicy::default();
        if let Ok(text) = std::env::var(API_TIMEOUT_ENV) {
            let seconds: f64 = text
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                .ok_or_else(|| {
                    config_error(&format!(
                        "{API_TIMEOUT_ENV} must be a number of seconds between 0 and 3600, not {text:?}"
                    ))
                })?;
            policy.request_timeout = Duration::from_secs_f64(seconds);
        }
        Ok(policy)
    }

    /// The delay before attempt `attempt + 1` (`attempt` counts from 1).
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(asked) => asked.min(self.max_retry_after),
            None => {
                let doublings = attempt.saturating_sub(1).min(16);
                self.first_backoff
                    .saturating_mul(1 << doublings)
                    .min(self.max_backoff)
            }
        }
    }
}

/// Whether a status is worth another attempt for a request of `method`.
fn retryable_status(method: &http::Method, code: u16) -> bool {
    match code {
        429 | 503 => true,
        500 | 502 | 504 => method == http::Method::GET,
        _ => false,
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the API server and is ignored).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// What one attempt gave.
enum Attempt {
    Answer(Value),
    /// A non-2xx answer: the status, the server's `Status` (reason, message), `Retry-After`.
    Status {
        code: u16,
        reason: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer: the connection failed. `tls` when the server's certificate was refused.
    Transport {
        detail: String,
        tls: bool,
    },
}

impl ApiCluster {
    /// Sends `request` under the [`RetryPolicy`] and parses the answer as JSON. Errors carry the
    /// status and reason and name the server and the request (`GET /api/v1/...`), except a
    /// client error (`401`, `403`, `404`...) whose `Status` message already names what was
    /// refused, which is passed on as the server wrote it.
    async fn call(&self, request: http::Request<Vec<u8>>) -> Result<Value, KubeError> {
        let method = request.method().clone();
        let target = format!("{method} {}", request.uri().path());
        let policy = self.policy;
        let started = tokio::time::Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let exchange = self.attempt(clone_request(&request));
            let outcome = match tokio::time::timeout(policy.request_timeout, exchange).await {
                Ok(outcome) => outcome,
                Err(_) => return Err(self.timeout_error(&target)),
            };
            let (retry, retry_after) = match &outcome {
                Attempt::Answer(_) => (false, None),
                Attempt::Status {
                    code, retry_after, ..
                } => (retryable_status(&method, *code), *retry_after),
                Attempt::Transport { tls, .. } => (!tls, None),
            };
            let delay = policy.delay(attempt, retry_after);
            let in_budget = started.elapsed() + delay <= policy.budget;
            if retry && attempt < policy.attempts && in_budget {
                tracing::debug!(
                    "{target}: attempt {attempt} failed, retrying in {:.1} s",
                    delay.as_secs_f64()
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            return match outcome {
                Attempt::Answer(value) => Ok(value),
                Attempt::Status {
                    code,
                    reason,
                    message,
                    ..
                } => Err(self.status_error(&target, code, reason, message, attempt, retry)),
                Attempt::Transport { detail, tls } => {
                    Err(self.transport_error(&target, &detail, tls, attempt))
                }
            };
        }
    }

    /// One exchange: send, read the whole answer.
    async fn attempt(&self, request: http::Request<Vec<u8>>) -> Attempt {
        let response = match self
            .client
            .send(request.map(kube::client::Body::from))
            .await
        {
            Ok(response) => response,
            Err(e) => {
                let detail = error_chain(&e);
                let tls = is_tls_failure(&detail);
                return Attempt::Transport { detail, tls };
            }
        };
        let code = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let bytes = match response.into_body().collect_bytes().await {
            Ok(bytes) => bytes,
            Err(e) => {
                return Attempt::Transport {
                    detail: format!("the answer was cut: {}", error_chain(&e)),
                    tls: false,
                }
            }
        };
        if (200..300).contains(&code) {
            return match serde_json::from_slice(&bytes) {
                Ok(value) => Attempt::Answer(value),
                Err(e) => Attempt::Status {
                    code,
                    reason: "InvalidAnswer".into(),
                    message: format!("the answer is not JSON: {e}"),
                    retry_after: None,
                },
            };
        }
        let (reason, message) = status_of(code, &bytes);
        Attempt::Status {
            code,
            reason,
            message,
            retry_after,
        }
    }

    fn status_error(
        &self,
        target: &str,
        code: u16,
        reason: String,
        message: String,
        attempts: u32,
        was_retryable: bool,
    ) -> KubeError {
        let message = if was_retryable {
            let tries = if attempts == 1 {
                "once".to_string()
            } else {
                format!("{attempts} times")
            };
            format!(
                "the Kubernetes API server {} answered {target} with {code} {reason} {tries}, the last time: {message}",
                self.server
            )
        } else if message.is_empty() {
            format!(
                "the Kubernetes API server {} answered {target} with {code} {reason}",
                self.server
            )
        } else {
            message
        };
        KubeError {
            code,
            reason,
            message,
        }
    }

    fn transport_error(&self, target: &str, detail: &str, tls: bool, attempts: u32) -> KubeError {
        if tls {
            return KubeError {
                code: 0,
                reason: "TLSVerificationFailed".into(),
                message: format!(
                    "cannot verify the Kubernetes API server {} ({target}): {detail}; the server's certificate is not signed by the configured CA (the service account's ca.crt, the kubeconfig's certificate-authority or the task's ca_cert), and hook-runner never connects without verification unless validate_certs is false",
                    self.server
                ),
            };
        }
        KubeError {
            code: 0,
            reason: "ServiceUnavailable".into(),
            message: format!(
                "cannot reach the Kubernetes API server {} ({target}, {attempts} attempts): {detail}",
                self.server
            ),
        }
    }

    fn timeout_error(&self, target: &str) -> KubeError {
        KubeError {
            code: 0,
            reason: "Timeout".into(),
            message: format!(
                "the Kubernetes API server {} did not answer {target} within {} s ({API_TIMEOUT_ENV} sets the limit)",
                self.server,
                format_seconds(self.policy.request_timeout)
            ),
        }
    }
}

/// `30`, `0.5`.
fn format_seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// A copy of a request (method, URI, headers, body) for another attempt.
fn clone_request(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// The reason and message of a `Status` body, or of a non-JSON answer (a proxy's page).
fn status_of(code: u16, body: &[u8]) -> (String, String) {
    let canonical = http::StatusCode::from_u16(code)
        .ok()
        .and_then(|c| c.canonical_reason())
        .unwrap_or("Unknown")
        .replace(' ', "");
    match serde_json::from_slice::<Value>(body) {
        Ok(status) if status.get("kind").and_then(Value::as_str) == Some("Status") => {
            let text = |k: &str| status.get(k).and_then(Value::as_str).unwrap_or_default();
            let reason = if text("reason").is_empty() {
                canonical
            } else {
                text("reason").to_string()
            };
            (reason, text("message").to_string())
        }
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(200).collect();
            (canonical, text)
        }
    }
}

/// An error and its sources, each once: `client error (Connect): tcp connect error: Connection
/// refused (os error 111)`.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Whether a connection failed because the server's certificate was refused.
fn is_tls_failure(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls")
}

/// `("", "v1")` for `v1`, `("apps", "v1")` for `apps/v1`; `None` when malformed.
fn split_api_version(api_version: &str) -> Option<(&str, &str)> {
    let (group, version) = match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    // A DNS subdomain (or empty, the core group) and a plain version: nothing that could
    // change the request path.
    let group_ok = group.is_empty()
        || (group.starts_with(|c: char| c.is_ascii_alphanumeric())
            && group.ends_with(|c: char| c.is_ascii_alphanumeric())
            && group
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
    let version_ok = version.chars().all(|c| c.is_ascii_alphanumeric());
    (!version.is_empty() && group_ok && version_ok).then_some((group, version))
}

/// The resource of `kind` in an `APIResourceList`, matched as kubernetes.core does: the kind,
/// then the plural name, then the singular (lowercase kind); subresources are skipped. The
/// `bool` says whether it is namespaced.
fn find_resource(
    list: &Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<(kube::discovery::ApiResource, bool)> {
    let resources: Vec<&Value> = list
        .get("resources")
        .and_then(Value::as_array)?
        .iter()
        .filter(|r| {
            r.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.contains('/'))
        })
        .collect();
    let field = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let found = resources
        .iter()
        .find(|r| field(r, "kind") == kind)
        .or_else(|| resources.iter().find(|r| field(r, "name") == kind))
        .or_else(|| {
            resources
                .iter()
                .find(|r| field(r, "kind").to_lowercase() == kind)
        })?;
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resource = kube::discovery::ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version,
        kind: field(found, "kind"),
        plural: field(found, "name"),
    };
    let namespaced = found
        .get("namespaced")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    Some((resource, namespaced))
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

    fn offline(&self) -> bool {
        true
    }

    /// Any kind exists: its plural is guessed as Kubernetes' code generators make it.
    async fn resource_type(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<ResourceType>, KubeError> {
        if split_api_version(api_version).is_none() || kind.is_empty() {
            return Ok(None);
        }
        Ok(Some(ResourceType {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            plural: plural_of(kind),
            namespaced: !CLUSTER_SCOPED_KINDS.contains(&kind),
        }))
    }

    async fn get_object(&self, target: &ObjectRef) -> Result<Option<Value>, KubeError> {
        let query = InfoQuery {
            api_version: target.resource.api_version.clone(),
            kind: target.resource.kind.clone(),
            name: Some(target.name.clone()),
            namespace: target.namespace().map(str::to_string),
            ..Default::default()
        };
        Ok(self
            .objects
            .iter()
            .find(|o| FileCluster::matches(o, &query))
            .cloned())
    }

    async fn create_object(
        &self,
        target: &ObjectRef,
        object: &Value,
        _dry_run: bool,
    ) -> Result<Value, KubeError> {
        let mut shown = object.clone();
        if let (Some(ns), Some(meta)) = (
            target.namespace(),
            shown.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            meta.insert("namespace".into(), Value::String(ns.to_string()));
        }
        Ok(shown)
    }

    async fn replace_object(
        &self,
        target: &ObjectRef,
        object: &Value,
        dry_run: bool,
    ) -> Result<Value, KubeError> {
        self.create_object(target, object, dry_run).await
    }

    async fn patch_object(
        &self,
        target: &ObjectRef,
        patch: &Value,
        kind: &PatchKind,
        _dry_run: bool,
    ) -> Result<Value, KubeError> {
        let mut object = self
            .get_object(target)
            .await?
            .unwrap_or_else(|| serde_json::json!({}));
        // A JSON patch is not evaluated offline: the object is shown as it was given.
        if *kind != PatchKind::Json {
            merge_patch(&mut object, patch);
        }
        Ok(object)
    }

    async fn delete_object(
        &self,
        target: &ObjectRef,
        _options: Option<&Value>,
        _dry_run: bool,
    ) -> Result<Value, KubeError> {
        Ok(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": target.name, "kind": target.resource.plural},
        }))
    }
}

/// Kinds that are cluster-scoped (for dry-run, which has no discovery).
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "VolumeSnapshotClass",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The lowercase plural Kubernetes' code generators give a kind (`Policy` -> `policies`).
fn plural_of(kind: &str) -> String {
    let lower = kind.to_lowercase();
    let vowel_before_y =
        lower.len() > 1 && lower[..lower.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
    if lower.ends_with('y') && lower.len() > 1 && !vowel_before_y {
        format!("{}ies", &lower[..lower.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// RFC 7386: `null` removes a key, maps merge, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(crate::Map::new());
    }
    if let Value::Object(fields) = target {
        for (key, change) in changes {
            if change.is_null() {
                fields.remove(key);
            } else {
                merge_patch(fields.entry(key.clone()).or_insert(Value::Null), change);
            }
        }
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

    #[tokio::test]
    async fn dry_run_writes_show_the_object_and_store_nothing() {
        let mut c = FileCluster::new();
        c.add_object(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m","namespace":"n"},"data":{"a":"1"}}));
        let rt = c.resource_type("v1", "ConfigMap").await.unwrap().unwrap();
        assert_eq!((rt.plural.as_str(), rt.namespaced), ("configmaps", true));
        let ns = c.resource_type("v1", "Namespace").await.unwrap().unwrap();
        assert!(!ns.namespaced);
        let target = ObjectRef {
            resource: rt,
            namespace: Some("n".into()),
            name: "m".into(),
        };
        let patched = c
            .patch_object(
                &target,
                &json!({"data": {"b": "2"}}),
                &PatchKind::Merge,
                false,
            )
            .await
            .unwrap();
        assert_eq!(patched["data"], json!({"a": "1", "b": "2"}));
        assert_eq!(
            c.get_object(&target).await.unwrap().unwrap()["data"],
            json!({"a": "1"})
        );
        let created = c
            .create_object(&target, &json!({"metadata": {"name": "x"}}), false)
            .await
            .unwrap();
        assert_eq!(created["metadata"]["namespace"], json!("n"));
        assert!(c.offline());
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
    fn backoff_doubles_up_to_its_cap_and_retry_after_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None), Duration::from_millis(500));
        assert_eq!(p.delay(2, None), Duration::from_secs(1));
        assert_eq!(p.delay(4, None), Duration::from_secs(4));
        assert_eq!(p.delay(40, None), Duration::from_secs(4));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3600))),
            p.max_retry_after
        );
    }

    #[test]
    fn writes_are_retried_only_when_the_server_did_nothing() {
        for code in [429, 500, 502, 503, 504] {
            assert!(retryable_status(&http::Method::GET, code), "{code}");
        }
        assert!(retryable_status(&http::Method::POST, 503));
        assert!(retryable_status(&http::Method::POST, 429));
        assert!(!retryable_status(&http::Method::POST, 500));
        for code in [400, 401, 403, 404, 409] {
            assert!(!retryable_status(&http::Method::GET, code), "{code}");
        }
    }

    #[test]
    fn retry_after_is_read_in_seconds_only() {
        let mut h = http::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn api_versions_split_into_group_and_version() {
        assert_eq!(split_api_version("v1"), Some(("", "v1")));
        assert_eq!(split_api_version("apps/v1"), Some(("apps", "v1")));
        assert_eq!(
            split_api_version("forklift.konveyor.io/v1beta1"),
            Some(("forklift.konveyor.io", "v1beta1"))
        );
        assert_eq!(split_api_version(""), None);
        assert_eq!(split_api_version("a/b/c"), None);
        assert_eq!(split_api_version("../v1"), None);
    }

    #[test]
    fn resources_are_found_by_kind_plural_or_singular() {
        let list = json!({"resources": [
            {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod"},
            {"name": "pods/log", "namespaced": true, "kind": "Pod"},
            {"name": "nodes", "namespaced": false, "kind": "Node"},
        ]});
        let (pod, namespaced) = find_resource(&list, "", "v1", "Pod").unwrap();
        assert_eq!(
            (pod.plural.as_str(), pod.api_version.as_str(), namespaced),
            ("pods", "v1", true)
        );
        assert_eq!(
            find_resource(&list, "", "v1", "pods").unwrap().0.kind,
            "Pod"
        );
        let (node, namespaced) = find_resource(&list, "", "v1", "node").unwrap();
        assert_eq!((node.kind.as_str(), namespaced), ("Node", false));
        assert!(find_resource(&list, "", "v1", "Secret").is_none());
        let (plan, _) = find_resource(
            &json!({"resources": [{"name": "plans", "namespaced": true, "kind": "Plan"}]}),
            "forklift.konveyor.io",
            "v1beta1",
            "Plan",
        )
        .unwrap();
        assert_eq!(plan.api_version, "forklift.konveyor.io/v1beta1");
    }

    #[test]
    fn statuses_are_read_from_status_bodies_or_plain_text() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"busy","reason":"ServiceUnavailable","code":503}"#;
        assert_eq!(
            status_of(503, body),
            ("ServiceUnavailable".to_string(), "busy".to_string())
        );
        assert_eq!(
            status_of(502, b"<html>bad gateway</html>"),
            (
                "BadGateway".to_string(),
                "<html>bad gateway</html>".to_string()
            )
        );
    }

    #[test]
    fn certificate_failures_are_recognised() {
        assert!(is_tls_failure(
            "client error (Connect): invalid peer certificate: UnknownIssuer"
        ));
        assert!(!is_tls_failure(
            "client error (Connect): tcp connect error: Connection refused (os error 111)"
        ));
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
