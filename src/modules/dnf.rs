//! `ansible.builtin.dnf` (and `yum`, its alias since ansible-core 2.17): install, upgrade and
//! remove RPM packages with the target's own `dnf` command line (no Python bindings).
//!
//! Semantics (ansible-core 2.18 `modules/dnf.py`, `module_utils/yumdnf.py`):
//! - `state`: `present`/`installed` (the default) installs what is missing (`dnf install`);
//!   `latest` upgrades installed packages (`dnf upgrade`) and installs missing ones (with
//!   `update_only`, missing ones are reported as `Packages providing NAME not installed due to
//!   update_only specified`); `name: '*'` with `latest` upgrades everything; `absent`/`removed`
//!   removes (`dnf remove`, dependent packages too). `autoremove` alone runs `dnf autoremove`.
//! - `name` holds names, specs (`name-1.0`, `name >= 1.0`), `@group`s, and `.rpm` files on the
//!   target or URLs (downloaded on the target with `curl` or `wget` first).
//! - `update_cache` alone: `dnf makecache` and `msg: Cache updated`; with names, metadata is
//!   refreshed first (`--refresh`).
//! - Repository and transaction options become dnf options: `enablerepo`/`disablerepo`,
//!   `disable_gpg_check` (`--nogpgcheck`), `conf_file`, `installroot`, `releasever`, `exclude`,
//!   `allowerasing`, `skip_broken`, `best`/`nobest`, `install_weak_deps`, `security`, `bugfix`,
//!   `cacheonly`, `enable_plugin`/`disable_plugin`, `disable_excludes`, `sslverify`,
//!   `download_only`/`download_dir`.
//! - Results as Ansible's: `changed`, `msg` (`Nothing to do`, `""`, or in check mode `Check
//!   mode: No changes made, but would have if not in check mode`), `results` (`Installed:
//!   NEVRA`, `Removed: NEVRA` from the transaction), `rc`. A name that matches nothing fails
//!   with `msg: Failed to install some of the specified packages` and `failures: ["No package
//!   NAME available."]`; unreadable repositories with `Failed to synchronize repodata: ...`;
//!   dependency problems with `Depsolve Error occurred: ...`. Not root: `This command has to
//!   be run under the root user.` Check mode asks dnf for the transaction (`--assumeno`).
//!
//! Differences: a `latest` task with both installed and missing names runs two transactions
//! (upgrade, then install). Not supported (a warning says so when set): `list`,
//! `allow_downgrade`, `lock_timeout`, `use_backend` other than `auto`/`dnf`/`yum`/`dnf4`/`yum4`,
//! `validate_certs: false` for rpm URLs.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::py::str as py_str;
use crate::shell::{join, quote};
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Dnf;

macro_rules! flag {
    ($name:expr) => {
        Param {
            default: Some("false"),
            ..Param::new($name, Kind::Bool)
        }
    };
}

