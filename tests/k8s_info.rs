//! `k8s_info` and [`ApiCluster`] against the lab's Kubernetes API test server (real HTTPS with
//! its own CA, bearer tokens, RBAC-like 403s, discovery, selectors, Events).

use base64::Engine as _;
use hook_runner::kube::{ApiCluster, Cluster, EventSpec, InfoQuery, KubeError};
use hook_runner::modules::k8s_info::k8s_info;
use lab::kube_api::{service_account, KubeApi, Rule};
use serde_json::{json, Value};

const NS: &str = "mtv";

fn args(v: Value) -> hook_runner::Map {
    v.as_object().cloned().unwrap_or_default()
}

/// A server with a VM key Secret, two labelled ConfigMaps and a Forklift Plan, and a cluster
/// client using a service-account directory whose token may get secrets in `mtv` only.
fn setup() -> (KubeApi, tempfile::TempDir, ApiCluster) {
    let api = KubeApi::start();
    api.add_secret(NS, "vm-key", &[("key", b"-----BEGIN KEY-----\nabc\n")]);
    api.seed_yaml(
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: mtv, labels: {app: hook, tier: one}}
data: {x: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: mtv, labels: {app: other}}
data: {x: "2"}
---
apiVersion: forklift.konveyor.io/v1beta1
kind: Plan
metadata: {name: plan1, namespace: mtv}
spec: {targetNamespace: target}
"#,
    )
    .expect("seed");
    let token = api.token(
        &service_account(NS, "hook"),
        &[
            Rule::new(&["get", "list"], &["secrets", "configmaps", "plans"]).in_namespace(NS),
            Rule::new(&["create"], &["events"]).in_namespace(NS),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    api.write_service_account_dir(dir.path(), &token, NS)
        .unwrap();
    let cluster = ApiCluster::from_service_account(&api.url(), dir.path()).expect("client");
    (api, dir, cluster)
}

#[tokio::test]
async fn reads_a_secret_by_name_with_the_service_account() {
    let (api, _dir, cluster) = setup();
    assert_eq!(cluster.default_namespace(), NS);
    let r = k8s_info(
        &args(json!({"kind": "Secret", "name": "vm-key", "namespace": NS})),
        &cluster,
    )
    .await;
    assert_eq!(r["api_found"], json!(true), "{r:?}");
    assert_eq!(r["changed"], json!(false));
    let resources = r["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources[0]["kind"], json!("Secret"));
    let key = resources[0]["data"]["key"].as_str().unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap(),
        b"-----BEGIN KEY-----\nabc\n"
    );
    let get = api
        .requests()
        .into_iter()
        .find(|q| q.path == "/api/v1/namespaces/mtv/secrets/vm-key")
        .expect("a GET of the secret");
    assert_eq!(get.auth_scheme(), Some("Bearer"));
}

#[tokio::test]
async fn not_found_is_an_empty_list_and_unknown_kinds_are_api_found_false() {
    let (_api, _dir, cluster) = setup();
    let r = k8s_info(
        &args(json!({"kind": "Secret", "name": "nope", "namespace": NS})),
        &cluster,
    )
    .await;
    assert_eq!(r["resources"], json!([]), "{r:?}");
    assert_eq!(r["api_found"], json!(true));
    assert!(!r.contains_key("failed"));

    let r = k8s_info(
        &args(json!({"kind": "Gadget", "api_version": "example.com/v1", "namespace": NS})),
        &cluster,
    )
    .await;
    assert_eq!(r["api_found"], json!(false), "{r:?}");
    assert_eq!(
        r["msg"],
        json!("Failed to find API for resource with apiVersion \"example.com/v1\" and kind \"Gadget\"")
    );
    let r = k8s_info(&args(json!({"kind": "Gadget", "namespace": NS})), &cluster).await;
    assert_eq!(r["api_found"], json!(false), "{r:?}");
}

#[tokio::test]
async fn lists_with_label_selectors_and_custom_resources() {
    let (_api, _dir, cluster) = setup();
    let r = k8s_info(
        &args(json!({"kind": "ConfigMap", "namespace": NS, "label_selectors": ["app=hook"]})),
        &cluster,
    )
    .await;
    let names: Vec<&str> = r["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, vec!["a"], "{r:?}");

    let r = k8s_info(
        &args(json!({"kind": "Plan", "api_version": "forklift.konveyor.io/v1beta1", "name": "plan1", "namespace": NS})),
        &cluster,
    )
    .await;
    assert_eq!(
        r["resources"][0]["spec"]["targetNamespace"],
        json!("target"),
        "{r:?}"
    );
}

#[tokio::test]
async fn forbidden_names_the_service_account_verb_and_resource() {
    let (api, _dir, cluster) = setup();
    api.add_secret("other", "k", &[("key", b"x")]);
    let r = k8s_info(
        &args(json!({"kind": "Secret", "name": "k", "namespace": "other"})),
        &cluster,
    )
    .await;
    assert_eq!(r["failed"], json!(true), "{r:?}");
    assert_eq!(r["status"], json!(403));
    let msg = r["msg"].as_str().unwrap();
    assert!(msg.starts_with("Forbidden (403): "), "{msg}");
    assert!(msg.contains("system:serviceaccount:mtv:hook"), "{msg}");
    assert!(msg.contains("cannot get resource \"secrets\""), "{msg}");
    assert!(msg.contains("\"other\""), "{msg}");
}

#[tokio::test]
async fn a_bad_token_is_unauthorized() {
    let (api, _dir, _cluster) = setup();
    let dir = tempfile::tempdir().unwrap();
    api.write_service_account_dir(dir.path(), "not-a-token", NS)
        .unwrap();
    let cluster = ApiCluster::from_service_account(&api.url(), dir.path()).unwrap();
    let q = InfoQuery {
        api_version: "v1".into(),
        kind: "Secret".into(),
        name: Some("vm-key".into()),
        namespace: Some(NS.into()),
        ..Default::default()
    };
    let err = cluster.info(&q).await.unwrap_err();
    assert_eq!(err.code, 401, "{err:?}");
}

#[tokio::test]
async fn kubeconfig_is_used_when_asked() {
    let (api, _dir, _cluster) = setup();
    let token = api.token(&service_account(NS, "admin"), &[Rule::all()]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    api.write_kubeconfig(&path, &token).unwrap();
    let cluster = ApiCluster::from_kubeconfig(&path, None)
        .await
        .expect("kubeconfig");
    let r = k8s_info(&args(json!({"kind": "secrets", "namespace": NS})), &cluster).await;
    assert_eq!(r["resources"].as_array().map(Vec::len), Some(1), "{r:?}");
}

#[tokio::test]
async fn events_are_posted_on_the_pod() {
    let (api, _dir, cluster) = setup();
    cluster
        .post_event(&EventSpec {
            namespace: NS.into(),
            pod_name: "hook-pod-1".into(),
            reason: "HookFailed".into(),
            event_type: "Warning".into(),
            message: "task 'Stop MariaDB' failed on 10.0.0.7".into(),
        })
        .await
        .expect("event");
    let events = api.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["involvedObject"]["name"], json!("hook-pod-1"));
    assert_eq!(events[0]["reason"], json!("HookFailed"));
    assert_eq!(events[0]["type"], json!("Warning"));
}

/// A run without cluster access: any use of it fails the test's expectations.
struct NoCluster;

#[async_trait::async_trait]
impl Cluster for NoCluster {
    async fn info(&self, _q: &InfoQuery) -> Result<hook_runner::kube::InfoAnswer, KubeError> {
        Err(KubeError {
            code: 0,
            reason: "test".into(),
            message: "the run's cluster was used".into(),
        })
    }
    async fn post_event(&self, _e: &EventSpec) -> Result<(), KubeError> {
        Ok(())
    }
}

/// Runs the module as the engine does, with `kube` as the run's cluster.
async fn run_module(args_json: Value, kube: &dyn Cluster) -> hook_runner::Map {
    use hook_runner::connection::local::LocalConnection;
    use hook_runner::modules::ModuleContext;
    use hook_runner::template::{Scope, Templar};
    let module = hook_runner::modules::lookup("kubernetes.core.k8s_info").expect("registered");
    let args = module
        .spec()
        .normalize(module.fqcn(), args(args_json))
        .expect("valid args");
    let templar = Templar::new();
    let vars = hook_runner::Map::new();
    let conn = LocalConnection::new();
    let ctx = ModuleContext {
        host: "localhost",
        conn: &conn,
        check_mode: false,
        diff: false,
        become_: None,
        env: vec![],
        timeout: None,
        templar: &templar,
        scope: Scope {
            vars: &vars,
            search_paths: &[],
        },
        kube,
        verbosity: 0,
    };
    module.run(args, &ctx).await.expect("no transport error")
}

#[tokio::test]
async fn a_task_kubeconfig_or_host_and_api_key_is_used() {
    let (api, _dir, _cluster) = setup();
    let token = api.token(&service_account(NS, "admin"), &[Rule::all()]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig, &token).unwrap();
    let r = run_module(
        json!({"kind": "Secret", "name": "vm-key", "namespace": NS, "kubeconfig": kubeconfig.display().to_string()}),
        &NoCluster,
    )
    .await;
    assert_eq!(r["resources"].as_array().map(Vec::len), Some(1), "{r:?}");

    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, api.ca_pem()).unwrap();
    let r = run_module(
        json!({"kind": "Secret", "name": "vm-key", "namespace": NS,
               "host": api.url(), "api_key": token, "ca_cert": ca.display().to_string()}),
        &NoCluster,
    )
    .await;
    assert_eq!(r["resources"].as_array().map(Vec::len), Some(1), "{r:?}");

    // Without the CA the server's certificate is not trusted...
    let r = run_module(
        json!({"kind": "Secret", "name": "vm-key", "namespace": NS, "host": api.url(), "api_key": token}),
        &NoCluster,
    )
    .await;
    assert_eq!(r["failed"], json!(true), "{r:?}");
    // ...unless validate_certs is off.
    let r = run_module(
        json!({"kind": "Secret", "name": "vm-key", "namespace": NS,
               "host": api.url(), "api_key": token, "validate_certs": false}),
        &NoCluster,
    )
    .await;
    assert_eq!(r["resources"].as_array().map(Vec::len), Some(1), "{r:?}");

    // A dry-run never uses them.
    let files = hook_runner::kube::FileCluster::new();
    let r = run_module(
        json!({"kind": "Secret", "name": "vm-key", "namespace": NS, "kubeconfig": kubeconfig.display().to_string()}),
        &files,
    )
    .await;
    let warnings = r["warnings"].as_array().unwrap();
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("ignored in a dry-run"),
        "{r:?}"
    );
}
