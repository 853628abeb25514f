//! The migrations themselves, on bare databases: a database migrated with migrations this build
//! no longer has is refused with the fix instead of failing half-way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;

use crate::helpers::BareDb;

fn applied(conn: &mut PgConnection) -> Vec<String> {
    conn.applied_migrations()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect()
}

#[test]
fn a_database_migrated_with_pre_release_migrations_is_refused_with_the_fix() {
    let db = BareDb::create();
    let mut conn = db.conn();
    // What pre-release migrations left behind: their versions in diesel's table, and a table.
    conn.batch_execute(
        "CREATE TABLE __diesel_schema_migrations ( \
             version VARCHAR(50) PRIMARY KEY NOT NULL, \
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); \
         INSERT INTO __diesel_schema_migrations (version) \
             VALUES ('20261122000001'), ('20261122000002'), ('20261201000017'); \
         CREATE TABLE departments (code text PRIMARY KEY)",
    )
    .unwrap();

    assert_eq!(
        permits::db::forgotten_migrations(&mut conn).unwrap(),
        ["20261122000001", "20261122000002", "20261201000017"]
    );
    let error = format!("{:#}", permits::db::migrate(&mut conn).unwrap_err());
    for part in [
        format!(
            "the database {} was migrated with pre-release migrations",
            db.name
        ),
        "3 of them, 20261122000001 to 20261201000017".to_owned(),
        format!("dropdb {}", db.name),
    ] {
        assert!(error.contains(&part), "{part:?} not in: {error}");
    }
    // Refused before anything ran: no migration recorded, no table created, lock released.
    assert_eq!(
        applied(&mut conn),
        ["20261201000017", "20261122000002", "20261122000001"]
    );
    let tables: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "count(*) FROM pg_tables WHERE schemaname = 'public'",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(tables, 2, "only the tables made before");
    let locks: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(locks, 0, "the migration lock is released");
}

#[test]
fn a_later_releases_migrations_are_not_refused() {
    // An instance of this release restarting during a rolling upgrade finds the next release's
    // migrations applied (expand-then-contract keeps the schema usable by it).
    let db = BareDb::create();
    let mut conn = db.conn();
    permits::db::migrate(&mut conn).unwrap();
    conn.batch_execute(
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('99991231000001')",
    )
    .unwrap();
    assert!(
        permits::db::forgotten_migrations(&mut conn)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        permits::db::migrate(&mut conn).unwrap(),
        Vec::<String>::new()
    );
}
