//! What `/metrics` reads from the database at each scrape: a handful of aggregate queries, each
//! on an index or a small table, so a scrape every 15 s costs the database little.
//!
//! These are facts of the whole database, the same from every instance: dashboards take `max`
//! over instances, not `sum`.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};

#[derive(Debug, QueryableByName)]
pub struct OpenByState {
    #[diesel(sql_type = Text)]
    pub item_code: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

#[derive(Debug, QueryableByName)]
pub struct QueueDepth {
    #[diesel(sql_type = Text)]
    pub department: String,
    #[diesel(sql_type = BigInt)]
    pub waiting: i64,
    #[diesel(sql_type = BigInt)]
    pub claimed: i64,
}

#[derive(Debug, QueryableByName)]
pub struct Backlog {
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub oldest: Option<DateTime<Utc>>,
}

#[derive(Debug, QueryableByName)]
pub struct JobState {
    #[diesel(sql_type = Text)]
    pub job: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_finished_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_success_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub failed: bool,
}

#[derive(Debug, QueryableByName)]
struct At {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

/// One scrape's facts.
#[derive(Debug)]
pub struct Sample {
    pub open: Vec<OpenByState>,
    pub due: Vec<super::reports::DueCount>,
    pub queues: Vec<QueueDepth>,
    pub outbox: Backlog,
    pub exchange: Backlog,
    pub jobs: Vec<JobState>,
    pub last_seal: Option<DateTime<Utc>>,
}

/// Read the facts in one transaction (one snapshot: the numbers agree with each other).
pub fn sample(conn: &mut PgConnection, today: NaiveDate, soon: NaiveDate) -> QueryResult<Sample> {
    conn.build_transaction().read_only().run(|conn| {
        // Open filings are few next to closed ones; the partial index on open filings bounds
        // the scan to them.
        let open = diesel::sql_query(
            "SELECT item_code, state, count(*) AS n FROM filings \
             WHERE closed_at IS NULL GROUP BY item_code, state",
        )
        .load(conn)?;
        let due = super::reports::due_counts(conn, today, soon, None)?;
        let queues = diesel::sql_query(
            "SELECT department, count(*) FILTER (WHERE claimed_by IS NULL) AS waiting, \
               count(*) FILTER (WHERE claimed_by IS NOT NULL) AS claimed \
             FROM tasks WHERE closed_at IS NULL GROUP BY department",
        )
        .load(conn)?;
        let outbox = diesel::sql_query(
            "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending') AS pending, \
               (SELECT count(*) FROM outbox WHERE status = 'failed') AS failed, \
               (SELECT min(created_at) FROM outbox WHERE status = 'pending') AS oldest",
        )
        .get_result(conn)?;
        let exchange = diesel::sql_query(
            "SELECT (SELECT count(*) FROM exchange_rows WHERE status = 'pending') AS pending, \
               (SELECT count(*) FROM exchange_rows WHERE status = 'pending' AND attempts > 0) AS failed, \
               (SELECT min(at) FROM exchange_rows WHERE status = 'pending') AS oldest",
        )
        .get_result(conn)?;
        let jobs = diesel::sql_query(
            "SELECT job, last_finished_at, \
               CASE WHEN last_error IS NULL THEN last_finished_at END AS last_success_at, \
               (last_error IS NOT NULL) AS failed \
             FROM job_runs",
        )
        .load(conn)?;
        let last_seal = diesel::sql_query("SELECT max(sealed_at) AS at FROM audit_seals")
            .get_result::<At>(conn)?
            .at;
        Ok(Sample {
            open,
            due,
            queues,
            outbox,
            exchange,
            jobs,
            last_seal,
        })
    })
}

/// The due window of the `due_soon` gauge: from today to this many days ahead.
pub const SOON_DAYS: u64 = 3;

/// `soon` for [`sample`].
pub fn soon(today: NaiveDate) -> NaiveDate {
    today
        .checked_add_days(chrono::Days::new(SOON_DAYS))
        .unwrap_or(today)
}

#[derive(QueryableByName)]
struct Lag {
    #[diesel(sql_type = Nullable<diesel::sql_types::Double>)]
    lag: Option<f64>,
}

/// How far behind the primary a replica is, in seconds: 0 when it streams from the primary
/// and has replayed all it received; else the time since the last transaction it replayed
/// (streaming stopped: an upper bound, the honest figure). `None` on a primary.
pub fn replica_lag(conn: &mut PgConnection) -> QueryResult<Option<f64>> {
    Ok(diesel::sql_query(
        "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL \
           WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() \
             AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0::float8 \
           ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::float8 END AS lag",
    )
    .get_result::<Lag>(conn)?
    .lag)
}
