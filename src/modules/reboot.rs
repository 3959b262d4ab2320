//! `ansible.builtin.reboot`: reboots the host, waits for it to come back on a new boot, and
//! checks that it runs commands.
//!
//! Semantics (ansible-core 2.18 action `reboot.py`, Linux):
//! - Arguments: `msg` (`Reboot initiated by Ansible`), `pre_reboot_delay` (0: given to
//!   `shutdown` in whole minutes), `post_reboot_delay` (0), `reboot_timeout` (600),
//!   `connect_timeout`, `test_command` (`whoami`), `boot_time_command`
//!   (`cat /proc/sys/kernel/random/boot_id`), `reboot_command` (default: `shutdown` found in
//!   `search_paths`, run as `shutdown -r <minutes> "<msg>"`), `search_paths` (`/sbin`, `/bin`,
//!   `/usr/sbin`, `/usr/bin`, `/usr/local/sbin`).
//! - On the local connection it refuses: `Running reboot with local connection would reboot
//!   the control node.` Check mode: `changed: true, rebooted: true, elapsed: 0`, nothing done.
//! - The boot id is read, the reboot command runs (a connection the reboot cuts counts as
//!   success), then, after `post_reboot_delay`, the connection is reset and the boot id read
//!   again until it changes, then `test_command` until it succeeds; both within
//!   `reboot_timeout`, retried with Ansible's backoff (1, 2, 4... up to 12 s).
//! - Result: `rebooted: true, changed: true, elapsed` (whole seconds). Failures, with
//!   Ansible's words: `Unable to find command "shutdown" in search paths: [...]`,
//!   `Reboot command failed. Error was: '<stdout>, <stderr>'`, `reboot: failed to get host
//!   boot time info, rc: ..., stdout: ..., stderr: ...`, `Timed out waiting for last boot time
//!   check (timeout=N)` / `... for post-reboot test command ...` (with `rebooted: true`).
//!
//! Not supported: other systems' shutdown commands and arguments (BSD, Solaris, VMware ESXi):
//! the Linux defaults apply.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote;
use super::{Module, ModuleContext};
use crate::connection::{ConnError, ExecOutput, ExecRequest};
use crate::shell::quote;
use crate::{Map, Value};
use async_trait::async_trait;
use std::time::{Duration, Instant};

pub struct Reboot;

const DEFAULT_SEARCH_PATHS: &str = "/sbin,/bin,/usr/sbin,/usr/bin,/usr/local/sbin";

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param::new("boot_time_command", Kind::Str),
        Param::new("connect_timeout", Kind::Int),
        Param {
            default: Some("Reboot initiated by Ansible"),
            ..Param::new("msg", Kind::Str)
        },
        Param {
            default: Some("0"),
            ..Param::new("post_reboot_delay", Kind::Int)
        },
        Param {
            default: Some("0"),
            ..Param::new("pre_reboot_delay", Kind::Int)
        },
        Param::new("reboot_command", Kind::Str),
        Param {
            default: Some("600"),
            ..Param::new("reboot_timeout", Kind::Int)
        },
        Param {
            default: Some(DEFAULT_SEARCH_PATHS),
            ..Param::new("search_paths", Kind::List)
        },
        Param {
            default: Some("whoami"),
            ..Param::new("test_command", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[derive(Debug, Clone, serde::Deserialize)]
struct RebootArgs {
    boot_time_command: Option<String>,
    connect_timeout: Option<i64>,
    msg: String,
    post_reboot_delay: i64,
    pre_reboot_delay: i64,
    reboot_command: Option<String>,
    reboot_timeout: i64,
    search_paths: Vec<String>,
    test_command: String,
}

const BOOT_ID: &str = "cat /proc/sys/kernel/random/boot_id";

#[async_trait]
impl Module for Reboot {
    fn name(&self) -> &'static str {
        "reboot"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.reboot"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<RebootArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let args: RebootArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        if ctx.conn.transport() == "local" {
            let mut r = outcome(false, false, 0);
            r.insert("failed".into(), Value::Bool(true));
            r.insert(
                "msg".into(),
                Value::String(
                    "Running reboot with local connection would reboot the control node.".into(),
                ),
            );
            return Ok(r);
        }
        if ctx.check_mode {
            return Ok(outcome(true, true, 0));
        }
        let boot_command = args
            .boot_time_command
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| BOOT_ID.into());
        let before = run(ctx, &boot_command, None).await?;
        if before.rc != 0 {
            let mut r = remote::failed(boot_time_failure(&before));
            r.insert("reboot".into(), Value::Bool(false));
            return Ok(r);
        }
        let before = text(&before.stdout);
        let start = Instant::now();
        if let Err(msg) = perform(ctx, &args).await? {
            let mut r = outcome(false, false, start.elapsed().as_secs());
            r.insert("failed".into(), Value::Bool(true));
            r.insert("msg".into(), Value::String(msg));
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_secs(args.post_reboot_delay.max(0) as u64)).await;
        let timeout = Duration::from_secs(args.reboot_timeout.max(0) as u64);
        let connect = Duration::from_secs(args.connect_timeout.unwrap_or(10).max(1) as u64);
        let new_boot = until_ok(ctx, timeout, "last boot time check", || async {
            let out = run(ctx, &boot_command, Some(connect))
                .await
                .map_err(|e| e.to_string())?;
            if out.rc != 0 {
                return Err(boot_time_failure(&out));
            }
            let now = text(&out.stdout);
            if now.is_empty() || now == before {
                return Err("boot time has not changed".into());
            }
            Ok(())
        })
        .await;
        let tested = match new_boot {
            Ok(()) => {
                until_ok(ctx, timeout, "post-reboot test command", || async {
                    let out = run(ctx, &args.test_command, Some(connect))
                        .await
                        .map_err(|e| e.to_string())?;
                    if out.rc != 0 {
                        return Err(format!(
                            "Test command failed: {} {}",
                            String::from_utf8_lossy(&out.stderr),
                            String::from_utf8_lossy(&out.stdout)
                        ));
                    }
                    Ok(())
                })
                .await
            }
            Err(e) => Err(e),
        };
        let elapsed = start.elapsed().as_secs();
        let mut r = outcome(true, tested.is_ok(), elapsed);
        if let Err(msg) = tested {
            r.remove("changed");
            r.insert("failed".into(), Value::Bool(true));
            r.insert("msg".into(), Value::String(msg));
        }
        Ok(r)
    }
}

