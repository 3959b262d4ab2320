//! An HTTP and HTTPS test server with its own CA, and an HTTP proxy, for the HTTP modules.
//!
//! [`HttpServer::start`] serves plain HTTP and HTTPS (a fresh CA, as the Kubernetes API test
//! server makes, signing a certificate for `127.0.0.1`, `localhost` and any extra addresses,
//! such as the host side of a lab VM's link) on all addresses, so a VM reaches it at its host
//! address. HTTPS accepts an optional client certificate (one signed by the same CA is
//! written beside the CA file). It runs on a thread and runtime of its own (sync and async
//! tests alike) and records every request it answers.
//!
//! Routes:
//! - `/status/N`: answers N with its standard reason and body `status N`.
//! - `/redirect/N?to=URL`: a redirect N to URL (default `/json`); `/loop`: redirects to itself.
//! - `/basic/USER/PASS`: 401 with a Basic challenge unless those credentials come; then JSON.
//! - `/json`: `{"name": "lab", "items": [1, 2, 3]}` as `application/json`.
//! - `/echo`: the request as JSON (`method`, `headers` lower-cased, `body`).
//! - `/bytes/N`: N bytes (`i % 251`), streamed in 64 KiB pieces, with `Content-Length`.
//! - `/hang`: never answers; `/stall`: sends the head and 10 bytes of 1000, then nothing.
//! - `/files/NAME`: a file given with [`HttpServer::add_file`]; `/attachment/NAME` the same
//!   with `Content-Disposition: attachment; filename="NAME"`.
//! - `/cookie`: sets `session=lab1` and redirects to `/json`.
//! - `/client-cert`: 200 when the TLS client presented a certificate, else 403.
//!
//! [`HttpProxy::start`] is a forwarding proxy: absolute-form requests and `CONNECT` tunnels,
//! recording each target, optionally asking for `Proxy-Authorization`.

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub tls: bool,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    files: Mutex<BTreeMap<String, Vec<u8>>>,
}

/// The running server; stops when dropped.
pub struct HttpServer {
    http_port: u16,
    https_port: u16,
    dir: tempfile::TempDir,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Starts on free ports of every address; the certificate names 127.0.0.1, localhost and
    /// `extra` addresses.
    pub fn start(extra: &[Ipv4Addr]) -> Result<HttpServer> {
        let (ca_der, ca_pem, issuer) = crate::kube_api::tls::certificate_authority()?;
        let mut names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        names.extend(extra.iter().map(Ipv4Addr::to_string));
        let (server_der, server_key) = leaf(&issuer, names, "lab-https", true)?;
        let (client_der, client_key) = leaf(&issuer, Vec::new(), "lab-client", false)?;
        let dir = tempfile::Builder::new()
            .prefix("hr-lab-http-")
            .tempdir()
            .context("temp dir of the HTTP test server")?;
        std::fs::write(dir.path().join("ca.pem"), &ca_pem)?;
        std::fs::write(
            dir.path().join("client.pem"),
            pem("CERTIFICATE", &client_der),
        )?;
        std::fs::write(
            dir.path().join("client.key"),
            pem("PRIVATE KEY", client_key.secret_der()),
        )?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_der.clone()).context("the lab CA as a root")?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .context("client certificate verifier")?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_der, ca_der], server_key)
            .context("server certificate of the HTTP test server")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let http = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        let https = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        http.set_nonblocking(true)?;
        https.set_nonblocking(true)?;
        let (http_port, https_port) = (http.local_addr()?.port(), https.local_addr()?.port());
        let state = Arc::new(State::default());
        let (shutdown, mut stop) = oneshot::channel::<()>();
        let shared = state.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("runtime of the HTTP test server")?;
        let thread = std::thread::Builder::new()
            .name("lab-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let http = TcpListener::from_std(http).expect("tokio listener");
                    let https = TcpListener::from_std(https).expect("tokio listener");
                    loop {
                        tokio::select! {
                            _ = &mut stop => break,
                            Ok((stream, _)) = http.accept() => {
                                tokio::spawn(serve(TokioIo::new(stream), shared.clone(), false, false));
                            }
                            Ok((stream, _)) = https.accept() => {
                                let acceptor = acceptor.clone();
                                let shared = shared.clone();
                                tokio::spawn(async move {
                                    if let Ok(tls) = acceptor.accept(stream).await {
                                        let cert = tls.get_ref().1.peer_certificates().is_some();
                                        serve(TokioIo::new(tls), shared, true, cert).await;
                                    }
                                });
                            }
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(HttpServer {
            http_port,
            https_port,
            dir,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `http://HOST:PORT/PATH`.
    pub fn http_url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.http_port)
    }

    /// `https://HOST:PORT/PATH`.
    pub fn https_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.https_port)
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// The CA certificate (PEM) to trust.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A client certificate (PEM) and its key, signed by the CA.
    pub fn client_cert_files(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("client.pem"),
            self.dir.path().join("client.key"),
        )
    }

    /// Serves `content` at `/files/NAME` and `/attachment/NAME`.
    pub fn add_file(&self, name: &str, content: &[u8]) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(name.to_string(), content.to_vec());
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The requests whose target starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.target.starts_with(prefix))
            .collect()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn leaf(
    issuer: &rcgen::Issuer<'static, KeyPair>,
    names: Vec<String>,
    cn: &str,
    server: bool,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let mut params = CertificateParams::new(names).context("certificate parameters")?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let key = KeyPair::generate().context("key")?;
    let cert = params.signed_by(&key, issuer).context("signing")?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert.der().clone(), key_der))
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

