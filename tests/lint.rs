//! `hook-runner lint` and `dry-run --inventory-json`: each rule with a playbook that trips it and
//! one that does not, the public corpus (correct hooks stay clean, broken ones are caught), the
//! bundled example, and workload.yml made from each provider's inventory JSON.

use crate::data;

use hook_runner::lint::inventory::workload_from_inventory;
use hook_runner::lint::shapes::Provider;
use hook_runner::lint::{lint, Finding, Providers, Severity};

use std::process::Command;
use std::time::Instant;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hook-runner"))
}

/// Lints `playbook` (written into a fresh hook directory) against `providers`.
fn lint_text(playbook: &str, providers: &[Provider]) -> Vec<Finding> {
    lint_files(&[("playbook.yml", playbook)], providers)
}

/// Lints a hook directory made of `files`.
fn lint_files(files: &[(&str, &str)], providers: &[Provider]) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    lint(dir.path(), &Providers::Only(providers.to_vec())).unwrap()
}

fn rules(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule).collect()
}

fn only<'a>(findings: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

const LOAD_WORKLOAD: &str = "
- hosts: localhost
  gather_facts: false
  tasks:
    - include_vars:
        file: workload.yml
        name: workload
";

#[test]
fn workload_paths_are_checked_against_each_providers_shape() {
    let wrong = format!(
        "{LOAD_WORKLOAD}    - debug:\n        msg: \"{{{{ workload.vm.name }}}} {{{{ workload['vm']['ipaddress'] }}}}\"\n"
    );
    let findings = lint_text(&wrong, &[Provider::Vsphere]);
    let paths = only(&findings, "workload-path");
    assert_eq!(paths.len(), 1, "{findings:#?}");
    assert_eq!(paths[0].severity, Severity::Error);
    assert!(
        paths[0].message.contains("`workload.vm.name` does not exist for vsphere (did you mean `workload.vm.vm1.vm0.name`?)"),
        "{}",
        paths[0].message
    );
    assert_eq!(
        (paths[0].line, paths[0].col),
        (9, 18),
        "file:line:col of the path"
    );

    // One provider has it, another not: a warning that says which.
    let findings = lint_text(
        &format!("{LOAD_WORKLOAD}    - debug:\n        msg: \"{{{{ workload.vm.ipaddress }}}}\"\n"),
        &[Provider::Vsphere, Provider::Openstack],
    );
    let paths = only(&findings, "workload-path");
    assert_eq!(paths.len(), 1, "{findings:#?}");
    assert_eq!(paths[0].severity, Severity::Warning);
    assert!(
        paths[0].message.contains(
            "does not exist for openstack (did you mean `workload.xvm.vm.vm1.addresses`?); exists for vsphere"
        ),
        "{}",
        paths[0].message
    );

    // Correct paths, and guarded ones, pass for every provider that has them.
    let right = format!(
        "{LOAD_WORKLOAD}    - debug:\n        msg: \"{{{{ workload.vm.vm1.vm0.name }}}} {{{{ workload.vm.nics[0].mac | default('') }}}}\"\n      when: workload.vm.ipaddress is defined\n"
    );
    assert_eq!(
        rules(&lint_text(&right, &[Provider::Vsphere])),
        Vec::<&str>::new()
    );
    let ovirt = format!(
        "{LOAD_WORKLOAD}    - debug:\n        msg: \"{{{{ workload.xvm.vm.vm1.vm0.name }}}}\"\n"
    );
    assert!(lint_text(&ovirt, &[Provider::Ovirt]).is_empty());
}

#[test]
fn top_level_vars_files_and_plan_paths() {
    let playbook = "
- hosts: localhost
  gather_facts: false
  vars_files: [plan.yml, workload.yml]
  tasks:
    - debug:
        msg: \"{{ provider.source.name }} {{ vm.vm1.vm0.id }} {{ targetnamespace }}\"
    - debug:
        msg: \"{{ metadata.name }}\"
";
    let findings = lint_text(playbook, &[Provider::Vsphere]);
    assert_eq!(rules(&findings), ["undefined-variable"], "{findings:#?}");
    assert_eq!(findings[0].line, 9);

    let plan = "
- hosts: localhost
  gather_facts: false
  tasks:
    - include_vars: {file: plan.yml, name: plan}
    - debug:
        msg: \"{{ plan.metadata.name }} {{ plan.targetnamespace }}\"
";
    let findings = lint_text(plan, &[Provider::Vsphere]);
    assert_eq!(rules(&findings), ["plan-path"], "{findings:#?}");
    assert!(findings[0].message.contains("Plan's spec only"));
}

