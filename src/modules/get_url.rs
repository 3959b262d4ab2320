//! `ansible.builtin.get_url`: downloads a file over HTTP(S) to the task's host.
//!
//! Semantics (ansible-core 2.18 `get_url`):
//! - Where it runs: as [`super::uri`] (in-process on a `local` connection, the target's `curl`
//!   or `wget` on an SSH target). The body is streamed into a temp file in the destination's
//!   directory (or `tmp_dest`) and renamed over `dest` only when its SHA-1 differs: a reader
//!   never sees half a file, and a large download is never held in memory.
//! - `dest` a directory: the file name comes from `Content-Disposition: attachment;
//!   filename=...`, else from the last URL (after redirects), else `index.html`.
//! - `checksum: ALGORITHM:HEX` (md5, sha1, sha224, sha256, sha384, sha512) or
//!   `ALGORITHM:URL` of a checksum file (`HEX` alone, or `HEX  NAME` lines matched against the
//!   URL's file name). An existing `dest` with that checksum is not downloaded again ("file
//!   already exists"); a different one is replaced; a download that does not match fails
//!   ("The checksum for ... did not match ...; it was ...").
//! - Without checksum an existing `dest` is downloaded again with `If-Modified-Since` (a 304
//!   ends with `changed: false`), unless `force` (then `cache-control: no-cache`).
//! - `mode`/`owner`/`group` as the file module; `backup` keeps the old file
//!   (`DEST.PID.YYYY-MM-DD@HH:MM:SS~`).
//! - Results: `changed`, `dest`, `url`, `msg` (`OK (N bytes)`), `status_code`, `checksum_src`,
//!   `checksum_dest` (SHA-1), `md5sum`, `src` (the temp file), `elapsed`, and the file's
//!   attributes. Failures: "Request failed" with `status_code` and `response`, or the
//!   connection error (`msg`), "Destination X does not exist", Ansible's checksum messages.
//! - Check mode: a HEAD request; `changed` says whether the file would change.
//!
//! Not supported (a warning names them when set): `unix_socket`, `use_gssapi`, `ciphers`,
//! `decompress: false`, SELinux and `attributes` file arguments.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, with_file_common, Records};
use super::uri::{self, Fetched, HttpArgs};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::http::Redirects;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use sha1::Digest as _;
use std::path::Path;
use std::time::{Duration, Instant};

pub struct GetUrl;

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        Param {
            required: true,
            ..Param::new("url", Kind::Str)
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
            default: Some(""),
            ..Param::new("checksum", Kind::Str)
        },
        Param {
            default: Some("10"),
            ..Param::new("timeout", Kind::Int)
        },
        Param::new("headers", Kind::Dict),
        Param::new("tmp_dest", Kind::Path),
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
            aliases: &["username"],
            ..Param::new("url_username", Kind::Str)
        },
        Param {
            aliases: &["password"],
            no_log: true,
            ..Param::new("url_password", Kind::Str)
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
        Param::new("unix_socket", Kind::Path),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[derive(Debug, Clone, serde::Deserialize)]
struct GetUrlArgs {
    #[serde(flatten)]
    http: HttpArgs,
    dest: String,
    backup: bool,
    checksum: String,
    timeout: i64,
    headers: Option<Map>,
    tmp_dest: Option<String>,
    mode: Option<Value>,
    owner: Option<String>,
    group: Option<String>,
    attributes: Option<String>,
    seuser: Option<String>,
    serole: Option<String>,
    setype: Option<String>,
    selevel: Option<String>,
}

const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

#[async_trait]
impl Module for GetUrl {
    fn name(&self) -> &'static str {
        "get_url"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.get_url"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<GetUrlArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: GetUrlArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failed) => return Ok(failed),
        };
        let secret = args.http.url_password.clone();
        let mut result = self.download(args, ctx).await?;
        uri::mask_secret(&mut result, secret.as_deref());
        Ok(result)
    }
}

