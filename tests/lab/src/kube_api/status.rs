//! `Status` bodies exactly as kube-apiserver writes them for failed requests.
//!
//! A resource is named the way the API server names a `GroupResource`: `secrets` for the core
//! group, `plans.forklift.konveyor.io` otherwise. `details.kind` is the resource (plural), and
//! `details.group` is present only for a non-core group, as in the real server.

use serde_json::{json, Map, Value};

/// A failed request's HTTP code and its `Status` body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub code: u16,
    pub body: Value,
}

/// The `(group, resource)` pair a message talks about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupResource<'a> {
    pub group: &'a str,
    pub resource: &'a str,
}

impl GroupResource<'_> {
    /// `secrets`, or `plans.forklift.konveyor.io`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Failure {
    let mut body = Map::new();
    body.insert("kind".into(), json!("Status"));
    body.insert("apiVersion".into(), json!("v1"));
    body.insert("metadata".into(), json!({}));
    body.insert("status".into(), json!("Failure"));
    body.insert("message".into(), json!(message));
    body.insert("reason".into(), json!(reason));
    if let Some(details) = details {
        body.insert("details".into(), details);
    }
    body.insert("code".into(), json!(code));
    Failure {
        code,
        body: Value::Object(body),
    }
}

fn details(gr: GroupResource<'_>, name: Option<&str>) -> Value {
    let mut details = Map::new();
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        details.insert("name".into(), json!(name));
    }
    if !gr.group.is_empty() {
        details.insert("group".into(), json!(gr.group));
    }
    details.insert("kind".into(), json!(gr.resource));
    Value::Object(details)
}

/// 401 for a missing or unknown token: the body carries no details.
pub(crate) fn unauthorized() -> Failure {
    status(401, "Unauthorized", "Unauthorized", None)
}

/// 403: `secrets "x" is forbidden: <why>`, or `secrets is forbidden: <why>` without a name.
pub(crate) fn forbidden(gr: GroupResource<'_>, name: Option<&str>, why: &str) -> Failure {
    let message = match name.filter(|n| !n.is_empty()) {
        Some(name) => format!("{} {name:?} is forbidden: {why}", gr.qualified()),
        None => format!("{} is forbidden: {why}", gr.qualified()),
    };
    status(403, "Forbidden", &message, Some(details(gr, name)))
}

/// 404: `secrets "x" not found`.
pub(crate) fn not_found(gr: GroupResource<'_>, name: &str) -> Failure {
    let message = format!("{} {name:?} not found", gr.qualified());
    status(404, "NotFound", &message, Some(details(gr, Some(name))))
}

/// 409: `events "x" already exists`.
pub(crate) fn already_exists(gr: GroupResource<'_>, name: &str) -> Failure {
    let message = format!("{} {name:?} already exists", gr.qualified());
    status(
        409,
        "AlreadyExists",
        &message,
        Some(details(gr, Some(name))),
    )
}

/// 409 for an update with a stale `resourceVersion`.
pub(crate) fn conflict(gr: GroupResource<'_>, name: &str) -> Failure {
    let message = format!(
        "Operation cannot be fulfilled on {} {name:?}: the object has been modified; please apply your changes to the latest version and try again",
        gr.qualified()
    );
    status(409, "Conflict", &message, Some(details(gr, Some(name))))
}

/// 415 for a PATCH body type the server does not take for this resource.
pub(crate) fn unsupported_media_type(accepted: &[&str]) -> Failure {
    let message = format!(
        "the body of the request was in an unknown format - accepted media types include: {}",
        accepted.join(", ")
    );
    status(415, "UnsupportedMediaType", &message, None)
}

/// 200 `Success` for a deleted object, with its `uid` in the details.
pub(crate) fn deleted(gr: GroupResource<'_>, name: &str, uid: Option<&str>) -> Value {
    let mut details = details(gr, Some(name));
    if let (Some(uid), Some(fields)) = (uid, details.as_object_mut()) {
        fields.insert("uid".into(), json!(uid));
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// 422 for a JSON patch whose operations cannot be applied.
pub(crate) fn invalid_patch(message: &str) -> Failure {
    status(422, "Invalid", message, None)
}

/// 400 for a request the server cannot make sense of (bad selector, bad body).
pub(crate) fn bad_request(message: &str) -> Failure {
    status(400, "BadRequest", message, None)
}

/// 405 for a verb this test server does not implement on a resource it knows.
pub(crate) fn method_not_allowed() -> Failure {
    status(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        Some(json!({})),
    )
}

/// 406 for an `Accept` header the server cannot satisfy.
pub(crate) fn not_acceptable(accept: &str) -> Failure {
    let message = format!("only the following media types are accepted: application/json, application/yaml (asked for {accept})");
    status(406, "NotAcceptable", &message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRETS: GroupResource<'static> = GroupResource {
        group: "",
        resource: "secrets",
    };

    #[test]
    fn forbidden_body_matches_the_real_server() {
        let failure = forbidden(
            SECRETS,
            Some("x"),
            "User \"u\" cannot get resource \"secrets\"",
        );
        let expected = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets \"x\" is forbidden: User \"u\" cannot get resource \"secrets\"","reason":"Forbidden","details":{"name":"x","kind":"secrets"},"code":403}"#;
        assert_eq!(failure.code, 403);
        assert_eq!(failure.body.to_string(), expected);
    }

    #[test]
    fn group_resources_are_qualified_and_carry_the_group() {
        let plans = GroupResource {
            group: "forklift.konveyor.io",
            resource: "plans",
        };
        let failure = not_found(plans, "p");
        assert_eq!(
            failure.body["message"],
            "plans.forklift.konveyor.io \"p\" not found"
        );
        assert_eq!(
            failure.body["details"],
            json!({"name": "p", "group": "forklift.konveyor.io", "kind": "plans"})
        );
    }

    #[test]
    fn list_forbidden_has_no_name() {
        let failure = forbidden(SECRETS, None, "why");
        assert_eq!(failure.body["message"], "secrets is forbidden: why");
        assert_eq!(failure.body["details"], json!({"kind": "secrets"}));
    }

    #[test]
    fn unauthorized_has_no_details() {
        let failure = unauthorized();
        assert_eq!(
            failure.body.to_string(),
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
        );
    }
}
