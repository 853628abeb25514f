//! Connection strings: libpq URIs and keyword strings parsed the way libpq parses them, changed
//! (another database, a connect timeout) without disturbing the rest, and shown with every
//! password masked.

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use super::MAINTENANCE_DB;
use super::database::validate_db_name;

const PROBE_CONNECT_TIMEOUT_SECS: &str = "3";

/// The same server with another database name: used by tests to create
/// per-test databases. Works for URIs (TCP or `?host=/socket/dir`) and for
/// keyword strings; a `dbname` query parameter (which would override the path)
/// is replaced as well.
pub fn with_database(url: &str, db_name: &str) -> Result<String> {
    validate_db_name(db_name)?;
    let mut conn = ConnStr::parse(url).with_context(|| format!("parsing {}", masked(url)))?;
    conn.set_database(db_name);
    Ok(conn.to_string())
}

/// The maintenance URL (database `postgres`) of the same server.
pub fn maintenance_url(url: &str) -> Result<String> {
    with_database(url, MAINTENANCE_DB)
}

/// The URL with every password replaced by `***`, for logs and errors.
/// A string that cannot be parsed is hidden entirely.
pub fn masked(url: &str) -> String {
    match ConnStr::parse(url) {
        Ok(mut conn) => {
            conn.mask_passwords();
            conn.to_string()
        }
        Err(_) => "<unparseable connection string>".to_owned(),
    }
}

/// The database a connection string names (`None`: libpq's default, the user's name).
pub fn database_of(url: &str) -> Result<Option<String>> {
    ConnStr::parse(url)
        .with_context(|| format!("parsing {}", masked(url)))?
        .database()
}

/// `url` with `connect_timeout=<secs>` unless it already sets a connect timeout.
pub fn with_connect_timeout(url: &str, secs: u32) -> Result<String> {
    let mut conn = ConnStr::parse(url).with_context(|| format!("parsing {}", masked(url)))?;
    if conn.get("connect_timeout").is_none() {
        conn.set("connect_timeout", &secs.to_string());
    }
    Ok(conn.to_string())
}

/// `url` with `connect_timeout=3` unless it already sets a connect timeout.
pub(super) fn probe_url(url: &str) -> Result<String> {
    let mut conn = ConnStr::parse(url).with_context(|| format!("parsing {}", masked(url)))?;
    if conn.get("connect_timeout").is_none() {
        conn.set("connect_timeout", PROBE_CONNECT_TIMEOUT_SECS);
    }
    Ok(conn.to_string())
}

pub(super) fn socket_url(user: Option<&str>, dir: &Path, port: u16, db: &str) -> String {
    let user = user.map(|u| format!("{}@", encode(u, "")));
    format!(
        "postgres://{}/{db}?host={}&port={port}",
        user.unwrap_or_default(),
        encode(&dir.to_string_lossy(), "/")
    )
}

pub(super) fn tcp_url(user: Option<&str>, host: &str, port: u16, db: &str) -> String {
    let user = user.map(|u| format!("{}@", encode(u, "")));
    format!("postgres://{}{host}:{port}/{db}", user.unwrap_or_default())
}

/// Percent-encodes everything except unreserved characters and `keep`.
fn encode(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let c = char::from(b);
        if b.is_ascii_alphanumeric() || "-._~".contains(c) || (b.is_ascii() && keep.contains(c)) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("invalid percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("percent-encoded text is not UTF-8")
}

/// Replaces the passwords of `url` wherever they appear in `text`.
pub(super) fn redact(text: &str, url: &str) -> String {
    let Ok(conn) = ConnStr::parse(url) else {
        return text.to_owned();
    };
    let mut text = text.to_owned();
    for password in conn.passwords() {
        if !password.is_empty() {
            text = text.replace(&password, "***");
        }
    }
    text
}

/// A libpq connection string, kept close to its original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ConnStr {
    Uri(Uri),
    /// `key=value` pairs, values unquoted.
    Keywords(Vec<(String, String)>),
}

/// `scheme://[userinfo@][hosts][/dbname][?params]`, pieces raw (still
/// percent-encoded), split the way libpq splits them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Uri {
    scheme: &'static str,
    userinfo: Option<String>,
    hosts: String,
    dbname: Option<String>,
    params: Vec<String>,
}

