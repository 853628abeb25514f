//! Access control (DESIGN "Users and access"): who may call what, who sees which filing, and
//! the life of a token. Other applicants' filings are not found (404), not forbidden (403), so
//! their existence does not leak.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Duration;
use permits::domain::definition::Role;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::bad_input::problem;
use crate::concurrency::{permit_in_review, submitted_permit};
use crate::helpers::*;

/// How a request carries its body.
#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Upload,
}

fn request(app: &TestApp, method: Method, path: &str, body: &Body) -> RequestBuilder {
    let req = app.client.request(method, app.url(path));
    match body {
        Body::None => req,
        Body::Json(v) => req.json(v),
        Body::Upload => {
            let part = reqwest::multipart::Part::bytes(pdf("x")).file_name("x.pdf");
            req.multipart(reqwest::multipart::Form::new().part("file", part))
        }
    }
}

/// A draft of `owner` with one uploaded material: (filing, material id).
async fn draft_with_material(app: &TestApp, owner: &User) -> (Value, String) {
    let f = app
        .create(owner, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap();
    let r = app
        .upload(owner, id, "application_form", "form.pdf", pdf("form"))
        .await;
    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    let f = app.filing(owner, id).await;
    (f, m["material"]["id"].as_str().unwrap().to_owned())
}

#[actix_web::test]
async fn every_authenticated_endpoint_refuses_an_anonymous_caller_with_401() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let (f, material) = draft_with_material(&app, &builder).await;
    let id = f["id"].as_str().unwrap();
    let staff = json!({ "username": "newbie", "password": PASSWORD, "display_name": "新人",
                        "department": "window", "roles": ["clerk"] });
    let v = json!({ "expected_version": f["version"] });
    // Every route that needs a caller, with a body it would accept from one.
    let table: Vec<(Method, String, Body)> = vec![
        (Method::POST, "/auth/logout".into(), Body::None),
        (Method::GET, "/me".into(), Body::None),
        (
            Method::POST,
            "/filings".into(),
            Body::Json(json!({ "item": "construction-permit" })),
        ),
        (Method::GET, "/filings".into(), Body::None),
        (Method::GET, format!("/filings/{id}"), Body::None),
        (
            Method::PATCH,
            format!("/filings/{id}"),
            Body::Json(v.clone()),
        ),
        (
            Method::POST,
            format!("/filings/{id}/actions/withdraw"),
            Body::Json(v.clone()),
        ),
        (Method::GET, format!("/filings/{id}/history"), Body::None),
        (
            Method::POST,
            format!("/filings/{id}/materials/application_form"),
            Body::Upload,
        ),
        (
            Method::DELETE,
            format!("/filings/{id}/materials/{material}"),
            Body::None,
        ),
        (
            Method::GET,
            format!("/filings/{id}/materials/{material}/content"),
            Body::None,
        ),
        (Method::GET, "/queue".into(), Body::None),
        (Method::POST, "/queue/claim-next".into(), Body::None),
        (Method::POST, "/tasks/1/claim".into(), Body::None),
        (Method::POST, "/tasks/1/release".into(), Body::None),
        (
            Method::POST,
            "/tasks/1/assign".into(),
            Body::Json(json!({ "user_id": builder.id })),
        ),
        (Method::POST, "/admin/users".into(), Body::Json(staff)),
        (Method::GET, "/admin/users".into(), Body::None),
        (Method::GET, "/audit/verify".into(), Body::None),
    ];

    // Every operation the OpenAPI document marks as needing a token is tried too: those of the
    // table with their bodies, any other (a route added later) with its path parameters filled
    // in from their schemas and an empty JSON body.
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shape = |p: &str| -> String {
        p.split('/')
            .map(|s| {
                if s.starts_with('{') || s.len() == 36 || s.parse::<i64>().is_ok() {
                    "{}"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/")
            .replace("/actions/withdraw", "/actions/{}")
            .replace("/materials/application_form", "/materials/{}")
    };
    let mut secured = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            let method: Method = method.to_uppercase().parse().unwrap();
            let mut concrete = path.clone();
            for param in op["parameters"].as_array().into_iter().flatten() {
                if param["in"] != "path" {
                    continue;
                }
                let schema = &param["schema"];
                let value = match (schema["type"].as_str(), schema["format"].as_str()) {
                    (Some("integer"), _) => "1".to_owned(),
                    (_, Some("uuid")) => uuid::Uuid::new_v4().to_string(),
                    _ => "x".to_owned(),
                };
                concrete =
                    concrete.replace(&format!("{{{}}}", param["name"].as_str().unwrap()), &value);
            }
            secured.push((method, path.clone(), concrete));
        }
    }
    let known: Vec<(String, String)> = table
        .iter()
        .map(|(m, p, _)| (m.as_str().to_owned(), shape(p)))
        .collect();
    for (m, p) in &known {
        assert!(
            secured
                .iter()
                .any(|(sm, sp, _)| sm.as_str() == m && shape(sp) == *p),
            "{m} {p} is not in the OpenAPI document as needing a token"
        );
    }
    // Routes added after this table are tried without a body: the token is checked before the
    // body is looked at, so they must answer 401 too.
    let unlisted: Vec<(Method, String)> = secured
        .into_iter()
        .filter(|(m, p, _)| !known.contains(&(m.as_str().to_owned(), shape(p))))
        .map(|(m, _, concrete)| (m, concrete))
        .collect();

    let before = (
        app.count("filings"),
        app.count("materials"),
        app.count("audit_log"),
    );
    for (method, path, body) in &table {
        let path = format!("/api/v1{path}");
        for auth in [
            None,
            Some("Bearer pt_not-a-real-token"),
            Some("Basic YnVpbGRlcjp4"),
        ] {
            let mut req = request(&app, method.clone(), &path, body);
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(
                r.headers()
                    .get("www-authenticate")
                    .map(|h| h.to_str().unwrap()),
                Some("Bearer"),
                "{method} {path} {auth:?}"
            );
            let body = problem(r, 401).await;
            assert_eq!(body["code"], "unauthenticated", "{method} {path} {auth:?}");
        }
    }
    for (method, path) in &unlisted {
        let path = format!("/api/v1{path}");
        let r = request(&app, method.clone(), &path, &Body::Json(json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(r, 401).await["code"],
            "unauthenticated",
            "{method} {path}"
        );
    }
    assert_eq!(
        (
            app.count("filings"),
            app.count("materials"),
            app.count("audit_log")
        ),
        before
    );
    // The public service guide needs no token.
    let r = app
        .client
        .get(app.url("/api/v1/items/construction-permit"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[actix_web::test]
async fn a_dead_token_is_refused_with_401_even_when_the_body_is_bad() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let r = app.post(&builder, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(r.status(), 204);
    for (path, body) in [
        ("/api/v1/filings", json!({ "form": {} })),
        ("/api/v1/tasks/1/assign", json!({})),
        ("/api/v1/admin/users", json!({ "username": 5 })),
    ] {
        let r = app.post(&builder, path, body).await;
        assert_eq!(problem(r, 401).await["code"], "unauthenticated", "{path}");
    }
}

#[actix_web::test]
async fn another_applicants_filing_is_not_found_whatever_one_tries() {
    let app = TestApp::spawn().await;
    let alice = app.applicant("alice").await;
    let bob = app.applicant("bob").await;
    let (f, material) = draft_with_material(&app, &alice).await;
    let id = f["id"].as_str().unwrap();
    let v = f["version"].clone();
    let before = (
        app.count("filings"),
        app.count("materials"),
        app.count("audit_log"),
    );

    let table: Vec<(Method, String, Body)> = vec![
        (Method::GET, format!("/filings/{id}"), Body::None),
        (
            Method::PATCH,
            format!("/filings/{id}"),
            Body::Json(json!({ "expected_version": v, "form": { "project_name": "抢注" } })),
        ),
        (
            Method::POST,
            format!("/filings/{id}/actions/withdraw"),
            Body::Json(json!({ "expected_version": v })),
        ),
        (
            Method::POST,
            format!("/filings/{id}/actions/submit"),
            Body::Json(json!({ "expected_version": v })),
        ),
        // A wrong version must not tell Bob the filing exists either.
        (
            Method::POST,
            format!("/filings/{id}/actions/withdraw"),
            Body::Json(json!({ "expected_version": 999 })),
        ),
        (
            Method::POST,
            format!("/filings/{id}/materials/application_form"),
            Body::Upload,
        ),
        (
            Method::GET,
            format!("/filings/{id}/materials/{material}/content"),
            Body::None,
        ),
        (
            Method::DELETE,
            format!("/filings/{id}/materials/{material}"),
            Body::None,
        ),
        (Method::GET, format!("/filings/{id}/history"), Body::None),
    ];
    for (method, path, body) in &table {
        let r = request(&app, method.clone(), &format!("/api/v1{path}"), body)
            .bearer_auth(&bob.token)
            .send()
            .await
            .unwrap();
        let p = problem(r, 404).await;
        assert_eq!(p["code"], "not_found", "{method} {path}");
    }
    // A filing that does not exist looks the same.
    let r = app
        .get(&bob, &format!("/api/v1/filings/{}", uuid::Uuid::new_v4()))
        .await;
    let missing = problem(r, 404).await;
    let r = app.get(&bob, &format!("/api/v1/filings/{id}")).await;
    let hidden = problem(r, 404).await;
    assert_eq!(
        (&missing["title"], &missing["code"], missing.get("detail")),
        (&hidden["title"], &hidden["code"], hidden.get("detail"))
    );

    let list: Value = app.get(&bob, "/api/v1/filings").await.json().await.unwrap();
    assert_eq!(list, json!([]));
    assert_eq!(
        (
            app.count("filings"),
            app.count("materials"),
            app.count("audit_log")
        ),
        before
    );
    let same = app.filing(&alice, id).await;
    assert_eq!(same["version"], v);
    assert_eq!(same["form"]["project_name"], "示范小学教学楼");
    // Still not found once it is submitted.
    app.upload_all(&alice, id, CONSTRUCTION_MATERIALS).await;
    let same = app.filing(&alice, id).await;
    app.act(&alice, &same, "submit", json!({})).await;
    let r = app.get(&bob, &format!("/api/v1/filings/{id}")).await;
    assert_eq!(problem(r, 404).await["code"], "not_found");
}

#[actix_web::test]
async fn staff_see_only_filings_their_department_works_on() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let fire_clerk = app.staff("fireclerk", "fire", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap();
    let material = f["materials"][0]["id"].as_str().unwrap();
    let task = f["tasks"][0]["id"].as_i64().unwrap();
    let v = f["version"].as_i64().unwrap();

    // The window clerk works it.
    assert_eq!(
        app.get(&clerk, &format!("/api/v1/filings/{id}"))
            .await
            .status(),
        200
    );

    for who in [&fire_clerk, &reviewer] {
        for path in [
            format!("/api/v1/filings/{id}"),
            format!("/api/v1/filings/{id}/history"),
            format!("/api/v1/filings/{id}/materials/{material}/content"),
        ] {
            let r = app.get(who, &path).await;
            assert_eq!(
                problem(r, 404).await["code"],
                "not_found",
                "{} {path}",
                who.username
            );
        }
        let r = app.act_raw(who, id, "accept", v, json!({})).await;
        assert_eq!(
            problem(r, 404).await["code"],
            "not_found",
            "{}",
            who.username
        );
        let list: Value = app.get(who, "/api/v1/filings").await.json().await.unwrap();
        assert_eq!(list, json!([]), "{}", who.username);
    }
    let r = app
        .post(
            &fire_clerk,
            &format!("/api/v1/tasks/{task}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(problem(r, 404).await["code"], "not_found");
    let q: Value = app
        .get(&fire_clerk, "/api/v1/queue")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(q, json!([]));

    // Accepted: now it is the construction reviewers' to see; the fire department still not.
    let f = app.filing(&clerk, id).await;
    app.act(&clerk, &f, "accept", json!({})).await;
    assert_eq!(
        app.get(&reviewer, &format!("/api/v1/filings/{id}"))
            .await
            .status(),
        200
    );
    let r = app.get(&fire_clerk, &format!("/api/v1/filings/{id}")).await;
    assert_eq!(problem(r, 404).await["code"], "not_found");
}

#[actix_web::test]
async fn an_applicant_cannot_take_a_clerks_action_or_open_the_queue() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap();
    let before = app.count("audit_log");
    for action in ["accept", "request_supplement", "refuse_to_accept"] {
        let r = app
            .act_raw(
                &builder,
                id,
                action,
                f["version"].as_i64().unwrap(),
                json!({ "reason": "自己受理", "notice_items": ["x"] }),
            )
            .await;
        assert_eq!(problem(r, 403).await["code"], "forbidden", "{action}");
    }
    let r = app.get(&builder, "/api/v1/queue").await;
    assert_eq!(problem(r, 403).await["code"], "forbidden");
    let r = app
        .post(&builder, "/api/v1/queue/claim-next", json!({}))
        .await;
    assert_eq!(problem(r, 403).await["code"], "forbidden");
    assert_eq!(app.count("audit_log"), before);
    assert_eq!(app.filing(&builder, id).await["state"]["code"], "intake");
}

#[actix_web::test]
async fn a_clerk_cannot_take_a_reviewers_action() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let f = permit_in_review(&app, &builder, &clerk).await;
    let id = f["id"].as_str().unwrap();
    // The clerk accepted it, so still sees it; deciding is not the clerk's.
    let f = app.filing(&clerk, id).await;
    for action in ["approve", "refuse", "request_correction"] {
        let r = app
            .act_raw(
                &clerk,
                id,
                action,
                f["version"].as_i64().unwrap(),
                json!({ "opinion": "同意", "reason": "不同意", "notice_items": ["x"] }),
            )
            .await;
        assert_eq!(problem(r, 403).await["code"], "forbidden", "{action}");
    }
    assert_eq!(app.filing(&clerk, id).await["version"], f["version"]);
}

#[actix_web::test]
async fn staff_cannot_create_filings() {
    let app = TestApp::spawn().await;
    let staff = [
        app.staff("clerk", "window", &[Role::Clerk]).await,
        app.staff("reviewer", "construction", &[Role::Reviewer])
            .await,
        app.staff("manager", "window", &[Role::Manager]).await,
        app.staff("admin", "window", &[Role::Admin]).await,
        app.staff("auditor", "window", &[Role::Auditor]).await,
    ];
    for who in &staff {
        let r = app
            .post(
                who,
                "/api/v1/filings",
                json!({ "item": "construction-permit", "form": construction_form() }),
            )
            .await;
        assert_eq!(
            problem(r, 403).await["code"],
            "forbidden",
            "{}",
            who.username
        );
    }
    assert_eq!(app.count("filings"), 0);
}

#[actix_web::test]
async fn only_auditors_and_admins_verify_the_audit_log() {
    let app = TestApp::spawn().await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let manager = app.staff("manager", "window", &[Role::Manager]).await;
    let builder = app.applicant("builder").await;
    for who in [&auditor, &admin] {
        let r = app.get(who, "/api/v1/audit/verify").await;
        assert_eq!(r.status(), 200, "{}", who.username);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["ok"], true);
    }
    for who in [&clerk, &manager, &builder] {
        let r = app.get(who, "/api/v1/audit/verify").await;
        assert_eq!(
            problem(r, 403).await["code"],
            "forbidden",
            "{}",
            who.username
        );
    }
}

#[actix_web::test]
async fn only_admins_create_staff_and_the_new_member_can_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let others = [
        app.staff("clerk", "window", &[Role::Clerk]).await,
        app.staff("manager", "window", &[Role::Manager]).await,
        app.staff("auditor", "window", &[Role::Auditor]).await,
        app.applicant("builder").await,
    ];
    let new = |name: &str| {
        json!({ "username": name, "password": "a-long-enough-password", "display_name": "新审查员",
                "department": "construction", "roles": ["reviewer"] })
    };
    let users = app.count("users");
    for who in &others {
        let r = app.post(who, "/api/v1/admin/users", new("sneaky")).await;
        assert_eq!(
            problem(r, 403).await["code"],
            "forbidden",
            "{}",
            who.username
        );
        let r = app.get(who, "/api/v1/admin/users").await;
        assert_eq!(
            problem(r, 403).await["code"],
            "forbidden",
            "{}",
            who.username
        );
    }
    assert_eq!(app.count("users"), users);

    let r = app
        .post(&admin, "/api/v1/admin/users", new("newreviewer"))
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let token = app.login("newreviewer", "a-long-enough-password").await;
    let me: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user_id"], created["user_id"]);
    assert_eq!(me["roles"], json!(["reviewer"]));
    assert_eq!(me["department"], "construction");
    assert_eq!(me["kind"], "staff");

    // No applicant role for staff, no unknown department.
    let mut bad = new("applicantstaff");
    bad["roles"] = json!(["applicant"]);
    let r = app.post(&admin, "/api/v1/admin/users", bad).await;
    assert_eq!(problem(r, 422).await["errors"][0]["path"], "roles");
    let mut bad = new("nowhere");
    bad["department"] = json!("atlantis");
    let r = app.post(&admin, "/api/v1/admin/users", bad).await;
    assert_eq!(problem(r, 422).await["errors"][0]["path"], "department");
}

#[actix_web::test]
async fn a_draft_is_invisible_to_staff_until_it_is_submitted() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;
    // A draft already belongs to the item's department; its reviewers still must not see it.
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["department"], "construction");
    for who in [&clerk, &reviewer, &admin, &auditor] {
        let r = app.get(who, &format!("/api/v1/filings/{id}")).await;
        assert_eq!(
            problem(r, 404).await["code"],
            "not_found",
            "{}",
            who.username
        );
        let r = app.get(who, &format!("/api/v1/filings/{id}/history")).await;
        assert_eq!(
            problem(r, 404).await["code"],
            "not_found",
            "{}",
            who.username
        );
        let list: Value = app.get(who, "/api/v1/filings").await.json().await.unwrap();
        assert_eq!(list, json!([]), "{}", who.username);
    }
    app.upload_all(&builder, &id, CONSTRUCTION_MATERIALS).await;
    let f = app.filing(&builder, &id).await;
    app.act(&builder, &f, "submit", json!({})).await;
    for who in [&clerk, &admin, &auditor] {
        assert_eq!(
            app.get(who, &format!("/api/v1/filings/{id}"))
                .await
                .status(),
            200,
            "{}",
            who.username
        );
        let list: Value = app.get(who, "/api/v1/filings").await.json().await.unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{}", who.username);
    }
}

#[actix_web::test]
async fn admins_and_auditors_see_personal_fields_masked_and_the_owner_and_clerk_in_full() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap();

    for who in [&builder, &clerk] {
        let form = &app.filing(who, id).await["form"];
        assert_eq!(
            form["project_manager_phone"], "13800138000",
            "{}",
            who.username
        );
        assert_eq!(form["project_manager"], "王建国", "{}", who.username);
    }
    for who in [&admin, &auditor] {
        let form = &app.filing(who, id).await["form"];
        let phone = form["project_manager_phone"].as_str().unwrap();
        assert_ne!(phone, "13800138000", "{}", who.username);
        assert!(!phone.contains("0013"), "{}: {phone}", who.username);
        assert!(phone.contains('*'), "{}: {phone}", who.username);
        let name = form["project_manager"].as_str().unwrap();
        assert_ne!(name, "王建国", "{}", who.username);
        // What is not personal stays readable.
        assert_eq!(form["builder_name"], "示范建设集团有限公司");
        assert_eq!(form["builder_credit_code"], "91350100M000100Y43");
    }
}

