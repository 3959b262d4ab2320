//! The image, built from `images/Containerfile` and run by a real container engine (podman with
//! runc, rootful) as Forklift's Job runs it, under OpenShift's restricted-v2 settings.
//!
//! Once per test process the image is built with `scripts/image.sh --local-base --binary <the
//! binary under test>` (the Debian base made offline with debootstrap when missing; the image
//! is tagged by a hash of its inputs, so an unchanged image is not built again), with the
//! containers.conf that script writes (runc, ulimits under the machine's hard limits).
//!
//! The pod is `images/manifests/job.yaml`'s pod template, played with `podman kube play`
//! together with a ConfigMap holding the hook (Forklift's shape: the ConfigMap at `/tmp/hook`,
//! the exact command, `restartPolicy: Never`, its read-only root, dropped capabilities, no
//! privilege escalation, `RuntimeDefault` seccomp, emptyDirs for `/tmp` and `/home/runner`).
//! What the test adds, as the platform would: a random `runAsUser` (restricted-v2 assigns one
//! from the namespace's range; GID 0), the image, the service-account token at its in-cluster
//! path, `KUBERNETES_SERVICE_*`, the termination-message file, and `hostNetwork` so that the
//! lab's API server (loopback) and VMs (host routes) are reached. podman, like CRI-O, adds a
//! passwd entry for the UID; a run without one (containerd) is `podman run --passwd=false` with
//! the same settings, where the entrypoint's nss_wrapper entry must do.
//!
//! - The settings really apply inside the container (read from `/proc/self/status`, not from
//!   the manifest): the random UID, GID 0, no capabilities, `NoNewPrivs`, seccomp filtering, a
//!   read-only root, tini as PID 1, a passwd entry whose home is `$HOME`, ssh resolving it.
//! - The MTV docs hook end to end against a lab VM and the lab API server: the recap, the file
//!   on the VM, MariaDB stopped, the key in `~/.ssh` of the pod's UID, the artifacts, the
//!   termination message, the exit code; then a second pod (Forklift's `backoffLimit: 1` re-run)
//!   without a passwd entry changes nothing on the VM and leaves no zombie nor ssh process
//!   (tini, PID 1, reaps what hook-runner's ssh leaves).
//! - A failing hook: exit 2, `failed` in the artifacts and the termination message, the last log
//!   lines naming the task and the host.
//! - SIGTERM at the deadline (`podman stop -t 15` during a long remote command): exit 99 within
//!   5 s, `canceled`, the remote command gone from the VM, as in the simulated pod
//!   (`tests/e2e_cancel.rs`).

#[path = "e2e/common.rs"]
mod common;
#[path = "support/manifests.rs"]
mod manifests;

