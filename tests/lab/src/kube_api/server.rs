//! The network side: a TLS listener on loopback serving HTTP/2 and HTTP/1.1 with hyper, on a
//! runtime of its own so that synchronous tests can use the server too.
//!
//! Every request is read whole, checked against the scripted faults ([`super::faults`]),
//! answered by [`super::router::route`] under the state lock, and
//! recorded with the status it got. The accept loop ends when the shutdown signal fires (the
//! handle was dropped); dropping the runtime then closes every open connection.

use super::faults::{self, FaultAction};
use super::router::{route, Reply};
use super::{RecordedRequest, Shared};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;

/// Bodies larger than this are refused (413); real requests here are small.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Runs the accept loop on the current runtime until `shutdown` fires.
pub(crate) async fn serve(
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("kube_api: cannot use the listening socket: {error}");
            return;
        }
    };
    let acceptor = TlsAcceptor::from(tls);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(acceptor.clone(), stream, shared.clone()));
                }
                // Out of file descriptors and the like: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

async fn serve_connection(
    acceptor: TlsAcceptor,
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
) {
    // A client that rejects the certificate ends the handshake: nothing to serve.
    let Ok(tls_stream) = acceptor.accept(stream).await else {
        return;
    };
    let service = hyper::service::service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle(&shared, request).await) }
    });
    // Connection errors (client went away) concern nobody but the client.
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls_stream), service)
        .await;
}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let received = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => {
            return respond(&Reply {
                code: 413,
                content_type: "text/plain",
                body: b"request body too large or broken\n".to_vec(),
            })
        }
    };
    let mut recorded = RecordedRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        http_version: format!("{:?}", parts.version),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        status: 0,
        received,
    };
    let fault = shared.lock().faults.take(&recorded.method, &recorded.path);
    let retry_after = match fault {
        Some(FaultAction::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            None
        }
        Some(FaultAction::Status { code, retry_after }) => {
            recorded.status = code;
            shared.lock().requests.push(recorded);
            let reply = Reply {
                code,
                content_type: "application/json",
                body: faults::status_body(code),
            };
            return with_retry_after(respond(&reply), retry_after.as_deref());
        }
        None => None,
    };
    let mut state = shared.lock();
    let reply = route(&mut state, &shared.address, &recorded);
    recorded.status = reply.code;
    state.requests.push(recorded);
    drop(state);
    with_retry_after(respond(&reply), retry_after)
}

/// Adds a `Retry-After` header (as given, even malformed) to a response.
fn with_retry_after(
    mut response: Response<Full<Bytes>>,
    retry_after: Option<&str>,
) -> Response<Full<Bytes>> {
    if let Some(value) = retry_after.and_then(|v| hyper::header::HeaderValue::from_str(v).ok()) {
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, value);
    }
    response
}

fn respond(reply: &Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body.clone())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(reply.code).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = hyper::header::HeaderValue::from_str(reply.content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
