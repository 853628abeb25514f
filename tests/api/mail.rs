//! Mail: the outbox written in the action's transaction, sent over a real SMTP conversation,
//! retried with backoff, parked for administrators; reminders, escalations and digests from the
//! scheduled jobs, once each, on working days.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use permits::domain::Lang;
use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::helpers::{
    CONSTRUCTION_MATERIALS, FIRE_MATERIALS, SmtpSink, TestApp, TlsFront, User, at,
    construction_form, fire_draws, fire_form, free_port, smtp_to,
};

/// A fire filing submitted by `who` (its clock runs from receipt: "accepted" is its first mail).
async fn submitted_fire_filing(app: &TestApp, who: &User) -> Value {
    let f = app.create(who, "fire-acceptance-filing", fire_form()).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(who, &id, FIRE_MATERIALS).await;
    let f = app.filing(who, &id).await;
    app.act(who, &f, "submit", json!({})).await
}

fn by_subject(got: &[crate::helpers::Received]) -> HashMap<String, crate::helpers::Received> {
    got.iter().map(|m| (m.subject.clone(), m.clone())).collect()
}

#[actix_web::test]
async fn applicants_are_told_each_step_over_smtp_in_their_own_language() {
    let sink = SmtpSink::start();
    let port = sink.port;
    // Under rules that draw every filing: the draw's result is told too.
    let app = TestApp::spawn_with(move |s| {
        smtp_to(port)(s);
        fire_draws(true)(s);
    })
    .await;
    at(&app, "2026-11-23");
    let zh = app
        .mail_user("builder_zh", None, &[Role::Applicant], Lang::Zh)
        .await;
    let en = app
        .mail_user("builder_en", None, &[Role::Applicant], Lang::En)
        .await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;

    let f = submitted_fire_filing(&app, &zh).await;
    let number = f["number"].as_str().unwrap().to_owned();
    let f = app
        .act(
            &clerk,
            &f,
            "request_supplement",
            json!({ "notice_items": ["竣工图缺少消防设施平面图 <第3页>", "备案表未盖章"] }),
        )
        .await;
    let f = app.act(&zh, &f, "supplement", json!({})).await;
    app.act(&clerk, &f, "issue_receipt", json!({})).await;
    let g = submitted_fire_filing(&app, &en).await;
    let en_number = g["number"].as_str().unwrap().to_owned();

    // Nothing has left yet: the rows wait in the outbox for the sender.
    assert_eq!(sink.count(), 0);
    let rows = app.outbox();
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(rows.iter().all(|r| r.status == "pending"));

    let report = app.run_job("outbox").await;
    assert_eq!(report["sent"], 5, "{report}");
    let got = sink.received();
    assert_eq!(got.len(), 5);
    let mail = by_subject(&got);

    let accepted = &mail[&format!("【收件】{number} 建设工程竣工验收消防备案")];
    // The bureau's limit runs from receipt, and the receipt says until when.
    assert!(
        accepted.text.contains("办理时限自收件次日起按工作日计算"),
        "{}",
        accepted.text
    );
    assert!(accepted.text.contains("法定办结期限"), "{}", accepted.text);
    assert_eq!(accepted.envelope_to, vec!["builder_zh@example.test"]);
    assert!(
        accepted.to.contains("builder_zh@example.test"),
        "{}",
        accepted.to
    );
    assert!(
        accepted.text.contains("builder_zh，您好："),
        "{}",
        accepted.text
    );
    assert!(accepted.text.contains("法定办结期限"), "{}", accepted.text);

    let supplement = &mail[&format!("【补正告知】{number} 建设工程竣工验收消防备案")];
    assert!(
        supplement
            .text
            .contains("1. 竣工图缺少消防设施平面图 <第3页>"),
        "{}",
        supplement.text
    );
    assert!(supplement.text.contains("2. 备案表未盖章"));
    // The clerk's words are escaped in the HTML part.
    assert!(
        supplement
            .html
            .contains("竣工图缺少消防设施平面图 &#60;第3页&#62;"),
        "{}",
        supplement.html
    );

    let filed = &mail[&format!("【办件进度】{number} 建设工程竣工验收消防备案：已备案，待抽取")];
    assert!(
        filed
            .text
            .contains(&format!("/filings/{}", f["id"].as_str().unwrap()))
    );

    // The draw, made right after the receipt, is told: 抽中.
    assert!(mail.contains_key(&format!(
        "【办件进度】{number} 建设工程竣工验收消防备案：被抽中，待检查"
    )));

    let english = &mail[&format!("Received: {en_number} Fire-acceptance filing after completion")];
    assert_eq!(english.envelope_to, vec!["builder_en@example.test"]);
    assert!(
        english.text.contains("Dear builder_en,"),
        "{}",
        english.text
    );
    assert!(english.html.contains("lang=\"en\""));

    // Each row records its Message-ID, which is the one the server received, and when.
    let rows = app.outbox();
    for r in &rows {
        assert_eq!(r.status, "sent");
        assert!(r.sent_at.is_some());
        assert!(r.smtp_response.as_deref().unwrap_or("").starts_with("250"));
        assert!(
            got.iter().any(|m| m.message_id == r.message_id),
            "{} not received",
            r.message_id
        );
    }
    // A second run sends nothing again.
    let again = app.run_job("outbox").await;
    assert_eq!(again["claimed"], 0);
    assert_eq!(sink.count(), 5);
}

