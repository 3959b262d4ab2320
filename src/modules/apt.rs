//! `ansible.builtin.apt`: install, upgrade and remove Debian packages with the target's own
//! `apt-get`, `apt-cache`, `apt-mark` and `dpkg` (no python3-apt).
//!
//! Semantics (ansible-core 2.18 `modules/apt.py`):
//! - Order of work: `clean` (`apt-get clean`; alone it reports `changed: true` and its output
//!   as `msg`), then the cache update, then `upgrade`, then `deb`, then `name: '*'` with
//!   `state: latest` (an upgrade), then, without packages, `autoclean`/`autoremove`, then the
//!   packages' `state`.
//! - `update_cache` (or a non-zero `cache_valid_time`) runs `apt-get update` when the cache is
//!   older than `cache_valid_time` seconds (the mtime of
//!   `/var/lib/apt/periodic/update-success-stamp`, else of `/var/lib/apt/lists`), retried
//!   `update_cache_retries` times with exponential back-off capped at
//!   `update_cache_retry_max_delay`. `cache_updated` is true when that mtime moved (always in
//!   check mode, which does not update); `cache_update_time` is the mtime. With nothing else to
//!   do the task reports `changed: cache_updated`.
//! - `present`: a package is installed when it is not (or its installed version does not
//!   match `name=VERSION`, a glob, or `name>=VERSION`); `latest` also when the candidate
//!   differs from the installed version; the command names `name=VERSION` with the chosen
//!   version, as Ansible's. Names with `*?[]!` are globs over the cache's package names. A
//!   purely virtual name is left to apt unless its only provider is installed. Installed
//!   packages named by the task are marked manually installed (`apt-mark manual`).
//! - `absent` removes installed packages (`--purge` also packages left with config files).
//! - `deb`: a `.deb` on the target (or a URL, downloaded on the target with `curl` or `wget`),
//!   comma-separated for several; skipped when the same version is installed.
//! - Results: `changed`, `stdout`, `stderr`, `diff` (`prepared`, with `--diff`),
//!   `cache_updated`, `cache_update_time` for installs; failures say
//!   `'COMMAND' failed: STDERR` with `rc`, `stdout`, `stderr`, as Ansible's. Check mode runs
//!   apt-get with `--simulate` and reports what would change.
//! - `policy_rc_d` writes `/usr/sbin/policy-rc.d` (exit code) around the command and restores
//!   what was there.
//!
//! Differences, on purpose: the dependency resolution Ansible does with python3-apt for `deb`
//! (missing dependencies installed by `apt-get install`, then `dpkg -i`) is one
//! `apt-get install ./FILE.deb`, which installs the file and its dependencies together
//! (its failure reads `COMMAND failed`, naming that command). `lock_timeout` is given to apt
//! (`DPkg::Lock::Timeout`) instead of a retry loop. Not supported: `aptitude`-only behaviours
//! other than `upgrade` (aptitude is used for `upgrade: yes/safe/full` when installed, as in
//! Ansible).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::py::str as py_str;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use std::cmp::Ordering;

