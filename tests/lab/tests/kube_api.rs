//! The Kubernetes API test server against real clients: `kubectl` (v1.32 on the machine image)
//! and `curl`. Each test checks that the client behaves as against a cluster, and what the client
//! asked (from the server's request record).

use lab::kube_api::{service_account, KubeApi, RecordedRequest, Rule};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const NS: &str = "mtv-hooks";
const SA: &str = "hook-sa";

/// A server, a scratch directory, and a kubeconfig for one token.
struct Setup {
    api: KubeApi,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Setup {
    fn new(rules: &[Rule]) -> Setup {
        let api = KubeApi::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let token = api.token(&service_account(NS, SA), rules);
        let kubeconfig = dir.path().join("kubeconfig");
        api.write_kubeconfig(&kubeconfig, &token)
            .expect("kubeconfig");
        Setup {
            api,
            dir,
            kubeconfig,
        }
    }

    /// Runs kubectl with this kubeconfig, a private HOME and discovery cache.
    fn kubectl(&self, args: &[&str]) -> Output {
        self.api.kubectl(&self.kubeconfig, self.dir.path(), args)
    }

    fn kubectl_json(&self, args: &[&str]) -> Value {
        let output = self.kubectl(args);
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("kubectl printed JSON")
    }

    fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.api
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn read_secrets() -> Vec<Rule> {
    vec![Rule::new(&["get", "list"], &["secrets"]).in_namespace(NS)]
}

#[test]
fn kubectl_gets_a_secret_as_json() {
    let setup = Setup::new(&read_secrets());
    setup.api.add_secret(
        NS,
        "vm-ssh-key",
        &[("key", b"-----BEGIN OPENSSH PRIVATE KEY-----\n")],
    );

    let secret = setup.kubectl_json(&["get", "secret", "vm-ssh-key", "-n", NS, "-o", "json"]);

    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["apiVersion"], "v1");
    assert_eq!(secret["metadata"]["name"], "vm-ssh-key");
    assert_eq!(secret["metadata"]["namespace"], NS);
    assert_eq!(
        secret["data"]["key"],
        "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0K"
    );
    assert_eq!(secret["type"], "Opaque");

    let gets = setup.requests_to(&format!("/api/v1/namespaces/{NS}/secrets/vm-ssh-key"));
    assert_eq!(gets.len(), 1, "{:?}", setup.api.requests());
    assert_eq!(gets[0].method, "GET");
    assert_eq!(gets[0].auth_scheme(), Some("Bearer"));
    assert_eq!(
        gets[0].http_version, "HTTP/2.0",
        "kubectl negotiated HTTP/2 by ALPN"
    );
    assert_eq!(gets[0].status, 200);
    // kubectl asked for aggregated discovery first and took the legacy answer.
    let discovery = setup.requests_to("/api");
    assert!(!discovery.is_empty());
    let accept = discovery[0].header("accept").unwrap_or_default();
    assert!(
        accept.contains("apidiscovery.k8s.io"),
        "kubectl asked for aggregated discovery: {accept}"
    );
    assert!(discovery.iter().all(|r| r.status == 200));
}

#[test]
fn kubectl_lists_secrets_by_label() {
    let setup = Setup::new(&read_secrets());
    setup
        .api
        .seed_yaml(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: a, namespace: {NS}, labels: {{app: x}}}}\nstringData: {{k: v}}\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {{name: b, namespace: {NS}, labels: {{app: web}}}}\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {{name: c, namespace: {NS}, labels: {{app: x, tier: db}}}}\n"
        ))
        .expect("manifest");

    let list = setup.kubectl_json(&["get", "secrets", "-n", NS, "-l", "app=x", "-o", "json"]);
    assert_eq!(names(&list), ["a", "c"]);
    assert_eq!(
        list["items"][0]["data"]["k"], "dg==",
        "stringData folded into data"
    );
    let list = setup.kubectl_json(&[
        "get",
        "secrets",
        "-n",
        NS,
        "-l",
        "app in (x,web),!tier",
        "-o",
        "json",
    ]);
    assert_eq!(names(&list), ["a", "b"]);
    let list = setup.kubectl_json(&[
        "get",
        "secrets",
        "-n",
        NS,
        "--field-selector",
        "metadata.name=b",
        "-o",
        "json",
    ]);
    assert_eq!(names(&list), ["b"]);

    let lists = setup.requests_to(&format!("/api/v1/namespaces/{NS}/secrets"));
    assert_eq!(lists.len(), 3);
    assert_eq!(
        lists[0].query_param("labelSelector").as_deref(),
        Some("app=x")
    );
    assert_eq!(lists[0].query_param("limit").as_deref(), Some("500"));
    assert_eq!(
        lists[2].query_param("fieldSelector").as_deref(),
        Some("metadata.name=b")
    );
}

