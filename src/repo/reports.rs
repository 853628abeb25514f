//! SLA aggregates: maintained on submission and on closing, read by the reports.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Integer, Nullable, Text};
use uuid::Uuid;

use crate::db::schema::{sla_closed, sla_received};
use crate::domain::definition::StateKind;

/// Spread a day's counters over this many rows (see the baseline migration).
pub const SHARDS: i16 = 8;

fn shard(filing: Uuid) -> i16 {
    (filing.as_u128() % SHARDS as u128) as i16
}

/// A first submission to count received (SLA).
#[derive(Debug, Clone)]
pub struct Received {
    pub filing: Uuid,
    pub day: NaiveDate,
    pub item: String,
    pub department: String,
}

pub fn record_received(conn: &mut PgConnection, r: &Received) -> QueryResult<usize> {
    diesel::insert_into(sla_received::table)
        .values((
            sla_received::day.eq(r.day),
            sla_received::item_code.eq(&r.item),
            sla_received::department.eq(&r.department),
            sla_received::shard.eq(shard(r.filing)),
            sla_received::n.eq(1),
        ))
        .on_conflict((
            sla_received::day,
            sla_received::item_code,
            sla_received::department,
            sla_received::shard,
        ))
        .do_update()
        .set(sla_received::n.eq(sla_received::n + 1))
        .execute(conn)
}

/// A closed filing to count (SLA).
#[derive(Debug, Clone)]
pub struct Closed {
    pub filing: Uuid,
    pub day: NaiveDate,
    pub item: String,
    pub department: String,
    pub closer: Uuid,
    pub outcome: StateKind,
    pub used_days: i32,
    pub suspended_days: i32,
    pub on_time_statutory: bool,
    pub on_time_promised: bool,
}

pub fn record_closed(conn: &mut PgConnection, c: &Closed) -> QueryResult<usize> {
    diesel::insert_into(sla_closed::table)
        .values((
            sla_closed::day.eq(c.day),
            sla_closed::item_code.eq(&c.item),
            sla_closed::department.eq(&c.department),
            sla_closed::closer_id.eq(c.closer),
            sla_closed::outcome.eq(c.outcome),
            sla_closed::used_days.eq(c.used_days),
            sla_closed::suspended_days.eq(c.suspended_days),
            sla_closed::on_time_statutory.eq(c.on_time_statutory),
            sla_closed::on_time_promised.eq(c.on_time_promised),
            sla_closed::shard.eq(shard(c.filing)),
            sla_closed::n.eq(1),
        ))
        .on_conflict((
            sla_closed::day,
            sla_closed::item_code,
            sla_closed::department,
            sla_closed::closer_id,
            sla_closed::outcome,
            sla_closed::used_days,
            sla_closed::suspended_days,
            sla_closed::on_time_statutory,
            sla_closed::on_time_promised,
            sla_closed::shard,
        ))
        .do_update()
        .set(sla_closed::n.eq(sla_closed::n + 1))
        .execute(conn)
}

/// How report rows are grouped. The SQL expressions are fixed here, never taken from input.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Item,
    Department,
    Clerk,
    Month,
}

impl GroupBy {
    fn closed_key(self) -> &'static str {
        match self {
            GroupBy::Item => "item_code",
            GroupBy::Department => "department",
            GroupBy::Clerk => "closer_id::text",
            GroupBy::Month => "to_char(day, 'YYYY-MM')",
        }
    }

    fn received_key(self) -> Option<&'static str> {
        match self {
            GroupBy::Item => Some("item_code"),
            GroupBy::Department => Some("department"),
            GroupBy::Clerk => None,
            GroupBy::Month => Some("to_char(day, 'YYYY-MM')"),
        }
    }
}

#[derive(Debug, QueryableByName)]
pub struct ClosedBucket {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = Text)]
    pub outcome: StateKind,
    #[diesel(sql_type = Integer)]
    pub used_days: i32,
    #[diesel(sql_type = Integer)]
    pub suspended_days: i32,
    #[diesel(sql_type = Bool)]
    pub on_time_statutory: bool,
    #[diesel(sql_type = Bool)]
    pub on_time_promised: bool,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

#[derive(Debug, QueryableByName)]
pub struct KeyCount {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Filters shared by the report queries; NULL means "any".
pub struct Filter<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub item: Option<&'a str>,
    pub department: Option<&'a str>,
}

