//! Filings and what hangs off them: numbers, materials, reviews, objections, clock events.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::db::batch::Batch;
use crate::db::cached::{ReturningOne, cached};
use crate::db::records::{One, Records};
use crate::db::schema::{
    clock_events, create_requests, filing_counters, filings, materials, objections, ratings,
    reviews, tasks,
};
use crate::domain::Lang;
use crate::domain::definition::StateKind;
use crate::domain::engine::Verdict;
use crate::domain::legal_time::ClockEvent;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = filings, check_for_backend(diesel::pg::Pg))]
pub struct FilingRow {
    pub id: Uuid,
    pub item_version_id: i32,
    pub item_code: String,
    pub number: Option<String>,
    pub applicant_id: Uuid,
    pub state: String,
    pub state_kind: StateKind,
    pub department: String,
    pub version: i32,
    pub state_visit: i32,
    pub form: Value,
    pub promises: Value,
    pub notice: Option<Value>,
    pub entered_state_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// GB/T 39046 A.5 办理形式 (1 窗口, 2 网上, 3 移动端), recorded at submission.
    pub channel: Option<i16>,
    /// The clerk who filed it at the window for the applicant (代办); `None` when the applicant
    /// made it. Set at creation and never changed (so not in [`FilingChanges`]).
    pub filed_by: Option<Uuid>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = filings)]
pub struct NewFiling<'a> {
    pub id: Uuid,
    pub item_version_id: i32,
    pub item_code: &'a str,
    pub applicant_id: Uuid,
    pub state: &'a str,
    /// `StateKind::as_str` (a diesel `Insertable` with a lifetime takes text for an enum).
    pub state_kind: &'static str,
    pub department: &'a str,
    pub form: Value,
    pub promises: Value,
    pub entered_state_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub filed_by: Option<Uuid>,
}

/// Every change to a filing bumps `version`; `None` leaves a column as it is.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = filings)]
pub struct FilingChanges {
    pub number: Option<String>,
    pub state: Option<String>,
    pub state_kind: Option<StateKind>,
    pub department: Option<String>,
    pub version: Option<i32>,
    pub state_visit: Option<i32>,
    pub form: Option<Value>,
    pub promises: Option<Value>,
    pub notice: Option<Option<Value>>,
    pub entered_state_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub channel: Option<i16>,
}

pub fn insert(conn: &mut PgConnection, f: &NewFiling<'_>) -> QueryResult<FilingRow> {
    diesel::insert_into(filings::table)
        .values(f)
        .returning(FilingRow::as_returning())
        .get_result(conn)
}

/// The filing an applicant's earlier create with this idempotency key made, and that
/// request's SHA-256.
pub fn created_for_key(
    conn: &mut PgConnection,
    applicant: Uuid,
    key: &str,
) -> QueryResult<Option<(Uuid, String)>> {
    create_requests::table
        .find((applicant, key))
        .select((create_requests::filing_id, create_requests::request_sha256))
        .first(conn)
        .optional()
}

