//! Stored item definition versions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::item_versions;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = item_versions, check_for_backend(diesel::pg::Pg))]
pub struct ItemVersionRow {
    pub id: i32,
    pub code: String,
    pub version: i32,
    pub digest: String,
    pub source: String,
    pub loaded_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = item_versions)]
pub struct NewItemVersion<'a> {
    pub code: &'a str,
    pub version: i32,
    pub digest: &'a str,
    pub source: &'a str,
    pub definition: serde_json::Value,
    pub loaded_at: DateTime<Utc>,
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<ItemVersionRow>> {
    item_versions::table
        .order((item_versions::code, item_versions::version))
        .select(ItemVersionRow::as_select())
        .load(conn)
}

pub fn by_id(conn: &mut PgConnection, id: i32) -> QueryResult<Option<ItemVersionRow>> {
    item_versions::table
        .find(id)
        .select(ItemVersionRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_digest(
    conn: &mut PgConnection,
    code: &str,
    digest: &str,
) -> QueryResult<Option<ItemVersionRow>> {
    item_versions::table
        .filter(item_versions::code.eq(code))
        .filter(item_versions::digest.eq(digest))
        .select(ItemVersionRow::as_select())
        .first(conn)
        .optional()
}

pub fn latest_version(conn: &mut PgConnection, code: &str) -> QueryResult<Option<i32>> {
    item_versions::table
        .filter(item_versions::code.eq(code))
        .select(diesel::dsl::max(item_versions::version))
        .first(conn)
}

pub fn insert(conn: &mut PgConnection, v: &NewItemVersion<'_>) -> QueryResult<ItemVersionRow> {
    diesel::insert_into(item_versions::table)
        .values(v)
        .returning(ItemVersionRow::as_returning())
        .get_result(conn)
}

/// Serialise the storing of item versions across instances starting at once, until the
/// transaction ends (two would otherwise both take the next version number of a changed file).
pub fn lock_versions(conn: &mut PgConnection) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SELECT pg_advisory_xact_lock(7012002)")
}
