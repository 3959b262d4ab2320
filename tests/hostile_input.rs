//! Property tests of quoting against a real host: hostile strings go into playbooks as data and
//! must reach the target as exactly that data, never as shell syntax.
//!
//! A seeded generator (fixed seed; `HOSTILE_SEED=<n>` explores another one, `HOSTILE_SAMPLES=<n>`
//! changes the count) builds file names, file contents, command arguments, environment values
//! and service names out of quotes, `$()`, backticks, `;`, `&&`, pipes, newlines, carriage
//! returns, tabs, leading dashes, spaces, globs, `~`, `$VAR`, `%` formats, YAML and Jinja-free
//! punctuation and non-ASCII text. They reach the playbook through a JSON vars file (JSON is
//! YAML); non-UTF-8 content goes through `copy: src` of a controller file with every byte value.
//!
//! Every hostile string that could run a command embeds a canary: the command
//! `hostile-canary-<pid>` (an executable this test puts on the target's PATH, which records
//! each call) and `touch $(printf \\57tmp\\57...)` (an absolute path spelled without a slash).
//!
//! The playbook drives `file` (directory, touch), `command` (argv, free-form with `| quote`,
//! `chdir`), `shell` (with `| quote`, and with `environment`), `copy` (`content`, binary `src`),
//! `stat` and `service` (check mode) through the CLI against a private loopback sshd. Then, on
//! the host: every sample directory holds exactly the intended entries with exactly the
//! intended bytes, nothing else was created, and no canary ran.

use lab::SshHost;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::sshd;

const DEFAULT_SEED: u64 = 0x0005_eed0_f405_711e;
const DEFAULT_SAMPLES: usize = 16;
/// A run of the whole playbook on loopback takes seconds; a hang must not stall the suite.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// splitmix64: small, seedable, good enough to pick fragments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// The canaries: what a hostile string runs if it is ever interpreted by a shell.
struct Canary {
    command: String,
    script: PathBuf,
    hits: PathBuf,
}

impl Canary {
    fn install() -> Canary {
        let id = std::process::id();
        let command = format!("hostile-canary-{id}");
        let script = PathBuf::from("/usr/local/bin").join(&command);
        let hits = PathBuf::from(format!("/tmp/hostile-canary-{id}.hit"));
        let _ = fs::remove_file(&hits);
        fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"canary ran: $*\" >> {}\n",
                hits.display()
            ),
        )
        .expect("write the canary command");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod canary");
        Canary {
            command,
            script,
            hits,
        }
    }

    /// Shell fragments that fire a canary when a shell parses them (no `/` in them: they go
    /// into file names too).
    fn fragments(&self) -> Vec<String> {
        let c = &self.command;
        let touch = format!(
            "touch $(printf \\\\57tmp\\\\57hostile-canary-{}.hit)",
            std::process::id()
        );
        vec![
            format!("$({c})"),
            format!("`{c}`"),
            format!(";{c};"),
            format!("; {c} #"),
            format!("\n{c}\n"),
            format!("&& {c}"),
            format!("|| {c}"),
            format!("| {c}"),
            format!("' ; {c} ; '"),
            format!("\" ; {c} ; \""),
            format!("'\"$({c})\"'"),
            format!("$( {touch} )"),
            format!("`{touch}`"),
            format!("\r\n{c}\r\n"),
            format!("${{IFS}}{c}"),
            format!("$(IFS=,;{c})"),
        ]
    }

    fn fired(&self) -> Option<String> {
        fs::read_to_string(&self.hits).ok()
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.script);
        let _ = fs::remove_file(&self.hits);
    }
}

/// Plain hostile pieces besides the canaries.
const PIECES: &[&str] = &[
    "'",
    "\"",
    "`",
    "\\",
    "\\'",
    "\\\"",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "*",
    "?",
    "[ab]",
    "[!x]",
    "~",
    "~root",
    "$HOME",
    "${HOME}",
    "$0",
    "$$",
    "$1",
    "$@",
    "%s",
    "%n",
    "%%",
    "#",
    ">",
    ">>",
    "<",
    "&",
    "!",
    "=",
    "a=b",
    ",",
    ":",
    ": ",
    "- ",
    "&anchor",
    "*alias",
    "{",
    "}",
    "[",
    "]",
    "é",
    "日本語",
    "\u{7f}",
    "--",
    "-rf",
    "-n",
    ".",
    "..",
    "x",
    "0",
    "007",
];

