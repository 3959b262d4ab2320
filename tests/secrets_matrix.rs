//! Secrets under every output: one matrix over the modules that can carry a
//! secret, `no_log` or not, every verbosity, human and JSON output, success and failure
//! (failures whose message would echo the value included). Every place a run leaves text is
//! searched for the secret bytes and their base64 form: stdout, stderr, the JSON events, the
//! artifacts (ansible-runner's private data dir), the termination message and, for the runs in
//! the simulated pod, the Events posted on the pod. Zero hits.
//!
//! What is a secret here (Ansible's semantics, plus hook-runner's promise about Secrets):
//! - the `data` of a Kubernetes Secret read with `k8s_info` (decoded or base64), whether the
//!   reading task has `no_log` or not, and whether the value is printed later by a task without
//!   `no_log` (hook-runner masks Secret data everywhere: a VM's private key must never reach a
//!   pod log); the read Secret holds the lab sshd's private key (used to reach the host, as the
//!   MTV hook does) and a password; another Secret is only ever seen through a list query;
//! - a plain variable used only in `no_log` tasks (Ansible hides those tasks' results and
//!   arguments): checked in the variant where every task that uses it has `no_log`.
//!
//! The modules: `k8s_info` (get and list), `set_fact`, `debug` (msg, var, and a loop whose
//! items are the values: `(item=...)` labels), `copy` (content, with `--diff`), `command` and
//! `shell` (arguments and `environment`; `until` retries), `template`, `add_host` (host
//! variables), and `fail` and `assert` for messages. Failures: `copy` and `template` to a path naming the value,
//! `command` of a missing program named by the value, `shell` echoing it to stderr and
//! exiting 3, `set_fact` with the value as a variable name, `debug` with `failed_when`,
//! `k8s_info` of a Secret named by the value (a 403 quoting the name), `fail` and `assert`
//! messages quoting it.
//!
//! Variants of `no_log`: none; on the tasks that read the Secret only (`k8s_info`, `set_fact`,
//! the key `copy`), the consumers printing the value freely; on every task.
//!
//! Runs outside the pod: the real binary in ansible-runner form (artifacts), `-v` x 0..=4,
//! human and `--json`, `--diff`, for each variant, on success and on failure (every failing
//! task with `ignore_errors`, then a real failure). In the pod (Events, the pod's termination
//! message): one run per failing module and variant at `-vvvv --json`, and a successful run.

#[path = "support/e2e.rs"]
mod common;
#[path = "support/data.rs"]
mod data;
#[path = "support/process.rs"]
mod process;
#[path = "support/reliability.rs"]
mod run;

use base64::Engine as _;
use lab::kube_api::{service_account, KubeApi, Rule};
use lab::SshHost;
use std::path::Path;
use std::time::Duration;

/// The namespace of the Secrets and of the pod (the e2e pod layout's service account).
const NS: &str = common::NS;
/// The password stored in the Secret `creds` (key `password`).
const PASSWORD: &str = "hunter2-Pa55w0rd-XYZZY";
/// The value of the Secret `other`, seen only through a list query.
const OTHER: &str = "other-secret-VALUE-424242";
/// A plain variable used only in `no_log` tasks in the `Everywhere` variant.
const NOLOG_VALUE: &str = "nolog-TOKEN-8675309";
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoLog {
    Nowhere,
    /// On the tasks that read the Secret and derive the value; not on the consumers.
    SourceOnly,
    Everywhere,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    /// Every failing task with `ignore_errors`, then `fail`.
    AllFailures,
    /// Only this failing task (the run ends there).
    Failure(Failing),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failing {
    Copy,
    Command,
    Shell,
    SetFact,
    Debug,
    Template,
    K8sInfo,
    Fail,
    Assert,
    /// A `fail` message that the run's summary shortens in the middle of the password.
    LongPassword,
    /// The same in the middle of a line of the private key.
    LongKey,
}

const ALL_FAILING: [Failing; 11] = [
    Failing::Copy,
    Failing::Command,
    Failing::Shell,
    Failing::SetFact,
    Failing::Debug,
    Failing::Template,
    Failing::K8sInfo,
    Failing::Fail,
    Failing::Assert,
    Failing::LongPassword,
    Failing::LongKey,
];

/// The `no_log` line for a task of `role` under `variant`.
fn no_log(variant: NoLog, source: bool) -> &'static str {
    let on = match variant {
        NoLog::Nowhere => false,
        NoLog::SourceOnly => source,
        NoLog::Everywhere => true,
    };
    if on {
        "    no_log: true\n"
    } else {
        ""
    }
}

