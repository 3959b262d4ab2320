//! The seed scenario: the MTV documentation's hook (corpus `mtv-docs-stop-mariadb.yml`) as a
//! hook pod runs it: `k8s_info` reads the VM's key from a Secret on the lab Kubernetes API
//! server, the key is written to `~/.ssh/id_rsa`, `add_host` adds the VM, then MariaDB is
//! stopped and a file written on a systemd VM (`lab::vm`). Between runs the VM is reset:
//! MariaDB started again, the file removed; every run has a fresh `HOME`.
//!
//! The lab VM has no Python (hook-runner does not need it). Ansible cannot run modules without
//! it, so after boot the suite copies the host's Debian bookworm Python 3.11 (the files of its
//! packages, which are the VM's own distribution's) into the VM: `/usr/bin/python3` is found by
//! Ansible's interpreter discovery, as on a VM that has python3 installed. hook-runner runs
//! against the same VM and does not use it.
//!
//! The floor: one fresh SSH connection to the VM (`ssh root@vm true`) plus the time the VM takes
//! for `systemctl stop mariadb` itself (timed inside the VM).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lab::kube_api::{service_account, KubeApi, Rule};
use lab::vm::Vm;

use crate::measure;
use crate::peers::{close_masters, Tool};
use crate::report::{Floor, Row, Scenario};
use crate::scenarios::Ctx;

const NS: &str = "openshift-mtv";
/// The Debian packages that make `python3` on bookworm (plus what they need that the VM lacks).
const PYTHON_PACKAGES: &[&str] = &[
    "python3-minimal",
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "python3.11",
    "python3",
    "libsqlite3-0",
    "media-types",
];

pub fn seed(ctx: &Ctx) -> Result<Scenario> {
    if !Path::new(NSS_WRAPPER).exists() {
        bail!("{NSS_WRAPPER} is missing (apt-get install libnss-wrapper)");
    }
    let machine_key_existed = machine_key().exists();
    let vm = Vm::boot().context("booting the lab VM")?;
    let with_python = ctx.peers.venv.is_some();
    if with_python {
        install_python(&vm, &ctx.scratch)?;
    }
    let api = KubeApi::try_start()?;
    let key = fs::read(vm.root_key())?;
    api.add_secret(NS, "privkey", &[("key", &key)]);
    let token = api.token(
        &service_account(NS, "forklift-hook"),
        &[Rule::new(&["get", "list"], &["secrets"]).in_namespace(NS)],
    );
    let dir = ctx.scratch.join("seed");
    fs::create_dir_all(&dir)?;
    let kubeconfig = dir.join("kubeconfig");
    api.write_kubeconfig(&kubeconfig, &token)?;
    let hook = write_hook_dir(ctx, &dir, &vm)?;
    let inventory = dir.join("localhost.ini");
    if with_python {
        fs::write(
            &inventory,
            format!(
                "localhost ansible_connection=local ansible_python_interpreter={}\n",
                ctx.peers.python()?.display()
            ),
        )?;
    }

    let mut rows = vec![Row::new(Tool::HookRunner { forks: None }.label())];
    let mut runners = vec![Tool::HookRunner { forks: None }];
    if with_python {
        for r in [
            Tool::Stock { forks: None },
            Tool::Pipelining { forks: None },
            Tool::Mitogen { forks: None },
        ] {
            rows.push(Row::new(r.label()));
            runners.push(r);
        }
    }
    let mut floor = Floor {
        label: "ssh connect + systemctl stop mariadb".into(),
        walls: Vec::new(),
        note: "a fresh `ssh root@vm true` plus the VM's own `systemctl stop mariadb` time (timed inside the VM)."
            .into(),
    };
    let mut stops = Vec::new();
    let mut connects = Vec::new();
    for round in 0..ctx.runs {
        reset(&vm)?;
        let (connect, stop) = floor_once(&vm)?;
        floor.walls.push(connect + stop);
        connects.push(connect);
        stops.push(stop);
        for (runner, row) in runners.iter().zip(rows.iter_mut()) {
            if row.error.is_some() {
                continue;
            }
            reset(&vm)?;
            let work = ctx.scratch.join(format!("s{round}-{}", row.label.len()));
            let _ = fs::remove_dir_all(&work);
            fs::create_dir_all(&work)?;
            let result = seed_command(ctx, *runner, &hook, &inventory, &kubeconfig, &work)
                .and_then(|mut cmd| {
                    measure::run(&mut cmd, &work.join("log"), &|| {
                        if runner.is_ansible() {
                            close_masters(&work)
                        }
                    })
                })
                .and_then(|sample| {
                    if !machine_key_existed && machine_key().exists() {
                        bail!(
                            "the run wrote {}: the hook's ~ was not the run's home",
                            machine_key().display()
                        );
                    }
                    verify(&vm)?;
                    Ok(sample)
                });
            match result {
                Ok(sample) => {
                    eprintln!(
                        "bench: seed {}/{} {:<34} {:>9.3} s  cpu {:.3} s  rss {} KiB",
                        round + 1,
                        ctx.runs,
                        row.label,
                        sample.wall.as_secs_f64(),
                        sample.cpu.as_secs_f64(),
                        sample.tree_maxrss_kb
                    );
                    row.samples.push(sample);
                }
                Err(e) => {
                    eprintln!("bench: seed {} FAILED: {e:#}", row.label);
                    row.error = Some(format!("{e:#}"));
                }
            }
        }
    }
    if let Some(out) = std::env::var_os("BENCH_SEED_PROFILE") {
        profile_once(ctx, &vm, &hook, &inventory, &kubeconfig, Path::new(&out))?;
    }
    let mut notes = vec![format!(
        "Floor parts (medians): fresh SSH connection {}, `systemctl stop mariadb` in the VM {}.",
        crate::report::secs(measure::median(connects)),
        crate::report::secs(measure::median(stops))
    )];
    if with_python {
        notes.push("The lab VM has no Python; for Ansible the suite copies Debian bookworm's python3 packages (the host's, same distribution) into it after boot. hook-runner runs against the same VM and does not use it. The hook gathers facts (it has no `gather_facts: false`): every runner does so on both plays.".into());
    }
    Ok(Scenario {
        name: "seed",
        title: "the MTV docs hook (k8s_info Secret from the lab API server, key file, add_host, stop MariaDB, write a file) against a systemd VM (systemd-nspawn), reset between runs".into(),
        rows,
        floors: vec![floor],
        notes,
    })
}

