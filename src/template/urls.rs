//! Ansible's URL filters and tests (ansible-core `plugins/filter/urls.py`, `urlsplit.py`,
//! `plugins/test/uri.py`), with Python's `urllib.parse` splitting rules:
//!
//! - `urldecode`: `%XX` decoded (UTF-8), `+` is a space (`unquote_plus`).
//! - `urlsplit(query='')`: the dict `scheme`, `netloc`, `path`, `query`, `fragment`, `username`,
//!   `password`, `hostname`, `port` (absent parts are `None`; the port is an integer), or one of
//!   them; another name fails with `urlsplit: unknown URL component: NAME`.
//! - `uri(schemes=None)`: Python's `urlparse` accepts almost any text, so only a scheme outside
//!   `schemes` makes it false; `url(schemes=None)`: a `uri` with a network location (or the
//!   `file` scheme); `urn`: a `uri` whose scheme is `urn`.

use minijinja::value::Value;
use minijinja::{Environment, Error};

/// Adds the filters and tests to `env`.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("urldecode", |s: String| urldecode(&s));
    env.add_filter("ansible.builtin.urldecode", |s: String| urldecode(&s));
    env.add_filter("urlsplit", urlsplit_filter);
    env.add_filter("ansible.builtin.urlsplit", urlsplit_filter);
    for prefix in ["", "ansible.builtin."] {
        env.add_test(
            format!("{prefix}uri"),
            |v: String, schemes: Option<Vec<String>>| is_uri(&v, schemes.as_deref()),
        );
        env.add_test(
            format!("{prefix}url"),
            |v: String, schemes: Option<Vec<String>>| is_url(&v, schemes.as_deref()),
        );
        env.add_test(format!("{prefix}urn"), |v: String| {
            is_uri(&v, Some(&["urn".to_string()]))
        });
    }
}

/// `unquote_plus`: `+` is a space, `%XX` a byte; invalid escapes stay as written.
pub fn urldecode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The parts of a URL as Python's `urlsplit` gives them.
#[derive(Debug, Default, PartialEq)]
pub struct Parts {
    pub scheme: String,
    pub netloc: String,
    pub path: String,
    pub query: String,
    pub fragment: String,
}

/// Python's `urlsplit`: `scheme:` when the prefix is a valid scheme, `//netloc`, then path,
/// `?query`, `#fragment`.
pub fn split(url: &str) -> Parts {
    let mut rest = url;
    let mut parts = Parts::default();
    if let Some(colon) = rest.find(':') {
        let candidate = &rest[..colon];
        let valid = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if valid {
            parts.scheme = candidate.to_ascii_lowercase();
            rest = &rest[colon + 1..];
        }
    }
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        parts.netloc = after[..end].to_string();
        rest = &after[end..];
    }
    if let Some(hash) = rest.find('#') {
        parts.fragment = rest[hash + 1..].to_string();
        rest = &rest[..hash];
    }
    if let Some(q) = rest.find('?') {
        parts.query = rest[q + 1..].to_string();
        rest = &rest[..q];
    }
    parts.path = rest.to_string();
    parts
}

fn is_uri(value: &str, schemes: Option<&[String]>) -> bool {
    let parts = split(value);
    schemes.is_none_or(|s| s.contains(&parts.scheme))
}

fn is_url(value: &str, schemes: Option<&[String]>) -> bool {
    if !is_uri(value, schemes) {
        return false;
    }
    let parts = split(value);
    !parts.netloc.is_empty() || parts.scheme == "file"
}

