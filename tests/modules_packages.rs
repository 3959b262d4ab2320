//! The package modules against real package managers on lab VMs (no internet): on the Debian
//! VM (no Python), `apt_repository`, `apt`, `package` and `package_facts` with a flat apt
//! repository of test `.deb`s built now (dpkg-deb, apt-ftparchive) and used as `file:`; on the
//! dnf VM variant, `yum_repository`, `dnf`/`yum`, `package` and `package_facts` with a
//! repository of test RPMs built now (rpmbuild, createrepo_c). Each step is checked on the VM
//! with dpkg or rpm itself.

use crate::modules_common;

use hook_runner::Map;
use lab::pkgrepo::{self, TestPackage};
use lab::vm::HOST_COMMANDS;
use modules_common::{boot_vm, connect, control_dir, Runner};
use serde_json::json;

/// dpkg's status and version of `name` on the VM (`"ii 1.0-1"`, `"rc 1.0-1"`), or `""` when
/// dpkg knows nothing installed of it (unknown, or only seen as a candidate: `un`).
fn dpkg_state(vm: &lab::vm::Vm, name: &str) -> String {
    let state = vm.exec_ok(&format!(
        "dpkg-query -W -f='${{db:Status-Abbrev}}${{Version}}' {name} 2>/dev/null || true"
    ));
    if state.starts_with("un") {
        String::new()
    } else {
        state
    }
}

