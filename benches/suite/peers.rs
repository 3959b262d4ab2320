//! The runners compared: hook-runner and ansible-core 2.18 in three configurations.
//!
//! Every Ansible run is made independent of the others and of the machine's own setup: a fresh
//! working directory (no `ansible.cfg` is picked up), `ANSIBLE_CONFIG` pointing at an empty file,
//! its own `HOME`, local temp and SSH control-socket directory (so no run reuses another's
//! `ControlPersist` master), no retry files, no colour. After the run the masters are asked to
//! exit (`ssh -O exit`) so their CPU time is counted (see `measure`). Everything else is Ansible's
//! default: `ssh -C -o ControlMaster=auto -o ControlPersist=60s` (plus `UserKnownHostsFile=/dev/null`,
//! as hook-runner does not write known_hosts either), forks 5, no pipelining, linear strategy.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// ansible-playbook's default `--forks`: every row without a forks figure runs at it.
pub const ANSIBLE_DEFAULT_FORKS: u32 = 5;

/// One way to run a playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    HookRunner {
        forks: Option<u32>,
    },
    /// ansible-core without pipelining.
    Stock {
        forks: Option<u32>,
    },
    /// ansible-core with `ANSIBLE_PIPELINING=True`.
    Pipelining {
        forks: Option<u32>,
    },
    /// ansible-core with Mitogen's `mitogen_linear` strategy.
    Mitogen {
        forks: Option<u32>,
    },
}

impl Tool {
    /// The table's label.
    pub fn label(&self) -> String {
        let (name, forks) = match self {
            Tool::HookRunner { forks } => ("hook-runner", forks),
            Tool::Stock { forks } => ("ansible stock", forks),
            Tool::Pipelining { forks } => ("ansible pipelining", forks),
            Tool::Mitogen { forks } => ("ansible mitogen_linear", forks),
        };
        match forks {
            Some(f) => format!("{name} (forks {f})"),
            None => name.to_string(),
        }
    }

    pub fn is_ansible(&self) -> bool {
        !matches!(self, Tool::HookRunner { .. })
    }
}

/// Where the runners are.
#[derive(Debug, Clone)]
pub struct Peers {
    pub hook_runner: PathBuf,
    pub venv: Option<PathBuf>,
}

impl Peers {
    /// From `HOOK_RUNNER_BIN` (default target/release/hook-runner) and `BENCH_VENV`
    /// (default .lab-cache/bench-venv; Ansible peers are skipped when it is missing).
    pub fn from_env(root: &Path) -> Result<Peers> {
        let hook_runner = std::env::var_os("HOOK_RUNNER_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/release/hook-runner"));
        if !hook_runner.is_file() {
            bail!(
                "{} not found: run scripts/bench.sh (it builds it with cargo build --release)",
                hook_runner.display()
            );
        }
        let venv = std::env::var_os("BENCH_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".lab-cache/bench-venv"));
        let venv = if venv.join("bin/ansible-playbook").is_file() {
            Some(venv)
        } else {
            eprintln!(
                "bench: no Ansible venv at {} (scripts/bench.sh makes it): Ansible peers skipped",
                venv.display()
            );
            None
        };
        Ok(Peers { hook_runner, venv })
    }

    fn venv(&self) -> Result<&Path> {
        self.venv.as_deref().context("the Ansible venv is missing")
    }

    /// `ansible-playbook` (or another venv program) with the run's isolated environment.
    pub fn ansible(&self, program: &str, runner: Tool, work: &Path) -> Result<Command> {
        let venv = self.venv()?;
        let home = work.join("ansible-home");
        let control = control_dir(work);
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(&control)?;
        let config = work.join("empty-ansible.cfg");
        std::fs::write(&config, "")?;
        let mut cmd = Command::new(venv.join("bin").join(program));
        cmd.current_dir(work)
            .env("ANSIBLE_CONFIG", &config)
            .env("HOME", &home)
            .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", &control)
            .env(
                "ANSIBLE_SSH_ARGS",
                "-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null",
            )
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "False");
        match runner {
            Tool::HookRunner { .. } => bail!("not an Ansible runner"),
            Tool::Stock { forks } => set_forks(&mut cmd, forks),
            Tool::Pipelining { forks } => {
                cmd.env("ANSIBLE_PIPELINING", "True");
                set_forks(&mut cmd, forks);
            }
            Tool::Mitogen { forks } => {
                let strategy = self.mitogen_strategy_dir()?;
                cmd.env("ANSIBLE_STRATEGY_PLUGINS", strategy)
                    .env("ANSIBLE_STRATEGY", "mitogen_linear");
                set_forks(&mut cmd, forks);
            }
        }
        Ok(cmd)
    }

    /// `hook-runner run -i INVENTORY PLAYBOOK` (plus `-f` when set).
    pub fn hook_runner_run(
        &self,
        runner: Tool,
        inventory: Option<&Path>,
        playbook: &Path,
        work: &Path,
    ) -> Command {
        let mut cmd = Command::new(&self.hook_runner);
        cmd.current_dir(work).arg("run");
        if let Some(inv) = inventory {
            cmd.arg("-i").arg(inv);
        }
        // A row without a forks figure runs at Ansible's default (5), as the peers it is
        // compared with do; hook-runner's own default is 50.
        if let Tool::HookRunner { forks } = runner {
            cmd.arg("-f")
                .arg(forks.unwrap_or(ANSIBLE_DEFAULT_FORKS).to_string());
        }
        cmd.arg(playbook)
            // The default /dev/termination-log is only written when it exists; keep it that way.
            .env("HOOK_RUNNER_TERMINATION_LOG", work.join("termination-log"));
        cmd
    }

    /// The command running `playbook` with `runner`.
    pub fn playbook(
        &self,
        runner: Tool,
        inventory: Option<&Path>,
        playbook: &Path,
        work: &Path,
    ) -> Result<Command> {
        if !runner.is_ansible() {
            return Ok(self.hook_runner_run(runner, inventory, playbook, work));
        }
        let mut cmd = self.ansible("ansible-playbook", runner, work)?;
        if let Some(inv) = inventory {
            cmd.arg("-i").arg(inv);
        }
        cmd.arg(playbook);
        Ok(cmd)
    }

    /// The venv's Python (the controller's interpreter, for `localhost` in the seed hook).
    pub fn python(&self) -> Result<PathBuf> {
        Ok(self.venv()?.join("bin/python"))
    }

    fn mitogen_strategy_dir(&self) -> Result<PathBuf> {
        let lib = self.venv()?.join("lib");
        for entry in std::fs::read_dir(&lib)? {
            let dir = entry?
                .path()
                .join("site-packages/ansible_mitogen/plugins/strategy");
            if dir.is_dir() {
                return Ok(dir);
            }
        }
        bail!("ansible_mitogen is not installed in {}", lib.display())
    }
}

fn set_forks(cmd: &mut Command, forks: Option<u32>) {
    if let Some(f) = forks {
        cmd.env("ANSIBLE_FORKS", f.to_string());
    }
}

/// The per-run control-socket directory of an Ansible run (short: unix socket paths are short).
pub fn control_dir(work: &Path) -> PathBuf {
    work.join("cp")
}

/// Asks every `ControlPersist` master of a run to exit, so it is reaped and counted.
pub fn close_masters(work: &Path) {
    let Ok(entries) = std::fs::read_dir(control_dir(work)) else {
        return;
    };
    for entry in entries.flatten() {
        let _ = Command::new("ssh")
            .args(["-F", "/dev/null", "-o"])
            .arg(format!("ControlPath={}", entry.path().display()))
            .args(["-O", "exit", "unused"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}
