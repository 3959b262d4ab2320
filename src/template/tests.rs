//! Ansible's tests for minijinja (ansible-core `plugins/test/core.py`, `mathstuff.py`, `files.py`).
//!
//! - Task result tests (`succeeded`/`success`/`successful`, `failed`/`failure`, `changed`/`change`,
//!   `skipped`/`skip`, `reachable`, `unreachable`, `finished`, `started`) need a mapping, else
//!   fail with "The '<name>' test expects a dictionary"; `success` is `not failed`; `changed`
//!   also looks at a loop's `results[]`.
//! - `match` is anchored at the start (`re.match`), `search` is not, `regex` picks with
//!   `match_type`; all take `ignorecase`/`multiline`.
//! - `version`/`version_compare(version, operator='eq', strict=False, version_type=None)`:
//!   loose (LooseVersion), strict (StrictVersion), semver.
//! - `truthy`/`falsy(convert_bool=False)`, `subset`, `superset`, `contains`, `any`, `all`,
//!   `boolean`/`integer`/`float`/`number`/`string`/`mapping`/`sequence`/`iterable`;
//!   file tests (`file`, `directory`, `link`, `exists`, `abs`) look at the controller.

use super::context::to_json;
use super::filters::ansible_bool;
use super::verbatim_error;
use crate::Value as Json;
use minijinja::value::{Kwargs, Rest, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, State, Value};
use std::cmp::Ordering;

/// Adds Ansible's tests to `env`.
pub fn register(env: &mut Environment<'static>) {
    for name in ["succeeded", "success", "successful"] {
        env.add_test(name, move |v: Value| {
            Ok::<bool, Error>(!result_flag(&v, name, "failed")?)
        });
    }
    for name in ["failed", "failure"] {
        env.add_test(name, move |v: Value| result_flag(&v, name, "failed"));
    }
    for name in ["changed", "change"] {
        env.add_test(name, move |v: Value| changed(&v, name));
    }
    for name in ["skipped", "skip"] {
        env.add_test(name, move |v: Value| result_flag(&v, name, "skipped"));
    }
    env.add_test("unreachable", |v: Value| {
        result_flag(&v, "unreachable", "unreachable")
    });
    env.add_test("reachable", |v: Value| {
        Ok::<bool, Error>(!result_flag(&v, "reachable", "unreachable")?)
    });
    env.add_test("finished", |v: Value| {
        result_map(&v, "finished")?;
        Ok::<bool, Error>(
            v.get_attr("finished")
                .map(|f| f.is_undefined() || f.is_true())
                .unwrap_or(true),
        )
    });
    env.add_test("started", |v: Value| {
        result_map(&v, "started")?;
        Ok::<bool, Error>(
            v.get_attr("started")
                .map(|f| f.is_undefined() || f.is_true())
                .unwrap_or(true),
        )
    });
    env.add_test("match", |v: Value, p: String, k: Kwargs| {
        regex_test(&v, &p, &k, true)
    });
    env.add_test("search", |v: Value, p: String, k: Kwargs| {
        regex_test(&v, &p, &k, false)
    });
    env.add_test("regex", |v: Value, p: String, k: Kwargs| {
        let anchored = k.get::<Option<String>>("match_type")?.as_deref() == Some("match");
        regex_test(&v, &p, &k, anchored)
    });
    env.add_test("version", version_test);
    env.add_test("version_compare", version_test);
    env.add_test("truthy", |v: Value, k: Kwargs| truthy(&v, &k));
    env.add_test("falsy", |v: Value, k: Kwargs| {
        Ok::<bool, Error>(!truthy(&v, &k)?)
    });
    env.add_test("subset", |a: Value, b: Value| subset(&a, &b));
    env.add_test("issubset", |a: Value, b: Value| subset(&a, &b));
    env.add_test("superset", |a: Value, b: Value| subset(&b, &a));
    env.add_test("issuperset", |a: Value, b: Value| subset(&b, &a));
    env.add_test("contains", |seq: Value, item: Value| {
        let items = items_of(&seq)?;
        Ok::<bool, Error>(items.contains(&to_json(&item)?))
    });
    env.add_test("any", |v: Value| {
        Ok::<bool, Error>(v.try_iter()?.any(|x| x.is_true()))
    });
    env.add_test("all", |v: Value| {
        Ok::<bool, Error>(v.try_iter()?.all(|x| x.is_true()))
    });
    env.add_test("boolean", |v: Value| v.kind() == ValueKind::Bool);
    env.add_test("integer", |v: Value| {
        v.kind() == ValueKind::Number && v.is_integer()
    });
    env.add_test("float", |v: Value| {
        v.kind() == ValueKind::Number && !v.is_integer()
    });
    // File tests look at the controller; `is_*` are the old names.
    for name in ["file", "is_file"] {
        env.add_test(name, |p: String| std::path::Path::new(&p).is_file());
    }
    for name in ["directory", "is_dir"] {
        env.add_test(name, |p: String| std::path::Path::new(&p).is_dir());
    }
    for name in ["link", "is_link"] {
        env.add_test(name, |p: String| {
            std::fs::symlink_metadata(&p)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false)
        });
    }
    // `exists` follows links (`os.path.exists`); `link_exists` does not (`lexists`).
    env.add_test("exists", |p: String| std::path::Path::new(&p).exists());
    env.add_test("link_exists", |p: String| {
        std::fs::symlink_metadata(&p).is_ok()
    });
    for name in ["abs", "is_abs"] {
        env.add_test(name, |p: String| p.starts_with('/'));
    }
    for name in ["same_file", "is_same_file"] {
        env.add_test(name, |a: String, b: String| {
            use std::os::unix::fs::MetadataExt;
            match (std::fs::metadata(&a), std::fs::metadata(&b)) {
                (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
                _ => false,
            }
        });
    }
    for name in ["mount", "is_mount"] {
        env.add_test(name, |p: String| is_mount(&p));
    }
    // `nan`/`isnan`: a float that is NaN; anything else (a string) is not.
    for name in ["nan", "isnan"] {
        env.add_test(name, |v: Value| {
            v.kind() == ValueKind::Number && f64::try_from(v).is_ok_and(f64::is_nan)
        });
    }
    for name in ANSIBLE_TESTS {
        env.add_test(
            format!("ansible.builtin.{name}"),
            move |state: &State, value: Value, rest: Rest<ValueOrKwargs>| {
                let mut args = Vec::with_capacity(rest.len() + 1);
                args.push(value);
                args.extend(rest.iter().map(|v| Value::clone(v)));
                state.env().empty_state().perform_test(name, &args)
            },
        );
    }
}

