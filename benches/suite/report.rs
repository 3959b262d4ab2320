//! Results: per scenario, one row per runner (the samples of its runs) and the floors; the
//! table (Markdown, printed and optionally written into README.md between the bench markers)
//! and the checks of the speed and memory targets.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::measure::{median, median_u64, Sample};

/// One runner's runs in a scenario.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub label: String,
    pub samples: Vec<Sample>,
    /// Why a run failed (the runner's later runs are skipped).
    pub error: Option<String>,
    /// SSH sessions (channels) the runner opened in one run, counted in a profile pass.
    pub sessions: Option<u64>,
}

impl Row {
    pub fn new(label: String) -> Row {
        Row {
            label,
            ..Row::default()
        }
    }

    pub fn wall(&self) -> Option<Duration> {
        (!self.samples.is_empty()).then(|| median(self.samples.iter().map(|s| s.wall).collect()))
    }

    fn cpu(&self) -> Duration {
        median(self.samples.iter().map(|s| s.cpu).collect())
    }

    pub fn tree_rss_kb(&self) -> u64 {
        median_u64(self.samples.iter().map(|s| s.tree_maxrss_kb).collect())
    }

    fn main_cpu(&self) -> Duration {
        median(self.samples.iter().map(|s| s.main_cpu).collect())
    }

    fn main_rss_kb(&self) -> u64 {
        median_u64(self.samples.iter().map(|s| s.main_hwm_kb).collect())
    }

    fn range(&self) -> String {
        let min = self
            .samples
            .iter()
            .map(|s| s.wall)
            .min()
            .unwrap_or_default();
        let max = self
            .samples
            .iter()
            .map(|s| s.wall)
            .max()
            .unwrap_or_default();
        format!("{}–{}", secs(min), secs(max))
    }
}

/// A floor: the same work done with the bare tools.
#[derive(Debug, Clone)]
pub struct Floor {
    pub label: String,
    pub walls: Vec<Duration>,
    pub note: String,
}

impl Floor {
    pub fn wall(&self) -> Duration {
        median(self.walls.clone())
    }
}

/// One scenario's results.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub name: &'static str,
    pub title: String,
    pub rows: Vec<Row>,
    pub floors: Vec<Floor>,
    pub notes: Vec<String>,
}

impl Scenario {
    pub fn row(&self, label: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.label == label && r.wall().is_some())
    }

    fn floor(&self, label: &str) -> Option<&Floor> {
        self.floors.iter().find(|f| f.label == label)
    }
}

pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 0.1 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn mb(kb: u64) -> String {
    if kb == 0 {
        "–".into()
    } else {
        format!("{:.1} MB", kb as f64 / 1024.0)
    }
}

/// The Markdown table of one scenario.
pub fn scenario_table(s: &Scenario) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "**{}** — {}\n", s.name, s.title);
    let base = s.rows.first().and_then(Row::wall);
    t.push_str("| runner | wall (median) | min–max | CPU user+sys (tree) | main process CPU | peak RSS (largest process) | main process RSS | SSH sessions/run | × hook-runner's time |\n");
    t.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for row in &s.rows {
        let Some(wall) = row.wall() else {
            let why = row.error.as_deref().unwrap_or("not run");
            let _ = writeln!(
                t,
                "| {} | failed: {} | | | | | | | |",
                row.label,
                one_line(why)
            );
            continue;
        };
        let ratio = base.map_or("".into(), |b| ratio(wall, b));
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            secs(wall),
            row.range(),
            secs(row.cpu()),
            secs(row.main_cpu()),
            mb(row.tree_rss_kb()),
            mb(row.main_rss_kb()),
            row.sessions.map_or("".into(), |n| n.to_string()),
            ratio
        );
        if let Some(e) = &row.error {
            let _ = writeln!(
                t,
                "| ↳ {} (a later run failed) | {} | | | | | | | |",
                row.label,
                one_line(e)
            );
        }
    }
    for f in &s.floors {
        let ratio = base.map_or("".into(), |b| ratio(f.wall(), b));
        let _ = writeln!(
            t,
            "| *floor:* {} | {} | | | | | | | {} |",
            f.label,
            secs(f.wall()),
            ratio
        );
    }
    for f in s.floors.iter().filter(|f| !f.note.is_empty()) {
        let _ = writeln!(t, "\nFloor *{}*: {}", f.label, f.note);
    }
    for n in &s.notes {
        let _ = writeln!(t, "\n{n}");
    }
    t
}

fn ratio(wall: Duration, base: Duration) -> String {
    if base.is_zero() {
        return "".into();
    }
    format!("{:.2}×", wall.as_secs_f64() / base.as_secs_f64())
}

fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .replace('|', "/");
    line.chars().take(160).collect()
}

/// A target check: what, the figure, and whether it is met.
struct Check {
    what: String,
    figure: String,
    met: Option<bool>,
}

fn check_ratio(
    what: &str,
    num: Option<Duration>,
    den: Option<Duration>,
    at_least: f64,
) -> Option<Check> {
    let (n, d) = (num?, den?);
    let r = n.as_secs_f64() / d.as_secs_f64();
    Some(Check {
        what: format!("{what} ≥ {at_least}×"),
        figure: format!("{r:.1}×"),
        met: Some(r >= at_least),
    })
}