/// Play 1 (localhost): read the Secret (get and list), derive the values, write the key, add
/// the host. `template_src` is where the template file is for this run.
fn source_play(variant: NoLog, sshd_port: u16) -> String {
    let src = |task: &str| format!("{task}{}", no_log(variant, true));
    let tasks = [
        src("  - name: Read the Secret\n    k8s_info:\n      api_version: v1\n      kind: Secret\n      name: creds\n      namespace: matrix\n    register: creds\n"),
        src("  - name: List the Secrets\n    k8s_info:\n      kind: Secret\n      namespace: matrix\n    register: all_secrets\n"),
        src("  - name: Derive the values\n    set_fact:\n      password: \"{{ creds.resources[0].data.password | b64decode }}\"\n      other: \"{% for s in all_secrets.resources %}{% if s.metadata.name == 'other' %}{{ s.data.value | b64decode }}{% endif %}{% endfor %}\"\n"),
        src("  - name: Write the key\n    copy:\n      dest: ~/.ssh/id_matrix\n      content: \"{{ creds.resources[0].data.key | b64decode }}\"\n      mode: \"0600\"\n"),
        format!("  - name: Add the host\n    add_host:\n      name: vm\n      ansible_host: 127.0.0.1\n      ansible_port: {sshd_port}\n      ansible_user: hrtest\n      ansible_ssh_private_key_file: ~/.ssh/id_matrix\n      ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null\n      password: \"{{{{ password }}}}\"\n      other: \"{{{{ other }}}}\"\n"),
        "  - name: Make the key dir\n    file:\n      path: ~/.ssh\n      state: directory\n      mode: \"0700\"\n".to_string(),
    ];
    // The key dir must exist before the key is written.
    let ordered = [
        &tasks[0], &tasks[1], &tasks[2], &tasks[5], &tasks[3], &tasks[4],
    ];
    let mut play = "- name: Read the Secret\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
        .to_string();
    for task in ordered {
        play.push_str(task);
    }
    play
}

/// The consumers (play 2, on the VM), all succeeding.
fn success_tasks(variant: NoLog, template_src: &str) -> String {
    let nl = no_log(variant, false);
    format!(
        r#"  - name: Copy the values
    copy:
      content: "{{{{ password }}}} {{{{ other }}}} {{{{ nolog_value }}}}\n"
      dest: "~/matrix-{{{{ run_id }}}}.txt"
      mode: "0600"
{nl}  - name: Command with the values in argv and environment
    command: "printf '%s %s %s %s' {{{{ password }}}} {{{{ nolog_value }}}} $MATRIX_SECRET {{{{ other }}}}"
    environment:
      MATRIX_SECRET: "{{{{ password }}}}"
{nl}  - name: Shell with the values
    shell: 'echo "$MATRIX_SECRET" {{{{ nolog_value }}}} {{{{ other }}}}; env | grep MATRIX_'
    environment:
      MATRIX_SECRET: "{{{{ password }}}}"
      MATRIX_NOLOG: "{{{{ nolog_value }}}}"
{nl}  - name: Set a fact from the values
    set_fact:
      derived: "{{{{ password }}}}/{{{{ nolog_value }}}}/{{{{ other }}}}"
{nl}  - name: Debug a message
    debug:
      msg: "{{{{ derived }}}} {{{{ password }}}}"
{nl}  - name: Debug a variable
    debug:
      var: derived
{nl}  - name: Loop over the values
    debug:
      msg: "{{{{ item }}}}"
    loop:
      - "{{{{ password }}}}"
      - "{{{{ nolog_value }}}}"
      - "{{{{ other }}}}"
{nl}  - name: Retry with the values
    shell: 'n=$(cat ~/tries-{{{{ run_id }}}} 2>/dev/null || echo 0); echo $((n + 1)) > ~/tries-{{{{ run_id }}}}; echo {{{{ password }}}} {{{{ nolog_value }}}} $n'
    register: retried
    until: retried.stdout is search(' [1-9]$')
    retries: 3
    delay: 0
{nl}  - name: Template the values
    template:
      src: "{template_src}"
      dest: "~/matrix-{{{{ run_id }}}}.conf"
{nl}"#
    )
}

