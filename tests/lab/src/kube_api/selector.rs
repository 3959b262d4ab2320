//! `labelSelector` and `fieldSelector` query parameters, parsed and matched.
//!
//! Label selectors take the set-based grammar the API server accepts: requirements joined by
//! commas, each one of `key=value`, `key==value`, `key!=value`, `key`, `!key`,
//! `key in (a,b)`, `key notin (a,b)`. All requirements must hold. `key!=value` and `notin`
//! also match objects without the label, as in Kubernetes.
//!
//! Field selectors take `path=value`, `path==value` and `path!=value` joined by commas, where
//! the path is a dotted path into the object (`metadata.name`, `metadata.namespace`, `type`).
//! The real server accepts only a few paths per resource; this one accepts any path, and a
//! missing field compares as the empty string.

use serde_json::Value;

/// One parsed requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelRequirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed `labelSelector`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct LabelSelector(Vec<LabelRequirement>);

impl LabelSelector {
    /// Parses a selector; the error is the message of the 400 the server answers with.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        split_top_level(text)
            .into_iter()
            .filter(|part| !part.trim().is_empty())
            .map(|part| parse_requirement(part.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map(LabelSelector)
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|requirement| match requirement {
            LabelRequirement::Equals(k, v) => label(k) == Some(v),
            LabelRequirement::NotEquals(k, v) => label(k) != Some(v),
            LabelRequirement::Exists(k) => label(k).is_some(),
            LabelRequirement::NotExists(k) => label(k).is_none(),
            LabelRequirement::In(k, values) => {
                label(k).is_some_and(|l| values.iter().any(|v| v == l))
            }
            LabelRequirement::NotIn(k, values) => {
                !label(k).is_some_and(|l| values.iter().any(|v| v == l))
            }
        })
    }
}

/// Splits on commas that are not inside `( )`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_requirement(text: &str) -> Result<LabelRequirement, String> {
    if let Some(key) = text.strip_prefix('!') {
        return Ok(LabelRequirement::NotExists(valid_key(key.trim())?));
    }
    if let Some((key, value)) = text.split_once("!=") {
        return Ok(LabelRequirement::NotEquals(
            valid_key(key.trim())?,
            value.trim().to_string(),
        ));
    }
    if let Some((key, value)) = text.split_once("==").or_else(|| text.split_once('=')) {
        return Ok(LabelRequirement::Equals(
            valid_key(key.trim())?,
            value.trim().to_string(),
        ));
    }
    if let Some((key, values)) = set_requirement(text, " notin ") {
        return Ok(LabelRequirement::NotIn(valid_key(key)?, values?));
    }
    if let Some((key, values)) = set_requirement(text, " in ") {
        return Ok(LabelRequirement::In(valid_key(key)?, values?));
    }
    Ok(LabelRequirement::Exists(valid_key(text)?))
}

type SetRequirement<'a> = (&'a str, Result<Vec<String>, String>);

/// `key in (a, b)` split into the key and the values.
fn set_requirement<'a>(text: &'a str, operator: &str) -> Option<SetRequirement<'a>> {
    let (key, rest) = text.split_once(operator)?;
    let values = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .map(|inner| inner.split(',').map(|v| v.trim().to_string()).collect())
        .ok_or_else(|| format!("unable to parse requirement: found '{rest}', expected: '('"));
    Some((key.trim(), values))
}

fn valid_key(key: &str) -> Result<String, String> {
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid {
        Ok(key.to_string())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label key {key:?}"
        ))
    }
}

/// A parsed `fieldSelector`: (path, expected value, whether it must equal).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FieldSelector(Vec<(String, String, bool)>);

impl FieldSelector {
    pub fn parse(text: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, value, equal) = if let Some((p, v)) = part.split_once("!=") {
                (p, v, false)
            } else if let Some((p, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (p, v, true)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                ));
            };
            terms.push((path.trim().to_string(), value.trim().to_string(), equal));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, expected, equal)| {
            let pointer = format!("/{}", path.replace('.', "/"));
            let actual = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *expected) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labelled(labels: Value) -> Value {
        json!({"metadata": {"name": "n", "namespace": "ns", "labels": labels}})
    }

    fn selects(selector: &str, labels: Value) -> bool {
        LabelSelector::parse(selector)
            .unwrap_or_else(|e| panic!("{selector}: {e}"))
            .matches(&labelled(labels))
    }

    #[test]
    fn equality_and_inequality() {
        assert!(selects("app=x", json!({"app": "x"})));
        assert!(selects("app==x", json!({"app": "x"})));
        assert!(!selects("app=x", json!({"app": "y"})));
        assert!(selects("app!=x", json!({"app": "y"})));
        assert!(selects("app!=x", json!({})));
        assert!(!selects("app!=x", json!({"app": "x"})));
    }

    #[test]
    fn existence() {
        assert!(selects("app", json!({"app": "x"})));
        assert!(!selects("app", json!({})));
        assert!(selects("!app", json!({})));
        assert!(!selects("!app", json!({"app": "x"})));
    }

    #[test]
    fn sets_and_conjunctions() {
        assert!(selects("app in (x, y)", json!({"app": "y"})));
        assert!(!selects("app in (x,y)", json!({"app": "z"})));
        assert!(selects("app notin (x,y)", json!({"app": "z"})));
        assert!(selects("app notin (x,y)", json!({})));
        assert!(selects(
            "app in (x,y),tier=db",
            json!({"app": "x", "tier": "db"})
        ));
        assert!(!selects(
            "app in (x,y),tier=db",
            json!({"app": "x", "tier": "web"})
        ));
    }

    #[test]
    fn bad_selectors_are_errors() {
        assert!(LabelSelector::parse("app in x").is_err());
        assert!(LabelSelector::parse("a b").is_err());
        assert!(FieldSelector::parse("metadata.name").is_err());
    }

    #[test]
    fn field_selectors() {
        let object = json!({"metadata": {"name": "n", "namespace": "ns"}, "type": "Opaque"});
        let selects = |s: &str| FieldSelector::parse(s).map(|f| f.matches(&object));
        assert_eq!(selects("metadata.name=n"), Ok(true));
        assert_eq!(selects("metadata.name=m"), Ok(false));
        assert_eq!(selects("metadata.namespace==ns,type=Opaque"), Ok(true));
        assert_eq!(selects("metadata.name!=n"), Ok(false));
    }
}
