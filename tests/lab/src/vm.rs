//! Systemd "VMs": a Debian bookworm rootfs booted with `systemd-nspawn -b` in its own network
//! namespace, reachable over SSH as `root` and as an unprivileged sudo user.
//!
//! # The rootfs ([`Rootfs::get`])
//! Made by `debootstrap --variant=minbase` with systemd, sshd, dbus and sudo, then `mariadb-server`
//! installed with apt in a chroot (with a `policy-rc.d` that forbids starting services on the host).
//! There is **no Python** in it: the build asserts `python3` is absent (and purges it if a package
//! pulled it in). Two lab keys are generated: one authorized for `root`, one for [`VM_USER`], who has
//! passwordless sudo (`/etc/sudoers.d/`). sshd accepts keys only.
//!
//! # The python3 variant ([`VmRecipe::Python3`])
//! The same system plus `python3`, `acl` (setfacl, which Ansible uses to hand its module files
//! to an unprivileged `become_user`) and `cron` (Ansible's cron module wants `crontab` even for
//! files in /etc/cron.d), so that ansible-playbook can target it: the differential
//! tests run the same playbook with Ansible and hook-runner against such VMs. It is made from the
//! base rootfs, never from scratch: a `cp -a --reflink=auto` of the cached base tree (and its
//! keys, so both recipes open with the same kind of keys) and one `apt-get install` in a chroot
//! (with `apt-get update` first only if the base's package lists are too old). Its own cache entry
//! ([`PYTHON3_RECIPE`]); the default recipe stays Python-free and keeps asserting it.
//!
//! Each recipe is built once into `<workspace>/.lab-cache/vm/<RECIPE>@<ID>/` (git-ignored; `LAB_CACHE_DIR`
//! overrides `.lab-cache`), named by `<RECIPE>.current`, and reused by later local runs. With
//! `CI=true` a rootfs made by an earlier run is not trusted: it is rebuilt once per run (a run is
//! `LAB_RUN_ID` when set, otherwise the session of the test process), then reused for the rest of
//! that run. Concurrent tests and test binaries build it only once: the build holds an exclusive
//! `flock` on the cache, writes into a temporary directory and renames it into place, so a
//! half-built rootfs is never seen. An entry is never changed once in place, and an old one is
//! removed only when no process uses it (each holds a shared `flock` on its `use.lock`, and no
//! overlay has it as lower dir), so a rebuild never pulls the rootfs from under running VMs.
//! The current entry of every recipe is kept: using one recipe never removes the other's.
//!
//! # The dnf variant ([`VmRecipe::Dnf`])
//! Made the same way, with Debian's `dnf` and `rpm` (and the Python dnf is written in): a target
//! for the dnf/yum modules, with repositories of test RPMs ([`crate::pkgrepo`]).
//!
//! # The python3-apt variant ([`VmRecipe::Python3Apt`])
//! The python3 variant's packages plus `python3-apt`, which Ansible's `apt` module needs on its
//! target (without it the module installs it from the network, which the VMs do not have).
//!
//! # A VM ([`Vm::boot`]; `Vm::boot_with(VmOptions::python3())` for the python3 variant)
//! Each VM gets a slot `X` (an exclusive `flock` held for the VM's lifetime, so slots never collide
//! across threads and processes) that fixes its addresses: a veth pair joins the host (`hrvm-X`,
//! `10.214.X.1/24`) to `eth0` (`10.214.X.2/24`) in the VM's own network namespace. Everything else
//! is named `hrvm-X-PID-N`, unique to the VM: the namespace, the machine (and host) name, the temp
//! dir and the VM's own cgroups (nspawn with `--keep-unit` would otherwise put every VM in the test
//! process's cgroup, where their systemds break each other's units). The VM sees its own
//! copy-on-write view of the rootfs: an overlayfs whose upper and work dirs live in the temp dir,
//! or a `cp -a --reflink=auto` copy where overlay cannot be mounted. It boots with
//! `systemd-nspawn --register=no --keep-unit -b` (there is no systemd on the host), its console
//! going to a log file, under a small supervisor shell that starts nspawn again when it exits
//! with status 133 (the container rebooted), as `systemd-nspawn@.service` does: a VM survives
//! `systemctl reboot`. Boot is waited for by polling SSH, bounded by [`VmOptions::boot_timeout`],
//! then by `systemctl is-system-running --wait` so services such as MariaDB are settled.
//!
//! # Teardown (`Drop`, also on panic, or [`Vm::shutdown`])
//! A booted VM gets `systemctl poweroff` over SSH (or SIGTERM to nspawn, an orderly shutdown too),
//! bounded; then every process left in the VM's namespace or cgroups is SIGKILLed (the container's
//! init dies with its pid namespace; nspawn killed alone would leave it running). Then the overlay
//! is unmounted, the namespace, link and cgroups deleted, nspawn's own state under
//! `/run/systemd/nspawn/` and the temp dir removed. [`VmTrace::leftovers`] lists anything that
//! survived. A process killed without unwinding leaves its slot's lock free and its traces behind:
//! the first boot of every later process sweeps them ([`cleanup_leftovers`]).

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};

use crate::util::{kill_pid, pid_alive, report_timing, wait_until};

/// The base recipe's name, as a macro so that [`PYTHON3_RECIPE`] can be derived from it.
macro_rules! base_recipe {
    () => {
        "bookworm-minbase-sshd-sudo-mariadb-nopython-v1"
    };
}
/// Names the rootfs recipe; change it whenever the build below changes, so caches are rebuilt.
pub const RECIPE: &str = base_recipe!();
/// Names the python3 variant; it embeds [`RECIPE`], so a new base makes a new variant too.
pub const PYTHON3_RECIPE: &str = concat!(base_recipe!(), "+python3-acl-cron-v2");
/// What the python3 variant adds to the base rootfs.
const PYTHON3_PACKAGES: &[&str] = &["python3", "acl", "cron"];
/// Names the dnf variant (the base plus Debian's `dnf` and `rpm`, for the dnf/yum modules).
pub const DNF_RECIPE: &str = concat!(base_recipe!(), "+dnf-rpm-v1");
/// What the dnf variant adds to the base rootfs.
const DNF_PACKAGES: &[&str] = &["dnf", "rpm"];
/// Names the python3-apt variant (the python3 variant plus python3-apt, which Ansible's apt
/// module needs on its target: the apt differential tests).
pub const PYTHON3_APT_RECIPE: &str = concat!(base_recipe!(), "+python3-acl-python3apt-v1");
/// What the python3-apt variant adds to the base rootfs.
const PYTHON3_APT_PACKAGES: &[&str] = &["python3", "acl", "python3-apt"];
/// The unprivileged user with passwordless sudo.
pub const VM_USER: &str = "vmuser";
/// The Debian mirror (`LAB_DEBIAN_MIRROR` overrides it).
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Packages debootstrap installs on top of minbase.
const DEBOOTSTRAP_INCLUDE: &str = "systemd,systemd-sysv,openssh-server,dbus,sudo";
/// Packages installed with apt afterwards.
const APT_PACKAGES: &[&str] = &["mariadb-server"];
/// The /16 the VMs' /24s come from (`10.214.X.0/24`); `lab::netns` uses 10.213.
pub const NET_PREFIX: [u8; 2] = [10, 214];
/// Name prefix of the VMs' namespaces, host-side links and machine names.
pub const PREFIX: &str = "hrvm-";
/// Where slot locks and state files live (tmpfs, shared with `lab::netns`).
const STATE_DIR: &str = "/run/hook-runner-lab";
/// The commands a VM needs on the host.
pub const HOST_COMMANDS: &[&str] = &[
    "debootstrap",
    "systemd-nspawn",
    "ip",
    "ssh",
    "ssh-keygen",
    "chroot",
    "mount",
    "cp",
    "rm",
];

/// Runs `"$@"` (systemd-nspawn and its arguments) and runs it again, in the same namespace,
/// cgroups and view, when it exits with status 133: nspawn's "the container rebooted" (without
/// a host systemd to restart it as `systemd-nspawn@.service` does with
/// `RestartForceExitStatus=133`, `systemctl reboot` in the VM would leave it off). SIGTERM to
/// the supervisor is passed to nspawn (an orderly poweroff of the container); any other exit
/// status ends the supervisor with it.
const NSPAWN_SUPERVISOR: &str = r#"trap 'kill -TERM "$child" 2>/dev/null' TERM
while :; do
  "$@" &
  child=$!
  while :; do
    wait "$child"
    rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  [ "$rc" -eq 133 ] || exit "$rc"
  echo "lab: the VM rebooted; starting systemd-nspawn again" >&2
done
"#;

/// Which rootfs a VM boots (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VmRecipe {
    /// [`RECIPE`]: no Python, as hook-runner's targets may be.
    #[default]
    Base,
    /// [`PYTHON3_RECIPE`]: the base plus python3, acl and cron, for ansible-playbook.
    Python3,
    /// [`DNF_RECIPE`]: the base plus dnf and rpm (and the Python dnf needs).
    Dnf,
    /// [`PYTHON3_APT_RECIPE`]: the python3 variant's packages plus python3-apt.
    Python3Apt,
}

