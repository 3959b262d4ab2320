//! `ansible.builtin.cron`: manages a named job (or environment variable) in a user's crontab
//! or in a file of `/etc/cron.d`.
//!
//! Semantics (ansible-core 2.18 `modules/cron.py`):
//! - A job is the line after its comment `#Ansible: <name>`: `minute hour day month weekday
//!   [user] job`, or `@special_time [user] job`; `disabled` comments the line out (`#`). The
//!   user field is written only in a `cron_file`. A line equal to the wanted job without a
//!   comment gets the comment (adopted), as Ansible does.
//! - `state: present` adds the job (at the end) or replaces its line in place; `absent`
//!   removes the comment and the line (a `cron_file` emptied so stays). Only `state: absent`
//!   with a `cron_file` and an empty `name` deletes the file (`changed` when it existed).
//! - A relative `cron_file` is a file of `/etc/cron.d`; an absolute one is used as it is.
//! - `env: true`: `name="job"` variable lines instead, added at the top (or `insertafter` /
//!   `insertbefore` another variable: `Variable named 'x' not found.`), replaced in place.
//! - Checks with Ansible's words: `Will not manage /etc/crontab via cron_file, see
//!   documentation.`, `You must specify time and date fields or special time.`, `To use
//!   cron_file=... parameter you must specify user=... as well`, `You must specify 'job' to
//!   install a new cron job or variable`, `Insertafter and insertbefore parameters are valid
//!   only with env=yes`, `Invalid name for environment variable`; warnings for a job with a
//!   line break and an odd `cron_file` name.
//! - The crontab is read with `crontab -l` (`-u USER` for another user; the three header
//!   lines some crons add are skipped) and written with `crontab [-u USER] FILE`; a cron file
//!   is read and written directly (atomically, mode 0644). A file without a final newline
//!   counts as changed.
//! - Result: `changed`, `jobs` (names), `envs` (variable names), `warnings`, `cron_file`
//!   when given; `diff` in diff mode; `backup_file` with `backup: true` (a copy of the
//!   crontab before the change, on the target). Check mode reports, changes nothing.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Cron;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            required: true,
            ..Param::new("name", Kind::Str)
        },
        Param::new("user", Kind::Str),
        Param {
            aliases: &["value"],
            ..Param::new("job", Kind::Str)
        },
        Param::new("cron_file", Kind::Path),
        Param {
            default: Some("present"),
            choices: &["present", "absent"],
            ..Param::new("state", Kind::Str)
        },
        Param {
            default: Some("false"),
            ..Param::new("backup", Kind::Bool)
        },
        Param {
            default: Some("*"),
            ..Param::new("minute", Kind::Str)
        },
        Param {
            default: Some("*"),
            ..Param::new("hour", Kind::Str)
        },
        Param {
            aliases: &["dom"],
            default: Some("*"),
            ..Param::new("day", Kind::Str)
        },
        Param {
            default: Some("*"),
            ..Param::new("month", Kind::Str)
        },
        Param {
            aliases: &["dow"],
            default: Some("*"),
            ..Param::new("weekday", Kind::Str)
        },
        Param {
            choices: &[
                "reboot", "yearly", "annually", "monthly", "weekly", "daily", "hourly",
            ],
            ..Param::new("special_time", Kind::Str)
        },
        Param {
            default: Some("false"),
            ..Param::new("disabled", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("env", Kind::Bool)
        },
        Param::new("insertafter", Kind::Str),
        Param::new("insertbefore", Kind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[&["insertafter", "insertbefore"]],
    required_one_of: &[],
};

#[derive(Debug, Clone, serde::Deserialize)]
struct CronArgs {
    name: String,
    user: Option<String>,
    job: Option<String>,
    cron_file: Option<String>,
    state: String,
    backup: bool,
    minute: String,
    hour: String,
    day: String,
    month: String,
    weekday: String,
    special_time: Option<String>,
    disabled: bool,
    env: bool,
    insertafter: Option<String>,
    insertbefore: Option<String>,
}

const COMMENT: &str = "#Ansible: ";

#[async_trait]
impl Module for Cron {
    fn name(&self) -> &'static str {
        "cron"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.cron"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<CronArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: CronArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let mut warnings = Vec::new();
        if let Err(msg) = precheck(&args, &mut warnings) {
            return Ok(remote::failed(msg));
        }
        let read = format!(
            "CF={}\nU={}\n{READ_SH}",
            cron_file_word(args.cron_file.as_deref()),
            quote(args.user.as_deref().unwrap_or(""))
        );
        let records = match remote::run_script(ctx, &read, None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        if let Some(failure) = records.failure() {
            return Ok(failure);
        }
        let existing = records
            .get("content")
            .map(|c| c.strip_suffix('x').unwrap_or(c).to_string())
            .unwrap_or_default();
        let mut tab = CronTab::read(&existing, args.cron_file.is_some());
        let before = tab.existing.clone();
        let changed = match tab.apply(&args) {
            Ok(changed) => changed,
            Err(msg) => return Ok(remote::failed(msg)),
        };
        let header = match (&args.cron_file, &args.user) {
            (Some(file), _) => file.clone(),
            (None, Some(user)) => format!("crontab for user \"{user}\""),
            (None, None) => "crontab".into(),
        };
        let remove_file =
            args.cron_file.is_some() && args.state == "absent" && args.name.is_empty();
        let mut result = Map::new();
        if remove_file {
            let changed = if ctx.check_mode || !records.has("exists") {
                records.has("exists")
            } else {
                let script = format!(
                    "CF={}\nrm -f -- \"$CF\" || die \"Failed to remove $CF\"\n",
                    cron_file_word(args.cron_file.as_deref())
                );
                match remote::run_script(ctx, &script, None).await? {
                    Ok(r) => match r.failure() {
                        Some(failure) => return Ok(failure),
                        None => true,
                    },
                    Err(result) => return Ok(result),
                }
            };
            result.insert("changed".into(), Value::Bool(changed));
            result.insert(
                "cron_file".into(),
                Value::String(args.cron_file.clone().unwrap_or_default()),
            );
            result.insert("state".into(), Value::String(args.state.clone()));
            let mut diff = Map::new();
            if ctx.diff {
                diff.insert("before".into(), Value::String(before));
                diff.insert("before_header".into(), Value::String(header));
                diff.insert("after".into(), Value::String(String::new()));
                diff.insert("after_header".into(), Value::String("/dev/null".into()));
            }
            result.insert("diff".into(), Value::Object(diff));
            remote::mark_diff_mode(&mut result, ctx);
            return Ok(result);
        }
        let changed = changed || (!before.is_empty() && !before.ends_with(['\r', '\n']));
        result.insert("changed".into(), Value::Bool(changed));
        result.insert(
            "jobs".into(),
            Value::Array(tab.job_names().into_iter().map(Value::String).collect()),
        );
        result.insert(
            "envs".into(),
            Value::Array(tab.env_names().into_iter().map(Value::String).collect()),
        );
        result.insert(
            "warnings".into(),
            Value::Array(warnings.into_iter().map(Value::String).collect()),
        );
        if changed && !ctx.check_mode {
            let write = format!(
                "CF={}\nU={}\nBACKUP={}\n{WRITE_SH}",
                cron_file_word(args.cron_file.as_deref()),
                quote(args.user.as_deref().unwrap_or("")),
                u8::from(args.backup),
            );
            let input = tab.render().into_bytes();
            let done = match remote::run_script(ctx, &write, Some(input)).await? {
                Ok(records) => records,
                Err(result) => return Ok(result),
            };
            if let Some(failure) = done.failure() {
                return Ok(failure);
            }
            if let Some(file) = done.get("backup_file") {
                result.insert("backup_file".into(), Value::String(file.into()));
            }
        }
        if changed && ctx.diff {
            let mut diff = Map::new();
            diff.insert("before".into(), Value::String(before));
            diff.insert("before_header".into(), Value::String(header.clone()));
            diff.insert("after".into(), Value::String(tab.render()));
            diff.insert("after_header".into(), Value::String(header));
            result.insert("diff".into(), Value::Object(diff));
            remote::mark_diff_mode(&mut result, ctx);
        }
        if let Some(file) = &args.cron_file {
            result.insert("cron_file".into(), Value::String(file.clone()));
        }
        Ok(result)
    }
}

/// The shell word of the cron file's path: a relative name is a file of /etc/cron.d, as
/// Ansible places it; no cron file is the empty word (the user's crontab).
fn cron_file_word(cron_file: Option<&str>) -> String {
    match cron_file {
        None => "''".into(),
        Some(file) if file.starts_with('/') => path_word(file),
        Some(file) => path_word(&format!("/etc/cron.d/{file}")),
    }
}

/// The argument checks Ansible makes before reading anything.
fn precheck(args: &CronArgs, warnings: &mut Vec<String>) -> Result<(), String> {
    if let Some(file) = &args.cron_file {
        if file == "/etc/crontab" {
            return Err("Will not manage /etc/crontab via cron_file, see documentation.".into());
        }
        let base = file.rsplit('/').next().unwrap_or(file);
        let plain = !base.is_empty()
            && base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain {
            warnings.push(format!("Filename portion of cron_file (\"{base}\") should consist solely of upper- and lower-case letters, digits, underscores, and hyphens"));
        }
    }
    let timed = [
        &args.minute,
        &args.hour,
        &args.day,
        &args.month,
        &args.weekday,
    ]
    .iter()
    .any(|f| f.as_str() != "*");
    if args.special_time.is_some() && timed {
        return Err("You must specify time and date fields or special time.".into());
    }
    if args.state == "present" {
        if args.cron_file.is_some() && args.user.is_none() {
            return Err("To use cron_file=... parameter you must specify user=... as well".into());
        }
        if args.job.is_none() {
            return Err("You must specify 'job' to install a new cron job or variable".into());
        }
        if (args.insertafter.is_some() || args.insertbefore.is_some()) && !args.env {
            return Err(
                "Insertafter and insertbefore parameters are valid only with env=yes".into(),
            );
        }
    }
    if args.env && args.name.contains(' ') {
        return Err("Invalid name for environment variable".into());
    }
    if !args.env && args.state == "present" {
        if let Some(job) = &args.job {
            if job.trim_matches(['\r', '\n']).contains(['\r', '\n']) {
                warnings.push("Job should not contain line breaks".into());
            }
        }
    }
    Ok(())
}

/// The crontab's lines, as Ansible's `CronTab` keeps them.
struct CronTab {
    lines: Vec<String>,
    existing: String,
    in_file: bool,
}

impl CronTab {
    fn read(text: &str, in_file: bool) -> CronTab {
        let mut existing = text.to_string();
        let mut lines = Vec::new();
        for (count, line) in text.lines().enumerate() {
            let header = line
                .starts_with("# DO NOT EDIT THIS FILE - edit the master and reinstall.")
                || (line.starts_with("# (/tmp/")
                    && line.contains("installed on")
                    && line.ends_with(')'))
                || (line.starts_with("# (") && line.contains("version") && line.ends_with(')'));
            if in_file || count > 2 || !header {
                lines.push(line.to_string());
            } else {
                for ending in ["\r", "\n", ""] {
                    let full = format!("{line}{ending}");
                    if let Some(at) = existing.find(&full) {
                        existing.replace_range(at..at + full.len(), "");
                        break;
                    }
                }
            }
        }
        CronTab {
            lines,
            existing,
            in_file,
        }
    }

    /// Applies the task; true when the lines changed.
    fn apply(&mut self, args: &CronArgs) -> Result<bool, String> {
        let install = args.state == "present";
        let job_text = args.job.clone().unwrap_or_default();
        if args.env {
            let decl = format!("{}=\"{}\"", args.name, job_text);
            let old = self.find_env(&args.name);
            return Ok(match (install, old) {
                (true, None) => {
                    self.add_env(decl, args)?;
                    true
                }
                (true, Some(i)) if self.lines[i] != decl => {
                    self.update_env(&args.name, Some(&decl));
                    true
                }
                (false, Some(_)) => {
                    self.update_env(&args.name, None);
                    true
                }
                _ => false,
            });
        }
        if install {
            let line = self.job_line(args, &job_text);
            let old = self.find_job(&args.name, Some(&line));
            let mut changed = false;
            match &old {
                None => {
                    self.lines.push(format!("{COMMENT}{}", args.name));
                    self.lines.push(line.clone());
                    changed = true;
                }
                Some((_, found, adopted)) => {
                    if *found != line || *adopted {
                        self.update_job(&args.name, Some(&line));
                        changed = true;
                    }
                }
            }
            return Ok(changed);
        }
        if self.find_job(&args.name, None).is_some() {
            self.update_job(&args.name, None);
            return Ok(true);
        }
        Ok(false)
    }

    fn job_line(&self, args: &CronArgs, job: &str) -> String {
        let prefix = if args.disabled { "#" } else { "" };
        let user = match (&args.user, self.in_file) {
            (Some(u), true) => format!("{u} "),
            _ => String::new(),
        };
        match &args.special_time {
            Some(special) => format!("{prefix}@{special} {user}{job}"),
            None => format!(
                "{prefix}{} {} {} {} {} {user}{job}",
                args.minute, args.hour, args.day, args.month, args.weekday
            ),
        }
    }

    /// `(comment, job line, adopted)`: the job named `name`, or an uncommented line equal to
    /// `job` (which then gets the comment).
    fn find_job(&mut self, name: &str, job: Option<&str>) -> Option<(String, String, bool)> {
        let mut comment: Option<String> = None;
        for l in &self.lines {
            if let Some(c) = comment.take() {
                if c == name {
                    return Some((c, l.clone(), false));
                }
            } else if let Some(rest) = l.strip_prefix(COMMENT) {
                comment = Some(rest.to_string());
            }
        }
        let job = job?;
        for i in 0..self.lines.len() {
            if self.lines[i] != job {
                continue;
            }
            let previous = if i == 0 {
                self.lines.last()
            } else {
                self.lines.get(i - 1)
            }
            .cloned();
            let previous = previous.unwrap_or_default();
            if !previous.starts_with(COMMENT) {
                self.lines.insert(i, format!("{COMMENT}{name}"));
                return Some((self.lines[i].clone(), job.to_string(), true));
            }
            if previous == format!("{COMMENT}None") {
                let at = if i == 0 { self.lines.len() - 1 } else { i - 1 };
                self.lines[at] = format!("{COMMENT}{name}");
                return Some((self.lines[at].clone(), job.to_string(), true));
            }
        }
        None
    }

    /// Replaces (or, with `None`, removes) the job named `name`.
    fn update_job(&mut self, name: &str, job: Option<&str>) {
        let wanted = format!("{COMMENT}{name}");
        let mut out = Vec::new();
        let mut comment: Option<String> = None;
        for l in self.lines.drain(..) {
            if let Some(c) = comment.take() {
                if let Some(job) = job {
                    out.push(c);
                    out.push(job.to_string());
                }
            } else if l == wanted {
                comment = Some(l);
            } else {
                out.push(l);
            }
        }
        self.lines = out;
    }

    fn find_env(&self, name: &str) -> Option<usize> {
        let prefix = format!("{name}=");
        self.lines.iter().position(|l| l.starts_with(&prefix))
    }

    fn add_env(&mut self, decl: String, args: &CronArgs) -> Result<(), String> {
        let (other, after) = match (&args.insertafter, &args.insertbefore) {
            (Some(a), _) => (a, true),
            (None, Some(b)) => (b, false),
            (None, None) => {
                self.lines.insert(0, decl);
                return Ok(());
            }
        };
        match self.find_env(other) {
            Some(i) => {
                self.lines.insert(if after { i + 1 } else { i }, decl);
                Ok(())
            }
            None => Err(format!("Variable named '{other}' not found.")),
        }
    }

    fn update_env(&mut self, name: &str, decl: Option<&str>) {
        let prefix = format!("{name}=");
        let mut out = Vec::new();
        for l in self.lines.drain(..) {
            if l.starts_with(&prefix) {
                if let Some(d) = decl {
                    out.push(d.to_string());
                }
            } else {
                out.push(l);
            }
        }
        self.lines = out;
    }

    fn job_names(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| l.strip_prefix(COMMENT).map(str::to_string))
            .collect()
    }

    fn env_names(&self) -> Vec<String> {
        let re = regex::Regex::new(r"^\S+=").expect("static regex");
        self.lines
            .iter()
            .filter(|l| re.is_match(l))
            .map(|l| l.split('=').next().unwrap_or("").to_string())
            .collect()
    }

    fn render(&self) -> String {
        let text = self.lines.join("\n");
        if text.is_empty() {
            return text;
        }
        format!("{}\n", text.trim_end_matches(['\r', '\n']))
    }
}

