//! The jobs' runs: one row per job with its lease and its last result.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::db::schema::job_runs;

/// The last run of a job, for administrators.
#[derive(Debug, Clone, Serialize, Queryable, utoipa::ToSchema)]
pub struct JobRun {
    pub job: String,
    pub running_until: Option<DateTime<Utc>>,
    pub last_started_at: DateTime<Utc>,
    pub last_finished_at: Option<DateTime<Utc>>,
    pub last_instance: String,
    pub last_result: Option<Value>,
    pub last_error: Option<String>,
}

/// Take the job's lease for `seconds` on the database clock. False when another run holds it.
pub fn start(
    conn: &mut PgConnection,
    job: &str,
    seconds: i64,
    instance: &str,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "INSERT INTO job_runs (job, running_until, last_started_at, last_instance) \
         VALUES ($1, now() + make_interval(secs => $2), now(), $3) \
         ON CONFLICT (job) DO UPDATE SET running_until = EXCLUDED.running_until, \
             last_started_at = EXCLUDED.last_started_at, last_instance = EXCLUDED.last_instance \
         WHERE job_runs.running_until IS NULL OR job_runs.running_until < now()",
    )
    .bind::<diesel::sql_types::Text, _>(job)
    .bind::<diesel::sql_types::Double, _>(seconds as f64)
    .bind::<diesel::sql_types::Text, _>(instance)
    .execute(conn)?;
    Ok(n == 1)
}

/// End the job's lease with its result or its error.
pub fn finish(
    conn: &mut PgConnection,
    job: &str,
    result: Option<&Value>,
    error: Option<&str>,
) -> QueryResult<()> {
    diesel::update(job_runs::table.filter(job_runs::job.eq(job)))
        .set((
            job_runs::running_until.eq(None::<DateTime<Utc>>),
            job_runs::last_finished_at.eq(diesel::dsl::now),
            job_runs::last_result.eq(result),
            job_runs::last_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// End every lease `instance` holds (it is shutting down and its runs have ended; a run whose
/// end could not be recorded left its lease). The number released.
pub fn release(conn: &mut PgConnection, instance: &str) -> QueryResult<usize> {
    diesel::update(
        job_runs::table
            .filter(job_runs::last_instance.eq(instance))
            .filter(job_runs::running_until.is_not_null()),
    )
    .set(job_runs::running_until.eq(None::<DateTime<Utc>>))
    .execute(conn)
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<JobRun>> {
    job_runs::table.order(job_runs::job).load(conn)
}
