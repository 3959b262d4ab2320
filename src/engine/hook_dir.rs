//! Dry-run's view of the hook's ConfigMap mount.
//!
//! In the hook pod the playbook and the files beside it (`plan.yml`, `workload.yml`, ...) are
//! mounted at `/tmp/hook/`, and some hooks name them by that absolute path. A dry-run is given
//! the hook directory on the developer's machine instead, so there an absolute `/tmp/hook/X`
//! that does not exist on this machine is read from `HOOK_DIR/X` when that exists. Only
//! reads are redirected: a path that exists nowhere is left as written (so a task that
//! creates a file is never pointed into the hook directory).

use crate::{Map, Value};
use std::path::{Path, PathBuf};

/// The mount point of the hook's ConfigMap in the hook pod.
pub const MOUNT: &str = "/tmp/hook/";

/// Module arguments that name a file the module reads.
const READ_PATH_ARGS: &[&str] = &["file", "src", "dir", "_raw_params"];

/// `path` read from `hook_dir` when it is under [`MOUNT`], missing here, and present there.
pub fn redirect(path: &str, hook_dir: &Path) -> Option<PathBuf> {
    let rest = path.strip_prefix(MOUNT)?;
    if rest.is_empty() || Path::new(path).exists() || hook_dir == Path::new(MOUNT) {
        return None;
    }
    let local = hook_dir.join(rest);
    local.exists().then_some(local)
}

/// [`redirect`] applied to the file-reading arguments of a module call.
pub fn redirect_args(args: &mut Map, hook_dir: &Path) {
    for key in READ_PATH_ARGS {
        if let Some(Value::String(path)) = args.get(*key) {
            if let Some(local) = redirect(path, hook_dir) {
                args.insert(
                    (*key).to_string(),
                    Value::String(local.display().to_string()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_under_the_mount_come_from_the_hook_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plan.yml"), "a: 1\n").unwrap();
        let plan = dir.path().join("plan.yml");
        assert_eq!(
            redirect("/tmp/hook/plan.yml", dir.path()),
            Some(plan.clone())
        );
        // Not under the mount, or nowhere to read it from: left as written.
        assert_eq!(redirect("/etc/hostname", dir.path()), None);
        assert_eq!(redirect("/tmp/hook/missing.yml", dir.path()), None);
        let mut args =
            json!({"file": "/tmp/hook/plan.yml", "name": "plan", "dest": "/tmp/hook/plan.yml"});
        if let Value::Object(m) = &mut args {
            redirect_args(m, dir.path());
        }
        assert_eq!(args["file"], json!(plan.display().to_string()));
        assert_eq!(
            args["dest"],
            json!("/tmp/hook/plan.yml"),
            "writes are not redirected"
        );
    }
}
