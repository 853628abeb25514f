//! The SPGL exchange (issue 17): what its rows add to an action, and how fast the exporter
//! writes them to the front database, each beside PostgreSQL's own ceiling (pgbench) on the
//! same machine in the same run.
//!
//! `cargo bench --bench exchange` (needs a PostgreSQL server, found as the service finds it, and
//! `pgbench`). The databases `permits_bench_exchange` and `permits_bench_exchange_spgl` are
//! dropped, recreated and dropped at the end.
//!
//! **Added cost per action.** An action writes its rows as one statement of data-modifying
//! parts whose first part updates the filing; a reported transition adds one part, the INSERT of
//! its exchange row. pgbench runs both statements, `-c 4 -j 2 -T BENCH_PGBENCH_SECONDS (10)`, on
//! BENCH_FILINGS (2000) filings: the filing's UPDATE alone, and the same UPDATE with the exchange
//! row's INSERT in one `WITH` statement. The difference in latency and in WAL bytes per
//! transaction (`pg_stat_wal` and the insert LSN around each run) is what the row adds.
//!
//! **Exporter.** BENCH_ROWS (50000) pending rows over those filings (BLZT 1, 3, 6, 7, 11 in turn)
//! are exported by `jobs::exchange` (`services::exchange::export`, batches of `exchange.batch_size`,
//! 500) to the front database until none is left; every row must arrive once. Beside it, pgbench
//! with one client (the exporter is one connection) runs the front database's work of one row as
//! a transaction of its own (the detail INSERT and the handling record's upsert): the ceiling of
//! writing rows one transaction each; the exporter writes 500 per transaction.
//! PGHOST (the socket directory if present, else 127.0.0.1), PGPORT (5432), PGUSER (postgres).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use permits::config::{Environment, MailBackend, Settings};
use permits::db::discovery;

const DB: &str = "permits_bench_exchange";

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
}

/// WAL written so far: bytes (the insert LSN) and records.
fn wal(conn: &mut PgConnection) -> (i64, i64) {
    let w: WalRow = diesel::sql_query(
        "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint AS bytes, wal_records AS records FROM pg_stat_wal",
    )
    .get_result(conn)
    .unwrap();
    (w.bytes, w.records)
}

#[derive(QueryableByName)]
struct WalRow {
    #[diesel(sql_type = BigInt)]
    bytes: i64,
    #[diesel(sql_type = BigInt)]
    records: i64,
}

struct Pgbench {
    tps: f64,
    latency_ms: f64,
    transactions: f64,
}

fn pgbench(
    db: &str,
    script: &Path,
    clients: u32,
    seconds: u32,
    defines: &[String],
) -> Result<Pgbench> {
    let host = std::env::var("PGHOST").unwrap_or_else(|_| {
        if Path::new("/var/run/postgresql").exists() {
            "/var/run/postgresql".into()
        } else {
            "127.0.0.1".into()
        }
    });
    let mut args: Vec<String> = vec![
        "-n".into(),
        "-f".into(),
        script.display().to_string(),
        "-c".into(),
        clients.to_string(),
        "-j".into(),
        clients.min(2).to_string(),
        "-T".into(),
        seconds.to_string(),
        "-h".into(),
        host,
        "-p".into(),
        std::env::var("PGPORT").unwrap_or_else(|_| "5432".into()),
        "-U".into(),
        std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into()),
    ];
    for d in defines {
        args.push("-D".into());
        args.push(d.clone());
    }
    args.push(db.into());
    let out = Command::new("pgbench")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .context("running pgbench (is it installed?)")?;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!(
            "pgbench {} failed: {stdout}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let after = |prefix: &str| -> f64 {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    Ok(Pgbench {
        tps: after("tps = "),
        latency_ms: after("latency average = "),
        transactions: after("number of transactions actually processed: "),
    })
}

const UPDATE_ONLY: &str = "\\set f random(1, :filings)
UPDATE filings SET version = version + 1, updated_at = now() WHERE number = 'XFBA-2026-' || lpad(:f::text, 6, '0');
";

