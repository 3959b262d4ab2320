//! PATCH bodies, by media type, as kube-apiserver accepts them.
//!
//! - `application/merge-patch+json` (RFC 7386): every resource. `null` removes a key, maps
//!   merge, anything else replaces.
//! - `application/strategic-merge-patch+json`: built-in types only, as on a real server (custom
//!   resources answer 415). Maps merge as in a merge patch; a list whose items are maps carrying
//!   the list's merge key (`name` for containers, env, volumes...; `containerPort` for ports;
//!   `mountPath` for volumeMounts; `type` for conditions; `ip` for hostAliases) is merged item by
//!   item on that key, and an item `{"$patch": "delete", KEY: ...}` removes the matching item.
//!   A map with `"$patch": "replace"` replaces instead of merging. Other lists are replaced.
//!   (The real server takes merge keys from each type's schema; these are the keys of the
//!   built-in types the lab serves.)
//! - `application/json-patch+json` (RFC 6902): `add`, `remove`, `replace`, `move`, `copy` and
//!   `test`, with RFC 6901 pointers (`~0`, `~1`, `-` to append); a failed operation is a 422
//!   with the server's wording, and nothing is changed.
//! - `application/apply-patch+yaml` (server-side apply): the body is the applied configuration
//!   (YAML or JSON). A missing object is created. Otherwise the configuration is merged in as
//!   a strategic merge, and the fields this field manager applied last time but no longer
//!   applies are removed. Each manager's fields are recorded in `metadata.managedFields`
//!   (`operation: Apply`, `fieldsType: FieldsV1`, maps as `f:` sets, lists as leaves).
//!   Conflicts between managers are not detected (`force` changes nothing).

use serde_json::{json, Map, Value};

pub(crate) const MERGE: &str = "application/merge-patch+json";
pub(crate) const STRATEGIC: &str = "application/strategic-merge-patch+json";
pub(crate) const JSON_PATCH: &str = "application/json-patch+json";
pub(crate) const APPLY: &str = "application/apply-patch+yaml";

/// The media types a resource accepts for PATCH.
pub(crate) fn accepted(built_in: bool) -> &'static [&'static str] {
    if built_in {
        &[JSON_PATCH, MERGE, STRATEGIC, APPLY]
    } else {
        &[JSON_PATCH, MERGE, APPLY]
    }
}

/// Applies a merge patch: `null` removes a key, maps merge, anything else replaces.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(fields) = target {
        for (key, change) in changes {
            if change.is_null() {
                fields.remove(key);
            } else {
                merge(fields.entry(key.clone()).or_insert(Value::Null), change);
            }
        }
    }
}

/// The merge key of a list field of a built-in type, by the field's name.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "ports" => Some("containerPort"),
        "volumeMounts" => Some("mountPath"),
        "conditions" => Some("type"),
        "hostAliases" => Some("ip"),
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "secrets" => Some("name"),
        _ => None,
    }
}

/// Applies a strategic merge patch (see the module documentation).
pub(crate) fn strategic(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if changes.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replacement = changes.clone();
        replacement.remove("$patch");
        *target = Value::Object(replacement);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(fields) = target else {
        return;
    };
    for (key, change) in changes {
        if key.starts_with('$') {
            continue;
        }
        match (change, merge_key(key), fields.get_mut(key)) {
            (Value::Null, _, _) => {
                fields.remove(key);
            }
            (Value::Array(items), Some(mkey), Some(Value::Array(current))) => {
                merge_keyed_list(current, items, mkey);
            }
            (Value::Array(items), Some(_), _) => {
                let kept: Vec<Value> = items
                    .iter()
                    .filter(|i| i.get("$patch").is_none())
                    .cloned()
                    .collect();
                fields.insert(key.clone(), Value::Array(kept));
            }
            (Value::Object(_), _, Some(existing)) => strategic(existing, change),
            (Value::Object(_), _, None) => {
                let mut fresh = Value::Object(Map::new());
                strategic(&mut fresh, change);
                fields.insert(key.clone(), fresh);
            }
            _ => {
                fields.insert(key.clone(), change.clone());
            }
        }
    }
}

