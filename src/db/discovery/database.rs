//! Connecting to a server, and creating our database on it when it is missing (another process
//! creating it at the same time is fine).

use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use diesel::dsl::sql;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use tracing::{debug, info, warn};

use super::one_line;
use super::url::{maintenance_url, masked, probe_url, redact};

/// Checks a database name against `^[a-z_][a-z0-9_]{0,62}$`.
pub fn validate_db_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        bail!(
            "invalid database name {name:?}: use 1 to 63 characters among a-z, 0-9 and _, not starting with a digit"
        )
    }
}

/// Creates database `db_name` on the server of `url` (through its maintenance
/// database) unless it exists. Returns whether it was created here; a database
/// created concurrently by another process counts as existing.
pub fn ensure_database(url: &str, db_name: &str) -> Result<bool> {
    validate_db_name(db_name)?;
    let maintenance = maintenance_url(url)?;
    let mut conn = connect(&maintenance)?;
    create_database_if_missing(&mut conn, db_name)
}

/// Opens a connection with a short connect timeout. Errors name the (masked)
/// URL and never contain its password.
pub(super) fn connect(url: &str) -> Result<PgConnection> {
    let probe = probe_url(url)?;
    PgConnection::establish(&probe)
        .map_err(|e| anyhow!(one_line(&redact(&e.to_string(), url))))
        .with_context(|| format!("connecting to {}", masked(url)))
}

pub(super) fn database_exists(conn: &mut PgConnection, db_name: &str) -> Result<bool> {
    diesel::select(
        sql::<Bool>("EXISTS (SELECT 1 FROM pg_database WHERE datname = ")
            .bind::<Text, _>(db_name)
            .sql(")"),
    )
    .get_result(conn)
    .with_context(|| format!("checking whether database {db_name:?} exists"))
}

pub(super) fn create_database_if_missing(conn: &mut PgConnection, db_name: &str) -> Result<bool> {
    validate_db_name(db_name)?;
    if database_exists(conn, db_name)? {
        debug!(db = db_name, "database exists");
        return Ok(false);
    }
    let statement = format!("CREATE DATABASE {}", quote_ident(db_name));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match diesel::sql_query(&statement).execute(conn) {
            Ok(_) => {
                info!(db = db_name, "created database");
                return Ok(true);
            }
            Err(e) => e,
        };
        // Another process may have created it meanwhile: duplicate_database,
        // or a unique violation on pg_database when both ran at once.
        if database_exists(conn, db_name)? {
            debug!(
                db = db_name,
                "database was created concurrently by another process"
            );
            return Ok(false);
        }
        let message = err.to_string();
        // The template is busy while someone is connected to it: wait a little.
        if message.contains("is being accessed by other users") && attempt < 5 {
            warn!(
                db = db_name,
                attempt, "template database busy; retrying CREATE DATABASE"
            );
            thread::sleep(Duration::from_millis(300 * attempt));
            continue;
        }
        return Err(anyhow!(err)).with_context(|| format!("creating database {db_name:?}"));
    }
}

pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn database_names() {
        for ok in ["permits", "_x", "a1_2", &"a".repeat(63)] {
            assert!(validate_db_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Permits",
            "a-b",
            "a b",
            "x;drop",
            "é",
            "x\"y",
            &"a".repeat(64),
        ] {
            assert!(validate_db_name(bad).is_err(), "{bad}");
        }
        assert_eq!(quote_ident("permits"), "\"permits\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
