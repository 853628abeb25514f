//! The audit log: append under the chain head's row lock; read chains back for verification.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::batch::{Batch, Raw};
use crate::db::schema::{audit_heads, audit_log, audit_seal_heads, audit_seals};
use crate::domain::audit::{self as chain, StoredLink};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditRow {
    pub id: i64,
    pub chain: String,
    pub seq: i64,
    pub filing_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub at: DateTime<Utc>,
    pub entry: String,
    pub prev_hash: String,
    pub hash: String,
}

/// One event to record.
pub struct Event<'a> {
    pub chain: String,
    pub filing_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: &'a str,
    pub at: DateTime<Utc>,
    pub payload: Value,
}

impl<'a> Event<'a> {
    /// An event of a person's own account (sign-in, sign-out, password), in their own chain.
    pub fn own_account(user: Uuid, action: &'a str, at: DateTime<Utc>, payload: Value) -> Self {
        Event {
            chain: format!("user:{user}"),
            filing_id: None,
            actor_id: Some(user),
            action,
            at,
            payload,
        }
    }

    /// An event in a filing's own chain.
    pub fn filing(
        filing: Uuid,
        actor: Uuid,
        action: &'a str,
        at: DateTime<Utc>,
        payload: Value,
    ) -> Self {
        Event {
            chain: format!("filing:{filing}"),
            filing_id: Some(filing),
            actor_id: Some(actor),
            action,
            at,
            payload,
        }
    }
}

/// Append an entry to its chain in the caller's transaction, in one round trip (see
/// [`append_in`]); the entry as written.
pub fn append(conn: &mut PgConnection, ev: Event<'_>) -> QueryResult<AuditRow> {
    let mut batch = Batch::new();
    let entry = append_parts(&mut batch, &ev);
    batch
        .flush_returning::<AuditRow>(conn, entry.sql(" RETURNING *"))?
        .pop()
        .ok_or(diesel::result::Error::NotFound)
}

/// Add an entry to `batch`, written when the batch is.
///
/// The chain head's UPDATE takes the next `seq` and locks the head row until the transaction
/// ends, so appends to one chain are serialised and gapless while different chains do not
/// contend; it computes the new hash from the locked (latest) head and returns the hash it
/// replaced. Only a chain without a head yet gets it from an INSERT (… ON CONFLICT DO UPDATE, for
/// two first appends at once), which runs only when the UPDATE found no row: an upsert on every
/// append would lock the existing head with a log record of its own before updating it. The
/// entry is then inserted from the head's row. The entry is the canonical JSON of its fields;
/// `seq` sorts last among them, so the text up to `"seq":` is fixed before the `seq` is known
/// and is sent along. The link is SHA-256 over prev_hash || '\n' || entry in lower-case hex,
/// exactly as src/domain/audit.rs verifies it.
pub fn append_in(batch: &mut Batch, ev: &Event<'_>) {
    let entry = append_parts(batch, ev);
    batch.push(entry);
}

