//! `ansible.builtin.uri`: one HTTP(S) request, its answer as a result.
//!
//! Semantics (ansible-core 2.18 `uri` + `module_utils/urls.py`):
//! - Runs on the task's host, as Ansible's module does: on a `local` connection (the hook pod)
//!   the request is made in-process by [`crate::http`] (no `curl` needed in the image); on an SSH
//!   target it is made by the target's `curl`, or GNU `wget` when there is no curl, in one `sh`
//!   round trip (a second one writes `dest`). Without either: "neither curl nor wget ...".
//! - `body_format: json` sends `json.dumps(body)` (a string body as is) with
//!   `Content-Type: application/json`; `form-urlencoded` encodes a dict or list of pairs;
//!   `raw` sends the body as is. A user `Content-Type` header wins. `src` sends a file (from the
//!   controller, or from the target with `remote_src`).
//! - `status_code` lists the accepted codes (default `[200]`). Otherwise the task fails with
//!   `Status code was 404 and not [200]: HTTP Error 404: Not Found` (`-1` and the connection
//!   error when there was no answer).
//! - The result has Ansible's keys: `status`, `url` (the last one), `redirected`, `msg`
//!   (`OK (N bytes)`), every response header lower-cased with `-` turned into `_`, `cookies`,
//!   `cookies_string`, `elapsed`, `changed: false`; `content` with `return_content`; `json`
//!   when the answer's type is JSON (`*/json`, `*/javascript`, `+json`) and parses; `location`
//!   made absolute.
//! - `dest` writes the body (to a temp file in the same directory, then renamed over `dest`)
//!   when the status is accepted and not 304; a directory `dest` gets the file name from
//!   `Content-Disposition` or the URL. Then `mode`/`owner`/`group`, `changed: true` (as
//!   Ansible, whatever was there), `path` and the file's attributes. With an existing `dest`,
//!   `If-Modified-Since` is sent (a 304 is then an answer like any other).
//! - `creates`/`removes` skip the request (`stdout: "skipped, since 'X' exists"`).
//! - Check mode: the module does not support it (Ansible skips the task).
//! - Proxies: `http_proxy`/`https_proxy`/`no_proxy` from the task's `environment` and the
//!   process; `use_proxy: false` ignores them.
//!
//! Not supported (a warning names them when set): `body_format: form-multipart` (fails),
//! `unix_socket`, `use_gssapi`, `ciphers`, `decompress: false` (nothing asks for gzip),
//! SELinux and `attributes` file arguments. Over `curl` a 307/308 after PUT with
//! `follow_redirects: all` keeps curl's rules, and `safe` refuses redirects of other methods.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, with_file_common, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::http::{self, Redirects};
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Uri;

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        Param {
            required: true,
            ..Param::new("url", Kind::Str)
        },
        Param::new("dest", Kind::Path),
        Param {
            aliases: &["user"],
            ..Param::new("url_username", Kind::Str)
        },
        Param {
            aliases: &["password"],
            no_log: true,
            ..Param::new("url_password", Kind::Str)
        },
        Param::new("body", Kind::Raw),
        Param {
            default: Some("raw"),
            choices: &["form-urlencoded", "json", "raw", "form-multipart"],
            ..Param::new("body_format", Kind::Str)
        },
        Param::new("src", Kind::Path),
        Param {
            default: Some("GET"),
            ..Param::new("method", Kind::Str)
        },
        Param {
            default: Some("false"),
            ..Param::new("return_content", Kind::Bool)
        },
        Param {
            default: Some("safe"),
            choices: &["all", "no", "none", "safe", "urllib2", "yes"],
            ..Param::new("follow_redirects", Kind::Str)
        },
        Param::new("creates", Kind::Path),
        Param::new("removes", Kind::Path),
        Param {
            default: Some("200"),
            ..Param::new("status_code", Kind::List)
        },
        Param {
            default: Some("30"),
            ..Param::new("timeout", Kind::Int)
        },
        Param {
            default: Some("{}"),
            ..Param::new("headers", Kind::Dict)
        },
        Param::new("unix_socket", Kind::Path),
        Param {
            default: Some("false"),
            ..Param::new("remote_src", Kind::Bool)
        },
        Param::new("ca_path", Kind::Path),
        Param {
            default: Some("[]"),
            ..Param::new("unredirected_headers", Kind::List)
        },
        Param {
            default: Some("true"),
            ..Param::new("decompress", Kind::Bool)
        },
        Param::new("ciphers", Kind::List),
        Param {
            default: Some("true"),
            ..Param::new("use_netrc", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("force", Kind::Bool)
        },
        Param {
            default: Some("ansible-httpget"),
            ..Param::new("http_agent", Kind::Str)
        },
        Param {
            default: Some("true"),
            ..Param::new("use_proxy", Kind::Bool)
        },
        Param {
            default: Some("true"),
            ..Param::new("validate_certs", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("force_basic_auth", Kind::Bool)
        },
        Param::new("client_cert", Kind::Path),
        Param::new("client_key", Kind::Path),
        Param {
            default: Some("false"),
            ..Param::new("use_gssapi", Kind::Bool)
        },
    ],
    free_form: false,
    mutually_exclusive: &[&["body", "src"]],
    required_one_of: &[],
};

/// The connection options `uri`, `get_url` and the `url` lookup share (`url_argument_spec`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct HttpArgs {
    pub url: String,
    #[serde(default)]
    pub url_username: Option<String>,
    #[serde(default)]
    pub url_password: Option<String>,
    #[serde(default)]
    pub force_basic_auth: bool,
    #[serde(default = "yes")]
    pub validate_certs: bool,
    #[serde(default = "yes")]
    pub use_proxy: bool,
    #[serde(default = "yes")]
    pub use_netrc: bool,
    #[serde(default)]
    pub ca_path: Option<String>,
    #[serde(default)]
    pub client_cert: Option<String>,
    #[serde(default)]
    pub client_key: Option<String>,
    #[serde(default = "agent")]
    pub http_agent: String,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub unredirected_headers: Vec<String>,
    #[serde(default)]
    pub unix_socket: Option<String>,
    #[serde(default)]
    pub use_gssapi: bool,
    #[serde(default)]
    pub ciphers: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub decompress: bool,
}

