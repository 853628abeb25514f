//! Work queues. A task is one unit of staff work on a filing in a state; claiming uses
//! `FOR UPDATE SKIP LOCKED`, so concurrent clerks never get the same task and never wait on
//! each other.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::batch::{Batch, Raw};
use crate::db::cached::ReturningOne;
use crate::db::schema::{filings, tasks};
use crate::domain::definition::Role;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg))]
pub struct TaskRow {
    pub id: i64,
    pub filing_id: Uuid,
    pub state: String,
    pub role: Role,
    pub department: String,
    pub created_at: DateTime<Utc>,
    pub claimed_by: Option<Uuid>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A filing enters a new state: close its open tasks and open one per (role, department) for
/// the new state, due on `due_on`, with the batch.
///
/// The closing UPDATE is a part of the batch; the INSERT of the new tasks is returned for the
/// caller to send as the batch's last statement, `RETURNING` the tasks (`None`: the state has
/// no queue). The INSERT reads the UPDATE's rows before its first row, so it runs after it: in
/// the other order it would meet the task it replaces, still open, in the unique index
/// `tasks_one_open` when the new state is worked by the same role and department.
///
/// `any_open` says whether the filing has open tasks (the caller read them with the filing);
/// without any, no closing UPDATE is sent. `guard`: a condition the INSERT checks first (see
/// `db::batch::expect_one`).
#[allow(clippy::too_many_arguments)]
pub fn replace_open_in(
    batch: &mut Batch,
    guard: Option<String>,
    filing: Uuid,
    any_open: bool,
    state: &str,
    work: &[(Role, String)],
    due_on: Option<chrono::NaiveDate>,
    at: DateTime<Utc>,
) -> Option<Raw> {
    use diesel::sql_types::{Array, Date, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    let closed = any_open.then(|| {
        batch.push(ReturningOne(
            diesel::update(
                tasks::table
                    .filter(tasks::filing_id.eq(filing))
                    .filter(tasks::closed_at.is_null()),
            )
            .set(tasks::closed_at.eq(Some(at))),
        ))
    });
    if work.is_empty() {
        return None;
    }
    let roles: Vec<String> = work.iter().map(|(r, _)| r.as_str().to_owned()).collect();
    let departments: Vec<String> = work.iter().map(|(_, d)| d.clone()).collect();
    let conditions: Vec<String> = guard
        .into_iter()
        .chain(closed.map(|c| format!("(SELECT count(*) FROM {c}) >= 0")))
        .collect();
    let after_closing = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    Some(
        Raw::new(
            "INSERT INTO tasks (filing_id, state, role, department, created_at, due_on) SELECT ",
        )
        .bind::<SqlUuid, _>(filing)
        .sql(", ")
        .bind::<Text, _>(state.to_owned())
        .sql(", w.role, w.department, ")
        .bind::<Timestamptz, _>(at)
        .sql(", ")
        .bind::<Nullable<Date>, _>(due_on)
        .sql(" FROM unnest(")
        .bind::<Array<Text>, _>(roles)
        .sql("::text[], ")
        .bind::<Array<Text>, _>(departments)
        .sql("::text[]) WITH ORDINALITY AS w(role, department, n)")
        .sql(after_closing)
        .sql(
            " ORDER BY w.n RETURNING id, filing_id, state, role, department, created_at, \
             claimed_by, claimed_at, closed_at",
        ),
    )
}

/// A department's review is done: its task closes (with the batch).
pub fn close_for_department_in(
    batch: &mut Batch,
    filing: Uuid,
    department: String,
    at: DateTime<Utc>,
) {
    batch.push(
        diesel::update(
            tasks::table
                .filter(tasks::filing_id.eq(filing))
                .filter(tasks::department.eq(department))
                .filter(tasks::closed_at.is_null()),
        )
        .set(tasks::closed_at.eq(Some(at))),
    );
}

pub fn open_for_filing(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Vec<TaskRow>> {
    tasks::table
        .filter(tasks::filing_id.eq(filing))
        .filter(tasks::closed_at.is_null())
        .order(tasks::id)
        .select(TaskRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<TaskRow>> {
    tasks::table
        .find(id)
        .select(TaskRow::as_select())
        .first(conn)
        .optional()
}

pub fn lock(conn: &mut PgConnection, id: i64) -> QueryResult<Option<TaskRow>> {
    tasks::table
        .find(id)
        .select(TaskRow::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// Claim the most urgent unclaimed open task for these roles in a department. Rows locked by
/// another claimer are skipped, not waited for.
pub fn claim_next(
    conn: &mut PgConnection,
    department: &str,
    roles: &[String],
    by: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<Option<TaskRow>> {
    let next: Option<i64> = tasks::table
        .filter(tasks::closed_at.is_null())
        .filter(tasks::claimed_by.is_null())
        .filter(tasks::department.eq(department))
        .filter(tasks::role.eq_any(roles))
        .order((tasks::created_at, tasks::id))
        .select(tasks::id)
        .limit(1)
        .for_update()
        .skip_locked()
        .first(conn)
        .optional()?;
    let Some(id) = next else { return Ok(None) };
    set_claim(conn, id, Some(by), Some(at)).map(Some)
}

pub fn set_claim(
    conn: &mut PgConnection,
    id: i64,
    by: Option<Uuid>,
    at: Option<DateTime<Utc>>,
) -> QueryResult<TaskRow> {
    diesel::update(tasks::table.find(id))
        .set((tasks::claimed_by.eq(by), tasks::claimed_at.eq(at)))
        .returning(TaskRow::as_returning())
        .get_result(conn)
}

/// A queue line: the task with its filing's number, item and state.
pub type QueueLine = (TaskRow, Option<String>, String, String);

/// Which open tasks a queue shows: a department's, for some roles.
pub struct QueueFilter<'a> {
    pub department: &'a str,
    pub roles: &'a [String],
    pub only_unclaimed: bool,
    pub claimed_by: Option<Uuid>,
}

/// A queue's position: the creation time and id of the last task shown.
pub type QueueKey = (DateTime<Utc>, i64);

type QueueQuery<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::InnerJoin<tasks::table, filings::table>,
    diesel::pg::Pg,
>;

fn queue_query<'a>(f: &QueueFilter<'_>) -> QueueQuery<'a> {
    let mut q = tasks::table
        .inner_join(filings::table)
        .into_boxed()
        .filter(tasks::closed_at.is_null())
        .filter(tasks::department.eq(f.department.to_owned()))
        .filter(tasks::role.eq_any(f.roles.to_owned()));
    if f.only_unclaimed {
        q = q.filter(tasks::claimed_by.is_null());
    }
    if let Some(u) = f.claimed_by {
        q = q.filter(tasks::claimed_by.eq(u));
    }
    q
}

/// How many open tasks a queue holds.
pub fn queue_count(conn: &mut PgConnection, f: &QueueFilter<'_>) -> QueryResult<i64> {
    queue_query(f).count().get_result(conn)
}

/// A queue after `after`, oldest first, with the filings' numbers and states: `limit` lines
/// after `offset`.
pub fn queue(
    conn: &mut PgConnection,
    f: &QueueFilter<'_>,
    after: Option<QueueKey>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<QueueLine>> {
    let mut q = queue_query(f);
    if let Some((at, id)) = after {
        q = q.filter(
            tasks::created_at
                .gt(at)
                .or(tasks::created_at.eq(at).and(tasks::id.gt(id))),
        );
    }
    q.order((tasks::created_at, tasks::id))
        .limit(limit)
        .offset(offset)
        .select((
            TaskRow::as_select(),
            filings::number,
            filings::item_code,
            filings::state,
        ))
        .load(conn)
}

/// Open tasks someone holds, locked for release.
pub fn claimed_open(conn: &mut PgConnection, by: Uuid) -> QueryResult<Vec<TaskRow>> {
    tasks::table
        .filter(tasks::closed_at.is_null())
        .filter(tasks::claimed_by.eq(by))
        .order(tasks::id)
        .select(TaskRow::as_select())
        .for_update()
        .load(conn)
}

/// Claims older than `before` on open tasks, locked for release.
pub fn stale_claims(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<TaskRow>> {
    tasks::table
        .filter(tasks::closed_at.is_null())
        .filter(tasks::claimed_at.lt(before))
        .order((tasks::claimed_at, tasks::id))
        .limit(limit)
        .select(TaskRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
}

/// A digest line: the task, its due day, and its filing's number, item version and state.
#[derive(Debug, Clone, Queryable)]
pub struct DigestTask {
    pub id: i64,
    pub role: String,
    pub department: String,
    pub claimed_by: Option<Uuid>,
    pub due_on: Option<chrono::NaiveDate>,
    pub number: Option<String>,
    pub item_version_id: i32,
    pub state: String,
}

/// Open tasks for the digest: every claimed one, and unclaimed ones due by `horizon`.
pub fn for_digest(
    conn: &mut PgConnection,
    horizon: chrono::NaiveDate,
) -> QueryResult<Vec<DigestTask>> {
    tasks::table
        .inner_join(filings::table)
        .filter(tasks::closed_at.is_null())
        .filter(
            tasks::claimed_by
                .is_not_null()
                .or(tasks::due_on.le(horizon)),
        )
        .order((tasks::due_on.asc().nulls_last(), tasks::id))
        .select((
            tasks::id,
            tasks::role,
            tasks::department,
            tasks::claimed_by,
            tasks::due_on,
            filings::number,
            filings::item_version_id,
            filings::state,
        ))
        .load(conn)
}

/// A queue line for the workbench: the task, its due day, and its filing's number, item
/// version, state and warning day.
#[derive(Debug, Clone, Queryable)]
pub struct UrgentTask {
    pub id: i64,
    pub filing_id: Uuid,
    pub claimed_by: Option<Uuid>,
    pub due_on: Option<chrono::NaiveDate>,
    pub number: Option<String>,
    pub item_code: String,
    pub item_version_id: i32,
    pub state: String,
    pub warn_on: Option<chrono::NaiveDate>,
    pub statutory_due_on: Option<chrono::NaiveDate>,
    pub promised_due_on: Option<chrono::NaiveDate>,
    /// The applicant's name.
    pub applicant: String,
    /// The form's plain values (tables left out), for the filing's title.
    pub form: serde_json::Value,
}

/// What a queue line is searched by: its number, its applicant, its form's plain values.
pub struct QueueSearch<'a> {
    /// A LIKE pattern, already escaped.
    pub pattern: Option<&'a str>,
    pub offset: i64,
}

/// Open tasks of a department for some roles, most urgent first (earliest due day; undated
/// last, oldest first), optionally only one item's, only unclaimed or only one person's.
#[allow(clippy::too_many_arguments)]
pub fn urgent(
    conn: &mut PgConnection,
    department: &str,
    roles: &[String],
    item: Option<&str>,
    only_unclaimed: bool,
    claimed_by: Option<Uuid>,
    limit: i64,
    search: &QueueSearch<'_>,
) -> QueryResult<Vec<UrgentTask>> {
    use crate::db::schema::users;
    let mut q = tasks::table
        .inner_join(filings::table)
        .inner_join(users::table.on(users::id.eq(filings::applicant_id)))
        .filter(tasks::closed_at.is_null())
        .filter(tasks::department.eq(department.to_owned()))
        .filter(tasks::role.eq_any(roles.to_owned()))
        .into_boxed();
    if let Some(i) = item {
        q = q.filter(filings::item_code.eq(i.to_owned()));
    }
    if only_unclaimed {
        q = q.filter(tasks::claimed_by.is_null());
    }
    if let Some(u) = claimed_by {
        q = q.filter(tasks::claimed_by.eq(u));
    }
    if let Some(p) = search.pattern {
        q = q.filter(
            filings::number
                .ilike(p.to_owned())
                .or(users::display_name.ilike(p.to_owned()))
                .or(
                    diesel::dsl::sql::<diesel::sql_types::Bool>("filings.form::text ILIKE ")
                        .bind::<diesel::sql_types::Text, _>(p.to_owned()),
                ),
        );
    }
    q.order((
        tasks::due_on.asc().nulls_last(),
        tasks::created_at,
        tasks::id,
    ))
    .limit(limit)
    .offset(search.offset)
    .select((
        tasks::id,
        tasks::filing_id,
        tasks::claimed_by,
        tasks::due_on,
        filings::number,
        filings::item_code,
        filings::item_version_id,
        filings::state,
        filings::escalation_warn_on,
        filings::statutory_due_on,
        filings::promised_due_on,
        users::display_name,
        diesel::dsl::sql::<diesel::sql_types::Jsonb>(
            "(SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb) \
              FROM jsonb_each(filings.form) AS e \
              WHERE jsonb_typeof(e.value) NOT IN ('array', 'object'))",
        ),
    ))
    .load(conn)
}
