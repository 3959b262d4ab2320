//! In-cluster credentials inside a simulated hook pod: `ApiCluster::connect(None, None)` uses
//! `KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted service-account directory (not a
//! kubeconfig), as kubernetes.core does in a Job, and `k8s_info` reads the VM key Secret.
//!
//! The pod runs this test binary again with `HR_POD_CHILD` set, selecting [`pod_child`].

use hook_runner::kube::ApiCluster;
use hook_runner::modules::k8s_info::k8s_info;
use lab::kube_api::{service_account, KubeApi, Rule};
use lab::pod::Pod;
use serde_json::json;

/// Runs only inside the pod: reads `mtv/vm-key` with the in-cluster credentials.
#[tokio::test]
async fn pod_child() {
    if std::env::var("HR_POD_CHILD").is_err() {
        return;
    }
    let cluster = match ApiCluster::connect(None, None).await {
        Ok(c) => c,
        Err(e) => {
            println!("RESULT: connect failed: {e}");
            return;
        }
    };
    let args = json!({"kind": "Secret", "name": "vm-key", "namespace": "mtv"});
    let r = k8s_info(args.as_object().unwrap(), &cluster).await;
    let key = r["resources"][0]["data"]["key"].as_str().unwrap_or("none");
    println!("RESULT: ns={} key={key}", cluster.default_namespace());
}

#[test]
fn in_cluster_credentials_are_used_in_a_pod() {
    if std::env::var("HR_POD_CHILD").is_ok() {
        return;
    }
    lab::prologue!(
        test,
        lab::require_root_and(test, &["unshare", "setpriv", "tini"])
    );
    let api = KubeApi::start();
    api.add_secret("mtv", "vm-key", &[("key", b"k")]);
    let token = api.token(
        &service_account("mtv", "hook"),
        &[Rule::new(&["get"], &["secrets"]).in_namespace("mtv")],
    );
    let sa = tempfile::tempdir().unwrap();
    api.write_service_account_dir(sa.path(), &token, "mtv")
        .unwrap();
    let hook_dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap().display().to_string();
    let child = lab::util::test_path(module_path!(), "pod_child");
    let out = Pod::new(hook_dir.path())
        .service_account(sa.path())
        .kubernetes_service(api.host(), api.port())
        .env("HR_POD_CHILD", "1")
        .run(&[exe.as_str(), "--exact", child.as_str(), "--nocapture"])
        .expect("pod");
    let result = out
        .stdout
        .lines()
        .find_map(|l| l.find("RESULT: ").map(|at| l[at..].to_string()))
        .unwrap_or_else(|| panic!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr));
    // base64("k") = "aw=="
    assert_eq!(result, "RESULT: ns=mtv key=aw==");
}
