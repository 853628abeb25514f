//! The jobs' leases and their last results. An exclusive job runs on one instance at a time:
//! it takes its lease on the database clock, and a run that crashed lets its lease expire.

use diesel::PgConnection;
use serde_json::Value;

use super::auth::Principal;
use crate::domain::definition::Role;
use crate::error::AppError;
pub use crate::repo::jobs::JobRun;

/// How long an exclusive run holds its lease at most (a crashed run's lease expires).
pub const LEASE_SECONDS: i64 = 600;

/// Take the lease of job `name` for this instance. False when another run holds it.
pub fn start(conn: &mut PgConnection, name: &str, instance: &str) -> Result<bool, AppError> {
    Ok(crate::repo::jobs::start(
        conn,
        name,
        LEASE_SECONDS,
        instance,
    )?)
}

/// Record how the run ended and let the lease go.
pub fn finish(
    conn: &mut PgConnection,
    name: &str,
    result: &Result<Value, AppError>,
) -> Result<(), AppError> {
    let (value, error) = match result {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(crate::repo::jobs::finish(
        conn,
        name,
        value,
        error.as_deref(),
    )?)
}

/// End the leases this instance holds (on the way out, after its runs ended).
pub fn release(conn: &mut PgConnection, instance: &str) -> Result<usize, AppError> {
    Ok(crate::repo::jobs::release(conn, instance)?)
}

/// Administrators watch the jobs and run them on demand.
pub fn may_run(p: &Principal) -> Result<(), AppError> {
    p.require(&[Role::Admin])
}

/// The last run of each job (administrators).
pub fn list(conn: &mut PgConnection, p: &Principal) -> Result<Vec<JobRun>, AppError> {
    may_run(p)?;
    Ok(crate::repo::jobs::all(conn)?)
}

/// The last run of each job, for the service's own use (the CLI).
pub fn all(conn: &mut PgConnection) -> Result<Vec<JobRun>, AppError> {
    Ok(crate::repo::jobs::all(conn)?)
}
