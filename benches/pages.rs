//! Server-side time of the workbench queue page with 1,000 open filings in the clerk's queue
//! (target < 50 ms), measured over HTTP on loopback against the real service (so an upper
//! bound of the server's time), next to the bare SQL of the same queue as PostgreSQL's own floor.
//!
//! `cargo bench --bench pages` (needs a PostgreSQL server, found as the service finds it;
//! `BENCH_FILINGS` changes the number, default 1000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use permits::config::{Environment, Settings};
use permits::db::discovery;
use permits::domain::Lang;
use permits::domain::definition::Role;

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(v[v.len() / 2]),
        ms(v[(v.len() * 95).div_ceil(100) - 1]),
        ms(v[v.len() - 1]),
    )
}

fn main() {
    let filings: i64 = std::env::var("BENCH_FILINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut settings = Settings::load(&root, Environment::Test).unwrap();
    settings.database.name = "permits_bench_pages".into();
    settings.server.workers = 2;
    let found = permits::find_database(&settings).unwrap();
    {
        let mut admin =
            PgConnection::establish(&discovery::maintenance_url(&found.url).unwrap()).unwrap();
        admin
            .batch_execute("DROP DATABASE IF EXISTS permits_bench_pages WITH (FORCE)")
            .unwrap();
        admin
            .batch_execute("CREATE DATABASE permits_bench_pages")
            .unwrap();
    }
    let url = discovery::with_database(&found.url, "permits_bench_pages").unwrap();
    settings.database.url = url.clone();
    let prepared = permits::prepare(&settings).unwrap();
    {
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
        permits::services::auth::create_user(
            &mut conn,
            &permits::services::auth::Registration {
                username: "bench-clerk",
                password: "bench-password-1",
                display_name: "窗口受理员",
                kind: permits::domain::definition::UserKind::Staff,
                email: None,
                phone: None,
                credit_code: None,
                lang: Lang::Zh,
                department: Some("fire"),
                roles: &[Role::Clerk],
            },
            None,
            now,
        )
        .unwrap();
        // Open fire filings at intake, each with its clerk task, due over the next weeks.
        conn.batch_execute(&format!(
            "INSERT INTO filings (id, item_version_id, item_code, number, applicant_id, state, state_kind,
                 department, form, promises, entered_state_at, submitted_at, accepted_at, created_at,
                 updated_at, statutory_due_on, warn_on, escalation_due_on, escalation_warn_on)
             SELECT gen_random_uuid(), iv.id, iv.code, 'XFBA-2026-' || lpad(g::text, 6, '0'), '{applicant}',
                    'intake', 'intake', 'fire',
                    jsonb_build_object('project_name', '示范项目' || g || '号楼', 'project_address', '示范区湖滨路 ' || g || ' 号'),
                    '{{}}', now(), now(), now(), now() - g * interval '1 minute', now(),
                    current_date + (g % 20), current_date + (g % 20) - 2,
                    current_date + (g % 20), current_date + (g % 20) - 2
             FROM generate_series(1, {filings}) g
             CROSS JOIN (SELECT id, code FROM item_versions WHERE code = 'fire-acceptance-filing'
                         ORDER BY version DESC LIMIT 1) iv;
             INSERT INTO tasks (filing_id, state, role, department, created_at, due_on)
             SELECT id, 'intake', 'clerk', 'fire', created_at, statutory_due_on FROM filings;"
        ))
        .unwrap();
        // VACUUM runs outside a transaction block: one statement at a time.
        for table in ["filings", "tasks"] {
            conn.batch_execute(&format!("VACUUM ANALYZE {table}"))
                .unwrap();
        }
    }

    let sys = actix_web::rt::System::new();
    sys.block_on(async move {
        let app = permits::Application::build_with(settings, prepared, "127.0.0.1:0").unwrap();
        let (port, _state, _clock, handle) = app.spawn();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let html = client
            .get(format!("{base}/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let at = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
        let csrf = html[at..at + 32].to_owned();
        let r = client
            .post(format!("{base}/login"))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("username", "bench-clerk"),
                ("password", "bench-password-1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);

        println!("queue page with {filings} open filings in the clerk's queue (50 requests each, after 5 warm-ups)");
        println!("{:<28} {:>9} {:>9} {:>9} {:>10}", "", "p50 ms", "p95 ms", "max ms", "bytes");
        let mut results = Vec::new();
        for (name, path) in [
            ("/queue (first 100 lines)", "/queue".to_owned()),
            (
                "/queue?per=1000 (all lines)",
                "/queue?per=1000".to_owned(),
            ),
            ("/queue?page=10 (last)", "/queue?page=10".to_owned()),
            (
                "/queue?q=… (by project)",
                "/queue?q=%E7%A4%BA%E8%8C%83%E9%A1%B9%E7%9B%AE77%E5%8F%B7".to_owned(),
            ),
        ] {
            let mut bytes = 0;
            for _ in 0..5 {
                client.get(format!("{base}{path}")).send().await.unwrap();
            }
            let mut times = Vec::new();
            for _ in 0..50 {
                let t = Instant::now();
                let r = client.get(format!("{base}{path}")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let body = r.bytes().await.unwrap();
                times.push(t.elapsed());
                bytes = body.len();
                assert!(String::from_utf8_lossy(&body).contains("XFBA-2026-"));
            }
            let (p50, p95, max) = stats(times);
            println!("{name:<28} {p50:>9.2} {p95:>9.2} {max:>9.2} {bytes:>10}");
            results.push((name, p50, p95));
        }

        // The applicant's "我的办件": all 1,000 filings are theirs (20 a page).
        let applicant = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let html = applicant
            .get(format!("{base}/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let at = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
        let csrf = html[at..at + 32].to_owned();
        let r = applicant
            .post(format!("{base}/login"))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("username", "bench-applicant"),
                ("password", "bench-password-1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        println!("my filings with {filings} filings of one applicant (50 requests each, after 5 warm-ups)");
        for (name, path, expect) in [
            ("/filings (page 1)", "/filings".to_owned(), "XFBA-2026-"),
            ("/filings?page=50 (last)", "/filings?page=50".to_owned(), "XFBA-2026-"),
            (
                "/filings?q=… (by project)",
                "/filings?q=%E7%A4%BA%E8%8C%83%E9%A1%B9%E7%9B%AE77%E5%8F%B7".to_owned(),
                "示范项目77号楼",
            ),
            ("/filings?show=open", "/filings?show=open".to_owned(), "XFBA-2026-"),
        ] {
            let mut bytes = 0;
            for _ in 0..5 {
                applicant.get(format!("{base}{path}")).send().await.unwrap();
            }
            let mut times = Vec::new();
            for _ in 0..50 {
                let t = Instant::now();
                let r = applicant.get(format!("{base}{path}")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let body = r.bytes().await.unwrap();
                times.push(t.elapsed());
                bytes = body.len();
                assert!(String::from_utf8_lossy(&body).contains(expect), "{path}");
            }
            let (p50, p95, max) = stats(times);
            println!("{name:<28} {p50:>9.2} {p95:>9.2} {max:>9.2} {bytes:>10}");
        }

        // PostgreSQL's floor: the same queue query, bare.
        let mut conn = PgConnection::establish(&url).unwrap();
        let sql = "SELECT t.id, t.filing_id, t.claimed_by, t.due_on, f.number, f.item_code,
                          f.item_version_id, f.state, f.escalation_warn_on
                   FROM tasks t JOIN filings f ON f.id = t.filing_id
                   WHERE t.closed_at IS NULL AND t.department = 'fire' AND t.role IN ('clerk')
                   ORDER BY t.due_on ASC NULLS LAST, t.created_at, t.id LIMIT 1000";
        let mut times = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            conn.batch_execute(sql).unwrap();
            times.push(t.elapsed());
        }
        let (p50, p95, max) = stats(times);
        println!(
            "{:<28} {p50:>9.2} {p95:>9.2} {max:>9.2}",
            "bare SQL, 1000 rows"
        );
        for (name, page_p50, _) in &results {
            println!("ratio page/bare SQL p50 for {name}: {:.1}", page_p50 / p50);
        }
        handle.stop(true).await;
    });
}
