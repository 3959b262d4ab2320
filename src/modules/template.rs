//! `ansible.builtin.template`: renders a controller Jinja2 template and puts the result on
//! the target with copy's semantics.
//!
//! Semantics (ansible-core 2.18 action plugin `template.py` and `template_common` docs):
//! - `src` is found as Ansible's `_find_needle('templates', src)`: for each search path P (the
//!   role's directories first, then the playbook directory), `P/templates/SRC`, then `P/SRC`;
//!   an absolute path is used as is. Not found: `Could not find or access 'SRC'` with the
//!   places searched.
//! - The file must be UTF-8. It is rendered on the controller in text (non-native) mode with
//!   the task's variables plus `ansible_managed` (`Ansible managed`), `template_host` (the
//!   controller's host name), `template_path` (the `src` given), `template_fullpath`,
//!   `template_destpath`, `template_uid` (the template file's owner), `template_mtime` and
//!   `template_run_date`. Trailing newlines of the source are kept. `trim_blocks` is on and
//!   `lstrip_blocks` off, Ansible's defaults.
//! - `variable_start_string`/`variable_end_string`/`block_start_string`/`block_end_string`/
//!   `comment_start_string`/`comment_end_string`, given as options or in a first-line
//!   `#jinja2:name:'value',...` header, are honoured by rewriting the template into the standard
//!   delimiters before rendering ([`rewrite_delimiters`]); text that looks like the standard
//!   delimiters is then kept as literal text, as Jinja2 does with custom ones.
//! - `newline_sequence` (`\n`, `\r`, `\r\n`, escaped or not) is the line ending of the output:
//!   the template's own line endings are normalised to it.
//! - The rendered text goes to `dest` through copy's [`copy::transfer`]: idempotence by SHA-1,
//!   atomic replace, `backup`, `force`, `validate`, `mode` (`preserve`: the template file's
//!   mode), `owner`, `group`, `follow`, check and diff modes, and copy's result keys. A
//!   directory `dest` receives `dest/basename(src)`.
//! - Failures: `state` given (`'state' cannot be specified on a template`), a bad
//!   `newline_sequence`, rendering errors as `<ErrorType>: <message>` (`AnsibleUndefinedVariable:
//!   'x' is undefined`, `AnsibleError: template error while templating string: ...`).
//!
//! Not supported (the task fails saying so): `trim_blocks: false`, `lstrip_blocks: true`,
//! `output_encoding` other than UTF-8, and `{% include %}`/`{% import %}` of other template
//! files (the templating engine has no loader).

use super::argspec::{ArgSpec, Kind, Param};
use super::copy::{self, CopyArgs, Payload, Transfer};
use super::remote::{self, with_file_common};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::template::Scope;
use crate::{Map, Value};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