pub struct Apt;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            default: Some("present"),
            choices: &["absent", "build-dep", "fixed", "latest", "present"],
            ..Param::new("state", Kind::Str)
        },
        Param {
            aliases: &["update-cache"],
            ..Param::new("update_cache", Kind::Bool)
        },
        Param {
            default: Some("5"),
            ..Param::new("update_cache_retries", Kind::Int)
        },
        Param {
            default: Some("12"),
            ..Param::new("update_cache_retry_max_delay", Kind::Int)
        },
        Param {
            default: Some("0"),
            ..Param::new("cache_valid_time", Kind::Int)
        },
        Param {
            default: Some("false"),
            ..Param::new("purge", Kind::Bool)
        },
        Param {
            aliases: &["pkg", "name"],
            ..Param::new("package", Kind::List)
        },
        Param::new("deb", Kind::Path),
        Param {
            aliases: &["default-release"],
            ..Param::new("default_release", Kind::Str)
        },
        Param {
            aliases: &["install-recommends"],
            ..Param::new("install_recommends", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("force", Kind::Bool)
        },
        Param {
            default: Some("no"),
            choices: &["dist", "full", "no", "safe", "yes"],
            ..Param::new("upgrade", Kind::Str)
        },
        Param {
            default: Some("force-confdef,force-confold"),
            ..Param::new("dpkg_options", Kind::Str)
        },
        Param {
            default: Some("false"),
            ..Param::new("autoremove", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("autoclean", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("fail_on_autoremove", Kind::Bool)
        },
        Param::new("policy_rc_d", Kind::Int),
        Param {
            default: Some("false"),
            ..Param::new("only_upgrade", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("force_apt_get", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("clean", Kind::Bool)
        },
        Param {
            default: Some("false"),
            aliases: &["allow-unauthenticated"],
            ..Param::new("allow_unauthenticated", Kind::Bool)
        },
        Param {
            default: Some("false"),
            aliases: &["allow-downgrade", "allow_downgrades", "allow-downgrades"],
            ..Param::new("allow_downgrade", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("allow_change_held_packages", Kind::Bool)
        },
        Param {
            default: Some("60"),
            ..Param::new("lock_timeout", Kind::Int)
        },
    ],
    free_form: false,
    mutually_exclusive: &[&["deb", "package", "upgrade"]],
    required_one_of: &[&["autoremove", "deb", "package", "update_cache", "upgrade"]],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AptArgs {
    pub state: String,
    pub update_cache: Option<bool>,
    pub update_cache_retries: i64,
    pub update_cache_retry_max_delay: i64,
    pub cache_valid_time: i64,
    pub purge: bool,
    #[serde(default)]
    pub package: Option<Vec<Value>>,
    pub deb: Option<String>,
    pub default_release: Option<String>,
    pub install_recommends: Option<bool>,
    pub force: bool,
    pub upgrade: String,
    pub dpkg_options: String,
    pub autoremove: bool,
    pub autoclean: bool,
    pub fail_on_autoremove: bool,
    pub policy_rc_d: Option<i64>,
    pub only_upgrade: bool,
    pub force_apt_get: bool,
    pub clean: bool,
    pub allow_unauthenticated: bool,
    pub allow_downgrade: bool,
    pub allow_change_held_packages: bool,
    pub lock_timeout: i64,
}

/// Environment apt runs with, as Ansible's `APT_ENV_VARS` (a parsable locale, no prompts).
const APT_ENV: &str = "export DEBIAN_FRONTEND=noninteractive DEBIAN_PRIORITY=critical LANG=C.UTF-8 LC_ALL=C.UTF-8 LC_MESSAGES=C.UTF-8 LC_CTYPE=C.UTF-8 LANGUAGE=C.UTF-8\n";

/// Marks an install result that failed before Ansible adds the cache keys (removed before the
/// result is returned).
const ABORTED: &str = "_apt_aborted";

/// The marker `apt-get` prints when an operation has nothing to do.
const APT_GET_ZERO: &str = "\n0 upgraded, 0 newly installed";
const APTITUDE_ZERO: &str = "\n0 packages upgraded, 0 newly installed";

#[async_trait]
impl Module for Apt {
    fn name(&self) -> &'static str {
        "apt"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.apt"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn supports_async(&self) -> bool {
        false
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: AptArgs = match serde_json::from_value(Value::Object(args)) {
            Ok(args) => args,
            Err(e) => return Ok(remote::failed(format!("invalid arguments: {e}"))),
        };
        let specs: Vec<String> = args
            .package
            .iter()
            .flatten()
            .map(|v| py_str(v).trim().to_string())
            .collect();
        if let Some(bad) = specs.iter().find(|s| s.matches('=').count() > 1) {
            return Ok(remote::failed(format!("invalid package spec: {bad}")));
        }
        if args.deb.is_some() && args.state != "present" {
            return Ok(remote::failed("deb only supports state=present"));
        }
        let all_installed = specs.iter().any(|s| s == "*");
        let packages: Vec<String> = specs.into_iter().filter(|s| s != "*").collect();
        if args.state == "latest" && all_installed && !packages.is_empty() {
            return Ok(remote::failed(
                "unable to install additional packages when upgrading all installed packages",
            ));
        }

        // One round trip: clean, cache update, and what the target has of each package.
        let survey_script = survey_script(&args, &packages, ctx.check_mode);
        let records = match remote::run_script(ctx, &survey_script, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        if let Some(failure) = records.failure() {
            return Ok(with_streams(failure, &records, "f_"));
        }
        let mut warnings: Vec<String> = records.all("warning").map(str::to_string).collect();
        let apt_get = records.get("apt_get").unwrap_or("apt-get").to_string();
        let cache = CacheState::from_records(&records);
        let nothing_else = packages.is_empty() && args.upgrade == "no" && args.deb.is_none();

        if args.clean && nothing_else && !all_installed {
            let out = records.get("clean_out").unwrap_or("").to_string();
            let mut result = changed_output(true, &out, records.get("clean_err").unwrap_or(""));
            result.insert("msg".into(), Value::String(out));
            result.remove("diff");
            if ctx.diff {
                result.insert(
                    "diff".into(),
                    parse_diff(records.get("clean_out").unwrap_or("")),
                );
            }
            return Ok(finish(result, warnings, ctx));
        }
        if cache.requested && nothing_else && !all_installed {
            let mut result = Map::new();
            result.insert("changed".into(), Value::Bool(cache.updated));
            cache.insert_into(&mut result);
            return Ok(finish(result, warnings, ctx));
        }

        let runner = Runner {
            args: &args,
            cleanup_dirs: records.all("d_tmp").map(str::to_string).collect(),
            apt_get: &apt_get,
            ctx,
        };
        let result = if args.upgrade != "no" {
            runner
                .upgrade(&args.upgrade, records.has("aptitude"), &mut warnings)
                .await?
        } else if args.deb.is_some() {
            runner.install_debs(&records).await?
        } else if args.state == "latest" && all_installed {
            runner
                .upgrade("yes", records.has("aptitude"), &mut warnings)
                .await?
        } else if packages.is_empty() && (args.autoclean || args.autoremove) {
            let operation = if args.autoclean {
                "autoclean"
            } else {
                "autoremove"
            };
            runner.cleanup(operation).await?
        } else if args.state == "absent" {
            let surveys = Survey::parse_all(&records);
            runner.remove(&surveys).await?
        } else {
            let surveys = Survey::parse_all(&records);
            let mut result = runner.install(&surveys).await?;
            if result.remove(ABORTED).is_none() {
                cache.insert_into(&mut result);
            }
            result
        };
        Ok(finish(result, warnings, ctx))
    }
}

/// The cache update's outcome, as Ansible reports it.
struct CacheState {
    requested: bool,
    updated: bool,
    time: i64,
}

impl CacheState {
    fn from_records(records: &Records) -> CacheState {
        CacheState {
            requested: records.has("cache_requested"),
            updated: records.has("cache_updated"),
            time: records
                .get("cache_time")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0),
        }
    }

    fn insert_into(&self, result: &mut Map) {
        result.insert("cache_updated".into(), Value::Bool(self.updated));
        result.insert("cache_update_time".into(), Value::from(self.time));
    }
}

/// Adds warnings and the diff-mode mark.
fn finish(mut result: Map, warnings: Vec<String>, ctx: &ModuleContext<'_>) -> Map {
    if !warnings.is_empty() {
        let list = result
            .entry("warnings")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.extend(warnings.into_iter().map(Value::String));
        }
    }
    remote::mark_diff_mode(&mut result, ctx);
    result
}

/// `{changed, stdout, stderr, diff: {}}`.
fn changed_output(changed: bool, stdout: &str, stderr: &str) -> Map {
    let mut result = Map::new();
    result.insert("changed".into(), Value::Bool(changed));
    result.insert("stdout".into(), Value::String(stdout.into()));
    result.insert("stderr".into(), Value::String(stderr.into()));
    result.insert("diff".into(), Value::Object(Map::new()));
    result
}

/// A failure with the `PREFIX{out,err,rc}` records of the command that failed, if any.
fn with_streams(mut failure: Map, records: &Records, prefix: &str) -> Map {
    for (key, name) in [("out", "stdout"), ("err", "stderr")] {
        if let Some(text) = records.get(&format!("{prefix}{key}")) {
            failure.insert(name.into(), Value::String(text.into()));
        }
    }
    if let Some(rc) = records
        .get(&format!("{prefix}rc"))
        .and_then(|r| r.parse::<i64>().ok())
    {
        failure.insert("rc".into(), Value::from(rc));
    }
    failure
}

/// Ansible's `parse_diff`: the part of apt's output between "Reading state information..."
/// and the "N upgraded" line.
fn parse_diff(output: &str) -> Value {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "Resolving dependencies...")
        .or_else(|| {
            lines
                .iter()
                .position(|l| *l == "Reading state information...")
        })
        .map(|i| i + 1)
        .unwrap_or(0);
    let end = lines
        .iter()
        .position(|l| upgraded_line(l))
        .map(|i| i + 1)
        .unwrap_or(lines.len() + 1)
        .min(lines.len());
    let prepared = if start < end {
        lines[start..end].join("\n")
    } else {
        String::new()
    };
    let mut diff = Map::new();
    diff.insert("prepared".into(), Value::String(prepared));
    Value::Object(diff)
}

/// `^[0-9]+ (packages )?upgraded`.
fn upgraded_line(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &line[digits..];
    rest.starts_with(" upgraded") || rest.starts_with(" packages upgraded")
}

/// `-o "Dpkg::Options::=--X"` words for each comma-separated dpkg option, as display text and
/// as argv.
fn dpkg_options(options: &str) -> (String, Vec<String>) {
    let mut text = Vec::new();
    let mut argv = Vec::new();
    for option in options.split(',') {
        text.push(format!("-o \"Dpkg::Options::=--{option}\""));
        argv.push("-o".to_string());
        argv.push(format!("Dpkg::Options::=--{option}"));
    }
    (text.join(" "), argv)
}

/// Survey: cleaning, the cache update and the state of each named package, in one script.
fn survey_script(args: &AptArgs, packages: &[String], check: bool) -> String {
    let update = args.update_cache.unwrap_or(false) || args.cache_valid_time != 0;
    let words: Vec<String> = packages
        .iter()
        .map(|spec| {
            let (name, _, _) = split_spec(spec);
            let glob = name.contains(['*', '?', '[', ']', '!']);
            format!("{}{name}", if glob { "g:" } else { "n:" })
        })
        .collect();
    let mut s = String::from(APT_ENV);
    s.push_str(&format!(
        "CHECK={}\nCLEAN={}\nUPDATE={}\nVALID={}\nRETRIES={}\nMAXDELAY={}\nRELEASE={}\n",
        u8::from(check),
        u8::from(args.clean),
        u8::from(update),
        args.cache_valid_time,
        args.update_cache_retries.max(0),
        args.update_cache_retry_max_delay.max(0),
        quote(args.default_release.as_deref().unwrap_or("")),
    ));
    s.push_str(&format!("set -- {}\n", crate::shell::join(&words)));
    if let Some(deb) = &args.deb {
        s.push_str(&format!("DEB={}\n", path_word(deb)));
    } else {
        s.push_str("DEB=\n");
    }
    s.push_str(SURVEY_SH);
    s
}

/// The survey. Records: `apt_get` (its path), `aptitude` when installed, `clean_out`/`err`,
/// `cache_requested`, `cache_updated`, `cache_time`, then per package a group starting with
/// `p_name` (`p_status`: dpkg's status abbreviation; `p_version`; `p_files`; `p_policy`:
/// `apt-cache policy`; `p_provides`: providers and whether each is installed), and per deb
/// file `d_file`, `d_name`, `d_version`, `d_installed`.
const SURVEY_SH: &str = r#"_ag=$(command -v apt-get) || die "Failed to find required executable \"apt-get\" in paths: $PATH"
emit apt_get "$_ag"
command -v aptitude >/dev/null 2>&1 && emit aptitude 1
_o=$(mktemp) && _e=$(mktemp) || die "cannot create a temporary file"
trap 'rm -f -- "$_o" "$_e" "$_dl"' EXIT
if [ "$CLEAN" = 1 ]; then
  apt-get clean >"$_o" 2>"$_e"; _rc=$?
  emit clean_out "$(cat "$_o")"; emit clean_err "$(cat "$_e")"
  if [ $_rc != 0 ]; then emit f_out "$(cat "$_o")"; emit f_rc $_rc; die "apt-get clean failed"; fi
  if [ -s "$_e" ]; then emit f_out "$(cat "$_o")"; emit f_rc $_rc; die "apt-get clean failed: $(cat "$_e")"; fi
fi
cache_mtime() {
  if [ -e /var/lib/apt/periodic/update-success-stamp ]; then stat -c %Y /var/lib/apt/periodic/update-success-stamp
  elif [ -e /var/lib/apt/lists ]; then stat -c %Y /var/lib/apt/lists
  else echo 0; fi
}
_t=$(cache_mtime)
if [ "$UPDATE" = 1 ]; then
  emit cache_requested 1
  _now=$(date +%s)
  if [ $(( _t + VALID )) -lt "$_now" ]; then
    _try=0; _ok=0; _err=
    while [ $_try -lt "$RETRIES" ]; do
      if [ "$CHECK" = 1 ]; then _ok=1; break; fi
      if apt-get update -q --error-on=any >"$_o" 2>"$_e"; then _ok=1; break; fi
      _err=$(grep '^E:' "$_e" | tr '\n' ' '); [ -n "$_err" ] || _err=$(cat "$_e")
      _err=${_err% }
      emit warning "Failed to update cache after $((_try + 1)) retries due to $_err, retrying"
      _d=$(( 1 << _try )); [ $_d -gt "$MAXDELAY" ] && _d=$MAXDELAY
      sleep "$_d"
      emit warning "Sleeping for $_d seconds, before attempting to refresh the cache again"
      _try=$((_try + 1))
    done
    if [ $_ok != 1 ]; then
      die "Failed to update apt cache after $RETRIES retries: ${_err:-unknown reason}"
    fi
    _t2=$(cache_mtime)
    if [ "$CHECK" = 1 ] || [ "$_t2" != "$_t" ]; then emit cache_updated 1; fi
    _t=$_t2
  fi
fi
emit cache_time "$_t"
_rel=
[ -n "$RELEASE" ] && _rel="-o APT::Default-Release=$RELEASE"
survey() {
  emit p_name "$1"
  _s=$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' -- "$1" 2>/dev/null) || _s=
  emit p_status "${_s%%|*}"
  case $_s in *'|'*) emit p_version "${_s#*|}" ;; esac
  _a=$(dpkg --print-architecture 2>/dev/null)
  case $_s in ?i*) [ -n "$(apt-mark showauto -- "$1" 2>/dev/null)" ] && emit p_auto 1 ;; esac
  if [ -s "/var/lib/dpkg/info/$1.list" ] || [ -s "/var/lib/dpkg/info/$1:$_a.list" ]; then emit p_files 1; fi
  _p=$(apt-cache $_rel policy -- "$1" 2>/dev/null)
  emit p_policy "$_p"
  case $_p in
    *'Version table:'*' '[0-9a-zA-Z]*) : ;;
    *)
      _prov=
      for _q in $(apt-cache showpkg -- "$1" 2>/dev/null | sed -n '/^Reverse Provides:/,$p' | sed '1d' | cut -d' ' -f1 | sort -u); do
        _qs=$(dpkg-query -W -f='${db:Status-Abbrev}' -- "$_q" 2>/dev/null)
        case $_qs in ?i*) _prov="$_prov$_q 1
