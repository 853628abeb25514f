//! The audit log: append under the chain head's row lock; read chains back for verification.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::cached::cached;
use crate::db::schema::{audit_heads, audit_log};
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

/// Append an entry to its chain in the caller's transaction, in one round trip: the database
/// function `audit_append` (see its migration) upserts the chain's head, which takes the next
/// `seq` and locks the head row until the transaction ends, so appends to one chain are
/// serialised and gapless while different chains do not contend; it completes the entry with
/// that `seq`, links it to the previous hash and writes the entry and the head's new hash.
///
/// The entry is the canonical JSON of its fields; `seq` sorts last among them, so the text up
/// to `"seq":` is fixed before the `seq` is known and is sent along.
pub fn append(conn: &mut PgConnection, ev: Event<'_>) -> QueryResult<AuditRow> {
    let head = entry_head(&ev);
    cached(
        diesel::sql_query("SELECT * FROM audit_append($1, $2, $3, $4, $5, $6)")
            .bind::<diesel::sql_types::Text, _>(&ev.chain)
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(ev.filing_id)
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(ev.actor_id)
            .bind::<diesel::sql_types::Text, _>(ev.action)
            .bind::<diesel::sql_types::Timestamptz, _>(ev.at)
            .bind::<diesel::sql_types::Text, _>(&head),
    )
    .get_result(conn)
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
