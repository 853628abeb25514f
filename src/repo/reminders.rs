//! What the deadline scan reads and marks: deadlines on applicants with their reminder days,
//! and filings whose running clock turned yellow or red.
//!
//! Both are read with `FOR UPDATE SKIP LOCKED` inside the scan's transaction (the deadline rows
//! and the narrow `escalations` rows, never the filings), and marked in it: two instances
//! scanning at once take disjoint rows, and a row is marked in the same commit as the outbox
//! rows it caused.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use diesel::pg::Pg;
use diesel::query_builder::QueryFragment;

use crate::db::batch::{Batch, Raw};
use crate::db::cached::{ReturningOne, cached};
use crate::db::schema::{applicant_deadlines, escalations, filings};
use crate::domain::Lang;

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = applicant_deadlines, check_for_backend(diesel::pg::Pg))]
pub struct DeadlineRow {
    pub id: i64,
    pub filing_id: Uuid,
    pub code: String,
    pub due_on: NaiveDate,
    pub state_visit: Option<i32>,
    #[schema(value_type = Vec<NaiveDate>)]
    pub remind_on: Vec<Option<NaiveDate>>,
    pub next_remind_on: Option<NaiveDate>,
    pub reminders_sent: i32,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub extensions: i32,
    pub expires_with: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewDeadline {
    pub filing: Uuid,
    pub code: String,
    pub due_on: NaiveDate,
    pub state_visit: Option<i32>,
    pub remind_on: Vec<NaiveDate>,
    pub next_remind_on: Option<NaiveDate>,
    pub reminders_sent: i32,
    /// The action the service takes when the deadline passes still open.
    pub expires_with: Option<String>,
}

/// Open a deadline unless the same one (filing, code, day) is open already (with the batch).
/// `after`: a part of the batch that closes deadlines (with `RETURNING`), which must run first:
/// a deadline it closes would otherwise still be open, in the unique index of open deadlines,
/// when this one is inserted, and this one would not open.
pub fn open_in(batch: &mut Batch, after: Option<&str>, d: &NewDeadline, at: DateTime<Utc>) {
    use diesel::sql_types::{Array, Date, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    let days: Vec<NaiveDate> = d.remind_on.clone();
    let after = after
        .map(|c| format!(" WHERE (SELECT count(*) FROM {c}) >= 0"))
        .unwrap_or_default();
    batch.push(
        Raw::new(
            "INSERT INTO applicant_deadlines (filing_id, code, due_on, state_visit, remind_on, \
             next_remind_on, reminders_sent, expires_with, opened_at) SELECT ",
        )
        .bind::<SqlUuid, _>(d.filing)
        .sql(", ")
        .bind::<Text, _>(d.code.clone())
        .sql(", ")
        .bind::<Date, _>(d.due_on)
        .sql(", ")
        .bind::<Nullable<Integer>, _>(d.state_visit)
        .sql(", ")
        .bind::<Array<Date>, _>(days)
        .sql(", ")
        .bind::<Nullable<Date>, _>(d.next_remind_on)
        .sql(", ")
        .bind::<Integer, _>(d.reminders_sent)
        .sql(", ")
        .bind::<Nullable<Text>, _>(d.expires_with.clone())
        .sql(", ")
        .bind::<Timestamptz, _>(at)
        .sql(after)
        .sql(" ON CONFLICT (filing_id, code, due_on) WHERE closed_at IS NULL DO NOTHING"),
    );
}

/// Move an open deadline to its new day with its new reminders, counting the extension (with
/// the batch).
pub fn extend_in(batch: &mut Batch, d: &NewDeadline, extensions: i32) {
    use diesel::sql_types::{Array, Date, Integer, Nullable, Text, Uuid as SqlUuid};
    batch.push(
        Raw::new("UPDATE applicant_deadlines SET due_on = ")
            .bind::<Date, _>(d.due_on)
            .sql(", remind_on = ")
            .bind::<Array<Date>, _>(d.remind_on.clone())
            .sql(", next_remind_on = ")
            .bind::<Nullable<Date>, _>(d.next_remind_on)
            .sql(", reminders_sent = ")
            .bind::<Integer, _>(d.reminders_sent)
            .sql(", extensions = ")
            .bind::<Integer, _>(extensions)
            .sql(" WHERE filing_id = ")
            .bind::<SqlUuid, _>(d.filing)
            .sql(" AND code = ")
            .bind::<Text, _>(d.code.clone())
            .sql(" AND closed_at IS NULL"),
    );
}

/// Open deadlines that passed before `today` and that the service ends by an action of its
/// own, a page at a time in (day, id) order.
/// `after`: the last (day, id) of the previous page.
pub fn expired(
    conn: &mut PgConnection,
    today: NaiveDate,
    after: Option<(NaiveDate, i64)>,
    limit: i64,
) -> QueryResult<Vec<DeadlineRow>> {
    use applicant_deadlines as d;
    let mut q = d::table
        .filter(d::closed_at.is_null())
        .filter(d::expires_with.is_not_null())
        .filter(d::due_on.lt(today))
        .into_boxed();
    if let Some((day, id)) = after {
        q = q.filter(d::due_on.gt(day).or(d::due_on.eq(day).and(d::id.gt(id))));
    }
    q.order((d::due_on, d::id))
        .limit(limit)
        .select(DeadlineRow::as_select())
        .load(conn)
}

/// Close a filing's open deadlines: now, or with the batch.
pub fn close(
    conn: &mut PgConnection,
    filing: Uuid,
    which: &Closing,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    cached(close_query(filing, which, at)).execute(conn)
}

/// Close them with the batch; the part's name, for an opening that must come after it
/// ([`open_in`]).
pub fn close_in(batch: &mut Batch, filing: Uuid, which: &Closing, at: DateTime<Utc>) -> String {
    batch.push(ReturningOne(close_query(filing, which, at)))
}

fn close_query(filing: Uuid, which: &Closing, at: DateTime<Utc>) -> Box<dyn QueryFragment<Pg>> {
    let open = diesel::update(applicant_deadlines::table)
        .filter(applicant_deadlines::filing_id.eq(filing))
        .filter(applicant_deadlines::closed_at.is_null());
    let closed = applicant_deadlines::closed_at.eq(at);
    match which {
        Closing::All => Box::new(open.set(closed)),
        Closing::Visit(v) => Box::new(
            open.filter(applicant_deadlines::state_visit.eq(*v))
                .set(closed),
        ),
        Closing::Code(c) => Box::new(
            open.filter(applicant_deadlines::code.eq(c.clone()))
                .set(closed),
        ),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    All,
    /// Deadlines bound to a state visit the filing left.
    Visit(i32),
    /// One deadline by code (a promised material was supplied).
    Code(String),
}

/// A filing whose running clock has turned, as the scan needs it.
#[derive(Debug, Clone, Queryable)]
pub struct Turned {
    pub id: Uuid,
    pub item_version_id: i32,
    pub number: Option<String>,
    pub state: String,
    pub department: String,
    pub due_on: NaiveDate,
}

/// Filings in the warning window of their running clock not yet told yellow for their current
/// due day (and not red yet: a red card says more), locked for this scan.
pub fn turned_yellow(
    conn: &mut PgConnection,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<Turned>> {
    // The filter repeats the predicate of the partial index `escalations_yellow_pending` so
    // that the planner can use it.
    let due: Vec<(Uuid, Option<NaiveDate>)> = escalations::table
        .filter(escalations::warn_on.is_not_null())
        .filter(escalations::yellow_sent_for.is_distinct_from(escalations::due_on))
        .filter(escalations::warn_on.le(today))
        .filter(escalations::due_on.ge(today))
        .order((escalations::warn_on, escalations::filing_id))
        .limit(limit)
        .select((escalations::filing_id, escalations::due_on))
        .for_update()
        .skip_locked()
        .load(conn)?;
    with_filings(conn, due)
}

/// Filings past the due day of their running clock not yet told red for it.
pub fn turned_red(
    conn: &mut PgConnection,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<Turned>> {
    let due: Vec<(Uuid, Option<NaiveDate>)> = escalations::table
        .filter(escalations::due_on.is_not_null())
        .filter(escalations::red_sent_for.is_distinct_from(escalations::due_on))
        .filter(escalations::due_on.lt(today))
        .order((escalations::due_on, escalations::filing_id))
        .limit(limit)
        .select((escalations::filing_id, escalations::due_on))
        .for_update()
        .skip_locked()
        .load(conn)?;
    with_filings(conn, due)
}

/// What a card says of each locked filing, read without locking the filing itself: an action
/// on it goes on while the scan writes its page (a state changed meanwhile shows the old one).
fn with_filings(
    conn: &mut PgConnection,
    due: Vec<(Uuid, Option<NaiveDate>)>,
) -> QueryResult<Vec<Turned>> {
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = due.iter().map(|(id, _)| *id).collect();
    let facts: HashMap<Uuid, (i32, Option<String>, String, String)> = filings::table
        .filter(filings::id.eq_any(&ids))
        .select((
            filings::id,
            (
                filings::item_version_id,
                filings::number,
                filings::state,
                filings::department,
            ),
        ))
        .load::<(Uuid, (i32, Option<String>, String, String))>(conn)?
        .into_iter()
        .collect();
    // In the page's order; `due_on` is never NULL here (both filters need it).
    Ok(due
        .into_iter()
        .filter_map(|(id, due_on)| {
            let (item_version_id, number, state, department) = facts.get(&id)?.clone();
            Some(Turned {
                id,
                item_version_id,
                number,
                state,
                department,
                due_on: due_on?,
            })
        })
        .collect())
}

/// Remember that these filings were told yellow (or red, which implies yellow) for their
/// current due day. Not a business change: the filing's row and version stay as they are.
pub fn mark_escalated(conn: &mut PgConnection, ids: &[Uuid], red: bool) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    let target = escalations::table.filter(escalations::filing_id.eq_any(ids));
    if red {
        diesel::update(target)
            .set((
                escalations::red_sent_for.eq(escalations::due_on),
                escalations::yellow_sent_for.eq(escalations::due_on),
            ))
            .execute(conn)
    } else {
        diesel::update(target)
            .set(escalations::yellow_sent_for.eq(escalations::due_on))
            .execute(conn)
    }
}

/// A due deadline with what its reminder needs: the filing and its applicant.
#[derive(Debug, Clone, QueryableByName)]
pub struct DueReminder {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub code: String,
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub due_on: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Nullable<diesel::sql_types::Date>>)]
    pub remind_on: Vec<Option<NaiveDate>>,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub filing_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub number: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub state: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub item_version_id: i32,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub applicant_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub lang: Lang,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub display_name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub active: bool,
}

/// Open deadlines whose next reminder day has come, with their filings and applicants, in one
/// query; only the deadline rows are locked (`FOR UPDATE OF d`): a scan must not hold up
/// actions on the filings.
pub fn due_with_applicants(
    conn: &mut PgConnection,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<DueReminder>> {
    diesel::sql_query(
        "SELECT d.id, d.code, d.due_on, d.remind_on, f.id AS filing_id, f.number, f.state, \
                f.item_version_id, f.applicant_id, u.email, u.lang, u.display_name, u.active \
         FROM applicant_deadlines d \
         JOIN filings f ON f.id = d.filing_id \
         JOIN users u ON u.id = f.applicant_id \
         WHERE d.closed_at IS NULL AND d.next_remind_on IS NOT NULL AND d.next_remind_on <= $1 \
         ORDER BY d.next_remind_on, d.id \
         LIMIT $2 \
         FOR UPDATE OF d SKIP LOCKED",
    )
    .bind::<diesel::sql_types::Date, _>(today)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
}

/// Record the reminders of a page in one statement: (id, reminders sent, next day).
pub fn advance_many(
    conn: &mut PgConnection,
    rows: &[(i64, i32, Option<NaiveDate>)],
) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let sent: Vec<i32> = rows.iter().map(|r| r.1).collect();
    let next: Vec<Option<NaiveDate>> = rows.iter().map(|r| r.2).collect();
    diesel::sql_query(
        "UPDATE applicant_deadlines d SET reminders_sent = u.sent, next_remind_on = u.next \
         FROM unnest($1::bigint[], $2::int[], $3::date[]) AS u(id, sent, next) \
         WHERE d.id = u.id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(sent)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Nullable<diesel::sql_types::Date>>, _>(next)
    .execute(conn)
}