fn check_at_most(what: &str, value: Option<f64>, limit: f64, unit: &str) -> Option<Check> {
    let v = value?;
    Some(Check {
        what: format!("{what} ≤ {limit} {unit}"),
        figure: format!("{v:.1} {unit}"),
        met: Some(v <= limit),
    })
}

const HR: &str = "hook-runner";

/// The speed and memory targets that this run's results can decide.
pub fn targets(scenarios: &[Scenario]) -> String {
    let mut checks: Vec<Check> = Vec::new();
    let by = |name: &str| scenarios.iter().find(|s| s.name == name);
    let wall = |s: &Scenario, label: &str| s.row(label).and_then(Row::wall);
    if let Some(s) = by("tasks") {
        let hr = wall(s, HR);
        checks.extend(check_ratio(
            "tasks: stock ansible / hook-runner",
            wall(s, "ansible stock"),
            hr,
            30.0,
        ));
        checks.extend(check_ratio(
            "tasks: mitogen / hook-runner",
            wall(s, "ansible mitogen_linear"),
            hr,
            10.0,
        ));
        if let (Some(hr), Some(floor)) = (hr, s.floor("50 × `true`, one native-mux connection")) {
            let r = hr.as_secs_f64() / floor.wall().as_secs_f64();
            checks.push(Check {
                what: "tasks: hook-runner time per task / floor's time per command ≤ 1.5×".into(),
                figure: format!(
                    "{r:.2}× ({:.1} ms vs {:.1} ms per task)",
                    hr.as_secs_f64() * 1000.0 / 50.0,
                    floor.wall().as_secs_f64() * 1000.0 / 50.0
                ),
                met: Some(r <= 1.5),
            });
        }
    }
    if let Some(s) = by("seed") {
        let hr = wall(s, HR);
        if let (Some(hr), Some(floor)) = (hr, s.floor("ssh connect + systemctl stop mariadb")) {
            let over = (hr.as_secs_f64() - floor.wall().as_secs_f64()) * 1000.0;
            checks.extend(check_at_most(
                "seed: hook-runner's overhead above the floor",
                Some(over),
                300.0,
                "ms",
            ));
        }
        checks.extend(check_ratio(
            "seed: stock ansible / hook-runner",
            wall(s, "ansible stock"),
            hr,
            5.0,
        ));
        checks.extend(check_at_most(
            "seed: hook-runner peak RSS",
            s.row(HR).map(|r| r.tree_rss_kb() as f64 / 1024.0),
            20.0,
            "MB",
        ));
    }
    if let Some(s) = by("fanout") {
        let hr = wall(s, "hook-runner (forks 50)");
        checks.extend(check_ratio(
            "fanout: stock ansible (forks 5) / hook-runner (forks 50)",
            wall(s, "ansible stock"),
            hr,
            20.0,
        ));
        checks.extend(check_ratio(
            "fanout: stock ansible (forks 50) / hook-runner (forks 50)",
            wall(s, "ansible stock (forks 50)"),
            hr,
            5.0,
        ));
        checks.extend(check_at_most(
            "fanout: hook-runner (forks 50) peak RSS",
            s.row("hook-runner (forks 50)")
                .map(|r| r.tree_rss_kb() as f64 / 1024.0),
            40.0,
            "MB",
        ));
    }
    if let Some(s) = by("startup") {
        let ms = |label: &str| wall(s, label).map(|d| d.as_secs_f64() * 1000.0);
        checks.extend(check_at_most(
            "startup: hook-runner --version",
            ms("hook-runner --version"),
            5.0,
            "ms",
        ));
        checks.extend(check_at_most(
            "startup: hook-runner dry-run of the example",
            ms("hook-runner dry-run (bundled example)"),
            50.0,
            "ms",
        ));
    }
    if let Some(s) = by("bigfile") {
        if let (Some(hr), Some(scp)) = (wall(s, HR), s.floor("scp")) {
            let r = hr.as_secs_f64() / scp.wall().as_secs_f64();
            checks.push(Check {
                what: "big file: hook-runner / scp ≤ 1.3×".into(),
                figure: format!("{r:.2}×"),
                met: Some(r <= 1.3),
            });
        }
    }
    let mut t = String::from("| target | this run | met |\n|---|---:|:---:|\n");
    for c in checks {
        let met = match c.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "?",
        };
        let _ = writeln!(t, "| {} | {} | {met} |", c.what, c.figure);
    }
    t
}

pub const BEGIN: &str = "<!-- bench:begin -->";
pub const END: &str = "<!-- bench:end -->";

/// Replaces the text between the bench markers of README.md with `body`.
pub fn write_readme(readme: &Path, body: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(readme).with_context(|| format!("reading {}", readme.display()))?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        bail!(
            "{} has no `{BEGIN}` … `{END}` markers (the Benchmarks section)",
            readme.display()
        );
    };
    if e < b {
        bail!("{}: the bench markers are out of order", readme.display());
    }
    let new = format!("{}{BEGIN}\n{body}\n{}", &text[..b], &text[e..]);
    std::fs::write(readme, new).with_context(|| format!("writing {}", readme.display()))
}
