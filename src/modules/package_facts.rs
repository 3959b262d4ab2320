//! `ansible.builtin.package_facts`: the installed packages as the fact `packages`.
//!
//! Semantics (ansible-core 2.18 `modules/package_facts.py`):
//! - `manager` (list, default `auto`) names the managers to ask, `strategy` `first` (stop at the
//!   first usable one) or `all` (merge every usable one). `auto` tries them all in Ansible's
//!   order; names Ansible does not know fail with `Unsupported package managers requested: ...`;
//!   none usable fails with `Could not detect a supported package manager from the following
//!   list: [...], or the required Python library is not installed. Check warnings for details.`
//! - Result: `ansible_facts.packages`, a mapping from package name to a list of installed
//!   instances. `apt` (dpkg's database): `name, version, arch, category, origin, source: apt`;
//!   `rpm`: `name, version, release, epoch (null when none), arch, source: rpm`.
//! - Runs the same in check mode (it only reads).
//!
//! How it differs: there are no Python bindings on the target; `apt` reads `dpkg-query` (and
//! `apt-cache policy` for the origin of the installed version), `rpm` reads `rpm -qa`. The
//! `rpm` manager counts as usable when its database holds packages (a Debian host with the
//! `rpm` tool but no RPMs is an apt host, as Ansible sees it without the rpm bindings).
//! Not supported (usable as names, but reported unusable with a warning when asked for):
//! `pacman`, `pkg`, `portage`, `apk`, `pkg_info`.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::py::str as py_str;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct PackageFacts;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            default: Some("auto"),
            ..Param::new("manager", Kind::List)
        },
        Param {
            default: Some("first"),
            choices: &["first", "all"],
            ..Param::new("strategy", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// Ansible's manager names, in its `auto` order, with the aliases it accepts.
const MANAGERS: &[&str] = &["rpm", "apt", "pacman", "pkg", "portage", "apk", "pkg_info"];
const ALIASES: &[(&str, &[&str])] = &[
    ("rpm", &["dnf", "dnf5", "yum", "zypper"]),
    ("pkg", &["pkg5", "pkgng"]),
    ("pkg_info", &["openbsd_pkg"]),
];

#[async_trait]
impl Module for PackageFacts {
    fn name(&self) -> &'static str {
        "package_facts"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.package_facts"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let requested: Vec<String> = match args.get("manager") {
            Some(Value::Array(items)) => items.iter().map(|v| py_str(v).to_lowercase()).collect(),
            Some(Value::String(s)) => vec![s.to_lowercase()],
            _ => vec!["auto".into()],
        };
        let strategy = args
            .get("strategy")
            .and_then(Value::as_str)
            .unwrap_or("first");
        let managers = match expand(&requested) {
            Ok(managers) => managers,
            Err(msg) => return Ok(remote::failed(msg)),
        };
        let records = match remote::run_script(ctx, SCRIPT, None).await? {
            Ok(records) => records,
            Err(failure) => return Ok(failure),
        };
        let mut packages = Map::new();
        let mut warnings = Vec::new();
        let mut found = 0;
        let mut seen: Vec<&str> = Vec::new();
        for name in &managers {
            if strategy == "first" && found > 0 {
                break;
            }
            let manager = canonical(name);
            if seen.contains(&manager) {
                continue;
            }
            seen.push(manager);
            let usable = match manager {
                "apt" => records.has("apt"),
                "rpm" => records.has("rpm"),
                _ => false,
            };
            if !usable {
                if requested.iter().any(|r| r == name) {
                    let why = match manager {
                        "apt" | "rpm" => format!("no {manager} package database on the target"),
                        _ => "not supported by hook-runner".to_string(),
                    };
                    warnings.push(format!(
                        "Requested package manager {manager} was not usable by this module: {why}"
                    ));
                }
                continue;
            }
            found += 1;
            match manager {
                "apt" => add_apt(&mut packages, &records),
                _ => add_rpm(&mut packages, &records),
            }
        }
        if found == 0 {
            let list: Vec<String> = managers.iter().map(|m| format!("'{m}'")).collect();
            let mut failure = remote::failed(format!(
                "Could not detect a supported package manager from the following list: [{}], or the required Python library is not installed. Check warnings for details.",
                list.join(", ")
            ));
            add_warnings(&mut failure, warnings);
            return Ok(failure);
        }
        let mut facts = Map::new();
        facts.insert("packages".into(), Value::Object(packages));
        let mut result = Map::new();
        result.insert("ansible_facts".into(), Value::Object(facts));
        result.insert("changed".into(), Value::Bool(false));
        add_warnings(&mut result, warnings);
        Ok(result)
    }
}

