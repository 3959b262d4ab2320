//! What the server answers to one request: authentication, discovery, then the resource verbs.
//!
//! - `/version`, `/healthz`, `/livez`, `/readyz` are public, as on a real cluster; everything else
//!   needs a known bearer token (401 `Status` otherwise). Discovery is open to every token.
//! - Resource paths: `/api/v1/...` and `/apis/GROUP/VERSION/...`, then `RESOURCE[/NAME]` for
//!   cluster-scoped types and for lists across all namespaces, or
//!   `namespaces/NS/RESOURCE[/NAME]`. An unknown path is a plain-text `404 page not found`,
//!   like the real server's mux.
//! - Authorization comes before existence, as in kube-apiserver: a forbidden `get` of a missing
//!   object is a 403, not a 404.
//! - Verbs: `get`, `list` (with `labelSelector`, `fieldSelector`, `limit`/`continue`), `create`,
//!   `update` (PUT), `patch` (merge, strategic merge, JSON patch and server-side apply, see
//!   [`patch`]; an apply to a missing object creates it) and `delete`. Others (`watch`,
//!   `deletecollection`, subresources) answer 405 `MethodNotAllowed` once authorized.
//! - `dryRun=All` on a write (or `dryRun: [All]` in a DELETE's DeleteOptions body) answers what
//!   the write would give and stores nothing; any other `dryRun` value is a 400, as on a real
//!   server.

use super::auth::{denial_reason, Attributes, Grant};
use super::discovery;
use super::openapi;
use super::patch;
use super::selector::{FieldSelector, LabelSelector};
use super::status::{self, Failure, GroupResource};
use super::store::{ResourceType, Store, WriteError};
use super::table;
use super::{RecordedRequest, State};
use serde_json::{json, Value};

/// The response to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub code: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

fn json_reply(code: u16, body: &Value) -> Reply {
    Reply {
        code,
        content_type: "application/json",
        body: body.to_string().into_bytes(),
    }
}

fn failure_reply(failure: Failure) -> Reply {
    json_reply(failure.code, &failure.body)
}

fn text_reply(code: u16, text: &str) -> Reply {
    Reply {
        code,
        content_type: "text/plain; charset=utf-8",
        body: text.as_bytes().to_vec(),
    }
}

fn page_not_found() -> Reply {
    text_reply(404, "404 page not found\n")
}

/// Answers `request`; `server_address` is `127.0.0.1:PORT` for `/api`.
pub(crate) fn route(state: &mut State, server_address: &str, request: &RecordedRequest) -> Reply {
    let path = request.path.as_str();
    match path {
        "/version" | "/version/" => return json_reply(200, &discovery::version()),
        "/healthz" | "/livez" | "/readyz" => return text_reply(200, "ok"),
        _ => {}
    }
    let Some(grant) = state
        .tokens
        .authenticate(request.header("authorization"))
        .cloned()
    else {
        return failure_reply(status::unauthorized());
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let store = &mut state.store;
    let found = match segments.as_slice() {
        ["api"] => Some(discovery::core_versions(server_address)),
        ["api", "v1"] => discovery::resource_list(store, "", "v1"),
        ["apis"] => Some(discovery::group_list(store)),
        ["apis", group] => discovery::group(store, group),
        ["apis", group, version] => discovery::resource_list(store, group, version),
        ["openapi", "v3"] => Some(openapi::root(store)),
        ["openapi", "v3", rest @ ..] => openapi::document(store, &rest.join("/")),
        ["api", "v1", rest @ ..] => return resource(store, &grant, ("", "v1"), rest, request),
        ["apis", group, version, rest @ ..] => {
            return resource(store, &grant, (group, version), rest, request)
        }
        _ => None,
    };
    match found {
        Some(body) => negotiated(request).unwrap_or_else(|| json_reply(200, &body)),
        None => page_not_found(),
    }
}

/// The 406 for a request whose `Accept` header JSON cannot satisfy (protobuf only, say), or
/// `None` when JSON will do. Asked only for paths that exist, so that unknown paths stay 404.
fn negotiated(request: &RecordedRequest) -> Option<Reply> {
    let accept = request.header("accept").filter(|a| !accepts_json(a))?;
    Some(failure_reply(status::not_acceptable(accept)))
}

/// Whether any choice of an `Accept` header is satisfied by JSON.
fn accepts_json(accept: &str) -> bool {
    accept.split(',').any(|choice| {
        let media = choice
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        matches!(
            media.as_str(),
            "" | "application/json" | "*/*" | "application/*"
        )
    })
}

/// The resource part of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target<'a> {
    resource: &'a str,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    subresource: Option<&'a str>,
}