fn yes() -> bool {
    true
}
fn agent() -> String {
    http::USER_AGENT.into()
}

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
struct UriArgs {
    #[serde(flatten)]
    http: HttpArgs,
    dest: Option<String>,
    body: Option<Value>,
    body_format: String,
    src: Option<String>,
    method: String,
    return_content: bool,
    follow_redirects: String,
    creates: Option<String>,
    removes: Option<String>,
    status_code: Vec<Value>,
    timeout: i64,
    headers: Map,
    remote_src: bool,
    mode: Option<Value>,
    owner: Option<String>,
    group: Option<String>,
    attributes: Option<String>,
    seuser: Option<String>,
    serole: Option<String>,
    setype: Option<String>,
    selevel: Option<String>,
}

#[async_trait]
impl Module for Uri {
    fn name(&self) -> &'static str {
        "uri"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.uri"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<UriArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: UriArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failed) => return Ok(failed),
        };
        if ctx.check_mode {
            let mut result = Map::new();
            result.insert("skipped".into(), Value::Bool(true));
            result.insert("changed".into(), Value::Bool(false));
            result.insert(
                "msg".into(),
                Value::String(
                    "remote module (ansible.legacy.uri) does not support check mode".into(),
                ),
            );
            return Ok(result);
        }
        let plan = match Plan::new(&args, ctx) {
            Ok(plan) => plan,
            Err(result) => return Ok(result),
        };
        let started = Instant::now();
        let fetched = if is_local(ctx) {
            match local_skip(&args) {
                Some(result) => return Ok(result),
                None => fetch_local(&plan, &args, &ctx.env).await,
            }
        } else {
            match fetch_remote(&plan, &args, ctx).await? {
                RemoteOutcome::Skipped(result) => return Ok(result),
                RemoteOutcome::Fetched(fetched) => fetched,
            }
        };
        let mut result = build_result(&args, &plan, &fetched, started.elapsed());
        if let Some(dest) = fetched.dest_to_write(&plan) {
            match write_dest(ctx, &args, &fetched, &dest).await? {
                Ok(records) => {
                    result.insert("changed".into(), Value::Bool(true));
                    result.insert("path".into(), Value::String(dest));
                    remote::add_path_info(&mut result, &records);
                }
                Err(mut failure) => {
                    failure.insert("url".into(), Value::String(args.http.url.clone()));
                    return Ok(failure);
                }
            }
        } else if let (Some(dest), Some(_)) = (&fetched.dest_path, &fetched.answer) {
            result.insert("path".into(), Value::String(dest.clone()));
        }
        add_ignored_warnings(&mut result, &plan.ignored);
        mask_secret(&mut result, args.http.url_password.as_deref());
        Ok(result)
    }
}

/// Ansible's no_log masking of the result: every occurrence of the password (in a URL that
/// carries it, in an echoed answer) becomes `********`.
pub(crate) fn mask_secret(result: &mut Map, secret: Option<&str>) {
    fn walk(value: &mut Value, secret: &str) {
        match value {
            Value::String(text) if text.contains(secret) => {
                *text = text.replace(secret, "********");
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, secret)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, secret)),
            _ => {}
        }
    }
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        result.values_mut().for_each(|v| walk(v, secret));
    }
}

/// Whether the task's host is this machine (Ansible's `local` connection).
pub(crate) fn is_local(ctx: &ModuleContext<'_>) -> bool {
    ctx.conn.transport() == "local"
}

/// What the request will be, worked out from the arguments before anything is sent.
struct Plan {
    method: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// `src` with `remote_src`: the body is a file on the target.
    remote_body: Option<String>,
    codes: Vec<i64>,
    redirects: Redirects,
    timeout: Duration,
    ignored: Vec<&'static str>,
}

impl Plan {
    fn new(args: &UriArgs, ctx: &ModuleContext<'_>) -> Result<Plan, Map> {
        let method = args.method.to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(remote::failed(
                "Parameter 'method' needs to be a single word in uppercase, like GET or POST.",
            ));
        }
        let mut codes = Vec::new();
        for code in &args.status_code {
            match code
                .as_i64()
                .or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()))
            {
                Some(c) => codes.push(c),
                None => {
                    return Err(remote::failed(format!(
                        "Elements value for option 'status_code' is of type {} and we were unable to convert to int: {}",
                        crate::py::class_name(code),
                        crate::py::str(code)
                    )))
                }
            }
        }
        let mut headers: Vec<(String, String)> = args
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), crate::py::str(v)))
            .collect();
        let has_type = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let format = args.body_format.to_ascii_lowercase();
        let mut body = match (&args.body, format.as_str()) {
            (None | Some(Value::Null), _) => None,
            (Some(Value::String(text)), _) => Some(text.clone().into_bytes()),
            (Some(value), "json") => {
                Some(crate::py::json_dumps(value, None, false, true).into_bytes())
            }
            (Some(value), "form-urlencoded") => Some(
                form_urlencoded(value)
                    .map_err(|e| {
                        remote::failed(format!("failed to parse body as form_urlencoded: {e}"))
                    })?
                    .into_bytes(),
            ),
            (Some(value), _) => Some(crate::py::str(value).into_bytes()),
        };
        match format.as_str() {
            "json" if !has_type => headers.push(("Content-Type".into(), "application/json".into())),
            "form-urlencoded" if !has_type => headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )),
            "form-multipart" => {
                return Err(remote::failed(
                    "body_format 'form-multipart' is not supported by hook-runner's uri",
                ))
            }
            _ => {}
        }
        let mut remote_body = None;
        if let Some(src) = &args.src {
            if args.remote_src {
                remote_body = Some(src.clone());
            } else {
                let found = super::copy::find_source(src, ctx.scope.search_paths);
                match found.and_then(|p| std::fs::read(p).ok()) {
                    Some(bytes) => body = Some(bytes),
                    None => {
                        let mut result =
                            remote::failed(format!("Unable to open source file {src}"));
                        result.insert("elapsed".into(), Value::from(0));
                        return Err(result);
                    }
                }
            }
        }
        let redirects = Redirects::parse(&args.follow_redirects).unwrap_or(Redirects::Safe);
        Ok(Plan {
            method,
            headers,
            body,
            remote_body,
            codes,
            redirects,
            timeout: Duration::from_secs(args.timeout.max(1) as u64),
            ignored: ignored_options(
                &args.http,
                is_local(ctx),
                args.attributes.is_some()
                    || args.seuser.is_some()
                    || args.serole.is_some()
                    || args.setype.is_some()
                    || args.selevel.is_some(),
            ),
        })
    }
}

