//! `kubernetes.core.k8s` and the `kubernetes.core.k8s` lookup, run by the hook-runner binary
//! against the lab's Kubernetes API test server; real `kubectl` reads back what was created,
//! patched, applied and deleted.

use crate::process;

use base64::Engine as _;
use lab::kube_api::{service_account, KubeApi, Rule};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

const NS: &str = "mtv";

/// A server, a scratch directory with a kubeconfig for one token, and the playbook's directory.
struct Lab {
    api: KubeApi,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

/// One run of the binary: exit code, output, and the results the playbook saved.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    dir: PathBuf,
}

impl Run {
    /// The registered result a task saved as `out/NAME.json`.
    fn result(&self, name: &str) -> Value {
        let path = self.dir.join("out").join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} not saved ({e}): {self:?}", path.display()));
        serde_json::from_str(&text).expect("saved JSON")
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Lab {
    fn new(rules: &[Rule]) -> Lab {
        let api = KubeApi::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let token = api.token(&service_account(NS, "hook"), rules);
        let kubeconfig = dir.path().join("kubeconfig");
        api.write_kubeconfig(&kubeconfig, &token)
            .expect("kubeconfig");
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        Lab {
            api,
            dir,
            kubeconfig,
        }
    }

    fn all_rights() -> Lab {
        Lab::new(&[Rule::all()])
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

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

    /// `kubectl get` of one object, `None` when the server says NotFound.
    fn get(&self, kind: &str, name: &str) -> Option<Value> {
        let output = self.kubectl(&["get", kind, name, "-n", NS, "-o", "json"]);
        if output.status.success() {
            return Some(serde_json::from_slice(&output.stdout).expect("JSON"));
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("(NotFound)"),
            "kubectl get {kind} {name}: {stderr}"
        );
        None
    }

    /// Runs `tasks` (YAML, indented by 4) in a localhost play with `args` (`--check`...).
    fn play(&self, tasks: &str, args: &[&str]) -> Run {
        let playbook = format!("- hosts: localhost\n  gather_facts: false\n  tasks:\n{tasks}");
        self.write("playbook.yml", &playbook);
        let playbook = self.path("playbook.yml").display().to_string();
        let kubeconfig = self.kubeconfig.display().to_string();
        let mut argv = vec!["run", "--kubeconfig", &kubeconfig];
        argv.extend_from_slice(args);
        argv.push(&playbook);
        self.run(&argv)
    }

    fn run(&self, argv: &[&str]) -> Run {
        let home = self.path("home");
        std::fs::create_dir_all(&home).unwrap();
        let child = process::hook_runner_command(argv, &home)
            .current_dir(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting hook-runner");
        let watchdog = process::kill_after(child.id() as i32, Duration::from_secs(120));
        let output = child.wait_with_output().expect("hook-runner output");
        assert!(!watchdog.join().unwrap_or(false), "hook-runner hung");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            dir: self.dir.path().to_path_buf(),
        }
    }
}

/// A task that saves the registered `var` as `out/NAME.json`.
fn save(var: &str) -> String {
    format!(
        "    - copy: {{content: \"{{{{ {var} | to_json }}}}\", dest: \"{{{{ playbook_dir }}}}/out/{var}.json\"}}\n      check_mode: false\n"
    )
}

fn data(object: &Value) -> Value {
    object["data"].clone()
}

#[test]
fn creates_updates_replaces_and_deletes_as_kubectl_sees_them() {
    let lab = Lab::all_rights();
    lab.write(
        "files/from_src.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-src\n  namespace: mtv\ndata:\n  origin: file\n",
    );
    lab.write(
        "templates/from_template.yaml.j2",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-template\ndata:\n  vm: \"{{ vm_name }}\"\n",
    );
    let tasks = format!(
        r#"    - name: create from an inline mapping
      kubernetes.core.k8s:
        state: present
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: hook-config, namespace: mtv, labels: {{app: hook}}}}
          data: {{phase: pre, keep: "yes"}}
      register: created
{s1}    - name: the same again changes nothing
      k8s:
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: hook-config, namespace: mtv, labels: {{app: hook}}}}
          data: {{phase: pre, keep: "yes"}}
      register: again
{s2}    - name: patch one key
      kubernetes.core.k8s:
        kind: ConfigMap
        name: hook-config
        namespace: mtv
        definition: {{data: {{phase: post}}}}
      register: updated
{s3}    - name: several documents in YAML text, a Secret with stringData among them
      kubernetes.core.k8s:
        namespace: mtv
        definition: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: second}}
          data: {{n: "2"}}
          ---
          apiVersion: v1
          kind: Secret
          metadata: {{name: hook-secret}}
          stringData: {{password: s3cr3t-value}}
      register: multi
{s4}    - name: from src and from a template
      kubernetes.core.k8s:
        src: from_src.yaml
    - kubernetes.core.k8s:
        namespace: mtv
        template: from_template.yaml.j2
      vars: {{vm_name: db-01}}
    - name: patched on a missing object creates nothing
      kubernetes.core.k8s:
        state: patched
        kind: ConfigMap
        name: missing
        namespace: mtv
        definition: {{data: {{a: b}}}}
      register: patched_missing
{s5}    - name: force replaces the whole object
      kubernetes.core.k8s:
        force: true
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: second, namespace: mtv}}
          data: {{only: this}}
      register: replaced
{s6}    - name: delete, then delete again
      kubernetes.core.k8s:
        state: absent
        kind: ConfigMap
        name: from-src
        namespace: mtv
      register: deleted
{s7}    - kubernetes.core.k8s: {{state: absent, kind: ConfigMap, name: from-src, namespace: mtv}}
      register: deleted_again
{s8}"#,
        s1 = save("created"),
        s2 = save("again"),
        s3 = save("updated"),
        s4 = save("multi"),
        s5 = save("patched_missing"),
        s6 = save("replaced"),
        s7 = save("deleted"),
        s8 = save("deleted_again"),
    );
    let run = lab.play(&tasks, &[]);
    assert_eq!(run.code, Some(0), "{run:?}");

    let created = run.result("created");
    assert_eq!(created["changed"], json!(true), "{created}");
    assert_eq!(created["method"], json!("create"));
    assert_eq!(created["result"]["metadata"]["namespace"], json!(NS));
    assert!(
        created["result"]["metadata"]["uid"].is_string(),
        "{created}"
    );
    let again = run.result("again");
    assert_eq!(
        (&again["changed"], &again["method"]),
        (&json!(false), &json!("update")),
        "{again}"
    );
    let updated = run.result("updated");
    assert_eq!(
        (&updated["changed"], &updated["method"]),
        (&json!(true), &json!("update")),
        "{updated}"
    );
    let multi = run.result("multi");
    assert_eq!(multi["changed"], json!(true));
    let results = multi["result"]["results"]
        .as_array()
        .expect("one result per document");
    assert_eq!(results.len(), 2, "{multi}");
    assert_eq!(results[1]["result"]["kind"], json!("Secret"));
    let patched_missing = run.result("patched_missing");
    assert_eq!(patched_missing["changed"], json!(false));
    assert_eq!(
        patched_missing["warnings"][0],
        json!("resource 'kind=ConfigMap,name=missing' was not found but will not be created as 'state' parameter has been set to 'patched'")
    );
    let replaced = run.result("replaced");
    assert_eq!(
        (&replaced["changed"], &replaced["method"]),
        (&json!(true), &json!("replace")),
        "{replaced}"
    );
    let deleted = run.result("deleted");
    assert_eq!(
        (&deleted["changed"], &deleted["method"]),
        (&json!(true), &json!("delete")),
        "{deleted}"
    );
    let deleted_again = run.result("deleted_again");
    assert_eq!(deleted_again["changed"], json!(false), "{deleted_again}");
    assert_eq!(deleted_again["result"], json!({}));

    // What the cluster holds, as kubectl reads it.
    let config = lab
        .get("configmap", "hook-config")
        .expect("hook-config exists");
    assert_eq!(data(&config), json!({"phase": "post", "keep": "yes"}));
    assert_eq!(config["metadata"]["labels"], json!({"app": "hook"}));
    let second = lab.get("configmap", "second").expect("second exists");
    assert_eq!(
        data(&second),
        json!({"only": "this"}),
        "force replaced the data"
    );
    let secret = lab
        .get("secret", "hook-secret")
        .expect("hook-secret exists");
    let password = base64::engine::general_purpose::STANDARD
        .decode(secret["data"]["password"].as_str().unwrap())
        .unwrap();
    assert_eq!(password, b"s3cr3t-value");
    assert!(lab.get("configmap", "from-src").is_none(), "deleted");
    assert_eq!(
        data(
            &lab.get("configmap", "from-template")
                .expect("from the template")
        ),
        json!({"vm": "db-01"})
    );
    assert!(lab.get("configmap", "missing").is_none());
    // The Secret's value never reached the output.
    assert!(!run.stdout.contains("s3cr3t-value"), "{run:?}");
}

