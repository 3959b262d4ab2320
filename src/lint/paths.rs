//! Variable paths checked against a data shape (a provider's `workload.yml`, `plan.yml`), with a
//! suggestion from the shape when a path is missing.

use super::expr::Seg;
use crate::Value;

/// How far a path gets in a shape.
#[derive(Debug, PartialEq, Eq)]
pub enum Reach {
    /// It exists (or reaches a value whose inside the shape cannot tell: an empty list, a null).
    Exists,
    /// `path[missing]` is the first step the shape does not have.
    Missing(usize),
}

/// Follows `path` in `shape`. Any index into a list is checked against its first element.
pub fn reach(shape: &Value, path: &[Seg]) -> Reach {
    let mut node = shape;
    for (i, seg) in path.iter().enumerate() {
        node = match (node, seg) {
            (Value::Object(m), Seg::Key(k)) => match m.get(k) {
                Some(v) => v,
                None => return Reach::Missing(i),
            },
            (Value::Array(items), Seg::Index(_)) => match items.first() {
                Some(first) => first,
                None => return Reach::Exists,
            },
            (Value::Null, _) => return Reach::Exists,
            _ => return Reach::Missing(i),
        };
    }
    Reach::Exists
}

/// Where `path` (missing in `shape`) most likely is: the same keys found deeper (`vm.name` is
/// `vm.vm1.vm0.name`), or keys of a similar name (`ipaddress` and `addresses`).
pub fn suggest(shape: &Value, path: &[Seg]) -> Option<String> {
    let found = resolve(shape, path, 0)?;
    Some(found.join(".").replace(".[0]", "[0]"))
}

fn resolve(node: &Value, path: &[Seg], depth: usize) -> Option<Vec<String>> {
    let Some(seg) = path.first() else {
        return Some(Vec::new());
    };
    if depth > 6 {
        return None;
    }
    let node = match node {
        Value::Array(items) => items.first()?,
        other => other,
    };
    let key = match seg {
        Seg::Key(k) => k.as_str(),
        Seg::Index(_) => return resolve(node, &path[1..], depth + 1),
    };
    // Exactly here, then exactly deeper (shortest first), then a similar name, here or deeper.
    let exact = |k: &str| k == key;
    let similar = |k: &str| similar_names(k, key);
    for matches in [&exact as &dyn Fn(&str) -> bool, &similar] {
        for (found, value) in find_keys(node, matches) {
            if let Some(rest) = resolve(value, &path[1..], depth + 1) {
                let mut out = found;
                out.extend(rest);
                return Some(out);
            }
        }
    }
    None
}

/// Keys under `node` (breadth first, so the shortest paths come first) whose name matches.
fn find_keys<'a>(node: &'a Value, matches: &dyn Fn(&str) -> bool) -> Vec<(Vec<String>, &'a Value)> {
    let mut out = Vec::new();
    let mut level: Vec<(Vec<String>, &Value)> = vec![(Vec::new(), node)];
    for _ in 0..8 {
        let mut next = Vec::new();
        for (prefix, value) in level {
            let (map, prefix) = match value {
                Value::Object(m) => (m, prefix),
                Value::Array(items) => match items.first() {
                    Some(Value::Object(m)) => {
                        let mut p = prefix;
                        p.push("[0]".to_string());
                        (m, p)
                    }
                    _ => continue,
                },
                _ => continue,
            };
            for (k, v) in map {
                let mut path = prefix.clone();
                path.push(k.clone());
                if matches(k) {
                    out.push((path.clone(), v));
                }
                next.push((path, v));
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    // A path through a list is a weaker guess than a longer one without.
    out.sort_by_key(|(path, _)| (path.iter().filter(|p| *p == "[0]").count(), path.len()));
    out
}

/// Names close enough to suggest: a small edit (`nmae`), or a long common part (`ipaddress`
/// and `addresses`, `ipAddress`).
fn similar_names(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_lowercase(), b.to_lowercase());
    if a == b {
        return true;
    }
    let shorter = a.len().min(b.len());
    shorter >= 3 && (edit_distance(&a, &b) <= 2 || longest_common(&a, &b) >= 6.max(shorter * 3 / 4))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn longest_common(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut best = 0;
    let mut row = vec![0; b.len() + 1];
    for ca in &a {
        let mut prev = 0;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == cb { prev + 1 } else { 0 };
            best = best.max(row[j + 1]);
            prev = cur;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::shapes::Provider;

    fn keys(path: &str) -> Vec<Seg> {
        path.split('.').map(|k| Seg::Key(k.to_string())).collect()
    }

    #[test]
    fn paths_are_followed_through_each_providers_shape() {
        let vsphere = Provider::Vsphere.workload();
        assert_eq!(reach(vsphere, &keys("vm.ipaddress")), Reach::Exists);
        assert_eq!(reach(vsphere, &keys("vm.name")), Reach::Missing(1));
        let mut disk = keys("vm.vm1.disks");
        disk.extend([Seg::Index(3), Seg::Key("capacity".into())]);
        assert_eq!(reach(vsphere, &disk), Reach::Exists);
        assert_eq!(
            reach(Provider::Openstack.workload(), &keys("vm.ipaddress")),
            Reach::Missing(0)
        );
    }

    #[test]
    fn suggestions_come_from_the_shape() {
        assert_eq!(
            suggest(Provider::Vsphere.workload(), &keys("vm.name")).as_deref(),
            Some("vm.vm1.vm0.name")
        );
        assert_eq!(
            suggest(Provider::Openstack.workload(), &keys("vm.ipaddress")).as_deref(),
            Some("xvm.vm.vm1.addresses")
        );
        assert_eq!(
            suggest(Provider::Ovirt.workload(), &keys("vm.vm1.vm0.nmae")).as_deref(),
            Some("xvm.vm.vm1.vm0.name")
        );
    }
}