#[test]
fn templates_are_parsed_and_their_filters_tests_and_lookups_must_exist() {
    let broken = "
- hosts: localhost
  gather_facts: false
  vars:
    a: 1
  tasks:
    - debug:
        msg: \"{{ a + }}\"
    - debug:
        msg: \"{{ a | no_such_filter }} {{ a is no_such_test }} {{ lookup('no_such_lookup', 'x') }}\"
    - debug:
        msg: ok
      when: a ==
";
    let findings = lint_text(broken, &[Provider::Vsphere]);
    assert_eq!(
        rules(&findings),
        [
            "template-syntax",
            "unknown-filter",
            "unknown-test",
            "unknown-lookup",
            "template-syntax"
        ],
        "{findings:#?}"
    );
    assert!(findings.iter().all(|f| f.severity == Severity::Error));
    let fine = "
- hosts: localhost
  gather_facts: false
  vars:
    a: 'x'
  tasks:
    - debug:
        msg: \"{{ a | b64encode | ansible.builtin.b64decode }} {{ a is string }} {{ lookup('env', 'HOME') }}\"
      when: a is defined and a | length > 0
";
    assert!(lint_text(fine, &[Provider::Vsphere]).is_empty());
}

#[test]
fn unknown_modules_and_parameters_come_from_the_engines_validation() {
    let findings = lint_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: /x\n        contnet: y\n",
        &[Provider::Vsphere],
    );
    assert_eq!(rules(&findings), ["load"], "{findings:#?}");
    assert!(
        findings[0].message.contains("contnet"),
        "{}",
        findings[0].message
    );
    assert_eq!(findings[0].line, 6, "the misspelt parameter's line");
}

#[test]
fn undefined_variables_are_those_no_source_defines() {
    let findings = lint_text(
        "
- hosts: localhost
  gather_facts: false
  vars: {a: 1}
  tasks:
    - set_fact: {b: 2}
    - command: echo hi
      register: out
    - debug:
        msg: \"{{ a }} {{ b }} {{ out.stdout }} {{ item }} {{ inventory_hostname }} {{ ansible_facts }} {{ c | default(3) }}\"
      loop: [1]
    - debug:
        msg: \"{{ nobody_defines_me }}\"
",
        &[Provider::Vsphere],
    );
    assert_eq!(rules(&findings), ["undefined-variable"], "{findings:#?}");
    assert!(findings[0]
        .message
        .contains("'nobody_defines_me' is undefined"));
}

#[test]
fn paths_into_the_hooks_own_vars_files() {
    let playbook = "
- hosts: localhost
  gather_facts: false
  vars_files: [settings.yml]
  tasks:
    - include_vars: {file: extra.yml, name: extra}
    - debug:
        msg: \"{{ db.host }} {{ extra.port }} {{ db.hots }} {{ extra.prot | default(1) }}\"
";
    let settings = "db: {host: db1, user: app}\n";
    let extra = "port: 5432\n";
    let findings = lint_files(
        &[
            ("playbook.yml", playbook),
            ("settings.yml", settings),
            ("extra.yml", extra),
        ],
        &[Provider::Vsphere],
    );
    assert_eq!(rules(&findings), ["vars-path"], "{findings:#?}");
    assert!(
        findings[0].message.contains("`db.hots` does not exist")
            && findings[0].message.contains("did you mean `db.host`?"),
        "{}",
        findings[0].message
    );
    // A vars file this machine cannot read may define anything: no undefined-variable guesses.
    let templated = "
- hosts: localhost
  gather_facts: false
  tasks:
    - include_vars: \"{{ lookup('env', 'SITE') }}.yml\"
    - debug:
        msg: \"{{ from_that_file }}\"
";
    assert!(lint_text(templated, &[Provider::Vsphere]).is_empty());
}

