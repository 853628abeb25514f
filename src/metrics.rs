//! Prometheus metrics: what the process counts as it goes (requests, actions, jobs, mail, the
//! wait for a connection) and what a scrape reads from the database (open filings, overdue,
//! queues, backlogs, job runs, the audit seal's age).
//!
//! Names start with `permits_`; labels are bounded sets (route templates, item codes, states,
//! action codes, departments, job names), never a filing's id or a user. Durations are in
//! seconds, as Prometheus's conventions ask. The recorder is global (one per process), made on
//! first use; `render` answers a scrape in the text format (`text/plain; version=0.0.4`).

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;
use crate::error::AppError;

/// The content type of a scrape's answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request and database latencies: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Jobs: 10 ms to 10 minutes.
const JOB_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first call. `None` if another recorder was installed
/// first (a host program's own): then nothing is recorded here and `/metrics` says so.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("permits_job_duration_seconds".into()),
                        JOB_BUCKETS,
                    )
                })
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            gauge!("permits_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "permits_http_requests_total",
        "HTTP requests answered, by route template, method and status"
    );
    describe_histogram!(
        "permits_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by route template and method"
    );
    describe_counter!(
        "permits_actions_total",
        "Actions asked for, by item, action and outcome (done, conflict, invalid, forbidden, not_found, error)"
    );
    describe_gauge!("permits_filings_open", "Open filings, by item and state");
    describe_gauge!(
        "permits_filings_overdue",
        "Open filings past their statutory due day, by item"
    );
    describe_gauge!(
        "permits_filings_due_soon",
        "Open filings due today or in the next 3 days, by item"
    );
    describe_gauge!(
        "permits_queue_waiting",
        "Open tasks no one has claimed, by department"
    );
    describe_gauge!("permits_queue_claimed", "Open tasks claimed, by department");
    describe_gauge!("permits_outbox_pending", "Letters waiting to be sent");
    describe_gauge!(
        "permits_outbox_parked",
        "Letters given up on after their last attempt (an administrator may retry them)"
    );
    describe_gauge!(
        "permits_outbox_oldest_pending_age_seconds",
        Unit::Seconds,
        "Age of the oldest letter waiting to be sent (0 when none waits)"
    );
    describe_counter!("permits_outbox_sent_total", "Letters sent by this instance");
    describe_counter!(
        "permits_outbox_retried_total",
        "Letters this instance failed to send and will try again"
    );
    describe_counter!(
        "permits_outbox_parked_total",
        "Letters this instance gave up on"
    );
    describe_gauge!(
        "permits_exchange_pending",
        "Rows waiting for the SPGL front database"
    );
    describe_gauge!(
        "permits_exchange_oldest_pending_age_seconds",
        Unit::Seconds,
        "Age of the oldest row waiting for the SPGL front database (0 when none waits)"
    );
    describe_counter!(
        "permits_job_runs_total",
        "Job runs on this instance, by job and result (ok, error, skipped)"
    );
    describe_histogram!(
        "permits_job_duration_seconds",
        Unit::Seconds,
        "Time a job run took on this instance"
    );
    describe_gauge!(
        "permits_job_last_success_timestamp_seconds",
        Unit::Seconds,
        "When an exclusive job last finished without error, on any instance (Unix time)"
    );
    describe_gauge!(
        "permits_job_failing",
        "1 when an exclusive job's last run failed"
    );
    describe_gauge!(
        "permits_db_pool_connections",
        "The pool's connections, by state (idle, in_use)"
    );
    describe_gauge!("permits_db_pool_size", "The pool's largest size");
    describe_gauge!(
        "permits_db_replica_lag_seconds",
        Unit::Seconds,
        "How far behind the primary the read replica (database.read_url) is"
    );
    describe_gauge!(
        "permits_db_replica_up",
        "1 when the read replica could be read (only with database.read_url)"
    );
    describe_histogram!(
        "permits_db_pool_wait_seconds",
        Unit::Seconds,
        "Time a use case waited for a database connection"
    );
    describe_gauge!(
        "permits_audit_seal_age_seconds",
        Unit::Seconds,
        "Time since the audit log was last sealed (absent before the first seal)"
    );
    describe_gauge!(
        "permits_database_up",
        "1 when this scrape could read the database"
    );
    describe_gauge!("permits_build_info", "The running version");
}