fn urlsplit_filter(url: String, query: Option<String>) -> Result<Value, Error> {
    let parts = split(&url);
    let (userinfo, hostport) = match parts.netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, parts.netloc.as_str()),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((name, pass)) => (Value::from(name), Value::from(pass)),
            None => (Value::from(u), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((h, rest)) => (h.to_string(), rest.strip_prefix(':').unwrap_or("")),
            None => (bracketed.to_string(), ""),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p),
            None => (hostport.to_string(), ""),
        }
    };
    let hostname = if host.is_empty() {
        Value::from(())
    } else {
        Value::from(host.to_ascii_lowercase())
    };
    let port = match port.parse::<u16>() {
        Ok(p) => Value::from(p),
        Err(_) if port.is_empty() => Value::from(()),
        Err(_) => {
            return Err(super::verbatim_error(format!(
                "Port could not be cast to integer value as '{port}'"
            )))
        }
    };
    let all = [
        ("fragment", Value::from(parts.fragment)),
        ("hostname", hostname),
        ("netloc", Value::from(parts.netloc)),
        ("password", password),
        ("path", Value::from(parts.path)),
        ("port", port),
        ("query", Value::from(parts.query)),
        ("scheme", Value::from(parts.scheme)),
        ("username", username),
    ];
    match query.as_deref().filter(|q| !q.is_empty()) {
        None => {
            let mut map = crate::Map::new();
            for (k, v) in all {
                map.insert(k.to_string(), super::context::to_json(&v)?);
            }
            Ok(super::context::from_json(&crate::Value::Object(map)))
        }
        Some(q) => all
            .into_iter()
            .find(|(k, _)| *k == q)
            .map(|(_, v)| v)
            .ok_or_else(|| super::verbatim_error(format!("urlsplit: unknown URL component: {q}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urldecode_is_unquote_plus() {
        assert_eq!(
            urldecode("key%3D%22%40%7B%7D%C3%A9%26%25%C2%A3%20foo+bar%2"),
            "key=\"@{}é&%£ foo bar%2"
        );
        // A multi-byte character after `%` is kept as written.
        assert_eq!(urldecode("%é%zz"), "%é%zz");
    }

    #[test]
    fn urls_split_as_python_does() {
        let p = split("http://mary:MySecret@www.acme.com:9000/dir/index.html?query=term#fragment");
        assert_eq!(p.scheme, "http");
        assert_eq!(p.netloc, "mary:MySecret@www.acme.com:9000");
        assert_eq!(p.path, "/dir/index.html");
        assert_eq!(p.query, "query=term");
        assert_eq!(p.fragment, "fragment");
        let p = split("urn:isbn:9780307476463");
        assert_eq!((p.scheme.as_str(), p.netloc.as_str()), ("urn", ""));
        assert_eq!(split("asldkfjhalsidfthjo").scheme, "");
    }

    #[test]
    fn uri_url_and_urn_follow_ansible() {
        let special: Vec<String> = ["http", "https", "file"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(is_uri("asldkfjhalsidfthjo", None));
        assert!(!is_uri("asldkfjhalsidfthjo", Some(&special)));
        assert!(is_url("ftp:// searchengine.tld", None));
        assert!(is_url("file://etc/hosts", None));
        assert!(!is_url("htp://searchengine.tld", Some(&special)));
        assert!(!is_url("admin:secret@example.com", None));
        assert!(!is_url("urn:isbn:9780307476463", None));
        assert!(is_uri("urn:isbn:9780307476463", Some(&["urn".to_string()])));
    }

    #[test]
    fn urlsplit_gives_the_dict_or_one_part() {
        let url = "http://mary:MySecret@www.acme.com:9000/dir/index.html?query=term#fragment";
        assert_eq!(
            urlsplit_filter(url.into(), Some("port".into())).unwrap(),
            Value::from(9000)
        );
        assert_eq!(
            urlsplit_filter(url.into(), Some("hostname".into())).unwrap(),
            Value::from("www.acme.com")
        );
        let all = urlsplit_filter(url.into(), None).unwrap();
        assert_eq!(all.get_attr("password").unwrap(), Value::from("MySecret"));
        let err = urlsplit_filter(url.into(), Some("bad_filter".into())).unwrap_err();
        assert!(err.to_string().contains("unknown URL component"), "{err}");
        assert_eq!(
            urlsplit_filter("http://[::1]:80/".into(), Some("hostname".into())).unwrap(),
            Value::from("::1")
        );
        assert!(urlsplit_filter("/just/a/path".into(), Some("port".into()))
            .unwrap()
            .is_none());
        let upper = urlsplit_filter("HTTPS://User:Pw@WWW.Example.com:8443/a".into(), None).unwrap();
        assert_eq!(upper.get_attr("scheme").unwrap(), Value::from("https"));
        assert_eq!(
            upper.get_attr("hostname").unwrap(),
            Value::from("www.example.com")
        );
        assert_eq!(upper.get_attr("username").unwrap(), Value::from("User"));
    }
}
