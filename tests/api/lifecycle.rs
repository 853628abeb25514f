//! Whole lifecycles of the three items through the HTTP API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::helpers::*;

#[actix_web::test]
async fn a_construction_permit_goes_from_draft_through_supplement_to_issue() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;

    // A draft without materials cannot be submitted: every missing one is listed.
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["state"]["code"], "draft");
    assert!(f["number"].is_null());
    let r = app
        .act_raw(
            &builder,
            &id,
            "submit",
            f["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for m in [
        "materials.application_form",
        "materials.funds_commitment",
        "materials.site_readiness",
    ] {
        assert!(paths.contains(&m), "{m} missing from {paths:?}");
    }

    // Upload all but the funds commitment; promise the tolerable site-readiness evidence (容缺).
    let materials: Vec<&str> = CONSTRUCTION_MATERIALS
        .iter()
        .copied()
        .filter(|m| !["site_readiness", "funds_commitment"].contains(m))
        .collect();
    app.upload_all(&builder, &id, &materials).await;
    let f = app.filing(&builder, &id).await;
    let f =
        {
            let r = app
            .patch(&builder, &format!("/api/v1/filings/{id}"), json!({
                "expected_version": f["version"], "promises": { "site_readiness": "2026-12-31" }
            }))
            .await;
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        };
    // funds_commitment (pdf/ofd only) is missing: submission still refused for that alone.
    let r = app
        .act_raw(
            &builder,
            &id,
            "submit",
            f["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["materials.funds_commitment"]);

    app.upload_all(&builder, &id, &["funds_commitment"]).await;
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
    let number = f["number"].as_str().unwrap();
    assert!(
        number.starts_with("SGXK-") && number.ends_with("-000001"),
        "{number}"
    );

    // The clerk asks for a supplement: the one-time notice carries the clerk's items.
    let f = app.filing(&clerk, &id).await;
    assert!(
        f["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "accept")
    );
    let f = app
        .act(
            &clerk,
            &f,
            "request_supplement",
            json!({ "notice_items": ["施工合同缺少盖章页"] }),
        )
        .await;
    assert_eq!(f["state"]["code"], "supplement");
    assert_eq!(f["notice"]["items"][0], "施工合同缺少盖章页");

    // The applicant replaces the contract and supplements; the notice is cleared.
    app.upload_all(&builder, &id, &["construction_contract"])
        .await;
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "supplement", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
    assert!(f["notice"].is_null());

    // Accepted with the tolerated material still missing: the clock starts.
    let f = app.filing(&clerk, &id).await;
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");
    assert!(f["accepted_at"].is_string());

    // The decision waits for the tolerated material (容缺: approval blocked until supplied).
    let f = app.filing(&reviewer, &id).await;
    let r = app
        .act_raw(
            &reviewer,
            &id,
            "approve",
            f["version"].as_i64().unwrap(),
            json!({ "opinion": "符合条件" }),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["path"], "materials.site_readiness");

    // A correction during review suspends the clock and lets the applicant upload.
    let f = app
        .act(
            &reviewer,
            &f,
            "request_correction",
            json!({ "notice_items": ["请补交场地具备施工条件的证明"] }),
        )
        .await;
    assert_eq!(f["state"]["code"], "correction");
    app.upload_all(&builder, &id, &["site_readiness"]).await;
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "submit_correction", json!({})).await;
    assert_eq!(f["state"]["code"], "review");

    let f = app.filing(&reviewer, &id).await;
    let f = app
        .act(
            &reviewer,
            &f,
            "approve",
            json!({ "opinion": "符合施工许可条件" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "issued");
    assert_eq!(f["state"]["kind"], "approved");
    assert!(f["closed_at"].is_string());
    assert!(f["actions"].as_array().unwrap().is_empty());

    // The clock ledger: started on acceptance, suspended for the correction, resumed, stopped.
    let events: Vec<String> = {
        use diesel::prelude::*;
        use permits::db::schema::clock_events::dsl::*;
        clock_events
            .order(id)
            .select(event)
            .load(&mut app.conn())
            .unwrap()
    };
    assert_eq!(events, ["start", "suspend", "resume", "stop"]);

    // The history tells the whole story, in order.
    let h: Value = app
        .get(&builder, &format!("/api/v1/filings/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"create"));
    assert!(actions.contains(&"action:submit"));
    assert!(actions.contains(&"action:request_supplement"));
    assert_eq!(actions.last(), Some(&"action:approve"));
}

#[actix_web::test]
async fn a_small_project_is_told_no_permit_is_needed() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let mut form = construction_form();
    form["investment"] = json!("280000");
    let f = app.create(&builder, "construction-permit", form).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &id, CONSTRUCTION_MATERIALS).await;
    let f = app.filing(&builder, &id).await;
    app.act(&builder, &f, "submit", json!({})).await;

    let f = app.filing(&clerk, &id).await;
    let r = app
        .act_raw(
            &clerk,
            &id,
            "accept",
            f["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "threshold");
    assert_eq!(body["errors"][0]["path"], "form.investment");

    let f = app.act(&clerk, &f, "not_required", json!({})).await;
    assert_eq!(f["state"]["code"], "not_required");
    assert_eq!(f["state"]["kind"], "not_accepted");
}
