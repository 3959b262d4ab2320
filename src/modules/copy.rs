//! `ansible.builtin.copy`: puts a file on the target from `content` or a controller `src`.
//!
//! Semantics (ansible-core 2.18 action plugin `copy.py` + module `copy.py`):
//! - `content` is written exactly (no newline added); a dict or list is `json.dumps`-ed first.
//!   With a directory as `dest` it fails: `can not use content with a dir as dest`.
//! - `src` is a controller file found under `files/` of the search paths (role, play dir) or
//!   the search paths themselves; a directory is copied recursively (a trailing `/` copies its
//!   contents only). `remote_src: true` takes a file that is already on the target.
//! - `dest` ending in `/` or naming a directory receives `dest/basename(src)`; a `/`-ended dest
//!   has its missing directories created (with `directory_mode`). Otherwise the parent must
//!   exist: `Destination directory X does not exist`.
//! - Changed when the SHA-1 of the new content differs from the target's (or dest is a link);
//!   then the content goes over stdin into a temp file in dest's directory, is validated
//!   (`validate` with `%s`), the old file backed up (`backup`: `<dest>.<pid>.<date>~`,
//!   returned as `backup_file`) and the temp file renamed over dest (atomic). A replaced file
//!   keeps its owner and mode unless asked otherwise; a new one gets `0666 & ~umask`.
//! - Same content: only owner/group/mode are brought in line (`changed` if they differ).
//! - `force: false` leaves an existing dest alone. `mode: preserve` takes the source's mode.
//! - Check mode reports `changed` without touching anything; `diff` shows old and new text.
//! - Results: `dest, src, checksum` (SHA-1), `md5sum`, `backup_file`, and the path info
//!   (`mode, owner, group, uid, gid, size, state`).
//!
//! - The action's argument checks come first, in this order: `src (or content) is required`
//!   (an empty `src` counts as none), `dest is required`, `src and content are mutually
//!   exclusive`.
//! - A directory `src` is walked top-down (a directory's files before its subdirectories);
//!   `local_follow` (default true) copies what links point to, except broken links and links
//!   to a directory being walked (loops), which stay links; `local_follow: false` keeps every
//!   link as a link. Every directory made gets `directory_mode`.
//! - `remote_src` with a directory merges it on the target (see `REMOTE_TREE_SH`); a
//!   `remote_src` that is neither a file nor a directory fails: `Source X is not a file`.
//! - hook-runner has no vault secrets: a vault-encrypted source fails as Ansible does without
//!   a password (`A vault password or secret must be specified to decrypt X`) unless
//!   `decrypt: false`.
//!
//! One round trip per file. Not supported: `attributes`/SELinux (accepted and ignored).

use super::argspec::{ArgSpec, Kind, Param};
use super::remote::{self, attrs_function, attrs_function_named, attrs_vars, with_file_common};
use super::{Module, ModuleContext};
use crate::connection::ConnError;
use crate::shell::{path_word, quote};
use crate::{Map, Value};
use async_trait::async_trait;
use sha1::Digest;
use std::path::{Path, PathBuf};

pub struct Copy;

static SPEC: ArgSpec = ArgSpec {
    params: with_file_common![
        Param::new("src", Kind::Path),
        Param::new("content", Kind::Raw),
        // Required, but checked by the action (after `src`), as Ansible's action plugin does:
        // `dest is required` rather than the argument spec's message.
        Param::new("dest", Kind::Path),
        Param {
            default: Some("false"),
            ..Param::new("backup", Kind::Bool)
        },
        Param {
            default: Some("true"),
            ..Param::new("force", Kind::Bool)
        },
        Param::new("directory_mode", Kind::Raw),
        Param {
            default: Some("false"),
            ..Param::new("remote_src", Kind::Bool)
        },
        Param {
            default: Some("false"),
            ..Param::new("follow", Kind::Bool)
        },
        // No default: the action treats a missing one as true, the module (`remote_src`)
        // as "keep links".
        Param::new("local_follow", Kind::Bool),
        Param::new("checksum", Kind::Str),
        Param::new("validate", Kind::Str),
        Param {
            default: Some("true"),
            action_only: true,
            ..Param::new("decrypt", Kind::Bool)
        },
        Param::new("_original_basename", Kind::Str),
    ],
    free_form: false,
    mutually_exclusive: &[],
    required_one_of: &[],
};

/// The typed arguments, after normalisation.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CopyArgs {
    pub src: Option<String>,
    #[serde(default)]
    pub content: Value,
    #[serde(default)]
    pub dest: String,
    #[serde(default)]
    pub backup: bool,
    #[serde(default = "yes")]
    pub force: bool,
    #[serde(default)]
    pub mode: Value,
    #[serde(default)]
    pub directory_mode: Value,
    #[serde(default)]
    pub remote_src: bool,
    #[serde(default)]
    pub follow: bool,
    /// Unset: true for a controller `src`, links kept as links with `remote_src`.
    #[serde(default)]
    pub local_follow: Option<bool>,
    #[serde(default = "yes")]
    pub decrypt: bool,
    pub checksum: Option<String>,
    pub validate: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Module for Copy {
    fn name(&self) -> &'static str {
        "copy"
    }
    fn fqcn(&self) -> &'static str {
        "ansible.builtin.copy"
    }
    fn spec(&self) -> &'static ArgSpec {
        &SPEC
    }
    fn check_typed_args(&self, args: &Map) -> Result<(), String> {
        super::check_typed::<CopyArgs>(args)
    }
    async fn run(&self, args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
        let mut result = run_copy(args, ctx).await?;
        remote::mark_diff_mode(&mut result, ctx);
        Ok(result)
    }
}

/// The copy action and module, before the diff-mode mark.
async fn run_copy(args: Map, ctx: &ModuleContext<'_>) -> Result<Map, ConnError> {
    let args: CopyArgs = match super::typed_args(args) {
        Ok(args) => args,
        Err(failure) => return Ok(failure),
    };
    if let Some(message) = action_argument_error(&args) {
        return Ok(remote::failed(message));
    }
    let has_content = !args.content.is_null();
    if has_content {
        if args.dest.ends_with('/') {
            return Ok(remote::failed("can not use content with a dir as dest"));
        }
        let transfer_of_content = Transfer {
            dest: args.dest.clone(),
            payload: Payload::Bytes(content_bytes(&args.content)),
            basename: None,
            // Ansible writes content to a 0600 temp file first: `preserve` means 0600.
            local_mode: Some(0o600),
            after_header: args.dest.clone(),
        };
        return transfer(&args, transfer_of_content, ctx).await;
    }
    let src = args.src.clone().unwrap_or_default();
    if args.remote_src {
        let plan = FilePlan {
            dest: args.dest.clone(),
            slash: args.dest.ends_with('/'),
            content_like: false,
            basename: basename(&src),
            data: Source::Remote(src.clone()),
            local_mode: None,
            after_header: src,
        };
        return copy_one(&args, &plan, ctx).await;
    }
    let Some(found) = find_source(&src, ctx.scope.search_paths) else {
        return Ok(remote::failed(not_found_message(
            &src,
            ctx.scope.search_paths,
        )));
    };
    if found.is_dir() {
        return copy_tree(&args, &src, &found, ctx).await;
    }
    if let Some(message) = vault_refusal(&args, &found) {
        return Ok(remote::failed(message));
    }
    let file = Transfer {
        dest: args.dest.clone(),
        payload: Payload::File(found.clone()),
        basename: Some(basename(&src)),
        local_mode: local_mode(&found),
        after_header: found.to_string_lossy().into_owned(),
    };
    transfer(&args, file, ctx).await
}

/// The action's own checks, in Ansible's order: an empty `src` counts as none.
fn action_argument_error(args: &CopyArgs) -> Option<&'static str> {
    let has_src = args.src.as_deref().is_some_and(|s| !s.is_empty());
    let has_content = !args.content.is_null();
    if !has_src && !has_content {
        Some("src (or content) is required")
    } else if args.dest.is_empty() {
        Some("dest is required")
    } else if has_src && has_content {
        Some("src and content are mutually exclusive")
    } else {
        None
    }
}

