//! Scheduled jobs: the scheduler's wiring and nothing else. A cron tick only says "look now":
//! what is due comes from the database, and unique keys make every job idempotent, so two
//! ticks, two instances or a restart never send a reminder twice (DESIGN principles 6 and 7).
//! The work itself is in `services`.
//!
//! **Adding a job**: write an `async fn(AppState) -> Result<Value, AppError>` below (it calls
//! one or more use cases through [`AppState::run`]), add one line to [`JOBS`], and give it a
//! cron string under `[jobs.cron]` in `config/base.toml` (an empty string disables it; the
//! service refuses to start when a job has no entry or an entry names no job). It can then be
//! run by the scheduler, by `permits jobs run NAME`, by administrators
//! (`POST /api/v1/admin/jobs/NAME/run`) and by the tests ([`run`]).
//!
//! **When the database goes away** a run fails like any other (its use case gets 503 at
//! checkout, or loses its connection and rolls back), the failure is logged, and the next tick
//! tries again: that is all the backing off there is, and all there needs to be, since a tick
//! only says "look now" and a run that cannot get a connection costs one checkout timeout. No
//! failure stops the scheduler or the job. An exclusive run whose end cannot be recorded keeps
//! retrying to record it until the database answers, so that its lease does not keep the job
//! from running everywhere until the lease expires.
//!
//! **On shutdown** ([`wind_down`]) no new run starts, a run in progress ends after what it is
//! doing (the outbox sender finishes the letters in flight and starts no other, the permit
//! uploads stop between uploads; the other jobs are one transaction each, which commits or, if
//! the process has to exit first, rolls back), and then this instance's untried claims and its
//! leases are released.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

use crate::app::AppState;
use crate::config::Settings;
use crate::error::AppError;
use crate::services::{digest, job_runs, outbox, queues, scan};

/// A job's future: boxed, so that the table holds one type.
pub type Running = Pin<Box<dyn Future<Output = Result<Value, AppError>> + Send>>;

/// A job: its name (also its key under `[jobs.cron]` and on the command line), whether one
/// instance at a time runs it, what it does, and the function that does it.
pub struct Job {
    pub name: &'static str,
    /// One instance at a time (others skip while it holds the lease). The outbox sender runs
    /// everywhere at once: SKIP LOCKED shares the rows out.
    pub exclusive: bool,
    pub about: &'static str,
    run: fn(AppState) -> Running,
}

/// Every job.
pub static JOBS: &[Job] = &[
    Job {
        name: "deadline_scan",
        exclusive: true,
        about: "Escalate yellow and red filings to managers; remind applicants of their deadlines",
        run: |s| Box::pin(deadline_scan(s)),
    },
    Job {
        name: "digest",
        exclusive: true,
        about: "Each member of queue staff gets the day's work list",
        run: |s| Box::pin(digest(s)),
    },
    Job {
        name: "outbox",
        exclusive: false,
        about: "Send what the outbox holds",
        run: |s| Box::pin(outbox(s)),
    },
    Job {
        name: "release_stale_claims",
        exclusive: true,
        about: "Return claims left untouched for too long to the queue",
        run: |s| Box::pin(release_stale_claims(s)),
    },
    Job {
        name: "documents",
        exclusive: false,
        about: "Render and seal documents an action issued but did not render (after a crash)",
        run: |s| Box::pin(documents(s)),
    },
    Job {
        name: "exchange",
        exclusive: true,
        about: "Copy the reported transitions to the province's SPGL front database",
        run: |s| Box::pin(exchange(s)),
    },
    Job {
        name: "platform",
        exclusive: true,
        about: "Upload issued permits to the 建筑市场监管 platform",
        run: |s| Box::pin(platform(s)),
    },
    Job {
        name: "draw",
        exclusive: true,
        about: "Draw the spot checks waiting (the daily mode) and finish draws left undone",
        run: |s| Box::pin(draw(s)),
    },
    Job {
        name: "audit_seal",
        exclusive: true,
        about: "Seal the heads of the audit chains that grew since the last seal",
        run: |s| Box::pin(audit_seal(s)),
    },
];

/// The job of this name.
pub fn find(name: &str) -> Option<&'static Job> {
    JOBS.iter().find(|j| j.name == name)
}