const UPDATE_WITH_ROW: &str = "\\set f random(1, :filings)
WITH f AS (UPDATE filings SET version = version + 1, updated_at = now() WHERE number = 'XFBA-2026-' || lpad(:f::text, 6, '0') RETURNING id, number),
     x AS (INSERT INTO exchange_rows (filing_id, filing_number, action, blzt, department, actor_id, actor_name, opinion, at, special, next_attempt_at, status)
           SELECT id, number, 'accept', 3, 'fire', '00000000-0000-0000-0000-000000000001', '系统', '符合要求', now(), NULL, now(), 'exported' FROM f RETURNING 1)
SELECT count(*) FROM x;
";

const FRONT_ROW: &str = "\\set l random(1, 1000000000)
BEGIN;
INSERT INTO spgl_xmspsxblxxxxb (lsh, dfsjzj, xzqhdm, spsxslbm, blcs, blr, blzt, blyj, blsj)
  VALUES (:l, 'pgbench-' || (:l % 2000), '430104', 'XFBA-2026-' || (:l % 2000), '消防审验科', '系统', 3, '符合要求', now())
  ON CONFLICT (lsh) DO NOTHING;
INSERT INTO spgl_xmspsxblxxb (dfsjzj, xzqhdm, xmdm, gcdm, spsxbm, spsxbbh, spsxslbm, spbmbm, spbmmc, slfs, bjlx, sxblsx, blzt, lsh, gxsj)
  VALUES ('pgbench-' || (:l % 2000), '430104', 'P', 'P', 'X', '1', 'XFBA-2026-' || (:l % 2000), 'fire', '消防审验科', 2, 2, 15, 3, :l, now())
  ON CONFLICT (dfsjzj) DO UPDATE SET blzt = EXCLUDED.blzt, lsh = EXCLUDED.lsh, gxsj = EXCLUDED.gxsj, sjsczt = 0, sbyy = NULL
  WHERE spgl_xmspsxblxxb.lsh < EXCLUDED.lsh;
COMMIT;
";

