//! `hook-runner lint`: static checks of a hook before it is attached to a Plan. Nothing runs,
//! nothing is fetched.
//!
//! 1. The engine's own load-time validation (YAML, unknown modules and parameters, keywords),
//!    exactly as `run` and `dry-run` apply it.
//! 2. [`check`]: every template and condition parsed by the engine's Jinja environment, with its
//!    filters, tests and lookups; variables no vars source defines; variable paths into
//!    `workload.yml` and `plan.yml` checked against Forklift's real shapes ([`shapes`]), each
//!    provider's, with a suggestion from the shape; and the hook rules (a Secret printed without
//!    `no_log`, plays aimed at VMs before `add_host`, hosts patterns that match nothing in a hook,
//!    private keys without mode 0600, facts gathered for nothing).
//!
//! Exit code: 0 when no finding is an error (warnings allowed), [`RC_FINDINGS`] otherwise, 1
//! when the hook cannot be read.

mod check;
pub mod expr;
pub mod inventory;
pub mod paths;
pub mod shapes;

use check::{Linter, Workload};
use serde_json::json;
use shapes::Provider;
use std::path::{Path, PathBuf};

/// Exit code when a finding is an error (ansible-lint uses the same).
pub const RC_FINDINGS: i32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem, where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// The rule's name (`workload-path`, `template-syntax`, ...).
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub fix: Option<String>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Human,
    Json,
    Sarif,
}

/// Which `workload.yml` the variable paths are checked against.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Providers {
    /// The hook directory's `workload.yml` when it has one, else every provider.
    #[default]
    Auto,
    Only(Vec<Provider>),
}

/// Lints the playbook at `target` (a hook directory's `playbook.yml`, or a playbook file).
pub fn lint(target: &Path, providers: &Providers) -> Result<Vec<Finding>, String> {
    let playbook = if target.is_dir() {
        target.join("playbook.yml")
    } else {
        target.to_path_buf()
    };
    let dir = crate::playbook::parent_dir(&playbook);
    let source = std::fs::read_to_string(&playbook)
        .map_err(|e| format!("could not read {}: {e}", playbook.display()))?;
    let file = playbook.display().to_string();
    let workloads = match providers {
        Providers::Only(list) => list.iter().map(|p| Workload::of(*p)).collect(),
        Providers::Auto => match crate::yaml::load_file(&dir.join("workload.yml")) {
            Ok(node) => vec![Workload {
                label: "this hook's workload.yml".into(),
                value: node.to_value(),
            }],
            Err(_) => Provider::ALL.iter().map(|p| Workload::of(*p)).collect(),
        },
    };
    let mut findings = Vec::new();
    if let Err(e) = crate::playbook::load_playbook(&playbook) {
        // The loader names the playbook by its full path: shown as the user gave it, like
        // every other finding in that file.
        let same_file =
            std::fs::canonicalize(&*e.loc.file).ok() == std::fs::canonicalize(&playbook).ok();
        findings.push(Finding {
            file: if same_file {
                file.clone()
            } else {
                e.loc.file.to_string()
            },
            line: e.loc.line,
            col: e.loc.col,
            rule: "load",
            severity: Severity::Error,
            message: e.message,
            fix: None,
        });
    }
    let root = match crate::yaml::load_str(&source, &file) {
        Ok(root) => root,
        Err(_) => return Ok(findings), // the load finding says where and why
    };
    let mut linter = Linter::new(&file, &source, &dir, &workloads);
    linter.run(&root);
    findings.extend(linter.findings);
    // In reading order; the engine's load error first among equals.
    findings.sort_by_key(|f| (f.line, f.col));
    Ok(findings)
}

/// What `hook-runner lint` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintRequest {
    /// A hook directory or playbook; `None`: the bundled example.
    pub target: Option<PathBuf>,
    pub providers: Providers,
    pub format: Format,
}

/// Runs `hook-runner lint`: prints the findings and returns the exit code.
pub fn run(request: &LintRequest) -> i32 {
    let (target, cleanup) = match &request.target {
        Some(t) => (t.clone(), None),
        None => {
            let in_repo = PathBuf::from("playbooks/example");
            if in_repo.join("playbook.yml").is_file() {
                (in_repo, None)
            } else {
                let tmp = std::env::temp_dir()
                    .join(format!("hook-runner-lint-example-{}", std::process::id()));
                if let Err(e) = crate::cli::write_example(&tmp) {
                    eprintln!("ERROR! could not write the bundled example hook: {e}");
                    return 1;
                }
                (tmp.clone(), Some(tmp))
            }
        }
    };
    let result = lint(&target, &request.providers);
    if let Some(dir) = cleanup {
        let _ = std::fs::remove_dir_all(dir);
    }
    let findings = match result {
        Ok(f) => f,
        Err(message) => {
            eprintln!("ERROR! {message}");
            return 1;
        }
    };
    print!("{}", render(&findings, request.format));
    if findings.iter().any(|f| f.severity == Severity::Error) {
        RC_FINDINGS
    } else {
        0
    }
}