/// Every job's name, in the table's order.
pub fn names() -> impl Iterator<Item = &'static str> {
    JOBS.iter().map(|j| j.name)
}

fn to_json<T: Serialize>(v: T) -> Result<Value, AppError> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.into()))
}

/// Run the job `name` once, now (404 for no such job). An exclusive job another instance is
/// running is skipped.
pub async fn run(state: &AppState, name: &str) -> Result<Value, AppError> {
    let job = find(name).ok_or(AppError::NotFound)?;
    // Held for the whole run, whoever started it (a tick, an administrator): shutdown waits
    // for it before giving back this instance's claims. Once shutdown has begun: 503.
    let Some(_run) = state.shutdown.job_run() else {
        return Err(AppError::Unavailable);
    };
    let started = Instant::now();
    let span = tracing::info_span!("job", otel.name = %format!("job {}", job.name), job = job.name);
    let result = tracing::Instrument::instrument(run_job(state, job), span).await;
    let outcome = match &result {
        Ok(v) if v.get("skipped").is_some() => "skipped",
        Ok(_) => "ok",
        Err(_) => "error",
    };
    crate::metrics::job_run(job.name, outcome, started.elapsed());
    result
}

async fn run_job(state: &AppState, job: &'static Job) -> Result<Value, AppError> {
    if !job.exclusive {
        return (job.run)(state.clone()).await;
    }
    let instance = state.instance.clone();
    let started = state
        .run(move |conn, _| job_runs::start(conn, job.name, &instance))
        .await?;
    if !started {
        return Ok(json!({ "skipped": "running on another instance" }));
    }
    let result = (job.run)(state.clone()).await;
    let recorded: Result<Value, String> = match &result {
        Ok(v) => Ok(v.clone()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = record_end(state, job.name, recorded.clone()).await {
        tracing::warn!(job = job.name, error = %e, "recording the end of the run failed: retrying until the database answers");
        tokio::spawn(record_end_later(state.clone(), job.name, recorded));
    }
    result
}

/// Record how a run ended and let its lease go.
async fn record_end(
    state: &AppState,
    name: &'static str,
    recorded: Result<Value, String>,
) -> Result<(), AppError> {
    let recorded = recorded.map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")));
    state
        .run(move |conn, _| job_runs::finish(conn, name, &recorded))
        .await
}

/// Record the end of a run whose end could not be recorded (the database was away), every two
/// seconds until it works or the lease has expired anyway.
async fn record_end_later(state: AppState, name: &'static str, recorded: Result<Value, String>) {
    let wait = Duration::from_secs(2);
    let tries = u64::try_from(job_runs::LEASE_SECONDS).unwrap_or(600) / wait.as_secs();
    for _ in 0..tries {
        tokio::time::sleep(wait).await;
        if record_end(&state, name, recorded.clone()).await.is_ok() {
            tracing::info!(
                job = name,
                "the end of the run is recorded: its lease is released"
            );
            return;
        }
    }
}

/// Every job has a cron entry and every entry names a job.
pub fn check_schedule(settings: &Settings) -> anyhow::Result<()> {
    let cron = &settings.jobs.cron;
    if let Some(unknown) = cron.keys().find(|k| find(k).is_none()) {
        anyhow::bail!(
            "jobs.cron.{unknown} names no job (jobs: {})",
            names().collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(missing) = names().find(|n| !cron.contains_key(*n)) {
        anyhow::bail!(
            "jobs.cron.{missing} is missing: give it a cron string, or \"\" to disable the job"
        );
    }
    Ok(())
}

/// Start the scheduler with the jobs whose cron string is not empty. A tick while the previous
/// run of the same job is still going is skipped.
pub async fn start(state: AppState) -> anyhow::Result<Option<JobScheduler>> {
    check_schedule(&state.settings)?;
    let enabled: Vec<(&'static Job, String)> = JOBS
        .iter()
        .filter_map(|j| {
            let cron = state.settings.jobs.cron.get(j.name)?.trim();
            (!cron.is_empty()).then(|| (j, cron.to_owned()))
        })
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
                if st.shutdown.begun() {
                    tracing::debug!(job = job.name, "shutting down: tick skipped");
                    return;
                }
                if busy.swap(true, Ordering::AcqRel) {
                    tracing::debug!(job = job.name, "still running: tick skipped");
                    return;
                }
                match run(&st, job.name).await {
                    Ok(v) => tracing::debug!(job = job.name, result = %v, "job ran"),
                    Err(e) => tracing::warn!(job = job.name, error = %e, "job failed"),
                }
                busy.store(false, Ordering::Release);
            })
        })
        .map_err(|e| anyhow::anyhow!("jobs.cron.{} = {cron:?}: {e}", job.name))?;
        sched.add(cron_job).await?;
        tracing::info!(job = job.name, cron = %cron, "scheduled");
    }
    sched.start().await?;
    Ok(Some(sched))
}

