//! The pinned ansible-core sdist: where its integration targets are, fetching it when absent.
//!
//! The sdist is GPL-3.0: it is fetched at test time into the git-ignored `.lab-cache/` and
//! nothing of it is committed. `scripts/test.sh` fetches it before the suite
//! (`fetch_ansible_sdist`) and exports `HOOK_RUNNER_ANSIBLE_SDIST`; run alone, this test fetches it
//! the same way (`pip download --no-deps --no-binary :all:`, then unpacks the tarball).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

pub const VERSION: &str = "2.18.19";

/// `<repo>/.lab-cache/ansible-core-<VERSION>`, or `$HOOK_RUNNER_ANSIBLE_SDIST`.
pub fn root() -> PathBuf {
    std::env::var_os("HOOK_RUNNER_ANSIBLE_SDIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(".lab-cache")
                .join(format!("ansible-core-{VERSION}"))
        })
}

/// The `test/integration/targets` directory of an unpacked sdist.
pub fn targets_dir(root: &Path) -> PathBuf {
    root.join("test/integration/targets")
}

/// Makes sure the sdist is unpacked at `root`, fetching it with pip when it is not.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let targets = targets_dir(root);
    if targets.is_dir() {
        return Ok(targets);
    }
    // Beside the final dir, named as scripts/test.sh names them (`with_extension` would eat
    // the version's last component).
    let sibling = |suffix: &str| PathBuf::from(format!("{}.{suffix}", root.display()));
    let download = sibling("download");
    std::fs::create_dir_all(&download)?;
    let pip = if which("pip3") { "pip3" } else { "pip" };
    let status = Command::new(pip)
        .args(["download", "--no-deps", "--no-binary", ":all:", "--quiet"])
        .arg(format!("ansible-core=={VERSION}"))
        .arg("-d")
        .arg(&download)
        .status()
        .with_context(|| format!("running {pip} download"))?;
    if !status.success() {
        bail!("`{pip} download ansible-core=={VERSION}` failed ({status})");
    }
    let tarball = download.join(format!("ansible_core-{VERSION}.tar.gz"));
    // Unpack next to the final place, then rename: a half-unpacked tree is never mistaken for a
    // complete one.
    let partial = sibling("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)?;
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&partial)
        .arg("--strip-components=1")
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("unpacking {} failed ({status})", tarball.display());
    }
    std::fs::rename(&partial, root)
        .with_context(|| format!("moving the unpacked sdist to {}", root.display()))?;
    if !targets.is_dir() {
        bail!("{} has no test/integration/targets", root.display());
    }
    Ok(targets)
}

fn which(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
