//! `ansible.builtin.find`: lists files of the target that match criteria.
//!
//! Semantics (ansible-core 2.18 `modules/find.py`):
//! - Each of `paths` (aliases `name`, `path`; `~`/`$VAR` expanded on the target) must be a
//!   directory, else it is skipped (`skipped_paths[P] = "'P' is not a directory"`, a warning, and
//!   `msg: Not all paths examined, check warnings for details`; otherwise `All paths examined`).
//! - The walk is Python's `os.walk` top-down: a directory's non-directories, then its
//!   directories, then each subdirectory's walk, in directory order. Only the top level unless
//!   `recurse`; `depth` bounds the levels; `follow` walks into linked directories. Entries are
//!   described by `lstat`. `examined` counts every entry listed.
//! - Matching: `patterns` (alias `pattern`; shell globs on the basename with Python's `fnmatch`,
//!   or Python regular expressions anchored at the start with `use_regex`), minus `excludes`;
//!   hidden names (`.x`) only with `hidden` (hidden directories are still walked); `file_type`
//!   (`file` default, `directory`, `link`, `any`); `age` (`-?N[smhdw]`, older than N, or newer
//!   with `-`, by `age_stamp`), `size` (`-?N[bkmgt]`, at least N, or at most with `-`; files
//!   only), `mode` (octal or symbolic, exact unless `exact_mode: false`: any bit), `contains`
//!   (files only: a regular expression matched at the start of a line, or searched in the whole
//!   file with `read_whole_file`), `limit` (stop after N matches: `Limit of matches reached`).
//! - Each match is `{path, mode, isdir, ischr, isblk, isreg, isfifo, islnk, issock, uid, gid,
//!   size, inode, dev, nlink, atime, mtime, ctime, gr_name, pw_name, wusr...xoth, isuid,
//!   isgid}` plus `checksum` (SHA-1) for regular files with `get_checksum`. Results: `files,
//!   matched, examined, msg, skipped_paths, changed: false`; an unreadable directory met on the
//!   walk is in `skipped_paths` with Python's `[Errno 13] Permission denied: 'P'`.
//! - Check mode: the same (nothing changes).
//!
//! One round trip lists the trees (`find` + `stat`); the matching runs in the controller. A
//! second one runs only for `contains` (the target's `grep -E`: POSIX extended expressions,
//! close to Python's for common patterns) and `get_checksum`. Not supported: `encoding` (files
//! are read as bytes; a warning says it is ignored).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use std::collections::BTreeMap;