/// `os.path.ismount`: `/`, or a directory on another device than its parent.
fn is_mount(path: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let p = std::path::Path::new(path);
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return false;
    };
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return false;
    }
    match std::fs::metadata(p.join("..")) {
        Ok(parent) => parent.dev() != meta.dev() || parent.ino() == meta.ino(),
        Err(_) => false,
    }
}

/// Ansible's own tests, also reachable by their FQCN (`ansible.builtin.version`).
const ANSIBLE_TESTS: &[&str] = &[
    "succeeded",
    "success",
    "successful",
    "failed",
    "failure",
    "changed",
    "change",
    "skipped",
    "skip",
    "unreachable",
    "reachable",
    "finished",
    "started",
    "match",
    "search",
    "regex",
    "version",
    "version_compare",
    "truthy",
    "falsy",
    "subset",
    "issubset",
    "superset",
    "issuperset",
    "contains",
    "any",
    "all",
    "file",
    "directory",
    "link",
    "exists",
    "abs",
];

fn result_map(v: &Value, test: &str) -> Result<(), Error> {
    if v.kind() != ValueKind::Map {
        return Err(verbatim_error(format!(
            "The '{test}' test expects a dictionary"
        )));
    }
    Ok(())
}

/// The truthiness of `key` in a task result (missing is false).
fn result_flag(v: &Value, test: &str, key: &str) -> Result<bool, Error> {
    result_map(v, test)?;
    Ok(v.get_attr(key).map(|f| f.is_true()).unwrap_or(false))
}