/// hook-runner has no vault secrets (by design), so a vault-encrypted source can never be
/// decrypted: with `decrypt` (the default) it fails as Ansible does without a password.
fn vault_refusal(args: &CopyArgs, path: &Path) -> Option<String> {
    use std::io::Read;
    const HEADER: &[u8] = b"$ANSIBLE_VAULT;";
    if !args.decrypt {
        return None;
    }
    let mut start = [0u8; HEADER.len()];
    let mut file = std::fs::File::open(path).ok()?;
    file.read_exact(&mut start).ok()?;
    (start == HEADER).then(|| {
        format!(
            "A vault password or secret must be specified to decrypt {}",
            path.display()
        )
    })
}

/// What to put on the target, for [`transfer`].
#[derive(Debug, Clone)]
pub enum Payload {
    /// Bytes already in memory (`content`, small files, rendered templates).
    Bytes(Vec<u8>),
    /// A controller file, streamed to the target in fixed-size chunks: it is never held whole
    /// in memory, whatever its size (its checksums are computed by a streaming read first).
    File(PathBuf),
}

/// One file to put on the target: what [`transfer`] needs besides the task's arguments.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Where it goes (`dest`, as the task gave it: `~` and `$VAR` are expanded on the target).
    pub dest: String,
    pub payload: Payload,
    /// The name given to the file when `dest` is a directory (`dest/NAME`); `None` makes a
    /// directory `dest` an error, as for `content` (`can not use content with a dir as dest`).
    pub basename: Option<String>,
    /// Mode of the controller file, for `mode: preserve`.
    pub local_mode: Option<u32>,
    /// The diff's `after_header` (the controller path, or `dest` for content).
    pub after_header: String,
}

/// Puts one file on the target with copy's semantics (idempotence by SHA-1, atomic replace
/// through a temp file in dest's directory, `validate`, `backup`, owner/group/mode, check and
/// diff modes), using `args` for everything but the source (`src`, `content` and `remote_src`
/// are ignored). Returns the copy module's result; the caller marks diff mode
/// ([`remote::mark_diff_mode`]). The template module shares this.
pub async fn transfer(
    args: &CopyArgs,
    transfer: Transfer,
    ctx: &ModuleContext<'_>,
) -> Result<Map, ConnError> {
    let data = match transfer.payload {
        Payload::Bytes(bytes) => Source::Bytes(bytes),
        Payload::File(path) => match source_of_file(&path).await {
            Ok(source) => source,
            Err(e) => {
                return Ok(remote::failed(format!(
                    "Could not read source file {}: {e}",
                    path.display()
                )))
            }
        },
    };
    let plan = FilePlan {
        slash: transfer.basename.is_some() && transfer.dest.ends_with('/'),
        content_like: transfer.basename.is_none(),
        basename: transfer.basename.unwrap_or_default(),
        dest: transfer.dest,
        data,
        local_mode: transfer.local_mode,
        after_header: transfer.after_header,
    };
    copy_one(args, &plan, ctx).await
}

impl CopyArgs {
    /// The arguments of a copy to `dest` with every other option at its default.
    pub fn for_dest(dest: impl Into<String>) -> CopyArgs {
        CopyArgs {
            src: None,
            content: Value::Null,
            dest: dest.into(),
            backup: false,
            force: true,
            mode: Value::Null,
            directory_mode: Value::Null,
            remote_src: false,
            follow: false,
            local_follow: None,
            decrypt: true,
            checksum: None,
            validate: None,
            owner: None,
            group: None,
        }
    }
}

/// Where one file's bytes come from.
enum Source {
    Bytes(Vec<u8>),
    /// A big controller file, streamed; its checksums and size, computed beforehand.
    File {
        path: PathBuf,
        sha1: String,
        md5: String,
        size: u64,
    },
    /// A file already on the target (`remote_src`).
    Remote(String),
}

/// Above this size, content is only sent when the target's copy differs (two round trips),
/// and a controller file is streamed rather than read into memory.
const BIG_FILE: usize = 256 * 1024;

/// Ansible's `MAX_FILE_SIZE_FOR_DIFF`: a bigger source gets `src_larger` instead of its text.
const MAX_DIFF_SIZE: usize = 104_448;

/// Read size for checksumming a streamed file.
const HASH_CHUNK: usize = 256 * 1024;

/// A controller file as a source: read whole when small (the diff can show it), else
/// checksummed by a streaming read and sent in chunks later.
async fn source_of_file(path: &Path) -> std::io::Result<Source> {
    let size = std::fs::metadata(path)?.len();
    if size <= BIG_FILE as u64 {
        return std::fs::read(path).map(Source::Bytes);
    }
    let owned = path.to_path_buf();
    let (sha1, md5, size) = tokio::task::spawn_blocking(move || hash_file(&owned))
        .await
        .map_err(std::io::Error::other)??;
    Ok(Source::File {
        path: path.to_path_buf(),
        sha1,
        md5,
        size,
    })
}

/// SHA-1 and MD5 (hex) and the size of a file: two threads (one per digest) each read the
/// file in [`HASH_CHUNK`] pieces, so the wait is that of the slower digest, not their sum.
fn hash_file(path: &Path) -> std::io::Result<(String, String, u64)> {
    std::thread::scope(|scope| {
        let md5 = scope.spawn(|| digest_file::<md5::Md5>(path));
        let sha1 = digest_file::<sha1::Sha1>(path)?;
        let md5 = md5
            .join()
            .map_err(|_| std::io::Error::other("the MD5 thread panicked"))??;
        Ok((sha1.0, md5.0, sha1.1))
    })
}

/// One digest (hex) and the byte count of a file, read in [`HASH_CHUNK`] pieces.
fn digest_file<D: Digest>(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut digest = D::new();
    let mut buf = vec![0u8; HASH_CHUNK];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        digest.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(digest.finalize()), size))
}

/// One file to put in place.
struct FilePlan {
    dest: String,
    /// `dest` ends in `/`: missing directories are created.
    slash: bool,
    /// A directory dest is an error (`content`), instead of receiving `dest/basename`.
    content_like: bool,
    /// Name used when dest is a directory.
    basename: String,
    data: Source,
    /// Mode of the controller file, for `mode: preserve`.
    local_mode: Option<u32>,
    /// The diff's `after_header`.
    after_header: String,
}

impl FilePlan {
    /// SHA-1 and MD5 (hex) of the bytes to send; empty for `remote_src` (the target computes).
    fn checksums(&self) -> (String, String) {
        match &self.data {
            Source::Bytes(data) => (
                hex::encode(sha1::Sha1::digest(data)),
                hex::encode(md5::Md5::digest(data)),
            ),
            Source::File { sha1, md5, .. } => (sha1.clone(), md5.clone()),
            Source::Remote(_) => (String::new(), String::new()),
        }
    }

    /// Bytes to send: big ones are sent only when the target's copy differs.
    fn size(&self) -> u64 {
        match &self.data {
            Source::Bytes(data) => data.len() as u64,
            Source::File { size, .. } => *size,
            Source::Remote(_) => 0,
        }
    }
}

