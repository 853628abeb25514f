//! The exchange outboxes: rows for the province's SPGL front database (one per reported
//! transition, written with the action) and the uploads of issued permits to the 建筑市场监管
//! platform (one per certificate, written with its issue).
//!
//! Both are read by exclusive jobs (one instance at a time), in id order, so a filing's rows
//! reach the front database in the order they happened.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text as SqlText, Timestamptz};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::db::batch::Batch;
use crate::db::schema::{exchange_rows, platform_uploads};

/// A reported transition, as the action writes it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = exchange_rows)]
pub struct NewExchangeRow {
    pub filing_id: Uuid,
    pub filing_number: String,
    pub action: String,
    pub blzt: i16,
    pub department: String,
    pub actor_id: Uuid,
    pub actor_name: String,
    pub opinion: Option<String>,
    pub at: DateTime<Utc>,
    pub special: Option<Value>,
    pub next_attempt_at: DateTime<Utc>,
}

/// Insert the action's rows with the rest of its statement.
pub fn insert_in(batch: &mut Batch, rows: &[NewExchangeRow]) {
    if !rows.is_empty() {
        batch.push(diesel::insert_into(exchange_rows::table).values(rows.to_vec()));
    }
}

/// A pending row with what the front database's rows need from its filing and item.
#[derive(Debug, Clone, QueryableByName)]
pub struct Pending {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub filing_id: Uuid,
    #[diesel(sql_type = SqlText)]
    pub filing_number: String,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    pub blzt: i16,
    #[diesel(sql_type = SqlText)]
    pub department: String,
    #[diesel(sql_type = SqlText)]
    pub department_name: String,
    #[diesel(sql_type = SqlText)]
    pub actor_name: String,
    #[diesel(sql_type = Nullable<SqlText>)]
    pub opinion: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Jsonb>)]
    pub special: Option<Value>,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub attempts: i32,
    /// The filing now: its item version, form (project code), channel and receiving office.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub item_version_id: i32,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    pub form: Value,
    #[diesel(sql_type = Nullable<diesel::sql_types::SmallInt>)]
    pub channel: Option<i16>,
    #[diesel(sql_type = SqlText)]
    pub filing_department: String,
    #[diesel(sql_type = SqlText)]
    pub filing_department_name: String,
}

/// The pending rows, oldest first, when the oldest is due (a row that failed holds back those
/// after it, so that a filing's rows arrive in order). Only one exporter runs at a time (an
/// exclusive job): rows are read, not claimed.
pub fn due(conn: &mut PgConnection, now: DateTime<Utc>, limit: i64) -> QueryResult<Vec<Pending>> {
    diesel::sql_query(
        "SELECT x.id, x.filing_id, x.filing_number, x.blzt, x.department, \
                coalesce(xd.name_zh, x.department) AS department_name, x.actor_name, x.opinion, \
                x.at, x.special, x.attempts, f.item_version_id, f.form, f.channel, \
                f.department AS filing_department, \
                coalesce(fd.name_zh, f.department) AS filing_department_name \
         FROM exchange_rows x \
         JOIN filings f ON f.id = x.filing_id \
         LEFT JOIN departments xd ON xd.code = x.department \
         LEFT JOIN departments fd ON fd.code = f.department \
         WHERE x.status = 'pending' \
           AND (SELECT h.next_attempt_at FROM exchange_rows h WHERE h.status = 'pending' \
                ORDER BY h.id LIMIT 1) <= $1 \
         ORDER BY x.id LIMIT $2",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .get_results(conn)
}

/// Mark rows exported.
pub fn mark_exported(
    conn: &mut PgConnection,
    ids: &[i64],
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        exchange_rows::table
            .filter(exchange_rows::id.eq_any(ids))
            .filter(exchange_rows::status.eq("pending")),
    )
    .set((
        exchange_rows::status.eq("exported"),
        exchange_rows::exported_at.eq(at),
        exchange_rows::last_error.eq(None::<String>),
    ))
    .execute(conn)
}

/// The rows of a batch that failed: one more attempt each, due again at `retry_at`, with the
/// reason (the rows after them wait with them: see [`due`]).
pub fn mark_failed(
    conn: &mut PgConnection,
    ids: &[i64],
    error: &str,
    retry_at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE exchange_rows SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 \
         WHERE status = 'pending' AND id = ANY($3)",
    )
    .bind::<SqlText, _>(error)
    .bind::<Timestamptz, _>(retry_at)
    .bind::<Array<BigInt>, _>(ids)
    .execute(conn)
}

/// How the exchange stands, for administrators.
#[derive(Debug, Clone, Default, Serialize, QueryableByName, utoipa::ToSchema)]
pub struct Backlog {
    /// Rows not yet in the front database.
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    /// Of those, rows that failed at least once.
    #[diesel(sql_type = BigInt)]
    pub failing: i64,
    #[diesel(sql_type = BigInt)]
    pub exported: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub oldest_pending_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    #[diesel(sql_type = Nullable<SqlText>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_exported_at: Option<DateTime<Utc>>,
}