fn add_warnings(result: &mut Map, warnings: Vec<String>) {
    if !warnings.is_empty() {
        result.insert(
            "warnings".into(),
            Value::Array(warnings.into_iter().map(Value::String).collect()),
        );
    }
}

/// `auto` expanded (the user's names first, as Ansible keeps them), names checked.
fn expand(requested: &[String]) -> Result<Vec<String>, String> {
    let known = |name: &str| {
        MANAGERS.contains(&name) || ALIASES.iter().any(|(_, list)| list.contains(&name))
    };
    let mut managers: Vec<String> = requested.to_vec();
    if managers.iter().any(|m| m == "auto") {
        managers.retain(|m| m != "auto");
        managers.extend(MANAGERS.iter().map(|m| m.to_string()));
        for (_, list) in ALIASES {
            managers.extend(list.iter().map(|m| m.to_string()));
        }
    }
    let mut unsupported: Vec<&str> = managers
        .iter()
        .map(String::as_str)
        .filter(|m| !known(m))
        .collect();
    if !unsupported.is_empty() {
        if requested.iter().any(|m| m == "auto") {
            return Err(
                "Could not auto detect a usable package manager, check warnings for details."
                    .into(),
            );
        }
        unsupported.dedup();
        return Err(format!(
            "Unsupported package managers requested: {}",
            unsupported.join(", ")
        ));
    }
    Ok(managers)
}

fn canonical(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(_, list)| list.contains(&name))
        .map(|(main, _)| *main)
        .unwrap_or(name)
}

/// Reads both databases in one round trip: `apt` (dpkg-query lines and `apt-cache policy`
/// for the installed packages) and `rpm` (`rpm -qa` lines), when there.
const SCRIPT: &str = r#"export LC_ALL=C
if command -v dpkg-query >/dev/null 2>&1 && [ -s /var/lib/dpkg/status ]; then
  _l=$(dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${Section}\n' 2>/dev/null)
  emit apt "$_l"
  if command -v apt-cache >/dev/null 2>&1; then
    _names=$(printf '%s\n' "$_l" | awk -F'\t' '$1 ~ /^.i/ { print $2 }')
    emit apt_sources "$(apt-cache policy 2>/dev/null)"
    set +f
    emit apt_policy "$(printf '%s\n' "$_names" | xargs -r apt-cache policy 2>/dev/null)"
    set -f
  fi
fi
if command -v rpm >/dev/null 2>&1; then
  _r=$(rpm -qa --qf '%{NAME}\t%{VERSION}\t%{RELEASE}\t%{EPOCH}\t%{ARCH}\n' 2>/dev/null)
  [ -n "$_r" ] && emit rpm "$_r"
fi
"#;

fn push(packages: &mut Map, name: &str, entry: Map) {
    let list = packages
        .entry(name.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = list {
        list.push(Value::Object(entry));
    }
}

fn add_apt(packages: &mut Map, records: &Records) {
    let origins = apt_origins(
        records.get("apt_sources").unwrap_or(""),
        records.get("apt_policy").unwrap_or(""),
    );
    for line in records.get("apt").unwrap_or("").lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [status, name, version, arch, section] = fields[..] else {
            continue;
        };
        if status.as_bytes().get(1) != Some(&b'i') {
            continue;
        }
        let mut entry = Map::new();
        entry.insert("name".into(), Value::String(name.into()));
        entry.insert("version".into(), Value::String(version.into()));
        entry.insert("arch".into(), Value::String(arch.into()));
        entry.insert("category".into(), Value::String(section.into()));
        let origin = origins
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o.clone())
            .unwrap_or_default();
        entry.insert("origin".into(), Value::String(origin));
        entry.insert("source".into(), Value::String("apt".into()));
        push(packages, name, entry);
    }
}

