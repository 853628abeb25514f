//! Database access: the pool, embedded migrations and the generated schema.
//!
//! Policy: one pool per process, built once, sized explicitly, with a short checkout timeout so
//! that saturation is a 503 rather than a hang. Every connection runs in UTC with a statement
//! timeout. Diesel is synchronous: connections are only used inside `web::block` closures.

pub mod batch;
pub mod cached;
pub mod discovery;
pub mod enums;
pub mod schema;

use std::time::Duration;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::Database;

pub type DbPool = Pool<ConnectionManager<PgConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<PgConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

#[derive(Debug, Clone, Copy)]
struct SessionSettings {
    statement_timeout_ms: u64,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "SET TIME ZONE 'UTC'; SET statement_timeout = {}; SET application_name = 'permits'",
            self.statement_timeout_ms
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

pub fn build_pool(url: &str, settings: &Database) -> anyhow::Result<DbPool> {
    let manager = ConnectionManager::<PgConnection>::new(url);
    Pool::builder()
        .max_size(settings.pool_size)
        .min_idle(Some(1.min(settings.pool_size)))
        .connection_timeout(Duration::from_millis(settings.checkout_timeout_ms))
        .test_on_check_out(false)
        .connection_customizer(Box::new(SessionSettings {
            statement_timeout_ms: settings.statement_timeout_ms,
        }))
        .build(manager)
        .context("connecting the database pool")
}

/// Run pending migrations. Several instances may start at once: an advisory lock makes the
/// others wait instead of racing on the migrations table.
pub fn migrate(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    conn.batch_execute("SELECT pg_advisory_lock(7012001)")
        .context("taking the migration lock")?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"));
    let unlock = conn.batch_execute("SELECT pg_advisory_unlock(7012001)");
    let applied = result?;
    unlock.context("releasing the migration lock")?;
    Ok(applied)
}

/// True when every embedded migration has been applied (for /readyz).
pub fn migrations_current(conn: &mut PgConnection) -> anyhow::Result<bool> {
    conn.has_pending_migration(MIGRATIONS)
        .map(|pending| !pending)
        .map_err(|e| anyhow::anyhow!("checking migrations: {e}"))
}