pub fn backlog(conn: &mut PgConnection) -> QueryResult<Backlog> {
    diesel::sql_query(
        "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, \
                count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS failing, \
                count(*) FILTER (WHERE status = 'exported') AS exported, \
                min(at) FILTER (WHERE status = 'pending') AS oldest_pending_at, \
                min(next_attempt_at) FILTER (WHERE status = 'pending') AS next_attempt_at, \
                (SELECT last_error FROM exchange_rows WHERE status = 'pending' \
                   AND last_error IS NOT NULL ORDER BY id LIMIT 1) AS last_error, \
                max(exported_at) AS last_exported_at \
         FROM exchange_rows",
    )
    .get_result(conn)
}

/// A filing's reported rows, in order (its page and the tests).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = exchange_rows, check_for_backend(diesel::pg::Pg))]
pub struct ExchangeRow {
    pub id: i64,
    pub action: String,
    pub blzt: i16,
    pub department: String,
    pub actor_name: String,
    pub opinion: Option<String>,
    pub at: DateTime<Utc>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub exported_at: Option<DateTime<Utc>>,
}

pub fn of_filing(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Vec<ExchangeRow>> {
    exchange_rows::table
        .filter(exchange_rows::filing_id.eq(filing))
        .order(exchange_rows::id)
        .select(ExchangeRow::as_select())
        .load(conn)
}

// ---- Permit uploads ----

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = platform_uploads)]
pub struct NewUpload {
    pub certificate_id: Uuid,
    pub filing_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub due_on: NaiveDate,
    pub next_attempt_at: DateTime<Utc>,
}

pub fn insert_upload(conn: &mut PgConnection, u: &NewUpload) -> QueryResult<usize> {
    diesel::insert_into(platform_uploads::table)
        .values(u)
        .on_conflict(platform_uploads::certificate_id)
        .do_nothing()
        .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = platform_uploads, check_for_backend(diesel::pg::Pg))]
pub struct UploadRow {
    pub id: i64,
    pub certificate_id: Uuid,
    pub filing_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub due_on: NaiveDate,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub response: Option<String>,
}

pub fn uploads_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<UploadRow>> {
    platform_uploads::table
        .filter(platform_uploads::status.eq("pending"))
        .filter(platform_uploads::next_attempt_at.le(now))
        .order(platform_uploads::id)
        .limit(limit)
        .select(UploadRow::as_select())
        .load(conn)
}

pub fn upload_sent(
    conn: &mut PgConnection,
    id: i64,
    at: DateTime<Utc>,
    response: &str,
) -> QueryResult<usize> {
    diesel::update(
        platform_uploads::table
            .filter(platform_uploads::id.eq(id))
            .filter(platform_uploads::status.eq("pending")),
    )
    .set((
        platform_uploads::status.eq("sent"),
        platform_uploads::sent_at.eq(at),
        platform_uploads::response.eq(response),
        platform_uploads::attempts.eq(platform_uploads::attempts + 1),
        platform_uploads::last_error.eq(None::<String>),
    ))
    .execute(conn)
}

pub fn upload_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
    retry_at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        platform_uploads::table
            .filter(platform_uploads::id.eq(id))
            .filter(platform_uploads::status.eq("pending")),
    )
    .set((
        platform_uploads::attempts.eq(platform_uploads::attempts + 1),
        platform_uploads::last_error.eq(error),
        platform_uploads::next_attempt_at.eq(retry_at),
    ))
    .execute(conn)
}

/// The uploads, the late and pending first (administrators; the dashboard counts them).
pub fn uploads(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<UploadRow>> {
    platform_uploads::table
        .order((
            platform_uploads::status.asc(),
            platform_uploads::due_on.asc(),
            platform_uploads::id.desc(),
        ))
        .limit(limit)
        .select(UploadRow::as_select())
        .load(conn)
}

/// Uploads still pending, and of those the ones past their last day.
#[derive(Debug, Clone, Default, Serialize, QueryableByName, utoipa::ToSchema)]
pub struct UploadBacklog {
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    /// Pending after their fifth working day: late.
    #[diesel(sql_type = BigInt)]
    pub late: i64,
    /// Sent, but after their last day.
    #[diesel(sql_type = BigInt)]
    pub sent_late: i64,
    #[diesel(sql_type = BigInt)]
    pub sent: i64,
    #[diesel(sql_type = Nullable<SqlText>)]
    pub last_error: Option<String>,
}

pub fn upload_backlog(
    conn: &mut PgConnection,
    today: NaiveDate,
    offset_minutes: i32,
) -> QueryResult<UploadBacklog> {
    diesel::sql_query(
        "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, \
                count(*) FILTER (WHERE status = 'pending' AND due_on < $1) AS late, \
                count(*) FILTER (WHERE status = 'sent' \
                    AND (sent_at + make_interval(mins => $2))::date > due_on) AS sent_late, \
                count(*) FILTER (WHERE status = 'sent') AS sent, \
                (SELECT last_error FROM platform_uploads WHERE status = 'pending' \
                   AND last_error IS NOT NULL ORDER BY id LIMIT 1) AS last_error \
         FROM platform_uploads",
    )
    .bind::<diesel::sql_types::Date, _>(today)
    .bind::<diesel::sql_types::Integer, _>(offset_minutes)
    .get_result(conn)
}
