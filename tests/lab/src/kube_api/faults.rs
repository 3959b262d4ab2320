//! Scripted faults: answers the server gives instead of (or before) the real one, so that
//! clients can be tested against a cluster that misbehaves the way real ones do.
//!
//! A [`Fault`] applies to requests whose path matches (exactly, or by prefix when the pattern
//! ends in `*`) and, optionally, whose method matches; it fires a given number of times, then
//! the request is served normally. Faults are tried in the order they were added; the first
//! one that matches and has firings left is used (and consumes one firing).
//!
//! What a fault can do:
//! - answer a status (`500`, `503`, `429`...) with a kube-apiserver style `Status` body and
//!   optionally a `Retry-After` header (seconds), as an overloaded API server or an aggregated
//!   API does;
//! - delay the request, then serve it normally (a slow API server, an etcd stall).
//!
//! Every faulted request is recorded like any other, with the status it got.

use serde_json::json;
use std::time::Duration;

/// What happens to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer `code` with a `Status` body whose reason and message say what it is, and a
    /// `Retry-After: SECONDS` header when given.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// Wait, then serve the request normally.
    Delay(Duration),
}

/// A scripted fault: which requests, what happens, how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// An exact path (`/api/v1/namespaces/x/secrets/y`), or a prefix ending in `*` (`/api*`).
    pub path: String,
    /// `GET`, `POST`...; `None` matches every method.
    pub method: Option<String>,
    pub action: FaultAction,
    /// Firings left; `None` fires forever.
    pub remaining: Option<u32>,
}

impl Fault {
    /// Answers `code` (with a `Status` body) to requests on `path`, forever until [`Fault::times`].
    pub fn status(path: &str, code: u16) -> Fault {
        Fault {
            path: path.to_string(),
            method: None,
            action: FaultAction::Status {
                code,
                retry_after: None,
            },
            remaining: None,
        }
    }

    /// Delays requests on `path` by `delay`, then serves them.
    pub fn delay(path: &str, delay: Duration) -> Fault {
        Fault {
            path: path.to_string(),
            method: None,
            action: FaultAction::Delay(delay),
            remaining: None,
        }
    }

    /// Adds `Retry-After: value` to a status fault (the header is sent as given, so a test
    /// can send malformed values too).
    pub fn retry_after(mut self, value: &str) -> Fault {
        if let FaultAction::Status { retry_after, .. } = &mut self.action {
            *retry_after = Some(value.to_string());
        }
        self
    }

    /// Fires `n` times only.
    pub fn times(mut self, n: u32) -> Fault {
        self.remaining = Some(n);
        self
    }

    /// Only for requests with this method.
    pub fn method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let path_matches = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        };
        path_matches
            && self.method.as_deref().is_none_or(|m| m == method)
            && self.remaining != Some(0)
    }
}

/// The faults of a server, in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct Faults(Vec<Fault>);

impl Faults {
    pub fn add(&mut self, fault: Fault) {
        self.0.push(fault);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The action for a request, consuming one firing of the fault that gives it.
    pub fn take(&mut self, method: &str, path: &str) -> Option<FaultAction> {
        let fault = self.0.iter_mut().find(|f| f.matches(method, path))?;
        if let Some(n) = fault.remaining.as_mut() {
            *n -= 1;
        }
        Some(fault.action.clone())
    }
}

/// The reason kube-apiserver gives with a status code.
pub(crate) fn reason_of(code: u16) -> &'static str {
    match code {
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

/// A `Status` body for a faulted answer, worded as kube-apiserver's.
pub(crate) fn status_body(code: u16) -> Vec<u8> {
    let message = match code {
        429 => "Too many requests, please try again later.".to_string(),
        500 => "Internal error occurred: injected fault".to_string(),
        503 => "the server is currently unable to handle the request".to_string(),
        504 => "Timeout: request did not complete within the allowed duration".to_string(),
        _ => format!("injected fault {code}"),
    };
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason_of(code),
        "code": code,
    });
    body.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fires_its_count_then_stops() {
        let mut faults = Faults::default();
        faults.add(Fault::status("/api/v1", 503).times(2));
        assert!(faults.take("GET", "/api/v1").is_some());
        assert!(faults.take("GET", "/api/v1").is_some());
        assert_eq!(faults.take("GET", "/api/v1"), None);
    }

    #[test]
    fn paths_match_exactly_or_by_prefix_and_methods_filter() {
        let mut faults = Faults::default();
        faults.add(Fault::status("/apis*", 500).method("post"));
        faults.add(Fault::status("/api/v1", 429));
        assert_eq!(faults.take("GET", "/apis/x"), None);
        assert!(faults.take("POST", "/apis/x").is_some());
        assert!(faults.take("GET", "/api/v1").is_some());
        assert_eq!(faults.take("GET", "/api/v1/namespaces"), None);
    }

    #[test]
    fn status_bodies_are_status_objects() {
        let body: serde_json::Value = serde_json::from_slice(&status_body(503)).unwrap();
        assert_eq!(body["kind"], "Status");
        assert_eq!(body["code"], 503);
        assert_eq!(body["reason"], "ServiceUnavailable");
    }
}