use common::*;
use lab::kube_api::KubeApi;
use lab::vm::Vm;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The commands the engine needs on the host (catatonit: podman's pause image for pods).
const ENGINE_COMMANDS: &[&str] = &["podman", "runc", "catatonit"];
/// Names of everything a test creates in podman (pods, containers, volumes): test.sh's
/// leftover check looks for `hrlab-`.
const PREFIX: &str = "hrlab-img";
/// The bound on one pod's run.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The engine and the image built for this test process.
struct Engine {
    /// The containers.conf written by scripts/image.sh (exported as `CONTAINERS_CONF`).
    conf: PathBuf,
    /// The built image's reference.
    image: String,
}

impl Engine {
    fn podman(&self) -> Command {
        let mut command = Command::new("podman");
        command
            .env("CONTAINERS_CONF", &self.conf)
            .stdin(Stdio::null());
        command
    }

    /// Runs podman with `args`; its stdout, or a panic with both outputs when it fails.
    fn podman_ok(&self, args: &[&str]) -> String {
        let out = self
            .podman()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("starting podman {args:?}: {e}"));
        assert!(
            out.status.success(),
            "podman {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The last line of `scripts/image.sh ARGS` (the script's answer), or a panic with its output.
fn image_script(args: &[&str], conf: Option<&Path>) -> String {
    let mut command = Command::new(repo().join("scripts/image.sh"));
    command.args(args).stdin(Stdio::null());
    match conf {
        Some(conf) => command.env("CONTAINERS_CONF", conf),
        None => command.env_remove("CONTAINERS_CONF"),
    };
    let out = command.output().expect("starting scripts/image.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scripts/image.sh {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("scripts/image.sh {args:?} printed nothing"))
        .trim()
        .to_string()
}

/// The engine with the image built, or `None` when a prerequisite is missing outside CI (a
/// failure under `CI=true`, see `lab::require`).
fn engine(test: &str) -> Option<&'static Engine> {
    let mut commands: Vec<&str> = ENGINE_COMMANDS.to_vec();
    commands.push("debootstrap");
    if !lab::require_root_and(test, &commands) {
        return None;
    }
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    Some(ENGINE.get_or_init(|| {
        let conf = PathBuf::from(image_script(&["--containers-conf"], None));
        let started = Instant::now();
        let binary = env!("CARGO_BIN_EXE_hook-runner");
        let image = image_script(&["--local-base", "--binary", binary], Some(&conf));
        lab::util::report_timing("image-build", started.elapsed());
        Engine { conf, image }
    }))
}

/// A random UID of the kind restricted-v2 assigns (a namespace's range starts at 1000000000).
fn random_uid() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    1_000_000_000 + (nanos ^ std::process::id().rotate_left(16)) % 999_000_000
}

/// A name unique to this process and call, under [`PREFIX`].
fn unique_name(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{PREFIX}-{what}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// How the container is started.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Launch {
    /// `podman kube play` of job.yaml's pod template (podman adds a passwd entry, as CRI-O does).
    KubePlay,
    /// `podman run --passwd=false` with the same settings (no passwd entry, as containerd).
    RunWithoutPasswd,
}

/// One hook container in podman and its files on the host; on drop the pod or container and
/// its volumes are removed.
struct HookContainer {
    engine: &'static Engine,
    /// The pod's name (kube play) or the container's (run).
    name: String,
    launch: Launch,
    uid: u32,
    /// The service account, the hook files, the termination-message file, the kube YAML.
    files: tempfile::TempDir,
    started: Instant,
}

/// How a hook container ended.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    termination_message: String,
    duration: Duration,
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:.1} s\n--- stdout\n{}\n--- stderr\n{}\n--- termination message\n{}",
            self.code,
            self.duration.as_secs_f64(),
            self.stdout,
            self.stderr,
            self.termination_message
        )
    }
}

impl HookContainer {
    /// Starts the hook pod (`playbook`, Forklift's plan.yml, `workload`; a service account
    /// holding `token` for `api`) running `argv`, and returns while it runs.
    fn start(
        engine: &'static Engine,
        launch: Launch,
        api: &KubeApi,
        token: &str,
        hook: (&str, &str),
        argv: &[&str],
    ) -> HookContainer {
        let (playbook, workload) = hook;
        let name = unique_name(match launch {
            Launch::KubePlay => "pod",
            Launch::RunWithoutPasswd => "run",
        });
        let files = scratch_dir("hr-image-");
        api.write_service_account_dir(&files.path().join("serviceaccount"), token, NS)
            .unwrap();
        chmod(&files.path().join("serviceaccount"), 0o755);
        let termination_log = files.path().join("termination-log");
        std::fs::write(&termination_log, "").unwrap();
        chmod(&termination_log, 0o666);
        let hook_dir = files.path().join("hook");
        std::fs::create_dir(&hook_dir).unwrap();
        chmod(&hook_dir, 0o755);
        let plan = std::fs::read_to_string(shared("fixtures/forklift/plan.yml")).unwrap();
        for (file, text) in [
            ("playbook.yml", playbook),
            ("plan.yml", plan.as_str()),
            ("workload.yml", workload),
        ] {
            std::fs::write(hook_dir.join(file), text).unwrap();
            chmod(&hook_dir.join(file), 0o644);
        }
        let container = HookContainer {
            engine,
            name,
            launch,
            uid: random_uid(),
            files,
            started: Instant::now(),
        };
        let env = [
            ("KUBERNETES_SERVICE_HOST", api.host().to_string()),
            ("KUBERNETES_SERVICE_PORT", api.port().to_string()),
        ];
        match launch {
            Launch::KubePlay => {
                let yaml = container.kube_yaml(&env, argv, &[playbook, &plan, workload]);
                let file = container.files.path().join("kube.yaml");
                std::fs::write(&file, &yaml).unwrap();
                engine.podman_ok(&["kube", "play", file.to_str().unwrap()]);
            }
            Launch::RunWithoutPasswd => {
                let mut args: Vec<String> = [
                    "run",
                    "--detach",
                    "--passwd=false",
                    "--read-only",
                    "--read-only-tmpfs=false",
                    "--cap-drop=ALL",
                    "--security-opt=no-new-privileges",
                    "--network=host",
                    "--memory=1g",
                    "--cpus=1",
                ]
                .map(String::from)
                .to_vec();
                args.push(format!("--name={}", container.name));
                args.push(format!("--hostname={}", container.name));
                args.push(format!("--user={}:0", container.uid));
                for (key, value) in &env {
                    args.push(format!("--env={key}={value}"));
                }
                let path = |p: &str| container.files.path().join(p).display().to_string();
                for volume in [
                    format!("{}:/tmp/hook:ro", path("hook")),
                    format!("{}-tmp:/tmp", container.name),
                    format!("{}-home:{HOME}", container.name),
                    format!(
                        "{}:{}:ro",
                        path("serviceaccount"),
                        lab::pod::SERVICE_ACCOUNT_MOUNT
                    ),
                    format!("{}:{}", path("termination-log"), lab::pod::TERMINATION_LOG),
                ] {
                    args.push(format!("--volume={volume}"));
                }
                args.push(engine.image.clone());
                args.extend(argv.iter().map(|a| a.to_string()));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                engine.podman_ok(&args);
            }
        }
        container
    }