/// One failing task; `ignore` adds `ignore_errors`.
fn failing_task(which: Failing, variant: NoLog, ignore: bool, template_src: &str) -> String {
    let body = match which {
        Failing::Copy => "  - name: Failing copy\n    copy:\n      content: \"{{ password }} {{ nolog_value }}\"\n      dest: \"/nonexistent-{{ password }}-{{ nolog_value }}/x\"\n".to_string(),
        Failing::Command => "  - name: Failing command\n    command: \"/nonexistent/{{ password }} {{ nolog_value }}\"\n    environment:\n      MATRIX_SECRET: \"{{ password }}\"\n".to_string(),
        Failing::Shell => "  - name: Failing shell\n    shell: \"echo {{ password }} {{ nolog_value }} $MATRIX_SECRET >&2; exit 3\"\n    environment:\n      MATRIX_SECRET: \"{{ other }}\"\n".to_string(),
        Failing::SetFact => "  - name: Failing set_fact\n    set_fact:\n      \"{{ password }}-{{ nolog_value }}\": 1\n".to_string(),
        Failing::Debug => "  - name: Failing debug\n    debug:\n      msg: \"{{ password }} {{ nolog_value }}\"\n    failed_when: true\n".to_string(),
        Failing::Template => format!("  - name: Failing template\n    template:\n      src: \"{template_src}\"\n      dest: \"/nonexistent-{{{{ password }}}}-{{{{ nolog_value }}}}/x\"\n"),
        Failing::K8sInfo => "  - name: Failing k8s_info\n    k8s_info:\n      kind: Secret\n      name: \"{{ password }}\"\n      namespace: matrix\n".to_string(),
        Failing::Fail => "  - name: Failing fail\n    fail:\n      msg: \"bad {{ password }} {{ other }} {{ nolog_value }}\"\n".to_string(),
        Failing::Assert => "  - name: Failing assert\n    assert:\n      that: password == 'x'\n      fail_msg: \"bad {{ password }} {{ nolog_value }}\"\n".to_string(),
        // The summary keeps 1,000 characters: these cut 10 characters into the password, and
        // 20 into the key's second line (after the header, " | ", its first line, " | ").
        Failing::LongPassword => "  - name: Failing long message\n    fail:\n      msg: \"{{ 'x' * 990 }}{{ password }} {{ nolog_value }}\"\n".to_string(),
        Failing::LongKey => "  - name: Failing long key message\n    fail:\n      msg: \"{{ 'x' * 869 }}{{ hostvars['localhost'].creds.resources[0].data.key | b64decode }}\"\n".to_string(),
    };
    let ignore = if ignore {
        "    ignore_errors: true\n"
    } else {
        ""
    };
    format!("{body}{ignore}{}", no_log(variant, false))
}

/// The whole playbook of a run.
fn playbook(variant: NoLog, outcome: Outcome, sshd_port: u16, template_src: &str) -> String {
    let mut text = source_play(variant, sshd_port);
    text.push_str(&format!(
        "- name: Use the values\n  hosts: vm\n  gather_facts: false\n  vars:\n    nolog_value: {NOLOG_VALUE}\n  tasks:\n"
    ));
    match outcome {
        Outcome::Success => text.push_str(&success_tasks(variant, template_src)),
        Outcome::AllFailures => {
            for which in ALL_FAILING {
                text.push_str(&failing_task(which, variant, true, template_src));
            }
            text.push_str(&failing_task(Failing::Fail, variant, false, template_src));
        }
        Outcome::Failure(which) => {
            text.push_str(&failing_task(which, variant, false, template_src));
        }
    }
    text.replace("namespace: matrix", &format!("namespace: {NS}"))
}

const TEMPLATE: &str = "password={{ password }}\nother={{ other }}\nnolog={{ nolog_value }}\n";