impl ConnStr {
    pub(super) fn parse(s: &str) -> Result<ConnStr> {
        for scheme in ["postgresql://", "postgres://"] {
            if let Some(rest) = s.strip_prefix(scheme) {
                return Uri::parse(scheme, rest).map(ConnStr::Uri);
            }
        }
        if s.contains("://") {
            bail!("unsupported URL scheme: use postgres:// or postgresql://");
        }
        if !s.trim().is_empty() && !s.contains('=') {
            bail!("not a PostgreSQL connection string (expected postgres://… or key=value pairs)");
        }
        parse_keywords(s).map(ConnStr::Keywords)
    }

    /// The effective database name, decoded (`None`: libpq's default).
    pub(super) fn database(&self) -> Result<Option<String>> {
        if let Some(db) = self.get("dbname") {
            return Ok(Some(db).filter(|d| !d.is_empty()));
        }
        match self {
            ConnStr::Uri(uri) => uri
                .dbname
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(decode)
                .transpose(),
            ConnStr::Keywords(_) => Ok(None),
        }
    }

    /// The last value of parameter `key` (query parameter or keyword).
    fn get(&self, key: &str) -> Option<String> {
        match self {
            ConnStr::Uri(uri) => uri
                .params
                .iter()
                .filter_map(|p| split_param(p))
                .rfind(|(k, _)| k == key)
                .map(|(_, v)| v),
            ConnStr::Keywords(pairs) => pairs
                .iter()
                .rfind(|(k, _)| k == key)
                .map(|(_, v)| v.clone()),
        }
    }

    fn set(&mut self, key: &str, value: &str) {
        match self {
            ConnStr::Uri(uri) => {
                uri.params
                    .retain(|p| split_param(p).is_none_or(|(k, _)| k != key));
                uri.params
                    .push(format!("{}={}", encode(key, ""), encode(value, "/")));
            }
            ConnStr::Keywords(pairs) => {
                let mut seen = false;
                pairs.retain_mut(|(k, v)| {
                    if k != key {
                        return true;
                    }
                    if seen {
                        return false;
                    }
                    seen = true;
                    *v = value.to_owned();
                    true
                });
                if !seen {
                    pairs.push((key.to_owned(), value.to_owned()));
                }
            }
        }
    }

    fn set_database(&mut self, db: &str) {
        match self {
            ConnStr::Uri(uri) => {
                uri.params
                    .retain(|p| split_param(p).is_none_or(|(k, _)| k != "dbname"));
                uri.dbname = Some(encode(db, ""));
            }
            ConnStr::Keywords(_) => self.set("dbname", db),
        }
    }

    /// Every password in the string, decoded and raw.
    fn passwords(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let ConnStr::Uri(uri) = self {
            if let Some((_, raw)) = uri.userinfo.as_deref().and_then(|u| u.split_once(':')) {
                out.push(raw.to_owned());
                out.extend(decode(raw).ok());
            }
            for p in &uri.params {
                if let Some((k, v)) = p.split_once('=')
                    && decode(k).is_ok_and(|k| k == "password")
                {
                    out.push(v.to_owned());
                    out.extend(decode(v).ok());
                }
            }
        }
        if let ConnStr::Keywords(pairs) = self {
            out.extend(
                pairs
                    .iter()
                    .filter(|(k, _)| k == "password")
                    .map(|(_, v)| v.clone()),
            );
        }
        out
    }

    fn mask_passwords(&mut self) {
        match self {
            ConnStr::Uri(uri) => {
                if let Some(info) = &mut uri.userinfo
                    && let Some((user, _)) = info.split_once(':')
                {
                    *info = format!("{user}:***");
                }
                for p in &mut uri.params {
                    if split_param(p).is_some_and(|(k, _)| k == "password") {
                        *p = "password=***".to_owned();
                    }
                }
            }
            ConnStr::Keywords(pairs) => {
                for (k, v) in pairs {
                    if k == "password" {
                        *v = "***".to_owned();
                    }
                }
            }
        }
    }
}

