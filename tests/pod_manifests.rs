//! The files of `images/` read as text (tests/image_podman.rs builds and runs the image): the
//! Kubernetes manifests parse and say what Forklift's hook Job says, and the Containerfile copies
//! what the build needs.
//!
//! - `rbac.yaml`: a ServiceAccount, a Role with only `get` on one named Secret and `create` on
//!   Events, a RoleBinding of that Role to that ServiceAccount.
//! - `hook.yaml`: a `forklift.konveyor.io/v1beta1` Hook whose base64 playbook is the bundled example.
//! - `job.yaml`: the ConfigMap (the example's three files, byte for byte) and a Job like Forklift's:
//!   `backoffLimit: 1`, `restartPolicy: Never`, the Hook's deadline, container `hook` with the exact
//!   command and resources, a read-only root with emptyDirs for `/tmp` and `/home/runner`.
//! - `Containerfile`: every `COPY` source exists, the workspace members and the files the sources
//!   embed (`include_str!`) are copied, `/bin/entrypoint` and `HOME` are set up, the user is not root.

#[path = "support/manifests.rs"]
mod manifests;

use base64::Engine;
use hook_runner::yaml;
use manifests::{documents, of_kind, read, repo};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const FORKLIFT_COMMAND: [&str; 6] = [
    "/bin/entrypoint",
    "ansible-runner",
    "run",
    "/tmp/runner",
    "-p",
    "/tmp/hook/playbook.yml",
];

#[test]
fn rbac_allows_only_get_on_the_named_secret_and_creating_events() {
    let docs = documents("images/manifests/rbac.yaml");
    assert_eq!(docs.len(), 3, "{docs:#?}");
    let sa = of_kind(&docs, "ServiceAccount");
    let role = of_kind(&docs, "Role");
    let binding = of_kind(&docs, "RoleBinding");
    assert_eq!(sa["apiVersion"], "v1");
    assert_eq!(role["apiVersion"], "rbac.authorization.k8s.io/v1");
    let namespace = &sa["metadata"]["namespace"];
    assert!(namespace.is_string());
    assert_eq!(&role["metadata"]["namespace"], namespace);
    assert_eq!(&binding["metadata"]["namespace"], namespace);
    assert_eq!(
        role["rules"],
        json!([
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["privkey"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        ])
    );
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]})
    );
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": namespace}])
    );
}

#[test]
fn the_example_playbook_reads_the_secret_the_role_allows() {
    let rbac = documents("images/manifests/rbac.yaml");
    let secret = &of_kind(&rbac, "Role")["rules"][0]["resourceNames"][0];
    let playbook = yaml::load_str(&read("playbooks/example/playbook.yml"), "playbook.yml")
        .unwrap()
        .to_value();
    let task = &playbook[0]["tasks"][0]["kubernetes.core.k8s_info"];
    assert_eq!(task["kind"], "Secret");
    assert_eq!(&task["name"], secret);
}

#[test]
fn hook_uses_the_image_the_service_account_and_the_example_playbook() {
    let hook = &documents("images/manifests/hook.yaml")[0];
    let rbac = documents("images/manifests/rbac.yaml");
    let sa = of_kind(&rbac, "ServiceAccount");
    assert_eq!(hook["apiVersion"], "forklift.konveyor.io/v1beta1");
    assert_eq!(hook["kind"], "Hook");
    assert_eq!(hook["metadata"]["namespace"], sa["metadata"]["namespace"]);
    assert_eq!(hook["spec"]["serviceAccount"], sa["metadata"]["name"]);
    assert!(hook["spec"]["deadline"].as_i64().is_some_and(|d| d > 0));
    assert!(hook["spec"]["image"]
        .as_str()
        .is_some_and(|i| i.contains("hook-runner")));
    let encoded = hook["spec"]["playbook"]
        .as_str()
        .expect("playbook is a string");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("playbook is base64 (StdEncoding, as Forklift decodes it)");
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        read("playbooks/example/playbook.yml"),
        "hook.yaml's playbook is stale: run images/manifests/update-example.sh"
    );
}

#[test]
fn job_configmap_holds_the_example_hook_files() {
    let docs = documents("images/manifests/job.yaml");
    let cm = of_kind(&docs, "ConfigMap");
    let data = cm["data"].as_object().expect("ConfigMap data");
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(keys, ["playbook.yml", "plan.yml", "workload.yml"]);
    for (key, value) in data {
        assert_eq!(
            value.as_str().unwrap(),
            read(&format!("playbooks/example/{key}")),
            "job.yaml's {key} differs from playbooks/example/{key}: run images/manifests/update-example.sh"
        );
    }
}