#[actix_web::test]
async fn a_token_stops_working_once_revoked_by_logout() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let second = app.login("builder", PASSWORD).await;
    let r = app.post(&builder, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(r.status(), 204);
    let r = app.get(&builder, "/api/v1/me").await;
    assert_eq!(problem(r, 401).await["code"], "unauthenticated");
    // Logging out again with the dead token is just as unauthenticated.
    let r = app.post(&builder, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(r.status(), 401);
    // The user's other session lives on.
    let r = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[actix_web::test]
async fn a_token_expires_after_its_time_to_live() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let ttl = i64::from(app.state.settings.auth.token_ttl_hours);
    app.clock
        .advance(Duration::hours(ttl) - Duration::minutes(1));
    assert_eq!(app.get(&builder, "/api/v1/me").await.status(), 200);
    app.clock.advance(Duration::minutes(2));
    let r = app.get(&builder, "/api/v1/me").await;
    assert_eq!(problem(r, 401).await["code"], "unauthenticated");
    // Signing in again gives a fresh one.
    let token = app.login("builder", PASSWORD).await;
    let r = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// `user`'s `accept` on each of `targets` is refused as unauthenticated.
async fn refused_401(app: &TestApp, user: &User, targets: &[&str], version: i64, why: &str) {
    for target in targets {
        let r = app
            .act_raw(user, target, "accept", version, json!({}))
            .await;
        assert_eq!(
            problem(r, 401).await["code"],
            "unauthenticated",
            "{why}, {target}"
        );
    }
}

/// An action's caller is known before anything of the filing decides the answer: a token that
/// is not live (its user deactivated behind its back, expired, revoked) is 401 whether or not
/// the filing exists and whatever the body; a live caller asking for no filing gets 404.
#[actix_web::test]
async fn an_actions_caller_is_checked_before_anything_of_the_filing_counts() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let version = f["version"].as_i64().unwrap();
    let missing = uuid::Uuid::new_v4().to_string();
    let writes = |app: &TestApp| (app.count("audit_log"), app.count("tasks"));
    let before = writes(&app);

    // A live caller: a filing that does not exist is 404.
    let r = app.act_raw(&clerk, &missing, "accept", 1, json!({})).await;
    assert_eq!(problem(r, 404).await["code"], "not_found");

    // The caller's user deactivated behind the token's back (its tokens not revoked): 401, for
    // a filing that exists (with a stale version and a bad body as well) and for one that
    // does not.
    let mut conn = app.conn();
    let set_active = |conn: &mut diesel::PgConnection, on: bool| {
        use diesel::prelude::*;
        diesel::sql_query("UPDATE users SET active = $1 WHERE id = $2")
            .bind::<diesel::sql_types::Bool, _>(on)
            .bind::<diesel::sql_types::Uuid, _>(clerk.id)
            .execute(conn)
            .unwrap();
    };
    set_active(&mut conn, false);
    for (target, v, body) in [
        (id.as_str(), version, json!({})),
        (id.as_str(), version - 1, json!({ "reason": 5 })),
        (missing.as_str(), 1, json!({})),
    ] {
        let r = app.act_raw(&clerk, target, "accept", v, body).await;
        assert_eq!(
            problem(r, 401).await["code"],
            "unauthenticated",
            "{target} v{v}"
        );
    }
    set_active(&mut conn, true);
    assert_eq!(writes(&app), before, "refusals write nothing");

    // An expired token, then a revoked one: 401 whether or not the filing exists.
    let ttl = i64::from(app.state.settings.auth.token_ttl_hours);
    app.clock
        .advance(Duration::hours(ttl) + Duration::minutes(1));
    refused_401(&app, &clerk, &[&id, &missing], version, "expired").await;
    let clerk = app.relogin(&clerk).await;
    let r = app.post(&clerk, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(r.status(), 204);
    let audit_after_logout = app.count("audit_log");
    refused_401(&app, &clerk, &[&id, &missing], version, "revoked").await;
    assert_eq!(
        app.count("audit_log"),
        audit_after_logout,
        "refusals write nothing"
    );
    assert_eq!(app.count("tasks"), before.1);
    let builder = app.relogin(&builder).await;
    assert_eq!(app.filing(&builder, &id).await["version"], version);

    // A fresh session acts.
    let clerk = app.relogin(&clerk).await;
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");
    assert!(writes(&app).0 > before.0);
}

async fn login_raw(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post_anon(
        "/api/v1/auth/login",
        json!({ "username": username, "password": password }),
    )
    .await
}

#[actix_web::test]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
    let app = TestApp::spawn().await;
    let _builder = app.applicant("builder").await;
    let max = app.state.settings.auth.max_failed_logins;
    let lockout = i64::from(app.state.settings.auth.lockout_minutes);
    for i in 0..max {
        let r = login_raw(&app, "builder", "wrong-password-123").await;
        assert_eq!(
            problem(r, 401).await["code"],
            "unauthenticated",
            "attempt {i}"
        );
    }
    let r = login_raw(&app, "builder", PASSWORD).await;
    let retry: i64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= lockout * 60, "{retry}");
    assert_eq!(problem(r, 429).await["code"], "too_many_requests");

    // After the lockout the right password works again.
    app.clock
        .advance(Duration::minutes(lockout) + Duration::seconds(1));
    let r = login_raw(&app, "builder", PASSWORD).await;
    assert_eq!(r.status(), 200);
}