impl GetUrl {
    async fn download(&self, args: GetUrlArgs, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let ignored = uri::ignored_options(
            &args.http,
            uri::is_local(ctx),
            args.attributes.is_some()
                || args.seuser.is_some()
                || args.serole.is_some()
                || args.setype.is_some()
                || args.selevel.is_some(),
        );
        let mode = match args.mode.as_ref().map(remote::parse_mode).transpose() {
            Ok(mode) => mode.flatten(),
            Err(e) => return Ok(e.into_result(&args.dest)),
        };
        let mut result = base_result(&args);
        let started = Instant::now();
        let wanted = match wanted_checksum(&args, ctx).await? {
            Ok(wanted) => wanted,
            Err(msg) => return Ok(fail_with(result, msg)),
        };
        let headers: Vec<(String, String)> = args
            .headers
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), crate::py::str(v)))
            .collect();
        // The destination as it is, and (remote) the download.
        let local = uri::is_local(ctx);
        let mut s =
            remote::attrs_vars(ctx.check_mode, args.owner.as_deref(), args.group.as_deref());
        s.push_str(&format!(
            "DEST={}\nTMPD={}\nALG={}\nSUM={}\nFORCEDL={}\nNODL={}\n",
            path_word(&args.dest),
            args.tmp_dest.as_deref().map(path_word).unwrap_or_default(),
            quote(wanted.as_ref().map(|w| w.0.as_str()).unwrap_or("")),
            quote(wanted.as_ref().map(|w| w.1.as_str()).unwrap_or("")),
            u8::from(args.http.force),
            u8::from(local),
        ));
        let method = if ctx.check_mode { "HEAD" } else { "GET" };
        let timeout = Duration::from_secs(args.timeout.max(1) as u64);
        s.push_str(&uri::fetch_vars(&uri::FetchVars {
            http: &args.http,
            method,
            headers: &headers,
            has_body: false,
            body_file: None,
            redirects: Redirects::Urllib2,
            timeout,
        }));
        s.push_str(&remote::attrs_function(mode.as_ref()));
        s.push_str(uri::FETCH_SH);
        s.push_str(DIGEST_SH);
        s.push_str(PROBE_SH);
        let records = match remote::run_script(ctx, &s, None).await? {
            Ok(records) => records,
            Err(failure) => return Ok(failure),
        };
        if let Some(failure) = records.failure() {
            return Ok(merge(result, failure));
        }
        if records.has("done") {
            let changed = records.attrs_changed();
            result.insert("changed".into(), Value::Bool(changed));
            result.insert(
                "msg".into(),
                Value::String(
                    if changed {
                        "file already exists but file attributes changed"
                    } else {
                        "file already exists"
                    }
                    .into(),
                ),
            );
            remote::add_path_info(&mut result, &records);
            return Ok(with_warnings(result, &ignored));
        }
        let dest_is_dir = records.get("dest_dir") == Some("1");
        let dir = records.get("dir").unwrap_or(".").to_string();
        let download = if local {
            let last_modified = records
                .get("ims")
                .filter(|_| !args.http.force)
                .and_then(|_| std::fs::metadata(uri::local_path(&args.dest)).ok())
                .and_then(|m| m.modified().ok());
            let mut request = uri::http_request(&args.http, timeout);
            request.env = ctx.env.clone();
            request.method = method.to_string();
            request.headers = headers.clone();
            request.redirects = Redirects::Urllib2;
            request.last_modified = last_modified;
            download_local(&request, &dir, wanted.as_ref()).await
        } else {
            Download::from_records(&records)
        };
        result.insert("elapsed".into(), Value::from(started.elapsed().as_secs()));
        let Some(answer) = download.fetched.answer.as_ref() else {
            return Ok(fail_with(result, download.fetched.msg.clone()));
        };
        let msg = answer.msg();
        if answer.status == 304 {
            let mut out = Map::new();
            out.insert("url".into(), Value::String(args.http.url.clone()));
            out.insert("dest".into(), Value::String(args.dest.clone()));
            out.insert("changed".into(), Value::Bool(false));
            out.insert("msg".into(), Value::String(msg));
            out.insert("status_code".into(), Value::from(304));
            out.insert("elapsed".into(), result["elapsed"].clone());
            cleanup(ctx, download.tmp.as_deref()).await?;
            return Ok(with_warnings(out, &ignored));
        }
        if answer.status != 200 {
            cleanup(ctx, download.tmp.as_deref()).await?;
            let mut out = remote::failed("Request failed");
            out.insert("status_code".into(), Value::from(answer.status));
            out.insert("response".into(), Value::String(msg));
            out.insert("url".into(), Value::String(args.http.url.clone()));
            out.insert("dest".into(), Value::String(args.dest.clone()));
            out.insert("elapsed".into(), result["elapsed"].clone());
            return Ok(out);
        }
        let Some(tmp) = download.tmp.clone() else {
            return Ok(fail_with(result, "Request failed".into()));
        };
        let mut dest = args.dest.clone();
        if dest_is_dir {
            let name = answer
                .headers
                .get("content-disposition")
                .filter(|d| d.starts_with("attachment;"))
                .and_then(|d| uri::disposition_filename(d))
                .or_else(|| uri::url_filename(&answer.url))
                .unwrap_or_else(|| "index.html".into());
            dest = format!("{}/{}", dest.trim_end_matches('/'), name);
            result.insert("dest".into(), Value::String(dest.clone()));
        }
        result.insert("src".into(), Value::String(tmp.clone()));
        result.insert("checksum_src".into(), Value::String(download.sha1.clone()));
        // Checksum of the download, before it replaces anything.
        let mismatch = match (&wanted, &download.digest) {
            (Some((_, sum)), Some(got)) if !ctx.check_mode && sum != got => Some(format!(
                "The checksum for {tmp} did not match {sum}; it was {got}."
            )),
            _ => None,
        };
        let action = if ctx.check_mode || mismatch.is_some() {
            "check"
        } else {
            "place"
        };
        let mut s = remote::attrs_vars(false, args.owner.as_deref(), args.group.as_deref());
        s.push_str(&format!(
            "DEST={}\nSRC={}\nSRCSUM={}\nBACKUP={}\nACTION={action}\n",
            quote(&dest),
            quote(&tmp),
            quote(&download.sha1),
            u8::from(args.backup),
        ));
        s.push_str(&remote::attrs_function(mode.as_ref()));
        s.push_str(FINISH_SH);
        let records = match remote::run_script(ctx, &s, None).await? {
            Ok(records) => records,
            Err(failure) => return Ok(failure),
        };
        if let Some(dest_sum) = records.get("dsum") {
            result.insert("checksum_dest".into(), Value::String(dest_sum.into()));
        }
        if let Some(failure) = records.failure() {
            return Ok(merge(result, failure));
        }
        if let Some(msg) = mismatch {
            return Ok(fail_with(result, msg));
        }
        if ctx.check_mode {
            let changed = records.get("dsum") != Some(download.sha1.as_str());
            result.insert("changed".into(), Value::Bool(changed));
            result.insert("msg".into(), Value::String(msg));
            return Ok(with_warnings(result, &ignored));
        }
        result.insert(
            "changed".into(),
            Value::Bool(records.has("moved") || records.attrs_changed()),
        );
        if let Some(md5) = records.get("md5") {
            result.insert("md5sum".into(), Value::String(md5.into()));
        }
        if let Some(backup) = records.get("backup_file") {
            result.insert("backup_file".into(), Value::String(backup.into()));
        }
        result.insert("msg".into(), Value::String(msg));
        result.insert("status_code".into(), Value::from(200));
        remote::add_path_info(&mut result, &records);
        Ok(with_warnings(result, &ignored))
    }
}