" ;; *) _prov="$_prov$_q 0
" ;; esac
      done
      emit p_provides "$_prov" ;;
  esac
}
_names=
for _w in "$@"; do
  case $_w in
    g:*)
      _pat=${_w#g:}; _found=0
      _all=$(apt-cache pkgnames 2>/dev/null | sort)
      for _n in $_all; do
        case $_pat in *:*) : ;; *) case $_n in *:*) continue ;; esac ;; esac
        case $_n in $_pat) survey "$_n"; _found=1 ;; esac
      done
      [ $_found = 1 ] || die "No package(s) matching '$_pat' available" ;;
    n:*) survey "${_w#n:}" ;;
  esac
done
if [ -n "$DEB" ]; then
  _old_ifs=$IFS; IFS=,
  set -- $DEB
  IFS=$_old_ifs
  for _f in "$@"; do
    case $_f in
      *://*)
        _dl=$(mktemp -d) || die "cannot create a temporary directory"
        _b=${_f##*/}; _b=${_b%%\?*}; [ -n "$_b" ] || _b=download.deb
        if command -v curl >/dev/null 2>&1; then
          curl -fsSL -o "$_dl/$_b" -- "$_f" 2>"$_e" || die "Failure downloading $_f, $(cat "$_e")"
        elif command -v wget >/dev/null 2>&1; then
          wget -q -O "$_dl/$_b" -- "$_f" 2>"$_e" || die "Failure downloading $_f, $(cat "$_e")"
        else
          die "Failure downloading $_f: neither curl nor wget is installed on the target"
        fi
        _f=$_dl/$_b; emit d_tmp "$_dl"; _dl= ;;
    esac
    _n=$(dpkg --field "$_f" Package 2>"$_e") || die "Unable to install package: $(cat "$_e")"
    _v=$(dpkg --field "$_f" Version 2>"$_e") || die "Unable to install package: $(cat "$_e")"
    emit d_file "$_f"; emit d_name "$_n"; emit d_version "$_v"
    _s=$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' -- "$_n" 2>/dev/null) || _s=
    case $_s in ?i*) dpkg --compare-versions "${_s#*|}" eq "$_v" && emit d_installed 1 ;; esac
    emit d_recommends "$(dpkg --field "$_f" Recommends 2>/dev/null)"
  done
