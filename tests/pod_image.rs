//! The image's runtime, without a container engine: the runtime layout of `images/Containerfile`
//! assembled on this machine and run in the lab's simulated pod (`lab::pod`), as Forklift runs a
//! hook on OpenShift: UID 1000770000 with GID 0 and no passwd entry, `HOME=/home/runner` (group 0
//! writable, as the image makes it), a private `/tmp` (the emptyDir), the hook ConfigMap read-only at
//! `/tmp/hook`, and the command as PID 1.
//!
//! The layout: the built binary at `/usr/local/bin/hook-runner`, `images/entrypoint` at
//! `/bin/entrypoint`, and this machine's `ssh`, `tini` and `libnss_wrapper.so` (the image installs the
//! same programs from UBI packages and tini's release).
//!
//! What is checked:
//! - identity: without the entrypoint `ssh` says "No user exists for uid"; through it `id -un`,
//!   `getent passwd` and `ssh -G` resolve the UID, whose home is `$HOME`; `/etc/passwd` is untouched;
//!   also when `/bin/sh` is bash (UBI), when `HOME` is unusable (fallbacks), and for a UID whose
//!   existing entry has another home (`nobody`: the entry is replaced, home `$HOME`);
//! - PID 1: the entrypoint puts tini in front, and orphaned children exited do not stay zombies
//!   (the same command as PID 1 without the entrypoint leaves one: the check can fail);
//! - Forklift's exact argv reaches hook-runner, which runs a localhost playbook (relative
//!   `vars_files` from `/tmp/hook` while the working directory is the image's WORKDIR), creates the
//!   private data dir `/tmp/runner` and its artifacts, and writes the termination message; the other
//!   argv shapes (`ansible-playbook P`, no argument, `run P`, `--version`) reach it too;
//! - the deadline's SIGTERM to PID 1 (tini) reaches hook-runner, which ends the run itself
//!   (`canceled`) long before SIGKILL;
//! - a key a playbook writes to `~/.ssh/id_rsa` is used by the next SSH connection (no key option),
//!   the key is in no output, and the ssh control processes leave no zombies.
//!
//! Needs root, `unshare`, `setpriv`, `tini`, `ssh`, `getent` and Debian's libnss-wrapper (see
//! `lab::require_root`). Everything created lives in temp dirs removed on drop; the lab removes the
//! mount points it had to create (`/tmp/hook`, `/bin/entrypoint`, ...) after the last pod.

use crate::process;

use lab::pod::{Pod, PodOutput, DEFAULT_UID};
use lab::SshHost;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where the image installs the entrypoint.
const ENTRYPOINT: &str = "/bin/entrypoint";
/// The container command Forklift sets when the Hook has a playbook.
const FORKLIFT_ARGV: [&str; 6] = [
    ENTRYPOINT,
    "ansible-runner",
    "run",
    "/tmp/runner",
    "-p",
    "/tmp/hook/playbook.yml",
];
/// Debian's path of the library (the entrypoint also looks in UBI's /usr/lib64).
const NSS_WRAPPER: &str = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";
/// The image's HOME.
const HOME: &str = "/home/runner";

/// Relative `vars_files` resolve next to the playbook (/tmp/hook), whatever the working directory.
const HELLO_PLAYBOOK: &str = r#"- name: Hello
  hosts: localhost
  gather_facts: false
  vars_files:
    - plan.yml
    - workload.yml
  tasks:
    - name: Say hello
      ansible.builtin.debug:
        msg: "hello from {{ inventory_hostname }} for {{ vm.vm1.vm0.name }} in {{ targetnamespace }}"
"#;

/// Prints `key=value` lines about the identity the pod's processes get.
const IDENTITY_SCRIPT: &str = r#"
echo "name=$(id -un)"
echo "passwd=$(getent passwd "$(id -u)")"
echo "home=$HOME"
echo "ssh=$(ssh -G localhost </dev/null | grep '^user ')"
if [ -w /etc/passwd ]; then echo etc_passwd=writable; else echo etc_passwd=read-only; fi
echo "pid1=$(cat /proc/1/comm)"
echo "nss=${NSS_WRAPPER_PASSWD:-}"
"#;