fn base_result(args: &GetUrlArgs) -> Map {
    let mut result = Map::new();
    result.insert("changed".into(), Value::Bool(false));
    result.insert("checksum_dest".into(), Value::Null);
    result.insert("checksum_src".into(), Value::Null);
    result.insert("dest".into(), Value::String(args.dest.clone()));
    result.insert("elapsed".into(), Value::from(0));
    result.insert("url".into(), Value::String(args.http.url.clone()));
    result
}

fn fail_with(mut result: Map, msg: String) -> Map {
    result.insert("failed".into(), Value::Bool(true));
    result.insert("msg".into(), Value::String(msg));
    result
}

fn merge(mut result: Map, failure: Map) -> Map {
    result.extend(failure);
    result
}

fn with_warnings(mut result: Map, ignored: &[&str]) -> Map {
    uri::add_ignored_warnings(&mut result, ignored);
    result
}

/// The `checksum` argument as (algorithm, lower-case hex), fetching a checksum file first
/// when it names a URL.
async fn wanted_checksum(
    args: &GetUrlArgs,
    ctx: &ModuleContext<'_>,
) -> Result<Result<Option<(String, String)>, String>, ConnError> {
    if args.checksum.is_empty() {
        return Ok(Ok(None));
    }
    let Some((algorithm, value)) = args.checksum.split_once(':') else {
        return Ok(Err(
            "The checksum parameter has to be in format <algorithm>:<checksum>".into(),
        ));
    };
    let algorithm = algorithm.to_ascii_lowercase();
    if !ALGORITHMS.contains(&algorithm.as_str()) {
        return Ok(Err(format!(
            "Could not hash file '{}' with algorithm '{algorithm}'. Available algorithms: {}",
            args.dest,
            ALGORITHMS.join(", ")
        )));
    }
    let mut value = value.to_string();
    if ["http", "https", "ftp", "file"]
        .iter()
        .any(|s| value.starts_with(&format!("{s}:")))
    {
        let checksum_url = value.clone();
        let text = match fetch_text(args, ctx, &checksum_url).await? {
            Ok(text) => text,
            Err(msg) => return Ok(Err(msg)),
        };
        let filename = uri::url_filename(&args.http.url).unwrap_or_else(|| "index.html".into());
        match checksum_from_file(&text, &filename) {
            Some(found) => value = found,
            None => {
                return Ok(Err(format!(
                    "Unable to find a checksum for file '{filename}' in '{checksum_url}'"
                )))
            }
        }
    }
    let cleaned: String = value
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_ascii_lowercase();
    if cleaned.is_empty() || !cleaned.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(Err("The checksum format is invalid".into()));
    }
    Ok(Ok(Some((algorithm, cleaned))))
}