/// The byte strings that must not appear, and what each is (for the failure message).
fn needles(key: &[u8], variant: NoLog) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut add = |what: &str, secret: &[u8]| {
        for (i, n) in secret_forms(secret).into_iter().enumerate() {
            out.push((format!("{what} (form {i})"), n));
        }
    };
    add("the password", PASSWORD.as_bytes());
    add("the listed Secret's value", OTHER.as_bytes());
    add("the private key", key);
    let mut starts = vec![
        ("the password", PASSWORD.as_bytes()),
        ("the listed Secret's value", OTHER.as_bytes()),
    ];
    if variant == NoLog::Everywhere {
        add("the no_log value", NOLOG_VALUE.as_bytes());
        starts.push(("the no_log value", NOLOG_VALUE.as_bytes()));
    }
    // A text shortened before it is redacted keeps the start of a value.
    for (what, value) in starts {
        out.push((format!("the start of {what}"), value[..10].to_vec()));
    }
    // The key's body lines after the first (the first encodes the public header).
    for line in key
        .split(|b| *b == b'\n')
        .filter(|l| l.len() >= 16 && !l.starts_with(b"-----"))
        .skip(1)
    {
        out.push(("the start of a line of the key".into(), line[..12].to_vec()));
    }
    out
}

/// The raw value (or each line of at least 16 bytes for a multi-line value) and its base64
/// form at each of the three byte alignments (the part of the encoding that depends on the
/// value's bytes only), so a secret encoded inside a longer text is found too.
fn secret_forms(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut forms: Vec<Vec<u8>> = Vec::new();
    if secret.contains(&b'\n') {
        forms.extend(
            secret
                .split(|b| *b == b'\n')
                .filter(|l| l.len() >= 16 && !l.starts_with(b"-----"))
                .map(<[u8]>::to_vec),
        );
    } else {
        forms.push(secret.to_vec());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    for shift in 0..3usize {
        let mut shifted = vec![b'\0'; shift];
        shifted.extend_from_slice(secret);
        let encoded = b64.encode(&shifted);
        // Skip the first group when it holds prefix bytes, and the last group always.
        let start = if shift == 0 { 0 } else { 4 };
        let end = encoded.len().saturating_sub(4);
        if end > start + 12 {
            forms.push(encoded.as_bytes()[start..end].to_vec());
        }
    }
    forms
}

/// Everything a run left to read, by name.
struct Outputs {
    texts: Vec<(String, Vec<u8>)>,
}

impl Outputs {
    fn new() -> Outputs {
        Outputs { texts: Vec::new() }
    }

    fn text(&mut self, name: &str, bytes: impl Into<Vec<u8>>) {
        self.texts.push((name.to_string(), bytes.into()));
    }

    /// Every file under `dir`.
    fn dir(&mut self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                self.dir(&path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                self.text(&path.display().to_string(), bytes);
            }
        }
    }

    /// The leaks: for each needle found, where (the first few outputs and how many).
    fn leaks(&self, needles: &[(String, Vec<u8>)]) -> Vec<String> {
        let mut leaks = Vec::new();
        for (what, needle) in needles {
            let places: Vec<&str> = self
                .texts
                .iter()
                .filter(|(_, text)| common::contains(text, needle))
                .map(|(name, _)| name.as_str())
                .collect();
            if !places.is_empty() {
                let shown: Vec<&str> = places.iter().take(3).copied().collect();
                leaks.push(format!(
                    "{what} is in {} output(s): {}",
                    places.len(),
                    shown.join(", ")
                ));
            }
        }
        leaks
    }
}

/// The lab: an API server with the Secrets and an sshd whose key is in the Secret.
struct Lab {
    api: KubeApi,
    sshd: SshHost,
    key: Vec<u8>,
    token: String,
}

impl Lab {
    fn start() -> Lab {
        let api = KubeApi::start();
        let sshd = SshHost::start_loopback().expect("lab sshd");
        let key = std::fs::read(sshd.key_path()).expect("the sshd user key");
        api.add_secret(
            NS,
            "creds",
            &[("key", &key), ("password", PASSWORD.as_bytes())],
        );
        api.add_secret(NS, "other", &[("value", OTHER.as_bytes())]);
        let token = api.token(
            &service_account(NS, "hook"),
            &[
                Rule::new(&["get"], &["secrets"])
                    .in_namespace(NS)
                    .named(&["creds"]),
                Rule::new(&["list"], &["secrets"]).in_namespace(NS),
                Rule::new(&["create"], &["events"]).in_namespace(NS),
            ],
        );
        Lab {
            api,
            sshd,
            key,
            token,
        }
    }
}