fn parse_target<'a>(rest: &[&'a str]) -> Option<Target<'a>> {
    let (namespace, tail) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(*ns), tail),
        tail => (None, tail),
    };
    let (resource, name_and_sub) = tail.split_first()?;
    if name_and_sub.len() > 2 {
        return None;
    }
    Some(Target {
        resource,
        namespace,
        name: name_and_sub.first().copied(),
        subresource: name_and_sub.get(1).copied(),
    })
}

fn verb_of(method: &str, has_name: bool, watch: bool) -> &'static str {
    match (method, has_name) {
        ("GET", true) => "get",
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
}

fn resource(
    store: &mut Store,
    grant: &Grant,
    (group, version): (&str, &str),
    rest: &[&str],
    request: &RecordedRequest,
) -> Reply {
    let Some(target) = parse_target(rest) else {
        return page_not_found();
    };
    let Some(rtype) = store
        .resource_type(group, version, target.resource)
        .cloned()
    else {
        return page_not_found();
    };
    let scope_fits = rtype.namespaced || target.namespace.is_none();
    let named_without_namespace =
        rtype.namespaced && target.namespace.is_none() && target.name.is_some();
    if !scope_fits || named_without_namespace {
        return page_not_found();
    }
    let watch = matches!(request.query_param("watch").as_deref(), Some("true" | "1"));
    let verb = verb_of(&request.method, target.name.is_some(), watch);
    let attributes = Attributes {
        verb,
        group,
        resource: target.resource,
        namespace: target.namespace,
        name: target.name,
    };
    let gr = GroupResource {
        group,
        resource: target.resource,
    };
    if !grant.allows(&attributes) {
        let why = denial_reason(&grant.user, &attributes);
        return failure_reply(status::forbidden(gr, target.name, &why));
    }
    if let Some(refused) = negotiated(request) {
        return refused;
    }
    let table = request.header("accept").is_some_and(table::wants_table);
    let writes = matches!(verb, "create" | "update" | "patch" | "delete");
    // A DELETE may say it in its DeleteOptions body instead of the query.
    let body_dry_run = (verb == "delete")
        .then(|| request.body_json())
        .flatten()
        .and_then(|b| b.get("dryRun").cloned())
        .and_then(|d| d.as_array().and_then(|a| a.first().cloned()))
        .and_then(|d| d.as_str().map(str::to_string));
    let dry_run = match request.query_param("dryRun").or(body_dry_run).as_deref() {
        None => false,
        Some("All") if writes => true,
        Some(other) => {
            return failure_reply(status::bad_request(&format!(
                "Invalid dryRun value: {other:?}: supported values: \"All\""
            )))
        }
    };
    if dry_run {
        // The write runs on a copy of the store, which is then dropped.
        let mut scratch = store.clone();
        return write(&mut scratch, &rtype, verb, target, request);
    }
    match (verb, target.name, target.subresource) {
        ("get", Some(name), None) => get(store, &rtype, target.namespace, name, table),
        ("list", None, None) => list(store, &rtype, target.namespace, request, table),
        _ => write(store, &rtype, verb, target, request),
    }
}

/// The writes: create, update, patch, delete.
fn write(
    store: &mut Store,
    rtype: &ResourceType,
    verb: &str,
    target: Target<'_>,
    request: &RecordedRequest,
) -> Reply {
    let rtype = rtype.clone();
    match (verb, target.name, target.subresource) {
        ("create", None, None) => create(store, &rtype, target.namespace, &request.body),
        ("update", Some(name), None) => {
            update(store, &rtype, target.namespace, name, &request.body)
        }
        ("patch", Some(name), None) => patch_object(store, &rtype, target.namespace, name, request),
        ("delete", Some(name), None) => delete(store, &rtype, target.namespace, name),
        _ => failure_reply(status::method_not_allowed()),
    }
}

fn group_resource(rtype: &ResourceType) -> GroupResource<'_> {
    GroupResource {
        group: &rtype.group,
        resource: &rtype.plural,
    }
}

fn get(
    store: &Store,
    rtype: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    as_table: bool,
) -> Reply {
    match store.get(rtype, namespace, name) {
        Some(object) if as_table => json_reply(
            200,
            &table::table(
                rtype,
                std::slice::from_ref(object),
                &store.resource_version(),
            ),
        ),
        Some(object) => json_reply(200, object),
        None => failure_reply(status::not_found(group_resource(rtype), name)),
    }
}