pub struct Find;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            aliases: &["name", "path"],
            required: true,
            ..Param::new("paths", Kind::List)
        },
        Param {
            aliases: &["pattern"],
            default: Some("[]"),
            ..Param::new("patterns", Kind::List)
        },
        Param {
            aliases: &["exclude"],
            ..Param::new("excludes", Kind::List)
        },
        Param::new("contains", Kind::Str),
        Param {
            default: Some("false"),
            ..Param::new("read_whole_file", Kind::Bool)
        },
        Param {
            choices: &["any", "directory", "file", "link"],
            default: Some("file"),
            ..Param::new("file_type", Kind::Str)
        },
        Param::new("age", Kind::Str),
        Param {
            choices: &["atime", "ctime", "mtime"],
            default: Some("mtime"),
            ..Param::new("age_stamp", Kind::Str)
        },
        Param::new("size", Kind::Str),
        Param {
            default: Some("false"),
            ..Param::new("recurse", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("hidden", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("follow", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("get_checksum", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("use_regex", Kind::Bool)
        },
        Param::new("depth", Kind::Int),
        Param::new("mode", Kind::Raw),
        Param {
            default: Some("true"),
            ..Param::new("exact_mode", Kind::Bool)
        },
        Param::new("encoding", Kind::Str),
        Param::new("limit", Kind::Int),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FindArgs {
    pub paths: Vec<String>,
    #[serde(default)]
    pub patterns: Vec<String>,
    pub excludes: Option<Vec<String>>,
    pub contains: Option<String>,
    #[serde(default)]
    pub read_whole_file: bool,
    #[serde(default = "file")]
    pub file_type: String,
    pub age: Option<String>,
    #[serde(default = "mtime")]
    pub age_stamp: String,
    pub size: Option<String>,
    #[serde(default)]
    pub recurse: bool,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub follow: bool,
    #[serde(default)]
    pub get_checksum: bool,
    #[serde(default)]
    pub use_regex: bool,
    pub depth: Option<i64>,
    #[serde(default)]
    pub mode: Value,
    #[serde(default = "yes")]
    pub exact_mode: bool,
    pub encoding: Option<String>,
    pub limit: Option<i64>,
}

fn file() -> String {
    "file".into()
}
fn mtime() -> String {
    "mtime".into()
}
fn yes() -> bool {
    true
}

#[async_trait]
impl Module for Find {
    fn name(&self) -> &'static str {
        "find"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.find"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<FindArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let mut args: FindArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let filters = match Filters::parse(&mut args) {
            Ok(filters) => filters,
            Err(result) => return Ok(result),
        };
        let records = match remote::run_script(ctx, &listing_script(&args), None).await? {
            Ok(records) => records,
            Err(result) => return Ok(result),
        };
        if let Some(failure) = records.failure() {
            return Ok(failure);
        }
        let listing = Listing::from_records(&records);
        let mut search = Search::default();
        for (index, path) in args.paths.iter().enumerate() {
            search.walk_path(&args, &filters, &listing, index, path);
        }
        let needs_content = args.contains.is_some() && args.file_type == "file";
        if needs_content || args.get_checksum {
            let script = content_script(&args, &search.found);
            let extra = match remote::run_script(ctx, &script, None).await? {
                Ok(records) => records,
                Err(result) => return Ok(result),
            };
            search.apply_content(&args, &extra, needs_content);
        }
        Ok(search.into_result(&args))
    }
}

/// The numeric filters, parsed as the module parses them.
struct Filters {
    age: Option<i64>,
    size: Option<i64>,
    mode: Option<u32>,
    patterns: Vec<Matcher>,
    excludes: Vec<Matcher>,
    /// Why matching cannot work (a bad regular expression): every path is skipped with it.
    broken: Option<String>,
}

impl Filters {
    fn parse(args: &mut FindArgs) -> Result<Filters, Map> {
        let mode = match &args.mode {
            Value::Null => None,
            Value::String(m) if m.is_empty() => None,
            Value::String(m) => Some(match u32::from_str_radix(m, 8) {
                Ok(n) => n & 0o7777,
                Err(_) => match remote::parse_mode(&args.mode) {
                    Ok(Some(spec)) => spec.resolve(0, false, 0o022),
                    Ok(None) => 0,
                    Err(e) => return Err(remote::failed(e.msg)),
                },
            }),
            other => {
                return Err(remote::failed(format!(
                    "argument 'mode' is not a string and conversion is not allowed, value is of type {}",
                    match other {
                        Value::Bool(_) => "bool",
                        Value::Number(n) if n.is_f64() => "float",
                        Value::Number(_) => "int",
                        Value::Array(_) => "list",
                        _ => "dict",
                    }
                )))
            }
        };
        if args.patterns.is_empty() {
            args.patterns = vec![if args.use_regex { ".*" } else { "*" }.into()];
        }
        let age = match &args.age {
            None => None,
            Some(text) => Some(
                scaled(
                    text,
                    &[
                        ('s', 1),
                        ('m', 60),
                        ('h', 3600),
                        ('d', 86400),
                        ('w', 604800),
                    ],
                )
                .ok_or_else(|| {
                    let mut r = remote::failed("failed to process age");
                    r.insert("age".into(), Value::String(text.clone()));
                    r
                })?,
            ),
        };
        let size = match &args.size {
            None => None,
            Some(text) => Some(
                scaled(
                    text,
                    &[
                        ('b', 1),
                        ('k', 1024),
                        ('m', 1024 << 10),
                        ('g', 1024 << 20),
                        ('t', 1024 << 30),
                    ],
                )
                .ok_or_else(|| {
                    let mut r = remote::failed("failed to process size");
                    r.insert("size".into(), Value::String(text.clone()));
                    r
                })?,
            ),
        };
        if let Some(limit) = args.limit.filter(|l| *l <= 0) {
            return Err(remote::failed(format!(
                "limit cannot be {limit} (use None for unlimited)"
            )));
        }
        let mut broken = None;
        let mut compile = |list: &[String]| -> Vec<Matcher> {
            list.iter()
                .filter_map(|p| match Matcher::new(p, args.use_regex) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        broken.get_or_insert(e);
                        None
                    }
                })
                .collect()
        };
        let patterns = compile(&args.patterns);
        let excludes = compile(args.excludes.as_deref().unwrap_or(&[]));
        Ok(Filters {
            age,
            size,
            mode,
            patterns,
            excludes,
            broken,
        })
    }

    /// `pfilter`: a pattern matches and no exclude does.
    fn name_matches(&self, name: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(name))
            && !self.excludes.iter().any(|e| e.matches(name))
    }
}

