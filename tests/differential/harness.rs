//! The differential harness: runs one case playbook with ansible-playbook (ansible-core 2.18, the
//! oracle) and with hook-runner against the same targets, and compares what matters.
//!
//! Targets (one INI inventory, the same file for both tools):
//! - `localhost`: the controller itself (`ansible_connection=local`; Ansible uses the venv's
//!   Python so that `kubernetes.core` finds its library);
//! - `sshhost`: a private sshd on loopback from the lab ([`lab::SshHost`]), user `hrtest`, key
//!   auth, login shell `/bin/sh`, the system `/usr/bin/python3` for Ansible;
//! - optionally `deadhost` (group `dead`): an address whose port is closed (unreachable host).
//!
//! Both loopback hosts are in the group `targets`. Each host has a `work` variable: a directory
//! of its own (`<case dir>/w/<host>`, owned by the login user) that is wiped and recreated before
//! each tool's run, so the two runs see the same paths and the same initial state, and neither
//! sees the other's leftovers. The playbook is run from its source directory (`tests/differential/cases`),
//! so `playbook_dir`, `roles/` and `files/` resolve the same way for both.
//!
//! A case made with [`Case::on_vm`] targets a systemd VM instead of the loopback sshd: a fresh
//! VM of the lab's python3 variant ([`lab::vm::VmRecipe::Python3`]: Debian bookworm with
//! systemd, sshd, MariaDB, sudo, python3 and acl) booted for the case, and the SAME VM for both
//! tools. Its hosts are `vm` (group `targets`, login `root`) and `vmuser` (group `vmusers`,
//! login [`lab::vm::VM_USER`], who has passwordless sudo); their `work` is `/srv/hr-diff` on the
//! VM. Before each tool's run the harness, as root on the VM, recreates `/srv/hr-diff` (owned by
//! the VM user) and runs the case's setup script, which must bring the VM back to the state the
//! case starts from (stop and disable its units, remove its files...). `localhost` stays in the
//! inventory (the dump task is delegated to it) but not in `targets`.
//!
//! A case ends with a task that dumps selected registered variables as JSON to
//! `{{ out_dir }}/{{ inventory_hostname }}.json`, delegated to localhost; `out_dir` is passed with
//! `-e` and differs per tool (it must not appear in a registered result).
//!
//! Compared: the exit code, the PLAY RECAP counters per host, and the dumped results after
//! [`normalize`] (volatile keys dropped, temp paths and timestamps masked). A mismatch panics with
//! a readable, line-per-value diff; both tools' output is kept under
//! `$CARGO_TARGET_TMPDIR/differential/<case>/` for diagnosis.
//!
//! Prerequisites (lab policy, [`lab::require`]): root (sshd, the test user), the VM's host
//! commands for a VM case, and ansible-playbook from `$HOOK_RUNNER_ANSIBLE` or the venv that
//! `scripts/test.sh` caches in `.lab-cache/ansible-venv`. With `CI=true` a missing one fails the test; otherwise it is a loud
//! skip.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::kube_api::{service_account, KubeApi, Rule};
use serde_json::Value;

/// Keys dropped from every object of a result, at any depth: they differ between two runs of
/// the same tool (times, temp paths, interpreter details) or are executor bookkeeping.
const VOLATILE_KEYS: &[&str] = &[
    "start",
    "end",
    "delta",
    "invocation",
    // Ansible's Python traceback of a failed action.
    "exception",
    // `timedout.frame`: the Python stack frame that the task timeout interrupted.
    "frame",
    "warnings",
    "deprecations",
    "ansible_facts_gathered",
    "discovered_interpreter_python",
    "atime",
    "mtime",
    "ctime",
    "inode",
    "dev",
    "nlink",
    "blocks",
    "block_size",
    "device_type",
    "attributes",
    "version",
    "generation",
    "diff",
];

/// Upper bound of one tool's run of one case (a hang must fail the test, not stall the suite).
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The value that replaces masked strings (temp paths, backup timestamps).
const MASK: &str = "<masked>";

