//! PATCH bodies: JSON merge patch (RFC 7386), which also serves for strategic merge patch.
//!
//! - `application/merge-patch+json`: every resource.
//! - `application/strategic-merge-patch+json`: built-in types only, as on a real server (custom
//!   resources answer 415). It is applied as a merge patch: maps merge, lists are replaced. That
//!   is what the real strategic merge does for maps such as ConfigMap `data` and labels, not for
//!   keyed lists such as a Pod's `containers` (which it merges by name).
//! - Other types (`json-patch+json`, `apply-patch+yaml`) answer 415.

use serde_json::{Map, Value};

pub(crate) const MERGE: &str = "application/merge-patch+json";
pub(crate) const STRATEGIC: &str = "application/strategic-merge-patch+json";

/// The media types a resource accepts for PATCH.
pub(crate) fn accepted(built_in: bool) -> &'static [&'static str] {
    if built_in {
        &[MERGE, STRATEGIC]
    } else {
        &[MERGE]
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