/// Remember which filing a create with an idempotency key made (in the create's transaction).
/// A concurrent create with the same key waits for this one and then fails on the key.
pub fn remember_key(
    conn: &mut PgConnection,
    applicant: Uuid,
    key: &str,
    request_sha256: &str,
    filing: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(create_requests::table)
        .values((
            create_requests::applicant_id.eq(applicant),
            create_requests::key.eq(key),
            create_requests::request_sha256.eq(request_sha256),
            create_requests::filing_id.eq(filing),
            create_requests::created_at.eq(at),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<FilingRow>> {
    filings::table
        .find(id)
        .select(FilingRow::as_select())
        .first(conn)
        .optional()
}

/// Lock the filing row for the rest of the transaction: actions on one filing are serialised.
///
/// `FOR NO KEY UPDATE`, the lock an UPDATE of the row takes anyway: it excludes every other
/// action on the filing but not the `KEY SHARE` that a foreign key to it takes. A deadline scan
/// that holds the filing's `escalations` row and writes an outbox row naming the filing must
/// not wait for an action that waits, in its trigger, for that very `escalations` row.
/// The filing with this number (`number` is unique), if any.
pub fn id_by_number(conn: &mut PgConnection, number: &str) -> QueryResult<Option<Uuid>> {
    filings::table
        .filter(filings::number.eq(number))
        .select(filings::id)
        .first(conn)
        .optional()
}

pub fn lock(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<FilingRow>> {
    filings::table
        .find(id)
        .select(FilingRow::as_select())
        .for_no_key_update()
        .first(conn)
        .optional()
}

pub fn update(
    conn: &mut PgConnection,
    id: Uuid,
    changes: &FilingChanges,
) -> QueryResult<FilingRow> {
    cached(
        diesel::update(filings::table.find(id))
            .set(changes)
            .returning(FilingRow::as_returning()),
    )
    .get_result(conn)
}

/// Whose filings a list shows.
pub enum ListScope<'a> {
    /// An applicant's own, drafts included.
    Applicant(Uuid),
    /// A department's: those it works on now or worked on before (through its tasks).
    Department(&'a str),
    /// Every submitted filing (admins, auditors).
    All,
}

/// Which filings a list shows.
pub struct ListFilter<'a> {
    pub scope: ListScope<'a>,
    pub state: Option<&'a str>,
    pub item: Option<&'a str>,
}

/// A list's position: the creation time and id of the last filing shown.
pub type ListKey = (DateTime<Utc>, Uuid);

/// How many filings a list holds.
pub fn count(conn: &mut PgConnection, f: &ListFilter<'_>) -> QueryResult<i64> {
    list_query(f).count().get_result(conn)
}

/// Filings newest first, after `after`: `limit` of them after `offset`.
pub fn list(
    conn: &mut PgConnection,
    f: &ListFilter<'_>,
    after: Option<ListKey>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<FilingRow>> {
    let mut q = list_query(f);
    if let Some((at, id)) = after {
        q = q.filter(
            filings::created_at
                .lt(at)
                .or(filings::created_at.eq(at).and(filings::id.gt(id))),
        );
    }
    q.order((filings::created_at.desc(), filings::id))
        .limit(limit)
        .offset(offset)
        .select(FilingRow::as_select())
        .load(conn)
}

fn list_query<'a>(f: &ListFilter<'a>) -> filings::BoxedQuery<'a, diesel::pg::Pg> {
    let (scope, state, item) = (&f.scope, f.state, f.item);
    let mut q = filings::table.into_boxed();
    match scope {
        ListScope::Applicant(id) => q = q.filter(filings::applicant_id.eq(*id)),
        ListScope::Department(d) => {
            let touched = tasks::table
                .filter(tasks::department.eq(d.to_owned()))
                .select(tasks::filing_id);
            q = q
                .filter(
                    filings::department
                        .eq(d.to_owned())
                        .or(filings::id.eq_any(touched)),
                )
                .filter(filings::state_kind.ne(StateKind::Draft));
        }
        ListScope::All => q = q.filter(filings::state_kind.ne(StateKind::Draft)),
    }
    if let Some(s) = state {
        q = q.filter(filings::state.eq(s.to_owned()));
    }
    if let Some(i) = item {
        q = q.filter(filings::item_code.eq(i.to_owned()));
    }
    q
}

/// Has this department ever had a task on the filing?
pub fn department_touched(
    conn: &mut PgConnection,
    filing: Uuid,
    department: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        tasks::table
            .filter(tasks::filing_id.eq(filing))
            .filter(tasks::department.eq(department)),
    ))
    .get_result(conn)
}

/// The next public number for a prefix and year. The counter row stays locked until the
/// transaction ends, so numbers are gapless: a rolled-back submission returns its number.
pub fn next_number(conn: &mut PgConnection, prefix: &str, year: i32) -> QueryResult<i32> {
    cached(
        diesel::insert_into(filing_counters::table)
            .values((
                filing_counters::prefix.eq(prefix),
                filing_counters::year.eq(year),
                filing_counters::last.eq(1),
            ))
            .on_conflict((filing_counters::prefix, filing_counters::year))
            .do_update()
            .set(filing_counters::last.eq(filing_counters::last + 1))
            .returning(filing_counters::last),
    )
    .get_result(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = materials, check_for_backend(diesel::pg::Pg))]
