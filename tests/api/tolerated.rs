//! 容缺受理 (issue 18, item 6): a material accepted as missing on the applicant's promise to
//! supply it later blocks the grant until it is on file. The API refuses the grant naming the
//! material; the page says so beside the granting action before it is tried and at that action
//! when it is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::filing_page::section;
use crate::helpers::{CONSTRUCTION_MATERIALS, TestApp, at, construction_form};
use crate::pages::{csrf, page, signed_in};

/// A construction permit accepted with the site-readiness evidence promised by 31 December and
/// not supplied, under review. Returns the app and the filing's id.
async fn accepted_on_a_promise() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    at(&app, "2026-12-03");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    app.staff("reviewer", "construction", &[Role::Reviewer])
        .await;
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
            json!({ "expected_version": f["version"], "promises": { "site_readiness": "2026-12-31" } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let f: Value = r.json().await.unwrap();
    app.act(&builder, &f, "submit", json!({})).await;
    let f = app.filing(&clerk, &id).await;
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");
    (app, id)
}

#[actix_web::test]
async fn the_api_refuses_a_grant_while_a_tolerated_material_is_missing_naming_it() {
    let (app, id) = accepted_on_a_promise().await;
    let reviewer = app
        .staff("reviewer2", "construction", &[Role::Reviewer])
        .await;
    let f = app.filing(&reviewer, &id).await;
    let r = app
        .act_raw(
            &reviewer,
            &id,
            "approve",
            f["version"].as_i64().unwrap(),
            json!({ "opinion": "符合施工许可条件" }),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    let problems = body["errors"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{body}");
    assert_eq!(problems[0]["path"], "materials.site_readiness");
    assert_eq!(problems[0]["code"], "tolerated_missing");
    assert_eq!(
        app.filing(&reviewer, &id).await["state"]["code"],
        "review",
        "nothing changed"
    );
}

#[actix_web::test]
async fn the_page_says_which_tolerated_material_a_grant_waits_for_and_refuses_it_at_that_action() {
    let (app, id) = accepted_on_a_promise().await;
    let path = format!("/filings/{id}");
    let reviewer = signed_in(&app, "reviewer").await;
    let (status, html) = page(&reviewer, &app, &path).await;
    assert_eq!(status, 200);
    // Said before it is tried, at the granting action only.
    let waiting = section(&html, "action-approve-waiting");
    assert!(
        waiting
            .contains("「施工场地已具备施工条件的证明（含征收进度）」（承诺 2026-12-31 前补交）"),
        "{waiting}"
    );
    assert!(!html.contains("id=\"action-refuse-waiting\""));

    // Tried anyway: refused at the action's own form, naming the material.
    let api = app
        .staff("reviewer2", "construction", &[Role::Reviewer])
        .await;
    let version = app.filing(&api, &id).await["version"].as_i64().unwrap();
    let r = reviewer
        .post(app.url(&format!("/filings/{id}/actions/approve")))
        .form(&[
            ("_csrf", csrf(&html).as_str()),
            ("version", &version.to_string()),
            ("opinion", "符合施工许可条件"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let error = section(&html, "action-approve-error");
    assert!(
        error.contains("容缺受理的材料「施工场地已具备施工条件的证明（含征收进度）」尚未补交"),
        "{error}"
    );
    assert!(
        section(&html, "action-approve").contains("符合施工许可条件"),
        "what was typed is kept"
    );

    // In English too.
    reviewer.get(app.url("/lang/en")).send().await.unwrap();
    let (_, html) = page(&reviewer, &app, &path).await;
    let waiting = section(&html, "action-approve-waiting");
    assert!(
        waiting.contains("nothing can be granted until they are"),
        "{waiting}"
    );
    assert!(waiting.contains("(promised by 2026-12-31)"), "{waiting}");
}