impl VmRecipe {
    /// Every recipe (the cache keeps the current entry of each).
    pub const ALL: [VmRecipe; 4] = [
        VmRecipe::Base,
        VmRecipe::Python3,
        VmRecipe::Dnf,
        VmRecipe::Python3Apt,
    ];

    /// The recipe's name: the cache key of its entries.
    pub fn name(self) -> &'static str {
        match self {
            VmRecipe::Base => RECIPE,
            VmRecipe::Python3 => PYTHON3_RECIPE,
            VmRecipe::Dnf => DNF_RECIPE,
            VmRecipe::Python3Apt => PYTHON3_APT_RECIPE,
        }
    }

    fn index(self) -> usize {
        match self {
            VmRecipe::Base => 0,
            VmRecipe::Python3 => 1,
            VmRecipe::Dnf => 2,
            VmRecipe::Python3Apt => 3,
        }
    }
}

/// The built rootfs and the lab keys that open it.
#[derive(Debug)]
pub struct Rootfs {
    recipe: VmRecipe,
    entry: PathBuf,
    build_time: Duration,
    built_now: bool,
    _in_use: FileLock,
}

impl Rootfs {
    /// The rootfs of [`RECIPE`], built now if needed (see the module doc); the same for every
    /// caller of this process. A failed build is not retried by later callers of the process:
    /// they get its error at once instead of waiting for another failing build.
    pub fn get() -> Result<&'static Rootfs> {
        Rootfs::get_recipe(VmRecipe::Base)
    }

    /// The rootfs of `recipe`, as [`Rootfs::get`] does for the base (the python3 variant builds
    /// or finds the base first: it is made from it).
    pub fn get_recipe(recipe: VmRecipe) -> Result<&'static Rootfs> {
        type Slot = Option<Result<&'static Rootfs, String>>;
        static ROOTFS: [Mutex<Slot>; 4] = [
            Mutex::new(None),
            Mutex::new(None),
            Mutex::new(None),
            Mutex::new(None),
        ];
        // Before taking this recipe's slot and the cache lock: the base takes both itself.
        let base = match recipe {
            VmRecipe::Base => None,
            _ => Some(Rootfs::get_recipe(VmRecipe::Base)?),
        };
        let mut slot = ROOTFS[recipe.index()]
            .lock()
            .map_err(|_| anyhow!("rootfs lock poisoned"))?;
        let result = slot.get_or_insert_with(|| {
            obtain_rootfs(recipe, base)
                .map(|rootfs| &*Box::leak(Box::new(rootfs)))
                .map_err(|e| format!("{e:#}"))
        });
        result
            .clone()
            .map_err(|e| anyhow!("the VM rootfs {} could not be built: {e}", recipe.name()))
    }

    /// The recipe it was built by.
    pub fn recipe(&self) -> VmRecipe {
        self.recipe
    }

    /// The root directory of the Debian tree (the overlay's lower dir).
    pub fn path(&self) -> PathBuf {
        self.entry.join("rootfs")
    }

    /// Private key authorized for `root` on every VM.
    pub fn root_key(&self) -> PathBuf {
        self.entry.join("keys/root")
    }

    /// Private key authorized for [`VM_USER`] on every VM.
    pub fn user_key(&self) -> PathBuf {
        self.entry.join("keys/user")
    }

    /// How long the build took (now, or in the run that built the cached copy).
    pub fn build_time(&self) -> Duration {
        self.build_time
    }

    /// True when this process built it (false: reused from the cache).
    pub fn built_now(&self) -> bool {
        self.built_now
    }

    /// The VMs' SSH host public keys (`TYPE BASE64` lines), for `known_hosts`.
    pub fn host_public_keys(&self) -> Result<Vec<String>> {
        let dir = self.path().join("etc/ssh");
        let mut keys = Vec::new();
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("ssh_host_") && name.ends_with(".pub") {
                let text = fs::read_to_string(&path)?;
                let mut words = text.split_whitespace();
                if let (Some(kind), Some(key)) = (words.next(), words.next()) {
                    keys.push(format!("{kind} {key}"));
                }
            }
        }
        if keys.is_empty() {
            bail!("no SSH host keys in {}", dir.display());
        }
        Ok(keys)
    }
}

// ---------------------------------------------------------------------------------------------
// Rootfs cache and build
// ---------------------------------------------------------------------------------------------

/// `<workspace>/.lab-cache/vm`, or `$LAB_CACHE_DIR/vm`.
pub fn cache_dir() -> PathBuf {
    let base = match std::env::var_os("LAB_CACHE_DIR") {
        Some(dir) => PathBuf::from(dir),
        // tests/lab -> the workspace root.
        None => {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            let root = manifest.ancestors().nth(2).unwrap_or(manifest);
            root.join(".lab-cache")
        }
    };
    base.join("vm")
}

fn obtain_rootfs(recipe: VmRecipe, base: Option<&Rootfs>) -> Result<Rootfs> {
    let name = recipe.name();
    let cache = cache_dir();
    fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let _lock = FileLock::exclusive(&cache.join(".lock"))?;
    let run_id = current_run_id();
    let current = current_entry(&cache, recipe);
    let reusable = current.as_ref().and_then(|entry| {
        let stamp = Stamp::read(entry, recipe)?;
        let trusted = !crate::util::in_ci() || stamp.run_id == run_id;
        if !trusted {
            eprintln!("lab: rootfs {name} in the cache is from another run (CI=true): rebuilding");
        }
        (trusted && is_complete(&entry.join("rootfs"), recipe)).then_some(stamp)
    });
    let (entry, build_time, built_now) = match (current, reusable) {
        (Some(entry), Some(stamp)) => {
            let build_time = Duration::from_secs_f64(stamp.build_secs);
            eprintln!(
                "lab: rootfs {name} reused from {} (built in {:.1} s)",
                entry.display(),
                build_time.as_secs_f64()
            );
            (entry, build_time, false)
        }
        _ => {
            let (entry, build_time) = build_entry(&cache, &run_id, recipe, base)?;
            let timing = match recipe {
                VmRecipe::Base => "rootfs-build",
                VmRecipe::Python3 => "rootfs-python3-build",
                VmRecipe::Dnf => "rootfs-dnf-build",
                VmRecipe::Python3Apt => "rootfs-python3-apt-build",
            };
            report_timing(timing, build_time);
            eprintln!(
                "lab: rootfs {name} built in {:.1} s",
                build_time.as_secs_f64()
            );
            (entry, build_time, true)
        }
    };
    // Held until the process exits: the entry is not deleted while this process may use it.
    let in_use = FileLock::shared(&entry.join("use.lock"))?;
    remove_unused_entries(&cache);
    Ok(Rootfs {
        recipe,
        entry,
        build_time,
        built_now,
        _in_use: in_use,
    })
}

/// A tree with what every VM needs, and python3 for the variant (a build cut short lacks them).
fn is_complete(rootfs: &Path, recipe: VmRecipe) -> bool {
    let sshd = rootfs.join("usr/sbin/sshd").exists();
    match recipe {
        VmRecipe::Base => sshd,
        VmRecipe::Python3 => sshd && rootfs.join("usr/bin/python3").exists(),
        VmRecipe::Dnf => sshd && rootfs.join("usr/bin/dnf").exists(),
        VmRecipe::Python3Apt => {
            sshd && rootfs
                .join("usr/lib/python3/dist-packages/apt/__init__.py")
                .exists()
        }
    }
}

/// `cache/RECIPE.current` names the entry (`RECIPE@ID`) to use; `None` if it is missing.
fn current_entry(cache: &Path, recipe: VmRecipe) -> Option<PathBuf> {
    let name = fs::read_to_string(cache.join(format!("{}.current", recipe.name()))).ok()?;
    let entry = cache.join(name.trim());
    entry.is_dir().then_some(entry)
}

/// Builds into `cache/tmp-RECIPE-PID`, renames it to a new `cache/RECIPE@ID` and makes that the
/// current entry. Entries are never renamed or rewritten afterwards: other processes' VMs keep
/// using the entry they started with (see [`remove_unused_entries`]).
fn build_entry(
    cache: &Path,
    run_id: &str,
    recipe: VmRecipe,
    base: Option<&Rootfs>,
) -> Result<(PathBuf, Duration)> {
    let recipe_name = recipe.name();
    let tmp = cache.join(format!("tmp-{recipe_name}-{}", std::process::id()));
    remove_tree(&tmp)?;
    let started = Instant::now();
    let built = match (recipe, base) {
        (VmRecipe::Base, _) => build_into(&tmp),
        (VmRecipe::Python3, Some(base)) => build_variant_into(
            &tmp,
            base,
            "python3",
            PYTHON3_PACKAGES,
            &["usr/bin/python3", "usr/bin/setfacl", "usr/bin/crontab"],
        ),
        (VmRecipe::Dnf, Some(base)) => build_variant_into(
            &tmp,
            base,
            "dnf",
            DNF_PACKAGES,
            &["usr/bin/dnf", "usr/bin/rpm"],
        ),
        (VmRecipe::Python3Apt, Some(base)) => build_variant_into(
            &tmp,
            base,
            "python3-apt",
            PYTHON3_APT_PACKAGES,
            &[
                "usr/bin/python3",
                "usr/bin/setfacl",
                "usr/lib/python3/dist-packages/apt",
            ],
        ),
        (_, None) => Err(anyhow!("a variant needs the base rootfs")),
    };
    if let Err(e) = built {
        let log_tail = tail(&tmp.join("build.log"), 30);
        let _ = remove_tree(&tmp);
        return Err(e.context(format!(
            "building the VM rootfs; end of build.log:\n{log_tail}"
        )));
    }
    let build_time = started.elapsed();
    Stamp {
        run_id: run_id.to_string(),
        build_secs: build_time.as_secs_f64(),
    }
    .write(&tmp, recipe)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!("{recipe_name}@{}-{}", now.as_millis(), std::process::id());
    let entry = cache.join(&name);
    fs::rename(&tmp, &entry)
        .with_context(|| format!("renaming {} to {}", tmp.display(), entry.display()))?;
    let pointer = cache.join(format!("{recipe_name}.current"));
    let pointer_tmp = cache.join(format!("{recipe_name}.current.tmp"));
    fs::write(&pointer_tmp, format!("{name}\n"))?;
    fs::rename(&pointer_tmp, &pointer)
        .with_context(|| format!("updating {}", pointer.display()))?;
    Ok((entry, build_time))
}