static SPEC: ArgSpec = ArgSpec {
    params: &[
        flag!("allow_downgrade"),
        flag!("allowerasing"),
        flag!("autoremove"),
        Param::new("best", Kind::Bool),
        flag!("bugfix"),
        flag!("cacheonly"),
        Param::new("conf_file", Kind::Str),
        Param::new("disable_excludes", Kind::Str),
        flag!("disable_gpg_check"),
        Param {
            default: Some("[]"),
            ..Param::new("disable_plugin", Kind::List)
        },
        Param {
            default: Some("[]"),
            ..Param::new("disablerepo", Kind::List)
        },
        flag!("download_only"),
        Param::new("download_dir", Kind::Str),
        Param {
            default: Some("[]"),
            ..Param::new("enable_plugin", Kind::List)
        },
        Param {
            default: Some("[]"),
            ..Param::new("enablerepo", Kind::List)
        },
        Param {
            default: Some("[]"),
            ..Param::new("exclude", Kind::List)
        },
        Param {
            default: Some("/"),
            ..Param::new("installroot", Kind::Str)
        },
        Param {
            default: Some("true"),
            ..Param::new("install_repoquery", Kind::Bool)
        },
        Param {
            default: Some("true"),
            ..Param::new("install_weak_deps", Kind::Bool)
        },
        Param::new("list", Kind::Str),
        Param {
            default: Some("[]"),
            aliases: &["pkg"],
            ..Param::new("name", Kind::List)
        },
        Param::new("nobest", Kind::Bool),
        Param::new("releasever", Kind::Str),
        flag!("security"),
        flag!("skip_broken"),
        Param {
            choices: &["absent", "installed", "latest", "present", "removed"],
            ..Param::new("state", Kind::Str)
        },
        Param {
            default: Some("false"),
            aliases: &["expire-cache"],
            ..Param::new("update_cache", Kind::Bool)
        },
        flag!("update_only"),
        Param {
            default: Some("true"),
            ..Param::new("validate_certs", Kind::Bool)
        },
        Param {
            default: Some("true"),
            ..Param::new("sslverify", Kind::Bool)
        },
        Param {
            default: Some("30"),
            ..Param::new("lock_timeout", Kind::Int)
        },
        Param {
            default: Some("auto"),
            choices: &["auto", "dnf", "yum", "yum4", "dnf4", "dnf5"],
            ..Param::new("use_backend", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[&["name", "list"], &["best", "nobest"]],
    required_one_of: &[&["name", "list", "update_cache"]],
};

#[derive(Debug, Clone, serde::Deserialize)]
struct Args {
    allow_downgrade: bool,
    allowerasing: bool,
    autoremove: bool,
    best: Option<bool>,
    bugfix: bool,
    cacheonly: bool,
    conf_file: Option<String>,
    disable_excludes: Option<String>,
    disable_gpg_check: bool,
    disable_plugin: Vec<Value>,
    disablerepo: Vec<Value>,
    download_only: bool,
    download_dir: Option<String>,
    enable_plugin: Vec<Value>,
    enablerepo: Vec<Value>,
    exclude: Vec<Value>,
    installroot: String,
    install_weak_deps: bool,
    list: Option<String>,
    name: Vec<Value>,
    nobest: Option<bool>,
    releasever: Option<String>,
    security: bool,
    skip_broken: bool,
    state: Option<String>,
    update_cache: bool,
    update_only: bool,
    validate_certs: bool,
    sslverify: bool,
    lock_timeout: i64,
    use_backend: String,
}

fn strings(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(py_str)
        .flat_map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[async_trait]
impl Module for Dnf {
    fn name(&self) -> &'static str {
        "dnf"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.dnf"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: Args = match serde_json::from_value(Value::Object(args)) {
            Ok(args) => args,
            Err(e) => return Ok(remote::failed(format!("invalid arguments: {e}"))),
        };
        let warnings = ignored_warnings(&args);
        if args.list.is_some() {
            let mut failure =
                remote::failed("the dnf module's list option is not supported by hook-runner");
            failure.insert("results".into(), Value::Array(Vec::new()));
            return Ok(finish(failure, warnings));
        }
        if args.use_backend == "dnf5" {
            return Ok(remote::failed(
                "use_backend dnf5 is not supported by hook-runner (dnf4's command line is used)",
            ));
        }
        let names = strings(&args.name);
        let mut state = args
            .state
            .clone()
            .unwrap_or_else(|| "installed".to_string());
        if names.is_empty() && args.autoremove {
            state = "absent".into();
        }
        let plan = Plan::new(&args, &names, &state);
        if let Some(failure) = plan.refusal() {
            return Ok(finish(failure, warnings));
        }
        let script = script(&args, &plan, ctx.check_mode);
        let records = match remote::run_script(ctx, &script, None).await? {
            Ok(records) => records,
            Err(failure) => return Ok(finish(failure, warnings)),
        };
        if let Some(mut failure) = records.failure() {
            failure.insert("results".into(), Value::Array(Vec::new()));
            if records.has("rc") {
                failure.insert("rc".into(), Value::from(1));
            }
            return Ok(finish(failure, warnings));
        }
        let result = if plan.cache_only {
            let mut result = Map::new();
            result.insert("msg".into(), Value::String("Cache updated".into()));
            result.insert("changed".into(), Value::Bool(false));
            result.insert("results".into(), Value::Array(Vec::new()));
            result.insert("rc".into(), Value::from(0));
            result
        } else {
            outcome(&records, ctx.check_mode, &plan)
        };
        Ok(finish(result, warnings))
    }
}

fn finish(mut result: Map, warnings: Vec<String>) -> Map {
    if !warnings.is_empty() {
        result.insert(
            "warnings".into(),
            Value::Array(warnings.into_iter().map(Value::String).collect()),
        );
    }
    result
}

/// Parameters accepted but without effect here, named when set to anything but their default.
fn ignored_warnings(args: &Args) -> Vec<String> {
    let mut ignored = Vec::new();
    if args.allow_downgrade {
        ignored.push("allow_downgrade");
    }
    if args.lock_timeout != 30 {
        ignored.push("lock_timeout");
    }
    if !args.validate_certs {
        ignored.push("validate_certs");
    }
    ignored
        .into_iter()
        .map(|name| {
            format!("The dnf module's {name} option is not supported by hook-runner and is ignored")
        })
        .collect()
}

/// What the task asks dnf to do.
struct Plan {
    /// `update_cache` alone.
    cache_only: bool,
    state: String,
    /// Package specs (names, NEVRAs, `@groups`).
    specs: Vec<String>,
    /// `.rpm` files and URLs.
    files: Vec<String>,
    /// `name: '*'`.
    everything: bool,
    /// `autoremove` without names.
    autoremove_only: bool,
    update_only: bool,
}

impl Plan {
    fn new(args: &Args, names: &[String], state: &str) -> Plan {
        let (files, specs): (Vec<String>, Vec<String>) = names
            .iter()
            .cloned()
            .partition(|n| n.ends_with(".rpm") || n.contains("://"));
        Plan {
            cache_only: args.update_cache && names.is_empty(),
            state: match state {
                "present" => "installed".into(),
                "removed" => "absent".into(),
                other => other.into(),
            },
            everything: specs.iter().any(|s| s == "*"),
            specs,
            files,
            autoremove_only: names.is_empty() && args.autoremove,
            update_only: args.update_only,
        }
    }

    fn refusal(&self) -> Option<Map> {
        if self.state == "absent" && !self.files.is_empty() {
            let mut failure = remote::failed("Cannot remove paths -- please specify package name.");
            failure.insert("results".into(), Value::Array(Vec::new()));
            return Some(failure);
        }
        None
    }
}

/// dnf's options for the task, in argv form.
fn dnf_options(args: &Args) -> Vec<String> {
    let mut o = Vec::new();
    if let Some(conf) = &args.conf_file {
        o.push(format!("--config={conf}"));
    }
    if args.installroot != "/" {
        o.push(format!("--installroot={}", args.installroot));
    }
    if let Some(release) = &args.releasever {
        o.push(format!("--releasever={release}"));
    }
    for repo in strings(&args.disablerepo) {
        o.push(format!("--disablerepo={repo}"));
    }
    for repo in strings(&args.enablerepo) {
        o.push(format!("--enablerepo={repo}"));
    }
    for pattern in strings(&args.exclude) {
        o.push(format!("--exclude={pattern}"));
    }
    for plugin in strings(&args.disable_plugin) {
        o.push(format!("--disableplugin={plugin}"));
    }
    for plugin in strings(&args.enable_plugin) {
        o.push(format!("--enableplugin={plugin}"));
    }
    if let Some(which) = &args.disable_excludes {
        o.push(format!("--disableexcludes={which}"));
    }
    for (on, word) in [
        (args.disable_gpg_check, "--nogpgcheck"),
        (args.allowerasing, "--allowerasing"),
        (args.skip_broken, "--skip-broken"),
        (args.security, "--security"),
        (args.bugfix, "--bugfix"),
        (args.cacheonly, "--cacheonly"),
        (args.download_only, "--downloadonly"),
        (args.best == Some(true), "--best"),
        (args.nobest == Some(true), "--nobest"),
    ] {
        if on {
            o.push(word.into());
        }
    }
    if args.best == Some(false) {
        o.push("--setopt=best=False".into());
    }
    if let Some(dir) = &args.download_dir {
        o.push(format!("--downloaddir={dir}"));
    }
    if !args.install_weak_deps {
        o.push("--setopt=install_weak_deps=False".into());
    }
    if !args.sslverify {
        o.push("--setopt=sslverify=False".into());
    }
    if args.update_cache {
        o.push("--refresh".into());
    }
    o
}

/// One script: root check, downloads, what is installed (for `latest` and the old versions an
/// upgrade replaces), then the dnf commands, each one's output recorded (`out`, `rc`).
fn script(args: &Args, plan: &Plan, check: bool) -> String {
    let mut s = String::from("export LC_ALL=C.UTF-8 LANG=C.UTF-8\n");
    s.push_str(&format!(
        "CHECK={}\nSTATE={}\nEVERYTHING={}\nAUTOREMOVE_ONLY={}\nCACHE_ONLY={}\nUPDATE_ONLY={}\nOPTS={}\nSPECS={}\nFILES={}\nINSTALLROOT={}\n",
        u8::from(check),
        quote(&plan.state),
        u8::from(plan.everything),
        u8::from(plan.autoremove_only),
        u8::from(plan.cache_only),
        u8::from(plan.update_only),
        quote(&join(dnf_options(args))),
        quote(&join(plan.specs.iter().filter(|s| *s != "*"))),
        quote(&join(&plan.files)),
        quote(&args.installroot),
    ));
    s.push_str(DNF_SH);
    s
}

const DNF_SH: &str = r#"command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1 || die "Failed to find required executable \"dnf\" in paths: $PATH"
_dnf=dnf; command -v dnf >/dev/null 2>&1 || _dnf=yum
_o=$(mktemp) || die "cannot create a temporary file"
_dl=
trap 'rm -f -- "$_o"; [ -z "$_dl" ] || rm -rf -- "$_dl"' EXIT
whole() { _w=$(cat -- "$1"; printf x); _w=${_w%x}; }
run_dnf() {
  eval "set -- $OPTS \"\$@\""
  if [ "$CHECK" = 1 ]; then "$_dnf" --assumeno "$@" >"$_o" 2>&1 </dev/null; else "$_dnf" -y "$@" >"$_o" 2>&1 </dev/null; fi
  _rc=$?
  whole "$_o"; emit out "$_w"; emit rc $_rc
}
if [ "$CACHE_ONLY" = 1 ]; then
  eval "set -- $OPTS"
  "$_dnf" makecache "$@" >"$_o" 2>&1 </dev/null || { whole "$_o"; emit rc 1; die "Failed to synchronize repodata: $_w"; }
  exit 0
fi
[ "$(id -u)" = 0 ] || die "This command has to be run under the root user."
_root=; [ "$INSTALLROOT" = / ] || _root="--root=$INSTALLROOT"
emit installed "$(rpm $_root -qa --qf '%{NAME}.%{ARCH} %{NAME}-%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}.%{ARCH}\n' 2>/dev/null)"
eval "set -- $FILES"
_files=
for _f in "$@"; do
  case $_f in
    *://*)
      [ -n "$_dl" ] || _dl=$(mktemp -d) || die "cannot create a temporary directory"
      _b=${_f##*/}; _b=${_b%%\?*}
      if command -v curl >/dev/null 2>&1; then
        curl -fsSL -o "$_dl/$_b" -- "$_f" 2>"$_o" || { whole "$_o"; die "Failure downloading $_f, $_w"; }
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$_dl/$_b" -- "$_f" 2>"$_o" || { whole "$_o"; die "Failure downloading $_f, $_w"; }
      else
        die "Failure downloading $_f: neither curl nor wget is installed on the target"
      fi
      _f=$_dl/$_b ;;
  esac
  _q=$(printf '%s' "$_f" | sed "s/'/'\\\\''/g")
  _files="$_files '$_q'"
done
case $STATE in
  absent)
    if [ "$AUTOREMOVE_ONLY" = 1 ]; then run_dnf autoremove
    else eval "set -- $SPECS"; run_dnf remove "$@"; fi ;;
  latest)
    if [ "$EVERYTHING" = 1 ]; then run_dnf upgrade
    else
      eval "set -- $SPECS"
      _up=; _in=
      for _s in "$@"; do
        _q=$(printf '%s' "$_s" | sed "s/'/'\\\\''/g")
        if rpm $_root -q --whatprovides "$_s" >/dev/null 2>&1 || rpm $_root -q "$_s" >/dev/null 2>&1; then
          _up="$_up '$_q'"
        elif [ "$UPDATE_ONLY" = 1 ]; then
          emit not_installed "$_s"
        else
          _in="$_in '$_q'"
        fi
      done
      [ -z "$_up" ] || { eval "set -- $_up"; run_dnf upgrade "$@"; }
      [ -z "$_in$_files" ] || { eval "set -- $_in $_files"; run_dnf install "$@"; }
    fi ;;
  *)
    eval "set -- $SPECS $_files"
    [ $# = 0 ] || run_dnf install "$@" ;;
esac
"#;

/// The task's result from dnf's outputs.
fn outcome(records: &Records, check: bool, plan: &Plan) -> Map {
    let installed_before: Vec<(String, String)> = records
        .get("installed")
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut results: Vec<String> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut changed = false;
    let outs: Vec<&str> = records.all("out").collect();
    let rcs: Vec<i64> = records.all("rc").map(|r| r.parse().unwrap_or(1)).collect();
    for spec in records.all("not_installed") {
        results.push(format!(
            "Packages providing {spec} not installed due to update_only specified"
        ));
    }
    // Ansible lists each rpm file it was given for installation, installed before or not,
    // ahead of the transaction's packages.
    if plan.state != "absent" {
        for file in &plan.files {
            results.push(format!("Installed {file}"));
        }
    }
    let mut error: Option<String> = None;
    for (out, rc) in outs.iter().zip(rcs.iter()) {
        let missing: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("No match for argument: "))
            .collect();
        if plan.state == "absent" {
            for name in &missing {
                results.push(format!("No match for argument: {name}"));
            }
        } else {
            for name in &missing {
                failures.push(format!("No package {name} available."));
            }
        }
        let transaction = parse_transaction(out, &installed_before);
        let aborted_check = check && *rc == 1 && out.contains("Operation aborted.");
        if *rc != 0 && !aborted_check {
            if failures.is_empty() {
                error = Some(error_message(out));
            }
            continue;
        }
        if !transaction.is_empty() {
            changed = true;
            results.extend(transaction);
        }
    }
    if let Some(msg) = error {
        let mut failure = remote::failed(msg);
        failure.insert("failures".into(), Value::Array(Vec::new()));
        failure.insert("results".into(), Value::Array(Vec::new()));
        failure.insert("rc".into(), Value::from(1));
        return failure;
    }
    if !failures.is_empty() {
        let mut failure = remote::failed("Failed to install some of the specified packages");
        failure.insert(
            "failures".into(),
            Value::Array(failures.into_iter().map(Value::String).collect()),
        );
        failure.insert("results".into(), Value::Array(Vec::new()));
        failure.insert("rc".into(), Value::from(1));
        return failure;
    }
    let msg = if !changed {
        "Nothing to do"
    } else if check {
        "Check mode: No changes made, but would have if not in check mode"
    } else {
        ""
    };
    let mut result = Map::new();
    result.insert("msg".into(), Value::String(msg.into()));
    result.insert("changed".into(), Value::Bool(changed));
    result.insert(
        "results".into(),
        Value::Array(results.into_iter().map(Value::String).collect()),
    );
    result.insert("rc".into(), Value::from(0));
    result
}

