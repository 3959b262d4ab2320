//! End to end: how hooks fail, through the hook-runner binary: bad input of
//! every kind, and a failing hook as Forklift sees it.
//!
//! - A task that fails on the VM (in the simulated pod, key from the test API server): exit 2,
//!   the last 15 lines of the pod log name the task, host, message and `playbook.yml:LINE`,
//!   artifacts `status` is `failed`; a `HookFailed` Event naming the task is posted (one POST,
//!   201) when the token may create events, and when it may not the POST is denied (403) and
//!   that is no failure (same exit, nothing about it in the log).
//! - An unreachable VM (its sshd stopped): retried with warnings for the connect wait (5 s here),
//!   then `UNREACHABLE!` naming host, port and cause, exit 4.
//! - A 403 from the API: the message names the service account, verb and resource; exit 2.
//! - A YAML syntax error: `file:line:column`, exit 4, nothing run.
//! - An unknown module (`win_shell`, Ansible's wording) and an unknown parameter: nothing run.
//! - An undefined variable (`workload.vm.name`): the message names the variable and the task.
//! - Paths and service names with spaces, quotes, `$()`, `;` and newlines are data on the VM:
//!   the canary files those would create if run by a shell never appear.
//!
//! "Nothing run" is checked with a canary task placed before the bad one: a runner that
//! validates the playbook whole never runs it.

#[path = "e2e/common.rs"]
mod common;

use common::*;
use lab::kube_api::{service_account, KubeApi, Rule};
use lab::vm::Vm;
use std::path::Path;
use std::time::Duration;

/// Bound on one hook-runner run outside the pod.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Play 2: a task that fails on the VM, and one after it that must not run.
const FAILING_PLAY: &str = r#"
- name: Prepare the VM
  hosts: vms
  gather_facts: false
  tasks:
  - name: Stop MariaDB
    service:
      name: mariadb
      state: stopped
  - name: Stop a service that does not exist
    command: systemctl stop nonexistent-service-xyz
  - name: Never reached
    file:
      path: /tmp/never-reached
      state: touch
"#;

const FAILING_TASK: &str = "Stop a service that does not exist";

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the playbook"))
        + 1
}

/// The hook as a pod log shows it: stdout and stderr merged in order.
const MERGED_RUN: &str =
    "exec hook-runner ansible-runner run /tmp/runner -p /tmp/hook/playbook.yml 2>&1";