/// Options that are accepted but have no effect here: Ansible warns about nothing, so a
/// warning says they were ignored.
pub(crate) fn ignored_options(
    http: &HttpArgs,
    local: bool,
    file_extras: bool,
) -> Vec<&'static str> {
    let mut ignored = Vec::new();
    // curl and wget send every header on every hop (curl drops Authorization on another host).
    if !local && !http.unredirected_headers.is_empty() {
        ignored.push("unredirected_headers");
    }
    if http.unix_socket.is_some() {
        ignored.push("unix_socket");
    }
    if http.use_gssapi {
        ignored.push("use_gssapi");
    }
    if http.ciphers.is_some() {
        ignored.push("ciphers");
    }
    if !http.decompress {
        ignored.push("decompress");
    }
    if file_extras {
        ignored.push("attributes/seuser/serole/setype/selevel");
    }
    ignored
}

pub(crate) fn add_ignored_warnings(result: &mut Map, ignored: &[&str]) {
    if ignored.is_empty() {
        return;
    }
    let list = result
        .entry("warnings")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = list {
        for name in ignored {
            list.push(Value::String(format!(
                "hook-runner ignores the '{name}' option of this module"
            )));
        }
    }
}

/// Python's `urlencode(..., doseq=True)` of a dict or list of pairs (lists repeat the key,
/// `None` values are dropped).
fn form_urlencoded(body: &Value) -> Result<String, String> {
    let pairs: Vec<(String, Value)> = match body {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Array(pair) if pair.len() == 2 => {
                    Ok((crate::py::str(&pair[0]), pair[1].clone()))
                }
                _ => Err("cannot form-urlencode body, expect list or dict".to_string()),
            })
            .collect::<Result<_, _>>()?,
        other => return Ok(crate::py::str(other)),
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        let values = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for value in values.iter().filter(|v| !v.is_null()) {
            out.append_pair(&key, &crate::py::str(value));
        }
    }
    Ok(out.finish())
}

/// A `path` parameter on this machine: `~` and `~/...` expanded from `$HOME`, as Python's
/// `expanduser` does for the current user.
pub(crate) fn local_path(path: &str) -> String {
    match (path.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    }
}

/// `creates`/`removes` on this machine.
fn local_skip(args: &UriArgs) -> Option<Map> {
    let expand = |p: &str| local_path(p);
    if let Some(creates) = &args.creates {
        if Path::new(&expand(creates)).exists() {
            return Some(skipped(format!("skipped, since '{creates}' exists")));
        }
    }
    if let Some(removes) = &args.removes {
        if !Path::new(&expand(removes)).exists() {
            return Some(skipped(format!(
                "skipped, since '{removes}' does not exist"
            )));
        }
    }
    None
}

fn skipped(stdout: String) -> Map {
    let mut result = Map::new();
    result.insert("stdout".into(), Value::String(stdout));
    result.insert("changed".into(), Value::Bool(false));
    result
}

/// The answer of a request, wherever it was made.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    /// `None` when there was no answer (`msg` says why).
    pub answer: Option<Answer>,
    pub msg: String,
    /// `dest` was a directory (before the request).
    pub dest_is_dir: bool,
    /// Where the body waits on the target (remote requests with `dest`).
    pub remote_tmp: Option<String>,
    /// The file the body goes to (in the directory `dest` when it is one).
    pub dest_path: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub status: u16,
    pub reason: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub cookies: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A 2xx that is not a refused redirect.
    pub success: bool,
}

impl Answer {
    /// Ansible's `info['msg']` for this answer.
    pub fn msg(&self) -> String {
        if self.success {
            format!(
                "OK ({} bytes)",
                self.headers
                    .get("content-length")
                    .cloned()
                    .unwrap_or_else(|| "unknown".into())
            )
        } else {
            format!("HTTP Error {}: {}", self.status, self.reason)
        }
    }
}

impl Fetched {
    fn failure(msg: String) -> Fetched {
        Fetched {
            msg,
            ..Fetched::default()
        }
    }

    /// The file `dest` names when the answer is to be written there.
    fn dest_to_write(&self, plan: &Plan) -> Option<String> {
        let status = i64::from(self.answer.as_ref()?.status);
        if !plan.codes.contains(&status) || status == 304 {
            return None;
        }
        self.dest_path.clone()
    }
}

/// Makes the request in-process.
async fn fetch_local(plan: &Plan, args: &UriArgs, env: &[(String, String)]) -> Fetched {
    let mut request = http_request(&args.http, plan.timeout);
    request.env = env.to_vec();
    request.method = plan.method.clone();
    request.headers = plan.headers.clone();
    request.body = plan.body.clone();
    request.redirects = plan.redirects;
    let dest = args.dest.as_deref().map(local_path);
    let dest_is_dir = dest.as_deref().is_some_and(|d| Path::new(d).is_dir());
    if let Some(dest) = dest.as_deref().filter(|_| !dest_is_dir) {
        request.last_modified = std::fs::metadata(dest).and_then(|m| m.modified()).ok();
    }
    let mut fetched = match http::send(&request).await {
        Err(failure) => Fetched::failure(failure.msg),
        Ok(mut response) => match response.bytes().await {
            Err(failure) => Fetched::failure(failure.msg),
            Ok(body) => Fetched {
                msg: String::new(),
                answer: Some(Answer {
                    status: response.status,
                    reason: response
                        .redirect_refused
                        .clone()
                        .unwrap_or_else(|| response.reason.clone()),
                    success: response.is_success(),
                    url: response.url.clone(),
                    headers: response.header_map(),
                    cookies: response.cookies.clone(),
                    body,
                }),
                ..Fetched::default()
            },
        },
    };
    fetched.dest_is_dir = dest_is_dir;
    fetched.dest_path = dest.map(|d| final_dest(&d, dest_is_dir, fetched.answer.as_ref()));
    fetched
}

