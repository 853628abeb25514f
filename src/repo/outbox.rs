//! The outbox: mail written in business transactions, claimed and sent by the outbox job.
//!
//! Claiming moves a row's `next_attempt_at` forward by a lease in one statement (the row locks
//! are taken with `FOR UPDATE SKIP LOCKED` and released at once), so senders on several
//! instances never claim the same row, and a sender that dies leaves its rows to be claimed
//! again when the lease ends.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text as SqlText};
use serde::Serialize;
use uuid::Uuid;

use crate::db::batch::Batch;
use crate::db::cached::cached;
use crate::db::schema::outbox;
use crate::domain::Lang;
use crate::domain::notify::MailStatus;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct MailRow {
    pub id: i64,
    pub dedupe_key: String,
    pub kind: String,
    pub filing_id: Option<Uuid>,
    pub recipient_id: Option<Uuid>,
    pub to_address: String,
    pub lang: Lang,
    pub subject: String,
    #[serde(skip)]
    pub body_text: String,
    #[serde(skip)]
    pub body_html: String,
    pub message_id: String,
    pub status: MailStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub smtp_response: Option<String>,
    /// The text and HTML deflated together (`mail::bodies`); `body_text` and `body_html` are
    /// then empty. [`MailRow::parts`] gives the two parts either way.
    #[serde(skip)]
    pub bodies: Option<Vec<u8>>,
}

impl MailRow {
    /// The letter's text and HTML parts, as rendered when the row was written.
    pub fn parts(&self) -> Result<(String, String), crate::mail::bodies::BodiesError> {
        match &self.bodies {
            Some(stored) => crate::mail::bodies::unpack(stored),
            None => Ok((self.body_text.clone(), self.body_html.clone())),
        }
    }
}

/// An outbox row to be written, owning its text (rows collected over a page of a scan).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox)]
pub struct OwnedMail {
    pub dedupe_key: String,
    pub kind: String,
    pub filing_id: Option<Uuid>,
    pub recipient_id: Option<Uuid>,
    pub to_address: String,
    pub lang: Lang,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub message_id: String,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The parts deflated (`mail::bodies::pack`), the two text columns then empty.
    pub bodies: Option<Vec<u8>>,
}

/// Insert one message unless its key exists (the letter of an action): one prepared text.
/// The number inserted.
pub fn insert_one(conn: &mut PgConnection, row: &OwnedMail) -> QueryResult<usize> {
    cached(
        diesel::insert_into(outbox::table)
            .values(row)
            .on_conflict(outbox::dedupe_key)
            .do_nothing(),
    )
    .execute(conn)
}

/// Insert an action's letter with the batch. Its key names the filing's new version, which the
/// action's guard (or the filing's row lock) lets only one action write, so it meets no row: a
/// plain INSERT, which writes one log record less than `ON CONFLICT DO NOTHING` (a speculative
/// insertion is confirmed by a record of its own). Were the key ever taken, the action fails
/// whole on the unique index instead of losing its letter silently.
pub fn insert_one_in(batch: &mut Batch, row: OwnedMail) {
    batch.push(diesel::insert_into(outbox::table).values(row));
}

/// Insert many messages in one statement; those whose key exists are skipped. The number
/// inserted.
pub fn insert_many(conn: &mut PgConnection, rows: &[OwnedMail]) -> QueryResult<usize> {
    let mut n = 0;
    // PostgreSQL takes at most 65535 parameters in one statement: 13 per row.
    for chunk in rows.chunks(1000) {
        n += diesel::insert_into(outbox::table)
            .values(chunk)
            .on_conflict(outbox::dedupe_key)
            .do_nothing()
            .execute(conn)?;
    }
    Ok(n)
}