/// Removes the cache's trees that are not the current entry of a recipe of [`VmRecipe::ALL`]
/// (older builds, retired recipes, half-built ones of crashed builds) and that no process uses:
/// nobody holds their `use.lock` and no overlay has them as its lower dir. The current entry of
/// each recipe is kept, so that using one recipe never throws the other away. Needs the cache
/// lock (so nobody is building or starting to use one). Best effort.
fn remove_unused_entries(cache: &Path) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    let current: Vec<PathBuf> = VmRecipe::ALL
        .iter()
        .filter_map(|recipe| current_entry(cache, *recipe))
        .collect();
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for dir in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
        if current.contains(&dir) || !dir.is_dir() {
            continue;
        }
        let lower = format!("lowerdir={}", dir.join("rootfs").display());
        let used_by_a_mount = mountinfo.contains(&lower);
        let lock = FileLock::try_exclusive(&dir.join("use.lock"));
        if used_by_a_mount || !matches!(lock, Ok(Some(_))) {
            continue;
        }
        if let Err(e) = remove_tree(&dir) {
            eprintln!("lab: removing the unused rootfs {}: {e:#}", dir.display());
        }
    }
}

fn build_into(tmp: &Path) -> Result<()> {
    fs::create_dir_all(tmp.join("keys"))?;
    let log = tmp.join("build.log");
    let rootfs = tmp.join("rootfs");
    let mirror = std::env::var("LAB_DEBIAN_MIRROR").unwrap_or_else(|_| DEFAULT_MIRROR.to_string());
    let step = Instant::now();
    logged(
        &log,
        Command::new("debootstrap")
            .arg("--variant=minbase")
            .arg(format!("--include={DEBOOTSTRAP_INCLUDE}"))
            .arg("bookworm")
            .arg(&rootfs)
            .arg(&mirror),
    )?;
    report_timing("rootfs-debootstrap", step.elapsed());
    let step = Instant::now();
    install_packages(&rootfs, &log, APT_PACKAGES)?;
    report_timing("rootfs-apt-install", step.elapsed());
    ensure_no_python(&rootfs, &log)?;
    make_keys(tmp, &log)?;
    configure_accounts(&rootfs, tmp, &log)?;
    configure_sshd(&rootfs)?;
    check_enabled(&rootfs, &["ssh.service", "mariadb.service"])?;
    Ok(())
}

/// A variant (`label`): a copy of the base tree and keys, plus `packages`, which must bring
/// `tools`.
fn build_variant_into(
    tmp: &Path,
    base: &Rootfs,
    label: &str,
    packages: &[&str],
    tools: &[&str],
) -> Result<()> {
    fs::create_dir_all(tmp)?;
    let log = tmp.join("build.log");
    let rootfs = tmp.join("rootfs");
    let step = Instant::now();
    for (from, to) in [
        (base.path(), &rootfs),
        (base.entry.join("keys"), &tmp.join("keys")),
    ] {
        logged(
            &log,
            Command::new("cp")
                .args(["-a", "--reflink=auto"])
                .arg(&from)
                .arg(to),
        )?;
    }
    report_timing(&format!("rootfs-{label}-copy"), step.elapsed());
    let step = Instant::now();
    // The base's package lists may be older than the mirror's pool: refresh only if needed.
    if install_packages(&rootfs, &log, packages).is_err() {
        logged(
            &log,
            Command::new("chroot")
                .arg(&rootfs)
                .args(["apt-get", "update"]),
        )?;
        install_packages(&rootfs, &log, packages)?;
    }
    report_timing(&format!("rootfs-{label}-apt-install"), step.elapsed());
    for tool in tools {
        if !rootfs.join(tool).exists() {
            bail!("/{tool} is missing from the {label} variant after apt-get install");
        }
    }
    check_enabled(&rootfs, &["ssh.service", "mariadb.service"])
}

/// `apt-get install` in a chroot; `policy-rc.d` keeps maintainer scripts from starting services
/// on the host.
fn install_packages(rootfs: &Path, log: &Path, packages: &[&str]) -> Result<()> {
    let policy = rootfs.join("usr/sbin/policy-rc.d");
    write_mode(&policy, "#!/bin/sh\nexit 101\n", 0o755)?;
    let install = format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {} && apt-get clean",
        packages.join(" ")
    );
    let result = logged(
        log,
        Command::new("chroot")
            .arg(rootfs)
            .args(["sh", "-c", &install]),
    );
    fs::remove_file(&policy).with_context(|| format!("removing {}", policy.display()))?;
    result
}

/// The VM must have no Python: hook-runner has to work without it. Purges it if pulled in.
fn ensure_no_python(rootfs: &Path, log: &Path) -> Result<()> {
    if python_present(rootfs) {
        logged(
            log,
            Command::new("chroot").arg(rootfs).args([
                "sh",
                "-c",
                "DEBIAN_FRONTEND=noninteractive apt-get purge -y --auto-remove 'python3*' 'libpython3*'",
            ]),
        )?;
    }
    if python_present(rootfs) {
        bail!(
            "python3 is still present in {} after purging it",
            rootfs.display()
        );
    }
    Ok(())
}

/// Any `python*` executable in the usual bin dirs (`python3`, `python3.11`, `python`...).
fn python_present(rootfs: &Path) -> bool {
    ["usr/bin", "usr/local/bin", "bin"].iter().any(|dir| {
        fs::read_dir(rootfs.join(dir))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().starts_with("python"))
            })
            .unwrap_or(false)
    })
}

fn make_keys(tmp: &Path, log: &Path) -> Result<()> {
    for (name, comment) in [
        ("root", "hook-runner-lab-root"),
        ("user", "hook-runner-lab-user"),
    ] {
        logged(
            log,
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(tmp.join("keys").join(name)),
        )?;
    }
    Ok(())
}

fn configure_accounts(rootfs: &Path, tmp: &Path, log: &Path) -> Result<()> {
    let chroot = |script: &str| {
        logged(
            log,
            Command::new("chroot")
                .arg(rootfs)
                .args(["sh", "-c", script]),
        )
    };
    // '*' rather than a locked '!': no password, but key logins are allowed.
    chroot(&format!(
        "useradd -m -s /bin/bash {VM_USER} && usermod -p '*' {VM_USER} && usermod -p '*' root"
    ))?;
    authorize(rootfs, "root", &tmp.join("keys/root.pub"))?;
    authorize(
        rootfs,
        &format!("home/{VM_USER}"),
        &tmp.join("keys/user.pub"),
    )?;
    chroot(&format!(
        "chown -R {VM_USER}:{VM_USER} /home/{VM_USER}/.ssh"
    ))?;
    write_mode(
        &rootfs.join("etc/sudoers.d").join(VM_USER),
        &format!("{VM_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n"),
        0o440,
    )?;
    Ok(())
}

/// Installs `public_key` as `<rootfs>/<home>/.ssh/authorized_keys` (0700/0600).
fn authorize(rootfs: &Path, home: &str, public_key: &Path) -> Result<()> {
    let ssh_dir = rootfs.join(home).join(".ssh");
    fs::create_dir_all(&ssh_dir)?;
    fs::set_permissions(&ssh_dir, fs::Permissions::from_mode(0o700))?;
    let key = fs::read_to_string(public_key)?;
    write_mode(&ssh_dir.join("authorized_keys"), &key, 0o600)
}

fn configure_sshd(rootfs: &Path) -> Result<()> {
    // sshd_config includes sshd_config.d/*.conf first, and the first value of a keyword wins.
    let conf = "\
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxSessions 100
MaxStartups 100:30:200
";
    write_mode(&rootfs.join("etc/ssh/sshd_config.d/lab.conf"), conf, 0o644)
}

