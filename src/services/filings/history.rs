//! A filing's timeline, read from its audit chain.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::find_visible;
use crate::error::AppError;
use crate::repo::audit;
use crate::services::auth::Principal;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub actor_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub hash: String,
}

/// The timeline of a filing, from its audit chain.
pub fn history(
    conn: &mut PgConnection,
    p: &Principal,
    id: Uuid,
) -> Result<Vec<HistoryEntry>, AppError> {
    find_visible(conn, p, id)?;
    entries(conn, id)
}

/// The timeline of a filing the caller may see.
pub(super) fn entries(conn: &mut PgConnection, id: Uuid) -> Result<Vec<HistoryEntry>, AppError> {
    audit::for_filing(conn, id)?
        .into_iter()
        .map(|a| {
            // Everything shown comes from the hashed entry text, not from the columns beside
            // it: what the timeline says is what verification checks.
            let entry: Value = serde_json::from_str(&a.entry).map_err(anyhow::Error::from)?;
            let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
            let at = text("at")
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(a.at);
            Ok(HistoryEntry {
                seq: entry.get("seq").and_then(Value::as_i64).unwrap_or(a.seq),
                at,
                action: text("action").unwrap_or(a.action),
                actor_id: text("actor_id").and_then(|u| u.parse().ok()),
                payload: entry.get("payload").cloned().unwrap_or(Value::Null),
                hash: a.hash,
            })
        })
        .collect()
}