/// The jobs' part of a shutdown that has begun ([`crate::app::Shutdown::begin`]): stop the
/// scheduler, wait until `deadline` for the runs in progress, then release this instance's
/// outbox claims and job leases. When a run is still going at the deadline nothing is
/// released: its sends may be under way, and its claims end with their lease.
pub async fn wind_down(state: &AppState, scheduler: Option<JobScheduler>, deadline: Instant) {
    if let Some(mut s) = scheduler {
        match s.shutdown().await {
            Ok(()) => tracing::info!("shutdown: the scheduler stopped; no new job run starts"),
            Err(e) => {
                tracing::warn!(error = %e, "shutdown: stopping the scheduler failed; no new job run starts")
            }
        }
    }
    let waited = tokio::time::timeout_at(deadline.into(), state.shutdown.runs_finished()).await;
    if waited.is_err() {
        tracing::warn!(
            "shutdown: a job run did not finish in time; its transaction rolls back as the process exits, and its claims end with their lease"
        );
        return;
    }
    tracing::info!("shutdown: no job run in progress");
    let instance = state.instance.clone();
    let released = state
        .run(move |conn, ctx| {
            Ok((
                outbox::release(conn, ctx, &instance)?,
                job_runs::release(conn, &instance)?,
            ))
        })
        .await;
    match released {
        Ok((claims, leases)) => tracing::info!(
            outbox_claims = claims,
            job_leases = leases,
            "shutdown: this instance's claims and leases released"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "shutdown: releasing this instance's claims and leases failed; they end with their lease")
        }
    }
}

/// Fold the reports' `open_due` aggregate, then, on a working day, escalate filings that
/// turned red or yellow and remind applicants of their deadlines: side by side when a second
/// connection is free now (they lock different rows), one after the other otherwise.
pub async fn deadline_scan(state: AppState) -> Result<Value, AppError> {
    let jobs = state.settings.jobs.clone();
    let (open_due_rows, rest_day) = state
        .run(move |conn, ctx| Ok((scan::fold_open_due(conn)?, ctx.is_rest_day(&jobs)?)))
        .await?;
    // Deadlines that passed move their filings on rest days too (the last day of a period
    // on a rest day was already moved to the next working day).
    let expired = state.run(scan::expire).await?;
    if rest_day {
        return to_json(scan::ScanReport {
            rest_day: true,
            open_due_rows,
            expired,
            ..scan::ScanReport::default()
        });
    }
    let escalating = state.run(scan::escalate);
    let (escalated, reminded) = match state.try_run(scan::remind) {
        Some(reminding) => futures_util::future::join(escalating, reminding).await,
        None => {
            let escalated = escalating.await;
            (escalated, state.run(scan::remind).await)
        }
    };
    let (escalated, reminded) = (escalated?, reminded?);
    to_json(scan::ScanReport {
        rest_day: false,
        yellow_filings: escalated.yellow_filings,
        red_filings: escalated.red_filings,
        reminders: reminded.reminders,
        mails: escalated.mails + reminded.mails,
        open_due_rows,
        expired,
    })
}

pub async fn digest(state: AppState) -> Result<Value, AppError> {
    let jobs = state.settings.jobs.clone();
    to_json(
        state
            .run(move |conn, ctx| digest::digest(conn, ctx, &jobs))
            .await?,
    )
}

pub async fn release_stale_claims(state: AppState) -> Result<Value, AppError> {
    let jobs = state.settings.jobs.clone();
    to_json(
        state
            .run(move |conn, ctx| queues::release_stale_claims(conn, ctx, &jobs))
            .await?,
    )
}

