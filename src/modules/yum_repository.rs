//! `ansible.builtin.yum_repository`: add and remove repository sections in `.repo` files
//! (`/etc/yum.repos.d` by default), read by dnf and yum.
//!
//! Semantics (ansible-core 2.18 `modules/yum_repository.py`):
//! - The file is `reposdir/FILE.repo` (`file` defaults to `name`); `reposdir` must exist
//!   (`Repo directory 'DIR' does not exist.`). It is read as an INI file (Python's
//!   `RawConfigParser`: `key = value` or `key: value`, keys lower-cased, indented continuation
//!   lines, `#`/`;` comment lines, which are not kept).
//! - `present` replaces the `[name]` section with the task's options, sorted, each one that is
//!   set: `description` is written as `name`, booleans as `1`/`0`, `baseurl`/`gpgkey` lists one
//!   per line, `exclude`/`includepkgs` space-separated. `present` needs `description` and one of
//!   `baseurl`, `mirrorlist`, `metalink`. `absent` removes the section; a file left without
//!   sections is deleted.
//! - `changed` compares the sorted dump of the file before and after (so key order and
//!   comments alone never make a change); the file is then rewritten whole. `mode`, `owner`,
//!   `group` apply to the file when it exists (and make `changed`). Results: `changed`, `repo`,
//!   `state`, `diff` (`before`/`after` dumps with the file as headers). Check mode writes
//!   nothing.
//!
//! Not supported: `attributes` and the SELinux fields (ignored with a warning); Ansible's
//! deprecation notices for options dnf ignores are not printed.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, parse_mode, with_file_common};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::py::str as py_str;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;

pub struct YumRepository;

macro_rules! opt {
    ($name:expr) => {
        Param::new($name, Kind::Str)
    };
    ($name:expr, $kind:expr) => {
        Param::new($name, $kind)
    };
}

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        opt!("async", Kind::Bool),
        opt!("bandwidth"),
        opt!("baseurl", Kind::List),
        opt!("cost"),
        opt!("countme", Kind::Bool),
        opt!("deltarpm_metadata_percentage"),
        opt!("deltarpm_percentage"),
        opt!("description"),
        opt!("enabled", Kind::Bool),
        opt!("enablegroups", Kind::Bool),
        Param {
            aliases: &["excludepkgs"],
            ..Param::new("exclude", Kind::List)
        },
        Param {
            choices: &["roundrobin", "priority"],
            ..Param::new("failovermethod", Kind::Str)
        },
        opt!("file"),
        opt!("gpgcakey"),
        opt!("gpgcheck", Kind::Bool),
        opt!("gpgkey", Kind::List),
        opt!("module_hotfixes", Kind::Bool),
        Param {
            choices: &["all", "packages", "none"],
            ..Param::new("http_caching", Kind::Str)
        },
        opt!("include"),
        opt!("includepkgs", Kind::List),
        Param {
            choices: &["4", "6", "IPv4", "IPv6", "whatever"],
            ..Param::new("ip_resolve", Kind::Str)
        },
        opt!("keepalive", Kind::Bool),
        Param {
            choices: &["0", "1"],
            ..Param::new("keepcache", Kind::Str)
        },
        opt!("metadata_expire"),
        Param {
            choices: &[
                "never",
                "read-only:past",
                "read-only:present",
                "read-only:future"
            ],
            ..Param::new("metadata_expire_filter", Kind::Str)
        },
        opt!("metalink"),
        opt!("mirrorlist"),
        opt!("mirrorlist_expire"),
        Param {
            required: true,
            ..Param::new("name", Kind::Str)
        },
        Param {
            no_log: true,
            ..Param::new("password", Kind::Str)
        },
        opt!("priority"),
        opt!("protect", Kind::Bool),
        opt!("proxy"),
        Param {
            no_log: true,
            ..Param::new("proxy_password", Kind::Str)
        },
        opt!("proxy_username"),
        opt!("repo_gpgcheck", Kind::Bool),
        Param {
            default: Some("/etc/yum.repos.d"),
            ..Param::new("reposdir", Kind::Path)
        },
        opt!("retries"),
        opt!("s3_enabled", Kind::Bool),
        opt!("skip_if_unavailable", Kind::Bool),
        Param {
            aliases: &["ca_cert"],
            ..Param::new("sslcacert", Kind::Str)
        },
        opt!("ssl_check_cert_permissions", Kind::Bool),
        Param {
            aliases: &["client_cert"],
            ..Param::new("sslclientcert", Kind::Str)
        },
        Param {
            aliases: &["client_key"],
            ..Param::new("sslclientkey", Kind::Str)
        },
        Param {
            aliases: &["validate_certs"],
            ..Param::new("sslverify", Kind::Bool)
        },
        Param {
            default: Some("present"),
            choices: &["present", "absent"],
            ..Param::new("state", Kind::Str)
        },
        opt!("throttle"),
        opt!("timeout"),
        opt!("ui_repoid_vars"),
        opt!("username"),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// Parameters that are not repository options.
