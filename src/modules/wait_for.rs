//! `ansible.builtin.wait_for`: waits for a port, a file, a string in a file or in a port's
//! answer, a port to close or drain, or just for some time.
//!
//! Semantics (ansible-core 2.18 `modules/wait_for.py`):
//! - Arguments: `host` (127.0.0.1, as seen from the target), `port`, `path`, `search_regex`,
//!   `state` (`started`/`present` (default `started`), `stopped`/`absent`, `drained`),
//!   `timeout` (300), `connect_timeout` (5), `delay` (0), `sleep` (1), `msg`,
//!   `active_connection_states`, `exclude_hosts`.
//! - Refused up front, as Ansible: `port` with `path`; `path` with `stopped` or `drained`;
//!   `exclude_hosts` without `drained`; an unknown connection state; a bad regular
//!   expression (`Invalid regular expression: ...`).
//! - `delay` seconds first. Neither `port` nor `path` (and not `drained`): sleep `timeout`.
//! - `started`/`present`: a path that exists (and, with `search_regex`, whose content matches,
//!   Python's `re.MULTILINE`), or a port that accepts a connection (and, with `search_regex`,
//!   whose answer matches). `stopped`/`absent`: the path is gone, the port refuses.
//!   `drained`: no connection to `port` on `host`'s address is in one of the active states
//!   (read from the target's `/proc/net/tcp` and `tcp6`, `exclude_hosts` left out).
//!   Between attempts, `sleep` seconds; past `timeout`, Ansible's failure messages
//!   (`Timeout when waiting for HOST:PORT`, `Timeout when waiting for file PATH`, ...) or `msg`.
//! - Result: `state, port, path, search_regex, match_groups, match_groupdict, elapsed`
//!   (whole seconds), `changed: false`, and, when `path` exists, its details as every
//!   Ansible module result naming a path has them (`uid, gid, owner, group, mode, size`, and
//!   `state` becomes `file`/`directory`/`link`...); failures carry `elapsed` too.
//! - Check mode: skipped, as every module without check-mode support
//!   (`remote module (wait_for) does not support check mode`).
//!
//! Each attempt is one round trip. The target needs no Python: a port is tried with bash's
//! `/dev/tcp` (under `timeout connect_timeout`), else `nc -z`; the file is read with `cat`
//! and matched here (Rust's `regex`: Python's syntax less look-around and back-references).
//! Not supported: with `search_regex` on a port, only the first chunk (4 KiB) the server sends
//! within `connect_timeout` is searched (Ansible reads until the server closes or the timeout).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use regex::bytes::{Regex, RegexBuilder};
use std::time::{Duration, Instant};

pub struct WaitFor;

