//! `async:`/`poll:` through the engine (`engine::async_task`): fire and forget returns at once
//! with Ansible's result and the command still completes on the target (locally, and over SSH
//! to the lab's loopback sshd, where the remote watchdog must leave it alone); a polled job
//! past its limit fails with Ansible's message; modules without async support fail.

use crate::engine_common;
use engine_common::*;
use hook_runner::report::Status;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// A play that fires `sleep 3 && touch MARKER` with `async: 10, poll: 0` (results under
/// `home`; `keywords`: more task keywords, YAML lines), then shows the registered result.
fn fire_and_forget_play(hosts: &str, marker: &Path, home: &Path, keywords: &str) -> String {
    format!(
        r#"
- hosts: {hosts}
  gather_facts: false
  tasks:
    - name: fire
      shell: sleep 3 && touch {marker}
      async: 10
      poll: 0
      environment:
        HOME: {home}
      register: job
{keywords}    - name: show
      debug:
        msg: "{{{{ job.started }}}} {{{{ job.finished }}}} {{{{ job.ansible_job_id is match('j[0-9]+[.][0-9]+$') }}}} {{{{ job.results_file == '{home}/.ansible_async/' ~ job.ansible_job_id }}}}"
"#,
        marker = marker.display(),
        home = home.display()
    )
}

/// Waits up to `limit` for `path` to exist.
fn appears_within(path: &Path, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    path.exists()
}

/// Checks a fire-and-forget run: quick, Ansible's result, the job completing afterwards.
fn check_fire_and_forget(
    out: &Outcome,
    host: &str,
    took: Duration,
    bound: Duration,
    marker: &Path,
) {
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    assert!(took < bound, "the fire-and-forget task took {took:?}");
    let (status, r) = out.result("fire", host);
    assert_eq!(status, Status::Changed, "{r:?}");
    assert_eq!(r["started"], json!(1));
    assert_eq!(r["finished"], json!(0));
    assert_eq!(out.result("show", host).1["msg"], json!("1 0 True True"));
    assert!(!marker.exists(), "the job ran before the task returned");
    assert!(
        appears_within(marker, Duration::from_secs(10)),
        "the detached job never completed (killed with the channel?)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_and_forget_on_localhost_returns_at_once_and_the_job_completes() {
    let work = tempfile::tempdir().unwrap();
    let marker = work.path().join("done");
    let started = Instant::now();
    let out = run(&fire_and_forget_play("localhost", &marker, work.path(), "")).await;
    let took = started.elapsed();
    check_fire_and_forget(&out, "localhost", took, Duration::from_secs(1), &marker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_and_forget_over_ssh_returns_at_once_and_the_job_completes() {
    lab::prologue!(
        test,
        lab::require_root_and(test, &["ssh", "sshd", "ssh-keygen"])
    );
    fire_and_forget_over_ssh(false).await;
}

/// The same under `become` (sudo from root to the unprivileged test user): sudo's own session
/// (Debian's `use_pty`) must not take the job with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fire_and_forget_under_become_over_ssh_completes() {
    lab::prologue!(
        test,
        lab::require_root_and(test, &["ssh", "sshd", "ssh-keygen", "sudo"])
    );
    fire_and_forget_over_ssh(true).await;
}

async fn fire_and_forget_over_ssh(become_: bool) {
    let host =
        tokio::task::spawn_blocking(move || lab::SshHost::options().root(become_).start_loopback())
            .await
            .unwrap()
            .expect("sshd");
    // The job writes the marker and its results as the test user: a directory it may write to.
    let work = tempfile::Builder::new()
        .prefix("hr-async-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let marker = work.path().join("done");
    let (login, keywords) = if become_ {
        (
            "root".to_string(),
            format!("      become: true\n      become_user: {}\n", host.user()),
        )
    } else {
        (host.user().to_string(), String::new())
    };
    let inventory = format!(
        "target ansible_host={} ansible_port={} ansible_user={login} ansible_ssh_private_key_file={}\n",
        host.address(),
        host.port(),
        host.key_path().display()
    );
    let playbook = fire_and_forget_play("target", &marker, work.path(), &keywords);
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[("playbook.yml", &playbook), (INVENTORY, &inventory)],
    );
    let mut opts = hook_runner::engine::RunOptions {
        playbook: dir.path().join("playbook.yml"),
        ..hook_runner::engine::RunOptions::default()
    };
    use_inventory(&mut opts);
    let started = Instant::now();
    let (rc, events) = run_with(&opts).await;
    let took = started.elapsed();
    let out = Outcome {
        rc,
        events,
        dir: tempfile::tempdir().unwrap(),
    };
    // The run also sets up the SSH connection (about 0.1 s on loopback): allowed for.
    check_fire_and_forget(&out, "target", took, Duration::from_millis(1500), &marker);
    if become_ {
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&marker).unwrap());
        assert_ne!(owner, 0, "the job did not run as the become user");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_job_past_its_async_limit_fails_with_ansible_words() {
    let started = Instant::now();
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: slow
      command: sleep 30
      async: 1
      poll: 1
      ignore_errors: true
      register: slow
    - name: quick
      command: echo fine
      async: 10
      poll: 2
      register: quick
"#)
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (status, r) = out.result("slow", "localhost");
    assert_eq!(status, Status::Ignored, "{r:?}");
    assert_eq!(
        r["msg"],
        json!("async task did not complete within the requested time - 1s")
    );
    assert_eq!(r["changed"], json!(false));
    let (status, r) = out.result("quick", "localhost");
    assert_eq!(status, Status::Changed, "{r:?}");
    assert_eq!(r["stdout"], json!("fine"));
    assert_eq!(r["finished"], json!(1));
}

#[tokio::test]
async fn async_on_a_module_without_async_support_fails() {
    let out = run(r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: copy
      copy:
        content: x
        dest: /nonexistent/never-written
      async: 5
      poll: 0
      ignore_errors: true
    - name: zero means synchronous
      debug:
        msg: ran
      async: 0
"#)
    .await;
    assert_eq!(out.rc, 0, "{:#?}", out.events);
    let (status, r) = out.result("copy", "localhost");
    assert_eq!(status, Status::Ignored, "{r:?}");
    assert_eq!(r["msg"], json!("async is not supported for this task."));
    assert_eq!(out.debug_msg("zero means synchronous"), json!("ran"));
}
