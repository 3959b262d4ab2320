//! The HTTP modules (`uri`, `get_url`) and the `url` lookup against the lab's HTTPS server
//! with its own CA ([`lab::http_server`]): on localhost (the hook pod's way: in-process Rust,
//! no curl) and on a lab systemd VM (the target's curl, in one round trip), which reaches the
//! server at the host's lab address. Status codes, redirects, basic auth, JSON and form bodies,
//! client certificates, large downloads with checksums, a server that hangs (the timeout
//! fires), proxies from the task's environment.
//!
//! The VM tests need root and the lab VM's host commands (a failure with `CI=true`, a loud
//! skip otherwise). The base VM has neither curl nor wget: one test checks the message that
//! says so, the others copy the host's curl (Debian bookworm, as the VM) into the VM first.

use crate::modules_common;
// Shared with tests/differential.rs; this binary uses a part of it.
use crate::harness;

use hook_runner::connection::local::LocalConnection;
use hook_runner::template::{Scope, Templar};
use hook_runner::Map;
use lab::http_server::{HttpProxy, HttpServer};
use lab::vm::{Vm, HOST_COMMANDS};
use modules_common::{boot_vm, connect, control_dir, Runner};
use serde_json::{json, Value};
use sha2::Digest as _;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// SHA-1 of no bytes.
const EMPTY_SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

fn server() -> HttpServer {
    HttpServer::start(&[]).expect("the lab HTTP server starts")
}

fn ca(server: &HttpServer) -> String {
    server.ca_file().display().to_string()
}

/// The task environment that keeps a proxy of the test machine out of the way.
fn no_proxy_env() -> Vec<(String, String)> {
    vec![("no_proxy".into(), "*".into())]
}

