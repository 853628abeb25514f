//! Bad input: every refusal is a problem+json document naming what is wrong (every field at
//! once, in the caller's language), and nothing is written.
//!
//! `problem` and `paths` are shared with the other test modules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use reqwest::Response;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::helpers::*;

/// Assert the status and the problem+json content type; return the document.
pub(crate) async fn problem(r: Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let ct = r
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    assert_eq!(ct, "application/problem+json", "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], status, "{text}");
    assert!(body["code"].is_string(), "{text}");
    assert!(body["title"].is_string(), "{text}");
    body
}

fn error_at<'a>(body: &'a Value, path: &str) -> &'a Value {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("no error at {path} in {body}"))
}

/// Rows that a refused request must not have written.
fn written(app: &TestApp) -> [i64; 5] {
    [
        app.count("filings"),
        app.count("materials"),
        app.count("audit_log"),
        app.count("users"),
        app.count("api_tokens"),
    ]
}

async fn raw_post(app: &TestApp, user: &User, path: &str, body: &str) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(&user.token)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Every regular file under a directory, at any depth.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[actix_web::test]
async fn malformed_json_is_a_400_problem_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let before = written(&app);

    let r = raw_post(
        &app,
        &builder,
        "/api/v1/filings",
        r#"{"item": "construction-permit", "form": {"#,
    )
    .await;
    let body = problem(r, 400).await;
    assert_eq!(body["code"], "bad_request");

    // Same for an action, whose body is read by hand.
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let before_action = written(&app);
    let r = raw_post(
        &app,
        &builder,
        &format!(
            "/api/v1/filings/{}/actions/withdraw",
            f["id"].as_str().unwrap()
        ),
        "{expected_version: 1",
    )
    .await;
    assert_eq!(problem(r, 400).await["code"], "bad_request");
    assert_eq!(written(&app), before_action);
    assert_eq!(before[0] + 1, before_action[0], "only the deliberate draft");
}

#[actix_web::test]
async fn fields_of_the_wrong_type_are_a_400_problem_and_write_nothing() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let before = written(&app);
    for body in [
        r#"{"item": 5}"#,
        r#"{"item": "construction-permit", "form": []}"#,
        r#"{"item": "construction-permit", "promises": "soon"}"#,
        r#"{"item": "construction-permit", "colour": "blue"}"#,
    ] {
        let r = raw_post(&app, &builder, "/api/v1/filings", body).await;
        let p = problem(r, 400).await;
        assert_eq!(p["code"], "bad_request", "{body}");
        assert!(p["detail"].is_string(), "{body}: says what is wrong");
    }
    // A body that is not JSON at all.
    let r = app
        .client
        .post(app.url("/api/v1/filings"))
        .bearer_auth(&builder.token)
        .header(CONTENT_TYPE, "text/plain")
        .body("item=construction-permit")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 415).await["code"], "unsupported_media_type");
    assert_eq!(written(&app), before);
}

