//! `workload.yml` from the inventory service's JSON, as Forklift's controller makes it.
//!
//! Forklift reads the VM's record from its inventory service (JSON, Go `json` tags: `ipAddress`,
//! embedded structs flattened into their parent) into its Go types and writes it with yaml.v2,
//! which knows no `json` tags: every key is the Go field name lowercased (`ipaddress`), every
//! embedded struct is a nested mapping named after its type (`vm1`, `vm0`, `resource`), and a
//! field the JSON did not carry is written with its zero value (`""`, `0`, `false`, `[]`, `{}`).
//!
//! The Go types are not available here, but their two serialisations are: each provider's shape
//! ([`super::shapes`]) holds a record as JSON and the `workload.yml` Forklift made from it. Both
//! are walked together to learn, per mapping, which JSON key fills which YAML key, which
//! mappings are embedded structs (their keys sit in the parent JSON object) and each field's
//! zero value; Go's rule that a JSON key fills the shallowest field of that name decides between
//! an outer field and one inside an embedded struct (oVirt's `cluster` object versus the VM's
//! `cluster` id). A new record is then converted with what was learned.
//!
//! Limits: where the reference record has an empty list or a null pointer, the element's type is
//! unknown; such values are converted with their keys lowercased, which is yaml.v2's result for
//! structs without embedded structs or renamed fields.

use super::shapes::Provider;
use crate::{Map, Value};
use std::collections::HashSet;

/// What was learned about one value's Go type.
#[derive(Debug, Clone)]
enum Schema {
    /// A struct: its fields in declaration order.
    Struct(Vec<Field>),
    /// A Go map: keys kept as they are.
    Map(Box<Schema>),
    List(Box<Schema>),
    /// A string, number or bool: its zero value.
    Scalar(Value),
    /// Nothing to learn from (a nil pointer, an empty list's element).
    Unknown,
}

#[derive(Debug, Clone)]
struct Field {
    /// yaml.v2's key: the Go field name lowercased.
    key: String,
    source: Source,
    schema: Schema,
}

#[derive(Debug, Clone)]
enum Source {
    /// Filled from this JSON key (matched case-insensitively, as Go's json does).
    Json(String),
    /// An embedded struct: its fields come from the same JSON object.
    Embedded,
    /// Not in the JSON: the zero value.
    Absent,
}

