//! The HTTP(S) client of the modules that run in the controller (`uri`, `get_url` on
//! localhost, the `url` lookup): Ansible's `open_url` semantics on hyper + rustls, with no
//! `curl` binary involved.
//!
//! What it does as Ansible's `module_utils/urls.py` (urllib) does:
//! - `timeout` is a socket timeout: it bounds the connect, the TLS handshake, the wait for the
//!   response head, and each wait for more body bytes (a server that stops sending fails with
//!   `timed out`, however long the whole download takes).
//! - Redirects (`follow_redirects`): `none` never follows (the 3xx is the answer), `safe`
//!   follows for GET/HEAD only, `all` always (307/308 keep the method and body; 301 after POST,
//!   302 and 303 become GET without body and content headers), `urllib2` as Python's urllib
//!   (GET/HEAD, and POST turned into GET on 301/302/303). At most 10 redirects, and one URL at
//!   most 4 times, then the infinite-loop error urllib gives.
//! - Basic auth: sent at once with `force_basic_auth`, else only in answer to a 401 that asks
//!   for Basic. Credentials in the URL (`https://user:pass@host/`) are used and removed from it.
//!   `~/.netrc` (or `$NETRC`) gives them when none are given and `use_netrc` is on.
//! - Proxies from `http_proxy`/`https_proxy` (lower case first, then upper case; `HTTP_PROXY`
//!   ignored under CGI's `REQUEST_METHOD`) unless `use_proxy` is false or `no_proxy` names the
//!   host (Python's rules: `*`, exact names, and suffixes, leading dots ignored). HTTPS goes
//!   through the proxy with `CONNECT`; credentials in the proxy URL become `Proxy-Authorization`.
//! - TLS: the system trust store, or only `ca_path` when given (as Python's
//!   `create_default_context(cafile=...)`); `validate_certs: false` accepts any certificate;
//!   `client_cert`/`client_key` (PEM) authenticate the client.
//! - Headers: `User-Agent` from `http_agent`, `cache-control: no-cache` with `force`, else
//!   `If-Modified-Since` when the caller has a file's time; `unredirected_headers` are sent on
//!   the first request only. Cookies set along a redirect chain are sent on the next hops and
//!   returned (`cookies`, `cookies_string`).
//!
//! Errors carry Ansible's `info['msg']` wording (`Request failed: <urlopen error ...>`,
//! `Connection failure: timed out`), with status -1. Any answer, 2xx or not, is a [`Response`]:
//! the caller words HTTP errors (`HTTP Error 404: Not Found`).
//!
//! Not supported: HTTP/2, gzip `decompress` (no `Accept-Encoding` is sent, so servers answer
//! uncompressed), `unix_socket`, `use_gssapi`, `ciphers`, HTTPS proxies.

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// Ansible's default `http_agent`.
pub const USER_AGENT: &str = "ansible-httpget";
/// urllib's `max_redirections` and `max_repeats`.
const MAX_REDIRECTS: usize = 10;
const MAX_REPEATS: usize = 4;

/// How redirects are followed (`follow_redirects`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    None,
    Safe,
    All,
    Urllib2,
}

impl Redirects {
    /// Ansible's choice names (`yes`/`no` are the deprecated spellings of all/none).
    pub fn parse(text: &str) -> Option<Redirects> {
        match text {
            "none" | "no" => Some(Redirects::None),
            "safe" => Some(Redirects::Safe),
            "all" | "yes" => Some(Redirects::All),
            "urllib2" | "urllib" => Some(Redirects::Urllib2),
            _ => None,
        }
    }
}

/// One request, with Ansible's `open_url` options.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: String,
    /// User headers, in order; they override the ones set here (User-Agent...).
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
    pub redirects: Redirects,
    pub username: Option<String>,
    pub password: Option<String>,
    pub force_basic_auth: bool,
    pub use_netrc: bool,
    pub validate_certs: bool,
    pub ca_path: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub use_proxy: bool,
    pub http_agent: String,
    pub force: bool,
    /// The modification time of the caller's copy: sent as `If-Modified-Since`.
    pub last_modified: Option<SystemTime>,
    pub unredirected_headers: Vec<String>,
    /// The task's `environment:`, looked at before the process's own (proxy variables).
    pub env: Vec<(String, String)>,
}

