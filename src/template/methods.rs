//! Python methods on values, for playbooks written against Jinja2 on Python.
//!
//! minijinja-contrib's pycompat handles most `str`/`dict`/`list` methods; this adds the ones
//! Ansible's own tests and common playbooks use that it lacks: `list.index(x)`,
//! `str.index(sub)`, `str.isdigit()`, `str.zfill(n)`, `str.ljust/rjust/center(n)`,
//! `str.partition/rpartition(sep)`, `str.casefold()`, `str.swapcase()`, `dict.copy()`,
//! `list.copy()`. Errors use Python's wording (`x is not in list`, `substring not found`).

use super::verbatim_error;
use minijinja::value::ValueKind;
use minijinja::{Error, State, Value};

/// The environment's unknown-method callback: ours first, then pycompat's.
pub fn callback(
    state: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let Some(result) = extra_method(value, method, args) {
        return result;
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

fn int_arg(args: &[Value], i: usize) -> Result<usize, Error> {
    args.get(i)
        .and_then(|v| v.as_usize())
        .ok_or_else(|| verbatim_error("an integer is required"))
}

fn padded(s: &str, width: usize, fill: &str, align: char) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_string();
    }
    let fill = fill.chars().next().unwrap_or(' ');
    let total = width - len;
    let (left, right) = match align {
        '<' => (0, total),
        '>' => (total, 0),
        _ => {
            // Python's center puts the extra character on the left when width is odd.
            let left = total / 2 + ((total & width) & 1);
            (left, total - left)
        }
    };
    format!(
        "{}{s}{}",
        fill.to_string().repeat(left),
        fill.to_string().repeat(right)
    )
}

fn extra_method(value: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    match (value.kind(), method) {
        (ValueKind::Seq, "index") => Some(seq_index(value, args)),
        (ValueKind::Seq | ValueKind::Map, "copy") => Some(Ok(value.clone())),
        (ValueKind::String, _) => {
            let s = value.as_str().unwrap_or_default();
            let arg = |i: usize| {
                args.get(i)
                    .and_then(|a| a.as_str())
                    .unwrap_or(" ")
                    .to_string()
            };
            Some(Ok(match method {
                "index" => {
                    let sub = args.first().and_then(|a| a.as_str()).unwrap_or_default();
                    return Some(match s.find(sub) {
                        Some(byte) => Ok(Value::from(s[..byte].chars().count())),
                        None => Err(verbatim_error("substring not found")),
                    });
                }
                "isdigit" | "isdecimal" => {
                    Value::from(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
                }
                "casefold" => Value::from(s.to_lowercase()),
                "swapcase" => Value::from(
                    s.chars()
                        .map(|c| {
                            if c.is_uppercase() {
                                c.to_lowercase().to_string()
                            } else {
                                c.to_uppercase().to_string()
                            }
                        })
                        .collect::<String>(),
                ),
                "zfill" => {
                    let width = match int_arg(args, 0) {
                        Ok(w) => w,
                        Err(e) => return Some(Err(e)),
                    };
                    let (sign, digits) = match s.strip_prefix(['-', '+']) {
                        Some(rest) => (&s[..1], rest),
                        None => ("", s),
                    };
                    format!(
                        "{sign}{}",
                        padded(digits, width.saturating_sub(sign.len()), "0", '>')
                    )
                    .into()
                }
                "ljust" | "rjust" | "center" => {
                    let width = match int_arg(args, 0) {
                        Ok(w) => w,
                        Err(e) => return Some(Err(e)),
                    };
                    let align = match method {
                        "ljust" => '<',
                        "rjust" => '>',
                        _ => '^',
                    };
                    Value::from(padded(s, width, &arg(1), align))
                }
                "partition" | "rpartition" => {
                    let sep = args.first().and_then(|a| a.as_str()).unwrap_or_default();
                    if sep.is_empty() {
                        return Some(Err(verbatim_error("empty separator")));
                    }
                    let found = if method == "partition" {
                        s.split_once(sep)
                    } else {
                        s.rsplit_once(sep)
                    };
                    let parts = match (found, method) {
                        (Some((a, b)), _) => [a, sep, b],
                        (None, "partition") => [s, "", ""],
                        (None, _) => ["", "", s],
                    };
                    Value::from(parts.iter().map(|p| Value::from(*p)).collect::<Vec<_>>())
                }
                _ => return None,
            }))
        }
        _ => None,
    }
}

fn seq_index(value: &Value, args: &[Value]) -> Result<Value, Error> {
    let wanted = args.first().cloned().unwrap_or_default();
    for (i, item) in value.try_iter()?.enumerate() {
        if item == wanted {
            return Ok(Value::from(i));
        }
    }
    let shown = match wanted.as_str() {
        Some(s) => format!("'{s}'"),
        None => wanted.to_string(),
    };
    Err(verbatim_error(format!("{shown} is not in list")))
}

#[cfg(test)]
mod unit {
    use super::padded;

    #[test]
    fn padding_like_python() {
        assert_eq!(padded("ab", 5, " ", '<'), "ab   ");
        assert_eq!(padded("ab", 5, "*", '>'), "***ab");
        assert_eq!(padded("ab", 5, " ", '^'), "  ab ");
        assert_eq!(padded("abc", 6, " ", '^'), " abc  ");
        assert_eq!(padded("abc", 2, " ", '^'), "abc");
    }
}
