//! SLA report and due-soon queries over generated data: one million closed filings (with their
//! maintained aggregates) and one million open filings. Targets: the SLA report < 300 ms, the
//! due-soon query < 100 ms.
//!
//! `cargo bench --bench reports` (needs a PostgreSQL server, found as the service finds it;
//! `BENCH_ROWS` changes the size, default 1000000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use permits::config::{Environment, Settings};
use permits::db::discovery;
use permits::domain::Lang;
use permits::domain::definition::Role;
use permits::repo::reports::{self as repo, GroupBy};
use permits::services::auth::Principal;
use permits::services::reports::{self, SlaQuery};

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, Duration) {
    f(); // warm the caches once
    let mut v: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    v.sort();
    (
        v[v.len() / 2],
        v[(v.len() * 95).div_ceil(100) - 1],
        v[v.len() - 1],
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rows: i64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut settings = Settings::load(&root, Environment::Test).unwrap();
    settings.database.name = "permits_bench_reports".into();
    settings.database.statement_timeout_ms = 600_000;
    let found = permits::find_database(&settings).unwrap();
    {
        let mut admin =
            PgConnection::establish(&discovery::maintenance_url(&found.url).unwrap()).unwrap();
        admin
            .batch_execute("DROP DATABASE IF EXISTS permits_bench_reports WITH (FORCE)")
            .unwrap();
        admin
            .batch_execute("CREATE DATABASE permits_bench_reports")
            .unwrap();
    }
    settings.database.url = found.url.clone();
    let prepared = permits::prepare(&settings).unwrap();
    let mut conn = prepared.pool.get().unwrap();
    let now = chrono::Utc::now();
    let applicant = permits::services::auth::create_user(
        &mut conn,
        &permits::services::auth::Registration {
            username: "bench-applicant",
            password: "bench-password-1",
            display_name: "bench",
            kind: permits::domain::definition::UserKind::Person,
            email: None,
            phone: None,
            credit_code: None,
            lang: Lang::Zh,
            department: None,
            roles: &[Role::Applicant],
        },
        None,
        now,
    )
    .unwrap();

    let t = Instant::now();
    // Closed filings over 2025, with the processing times and outcomes a bureau sees; and open
    // filings whose due dates spread over two months around the report day.
    conn.batch_execute(&format!(
        "SET maintenance_work_mem = '256MB';
         INSERT INTO filings (id, item_version_id, item_code, applicant_id, state, state_kind, department,
             entered_state_at, submitted_at, accepted_at, closed_at, created_at, updated_at,
             on_time_statutory, on_time_promised)
         SELECT gen_random_uuid(), iv.id, iv.code, '{applicant}', 'closed', 'approved', iv.department,
                t, t, t, t + (g % 12) * interval '1 day', t, t,
                (g % 12) <= 7, (g % 12) <= 3
         FROM generate_series(1, {rows}) g
         CROSS JOIN (SELECT array_agg(id ORDER BY id) ids, array_agg(code ORDER BY id) codes,
                            array_agg(definition->>'department' ORDER BY id) depts FROM item_versions) v
         CROSS JOIN LATERAL (SELECT v.ids[1 + g % 3] AS id, v.codes[1 + g % 3] AS code,
                                    v.depts[1 + g % 3] AS department) iv
         CROSS JOIN LATERAL (SELECT timestamptz '2025-01-01 02:00+00' + (g % 350) * interval '1 day' AS t) ts;
         INSERT INTO filings (id, item_version_id, item_code, applicant_id, state, state_kind, department,
             entered_state_at, submitted_at, accepted_at, created_at, updated_at, statutory_due_on, promised_due_on)
         SELECT gen_random_uuid(), iv.id, iv.code, '{applicant}', 'review', 'review', iv.department,
                now(), now(), now(), now(), now(),
                date '2025-11-01' + (g % 60), date '2025-11-01' + (g % 60) - 2
         FROM generate_series(1, {rows}) g
         CROSS JOIN (SELECT array_agg(id ORDER BY id) ids, array_agg(code ORDER BY id) codes,
                            array_agg(definition->>'department' ORDER BY id) depts FROM item_versions) v
         CROSS JOIN LATERAL (SELECT v.ids[1 + g % 3] AS id, v.codes[1 + g % 3] AS code,
                                    v.depts[1 + g % 3] AS department) iv;
         INSERT INTO sla_received (day, item_code, department, shard, n)
         SELECT (submitted_at AT TIME ZONE 'Asia/Shanghai')::date, item_code, department,
                abs(hashtext(id::text)) % 8, count(*)
         FROM filings GROUP BY 1, 2, 3, 4;
         INSERT INTO sla_closed (day, item_code, department, closer_id, outcome, used_days, suspended_days,
             on_time_statutory, on_time_promised, shard, n)
         SELECT (closed_at AT TIME ZONE 'Asia/Shanghai')::date, item_code, department, '{applicant}'::uuid, 'approved',
                extract(day FROM closed_at - accepted_at)::int,
                (extract(day FROM closed_at - accepted_at)::int % 7) / 5,
                on_time_statutory, on_time_promised,
                abs(hashtext(id::text)) % 8, count(*)
         FROM filings WHERE closed_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;"
    ))
    .unwrap();
    // VACUUM runs outside a transaction block: one statement at a time.
    for table in ["filings", "sla_closed", "sla_received", "open_due"] {
        conn.batch_execute(&format!("VACUUM ANALYZE {table}"))
            .unwrap();
    }
    let aggregate_rows: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM sla_closed)",
    ))
    .get_result(&mut conn)
    .unwrap();
    println!(
        "generated {rows} closed + {rows} open filings ({aggregate_rows} aggregate rows) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let admin = Principal {
        user_id: applicant,
        username: "bench-admin".into(),
        display_name: "bench".into(),
        kind: permits::domain::definition::UserKind::Staff,
        roles: vec![Role::Admin],
        department: Some("window".into()),
        lang: Lang::Zh,
    };
    let today = NaiveDate::from_ymd_opt(2025, 11, 30).unwrap();
    let owners = reports::owners(&prepared.items);
    let fire_items: Vec<String> = owners
        .iter()
        .filter(|(_, d)| *d == "fire")
        .map(|(i, _)| i.clone())
        .collect();
    let year = |g: GroupBy| SlaQuery {
        from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        group_by: g,
        item: None,
        department: None,
        soon_days: 3,
    };
    // The figures first, against counts straight from the filings (the slow way, once).
    let mut direct = |sql: &str| -> i64 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(sql))
            .get_result(&mut conn)
            .unwrap()
    };
    let overdue = direct(&format!(
        "(SELECT count(*) FROM filings WHERE closed_at IS NULL AND statutory_due_on < date '{today}')"
    ));
    let due_soon = direct(&format!(
        "(SELECT count(*) FROM filings WHERE closed_at IS NULL \
           AND statutory_due_on BETWEEN date '{today}' AND date '{today}' + 3)"
    ));
    let open = direct("(SELECT count(*) FROM filings WHERE closed_at IS NULL)");
    for g in [GroupBy::Item, GroupBy::Department] {
        let r = reports::sla(&mut conn, &admin, year(g), today, &owners).unwrap();
        assert_eq!(
            (r.total.overdue_now, r.total.due_soon, r.total.open),
            (overdue, due_soon, open),
            "the report's overdue, due soon and open against the filings ({g:?})"
        );
    }
    println!(
        "figures checked against the filings: {open} open, {overdue} overdue, {due_soon} due soon"
    );
    let mut results = Vec::new();
    for (name, g) in [
        ("sla year by item", GroupBy::Item),
        ("sla year by month", GroupBy::Month),
        ("sla year by department", GroupBy::Department),
    ] {
        let (p50, p95, max) = time(20, || {
            reports::sla(&mut conn, &admin, year(g), today, &owners).unwrap()
        });
        results.push((name, p50, p95, max, 300.0));
    }
    let until = today.checked_add_days(Days::new(3)).unwrap();
    let (p50, p95, max) = time(50, || repo::due_list(&mut conn, until, None, 200).unwrap());
    results.push(("due-soon list (200 most urgent)", p50, p95, max, 100.0));
    let (p50, p95, max) = time(50, || {
        repo::due_list(&mut conn, until, Some(&fire_items), 200).unwrap()
    });
    results.push(("due-soon list, one department", p50, p95, max, 100.0));

    println!(
        "\n{:<34} {:>9} {:>9} {:>9} {:>8}",
        "query", "p50 ms", "p95 ms", "max ms", "target"
    );
    let mut json = Vec::new();
    for (name, p50, p95, max, target) in &results {
        let ok = ms(*p95) < *target;
        println!(
            "{name:<34} {:>9.1} {:>9.1} {:>9.1} {:>5.0} ms {}",
            ms(*p50),
            ms(*p95),
            ms(*max),
            target,
            if ok { "ok" } else { "MISSED" }
        );
        json.push(serde_json::json!({ "query": name, "p50_ms": ms(*p50), "p95_ms": ms(*p95), "max_ms": ms(*max), "target_ms": target }));
    }
    let out = root.join("target/reports-bench.json");
    std::fs::write(
        &out,
        serde_json::to_string_pretty(&serde_json::json!({ "rows": rows, "results": json }))
            .unwrap(),
    )
    .unwrap();
    println!("\nwritten to {}", out.display());
    drop(conn);
    drop(prepared);
    if let Ok(mut admin) = PgConnection::establish(&discovery::maintenance_url(&found.url).unwrap())
    {
        let _ = admin.batch_execute("DROP DATABASE IF EXISTS permits_bench_reports WITH (FORCE)");
    }
}
