//! Several `permits serve` processes on one database: each reminder is sent once, and killing
//! one in the middle of sending loses nothing (DESIGN principle 7).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use permits::domain::Lang;
use permits::domain::definition::Role;
use serde_json::json;

use crate::helpers::{FIRE_MATERIALS, SmtpSink, TestApp, at, fire_form};

/// One `permits serve` on the test's database: the system clock, the scan and the sender every
/// second, mail to the sink, small batches and a short lease so that work spreads and a dead
/// instance's claims come back quickly.
fn instance(app: &TestApp, smtp_port: u16, n: usize) -> Child {
    let log = std::env::temp_dir().join(format!("permits-instance-{}-{n}.log", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_permits"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("PERMITS_ENV", "test")
        .env("PERMITS_ROOT", env!("CARGO_MANIFEST_DIR"))
        .env("PERMITS__DATABASE__URL", &app.db_url)
        .env("PERMITS__DATABASE__POOL_SIZE", "4")
        .env("PERMITS__SERVER__WORKERS", "1")
        .env("PERMITS__CLOCK__MODE", "system")
        .env(
            "PERMITS__STORAGE__VAR_DIR",
            std::env::temp_dir().join(format!("permits-instance-var-{n}")),
        )
        .env("PERMITS__MAIL__BACKEND", "smtp")
        .env(
            "PERMITS__MAIL__SMTP_URL",
            format!("smtp://127.0.0.1:{smtp_port}"),
        )
        .env("PERMITS__MAIL__TIMEOUT_SECONDS", "1")
        .env("PERMITS__MAIL__POOL_SIZE", "2")
        .env("PERMITS__MAIL__BATCH_SIZE", "5")
        .env("PERMITS__MAIL__LEASE_SECONDS", "5")
        .env("PERMITS__JOBS__CRON__DEADLINE_SCAN", "* * * * * *")
        .env("PERMITS__JOBS__CRON__OUTBOX", "* * * * * *")
        .env("PERMITS__JOBS__WORKING_DAYS_ONLY", "false")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("starting permits serve")
}

struct Fleet(Vec<Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Fire filings submitted three weeks ago (each told "received"): all are red today, so each
/// of the fire managers is due one red card per filing.
async fn red_filings(app: &TestApp, n: usize) -> usize {
    at(app, "2026-11-02");
    let builder = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    for m in ["manager_a", "manager_b"] {
        app.mail_user(m, Some("fire"), &[Role::Manager], Lang::Zh)
            .await;
    }
    for _ in 0..n {
        let f = app
            .create(&builder, "fire-acceptance-filing", fire_form())
            .await;
        let id = f["id"].as_str().unwrap().to_owned();
        app.upload_all(&builder, &id, FIRE_MATERIALS).await;
        let f = app.filing(&builder, &id).await;
        app.act(&builder, &f, "submit", json!({})).await;
    }
    n
}

/// The filings' numbers.
fn numbers(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use permits::db::schema::filings::dsl as f;
    f::filings
        .select(f::number.assume_not_null())
        .load(&mut app.conn())
        .unwrap()
}

/// Every outbox row sent, the scan done (every filing marked red), and the sink holding at
/// least one copy of each row.
fn all_told(app: &TestApp, sink: &SmtpSink) -> bool {
    use diesel::prelude::*;
    use permits::db::schema::escalations::dsl as e;
    let unmarked: i64 = e::escalations
        .filter(e::red_sent_for.is_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    let rows = app.outbox();
    unmarked == 0
        && rows.iter().all(|r| r.status == "sent")
        && message_counts(sink).len() == rows.len()
}

/// Each manager is told of each filing's red card exactly once, across however many letters
/// the scans wrote (one per scan page and department).
fn assert_each_card_once(app: &TestApp, sink: &SmtpSink) {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut counted = std::collections::HashSet::new();
    for m in sink.received() {
        if !m.subject.starts_with("【红牌督办】") || !counted.insert(m.message_id.clone()) {
            continue;
        }
        for n in numbers(app) {
            if m.text.contains(&n) {
                *seen.entry((m.envelope_to[0].clone(), n)).or_insert(0) += 1;
            }
        }
    }
    for manager in ["manager_a@example.test", "manager_b@example.test"] {
        for n in numbers(app) {
            assert_eq!(
                seen.get(&(manager.to_owned(), n.clone())),
                Some(&1),
                "{manager} told of {n}"
            );
        }
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn message_counts(sink: &SmtpSink) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in sink.received() {
        *counts.entry(m.message_id).or_insert(0) += 1;
    }
    counts
}

#[actix_web::test]
async fn three_instances_send_each_reminder_and_letter_exactly_once() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn().await;
    let filings = red_filings(&app, 12).await;

    let fleet = Fleet((0..3).map(|n| instance(&app, sink.port, n)).collect());
    wait_for("every letter", Duration::from_secs(90), || {
        all_told(&app, &sink)
    });
    // Let every instance tick a few more times: nothing more may go out.
    std::thread::sleep(Duration::from_secs(3));
    drop(fleet);

    let counts = message_counts(&sink);
    let rows = app.outbox();
    assert_eq!(sink.count(), rows.len(), "duplicates: {counts:?}");
    assert!(rows.iter().all(|r| r.status == "sent"));
    let accepted = rows
        .iter()
        .filter(|r| r.kind == "applicant.received")
        .count();
    assert_eq!(accepted, filings);
    // Every outbox row went out once under its own Message-ID.
    for r in &rows {
        assert_eq!(counts.get(&r.message_id), Some(&1), "{}", r.kind);
    }
    assert_each_card_once(&app, &sink);
}

#[actix_web::test]
async fn killing_an_instance_mid_send_loses_nothing_and_duplicates_at_most_its_batch() {
    let sink = SmtpSink::start();
    // Slow enough that a batch of five takes about a second: a claim is held long enough
    // for the poll below to see it on a slow machine too.
    sink.delay(Duration::from_millis(200));
    let app = TestApp::spawn().await;
    red_filings(&app, 12).await;

    let mut fleet = Fleet((0..3).map(|n| instance(&app, sink.port, n)).collect());
    // Kill an instance that holds claims once letters have begun to arrive: it dies between
    // sending and marking. (12 "received" letters wait in the outbox from the start, so there
    // is work to die in.)
    let victim = {
        let mut killed = None;
        let start = Instant::now();
        while killed.is_none() && start.elapsed() < Duration::from_secs(90) {
            if sink.count() == 0 {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            let claimed: Vec<String> = app
                .outbox()
                .into_iter()
                .filter(|r| r.status == "pending" && r.attempts > 0)
                .filter_map(|r| r.claimed_by)
                .collect();
            for name in claimed {
                let pid: u32 = name.split(':').nth(1).unwrap().parse().unwrap();
                if let Some(i) = fleet.0.iter().position(|c| c.id() == pid) {
                    let mut child = fleet.0.remove(i);
                    child.kill().unwrap();
                    child.wait().unwrap();
                    killed = Some(pid);
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        killed.expect("an instance holding claims")
    };

    // The survivors finish, the victim's claims included once its lease has run out.
    wait_for("every row sent", Duration::from_secs(90), || {
        all_told(&app, &sink)
    });
    drop(fleet);

    let counts = message_counts(&sink);
    let expected = app.outbox().len();
    assert_eq!(counts.len(), expected, "every letter arrived");
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "killed instance {victim}: {} letters, {} received, {} duplicated",
        expected,
        sink.count(),
        duplicated.len()
    );
    assert!(
        counts.values().all(|n| *n <= 2),
        "nothing arrives three times: {duplicated:?}"
    );
    // Only what the victim had sent and not yet marked can arrive twice: at most one batch.
    assert!(
        duplicated.len() <= 5,
        "instance {victim} duplicated {}: {duplicated:?}",
        duplicated.len()
    );
    for r in app.outbox() {
        assert!(counts.contains_key(&r.message_id));
    }
}