fn check_enabled(rootfs: &Path, units: &[&str]) -> Result<()> {
    let wants = rootfs.join("etc/systemd/system/multi-user.target.wants");
    for unit in units {
        if wants.join(unit).symlink_metadata().is_err() {
            bail!(
                "{unit} is not enabled in the rootfs ({} has no link)",
                wants.display()
            );
        }
    }
    Ok(())
}

/// What identifies the build in the cache entry.
struct Stamp {
    run_id: String,
    build_secs: f64,
}

impl Stamp {
    fn read(entry: &Path, recipe: VmRecipe) -> Option<Stamp> {
        let text = fs::read_to_string(entry.join("stamp")).ok()?;
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
                .map(str::to_string)
        };
        if field("recipe")? != recipe.name() {
            return None;
        }
        Some(Stamp {
            run_id: field("run_id")?,
            build_secs: field("build_secs")?.parse().ok()?,
        })
    }

    fn write(&self, entry: &Path, recipe: VmRecipe) -> Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let text = format!(
            "recipe={}\nrun_id={}\nbuild_secs={:.3}\nbuilt_at_unix={now}\n",
            recipe.name(),
            self.run_id,
            self.build_secs
        );
        fs::write(entry.join("stamp"), text).context("writing the rootfs stamp")
    }
}

/// `LAB_RUN_ID`, or the session of this process (its leader's pid and start time, so a reused
/// pid is a different run): every test binary that one `.ci/run` starts shares it.
fn current_run_id() -> String {
    if let Ok(id) = std::env::var("LAB_RUN_ID") {
        if !id.is_empty() {
            return id;
        }
    }
    // SAFETY: getsid(0) has no preconditions.
    let sid = unsafe { libc::getsid(0) };
    let start = fs::read_to_string(format!("/proc/{sid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(19).map(str::to_string))
        })
        .unwrap_or_default();
    format!("session-{sid}-{start}")
}

// ---------------------------------------------------------------------------------------------
// VMs
// ---------------------------------------------------------------------------------------------

/// How to boot a VM.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Bound on the whole boot (SSH answering, then the system settled).
    pub boot_timeout: Duration,
    /// Wait for `systemctl is-system-running --wait` after SSH answers (services settled).
    pub wait_for_system: bool,
    /// Copy the rootfs instead of mounting an overlay (the fallback path, forced).
    pub force_copy: bool,
    /// The rootfs to boot (default: the Python-free base).
    pub recipe: VmRecipe,
}

impl VmOptions {
    /// The defaults, booting the python3 variant (a target ansible-playbook can manage).
    pub fn python3() -> VmOptions {
        VmOptions {
            recipe: VmRecipe::Python3,
            ..VmOptions::default()
        }
    }

    /// The defaults, booting the python3-apt variant (Ansible's apt module can run there).
    pub fn python3_apt() -> VmOptions {
        VmOptions {
            recipe: VmRecipe::Python3Apt,
            ..VmOptions::default()
        }
    }

    /// The defaults, booting the dnf variant (dnf and rpm on Debian, for the dnf module).
    pub fn dnf() -> VmOptions {
        VmOptions {
            recipe: VmRecipe::Dnf,
            ..VmOptions::default()
        }
    }
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions {
            boot_timeout: Duration::from_secs(60),
            wait_for_system: true,
            force_copy: false,
            recipe: VmRecipe::Base,
        }
    }
}

/// How the VM's view of the rootfs was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// overlayfs: the rootfs is the lower dir, writes go to the VM's temp dir.
    Overlay,
    /// `cp -a --reflink=auto` of the rootfs (overlay unavailable or [`VmOptions::force_copy`]).
    Copy,
}

/// A process, told apart from a later one that reuses its pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessId {
    /// The pid.
    pub pid: i32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_time: u64,
}

impl ProcessId {
    /// The process that has `pid` now, if any.
    pub fn of(pid: i32) -> Option<ProcessId> {
        Some(ProcessId {
            pid,
            start_time: start_time(pid)?,
        })
    }

    /// True while this very process exists (and is not a zombie).
    pub fn alive(&self) -> bool {
        pid_alive(self.pid) && start_time(self.pid) == Some(self.start_time)
    }
}

/// What a VM created, to check after it is gone that nothing survived.
///
/// Every name in it is unique to the VM (slot, pid, sequence number), so a later VM that reuses
/// the slot is never mistaken for a leftover; only the host-side link is named after the slot,
/// and its ifindex tells the two apart. Serializable, so another process can check it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct VmTrace {
    /// Machine name, also the network namespace's and the cgroups' (`hrvm-X-PID-N`).
    pub name: String,
    /// Host-side veth (`hrvm-X`: interface names are limited to 15 bytes).
    pub link: String,
    /// Its ifindex (never reused soon, unlike the name).
    pub link_ifindex: Option<u32>,
    /// The VM's temp dir (view, overlay dirs, console log, known_hosts).
    pub dir: PathBuf,
    /// Where the view was mounted or copied.
    pub view: PathBuf,
    /// The nspawn supervisor ([`NSPAWN_SUPERVISOR`]), parent of `systemd-nspawn`.
    pub nspawn: Option<ProcessId>,
    /// The container's init (pid 1 inside).
    pub init: Option<ProcessId>,
    /// Inode of the network namespace, to find processes still inside it.
    pub netns_inode: Option<u64>,
    /// The VM's own cgroups (one per hierarchy systemd uses), see `cgroup_dirs`.
    pub cgroups: Vec<PathBuf>,
}

impl VmTrace {
    /// Everything of this VM that still exists: processes, mounts, namespace, link, directories.
    /// Empty after a clean teardown.
    pub fn leftovers(&self) -> Vec<String> {
        let mut found = Vec::new();
        for process in [self.nspawn, self.init].into_iter().flatten() {
            if process.alive() {
                found.push(format!("process {} ({})", process.pid, comm(process.pid)));
            }
        }
        for cgroup in &self.cgroups {
            for pid in pids_in_cgroup(cgroup) {
                found.push(format!(
                    "process {pid} ({}) in {}",
                    comm(pid),
                    cgroup.display()
                ));
            }
        }
        for mount in mounts_under(&self.dir) {
            found.push(format!("mount {}", mount.display()));
        }
        let netns = Path::new("/run/netns").join(&self.name);
        if let Ok(meta) = fs::metadata(&netns) {
            found.push(format!("network namespace {}", netns.display()));
            // Only while the name exists is the inode surely still this namespace's.
            if Some(meta.ino()) == self.netns_inode {
                for pid in pids_in_netns(meta.ino()) {
                    found.push(format!(
                        "process {pid} ({}) in {}",
                        comm(pid),
                        netns.display()
                    ));
                }
            }
        }
        if self.link_ifindex.is_some() && link_ifindex(&self.link) == self.link_ifindex {
            found.push(format!("link {}", self.link));
        }
        let propagate = Path::new("/run/systemd/nspawn/propagate").join(&self.name);
        if propagate.exists() {
            found.push(format!("nspawn state {}", propagate.display()));
        }
        for cgroup in &self.cgroups {
            if cgroup.exists() {
                found.push(format!("cgroup {}", cgroup.display()));
            }
        }
        if self.dir.exists() {
            found.push(format!("directory {}", self.dir.display()));
        }
        found
    }
}

/// A booted systemd VM. Dropping it shuts it down and removes everything it made.
#[derive(Debug)]
pub struct Vm {
    slot: u8,
    _slot_lock: FileLock,
    rootfs: &'static Rootfs,
    trace: VmTrace,
    view_kind: Option<ViewKind>,
    view_inode: Option<(u64, u64)>,
    netns_made: bool,
    nspawn: Option<Child>,
    /// SSH answered once: teardown may ask for a graceful poweroff.
    booted: bool,
    known_hosts: PathBuf,
    boot_time: Duration,
    torn_down: bool,
}

impl Vm {
    /// Boots a VM with the default [`VmOptions`].
    pub fn boot() -> Result<Vm> {
        Vm::boot_with(VmOptions::default())
    }

    /// Boots a VM: rootfs (built if needed), slot, view, namespace, nspawn, SSH wait.
    pub fn boot_with(opts: VmOptions) -> Result<Vm> {
        let rootfs = Rootfs::get_recipe(opts.recipe)?;
        let started = Instant::now();
        let (slot, slot_lock) = claim_slot()?;
        static SEQUENCE: AtomicU32 = AtomicU32::new(0);
        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{slot}-{}-{sequence}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        // A dir of that name is a leftover of a crashed process with the same pid.
        if dir.exists() {
            remove_tree(&dir)?;
        }
        let mut vm = Vm {
            slot,
            _slot_lock: slot_lock,
            rootfs,
            trace: VmTrace {
                name,
                link: format!("{PREFIX}{slot}"),
                link_ifindex: None,
                view: dir.join("view"),
                dir,
                nspawn: None,
                init: None,
                netns_inode: None,
                cgroups: Vec::new(),
            },
            view_kind: None,
            view_inode: None,
            netns_made: false,
            nspawn: None,
            booted: false,
            known_hosts: PathBuf::new(),
            boot_time: Duration::ZERO,
            torn_down: false,
        };
        // From here on, an error drops `vm`, which removes whatever part was made.
        fs::create_dir_all(&vm.trace.dir)?;
        vm.write_state()?;
        vm.make_view(opts.force_copy)?;
        vm.personalize()?;
        vm.make_netns()?;
        vm.write_known_hosts()?;
        vm.start_nspawn()?;
        let deadline = started + opts.boot_timeout;
        vm.wait_for_ssh(deadline)?;
        if opts.wait_for_system {
            vm.wait_for_system(deadline)?;
        }
        vm.boot_time = started.elapsed();
        report_timing("vm-boot", vm.boot_time);
        eprintln!(
            "lab: VM {} ({}) booted in {:.2} s ({:?} view)",
            vm.trace.name,
            vm.address(),
            vm.boot_time.as_secs_f64(),
            vm.view_kind.unwrap_or(ViewKind::Overlay)
        );
        Ok(vm)
    }