#[actix_web::test]
async fn an_unknown_item_is_a_422_at_path_item() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let before = written(&app);
    let r = app
        .post(
            &builder,
            "/api/v1/filings",
            json!({ "item": "moon-landing-permit", "form": {} }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(body["code"], "validation");
    assert_eq!(error_paths(&body), ["item"]);
    assert_eq!(body["errors"][0]["code"], "unknown_item");
    assert_eq!(written(&app), before);
}

#[actix_web::test]
async fn a_credit_code_with_one_wrong_character_fails_its_check_character() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let before = written(&app);
    let mut form = construction_form();
    // 91350100M000100Y43 with its last character changed.
    form["builder_credit_code"] = json!("91350100M000100Y44");
    let r = app
        .post(
            &builder,
            "/api/v1/filings",
            json!({ "item": "construction-permit", "form": form }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["form.builder_credit_code"]);
    assert_eq!(body["errors"][0]["code"], "check_character");
    assert_eq!(written(&app), before);

    // A change in the middle is caught too (GB 32100: any single substitution).
    form["builder_credit_code"] = json!("91350100M000200Y43");
    let r = app
        .post(
            &builder,
            "/api/v1/filings",
            json!({ "item": "construction-permit", "form": form }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(
        error_at(&body, "form.builder_credit_code")["code"],
        "check_character"
    );
    assert_eq!(written(&app), before);
}

#[actix_web::test]
async fn every_bad_field_is_listed_at_once() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let before = written(&app);
    let mut form = construction_form();
    form["builder_credit_code"] = json!("91350100M000100Y44");
    form["project_code"] = json!("2025-33");
    form["planned_start"] = json!("2026-02-30");
    form["investment"] = json!("a lot");
    form["project_manager_phone"] = json!("12345");
    form["colour"] = json!("blue");
    let r = app
        .post(
            &builder,
            "/api/v1/filings",
            json!({ "item": "construction-permit", "form": form,
                    "promises": { "application_form": "2026-12-31", "site_readiness": "someday" } }),
        )
        .await;
    let body = problem(r, 422).await;
    let mut got = error_paths(&body);
    got.sort();
    let mut want = vec![
        "form.builder_credit_code",
        "form.colour",
        "form.investment",
        "form.planned_start",
        "form.project_code",
        "form.project_manager_phone",
        "promises.application_form",
        "promises.site_readiness",
    ];
    want.sort();
    assert_eq!(got, want, "{body}");
    assert_eq!(error_at(&body, "form.colour")["code"], "unknown_field");
    assert_eq!(
        error_at(&body, "promises.application_form")["code"],
        "not_tolerable"
    );
    for e in body["errors"].as_array().unwrap() {
        assert!(
            !e["message"].as_str().unwrap().is_empty(),
            "every error has a message: {e}"
        );
    }
    assert_eq!(written(&app), before);
}

#[actix_web::test]
async fn an_unknown_form_field_is_refused_on_create_and_on_edit() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let before = written(&app);
    let mut form = construction_form();
    form["favourite_colour"] = json!("blue");
    let r = app
        .post(
            &builder,
            "/api/v1/filings",
            json!({ "item": "construction-permit", "form": form }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["form.favourite_colour"]);
    assert_eq!(body["errors"][0]["code"], "unknown_field");
    assert_eq!(written(&app), before);

    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let before = written(&app);
    let r = app
        .patch(
            &builder,
            &format!("/api/v1/filings/{}", f["id"].as_str().unwrap()),
            json!({ "expected_version": f["version"],
                    "form": { "favourite_colour": "blue", "investment": -5 } }),
        )
        .await;
    let body = problem(r, 422).await;
    let mut got = error_paths(&body);
    got.sort();
    assert_eq!(got, ["form.favourite_colour", "form.investment"]);
    assert_eq!(written(&app), before);
    let again = app.filing(&builder, f["id"].as_str().unwrap()).await;
    assert_eq!(
        again["version"], f["version"],
        "a refused edit is not saved"
    );
    assert_eq!(again["form"], f["form"]);
}

#[actix_web::test]
async fn an_oversize_upload_is_refused_with_413_and_leaves_no_file() {
    let app = TestApp::spawn_with(|s| s.storage.max_upload_mb = 1).await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let before = written(&app);
    let uploads = app.state.settings.upload_dir();

    // 1.5 MiB: refused on its declared length.
    let mut big = pdf("big");
    big.resize(1024 * 1024 * 3 / 2, b' ');
    let r = app
        .upload(&builder, &id, "application_form", "big.pdf", big)
        .await;
    let body = problem(r, 413).await;
    assert_eq!(body["code"], "payload_too_large");

    // Just over 1 MiB: within the declared-length slack, refused while streaming.
    let mut over = pdf("over");
    over.resize(1024 * 1024 + 1024, b' ');
    let r = app
        .upload(&builder, &id, "application_form", "over.pdf", over)
        .await;
    assert_eq!(problem(r, 413).await["code"], "payload_too_large");

    assert_eq!(written(&app), before);
    assert_eq!(files_under(&uploads), Vec::<std::path::PathBuf>::new());
    // Exactly 1 MiB is within the limit.
    let mut max = pdf("max");
    max.resize(1024 * 1024, b' ');
    let r = app
        .upload(&builder, &id, "application_form", "max.pdf", max)
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[actix_web::test]
async fn a_file_of_the_wrong_type_is_refused_with_415() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let before = written(&app);
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "application_form",
            "setup.exe",
            b"MZ\x90\0\x03\0\0\0".to_vec(),
        ),
        // The extension says PDF; the bytes say PNG.
        ("application_form", "scan.pdf", png.clone()),
        // An image where only PDF or OFD is accepted.
        ("funds_commitment", "letter.png", png),
        ("application_form", "noextension", pdf("x")),
    ];
    for (material, name, bytes) in cases {
        let r = app.upload(&builder, &id, material, name, bytes).await;
        let body = problem(r, 415).await;
        assert_eq!(body["code"], "unsupported_media_type", "{name}");
    }
    assert_eq!(written(&app), before);
    assert_eq!(
        files_under(&app.state.settings.upload_dir()),
        Vec::<std::path::PathBuf>::new(),
        "no temporary file is left behind"
    );
}

