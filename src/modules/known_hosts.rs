//! `ansible.builtin.known_hosts`: adds or removes a host's key in an SSH `known_hosts` file.
//!
//! Semantics (ansible-core 2.18 `modules/known_hosts.py`):
//! - `name` (alias `host`, lower-cased), `key` (a `known_hosts` line, required for
//!   `present`: `No key specified when adding a host`), `path` (`~/.ssh/known_hosts`),
//!   `hash_host` (false: the host field is replaced by an HMAC-SHA1 hash, `|1|salt|hash`),
//!   `state` (`present`/`absent`).
//! - A key whose host field does not match `name` (`ssh-keygen -F` finds nothing in it):
//!   `Host parameter does not match hashed host field in supplied key`; a comma-separated
//!   `name`: `Comma separated list of names is not supported. ...`.
//! - The file is searched with `ssh-keygen -F name`: a line with the same key is left alone;
//!   a line with another key of the same type is removed and the key appended, as is a new
//!   key. `absent` with a key removes that line; `absent` without one removes every key
//!   of the host (`ssh-keygen -R`). The file is rewritten atomically (a temp file in its
//!   directory, then `mv`).
//! - Result: the parameters (`name, key, path, hash_host, state`), the file's details when it
//!   exists (`uid, gid, owner, group, mode, size`, `state: file`), `changed`, and `diff`
//!   (`before_header`/`after_header` = the path, or `/dev/null` when it did not exist).
//!   Check mode reports, changes nothing.
//!
//! Needs `ssh-keygen` on the target (OpenSSH's client tools), as Ansible's module does.

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, Records};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use base64::Engine as _;
use sha1::Digest as _;

pub struct KnownHosts;