/// One generated sample: a file name, a file content, a command argument, an environment value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    content: String,
    arg: String,
    env: String,
}

fn hostile(rng: &mut Rng, canaries: &[String], max_parts: usize) -> String {
    let mut out = String::new();
    for _ in 0..1 + rng.below(max_parts) {
        if rng.below(3) == 0 {
            out.push_str(&canaries[rng.below(canaries.len())]);
        } else {
            out.push_str(rng.pick(PIECES));
        }
    }
    without_template_syntax(out)
}

/// Breaks `{{`, `{%` and `{#`: Ansible templates variable values, so template syntax in a
/// value is evaluated by design; that is not what this test is about.
fn without_template_syntax(mut text: String) -> String {
    for opener in ["{{", "{%", "{#"] {
        while let Some(at) = text.find(opener) {
            text.insert(at + 1, ' ');
        }
    }
    text
}

/// A file name: hostile, but a single path component (no `/`, no NUL, not `.`/`..`, short).
fn hostile_name(rng: &mut Rng, canaries: &[String], index: usize) -> String {
    let lead = rng.pick(&["", "-", "--", " ", "-rf ", "*", "~"]);
    let mut name = format!("{lead}{}", hostile(rng, canaries, 4));
    name.retain(|c| c != '/' && c != '\0');
    name.truncate(
        (0..=120.min(name.len()))
            .rev()
            .find(|&i| name.is_char_boundary(i))
            .unwrap_or(0),
    );
    // `path` parameters expand `$NAME`/`${NAME}` (Ansible's `path` type runs Python's
    // expandvars on the target), so names get `$-NAME`: still shell syntax (`$-` is a shell
    // parameter), never a variable for expandvars. The expansion has its own test below.
    // The `@index` suffix keeps names unique per sample and never `.`/`..`/empty.
    without_template_syntax(format!("{}@{index}", without_var_references(&name)))
}

/// `$NAME` and `${NAME}` become `$-NAME` and `$-{NAME}`.
fn without_var_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let starts_name = |n: &char| n.is_ascii_alphabetic() || *n == '_' || *n == '{';
        if c == '$' && chars.peek().is_some_and(starts_name) {
            out.push('-');
        }
    }
    out
}

fn generate(seed: u64, count: usize, canary: &Canary) -> Vec<Sample> {
    let canaries = canary.fragments();
    let mut rng = Rng(seed);
    (0..count)
        .map(|i| Sample {
            name: hostile_name(&mut rng, &canaries, i),
            // Prefixes keep Ansible's native-type conversion of a whole-value template (a
            // string that reads as a Python literal becomes a list/number) out of the way.
            content: format!("c:{}", hostile(&mut rng, &canaries, 8)),
            arg: format!("a:{}", hostile(&mut rng, &canaries, 6)),
            env: format!("v:{}", hostile(&mut rng, &canaries, 6)),
        })
        .collect()
}

/// What each sample directory must hold afterwards: relative path → expected bytes (None: a dir).
fn expected_entries(sample: &Sample) -> Vec<(String, Option<Vec<u8>>)> {
    let n = &sample.name;
    vec![
        ("dir".into(), None),
        (format!("dir/{n}"), None),
        (format!("dir/{n}/marker"), Some(Vec::new())),
        ("touch".into(), None),
        (format!("touch/{n}"), Some(Vec::new())),
        ("argv".into(), None),
        (format!("argv/{n}"), Some(Vec::new())),
        ("freeform".into(), None),
        (format!("freeform/{n}"), Some(Vec::new())),
        ("copy".into(), None),
        (
            format!("copy/{n}"),
            Some(sample.content.clone().into_bytes()),
        ),
        ("shell".into(), None),
        ("shell/out".into(), Some(sample.arg.clone().into_bytes())),
        ("argvsh".into(), None),
        ("argvsh/out".into(), Some(sample.arg.clone().into_bytes())),
        ("env".into(), None),
        ("env/out".into(), Some(sample.env.clone().into_bytes())),
    ]
}

