//! Secret redaction for every reporter.
//!
//! The engine censors `no_log` results before it emits them, as Ansible does. That is not
//! enough for a hook: a value read from a Kubernetes Secret (the VM's private key) can reach a
//! message through templating (`msg: "{{ key }}"`, an error that quotes an argument, `-vvv`
//! output). So every reporter passes its text through a [`Redactor`] that knows the secret
//! strings of this run and replaces each occurrence with `********`.
//!
//! What is registered for one secret value:
//! - the value itself, and its JSON-escaped form (a key with newlines appears as `\n` inside
//!   JSON output);
//! - for multi-line values (PEM keys), each line long enough to be specific, so a key printed
//!   partly or re-wrapped is still hidden;
//! - for Secret `data` (base64), both the base64 text and the decoded value
//!   ([`Redactor::add_secret_data`]).
//!
//! A text shortened before it was redacted (the failure summary's `... (truncated)`, a
//! console argument cut to 60 characters) may end in the first characters of a secret; those
//! (3 or more) are masked too where they stand right before the `...` mark.
//!
//! Values shorter than [`MIN_SECRET_LEN`] are not registered: hiding every `no` or `1` in the
//! log would make it unreadable and would itself hint at the secret. Longest strings are
//! replaced first so a secret that contains another is hidden whole.
//!
//! [`global`] is the run-wide instance: the engine adds to it when it reads a Secret, the
//! reporters read it.

use crate::Value;
use base64::Engine as _;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock, RwLock};

/// What a secret is replaced with.
pub const MASK: &str = "********";

/// Shorter values are not redacted (see the module docs).
pub const MIN_SECRET_LEN: usize = 4;

/// Lines of a multi-line secret at least this long are registered on their own.
const MIN_LINE_LEN: usize = 16;

/// A shared, growing set of secret strings. Cloning shares the set.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

/// The redactor of this process: the engine registers secrets here, reporters use it.
pub fn global() -> &'static Redactor {
    static GLOBAL: OnceLock<Redactor> = OnceLock::new();
    GLOBAL.get_or_init(Redactor::default)
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret value (a decoded Secret value, a private key, a password).
    pub fn add_secret(&self, value: &str) {
        let mut candidates = vec![value.to_string()];
        if let Ok(quoted) = serde_json::to_string(value) {
            // The JSON form without its quotes: how the value appears inside JSON text.
            candidates.push(quoted[1..quoted.len() - 1].to_string());
        }
        if value.contains('\n') {
            candidates.extend(
                value
                    .lines()
                    .map(str::trim)
                    .filter(|line| line.len() >= MIN_LINE_LEN)
                    .map(String::from),
            );
        }
        self.insert_all(candidates);
    }

    /// Registers a Secret's `data` value: the base64 text as stored and the decoded value.
    pub fn add_secret_data(&self, base64_value: &str) {
        self.add_secret(base64_value);
        let compact: String = base64_value.split_whitespace().collect();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact) {
            if let Ok(text) = String::from_utf8(bytes) {
                self.add_secret(&text);
            }
        }
    }

    /// Registers every `data` (base64) and `stringData` (plain) value of a Secret object.
    pub fn add_secret_object(&self, secret: &Value) {
        if let Some(data) = secret.get("data").and_then(Value::as_object) {
            for value in data.values().filter_map(Value::as_str) {
                self.add_secret_data(value);
            }
        }
        if let Some(data) = secret.get("stringData").and_then(Value::as_object) {
            for value in data.values().filter_map(Value::as_str) {
                self.add_secret(value);
            }
        }
    }

    /// Registers every Kubernetes Secret found anywhere in `value` (an object with
    /// `kind: Secret`, e.g. in a `k8s_info` result's `resources`), so a Secret read by a task is
    /// hidden from then on even if nothing else registered it.
    pub fn learn_secrets_in(&self, value: &Value) {
        match value {
            Value::Object(map) => {
                if map.get("kind").and_then(Value::as_str) == Some("Secret") {
                    self.add_secret_object(value);
                }
                map.values().for_each(|v| self.learn_secrets_in(v));
            }
            Value::Array(items) => items.iter().for_each(|v| self.learn_secrets_in(v)),
            _ => {}
        }
    }

    fn insert_all(&self, candidates: Vec<String>) {
        let Ok(mut secrets) = self.secrets.write() else {
            return;
        };
        for candidate in candidates {
            if candidate.chars().count() >= MIN_SECRET_LEN && !secrets.contains(&candidate) {
                secrets.push(candidate);
            }
        }
        // Longest first, so a secret containing another one is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// True when no secret is registered (reporters skip the work then).
    pub fn is_empty(&self) -> bool {
        self.secrets.read().map(|s| s.is_empty()).unwrap_or(true)
    }

    /// `text` with every registered secret replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Ok(secrets) = self.secrets.read() else {
            // A poisoned lock means a panic elsewhere: print nothing rather than a secret.
            return Cow::Owned(MASK.to_string());
        };
        let mut out = Cow::Borrowed(text);
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        if out.contains(CUT_MARK) {
            if let Some(masked) = mask_cut_secrets(&out, &secrets) {
                out = Cow::Owned(masked);
            }
        }
        out
    }

    /// A copy of `value` with every string (keys included) redacted.
    pub fn redact_value(&self, value: &Value) -> Value {
        if self.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.redact(s).into_owned()),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k).into_owned(), self.redact_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// What a shortened text ends with where it was cut (the failure summary's `... (truncated)`,