static SPEC: ArgSpec = ArgSpec {
    params: &[
        Param {
            aliases: &["host"],
            required: true,
            ..Param::new("name", Kind::Str)
        },
        Param::new("key", Kind::Str),
        Param {
            default: Some("~/.ssh/known_hosts"),
            ..Param::new("path", Kind::Path)
        },
        Param {
            default: Some("false"),
            ..Param::new("hash_host", Kind::Bool)
        },
        Param {
            default: Some("present"),
            choices: &["absent", "present"],
            ..Param::new("state", Kind::Str)
        },
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

#[derive(Debug, Clone, serde::Deserialize)]
struct KnownHostsArgs {
    name: String,
    key: Option<String>,
    path: String,
    hash_host: bool,
    state: String,
}

#[async_trait]
impl Module for KnownHosts {
    fn name(&self) -> &'static str {
        "known_hosts"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.known_hosts"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<KnownHostsArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let params = args.clone();
        let args: KnownHostsArgs = match super::typed_args(args) {
            Ok(args) => args,
            Err(failure) => return Ok(failure),
        };
        let host = args.name.to_lowercase();
        let present = args.state == "present";
        let mut key = args.key.clone().filter(|k| !k.is_empty());
        if key.is_none() && present {
            return Ok(remote::failed("No key specified when adding a host"));
        }
        if let (Some(k), true) = (&key, args.hash_host) {
            key = Some(hash_host_key(&host, k));
        }
        if let Some(k) = key.as_mut() {
            if !k.ends_with('\n') {
                k.push('\n');
            }
            let comma = regex::Regex::new(r"\S+(\s+)?,(\s+)?").expect("static regex");
            if comma.is_match(&host) {
                return Ok(remote::failed("Comma separated list of names is not supported. Please pass a single name to lookup in the known_hosts file."));
            }
        }
        let script = format!("H={}\nP={}\n{READ_SH}", quote(&host), path_word(&args.path));
        let records =
            match remote::run_script(ctx, &script, key.clone().map(String::into_bytes)).await? {
                Ok(records) => records,
                Err(result) => return Ok(result),
            };
        if let Some(failure) = records.failure() {
            return Ok(failure);
        }
        if key.is_some() && records.get("sanity").unwrap_or_default().is_empty() {
            return Ok(remote::failed(
                "Host parameter does not match hashed host field in supplied key",
            ));
        }
        let path = records.get("path").unwrap_or(&args.path).to_string();
        let search = match search(&records, key.as_deref()) {
            Ok(s) => s,
            Err(msg) => return Ok(remote::failed(msg)),
        };
        // The script ends the content with `x` so that trailing newlines survive.
        let before = records
            .get("content")
            .map(|c| c.strip_suffix('x').unwrap_or(c).to_string());
        // Ansible returns every parameter, unset ones as null.
        let mut result = Map::new();
        for param in SPEC.params {
            let value = params.get(param.name).cloned().unwrap_or(Value::Null);
            result.insert(param.name.into(), value);
        }
        result.insert("path".into(), Value::String(args.path.clone()));
        let after = new_content(
            before.as_deref().unwrap_or(""),
            &search,
            present,
            key.as_deref(),
        );
        let mut diff = Map::new();
        diff.insert(
            "before_header".into(),
            Value::String(if before.is_some() {
                path.clone()
            } else {
                "/dev/null".into()
            }),
        );
        diff.insert("after_header".into(), Value::String(path.clone()));
        diff.insert(
            "before".into(),
            Value::String(before.clone().unwrap_or_default()),
        );
        diff.insert("after".into(), Value::String(after.clone()));
        result.insert("diff".into(), Value::Object(diff));
        result.insert("changed".into(), Value::Bool(false));
        if args.state == "absent" && search.line.is_none() && key.is_some() {
            add_path_info(ctx, &mut result, &args.path).await?;
            remote::mark_diff_mode(&mut result, ctx);
            return Ok(result);
        }
        let remove_all = search.found && key.is_none() && !present;
        // After `ssh-keygen -R` Ansible copies the file as it is: nothing more to write.
        let rewrite = !remove_all && (search.replace || search.found != present);
        let changed = if ctx.check_mode {
            search.replace || present != search.found
        } else {
            remove_all || rewrite
        };
        result.insert("changed".into(), Value::Bool(changed));
        if !ctx.check_mode && (remove_all || rewrite) {
            let write = format!(
                "H={}\nP={}\nREMOVE_ALL={}\nREWRITE={}\n{WRITE_SH}",
                quote(&host),
                path_word(&args.path),
                u8::from(remove_all),
                u8::from(rewrite)
            );
            let records = match remote::run_script(ctx, &write, Some(after.into_bytes())).await? {
                Ok(records) => records,
                Err(result) => return Ok(result),
            };
            if let Some(failure) = records.failure() {
                return Ok(failure);
            }
        }
        add_path_info(ctx, &mut result, &args.path).await?;
        remote::mark_diff_mode(&mut result, ctx);
        Ok(result)
    }
}

/// The file's details, as every Ansible module result naming a `path` has them (`state`
/// becomes `file`).
async fn add_path_info(
    ctx: &ModuleContext<'_>,
    result: &mut Map,
    path: &str,
) -> Result<(), ConnError> {
    let script = format!("pinfo {}\n", path_word(path));
    if let Ok(records) = remote::run_script(ctx, &script, None).await? {
        remote::add_path_info(result, &records);
    }
    Ok(())
}

/// What `ssh-keygen -F` found in the file, as Ansible's `search_for_host_key` reads it.
#[derive(Debug, Default, PartialEq)]
struct Search {
    found: bool,
    replace: bool,
    line: Option<usize>,
}

fn search(records: &Records, key: Option<&str>) -> Result<Search, String> {
    if !records.has("exists") {
        return Ok(Search::default());
    }
    let rc = records.get("f_rc").unwrap_or("0");
    let out = records.get("f_out").unwrap_or_default();
    let err = records.get("f_err").unwrap_or_default();
    if out.is_empty() && err.is_empty() && (rc == "0" || rc == "1") {
        return Ok(Search::default());
    }
    if rc != "0" {
        return Err(format!(
            "ssh-keygen failed (rc={rc}, stdout='{out}',stderr='{err}')"
        ));
    }
    let Some(key) = key else {
        return Ok(Search {
            found: true,
            ..Search::default()
        });
    };
    let mut new_key = normalize(key);
    let mut line = None;
    let marker = regex::Regex::new(r"found: line (\d+)").expect("static regex");
    for l in out.split('\n') {
        if l.is_empty() {
            continue;
        }
        if l.starts_with('#') {
            line = marker.captures(l).and_then(|c| c[1].parse().ok());
            continue;
        }
        let found = normalize(l);
        let special = found
            .options
            .as_deref()
            .is_some_and(|o| o.starts_with("@cert-authority") || o.starts_with("@revoke"));
        if special {
            if new_key == found {
                return Ok(Search {
                    found: true,
                    replace: false,
                    line,
                });
            }
            continue;
        }
        // A hashed entry keeps its hash: compare the rest.
        if new_key.host.starts_with("|1|") && found.host.starts_with("|1|") {
            new_key.host = found.host.clone();
        }
        if new_key == found {
            return Ok(Search {
                found: true,
                replace: false,
                line,
            });
        }
        if new_key.kind == found.kind {
            return Ok(Search {
                found: true,
                replace: true,
                line,
            });
        }
    }
    Ok(Search {
        found: true,
        replace: true,
        line: None,
    })
}

#[derive(Debug, Default, PartialEq, Clone)]
struct KeyLine {
    options: Option<String>,
    host: String,
    kind: String,
    key: String,
}

fn normalize(line: &str) -> KeyLine {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or("").to_string();
    if fields.first().is_some_and(|f| f.starts_with('@')) {
        KeyLine {
            options: Some(field(0)),
            host: field(1),
            kind: field(2),
            key: field(3),
        }
    } else {
        KeyLine {
            options: None,
            host: field(0),
            kind: field(1),
            key: field(2),
        }
    }
}

/// The file after the change, as Ansible's `compute_diff` and `enforce_state` build it.
fn new_content(before: &str, search: &Search, present: bool, key: Option<&str>) -> String {
    let mut lines: Vec<&str> = before.split_inclusive('\n').collect();
    if let Some(n) = search.line {
        if (search.replace || !present) && (1..=lines.len()).contains(&n) {
            lines.remove(n - 1);
        }
    }
    let mut text: String = lines.concat();
    if present && (search.replace || search.line.is_none()) {
        text.push_str(key.unwrap_or(""));
    }
    text
}

/// `|1|salt|hmac` in place of the host field, as ssh-keygen's `-H` hashes it.
fn hash_host_key(host: &str, key: &str) -> String {
    let salt: Vec<u8> = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes().iter())
        .take(20)
        .copied()
        .collect();
    let digest = hmac_sha1(&salt, host.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut parts: Vec<String> = key.split_whitespace().map(str::to_string).collect();
    let i = usize::from(parts.first().is_some_and(|p| p.starts_with('@')));
    if let Some(part) = parts.get_mut(i) {
        *part = format!("|1|{}|{}", b64.encode(&salt), b64.encode(digest));
    }
    parts.join(" ")
}

/// HMAC (RFC 2104) over SHA-1.
fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..20].copy_from_slice(&sha1::Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = sha1::Sha1::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    sha1::Sha1::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

/// Reads: the key (stdin) matched against the host (`sanity`), the file's search result and
/// content.
const READ_SH: &str = r#"command -v ssh-keygen >/dev/null 2>&1 || die "Failed to find required executable \"ssh-keygen\" in paths: $PATH"
emit path "$P"
_t=$(mktemp) || die "cannot create a temporary file"
_e=$(mktemp) || { rm -f -- "$_t"; die "cannot create a temporary file"; }
on_die() { rm -f -- "$_t" "$_e"; }
cat >"$_t"
if [ -s "$_t" ]; then emit sanity "$(ssh-keygen -F "$H" -f "$_t" 2>/dev/null)"; fi
if [ -e "$P" ]; then
  emit exists 1
  _o=$(ssh-keygen -F "$H" -f "$P" 2>"$_e"); emit f_rc $?
  emit f_out "$_o"; emit f_err "$(cat -- "$_e")"
  # The content, trailing newlines kept (command substitution would strip them).
  emit content "$(cat -- "$P"; printf x)"
fi
rm -f -- "$_t" "$_e"
"#;

/// Writes: `ssh-keygen -R` for every key of the host, or the new content (stdin) atomically.
const WRITE_SH: &str = r#"if [ "$REMOVE_ALL" = 1 ]; then
  _o=$(ssh-keygen -R "$H" -f "$P" 2>&1) || die "$_o"
fi
if [ "$REWRITE" = 1 ]; then
  dir_of "$P"
  [ -d "$_dn" ] || mkdir -p -- "$_dn" || die "Failed to write to file $P: cannot create $_dn"
  _t=$(mktemp "$_dn/.known_hosts.XXXXXX") || die "Failed to write to file $P: cannot create a temporary file in $_dn"
  # A new file gets 0666 less the umask (`=rw` without who applies it), an old one keeps its mode.
  if [ -e "$P" ]; then _m="--reference=$P"; else _m="=rw"; fi
  cat >"$_t" && { chmod "$_m" "$_t" 2>/dev/null || :; } && mv -f -- "$_t" "$P" \
    || { rm -f -- "$_t"; die "Failed to write to file $P"; }
fi
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        let digest = hmac_sha1(&[0x0b; 20], b"Hi There");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "b617318655057264e28bc0b6fb378c8ef146be00");
    }

    #[test]
    fn a_new_key_is_appended_and_a_changed_one_replaced_in_place() {
        let before = "a ssh-ed25519 AAAA\nb ssh-ed25519 BBBB\n";
        let add = Search::default();
        assert_eq!(
            new_content(before, &add, true, Some("c ssh-ed25519 CCCC\n")),
            "a ssh-ed25519 AAAA\nb ssh-ed25519 BBBB\nc ssh-ed25519 CCCC\n"
        );
        let replace = Search {
            found: true,
            replace: true,
            line: Some(1),
        };
        assert_eq!(
            new_content(before, &replace, true, Some("a ssh-ed25519 ZZZZ\n")),
            "b ssh-ed25519 BBBB\na ssh-ed25519 ZZZZ\n"
        );
        let remove = Search {
            found: true,
            replace: false,
            line: Some(2),
        };
        assert_eq!(
            new_content(before, &remove, false, Some("b ssh-ed25519 BBBB\n")),
            "a ssh-ed25519 AAAA\n"
        );
    }
}