/// Documents still pending. Every instance may run this at once: a document two render is
/// stored once (the first file stands; see `services::documents::render`).
pub async fn documents(state: AppState) -> Result<Value, AppError> {
    let rendered = state
        .run(|conn, ctx| crate::services::documents::render_pending(conn, ctx, None, 100))
        .await?;
    Ok(serde_json::json!({ "rendered": rendered }))
}

/// The SPGL export (services::exchange): due rows to the front database, batch by batch.
pub async fn exchange(state: AppState) -> Result<Value, AppError> {
    let front = state.front.clone();
    to_json(
        state
            .run(move |conn, ctx| crate::services::exchange::export(conn, ctx, &front))
            .await?,
    )
}

/// The permit uploads due: build and sign each (a use case), send outside any transaction,
/// record each result (a use case).
pub async fn platform(state: AppState) -> Result<Value, AppError> {
    use crate::services::exchange as x;
    let outgoing = state.run(x::outgoing).await?;
    let mut report = x::UploadReport::default();
    for u in outgoing {
        if state.shutdown.begun() {
            // The rest wait for the next run, on this instance or another.
            break;
        }
        let result = x::send(&state.http, &state.settings, &u)
            .await
            .map_err(|e| format!("{e:#}"));
        match &result {
            Ok(_) => report.sent += 1,
            Err(e) => {
                tracing::warn!(certificate = %u.identifier, error = %e, "the permit upload failed; it waits");
                report.failed += 1;
                report.error = Some(e.clone());
            }
        }
        let max = state.settings.exchange.backoff_max_seconds;
        state
            .run(move |conn, ctx| x::record(conn, ctx, &u, &result, max))
            .await?;
    }
    to_json(report)
}

/// The spot-check draw (services::draw): commit, seal, draw, move the filings on.
pub async fn draw(state: AppState) -> Result<Value, AppError> {
    to_json(state.run(crate::services::draw::run).await?)
}

pub async fn audit_seal(state: AppState) -> Result<Value, AppError> {
    to_json(
        state
            .run(|conn, ctx| crate::services::audit::seal(conn, ctx.now))
            .await?,
    )
}

/// Send everything due, batch after batch, until nothing is due: claim (a use case), send
/// outside any transaction, record (a use case).
pub async fn outbox(state: AppState) -> Result<Value, AppError> {
    to_json(send_due(&state).await?)
}

/// Claim a batch of due rows for this instance.
pub async fn claim(state: &AppState) -> Result<Vec<outbox::Claimed>, AppError> {
    let mail = state.settings.mail.clone();
    let instance = state.instance.clone();
    state
        .run(move |conn, ctx| outbox::claim(conn, ctx, &mail, &instance))
        .await
}

/// Send claimed rows, `mail.pool_size` at a time. A row whose lease is about to end is left
/// alone: another sender may claim it, and two sends must not overlap.
pub async fn send(
    state: &AppState,
    rows: Vec<outbox::Claimed>,
    claimed_at: Instant,
) -> Vec<outbox::Attempt> {
    let mail = &state.settings.mail;
    let from: lettre::message::Mailbox = match mail.from.parse() {
        Ok(m) => m,
        Err(e) => {
            // Settings::validate checks this at start; keep the rows for a fixed configuration.
            tracing::error!(error = %e, "mail.from is not a mailbox");
            return Vec::new();
        }
    };
    let usable = Duration::from_secs(mail.lease_seconds)
        .saturating_sub(Duration::from_secs(mail.timeout_seconds));
    let attempts: std::collections::HashMap<i64, i32> =
        rows.iter().map(|r| (r.mail.id, r.attempts)).collect();
    state
        .mailer
        .send_all(
            &from,
            rows.into_iter().map(|r| r.mail).collect(),
            mail.pool_size as usize,
            claimed_at + usable,
        )
        .await
        .into_iter()
        .map(|(id, result)| outbox::Attempt {
            id,
            attempts: attempts.get(&id).copied().unwrap_or_default(),
            result,
        })
        .collect()
}