pub struct Template;

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        Param {
            required: true,
            ..Param::new("src", Kind::Path)
        },
        Param {
            required: true,
            ..Param::new("dest", Kind::Path)
        },
        Param {
            default: Some("false"),
            ..Param::new("backup", Kind::Bool)
        },
        Param {
            default: Some("true"),
            ..Param::new("force", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("follow", Kind::Bool)
        },
        Param::new("validate", Kind::Str),
        Param {
            default: Some("\\n"),
            ..Param::new("newline_sequence", Kind::Str)
        },
        Param {
            default: Some("true"),
            ..Param::new("trim_blocks", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("lstrip_blocks", Kind::Bool)
        },
        Param {
            default: Some("utf-8"),
            ..Param::new("output_encoding", Kind::Str)
        },
        Param::new("variable_start_string", Kind::Str),
        Param::new("variable_end_string", Kind::Str),
        Param::new("block_start_string", Kind::Str),
        Param::new("block_end_string", Kind::Str),
        Param::new("comment_start_string", Kind::Str),
        Param::new("comment_end_string", Kind::Str),
        Param {
            action_only: true,
            ..Param::new("state", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
struct TemplateArgs {
    src: String,
    dest: String,
    #[serde(default)]
    backup: bool,
    #[serde(default = "yes")]
    force: bool,
    #[serde(default)]
    follow: bool,
    validate: Option<String>,
    newline_sequence: Option<String>,
    #[serde(default = "yes")]
    trim_blocks: bool,
    #[serde(default)]
    lstrip_blocks: bool,
    output_encoding: Option<String>,
    #[serde(default)]
    mode: Value,
    owner: Option<String>,
    group: Option<String>,
    state: Option<Value>,
    #[serde(flatten)]
    delimiters: Delimiters,
}

fn yes() -> bool {
    true
}

/// The delimiter options; `None` keeps Jinja2's default.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Delimiters {
    pub variable_start_string: Option<String>,
    pub variable_end_string: Option<String>,
    pub block_start_string: Option<String>,
    pub block_end_string: Option<String>,
    pub comment_start_string: Option<String>,
    pub comment_end_string: Option<String>,
}

#[async_trait]
impl Module for Template {
    fn name(&self) -> &'static str {
        "template"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.template"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<TemplateArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: TemplateArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let rendered = match render(&args, ctx) {
            Ok(rendered) => rendered,
            Err(msg) => return Ok(remote::failed(msg)),
        };
        let mut copy_args = CopyArgs::for_dest(args.dest.clone());
        copy_args.backup = args.backup;
        copy_args.force = args.force;
        copy_args.follow = args.follow;
        copy_args.validate = args.validate.clone();
        copy_args.owner = args.owner.clone();
        copy_args.group = args.group.clone();
        // `preserve` is resolved by copy from `local_mode` (the template file's mode).
        copy_args.mode = args.mode.clone();
        let transfer = Transfer {
            dest: args.dest.clone(),
            payload: Payload::Bytes(rendered.text.into_bytes()),
            basename: Some(basename(&rendered.source)),
            local_mode: rendered.source_mode,
            after_header: rendered.source.display().to_string(),
        };
        let mut result = copy::transfer(&copy_args, transfer, ctx).await?;
        remote::mark_diff_mode(&mut result, ctx);
        Ok(result)
    }
}

/// A rendered template and where it came from.
struct Rendered {
    text: String,
    source: PathBuf,
    source_mode: Option<u32>,
}

/// Checks the options, finds and reads the template, and renders it.
fn render(args: &TemplateArgs, ctx: &ModuleContext<'_>) -> Result<Rendered, String> {
    if args.state.as_ref().is_some_and(|s| !s.is_null()) {
        return Err("'state' cannot be specified on a template".into());
    }
    let newline = newline_sequence(args.newline_sequence.as_deref())?;
    if !args.trim_blocks || args.lstrip_blocks {
        return Err(
            "trim_blocks: false and lstrip_blocks: true are not supported by hook-runner".into(),
        );
    }
    let encoding = args.output_encoding.as_deref().unwrap_or("utf-8");
    if !matches!(
        encoding.to_ascii_lowercase().as_str(),
        "utf-8" | "utf8" | ""
    ) {
        return Err(format!(
            "output_encoding {encoding} is not supported by hook-runner (only utf-8)"
        ));
    }
    let source = find_template(&args.src, ctx.scope.search_paths)?;
    let bytes = std::fs::read(&source)
        .map_err(|e| format!("could not find src={}, {e}", source.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        format!(
            "Template source files must be utf-8 encoded: {}",
            source.display()
        )
    })?;
    let (delimiters, body) = header_overrides(&text, &args.delimiters)?;
    let body = normalise_newlines(body);
    let body = rewrite_delimiters(&body, &delimiters);
    let mut vars = ctx.scope.vars.clone();
    for (key, value) in template_vars(&args.src, &source, &args.dest) {
        vars.insert(key, value);
    }
    let scope = Scope {
        vars: &vars,
        search_paths: ctx.scope.search_paths,
    };
    let rendered = ctx
        .templar
        .render_str(&body, scope)
        .map_err(|e| match e.undefined {
            Some(_) => format!("AnsibleUndefinedVariable: {}", e.message),
            None => format!("AnsibleError: {}", e.message),
        })?;
    let text = if newline == "\n" {
        rendered
    } else {
        rendered.replace('\n', newline)
    };
    Ok(Rendered {
        text,
        source_mode: file_mode(&source),
        source,
    })
}

/// `newline_sequence`, accepting the escaped spellings as Ansible does.
fn newline_sequence(given: Option<&str>) -> Result<&'static str, String> {
    match given.unwrap_or("\n") {
        "\n" | "\\n" => Ok("\n"),
        "\r" | "\\r" => Ok("\r"),
        "\r\n" | "\\r\\n" => Ok("\r\n"),
        _ => Err("newline_sequence needs to be one of: \n, \r or \r\n".into()),
    }
}