/// The client request for the shared connection options.
pub(crate) fn http_request(args: &HttpArgs, timeout: Duration) -> http::Request {
    let mut request = http::Request::get(&args.url);
    request.timeout = timeout;
    request.username = args.url_username.clone();
    request.password = args.url_password.clone();
    request.force_basic_auth = args.force_basic_auth;
    request.use_netrc = args.use_netrc;
    request.validate_certs = args.validate_certs;
    request.ca_path = args.ca_path.as_deref().map(|p| local_path(p).into());
    request.client_cert = args.client_cert.as_deref().map(|p| local_path(p).into());
    request.client_key = args.client_key.as_deref().map(|p| local_path(p).into());
    request.use_proxy = args.use_proxy;
    request.http_agent = args.http_agent.clone();
    request.force = args.force;
    request.unredirected_headers = args.unredirected_headers.clone();
    request
}

/// `dest`, or the file in the directory `dest` that the answer names.
fn final_dest(dest: &str, is_dir: bool, answer: Option<&Answer>) -> String {
    if !is_dir {
        return dest.to_string();
    }
    let name = answer
        .and_then(|a| {
            a.headers
                .get("content-disposition")
                .and_then(|d| disposition_filename(d))
        })
        .or_else(|| answer.and_then(|a| url_filename(&a.url)))
        .unwrap_or_else(|| "index.html".into());
    format!("{}/{}", dest.trim_end_matches('/'), name)
}

/// The `filename` parameter of a `Content-Disposition` header, without any directory.
pub(crate) fn disposition_filename(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let at = lower.find("filename=")?;
    let rest = value[at + "filename=".len()..].trim_start_matches('"');
    let name: String = rest
        .chars()
        .take_while(|c| *c != '"' && *c != ';')
        .collect();
    let base = name.rsplit('/').next().unwrap_or("").trim().to_string();
    (!base.is_empty()).then_some(base)
}

/// The last path segment of a URL (percent-decoded), when there is one.
pub(crate) fn url_filename(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let last = parsed.path_segments()?.next_back()?.to_string();
    let decoded = percent_encoding::percent_decode_str(&last)
        .decode_utf8_lossy()
        .into_owned();
    (!decoded.is_empty()).then_some(decoded)
}

enum RemoteOutcome {
    Skipped(Map),
    Fetched(Fetched),
}

/// Makes the request with the target's curl or wget, in one script.
async fn fetch_remote(
    plan: &Plan,
    args: &UriArgs,
    ctx: &ModuleContext<'_>,
) -> Result<RemoteOutcome, ConnError> {
    let codes: Vec<String> = plan.codes.iter().map(i64::to_string).collect();
    let mut s = String::new();
    s.push_str(&format!(
        "CREATES={}\nREMOVES={}\nDEST={}\nCODES={}\nRETURN={}\n",
        args.creates.as_deref().map(path_word).unwrap_or_default(),
        args.removes.as_deref().map(path_word).unwrap_or_default(),
        args.dest.as_deref().map(path_word).unwrap_or_default(),
        quote(&codes.join(" ")),
        u8::from(args.return_content),
    ));
    s.push_str(&fetch_vars(&FetchVars {
        http: &args.http,
        method: &plan.method,
        headers: &plan.headers,
        has_body: plan.body.is_some(),
        body_file: plan.remote_body.as_deref(),
        redirects: plan.redirects,
        timeout: plan.timeout,
    }));
    s.push_str(FETCH_SH);
    s.push_str(URI_SH);
    let records = match remote::run_script(ctx, &s, plan.body.clone()).await? {
        Ok(records) => records,
        Err(result) => return Ok(RemoteOutcome::Skipped(result)),
    };
    if let Some(failure) = records.failure() {
        return Ok(RemoteOutcome::Skipped(failure));
    }
    if let Some(which) = records.get("skip") {
        let path = if which == "creates" {
            args.creates.as_deref().unwrap_or("")
        } else {
            args.removes.as_deref().unwrap_or("")
        };
        let text = if which == "creates" {
            format!("skipped, since '{path}' exists")
        } else {
            format!("skipped, since '{path}' does not exist")
        };
        return Ok(RemoteOutcome::Skipped(skipped(text)));
    }
    let mut fetched = parse_fetch(&records);
    fetched.dest_is_dir = records.get("dest_dir") == Some("1");
    fetched.remote_tmp = records.get("tmp").map(str::to_string);
    if let Some(dest) = records.get("dest") {
        fetched.dest_path = Some(final_dest(
            dest,
            fetched.dest_is_dir,
            fetched.answer.as_ref(),
        ));
    }
    Ok(RemoteOutcome::Fetched(fetched))
}

/// The request's shell variables for [`FETCH_SH`].
pub(crate) struct FetchVars<'a> {
    pub http: &'a HttpArgs,
    pub method: &'a str,
    pub headers: &'a [(String, String)],
    /// The body comes on stdin.
    pub has_body: bool,
    /// The body is this file on the target.
    pub body_file: Option<&'a str>,
    pub redirects: Redirects,
    pub timeout: Duration,
}