#[test]
fn kubectl_prints_a_table_and_lists_all_namespaces() {
    let setup = Setup::new(&[Rule::new(&["get", "list"], &["secrets"])]);
    setup.api.add_secret(NS, "one", &[("a", b"1"), ("b", b"2")]);
    setup.api.add_secret("other", "two", &[]);

    let output = setup.kubectl(&["get", "secrets", "-n", NS]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["NAME", "TYPE", "DATA", "AGE"], "{text}");
    assert_eq!(lines[1][..3], ["one", "Opaque", "2"], "{text}");
    let output = setup.kubectl(&["get", "secret", "one", "-n", NS]);
    let text = String::from_utf8_lossy(&output.stdout);
    let row: Vec<&str> = text
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..3],
        ["one", "Opaque", "2"],
        "a single object as a Table: {text}"
    );
    let table_request = &setup.requests_to(&format!("/api/v1/namespaces/{NS}/secrets"))[0];
    assert!(table_request
        .header("accept")
        .unwrap_or_default()
        .contains("as=Table"));

    let all = setup.kubectl_json(&["get", "secrets", "--all-namespaces", "-o", "json"]);
    assert_eq!(names(&all), ["one", "two"]);
    assert_eq!(setup.requests_to("/api/v1/secrets").len(), 1);
}

#[test]
fn kubectl_reports_forbidden_like_a_cluster() {
    let rules = [
        Rule::new(&["get"], &["secrets"])
            .in_namespace(NS)
            .named(&["allowed"]),
        Rule::new(&["get"], &["configmaps"]).in_namespace(NS),
    ];
    let setup = Setup::new(&rules);
    setup.api.add_secret(NS, "x", &[("k", b"v")]);

    let output = setup.kubectl(&["get", "secret", "x", "-n", NS, "-o", "json"]);
    assert!(!output.status.success());
    let expected = format!(
        "Error from server (Forbidden): secrets \"x\" is forbidden: User \"system:serviceaccount:{NS}:{SA}\" cannot get resource \"secrets\" in API group \"\" in the namespace \"{NS}\""
    );
    assert_eq!(stderr(&output).trim(), expected);

    let output = setup.kubectl(&["get", "secrets", "-n", NS, "-o", "json"]);
    assert!(!output.status.success());
    let expected = format!(
        "Error from server (Forbidden): secrets is forbidden: User \"system:serviceaccount:{NS}:{SA}\" cannot list resource \"secrets\" in API group \"\" in the namespace \"{NS}\""
    );
    assert_eq!(stderr(&output).trim(), expected);

    let forbidden = &setup.requests_to(&format!("/api/v1/namespaces/{NS}/secrets/x"))[0];
    assert_eq!(forbidden.status, 403);
}

#[test]
fn kubectl_reports_a_forbidden_custom_resource_with_its_group() {
    let setup = Setup::new(&read_secrets());
    setup
        .api
        .seed_yaml(&format!("apiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\nmetadata: {{name: p, namespace: {NS}}}\n"))
        .expect("manifest");
    let output = setup.kubectl(&["get", "plans.forklift.konveyor.io", "p", "-n", NS]);
    assert!(!output.status.success());
    let expected = format!(
        "Error from server (Forbidden): plans.forklift.konveyor.io \"p\" is forbidden: User \"system:serviceaccount:{NS}:{SA}\" cannot get resource \"plans\" in API group \"forklift.konveyor.io\" in the namespace \"{NS}\""
    );
    assert_eq!(stderr(&output).trim(), expected);
}

#[test]
fn kubectl_reports_not_found_like_a_cluster() {
    let setup = Setup::new(&read_secrets());
    let output = setup.kubectl(&["get", "secret", "missing", "-n", NS, "-o", "json"]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output).trim(),
        "Error from server (NotFound): secrets \"missing\" not found"
    );
}