#[test]
fn e2e_failing_task_on_the_vm_names_task_host_message_and_line_and_posts_an_event() {
    let test = "e2e_failing_task_on_the_vm_names_task_host_message_and_line_and_posts_an_event";
    if !vm_and_pod_prerequisites(test) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let ip = vm.address().to_string();
    let api = KubeApi::start();
    let key = std::fs::read(vm.root_key()).unwrap();
    api.add_secret(NS, "privkey", &[("key", &key)]);
    let read_key = Rule::new(&["get"], &["secrets"])
        .in_namespace(NS)
        .named(&["privkey"]);
    let with_events = api.token(
        &service_account(NS, SA),
        &[
            read_key.clone(),
            Rule::new(&["create"], &["events"]).in_namespace(NS),
        ],
    );
    let playbook = format!("{KEY_PLAY}{FAILING_PLAY}");
    let task_line = line_of(&playbook, &format!("- name: {FAILING_TASK}"));
    let mut findings = Findings::default();

    // --- Allowed to create events.
    let image = HookPod::new(&playbook, &workload_with_ip(&ip), &api, &with_events);
    let out = image.run(&api, &[ENTRYPOINT, "sh", "-c", MERGED_RUN]);
    let context = format!("{out:#?}");
    findings.eq("exit code of a hook whose task fails", Some(2), out.code());
    let tail = last_lines(&out.stdout, 15);
    for (what, needle) in [
        ("the task name", FAILING_TASK.to_string()),
        ("the host", ip.clone()),
        ("the module's message", "non-zero return code".to_string()),
        (
            "the command's stderr (why it failed)",
            "nonexistent-service-xyz.service".to_string(),
        ),
        (
            "the playbook file:line",
            format!("playbook.yml:{task_line}"),
        ),
    ] {
        findings.check(tail.contains(&needle), || {
            format!("the last 15 lines of the log do not name {what} ({needle:?}):\n{tail}")
        });
    }
    findings.eq(
        "`Never reached` ran on the VM (/tmp/never-reached exists)",
        false,
        vm.exec("test -e /tmp/never-reached").status.success(),
    );
    let artifacts = image.artifacts();
    if let Some(summary) = check_outcome(
        &mut findings,
        &artifacts,
        &out.termination_message,
        "failed",
        2,
    ) {
        let failures = summary["failures"].to_string();
        findings.check(
            failures.contains(FAILING_TASK) && failures.contains(&ip),
            || {
                format!(
                    "the termination message's failures do not name the task and host: {failures}"
                )
            },
        );
    }
    let events = api.events();
    let failed_event = events.iter().find(|e| e["reason"] == "HookFailed");
    findings.check(failed_event.is_some(), || {
        format!(
            "no HookFailed Event posted although the token may create events; events: {events:#?}; event requests: {:#?}",
            api.requests()
                .into_iter()
                .filter(|r| r.path.contains("events"))
                .collect::<Vec<_>>()
        )
    });
    if let Some(event) = failed_event {
        findings.eq(
            "Event involvedObject (the pod: HOSTNAME)",
            (&serde_json::json!("Pod"), &serde_json::json!("hook-pod")),
            (
                &event["involvedObject"]["kind"],
                &event["involvedObject"]["name"],
            ),
        );
        findings.eq(
            "Event namespace (the service account's)",
            &serde_json::json!(NS),
            &event["metadata"]["namespace"],
        );
        let message = event["message"].as_str().unwrap_or_default();
        findings.check(message.contains(FAILING_TASK), || {
            format!("the Event's message does not name the task: {message:?}")
        });
        findings.eq("Event type", &serde_json::json!("Warning"), &event["type"]);
    }
    assert_no_secret(
        &secret_needles(&key),
        &[
            ("log", &out.stdout),
            ("termination message", &out.termination_message),
            ("events", &serde_json::to_string(&events).unwrap()),
        ],
        &[&image.path("tmp/runner")],
    );

    let events_path = format!("/api/v1/namespaces/{NS}/events");
    let posts: Vec<u16> = requests_to(&api, "POST", &events_path)
        .iter()
        .map(|r| r.status)
        .collect();
    findings.eq(
        "statuses of the Event POSTs when allowed (one, created)",
        vec![201],
        posts,
    );

    // --- Not allowed to create events: a debug line, not a failure.
    let without_events = api.token(&service_account(NS, SA), &[read_key]);
    let image2 = HookPod::new(&playbook, &workload_with_ip(&ip), &api, &without_events);
    let events_before = api.events().len();
    let posts_before = requests_to(&api, "POST", &events_path).len();
    let out2 = image2.run(&api, &[ENTRYPOINT, "sh", "-c", MERGED_RUN]);
    findings.eq(
        "exit code when Events are forbidden (must stay the hook's own)",
        Some(2),
        out2.code(),
    );
    let denied: Vec<u16> = requests_to(&api, "POST", &events_path)[posts_before..]
        .iter()
        .map(|r| r.status)
        .collect();
    findings.eq(
        "statuses of the Event POSTs when forbidden (the attempt was made and denied)",
        vec![403],
        denied,
    );
    findings.eq(
        "Events stored when the token may not create them",
        events_before,
        api.events().len(),
    );
    let tail2 = last_lines(&out2.stdout, 15);
    findings.check(tail2.contains(FAILING_TASK), || {
        format!("without event permission the last 15 lines lose the failure:\n{tail2}")
    });
    let lower = out2.stdout.to_lowercase();
    // "403" alone would match timestamps and deltas (`0:00:00.010403`): look for the status.
    let mentions_403 = lower.contains(" 403") || lower.contains("(403");
    findings.check(!lower.contains("forbidden") && !mentions_403, || {
        "the denied Event is reported in the log at default verbosity (must be a debug line only)"
            .to_string()
    });
    findings.eq(
        "artifacts status when Events are forbidden",
        "failed".to_string(),
        artifact(&image2.artifacts(), "status"),
    );
    findings.finish(&format!(
        "with events: {context}\nwithout events: {out2:#?}"
    ));
    vm.shutdown().expect("the VM tears down cleanly");
}