pub(crate) fn fetch_vars(v: &FetchVars<'_>) -> String {
    let follow = match v.redirects {
        Redirects::None => "0",
        Redirects::Safe if !matches!(v.method, "GET" | "HEAD") => "0",
        _ => "1",
    };
    // urllib always sends `Connection: close`; servers answer it (and say so) the same way.
    let mut lines: Vec<String> = vec!["Connection: close".into()];
    if !v.http.http_agent.is_empty()
        && !v
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
    {
        lines.push(format!("User-Agent: {}", v.http.http_agent));
    }
    if v.http.force {
        lines.push("cache-control: no-cache".into());
    }
    for (name, value) in v.headers {
        lines.push(format!("{name}: {value}"));
    }
    let escape = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    let mut curl_config = format!("url = \"{}\"\n", escape(&v.http.url));
    if let Some(user) = v.http.url_username.as_deref().filter(|u| !u.is_empty()) {
        let pass = v.http.url_password.as_deref().unwrap_or("");
        curl_config.push_str(&format!(
            "user = \"{}\"\n",
            escape(&format!("{user}:{pass}"))
        ));
    }
    let mut headers = format!(
        "CURLCFG={}\nNHEADERS={}\n",
        quote(&curl_config),
        lines.len()
    );
    for (i, line) in lines.iter().enumerate() {
        headers.push_str(&format!("H{}={}\n", i + 1, quote(line)));
    }
    format!(
        "URL={}\nMETHOD={}\nFOLLOW={follow}\nTIMEOUT={}\nVALIDATE={}\nCA={}\nCERT={}\nKEY={}\nHUSER={}\nHPASS={}\nFORCEAUTH={}\nUSEPROXY={}\nUSENETRC={}\nHASBODY={}\nBODYFILE={}\nFORCE={}\n{headers}",
        quote(&v.http.url),
        quote(v.method),
        v.timeout.as_secs(),
        u8::from(v.http.validate_certs),
        v.http.ca_path.as_deref().map(path_word).unwrap_or_default(),
        v.http.client_cert.as_deref().map(path_word).unwrap_or_default(),
        v.http.client_key.as_deref().map(path_word).unwrap_or_default(),
        quote(v.http.url_username.as_deref().unwrap_or("")),
        quote(v.http.url_password.as_deref().unwrap_or("")),
        u8::from(v.http.force_basic_auth),
        u8::from(v.http.use_proxy),
        u8::from(v.http.use_netrc),
        u8::from(v.has_body),
        v.body_file.map(path_word).unwrap_or_default(),
        u8::from(v.http.force),
    )
}

/// `fetch OUT WD [IMS_FILE]`: makes the request described by the variables of [`fetch_vars`],
/// the body into OUT; WD is an empty private directory for the heads of every answer and the
/// client's credentials; `If-Modified-Since` from IMS_FILE's time when given. Emits `h_tool`,
/// `h_rc`, `h_err`, `h_heads`, `h_url`, and sets `_w` to the status (and, for curl, the URL).
/// curl first, then GNU wget; without either the module fails with one clear message.
/// Files are read with `read` (no `cat`), credentials written with `printf` (builtins).
pub(crate) const FETCH_SH: &str = r#"slurp() {
  _sl=
  while IFS= read -r _l || [ -n "$_l" ]; do
    _sl="$_sl$_l
"
    case $_l in '  HTTP/'*) _c=${_l#*HTTP/* }; _wc=${_c%% *} ;; esac
  done <"$1"
}
fetch() {
  _out=$1 _wd=$2 _ims=$3
  if command -v curl >/dev/null 2>&1; then
    emit h_tool curl
    printf '%s' "$CURLCFG" >"$_wd/k"
    set -- -sS -K "$_wd/k" -o "$_out" -D "$_wd/h" -w '%{http_code} %{url_effective}' --connect-timeout "$TIMEOUT" --speed-limit 1 --speed-time "$TIMEOUT"
    [ "$FOLLOW" = 1 ] && set -- "$@" -L --max-redirs 10
    case $METHOD in
      GET) ;;
      HEAD) set -- "$@" -I ;;
      POST) [ "$HASBODY" = 1 ] || [ -n "$BODYFILE" ] || set -- "$@" -X POST ;;
      *) set -- "$@" -X "$METHOD" ;;
    esac
    [ "$VALIDATE" = 1 ] || set -- "$@" -k
    [ -n "$CA" ] && set -- "$@" --cacert "$CA"
    [ -n "$CERT" ] && set -- "$@" --cert "$CERT"
    [ -n "$KEY" ] && set -- "$@" --key "$KEY"
    if [ -n "$HUSER" ]; then
      if [ "$FORCEAUTH" = 1 ]; then set -- "$@" --basic; else set -- "$@" --anyauth; fi
    fi
    [ "$USEPROXY" = 1 ] || set -- "$@" --noproxy '*'
    [ "$USENETRC" = 1 ] && [ -z "$HUSER" ] && set -- "$@" --netrc-optional
    [ "$HASBODY" = 1 ] && set -- "$@" --data-binary @-
    [ -n "$BODYFILE" ] && set -- "$@" --data-binary "@$BODYFILE"
    [ -n "$_ims" ] && [ "$FORCE" != 1 ] && set -- "$@" -z "$_ims"
    _i=0
    while [ $_i -lt $NHEADERS ]; do
      _i=$((_i + 1))
      eval "set -- \"\$@\" -H \"\$H$_i\""
    done
    _w=$(curl "$@" 2>"$_wd/e")
    _rc=$?
    # -I writes the head where the body goes: a HEAD answer has no body.
    [ "$METHOD" = HEAD ] && : >"$_out"
    emit h_rc $_rc
    slurp "$_wd/e"; emit h_err "$_sl"
    [ -f "$_wd/h" ] && { slurp "$_wd/h"; emit h_heads "$_sl"; }
    emit h_url "${_w#* }"
  elif wget --version >/dev/null 2>&1; then
    emit h_tool wget
    set -- -nv -S -O "$_out" --timeout="$TIMEOUT" --content-on-error --tries=1
    if [ "$FOLLOW" = 1 ]; then set -- "$@" --max-redirect=10; else set -- "$@" --max-redirect=0; fi
    [ "$METHOD" = GET ] || set -- "$@" --method="$METHOD"
    [ "$VALIDATE" = 1 ] || set -- "$@" --no-check-certificate
    [ -n "$CA" ] && set -- "$@" --ca-certificate="$CA"
    [ -n "$CERT" ] && set -- "$@" --certificate="$CERT"
    [ -n "$KEY" ] && set -- "$@" --private-key="$KEY"
    # Credentials in a wgetrc of its own, never on a command line other users can read.
    : >"$_wd/k"
    if [ -n "$HUSER" ]; then
      printf 'user = %s\npassword = %s\n' "$HUSER" "$HPASS" >"$_wd/k"
      [ "$FORCEAUTH" = 1 ] && set -- "$@" --auth-no-challenge
    fi
    [ "$USEPROXY" = 1 ] || set -- "$@" --no-proxy
    if [ "$HASBODY" = 1 ]; then
      cat >"$_wd/b"
      set -- "$@" --body-file="$_wd/b"
    fi
    [ -n "$BODYFILE" ] && set -- "$@" --body-file="$BODYFILE"
    _i=0
    while [ $_i -lt $NHEADERS ]; do
      _i=$((_i + 1))
      eval "set -- \"\$@\" --header=\"\$H$_i\""
    done
    if [ -n "$_ims" ] && [ "$FORCE" != 1 ]; then
      set -- "$@" --header="If-Modified-Since: $(LC_ALL=C date -u -r "$_ims" '+%a, %d %b %Y %H:%M:%S GMT')"
    fi
    WGETRC=$_wd/k wget "$@" -- "$URL" 2>"$_wd/h"
    _rc=$?
    _wc=
    slurp "$_wd/h"
    _w=$_wc
    emit h_rc $_rc
    emit h_heads "$_sl"
    emit h_url ""
    emit h_req "$URL"
  else
    die "hook-runner needs curl or wget on the target for HTTP requests: neither curl nor wget was found in PATH"
  fi
}
"#;

