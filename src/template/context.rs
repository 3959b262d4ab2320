//! The variables a template sees, templated lazily as Ansible's `AnsibleJ2Vars` does.
//!
//! [`LazyVars`] is the root context: reading a variable whose raw value holds a template renders
//! it then (once per templating call; the result is cached in the call's context). A mapping
//! that holds templates somewhere inside becomes a [`LazyMap`], so `hostvars[h].x` only templates
//! `x`, not every value of every host. A variable that needs itself while being templated is an
//! error ("recursive loop detected in template string"). `vars` names the variables themselves
//! when no variable of that name exists. Variables listed in the `__hook_runner_unsafe__`
//! variable (registered results, facts) are never templated, like Ansible's unsafe values; an
//! entry may also be the dotted path of a value inside a variable (`hostvars.web1.result`: the
//! path of `hostvars['web1']['result']`), which is then never templated either. A string marked
//! by the YAML loader's `!unsafe` ([`crate::yaml::UNSAFE_MARK`]) is data too, wherever it sits,
//! and reads as its text without the mark. The root also carries the lookup search paths.
//!
//! Also here: conversions between JSON values and minijinja values.

use super::Templar;
use crate::{Map, Value as Json};
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Error, ErrorKind, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A hidden variable naming the root context itself, so functions (lookups) can reach the
/// scope's search paths and raw variables.
pub(crate) const ROOT_KEY: &str = "__hook_runner_root__";

/// The root context of the template `state` runs, if any.
pub(crate) fn root_of(state: &minijinja::State) -> Option<Arc<LazyVars>> {
    state.lookup(ROOT_KEY)?.downcast_object::<LazyVars>()
}

/// The root template context of one templating call.
#[derive(Debug)]
pub(crate) struct LazyVars {
    pub(crate) vars: Map,
    pub(crate) search_paths: Vec<PathBuf>,
    pub(crate) templar: Templar,
    /// Top-level variables never templated (registered results, facts): see [`super::UNSAFE_VARS`].
    unsafe_names: Vec<String>,
    /// Templated values by path (`a`, `a.b`), for this call only.
    cache: Mutex<HashMap<String, Value>>,
    /// Paths being templated right now: seeing one again is a loop.
    in_progress: Mutex<Vec<String>>,
}

/// A mapping inside a variable whose values are templated when read.
#[derive(Debug)]
pub(crate) struct LazyMap {
    map: Map,
    path: String,
    root: Arc<LazyVars>,
}

impl LazyVars {
    pub(crate) fn new(vars: &Map, search_paths: &[PathBuf], templar: &Templar) -> Arc<LazyVars> {
        let unsafe_names = match vars.get(super::UNSAFE_VARS) {
            Some(Json::Array(names)) => names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        Arc::new(LazyVars {
            unsafe_names,
            vars: vars.clone(),
            search_paths: search_paths.to_vec(),
            templar: templar.clone(),
            cache: Mutex::new(HashMap::new()),
            in_progress: Mutex::new(Vec::new()),
        })
    }

    /// The minijinja value for a raw variable value found at `path`.
    pub(crate) fn resolve(self: &Arc<Self>, path: &str, raw: &Json) -> Value {
        if path == "hostvars" && raw.as_str() == Some(crate::vars::LAZY_HOSTVARS) {
            if let Some(lookup) = self.templar.lookup_handler(crate::vars::LAZY_HOSTVARS) {
                return Value::from_object(LazyHostvars {
                    root: self.clone(),
                    lookup: LookupFn(lookup),
                    cache: Mutex::new(HashMap::new()),
                });
            }
        }
        if let Some(data) = raw.as_str().and_then(crate::yaml::unsafe_text) {
            return Value::from(data);
        }
        // An unsafe value is data wherever it is reached from (`hostvars.web1.result`).
        if !contains_template(raw) || self.unsafe_names.iter().any(|n| n == path) {
            return from_json(raw);
        }
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(path).cloned()) {
            return hit;
        }
        let value = match raw {
            Json::Object(map) => Value::from_object(LazyMap {
                map: map.clone(),
                path: path.to_string(),
                root: self.clone(),
            }),
            _ => self.template_guarded(path, raw),
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(path.to_string(), value.clone());
        }
        value
    }

    /// Templates `raw` (a string or list) with this context, refusing self-reference.
    fn template_guarded(self: &Arc<Self>, path: &str, raw: &Json) -> Value {
        let looping = match self.in_progress.lock() {
            Ok(stack) if stack.iter().any(|p| p == path) => true,
            Ok(mut stack) => {
                stack.push(path.to_string());
                false
            }
            Err(_) => false,
        };
        if looping {
            let shown = raw
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| raw.to_string());
            return Value::from(super::verbatim_error(format!(
                "recursive loop detected in template string: {shown}"
            )));
        }
        let result = match raw {
            Json::Array(items) => self.template_items(path, items),
            Json::String(text) => match self.templar.template_string_in(text, self) {
                Ok(v) => from_json(&v),
                Err(e) => Value::from(e.into_minijinja()),
            },
            other => from_json(other),
        };
        if let Ok(mut stack) = self.in_progress.lock() {
            stack.retain(|p| p != path);
        }
        result
    }
}

impl LazyVars {
    /// A list's items, each resolved; the first failing item's error stands for the list.
    fn template_items(self: &Arc<Self>, path: &str, items: &[Json]) -> Value {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let child = self.resolve(&format!("{path}[{i}]"), item);
            if check_valid(&child).is_err() {
                return child;
            }
            out.push(child);
        }
        Value::from(out)
    }
}