    /// Boots `count` VMs in parallel (one thread each); fails if any fails (the others are
    /// torn down).
    pub fn boot_many(count: usize, opts: VmOptions) -> Result<Vec<Vm>> {
        // Build (or find) the rootfs first, so the threads do not all queue on its lock.
        Rootfs::get_recipe(opts.recipe)?;
        let results: Vec<Result<Vm>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .map(|_| {
                    let opts = opts.clone();
                    scope.spawn(move || Vm::boot_with(opts))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("a VM boot thread panicked")))
                })
                .collect()
        });
        results.into_iter().collect()
    }

    /// The VM's address (`10.214.X.2`), reachable from the host.
    pub fn address(&self) -> Ipv4Addr {
        Ipv4Addr::new(NET_PREFIX[0], NET_PREFIX[1], self.slot, 2)
    }

    /// The host's address on the VM's link (`10.214.X.1`): how the VM reaches the host.
    pub fn host_address(&self) -> Ipv4Addr {
        Ipv4Addr::new(NET_PREFIX[0], NET_PREFIX[1], self.slot, 1)
    }

    /// The SSH port (sshd listens on 22 inside the VM's own namespace).
    pub fn port(&self) -> u16 {
        22
    }

    /// Private key that logs in as `root`.
    pub fn root_key(&self) -> PathBuf {
        self.rootfs.root_key()
    }

    /// The recipe of the rootfs it booted.
    pub fn recipe(&self) -> VmRecipe {
        self.rootfs.recipe
    }

    /// The unprivileged user with passwordless sudo ([`VM_USER`]).
    pub fn user(&self) -> &'static str {
        VM_USER
    }

    /// Private key that logs in as [`Vm::user`].
    pub fn user_key(&self) -> PathBuf {
        self.rootfs.user_key()
    }

    /// A `known_hosts` file with the VM's host keys under its address.
    pub fn known_hosts(&self) -> &Path {
        &self.known_hosts
    }

    /// The machine name, also the namespace and host-link name (`hrvm-X`).
    pub fn name(&self) -> &str {
        &self.trace.name
    }

    /// Time from `boot_with` (after the rootfs was ready) until the VM was usable.
    pub fn boot_time(&self) -> Duration {
        self.boot_time
    }

    /// The VM's console output (systemd's boot messages).
    pub fn console_log(&self) -> PathBuf {
        self.trace.dir.join("console.log")
    }

    /// How the view of the rootfs was made.
    pub fn view_kind(&self) -> Option<ViewKind> {
        self.view_kind
    }

    /// What the VM created, for checking after drop that nothing survived.
    pub fn trace(&self) -> VmTrace {
        self.trace.clone()
    }

    /// `ssh` with the options to reach the VM as `user` with `key` (host key checked against
    /// [`Vm::known_hosts`], no user config, no agent, batch mode); append the remote command.
    pub fn ssh_command(&self, user: &str, key: &Path) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-i"])
            .arg(key)
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "IdentityAgent=none",
                "-o",
                "BatchMode=yes",
            ])
            .args(["-o", "StrictHostKeyChecking=yes", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(["-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "-p"])
            .arg(self.port().to_string())
            .arg(format!("{user}@{}", self.address()))
            .arg("--");
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `cmd` (a shell command line) on the VM as root; panics if ssh cannot be run or takes
    /// longer than two minutes. The exit status is the remote command's (255: ssh failed).
    pub fn exec(&self, cmd: &str) -> Output {
        self.try_exec("root", cmd, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("exec on VM {}: {e:#}", self.trace.name))
    }

    /// Like [`Vm::exec`], as [`Vm::user`].
    pub fn exec_as_user(&self, cmd: &str) -> Output {
        self.try_exec(VM_USER, cmd, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("exec on VM {} as {VM_USER}: {e:#}", self.trace.name))
    }

    /// Runs `cmd` as root, asserts it succeeded, and returns its trimmed stdout.
    pub fn exec_ok(&self, cmd: &str) -> String {
        let out = self.exec(cmd);
        assert!(
            out.status.success(),
            "`{cmd}` on VM {} failed ({}): {}",
            self.trace.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs `cmd` on the VM as `user` (`root` or [`VM_USER`]) with a bound.
    pub fn try_exec(&self, user: &str, cmd: &str, timeout: Duration) -> Result<Output> {
        let key = if user == "root" {
            self.root_key()
        } else {
            self.user_key()
        };
        let mut ssh = self.ssh_command(user, &key);
        ssh.arg(cmd);
        output_with_timeout(&mut ssh, timeout)
    }

    /// Shuts the VM down and removes everything, reporting what went wrong (`Drop` only prints).
    pub fn shutdown(mut self) -> Result<()> {
        let problems = self.teardown();
        if problems.is_empty() {
            Ok(())
        } else {
            bail!(
                "tearing down VM {}: {}",
                self.trace.name,
                problems.join("; ")
            )
        }
    }

    // --- boot steps ------------------------------------------------------------------------

    fn state_file(&self) -> PathBuf {
        slot_state_file(self.slot)
    }

    /// Records what this slot holds, so a later process can clean up after a crash.
    fn write_state(&self) -> Result<()> {
        let mut text = format!(
            "name={}\nlink={}\ndir={}\n",
            self.trace.name,
            self.trace.link,
            self.trace.dir.display()
        );
        if let Some((dev, ino)) = self.view_inode {
            let _ = writeln!(text, "nspawn_lock={}", nspawn_lock_file(dev, ino).display());
        }
        fs::write(self.state_file(), text).context("writing the VM slot state")
    }

    fn make_view(&mut self, force_copy: bool) -> Result<()> {
        let lower = self.rootfs.path();
        let view = self.trace.view.clone();
        fs::create_dir_all(&view)?;
        if !force_copy {
            match mount_overlay(&lower, &self.trace.dir, &view) {
                Ok(()) => {
                    self.view_kind = Some(ViewKind::Overlay);
                    return self.remember_view_inode();
                }
                Err(e) => {
                    eprintln!("lab: overlay mount failed ({e:#}); copying the rootfs instead")
                }
            }
        }
        fs::remove_dir(&view)?;
        let copy = Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(&lower)
            .arg(&view)
            .output()?;
        if !copy.status.success() {
            bail!(
                "cp -a {} {}: {}",
                lower.display(),
                view.display(),
                String::from_utf8_lossy(&copy.stderr).trim()
            );
        }
        self.view_kind = Some(ViewKind::Copy);
        self.remember_view_inode()
    }

    /// nspawn names its image lock after the view's device and inode; remembered to remove it.
    fn remember_view_inode(&mut self) -> Result<()> {
        let meta = fs::metadata(&self.trace.view)?;
        self.view_inode = Some((meta.dev(), meta.ino()));
        self.write_state()
    }

    /// Per-VM identity in the view: hostname and its /etc/hosts line (sudo resolves it).
    fn personalize(&self) -> Result<()> {
        let etc = self.trace.view.join("etc");
        fs::write(etc.join("hostname"), format!("{}\n", self.trace.name))?;
        let hosts = format!(
            "127.0.0.1\tlocalhost\n127.0.1.1\t{}\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            self.trace.name
        );
        fs::write(etc.join("hosts"), hosts)?;
        Ok(())
    }

    fn make_netns(&mut self) -> Result<()> {
        let (name, link) = (self.trace.name.clone(), self.trace.link.clone());
        ip(&["netns", "add", &name])?;
        self.netns_made = true;
        self.trace.netns_inode = Some(fs::metadata(Path::new("/run/netns").join(&name))?.ino());
        // The peer is made inside the namespace: the host may have an eth0 of its own.
        let peer = [
            "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &name,
        ];
        ip(&peer)?;
        self.trace.link_ifindex = link_ifindex(&link);
        let host_cidr = format!("{}/24", self.host_address());
        ip(&["addr", "add", &host_cidr, "dev", &link])?;
        ip(&["link", "set", &link, "up"])?;
        let vm_cidr = format!("{}/24", self.address());
        ip(&["-n", &name, "addr", "add", &vm_cidr, "dev", "eth0"])?;
        ip(&["-n", &name, "link", "set", "eth0", "up"])?;
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(())
    }

    fn write_known_hosts(&mut self) -> Result<()> {
        let mut text = String::new();
        for key in self.rootfs.host_public_keys()? {
            let _ = writeln!(text, "{} {key}", self.address());
        }
        self.known_hosts = self.trace.dir.join("known_hosts");
        fs::write(&self.known_hosts, text)?;
        Ok(())
    }

    fn start_nspawn(&mut self) -> Result<()> {
        let console = File::create(self.console_log())?;
        let cgroups = make_cgroups(&self.trace.name)?;
        self.trace.cgroups = cgroups.clone();
        // nspawn runs under a supervisor that starts it again when the container reboots.
        let mut nspawn = Command::new("/bin/sh");
        enter_cgroups_before_exec(&mut nspawn, &cgroups)?;
        let child = nspawn
            .args([
                "-c",
                NSPAWN_SUPERVISOR,
                "nspawn-supervisor",
                "systemd-nspawn",
            ])
            .args([
                "-q",
                "--register=no",
                "--keep-unit",
                "--private-users=no",
                "--settings=no",
            ])
            .args([
                "--link-journal=no",
                "--resolv-conf=off",
                "--timezone=off",
                "--console=read-only",
            ])
            .arg(format!("--machine={}", self.trace.name))
            .arg("-D")
            .arg(&self.trace.view)
            .arg(format!(
                "--network-namespace-path=/run/netns/{}",
                self.trace.name
            ))
            .arg("-b")
            .stdin(Stdio::null())
            .stdout(console.try_clone()?)
            .stderr(console)
            .spawn()
            .context("starting systemd-nspawn")?;
        self.trace.nspawn = ProcessId::of(child.id() as i32);
        self.nspawn = Some(child);
        Ok(())
    }

    /// Polls `ssh root@VM true` until it succeeds; fails early if nspawn exits.
    fn wait_for_ssh(&mut self, deadline: Instant) -> Result<()> {
        loop {
            self.check_nspawn_running()?;
            if self.trace.init.is_none() {
                let nspawn = self.trace.nspawn.map(|p| p.pid);
                self.trace.init = nspawn.and_then(container_init).and_then(ProcessId::of);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "VM {} did not answer SSH within the boot timeout; console:\n{}",
                    self.trace.name,
                    tail(&self.console_log(), 30)
                );
            }
            let probe = self.try_exec("root", "true", left.min(Duration::from_secs(10)));
            if matches!(&probe, Ok(out) if out.status.success()) {
                self.booted = true;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn check_nspawn_running(&mut self) -> Result<()> {
        if let Some(child) = self.nspawn.as_mut() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "systemd-nspawn for VM {} exited early ({status}); console:\n{}",
                    self.trace.name,
                    tail(&self.console_log(), 30)
                );
            }
        }
        Ok(())
    }

    /// `systemctl is-system-running --wait`: "running" (or "degraded", reported) once boot is done.
    fn wait_for_system(&self, deadline: Instant) -> Result<()> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        let out = self.try_exec("root", "systemctl is-system-running --wait", left)?;
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match state.as_str() {
            "running" => Ok(()),
            "degraded" => {
                let failed = self.try_exec(
                    "root",
                    "systemctl --failed --no-legend",
                    Duration::from_secs(10),
                )?;
                eprintln!(
                    "lab: VM {} booted degraded; failed units:\n{}",
                    self.trace.name,
                    String::from_utf8_lossy(&failed.stdout)
                );
                Ok(())
            }
            _ => bail!(
                "VM {} did not finish booting: system state {state:?}",
                self.trace.name
            ),
        }
    }

    // --- teardown --------------------------------------------------------------------------

    /// Undoes every step that was done; returns the problems met (it goes on after each).
    fn teardown(&mut self) -> Vec<String> {
        if self.torn_down {
            return Vec::new();
        }
        self.torn_down = true;
        let started = Instant::now();
        let mut problems = Vec::new();
        self.stop_processes(&mut problems);
        report_timing("vm-teardown-stop", started.elapsed());
        self.remove_nspawn_state();
        for cgroup in &self.trace.cgroups {
            if let Err(e) = remove_vm_cgroup(cgroup) {
                problems.push(format!("removing cgroup {}: {e:#}", cgroup.display()));
            }
        }
        if self.view_kind == Some(ViewKind::Overlay) {
            if let Err(e) = unmount(&self.trace.view) {
                problems.push(format!("unmounting {}: {e:#}", self.trace.view.display()));
            }
        }
        if self.netns_made {
            remove_netns(&self.trace.name, &self.trace.link, &mut problems);
        }
        if let Err(e) = remove_tree(&self.trace.dir) {
            problems.push(format!("removing {}: {e:#}", self.trace.dir.display()));
        }
        let _ = fs::remove_file(self.state_file());
        report_timing("vm-teardown", started.elapsed());
        problems
    }

    /// A booted VM: poweroff over SSH (or SIGTERM to nspawn, which nspawn turns into an orderly
    /// shutdown, when SSH fails), bounded. Then, and at once for a VM that never answered SSH
    /// (a graceful shutdown of a half-booted system is slow and unreliable), SIGKILL to
    /// everything left in its namespace and cgroups.
    fn stop_processes(&mut self, problems: &mut Vec<String>) {
        if let Some(mut child) = self.nspawn.take() {
            if self.booted && matches!(child.try_wait(), Ok(None)) {
                let poweroff = self.try_exec("root", "systemctl poweroff", Duration::from_secs(10));
                if !matches!(&poweroff, Ok(out) if out.status.success()) {
                    let _ = kill_pid(child.id() as i32, libc::SIGTERM);
                }
                if wait_child(&mut child, Duration::from_secs(20)).is_none() {
                    problems.push(format!("VM {} ignored poweroff for 20 s", self.trace.name));
                }
            }
            self.kill_namespace_processes(problems);
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Nothing was started, or nspawn is gone: anything still inside is a leak all the same.
        self.kill_namespace_processes(problems);
    }

    /// SIGKILLs every process in the VM's network namespace or cgroups (only the VM runs there).
    fn kill_namespace_processes(&self, problems: &mut Vec<String>) {
        let mut pids = self
            .trace
            .netns_inode
            .map(pids_in_netns)
            .unwrap_or_default();
        for cgroup in &self.trace.cgroups {
            pids.extend(pids_in_cgroup(cgroup));
        }
        pids.sort_unstable();
        pids.dedup();
        if pids.is_empty() {
            return;
        }
        for &pid in &pids {
            let _ = kill_pid(pid, libc::SIGKILL);
        }
        let gone = wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
            pids.iter().all(|&p| !pid_alive(p))
        });
        if !gone {
            problems.push(format!(
                "processes {pids:?} of VM {} survived SIGKILL",
                self.trace.name
            ));
        }
    }

    /// nspawn removes these when it exits normally, not when it is killed.
    fn remove_nspawn_state(&self) {
        let _ =
            fs::remove_dir_all(Path::new("/run/systemd/nspawn/propagate").join(&self.trace.name));
        if let Some((dev, ino)) = self.view_inode {
            let _ = fs::remove_file(nspawn_lock_file(dev, ino));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let problems = self.teardown();
        if !problems.is_empty() {
            eprintln!(
                "lab: tearing down VM {}: {}",
                self.trace.name,
                problems.join("; ")
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Slots: which 10.214.X.0/24 and hrvm-X a VM uses
// ---------------------------------------------------------------------------------------------

fn slot_lock_file(slot: u8) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{PREFIX}{slot}.lock"))
}

fn slot_state_file(slot: u8) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{PREFIX}{slot}.state"))
}

/// The first slot whose lock nobody holds; what a dead holder left in it is removed first.
fn claim_slot() -> Result<(u8, FileLock)> {
    fs::create_dir_all(STATE_DIR).with_context(|| format!("creating {STATE_DIR}"))?;
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| match cleanup_leftovers() {
        Ok(slots) if !slots.is_empty() => {
            eprintln!("lab: removed the leftovers of crashed VMs in slots {slots:?}")
        }
        Ok(_) => {}
        Err(e) => eprintln!("lab: cleaning VM leftovers of earlier runs failed: {e:#}"),
    });
    for slot in 1..=254u8 {
        let Some(lock) = FileLock::try_exclusive(&slot_lock_file(slot))? else {
            continue;
        };
        clean_stale_slot(slot)?;
        return Ok((slot, lock));
    }
    bail!("all 254 VM slots (10.214.1-254.0/24) are in use")
}

/// The image lock nspawn takes on a directory image, named after its device and inode.
fn nspawn_lock_file(dev: u64, ino: u64) -> PathBuf {
    PathBuf::from(format!("/run/systemd/nspawn/locks/inode-{dev}:{ino}"))
}

/// Removes what VMs of processes that died without tearing down left behind (every slot with a
/// trace whose lock nobody holds); returns those slots. The first boot of each process runs it.
pub fn cleanup_leftovers() -> Result<Vec<u8>> {
    let mut names: Vec<String> = Vec::new();
    for dir in [Path::new(STATE_DIR), Path::new("/run/netns")] {
        if let Ok(entries) = fs::read_dir(dir) {
            names.extend(entries.filter_map(|e| e.ok()?.file_name().into_string().ok()));
        }
    }
    for cgroup_parent in cgroup_dirs("x").iter().filter_map(|d| d.parent()) {
        names.extend(
            subdirs(cgroup_parent)
                .iter()
                .filter_map(|d| Some(d.file_name()?.to_str()?.to_string())),
        );
    }
    let mut slots: Vec<u8> = names.iter().filter_map(|n| slot_of(n)).collect();
    slots.sort_unstable();
    slots.dedup();
    let mut cleaned = Vec::new();
    for slot in slots {
        // A held lock means a live VM (of this or another process): not ours to touch.
        if let Some(_lock) = FileLock::try_exclusive(&slot_lock_file(slot))? {
            if slot_has_traces(slot) {
                clean_stale_slot(slot)?;
                cleaned.push(slot);
            }
        }
    }
    Ok(cleaned)
}

/// The slot in a name the VMs use: `hrvm-X`, `hrvm-X-PID-N`, `hrvm-X.state`, `hrvm-X.lock`.
fn slot_of(name: &str) -> Option<u8> {
    let rest = name.strip_prefix(PREFIX)?;
    let digits = rest.split(['-', '.']).next()?;
    digits.parse().ok()
}

/// Names of the namespaces and cgroups of VMs in `slot` that exist now.
fn slot_instances(slot: u8) -> Vec<String> {
    let prefix = format!("{PREFIX}{slot}-");
    let mut dirs = vec![PathBuf::from("/run/netns")];
    dirs.extend(
        cgroup_dirs("x")
            .iter()
            .filter_map(|d| d.parent().map(Path::to_path_buf)),
    );
    let mut names: Vec<String> = dirs
        .iter()
        .filter_map(|dir| fs::read_dir(dir).ok())
        .flat_map(|entries| entries.filter_map(|e| e.ok()?.file_name().into_string().ok()))
        .filter(|n| n.starts_with(&prefix))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn slot_has_traces(slot: u8) -> bool {
    slot_state_file(slot).exists()
        || link_ifindex(&format!("{PREFIX}{slot}")).is_some()
        || !slot_instances(slot).is_empty()
}

/// Removes what a process that held `slot` and died without tearing down left behind: the
/// processes (killed), the temp dir with the view (unmounted), namespaces, link and cgroups.
fn clean_stale_slot(slot: u8) -> Result<()> {
    let state = fs::read_to_string(slot_state_file(slot)).unwrap_or_default();
    let field = |key: &str| {
        state
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::to_string)
    };
    let link = format!("{PREFIX}{slot}");
    let mut names = slot_instances(slot);
    names.extend(field("name="));
    names.sort();
    names.dedup();
    let mut pids = Vec::new();
    for name in &names {
        if let Ok(meta) = fs::metadata(Path::new("/run/netns").join(name)) {
            pids.extend(pids_in_netns(meta.ino()));
        }
        for cgroup in cgroup_dirs(name) {
            pids.extend(pids_in_cgroup(&cgroup));
        }
    }
    for &pid in &pids {
        let _ = kill_pid(pid, libc::SIGKILL);
    }
    // Killed processes may take a moment to release the overlay and the namespace.
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        pids.iter().all(|&p| !pid_alive(p))
    });
    let mut problems = Vec::new();
    if let Some(lock) = field("nspawn_lock=") {
        let _ = fs::remove_file(lock);
    }
    if let Some(dir) = field("dir=") {
        if Path::new(&dir).exists() {
            eprintln!("lab: removing VM leftovers of a crashed run in {dir}");
            if let Err(e) = remove_tree(Path::new(&dir)) {
                problems.push(format!("{e:#}"));
            }
        }
    }
    for name in &names {
        let _ = fs::remove_dir_all(Path::new("/run/systemd/nspawn/propagate").join(name));
        remove_netns(name, &link, &mut problems);
        for cgroup in cgroup_dirs(name) {
            if let Err(e) = remove_vm_cgroup(&cgroup) {
                problems.push(format!("{e:#}"));
            }
        }
    }
    remove_netns("", &link, &mut problems);
    let _ = fs::remove_file(slot_state_file(slot));
    if !problems.is_empty() {
        bail!("cleaning stale VM slot {slot}: {}", problems.join("; "));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Small system helpers
// ---------------------------------------------------------------------------------------------

/// An exclusive `flock` on a file, released on drop or when the process dies.
#[derive(Debug)]
struct FileLock {
    _file: File,
}

impl FileLock {
    fn open(path: &Path) -> Result<File> {
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))
    }

    /// Waits until the lock is ours.
    fn exclusive(path: &Path) -> Result<FileLock> {
        let file = FileLock::open(path)?;
        // SAFETY: flock on a valid, open descriptor.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("flock {}", path.display()));
        }
        Ok(FileLock { _file: file })
    }

    /// A shared lock (many holders; excludes an exclusive one), waiting until it is ours.
    fn shared(path: &Path) -> Result<FileLock> {
        let file = FileLock::open(path)?;
        // SAFETY: flock on a valid, open descriptor.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("flock {}", path.display()));
        }
        Ok(FileLock { _file: file })
    }

    /// The lock if nobody holds it, `None` if somebody does.
    fn try_exclusive(path: &Path) -> Result<Option<FileLock>> {
        let file = FileLock::open(path)?;
        // SAFETY: flock on a valid, open descriptor.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Some(FileLock { _file: file }));
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(None);
        }
        Err(err).with_context(|| format!("flock {}", path.display()))
    }
}