/// Push the head's update and its first insert; the entry's INSERT, reading them, for the
/// caller to place.
fn append_parts(batch: &mut Batch, ev: &Event<'_>) -> Raw {
    use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
    let head = entry_head(ev);
    let next = "encode(sha256(convert_to(h.hash || E'\\n' || ";
    let moved = batch.push(
        Raw::new(format!(
            "UPDATE audit_heads AS h SET seq = h.seq + 1, prev_hash = h.hash, hash = {next}"
        ))
        .bind::<Text, _>(head.clone())
        .sql(" || (h.seq + 1)::text || '}', 'UTF8')), 'hex'), updated_at = ")
        .bind::<Timestamptz, _>(ev.at)
        .sql(" WHERE h.chain = ")
        .bind::<Text, _>(ev.chain.clone())
        .sql(" RETURNING h.seq, h.prev_hash, h.hash"),
    );
    let first = batch.push(
        Raw::new("INSERT INTO audit_heads AS h (chain, seq, prev_hash, hash, updated_at) SELECT ")
            .bind::<Text, _>(ev.chain.clone())
            .sql(", 1, repeat('0', 64), encode(sha256(convert_to(repeat('0', 64) || E'\\n' || ")
            .bind::<Text, _>(head.clone())
            .sql(" || '1}', 'UTF8')), 'hex'), ")
            .bind::<Timestamptz, _>(ev.at)
            .sql(format!(
                " WHERE NOT EXISTS (SELECT 1 FROM {moved}) \
             ON CONFLICT (chain) DO UPDATE SET seq = h.seq + 1, prev_hash = h.hash, hash = {next}"
            ))
            .bind::<Text, _>(head.clone())
            .sql(
                " || (h.seq + 1)::text || '}', 'UTF8')), 'hex'), updated_at = EXCLUDED.updated_at \
             RETURNING h.seq, h.prev_hash, h.hash",
            ),
    );
    Raw::new(
        "INSERT INTO audit_log (chain, seq, filing_id, actor_id, action, at, entry, prev_hash, \
         hash) SELECT ",
    )
    .bind::<Text, _>(ev.chain.clone())
    .sql(", seq, ")
    .bind::<Nullable<SqlUuid>, _>(ev.filing_id)
    .sql(", ")
    .bind::<Nullable<SqlUuid>, _>(ev.actor_id)
    .sql(", ")
    .bind::<Text, _>(ev.action.to_owned())
    .sql(", ")
    .bind::<Timestamptz, _>(ev.at)
    .sql(", ")
    .bind::<Text, _>(head)
    .sql(format!(
        " || seq::text || '}}', prev_hash, hash FROM \
         (SELECT * FROM {moved} UNION ALL SELECT * FROM {first}) h"
    ))
}

/// The canonical entry without its `seq`, open for it: `{…,"payload":…,"seq":`. The entry is
/// this text, the decimal `seq` and `}` (what `chain::canonical` gives with the `seq` in).
fn entry_head(ev: &Event<'_>) -> String {
    let mut head = chain::canonical(&json!({
        "chain": ev.chain,
        "filing_id": ev.filing_id,
        "actor_id": ev.actor_id,
        "action": ev.action,
        // Microseconds: what timestamptz keeps, so the entry and the column agree.
        "at": entry_time(ev.at),
        "payload": ev.payload,
    }));
    head.pop(); // the closing brace
    head.push_str(",\"seq\":");
    head
}

pub fn for_filing(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Vec<AuditRow>> {
    audit_log::table
        .filter(audit_log::chain.eq(format!("filing:{filing}")))
        .order(audit_log::seq)
        .select(AuditRow::as_select())
        .load(conn)
}

pub fn heads(conn: &mut PgConnection) -> QueryResult<Vec<(String, i64, String)>> {
    audit_heads::table
        .order(audit_heads::chain)
        .select((audit_heads::chain, audit_heads::seq, audit_heads::hash))
        .load(conn)
}

/// Chains present in the log (a chain with entries but no head is itself a finding).
pub fn chains(conn: &mut PgConnection) -> QueryResult<Vec<String>> {
    audit_log::table
        .select(audit_log::chain)
        .distinct()
        .order(audit_log::chain)
        .load(conn)
}

/// The "at" of an entry, exactly as `append` writes it.
pub fn entry_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn links(conn: &mut PgConnection, chain_key: &str) -> QueryResult<Vec<StoredLink>> {
    let rows: Vec<AuditRow> = audit_log::table
        .filter(audit_log::chain.eq(chain_key))
        .order(audit_log::seq)
        .select(AuditRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| StoredLink {
            columns: json!({
                "chain": r.chain,
                "seq": r.seq,
                "filing_id": r.filing_id,
                "actor_id": r.actor_id,
                "action": r.action,
                "at": entry_time(r.at),
            }),
            id: r.id,
            seq: r.seq,
            entry: r.entry,
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
        .collect())
}

/// A seal over the chain heads, as stored (see `audit_seals` in the baseline migration).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_seals, check_for_backend(diesel::pg::Pg))]
pub struct SealRow {
    pub seq: i64,
    pub sealed_at: DateTime<Utc>,
    pub heads: i32,
    pub entry: String,
    pub prev_hash: String,
    pub hash: String,
}

/// One sealer at a time (a transaction-scoped advisory lock); the latest seal.
pub fn lock_seals(conn: &mut PgConnection) -> QueryResult<Option<SealRow>> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('permits:audit_seal'))")
        .execute(conn)?;
    latest_seal(conn)
}