pub fn closed_buckets(
    conn: &mut PgConnection,
    g: GroupBy,
    f: &Filter<'_>,
) -> QueryResult<Vec<ClosedBucket>> {
    let sql = format!(
        "SELECT {key} AS key, outcome, used_days, suspended_days, on_time_statutory, on_time_promised, \
         sum(n)::bigint AS n FROM sla_closed \
         WHERE day BETWEEN $1 AND $2 AND ($3::text IS NULL OR item_code = $3) AND ($4::text IS NULL OR department = $4) \
         GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1",
        key = g.closed_key()
    );
    diesel::sql_query(sql)
        .bind::<Date, _>(f.from)
        .bind::<Date, _>(f.to)
        .bind::<Nullable<Text>, _>(f.item)
        .bind::<Nullable<Text>, _>(f.department)
        .load(conn)
}

pub fn received(conn: &mut PgConnection, g: GroupBy, f: &Filter<'_>) -> QueryResult<Vec<KeyCount>> {
    let Some(key) = g.received_key() else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT {key} AS key, sum(n)::bigint AS n FROM sla_received \
         WHERE day BETWEEN $1 AND $2 AND ($3::text IS NULL OR item_code = $3) AND ($4::text IS NULL OR department = $4) \
         GROUP BY 1 ORDER BY 1"
    );
    diesel::sql_query(sql)
        .bind::<Date, _>(f.from)
        .bind::<Date, _>(f.to)
        .bind::<Nullable<Text>, _>(f.item)
        .bind::<Nullable<Text>, _>(f.department)
        .load(conn)
}

#[derive(Debug, QueryableByName)]
pub struct DueCount {
    #[diesel(sql_type = Text)]
    pub item_code: String,
    #[diesel(sql_type = BigInt)]
    pub overdue: i64,
    #[diesel(sql_type = BigInt)]
    pub due_soon: i64,
}

/// Open filings per item that are overdue now or due by `soon` (inclusive), from the
/// aggregate `open_due` that triggers keep (see the baseline migration): the days up to `soon`, a few
/// hundred rows a year per item once folded by [`compact_open_due`], however many filings are
/// overdue.
pub fn due_counts(
    conn: &mut PgConnection,
    today: NaiveDate,
    soon: NaiveDate,
    items: Option<&[String]>,
) -> QueryResult<Vec<DueCount>> {
    diesel::sql_query(
        "SELECT item_code, \
           coalesce(sum(n) FILTER (WHERE due_on < $1), 0)::bigint AS overdue, \
           coalesce(sum(n) FILTER (WHERE due_on >= $1), 0)::bigint AS due_soon \
         FROM open_due \
         WHERE due_on <= $2 AND ($3::text[] IS NULL OR item_code = ANY($3)) \
         GROUP BY item_code HAVING sum(n) <> 0 ORDER BY item_code",
    )
    .bind::<Date, _>(today)
    .bind::<Date, _>(soon)
    .bind::<Nullable<diesel::sql_types::Array<Text>>, _>(items)
    .load(conn)
}

/// Fold `open_due` into one row per item and day (the deadline scan does, every tick); the rows
/// left.
pub fn compact_open_due(conn: &mut PgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Left {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    Ok(diesel::sql_query("SELECT open_due_compact() AS n")
        .get_result::<Left>(conn)?
        .n)
}

/// Filings received and not closed, all time, per item (from the aggregates: received minus
/// closed), so that counting open work never scans the filings.
pub fn open_by_item(
    conn: &mut PgConnection,
    department: Option<&str>,
) -> QueryResult<Vec<KeyCount>> {
    diesel::sql_query(
        "SELECT item_code AS key, (coalesce(sum(r), 0) - coalesce(sum(c), 0))::bigint AS n FROM ( \
           SELECT item_code, department, n AS r, 0 AS c FROM sla_received \
           UNION ALL SELECT item_code, department, 0, n FROM sla_closed) x \
         WHERE ($1::text IS NULL OR department = $1) GROUP BY item_code ORDER BY item_code",
    )
    .bind::<Nullable<Text>, _>(department)
    .load(conn)
}

#[derive(Debug, QueryableByName, Queryable, serde::Serialize, utoipa::ToSchema)]
pub struct DueRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    pub number: Option<String>,
    #[diesel(sql_type = Text)]
    pub item_code: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Text)]
    pub department: String,
    #[diesel(sql_type = Date)]
    #[schema(value_type = String)]
    pub statutory_due_on: NaiveDate,
    #[diesel(sql_type = Nullable<Date>)]
    #[schema(value_type = Option<String>)]
    pub promised_due_on: Option<NaiveDate>,
}

