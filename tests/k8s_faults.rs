//! The Kubernetes API misbehaving (errors, throttling, slowness), through the hook-runner
//! binary running `k8s_info` tasks against the lab's API server with scripted faults:
//!
//! - transient `503` (with `Retry-After`), `429` and `500` answers, on discovery and on the read
//!   itself, are retried and the task succeeds; the retries wait as the server asked;
//! - a `503` that does not stop is reported with the status, reason, server and request after a
//!   bounded number of attempts, in bounded time; a huge `Retry-After` is capped;
//! - an API server nobody listens on is named, after bounded retries;
//! - a server whose certificate the configured CA does not sign is refused at once with a clear
//!   message (and nothing reaches the server: no fallback to an unverified connection);
//! - a server slower than `HOOK_RUNNER_API_TIMEOUT` hits the timeout;
//! - an Event `POST` is retried on `503` but not on `500` (the server may have created it).

#[path = "reliability/run.rs"]
mod run;

use hook_runner::kube::{ApiCluster, Cluster, EventSpec, RetryPolicy};
use lab::kube_api::{service_account, Fault, KubeApi, Rule};
use run::{Hook, Run};
use std::path::Path;
use std::time::Duration;

const NS: &str = "faults";
const SECRET_PATH: &str = "/api/v1/namespaces/faults/secrets/vm-key";
/// Bound on one run; the slowest scenario (a capped `Retry-After`) takes about 11 s.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

const PLAYBOOK: &str = r#"- name: Read a Secret
  hosts: localhost
  gather_facts: false
  tasks:
  - name: Read the key
    k8s_info:
      api_version: v1
      kind: Secret
      name: vm-key
      namespace: faults
    register: key
  - name: Count
    debug:
      msg: "found {{ key.resources | length }} secret(s)"
"#;

/// A server with the Secret, a kubeconfig allowed to read it, and the hook.
struct Setup {
    api: KubeApi,
    hook: Hook,
    kubeconfig: String,
}

impl Setup {
    fn new() -> Setup {
        let api = KubeApi::start();
        api.add_secret(NS, "vm-key", &[("key", b"not-a-real-key")]);
        let token = api.token(
            &service_account(NS, "hook"),
            &[Rule::new(&["get"], &["secrets"]).in_namespace(NS)],
        );
        let hook = Hook::new(PLAYBOOK);
        let kubeconfig = hook.path("kubeconfig");
        api.write_kubeconfig(Path::new(&kubeconfig), &token)
            .expect("kubeconfig");
        Setup {
            api,
            hook,
            kubeconfig,
        }
    }

    fn run(&self, env: &[(&str, &str)]) -> Run {
        self.hook
            .run(&["--kubeconfig", &self.kubeconfig], env, RUN_TIMEOUT)
    }

    /// The statuses the server answered on `path`, in order.
    fn statuses(&self, path: &str) -> Vec<u16> {
        self.api
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.status)
            .collect()
    }

    /// Seconds between the requests on `path`.
    fn gaps(&self, path: &str) -> Vec<f64> {
        let times: Vec<_> = self
            .api
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.received)
            .collect();
        times
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect()
    }
}

/// The `FAILED!` line of a run, printed so the messages can be read in the test log.
fn show_failure(run: &Run) {
    let line = run
        .all()
        .lines()
        .find(|l| l.contains("FAILED!"))
        .unwrap_or("(no FAILED! line)")
        .to_string();
    eprintln!("{line}");
}

fn assert_succeeded(run: &Run) {
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("found 1 secret(s)"), "{run:?}");
}

#[test]
fn transient_503_with_retry_after_is_retried_after_the_servers_delay() {
    let s = Setup::new();
    s.api
        .inject(Fault::status(SECRET_PATH, 503).retry_after("1").times(2));
    let run = s.run(&[]);
    assert_succeeded(&run);
    assert_eq!(s.statuses(SECRET_PATH), vec![503, 503, 200]);
    for gap in s.gaps(SECRET_PATH) {
        assert!(
            (0.9..5.0).contains(&gap),
            "a retry did not wait the 1 s Retry-After asked (gap {gap:.2} s)"
        );
    }
    eprintln!(
        "503 x2 with Retry-After: 1 -> ok in {:.1} s",
        run.duration.as_secs_f64()
    );
}