/// The origin (`o=` of the Release file) of each package's installed version: the first
/// source of its `***` line in `apt-cache policy NAME...`, looked up in `apt-cache policy`'s
/// list of sources. Packages only in dpkg's status file have an empty origin.
fn apt_origins(sources: &str, policy: &str) -> Vec<(String, String)> {
    // " 500 URL DIST ARCH Packages" followed by "     release o=Debian,..." lines.
    let mut origin_of: Vec<(String, String)> = Vec::new();
    let mut last_source: Option<String> = None;
    for line in sources.lines() {
        let trimmed = line.trim();
        if let Some(release) = trimmed.strip_prefix("release ") {
            if let Some(source) = &last_source {
                let o = release
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("o="))
                    .unwrap_or("");
                origin_of.push((source.clone(), o.to_string()));
            }
        } else if let Some((prio, rest)) = trimmed.split_once(' ') {
            if prio.parse::<i64>().is_ok() {
                last_source = Some(rest.to_string());
            }
        }
    }
    let mut out = Vec::new();
    let mut package: Option<String> = None;
    let mut in_installed = false;
    for line in policy.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            package = Some(line.trim_end_matches(':').to_string());
            in_installed = false;
        } else if line.starts_with(" *** ") {
            in_installed = true;
        } else if line.starts_with("     ") && !line.starts_with("      ") {
            in_installed = false;
        } else if in_installed {
            let trimmed = line.trim();
            if let Some((_, source)) = trimmed.split_once(' ') {
                if let Some((_, o)) = origin_of.iter().find(|(s, _)| s == source) {
                    if let Some(name) = &package {
                        out.push((name.clone(), o.clone()));
                    }
                    in_installed = false;
                }
            }
        }
    }
    out
}

fn add_rpm(packages: &mut Map, records: &Records) {
    for line in records.get("rpm").unwrap_or("").lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, version, release, epoch, arch] = fields[..] else {
            continue;
        };
        let mut entry = Map::new();
        entry.insert("name".into(), Value::String(name.into()));
        entry.insert("version".into(), Value::String(version.into()));
        entry.insert("release".into(), Value::String(release.into()));
        entry.insert(
            "epoch".into(),
            epoch.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
        );
        entry.insert("arch".into(), Value::String(arch.into()));
        entry.insert("source".into(), Value::String("rpm".into()));
        push(packages, name, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_expands_and_unknown_names_fail() {
        let all = expand(&["auto".into()]).unwrap();
        assert_eq!(all[0], "rpm");
        assert!(all.contains(&"apt".to_string()));
        assert_eq!(
            expand(&["apt".into(), "brew".into()]).unwrap_err(),
            "Unsupported package managers requested: brew"
        );
        assert_eq!(canonical("dnf"), "rpm");
    }

    #[test]
    fn origin_comes_from_the_installed_versions_source() {
        let sources = "Package files:\n 100 /var/lib/dpkg/status\n     release a=now\n 500 http://deb.debian.org/debian bookworm/main amd64 Packages\n     release v=12.5,o=Debian,a=stable,n=bookworm,l=Debian,c=main,b=amd64\n     origin deb.debian.org\nPinned packages:\n";
        let policy = "bash:\n  Installed: 5.2.15-2+b2\n  Candidate: 5.2.15-2+b2\n  Version table:\n *** 5.2.15-2+b2 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n        100 /var/lib/dpkg/status\nhr-local:\n  Installed: 1.0\n  Candidate: 1.0\n  Version table:\n *** 1.0 100\n        100 /var/lib/dpkg/status\n";
        let origins = apt_origins(sources, policy);
        assert_eq!(
            origins,
            vec![
                ("bash".to_string(), "Debian".to_string()),
                ("hr-local".to_string(), String::new())
            ]
        );
    }
}
