#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Closed vocabularies stored as text are enums on read: a stored value the service does not
//! know is an error that names it, never quietly read as some default.

use diesel::connection::SimpleConnection;

use crate::helpers::{TestApp, fire_form};

/// Test databases keep the CHECK constraints that refuse such values; a test that wants one
/// stored drops the constraint first, as a hand edit or a half-applied migration might have.
fn drop_check(app: &TestApp, table: &str, column: &str) {
    app.conn()
        .batch_execute(&format!(
            "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_{column}_check"
        ))
        .unwrap();
}

#[actix_web::test]
async fn a_filing_stored_with_an_unknown_state_kind_is_an_error_not_a_default() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "fire-acceptance-filing", fire_form())
        .await;
    let id = f["id"].as_str().unwrap();
    drop_check(&app, "filings", "state_kind");
    app.conn()
        .batch_execute(&format!(
            "UPDATE filings SET state_kind = 'archived' WHERE id = '{id}'"
        ))
        .unwrap();

    let r = app.get(&builder, &format!("/api/v1/filings/{id}")).await;
    assert_eq!(r.status(), 500);
    let body: serde_json::Value = r.json().await.unwrap();
    // The cause is logged, not shown.
    assert!(!body.to_string().contains("archived"), "{body}");
    // Listing the applicant's filings reads the same column.
    let r = app.get(&builder, "/api/v1/filings").await;
    assert_eq!(r.status(), 500);
}

#[actix_web::test]
async fn a_suspension_stored_with_an_unknown_reason_is_an_error_not_a_supplement() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "fire-acceptance-filing", fire_form())
        .await;
    let id = f["id"].as_str().unwrap();
    assert_eq!(
        app.filing(&builder, id).await["clocks"]["statutory"]["suspended"],
        0
    );
    // The reason column is free text (an extension's written reasons share it), so no CHECK
    // keeps a suspension's reason in the law's list: reading must.
    app.conn()
        .batch_execute(&format!(
            "INSERT INTO clock_events (filing_id, event, reason, at) \
             VALUES ('{id}', 'start', NULL, now() - interval '3 days'), \
                    ('{id}', 'suspend', 'vacation', now() - interval '1 day')"
        ))
        .unwrap();

    let r = app.get(&builder, &format!("/api/v1/filings/{id}")).await;
    assert_eq!(r.status(), 500);
}

#[actix_web::test]
async fn an_outbox_row_with_an_unknown_status_is_an_error_for_the_administrator() {
    let app = TestApp::spawn().await;
    let admin = app
        .user(
            "admin",
            "staff",
            Some("window"),
            &[permits::domain::definition::Role::Admin],
        )
        .await;
    drop_check(&app, "outbox", "status");
    app.conn()
        .batch_execute(
            "INSERT INTO outbox (dedupe_key, kind, to_address, lang, subject, body_text, \
                                 body_html, message_id, status, next_attempt_at, created_at) \
             VALUES ('k', 'test', 'a <a@example.test>', 'zh', 's', 't', 'h', '<m@x>', \
                     'bounced', now(), now())",
        )
        .unwrap();
    app.allow_unsent_mail();
    let r = app.get(&admin, "/api/v1/admin/mail").await;
    assert_eq!(r.status(), 500);
}