/// An orphan that exits while PID 1 is a program that never waits (`sleep`), and a probe that
/// counts the zombies of the pod's PID namespace meanwhile.
const ORPHAN_SCRIPT: &str = r#"
(sleep 0.3 &)
(sleep 1; echo "zombies=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l) pid1=$(cat /proc/1/comm)") &
exec sleep 1.5
"#;

/// Counts zombies and leftover ssh processes after hook-runner (not PID 1) has finished.
const AFTER_RUN_PROBE: &str = r#"
hook-runner ansible-runner run /tmp/runner -p /tmp/hook/playbook.yml
rc=$?
sleep 0.5
echo "zombies=$(grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l)"
echo "ssh_left=$(grep -lx ssh /proc/[0-9]*/comm 2>/dev/null | wc -l)"
exit $rc
"#;

fn prerequisites(test: &str) -> bool {
    lab::require_root_and(test, &["unshare", "setpriv", "tini", "ssh", "getent"])
        && lab::require(
            Path::new(NSS_WRAPPER).exists(),
            test,
            "libnss-wrapper (Debian package)",
        )
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temp dir in cargo's target tmp dir, traversable by the pod's UID.
fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    chmod(dir.path(), 0o755);
    dir
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The image's filesystem pieces on this machine, removed on drop.
struct Image {
    /// `bin/` (bound at /usr/local/bin), `tmp/` (at /tmp), `home/runner` (at /home/runner).
    root: tempfile::TempDir,
    /// The hook ConfigMap: playbook.yml, plan.yml, workload.yml.
    hook: tempfile::TempDir,
}

impl Image {
    fn new(playbook: &str) -> Image {
        // Not under /tmp: the pod gets its own /tmp, bound over the host's, which would hide them.
        let root = scratch_dir("hr-image-");
        let bin = root.path().join("bin");
        fs::create_dir(&bin).unwrap();
        chmod(&bin, 0o755);
        process::install_binary(&bin);
        // The pod's /tmp: world-writable and sticky like an emptyDir, with the hook mount point.
        let tmp = root.path().join("tmp");
        fs::create_dir_all(tmp.join("hook")).unwrap();
        chmod(&tmp, 0o1777);
        // As the Containerfile makes it: owned by root, group 0, group-writable (chmod g=u).
        let home = root.path().join("home/runner");
        fs::create_dir_all(&home).unwrap();
        chmod(&root.path().join("home"), 0o755);
        chmod(&home, 0o775);

        let hook = scratch_dir("hr-image-hook-");
        fs::write(hook.path().join("playbook.yml"), playbook).unwrap();
        for file in ["plan.yml", "workload.yml"] {
            fs::copy(
                repo().join("playbooks/example").join(file),
                hook.path().join(file),
            )
            .unwrap();
        }
        Image { root, hook }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    /// A pod running the image: PID 1 is the command itself, as with Forklift's `command`.
    fn pod(&self) -> Pod {
        Pod::new(self.hook.path())
            .pid1(true)
            .home(HOME)
            // The image's WORKDIR (Forklift sets no workingDir).
            .workdir(HOME)
            .bind(self.path("tmp"), "/tmp", false)
            .bind(self.hook.path(), "/tmp/hook", true)
            .bind(self.path("home"), "/home", false)
            .bind(self.path("bin"), "/usr/local/bin", true)
            .bind(repo().join("images/entrypoint"), ENTRYPOINT, true)
    }
}

fn run(pod: Pod, argv: &[&str]) -> PodOutput {
    pod.run(argv)
        .unwrap_or_else(|e| panic!("pod {argv:?}: {e:#}"))
}

/// The value of the `key=` line of the output.
fn value<'a>(out: &'a PodOutput, key: &str) -> &'a str {
    let prefix = format!("{key}=");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key}= line in the pod's output: {out:#?}"))
}