/// What goes on the script's stdin.
enum Input<'a> {
    None,
    Bytes(&'a [u8]),
    File(&'a Path),
}

/// Runs the copy script for one file and turns its records into Ansible's result.
async fn copy_one(
    args: &CopyArgs,
    plan: &FilePlan,
    ctx: &ModuleContext<'_>,
) -> Result<Map, ConnError> {
    let mut script = match build_script(args, plan, ctx.check_mode, ctx.diff) {
        Ok(script) => script,
        Err(result) => return Ok(result),
    };
    let mut input = match &plan.data {
        Source::Bytes(data) => Input::Bytes(data),
        Source::File { path, .. } => Input::File(path),
        Source::Remote(_) => Input::None,
    };
    // A big file is only sent when it differs: a first pass in check mode (no content)
    // tells; the real pass then carries the bytes only when they are needed. The script
    // verifies what it wrote against the expected SHA-1, so a file that changed in between
    // can never be replaced by nothing.
    if !ctx.check_mode && plan.size() > BIG_FILE as u64 {
        let probe = match build_script(args, plan, true, false) {
            Ok(script) => script,
            Err(result) => return Ok(result),
        };
        if let Ok(records) = remote::run_script(ctx, &probe, None).await? {
            if records.failure().is_none() && !records.has("exists") {
                if !records.has("chg") {
                    // Nothing to change: the probe's report is the answer (check mode
                    // and a real run report the same records then).
                    return Ok(build_result(args, plan, &records, ctx));
                }
                if !records.all("chg").any(|c| c == "content") {
                    input = Input::None;
                } else if !records.has("early") {
                    // The probe just checksummed dest: the real pass need not again.
                    script = format!("KNOWN_DIFFERENT=1\n{script}");
                }
            }
        }
    }
    let output = match input {
        Input::None => remote::run_script(ctx, &script, None).await?,
        Input::Bytes(data) => remote::run_script(ctx, &script, Some(data.to_vec())).await?,
        Input::File(path) => remote::run_script_streaming(ctx, &script, path).await?,
    };
    let records = match output {
        Ok(records) => records,
        Err(result) => return Ok(result),
    };
    Ok(build_result(args, plan, &records, ctx))
}

/// The script for one file: see the module doc for the rules it follows.
fn build_script(args: &CopyArgs, plan: &FilePlan, check: bool, diff: bool) -> Result<String, Map> {
    let mode_value = match (&args.mode, plan.local_mode) {
        (Value::String(m), Some(local)) if m == "preserve" => Value::from(local),
        (Value::String(m), None) if m == "preserve" => Value::String("preserve".into()),
        (other, _) => other.clone(),
    };
    let preserve_remote = mode_value.as_str() == Some("preserve");
    let mode = if preserve_remote {
        None
    } else {
        remote::parse_mode(&mode_value).map_err(|e| e.into_result(&args.dest))?
    };
    let dir_mode =
        remote::parse_mode(&args.directory_mode).map_err(|e| e.into_result(&args.dest))?;
    let (want_sha1, want_md5) = plan.checksums();
    let expected = args.checksum.clone().unwrap_or_default();
    if !expected.is_empty() && !want_sha1.is_empty() && expected != want_sha1 {
        return Err(checksum_mismatch(&want_sha1, &expected));
    }
    let mut s = attrs_vars(check, args.owner.as_deref(), args.group.as_deref());
    s.push_str(&format!(
        "D={}\nSLASH={}\nBASE={}\nCONTENT={}\nFORCE={}\nBACKUP={}\nFOLLOW={}\nDIFF={}\nWANT={}\nWANT_MD5={}\n",
        path_word(&plan.dest),
        u8::from(plan.slash),
        quote(&plan.basename),
        u8::from(plan.content_like),
        u8::from(args.force),
        u8::from(args.backup),
        u8::from(args.follow),
        u8::from(diff),
        quote(&want_sha1),
        quote(&want_md5),
    ));
    s.push_str(&format!("EXPECT={}\n", quote(&expected)));
    match &plan.data {
        Source::Remote(src) => {
            s.push_str(&format!(
                "REMOTE=1\nS={}\nLFOLLOW={}\n",
                path_word(src),
                u8::from(args.local_follow == Some(true))
            ));
            s.push_str(REMOTE_TREE_SH);
        }
        Source::Bytes(_) | Source::File { .. } => s.push_str("REMOTE=0\nS=\n"),
    }
    s.push_str(&format!("PRESERVE={}\n", u8::from(preserve_remote)));
    // The temp file's name: unique per task, so a leftover of a killed run never collides.
    s.push_str(&format!(
        "TMPID={}\n",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    s.push_str(&attrs_function(mode.as_ref()));
    s.push_str(&attrs_function_named("setdirattrs", dir_mode.as_ref()));
    s.push_str(&validate_function(args.validate.as_deref()));
    s.push_str(COPY_SH);
    Ok(s)
}

/// `validate_tmp`: runs the `validate` command on the temp file, without a shell for the
/// user's words: each word is quoted, `%s` becomes the temp file's path.
fn validate_function(validate: Option<&str>) -> String {
    let Some(validate) = validate else {
        return "validate_tmp() { :; }\n".to_string();
    };
    if !validate.contains("%s") {
        return format!(
            "validate_tmp() {{ die {}; }}\n",
            quote(&format!("validate must contain %s: {validate}"))
        );
    }
    let words = match crate::shell::shlex_words(validate) {
        Ok(words) => words,
        Err(e) => return format!("validate_tmp() {{ die {}; }}\n", quote(&e)),
    };
    let command: Vec<String> = words
        .iter()
        .map(|word| {
            word.replace("%%", "\u{0}")
                .split("%s")
                .map(|part| quote(&part.replace('\u{0}', "%")))
                .collect::<Vec<_>>()
                .join("\"$1\"")
        })
        .collect();
    format!(
        r#"validate_tmp() {{
  _out=$(mktemp) && _err=$(mktemp) || die "failed to validate"
  {} >"$_out" 2>"$_err" </dev/null
  _rc=$?
  if [ $_rc -ne 0 ]; then
    emit exit_status "$_rc"; printf 'v_stdout='; cat "$_out"; printf '\0'
    printf 'v_stderr='; cat "$_err"; printf '\0'
    rm -f -- "$_out" "$_err" "$1"; die "failed to validate"
  fi
  rm -f -- "$_out" "$_err"
}}
"#,
        command.join(" ")
    )
}

/// `remote_src` with a directory (`remote_tree`): `S/` puts the directory's contents in
/// `dest`, `S` puts the directory itself in `dest/basename(S)`; the target directory is
/// created when missing. Entries are merged: missing or different files are copied (with
/// their source's mode), missing directories made, entries only in dest left alone; a
/// symlink is copied as a link unless `local_follow: true` (then what it points to; unset,
/// the module keeps links, unlike the controller-side copy). `owner` and
/// `group` apply to the whole tree, `mode` and the result's path info to `dest` itself.
/// Recursion keeps its state in the positional parameters (POSIX sh has no locals); the
/// `for` list is expanded before the loop runs, so a nested call cannot disturb it.
const REMOTE_TREE_SH: &str = r#"same_mode() { lst "$1" && oct $(( 0x$st_f & 4095 )) && chmod "$_oc" "$2"; }
tree_copy() {
  set +f # the prelude's noglob, lifted for the listing only
  for _p in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    set -f
    [ -e "$_p" ] || [ -L "$_p" ] || continue
    _q="$2/${_p##*/}"
    if [ -L "$_p" ] && [ "$LFOLLOW" != 1 ]; then
      _l=$(readlink -- "$_p")
      if [ ! -L "$_q" ] || [ "$(readlink -- "$_q")" != "$_l" ]; then
        emit chg content
        [ "$CHECK" = 1 ] || { rm -f -- "$_q" && ln -s -- "$_l" "$_q"; } || die "failed to copy: $_p to $_q"
      fi
    elif [ -d "$_p" ]; then
      if [ ! -d "$_q" ]; then
        emit chg content
        [ "$CHECK" = 1 ] && continue
        { mkdir -- "$_q" && same_mode "$_p" "$_q"; } || die "failed to copy: $_p to $_q"
      fi
      tree_copy "$_p" "$_q"
    elif [ -L "$_q" ] || [ ! -f "$_q" ] || ! cmp -s -- "$_p" "$_q"; then
      emit chg content
      [ "$CHECK" = 1 ] || { rm -f -- "$_q"; cp -- "$_p" "$_q" && same_mode "$_p" "$_q"; } || die "failed to copy: $_p to $_q"
    fi
  done
  set -f
}
tree_owner() {
  if [ -n "$OWN" ]; then
    [ -n "$WUID" ] || WUID=$(uid_of "$OWN")
    [ -n "$WUID" ] || die "chown failed: failed to look up user $OWN"
    if [ -n "$(find "$1" ! -user "$WUID" 2>/dev/null | head -n 1)" ]; then
      emit chg owner; [ "$CHECK" = 1 ] || chown -R -h -- "$WUID" "$1" || die "chown failed"
    fi
  fi
  if [ -n "$GRP" ]; then
    [ -n "$WGID" ] || WGID=$(gid_of "$GRP")
    [ -n "$WGID" ] || die "chgrp failed: failed to look up group $GRP"
    if [ -n "$(find "$1" ! -group "$WGID" 2>/dev/null | head -n 1)" ]; then
      emit chg group; [ "$CHECK" = 1 ] || chgrp -R -h -- "$WGID" "$1" || die "chgrp failed"
    fi
  fi
}
remote_tree() {
  _top=${D%/}
  case $S in
    */) _t=$_top ;;
    # `S` into an existing directory: the result (dest, mode, path info) is about the copy.
    *) _s=${S%/}; _t="$_top/${_s##*/}"; [ -d "$D" ] && { D=$_t; _top=$_t; } ;;
  esac
  emit dest "$D"
  if [ ! -d "$_t" ]; then
    emit chg content
    [ "$CHECK" = 1 ] && return 0
    _e=$(mkdir -p -- "$_t" 2>&1) || die "There was an issue creating $_t as requested: $_e"
  fi
  tree_copy "${S%/}" "$_t"
  tree_owner "$_t"
  setattrs "$_top"
  pinfo "$_top"
}
"#;