const DEFAULT_STATES: &str = "ESTABLISHED,FIN_WAIT1,FIN_WAIT2,SYN_RECV,SYN_SENT,TIME_WAIT";

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            default: Some("127.0.0.1"),
            ..Param::new("host", Kind::Str)
        },
        Param {
            default: Some("300"),
            ..Param::new("timeout", Kind::Int)
        },
        Param {
            default: Some("5"),
            ..Param::new("connect_timeout", Kind::Int)
        },
        Param {
            default: Some("0"),
            ..Param::new("delay", Kind::Int)
        },
        Param::new("port", Kind::Int),
        Param {
            default: Some(DEFAULT_STATES),
            ..Param::new("active_connection_states", Kind::List)
        },
        Param::new("path", Kind::Path),
        Param::new("search_regex", Kind::Str),
        Param {
            default: Some("started"),
            choices: &["absent", "drained", "present", "started", "stopped"],
            ..Param::new("state", Kind::Str)
        },
        Param::new("exclude_hosts", Kind::List),
        Param {
            default: Some("1"),
            ..Param::new("sleep", Kind::Int)
        },
        Param::new("msg", Kind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
struct WaitForArgs {
    host: String,
    timeout: i64,
    connect_timeout: i64,
    delay: i64,
    port: Option<i64>,
    active_connection_states: Vec<String>,
    path: Option<String>,
    search_regex: Option<String>,
    state: String,
    exclude_hosts: Option<Vec<String>>,
    sleep: i64,
    msg: Option<String>,
}

/// What is waited for.
enum Target {
    Time,
    Path(String),
    Port(u16),
    Drained(u16),
}

/// The TCP states `/proc/net/tcp` numbers, by Ansible's names.
const TCP_STATES: &[(&str, u8)] = &[
    ("ESTABLISHED", 0x01),
    ("SYN_SENT", 0x02),
    ("SYN_RECV", 0x03),
    ("FIN_WAIT1", 0x04),
    ("FIN_WAIT2", 0x05),
    ("TIME_WAIT", 0x06),
    ("CLOSE", 0x07),
    ("CLOSE_WAIT", 0x08),
    ("LAST_ACK", 0x09),
    ("LISTEN", 0x0A),
    ("CLOSING", 0x0B),
];

#[async_trait]
impl Module for WaitFor {
    fn name(&self) -> &'static str {
        "wait_for"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.wait_for"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<WaitForArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: WaitForArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        if ctx.check_mode {
            let mut result = Map::new();
            result.insert("skipped".into(), Value::Bool(true));
            result.insert(
                "msg".into(),
                Value::String("remote module (wait_for) does not support check mode".into()),
            );
            return Ok(result);
        }
        let (target, regex, states) = match validate(&args) {
            Ok(checked) => checked,
            Err(msg) => return Ok(failed_at(msg, 0)),
        };
        let start = Instant::now();
        tokio::time::sleep(secs(args.delay)).await;
        let deadline = start + secs(args.timeout);
        let mut found = Found::default();
        let done = match &target {
            Target::Time => {
                tokio::time::sleep(secs(args.timeout)).await;
                true
            }
            _ => loop {
                if Instant::now() >= deadline {
                    break false;
                }
                if attempt(
                    ctx,
                    &args,
                    &target,
                    regex.as_ref(),
                    &states,
                    deadline,
                    &mut found,
                )
                .await?
                {
                    break true;
                }
                if let Some(msg) = found.error.take() {
                    return Ok(failed_at(msg, start.elapsed().as_secs()));
                }
                tokio::time::sleep(secs(args.sleep)).await;
            },
        };
        let elapsed = start.elapsed().as_secs();
        if !done {
            let msg = args
                .msg
                .clone()
                .unwrap_or_else(|| timeout_message(&args, &target));
            return Ok(failed_at(msg, elapsed));
        }
        let mut result = success(&args, found, elapsed);
        if let Some(path) = args.path.as_ref().filter(|p| !p.is_empty()) {
            // Ansible's module adds the path's details to a result that names a path.
            let script = format!("pinfo {}\n", path_word(path));
            if let Ok(records) = remote::run_script(ctx, &script, None).await? {
                remote::add_path_info(&mut result, &records);
            }
        }
        Ok(result)
    }
}

fn secs(n: i64) -> Duration {
    Duration::from_secs(n.max(0) as u64)
}