const NOT_OPTIONS: &[&str] = &[
    "name",
    "description",
    "file",
    "reposdir",
    "state",
    "mode",
    "owner",
    "group",
    "attributes",
    "seuser",
    "serole",
    "setype",
    "selevel",
    "unsafe_writes",
];

#[async_trait]
impl Module for YumRepository {
    fn name(&self) -> &'static str {
        "yum_repository"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.yum_repository"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let text = |key: &str| args.get(key).filter(|v| !v.is_null()).map(py_str);
        let name = text("name").unwrap_or_default();
        let state = text("state").unwrap_or_else(|| "present".into());
        if state == "present" {
            if !["baseurl", "mirrorlist", "metalink"]
                .iter()
                .any(|k| args.get(*k).is_some_and(|v| !v.is_null()))
            {
                return Ok(remote::failed(
                    "state is present but any of the following are missing: baseurl, mirrorlist, metalink",
                ));
            }
            if text("description").is_none() {
                return Ok(remote::failed(
                    "state is present but all of the following are missing: description",
                ));
            }
        }
        let mode = match parse_mode(args.get("mode").unwrap_or(&Value::Null)) {
            Ok(mode) => mode,
            Err(e) => return Ok(e.into_result(&name)),
        };
        let mut warnings = Vec::new();
        for key in ["attributes", "seuser", "serole", "setype", "selevel"] {
            if text(key).is_some() {
                warnings.push(format!(
                    "{key} is not supported by hook-runner's yum_repository and is ignored"
                ));
            }
        }
        let reposdir = text("reposdir").unwrap_or_else(|| "/etc/yum.repos.d".into());
        let file = text("file").unwrap_or_else(|| name.clone());
        let dest = format!("{}/{file}.repo", reposdir.trim_end_matches('/'));

        let read = format!(
            "D={}\nF={}\n{READ_SH}",
            path_word(&reposdir),
            path_word(&dest)
        );
        let records = match remote::run_script(ctx, &read, None).await? {
            Ok(records) => records,
            Err(failure) => return Ok(failure),
        };
        if let Some(failure) = records.failure() {
            return Ok(failure);
        }
        let real_dest = records.get("dest").unwrap_or(&dest).to_string();
        let mut ini = match records.get("text") {
            Some(content) => match Ini::parse(content) {
                Ok(ini) => ini,
                Err(msg) => return Ok(remote::failed(format!("{msg}\nfile: '{real_dest}'"))),
            },
            None => Ini::default(),
        };
        let before = ini.dump();
        ini.remove(&name);
        if state == "present" {
            ini.add(&name, repo_options(&args));
        }
        let after = ini.dump();
        let changed = before != after;

        let attrs_asked = mode.is_some() || text("owner").is_some() || text("group").is_some();
        let mut attrs_changed = false;
        if (changed && !ctx.check_mode) || attrs_asked {
            let mut s = remote::attrs_vars(
                ctx.check_mode,
                text("owner").as_deref(),
                text("group").as_deref(),
            );
            s.push_str(&remote::attrs_function(mode.as_ref()));
            let content = if ini.sections.is_empty() {
                None
            } else {
                Some(ini.write())
            };
            s.push_str(&format!(
                "F={}\nWRITE={}\nEMPTY={}\nCONTENT={}\n{WRITE_SH}",
                path_word(&dest),
                u8::from(changed && !ctx.check_mode),
                u8::from(content.is_none()),
                quote(content.as_deref().unwrap_or("")),
            ));
            let records = match remote::run_script(ctx, &s, None).await? {
                Ok(records) => records,
                Err(failure) => return Ok(failure),
            };
            if let Some(failure) = records.failure() {
                return Ok(failure);
            }
            attrs_changed = records.attrs_changed();
        }

