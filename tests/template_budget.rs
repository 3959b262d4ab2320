//! The template budget (`TEMPLATE_FUEL`, src/template/mod.rs: 1 fuel per instruction, 1/64 per
//! byte of data) holds through filters:
//!
//! - Jinja2 built-ins that hook-runner wraps (`join`, `replace`, `sort`...) spend the budget of
//!   the template that calls them, not a fresh one per call;
//! - a filter whose result would not fit in what is left of the budget is refused before it
//!   builds it (`join('')`, `replace`, `regex_replace`, `b64encode`, `to_json`, `to_nice_yaml`
//!   of a list that repeats one large string): measured on the real binary, the run fails
//!   with the budget message and its peak RSS stays far below the gigabyte the result would
//!   take.

use crate::run;

use hook_runner::template::{Scope, Templar};
use hook_runner::Map;
use run::Hook;
use std::time::Duration;

const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Peak RSS bound (KiB) of a run whose template is refused: the budget allows 256 MB of data
/// in all, and a refused result is never built (before the checks these runs peaked at 1 to
/// 2 GB).
const REFUSED_RSS_KIB: u64 = 400 * 1024;

/// A 10 MB string repeated 100 times: cheap to hold (one string, shared), 1 GB as text.
const REPEATED: &str = "(['x' * 10000000] * 100)";

fn budget_error(template: &str) -> String {
    let templar = Templar::new();
    let vars = Map::new();
    let scope = Scope {
        vars: &vars,
        search_paths: &[],
    };
    match templar.render_str(template, scope) {
        Ok(text) => panic!("{template} rendered ({} bytes)", text.len()),
        Err(e) => e.message,
    }
}

#[test]
fn wrapped_builtins_spend_the_templates_own_budget() {
    // One sort of 100,000 items fits in the budget; forty of them do not.
    let one = "{% set big = range(100000) | list | reverse | list %}{{ big | sort | length }}";
    let templar = Templar::new();
    let vars = Map::new();
    let scope = Scope {
        vars: &vars,
        search_paths: &[],
    };
    assert_eq!(templar.render_str(one, scope).unwrap(), "100000");
    let many = "{% set big = range(100000) | list | reverse | list %}\
                {% for i in range(40) %}{{ big | sort | length }}{% endfor %}";
    let message = budget_error(many);
    assert!(message.contains("budget"), "{message}");
}

/// Runs `template` in a debug task through the binary: it must fail with the budget message,
/// with a bounded peak RSS.
fn refused_with_bounded_memory(template: &str) {
    let playbook = format!(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n  - debug:\n      msg: \"{template}\"\n"
    );
    let hook = Hook::new(&playbook);
    let run = hook.run(&[], &[], RUN_TIMEOUT);
    eprintln!(
        "BUDGET {template}: {:.1} s, peak RSS {:.1} MiB",
        run.duration.as_secs_f64(),
        run.max_rss_kib as f64 / 1024.0
    );
    assert_eq!(run.code, Some(2), "{}", run.tail(20));
    assert!(
        run.stdout.contains("exceeds hook-runner's budget"),
        "{}",
        run.tail(20)
    );
    assert!(
        run.max_rss_kib < REFUSED_RSS_KIB,
        "{template}: peak RSS {} KiB over the {} KiB bound",
        run.max_rss_kib,
        REFUSED_RSS_KIB
    );
}

#[test]
fn join_with_an_empty_joiner_is_refused_before_it_is_built() {
    refused_with_bounded_memory(&format!("{{{{ {REPEATED} | join('') }}}}"));
}

#[test]
fn replace_is_refused_before_it_is_built() {
    refused_with_bounded_memory(&format!(
        "{{{{ ('x' * 10000000) | replace('x', '{}') }}}}",
        "y".repeat(100)
    ));
}

#[test]
fn regex_replace_is_refused_before_it_is_built() {
    refused_with_bounded_memory(&format!(
        "{{{{ ('x' * 10000000) | regex_replace('x', '{}') }}}}",
        "y".repeat(100)
    ));
}

#[test]
fn b64encode_of_a_large_list_is_refused_before_it_is_built() {
    refused_with_bounded_memory(&format!("{{{{ {REPEATED} | b64encode }}}}"));
}

#[test]
fn serialising_filters_are_refused_before_they_build_their_text() {
    refused_with_bounded_memory(&format!("{{{{ {REPEATED} | to_json }}}}"));
    refused_with_bounded_memory(&format!("{{{{ {REPEATED} | to_nice_yaml }}}}"));
}