fi
"#;

/// What the target has of one package.
#[derive(Debug, Clone, Default, PartialEq)]
struct Survey {
    name: String,
    /// dpkg's `db:Status-Abbrev` (`ii `, `rc `), empty when dpkg does not know it.
    status: String,
    version: Option<String>,
    has_files: bool,
    /// Installed as a dependency (apt-mark's "auto").
    auto: bool,
    /// Versions apt knows, best first, and the candidate.
    versions: Vec<String>,
    candidate: Option<String>,
    /// `apt-cache policy` printed anything (the name is in the cache).
    known: bool,
    /// Providers of a virtual name, with whether each is installed.
    providers: Vec<(String, bool)>,
}

impl Survey {
    fn parse_all(records: &Records) -> Vec<Survey> {
        let mut out: Vec<Survey> = Vec::new();
        for (key, value) in &records.items {
            if key == "p_name" {
                out.push(Survey {
                    name: value.clone(),
                    ..Survey::default()
                });
                continue;
            }
            let Some(current) = out.last_mut() else {
                continue;
            };
            match key.as_str() {
                "p_status" => current.status = value.clone(),
                "p_version" => current.version = Some(value.clone()),
                "p_files" => current.has_files = true,
                "p_auto" => current.auto = true,
                "p_policy" => current.read_policy(value),
                "p_provides" => {
                    current.providers = value
                        .lines()
                        .filter_map(|l| l.split_once(' '))
                        .map(|(n, i)| (n.to_string(), i == "1"))
                        .collect()
                }
                _ => {}
            }
        }
        out
    }

    /// Reads `apt-cache policy` output: the candidate and the version table.
    fn read_policy(&mut self, text: &str) {
        self.known = !text.trim().is_empty();
        let mut in_table = false;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if let Some(c) = trimmed.strip_prefix("Candidate:") {
                let c = c.trim();
                self.candidate = (c != "(none)" && !c.is_empty()).then(|| c.to_string());
            } else if trimmed.starts_with("Version table:") {
                in_table = true;
            } else if in_table {
                // Version lines are indented five columns (` *** ` marks the installed one);
                // their sources are indented further.
                let rest = line
                    .strip_prefix(" *** ")
                    .or_else(|| line.strip_prefix("     "));
                if let Some(rest) = rest {
                    if !rest.starts_with(' ') {
                        if let Some(v) = rest.split_whitespace().next() {
                            if !self.versions.iter().any(|x| x == v) {
                                self.versions.push(v.to_string());
                            }
                        }
                    }
                }
            }
        }
    }

    fn installed(&self) -> bool {
        self.status.as_bytes().get(1) == Some(&b'i')
    }

    /// Ansible's `package_best_match`: for `=` the best version matching the glob (a pin
    /// above every other), else the candidate.
    fn best_match(&self, cmp: Option<&str>, version: Option<&str>) -> Option<String> {
        match (cmp, version) {
            (Some("="), Some(v)) => self
                .versions
                .iter()
                .find(|candidate| glob_match(v, candidate))
                .cloned(),
            _ => self.candidate.clone(),
        }
    }
}

/// What `install` decided for one package spec.
#[derive(Debug, PartialEq)]
enum Plan {
    /// Nothing to do.
    Keep,
    /// Install this word (`name` or `name=version`).
    Install(String),
    /// Fail with this message (the task's result then has the cache keys).
    Fail(String),
    /// Fail at once with this message, as Ansible's `fail_json` in the middle of the
    /// package's lookup (no cache keys).
    Abort(String),
}

/// Ansible's `package_status` + `install` decision for one spec.
fn plan_install(spec: &str, survey: &Survey, latest: bool, only_upgrade: bool) -> Plan {
    let (name, cmp, version) = split_spec(spec);
    let installed = survey.installed();
    if survey.versions.is_empty() {
        if !survey.providers.is_empty() {
            if let [(_, true)] = survey.providers.as_slice() {
                return Plan::Keep;
            }
            if only_upgrade {
                return Plan::Keep;
            }
            return Plan::Install(match version {
                Some(v) => format!("{name}={v}"),
                None => name.to_string(),
            });
        }
        if !installed {
            return Plan::Abort(format!("No package matching '{name}' is available"));
        }
    }
    let best = survey.best_match(cmp, version);
    let (version_ok, installable) = if installed {
        let current = survey.version.clone().unwrap_or_default();
        let differs = |b: &String| *b != current;
        match (cmp, version) {
            (Some("="), Some(v)) => (
                glob_match(v, &current),
                best.filter(|b| differs(b) && glob_match(v, b)),
            ),
            (Some(">="), Some(v)) => (
                compare_versions(&current, v) != Ordering::Less,
                best.filter(|b| differs(b) && compare_versions(b, v) != Ordering::Less),
            ),
            _ => (true, best.filter(differs)),
        }
    } else {
        (false, best)
    };
    if !installed && only_upgrade {
        return Plan::Keep;
    }
    if !version_ok && installable.is_none() {
        return Plan::Fail(format!("no available installation candidate for {spec}"));
    }
    match installable {
        Some(v) if (!installed && !only_upgrade) || latest || !version_ok => {
            Plan::Install(format!("{name}={v}"))
        }
        Some(_) if version_ok && cmp == Some("=") => {
            Plan::Install(format!("{name}={}", version.unwrap_or_default()))
        }
        _ => Plan::Keep,
    }
}