impl fmt::Display for ConnStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnStr::Uri(uri) => {
                f.write_str(uri.scheme)?;
                if let Some(info) = &uri.userinfo {
                    write!(f, "{info}@")?;
                }
                f.write_str(&uri.hosts)?;
                if let Some(db) = &uri.dbname {
                    write!(f, "/{db}")?;
                }
                if !uri.params.is_empty() {
                    write!(f, "?{}", uri.params.join("&"))?;
                }
                Ok(())
            }
            ConnStr::Keywords(pairs) => {
                let text = pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={}", quote_keyword_value(v)))
                    .collect::<Vec<_>>()
                    .join(" ");
                f.write_str(&text)
            }
        }
    }
}

impl Uri {
    /// Mirrors libpq's `conninfo_uri_parse_options`: user info runs to the
    /// first `@` met before any `/`; hosts run to the first `/` or `?`; the
    /// database name runs from that `/` to the first `?`.
    fn parse(scheme: &'static str, rest: &str) -> Result<Uri> {
        let (userinfo, rest) = match rest.find(['@', '/']) {
            Some(i) if rest.as_bytes()[i] == b'@' => (Some(rest[..i].to_owned()), &rest[i + 1..]),
            _ => (None, rest),
        };
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let hosts = rest[..host_end].to_owned();
        let rest = &rest[host_end..];
        let (dbname, rest) = match rest.strip_prefix('/') {
            Some(after) => {
                let end = after.find('?').unwrap_or(after.len());
                (Some(after[..end].to_owned()), &after[end..])
            }
            None => (None, rest),
        };
        let params = match rest.strip_prefix('?') {
            Some(query) => query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        for p in &params {
            if split_param(p).is_none() {
                bail!("invalid URI query parameter (expected key=value)");
            }
        }
        Ok(Uri {
            scheme,
            userinfo,
            hosts,
            dbname,
            params,
        })
    }
}

/// A raw `key=value` query parameter, decoded.
fn split_param(p: &str) -> Option<(String, String)> {
    let (k, v) = p.split_once('=')?;
    Some((decode(k).ok()?, decode(v).ok()?))
}

/// Mirrors libpq's `conninfo_parse`: `key = value` pairs separated by
/// whitespace; values bare or single-quoted, backslash escaping the next
/// character in both.
fn parse_keywords(s: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            bail!("missing \"=\" after {key:?} in connection string");
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => bail!("unterminated quoted value for {key:?} in connection string"),
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

fn quote_keyword_value(v: &str) -> String {
    if !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return v.to_owned();
    }
    let mut out = String::from("'");
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::db::discovery::{Discovered, Source};

    #[test]
    fn with_database_tcp() {
        let cases = [
            ("postgres://localhost/permits", "postgres://localhost/other"),
            ("postgres://localhost", "postgres://localhost/other"),
            ("postgres://localhost/", "postgres://localhost/other"),
            (
                "postgresql://u@db.example:6543/permits",
                "postgresql://u@db.example:6543/other",
            ),
            (
                "postgres://u:s3cret@127.0.0.1:5432/permits?sslmode=disable&application_name=x",
                "postgres://u:s3cret@127.0.0.1:5432/other?sslmode=disable&application_name=x",
            ),
            (
                "postgres://u:p@h?sslmode=require",
                "postgres://u:p@h/other?sslmode=require",
            ),
            (
                "postgres://[::1]:5432/permits?x=1",
                "postgres://[::1]:5432/other?x=1",
            ),
            (
                "postgres://h1:5432,h2:5433/permits?target_session_attrs=read-write",
                "postgres://h1:5432,h2:5433/other?target_session_attrs=read-write",
            ),
            // libpq: user info runs to the first '@' before any '/', so '?' may be in a password
            ("postgres://u:p?w@h/permits", "postgres://u:p?w@h/other"),
            // encoded characters in the password stay as they were
            (
                "postgres://u:p%40ss%2F@h:1/permits",
                "postgres://u:p%40ss%2F@h:1/other",
            ),
            // a dbname query parameter would override the path: replaced
            (
                "postgres://h/permits?dbname=x&sslmode=disable",
                "postgres://h/other?sslmode=disable",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(with_database(input, "other").unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn with_database_socket() {
        let cases = [
            (
                "postgres://postgres@/permits?host=/var/run/postgresql",
                "postgres://postgres@/other?host=/var/run/postgresql",
            ),
            (
                "postgres:///permits?host=/tmp&port=5433",
                "postgres:///other?host=/tmp&port=5433",
            ),
            ("postgres://?host=/tmp", "postgres:///other?host=/tmp"),
            (
                "postgresql://%2Fvar%2Frun%2Fpostgresql/permits",
                "postgresql://%2Fvar%2Frun%2Fpostgresql/other",
            ),
            (
                "postgres://root:pw@/permits?host=%2Fvar%2Frun%2Fpostgresql&connect_timeout=10",
                "postgres://root:pw@/other?host=%2Fvar%2Frun%2Fpostgresql&connect_timeout=10",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(with_database(input, "other").unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn with_database_keywords() {
        let cases = [
            (
                "host=/var/run/postgresql user=postgres dbname=permits",
                "host=/var/run/postgresql user=postgres dbname=other",
            ),
            (
                "host=localhost port=5432",
                "host=localhost port=5432 dbname=other",
            ),
            (
                "host = localhost  dbname = permits password='s3 cr\\'et' sslmode=disable",
                "host=localhost dbname=other password='s3 cr\\'et' sslmode=disable",
            ),
            ("dbname=a host=h dbname=b", "dbname=other host=h"),
            ("password=p\\ w dbname=x", "password='p w' dbname=other"),
            ("", "dbname=other"),
        ];
        for (input, expected) in cases {
            assert_eq!(with_database(input, "other").unwrap(), expected, "{input}");
        }
        // values survive a round trip
        let parsed = ConnStr::parse("password='a\\\\b c' user=''").unwrap();
        assert_eq!(
            parsed,
            ConnStr::Keywords(vec![
                ("password".into(), "a\\b c".into()),
                ("user".into(), "".into())
            ])
        );
        assert_eq!(ConnStr::parse(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn maintenance_urls() {
        assert_eq!(
            maintenance_url("postgres://u:p@localhost:5432/permits?sslmode=disable").unwrap(),
            "postgres://u:p@localhost:5432/postgres?sslmode=disable"
        );
        assert_eq!(
            maintenance_url("postgres://postgres@/permits?host=/var/run/postgresql").unwrap(),
            "postgres://postgres@/postgres?host=/var/run/postgresql"
        );
        assert_eq!(
            maintenance_url("host=/tmp dbname=permits password=x").unwrap(),
            "host=/tmp dbname=postgres password=x"
        );
    }

    #[test]
    fn bad_urls_are_rejected_without_leaking() {
        for bad in [
            "mysql://u:secret@h/db",
            "permits",
            "host=h password='secret",
            "host",
            "postgres://u:secret@h/db?novalue",
        ] {
            let err = with_database(bad, "other").unwrap_err();
            assert!(!format!("{err:#}").contains("secret"), "{err:#}");
        }
        assert!(with_database("postgres://h/db", "Bad-Name").is_err());
    }

    #[test]
    fn masking() {
        assert_eq!(
            masked("postgres://u:s3cret@h:5432/db?sslmode=disable"),
            "postgres://u:***@h:5432/db?sslmode=disable"
        );
        assert_eq!(masked("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            masked("postgres://h/db?password=s3cret&sslmode=disable"),
            "postgres://h/db?password=***&sslmode=disable"
        );
        assert_eq!(
            masked("host=h password='s3 cret' dbname=db"),
            "host=h password=*** dbname=db"
        );
        assert_eq!(masked("nonsense s3cret"), "<unparseable connection string>");

        let d = Discovered {
            url: "postgres://u:s3cret@h/db".into(),
            source: Source::Env,
        };
        assert!(!format!("{d:?}").contains("s3cret"));

        assert_eq!(
            redact(
                "auth failed for p%40ss and p@ss",
                "postgres://u:p%40ss@h/db"
            ),
            "auth failed for *** and ***"
        );
    }

    #[test]
    fn probe_urls() {
        assert_eq!(
            probe_url("postgres://h/db").unwrap(),
            "postgres://h/db?connect_timeout=3"
        );
        assert_eq!(
            probe_url("postgres://h/db?connect_timeout=10").unwrap(),
            "postgres://h/db?connect_timeout=10"
        );
        assert_eq!(
            probe_url("host=/tmp dbname=db").unwrap(),
            "host=/tmp dbname=db connect_timeout=3"
        );
        assert_eq!(
            socket_url(
                Some("postgres"),
                Path::new("/var/run/postgresql"),
                5432,
                "db"
            ),
            "postgres://postgres@/db?host=/var/run/postgresql&port=5432"
        );
        assert_eq!(
            socket_url(Some("a b"), Path::new("/x y/pg"), 1, "db"),
            "postgres://a%20b@/db?host=/x%20y/pg&port=1"
        );
        assert_eq!(
            tcp_url(None, "127.0.0.1", 5432, "db"),
            "postgres://127.0.0.1:5432/db"
        );
    }

    /// libpq takes several hosts in one URL (`h1:p1,h2:p2`, tried in order, the first that
    /// suits `target_session_attrs` wins): every change keeps the host list whole, and the
    /// password stays hidden. The `url` crate would refuse such a URL; ours is parsed the way
    /// libpq parses it.
    #[test]
    fn multi_host_urls_keep_every_host() {
        let url = "postgres://u:s3cret@127.0.0.1:1,127.0.0.1:5432/permits?target_session_attrs=read-write";
        assert_eq!(
            with_database(url, "other").unwrap(),
            "postgres://u:s3cret@127.0.0.1:1,127.0.0.1:5432/other?target_session_attrs=read-write"
        );
        assert_eq!(
            maintenance_url(url).unwrap(),
            "postgres://u:s3cret@127.0.0.1:1,127.0.0.1:5432/postgres?target_session_attrs=read-write"
        );
        assert_eq!(
            masked(url),
            "postgres://u:***@127.0.0.1:1,127.0.0.1:5432/permits?target_session_attrs=read-write"
        );
        assert_eq!(database_of(url).unwrap(), Some("permits".into()));
        assert_eq!(
            with_connect_timeout(url, 2).unwrap(),
            "postgres://u:s3cret@127.0.0.1:1,127.0.0.1:5432/permits?target_session_attrs=read-write&connect_timeout=2"
        );
        assert_eq!(
            probe_url(url).unwrap(),
            "postgres://u:s3cret@127.0.0.1:1,127.0.0.1:5432/permits?target_session_attrs=read-write&connect_timeout=3"
        );
        // IPv6 hosts, hosts without ports, no database, ports as a parameter
        let cases = [
            (
                "postgresql://[::1]:5433,[2001:db8::2]/permits",
                "postgresql://[::1]:5433,[2001:db8::2]/other",
            ),
            (
                "postgres://db1,db2,db3?port=5432,5433,5434&target_session_attrs=primary",
                "postgres://db1,db2,db3/other?port=5432,5433,5434&target_session_attrs=primary",
            ),
            (
                "postgres://u@h1:5432,h2:5433",
                "postgres://u@h1:5432,h2:5433/other",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(with_database(input, "other").unwrap(), expected, "{input}");
        }
        assert_eq!(database_of("postgres://u@h1:5432,h2:5433").unwrap(), None);
        // keyword form: host and port lists are single values
        let kw = "host=h1,h2 port=5432,5433 password=s3cret target_session_attrs=read-write";
        assert_eq!(
            with_database(kw, "other").unwrap(),
            format!("{kw} dbname=other")
        );
        assert_eq!(
            masked(kw),
            "host=h1,h2 port=5432,5433 password=*** target_session_attrs=read-write"
        );
        assert_eq!(
            redact("password s3cret rejected", url),
            "password *** rejected"
        );
    }

    #[test]
    fn database_from_url() {
        let db = |u: &str| ConnStr::parse(u).unwrap().database().unwrap();
        assert_eq!(db("postgres://h/permits"), Some("permits".into()));
        assert_eq!(db("postgres://h/"), None);
        assert_eq!(db("postgres://h/a?dbname=b"), Some("b".into()));
        assert_eq!(db("postgres://h/my%5Fdb"), Some("my_db".into()));
        assert_eq!(db("host=h dbname=x"), Some("x".into()));
        assert_eq!(db("host=h"), None);
    }
}
