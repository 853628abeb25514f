//! The same-work ceiling of the load benchmark: pgbench replaying the statements one action
//! sends, taken from the service itself so that the script cannot drift from the code.
//!
//! `load.rs` starts the service once with `log_statement = 'all'` on the bench database, drives a
//! filing into the re-check cycle and takes the cycle's two actions (`request_recheck`,
//! `fail_recheck`) over HTTP, cutting PostgreSQL's log at each action's boundaries. This module
//! reads those statements with their parameters ([`parse_log`]) and writes pgbench scripts that
//! send the same statements, prepared, with the same parameters ([`Replay`]), except where a
//! value names the filing or changes with it:
//! - the filing's id, and every value that contains it (the audit chain, the audit entry, the
//!   letter's key), come from pgbench variables per filing, so each transaction works on a
//!   filing of its own client, as the HTTP clients do;
//! - the read's `\gset` gives the row's `xmin`, version and state visit, so the guarded UPDATE
//!   really matches (a guard hitting no row would not be the same work), and the version and
//!   visit written are the read ones plus one;
//! - the letter's unique key and Message-ID are made from the filing and the new version (an
//!   `||` of two parameters: the only text of the script that is not the service's), so that
//!   every replay inserts its letter instead of meeting the unique index.
//!
//! Each pgbench script is one pass of the cycle (both actions, each its own transaction as in
//! the service), so a filing ends where it began and can be replayed for as long as wanted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One statement as PostgreSQL logged it: its text (`$n` placeholders) and its parameters.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Option<String>>,
}

/// Statements from PostgreSQL's stderr log with `log_statement = 'all'`: an entry starts with a
/// line that does not begin with a tab (PostgreSQL puts a tab after every newline inside a
/// message). `execute <name>: SQL` and `statement: SQL` are statements; a following
/// `DETAIL:  parameters: $1 = '…', $2 = NULL` gives the last one its parameters.
pub fn parse_log(text: &str) -> Vec<Statement> {
    let mut entries: Vec<String> = Vec::new();
    for line in text.split('\n') {
        match line.strip_prefix('\t') {
            Some(more) if !entries.is_empty() => {
                let last = entries.last_mut().expect("not empty");
                last.push('\n');
                last.push_str(more);
            }
            _ => entries.push(line.to_owned()),
        }
    }
    let mut out: Vec<Statement> = Vec::new();
    for e in entries {
        if let Some(i) = e.find("LOG:  execute ") {
            let rest = &e[i + "LOG:  execute ".len()..];
            if let Some(j) = rest.find(": ") {
                out.push(Statement {
                    sql: rest[j + 2..].to_owned(),
                    params: Vec::new(),
                });
            }
        } else if let Some(i) = e.find("LOG:  statement: ") {
            out.push(Statement {
                sql: e[i + "LOG:  statement: ".len()..].to_owned(),
                params: Vec::new(),
            });
        } else if let Some(i) = e.find("DETAIL:  parameters: ")
            && let Some(last) = out.last_mut()
        {
            last.params = parse_params(&e[i + "DETAIL:  parameters: ".len()..]);
        }
    }
    out
}

/// `$1 = 'a''b', $2 = NULL` → [Some("a'b"), None].
fn parse_params(s: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // `$n = `
        let Some(eq) = s[i..].find(" = ") else { break };
        i += eq + 3;
        if s[i..].starts_with("NULL") {
            out.push(None);
            i += 4;
        } else if b.get(i) == Some(&b'\'') {
            i += 1;
            let mut v = String::new();
            loop {
                let Some(q) = s[i..].find('\'') else {
                    v.push_str(&s[i..]);
                    i = b.len();
                    break;
                };
                v.push_str(&s[i..i + q]);
                i += q + 1;
                if b.get(i) == Some(&b'\'') {
                    v.push('\'');
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Some(v));
        } else {
            break;
        }
        // `, ` before the next one
        if s[i..].starts_with(", ") {
            i += 2;
        } else {
            break;
        }
    }
    out
}

/// The filing's row as it was just before a captured action.
#[derive(Debug, Clone)]
pub struct Before {
    pub filing: String,
    pub version: i64,
    pub visit: i64,
    pub xmin: String,
}

/// One action as the service sent it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub action: String,
    pub before: Before,
    pub statements: Vec<Statement>,
}

/// The replay of captured actions: the pgbench script of a filing slot and the variables.
pub struct Replay {
    /// Script text with `{s}` where the slot's number goes.
    template: String,
    /// Variables the same for every filing.
    pub globals: Vec<(String, String)>,
    /// Variables per filing: name (with `{s}`) and the captured value with `{f}` where the
    /// filing's id goes.
    per_filing: Vec<(String, String)>,
    pub actions: usize,
    pub statements: usize,
}

