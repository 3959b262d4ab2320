//! Shared pieces of the end-to-end tests (`tests/e2e_*.rs`): the hook image's runtime layout
//! in the lab's simulated pod, the Forklift inputs, the CLI run directly, and output checks.
//!
//! Each test file includes this module with `#[path = "support/e2e.rs"] mod common;`, so not
//! every file uses every helper.
#![allow(dead_code)]

// The binary declares process.rs once (tests/support/process.rs) beside this module.
pub(crate) use crate::data;
use crate::process;
pub use process::{hook_runner_command, kill_after};

use lab::kube_api::{KubeApi, RecordedRequest};
use lab::pod::{Pod, PodOutput};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// The namespace the tests' Plan, Secret and service account live in (`{namespace}` of the
/// MTV docs hook is replaced by it).
pub const NS: &str = "e2e-mtv";
/// The service account the hook pod runs as.
pub const SA: &str = "forklift-hook";
/// Where the image installs the entrypoint.
pub const ENTRYPOINT: &str = "/bin/entrypoint";
/// The container command Forklift sets when the Hook has a playbook.
pub const FORKLIFT_ARGV: [&str; 6] = [
    ENTRYPOINT,
    "ansible-runner",
    "run",
    "/tmp/runner",
    "-p",
    "/tmp/hook/playbook.yml",
];
/// The image's HOME.
pub const HOME: &str = "/home/runner";
/// Debian's path of nss_wrapper (the entrypoint needs it for the passwd entry).
pub const NSS_WRAPPER: &str = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";

/// Play 1 of the MTV docs hook, without fact gathering: key from the Secret, VM added.
pub const KEY_PLAY: &str = r#"- name: Get the VM key
  hosts: localhost
  gather_facts: false
  vars_files:
    - plan.yml
    - workload.yml
  tasks:
  - name: Read the key
    k8s_info:
      api_version: v1
      kind: Secret
      name: privkey
      namespace: e2e-mtv
    register: ssh_credentials
  - name: Ensure SSH directory exists
    file:
      path: ~/.ssh
      state: directory
      mode: 0750
  - name: Create SSH key
    copy:
      dest: ~/.ssh/id_rsa
      content: "{{ ssh_credentials.resources[0].data.key | b64decode }}"
      mode: 0600
  - add_host:
      name: "{{ vm.ipaddress }}"
      ansible_user: root
      groups: vms
"#;

/// The commands a pod test needs besides the VM's.
pub const POD_COMMANDS: &[&str] = &["unshare", "setpriv", "tini", "ssh", "getent"];

/// Checks the prerequisites of a test that boots a VM and runs a pod (fails in CI when missing).
pub fn vm_and_pod_prerequisites(test: &str) -> bool {
    let mut commands: Vec<&str> = lab::vm::HOST_COMMANDS.to_vec();
    commands.extend_from_slice(POD_COMMANDS);
    lab::require_root_and(test, &commands)
        && lab::require(
            Path::new(NSS_WRAPPER).exists(),
            test,
            "libnss-wrapper (Debian package)",
        )
}

