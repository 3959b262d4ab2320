//! `ansible.builtin.shell`: runs a command line through `/bin/sh -c` (or `executable`).
//!
//! Semantics (ansible-core 2.18 action `shell.py`, which runs the command module with
//! `_uses_shell`): the same parameters, rules and results as [`super::command`], except that the
//! text is given to the shell as one argument (`sh -c TEXT`: pipes, redirections and variables
//! work), `cmd` in the result is that string, and `expand_argument_vars` is refused.

use super::argspec::{ArgSpec, Kind, Param};
use super::command::{command_params, run_command, CommandArgs};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::{Map, Value};
use async_trait::async_trait;

pub struct Shell;

static SPEC: ArgSpec = ArgSpec {
    params: command_params![],
    free_form: true,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[async_trait]
impl Module for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.shell"
    }
    fn supports_async(&self) -> bool {
        true
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        match serde_json::from_value::<CommandArgs>(Value::Object(args)) {
            Ok(args) => run_command(&args, true, ctx).await,
            Err(e) => Ok(remote::failed(format!("invalid arguments: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{nasty_tempdir, run};
    use serde_json::json;

    #[tokio::test]
    async fn runs_through_sh_with_pipes_and_chdir() {
        let (_tmp, dir) = nasty_tempdir();
        let result = run(
            &Shell,
            json!({"_raw_params": "printf 'a\\nb\\n' | wc -l; pwd", "chdir": dir}),
        )
        .await;
        assert_eq!(result["stdout"], format!("2\n{dir}"));
        assert_eq!(result["cmd"], "printf 'a\\nb\\n' | wc -l; pwd");
        assert_eq!(result["changed"], true);
        let result = run(&Shell, json!({"_raw_params": "echo oops >&2; exit 3"})).await;
        assert_eq!(result["rc"], 3);
        assert_eq!(result["stderr"], "oops");
        assert_eq!(result["msg"], "non-zero return code");
        assert_eq!(result["failed"], true);
    }

    #[tokio::test]
    async fn expand_argument_vars_is_refused() {
        let result = run(
            &Shell,
            json!({"_raw_params": "true", "expand_argument_vars": true}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "Unsupported parameters for (ansible.builtin.shell) module: expand_argument_vars"
        );
    }
}
