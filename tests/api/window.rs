//! Window filing (窗口收件 / 代办, issue 17 §1): a clerk files for an applicant who came to the
//! counter. The draft is the applicant's; the clerk (and the clerks of their department) carry
//! it to submission, which records the window channel (GB/T 39046 A.5 code 1); afterwards the
//! applicant owns it as any other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::helpers::*;

struct Counter {
    builder: User,
    clerk: User,
}

async fn counter(app: &TestApp) -> Counter {
    at(app, "2026-03-02");
    Counter {
        builder: app.applicant("builder").await,
        clerk: app.staff("clerk", "window", &[Role::Clerk]).await,
    }
}

/// POST /api/v1/filings with `on_behalf_of`; the status and the body.
async fn file_for(
    app: &TestApp,
    by: &User,
    username: &str,
    form: Value,
    key: Option<&str>,
) -> (u16, Value, bool) {
    let mut req = app
        .client
        .post(app.url("/api/v1/filings"))
        .bearer_auth(&by.token)
        .json(&json!({ "item": "construction-permit", "form": form, "on_behalf_of": username }));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let replayed = r.headers().contains_key("Idempotent-Replayed");
    (status, r.json().await.unwrap_or(Value::Null), replayed)
}

/// A window draft of a construction permit with the whole form.
async fn window_draft(app: &TestApp, c: &Counter) -> String {
    let (status, f, _) = file_for(
        app,
        &c.clerk,
        &c.builder.username,
        construction_form(),
        None,
    )
    .await;
    assert_eq!(status, 201, "{f}");
    f["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_clerk_files_at_the_window_and_the_applicant_owns_the_submitted_filing() {
    let app = TestApp::spawn().await;
    let c = counter(&app).await;
    let colleague = app.staff("clerk2", "window", &[Role::Clerk]).await;
    let mut form = construction_form();
    form.as_object_mut().unwrap().remove("project_name");
    let (status, f, _) = file_for(&app, &c.clerk, "builder", form, None).await;
    assert_eq!(status, 201, "{f}");
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["applicant_id"], json!(c.builder.id), "{f}");
    assert_eq!(f["filed_by"]["id"], json!(c.clerk.id), "{f}");
    assert_eq!(f["filed_by"]["display_name"], "clerk");
    assert_eq!(f["channel"], Value::Null, "a draft has no channel yet");
    assert_eq!(f["may"]["edit"], true, "{f}");
    assert!(
        f["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "submit"),
        "the clerk is offered the applicant's submit: {f}"
    );

    // The clerk completes the form; a colleague at the window uploads part of the materials.
    let r = app
        .patch(
            &c.clerk,
            &format!("/api/v1/filings/{id}"),
            json!({ "expected_version": f["version"], "form": { "project_name": "示范小学教学楼" } }),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let (first, rest) = CONSTRUCTION_MATERIALS.split_at(3);
    app.upload_all(&colleague, &id, first).await;
    app.upload_all(&c.clerk, &id, rest).await;

    // The applicant sees the draft as their own while it is at the window.
    let mine = app.filing(&c.builder, &id).await;
    assert_eq!(mine["may"]["edit"], true, "{mine}");
    assert_eq!(mine["form"]["project_name"], "示范小学教学楼");

    let f = app.filing(&c.clerk, &id).await;
    let f = app.act(&c.clerk, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake", "{f}");
    assert_eq!(f["channel"], "window", "{f}");
    let channel: Option<i16> = diesel::RunQueryDsl::get_result::<ChannelRow>(
        diesel::sql_query("SELECT channel FROM filings WHERE id = $1::uuid")
            .bind::<diesel::sql_types::Text, _>(&id),
        &mut app.conn(),
    )
    .unwrap()
    .channel;
    assert_eq!(channel, Some(1), "GB/T 39046 A.5: 1 窗口");

    // Now the applicant's, as any other: in their list, theirs to read, no longer the clerk's to
    // edit (the clerk works it as staff: the window accepts it).
    let list: Value = app
        .get(&c.builder, "/api/v1/filings")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == json!(id)),
        "{list}"
    );
    let mine = app.filing(&c.builder, &id).await;
    assert_eq!(mine["channel"], "window");
    assert_eq!(mine["filed_by"]["id"], json!(c.clerk.id));
    let f = app.filing(&c.clerk, &id).await;
    assert_eq!(f["may"]["edit"], false, "{f}");
    assert!(f["may"]["upload"].as_array().unwrap().is_empty(), "{f}");
    let r = app
        .upload(&c.clerk, &id, "application_form", "again.pdf", pdf("again"))
        .await;
    assert_eq!(r.status(), 403);
    let f = app.act(&c.clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review", "{f}");

    // The audit entry of the create says who filed it and for whom.
    let history: Value = app
        .get(&c.builder, &format!("/api/v1/filings/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let created = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "create")
        .unwrap_or_else(|| panic!("{history}"));
    assert_eq!(created["actor_id"], json!(c.clerk.id), "{created}");
    assert_eq!(
        created["payload"]["filed_by"],
        json!(c.clerk.id),
        "{created}"
    );
    assert_eq!(
        created["payload"]["on_behalf_of"],
        json!(c.builder.id),
        "{created}"
    );
}

#[derive(diesel::QueryableByName)]
struct ChannelRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::SmallInt>)]
    channel: Option<i16>,
}

#[actix_web::test]
async fn the_applicant_may_submit_a_draft_filed_for_them_at_the_window_as_their_own() {
    let app = TestApp::spawn().await;
    let c = counter(&app).await;
    let id = window_draft(&app, &c).await;
    app.upload_all(&c.builder, &id, CONSTRUCTION_MATERIALS)
        .await;
    let f = app.filing(&c.builder, &id).await;
    let f = app.act(&c.builder, &f, "submit", json!({})).await;
    // The applicant submitted it themself, online.
    assert_eq!(f["channel"], "online", "{f}");
    assert_eq!(f["filed_by"]["id"], json!(c.clerk.id), "{f}");
}

#[actix_web::test]
async fn only_a_clerk_may_file_for_someone_else() {
    let app = TestApp::spawn().await;
    let c = counter(&app).await;
    let other = app.applicant("other").await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let before = app.count("filings");
    for who in [&other, &reviewer, &c.builder] {
        let (status, body, _) = file_for(&app, who, "builder", construction_form(), None).await;
        assert_eq!(status, 403, "{} filing for builder: {body}", who.username);
    }
    assert_eq!(app.count("filings"), before, "nothing written");
}

#[actix_web::test]
async fn an_unknown_or_non_applicant_username_is_refused_at_on_behalf_of() {
    let app = TestApp::spawn().await;
    let c = counter(&app).await;
    app.staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    for name in ["nobody", "reviewer", "clerk"] {
        let (status, body, _) = file_for(&app, &c.clerk, name, construction_form(), None).await;
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(error_paths(&body), vec!["on_behalf_of"], "{name}: {body}");
        let error = &body["errors"][0];
        assert_eq!(error["code"], "unknown_applicant", "{body}");
    }
    // With a bad field too: both are named.
    let mut form = construction_form();
    form["planned_start"] = json!("not a date");
    let (status, body, _) = file_for(&app, &c.clerk, "nobody", form, None).await;
    assert_eq!(status, 422, "{body}");
    let paths = error_paths(&body);
    assert!(
        paths.contains(&"on_behalf_of".to_owned())
            && paths.contains(&"form.planned_start".to_owned()),
        "{body}"
    );
    assert_eq!(app.count("filings"), 0);
}

#[actix_web::test]
async fn a_clerk_of_another_department_or_a_reviewer_cannot_act_on_the_window_draft() {
    let app = TestApp::spawn().await;
    let c = counter(&app).await;
    let fire_clerk = app.staff("fire_clerk", "fire", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let manager = app.staff("manager", "window", &[Role::Manager]).await;
    let id = window_draft(&app, &c).await;
    app.upload_all(&c.clerk, &id, CONSTRUCTION_MATERIALS).await;
    let f = app.filing(&c.clerk, &id).await;
    for who in [&fire_clerk, &reviewer, &manager] {
        // The draft is not theirs to see, so not to act on (a draft does not leak: 404).
        let (status, body) = app.attempt(who, &f, "submit", json!({})).await;
        assert_eq!(status, 404, "{} submits: {body}", who.username);
        let r = app
            .upload(who, &id, "application_form", "x.pdf", pdf("x"))
            .await;
        assert_eq!(r.status(), 404, "{} uploads", who.username);
        let r = app
            .patch(
                who,
                &format!("/api/v1/filings/{id}"),
                json!({ "expected_version": f["version"], "form": { "project_name": "改" } }),
            )
            .await;
        assert_eq!(r.status(), 404, "{} edits", who.username);
    }
    let f = app.filing(&c.clerk, &id).await;
    assert_eq!(f["state"]["code"], "draft");
    assert_eq!(f["form"]["project_name"], "示范小学教学楼");
}

#[actix_web::test]
async fn a_window_create_sent_again_with_its_key_lands_on_the_same_draft() {
    let app = TestApp::spawn().await;
    let c = counter(&app).await;
    app.applicant("other").await;
    let key = "window-0001";
    let (s1, first, replayed1) =
        file_for(&app, &c.clerk, "builder", construction_form(), Some(key)).await;
    let (s2, again, replayed2) =
        file_for(&app, &c.clerk, "builder", construction_form(), Some(key)).await;
    assert_eq!((s1, s2), (201, 201), "{first} {again}");
    assert!(!replayed1 && replayed2);
    assert_eq!(first["id"], again["id"]);
    assert_eq!(app.count("filings"), 1);
    // The same key for another applicant is another request.
    let (status, body, _) = file_for(&app, &c.clerk, "other", construction_form(), Some(key)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_paths(&body), vec!["Idempotency-Key"], "{body}");
}

#[actix_web::test]
async fn a_clerk_files_from_the_window_page_and_submits_from_the_filing_page() {
    use crate::pages::{csrf, page, post_form, signed_in};
    let app = TestApp::spawn().await;
    let c = counter(&app).await;
    let browser = signed_in(&app, "clerk").await;
    let (status, html) = page(&browser, &app, "/window").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("href=\"/window\""),
        "the nav leads clerks here"
    );
    assert!(html.contains("value=\"construction-permit\""), "{html}");
    let token = csrf(&html);

    // Problems at their fields, what was typed kept; nothing made.
    let (status, html) = post_form(
        &browser,
        &app,
        "/window",
        &[("_csrf", &token), ("item", ""), ("applicant", "nobody")],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("id=\"item-error\""), "{html}");
    assert!(!html.contains("id=\"applicant-error\""), "{html}");
    assert!(html.contains("value=\"nobody\""), "{html}");
    let (status, html) = post_form(
        &browser,
        &app,
        "/window",
        &[
            ("_csrf", &token),
            ("item", "construction-permit"),
            ("applicant", "nobody"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("id=\"applicant-error\">没有用户名为「nobody」的申请人账户"),
        "{html}"
    );
    assert_eq!(app.count("filings"), 0);

    // Filed: the filing page, the applicant's draft, marked as filed at the window.
    let r = browser
        .post(app.url("/window"))
        .form(&[
            ("_csrf", token.as_str()),
            ("item", "construction-permit"),
            ("applicant", "builder"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let id = to.trim_start_matches("/filings/").to_owned();
    let f = app.filing(&c.builder, &id).await;
    assert_eq!(f["applicant_id"], json!(c.builder.id));
    let (status, html) = page(&browser, &app, &to).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"filed-by\""), "{html}");
    assert!(
        html.contains(&format!("href=\"/filings/{id}/edit\"")),
        "{html}"
    );

    // The clerk fills in the form on the edit page, uploads, and submits from the page.
    let (status, html) = page(&browser, &app, &format!("/filings/{id}/edit")).await;
    assert_eq!(status, 200);
    let form = construction_form();
    let mut fields: Vec<(String, String)> = vec![
        ("_csrf".into(), csrf(&html)),
        ("version".into(), f["version"].to_string()),
    ];
    for (k, v) in form.as_object().unwrap() {
        match v {
            Value::Bool(true) => fields.push((k.clone(), "on".into())),
            Value::Bool(false) => {}
            Value::String(s) => fields.push((k.clone(), s.clone())),
            other => fields.push((k.clone(), other.to_string())),
        }
    }
    let r = browser
        .post(app.url(&format!("/filings/{id}/edit")))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    app.upload_all(&c.clerk, &id, CONSTRUCTION_MATERIALS).await;
    let f = app.filing(&c.clerk, &id).await;
    let (_, html) = page(&browser, &app, &to).await;
    let (status, html) = post_form(
        &browser,
        &app,
        &format!("/filings/{id}/actions/submit"),
        &[
            ("_csrf", &csrf(&html)),
            ("version", &f["version"].to_string()),
        ],
    )
    .await;
    assert_eq!(status, 303, "{html}");
    let f = app.filing(&c.builder, &id).await;
    assert_eq!(f["state"]["code"], "intake", "{f}");
    assert_eq!(f["channel"], "window", "{f}");

    // Not a page for applicants.
    let applicant = signed_in(&app, "builder").await;
    let (status, html) = page(&applicant, &app, "/window").await;
    assert_eq!(status, 403);
    assert!(!html.contains("href=\"/window\""));
}
