//! Database access: the pool, embedded migrations and the generated schema.
//!
//! Policy: one pool per process, built once, sized explicitly, with a short checkout timeout so
//! that saturation is a 503 rather than a hang. Every connection runs in UTC with a statement
//! timeout. Diesel is synchronous: connections are only used inside `web::block` closures.

pub mod backup;
pub mod batch;
pub mod cached;
pub mod discovery;
pub mod enums;
pub mod records;
pub mod schema;

use std::time::Duration;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::Database;

pub type DbPool = Pool<ConnectionManager<PgConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<PgConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

#[derive(Debug, Clone, Copy)]
struct SessionSettings {
    statement_timeout_ms: u64,
    /// The replica's pool: every transaction read-only, so nothing is written there even by
    /// mistake.
    read_only: bool,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "SET TIME ZONE 'UTC'; SET statement_timeout = {}; SET application_name = 'permits'{}",
            self.statement_timeout_ms,
            if self.read_only {
                "; SET default_transaction_read_only = on"
            } else {
                ""
            }
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The pool of the read replica (`database.read_url`), if one is configured: connected lazily
/// (a replica down at start does not stop the service; the reports say so with 503).
pub fn build_read_pool(settings: &Database) -> anyhow::Result<Option<DbPool>> {
    let url = settings.read_url.trim();
    if url.is_empty() {
        return Ok(None);
    }
    let manager = ConnectionManager::<PgConnection>::new(url);
    Ok(Some(
        Pool::builder()
            .max_size(settings.pool_size.div_ceil(2).max(1))
            .min_idle(Some(0))
            .connection_timeout(Duration::from_millis(settings.checkout_timeout_ms))
            .test_on_check_out(true)
            .connection_customizer(Box::new(SessionSettings {
                statement_timeout_ms: settings.statement_timeout_ms,
                read_only: true,
            }))
            .build_unchecked(manager),
    ))
}

pub fn build_pool(url: &str, settings: &Database) -> anyhow::Result<DbPool> {
    let manager = ConnectionManager::<PgConnection>::new(url);
    Pool::builder()
        .max_size(settings.pool_size)
        .min_idle(Some(1.min(settings.pool_size)))
        .connection_timeout(Duration::from_millis(settings.checkout_timeout_ms))
        // A connection the server dropped (a restart, a failover) is found and replaced at
        // checkout instead of failing the request that draws it: one round trip per checkout.
        .test_on_check_out(true)
        .connection_customizer(Box::new(SessionSettings {
            statement_timeout_ms: settings.statement_timeout_ms,
            read_only: false,
        }))
        .build(manager)
        .context("connecting the database pool")
}

/// Run pending migrations. Several instances may start at once: an advisory lock makes the
/// others wait instead of racing on the migrations table.
///
/// A database that records migrations this build no longer has, older than its newest one, is
/// refused before anything runs (see [`forgotten_migrations`]).
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    conn.batch_execute("SELECT pg_advisory_lock(7012001)")
        .context("taking the migration lock")?;
    let result = refuse_forgotten_migrations(conn).and_then(|()| {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"))
    });
    let unlock = conn.batch_execute("SELECT pg_advisory_unlock(7012001)");
    let applied = result?;
    unlock.context("releasing the migration lock")?;
    Ok(applied)
}

/// The versions recorded in the database's migrations table that no embedded migration has and
/// that are older than the newest embedded one, oldest first.
///
/// These are migrations this build has forgotten: the 18 pre-release migrations of 2026-11-22
/// to 2026-12-01 were squashed into the baseline `2026-12-03-000001_baseline`, and a database
/// migrated with them (a developer's `permits`, an old test template) has their versions and
/// not the baseline's. Running the baseline there would fail on `CREATE TABLE` of a table that
/// exists; nothing else can bring such a schema up to date either. Unknown versions *newer*
/// than every embedded one are a later release's migrations (an instance of the previous
/// release restarting during a rolling upgrade): expand-then-contract keeps the schema usable
/// by it, so they are not refused.
pub fn forgotten_migrations(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    use diesel::migration::MigrationSource;
    let embedded: Vec<String> = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("reading the embedded migrations: {e}"))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    let Some(newest) = embedded.iter().max().cloned() else {
        return Ok(Vec::new());
    };
    let mut forgotten: Vec<String> = conn
        .applied_migrations()
        .map_err(|e| anyhow::anyhow!("reading the applied migrations: {e}"))?
        .iter()
        .map(|v| v.to_string())
        .filter(|v| !embedded.contains(v) && *v < newest)
        .collect();
    forgotten.sort();
    Ok(forgotten)
}

/// Stop, naming the database and the fix, if it was migrated with forgotten migrations.
fn refuse_forgotten_migrations(conn: &mut PgConnection) -> anyhow::Result<()> {
    let forgotten = forgotten_migrations(conn)?;
    let (Some(first), Some(last)) = (forgotten.first(), forgotten.last()) else {
        return Ok(());
    };
    let database: String = diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "current_database()",
    ))
    .get_result(conn)
    .context("naming the database")?;
    let versions = match forgotten.len() {
        1 => first.clone(),
        2 => format!("{first}, {last}"),
        n => format!("{n} of them, {first} to {last}"),
    };
    anyhow::bail!(
        "the database {database} was migrated with pre-release migrations ({versions}) that this \
         version no longer has: they were squashed into one baseline, and a schema made by them \
         cannot be migrated in place. Drop the database and start again: dropdb {database} \
         (the service creates and migrates it on its next start), or point DATABASE_URL or \
         database.url at a new database"
    )
}

/// True when every embedded migration has been applied (for /readyz).
pub fn migrations_current(conn: &mut PgConnection) -> anyhow::Result<bool> {
    conn.has_pending_migration(MIGRATIONS)
        .map(|pending| !pending)
        .map_err(|e| anyhow::anyhow!("checking migrations: {e}"))
}