/// Open filings due on or before `until`, most urgent first (overdue ones included).
pub fn due_list(
    conn: &mut PgConnection,
    until: NaiveDate,
    items: Option<&[String]>,
    limit: i64,
) -> QueryResult<Vec<DueRow>> {
    // All items: walk the due-date index and stop after `limit` rows. Some items: walk each
    // item's part of the (item, due date) index the same way and merge, since one ordered scan
    // cannot serve several items.
    const SQL: &str = "SELECT id, number, item_code, state, department, statutory_due_on, promised_due_on \
         FROM filings WHERE closed_at IS NULL AND statutory_due_on <= $1";
    match items {
        None => diesel::sql_query(format!("{SQL} ORDER BY statutory_due_on, id LIMIT $2"))
            .bind::<Date, _>(until)
            .bind::<BigInt, _>(limit)
            .load(conn),
        Some(items) => {
            let mut all: Vec<DueRow> = Vec::new();
            for item in items {
                let rows: Vec<DueRow> = diesel::sql_query(format!(
                    "{SQL} AND item_code = $3 ORDER BY statutory_due_on, id LIMIT $2"
                ))
                .bind::<Date, _>(until)
                .bind::<BigInt, _>(limit)
                .bind::<Text, _>(item)
                .load(conn)?;
                all.extend(rows);
            }
            all.sort_by_key(|r| (r.statutory_due_on, r.id));
            all.truncate(usize::try_from(limit).unwrap_or(0));
            Ok(all)
        }
    }
}

/// Open filings with a running time limit due between `after` and `until` (both inclusive, either
/// open-ended), of the given items: a page of them most urgent first, and how many there are.
pub fn drill(
    conn: &mut PgConnection,
    items: Option<&[String]>,
    after: Option<NaiveDate>,
    until: Option<NaiveDate>,
    limit: i64,
) -> QueryResult<(Vec<DueRow>, i64)> {
    use crate::db::schema::filings::dsl as f;
    let base = || {
        let mut q = f::filings
            .filter(f::closed_at.is_null())
            .filter(f::statutory_due_on.is_not_null())
            .into_boxed();
        if let Some(items) = items {
            q = q.filter(f::item_code.eq_any(items.to_vec()));
        }
        if let Some(d) = after {
            q = q.filter(f::statutory_due_on.ge(d));
        }
        if let Some(d) = until {
            q = q.filter(f::statutory_due_on.le(d));
        }
        q
    };
    let rows = base()
        .select((
            f::id,
            f::number,
            f::item_code,
            f::state,
            f::department,
            f::statutory_due_on.assume_not_null(),
            f::promised_due_on,
        ))
        .order((f::statutory_due_on, f::id))
        .limit(limit)
        .load(conn)?;
    // The total from the aggregate (see `due_counts`): counting half a million overdue filings
    // through the index took longer than the page itself. (`open_due` has no key, so it is not
    // in the generated schema.)
    #[derive(QueryableByName)]
    struct Total {
        #[diesel(sql_type = Nullable<BigInt>)]
        n: Option<i64>,
    }
    let total = diesel::sql_query(
        "SELECT sum(n)::bigint AS n FROM open_due \
         WHERE ($1::text[] IS NULL OR item_code = ANY($1)) \
           AND ($2::date IS NULL OR due_on >= $2) AND ($3::date IS NULL OR due_on <= $3)",
    )
    .bind::<Nullable<diesel::sql_types::Array<Text>>, _>(items)
    .bind::<Nullable<Date>, _>(after)
    .bind::<Nullable<Date>, _>(until)
    .get_result::<Total>(conn)?
    .n;
    Ok((rows, total.unwrap_or(0)))
}