/// How one case is run; built with [`Case::new`] and the builder methods.
#[derive(Debug, Clone)]
pub struct Case {
    name: String,
    extra_args: Vec<String>,
    dead_host: bool,
    ignored_keys: Vec<String>,
    host_vars: String,
    inventory_extra: String,
    expected_exit: i32,
    kube: Option<fn(&KubeApi)>,
    /// Set by [`Case::on_vm`]: the case targets a python3 VM; the script resets it.
    vm_setup: Option<String>,
    /// Keys of `status` objects (systemd's `systemctl show` properties) kept for comparison.
    status_keys: Option<Vec<String>>,
}

impl Case {
    /// The case whose playbook is `tests/differential/cases/<name>.yml`.
    pub fn new(name: &str) -> Case {
        Case {
            name: name.to_string(),
            extra_args: Vec::new(),
            dead_host: false,
            ignored_keys: Vec::new(),
            host_vars: String::new(),
            inventory_extra: String::new(),
            expected_exit: 0,
            kube: None,
            vm_setup: None,
            status_keys: None,
        }
    }

    /// Targets a fresh systemd VM (the lab's python3 variant) instead of the loopback sshd, the
    /// same VM for both tools: see the module doc. `setup` is a `sh` script run as root on the
    /// VM before each tool's run; it must undo whatever the case's playbook changes (the first
    /// tool's run must not change the second's starting point).
    pub fn on_vm(mut self, setup: &str) -> Case {
        self.vm_setup = Some(setup.to_string());
        self
    }

    /// In every object under a `status` key (systemd's `systemctl show` properties, some 200
    /// of them, many volatile: pids, timestamps, memory, invocation ids) compares the values of
    /// `keys` only; the other properties are masked, so only their presence is compared.
    pub fn status_keys(mut self, keys: &[&str]) -> Case {
        self.status_keys = Some(keys.iter().map(|k| k.to_string()).collect());
        self
    }