/// The `uri` script: `creates`/`removes`, then the request, the body kept for `dest` when the
/// status is accepted, and sent back when Ansible would read it.
const URI_SH: &str = r#"if [ -n "$CREATES" ] && [ -e "$CREATES" ]; then emit skip creates; exit 0; fi
if [ -n "$REMOVES" ] && [ ! -e "$REMOVES" ]; then emit skip removes; exit 0; fi
_ims=
_wd=$(mktemp -d) || die "cannot create a temporary directory"
if [ -n "$DEST" ]; then
  emit dest "$DEST"
  if [ -d "$DEST" ]; then emit dest_dir 1; _dir=$DEST
  else dir_of "$DEST"; _dir=$_dn; [ -f "$DEST" ] && _ims=$DEST; fi
  [ -d "$_dir" ] || _dir=$_wd
  _body=$(mktemp "$_dir/.hr-uri.XXXXXX") || die "Failed to create temporary content file: cannot create a file in $_dir"
else
  _body=$_wd/o
fi
fetch "$_body" "$_wd" "$_ims"
_code=${_w%% *}
_keep=0
case " $CODES " in *" $_code "*) [ "$_code" = 304 ] || _keep=1 ;; esac
if [ -n "$DEST" ] && [ $_keep = 1 ]; then emit tmp "$_body"; fi
[ -f "$_body" ] && emit h_body "$(base64 <"$_body")"
if [ -n "$DEST" ] && [ $_keep != 1 ]; then rm -rf -- "$_body" "$_wd"; else rm -rf -- "$_wd"; fi
"#;

