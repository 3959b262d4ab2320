//! The Kubernetes API as hook-runner uses it: read objects (`k8s_info`) and post Events.
//!
//! [`Cluster`] hides where objects come from: the real API server (in-cluster service account
//! first, then kubeconfig when asked, like kubernetes.core), or, for `dry-run`, local files
//! given with `--secret NAMESPACE/NAME=FILE` and clearly marked placeholders.

use crate::Value;
use async_trait::async_trait;

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
}