/// Ansible's `package_split`: `name`, then `=` or `>=` and the version.
fn split_spec(spec: &str) -> (&str, Option<&str>, Option<&str>) {
    if let Some(i) = spec.find('=') {
        if i > 0 && spec.as_bytes()[i - 1] == b'>' {
            return (&spec[..i - 1], Some(">="), Some(&spec[i + 1..]));
        }
        return (&spec[..i], Some("="), Some(&spec[i + 1..]));
    }
    (spec, None, None)
}

/// Python's `fnmatch.fnmatch` on POSIX (case-sensitive): `*`, `?`, `[...]`, `[!...]`.
fn glob_match(pattern: &str, text: &str) -> bool {
    fn inner(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len()).any(|i| inner(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && inner(&p[1..], &t[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2) else {
                    return t.first() == Some(&'[') && inner(&p[1..], &t[1..]);
                };
                let Some(c) = t.first() else { return false };
                let (negate, set) = match p[1] {
                    '!' => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= *c && *c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == *c;
                        i += 1;
                    }
                }
                hit != negate && inner(&p[close + 1..], &t[1..])
            }
            Some(x) => t.first() == Some(x) && inner(&p[1..], &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    inner(&p, &t)
}

/// Debian version comparison (Debian Policy 5.6.12: epoch, upstream, revision; `~` sorts
/// before everything, letters before other characters).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
            _ => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((u, r)) => (epoch, u, r),
            None => (epoch, rest, ""),
        }
    }
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }
    fn part(a: &str, b: &str) -> Ordering {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            // Non-digit prefix.
            while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit())
            {
                let ca = (i < a.len() && !a[i].is_ascii_digit()).then(|| a[i]);
                let cb = (j < b.len() && !b[j].is_ascii_digit()).then(|| b[j]);
                let (oa, ob) = (order(ca), order(cb));
                if oa != ob {
                    return oa.cmp(&ob);
                }
                if ca.is_some() {
                    i += 1;
                }
                if cb.is_some() {
                    j += 1;
                }
            }
            let start_a = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let start_b = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = std::str::from_utf8(&a[start_a..i]).unwrap_or("0");
            let nb = std::str::from_utf8(&b[start_b..j]).unwrap_or("0");
            let na = na.trim_start_matches('0');
            let nb = nb.trim_start_matches('0');
            let by_len = na.len().cmp(&nb.len());
            if by_len != Ordering::Equal {
                return by_len;
            }
            let by_digits = na.cmp(nb);
            if by_digits != Ordering::Equal {
                return by_digits;
            }
        }
        Ordering::Equal
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| part(ua, ub))
        .then_with(|| part(ra, rb))
}

/// Runs apt's commands for one task.
struct Runner<'a> {
    args: &'a AptArgs,
    /// Download directories of `deb` URLs, removed after the command.
    cleanup_dirs: Vec<String>,
    apt_get: &'a str,
    ctx: &'a ModuleContext<'a>,
}

/// One command's outcome.
struct Outcome {
    rc: i64,
    stdout: String,
    stderr: String,
}