impl Request {
    /// A GET of `url` with Ansible's defaults (10 s timeout, `urllib2` redirects).
    pub fn get(url: &str) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(10),
            redirects: Redirects::Urllib2,
            username: None,
            password: None,
            force_basic_auth: false,
            use_netrc: true,
            validate_certs: true,
            ca_path: None,
            client_cert: None,
            client_key: None,
            use_proxy: true,
            http_agent: USER_AGENT.into(),
            force: false,
            last_modified: None,
            unredirected_headers: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// A failure before any answer: Ansible's `info['msg']` (status -1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub msg: String,
}

impl Failure {
    fn request(reason: impl std::fmt::Display) -> Failure {
        Failure {
            msg: format!("Request failed: <urlopen error {reason}>"),
        }
    }
    fn connection(reason: impl std::fmt::Display) -> Failure {
        Failure {
            msg: format!("Connection failure: {reason}"),
        }
    }
    fn value(reason: impl Into<String>) -> Failure {
        Failure { msg: reason.into() }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

/// The last answer of a request (after redirects), its body not read yet.
pub struct Response {
    pub status: u16,
    pub reason: String,
    /// The URL that answered (the last redirect's target).
    pub url: String,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// Cookies set along the way, in order.
    pub cookies: Vec<(String, String)>,
    /// True when the answer is a redirect that was not followed (`follow_redirects`), or
    /// urllib's redirect-loop error.
    pub redirect_refused: Option<String>,
    body: Incoming,
    timeout: Duration,
}

impl Response {
    /// The value of header `name` (lower case); repeated headers joined with `, `.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// Headers as Ansible's `info` has them: lower-case names, repeats joined with `, `.
    pub fn header_map(&self) -> BTreeMap<String, String> {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &self.headers {
            map.entry(name.clone())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(value);
                })
                .or_insert_with(|| value.clone());
        }
        map
    }

    /// Whether the answer is a success to urllib (2xx and not a refused redirect).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status) && self.redirect_refused.is_none()
    }

    /// `HTTP Error 404: Not Found`: Python's `str(HTTPError)`.
    pub fn http_error(&self) -> String {
        let reason = self.redirect_refused.as_deref().unwrap_or(&self.reason);
        format!("HTTP Error {}: {}", self.status, reason)
    }

    /// `OK (N bytes)`: Ansible's message for an answer, N from `Content-Length`.
    pub fn ok_message(&self) -> String {
        format!(
            "OK ({} bytes)",
            self.header("content-length")
                .unwrap_or_else(|| "unknown".into())
        )
    }

    /// The next piece of the body, or `None` at its end; each wait is bounded by the timeout.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Failure> {
        loop {
            let frame = tokio::time::timeout(self.timeout, self.body.frame())
                .await
                .map_err(|_| Failure::connection("timed out"))?;
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(Failure::connection(hyper_reason(&e))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Ok(Some(data));
                        }
                    }
                }
            }
        }
    }

    /// The whole body, in memory.
    pub async fn bytes(&mut self) -> Result<Vec<u8>, Failure> {
        let mut out = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Streams the body into `file`; returns the number of bytes written.
    pub async fn copy_to(&mut self, file: &mut tokio::fs::File) -> Result<u64, String> {
        let mut written = 0u64;
        while let Some(chunk) = self.chunk().await.map_err(|e| e.msg)? {
            file.write_all(&chunk).await.map_err(|e| e.to_string())?;
            written += chunk.len() as u64;
        }
        file.flush().await.map_err(|e| e.to_string())?;
        Ok(written)
    }
}

