//! `ansible.builtin.setup`: fact gathering, from one `sh` round trip (no Python on the target).
//!
//! A small, real subset of Ansible's facts (`gather_subset: min` plus the network default),
//! with Ansible's names and shapes; the keys carry the `ansible_` prefix as the setup
//! module returns them (the engine stores them as `ansible_facts.<name>` and, as Ansible's
//! `INJECT_FACTS_AS_VARS` does, as top-level `ansible_<name>`):
//! - user: `ansible_user_id, ansible_user_uid, ansible_user_gid, ansible_user_dir,
//!   ansible_user_shell, ansible_user_gecos`, and `ansible_env` (the remote environment);
//! - host: `ansible_hostname` (node name up to the first dot), `ansible_nodename`,
//!   `ansible_fqdn`, `ansible_domain`, `ansible_machine_id`;
//! - platform: `ansible_system, ansible_kernel, ansible_kernel_version, ansible_machine,
//!   ansible_architecture, ansible_userspace_bits`;
//! - distribution (from `/etc/os-release`, `/etc/debian_version`, `/etc/redhat-release`):
//!   `ansible_distribution, ansible_distribution_version, ansible_distribution_major_version,
//!   ansible_distribution_release, ansible_os_family`;
//! - `ansible_service_mgr` (same detection as the service module), `ansible_pkg_mgr`;
//! - network: `ansible_default_ipv4` (`address, interface, alias, gateway, netmask, network,
//!   prefix, broadcast, macaddress, mtu, type`), `ansible_all_ipv4_addresses`,
//!   `ansible_interfaces`;
//! - `ansible_date_time` (Ansible's keys), `ansible_memtotal_mb, ansible_memfree_mb,
//!   ansible_swaptotal_mb, ansible_processor_vcpus, ansible_processor_nproc,
//!   ansible_uptime_seconds, ansible_virtualization_type, ansible_virtualization_role`;
//! - `gather_subset`, `module_setup: true`;
//!
//! The same facts are gathered whatever `gather_subset` says; `gather_subset`, `gather_timeout`
//! and `fact_path` (local facts) are accepted but not implemented: a task that sets them to
//! anything but their defaults gets a warning naming them.
//! - `ansible_python` and `ansible_python_version`, only when the target has a Python
//!   (hook-runner itself needs none): the interpreter Ansible would run its modules with, i.e.
//!   the host's `ansible_python_interpreter` when set (templated), else `python3`, else
//!   `python`, found on the target's `PATH`. Ansible describes the interpreter that ran its
//!   module; hook-runner asks it `--version` only (a few ms, no interpreter start-up), in the
//!   same round trip, and reports `executable` (the interpreter's path as found), `type`
//!   (`sys.implementation.name`: `cpython`, or `pypy` when its version text says so),
//!   `version` (`major, minor, micro, releaselevel, serial`, read from `Python 3.11.2`,
//!   `3.13.0rc1`...), `version_info` (`[3, 11, 2, "final", 0]`) and `has_sslcontext: true`
//!   (every Python Ansible 2.18 supports has `ssl.SSLContext`; not probed);
//!   `ansible_python_version` is the version as printed (`3.11.2`). No Python, or an
//!   interpreter that does not answer like one: neither fact.
//!
//! The module's `filter` keeps only the facts matching the given `fnmatch` patterns.
//! Not gathered: hardware inventory (devices, mounts), SELinux, LSB, IPv6 and per-interface
//! facts.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::service::SERVICE_MGR_SH;
use super::{Module, ModuleContext};
use crate::connection::{Become, ConnError, Connection, ExecRequest};
use crate::shell::quote;
use crate::template::{Scope, Templar};
use crate::{Map, Value};
use async_trait::async_trait;
use std::time::Duration;

pub struct Setup;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            default: Some("all"),
            ..Param::new("gather_subset", Kind::List)
        }
        .ignored(),
        Param {
            default: Some("10"),
            ..Param::new("gather_timeout", Kind::Int)
        }
        .ignored(),
        Param {
            default: Some("[]"),
            ..Param::new("filter", Kind::List)
        },
        Param {
            default: Some("/etc/ansible/facts.d"),
            ..Param::new("fact_path", Kind::Path)
        }
        .ignored(),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for Setup {
    fn name(&self) -> &'static str {
        "setup"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.setup"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let python = python_interpreter(ctx.templar, ctx.scope);
        let mut facts =
            gather_with_python(ctx.conn, ctx.become_.clone(), python.as_deref()).await?;
        let filters: Vec<String> = args
            .get("filter")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        // The `gather_subset`/`module_setup` metadata is a fact like the others for `filter`.
        if let Some(subset) = args.get("gather_subset") {
            facts.insert("gather_subset".into(), subset.clone());
        }
        if !filters.iter().all(|f| f.is_empty()) {
            facts.retain(|name, _| filters.iter().any(|f| fnmatch(f, name)));
        }
        let mut result = Map::new();
        result.insert("ansible_facts".into(), Value::Object(facts));
        result.insert("changed".into(), Value::Bool(false));
        Ok(result)
    }
}

