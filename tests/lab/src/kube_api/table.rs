//! Server-side printing: the `meta.k8s.io/v1` `Table` kubectl asks for when it prints a human
//! table (`kubectl get secrets` without `-o`).
//!
//! Columns follow the real server for Secrets (`Name`, `Type`, `Data`, `Age`) and ConfigMaps
//! (`Name`, `Data`, `Age`); every other type gets `Name` and `Age`, which is what the server
//! prints for a custom resource without printer columns. Each row carries the object's
//! metadata as a `PartialObjectMetadata`, the default `includeObject=Metadata`.

use super::store::ResourceType;
use serde_json::{json, Value};

/// Whether an `Accept` header asks for a Table (`application/json;as=Table;v=v1;g=meta.k8s.io`).
pub(crate) fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|choice| {
        let params: Vec<String> = choice
            .split(';')
            .map(|p| p.trim().to_ascii_lowercase())
            .collect();
        params.iter().any(|p| p == "as=table") && params.iter().any(|p| p == "g=meta.k8s.io")
    })
}

fn column(name: &str, kind: &str, format: &str, description: &str) -> Value {
    json!({"name": name, "type": kind, "format": format, "description": description, "priority": 0})
}

fn columns(rtype: &ResourceType) -> Vec<Value> {
    let name = column(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace.",
    );
    let age = column("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.");
    let data = column("Data", "string", "", "Number of items in the data.");
    match (rtype.group.as_str(), rtype.kind.as_str()) {
        ("", "Secret") => vec![
            name,
            column("Type", "string", "", "The type of the secret"),
            data,
            age,
        ],
        ("", "ConfigMap") => vec![name, data, age],
        _ => vec![name, age],
    }
}

fn cells(rtype: &ResourceType, object: &Value) -> Vec<Value> {
    let name = json!(object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or(""));
    let age = json!(age(object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)));
    let data_count = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_object)
            .map_or(0, |m| m.len())
    };
    match (rtype.group.as_str(), rtype.kind.as_str()) {
        ("", "Secret") => {
            let secret_type = object
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("Opaque");
            vec![name, json!(secret_type), json!(data_count("data")), age]
        }
        ("", "ConfigMap") => vec![
            name,
            json!(data_count("data") + data_count("binaryData")),
            age,
        ],
        _ => vec![name, age],
    }
}

/// A Table of `objects`.
pub(crate) fn table(rtype: &ResourceType, objects: &[Value], resource_version: &str) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            json!({
                "cells": cells(rtype, object),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns(rtype),
        "rows": rows,
    })
}

/// The age column: `45s`, `12m`, `5h`, `3d`, or `<unknown>`.
fn age(created: Option<&str>) -> String {
    let Some(created) = created.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()) else {
        return "<unknown>".into();
    };
    let seconds = (chrono::Utc::now() - created.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_header_asks_for_a_table() {
        assert!(wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
        assert!(!wants_table("application/json"));
    }

    #[test]
    fn secret_rows_have_type_and_data_count() {
        let rtype = ResourceType {
            group: String::new(),
            version: "v1".into(),
            plural: "secrets".into(),
            kind: "Secret".into(),
            namespaced: true,
            short_names: vec![],
        };
        let secret = json!({"metadata": {"name": "s", "creationTimestamp": "2000-01-01T00:00:00Z"}, "type": "Opaque", "data": {"a": "", "b": ""}});
        let t = table(&rtype, &[secret], "7");
        assert_eq!(t["rows"][0]["cells"][0], "s");
        assert_eq!(t["rows"][0]["cells"][1], "Opaque");
        assert_eq!(t["rows"][0]["cells"][2], 2);
        assert!(t["rows"][0]["cells"][3].as_str().unwrap().ends_with('d'));
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 4);
    }
}
