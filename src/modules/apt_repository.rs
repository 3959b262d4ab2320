//! `ansible.builtin.apt_repository`: add and remove apt source lines (`deb`/`deb-src`) in
//! `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.list`, without python3-apt.
//!
//! Semantics (ansible-core 2.18 `modules/apt_repository.py`):
//! - Every source file is read as lines: a line is a source when its first word is `deb` or
//!   `deb-src` (a leading `#` disables it, text after another `#` is its comment); spaces in a
//!   source are normalised. `present` enables every line already holding the same source
//!   (commented-out ones included); otherwise the line goes to `filename` + `.list` in
//!   `sources.list.d` (a name with a `/` is a path), by default a name made from the source's
//!   URI (options, scheme and user info dropped, non-alphanumerics to `_`:
//!   `deb http://ppa.example.com/x stable main` → `ppa_example_com_x.list`). `absent` removes
//!   every enabled line holding it; a file left without lines is deleted.
//! - Written files are rewritten whole, with normalised lines, atomically (a temp file in the
//!   same directory, then `mv`; a symlinked file is written through to its target). A new
//!   file gets `0644` under the usual umask; `mode` applies to files that got a new line.
//! - When something changed (and not in check mode), `update_cache` (default true) runs
//!   `apt-get update`, retried `update_cache_retries` times with back-off; if it keeps failing
//!   the files are put back as they were and the task fails with
//!   `Failed to update apt cache after N retries: ...`.
//! - Results: `changed, repo, state, sources_added, sources_removed` (files created/deleted)
//!   and `diff` (a list of before/after for those files, with `--diff`).
//! - A source that is not `deb`/`deb-src` fails with `Invalid repository string: ...`.
//!
//! Differences: only files whose normalised text changes are rewritten (Ansible rewrites every
//! source file then). Not supported: `ppa:` repositories (they need Launchpad over the
//! internet and apt keys): such a repo fails with a clear message; `codename` (only used for
//! PPAs) is ignored with a warning; `install_python_apt` has no effect (no Python is needed).
//! deb822 `.sources` files are not read, as in Ansible's module.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, parse_mode, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct AptRepository;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            required: true,
            ..Param::new("repo", Kind::Str)
        },
        Param {
            default: Some("present"),
            choices: &["absent", "present"],
            ..Param::new("state", Kind::Str)
        },
        Param::new("mode", Kind::Raw),
        Param {
            default: Some("true"),
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
            default: Some("true"),
            ..Param::new("validate_certs", Kind::Bool)
        },
        Param::new("filename", Kind::Str),
        Param::new("codename", Kind::Str),
        Param {
            default: Some("true"),
            ..Param::new("install_python_apt", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[derive(Debug, Clone, serde::Deserialize)]
struct Args {
    repo: String,
    state: String,
    #[serde(default)]
    mode: Value,
    update_cache: bool,
    update_cache_retries: i64,
    update_cache_retry_max_delay: i64,
    filename: Option<String>,
    codename: Option<String>,
}

const SOURCES_DIR: &str = "/etc/apt/sources.list.d";

#[async_trait]
impl Module for AptRepository {
    fn name(&self) -> &'static str {
        "apt_repository"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.apt_repository"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: Args = match serde_json::from_value(Value::Object(args)) {
            Ok(args) => args,
            Err(e) => return Ok(remote::failed(format!("invalid arguments: {e}"))),
        };
        if args.repo.is_empty() {
            return Ok(remote::failed(
                "Please set argument 'repo' to a non-empty value",
            ));
        }
        if args.repo.starts_with("ppa:") {
            return Ok(remote::failed(format!(
                "PPA repositories are not supported by hook-runner (they need Launchpad and apt keys): {}",
                args.repo
            )));
        }
        let mode = match parse_mode(&args.mode) {
            Ok(mode) => mode,
            Err(e) => return Ok(e.into_result(SOURCES_DIR)),
        };
        let mut warnings = Vec::new();
        if args.codename.is_some() {
            warnings.push("codename is only used for PPA repositories, which are not supported here: it is ignored".to_string());
        }
        let source = match parse_line(&args.repo) {
            Line {
                valid: true,
                enabled: true,
                source,
                ..
            } => source,
            _ => {
                return Ok(remote::failed(format!(
                    "Invalid repository string: {}",
                    args.repo.trim()
                )))
            }
        };

        let records = match remote::run_script(ctx, READ_SH, None).await? {
            Ok(records) => records,
            Err(failure) => return Ok(failure),
        };
        if let Some(failure) = records.failure() {
            return Ok(failure);
        }
        let mut sources = Sources::from_records(&records);
        let before = sources.dump();
        let mut new_files = Vec::new();
        if args.state == "present" {
            let file = match &args.filename {
                Some(name) => format!("{name}.list"),
                None => suggest_filename(&source),
            };
            let file = if file.contains('/') {
                file
            } else {
                format!("{SOURCES_DIR}/{file}")
            };
            if let Some(path) = sources.add(&source, &file) {
                new_files.push(path);
            }
        } else {
            sources.remove(&source);
        }
        let after = sources.dump();
        let changed = before != after;
        let added: Vec<String> = after
            .iter()
            .filter(|(f, _)| !before.iter().any(|(b, _)| b == f))
            .map(|(f, _)| f.clone())
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|(f, _)| !after.iter().any(|(a, _)| a == f))
            .map(|(f, _)| f.clone())
            .collect();
        let mut diff = Vec::new();
        if changed && ctx.diff {
            for file in added.iter().chain(removed.iter()) {
                let text = |list: &[(String, String)]| {
                    list.iter().find(|(f, _)| f == file).map(|(_, t)| t.clone())
                };
                let (b, a) = (text(&before), text(&after));
                let mut entry = Map::new();
                entry.insert(
                    "before".into(),
                    Value::String(b.clone().unwrap_or_default()),
                );
                entry.insert("after".into(), Value::String(a.clone().unwrap_or_default()));
                entry.insert(
                    "before_header".into(),
                    Value::String(if b.is_some() {
                        file.clone()
                    } else {
                        "/dev/null".into()
                    }),
                );
                entry.insert(
                    "after_header".into(),
                    Value::String(if a.is_some() {
                        file.clone()
                    } else {
                        "/dev/null".into()
                    }),
                );
                diff.push(Value::Object(entry));
            }
        }

        if changed && !ctx.check_mode {
            let script = write_script(&args, &before, &after, &sources, &new_files, mode.as_ref());
            let records = match remote::run_script(ctx, &script, None).await? {
                Ok(records) => records,
                Err(failure) => return Ok(failure),
            };
            warnings.extend(records.all("warning").map(str::to_string));
            if let Some(mut failure) = records.failure() {
                add_warnings(&mut failure, warnings);
                return Ok(failure);
            }
        }
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(changed));
        result.insert("repo".into(), Value::String(args.repo.clone()));
        result.insert(
            "sources_added".into(),
            Value::Array(added.into_iter().map(Value::String).collect()),
        );
        result.insert(
            "sources_removed".into(),
            Value::Array(removed.into_iter().map(Value::String).collect()),
        );
        result.insert("state".into(), Value::String(args.state.clone()));
        result.insert("diff".into(), Value::Array(diff));
        add_warnings(&mut result, warnings);
        remote::mark_diff_mode(&mut result, ctx);
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

