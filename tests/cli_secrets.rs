//! Not one byte of a Secret in any output: the bundled example's dry-run reads a private key
//! given with `--secret`, prints results at every verbosity and in JSON, and the key (raw,
//! line by line, or base64 as the Secret holds it) must appear nowhere.

use base64::Engine as _;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hook-runner");

/// Looks like an OpenSSH key; the content is random text, not a key.
const FAKE_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDxq8ZC2nD4xQ7pJmVw3rYtH8sKfLb9uEaR1cN0oTvXgAAAAJDm3fTZ5t30
2QAAAAtzc2gtZWQyNTUxOQAAACDxq8ZC2nD4xQ7pJmVw3rYtH8sKfLb9uEaR1cN0oTvXgA
-----END OPENSSH PRIVATE KEY-----
";

fn example_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks/example"))
}

/// Every specific piece of the key that must never be printed.
fn forbidden() -> Vec<String> {
    let mut pieces: Vec<String> = FAKE_KEY
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(String::from)
        .collect();
    pieces.push(base64::engine::general_purpose::STANDARD.encode(FAKE_KEY));
    pieces
}

fn assert_clean(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_rsa");
    std::fs::write(&key, FAKE_KEY).unwrap();
    let secret = format!("konveyor-forklift/privkey={}", key.display());
    let out = Command::new(BIN)
        .arg("dry-run")
        .arg(example_dir())
        .args(["--secret", &secret])
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for piece in forbidden() {
        assert!(
            !stdout.contains(&piece),
            "stdout shows {piece:?}:\n{stdout}"
        );
        assert!(
            !stderr.contains(&piece),
            "stderr shows {piece:?}:\n{stderr}"
        );
    }
}

#[test]
fn the_key_is_never_printed_in_human_output_at_any_verbosity() {
    assert_clean(&[]);
    assert_clean(&["-v"]);
    assert_clean(&["-vvvv"]);
}

#[test]
fn the_key_is_never_printed_in_json_output() {
    assert_clean(&["--log-format", "json", "-vvv"]);
}