/// The files the runs wrote on the host (named after this process) hold the values: removed.
impl Drop for Lab {
    fn drop(&mut self) {
        let pid = std::process::id();
        let _ = self.sshd.ssh_command(&format!(
            "rm -f ~/matrix-*-{pid}.txt ~/matrix-*-{pid}.conf ~/tries-*-{pid}"
        ));
    }
}

/// The exit code a run must end with.
fn expected_code(outcome: Outcome) -> i32 {
    match outcome {
        Outcome::Success => 0,
        _ => 2,
    }
}

/// Runs the binary outside the pod for `variant` x `outcome` at every verbosity, human and
/// JSON, and returns the leaks found.
fn host_runs(lab: &Lab, variant: NoLog, outcome: Outcome) -> Vec<String> {
    let hook = run::Hook::new("");
    let template = hook.path("secret.j2");
    std::fs::write(&template, TEMPLATE).expect("template");
    std::fs::write(
        hook.path("playbook.yml"),
        playbook(variant, outcome, lab.sshd.port(), &template),
    )
    .expect("playbook");
    let kubeconfig = hook.path("kubeconfig");
    lab.api
        .write_kubeconfig(Path::new(&kubeconfig), &lab.token)
        .expect("kubeconfig");
    let needles = needles(&lab.key, variant);
    let mut leaks = Vec::new();
    for verbosity in 0..=4 {
        for json in [false, true] {
            let case = format!("{variant:?}/{outcome:?} -v x {verbosity}, json {json}");
            let private = hook.dir.path().join(format!("runner-{verbosity}-{json}"));
            let private_s = private.display().to_string();
            let playbook = hook.path("playbook.yml");
            let run_id = format!("{variant:?}-{verbosity}-{json}-{}", std::process::id());
            let extra = format!("run_id={run_id}");
            let mut args = vec![
                "ansible-runner",
                "run",
                private_s.as_str(),
                "-p",
                playbook.as_str(),
                "--kubeconfig",
                kubeconfig.as_str(),
                "--diff",
                "-e",
                extra.as_str(),
            ];
            let v = format!("-{}", "v".repeat(verbosity));
            if verbosity > 0 {
                args.push(&v);
            }
            if json {
                args.push("--json");
            }
            let termination = hook.home().join("termination-log");
            let _ = std::fs::remove_file(&termination);
            let out = run::hook_runner(
                &args,
                &[("ANSIBLE_HOST_KEY_CHECKING", "False")],
                &hook.home(),
                RUN_TIMEOUT,
            );
            assert_eq!(
                out.code,
                Some(expected_code(outcome)),
                "{case}: unexpected exit: {}",
                out.tail(60)
            );
            assert_ran_the_matrix(&out.stdout, outcome, &case);
            // MATRIX_SHOW=V prints the human output at -v x V, to see what the matrix sees.
            if !json && std::env::var("MATRIX_SHOW").ok() == Some(verbosity.to_string()) {
                eprintln!("--- {case}\n{}\n--- stderr\n{}", out.stdout, out.stderr);
            }
            let mut outputs = Outputs::new();
            outputs.text("stdout", out.stdout.clone());
            outputs.text("stderr", out.stderr.clone());
            outputs.text(
                "the termination message",
                std::fs::read(&termination).unwrap_or_default(),
            );
            outputs.dir(&private);
            leaks.extend(
                outputs
                    .leaks(&needles)
                    .into_iter()
                    .map(|l| format!("{case}: {l}")),
            );
        }
    }
    leaks
}

