//! The one place where values become POSIX shell words, and command lines become words.
//!
//! Every path, name and argument that reaches a remote command line goes through [`quote`]:
//! nothing user-supplied is ever spliced into a script unquoted. Single quotes make every byte
//! literal to `sh`; an embedded `'` is closed, escaped and reopened.
//!
//! Splitting goes the other way, with one scanner and two dialects: [`posix_words`] reads words
//! as `sh` does (inventory ssh arguments), [`shlex_words`] as Python's `shlex.split` does
//! (module command lines: `command`, copy's `validate`, service `arguments`), because that is
//! what Ansible uses there. Neither expands anything.

/// Quotes `s` as one shell word, literal to a POSIX `sh` whatever it contains.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./=:@%+,".contains(&b))
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Quotes each word and joins them with spaces.
pub fn join<I: IntoIterator<Item = S>, S: AsRef<str>>(words: I) -> String {
    words
        .into_iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A path as the right-hand side of a shell assignment (`p=WORD`), with `~`, `~user` and
/// `$VAR`/`${VAR}` expanded by the target's shell, as Ansible expands `path` parameters on the
/// target. Everything else is quoted. Only *exported* variables are expanded (`printenv`), as
/// Python's `expandvars` reads `os.environ`: the script's own shell variables (`IFS`, `OPTIND`,
/// its locals) never leak into a path, and an unset variable stays literal, as written. Only valid
/// in assignment context (no field splitting or globbing happens there).
pub fn path_word(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    if let Some(after) = path.strip_prefix('~') {
        let (user, tail) = match after.find('/') {
            Some(i) => (&after[..i], Some(&after[i + 1..])),
            None => (after, None),
        };
        if user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            out.push('~');
            out.push_str(user);
            rest = match tail {
                Some(t) => {
                    out.push('/');
                    t
                }
                None => "",
            };
        }
    }
    let mut literal = String::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '$' {
            if let Some((name, len)) = var_reference(&rest[i + 1..]) {
                if !literal.is_empty() {
                    out.push_str(&quote(&literal));
                    literal.clear();
                }
                let written = &rest[i..i + 1 + len];
                out.push_str(&format!(
                    "\"$(printenv {name} || printf %s {})\"",
                    quote(written)
                ));
                for _ in 0..len {
                    chars.next();
                }
                continue;
            }
        }
        literal.push(c);
    }
    if !literal.is_empty() || out.is_empty() {
        out.push_str(&quote(&literal));
    }
    out
}

/// `NAME` or `{NAME}` at the start of `s`: the name and how many bytes it spans.
fn var_reference(s: &str) -> Option<(&str, usize)> {
    let is_start = |b: u8| b.is_ascii_alphabetic() || b == b'_';
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if let Some(inner) = s.strip_prefix('{') {
        let end = inner.find('}')?;
        let name = &inner[..end];
        let ok = name.bytes().next().is_some_and(is_start) && name.bytes().all(is_name);
        return ok.then_some((name, end + 2));
    }
    let len = s.bytes().take_while(|b| is_name(*b)).count();
    (len > 0 && is_start(s.as_bytes()[0])).then(|| (&s[..len], len))
}

/// How a command line is read into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// A POSIX shell: in double quotes `\` escapes `"`, `\`, `$`, `` ` `` and a newline (a
    /// line continuation); outside quotes a backslash-newline disappears.
    Posix,
    /// Python's `shlex.split` in POSIX mode without comments: in double quotes `\` escapes
    /// only `"` and `\`; outside quotes a backslash escapes any character, a newline too.
    Shlex,
}

impl Dialect {
    fn unterminated(self, quote: char, text: &str) -> String {
        match (self, quote) {
            (Dialect::Posix, '\'') => format!("unterminated single quote in {text:?}"),
            (Dialect::Posix, _) => format!("unterminated double quote in {text:?}"),
            (Dialect::Shlex, _) => "No closing quotation".to_string(),
        }
    }

    /// What `\c` inside double quotes gives, `None` for a removed line continuation.
    fn escape_in_double_quotes(self, c: char) -> Option<String> {
        match (self, c) {
            (Dialect::Posix, '\n') => None,
            (Dialect::Posix, '"' | '\\' | '$' | '`') | (Dialect::Shlex, '"' | '\\') => {
                Some(c.to_string())
            }
            _ => Some(format!("\\{c}")),
        }
    }
}

/// Splits `text` into words as a POSIX shell reads them (quotes and backslashes; no expansion).
pub fn posix_words(text: &str) -> Result<Vec<String>, String> {
    split(text, Dialect::Posix)
}

