//! Spot-check draws: the committed inputs, the result, each filing's place, declared conflicts;
//! and the seals a draw's seed is read from.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::db::schema::{
    audit_log, audit_seal_heads, audit_seals, draw_conflicts, draw_filings, draws, filings,
};
use crate::repo::audit::SealRow;
use crate::repo::filings::FilingRow;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = draws, check_for_backend(diesel::pg::Pg))]
pub struct DrawRow {
    pub id: Uuid,
    pub item_code: String,
    pub item_version_id: i32,
    pub pool_state: String,
    pub mode: String,
    pub rule_version: String,
    pub inputs: Value,
    pub committed_at: DateTime<Utc>,
    pub commit_seq: i64,
    pub seal_seq: Option<i64>,
    pub seed: Option<String>,
    pub result: Option<Value>,
    pub drawn_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = draws)]
pub struct NewDraw<'a> {
    pub id: Uuid,
    pub item_code: &'a str,
    pub item_version_id: i32,
    pub pool_state: &'a str,
    pub mode: &'a str,
    pub rule_version: &'a str,
    pub inputs: Value,
    pub committed_at: DateTime<Utc>,
    pub commit_seq: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = draw_filings, check_for_backend(diesel::pg::Pg))]
pub struct DrawFilingRow {
    pub filing_id: Uuid,
    pub draw_id: Uuid,
    pub number: String,
    pub class: String,
    pub late: bool,
    pub selected: Option<bool>,
    /// The drawn inspectors, lead first (empty unless selected; a Postgres array's elements
    /// are nullable, none is null here).
    pub inspectors: Vec<Option<Uuid>>,
}

impl DrawFilingRow {
    /// The drawn inspectors, lead first.
    pub fn inspector_ids(&self) -> Vec<Uuid> {
        self.inspectors.iter().flatten().copied().collect()
    }
}

