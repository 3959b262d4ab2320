//! End to end: the MTV documentation's hook (`corpus/hooks/mtv-docs-stop-mariadb.yml`,
//! `{namespace}` filled in) run by the hook-runner binary as Forklift runs it: the
//! drop-in's first promise.
//!
//! The setup: a lab systemd VM with MariaDB and no Python; the VM's root private key stored as the
//! Secret `privkey` (`data.key`) in the test API server; a service-account token allowed only
//! `get` on that Secret; Forklift's `plan.yml` and the vSphere `workload.yml` whose `vm.ipaddress`
//! is the VM's address. The hook runs in the simulated pod: the exact Forklift argv through
//! `images/entrypoint` as PID 1, UID 1000770000 with GID 0 and no passwd entry, `HOME=/home/runner`,
//! a read-only root filesystem (only /tmp and /home writable, as `images/manifests/job.yaml`),
//! the service account mounted at the in-cluster path with `KUBERNETES_SERVICE_*` set.
//!
//! What ansible-playbook prints for this playbook (ansible-core 2.18), derived:
//! - play 1 on `localhost` (`gather_facts` defaults to true): Gathering Facts ok; `k8s_info` ok
//!   (reads never change); `file ~/.ssh state=directory` changed (HOME is empty); `copy` of the
//!   key changed; `add_host` changed (the host is new to the inventory) → ok=5 changed=3;
//! - play 2 on the VM: Gathering Facts ok; `service mariadb state=stopped` changed (it was
//!   running); `copy /premigration.txt` changed → ok=3 changed=2;
//! - second run (same HOME, same VM): `file` and `copy` on localhost unchanged, `add_host` still
//!   changed (a new process has a fresh inventory) → localhost ok=5 changed=1; the VM ok=3
//!   changed=0.
//! - The content: the double-quoted scalar spans two lines; YAML folds the line break into one
//!   space and drops the continuation line's leading blanks, and `\n` is an escaped newline:
//!   "Migration from boston of vm-2861 has finished\n" (plan `provider.source.name` = boston,
//!   workload `vm.vm1.vm0.id` = vm-2861).

#[path = "e2e/common.rs"]
mod common;

use common::*;
use lab::vm::Vm;
use std::time::Instant;

/// Counts zombies and leftover ssh processes after hook-runner ran under the entrypoint's tini.
const ZOMBIE_PROBE: &str = r#"
hook-runner ansible-runner run /tmp/runner -p /tmp/hook/playbook.yml
rc=$?
sleep 0.5
echo "zombies=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)"
echo "ssh_left=$(grep -lx ssh /proc/[0-9]*/comm 2>/dev/null | wc -l)"
echo "pid1=$(cat /proc/1/comm)"
if (: >/var/tmp/.hr-ro-probe) 2>/dev/null; then rm -f /var/tmp/.hr-ro-probe; echo root=rw; else echo root=ro; fi
exit $rc
"#;

const EXPECTED_CONTENT: &str = "Migration from boston of vm-2861 has finished\n";

/// The value of a `key=` line of the output.
fn probe_value<'a>(stdout: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key}= line in the pod's output:\n{stdout}"))
}