pub struct MaterialRow {
    pub id: Uuid,
    pub filing_id: Uuid,
    pub material: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: Uuid,
    pub uploaded_at: DateTime<Utc>,
    pub superseded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = materials)]
pub struct NewMaterial<'a> {
    pub id: Uuid,
    pub filing_id: Uuid,
    pub material: &'a str,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub uploaded_by: Uuid,
    pub uploaded_at: DateTime<Utc>,
}

pub fn insert_material(conn: &mut PgConnection, m: &NewMaterial<'_>) -> QueryResult<MaterialRow> {
    diesel::insert_into(materials::table)
        .values(m)
        .returning(MaterialRow::as_returning())
        .get_result(conn)
}

pub fn current_materials(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Vec<MaterialRow>> {
    materials::table
        .filter(materials::filing_id.eq(filing))
        .filter(materials::superseded_at.is_null())
        .order((materials::material, materials::uploaded_at))
        .select(MaterialRow::as_select())
        .load(conn)
}

/// The file with this content currently on file for a material of a filing, if any.
pub fn material_on_file(
    conn: &mut PgConnection,
    filing: Uuid,
    material: &str,
    sha256: &str,
) -> QueryResult<Option<MaterialRow>> {
    materials::table
        .filter(materials::filing_id.eq(filing))
        .filter(materials::superseded_at.is_null())
        .filter(materials::material.eq(material))
        .filter(materials::sha256.eq(sha256))
        .select(MaterialRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_material(
    conn: &mut PgConnection,
    filing: Uuid,
    id: Uuid,
) -> QueryResult<Option<MaterialRow>> {
    materials::table
        .filter(materials::filing_id.eq(filing))
        .filter(materials::id.eq(id))
        .select(MaterialRow::as_select())
        .first(conn)
        .optional()
}

pub fn supersede_material(
    conn: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        materials::table
            .find(id)
            .filter(materials::superseded_at.is_null()),
    )
    .set(materials::superseded_at.eq(Some(at)))
    .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reviews, check_for_backend(diesel::pg::Pg))]
pub struct ReviewRow {
    /// The state visit the answer belongs to (a filing sent back and reviewed again has
    /// answers of each round).
    pub visit: i32,
    pub department: String,
    pub verdict: Verdict,
    pub opinion: Option<String>,
    pub reason: Option<String>,
    pub decided_by: Uuid,
    pub decided_at: DateTime<Utc>,
}

/// Record a department's review (written with the batch).
pub fn insert_review_in(
    batch: &mut Batch,
    filing: Uuid,
    r: &super::actions::NewReview,
    by: Uuid,
    at: DateTime<Utc>,
) {
    batch.push(diesel::insert_into(reviews::table).values((
        reviews::filing_id.eq(filing),
        reviews::visit.eq(r.visit),
        reviews::department.eq(r.department.clone()),
        reviews::verdict.eq(r.verdict.as_str().to_owned()),
        reviews::opinion.eq(r.opinion.clone()),
        reviews::reason.eq(r.reason.clone()),
        reviews::decided_by.eq(by),
        reviews::decided_at.eq(at),
    )));
}

pub fn count_objections(conn: &mut PgConnection, filing: Uuid, visit: i32) -> QueryResult<i64> {
    objections::table
        .filter(objections::filing_id.eq(filing))
        .filter(objections::visit.eq(visit))
        .count()
        .get_result(conn)
}

/// Record an objection from the public notice (written with the batch).
pub fn insert_objection_in(
    batch: &mut Batch,
    filing: Uuid,
    visit: i32,
    body: String,
    by: Uuid,
    at: DateTime<Utc>,
) {
    batch.push(diesel::insert_into(objections::table).values((
        objections::filing_id.eq(filing),
        objections::visit.eq(visit),
        objections::body.eq(body),
        objections::recorded_by.eq(by),
        objections::recorded_at.eq(at),
    )));
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = clock_events, check_for_backend(diesel::pg::Pg))]
pub struct ClockEventRow {
    pub event: ClockEvent,
    pub reason: Option<String>,
    pub days: Option<i32>,
    pub at: DateTime<Utc>,
}