    /// Extra command-line arguments given to both tools (`--tags x`, `--check`...).
    pub fn args(mut self, args: &[&str]) -> Case {
        self.extra_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Adds `deadhost` (group `dead`): 127.0.0.1 on a port nothing listens on.
    pub fn with_dead_host(mut self) -> Case {
        self.dead_host = true;
        self
    }

    /// Also drops these keys (at any depth) before comparing, for values that legitimately differ
    /// in this case only. Say why at the call site.
    pub fn ignore_keys(mut self, keys: &[&str]) -> Case {
        self.ignored_keys.extend(keys.iter().map(|k| k.to_string()));
        self
    }

    /// Appends `k=v` pairs to the line of every reachable host in the inventory.
    pub fn host_vars(mut self, vars: &str) -> Case {
        self.host_vars = format!(" {vars}");
        self
    }

    /// Appends raw INI text (sections such as `[all:vars]`) to the inventory.
    pub fn inventory(mut self, text: &str) -> Case {
        self.inventory_extra = text.to_string();
        self
    }

    /// ansible-playbook's expected exit code (default 0). Guards the case itself: when Ansible
    /// does not end as the case intends (a typo, an undefined variable), both tools may agree on
    /// a failure that tests nothing.
    pub fn expect_exit(mut self, code: i32) -> Case {
        self.expected_exit = code;
        self
    }

    /// Starts the lab's Kubernetes API server, lets `seed` store objects, and passes
    /// `-e kubeconfig=<path>` (a token allowed everything) and `-e kubeconfig_limited=<path>` (a
    /// token of `system:serviceaccount:hooks:limited` that may only get pods in `default`).
    pub fn with_kube(mut self, seed: fn(&KubeApi)) -> Case {
        self.kube = Some(seed);
        self
    }

    fn playbook(&self) -> PathBuf {
        cases_dir().join(format!("{}.yml", self.name))
    }
}

/// What one tool did with a case.
#[derive(Debug)]
pub struct Run {
    pub tool: &'static str,
    pub exit_code: i32,
    /// Host name -> `ok=.. changed=.. unreachable=.. failed=.. skipped=.. rescued=.. ignored=..`.
    pub recap: BTreeMap<String, String>,
    /// Host name -> the dumped results (an object of registered variables).
    pub results: BTreeMap<String, Value>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// The directory of the case playbooks.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/cases")
}

/// Runs `case` with both tools and panics with a readable diff when they disagree. Returns
/// without running anything (after a loud banner) when a prerequisite is missing outside CI.
pub fn check(case: Case) {
    let test = format!("differential::{}", case.name);
    let prerequisites_met = if case.vm_setup.is_some() {
        lab::require_root_and(&test, lab::vm::HOST_COMMANDS)
    } else {
        lab::require_root(&test)
    };
    if !prerequisites_met {
        return;
    }
    let Some(ansible) = ansible_playbook() else {
        lab::require(
            false,
            &test,
            "ansible-playbook 2.18 (set HOOK_RUNNER_ANSIBLE, or run scripts/test.sh to make .lab-cache/ansible-venv)",
        );
        return;
    };
    let started = Instant::now();
    let target = if case.vm_setup.is_some() {
        let vm = lab::vm::Vm::boot_with(lab::vm::VmOptions::python3())
            .expect("lab: booting a python3 VM");
        Target::Vm(Box::new(vm))
    } else {
        Target::Ssh(lab::SshHost::start_loopback().expect("lab: starting the loopback sshd"))
    };
    let mut lab = CaseLab::new(&case, &target, &ansible);
    // Kept alive until both runs are done.
    let _kube = case.kube.map(|seed| lab.start_kube(seed));
    let ansible_run = lab.run_ansible(&case);
    let hr_run = lab.run_hook_runner(&case);
    lab.keep_outputs(&ansible_run, &hr_run);
    lab::util::report_timing("differential-ansible", ansible_run.elapsed);
    lab::util::report_timing("differential-hook-runner", hr_run.elapsed);
    eprintln!(
        "differential {}: ansible {:.1} s, hook-runner {:.1} s, total {:.1} s",
        case.name,
        ansible_run.elapsed.as_secs_f64(),
        hr_run.elapsed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let mut report = String::new();
    if ansible_run.exit_code != case.expected_exit {
        let _ = writeln!(
            report,
            "the case is broken: ansible-playbook exited {} where the case expects {}; its output:\n{}",
            ansible_run.exit_code, case.expected_exit, ansible_run.stdout
        );
    }
    report.push_str(&compare(&case, &ansible_run, &hr_run));
    if ansible_run.results.is_empty() {
        // A case that dumps nothing compares nothing: a broken case, not a pass.
        report.push_str("ansible-playbook wrote no results: the case's dump task did not run\n");
    }
    if !report.is_empty() {
        panic!(
            "\nhook-runner differs from ansible-playbook 2.18 in case `{}` ({}):\n{report}\n\
             full output of both: {}\n\n--- hook-runner stdout ---\n{}\n--- hook-runner stderr ---\n{}\n",
            case.name,
            case.playbook().display(),
            lab.keep_dir.display(),
            hr_run.stdout,
            hr_run.stderr,
        );
    }
}

/// ansible-playbook: `$HOOK_RUNNER_ANSIBLE`, else the venv cached by `scripts/test.sh`; only
/// when it is ansible-core 2.18 (another version is another oracle). Checked once per process.
fn ansible_playbook() -> Option<PathBuf> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let path = match std::env::var_os("HOOK_RUNNER_ANSIBLE") {
                Some(path) => PathBuf::from(path),
                None => Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(".lab-cache/ansible-venv/bin/ansible-playbook"),
            };
            let version = Command::new(&path).arg("--version").output().ok()?;
            let text = String::from_utf8_lossy(&version.stdout);
            if text.contains("[core 2.18.") {
                Some(path)
            } else {
                eprintln!(
                    "{} is not ansible-core 2.18: {}",
                    path.display(),
                    text.lines().next().unwrap_or("")
                );
                None
            }
        })
        .clone()
}