/// The checksum of `filename` in a checksum file: a lone hash, or `HASH  NAME` lines
/// (`*NAME` and `./NAME` too).
fn checksum_from_file(text: &str, filename: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() == 1 && lines[0].split_whitespace().count() == 1 {
        return Some(lines[0].trim().to_string());
    }
    lines.iter().find_map(|line| {
        let (sum, name) = line.split_once(' ')?;
        let name = name.strip_prefix([' ', '*']).unwrap_or(name);
        (name.trim_start_matches(['.', '/']) == filename).then(|| sum.to_string())
    })
}

/// A small text file (a checksum file) fetched where the task runs.
async fn fetch_text(
    args: &GetUrlArgs,
    ctx: &ModuleContext<'_>,
    url: &str,
) -> Result<Result<String, String>, ConnError> {
    let timeout = Duration::from_secs(args.timeout.max(1) as u64);
    let mut http = args.http.clone();
    http.url = url.to_string();
    let fetched = if uri::is_local(ctx) {
        let mut request = uri::http_request(&http, timeout);
        request.env = ctx.env.clone();
        request.redirects = Redirects::Urllib2;
        match crate::http::send(&request).await {
            Err(e) => Fetched {
                msg: e.msg,
                ..Fetched::default()
            },
            Ok(mut response) => match response.bytes().await {
                Err(e) => Fetched {
                    msg: e.msg,
                    ..Fetched::default()
                },
                Ok(body) => Fetched {
                    answer: Some(uri::Answer {
                        status: response.status,
                        reason: response.reason.clone(),
                        success: response.is_success(),
                        url: response.url.clone(),
                        headers: response.header_map(),
                        cookies: Vec::new(),
                        body,
                    }),
                    ..Fetched::default()
                },
            },
        }
    } else {
        let mut s = uri::fetch_vars(&uri::FetchVars {
            http: &http,
            method: "GET",
            headers: &[],
            has_body: false,
            body_file: None,
            redirects: Redirects::Urllib2,
            timeout,
        });
        s.push_str(uri::FETCH_SH);
        s.push_str(
            "_wd=$(mktemp -d) || die \"cannot create a temporary directory\"\nfetch \"$_wd/o\" \"$_wd\"\n[ -f \"$_wd/o\" ] && emit h_body \"$(base64 <\"$_wd/o\")\"\nrm -rf -- \"$_wd\"\n",
        );
        match remote::run_script(ctx, &s, None).await? {
            Ok(records) => match records.failure() {
                Some(failure) => return Ok(Err(failure["msg"].as_str().unwrap_or("").to_string())),
                None => uri::parse_fetch(&records),
            },
            Err(failure) => return Ok(Err(failure["msg"].as_str().unwrap_or("").to_string())),
        }
    };
    Ok(match fetched.answer {
        Some(answer) if answer.status == 200 => {
            Ok(String::from_utf8_lossy(&answer.body).into_owned())
        }
        Some(answer) => Err(format!("Request failed: {}", answer.msg())),
        None => Err(fetched.msg),
    })
}