// ---------------------------------------------------------------------------------------------
// cgroups: each VM gets its own, or the containers' systemds share one tree and break each other
// ---------------------------------------------------------------------------------------------

/// Parent of the VMs' cgroups in each hierarchy.
const CGROUP_PARENT: &str = "hook-runner-lab";

/// Where VM `name`'s cgroups are: the v1 `name=systemd` hierarchy and the cgroup2 one (hybrid
/// hosts have both, at `/sys/fs/cgroup/{systemd,unified}`), or the single cgroup2 tree.
///
/// Why: with `--keep-unit` and no systemd on the host, nspawn runs the container in the caller's
/// cgroup; two VMs from one test process would then share it, and each container's systemd
/// creates and removes `system.slice/*` under the same directory as the other's (units fail at
/// random with "Failed to attach to cgroup").
fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let fs_root = Path::new("/sys/fs/cgroup");
    let mut roots: Vec<PathBuf> = ["systemd", "unified"]
        .iter()
        .map(|h| fs_root.join(h))
        .filter(|root| root.join("cgroup.procs").exists())
        .collect();
    if roots.is_empty() && fs_root.join("cgroup.controllers").exists() {
        roots.push(fs_root.to_path_buf());
    }
    roots
        .into_iter()
        .map(|root| root.join(CGROUP_PARENT).join(name))
        .collect()
}