/// The current crontab (or cron file) as `content` (ended with `x` so trailing newlines
/// survive), `exists` for a cron file.
const READ_SH: &str = r#"if [ -n "$CF" ]; then
  if [ -e "$CF" ]; then emit exists 1; emit content "$(cat -- "$CF" 2>/dev/null; printf x)"; fi
else
  command -v crontab >/dev/null 2>&1 || die "Failed to find required executable \"crontab\" in paths: $PATH"
  if [ -n "$U" ]; then _o=$(crontab -u "$U" -l 2>/dev/null; _rc=$?; printf x; exit $_rc); else _o=$(crontab -l 2>/dev/null; _rc=$?; printf x; exit $_rc); fi
  _rc=$?
  [ $_rc = 0 ] || [ $_rc = 1 ] || die "Unable to read crontab"
  [ $_rc = 0 ] || _o=x
  emit content "$_o"
fi
"#;

/// Writes stdin (the new content); with `BACKUP=1` the current one is copied first into a
/// `/tmp/crontab*` file, as Ansible's backup is.
const WRITE_SH: &str = r#"_n=$(mktemp) || die "cannot create a temporary file"
on_die() { rm -f -- "$_n"; }
cat >"$_n"
if [ "$BACKUP" = 1 ]; then
  _b=$(mktemp /tmp/crontabXXXXXXXX) || die "cannot create a backup file"
  if [ -n "$CF" ]; then cat -- "$CF" >"$_b" 2>/dev/null
  elif [ -n "$U" ]; then crontab -u "$U" -l >"$_b" 2>/dev/null
  else crontab -l >"$_b" 2>/dev/null; fi
  emit backup_file "$_b"
