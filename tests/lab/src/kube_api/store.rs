//! The server's objects and the resource types it knows.
//!
//! - Built-in types: core `v1` namespaces (cluster-scoped), secrets, configmaps, pods, events,
//!   serviceaccounts, services; `events.k8s.io/v1` events.
//! - Seeding an object of an unknown `apiVersion`/`kind` registers its type: the resource is the
//!   lowercase plural of the kind (`Plan` -> `plans`, `VirtualMachine` -> `virtualmachines`,
//!   `Policy` -> `policies`), namespaced unless it is a well-known cluster-scoped kind (`Node`,
//!   `StorageClass`, `ClusterRole`, ...), and its group/version appears in discovery.
//! - Objects are keyed by (group, resource, namespace, name) and kept sorted in that order, which
//!   is the order the real server lists in. The version is not part of the key: an object is
//!   served as it was stored, whatever version was asked (no conversion).
//! - The server fills what it owns on write: `metadata.uid`, `resourceVersion`,
//!   `creationTimestamp`, `namespace` (from the request, else `default`), a name from
//!   `generateName`, and turns a Secret's `stringData` into base64 `data`. An update keeps
//!   `uid` and `creationTimestamp` and refuses a stale `resourceVersion` (409 Conflict).

use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A resource type as discovery describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceType {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
}