/// Claim up to `limit` due rows for `lease`: each claimed row's attempt count goes up and it is
/// not due again until the lease ends.
pub fn claim(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
    instance: &str,
) -> QueryResult<Vec<MailRow>> {
    // One statement: the row locks live only as long as it does.
    diesel::sql_query(
        "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1, claimed_by = $2 \
         WHERE id IN (SELECT id FROM outbox \
                      WHERE status = 'pending' AND next_attempt_at <= $3 \
                      ORDER BY next_attempt_at, id LIMIT $4 \
                      FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now + lease)
    .bind::<SqlText, _>(instance)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .get_results(conn)
}

/// Mark sent, each with what the server answered. A row another sender already marked (its
/// lease ran out while this one was sending) is left as it is.
pub fn mark_sent(
    conn: &mut PgConnection,
    sent: &[(i64, String)],
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    if sent.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = sent.iter().map(|(id, _)| *id).collect();
    let responses: Vec<String> = sent.iter().map(|(_, r)| r.clone()).collect();
    diesel::sql_query(
        "UPDATE outbox o SET status = 'sent', sent_at = $1, smtp_response = s.response, \
         last_error = NULL \
         FROM unnest($2::bigint[], $3::text[]) AS s(id, response) \
         WHERE o.id = s.id AND o.status = 'pending'",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(at)
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<SqlText>, _>(responses)
    .execute(conn)
}

/// Record a failed attempt: due again at `retry_at`, or parked as failed. A row due for a
/// retry is no longer claimed: [`release`] must not make it due before its backoff ends.
pub fn mark_failed(
    conn: &mut PgConnection,
    id: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> QueryResult<usize> {
    let q = diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::status.eq(MailStatus::Pending)),
    );
    match retry_at {
        Some(at) => q
            .set((
                outbox::last_error.eq(error),
                outbox::next_attempt_at.eq(at),
                outbox::claimed_by.eq(None::<String>),
            ))
            .execute(conn),
        None => q
            .set((
                outbox::last_error.eq(error),
                outbox::status.eq(MailStatus::Failed),
            ))
            .execute(conn),
    }
}

/// Give back the rows `instance` claimed and has not tried (it is shutting down and its sends
/// have ended): due again at `now`, the claim's attempt uncounted, so that another instance
/// sends them at once instead of when the lease ends. Rows tried and waiting for a retry are
/// not claimed any more ([`mark_failed`]) and keep their backoff. The number released.
pub fn release(conn: &mut PgConnection, instance: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE outbox SET next_attempt_at = $1, attempts = GREATEST(attempts - 1, 0), \
             claimed_by = NULL \
         WHERE claimed_by = $2 AND status = 'pending' AND next_attempt_at > $1",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<SqlText, _>(instance)
    .execute(conn)
}

/// An administrator sends a parked message again: pending, due now, attempts from zero.
pub fn retry(conn: &mut PgConnection, id: i64, now: DateTime<Utc>) -> QueryResult<Option<MailRow>> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::status.eq(MailStatus::Failed)),
    )
    .set((
        outbox::status.eq(MailStatus::Pending),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(now),
    ))
    .returning(MailRow::as_returning())
    .get_result(conn)
    .optional()
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<MailRow>> {
    outbox::table
        .find(id)
        .select(MailRow::as_select())
        .first(conn)
        .optional()
}

/// Messages by status, newest first, after a keyset cursor.
pub fn list(
    conn: &mut PgConnection,
    status: Option<MailStatus>,
    filing: Option<Uuid>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<MailRow>> {
    let mut q = outbox::table
        .select(MailRow::as_select())
        .order(outbox::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(outbox::status.eq(s));
    }
    if let Some(f) = filing {
        q = q.filter(outbox::filing_id.eq(f));
    }
    if let Some(b) = before {
        q = q.filter(outbox::id.lt(b));
    }
    q.load(conn)
}

/// Counts by status (for health and tests).
pub fn counts(conn: &mut PgConnection) -> QueryResult<Vec<(MailStatus, i64)>> {
    outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)
}
