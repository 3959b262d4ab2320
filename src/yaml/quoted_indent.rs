//! PyYAML leniency for under-indented continuation lines of quoted scalars.
//!
//! PyYAML (so Ansible) loads a multi-line double- or single-quoted scalar whose continuation lines
//! are indented only as far as their key, or less:
//!
//! ```yaml
//! msg: "first part
//! second part"
//! ```
//!
//! gives `"first part second part"`. saphyr-parser follows YAML 1.2 strictly and fails with
//! "invalid indentation in quoted scalar", marking the opening quote. Leading white space of a
//! quoted scalar's continuation lines is folded away, so indenting those lines further does not
//! change the value: [`reindent_quoted_scalar`] does that for the scalar the error points at, and
//! the loader retries. Line numbers stay exact; only columns inside the scalar's continuation
//! lines move, and no node starts there.
//!
//! Lines are counted as saphyr-parser counts them (its error marks are in its lines): `\n`,
//! `\r\n` and a lone `\r` each end a line. A continuation line after a lone `\r` must be
//! re-indented too, or the repaired scalar fails again at the same place.

/// The part of saphyr-parser's message that this leniency repairs.
pub(super) const QUOTED_INDENT_ERROR: &str = "invalid indentation in quoted scalar";

/// `source` with every continuation line of the quoted scalar that opens at 1-based `line`/`col`
/// indented one column deeper than that opening quote. `None` when no quoted scalar opens there or
/// it does not end (then the original error stands).
pub(super) fn reindent_quoted_scalar(source: &str, line: usize, col: usize) -> Option<String> {
    let line_start = nth_line_start(source, line)?;
    let quote_at = line_start + char_offset_to_byte(&source[line_start..], col.checked_sub(1)?)?;
    let quote = source[quote_at..].chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let end = closing_quote(source, quote_at + 1, quote)?;
    let pad = " ".repeat(col);
    let mut fixed = String::with_capacity(source.len() + pad.len() * 4);
    fixed.push_str(&source[..quote_at]);
    let mut rest = &source[quote_at..end];
    while let Some(break_end) = next_line_start(rest) {
        fixed.push_str(&rest[..break_end]);
        fixed.push_str(&pad);
        rest = &rest[break_end..];
    }
    fixed.push_str(rest);
    fixed.push_str(&source[end..]);
    Some(fixed)
}

/// Byte offset where 1-based line `line` starts (lines as saphyr-parser counts them).
fn nth_line_start(source: &str, line: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0;
    for _ in 1..line {
        start += next_line_start(&source[start..])?;
    }
    Some(start)
}

/// Byte offset just after the first line break of `text` (`\n`, `\r\n` or a lone `\r`).
fn next_line_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let at = bytes.iter().position(|&b| b == b'\n' || b == b'\r')?;
    if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') {
        Some(at + 2)
    } else {
        Some(at + 1)
    }
}

/// Byte offset of the `chars`-th character of `text` (columns count characters).
fn char_offset_to_byte(text: &str, chars: usize) -> Option<usize> {
    text.char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .nth(chars)
}

/// Byte offset of the quote that closes a scalar whose content starts at `from`.
/// Double quotes know backslash escapes; single quotes escape themselves by doubling.
fn closing_quote(source: &str, from: usize, quote: char) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            ('"', b'\\') => i += 2,
            ('"', b'"') => return Some(i),
            ('\'', b'\'') if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            ('\'', b'\'') => return Some(i),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_move_right_and_lines_stay() {
        let src = "a:\n  msg: \"one\n  two\n\n  three\"\nb: 1\n";
        let fixed = reindent_quoted_scalar(src, 2, 8).unwrap_or_default();
        assert_eq!(
            fixed,
            "a:\n  msg: \"one\n          two\n        \n          three\"\nb: 1\n"
        );
    }

    #[test]
    fn escapes_do_not_end_the_scalar() {
        let src = "m: \"a \\\" b\nc\"\n";
        let fixed = reindent_quoted_scalar(src, 1, 4).unwrap_or_default();
        assert_eq!(fixed, "m: \"a \\\" b\n    c\"\n");
        let src = "m: 'it''s\nx'\n";
        let fixed = reindent_quoted_scalar(src, 1, 4).unwrap_or_default();
        assert_eq!(fixed, "m: 'it''s\n    x'\n");
    }

    #[test]
    fn every_line_break_saphyr_knows_starts_a_continuation_line() {
        // Lone CR, CRLF and LF all end a line, for the line count and for the padding.
        let src = "x: 1\ra:\r\n  m: \"one\rtwo\r\nthree\nfour\"\n";
        let fixed = reindent_quoted_scalar(src, 3, 6).unwrap_or_default();
        assert_eq!(
            fixed,
            "x: 1\ra:\r\n  m: \"one\r      two\r\n      three\n      four\"\n"
        );
    }

    #[test]
    fn no_quote_or_no_end_gives_none() {
        assert_eq!(reindent_quoted_scalar("m: x\n", 1, 4), None);
        assert_eq!(reindent_quoted_scalar("m: \"x\n", 1, 4), None);
        assert_eq!(reindent_quoted_scalar("m: x\n", 9, 1), None);
    }
}