/// One HTTP request answered.
pub fn http_request(method: &str, route: &str, status: u16, took: Duration) {
    if HANDLE.get().is_none() {
        return;
    }
    let (method, route) = (method.to_owned(), route.to_owned());
    histogram!("permits_http_request_duration_seconds", "method" => method.clone(), "route" => route.clone())
        .record(took.as_secs_f64());
    counter!("permits_http_requests_total", "method" => method, "route" => route, "status" => status.to_string())
        .increment(1);
}

/// An action asked for and what came of it. `item` is `None` when the filing was not found
/// (or not visible); `action` is `other` when the item has no such action.
pub fn action(item: Option<&str>, action: &str, result: &Result<impl Sized, AppError>) {
    if HANDLE.get().is_none() {
        return;
    }
    let outcome = match result {
        Ok(_) => "done",
        Err(AppError::Conflict { .. }) => "conflict",
        Err(AppError::Validation(_)) => "invalid",
        Err(AppError::Forbidden) => "forbidden",
        Err(AppError::NotFound | AppError::NoSuch(_)) => "not_found",
        Err(_) => "error",
    };
    counter!(
        "permits_actions_total",
        "item" => item.unwrap_or("unknown").to_owned(),
        "action" => action.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

/// A job run: `result` is ok, error or skipped (an exclusive job running elsewhere).
pub fn job_run(job: &'static str, result: &'static str, took: Duration) {
    if HANDLE.get().is_none() {
        return;
    }
    counter!("permits_job_runs_total", "job" => job, "result" => result).increment(1);
    histogram!("permits_job_duration_seconds", "job" => job).record(took.as_secs_f64());
}

/// Letters this instance sent, will retry, and gave up on.
pub fn outbox(sent: usize, retried: usize, parked: usize) {
    if HANDLE.get().is_none() {
        return;
    }
    counter!("permits_outbox_sent_total").increment(sent as u64);
    counter!("permits_outbox_retried_total").increment(retried as u64);
    counter!("permits_outbox_parked_total").increment(parked as u64);
}

/// A use case's wait for a connection (the gate and the pool's checkout).
pub fn pool_wait(took: Duration) {
    if HANDLE.get().is_none() {
        return;
    }
    histogram!("permits_db_pool_wait_seconds").record(took.as_secs_f64());
}

/// Gauges whose label sets come and go (a state no filing is in any more): a set seen before
/// and absent now is set to 0, not left at its last value.
struct Family {
    name: &'static str,
    seen: Mutex<BTreeSet<Vec<(&'static str, String)>>>,
}

impl Family {
    const fn new(name: &'static str) -> Family {
        Family {
            name,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    fn set(&self, values: Vec<(Vec<(&'static str, String)>, f64)>) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        let now: BTreeSet<_> = values.iter().map(|(l, _)| l.clone()).collect();
        for gone in seen.difference(&now) {
            gauge!(self.name, labels(gone)).set(0.0);
        }
        for (l, v) in &values {
            gauge!(self.name, labels(l)).set(*v);
        }
        seen.extend(now);
    }
}

fn labels(l: &[(&'static str, String)]) -> Vec<metrics::Label> {
    l.iter()
        .map(|(k, v)| metrics::Label::new(*k, v.clone()))
        .collect()
}

static OPEN: Family = Family::new("permits_filings_open");
static OVERDUE: Family = Family::new("permits_filings_overdue");
static DUE_SOON: Family = Family::new("permits_filings_due_soon");
static WAITING: Family = Family::new("permits_queue_waiting");
static CLAIMED: Family = Family::new("permits_queue_claimed");
static JOB_SUCCESS: Family = Family::new("permits_job_last_success_timestamp_seconds");
static JOB_FAILING: Family = Family::new("permits_job_failing");

/// Answer a scrape: read the database's facts into the gauges, then render everything. When
/// the database cannot be read, the process's own metrics are still served, with
/// `permits_database_up 0`.
pub async fn render(state: &AppState) -> Option<String> {
    let handle = install()?;
    // One scrape at a time: the gauges are set and rendered together.
    static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = SCRAPE.lock().await;
    let today = state.today();
    let now = state.clock.now();
    let sampled = state
        .run(move |conn, _| {
            Ok(crate::repo::metrics::sample(
                conn,
                today,
                crate::repo::metrics::soon(today),
            )?)
        })
        .await;
    match sampled {
        Ok(s) => {
            gauge!("permits_database_up").set(1.0);
            let age = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
            };
            OPEN.set(
                s.open
                    .iter()
                    .map(|o| {
                        (
                            vec![("item", o.item_code.clone()), ("state", o.state.clone())],
                            o.n as f64,
                        )
                    })
                    .collect(),
            );
            OVERDUE.set(
                s.due
                    .iter()
                    .map(|d| (vec![("item", d.item_code.clone())], d.overdue as f64))
                    .collect(),
            );
            DUE_SOON.set(
                s.due
                    .iter()
                    .map(|d| (vec![("item", d.item_code.clone())], d.due_soon as f64))
                    .collect(),
            );
            WAITING.set(
                s.queues
                    .iter()
                    .map(|q| (vec![("department", q.department.clone())], q.waiting as f64))
                    .collect(),
            );
            CLAIMED.set(
                s.queues
                    .iter()
                    .map(|q| (vec![("department", q.department.clone())], q.claimed as f64))
                    .collect(),
            );
            gauge!("permits_outbox_pending").set(s.outbox.pending as f64);
            gauge!("permits_outbox_parked").set(s.outbox.failed as f64);
            gauge!("permits_outbox_oldest_pending_age_seconds")
                .set(age(s.outbox.oldest).unwrap_or(0.0));
            gauge!("permits_exchange_pending").set(s.exchange.pending as f64);
            gauge!("permits_exchange_oldest_pending_age_seconds")
                .set(age(s.exchange.oldest).unwrap_or(0.0));
            JOB_SUCCESS.set(
                s.jobs
                    .iter()
                    .filter_map(|j| {
                        j.last_success_at
                            .map(|t| (vec![("job", j.job.clone())], t.timestamp() as f64))
                    })
                    .collect(),
            );
            JOB_FAILING.set(
                s.jobs
                    .iter()
                    .map(|j| (vec![("job", j.job.clone())], f64::from(u8::from(j.failed))))
                    .collect(),
            );
            if let Some(age) = age(s.last_seal) {
                gauge!("permits_audit_seal_age_seconds").set(age);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics: the database could not be read");
            gauge!("permits_database_up").set(0.0);
        }
    }
    if state.read_pool.is_some() {
        match state.replica_lag().await {
            Ok(Some(lag)) => {
                gauge!("permits_db_replica_up").set(1.0);
                gauge!("permits_db_replica_lag_seconds").set(lag);
            }
            Ok(None) => gauge!("permits_db_replica_up").set(1.0),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: the read replica could not be read");
                gauge!("permits_db_replica_up").set(0.0);
            }
        }
    }
    let pool = state.pool.state();
    let size = state.pool.max_size();
    gauge!("permits_db_pool_size").set(f64::from(size));
    gauge!("permits_db_pool_connections", "state" => "idle").set(f64::from(pool.idle_connections));
    gauge!("permits_db_pool_connections", "state" => "in_use")
        .set(f64::from(pool.connections - pool.idle_connections));
    handle.run_upkeep();
    Some(handle.render())
}

/// Drain the histograms now and then even when no one scrapes (they buffer until rendered).
pub async fn upkeep() {
    let Some(handle) = install() else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}
