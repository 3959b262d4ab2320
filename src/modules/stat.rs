//! `ansible.builtin.stat`: facts about a path on the target.
//!
//! Semantics (ansible-core 2.18 `modules/stat.py`), one `sh` round trip:
//! - `{changed: false, stat: {exists: false}}` when the path does not exist (with `follow`, a
//!   dangling link does not exist either).
//! - Otherwise `stat` holds `exists, path, mode` (`'%04o'`, e.g. `0644`), the type flags
//!   (`isdir, ischr, isblk, isreg, isfifo, islnk, issock`), `uid, gid, size, inode, dev, nlink`,
//!   `atime, mtime, ctime` (float seconds), the permission bits (`wusr`...`xoth`, `isuid`,
//!   `isgid`), `blocks, block_size, device_type`, `readable, writeable, executable` (for the
//!   remote user, after become), `lnk_source, lnk_target` for links, `pw_name, gr_name` when
//!   the ids resolve, `checksum` (regular readable files; `checksum_algorithm`, default sha1;
//!   `get_checksum: false` skips it), `mimetype, charset` (`file(1)`; `unknown` without it) and
//!   `version, attributes, attr_flags` (`lsattr`; empty without it).
//! - `follow: false` (default) describes a link itself.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::path_word;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Stat;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            aliases: &["dest", "name"],
            required: true,
            ..Param::new("path", Kind::Path)
        },
        Param {
            default: Some("false"),
            ..Param::new("follow", Kind::Bool)
        },
        Param {
            default: Some("true"),
            ..Param::new("get_checksum", Kind::Bool)
        },
        Param {
            aliases: &["checksum", "checksum_algo"],
            choices: &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"],
            default: Some("sha1"),
            ..Param::new("checksum_algorithm", Kind::Str)
        },
        Param {
            aliases: &["mime", "mime_type", "mime-type"],
            default: Some("true"),
            ..Param::new("get_mime", Kind::Bool)
        },
        Param {
            aliases: &["attr", "attributes"],
            default: Some("true"),
            ..Param::new("get_attributes", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct StatArgs {
    pub path: String,
    #[serde(default)]
    pub follow: bool,
    #[serde(default = "yes")]
    pub get_checksum: bool,
    #[serde(default = "sha1")]
    pub checksum_algorithm: String,
    #[serde(default = "yes")]
    pub get_mime: bool,
    #[serde(default = "yes")]
    pub get_attributes: bool,
}

fn yes() -> bool {
    true
}

fn sha1() -> String {
    "sha1".into()
}

#[async_trait]
impl Module for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.stat"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<StatArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: StatArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let records = match remote::run_script(ctx, &build_script(&args), None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(false));
        let mut stat = stat_from_records(&records);
        add_tool_defaults(&mut stat, &args);
        result.insert("stat".into(), Value::Object(stat));
        Ok(result)
    }
}

/// The script: existence, one `stat(1)` call, access checks, link, checksum, mime, attributes.
pub fn build_script(args: &StatArgs) -> String {
    let sum = if args.get_checksum {
        format!("{}sum", args.checksum_algorithm)
    } else {
        String::new()
    };
    format!(
        "P={}\nFOLLOW={}\nSUM={}\nMIME={}\nATTR={}\n{STAT_SH}",
        path_word(&args.path),
        u8::from(args.follow),
        sum,
        u8::from(args.get_mime),
        u8::from(args.get_attributes),
    )
}

const STAT_SH: &str = r#"if [ "$FOLLOW" = 1 ]; then
  _o=-L
  [ -e "$P" ] || { emit exists 0; exit 0; }
else
  _o=
  if [ ! -e "$P" ] && [ ! -L "$P" ]; then emit exists 0; exit 0; fi
fi
emit exists 1
emit path "$P"
emit st "$(stat $_o -c '%f|%u|%g|%s|%i|%d|%h|%X|%Y|%Z|%x|%y|%z|%b|%o|%t|%T|%U|%G' -- "$P")"
[ -r "$P" ] && emit readable 1
[ -w "$P" ] && emit writeable 1
[ -x "$P" ] && emit executable 1
if [ "$FOLLOW" != 1 ] && [ -L "$P" ]; then
  emit lnk_source "$(readlink -f -- "$P")"
  emit lnk_target "$(readlink -- "$P")"
fi
if [ -n "$SUM" ] && [ -f "$P" ] && [ -r "$P" ]; then
  _c=$($SUM <"$P") && emit checksum "${_c%% *}"
fi
if [ "$MIME" = 1 ] && command -v file >/dev/null 2>&1; then
  _m=$(file -b --mime-type --mime-encoding -- "$P" 2>/dev/null) && emit mime "$_m"
fi
if [ "$ATTR" = 1 ] && command -v lsattr >/dev/null 2>&1; then
  _a=$(lsattr -vd -- "$P" 2>/dev/null) && emit lsattr "$_a"
fi
"#;

/// Fields of the `st` record before the owner and group names.
const STAT_FIELDS: usize = 17;