#[test]
fn transient_429_and_500_on_discovery_and_read_are_retried_with_backoff() {
    let s = Setup::new();
    s.api.inject(Fault::status("/api/v1", 429).times(1));
    s.api.inject(Fault::status("/api/v1", 500).times(1));
    s.api.inject(Fault::status(SECRET_PATH, 502).times(1));
    let run = s.run(&[]);
    assert_succeeded(&run);
    assert_eq!(s.statuses("/api/v1"), vec![429, 500, 200]);
    assert_eq!(s.statuses(SECRET_PATH), vec![502, 200]);
    // Without Retry-After the backoff starts at 0.5 s and doubles.
    let gaps = s.gaps("/api/v1");
    assert!(
        gaps[0] >= 0.4 && gaps[1] >= 0.9,
        "backoff too short: {gaps:?}"
    );
}

#[test]
fn a_503_that_does_not_stop_is_reported_with_status_and_request_after_bounded_attempts() {
    let s = Setup::new();
    s.api
        .inject(Fault::status(SECRET_PATH, 503).retry_after("1"));
    let run = s.run(&[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    show_failure(&run);
    assert_eq!(s.statuses(SECRET_PATH), vec![503; 5], "5 attempts in all");
    let all = run.all();
    for needle in [
        "503",
        "ServiceUnavailable",
        &format!("GET {SECRET_PATH}"),
        &s.api.url(),
        "5 times",
        "the server is currently unable to handle the request",
        "Read the key",
    ] {
        assert!(
            all.contains(needle),
            "the failure does not say {needle:?}: {run:?}"
        );
    }
    assert!(!run.stdout.contains("found 1"), "the play went on: {run:?}");
    assert!(run.duration < Duration::from_secs(30), "{run:?}");
}

#[test]
fn a_huge_retry_after_is_capped() {
    let s = Setup::new();
    s.api
        .inject(Fault::status(SECRET_PATH, 429).retry_after("3600").times(1));
    let run = s.run(&[]);
    assert_succeeded(&run);
    let gap = s.gaps(SECRET_PATH)[0];
    assert!(
        (9.5..15.0).contains(&gap),
        "Retry-After: 3600 should wait the 10 s cap, waited {gap:.1} s"
    );
}

#[test]
fn an_api_server_nobody_listens_on_is_named_after_bounded_retries() {
    let s = Setup::new();
    // A port that was just free: nothing listens on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let closed = format!("https://127.0.0.1:{port}");
    let config = std::fs::read_to_string(&s.kubeconfig)
        .expect("kubeconfig")
        .replace(&s.api.url(), &closed);
    std::fs::write(&s.kubeconfig, config).expect("kubeconfig");
    let run = s.run(&[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    show_failure(&run);
    let all = run.all();
    for needle in [
        "cannot reach the Kubernetes API server",
        closed.as_str(),
        "GET /api/v1",
        "Connection refused",
        "5 attempts",
    ] {
        assert!(
            all.contains(needle),
            "the failure does not say {needle:?}: {run:?}"
        );
    }
    // Backoff 0.5 + 1 + 2 + 4 s between the five attempts.
    assert!(run.duration < Duration::from_secs(20), "{run:?}");
}

#[test]
fn a_certificate_the_ca_does_not_sign_is_refused_at_once_and_never_bypassed() {
    let s = Setup::new();
    let other = KubeApi::start();
    let token = s.api.token(
        &service_account(NS, "hook"),
        &[Rule::new(&["get"], &["secrets"]).in_namespace(NS)],
    );
    std::fs::write(
        &s.kubeconfig,
        s.api.kubeconfig_with_ca(&token, other.ca_pem()),
    )
    .expect("kubeconfig");
    let run = s.run(&[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    show_failure(&run);
    let all = run.all();
    for needle in [
        "cannot verify the Kubernetes API server",
        &s.api.url(),
        "certificate",
    ] {
        assert!(
            all.contains(needle),
            "the failure does not say {needle:?}: {run:?}"
        );
    }
    assert!(
        s.api.requests().is_empty(),
        "a request reached the server over an unverified connection: {:?}",
        s.api.requests()
    );
    assert!(
        run.duration < Duration::from_secs(10),
        "TLS failures are not retried: {run:?}"
    );
}

#[test]
fn a_task_host_without_its_ca_is_refused_unless_validate_certs_is_false() {
    let s = Setup::new();
    let token = s.api.token(
        &service_account(NS, "hook"),
        &[Rule::new(&["get"], &["secrets"]).in_namespace(NS)],
    );
    let playbook = |validate: &str| {
        format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n  - k8s_info:\n      host: {}\n      api_key: {token}\n      validate_certs: {validate}\n      kind: Secret\n      name: vm-key\n      namespace: faults\n    register: key\n  - debug:\n      msg: \"found {{{{ key.resources | length }}}} secret(s)\"\n",
            s.api.url()
        )
    };
    let hook = Hook::new(&playbook("true"));
    let run = hook.run(&[], &[], RUN_TIMEOUT);
    assert_eq!(run.code, Some(2), "{run:?}");
    show_failure(&run);
    assert!(
        run.all()
            .contains("cannot verify the Kubernetes API server"),
        "{run:?}"
    );
    assert!(s.api.requests().is_empty(), "{:?}", s.api.requests());
    assert!(
        !run.all().contains(&token),
        "the api_key is printed: {run:?}"
    );

    // Turning verification off is the task's explicit choice, and then it works.
    let hook = Hook::new(&playbook("false"));
    let run = hook.run(&[], &[], RUN_TIMEOUT);
    assert_succeeded(&run);
}

#[test]
fn a_slow_api_server_hits_the_request_timeout() {
    let s = Setup::new();
    s.api
        .inject(Fault::delay(SECRET_PATH, Duration::from_secs(8)));
    let run = s.run(&[("HOOK_RUNNER_API_TIMEOUT", "1")]);
    assert_eq!(run.code, Some(2), "{run:?}");
    show_failure(&run);
    let all = run.all();
    for needle in [
        "did not answer",
        &format!("GET {SECRET_PATH}"),
        "within 1 s",
        "HOOK_RUNNER_API_TIMEOUT",
    ] {
        assert!(
            all.contains(needle),
            "the failure does not say {needle:?}: {run:?}"
        );
    }
    assert!(run.duration < Duration::from_secs(6), "{run:?}");
}

#[test]
fn a_bad_timeout_setting_is_refused_with_its_name() {
    let s = Setup::new();
    let run = s.run(&[("HOOK_RUNNER_API_TIMEOUT", "soon")]);
    assert_eq!(run.code, Some(2), "{run:?}");
    show_failure(&run);
    assert!(
        run.all()
            .contains("HOOK_RUNNER_API_TIMEOUT must be a number"),
        "{run:?}"
    );
}

/// A policy with short delays, for the library-level Event tests.
fn quick() -> RetryPolicy {
    RetryPolicy {
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

fn event() -> EventSpec {
    EventSpec {
        namespace: NS.into(),
        pod_name: "hook-abc".into(),
        reason: "HookSucceeded".into(),
        event_type: "Normal".into(),
        message: "done".into(),
    }
}

fn event_cluster(api: &KubeApi) -> (tempfile::TempDir, ApiCluster) {
    let token = api.token(
        &service_account(NS, "hook"),
        &[Rule::new(&["create"], &["events"]).in_namespace(NS)],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    api.write_service_account_dir(dir.path(), &token, NS)
        .expect("service account");
    let cluster = ApiCluster::from_service_account(&api.url(), dir.path())
        .expect("client")
        .with_policy(quick());
    (dir, cluster)
}

#[tokio::test]
async fn an_event_post_is_retried_on_503_but_not_after_a_500() {
    const EVENTS: &str = "/api/v1/namespaces/faults/events";
    let api = KubeApi::start();
    let (_dir, cluster) = event_cluster(&api);
    api.inject(Fault::status(EVENTS, 503).times(2));
    cluster
        .post_event(&event())
        .await
        .expect("posted after two 503s");
    assert_eq!(api.events().len(), 1);

    api.clear_requests();
    api.inject(Fault::status(EVENTS, 500).times(1));
    let error = cluster.post_event(&event()).await.expect_err("a 500 fails");
    assert_eq!((error.code, error.reason.as_str()), (500, "InternalError"));
    let posts: Vec<u16> = api
        .requests()
        .iter()
        .filter(|r| r.path == EVENTS)
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![500], "a POST answered 500 is not sent again");
    assert_eq!(api.events().len(), 1);
}