/// A finished download: the answer, where the body is, its SHA-1 and wanted digest.
#[derive(Debug, Default)]
struct Download {
    fetched: Fetched,
    tmp: Option<String>,
    sha1: String,
    digest: Option<String>,
}

impl Download {
    fn from_records(records: &Records) -> Download {
        Download {
            fetched: uri::parse_fetch(records),
            tmp: records.get("tmp").map(str::to_string),
            sha1: records.get("sha1").unwrap_or("").to_string(),
            digest: records.get("digest").map(str::to_string),
        }
    }
}

/// Streams the answer into a temp file of `dir`, hashing as it goes.
async fn download_local(
    request: &crate::http::Request,
    dir: &str,
    wanted: Option<&(String, String)>,
) -> Download {
    let failure = |msg: String| Download {
        fetched: Fetched {
            msg,
            ..Fetched::default()
        },
        ..Download::default()
    };
    let mut response = match crate::http::send(request).await {
        Ok(response) => response,
        Err(e) => return failure(e.msg),
    };
    let answer = uri::Answer {
        status: response.status,
        reason: response
            .redirect_refused
            .clone()
            .unwrap_or_else(|| response.reason.clone()),
        success: response.is_success(),
        url: response.url.clone(),
        headers: response.header_map(),
        cookies: Vec::new(),
        body: Vec::new(),
    };
    if answer.status != 200 {
        return Download {
            fetched: Fetched {
                answer: Some(answer),
                ..Fetched::default()
            },
            ..Download::default()
        };
    }
    let dir = uri::local_path(dir);
    let tmp = Path::new(&dir).join(format!(".hr-get_url.{}", uuid::Uuid::new_v4().simple()));
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .await;
    let mut file = match file {
        Ok(file) => file,
        Err(e) => return failure(format!("failed to create temporary content file: {e}")),
    };
    let mut sha1 = sha1::Sha1::new();
    let mut digest = wanted.map(|(alg, _)| Hasher::new(alg));
    let written: Result<(), String> = async {
        use tokio::io::AsyncWriteExt as _;
        while let Some(chunk) = response.chunk().await.map_err(|e| e.msg)? {
            sha1.update(&chunk);
            if let Some(d) = digest.as_mut() {
                d.update(&chunk);
            }
            file.write_all(&chunk).await.map_err(|e| e.to_string())?;
        }
        file.flush().await.map_err(|e| e.to_string())
    }
    .await;
    if let Err(msg) = written {
        let _ = std::fs::remove_file(&tmp);
        return failure(msg);
    }
    Download {
        fetched: Fetched {
            answer: Some(answer),
            ..Fetched::default()
        },
        tmp: Some(tmp.display().to_string()),
        sha1: hex::encode(sha1.finalize()),
        digest: digest.map(Hasher::finish),
    }
}