fn merge_keyed_list(current: &mut Vec<Value>, items: &[Value], mkey: &str) {
    for item in items {
        let Some(wanted) = item.get(mkey) else {
            current.push(item.clone());
            continue;
        };
        let position = current.iter().position(|c| c.get(mkey) == Some(wanted));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                current.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic(&mut current[i], item),
            (None, false) => {
                let mut fresh = Value::Object(Map::new());
                strategic(&mut fresh, item);
                current.push(fresh);
            }
        }
    }
}

/// Why a JSON patch could not be applied (the server answers 422 with this message).
pub(crate) type PatchError = String;

/// Applies an RFC 6902 JSON patch to a copy of `target`; `target` is replaced only when every
/// operation succeeded.
pub(crate) fn json_patch(target: &mut Value, operations: &Value) -> Result<(), PatchError> {
    let Value::Array(operations) = operations else {
        return Err("the patch is not a list of operations".into());
    };
    let mut doc = target.clone();
    for operation in operations {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("");
        let path = operation
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("missing path in operation {operation}"))?;
        let value = || {
            operation
                .get("value")
                .cloned()
                .ok_or_else(|| format!("missing value for operation {op} at {path}"))
        };
        let from = || {
            operation
                .get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("missing from for operation {op} at {path}"))
        };
        match op {
            "add" => add(&mut doc, path, value()?)?,
            "remove" => {
                remove(&mut doc, path)?;
            }
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, value()?)?;
            }
            "move" => {
                let moved = remove(&mut doc, from()?)?;
                add(&mut doc, path, moved)?;
            }
            "copy" => {
                let copied = doc
                    .pointer(from()?)
                    .cloned()
                    .ok_or_else(|| format!("doc is missing from path: {}", from().unwrap_or("")))?;
                add(&mut doc, path, copied)?;
            }
            "test" => {
                let found = doc.pointer(path);
                if found != Some(&value()?) {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    *target = doc;
    Ok(())
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The parent of `path` and the last token.
fn split_pointer(path: &str) -> Result<(&str, String), PatchError> {
    if path.is_empty() {
        return Err("the root cannot be added or removed".into());
    }
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("invalid pointer {path}"))?;
    Ok((parent, unescape(last)))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    let (parent, last) = split_pointer(path)?;
    let node = doc
        .pointer_mut(parent)
        .ok_or_else(|| format!("doc is missing path: {path}: missing value"))?;
    match node {
        Value::Object(fields) => {
            fields.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= items.len())
                    .ok_or_else(|| {
                        format!("Unable to access invalid index: {last}: invalid index referenced")
                    })?
            };
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!("doc is missing path: {path}: missing value")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let (parent, last) = split_pointer(path)?;
    let missing = || format!("Unable to remove nonexistent key: {last}: missing value");
    let node = doc.pointer_mut(parent).ok_or_else(missing)?;
    match node {
        Value::Object(fields) => fields.remove(&last).ok_or_else(missing),
        Value::Array(items) => {
            let index = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < items.len())
                .ok_or_else(|| {
                    format!("Unable to access invalid index: {last}: invalid index referenced")
                })?;
            Ok(items.remove(index))
        }
        _ => Err(missing()),
    }
}

/// Parses an apply body: YAML (which includes JSON).
pub(crate) fn parse_apply_body(body: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        return Ok(value);
    }
    serde_saphyr::from_str::<Value>(text).map_err(|e| format!("error decoding YAML: {e}"))
}

/// The fields of an applied configuration as a FieldsV1 set: `{"f:data": {"f:k": {}}}`.
pub(crate) fn fields_v1(config: &Value) -> Value {
    match config {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind"))
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (format!("f:{k}"), fields_v1(v)))
                .collect(),
        ),
        _ => json!({}),
    }
}

/// Removes from `object` the fields in `old` (a FieldsV1 set) that `new` no longer has.
fn remove_dropped(object: &mut Value, old: &Value, new: &Value) {
    let (Value::Object(old), Some(fields)) = (old, object.as_object_mut()) else {
        return;
    };
    for (key, old_child) in old {
        let Some(name) = key.strip_prefix("f:") else {
            continue;
        };
        match new.get(key) {
            None => {
                // Never the object's identity: name, namespace, uid live in metadata.
                if !matches!(name, "name" | "namespace" | "metadata") {
                    fields.remove(name);
                }
            }
            Some(new_child) => {
                if let Some(child) = fields.get_mut(name) {
                    remove_dropped(child, old_child, new_child);
                }
            }
        }
    }
}

