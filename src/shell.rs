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
}