/// The digests `checksum` may name.
enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algorithm: &str) -> Hasher {
        match algorithm {
            "md5" => Hasher::Md5(md5::Md5::new()),
            "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            "sha224" => Hasher::Sha224(sha2::Sha224::new()),
            "sha384" => Hasher::Sha384(sha2::Sha384::new()),
            "sha512" => Hasher::Sha512(sha2::Sha512::new()),
            _ => Hasher::Sha256(sha2::Sha256::new()),
        }
    }
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha224(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }
    fn finish(self) -> String {
        match self {
            Hasher::Md5(h) => hex::encode(h.finalize()),
            Hasher::Sha1(h) => hex::encode(h.finalize()),
            Hasher::Sha224(h) => hex::encode(h.finalize()),
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha384(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Removes a temp download that is not used.
async fn cleanup(ctx: &ModuleContext<'_>, tmp: Option<&str>) -> Result<(), ConnError> {
    if let Some(tmp) = tmp {
        remote::exec(ctx, format!("rm -f -- {}", quote(tmp)), None).await?;
    }
    Ok(())
}

/// `digest ALG FILE`: the hex digest of FILE with coreutils' `ALGsum`.
const DIGEST_SH: &str = r#"digest() {
  _dg=$("$1sum" <"$2" 2>/dev/null) || die "Could not hash file '$2' with algorithm '$1'"
  _dg=${_dg%% *}
}
"#;

/// Looks at `dest`: a directory, or a file that already has the wanted checksum (then only
/// its attributes are set: `done`). Otherwise, unless `NODL` (the controller downloads),
/// downloads into a temp file beside it and reports the answer, the temp file, its SHA-1 and
/// the wanted digest.
const PROBE_SH: &str = r#"_ims=
if [ -d "$DEST" ]; then
  emit dest_dir 1; _dir=$DEST
else
  dir_of "$DEST"; _dir=$_dn
  if [ -e "$DEST" ]; then
    if [ "$FORCEDL" != 1 ] && [ -n "$SUM" ]; then
      digest "$ALG" "$DEST"
      if [ "$_dg" = "$SUM" ]; then
        setattrs "$DEST"; pinfo "$DEST"; emit done 1; exit 0
      fi
    else
      _ims=$DEST; emit ims 1
    fi
  fi
fi
[ -n "$TMPD" ] && _dir=$TMPD
if [ ! -d "$_dir" ]; then
  if [ -n "$TMPD" ]; then
    if [ -e "$TMPD" ]; then die "$TMPD is a file but should be a directory."; fi
    die "$TMPD directory does not exist."
  fi
  die "Destination $_dir does not exist"
fi
[ -w "$_dir" ] || die "Destination $_dir is not writable"
emit dir "$_dir"
[ "$NODL" = 1 ] && exit 0
_tmp=$(mktemp "$_dir/.hr-get_url.XXXXXX") || die "failed to create temporary content file: cannot create a file in $_dir"
_wd=$(mktemp -d) || { rm -f -- "$_tmp"; die "cannot create a temporary directory"; }
fetch "$_tmp" "$_wd" "$_ims"
rm -rf -- "$_wd"
case $_w in
  200*)
    emit tmp "$_tmp"
    _s=$(sha1sum <"$_tmp"); emit sha1 "${_s%% *}"
    if [ -n "$SUM" ]; then digest "$ALG" "$_tmp"; emit digest "$_dg"; fi ;;
  *) rm -f -- "$_tmp" ;;
esac
"#;

/// Compares the download (SRC) with DEST by SHA-1 and, for `ACTION=place`, renames it over
/// DEST when different (after a backup), then sets the attributes; `check` only compares and
/// removes SRC.
const FINISH_SH: &str = r#"if [ -f "$DEST" ]; then
  [ -r "$DEST" ] || { rm -f -- "$SRC"; die "Destination $DEST is not readable"; }
  _s=$(sha1sum <"$DEST"); emit dsum "${_s%% *}"
  [ "$ACTION" = check ] || [ -w "$DEST" ] || { rm -f -- "$SRC"; die "Destination $DEST is not writable"; }
fi
if [ "$ACTION" = check ]; then rm -f -- "$SRC"; exit 0; fi
if [ "${_s%% *}" = "$SRCSUM" ] && [ -f "$DEST" ]; then
  rm -f -- "$SRC"
else
  if [ "$BACKUP" = 1 ] && [ -f "$DEST" ]; then
    _bk="$DEST.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
    cp -p -- "$DEST" "$_bk" && emit backup_file "$_bk"
  fi
  if [ -f "$DEST" ]; then
    _m=$(stat -c %a -- "$DEST" 2>/dev/null) && chmod "$_m" -- "$SRC" 2>/dev/null
  else
    _um=$(umask); chmod "$(printf '%o' $(( 0666 & ~0$_um )))" -- "$SRC" 2>/dev/null
  fi
  _e=$(mv -f -- "$SRC" "$DEST" 2>&1) || { rm -f -- "$SRC"; die "failed to copy $SRC to $DEST: $_e"; }
  emit moved 1
fi
setattrs "$DEST"
_s=$(md5sum <"$DEST" 2>/dev/null) && emit md5 "${_s%% *}"
pinfo "$DEST"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_files_give_the_hash_of_the_downloaded_name() {
        let text = "aaa  other.tar.gz\nbbb *app.tar.gz\nccc  ./notes.txt\n";
        assert_eq!(checksum_from_file(text, "app.tar.gz"), Some("bbb".into()));
        assert_eq!(checksum_from_file(text, "notes.txt"), Some("ccc".into()));
        assert_eq!(checksum_from_file("ddd\n", "anything"), Some("ddd".into()));
        assert_eq!(checksum_from_file(text, "missing"), None);
    }
}