type Body = BoxBody<Bytes, Infallible>;

async fn serve<I>(io: I, state: Arc<State>, tls: bool, client_cert: bool)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(route(req, state, tls, client_cert).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

async fn route(
    req: Request<Incoming>,
    state: Arc<State>,
    tls: bool,
    client_cert: bool,
) -> Response<Body> {
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let seen = Seen {
        method: method.clone(),
        target,
        headers: headers.clone(),
        body: body.clone(),
        tls,
    };
    state.seen.lock().unwrap().push(seen.clone());
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["status", code] => {
            let code: u16 = code.parse().unwrap_or(500);
            full(code, "text/plain", format!("status {code}"))
        }
        ["redirect", code] => {
            let to = url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "to")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| "/json".into());
            Response::builder()
                .status(code.parse::<u16>().unwrap_or(302))
                .header("Location", to)
                .body(Full::new(Bytes::new()).boxed())
                .unwrap()
        }
        ["loop"] => Response::builder()
            .status(302)
            .header("Location", "/loop")
            .body(Full::new(Bytes::new()).boxed())
            .unwrap(),
        ["basic", user, pass] => {
            use base64::Engine as _;
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            );
            if seen.header("authorization") == Some(expected.as_str()) {
                full(200, "application/json", format!("{{\"user\": \"{user}\"}}"))
            } else {
                Response::builder()
                    .status(401)
                    .header("WWW-Authenticate", "Basic realm=\"lab\"")
                    .body(Full::new(Bytes::from_static(b"who are you?")).boxed())
                    .unwrap()
            }
        }
        ["json"] => full(
            200,
            "application/json",
            "{\"name\": \"lab\", \"items\": [1, 2, 3]}",
        ),
        ["echo"] => {
            let mut header_map = serde_json::Map::new();
            for (n, v) in &headers {
                header_map.insert(n.clone(), serde_json::Value::String(v.clone()));
            }
            let echo = serde_json::json!({
                "method": method,
                "headers": header_map,
                "body": String::from_utf8_lossy(&body),
            });
            full(200, "application/json", echo.to_string())
        }
        ["bytes", n] => {
            let total: usize = n.parse().unwrap_or(0);
            let stream = futures_like_stream(total);
            Response::builder()
                .status(200)
                .header("Content-Type", "application/octet-stream")
                .header("Content-Length", total.to_string())
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .unwrap()
        }
        ["hang"] => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            full(200, "text/plain", "late")
        }
        ["stall"] => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
            tokio::spawn(async move {
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from_static(b"0123456789"))))
                    .await;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(tx);
            });
            Response::builder()
                .status(200)
                .header("Content-Length", "1000")
                .body(BodyExt::boxed(StreamBody::new(tokio_stream_of(rx))))
                .unwrap()
        }
        ["files", name] | ["attachment", name] => {
            let content = state.files.lock().unwrap().get(*name).cloned();
            match content {
                None => full(404, "text/plain", "no such file"),
                Some(content) => {
                    let mut builder = Response::builder()
                        .status(200)
                        .header("Content-Type", "application/octet-stream");
                    if parts[0] == "attachment" {
                        builder = builder.header(
                            "Content-Disposition",
                            format!("attachment; filename=\"{name}\""),
                        );
                    }
                    builder
                        .body(Full::new(Bytes::from(content)).boxed())
                        .unwrap()
                }
            }
        }
        ["cookie"] => Response::builder()
            .status(302)
            .header("Set-Cookie", "session=lab1; Path=/")
            .header("Location", "/json")
            .body(Full::new(Bytes::new()).boxed())
            .unwrap(),
        ["client-cert"] if client_cert => full(200, "text/plain", "hello, client"),
        ["client-cert"] => full(403, "text/plain", "a client certificate is required"),
        _ => full(404, "text/plain", "not found"),
    }
}

