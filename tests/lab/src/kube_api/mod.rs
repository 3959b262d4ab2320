//! An in-process Kubernetes API test server that real clients accept: `kubectl`, the Rust `kube`
//! client, the Python `kubernetes` client.
//!
//! What it speaks (each part documented in its module):
//! - HTTPS on `127.0.0.1` with a CA generated at start ([`tls`]); clients verify it through the
//!   kubeconfig or the service-account `ca.crt` this handle writes.
//! - Bearer tokens, scheme in any case, each with a user and RBAC-like [`Rule`]s ([`auth`]);
//!   401/403/404/409 answers are real `Status` bodies ([`status`]).
//! - `/version` and legacy discovery for the core group and every seeded group ([`discovery`]);
//!   kubectl's request for aggregated discovery falls back to it. A minimal OpenAPI v3 tells
//!   kubectl that the server does field validation ([`openapi`]), so `kubectl create` works.
//! - `get`, `list` (label and field selectors, `limit`/`continue`, Table output for kubectl),
//!   `create` (Events, or anything), `update`, `patch` (merge, strategic merge, JSON patch,
//!   server-side apply) and `delete` on core and seeded types, each also as a `dryRun=All`
//!   that stores nothing ([`router`], [`store`], [`patch`]).
//! - Every request is recorded ([`RecordedRequest`]) with the status it got.
//! - Scripted faults ([`Fault`]): per-path error statuses with `Retry-After`, delays; and a
//!   kubeconfig trusting another CA ([`KubeApi::kubeconfig_with_ca`]) for TLS failures.
//!
//! The server runs on its own thread and runtime, so it works from sync and async tests alike,
//! and stops when the [`KubeApi`] is dropped.
//!
//! ```no_run
//! use lab::kube_api::{service_account, KubeApi, Rule};
//! let api = KubeApi::start();
//! api.add_secret("mtv", "vm-key", &[("key", b"PRIVATE")]);
//! let token = api.token(&service_account("mtv", "hook"), &[Rule::new(&["get"], &["secrets"]).in_namespace("mtv")]);
//! api.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"), &token).unwrap();
//! ```

mod auth;
mod discovery;
mod faults;
mod openapi;
mod patch;
mod router;
mod selector;
mod server;
mod status;
mod store;
mod table;
pub(crate) mod tls;

pub use auth::{service_account, Rule};
pub use faults::{Fault, FaultAction};

use anyhow::{Context, Result};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// One request as the server received it, and the status it answered.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub http_version: String,
    /// Header names in lowercase, values as sent (including the token: do not print them).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: u16,
    /// When the server received it (for checking clients' backoff).
    pub received: std::time::Instant,
}

