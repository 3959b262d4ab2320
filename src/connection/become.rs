//! Privilege escalation (`become`), shared by the `local` and `ssh` connections.
//!
//! Semantics (ansible-core 2.18 `plugins/become/sudo.py` and `su.py`, reference §2.4):
//! - sudo: `sudo -H -S -n -u USER /bin/sh -c 'echo BECOME-SUCCESS-<id> ; SCRIPT'`. The flags
//!   default to `-H -S -n` (`become_flags` replaces them). `-n` means sudo never prompts: a
//!   sudoers rule without NOPASSWD fails at once with `sudo: a password is required`, which is
//!   reported as Ansible reports it, "Missing sudo password". Passwords are not supported.
//! - su: `su [FLAGS] USER -c '/bin/sh -c '\''echo BECOME-SUCCESS-<id> ; SCRIPT'\'''`. Without a tty
//!   and a password this only works when the connecting user is root.
//! - The marker line proves that the escalation worked: it is removed from stdout, and when it
//!   is missing the command's failure is a become failure (a task failure, never unreachable).

use super::{Become, BecomeMethod, ConnError, ExecOutput, ExecRequest};
use crate::shell::quote;

/// Ansible's default `become_flags` for sudo.
pub const DEFAULT_SUDO_FLAGS: &str = "-H -S -n";

/// A script wrapped for privilege escalation, with the marker its success prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The command line to hand to a POSIX shell.
    pub command: String,
    /// `BECOME-SUCCESS-<id>`: printed first by the escalated shell.
    pub marker: String,
}

/// A request turned into one command line for a POSIX shell (the remote login shell over SSH,
/// `/bin/sh -c` locally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub command: String,
    /// Present when the command escalates; [`check`] must then see its marker.
    pub wrapped: Option<Wrapped>,
}

/// Builds the command line for `request`: the environment is exported inside the (escalated)
/// shell, as Ansible puts it next to the module inside the become wrapper, so sudo's env reset
/// does not drop it.
pub fn prepare(request: &ExecRequest) -> Result<Prepared, ConnError> {
    if request.raw {
        return Ok(prepare_raw(request));
    }
    let inner = with_env(&request.script, &request.env)?;
    Ok(match &request.become_ {
        Some(b) => {
            let wrapped = wrap(&inner, b);
            Prepared {
                command: format!("exec {}", wrapped.command),
                wrapped: Some(wrapped),
            }
        }
        // `exec`: the shell that reads this line (sshd's login shell, the local `/bin/sh`)
        // becomes the command instead of forking it and waiting (dash does not do this on its
        // own): one process less per task, and the command keeps the session's PID.
        None => Prepared {
            command: format!("exec /bin/sh -c {}", quote(&inner)),
            wrapped: None,
        },
    })
}

/// A raw command line ([`ExecRequest::raw`]): as is, or inside the become wrapper.
fn prepare_raw(request: &ExecRequest) -> Prepared {
    match &request.become_ {
        Some(b) => {
            let wrapped = wrap(&request.script, b);
            Prepared {
                command: wrapped.command.clone(),
                wrapped: Some(wrapped),
            }
        }
        None => Prepared {
            command: request.script.clone(),
            wrapped: None,
        },
    }
}

