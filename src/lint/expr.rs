//! What a Jinja template or expression refers to, found without running it: variable paths
//! (`workload.vm.name`, `workload['vm']['name']`, `disks[0].key`), whether each is guarded
//! (`| default(...)`, `| d(...)`, `is defined`, `is undefined`), and the filters, tests and
//! lookups it calls. Syntax errors are left to minijinja's parser (the engine's); this is a
//! tokenizer over the same text, tolerant of anything it does not understand.

/// One step of a variable path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(i64),
}

/// A variable path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub root: String,
    pub path: Vec<Seg>,
    /// `| default`, `is defined` and friends: a missing path is not an error.
    pub guarded: bool,
    /// The path as written in the template (to find it in the file).
    pub text: String,
}

impl Ref {
    /// `root.a.b[0]` (keys in dotted form).
    pub fn dotted(&self) -> String {
        let mut out = self.root.clone();
        for seg in &self.path {
            match seg {
                Seg::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// Everything a template refers to.
#[derive(Debug, Default, Clone)]
pub struct Uses {
    pub refs: Vec<Ref>,
    pub filters: Vec<String>,
    pub tests: Vec<String>,
    pub lookups: Vec<String>,
    /// Lookups of `kubernetes.core.k8s` with `kind='Secret'`.
    pub secret_lookup: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Punct(String),
}

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "elif",
    "endif",
    "for",
    "endfor",
    "set",
    "endset",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "recursive",
    "with",
    "endwith",
    "macro",
    "endmacro",
    "call",
    "endcall",
    "filter",
    "endfilter",
    "block",
    "endblock",
    "extends",
    "include",
    "import",
    "from",
    "as",
    "do",
    "break",
    "continue",
    "autoescape",
    "endautoescape",
    "loop",
    "self",
    "super",
    "varargs",
    "kwargs",
    "caller",
    "ignore",
    "missing",
    "context",
    "without",
];

/// The references of a template string (`{{ }}` and `{% %}` parts; `{# #}` and raw blocks
/// skipped).
pub fn template_uses(text: &str) -> Uses {
    let mut parts: Vec<(usize, &str, bool)> = Vec::new();
    let mut i = 0;
    let bytes = text.as_bytes();
    let mut in_raw = false;
    while i + 1 < bytes.len() {
        // Bytes, not `&str` slices: `i` may fall inside a multi-byte character.
        let close = match &bytes[i..i + 2] {
            b"{{" => "}}",
            b"{%" => "%}",
            b"{#" => "#}",
            _ => {
                i += 1;
                continue;
            }
        };
        let start = i + 2;
        let end = find_close(text, start, close).unwrap_or(text.len());
        let inner = &text[start..end];
        let statement = close == "%}";
        let word = inner
            .trim_start_matches(['-', '+'])
            .split_whitespace()
            .next()
            .unwrap_or("");
        if statement && word == "raw" {
            in_raw = true;
        } else if statement && word == "endraw" {
            in_raw = false;
        } else if close != "#}" && !in_raw {
            parts.push((start, inner, statement));
        }
        i = (end + 2).min(text.len());
    }
    let mut uses = Uses::default();
    let mut locals: Vec<String> = Vec::new();
    let tokenized: Vec<(Vec<Tok>, bool)> = parts
        .iter()
        .map(|(_, inner, statement)| (tokenize(inner.trim_matches(['-', '+'])), *statement))
        .collect();
    for (toks, statement) in &tokenized {
        if *statement {
            collect_locals(toks, &mut locals);
        }
    }
    for (toks, statement) in &tokenized {
        let skip = if *statement { 1 } else { 0 };
        scan(toks, skip, &locals, &mut uses);
    }
    uses
}

/// The references of a bare expression (`when:`, `that:`, `debug: var:`).
pub fn expression_uses(expr: &str) -> Uses {
    let mut uses = Uses::default();
    scan(&tokenize(expr), 0, &[], &mut uses);
    uses
}

fn find_close(text: &str, from: usize, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if bytes[i..].starts_with(close.as_bytes()) => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

fn tokenize(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let s = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push(Tok::Ident(chars[s..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let s = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push(Tok::Num(chars[s..i].iter().collect()));
        } else if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            toks.push(Tok::Str(s));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["==", "!=", "<=", ">=", "//", "**"].contains(&two.as_str()) {
                toks.push(Tok::Punct(two));
                i += 2;
            } else {
                toks.push(Tok::Punct(c.to_string()));
                i += 1;
            }
        }
    }
    toks
}

fn ident(tok: Option<&Tok>) -> Option<&str> {
    match tok {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

fn punct(tok: Option<&Tok>, p: &str) -> bool {
    matches!(tok, Some(Tok::Punct(s)) if s == p)
}

/// Names a statement binds: `for a, b in`, `set x =`, `macro m(a, b=1)`.
fn collect_locals(toks: &[Tok], locals: &mut Vec<String>) {
    match ident(toks.first()) {
        Some("for") => {
            for tok in &toks[1..] {
                match tok {
                    Tok::Ident(s) if s == "in" => break,
                    Tok::Ident(s) => locals.push(s.clone()),
                    _ => {}
                }
            }
        }
        Some("set") | Some("with") => {
            for tok in &toks[1..] {
                match tok {
                    Tok::Punct(p) if p == "=" => break,
                    Tok::Ident(s) => locals.push(s.clone()),
                    _ => {}
                }
            }
        }
        Some("macro") => {
            for (i, tok) in toks.iter().enumerate().skip(1) {
                if let Tok::Ident(s) = tok {
                    if !punct(toks.get(i.wrapping_sub(1)), "=") {
                        locals.push(s.clone());
                    }
                }
            }
        }
        _ => {}
    }
}

fn scan(toks: &[Tok], skip: usize, locals: &[String], uses: &mut Uses) {
    let mut i = skip;
    // In `for x in y` the targets are not references.
    if skip == 1 && matches!(ident(toks.first()), Some("for" | "set" | "macro")) {
        while i < toks.len() && ident(toks.get(i)) != Some("in") && !punct(toks.get(i), "=") {
            i += 1;
        }
    }
    while i < toks.len() {
        let prev = if i > 0 { toks.get(i - 1) } else { None };
        let Tok::Ident(name) = &toks[i] else {
            i += 1;
            continue;
        };
        if punct(prev, "|") {
            let (full, next) = dotted_name(toks, i);
            uses.filters.push(full);
            i = next;
            continue;
        }
        let after_is = ident(prev) == Some("is")
            || (ident(prev) == Some("not") && i >= 2 && ident(toks.get(i - 2)) == Some("is"));
        if after_is && name != "not" {
            let (full, next) = dotted_name(toks, i);
            uses.tests.push(full);
            i = next;
            continue;
        }
        if punct(prev, ".") || KEYWORDS.contains(&name.as_str()) {
            i += 1;
            continue;
        }
        // A keyword argument name: `default(x, boolean=true)`, `lookup(..., kind='Secret')`.
        if punct(toks.get(i + 1), "=") && (punct(prev, "(") || punct(prev, ",")) {
            i += 1;
            continue;
        }
        if punct(toks.get(i + 1), "(") {
            if matches!(name.as_str(), "lookup" | "query" | "q") {
                if let Some(Tok::Str(plugin)) = toks.get(i + 2) {
                    uses.lookups.push(plugin.clone());
                    if plugin.ends_with("k8s") && secret_kind(&toks[i + 2..]) {
                        uses.secret_lookup = true;
                    }
                }
            }
            i += 1;
            continue;
        }
        if locals.iter().any(|l| l == name) {
            i += 1;
            continue;
        }
        let (reference, next) = chain(toks, i);
        uses.refs.push(reference);
        i = next;
    }
}

/// `kind='Secret'` among a call's arguments (up to its closing parenthesis).
fn secret_kind(toks: &[Tok]) -> bool {
    let mut depth = 0;
    for (i, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Punct(p) if p == "(" => depth += 1,
            Tok::Punct(p) if p == ")" => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            Tok::Ident(k)
                if k == "kind"
                    && punct(toks.get(i + 1), "=")
                    && toks.get(i + 2) == Some(&Tok::Str("Secret".into())) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

/// `a.b.c` as one name (filters and tests may be collection-qualified).
fn dotted_name(toks: &[Tok], mut i: usize) -> (String, usize) {
    let mut name = ident(toks.get(i)).unwrap_or_default().to_string();
    i += 1;
    while punct(toks.get(i), ".") {
        let Some(part) = ident(toks.get(i + 1)) else {
            break;
        };
        name.push('.');
        name.push_str(part);
        i += 2;
    }
    (name, i)
}

/// A variable path starting at `toks[i]`, and whether what follows guards it.
fn chain(toks: &[Tok], start: usize) -> (Ref, usize) {
    let root = ident(toks.get(start)).unwrap_or_default().to_string();
    let mut text = root.clone();
    let mut path = Vec::new();
    let mut i = start + 1;
    loop {
        if punct(toks.get(i), ".") {
            match toks.get(i + 1) {
                Some(Tok::Ident(k)) if !punct(toks.get(i + 2), "(") => {
                    text.push('.');
                    text.push_str(k);
                    path.push(Seg::Key(k.clone()));
                    i += 2;
                }
                Some(Tok::Num(n)) => {
                    text.push('.');
                    text.push_str(n);
                    path.push(n.parse().map(Seg::Index).unwrap_or(Seg::Key(n.clone())));
                    i += 2;
                }
                _ => break,
            }
        } else if punct(toks.get(i), "[") && punct(toks.get(i + 2), "]") {
            match toks.get(i + 1) {
                Some(Tok::Str(k)) => {
                    text.push_str(&format!("['{k}']"));
                    path.push(Seg::Key(k.clone()));
                }
                Some(Tok::Num(n)) => match n.parse() {
                    Ok(idx) => {
                        text.push_str(&format!("[{n}]"));
                        path.push(Seg::Index(idx));
                    }
                    Err(_) => break,
                },
                _ => break,
            }
            i += 3;
        } else {
            break;
        }
    }
    let guarded = (punct(toks.get(i), "|")
        && matches!(ident(toks.get(i + 1)), Some("default" | "d")))
        || (ident(toks.get(i)) == Some("is")
            && (matches!(ident(toks.get(i + 1)), Some("defined" | "undefined"))
                || (ident(toks.get(i + 1)) == Some("not")
                    && matches!(ident(toks.get(i + 2)), Some("defined" | "undefined")))));
    (
        Ref {
            root,
            path,
            guarded,
            text,
        },
        i,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dotted(uses: &Uses) -> Vec<(String, bool)> {
        uses.refs.iter().map(|r| (r.dotted(), r.guarded)).collect()
    }

    #[test]
    fn paths_through_attributes_subscripts_and_guards() {
        let u = template_uses(
            "{{ workload.vm.name }} {{ workload['vm']['ipaddress'] | default('none') }} \
             {% if plan.x is defined %}{{ disks[0].key }}{% endif %}",
        );
        assert_eq!(
            dotted(&u),
            [
                ("workload.vm.name".into(), false),
                ("workload.vm.ipaddress".into(), true),
                ("plan.x".into(), true),
                ("disks[0].key".into(), false),
            ]
        );
        assert_eq!(u.filters, ["default"]);
        assert_eq!(u.tests, ["defined"]);
    }

    #[test]
    fn methods_locals_keywords_and_lookups_are_not_variables() {
        let u = template_uses(
            "{% for d in vm.disks %}{{ d.file.split('/') | last }}{% endfor %}\
             {{ lookup('kubernetes.core.k8s', kind='Secret', resource_name=name)['data'] | b64decode }}\
             {{ x is not none and true }}",
        );
        assert_eq!(
            dotted(&u),
            [
                ("vm.disks".into(), false),
                ("name".into(), false),
                ("x".into(), false)
            ]
        );
        assert_eq!(u.lookups, ["kubernetes.core.k8s"]);
        assert!(u.secret_lookup);
        assert_eq!(u.filters, ["last", "b64decode"]);
        assert_eq!(u.tests, ["none"]);
    }

    #[test]
    fn any_text_is_scanned_without_panicking() {
        let u = template_uses("é{{ vé.ü }}€{% if ö %}ß{% endif %}{{ 'ç' }}{{");
        assert_eq!(dotted(&u), [("vé.ü".into(), false), ("ö".into(), false)]);
        for text in [
            "{{", "{%", "{#", "{{ '", "{{ a[", "{{ a.", "{{ a | ", "{{ x is", "}}{{}}",
        ] {
            template_uses(text);
            expression_uses(text);
        }
    }

    #[test]
    fn strings_comments_and_raw_blocks_are_skipped() {
        let u = template_uses("{# {{ a }} #}{% raw %}{{ b }}{% endraw %}{{ 'c }}' ~ d }}");
        assert_eq!(dotted(&u), [("d".into(), false)]);
        let e = expression_uses("result.rc != 0 and item is defined");
        assert_eq!(
            dotted(&e),
            [("result.rc".into(), false), ("item".into(), true)]
        );
    }
}