/// A run that stopped early (before the failing tasks) would prove nothing.
fn assert_ran_the_matrix(stdout: &str, outcome: Outcome, case: &str) {
    let last_task = match outcome {
        Outcome::Success => "Template the values",
        Outcome::AllFailures => "Failing fail",
        Outcome::Failure(which) => match which {
            Failing::Copy => "Failing copy",
            Failing::Command => "Failing command",
            Failing::Shell => "Failing shell",
            Failing::SetFact => "Failing set_fact",
            Failing::Debug => "Failing debug",
            Failing::Template => "Failing template",
            Failing::K8sInfo => "Failing k8s_info",
            Failing::Fail => "Failing fail",
            Failing::Assert => "Failing assert",
            Failing::LongPassword => "Failing long message",
            Failing::LongKey => "Failing long key message",
        },
    };
    assert!(
        stdout.contains(last_task),
        "{case}: the run never reached {last_task:?}:\n{}",
        common::last_lines(stdout, 40)
    );
}

fn host_matrix(test: &str, variant: NoLog, outcome: Outcome) {
    if !lab::require_root(test) {
        return;
    }
    let lab = Lab::start();
    let started = std::time::Instant::now();
    let leaks = host_runs(&lab, variant, outcome);
    assert_no_leaks(test, "10 runs", started, &leaks);
}

/// Prints how long the `runs` of a matrix took, then fails with every leak found.
fn assert_no_leaks(test: &str, runs: &str, started: std::time::Instant, leaks: &[String]) {
    eprintln!("{test}: {runs} in {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n- {}",
        leaks.len(),
        leaks.join("\n- ")
    );
}

#[test]
fn secrets_matrix_success_without_no_log() {
    host_matrix(
        "secrets_matrix_success_without_no_log",
        NoLog::Nowhere,
        Outcome::Success,
    );
}

#[test]
fn secrets_matrix_success_no_log_on_the_source_only() {
    host_matrix(
        "secrets_matrix_success_no_log_on_the_source_only",
        NoLog::SourceOnly,
        Outcome::Success,
    );
}

#[test]
fn secrets_matrix_success_no_log_everywhere() {
    host_matrix(
        "secrets_matrix_success_no_log_everywhere",
        NoLog::Everywhere,
        Outcome::Success,
    );
}

#[test]
fn secrets_matrix_failures_without_no_log() {
    host_matrix(
        "secrets_matrix_failures_without_no_log",
        NoLog::Nowhere,
        Outcome::AllFailures,
    );
}

#[test]
fn secrets_matrix_failures_no_log_on_the_source_only() {
    host_matrix(
        "secrets_matrix_failures_no_log_on_the_source_only",
        NoLog::SourceOnly,
        Outcome::AllFailures,
    );
}

#[test]
fn secrets_matrix_failures_no_log_everywhere() {
    host_matrix(
        "secrets_matrix_failures_no_log_everywhere",
        NoLog::Everywhere,
        Outcome::AllFailures,
    );
}