        let mut diff = Map::new();
        diff.insert("before_header".into(), Value::String(dest.clone()));
        diff.insert("before".into(), Value::String(before));
        diff.insert("after_header".into(), Value::String(dest.clone()));
        diff.insert("after".into(), Value::String(after));
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(changed || attrs_changed));
        result.insert("repo".into(), Value::String(name));
        result.insert("state".into(), Value::String(state));
        result.insert("diff".into(), Value::Object(diff));
        if !warnings.is_empty() {
            result.insert(
                "warnings".into(),
                Value::Array(warnings.into_iter().map(Value::String).collect()),
            );
        }
        remote::mark_diff_mode(&mut result, ctx);
        Ok(result)
    }
}

/// The section's options from the task, sorted, as Ansible writes them.
fn repo_options(args: &Map) -> Vec<(String, String)> {
    let mut options: Vec<(String, String)> = Vec::new();
    for (key, value) in args {
        if NOT_OPTIONS.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        let text = match (key.as_str(), value) {
            (_, Value::Bool(b)) => if *b { "1" } else { "0" }.to_string(),
            ("baseurl" | "gpgkey", Value::Array(items)) => {
                items.iter().map(py_str).collect::<Vec<_>>().join("\n")
            }
            ("exclude" | "includepkgs", Value::Array(items)) => {
                items.iter().map(py_str).collect::<Vec<_>>().join(" ")
            }
            (_, other) => py_str(other),
        };
        options.push((key.clone(), text));
    }
    if let Some(description) = args.get("description").filter(|v| !v.is_null()) {
        options.push(("name".into(), py_str(description)));
    }
    options.sort();
    options
}

/// Reads the repo file (through a symlink, as Python's `open` does) and checks `reposdir`.
const READ_SH: &str = r#"[ -d "$D" ] || die "Repo directory '$D' does not exist."
emit dest "$F"
if [ -f "$F" ]; then
  _w=$(cat -- "$F"; printf x) || die "cannot read $F"
  emit text "${_w%x}"
fi
"#;

/// Writes the file (a temp file in its directory, then `mv`; an existing file keeps its mode
/// and owner), or removes it when no section is left, then applies mode/owner/group.
const WRITE_SH: &str = r#"if [ "$WRITE" = 1 ]; then
  if [ "$EMPTY" = 1 ]; then
    rm -f -- "$F" || die "Cannot remove empty repo file $F."
  else
    _t=$(readlink -f -- "$F" 2>/dev/null) || _t=$F
    dir_of "$_t"
    _tmp=$(mktemp "$_dn/.${_t##*/}.XXXXXX") || die "Problems handling file $F."
    printf '%s' "$CONTENT" >"$_tmp" || { rm -f -- "$_tmp"; die "Problems handling file $F."; }
    if [ -e "$_t" ]; then
      chmod "$(stat -c %a -- "$_t")" "$_tmp"; chown "$(stat -c %u:%g -- "$_t")" "$_tmp" 2>/dev/null
    else
      chmod "$(printf '%o' $(( 0666 & ~$(umask) )))" "$_tmp"
    fi
    mv -f -- "$_tmp" "$_t" || { rm -f -- "$_tmp"; die "Problems handling file $F."; }
  fi
fi
[ -f "$F" ] && setattrs "$F"
:
"#;

