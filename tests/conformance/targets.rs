//! The census: every directory of the sdist's `test/integration/targets/`, in scope or not, read
//! from the committed `census.txt` (its header explains the format).
//!
//! A target runs in one of two shapes, as ansible-test runs it:
//! - [`Shape::Role`]: `tasks/main.yml` targets, wrapped in a one-play playbook (`hosts:
//!   testhost`, `gather_facts: true`, `roles: [<target>]`) with the other targets as the roles
//!   path, so `meta/main.yml` dependencies resolve (see `layout.rs`).
//! - [`Shape::Script`]: `runme.sh` targets run their own script, with hook-runner on `PATH` as
//!   `ansible-playbook` and `ansible` (see `script.rs`).
//!
//! `setup_*` and `prepare_*` directories are dependencies by name and have no line.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The time a target gets unless its census line says otherwise. Most targets take seconds;
/// the budget only bounds a hang.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(120);

/// Which lab host a target's `testhost` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The unprivileged `hrtest` user over SSH on loopback.
    User,
    /// root over SSH on the private-`/etc` host (`needs/root` and `destructive` targets).
    Root,
}

/// A census line's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// In scope and run.
    In { host: Host, budget: Duration },
    /// In scope, but only a lab VM could contain what it changes: not run, never passing.
    Vm(String),
    /// In scope, but it can only run against the internet: never passing.
    Internet(String),
    /// Out of scope, with the reason.
    Out(String),
    /// A helper of other targets.
    Dependency(String),
}

impl Scope {
    /// Whether the target counts in "N in-scope targets".
    pub fn in_scope(&self) -> bool {
        matches!(self, Scope::In { .. } | Scope::Vm(_) | Scope::Internet(_))
    }

    /// The table's scope cell.
    pub fn describe(&self) -> String {
        match self {
            Scope::In {
                host: Host::User, ..
            } => "in".into(),
            Scope::In {
                host: Host::Root, ..
            } => "in (root)".into(),
            Scope::Vm(why) => format!("in, needs a lab VM: {why}"),
            Scope::Internet(why) => format!("in, needs the internet: {why}"),
            Scope::Out(why) => format!("out: {why}"),
            Scope::Dependency(why) => format!("dependency: {why}"),
        }
    }
}

/// How a target is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Role,
    Script,
}

/// One census entry.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub scope: Scope,
}

impl Target {
    /// `runme.sh` decides, as for ansible-test.
    pub fn shape(&self, sdist_targets: &Path) -> Shape {
        if sdist_targets.join(&self.name).join("runme.sh").is_file() {
            Shape::Script
        } else {
            Shape::Role
        }
    }
}

/// The committed census file.
pub fn census_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/census.txt")
}

/// Parses the census text (`file` names it in errors).
pub fn parse(text: &str, file: &str) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{file}:{}", i + 1);
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (name, rest) = line
            .split_once('\t')
            .with_context(|| format!("{}: expected NAME<TAB>SCOPE", at()))?;
        let rest = rest.trim();
        let reason = |kind: &str| -> Result<String> {
            let why = rest[kind.len()..].trim_start_matches(':').trim();
            if why.is_empty() {
                bail!("{}: `{kind}` needs a reason (`{kind}: WHY`)", at());
            }
            Ok(why.to_string())
        };
        let scope = if rest.starts_with("out") {
            Scope::Out(reason("out")?)
        } else if rest.starts_with("internet") {
            Scope::Internet(reason("internet")?)
        } else if rest.starts_with("vm") {
            Scope::Vm(reason("vm")?)
        } else if rest.starts_with("dependency") {
            Scope::Dependency(reason("dependency")?)
        } else if let Some(args) = rest.strip_prefix("in") {
            let mut host = Host::User;
            let mut budget = DEFAULT_BUDGET;
            for word in args.split_whitespace() {
                match word {
                    "root" => host = Host::Root,
                    n => {
                        let secs: u64 = n.parse().with_context(|| {
                            format!("{}: `{n}` is neither `root` nor a budget in seconds", at())
                        })?;
                        budget = Duration::from_secs(secs);
                    }
                }
            }
            Scope::In { host, budget }
        } else {
            bail!(
                "{}: unknown scope `{rest}` (in, vm, internet, out, dependency)",
                at()
            );
        };
        targets.push(Target {
            name: name.trim().to_string(),
            scope,
        });
    }
    Ok(targets)
}

/// Reads the committed census.
pub fn load() -> Result<Vec<Target>> {
    let path = census_path();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text, "tests/conformance/census.txt")
}

/// Whether a directory is a helper by its name alone.
pub fn is_helper_by_name(name: &str) -> bool {
    name.starts_with("setup_") || name.starts_with("prepare_")
}

/// The census and the sdist must name the same directories: the ones missing from the census
/// and the census lines naming no directory.
pub fn mismatches(targets: &[Target], sdist_targets: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let mut dirs = BTreeSet::new();
    for entry in std::fs::read_dir(sdist_targets)
        .with_context(|| format!("reading {}", sdist_targets.display()))?
    {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_helper_by_name(&name) {
                dirs.insert(name);
            }
        }
    }
    let listed: BTreeSet<String> = targets.iter().map(|t| t.name.clone()).collect();
    Ok((
        dirs.difference(&listed).cloned().collect(),
        listed.difference(&dirs).cloned().collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn census_lines_give_scope_host_budget_and_reasons() {
        let text = "# comment\n\nstat\tin\ncopy\tin root 420\napt\tinternet: packages\n\
                    reboot\tvm: reboots\nwin_ping\tout: Windows\nconnection\tdependency: helper\n";
        let t = parse(text, "c").unwrap();
        assert_eq!(t.len(), 6);
        assert_eq!(
            t[0].scope,
            Scope::In {
                host: Host::User,
                budget: DEFAULT_BUDGET
            }
        );
        assert_eq!(
            t[1].scope,
            Scope::In {
                host: Host::Root,
                budget: Duration::from_secs(420)
            }
        );
        assert_eq!(t[2].scope, Scope::Internet("packages".into()));
        assert_eq!(t[3].scope, Scope::Vm("reboots".into()));
        assert_eq!(t[4].scope, Scope::Out("Windows".into()));
        assert!(t[2].scope.in_scope() && t[3].scope.in_scope() && !t[4].scope.in_scope());
        assert_eq!(t[5].scope, Scope::Dependency("helper".into()));
    }

    #[test]
    fn a_bad_census_line_names_its_file_and_line() {
        let err = parse("stat\tin\nx\tout\n", "census.txt").unwrap_err();
        assert!(err.to_string().contains("census.txt:2"), "{err}");
        let err = parse("stat in\n", "census.txt").unwrap_err();
        assert!(err.to_string().contains("census.txt:1"), "{err}");
        let err = parse("stat\tin fast\n", "census.txt").unwrap_err();
        assert!(err.to_string().contains("fast"), "{err}");
        let err = parse("stat\tmaybe\n", "census.txt").unwrap_err();
        assert!(err.to_string().contains("unknown scope"), "{err}");
    }

    #[test]
    fn the_committed_census_parses_and_every_out_line_has_a_reason() {
        let targets = load().unwrap();
        assert!(targets.len() > 300, "{}", targets.len());
        let mut seen = BTreeSet::new();
        for t in &targets {
            assert!(seen.insert(t.name.clone()), "{} listed twice", t.name);
            assert!(
                !is_helper_by_name(&t.name),
                "{} is a helper by name",
                t.name
            );
        }
    }
}