/// Reads `sources.list` and `sources.list.d/*.list` (name order), with symlink targets.
const READ_SH: &str = r#"command -v apt-get >/dev/null 2>&1 || die "Module apt_repository is not supported on target."
whole() { _w=$(cat -- "$1"; printf x); _w=${_w%x}; }
one() {
  [ -f "$1" ] || return 0
  emit file "$1"
  [ -L "$1" ] && emit link "$(readlink -f -- "$1")"
  whole "$1" || die "cannot read $1"
  emit text "$_w"
}
one /etc/apt/sources.list
set +f
for _f in /etc/apt/sources.list.d/*.list; do set -f; one "$_f"; done
"#;

/// One line of a source file, as Ansible parses it.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    valid: bool,
    enabled: bool,
    source: String,
    comment: String,
}

fn parse_line(text: &str) -> Line {
    let mut line = text.trim().to_string();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest.to_string();
    }
    let mut comment = String::new();
    if let Some(i) = line.find('#') {
        if i > 0 {
            comment = line[i + 1..].trim().to_string();
            line.truncate(i);
        }
    }
    let mut source = line.trim().to_string();
    let mut valid = false;
    let chunks: Vec<&str> = source.split_whitespace().collect();
    if let Some(first) = chunks.first() {
        if *first == "deb" || *first == "deb-src" {
            valid = true;
            source = chunks.join(" ");
        }
    }
    Line {
        valid,
        enabled,
        source,
        comment,
    }
}

impl Line {
    fn render(&self) -> String {
        let mut out = String::new();
        if !self.enabled {
            out.push_str("# ");
        }
        out.push_str(&self.source);
        if !self.comment.is_empty() {
            out.push_str(" # ");
            out.push_str(&self.comment);
        }
        out.push('\n');
        out
    }
}

/// The default file name for a source: its URI's host and path, as Ansible makes it.
fn suggest_filename(source: &str) -> String {
    let mut line = String::new();
    let mut depth = 0;
    for c in source.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => line.push(c),
            _ => {}
        }
    }
    // Drop `scheme://` (a run of word characters before `://`).
    let mut cleaned = String::new();
    let mut rest = line.as_str();
    while let Some(i) = rest.find("://") {
        let head = &rest[..i];
        let word_start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map(|(i, _)| i)
            .unwrap_or(head.len());
        cleaned.push_str(&head[..word_start]);
        rest = &rest[i + 3..];
    }
    cleaned.push_str(rest);
    let parts: Vec<&str> = cleaned
        .split_whitespace()
        .filter(|p| *p != "deb" && *p != "deb-src")
        .collect();
    let first = parts.first().copied().unwrap_or("");
    let first = first.split_once('@').map(|(_, h)| h).unwrap_or(first);
    let name: Vec<String> = first
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    format!("{}.list", name.join("_"))
}

/// The source files, in Ansible's order (sources.list, then sources.list.d).
struct Sources {
    files: Vec<SourceFile>,
}

struct SourceFile {
    path: String,
    /// Where a symlinked file really is (written through).
    link: Option<String>,
    lines: Vec<Line>,
    /// Exists on the target now.
    existed: bool,
}

impl Sources {
    fn from_records(records: &Records) -> Sources {
        let mut files: Vec<SourceFile> = Vec::new();
        for (key, value) in &records.items {
            match key.as_str() {
                "file" => files.push(SourceFile {
                    path: value.clone(),
                    link: None,
                    lines: Vec::new(),
                    existed: true,
                }),
                "link" => {
                    if let Some(f) = files.last_mut() {
                        f.link = Some(value.clone());
                    }
                }
                "text" => {
                    if let Some(f) = files.last_mut() {
                        f.lines = value.lines().map(parse_line).collect();
                    }
                }
                _ => {}
            }
        }
        Sources { files }
    }

    /// Files with lines, and their normalised text.
    fn dump(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|f| !f.lines.is_empty())
            .map(|f| (f.path.clone(), f.lines.iter().map(Line::render).collect()))
            .collect()
    }

    /// Enables every line holding `source`, or appends it to `file`; returns the file that got
    /// a new line.
    fn add(&mut self, source: &str, file: &str) -> Option<String> {
        let mut found = false;
        for f in &mut self.files {
            for line in &mut f.lines {
                if line.valid && line.source == source {
                    line.enabled = true;
                    found = true;
                }
            }
        }
        if found {
            return None;
        }
        let index = match self.files.iter().position(|f| f.path == file) {
            Some(i) => i,
            None => {
                self.files.push(SourceFile {
                    path: file.to_string(),
                    link: None,
                    lines: Vec::new(),
                    existed: false,
                });
                self.files.len() - 1
            }
        };
        self.files[index].lines.push(Line {
            valid: true,
            enabled: true,
            source: source.to_string(),
            comment: String::new(),
        });
        Some(file.to_string())
    }

    /// Removes every enabled line holding `source`.
    fn remove(&mut self, source: &str) {
        for f in &mut self.files {
            f.lines
                .retain(|line| !(line.valid && line.enabled && line.source == source));
        }
    }
}

/// Writes the changed files (backups kept until the cache update succeeded), deletes emptied
/// ones, applies `mode` to files with a new line, and updates the cache.
fn write_script(
    args: &Args,
    before: &[(String, String)],
    after: &[(String, String)],
    sources: &Sources,
    new_files: &[String],
    mode: Option<&remote::ModeSpec>,
) -> String {
    let mut s = remote::attrs_vars(false, None, None);
    s.push_str(&remote::attrs_function(mode));
    s.push_str(&format!(
        "UPDATE={}\nRETRIES={}\nMAXDELAY={}\n",
        u8::from(args.update_cache),
        args.update_cache_retries.max(0),
        args.update_cache_retry_max_delay.max(0)
    ));
    s.push_str(WRITE_FUNCTIONS_SH);
    for file in &sources.files {
        let old = before.iter().find(|(f, _)| *f == file.path).map(|(_, t)| t);
        let new = after.iter().find(|(f, _)| *f == file.path).map(|(_, t)| t);
        if old == new {
            continue;
        }
        let target = file.link.as_deref().unwrap_or(&file.path);
        match new {
            Some(text) => {
                s.push_str(&format!(
                    "put {} {} {}\n",
                    quote(target),
                    quote(text),
                    u8::from(file.existed)
                ));
                if new_files.contains(&file.path) && mode.is_some() {
                    s.push_str(&format!("setattrs {}\n", quote(target)));
                }
            }
            None if file.existed => s.push_str(&format!("drop {}\n", quote(&file.path))),
            None => {}
        }
    }
    s.push_str(UPDATE_SH);
    s
}

const WRITE_FUNCTIONS_SH: &str = r#"_undo=
_cleanup=
trap 'eval "rm -f -- $_cleanup"' EXIT
undo() { eval "$_undo"; }
put() {
  dir_of "$1"
  mkdir -p -- "$_dn" 2>/dev/null || { undo; die "Failed to create directory $_dn"; }
  _t=$(mktemp "$_dn/.${1##*/}-XXXXXX") || { undo; die "Unable to create temp file at \"$_dn\" for apt source"; }
  printf '%s' "$2" >"$_t" || { rm -f -- "$_t"; undo; die "Failed to write to file $_t"; }
  if [ "$3" = 1 ] && [ -e "$1" ]; then
    _b=$(mktemp "$_dn/.${1##*/}-bak-XXXXXX") && cp -p -- "$1" "$_b" || { rm -f -- "$_t"; undo; die "cannot back up $1"; }
    _q=$(printf '%s' "$_b" | sed "s/'/'\\\\''/g"); _p=$(printf '%s' "$1" | sed "s/'/'\\\\''/g")
    _undo="mv -f -- '$_q' '$_p'; $_undo"; _cleanup="$_cleanup '$_q'"
    chmod "$(stat -c %a -- "$1")" "$_t"; chown "$(stat -c %u:%g -- "$1")" "$_t" 2>/dev/null
  else
    _p=$(printf '%s' "$1" | sed "s/'/'\\\\''/g")
    _undo="rm -f -- '$_p'; $_undo"
    chmod "$(printf '%o' $(( 0666 & ~$(umask) )))" "$_t"
  fi
  mv -f -- "$_t" "$1" || { rm -f -- "$_t"; undo; die "cannot replace $1"; }
}
drop() {
  dir_of "$1"
  _b=$(mktemp "$_dn/.${1##*/}-bak-XXXXXX") && cp -p -- "$1" "$_b" || { undo; die "cannot back up $1"; }
  _q=$(printf '%s' "$_b" | sed "s/'/'\\\\''/g"); _p=$(printf '%s' "$1" | sed "s/'/'\\\\''/g")
  _undo="mv -f -- '$_q' '$_p'; $_undo"; _cleanup="$_cleanup '$_q'"
  rm -f -- "$1" || { undo; die "cannot remove $1"; }
}
"#;