/// Prefixes `script` with `NAME='value'; export NAME` lines.
fn with_env(script: &str, env: &[(String, String)]) -> Result<String, ConnError> {
    let mut out = String::new();
    for (name, value) in env {
        if !is_env_name(name) {
            return Err(ConnError::Other(format!(
                "Invalid environment variable name {name:?}: names are letters, digits and '_', not starting with a digit"
            )));
        }
        out.push_str(&format!("{name}={}; export {name}\n", quote(value)));
    }
    out.push_str(script);
    Ok(out)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Completes a finished command: checks the become marker when there is one.
pub fn finish(
    output: ExecOutput,
    prepared: &Prepared,
    request: &ExecRequest,
) -> Result<ExecOutput, ConnError> {
    match (&prepared.wrapped, &request.become_) {
        (Some(w), Some(b)) => check(output, w, b.method),
        _ => Ok(output),
    }
}

/// Wraps `script` (already including its environment exports) so it runs as `become_.user`.
pub fn wrap(script: &str, become_: &Become) -> Wrapped {
    let marker = format!("BECOME-SUCCESS-{}", uuid::Uuid::new_v4().simple());
    let inner = format!("echo {marker} ; {script}");
    let sh_command = format!("/bin/sh -c {}", quote(&inner));
    let command = match become_.method {
        BecomeMethod::Sudo => {
            let flags = become_.flags.as_deref().unwrap_or(DEFAULT_SUDO_FLAGS);
            format!("sudo {} -u {} {}", flags, quote(&become_.user), sh_command)
        }
        BecomeMethod::Su => {
            let flags = become_.flags.as_deref().unwrap_or("");
            let flags = if flags.trim().is_empty() {
                String::new()
            } else {
                format!("{} ", flags.trim())
            };
            format!(
                "su {}{} -c {}",
                flags,
                quote(&become_.user),
                quote(&sh_command)
            )
        }
    };
    Wrapped { command, marker }
}

/// Checks a finished escalated command: strips the marker from stdout, or turns the failure
/// into [`ConnError::Become`] when the escalated shell never started.
pub fn check(
    mut output: ExecOutput,
    wrapped: &Wrapped,
    method: BecomeMethod,
) -> Result<ExecOutput, ConnError> {
    if let Some(rest) = strip_marker(&output.stdout, &wrapped.marker) {
        output.stdout = rest;
        return Ok(output);
    }
    Err(ConnError::Become(failure_message(&output, method)))
}

/// Removes the first line equal to `marker` (and everything before it, which can only be
/// noise from the escalation tool) from `stdout`; `None` when the marker is absent.
fn strip_marker(stdout: &[u8], marker: &str) -> Option<Vec<u8>> {
    let needle = format!("{marker}\n");
    let pos = find(stdout, needle.as_bytes())?;
    let at_line_start = pos == 0 || stdout[pos - 1] == b'\n';
    if !at_line_start {
        return None;
    }
    Some(stdout[pos + needle.len()..].to_vec())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Ansible's wording where it has one, else the tool's own words: its stderr, or its stdout
/// when stderr is empty (su to an account whose shell is `nologin` fails with only
/// "This account is currently not available." on stdout).
fn failure_message(output: &ExecOutput, method: BecomeMethod) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = match stderr.trim() {
        "" => stdout.trim(),
        text => text,
    };
    match method {
        BecomeMethod::Sudo => {
            if stderr.contains("a password is required") {
                return "Missing sudo password".into();
            }
            if stderr.contains("Sorry, try again") || stderr.contains("incorrect password") {
                return "Incorrect sudo password".into();
            }
        }
        BecomeMethod::Su => {
            if stderr.contains("Authentication failure")
                || stderr.contains("must be run from a terminal")
            {
                return format!(
                    "Incorrect su password (su needs a password or a tty here): {stderr}"
                );
            }
        }
    }
    let tool = match method {
        BecomeMethod::Sudo => "sudo",
        BecomeMethod::Su => "su",
    };
    if stderr.is_empty() {
        format!("Privilege escalation with {tool} failed (rc={})", output.rc)
    } else {
        format!(
            "Privilege escalation with {tool} failed (rc={}): {stderr}",
            output.rc
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sudo(user: &str) -> Become {
        Become {
            method: BecomeMethod::Sudo,
            user: user.into(),
            flags: None,
        }
    }

    #[test]
    fn sudo_uses_ansible_default_flags_and_quotes_the_script() {
        let w = wrap("echo 'a b'", &sudo("root"));
        assert!(w.marker.starts_with("BECOME-SUCCESS-"));
        let expected = format!(
            "sudo -H -S -n -u root /bin/sh -c {}",
            quote(&format!("echo {} ; echo 'a b'", w.marker))
        );
        assert_eq!(w.command, expected);
    }

    #[test]
    fn become_user_is_quoted() {
        let w = wrap("true", &sudo("a;b"));
        assert!(w.command.contains("-u 'a;b' "), "{}", w.command);
    }

    #[test]
    fn su_wraps_the_shell_command_as_one_word() {
        let b = Become {
            method: BecomeMethod::Su,
            user: "postgres".into(),
            flags: None,
        };
        let w = wrap("id -un", &b);
        assert!(
            w.command.starts_with("su postgres -c '/bin/sh -c '"),
            "{}",
            w.command
        );
    }

    #[test]
    fn marker_is_stripped_from_stdout() {
        let w = wrap("true", &sudo("root"));
        let out = ExecOutput {
            rc: 0,
            stdout: format!("{}\nhello\n", w.marker).into_bytes(),
            stderr: vec![],
        };
        let out = check(out, &w, BecomeMethod::Sudo).unwrap();
        assert_eq!(out.stdout, b"hello\n");
    }

    #[test]
    fn missing_password_is_ansibles_message() {
        let w = wrap("true", &sudo("root"));
        let out = ExecOutput {
            rc: 1,
            stdout: vec![],
            stderr: b"sudo: a password is required\n".to_vec(),
        };
        assert_eq!(
            check(out, &w, BecomeMethod::Sudo),
            Err(ConnError::Become("Missing sudo password".into()))
        );
    }

    #[test]
    fn not_allowed_is_a_become_error_with_sudos_words() {
        let w = wrap("true", &sudo("root"));
        let out = ExecOutput {
            rc: 1,
            stdout: vec![],
            stderr: b"alice is not in the sudoers file.\n".to_vec(),
        };
        match check(out, &w, BecomeMethod::Sudo) {
            Err(ConnError::Become(m)) => assert!(m.contains("not in the sudoers file"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn env_is_exported_inside_the_escalated_shell() {
        let req = ExecRequest {
            script: "echo $A".into(),
            env: vec![("A".into(), "x y".into())],
            become_: Some(sudo("root")),
            ..Default::default()
        };
        let p = prepare(&req).unwrap();
        assert!(p.command.starts_with("exec sudo "), "{}", p.command);
        assert!(
            p.command.contains("A='\\''x y'\\''; export A"),
            "{}",
            p.command
        );
    }

    #[test]
    fn raw_command_lines_are_sent_as_written() {
        let mut req = ExecRequest {
            script: "echo \"$0\" | cat".into(),
            env: vec![("A".into(), "x".into())],
            raw: true,
            ..Default::default()
        };
        let p = prepare(&req).unwrap();
        assert_eq!(p.command, "echo \"$0\" | cat");
        assert!(p.wrapped.is_none());
        req.become_ = Some(sudo("root"));
        let p = prepare(&req).unwrap();
        assert!(
            p.command.starts_with("sudo -H -S -n -u root /bin/sh -c "),
            "{}",
            p.command
        );
        assert!(!p.command.contains("export A"), "{}", p.command);
        assert!(p.wrapped.is_some());
    }

    #[test]
    fn bad_env_names_are_refused() {
        let req = ExecRequest {
            script: "true".into(),
            env: vec![("A;rm".into(), "x".into())],
            ..Default::default()
        };
        assert!(matches!(prepare(&req), Err(ConnError::Other(_))));
    }

    #[test]
    fn su_to_a_nologin_account_says_what_the_shell_printed() {
        let b = Become {
            method: BecomeMethod::Su,
            user: "nobody".into(),
            flags: None,
        };
        let w = wrap("id -un", &b);
        let out = ExecOutput {
            rc: 1,
            stdout: b"This account is currently not available.\n".to_vec(),
            stderr: vec![],
        };
        assert_eq!(
            check(out, &w, BecomeMethod::Su),
            Err(ConnError::Become(
                "Privilege escalation with su failed (rc=1): This account is currently not \
                 available."
                    .into()
            ))
        );
        let silent = ExecOutput {
            rc: 1,
            stdout: vec![],
            stderr: vec![],
        };
        assert_eq!(
            check(silent, &w, BecomeMethod::Su),
            Err(ConnError::Become(
                "Privilege escalation with su failed (rc=1)".into()
            ))
        );
    }

    #[test]
    fn a_marker_inside_a_line_does_not_count() {
        let w = wrap("true", &sudo("root"));
        let out = ExecOutput {
            rc: 1,
            stdout: format!("x{}\n", w.marker).into_bytes(),
            stderr: vec![],
        };
        assert!(check(out, &w, BecomeMethod::Sudo).is_err());
    }
}