/// `-?N` with an optional unit letter (case-insensitive), times the unit.
fn scaled(text: &str, units: &[(char, i64)]) -> Option<i64> {
    let lower = text.to_lowercase();
    let (number, factor) = match lower.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let factor = units.iter().find(|(u, _)| *u == c)?.1;
            (&lower[..lower.len() - 1], factor)
        }
        _ => (lower.as_str(), 1),
    };
    let digits = number.strip_prefix('-').unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse::<i64>().ok().map(|n| n * factor)
}

/// A glob (Python's `fnmatch`) or a regular expression (`re.match`: anchored at the start).
struct Matcher(regex::Regex);

impl Matcher {
    fn new(pattern: &str, use_regex: bool) -> Result<Matcher, String> {
        let source = if use_regex {
            format!("^(?:{pattern})")
        } else {
            format!("^(?s:{})$", glob_to_regex(pattern))
        };
        regex::Regex::new(&source)
            .map(Matcher)
            .map_err(|e| e.to_string())
    }

    fn matches(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

/// Python's `fnmatch.translate` (without its final anchor): `*`, `?`, `[seq]`, `[!seq]`; an
/// unclosed `[` is literal.
fn glob_to_regex(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                    continue;
                }
                let inner: String = chars[i..j].iter().collect();
                i = j + 1;
                let (negate, body) = match inner.strip_prefix('!') {
                    Some(rest) => (true, rest.to_string()),
                    None => (false, inner),
                };
                let body = body.replace('\\', "\\\\").replace('[', "\\[");
                let body = match body.strip_prefix('^') {
                    Some(rest) => format!("\\^{rest}"),
                    None => body,
                };
                out.push('[');
                if negate {
                    out.push('^');
                }
                out.push_str(&body);
                out.push(']');
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out
}

/// The listing script: for each path, whether it is a directory, then one `stat` line per entry
/// under it (to the needed depth), and `find`'s complaints about unreadable directories.
fn listing_script(args: &FindArgs) -> String {
    let maxdepth = if !args.recurse {
        "-maxdepth 1".to_string()
    } else {
        match args.depth {
            Some(d) if d > 0 => format!("-maxdepth {}", d + 1),
            _ => String::new(),
        }
    };
    let mut s = format!(
        "FOLLOW={}\nMAXDEPTH={}\n{LIST_SH}",
        if args.follow { "-L" } else { "" },
        quote(&maxdepth)
    );
    for path in &args.paths {
        s.push_str(&format!("list_path {}\n", path_word(path)));
    }
    s
}

/// `list_path P`: `root`, or `notdir`; then `ls` records (one `stat` line per entry, name
/// last) and `denied` records from find's errors.
const LIST_SH: &str = r#"emit now "$(date +%s)"
list_path() {
  if [ ! -d "$1" ]; then emit notdir "$1"; return 0; fi
  emit root "$1"
  _err=$(mktemp) || die "cannot create a temporary file"
  _out=$(LC_ALL=C find $FOLLOW "$1" -mindepth 1 $MAXDEPTH -exec stat -c '%f|%u|%g|%s|%i|%d|%h|%X|%Y|%Z|%x|%y|%z|%U|%G|%n' -- {} + 2>"$_err")
  emit ls "$_out"
  while IFS= read -r _l; do
    case $_l in
      *': Permission denied') _p=${_l#*: }; _p=${_p%: Permission denied}; _p=${_p#\'}; emit denied "${_p%\'}" ;;
    esac
  done <"$_err"
  rm -f -- "$_err"
}
"#;

/// One entry of the listing.
#[derive(Debug, Clone)]
struct Entry {
    path: String,
    fields: Vec<String>,
}

impl Entry {
    fn raw(&self) -> u32 {
        u32::from_str_radix(&self.fields[0], 16).unwrap_or(0)
    }
    fn num(&self, i: usize) -> u64 {
        self.fields[i].parse().unwrap_or(0)
    }
    fn is_dir(&self) -> bool {
        self.raw() & 0o170000 == 0o040000
    }
    fn is_reg(&self) -> bool {
        self.raw() & 0o170000 == 0o100000
    }
    fn is_link(&self) -> bool {
        self.raw() & 0o170000 == 0o120000
    }
    fn time(&self, stamp: &str) -> f64 {
        let (secs, human) = match stamp {
            "atime" => (7, 10),
            "ctime" => (9, 12),
            _ => (8, 11),
        };
        super::stat::float_time(self.num(secs), Some(&self.fields[human]))
    }