    /// job.yaml's ConfigMap and pod template, as the platform would run them here: the hook's
    /// files in the ConfigMap, names unique to this pod, the random UID, the image, the
    /// service account and termination-message file from the host, host networking.
    fn kube_yaml(&self, env: &[(&str, String)], argv: &[&str], hook: &[&str; 3]) -> String {
        let docs = manifests::documents("images/manifests/job.yaml");
        let job = manifests::of_kind(&docs, "Job");
        let mut spec = job["spec"]["template"]["spec"].clone();
        let unique = |volume: &str| format!("{}-{volume}", self.name);
        let config_map = unique("cm");
        spec["hostNetwork"] = json!(true);
        spec["securityContext"]["runAsUser"] = json!(self.uid);
        let container = &mut spec["containers"][0];
        container["image"] = json!(self.engine.image);
        container["command"] = json!(argv);
        container["env"] = Value::Array(
            env.iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect(),
        );
        let termination_path = container["terminationMessagePath"]
            .as_str()
            .unwrap_or(lab::pod::TERMINATION_LOG)
            .to_string();
        let mounts = container["volumeMounts"].as_array_mut().unwrap();
        for mount in mounts.iter_mut() {
            mount["name"] = json!(unique(mount["name"].as_str().unwrap()));
        }
        mounts.push(json!({"name": unique("sa"), "mountPath": lab::pod::SERVICE_ACCOUNT_MOUNT, "readOnly": true}));
        mounts.push(json!({"name": unique("termlog"), "mountPath": termination_path}));
        let volumes = spec["volumes"].as_array_mut().unwrap();
        for volume in volumes.iter_mut() {
            volume["name"] = json!(unique(volume["name"].as_str().unwrap()));
            if volume.get("configMap").is_some() {
                volume["configMap"]["name"] = json!(config_map);
            }
        }
        let host = |p: &str| self.files.path().join(p).display().to_string();
        volumes.push(json!({"name": unique("sa"), "hostPath": {"path": host("serviceaccount"), "type": "Directory"}}));
        volumes.push(json!({"name": unique("termlog"), "hostPath": {"path": host("termination-log"), "type": "File"}}));
        let [playbook, plan, workload] = hook;
        let config_map = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": config_map},
            "data": {"playbook.yml": playbook, "plan.yml": plan, "workload.yml": workload},
        });
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": self.name, "labels": job["spec"]["template"]["metadata"]["labels"]},
            "spec": spec,
        });
        format!("{config_map}\n---\n{pod}\n")
    }

    /// The container's name in podman (kube play names it `<pod>-<container>`).
    fn container(&self) -> String {
        match self.launch {
            Launch::KubePlay => format!("{}-hook", self.name),
            Launch::RunWithoutPasswd => self.name.clone(),
        }
    }

    /// The host directory of the pod's volume mounted at `destination` (/tmp, /home/runner).
    fn volume_dir(&self, destination: &str) -> PathBuf {
        let mounts =
            self.engine
                .podman_ok(&["inspect", "--format", "{{json .Mounts}}", &self.container()]);
        let mounts: Value = serde_json::from_str(mounts.trim()).unwrap();
        let source = mounts
            .as_array()
            .and_then(|m| m.iter().find(|m| m["Destination"] == destination))
            .and_then(|m| m["Source"].as_str())
            .unwrap_or_else(|| panic!("no mount at {destination}: {mounts:#}"));
        PathBuf::from(source)
    }

    /// The artifacts dir `/tmp/runner/artifacts/<ident>` the run left.
    fn artifacts(&self) -> PathBuf {
        only_artifacts_dir(&self.volume_dir("/tmp").join("runner"))
    }

    /// The container's output so far (`podman logs`).
    fn logs(&self) -> (String, String) {
        let out = self
            .engine
            .podman()
            .args(["logs", &self.container()])
            .output()
            .expect("podman logs");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Waits (bounded) for the container to exit; its exit code, output and termination message.
    fn wait(&self) -> Finished {
        let child = self
            .engine
            .podman()
            .args(["wait", &self.container()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("podman wait");
        let watchdog = kill_after(child.id() as i32, RUN_TIMEOUT);
        let waited = child.wait_with_output().expect("podman wait");
        let timed_out = watchdog.join().unwrap_or(false);
        let duration = self.started.elapsed();
        let code = self
            .engine
            .podman_ok(&[
                "inspect",
                "--format",
                "{{.State.ExitCode}}",
                &self.container(),
            ])
            .trim()
            .parse()
            .ok();
        let (stdout, stderr) = self.logs();
        let finished = Finished {
            code,
            stdout,
            stderr,
            termination_message: std::fs::read_to_string(self.files.path().join("termination-log"))
                .unwrap_or_default(),
            duration,
        };
        assert!(
            !timed_out && waited.status.success(),
            "the hook container did not end within {RUN_TIMEOUT:?} ({}): {finished:?}",
            String::from_utf8_lossy(&waited.stderr)
        );
        finished
    }
}

impl Drop for HookContainer {
    fn drop(&mut self) {
        let removed = match self.launch {
            Launch::KubePlay => {
                let file = self.files.path().join("kube.yaml");
                self.engine
                    .podman()
                    .args(["kube", "down", file.to_str().unwrap()])
                    .output()
            }
            Launch::RunWithoutPasswd => self
                .engine
                .podman()
                .args(["rm", "--force", "--time=0", &self.name])
                .output(),
        };
        if let Ok(out) = &removed {
            if !out.status.success() {
                eprintln!(
                    "image test: removing {}: {}",
                    self.name,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        for volume in ["cm", "tmp", "home"] {
            let _ = self
                .engine
                .podman()
                .args([
                    "volume",
                    "rm",
                    "--force",
                    &format!("{}-{volume}", self.name),
                ])
                .output();
        }
    }
}

/// Reads the restricted settings from inside the container (`key=value` lines).
/// (No leading newline: podman 4.3's kube play cannot read a command string that starts with one.)
const SETTINGS_PROBE: &str = r#"echo "uid=$(id -u)"
echo "gid=$(id -g)"
echo "groups=$(id -G)"
echo "user=$(id -un 2>&1)"
echo "home_entry=$(getent passwd "$(id -u)" | cut -d: -f6)"
echo "ssh_user=$(ssh -G probe.invalid 2>&1 | awk '$1 == "user" { print $2 }')"
for field in CapEff CapPrm CapBnd NoNewPrivs Seccomp; do
  echo "$field=$(awk -v f="$field:" '$1 == f { print $2 }' /proc/self/status)"
done
echo "pid1=$(cat /proc/1/comm)"
for dir in / /usr /etc /var/tmp; do
  if (: >"$dir/.hr-ro-probe") 2>/dev/null; then rm -f "$dir/.hr-ro-probe"; echo "write:$dir=yes"; else echo "write:$dir=no"; fi
done
for dir in /tmp "$HOME"; do
  if (: >"$dir/.hr-rw-probe") 2>/dev/null; then rm -f "$dir/.hr-rw-probe"; echo "write:$dir=yes"; else echo "write:$dir=no"; fi
done
echo "hook=$(ls /tmp/hook | tr '\n' ' ')"
echo "token=$(test -r /var/run/secrets/kubernetes.io/serviceaccount/token && echo readable)"
echo "version=$(hook-runner --version)"
"#;

/// The value of a `key=` line of `stdout`.
fn value<'a>(stdout: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key}= line in:\n{stdout}"))
}

#[test]
fn image_podman_pod_runs_under_restricted_settings_with_and_without_a_passwd_entry() {
    let test = "image_podman_pod_runs_under_restricted_settings_with_and_without_a_passwd_entry";
    let Some(engine) = engine(test) else {
        return;
    };
    let api = KubeApi::start();
    let mut findings = Findings::default();
    // runAsNonRoot: podman does not enforce it (a pod with runAsUser 0 runs as root), the
    // kubelet does, from the UID given or else the image's USER, which must be numeric and not 0.
    let user = engine.podman_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}}",
        &engine.image,
    ]);
    let image_uid = user
        .trim()
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string();
    findings.check(image_uid.parse::<u32>().is_ok_and(|uid| uid != 0), || {
        format!("the image's USER {user:?} is not a numeric non-root UID (runAsNonRoot refuses it)")
    });
    let mut context = String::new();
    for launch in [Launch::KubePlay, Launch::RunWithoutPasswd] {
        let started = Instant::now();
        let pod = HookContainer::start(
            engine,
            launch,
            &api,
            "probe-token",
            ("- hosts: localhost\n  tasks: []\n", "{}\n"),
            &[ENTRYPOINT, "sh", "-c", SETTINGS_PROBE],
        );
        let out = pod.wait();
        lab::util::report_timing("image-probe-pod", started.elapsed());
        context.push_str(&format!("{launch:?}: {out:?}\n"));
        let stdout = out.stdout.as_str();
        let what = |w: &str| format!("{launch:?}: {w}");
        findings.eq(&what("exit code"), Some(0), out.code);
        findings.eq(
            &what("uid"),
            pod.uid.to_string().as_str(),
            value(stdout, "uid"),
        );
        findings.eq(&what("gid"), "0", value(stdout, "gid"));
        findings.eq(&what("groups"), "0", value(stdout, "groups"));
        for field in ["CapEff", "CapPrm", "CapBnd"] {
            findings.eq(
                &what(&format!("{field} (capabilities: drop ALL)")),
                "0000000000000000",
                value(stdout, field),
            );
        }
        findings.eq(
            &what("NoNewPrivs (allowPrivilegeEscalation: false)"),
            "1",
            value(stdout, "NoNewPrivs"),
        );
        findings.eq(
            &what("Seccomp (2: a filter, RuntimeDefault)"),
            "2",
            value(stdout, "Seccomp"),
        );
        findings.eq(&what("PID 1"), "tini", value(stdout, "pid1"));
        for dir in ["/", "/usr", "/etc", "/var/tmp"] {
            findings.eq(
                &what(&format!("{dir} writable (readOnlyRootFilesystem)")),
                "no",
                value(stdout, &format!("write:{dir}")),
            );
        }
        for dir in ["/tmp", HOME] {
            findings.eq(
                &what(&format!("{dir} writable (emptyDir)")),
                "yes",
                value(stdout, &format!("write:{dir}")),
            );
        }
        findings.eq(
            &what("home of the UID's passwd entry (ssh takes ~ from it)"),
            HOME,
            value(stdout, "home_entry"),
        );
        let user = value(stdout, "user");
        findings.check(
            !user.is_empty() && !user.contains("cannot find name"),
            || what(&format!("`id -un` has no name for the UID: {user:?}")),
        );
        findings.eq(
            &what("the user ssh resolves (`ssh -G`)"),
            user,
            value(stdout, "ssh_user"),
        );
        if launch == Launch::RunWithoutPasswd {
            // No passwd entry from the engine: the entrypoint's nss_wrapper entry.
            findings.eq(&what("user name of the entrypoint's entry"), "runner", user);
        }
        findings.eq(
            &what("the hook ConfigMap at /tmp/hook"),
            "plan.yml playbook.yml workload.yml ",
            value(stdout, "hook"),
        );
        findings.eq(
            &what("the service-account token"),
            "readable",
            value(stdout, "token"),
        );
        findings.check(value(stdout, "version").starts_with("hook-runner "), || {
            what("hook-runner --version in the image")
        });
    }
    findings.finish(&context);
}

