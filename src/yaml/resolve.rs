//! YAML 1.1 implicit resolution of plain scalars, as PyYAML's default resolver does it.
//!
//! Only *plain* (unquoted, non-block) scalars go through here: quoted scalars are strings.
//! The patterns are YAML 1.1's (the spec's regular expressions for bool, int, float and null),
//! so `0644` is octal 420, `1:30` is sexagesimal 90, `1e3` stays a string (1.1 floats need a
//! dot) and `y`/`n` stay strings. Timestamps stay strings (Ansible's dates print the same).

use super::Yaml;
use std::sync::LazyLock;

static BOOL: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    )
    .expect("static regex")
});

static INT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    )
    .expect("static regex")
});

static FLOAT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    )
    .expect("static regex")
});

/// Resolves a plain scalar to its YAML 1.1 type.
pub fn resolve_plain(text: &str) -> Yaml {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Yaml::Null;
    }
    if BOOL.is_match(text) {
        return Yaml::Bool(parse_bool(text).unwrap_or(false));
    }
    if INT.is_match(text) {
        if let Some(v) = parse_int(text) {
            return v;
        }
    }
    if FLOAT.is_match(text) {
        if let Some(f) = parse_float(text) {
            return Yaml::Float(f);
        }
    }
    Yaml::Str(text.to_string())
}

/// A YAML 1.1 boolean word, for `!!bool` and the implicit resolver.
pub(super) fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Some(true),
        "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Splits a leading sign off; returns (negative, rest) with underscores removed.
fn sign_and_digits(text: &str) -> (bool, String) {
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, cleaned.trim_start_matches('+').to_string()),
    }
}

/// PyYAML's int construction: `0b` binary, `0x` hex, leading `0` octal, `a:b` base 60.
/// Values beyond i64 become floats (Python would keep a big int).
pub(super) fn parse_int(text: &str) -> Option<Yaml> {
    let (negative, digits) = sign_and_digits(text);
    let magnitude: i128 = if digits == "0" {
        0
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i128::from_str_radix(bin, 2).ok()?
    } else if let Some(hex) = digits.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if digits.contains(':') {
        sexagesimal(&digits)? as i128
    } else if digits.len() > 1 && digits.starts_with('0') {
        i128::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<i128>().ok()?
    };
    let value = if negative { -magnitude } else { magnitude };
    Some(match i64::try_from(value) {
        Ok(i) => Yaml::Int(i),
        Err(_) => Yaml::Float(value as f64),
    })
}

/// `190:20:30` → 190*3600 + 20*60 + 30 (parts may be fractional for floats).
fn sexagesimal(digits: &str) -> Option<f64> {
    let mut total = 0.0;
    for part in digits.split(':') {
        total = total * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(total)
}

/// PyYAML's float construction (`.inf`, `.nan`, base 60, underscores ignored).
pub(super) fn parse_float(text: &str) -> Option<f64> {
    let (negative, digits) = sign_and_digits(text);
    let lower = digits.to_ascii_lowercase();
    let magnitude = if lower == ".inf" {
        f64::INFINITY
    } else if lower == ".nan" {
        f64::NAN
    } else if lower.contains(':') {
        sexagesimal(&lower)?
    } else {
        lower.parse::<f64>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_yaml_1_1_but_not_y_n() {
        for t in [
            "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert_eq!(resolve_plain(t), Yaml::Bool(true), "{t}");
        }
        for t in ["no", "No", "NO", "off", "OFF", "false", "False", "FALSE"] {
            assert_eq!(resolve_plain(t), Yaml::Bool(false), "{t}");
        }
        for t in ["y", "n", "Y", "yEs", "tRue"] {
            assert_eq!(resolve_plain(t), Yaml::Str(t.into()), "{t}");
        }
    }

    #[test]
    fn integers_octal_hex_binary_sexagesimal() {
        assert_eq!(resolve_plain("0644"), Yaml::Int(420));
        assert_eq!(resolve_plain("0"), Yaml::Int(0));
        assert_eq!(resolve_plain("-12"), Yaml::Int(-12));
        assert_eq!(resolve_plain("+12"), Yaml::Int(12));
        assert_eq!(resolve_plain("0x1F"), Yaml::Int(31));
        assert_eq!(resolve_plain("0b101"), Yaml::Int(5));
        assert_eq!(resolve_plain("1_000"), Yaml::Int(1000));
        assert_eq!(resolve_plain("1:30"), Yaml::Int(90));
        assert_eq!(resolve_plain("22:22"), Yaml::Int(1342));
        assert_eq!(resolve_plain("190:20:30"), Yaml::Int(685230));
        assert_eq!(resolve_plain("08"), Yaml::Str("08".into()));
        assert_eq!(resolve_plain("0o644"), Yaml::Str("0o644".into()));
    }

    #[test]
    fn floats_need_a_dot() {
        assert_eq!(resolve_plain("1.5"), Yaml::Float(1.5));
        assert_eq!(resolve_plain(".5"), Yaml::Float(0.5));
        assert_eq!(resolve_plain("1."), Yaml::Float(1.0));
        assert_eq!(resolve_plain("1.0e+3"), Yaml::Float(1000.0));
        assert_eq!(resolve_plain("1:20.5"), Yaml::Float(80.5));
        assert_eq!(resolve_plain("-.inf"), Yaml::Float(f64::NEG_INFINITY));
        assert!(matches!(resolve_plain(".NaN"), Yaml::Float(f) if f.is_nan()));
        assert_eq!(resolve_plain("1e3"), Yaml::Str("1e3".into()));
        assert_eq!(resolve_plain("1.0e3"), Yaml::Str("1.0e3".into()));
    }

    #[test]
    fn nulls_and_strings() {
        for t in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(resolve_plain(t), Yaml::Null, "{t}");
        }
        assert_eq!(resolve_plain("nULL"), Yaml::Str("nULL".into()));
        assert_eq!(resolve_plain("2001-12-14"), Yaml::Str("2001-12-14".into()));
    }
}
