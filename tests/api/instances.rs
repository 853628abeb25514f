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
        .env("PERMITS__JOBS__DEADLINE_SCAN", "* * * * * *")
        .env("PERMITS__JOBS__OUTBOX", "* * * * * *")
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

/// Fire filings submitted three weeks ago (each told "accepted"): all are red today, so each
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
    // n "accepted" letters now, 2n red cards once the instances scan.
    3 * n
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
    let expected = red_filings(&app, 12).await;

    let fleet = Fleet((0..3).map(|n| instance(&app, sink.port, n)).collect());
    wait_for("every letter", Duration::from_secs(90), || {
        sink.count() >= expected
    });
    // Let every instance tick a few more times: nothing more may go out.
    std::thread::sleep(Duration::from_secs(3));
    drop(fleet);

    let counts = message_counts(&sink);
    assert_eq!(sink.count(), expected, "duplicates: {counts:?}");
    assert_eq!(counts.len(), expected);
    let rows = app.outbox();
    assert_eq!(rows.len(), expected);
    assert!(rows.iter().all(|r| r.status == "sent"));
    let red = rows.iter().filter(|r| r.kind == "manager.red").count();
    assert_eq!(red, expected * 2 / 3);
    // Every outbox row went out under its own Message-ID.
    for r in &rows {
        assert_eq!(counts.get(&r.message_id), Some(&1), "{}", r.kind);
    }
}

#[actix_web::test]
async fn killing_an_instance_mid_send_loses_nothing_and_duplicates_at_most_its_batch() {
    let sink = SmtpSink::start();
    sink.delay(Duration::from_millis(40));
    let app = TestApp::spawn().await;
    let expected = red_filings(&app, 12).await;

    let mut fleet = Fleet((0..3).map(|n| instance(&app, sink.port, n)).collect());
    wait_for("the first letters", Duration::from_secs(90), || {
        sink.count() >= 6
    });
    // Kill the instance that holds claims right now: it dies between sending and marking.
    let victim = {
        let mut killed = None;
        let start = Instant::now();
        while killed.is_none() && start.elapsed() < Duration::from_secs(30) {
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
        app.outbox().iter().all(|r| r.status == "sent") && app.outbox().len() == expected
    });
    drop(fleet);

    let counts = message_counts(&sink);
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