/// chattr flag letters and Ansible's names for them (`FILE_ATTRIBUTES`).
const ATTRIBUTE_NAMES: &[(char, &str)] = &[
    ('A', "noatime"),
    ('a', "append"),
    ('c', "compressed"),
    ('C', "nocow"),
    ('d', "nodump"),
    ('D', "dirsync"),
    ('e', "extents"),
    ('E', "encrypted"),
    ('h', "blocksize"),
    ('i', "immutable"),
    ('I', "indexed"),
    ('j', "journalled"),
    ('N', "inline"),
    ('s', "zero"),
    ('S', "synchronous"),
    ('t', "notail"),
    ('T', "blockroot"),
    ('u', "undelete"),
    ('X', "compressedraw"),
    ('Z', "compresseddirty"),
];

/// Builds the `stat` dictionary in Ansible's key order.
pub fn stat_from_records(records: &Records) -> Map {
    let mut out = Map::new();
    if records.get("exists") != Some("1") {
        out.insert("exists".into(), Value::Bool(false));
        return out;
    }
    // One `stat` call: 17 numeric and time fields, then the owner and group names.
    let line = records.get("st").unwrap_or("");
    let fields: Vec<&str> = line.splitn(STAT_FIELDS + 1, '|').collect();
    let int = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let hex = |i: usize| {
        fields
            .get(i)
            .and_then(|f| u64::from_str_radix(f, 16).ok())
            .unwrap_or(0)
    };
    let raw = hex(0) as u32;
    let perm = raw & 0o7777;
    let kind = raw & 0o170000;
    let flag = |b: u32| Value::Bool(perm & b != 0);
    let time =
        |secs: usize, human: usize| Value::from(float_time(int(secs), fields.get(human).copied()));
    out.insert("exists".into(), Value::Bool(true));
    out.insert(
        "path".into(),
        Value::String(records.get("path").unwrap_or("").into()),
    );
    out.insert("mode".into(), Value::String(format!("{perm:04o}")));
    for (key, bits) in [
        ("isdir", 0o040000),
        ("ischr", 0o020000),
        ("isblk", 0o060000),
        ("isreg", 0o100000),
        ("isfifo", 0o010000),
        ("islnk", 0o120000),
        ("issock", 0o140000),
    ] {
        out.insert(key.into(), Value::Bool(kind == bits));
    }
    out.insert("uid".into(), Value::from(int(1)));
    out.insert("gid".into(), Value::from(int(2)));
    out.insert("size".into(), Value::from(int(3)));
    out.insert("inode".into(), Value::from(int(4)));
    out.insert("dev".into(), Value::from(int(5)));
    out.insert("nlink".into(), Value::from(int(6)));
    out.insert("atime".into(), time(7, 10));
    out.insert("mtime".into(), time(8, 11));
    out.insert("ctime".into(), time(9, 12));
    for (key, bit) in [
        ("wusr", 0o200),
        ("rusr", 0o400),
        ("xusr", 0o100),
        ("wgrp", 0o020),
        ("rgrp", 0o040),
        ("xgrp", 0o010),
        ("woth", 0o002),
        ("roth", 0o004),
        ("xoth", 0o001),
        ("isuid", 0o4000),
        ("isgid", 0o2000),
    ] {
        out.insert(key.into(), flag(bit));
    }
    out.insert("blocks".into(), Value::from(int(13)));
    out.insert("block_size".into(), Value::from(int(14)));
    out.insert("device_type".into(), Value::from(makedev(hex(15), hex(16))));
    let readable = records.has("readable");
    out.insert("readable".into(), Value::Bool(readable));
    out.insert("writeable".into(), Value::Bool(records.has("writeable")));
    out.insert("executable".into(), Value::Bool(records.has("executable")));
    if kind == 0o120000 {
        for key in ["lnk_source", "lnk_target"] {
            out.insert(
                key.into(),
                Value::String(records.get(key).unwrap_or("").into()),
            );
        }
    }
    let names_field = fields.get(STAT_FIELDS).copied().unwrap_or("");
    let names: Vec<&str> = names_field.split('|').collect();
    for (key, name) in [("pw_name", names.first()), ("gr_name", names.get(1))] {
        if let Some(name) = name.filter(|n| !n.is_empty() && **n != "UNKNOWN") {
            out.insert(key.into(), Value::String((*name).into()));
        }
    }
    if kind == 0o100000 && readable {
        if let Some(sum) = records.get("checksum") {
            out.insert("checksum".into(), Value::String(sum.into()));
        }
    }
    if let Some(mime) = records.get("mime") {
        let (mimetype, charset) = parse_mime(mime);
        out.insert("mimetype".into(), Value::String(mimetype));
        out.insert("charset".into(), Value::String(charset));
    }
    if let Some(line) = records.get("lsattr") {
        let mut parts = line.split_whitespace();
        let version = parts.next().unwrap_or("").to_string();
        let flags: String = parts
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| *c != '-')
            .collect();
        let names: Vec<Value> = flags
            .chars()
            .filter_map(|c| ATTRIBUTE_NAMES.iter().find(|(f, _)| *f == c))
            .map(|(_, name)| Value::String((*name).into()))
            .collect();
        out.insert("version".into(), Value::String(version));
        out.insert("attributes".into(), Value::Array(names));
        out.insert("attr_flags".into(), Value::String(flags));
    }
    out
}