fn msg(result: &Map) -> &str {
    result.get("msg").and_then(Value::as_str).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_on_localhost_gets_json_over_https_trusting_the_lab_ca() {
    let server = server();
    let conn = LocalConnection::new();
    let r = Runner::new(&conn);
    let url = server.https_url("127.0.0.1", "/json");
    let result = r
        .run_with_env(
            "uri",
            json!({"url": url, "ca_path": ca(&server)}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(result.get("failed"), None, "{result:?}");
    assert_eq!(result["status"], 200);
    assert_eq!(result["json"], json!({"name": "lab", "items": [1, 2, 3]}));
    assert_eq!(result["msg"], "OK (35 bytes)");
    assert_eq!(result["content_type"], "application/json");
    assert_eq!(result["content_length"], "35");
    assert_eq!(result["redirected"], false);
    assert_eq!(result["changed"], false);
    assert_eq!(result["url"], url);
    assert_eq!(result["cookies"], json!({}));
    assert!(result.get("content").is_none());
    let seen = server.requests_to("/json");
    assert_eq!(seen.len(), 1);
    assert!(seen[0].tls);
    assert_eq!(seen[0].header("user-agent"), Some("ansible-httpget"));

    // The system trust store does not know the lab CA.
    let result = r
        .run_with_env("uri", json!({"url": url}), false, no_proxy_env())
        .await;
    assert_eq!(result["failed"], true);
    assert_eq!(result["status"], -1);
    assert!(
        msg(&result).starts_with(
            "Status code was -1 and not [200]: Request failed: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED]"
        ),
        "{result:?}"
    );
    let result = r
        .run_with_env(
            "uri",
            json!({"url": url, "validate_certs": false, "return_content": true}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    assert_eq!(
        result["content"],
        "{\"name\": \"lab\", \"items\": [1, 2, 3]}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_on_localhost_status_codes_redirects_and_cookies() {
    let server = server();
    let conn = LocalConnection::new();
    let r = Runner::new(&conn);
    let base = |path: &str| server.http_url("127.0.0.1", path);
    let env = no_proxy_env;

    let result = r
        .run_with_env("uri", json!({"url": base("/status/404")}), false, env())
        .await;
    assert_eq!(result["failed"], true);
    assert_eq!(result["status"], 404);
    assert_eq!(
        result["msg"],
        "Status code was 404 and not [200]: HTTP Error 404: Not Found"
    );
    let result = r
        .run_with_env(
            "uri",
            json!({"url": base("/status/404"), "status_code": [200, "404"], "return_content": true}),
            false,
            env(),
        )
        .await;
    assert_eq!(result.get("failed"), None, "{result:?}");
    assert_eq!(result["msg"], "HTTP Error 404: Not Found");
    assert_eq!(result["content"], "status 404");
    let result = r
        .run_with_env(
            "uri",
            json!({"url": base("/status/503"), "status_code": "200,201"}),
            false,
            env(),
        )
        .await;
    assert_eq!(
        result["msg"],
        "Status code was 503 and not [200, 201]: HTTP Error 503: Service Unavailable"
    );

    // GET follows (safe); `none` answers with the redirect and an absolute location.
    let result = r
        .run_with_env("uri", json!({"url": base("/redirect/302")}), false, env())
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    assert_eq!(result["url"], base("/json"));
    assert_eq!(result["redirected"], true);
    let result = r
        .run_with_env(
            "uri",
            json!({"url": base("/redirect/301"), "follow_redirects": "none", "status_code": 301}),
            false,
            env(),
        )
        .await;
    assert_eq!(result["status"], 301, "{result:?}");
    assert_eq!(result["location"], base("/json"));
    assert_eq!(result["msg"], "HTTP Error 301: Moved Permanently");
    assert_eq!(result["redirected"], false);
    // POST: `safe` does not follow; `all` keeps method and body through a 307.
    let post = |follow: &str| {
        json!({"url": base("/redirect/307?to=/echo"), "method": "POST", "body": "x=1",
               "follow_redirects": follow, "status_code": [200, 307]})
    };
    let result = r.run_with_env("uri", post("safe"), false, env()).await;
    assert_eq!(result["status"], 307, "{result:?}");
    let result = r.run_with_env("uri", post("all"), false, env()).await;
    assert_eq!(result["status"], 200, "{result:?}");
    assert_eq!(result["json"]["method"], "POST");
    assert_eq!(result["json"]["body"], "x=1");
    // A loop ends as urllib ends it.
    let result = r
        .run_with_env("uri", json!({"url": base("/loop")}), false, env())
        .await;
    assert_eq!(result["status"], 302);
    assert!(
        msg(&result).starts_with("Status code was 302 and not [200]: HTTP Error 302: The HTTP server returned a redirect error that would lead to an infinite loop."),
        "{result:?}"
    );
    // Cookies set on the way are returned.
    let result = r
        .run_with_env("uri", json!({"url": base("/cookie")}), false, env())
        .await;
    assert_eq!(result["cookies"], json!({"session": "lab1"}), "{result:?}");
    assert_eq!(result["cookies_string"], "session=lab1");
    let last = server.requests_to("/json").pop().unwrap();
    assert_eq!(last.header("cookie"), Some("session=lab1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_on_localhost_basic_auth_bodies_and_client_certificates() {
    let server = server();
    let conn = LocalConnection::new();
    let r = Runner::new(&conn);
    let env = no_proxy_env;
    let url = server.https_url("localhost", "/basic/hook/s3cret");
    // Without force: the first request carries no credentials, the 401 challenge gets them.
    let result = r
        .run_with_env(
            "uri",
            json!({"url": url, "ca_path": ca(&server), "url_username": "hook", "url_password": "s3cret"}),
            false,
            env(),
        )
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    assert_eq!(result["json"]["user"], "hook");
    let seen = server.requests_to("/basic/");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("authorization"), None);
    assert!(seen[1].header("authorization").is_some());
    // force_basic_auth: one request, credentials up front.
    let result = r
        .run_with_env(
            "uri",
            json!({"url": url, "ca_path": ca(&server), "user": "hook", "password": "s3cret", "force_basic_auth": true}),
            false,
            env(),
        )
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    assert_eq!(server.requests_to("/basic/").len(), 3);
    let result = r
        .run_with_env(
            "uri",
            json!({"url": url, "ca_path": ca(&server), "user": "hook", "password": "wrong"}),
            false,
            env(),
        )
        .await;
    assert_eq!(
        result["msg"],
        "Status code was 401 and not [200]: HTTP Error 401: Unauthorized"
    );
    assert!(
        !format!("{result:?}").contains("wrong\""),
        "no password in the result"
    );

    // Bodies.
    let echo = server.https_url("127.0.0.1", "/echo");
    let result = r
        .run_with_env(
            "uri",
            json!({"url": echo, "ca_path": ca(&server), "method": "POST", "body_format": "json",
                   "body": {"vm": "db1", "n": 2}, "headers": {"X-Hook": "post-migration"}}),
            false,
            env(),
        )
        .await;
    assert_eq!(
        result["json"]["body"], "{\"vm\": \"db1\", \"n\": 2}",
        "{result:?}"
    );
    assert_eq!(
        result["json"]["headers"]["content-type"],
        "application/json"
    );
    assert_eq!(result["json"]["headers"]["x-hook"], "post-migration");
    let result = r
        .run_with_env(
            "uri",
            json!({"url": echo, "ca_path": ca(&server), "method": "PUT", "body_format": "form-urlencoded",
                   "body": {"name": "a b", "tags": ["x", "y"]}}),
            false,
            env(),
        )
        .await;
    assert_eq!(result["json"]["method"], "PUT");
    assert_eq!(result["json"]["body"], "name=a+b&tags=x&tags=y");
    assert_eq!(
        result["json"]["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    // raw (the default format): the string goes as it is, with the task's content type.
    let result = r
        .run_with_env(
            "uri",
            json!({"url": echo, "ca_path": ca(&server), "method": "POST", "body_format": "raw",
                   "body": "vm=db1;n=2", "headers": {"Content-Type": "text/plain"}}),
            false,
            env(),
        )
        .await;
    assert_eq!(result["json"]["body"], "vm=db1;n=2", "{result:?}");
    assert_eq!(result["json"]["headers"]["content-type"], "text/plain");
    let result = r
        .run_with_env("uri", json!({"url": echo, "method": "GET X"}), false, env())
        .await;
    assert_eq!(
        result["msg"],
        "Parameter 'method' needs to be a single word in uppercase, like GET or POST."
    );

    // Client certificates.
    let (cert, key) = server.client_cert_files();
    let client = server.https_url("127.0.0.1", "/client-cert");
    let result = r
        .run_with_env(
            "uri",
            json!({"url": client, "ca_path": ca(&server), "client_cert": cert, "client_key": key}),
            false,
            env(),
        )
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    let result = r
        .run_with_env(
            "uri",
            json!({"url": client, "ca_path": ca(&server)}),
            false,
            env(),
        )
        .await;
    assert_eq!(result["status"], 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_on_localhost_writes_dest_uploads_src_and_honours_creates() {
    let server = server();
    let conn = LocalConnection::new();
    let r = Runner::new(&conn);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("answer.json");
    let args = json!({"url": server.http_url("127.0.0.1", "/json"), "dest": dest, "mode": "0600"});
    let result = r
        .run_with_env("uri", args.clone(), false, no_proxy_env())
        .await;
    assert_eq!(result["changed"], true, "{result:?}");
    assert_eq!(result["path"], dest.display().to_string());
    assert_eq!(result["mode"], "0600");
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        "{\"name\": \"lab\", \"items\": [1, 2, 3]}"
    );
    // Ansible says changed whenever it writes dest; the file's time goes out as
    // If-Modified-Since.
    let again = r.run_with_env("uri", args, false, no_proxy_env()).await;
    assert_eq!(again["changed"], true);
    let last = server.requests_to("/json").pop().unwrap();
    assert!(last.header("if-modified-since").is_some());
    // A status that is not accepted leaves dest alone.
    let failed = r
        .run_with_env(
            "uri",
            json!({"url": server.http_url("127.0.0.1", "/status/500"), "dest": dest}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(failed["failed"], true);
    assert!(std::fs::read_to_string(&dest).unwrap().contains("lab"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
    // creates / removes.
    let skipped = r
        .run_with_env(
            "uri",
            json!({"url": server.http_url("127.0.0.1", "/status/500"), "creates": dest}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(
        skipped["stdout"],
        format!("skipped, since '{}' exists", dest.display())
    );
    assert_eq!(skipped["changed"], false);
    let missing = dir.path().join("nothing");
    let skipped = r
        .run_with_env(
            "uri",
            json!({"url": server.http_url("127.0.0.1", "/status/500"), "removes": missing}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(
        skipped["stdout"],
        format!("skipped, since '{}' does not exist", missing.display())
    );
    // src: the file is the body.
    let upload = dir.path().join("upload.txt");
    std::fs::write(&upload, "payload from a file\n").unwrap();
    let result = r
        .run_with_env(
            "uri",
            json!({"url": server.http_url("127.0.0.1", "/echo"), "method": "POST", "src": upload,
                   "headers": {"Content-Type": "text/plain"}}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(
        result["json"]["body"], "payload from a file\n",
        "{result:?}"
    );
    assert_eq!(result["json"]["headers"]["content-type"], "text/plain");
    // Check mode: uri does not support it, as in Ansible.
    let result = r
        .run_with_env(
            "uri",
            json!({"url": server.http_url("127.0.0.1", "/json")}),
            true,
            no_proxy_env(),
        )
        .await;
    assert_eq!(result["skipped"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_and_get_url_on_localhost_time_out_on_a_hanging_server() {
    let server = server();
    let conn = LocalConnection::new();
    let r = Runner::new(&conn);
    let started = Instant::now();
    let result = r
        .run_with_env(
            "uri",
            json!({"url": server.http_url("127.0.0.1", "/hang"), "timeout": 2}),
            false,
            no_proxy_env(),
        )
        .await;
    let took = started.elapsed();
    assert_eq!(
        result["msg"],
        "Status code was -1 and not [200]: Connection failure: timed out"
    );
    assert_eq!(result["status"], -1);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // A body that stops coming: the timeout bounds each wait, not the whole download.
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("stalled");
    let started = Instant::now();
    let result = r
        .run_with_env(
            "get_url",
            json!({"url": server.http_url("127.0.0.1", "/stall"), "dest": dest, "timeout": 2}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(result["failed"], true, "{result:?}");
    assert_eq!(result["msg"], "Connection failure: timed out");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!dest.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "no temp file is left: {leftovers:?}");
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_url_on_localhost_large_download_checksum_and_idempotence() {
    let server = server();
    let conn = LocalConnection::new();
    let r = Runner::new(&conn);
    let size = 24 * 1024 * 1024;
    let expected = pattern(size);
    let sha256 = hex::encode(sha2::Sha256::digest(&expected));
    let sha1 = hex::encode(sha1::Sha1::digest(&expected));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("big.bin");
    let url = server.https_url("127.0.0.1", &format!("/bytes/{size}"));
    // get_url has no ca_path (ansible-core 2.18): TLS without verification, then plain HTTP.
    let args = json!({"url": url, "dest": dest, "validate_certs": false,
                      "checksum": format!("sha256:{sha256}"), "mode": "0640"});
    let result = r
        .run_with_env("get_url", args.clone(), false, no_proxy_env())
        .await;
    assert_eq!(result.get("failed"), None, "{result:?}");
    assert_eq!(result["changed"], true);
    assert_eq!(result["checksum_src"], sha1);
    assert_eq!(result["checksum_dest"], Value::Null);
    assert_eq!(result["status_code"], 200);
    assert_eq!(result["msg"], format!("OK ({size} bytes)"));
    assert_eq!(result["mode"], "0640");
    assert_eq!(result["size"], size);
    assert_eq!(result["md5sum"], hex::encode(md5::Md5::digest(&expected)));
    assert!(std::fs::read(&dest).unwrap() == expected);
    // With the checksum matching, nothing is downloaded again.
    let before = server.requests().len();
    let result = r
        .run_with_env("get_url", args.clone(), false, no_proxy_env())
        .await;
    assert_eq!(result["changed"], false, "{result:?}");
    assert_eq!(result["msg"], "file already exists");
    assert_eq!(server.requests().len(), before);
    // A download that does not match fails and leaves the file alone.
    std::fs::write(&dest, b"old").unwrap();
    let wrong = json!({"url": url, "dest": dest, "validate_certs": false,
                       "checksum": format!("sha256:{}", "0".repeat(64))});
    let result = r
        .run_with_env("get_url", wrong, false, no_proxy_env())
        .await;
    assert_eq!(result["failed"], true);
    assert!(
        msg(&result).contains(&format!(
            "did not match {}; it was {sha256}.",
            "0".repeat(64)
        )),
        "{result:?}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp file left"
    );
    // A checksum file by URL.
    server.add_file("big.bin", &expected);
    server.add_file(
        "SHA256SUMS",
        format!("{}  other\n{sha256}  big.bin\n", "1".repeat(64)).as_bytes(),
    );
    let by_url = json!({"url": server.http_url("127.0.0.1", "/files/big.bin"), "dest": dest,
                        "checksum": format!("sha256:{}", server.http_url("127.0.0.1", "/files/SHA256SUMS"))});
    let result = r
        .run_with_env("get_url", by_url, false, no_proxy_env())
        .await;
    assert_eq!(result["changed"], true, "{result:?}");
    assert!(std::fs::read(&dest).unwrap() == expected);
    // Check mode tells, and changes nothing.
    std::fs::write(&dest, b"old").unwrap();
    let plain = json!({"url": url, "dest": dest, "validate_certs": false});
    let result = r.run_with_env("get_url", plain, true, no_proxy_env()).await;
    assert_eq!(result["changed"], true, "{result:?}");
    // A HEAD answer has no body: Ansible's checksum_src is then the SHA-1 of nothing.
    assert_eq!(result["checksum_src"], EMPTY_SHA1);
    assert_eq!(std::fs::read(&dest).unwrap(), b"old");
    assert_eq!(server.requests().last().unwrap().method, "HEAD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_url_on_localhost_into_a_directory_and_failures() {
    let server = server();
    let conn = LocalConnection::new();
    let r = Runner::new(&conn);
    server.add_file("report.txt", b"report\n");
    let dir = tempfile::tempdir().unwrap();
    let result = r
        .run_with_env(
            "get_url",
            json!({"url": server.http_url("127.0.0.1", "/attachment/report.txt"), "dest": dir.path()}),
            false,
            no_proxy_env(),
        )
        .await;
    let dest = dir.path().join("report.txt");
    assert_eq!(result["dest"], dest.display().to_string(), "{result:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"report\n");
    // Again: same bytes, no change (the download happens: no checksum to compare first).
    let again = r
        .run_with_env(
            "get_url",
            json!({"url": server.http_url("127.0.0.1", "/files/report.txt"), "dest": dest}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(again["changed"], false, "{again:?}");
    assert!(server
        .requests_to("/files/report.txt")
        .last()
        .unwrap()
        .header("if-modified-since")
        .is_some());
    // force downloads again; backup keeps the file it replaces.
    server.add_file("report.txt", b"report, second edition\n");
    // The replacement is atomic: a reader that opened the old file keeps reading it whole.
    let mut reader = std::fs::File::open(&dest).unwrap();
    let forced = r
        .run_with_env(
            "get_url",
            json!({"url": server.http_url("127.0.0.1", "/files/report.txt"), "dest": dest,
                   "force": true, "backup": true, "headers": {"X-Hook": "pre"}}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(forced["changed"], true, "{forced:?}");
    let backup = forced["backup_file"]
        .as_str()
        .expect("a backup file")
        .to_string();
    assert_eq!(std::fs::read(&backup).unwrap(), b"report\n");
    assert_eq!(std::fs::read(&dest).unwrap(), b"report, second edition\n");
    let mut old = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut old).unwrap();
    assert_eq!(
        old, b"report\n",
        "dest was rewritten in place, not renamed over"
    );
    let seen = server.requests_to("/files/report.txt").pop().unwrap();
    assert_eq!(seen.header("cache-control"), Some("no-cache"));
    assert_eq!(seen.header("x-hook"), Some("pre"));
    std::fs::remove_file(&backup).unwrap();
    let missing = r
        .run_with_env(
            "get_url",
            json!({"url": server.http_url("127.0.0.1", "/status/404"), "dest": dir.path().join("x")}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(missing["msg"], "Request failed");
    assert_eq!(missing["status_code"], 404);
    assert_eq!(missing["response"], "HTTP Error 404: Not Found");
    let nodir = r
        .run_with_env(
            "get_url",
            json!({"url": server.http_url("127.0.0.1", "/json"), "dest": dir.path().join("no/such/x")}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(
        nodir["msg"],
        format!(
            "Destination {} does not exist",
            dir.path().join("no/such").display()
        )
    );
    let bad = r
        .run_with_env(
            "get_url",
            json!({"url": server.http_url("127.0.0.1", "/json"), "dest": dir.path().join("y"), "checksum": "abc"}),
            false,
            no_proxy_env(),
        )
        .await;
    assert_eq!(
        bad["msg"],
        "The checksum parameter has to be in format <algorithm>:<checksum>"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_on_localhost_goes_through_the_proxy_of_the_task_environment() {
    let server = server();
    let proxy = HttpProxy::start(Some("pu:pp")).expect("proxy");
    let conn = LocalConnection::new();
    let r = Runner::new(&conn);
    let proxy_url = format!("http://pu:pp@127.0.0.1:{}", proxy.port());
    let env = vec![
        ("https_proxy".to_string(), proxy_url.clone()),
        ("http_proxy".to_string(), proxy_url.clone()),
    ];
    // HTTPS: a CONNECT tunnel, TLS inside it.
    let url = server.https_url("127.0.0.1", "/json");
    let result = r
        .run_with_env(
            "uri",
            json!({"url": url, "ca_path": ca(&server)}),
            false,
            env.clone(),
        )
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].request_line,
        format!("CONNECT 127.0.0.1:{} HTTP/1.1", server.https_port())
    );
    assert_eq!(
        seen[0].proxy_authorization.as_deref(),
        Some("Basic cHU6cHA=")
    );
    // HTTP: the absolute URL to the proxy.
    let plain = server.http_url("127.0.0.1", "/json");
    let result = r
        .run_with_env("uri", json!({"url": plain}), false, env.clone())
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    assert_eq!(
        proxy.seen()[1].request_line,
        format!("GET {plain} HTTP/1.1")
    );
    // use_proxy: false and no_proxy go direct.
    let result = r
        .run_with_env(
            "uri",
            json!({"url": plain, "use_proxy": false}),
            false,
            env.clone(),
        )
        .await;
    assert_eq!(result["status"], 200);
    let mut bypass = env.clone();
    bypass.push(("no_proxy".into(), "localhost,127.0.0.1".into()));
    let result = r
        .run_with_env("uri", json!({"url": plain}), false, bypass)
        .await;
    assert_eq!(result["status"], 200);
    assert_eq!(proxy.seen().len(), 2, "the proxy saw only the first two");
    // A proxy that refuses the credentials.
    let wrong = vec![(
        "https_proxy".to_string(),
        format!("http://127.0.0.1:{}", proxy.port()),
    )];
    let result = r
        .run_with_env(
            "uri",
            json!({"url": url, "ca_path": ca(&server)}),
            false,
            wrong,
        )
        .await;
    assert_eq!(
        result["msg"],
        "Status code was -1 and not [200]: Request failed: <urlopen error Tunnel connection failed: 407 Proxy Authentication Required>"
    );
}

#[test]
fn url_lookup_reads_lines_and_words_errors_as_ansible() {
    let server = server();
    server.add_file("hosts.txt", b"db1\r\ndb2\nweb1\n");
    let templar = Templar::new();
    let vars = Map::new();
    let render = |expr: &str| {
        templar.render_str(
            expr,
            Scope {
                vars: &vars,
                search_paths: &[],
            },
        )
    };
    let url = server.http_url("127.0.0.1", "/files/hosts.txt");
    let out = render(&format!(
        "{{{{ lookup('url', '{url}', use_proxy=False) }}}}"
    ))
    .unwrap();
    assert_eq!(out, "db1,db2,web1");
    let out = render(&format!(
        "{{{{ lookup('ansible.builtin.url', '{url}', split_lines=False, use_proxy=False) | length }}}}"
    ))
    .unwrap();
    assert_eq!(out, "14");
    let json = server.https_url("127.0.0.1", "/json");
    let out = render(&format!(
        "{{{{ (lookup('url', '{json}', ca_path='{}', use_proxy=False) | from_json).items | sum }}}}",
        ca(&server)
    ))
    .unwrap();
    assert_eq!(out, "6");
    let missing = server.http_url("127.0.0.1", "/status/404");
    let err = render(&format!(
        "{{{{ lookup('url', '{missing}', use_proxy=False) }}}}"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!(
            "original message: Received HTTP error for {missing} : HTTP Error 404: Not Found"
        )),
        "{err}"
    );
}

/// The host's curl and the libraries it needs, as a tar archive rooted at `/`: host and VM are
/// both Debian bookworm.
fn curl_tarball() -> Vec<u8> {
    tool_tarball("curl")
}

/// `/usr/bin/TOOL` of the host and the libraries it needs, as a tar archive rooted at `/`.
fn tool_tarball(tool: &str) -> Vec<u8> {
    let binary = format!("/usr/bin/{tool}");
    let ldd = Command::new("ldd").arg(&binary).output().expect("ldd");
    let mut files = vec![binary.trim_start_matches('/').to_string()];
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        if let Some(path) = line.split_whitespace().find(|w| w.starts_with('/')) {
            files.push(path.trim_start_matches('/').to_string());
        }
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg("/")
        .arg("-chf")
        .arg("-")
        .args(&files)
        .output()
        .expect("tar");
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    tar.stdout
}

/// Copies the host's `tool` (curl, wget) into the VM (the VM keeps its own libraries where it
/// has them).
fn install_host_tool(vm: &Vm, tool: &str) {
    put(vm, "tar -C / --skip-old-files -xf -", &tool_tarball(tool));
    let out = vm.exec(&format!("{tool} --version"));
    assert!(out.status.success(), "{tool} runs in the VM: {out:?}");
}

/// Runs `cmd` as root in the VM with `input` on stdin.
fn put(vm: &Vm, cmd: &str, input: &[u8]) {
    let mut child = vm
        .ssh_command("root", &vm.root_key())
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ssh");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_without_curl_or_wget_gets_one_clear_message() {
    if !lab::require_root_and(
        "vm_without_curl_or_wget_gets_one_clear_message",
        HOST_COMMANDS,
    ) {
        return;
    }
    let vm = boot_vm().await;
    let control = control_dir("hrh");
    let root = connect(&vm, "root", &control);
    let r = Runner::new(&root);
    let result = r
        .run("uri", json!({"url": "http://10.0.0.1/x"}), false)
        .await;
    assert_eq!(result["failed"], true);
    assert_eq!(
        result["msg"],
        "hook-runner needs curl or wget on the target for HTTP requests: neither curl nor wget was found in PATH"
    );
    let result = r
        .run(
            "get_url",
            json!({"url": "http://10.0.0.1/x", "dest": "/tmp/x"}),
            false,
        )
        .await;
    assert!(msg(&result).contains("neither curl nor wget"), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_uri_and_get_url_through_the_targets_curl() {
    let test = lab::test_name!();
    if !lab::require_root_and(test, HOST_COMMANDS) || !lab::require_command(test, "/usr/bin/curl") {
        return;
    }
    let vm = boot_vm().await;
    install_host_tool(&vm, "curl");
    let host = vm.host_address();
    let server = HttpServer::start(&[host]).expect("server");
    let proxy = HttpProxy::start(None).expect("proxy");
    let ca_pem = std::fs::read(server.ca_file()).unwrap();
    put(
        &vm,
        "mkdir -p /srv/hr-http && cat > /srv/hr-http/ca.pem",
        &ca_pem,
    );
    let control = control_dir("hrh");
    let root = connect(&vm, "root", &control);
    let r = Runner::new(&root);
    let h = host.to_string();
    let ca = "/srv/hr-http/ca.pem";

    let result = r
        .run(
            "uri",
            json!({"url": server.https_url(&h, "/json"), "ca_path": ca}),
            false,
        )
        .await;
    assert_eq!(result.get("failed"), None, "{result:?}");
    assert_eq!(result["status"], 200);
    assert_eq!(result["json"]["items"], json!([1, 2, 3]));
    assert_eq!(result["msg"], "OK (35 bytes)");
    assert_eq!(result["content_type"], "application/json");
    let result = r
        .run("uri", json!({"url": server.https_url(&h, "/json")}), false)
        .await;
    assert!(
        msg(&result).contains("CERTIFICATE_VERIFY_FAILED"),
        "{result:?}"
    );
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/status/404")}),
            false,
        )
        .await;
    assert_eq!(
        result["msg"],
        "Status code was 404 and not [200]: HTTP Error 404: Not Found"
    );
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/redirect/302")}),
            false,
        )
        .await;
    assert_eq!(result["url"], server.http_url(&h, "/json"), "{result:?}");
    assert_eq!(result["redirected"], true);
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/basic/hook/s3cret"), "user": "hook", "password": "s3cret"}),
            false,
        )
        .await;
    assert_eq!(result["json"]["user"], "hook", "{result:?}");
    let result = r
        .run(
            "uri",
            json!({"url": server.https_url(&h, "/echo"), "ca_path": ca, "method": "POST",
                   "body_format": "json", "body": {"a": [1, "b"]}}),
            false,
        )
        .await;
    assert_eq!(result["json"]["body"], "{\"a\": [1, \"b\"]}", "{result:?}");
    assert_eq!(
        result["json"]["headers"]["content-type"],
        "application/json"
    );
    // A client certificate from files on the target.
    let (cert, key) = server.client_cert_files();
    put(
        &vm,
        "cat > /srv/hr-http/client.pem",
        &std::fs::read(cert).unwrap(),
    );
    put(
        &vm,
        "umask 077; cat > /srv/hr-http/client.key",
        &std::fs::read(key).unwrap(),
    );
    let result = r
        .run(
            "uri",
            json!({"url": server.https_url(&h, "/client-cert"), "ca_path": ca,
                   "client_cert": "/srv/hr-http/client.pem", "client_key": "/srv/hr-http/client.key"}),
            false,
        )
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    // uri dest, then creates skips.
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/json"), "dest": "/srv/hr-http/answer.json", "mode": "0600"}),
            false,
        )
        .await;
    assert_eq!(result["changed"], true, "{result:?}");
    assert_eq!(result["path"], "/srv/hr-http/answer.json");
    assert_eq!(result["mode"], "0600");
    assert_eq!(
        vm.exec_ok("cat /srv/hr-http/answer.json"),
        "{\"name\": \"lab\", \"items\": [1, 2, 3]}"
    );
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/json"), "creates": "/srv/hr-http/answer.json"}),
            false,
        )
        .await;
    assert_eq!(
        result["stdout"],
        "skipped, since '/srv/hr-http/answer.json' exists"
    );
    // The hanging server: curl's timeout.
    let started = Instant::now();
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/hang"), "timeout": 2}),
            false,
        )
        .await;
    assert_eq!(
        result["msg"],
        "Status code was -1 and not [200]: Connection failure: timed out"
    );
    assert!(started.elapsed() < Duration::from_secs(15));

    // get_url: a large file, checksum, owner, group and mode, then idempotence.
    let size = 8 * 1024 * 1024;
    let sha256 = hex::encode(sha2::Sha256::digest(pattern(size)));
    let args = json!({"url": server.https_url(&h, &format!("/bytes/{size}")), "validate_certs": false,
                      "dest": "/srv/hr-http/big.bin", "checksum": format!("sha256:{sha256}"),
                      "owner": "vmuser", "group": "daemon", "mode": "0640"});
    let result = r.run("get_url", args.clone(), false).await;
    assert_eq!(result["changed"], true, "{result:?}");
    assert_eq!(result["owner"], "vmuser");
    assert_eq!(result["group"], "daemon");
    assert_eq!(
        vm.exec_ok("stat -c %U:%G:%a /srv/hr-http/big.bin"),
        "vmuser:daemon:640"
    );
    assert_eq!(result["mode"], "0640");
    assert_eq!(result["size"], size);
    assert_eq!(
        vm.exec_ok("sha256sum /srv/hr-http/big.bin")
            .split_whitespace()
            .next(),
        Some(sha256.as_str())
    );
    let again = r.run("get_url", args, false).await;
    assert_eq!(again["changed"], false);
    assert_eq!(again["msg"], "file already exists");
    let check = r
        .run(
            "get_url",
            json!({"url": server.http_url(&h, "/json"), "dest": "/srv/hr-http/big.bin"}),
            true,
        )
        .await;
    assert_eq!(check["changed"], true, "{check:?}");
    assert_eq!(check["checksum_src"], EMPTY_SHA1);
    assert_eq!(
        vm.exec_ok("sha256sum /srv/hr-http/big.bin")
            .split_whitespace()
            .next(),
        Some(sha256.as_str())
    );
    // Through a proxy from the task's environment (curl reads it).
    let env = vec![("http_proxy".to_string(), proxy.url(&h))];
    let result = r
        .run_with_env(
            "uri",
            json!({"url": server.http_url(&h, "/json")}),
            false,
            env,
        )
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    assert_eq!(
        proxy.seen().last().map(|s| s.request_line.clone()),
        Some(format!("GET {} HTTP/1.1", server.http_url(&h, "/json")))
    );
    assert_eq!(
        vm.exec_ok("ls -A /srv/hr-http | grep -c '^\\.hr-' || true"),
        "0"
    );
}

/// The same requests through GNU wget, for targets without curl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vm_uri_and_get_url_through_the_targets_wget() {
    let test = lab::test_name!();
    if !lab::require_root_and(test, HOST_COMMANDS) || !lab::require_command(test, "/usr/bin/wget") {
        return;
    }
    let vm = boot_vm().await;
    install_host_tool(&vm, "wget");
    let host = vm.host_address();
    let server = HttpServer::start(&[host]).expect("server");
    let ca_pem = std::fs::read(server.ca_file()).unwrap();
    put(
        &vm,
        "mkdir -p /srv/hr-http && cat > /srv/hr-http/ca.pem",
        &ca_pem,
    );
    let control = control_dir("hrw");
    let root = connect(&vm, "root", &control);
    let r = Runner::new(&root);
    let h = host.to_string();
    let ca = "/srv/hr-http/ca.pem";

    let result = r
        .run(
            "uri",
            json!({"url": server.https_url(&h, "/json"), "ca_path": ca}),
            false,
        )
        .await;
    assert_eq!(result.get("failed"), None, "{result:?}");
    assert_eq!(result["json"]["items"], json!([1, 2, 3]));
    assert_eq!(result["msg"], "OK (35 bytes)");
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/status/404")}),
            false,
        )
        .await;
    assert_eq!(
        result["msg"],
        "Status code was 404 and not [200]: HTTP Error 404: Not Found"
    );
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/redirect/302")}),
            false,
        )
        .await;
    assert_eq!(result["status"], 200, "{result:?}");
    assert_eq!(result["url"], server.http_url(&h, "/json"));
    assert_eq!(result["redirected"], true);
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/basic/hook/s3cret"), "user": "hook", "password": "s3cret"}),
            false,
        )
        .await;
    assert_eq!(result["json"]["user"], "hook", "{result:?}");
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/echo"), "method": "PUT", "body_format": "json",
                   "body": {"a": 1}}),
            false,
        )
        .await;
    assert_eq!(result["json"]["method"], "PUT", "{result:?}");
    assert_eq!(result["json"]["body"], "{\"a\": 1}");
    let started = Instant::now();
    let result = r
        .run(
            "uri",
            json!({"url": server.http_url(&h, "/hang"), "timeout": 2}),
            false,
        )
        .await;
    assert_eq!(
        result["msg"], "Status code was -1 and not [200]: Connection failure: timed out",
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    let size = 3 * 1024 * 1024;
    let sha256 = hex::encode(sha2::Sha256::digest(pattern(size)));
    let args = json!({"url": server.http_url(&h, &format!("/bytes/{size}")),
                      "dest": "/srv/hr-http/big.bin", "checksum": format!("sha256:{sha256}")});
    let result = r.run("get_url", args.clone(), false).await;
    assert_eq!(result["changed"], true, "{result:?}");
    assert_eq!(result["size"], size);
    let again = r.run("get_url", args, false).await;
    assert_eq!(again["msg"], "file already exists", "{again:?}");
}

/// The differential case's server: its certificate also names the host side of every lab VM
/// slot (`10.214.X.1`), since the VM is booted by the harness after the server starts.
fn differential_server() -> HttpServer {
    let hosts: Vec<std::net::Ipv4Addr> = (0..=255u8)
        .map(|x| std::net::Ipv4Addr::new(10, 214, x, 1))
        .collect();
    let server = HttpServer::start(&hosts).expect("server");
    server.add_file("data.bin", &pattern(300 * 1024));
    server.add_file("report.txt", b"line one\nline two\n");
    server
}

fn differential_case(name: &str, server: &HttpServer, ca: &str) -> harness::Case {
    let sha256 = hex::encode(sha2::Sha256::digest(pattern(300 * 1024)));
    let closed = lab::util::free_port().expect("a free port");
    let vars = [
        format!("http_port={}", server.http_port()),
        format!("https_port={}", server.https_port()),
        format!("closed_port={closed}"),
        format!("ca={ca}"),
        format!("data_sha256={sha256}"),
    ];
    let mut args: Vec<&str> = Vec::new();
    for var in &vars {
        args.push("-e");
        args.push(var);
    }
    harness::Case::new(name)
        .args(&args)
        // The answer's date, the seconds it took and get_url's temp file differ between runs.
        .ignore_keys(&["date", "elapsed", "src"])
}

/// The same playbook with ansible-playbook 2.18 and hook-runner on localhost (in-process
/// HTTP here, Python's urllib for Ansible) and on the loopback sshd host (curl here).
#[test]
fn differential_http_modules_on_localhost_and_ssh() {
    let server = differential_server();
    // Readable by the ssh host's unprivileged login user.
    let ca = std::env::temp_dir().join(format!("hr-http-diff-ca-{}.pem", std::process::id()));
    std::fs::copy(server.ca_file(), &ca).unwrap();
    let case = differential_case("http_modules", &server, &ca.display().to_string());
    let outcome = std::panic::catch_unwind(|| harness::check(case));
    let _ = std::fs::remove_file(&ca);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The same playbook on a python3 VM: Ansible's Python modules there, the VM's curl for
/// hook-runner (copied from the host by the case's setup, which fetches it from the lab
/// server over bash's /dev/tcp: the VM has no HTTP client of its own).
#[test]
fn differential_http_modules_on_a_vm() {
    if !lab::require_command("differential_http_modules_on_a_vm", "/usr/bin/curl") {
        return;
    }
    let server = differential_server();
    use base64::Engine as _;
    let tarball = base64::engine::general_purpose::STANDARD.encode(curl_tarball());
    server.add_file("curl.tar.b64", tarball.as_bytes());
    let ca_pem = std::fs::read_to_string(server.ca_file()).unwrap();
    let setup = format!(
        r#"cat > /etc/hr-http-ca.pem <<'PEM'
{ca_pem}PEM
if ! command -v curl >/dev/null 2>&1; then
  H=${{SSH_CONNECTION%% *}}
  bash -c 'exec 3<>/dev/tcp/'"$H"'/{port}; printf "GET /files/curl.tar.b64 HTTP/1.0\r\nHost: lab\r\n\r\n" >&3; cat <&3' \
    | sed '1,/^\r$/d' | base64 -d | tar -C / --skip-old-files -xf -
  curl --version >/dev/null
fi
rm -f /srv/hr-diff/data.bin /srv/hr-diff/report.txt
"#,
        port = server.http_port()
    );
    let case = differential_case("http_modules", &server, "/etc/hr-http-ca.pem").on_vm(&setup);
    harness::check(case);
}

/// Dry-run shows the HTTP tasks (they touch the host) and never their passwords.
#[test]
fn dry_run_shows_http_tasks_without_their_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/example");
    for file in ["plan.yml", "workload.yml"] {
        std::fs::copy(example.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::write(
        dir.path().join("playbook.yml"),
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n\
         \x20   - uri:\n        url: https://example.invalid/hook\n        method: POST\n        url_username: me\n        url_password: TopSecret1\n\
         \x20   - ansible.builtin.get_url:\n        url: https://example.invalid/x\n        dest: /tmp/hr-never-written\n        password: TopSecret2\n\
         \x20   - debug:\n        msg: \"{{ lookup('env', 'HOME') | length > 0 }}\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hook-runner"))
        .arg("dry-run")
        .arg(dir.path())
        .output()
        .expect("hook-runner runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("would run: ansible.builtin.uri url=https://example.invalid/hook method=POST url_username=me url_password=VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would run: ansible.builtin.get_url"),
        "{stdout}"
    );
    assert!(!stdout.contains("TopSecret"), "{stdout}");
    assert!(!std::path::Path::new("/tmp/hr-never-written").exists());
}