impl Runner<'_> {
    /// Runs `argv` (with `policy_rc_d` around it) and then, when it succeeds, `apt-mark
    /// manual` for `manual`.
    async fn command(
        &self,
        argv: &[String],
        manual: &[String],
    ) -> Result<Result<Outcome, Map>, ConnError> {
        let mut s = String::from(APT_ENV);
        s.push_str(&format!(
            "POLICY={}\nset -- {}\nMANUAL={}\nCLEANUP={}\n",
            self.args
                .policy_rc_d
                .map(|n| n.to_string())
                .unwrap_or_default(),
            crate::shell::join(argv),
            quote(&crate::shell::join(manual)),
            quote(&crate::shell::join(&self.cleanup_dirs)),
        ));
        s.push_str(COMMAND_SH);
        let records = match remote::run_script(self.ctx, &s, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(Err(result)),
        };
        if let Some(failure) = records.failure() {
            return Ok(Err(with_streams(failure, &records, "f_")));
        }
        Ok(Ok(Outcome {
            rc: records.get("rc").and_then(|r| r.parse().ok()).unwrap_or(-1),
            stdout: records.get("out").unwrap_or("").to_string(),
            stderr: records.get("err").unwrap_or("").to_string(),
        }))
    }

    /// The argv of `apt-get` with the dpkg options and the lock timeout.
    fn apt_get_argv(&self) -> Vec<String> {
        let mut argv = vec![
            "apt-get".to_string(),
            "-o".to_string(),
            format!("DPkg::Lock::Timeout={}", self.args.lock_timeout.max(0)),
            "-y".to_string(),
        ];
        argv.extend(dpkg_options(&self.args.dpkg_options).1);
        argv
    }

    fn diff_of(&self, out: &str) -> Value {
        if self.ctx.diff {
            parse_diff(out)
        } else {
            Value::Object(Map::new())
        }
    }

    /// `present`/`latest`/`fixed`/`build-dep`.
    async fn install(&self, surveys: &[Survey]) -> Result<Map, ConnError> {
        let args = self.args;
        let build_dep = args.state == "build-dep";
        let mut words = Vec::new();
        let mut auto_names = Vec::new();
        let specs = self.expanded_specs(surveys);
        for (spec, survey) in &specs {
            if build_dep {
                words.push(spec.clone());
                continue;
            }
            if survey.auto {
                auto_names.push(survey.name.clone());
            }
            match plan_install(spec, survey, args.state == "latest", args.only_upgrade) {
                Plan::Keep => {}
                Plan::Install(word) => words.push(word),
                Plan::Fail(msg) => return Ok(remote::failed(msg)),
                Plan::Abort(msg) => {
                    let mut failure = remote::failed(msg);
                    failure.insert(ABORTED.into(), Value::Bool(true));
                    return Ok(failure);
                }
            }
        }
        let check = self.ctx.check_mode;
        // Ansible marks every named package manual; apt-get install marks the ones it
        // installs, so only those installed as dependencies need apt-mark.
        let manual: Vec<String> = if build_dep || check {
            Vec::new()
        } else {
            auto_names
        };
        if words.is_empty() {
            let mut result = Map::new();
            result.insert("changed".into(), Value::Bool(false));
            if !manual.is_empty() {
                let argv = vec!["true".to_string()];
                if let Err(failure) = self.command(&argv, &manual).await? {
                    return Ok(failure);
                }
            }
            return Ok(result);
        }
        let flag = |on: bool, text: &str| if on { text.to_string() } else { String::new() };
        let only_upgrade = flag(args.only_upgrade, "--only-upgrade");
        let fixed = flag(args.state == "fixed", "--fix-broken");
        let force_yes = flag(args.force, "--force-yes");
        let autoremove = flag(args.autoremove, "--auto-remove");
        let no_remove = flag(args.fail_on_autoremove, "--no-remove");
        let simulate = flag(check, "--simulate");
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let (dpkg_text, _) = dpkg_options(&args.dpkg_options);
        let mut display = if build_dep {
            format!(
                "{} -y {dpkg_text} {only_upgrade} {fixed} {force_yes} {no_remove} {simulate} build-dep {}",
                self.apt_get,
                quoted.join(" ")
            )
        } else {
            format!(
                "{} -y {dpkg_text} {only_upgrade} {fixed} {force_yes} {autoremove} {no_remove} {simulate} install {}",
                self.apt_get,
                quoted.join(" ")
            )
        };
        let mut argv = self.apt_get_argv();
        for word in [
            &only_upgrade,
            &fixed,
            &force_yes,
            &autoremove,
            &no_remove,
            &simulate,
        ] {
            let skipped = build_dep && word == &autoremove;
            if !word.is_empty() && !skipped {
                argv.push(word.clone());
            }
        }
        argv.push(if build_dep { "build-dep" } else { "install" }.into());
        argv.extend(words.iter().cloned());
        let mut tail = Vec::new();
        if let Some(release) = &args.default_release {
            display.push_str(&format!(" -t '{release}'"));
            tail.extend(["-t".to_string(), release.clone()]);
        }
        match args.install_recommends {
            Some(false) => {
                display.push_str(" -o APT::Install-Recommends=no");
                tail.extend(["-o".into(), "APT::Install-Recommends=no".into()]);
            }
            Some(true) => {
                display.push_str(" -o APT::Install-Recommends=yes");
                tail.extend(["-o".into(), "APT::Install-Recommends=yes".into()]);
            }
            None => {}
        }
        for (on, text) in [
            (args.allow_unauthenticated, "--allow-unauthenticated"),
            (args.allow_downgrade, "--allow-downgrades"),
            (
                args.allow_change_held_packages,
                "--allow-change-held-packages",
            ),
        ] {
            if on {
                display.push_str(&format!(" {text}"));
                tail.push(text.into());
            }
        }
        argv.extend(tail);
        let outcome = match self.command(&argv, &manual).await? {
            Ok(outcome) => outcome,
            Err(failure) => return Ok(failure),
        };
        if outcome.rc != 0 {
            return Ok(command_failure(
                format!("'{display}' failed: {}", outcome.stderr),
                &outcome,
            ));
        }
        let changed = !build_dep || !outcome.stdout.contains(APT_GET_ZERO);
        let mut result = changed_output(changed, &outcome.stdout, &outcome.stderr);
        result.insert("diff".into(), self.diff_of(&outcome.stdout));
        Ok(result)
    }

    /// Each survey with the spec it answers: the task's spec for a plain name, the bare name
    /// for a glob's matches.
    fn expanded_specs(&self, surveys: &[Survey]) -> Vec<(String, Survey)> {
        let specs: Vec<String> = self
            .args
            .package
            .iter()
            .flatten()
            .map(|v| py_str(v).trim().to_string())
            .filter(|s| s != "*")
            .collect();
        surveys
            .iter()
            .map(|survey| {
                let spec = specs
                    .iter()
                    .find(|s| split_spec(s).0 == survey.name)
                    .cloned()
                    .unwrap_or_else(|| survey.name.clone());
                (spec, survey.clone())
            })
            .collect()
    }

    /// `absent`.
    async fn remove(&self, surveys: &[Survey]) -> Result<Map, ConnError> {
        let args = self.args;
        let mut words = Vec::new();
        for (spec, survey) in self.expanded_specs(surveys) {
            let (_, cmp, version) = split_spec(&spec);
            let current = survey.version.clone().unwrap_or_default();
            let version_installed = survey.installed()
                && match (cmp, version) {
                    (Some("="), Some(v)) => glob_match(v, &current),
                    (Some(">="), Some(v)) => compare_versions(&current, v) != Ordering::Less,
                    _ => true,
                };
            if version_installed || (survey.has_files && args.purge) {
                words.push(spec);
            }
        }
        if words.is_empty() {
            let mut result = Map::new();
            result.insert("changed".into(), Value::Bool(false));
            return Ok(result);
        }
        let check = self.ctx.check_mode;
        let mut argv = self.apt_get_argv();
        argv.insert(1, "-q".into());
        for (on, text) in [
            (args.purge, "--purge"),
            (args.force, "--force-yes"),
            (args.autoremove, "--auto-remove"),
            (check, "--simulate"),
            (
                args.allow_change_held_packages,
                "--allow-change-held-packages",
            ),
        ] {
            if on {
                argv.push(text.into());
            }
        }
        argv.push("remove".into());
        argv.extend(words.iter().cloned());
        let outcome = match self.command(&argv, &[]).await? {
            Ok(outcome) => outcome,
            Err(failure) => return Ok(failure),
        };
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        if outcome.rc != 0 {
            return Ok(command_failure(
                format!(
                    "'apt-get remove {}' failed: {}",
                    quoted.join(" "),
                    outcome.stderr
                ),
                &outcome,
            ));
        }
        let mut result = changed_output(true, &outcome.stdout, &outcome.stderr);
        result.insert("diff".into(), self.diff_of(&outcome.stdout));
        Ok(result)
    }

    /// `autoremove`/`autoclean` without packages.
    async fn cleanup(&self, operation: &str) -> Result<Map, ConnError> {
        let args = self.args;
        let mut argv = self.apt_get_argv();
        for (on, text) in [(args.purge, "--purge"), (args.force, "--force-yes")] {
            if on {
                argv.push(text.into());
            }
        }
        argv.push(operation.into());
        if self.ctx.check_mode {
            argv.push("--simulate".into());
        }
        let outcome = match self.command(&argv, &[]).await? {
            Ok(outcome) => outcome,
            Err(failure) => return Ok(failure),
        };
        if outcome.rc != 0 {
            return Ok(command_failure(
                format!("'apt-get {operation}' failed: {}", outcome.stderr),
                &outcome,
            ));
        }
        let marker = if operation == "autoremove" {
            "The following packages will be REMOVED"
        } else {
            "Del "
        };
        let mut result = changed_output(
            outcome.stdout.contains(marker),
            &outcome.stdout,
            &outcome.stderr,
        );
        result.insert("diff".into(), self.diff_of(&outcome.stdout));
        Ok(result)
    }

    /// `upgrade` (and `name: '*'` with `state: latest`).
    async fn upgrade(
        &self,
        mode: &str,
        has_aptitude: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Map, ConnError> {
        let args = self.args;
        let use_apt_get = args.force_apt_get || !has_aptitude;
        let (tool, command): (&str, Vec<&str>) = match mode {
            "dist" => ("apt-get", vec!["dist-upgrade"]),
            "full" if use_apt_get => ("apt-get", vec!["dist-upgrade"]),
            "full" => ("aptitude", vec!["full-upgrade"]),
            _ if use_apt_get => ("apt-get", vec!["upgrade", "--with-new-pkgs"]),
            _ => ("aptitude", vec!["safe-upgrade"]),
        };
        let aptitude = tool == "aptitude";
        let mut argv = if aptitude {
            let mut v = vec!["aptitude".to_string(), "-y".to_string()];
            v.extend(dpkg_options(&args.dpkg_options).1);
            v
        } else {
            self.apt_get_argv()
        };
        if args.force {
            if aptitude {
                argv.extend(["--assume-yes".into(), "--allow-untrusted".into()]);
            } else {
                argv.push("--force-yes".into());
            }
        }
        if args.fail_on_autoremove {
            if aptitude {
                warnings.push("APTITUDE does not support '--no-remove', ignoring the 'fail_on_autoremove' parameter.".into());
            } else {
                argv.push("--no-remove".into());
            }
        }
        if args.allow_unauthenticated {
            argv.push("--allow-unauthenticated".into());
        }
        if args.allow_downgrade {
            if aptitude {
                warnings.push("APTITUDE does not support '--allow-downgrades', ignoring the 'allow_downgrade' parameter.".into());
            } else {
                argv.push("--allow-downgrades".into());
            }
        }
        if self.ctx.check_mode {
            argv.push("--simulate".into());
        }
        argv.extend(command.iter().map(|w| w.to_string()));
        if args.autoremove && !aptitude {
            argv.push("--auto-remove".into());
        }
        if let Some(release) = &args.default_release {
            argv.extend(["-t".to_string(), release.clone()]);
        }
        let outcome = match self.command(&argv, &[]).await? {
            Ok(outcome) => outcome,
            Err(failure) => return Ok(failure),
        };
        let upgrade_command = match (command.as_slice(), args.autoremove && !aptitude) {
            (words, true) => format!("{} --auto-remove", words.join(" ")),
            (words, false) => format!("{} ", words.join(" ")),
        };
        let upgrade_command = if aptitude {
            command.join(" ")
        } else {
            upgrade_command
        };
        if outcome.rc != 0 {
            let mut failure = remote::failed(format!(
                "'{} {upgrade_command}' failed: {}",
                if aptitude { tool } else { self.apt_get },
                outcome.stderr
            ));
            failure.insert("stdout".into(), Value::String(outcome.stdout));
            failure.insert("rc".into(), Value::from(outcome.rc));
            return Ok(failure);
        }
        let zero = if aptitude {
            APTITUDE_ZERO
        } else {
            APT_GET_ZERO
        };
        let changed = !outcome.stdout.contains(zero);
        let mut result = changed_output(changed, &outcome.stdout, &outcome.stderr);
        result.insert("msg".into(), Value::String(outcome.stdout.clone()));
        if changed {
            result.insert("diff".into(), self.diff_of(&outcome.stdout));
        } else {
            result.remove("diff");
        }
        Ok(result)
    }

    /// `deb`: the files not installed at their version, with their dependencies.
    async fn install_debs(&self, records: &Records) -> Result<Map, ConnError> {
        let args = self.args;
        let mut files = Vec::new();
        let mut current: Option<(String, bool)> = None;
        for (key, value) in &records.items {
            match key.as_str() {
                "d_file" => {
                    if let Some((file, false)) = current.take() {
                        files.push(file);
                    }
                    current = Some((value.clone(), false));
                }
                "d_installed" => {
                    if let Some(c) = current.as_mut() {
                        c.1 = true;
                    }
                }
                _ => {}
            }
        }
        if let Some((file, false)) = current {
            files.push(file);
        }
        if files.is_empty() {
            let mut result = Map::new();
            result.insert("changed".into(), Value::Bool(false));
            result.insert("stdout".into(), Value::String(String::new()));
            result.insert("stderr".into(), Value::String(String::new()));
            result.insert("diff".into(), Value::String(String::new()));
            return Ok(result);
        }
        let mut argv = self.apt_get_argv();
        if self.ctx.check_mode {
            argv.push("--simulate".into());
        }
        if args.force {
            argv.push("--force-yes".into());
        }
        if args.fail_on_autoremove {
            argv.push("--no-remove".into());
        }
        argv.push("install".into());
        for file in &files {
            // apt-get takes a word as a file only when it holds a slash.
            argv.push(if file.contains('/') {
                file.clone()
            } else {
                format!("./{file}")
            });
        }
        match args.install_recommends {
            Some(false) => argv.extend(["-o".into(), "APT::Install-Recommends=no".into()]),
            Some(true) => argv.extend(["-o".into(), "APT::Install-Recommends=yes".into()]),
            None => {}
        }
        for (on, text) in [
            (args.allow_unauthenticated, "--allow-unauthenticated"),
            (args.allow_downgrade, "--allow-downgrades"),
            (
                args.allow_change_held_packages,
                "--allow-change-held-packages",
            ),
        ] {
            if on {
                argv.push(text.into());
            }
        }
        let outcome = match self.command(&argv, &[]).await? {
            Ok(outcome) => outcome,
            Err(failure) => return Ok(failure),
        };
        if outcome.rc != 0 {
            let mut failure = remote::failed(format!("{} failed", crate::shell::join(&argv)));
            failure.insert("stdout".into(), Value::String(outcome.stdout));
            failure.insert("stderr".into(), Value::String(outcome.stderr));
            return Ok(failure);
        }
        let mut result = changed_output(true, &outcome.stdout, &outcome.stderr);
        result.insert("diff".into(), parse_diff(&outcome.stdout));
        Ok(result)
    }
}

