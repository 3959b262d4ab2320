//! A minimal OpenAPI v3 surface: just enough for kubectl to learn that the server validates
//! fields itself, so that `kubectl create -f` needs no schema download.
//!
//! kubectl (`--validate=strict`, its default) asks `/openapi/v3` for the list of group-versions,
//! then the group-version's document, and looks for the PATCH operation of the object's kind
//! (`x-kubernetes-group-version-kind`) and that operation's `fieldValidation` query parameter. When it is
//! there, kubectl sends `fieldValidation=Strict` and skips client-side validation. Without it,
//! kubectl falls back to downloading the protobuf OpenAPI v2 schema, which this server does not
//! serve, and fails. The documents here hold only those PATCH operations, no schemas; the
//! server accepts `fieldValidation` and does not validate.

use super::store::{ResourceType, Store};
use serde_json::{json, Map, Value};

/// `/openapi/v3`: where each group-version's document is.
pub(crate) fn root(store: &Store) -> Value {
    let mut paths = Map::new();
    for (prefix, _) in group_versions(store) {
        let url = format!("/openapi/v3/{prefix}?hash={:016X}", fingerprint(store));
        paths.insert(prefix, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// `api/v1`, `apis/GROUP/VERSION` for every served group-version.
fn group_versions(store: &Store) -> Vec<(String, Vec<&ResourceType>)> {
    let mut found: Vec<(String, Vec<&ResourceType>)> = Vec::new();
    for t in store.types() {
        let prefix = if t.group.is_empty() {
            format!("api/{}", t.version)
        } else {
            format!("apis/{}/{}", t.group, t.version)
        };
        match found.iter_mut().find(|(p, _)| *p == prefix) {
            Some((_, types)) => types.push(t),
            None => found.push((prefix, vec![t])),
        }
    }
    found
}

/// Changes when types are added, so that clients caching by hash see new ones.
fn fingerprint(store: &Store) -> u64 {
    store.types().len() as u64
}

/// `/openapi/v3/PREFIX` (`PREFIX` as in [`root`]), or `None` for an unknown group-version.
pub(crate) fn document(store: &Store, prefix: &str) -> Option<Value> {
    let groups = group_versions(store);
    let (_, types) = groups.iter().find(|(p, _)| p == prefix)?;
    let mut paths = Map::new();
    for t in types {
        let path = if t.namespaced {
            format!("/{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("/{prefix}/{}/{{name}}", t.plural)
        };
        paths.insert(path, patch_operation(t));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
    }))
}

fn patch_operation(t: &ResourceType) -> Value {
    json!({
        "patch": {
            "operationId": format!("patch{}", t.kind),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": t.group, "version": t.version, "kind": t.kind},
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            ],
            "responses": {"200": {"description": "OK"}},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_patch_with_field_validation() {
        let store = Store::default();
        let root = root(&store);
        assert!(root["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/api/v1?hash="));
        let doc = document(&store, "api/v1").unwrap();
        let events = &doc["paths"]["/api/v1/namespaces/{namespace}/events/{name}"];
        assert_eq!(
            events["patch"]["x-kubernetes-group-version-kind"]["kind"],
            "Event"
        );
        assert_eq!(events["patch"]["parameters"][0]["name"], "fieldValidation");
        assert_eq!(events["patch"]["parameters"][0]["in"], "query");
        assert!(doc["paths"]["/api/v1/namespaces/{name}"].is_object());
        assert!(document(&store, "apis/nope/v1").is_none());
    }
}