/// Sends `request`, following redirects as asked, and returns the last answer.
pub async fn send(request: &Request) -> Result<Response, Failure> {
    let tls = Arc::new(tls_config(request)?);
    let (mut url, url_credentials) = parse_url(&request.url)?;
    let mut credentials = match (&request.username, url_credentials) {
        (Some(user), _) if !user.is_empty() => {
            Some((user.clone(), request.password.clone().unwrap_or_default()))
        }
        (_, Some(from_url)) => Some(from_url),
        _ => None,
    };
    let mut preemptive = credentials.is_some() && request.force_basic_auth;
    if credentials.is_none() && request.use_netrc {
        if let Some(found) = netrc_login(url.host_str().unwrap_or("")) {
            credentials = Some(found);
            preemptive = true;
        }
    }
    let mut method = request.method.to_ascii_uppercase();
    let mut body = request.body.clone();
    let mut headers = base_headers(request);
    let mut cookies: Vec<(String, String)> = Vec::new();
    let mut visited: Vec<String> = Vec::new();
    let mut first = true;
    let mut challenged = false;
    loop {
        let mut hop_headers = headers.clone();
        if !first {
            hop_headers.retain(|(name, _)| {
                !request
                    .unredirected_headers
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name))
            });
        }
        if let Some((user, pass)) = credentials.as_ref().filter(|_| preemptive || challenged) {
            set_header(&mut hop_headers, "Authorization", &basic_auth(user, pass));
        }
        if !cookies.is_empty() {
            let line: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            set_header(&mut hop_headers, "Cookie", &line.join("; "));
        }
        let mut response = exchange(
            &url,
            &method,
            &hop_headers,
            body.as_deref(),
            request,
            tls.clone(),
        )
        .await?;
        collect_cookies(&response, &mut cookies);
        response.cookies = cookies.clone();
        if response.status == 401
            && !challenged
            && !preemptive
            && credentials.is_some()
            && response
                .header("www-authenticate")
                .is_some_and(|h| h.to_ascii_lowercase().starts_with("basic"))
        {
            challenged = true;
            continue;
        }
        let location = response
            .header("location")
            .or_else(|| response.header("uri"));
        let is_redirect = matches!(response.status, 301 | 302 | 303 | 307 | 308);
        let Some(location) = location.filter(|_| is_redirect) else {
            return Ok(response);
        };
        if !follows(request.redirects, response.status, &method) {
            response.redirect_refused = Some(response.reason.clone());
            return Ok(response);
        }
        let Ok(next) = url.join(&location.replace(' ', "%20")) else {
            return Ok(response);
        };
        if !matches!(next.scheme(), "http" | "https" | "ftp") {
            return Err(Failure::value(format!(
                "HTTP Error {}: redirection to url '{}' is not allowed",
                response.status, next
            )));
        }
        visited.push(next.to_string());
        let repeats = visited.iter().filter(|u| **u == next.as_str()).count();
        if visited.len() > MAX_REDIRECTS || repeats >= MAX_REPEATS {
            response.redirect_refused = Some(format!(
                "The HTTP server returned a redirect error that would lead to an infinite loop.\nThe last 30x error message was:\n{}",
                response.reason
            ));
            return Ok(response);
        }
        let keep_payload = matches!(response.status, 307 | 308)
            && matches!(request.redirects, Redirects::All | Redirects::Safe);
        if !keep_payload {
            body = None;
            headers.retain(|(name, _)| {
                !["content-length", "content-type", "transfer-encoding"]
                    .contains(&name.to_ascii_lowercase().as_str())
            });
            method = match (request.redirects, response.status, method.as_str()) {
                (_, _, "HEAD") => "HEAD".into(),
                (Redirects::Urllib2, _, _) => "GET".into(),
                (_, 302 | 303, _) | (_, 301, "POST") => "GET".into(),
                (_, _, m) => m.to_string(),
            };
        }
        url = next;
        first = false;
        challenged = false;
    }
}