/// The copy logic on the target (variables set by [`build_script`]).
const COPY_SH: &str = r#"_tmp=
trap '[ -z "$_tmp" ] || rm -f -- "$_tmp"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM
feed() { if [ "$REMOTE" = 1 ]; then cat -- "$S"; else cat; fi; }
if [ "$REMOTE" = 1 ]; then
  [ -e "$S" ] || die "Source $S not found"
  if [ -d "$S" ]; then remote_tree; exit 0; fi
  [ -f "$S" ] || die "Source $S is not a file"
  [ -r "$S" ] || die "Source $S not readable"
  WANT=$(sha1sum <"$S"); WANT=${WANT%% *}
  WANT_MD5=$(md5sum <"$S"); WANT_MD5=${WANT_MD5%% *}
  if [ -n "$EXPECT" ] && [ "$EXPECT" != "$WANT" ]; then
    emit want "$WANT"; emit expected "$EXPECT"
    die "Copied file does not match the expected checksum. Transfer failed."
  fi
fi
emit want "$WANT"; emit want_md5 "$WANT_MD5"
if [ "$SLASH" = 1 ] && [ ! -d "$D" ]; then
  if [ "$CHECK" = 1 ]; then emit chg content; emit early 1; exit 0; fi
  _c=${D%/}; _top=$_c
  while [ ! -e "$_c" ] && [ ! -L "$_c" ]; do _top=$_c; dir_of "$_c"; _c=$_dn; done
  _e=$(mkdir -p -- "$D" 2>&1) || die "There was an issue creating $D as requested: $_e Could not copy to $D"
  _c=${D%/}
  while :; do setdirattrs "$_c"; [ "$_c" = "$_top" ] && break; dir_of "$_c"; _c=$_dn; done
fi
if [ -d "$D" ]; then
  [ "$CONTENT" = 1 ] && die "can not use content with a dir as dest"
  D="${D%/}/$BASE"
fi
emit dest "$D"
_cur=
if [ -e "$D" ] || [ -L "$D" ]; then
  if [ "$FOLLOW" = 1 ] && [ -L "$D" ]; then D=$(readlink -f -- "$D"); emit dest "$D"; fi
  if [ "$FORCE" != 1 ]; then emit exists 1; exit 0; fi
  if [ "$KNOWN_DIFFERENT" = 1 ]; then _cur=different
  elif [ -f "$D" ] && [ -r "$D" ]; then _cur=$(sha1sum <"$D"); _cur=${_cur%% *}; fi
elif [ "$CHECK" != 1 ]; then
  dir_of "$D"
  [ -d "$_dn" ] || die "Destination directory $_dn does not exist"
fi
if [ "$_cur" != "$WANT" ] || [ -L "$D" ]; then
  emit chg content
  if [ "$DIFF" = 1 ]; then
    if [ -f "$D" ] && [ ! -L "$D" ]; then
      if [ "$(tr -d '\000' <"$D" | wc -c)" = "$(wc -c <"$D")" ] && [ "$(wc -c <"$D")" -le 104448 ]; then
        printf 'before='; cat -- "$D"; printf '\0'
      else
        emit dst_binary 1
      fi
    else
      emit before_absent 1
    fi
  fi
  [ "$CHECK" = 1 ] && exit 0
  dir_of "$D"; _dir=$_dn
  [ -w "$_dir" ] || die "Destination $_dir not writable"
  # A private (0600) temp file next to dest, created exclusively (noclobber: O_EXCL) under a
  # name no one else uses, filled from stdin in the same subshell.
  _tmp="${_dir%/}/.hook-runner.$$.$TMPID"
  _e=$(umask 077; set -C; feed 2>&1 >"$_tmp") || die "failed to copy: to $D: $_e"
  _got=$(sha1sum <"$_tmp"); _got=${_got%% *}
  if [ "$_got" != "$WANT" ]; then
    emit want "$_got"; emit expected "$WANT"
    die "Copied file does not match the expected checksum. Transfer failed."
  fi
  if [ "$PRESERVE" = 1 ] && [ "$REMOTE" = 1 ]; then
    lst "$S" && oct $(( 0x$st_f & 4095 )) && chmod "$_oc" "$_tmp"
  elif [ -e "$D" ] && [ ! -L "$D" ] && lst "$D"; then
    oct $(( 0x$st_f & 4095 )); chmod "$_oc" "$_tmp"
    # Only root can give the file away; skip the call when it would change nothing.
    if [ ! -O "$D" ] || [ ! -G "$D" ]; then chown "$st_u:$st_g" "$_tmp" 2>/dev/null; fi
  else
    oct $(( 438 & (4095 ^ 0$(umask)) )); chmod "$_oc" "$_tmp"
  fi
  validate_tmp "$_tmp"
  if [ "$BACKUP" = 1 ] && [ -e "$D" ]; then
    _bk="$D.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
    _e=$(cp -p -- "$D" "$_bk" 2>&1) || die "Could not make backup of $D to $_bk: $_e"
    emit backup_file "$_bk"
  fi
  [ -L "$D" ] && rm -f -- "$D"
  _e=$(mv -f -- "$_tmp" "$D" 2>&1) || die "failed to copy: to $D: $_e"
  emit tmp "$_tmp"; _tmp=
fi
setattrs "$D"
pinfo "$D"
"#;

/// Ansible's result for one file.
fn build_result(
    args: &CopyArgs,
    plan: &FilePlan,
    records: &Records,
    ctx: &ModuleContext<'_>,
) -> Map {
    if let Some(mut failure) = records.failure() {
        if let Some(expected) = records.get("expected") {
            return checksum_mismatch(records.get("want").unwrap_or(""), expected);
        }
        // The action plugin adds the local checksum to what the module returned.
        let local = records.get("want").unwrap_or("");
        let from_action = failure.get("msg").and_then(Value::as_str)
            == Some("can not use content with a dir as dest");
        if !local.is_empty() && !from_action {
            failure.insert("checksum".into(), Value::String(local.into()));
        }
        if let Some(rc) = records.get("exit_status") {
            failure.insert(
                "exit_status".into(),
                Value::from(rc.parse::<i64>().unwrap_or(-1)),
            );
            for (key, record) in [("stdout", "v_stdout"), ("stderr", "v_stderr")] {
                failure.insert(
                    key.into(),
                    Value::String(records.get(record).unwrap_or("").into()),
                );
            }
        }
        return failure;
    }
    let dest = records.get("dest").unwrap_or(&plan.dest).to_string();
    let mut result = Map::new();
    if records.has("exists") {
        result.insert("changed".into(), Value::Bool(false));
        result.insert("dest".into(), Value::String(args.dest.clone()));
        if let Some(src) = &args.src {
            result.insert("src".into(), Value::String(src.clone()));
        }
        return result;
    }
    let content_changed = records.all("chg").any(|c| c == "content");
    let sha1 = records.get("want").unwrap_or("").to_string();
    if let Source::Remote(src) = &plan.data {
        return remote_src_result(src, &dest, content_changed, records, ctx);
    }
    if content_changed && ctx.check_mode {
        result.insert("changed".into(), Value::Bool(true));
    } else if content_changed {
        result.insert("dest".into(), Value::String(dest.clone()));
        result.insert(
            "src".into(),
            Value::String(records.get("tmp").unwrap_or(&plan.after_header).into()),
        );
        result.insert(
            "md5sum".into(),
            Value::String(records.get("want_md5").unwrap_or("").into()),
        );
        result.insert("checksum".into(), Value::String(sha1));
        result.insert("changed".into(), Value::Bool(true));
        if let Some(backup) = records.get("backup_file") {
            result.insert("backup_file".into(), Value::String(backup.into()));
        }
    } else {
        result.insert("path".into(), Value::String(dest.clone()));
        result.insert("dest".into(), Value::String(dest.clone()));
        result.insert("changed".into(), Value::Bool(records.attrs_changed()));
        result.insert("checksum".into(), Value::String(sha1));
    }
    // Ansible's copy action returns a list of content diffs (empty without `--diff`); with
    // unchanged content the file module's attribute diff comes back instead.
    let diff = match (content_changed, ctx.diff) {
        (true, true) => Value::Array(vec![diff_value(plan, records, &dest, true)]),
        (true, false) => Value::Array(Vec::new()),
        (false, _) => diff_value(plan, records, &dest, false),
    };
    result.insert("diff".into(), diff);
    if !(content_changed && ctx.check_mode) {
        remote::add_path_info(&mut result, records);
    }
    result
}