/// An INI file as Python's `RawConfigParser` reads it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Ini {
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl Ini {
    fn parse(text: &str) -> Result<Ini, String> {
        let mut ini = Ini::default();
        let mut last_key: Option<usize> = None;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            let indented = line.starts_with([' ', '\t']);
            if indented {
                if let (Some(i), Some((_, opts))) = (last_key, ini.sections.last_mut()) {
                    let value = &mut opts[i].1;
                    value.push('\n');
                    value.push_str(trimmed);
                    continue;
                }
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                ini.sections.push((name.to_string(), Vec::new()));
                last_key = None;
                continue;
            }
            let Some((_, options)) = ini.sections.last_mut() else {
                return Err("File contains no section headers.".into());
            };
            let split = trimmed.find(['=', ':']);
            let (key, value) = match split {
                Some(i) => (trimmed[..i].trim(), trimmed[i + 1..].trim()),
                None => return Err(format!("Source contains parsing errors: {trimmed}")),
            };
            let key = key.to_lowercase();
            match options.iter().position(|(k, _)| *k == key) {
                Some(i) => {
                    options[i].1 = value.to_string();
                    last_key = Some(i);
                }
                None => {
                    options.push((key, value.to_string()));
                    last_key = Some(options.len() - 1);
                }
            }
        }
        Ok(ini)
    }

    fn remove(&mut self, name: &str) {
        self.sections.retain(|(n, _)| n != name);
    }

    fn add(&mut self, name: &str, options: Vec<(String, String)>) {
        self.sections.push((name.to_string(), options));
    }

    /// Ansible's `dump`: sections and keys sorted.
    fn dump(&self) -> String {
        let mut sections: Vec<&(String, Vec<(String, String)>)> = self.sections.iter().collect();
        sections.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::new();
        for (name, options) in sections {
            out.push_str(&format!("[{name}]\n"));
            let mut options: Vec<&(String, String)> = options.iter().collect();
            options.sort();
            for (k, v) in options {
                out.push_str(&format!("{k} = {v}\n"));
            }
            out.push('\n');
        }
        out
    }

    /// `RawConfigParser.write`: file order, continuation lines indented with a tab.
    fn write(&self) -> String {
        let mut out = String::new();
        for (name, options) in &self.sections {
            out.push_str(&format!("[{name}]\n"));
            for (k, v) in options {
                out.push_str(&format!("{k} = {}\n", v.replace('\n', "\n\t")));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ini_reads_as_python_and_writes_sorted_options() {
        let ini = Ini::parse(
            "# c\n[epel]\nName = EPEL\nbaseurl = http://a\n  http://b\n\n[other]\nx: 1\n",
        )
        .unwrap();
        assert_eq!(ini.sections[0].1[0], ("name".into(), "EPEL".into()));
        assert_eq!(ini.sections[0].1[1].1, "http://a\nhttp://b");
        assert_eq!(
            ini.write(),
            "[epel]\nname = EPEL\nbaseurl = http://a\n\thttp://b\n\n[other]\nx = 1\n\n"
        );
        assert_eq!(
            ini.dump(),
            "[epel]\nbaseurl = http://a\nhttp://b\nname = EPEL\n\n[other]\nx = 1\n\n"
        );
        assert!(Ini::parse("x = 1\n").is_err());
    }

    #[test]
    fn options_are_written_as_ansible_writes_them() {
        let args = json!({"name": "hr", "description": "HR", "baseurl": ["file:///a", "file:///b"],
            "gpgcheck": false, "exclude": ["x", "y"], "state": "present", "reposdir": "/d", "mode": null});
        assert_eq!(
            repo_options(args.as_object().unwrap()),
            vec![
                ("baseurl".to_string(), "file:///a\nfile:///b".to_string()),
                ("exclude".into(), "x y".into()),
                ("gpgcheck".into(), "0".into()),
                ("name".into(), "HR".into()),
            ]
        );
    }

    #[tokio::test]
    async fn present_needs_a_url_and_a_description() {
        let result = crate::modules::remote::testkit::run(
            &YumRepository,
            json!({"name": "hr", "description": "x"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "state is present but any of the following are missing: baseurl, mirrorlist, metalink"
        );
    }

    #[tokio::test]
    async fn a_repo_file_is_written_changed_once_and_removed() {
        let (_dir, path) = crate::modules::remote::testkit::nasty_tempdir();
        let run = |args| crate::modules::remote::testkit::run(&YumRepository, args);
        let add = json!({"name": "hr", "description": "HR repo", "baseurl": "file:///srv/hr",
            "gpgcheck": false, "reposdir": path, "mode": "0600"});
        let first = run(add.clone()).await;
        assert_eq!(first["changed"], true, "{first:?}");
        let file = std::path::Path::new(&path).join("hr.repo");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "[hr]\nbaseurl = file:///srv/hr\ngpgcheck = 0\nname = HR repo\n\n"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(run(add).await["changed"], false);
        let gone = run(json!({"name": "hr", "state": "absent", "reposdir": path})).await;
        assert_eq!(gone["changed"], true, "{gone:?}");
        assert!(!file.exists());
    }
}