/// Open filings past their promised limit (承诺时限) by today, per item: the bureau's own
/// promise, shorter than the statutory limit, which the workbench paints red.
pub fn promised_overdue_counts(
    conn: &mut PgConnection,
    today: NaiveDate,
    items: Option<&[String]>,
) -> QueryResult<Vec<KeyCount>> {
    diesel::sql_query(
        "SELECT item_code AS key, count(*)::bigint AS n FROM filings \
         WHERE closed_at IS NULL AND promised_due_on IS NOT NULL AND promised_due_on < $1 \
           AND ($2::text[] IS NULL OR item_code = ANY($2)) \
         GROUP BY item_code ORDER BY item_code",
    )
    .bind::<Date, _>(today)
    .bind::<Nullable<diesel::sql_types::Array<Text>>, _>(items)
    .load(conn)
}

/// A page of the open filings past their promised limit, most overdue first, and how many.
pub fn drill_promised_overdue(
    conn: &mut PgConnection,
    items: Option<&[String]>,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<(Vec<DueRow>, i64)> {
    use crate::db::schema::filings::dsl as f;
    let base = || {
        let mut q = f::filings
            .filter(f::closed_at.is_null())
            .filter(f::promised_due_on.is_not_null())
            .filter(f::promised_due_on.lt(today))
            .filter(f::statutory_due_on.is_not_null())
            .into_boxed();
        if let Some(items) = items {
            q = q.filter(f::item_code.eq_any(items.to_vec()));
        }
        q
    };
    let rows = base()
        .select((
            f::id,
            f::number,
            f::item_code,
            f::state,
            f::department,
            f::statutory_due_on.assume_not_null(),
            f::promised_due_on,
        ))
        .order((f::promised_due_on, f::id))
        .limit(limit)
        .load(conn)?;
    let total = base().count().get_result(conn)?;
    Ok((rows, total))
}

#[derive(Debug, QueryableByName)]
pub struct Workload {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub user_id: Uuid,
    #[diesel(sql_type = Text)]
    pub display_name: String,
    #[diesel(sql_type = BigInt)]
    pub claimed: i64,
}

pub fn workload(conn: &mut PgConnection, department: Option<&str>) -> QueryResult<Vec<Workload>> {
    diesel::sql_query(
        "SELECT u.id AS user_id, u.display_name, count(t.id)::bigint AS claimed \
         FROM users u LEFT JOIN tasks t ON t.claimed_by = u.id AND t.closed_at IS NULL \
         WHERE u.kind = 'staff' AND ($1::text IS NULL OR u.department = $1) \
           AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role IN ('clerk', 'reviewer', 'inspector')) \
         GROUP BY u.id, u.display_name ORDER BY claimed DESC, u.display_name",
    )
    .bind::<Nullable<Text>, _>(department)
    .load(conn)
}

/// A filing received in a period, as the work report counts it: where it is, whether it is
/// closed, its form (for sums) and every state it ever entered (from its audit chain).
#[derive(Debug, Clone, QueryableByName)]
pub struct WorkRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub item_code: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub state: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub closed: bool,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    pub form: serde_json::Value,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
    pub entered: Vec<String>,
    /// GB/T 39046 A.5, recorded at submission.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::SmallInt>)]
    pub channel: Option<i16>,
    /// An electronic certificate was issued for it by the period's end.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub e_certificate: bool,
}

/// The filings submitted in `[from, to)`, each with the states it entered by `to`.
pub fn work_rows(
    conn: &mut PgConnection,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> QueryResult<Vec<WorkRow>> {
    // Why the audit log: it is the one record of every transition; an entry's payload names
    // the state an action entered (`to`).
    diesel::sql_query(
        "SELECT f.item_code, f.state, f.closed_at IS NOT NULL AND f.closed_at < $2 AS closed, f.form,
                ARRAY(SELECT DISTINCT (a.entry::jsonb) -> 'payload' ->> 'to'
                        FROM audit_log a
                       WHERE a.filing_id = f.id AND a.at < $2
                         AND (a.entry::jsonb) -> 'payload' ? 'to') AS entered,
                f.channel,
                EXISTS (SELECT 1 FROM certificates c
                         WHERE c.filing_id = f.id AND c.issued_at < $2) AS e_certificate
           FROM filings f
          WHERE f.submitted_at >= $1 AND f.submitted_at < $2
          ORDER BY f.item_code, f.submitted_at",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(from)
    .bind::<diesel::sql_types::Timestamptz, _>(to)
    .load(conn)
}