    /// `statinfo`: the match's keys, in the module's order.
    fn statinfo(&self) -> Map {
        let raw = self.raw();
        let perm = raw & 0o7777;
        let kind = raw & 0o170000;
        let mut out = Map::new();
        out.insert("path".into(), Value::String(self.path.clone()));
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
        for (key, i) in [
            ("uid", 1),
            ("gid", 2),
            ("size", 3),
            ("inode", 4),
            ("dev", 5),
            ("nlink", 6),
        ] {
            out.insert(key.into(), Value::from(self.num(i)));
        }
        out.insert("atime".into(), Value::from(self.time("atime")));
        out.insert("mtime".into(), Value::from(self.time("mtime")));
        out.insert("ctime".into(), Value::from(self.time("ctime")));
        let name = |i: usize| match self.fields[i].as_str() {
            "UNKNOWN" => String::new(),
            n => n.to_string(),
        };
        out.insert("gr_name".into(), Value::String(name(14)));
        out.insert("pw_name".into(), Value::String(name(13)));
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
            out.insert(key.into(), Value::Bool(perm & bit != 0));
        }
        out
    }
}

/// Fields of a listing line before the name.
const FIELDS: usize = 15;

/// What the listing script reported, per path (in the order of `paths`).
#[derive(Debug, Default)]
struct Listing {
    now: f64,
    /// Per path: `None` when it is not a directory, else its root and entries.
    paths: Vec<Option<(String, Vec<Entry>)>>,
    denied: Vec<String>,
}

impl Listing {
    fn from_records(records: &Records) -> Listing {
        let mut listing = Listing {
            now: records
                .get("now")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0.0),
            ..Listing::default()
        };
        let mut root = None;
        for (key, value) in &records.items {
            match key.as_str() {
                "notdir" => listing.paths.push(None),
                "root" => root = Some(value.clone()),
                "ls" => {
                    let entries = parse_lines(value);
                    listing
                        .paths
                        .push(Some((root.take().unwrap_or_default(), entries)));
                }
                "denied" => listing.denied.push(value.clone()),
                _ => {}
            }
        }
        listing
    }
}

/// `stat` lines; a line that does not start with the numeric fields continues the previous
/// entry's name (a name holding a newline).
fn parse_lines(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for line in text.split('\n') {
        let fields: Vec<&str> = line.splitn(FIELDS + 1, '|').collect();
        let well_formed = fields.len() == FIELDS + 1
            && u32::from_str_radix(fields[0], 16).is_ok()
            && fields[1..10].iter().all(|f| f.parse::<u64>().is_ok());
        if well_formed {
            entries.push(Entry {
                path: normpath(fields[FIELDS]),
                fields: fields[..FIELDS].iter().map(|f| f.to_string()).collect(),
            });
        } else if let Some(last) = entries.last_mut() {
            last.path.push('\n');
            last.path.push_str(line);
        }
    }
    entries
}