const PLAYBOOK: &str = r#"- hosts: target
  gather_facts: false
  vars_files:
    - vars.json
  tasks:
    - name: sample directories
      file:
        path: "{{ base }}/{{ item }}"
        state: directory
      loop: "{{ dirs }}"
    - name: a directory with a hostile name
      file:
        path: "{{ base }}/s{{ idx }}/dir/{{ item.name }}"
        state: directory
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: command with a hostile chdir
      command:
        cmd: touch marker
        chdir: "{{ base }}/s{{ idx }}/dir/{{ item.name }}"
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: file state=touch
      file:
        path: "{{ base }}/s{{ idx }}/touch/{{ item.name }}"
        state: touch
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: command argv
      command:
        argv:
          - touch
          - "{{ base }}/s{{ idx }}/argv/{{ item.name }}"
        expand_argument_vars: false
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: free-form command with quote
      command:
        cmd: "touch {{ (base ~ '/s' ~ idx ~ '/freeform/' ~ item.name) | quote }}"
        expand_argument_vars: false
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: copy content
      copy:
        content: "{{ item.content }}"
        dest: "{{ base }}/s{{ idx }}/copy/{{ item.name }}"
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: shell with quote
      shell: "printf '%s' {{ item.arg | quote }} > {{ (base ~ '/s' ~ idx ~ '/shell/out') | quote }}"
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: argument through argv to sh
      command:
        argv:
          - sh
          - -c
          - 'printf %s "$1" > "$2"'
          - sh
          - "{{ item.arg }}"
          - "{{ base }}/s{{ idx }}/argvsh/out"
        expand_argument_vars: false
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: environment value
      shell: printf '%s' "$HOSTILE" > env/out
      args:
        chdir: "{{ base }}/s{{ idx }}"
      environment:
        HOSTILE: "{{ item.env }}"
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: stat of the hostile names
      stat:
        path: "{{ base }}/s{{ idx }}/touch/{{ item.name }}"
      register: st
      loop: "{{ samples }}"
      loop_control: {index_var: idx}
    - name: stat saw exactly those files
      assert:
        that:
          - item.stat.exists
          - item.stat.isreg
          - item.stat.path == base ~ '/s' ~ i ~ '/touch/' ~ samples[i].name
      loop: "{{ st.results }}"
      loop_control: {index_var: i, label: "{{ i }}"}
    - name: binary content through copy src
      copy:
        src: blob.bin
        dest: "{{ base }}/blob.bin"
    - name: hostile service names (check mode, must not run anything)
      service:
        name: "{{ item.name }}"
        state: started
      check_mode: true
      failed_when: false
      loop: "{{ samples }}"
"#;

const SUBDIRS: &[&str] = &[
    "dir", "touch", "argv", "freeform", "copy", "shell", "argvsh", "env",
];

/// Every byte value, then a stretch of invalid UTF-8 and CR/LF/NUL runs.
fn binary_blob(rng: &mut Rng) -> Vec<u8> {
    let mut blob: Vec<u8> = (0..=255u8).collect();
    blob.extend_from_slice(b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\0\0\r\n\r");
    blob.extend((0..4096).map(|_| (rng.next() & 0xff) as u8));
    blob
}

fn user_ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, user]).output().expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    (id("-u"), id("-g"))
}