/// Creates VM `name`'s cgroups (empty: a leftover of a crash is removed first).
fn make_cgroups(name: &str) -> Result<Vec<PathBuf>> {
    let dirs = cgroup_dirs(name);
    for dir in &dirs {
        remove_cgroup(dir)?;
        // Another VM's teardown may remove the shared parent between our two mkdirs: retry.
        let mut attempt = 0;
        while let Err(e) = fs::create_dir_all(dir) {
            attempt += 1;
            if attempt == 5 {
                return Err(e).with_context(|| format!("creating cgroup {}", dir.display()));
            }
        }
    }
    Ok(dirs)
}

/// Removes a VM's cgroup, and the shared parent when no other VM uses it.
fn remove_vm_cgroup(dir: &Path) -> Result<()> {
    remove_cgroup(dir)?;
    if let Some(parent) = dir.parent() {
        // Fails (busy) while other VMs have cgroups there: that is fine.
        let _ = fs::remove_dir(parent);
    }
    Ok(())
}

/// Makes the command's process join `cgroups` between fork and exec, so everything nspawn
/// starts is inside them from the first instant.
fn enter_cgroups_before_exec(cmd: &mut Command, cgroups: &[PathBuf]) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let procs = cgroups
        .iter()
        .map(|dir| std::ffi::CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    // SAFETY: the closure only calls open/write/close (async-signal-safe) on strings prepared
    // before the fork; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            for path in &procs {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // "0" means the writing process.
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = std::io::Error::last_os_error();
                libc::close(fd);
                if written != 1 {
                    return Err(err);
                }
            }
            Ok(())
        });
    }
    Ok(())
}

/// Pids in a cgroup and the cgroups below it.
fn pids_in_cgroup(dir: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for sub in subdirs(dir) {
        pids.extend(pids_in_cgroup(&sub));
    }
    pids
}