#[test]
fn kubectl_with_a_bad_token_is_unauthorized() {
    let setup = Setup::new(&read_secrets());
    setup
        .api
        .write_kubeconfig(&setup.kubeconfig, "not-a-token")
        .expect("kubeconfig");
    let output = setup.kubectl(&["get", "secret", "x", "-n", NS, "-o", "json"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    // kubectl 1.32 fails in discovery and words a 401 this way (as against a cluster).
    assert!(message.contains("error: You must be logged in to the server (the server has asked for the client to provide credentials)"), "{message}");
    assert!(setup.api.requests().iter().any(|r| r.status == 401));
}

#[test]
fn kubectl_lists_custom_resources_seeded_from_yaml() {
    let setup = Setup::new(&[Rule::new(&["get", "list"], &["*"]).in_namespace(NS)]);
    let manifest = format!(
        "---\napiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\nmetadata:\n  name: plan-1\n  namespace: {NS}\nspec:\n  targetNamespace: vms\n\
         ---\napiVersion: forklift.konveyor.io/v1beta1\nkind: Hook\nmetadata:\n  name: hook-1\n  namespace: {NS}\nspec:\n  image: quay.io/kubev2v/hook-runner\n  playbook: ''\n\
         ---\napiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: vm-1\n  namespace: {NS}\nspec:\n  running: false\n"
    );
    setup.api.seed_yaml(&manifest).expect("manifest");

    let plans = setup.kubectl_json(&["get", "plans.forklift.konveyor.io", "-n", NS, "-o", "json"]);
    assert_eq!(names(&plans), ["plan-1"]);
    assert_eq!(
        plans["items"][0]["kind"], "Plan",
        "custom resource list items keep their kind"
    );
    assert_eq!(plans["items"][0]["spec"]["targetNamespace"], "vms");
    let hook = setup.kubectl_json(&["get", "hook", "hook-1", "-n", NS, "-o", "json"]);
    assert_eq!(hook["spec"]["image"], "quay.io/kubev2v/hook-runner");
    let vms = setup.kubectl_json(&["get", "virtualmachines.kubevirt.io", "-n", NS, "-o", "json"]);
    assert_eq!(names(&vms), ["vm-1"]);

    assert_eq!(
        setup
            .requests_to(&format!(
                "/apis/forklift.konveyor.io/v1beta1/namespaces/{NS}/plans"
            ))
            .len(),
        1
    );
    assert!(
        !setup.requests_to("/apis").is_empty(),
        "kubectl discovered the groups"
    );
}

#[test]
fn kubectl_creates_an_event_once() {
    let setup = Setup::new(&[Rule::new(&["create", "list"], &["events"]).in_namespace(NS)]);
    let event = format!(
        "apiVersion: v1\nkind: Event\nmetadata:\n  name: hook-pod.1\n  namespace: {NS}\ninvolvedObject:\n  kind: Pod\n  name: hook-pod\n  namespace: {NS}\nreason: HookSucceeded\nmessage: the hook ran\ntype: Normal\n"
    );
    let file = setup.dir.path().join("event.yaml");
    std::fs::write(&file, event).expect("event.yaml");

    let output = setup.kubectl(&["create", "-f", "event.yaml"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "event/hook-pod.1 created"
    );

    let output = setup.kubectl(&["create", "-f", "event.yaml"]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output).trim(),
        "Error from server (AlreadyExists): error when creating \"event.yaml\": events \"hook-pod.1\" already exists"
    );

    let events = setup.api.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["reason"], "HookSucceeded");
    let listed = setup.kubectl_json(&["get", "events", "-n", NS, "-o", "json"]);
    assert_eq!(names(&listed), ["hook-pod.1"]);
    assert_eq!(listed["items"][0]["message"], "the hook ran");
    assert_eq!(events[0]["metadata"]["namespace"], NS);
    let posts: Vec<RecordedRequest> = setup
        .requests_to(&format!("/api/v1/namespaces/{NS}/events"))
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(
        posts.iter().map(|r| r.status).collect::<Vec<_>>(),
        [201, 409]
    );
    assert_eq!(posts[0].method, "POST");
    assert_eq!(
        posts[0].body_json().map(|b| b["reason"].clone()),
        Some("HookSucceeded".into())
    );
    // kubectl learned from the OpenAPI v3 document that the server validates fields.
    assert_eq!(
        posts[0].query_param("fieldValidation").as_deref(),
        Some("Strict")
    );
}

#[test]
fn kubectl_creates_an_events_k8s_io_event() {
    let setup = Setup::new(&[Rule::new(&["create"], &["events"]).in_namespace(NS)]);
    let event = format!(
        "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: hook-pod.2\n  namespace: {NS}\neventTime: \"2026-01-01T00:00:00.000000Z\"\n\
         reportingController: hook-runner\nreportingInstance: hook-pod\naction: Run\nreason: HookFailed\nnote: a task failed\ntype: Warning\n\
         regarding:\n  kind: Pod\n  name: hook-pod\n  namespace: {NS}\n"
    );
    std::fs::write(setup.dir.path().join("event.yaml"), event).expect("event.yaml");
    let output = setup.kubectl(&["create", "-f", "event.yaml"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "event.events.k8s.io/hook-pod.2 created"
    );
    let events = setup.api.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["apiVersion"], "events.k8s.io/v1");
    assert_eq!(events[0]["note"], "a task failed");
    assert_eq!(
        setup.requests_to(&format!("/apis/events.k8s.io/v1/namespaces/{NS}/events"))[0].status,
        201
    );
}

/// curl with the CA file and a lowercase `bearer` scheme, as the Python client sends it.
fn curl(api: &KubeApi, ca: &Path, authorization: Option<&str>, path: &str) -> (u16, Value) {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "--cacert"])
        .arg(ca)
        .args(["-w", "\n%{http_code}"]);
    if let Some(authorization) = authorization {
        command.args(["-H", &format!("Authorization: {authorization}")]);
    }
    let output = command
        .arg(format!("{}{path}", api.url()))
        .output()
        .expect("curl");
    assert!(output.status.success(), "curl: {}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (
        code.trim().parse().unwrap_or(0),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[test]
fn lowercase_bearer_scheme_is_accepted_and_the_ca_verifies() {
    let setup = Setup::new(&read_secrets());
    let token = setup.api.token(&service_account(NS, SA), &read_secrets());
    setup.api.add_secret(NS, "s", &[("k", b"v")]);
    let ca = setup.dir.path().join("ca.pem");
    std::fs::write(&ca, setup.api.ca_pem()).expect("ca.pem");
    let path = format!("/api/v1/namespaces/{NS}/secrets/s");

    let (code, body) = curl(&setup.api, &ca, Some(&format!("bearer {token}")), &path);
    assert_eq!((code, body["data"]["k"].as_str()), (200, Some("dg==")));
    let (code, body) = curl(&setup.api, &ca, Some("bearer wrong"), &path);
    assert_eq!(code, 401);
    assert_eq!(
        body.to_string(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
    );
    let (code, body) = curl(&setup.api, &ca, None, "/version");
    assert_eq!((code, body["major"].as_str()), (200, Some("1")));
    let (code, _) = curl(&setup.api, &ca, None, &path);
    assert_eq!(code, 401);

    let recorded = setup.requests_to(&path);
    let schemes: Vec<Option<&str>> = recorded.iter().map(|r| r.auth_scheme()).collect();
    assert_eq!(schemes, [Some("bearer"), Some("bearer"), None]);
    assert_eq!(
        recorded.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 401, 401]
    );
}

#[test]
fn service_account_dir_is_what_kubernetes_mounts() {
    let setup = Setup::new(&read_secrets());
    let dir = setup.dir.path().join("serviceaccount");
    setup
        .api
        .write_service_account_dir(&dir, "tok", NS)
        .expect("sa dir");
    assert_eq!(
        std::fs::read_to_string(dir.join("token")).unwrap_or_default(),
        "tok"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("namespace")).unwrap_or_default(),
        NS
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("ca.crt")).unwrap_or_default(),
        setup.api.ca_pem()
    );
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let api = KubeApi::start();
    let address = format!("127.0.0.1:{}", api.port());
    assert!(std::net::TcpStream::connect(&address).is_ok());
    drop(api);
    // Tests run in parallel: another test's server may be handed the freed port at once, so a
    // successful bind proves as much as a refused connection.
    let freed = || {
        std::net::TcpListener::bind(&address).is_ok()
            || std::net::TcpStream::connect(&address).is_err()
    };
    assert!(
        lab::util::wait_until(Duration::from_secs(3), Duration::from_millis(50), freed),
        "nothing listens after drop"
    );
}