pub fn latest_seal(conn: &mut PgConnection) -> QueryResult<Option<SealRow>> {
    audit_seals::table
        .order(audit_seals::seq.desc())
        .select(SealRow::as_select())
        .first(conn)
        .optional()
}

/// Mark every chain head that moved since its last seal as sealed; those heads (chain, seq,
/// hash). A head whose append has not committed yet is waited for and taken as committed.
pub fn take_unsealed_heads(conn: &mut PgConnection) -> QueryResult<Vec<(String, i64, String)>> {
    diesel::update(audit_heads::table.filter(audit_heads::sealed_seq.ne(audit_heads::seq)))
        .set(audit_heads::sealed_seq.eq(audit_heads::seq))
        .returning((audit_heads::chain, audit_heads::seq, audit_heads::hash))
        .get_results(conn)
}

/// Write a seal and the heads it records.
pub fn insert_seal(
    conn: &mut PgConnection,
    seal: &SealRow,
    heads: &[(String, i64, String)],
) -> QueryResult<()> {
    diesel::insert_into(audit_seals::table)
        .values((
            audit_seals::seq.eq(seal.seq),
            audit_seals::sealed_at.eq(seal.sealed_at),
            audit_seals::heads.eq(seal.heads),
            audit_seals::entry.eq(&seal.entry),
            audit_seals::prev_hash.eq(&seal.prev_hash),
            audit_seals::hash.eq(&seal.hash),
        ))
        .execute(conn)?;
    // The first seal of a large database records every chain: in slices.
    for part in heads.chunks(20_000) {
        let chains: Vec<&str> = part.iter().map(|h| h.0.as_str()).collect();
        let seqs: Vec<i64> = part.iter().map(|h| h.1).collect();
        let hashes: Vec<&str> = part.iter().map(|h| h.2.as_str()).collect();
        diesel::sql_query(
            "INSERT INTO audit_seal_heads (seal_seq, chain, seq, hash) \
             SELECT $1, c, s, h FROM unnest($2::text[], $3::bigint[], $4::text[]) AS x(c, s, h)",
        )
        .bind::<diesel::sql_types::BigInt, _>(seal.seq)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(chains)
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(seqs)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(hashes)
        .execute(conn)?;
    }
    Ok(())
}

/// The seal with this hash, if there is one.
pub fn seal_by_hash(conn: &mut PgConnection, hash: &str) -> QueryResult<Option<SealRow>> {
    audit_seals::table
        .filter(audit_seals::hash.eq(hash))
        .select(SealRow::as_select())
        .first(conn)
        .optional()
}

/// One entry of the log as people browse it: with its filing's number and item, and the name
/// of whoever acted.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub id: i64,
    pub chain: String,
    pub seq: i64,
    pub filing_id: Option<Uuid>,
    pub filing_number: Option<String>,
    pub item_code: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub at: DateTime<Utc>,
    pub hash: String,
}

type LogTuple = (
    i64,
    String,
    i64,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    DateTime<Utc>,
    String,
);