pub fn clock_events_for(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Vec<ClockEventRow>> {
    clock_events::table
        .filter(clock_events::filing_id.eq(filing))
        .order(clock_events::id)
        .select(ClockEventRow::as_select())
        .load(conn)
}

pub fn insert_extension(
    conn: &mut PgConnection,
    filing: Uuid,
    days: i32,
    reason: &str,
    at: DateTime<Utc>,
    actor: Uuid,
) -> QueryResult<usize> {
    diesel::insert_into(clock_events::table)
        .values((
            clock_events::filing_id.eq(filing),
            clock_events::event.eq("extend"),
            clock_events::reason.eq(reason),
            clock_events::days.eq(Some(days)),
            clock_events::at.eq(at),
            clock_events::actor_id.eq(Some(actor)),
        ))
        .execute(conn)
}

/// The derived deadlines stored on a filing (copies; the ledger is the truth).
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = filings, treat_none_as_null = true)]
pub struct DeadlineColumns {
    pub statutory_due_on: Option<NaiveDate>,
    pub promised_due_on: Option<NaiveDate>,
    pub warn_on: Option<NaiveDate>,
    pub step_due_on: Option<NaiveDate>,
    pub clock_suspended: bool,
    pub clock_provisional: bool,
    pub on_time_statutory: Option<bool>,
    pub on_time_promised: Option<bool>,
    /// The running clock's warning and due days, for escalation to managers (NULL while no
    /// clock runs).
    pub escalation_warn_on: Option<NaiveDate>,
    pub escalation_due_on: Option<NaiveDate>,
}

pub fn set_deadlines(
    conn: &mut PgConnection,
    filing: Uuid,
    d: &DeadlineColumns,
    task_due: Option<NaiveDate>,
) -> QueryResult<()> {
    diesel::update(filings::table.find(filing))
        .set(d)
        .execute(conn)?;
    diesel::update(
        tasks::table
            .filter(tasks::filing_id.eq(filing))
            .filter(tasks::closed_at.is_null()),
    )
    .set(tasks::due_on.eq(task_due))
    .execute(conn)?;
    Ok(())
}

/// Open filings that were submitted, whose clock may have started (for recomputation after a
/// calendar change), in pages.
pub fn open_started(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Uuid>> {
    let mut q = filings::table
        .filter(filings::closed_at.is_null())
        .filter(filings::submitted_at.is_not_null())
        .select(filings::id)
        .order(filings::id)
        .limit(limit)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(filings::id.gt(a));
    }
    q.load(conn)
}

/// Everything an action or a view needs to know beside the filing row, in one round trip:
/// current materials, the reviews of every visit (the decision's record), this visit's
/// objections, the clock ledger, the open tasks,
/// how many deadlines on the applicant are open, the applicant as a recipient of mail, and the
/// filing's draw.
#[derive(Debug)]
pub struct FactsRows {
    pub materials: Vec<MaterialRow>,
    pub reviews: Vec<ReviewRow>,
    pub objections: i64,
    pub ledger: Vec<ClockEventRow>,
    pub tasks: Vec<super::tasks::TaskRow>,
    /// Deadlines on the applicant still open.
    pub open_deadlines: Vec<OpenDeadlineRow>,
    /// `None` when the applicant's account is not active.
    pub applicant: Option<ApplicantContact>,
    /// The filing's place in a 双随机 draw (items with spot checks), if it is in one.
    pub draw: Option<super::draws::DrawFilingRow>,
}

