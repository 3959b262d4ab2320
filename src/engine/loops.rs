//! Loop items: `loop:` and the `with_<lookup>:` forms (reference §2.5).
//!
//! `loop` must template to a list. `with_items` flattens one level (a non-list becomes one
//! item); `with_list` keeps the list; `with_dict` gives `{key, value}` items;
//! `with_indexed_items` gives `[index, item]`; `with_together` zips (shorter lists padded with
//! null); `with_nested`/`with_cartesian` give every combination; `with_flattened` flattens
//! fully; `with_sequence` counts (`start=1 end=5 stride=1 format=%d`, or `count=`);
//! `with_env` reads controller environment variables; `with_file` reads controller files.

use crate::template::{Scope, Templar, TemplateError};
use crate::{value_text, Value};

/// The items of a loop source, templated in `scope`.
pub fn items(
    templar: &Templar,
    source: &crate::playbook::LoopSource,
    scope: Scope<'_>,
) -> Result<Vec<Value>, TemplateError> {
    use crate::playbook::LoopSource;
    match source {
        LoopSource::Loop(v) => match templar.template(v, scope)? {
            Value::Array(list) => Ok(list),
            other => Err(plain(format!(
                "Invalid data passed to 'loop', it requires a list, got this instead: {}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.",
                crate::py::str(&other)
            ))),
        },
        LoopSource::With(lookup, v) => {
            let value = templar.template(v, scope)?;
            with_lookup(lookup, value, scope)
        }
    }
}

fn plain(message: String) -> TemplateError {
    TemplateError {
        message,
        undefined: None,
    }
}

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(list) => list,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn flatten_once(list: Vec<Value>) -> Vec<Value> {
    list.into_iter()
        .flat_map(|v| match v {
            Value::Array(inner) => inner,
            other => vec![other],
        })
        .collect()
}

fn flatten_deep(list: Vec<Value>, out: &mut Vec<Value>) {
    for v in list {
        match v {
            Value::Array(inner) => flatten_deep(inner, out),
            other => out.push(other),
        }
    }
}

fn with_lookup(lookup: &str, value: Value, scope: Scope<'_>) -> Result<Vec<Value>, TemplateError> {
    match lookup {
        "items" => Ok(flatten_once(as_list(value))),
        "list" => match value {
            Value::Array(list) => Ok(list),
            other => Err(plain(format!(
                "with_list expects a list, got {}",
                crate::py::str(&other)
            ))),
        },
        "dict" => match value {
            Value::Object(m) => Ok(m
                .into_iter()
                .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
                .collect()),
            other => Err(plain(format!(
                "with_dict expects a dict, got {}",
                crate::py::str(&other)
            ))),
        },
        "indexed_items" => Ok(flatten_once(as_list(value))
            .into_iter()
            .enumerate()
            .map(|(i, v)| Value::Array(vec![Value::from(i), v]))
            .collect()),
        "together" => {
            let lists: Vec<Vec<Value>> = as_list(value).into_iter().map(as_list).collect();
            let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
            Ok((0..longest)
                .map(|i| {
                    Value::Array(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::Null))
                            .collect(),
                    )
                })
                .collect())
        }
        "nested" | "cartesian" => {
            let lists: Vec<Vec<Value>> = as_list(value).into_iter().map(as_list).collect();
            let mut combos: Vec<Vec<Value>> = vec![Vec::new()];
            for list in lists {
                combos = combos
                    .into_iter()
                    .flat_map(|prefix| {
                        list.iter().map(move |v| {
                            let mut next = prefix.clone();
                            next.push(v.clone());
                            next
                        })
                    })
                    .collect();
            }
            Ok(combos.into_iter().map(Value::Array).collect())
        }
        "flattened" => {
            let mut out = Vec::new();
            flatten_deep(as_list(value), &mut out);
            Ok(out)
        }
        "sequence" => as_list(value)
            .iter()
            .map(|term| sequence(&crate::playbook::kv::parse_kv(&value_text(term), false)))
            .collect::<Result<Vec<_>, _>>()
            .map(|lists| lists.into_iter().flatten().collect()),
        "env" => Ok(as_list(value)
            .iter()
            .map(|name| Value::String(std::env::var(value_text(name)).unwrap_or_default()))
            .collect()),
        "file" => as_list(value)
            .iter()
            .map(|name| read_file(&value_text(name), scope))
            .collect(),
        other => Err(plain(format!("lookup plugin ({other}) not found"))),
    }
}