#[test]
fn secrets_printed_without_no_log() {
    let play = |extra: &str| {
        format!(
            "
- hosts: localhost
  gather_facts: false
  tasks:
    - k8s_info: {{kind: Secret, name: k, namespace: ns}}
      register: creds
    - debug:
        msg: \"{{{{ creds.resources[0].data.key | b64decode }}}}\"
{extra}"
        )
    };
    let findings = lint_text(&play(""), &[Provider::Vsphere]);
    assert_eq!(rules(&findings), ["secret-no-log"], "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Error);
    assert!(lint_text(&play("      no_log: true\n"), &[Provider::Vsphere]).is_empty());
    // Through a fact set from it, the data is still the Secret's.
    let via_fact = play("      no_log: true\n    - set_fact:\n        key: \"{{ creds.resources[0].data.key }}\"\n      no_log: true\n    - shell: echo {{ key }}\n");
    let findings = lint_text(&via_fact, &[Provider::Vsphere]);
    assert_eq!(rules(&findings), ["secret-no-log"], "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Warning);
    assert_eq!(findings[0].line, 13);
}

#[test]
fn plays_aimed_at_vms_need_an_earlier_add_host() {
    let vm_play = "
- hosts: vms
  gather_facts: false
  tasks:
    - ping:
";
    let add = "
- hosts: localhost
  gather_facts: false
  tasks:
    - add_host: {name: 10.0.0.5, groups: vms}
";
    let late = lint_text(&format!("{vm_play}{add}"), &[Provider::Vsphere]);
    assert_eq!(rules(&late), ["vm-before-add-host"], "{late:#?}");
    assert_eq!(late[0].line, 2);
    let never = lint_text(vm_play, &[Provider::Vsphere]);
    assert_eq!(rules(&never), ["hosts-match-nothing"], "{never:#?}");
    assert!(lint_text(&format!("{add}{vm_play}"), &[Provider::Vsphere]).is_empty());
}

#[test]
fn private_keys_need_mode_0600() {
    let task = |mode: &str| {
        format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: ~/.ssh/id_rsa\n        content: x\n{mode}"
        )
    };
    for bad in ["", "        mode: 0644\n", "        mode: '0640'\n"] {
        let findings = lint_text(&task(bad), &[Provider::Vsphere]);
        assert_eq!(
            rules(&findings),
            ["private-key-mode"],
            "{bad:?}: {findings:#?}"
        );
    }
    for good in [
        "        mode: 0600\n",
        "        mode: '0400'\n",
        "        mode: u=rw,go=\n",
    ] {
        assert!(
            lint_text(&task(good), &[Provider::Vsphere]).is_empty(),
            "{good:?}"
        );
    }
}

#[test]
fn gather_facts_for_localhost_plays_that_use_no_fact() {
    let play = |gather: &str, msg: &str| {
        format!("- hosts: localhost\n{gather}  tasks:\n    - debug:\n        msg: \"{msg}\"\n")
    };
    let findings = lint_text(&play("", "hi"), &[Provider::Vsphere]);
    assert_eq!(rules(&findings), ["gather-facts-localhost"]);
    assert_eq!(findings[0].severity, Severity::Warning);
    assert!(lint_text(&play("  gather_facts: false\n", "hi"), &[Provider::Vsphere]).is_empty());
    assert!(lint_text(&play("", "{{ ansible_user_id }}"), &[Provider::Vsphere]).is_empty());
}

#[test]
fn the_bundled_example_is_clean() {
    let out = bin()
        .arg("lint")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout, "0 error(s), 0 warning(s)\n");
    // Outside the repository the embedded copy is linted, for its own provider.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["lint", "--provider", "vsphere"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_command_line_exits_non_zero_on_errors_and_speaks_json_and_sarif() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("playbook.yml"),
        format!("{LOAD_WORKLOAD}    - debug:\n        msg: \"{{{{ workload.vm.name }}}}\"\n"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = bin()
            .arg("lint")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, human) = run(&["--provider", "ovirt"]);
    assert_eq!(code, Some(2));
    assert!(
        human.contains(
            "playbook.yml:9:18: error[workload-path]: `workload.vm.name` does not exist for ovirt"
        ),
        "{human}"
    );
    assert!(human.contains("  fix: "), "{human}");
    let (_, json) = run(&["--provider", "all", "--format", "json"]);
    let findings: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(findings[0]["rule"], "workload-path");
    assert_eq!(findings[0]["line"], 9);
    assert_eq!(findings[0]["severity"], "error");
    let (_, sarif) = run(&["--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "workload-path");
    let (code, _) = run(&["--provider", "vmware"]);
    assert_eq!(
        code,
        Some(5),
        "a provider that does not exist is a bad option"
    );
}

/// The corpus: hooks that are correct stay free of errors; the documented broken ones are
/// caught, each by the rule that names its fault. Prints the linter's time on the whole corpus.
#[test]
fn the_public_hook_corpus() {
    let Some(dir) = data::corpus_dir("the_public_hook_corpus") else {
        return;
    };
    let lint_file =
        |name: &str, p: Provider| lint(&dir.join(name), &Providers::Only(vec![p])).unwrap();
    let errors = |f: &[Finding]| -> Vec<String> {
        f.iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect()
    };
    // Correct hooks.
    for name in [
        "forklift-sample-2021-load-vars-absolute.yml",
        "mtc-docs-fail-module.yml",
        "mtc-docs-k8s-info-own-pod.yml",
    ] {
        for p in Provider::ALL {
            assert_eq!(
                errors(&lint_file(name, p)),
                Vec::<String>::new(),
                "{name} ({p})"
            );
        }
    }
    // Correct for vSphere (its `workload.vm.ipaddress`); hook-runner has no `dnf` module (yet).
    let cloud_init = lint_file("forklift-docs-hooks-cloud-init.yml", Provider::Vsphere);
    let errs = errors(&cloud_init);
    assert!(
        errs.iter()
            .all(|e| e.starts_with("load: couldn't resolve module/action 'dnf'")),
        "{errs:?}"
    );
    let openstack = lint_file("forklift-docs-hooks-cloud-init.yml", Provider::Openstack);
    assert!(
        openstack.iter().any(|f| f.rule == "workload-path"
            && f.message
                .contains("`workload.vm.ipaddress` does not exist for openstack")),
        "{openstack:#?}"
    );
    // The documented broken ones.
    let caught = |name: &str, rule: &str, text: &str| {
        let findings = lint_file(name, Provider::Vsphere);
        assert!(
            findings.iter().any(|f| f.rule == rule
                && f.severity == Severity::Error
                && f.message.contains(text)),
            "{name}: no {rule} error with {text:?}: {findings:#?}"
        );
    };
    caught(
        "kubectl-mtv-guide-db-backup-hook.yml",
        "workload-path",
        "`workload.vm.name` does not exist for vsphere (did you mean `workload.vm.vm1.vm0.name`?)",
    );
    caught(
        "kubectl-mtv-guide-db-backup-hook.yml",
        "plan-path",
        "`plan.metadata.name` does not exist",
    );
    caught(
        "kubectl-mtv-guide-db-backup-hook.yml",
        "undefined-variable",
        "'backup_user' is undefined",
    );
    caught(
        "kubectl-mtv-guide-db-backup-hook.yml",
        "unknown-lookup",
        "kubernetes.core.k8s",
    );
    caught(
        "kubectl-mtv-guide-shell-script-hook.yml",
        "workload-path",
        "`workload.vm.name`",
    );
    caught(
        "kubectl-mtv-guide-simple-notification.yml",
        "undefined-variable",
        "'workload' is undefined",
    );
    caught(
        "kubectl-mtv-guide-error-handling.yml",
        "load",
        "no module/action detected in task",
    );
    caught(
        "kubectl-mtv-guide-secret-access.yml",
        "load",
        "no module/action detected in task",
    );
    caught(
        "forklift-console-plugin-e2e-hook-template.yml",
        "undefined-variable",
        "'hook_name' is undefined",
    );
    caught(
        "forklift-issue956-windows-bring-disks-online.yml",
        "load",
        "win_shell",
    );
    caught("mtv-docs-stop-mariadb.yml", "load", "{namespace}");
    let windows = lint_file(
        "forklift-issue956-windows-bring-disks-online.yml",
        Provider::Vsphere,
    );
    assert!(
        windows.iter().any(|f| f.rule == "hosts-match-nothing"),
        "{windows:#?}"
    );

    // The benchmark figure: every corpus hook against every provider, in process.
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    let started = Instant::now();
    let mut total = 0;
    for file in &files {
        total += lint(file, &Providers::Only(Provider::ALL.to_vec()))
            .unwrap()
            .len();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "BENCH lint corpus: {} hooks x {} providers in {} ms ({total} findings)",
        files.len(),
        Provider::ALL.len(),
        elapsed.as_millis()
    );
    assert!(
        elapsed.as_secs() < 10,
        "the linter took {elapsed:?} on the corpus"
    );
}

#[test]
fn inventory_json_becomes_forklifts_workload_for_every_provider() {
    for p in Provider::ALL {
        let json: serde_json::Value =
            serde_json::from_str(&data::read_forklift(&format!("{p}.inventory.json"))).unwrap();
        let expected = hook_runner::yaml::load_file(&data::forklift(&format!("{p}.workload.yml")))
            .unwrap()
            .to_value();
        let got = workload_from_inventory(p, &json).unwrap();
        assert_eq!(got, expected, "{p}: key for key, value for value");
    }
}

#[test]
fn another_inventory_record_keeps_forklifts_layout_with_its_own_values() {
    // The record the MTV documentation prints, a different VM of another vCenter.
    let json: serde_json::Value =
        serde_json::from_str(&data::read_forklift("vsphere-inventory-docs-example.json")).unwrap();
    let record = &json["input"];
    let got = workload_from_inventory(Provider::Vsphere, &json).unwrap();
    assert_eq!(got["vm"]["vm1"]["vm0"]["name"], record["name"]);
    assert_eq!(got["vm"]["ipaddress"], record["ipAddress"]);
    assert_eq!(got["selflink"], record["selfLink"]);
    let shape = Provider::Vsphere.workload();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&got), keys(shape));
    assert_eq!(keys(&got["vm"]), keys(&shape["vm"]));
    assert_eq!(keys(&got["vm"]["vm1"]), keys(&shape["vm"]["vm1"]));

    // A changed oVirt record: its cluster object fills `cluster`, never the VM's own `cluster` id.
    let mut ovirt = Provider::Ovirt.inventory().clone();
    ovirt["cluster"]["name"] = "Prod".into();
    ovirt["name"] = "db02".into();
    let got = workload_from_inventory(Provider::Ovirt, &ovirt).unwrap();
    assert_eq!(got["cluster"]["resource"]["name"], "Prod");
    assert_eq!(got["xvm"]["vm"]["vm1"]["vm0"]["name"], "db02");
    assert_eq!(got["xvm"]["vm"]["vm1"]["cluster"], "");
    assert!(workload_from_inventory(Provider::Ovirt, &serde_json::json!([1])).is_err());
}