/// Whether `follow` follows a `status` answer to `method`.
fn follows(follow: Redirects, status: u16, method: &str) -> bool {
    let safe = matches!(method, "GET" | "HEAD");
    match follow {
        Redirects::None => false,
        Redirects::Safe => safe,
        Redirects::All => true,
        Redirects::Urllib2 => safe || (matches!(status, 301..=303) && method == "POST"),
    }
}

/// The URL without its credentials, and the credentials.
fn parse_url(text: &str) -> Result<(Url, Option<(String, String)>), Failure> {
    let mut url = Url::parse(text)
        .map_err(|_| Failure::value(format!("unknown url type: {}", py_quote(text))))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::request(format!(
            "unknown url type: {}",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Failure::request("no host given"));
    }
    let credentials = (!url.username().is_empty()).then(|| {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        (decode(url.username()), decode(url.password().unwrap_or("")))
    });
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((url, credentials))
}

fn py_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The headers every hop starts with, then the user's (which override them).
fn base_headers(request: &Request) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if !request.http_agent.is_empty() {
        headers.push(("User-Agent".to_string(), request.http_agent.clone()));
    }
    if request.force {
        headers.push(("cache-control".to_string(), "no-cache".to_string()));
    } else if let Some(time) = request.last_modified {
        headers.push(("If-Modified-Since".to_string(), http_date(time)));
    }
    for (name, value) in &request.headers {
        set_header(&mut headers, name, value);
    }
    headers
}

/// Replaces (case-insensitively) or adds a header.
fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_string(), value.to_string()));
}

fn basic_auth(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// RFC 7231 date (`Tue, 08 Dec 2026 00:30:00 GMT`).
fn http_date(time: SystemTime) -> String {
    let time: chrono::DateTime<chrono::Utc> = time.into();
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn collect_cookies(response: &Response, cookies: &mut Vec<(String, String)>) {
    for (name, value) in &response.headers {
        if name != "set-cookie" {
            continue;
        }
        let pair = value.split(';').next().unwrap_or("");
        if let Some((k, v)) = pair.split_once('=') {
            let k = k.trim().to_string();
            cookies.retain(|(existing, _)| *existing != k);
            cookies.push((k, v.trim().to_string()));
        }
    }
}

/// `machine`/`login`/`password` of `host` (or the `default` entry) in `$NETRC` or `~/.netrc`.
fn netrc_login(host: &str) -> Option<(String, String)> {
    let path = std::env::var_os("NETRC")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".netrc")))?;
    netrc_entry(&std::fs::read_to_string(path).ok()?, host)
}

