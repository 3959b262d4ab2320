//! Self-tests of the lab's SSH hosts and network namespaces (need root; see `lab::require_root`).

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lab::netns::{lab_links, lab_namespaces, Netns};
use lab::ssh::{SshHost, CONNECT_TIMEOUT_SECS, TEST_USER};
use lab::util::pid_alive;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {} stdout={:?} stderr={:?}",
        out.status,
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ssh_loopback_logs_in_as_the_test_user_with_sh() {
    if !lab::require_root("ssh_loopback_logs_in_as_the_test_user_with_sh") {
        return;
    }
    let host = SshHost::start_loopback().expect("start sshd");
    assert_eq!(host.address().to_string(), "127.0.0.1");
    let out = host.ssh_command("id -un; echo $0; echo $HOME");
    assert_ok(&out, "ssh id");
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        vec![
            TEST_USER.to_string(),
            "sh".into(),
            format!("/home/{TEST_USER}")
        ]
    );
    // Loopback hosts refuse root unless asked.
    assert!(
        !host.root_command("true").status.success(),
        "root login must be refused on loopback"
    );
}

#[test]
fn ssh_sftp_subsystem_works() {
    if !lab::require_root_and("ssh_sftp_subsystem_works", &["sftp"]) {
        return;
    }
    let host = SshHost::start_loopback().expect("start sshd");
    // sftp spells the port option -P.
    let options = host
        .ssh_options()
        .into_iter()
        .map(|a| if a == "-p" { "-P".to_string() } else { a });
    let mut child = Command::new("sftp")
        .args(["-b", "-"])
        .args(options)
        .arg(format!("{}@{}", host.user(), host.address()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sftp");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"pwd\n")
        .expect("write");
    let out = child.wait_with_output().expect("sftp output");
    assert_ok(&out, "sftp pwd");
    assert!(
        stdout(&out).contains(&format!("/home/{TEST_USER}")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn ssh_one_connection_carries_more_than_ten_concurrent_sessions() {
    if !lab::require_root("ssh_one_connection_carries_more_than_ten_concurrent_sessions") {
        return;
    }
    let host = SshHost::start_loopback().expect("start sshd");
    let control = host.dir().join("control");
    let control_opt = format!("ControlPath={}", control.display());
    let target = format!("{}@{}", host.user(), host.address());
    let mut master = Command::new("ssh")
        .args(host.ssh_options())
        .args(["-M", "-N", "-o", &control_opt, &target])
        .stdin(Stdio::null())
        .spawn()
        .expect("ssh master");
    assert!(lab::util::wait_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || control.exists()
    ));
    // sshd's default MaxSessions is 10: 20 at once only work with the lab's MaxSessions 100.
    let sessions: Vec<_> = (0..20)
        .map(|i| {
            Command::new("ssh")
                .args(host.ssh_options())
                .args(["-o", &control_opt, &target, &format!("sleep 1; echo {i}")])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("ssh session")
        })
        .collect();
    for (i, child) in sessions.into_iter().enumerate() {
        let out = child.wait_with_output().expect("session output");
        assert_ok(&out, &format!("multiplexed session {i}"));
        assert_eq!(stdout(&out), i.to_string());
    }
    let _ = Command::new("ssh")
        .args(["-o", &control_opt, "-O", "exit", &target])
        .output();
    let _ = master.kill();
    let _ = master.wait();
}

#[test]
fn ssh_two_hosts_in_namespaces_reach_each_other_only_through_their_addresses() {
    if !lab::require_root("ssh_two_hosts_in_namespaces") {
        return;
    }
    let (a, b) = (
        Netns::new().expect("netns a"),
        Netns::new().expect("netns b"),
    );
    assert_ne!(a.address(), b.address());
    let (host_a, host_b) = (
        SshHost::start_in(&a).expect("sshd a"),
        SshHost::start_in(&b).expect("sshd b"),
    );

    // The host machine reaches both through their addresses.
    assert_eq!(stdout(&host_a.ssh_command("echo a")), "a");
    assert_eq!(stdout(&host_b.ssh_command("echo b")), "b");

    // Before joining, A has no route to B.
    let start = Instant::now();
    let out = host_b.ssh_command_from(&a, "true");
    assert!(
        !out.status.success(),
        "unjoined namespaces must not reach each other"
    );
    assert!(start.elapsed() < Duration::from_secs(CONNECT_TIMEOUT_SECS + 3));

    a.join(&b).expect("join");
    let out = host_b.ssh_command_from(&a, "echo $SSH_CLIENT");
    assert_ok(&out, "ssh from A to B");
    // B sees the connection coming from A's own address, not from the host.
    assert!(
        stdout(&out).starts_with(&format!("{} ", a.address())),
        "{}",
        stdout(&out)
    );
    let out = host_a.ssh_command_from(&b, "echo $SSH_CLIENT");
    assert_ok(&out, "ssh from B to A");

    // B's sshd is not on A's loopback (nor on the machine's).
    let mut cmd = a.command("ssh");
    cmd.args(host_b.ssh_options())
        .arg(format!("{TEST_USER}@127.0.0.1"))
        .arg("true");
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Root may log in on namespace hosts.
    let out = host_b.root_command("id -u");
    assert_ok(&out, "root ssh");
    assert_eq!(stdout(&out), "0");
}

#[test]
fn ssh_cut_link_fails_within_connect_timeout_and_restore_heals_it() {
    if !lab::require_root("ssh_cut_link") {
        return;
    }
    let (a, b) = (
        Netns::new().expect("netns a"),
        Netns::new().expect("netns b"),
    );
    a.join(&b).expect("join");
    let host_b = SshHost::start_in(&b).expect("sshd b");
    assert_ok(&host_b.ssh_command_from(&a, "true"), "before the cut");
    assert_ok(&host_b.ssh_command("true"), "host before the cut");

    b.cut().expect("cut");
    for (what, out) in [
        (
            "from the host",
            Box::new(|| host_b.ssh_command("true")) as Box<dyn Fn() -> Output>,
        ),
        ("from A", Box::new(|| host_b.ssh_command_from(&a, "true"))),
    ] {
        let start = Instant::now();
        let out = out();
        let took = start.elapsed();
        assert!(
            !out.status.success(),
            "ssh {what} must fail over a cut link"
        );
        assert!(
            took < Duration::from_secs(CONNECT_TIMEOUT_SECS + 3),
            "ssh {what} took {took:?}, over its ConnectTimeout of {CONNECT_TIMEOUT_SECS} s"
        );
    }

    b.restore().expect("restore");
    assert_ok(&host_b.ssh_command("true"), "host after restore");
    assert_ok(&host_b.ssh_command_from(&a, "true"), "A after restore");
}

#[test]
fn ssh_nothing_is_left_after_hosts_and_namespaces_are_dropped() {
    if !lab::require_root("ssh_nothing_is_left") {
        return;
    }
    let ns = Netns::new().expect("netns");
    let ns_name = ns.name().to_string();
    let in_ns = SshHost::start_in(&ns).expect("sshd in ns");
    let loopback = SshHost::start_loopback().expect("sshd on loopback");
    // An open session leaves a per-connection sshd and a shell behind the listener.
    let mut session = in_ns
        .ssh_as(TEST_USER, "sleep 600")
        .spawn()
        .expect("ssh session");
    let mut loop_session = loopback
        .ssh_as(TEST_USER, "sleep 600")
        .spawn()
        .expect("ssh session");
    let listener_pids = [in_ns.pid(), loopback.pid()];
    assert!(lab::util::wait_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            listener_pids
                .iter()
                .all(|&p| !lab::util::descendants(p).is_empty())
        }
    ));
    let mut started: Vec<i32> = listener_pids.to_vec();
    for &p in &listener_pids {
        started.extend(lab::util::descendants(p));
    }
    let dirs = [in_ns.dir().to_path_buf(), loopback.dir().to_path_buf()];

    drop(in_ns);
    drop(loopback);
    drop(ns);
    let _ = session.wait();
    let _ = loop_session.wait();

    assert!(
        !lab_namespaces().unwrap().contains(&ns_name),
        "namespace {ns_name} left in `ip netns list`"
    );
    assert!(
        !lab_links().unwrap().contains(&ns_name),
        "link {ns_name} left in `ip link`"
    );
    let survivors: Vec<i32> = started.into_iter().filter(|&p| pid_alive(p)).collect();
    assert!(
        survivors.is_empty(),
        "lab processes survived: {survivors:?}"
    );
    for dir in dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