/// With `BENCH_SEED_PROFILE=DIR`: one more hook-runner run, under
/// `strace -f -tt` (process starts, connects, waits) with `-vvvv` JSON events, written to
/// `DIR/strace` and `DIR/events.json`, to see where the time above the floor goes.
fn profile_once(
    ctx: &Ctx,
    vm: &Vm,
    hook: &Path,
    inventory: &Path,
    kubeconfig: &Path,
    out: &Path,
) -> Result<()> {
    fs::create_dir_all(out)?;
    reset(vm)?;
    let work = ctx.scratch.join("seed-profile");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work)?;
    let runner = Tool::HookRunner { forks: None };
    let inner = seed_command(ctx, runner, hook, inventory, kubeconfig, &work)?;
    let mut cmd = Command::new("strace");
    cmd.arg("-f")
        .arg("-tt")
        .arg("-e")
        .arg("trace=execve,connect,clone,clone3,wait4,exit_group")
        .arg("-o")
        .arg(out.join("strace"))
        .arg(inner.get_program())
        .args(inner.get_args())
        .args(["--log-format", "json", "-vvvv"])
        .current_dir(&work)
        .stdout(fs::File::create(out.join("events.json"))?)
        .stderr(fs::File::create(out.join("stderr"))?);
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let started = Instant::now();
    let status = cmd
        .status()
        .context("running strace (apt-get install strace)")?;
    eprintln!(
        "bench: seed profile {:.3} s ({status}) in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

fn seed_command(
    ctx: &Ctx,
    runner: Tool,
    hook: &Path,
    inventory: &Path,
    kubeconfig: &Path,
    work: &Path,
) -> Result<Command> {
    let playbook = hook.join("playbook.yml");
    if !runner.is_ansible() {
        let home = work.join("home");
        fs::create_dir_all(&home)?;
        let mut cmd = ctx.peers.hook_runner_run(runner, None, &playbook, work);
        cmd.arg("--kubeconfig").arg(kubeconfig);
        own_home(&mut cmd, work, &home)?;
        return Ok(cmd);
    }
    let mut cmd = ctx.peers.ansible("ansible-playbook", runner, work)?;
    cmd.env("K8S_AUTH_KUBECONFIG", kubeconfig)
        .arg("-i")
        .arg(inventory)
        .arg(&playbook);
    own_home(&mut cmd, work, &work.join("ansible-home"))?;
    Ok(cmd)
}

/// Gives the run a passwd entry whose home is `home` (nss_wrapper, as the hook image's
/// entrypoint does), and `HOME=home`. Needed because Ansible expands `~` in the hook's
/// `~/.ssh/id_rsa` as `~USER` (the passwd home: the real /root without this) and ssh reads its
/// default key from the passwd home too: the hook must write and use the run's own key file,
/// never the machine's.
fn own_home(cmd: &mut Command, work: &Path, home: &Path) -> Result<()> {
    fs::create_dir_all(home)?;
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let passwd = work.join("passwd");
    fs::write(
        &passwd,
        format!("root:x:{uid}:{gid}:root:{}:/bin/sh\n", home.display()),
    )?;
    cmd.env("LD_PRELOAD", NSS_WRAPPER)
        .env("NSS_WRAPPER_PASSWD", &passwd)
        .env("NSS_WRAPPER_GROUP", "/etc/group")
        .env("HOME", home);
    Ok(())
}

const NSS_WRAPPER: &str = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";

/// The machine's own key file that a misconfigured run would write (see [`own_home`]).
fn machine_key() -> PathBuf {
    PathBuf::from("/root/.ssh/id_rsa")
}

/// The hook directory as the ConfigMap mounts it, pointing at `vm`.
fn write_hook_dir(ctx: &Ctx, dir: &Path, vm: &Vm) -> Result<PathBuf> {
    let shared = ctx.root.join("../shared");
    let hook = dir.join("hook");
    fs::create_dir_all(&hook)?;
    let playbook = fs::read_to_string(shared.join("corpus/hooks/mtv-docs-stop-mariadb.yml"))
        .context("reading the MTV docs hook from ../shared/corpus")?;
    fs::write(
        hook.join("playbook.yml"),
        playbook.replace("{namespace}", NS),
    )?;
    let forklift = ctx.root.join("data/forklift");
    fs::copy(forklift.join("plan.yml"), hook.join("plan.yml"))?;
    let workload = fs::read_to_string(forklift.join("vsphere.workload.yml"))?;
    let replaced = workload.replace(
        "ipaddress: 10.10.20.31",
        &format!("ipaddress: {}", vm.address()),
    );
    if replaced == workload {
        bail!("the workload fixture no longer has `ipaddress: 10.10.20.31`");
    }
    fs::write(hook.join("workload.yml"), replaced)?;
    Ok(hook)
}

fn reset(vm: &Vm) -> Result<()> {
    let out = vm.try_exec(
        "root",
        "systemctl start mariadb && rm -f /premigration.txt",
        Duration::from_secs(60),
    )?;
    if !out.status.success() {
        bail!(
            "resetting the VM: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn verify(vm: &Vm) -> Result<()> {
    let out = vm.try_exec(
        "root",
        "systemctl is-active mariadb; test -s /premigration.txt && echo written",
        Duration::from_secs(30),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("inactive") || !text.contains("written") {
        bail!("the hook did not do its work on the VM: {}", text.trim());
    }
    Ok(())
}

/// (fresh SSH connection, `systemctl stop mariadb` inside the VM); MariaDB is stopped after.
fn floor_once(vm: &Vm) -> Result<(Duration, Duration)> {
    let started = Instant::now();
    let out = vm.try_exec("root", "true", Duration::from_secs(30))?;
    let connect = started.elapsed();
    if !out.status.success() {
        bail!("ssh to the VM failed");
    }
    let out = vm.try_exec(
        "root",
        "a=$(date +%s%N); systemctl stop mariadb; b=$(date +%s%N); echo $((b - a))",
        Duration::from_secs(60),
    )?;
    let nanos: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("the VM's stop timing")?;
    Ok((connect, Duration::from_nanos(nanos)))
}

/// Copies the files of [`PYTHON_PACKAGES`] from the host into the VM (see the module doc).
fn install_python(vm: &Vm, scratch: &Path) -> Result<()> {
    let list = Command::new("dpkg")
        .arg("-L")
        .args(PYTHON_PACKAGES)
        .output()
        .context("dpkg -L")?;
    if !list.status.success() {
        bail!(
            "the host lacks a python3 package to copy into the VM: {}",
            String::from_utf8_lossy(&list.stderr).trim()
        );
    }
    let files: String = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|p| {
            fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir()) && !p.starts_with("/usr/share/doc")
        })
        .map(|p| format!("{}\n", p.trim_start_matches('/')))
        .collect();
    let list_path = scratch.join("python-files.txt");
    fs::write(&list_path, files)?;
    let tar_path = scratch.join("python.tar");
    let status = Command::new("tar")
        .args(["-C", "/", "--no-recursion", "-cf"])
        .arg(&tar_path)
        .arg("-T")
        .arg(&list_path)
        .status()?;
    if !status.success() {
        bail!("tar of the host's python3 failed");
    }
    let mut ssh = vm.ssh_command("root", &vm.root_key());
    ssh.arg("tar -C / -xf - && python3 -c 'import json, ssl, sqlite3, zipfile'")
        .stdin(fs::File::open(&tar_path)?)
        .stdout(Stdio::null());
    let status = ssh.status()?;
    if !status.success() {
        bail!("installing python3 into the VM failed");
    }
    eprintln!("bench: seed: python3 copied into the VM for Ansible");
    Ok(())
}