/// Every entry under `dir`, relative, sorted.
fn tree(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.insert(rel);
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn run_hook_runner(work: &Path) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hook-runner"))
        .arg("run")
        .arg("-i")
        .arg(work.join("inventory.ini"))
        .arg(work.join("playbook.yml"))
        .env("HOOK_RUNNER_TERMINATION_LOG", work.join("termination-log"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hook-runner");
    let started = Instant::now();
    // Drain the pipes on threads so a chatty run cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut s);
        s
    });
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code().unwrap_or(-1);
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break -2;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = String::from_utf8_lossy(&out_thread.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned();
    (code, stdout, stderr)
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Compares the host's files with what each sample should have produced.
fn check_samples(base: &Path, samples: &[Sample], blob: &[u8]) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut wanted_top: BTreeSet<String> = (0..samples.len()).map(|i| format!("s{i}")).collect();
    wanted_top.insert("blob.bin".into());
    let top: BTreeSet<String> = fs::read_dir(base)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if top != wanted_top {
        wrong.push(format!(
            "base dir: unexpected entries {:?}, missing {:?}",
            top.difference(&wanted_top).collect::<Vec<_>>(),
            wanted_top.difference(&top).collect::<Vec<_>>()
        ));
    }
    match fs::read(base.join("blob.bin")) {
        Ok(bytes) if bytes == blob => {}
        Ok(bytes) => wrong.push(format!(
            "blob.bin: {} bytes on the host, {} sent; first difference at byte {:?}",
            bytes.len(),
            blob.len(),
            bytes.iter().zip(blob).position(|(a, b)| a != b)
        )),
        Err(e) => wrong.push(format!("blob.bin: {e}")),
    }
    for (i, sample) in samples.iter().enumerate() {
        let dir = base.join(format!("s{i}"));
        let expected = expected_entries(sample);
        let wanted: BTreeSet<String> = expected.iter().map(|(p, _)| p.clone()).collect();
        let found = tree(&dir);
        if found != wanted {
            wrong.push(format!(
                "sample {i} ({sample:?}): unexpected {:?}, missing {:?}",
                found.difference(&wanted).collect::<Vec<_>>(),
                wanted.difference(&found).collect::<Vec<_>>()
            ));
        }
        for (rel, bytes) in &expected {
            let Some(bytes) = bytes else { continue };
            match fs::read(dir.join(rel)) {
                Ok(got) if &got == bytes => {}
                Ok(got) => wrong.push(format!(
                    "sample {i}: {rel} holds {:?}, expected {:?}",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(bytes)
                )),
                Err(_) => {} // reported as missing above
            }
        }
    }
    wrong
}

#[test]
fn hostile_strings_reach_the_host_as_data_and_never_run() {
    lab::prologue!(test, lab::require_root(test));
    let seed = env_number("HOSTILE_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_number("HOSTILE_SAMPLES").map_or(DEFAULT_SAMPLES, |n| n as usize);
    eprintln!("hostile input: seed {seed:#x}, {count} samples (HOSTILE_SEED/HOSTILE_SAMPLES)");

    let host = SshHost::start_loopback().expect("start the loopback sshd");
    let canary = Canary::install();
    let samples = generate(seed, count, &canary);
    let mut rng = Rng(seed ^ 0xb10b);
    let blob = binary_blob(&mut rng);

    // The target is this machine: the test user's base dir is checked directly afterwards.
    let base_holder = tempfile::Builder::new()
        .prefix("hostile-")
        .tempdir()
        .expect("base dir");
    let base = base_holder.path().to_path_buf();
    let (uid, gid) = user_ids(host.user());
    std::os::unix::fs::chown(&base, Some(uid), Some(gid)).expect("chown base dir");

    let work = tempfile::tempdir().expect("work dir");
    let vars = json!({
        "base": base.display().to_string(),
        "dirs": (0..samples.len())
            .flat_map(|i| SUBDIRS.iter().map(move |d| format!("s{i}/{d}")))
            .collect::<Vec<String>>(),
        "samples": samples.iter().map(|s| json!({
            "name": s.name, "content": s.content, "arg": s.arg, "env": s.env,
        })).collect::<Vec<Value>>(),
    });
    fs::write(
        work.path().join("vars.json"),
        serde_json::to_string_pretty(&vars).expect("vars json"),
    )
    .expect("write vars");
    fs::create_dir(work.path().join("files")).expect("files dir");
    fs::write(work.path().join("files/blob.bin"), &blob).expect("write blob");
    fs::write(work.path().join("playbook.yml"), PLAYBOOK).expect("write playbook");
    sshd::write_target_inventory(work.path(), &host);

    let started = Instant::now();
    let (code, stdout, stderr) = run_hook_runner(work.path());
    eprintln!(
        "hook-runner ran {} samples in {:.1} s (exit {code})",
        samples.len(),
        started.elapsed().as_secs_f64()
    );

    let mut report = String::new();
    if let Some(hits) = canary.fired() {
        let _ = writeln!(report, "CANARY RAN: a hostile string was executed:\n{hits}");
    }
    if code != 0 {
        let _ = writeln!(
            report,
            "hook-runner exited {code} (-2: killed after {RUN_TIMEOUT:?})\nstdout (end):\n{}\nstderr (end):\n{}",
            tail(&stdout, 6000),
            tail(&stderr, 3000)
        );
    }
    for line in check_samples(&base, &samples, &blob) {
        let _ = writeln!(report, "{line}");
    }
    assert!(
        report.is_empty(),
        "seed {seed:#x} ({count} samples): hostile input was not kept as data:\n{report}"
    );
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[test]
fn generated_samples_cover_every_hostile_class() {
    // The generator itself: with the default seed and count, the samples contain each class
    // the property is about (so a change of generator cannot quietly make the test toothless).
    let canary = Canary {
        command: "hostile-canary-0".into(),
        script: PathBuf::from("/nonexistent/hostile-canary-0"),
        hits: PathBuf::from("/nonexistent/hostile-canary-0.hit"),
    };
    let samples = generate(DEFAULT_SEED, DEFAULT_SAMPLES, &canary);
    let all: String = samples
        .iter()
        .map(|s| format!("{}{}{}{}", s.name, s.content, s.arg, s.env))
        .collect();
    for class in [
        "'",
        "\"",
        "$(",
        "`",
        ";",
        "\n",
        " ",
        "*",
        "hostile-canary-0",
        "\\",
    ] {
        assert!(all.contains(class), "no sample contains {class:?}");
    }
    assert!(
        samples.iter().any(|s| s.name.starts_with('-')),
        "no file name starts with a dash"
    );
    for s in &samples {
        assert!(
            !s.name.contains('/') && !s.name.is_empty(),
            "bad name {:?}",
            s.name
        );
        for text in [&s.name, &s.content, &s.arg, &s.env] {
            assert!(
                !text.contains("{{") && !text.contains("{%") && !text.contains("{#"),
                "a sample contains template syntax, which Ansible would evaluate: {text:?}"
            );
        }
    }
}

/// Names with shell-variable syntax given to `path` parameters, and what Ansible creates: its
/// `path` type runs Python's `os.path.expandvars` in the module's process, so only *environment*
/// variables expand (here `HR_SET`, set with the task's `environment`); a shell's own unexported
/// variables (`IFS`, `PS4`, `OPTIND`) and the remote script's internal variables do not exist
/// there, and an unset `${NAME}` stays exactly as written (braces included).
const PATH_VAR_CASES: &[(&str, &str)] = &[
    ("a-$HR_SET", "a-set-value"),
    ("b-${HR_SET}", "b-set-value"),
    ("c-${IFS}", "c-${IFS}"),
    ("d-$IFS", "d-$IFS"),
    ("e-$PS4", "e-$PS4"),
    ("f-$OPTIND", "f-$OPTIND"),
    ("g-${HR_UNSET_VARIABLE}", "g-${HR_UNSET_VARIABLE}"),
    ("h-$HR_UNSET_VARIABLE", "h-$HR_UNSET_VARIABLE"),
    ("i-$CHECK", "i-$CHECK"),
    ("j-$_c", "j-$_c"),
    ("k-$D", "k-$D"),
    ("l-$m", "l-$m"),
];

#[test]
fn path_parameters_expand_only_environment_variables() {
    lab::prologue!(test, lab::require_root(test));
    let host = SshHost::start_loopback().expect("start the loopback sshd");
    let base_holder = tempfile::Builder::new()
        .prefix("hostile-vars-")
        .tempdir()
        .expect("base dir");
    let base = base_holder.path().to_path_buf();
    let (uid, gid) = user_ids(host.user());
    std::os::unix::fs::chown(&base, Some(uid), Some(gid)).expect("chown base dir");
    let work = tempfile::tempdir().expect("work dir");
    let vars = json!({
        "base": base.display().to_string(),
        "names": PATH_VAR_CASES.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    });
    fs::write(work.path().join("vars.json"), vars.to_string()).expect("write vars");
    fs::write(
        work.path().join("playbook.yml"),
        r#"- hosts: target
  gather_facts: false
  vars_files: [vars.json]
  tasks:
    - file:
        path: "{{ base }}/{{ item }}"
        state: touch
      environment:
        HR_SET: set-value
      loop: "{{ names }}"
"#,
    )
    .expect("write playbook");
    sshd::write_target_inventory(work.path(), &host);
    let (code, stdout, stderr) = run_hook_runner(work.path());
    assert_eq!(
        code,
        0,
        "hook-runner failed:\n{}\n{}",
        tail(&stdout, 4000),
        tail(&stderr, 2000)
    );
    let found = tree(&base);
    let mut wrong = Vec::new();
    for (given, wanted) in PATH_VAR_CASES {
        if !found.contains(*wanted) {
            let prefix = &given[..2];
            let got: Vec<&String> = found.iter().filter(|f| f.starts_with(prefix)).collect();
            wrong.push(format!(
                "path {given:?}: expected file {wanted:?}, found {got:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "`path` parameters expand variables that are not in the target's environment (Ansible \
         expands with Python's expandvars over os.environ only; src/shell.rs path_word emits \
         `${{NAME-'$NAME'}}`, which the remote script's shell also resolves from its unexported \
         shell variables and from the script's own variables, and which turns an unset \
         `${{NAME}}` into `$NAME`):\n  {}",
        wrong.join("\n  ")
    );
}