#[actix_web::test]
async fn an_empty_file_or_an_unknown_material_is_a_422() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let before = written(&app);

    let r = app
        .upload(&builder, &id, "application_form", "empty.pdf", Vec::new())
        .await;
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["file"]);
    assert_eq!(body["errors"][0]["code"], "empty");

    let r = app
        .upload(&builder, &id, "moon_rock", "rock.pdf", pdf("rock"))
        .await;
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["materials.moon_rock"]);
    assert_eq!(body["errors"][0]["code"], "unknown_material");

    // No part named `file`.
    let form = reqwest::multipart::Form::new().part(
        "attachment",
        reqwest::multipart::Part::bytes(pdf("a")).file_name("a.pdf"),
    );
    let r = app
        .client
        .post(app.url(&format!("/api/v1/filings/{id}/materials/application_form")))
        .bearer_auth(&builder.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["file"]);
    assert_eq!(body["errors"][0]["code"], "required");

    // A file name with a control character (a tab, a C1 control: what a header lets through).
    for name in ["a\tb.pdf", "a\u{85}b.pdf"] {
        let mut body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"".to_vec();
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(b"\"\r\nContent-Type: application/pdf\r\n\r\n");
        body.extend_from_slice(&pdf("a"));
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        let r = app
            .client
            .post(app.url(&format!("/api/v1/filings/{id}/materials/application_form")))
            .bearer_auth(&builder.token)
            .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(body)
            .send()
            .await
            .unwrap();
        let body = problem(r, 422).await;
        assert_eq!(error_paths(&body), ["file"], "{name:?}");
        assert_eq!(body["errors"][0]["code"], "control_character", "{name:?}");
    }

    assert_eq!(written(&app), before);
    assert_eq!(
        files_under(&app.state.settings.upload_dir()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[actix_web::test]
async fn a_registration_lists_every_bad_field_and_creates_no_account() {
    let app = TestApp::spawn().await;
    let before = written(&app);
    let r = app
        .post_anon(
            "/api/v1/auth/register",
            json!({
                "username": "Big Builder!",
                "password": "short",
                "display_name": "示范建设集团有限公司",
                "kind": "company",
                "credit_code": "91350100M000100Y44",
                "phone": "12345",
                "email": "not-an-email",
            }),
        )
        .await;
    let body = problem(r, 422).await;
    let mut got = error_paths(&body);
    got.sort();
    got.dedup();
    assert_eq!(
        got,
        ["credit_code", "email", "password", "phone", "username"],
        "{body}"
    );
    assert_eq!(error_at(&body, "credit_code")["code"], "check_character");
    assert_eq!(written(&app), before);

    // A company without a credit code.
    let r = app
        .post_anon(
            "/api/v1/auth/register",
            json!({
                "username": "builder2", "password": PASSWORD,
                "display_name": "示范", "kind": "company",
            }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["credit_code"]);
    assert_eq!(body["errors"][0]["code"], "required");
    assert_eq!(written(&app), before);

    // And a good one goes through, so the refusals above were about the input.
    let r = app
        .post_anon(
            "/api/v1/auth/register",
            json!({
                "username": "builder2", "password": PASSWORD,
                "display_name": "示范", "kind": "company", "credit_code": "91350100M000100Y43",
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
}

/// serde stops at the first member it cannot read; the problem lists every one, so a client
/// mends its request once.
#[actix_web::test]
async fn a_body_of_the_wrong_shape_names_every_missing_and_mistyped_member_at_once() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let before = written(&app);
    let r = app
        .post_anon(
            "/api/v1/auth/register",
            json!({ "password": 5, "kind": "alien", "colour": "blue" }),
        )
        .await;
    let body = problem(r, 400).await;
    let codes: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        ("username", "required"),
        ("display_name", "required"),
        ("password", "wrong_type"),
        ("kind", "not_an_option"),
        ("colour", "unknown_field"),
    ] {
        assert!(
            codes.iter().any(|(p, c)| (p.as_str(), c.as_str()) == want),
            "{want:?} not in {body}"
        );
    }
    assert_eq!(codes.len(), 5, "{body}");
    assert!(body["detail"].as_str().unwrap().contains('5'), "{body}");

    // An action's inputs, in English.
    let f = app
        .create(&builder, "fire-acceptance-filing", fire_form())
        .await;
    let r = app
        .client
        .post(app.url(&format!(
            "/api/v1/filings/{}/actions/withdraw",
            f["id"].as_str().unwrap()
        )))
        .bearer_auth(&builder.token)
        .header("Accept-Language", "en")
        .json(
            &json!({ "expected_version": 1.5, "reason": ["no"], "notice_items": [1, "ok", true],
                       "verdict": "maybe" }),
        )
        .send()
        .await
        .unwrap();
    let body = problem(r, 400).await;
    let mut paths = error_paths(&body);
    paths.sort();
    assert_eq!(
        paths,
        [
            "expected_version",
            "notice_items[0]",
            "notice_items[2]",
            "reason",
            "verdict"
        ],
        "{body}"
    );
    assert_eq!(
        error_at(&body, "reason")["message"],
        "reason: must be a string or null"
    );
    let mut expected = before;
    expected[0] += 1; // the draft
    expected[2] += 1; // its creation, audited
    assert_eq!(written(&app), expected);
}

/// A bound is told as it is: a list's length in items, only the bound there is; and a body
/// with thousands of bad members is answered with the first 200 and the count of the rest,
/// not with more than it sent.
#[actix_web::test]
async fn a_bound_is_told_as_it_is_and_a_flood_of_problems_is_cut_short() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let f = crate::concurrency::submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap();
    let items: Vec<String> = (0..101).map(|i| format!("补充第 {i} 项")).collect();
    let before = written(&app);
    let r = app
        .act_raw(
            &clerk,
            id,
            "request_supplement",
            f["version"].as_i64().unwrap(),
            json!({ "notice_items": items }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(
        error_at(&body, "notice_items")["message"],
        "notice_items：最多 100 项",
        "{body}"
    );
    let r = app
        .client
        .post(app.url(&format!("/api/v1/filings/{id}/actions/request_supplement")))
        .bearer_auth(&clerk.token)
        .header("Accept-Language", "en")
        .header("If-Match", format!("\"{}\"", f["version"]))
        .json(&json!({ "notice_items": items, "reason": "r".repeat(4001) }))
        .send()
        .await
        .unwrap();
    let body = problem(r, 422).await;
    assert_eq!(
        error_at(&body, "notice_items")["message"],
        "notice_items must be at most 100 items"
    );
    assert_eq!(
        error_at(&body, "reason")["message"],
        "reason must be at most 4000 characters"
    );
    assert_eq!(written(&app), before);

    let form: serde_json::Map<String, Value> =
        (0..5000).map(|i| (format!("k{i}"), json!(i))).collect();
    let r = app
        .post(
            &builder,
            "/api/v1/filings",
            json!({ "item": "construction-permit", "form": form }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 200);
    assert_eq!(body["errors_omitted"], 4800);
    assert!(
        body["detail"].as_str().unwrap().contains("5000"),
        "{}",
        body["detail"]
    );
    assert_eq!(written(&app), before);
}

#[actix_web::test]
async fn problems_are_in_english_when_asked_and_in_chinese_by_default() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let mut form = construction_form();
    form["builder_credit_code"] = json!("91350100M000100Y44");
    let send = |lang: Option<&'static str>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/filings"))
            .bearer_auth(&builder.token)
            .json(&json!({ "item": "construction-permit", "form": form }));
        if let Some(l) = lang {
            req = req.header("Accept-Language", l);
        }
        req.send()
    };

    let r = send(Some("en-US,en;q=0.9")).await.unwrap();
    assert_eq!(r.headers().get("content-language").unwrap(), "en");
    let en = problem(r, 422).await;
    assert_eq!(en["title"], "Some input is not valid");
    assert!(en["detail"].as_str().unwrap().contains("listed in errors"));
    let msg = en["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("unified social credit code"), "{msg}");

    for lang in [None, Some("zh-CN,zh;q=0.9"), Some("fr")] {
        let r = send(lang).await.unwrap();
        assert_eq!(r.headers().get("content-language").unwrap(), "zh-CN");
        let zh = problem(r, 422).await;
        assert_eq!(zh["title"], "填写内容有误", "{lang:?}");
        let msg = zh["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains("校验码"), "{lang:?}: {msg}");
        assert_eq!(
            zh["code"], en["code"],
            "the code does not depend on the language"
        );
        assert_eq!(zh["errors"][0]["code"], en["errors"][0]["code"]);
    }

    // Refusals without field errors too.
    let r = app
        .client
        .get(app.url("/api/v1/me"))
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(r, 401).await["title"],
        "Not signed in, or the session expired"
    );
}

#[actix_web::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    for path in [
        "/api/v1/nothing-here",
        "/nothing-here",
        "/api/v1/filings/not-a-uuid",
    ] {
        let r = app.get(&builder, path).await;
        let body = problem(r, 404).await;
        assert_eq!(body["code"], "not_found", "{path}");
        assert_eq!(body["instance"], path);
    }
    let r = app
        .client
        .delete(app.url("/api/v1/items"))
        .send()
        .await
        .unwrap();
    assert!(
        [404, 405].contains(&r.status().as_u16()),
        "a wrong method on a known path: {}",
        r.status()
    );
}

#[actix_web::test]
async fn an_internal_error_shows_no_internal_message() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    // A state the item's definition does not know: the service cannot make sense of the row.
    {
        use diesel::connection::SimpleConnection;
        app.conn()
            .batch_execute(&format!(
                "UPDATE filings SET state = 'vanished_state' WHERE id = '{id}'"
            ))
            .unwrap();
    }
    for lang in ["en", "zh"] {
        let r = app
            .client
            .get(app.url(&format!("/api/v1/filings/{id}")))
            .bearer_auth(&builder.token)
            .header("Accept-Language", lang)
            .send()
            .await
            .unwrap();
        let body = problem(r, 500).await;
        assert_eq!(body["code"], "internal");
        let text = body.to_string();
        for secret in ["vanished_state", "construction-permit", "filing "] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}

#[actix_web::test]
async fn an_oversize_action_body_is_a_413_problem() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap();
    let before = written(&app);
    let limit = app.state.settings.server.json_limit_kib * 1024;
    let body = json!({ "expected_version": f["version"], "reason": "x".repeat(limit + 1024) });

    // The create endpoint refuses the same size as a problem document ...
    let r = app
        .post(&builder, "/api/v1/filings", json!({ "item": "construction-permit", "form": { "project_name": "x".repeat(limit + 1024) } }))
        .await;
    assert_eq!(problem(r, 413).await["code"], "payload_too_large");
    // ... and so must the action endpoint.
    let r = app
        .post(
            &builder,
            &format!("/api/v1/filings/{id}/actions/withdraw"),
            body,
        )
        .await;
    assert_eq!(problem(r, 413).await["code"], "payload_too_large");
    assert_eq!(written(&app), before);
}

#[actix_web::test]
async fn a_query_parameter_of_the_wrong_type_is_named_in_the_problem() {
    let app = TestApp::spawn().await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;
    let manager = app.staff("manager", "fire", &[Role::Manager]).await;
    for (user, path, param) in [
        (&clerk, "/api/v1/queue?offset=abc", "offset"),
        (&clerk, "/api/v1/queue?limit=10&scope=everything", "scope"),
        (&clerk, "/api/v1/filings?limit=ten", "limit"),
        (&manager, "/api/v1/reports/due?days=-1", "days"),
    ] {
        let body = problem(app.get(user, path).await, 400).await;
        assert_eq!(body["code"], "bad_request", "{path}");
        assert_eq!(error_paths(&body), [param], "{path}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains(param),
            "{path}: the detail names the parameter: {body}"
        );
    }
    // Good values still work.
    let r = app.get(&clerk, "/api/v1/queue?offset=0&scope=all").await;
    assert_eq!(r.status(), 200);
}

/// A control character (NUL above all: PostgreSQL cannot store it in text, so it used to be a
/// 500) is refused wherever text comes in, with every place named, and nothing is written.
#[actix_web::test]
async fn control_characters_are_refused_by_name_wherever_text_comes_in() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;
    let filing = app
        .create(&builder, "fire-acceptance-filing", fire_form())
        .await;
    let id = filing["id"].as_str().unwrap().to_owned();
    let before = written(&app);

    // A registration whose display name holds NUL (a JSON escape).
    let r = app
        .post_anon(
            "/api/v1/auth/register",
            json!({
                "username": "nul", "password": PASSWORD,
                "display_name": "示范\u{0}公司", "kind": "person",
            }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["display_name"], "{body}");
    assert_eq!(body["errors"][0]["code"], "control_character");

    // Signing in with one: refused, not looked up.
    let r = app
        .post_anon(
            "/api/v1/auth/login",
            json!({ "username": "build\u{0}er", "password": PASSWORD }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["username"], "{body}");

    // An action: every place at once, in an array too; tab and line breaks are fine.
    let r = raw_post(
        &app,
        &clerk,
        &format!("/api/v1/filings/{id}/actions/request_supplement"),
        r#"{"expected_version":1,"reason":"a\u0007b","notice_items":["ok\n\tok","bad\u0085"]}"#,
    )
    .await;
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["notice_items[1]", "reason"], "{body}");

    // A query parameter.
    let r = app.get(&builder, "/api/v1/filings?state=a%00b").await;
    let body = problem(r, 400).await;
    assert_eq!(error_paths(&body), ["state"], "{body}");

    assert_eq!(written(&app), before, "nothing written");
    // The same registration without the NUL goes through.
    let r = app
        .post_anon(
            "/api/v1/auth/register",
            json!({
                "username": "nul", "password": PASSWORD,
                "display_name": "示范\n公司", "kind": "person",
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
}

/// Rules between two fields of the item (`[[relations]]`): a plan that ends before it starts,
/// or a contract above the investment, is refused at the field on create and on edit, in the
/// applicant's language, and nothing is written.
#[actix_web::test]
async fn a_plan_ending_before_it_starts_or_a_contract_above_the_investment_is_refused_at_its_field()
{
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let before = written(&app);
    let mut form = construction_form();
    form["planned_start"] = json!("2026-12-01");
    form["planned_end"] = json!("2026-11-30");
    form["contract_price"] = json!("12500000.01");
    let r = app
        .post(
            &builder,
            "/api/v1/filings",
            json!({ "item": "construction-permit", "form": form }),
        )
        .await;
    let body = problem(r, 422).await;
    assert_eq!(
        error_paths(&body),
        ["form.planned_end", "form.contract_price"]
    );
    let messages: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.contains(&"「计划竣工日期」不能早于「计划开工日期」"),
        "{messages:?}"
    );
    assert_eq!(written(&app), before);

    // The same day, the same sum: allowed. Then an edit that breaks the rule is refused.
    let mut form = construction_form();
    form["planned_end"] = form["planned_start"].clone();
    form["contract_price"] = form["investment"].clone();
    let f = app.create(&builder, "construction-permit", form).await;
    let id = f["id"].as_str().unwrap();
    let r = app
        .patch(
            &builder,
            &format!("/api/v1/filings/{id}"),
            json!({ "expected_version": f["version"], "form": { "planned_end": "2026-01-01" } }),
        )
        .await;
    assert_eq!(error_paths(&problem(r, 422).await), ["form.planned_end"]);
}