fn list(
    store: &Store,
    rtype: &ResourceType,
    namespace: Option<&str>,
    request: &RecordedRequest,
    as_table: bool,
) -> Reply {
    let labels = LabelSelector::parse(&request.query_param("labelSelector").unwrap_or_default());
    let fields = FieldSelector::parse(&request.query_param("fieldSelector").unwrap_or_default());
    let (labels, fields) = match (labels, fields) {
        (Ok(labels), Ok(fields)) => (labels, fields),
        (Err(message), _) | (_, Err(message)) => {
            return failure_reply(status::bad_request(&message))
        }
    };
    let matching: Vec<Value> = store
        .list(rtype, namespace)
        .filter(|object| labels.matches(object) && fields.matches(object))
        .cloned()
        .collect();
    let Ok((page, next)) = paginate(matching, request) else {
        return failure_reply(status::bad_request("invalid continue token"));
    };
    let resource_version = store.resource_version();
    if as_table {
        let mut body = table::table(rtype, &page, &resource_version);
        if let Some(next) = next {
            body["metadata"]["continue"] = json!(next);
        }
        return json_reply(200, &body);
    }
    let items: Vec<Value> = page
        .into_iter()
        .map(|item| list_item(rtype, item))
        .collect();
    let mut metadata = json!({"resourceVersion": resource_version});
    if let Some(next) = next {
        metadata["continue"] = json!(next);
    }
    json_reply(
        200,
        &json!({
            "kind": format!("{}List", rtype.kind),
            "apiVersion": rtype.api_version(),
            "metadata": metadata,
            "items": items,
        }),
    )
}

/// Built-in list items have no `kind`/`apiVersion` on a real server; custom resources keep them.
fn list_item(rtype: &ResourceType, mut item: Value) -> Value {
    if !rtype.items_carry_type() {
        if let Some(fields) = item.as_object_mut() {
            fields.remove("kind");
            fields.remove("apiVersion");
        }
    }
    item
}

/// Applies `limit` and `continue` (an offset here); returns the page and the next token.
fn paginate(
    items: Vec<Value>,
    request: &RecordedRequest,
) -> Result<(Vec<Value>, Option<String>), ()> {
    let offset = match request.query_param("continue").filter(|c| !c.is_empty()) {
        Some(token) => token.parse::<usize>().map_err(|_| ())?,
        None => 0,
    };
    let limit = request
        .query_param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let end = offset.saturating_add(page.len());
    Ok((page, (end < total).then(|| end.to_string())))
}

fn create(store: &mut Store, rtype: &ResourceType, namespace: Option<&str>, body: &[u8]) -> Reply {
    let object = match parse_body(body) {
        Ok(object) => object,
        Err(reply) => return reply,
    };
    match store.create(rtype, namespace, object) {
        Ok(created) => json_reply(201, &created),
        Err(error) => write_failure(rtype, error),
    }
}

fn write_failure(rtype: &ResourceType, error: WriteError) -> Reply {
    let gr = group_resource(rtype);
    failure_reply(match error {
        WriteError::AlreadyExists(name) => status::already_exists(gr, &name),
        WriteError::NotFound(name) => status::not_found(gr, &name),
        WriteError::Conflict(name) => status::conflict(gr, &name),
        WriteError::Invalid(message) => status::bad_request(&message),
    })
}

fn parse_body(body: &[u8]) -> Result<Value, Reply> {
    serde_json::from_slice(body).map_err(|error| {
        failure_reply(status::bad_request(&format!(
            "the request body is not JSON: {error}"
        )))
    })
}

fn update(
    store: &mut Store,
    rtype: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    body: &[u8],
) -> Reply {
    let object = match parse_body(body) {
        Ok(object) => object,
        Err(reply) => return reply,
    };
    match store.replace(rtype, namespace, name, object) {
        Ok(updated) => json_reply(200, &updated),
        Err(error) => write_failure(rtype, error),
    }
}