pub fn insert(
    conn: &mut PgConnection,
    draw: &NewDraw<'_>,
    entries: &[DrawFilingRow],
) -> QueryResult<()> {
    diesel::insert_into(draws::table)
        .values(draw)
        .execute(conn)?;
    diesel::insert_into(draw_filings::table)
        .values(entries)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<DrawRow>> {
    draws::table
        .find(id)
        .select(DrawRow::as_select())
        .first(conn)
        .optional()
}

pub fn lock(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<DrawRow>> {
    draws::table
        .find(id)
        .select(DrawRow::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// A draw's filings, by number.
pub fn entries(conn: &mut PgConnection, draw: Uuid) -> QueryResult<Vec<DrawFilingRow>> {
    draw_filings::table
        .filter(draw_filings::draw_id.eq(draw))
        .order(draw_filings::number)
        .select(DrawFilingRow::as_select())
        .load(conn)
}

/// A draw's filings with each filing's state now (the inspection's result, once done).
pub fn entries_with_state(
    conn: &mut PgConnection,
    draw: Uuid,
) -> QueryResult<Vec<(DrawFilingRow, String)>> {
    draw_filings::table
        .inner_join(filings::table)
        .filter(draw_filings::draw_id.eq(draw))
        .order(draw_filings::number)
        .select((DrawFilingRow::as_select(), filings::state))
        .load(conn)
}

/// The filing's place in a draw, if it has one.
pub fn for_filing(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Option<DrawFilingRow>> {
    draw_filings::table
        .find(filing)
        .select(DrawFilingRow::as_select())
        .first(conn)
        .optional()
}

/// Record a draw's seed and result, and each filing's.
pub fn record_result(
    conn: &mut PgConnection,
    id: Uuid,
    seal_seq: i64,
    seed: &str,
    result: Value,
    at: DateTime<Utc>,
    per_filing: &[(String, bool, Vec<Uuid>)],
) -> QueryResult<()> {
    diesel::update(draws::table.find(id))
        .set((
            draws::seal_seq.eq(Some(seal_seq)),
            draws::seed.eq(Some(seed)),
            draws::result.eq(Some(result)),
            draws::drawn_at.eq(Some(at)),
        ))
        .execute(conn)?;
    for (number, selected, inspectors) in per_filing {
        diesel::update(
            draw_filings::table
                .filter(draw_filings::draw_id.eq(id))
                .filter(draw_filings::number.eq(number)),
        )
        .set((
            draw_filings::selected.eq(Some(*selected)),
            draw_filings::inspectors.eq(inspectors.iter().map(|u| Some(*u)).collect::<Vec<_>>()),
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// Draws committed and not drawn, oldest first.
pub fn undrawn(conn: &mut PgConnection) -> QueryResult<Vec<Uuid>> {
    draws::table
        .filter(draws::drawn_at.is_null())
        .order(draws::committed_at)
        .select(draws::id)
        .load(conn)
}

/// Drawn draws with a filing still where the draw found it (its action not yet taken).
pub fn unfinished(conn: &mut PgConnection) -> QueryResult<Vec<Uuid>> {
    draws::table
        .inner_join(draw_filings::table.inner_join(filings::table))
        .filter(draws::drawn_at.is_not_null())
        .filter(filings::state.eq(draws::pool_state))
        .select(draws::id)
        .distinct()
        .load(conn)
}

/// Filings of an item waiting in `state` that no draw holds, locked (those another transaction
/// holds are skipped: a receipt drawing its own filing right now).
pub fn undrawn_filings(
    conn: &mut PgConnection,
    item_code: &str,
    state: &str,
    limit: i64,
) -> QueryResult<Vec<FilingRow>> {
    filings::table
        .filter(filings::item_code.eq(item_code))
        .filter(filings::state.eq(state))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            draw_filings::table.filter(draw_filings::filing_id.eq(filings::id)),
        )))
        .order((filings::submitted_at, filings::id))
        .limit(limit)
        .select(FilingRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
}

/// Everyone who took an action on the filing (its own audit chain): they may not inspect it.
pub fn actors_on(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Vec<Uuid>> {
    audit_log::table
        .filter(audit_log::chain.eq(format!("filing:{filing}")))
        .filter(audit_log::actor_id.is_not_null())
        .select(audit_log::actor_id.assume_not_null())
        .distinct()
        .load(conn)
}

/// Staff who declared a conflict with this builder.
pub fn conflicted(conn: &mut PgConnection, credit_code: &str) -> QueryResult<Vec<Uuid>> {
    draw_conflicts::table
        .filter(draw_conflicts::credit_code.eq(credit_code))
        .select(draw_conflicts::user_id)
        .load(conn)
}

pub fn declare_conflict(
    conn: &mut PgConnection,
    user: Uuid,
    credit_code: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(draw_conflicts::table)
        .values((
            draw_conflicts::user_id.eq(user),
            draw_conflicts::credit_code.eq(credit_code),
            draw_conflicts::reason.eq(reason),
            draw_conflicts::declared_at.eq(at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// The first seal that records `chain` at `seq` or later: the first made after that entry.
pub fn first_seal_recording(
    conn: &mut PgConnection,
    chain: &str,
    seq: i64,
) -> QueryResult<Option<SealRow>> {
    audit_seals::table
        .filter(
            audit_seals::seq.eq_any(
                audit_seal_heads::table
                    .filter(audit_seal_heads::chain.eq(chain))
                    .filter(audit_seal_heads::seq.ge(seq))
                    .select(audit_seal_heads::seal_seq),
            ),
        )
        .order(audit_seals::seq)
        .select(SealRow::as_select())
        .first(conn)
        .optional()
}

/// The head of `chain` a seal recorded: (seq, hash).
pub fn sealed_head(
    conn: &mut PgConnection,
    seal: i64,
    chain: &str,
) -> QueryResult<Option<(i64, String)>> {
    audit_seal_heads::table
        .filter(audit_seal_heads::seal_seq.eq(seal))
        .filter(audit_seal_heads::chain.eq(chain))
        .select((audit_seal_heads::seq, audit_seal_heads::hash))
        .first(conn)
        .optional()
}

/// The entry at `seq` of a chain: (entry, prev_hash, hash).
pub fn chain_entry(
    conn: &mut PgConnection,
    chain: &str,
    seq: i64,
) -> QueryResult<Option<(String, String, String)>> {
    audit_log::table
        .filter(audit_log::chain.eq(chain))
        .filter(audit_log::seq.eq(seq))
        .select((audit_log::entry, audit_log::prev_hash, audit_log::hash))
        .first(conn)
        .optional()
}

pub fn count(conn: &mut PgConnection) -> QueryResult<i64> {
    draws::table.count().get_result(conn)
}

/// Newest first, after a cursor (committed_at, id).
pub fn list(
    conn: &mut PgConnection,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<DrawRow>> {
    let mut q = draws::table.into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(
            draws::committed_at
                .lt(at)
                .or(draws::committed_at.eq(at).and(draws::id.lt(id))),
        );
    }
    q.order((draws::committed_at.desc(), draws::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(DrawRow::as_select())
        .load(conn)
}