const UPDATE_SH: &str = r#"if [ "$UPDATE" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
  _e=$(mktemp) || { undo; die "cannot create a temporary file"; }
  _cleanup="$_cleanup '$_e'"
  _try=0; _ok=0; _err=
  while [ $_try -lt "$RETRIES" ]; do
    if apt-get update -q --error-on=any >/dev/null 2>"$_e"; then _ok=1; break; fi
    _err=$(grep '^E:' "$_e" | tr '\n' ' '); [ -n "$_err" ] || _err=$(cat "$_e")
    _err=${_err% }
    emit warning "Failed to update cache after $((_try + 1)) due to $_err retry, retrying"
    _d=$(( 1 << _try )); [ $_d -gt "$MAXDELAY" ] && _d=$MAXDELAY
    sleep "$_d"
    emit warning "Sleeping for $_d seconds, before attempting to update the cache again"
    _try=$((_try + 1))
  done
  if [ $_ok != 1 ]; then
    undo
    die "Failed to update apt cache after $RETRIES retries: ${_err:-unknown reason}"
  fi
fi
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_the_uri() {
        assert_eq!(
            suggest_filename("deb http://ppa.example.com/x stable main"),
            "ppa_example_com_x.list"
        );
        assert_eq!(
            suggest_filename("deb [arch=amd64 signed-by=/k.gpg] https://user:pw@repo.example.com/apt/6.x stable main"),
            "repo_example_com_apt_6_x.list"
        );
        assert_eq!(
            suggest_filename("deb [trusted=yes] file:/srv/hr/repo ./"),
            "file_srv_hr_repo.list"
        );
    }

    #[test]
    fn lines_parse_and_render_as_ansible_normalises_them() {
        let l = parse_line("#deb   http://x  stable main # old");
        assert!(l.valid && !l.enabled);
        assert_eq!(l.source, "deb http://x stable main");
        assert_eq!(l.render(), "# deb http://x stable main # old\n");
        let c = parse_line("# just a comment");
        assert!(!c.valid);
        assert_eq!(c.render(), "# just a comment\n");
        assert_eq!(parse_line("").render(), "\n");
    }

    #[test]
    fn add_enables_a_disabled_copy_and_remove_drops_enabled_ones() {
        let mut s = Sources {
            files: vec![SourceFile {
                path: "/etc/apt/sources.list".into(),
                link: None,
                lines: vec![parse_line("# deb http://x stable main")],
                existed: true,
            }],
        };
        assert_eq!(
            s.add("deb http://x stable main", "/etc/apt/sources.list.d/x.list"),
            None
        );
        assert_eq!(s.dump()[0].1, "deb http://x stable main\n");
        s.remove("deb http://x stable main");
        assert!(s.dump().is_empty());
    }

    #[tokio::test]
    async fn an_invalid_repository_string_fails() {
        let result = crate::modules::remote::testkit::run(
            &AptRepository,
            serde_json::json!({"repo": "http://x stable main"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "Invalid repository string: http://x stable main"
        );
    }
}
