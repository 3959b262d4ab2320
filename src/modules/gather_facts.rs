//! `ansible.builtin.gather_facts`: gathers the host's facts as a task, the way the play's
//! implicit `Gathering Facts` step does.
//!
//! Semantics (ansible-core 2.18 action `gather_facts.py`, `FACTS_MODULES: smart`):
//! - `smart` resolves to `setup` on a POSIX target, so this runs [`super::setup`] with the
//!   options it shares (`gather_subset`, `gather_timeout`, `filter`, `fact_path`) and stores
//!   what comes back as the host's facts (`ansible_facts.*` and the `ansible_*` mirrors).
//! - `parallel` only says whether several fact modules run at once; there is one here, so it
//!   changes nothing.
//! - Result: `ansible_facts` with `_ansible_facts_gathered: true`, `changed: false`, and the
//!   facts are not dumped by `-v` (`_ansible_verbose_override`). Check mode gathers too.
//!
//! Not supported: other `FACTS_MODULES` (network collections' fact modules).

use super::argspec::{ArgSpec, Kind, Param};
use super::setup::Setup;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct GatherFacts;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param::new("parallel", Kind::Bool),
        Param {
            default: Some("all"),
            ..Param::new("gather_subset", Kind::List)
        },
        Param {
            default: Some("10"),
            ..Param::new("gather_timeout", Kind::Int)
        },
        Param {
            default: Some("[]"),
            ..Param::new("filter", Kind::List)
        },
        Param {
            default: Some("/etc/ansible/facts.d"),
            ..Param::new("fact_path", Kind::Path)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for GatherFacts {
    fn name(&self) -> &'static str {
        "gather_facts"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.gather_facts"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, mut args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        // One fact module: running "in parallel" or not is the same thing.
        args.remove("parallel");
        let mut result = Setup.run(args, ctx).await?;
        if let Some(Value::Object(facts)) = result.get_mut("ansible_facts") {
            facts.insert("_ansible_facts_gathered".into(), Value::Bool(true));
        }
        result.insert("_ansible_verbose_override".into(), Value::Bool(true));
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::run;
    use serde_json::json;

    #[tokio::test]
    async fn gathers_the_setup_facts_and_marks_them_gathered() {
        let result = run(&GatherFacts, json!({"parallel": true})).await;
        assert_eq!(result["changed"], false, "{result:?}");
        let facts = &result["ansible_facts"];
        assert_eq!(facts["_ansible_facts_gathered"], true);
        assert!(facts["ansible_system"].is_string(), "{facts:?}");
        assert_eq!(result["_ansible_verbose_override"], true);
    }

    #[tokio::test]
    async fn filter_is_passed_to_setup() {
        let result = run(&GatherFacts, json!({"filter": "ansible_system"})).await;
        let facts = result["ansible_facts"].as_object().unwrap();
        assert!(facts.contains_key("ansible_system"), "{facts:?}");
        assert!(!facts.contains_key("ansible_kernel"), "{facts:?}");
    }
}