#[test]
fn e2e_unreachable_vm_is_unreachable_with_exit_4() {
    let test = "e2e_unreachable_vm_is_unreachable_with_exit_4";
    if !lab::require_root_and(test, lab::vm::HOST_COMMANDS) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let ip = vm.address().to_string();
    let work = tempfile::tempdir().unwrap();
    let playbook = work.path().join("playbook.yml");
    std::fs::write(
        &playbook,
        format!(
            r#"- name: Add the VM
  hosts: localhost
  gather_facts: false
  tasks:
  - add_host:
      name: "{ip}"
      ansible_user: root
      ansible_ssh_private_key_file: "{key}"
      groups: vms
- name: On the VM
  hosts: vms
  gather_facts: false
  tasks:
  - name: Say hello
    command: echo hello
"#,
            key = vm.root_key().display()
        ),
    )
    .unwrap();
    // sshd stops; the session that stops it survives it.
    vm.exec("systemctl stop ssh.socket ssh.service; systemctl stop ssh");
    assert!(
        !lab::util::port_open(vm.address(), 22, Duration::from_secs(2)),
        "sshd still answers on the VM"
    );
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let runner_dir = work.path().join("runner");
    // A host made by add_host is waited for (a VM still booting): 5 s here instead of 300.
    let run = hook_runner_with_env(
        &[
            "ansible-runner",
            "run",
            runner_dir.to_str().unwrap(),
            "-p",
            playbook.to_str().unwrap(),
        ],
        &home,
        RUN_TIMEOUT,
        &[("HOOK_RUNNER_CONNECT_WAIT", "5")],
    );
    let mut findings = Findings::default();
    findings.eq("exit code with an unreachable host", Some(4), run.code);
    findings.check(run.duration >= Duration::from_secs(5), || {
        format!(
            "the host was given up after {:?}, before the 5 s connect wait",
            run.duration
        )
    });
    let retries = run
        .stderr
        .lines()
        .filter(|l| l.contains(&format!("{ip}:22 does not answer SSH yet")))
        .collect::<Vec<_>>();
    findings.check(
        retries.len() >= 2 && retries.iter().all(|l| l.contains("giving up in")),
        || format!("no retry warnings with the remaining time on stderr: {retries:?}"),
    );
    let cause = format!("connect to host {ip} port 22: Connection refused");
    let waited = format!("still not answering after waiting 5 s for {ip}:22");
    findings.check(
        run.stdout.contains(&cause) && run.stdout.contains(&waited),
        || format!("the UNREACHABLE message does not name the host and the cause ({cause:?}, {waited:?})"),
    );
    findings.check(
        run.stdout
            .contains(&format!("fatal: [{ip}]: UNREACHABLE! =>")),
        || format!("no `fatal: [{ip}]: UNREACHABLE! =>` line"),
    );
    findings.eq(
        "PLAY RECAP",
        vec![
            recap_line(&ip, [0, 0, 1, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
            recap_line("localhost", [1, 1, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
        ],
        recap_lines(&run.stdout),
    );
    let artifacts = only_artifacts_dir(&runner_dir);
    findings.eq(
        "artifacts status",
        "failed".to_string(),
        artifact(&artifacts, "status"),
    );
    findings.eq("artifacts rc", "4".to_string(), artifact(&artifacts, "rc"));
    findings.check(
        event_names(&artifacts)
            .iter()
            .any(|e| e == "runner_on_unreachable"),
        || "no runner_on_unreachable job event".to_string(),
    );
    lab::util::report_timing("e2e-unreachable-run", run.duration);
    findings.finish(&format!("{run:?}"));
}

/// A localhost hook with plan and workload, run directly (`hook-runner run`) with a kubeconfig.
struct LocalHook {
    dir: tempfile::TempDir,
}

impl LocalHook {
    fn new(playbook: &str) -> LocalHook {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("playbook.yml"), playbook).unwrap();
        std::fs::copy(
            shared("fixtures/forklift/plan.yml"),
            dir.path().join("plan.yml"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("workload.yml"),
            workload_with_ip("192.0.2.10"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        LocalHook { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn canary(&self) -> std::path::PathBuf {
        self.dir.path().join("canary")
    }

    fn run(&self, extra: &[&str]) -> CliRun {
        let playbook = self.path("playbook.yml");
        let mut args = vec!["run", playbook.as_str()];
        args.extend_from_slice(extra);
        hook_runner(&args, &self.dir.path().join("home"), RUN_TIMEOUT)
    }
}

/// A canary task that creates `canary` when run (first in the play).
fn canary_task(canary: &Path) -> String {
    format!(
        "  - name: Canary\n    file:\n      path: {}\n      state: touch\n",
        canary.display()
    )
}

/// A localhost play with the canary task first and `tail` (tasks text) after it.
fn localhost_play(canary: &Path, tail: &str) -> String {
    format!(
        "- name: Bad input\n  hosts: localhost\n  gather_facts: false\n  tasks:\n{}{tail}",
        canary_task(canary)
    )
}

#[test]
fn e2e_forbidden_secret_names_service_account_verb_and_resource() {
    let test = "e2e_forbidden_secret_names_service_account_verb_and_resource";
    if !lab::require_root(test) {
        return;
    }
    let api = KubeApi::start();
    api.add_secret(NS, "privkey", &[("key", b"not-a-real-key")]);
    // Allowed to read other things, not Secrets.
    let token = api.token(
        &service_account(NS, SA),
        &[Rule::new(&["get", "list"], &["configmaps"]).in_namespace(NS)],
    );
    let hook = LocalHook::new(&format!(
        "{KEY_PLAY}\n- hosts: vms\n  gather_facts: false\n  tasks:\n  - command: echo never\n"
    ));
    let kubeconfig = hook.path("kubeconfig");
    api.write_kubeconfig(Path::new(&kubeconfig), &token)
        .unwrap();
    let run = hook.run(&["--kubeconfig", &kubeconfig]);
    let all = run.all();
    let mut findings = Findings::default();
    findings.eq("exit code of a 403 in k8s_info", Some(2), run.code);
    let account = service_account(NS, SA);
    for (what, needle) in [
        ("the service account", account.as_str()),
        ("the verb", "get"),
        ("the resource", "secrets"),
        ("the status", "403"),
        ("the task", "Read the key"),
    ] {
        findings.check(all.contains(needle), || {
            format!("the 403 failure does not name {what} ({needle:?})")
        });
    }
    findings.check(!hook.dir.path().join("home/.ssh/id_rsa").exists(), || {
        "tasks after the failed k8s_info ran (~/.ssh/id_rsa written)".to_string()
    });
    findings.finish(&format!("{run:?}"));
}

#[test]
fn e2e_yaml_syntax_error_is_located_exits_4_and_runs_nothing() {
    let test = "e2e_yaml_syntax_error_is_located_exits_4_and_runs_nothing";
    if !lab::require_root(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    // `        msg: a: b`: a mapping value where none is allowed; PyYAML's mark is the second
    // colon, and Ansible reports that position (1-based line and column).
    let playbook = localhost_play(&canary, "  - name: Broken\n    debug:\n        msg: a: b\n");
    let line = line_of(&playbook, "msg: a: b");
    let column = "        msg: a".len() + 1;
    let hook = LocalHook::new(&playbook);
    let run = hook.run(&[]);
    let all = run.all();
    let mut findings = Findings::default();
    findings.eq("exit code of a YAML syntax error", Some(4), run.code);
    findings.check(
        all.contains(&format!("playbook.yml:{line}:{column}"))
            || all.contains(&format!("line {line}, column {column}")),
        || format!("the error is not located at line {line}, column {column} (the second ':')"),
    );
    findings.check(all.contains("mapping values are not allowed"), || {
        "the error does not say what is wrong (`mapping values are not allowed in this context`)"
            .to_string()
    });
    findings.check(!canary.exists() && !hook.canary().exists(), || {
        "a task ran although the playbook does not parse".to_string()
    });
    findings.finish(&format!("{run:?}"));
}

#[test]
fn e2e_unknown_module_is_rejected_with_ansibles_wording_and_nothing_runs() {
    let test = "e2e_unknown_module_is_rejected_with_ansibles_wording_and_nothing_runs";
    if !lab::require_root(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    let playbook = localhost_play(
        &canary,
        "  - name: Bring disks online\n    win_shell: Get-Disk\n",
    );
    let line = line_of(&playbook, "win_shell:");
    let hook = LocalHook::new(&playbook);
    let run = hook.run(&[]);
    let all = run.all();
    let mut findings = Findings::default();
    findings.eq(
        "exit code of an unknown module (a parse error)",
        Some(4),
        run.code,
    );
    findings.check(
        all.contains("couldn't resolve module/action 'win_shell'. This often indicates a misspelling, missing collection, or incorrect module path."),
        || "not Ansible's wording: couldn't resolve module/action 'win_shell'. This often indicates ...".to_string(),
    );
    findings.check(all.contains(&format!("playbook.yml:{line}:5")), || {
        format!("not located at playbook.yml:{line}:5")
    });
    findings.check(!canary.exists(), || {
        "the canary task ran before the unknown module was rejected".to_string()
    });
    findings.finish(&format!("{run:?}"));
}

#[test]
fn e2e_unknown_parameter_is_rejected_with_ansibles_wording_and_nothing_runs() {
    let test = "e2e_unknown_parameter_is_rejected_with_ansibles_wording_and_nothing_runs";
    if !lab::require_root(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("canary");
    let dest = dir.path().join("dest.txt");
    let playbook = localhost_play(
        &canary,
        &format!(
            "  - name: Write with a typo\n    copy:\n      dest: {}\n      content: hello\n      bogus_option: 1\n",
            dest.display()
        ),
    );
    let line = line_of(&playbook, "- name: Write with a typo");
    let param_line = line_of(&playbook, "bogus_option:");
    let hook = LocalHook::new(&playbook);
    let run = hook.run(&[]);
    let all = run.all();
    let mut findings = Findings::default();
    // Ansible fails the task at run time (exit 2); hook-runner validates up front (nothing
    // runs). Either code says "failed"; 0 does not.
    findings.check(matches!(run.code, Some(2) | Some(4)), || {
        format!(
            "exit code of an unknown parameter: expected 2 or 4, got {:?}",
            run.code
        )
    });
    // ansible-playbook's text for this task: the copy action runs the module as
    // `ansible.legacy.copy`, whose spec lists these (`decrypt` and `content` handling belong to
    // the action and `decrypt` is not listed), aliases in parentheses.
    let ansible = "Unsupported parameters for (ansible.legacy.copy) module: bogus_option. \
                   Supported parameters include: _original_basename, attributes, backup, checksum, \
                   content, dest, directory_mode, follow, force, group, local_follow, mode, owner, \
                   remote_src, selevel, serole, setype, seuser, src, unsafe_writes, validate (attr).";
    findings.check(all.contains(ansible), || {
        format!("not Ansible's wording; expected the message {ansible:?}")
    });
    findings.check(
        all.contains(&format!("playbook.yml:{line}"))
            || all.contains(&format!("playbook.yml:{param_line}")),
        || {
            format!(
                "the error names neither playbook.yml:{line} (task) nor :{param_line} (parameter)"
            )
        },
    );
    findings.check(!canary.exists(), || {
        "the canary task ran before the unknown parameter was rejected".to_string()
    });
    findings.check(!dest.exists(), || {
        "the bad copy task wrote its dest".to_string()
    });
    findings.finish(&format!("{run:?}"));
}

#[test]
fn e2e_undefined_variable_names_the_variable_and_the_task() {
    let test = "e2e_undefined_variable_names_the_variable_and_the_task";
    if !lab::require_root(test) {
        return;
    }
    let playbook = r#"- hosts: localhost
  gather_facts: false
  tasks:
  - name: Load VM workload context
    include_vars:
      file: workload.yml
      name: workload
  - name: Send notification
    debug:
      msg: "Migration hook executed for {{ workload.vm.name }}"
"#;
    let line = line_of(playbook, "- name: Send notification");
    let hook = LocalHook::new(playbook);
    let run = hook.run(&[]);
    let all = run.all();
    let mut findings = Findings::default();
    findings.eq(
        "exit code of an undefined variable in a task",
        Some(2),
        run.code,
    );
    findings.check(all.contains("Send notification"), || {
        "the failure does not name the task `Send notification`".to_string()
    });
    findings.check(
        all.contains(&format!("playbook.yml:{line}"))
            || all.contains(&format!("line {line}, column")),
        || format!("the failure is not located at playbook.yml:{line}"),
    );
    findings.check(
        all.contains("workload.vm.name") || all.contains("has no attribute 'name'"),
        || {
            "the failure names neither `workload.vm.name` nor the missing attribute 'name'"
                .to_string()
        },
    );
    findings.finish(&format!("{run:?}"));
}

/// Names that a shell would execute if they were pasted into a command line. The commands in
/// them have no `/`, so that each name is one path component.
const HOSTILE_PLAY: &str = r#"- name: Hostile data on the VM
  hosts: vms
  gather_facts: false
  tasks:
  - name: A service name with a command in it
    service:
      name: "mariadb; touch canary-semicolon"
      state: stopped
    ignore_errors: true
  - name: A service name with a newline
    service:
      name: "mariadb\ntouch canary-newline"
      state: stopped
    ignore_errors: true
  - name: A directory with spaces, quotes and a substitution
    file:
      path: "/tmp/odd dir 'q' \"dq\" $(touch canary-dir)"
      state: directory
  - name: A file with a semicolon, a backquote and a newline
    copy:
      dest: "/tmp/odd dir 'q' \"dq\" $(touch canary-dir)/x; touch canary-copy `touch canary-bq`\nnl"
      content: "$(touch canary-content)\n"
      mode: "0600"
  - name: A command argument with a substitution
    command:
      argv:
        - touch
        - "/tmp/argv $(touch canary-argv); x"
  - name: Stat a path with a substitution
    stat:
      path: "/tmp/argv $(touch canary-argv); x"
    register: st
  - name: The stat saw the file
    assert:
      that: st.stat.exists
"#;

#[test]
fn e2e_hostile_names_are_data_on_the_vm() {
    let test = "e2e_hostile_names_are_data_on_the_vm";
    if !lab::require_root_and(test, lab::vm::HOST_COMMANDS) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let ip = vm.address().to_string();
    let work = tempfile::tempdir().unwrap();
    let inventory = work.path().join("inventory.ini");
    std::fs::write(
        &inventory,
        format!(
            "[vms]\n{ip} ansible_user=root ansible_ssh_private_key_file={}\n",
            vm.root_key().display()
        ),
    )
    .unwrap();
    let playbook = work.path().join("playbook.yml");
    std::fs::write(&playbook, HOSTILE_PLAY).unwrap();
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let run = hook_runner(
        &[
            "run",
            playbook.to_str().unwrap(),
            "-i",
            inventory.to_str().unwrap(),
        ],
        &home,
        RUN_TIMEOUT,
    );
    let mut findings = Findings::default();
    // A name run by a shell would create `canary-*` in its working directory (or /tmp).
    let canaries = vm.exec("find / -xdev -maxdepth 5 -name 'canary-*' 2>/dev/null");
    findings.eq(
        "canary files created on the VM (a name was executed by a shell)",
        String::new(),
        String::from_utf8_lossy(&canaries.stdout).into_owned(),
    );
    findings.eq(
        "`systemctl is-active mariadb` (a service name with `; ...` must not stop mariadb)",
        "active".to_string(),
        String::from_utf8_lossy(&vm.exec("systemctl is-active mariadb").stdout)
            .trim()
            .to_string(),
    );
    findings.eq("exit code", Some(0), run.code);
    // Both service tasks fail (no such unit) and are ignored: ok=7 (2 ignored), changed=3.
    findings.eq(
        "PLAY RECAP",
        vec![recap_line(&ip, [7, 3, 0, 0, 0, 0, 2])
            .trim_end()
            .to_string()],
        recap_lines(&run.stdout),
    );
    // The names exist as data: compare the VM's file names byte for byte (no shell quoting
    // in the test either).
    let names = vm.exec("find /tmp -maxdepth 2 -print0");
    let names: Vec<String> = String::from_utf8_lossy(&names.stdout)
        .split('\0')
        .map(str::to_string)
        .collect();
    let odd_dir = "/tmp/odd dir 'q' \"dq\" $(touch canary-dir)";
    let odd_file = format!("{odd_dir}/x; touch canary-copy `touch canary-bq`\nnl");
    for expected in [
        odd_dir.to_string(),
        odd_file.clone(),
        "/tmp/argv $(touch canary-argv); x".to_string(),
    ] {
        findings.check(names.contains(&expected), || {
            format!("{expected:?} is not on the VM; /tmp holds {names:?}")
        });
    }
    let content = vm.exec("find /tmp -maxdepth 2 -type f -path '*canary-copy*' -exec cat {} +");
    findings.eq(
        "content of the copied file (literal, not substituted)",
        "$(touch canary-content)\n".to_string(),
        String::from_utf8_lossy(&content.stdout).into_owned(),
    );
    findings.finish(&format!("{run:?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}