/// The Python `kubernetes` client (what `kubernetes.core` uses), configured as in a pod. It
/// needs a Python with that package: `LAB_KUBE_PYTHON=/path/to/venv/bin/python` and
/// `cargo test -p lab --test kube_api -- --ignored python`.
#[test]
#[ignore = "needs LAB_KUBE_PYTHON: a python with the kubernetes package"]
fn python_client_in_cluster() {
    let Ok(python) = std::env::var("LAB_KUBE_PYTHON") else {
        panic!("set LAB_KUBE_PYTHON to a python that has the kubernetes package");
    };
    let setup = Setup::new(&[]);
    let rules = [
        Rule::new(&["get", "list"], &["secrets"])
            .in_namespace(NS)
            .named(&["vm-key", "missing"]),
        Rule::new(&["list"], &["secrets"]).in_namespace(NS),
        Rule::new(&["create"], &["events"]).in_namespace(NS),
    ];
    let token = setup.api.token(&service_account(NS, SA), &rules);
    let sa = setup.dir.path().join("serviceaccount");
    setup
        .api
        .write_service_account_dir(&sa, &token, NS)
        .expect("sa dir");
    setup.api.add_secret(NS, "vm-key", &[("key", b"PRIVATE")]);
    setup
        .api
        .seed_yaml(&format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: labelled, namespace: {NS}, labels: {{app: hook}}}}\n"))
        .expect("manifest");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kube_py/client_check.py");
    let output = Command::new(python)
        .arg(script)
        .arg(&sa)
        .arg(setup.api.host())
        .arg(setup.api.port().to_string())
        .arg(NS)
        .output()
        .expect("python runs");
    assert!(output.status.success(), "python: {}", stderr(&output));
    let seen: Value = serde_json::from_slice(&output.stdout).expect("JSON from the script");
    assert_eq!(seen["version"], "v1.32.0-hook-runner-lab");
    assert_eq!(seen["secret_data"]["key"], "UFJJVkFURQ==");
    assert_eq!(seen["listed"], serde_json::json!(["labelled"]));
    assert_eq!(seen["missing"]["status"], 404);
    assert_eq!(seen["other"]["status"], 403);
    assert_eq!(seen["other"]["reason"], "Forbidden");
    assert_eq!(seen["event"], NS);

    let recorded = setup.api.requests();
    // The Python client asks `/version/` (with the slash) first.
    assert_eq!(recorded[0].path, "/version/");
    let authenticated: Vec<&RecordedRequest> = recorded
        .iter()
        .filter(|r| !r.path.starts_with("/version"))
        .collect();
    assert!(!authenticated.is_empty());
    assert!(
        authenticated
            .iter()
            .all(|r| r.auth_scheme() == Some("bearer")),
        "lowercase scheme"
    );
    assert!(authenticated.iter().all(|r| r.status != 401));
}