/// The test API server holding `vm`'s root key as the Secret `privkey` (`data.key`), and a
/// token allowed only `get` on it: (server, token, key).
pub fn api_with_vm_key(vm: &lab::vm::Vm) -> (KubeApi, String, Vec<u8>) {
    use lab::kube_api::{service_account, Rule};
    let api = KubeApi::start();
    let key = fs::read(vm.root_key()).unwrap();
    api.add_secret(NS, "privkey", &[("key", &key)]);
    let token = api.token(
        &service_account(NS, SA),
        &[Rule::new(&["get"], &["secrets"])
            .in_namespace(NS)
            .named(&["privkey"])],
    );
    (api, token, key)
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A corpus hook's text (call [`data::corpus_dir`] first: the corpus is not in the repository).
pub fn read_corpus(name: &str) -> String {
    let path = data::corpus_file(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The MTV documentation's hook with `{namespace}` filled in; `None` (after a loud NOT RUN
/// line for `test`) when the public corpus is not beside the repository.
pub fn mtv_docs_playbook(test: &str) -> Option<String> {
    data::corpus_dir(test)?;
    Some(read_corpus("mtv-docs-stop-mariadb.yml").replace("{namespace}", NS))
}

/// Forklift's vSphere `workload.yml` whose `vm.ipaddress` is `ip`.
pub fn workload_with_ip(ip: &str) -> String {
    let workload = data::read_forklift("vsphere.workload.yml");
    let needle = "  ipaddress: 10.10.20.31\n";
    assert!(
        workload.contains(needle),
        "the vSphere workload fixture changed"
    );
    workload.replace(needle, &format!("  ipaddress: {ip}\n"))
}

/// A temp dir in cargo's target tmp dir, traversable by the pod's UID (not under /tmp: the pod
/// gets its own /tmp bound over the host's).
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    chmod(dir.path(), 0o755);
    dir
}

pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Permission bits of a file.
pub fn mode_of(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The hook image's filesystem on this machine, the hook ConfigMap and the service account,
/// all removed on drop.
pub struct HookPod {
    /// `bin/` (bound at /usr/local/bin), `tmp/` (at /tmp), `home/runner` (at /home/runner).
    root: tempfile::TempDir,
    /// The hook ConfigMap: playbook.yml, plan.yml, workload.yml.
    hook: tempfile::TempDir,
    /// The service-account projection: token, ca.crt, namespace.
    service_account: tempfile::TempDir,
}

impl HookPod {
    /// The layout with `playbook`, Forklift's `plan.yml` and `workload`, and a service account
    /// holding `token` for `api`.
    pub fn new(playbook: &str, workload: &str, api: &KubeApi, token: &str) -> HookPod {
        let root = scratch_dir("hr-e2e-image-");
        let bin = root.path().join("bin");
        fs::create_dir(&bin).unwrap();
        chmod(&bin, 0o755);
        process::install_binary(&bin);
        // The pod's /tmp: world-writable and sticky like an emptyDir, with the hook mount point.
        let tmp = root.path().join("tmp");
        fs::create_dir_all(tmp.join("hook")).unwrap();
        chmod(&tmp, 0o1777);
        // As the Containerfile makes it: owned by root, group 0, group-writable.
        let home = root.path().join("home/runner");
        fs::create_dir_all(&home).unwrap();
        chmod(&root.path().join("home"), 0o755);
        chmod(&home, 0o775);

        let hook = scratch_dir("hr-e2e-hook-");
        fs::write(hook.path().join("playbook.yml"), playbook).unwrap();
        fs::copy(data::forklift("plan.yml"), hook.path().join("plan.yml")).unwrap();
        fs::write(hook.path().join("workload.yml"), workload).unwrap();

        let service_account = scratch_dir("hr-e2e-sa-");
        api.write_service_account_dir(service_account.path(), token, NS)
            .unwrap();
        HookPod {
            root,
            hook,
            service_account,
        }
    }

    /// A path in the image's filesystem (`tmp/runner`, `home/runner/.ssh/id_rsa`...).
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    /// The pod, as Forklift's Job makes it: command as PID 1, the hook ConfigMap at /tmp/hook,
    /// the service account mounted and `KUBERNETES_SERVICE_*` set, UID 1000770000 without a
    /// passwd entry, `HOME=/home/runner` (the image's), and as `images/manifests/job.yaml` runs
    /// it: a read-only root filesystem where only /tmp and /home (emptyDirs) are writable.
    pub fn pod(&self, api: &KubeApi) -> Pod {
        Pod::new(self.hook.path())
            .pid1(true)
            .read_only_root(true)
            .home(HOME)
            .workdir(HOME)
            .service_account(self.service_account.path())
            .kubernetes_service(api.host(), api.port())
            .bind(self.path("tmp"), "/tmp", false)
            .bind(self.hook.path(), "/tmp/hook", true)
            .bind(self.path("home"), "/home", false)
            .bind(self.path("bin"), "/usr/local/bin", true)
            .bind(repo().join("images/entrypoint"), ENTRYPOINT, true)
    }

    /// Runs `argv` in the pod.
    pub fn run(&self, api: &KubeApi, argv: &[&str]) -> PodOutput {
        let started = Instant::now();
        let out = self
            .pod(api)
            .run(argv)
            .unwrap_or_else(|e| panic!("pod {argv:?}: {e:#}"));
        eprintln!(
            "e2e: pod {:?} took {:.1} s",
            argv.get(1).unwrap_or(&""),
            started.elapsed().as_secs_f64()
        );
        out
    }

    /// Forgets the private data dir of earlier runs (the pod's /tmp/runner).
    pub fn clear_runner_dir(&self) {
        let dir = self.path("tmp/runner");
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    /// The one artifacts dir `/tmp/runner/artifacts/<ident>` of the last run.
    pub fn artifacts(&self) -> PathBuf {
        only_artifacts_dir(&self.path("tmp/runner"))
    }
}

/// The single `artifacts/<ident>` dir under a private data dir.
pub fn only_artifacts_dir(private_data_dir: &Path) -> PathBuf {
    let dir = private_data_dir.join("artifacts");
    let entries: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one artifacts dir expected: {entries:?}");
    entries[0].clone()
}

/// The trimmed text of an artifact file (`rc`, `status`...), empty when missing.
pub fn artifact(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Names of the `job_events/*.json` events, in counter order.
pub fn event_names(artifacts: &Path) -> Vec<String> {
    let mut events: Vec<(u64, String)> = fs::read_dir(artifacts.join("job_events"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let text = fs::read_to_string(e.path()).ok()?;
                    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
                    Some((v["counter"].as_u64()?, v["event"].as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    events.sort();
    events.into_iter().map(|(_, name)| name).collect()
}

/// The files under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if fs::read(&path).is_ok_and(|bytes| contains(&bytes, needle)) {
            found.push(path);
        }
    }
    found
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Pieces of a private key that must never be printed: every body line of the PEM, and slices
/// of its base64 form (as the Secret's `data.key` holds it).
pub fn secret_needles(key: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine;
    let text = String::from_utf8_lossy(key);
    let mut needles: Vec<Vec<u8>> = text
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(|l| l.as_bytes().to_vec())
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    // The PEM header's base64 is not secret by itself, the rest is: slices past it.
    for start in (64..encoded.len().saturating_sub(48)).step_by(97) {
        needles.push(encoded.as_bytes()[start..start + 48].to_vec());
    }
    assert!(needles.len() > 2, "the key has a body");
    needles
}

/// Asserts that no needle occurs in any of the named texts nor in any file under `dirs`.
pub fn assert_no_secret(needles: &[Vec<u8>], texts: &[(&str, &str)], dirs: &[&Path]) {
    for needle in needles {
        for (name, text) in texts {
            assert!(
                !contains(text.as_bytes(), needle),
                "a piece of the private key ({} bytes) is in the {name}",
                needle.len()
            );
        }
        for dir in dirs {
            let leaks = files_containing(dir, needle);
            assert!(
                leaks.is_empty(),
                "a piece of the private key is in these files: {leaks:?}"
            );
        }
    }
}

/// The PLAY RECAP line ansible-playbook prints for a host.
pub fn recap_line(host: &str, counts: [u32; 7]) -> String {
    let [ok, changed, unreachable, failed, skipped, rescued, ignored] = counts;
    format!(
        "{host:<26} : ok={ok:<4} changed={changed:<4} unreachable={unreachable:<4} failed={failed:<4} skipped={skipped:<4} rescued={rescued:<4} ignored={ignored:<4}"
    )
}

/// The recap lines of a console output (the lines after `PLAY RECAP` up to the first blank
/// line), trailing spaces removed.
pub fn recap_lines(stdout: &str) -> Vec<String> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("PLAY RECAP"));
    let _banner = lines.next();
    lines
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// Asserts the recap is exactly `expected` (lines built by [`recap_line`]).
pub fn assert_recap(stdout: &str, expected: &[String], context: &str) {
    let expected: Vec<String> = expected.iter().map(|l| l.trim_end().to_string()).collect();
    assert_eq!(
        recap_lines(stdout),
        expected,
        "PLAY RECAP differs from ansible-playbook's ({context})\nstdout:\n{stdout}"
    );
}

/// The last `n` lines of a text.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Requests the API server recorded for `method` on `path`.
pub fn requests_to(api: &KubeApi, method: &str, path: &str) -> Vec<RecordedRequest> {
    api.requests()
        .into_iter()
        .filter(|r| r.method == method && r.path == path)
        .collect()
}

/// A CLI run outside the pod: the exit code and both outputs.
pub struct CliRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
}

impl CliRun {
    /// Both streams, for messages and searches.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for CliRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:.1} s\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.duration.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }
}

/// Runs hook-runner with `args` as root on this machine, `HOME` set to `home`, no Kubernetes
/// environment, bounded to `timeout` (then killed: a hang is a failure, not a stuck suite).
pub fn hook_runner(args: &[&str], home: &Path, timeout: Duration) -> CliRun {
    hook_runner_with_env(args, home, timeout, &[])
}

/// [`hook_runner`] with extra environment variables (`HOOK_RUNNER_CONNECT_WAIT`...).
pub fn hook_runner_with_env(
    args: &[&str],
    home: &Path,
    timeout: Duration,
    env: &[(&str, &str)],
) -> CliRun {
    let started = Instant::now();
    let child = hook_runner_command(args, home)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting hook-runner");
    let watchdog = kill_after(child.id() as i32, timeout);
    let output: Output = child.wait_with_output().expect("waiting for hook-runner");
    let timed_out = watchdog.join().unwrap_or(false);
    let run = CliRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        duration: started.elapsed(),
    };
    assert!(
        !timed_out,
        "hook-runner {args:?} hung (killed after {timeout:?}): {run:?}"
    );
    run
}

/// Collects the failed checks of a scenario so that one run reports all of them (each with what
/// was expected and what came), then fails at [`Findings::finish`].
#[derive(Default)]
pub struct Findings(Vec<String>);

impl Findings {
    /// Records `message` when `ok` is false.
    pub fn check(&mut self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            let message = message();
            eprintln!("e2e FINDING: {message}");
            self.0.push(message);
        }
    }

    /// Records a difference between `expected` and `got`.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, expected: T, got: T) {
        if expected != got {
            self.check(false, || {
                format!("{what}: expected {expected:?}, got {got:?}")
            });
        }
    }

    /// Fails the test with every recorded finding.
    pub fn finish(self, context: &str) {
        assert!(
            self.0.is_empty(),
            "{} check(s) failed:\n- {}\n\n{context}",
            self.0.len(),
            self.0.join("\n- ")
        );
    }
}

/// Checks how a run ended as ansible-runner's artifacts (`status`, `rc`) and the termination
/// message both record it, and returns the parsed termination message for further checks.
pub fn check_outcome(
    findings: &mut Findings,
    artifacts: &Path,
    termination_message: &str,
    status: &str,
    rc: i32,
) -> Option<serde_json::Value> {
    findings.eq(
        "artifacts status",
        status.to_string(),
        artifact(artifacts, "status"),
    );
    findings.eq("artifacts rc", rc.to_string(), artifact(artifacts, "rc"));
    match serde_json::from_str::<serde_json::Value>(termination_message) {
        Ok(summary) => {
            findings.eq(
                "termination message status",
                &serde_json::json!(status),
                &summary["status"],
            );
            findings.eq(
                "termination message rc",
                &serde_json::json!(rc),
                &summary["rc"],
            );
            Some(summary)
        }
        Err(e) => {
            findings.check(false, || {
                format!("the termination message is not JSON ({e}): {termination_message:?}")
            });
            None
        }
    }
}