/// What a case's remote hosts are.
enum Target {
    /// The loopback sshd (`sshhost`).
    Ssh(lab::SshHost),
    /// A python3 VM (`vm` as root, `vmuser` as the sudo user); boxed, it is large.
    Vm(Box<lab::vm::Vm>),
}

/// The `work` directory on a VM (recreated before each tool's run).
const VM_WORK: &str = "/srv/hr-diff";

/// The per-case directories and inventory.
struct CaseLab<'a> {
    dir: tempfile::TempDir,
    keep_dir: PathBuf,
    inventory: PathBuf,
    ansible: PathBuf,
    hosts: Vec<&'static str>,
    /// `-e` arguments the lab adds for both tools (kubeconfig paths).
    lab_vars: Vec<String>,
    /// The VM of an [`Case::on_vm`] case and its reset script.
    vm: Option<(&'a lab::vm::Vm, String)>,
}

impl<'a> CaseLab<'a> {
    fn new(case: &Case, target: &'a Target, ansible: &Path) -> CaseLab<'a> {
        let dir = tempfile::Builder::new()
            .prefix("hr-diff-")
            .tempdir()
            .expect("creating the case's temp dir");
        // The ssh user must reach its work dir inside.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .expect("chmod the case dir");
        let venv_python = ansible.with_file_name("python");
        let (inventory, hosts) = match target {
            Target::Ssh(host) => loopback_inventory(case, dir.path(), host, &venv_python),
            Target::Vm(vm) => vm_inventory(case, dir.path(), vm, &venv_python),
        };
        let inventory_path = dir.path().join("inventory.ini");
        fs::write(&inventory_path, inventory).expect("writing the inventory");
        // An empty config: no ansible.cfg from the working directory or $HOME leaks in.
        fs::write(dir.path().join("ansible.cfg"), "").expect("writing ansible.cfg");
        let keep_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("differential")
            .join(&case.name);
        let _ = fs::remove_dir_all(&keep_dir);
        fs::create_dir_all(&keep_dir).expect("creating the output dir");
        let vm = match (target, &case.vm_setup) {
            (Target::Vm(vm), Some(setup)) => Some((&**vm, setup.clone())),
            _ => None,
        };
        CaseLab {
            dir,
            keep_dir,
            inventory: inventory_path,
            ansible: ansible.to_path_buf(),
            hosts,
            lab_vars: Vec::new(),
            vm,
        }
    }

    /// The API server of a `with_kube` case, seeded, with two kubeconfigs in the case dir.
    fn start_kube(&mut self, seed: fn(&KubeApi)) -> KubeApi {
        let kube = KubeApi::start();
        seed(&kube);
        let admin = kube.token("admin", &[Rule::all()]);
        let limited = kube.token(
            &service_account("hooks", "limited"),
            &[Rule::new(&["get"], &["pods"]).in_namespace("default")],
        );
        for (var, token) in [("kubeconfig", admin), ("kubeconfig_limited", limited)] {
            let path = self.dir.path().join(format!("{var}.yaml"));
            kube.write_kubeconfig(&path, &token)
                .expect("writing a kubeconfig");
            self.lab_vars.push(format!("{var}={}", path.display()));
        }
        kube
    }

    /// Wipes and recreates every host's work dir (the ssh host's belongs to its login user),
    /// resets the VM of a VM case, and makes an empty results dir for `tool`.
    fn reset(&self, tool: &str) -> PathBuf {
        let work = self.dir.path().join("w");
        let _ = fs::remove_dir_all(&work);
        for host in &self.hosts {
            let dir = work.join(host);
            fs::create_dir_all(&dir).expect("creating a work dir");
            if *host != "localhost" {
                let status = Command::new("chown")
                    .arg(format!("{0}:{0}", lab::ssh::TEST_USER))
                    .arg(&dir)
                    .status()
                    .expect("running chown");
                assert!(status.success(), "chown of {} failed", dir.display());
            }
        }
        if let Some((vm, setup)) = &self.vm {
            reset_vm(vm, setup);
        }
        let out = self.dir.path().join(format!("out-{tool}"));
        let _ = fs::remove_dir_all(&out);
        fs::create_dir_all(&out).expect("creating the results dir");
        out
    }

    fn run_ansible(&self, case: &Case) -> Run {
        let out = self.reset("ansible");
        let d = self.dir.path();
        let mut cmd = Command::new(&self.ansible);
        cmd.arg(case.playbook())
            .arg("-i")
            .arg(&self.inventory)
            .arg("-e")
            .arg(format!("out_dir={}", out.display()))
            .args(self.lab_vars.iter().flat_map(|v| ["-e", v.as_str()]))
            .args(&case.extra_args)
            .env("ANSIBLE_CONFIG", d.join("ansible.cfg"))
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "False")
            .env("ANSIBLE_LOCAL_TEMP", d.join("ansible-local"))
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", d.join("cp"))
            // Pipelining stays off, as in the Forklift hook image: it changes messages (an
            // unreachable host is "Data could not be sent..." with it).
            .env("ANSIBLE_PIPELINING", "False");
        self.execute("ansible", cmd, &out)
    }

