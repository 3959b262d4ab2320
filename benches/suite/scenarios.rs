//! The five scenarios. Each one starts its targets once, then runs every runner in
//! turn (alternating: run 1 of each, then run 2 of each, ...), resetting the target before every
//! run, and measures the floor in the same loop.

use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lab::SshHost;

use crate::counter::SessionCounter;
use crate::measure;
use crate::peers::{close_masters, Peers, Tool};
use crate::report::{Floor, Row, Scenario};

/// What every scenario needs.
pub struct Ctx {
    pub peers: Peers,
    pub root: PathBuf,
    pub scratch: PathBuf,
    pub runs: usize,
    pub quick: bool,
}

/// Builds a runner's command for one run directory.
type MakeCommand<'a> = Box<dyn Fn(&Path) -> Result<Command> + 'a>;

/// A runner taking part in a scenario: its row and how to build its command for a run dir.
struct Contender<'a> {
    row: Row,
    runner: Tool,
    make: MakeCommand<'a>,
}

/// Runs every contender `runs` times, alternating, with `reset` before each run and `floor`
/// once per round (before the runners).
fn alternate(
    ctx: &Ctx,
    scenario: &str,
    runs: usize,
    contenders: &mut [Contender<'_>],
    reset: &mut dyn FnMut() -> Result<()>,
    floor: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    for round in 0..runs {
        floor()?;
        for c in contenders.iter_mut() {
            if c.row.error.is_some() {
                continue;
            }
            reset()?;
            let work = run_dir(ctx, scenario, &c.row.label, round)?;
            let result = (c.make)(&work).and_then(|mut cmd| {
                let is_ansible = c.runner.is_ansible();
                measure::run(&mut cmd, &work.join("log"), &|| {
                    if is_ansible {
                        close_masters(&work)
                    }
                })
            });
            match result {
                Ok(sample) => {
                    eprintln!(
                        "bench: {scenario} {}/{runs} {:<34} {:>9.3} s  cpu {:.3} s  rss {} KiB",
                        round + 1,
                        c.row.label,
                        sample.wall.as_secs_f64(),
                        sample.cpu.as_secs_f64(),
                        sample.tree_maxrss_kb
                    );
                    c.row.samples.push(sample);
                }
                Err(e) => {
                    eprintln!("bench: {scenario} {} FAILED: {e:#}", c.row.label);
                    c.row.error = Some(format!("{e:#}"));
                }
            }
        }
    }
    Ok(())
}

fn run_dir(ctx: &Ctx, scenario: &str, label: &str, round: usize) -> Result<PathBuf> {
    let slug: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    // Short: Ansible's control sockets live below it.
    let dir = ctx.scratch.join(format!(
        "{}{}-{}",
        &scenario[..1],
        round,
        &slug[..slug.len().min(12)]
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn contender<'a>(runner: Tool, make: impl Fn(&Path) -> Result<Command> + 'a) -> Contender<'a> {
    Contender {
        row: Row::new(runner.label()),
        runner,
        make: Box::new(make),
    }
}

/// The runners of the playbook scenarios, hook-runner first (the ratios' base).
fn playbook_runners(ctx: &Ctx, extra: &[Tool]) -> Vec<Tool> {
    let mut runners = vec![Tool::HookRunner { forks: None }];
    if ctx.peers.venv.is_some() {
        runners.extend([
            Tool::Stock { forks: None },
            Tool::Pipelining { forks: None },
            Tool::Mitogen { forks: None },
        ]);
    }
    runners.extend(
        extra
            .iter()
            .filter(|r| !r.is_ansible() || ctx.peers.venv.is_some()),
    );
    runners
}

// ---------------------------------------------------------------------------------------------
// Playbooks and inventories
// ---------------------------------------------------------------------------------------------

/// `groups` groups of 5 cheap tasks under `{{ base }}`: file (directory), copy (content),
/// command `true`, stat, and the same copy again (a no-op). On a fresh target the file and
/// first copy change something; the command always reports changed; stat and the second copy
/// never do: half of the tasks are no-ops on a converged host.
pub fn cheap_tasks_playbook(groups: usize) -> String {
    let mut p = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for g in 1..=groups {
        let _ = write!(
            p,
            "    - name: directory {g}\n      file:\n        path: \"{{{{ base }}}}/d{g}\"\n        state: directory\n        mode: \"0755\"\n\
             \x20   - name: content {g}\n      copy:\n        dest: \"{{{{ base }}}}/d{g}/f\"\n        content: \"group {g}\\n\"\n        mode: \"0644\"\n\
             \x20   - name: command {g}\n      command: /bin/true\n\
             \x20   - name: stat {g}\n      stat:\n        path: \"{{{{ base }}}}/d{g}/f\"\n\
             \x20   - name: content {g} again\n      copy:\n        dest: \"{{{{ base }}}}/d{g}/f\"\n        content: \"group {g}\\n\"\n        mode: \"0644\"\n"
        );
    }
    p
}

const BENCH_BASE: &str = "/home/hrtest/bench";

/// An INI inventory line for a lab sshd host answering on `address`.
fn host_line(name: &str, address: Ipv4Addr, host: &SshHost) -> String {
    format!(
        "{name} ansible_host={address} ansible_port={} ansible_user={} ansible_ssh_private_key_file={} ansible_python_interpreter=/usr/bin/python3 base={BENCH_BASE}/{name}\n",
        host.port(),
        host.user(),
        host.key_path().display()
    )
}

fn reset_bench_dir(host: &SshHost) -> Result<()> {
    let out = host.ssh_command(&format!("rm -rf {BENCH_BASE} && mkdir {BENCH_BASE}"));
    if !out.status.success() {
        bail!(
            "resetting {BENCH_BASE} on the lab host: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// tasks
// ---------------------------------------------------------------------------------------------

pub fn tasks(ctx: &Ctx) -> Result<Scenario> {
    let host = SshHost::start_loopback()?;
    let dir = ctx.scratch.join("tasks");
    fs::create_dir_all(&dir)?;
    let inventory = dir.join("inventory.ini");
    fs::write(&inventory, host_line("bench", Ipv4Addr::LOCALHOST, &host))?;
    let playbook = dir.join("playbook.yml");
    fs::write(&playbook, cheap_tasks_playbook(10))?;

    let mut contenders: Vec<Contender> = playbook_runners(ctx, &[])
        .into_iter()
        .map(|r| {
            let (inv, pb) = (inventory.clone(), playbook.clone());
            contender(r, move |work| ctx.peers.playbook(r, Some(&inv), &pb, work))
        })
        .collect();
    let mut floor = Floor {
        label: "50 × `true`, one native-mux connection".into(),
        walls: Vec::new(),
        note: "one SSH master connection (openssh crate, native-mux, as hook-runner uses) and 50 \
               `true` commands over it, timed together from connect to the last exit; the time \
               per task to beat is this divided by 50."
            .into(),
    };
    let mut connect_times = Vec::new();
    let mut command_times = Vec::new();
    alternate(
        ctx,
        "tasks",
        ctx.runs,
        &mut contenders,
        &mut || reset_bench_dir(&host),
        &mut || {
            let (connect, commands) = mux_floor(&host, Ipv4Addr::LOCALHOST, 50, &ctx.scratch)?;
            floor.walls.push(connect + commands);
            connect_times.push(connect);
            command_times.push(commands);
            Ok(())
        },
    )?;
    let mut scenario = Scenario {
        name: "tasks",
        title: "50 cheap tasks (file, copy content, command, stat, copy no-op; ×10) on one loopback sshd host, fresh directory each run".into(),
        rows: contenders.into_iter().map(|c| c.row).collect(),
        floors: vec![floor],
        notes: vec![format!(
            "Floor parts (medians): connect {}, 50 commands {} ({:.2} ms per command).",
            crate::report::secs(measure::median(connect_times.clone())),
            crate::report::secs(measure::median(command_times.clone())),
            measure::median(command_times).as_secs_f64() * 1000.0 / 50.0
        )],
    };
    drop(host);
    count_sessions(ctx, &mut scenario, &playbook)?;
    Ok(scenario)
}

/// Times one native-mux SSH master connection and `count` `true` commands over it.
fn mux_floor(
    host: &SshHost,
    address: Ipv4Addr,
    count: usize,
    scratch: &Path,
) -> Result<(Duration, Duration)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let control = scratch.join("mux");
    fs::create_dir_all(&control)?;
    let orphans = measure::Orphans::snapshot();
    let result = runtime.block_on(async {
        let mut builder = openssh::SessionBuilder::default();
        builder
            .user(host.user().to_string())
            .port(host.port())
            .keyfile(host.key_path())
            .config_file("/dev/null")
            .user_known_hosts_file("/dev/null")
            .known_hosts_check(openssh::KnownHosts::Accept)
            .control_directory(&control);
        let started = Instant::now();
        let session = builder
            .connect_mux(address.to_string())
            .await
            .context("native-mux connect")?;
        let connect = started.elapsed();
        let started = Instant::now();
        for _ in 0..count {
            let status = session.command("true").status().await?;
            if !status.success() {
                bail!("`true` failed over the mux connection: {status}");
            }
        }
        let commands = started.elapsed();
        session.close().await?;
        Ok((connect, commands))
    });
    // The master forked itself into the background (`ssh -f`): it is ours to reap.
    orphans.reap(Duration::from_secs(3));
    result
}

// ---------------------------------------------------------------------------------------------
// Session counting (where the time goes)
// ---------------------------------------------------------------------------------------------

/// One un-timed pass per runner against a counting sshd: how many SSH sessions (channels that
/// run a command or sftp) one run of the playbook opens.
fn count_sessions(ctx: &Ctx, scenario: &mut Scenario, playbook: &Path) -> Result<()> {
    let counter = SessionCounter::new()?;
    let host = counter.start_host()?;
    let dir = ctx.scratch.join(format!("{}-count", scenario.name));
    fs::create_dir_all(&dir)?;
    let inventory = dir.join("inventory.ini");
    fs::write(&inventory, host_line("bench", Ipv4Addr::LOCALHOST, &host))?;
    for row in scenario.rows.iter_mut() {
        let Some(runner) = runner_of(ctx, &row.label) else {
            continue;
        };
        reset_bench_dir(&host)?;
        counter.clear()?;
        let work = run_dir(ctx, "count", &row.label, 0)?;
        let mut cmd = ctx
            .peers
            .playbook(runner, Some(&inventory), playbook, &work)?;
        let is_ansible = runner.is_ansible();
        match measure::run(&mut cmd, &work.join("log"), &|| {
            if is_ansible {
                close_masters(&work)
            }
        }) {
            Ok(_) => row.sessions = Some(counter.count()?),
            Err(e) => eprintln!("bench: counting sessions of {}: {e:#}", row.label),
        }
    }
    Ok(())
}

fn runner_of(ctx: &Ctx, label: &str) -> Option<Tool> {
    playbook_runners(
        ctx,
        &[
            Tool::HookRunner { forks: Some(50) },
            Tool::Stock { forks: Some(50) },
            Tool::Pipelining { forks: Some(50) },
            Tool::Mitogen { forks: Some(50) },
        ],
    )
    .into_iter()
    .find(|r| r.label() == label)
}

// ---------------------------------------------------------------------------------------------
// fanout
// ---------------------------------------------------------------------------------------------

/// `ListenAddress` lines for 127.0.0.`first` ..= 127.0.0.`last`.
pub fn listen_lines(first: usize, last: usize) -> String {
    (first..=last)
        .map(|i| format!("ListenAddress 127.0.0.{i}\n"))
        .collect()
}

/// Loopback addresses one sshd answers on besides the lab's 127.0.0.1: sshd listens on at most
/// 16 sockets (MAX_LISTEN_SOCKS), so 50 addresses take four daemons.
const ADDRESSES_PER_SSHD: usize = 15;

pub fn fanout(ctx: &Ctx) -> Result<Scenario> {
    const HOSTS: usize = 50;
    // Host i (0-based) answers on 127.0.0.(i+2), served by daemon i / ADDRESSES_PER_SSHD.
    let daemons = (0..HOSTS.div_ceil(ADDRESSES_PER_SSHD))
        .map(|d| {
            let first = d * ADDRESSES_PER_SSHD + 2;
            let last = ((d + 1) * ADDRESSES_PER_SSHD).min(HOSTS) + 1;
            SshHost::options()
                .config(&listen_lines(first, last))
                .start_loopback()
        })
        .collect::<Result<Vec<SshHost>>>()?;
    let dir = ctx.scratch.join("fanout");
    fs::create_dir_all(&dir)?;
    let inventory = dir.join("inventory.ini");
    let mut inv = String::new();
    for i in 0..HOSTS {
        inv.push_str(&host_line(
            &format!("h{:02}", i + 1),
            Ipv4Addr::new(127, 0, 0, (i + 2) as u8),
            &daemons[i / ADDRESSES_PER_SSHD],
        ));
    }
    fs::write(&inventory, inv)?;
    let host = &daemons[0];
    let playbook = dir.join("playbook.yml");
    fs::write(&playbook, cheap_tasks_playbook(2))?;
    let extra = [
        Tool::HookRunner { forks: Some(50) },
        Tool::Stock { forks: Some(50) },
        Tool::Pipelining { forks: Some(50) },
        Tool::Mitogen { forks: Some(50) },
    ];
    let mut contenders: Vec<Contender> = playbook_runners(ctx, &extra)
        .into_iter()
        .map(|r| {
            let (inv, pb) = (inventory.clone(), playbook.clone());
            contender(r, move |work| ctx.peers.playbook(r, Some(&inv), &pb, work))
        })
        .collect();
    // Stock Ansible at forks 5 takes minutes per run here: fewer runs unless asked.
    let runs = std::env::var("BENCH_FANOUT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ctx.runs.min(3));
    alternate(
        ctx,
        "fanout",
        runs,
        &mut contenders,
        &mut || reset_bench_dir(host),
        &mut || Ok(()),
    )?;
    Ok(Scenario {
        name: "fanout",
        title: format!("10 cheap tasks on {HOSTS} hosts (127.0.0.2–127.0.0.{}, four sshd answering on up to 16 addresses each: sshd's MAX_LISTEN_SOCKS), {runs} runs", HOSTS + 1),
        rows: contenders.into_iter().map(|c| c.row).collect(),
        floors: Vec::new(),
        notes: vec!["Runners without a forks figure run at forks 5 (Ansible's default; hook-runner, whose own default is 50, is given `-f 5`). The fanout targets compare hook-runner at forks 50.".into()],
    })
}

// ---------------------------------------------------------------------------------------------
// startup
// ---------------------------------------------------------------------------------------------

pub fn startup(ctx: &Ctx) -> Result<Scenario> {
    let example = ctx.root.join("playbooks/example/playbook.yml");
    let hr = ctx.peers.hook_runner.clone();
    let mut contenders: Vec<Contender> = vec![
        Contender {
            row: Row::new("hook-runner --version".into()),
            runner: Tool::HookRunner { forks: None },
            make: Box::new(|work| {
                let mut c = Command::new(&hr);
                c.current_dir(work).arg("--version");
                Ok(c)
            }),
        },
        Contender {
            row: Row::new("hook-runner dry-run (bundled example)".into()),
            runner: Tool::HookRunner { forks: None },
            make: Box::new(|work| {
                let mut c = Command::new(&hr);
                c.current_dir(work).arg("dry-run");
                Ok(c)
            }),
        },
    ];
    if ctx.peers.venv.is_some() {
        let stock = Tool::Stock { forks: None };
        contenders.push(Contender {
            row: Row::new("ansible-playbook --version".into()),
            runner: stock,
            make: Box::new(move |work| {
                let mut c = ctx.peers.ansible("ansible-playbook", stock, work)?;
                c.arg("--version");
                Ok(c)
            }),
        });
        let example = example.clone();
        contenders.push(Contender {
            row: Row::new("ansible-playbook --syntax-check (example)".into()),
            runner: stock,
            make: Box::new(move |work| {
                let mut c = ctx.peers.ansible("ansible-playbook", stock, work)?;
                c.arg("--syntax-check").arg(&example);
                Ok(c)
            }),
        });
    }
    let runs = if ctx.quick { 3 } else { ctx.runs * 4 };
    alternate(
        ctx,
        "startup",
        runs,
        &mut contenders,
        &mut || Ok(()),
        &mut || Ok(()),
    )?;
    Ok(Scenario {
        name: "startup",
        title: format!("process start-up, {runs} runs each"),
        rows: contenders.into_iter().map(|c| c.row).collect(),
        floors: Vec::new(),
        notes: vec!["Ratios are against `hook-runner --version`.".into()],
    })
}

// ---------------------------------------------------------------------------------------------
// big file
// ---------------------------------------------------------------------------------------------

pub fn bigfile(ctx: &Ctx) -> Result<Scenario> {
    const MB: usize = 100;
    let host = SshHost::start_loopback()?;
    let dir = ctx.scratch.join("bigfile");
    fs::create_dir_all(&dir)?;
    let source = dir.join("big.bin");
    make_random_file(&source, MB)?;
    let dest = "/home/hrtest/big.bin";
    let inventory = dir.join("inventory.ini");
    fs::write(&inventory, host_line("bench", Ipv4Addr::LOCALHOST, &host))?;
    let playbook = dir.join("playbook.yml");
    fs::write(
        &playbook,
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: copy {MB} MB\n      copy:\n        src: {}\n        dest: {dest}\n        mode: \"0644\"\n",
            source.display()
        ),
    )?;
    let mut contenders: Vec<Contender> = playbook_runners(ctx, &[])
        .into_iter()
        .map(|r| {
            let (inv, pb) = (inventory.clone(), playbook.clone());
            contender(r, move |work| ctx.peers.playbook(r, Some(&inv), &pb, work))
        })
        .collect();
    let reset = || -> Result<()> {
        let out = host.ssh_command(&format!("rm -f {dest}"));
        if !out.status.success() {
            bail!("removing {dest}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    let mut scp = Floor {
        label: "scp".into(),
        walls: Vec::new(),
        note: "`scp` of the same file to the same host (a fresh connection, as the runners make). Neither scp nor hook-runner compresses; Ansible's default ssh arguments include `-C`, so its transfer is compressed."
            .into(),
    };
    let runs = ctx.runs;
    alternate(
        ctx,
        "bigfile",
        runs,
        &mut contenders,
        &mut || reset(),
        &mut || {
            reset()?;
            let mut cmd = Command::new("scp");
            cmd.args(["-q", "-i"])
                .arg(host.key_path())
                .args(["-P", &host.port().to_string()])
                .args([
                    "-F",
                    "/dev/null",
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                    "-o",
                    "BatchMode=yes",
                ])
                .arg(&source)
                .arg(format!("{}@127.0.0.1:{dest}", host.user()));
            let work = run_dir(ctx, "bigfile", "scp", 0)?;
            let sample = measure::run(&mut cmd, &work.join("log"), &|| {})?;
            scp.walls.push(sample.wall);
            Ok(())
        },
    )?;
    Ok(Scenario {
        name: "bigfile",
        title: format!("`copy` of a {MB} MB file (random bytes) to one loopback sshd host"),
        rows: contenders.into_iter().map(|c| c.row).collect(),
        floors: vec![scp],
        notes: Vec::new(),
    })
}

fn make_random_file(path: &Path, mb: usize) -> Result<()> {
    if fs::metadata(path).map(|m| m.len()).ok() == Some((mb * 1024 * 1024) as u64) {
        return Ok(());
    }
    let status = Command::new("dd")
        .args(["if=/dev/urandom", "bs=1M", "status=none"])
        .arg(format!("count={mb}"))
        .arg(format!("of={}", path.display()))
        .stdin(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("dd could not make {}", path.display());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// seed
// ---------------------------------------------------------------------------------------------

pub use crate::seed::seed;