/// the console's shortened arguments).
const CUT_MARK: &str = "...";

/// Shortest start of a secret masked before a [`CUT_MARK`]: shorter ones are too common to
/// tell from ordinary text.
const MIN_CUT_PREFIX: usize = 3;

/// Masks the start of a secret left just before a [`CUT_MARK`] by a text shortened before it
/// was redacted: a failure message cut in the middle of a password keeps only its first
/// characters, which no whole-secret match finds. `None` when there is none.
fn mask_cut_secrets(text: &str, secrets: &[String]) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find(CUT_MARK) {
        let before = &rest[..at];
        match longest_secret_start(before, secrets) {
            Some(len) => {
                out.push_str(&before[..before.len() - len]);
                out.push_str(MASK);
                changed = true;
            }
            None => out.push_str(before),
        }
        out.push_str(CUT_MARK);
        rest = &rest[at + CUT_MARK.len()..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// The length in bytes of the longest proper start of a secret that `text` ends with (at least
/// [`MIN_CUT_PREFIX`] characters).
fn longest_secret_start(text: &str, secrets: &[String]) -> Option<usize> {
    secrets
        .iter()
        .filter_map(|secret| {
            secret
                .char_indices()
                .map(|(i, _)| i)
                .skip(MIN_CUT_PREFIX)
                .filter(|&end| text.ends_with(&secret[..end]))
                .max()
        })
        .max()
}

/// A writer for logs (`tracing`) that redacts every write with the [`global`] redactor before
/// it reaches stderr. The log formatter writes each record with one call, so a secret is never
/// split across writes.
#[derive(Debug, Default, Clone, Copy)]
pub struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(global().redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAAAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIM\n-----END OPENSSH PRIVATE KEY-----\n";

    #[test]
    fn masks_a_registered_value_in_text() {
        let r = Redactor::new();
        r.add_secret("hunter2-password");
        assert_eq!(r.redact("pw is hunter2-password!"), "pw is ********!");
        assert_eq!(r.redact("nothing here"), "nothing here");
    }

    #[test]
    fn masks_a_key_inside_json_and_line_by_line() {
        let r = Redactor::new();
        r.add_secret(KEY);
        let json = serde_json::to_string(&json!({ "content": KEY })).unwrap();
        assert!(!r
            .redact(&json)
            .contains("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"));
        // One line quoted alone, as an error message might.
        let line = "bad line: AAAAAAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIM";
        assert_eq!(r.redact(line), "bad line: ********");
    }

    #[test]
    fn secret_data_masks_base64_and_decoded() {
        let r = Redactor::new();
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t-value");
        r.add_secret_object(&json!({ "data": { "key": b64 } }));
        assert_eq!(r.redact(&format!("a {b64} b")), "a ******** b");
        assert_eq!(r.redact("a s3cr3t-value b"), "a ******** b");
    }

    #[test]
    fn secrets_in_results_are_learned() {
        let r = Redactor::new();
        let b64 = base64::engine::general_purpose::STANDARD.encode("learned-secret");
        let result = json!({"resources": [{"kind": "Secret", "data": {"key": b64}}, {"kind": "ConfigMap", "data": {"x": "not-a-secret-value"}}]});
        r.learn_secrets_in(&result);
        assert_eq!(r.redact("a learned-secret b"), "a ******** b");
        assert_eq!(r.redact("not-a-secret-value"), "not-a-secret-value");
    }

    #[test]
    fn short_values_are_not_registered() {
        let r = Redactor::new();
        r.add_secret("no");
        assert!(r.is_empty());
        assert_eq!(r.redact("no way"), "no way");
    }

    #[test]
    fn longest_secret_wins() {
        let r = Redactor::new();
        r.add_secret("abcd");
        r.add_secret("abcdefgh");
        assert_eq!(r.redact("xabcdefghx"), "x********x");
    }

    #[test]
    fn the_start_of_a_secret_cut_off_by_a_shortened_text_is_masked() {
        let r = Redactor::new();
        r.add_secret("hunter2-Pa55w0rd");
        // A summary cut at its length limit in the middle of the secret.
        assert_eq!(
            r.redact("failed: xxxxhunter2-Pa... (truncated)"),
            "failed: xxxx********... (truncated)"
        );
        assert_eq!(r.redact("arg=hun..."), "arg=********...");
        // Too short to tell, or not a start of the secret: kept.
        assert_eq!(r.redact("hu... and Pa55w0rd..."), "hu... and Pa55w0rd...");
        assert_eq!(r.redact("Loading..."), "Loading...");
        // A whole secret before the mark is masked as usual.
        assert_eq!(r.redact("hunter2-Pa55w0rd..."), "********...");
    }

    #[test]
    fn cut_multibyte_secrets_are_masked_on_char_boundaries() {
        let r = Redactor::new();
        r.add_secret("päss-wörd-ünïcode");
        assert_eq!(r.redact("x päss-wö..."), "x ********...");
    }

    #[test]
    fn redacts_nested_values() {
        let r = Redactor::new();
        r.add_secret("topsecret");
        let v = r.redact_value(&json!({ "a": ["x topsecret y", 1], "topsecret": true }));
        assert_eq!(v, json!({ "a": ["x ******** y", 1], "********": true }));
    }
}