    fn run_hook_runner(&self, case: &Case) -> Run {
        let out = self.reset("hook-runner");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hook-runner"));
        cmd.arg("run")
            .arg(case.playbook())
            .arg("-i")
            .arg(&self.inventory)
            .arg("-e")
            .arg(format!("out_dir={}", out.display()))
            .args(self.lab_vars.iter().flat_map(|v| ["-e", v.as_str()]))
            .args(&case.extra_args)
            .env("ANSIBLE_HOST_KEY_CHECKING", "False");
        self.execute("hook-runner", cmd, &out)
    }

    fn execute(&self, tool: &'static str, mut cmd: Command, out: &Path) -> Run {
        cmd.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .env("NO_COLOR", "1")
            // Read by the lookup('env') case.
            .env("HOOK_RUNNER_DIFF_ENV", "from the environment")
            .env_remove("HOOK_RUNNER_DIFF_NOT_SET")
            // Cluster access only through the kubeconfig a case passes explicitly.
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .env_remove("KUBECONFIG");
        let started = Instant::now();
        let (code, stdout, mut stderr) =
            run_bounded(cmd, RUN_TIMEOUT).unwrap_or_else(|e| panic!("running {tool}: {e}"));
        let elapsed = started.elapsed();
        if code.is_none() {
            let _ = write!(
                stderr,
                "\n[harness] killed after {} s",
                RUN_TIMEOUT.as_secs()
            );
        }
        Run {
            tool,
            exit_code: code.unwrap_or(-1),
            recap: parse_recap(&stdout),
            results: read_results(out),
            stdout,
            stderr,
            elapsed,
        }
    }

    fn keep_outputs(&self, a: &Run, b: &Run) {
        for run in [a, b] {
            let _ = fs::write(
                self.keep_dir.join(format!("{}.stdout", run.tool)),
                &run.stdout,
            );
            let _ = fs::write(
                self.keep_dir.join(format!("{}.stderr", run.tool)),
                &run.stderr,
            );
            let results = serde_json::to_string_pretty(&run.results).unwrap_or_default();
            let _ = fs::write(
                self.keep_dir.join(format!("{}.results.json", run.tool)),
                results,
            );
        }
        let _ = fs::copy(&self.inventory, self.keep_dir.join("inventory.ini"));
    }
}