impl Replay {
    pub fn new(captured: &[Captured]) -> Result<Replay, String> {
        let mut vars = Vars::default();
        let mut template = String::new();
        let mut statements = 0;
        for c in captured {
            let _ = writeln!(template, "-- {}", c.action);
            let mut read_seen = false;
            for st in &c.statements {
                statements += 1;
                let is_read = st.sql.starts_with("SELECT f.id, f.item_version_id");
                let sql = substitute(&st.sql, |n| {
                    let v = st.params.get(n.wrapping_sub(1)).cloned().flatten();
                    vars.replacement(&c.before, read_seen, v.as_deref())
                });
                if is_read {
                    let _ = writeln!(template, "{sql} \\gset");
                    template.push_str("\\set v1 :version + 1\n\\set sv1 :state_visit + 1\n");
                    read_seen = true;
                } else {
                    let _ = writeln!(template, "{sql};");
                }
            }
            if !read_seen {
                return Err(format!(
                    "the captured {} has no read of the filing with its row version",
                    c.action
                ));
            }
        }
        Ok(Replay {
            template,
            globals: vars.globals.into_iter().map(|(v, n)| (n, v)).collect(),
            per_filing: vars.per_filing.into_iter().map(|(t, n)| (n, t)).collect(),
            actions: captured.len(),
            statements,
        })
    }

    /// The script of filing slot `s`.
    pub fn script(&self, s: usize) -> String {
        self.template.replace("{s}", &s.to_string())
    }

    /// The variables of filing slot `s` for the filing `filing`.
    pub fn filing_vars(&self, s: usize, filing: &str) -> Vec<(String, String)> {
        let mut out = vec![(format!("filing_{s}"), filing.to_owned())];
        for (name, t) in &self.per_filing {
            out.push((
                name.replace("{s}", &s.to_string()),
                t.replace("{f}", filing),
            ));
        }
        out
    }
}

/// The variables a script is written with.
#[derive(Default)]
struct Vars {
    /// value → name
    globals: BTreeMap<String, String>,
    /// value with `{f}` for the filing's id → name with `{s}` for the slot
    per_filing: BTreeMap<String, String>,
}

impl Vars {
    fn global(&mut self, v: &str) -> String {
        // pgbench takes no empty `-D` value: an empty text is written as a literal.
        if v.is_empty() {
            return "''".into();
        }
        let n = self.globals.len();
        let name = self
            .globals
            .entry(v.to_owned())
            .or_insert_with(|| format!("c{n}"));
        format!(":{name}")
    }

    fn per_filing(&mut self, v: &str, filing: &str) -> String {
        let t = v.replace(filing, "{f}");
        let n = self.per_filing.len();
        let name = self
            .per_filing
            .entry(t)
            .or_insert_with(|| format!("f{n}_{{s}}"));
        format!(":{name}")
    }

    /// What stands in the script for a parameter the service sent (see the module docs).
    fn replacement(&mut self, b: &Before, after_read: bool, v: Option<&str>) -> String {
        let Some(v) = v else {
            return "NULL".into();
        };
        if v == b.filing {
            return ":filing_{s}".into();
        }
        let v1 = (b.version + 1).to_string();
        if after_read {
            if v == b.xmin {
                return ":row_xmin".into();
            }
            if v == v1 {
                return ":v1".into();
            }
            if v == b.version.to_string() {
                return ":version".into();
            }
            if v == (b.visit + 1).to_string() {
                return ":sv1".into();
            }
            if v == b.visit.to_string() {
                return ":state_visit".into();
            }
        }
        if is_message_id(v) {
            let host = v.split_once('@').map_or(">", |(_, h)| h);
            let head = self.per_filing("<{f}.v", "{f}");
            let tail = self.global(&format!("@{host}"));
            return format!("({head}::text || :v1::text || {tail}::text)");
        }
        if v.contains(&b.filing) {
            let key = format!("v{v1}");
            if let Some(i) = find_number(v, &key) {
                let head = self.per_filing(&format!("{}v", &v[..i]), &b.filing);
                let tail = self.global(&v[i + key.len()..]);
                return format!("({head}::text || :v1::text || {tail}::text)");
            }
            return self.per_filing(v, &b.filing);
        }
        self.global(v)
    }
}

/// A Message-ID as `mail::new_message_id` makes them: `<32 hex digits@host>`.
fn is_message_id(v: &str) -> bool {
    v.strip_prefix('<')
        .and_then(|r| r.split_once('@'))
        .is_some_and(|(id, host)| {
            id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()) && host.ends_with('>')
        })
}

/// Where `key` (`v20`) occurs in `v` not followed by another digit.
fn find_number(v: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = v[from..].find(key) {
        let at = from + i;
        let next = v.as_bytes().get(at + key.len());
        if !next.is_some_and(u8::is_ascii_digit) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `sql` with each `$n` outside string literals replaced by `f(n)`.
fn substitute(sql: &str, mut f: impl FnMut(usize) -> String) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut in_quote = false;
    let mut last = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            in_quote = !in_quote;
        } else if !in_quote && c == b'$' {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1 {
                out.push_str(&sql[last..i]);
                let n: usize = sql[i + 1..j].parse().unwrap_or(0);
                out.push_str(&f(n));
                last = j;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&sql[last..]);
    out
}
