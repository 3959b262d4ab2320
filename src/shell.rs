//! The one place where values become POSIX shell words.
//!
//! Every path, name and argument that reaches a remote command line goes through [`quote`]:
//! nothing user-supplied is ever spliced into a script unquoted. Single quotes make every byte
//! literal to `sh`; an embedded `'` is closed, escaped and reopened.

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

#[cfg(test)]
mod tests {
    use super::*;

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