/// Gathers the facts of one host in one round trip: the `ansible_facts` map the setup module
/// returns (keys prefixed with `ansible_`). `ansible_python` describes `python3` (or `python`)
/// found on the target's `PATH`, see [`gather_with_python`].
pub async fn gather(conn: &dyn Connection, become_: Option<Become>) -> Result<Map, ConnError> {
    gather_with_python(conn, become_, None).await
}

/// [`gather`], with `ansible_python` describing `python` (the host's
/// `ansible_python_interpreter`, see [`python_interpreter`]) instead of the one on `PATH`.
pub async fn gather_with_python(
    conn: &dyn Connection,
    become_: Option<Become>,
    python: Option<&str>,
) -> Result<Map, ConnError> {
    let output = conn
        .exec(ExecRequest {
            script: format!(
                "{}HR_PY={}\n{SERVICE_MGR_SH}{FACTS_SH}",
                remote::PRELUDE,
                quote(python.unwrap_or(""))
            ),
            stdin: None,
            become_,
            env: Vec::new(),
            timeout: Some(Duration::from_secs(60)),
            ..ExecRequest::default()
        })
        .await?;
    Ok(facts_from_records(&Records::parse(&output.stdout)))
}

/// The host's `ansible_python_interpreter`, templated (it is often
/// `{{ ansible_playbook_python }}`-like); `None` when unset, empty or not templatable (then
/// the fact describes the Python on `PATH`).
pub fn python_interpreter(templar: &Templar, scope: Scope<'_>) -> Option<String> {
    let raw = scope.vars.get("ansible_python_interpreter")?;
    let text = match raw {
        Value::String(s) if s.contains("{{") || s.contains("{%") => {
            templar.render_str(s, scope).ok()?
        }
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

const FACTS_SH: &str = r#"_t=; command -v timeout >/dev/null 2>&1 && _t="timeout 3"
# Files are read with the `read` builtin where one line (or a short file) is wanted: a `cat`
# per file would be a process each.
line_of() { _l=; IFS= read -r _l 2>/dev/null <"$1" || :; }
text_of() {
  _s=
  while IFS= read -r _l || [ -n "$_l" ]; do _s="$_s$_l
"; done 2>/dev/null <"$1"
  _s=${_s%
}
}
# One `id` for the three ids: `uid=N(name) gid=N(name) ...` in the C locale.
_idl=$(LC_ALL=C id 2>/dev/null)
_me=${_idl#uid=}; _me=${_me%%[!0-9]*}
_gid=${_idl#* gid=}; _gid=${_gid%%[!0-9]*}
case ${_idl%% gid=*} in
  *'('*')') _un=${_idl#*\(}; _un=${_un%%\)*} ;;
  *) _un= ;;
esac
if [ -z "$_me" ] || [ -z "$_gid" ]; then _me=$(id -u); _gid=$(id -g); _un=$(id -un 2>/dev/null); fi
emit user_id "$_un"
emit uid "$_me"
emit gid "$_gid"
_pw=
if command -v getent >/dev/null 2>&1; then
  IFS= read -r _pw <<EOF_PW
$(getent passwd "$_me" 2>/dev/null)
EOF_PW
fi
if [ -z "$_pw" ]; then
  while IFS= read -r _l; do
    case $_l in *:*:"$_me":*) _pw=$_l; break ;; esac
  done </etc/passwd
fi
emit passwd "$_pw"
# The kernel's own names (what uname prints), read from /proc without a process each.
line_of /proc/sys/kernel/ostype; _us=$_l
line_of /proc/sys/kernel/osrelease; _ur=$_l
line_of /proc/sys/kernel/hostname; _node=$_l
line_of /proc/sys/kernel/version; _uv=$_l
[ -n "$_us" ] || _us=$(uname -s)
[ -n "$_ur" ] || _ur=$(uname -r)
[ -n "$_node" ] || _node=$(uname -n)
[ -n "$_uv" ] || _uv=$(uname -v)
emit uname "$_us|$_ur|$(uname -m)|$_node"
emit kernel_version "$_uv"
# Python's socket.getfqdn(), which Ansible uses: the name the hostname's first address resolves
# back to, or its first alias holding a dot; the hostname itself when either lookup fails.
py_getfqdn() {
  _hn=$_node
  if ! command -v getent >/dev/null 2>&1; then
    $_t hostname -f 2>/dev/null || printf '%s\n' "$_hn"
    return 0
  fi
  read -r _a _rest <<EOF_ADDR
$(getent ahosts "$_hn" 2>/dev/null)
EOF_ADDR
  _r=
  if [ -n "$_a" ]; then
    IFS= read -r _r <<EOF_HOST
$(getent hosts "$_a" 2>/dev/null)
EOF_HOST
  fi
  if [ -z "$_r" ]; then printf '%s\n' "$_hn"; return 0; fi
  set -- $_r
  shift
  _f=$1
  for _n in "$@"; do
    case $_n in *.*) _f=$_n; break ;; esac
  done
  printf '%s\n' "$_f"
}
emit fqdn "$(py_getfqdn)"
if [ -r /etc/os-release ]; then text_of /etc/os-release; emit osrelease "$_s"
elif [ -r /usr/lib/os-release ]; then text_of /usr/lib/os-release; emit osrelease "$_s"; fi
[ -r /etc/debian_version ] && text_of /etc/debian_version && emit debian_version "$_s"
[ -r /etc/redhat-release ] && text_of /etc/redhat-release && emit redhat_release "$_s"
detect_service_mgr
emit service_mgr "$SERVICE_MGR"
for _p in dnf yum apt-get zypper apk pacman; do
  if command -v $_p >/dev/null 2>&1; then emit pkg_mgr $_p; break; fi
done
if command -v ip >/dev/null 2>&1; then
  IFS= read -r _rt <<EOF_ROUTE
$(ip -4 route get 1.1.1.1 2>/dev/null)
EOF_ROUTE
  emit route "$_rt"
  emit addrs "$(ip -4 -o addr show 2>/dev/null)"
else
  # No iproute2 (minimal images): the kernel's own tables.
  [ -r /proc/net/route ] && emit proc_route "$(cat /proc/net/route)"
  [ -r /proc/net/fib_trie ] && emit fib_trie "$(cat /proc/net/fib_trie)"
fi
set +f
_ifs=
for _i in /sys/class/net/*; do
  [ -e "$_i" ] || [ -L "$_i" ] || continue
  _ifs="$_ifs ${_i##*/}"
  line_of "$_i/address"; _mac=$_l
  line_of "$_i/mtu"
  [ -e "$_i" ] && emit ifinfo "${_i##*/}|$_mac|$_l"