#[test]
fn kubectl_patches_replaces_and_deletes() {
    let setup = Setup::new(&[Rule::new(&["*"], &["configmaps", "plans"]).in_namespace(NS)]);
    setup
        .api
        .seed_yaml(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: m, namespace: {NS}}}\ndata: {{k: '1', gone: x}}\n---\n\
             apiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\nmetadata: {{name: p, namespace: {NS}}}\nspec: {{warm: false}}\n"
        ))
        .expect("manifest");

    let output = setup.kubectl(&[
        "patch",
        "configmap",
        "m",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        r#"{"data":{"k":"2","gone":null}}"#,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "configmap/m patched"
    );
    let output = setup.kubectl(&[
        "patch",
        "configmap",
        "m",
        "-n",
        NS,
        "-p",
        r#"{"data":{"j":"3"}}"#,
    ]);
    assert!(
        output.status.success(),
        "strategic merge on a built-in type: {}",
        stderr(&output)
    );
    let map = setup.kubectl_json(&["get", "configmap", "m", "-n", NS, "-o", "json"]);
    assert_eq!(map["data"], serde_json::json!({"k": "2", "j": "3"}));

    // A custom resource takes merge patches but not strategic ones, as on a real server.
    let output = setup.kubectl(&[
        "patch",
        "plans.forklift.konveyor.io",
        "p",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"warm":true}}"#,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = setup.kubectl(&[
        "patch",
        "plans.forklift.konveyor.io",
        "p",
        "-n",
        NS,
        "-p",
        r#"{"spec":{"warm":false}}"#,
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("error: application/strategic-merge-patch+json is not supported by forklift.konveyor.io/v1beta1, Kind=Plan"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        setup.api.objects("forklift.konveyor.io", "plans")[0]["spec"]["warm"],
        true
    );

    let replacement = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n  namespace: {NS}\ndata:\n  only: here\n");
    std::fs::write(setup.dir.path().join("cm.yaml"), replacement).expect("cm.yaml");
    let output = setup.kubectl(&["replace", "-f", "cm.yaml"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "configmap/m replaced"
    );
    assert_eq!(
        setup.api.objects("", "configmaps")[0]["data"],
        serde_json::json!({"only": "here"})
    );

    let output = setup.kubectl(&["delete", "configmap", "m", "-n", NS]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "configmap \"m\" deleted"
    );
    assert!(setup.api.objects("", "configmaps").is_empty());
    let output = setup.kubectl(&["delete", "configmap", "m", "-n", NS]);
    assert_eq!(
        stderr(&output).trim(),
        "Error from server (NotFound): configmaps \"m\" not found"
    );

    let methods: Vec<(String, u16)> = setup
        .requests_to(&format!("/api/v1/namespaces/{NS}/configmaps/m"))
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    assert!(
        methods.contains(&("PATCH".to_string(), 200))
            && methods.contains(&("PUT".to_string(), 200)),
        "{methods:?}"
    );
    assert!(
        methods.contains(&("DELETE".to_string(), 200))
            && methods.contains(&("DELETE".to_string(), 404)),
        "{methods:?}"
    );
}

#[test]
fn kubectl_applies_server_side_patches_json_and_strategic_and_dry_runs() {
    let setup = Setup::new(&[Rule::new(&["*"], &["configmaps", "pods"]).in_namespace(NS)]);
    setup
        .api
        .seed_yaml(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: {NS}}}\nspec:\n  containers:\n  - {{name: a, image: 'a:1'}}\n  - {{name: b, image: 'b:1'}}\n"
        ))
        .expect("manifest");
    let manifest = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: {NS}\ndata:\n{data}")
    };
    let file = setup.dir.path().join("applied.yaml");
    std::fs::write(&file, manifest("  a: '1'\n  b: '2'\n")).expect("manifest");
    let output = setup.kubectl(&["apply", "--server-side", "-f", "applied.yaml"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "configmap/applied serverside-applied"
    );
    std::fs::write(&file, manifest("  a: '1'\n")).expect("manifest");
    let output = setup.kubectl(&["apply", "--server-side", "-f", "applied.yaml"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let map = setup.kubectl_json(&["get", "configmap", "applied", "-n", NS, "-o", "json"]);
    assert_eq!(
        map["data"],
        serde_json::json!({"a": "1"}),
        "the key no longer applied is gone"
    );

    let output = setup.kubectl(&[
        "patch", "configmap", "applied", "-n", NS, "--type", "json", "-p",
        r#"[{"op":"add","path":"/data/j","value":"x"},{"op":"replace","path":"/data/a","value":"9"}]"#,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = setup.kubectl(&[
        "patch",
        "configmap",
        "applied",
        "-n",
        NS,
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/data/nope"}]"#,
    ]);
    assert!(!output.status.success(), "removing a missing key fails");
    let map = setup.kubectl_json(&["get", "configmap", "applied", "-n", NS, "-o", "json"]);
    assert_eq!(map["data"], serde_json::json!({"a": "9", "j": "x"}));

    let output = setup.kubectl(&[
        "patch",
        "pod",
        "p",
        "-n",
        NS,
        "-p",
        r#"{"spec":{"containers":[{"name":"b","image":"b:2"}]}}"#,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let pod = setup.kubectl_json(&["get", "pod", "p", "-n", NS, "-o", "json"]);
    assert_eq!(
        pod["spec"]["containers"],
        serde_json::json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}]),
        "a strategic merge merges containers by name"
    );

    // From a file: `kubectl create configmap` would send protobuf, which this server does not read.
    std::fs::write(
        setup.dir.path().join("dry.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: dry, namespace: {NS}}}\ndata: {{k: v}}\n"),
    )
    .expect("dry.yaml");
    let output = setup.kubectl(&["create", "-f", "dry.yaml", "--dry-run=server", "-o", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let shown: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(shown["data"]["k"], "v");
    let output = setup.kubectl(&["get", "configmap", "dry", "-n", NS]);
    assert!(!output.status.success(), "a server dry run stores nothing");
    let dry_posts = setup
        .requests_to(&format!("/api/v1/namespaces/{NS}/configmaps"))
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.query_param("dryRun"))
        .collect::<Vec<_>>();
    assert_eq!(dry_posts, vec![Some("All".to_string())]);
}