/// Python's `os.path.normpath` on a text path.
fn normpath(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// The walk's state, as the module's loop keeps it.
#[derive(Default)]
struct Search {
    found: Vec<Entry>,
    looked: u64,
    skipped: Map,
    warnings: Vec<String>,
    limit_reached: bool,
}

impl Search {
    fn walk_path(
        &mut self,
        args: &FindArgs,
        filters: &Filters,
        listing: &Listing,
        index: usize,
        given: &str,
    ) {
        let fail = |this: &mut Search, reason: String| {
            this.warnings.push(format!(
                "Skipped '{given}' path due to this access issue: {reason}\n"
            ));
            this.skipped
                .insert(given.to_string(), Value::String(reason));
        };
        let Some(Some((root, entries))) = listing.paths.get(index) else {
            fail(self, format!("'{given}' is not a directory"));
            return;
        };
        if let Some(reason) = &filters.broken {
            fail(self, reason.clone());
            return;
        }
        for denied in &listing.denied {
            if denied.starts_with(root.as_str()) {
                self.skipped.insert(
                    denied.clone(),
                    Value::String(format!("[Errno 13] Permission denied: '{denied}'")),
                );
            }
        }
        // Children of each directory, in directory order.
        let mut children: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, entry) in entries.iter().enumerate() {
            let parent = match entry.path.rsplit_once('/') {
                Some(("", _)) => "/".to_string(),
                Some((p, _)) => p.to_string(),
                None => ".".into(),
            };
            children.entry(parent).or_default().push(i);
        }
        let top = normpath(root);
        let base_depth = top.trim_end_matches('/').matches('/').count();
        let mut stack = vec![top];
        while let Some(dir) = stack.pop() {
            let kids = children.get(&dir).cloned().unwrap_or_default();
            self.looked += kids.len() as u64;
            // os.walk lists non-directories first, then directories.
            let (dirs, files): (Vec<usize>, Vec<usize>) =
                kids.into_iter().partition(|i| entries[*i].is_dir());
            let mut stop = false;
            for &i in files.iter().chain(dirs.iter()) {
                let entry = &entries[i];
                if let Some(limit) = args.depth.filter(|d| *d > 0) {
                    let depth = entry.path.matches('/').count() - base_depth;
                    if depth as i64 > limit {
                        continue;
                    }
                }
                let name = entry.path.rsplit('/').next().unwrap_or("");
                if name.starts_with('.') && !args.hidden {
                    continue;
                }
                if self.matches(args, filters, listing.now, entry) {
                    self.found.push(entry.clone());
                }
                if Some(self.found.len() as i64) == args.limit {
                    self.limit_reached = true;
                    stop = true;
                    break;
                }
            }
            if stop || !args.recurse {
                break;
            }
            for &i in dirs.iter().rev() {
                stack.push(entries[i].path.clone());
            }
        }
    }

    /// Every filter but `contains`, which the target answers afterwards.
    fn matches(&self, args: &FindArgs, filters: &Filters, now: f64, entry: &Entry) -> bool {
        let name = entry.path.rsplit('/').next().unwrap_or("");
        let age_ok = match filters.age {
            None => true,
            Some(age) => {
                let elapsed = now - entry.time(&args.age_stamp);
                if age >= 0 {
                    elapsed >= age as f64
                } else {
                    elapsed <= -age as f64
                }
            }
        };
        let size_ok = match filters.size {
            None => true,
            Some(size) if size >= 0 => entry.num(3) as i64 >= size,
            Some(size) => entry.num(3) as i64 <= -size,
        };
        let mode_ok = match filters.mode {
            None => true,
            Some(mode) if args.exact_mode => entry.raw() & 0o7777 == mode,
            Some(mode) => entry.raw() & mode != 0,
        };
        let common = filters.name_matches(name) && age_ok && mode_ok;
        match args.file_type.as_str() {
            "any" => common && (!entry.is_reg() || size_ok),
            "directory" => entry.is_dir() && common,
            "link" => entry.is_link() && common,
            _ => entry.is_reg() && common && size_ok,
        }
    }

    /// Applies the target's `contains` answers and adds checksums.
    fn apply_content(&mut self, args: &FindArgs, records: &Records, contains: bool) {
        let hits: Vec<&str> = records.all("hit").collect();
        if contains {
            self.found.retain(|e| hits.contains(&e.path.as_str()));
            if let Some(limit) = args.limit {
                self.found.truncate(limit as usize);
            }
        }
        let sums: BTreeMap<&str, &str> = records
            .all("sum")
            .filter_map(|s| s.split_once('|'))
            .map(|(sum, path)| (path, sum))
            .collect();
        for entry in &mut self.found {
            if let Some(sum) = sums.get(entry.path.as_str()) {
                entry.fields.push(sum.to_string());
            }
        }
    }

    fn into_result(self, args: &FindArgs) -> Map {
        let files: Vec<Value> = self
            .found
            .iter()
            .map(|entry| {
                let mut info = entry.statinfo();
                if args.get_checksum && entry.is_reg() {
                    if let Some(sum) = entry.fields.get(FIELDS) {
                        info.insert("checksum".into(), Value::String(sum.clone()));
                    }
                }
                Value::Object(info)
            })
            .collect();
        let msg = if !self.warnings.is_empty() {
            "Not all paths examined, check warnings for details"
        } else if self.limit_reached {
            "Limit of matches reached"
        } else {
            "All paths examined"
        };
        let mut result = Map::new();
        result.insert("matched".into(), Value::from(files.len()));
        result.insert("files".into(), Value::Array(files));
        result.insert("changed".into(), Value::Bool(false));
        result.insert("msg".into(), Value::String(msg.into()));
        result.insert("examined".into(), Value::from(self.looked));
        result.insert("skipped_paths".into(), Value::Object(self.skipped));
        let mut warnings: Vec<Value> = self.warnings.into_iter().map(Value::String).collect();
        if args.encoding.is_some() {
            warnings.push(Value::String(
                "find: 'encoding' is ignored: files are matched as bytes".into(),
            ));
        }
        if !warnings.is_empty() {
            result.insert("warnings".into(), Value::Array(warnings));
        }
        result
    }
}