/// Recreates the VM's work dir and runs the case's setup script, as root; panics if it fails
/// (the case would compare runs that started from different states).
fn reset_vm(vm: &lab::vm::Vm, setup: &str) {
    let script = format!(
        "set -e\nrm -rf {VM_WORK}\ninstall -d -o {user} -g {user} -m 0755 {VM_WORK}\n{setup}\n",
        user = vm.user()
    );
    let out = vm.exec(&script);
    assert!(
        out.status.success(),
        "the case's VM setup failed ({}):\n{script}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The inventory of a loopback case (`localhost`, `sshhost`, maybe `deadhost`) and the hosts
/// whose local work dirs the harness makes.
fn loopback_inventory(
    case: &Case,
    dir: &Path,
    host: &lab::SshHost,
    venv_python: &Path,
) -> (String, Vec<&'static str>) {
    let mut inventory = format!(
        "localhost ansible_connection=local ansible_python_interpreter={py} work={d}/w/localhost{hv}\n\
         sshhost ansible_host={addr} ansible_port={port} ansible_user={user} \
         ansible_ssh_private_key_file={key} ansible_python_interpreter=/usr/bin/python3 \
         ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null' work={d}/w/sshhost{hv}\n\
         \n[targets]\nlocalhost\nsshhost\n\n{extra}\n",
        py = venv_python.display(),
        d = dir.display(),
        addr = host.address(),
        port = host.port(),
        user = host.user(),
        key = host.key_path().display(),
        hv = case.host_vars,
        extra = case.inventory_extra,
    );
    let mut hosts = vec!["localhost", "sshhost"];
    if case.dead_host {
        let port = lab::util::free_port().expect("a free port for the dead host");
        let _ = write!(
            inventory,
            "\n[dead]\ndeadhost ansible_host=127.0.0.1 ansible_port={port} ansible_user={user} \
             ansible_ssh_private_key_file={key} ansible_python_interpreter=/usr/bin/python3 \
             ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null' work={d}/w/deadhost\n",
            user = host.user(),
            key = host.key_path().display(),
            d = dir.display(),
        );
        hosts.push("deadhost");
    }
    (inventory, hosts)
}

/// The inventory of a VM case: `localhost` (not a target), `vm` (root, group `targets`) and
/// `vmuser` (the sudo user, group `vmusers`), both on the same VM.
fn vm_inventory(
    case: &Case,
    dir: &Path,
    vm: &lab::vm::Vm,
    venv_python: &Path,
) -> (String, Vec<&'static str>) {
    let host_line = |name: &str, user: &str, key: &Path| {
        format!(
            "{name} ansible_host={addr} ansible_port={port} ansible_user={user} \
             ansible_ssh_private_key_file={key} ansible_python_interpreter=/usr/bin/python3 \
             ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null' work={VM_WORK}{hv}\n",
            addr = vm.address(),
            port = vm.port(),
            key = key.display(),
            hv = case.host_vars,
        )
    };
    let inventory = format!(
        "localhost ansible_connection=local ansible_python_interpreter={py} work={d}/w/localhost\n\
         {root}{user}\n[targets]\nvm\n\n[vmusers]\nvmuser\n\n{extra}\n",
        py = venv_python.display(),
        d = dir.display(),
        root = host_line("vm", "root", &vm.root_key()),
        user = host_line("vmuser", vm.user(), &vm.user_key()),
        extra = case.inventory_extra,
    );
    (inventory, vec!["localhost"])
}

/// Runs `cmd` with its output collected, killing it (the process we started, by its handle)
/// after `limit`. Returns the exit code (`None` when killed or signalled), stdout and stderr.
fn run_bounded(
    mut cmd: Command,
    limit: Duration,
) -> std::io::Result<(Option<i32>, String, String)> {
    // Its own process group, so that a kill also reaches its workers (ansible's forks, ssh),
    // which hold the output pipes open.
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    // Readers on threads: a full pipe must never block the child while we wait.
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            // SAFETY: kill(2) on the process group of the child we spawned (pgid = its pid).
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok((status.and_then(|s| s.code()), stdout, stderr))
}

/// The PLAY RECAP lines of ansible-playbook's (and hook-runner's) console output.
pub fn parse_recap(stdout: &str) -> BTreeMap<String, String> {
    let mut recap = BTreeMap::new();
    let Some(start) = stdout.rfind("PLAY RECAP") else {
        return recap;
    };
    for line in stdout[start..].lines().skip(1) {
        let Some((host, counters)) = line.split_once(" : ") else {
            continue;
        };
        let counters: Vec<&str> = counters.split_whitespace().collect();
        if counters.first().is_some_and(|c| c.starts_with("ok=")) {
            recap.insert(host.trim().to_string(), counters.join(" "));
        }
    }
    recap
}

/// `<host>.json` files of a results dir (unreadable or invalid JSON is kept as a string so the
/// diff shows it).
fn read_results(dir: &Path) -> BTreeMap<String, Value> {
    let mut results = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return results;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(host) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let text = fs::read_to_string(&path).unwrap_or_default();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| Value::String(format!("invalid JSON ({e}): {text}")));
        results.insert(host.to_string(), value);
    }
    results
}