#[test]
fn job_mirrors_forklifts_hook_job_with_a_restricted_pod() {
    let docs = documents("images/manifests/job.yaml");
    let hook = &documents("images/manifests/hook.yaml")[0];
    let cm = of_kind(&docs, "ConfigMap");
    let job = of_kind(&docs, "Job");
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["metadata"]["namespace"], hook["metadata"]["namespace"]);
    assert_eq!(job["spec"]["backoffLimit"], 1);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["activeDeadlineSeconds"], hook["spec"]["deadline"]);
    assert_eq!(pod["serviceAccountName"], hook["spec"]["serviceAccount"]);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);

    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["name"], "hook");
    assert_eq!(c["image"], hook["spec"]["image"]);
    assert_eq!(c["command"], json!(FORKLIFT_COMMAND));
    assert!(c.get("args").is_none(), "Forklift sets no args");
    assert!(c.get("env").is_none(), "Forklift injects no env");
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "100m", "memory": "150Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
    );
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);

    // Mount path -> the volume behind it.
    let volumes = pod["volumes"].as_array().expect("volumes");
    let volume = |mount_path: &str| -> &Value {
        let mounts = c["volumeMounts"].as_array().expect("volumeMounts");
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == mount_path)
            .unwrap_or_else(|| panic!("nothing mounted at {mount_path}"));
        volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume {}", mount["name"]))
    };
    assert_eq!(
        volume("/tmp/hook")["configMap"]["name"],
        cm["metadata"]["name"]
    );
    assert_eq!(volume("/tmp")["emptyDir"], json!({}));
    assert_eq!(volume("/home/runner")["emptyDir"], json!({}));
}

/// Where the Containerfile takes a binary built outside the image (`BINARY=prebuilt`).
const PREBUILT_BINARY: &str = "prebuilt/hook-runner";

/// `COPY` and `ADD` sources of the Containerfile that come from the build context.
fn context_sources(containerfile: &str) -> Vec<String> {
    let mut sources = Vec::new();
    for line in containerfile.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&instruction, rest)) = words.split_first() else {
            continue;
        };
        if !matches!(instruction, "COPY" | "ADD") || rest.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        // The prebuilt binary is staged into a context of its own by scripts/image.sh.
        if rest.contains(&PREBUILT_BINARY) {
            continue;
        }
        let paths: Vec<&str> = rest
            .iter()
            .copied()
            .filter(|w| !w.starts_with("--"))
            .collect();
        if let Some((_destination, from)) = paths.split_last() {
            sources.extend(from.iter().map(|s| s.to_string()));
        }
    }
    sources
}

/// Files outside `src/` that `src/**/*.rs` embeds with `include_str!`/`include_bytes!`, relative
/// to the repository.
fn embedded_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            embedded_files(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for marker in ["include_str!(\"", "include_bytes!(\""] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                let Some(end) = rest.find('"') else { continue };
                let target = path.parent().unwrap().join(&rest[..end]);
                if let Ok(target) = target.canonicalize() {
                    out.push(target.strip_prefix(repo()).unwrap_or(&target).to_path_buf());
                }
            }
        }
    }
}

#[test]
fn containerfile_copies_what_the_build_and_the_pod_need() {
    let containerfile = read("images/Containerfile");
    let sources = context_sources(&containerfile);
    for source in &sources {
        assert!(
            repo().join(source).exists(),
            "COPY source {source} does not exist"
        );
    }
    let copied = |path: &Path| {
        sources
            .iter()
            .any(|s| path.starts_with(s.trim_end_matches('/')))
    };
    // The workspace members' manifests must be there for `cargo build --locked`.
    for member in [
        "Cargo.toml",
        "Cargo.lock",
        "src/main.rs",
        "tests/lab/Cargo.toml",
        "benches/Cargo.toml",
    ] {
        assert!(
            copied(Path::new(member)),
            "{member} is not copied into the builder"
        );
    }
    let mut embedded = Vec::new();
    embedded_files(&repo().join("src"), &mut embedded);
    for file in embedded {
        assert!(
            copied(&file),
            "src embeds {} but the Containerfile does not copy it",
            file.display()
        );
    }
    for needed in [
        "COPY --chmod=755 images/entrypoint /bin/entrypoint",
        "ENV HOME=/home/runner",
        "ENTRYPOINT [\"/bin/entrypoint\"]",
        "chmod -R g=u /home/runner",
        "cargo build --release --locked",
        "COPY images/runtime-setup.sh",
        "COPY --chmod=755 --from=binary /out/hook-runner /usr/local/bin/hook-runner",
    ] {
        assert!(
            containerfile.contains(needed),
            "Containerfile lacks {needed:?}"
        );
    }
    // What the runtime needs beside the binary, per base (the one place where bases differ).
    let setup = read("images/runtime-setup.sh");
    for needed in [
        "openssh-clients nss_wrapper-libs",
        "openssh-client libnss-wrapper tini",
        "sha256sum -c",
    ] {
        assert!(
            setup.contains(needed),
            "images/runtime-setup.sh lacks {needed:?}"
        );
    }
    let user = containerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER instruction");
    let uid = user.split(':').next().unwrap().trim();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "USER {user} must be a numeric non-root UID (runAsNonRoot)"
    );
    assert!(
        !containerfile
            .lines()
            .any(|l| l.contains("chmod") && l.contains("/etc/passwd")),
        "the image must not make /etc/passwd writable"
    );
}