#[test]
fn server_side_apply_owns_its_fields_and_custom_resources_fall_back_to_merge() {
    let lab = Lab::all_rights();
    lab.api
        .seed_yaml(
            "apiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\nmetadata: {name: plan1, namespace: mtv}\nspec: {warm: false, targetNamespace: t}\n",
        )
        .unwrap();
    let tasks = format!(
        r#"    - kubernetes.core.k8s:
        apply: true
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: applied, namespace: mtv}}
          data: {{a: "1", b: "2"}}
      register: first
{s1}    - kubernetes.core.k8s:
        apply: true
        server_side_apply: {{field_manager: hook-runner}}
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: applied, namespace: mtv}}
          data: {{a: "1"}}
      register: second
{s2}    - kubernetes.core.k8s:
        apply: true
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: applied, namespace: mtv}}
          data: {{a: "1"}}
      register: third
{s3}    - kubernetes.core.k8s:
        api_version: forklift.konveyor.io/v1beta1
        kind: Plan
        name: plan1
        namespace: mtv
        definition: {{spec: {{warm: true}}}}
      register: plan
{s4}    - kubernetes.core.k8s:
        merge_type: [merge]
        definition:
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: applied, namespace: mtv}}
          data: {{c: "3"}}
      register: merged
{s5}"#,
        s1 = save("first"),
        s2 = save("second"),
        s3 = save("third"),
        s4 = save("plan"),
        s5 = save("merged"),
    );
    let run = lab.play(&tasks, &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let first = run.result("first");
    assert_eq!(
        (&first["changed"], &first["method"]),
        (&json!(true), &json!("apply")),
        "{first}"
    );
    assert_eq!(run.result("second")["changed"], json!(true));
    assert_eq!(
        run.result("third")["changed"],
        json!(false),
        "applying the same again"
    );
    let plan = run.result("plan");
    assert_eq!(plan["changed"], json!(true), "{plan}");
    assert_eq!(
        plan["result"]["spec"],
        json!({"warm": true, "targetNamespace": "t"})
    );

    let applied = lab.kubectl_json(&[
        "get",
        "configmap",
        "applied",
        "-n",
        NS,
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    assert_eq!(
        data(&applied),
        json!({"a": "1", "c": "3"}),
        "b was dropped from the applied set"
    );
    let managers: Vec<&str> = applied["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, vec!["hook-runner"]);
    let plan = lab.kubectl_json(&[
        "get",
        "plans.forklift.konveyor.io",
        "plan1",
        "-n",
        NS,
        "-o",
        "json",
    ]);
    assert_eq!(plan["spec"]["warm"], json!(true));
    // The Plan was tried with a strategic merge first, refused (415), then merged.
    let patches: Vec<(String, u16)> = lab
        .api
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/plans/plan1"))
        .map(|r| (r.header("content-type").unwrap_or("").to_string(), r.status))
        .collect();
    assert_eq!(
        patches,
        vec![
            ("application/strategic-merge-patch+json".to_string(), 415),
            ("application/merge-patch+json".to_string(), 200)
        ]
    );
}

#[test]
fn check_mode_sends_dry_runs_and_diff_shows_the_change() {
    let lab = Lab::all_rights();
    lab.api
        .seed_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: existing, namespace: mtv}\ndata: {a: \"1\"}\n")
        .unwrap();
    let tasks = format!(
        r#"    - kubernetes.core.k8s:
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: new-one, namespace: mtv}}, data: {{x: y}}}}
      register: would_create
{s1}    - kubernetes.core.k8s:
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: existing, namespace: mtv}}, data: {{a: "2"}}}}
      register: would_update
{s2}    - kubernetes.core.k8s: {{state: absent, kind: ConfigMap, name: existing, namespace: mtv}}
      register: would_delete
{s3}"#,
        s1 = save("would_create"),
        s2 = save("would_update"),
        s3 = save("would_delete"),
    );
    let run = lab.play(&tasks, &["--check", "--diff"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.result("would_create")["changed"], json!(true));
    let update = run.result("would_update");
    assert_eq!(update["changed"], json!(true), "{update}");
    assert_eq!(
        update["diff"]["before"]["data"],
        json!({"a": "1"}),
        "{update}"
    );
    assert_eq!(
        update["diff"]["after"]["data"],
        json!({"a": "2"}),
        "{update}"
    );
    assert_eq!(run.result("would_delete")["changed"], json!(true));

    assert!(
        lab.get("configmap", "new-one").is_none(),
        "check mode created nothing"
    );
    assert_eq!(
        data(&lab.get("configmap", "existing").unwrap()),
        json!({"a": "1"})
    );
    let writes: Vec<_> = lab
        .api
        .requests()
        .into_iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
        .collect();
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(
        writes
            .iter()
            .all(|r| r.query_param("dryRun").as_deref() == Some("All")
                || r.body_json().is_some_and(|b| b["dryRun"] == json!(["All"]))),
        "{writes:?}"
    );
}