/// A page of the log, newest first, of one filing's entries and/or those of some actors. The
/// newest first is the primary key backwards; a filing's entries are its chain's (a rule of the
/// table), found by the chain's unique index, an actor's by `audit_log_actor`.
pub fn browse(
    conn: &mut PgConnection,
    filing: Option<Uuid>,
    actors: Option<&[Uuid]>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<LogLine>> {
    use crate::db::schema::{filings, users};
    let mut q = audit_log::table
        .left_join(filings::table)
        .left_join(users::table)
        .select((
            audit_log::id,
            audit_log::chain,
            audit_log::seq,
            audit_log::filing_id,
            filings::number.nullable(),
            filings::item_code.nullable(),
            users::display_name.nullable(),
            audit_log::action,
            audit_log::at,
            audit_log::hash,
        ))
        .order(audit_log::id.desc())
        .limit(limit)
        .offset(offset)
        .into_boxed();
    if let Some(f) = filing {
        q = q
            .filter(audit_log::chain.eq(format!("filing:{f}")))
            .filter(audit_log::filing_id.eq(f));
    }
    if let Some(a) = actors {
        q = q.filter(audit_log::actor_id.eq_any(a.to_vec()));
    }
    Ok(q.load::<LogTuple>(conn)?
        .into_iter()
        .map(
            |(
                id,
                chain,
                seq,
                filing_id,
                filing_number,
                item_code,
                actor_name,
                action,
                at,
                hash,
            )| {
                LogLine {
                    id,
                    chain,
                    seq,
                    filing_id,
                    filing_number,
                    item_code,
                    actor_name,
                    action,
                    at,
                    hash,
                }
            },
        )
        .collect())
}

pub fn seal_exists(conn: &mut PgConnection, hash: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        audit_seals::table.filter(audit_seals::hash.eq(hash)),
    ))
    .get_result(conn)
}

pub fn seals(conn: &mut PgConnection) -> QueryResult<Vec<SealRow>> {
    audit_seals::table
        .order(audit_seals::seq)
        .select(SealRow::as_select())
        .load(conn)
}

/// The heads a seal recorded.
pub fn seal_heads(conn: &mut PgConnection, seal: i64) -> QueryResult<Vec<(String, i64, String)>> {
    audit_seal_heads::table
        .filter(audit_seal_heads::seal_seq.eq(seal))
        .select((
            audit_seal_heads::chain,
            audit_seal_heads::seq,
            audit_seal_heads::hash,
        ))
        .load(conn)
}

/// The first sealed head (in seal order, then chain) that is no longer the entry at its place
/// in its chain: the entry's row id, if the entry is still there at all.
#[derive(Debug, QueryableByName)]
pub struct ChangedSealedEntry {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub seal_seq: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub chain: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub seq: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub id: Option<i64>,
}

pub fn first_changed_sealed_entry(
    conn: &mut PgConnection,
) -> QueryResult<Option<ChangedSealedEntry>> {
    diesel::sql_query(
        "SELECT sh.seal_seq, sh.chain, sh.seq, l.id \
         FROM audit_seal_heads sh \
         LEFT JOIN audit_log l ON l.chain = sh.chain AND l.seq = sh.seq \
         WHERE l.hash IS DISTINCT FROM sh.hash \
         ORDER BY sh.seal_seq, sh.chain LIMIT 1",
    )
    .get_result(conn)
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_head_and_seq_make_the_canonical_entry() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-22T08:00:00.123456Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let filing = Uuid::nil();
        let ev = Event::filing(filing, filing, "action:x", at, json!({ "z": 1, "a": "审" }));
        let seq = 42i64;
        let whole = chain::canonical(&json!({
            "chain": ev.chain,
            "seq": seq,
            "filing_id": ev.filing_id,
            "actor_id": ev.actor_id,
            "action": ev.action,
            "at": entry_time(ev.at),
            "payload": ev.payload,
        }));
        assert_eq!(format!("{}{seq}}}", entry_head(&ev)), whole);
    }
}
