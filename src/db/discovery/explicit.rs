//! The explicit URL (DATABASE_URL or config): used as is, its database created when missing and
//! the server allows, and never replaced by another server when it does not work.

use anyhow::{Context, Result, bail};
use tracing::debug;

use super::database::{connect, create_database_if_missing, validate_db_name};
use super::url::{ConnStr, maintenance_url, masked, with_database};

pub(super) fn use_explicit(url: &str, db_name: &str) -> Result<String> {
    let parsed =
        ConnStr::parse(url).context("DATABASE_URL is not a PostgreSQL connection string")?;
    let (url, target) = match parsed.database()? {
        Some(db) => (url.to_owned(), db),
        None => (with_database(url, db_name)?, db_name.to_owned()),
    };

    let first = match connect(&url) {
        Ok(_) => return Ok(url),
        Err(e) => e,
    };
    debug!(error = %format!("{first:#}"), "explicit URL did not connect; trying to create its database");

    let created = (|| -> Result<()> {
        validate_db_name(&target).context("the database is not one we create automatically")?;
        let mut conn = connect(&maintenance_url(&url)?)?;
        create_database_if_missing(&mut conn, &target)?;
        connect(&url)?;
        Ok(())
    })();
    match created {
        Ok(()) => Ok(url),
        Err(e) => bail!(
            "DATABASE_URL {} does not work: {first:#}; creating database {target:?} through the maintenance database did not help: {e:#}",
            masked(&url)
        ),
    }
}
