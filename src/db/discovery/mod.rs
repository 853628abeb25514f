//! Finding a PostgreSQL server and making sure our database exists on it.
//!
//! Policy, first match wins (see [`discover`]):
//!
//! 1. **Explicit URL** (`DATABASE_URL` or config): used as is. If it cannot be
//!    connected to, we try to create its database through the maintenance
//!    database `postgres` of the same server (when the server allows), then
//!    connect again. An explicit URL that does not work is an error: we never
//!    fall back to another server behind the operator's back.
//! 2. **The local server**: the unix socket dirs `/var/run/postgresql` and
//!    `/tmp`, then `127.0.0.1:5432`, each as the current OS user and as
//!    `postgres` (trust auth is common on dev machines). The first candidate
//!    that accepts a connection to the maintenance database `postgres` and
//!    either has our database or may create it wins.
//! 3. **A private cluster** under `var_dir/pg`, when PostgreSQL's server
//!    binaries are installed: `initdb` once, `pg_ctl start` on a fixed port with
//!    no TCP listener (unix socket in the data directory only), then create the
//!    database. As root, `initdb`/`pg_ctl` run as the `postgres` OS user.
//! 4. Otherwise an error that says what to install and lists what was tried.
//!
//! Connection attempts carry `connect_timeout=3` so a dead host fails fast.
//! Passwords never reach logs or errors: URLs are shown through [`masked`].
//! Database names are validated (`^[a-z_][a-z0-9_]{0,62}$`) and quoted before
//! they are put into SQL. Everything here blocks: call it before starting the
//! async runtime, or from `spawn_blocking`.
//!
//! URLs are libpq connection strings, either URIs
//! (`postgres://user@host:5432/db?sslmode=disable`,
//! `postgres://postgres@/db?host=/var/run/postgresql&port=5432`) or keyword
//! form (`host=/tmp user=postgres dbname=db`); both are parsed the way libpq
//! parses them.

mod cluster;
mod database;
mod explicit;
mod local;
mod run;
mod url;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use tracing::info;

pub use cluster::stop_private_cluster;
pub use database::{ensure_database, validate_db_name};
pub use url::{database_of, maintenance_url, masked, with_connect_timeout, with_database};

use cluster::{find_pg_bins, start_private_cluster};
use database::{connect, create_database_if_missing};
use explicit::use_explicit;
use local::find_local_server;

/// Port of the private cluster. It only names the unix socket (the cluster
/// listens on no TCP address), so it cannot clash with another server.
pub const PRIVATE_CLUSTER_PORT: u16 = 54329;
/// The maintenance database every PostgreSQL server has.
pub const MAINTENANCE_DB: &str = "postgres";

// Shared by the local server, the runner and the private cluster.
const PG_OS_USER: &str = "postgres";

const INSTALL_HINT: &str = "install PostgreSQL: `apt-get install postgresql` (Debian/Ubuntu), \
     `dnf install postgresql-server` (Fedora/RHEL) or `brew install postgresql` (macOS); \
     or set DATABASE_URL to a server you can reach";

/// The server found by [`discover`] and how it was found.
#[derive(Clone, PartialEq, Eq)]
pub struct Discovered {
    /// Connection URL of database `db_name` (may contain a password: show it
    /// through [`masked`]).
    pub url: String,
    pub source: Source,
}

/// Where the server came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The explicit URL (DATABASE_URL or config).
    Env,
    /// A server already running on this machine.
    LocalServer,
    /// A cluster we run ourselves.
    PrivateCluster { data_dir: PathBuf, port: u16 },
}

impl fmt::Debug for Discovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discovered")
            .field("url", &masked(&self.url))
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env => f.write_str("explicit DATABASE_URL"),
            Source::LocalServer => f.write_str("local PostgreSQL server"),
            Source::PrivateCluster { data_dir, port } => write!(
                f,
                "private PostgreSQL cluster in {} (port {port})",
                data_dir.display()
            ),
        }
    }
}