/// Ansible's up-front checks; the target, the compiled regex and the connection states.
fn validate(args: &WaitForArgs) -> Result<(Target, Option<Regex>, Vec<u8>), String> {
    let regex = match &args.search_regex {
        Some(source) => Some(
            RegexBuilder::new(source)
                .multi_line(true)
                .build()
                .map_err(|e| format!("Invalid regular expression: {e}"))?,
        ),
        None => None,
    };
    let port = args.port.filter(|p| *p != 0);
    let path = args.path.as_ref().filter(|p| !p.is_empty());
    if port.is_some() && path.is_some() {
        return Err("port and path parameter can not both be passed to wait_for".into());
    }
    if path.is_some() && matches!(args.state.as_str(), "stopped" | "drained") {
        return Err(format!(
            "state={} should only be used for checking a port in the wait_for module",
            args.state
        ));
    }
    if args.exclude_hosts.is_some() && args.state != "drained" {
        return Err("exclude_hosts should only be with state=drained".into());
    }
    let mut states = Vec::new();
    for name in &args.active_connection_states {
        match TCP_STATES.iter().find(|(n, _)| n == name) {
            Some((_, code)) => states.push(*code),
            None => return Err(format!("unknown active_connection_state ({name}) defined")),
        }
    }
    let port = match port {
        Some(p) => Some(u16::try_from(p).map_err(|_| format!("port {p} is out of range"))?),
        None => None,
    };
    let target = match (args.state.as_str(), port, path) {
        ("drained", Some(p), _) => Target::Drained(p),
        ("drained", None, _) => Target::Drained(0),
        (_, Some(p), _) => Target::Port(p),
        (_, None, Some(path)) => Target::Path(path.clone()),
        _ => Target::Time,
    };
    Ok((target, regex, states))
}

/// What the successful attempt found (and a failure that ends the wait early).
#[derive(Default)]
struct Found {
    groups: Vec<Value>,
    groupdict: Map,
    error: Option<String>,
}

fn waits_for_absence(state: &str) -> bool {
    matches!(state, "absent" | "stopped")
}

/// One round trip: true when the condition holds.
async fn attempt(
    ctx: &ModuleContext<'_>,
    args: &WaitForArgs,
    target: &Target,
    regex: Option<&Regex>,
    states: &[u8],
    deadline: Instant,
    found: &mut Found,
) -> Result<bool, ConnError> {
    let absent = waits_for_absence(&args.state);
    match target {
        Target::Time => Ok(true),
        Target::Path(path) => {
            let read = regex.is_some() && !absent;
            let out = remote::exec(ctx, path_script(path, read), None).await?;
            let (status, body) = split_status(&out.stdout);
            if absent {
                return Ok(status == "missing");
            }
            if let Some(reason) = status.strip_prefix("error ") {
                found.error = Some(
                    args.msg
                        .clone()
                        .unwrap_or_else(|| format!("Failed to stat {path}, {reason}")),
                );
                return Ok(false);
            }
            Ok(status == "exists" && matches(regex, body, found))
        }
        Target::Port(port) => {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_secs_f64();
            let connect = (args.connect_timeout.max(1) as f64).min(left.ceil().max(1.0)) as u64;
            let read = regex.is_some() && !absent;
            let out =
                remote::exec(ctx, port_script(&args.host, *port, connect, read), None).await?;
            let (status, body) = split_status(&out.stdout);
            if status == "notool" {
                found.error = Some(
                    "wait_for needs bash (for /dev/tcp) or nc on the target to try a port".into(),
                );
                return Ok(false);
            }
            let open = status == "open";
            if absent {
                return Ok(!open);
            }
            Ok(open && matches(regex, body, found))
        }
        Target::Drained(port) => {
            let out = remote::exec(
                ctx,
                "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null".into(),
                None,
            )
            .await?;
            let text = String::from_utf8_lossy(&out.stdout);
            let local = resolve(&args.host);
            let excluded: Vec<std::net::IpAddr> = args
                .exclude_hosts
                .iter()
                .flatten()
                .flat_map(|h| resolve(h))
                .collect();
            Ok(active_connections(&text, *port, states, &local, &excluded) == 0)
        }
    }
}

/// The first line of a probe's output is its status; the rest is data.
fn split_status(stdout: &[u8]) -> (String, &[u8]) {
    let end = stdout
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(stdout.len());
    let status = String::from_utf8_lossy(&stdout[..end]).trim().to_string();
    let body = stdout.get(end + 1..).unwrap_or_default();
    (status, body)
}