fn netrc_entry(text: &str, host: &str) -> Option<(String, String)> {
    // (machine name, or None for `default`), login, password
    let mut entries: Vec<(Option<String>, String, String)> = Vec::new();
    let mut tokens = text.split_whitespace();
    while let Some(token) = tokens.next() {
        match token {
            "machine" => entries.push((
                tokens.next().map(str::to_string),
                String::new(),
                String::new(),
            )),
            "default" => entries.push((None, String::new(), String::new())),
            "login" | "password" | "account" => {
                let value = tokens.next().unwrap_or("").to_string();
                if let Some(entry) = entries.last_mut() {
                    match token {
                        "login" => entry.1 = value,
                        "password" => entry.2 = value,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let exact = entries.iter().find(|e| e.0.as_deref() == Some(host));
    let found = exact.or_else(|| entries.iter().find(|e| e.0.is_none()))?;
    (!found.1.is_empty() && !found.2.is_empty()).then(|| (found.1.clone(), found.2.clone()))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One request and its answer's head on a new connection.
async fn exchange(
    url: &Url,
    method: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    request: &Request,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Response, Failure> {
    let timeout = request.timeout;
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let https = url.scheme() == "https";
    let proxy = if request.use_proxy {
        let env = |name: &str| match request.env.iter().rev().find(|(k, _)| k == name) {
            Some((_, v)) => Some(v.clone()),
            None => std::env::var(name).ok(),
        };
        proxy_from(&env, url.scheme(), &host, port)?
    } else {
        None
    };
    let (connect_host, connect_port) = match &proxy {
        Some(p) => (p.host.clone(), p.port),
        None => (host.clone(), port),
    };
    let tcp = tokio::time::timeout(
        timeout,
        TcpStream::connect((connect_host.as_str(), connect_port)),
    )
    .await
    .map_err(|_| Failure::request("timed out"))?
    .map_err(|e| Failure::request(py_os_error(&e)))?;
    let _ = tcp.set_nodelay(true);
    let mut stream: Box<dyn Io> = Box::new(tcp);
    if let (Some(p), true) = (&proxy, https) {
        tokio::time::timeout(timeout, tunnel(&mut stream, &host, port, p))
            .await
            .map_err(|_| Failure::request("timed out"))??;
    }
    if https {
        let name = ServerName::try_from(host.clone())
            .map_err(|_| Failure::request(format!("invalid host name {host}")))?;
        let connector = tokio_rustls::TlsConnector::from(tls);
        let tls_stream = tokio::time::timeout(timeout, connector.connect(name, stream))
            .await
            .map_err(|_| Failure::request("_ssl.c:1000: The handshake operation timed out"))?
            .map_err(|e| Failure::request(tls_reason(&e)))?;
        stream = Box::new(tls_stream);
    }
    let (mut sender, connection) = tokio::time::timeout(
        timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Failure::connection("timed out"))?
    .map_err(|e| Failure::connection(hyper_reason(&e)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let target = match (&proxy, https) {
        (Some(_), false) => url.as_str().to_string(),
        _ => {
            let mut t = url.path().to_string();
            if let Some(q) = url.query() {
                t.push('?');
                t.push_str(q);
            }
            t
        }
    };
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_string(),
    };
    let mut builder = hyper::Request::builder().method(method).uri(target);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        builder = builder.header("Host", authority);
    }
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let (Some(p), false) = (&proxy, https) {
        if let Some(auth) = &p.auth {
            builder = builder.header("Proxy-Authorization", auth.as_str());
        }
    }
    builder = builder.header("Connection", "close");
    let payload = Full::new(Bytes::from(body.map(<[u8]>::to_vec).unwrap_or_default()));
    if body.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        builder = builder.header("Content-Type", "application/x-www-form-urlencoded");
    }
    let req = builder
        .body(payload)
        .map_err(|e| Failure::value(format!("Invalid header: {e}")))?;
    let answer = tokio::time::timeout(timeout, sender.send_request(req))
        .await
        .map_err(|_| Failure::connection("timed out"))?
        .map_err(|e| Failure::connection(hyper_reason(&e)))?;
    let status = answer.status();
    let reason = answer
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
        .or_else(|| status.canonical_reason().map(str::to_string))
        .unwrap_or_default();
    let headers = answer
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    Ok(Response {
        status: status.as_u16(),
        reason,
        url: url.to_string(),
        headers,
        cookies: Vec::new(),
        redirect_refused: None,
        body: answer.into_body(),
        timeout,
    })
}

/// A proxy to go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// `Proxy-Authorization` from the proxy URL's credentials.
    pub auth: Option<String>,
}

/// The proxy the environment names for `scheme://host:port`, as Python's `getproxies` and
/// `proxy_bypass_environment` decide.
pub fn proxy_for(scheme: &str, host: &str, port: u16) -> Result<Option<Proxy>, Failure> {
    proxy_from(&|name| std::env::var(name).ok(), scheme, host, port)
}

fn proxy_from(
    env: &dyn Fn(&str) -> Option<String>,
    scheme: &str,
    host: &str,
    port: u16,
) -> Result<Option<Proxy>, Failure> {
    let lookup = |name: &str| {
        let lower = format!("{name}_proxy");
        env(&lower).filter(|v| !v.is_empty()).or_else(|| {
            if name == "http" && env("REQUEST_METHOD").is_some() {
                return None;
            }
            env(&lower.to_ascii_uppercase()).filter(|v| !v.is_empty())
        })
    };
    let Some(proxy) = lookup(scheme) else {
        return Ok(None);
    };
    let no_proxy = lookup("no").unwrap_or_default();
    if bypassed(&no_proxy, host, port) {
        return Ok(None);
    }
    let with_scheme = if proxy.contains("://") {
        proxy.clone()
    } else {
        format!("http://{proxy}")
    };
    // The proxy URL may carry credentials: it is never repeated in a message.
    let url = Url::parse(&with_scheme)
        .map_err(|_| Failure::request(format!("the proxy URL in {scheme}_proxy is not valid")))?;
    if url.scheme() != "http" {
        return Err(Failure::request(format!(
            "proxy scheme {} is not supported (only http:// proxies)",
            url.scheme()
        )));
    }
    let auth = (!url.username().is_empty()).then(|| {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        basic_auth(
            &decode(url.username()),
            &decode(url.password().unwrap_or("")),
        )
    });
    Ok(Some(Proxy {
        host: url
            .host_str()
            .unwrap_or("")
            .trim_matches(['[', ']'])
            .to_string(),
        port: url.port_or_known_default().unwrap_or(80),
        auth,
    }))
}

/// Python's `proxy_bypass_environment`: `*`, or a name equal to the host (with or without
/// port) or a suffix of it after a dot.
fn bypassed(no_proxy: &str, host: &str, port: u16) -> bool {
    if no_proxy.trim() == "*" {
        return true;
    }
    let host = host.to_ascii_lowercase();
    let with_port = format!("{host}:{port}");
    no_proxy
        .split(',')
        .map(|n| n.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .any(|name| {
            host == name
                || with_port == name
                || host.ends_with(&format!(".{name}"))
                || with_port.ends_with(&format!(".{name}"))
        })
}

/// `CONNECT host:port` through an HTTP proxy; the stream is then the tunnel.
async fn tunnel(
    stream: &mut Box<dyn Io>,
    host: &str,
    port: u16,
    proxy: &Proxy,
) -> Result<(), Failure> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = &proxy.auth {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| Failure::request(py_os_error(&e)))?;
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        let n = stream
            .read(&mut byte)
            .await
            .map_err(|e| Failure::request(py_os_error(&e)))?;
        if n == 0 || answer.len() > 65536 {
            return Err(Failure::request(
                "Tunnel connection failed: the proxy closed the connection",
            ));
        }
        answer.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&answer);
    let status_line = text.lines().next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let code = parts.next().unwrap_or("");
    if code != "200" {
        let rest = parts.next().unwrap_or("");
        return Err(Failure::request(
            format!("Tunnel connection failed: {code} {rest}").trim_end(),
        ));
    }
    Ok(())
}

/// Python's `str(OSError)` for a socket error (`[Errno 111] Connection refused`).
fn py_os_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let text = std::io::Error::from_raw_os_error(code).to_string();
            let reason = text.split(" (os error").next().unwrap_or(&text).to_string();
            format!("[Errno {code}] {reason}")
        }
        None if e.to_string().contains("failed to lookup address") => {
            "[Errno -2] Name or service not known".to_string()
        }
        None => e.to_string(),
    }
}

fn tls_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    if text.contains("invalid peer certificate")
        || text.contains("UnknownIssuer")
        || text.contains("NotValidForName")
    {
        format!("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {text}")
    } else {
        format!("[SSL] {text}")
    }
}