#[test]
fn pod_image_entrypoint_gives_the_arbitrary_uid_a_passwd_entry_whose_home_is_home() {
    lab::prologue!(test, prerequisites(test));
    let image = Image::new(HELLO_PLAYBOOK);
    let passwd_before = fs::read("/etc/passwd").unwrap();

    // The pod as it is: the OpenSSH client refuses to run.
    let bare = run(image.pod(), &["sh", "-c", "ssh -G localhost </dev/null"]);
    assert!(
        bare.stderr
            .contains(&format!("No user exists for uid {DEFAULT_UID}")),
        "the simulated pod must lack a passwd entry: {bare:#?}"
    );

    let out = run(image.pod(), &[ENTRYPOINT, "sh", "-c", IDENTITY_SCRIPT]);
    assert!(out.success(), "{out:#?}");
    assert!(!out.stderr.contains("No user exists"), "{out:#?}");
    assert_eq!(value(&out, "name"), "runner");
    assert_eq!(
        value(&out, "passwd"),
        format!("runner:x:{DEFAULT_UID}:0:hook-runner:{HOME}:/bin/sh")
    );
    assert_eq!(value(&out, "home"), HOME);
    assert_eq!(value(&out, "ssh"), "user runner");
    assert_eq!(value(&out, "etc_passwd"), "read-only");
    assert_eq!(value(&out, "pid1"), "tini");
    // The nss_wrapper files are in the pod's /tmp, not in HOME and not in /etc.
    assert!(
        value(&out, "nss").starts_with("/tmp/hook-runner-nss."),
        "{out:#?}"
    );
    assert_eq!(
        fs::read("/etc/passwd").unwrap(),
        passwd_before,
        "/etc/passwd changed"
    );
}

#[test]
fn pod_image_entrypoint_works_under_bash_as_on_ubi() {
    lab::prologue!(
        test,
        prerequisites(test) || !lab::require_command(test, "bash")
    );
    let image = Image::new(HELLO_PLAYBOOK);
    // UBI's /bin/sh is bash. Not PID 1 (the lab's tini is), so bash runs the whole script.
    let pod = image.pod().pid1(false);
    let out = run(pod, &["bash", ENTRYPOINT, "sh", "-c", IDENTITY_SCRIPT]);
    assert!(out.success(), "{out:#?}");
    assert_eq!(
        value(&out, "passwd"),
        format!("runner:x:{DEFAULT_UID}:0:hook-runner:{HOME}:/bin/sh")
    );
    assert_eq!(value(&out, "ssh"), "user runner");
}

#[test]
fn pod_image_entrypoint_falls_back_to_a_writable_home() {
    lab::prologue!(test, prerequisites(test));
    let image = Image::new(HELLO_PLAYBOOK);
    // An unusable HOME: /home/runner is next.
    let out = run(
        image.pod().env("HOME", "/nonexistent/home"),
        &[ENTRYPOINT, "sh", "-c", IDENTITY_SCRIPT],
    );
    assert!(out.success(), "{out:#?}");
    assert_eq!(value(&out, "home"), HOME);
    assert!(
        value(&out, "passwd").ends_with(&format!(":{HOME}:/bin/sh")),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("HOME=/nonexistent/home is not writable"),
        "{out:#?}"
    );

    // /home/runner read-only too: /tmp.
    chmod(&image.path("home/runner"), 0o755);
    let out = run(image.pod(), &[ENTRYPOINT, "sh", "-c", IDENTITY_SCRIPT]);
    assert!(out.success(), "{out:#?}");
    assert_eq!(value(&out, "home"), "/tmp");
    assert!(value(&out, "passwd").ends_with(":/tmp:/bin/sh"), "{out:#?}");
    assert_eq!(value(&out, "ssh"), "user runner");
}