#[actix_web::test]
async fn a_login_for_an_unknown_user_looks_exactly_like_a_wrong_password() {
    let app = TestApp::spawn().await;
    let _builder = app.applicant("builder").await;
    let wrong = login_raw(&app, "builder", "wrong-password-123").await;
    let unknown = login_raw(&app, "nobody-here", "wrong-password-123").await;
    let header =
        |r: &reqwest::Response, h: &str| r.headers().get(h).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        header(&wrong, "www-authenticate"),
        header(&unknown, "www-authenticate")
    );
    assert_eq!(
        header(&wrong, "content-type"),
        header(&unknown, "content-type")
    );
    let mut wrong = problem(wrong, 401).await;
    let mut unknown = problem(unknown, 401).await;
    // Each answer has its own request id; all else is the same.
    for p in [&mut wrong, &mut unknown] {
        let id = p.as_object_mut().unwrap().remove("request_id");
        assert!(id.is_some_and(|id| id.is_string()));
    }
    assert_eq!(wrong, unknown);
}

#[actix_web::test]
async fn an_unknown_name_is_locked_out_exactly_like_a_known_one() {
    let app = TestApp::spawn().await;
    let _builder = app.applicant("builder").await;
    let max = app.state.settings.auth.max_failed_logins;
    for name in ["builder", "nobody-here"] {
        for _ in 0..max {
            let r = login_raw(&app, name, "wrong-password-123").await;
            assert_eq!(r.status(), 401, "{name}");
        }
        // Locked: the same answer whether or not the account exists.
        let r = login_raw(&app, name, "wrong-password-123").await;
        assert_eq!(problem(r, 429).await["code"], "too_many_requests", "{name}");
    }
    // A failure for an unknown name is not audited in anybody's chain.
    assert_eq!(
        app.count("audit_log WHERE action = 'login_failed'"),
        i64::from(max)
    );
}