fn patch_object(
    store: &mut Store,
    rtype: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    request: &RecordedRequest,
) -> Reply {
    let media = request
        .header("content-type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let accepted = patch::accepted(!rtype.items_carry_type());
    if !accepted.contains(&media.as_str()) {
        return failure_reply(status::unsupported_media_type(accepted));
    }
    let changes = if media == patch::APPLY {
        match patch::parse_apply_body(&request.body) {
            Ok(config) => config,
            Err(message) => return failure_reply(status::bad_request(&message)),
        }
    } else {
        match parse_body(&request.body) {
            Ok(changes) => changes,
            Err(reply) => return reply,
        }
    };
    let existing = store.get(rtype, namespace, name).cloned();
    if media == patch::APPLY {
        let Some(manager) = request
            .query_param("fieldManager")
            .filter(|m| !m.is_empty())
        else {
            return failure_reply(status::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        };
        return apply_object(store, rtype, namespace, name, existing, &changes, &manager);
    }
    let Some(mut object) = existing else {
        return failure_reply(status::not_found(group_resource(rtype), name));
    };
    match media.as_str() {
        patch::JSON_PATCH => {
            if let Err(message) = patch::json_patch(&mut object, &changes) {
                return failure_reply(status::invalid_patch(&message));
            }
        }
        patch::STRATEGIC => patch::strategic(&mut object, &changes),
        _ => patch::merge(&mut object, &changes),
    }
    // A patch that changes nothing stores nothing (the resourceVersion stays), as on a real
    // server.
    if store.get(rtype, namespace, name) == Some(&object) {
        return json_reply(200, &object);
    }
    // A patch is not a compare-and-swap: the stored version is the one patched.
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    match store.replace(rtype, namespace, name, object) {
        Ok(patched) => json_reply(200, &patched),
        Err(error) => write_failure(rtype, error),
    }
}

/// Server-side apply: creates a missing object, else applies onto the stored one.
fn apply_object(
    store: &mut Store,
    rtype: &ResourceType,
    namespace: Option<&str>,
    name: &str,
    existing: Option<Value>,
    config: &Value,
    manager: &str,
) -> Reply {
    let body_name = config.pointer("/metadata/name").and_then(Value::as_str);
    if body_name.is_some_and(|n| n != name) {
        return failure_reply(status::bad_request(&format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            body_name.unwrap_or_default()
        )));
    }
    match existing {
        None => {
            let mut object = config.clone();
            if let Some(fields) = object.as_object_mut() {
                let metadata = fields.entry("metadata").or_insert_with(|| json!({}));
                if let Some(metadata) = metadata.as_object_mut() {
                    metadata.insert("name".into(), json!(name));
                }
            }
            patch::record_manager(&mut object, manager, patch::fields_v1(config), config);
            match store.create(rtype, namespace, object) {
                Ok(created) => json_reply(201, &created),
                Err(error) => write_failure(rtype, error),
            }
        }
        Some(mut object) => {
            let before = object.clone();
            patch::apply(&mut object, config, manager);
            if without_apply_times(&before) == without_apply_times(&object) {
                return json_reply(200, &before);
            }
            if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("resourceVersion");
            }
            match store.replace(rtype, namespace, name, object) {
                Ok(applied) => json_reply(200, &applied),
                Err(error) => write_failure(rtype, error),
            }
        }
    }
}

/// An object without the `time` of its managed fields entries (a re-apply of the same
/// configuration changes nothing).
fn without_apply_times(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(entries) = copy
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        for entry in entries {
            if let Some(fields) = entry.as_object_mut() {
                fields.remove("time");
            }
        }
    }
    copy
}

