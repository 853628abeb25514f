//! Scheduled jobs. A cron tick only says "look now": what is due comes from the database, and
//! unique keys make every job idempotent, so two ticks, two instances or a restart never send a
//! reminder twice (DESIGN principles 6 and 7).
//!
//! Jobs are plain functions ([`run`]) called by the scheduler, by `permits jobs run NAME`, by
//! the admin API and by the tests. Cron strings live in config; an empty string disables a job.

pub mod outbox;
pub mod scan;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

use crate::db::schema::job_runs;
use crate::error::AppError;
use crate::web::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Job {
    /// Escalate yellow and red filings to managers; remind applicants of their deadlines.
    DeadlineScan,
    /// Each member of queue staff gets the day's work list.
    Digest,
    /// Send what the outbox holds.
    Outbox,
    /// Return claims left untouched for too long to the queue.
    ReleaseStaleClaims,
    /// Seal the heads of the audit chains that grew since the last seal.
    AuditSeal,
}

impl Job {
    pub const ALL: [Job; 5] = [
        Job::DeadlineScan,
        Job::Digest,
        Job::Outbox,
        Job::ReleaseStaleClaims,
        Job::AuditSeal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::DeadlineScan => "deadline_scan",
            Job::Digest => "digest",
            Job::Outbox => "outbox",
            Job::ReleaseStaleClaims => "release_stale_claims",
            Job::AuditSeal => "audit_seal",
        }
    }

    pub fn parse(s: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.as_str() == s)
    }

    pub fn cron(self, jobs: &crate::config::Jobs) -> &str {
        match self {
            Job::DeadlineScan => &jobs.deadline_scan,
            Job::Digest => &jobs.digest,
            Job::Outbox => &jobs.outbox,
            Job::ReleaseStaleClaims => &jobs.release_stale_claims,
            Job::AuditSeal => &jobs.audit_seal,
        }
    }

    /// Jobs that one instance at a time runs (others skip while it holds the lease). The
    /// outbox sender runs everywhere at once: SKIP LOCKED shares the rows out.
    fn exclusive(self) -> bool {
        !matches!(self, Job::Outbox)
    }
}

/// How long an exclusive run holds its lease at most (a crashed run's lease expires).
const RUN_LEASE_SECONDS: i64 = 600;

/// Take the job's lease on the database clock. False when another run holds it.
fn start_run(conn: &mut PgConnection, job: Job, instance: &str) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "INSERT INTO job_runs (job, running_until, last_started_at, last_instance) \
         VALUES ($1, now() + make_interval(secs => $2), now(), $3) \
         ON CONFLICT (job) DO UPDATE SET running_until = EXCLUDED.running_until, \
             last_started_at = EXCLUDED.last_started_at, last_instance = EXCLUDED.last_instance \
         WHERE job_runs.running_until IS NULL OR job_runs.running_until < now()",
    )
    .bind::<diesel::sql_types::Text, _>(job.as_str())
    .bind::<diesel::sql_types::Double, _>(RUN_LEASE_SECONDS as f64)
    .bind::<diesel::sql_types::Text, _>(instance)
    .execute(conn)?;
    Ok(n == 1)
}

fn finish_run(
    conn: &mut PgConnection,
    job: Job,
    result: &Result<Value, AppError>,
) -> QueryResult<()> {
    let (value, error) = match result {
        Ok(v) => (Some(v.clone()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    diesel::update(job_runs::table.filter(job_runs::job.eq(job.as_str())))
        .set((
            job_runs::running_until.eq(None::<DateTime<Utc>>),
            job_runs::last_finished_at.eq(diesel::dsl::now),
            job_runs::last_result.eq(value),
            job_runs::last_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

fn to_json<T: Serialize>(v: T) -> Result<Value, AppError> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.into()))
}

/// Run a job once, now. An exclusive job another instance is running is skipped.
pub async fn run(state: &AppState, job: Job) -> Result<Value, AppError> {
    if job == Job::Outbox {
        return to_json(outbox::send_due(state).await?);
    }
    let jobs = state.settings.jobs.clone();
    let instance = state.instance.clone();
    let pool = state.pool.clone();
    state
        .run(move |conn, ctx| {
            if job.exclusive() && !start_run(conn, job, &instance)? {
                return Ok(json!({ "skipped": "running on another instance" }));
            }
            let result = match job {
                Job::DeadlineScan => {
                    // A second connection if one is idle now: the reminders run beside the
                    // escalations. Without one the scan runs on one connection.
                    let mut second = pool.try_get();
                    scan::deadline_scan(conn, second.as_deref_mut(), ctx, &jobs).and_then(to_json)
                }
                Job::Digest => scan::digest(conn, ctx, &jobs).and_then(to_json),
                Job::ReleaseStaleClaims => {
                    scan::release_stale_claims(conn, ctx, &jobs).and_then(to_json)
                }
                Job::AuditSeal => crate::services::audit::seal(conn, ctx.now).and_then(to_json),
                Job::Outbox => Ok(Value::Null),
            };
            finish_run(conn, job, &result)?;
            result
        })
        .await
}

/// The last run of each job, for administrators.
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

pub fn runs(conn: &mut PgConnection) -> QueryResult<Vec<JobRun>> {
    job_runs::table.order(job_runs::job).load(conn)
}

/// Start the scheduler with the jobs whose cron string is not empty. A tick while the previous
/// run of the same job is still going is skipped.
pub async fn start(state: AppState) -> anyhow::Result<Option<JobScheduler>> {
    let enabled: Vec<(Job, String)> = Job::ALL
        .into_iter()
        .map(|j| (j, j.cron(&state.settings.jobs).trim().to_owned()))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    if enabled.is_empty() {
        return Ok(None);
    }
    let sched = JobScheduler::new().await?;
    for (job, cron) in enabled {
        let st = state.clone();
        let busy = Arc::new(AtomicBool::new(false));
        let cron_job = CronJob::new_async_tz(cron.as_str(), state.offset, move |_id, _l| {
            let st = st.clone();
            let busy = busy.clone();
            Box::pin(async move {
                if busy.swap(true, Ordering::AcqRel) {
                    tracing::debug!(job = job.as_str(), "still running: tick skipped");
                    return;
                }
                match run(&st, job).await {
                    Ok(v) => tracing::debug!(job = job.as_str(), result = %v, "job ran"),
                    Err(e) => tracing::warn!(job = job.as_str(), error = %e, "job failed"),
                }
                busy.store(false, Ordering::Release);
            })
        })
        .map_err(|e| anyhow::anyhow!("jobs.{} = {cron:?}: {e}", job.as_str()))?;
        sched.add(cron_job).await?;
        tracing::info!(job = job.as_str(), cron = %cron, "scheduled");
    }
    sched.start().await?;
    Ok(Some(sched))
}