#[test]
fn e2e_mtv_docs_hook_in_the_forklift_pod_stops_mariadb_and_reruns_without_changes() {
    let test = "e2e_mtv_docs_hook_in_the_forklift_pod_stops_mariadb_and_reruns_without_changes";
    if !vm_and_pod_prerequisites(test) {
        return;
    }
    let started = Instant::now();
    let vm = Vm::boot().expect("the lab VM boots");
    assert_eq!(
        vm.exec_ok("systemctl is-active mariadb"),
        "active",
        "MariaDB must run before the hook"
    );
    let ip = vm.address().to_string();

    // The cluster: the key in the Secret, a token allowed only `get` on it.
    let (api, token, key) = api_with_vm_key(&vm);
    let image = HookPod::new(&mtv_docs_playbook(), &workload_with_ip(&ip), &api, &token);

    // --- First run: Forklift's exact argv, the entrypoint as PID 1.
    let mut findings = Findings::default();
    let out = image.run(&api, &FORKLIFT_ARGV);
    let context = format!("{out:#?}");
    assert_eq!(out.code(), Some(0), "the hook must succeed: {context}");

    // The VM: MariaDB stopped, the file rendered with mode 0644.
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

    // The pod's HOME: the key as the Secret holds it, 0600, in a 0750 ~/.ssh.
    let id_rsa = image.path("home/runner/.ssh/id_rsa");
    findings.check(std::fs::read(&id_rsa).ok().as_ref() == Some(&key), || {
        "~/.ssh/id_rsa in the pod's HOME is not the Secret's key".to_string()
    });
    findings.eq("~/.ssh/id_rsa mode", 0o600, mode_of(&id_rsa));
    // Written by the pod's arbitrary UID (GID 0): the run really was not root.
    let owner = std::fs::metadata(&id_rsa).map(|m| {
        use std::os::unix::fs::MetadataExt;
        (m.uid(), m.gid())
    });
    findings.eq(
        "owner of ~/.ssh/id_rsa (the pod's UID, GID 0)",
        Some((lab::pod::DEFAULT_UID, 0)),
        owner.ok(),
    );

    findings.eq(
        "~/.ssh mode",
        0o750,
        mode_of(&image.path("home/runner/.ssh")),
    );

    // The recap ansible-playbook prints (see the module doc for the counts).
    findings.eq(
        "PLAY RECAP of the first run",
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

    // ansible-playbook prints diffs only with --diff (Forklift's argv has none).
    findings.check(!out.stdout.contains("--- before"), || {
        "the console shows a `--- before/+++ after` diff (task \"Ensure SSH directory exists\") \
         although the run has no --diff: ansible-playbook prints diffs only with --diff"
            .to_string()
    });

    // The API server saw the Secret read with the service account's bearer token.
    let path = format!("/api/v1/namespaces/{NS}/secrets/privkey");
    let reads = requests_to(&api, "GET", &path);
    findings.check(!reads.is_empty(), || {
        format!("no GET {path}; requests: {:#?}", api.requests())
    });
    for read in &reads {
        findings.eq(
            "Authorization header of the Secret read",
            Some(format!("Bearer {token}")),
            read.header("authorization").map(str::to_string),
        );
        findings.eq("status of the Secret read", 200, read.status);
    }

    // ansible-runner's artifacts and the termination message.
    let artifacts = image.artifacts();
    check_outcome(
        &mut findings,
        &artifacts,
        &out.termination_message,
        "successful",
        0,
    );
    let events = event_names(&artifacts);
    let first_play = events.iter().position(|e| e == "playbook_on_play_start");
    let start = events.iter().position(|e| e == "playbook_on_start");
    findings.check(start.is_some() && start < first_play, || {
        format!("job_events: playbook_on_start must come before the plays: {events:?}")
    });
    findings.eq(
        "last job event (ansible-runner: playbook_on_stats is always the last event)",
        Some("playbook_on_stats"),
        events.last().map(String::as_str),
    );

    // Not one byte of the key anywhere (its PEM lines nor its base64).
    let needles = secret_needles(&key);
    assert_no_secret(
        &needles,
        &[
            ("stdout", &out.stdout),
            ("stderr", &out.stderr),
            ("termination message", &out.termination_message),
        ],
        &[&image.path("tmp/runner")],
    );
    let first_run = out.duration;

    // --- Second run (Forklift's backoffLimit 1 may run a hook twice): nothing changes on the
    // VM, the key copy on localhost is unchanged too. Run under a probe for zombies.
    image.clear_runner_dir();
    let out2 = image.run(&api, &[ENTRYPOINT, "sh", "-c", ZOMBIE_PROBE]);
    let context2 = format!("{out2:#?}");
    findings.eq("exit code of the re-run", Some(0), out2.code());
    findings.eq(
        "PLAY RECAP of the re-run",
        vec![
            recap_line(&ip, [3, 0, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
            recap_line("localhost", [5, 1, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
        ],
        recap_lines(&out2.stdout),
    );
    findings.eq(
        "PID 1 of the pod",
        "tini",
        probe_value(&out2.stdout, "pid1"),
    );
    findings.eq(
        "root filesystem of the pod (world-writable /var/tmp must refuse writes)",
        "ro",
        probe_value(&out2.stdout, "root"),
    );
    findings.eq(
        "zombies in the pod after hook-runner exited",
        "0",
        probe_value(&out2.stdout, "zombies"),
    );
    findings.eq(
        "ssh processes left in the pod after hook-runner exited",
        "0",
        probe_value(&out2.stdout, "ssh_left"),
    );
    findings.eq(
        "/premigration.txt content after the re-run",
        EXPECTED_CONTENT.to_string(),
        String::from_utf8_lossy(&vm.exec("cat /premigration.txt").stdout).into_owned(),
    );
    findings.eq(
        "artifacts status of the re-run",
        "successful".to_string(),
        artifact(&image.artifacts(), "status"),
    );
    assert_no_secret(
        &needles,
        &[("stdout", &out2.stdout), ("stderr", &out2.stderr)],
        &[&image.path("tmp/runner")],
    );
    lab::util::report_timing("e2e-mtv-hook-first-run", first_run);
    lab::util::report_timing("e2e-mtv-hook-second-run", out2.duration);
    lab::util::report_timing("e2e-mtv-hook-total", started.elapsed());
    findings.finish(&format!("first run: {context}\nsecond run: {context2}"));
    vm.shutdown().expect("the VM tears down cleanly");
}

/// The same hook run directly by root on this machine (`hook-runner run`), `HOME` a temp dir,
/// the cluster reached through `--kubeconfig` (the in-cluster paths are fixed, so the
/// service-account form is the pod test above): the same outcome and recap.
#[test]
fn e2e_mtv_docs_hook_run_directly_as_root_with_a_kubeconfig() {
    let test = "e2e_mtv_docs_hook_run_directly_as_root_with_a_kubeconfig";
    if !lab::require_root_and(test, lab::vm::HOST_COMMANDS) {
        return;
    }
    let vm = Vm::boot().expect("the lab VM boots");
    let ip = vm.address().to_string();
    let (api, token, key) = api_with_vm_key(&vm);
    let work = tempfile::tempdir().unwrap();
    let hook = work.path().join("hook");
    std::fs::create_dir(&hook).unwrap();
    std::fs::write(hook.join("playbook.yml"), mtv_docs_playbook()).unwrap();
    std::fs::copy(shared("fixtures/forklift/plan.yml"), hook.join("plan.yml")).unwrap();
    std::fs::write(hook.join("workload.yml"), workload_with_ip(&ip)).unwrap();
    let kubeconfig = work.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig, &token).unwrap();
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let playbook = hook.join("playbook.yml");
    let args = [
        "run",
        playbook.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ];
    let run = hook_runner(&args, &home, std::time::Duration::from_secs(120));
    assert_eq!(run.code, Some(0), "{run:?}");
    let mut findings = Findings::default();
    findings.eq(
        "`systemctl is-active mariadb` on the VM",
        "inactive".to_string(),
        String::from_utf8_lossy(&vm.exec("systemctl is-active mariadb").stdout)
            .trim()
            .to_string(),
    );
    findings.eq(
        "/premigration.txt content",
        EXPECTED_CONTENT.to_string(),
        String::from_utf8_lossy(&vm.exec("cat /premigration.txt").stdout).into_owned(),
    );
    findings.eq(
        "~/.ssh/id_rsa mode",
        0o600,
        mode_of(&home.join(".ssh/id_rsa")),
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
        recap_lines(&run.stdout),
    );
    assert_no_secret(
        &secret_needles(&key),
        &[("stdout", &run.stdout), ("stderr", &run.stderr)],
        &[],
    );
    let again = hook_runner(&args, &home, std::time::Duration::from_secs(120));
    findings.eq("exit code of the re-run", Some(0), again.code);
    findings.eq(
        "PLAY RECAP of the re-run",
        vec![
            recap_line(&ip, [3, 0, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
            recap_line("localhost", [5, 1, 0, 0, 0, 0, 0])
                .trim_end()
                .to_string(),
        ],
        recap_lines(&again.stdout),
    );
    lab::util::report_timing("e2e-mtv-hook-direct-run", run.duration);
    findings.finish(&format!("first: {run:?}\nagain: {again:?}"));
    vm.shutdown().expect("the VM tears down cleanly");
}
