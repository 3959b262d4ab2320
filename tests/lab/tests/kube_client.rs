//! The Kubernetes API test server against the Rust `kube` 5 client, configured the two ways
//! hook-runner configures it: from a kubeconfig, and like `Config::incluster()` (URL, the
//! service-account `ca.crt` and `token` files).

use k8s_openapi::api::core::v1::{ConfigMap, Event, ObjectReference, Secret};
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use lab::kube_api::{service_account, KubeApi, Rule};

const NS: &str = "mtv-hooks";

async fn kubeconfig_client(api: &KubeApi, token: &str, dir: &std::path::Path) -> Client {
    let path = dir.join("kubeconfig");
    api.write_kubeconfig(&path, token).expect("kubeconfig");
    let kubeconfig = Kubeconfig::read_from(&path).expect("kube reads the kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube accepts the kubeconfig");
    Client::try_from(config).expect("client")
}

/// What `Config::incluster()` builds, pointed at files the test owns.
fn in_cluster_client(api: &KubeApi, token: &str, dir: &std::path::Path) -> Client {
    let sa = dir.join("serviceaccount");
    api.write_service_account_dir(&sa, token, NS)
        .expect("sa dir");
    let mut config = Config::new(api.url().parse().expect("server URL"));
    config.default_namespace = NS.to_string();
    config.root_cert_file = Some(sa.join("ca.crt"));
    config.auth_info.token_file = Some(sa.join("token").to_string_lossy().into_owned());
    Client::try_from(config).expect("client")
}

fn api_error(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn kube_client_reads_secrets_and_gets_real_errors() {
    let api = KubeApi::start();
    let dir = tempfile::tempdir().expect("temp dir");
    api.add_secret(NS, "vm-key", &[("key", b"PRIVATE")]);
    let rules = [Rule::new(&["get"], &["secrets"])
        .in_namespace(NS)
        .named(&["vm-key", "missing"])];
    let token = api.token(&service_account(NS, "hook"), &rules);
    let client = kubeconfig_client(&api, &token, dir.path()).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);

    let secret = secrets.get("vm-key").await.expect("the secret");
    let data = secret.data.unwrap_or_default();
    assert_eq!(
        data.get("key").map(|b| b.0.as_slice()),
        Some(&b"PRIVATE"[..])
    );

    let missing = api_error(secrets.get("missing").await.expect_err("not found"));
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(missing.message, "secrets \"missing\" not found");

    let forbidden = api_error(secrets.get("other").await.expect_err("forbidden"));
    assert_eq!(
        (forbidden.code, forbidden.reason.as_str()),
        (403, "Forbidden")
    );
    assert_eq!(
        forbidden.message,
        format!("secrets \"other\" is forbidden: User \"system:serviceaccount:{NS}:hook\" cannot get resource \"secrets\" in API group \"\" in the namespace \"{NS}\"")
    );
    let list = api_error(
        secrets
            .list(&ListParams::default())
            .await
            .expect_err("list is forbidden"),
    );
    assert_eq!(list.code, 403);

    let bad = kubeconfig_client(&api, "wrong", dir.path()).await;
    let unauthorized = api_error(
        Api::<Secret>::namespaced(bad, NS)
            .get("vm-key")
            .await
            .expect_err("401"),
    );
    assert_eq!(
        (unauthorized.code, unauthorized.reason.as_str()),
        (401, "Unauthorized")
    );

    let recorded = api.requests();
    assert!(recorded.iter().all(|r| r.auth_scheme() == Some("Bearer")));
    assert_eq!(
        recorded
            .iter()
            .filter(|r| r.path == format!("/api/v1/namespaces/{NS}/secrets/vm-key"))
            .count(),
        2
    );
}

#[tokio::test]
async fn kube_client_in_cluster_lists_by_label_and_posts_events() {
    let api = KubeApi::start();
    let dir = tempfile::tempdir().expect("temp dir");
    api.seed_yaml(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a, namespace: {NS}, labels: {{app: hook}}}}\ndata: {{k: v}}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: b, namespace: {NS}}}\n"
    ))
    .expect("manifest");
    let rules = [
        Rule::new(&["list"], &["configmaps"]).in_namespace(NS),
        Rule::new(&["create"], &["events"]).in_namespace(NS),
    ];
    let token = api.token(&service_account(NS, "hook"), &rules);
    let client = in_cluster_client(&api, &token, dir.path());

    let maps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let listed = maps
        .list(&ListParams::default().labels("app=hook"))
        .await
        .expect("list");
    let names: Vec<String> = listed
        .items
        .iter()
        .filter_map(|m| m.metadata.name.clone())
        .collect();
    assert_eq!(names, ["a"]);

    let events: Api<Event> = Api::namespaced(client, NS);
    let event = Event {
        metadata: ObjectMeta {
            name: Some("hook-pod.abc".into()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            kind: Some("Pod".into()),
            name: Some("hook-pod".into()),
            namespace: Some(NS.into()),
            ..ObjectReference::default()
        },
        reason: Some("HookSucceeded".into()),
        message: Some("done".into()),
        type_: Some("Normal".into()),
        ..Event::default()
    };
    let created = events
        .create(&PostParams::default(), &event)
        .await
        .expect("created");
    assert_eq!(created.metadata.namespace.as_deref(), Some(NS));
    assert!(created.metadata.uid.is_some());
    let again = api_error(
        events
            .create(&PostParams::default(), &event)
            .await
            .expect_err("duplicate"),
    );
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(api.events().len(), 1);
    assert_eq!(api.events()[0]["reason"], "HookSucceeded");

    let list_request = api
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/configmaps"))
        .expect("list request");
    assert_eq!(
        list_request.query_param("labelSelector").as_deref(),
        Some("app=hook")
    );
}