#[test]
fn denied_rbac_fails_the_task_as_kubernetes_core_does() {
    let lab = Lab::new(&[Rule::new(&["get", "list"], &["configmaps"]).in_namespace(NS)]);
    let tasks = r#"    - kubernetes.core.k8s:
        definition: {apiVersion: v1, kind: ConfigMap, metadata: {name: denied, namespace: mtv}, data: {a: b}}
"#;
    let run = lab.play(tasks, &["--log-format", "json"]);
    assert_eq!(run.code, Some(2), "a failed task, not a crash: {run:?}");
    assert!(!run.stderr.contains("panicked"), "{run:?}");
    let failed: Value = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == json!("runner_on_failed"))
        .unwrap_or_else(|| panic!("a runner_on_failed event: {run:?}"));
    let result = &failed["event_data"]["res"];
    let msg = result["msg"].as_str().expect("msg");
    assert!(
        msg.starts_with("Failed to create object: {\"kind\":\"Status\""),
        "{msg}"
    );
    assert!(
        msg.contains("configmaps is forbidden: User \\\"system:serviceaccount:mtv:hook\\\" cannot create resource \\\"configmaps\\\""),
        "{msg}"
    );
    assert_eq!(result["reason"], json!("Forbidden"));
    assert!(lab.get("configmap", "denied").is_none());
}