/// Everything that differs, one line per difference; empty when the runs agree.
pub fn compare(case: &Case, ansible: &Run, hr: &Run) -> String {
    let mut report = String::new();
    if ansible.exit_code != hr.exit_code {
        let _ = writeln!(
            report,
            "exit code: ansible {} / hook-runner {}",
            ansible.exit_code, hr.exit_code
        );
    }
    report.push_str(&diff_maps(
        "recap",
        &ansible
            .recap
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        &hr.recap
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ));
    if ansible.recap.is_empty() {
        let _ = writeln!(report, "ansible printed no PLAY RECAP:\n{}", ansible.stdout);
    }
    let ignored: Vec<&str> = VOLATILE_KEYS
        .iter()
        .copied()
        .chain(case.ignored_keys.iter().map(String::as_str))
        .collect();
    // A host that only one tool dumped results for is one line, not one per value.
    for host in ansible.results.keys().chain(hr.results.keys()) {
        let (in_a, in_b) = (
            ansible.results.contains_key(host),
            hr.results.contains_key(host),
        );
        if in_a != in_b {
            let who = if in_a { "hook-runner" } else { "ansible" };
            let _ = writeln!(
                report,
                "results {host}: {who} dumped no results for this host"
            );
        }
    }
    let flatten_all = |results: &BTreeMap<String, Value>, other: &BTreeMap<String, Value>| {
        let mut lines = BTreeMap::new();
        for (host, value) in results.iter().filter(|(h, _)| other.contains_key(*h)) {
            let value = match &case.status_keys {
                Some(keys) => mask_status_values(value, keys),
                None => value.clone(),
            };
            flatten(&normalize(&value, &ignored), host, &mut lines);
        }
        lines
    };
    report.push_str(&diff_maps(
        "results",
        &flatten_all(&ansible.results, &hr.results),
        &flatten_all(&hr.results, &ansible.results),
    ));
    report
}

/// Lines `<what> <key>: ansible <a> / hook-runner <b>` for every key whose values differ.
fn diff_maps(
    what: &str,
    ansible: &BTreeMap<String, String>,
    hr: &BTreeMap<String, String>,
) -> String {
    let mut report = String::new();
    let keys: std::collections::BTreeSet<&String> = ansible.keys().chain(hr.keys()).collect();
    for key in keys {
        let a = ansible.get(key);
        let b = hr.get(key);
        if a != b {
            let show = |v: Option<&String>| v.map_or("(absent)".to_string(), |s| s.to_string());
            let _ = writeln!(
                report,
                "{what} {key}:\n    ansible:     {}\n    hook-runner: {}",
                show(a),
                show(b)
            );
        }
    }
    report
}

/// In every object under a `status` key, at any depth, masks the values of all keys but `keys`.
pub fn mask_status_values(value: &Value, keys: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match v {
                    Value::Object(status) if k == "status" => (
                        k.clone(),
                        Value::Object(
                            status
                                .iter()
                                .map(|(key, v)| match keys.contains(key) {
                                    true => (key.clone(), v.clone()),
                                    false => (key.clone(), Value::String(MASK.into())),
                                })
                                .collect(),
                        ),
                    ),
                    _ => (k.clone(), mask_status_values(v, keys)),
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| mask_status_values(v, keys)).collect())
        }
        other => other.clone(),
    }
}

/// Drops `ignored` and `_ansible_*` keys at any depth and masks temp paths and backup
/// timestamps (they differ between any two runs).
pub fn normalize(value: &Value, ignored: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with("_ansible_") && !ignored.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), normalize_entry(k, v, ignored)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| normalize(v, ignored)).collect()),
        other => other.clone(),
    }
}