/// Jinja2 reads `\r\n` and `\r` in a template as `\n`.
fn normalise_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Finds a template as Ansible's `_find_needle('templates', src)` does.
fn find_template(src: &str, search_paths: &[PathBuf]) -> Result<PathBuf, String> {
    let path = Path::new(src);
    if path.is_absolute() {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("Could not find or access '{src}'"))
        };
    }
    let candidates: Vec<PathBuf> = search_paths
        .iter()
        .flat_map(|base| [base.join("templates").join(path), base.join(path)])
        .collect();
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Ok(found.clone());
    }
    let searched: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "Could not find or access '{src}'\nSearched in:\n\t{} on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option",
        searched.join("\n\t")
    ))
}

/// The variables Ansible adds for a template (`generate_ansible_template_vars`).
fn template_vars(src: &str, found: &Path, dest: &str) -> Vec<(String, Value)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(found).ok();
    let uid = meta.as_ref().map(|m| m.uid());
    let owner = uid
        .and_then(user_name)
        .or_else(|| uid.map(|u| u.to_string()))
        .unwrap_or_default();
    let mtime = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .map(|t| python_datetime(chrono::DateTime::<chrono::Local>::from(t)))
        .unwrap_or_default();
    let fullpath = std::fs::canonicalize(found).unwrap_or_else(|_| found.to_path_buf());
    vec![
        ("template_host".into(), Value::String(host_name())),
        ("template_path".into(), Value::String(src.into())),
        ("template_mtime".into(), Value::String(mtime)),
        ("template_uid".into(), Value::String(owner)),
        (
            "template_run_date".into(),
            Value::String(python_datetime(chrono::Local::now())),
        ),
        ("template_destpath".into(), Value::String(dest.into())),
        (
            "template_fullpath".into(),
            Value::String(fullpath.display().to_string()),
        ),
        (
            "ansible_managed".into(),
            Value::String("Ansible managed".into()),
        ),
    ]
}

/// A time as Python's `str(datetime)` prints it.
fn python_datetime(t: chrono::DateTime<chrono::Local>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// The controller's host name (`os.uname()[1]`).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The user name of a uid, from the controller's `/etc/passwd`.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id == uid.to_string()).then(|| name.to_string())
    })
}

fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

fn basename(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Applies a first-line `#jinja2:key:'value',key:value` header (Jinja2 environment overrides
/// Ansible reads from a template) on top of the task's options; returns the delimiters and the
/// template without the header line.
fn header_overrides<'a>(
    text: &'a str,
    options: &Delimiters,
) -> Result<(Delimiters, &'a str), String> {
    let mut delimiters = options.clone();
    let Some(rest) = text.strip_prefix("#jinja2:") else {
        return Ok((delimiters, text));
    };
    let (line, body) = rest.split_once('\n').unwrap_or((rest, ""));
    for item in split_header(line) {
        let Some((key, value)) = item.split_once(':') else {
            continue;
        };
        let value = unquote(value.trim());
        let slot = match key.trim() {
            "variable_start_string" => &mut delimiters.variable_start_string,
            "variable_end_string" => &mut delimiters.variable_end_string,
            "block_start_string" => &mut delimiters.block_start_string,
            "block_end_string" => &mut delimiters.block_end_string,
            "comment_start_string" => &mut delimiters.comment_start_string,
            "comment_end_string" => &mut delimiters.comment_end_string,
            "trim_blocks" if matches!(value.as_str(), "True" | "true") => continue,
            "lstrip_blocks" | "newline_sequence" | "keep_trailing_newline"
                if matches!(value.as_str(), "False" | "false" | "\\n") =>
            {
                continue
            }
            other => {
                return Err(format!(
                    "the template header's `{other}: {value}` is not supported by hook-runner"
                ))
            }
        };
        *slot = Some(value);
    }
    Ok((delimiters, body))
}

/// The header's comma-separated items, commas inside quotes kept.
fn split_header(line: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in line.trim_end_matches('\r').chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (Some(q), _) if c == q => {
                quote = None;
                current.push(c);
            }
            (None, ',') => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        items.push(current);
    }
    items
}