#[actix_web::test]
async fn an_action_that_rolls_back_leaves_no_mail() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let zh = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    let f = app.create(&zh, "fire-acceptance-filing", fire_form()).await;
    let id = f["id"].as_str().unwrap().to_owned();
    // Submitting without the materials is refused: no filing change, so no mail either.
    let r = app
        .act_raw(
            &zh,
            &id,
            "submit",
            f["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(app.outbox().is_empty());
}

#[actix_web::test]
async fn mail_is_retried_with_backoff_while_smtp_is_down_and_delivered_once_it_is_back() {
    let port = free_port();
    let app = TestApp::spawn_with(smtp_to(port)).await;
    at(&app, "2026-11-23");
    let zh = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    submitted_fire_filing(&app, &zh).await;

    let r = app.run_job("outbox").await;
    assert_eq!(
        (r["claimed"].as_u64(), r["retrying"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let row = &app.outbox()[0];
    assert_eq!(row.status, "pending");
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.is_some());
    // The first retry waits about 30 s (base), with jitter in [0.5, 1.5).
    let wait = row.next_attempt_at - app.clock_now();
    assert!(
        wait >= chrono::Duration::seconds(15) && wait < chrono::Duration::seconds(45),
        "{wait}"
    );
    // Not due yet: nothing is tried.
    assert_eq!(app.run_job("outbox").await["claimed"], 0);

    // Still down at the second attempt: the wait doubles.
    app.clock.advance(chrono::Duration::seconds(46));
    assert_eq!(app.run_job("outbox").await["retrying"], 1);
    let row = &app.outbox()[0];
    assert_eq!(row.attempts, 2);
    let wait = row.next_attempt_at - app.clock_now();
    assert!(
        wait >= chrono::Duration::seconds(30) && wait < chrono::Duration::seconds(90),
        "{wait}"
    );

    // The server comes back on the same port.
    let sink = SmtpSink::on(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    app.clock.advance(chrono::Duration::seconds(91));
    let r = app.run_job("outbox").await;
    assert_eq!(r["sent"], 1, "{r}");
    assert_eq!(sink.count(), 1);
    let row = &app.outbox()[0];
    assert_eq!((row.status.as_str(), row.attempts), ("sent", 3));
    assert_eq!(sink.received()[0].message_id, row.message_id);
}

#[actix_web::test]
async fn an_smtp_server_that_accepts_and_then_hangs_times_out_and_is_retried() {
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let app = TestApp::spawn_with(|s| {
        smtp_to(port)(s);
        s.mail.timeout_seconds = 1;
    })
    .await;
    at(&app, "2026-11-23");
    let zh = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    submitted_fire_filing(&app, &zh).await;

    let started = std::time::Instant::now();
    let r = app.run_job("outbox").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(r["retrying"], 1, "{r}");
    let row = &app.outbox()[0];
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 1));
    assert!(
        row.last_error
            .as_deref()
            .unwrap()
            .contains("did not answer within 1 s"),
        "{:?}",
        row.last_error
    );
    app.allow_unsent_mail();
}

#[actix_web::test]
async fn a_refused_recipient_is_parked_for_an_admin_who_sends_it_again() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(smtp_to(sink.port)).await;
    at(&app, "2026-11-23");
    let zh = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    sink.refuse(Some("builder@"));
    submitted_fire_filing(&app, &zh).await;

    // 550 is permanent: parked at once, not retried for hours.
    let r = app.run_job("outbox").await;
    assert_eq!(r["parked"], 1, "{r}");
    let r = app.get(&admin, "/api/v1/admin/mail?status=failed").await;
    assert_eq!(r.status(), 200);
    let failed: Value = r.json().await.unwrap();
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["kind"], "applicant.received");
    assert!(
        failed[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("Mailbox unavailable"),
        "{failed}"
    );
    let id = failed[0]["id"].as_i64().unwrap();

    // Only administrators see and retry mail.
    assert_eq!(app.get(&clerk, "/api/v1/admin/mail").await.status(), 403);
    assert_eq!(
        app.post(&clerk, &format!("/api/v1/admin/mail/{id}/retry"), json!({}))
            .await
            .status(),
        403
    );

    // The mailbox is fixed; the admin sends it again.
    sink.refuse(None);
    let r = app
        .post(&admin, &format!("/api/v1/admin/mail/{id}/retry"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let row: Value = r.json().await.unwrap();
    assert_eq!(
        (row["status"].as_str(), row["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    // Retrying what is not failed is a conflict.
    let r = app
        .post(&admin, &format!("/api/v1/admin/mail/{id}/retry"), json!({}))
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        app.post(&admin, "/api/v1/admin/mail/999999/retry", json!({}))
            .await
            .status(),
        404
    );

    assert_eq!(app.run_job("outbox").await["sent"], 1);
    assert_eq!(sink.count(), 1);
    // The retry is in the audit log.
    let actions: i64 = {
        use diesel::prelude::*;
        use permits::db::schema::audit_log::dsl as a;
        a::audit_log
            .filter(a::action.eq("retry_mail"))
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    assert_eq!(actions, 1);
}

#[actix_web::test]
async fn a_crash_between_sending_and_marking_sends_one_duplicate_with_the_same_message_id() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(smtp_to(sink.port)).await;
    at(&app, "2026-11-23");
    let zh = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    submitted_fire_filing(&app, &zh).await;

    // A sender claims and sends, then dies before recording it.
    let rows = permits::jobs::claim(&app.state).await.unwrap();
    assert_eq!(rows.len(), 1);
    let attempts = permits::jobs::send(&app.state, rows, std::time::Instant::now()).await;
    assert!(attempts[0].result.is_ok());
    assert_eq!(sink.count(), 1);

    // Within the lease no other sender touches the row.
    assert_eq!(app.run_job("outbox").await["claimed"], 0);
    // After it, the row is claimed and sent again: one duplicate, same Message-ID.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.run_job("outbox").await["sent"], 1);
    let got = sink.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].message_id, got[1].message_id);
    assert_eq!(got[0].message_id, app.outbox()[0].message_id);
    // And never again.
    app.clock.advance(chrono::Duration::seconds(600));
    assert_eq!(app.run_job("outbox").await["claimed"], 0);
    assert_eq!(sink.count(), 2);
}

/// Each letter is marked sent as soon as the server took it, not when its batch ends: a sender
/// killed mid-batch sends again only the letter it was sending (issue 19: before, a whole batch
/// went twice).
#[actix_web::test]
async fn each_letter_is_marked_sent_as_it_goes_not_at_the_end_of_its_batch() {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(move |s| {
        smtp_to(sink.port)(s);
        s.mail.pool_size = 1;
        s.mail.timeout_seconds = 5;
        s.mail.lease_seconds = 60;
    })
    .await;
    at(&app, "2026-11-23");
    let zh = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    for _ in 0..3 {
        submitted_fire_filing(&app, &zh).await;
    }
    let letters = app.outbox().len();
    assert!(letters >= 3, "{letters}");
    // The server takes a while over each letter; the batch takes them one at a time.
    sink.delay(std::time::Duration::from_millis(700));
    let state = app.state.clone();
    let job = tokio::spawn(async move { permits::jobs::run(&state, "outbox").await });
    let t0 = std::time::Instant::now();
    while sink.count() < 1 {
        assert!(
            t0.elapsed().as_secs() < 10,
            "the first letter never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The second letter is on its way (700 ms); the first is already recorded sent.
    let mut marked = 0;
    for _ in 0..25 {
        marked = app
            .outbox()
            .iter()
            .filter(|m| m.status == permits::domain::notify::MailStatus::Sent)
            .count();
        if marked > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(sink.count() < letters, "the batch had already ended");
    assert_eq!(
        marked, 1,
        "the first letter is marked while the batch goes on"
    );
    let r = job.await.unwrap().unwrap();
    assert_eq!(r["sent"], letters, "{r}");
    assert_eq!(sink.count(), letters);
}

/// Kinds of what the memory mailer sent, with their recipients, in order.
fn sent(app: &TestApp) -> Vec<(String, String)> {
    app.sent_mail()
        .into_iter()
        .map(|m| (m.subject, m.to))
        .collect()
}

#[actix_web::test]
async fn managers_get_a_yellow_then_a_red_card_once_even_when_scans_overlap() {
    let app = TestApp::spawn().await;
    // Monday 2026-11-23: the bureau's one working day for a fire filing ends on Tuesday 11-24,
    // yellow that day.
    at(&app, "2026-11-23");
    let zh = app.applicant("builder").await;
    let manager = app
        .mail_user("manager", Some("fire"), &[Role::Manager], Lang::Zh)
        .await;
    let manager_en = app
        .mail_user("manager_en", Some("fire"), &[Role::Manager], Lang::En)
        .await;
    // A manager of another department hears nothing.
    app.mail_user("other", Some("construction"), &[Role::Manager], Lang::Zh)
        .await;
    let f = submitted_fire_filing(&app, &zh).await;
    let number = f["number"].as_str().unwrap().to_owned();
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2026-11-24");

    let r = app.run_due_jobs().await;
    assert_eq!(r["scan"]["mails"], 0, "{r}");

    at(&app, "2026-11-24");
    let r = app.run_due_jobs().await;
    assert_eq!(r["scan"]["yellow_filings"], 1, "{r}");
    assert_eq!(r["scan"]["mails"], 2);
    let mails = sent(&app);
    assert!(
        mails.contains(&(
            format!("【黄牌预警】{number} 建设工程竣工验收消防备案 将于 2026年11月24日 到期"),
            "manager <manager@example.test>".into()
        )),
        "{mails:?}"
    );
    assert!(mails.contains(&(
        format!("Yellow card: {number} Fire-acceptance filing after completion is due on 24 November 2026"),
        "manager_en <manager_en@example.test>".into()
    )), "{mails:?}");
    // Scanning again the same day sends nothing more.
    assert_eq!(app.run_due_jobs().await["scan"]["mails"], 0);

    // Past the due day: red. Two scans at once (two instances) send each card once.
    at(&app, "2026-11-25");
    let (a, b) = futures::join!(
        permits::jobs::run(&app.state, "deadline_scan"),
        // Called directly: a second instance would not be stopped by the first one's lease.
        permits::jobs::deadline_scan(app.state.clone())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mails_written = a["mails"].as_u64().unwrap_or(0) + b["mails"].as_u64().unwrap_or(0);
    assert_eq!(mails_written, 2, "{a} {b}");
    app.run_job("outbox").await;
    let red: Vec<_> = sent(&app)
        .into_iter()
        .filter(|(s, _)| s.contains("红牌") || s.contains("Red card"))
        .collect();
    assert_eq!(red.len(), 2, "{red:?}");
    assert_eq!(app.run_due_jobs().await["scan"]["mails"], 0);
    assert_eq!(app.sent_mail().len(), 4);
    let _ = (manager, manager_en);
}

/// The scan holds a filing's `escalations` row while it writes its page, and an outbox row
/// naming the filing takes `KEY SHARE` on it; an action on the same filing holds the filing and
/// waits, in its trigger, for the `escalations` row. Neither may wait for the other.
#[actix_web::test]
async fn an_action_during_the_scan_s_page_neither_deadlocks_nor_loses_the_moved_due_day() {
    use diesel::prelude::*;
    use permits::db::schema::escalations::dsl as e;
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;
    let f = submitted_fire_filing(&app, &builder).await;
    let id: uuid::Uuid = f["id"].as_str().unwrap().parse().unwrap();
    let due: Option<chrono::NaiveDate> = e::escalations
        .find(id)
        .select(e::due_on)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(due.map(|d| d.to_string()).as_deref(), Some("2026-11-24"));

    // A scan's page, by hand: lock the row, wait until the action waits for it, then do what
    // the outbox row's foreign key does, and commit.
    let mut scan = app.conn();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let page = std::thread::spawn(move || {
        scan.transaction::<_, diesel::result::Error, _>(|c| {
            diesel::sql_query("SET LOCAL lock_timeout = '10s'").execute(c)?;
            e::escalations
                .find(id)
                .select(e::filing_id)
                .for_update()
                .first::<uuid::Uuid>(c)?;
            locked.send(()).unwrap();
            let waiting = (0..200).any(|_| {
                std::thread::sleep(std::time::Duration::from_millis(50));
                diesel::sql_query(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
                     AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
                )
                .execute(c)
                .is_ok_and(|n| n > 0)
            });
            diesel::sql_query("SELECT 1 FROM filings WHERE id = $1 FOR KEY SHARE")
                .bind::<diesel::sql_types::Uuid, _>(id)
                .execute(c)?;
            Ok(waiting)
        })
    });
    is_locked.recv().unwrap();
    let f = app.filing(&clerk, f["id"].as_str().unwrap()).await;
    let version = f["version"].as_i64().unwrap();
    let action = app.act_raw(
        &clerk,
        f["id"].as_str().unwrap(),
        "request_supplement",
        version,
        json!({ "notice_items": ["竣工图纸缺少消防专篇"] }),
    );
    let (r, waited) = futures::join!(
        action,
        actix_web::rt::task::spawn_blocking(move || page.join().unwrap())
    );
    let waited = waited.unwrap();
    assert_eq!(
        waited.as_ref().ok(),
        Some(&true),
        "the scan's page committed after the action waited for it: {waited:?}"
    );
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["clocks"]["statutory"]["phase"], "suspended");
    // The suspension reached the escalation row: the filing is out of the scan until resumed.
    let due: Option<chrono::NaiveDate> = e::escalations
        .find(id)
        .select(e::due_on)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(due, None);
}

/// A construction permit issued on `date` to a builder with an email address.
async fn issued_permit(app: &TestApp, date: &str) -> (User, Value) {
    at(app, date);
    let builder = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &id, CONSTRUCTION_MATERIALS).await;
    let f = app.filing(&builder, &id).await;
    app.act(&builder, &f, "submit", json!({})).await;
    let f = app.filing(&clerk, &id).await;
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    let f = app
        .act(
            &reviewer,
            &f,
            "approve",
            json!({ "opinion": "符合施工许可条件" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "issued");
    (builder, f)
}

#[actix_web::test]
async fn start_of_works_reminders_fall_on_working_days_across_national_day() {
    let app = TestApp::spawn().await;
    // Issued Wednesday 2026-07-01: three months end on 10-01, National Day (10-01–07), so the
    // deadline is Thursday 10-08. Reminders 10, 3 and 1 working days before: 09-17 (the
    // make-up Sunday 09-20 counts, 中秋 09-25–27 does not), 09-28 and 09-30.
    let (_, f) = issued_permit(&app, "2026-07-01").await;
    let number = f["number"].as_str().unwrap().to_owned();
    app.run_job("outbox").await;
    let before = app.sent_mail().len();
    let reminders = |app: &TestApp| {
        app.sent_mail()
            .into_iter()
            .filter(|m| m.subject.starts_with("【期限提醒】"))
            .map(|m| m.subject)
            .collect::<Vec<_>>()
    };

    at(&app, "2026-09-16");
    app.run_due_jobs().await;
    assert!(reminders(&app).is_empty());
    at(&app, "2026-09-17");
    app.run_due_jobs().await;
    assert_eq!(
        reminders(&app),
        vec![format!(
            "【期限提醒】{number} 自领取施工许可证之日起三个月内开工：2026年10月8日"
        )]
    );
    // Saturday: a rest day, nothing goes out even though nothing is pending.
    at(&app, "2026-09-19");
    assert_eq!(app.run_due_jobs().await["scan"]["rest_day"], true);
    // The make-up Sunday is a working day, but no reminder falls on it.
    at(&app, "2026-09-20");
    assert_eq!(app.run_due_jobs().await["scan"]["rest_day"], false);
    assert_eq!(reminders(&app).len(), 1);
    at(&app, "2026-09-28");
    app.run_due_jobs().await;
    assert_eq!(reminders(&app).len(), 2);
    // 09-29 was missed (the service was down); on 09-30 one reminder goes out, not two.
    at(&app, "2026-09-30");
    app.run_due_jobs().await;
    assert_eq!(reminders(&app).len(), 3);
    at(&app, "2026-10-08");
    app.run_due_jobs().await;
    assert_eq!(reminders(&app).len(), 3);
    assert_eq!(app.sent_mail().len(), before + 3);
}

#[actix_web::test]
async fn a_promise_date_is_reminded_until_the_promised_material_arrives() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let builder = app
        .mail_user("builder", None, &[Role::Applicant], Lang::En)
        .await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let materials: Vec<&str> = CONSTRUCTION_MATERIALS
        .iter()
        .copied()
        .filter(|m| *m != "site_readiness")
        .collect();
    app.upload_all(&builder, &id, &materials).await;
    let f = app.filing(&builder, &id).await;
    let r = app
        .patch(
            &builder,
            &format!("/api/v1/filings/{id}"),
            json!({ "expected_version": f["version"], "promises": { "site_readiness": "2026-12-04" } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let f: Value = r.json().await.unwrap();
    let f = app.act(&builder, &f, "submit", json!({})).await;
    let f = app.filing(&clerk, f["id"].as_str().unwrap()).await;
    app.act(&clerk, &f, "accept", json!({})).await;
    app.run_job("outbox").await;
    let count = |app: &TestApp| {
        app.sent_mail()
            .iter()
            .filter(|m| m.subject.starts_with("Deadline reminder"))
            .count()
    };

    // Friday 12-04 minus 3 working days: Tuesday 12-01.
    at(&app, "2026-11-30");
    app.run_due_jobs().await;
    assert_eq!(count(&app), 0);
    at(&app, "2026-12-01");
    app.run_due_jobs().await;
    assert_eq!(count(&app), 1);
    let m = app
        .sent_mail()
        .into_iter()
        .find(|m| m.subject.starts_with("Deadline reminder"))
        .unwrap();
    assert!(
        m.subject
            .contains("supplying the promised Evidence that the site is ready"),
        "{}",
        m.subject
    );

    // The builder supplies it during the review: the remaining reminders are not sent.
    let builder = app.relogin(&builder).await;
    app.upload_all(&builder, &id, &["site_readiness"]).await;
    at(&app, "2026-12-03");
    app.run_due_jobs().await;
    at(&app, "2026-12-04");
    app.run_due_jobs().await;
    assert_eq!(count(&app), 1);
}

#[actix_web::test]
async fn the_daily_digest_lists_claimed_and_soon_due_work_once_a_day_on_working_days() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let zh = app.applicant("builder").await;
    let clerk = app
        .mail_user("clerk", Some("fire"), &[Role::Clerk], Lang::Zh)
        .await;
    // Staff of another department see nothing of it.
    app.mail_user("planner", Some("planning"), &[Role::Reviewer], Lang::Zh)
        .await;
    let a = submitted_fire_filing(&app, &zh).await;
    let b = submitted_fire_filing(&app, &zh).await;
    // The clerk claims one.
    let r = app
        .post(&clerk, "/api/v1/queue/claim-next", json!({}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let r = app.run_job("digest").await;
    assert_eq!(r["mails"], 1, "{r}");
    app.run_job("outbox").await;
    let digest = app
        .sent_mail()
        .into_iter()
        .find(|m| m.subject.starts_with("【每日待办】"))
        .unwrap();
    assert_eq!(digest.subject, "【每日待办】2026年11月23日 共 2 件");
    assert_eq!(digest.to, "clerk <clerk@example.test>");
    for f in [&a, &b] {
        assert!(digest.text.contains(f["number"].as_str().unwrap()));
    }
    assert!(digest.text.contains("本人"));
    assert!(digest.text.contains("未认领"));

    // Once a day.
    assert_eq!(app.run_job("digest").await["mails"], 0);
    // Not on Saturday.
    at(&app, "2026-11-28");
    assert_eq!(app.run_job("digest").await["rest_day"], true);
    at(&app, "2026-11-30");
    assert_eq!(app.run_job("digest").await["mails"], 1);
    app.run_job("outbox").await;
}

#[actix_web::test]
async fn claims_left_untouched_return_to_the_queue_and_the_release_is_audited() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let zh = app.applicant("builder").await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;
    let other = app.staff("other", "fire", &[Role::Clerk]).await;
    submitted_fire_filing(&app, &zh).await;
    let r = app
        .post(&clerk, "/api/v1/queue/claim-next", json!({}))
        .await;
    assert_eq!(r.status(), 200);

    app.clock.advance(chrono::Duration::hours(71));
    assert_eq!(app.run_job("release_stale_claims").await["released"], 0);
    let other = app.relogin(&other).await;
    let r = app
        .post(&other, "/api/v1/queue/claim-next", json!({}))
        .await;
    assert_eq!(r.status(), 204, "nothing else to claim yet");

    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(app.run_job("release_stale_claims").await["released"], 1);
    let other = app.relogin(&other).await;
    let r = app
        .post(&other, "/api/v1/queue/claim-next", json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let released: i64 = {
        use diesel::prelude::*;
        use permits::db::schema::audit_log::dsl as a;
        a::audit_log
            .filter(a::action.eq("release_stale_claim"))
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    assert_eq!(released, 1);
}

#[actix_web::test]
async fn only_admins_run_jobs_and_see_their_last_runs() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    assert_eq!(
        app.post(&clerk, "/api/v1/admin/jobs/deadline_scan/run", json!({}))
            .await
            .status(),
        403
    );
    let r = app
        .post(&admin, "/api/v1/admin/jobs/deadline_scan/run", json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["job"], "deadline_scan");
    assert_eq!(body["result"]["rest_day"], false);
    assert_eq!(
        app.post(&admin, "/api/v1/admin/jobs/make_coffee/run", json!({}))
            .await
            .status(),
        404
    );
    let runs: Value = app
        .get(&admin, "/api/v1/admin/jobs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(runs[0]["job"], "deadline_scan");
    assert!(runs[0]["running_until"].is_null());
    assert!(runs[0]["last_finished_at"].is_string());
}

/// The inspection's failure: a fire filing by a builder who takes mail, received and drawn on
/// Monday 2026-11-23, failed on Tuesday with an order to rectify (30 days: due 2026-12-24).
/// The builder, the inspector, the filing and its number.
async fn fire_filing_failed_on_tuesday(app: &TestApp) -> (User, User, Value, String) {
    at(app, "2026-11-23");
    let builder = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;
    let inspector = app.staff("inspector", "fire", &[Role::Inspector]).await;
    let f = submitted_fire_filing(app, &builder).await;
    let number = f["number"].as_str().unwrap().to_owned();
    // Drawn at once (the tests spawn with rules that draw every filing).
    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    assert_eq!(f["state"]["code"], "inspection");
    at(app, "2026-11-24");
    let inspector = app.relogin(&inspector).await;
    let builder = app.relogin(&builder).await;
    let f = app.act(&inspector, &f, "fail_inspection", failure()).await;
    (builder, inspector, f, number)
}

fn failure() -> Value {
    json!({ "reason": "疏散指示标志缺失", "opinion": "责令停止使用并整改" })
}

#[actix_web::test]
async fn a_rectification_period_is_reminded_and_ends_when_the_recheck_is_requested() {
    let app = TestApp::spawn_with(fire_draws(true)).await;
    let (builder, _, f, number) = fire_filing_failed_on_tuesday(&app).await;
    app.run_job("outbox").await;
    // The builder heard of the receipt, the draw and the failure, with its reasons.
    let subjects: Vec<String> = app.sent_mail().into_iter().map(|m| m.subject).collect();
    for state in [
        "已备案，待抽取",
        "被抽中，待检查",
        "检查不合格，停止使用并整改",
    ] {
        assert!(
            subjects.contains(&format!(
                "【办件进度】{number} 建设工程竣工验收消防备案：{state}"
            )),
            "{subjects:?}"
        );
    }
    let failed = app
        .sent_mail()
        .into_iter()
        .find(|m| m.subject.ends_with("检查不合格，停止使用并整改"))
        .unwrap();
    assert!(
        failed.text.contains("理由：疏散指示标志缺失"),
        "{}",
        failed.text
    );
    assert!(failed.text.contains("意见：责令停止使用并整改"));

    // 30 calendar days from 11-24: Thursday 12-24; reminders 5 and 1 working days before.
    let reminders = |app: &TestApp| {
        app.sent_mail()
            .into_iter()
            .filter(|m| m.subject.starts_with("【期限提醒】"))
            .map(|m| m.subject)
            .collect::<Vec<_>>()
    };
    at(&app, "2026-12-16");
    app.run_due_jobs().await;
    assert!(reminders(&app).is_empty());
    at(&app, "2026-12-17");
    app.run_due_jobs().await;
    assert_eq!(
        reminders(&app),
        vec![format!(
            "【期限提醒】{number} 整改期限（以整改通知书为准）：2026年12月24日"
        )]
    );
    // The builder asks for the re-check: the period ends, and so do its reminders.
    at(&app, "2026-12-18");
    let builder = app.relogin(&builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(
        &builder,
        &id,
        &["recheck_application", "rectification_report"],
    )
    .await;
    let f = app.filing(&builder, &id).await;
    app.act(
        &builder,
        &f,
        "request_recheck",
        json!({ "reason": "已补设疏散指示标志" }),
    )
    .await;
    at(&app, "2026-12-23");
    app.run_due_jobs().await;
    assert_eq!(reminders(&app).len(), 1);
}

/// A rectification ordered again on the day the first one's re-check was requested has the
/// same due day as the first (30 days from the same day). It must still open, and be
/// reminded: the first one is closed, and only open deadlines are unique per due day.
#[actix_web::test]
async fn a_rectification_ordered_again_the_same_day_is_reminded_too() {
    let app = TestApp::spawn_with(fire_draws(true)).await;
    let (builder, inspector, f, number) = fire_filing_failed_on_tuesday(&app).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(
        &builder,
        &id,
        &["recheck_application", "rectification_report"],
    )
    .await;
    let f = app.filing(&builder, &id).await;
    let f = app
        .act(
            &builder,
            &f,
            "request_recheck",
            json!({ "reason": "已整改" }),
        )
        .await;
    let f = app.act(&inspector, &f, "fail_recheck", failure()).await;
    assert_eq!(f["state"]["code"], "rectification");

    let deadlines = |sql: &str| {
        crate::concurrency::scalar(
            &app,
            &format!(
                "SELECT count(*) AS n FROM applicant_deadlines WHERE filing_id = '{id}' \
                 AND code = 'rectification' AND due_on = '2026-12-24' {sql}"
            ),
        )
    };
    assert_eq!(
        deadlines("AND closed_at IS NOT NULL"),
        1,
        "the first period ended"
    );
    assert_eq!(
        deadlines(&format!(
            "AND closed_at IS NULL AND state_visit = {}",
            f["version"].as_i64().unwrap()
        )),
        1,
        "the second period is open, bound to the new visit"
    );
    at(&app, "2026-12-17");
    app.run_due_jobs().await;
    let reminders: Vec<String> = app
        .sent_mail()
        .into_iter()
        .filter(|m| m.subject.starts_with("【期限提醒】"))
        .map(|m| m.subject)
        .collect();
    assert_eq!(
        reminders,
        vec![format!(
            "【期限提醒】{number} 整改期限（以整改通知书为准）：2026年12月24日"
        )]
    );
}

#[actix_web::test]
async fn the_command_line_runs_a_job_against_the_database() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let builder = app.applicant("builder").await;
    app.mail_user("manager", Some("fire"), &[Role::Manager], Lang::Zh)
        .await;
    // Submitted a month ago by the manual clock: red by the system clock the command uses.
    at(&app, "2026-10-12");
    let builder = app.relogin(&builder).await;
    submitted_fire_filing(&app, &builder).await;
    let run = |job: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_permits"))
            .args(["jobs", "run", job])
            .env("PERMITS_ENV", "test")
            .env("PERMITS_ROOT", env!("CARGO_MANIFEST_DIR"))
            .env("PERMITS__DATABASE__URL", &app.db_url)
            .env("PERMITS__CLOCK__MODE", "system")
            .env("PERMITS__JOBS__WORKING_DAYS_ONLY", "false")
            .output()
            .unwrap()
    };
    let out = run("deadline_scan");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["red_filings"], 1, "{report}");
    assert_eq!(report["mails"], 1, "{report} {:?}", app.outbox());
    let out = run("no_such_job");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("deadline_scan"));
    // The red card waits in the outbox (due from the system's now); this test's own sender
    // delivers it.
    at(&app, "2099-06-01");
    assert_eq!(app.run_job("outbox").await["sent"], 1);
    assert!(app.sent_mail()[0].subject.starts_with("【红牌督办】"));
}

#[actix_web::test]
async fn filings_that_turn_red_together_reach_each_manager_in_one_letter() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let zh = app.applicant("builder").await;
    app.mail_user("manager", Some("fire"), &[Role::Manager], Lang::Zh)
        .await;
    let a = submitted_fire_filing(&app, &zh).await;
    let b = submitted_fire_filing(&app, &zh).await;
    at(&app, "2026-12-01");
    let r = app.run_due_jobs().await;
    assert_eq!(r["scan"]["red_filings"], 2, "{r}");
    assert_eq!(r["scan"]["mails"], 1, "{r}");
    let mails = app.sent_mail();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "【红牌督办】2 件办件已超过办理期限");
    for f in [&a, &b] {
        assert!(mails[0].text.contains(f["number"].as_str().unwrap()));
        assert!(mails[0].html.contains(f["number"].as_str().unwrap()));
    }
    // And never again for those due days.
    assert_eq!(app.run_due_jobs().await["scan"]["mails"], 0);
}

/// A CA and a certificate for `localhost` signed by it, made with the openssl command.
fn certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=permits test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
}

#[actix_web::test]
async fn mail_goes_over_starttls_with_auth_to_a_relay_signed_by_an_internal_ca() {
    let dir = std::env::temp_dir().join(format!("permits-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let sink = SmtpSink::with_tls(&dir.join("leaf.pem"), &dir.join("leaf.key"), "s3cret-pass");
    let ca = dir.join("ca.pem");
    let port = sink.port;
    let app = TestApp::spawn_with(move |s| {
        smtp_to(port)(s);
        s.mail.smtp_url = format!("smtp://sender:s3cret-pass@localhost:{port}?tls=required");
        s.mail.tls_root_cert = ca.display().to_string();
    })
    .await;
    at(&app, "2026-11-23");
    let zh = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    submitted_fire_filing(&app, &zh).await;
    let r = app.run_job("outbox").await;
    assert_eq!(r["sent"], 1, "{r} {:?}", app.outbox()[0].last_error);
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].envelope_to, vec!["builder@example.test"]);
    assert!(got[0].subject.starts_with("【收件】"));

    // A wrong password is refused for good: parked, not retried.
    let port = sink.port;
    let ca = dir.join("ca.pem");
    let wrong = TestApp::spawn_with(move |s| {
        smtp_to(port)(s);
        s.mail.smtp_url = format!("smtp://sender:wrong@localhost:{port}?tls=required");
        s.mail.tls_root_cert = ca.display().to_string();
    })
    .await;
    at(&wrong, "2026-11-23");
    let zh = wrong
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    submitted_fire_filing(&wrong, &zh).await;
    let r = wrong.run_job("outbox").await;
    assert_eq!(r["parked"], 1, "{r}");
    assert!(
        wrong.outbox()[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("nvalid credentials"),
        "{:?}",
        wrong.outbox()[0].last_error
    );
    wrong.allow_unsent_mail();
    assert_eq!(sink.count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn mail_goes_over_implicit_tls_to_an_smtps_relay_and_only_to_a_trusted_one() {
    let dir = std::env::temp_dir().join(format!("permits-smtps-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let sink = SmtpSink::start();
    let front = TlsFront::start(&dir.join("leaf.pem"), &dir.join("leaf.key"), sink.port);

    // Without the internal CA the relay's certificate is not trusted: nothing is sent.
    let port = front.port;
    let untrusted = TestApp::spawn_with(move |s| {
        smtp_to(port)(s);
        s.mail.smtp_url = format!("smtps://localhost:{port}");
    })
    .await;
    at(&untrusted, "2026-11-23");
    let zh = untrusted
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    submitted_fire_filing(&untrusted, &zh).await;
    let r = untrusted.run_job("outbox").await;
    assert_eq!(r["sent"], 0, "{r}");
    let error = untrusted.outbox()[0].last_error.clone().unwrap_or_default();
    assert!(error.to_lowercase().contains("certificate"), "{error}");
    untrusted.allow_unsent_mail();
    assert_eq!(sink.count(), 0);

    let ca = dir.join("ca.pem");
    let app = TestApp::spawn_with(move |s| {
        smtp_to(port)(s);
        s.mail.smtp_url = format!("smtps://localhost:{port}");
        s.mail.tls_root_cert = ca.display().to_string();
    })
    .await;
    at(&app, "2026-11-23");
    let en = app
        .mail_user("builder", None, &[Role::Applicant], Lang::En)
        .await;
    submitted_fire_filing(&app, &en).await;
    let r = app.run_job("outbox").await;
    assert_eq!(r["sent"], 1, "{r} {:?}", app.outbox()[0].last_error);
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].envelope_to, vec!["builder@example.test"]);
    assert!(got[0].subject.starts_with("Received"), "{}", got[0].subject);
    assert_eq!(got[0].message_id, app.outbox()[0].message_id);
    let _ = std::fs::remove_dir_all(&dir);
}