impl Object for LazyVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match self.vars.get(name) {
            Some(raw) if self.unsafe_names.iter().any(|n| n == name) => Some(from_json(raw)),
            Some(raw) => Some(self.resolve(name, raw)),
            None if name == "vars" || name == ROOT_KEY => {
                Some(Value::from_dyn_object(self.clone()))
            }
            None => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.vars.keys().map(|k| Value::from(k.as_str())).collect())
    }
}

impl Object for LazyMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let raw = self.map.get(name)?;
        Some(self.root.resolve(&format!("{}.{name}", self.path), raw))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.map.keys().map(|k| Value::from(k.as_str())).collect())
    }
}

/// The run's lookup that answers [`LazyHostvars`]: see [`crate::vars::LAZY_HOSTVARS`].
struct LookupFn(super::LookupHandler);

impl std::fmt::Debug for LookupFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookupFn")
    }
}

/// `hostvars` when the engine gives it lazily ([`crate::vars::LAZY_HOSTVARS`]): a host's
/// variables are built when the template reads that host (once per templating call), so a
/// task's cost does not grow with every host's variables.
#[derive(Debug)]
struct LazyHostvars {
    root: Arc<LazyVars>,
    lookup: LookupFn,
    cache: Mutex<HashMap<String, Value>>,
}

/// One host's entry of [`LazyHostvars`]: its values are templated with the reading host's
/// variables, as `hostvars.<host>.<name>`; its `unsafe` names (registered results, facts,
/// `set_fact` values) are data.
#[derive(Debug)]
struct HostvarsEntry {
    host: String,
    vars: Map,
    unsafe_names: std::collections::HashSet<String>,
    root: Arc<LazyVars>,
}

impl Object for LazyHostvars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let host = key.as_str()?;
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(host).cloned()) {
            return Some(hit);
        }
        let answer = (self.lookup.0)(&[Json::String(host.to_string())], &Map::new()).ok()?;
        let mut answer = answer.into_iter();
        let (Some(Json::Object(vars)), Some(Json::Array(names))) = (answer.next(), answer.next())
        else {
            return None;
        };
        let entry = Value::from_object(HostvarsEntry {
            host: host.to_string(),
            vars,
            unsafe_names: names
                .into_iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect(),
            root: self.root.clone(),
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(host.to_string(), entry.clone());
        }
        Some(entry)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names = (self.lookup.0)(&[], &Map::new()).unwrap_or_default();
        Enumerator::Values(names.iter().map(from_json).collect())
    }
}

impl Object for HostvarsEntry {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let raw = self.vars.get(name)?;
        if self.unsafe_names.contains(name) {
            return Some(match raw.as_str().and_then(crate::yaml::unsafe_text) {
                Some(data) => Value::from(data),
                None => from_json(raw),
            });
        }
        Some(
            self.root
                .resolve(&format!("hostvars.{}.{name}", self.host), raw),
        )
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.vars.keys().map(|k| Value::from(k.as_str())).collect())
    }
}

/// A JSON value as a minijinja value (maps keep their order).
pub(crate) fn from_json(value: &Json) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// Whether any string inside `value` holds template syntax.
pub(crate) fn contains_template(value: &Json) -> bool {
    match value {
        Json::String(s) => Templar::is_template(s),
        Json::Array(items) => items.iter().any(contains_template),
        Json::Object(map) => map
            .iter()
            .any(|(k, v)| Templar::is_template(k) || contains_template(v)),
        _ => false,
    }
}

/// The error an invalid value carries, if it is one.
pub(crate) fn check_valid(value: &Value) -> Result<(), Error> {
    if value.kind() != minijinja::value::ValueKind::Invalid {
        return Ok(());
    }
    let wrapped = Value::from(vec![value.clone()]);
    match wrapped.try_iter() {
        Ok(iter) => {
            for item in iter.checked() {
                item?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A minijinja value as JSON; undefined anywhere inside is an error (callers name it).
pub(crate) fn to_json(value: &Value) -> Result<Json, Error> {
    use minijinja::value::ValueKind as K;
    Ok(match value.kind() {
        K::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        K::Invalid => {
            check_valid(value)?;
            Json::Null
        }
        K::None => Json::Null,
        K::Bool => Json::Bool(value.is_true()),
        K::Number => number_to_json(value),
        K::String => {
            // An `!unsafe` string reached without templating (inside registered data, from_yaml)
            // leaves as its text.
            let text = value.as_str().unwrap_or_default();
            Json::String(crate::yaml::unsafe_text(text).unwrap_or(text).to_string())
        }
        K::Bytes => {
            Json::String(String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned())
        }
        K::Seq | K::Iterable => {
            let mut out = Vec::new();
            for item in value.try_iter()? {
                out.push(to_json(&item)?);
            }
            Json::Array(out)
        }
        K::Map => {
            let mut out = Map::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                out.insert(key_string(&key), to_json(&item)?);
            }
            Json::Object(out)
        }
        _ => Json::String(value.to_string()),
    })
}

fn number_to_json(value: &Value) -> Json {
    if value.is_integer() {
        if let Ok(i) = i64::try_from(value.clone()) {
            return Json::from(i);
        }
        if let Ok(u) = u64::try_from(value.clone()) {
            return Json::from(u);
        }
    }
    match f64::try_from(value.clone())
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        Some(n) => Json::Number(n),
        None => Json::String(value.to_string()),
    }
}

/// A map key as a string: strings as is, other keys in their Python form (`1`, `True`).
pub(crate) fn key_string(key: &Value) -> String {
    match key.as_str() {
        Some(s) => s.to_string(),
        None => key.to_string(),
    }
}