/// Without a regex anything matches; with one, the groups are kept.
fn matches(regex: Option<&Regex>, body: &[u8], found: &mut Found) -> bool {
    let Some(regex) = regex else {
        return true;
    };
    let Some(caps) = regex.captures(body) else {
        return false;
    };
    let text = |m: Option<regex::bytes::Match>| match m {
        Some(m) => Value::String(String::from_utf8_lossy(m.as_bytes()).into_owned()),
        None => Value::Null,
    };
    found.groups = (1..caps.len()).map(|i| text(caps.get(i))).collect();
    found.groupdict = regex
        .capture_names()
        .flatten()
        .map(|name| (name.to_string(), text(caps.name(name))))
        .collect();
    true
}

/// `exists`/`missing`/`error REASON`, then the content when `read`.
fn path_script(path: &str, read: bool) -> String {
    format!(
        "P={}\nif [ -e \"$P\" ]; then\n  echo exists\n  {}\nelse\n  e=$(LC_ALL=C stat -- \"$P\" 2>&1 >/dev/null)\n  case $e in\n    *'No such file or directory') echo missing ;;\n    *'Permission denied') echo 'error Permission denied' ;;\n    *'Not a directory') echo missing ;;\n    *) echo missing ;;\n  esac\nfi\n",
        path_word(path),
        if read { "cat -- \"$P\" 2>/dev/null" } else { ":" }
    )
}

/// `open` (then, when `read`, the first chunk the server sends), `closed`, or `notool`.
fn port_script(host: &str, port: u16, connect: u64, read: bool) -> String {
    let after = if read {
        "echo open; dd bs=4096 count=1 <&3 2>/dev/null"
    } else {
        "echo open"
    };
    format!(
        "H={host}\nP={port}\n\
         if command -v bash >/dev/null 2>&1; then\n\
         \x20 timeout {connect} bash -c 'exec 3<>\"/dev/tcp/$1/$2\" || exit 1; {after}' wait_for \"$H\" \"$P\" 2>/dev/null || echo closed\n\
         elif command -v nc >/dev/null 2>&1; then\n\
         \x20 if nc -z -w {connect} \"$H\" \"$P\" >/dev/null 2>&1; then echo open; else echo closed; fi\n\
         else\n\
         \x20 echo notool\n\
         fi\n",
        host = quote(host),
    )
}

/// The addresses `host` stands for (an address is itself; a name is resolved here).
fn resolve(host: &str) -> Vec<std::net::IpAddr> {
    if let Ok(ip) = host.parse() {
        return vec![ip];
    }
    use std::net::ToSocketAddrs;
    (host, 0)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

/// Counts `/proc/net/tcp{,6}` lines whose local port is `port`, whose state is one of
/// `states`, whose local address is one of `local` (or the wildcard address), and whose
/// remote address is not excluded.
fn active_connections(
    text: &str,
    port: u16,
    states: &[u8],
    local: &[std::net::IpAddr],
    excluded: &[std::net::IpAddr],
) -> usize {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local_ip, local_port) = decode_address(fields.get(1)?)?;
            let (remote_ip, _) = decode_address(fields.get(2)?)?;
            let state = u8::from_str_radix(fields.get(3)?, 16).ok()?;
            let wildcard = local_ip.is_unspecified()
                || ipv4_mapped(&local_ip).is_some_and(|v4| v4.is_unspecified());
            let mapped_local = ipv4_mapped(&local_ip).map(std::net::IpAddr::V4);
            let ours = local.iter().any(|ip| {
                *ip == local_ip
                    || Some(*ip) == mapped_local
                    || wildcard && ip.is_ipv4() == local_ip.is_ipv4()
            });
            let counted = local_port == port
                && states.contains(&state)
                && !excluded.contains(&remote_ip)
                && ours;
            counted.then_some(())
        })
        .count()
}

fn ipv4_mapped(ip: &std::net::IpAddr) -> Option<std::net::Ipv4Addr> {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        std::net::IpAddr::V4(_) => None,
    }
}