/// Removes a cgroup and the ones the container's systemd made below it (deepest first; a
/// cgroup directory goes with rmdir, its control files with it).
fn remove_cgroup(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for sub in subdirs(dir) {
        remove_cgroup(&sub)?;
    }
    fs::remove_dir(dir).with_context(|| format!("rmdir {}", dir.display()))
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Deletes the host-side `link` (which deletes its peer) and the namespace `netns`.
fn remove_netns(netns: &str, link: &str, problems: &mut Vec<String>) {
    if link_ifindex(link).is_some() {
        if let Err(e) = ip(&["link", "del", link]) {
            problems.push(e.to_string());
        }
    }
    if !netns.is_empty() && Path::new("/run/netns").join(netns).exists() {
        if let Err(e) = ip(&["netns", "del", netns]) {
            problems.push(e.to_string());
        }
    }
}

fn link_ifindex(link: &str) -> Option<u32> {
    let path = Path::new("/sys/class/net").join(link).join("ifindex");
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A process's start time (`/proc/PID/stat` field 22), to tell it from a later one with its pid.
fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that closes the command name start at field 3 (state).
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn mount_overlay(lower: &Path, dir: &Path, view: &Path) -> Result<()> {
    let upper = dir.join("upper");
    let work = dir.join("work");
    fs::create_dir_all(&upper)?;
    fs::create_dir_all(&work)?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let out = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &options])
        .arg(view)
        .output()
        .context("running mount")?;
    if !out.status.success() {
        bail!(
            "mount -t overlay: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Unmounts `path`, lazily if it is still busy.
fn unmount(path: &Path) -> Result<()> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: umount2 with a valid NUL-terminated path.
    if unsafe { libc::umount2(c_path.as_ptr(), 0) } == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EINVAL) && !is_mount_point(path) {
        return Ok(());
    }
    // SAFETY: as above.
    if unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) } == 0 {
        return Ok(());
    }
    Err(std::io::Error::last_os_error())
        .with_context(|| format!("umount {} (first try: {err})", path.display()))
}

fn is_mount_point(path: &Path) -> bool {
    mounts_under(path).iter().any(|m| m == path)
}

/// Mount points at or below `dir`, deepest first (from `/proc/self/mountinfo`).
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(&dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes a tree that may contain a rootfs: unmounts anything below it first, and never crosses
/// into another filesystem (a leftover bind mount of /dev or /proc must not be emptied).
fn remove_tree(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    for mount in mounts_under(path) {
        unmount(&mount)?;
    }
    let out = Command::new("rm")
        .args(["-rf", "--one-file-system"])
        .arg(path)
        .output()?;
    if !out.status.success() || path.exists() {
        bail!(
            "rm -rf {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Pids of the processes whose network namespace has this inode.
fn pids_in_netns(inode: u64) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::metadata(format!("/proc/{pid}/ns/net"))
                .map(|m| m.ino() == inode)
                .unwrap_or(false)
        })
        .filter(|&pid| pid_alive(pid))
        .collect()
}

/// The child of nspawn that is pid 1 of its own pid namespace (the container's init).
fn container_init(supervisor_pid: i32) -> Option<i32> {
    let children = |pid: i32| -> Vec<i32> {
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .collect()
    };
    let is_init = |pid: &i32| {
        fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("NSpid:"))
                    .map(|l| l.split_whitespace().last() == Some("1"))
            })
            .unwrap_or(false)
    };
    // The supervisor's child is nspawn, whose child is the container's init.
    children(supervisor_pid)
        .into_iter()
        .filter(|pid| comm(*pid) == "systemd-nspawn")
        .flat_map(children)
        .find(is_init)
}

fn comm(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Runs a command with its output appended to `log`; fails with its status.
fn logged(log: &Path, cmd: &mut Command) -> Result<()> {
    let file = OpenOptions::new().create(true).append(true).open(log)?;
    let shown = format!("{cmd:?}");
    let _ = writeln!(&file, "$ {shown}");
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` capturing its output, killing it after `timeout`.
fn output_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting ssh")?;
    // Drain the pipes in threads so a chatty command cannot block on a full pipe.
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout pipe"))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow!("no stderr pipe"))?;
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = match wait_child(&mut child, timeout) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{cmd:?} did not finish within {timeout:?}");
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Waits for `child` up to `timeout`; `None` if it is still running.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

fn write_mode(path: &Path, text: &str, mode: u32) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

/// The last `lines` lines of a file (for error messages).
fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mountinfo(r"/x\134y"), r"/x\y");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo(r"/trailing\"), r"/trailing\");
    }

    #[test]
    fn cache_dir_is_under_the_workspace() {
        if std::env::var_os("LAB_CACHE_DIR").is_none() {
            let dir = cache_dir();
            assert!(dir.ends_with(".lab-cache/vm"), "{}", dir.display());
            assert!(dir.join("../../Cargo.toml").exists(), "{}", dir.display());
            assert!(
                dir.join("../../tests/lab/Cargo.toml").exists(),
                "{}",
                dir.display()
            );
        }
    }

    #[test]
    fn stamp_round_trips_and_rejects_other_recipes() {
        let dir = tempfile::tempdir().unwrap();
        Stamp {
            run_id: "run-1".into(),
            build_secs: 12.5,
        }
        .write(dir.path(), VmRecipe::Base)
        .unwrap();
        assert!(Stamp::read(dir.path(), VmRecipe::Python3).is_none());
        let stamp = Stamp::read(dir.path(), VmRecipe::Base).unwrap();
        assert_eq!(stamp.run_id, "run-1");
        assert!((stamp.build_secs - 12.5).abs() < 1e-9);
        let text = fs::read_to_string(dir.path().join("stamp")).unwrap();
        fs::write(
            dir.path().join("stamp"),
            text.replace(RECIPE, "other-recipe"),
        )
        .unwrap();
        assert!(Stamp::read(dir.path(), VmRecipe::Base).is_none());
    }

    #[test]
    fn recipes_have_their_own_cache_keys() {
        assert_ne!(VmRecipe::Base.name(), VmRecipe::Python3.name());
        // A new base recipe makes a new variant: the variant is built from the base.
        assert!(PYTHON3_RECIPE.starts_with(RECIPE));
        assert_eq!(VmRecipe::default(), VmRecipe::Base);
        assert_eq!(VmOptions::default().recipe, VmRecipe::Base);
        assert_eq!(VmOptions::python3().recipe, VmRecipe::Python3);
    }

    #[test]
    fn completeness_needs_python3_only_in_the_variant() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("usr/sbin")).unwrap();
        fs::create_dir_all(root.path().join("usr/bin")).unwrap();
        assert!(!is_complete(root.path(), VmRecipe::Base));
        fs::write(root.path().join("usr/sbin/sshd"), "").unwrap();
        assert!(is_complete(root.path(), VmRecipe::Base));
        assert!(!is_complete(root.path(), VmRecipe::Python3));
        fs::write(root.path().join("usr/bin/python3"), "").unwrap();
        assert!(is_complete(root.path(), VmRecipe::Python3));
    }

    #[test]
    fn unused_entries_go_but_every_recipe_keeps_its_current_one() {
        let cache = tempfile::tempdir().unwrap();
        let entry = |name: &str| {
            let dir = cache.path().join(name);
            fs::create_dir_all(dir.join("rootfs")).unwrap();
            dir
        };
        let base = entry(&format!("{RECIPE}@1-1"));
        let old_base = entry(&format!("{RECIPE}@0-1"));
        let python = entry(&format!("{PYTHON3_RECIPE}@2-1"));
        let retired = entry("retired-recipe@3-1");
        let in_use = entry(&format!("{PYTHON3_RECIPE}@1-7"));
        fs::write(
            cache.path().join(format!("{RECIPE}.current")),
            format!("{RECIPE}@1-1\n"),
        )
        .unwrap();
        fs::write(
            cache.path().join(format!("{PYTHON3_RECIPE}.current")),
            format!("{PYTHON3_RECIPE}@2-1\n"),
        )
        .unwrap();
        let _held = FileLock::shared(&in_use.join("use.lock")).unwrap();
        remove_unused_entries(cache.path());
        assert!(base.exists() && python.exists() && in_use.exists());
        assert!(!old_base.exists() && !retired.exists());
    }

    #[test]
    fn a_vm_can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Vm>();
        send_sync::<VmTrace>();
    }

    #[test]
    fn python_is_found_under_any_name() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("usr/bin")).unwrap();
        fs::write(root.path().join("usr/bin/sh"), "").unwrap();
        assert!(!python_present(root.path()));
        fs::write(root.path().join("usr/bin/python3.11"), "").unwrap();
        assert!(python_present(root.path()));
    }

    #[test]
    fn slots_are_read_from_every_kind_of_name() {
        assert_eq!(slot_of("hrvm-7"), Some(7));
        assert_eq!(slot_of("hrvm-12-3456-0"), Some(12));
        assert_eq!(slot_of("hrvm-254.state"), Some(254));
        assert_eq!(slot_of("hrlab-3"), None);
        assert_eq!(slot_of("hrvm-x"), None);
    }

    #[test]
    fn run_id_is_stable_within_a_process() {
        assert_eq!(current_run_id(), current_run_id());
    }

    #[test]
    fn file_lock_excludes_a_second_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let first = FileLock::try_exclusive(&path).unwrap();
        assert!(first.is_some());
        assert!(FileLock::try_exclusive(&path).unwrap().is_none());
        drop(first);
        assert!(FileLock::try_exclusive(&path).unwrap().is_some());
    }

    #[test]
    fn timeout_kills_a_slow_command() {
        let started = Instant::now();
        let err = output_with_timeout(Command::new("sleep").arg("5"), Duration::from_millis(200));
        assert!(err.is_err());
        assert!(started.elapsed() < Duration::from_secs(3));
        let ok =
            output_with_timeout(Command::new("echo").arg("hi"), Duration::from_secs(5)).unwrap();
        assert_eq!(ok.stdout, b"hi\n");
    }
}
