//! The `ssh` connection against a private sshd on loopback (the lab's `SshHost`).
//!
//! Covers: exec round trip, stdin, exit codes, environment, exit 255 and a closed port as
//! unreachable, default identities from `$HOME/.ssh`, strict host key checking, task timeouts,
//! parallel channels, `close()` and reconnection, and reuse of one master (every command is
//! served by the same sshd connection process; per-command latency is printed as `LAB-TIMING`).

use hook_runner::connection::ssh::{target_from_vars, SshConnection};
use hook_runner::connection::{ConnError, Connection, SshTarget};
use lab::SshHost;
use sshd::{control_dir, policy, req, target};
use std::time::{Duration, Instant};

use crate::sshd;

const NEEDS: &[&str] = &["ssh", "sshd", "ssh-keygen"];

fn lab_ready(test: &str) -> bool {
    lab::require_root_and(test, NEEDS)
}

/// The pid of the sshd process serving the command's connection (the nearest `sshd`
/// ancestor): equal pids mean one SSH connection, i.e. the master was reused.
async fn connection_pid(conn: &SshConnection) -> String {
    let script = r#"p=$$
while [ "$p" -gt 1 ]; do
  case "$(cat /proc/$p/comm)" in sshd*) echo "$p"; exit 0;; esac
  p=$(cut -d' ' -f4 /proc/$p/stat)