pub async fn send_due(state: &AppState) -> Result<outbox::OutboxReport, AppError> {
    let batch = state.settings.mail.batch_size as usize;
    let mut total = outbox::OutboxReport::default();
    loop {
        if state.shutdown.begun() {
            // The rest are sent by the next run, on another instance or after the restart.
            break;
        }
        let claimed_at = Instant::now();
        let rows = claim(state).await?;
        let n = rows.len();
        if n == 0 {
            break;
        }
        let (tried, r) = send_and_record(state, rows, claimed_at).await?;
        total.claimed += n;
        total.sent += r.sent;
        total.retrying += r.retrying;
        total.parked += r.parked;
        total.left += n - tried;
        if n < batch || tried < n {
            break;
        }
    }
    Ok(total)
}

/// Send claimed rows, `mail.pool_size` at a time, recording each as soon as its server
/// answered: a sender killed mid-batch sends again (after the lease) only the one letter it was
/// sending, not every letter of its batch. A row whose lease is about to end is left alone.
/// How many were tried, and what was recorded.
pub async fn send_and_record(
    state: &AppState,
    rows: Vec<outbox::Claimed>,
    claimed_at: Instant,
) -> Result<(usize, outbox::OutboxReport), AppError> {
    use futures_util::StreamExt;
    let mail = &state.settings.mail;
    let from: lettre::message::Mailbox = match mail.from.parse() {
        Ok(m) => m,
        Err(e) => {
            // Settings::validate checks this at start; keep the rows for a fixed configuration.
            tracing::error!(error = %e, "mail.from is not a mailbox");
            return Ok((0, outbox::OutboxReport::default()));
        }
    };
    let usable = Duration::from_secs(mail.lease_seconds)
        .saturating_sub(Duration::from_secs(mail.timeout_seconds));
    let start_by = claimed_at + usable;
    let from = &from;
    let results: Vec<Option<Result<outbox::OutboxReport, AppError>>> =
        futures_util::stream::iter(rows)
            .map(|r| async move {
                // Shutting down: the letters in flight finish, the rest are given back
                // (`wind_down`) for another instance to send now.
                if Instant::now() > start_by || state.shutdown.begun() {
                    return None;
                }
                let result = state.mailer.send(from, &r.mail).await;
                let attempt = outbox::Attempt {
                    id: r.mail.id,
                    attempts: r.attempts,
                    result,
                };
                let mail = state.settings.mail.clone();
                Some(
                    state
                        .run(move |conn, ctx| outbox::record(conn, ctx, &mail, vec![attempt]))
                        .await,
                )
            })
            .buffer_unordered(mail.pool_size.max(1) as usize)
            .collect()
            .await;
    let mut total = outbox::OutboxReport::default();
    let mut tried = 0;
    for r in results.into_iter().flatten() {
        tried += 1;
        let r = r?;
        crate::metrics::outbox(r.sent, r.retrying, r.parked);
        total.sent += r.sent;
        total.retrying += r.retrying;
        total.parked += r.parked;
    }
    Ok((tried, total))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Environment;

    fn settings() -> Settings {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Settings::load(&root, Environment::Demo).unwrap()
    }

    #[test]
    fn the_shipped_configuration_schedules_every_job_and_names_no_other() {
        let s = settings();
        check_schedule(&s).unwrap();
        assert_eq!(
            s.jobs.cron.keys().map(String::as_str).collect::<Vec<_>>(),
            {
                let mut n: Vec<_> = names().collect();
                n.sort();
                n
            }
        );
    }

    #[test]
    fn a_job_without_a_cron_entry_or_an_entry_for_no_job_is_refused_by_name() {
        let mut s = settings();
        s.jobs.cron.remove("digest");
        let err = check_schedule(&s).unwrap_err().to_string();
        assert!(err.contains("jobs.cron.digest is missing"), "{err}");

        let mut s = settings();
        s.jobs.cron.insert("dedline_scan".into(), String::new());
        let err = check_schedule(&s).unwrap_err().to_string();
        assert!(err.contains("jobs.cron.dedline_scan names no job"), "{err}");
    }

    #[test]
    fn every_job_name_is_unique_and_found_by_name() {
        for j in JOBS {
            assert!(std::ptr::eq(find(j.name).unwrap(), j), "{}", j.name);
        }
        assert!(find("no_such_job").is_none());
    }
}