#[test]
fn pod_image_entrypoint_as_pid1_leaves_no_zombies() {
    lab::prologue!(test, prerequisites(test));
    let image = Image::new(HELLO_PLAYBOOK);
    // Control: the same command as PID 1 without the entrypoint keeps the orphan as a zombie.
    let bare = run(image.pod(), &["sh", "-c", ORPHAN_SCRIPT]);
    assert!(bare.success(), "{bare:#?}");
    assert_eq!(value(&bare, "zombies"), "1 pid1=sleep", "{bare:#?}");

    let out = run(image.pod(), &[ENTRYPOINT, "sh", "-c", ORPHAN_SCRIPT]);
    assert!(out.success(), "{out:#?}");
    assert_eq!(value(&out, "zombies"), "0 pid1=tini", "{out:#?}");
}

#[test]
fn pod_image_forklift_argv_runs_the_playbook_with_hook_runner() {
    lab::prologue!(test, prerequisites(test));
    let image = Image::new(HELLO_PLAYBOOK);
    let out = run(image.pod(), &FORKLIFT_ARGV);
    assert!(out.success(), "{out:#?}");
    assert!(
        out.stdout
            .contains("\"msg\": \"hello from localhost for rhel9-web01 in konveyor-forklift\""),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("localhost                  : ok=1 "),
        "{out:#?}"
    );

    // The private data dir was created in the pod's /tmp, with ansible-runner's artifacts.
    let artifacts: Vec<PathBuf> = fs::read_dir(image.path("tmp/runner/artifacts"))
        .unwrap_or_else(|e| panic!("no /tmp/runner/artifacts: {e}; {out:#?}"))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let read = |name: &str| fs::read_to_string(artifacts[0].join(name)).unwrap_or_default();
    assert_eq!(read("rc").trim(), "0");
    assert_eq!(read("status").trim(), "successful");
    // The JSON summary in /dev/termination-log, as `kubectl get pod -o yaml` shows it.
    let summary: serde_json::Value = serde_json::from_str(&out.termination_message)
        .unwrap_or_else(|e| panic!("termination message is not JSON ({e}): {out:#?}"));
    assert_eq!(summary["status"], "successful", "{summary}");
    assert_eq!(summary["rc"], 0, "{summary}");
}

/// A playbook that writes the VM key to `~/.ssh/id_rsa` (as the MTV docs hook does), adds the host
/// without any key option and runs a command on it.
fn ssh_playbook(host: &SshHost, key: &str) -> String {
    let indented: String = key.lines().map(|l| format!("          {l}\n")).collect();
    format!(
        r#"- name: Prepare SSH access
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Ensure the SSH directory exists
      ansible.builtin.file:
        path: ~/.ssh
        state: directory
        mode: "0700"
    - name: Write the private key
      ansible.builtin.copy:
        dest: ~/.ssh/id_rsa
        mode: "0600"
        content: |
{indented}      no_log: true
    - name: Add the VM
      ansible.builtin.add_host:
        name: "{address}"
        groups: vms
        ansible_port: {port}
        ansible_user: {user}

- name: On the VM
  hosts: vms
  gather_facts: false
  tasks:
    - name: Who am I
      ansible.builtin.command: id -un
      register: who
    - name: Show it
      ansible.builtin.debug:
        msg: "remote user {{{{ who.stdout }}}}"
"#,
        address = host.address(),
        port = host.port(),
        user = host.user(),
    )
}

#[test]
fn pod_image_key_written_to_home_ssh_is_used_and_ssh_leaves_no_zombies() {
    lab::prologue!(test, prerequisites(test));
    let host = SshHost::start_loopback().expect("sshd");
    let key = fs::read_to_string(host.key_path()).unwrap();
    let image = Image::new(&ssh_playbook(&host, &key));
    let out = run(image.pod(), &[ENTRYPOINT, "sh", "-c", AFTER_RUN_PROBE]);
    assert!(out.success(), "{out:#?}\nsshd log:\n{}", host.log());
    assert!(
        out.stdout
            .contains(&format!("\"msg\": \"remote user {}\"", host.user())),
        "{out:#?}"
    );
    assert_eq!(value(&out, "zombies"), "0", "{out:#?}");
    // The key reached the pod's HOME (the passwd entry's home), and no output shows it.
    assert_eq!(
        fs::read_to_string(image.path("home/runner/.ssh/id_rsa")).unwrap(),
        key
    );
    let secret_line = key.lines().nth(1).expect("a key body line");
    for (name, text) in [
        ("stdout", &out.stdout),
        ("stderr", &out.stderr),
        ("termination message", &out.termination_message),
    ] {
        assert!(
            !text.contains(secret_line),
            "the private key is in the {name}"
        );
    }
    let leaks = files_containing(&image.path("tmp/runner"), secret_line);
    assert!(
        leaks.is_empty(),
        "the private key is in the artifacts: {leaks:?}"
    );
    // hook-runner closed its SSH control masters before exiting.
    assert_eq!(value(&out, "ssh_left"), "0", "{out:#?}");
}