/// An open deadline on the applicant, as an action's facts hold it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::applicant_deadlines, check_for_backend(diesel::pg::Pg))]
pub struct OpenDeadlineRow {
    pub id: i64,
    pub code: String,
    pub due_on: chrono::NaiveDate,
    pub extensions: i32,
    pub state_visit: Option<i32>,
}

/// What a letter to the applicant needs.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::users, check_for_backend(diesel::pg::Pg))]
pub struct ApplicantContact {
    pub id: Uuid,
    pub email: Option<String>,
    pub lang: Lang,
    pub display_name: String,
}

/// The SQL type of a row type's selection: its fields' column types, in its fields' order (the
/// order each record of the facts lists them in).
type RowOf<T> = diesel::dsl::SqlTypeOf<<T as Selectable<diesel::pg::Pg>>::SelectExpression>;
/// A list of such rows, as an array of records.
type RowsOf<T> = diesel::sql_types::Array<diesel::sql_types::Record<RowOf<T>>>;
/// One such row or none, as a record.
type MaybeRowOf<T> = diesel::sql_types::Nullable<diesel::sql_types::Record<RowOf<T>>>;

#[derive(QueryableByName)]
struct FactsRecords {
    #[diesel(sql_type = RowsOf<MaterialRow>)]
    materials: Records<MaterialRow>,
    #[diesel(sql_type = RowsOf<ReviewRow>)]
    reviews: Records<ReviewRow>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    objections: i64,
    #[diesel(sql_type = RowsOf<ClockEventRow>)]
    ledger: Records<ClockEventRow>,
    #[diesel(sql_type = RowsOf<super::tasks::TaskRow>)]
    tasks: Records<super::tasks::TaskRow>,
    #[diesel(sql_type = RowsOf<OpenDeadlineRow>)]
    open_deadlines: Records<OpenDeadlineRow>,
    #[diesel(sql_type = MaybeRowOf<ApplicantContact>)]
    applicant: Option<One<ApplicantContact>>,
    #[diesel(sql_type = MaybeRowOf<super::draws::DrawFilingRow>)]
    draw: Option<One<super::draws::DrawFilingRow>>,
}

/// The facts as columns of a query over the filing: `{filing}`, `{visit}` and `{applicant}`
/// stand for the filing's id, its state visit and its applicant. The lists are arrays of one
/// record per row (`ARRAY(subquery)`), not `jsonb_agg`: an aggregate node is costly for the
/// executor to set up on every run, and this runs on every action (measured with
/// `pgbench -M prepared`: README, Benchmarks). Records, not JSON: they arrive in binary, field
/// by field ([`crate::db::records`]), so each record lists its type's fields in their order.
fn facts_columns(filing: &str, visit: &str, applicant: &str) -> String {
    format!(
        "ARRAY(SELECT ROW(id, filing_id, material, file_name, content_type, size_bytes, sha256, \
                          uploaded_by, uploaded_at, superseded_at) \
               FROM materials WHERE filing_id = {filing} AND superseded_at IS NULL \
               ORDER BY material, uploaded_at) AS materials, \
         ARRAY(SELECT ROW(visit, department, verdict, opinion, reason, decided_by, decided_at) \
               FROM reviews WHERE filing_id = {filing} ORDER BY visit, decided_at) AS reviews, \
         (SELECT count(*) FROM objections WHERE filing_id = {filing} AND visit = {visit}) AS objections, \
         ARRAY(SELECT ROW(event, reason, days, at) FROM clock_events WHERE filing_id = {filing} \
               ORDER BY id) AS ledger, \
         ARRAY(SELECT ROW(id, filing_id, state, role, department, created_at, claimed_by, claimed_at, \
                          closed_at) \
               FROM tasks WHERE filing_id = {filing} AND closed_at IS NULL ORDER BY id) AS tasks, \
         ARRAY(SELECT ROW(id, code, due_on, extensions, state_visit) FROM applicant_deadlines \
               WHERE filing_id = {filing} AND closed_at IS NULL ORDER BY id) AS open_deadlines, \
         (SELECT ROW(id, email, lang, display_name) FROM users WHERE id = {applicant} AND active) \
            AS applicant, \
         (SELECT ROW(filing_id, draw_id, number, class, late, selected, inspectors) \
            FROM draw_filings WHERE filing_id = {filing}) AS draw"
    )
}