#[actix_web::test]
async fn an_administrator_deactivates_an_account_and_its_access_ends_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let manager = app.staff("head", "window", &[Role::Manager]).await;
    let builder = app.applicant("builder").await;
    // The clerk holds a second session and has claimed a filing.
    let second = app.relogin(&clerk).await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let r = app
        .post(&clerk, "/api/v1/queue/claim-next", json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let audit_before = app.count("audit_log");

    // Only an administrator may; not for an unknown account; not for oneself.
    let path = format!("/api/v1/admin/users/{}/deactivate", clerk.id);
    assert_eq!(app.post(&manager, &path, json!({})).await.status(), 403);
    assert_eq!(app.post(&clerk, &path, json!({})).await.status(), 403);
    let unknown = format!("/api/v1/admin/users/{}/deactivate", uuid::Uuid::new_v4());
    assert_eq!(app.post(&admin, &unknown, json!({})).await.status(), 404);
    let own = format!("/api/v1/admin/users/{}/deactivate", admin.id);
    let p = problem(app.post(&admin, &own, json!({})).await, 409).await;
    assert_eq!(p["code"], "cannot_deactivate_self", "{p}");
    assert_eq!(
        app.count("audit_log"),
        audit_before,
        "refusals write nothing"
    );

    let r = app.post(&admin, &path, json!({})).await;
    assert_eq!(r.status(), 200);
    let change: Value = r.json().await.unwrap();
    assert_eq!(change["changed"], true);
    assert_eq!(change["tokens_revoked"], 2, "{change}");
    assert_eq!(change["claims_released"], 1, "{change}");
    // Both sessions are dead, and the password no longer signs in.
    for u in [&clerk, &second] {
        assert_eq!(app.get(u, "/api/v1/me").await.status(), 401);
    }
    let r = app
        .post_anon(
            "/api/v1/auth/login",
            json!({ "username": "clerk", "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status(), 401);
    // The claimed task is back in the queue, and the release is in the filing's history.
    let g = app.filing(&builder, &id).await;
    let unclaimed = crate::concurrency::scalar(
        &app,
        &format!(
            "SELECT count(*) AS n FROM tasks WHERE filing_id = '{id}' AND closed_at IS NULL AND claimed_by IS NULL"
        ),
    );
    assert_eq!(unclaimed, 1, "{g}");
    let actions = audit_actions(&app);
    assert!(
        actions.contains(&"release_on_deactivation".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"deactivate_user".to_owned()),
        "{actions:?}"
    );

    // Asking again changes nothing and records nothing.
    let before = app.count("audit_log");
    let again: Value = app
        .post(&admin, &path, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["changed"], false);
    assert_eq!(app.count("audit_log"), before);

    // Reactivated, the person signs in again (the old sessions stay revoked).
    let back = format!("/api/v1/admin/users/{}/activate", clerk.id);
    let r: Value = app
        .post(&admin, &back, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (r["changed"].clone(), r["active"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(app.get(&clerk, "/api/v1/me").await.status(), 401);
    let clerk = app.relogin(&clerk).await;
    assert_eq!(app.get(&clerk, "/api/v1/me").await.status(), 200);
}

#[actix_web::test]
async fn a_deactivated_applicant_gets_no_mail() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let builder = app
        .mail_user(
            "builder",
            None,
            &[Role::Applicant],
            permits::domain::Lang::Zh,
        )
        .await;
    let f = submitted_permit(&app, &builder).await;
    let letters = app.outbox().len();
    assert!(letters >= 1, "the submission was acknowledged");
    let path = format!("/api/v1/admin/users/{}/deactivate", builder.id);
    assert_eq!(app.post(&admin, &path, json!({})).await.status(), 200);
    // Accepting the filing would tell the applicant; a deactivated one hears nothing.
    let g = app.filing(&clerk, f["id"].as_str().unwrap()).await;
    let g = app.act(&clerk, &g, "accept", json!({})).await;
    assert_eq!(g["state"]["code"], "review");
    assert_eq!(app.outbox().len(), letters);
    app.allow_unsent_mail();
}

/// Every audit action, in order.
fn audit_actions(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use permits::db::schema::audit_log::dsl;
    dsl::audit_log
        .order(dsl::id)
        .select(dsl::action)
        .load(&mut app.conn())
        .unwrap()
}

#[actix_web::test]
async fn people_change_their_own_password_and_admins_reset_a_lost_one() {
    let app = TestApp::spawn().await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let other_session = app.relogin(&clerk).await;
    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });

    // Every problem is named at its field, and nothing changes.
    let p = problem(
        app.post(
            &clerk,
            "/api/v1/me/password",
            change("not-my-password", "brand-new-secret-1"),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["path"], "current_password", "{p}");
    let p = problem(
        app.post(&clerk, "/api/v1/me/password", change(PASSWORD, "short"))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["path"], "new_password", "{p}");
    let p = problem(
        app.post(&clerk, "/api/v1/me/password", change(PASSWORD, PASSWORD))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "unchanged", "{p}");
    assert_eq!(app.get(&other_session, "/api/v1/me").await.status(), 200);

    let r = app
        .post(
            &clerk,
            "/api/v1/me/password",
            change(PASSWORD, "brand-new-secret-1"),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["sessions_ended"], 1, "{v}");
    // This session goes on; the other one ended; only the new password signs in.
    assert_eq!(app.get(&clerk, "/api/v1/me").await.status(), 200);
    assert_eq!(app.get(&other_session, "/api/v1/me").await.status(), 401);
    let login = |password: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({ "username": "clerk", "password": password }))
            .send()
    };
    assert_eq!(login(PASSWORD).await.unwrap().status(), 401);
    assert_eq!(login("brand-new-secret-1").await.unwrap().status(), 200);
    assert!(audit_actions(&app).contains(&"change_password".to_owned()));

    // The clerk forgets it; only an administrator resets it, and every session ends.
    let reset = format!("/api/v1/admin/users/{}/password", clerk.id);
    assert_eq!(
        app.post(&clerk, &reset, json!({ "password": "chosen-by-me-123" }))
            .await
            .status(),
        403
    );
    let p = problem(
        app.post(&admin, &reset, json!({ "password": "short" }))
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["path"], "password", "{p}");
    let unknown = format!("/api/v1/admin/users/{}/password", uuid::Uuid::new_v4());
    assert_eq!(
        app.post(&admin, &unknown, json!({ "password": "initial-secret-9" }))
            .await
            .status(),
        404
    );
    let r = app
        .post(&admin, &reset, json!({ "password": "initial-secret-9" }))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.get(&clerk, "/api/v1/me").await.status(), 401);
    assert_eq!(login("brand-new-secret-1").await.unwrap().status(), 401);
    assert_eq!(login("initial-secret-9").await.unwrap().status(), 200);
    assert!(audit_actions(&app).contains(&"reset_password".to_owned()));
    // Not one's own: that takes the current password.
    let own = format!("/api/v1/admin/users/{}/password", admin.id);
    let p = problem(
        app.post(&admin, &own, json!({ "password": "taken-over-123" }))
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "own_account", "{p}");
    assert_eq!(app.get(&admin, "/api/v1/me").await.status(), 200);
    // No password is written into the audit log.
    let leaked = crate::concurrency::scalar(
        &app,
        "SELECT count(*) AS n FROM audit_log WHERE entry LIKE '%secret%'",
    );
    assert_eq!(leaked, 0);
}

/// Two changes of one password sent at once (two sessions, each knowing the current password)
/// are held at the account's row until both have checked the password and wait there: the
/// first changes it, the second is told its current password is no longer right.
#[actix_web::test]
async fn of_two_password_changes_at_once_only_the_first_counts() {
    let app = TestApp::spawn().await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let other_session = app.relogin(&clerk).await;
    let gate = app.gate(&format!(
        "SELECT 1 FROM users WHERE id = '{}' FOR UPDATE",
        clerk.id
    ));
    let body = |new: &str| json!({ "current_password": PASSWORD, "new_password": new });
    let both = futures::future::join(
        app.post(&clerk, "/api/v1/me/password", body("first-new-secret-1")),
        app.post(
            &other_session,
            "/api/v1/me/password",
            body("second-new-secret-2"),
        ),
    );
    let ((a, b), ()) = futures::join!(both, gate.end_when_waiting(&app, 2, "ROLLBACK"));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    let (won, lost) = if a.status() == 200 { (a, b) } else { (b, a) };
    statuses.sort();
    assert_eq!(statuses, [200, 422]);
    let p = problem(lost, 422).await;
    assert_eq!(p["errors"][0]["code"], "wrong_password", "{p}");
    drop(won);
    let changes = audit_actions(&app)
        .iter()
        .filter(|a| *a == "change_password")
        .count();
    assert_eq!(changes, 1);
    // Exactly one of the two new passwords signs in.
    let mut signs_in = 0;
    for password in ["first-new-secret-1", "second-new-secret-2", PASSWORD] {
        let r = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({ "username": "clerk", "password": password }))
            .send()
            .await
            .unwrap();
        signs_in += usize::from(r.status() == 200);
    }
    assert_eq!(signs_in, 1);
}