/// Adds the mime and attribute defaults Ansible reports when the tools are missing.
fn add_tool_defaults(stat: &mut Map, args: &StatArgs) {
    if !stat.get("exists").and_then(Value::as_bool).unwrap_or(false) {
        return;
    }
    if args.get_mime && !stat.contains_key("mimetype") {
        stat.insert("mimetype".into(), Value::String("unknown".into()));
        stat.insert("charset".into(), Value::String("unknown".into()));
    }
    if args.get_attributes && !stat.contains_key("attributes") {
        stat.insert("version".into(), Value::Null);
        stat.insert("attributes".into(), Value::Array(Vec::new()));
        stat.insert("attr_flags".into(), Value::String(String::new()));
    }
}

/// `text/plain; charset=us-ascii` → (`text/plain`, `us-ascii`).
fn parse_mime(text: &str) -> (String, String) {
    match text.split_once(';') {
        Some((mime, charset)) => (
            mime.trim().to_string(),
            charset
                .split_once('=')
                .map(|(_, c)| c.trim())
                .unwrap_or("unknown")
                .to_string(),
        ),
        None => ("unknown".into(), "unknown".into()),
    }
}

/// Seconds plus the fraction shown in `stat`'s human-readable time (`... 12:00:00.123456789 +0000`).
fn float_time(secs: u64, human: Option<&str>) -> f64 {
    let fraction = human
        .and_then(|h| h.split_whitespace().nth(1))
        .and_then(|clock| clock.split_once('.'))
        .map(|(_, digits)| format!("0.{digits}"))
        .and_then(|f| f.parse::<f64>().ok())
        .unwrap_or(0.0);
    secs as f64 + fraction
}

/// glibc's `makedev`.
fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12) | ((major & !0xfff) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{nasty_tempdir, run};
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn missing_paths_do_not_exist() {
        let (_tmp, dir) = nasty_tempdir();
        let result = run(&Stat, json!({"path": format!("{dir}/nope")})).await;
        assert_eq!(result["changed"], false);
        assert_eq!(result["stat"], json!({"exists": false}));
    }

    #[tokio::test]
    async fn regular_files_report_ansible_keys() {
        let (_tmp, dir) = nasty_tempdir();
        let path = format!("{dir}/f;$(x)");
        std::fs::write(&path, "hello").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let result = run(&Stat, json!({"path": path})).await;
        let stat = &result["stat"];
        assert_eq!(stat["exists"], true);
        assert_eq!(stat["path"], path.as_str());
        assert_eq!(stat["mode"], "0640");
        assert_eq!(stat["isreg"], true);
        assert_eq!(stat["isdir"], false);
        assert_eq!(stat["size"], 5);
        assert_eq!(stat["checksum"], "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
        assert_eq!(stat["rusr"], true);
        assert_eq!(stat["roth"], false);
        assert_eq!(stat["readable"], true);
        assert_eq!(stat["pw_name"], "root");
        assert!(stat["mtime"].as_f64().unwrap() > 1.0e9);
        let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
        assert_eq!(stat["inode"], inode);
        if std::path::Path::new("/usr/bin/file").exists() {
            assert_eq!(stat["mimetype"], "text/plain");
        }
        let result = run(
            &Stat,
            json!({"path": path, "get_checksum": false, "checksum_algorithm": "sha256"}),
        )
        .await;
        assert!(result["stat"].get("checksum").is_none());
        let result = run(&Stat, json!({"path": path, "checksum_algorithm": "sha256"})).await;
        assert_eq!(
            result["stat"]["checksum"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    #[tokio::test]
    async fn links_and_follow() {
        let (_tmp, dir) = nasty_tempdir();
        let target = format!("{dir}/t");
        std::fs::create_dir(&target).unwrap();
        let link = format!("{dir}/l");
        std::os::unix::fs::symlink("t", &link).unwrap();
        let result = run(&Stat, json!({"path": link})).await;
        assert_eq!(result["stat"]["islnk"], true);
        assert_eq!(result["stat"]["lnk_target"], "t");
        assert_eq!(result["stat"]["lnk_source"], target.as_str());
        let result = run(&Stat, json!({"path": link, "follow": true})).await;
        assert_eq!(result["stat"]["isdir"], true);
        assert_eq!(result["stat"]["islnk"], false);
    }

    #[test]
    fn mime_and_time_parsing() {
        assert_eq!(
            parse_mime("text/plain; charset=us-ascii"),
            ("text/plain".into(), "us-ascii".into())
        );
        assert_eq!(
            float_time(10, Some("2024-01-01 00:00:10.500000000 +0000")),
            10.5
        );
        assert_eq!(makedev(8, 1), 2049);
    }
}