/// `0100007F:0016` (little-endian words, as the kernel prints them) into an address and port.
fn decode_address(field: &str) -> Option<(std::net::IpAddr, u16)> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|i| u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).map(u32::from_be))
        .collect::<Result<_, _>>()
        .ok()?;
    let ip = match words.as_slice() {
        [w] => std::net::IpAddr::V4(std::net::Ipv4Addr::from(w.to_be_bytes())),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
            }
            std::net::IpAddr::V6(std::net::Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((ip, port))
}

fn timeout_message(args: &WaitForArgs, target: &Target) -> String {
    let host = &args.host;
    let absent = waits_for_absence(&args.state);
    match (target, &args.search_regex) {
        (Target::Port(port), _) if absent => {
            format!("Timeout when waiting for {host}:{port} to stop.")
        }
        (Target::Path(path), _) if absent => {
            format!("Timeout when waiting for {path} to be absent.")
        }
        (Target::Port(port), Some(re)) => {
            format!("Timeout when waiting for search string {re} in {host}:{port}")
        }
        (Target::Port(port), None) => format!("Timeout when waiting for {host}:{port}"),
        (Target::Path(path), Some(re)) => {
            format!("Timeout when waiting for search string {re} in {path}")
        }
        (Target::Path(path), None) => format!("Timeout when waiting for file {path}"),
        (Target::Drained(port), _) => {
            let port = if *port == 0 {
                "None".to_string()
            } else {
                port.to_string()
            };
            format!("Timeout when waiting for {host}:{port} to drain")
        }
        (Target::Time, _) => String::new(),
    }
}

fn failed_at(msg: String, elapsed: u64) -> Map {
    let mut result = remote::failed(msg);
    result.insert("elapsed".into(), Value::from(elapsed));
    result
}