#[test]
fn dry_run_from_inventory_json_uses_the_vms_real_record() {
    let hook = tempfile::tempdir().unwrap();
    std::fs::write(
        hook.path().join("playbook.yml"),
        "- hosts: localhost\n  gather_facts: false\n  vars_files: [plan.yml, workload.yml]\n  tasks:\n    - debug:\n        msg: \"VM {{ xvm.vm.vm1.vm0.name }} in {{ targetnamespace }}\"\n",
    )
    .unwrap();
    let mut ovirt = Provider::Ovirt.inventory().clone();
    ovirt["name"] = "from-the-inventory".into();
    let record = hook.path().join("vm.json");
    std::fs::write(&record, ovirt.to_string()).unwrap();
    let out = bin()
        .arg("dry-run")
        .arg(hook.path())
        .arg("--inventory-json")
        .arg(&record)
        .args(["--provider", "ovirt", "--plan"])
        .arg(data::forklift("plan.yml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("VM from-the-inventory in konveyor-forklift"),
        "{stdout}"
    );
    assert!(
        !hook.path().join("workload.yml").exists(),
        "the hook directory is left alone"
    );

    // Without --provider the record cannot be read: a bad option.
    let out = bin()
        .arg("dry-run")
        .arg(hook.path())
        .arg("--inventory-json")
        .arg(&record)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    // A record that is not JSON: a located error.
    std::fs::write(&record, "{ not json").unwrap();
    let out = bin()
        .arg("dry-run")
        .arg(hook.path())
        .args(["--provider", "ovirt", "--inventory-json"])
        .arg(&record)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("vm.json:1:3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