static FACTS_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("SELECT {}", facts_columns("$1", "$2", "$3")));

/// The filing row by id (`$1`) with its facts, then `tail`: the one text behind
/// [`lock_with_facts`] and [`read_with_facts`].
fn filing_with_facts_sql(extra: &str, tail: &str) -> String {
    format!(
        "SELECT f.id, f.item_version_id, f.item_code, f.number, f.applicant_id, f.state, \
                f.state_kind, f.department, f.version, f.state_visit, f.form, f.promises, f.notice, \
                f.entered_state_at, f.submitted_at, f.accepted_at, f.closed_at, f.created_at, \
                f.updated_at, f.channel, f.filed_by, {extra}{} \
         FROM filings f WHERE f.id = $1{tail}",
        facts_columns("f.id", "f.state_visit", "f.applicant_id")
    )
}

/// The filing row, locked, with its facts: see [`lock_with_facts`].
static LOCK_WITH_FACTS_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| filing_with_facts_sql("", " FOR NO KEY UPDATE OF f"));

/// The filing row with its facts and its `xmin`, without a lock: see [`read_with_facts`].
static READ_WITH_FACTS_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| filing_with_facts_sql("f.xmin::text AS row_xmin, ", ""));

pub fn facts(
    conn: &mut PgConnection,
    filing: Uuid,
    visit: i32,
    applicant: Uuid,
) -> QueryResult<FactsRows> {
    let j: FactsRecords = cached(
        diesel::sql_query(FACTS_SQL.as_str())
            .bind::<diesel::sql_types::Uuid, _>(filing)
            .bind::<diesel::sql_types::Integer, _>(visit)
            .bind::<diesel::sql_types::Uuid, _>(applicant),
    )
    .get_result(conn)?;
    j.rows()
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(embed)]
    filing: FilingRow,
    #[diesel(embed)]
    facts: FactsRecords,
}

/// Lock the filing row (as [`lock`]) and read its facts, in one round trip.
///
/// The facts are read with the statement's snapshot, which does not include a transaction this
/// one waited for on the lock. That is safe for an action because every change to the facts
/// made under the filing's lock (an action, an edit, a material, an extension) also bumps the
/// filing's version: after such a wait the caller's expected version no longer matches (the
/// caller cannot have seen a version committed after its request began), and the action is
/// refused as stale before the facts are used.
pub fn lock_with_facts(
    conn: &mut PgConnection,
    id: Uuid,
) -> QueryResult<Option<(FilingRow, FactsRows)>> {
    let locked: Option<Locked> = cached(
        diesel::sql_query(LOCK_WITH_FACTS_SQL.as_str()).bind::<diesel::sql_types::Uuid, _>(id),
    )
    .get_result(conn)
    .optional()?;
    locked.map(|l| Ok((l.filing, l.facts.rows()?))).transpose()
}

#[derive(QueryableByName)]
struct Read {
    #[diesel(embed)]
    filing: FilingRow,
    #[diesel(sql_type = diesel::sql_types::Text)]
    row_xmin: String,
    #[diesel(embed)]
    facts: FactsRecords,
}

/// Read the filing row and its facts in one statement, without a lock, with the row's `xmin`
/// (the transaction that wrote this version of it). The statement's one snapshot makes the row
/// and the facts agree; [`update_guarded_in`] then writes only if the row is still this version.
pub fn read_with_facts(
    conn: &mut PgConnection,
    id: Uuid,
) -> QueryResult<Option<(FilingRow, FactsRows, String)>> {
    let read: Option<Read> = cached(
        diesel::sql_query(READ_WITH_FACTS_SQL.as_str()).bind::<diesel::sql_types::Uuid, _>(id),
    )
    .get_result(conn)
    .optional()?;
    read.map(|r| Ok((r.filing, r.facts.rows()?, r.row_xmin)))
        .transpose()
}