fi
if [ -n "$CF" ]; then
  dir_of "$CF"
  _t=$(mktemp "$_dn/.cron.XXXXXX") || die "Failed to write to file $CF"
  cat "$_n" >"$_t" && chmod 0644 "$_t" && mv -f -- "$_t" "$CF" || { rm -f -- "$_t"; die "Failed to write to file $CF"; }
else
  chmod 0644 "$_n"
  if [ -n "$U" ]; then _o=$(crontab -u "$U" "$_n" 2>&1); else _o=$(crontab "$_n" 2>&1); fi || die "Unable to write crontab: $_o"
fi
rm -f -- "$_n"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{fake_command_env, run, run_with, Options};
    use serde_json::json;

    #[tokio::test]
    async fn a_cron_file_job_is_added_kept_changed_and_removed_with_its_file() {
        let (_dir, path) = crate::modules::remote::testkit::nasty_tempdir();
        let file = format!("{path}/hr-job");
        let job = json!({"name": "backup", "job": "/usr/local/bin/backup", "minute": "5", "hour": "2", "user": "root", "cron_file": file});
        let added = run(&Cron, job.clone()).await;
        assert_eq!(added["changed"], true, "{added:?}");
        assert_eq!(added["jobs"], json!(["backup"]));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "#Ansible: backup\n5 2 * * * root /usr/local/bin/backup\n"
        );
        assert_eq!(run(&Cron, job.clone()).await["changed"], false);
        let mut other = job.clone();
        other["hour"] = json!("3");
        assert_eq!(run(&Cron, other).await["changed"], true);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "#Ansible: backup\n5 3 * * * root /usr/local/bin/backup\n"
        );
        let absent = json!({"name": "backup", "cron_file": file, "state": "absent"});
        let removed = run(&Cron, absent).await;
        assert_eq!(removed["changed"], true, "{removed:?}");
        assert_eq!(removed["jobs"], json!([]), "{removed:?}");
        // Emptied, the file stays, as ansible-core keeps it; an empty name deletes it.
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
        let whole = json!({"name": "", "cron_file": file, "state": "absent"});
        let deleted = run(&Cron, whole.clone()).await;
        assert_eq!(deleted["changed"], true, "{deleted:?}");
        assert_eq!(deleted["state"], "absent", "{deleted:?}");
        assert!(!std::path::Path::new(&file).exists());
        assert_eq!(run(&Cron, whole).await["changed"], false);
    }

    #[test]
    fn a_relative_cron_file_is_in_etc_cron_d() {
        assert_eq!(
            cron_file_word(Some("hr-job")),
            path_word("/etc/cron.d/hr-job")
        );
        assert_eq!(cron_file_word(Some("/srv/x")), path_word("/srv/x"));
        assert_eq!(cron_file_word(None), "''");
    }

    #[tokio::test]
    async fn a_user_crontab_through_the_crontab_command() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("tab");
        std::fs::write(&store, "# DO NOT EDIT THIS FILE - edit the master and reinstall.\nMAILTO=\"\"\n0 * * * * /bin/true\n").unwrap();
        let env = fake_command_env(
            dir.path(),
            "crontab",
            &format!(
                "#!/bin/sh\ncase \"$1\" in\n  -l) cat '{0}' ;;\n  *) cat \"$1\" > '{0}' ;;\nesac\n",
                store.display()
            ),
        );
        let options = || Options {
            env: env.clone(),
            ..Options::default()
        };
        let adopt = json!({"name": "hourly true", "job": "/bin/true", "minute": "0"});
        let adopted = run_with(&Cron, adopt, options()).await;
        assert_eq!(adopted["changed"], true, "{adopted:?}");
        assert_eq!(adopted["envs"], json!(["MAILTO"]));
        assert_eq!(
            std::fs::read_to_string(&store).unwrap(),
            "MAILTO=\"\"\n#Ansible: hourly true\n0 * * * * /bin/true\n"
        );
        let var =
            json!({"name": "PATH", "job": "/usr/bin:/bin", "env": true, "insertafter": "MAILTO"});
        assert_eq!(
            run_with(&Cron, var.clone(), options()).await["changed"],
            true
        );
        assert_eq!(run_with(&Cron, var, options()).await["changed"], false);
        assert_eq!(
            std::fs::read_to_string(&store).unwrap(),
            "MAILTO=\"\"\nPATH=\"/usr/bin:/bin\"\n#Ansible: hourly true\n0 * * * * /bin/true\n"
        );
        let check = Options {
            check: true,
            ..options()
        };
        let gone = run_with(
            &Cron,
            json!({"name": "hourly true", "state": "absent"}),
            check,
        )
        .await;
        assert_eq!(gone["changed"], true);
        assert!(std::fs::read_to_string(&store)
            .unwrap()
            .contains("/bin/true"));
    }

    #[tokio::test]
    async fn arguments_are_checked_with_ansible_words() {
        let result = run(
            &Cron,
            json!({"name": "x", "job": "y", "special_time": "daily", "hour": "1"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "You must specify time and date fields or special time."
        );
        let result = run(
            &Cron,
            json!({"name": "x", "job": "y", "cron_file": "/etc/cron.d/x"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "To use cron_file=... parameter you must specify user=... as well"
        );
        let result = run(&Cron, json!({"name": "x"})).await;
        assert_eq!(
            result["msg"],
            "You must specify 'job' to install a new cron job or variable"
        );
        let result = run(
            &Cron,
            json!({"name": "x", "job": "y", "cron_file": "/etc/crontab", "user": "root"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "Will not manage /etc/crontab via cron_file, see documentation."
        );
    }
}