impl RecordedRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Authorization` scheme exactly as the client wrote it (`Bearer`, `bearer`).
    pub fn auth_scheme(&self) -> Option<&str> {
        self.header("authorization")?.split_whitespace().next()
    }

    /// A decoded query parameter.
    pub fn query_param(&self, key: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// The body as JSON, if it is.
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Shows everything but credentials: the `Authorization` value keeps only its scheme.
impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                if name.eq_ignore_ascii_case("authorization") {
                    let scheme = value.split_whitespace().next().unwrap_or("");
                    (name.clone(), format!("{scheme} <redacted>"))
                } else {
                    (name.clone(), value.clone())
                }
            })
            .collect();
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("http_version", &self.http_version)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("status", &self.status)
            .finish()
    }
}

/// Everything the server knows, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub store: store::Store,
    pub tokens: auth::Tokens,
    pub requests: Vec<RecordedRequest>,
    pub tokens_issued: u64,
    pub faults: faults::Faults,
}

/// What the handle and the server share.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl Shared {
    /// The state; a panic in another holder does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running Kubernetes API test server. Dropping it stops the server.
pub struct KubeApi {
    shared: Arc<Shared>,
    port: u16,
    ca_pem: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl KubeApi {
    /// Starts a server on a free loopback port, or panics saying why (a lab that cannot start
    /// is a broken test environment).
    pub fn start() -> KubeApi {
        match KubeApi::try_start() {
            Ok(api) => api,
            Err(error) => panic!("cannot start the Kubernetes API test server: {error:#}"),
        }
    }

    /// Starts a server on a free loopback port.
    pub fn try_start() -> Result<KubeApi> {
        let identity = tls::generate()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
        listener
            .set_nonblocking(true)
            .context("non-blocking listener")?;
        let port = listener.local_addr().context("listener address")?.port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            address: format!("127.0.0.1:{port}"),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("runtime for the Kubernetes API test server")?;
        let (shutdown, shutdown_signal) = oneshot::channel();
        let served = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("kube-api-{port}"))
            .spawn(move || {
                runtime.block_on(server::serve(
                    listener,
                    identity.config,
                    served,
                    shutdown_signal,
                ));
            })
            .context("server thread")?;
        Ok(KubeApi {
            shared,
            port,
            ca_pem: identity.ca_pem,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1`, for `KUBERNETES_SERVICE_HOST`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The port, for `KUBERNETES_SERVICE_PORT`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Stores every object of a (multi-document) YAML manifest, registering unknown kinds.
    pub fn seed_yaml(&self, yaml: &str) -> Result<()> {
        let documents: Vec<Value> =
            serde_saphyr::from_multiple(yaml).context("parsing the manifest")?;
        for (index, document) in documents.into_iter().enumerate() {
            if document.is_null() {
                continue;
            }
            self.seed_object(document)
                .with_context(|| format!("document {} of the manifest", index + 1))?;
        }
        Ok(())
    }

    /// Stores one object (JSON form of a manifest), registering its kind when unknown.
    pub fn seed_object(&self, object: Value) -> Result<()> {
        self.shared
            .lock()
            .store
            .seed(object)
            .map_err(anyhow::Error::msg)
    }

    /// Stores an `Opaque` Secret with `data` base64-encoded, as the API server keeps it.
    pub fn add_secret(&self, namespace: &str, name: &str, data: &[(&str, &[u8])]) {
        let encoded: Map<String, Value> = data
            .iter()
            .map(|(key, bytes)| {
                (
                    key.to_string(),
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
                )
            })
            .collect();
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque",
            "data": encoded,
        });
        // A Secret built here always has the fields `seed` requires.
        if let Err(error) = self.seed_object(secret) {
            panic!("add_secret {namespace}/{name}: {error:#}");
        }
    }

    /// A new token for `user` (see [`service_account`]) allowed what `rules` allow.
    pub fn token(&self, user: &str, rules: &[Rule]) -> String {
        let mut state = self.shared.lock();
        state.tokens_issued += 1;
        let token = format!(
            "lab-{}-{:04}-{:016x}",
            self.port,
            state.tokens_issued,
            token_salt(state.tokens_issued)
        );
        let grant = auth::Grant {
            user: user.to_string(),
            rules: rules.to_vec(),
        };
        state.tokens.insert(token.clone(), grant);
        token
    }

    /// A kubeconfig (YAML) for this server with `token`, context namespace `default`.
    pub fn kubeconfig(&self, token: &str) -> String {
        let ca_data = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        // JSON strings are valid YAML scalars: this quotes any token safely.
        let token = Value::String(token.to_string());
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: {}\n    certificate-authority-data: {ca_data}\nusers:\n- name: lab\n  user:\n    token: {token}\ncontexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\n    namespace: default\ncurrent-context: lab\n",
            self.url()
        )
    }

    /// Writes [`KubeApi::kubeconfig`] to `path` (mode 0600).
    pub fn write_kubeconfig(&self, path: &Path, token: &str) -> Result<()> {
        write_file(path, self.kubeconfig(token).as_bytes(), 0o600)
    }

    /// Writes a service-account directory as Kubernetes mounts it: `token` and `namespace`
    /// without a trailing newline, `ca.crt` in PEM, every file mode 0644 (the projected volume's
    /// default) so that a pod running as an arbitrary UID can read them.
    pub fn write_service_account_dir(
        &self,
        dir: &Path,
        token: &str,
        namespace: &str,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        write_file(&dir.join("token"), token.as_bytes(), 0o644)?;
        write_file(&dir.join("ca.crt"), self.ca_pem.as_bytes(), 0o644)?;
        write_file(&dir.join("namespace"), namespace.as_bytes(), 0o644)
    }

    /// A kubeconfig like [`KubeApi::kubeconfig`] whose `certificate-authority-data` is
    /// `ca_pem` instead of this server's CA (another server's [`KubeApi::ca_pem`]): a client
    /// that verifies must refuse the server.
    pub fn kubeconfig_with_ca(&self, token: &str, ca_pem: &str) -> String {
        let own = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        let other = base64::engine::general_purpose::STANDARD.encode(ca_pem);
        self.kubeconfig(token).replace(&own, &other)
    }

    /// Adds a scripted fault (see [`Fault`]); faults are tried in the order added.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.add(fault);
    }

    /// Removes every scripted fault: requests are served normally again.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Every Event stored, core `v1` ones first, then `events.k8s.io/v1` ones.
    pub fn events(&self) -> Vec<Value> {
        let state = self.shared.lock();
        let mut events = state.store.all_of("", "events");
        events.extend(state.store.all_of("events.k8s.io", "events"));
        events
    }

    /// Runs the machine's `kubectl` against this server with `kubeconfig`, `HOME` and the
    /// discovery cache in `scratch` (nothing of the user's own configuration is read).
    pub fn kubectl(
        &self,
        kubeconfig: &Path,
        scratch: &Path,
        args: &[&str],
    ) -> std::process::Output {
        let started = std::time::Instant::now();
        let output = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(scratch.join("cache"))
            .args(args)
            .env("HOME", scratch)
            .env_remove("KUBECONFIG")
            .current_dir(scratch)
            .output()
            .expect("kubectl is on the machine image");
        eprintln!(
            "kubectl {} -> {:?} in {:?}",
            args.join(" "),
            output.status.code(),
            started.elapsed()
        );
        output
    }

    /// Every stored object of `resource` (plural) in `group` (`""` for core), in list order.
    pub fn objects(&self, group: &str, resource: &str) -> Vec<Value> {
        self.shared.lock().store.all_of(group, resource)
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already be gone; then there is nothing to stop.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Makes tokens of different servers and runs differ beyond their counter.
fn token_salt(counter: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ (u64::from(std::process::id()) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ counter
}

/// Writes `contents` to `path` with exactly `mode`, which the file has from its creation on
/// (a kubeconfig holds a token: it is never readable by others, not even briefly).
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    // The mode given to open() is filtered by the umask and ignored for an existing file.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))
}