fn hyper_reason(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        return "Remote end closed connection without response".to_string();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

/// The TLS settings of a request.
fn tls_config(request: &Request) -> Result<rustls::ClientConfig, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::value(e.to_string()))?;
    let builder = if request.validate_certs {
        let mut roots = rustls::RootCertStore::empty();
        match &request.ca_path {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    Failure::value(format!("Failed to load CA file {}: {e}", path.display()))
                })?;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| {
                        Failure::value(format!("Failed to load CA file {}: {e}", path.display()))
                    })?;
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return Err(Failure::value(format!(
                        "Failed to load CA file {}: no certificate in it",
                        path.display()
                    )));
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    };
    let mut config = match &request.client_cert {
        Some(cert_path) => {
            let cert_pem = std::fs::read(cert_path).map_err(|e| {
                Failure::value(format!(
                    "Failed to load client certificate {}: {e}",
                    cert_path.display()
                ))
            })?;
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    Failure::value(format!(
                        "Failed to load client certificate {}: {e}",
                        cert_path.display()
                    ))
                })?;
            let key_path = request.client_key.as_ref().unwrap_or(cert_path);
            let key_pem = std::fs::read(key_path).map_err(|e| {
                Failure::value(format!(
                    "Failed to load client key {}: {e}",
                    key_path.display()
                ))
            })?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                Failure::value(format!(
                    "Failed to load client key {}: {e}",
                    key_path.display()
                ))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Failure::value(format!("Invalid client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `validate_certs: false`: any certificate is accepted (signatures are still checked so that
/// the handshake is a real one).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Runs `future` to completion from synchronous code (template lookups), on a runtime of its
/// own in a thread of its own, so that it works inside and outside a tokio runtime.
pub fn block_on<F, T>(future: F) -> T
where
    F: std::future::Future<Output = T> + Send,
    T: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for a blocking HTTP request")
                    .block_on(future)
            })
            .join()
            .expect("the HTTP request thread")
    })
}