/// Server-side apply of `config` by `manager` onto `existing` (see the module documentation).
pub(crate) fn apply(existing: &mut Value, config: &Value, manager: &str) {
    let new_fields = fields_v1(config);
    let previous = existing
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .and_then(|entries| {
            entries.iter().find(|e| {
                e.get("manager").and_then(Value::as_str) == Some(manager)
                    && e.get("operation").and_then(Value::as_str) == Some("Apply")
            })
        })
        .and_then(|e| e.get("fieldsV1"))
        .cloned();
    if let Some(old) = previous {
        remove_dropped(existing, &old, &new_fields);
    }
    strategic(existing, config);
    record_manager(existing, manager, new_fields, config);
}

/// Records (or replaces) `manager`'s Apply entry in `metadata.managedFields`.
pub(crate) fn record_manager(object: &mut Value, manager: &str, fields: Value, config: &Value) {
    let api_version = config
        .get("apiVersion")
        .cloned()
        .unwrap_or_else(|| json!("v1"));
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let entries = metadata.entry("managedFields").or_insert_with(|| json!([]));
    if let Value::Array(entries) = entries {
        entries.retain(|e| {
            !(e.get("manager").and_then(Value::as_str) == Some(manager)
                && e.get("operation").and_then(Value::as_str) == Some("Apply"))
        });
        entries.push(json!({
            "manager": manager,
            "operation": "Apply",
            "apiVersion": api_version,
            "time": super::store::now_rfc3339(),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge(
            &mut target,
            &json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"x": 1}}),
        );
        assert_eq!(
            target,
            json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"x": 1}})
        );
    }

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}
        ], "args": ["x"]}});
        strategic(
            &mut pod,
            &json!({"spec": {"containers": [
                {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"},
                {"name": "a", "$patch": "delete"}
            ], "args": ["y"]}}),
        );
        assert_eq!(
            pod,
            json!({"spec": {"containers": [
                {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}
            ], "args": ["y"]}})
        );
        let mut map = json!({"data": {"a": "1", "b": "2"}});
        strategic(&mut map, &json!({"data": {"$patch": "replace", "c": "3"}}));
        assert_eq!(map, json!({"data": {"c": "3"}}));
    }

    #[test]
    fn json_patch_follows_rfc_6902_and_is_all_or_nothing() {
        let mut doc = json!({"data": {"a": "1"}, "l": [1, 2]});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/data/b", "value": "2"},
                {"op": "replace", "path": "/data/a", "value": "9"},
                {"op": "add", "path": "/l/-", "value": 3},
                {"op": "remove", "path": "/l/0"},
                {"op": "copy", "from": "/data/b", "path": "/data/c"},
                {"op": "move", "from": "/data/c", "path": "/data/d~1e"},
                {"op": "test", "path": "/data/a", "value": "9"}
            ]),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"data": {"a": "9", "b": "2", "d/e": "2"}, "l": [2, 3]})
        );
        let before = doc.clone();
        let err = json_patch(
            &mut doc,
            &json!([{"op": "add", "path": "/data/x", "value": 1}, {"op": "remove", "path": "/nope"}]),
        )
        .unwrap_err();
        assert!(err.contains("nonexistent"), "{err}");
        assert_eq!(doc, before);
    }

    #[test]
    fn apply_removes_what_the_manager_no_longer_applies() {
        let mut object = json!({"metadata": {"name": "m"}, "data": {"other": "kept"}});
        apply(
            &mut object,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"a": "1", "b": "2"}}),
            "hook",
        );
        assert_eq!(object["data"], json!({"other": "kept", "a": "1", "b": "2"}));
        apply(
            &mut object,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"a": "3"}}),
            "hook",
        );
        assert_eq!(object["data"], json!({"other": "kept", "a": "3"}));
        let managed = object["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(managed.len(), 1);
        assert_eq!(managed[0]["fieldsV1"]["f:data"], json!({"f:a": {}}));
    }
}
