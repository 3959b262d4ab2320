//! `/version` and legacy discovery: `/api`, `/api/v1`, `/apis`, `/apis/GROUP`, `/apis/GROUP/VERSION`.
//!
//! Aggregated discovery (`apidiscovery.k8s.io/v2`) is not served. kubectl 1.32 asks for it first
//! in its `Accept` header with plain `application/json` as the last choice; the answers here are
//! the legacy documents with `Content-Type: application/json`, which client-go takes as "the
//! server has no aggregated discovery" and reads as legacy.

use super::store::{ResourceType, Store};
use serde_json::{json, Value};

/// The verbs discovery advertises for every resource (what clients may try; the server answers
/// 405 for the ones it does not implement).
const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `/version`: a v1.32 server.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-hook-runner-lab",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub(crate) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

/// `/apis`.
pub(crate) fn group_list(store: &Store) -> Value {
    let groups: Vec<Value> = store
        .groups()
        .iter()
        .map(|(group, versions)| group_entry(group, versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/GROUP`, or `None` for a group the server does not serve.
pub(crate) fn group(store: &Store, name: &str) -> Option<Value> {
    let groups = store.groups();
    let (group, versions) = groups.iter().find(|(g, _)| g == name)?;
    let mut entry = group_entry(group, versions);
    if let Some(fields) = entry.as_object_mut() {
        fields.insert("kind".into(), json!("APIGroup"));
        fields.insert("apiVersion".into(), json!("v1"));
    }
    Some(entry)
}

fn resource_entry(t: &ResourceType) -> Value {
    let mut entry = json!({
        "name": t.plural,
        "singularName": t.singular(),
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": VERBS,
    });
    if !t.short_names.is_empty() {
        entry["shortNames"] = json!(t.short_names);
    }
    entry
}

/// `/api/v1` (group ``) or `/apis/GROUP/VERSION`, or `None` when nothing is served there.
pub(crate) fn resource_list(store: &Store, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = store
        .types()
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if types.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = types.into_iter().map(resource_entry).collect();
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_lists_secrets_and_seeded_groups_appear() {
        let mut store = Store::default();
        store
            .seed(json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm"}}))
            .unwrap();
        let core = resource_list(&store, "", "v1").unwrap();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        for expected in ["secrets", "configmaps", "pods", "events", "namespaces"] {
            assert!(names.contains(&expected), "{expected} in {names:?}");
        }
        let groups = group_list(&store);
        assert!(groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "kubevirt.io"));
        let vms = resource_list(&store, "kubevirt.io", "v1").unwrap();
        assert_eq!(vms["resources"][0]["name"], "virtualmachines");
        assert_eq!(vms["resources"][0]["kind"], "VirtualMachine");
        assert!(resource_list(&store, "nope.io", "v1").is_none());
    }
}