fn changed(v: &Value, test: &str) -> Result<bool, Error> {
    result_map(v, test)?;
    let flag = v.get_attr("changed")?;
    if !flag.is_undefined() {
        return Ok(flag.is_true());
    }
    let results = v.get_attr("results")?;
    if results.kind() == ValueKind::Seq {
        for r in results.try_iter()? {
            if r.kind() == ValueKind::Map && r.get_attr("changed")?.is_true() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn regex_test(v: &Value, pattern: &str, k: &Kwargs, anchored: bool) -> Result<bool, Error> {
    let ignorecase = k.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = k.get::<Option<bool>>("multiline")?.unwrap_or(false);
    let text = match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string(),
    };
    let source = if anchored {
        format!(r"\A(?:{pattern})")
    } else {
        pattern.to_string()
    };
    let re = regex::RegexBuilder::new(&source.replace("\\Z", "\\z"))
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| verbatim_error(format!("Invalid regular expression '{pattern}': {e}")))?;
    Ok(re.is_match(&text))
}

fn truthy(v: &Value, k: &Kwargs) -> Result<bool, Error> {
    let convert = k.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
    if convert {
        if let Some(b) = ansible_bool(&to_json(v)?) {
            return Ok(b);
        }
    }
    Ok(v.is_true())
}

fn items_of(v: &Value) -> Result<Vec<Json>, Error> {
    match to_json(v)? {
        Json::Array(items) => Ok(items),
        Json::Object(m) => Ok(m.keys().map(|k| Json::String(k.clone())).collect()),
        Json::String(s) => Ok(s.chars().map(|c| Json::String(c.to_string())).collect()),
        other => Err(verbatim_error(format!("'{other}' is not iterable"))),
    }
}

fn subset(a: &Value, b: &Value) -> Result<bool, Error> {
    let (small, big) = (items_of(a)?, items_of(b)?);
    Ok(small.iter().all(|x| big.contains(x)))
}

// ---------------------------------------------------------------- versions

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Num(u64),
    Word(String),
}

/// LooseVersion: runs of digits and of letters; dots separate.
fn loose_parts(v: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, parts: &mut Vec<Part>| {
        if current.is_empty() {
            return;
        }
        parts.push(match current.parse::<u64>() {
            Ok(n) => Part::Num(n),
            Err(_) => Part::Word(current.clone()),
        });
        current.clear();
    };
    for c in v.chars() {
        let same_kind = current
            .chars()
            .last()
            .is_none_or(|l| l.is_ascii_digit() == c.is_ascii_digit());
        if c == '.' || !same_kind {
            flush(&mut current, &mut parts);
        }
        if c != '.' {
            current.push(c);
        }
    }
    flush(&mut current, &mut parts);
    parts
}

fn compare_loose(a: &str, b: &str) -> Result<Ordering, String> {
    let (pa, pb) = (loose_parts(a), loose_parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x, y) {
            (Part::Num(m), Part::Num(n)) => m.cmp(n),
            (Part::Word(m), Part::Word(n)) => m.cmp(n),
            (Part::Num(_), Part::Word(_)) => {
                return Err("'<' not supported between instances of 'int' and 'str'".into())
            }
            (Part::Word(_), Part::Num(_)) => {
                return Err("'<' not supported between instances of 'str' and 'int'".into())
            }
        };
        if ord != Ordering::Equal {
            return Ok(ord);
        }
    }
    Ok(pa.len().cmp(&pb.len()))
}

/// StrictVersion: `N.N[.N][(a|b)N]`.
/// (major, minor, patch, pre-release letter and number).
type StrictKey = (u64, u64, u64, Option<(char, u64)>);

fn strict_key(v: &str) -> Result<StrictKey, String> {
    let invalid = || format!("invalid version number '{v}'");
    let re =
        regex::Regex::new(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:([ab])(\d+))?$").map_err(|_| invalid())?;
    let caps = re.captures(v).ok_or_else(invalid)?;
    let num = |i: usize| {
        caps.get(i)
            .map(|m| m.as_str().parse::<u64>().unwrap_or(0))
            .unwrap_or(0)
    };
    let pre = caps
        .get(4)
        .map(|m| (m.as_str().chars().next().unwrap_or('a'), num(5)));
    Ok((num(1), num(2), num(3), pre))
}