impl FactsRecords {
    fn rows(self) -> QueryResult<FactsRows> {
        Ok(FactsRows {
            materials: self.materials.0,
            reviews: self.reviews.0,
            objections: self.objections,
            ledger: self.ledger.0,
            tasks: self.tasks.0,
            open_deadlines: self.open_deadlines.0,
            applicant: self.applicant.map(|a| a.0),
            draw: self.draw.map(|d| d.0),
        })
    }
}

/// Append clock events (written with the batch; none: nothing).
pub fn insert_clock_events_in(
    batch: &mut Batch,
    filing: Uuid,
    events: &[super::actions::NewClockEvent],
    at: DateTime<Utc>,
    actor: Option<Uuid>,
) {
    if events.is_empty() {
        return;
    }
    let rows: Vec<_> = events
        .iter()
        .map(|e| {
            (
                clock_events::filing_id.eq(filing),
                clock_events::event.eq(e.event.as_str().to_owned()),
                clock_events::reason.eq(e.reason.map(|r| r.as_str().to_owned())),
                clock_events::at.eq(at),
                clock_events::actor_id.eq(actor),
            )
        })
        .collect();
    batch.push(diesel::insert_into(clock_events::table).values(rows));
}

/// Write an action's changes and the recomputed deadline copies (with the batch). The row as
/// written is `FilingRow::with_changes`.
pub fn update_in(batch: &mut Batch, id: Uuid, changes: FilingChanges, deadlines: DeadlineColumns) {
    batch.push(diesel::update(filings::table.find(id)).set((changes, deadlines)));
}

/// As [`update_in`], but only if the row is still the version read with `xmin` (see
/// [`read_with_facts`]); the part's name, for the batch's check that it wrote one row
/// ([`crate::db::batch::expect_one`]). Any write to the row since, whether or not it bumped the
/// version (a calendar reload recomputing the deadline copies), makes it write nothing.
pub fn update_guarded_in(
    batch: &mut Batch,
    id: Uuid,
    xmin: String,
    changes: FilingChanges,
    deadlines: DeadlineColumns,
) -> String {
    batch.push(ReturningOne(
        diesel::update(
            filings::table.find(id).filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("xmin::text = ")
                    .bind::<diesel::sql_types::Text, _>(xmin),
            ),
        )
        .set((changes, deadlines)),
    ))
}

impl FilingRow {
    /// The 容缺 promises: each tolerated material with the date the applicant promised it by
    /// (a value that is not a date is no promise).
    pub fn promise_dates(&self) -> std::collections::BTreeMap<String, NaiveDate> {
        self.promises
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        v.as_str()
                            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                            .map(|d| (k.clone(), d))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The row after an UPDATE with `c` (what `update_in` writes, without reading it back).
    pub fn with_changes(mut self, c: &FilingChanges) -> FilingRow {
        fn set<T: Clone>(field: &mut T, v: &Option<T>) {
            if let Some(v) = v {
                field.clone_from(v);
            }
        }
        let FilingChanges {
            number,
            state,
            state_kind,
            department,
            version,
            state_visit,
            form,
            promises,
            notice,
            entered_state_at,
            submitted_at,
            accepted_at,
            closed_at,
            updated_at,
            channel,
        } = c;
        if channel.is_some() {
            self.channel = *channel;
        }
        if number.is_some() {
            self.number.clone_from(number);
        }
        set(&mut self.state, state);
        set(&mut self.state_kind, state_kind);
        set(&mut self.department, department);
        set(&mut self.version, version);
        set(&mut self.state_visit, state_visit);
        set(&mut self.form, form);
        set(&mut self.promises, promises);
        set(&mut self.notice, notice);
        set(&mut self.entered_state_at, entered_state_at);
        if submitted_at.is_some() {
            self.submitted_at = *submitted_at;
        }
        if accepted_at.is_some() {
            self.accepted_at = *accepted_at;
        }
        if closed_at.is_some() {
            self.closed_at = *closed_at;
        }
        set(&mut self.updated_at, updated_at);
        self
    }
}

/// A filing with its running clock's due and warning days.
/// A filing with its nearest limit's due and warning days, then its promised and statutory
/// limits' due days.
pub type FilingLine = (
    FilingRow,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<NaiveDate>,
);

/// An applicant's filings, newest first, with the running clock's due and warning days.
/// Which of an applicant's filings a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shown {
    #[default]
    All,
    /// Not closed.
    Open,
    /// Closed.
    Closed,
    /// Waiting on the applicant: a draft, or a state of the applicant's (补正, 整改).
    Waiting,
}