/// Forklift's command run by a shell, which then counts zombies and ssh processes left in the
/// container (no leading newline: see [`SETTINGS_PROBE`]).
const ZOMBIE_PROBE: &str = r#"hook-runner ansible-runner run /tmp/runner -p /tmp/hook/playbook.yml
rc=$?
sleep 0.5
echo "zombies=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)"
echo "ssh_left=$(grep -lx ssh /proc/[0-9]*/comm 2>/dev/null | wc -l)"
echo "pid1=$(cat /proc/1/comm)"
exit $rc
"#;

const EXPECTED_CONTENT: &str = "Migration from boston of vm-2861 has finished\n";

/// The VM, with the checks every VM test starts with; `None` when a prerequisite is missing.
fn vm_for(test: &str) -> Option<Vm> {
    if !lab::require_root_and(test, lab::vm::HOST_COMMANDS) {
        return None;
    }
    Some(Vm::boot().expect("the lab VM boots"))
}

#[test]
fn image_podman_mtv_docs_hook_end_to_end_then_a_rerun_without_a_passwd_entry() {
    let test = "image_podman_mtv_docs_hook_end_to_end_then_a_rerun_without_a_passwd_entry";
    let Some(engine) = engine(test) else {
        return;
    };
    let Some(vm) = vm_for(test) else {
        return;
    };
    let started = Instant::now();
    assert_eq!(
        vm.exec_ok("systemctl is-active mariadb"),
        "active",
        "MariaDB must run before the hook"
    );
    let ip = vm.address().to_string();
    let (api, token, key) = api_with_vm_key(&vm);
    let playbook = mtv_docs_playbook();
    let workload = workload_with_ip(&ip);
    let mut findings = Findings::default();

    // --- The pod of job.yaml, Forklift's exact command.
    let pod = HookContainer::start(
        engine,
        Launch::KubePlay,
        &api,
        &token,
        (&playbook, &workload),
        &FORKLIFT_ARGV,
    );
    let out = pod.wait();
    let context = format!("{out:?}");
    findings.eq("exit code of the hook", Some(0), out.code);
    findings.eq(
        "`systemctl is-active mariadb` on the VM after the hook",
        "inactive".to_string(),
        String::from_utf8_lossy(&vm.exec("systemctl is-active mariadb").stdout)
            .trim()
            .to_string(),
    );
    findings.eq(
        "/premigration.txt content on the VM",
        EXPECTED_CONTENT.to_string(),
        String::from_utf8_lossy(&vm.exec("cat /premigration.txt").stdout).into_owned(),
    );
    findings.eq(
        "/premigration.txt mode on the VM",
        "644".to_string(),
        vm.exec_ok("stat -c %a /premigration.txt"),
    );
    findings.eq(
        "PLAY RECAP",
        vec![
            recap_line(&ip, [3, 2, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
            recap_line("localhost", [5, 3, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
        ],
        recap_lines(&out.stdout),
    );
    // The key in the pod's HOME (the emptyDir), written by the pod's UID with GID 0.
    let id_rsa = pod.volume_dir(HOME).join(".ssh/id_rsa");
    findings.check(std::fs::read(&id_rsa).ok().as_ref() == Some(&key), || {
        "~/.ssh/id_rsa in the pod's HOME is not the Secret's key".to_string()
    });
    findings.eq("~/.ssh/id_rsa mode", 0o600, mode_of(&id_rsa));
    let owner = std::fs::metadata(&id_rsa).map(|m| {
        use std::os::unix::fs::MetadataExt;
        (m.uid(), m.gid())
    });
    findings.eq(
        "owner of ~/.ssh/id_rsa (the pod's UID, GID 0)",
        Some((pod.uid, 0)),
        owner.ok(),
    );
    // The API server saw the Secret read with the service account's token.
    let path = format!("/api/v1/namespaces/{NS}/secrets/privkey");
    let reads = requests_to(&api, "GET", &path);
    findings.check(!reads.is_empty(), || format!("no GET {path}"));
    for read in &reads {
        findings.eq(
            "Authorization header of the Secret read",
            Some(format!("Bearer {token}")),
            read.header("authorization").map(str::to_string),
        );
    }
    let artifacts = pod.artifacts();
    check_outcome(
        &mut findings,
        &artifacts,
        &out.termination_message,
        "successful",
        0,
    );
    findings.eq(
        "last job event",
        Some("playbook_on_stats"),
        event_names(&artifacts).last().map(String::as_str),
    );
    let needles = secret_needles(&key);
    assert_no_secret(
        &needles,
        &[
            ("stdout", &out.stdout),
            ("stderr", &out.stderr),
            ("termination message", &out.termination_message),
        ],
        &[&pod.volume_dir("/tmp").join("runner")],
    );
    lab::util::report_timing("image-mtv-hook-pod", out.duration);
    drop(pod);

    // --- Forklift's re-run (backoffLimit 1): a new pod with fresh emptyDirs, here without a
    // passwd entry from the engine. Nothing changes on the VM. The same command under a shell
    // that then counts zombies: the ssh control processes hook-runner leaves are reaped by tini.
    let rerun = HookContainer::start(
        engine,
        Launch::RunWithoutPasswd,
        &api,
        &token,
        (&playbook, &workload),
        &[ENTRYPOINT, "sh", "-c", ZOMBIE_PROBE],
    );
    let out2 = rerun.wait();
    findings.eq("exit code of the re-run", Some(0), out2.code);
    findings.eq("PID 1 of the re-run", "tini", value(&out2.stdout, "pid1"));
    findings.eq(
        "zombies in the container after hook-runner exited",
        "0",
        value(&out2.stdout, "zombies"),
    );
    findings.eq(
        "ssh processes left after hook-runner exited",
        "0",
        value(&out2.stdout, "ssh_left"),
    );
    findings.eq(
        "PLAY RECAP of the re-run (a fresh HOME: the key is written again)",
        vec![
            recap_line(&ip, [3, 0, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
            recap_line("localhost", [5, 3, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
        ],
        recap_lines(&out2.stdout),
    );
    check_outcome(
        &mut findings,
        &rerun.artifacts(),
        &out2.termination_message,
        "successful",
        0,
    );
    assert_no_secret(
        &needles,
        &[("stdout", &out2.stdout), ("stderr", &out2.stderr)],
        &[&rerun.volume_dir("/tmp").join("runner")],
    );
    lab::util::report_timing("image-mtv-hook-rerun", out2.duration);
    lab::util::report_timing("image-mtv-hook-total", started.elapsed());
    findings.finish(&format!("first: {context}\nre-run: {out2:?}"));
    drop(rerun);
    vm.shutdown().expect("the VM tears down cleanly");
}

/// Play 2 of the failing hook: a task that fails on the VM, then one that must not run.
const FAILING_PLAY: &str = r#"
- name: Prepare the VM
  hosts: vms
  gather_facts: false
  tasks:
  - name: Stop a service that does not exist
    command: systemctl stop nonexistent-service-xyz
  - name: Never reached
    file:
      path: /tmp/never-reached
      state: touch
"#;

#[test]
fn image_podman_failing_hook_exits_2_and_says_which_task_failed_where() {
    let test = "image_podman_failing_hook_exits_2_and_says_which_task_failed_where";
    let Some(engine) = engine(test) else {
        return;
    };
    let Some(vm) = vm_for(test) else {
        return;
    };
    let ip = vm.address().to_string();
    let (api, token, _key) = api_with_vm_key(&vm);
    let playbook = format!("{KEY_PLAY}{FAILING_PLAY}");
    let pod = HookContainer::start(
        engine,
        Launch::KubePlay,
        &api,
        &token,
        (&playbook, &workload_with_ip(&ip)),
        &FORKLIFT_ARGV,
    );
    let out = pod.wait();
    let mut findings = Findings::default();
    findings.eq("exit code of a hook whose task fails", Some(2), out.code);
    let log = format!("{}\n{}", out.stdout, out.stderr);
    let tail = last_lines(&log, 20);
    for needle in ["Stop a service that does not exist", ip.as_str()] {
        findings.check(tail.contains(needle), || {
            format!("the last lines of the pod log do not name {needle:?}:\n{tail}")
        });
    }
    findings.eq(
        "PLAY RECAP",
        vec![
            recap_line(&ip, [0, 0, 0, 1, 0, 0, 0])
                .trim_end()
                .to_string(),
            recap_line("localhost", [4, 3, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
        ],
        recap_lines(&out.stdout),
    );
    findings.eq(
        "`Never reached` ran on the VM",
        false,
        vm.exec("test -e /tmp/never-reached").status.success(),
    );
    if let Some(summary) = check_outcome(
        &mut findings,
        &pod.artifacts(),
        &out.termination_message,
        "failed",
        2,
    ) {
        let failures = summary["failures"].to_string();
        findings.check(
            failures.contains("Stop a service that does not exist") && failures.contains(&ip),
            || format!("the termination message's failures name neither task nor host: {failures}"),
        );
    }
    lab::util::report_timing("image-failing-hook-pod", out.duration);
    findings.finish(&format!("{out:?}"));
    drop(pod);
    vm.shutdown().expect("the VM tears down cleanly");
}

const LONG_COMMAND_PLAY: &str = r#"
- name: On the VM
  hosts: vms
  gather_facts: false
  tasks:
  - name: Long command
    command: sleep 300
  - name: Never reached
    file:
      path: /tmp/never-reached
      state: touch
"#;

/// `podman stop`'s grace before SIGKILL: long enough not to hide a slow exit.
const STOP_GRACE_SECONDS: &str = "15";

#[test]
fn image_podman_stop_during_a_remote_command_cancels_as_the_deadline_does() {
    let test = "image_podman_stop_during_a_remote_command_cancels_as_the_deadline_does";
    let Some(engine) = engine(test) else {
        return;
    };
    let Some(vm) = vm_for(test) else {
        return;
    };
    let (api, token, _key) = api_with_vm_key(&vm);
    let playbook = format!("{KEY_PLAY}{LONG_COMMAND_PLAY}");
    let pod = HookContainer::start(
        engine,
        Launch::KubePlay,
        &api,
        &token,
        (&playbook, &workload_with_ip(&vm.address().to_string())),
        &FORKLIFT_ARGV,
    );
    // The deadline comes while the remote command runs.
    let running =
        lab::util::wait_until(Duration::from_secs(90), Duration::from_millis(200), || {
            pod.logs().0.contains("TASK [Long command]")
                && !String::from_utf8_lossy(&vm.exec("pgrep -fx 'sleep 300' || true").stdout)
                    .trim()
                    .is_empty()
        });
    assert!(running, "the long command never started: {:?}", pod.logs());
    let stop_started = Instant::now();
    engine.podman_ok(&["stop", "--time", STOP_GRACE_SECONDS, &pod.container()]);
    let stop_took = stop_started.elapsed();
    let out = pod.wait();
    let mut findings = Findings::default();
    findings.eq("exit code after SIGTERM", Some(99), out.code);
    findings.check(stop_took <= Duration::from_secs(5), || {
        format!("the hook took {stop_took:?} to exit after SIGTERM (at most 5 s)")
    });
    check_outcome(
        &mut findings,
        &pod.artifacts(),
        &out.termination_message,
        "canceled",
        99,
    );
    let left = lab::util::wait_until(Duration::from_secs(5), Duration::from_millis(250), || {
        String::from_utf8_lossy(&vm.exec("pgrep -fx 'sleep 300' || true").stdout)
            .trim()
            .is_empty()
    });
    findings.check(left, || {
        "`sleep 300` is still running on the VM 5 s after the hook ended".to_string()
    });
    findings.eq(
        "`Never reached` ran on the VM",
        false,
        vm.exec("test -e /tmp/never-reached").status.success(),
    );
    lab::util::report_timing("image-stop-to-exit", stop_took);
    findings.finish(&format!("{out:?}"));
    drop(pod);
    vm.shutdown().expect("the VM tears down cleanly");
}