/// `{failed, msg, stdout, stderr, rc}`.
fn command_failure(msg: String, outcome: &Outcome) -> Map {
    let mut failure = remote::failed(msg);
    failure.insert("stdout".into(), Value::String(outcome.stdout.clone()));
    failure.insert("stderr".into(), Value::String(outcome.stderr.clone()));
    failure.insert("rc".into(), Value::from(outcome.rc));
    failure
}

/// Runs `"$@"` with output captured, `policy-rc.d` set up and restored around it when
/// `POLICY` is set, then `apt-mark manual $MANUAL` when it succeeded. Records: `rc`, `out`,
/// `err`.
const COMMAND_SH: &str = r#"_o=$(mktemp) && _e=$(mktemp) || die "cannot create a temporary file"
_bk=
trap 'rm -f -- "$_o" "$_e"' EXIT
_prc=/usr/sbin/policy-rc.d
if [ -n "$POLICY" ]; then
  if [ -e "$_prc" ]; then
    _bk=$(mktemp -d) && mv -- "$_prc" "$_bk/" || die "Fail to move /usr/sbin/policy-rc.d to $_bk"
  fi
  { printf '#!/bin/sh\nexit %d\n' "$POLICY" >"$_prc" && chmod 0755 "$_prc"; } || die "Failed to create or chmod /usr/sbin/policy-rc.d"