done
echo none"#;
    let out = conn.exec(req(script)).await.unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_round_trip_stdin_exit_codes_and_env() {
    if !lab_ready("exec_round_trip_stdin_exit_codes_and_env") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let conn = SshConnection::new(target(&host), policy(dir.path()));

    let out = conn
        .exec(req("echo hello; id -un; echo err >&2"))
        .await
        .unwrap();
    assert_eq!(out.rc, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\nhrtest\n");
    assert_eq!(out.stderr, b"err\n");

    let out = conn.exec(req("exit 3")).await.unwrap();
    assert_eq!(out.rc, 3);

    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let mut r = req("cat");
    r.stdin = Some(data.clone());
    let out = conn.exec(r).await.unwrap();
    assert_eq!(out.stdout.len(), data.len());
    assert!(out.stdout == data, "stdin did not round-trip");

    let mut r = req("printf '%s' \"$A\"");
    r.env = vec![("A".into(), "it's $(not) run; `x`".into())];
    let out = conn.exec(r).await.unwrap();
    assert_eq!(out.stdout, b"it's $(not) run; `x`");

    let quoted = "/bin/echo 'a b' \"c\"";
    let out = conn.exec(req(quoted)).await.unwrap();
    assert_eq!(out.stdout, b"a b c\n");

    // Exit status 255 is what ssh reports for a broken connection: Ansible says unreachable.
    match conn.exec(req("echo bye >&2; exit 255")).await {
        Err(ConnError::Unreachable(m)) => {
            assert!(
                m.starts_with("Failed to connect to the host via ssh: "),
                "{m}"
            );
            assert!(m.contains("bye"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_master_is_reused_and_latency_is_low() {
    if !lab_ready("one_master_is_reused_and_latency_is_low") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let conn = SshConnection::new(target(&host), policy(dir.path()));

    let started = Instant::now();
    conn.exec(req("true")).await.unwrap();
    let first = started.elapsed();
    let first_connection = connection_pid(&conn).await;
    assert_ne!(first_connection, "none");

    let n = 100;
    let started = Instant::now();
    for _ in 0..n {
        let out = conn.exec(req("true")).await.unwrap();
        assert_eq!(out.rc, 0);
    }
    let per_command = started.elapsed() / n;
    eprintln!(
        "LAB-TIMING ssh-first-command(master start) {} ms",
        first.as_millis()
    );
    eprintln!(
        "LAB-TIMING ssh-per-command(mux, n={n}) {:.2} ms",
        per_command.as_secs_f64() * 1000.0
    );

    // 100 more commands, still the same SSH connection: the master was reused.
    assert_eq!(connection_pid(&conn).await, first_connection);
    assert!(
        per_command < Duration::from_millis(100),
        "{per_command:?} per command"
    );

    // Parallel commands share the master (at most MAX_CHANNELS at once).
    let conn = std::sync::Arc::new(conn);
    let mut tasks = Vec::new();
    for i in 0..25 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move {
            c.exec(req(&format!("sleep 0.2; echo {i}"))).await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t.await.unwrap().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{i}\n"));
    }
    assert_eq!(connection_pid(&conn).await, first_connection);

    // close() ends the master; the next command starts a new one.
    conn.close().await;
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 0, "control directory not cleaned up");
    let out = conn.exec(req("echo again")).await.unwrap();
    assert_eq!(out.stdout, b"again\n");
    assert_ne!(connection_pid(&conn).await, first_connection);
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_that_died_is_restarted() {
    if !lab_ready("a_master_that_died_is_restarted") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let conn = SshConnection::new(target(&host), policy(dir.path()));
    conn.exec(req("true")).await.unwrap();
    // Stop the master behind the connection's back (as an idle ControlPersist would).
    let sockets: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("m"))
        .collect();
    assert_eq!(sockets.len(), 1);
    let status = std::process::Command::new("ssh")
        .args(["-S", &sockets[0].display().to_string(), "-O", "exit", "x"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let out = conn.exec(req("echo back")).await.unwrap();
    assert_eq!(out.stdout, b"back\n");
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_unreachable_with_ansibles_message() {
    if !lab_ready("a_closed_port_is_unreachable_with_ansibles_message") {
        return;
    }
    let port = lab::util::free_port().unwrap();
    let dir = control_dir();
    let t = SshTarget {
        address: "127.0.0.1".into(),
        port: Some(port),
        user: Some("nobody".into()),
        ..SshTarget::default()
    };
    let conn = SshConnection::new(t, policy(dir.path()));
    let started = Instant::now();
    match conn.exec(req("true")).await {
        Err(ConnError::Unreachable(m)) => assert_eq!(
            m,
            format!("Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port {port}: Connection refused")
        ),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_identity_from_home_ssh_is_used() {
    if !lab_ready("default_identity_from_home_ssh_is_used") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let home = tempfile::tempdir().unwrap();
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    // What hook playbooks do: write the key to ~/.ssh/id_rsa (mode 0600), then add_host
    // without a key file. The file is written after the connection object exists, so the key
    // must be looked up when the master starts.
    let mut t = target(&host);
    t.private_key_file = None;
    let conn = SshConnection::new(t, policy(dir.path())).with_home(home.path());
    let key = std::fs::read(host.key_path()).unwrap();
    std::fs::write(ssh_dir.join("id_rsa"), key).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        ssh_dir.join("id_rsa"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let out = conn.exec(req("id -un")).await.unwrap();
    assert_eq!(out.stdout, b"hrtest\n");
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_host_key_checking_uses_the_known_hosts_file() {
    if !lab_ready("strict_host_key_checking_uses_the_known_hosts_file") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let kh = tempfile::NamedTempFile::new().unwrap();
    let mut strict = policy(dir.path());
    strict.host_key_checking = true;
    strict.known_hosts = Some(kh.path().display().to_string());

    let conn = SshConnection::new(target(&host), strict.clone());
    match conn.exec(req("true")).await {
        Err(ConnError::Unreachable(m)) => {
            assert!(m.contains("Host key verification failed"), "{m}")
        }
        other => panic!("{other:?}"),
    }

    std::fs::write(kh.path(), format!("{}\n", host.known_hosts_line().unwrap())).unwrap();
    let conn = SshConnection::new(target(&host), strict);
    assert_eq!(conn.exec(req("echo ok")).await.unwrap().stdout, b"ok\n");
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_timeout_ends_the_remote_command() {
    if !lab_ready("task_timeout_ends_the_remote_command") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let conn = SshConnection::new(target(&host), policy(dir.path()));
    let mut r = req("sleep 31.25");
    r.timeout = Some(Duration::from_secs(1));
    let started = Instant::now();
    assert_eq!(conn.exec(r).await, Err(ConnError::Timeout(1)));
    assert!(started.elapsed() < Duration::from_secs(8));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = conn
        .exec(req("ps -eo args | grep -c '^sleep 31.25' || true"))
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "0");
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_variables_drive_the_connection() {
    if !lab_ready("host_variables_drive_the_connection") {
        return;
    }
    let host = SshHost::start_loopback().expect("sshd");
    let dir = control_dir();
    let vars = serde_json::json!({
        "ansible_host": host.address().to_string(),
        "ansible_port": host.port(),
        "ansible_user": host.user(),
        "ansible_ssh_private_key_file": host.key_path().display().to_string(),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o 'ServerAliveInterval 15'",
        "ansible_ssh_extra_args": "-o IdentitiesOnly=yes",
    });
    let t = target_from_vars("vm1", vars.as_object().unwrap()).unwrap();
    let conn = SshConnection::new(t, policy(dir.path()));
    assert_eq!(
        conn.exec(req("echo $((6*7))")).await.unwrap().stdout,
        b"42\n"
    );
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn become_via_sudo_over_ssh() {
    use hook_runner::connection::{Become, BecomeMethod};
    if !lab_ready("become_via_sudo_over_ssh")
        || !lab::require_command("become_via_sudo_over_ssh", "sudo")
    {
        return;
    }
    let host = SshHost::options()
        .root(true)
        .start_loopback()
        .expect("sshd");
    let dir = control_dir();
    let sudo = |user: &str| Become {
        method: BecomeMethod::Sudo,
        user: user.into(),
        flags: None,
    };

    // root may sudo to anyone: the marker is stripped, env and stdin reach the command.
    let mut as_root = target(&host);
    as_root.user = Some("root".into());
    let conn = SshConnection::new(as_root, policy(dir.path()));
    let mut r = req("id -un; printf '%s|' \"$X\"; cat");
    r.env = vec![("X".into(), "kept".into())];
    r.stdin = Some(b"in".to_vec());
    r.become_ = Some(sudo(host.user()));
    let out = conn.exec(r).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hrtest\nkept|in");
    conn.close().await;

    // The unprivileged user has no sudoers rule: sudo -n refuses at once.
    let conn = SshConnection::new(target(&host), policy(dir.path()));
    let mut r = req("id -un");
    r.become_ = Some(sudo("root"));
    assert_eq!(
        conn.exec(r).await,
        Err(ConnError::Become("Missing sudo password".into()))
    );
    conn.close().await;
}