/// The `url` lookup: each term fetched (Ansible's `open_url` defaults: 10 s, `urllib2`
/// redirects), its body as text, split into lines unless `split_lines=False`.
pub fn url_lookup(terms: &[String], options: &crate::Map) -> Result<Vec<String>, String> {
    const KNOWN: &[&str] = &[
        "validate_certs",
        "use_proxy",
        "username",
        "password",
        "headers",
        "force",
        "timeout",
        "http_agent",
        "force_basic_auth",
        "follow_redirects",
        "use_gssapi",
        "unix_socket",
        "ca_path",
        "unredirected_headers",
        "ciphers",
        "use_netrc",
        "split_lines",
    ];
    if let Some(unknown) = options.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "Unrecognized option '{unknown}' for the url lookup"
        ));
    }
    let flag =
        |key: &str, default: bool| options.get(key).map(crate::py::truthy).unwrap_or(default);
    let text = |key: &str| {
        options.get(key).filter(|v| !v.is_null()).map(|v| match v {
            crate::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let mut out = Vec::new();
    for term in terms {
        let mut request = Request::get(term);
        request.validate_certs = flag("validate_certs", true);
        request.use_proxy = flag("use_proxy", true);
        request.username = text("username");
        request.password = text("password");
        request.force = flag("force", false);
        request.force_basic_auth = flag("force_basic_auth", false);
        request.use_netrc = flag("use_netrc", true);
        if let Some(agent) = text("http_agent") {
            request.http_agent = agent;
        }
        if let Some(seconds) = options.get("timeout").and_then(|t| {
            t.as_f64()
                .or_else(|| t.as_str().and_then(|s| s.trim().parse().ok()))
        }) {
            request.timeout = Duration::from_secs_f64(seconds.max(0.001));
        }
        if let Some(follow) = text("follow_redirects") {
            request.redirects = Redirects::parse(&follow)
                .ok_or_else(|| format!("Invalid value '{follow}' for follow_redirects"))?;
        }
        request.ca_path = text("ca_path").map(PathBuf::from);
        if let Some(crate::Value::Object(headers)) = options.get("headers") {
            request.headers = headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect();
        }
        if let Some(crate::Value::Array(names)) = options.get("unredirected_headers") {
            request.unredirected_headers = names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect();
        }
        let body = block_on(async {
            let mut response = send(&request).await?;
            if !response.is_success() {
                return Err(Failure::value(format!(
                    "Received HTTP error for {term} : {}",
                    response.http_error()
                )));
            }
            response.bytes().await
        })
        .map_err(
            |failure| match failure.msg.strip_prefix("Request failed: ") {
                Some(reason) => format!("Failed lookup url for {term} : {reason}"),
                None => failure.msg,
            },
        )?;
        let body = String::from_utf8_lossy(&body).into_owned();
        if flag("split_lines", true) {
            out.extend(crate::py::splitlines(&body));
        } else {
            out.push(body);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn no_proxy_matches_names_suffixes_and_star_as_python_does() {
        assert!(bypassed("*", "a.example", 443));
        assert!(bypassed("example.com", "example.com", 80));
        assert!(bypassed(".example.com", "api.example.com", 80));
        assert!(bypassed("example.com", "api.example.com", 80));
        assert!(bypassed(" other, 10.0.0.1:8443", "10.0.0.1", 8443));
        assert!(!bypassed("example.com", "badexample.com", 80));
        assert!(!bypassed("", "example.com", 80));
    }

    #[test]
    fn proxy_comes_from_the_scheme_variable_lower_case_first() {
        let env = env_of(&[
            ("https_proxy", "http://u:p%40ss@proxy:3128"),
            ("HTTPS_PROXY", "http://other:1"),
            ("no_proxy", "internal"),
        ]);
        let proxy = proxy_from(&env, "https", "api.example", 443)
            .unwrap()
            .unwrap();
        assert_eq!(proxy.host, "proxy");
        assert_eq!(proxy.port, 3128);
        assert_eq!(proxy.auth.as_deref(), Some("Basic dTpwQHNz"));
        assert_eq!(proxy_from(&env, "http", "api.example", 80).unwrap(), None);
        assert_eq!(proxy_from(&env, "https", "x.internal", 443).unwrap(), None);
        let cgi = env_of(&[("HTTP_PROXY", "p:1"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(proxy_from(&cgi, "http", "h", 80).unwrap(), None);
        let bare = env_of(&[("http_proxy", "proxy.local:8080")]);
        assert_eq!(
            proxy_from(&bare, "http", "h", 80).unwrap().unwrap().port,
            8080
        );
    }

    #[test]
    fn redirect_policy_follows_ansible() {
        assert!(!follows(Redirects::None, 302, "GET"));
        assert!(follows(Redirects::Safe, 301, "HEAD"));
        assert!(!follows(Redirects::Safe, 307, "POST"));
        assert!(follows(Redirects::All, 307, "PUT"));
        assert!(follows(Redirects::Urllib2, 303, "POST"));
        assert!(!follows(Redirects::Urllib2, 307, "POST"));
    }

    #[test]
    fn credentials_are_taken_out_of_the_url() {
        let (url, creds) = parse_url("https://me:s%3Acret@example.com/x").unwrap();
        assert_eq!(url.as_str(), "https://example.com/x");
        assert_eq!(creds, Some(("me".into(), "s:cret".into())));
        assert!(parse_url("ftp://h/x")
            .unwrap_err()
            .msg
            .contains("unknown url type: ftp"));
    }

    #[test]
    fn netrc_gives_the_machine_entry_else_the_default() {
        let text = "machine other login o password p\nmachine api.example\n  login hook\n  password s3cret\ndefault login anon password x\n";
        assert_eq!(
            netrc_entry(text, "api.example"),
            Some(("hook".into(), "s3cret".into()))
        );
        assert_eq!(
            netrc_entry(text, "elsewhere"),
            Some(("anon".into(), "x".into()))
        );
        assert_eq!(netrc_entry("machine a login b", "a"), None);
    }

    #[tokio::test]
    async fn a_refused_connection_is_worded_as_urllib() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut request = Request::get(&format!("http://127.0.0.1:{port}/"));
        request.use_proxy = false;
        let Err(failure) = send(&request).await else {
            panic!("nothing listens there")
        };
        assert_eq!(
            failure.msg,
            "Request failed: <urlopen error [Errno 111] Connection refused>"
        );
    }
}