fi
"$@" >"$_o" 2>"$_e" </dev/null; _rc=$?
if [ -n "$POLICY" ]; then
  if [ -n "$_bk" ]; then
    mv -- "$_bk/policy-rc.d" "$_prc" && rmdir -- "$_bk" || die "Fail to move back $_bk/policy-rc.d to /usr/sbin/policy-rc.d"
  else
    rm -f -- "$_prc" || die "Fail to remove /usr/sbin/policy-rc.d (after package manipulation)"
  fi
fi
whole() { _w=$(cat -- "$1"; printf x); _w=${_w%x}; }
whole "$_o"; emit out "$_w"; whole "$_e"; emit err "$_w"; emit rc $_rc
[ -z "$CLEANUP" ] || eval "rm -rf -- $CLEANUP"
if [ $_rc = 0 ] && [ -n "$MANUAL" ]; then
  eval "set -- $MANUAL"
  if command -v apt-mark >/dev/null 2>&1; then
    _am=$(command -v apt-mark)
    apt-mark manual "$@" >"$_o" 2>"$_e"; _rc=$?
    if [ $_rc != 0 ]; then
      whole "$_o"; emit f_out "$_w"; whole "$_e"; emit f_err "$_w"; emit f_rc $_rc
      die "'$_am manual $*' failed: $_w"
    fi
  else
    emit warning "Could not find apt-mark binary, not marking package(s) as manually installed."
  fi
fi
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn survey(status: &str, version: Option<&str>, policy: &str) -> Survey {
        let mut s = Survey {
            name: "hr-a".into(),
            status: status.into(),
            version: version.map(str::to_string),
            ..Survey::default()
        };
        s.read_policy(policy);
        s
    }

    const POLICY: &str = "hr-a:\n  Installed: 1.0-1\n  Candidate: 2.0-1\n  Version table:\n     2.0-1 500\n        500 file:/srv/repo ./ Packages\n *** 1.0-1 100\n        100 /var/lib/dpkg/status\n";

    #[test]
    fn policy_output_gives_candidate_and_versions() {
        let s = survey("ii ", Some("1.0-1"), POLICY);
        assert_eq!(s.candidate.as_deref(), Some("2.0-1"));
        assert_eq!(s.versions, ["2.0-1", "1.0-1"]);
        assert!(s.installed());
    }

    #[test]
    fn present_keeps_an_installed_package_and_latest_upgrades_it() {
        let s = survey("ii ", Some("1.0-1"), POLICY);
        assert_eq!(plan_install("hr-a", &s, false, false), Plan::Keep);
        assert_eq!(
            plan_install("hr-a", &s, true, false),
            Plan::Install("hr-a=2.0-1".into())
        );
        assert_eq!(
            plan_install("hr-a=2.*", &s, false, false),
            Plan::Install("hr-a=2.0-1".into())
        );
        assert_eq!(plan_install("hr-a>=1.0", &s, false, false), Plan::Keep);
        assert_eq!(
            plan_install("hr-a=3.0", &s, false, false),
            Plan::Fail("no available installation candidate for hr-a=3.0".into())
        );
    }

    #[test]
    fn missing_and_virtual_names() {
        let none = survey("", None, "");
        assert_eq!(
            plan_install("hr-nope", &none, false, false),
            Plan::Abort("No package matching 'hr-nope' is available".into())
        );
        let mut virt = survey(
            "",
            None,
            "hr-a:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n",
        );
        virt.providers = vec![("hr-b".into(), false), ("hr-c".into(), false)];
        assert_eq!(
            plan_install("hr-a", &virt, false, false),
            Plan::Install("hr-a".into())
        );
        virt.providers = vec![("hr-b".into(), true)];
        assert_eq!(plan_install("hr-a", &virt, false, false), Plan::Keep);
        let fresh = survey("", None, "hr-a:\n  Installed: (none)\n  Candidate: 2.0-1\n  Version table:\n     2.0-1 500\n        500 file:/srv/repo ./ Packages\n");
        assert_eq!(
            plan_install("hr-a", &fresh, false, true),
            Plan::Keep,
            "only_upgrade skips packages that are not installed"
        );
    }

    #[test]
    fn debian_versions_compare_as_dpkg_does() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1:0.1", "2.0", Greater),
            ("1.0-1", "1.0-2", Less),
            ("1.10", "1.9", Greater),
            ("1.0a", "1.0+", Less),
            ("2.0-1", "2.0", Greater),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn specs_split_and_globs_match_like_python() {
        assert_eq!(split_spec("a>=1"), ("a", Some(">="), Some("1")));
        assert_eq!(split_spec("a=1*"), ("a", Some("="), Some("1*")));
        assert_eq!(split_spec("a"), ("a", None, None));
        assert!(glob_match("1.*", "1.2-3"));
        assert!(glob_match("hr-[ab]?", "hr-b1"));
        assert!(!glob_match("hr-[!ab]*", "hr-b1"));
    }

    #[test]
    fn diff_is_the_prepared_part_of_apt_output() {
        let out = "Reading package lists...\nBuilding dependency tree...\nReading state information...\nThe following NEW packages will be installed:\n  hr-a\n0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\nInst hr-a\n";
        assert_eq!(
            parse_diff(out)["prepared"],
            "The following NEW packages will be installed:\n  hr-a\n0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded."
        );
    }

    #[tokio::test]
    async fn bad_specs_fail_before_touching_the_target() {
        use crate::modules::remote::testkit::run;
        let result = run(&Apt, serde_json::json!({"name": ["a=1=2"]})).await;
        assert_eq!(result["msg"], "invalid package spec: a=1=2");
        let result = run(
            &Apt,
            serde_json::json!({"deb": "/x.deb", "state": "absent"}),
        )
        .await;
        assert_eq!(result["msg"], "deb only supports state=present");
    }
}