/// A sign-in with the old password that was checked just before a password change committed
/// opens no session: the change ends every session, and one recorded after it would outlive it.
/// The sign-in is held at the account's row while the change (done here in SQL, as the service
/// does it: a new hash, every token ended) commits.
#[actix_web::test]
async fn a_sign_in_racing_a_password_change_opens_no_session() {
    let app = TestApp::spawn().await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let gate = app.gate(&format!(
        "SELECT 1 FROM users WHERE id = '{}' FOR UPDATE",
        clerk.id
    ));
    let sign_in = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": "clerk", "password": PASSWORD }))
        .send();
    // The change commits while the sign-in waits at the account.
    let change = format!(
        "UPDATE users SET password_hash = 'changed' WHERE id = '{0}';
         UPDATE api_tokens SET revoked_at = now() WHERE user_id = '{0}' AND revoked_at IS NULL;
         COMMIT",
        clerk.id
    );
    let (r, ()) = futures::join!(sign_in, gate.end_when_waiting(&app, 1, &change));
    let r = r.unwrap();
    assert_eq!(r.status(), 401, "{}", r.text().await.unwrap());
    let live = crate::concurrency::scalar(
        &app,
        &format!(
            "SELECT count(*) AS n FROM api_tokens WHERE user_id = '{}' AND revoked_at IS NULL",
            clerk.id
        ),
    );
    assert_eq!(live, 0, "no session outlives the change");
}

/// The service's own account (the actor of a lapsed permit) cannot sign in, and its role
/// cannot be granted to anyone.
#[actix_web::test]
async fn the_system_account_cannot_sign_in_and_its_role_cannot_be_granted() {
    let app = TestApp::spawn().await;
    for password in ["!", PASSWORD] {
        let r = app
            .post_anon(
                "/api/v1/auth/login",
                json!({ "username": "system", "password": password }),
            )
            .await;
        assert_eq!(r.status(), 401, "password {password:?}");
    }
    let admin = app
        .user("admin", "staff", Some("window"), &[Role::Admin])
        .await;
    let users = app.count("users");
    let r = app
        .post(
            &admin,
            "/api/v1/admin/users",
            json!({ "username": "robot", "password": PASSWORD, "display_name": "机器人",
                    "department": "window", "roles": ["clerk", "system"] }),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["path"], "roles", "{body}");
    assert_eq!(body["errors"][0]["code"], "system_role", "{body}");
    assert_eq!(app.count("users"), users, "no account made");
}