/// Turns the records of [`FETCH_SH`] into an answer or a failure message.
pub(crate) fn parse_fetch(records: &Records) -> Fetched {
    let tool = records.get("h_tool").unwrap_or("curl");
    let rc: i32 = records
        .get("h_rc")
        .and_then(|r| r.parse().ok())
        .unwrap_or(-1);
    let heads = records.get("h_heads").unwrap_or("");
    let blocks = header_blocks(heads, tool == "wget");
    let body = records
        .get("h_body")
        .and_then(|b| {
            let packed: String = b.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(packed)
                .ok()
        })
        .unwrap_or_default();
    let err = match tool {
        // wget writes its messages among the heads: the lines that are not indented.
        "wget" => {
            let lines: Vec<&str> = heads.lines().filter(|l| !l.starts_with("  ")).collect();
            lines[lines.len().saturating_sub(3)..].join("\n")
        }
        _ => records.get("h_err").unwrap_or("").to_string(),
    };
    let Some(last) = blocks.last() else {
        return Fetched::failure(transport_failure(tool, rc, &err));
    };
    // curl exits 0 on any answer, wget 0 or 8 (an error status); anything else after the
    // head (a timeout, a reset) is still a failure.
    let answered = if tool == "wget" {
        rc == 0 || rc == 8
    } else {
        rc == 0 || rc == 22
    };
    if !answered {
        return Fetched::failure(transport_failure(tool, rc, &err));
    }
    let mut cookies: Vec<(String, String)> = Vec::new();
    for block in &blocks {
        for (name, value) in &block.headers {
            if name == "set-cookie" {
                if let Some((k, v)) = value.split(';').next().unwrap_or("").split_once('=') {
                    cookies.retain(|(e, _)| e != k.trim());
                    cookies.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
        }
    }
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &last.headers {
        headers
            .entry(name.clone())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    let url = match records.get("h_url").filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => {
            // wget: the URL after following the Location headers of the answers.
            let mut current = url::Url::parse(records.get("h_req").unwrap_or("")).ok();
            for block in &blocks[..blocks.len() - 1] {
                if let (Some(base), Some((_, loc))) = (
                    &current,
                    block.headers.iter().find(|(n, _)| n == "location"),
                ) {
                    current = base.join(loc).ok();
                }
            }
            current.map(|u| u.to_string()).unwrap_or_default()
        }
    };
    let redirect_refused = matches!(last.status, 301 | 302 | 303 | 307 | 308);
    let reason = if last.reason.is_empty() {
        ::http::StatusCode::from_u16(last.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_string()
    } else {
        last.reason.clone()
    };
    Fetched {
        answer: Some(Answer {
            status: last.status,
            reason,
            success: (200..300).contains(&last.status) && !redirect_refused,
            url,
            headers,
            cookies,
            body,
        }),
        ..Fetched::default()
    }
}

struct HeadBlock {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
}

/// The answers' heads as curl's `-D` (or wget's `-S`, indented) writes them.
fn header_blocks(text: &str, indented: bool) -> Vec<HeadBlock> {
    let mut blocks: Vec<HeadBlock> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        let line = if indented { line.trim_start() } else { line };
        if line.starts_with("HTTP/") {
            let mut parts = line.splitn(3, ' ');
            let _ = parts.next();
            let status = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
            let reason = parts.next().unwrap_or("").trim().to_string();
            blocks.push(HeadBlock {
                status,
                reason,
                headers: Vec::new(),
            });
        } else if let (Some(block), Some((name, value))) = (blocks.last_mut(), line.split_once(':'))
        {
            if !name.is_empty() && !name.contains(' ') {
                block
                    .headers
                    .push((name.to_ascii_lowercase(), value.trim().to_string()));
            }
        }
    }
    // curl's 100-continue and the 401 of an auth probe are not the answer.
    blocks.retain(|b| b.status >= 200 || b.status == 0);
    blocks
}

/// Ansible's message for a request that got no answer, from curl's or wget's exit code.
fn transport_failure(tool: &str, rc: i32, err: &str) -> String {
    let err = err.trim();
    if tool == "wget" {
        return if err.contains("Connection refused") {
            "Request failed: <urlopen error [Errno 111] Connection refused>".into()
        } else if err.contains("No route to host") {
            "Request failed: <urlopen error [Errno 113] No route to host>".into()
        } else if err.contains("timed out") || err.contains("Read error") {
            "Connection failure: timed out".into()
        } else if rc == 5 {
            format!("Request failed: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {err}>")
        } else {
            format!("Request failed: <urlopen error wget exited with {rc}: {err}>")
        };
    }
    match rc {
        6 => "Request failed: <urlopen error [Errno -2] Name or service not known>".into(),
        7 if err.contains("No route to host") => {
            "Request failed: <urlopen error [Errno 113] No route to host>".into()
        }
        7 if err.contains("Network is unreachable") => {
            "Request failed: <urlopen error [Errno 101] Network is unreachable>".into()
        }
        // curl says "Couldn't connect to server" (newer) or "Connection refused" (older).
        7 => "Request failed: <urlopen error [Errno 111] Connection refused>".into(),
        28 if err.contains("Connection timed out") || err.contains("Connection timeout") => {
            "Request failed: <urlopen error timed out>".into()
        }
        28 => "Connection failure: timed out".into(),
        35 | 51 | 53 | 54 | 58 | 59 | 60 | 64 | 66 | 77 | 80 | 82 | 83 | 90 | 91 => format!(
            "Request failed: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {err}>"
        ),
        52 => "Connection failure: Remote end closed connection without response".into(),
        55 | 56 => format!("Connection failure: {err}"),
        _ => format!("Request failed: <urlopen error curl exited with {rc}: {err}>"),
    }
}

/// Ansible's result from the answer (or its absence).
fn build_result(args: &UriArgs, plan: &Plan, fetched: &Fetched, elapsed: Duration) -> Map {
    let mut info = Map::new();
    info.insert("url".into(), Value::String(args.http.url.clone()));
    info.insert("status".into(), Value::from(-1));
    let mut content: Option<Vec<u8>> = None;
    let mut content_type = String::new();
    match &fetched.answer {
        None => {
            info.insert("msg".into(), Value::String(fetched.msg.clone()));
        }
        Some(answer) => {
            for (name, value) in &answer.headers {
                info.insert(name.clone(), Value::String(value.clone()));
            }
            if answer.success {
                let mut jar = Map::new();
                for (k, v) in &answer.cookies {
                    jar.insert(k.clone(), Value::String(v.clone()));
                }
                let line: Vec<String> = answer
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                info.insert("cookies_string".into(), Value::String(line.join("; ")));
                info.insert("cookies".into(), Value::Object(jar));
                info.insert("url".into(), Value::String(answer.url.clone()));
            }
            info.insert("msg".into(), Value::String(answer.msg()));
            info.insert("status".into(), Value::from(answer.status));
            content_type = answer
                .headers
                .get("content-type")
                .cloned()
                .unwrap_or_default();
            content = Some(answer.body.clone());
        }
    }
    let status = info["status"].as_i64().unwrap_or(-1);
    let (sub_type, charset) = parse_content_type(&content_type);
    let maybe_json = !content_type.is_empty() && {
        let sub = sub_type.rsplit('+').next().unwrap_or("");
        sub == "json" || sub == "javascript"
    };
    let accepted = plan.codes.contains(&status);
    let maybe_output = maybe_json || args.return_content || !accepted;
    let mut result = Map::new();
    result.insert(
        "redirected".into(),
        Value::Bool(info["url"].as_str() != Some(args.http.url.as_str())),
    );
    for (key, value) in info {
        result.insert(key.replace('-', "_").to_ascii_lowercase(), value);
    }
    result.insert("elapsed".into(), Value::from(elapsed.as_secs()));
    result.insert("changed".into(), Value::Bool(false));
    if let Some(Value::String(location)) = result.get("location") {
        if let Ok(joined) = url::Url::parse(&args.http.url).and_then(|base| base.join(location)) {
            result.insert("location".into(), Value::String(joined.to_string()));
        }
    }
    let text = content
        .filter(|_| maybe_output)
        .map(|bytes| decode(&bytes, &charset));
    if let (Some(text), true) = (&text, maybe_json) {
        if let Ok(json) = serde_json::from_str::<Value>(text) {
            result.insert("json".into(), json);
        }
    }
    // An HTTP error whose body the module did not read keeps it in `body`, as fetch_url's
    // info does.
    if let (Some(answer), false) = (&fetched.answer, maybe_output) {
        if !answer.success {
            result.insert("body".into(), Value::String(decode(&answer.body, &charset)));
        }
    }
    if !accepted {
        let codes: Vec<String> = plan.codes.iter().map(i64::to_string).collect();
        let msg = format!(
            "Status code was {status} and not [{}]: {}",
            codes.join(", "),
            result.get("msg").and_then(Value::as_str).unwrap_or("")
        );
        result.insert("msg".into(), Value::String(msg));
        result.insert("failed".into(), Value::Bool(true));
    }
    if args.return_content {
        result.insert(
            "content".into(),
            text.map(Value::String)
                .unwrap_or(Value::String(String::new())),
        );
    }
    result
}

/// The sub type (`json` of `application/json`) and charset (default utf-8) of a Content-Type.
fn parse_content_type(value: &str) -> (String, String) {
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let sub = mime
        .split_once('/')
        .map(|(_, s)| s.to_string())
        .unwrap_or_default();
    let charset = parts
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase())
        .unwrap_or_else(|| "utf-8".into());
    (sub, charset)
}

fn decode(bytes: &[u8], charset: &str) -> String {
    match charset {
        "iso-8859-1" | "latin-1" | "latin1" => bytes.iter().map(|b| char::from(*b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Writes the body to `dest` on the task's host and applies mode/owner/group: the body
/// comes over stdin (in-process requests) or is already in a temp file beside it.
async fn write_dest(
    ctx: &ModuleContext<'_>,
    args: &UriArgs,
    fetched: &Fetched,
    dest: &str,
) -> Result<Result<Records, Map>, ConnError> {
    let mode = match args.mode.as_ref().map(remote::parse_mode).transpose() {
        Ok(mode) => mode.flatten(),
        Err(e) => return Ok(Err(e.into_result(dest))),
    };
    let mut s = remote::attrs_vars(false, args.owner.as_deref(), args.group.as_deref());
    s.push_str(&format!(
        "DEST={}\nSRC={}\n",
        quote(dest),
        quote(fetched.remote_tmp.as_deref().unwrap_or("")),
    ));
    s.push_str(&remote::attrs_function(mode.as_ref()));
    s.push_str(PLACE_SH);
    s.push_str("place\n");
    let stdin = match (&fetched.remote_tmp, &fetched.answer) {
        (None, Some(answer)) => Some(answer.body.clone()),
        _ => None,
    };
    let records = match remote::run_script(ctx, &s, stdin).await? {
        Ok(records) => records,
        Err(result) => return Ok(Err(result)),
    };
    if let Some(failure) = records.failure() {
        return Ok(Err(failure));
    }
    Ok(Ok(records))
}

/// `place`: puts SRC (a temp file, or stdin when SRC is empty) at DEST unless DEST already
/// has the same bytes, by a rename in DEST's directory; then `setattrs` and `pinfo`. Emits
/// `moved` when DEST's content changed.
pub(crate) const PLACE_SH: &str = r#"place() {
  dir_of "$DEST"
  if [ -z "$SRC" ]; then
    SRC=$(mktemp "$_dn/.hr-http.XXXXXX") || die "Failed to create temporary content file: $(py_oserror "Permission denied" "$_dn")"
    cat >"$SRC" || { rm -f -- "$SRC"; die "Failed to create temporary content file: write error"; }
  fi
  if [ -f "$DEST" ] && cmp -s -- "$SRC" "$DEST"; then
    rm -f -- "$SRC"
  else
    if [ -f "$DEST" ]; then
      _m=$(stat -c %a -- "$DEST" 2>/dev/null) && chmod "$_m" -- "$SRC" 2>/dev/null
    else
      _um=$(umask); chmod "$(printf '%o' $(( 0666 & ~0$_um )))" -- "$SRC" 2>/dev/null
    fi
    _e=$(mv -f -- "$SRC" "$DEST" 2>&1) || { rm -f -- "$SRC"; die "failed to copy $SRC to $DEST: $_e"; }
    emit moved 1
  fi
  setattrs "$DEST"
  pinfo "$DEST"
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_encode_as_python_urlencode() {
        let body = serde_json::json!({"a": "x y", "list": [1, 2], "none": null, "b": "&"});
        assert_eq!(form_urlencoded(&body).unwrap(), "a=x+y&list=1&list=2&b=%26");
        let pairs = serde_json::json!([["k", "v"], ["k", "w"]]);
        assert_eq!(form_urlencoded(&pairs).unwrap(), "k=v&k=w");
    }

    #[test]
    fn curl_heads_give_the_last_answer_and_every_cookie() {
        let heads = "HTTP/1.1 302 Found\r\nLocation: /b\r\nSet-Cookie: a=1; Path=/\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Two: 1\r\nx-two: 2\r\n\r\n";
        let records = Records {
            items: vec![
                ("h_tool".into(), "curl".into()),
                ("h_rc".into(), "0".into()),
                ("h_code".into(), "200".into()),
                ("h_url".into(), "http://h/b".into()),
                ("h_heads".into(), heads.into()),
                ("h_body".into(), "e30=".into()),
            ],
        };
        let fetched = parse_fetch(&records);
        let answer = fetched.answer.unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.headers["x-two"], "1, 2");
        assert_eq!(answer.cookies, vec![("a".to_string(), "1".to_string())]);
        assert_eq!(answer.body, b"{}");
        assert!(answer.success);
    }

    #[test]
    fn no_answer_is_worded_as_ansible() {
        assert_eq!(
            transport_failure("curl", 28, "curl: (28) Operation too slow."),
            "Connection failure: timed out"
        );
        assert_eq!(
            transport_failure(
                "curl",
                7,
                "curl: (7) Failed to connect to h port 1: Connection refused"
            ),
            "Request failed: <urlopen error [Errno 111] Connection refused>"
        );
    }

    #[test]
    fn dest_directories_take_the_disposition_or_url_name() {
        assert_eq!(
            disposition_filename("attachment; filename=\"../x/report.txt\""),
            Some("report.txt".into())
        );
        assert_eq!(
            url_filename("https://h/a/b%20c.tar.gz?x=1"),
            Some("b c.tar.gz".into())
        );
        assert_eq!(url_filename("https://h/"), None);
    }
}