fn apt_packages() -> Vec<TestPackage> {
    vec![
        TestPackage::new("hr-alpha", "1.0-1").depends(&["hr-beta"]),
        TestPackage::new("hr-alpha", "2.0-1").depends(&["hr-beta"]),
        TestPackage::new("hr-beta", "1.0-1"),
        TestPackage::new("hr-gamma", "1.0-1").recommends(&["hr-extra"]),
        TestPackage::new("hr-extra", "1.0-1"),
        TestPackage::new("hr-conf", "1.0-1").file("/etc/hr-conf.conf", "setting=1\n"),
        TestPackage::new("hr-delta", "1.0-1"),
        TestPackage::new("hr-provider", "1.0-1").provides(&["hr-virtual"]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apt_package_and_package_facts_on_a_debian_vm() {
    let mut needed = HOST_COMMANDS.to_vec();
    needed.extend_from_slice(pkgrepo::DEB_COMMANDS);
    if !lab::require_root_and("apt_package_and_package_facts_on_a_debian_vm", &needed) {
        return;
    }
    let repo = tempfile::tempdir().unwrap();
    pkgrepo::build_apt_repo(&repo.path().join("repo"), &apt_packages()).expect("apt repository");
    TestPackage::new("hr-local", "1.0-1")
        .depends(&["hr-delta"])
        .build_deb(repo.path())
        .expect("local deb");
    let vm = boot_vm().await;
    pkgrepo::push_tree(&vm, repo.path(), "/srv/hr").expect("repository on the VM");
    // Only the test repository: the VM has no internet.
    // Only the test repository: the VM has no internet. The Debian line is kept, disabled.
    vm.exec_ok(
        "rm -f /etc/apt/sources.list.d/* && sed -i 's/^deb /#deb /' /etc/apt/sources.list && \
         rm -rf /var/lib/apt/lists/* && touch -d '2020-01-01' /var/lib/apt/lists",
    );
    let control = control_dir("hrp");
    let root = connect(&vm, "root", &control);
    let r = Runner::new(&root);

    // apt_repository: the line goes to its own file (check mode first), once.
    let line = "deb [trusted=yes] file:/srv/hr/repo ./";
    let add = json!({"repo": line, "filename": "hr", "update_cache": false, "mode": "0640"});
    let check = r.run("apt_repository", add.clone(), true).await;
    assert_eq!(check["changed"], true, "{check:?}");
    assert_eq!(vm.exec_ok("ls /etc/apt/sources.list.d"), "");
    let added = r.run("apt_repository", add.clone(), false).await;
    assert_eq!(added["changed"], true, "{added:?}");
    assert_eq!(
        added["sources_added"],
        json!(["/etc/apt/sources.list.d/hr.list"])
    );
    assert_eq!(
        vm.exec_ok(
            "stat -c %a /etc/apt/sources.list.d/hr.list; cat /etc/apt/sources.list.d/hr.list"
        ),
        format!("640\n{line}")
    );
    let again = r.run("apt_repository", add, false).await;
    assert_eq!(again["changed"], false, "{again:?}");
    // A repository apt cannot read: the cache update fails and the files are put back.
    let broken = r
        .run(
            "apt_repository",
            json!({"repo": "deb [trusted=yes] file:/srv/hr/missing ./", "update_cache_retries": 1}),
            false,
        )
        .await;
    assert_eq!(broken["failed"], true, "{broken:?}");
    assert!(broken["msg"]
        .as_str()
        .unwrap()
        .starts_with("Failed to update apt cache after 1 retries: "));
    assert_eq!(vm.exec_ok("ls /etc/apt/sources.list.d"), "hr.list");
    // present enables a disabled copy of the line where it is; absent removes enabled lines.
    let debian =
        vm.exec_ok("sed -n 's/^# deb /deb /p;s/^#deb /deb /p' /etc/apt/sources.list | head -n1");
    let enable = r
        .run(
            "apt_repository",
            json!({"repo": debian, "update_cache": false}),
            false,
        )
        .await;
    assert_eq!(enable["changed"], true, "{enable:?}");
    assert_eq!(enable["sources_added"], json!([]));
    let disable = r
        .run(
            "apt_repository",
            json!({"repo": debian, "state": "absent", "update_cache": false}),
            false,
        )
        .await;
    assert_eq!(disable["changed"], true, "{disable:?}");
    // Its only line gone, the file goes too, as Ansible does.
    assert_eq!(disable["sources_removed"], json!(["/etc/apt/sources.list"]));
    assert_eq!(
        vm.exec_ok("test -e /etc/apt/sources.list && echo yes || echo no"),
        "no"
    );

    // The cache: updated when asked (from empty lists, so they change), then fresh enough
    // for cache_valid_time.
    vm.exec_ok("rm -rf /var/lib/apt/lists/* && touch -d '2020-01-01' /var/lib/apt/lists");
    let update = r.run("apt", json!({"update_cache": true}), false).await;
    assert_eq!(update["changed"], true, "{update:?}");
    assert_eq!(update["cache_updated"], true);
    assert!(update["cache_update_time"].as_i64().unwrap() > 1_600_000_000);
    let fresh = r
        .run(
            "apt",
            json!({"update_cache": true, "cache_valid_time": 3600}),
            false,
        )
        .await;
    assert_eq!(fresh["changed"], false, "{fresh:?}");
    assert_eq!(fresh["cache_updated"], false);

    // A pinned version: check mode changes nothing, then it installs with its dependency.
    let want = json!({"name": "hr-alpha=1.0-1"});
    let check = r.run("apt", want.clone(), true).await;
    assert_eq!(check["changed"], true, "{check:?}");
    assert_eq!(dpkg_state(&vm, "hr-alpha"), "");
    let installed = r.run("apt", want.clone(), false).await;
    assert_eq!(installed["changed"], true, "{installed:?}");
    assert!(installed["stdout"]
        .as_str()
        .unwrap()
        .contains("Setting up hr-alpha (1.0-1)"));
    assert_eq!(installed["cache_updated"], false);
    assert_eq!(dpkg_state(&vm, "hr-alpha"), "ii 1.0-1");
    assert_eq!(dpkg_state(&vm, "hr-beta"), "ii 1.0-1");
    let again = r.run("apt", want, false).await;
    assert_eq!(again["changed"], false, "{again:?}");

    // present keeps 1.0-1; latest upgrades to 2.0-1.
    let present = r.run("apt", json!({"name": ["hr-alpha"]}), false).await;
    assert_eq!(present["changed"], false, "{present:?}");
    let latest = r
        .run("apt", json!({"name": "hr-alpha", "state": "latest"}), false)
        .await;
    assert_eq!(latest["changed"], true, "{latest:?}");
    assert_eq!(dpkg_state(&vm, "hr-alpha"), "ii 2.0-1");

    // install_recommends: false leaves the recommended package out.
    let gamma = r
        .run(
            "apt",
            json!({"name": "hr-gamma", "install_recommends": false}),
            false,
        )
        .await;
    assert_eq!(gamma["changed"], true, "{gamma:?}");
    assert_eq!(dpkg_state(&vm, "hr-gamma"), "ii 1.0-1");
    assert_eq!(dpkg_state(&vm, "hr-extra"), "");

    // A virtual name with one provider is left to apt; then it is satisfied.
    let virt = r.run("apt", json!({"name": "hr-virtual"}), false).await;
    assert_eq!(virt["changed"], true, "{virt:?}");
    assert_eq!(dpkg_state(&vm, "hr-provider"), "ii 1.0-1");
    let virt = r.run("apt", json!({"name": "hr-virtual"}), false).await;
    assert_eq!(virt["changed"], false, "{virt:?}");

    // A .deb file on the target, its dependency from the repository.
    let deb = json!({"deb": "/srv/hr/hr-local_1.0-1_all.deb"});
    let local = r.run("apt", deb.clone(), false).await;
    assert_eq!(local["changed"], true, "{local:?}");
    assert_eq!(dpkg_state(&vm, "hr-local"), "ii 1.0-1");
    assert_eq!(dpkg_state(&vm, "hr-delta"), "ii 1.0-1");
    assert_eq!(r.run("apt", deb, false).await["changed"], false);

    // Unknown names and bad versions fail with Ansible's messages.
    let missing = r.run("apt", json!({"name": "hr-nope"}), false).await;
    assert_eq!(missing["failed"], true);
    assert_eq!(missing["msg"], "No package matching 'hr-nope' is available");
    let bad = r.run("apt", json!({"name": "hr-beta=9.9"}), false).await;
    assert_eq!(
        bad["msg"],
        "no available installation candidate for hr-beta=9.9"
    );
    let glob = r.run("apt", json!({"name": "hr-zz*"}), false).await;
    assert_eq!(glob["msg"], "No package(s) matching 'hr-zz*' available");

    // absent: removes, keeps conffiles; purge removes what is left; idempotent.
    r.run("apt", json!({"name": "hr-conf"}), false).await;
    let removed = r
        .run("apt", json!({"name": "hr-conf", "state": "absent"}), false)
        .await;
    assert_eq!(removed["changed"], true, "{removed:?}");
    assert_eq!(dpkg_state(&vm, "hr-conf"), "rc 1.0-1");
    let again = r
        .run("apt", json!({"name": "hr-conf", "state": "absent"}), false)
        .await;
    assert_eq!(again["changed"], false, "{again:?}");
    let purged = r
        .run(
            "apt",
            json!({"name": "hr-conf", "state": "absent", "purge": true}),
            false,
        )
        .await;
    assert_eq!(purged["changed"], true, "{purged:?}");
    assert_eq!(dpkg_state(&vm, "hr-conf"), "");
    assert_eq!(
        vm.exec_ok("test -e /etc/hr-conf.conf && echo yes || echo no"),
        "no"
    );

    // autoremove: hr-beta was pulled in by hr-alpha; once hr-alpha is gone it goes too.
    let gone = r
        .run("apt", json!({"name": "hr-alpha", "state": "absent"}), false)
        .await;
    assert_eq!(gone["changed"], true);
    let check = r.run("apt", json!({"autoremove": true}), true).await;
    assert_eq!(check["changed"], true, "{check:?}");
    assert_eq!(dpkg_state(&vm, "hr-beta"), "ii 1.0-1");
    let autoremove = r.run("apt", json!({"autoremove": true}), false).await;
    assert_eq!(autoremove["changed"], true, "{autoremove:?}");
    assert_eq!(dpkg_state(&vm, "hr-beta"), "");
    let autoremove = r.run("apt", json!({"autoremove": true}), false).await;
    assert_eq!(autoremove["changed"], false, "{autoremove:?}");

    // package: no facts, so the manager is found on the target (apt), and apt's own
    // parameters pass through.
    let via_package = r
        .run(
            "package",
            json!({"name": "hr-extra", "state": "present", "install_recommends": false}),
            false,
        )
        .await;
    assert_eq!(via_package["changed"], true, "{via_package:?}");
    assert_eq!(dpkg_state(&vm, "hr-extra"), "ii 1.0-1");
    let mut vars = Map::new();
    vars.insert("ansible_facts".into(), json!({"pkg_mgr": "apt"}));
    let with_facts = Runner {
        vars,
        ..Runner::new(&root)
    };
    let removed = with_facts
        .run(
            "package",
            json!({"name": "hr-extra", "state": "absent"}),
            false,
        )
        .await;
    assert_eq!(removed["changed"], true, "{removed:?}");
    assert_eq!(dpkg_state(&vm, "hr-extra"), "");

    // package_facts: what dpkg has, in Ansible's shape.
    let facts = r.run("package_facts", json!({}), false).await;
    let packages = &facts["ansible_facts"]["packages"];
    assert_eq!(
        packages["hr-gamma"],
        json!([{"name": "hr-gamma", "version": "1.0-1", "arch": "all", "category": "misc",
                "origin": "hook-runner-tests", "source": "apt"}]),
        "{facts:?}"
    );
    assert_eq!(packages["hr-local"][0]["origin"], "");
    assert_eq!(packages["dpkg"][0]["origin"], "");
    assert!(packages.get("hr-alpha").is_none());
    let wrong = r
        .run("package_facts", json!({"manager": ["rpm"]}), false)
        .await;
    assert_eq!(wrong["failed"], true, "{wrong:?}");

    // As the unprivileged user through sudo, as hooks do.
    let user = connect(&vm, lab::vm::VM_USER, &control);
    let sudo = Runner::new(&user).through_sudo();
    let dropped = sudo
        .run(
            "apt_repository",
            json!({"repo": line, "state": "absent", "update_cache": false}),
            true,
        )
        .await;
    assert_eq!(dropped["changed"], true, "{dropped:?}");
    assert_eq!(
        dropped["sources_removed"],
        json!(["/etc/apt/sources.list.d/hr.list"])
    );
    assert_eq!(vm.exec_ok("ls /etc/apt/sources.list.d"), "hr.list");
    let result = sudo.run("apt", json!({"name": "hr-delta"}), false).await;
    assert_eq!(result["changed"], false, "{result:?}");
    let result = sudo
        .run("apt", json!({"name": "hr-delta", "state": "absent"}), false)
        .await;
    assert_eq!(result["changed"], true, "{result:?}");
}

fn rpm_packages() -> Vec<TestPackage> {
    vec![
        TestPackage::new("hr-one", "1.0-1"),
        TestPackage::new("hr-one", "2.0-1"),
        TestPackage::new("hr-two", "1.0-1").depends(&["hr-dep"]),
        TestPackage::new("hr-dep", "1.0-1"),
        TestPackage::new("hr-other", "1.0-1"),
    ]
}

/// rpm's `NAME-VERSION-RELEASE` of `name` on the VM, or `""` when not installed.
fn rpm_state(vm: &lab::vm::Vm, name: &str) -> String {
    vm.exec_ok(&format!("rpm -q {name} 2>/dev/null || true"))
        .lines()
        .filter(|l| !l.contains("is not installed"))
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnf_and_yum_on_a_vm_with_dnf() {
    let mut needed = HOST_COMMANDS.to_vec();
    needed.extend_from_slice(pkgrepo::RPM_COMMANDS);
    if !lab::require_root_and("dnf_and_yum_on_a_vm_with_dnf", &needed) {
        return;
    }
    let repo = tempfile::tempdir().unwrap();
    pkgrepo::build_rpm_repo(&repo.path().join("repo"), &rpm_packages()).expect("rpm repository");
    TestPackage::new("hr-file", "1.0-1")
        .build_rpm(repo.path())
        .expect("local rpm");
    let vm = tokio::task::spawn_blocking(|| lab::vm::Vm::boot_with(lab::vm::VmOptions::dnf()))
        .await
        .unwrap()
        .expect("booting the dnf VM");
    pkgrepo::push_tree(&vm, repo.path(), "/srv/hr").expect("repository on the VM");
    let control = control_dir("hrd");
    let root = connect(&vm, "root", &control);
    let r = Runner::new(&root);

    // yum_repository writes the repository (reposdir must exist), once.
    let repo_args = json!({"name": "hr", "description": "hook-runner tests",
        "baseurl": "file:///srv/hr/repo", "gpgcheck": false});
    let missing_dir = r.run("yum_repository", repo_args.clone(), false).await;
    assert_eq!(
        missing_dir["msg"],
        "Repo directory '/etc/yum.repos.d' does not exist."
    );
    vm.exec_ok("mkdir -p /etc/yum.repos.d");
    let check = r.run("yum_repository", repo_args.clone(), true).await;
    assert_eq!(check["changed"], true, "{check:?}");
    assert_eq!(vm.exec_ok("ls /etc/yum.repos.d"), "");
    let written = r.run("yum_repository", repo_args.clone(), false).await;
    assert_eq!(written["changed"], true, "{written:?}");
    assert_eq!(
        vm.exec_ok("cat /etc/yum.repos.d/hr.repo"),
        "[hr]\nbaseurl = file:///srv/hr/repo\ngpgcheck = 0\nname = hook-runner tests"
    );
    let again = r.run("yum_repository", repo_args.clone(), false).await;
    assert_eq!(again["changed"], false, "{again:?}");

    // update_cache alone.
    let cache = r.run("dnf", json!({"update_cache": true}), false).await;
    assert_eq!(cache["msg"], "Cache updated", "{cache:?}");
    assert_eq!(cache["changed"], false);

    // Install with a dependency: check mode first, then for real, then nothing to do.
    let want = json!({"name": ["hr-two"], "state": "present"});
    let check = r.run("dnf", want.clone(), true).await;
    assert_eq!(check["changed"], true, "{check:?}");
    assert_eq!(
        check["msg"],
        "Check mode: No changes made, but would have if not in check mode"
    );
    assert_eq!(rpm_state(&vm, "hr-two"), "");
    let installed = r.run("dnf", want.clone(), false).await;
    assert_eq!(installed["changed"], true, "{installed:?}");
    assert_eq!(installed["msg"], "");
    assert_eq!(installed["rc"], 0);
    let mut results: Vec<String> = installed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    results.sort();
    assert_eq!(
        results,
        [
            "Installed: hr-dep-1.0-1.noarch",
            "Installed: hr-two-1.0-1.noarch"
        ]
    );
    assert_eq!(rpm_state(&vm, "hr-two"), "hr-two-1.0-1.noarch");
    let again = r.run("dnf", want, false).await;
    assert_eq!(again["changed"], false, "{again:?}");
    assert_eq!(again["msg"], "Nothing to do");

    // A pinned old version, then latest upgrades it (yum is dnf).
    let old = r.run("dnf", json!({"name": "hr-one-1.0-1"}), false).await;
    assert_eq!(old["changed"], true, "{old:?}");
    assert_eq!(rpm_state(&vm, "hr-one"), "hr-one-1.0-1.noarch");
    let latest = r
        .run("yum", json!({"name": "hr-one", "state": "latest"}), false)
        .await;
    assert_eq!(latest["changed"], true, "{latest:?}");
    assert_eq!(
        latest["results"],
        json!([
            "Installed: hr-one-2.0-1.noarch",
            "Removed: hr-one-1.0-1.noarch"
        ])
    );
    assert_eq!(rpm_state(&vm, "hr-one"), "hr-one-2.0-1.noarch");

    // An rpm file on the target.
    let file = json!({"name": "/srv/hr/hr-file-1.0-1.noarch.rpm", "disable_gpg_check": true});
    let local = r.run("dnf", file.clone(), false).await;
    assert_eq!(local["changed"], true, "{local:?}");
    assert_eq!(rpm_state(&vm, "hr-file"), "hr-file-1.0-1.noarch");
    assert_eq!(r.run("dnf", file, false).await["changed"], false);

    // A missing name fails as Ansible's; a disabled repository hides its packages.
    let missing = r.run("dnf", json!({"name": "hr-nope"}), false).await;
    assert_eq!(missing["failed"], true);
    assert_eq!(
        missing["msg"],
        "Failed to install some of the specified packages"
    );
    assert_eq!(
        missing["failures"],
        json!(["No package hr-nope available."])
    );
    let hidden = r
        .run(
            "dnf",
            json!({"name": "hr-other", "disablerepo": "hr"}),
            false,
        )
        .await;
    assert_eq!(hidden["failed"], true, "{hidden:?}");
    assert_eq!(rpm_state(&vm, "hr-other"), "");
    let mut disabled = repo_args.clone();
    disabled["enabled"] = json!(false);
    let off = r.run("yum_repository", disabled, false).await;
    assert_eq!(off["changed"], true, "{off:?}");
    assert_eq!(
        vm.exec_ok("grep enabled /etc/yum.repos.d/hr.repo"),
        "enabled = 0"
    );
    let enabled = r
        .run(
            "dnf",
            json!({"name": "hr-other", "enablerepo": ["hr"]}),
            false,
        )
        .await;
    assert_eq!(enabled["changed"], true, "{enabled:?}");
    assert_eq!(rpm_state(&vm, "hr-other"), "hr-other-1.0-1.noarch");

    // Removal (removed is absent), then nothing to do; package dispatches with use.
    let removed = r
        .run(
            "dnf",
            json!({"name": "hr-other", "state": "removed"}),
            false,
        )
        .await;
    assert_eq!(removed["changed"], true, "{removed:?}");
    assert_eq!(
        removed["results"],
        json!(["Removed: hr-other-1.0-1.noarch"])
    );
    assert_eq!(rpm_state(&vm, "hr-other"), "");
    let via_package = r
        .run(
            "package",
            json!({"name": "hr-two", "state": "absent", "use": "dnf"}),
            false,
        )
        .await;
    assert_eq!(via_package["changed"], true, "{via_package:?}");
    assert_eq!(rpm_state(&vm, "hr-two"), "");

    // absent removes the section, and the file with its last section.
    let gone = r
        .run(
            "yum_repository",
            json!({"name": "hr", "state": "absent"}),
            false,
        )
        .await;
    assert_eq!(gone["changed"], true, "{gone:?}");
    assert_eq!(vm.exec_ok("ls /etc/yum.repos.d"), "");

    // package_facts reads the rpm database.
    let facts = r
        .run("package_facts", json!({"manager": ["rpm"]}), false)
        .await;
    assert_eq!(
        facts["ansible_facts"]["packages"]["hr-one"],
        json!([{"name": "hr-one", "version": "2.0", "release": "1", "epoch": null,
                "arch": "noarch", "source": "rpm"}]),
        "{facts:?}"
    );
}

/// ansible-playbook 2.18 for the differential test: `$HOOK_RUNNER_ANSIBLE` (as the other
/// differential tests), else the venv `scripts/test.sh` caches.
fn ansible_playbook() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("HOOK_RUNNER_ANSIBLE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(".lab-cache/ansible-venv/bin/ansible-playbook")
        });
    let out = std::process::Command::new(&path)
        .arg("--version")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .contains("[core 2.18.")
        .then_some(path)
}

/// A Debian VM (`recipe`) with the test apt repository as its only source, lists emptied.
async fn apt_vm(options: lab::vm::VmOptions, repo: &std::path::Path) -> lab::vm::Vm {
    let vm = tokio::task::spawn_blocking(move || lab::vm::Vm::boot_with(options))
        .await
        .unwrap()
        .expect("booting a VM");
    pkgrepo::push_tree(&vm, repo, "/srv/hr").expect("repository on the VM");
    vm.exec_ok(
        "rm -f /etc/apt/sources.list.d/* && \
         echo 'deb [trusted=yes] file:/srv/hr/repo ./' > /etc/apt/sources.list && \
         rm -rf /var/lib/apt/lists/* && touch -d '2020-01-01' /var/lib/apt/lists",
    );
    vm
}

/// One task of a differential test: module, arguments, check mode.
type Step = (&'static str, serde_json::Value, bool);

/// Runs `steps` with ansible-playbook against `vm` (as root, its `/usr/bin/python3`), each
/// task's result registered, and returns them in order.
fn ansible_results(playbook_bin: &std::path::Path, vm: &lab::vm::Vm, steps: &[Step]) -> Vec<Map> {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("results.json");
    let mut play = String::from("- hosts: vm\n  gather_facts: false\n  tasks:\n");
    for (i, (module, args, check)) in steps.iter().enumerate() {
        play.push_str(&format!(
            "    - ansible.builtin.{module}: {args}\n      check_mode: {check}\n      register: r{i}\n      ignore_errors: true\n"
        ));
    }
    let all: Vec<String> = (0..steps.len()).map(|i| format!("r{i}")).collect();
    play.push_str(&format!(
        "    - ansible.builtin.copy:\n        content: \"{{{{ [{}] | to_json }}}}\"\n        dest: {}\n      delegate_to: localhost\n",
        all.join(", "),
        out.display()
    ));
    std::fs::write(work.path().join("play.yml"), play).unwrap();
    std::fs::write(
        work.path().join("inventory"),
        format!(
            "vm ansible_host={} ansible_port={} ansible_user=root ansible_ssh_private_key_file={} ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='-o UserKnownHostsFile=/dev/null'\n",
            vm.address(),
            vm.port(),
            vm.root_key().display()
        ),
    )
    .unwrap();
    let run = std::process::Command::new(playbook_bin)
        .args(["-i", "inventory", "play.yml"])
        .current_dir(work.path())
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .env("ANSIBLE_LOCAL_TEMP", work.path().join("tmp"))
        .output()
        .expect("ansible-playbook runs");
    let text = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        panic!(
            "ansible-playbook wrote no results:\n{}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let values: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    values
        .into_iter()
        .map(|v| v.as_object().cloned().unwrap_or_default())
        .collect()
}

/// Runs `steps` through hook-runner's modules on `vm` and compares each result with
/// Ansible's: the values of `compared` keys (a missing `changed`/`failed` is false, as the
/// executor makes it) and the set of keys, apart from the executor's (`*_lines`,
/// `invocation`, `failed`, `changed`), `warnings` and `ignored` ones. Returns the mismatches.
async fn compare_with_ansible(
    vm: &lab::vm::Vm,
    steps: &[Step],
    ansible: &[Map],
    compared: &[&str],
    ignored: &[&str],
) -> Vec<String> {
    let control = control_dir("hra");
    let root = connect(vm, "root", &control);
    let r = Runner::new(&root);
    let mut mismatches = Vec::new();
    for (i, (module, args, check)) in steps.iter().enumerate() {
        let ours = r.run(module, args.clone(), *check).await;
        let theirs = &ansible[i];
        let keys = |m: &Map| -> std::collections::BTreeSet<String> {
            m.keys()
                .filter(|k| {
                    !k.ends_with("_lines")
                        && !k.starts_with('_')
                        && !["invocation", "warnings", "failed", "changed"].contains(&k.as_str())
                        && !ignored.contains(&k.as_str())
                })
                .cloned()
                .collect()
        };
        if keys(&ours) != keys(theirs) {
            mismatches.push(format!(
                "step {i} {module} {args}: keys ansible {:?} / hook-runner {:?}",
                keys(theirs),
                keys(&ours)
            ));
        }
        for key in compared {
            let value = |m: &Map| match (*key, m.get(*key)) {
                ("changed" | "failed", None) => json!(false),
                // dnf's results come from a Python set in Ansible: their order is not its
                // behaviour, their content is.
                ("results", Some(serde_json::Value::Array(items))) => {
                    let mut items = items.clone();
                    items.sort_by_key(|v| v.to_string());
                    serde_json::Value::Array(items)
                }
                (_, v) => v.cloned().unwrap_or(serde_json::Value::Null),
            };
            if value(&ours) != value(theirs) {
                mismatches.push(format!(
                    "step {i} {module} {args}: {key} ansible {} / hook-runner {}",
                    value(theirs),
                    value(&ours)
                ));
            }
        }
    }
    mismatches
}

/// The same apt, apt_repository and package_facts tasks through ansible-playbook
/// (ansible-core 2.18; python3-apt on its VM, which its modules need) and through
/// hook-runner's modules on a VM of the same rootfs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apt_matches_ansible_core_2_18() {
    let mut needed = HOST_COMMANDS.to_vec();
    needed.extend_from_slice(pkgrepo::DEB_COMMANDS);
    if !lab::require_root_and("apt_matches_ansible_core_2_18", &needed) {
        return;
    }
    let Some(playbook_bin) = ansible_playbook() else {
        lab::require(
            false,
            "apt_matches_ansible_core_2_18",
            "ansible-playbook 2.18 (set HOOK_RUNNER_ANSIBLE, or run scripts/test.sh to make .lab-cache/ansible-venv)",
        );
        return;
    };
    let line = "deb [trusted=yes] file:/srv/hr/repo ./";
    let steps: Vec<Step> = vec![
        ("apt", json!({"update_cache": true}), false),
        (
            "apt",
            json!({"update_cache": true, "cache_valid_time": 3600}),
            false,
        ),
        ("apt", json!({"name": "hr-alpha=1.0-1"}), true),
        ("apt", json!({"name": "hr-alpha=1.0-1"}), false),
        ("apt", json!({"name": "hr-alpha=1.0-1"}), false),
        (
            "apt",
            json!({"name": ["hr-alpha"], "state": "latest"}),
            false,
        ),
        (
            "apt",
            json!({"name": "hr-gamma", "install_recommends": false}),
            false,
        ),
        ("apt", json!({"name": "hr-nope"}), false),
        ("apt", json!({"name": "hr-beta=9.9"}), false),
        ("apt", json!({"name": "hr-zz*"}), false),
        ("apt", json!({"name": "hr-conf"}), false),
        ("apt", json!({"name": "hr-conf", "state": "absent"}), false),
        ("apt", json!({"name": "hr-conf", "state": "absent"}), false),
        (
            "apt",
            json!({"name": "hr-conf", "state": "absent", "purge": true}),
            false,
        ),
        ("apt", json!({"name": "hr-alpha", "state": "absent"}), false),
        ("apt", json!({"autoremove": true}), true),
        ("apt", json!({"autoremove": true}), false),
        ("apt", json!({"autoremove": true}), false),
        (
            "apt",
            json!({"deb": "/srv/hr/hr-local_1.0-1_all.deb"}),
            false,
        ),
        (
            "apt",
            json!({"deb": "/srv/hr/hr-local_1.0-1_all.deb"}),
            false,
        ),
        ("apt", json!({"name": "hr-virtual"}), false),
        // apt_repository: the line already in sources.list, a new file (check mode, then for
        // real, then again), and its removal.
        (
            "apt_repository",
            json!({"repo": line, "update_cache": false}),
            false,
        ),
        (
            "apt_repository",
            json!({"repo": "deb [trusted=yes] file:/srv/hr/repo2 ./", "update_cache": false}),
            true,
        ),
        (
            "apt_repository",
            json!({"repo": "deb [trusted=yes] file:/srv/hr/repo2 ./", "update_cache": false, "filename": "hr2"}),
            false,
        ),
        (
            "apt_repository",
            json!({"repo": "deb [trusted=yes] file:/srv/hr/repo2 ./", "update_cache": false, "filename": "hr2"}),
            false,
        ),
        (
            "apt_repository",
            json!({"repo": "deb [trusted=yes] file:/srv/hr/repo2 ./", "state": "absent", "update_cache": false}),
            false,
        ),
        (
            "apt_repository",
            json!({"repo": "http://x stable main"}),
            false,
        ),
        ("package_facts", json!({"manager": ["apt"]}), false),
    ];
    let repo = tempfile::tempdir().unwrap();
    pkgrepo::build_apt_repo(&repo.path().join("repo"), &apt_packages()).expect("apt repository");
    TestPackage::new("hr-local", "1.0-1")
        .depends(&["hr-delta"])
        .build_deb(repo.path())
        .expect("local deb");

    let ansible_vm = apt_vm(lab::vm::VmOptions::python3_apt(), repo.path()).await;
    let ansible = ansible_results(&playbook_bin, &ansible_vm, &steps);
    drop(ansible_vm);
    let ours_vm = apt_vm(lab::vm::VmOptions::python3_apt(), repo.path()).await;
    let mut mismatches = compare_with_ansible(
        &ours_vm,
        &steps,
        &ansible,
        &[
            "changed",
            "failed",
            "msg",
            "cache_updated",
            "rc",
            "sources_added",
            "sources_removed",
            "state",
            "repo",
        ],
        &["stdout", "stderr", "diff", "cache_update_time"],
    )
    .await;
    // package_facts: the test packages as Ansible reports them (origin included).
    let control = control_dir("hrf");
    let root = connect(&ours_vm, "root", &control);
    let facts = Runner::new(&root)
        .run("package_facts", json!({"manager": ["apt"]}), false)
        .await;
    let theirs = &ansible.last().unwrap()["ansible_facts"]["packages"];
    let ours = &facts["ansible_facts"]["packages"];
    for name in [
        "hr-gamma",
        "hr-local",
        "hr-delta",
        "hr-provider",
        "dpkg",
        "bash",
    ] {
        if theirs[name] != ours[name] {
            mismatches.push(format!(
                "package_facts {name}: ansible {} / hook-runner {}",
                theirs[name], ours[name]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "differs from ansible-core 2.18:\n{}",
        mismatches.join("\n")
    );
}

/// The same yum_repository and dnf/yum tasks through ansible-playbook (its dnf module runs
/// with the dnf VM's python3-dnf) and through hook-runner's modules on a VM of the same rootfs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnf_matches_ansible_core_2_18() {
    let mut needed = HOST_COMMANDS.to_vec();
    needed.extend_from_slice(pkgrepo::RPM_COMMANDS);
    if !lab::require_root_and("dnf_matches_ansible_core_2_18", &needed) {
        return;
    }
    let Some(playbook_bin) = ansible_playbook() else {
        lab::require(
            false,
            "dnf_matches_ansible_core_2_18",
            "ansible-playbook 2.18 (set HOOK_RUNNER_ANSIBLE, or run scripts/test.sh to make .lab-cache/ansible-venv)",
        );
        return;
    };
    let repo_args = json!({"name": "hr", "description": "hook-runner tests",
        "baseurl": "file:///srv/hr/repo", "gpgcheck": false});
    let steps: Vec<Step> = vec![
        ("yum_repository", repo_args.clone(), true),
        ("yum_repository", repo_args.clone(), false),
        ("yum_repository", repo_args.clone(), false),
        (
            "yum_repository",
            json!({"name": "hr2", "description": "x"}),
            false,
        ),
        ("dnf", json!({"update_cache": true}), false),
        ("dnf", json!({"name": ["hr-two"], "state": "present"}), true),
        (
            "dnf",
            json!({"name": ["hr-two"], "state": "present"}),
            false,
        ),
        (
            "dnf",
            json!({"name": ["hr-two"], "state": "present"}),
            false,
        ),
        ("dnf", json!({"name": "hr-one-1.0-1"}), false),
        ("dnf", json!({"name": "hr-one", "state": "latest"}), false),
        ("dnf", json!({"name": "hr-nope"}), false),
        (
            "dnf",
            json!({"name": "/srv/hr/hr-file-1.0-1.noarch.rpm", "disable_gpg_check": true}),
            false,
        ),
        (
            "dnf",
            json!({"name": "/srv/hr/hr-file-1.0-1.noarch.rpm", "disable_gpg_check": true}),
            false,
        ),
        ("dnf", json!({"name": "hr-one", "state": "absent"}), true),
        ("dnf", json!({"name": "hr-one", "state": "absent"}), false),
        ("dnf", json!({"name": "hr-one", "state": "removed"}), false),
        (
            "yum_repository",
            json!({"name": "hr", "state": "absent"}),
            false,
        ),
    ];
    // Ansible's `auto` backend asks the pkg_mgr fact, which is `apt` on this Debian VM, and
    // fails; both sides are told dnf4, the dnf this VM has.
    let steps: Vec<Step> = steps
        .into_iter()
        .map(|(module, mut args, check)| {
            if module == "dnf" {
                args["use_backend"] = json!("dnf4");
            }
            (module, args, check)
        })
        .collect();
    let repo = tempfile::tempdir().unwrap();
    pkgrepo::build_rpm_repo(&repo.path().join("repo"), &rpm_packages()).expect("rpm repository");
    TestPackage::new("hr-file", "1.0-1")
        .build_rpm(repo.path())
        .expect("local rpm");
    let boot = || async {
        let vm = tokio::task::spawn_blocking(|| lab::vm::Vm::boot_with(lab::vm::VmOptions::dnf()))
            .await
            .unwrap()
            .expect("booting the dnf VM");
        pkgrepo::push_tree(&vm, repo.path(), "/srv/hr").expect("repository on the VM");
        vm.exec_ok("mkdir -p /etc/yum.repos.d");
        vm
    };
    let ansible_vm = boot().await;
    let ansible = ansible_results(&playbook_bin, &ansible_vm, &steps);
    drop(ansible_vm);
    let ours_vm = boot().await;
    let mismatches = compare_with_ansible(
        &ours_vm,
        &steps,
        &ansible,
        &[
            "changed", "failed", "msg", "rc", "results", "failures", "repo", "state",
        ],
        &["diff"],
    )
    .await;
    assert!(
        mismatches.is_empty(),
        "differs from ansible-core 2.18:\n{}",
        mismatches.join("\n")
    );
}