fn success(args: &WaitForArgs, found: Found, elapsed: u64) -> Map {
    let mut result = Map::new();
    result.insert("changed".into(), Value::Bool(false));
    result.insert("state".into(), Value::String(args.state.clone()));
    result.insert(
        "port".into(),
        args.port.map(Value::from).unwrap_or(Value::Null),
    );
    result.insert(
        "search_regex".into(),
        args.search_regex
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    );
    result.insert("match_groups".into(), Value::Array(found.groups));
    result.insert("match_groupdict".into(), Value::Object(found.groupdict));
    result.insert(
        "path".into(),
        args.path.clone().map(Value::String).unwrap_or(Value::Null),
    );
    result.insert("elapsed".into(), Value::from(elapsed));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, run};
    use serde_json::json;

    #[tokio::test]
    async fn a_file_that_appears_is_waited_for_and_its_groups_returned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let writer = {
            let path = path.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1200)).await;
                std::fs::write(&path, "boot\nready port=8080 mode=fast\n").unwrap();
            })
        };
        let result = run(
            &WaitFor,
            json!({"path": path, "search_regex": r"ready port=(\d+) mode=(?P<mode>\w+)", "timeout": 10}),
        )
        .await;
        writer.await.unwrap();
        assert_eq!(result.get("failed"), None, "{result:?}");
        assert_eq!(result["match_groups"], json!(["8080", "fast"]));
        assert_eq!(result["match_groupdict"], json!({"mode": "fast"}));
        // As every Ansible result naming a path: its details, `state` included.
        assert_eq!(result["state"], "file");
        assert_eq!(result["size"], 31);
        assert!(result["elapsed"].as_u64().unwrap() >= 1, "{result:?}");
    }

    #[tokio::test]
    async fn timeouts_use_ansible_messages_or_msg() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("never").display().to_string();
        let result = run(&WaitFor, json!({"path": path, "timeout": 1})).await;
        assert_eq!(
            result["msg"],
            format!("Timeout when waiting for file {path}")
        );
        assert_eq!(result["elapsed"], 1);
        let result = run(
            &WaitFor,
            json!({"path": path, "timeout": 1, "search_regex": "x", "msg": "no luck"}),
        )
        .await;
        assert_eq!(result["msg"], "no luck");
        let here = dir.path().display().to_string();
        let result = run(
            &WaitFor,
            json!({"path": here, "state": "absent", "timeout": 1}),
        )
        .await;
        assert_eq!(
            result["msg"],
            format!("Timeout when waiting for {here} to be absent.")
        );
    }

    #[tokio::test]
    async fn ports_open_and_closed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let result = run(&WaitFor, json!({"port": port, "timeout": 5})).await;
        assert_eq!(result["port"], port, "{result:?}");
        assert_eq!(result.get("failed"), None, "{result:?}");
        let result = run(
            &WaitFor,
            json!({"port": port, "state": "stopped", "timeout": 1}),
        )
        .await;
        assert_eq!(
            result["msg"],
            format!("Timeout when waiting for 127.0.0.1:{port} to stop.")
        );
        drop(listener);
        let result = run(
            &WaitFor,
            json!({"port": port, "state": "stopped", "timeout": 5}),
        )
        .await;
        assert_eq!(result.get("failed"), None, "{result:?}");
        let result = run(
            &WaitFor,
            json!({"port": port, "timeout": 1, "connect_timeout": 1}),
        )
        .await;
        assert_eq!(
            result["msg"],
            format!("Timeout when waiting for 127.0.0.1:{port}")
        );
    }

    #[tokio::test]
    async fn a_port_answer_is_searched() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(2).flatten() {
                use std::io::Write;
                let mut stream = stream;
                let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let result = run(
            &WaitFor,
            json!({"port": port, "search_regex": "OpenSSH_([0-9.]+)", "timeout": 10}),
        )
        .await;
        assert_eq!(result["match_groups"], json!(["9.2"]), "{result:?}");
    }

    #[tokio::test]
    async fn bad_combinations_fail_before_waiting() {
        let cases = [
            (
                json!({"port": 22, "path": "/x"}),
                "port and path parameter can not both be passed to wait_for",
            ),
            (
                json!({"path": "/x", "state": "stopped"}),
                "state=stopped should only be used for checking a port in the wait_for module",
            ),
            (
                json!({"path": "/x", "state": "drained"}),
                "state=drained should only be used for checking a port in the wait_for module",
            ),
            (
                json!({"port": 22, "exclude_hosts": ["a"]}),
                "exclude_hosts should only be with state=drained",
            ),
            (
                json!({"port": 22, "state": "drained", "active_connection_states": ["NOPE"]}),
                "unknown active_connection_state (NOPE) defined",
            ),
        ];
        for (args, msg) in cases {
            let result = run(&WaitFor, args).await;
            assert_eq!(result["msg"], msg);
            assert_eq!(result["elapsed"], 0);
        }
        let result = run(&WaitFor, json!({"path": "/x", "search_regex": "("})).await;
        assert!(result["msg"]
            .as_str()
            .unwrap()
            .starts_with("Invalid regular expression: "));
    }

    #[tokio::test]
    async fn check_mode_skips() {
        let result = check(&WaitFor, json!({"timeout": 600})).await;
        assert_eq!(result["skipped"], true);
    }

    #[test]
    fn proc_net_tcp_lines_are_counted_by_port_state_and_address() {
        let text = "  sl  local_address rem_address   st\n\
   0: 0100007F:1F90 0100007F:A000 01 0\n\
   1: 0100007F:1F90 0200007F:A001 06 0\n\
   2: 00000000:1F90 00000000:0000 0A 0\n\
   3: 0100007F:0016 0100007F:A002 01 0\n";
        let lo: Vec<std::net::IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        assert_eq!(active_connections(text, 8080, &[1, 6], &lo, &[]), 2);
        let excluded = vec!["127.0.0.2".parse().unwrap()];
        assert_eq!(active_connections(text, 8080, &[1, 6], &lo, &excluded), 1);
        assert_eq!(active_connections(text, 8080, &[0x0A], &lo, &[]), 1);
        assert_eq!(active_connections(text, 22, &[6], &lo, &[]), 0);
    }
}