/// The pod runs: Events and the pod's termination message, one run per failing module and a
/// successful run, at `-vvvv --json` (the most output) in Forklift's argv.
fn pod_matrix(test: &str, variant: NoLog) {
    let mut commands: Vec<&str> = common::POD_COMMANDS.to_vec();
    commands.retain(|c| *c != "getent");
    if !(lab::require_root_and(test, &commands)
        && lab::require(
            Path::new(common::NSS_WRAPPER).exists(),
            test,
            "libnss-wrapper (Debian package)",
        ))
    {
        return;
    }
    let lab = Lab::start();
    let needles = needles(&lab.key, variant);
    let mut leaks = Vec::new();
    let mut outcomes = vec![Outcome::Success];
    outcomes.extend(ALL_FAILING.iter().map(|f| Outcome::Failure(*f)));
    let started = std::time::Instant::now();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        let case = format!("pod {variant:?}/{outcome:?}");
        let book = playbook(variant, outcome, lab.sshd.port(), "/home/runner/secret.j2");
        let image = common::HookPod::new(
            &book,
            &common::workload_with_ip("127.0.0.1"),
            &lab.api,
            &lab.token,
        );
        std::fs::write(image.path("home/runner/secret.j2"), TEMPLATE).expect("template");
        common::chmod(&image.path("home/runner/secret.j2"), 0o644);
        let events_before = lab.api.events().len();
        let mut argv: Vec<&str> = common::FORKLIFT_ARGV.to_vec();
        let run_id = format!("run_id=pod-{variant:?}-{index}-{}", std::process::id());
        argv.extend(["-vvvv", "--json", "-e", &run_id]);
        let out = image
            .pod(&lab.api)
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .run(&argv)
            .unwrap_or_else(|e| panic!("{case}: pod: {e:#}"));
        assert_eq!(
            out.code(),
            Some(expected_code(outcome)),
            "{case}: unexpected exit\n{}\n{}",
            common::last_lines(&out.stdout, 40),
            common::last_lines(&out.stderr, 40)
        );
        assert_ran_the_matrix(&out.stdout, outcome, &case);
        let events = lab.api.events();
        assert!(
            events.len() > events_before,
            "{case}: no Event was posted on the pod"
        );
        if variant == NoLog::Nowhere && outcome == Outcome::Failure(Failing::Fail) {
            // The failure's message reaches the Event and the termination message, masked:
            // the places searched do carry the text that would leak.
            let posted: String = events[events_before..]
                .iter()
                .map(|e| e.to_string())
                .collect();
            for (place, text) in [
                ("Event", posted.as_str()),
                ("termination message", out.termination_message.as_str()),
            ] {
                assert!(
                    text.contains("bad ********"),
                    "{case}: the {place} lacks the masked message: {text}"
                );
            }
        }
        let mut outputs = Outputs::new();
        outputs.text("stdout", out.stdout.clone());
        outputs.text("stderr", out.stderr.clone());
        outputs.text("the termination message", out.termination_message.clone());
        for event in &events[events_before..] {
            outputs.text("a posted Event", event.to_string());
        }
        outputs.dir(&image.path("tmp/runner"));
        leaks.extend(
            outputs
                .leaks(&needles)
                .into_iter()
                .map(|l| format!("{case}: {l}")),
        );
    }
    assert_no_leaks(test, "10 pod runs", started, &leaks);
}

#[test]
fn secrets_matrix_in_the_pod_without_no_log() {
    pod_matrix("secrets_matrix_in_the_pod_without_no_log", NoLog::Nowhere);
}

#[test]
fn secrets_matrix_in_the_pod_no_log_everywhere() {
    pod_matrix(
        "secrets_matrix_in_the_pod_no_log_everywhere",
        NoLog::Everywhere,
    );
}

#[test]
fn secret_forms_find_a_value_encoded_inside_a_longer_text() {
    let b64 = base64::engine::general_purpose::STANDARD;
    for prefix in ["", "a", "ab", "abc"] {
        let encoded = b64.encode(format!("{prefix}{PASSWORD} and more"));
        assert!(
            secret_forms(PASSWORD.as_bytes())
                .iter()
                .any(|f| common::contains(encoded.as_bytes(), f)),
            "prefix {prefix:?}"
        );
    }
}

/// The leak the matrix found: a Secret read by a `no_log` task was never registered with the
/// redactor (the censored result hid it from the reporters that register Secrets), so a later
/// task printed its value. Secrets are now registered where they are read, list items too.
#[tokio::test]
async fn secrets_read_by_the_api_client_are_masked_at_once() {
    use hook_runner::kube::{ApiCluster, Cluster, InfoQuery};
    use hook_runner::report::redact;
    const LISTED: &str = "listed-only-secret-value-7781";
    let api = KubeApi::start();
    api.add_secret("reader", "listed", &[("value", LISTED.as_bytes())]);
    let token = api.token(
        &service_account("reader", "hook"),
        &[Rule::new(&["list"], &["secrets"]).in_namespace("reader")],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    api.write_service_account_dir(dir.path(), &token, "reader")
        .expect("service account");
    let cluster = ApiCluster::from_service_account(&api.url(), dir.path()).expect("client");
    assert_eq!(
        redact::global().redact(LISTED),
        LISTED,
        "not registered before the read"
    );
    let query = InfoQuery {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some("reader".into()),
        ..Default::default()
    };
    let answer = cluster.info(&query).await.expect("list");
    assert_eq!(answer.resources.len(), 1);
    assert_eq!(
        redact::global().redact(&format!("x {LISTED} y")),
        "x ******** y"
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(LISTED);
    assert_eq!(redact::global().redact(&encoded), "********");
}