fn read_file(name: &str, scope: Scope<'_>) -> Result<Value, TemplateError> {
    let path = std::path::Path::new(name);
    let candidates: Vec<std::path::PathBuf> = if path.is_absolute() {
        vec![path.to_path_buf()]
    } else {
        scope
            .search_paths
            .iter()
            .flat_map(|d| [d.join("files").join(name), d.join(name)])
            .collect()
    };
    for c in candidates {
        if let Ok(text) = std::fs::read_to_string(&c) {
            return Ok(Value::String(text.trim_end_matches('\n').to_string()));
        }
    }
    Err(plain(format!("could not locate file in lookup: {name}")))
}

/// `with_sequence`: `start`, `end` or `count`, `stride`, `format` (`%d`, `%02d`, `%x`...).
fn sequence(args: &crate::Map) -> Result<Vec<Value>, TemplateError> {
    let num = |k: &str| -> Result<Option<i64>, TemplateError> {
        match args.get(k) {
            None => Ok(None),
            Some(v) => {
                let text = value_text(v);
                let parsed = if let Some(hex) = text.strip_prefix("0x") {
                    i64::from_str_radix(hex, 16).ok()
                } else {
                    text.parse().ok()
                };
                parsed
                    .map(Some)
                    .ok_or_else(|| plain(format!("can't parse {k}={text} as integer")))
            }
        }
    };
    let start = num("start")?.unwrap_or(1);
    let stride = num("stride")?.unwrap_or(1);
    let end = match (num("end")?, num("count")?) {
        (Some(e), None) => e,
        (None, Some(c)) => start + (c - 1) * stride,
        (Some(_), Some(_)) => {
            return Err(plain(
                "can't specify both count and end in with_sequence".into(),
            ))
        }
        (None, None) => return Err(plain("must specify count or end in with_sequence".into())),
    };
    if stride == 0 {
        return Err(plain("stride of 0 in with_sequence".into()));
    }
    let format = args
        .get("format")
        .map(value_text)
        .unwrap_or_else(|| "%d".into());
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(Value::String(printf_int(&format, i)));
        i += stride;
        if out.len() > 100_000 {
            break;
        }
    }
    Ok(out)
}

/// A tiny printf for one integer: `%d`, `%0Nd`, `%x`, `%o` with surrounding text.
fn printf_int(format: &str, n: i64) -> String {
    let Some(pos) = format.find('%') else {
        return format.to_string();
    };
    let rest = &format[pos + 1..];
    let spec_len = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| i + 1)
        .unwrap_or(rest.len());
    let spec = &rest[..spec_len];
    let (flags, conv) = spec.split_at(spec.len().saturating_sub(1));
    let width: usize = flags.trim_start_matches('0').parse().unwrap_or(0);
    let zero = flags.starts_with('0');
    let body = match conv {
        "x" => format!("{n:x}"),
        "X" => format!("{n:X}"),
        "o" => format!("{n:o}"),
        _ => n.to_string(),
    };
    let padded = if zero {
        format!("{body:0>width$}")
    } else {
        format!("{body:>width$}")
    };
    format!("{}{}{}", &format[..pos], padded, &rest[spec_len..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(lookup: &str, v: Value) -> Vec<Value> {
        let vars = crate::Map::new();
        let scope = Scope {
            vars: &vars,
            search_paths: &[],
        };
        with_lookup(lookup, v, scope).unwrap()
    }

    #[test]
    fn with_forms() {
        assert_eq!(
            run("items", json!([1, [2, 3], [[4]]])),
            vec![json!(1), json!(2), json!(3), json!([4])]
        );
        assert_eq!(
            run("dict", json!({"a": 1})),
            vec![json!({"key": "a", "value": 1})]
        );
        assert_eq!(
            run("indexed_items", json!(["a", "b"])),
            vec![json!([0, "a"]), json!([1, "b"])]
        );
        assert_eq!(
            run("together", json!([[1, 2], ["a"]])),
            vec![json!([1, "a"]), json!([2, null])]
        );
        assert_eq!(
            run("nested", json!([[1, 2], ["a"]])),
            vec![json!([1, "a"]), json!([2, "a"])]
        );
        assert_eq!(
            run("sequence", json!("start=1 end=3 format=web%02d")),
            vec![json!("web01"), json!("web02"), json!("web03")]
        );
        assert_eq!(
            run("sequence", json!("count=2")),
            vec![json!("1"), json!("2")]
        );
    }
}