/// The files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if fs::read(&path)
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}

#[test]
fn pod_image_entrypoint_hands_other_argv_shapes_to_hook_runner() {
    lab::prologue!(test, prerequisites(test));
    let image = Image::new(HELLO_PLAYBOOK);
    let hello = "\"msg\": \"hello from localhost for rhel9-web01 in konveyor-forklift\"";
    // ansible-playbook's argv, and no argument at all (the image's CMD runs the mounted hook).
    for argv in [
        vec![ENTRYPOINT, "ansible-playbook", "/tmp/hook/playbook.yml"],
        vec![ENTRYPOINT],
        vec![ENTRYPOINT, "run", "/tmp/hook/playbook.yml"],
    ] {
        let out = run(image.pod(), &argv);
        assert!(
            out.success() && out.stdout.contains(hello),
            "{argv:?}: {out:#?}"
        );
    }
    let out = run(image.pod(), &[ENTRYPOINT, "--version"]);
    assert!(
        out.success() && out.stdout.starts_with("hook-runner "),
        "{out:#?}"
    );
}

#[test]
fn pod_image_deadline_sigterm_reaches_hook_runner_through_tini() {
    lab::prologue!(test, prerequisites(test));
    let playbook = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: Take long
      ansible.builtin.command: sleep 60
"#;
    let image = Image::new(playbook);
    // SIGTERM goes to PID 1 (tini), which must forward it: hook-runner then ends the run itself,
    // well before the SIGKILL that would follow the grace period.
    let pod = image
        .pod()
        .deadline(std::time::Duration::from_secs(2))
        .grace(std::time::Duration::from_secs(10));
    let out = run(pod, &FORKLIFT_ARGV);
    assert!(out.deadline_exceeded, "{out:#?}");
    assert!(
        out.code().is_some_and(|c| c != 0),
        "hook-runner did not exit by itself: {out:#?}"
    );
    assert!(out.duration < std::time::Duration::from_secs(7), "{out:#?}");
    let summary: serde_json::Value = serde_json::from_str(&out.termination_message)
        .unwrap_or_else(|e| panic!("termination message is not JSON ({e}): {out:#?}"));
    assert!(
        summary["status"] == "canceled" || summary["status"] == "timeout",
        "{summary}"
    );
    assert_eq!(summary["rc"], serde_json::json!(out.code()), "{summary}");
}

#[test]
fn pod_image_entrypoint_overrides_a_passwd_home_that_is_not_home() {
    lab::prologue!(test, prerequisites(test));
    // `nobody` (65534) has an entry whose home is not $HOME: ssh would look for ~/.ssh there.
    let Some(nobody) = fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find(|l| l.split(':').nth(2) == Some("65534"))
        .map(str::to_string)
    else {
        eprintln!("{test}: no passwd entry for 65534 on this machine: nothing to override");
        return;
    };
    let name = nobody.split(':').next().unwrap().to_string();
    let image = Image::new(HELLO_PLAYBOOK);
    let out = run(
        image.pod().uid(65534),
        &[ENTRYPOINT, "sh", "-c", IDENTITY_SCRIPT],
    );
    assert!(out.success(), "{out:#?}");
    assert_eq!(
        value(&out, "passwd"),
        format!("{name}:x:65534:0:hook-runner:{HOME}:/bin/sh")
    );
    assert_eq!(value(&out, "ssh"), format!("user {name}"));
}