fn unquote(value: &str) -> String {
    for q in ['\'', '"'] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    value.to_string()
}

/// Rewrites a template written with custom delimiters into the standard ones (`{{ }}`,
/// `{% %}`, `{# #}`), so the engine's environment can render it: each tag is re-emitted with
/// the standard delimiters, and any standard delimiter text outside tags becomes a literal
/// (`{{ '{{' }}`). Without custom delimiters the text is returned unchanged.
pub fn rewrite_delimiters(text: &str, d: &Delimiters) -> String {
    let custom = [
        &d.variable_start_string,
        &d.variable_end_string,
        &d.block_start_string,
        &d.block_end_string,
        &d.comment_start_string,
        &d.comment_end_string,
    ]
    .iter()
    .any(|v| v.is_some());
    if !custom {
        return text.to_string();
    }
    let pick = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.into());
    let tags = [
        (
            pick(&d.variable_start_string, "{{"),
            pick(&d.variable_end_string, "}}"),
            "{{",
            "}}",
        ),
        (
            pick(&d.block_start_string, "{%"),
            pick(&d.block_end_string, "%}"),
            "{%",
            "%}",
        ),
        (
            pick(&d.comment_start_string, "{#"),
            pick(&d.comment_end_string, "#}"),
            "{#",
            "#}",
        ),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for (start, end, std_start, std_end) in &tags {
            if start.is_empty() || !rest.starts_with(start.as_str()) {
                continue;
            }
            let after = &rest[start.len()..];
            // A `-`/`+` right after the start is Jinja2's whitespace control: kept as is.
            let Some(close) = after.find(end.as_str()) else {
                break;
            };
            out.push_str(std_start);
            out.push_str(&after[..close]);
            out.push_str(std_end);
            rest = &after[close + end.len()..];
            continue 'scan;
        }
        let literal = ["{{", "{%", "{#"].iter().find(|s| rest.starts_with(**s));
        if let Some(std) = literal {
            out.push_str(&format!("{{{{ '{std}' }}}}"));
            rest = &rest[std.len()..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{nasty_tempdir, run_with, Options};
    use serde_json::json;

    fn setup(template: &str) -> (tempfile::TempDir, String, Options) {
        let (dir, path) = nasty_tempdir();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/t.j2"), template).unwrap();
        let mut vars = Map::new();
        vars.insert("name".into(), json!("world"));
        vars.insert("items".into(), json!([1, 2]));
        let opts = Options {
            search_paths: vec![dir.path().to_path_buf()],
            vars,
            ..Options::default()
        };
        (dir, path, opts)
    }

    fn options_like(o: &Options) -> Options {
        Options {
            search_paths: o.search_paths.clone(),
            vars: o.vars.clone(),
            ..Options::default()
        }
    }

    #[tokio::test]
    async fn renders_into_dest_then_is_unchanged() {
        let (dir, path, opts) =
            setup("Hello {{ name }}\n{% for i in items %}\n- {{ i }}\n{% endfor %}\n");
        let dest = format!("{path}/out.txt");
        let args = json!({"src": "t.j2", "dest": dest, "mode": "0640"});
        let r = run_with(&Template, args.clone(), options_like(&opts)).await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        let written = std::fs::read_to_string(dir.path().join("out.txt")).unwrap();
        // trim_blocks: the newline after a block tag goes; the trailing newline stays.
        assert_eq!(written, "Hello world\n- 1\n- 2\n");
        assert_eq!(r["mode"], json!("0640"));
        assert_eq!(r["checksum"], json!(sha1_hex(&written)));
        let r = run_with(&Template, args, opts).await;
        assert_eq!(r["changed"], json!(false), "{r:?}");
    }

    fn sha1_hex(text: &str) -> String {
        use sha1::Digest;
        hex::encode(sha1::Sha1::digest(text.as_bytes()))
    }

    #[tokio::test]
    async fn check_mode_changes_nothing() {
        let (dir, path, opts) = setup("x\n");
        let r = run_with(
            &Template,
            json!({"src": "t.j2", "dest": format!("{path}/o")}),
            Options {
                check: true,
                ..opts
            },
        )
        .await;
        assert_eq!(r["changed"], json!(true));
        assert!(!dir.path().join("o").exists());
    }

    #[tokio::test]
    async fn template_vars_and_managed_string() {
        let (dir, path, opts) = setup("{{ ansible_managed }}|{{ template_path }}|{{ template_destpath }}|{{ template_host != '' }}\n");
        let dest = format!("{path}/o");
        let r = run_with(&Template, json!({"src": "t.j2", "dest": dest}), opts).await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        let written = std::fs::read_to_string(dir.path().join("o")).unwrap();
        assert_eq!(written, format!("Ansible managed|t.j2|{dest}|True\n"));
    }

    #[tokio::test]
    async fn a_directory_dest_gets_the_template_name() {
        let (dir, path, opts) = setup("x");
        let r = run_with(
            &Template,
            json!({"src": "t.j2", "dest": format!("{path}/")}),
            opts,
        )
        .await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("t.j2")).unwrap(),
            "x"
        );
    }

    #[tokio::test]
    async fn newline_sequence_converts_line_endings() {
        let (dir, path, opts) = setup("a\r\nb\n");
        let r = run_with(
            &Template,
            json!({"src": "t.j2", "dest": format!("{path}/o"), "newline_sequence": "\\r\\n"}),
            opts,
        )
        .await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        assert_eq!(std::fs::read(dir.path().join("o")).unwrap(), b"a\r\nb\r\n");
    }

    #[tokio::test]
    async fn failures_are_worded_as_ansible() {
        let (_dir, path, opts) = setup("{{ nope }}");
        let dest = format!("{path}/o");
        let r = run_with(
            &Template,
            json!({"src": "t.j2", "dest": dest}),
            options_like(&opts),
        )
        .await;
        assert_eq!(r["failed"], json!(true));
        let msg = r["msg"].as_str().unwrap();
        assert!(msg.starts_with("AnsibleUndefinedVariable: "), "{msg}");
        assert!(msg.contains("'nope' is undefined"), "{msg}");
        let r = run_with(
            &Template,
            json!({"src": "missing.j2", "dest": dest}),
            options_like(&opts),
        )
        .await;
        assert!(r["msg"]
            .as_str()
            .unwrap()
            .starts_with("Could not find or access 'missing.j2'"));
        let r = run_with(
            &Template,
            json!({"src": "t.j2", "dest": dest, "state": "present"}),
            options_like(&opts),
        )
        .await;
        assert_eq!(r["msg"], json!("'state' cannot be specified on a template"));
        let r = run_with(
            &Template,
            json!({"src": "t.j2", "dest": dest, "newline_sequence": "x"}),
            opts,
        )
        .await;
        assert_eq!(
            r["msg"],
            json!("newline_sequence needs to be one of: \n, \r or \r\n")
        );
    }

    #[tokio::test]
    async fn header_delimiters_as_in_jinja2() {
        let (dir, path, opts) = setup(
            "#jinja2: variable_start_string:'<<', variable_end_string:'>>'\n{% macro m() %}\n\"foo\" \"bar\"\n{% endmacro %}\n<< m() >> {{ literal }} << name >>\n",
        );
        let r = run_with(
            &Template,
            json!({"src": "t.j2", "dest": format!("{path}/o")}),
            opts,
        )
        .await;
        assert_eq!(r["changed"], json!(true), "{r:?}");
        let written = std::fs::read_to_string(dir.path().join("o")).unwrap();
        assert_eq!(written, "\"foo\" \"bar\"\n {{ literal }} world\n");
    }

    #[test]
    fn delimiter_options_rewrite_to_the_standard_ones() {
        let d = Delimiters {
            variable_start_string: Some("[[".into()),
            variable_end_string: Some("]]".into()),
            ..Delimiters::default()
        };
        assert_eq!(
            rewrite_delimiters("a [[ x ]] {{ y }} {% if z %}", &d),
            "a {{ x }} {{ '{{' }} y }} {% if z %}"
        );
        assert_eq!(
            rewrite_delimiters("{{ x }}", &Delimiters::default()),
            "{{ x }}"
        );
    }
}
