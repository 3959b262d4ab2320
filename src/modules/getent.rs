//! `ansible.builtin.getent`: reads a name-service database on the target (`getent DB [KEY]`).
//!
//! Semantics (ansible-core 2.18 `modules/getent.py`):
//! - Each output line is split on `split` (default `:` for passwd/shadow/group/gshadow,
//!   whitespace otherwise); the first field is the key, the rest the value list. A key seen
//!   twice gets a list of value lists.
//! - Result: `ansible_facts: {getent_<database>: {key: [fields...]}}`, `changed: false`.
//! - getent exit codes: 1 → `Missing arguments, or database unknown.`, 2 → `One or more
//!   supplied key could not be found in the database.` (with `fail_key: false`: not a failure,
//!   the key maps to null and `msg` says so), 3 → `Enumeration not supported on this database.`
//! - `service` selects an NSS service (`getent -s`).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Getent;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            required: true,
            ..Param::new("database", Kind::Str)
        },
        Param::new("key", Kind::Str),
        Param::new("split", Kind::Str),
        Param::new("service", Kind::Str),
        Param {
            default: Some("true"),
            ..Param::new("fail_key", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct GetentArgs {
    pub database: String,
    pub key: Option<String>,
    pub split: Option<String>,
    pub service: Option<String>,
    #[serde(default = "yes")]
    pub fail_key: bool,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Module for Getent {
    fn name(&self) -> &'static str {
        "getent"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.getent"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<GetentArgs>(args)
    }
    /// Dry-run answers one passwd/group key with a plausible entry, so that later tasks using
    /// `getent_passwd[user]` still template.
    fn dry_run_facts(&self, args: &Map) -> Option<Map> {
        let database = args.get("database")?.as_str()?;
        let key = args.get("key")?.as_str().filter(|k| !k.is_empty())?;
        let entry = match database {
            "passwd" => {
                let home = if key == "root" {
                    "/root".to_string()
                } else {
                    format!("/home/{key}")
                };
                serde_json::json!(["x", "1000", "1000", key, home, "/bin/sh"])
            }
            "group" => serde_json::json!(["x", "1000", key]),
            _ => return None,
        };
        let mut table = Map::new();
        table.insert(key.to_string(), entry);
        let mut facts = Map::new();
        facts.insert(format!("getent_{database}"), Value::Object(table));
        Some(facts)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: GetentArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let mut words = vec!["getent".to_string()];
        if let Some(service) = &args.service {
            words.extend(["-s".to_string(), service.clone()]);
        }
        words.push(args.database.clone());
        if let Some(key) = &args.key {
            words.push(key.clone());
        }
        let script = format!(
            "command -v getent >/dev/null 2>&1 || {{ echo 'Failed to find required executable \"getent\" in paths: '\"$PATH\" >&2; exit 127; }}\nexec {}",
            crate::shell::join(&words)
        );
        let output = remote::exec(ctx, script, None).await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(build_result(
            &args,
            output.rc,
            &stdout,
            &String::from_utf8_lossy(&output.stderr),
        ))
    }
}

fn build_result(args: &GetentArgs, rc: i32, stdout: &str, stderr: &str) -> Map {
    let db_key = format!("getent_{}", args.database);
    let mut tree = Map::new();
    let msg = match rc {
        0 => {
            let split = args.split.clone().or_else(|| {
                ["passwd", "shadow", "group", "gshadow"]
                    .contains(&args.database.as_str())
                    .then(|| ":".to_string())
            });
            parse_lines(stdout, split.as_deref(), &mut tree);
            return facts(db_key, tree, None);
        }
        1 => "Missing arguments, or database unknown.",
        2 => {
            let msg = "One or more supplied key could not be found in the database.";
            if !args.fail_key {
                tree.insert(args.key.clone().unwrap_or_default(), Value::Null);
                return facts(db_key, tree, Some(msg));
            }
            msg
        }
        3 => "Enumeration not supported on this database.",
        127 if stderr.starts_with("Failed to find required executable") => stderr.trim_end(),
        _ => "Unexpected failure!",
    };
    remote::failed(msg)
}

fn facts(db_key: String, tree: Map, msg: Option<&str>) -> Map {
    let mut facts = Map::new();
    facts.insert(db_key, Value::Object(tree));
    let mut result = Map::new();
    result.insert("ansible_facts".into(), Value::Object(facts));
    result.insert("changed".into(), Value::Bool(false));
    if let Some(msg) = msg {
        result.insert("msg".into(), Value::String(msg.into()));
    }
    result
}

/// Python's `line.split(split)`: a separator string, or runs of whitespace when `None`.
fn parse_lines(stdout: &str, split: Option<&str>, tree: &mut Map) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for line in stdout.lines() {
        let fields: Vec<Value> = match split {
            Some(sep) if !sep.is_empty() => {
                line.split(sep).map(|f| Value::String(f.into())).collect()
            }
            _ => line
                .split_whitespace()
                .map(|f| Value::String(f.into()))
                .collect(),
        };
        let Some((Value::String(key), rest)) = fields.split_first() else {
            continue;
        };
        let rest = Value::Array(rest.to_vec());
        let count = seen.entry(key.clone()).or_insert(0);
        *count += 1;
        match (*count, tree.get_mut(key)) {
            (1, _) | (_, None) => {
                tree.insert(key.clone(), rest);
            }
            (2, Some(existing)) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, rest]);
            }
            (_, Some(Value::Array(list))) => list.push(rest),
            (_, Some(other)) => *other = rest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::run;
    use serde_json::json;

    #[tokio::test]
    async fn passwd_root() {
        let result = run(&Getent, json!({"database": "passwd", "key": "root"})).await;
        let root = &result["ansible_facts"]["getent_passwd"]["root"];
        assert_eq!(root[0], "x");
        assert_eq!(root[1], "0");
        assert_eq!(result["changed"], false);
    }

    #[tokio::test]
    async fn missing_keys_fail_unless_told_otherwise() {
        let result = run(
            &Getent,
            json!({"database": "passwd", "key": "no such user; $(x)"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "One or more supplied key could not be found in the database."
        );
        assert_eq!(result["failed"], true);
        let result = run(
            &Getent,
            json!({"database": "passwd", "key": "nouser-hr", "fail_key": false}),
        )
        .await;
        assert_eq!(
            result["ansible_facts"]["getent_passwd"]["nouser-hr"],
            Value::Null
        );
        let result = run(&Getent, json!({"database": "nodb-hr"})).await;
        assert_eq!(result["msg"], "Missing arguments, or database unknown.");
    }

    #[test]
    fn repeated_keys_become_lists_and_whitespace_splits() {
        let mut tree = Map::new();
        parse_lines("ssh 22/tcp\nssh 22/udp\nhttp 80/tcp\n", None, &mut tree);
        assert_eq!(tree["ssh"], json!([["22/tcp"], ["22/udp"]]));
        assert_eq!(tree["http"], json!(["80/tcp"]));
    }
}