/// A page of an applicant's filings.
#[derive(Debug, Clone, Default)]
pub struct ApplicantQuery {
    /// Matches the filing number or any value of the form (a project's name, an address).
    pub search: Option<String>,
    pub shown: Shown,
    pub limit: i64,
    pub offset: i64,
}

/// A LIKE pattern that finds `s` anywhere, its backslash, `%` and `_` taken literally.
pub fn contains_pattern(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A page of an applicant's filings, newest first, and how many match in all. The applicant's
/// own filings are a few hundred at most: the applicant index bounds the scan.
pub fn applicant_lines(
    conn: &mut PgConnection,
    applicant: Uuid,
    q: &ApplicantQuery,
) -> QueryResult<(Vec<FilingLine>, i64)> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let pattern = q.search.as_deref().map(contains_pattern);
    let filtered = || {
        let mut query = filings::table
            .filter(filings::applicant_id.eq(applicant))
            .into_boxed();
        if let Some(p) = &pattern {
            query = query.filter(
                sql::<Bool>("(coalesce(number, '') ILIKE ")
                    .bind::<Text, _>(p.clone())
                    .sql(" OR form::text ILIKE ")
                    .bind::<Text, _>(p.clone())
                    .sql(")"),
            );
        }
        match q.shown {
            Shown::All => {}
            Shown::Open => query = query.filter(filings::closed_at.is_null()),
            Shown::Closed => query = query.filter(filings::closed_at.is_not_null()),
            Shown::Waiting => {
                query =
                    query
                        .filter(filings::closed_at.is_null())
                        .filter(filings::state_kind.eq_any([
                            StateKind::Draft.as_str(),
                            StateKind::WaitingApplicant.as_str(),
                        ]))
            }
        }
        query
    };
    let total = filtered().count().get_result(conn)?;
    let lines = filtered()
        .order((filings::created_at.desc(), filings::id))
        .limit(q.limit)
        .offset(q.offset)
        .select((
            FilingRow::as_select(),
            filings::escalation_due_on,
            filings::escalation_warn_on,
            filings::promised_due_on,
            filings::statutory_due_on,
        ))
        .load(conn)?;
    Ok((lines, total))
}

pub fn rating_of(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Option<i16>> {
    ratings::table
        .find(filing)
        .select(ratings::score)
        .first(conn)
        .optional()
}

/// Record a rating unless the filing has one. True when recorded.
pub fn insert_rating(
    conn: &mut PgConnection,
    filing: Uuid,
    score: i16,
    comment: Option<&str>,
    by: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    let n = diesel::insert_into(ratings::table)
        .values((
            ratings::filing_id.eq(filing),
            ratings::score.eq(score),
            ratings::comment.eq(comment),
            ratings::rated_by.eq(by),
            ratings::rated_at.eq(at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(n == 1)
}

/// A filing's id, item version and form (for the item's title fields), and its applicant's
/// name and kind of account.
pub type Head = (Uuid, i32, Value, String, String);

/// What names each of these filings in a staff list ([`Head`]).
pub fn heads(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<Vec<Head>> {
    use crate::db::schema::users;
    filings::table
        .inner_join(users::table.on(users::id.eq(filings::applicant_id)))
        .filter(filings::id.eq_any(ids))
        .select((
            filings::id,
            filings::item_version_id,
            filings::form,
            users::display_name,
            users::kind,
        ))
        .load(conn)
}