use super::remote::Records;

/// `remote_src` runs the copy module alone (no action plugin): its result names the given
/// source, carries no `diff` (only the action computes diffs) and, unchanged, is the module's
/// own `dest, src, md5sum, checksum` rather than the file module's result.
fn remote_src_result(
    src: &str,
    dest: &str,
    content_changed: bool,
    records: &Records,
    ctx: &ModuleContext<'_>,
) -> Map {
    let mut result = Map::new();
    let changed = content_changed || records.attrs_changed();
    if content_changed && ctx.check_mode {
        result.insert("changed".into(), Value::Bool(true));
        return result;
    }
    result.insert("dest".into(), Value::String(dest.into()));
    result.insert("src".into(), Value::String(src.into()));
    // A directory source has no checksums: Ansible returns null for both.
    let text_or_null = |key| {
        records
            .get(key)
            .map_or(Value::Null, |v| Value::String(v.into()))
    };
    result.insert("md5sum".into(), text_or_null("want_md5"));
    result.insert("checksum".into(), text_or_null("want"));
    result.insert("changed".into(), Value::Bool(changed));
    if let Some(backup) = records.get("backup_file") {
        result.insert("backup_file".into(), Value::String(backup.into()));
    }
    remote::add_path_info(&mut result, records);
    result
}

/// Ansible's failure when the bytes that arrived are not the bytes meant.
fn checksum_mismatch(actual: &str, expected: &str) -> Map {
    let mut result =
        remote::failed("Copied file does not match the expected checksum. Transfer failed.");
    result.insert("checksum".into(), Value::String(actual.into()));
    result.insert("expected_checksum".into(), Value::String(expected.into()));
    result
}

/// `diff`: old and new text when the content changes, else the attribute changes.
fn diff_value(plan: &FilePlan, records: &Records, dest: &str, content_changed: bool) -> Value {
    let mut diff = Map::new();
    if content_changed {
        if records.has("dst_binary") {
            diff.insert("dst_binary".into(), Value::from(1));
        } else if records.has("before_absent") {
            diff.insert("before".into(), Value::String(String::new()));
        } else {
            diff.insert("before_header".into(), Value::String(dest.into()));
            diff.insert(
                "before".into(),
                Value::String(records.get("before").unwrap_or("").into()),
            );
        }
        match &plan.data {
            Source::Bytes(data) if data.len() > MAX_DIFF_SIZE => {
                diff.insert("src_larger".into(), Value::from(MAX_DIFF_SIZE));
            }
            Source::File { .. } => {
                diff.insert("src_larger".into(), Value::from(MAX_DIFF_SIZE));
            }
            Source::Bytes(data) if data.contains(&0) => {
                diff.insert("src_binary".into(), Value::from(1));
            }
            Source::Bytes(data) => {
                diff.insert(
                    "after_header".into(),
                    Value::String(plan.after_header.clone()),
                );
                diff.insert(
                    "after".into(),
                    Value::String(String::from_utf8_lossy(data).into()),
                );
            }
            Source::Remote(_) => {}
        }
        return Value::Object(diff);
    }
    let mut before = Map::new();
    let mut after = Map::new();
    before.insert("path".into(), Value::String(dest.into()));
    after.insert("path".into(), Value::String(dest.into()));
    records.attrs_diff(&mut before, &mut after);
    diff.insert("before".into(), Value::Object(before));
    diff.insert("after".into(), Value::Object(after));
    Value::Object(diff)
}

/// Copies a controller directory: every file (one round trip each, missing directories made
/// with `directory_mode`), then empty directories. The result is `{dest, src, changed}`.
async fn copy_tree(
    args: &CopyArgs,
    src: &str,
    root: &Path,
    ctx: &ModuleContext<'_>,
) -> Result<Map, ConnError> {
    // `src/` copies the contents; `src` copies the directory itself.
    let top = if src.ends_with('/') {
        String::new()
    } else {
        format!("{}/", basename(src))
    };
    let dest_root = format!("{}/", args.dest.trim_end_matches('/'));
    let mut tree = Tree::default();
    let mut ancestors: Vec<PathBuf> = std::fs::canonicalize(root).into_iter().collect();
    walk(
        root,
        Path::new(""),
        args.local_follow.unwrap_or(true),
        &mut ancestors,
        &mut tree,
    );
    for rel in &tree.files {
        if let Some(message) = vault_refusal(args, &root.join(rel)) {
            return Ok(remote::failed(message));
        }
    }
    let mut changed = false;
    for rel in &tree.files {
        let rel_text = rel.to_string_lossy();
        let parent = rel
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let full = root.join(rel);
        let dir = if parent.is_empty() {
            format!("{dest_root}{top}")
        } else {
            format!("{dest_root}{top}{parent}/")
        };
        let file = Transfer {
            dest: dir,
            payload: Payload::File(full.clone()),
            basename: Some(basename(&rel_text)),
            local_mode: local_mode(&full),
            after_header: full.to_string_lossy().into_owned(),
        };
        let result = transfer(args, file, ctx).await?;
        if result.get("failed") == Some(&Value::Bool(true)) {
            return Ok(result);
        }
        changed |= result.get("changed") == Some(&Value::Bool(true));
    }
    for rel in &tree.empty_dirs {
        let path = format!("{dest_root}{top}{}", rel.to_string_lossy());
        let mode = remote::parse_mode(&args.directory_mode).map_err(|e| e.msg);
        let mode = match mode {
            Ok(mode) => mode,
            Err(msg) => return Ok(remote::failed(msg)),
        };
        let mut script = attrs_vars(ctx.check_mode, args.owner.as_deref(), args.group.as_deref());
        script.push_str(&format!("D={}\n", path_word(&path)));
        script.push_str(&attrs_function_named("setdirattrs", mode.as_ref()));
        script.push_str(
            r#"if [ ! -d "$D" ]; then
  emit chg created
  if [ "$CHECK" != 1 ]; then _e=$(mkdir -p -- "$D" 2>&1) || die "There was an issue creating $D as requested: $_e"; setdirattrs "$D"; fi
fi
"#,
        );
        match remote::run_script(ctx, &script, None).await? {
            Ok(records) => {
                if let Some(failure) = records.failure() {
                    return Ok(failure);
                }
                changed |= records.attrs_changed();
            }
            Err(result) => return Ok(result),
        }
    }
    if !tree.links.is_empty() {
        let base = format!("{dest_root}{top}");
        match make_links(args, &base, &tree.links, ctx).await? {
            Ok(links_changed) => changed |= links_changed,
            Err(failure) => return Ok(failure),
        }
    }
    // The action plugin reports the controller path it found (keeping `src`'s trailing slash)
    // and, for a contents copy, the destination as the directory it filled (slash-ended).
    let mut result = Map::new();
    let dest = if src.ends_with('/') {
        dest_root.clone()
    } else {
        args.dest.clone()
    };
    let mut found = root.to_string_lossy().trim_end_matches('/').to_string();
    if src.ends_with('/') {
        found.push('/');
    }
    result.insert("dest".into(), Value::String(dest));
    result.insert("src".into(), Value::String(found));
    result.insert("changed".into(), Value::Bool(changed));
    Ok(result)
}