/// The findings in `format`.
pub fn render(findings: &[Finding], format: Format) -> String {
    match format {
        Format::Human => {
            let mut out = String::new();
            for f in findings {
                out.push_str(&format!(
                    "{}:{}:{}: {}[{}]: {}\n",
                    f.file,
                    f.line,
                    f.col,
                    f.severity.name(),
                    f.rule,
                    f.message
                ));
                if let Some(fix) = &f.fix {
                    out.push_str(&format!("  fix: {fix}\n"));
                }
            }
            let errors = findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            out.push_str(&format!(
                "{} error(s), {} warning(s)\n",
                errors,
                findings.len() - errors
            ));
            out
        }
        Format::Json => {
            let list: Vec<_> = findings.iter().map(finding_json).collect();
            format!("{}\n", serde_json::Value::from(list))
        }
        Format::Sarif => {
            let results: Vec<_> = findings
                .iter()
                .map(|f| {
                    json!({
                        "ruleId": f.rule,
                        "level": f.severity.name(),
                        "message": {"text": match &f.fix {
                            Some(fix) => format!("{} (fix: {fix})", f.message),
                            None => f.message.clone(),
                        }},
                        "locations": [{"physicalLocation": {
                            "artifactLocation": {"uri": f.file},
                            "region": {"startLine": f.line.max(1), "startColumn": f.col.max(1)}
                        }}]
                    })
                })
                .collect();
            let sarif = json!({
                "version": "2.1.0",
                "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                "runs": [{
                    "tool": {"driver": {"name": "hook-runner", "version": env!("CARGO_PKG_VERSION")}},
                    "results": results
                }]
            });
            format!("{sarif}\n")
        }
    }
}

fn finding_json(f: &Finding) -> serde_json::Value {
    json!({
        "file": f.file,
        "line": f.line,
        "column": f.col,
        "rule": f.rule,
        "severity": f.severity.name(),
        "message": f.message,
        "fix": f.fix,
    })
}

/// `dry-run --inventory-json`: a copy of the hook directory (its entries linked, not copied)
/// whose `workload.yml` is made from the inventory record, and `plan.yml` from `plan` when given.
pub fn stage_inventory_hook(
    hook_dir: &Path,
    record: &Path,
    provider: Provider,
    plan: Option<&Path>,
    into: &Path,
) -> Result<(), String> {
    let text = std::fs::read_to_string(record)
        .map_err(|e| format!("could not read {}: {e}", record.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}:{}:{}: {e}", record.display(), e.line(), e.column()))?;
    let workload = inventory::workload_from_inventory(provider, &json)
        .map_err(|e| format!("{}: {e}", record.display()))?;
    // A leftover of an earlier run with the same process id is replaced.
    let _ = std::fs::remove_dir_all(into);
    std::fs::create_dir_all(into)
        .map_err(|e| format!("could not create {}: {e}", into.display()))?;
    let entries = std::fs::read_dir(hook_dir)
        .map_err(|e| format!("could not read {}: {e}", hook_dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name == "workload.yml" || (plan.is_some() && name == "plan.yml") {
            continue;
        }
        let source = std::fs::canonicalize(entry.path()).unwrap_or(entry.path());
        std::os::unix::fs::symlink(&source, into.join(&name))
            .map_err(|e| format!("could not link {}: {e}", source.display()))?;
    }
    if let Some(plan) = plan {
        let source = std::fs::canonicalize(plan)
            .map_err(|e| format!("could not read {}: {e}", plan.display()))?;
        std::os::unix::fs::symlink(&source, into.join("plan.yml"))
            .map_err(|e| format!("could not link {}: {e}", source.display()))?;
    }
    let yaml = crate::yaml::to_yaml_string_with(
        &workload,
        &crate::yaml::EmitOptions {
            indent: 2,
            flow_leaves: false,
            sort_keys: false,
        },
    );
    let tmp = into.join(".workload.yml.tmp");
    std::fs::write(&tmp, yaml)
        .and_then(|_| std::fs::rename(&tmp, into.join("workload.yml")))
        .map_err(|e| {
            format!(
                "could not write {}: {e}",
                into.join("workload.yml").display()
            )
        })
}
