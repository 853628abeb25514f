//! The migrations themselves, on bare databases: every down.sql undoes exactly its up.sql (the
//! redo check CI runs with the suite), and a database migrated with migrations this build no
//! longer has is refused with the fix instead of failing half-way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use permits::db::MIGRATIONS;

use crate::helpers::BareDb;

/// The schema as the catalogue tells it, one line per fact, sorted: schemas, extensions,
/// relations (kind, persistence, storage options), columns (type, nullability, default,
/// compression, identity, generation), indexes, constraints, triggers, functions, sequences,
/// views and types, of every schema but PostgreSQL's own. diesel's own table
/// `__diesel_schema_migrations` is left out (it stays when every migration is reverted).
///
/// Columns are compared by name, not position: a down.sql that puts back a dropped column can
/// only append it.
fn schema(conn: &mut PgConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    // Namespaces of ours; relations of ours (diesel's table is not).
    const NS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
                      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";
    const NOT_DIESEL: &str = "c.relname NOT IN ('__diesel_schema_migrations', \
                              '__diesel_schema_migrations_pkey')";
    let parts = [
        format!("SELECT format('schema %s', n.nspname) FROM pg_namespace n WHERE {NS}"),
        "SELECT format('extension %s %s in %s', e.extname, e.extversion, \
                e.extnamespace::regnamespace) FROM pg_extension e"
            .to_owned(),
        format!(
            "SELECT format('relation %s.%s kind %s persistence %s options %s', n.nspname, \
                    c.relname, c.relkind, c.relpersistence, coalesce(c.reloptions::text, '-')) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {NS} AND {NOT_DIESEL}"
        ),
        format!(
            "SELECT format('column %s.%s.%s %s%s default %s compression %s identity %s \
                    generated %s collation %s', n.nspname, c.relname, a.attname, \
                    format_type(a.atttypid, a.atttypmod), \
                    CASE WHEN a.attnotnull THEN ' not null' ELSE '' END, \
                    coalesce(pg_get_expr(d.adbin, d.adrelid), '-'), \
                    coalesce(nullif(a.attcompression, ''), '-'), \
                    coalesce(nullif(a.attidentity, ''), '-'), \
                    coalesce(nullif(a.attgenerated, ''), '-'), \
                    coalesce(nullif(a.attcollation, 0)::regcollation::text, '-')) \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE {NS} AND {NOT_DIESEL} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') \
               AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        "SELECT format('index %s', indexdef) FROM pg_indexes \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
           AND tablename <> '__diesel_schema_migrations'"
            .to_owned(),
        format!(
            "SELECT format('constraint %s on %s: %s', co.conname, \
                    coalesce(nullif(co.conrelid, 0)::regclass::text, \
                             nullif(co.contypid, 0)::regtype::text), \
                    pg_get_constraintdef(co.oid)) \
             FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace \
             WHERE {NS} AND co.conname <> '__diesel_schema_migrations_pkey'"
        ),
        format!(
            "SELECT format('trigger %s enabled %s', pg_get_triggerdef(t.oid), t.tgenabled) \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {NS} AND NOT t.tgisinternal"
        ),
        format!(
            "SELECT format('function %s', CASE WHEN p.prokind = 'a' \
                    THEN 'aggregate ' || p.oid::regprocedure::text \
                    ELSE pg_get_functiondef(p.oid) END) \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {NS}"
        ),
        "SELECT format('sequence %s.%s %s start %s min %s max %s increment %s cycle %s \
                cache %s owned by %s', s.schemaname, s.sequencename, s.data_type, \
                s.start_value, s.min_value, s.max_value, s.increment_by, s.cycle, \
                s.cache_size, coalesce((SELECT format('%s.%s', d.refobjid::regclass, \
                    a.attname) FROM pg_depend d JOIN pg_attribute a \
                    ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                    WHERE d.classid = 'pg_class'::regclass \
                      AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass \
                      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), \
                '-')) \
         FROM pg_sequences s"
            .to_owned(),
        "SELECT format('view %s.%s %s', schemaname, viewname, definition) FROM pg_views \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') \
         UNION ALL \
         SELECT format('view %s.%s %s', schemaname, matviewname, definition) FROM pg_matviews"
            .to_owned(),
        // Types of our own: enums (with their labels), domains, ranges, base and composite
        // types; not the row and array types that tables bring along.
        format!(
            "SELECT format('type %s.%s kind %s %s', n.nspname, t.typname, t.typtype, \
                    coalesce((SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) \
                              FROM pg_enum WHERE enumtypid = t.oid), \
                             CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, \
                                  t.typtypmod) END, '')) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE {NS} \
               AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c') \
               AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)"
        ),
    ];
    let sql = format!(
        "SELECT line FROM ({}) AS facts(line) ORDER BY line",
        parts.join(" UNION ALL ")
    );
    diesel::sql_query(sql)
        .load::<Line>(conn)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect()
}

/// The lines of `after` that `before` lacks and the other way round, for a readable failure.
fn difference(before: &[String], after: &[String]) -> String {
    let gone: Vec<_> = before.iter().filter(|l| !after.contains(l)).collect();
    let new: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
    format!("missing: {gone:#?}\nextra: {new:#?}")
}

fn applied(conn: &mut PgConnection) -> Vec<String> {
    conn.applied_migrations()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect()
}

#[test]
fn every_migration_reverts_to_the_schema_before_it_and_runs_again() {
    let db = BareDb::create();
    let mut conn = db.conn();
    let bare = schema(&mut conn);

    // Up one by one, noting the schema after each.
    let mut after_each = vec![bare.clone()];
    while conn.has_pending_migration(MIGRATIONS).unwrap() {
        let version = conn
            .run_next_migration(MIGRATIONS)
            .unwrap_or_else(|e| panic!("running the next migration: {e}"))
            .as_owned();
        after_each.push(schema(&mut conn));
        assert_ne!(
            after_each[after_each.len() - 2],
            after_each[after_each.len() - 1],
            "migration {version} changed nothing"
        );
    }
    let migrated = after_each.last().unwrap().clone();
    assert!(
        migrated
            .iter()
            .any(|l| l.starts_with("relation public.filings kind r"))
            && migrated
                .iter()
                .any(|l| l.starts_with("trigger CREATE TRIGGER"))
            && migrated
                .iter()
                .any(|l| l.starts_with("function CREATE OR REPLACE FUNCTION")),
        "the snapshot sees tables, triggers and functions: {migrated:#?}"
    );

    // Down one by one: each revert must give back exactly the schema before that migration.
    while !applied(&mut conn).is_empty() {
        let version = conn
            .revert_last_migration(MIGRATIONS)
            .unwrap_or_else(|e| panic!("reverting the last migration: {e}"));
        after_each.pop();
        let now = schema(&mut conn);
        let expected = after_each.last().unwrap();
        assert!(
            &now == expected,
            "reverting {version} did not give back the schema before it\n{}",
            difference(expected, &now)
        );
    }
    assert_eq!(after_each.len(), 1);
    let emptied = schema(&mut conn);
    assert!(
        emptied == bare,
        "objects of ours are left after every migration was reverted\n{}",
        difference(&bare, &emptied)
    );

    // And up again, all at once as the service does it.
    let applied_again = permits::db::migrate(&mut conn).expect("migrating again after reverting");
    assert!(!applied_again.is_empty());
    let again = schema(&mut conn);
    assert!(
        again == migrated,
        "migrating again gave another schema\n{}",
        difference(&migrated, &again)
    );
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