/// Makes the links of a directory copy under `base` (one script for all): a link whose text
/// differs is replaced; a missing parent is made with `directory_mode`.
async fn make_links(
    args: &CopyArgs,
    base: &str,
    links: &[(PathBuf, PathBuf)],
    ctx: &ModuleContext<'_>,
) -> Result<Result<bool, Map>, ConnError> {
    let dir_mode = match remote::parse_mode(&args.directory_mode) {
        Ok(mode) => mode,
        Err(e) => return Ok(Err(remote::failed(e.msg))),
    };
    let mut script = attrs_vars(ctx.check_mode, args.owner.as_deref(), args.group.as_deref());
    script.push_str(&attrs_function_named("setdirattrs", dir_mode.as_ref()));
    script.push_str(
        r#"mklink() {
  if [ -L "$2" ] && [ "$(readlink -- "$2")" = "$1" ]; then return 0; fi
  emit chg link
  [ "$CHECK" = 1 ] && return 0
  dir_of "$2"
  if [ ! -d "$_dn" ]; then
    _e=$(mkdir -p -- "$_dn" 2>&1) || die "There was an issue creating $_dn as requested: $_e"
    setdirattrs "$_dn"
  fi
  [ -d "$2" ] && [ ! -L "$2" ] && die "Cannot link, directory exists at $2"
  _e=$(rm -f -- "$2" 2>&1 && ln -s -- "$1" "$2" 2>&1) || die "Error while linking: $_e"
}
"#,
    );
    for (rel, text) in links {
        let dest = format!("{base}{}", rel.to_string_lossy());
        script.push_str(&format!(
            "mklink {} {}\n",
            quote(&text.to_string_lossy()),
            path_word(&dest)
        ));
    }
    match remote::run_script(ctx, &script, None).await? {
        Ok(records) => match records.failure() {
            Some(failure) => Ok(Err(failure)),
            None => Ok(Ok(records.attrs_changed())),
        },
        Err(result) => Ok(Err(result)),
    }
}

/// What a controller directory holds, relative to its root.
#[derive(Debug, Default)]
struct Tree {
    /// Regular files (and, with `local_follow`, links to files).
    files: Vec<PathBuf>,
    /// Directories without files or subdirectories (made on their own).
    empty_dirs: Vec<PathBuf>,
    /// Links copied as links, with their text: all of them without `local_follow`; with it,
    /// broken ones and those to a directory being walked (a loop, like `circles -> ../`).
    links: Vec<(PathBuf, PathBuf)>,
}

/// Walks `root/rel`; `ancestors` are the real paths of the directories being walked.
fn walk(root: &Path, rel: &Path, follow: bool, ancestors: &mut Vec<PathBuf>, tree: &mut Tree) {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return;
    };
    let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    let mut holds_content = false;
    // A directory's files come before its subdirectories (a top-down walk, as Ansible's).
    let mut subdirs = Vec::new();
    for name in names {
        let child = rel.join(&name);
        let path = root.join(&child);
        let is_link = path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        let real = std::fs::canonicalize(&path).ok();
        let as_link = is_link && (!follow || real.as_ref().is_none_or(|r| ancestors.contains(r)));
        if as_link {
            if let Ok(text) = std::fs::read_link(&path) {
                tree.links.push((child, text));
            }
        } else if path.is_dir() {
            holds_content = true;
            subdirs.push((child, real.unwrap_or(path)));
        } else {
            holds_content = true;
            tree.files.push(child);
        }
    }
    for (child, real) in subdirs {
        ancestors.push(real);
        walk(root, &child, follow, ancestors, tree);
        ancestors.pop();
    }
    if !holds_content && !rel.as_os_str().is_empty() {
        tree.empty_dirs.push(rel.to_path_buf());
    }
}

/// Finds a controller `src` as Ansible's `_find_needle('files', src)` does.
pub fn find_source(src: &str, search_paths: &[PathBuf]) -> Option<PathBuf> {
    let trimmed = if src.len() > 1 {
        src.trim_end_matches('/')
    } else {
        src
    };
    let path = Path::new(trimmed);
    if path.is_absolute() {
        return path.exists().then(|| path.to_path_buf());
    }
    search_paths
        .iter()
        .flat_map(|base| [base.join("files").join(path), base.join(path)])
        .find(|candidate| candidate.exists())
}

fn not_found_message(src: &str, search_paths: &[PathBuf]) -> String {
    let searched: Vec<String> = search_paths
        .iter()
        .flat_map(|base| [base.join("files").join(src), base.join(src)])
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    format!(
        "Could not find or access '{src}'\nSearched in:\n\t{} on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option",
        searched.join("\n\t")
    )
}

fn basename(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string()
}