/// Finds a PostgreSQL server and makes sure database `db_name` exists on it.
/// Order:
/// 1. `explicit` (from the DATABASE_URL variable or config) if Some and not
///    blank: used as is (create the database in it if it is missing and the
///    server allows). If the URL names no database, `db_name` is added to it.
/// 2. The local server: the unix socket dirs /var/run/postgresql and /tmp,
///    then 127.0.0.1:5432, as the current OS user and as `postgres`; the first
///    that accepts a connection to the `postgres` maintenance database and has
///    or may create `db_name` wins (a concurrent creation by another process
///    is fine).
/// 3. A private cluster under `var_dir/pg` if PostgreSQL's binaries are found
///    (`pg_config --bindir`, else PATH, else the newest
///    /usr/lib/postgresql/*/bin): `initdb` once, started with `pg_ctl` on port
///    [`PRIVATE_CLUSTER_PORT`] unless already running, reached through its
///    socket dir (the data directory).
/// 4. Otherwise an error that says what to install and what was tried.
pub fn discover(explicit: Option<&str>, db_name: &str, var_dir: &Path) -> Result<Discovered> {
    validate_db_name(db_name)?;

    if let Some(url) = explicit.filter(|u| !u.trim().is_empty()) {
        let url = use_explicit(url.trim(), db_name)?;
        info!(url = %masked(&url), "using PostgreSQL from DATABASE_URL");
        return Ok(Discovered {
            url,
            source: Source::Env,
        });
    }

    let mut tried = Vec::new();
    if let Some(url) = find_local_server(db_name, &mut tried) {
        info!(url = %masked(&url), "using the local PostgreSQL server");
        return Ok(Discovered {
            url,
            source: Source::LocalServer,
        });
    }

    let Some(bins) = find_pg_bins(&mut tried) else {
        bail!(
            "no PostgreSQL server found and no PostgreSQL server binaries to start a private one: {INSTALL_HINT}.\nTried:\n  - {}",
            tried.join("\n  - ")
        );
    };

    let data_dir = var_dir.join("pg");
    let result =
        start_private_cluster(&bins, &data_dir, PRIVATE_CLUSTER_PORT).and_then(|cluster| {
            let mut conn = connect(&cluster.maintenance_url)?;
            create_database_if_missing(&mut conn, db_name)?;
            let url = with_database(&cluster.maintenance_url, db_name)?;
            connect(&url)?;
            Ok((cluster, url))
        });
    match result {
        Ok((cluster, url)) => {
            info!(url = %masked(&url), data_dir = %cluster.data_dir.display(), "using a private PostgreSQL cluster");
            Ok(Discovered {
                url,
                source: Source::PrivateCluster {
                    data_dir: cluster.data_dir,
                    port: cluster.port,
                },
            })
        }
        Err(e) => {
            tried.push(format!(
                "private cluster in {} with binaries from {}: {e:#}",
                data_dir.display(),
                bins.dir.display()
            ));
            bail!(
                "no usable PostgreSQL server: none answered locally and the private cluster in {} could not be started. \
                 Fix the error below, or {INSTALL_HINT}.\nTried:\n  - {}",
                data_dir.display(),
                tried.join("\n  - ")
            )
        }
    }
}

// Error text on one line, for the list of what was tried; shared by the submodules.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use database::{database_exists, quote_ident};
    use diesel::dsl::sql;
    use diesel::prelude::*;
    use diesel::sql_types::Bool;
    use std::fs;
    use std::thread;
    use std::time::{SystemTime, UNIX_EPOCH};

    pub(super) fn temp_dir(tag: &str) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("permits-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn drop_database(url: &str, name: &str) {
        let mut conn = connect(&maintenance_url(url).unwrap()).unwrap();
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {}", quote_ident(name)))
            .execute(&mut conn)
            .unwrap();
    }

    fn exists(url: &str, name: &str) -> bool {
        let mut conn = connect(&maintenance_url(url).unwrap()).unwrap();
        database_exists(&mut conn, name).unwrap()
    }

    /// Needs a reachable PostgreSQL (the local server, or binaries for a private cluster).
    #[test]
    fn discover_creates_the_database() {
        let var = temp_dir("discover");
        let name = "permits_discovery_test";
        let first = discover(None, "permits_discovery_probe", &var).unwrap();
        drop_database(&first.url, name);

        let found = discover(None, name, &var).unwrap();
        println!("found {found:?}");
        assert!(exists(&found.url, name));
        let mut conn = connect(&found.url).unwrap();
        let current: bool =
            diesel::select(sql::<Bool>("current_database() = 'permits_discovery_test'"))
                .get_result(&mut conn)
                .unwrap();
        assert!(current);
        drop(conn);
        // a second run finds it
        assert_eq!(discover(None, name, &var).unwrap(), found);

        // the explicit URL path creates a missing database too
        let explicit_name = "permits_discovery_explicit";
        let explicit_url = with_database(&found.url, explicit_name).unwrap();
        drop_database(&found.url, explicit_name);
        let explicit = discover(Some(&explicit_url), name, &var).unwrap();
        assert_eq!(explicit.source, Source::Env);
        assert_eq!(explicit.url, explicit_url);
        assert!(exists(&found.url, explicit_name));

        // a broken explicit URL is an error, not a fallback, and hides its password
        let err = discover(
            Some("postgres://nobody:s3cret@127.0.0.1:1/permits"),
            name,
            &var,
        )
        .unwrap_err();
        let text = format!("{err:#}");
        println!("{text}");
        assert!(!text.contains("s3cret") && text.contains("***"), "{text}");

        drop_database(&found.url, explicit_name);
        drop_database(&found.url, name);
        drop_database(&found.url, "permits_discovery_probe");
        fs::remove_dir_all(&var).unwrap();
    }

    #[test]
    fn concurrent_creation_is_fine() {
        let var = temp_dir("race");
        let name = "permits_discovery_race";
        let first = discover(None, "permits_discovery_race_probe", &var).unwrap();
        drop_database(&first.url, name);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let var = var.clone();
                thread::spawn(move || discover(None, name, &var).map(|d| d.url))
            })
            .collect();
        let urls: Vec<String> = handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        assert!(urls.iter().all(|u| *u == urls[0]));
        assert!(exists(&urls[0], name));
        drop_database(&first.url, name);
        drop_database(&first.url, "permits_discovery_race_probe");
        fs::remove_dir_all(&var).unwrap();
    }
}