done
set -f
emit interfaces "${_ifs# }"
emit date "$(date '+%Y|%m|%d|%H|%M|%S|%Z|%z|%s|%A|%u|%j|%b|%B|%a|%U|%w')"
emit date_utc "$(date -u '+%Y-%m-%dT%H:%M:%SZ|%Y%m%dT%H%M%S')"
[ -r /proc/meminfo ] && text_of /proc/meminfo && emit meminfo "$_s"
emit nproc "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
[ -r /etc/machine-id ] && line_of /etc/machine-id && emit machine_id "$_l"
[ -r /proc/uptime ] && line_of /proc/uptime && emit uptime "$_l"
if command -v systemd-detect-virt >/dev/null 2>&1; then emit virt "$(systemd-detect-virt 2>/dev/null)"; fi
emit userspace_bits "$(getconf LONG_BIT 2>/dev/null)"
# ansible_python: the interpreter Ansible would use (HR_PY: the host's ansible_python_interpreter),
# else python3, else python on PATH; `--version` only (Python 2 prints it on stderr).
if [ -n "$HR_PY" ]; then _py=$(command -v "$HR_PY" 2>/dev/null)
else _py=$(command -v python3 2>/dev/null) || _py=$(command -v python 2>/dev/null); fi
case $_py in
  /*) [ -f "$_py" ] && [ -x "$_py" ] && emit python "$_py
$("$_py" --version 2>&1 </dev/null)" ;;
esac
printf 'env_begin=1\0'
env -0 2>/dev/null || env | tr '\n' '\000'
printf 'env_end=1\0'
"#;

/// Builds the facts from the script's records.
pub fn facts_from_records(records: &Records) -> Map {
    let mut facts = Map::new();
    let mut put = |key: &str, value: Value| {
        facts.insert(format!("ansible_{key}"), value);
    };
    let text = |key: &str| records.get(key).unwrap_or("").to_string();

    // User.
    put("user_id", Value::String(text("user_id")));
    put("user_uid", number(&text("uid")));
    put("user_gid", number(&text("gid")));
    let passwd: Vec<String> = text("passwd").split(':').map(str::to_string).collect();
    let field = |i: usize| Value::String(passwd.get(i).cloned().unwrap_or_default());
    put("user_gecos", field(4));
    put("user_dir", field(5));
    put("user_shell", field(6));

    // Platform and host names.
    let uname: Vec<String> = text("uname").split('|').map(str::to_string).collect();
    let part = |i: usize| uname.get(i).cloned().unwrap_or_default();
    let machine = part(2);
    put("system", Value::String(part(0)));
    put("kernel", Value::String(part(1)));
    put("kernel_version", Value::String(text("kernel_version")));
    put("machine", Value::String(machine.clone()));
    put("architecture", Value::String(architecture(&machine)));
    put("userspace_bits", Value::String(text("userspace_bits")));
    let nodename = part(3);
    put("nodename", Value::String(nodename.clone()));
    put(
        "hostname",
        Value::String(nodename.split('.').next().unwrap_or("").to_string()),
    );
    let fqdn = match text("fqdn") {
        f if f.is_empty() => nodename.clone(),
        f => f,
    };
    put(
        "domain",
        Value::String(
            fqdn.split_once('.')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default(),
        ),
    );
    put("fqdn", Value::String(fqdn));
    if let Some(id) = records.get("machine_id") {
        put("machine_id", Value::String(id.trim().to_string()));
    }

    // Distribution.
    let os = parse_os_release(records.get("osrelease").unwrap_or(""));
    let dist = Distribution::detect(
        &os,
        records.get("debian_version"),
        records.get("redhat_release"),
    );
    put("distribution", Value::String(dist.name.clone()));
    put("distribution_version", Value::String(dist.version.clone()));
    put(
        "distribution_major_version",
        Value::String(dist.version.split('.').next().unwrap_or("").to_string()),
    );
    put("distribution_release", Value::String(dist.release.clone()));
    put(
        "os_family",
        Value::String(os_family(&dist.name).to_string()),
    );

    put("service_mgr", Value::String(text("service_mgr")));
    let pkg = match text("pkg_mgr").as_str() {
        "apt-get" => "apt".to_string(),
        "" => "unknown".to_string(),
        other => other.to_string(),
    };
    put("pkg_mgr", Value::String(pkg));

    // Network.
    let (route, addrs) = match records.get("proc_route") {
        Some(table) => proc_network(table, records.get("fib_trie").unwrap_or("")),
        None => (
            records.get("route").unwrap_or("").to_string(),
            parse_addrs(records.get("addrs").unwrap_or("")),
        ),
    };
    put(
        "all_ipv4_addresses",
        Value::Array(
            addrs
                .iter()
                .filter(|a| !a.address.starts_with("127."))
                .map(|a| Value::String(a.address.clone()))
                .collect(),
        ),
    );
    let mut v4 = default_ipv4(&route, &addrs);
    if let Some(Value::String(interface)) = v4.get("interface").cloned() {
        let info = records
            .all("ifinfo")
            .map(|line| line.split('|').collect::<Vec<_>>())
            .find(|parts| parts.first() == Some(&interface.as_str()));
        if let Some(parts) = info {
            let mac = parts.get(1).copied().unwrap_or("");
            v4.insert("macaddress".into(), Value::String(mac.into()));
            v4.insert("mtu".into(), number(parts.get(2).copied().unwrap_or("")));
        }
    }
    put("default_ipv4", Value::Object(v4));
    put(
        "interfaces",
        Value::Array(
            text("interfaces")
                .split_whitespace()
                .map(|i| Value::String(i.to_string()))
                .collect(),
        ),
    );

    // Time, memory, CPU, uptime, virtualisation.
    put(
        "date_time",
        Value::Object(date_time(&text("date"), &text("date_utc"))),
    );
    let mem = parse_meminfo(records.get("meminfo").unwrap_or(""));
    for (fact, key) in [
        ("memtotal_mb", "MemTotal"),
        ("memfree_mb", "MemFree"),
        ("swaptotal_mb", "SwapTotal"),
    ] {
        put(fact, Value::from(mem.get(key).copied().unwrap_or(0) / 1024));
    }
    let nproc = number(text("nproc").trim());
    put("processor_vcpus", nproc.clone());
    put("processor_nproc", nproc);
    let uptime = text("uptime");
    put(
        "uptime_seconds",
        Value::from(
            uptime
                .split_whitespace()
                .next()
                .and_then(|u| u.parse::<f64>().ok())
                .map(|u| u as i64)
                .unwrap_or(0),
        ),
    );
    let virt = text("virt");
    let (vtype, vrole) = match virt.trim() {
        "" | "none" => ("".to_string(), "".to_string()),
        other => (other.to_string(), "guest".to_string()),
    };
    put("virtualization_type", Value::String(vtype));
    put("virtualization_role", Value::String(vrole));

    if let Some((python, version)) = records.get("python").and_then(python_facts) {
        put("python", python);
        put("python_version", Value::String(version));
    }
    put("env", Value::Object(environment(records)));
    put("local", Value::Object(Map::new()));
    put("fips", Value::Bool(false));
    facts.insert(
        "gather_subset".into(),
        Value::Array(vec![Value::String("all".into())]),
    );
    facts.insert("module_setup".into(), Value::Bool(true));
    facts
}

/// `ansible_python` and `ansible_python_version` from the `python` record: the interpreter's
/// path, a newline, and what its `--version` printed (`Python 3.11.2`; PyPy adds a
/// `[PyPy 7.3.11 ...]` line). `ansible_python_version` is `platform.python_version()`: the
/// version as printed (`3.11.2`, `3.13.0rc1`). `None` when the text is not a Python version.
fn python_facts(record: &str) -> Option<(Value, String)> {
    let (executable, answer) = record.split_once('\n')?;
    let version = answer
        .lines()
        .find_map(|line| line.trim().strip_prefix("Python "))?
        .split_whitespace()
        .next()?;
    let (major, minor, micro, releaselevel, serial) = parse_python_version(version)?;
    // Ansible reports `sys.implementation.name`.
    let kind = if answer.contains("PyPy") {
        "pypy"
    } else {
        "cpython"
    };
    let fact = serde_json::json!({
        "executable": executable,
        "has_sslcontext": true,
        "type": kind,
        "version": {
            "major": major,
            "minor": minor,
            "micro": micro,
            "releaselevel": releaselevel,
            "serial": serial,
        },
        "version_info": [major, minor, micro, releaselevel, serial],
    });
    Some((fact, version.to_string()))
}

/// `3.11.2` → (3, 11, 2, "final", 0); `3.13.0rc1` → (3, 13, 0, "candidate", 1); `a`/`b`
/// suffixes are `alpha`/`beta`; a trailing `+` (a build from a branch) is ignored.
fn parse_python_version(text: &str) -> Option<(u64, u64, u64, &'static str, u64)> {
    let text = text.trim_end_matches('+');
    let numeric_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (numbers, suffix) = text.split_at(numeric_end);
    let mut parts = numbers.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let micro = match parts.next() {
        Some(m) => m.parse().ok()?,
        None => 0,
    };
    let (level, serial) = if suffix.is_empty() {
        ("final", "0")
    } else if let Some(n) = suffix.strip_prefix("rc") {
        ("candidate", n)
    } else if let Some(n) = suffix.strip_prefix('a') {
        ("alpha", n)
    } else if let Some(n) = suffix.strip_prefix('b') {
        ("beta", n)
    } else {
        return None;
    };
    Some((major, minor, micro, level, serial.parse().ok()?))
}

fn number(text: &str) -> Value {
    text.trim()
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Ansible's `architecture`: `uname -m`, with 32-bit x86 names folded to `i386`.
fn architecture(machine: &str) -> String {
    match machine {
        "i386" | "i486" | "i586" | "i686" => "i386".into(),
        other => other.into(),
    }
}

/// `/etc/os-release` as a key → value map (quotes and escapes removed).
pub fn parse_os_release(text: &str) -> Map {
    let mut out = Map::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let unquoted = if value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"'))
                || (value.starts_with('\'') && value.ends_with('\'')))
        {
            value[1..value.len() - 1]
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        } else {
            value.to_string()
        };
        out.insert(key.trim().to_string(), Value::String(unquoted));
    }
    out
}

/// What Ansible's distribution collector reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    pub name: String,
    pub version: String,
    pub release: String,
}

impl Distribution {
    pub fn detect(
        os: &Map,
        debian_version: Option<&str>,
        redhat_release: Option<&str>,
    ) -> Distribution {
        let get = |k: &str| os.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let id = get("ID");
        let name = match id.as_str() {
            "debian" => "Debian".to_string(),
            "ubuntu" => "Ubuntu".to_string(),
            "rhel" => "RedHat".to_string(),
            "centos" => "CentOS".to_string(),
            "fedora" => "Fedora".to_string(),
            "rocky" => "Rocky".to_string(),
            "almalinux" => "AlmaLinux".to_string(),
            "ol" => "OracleLinux".to_string(),
            "amzn" => "Amazon".to_string(),
            "sles" | "sles_sap" => "SLES".to_string(),
            "opensuse-leap" => "openSUSE Leap".to_string(),
            "opensuse-tumbleweed" => "openSUSE Tumbleweed".to_string(),
            "alpine" => "Alpine".to_string(),
            "arch" => "Archlinux".to_string(),
            "" => "Unknown".to_string(),
            other => get("NAME")
                .split_whitespace()
                .next()
                .map(str::to_string)
                .unwrap_or_else(|| other.to_string()),
        };
        let mut version = get("VERSION_ID");
        if id == "debian" {
            if let Some(full) = debian_version
                .map(str::trim)
                .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            {
                version = full.to_string();
            }
        }
        if matches!(
            id.as_str(),
            "rhel" | "centos" | "rocky" | "almalinux" | "ol"
        ) {
            // `Red Hat Enterprise Linux release 8.9 (Ootpa)`: the full version lives there.
            if let Some(full) = redhat_release.and_then(|r| {
                r.split_whitespace()
                    .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                    .map(str::to_string)
            }) {
                version = full;
            }
        }
        let mut release = get("VERSION_CODENAME");
        if release.is_empty() {
            release = redhat_release
                .and_then(|r| {
                    r.split_once('(')
                        .map(|(_, rest)| rest.trim_end_matches([')', '\n', ' ']).to_string())
                })
                .unwrap_or_default();
        }
        Distribution {
            name,
            version,
            release,
        }
    }
}

/// Ansible's `os_family` for a distribution name.
pub fn os_family(distribution: &str) -> &str {
    match distribution {
        "RedHat" | "CentOS" | "Fedora" | "Rocky" | "AlmaLinux" | "OracleLinux" | "Amazon"
        | "Scientific" | "CloudLinux" => "RedHat",
        "Debian" | "Ubuntu" | "Raspbian" | "Linux Mint" | "Kali" => "Debian",
        "SLES" | "openSUSE Leap" | "openSUSE Tumbleweed" | "SLES_SAP" => "Suse",
        "Alpine" => "Alpine",
        "Archlinux" => "Archlinux",
        other => other,
    }
}

/// One IPv4 address from `ip -4 -o addr show`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Addr {
    interface: String,
    address: String,
    prefix: u32,
    broadcast: String,
}

fn parse_addrs(text: &str) -> Vec<Addr> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "inet")?;
            let interface = words.get(1)?.trim_end_matches(':').to_string();
            let (address, prefix) = words.get(at + 1)?.split_once('/')?;
            let broadcast = words
                .iter()
                .position(|w| *w == "brd")
                .and_then(|i| words.get(i + 1))
                .map(|b| b.to_string())
                .unwrap_or_default();
            Some(Addr {
                interface,
                address: address.to_string(),
                prefix: prefix.parse().ok()?,
                broadcast,
            })
        })
        .collect()
}

/// `ansible_default_ipv4` from `ip -4 route get` and the interface's address.
fn default_ipv4(route: &str, addrs: &[Addr]) -> Map {
    let mut out = Map::new();
    let words: Vec<&str> = route.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .map(|w| w.to_string())
    };
    let (Some(address), Some(interface)) = (after("src"), after("dev")) else {
        return out;
    };
    out.insert("address".into(), Value::String(address.clone()));
    out.insert("alias".into(), Value::String(interface.clone()));
    if let Some(addr) = addrs.iter().find(|a| a.address == address) {
        let mask = if addr.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - addr.prefix.min(32))
        };
        let ip: u32 = address
            .parse::<std::net::Ipv4Addr>()
            .map(u32::from)
            .unwrap_or(0);
        out.insert("broadcast".into(), Value::String(addr.broadcast.clone()));
        out.insert(
            "netmask".into(),
            Value::String(std::net::Ipv4Addr::from(mask).to_string()),
        );
        out.insert(
            "network".into(),
            Value::String(std::net::Ipv4Addr::from(ip & mask).to_string()),
        );
        out.insert("prefix".into(), Value::String(addr.prefix.to_string()));
    }
    out.insert(
        "gateway".into(),
        Value::String(after("via").unwrap_or_default()),
    );
    out.insert("interface".into(), Value::String(interface));
    out.insert("type".into(), Value::String("ether".into()));
    out
}

/// The default route and the IPv4 addresses from `/proc/net/route` and `/proc/net/fib_trie`,
/// shaped like `ip -4 route get` output and `ip -4 -o addr` entries.
fn proc_network(route_table: &str, fib_trie: &str) -> (String, Vec<Addr>) {
    let hex_ip = |h: &str| {
        u32::from_str_radix(h, 16)
            .map(|n| std::net::Ipv4Addr::from(n.swap_bytes()))
            .ok()
    };
    let rows: Vec<Vec<&str>> = route_table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| cols.len() >= 8)
        .collect();
    // Local addresses: the `|-- A.B.C.D` lines followed by `/32 host LOCAL`.
    let mut locals: Vec<std::net::Ipv4Addr> = Vec::new();
    let lines: Vec<&str> = fib_trie.lines().collect();
    for pair in lines.windows(2) {
        if let (Some(addr), true) = (
            pair[0].trim().strip_prefix("|-- "),
            pair[1].trim() == "/32 host LOCAL",
        ) {
            if let Ok(ip) = addr.parse() {
                if !locals.contains(&ip) {
                    locals.push(ip);
                }
            }
        }
    }
    let mut addrs = Vec::new();
    for cols in rows
        .iter()
        .filter(|c| c[1] != "00000000" && c[2] == "00000000")
    {
        let (Some(net), Some(mask)) = (hex_ip(cols[1]), hex_ip(cols[7])) else {
            continue;
        };
        let (net, mask) = (u32::from(net), u32::from(mask));
        for ip in locals.iter().filter(|ip| u32::from(**ip) & mask == net) {
            addrs.push(Addr {
                interface: cols[0].to_string(),
                address: ip.to_string(),
                prefix: mask.count_ones(),
                broadcast: std::net::Ipv4Addr::from(net | !mask).to_string(),
            });
        }
    }
    let route = rows
        .iter()
        .find(|c| c[1] == "00000000")
        .and_then(|c| {
            let gateway = hex_ip(c[2])?;
            let src = addrs.iter().find(|a| a.interface == c[0])?;
            Some(format!(
                "1.1.1.1 via {gateway} dev {} src {}",
                c[0], src.address
            ))
        })
        .unwrap_or_default();
    (route, addrs)
}

fn parse_meminfo(text: &str) -> std::collections::HashMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once(':')?;
            let kb = rest.split_whitespace().next()?.parse().ok()?;
            Some((key.to_string(), kb))
        })
        .collect()
}

/// `ansible_date_time` from `date '+%Y|%m|%d|%H|%M|%S|%Z|%z|%s|%A|%u|%j|%b|%B|%a|%U|%w'`.
fn date_time(local: &str, utc: &str) -> Map {
    let f: Vec<&str> = local.split('|').collect();
    let u: Vec<&str> = utc.split('|').collect();
    let g = |i: usize| f.get(i).copied().unwrap_or("").to_string();
    let mut out = Map::new();
    if f.len() < 17 {
        return out;
    }
    let pairs = [
        ("year", g(0)),
        ("month", g(1)),
        ("weekday", g(9)),
        ("weekday_number", g(16)),
        ("weeknumber", g(15)),
        ("day", g(2)),
        ("hour", g(3)),
        ("minute", g(4)),
        ("second", g(5)),
        ("epoch", g(8)),
        ("epoch_int", g(8)),
        ("date", format!("{}-{}-{}", g(0), g(1), g(2))),
        ("time", format!("{}:{}:{}", g(3), g(4), g(5))),
        (
            "iso8601_micro",
            u.first()
                .map(|s| s.replace('Z', ".000000Z"))
                .unwrap_or_default(),
        ),
        (
            "iso8601",
            u.first().map(|s| s.to_string()).unwrap_or_default(),
        ),
        (
            "iso8601_basic",
            format!("{}{}{}T{}{}{}000000", g(0), g(1), g(2), g(3), g(4), g(5)),
        ),
        (
            "iso8601_basic_short",
            format!("{}{}{}T{}{}{}", g(0), g(1), g(2), g(3), g(4), g(5)),
        ),
        ("tz", g(6)),
        ("tz_dst", g(6)),
        ("tz_offset", g(7)),
    ];
    for (key, value) in pairs {
        out.insert(key.into(), Value::String(value));
    }
    out
}

/// The environment records between the `env_begin` and `env_end` markers.
fn environment(records: &Records) -> Map {
    let mut env = Map::new();
    let mut inside = false;
    for (key, value) in &records.items {
        match key.as_str() {
            "env_begin" if !inside => inside = true,
            "env_end" if inside => break,
            _ if inside => {
                env.insert(key.clone(), Value::String(value.clone()));
            }
            _ => {}
        }
    }
    env
}

/// Shell-style pattern match (`*`, `?`, `[...]` as literal), as Python's `fnmatch` for names.
fn fnmatch(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::local::LocalConnection;
    use crate::modules::remote::testkit::run;
    use serde_json::json;

    #[tokio::test]
    async fn gathers_real_facts_in_one_round_trip() {
        let facts = gather(&LocalConnection, None).await.unwrap();
        let whoami = String::from_utf8(
            std::process::Command::new("id")
                .arg("-un")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert_eq!(facts["ansible_user_id"], whoami.trim());
        assert_eq!(facts["ansible_system"], "Linux");
        assert!(!facts["ansible_hostname"].as_str().unwrap().is_empty());
        assert!(facts["ansible_env"]["PATH"].as_str().is_some());
        assert!(!facts["ansible_distribution"].as_str().unwrap().is_empty());
        assert!(!facts["ansible_service_mgr"].as_str().unwrap().is_empty());
        assert!(facts["ansible_date_time"]["epoch"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok());
        assert!(facts["ansible_memtotal_mb"].as_u64().unwrap() > 0);
        if std::path::Path::new("/etc/debian_version").exists() {
            assert_eq!(facts["ansible_os_family"], "Debian");
        }
    }

    #[tokio::test]
    async fn fqdn_is_what_python_getfqdn_says() {
        let python = std::process::Command::new("python3")
            .args(["-c", "import socket; print(socket.getfqdn())"])
            .output();
        let Ok(python) = python else {
            return; // no Python here to compare with
        };
        let expected = String::from_utf8_lossy(&python.stdout).trim().to_string();
        let facts = gather(&LocalConnection, None).await.unwrap();
        assert_eq!(facts["ansible_fqdn"], expected.as_str());
    }

    fn python_fact(record: &str) -> Option<Value> {
        python_facts(record).map(|(fact, _)| fact)
    }

    #[test]
    fn ansible_python_from_the_version_answer() {
        let fact = python_fact("/usr/bin/python3\nPython 3.11.2").unwrap();
        assert_eq!(
            fact,
            json!({
                "executable": "/usr/bin/python3",
                "has_sslcontext": true,
                "type": "cpython",
                "version": {"major": 3, "minor": 11, "micro": 2, "releaselevel": "final", "serial": 0},
                "version_info": [3, 11, 2, "final", 0],
            })
        );
        let keys: Vec<&String> = fact.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "executable",
                "has_sslcontext",
                "type",
                "version",
                "version_info"
            ]
        );
        let pypy = python_fact(
            "/opt/pypy/bin/pypy3\nPython 3.9.16 (feeb267ead3e, Dec 29 2022, 14:23:21)\n[PyPy 7.3.11 with GCC 10.2.1]",
        )
        .unwrap();
        assert_eq!(pypy["type"], "pypy");
        assert_eq!(pypy["version_info"], json!([3, 9, 16, "final", 0]));
        assert_eq!(
            python_facts("/usr/bin/python3.13\nPython 3.13.0rc1").map(|(_, v)| v),
            Some("3.13.0rc1".to_string())
        );
        assert_eq!(
            python_fact("/usr/bin/python3.13\nPython 3.13.0rc1").unwrap()["version_info"],
            json!([3, 13, 0, "candidate", 1])
        );
        assert_eq!(
            parse_python_version("3.12.0a7"),
            Some((3, 12, 0, "alpha", 7))
        );
        assert_eq!(
            parse_python_version("3.12.0b2"),
            Some((3, 12, 0, "beta", 2))
        );
        assert_eq!(
            parse_python_version("3.11.2+"),
            Some((3, 11, 2, "final", 0))
        );
        assert_eq!(parse_python_version("2.7"), Some((2, 7, 0, "final", 0)));
        // Something that is not a Python answering: no fact.
        assert_eq!(python_fact("/bin/true\n"), None);
        assert_eq!(python_fact("/usr/bin/python3\nbash: no such thing"), None);
        assert_eq!(parse_python_version("3.x"), None);
    }

    #[test]
    fn the_interpreter_is_the_hosts_variable_templated() {
        let templar = Templar::new();
        let vars = json!({
            "ansible_python_interpreter": "{{ base }}/python3",
            "base": "/usr/bin",
        });
        let scope = Scope {
            vars: vars.as_object().unwrap(),
            search_paths: &[],
        };
        assert_eq!(
            python_interpreter(&templar, scope).as_deref(),
            Some("/usr/bin/python3")
        );
        let unset = Map::new();
        let scope = Scope {
            vars: &unset,
            search_paths: &[],
        };
        assert_eq!(python_interpreter(&templar, scope), None);
    }

    fn info_of(fact: &Value, i: usize) -> u64 {
        fact["version_info"][i].as_u64().unwrap()
    }

    /// The fact on this machine: the interpreter named, or none when it does not exist; the
    /// version matches what that Python says of itself.
    #[tokio::test]
    async fn ansible_python_describes_the_named_interpreter() {
        let missing = gather_with_python(&LocalConnection, None, Some("/nonexistent/python3"))
            .await
            .unwrap();
        assert!(!missing.contains_key("ansible_python"));
        assert!(!missing.contains_key("ansible_python_version"));
        let python = "/usr/bin/python3";
        let Ok(own) = std::process::Command::new(python)
            .args([
                "-c",
                "import sys; print(list(sys.version_info)[:3], sys.version_info.releaselevel)",
            ])
            .output()
        else {
            return; // no system Python here
        };
        let facts = gather_with_python(&LocalConnection, None, Some(python))
            .await
            .unwrap();
        let fact = &facts["ansible_python"];
        assert_eq!(fact["executable"], python);
        let version = facts["ansible_python_version"].as_str().unwrap();
        assert!(version.starts_with(&format!("{}.{}.", info_of(fact, 0), info_of(fact, 1))));
        let info = fact["version_info"].as_array().unwrap();
        let said = format!(
            "[{}, {}, {}] {}",
            info[0],
            info[1],
            info[2],
            info[3].as_str().unwrap()
        );
        assert_eq!(said, String::from_utf8_lossy(&own.stdout).trim());
    }

    #[tokio::test]
    async fn setup_module_filters() {
        let result = run(&Setup, json!({"filter": ["ansible_user_*"]})).await;
        let facts = result["ansible_facts"].as_object().unwrap();
        assert!(facts.contains_key("ansible_user_id"));
        assert!(!facts.contains_key("ansible_env"));
        // The metadata is filtered like any fact (Ansible's meta collector is one of many).
        assert!(!facts.contains_key("gather_subset"));
        assert!(!facts.contains_key("module_setup"));
        let result = run(&Setup, json!({"filter": ["gather_subset"]})).await;
        assert_eq!(result["ansible_facts"], json!({"gather_subset": ["all"]}));
        assert_eq!(result["changed"], false);
    }

    #[test]
    fn distributions_and_networks() {
        let os = parse_os_release(
            "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"8.9\"\n",
        );
        let d = Distribution::detect(
            &os,
            None,
            Some("Red Hat Enterprise Linux release 8.9 (Ootpa)"),
        );
        assert_eq!(
            d,
            Distribution {
                name: "RedHat".into(),
                version: "8.9".into(),
                release: "Ootpa".into()
            }
        );
        assert_eq!(os_family(&d.name), "RedHat");
        let os = parse_os_release("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n");
        let d = Distribution::detect(&os, Some("12.11\n"), None);
        assert_eq!(d.version, "12.11");
        let addrs = parse_addrs("4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever");
        let v4 = default_ipv4("1.1.1.1 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0", &addrs);
        assert_eq!(v4["address"], "192.0.2.2");
        assert_eq!(v4["gateway"], "192.0.2.1");
        assert_eq!(v4["netmask"], "255.255.255.0");
        assert_eq!(v4["network"], "192.0.2.0");
        assert_eq!(v4["interface"], "eth0");
        let table = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
            eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n\
            eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n";
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 192.0.2.2\n        /32 host LOCAL\n     |-- 127.0.0.1\n        /32 host LOCAL\n";
        let (route, addrs) = proc_network(table, trie);
        assert_eq!(route, "1.1.1.1 via 192.0.2.1 dev eth0 src 192.0.2.2");
        assert_eq!(addrs[0].prefix, 24);
        assert_eq!(addrs[0].broadcast, "192.0.2.255");
        assert!(fnmatch("ansible_*_mb", "ansible_memtotal_mb"));
        assert!(!fnmatch("ansible_user?", "ansible_user_id"));
    }
}