#[test]
fn wait_condition_waits_for_the_status_and_times_out_as_ansible() {
    let lab = Lab::all_rights();
    let tasks = format!(
        r#"    - kubernetes.core.k8s:
        definition:
          apiVersion: forklift.konveyor.io/v1beta1
          kind: Migration
          metadata: {{name: m1, namespace: mtv}}
          spec: {{plan: p}}
        wait: true
        wait_sleep: 1
        wait_timeout: 30
        wait_condition: {{type: Succeeded, status: "True"}}
      register: waited
{s1}    - kubernetes.core.k8s:
        definition:
          apiVersion: forklift.konveyor.io/v1beta1
          kind: Migration
          metadata: {{name: m2, namespace: mtv}}
        wait: true
        wait_sleep: 1
        wait_timeout: 2
        wait_condition: {{type: Succeeded}}
      register: timed_out
      ignore_errors: true
{s2}"#,
        s1 = save("waited"),
        s2 = save("timed_out"),
    );
    // The Migration kind is known to the server before the run; its status is set while the
    // module waits, as a controller would.
    lab.api
        .seed_yaml("apiVersion: forklift.konveyor.io/v1beta1\nkind: Migration\nmetadata: {name: seed, namespace: other}\n")
        .unwrap();
    let setter = {
        let kubeconfig = lab.kubeconfig.clone();
        let scratch = lab.path("setter");
        std::fs::create_dir_all(&scratch).unwrap();
        std::thread::spawn(move || set_status_when_created(&kubeconfig, &scratch))
    };
    let run = lab.play(&tasks, &[]);
    setter.join().expect("status setter");
    assert_eq!(run.code, Some(0), "{run:?}");
    let waited = run.result("waited");
    assert_eq!(waited["changed"], json!(true), "{waited}");
    assert_eq!(
        waited["result"]["status"]["conditions"][0]["type"],
        json!("Succeeded"),
        "{waited}"
    );
    assert!(waited["duration"].as_u64().is_some(), "{waited}");
    let timed_out = run.result("timed_out");
    assert_eq!(timed_out["failed"], json!(true), "{timed_out}");
    assert_eq!(
        timed_out["msg"],
        json!("\"Migration\" \"m2\": Timed out waiting on resource")
    );
    assert!(
        timed_out["duration"].as_u64().is_some_and(|d| d >= 2),
        "{timed_out}"
    );
}