fn delete(store: &mut Store, rtype: &ResourceType, namespace: Option<&str>, name: &str) -> Reply {
    match store.delete(rtype, namespace, name) {
        Some(object) => {
            let uid = object.pointer("/metadata/uid").and_then(Value::as_str);
            json_reply(200, &status::deleted(group_resource(rtype), name, uid))
        }
        None => failure_reply(status::not_found(group_resource(rtype), name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube_api::auth::{Rule, Tokens};

    fn state_with_token(rules: Vec<Rule>) -> State {
        let mut tokens = Tokens::default();
        tokens.insert(
            "t".into(),
            Grant {
                user: "system:serviceaccount:ns:sa".into(),
                rules,
            },
        );
        State {
            store: Store::default(),
            tokens,
            requests: Vec::new(),
            tokens_issued: 0,
            faults: Default::default(),
        }
    }

    fn request(method: &str, target: &str, body: &str) -> RecordedRequest {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (target.to_string(), None),
        };
        RecordedRequest {
            method: method.into(),
            path,
            query,
            http_version: "HTTP/1.1".into(),
            headers: vec![("authorization".into(), "Bearer t".into())],
            body: body.as_bytes().to_vec(),
            status: 0,
            received: std::time::Instant::now(),
        }
    }

    fn body(reply: &Reply) -> Value {
        serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
    }

    #[test]
    fn targets() {
        let t = parse_target(&["namespaces", "ns", "secrets", "x"]).unwrap();
        assert_eq!(
            (t.resource, t.namespace, t.name),
            ("secrets", Some("ns"), Some("x"))
        );
        let t = parse_target(&["namespaces", "ns"]).unwrap();
        assert_eq!(
            (t.resource, t.namespace, t.name),
            ("namespaces", None, Some("ns"))
        );
        let t = parse_target(&["secrets"]).unwrap();
        assert_eq!((t.resource, t.namespace, t.name), ("secrets", None, None));
        assert!(parse_target(&["namespaces", "ns", "pods", "p", "log", "x"]).is_none());
    }

    #[test]
    fn forbidden_comes_before_not_found() {
        let mut state = state_with_token(vec![Rule::new(&["get"], &["configmaps"])]);
        let reply = route(
            &mut state,
            "a",
            &request("GET", "/api/v1/namespaces/ns/secrets/missing", ""),
        );
        assert_eq!(reply.code, 403);
        assert_eq!(body(&reply)["reason"], "Forbidden");
        let reply = route(
            &mut state,
            "a",
            &request("GET", "/api/v1/namespaces/ns/configmaps/missing", ""),
        );
        assert_eq!(reply.code, 404);
        assert_eq!(body(&reply)["message"], "configmaps \"missing\" not found");
    }

    #[test]
    fn lists_filter_and_page() {
        let mut state = state_with_token(vec![Rule::all()]);
        for (name, app) in [("a", "x"), ("b", "y"), ("c", "x")] {
            let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns", "labels": {"app": app}}});
            state.store.seed(object).unwrap();
        }
        let reply = route(
            &mut state,
            "a",
            &request(
                "GET",
                "/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dx",
                "",
            ),
        );
        let names: Vec<Value> = body(&reply)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("a"), json!("c")]);
        assert!(
            body(&reply)["items"][0].get("kind").is_none(),
            "core list items carry no kind"
        );
        let reply = route(
            &mut state,
            "a",
            &request("GET", "/api/v1/configmaps?limit=2", ""),
        );
        assert_eq!(body(&reply)["items"].as_array().unwrap().len(), 2);
        assert_eq!(body(&reply)["metadata"]["continue"], "2");
        let reply = route(
            &mut state,
            "a",
            &request("GET", "/api/v1/configmaps?limit=2&continue=2", ""),
        );
        assert_eq!(body(&reply)["items"][0]["metadata"]["name"], "c");
        assert!(body(&reply)["metadata"].get("continue").is_none());
    }

    #[test]
    fn unknown_paths_and_tokens() {
        let mut state = state_with_token(vec![Rule::all()]);
        assert_eq!(
            route(
                &mut state,
                "a",
                &request("GET", "/apis/nope.io/v1/things", "")
            )
            .code,
            404
        );
        let mut anonymous = request("GET", "/api", "");
        anonymous.headers.clear();
        assert_eq!(route(&mut state, "a", &anonymous).code, 401);
        assert_eq!(route(&mut state, "a", &anonymous_version()).code, 200);
    }

    #[test]
    fn protobuf_only_is_not_acceptable_but_unknown_paths_stay_404() {
        let mut state = state_with_token(vec![Rule::all()]);
        let mut protobuf = request("GET", "/api/v1/namespaces/ns/secrets/x", "");
        let accept = (
            "accept".to_string(),
            "application/vnd.kubernetes.protobuf".to_string(),
        );
        protobuf.headers.push(accept.clone());
        assert_eq!(route(&mut state, "a", &protobuf).code, 406);
        let mut unknown = request("GET", "/openapi/v2", "");
        unknown.headers.push(accept);
        assert_eq!(route(&mut state, "a", &unknown).code, 404);
    }

    fn anonymous_version() -> RecordedRequest {
        let mut r = request("GET", "/version", "");
        r.headers.clear();
        r
    }

    #[test]
    fn create_then_conflict() {
        let mut state = state_with_token(vec![Rule::all()]);
        let event = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"e"},"reason":"HookSucceeded"}"#;
        let reply = route(
            &mut state,
            "a",
            &request("POST", "/api/v1/namespaces/ns/events", event),
        );
        assert_eq!(reply.code, 201);
        let reply = route(
            &mut state,
            "a",
            &request("POST", "/api/v1/namespaces/ns/events", event),
        );
        assert_eq!(reply.code, 409);
        assert_eq!(body(&reply)["message"], "events \"e\" already exists");
    }
}