fn local_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// What `content` writes: a string as-is, anything else as Python's `json.dumps` prints it.
pub fn content_bytes(content: &Value) -> Vec<u8> {
    match content {
        Value::String(text) => text.clone().into_bytes(),
        Value::Array(_) | Value::Object(_) => {
            crate::py::json_dumps(content, None, false, true).into_bytes()
        }
        other => crate::py::str(other).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote::testkit::{check, nasty_tempdir, run, run_on, run_with, Options};
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(path: &str) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn unknown_parameter_message_lists_the_module_spec_without_decrypt() {
        let args = json!({"dest": "/x", "bogus_option": 1, "decrypt": true});
        let args = args.as_object().cloned().unwrap_or_default();
        let err = SPEC.check_names("copy", &args).err().unwrap_or_default();
        assert_eq!(
            err,
            "Unsupported parameters for (ansible.legacy.copy) module: bogus_option. Supported parameters include: _original_basename, attributes, backup, checksum, content, dest, directory_mode, follow, force, group, local_follow, mode, owner, remote_src, selevel, serole, setype, seuser, src, unsafe_writes, validate (attr)."
        );
    }

    #[tokio::test]
    async fn argument_errors_follow_the_actions_order_and_wording() {
        let cases = [
            (
                json!({"src": "", "dest": "/x"}),
                "src (or content) is required",
            ),
            (json!({"dest": "/x"}), "src (or content) is required"),
            (json!({"src": "foo.txt"}), "dest is required"),
            (
                json!({"src": "f", "content": "c", "dest": "/x"}),
                "src and content are mutually exclusive",
            ),
        ];
        for (args, message) in cases {
            let result = run(&Copy, args.clone()).await;
            assert_eq!(result["failed"], true, "{args}: {result:?}");
            assert_eq!(result["msg"], message, "{args}");
        }
    }

    #[tokio::test]
    async fn content_is_written_exactly_then_idempotent() {
        let (_tmp, dir) = nasty_tempdir();
        let dest = format!("{dir}/f $(x);y");
        let args = json!({"dest": dest, "content": "hello\nworld", "mode": "0600"});
        let first = run(&Copy, args.clone()).await;
        assert_eq!(first["changed"], true, "{first:?}");
        assert_eq!(
            first["checksum"],
            hex::encode(sha1::Sha1::digest(b"hello\nworld"))
        );
        assert_eq!(first["mode"], "0600");
        assert_eq!(first["dest"], dest.as_str());
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\nworld");
        assert_eq!(mode_of(&dest), 0o600);
        let second = run(&Copy, args).await;
        assert_eq!(second["changed"], false, "{second:?}");
        assert_eq!(second["path"], dest.as_str());
        // A mode change alone is a change, without rewriting.
        let third = run(
            &Copy,
            json!({"dest": dest, "content": "hello\nworld", "mode": "0640"}),
        )
        .await;
        assert_eq!(third["changed"], true);
        assert_eq!(mode_of(&dest), 0o640);
        assert!(!std::path::Path::new(&format!("{dir}/PWNED")).exists());
    }

    #[tokio::test]
    async fn replaced_files_keep_mode_new_files_get_umask_default() {
        let (_tmp, dir) = nasty_tempdir();
        let dest = format!("{dir}/keep");
        std::fs::write(&dest, "old").unwrap();
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o640)).unwrap();
        let result = run(&Copy, json!({"dest": dest, "content": "new"})).await;
        assert_eq!(result["changed"], true);
        assert_eq!(mode_of(&dest), 0o640);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
    }

    #[tokio::test]
    async fn dest_rules_and_messages() {
        let (_tmp, dir) = nasty_tempdir();
        let result = run(&Copy, json!({"dest": dir, "content": "x"})).await;
        assert_eq!(result["msg"], "can not use content with a dir as dest");
        let result = run(
            &Copy,
            json!({"dest": format!("{dir}/nope/f"), "content": "x"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            format!("Destination directory {dir}/nope does not exist")
        );
        let result = run(&Copy, json!({"dest": "/x"})).await;
        assert_eq!(result["msg"], "src (or content) is required");
        let result = run(&Copy, json!({"dest": "/x", "src": "a", "content": "b"})).await;
        assert_eq!(result["msg"], "src and content are mutually exclusive");
    }

    #[tokio::test]
    async fn force_false_keeps_existing_and_check_mode_touches_nothing() {
        let (_tmp, dir) = nasty_tempdir();
        let dest = format!("{dir}/f");
        std::fs::write(&dest, "old").unwrap();
        let result = run(
            &Copy,
            json!({"dest": dest, "content": "new", "force": false}),
        )
        .await;
        assert_eq!(result["changed"], false);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "old");
        let result = check(&Copy, json!({"dest": dest, "content": "new"})).await;
        assert_eq!(result["changed"], true);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "old");
        // Check mode does not fail on a missing directory: the real run would create the file.
        let result = check(
            &Copy,
            json!({"dest": format!("{dir}/nope/f"), "content": "x"}),
        )
        .await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert!(!std::path::Path::new(&format!("{dir}/nope")).exists());
    }

    #[tokio::test]
    async fn backup_and_diff() {
        let (_tmp, dir) = nasty_tempdir();
        let dest = format!("{dir}/f");
        std::fs::write(&dest, "old\n").unwrap();
        let options = Options {
            diff: true,
            ..Options::default()
        };
        let result = run_with(
            &Copy,
            json!({"dest": dest, "content": "new\n", "backup": true}),
            options,
        )
        .await;
        let backup = result["backup_file"].as_str().unwrap();
        assert!(
            backup.starts_with(&format!("{dest}.")) && backup.ends_with('~'),
            "{backup}"
        );
        assert_eq!(std::fs::read_to_string(backup).unwrap(), "old\n");
        assert_eq!(result["diff"][0]["before"], "old\n");
        assert_eq!(result["diff"][0]["after"], "new\n");
        // Diff mode is marked for the console; without it the diff stays but is not marked.
        assert_eq!(result["_ansible_diff"], true);
        let quiet = run(&Copy, json!({"dest": dest, "content": "newer\n"})).await;
        assert_eq!(quiet["diff"], json!([]));
        assert_eq!(quiet.get("_ansible_diff"), None);
    }

    #[tokio::test]
    async fn validate_runs_on_the_temp_file() {
        let (_tmp, dir) = nasty_tempdir();
        let dest = format!("{dir}/v");
        let result = run(
            &Copy,
            json!({"dest": dest, "content": "x", "validate": "grep -q y %s"}),
        )
        .await;
        assert_eq!(result["msg"], "failed to validate");
        assert_eq!(result["exit_status"], 1);
        assert!(!std::path::Path::new(&dest).exists());
        let result = run(
            &Copy,
            json!({"dest": dest, "content": "y", "validate": "grep -q y %s"}),
        )
        .await;
        assert_eq!(result["changed"], true, "{result:?}");
        let result = run(
            &Copy,
            json!({"dest": dest, "content": "z", "validate": "true"}),
        )
        .await;
        assert_eq!(result["msg"], "validate must contain %s: true");
    }

    #[tokio::test]
    async fn src_files_and_directories_from_search_paths() {
        let (_tmp, dir) = nasty_tempdir();
        let files = format!("{dir}/play/files/tree");
        std::fs::create_dir_all(format!("{files}/sub")).unwrap();
        std::fs::create_dir_all(format!("{files}/empty")).unwrap();
        std::fs::write(format!("{files}/a"), "A").unwrap();
        std::fs::write(format!("{files}/sub/b"), "B").unwrap();
        let options = || Options {
            search_paths: vec![PathBuf::from(format!("{dir}/play"))],
            ..Options::default()
        };
        let dest = format!("{dir}/out");
        let result = run_with(
            &Copy,
            json!({"src": "tree", "dest": format!("{dest}/")}),
            options(),
        )
        .await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(
            std::fs::read_to_string(format!("{dest}/tree/sub/b")).unwrap(),
            "B"
        );
        assert!(std::path::Path::new(&format!("{dest}/tree/empty")).is_dir());
        let again = run_with(
            &Copy,
            json!({"src": "tree", "dest": format!("{dest}/")}),
            options(),
        )
        .await;
        assert_eq!(again["changed"], false, "{again:?}");
        // A trailing slash copies the contents.
        let result = run_with(
            &Copy,
            json!({"src": "tree/", "dest": format!("{dir}/flat")}),
            options(),
        )
        .await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(
            std::fs::read_to_string(format!("{dir}/flat/a")).unwrap(),
            "A"
        );
        // Ansible names the controller directory it found, and the filled directory with a slash.
        assert_eq!(result["src"], format!("{files}/"));
        assert_eq!(result["dest"], format!("{dir}/flat/"));
        assert_eq!(again["src"], files.as_str());
        assert_eq!(again["dest"], format!("{dest}/"));
        // A single file into an existing directory lands under its basename.
        let result = run_with(&Copy, json!({"src": "tree/a", "dest": dest}), options()).await;
        assert_eq!(result["dest"], format!("{dest}/a"));
        let missing = run_with(&Copy, json!({"src": "nope", "dest": dest}), options()).await;
        assert!(missing["msg"]
            .as_str()
            .unwrap()
            .starts_with("Could not find or access 'nope'"));
    }

    #[tokio::test]
    async fn remote_src_copies_on_the_target() {
        let (_tmp, dir) = nasty_tempdir();
        let src = format!("{dir}/s");
        std::fs::write(&src, "R").unwrap();
        let dest = format!("{dir}/d");
        let result = run(&Copy, json!({"src": src, "dest": dest, "remote_src": true})).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "R");
        // The copy module alone: the given source, no diff (the action plugin makes those).
        assert_eq!(result["src"], src.as_str());
        assert_eq!(result.get("diff"), None);
        let result = run(&Copy, json!({"src": src, "dest": dest, "remote_src": true})).await;
        assert_eq!(result["changed"], false);
        assert_eq!(result["src"], src.as_str());
        assert_eq!(result["md5sum"], "e1e1d3d40573127e9ee0480caf1283d6");
        assert_eq!(result.get("diff"), None);
        assert_eq!(result.get("path"), None);
    }

    #[tokio::test]
    async fn remote_src_directories_merge_with_or_without_their_name() {
        let (_tmp, dir) = nasty_tempdir();
        let src = format!("{dir}/tree");
        std::fs::create_dir_all(format!("{src}/sub")).unwrap();
        std::fs::write(format!("{src}/sub/f"), "F").unwrap();
        std::os::unix::fs::symlink("sub/f", format!("{src}/link")).unwrap();
        let into = format!("{dir}/into");
        std::fs::create_dir(&into).unwrap();
        // `tree/`: the contents go into dest; links are followed with local_follow.
        let args = json!({"src": format!("{src}/"), "dest": into, "remote_src": true, "local_follow": true});
        let result = run(&Copy, args.clone()).await;
        assert_eq!(result["changed"], true, "{result:?}");
        assert_eq!(result["checksum"], Value::Null);
        assert_eq!(
            std::fs::read_to_string(format!("{into}/sub/f")).unwrap(),
            "F"
        );
        let link = std::fs::symlink_metadata(format!("{into}/link")).unwrap();
        assert!(link.file_type().is_file());
        assert_eq!(run(&Copy, args).await["changed"], false);
        // `tree`: the directory itself, in a dest made on the way; links kept without follow.
        let named = format!("{dir}/named");
        let args = json!({"src": src, "dest": named, "remote_src": true, "local_follow": false});
        let result = run(&Copy, args.clone()).await;
        assert_eq!(result["changed"], true, "{result:?}");
        let link = std::fs::read_link(format!("{named}/tree/link")).unwrap();
        assert_eq!(link, Path::new("sub/f"));
        assert_eq!(result["dest"], named.as_str());
        // Again, into the now existing dest: unchanged, and about `dest/tree`.
        let again = run(&Copy, args).await;
        assert_eq!(again["changed"], false);
        assert_eq!(again["dest"], format!("{named}/tree"));
        // A changed file is copied again.
        std::fs::write(format!("{src}/sub/f"), "G").unwrap();
        let args = json!({"src": format!("{src}/"), "dest": into, "remote_src": true, "local_follow": true});
        assert_eq!(run(&Copy, args).await["changed"], true);
        assert_eq!(
            std::fs::read_to_string(format!("{into}/sub/f")).unwrap(),
            "G"
        );
    }

    #[tokio::test]
    async fn remote_src_that_is_not_a_file_fails() {
        let (_tmp, dir) = nasty_tempdir();
        let dest = format!("{dir}/d");
        let args = json!({"src": "/dev/null", "dest": dest, "remote_src": true});
        let result = run(&Copy, args).await;
        assert_eq!(
            result["msg"], "Source /dev/null is not a file",
            "{result:?}"
        );
        assert!(!Path::new(&dest).exists());
    }

    #[tokio::test]
    async fn vault_files_are_refused_unless_decrypt_is_off() {
        let (_tmp, dir) = nasty_tempdir();
        let src = format!("{dir}/v");
        std::fs::write(&src, "$ANSIBLE_VAULT;1.1;AES256\n3031\n").unwrap();
        let dest = format!("{dir}/d");
        let result = run(&Copy, json!({"src": src, "dest": dest})).await;
        assert_eq!(
            result["msg"],
            format!("A vault password or secret must be specified to decrypt {src}")
        );
        assert!(!Path::new(&dest).exists());
        let result = run(&Copy, json!({"src": dir, "dest": format!("{dir}/t")})).await;
        assert_eq!(result["failed"], true, "{result:?}");
        let result = run(&Copy, json!({"src": src, "dest": dest, "decrypt": false})).await;
        assert_eq!(result["changed"], true, "{result:?}");
    }

    #[tokio::test]
    async fn expected_checksum_and_preserve_for_content() {
        let (_tmp, dir) = nasty_tempdir();
        let dest = format!("{dir}/c");
        let result = run(
            &Copy,
            json!({"dest": dest, "content": "x", "checksum": "0000"}),
        )
        .await;
        assert_eq!(
            result["msg"],
            "Copied file does not match the expected checksum. Transfer failed."
        );
        assert_eq!(result["expected_checksum"], "0000");
        assert!(!std::path::Path::new(&dest).exists());
        let result = run(
            &Copy,
            json!({"dest": dest, "content": "x", "mode": "preserve"}),
        )
        .await;
        assert_eq!(result["mode"], "0600", "{result:?}");
    }

    /// The local connection, counting the stdin bytes it is asked to send.
    #[derive(Default)]
    struct CountingConnection {
        stdin_bytes: std::sync::Mutex<usize>,
    }

    #[async_trait]
    impl crate::connection::Connection for CountingConnection {
        async fn exec(
            &self,
            request: crate::connection::ExecRequest,
        ) -> Result<crate::connection::ExecOutput, ConnError> {
            let streamed = request.stdin_file.as_ref().map_or(0, |path| {
                std::fs::metadata(path).map_or(0, |m| m.len() as usize)
            });
            let sent = request.stdin.as_ref().map_or(0, Vec::len) + streamed;
            if let Ok(mut total) = self.stdin_bytes.lock() {
                *total += sent;
            }
            crate::connection::local::LocalConnection
                .exec(request)
                .await
        }
        async fn close(&self) {}
        fn transport(&self) -> &'static str {
            "local"
        }
    }

    #[tokio::test]
    async fn big_unchanged_files_are_not_resent() {
        let (_tmp, dir) = nasty_tempdir();
        let dest = format!("{dir}/big");
        let data = "x".repeat(BIG_FILE + 1);
        let first = run(
            &Copy,
            json!({"dest": dest, "content": data, "mode": "0600"}),
        )
        .await;
        assert_eq!(first["changed"], true, "{first:?}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), data);
        let second = run(
            &Copy,
            json!({"dest": dest, "content": data, "mode": "0640"}),
        )
        .await;
        assert_eq!(second["changed"], true, "{second:?}");
        assert_eq!(second["mode"], "0640");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), data);
        let counting = CountingConnection::default();
        let third = run_on(
            &counting,
            &Copy,
            json!({"dest": dest, "content": data, "mode": "0640"}),
            Options::default(),
        )
        .await;
        assert_eq!(third["changed"], false, "{third:?}");
        assert_eq!(
            *counting.stdin_bytes.lock().unwrap(),
            0,
            "unchanged content was sent"
        );
        let other = "y".repeat(BIG_FILE + 1);
        let fourth = run(&Copy, json!({"dest": dest, "content": other})).await;
        assert_eq!(fourth["changed"], true);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), other);
    }

    #[tokio::test]
    async fn big_src_files_are_streamed_and_not_resent() {
        let (_tmp, dir) = nasty_tempdir();
        let src = format!("{dir}/source.bin");
        let data: Vec<u8> = (0..3 * BIG_FILE).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let dest = format!("{dir}/dest.bin");
        let counting = CountingConnection::default();
        let args = json!({"src": src, "dest": dest, "mode": "0600"});
        let first = run_on(&counting, &Copy, args.clone(), Options::default()).await;
        assert_eq!(first["changed"], true, "{first:?}");
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(*counting.stdin_bytes.lock().unwrap(), data.len());
        assert_eq!(
            first["checksum"],
            hex::encode(sha1::Sha1::digest(&data)).as_str()
        );
        assert_eq!(
            first["md5sum"],
            hex::encode(md5::Md5::digest(&data)).as_str()
        );
        assert_eq!(first["mode"], "0600");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 2, "a temp file was left behind");
        let again = CountingConnection::default();
        let second = run_on(&again, &Copy, args, Options::default()).await;
        assert_eq!(second["changed"], false, "{second:?}");
        assert_eq!(
            *again.stdin_bytes.lock().unwrap(),
            0,
            "unchanged file was sent"
        );
    }

    #[tokio::test]
    async fn the_transfer_api_puts_bytes_with_copy_semantics() {
        let (_tmp, dir) = nasty_tempdir();
        let dest = format!("{dir}/rendered");
        let mut args = CopyArgs::for_dest(dest.clone());
        args.mode = json!("0640");
        let put = |args: CopyArgs, dest: String| async move {
            let transfer_of = Transfer {
                dest,
                payload: Payload::Bytes(b"hello\n".to_vec()),
                basename: None,
                local_mode: None,
                after_header: "template.j2".into(),
            };
            let templar = crate::template::Templar::new();
            let vars = Map::new();
            let ctx = super::super::remote::testkit::context(
                "localhost",
                &crate::connection::local::LocalConnection,
                &templar,
                &vars,
            );
            transfer(&args, transfer_of, &ctx).await.unwrap()
        };
        let first = put(args.clone(), dest.clone()).await;
        assert_eq!(first["changed"], true, "{first:?}");
        assert_eq!(first["mode"], "0640");
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello\n");
        let second = put(args.clone(), dest.clone()).await;
        assert_eq!(second["changed"], false, "{second:?}");
        let into_dir = put(args, dir.clone()).await;
        assert_eq!(into_dir["msg"], "can not use content with a dir as dest");
    }

    #[test]
    fn dict_content_is_json_dumped_like_python() {
        let value = json!({"a": [1, "é"], "b": {"c": null, "d": true, "e": 1.0}});
        assert_eq!(
            String::from_utf8(content_bytes(&value)).unwrap(),
            r#"{"a": [1, "\u00e9"], "b": {"c": null, "d": true, "e": 1.0}}"#
        );
    }
}