fn main() -> Result<()> {
    let filings: i64 = env_or("BENCH_FILINGS", 2000);
    let rows: i64 = env_or("BENCH_ROWS", 50_000);
    let seconds: u32 = env_or("BENCH_PGBENCH_SECONDS", 10);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("exchange: {cpus} CPUs, {filings} filings, {rows} rows to export, database {DB}");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target");
    let mut settings = Settings::load(&root, Environment::Test)?;
    settings.database.name = DB.into();
    settings.database.statement_timeout_ms = 600_000;
    settings.mail.backend = MailBackend::Memory;
    let found = permits::find_database(&settings)?;
    let maintenance = discovery::maintenance_url(&found.url)?;
    let front_db = format!("{DB}_spgl");
    {
        let mut admin = PgConnection::establish(&maintenance)?;
        for db in [DB, front_db.as_str()] {
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
        }
        admin.batch_execute(&format!("CREATE DATABASE {DB}"))?;
    }
    settings.database.url = discovery::with_database(&found.url, DB)?;
    let prepared = permits::prepare(&settings)?;
    let mut conn = PgConnection::establish(&prepared.database.url)?;

    // Filings of the fire item, numbered XFBA-2026-000001 …
    conn.batch_execute(&format!(
        "INSERT INTO filings (id, item_version_id, item_code, number, applicant_id, state, state_kind,
                              department, form, promises, entered_state_at, submitted_at, created_at,
                              updated_at, channel)
         SELECT gen_random_uuid(), (SELECT max(id) FROM item_versions WHERE code = 'fire-acceptance-filing'),
                'fire-acceptance-filing', 'XFBA-2026-' || lpad(g::text, 6, '0'),
                '00000000-0000-0000-0000-000000000001', 'intake', 'intake', 'fire',
                jsonb_build_object('project_code', '2026-430104-47-01-' || lpad(g::text, 6, '0')),
                '{{}}', now(), now(), now(), now(), 2
           FROM generate_series(1, {filings}) g"
    ))?;
    conn.batch_execute("VACUUM ANALYZE filings")?;

    // ---- Added cost per action.
    std::fs::create_dir_all(&target)?;
    let mut results = Vec::new();
    for (name, text) in [("update", UPDATE_ONLY), ("update+row", UPDATE_WITH_ROW)] {
        let script = target.join(format!("exchange-pgbench-{name}.sql"));
        std::fs::write(&script, text)?;
        conn.batch_execute("CHECKPOINT")?;
        let before = wal(&mut conn);
        let p = pgbench(DB, &script, 4, seconds, &[format!("filings={filings}")])?;
        let after = wal(&mut conn);
        let per = |a: i64, b: i64| (b - a) as f64 / p.transactions.max(1.0);
        results.push((
            name,
            p.tps,
            p.latency_ms,
            per(before.0, after.0),
            per(before.1, after.1),
        ));
    }
    println!("\n  added cost of the exchange row (pgbench -c 4 -j 2 -T {seconds}):");
    println!(
        "  {:<12} {:>10} {:>12} {:>14} {:>12}",
        "statement", "tps", "latency ms", "WAL bytes/tx", "records/tx"
    );
    for (name, tps, lat, bytes, recs) in &results {
        println!("  {name:<12} {tps:>10.0} {lat:>12.3} {bytes:>14.0} {recs:>12.1}");
    }
    let (base, with) = (&results[0], &results[1]);
    println!(
        "  the row adds {:.0} µs of latency per action at 4 clients and {:.0} WAL bytes ({:.1} records)",
        (with.2 - base.2) * 1000.0,
        with.3 - base.3,
        with.4 - base.4
    );
    conn.batch_execute("DELETE FROM exchange_rows")?;

    // ---- The exporter.
    conn.batch_execute(&format!(
        "INSERT INTO exchange_rows (filing_id, filing_number, action, blzt, department, actor_id,
                                    actor_name, opinion, at, next_attempt_at)
         SELECT f.id, f.number, 'step', (ARRAY[1, 3, 6, 7, 11])[1 + g % 5], 'fire',
                '00000000-0000-0000-0000-000000000001', '系统', '符合要求', now() + g * interval '1 ms',
                now() - interval '1 minute'
           FROM generate_series(0, {rows} - 1) g
           JOIN filings f ON f.number = 'XFBA-2026-' || lpad((1 + g % {filings})::text, 6, '0')
          ORDER BY g"
    ))?;
    conn.batch_execute("VACUUM ANALYZE exchange_rows")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (state, _clock) = permits::app::AppState::new(settings.clone(), prepared)?;
    let t0 = Instant::now();
    let mut exported = 0i64;
    let mut runs = 0;
    while exported < rows {
        let r = rt.block_on(permits::jobs::exchange(state.clone()))?;
        if let Some(e) = r["error"].as_str() {
            bail!("the export failed: {e}");
        }
        exported += r["exported"].as_i64().unwrap_or(0);
        runs += 1;
        if runs > 10_000 {
            bail!("the exporter stopped making progress at {exported} rows");
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let front_url = discovery::with_database(&found.url, &front_db)?;
    let mut front = PgConnection::establish(&front_url)?;
    let arrived = count(&mut front, "SELECT count(*) AS n FROM spgl_xmspsxblxxxxb");
    let handling = count(&mut front, "SELECT count(*) AS n FROM spgl_xmspsxblxxb");
    if arrived != rows || handling != filings {
        bail!(
            "the front database holds {arrived} detail rows (want {rows}) and {handling} handling rows (want {filings})"
        );
    }
    let rate = rows as f64 / secs;
    let script = target.join("exchange-pgbench-front.sql");
    std::fs::write(&script, FRONT_ROW)?;
    let ceiling = pgbench(&front_db, &script, 1, seconds, &[])?;
    println!(
        "\n  exporter: {rows} rows to the front database in {secs:.2} s = {rate:.0} rows/s ({runs} job runs, every row once)"
    );
    println!(
        "  pgbench, one client, one row per transaction on the front database: {:.0} rows/s ({:.3} ms); exporter ÷ pgbench = {:.2}",
        ceiling.tps,
        ceiling.latency_ms,
        rate / ceiling.tps
    );
    let report = serde_json::json!({
        "cpus": cpus,
        "added": results.iter().map(|(n, tps, lat, b, r)| serde_json::json!({"statement": n, "tps": tps, "latency_ms": lat, "wal_bytes_per_tx": b, "wal_records_per_tx": r})).collect::<Vec<_>>(),
        "exporter_rows_per_s": rate,
        "pgbench_front_rows_per_s": ceiling.tps,
    });
    std::fs::write(
        target.join("exchange-report.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    drop(front);
    drop(conn);
    drop(state);
    if std::env::var("BENCH_KEEP_DB").is_err() {
        let mut admin = PgConnection::establish(&maintenance)?;
        for db in [DB, front_db.as_str()] {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
    Ok(())
}