fn outcome(rebooted: bool, changed: bool, elapsed: u64) -> Map {
    let mut r = Map::new();
    r.insert("changed".into(), Value::Bool(changed));
    r.insert("elapsed".into(), Value::from(elapsed));
    r.insert("rebooted".into(), Value::Bool(rebooted));
    r
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

fn boot_time_failure(out: &ExecOutput) -> String {
    format!(
        "reboot: failed to get host boot time info, rc: {}, stdout: {}, stderr: {}",
        out.rc,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A command line as Ansible's `_low_level_execute_command` runs it (through the shell, with
/// the task's become), bounded by `timeout` when given.
async fn run(
    ctx: &ModuleContext<'_>,
    command: &str,
    timeout: Option<Duration>,
) -> Result<ExecOutput, ConnError> {
    let request = ExecRequest {
        script: command.to_string(),
        become_: ctx.become_.clone(),
        env: ctx.env.clone(),
        timeout: timeout.or(ctx.timeout),
        ..ExecRequest::default()
    };
    ctx.conn.exec(request).await
}

/// Finds the shutdown command and runs it; the connection dropping under it is success.
async fn perform(
    ctx: &ModuleContext<'_>,
    args: &RebootArgs,
) -> Result<Result<(), String>, ConnError> {
    let (bin, rest) = match &args.reboot_command {
        Some(command) => match command.split_once(' ') {
            Some((bin, rest)) => (bin.to_string(), rest.to_string()),
            None => (command.clone(), String::new()),
        },
        None => (
            "shutdown".to_string(),
            format!("-r {} \"{}\"", args.pre_reboot_delay.max(0) / 60, args.msg),
        ),
    };
    let paths = python_list(&args.search_paths);
    let find = if bin.starts_with('/') {
        format!("B={}\n", quote(&bin))
    } else {
        let dirs: Vec<String> = args.search_paths.iter().map(|d| quote(d)).collect();
        format!(
            "B=\nfor d in {}; do if [ -e \"$d\"/{b} ]; then B=\"$d\"/{b}; break; fi; done\n\
             [ -n \"$B\" ] || {{ echo notfound; exit 0; }}\n",
            dirs.join(" "),
            b = quote(&bin),
        )
    };
    // The command line after the binary is shell text, as Ansible runs it.
    let script = format!("{find}echo found\n\"$B\" {rest} 2>&1 </dev/null\n");
    match run(ctx, &script, Some(Duration::from_secs(30))).await {
        Ok(out) => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            if stdout.starts_with("notfound") {
                return Ok(Err(format!(
                    "Unable to find command \"{bin}\" in search paths: {paths}"
                )));
            }
            if out.rc != 0 {
                let said = stdout.strip_prefix("found\n").unwrap_or(&stdout).trim();
                return Ok(Err(format!(
                    "Reboot command failed. Error was: '{said}, {}'",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Ok(Ok(()))
        }
        // The host went down under the command: what a reboot does.
        Err(_) => Ok(Ok(())),
    }
}

/// `['/sbin', '/bin']`, as Python prints a list of strings.
fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|i| crate::py::repr(&Value::String(i.clone())))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// Retries `attempt` with a fresh connection each time until it succeeds or `timeout` passes,
/// sleeping as Ansible's `do_until_success_or_timeout` does (1, 2, 4, 8, then 12 s).
async fn until_ok<F, Fut>(
    ctx: &ModuleContext<'_>,
    timeout: Duration,
    what: &str,
    attempt: F,
) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + timeout;
    let mut failures = 0u32;
    while Instant::now() < deadline {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(_) => {
                ctx.conn.close().await;
                let sleep = 2u64.saturating_pow(failures).min(12);
                failures += 1;
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(Duration::from_secs(sleep).min(left)).await;
            }
        }
    }
    Err(format!(
        "Timed out waiting for {what} (timeout={})",
        timeout.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, run as run_module};
    use serde_json::json;

    #[tokio::test]
    async fn the_local_connection_is_never_rebooted() {
        let result = run_module(&Reboot, json!({})).await;
        assert_eq!(
            result["msg"],
            "Running reboot with local connection would reboot the control node."
        );
        assert_eq!(result["rebooted"], false);
        // The refusal comes before check mode, as Ansible's.
        let result = check(&Reboot, json!({})).await;
        assert_eq!(result["failed"], true);
    }

    #[test]
    fn search_paths_print_as_a_python_list() {
        assert_eq!(
            python_list(&["/sbin".into(), "/usr/bin".into()]),
            "['/sbin', '/usr/bin']"
        );
    }
}