/// Ansible's wording for a failed dnf run, from dnf's own error lines.
fn error_message(out: &str) -> String {
    let errors: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Error:"))
        .collect();
    let text = if errors.is_empty() {
        out.trim().to_string()
    } else {
        errors.join("\n")
    };
    let detail = text.trim_start_matches("Error:").trim().to_string();
    if text.contains("Failed to download metadata") || text.contains("Cannot download repomd") {
        format!("Failed to synchronize repodata: {detail}")
    } else if text.contains("Problem") {
        format!("Depsolve Error occurred: {detail}")
    } else {
        format!("Unknown Error occurred: {detail}")
    }
}

/// `Installed: NEVRA` / `Removed: NEVRA` from dnf's transaction table (the old version of an
/// upgraded or downgraded package counts as removed, as in dnf's remove set).
fn parse_transaction(out: &str, installed_before: &[(String, String)]) -> Vec<String> {
    let mut installs = Vec::new();
    let mut removes = Vec::new();
    let mut section: Option<&str> = None;
    let mut pending: Option<String> = None;
    for line in out.lines() {
        if line.starts_with("Transaction Summary") {
            break;
        }
        if !line.starts_with(' ') {
            section = if line.starts_with("Installing")
                || line.starts_with("Upgrading")
                || line.starts_with("Downgrading")
                || line.starts_with("Reinstalling")
            {
                Some(
                    if line.starts_with("Upgrading") || line.starts_with("Downgrading") {
                        "replace"
                    } else {
                        "install"
                    },
                )
            } else if line.starts_with("Removing") {
                Some("remove")
            } else {
                None
            };
            pending = None;
            continue;
        }
        let Some(kind) = section else { continue };
        let mut words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if words.first().map(String::as_str) == Some("replacing") {
            if words.len() >= 3 {
                let (name_arch, version) = (&words[1], &words[2]);
                if let Some((name, arch)) = name_arch.rsplit_once('.') {
                    removes.push(format!("{name}-{version}.{arch}"));
                }
            }
            continue;
        }
        // A long name wraps: the rest of the row is on the next line.
        if words.len() == 1 {
            pending = Some(words.remove(0));
            continue;
        }
        if let Some(name) = pending.take() {
            words.insert(0, name);
        }
        if words.len() < 4 {
            continue;
        }
        let (name, arch, version) = (&words[0], &words[1], &words[2]);
        let nevra = format!("{name}-{version}.{arch}");
        match kind {
            "remove" => removes.push(nevra),
            "replace" => {
                installs.push(nevra);
                let key = format!("{name}.{arch}");
                removes.extend(
                    installed_before
                        .iter()
                        .filter(|(k, _)| *k == key)
                        .map(|(_, v)| v.clone()),
                );
            }
            _ => installs.push(nevra),
        }
    }
    installs
        .into_iter()
        .map(|p| format!("Installed: {p}"))
        .chain(removes.into_iter().map(|p| format!("Removed: {p}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &str = "Dependencies resolved.\n================================================================================\n Package            Architecture       Version             Repository      Size\n================================================================================\nUpgrading:\n hr-one             noarch             2.0-1               hr             5.9 k\nInstalling dependencies:\n a-package-with-a-very-long-name-that-wraps\n                    noarch             1:3.0-1             hr             5.9 k\n\nTransaction Summary\n================================================================================\nUpgrade  1 Package\n";

    #[test]
    fn the_transaction_table_gives_ansibles_results() {
        let before = vec![(
            "hr-one.noarch".to_string(),
            "hr-one-1.0-1.noarch".to_string(),
        )];
        assert_eq!(
            parse_transaction(UPGRADE, &before),
            vec![
                "Installed: hr-one-2.0-1.noarch",
                "Installed: a-package-with-a-very-long-name-that-wraps-1:3.0-1.noarch",
                "Removed: hr-one-1.0-1.noarch",
            ]
        );
        assert!(parse_transaction(
            "Dependencies resolved.\nNothing to do.\nComplete!\n",
            &before
        )
        .is_empty());
    }

    #[test]
    fn errors_are_worded_as_ansible_does() {
        assert_eq!(
            error_message("Error: Failed to download metadata for repo 'hr': Cannot download repomd.xml"),
            "Failed to synchronize repodata: Failed to download metadata for repo 'hr': Cannot download repomd.xml"
        );
        assert!(error_message("Error: \n Problem: conflicting requests")
            .starts_with("Depsolve Error occurred: "));
    }

    #[tokio::test]
    async fn removing_a_path_is_refused() {
        let result = crate::modules::remote::testkit::run(
            &Dnf,
            serde_json::json!({"name": "/tmp/x.rpm", "state": "absent"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "Cannot remove paths -- please specify package name."
        );
    }
}