/// The second pass: `grep -E` for `contains` and `sha1sum` for `get_checksum`, per candidate.
fn content_script(args: &FindArgs, found: &[Entry]) -> String {
    let pattern = args.contains.as_deref().unwrap_or("");
    let grep = match (
        args.contains.is_some() && args.file_type == "file",
        args.read_whole_file,
    ) {
        (false, _) => String::new(),
        (true, false) => format!("^({pattern})"),
        (true, true) => pattern.to_string(),
    };
    let mut s = format!(
        "PAT={}\nSUM={}\n{CONTENT_SH}",
        quote(&grep),
        u8::from(args.get_checksum)
    );
    for entry in found {
        s.push_str(&format!(
            "probe {} {}\n",
            quote(&entry.path),
            u8::from(entry.is_reg())
        ));
    }
    s
}

const CONTENT_SH: &str = r#"probe() {
  if [ -n "$PAT" ]; then LC_ALL=C grep -qE -e "$PAT" -- "$1" 2>/dev/null || return 0; emit hit "$1"; fi
  if [ "$SUM" = 1 ] && [ "$2" = 1 ] && [ -r "$1" ]; then _s=$(sha1sum <"$1") && emit sum "${_s%% *}|$1"; fi
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{nasty_tempdir, run};
    use serde_json::json;

    fn tree() -> (tempfile::TempDir, String) {
        let (dir, path) = nasty_tempdir();
        for (name, body) in [
            ("a.log", "error here\n"),
            ("b.txt", "fine\nsecond error\n"),
            (".hidden.log", "x"),
            ("sub/c.log", "error deep\n"),
            ("sub/deeper/d.log", "0123456789"),
        ] {
            let file = format!("{path}/{name}");
            std::fs::create_dir_all(std::path::Path::new(&file).parent().unwrap()).unwrap();
            std::fs::write(&file, body).unwrap();
        }
        (dir, path)
    }

    fn paths(result: &Map) -> Vec<String> {
        let mut out: Vec<String> = result["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    }

    #[tokio::test]
    async fn globs_match_basenames_at_the_top_level_only_by_default() {
        let (_dir, path) = tree();
        let result = run(&Find, json!({"paths": path, "patterns": "*.log"})).await;
        assert_eq!(paths(&result), vec![format!("{path}/a.log")], "{result:?}");
        assert_eq!(result["examined"], 4);
        assert_eq!(result["msg"], "All paths examined");
        let first = &result["files"][0];
        assert_eq!(first["isreg"], true);
        assert_eq!(first["size"], 11);
        assert!(first["mtime"].as_f64().unwrap() > 1.0e9);
    }

    #[tokio::test]
    async fn recurse_hidden_depth_and_directories() {
        let (_dir, path) = tree();
        let all = run(
            &Find,
            json!({"paths": [path], "patterns": ["*.log"], "recurse": true, "hidden": true}),
        )
        .await;
        assert_eq!(all["matched"], 4, "{all:?}");
        let shallow = run(
            &Find,
            json!({"paths": [path], "patterns": ["*.log"], "recurse": true, "depth": 2}),
        )
        .await;
        assert_eq!(
            paths(&shallow),
            vec![format!("{path}/a.log"), format!("{path}/sub/c.log")]
        );
        let dirs = run(
            &Find,
            json!({"paths": [path], "recurse": true, "file_type": "directory"}),
        )
        .await;
        assert_eq!(
            paths(&dirs),
            vec![format!("{path}/sub"), format!("{path}/sub/deeper")]
        );
    }

    #[tokio::test]
    async fn regex_excludes_size_and_contains() {
        let (_dir, path) = tree();
        let regex = run(
            &Find,
            json!({"paths": [path], "patterns": ["[ab]\\.(log|txt)"], "use_regex": true, "excludes": ["b.*"]}),
        )
        .await;
        assert_eq!(paths(&regex), vec![format!("{path}/a.log")], "{regex:?}");
        let big = run(
            &Find,
            json!({"paths": [path], "recurse": true, "size": "10"}),
        )
        .await;
        assert_eq!(big["matched"], 4, "{big:?}");
        let small = run(
            &Find,
            json!({"paths": [path], "recurse": true, "size": "-10"}),
        )
        .await;
        assert_eq!(paths(&small), vec![format!("{path}/sub/deeper/d.log")]);
        let contains = run(
            &Find,
            json!({"paths": [path], "recurse": true, "contains": "error", "get_checksum": true}),
        )
        .await;
        assert_eq!(
            paths(&contains),
            vec![format!("{path}/a.log"), format!("{path}/sub/c.log")],
            "{contains:?}"
        );
        assert_eq!(
            contains["files"][0]["checksum"].as_str().map(str::len),
            Some(40)
        );
    }

    #[tokio::test]
    async fn a_missing_path_is_skipped_with_a_warning() {
        let (_dir, path) = tree();
        let missing = format!("{path}/nope");
        let result = run(&Find, json!({"paths": [missing.clone(), path]})).await;
        assert_eq!(
            result["skipped_paths"][&missing],
            format!("'{missing}' is not a directory")
        );
        assert_eq!(
            result["msg"],
            "Not all paths examined, check warnings for details"
        );
        assert_eq!(result["matched"], 2);
    }

    #[tokio::test]
    async fn bad_age_and_limit_fail_like_the_module() {
        let result = run(&Find, json!({"paths": "/tmp", "age": "3x"})).await;
        assert_eq!(result["msg"], "failed to process age");
        let result = run(&Find, json!({"paths": "/tmp", "limit": 0})).await;
        assert_eq!(result["msg"], "limit cannot be 0 (use None for unlimited)");
    }

    #[test]
    fn globs_translate_like_fnmatch() {
        let m = |p: &str, n: &str| Matcher::new(p, false).unwrap().matches(n);
        assert!(m("*.log", "a.log"));
        assert!(!m("*.log", "a.log.1"));
        assert!(m("[!a]?", "bc"));
        assert!(!m("[!a]?", "ac"));
        assert!(m("[", "["));
        assert!(m("a+b", "a+b"));
        assert_eq!(scaled("2k", &[('k', 1024)]), Some(2048));
        assert_eq!(scaled("-3", &[]), Some(-3));
        assert_eq!(scaled("3x", &[('k', 1024)]), None);
    }
}
