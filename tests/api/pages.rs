//! The pages over plain HTTP (no browser): registration, stale actions, CSV export, escaping,
//! access. The browser journeys are in `browser.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use reqwest::Client;
use serde_json::json;

use crate::helpers::{FIRE_MATERIALS, TestApp, at, fire_form};

fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn csrf(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
    html[at..at + 32].to_owned()
}

/// A browser-like client signed in as `user`.
async fn signed_in(app: &TestApp, user: &str) -> Client {
    let c = client();
    let html = c
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf(&html).as_str()),
            ("username", user),
            ("password", crate::helpers::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in of {user}");
    c
}

async fn page(c: &Client, app: &TestApp, path: &str) -> (u16, String) {
    let r = c.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[actix_web::test]
async fn registration_shows_every_problem_in_place_then_signs_the_applicant_in() {
    let app = TestApp::spawn().await;
    let c = client();
    let (status, html) = page(&c, &app, "/register").await;
    assert_eq!(status, 200);
    let token = csrf(&html);
    let r = c
        .post(app.url("/register"))
        .form(&[
            ("_csrf", token.as_str()),
            ("kind", "company"),
            ("username", "Bad Name!"),
            ("display_name", "示范建设集团有限公司"),
            ("credit_code", "91350100M000100Y44"),
            ("password", "short"),
            ("password2", "other"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    for id in [
        "username-error",
        "credit_code-error",
        "password-error",
        "password2-error",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    assert!(html.contains("两次输入的密码不一致"));
    // What was typed is kept (except passwords).
    assert!(html.contains("value=\"示范建设集团有限公司\""));
    assert_eq!(app.count("users"), 0);

    let r = c
        .post(app.url("/register"))
        .form(&[
            ("_csrf", token.as_str()),
            ("kind", "company"),
            ("username", "builder"),
            ("display_name", "示范建设集团有限公司"),
            ("credit_code", "91350100M000100Y43"),
            ("email", "builder@example.test"),
            ("password", "correct-horse-battery"),
            ("password2", "correct-horse-battery"),
            ("lang", "zh"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/filings");
    let (status, html) = page(&c, &app, "/filings").await;
    assert_eq!(status, 200);
    assert!(html.contains("您还没有办件"));

    // The name is taken now.
    let other = client();
    let (_, html) = page(&other, &app, "/register").await;
    let r = other
        .post(app.url("/register"))
        .form(&[
            ("_csrf", csrf(&html).as_str()),
            ("kind", "person"),
            ("username", "builder"),
            ("display_name", "张三"),
            ("password", "correct-horse-battery"),
            ("password2", "correct-horse-battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("该用户名已被使用"));
}

#[actix_web::test]
async fn an_action_on_a_stale_page_says_someone_acted_first_and_shows_the_fresh_state() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let builder = app.applicant("builder").await;
    app.staff("clerk", "fire", &[Role::Clerk]).await;
    let f = app
        .create(&builder, "fire-acceptance-filing", fire_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &id, FIRE_MATERIALS).await;
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "submit", json!({})).await;
    let stale = f["version"].as_i64().unwrap();

    let clerk = signed_in(&app, "clerk").await;
    let (status, html) = page(&clerk, &app, &format!("/filings/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("value=\"issue_receipt\""));
    let token = csrf(&html);
    // Meanwhile the applicant withdraws.
    app.act(&builder, &f, "withdraw", json!({ "reason": "重新申报" }))
        .await;
    let r = clerk
        .post(app.url(&format!("/filings/{id}/actions/issue_receipt")))
        .form(&[("_csrf", token.as_str()), ("version", &stale.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(html.contains("办件已被他人处理或修改"), "{html}");
    assert!(
        html.contains("id=\"state\">已撤回<"),
        "the fresh state is shown"
    );
    assert!(
        !html.contains("value=\"issue_receipt\""),
        "and only what is allowed now"
    );
}

#[actix_web::test]
async fn what_applicants_type_is_escaped_on_every_page() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let builder = app.applicant("builder").await;
    let mut form = fire_form();
    form["project_name"] = json!("<script>alert(1)</script>");
    let f = app.create(&builder, "fire-acceptance-filing", form).await;
    let c = signed_in(&app, "builder").await;
    let (_, html) = page(&c, &app, &format!("/filings/{}", f["id"].as_str().unwrap())).await;
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
}

#[actix_web::test]
async fn managers_export_the_dashboard_as_csv_and_others_may_not_open_it() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    app.staff("manager", "fire", &[Role::Manager]).await;
    app.applicant("builder").await;
    let m = signed_in(&app, "manager").await;
    let (status, html) = page(&m, &app, "/dashboard").await;
    assert_eq!(status, 200);
    assert!(html.contains("时限监控"));
    let r = m.get(app.url("/dashboard/sla.csv")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("on_time_rate_statutory"),
        "{csv}"
    );

    let b = signed_in(&app, "builder").await;
    assert_eq!(page(&b, &app, "/dashboard").await.0, 403);
    assert_eq!(
        b.get(app.url("/dashboard/sla.csv"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(page(&b, &app, "/queue").await.0, 403);
    // Anonymous: to the sign-in page, coming back afterwards.
    let r = client().get(app.url("/queue")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=%2Fqueue");
}