fn normalize_entry(key: &str, value: &Value, ignored: &[&str]) -> Value {
    match (key, value) {
        // copy's `src` is the uploaded temp file when the source was `content`.
        ("src", Value::String(s)) if is_temp_path(s) => Value::String(MASK.into()),
        // `<dest>.<pid>.<YYYY-MM-DD@HH:MM:SS>~`: keep the shape, mask pid and time.
        ("backup_file", Value::String(s)) => Value::String(mask_backup_suffix(s)),
        _ => normalize(value, ignored),
    }
}

fn is_temp_path(s: &str) -> bool {
    s.contains("/.ansible/tmp/") || s.contains("ansible-tmp-") || s.contains("/.hook-runner")
}

fn mask_backup_suffix(path: &str) -> String {
    let re =
        regex::Regex::new(r"\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~$").expect("static regex");
    re.replace(path, format!(".{MASK}~")).into_owned()
}

/// One line per scalar (or empty container): `host.var.key[0].key` -> JSON text.
fn flatten(value: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(v, &format!("{prefix}.{k}"), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, &format!("{prefix}[{i}]"), out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_hanging_run_is_killed_with_its_children() {
        let started = Instant::now();
        let mut cmd = Command::new("sh");
        // The background sleep keeps stdout open: only a group kill lets the readers finish.
        cmd.args(["-c", "echo started; sleep 30 & sleep 30"]);
        let (code, stdout, _) = run_bounded(cmd, Duration::from_millis(300)).unwrap();
        assert_eq!(code, None);
        assert_eq!(stdout, "started\n");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn recap_lines_are_parsed_per_host() {
        let out = "PLAY RECAP *****\nlocalhost                  : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   \nsshhost : ok=1 changed=0 unreachable=1 failed=0 skipped=0 rescued=0 ignored=0\n\n";
        let recap = parse_recap(out);
        assert_eq!(
            recap["localhost"],
            "ok=2 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0"
        );
        assert!(recap["sshhost"].contains("unreachable=1"));
    }

    #[test]
    fn normalize_drops_volatile_keys_and_masks_temp_paths() {
        let v = json!({"r": {"rc": 0, "start": "x", "_ansible_no_log": false,
            "src": "/root/.ansible/tmp/ansible-tmp-1/source",
            "backup_file": "/w/f.1234.2026-11-25@22:10:01~",
            "results": [{"delta": "0:00", "changed": true}]}});
        let n = normalize(&v, VOLATILE_KEYS);
        assert_eq!(
            n,
            json!({"r": {"rc": 0, "src": MASK, "backup_file": "/w/f.<masked>~",
                "results": [{"changed": true}]}})
        );
    }

    #[test]
    fn status_objects_keep_only_the_named_values() {
        let v = json!({"r": {"status": {"ActiveState": "active", "MainPID": "12"},
            "results": [{"status": {"LoadState": "loaded", "InvocationID": "x"}}],
            "state": "started"}});
        let keys = vec!["ActiveState".to_string(), "LoadState".to_string()];
        assert_eq!(
            mask_status_values(&v, &keys),
            json!({"r": {"status": {"ActiveState": "active", "MainPID": MASK},
                "results": [{"status": {"LoadState": "loaded", "InvocationID": MASK}}],
                "state": "started"}})
        );
    }

    #[test]
    fn diff_names_each_differing_value() {
        let mut a = BTreeMap::new();
        let mut b = BTreeMap::new();
        flatten(&json!({"r": {"rc": 0, "stdout": "x"}}), "h", &mut a);
        flatten(&json!({"r": {"rc": 1}}), "h", &mut b);
        let d = diff_maps("results", &a, &b);
        assert!(
            d.contains("h.r.rc:\n    ansible:     0\n    hook-runner: 1"),
            "{d}"
        );
        assert!(
            d.contains("h.r.stdout:\n    ansible:     \"x\"\n    hook-runner: (absent)"),
            "{d}"
        );
    }
}