impl ResourceType {
    fn new(api_version: &str, kind: &str, namespaced: bool, short_names: &[&str]) -> Self {
        let (group, version) = split_api_version(api_version);
        ResourceType {
            group: group.to_string(),
            version: version.to_string(),
            plural: plural_of(kind),
            kind: kind.to_string(),
            namespaced,
            short_names: short_names.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn singular(&self) -> String {
        self.kind.to_lowercase()
    }

    /// Whether list items carry `kind`/`apiVersion`: the real server omits them for built-in
    /// types and keeps them for custom resources.
    pub fn items_carry_type(&self) -> bool {
        !(self.group.is_empty() || self.group == "events.k8s.io")
    }
}

/// `forklift.konveyor.io/v1beta1` -> (`forklift.konveyor.io`, `v1beta1`); `v1` -> (``, `v1`).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// The lowercase English plural Kubernetes code generators use for a kind.
pub(crate) fn plural_of(kind: &str) -> String {
    let lower = kind.to_lowercase();
    let ends_in_consonant_y = lower.len() > 1
        && lower.ends_with('y')
        && !lower[..lower.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']);
    if ends_in_consonant_y {
        format!("{}ies", &lower[..lower.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// Kinds that are cluster-scoped when seeded; every other seeded kind is namespaced.
const CLUSTER_SCOPED_KINDS: [&str; 8] = [
    "Node",
    "PersistentVolume",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "VolumeSnapshotClass",
];

/// Which object a key names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

/// Why a write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteError {
    AlreadyExists(String),
    NotFound(String),
    /// The body's `resourceVersion` is not the stored one.
    Conflict(String),
    Invalid(String),
}

/// Objects and types.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    types: Vec<ResourceType>,
    objects: BTreeMap<ObjectKey, Value>,
    resource_version: u64,
    uid_counter: u64,
}

impl Default for Store {
    fn default() -> Self {
        let types = vec![
            ResourceType::new("v1", "Namespace", false, &["ns"]),
            ResourceType::new("v1", "Secret", true, &[]),
            ResourceType::new("v1", "ConfigMap", true, &["cm"]),
            ResourceType::new("v1", "Pod", true, &["po"]),
            ResourceType::new("v1", "Event", true, &["ev"]),
            ResourceType::new("v1", "ServiceAccount", true, &["sa"]),
            ResourceType::new("v1", "Service", true, &["svc"]),
            ResourceType::new("events.k8s.io/v1", "Event", true, &["ev"]),
        ];
        let mut store = Store {
            types,
            objects: BTreeMap::new(),
            resource_version: 1000,
            uid_counter: 0,
        };
        store.ensure_namespace("default");
        store
    }
}

impl Store {
    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    /// The type served at `group/version` under `plural`.
    pub fn resource_type(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The groups other than core, each with its versions, in registration order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.types.iter().filter(|t| !t.group.is_empty()) {
            match groups.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, versions)) if !versions.contains(&t.version) => {
                    versions.push(t.version.clone())
                }
                Some(_) => {}
                None => groups.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        groups
    }

    /// The type of an object by its `apiVersion` and `kind`, registering it when new.
    fn type_for(&mut self, api_version: &str, kind: &str) -> ResourceType {
        let (group, version) = split_api_version(api_version);
        if let Some(found) = self
            .types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
        {
            return found.clone();
        }
        let namespaced = !CLUSTER_SCOPED_KINDS.contains(&kind);
        let registered = ResourceType::new(api_version, kind, namespaced, &[]);
        self.types.push(registered.clone());
        registered
    }

    /// Stores an object from a manifest, replacing one of the same name.
    pub fn seed(&mut self, mut object: Value) -> Result<(), String> {
        let api_version = string_at(&object, "/apiVersion").ok_or("object without apiVersion")?;
        let kind = string_at(&object, "/kind").ok_or("object without kind")?;
        let rtype = self.type_for(&api_version, &kind);
        let key = self
            .prepare(&rtype, None, &mut object)
            .map_err(|e| match e {
                WriteError::AlreadyExists(m)
                | WriteError::NotFound(m)
                | WriteError::Conflict(m)
                | WriteError::Invalid(m) => m,
            })?;
        self.put(key, object);
        Ok(())
    }

    /// Creates an object posted to `rtype` in `namespace`; refuses a duplicate name.
    pub fn create(
        &mut self,
        rtype: &ResourceType,
        namespace: Option<&str>,
        mut object: Value,
    ) -> Result<Value, WriteError> {
        let key = self.prepare(rtype, namespace, &mut object)?;
        if self.objects.contains_key(&key) {
            return Err(WriteError::AlreadyExists(key.name));
        }
        self.put(key, object.clone());
        Ok(object)
    }

    /// Replaces a stored object (`update`). The body's name must be the URL's; a
    /// `resourceVersion` in the body must be the stored one (optimistic concurrency). The
    /// object keeps its `uid` and `creationTimestamp`.
    pub fn replace(
        &mut self,
        rtype: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        mut object: Value,
    ) -> Result<Value, WriteError> {
        let Some(current) = self.get(rtype, namespace, name).cloned() else {
            return Err(WriteError::NotFound(name.to_string()));
        };
        let Some(metadata) = object
            .as_object_mut()
            .map(|o| o.entry("metadata").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut)
        else {
            return Err(WriteError::Invalid(
                "the object is not a mapping with metadata".into(),
            ));
        };
        let body_name = metadata
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_string();
        if body_name != name {
            return Err(WriteError::Invalid(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let stored_version = current
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        let asked_version = metadata
            .get("resourceVersion")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty());
        if asked_version.is_some_and(|v| Some(v) != stored_version) {
            return Err(WriteError::Conflict(name.to_string()));
        }
        metadata.insert("name".into(), json!(name));
        for kept in ["uid", "creationTimestamp"] {
            if let Some(value) = current.pointer(&format!("/metadata/{kept}")) {
                metadata.insert(kept.into(), value.clone());
            }
        }
        let key = self.prepare(rtype, namespace, &mut object)?;
        self.put(key, object.clone());
        Ok(object)
    }

    /// Removes a stored object and returns it.
    pub fn delete(
        &mut self,
        rtype: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.resource_version += 1;
        self.objects
            .remove(&key_of(rtype, namespace.unwrap_or(""), name))
    }

    pub fn get(&self, rtype: &ResourceType, namespace: Option<&str>, name: &str) -> Option<&Value> {
        self.objects
            .get(&key_of(rtype, namespace.unwrap_or(""), name))
    }

    /// The objects of a type, in one namespace or all, in key order.
    pub fn list<'a>(
        &'a self,
        rtype: &'a ResourceType,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects
            .iter()
            .filter(move |(k, _)| k.group == rtype.group && k.resource == rtype.plural)
            .filter(move |(k, _)| namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(_, v)| v)
    }

    /// Every object of `resource` in `group`, in key order.
    pub fn all_of(&self, group: &str, resource: &str) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(k, _)| k.group == group && k.resource == resource)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn resource_version(&self) -> String {
        self.resource_version.to_string()
    }

    fn put(&mut self, key: ObjectKey, object: Value) {
        if !key.namespace.is_empty() {
            let namespace = key.namespace.clone();
            self.objects.insert(key, object);
            self.ensure_namespace(&namespace);
        } else {
            self.objects.insert(key, object);
        }
    }

    /// Makes sure a Namespace object exists for every namespace that holds objects.
    fn ensure_namespace(&mut self, namespace: &str) {
        let key = ObjectKey {
            group: String::new(),
            resource: "namespaces".into(),
            namespace: String::new(),
            name: namespace.to_string(),
        };
        if self.objects.contains_key(&key) {
            return;
        }
        let mut object = json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": namespace},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        self.stamp(&mut object);
        self.objects.insert(key, object);
    }

    /// Fills the server-owned fields and returns the object's key.
    fn prepare(
        &mut self,
        rtype: &ResourceType,
        namespace: Option<&str>,
        object: &mut Value,
    ) -> Result<ObjectKey, WriteError> {
        let Some(fields) = object.as_object_mut() else {
            return Err(WriteError::Invalid(
                "the object is not a JSON/YAML mapping".into(),
            ));
        };
        fields
            .entry("apiVersion")
            .or_insert_with(|| json!(rtype.api_version()));
        fields.entry("kind").or_insert_with(|| json!(rtype.kind));
        let metadata = fields.entry("metadata").or_insert_with(|| json!({}));
        let Some(metadata) = metadata.as_object_mut() else {
            return Err(WriteError::Invalid("metadata is not a mapping".into()));
        };
        let namespace = resolve_namespace(rtype, namespace, metadata)?;
        let name = self.resolve_name(metadata)?;
        if rtype.kind == "Secret" && rtype.group.is_empty() {
            fold_string_data(fields);
        }
        self.stamp(object);
        Ok(key_of(rtype, &namespace, &name))
    }

    fn resolve_name(&mut self, metadata: &mut Map<String, Value>) -> Result<String, WriteError> {
        if let Some(name) = metadata
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Ok(name.to_string());
        }
        let Some(prefix) = metadata.get("generateName").and_then(Value::as_str) else {
            return Err(WriteError::Invalid(
                "name or generateName is required".into(),
            ));
        };
        self.uid_counter += 1;
        let name = format!("{prefix}{:05x}", self.uid_counter);
        metadata.insert("name".into(), json!(name));
        Ok(name)
    }

    /// Sets `uid`, `resourceVersion` and `creationTimestamp` (kept when already present).
    fn stamp(&mut self, object: &mut Value) {
        self.resource_version += 1;
        self.uid_counter += 1;
        let uid = format!("00000000-0000-4000-8000-{:012x}", self.uid_counter);
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.entry("uid").or_insert_with(|| json!(uid));
            metadata.insert(
                "resourceVersion".into(),
                json!(self.resource_version.to_string()),
            );
            metadata
                .entry("creationTimestamp")
                .or_insert_with(|| json!(now_rfc3339()));
        }
    }
}

fn resolve_namespace(
    rtype: &ResourceType,
    asked: Option<&str>,
    metadata: &mut Map<String, Value>,
) -> Result<String, WriteError> {
    if !rtype.namespaced {
        metadata.remove("namespace");
        return Ok(String::new());
    }
    let declared = metadata
        .get("namespace")
        .and_then(Value::as_str)
        .map(str::to_string);
    let namespace = match (asked, declared) {
        (Some(asked), Some(declared)) if asked != declared => return Err(WriteError::Invalid(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
        (Some(asked), _) => asked.to_string(),
        (None, Some(declared)) => declared,
        (None, None) => "default".to_string(),
    };
    metadata.insert("namespace".into(), json!(namespace));
    Ok(namespace)
}

/// Moves a Secret's `stringData` into `data`, base64-encoded, as the API server does on write.
fn fold_string_data(fields: &mut Map<String, Value>) {
    let Some(Value::Object(string_data)) = fields.remove("stringData") else {
        return;
    };
    let data = fields.entry("data").or_insert_with(|| json!({}));
    if let Some(data) = data.as_object_mut() {
        for (key, value) in string_data {
            let text = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, json!(encoded));
        }
    }
}

fn key_of(rtype: &ResourceType, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        group: rtype.group.clone(),
        resource: rtype.plural.clone(),
        namespace: if rtype.namespaced {
            namespace.to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

fn string_at(object: &Value, pointer: &str) -> Option<String> {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The current time as the API server writes timestamps: `2026-11-25T21:40:00Z`.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(plural_of("Plan"), "plans");
        assert_eq!(plural_of("VirtualMachine"), "virtualmachines");
        assert_eq!(plural_of("Policy"), "policies");
        assert_eq!(plural_of("Gateway"), "gateways");
        assert_eq!(plural_of("Ingress"), "ingresses");
    }

    #[test]
    fn seeding_registers_the_type_and_fills_metadata() {
        let mut store = Store::default();
        let plan = json!({"apiVersion": "forklift.konveyor.io/v1beta1", "kind": "Plan",
                          "metadata": {"name": "p", "namespace": "mtv"}});
        store.seed(plan).unwrap();
        let rtype = store
            .resource_type("forklift.konveyor.io", "v1beta1", "plans")
            .cloned()
            .unwrap();
        assert!(rtype.namespaced);
        let stored = store.get(&rtype, Some("mtv"), "p").unwrap();
        assert!(stored.pointer("/metadata/uid").is_some());
        assert!(stored.pointer("/metadata/resourceVersion").is_some());
        assert_eq!(
            store.groups().last().unwrap(),
            &(
                "forklift.konveyor.io".to_string(),
                vec!["v1beta1".to_string()]
            )
        );
        let namespaces = store
            .resource_type("", "v1", "namespaces")
            .cloned()
            .unwrap();
        assert!(
            store.get(&namespaces, None, "mtv").is_some(),
            "namespace created"
        );
    }

    #[test]
    fn secrets_get_string_data_folded() {
        let mut store = Store::default();
        store
            .seed(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "hi"}}))
            .unwrap();
        let secrets = store.resource_type("", "v1", "secrets").cloned().unwrap();
        let stored = store.get(&secrets, Some("default"), "s").unwrap();
        assert_eq!(stored["data"]["k"], "aGk=");
        assert!(stored.get("stringData").is_none());
    }

    #[test]
    fn create_refuses_duplicates_and_mismatched_namespaces() {
        let mut store = Store::default();
        let events = store.resource_type("", "v1", "events").cloned().unwrap();
        let event = json!({"metadata": {"name": "e"}, "reason": "R"});
        let created = store.create(&events, Some("ns"), event.clone()).unwrap();
        assert_eq!(created["metadata"]["namespace"], "ns");
        assert_eq!(created["kind"], "Event");
        assert_eq!(
            store.create(&events, Some("ns"), event),
            Err(WriteError::AlreadyExists("e".into()))
        );
        let elsewhere = json!({"metadata": {"name": "f", "namespace": "other"}});
        assert!(matches!(
            store.create(&events, Some("ns"), elsewhere),
            Err(WriteError::Invalid(_))
        ));
    }

    #[test]
    fn replace_keeps_identity_and_refuses_stale_versions() {
        let mut store = Store::default();
        let maps = store
            .resource_type("", "v1", "configmaps")
            .cloned()
            .unwrap();
        let created = store
            .create(
                &maps,
                Some("ns"),
                json!({"metadata": {"name": "m"}, "data": {"k": "1"}}),
            )
            .unwrap();
        let stale = created["metadata"]["resourceVersion"].clone();
        let update =
            json!({"metadata": {"name": "m", "resourceVersion": stale}, "data": {"k": "2"}});
        let updated = store
            .replace(&maps, Some("ns"), "m", update.clone())
            .unwrap();
        assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
        assert_ne!(
            updated["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]
        );
        assert_eq!(
            store.replace(&maps, Some("ns"), "m", update),
            Err(WriteError::Conflict("m".into()))
        );
        let renamed = json!({"metadata": {"name": "other"}});
        assert!(matches!(
            store.replace(&maps, Some("ns"), "m", renamed),
            Err(WriteError::Invalid(_))
        ));
        assert_eq!(
            store.replace(&maps, Some("ns"), "nope", json!({})),
            Err(WriteError::NotFound("nope".into()))
        );
        assert!(store.delete(&maps, Some("ns"), "m").is_some());
        assert!(store.get(&maps, Some("ns"), "m").is_none());
    }

    #[test]
    fn generate_name_makes_a_name() {
        let mut store = Store::default();
        let events = store.resource_type("", "v1", "events").cloned().unwrap();
        let created = store
            .create(
                &events,
                Some("ns"),
                json!({"metadata": {"generateName": "hook-"}}),
            )
            .unwrap();
        let name = created["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("hook-") && name.len() > 5);
    }
}