fn compare_strict(a: &str, b: &str) -> Result<Ordering, String> {
    let (ka, kb) = (strict_key(a)?, strict_key(b)?);
    let base = (ka.0, ka.1, ka.2).cmp(&(kb.0, kb.1, kb.2));
    if base != Ordering::Equal {
        return Ok(base);
    }
    // A pre-release sorts before the release itself.
    Ok(match (ka.3, kb.3) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    })
}

fn compare_semver(a: &str, b: &str) -> Result<Ordering, String> {
    type Semver = ((u64, u64, u64), Option<String>);
    let split = |v: &str| -> Result<Semver, String> {
        let core = v.split('+').next().unwrap_or_default();
        let (nums, pre) = match core.split_once('-') {
            Some((n, p)) => (n, Some(p.to_string())),
            None => (core, None),
        };
        let parts: Vec<u64> = nums
            .split('.')
            .map(|p| {
                p.parse::<u64>()
                    .map_err(|_| format!("invalid semantic version '{v}'"))
            })
            .collect::<Result<_, _>>()?;
        if parts.len() != 3 {
            return Err(format!("invalid semantic version '{v}'"));
        }
        Ok(((parts[0], parts[1], parts[2]), pre))
    };
    let ((na, pa), (nb, pb)) = (split(a)?, split(b)?);
    Ok(na.cmp(&nb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => compare_loose(&x, &y).unwrap_or_else(|_| x.cmp(&y)),
    }))
}

fn version_test(
    value: Value,
    version: Value,
    operator: Option<String>,
    strict: Option<bool>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let operator = match operator {
        Some(o) => o,
        None => kwargs
            .get::<Option<String>>("operator")?
            .unwrap_or_else(|| "eq".into()),
    };
    let strict = match strict {
        Some(s) => s,
        None => kwargs.get::<Option<bool>>("strict")?.unwrap_or(false),
    };
    let version_type = kwargs.get::<Option<String>>("version_type")?;
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    };
    let (a, b) = (text(&value), text(&version));
    if b.is_empty() {
        return Err(verbatim_error(
            "Version parameter to compare against cannot be empty",
        ));
    }
    let kind = version_type.unwrap_or_else(|| {
        if strict {
            "strict".into()
        } else {
            "loose".into()
        }
    });
    let ordering = match kind.as_str() {
        "loose" => compare_loose(&a, &b),
        "strict" => compare_strict(&a, &b),
        "semver" | "semantic" => compare_semver(&a, &b),
        other => {
            return Err(verbatim_error(format!(
                "Invalid version type ({other}). Must be one of loose, strict, semver, semantic"
            )))
        }
    }
    .map_err(|e| verbatim_error(format!("Version comparison failed: {e}")))?;
    Ok(match operator.as_str() {
        "==" | "=" | "eq" => ordering == Ordering::Equal,
        "<" | "lt" => ordering == Ordering::Less,
        "<=" | "le" => ordering != Ordering::Greater,
        ">" | "gt" => ordering == Ordering::Greater,
        ">=" | "ge" => ordering != Ordering::Less,
        "!=" | "<>" | "ne" => ordering != Ordering::Equal,
        other => {
            return Err(verbatim_error(format!(
                "Invalid operator type ({other}). Must be one of ==, =, eq, <, lt, <=, le, >, gt, >=, ge, !=, <>, ne"
            )))
        }
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn loose_versions() {
        assert_eq!(compare_loose("1.10", "1.9"), Ok(Ordering::Greater));
        assert_eq!(compare_loose("2.18.0", "2.18"), Ok(Ordering::Greater));
        assert_eq!(compare_loose("1.0", "1.0"), Ok(Ordering::Equal));
        assert!(compare_loose("1.a", "1.1").is_err());
    }

    #[test]
    fn strict_and_semver() {
        assert_eq!(compare_strict("1.0a1", "1.0"), Ok(Ordering::Less));
        assert_eq!(compare_strict("1.2.3", "1.2"), Ok(Ordering::Greater));
        assert!(compare_strict("1.2.3.4", "1.0").is_err());
        assert_eq!(compare_semver("1.0.0-rc1", "1.0.0"), Ok(Ordering::Less));
    }
}