/// `total` bytes of `i % 251` in 64 KiB frames.
fn futures_like_stream(
    total: usize,
) -> impl futures_core_like::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    tokio::spawn(async move {
        let mut sent = 0usize;
        while sent < total {
            let n = (total - sent).min(64 * 1024);
            let chunk: Vec<u8> = (sent..sent + n).map(|i| (i % 251) as u8).collect();
            if tx.send(Ok(Frame::data(Bytes::from(chunk)))).await.is_err() {
                return;
            }
            sent += n;
        }
    });
    tokio_stream_of(rx)
}

/// A receiver as a stream of frames.
fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl futures_core_like::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + 'static {
    futures_core_like::from_fn(move |cx| rx.poll_recv(cx))
}

/// The one piece of a stream type the server needs, without a futures dependency.
mod futures_core_like {
    pub use futures_core::Stream;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub struct FromFn<F>(F);

    pub fn from_fn<T, F>(f: F) -> FromFn<F>
    where
        F: FnMut(&mut Context<'_>) -> Poll<Option<T>>,
    {
        FromFn(f)
    }

    impl<T, F> Stream for FromFn<F>
    where
        F: FnMut(&mut Context<'_>) -> Poll<Option<T>> + Unpin,
    {
        type Item = T;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            (self.0)(cx)
        }
    }
}

/// What the proxy saw: `CONNECT host:port` or `GET http://...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySeen {
    pub request_line: String,
    pub proxy_authorization: Option<String>,
}

/// A forwarding HTTP proxy; stops when dropped.
pub struct HttpProxy {
    port: u16,
    seen: Arc<Mutex<Vec<ProxySeen>>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpProxy {
    /// Starts on a free port of every address. With `credentials` (`user:pass`), requests
    /// without that `Proxy-Authorization` get a 407.
    pub fn start(credentials: Option<&str>) -> Result<HttpProxy> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = seen.clone();
        let expected = credentials.map(|c| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        });
        let (shutdown, mut stop) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("lab-proxy".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("tokio listener");
                    loop {
                        tokio::select! {
                            _ = &mut stop => break,
                            Ok((stream, _)) = listener.accept() => {
                                tokio::spawn(proxy_one(stream, shared.clone(), expected.clone()));
                            }
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(HttpProxy {
            port,
            seen,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://HOST:PORT`.
    pub fn url(&self, host: &str) -> String {
        format!("http://{host}:{}", self.port)
    }

    pub fn seen(&self) -> Vec<ProxySeen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn proxy_one(
    mut client: TcpStream,
    seen: Arc<Mutex<Vec<ProxySeen>>>,
    expected: Option<String>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        if head.len() > 65536 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("").to_string();
    let auth = lines.clone().find_map(|l| {
        l.split_once(':')
            .filter(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization"))
            .map(|(_, v)| v.trim().to_string())
    });
    seen.lock().unwrap().push(ProxySeen {
        request_line: request_line.clone(),
        proxy_authorization: auth.clone(),
    });
    if expected.is_some() && auth != expected {
        let _ = client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"lab\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    }
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    if method == "CONNECT" {
        let Some(addr) = resolve(target).await else {
            return;
        };
        let Ok(mut upstream) = TcpStream::connect(addr).await else {
            let _ = client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await;
            return;
        };
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }
    let Ok(url) = url::Url::parse(target) else {
        let _ = client
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    let authority = format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(80)
    );
    let Some(addr) = resolve(&authority).await else {
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(addr).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    let mut origin = url.path().to_string();
    if let Some(q) = url.query() {
        origin.push('?');
        origin.push_str(q);
    }
    let rest: Vec<&str> = text
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.to_ascii_lowercase().starts_with("proxy-authorization:"))
        .collect();
    let forwarded = format!(
        "{method} {origin} {}\r\n{}",
        parts.next().unwrap_or("HTTP/1.1"),
        rest.join("\r\n")
    );
    if upstream.write_all(forwarded.as_bytes()).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

async fn resolve(authority: &str) -> Option<SocketAddr> {
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_matches(['[', ']']);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port)).await.ok()?.next()
}