/// The `workload.yml` content Forklift writes for `record`, a VM of `provider` as the inventory
/// service returns it. A record wrapped as `{"input": {...}}` (as the MTV documentation prints
/// it) is unwrapped.
pub fn workload_from_inventory(provider: Provider, record: &Value) -> Result<Value, String> {
    let record = match record {
        Value::Object(m) if m.len() == 1 && m.get("input").is_some_and(Value::is_object) => {
            &m["input"]
        }
        other => other,
    };
    if !record.is_object() {
        return Err(format!(
            "the inventory record must be a JSON object (the VM as `GET .../workloads/<id>` returns it), not {}",
            kind_name(record)
        ));
    }
    let schema = learn(provider.workload(), Some(provider.inventory()));
    Ok(convert(&schema, Some(record)))
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Learns the type behind `yaml` (yaml.v2's output) from it and `json` (the same value as
/// JSON, when there is one).
fn learn(yaml: &Value, json: Option<&Value>) -> Schema {
    match yaml {
        Value::Object(ym) => match json {
            Some(Value::Object(jm)) if is_go_map(ym, jm) => {
                let elem = ym
                    .iter()
                    .next()
                    .map(|(k, v)| learn(v, jm.get(k)))
                    .unwrap_or(Schema::Unknown);
                Schema::Map(Box::new(elem))
            }
            _ if ym.is_empty() => Schema::Map(Box::new(Schema::Unknown)),
            Some(Value::Object(jm)) => Schema::Struct(learn_struct(ym, jm)),
            _ => Schema::Struct(learn_struct(ym, &Map::new())),
        },
        Value::Array(items) => {
            let elem = match items.first() {
                Some(first) => learn(first, json.and_then(|j| j.get(0))),
                None => Schema::Unknown,
            };
            Schema::List(Box::new(elem))
        }
        Value::Null => Schema::Unknown,
        // Where the JSON had nothing, the YAML shows the type's zero (a time's is not "").
        scalar if json.is_none_or(Value::is_null) => Schema::Scalar(scalar.clone()),
        scalar => Schema::Scalar(zero_scalar(scalar)),
    }
}

/// A Go map keeps its keys: same keys as the JSON, case included, and yaml.v2 sorts them. A
/// struct's keys are lowercased field names in declaration order.
fn is_go_map(yaml: &Map, json: &Map) -> bool {
    yaml.len() == json.len()
        && yaml.keys().all(|k| json.contains_key(k))
        && yaml.keys().zip(yaml.keys().skip(1)).all(|(a, b)| a <= b)
        && yaml
            .keys()
            .any(|k| k.chars().any(|c| c.is_ascii_uppercase()) || yaml.len() == 1)
}

fn zero_scalar(value: &Value) -> Value {
    match value {
        Value::Bool(_) => Value::Bool(false),
        Value::Number(_) => Value::from(0),
        _ => Value::String(String::new()),
    }
}

/// One struct's fields. Candidates for embedded structs are the mappings whose key is no key
/// of the JSON object; every other key takes the JSON key of its name at the shallowest
/// embedding depth first (Go's rule), so an outer field shadows an embedded one.
fn learn_struct(yaml: &Map, json: &Map) -> Vec<Field> {
    let json_key = |k: &str| json.keys().find(|j| j.eq_ignore_ascii_case(k)).cloned();
    // Every key reachable through embedded candidates, with its depth, breadth first.
    let mut by_depth: Vec<(usize, Vec<String>)> = Vec::new();
    let mut level: Vec<(Vec<String>, &Map)> = vec![(Vec::new(), yaml)];
    let mut depth = 0;
    while !level.is_empty() && depth < 16 {
        let mut next = Vec::new();
        for (prefix, map) in level {
            for (k, v) in map {
                let mut path = prefix.clone();
                path.push(k.clone());
                match v {
                    Value::Object(inner) if json_key(k).is_none() && !inner.is_empty() => {
                        next.push((path, inner))
                    }
                    _ => by_depth.push((depth, path)),
                }
            }
        }
        level = next;
        depth += 1;
    }
    let mut claimed: HashSet<String> = HashSet::new();
    let mut sources: Vec<(Vec<String>, String)> = Vec::new();
    for (_, path) in &by_depth {
        let key = &path[path.len() - 1];
        if let Some(j) = json_key(key) {
            if claimed.insert(j.clone()) {
                sources.push((path.clone(), j));
            }
        }
    }
    build_fields(yaml, json, &[], &sources, &claimed)
}

fn build_fields(
    yaml: &Map,
    json: &Map,
    prefix: &[String],
    sources: &[(Vec<String>, String)],
    claimed: &HashSet<String>,
) -> Vec<Field> {
    let mut fields = Vec::new();
    for (k, v) in yaml {
        let mut path = prefix.to_vec();
        path.push(k.clone());
        let source = sources.iter().find(|(p, _)| *p == path).map(|(_, j)| j);
        let field = match (source, v) {
            (Some(j), _) => Field {
                key: k.clone(),
                source: Source::Json(j.clone()),
                schema: learn(v, json.get(j)),
            },
            (None, Value::Object(inner)) if !inner.is_empty() => {
                match renamed(inner, json, claimed) {
                    // A struct field whose json tag is not its name (`lun` is `lunStorage`).
                    Some(j) => Field {
                        key: k.clone(),
                        source: Source::Json(j.clone()),
                        schema: learn(v, json.get(&j)),
                    },
                    None => Field {
                        key: k.clone(),
                        source: Source::Embedded,
                        schema: Schema::Struct(build_fields(inner, json, &path, sources, claimed)),
                    },
                }
            }
            (None, _) => match renamed_scalar(v, json, claimed) {
                // A field whose json tag is not its name (`prefixlength` is `prefix`).
                Some(j) => Field {
                    key: k.clone(),
                    source: Source::Json(j.clone()),
                    schema: learn(v, json.get(&j)),
                },
                None => Field {
                    key: k.clone(),
                    source: Source::Absent,
                    schema: learn(v, None),
                },
            },
        };
        fields.push(field);
    }
    fields
}

/// An unclaimed JSON object whose keys are this mapping's keys, or some of them (case aside): the same struct
/// under a json tag that differs from the field name. Only for a mapping none of whose keys
/// the parent JSON object holds (an embedded struct's keys are there).
fn renamed(inner: &Map, json: &Map, claimed: &HashSet<String>) -> Option<String> {
    let flat_keys_in_parent = inner
        .keys()
        .any(|k| json.keys().any(|j| j.eq_ignore_ascii_case(k)));
    if flat_keys_in_parent {
        return None;
    }
    json.iter()
        .filter(|(j, _)| !claimed.contains(*j))
        .find(|(_, v)| {
            v.as_object().is_some_and(|o| {
                let in_json = |k: &String| o.keys().any(|j| j.eq_ignore_ascii_case(k));
                let in_yaml = |j: &String| inner.keys().any(|k| k.eq_ignore_ascii_case(j));
                // omitempty leaves the JSON sparse: its keys are a subset of the fields.
                !o.is_empty() && (inner.keys().all(in_json) || o.keys().all(in_yaml))
            })
        })
        .map(|(j, _)| j.clone())
}

/// The one unclaimed JSON key holding this same value, when the value is not a zero value
/// (zeros are everywhere and prove nothing).
fn renamed_scalar(value: &Value, json: &Map, claimed: &HashSet<String>) -> Option<String> {
    let is_zero = match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    };
    if is_zero || value.is_object() {
        return None;
    }
    let mut same = json
        .iter()
        .filter(|(j, v)| !claimed.contains(*j) && *v == value)
        .map(|(j, _)| j.clone());
    let first = same.next()?;
    same.next().is_none().then_some(first)
}

/// `json` written as yaml.v2 writes the Go value of type `schema`.
fn convert(schema: &Schema, json: Option<&Value>) -> Value {
    match schema {
        Schema::Struct(fields) => {
            // JSON null leaves a struct value at its zero, as Go's json does.
            let object = json.and_then(Value::as_object);
            let mut out = Map::new();
            for field in fields {
                let value = match &field.source {
                    Source::Json(j) => {
                        let v = object.and_then(|o| {
                            o.get(j).or_else(|| {
                                o.iter()
                                    .find(|(k, _)| k.eq_ignore_ascii_case(j))
                                    .map(|(_, v)| v)
                            })
                        });
                        convert(&field.schema, v)
                    }
                    Source::Embedded => convert(&field.schema, json),
                    Source::Absent => convert(&field.schema, None),
                };
                out.insert(field.key.clone(), value);
            }
            Value::Object(out)
        }
        Schema::Map(elem) => match json {
            Some(Value::Object(m)) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), convert(elem, Some(v))))
                    .collect(),
            ),
            _ => Value::Object(Map::new()),
        },
        Schema::List(elem) => match json {
            Some(Value::Array(items)) => {
                Value::Array(items.iter().map(|v| convert(elem, Some(v))).collect())
            }
            _ => Value::Array(Vec::new()),
        },
        // JSON null leaves a value at its zero (the reference said the field is no pointer).
        Schema::Scalar(zero) => match json {
            Some(v) if !v.is_null() => v.clone(),
            _ => zero.clone(),
        },
        Schema::Unknown => json.map(lowercase_keys).unwrap_or(Value::Null),
    }
}

fn lowercase_keys(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.to_lowercase(), lowercase_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(lowercase_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where two values differ first, as a path, for a readable failure.
    pub(crate) fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let xk: Vec<_> = x.keys().collect();
                let yk: Vec<_> = y.keys().collect();
                if xk != yk {
                    return Some(format!("{path}: keys {xk:?} != {yk:?}"));
                }
                x.iter()
                    .find_map(|(k, v)| first_difference(v, &y[k], &format!("{path}.{k}")))
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| first_difference(v, w, &format!("{path}[{i}]"))),
            _ if a == b => None,
            _ => Some(format!("{path}: {a} != {b}")),
        }
    }

    #[test]
    fn each_providers_record_converts_to_the_workload_forklift_wrote() {
        let mut diffs = Vec::new();
        for p in Provider::ALL {
            let got = workload_from_inventory(p, p.inventory()).unwrap();
            if let Some(diff) = first_difference(&got, p.workload(), "") {
                diffs.push(format!("{p}: {diff}"));
            }
        }
        assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    }
}