/// Polls for Migration m1 with kubectl and, once it exists, patches its status (a merge patch,
/// as a controller's status update would land).
fn set_status_when_created(kubeconfig: &Path, scratch: &Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let kubectl = |args: &[&str]| {
        std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(scratch.join("cache"))
            .args(args)
            .env("HOME", scratch)
            .output()
            .expect("kubectl")
    };
    while std::time::Instant::now() < deadline {
        let got = kubectl(&[
            "get",
            "migrations.forklift.konveyor.io",
            "m1",
            "-n",
            NS,
            "-o",
            "name",
        ]);
        if got.status.success() {
            std::thread::sleep(Duration::from_millis(1500));
            let patched = kubectl(&[
                "patch",
                "migrations.forklift.konveyor.io",
                "m1",
                "-n",
                NS,
                "--type",
                "merge",
                "-p",
                r#"{"status":{"conditions":[{"type":"Succeeded","status":"True"}]}}"#,
            ]);
            assert!(
                patched.status.success(),
                "{}",
                String::from_utf8_lossy(&patched.stderr)
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("Migration m1 was never created");
}

#[test]
fn the_lookup_reads_a_secret_inline_and_its_value_is_redacted() {
    let lab = Lab::all_rights();
    lab.api
        .add_secret(NS, "vm-key", &[("key", b"very-private-key-material")]);
    lab.api
        .seed_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: mtv, labels: {app: hook}}\ndata: {x: \"1\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: mtv, labels: {app: other}}\n")
        .unwrap();
    let tasks = format!(
        r#"    - set_fact:
        key: "{{{{ lookup('kubernetes.core.k8s', kind='Secret', namespace='mtv', resource_name='vm-key').data.key | b64decode }}}}"
        missing: "{{{{ query('kubernetes.core.k8s', kind='Secret', namespace='mtv', resource_name='nope') }}}}"
        labelled: "{{{{ query('k8s', kind='ConfigMap', namespace='mtv', label_selector='app=hook') | map(attribute='metadata.name') | list }}}}"
    - debug: {{msg: "the key is {{{{ key }}}}"}}
    - set_fact:
        found: {{key_length: "{{{{ key | length }}}}", missing: "{{{{ missing }}}}", labelled: "{{{{ labelled }}}}"}}
{s1}    - set_fact:
        unknown: "{{{{ lookup('kubernetes.core.k8s', kind='Gadget', api_version='example.com/v1') }}}}"
"#,
        s1 = save("found"),
    );
    let run = lab.play(&tasks, &[]);
    assert_eq!(
        run.code,
        Some(2),
        "the unknown kind fails its task: {run:?}"
    );
    let found = run.result("found");
    assert_eq!(found["key_length"], json!(25), "{found}");
    assert_eq!(found["missing"], json!([]));
    assert_eq!(found["labelled"], json!(["a"]));
    assert!(!run.stdout.contains("very-private-key-material"), "{run:?}");
    assert!(run.stdout.contains("the key is ********"), "{run:?}");
    // The kubernetes client's error, as kubernetes.core's lookup raises it.
    assert!(
        run.stdout.contains(
            "Error was a <class 'kubernetes.dynamic.exceptions.ResourceNotFoundError'>, original message: No matches found for {'prefix': None, 'api_version': 'example.com/v1', 'short_names': ['Gadget']}"
        ),
        "{run:?}"
    );
}

#[test]
fn dry_run_shows_the_objects_and_contacts_no_cluster() {
    let lab = Lab::all_rights();
    lab.write(
        "hook/playbook.yml",
        r#"- hosts: localhost
  gather_facts: false
  tasks:
    - kubernetes.core.k8s:
        definition: {apiVersion: v1, kind: ConfigMap, metadata: {name: from-dry-run, namespace: mtv}, data: {a: b}}
      register: shown
    - debug: {var: shown.method}
    - kubernetes.core.k8s: {state: absent, kind: ConfigMap, name: nothing, namespace: mtv}
"#,
    );
    lab.write("hook/plan.yml", "apiVersion: forklift.konveyor.io/v1beta1\nkind: Plan\nmetadata: {name: p, namespace: mtv}\n");
    lab.write("hook/workload.yml", "vm: {name: vm1}\n");
    let hook = lab.path("hook").display().to_string();
    let home = lab.path("home");
    std::fs::create_dir_all(&home).unwrap();
    let output = process::hook_runner_command(&["dry-run", &hook], &home)
        .env("K8S_AUTH_KUBECONFIG", &lab.kubeconfig)
        .env("KUBECONFIG", &lab.kubeconfig)
        .output()
        .expect("hook-runner dry-run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("\"shown.method\": \"create\""), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("dry-run: no cluster was contacted")
            || stderr.contains("dry-run: no cluster was contacted"),
        "{stdout}\n{stderr}"
    );
    assert!(lab.api.requests().is_empty(), "{:?}", lab.api.requests());
}

/// The parts of a registered k8s result that both implementations must agree on.
fn comparable(result: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["changed", "method", "failed", "reason", "warnings"] {
        if let Some(v) = result.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(msg) = result.get("msg").and_then(Value::as_str) {
        // The Status body's `details` is not rebuilt by hook-runner (see the module's doc).
        let without_details = regex_lite_remove_details(msg);
        out.insert("msg".into(), json!(without_details));
    }
    let object = &result["result"];
    for key in ["kind", "data"] {
        if let Some(v) = object.get(key) {
            out.insert(format!("result.{key}"), v.clone());
        }
    }
    if let Some(name) = object.pointer("/metadata/name") {
        out.insert("result.metadata.name".into(), name.clone());
    }
    if let Some(results) = object.get("results").and_then(Value::as_array) {
        out.insert(
            "result.results".into(),
            Value::Array(results.iter().map(comparable).collect()),
        );
    }
    Value::Object(out)
}

/// Removes `"details":{...},` (one level of braces) from a Status body in a message.
fn regex_lite_remove_details(msg: &str) -> String {
    match msg.find("\"details\":{") {
        Some(start) => match msg[start..].find("},") {
            Some(end) => format!("{}{}", &msg[..start], &msg[start + end + 2..]),
            None => msg.to_string(),
        },
        None => msg.to_string(),
    }
}

#[test]
fn results_match_ansible_with_kubernetes_core() {
    let test = lab::test_name!();
    let bin = std::env::var("HR_ANSIBLE_PLAYBOOK").unwrap_or_default();
    if !lab::util::require(
        !bin.is_empty() && Path::new(&bin).is_file(),
        test,
        "HR_ANSIBLE_PLAYBOOK: ansible-playbook of a venv with ansible 11 (kubernetes.core) and the kubernetes client",
    ) {
        return;
    }
    let python = Path::new(&bin).with_file_name("python");
    let names = [
        "created",
        "again",
        "updated",
        "patched_missing",
        "deleted",
        "deleted_again",
        "denied",
        "applied",
        "applied_again",
        "replaced",
        "multi",
        "looked",
        "lookup_unknown",
    ];
    let tasks = |lab: &Lab, limited: &str| {
        let ca = lab.path("ca.crt");
        std::fs::write(&ca, lab.api.ca_pem()).unwrap();
        format!(
            r#"    - kubernetes.core.k8s:
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c1, namespace: mtv}}, data: {{a: "1", b: "2"}}}}
      register: created
{s1}    - kubernetes.core.k8s:
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c1, namespace: mtv}}, data: {{a: "1", b: "2"}}}}
      register: again
{s2}    - kubernetes.core.k8s:
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c1, namespace: mtv}}, data: {{a: "3"}}}}
      register: updated
{s3}    - kubernetes.core.k8s:
        state: patched
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: nope, namespace: mtv}}, data: {{a: "3"}}}}
      register: patched_missing
{s4}    - kubernetes.core.k8s: {{state: absent, kind: ConfigMap, name: c1, namespace: mtv}}
      register: deleted
{s5}    - kubernetes.core.k8s: {{state: absent, kind: ConfigMap, name: c1, namespace: mtv}}
      register: deleted_again
{s6}    - kubernetes.core.k8s:
        host: "{url}"
        api_key: "{limited}"
        ca_cert: "{ca}"
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c2, namespace: mtv}}}}
      register: denied
      ignore_errors: true
{s7}    - kubernetes.core.k8s:
        apply: true
        server_side_apply: {{field_manager: hooks}}
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c3, namespace: mtv}}, data: {{a: "1"}}}}
      register: applied
{s8}    - kubernetes.core.k8s:
        apply: true
        server_side_apply: {{field_manager: hooks}}
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c3, namespace: mtv}}, data: {{a: "1"}}}}
      register: applied_again
{s9}    - kubernetes.core.k8s:
        force: true
        definition: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c3, namespace: mtv}}, data: {{z: "9"}}}}
      register: replaced
{s10}    - kubernetes.core.k8s:
        namespace: mtv
        definition: |
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: m1}}
          data: {{n: "1"}}
          ---
          apiVersion: v1
          kind: ConfigMap
          metadata: {{name: m2}}
      register: multi
{s11}    - set_fact:
        looked:
          one: "{{{{ lookup('kubernetes.core.k8s', kind='ConfigMap', namespace='mtv', resource_name='m1').data }}}}"
          missing: "{{{{ query('kubernetes.core.k8s', kind='ConfigMap', namespace='mtv', resource_name='nope') }}}}"
          names: "{{{{ query('kubernetes.core.k8s', kind='ConfigMap', namespace='mtv') | map(attribute='metadata.name') | list }}}}"
{s12}    - debug: {{msg: "{{{{ lookup('kubernetes.core.k8s', kind='Gadget', api_version='example.com/v1') }}}}"}}
      register: lookup_unknown
      ignore_errors: true
{s13}"#,
            s1 = save("created"),
            s2 = save("again"),
            s3 = save("updated"),
            s4 = save("patched_missing"),
            s5 = save("deleted"),
            s6 = save("deleted_again"),
            s7 = save("denied"),
            s8 = save("applied"),
            s9 = save("applied_again"),
            s10 = save("replaced"),
            s11 = save("multi"),
            s12 = save("looked"),
            s13 = save("lookup_unknown"),
            url = lab.api.url(),
            ca = ca.display(),
        )
    };
    let limited_rules = [Rule::new(&["get", "list"], &["configmaps"]).in_namespace(NS)];

    let theirs = Lab::all_rights();
    let limited = theirs
        .api
        .token(&service_account(NS, "limited"), &limited_rules);
    theirs.write(
        "playbook.yml",
        &format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n{}",
            tasks(&theirs, &limited)
        ),
    );
    let output = std::process::Command::new(&bin)
        .args(["-i", "localhost,", "-c", "local"])
        .arg("-e")
        .arg(format!("ansible_python_interpreter={}", python.display()))
        .arg(theirs.path("playbook.yml"))
        .env("K8S_AUTH_KUBECONFIG", &theirs.kubeconfig)
        .env("ANSIBLE_LOCALHOST_WARNING", "False")
        .env("HOME", theirs.dir.path())
        .current_dir(theirs.dir.path())
        .output()
        .expect("ansible-playbook");
    let ansible_out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "ansible-playbook: {ansible_out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let ours = Lab::all_rights();
    let limited = ours
        .api
        .token(&service_account(NS, "limited"), &limited_rules);
    let run = ours.play(&tasks(&ours, &limited), &[]);
    assert_eq!(run.code, Some(0), "{run:?}");

    let mut mismatches = Vec::new();
    for name in names {
        let read = |lab: &Lab| -> Value {
            let text = std::fs::read_to_string(lab.path(&format!("out/{name}.json")))
                .unwrap_or_else(|e| panic!("{name} not saved: {e}"));
            let value: Value = serde_json::from_str(&text).expect("JSON");
            if name == "looked" {
                value
            } else {
                comparable(&value)
            }
        };
        let (a, b) = (read(&theirs), read(&ours));
        if a != b {
            mismatches.push(format!("{name}:\n  ansible: {a}\n  ours:    {b}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