/// Splits a command line as Python's `shlex.split` (POSIX mode, no comments) does, with its
/// error messages (`No closing quotation`, `No escaped character`).
pub fn shlex_words(text: &str) -> Result<Vec<String>, String> {
    split(text, Dialect::Shlex)
}

fn split(text: &str, dialect: Dialect) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(dialect.unterminated('\'', text)),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => {
                                if let Some(kept) = dialect.escape_in_double_quotes(c) {
                                    word.push_str(&kept);
                                }
                            }
                            None => return Err(dialect.unterminated('"', text)),
                        },
                        Some(c) => word.push(c),
                        None => return Err(dialect.unterminated('"', text)),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match (dialect, chars.next()) {
                    (Dialect::Posix, Some('\n') | None) => {}
                    (Dialect::Shlex, None) => return Err("No escaped character".into()),
                    (_, Some(c)) => word.push(c),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One table for both dialects: (input, POSIX shell words, shlex words).
    #[allow(clippy::type_complexity)]
    const SPLITS: &[(&str, Result<&[&str], &str>, Result<&[&str], &str>)] = &[
        (
            r#"a 'b c' "d \"e\"" f\ g"#,
            Ok(&["a", "b c", "d \"e\"", "f g"]),
            Ok(&["a", "b c", "d \"e\"", "f g"]),
        ),
        ("  a   b ", Ok(&["a", "b"]), Ok(&["a", "b"])),
        ("  ", Ok(&[]), Ok(&[])),
        ("a ''", Ok(&["a", ""]), Ok(&["a", ""])),
        (r#""a\nb""#, Ok(&["a\\nb"]), Ok(&["a\\nb"])),
        (
            r#""\$HOME \`x\`""#,
            Ok(&["$HOME `x`"]),
            Ok(&["\\$HOME \\`x\\`"]),
        ),
        ("a\\\nb", Ok(&["ab"]), Ok(&["a\nb"])),
        ("x\\", Ok(&["x"]), Err("No escaped character")),
        (
            "echo 'x",
            Err("unterminated single quote in \"echo 'x\""),
            Err("No closing quotation"),
        ),
        (
            "echo \"x",
            Err("unterminated double quote in \"echo \\\"x\""),
            Err("No closing quotation"),
        ),
    ];

    #[test]
    fn both_dialects_split_as_their_reference_does() {
        let owned = |r: Result<&[&str], &str>| {
            r.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .map_err(str::to_string)
        };
        for (input, posix, shlex) in SPLITS {
            assert_eq!(posix_words(input), owned(*posix), "sh: {input:?}");
            assert_eq!(shlex_words(input), owned(*shlex), "shlex: {input:?}");
        }
    }

    #[test]
    fn plain_words_stay_plain() {
        assert_eq!(quote("/etc/hosts"), "/etc/hosts");
    }

    #[test]
    fn metacharacters_are_quoted() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("$(rm -rf /);x"), "'$(rm -rf /);x'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a\nb"), "'a\nb'");
    }

    #[test]
    fn path_words_expand_home_and_variables_only() {
        assert_eq!(path_word("~/.ssh"), "~/.ssh");
        assert_eq!(path_word("~"), "~");
        assert_eq!(path_word("~/a b"), "~/'a b'");
        assert_eq!(path_word("~bob/x"), "~bob/x");
        assert_eq!(
            path_word("/tmp/$HOME/x"),
            "/tmp/\"$(printenv HOME || printf %s '$HOME')\"/x"
        );
        assert_eq!(path_word("${X}y"), "\"$(printenv X || printf %s '${X}')\"y");
        assert_eq!(path_word("/a/$(rm -rf /)"), "'/a/$(rm -rf /)'");
        assert_eq!(path_word("/a/~b"), "'/a/~b'");
        assert_eq!(path_word("~a'b/x"), "'~a'\\''b/x'");
        assert_eq!(path_word(""), "''");
    }

    #[test]
    fn path_words_evaluate_as_data_in_sh() {
        let cases = [
            "/tmp/a b",
            "/x/$(echo hi);y",
            "/q/'\"`",
            "/n/a\nb",
            "~/k",
            "$HOME/z",
        ];
        for case in cases {
            let script = format!("HOME=/h; p={}; printf %s \"$p\"", path_word(case));
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            let expected = case.replace('~', "/h").replace("$HOME", "/h");
            assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{script}");
        }
    }
}
