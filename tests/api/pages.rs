//! The pages over plain HTTP (no browser): registration, stale actions, CSV export, escaping,
//! access. The browser journeys are in `browser.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use reqwest::Client;
use serde_json::json;

use crate::helpers::{FIRE_MATERIALS, TestApp, at, fire_form};

pub(crate) fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn csrf(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").unwrap() + 20;
    html[at..at + 32].to_owned()
}

/// A browser-like client signed in as `user`.
pub(crate) async fn signed_in(app: &TestApp, user: &str) -> Client {
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

pub(crate) async fn page(c: &Client, app: &TestApp, path: &str) -> (u16, String) {
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
    // Only the service's own account.
    assert_eq!(app.count("users WHERE kind <> 'system'"), 0);

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
            .contains("按时办结率（法定时限）"),
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

/// The work report page: the period's sentences ready to paste, the figures by item, charts,
/// and the Excel and CSV downloads; a wrong period is named at its field; applicants may not
/// open it.
#[actix_web::test]
async fn managers_read_the_work_report_and_download_it_as_excel() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    app.staff("manager", "fire", &[Role::Manager]).await;
    let builder = app.applicant("builder").await;
    fire_filing(&app, &builder).await;
    fire_filing(&app, &builder).await;
    app.allow_unsent_mail();
    let m = signed_in(&app, "manager").await;
    let (status, html) = page(&m, &app, "/dashboard/work?from=2026-11-01&to=2026-11-30").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("受理建设工程竣工验收消防备案2件（其中0件抽中，0件未抽中，办理中2件）"),
        "{html}"
    );
    // The fire section's manager sees the fire items only, with the received chart.
    assert!(!html.contains("施工许可证核发"), "{html}");
    assert!(html.contains("受理件数（按事项）"));
    assert!(html.contains("<svg"));
    assert!(html.contains("/dashboard/work.xlsx?from=2026-11-01&amp;to=2026-11-30"));

    let r = m
        .get(app.url("/dashboard/work.xlsx?from=2026-11-01&to=2026-11-30"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, strings) = crate::reports::xlsx_text(&r.bytes().await.unwrap());
    assert!(strings.contains("办理中2件"), "{strings}");
    let r = m
        .get(app.url("/dashboard/work.csv?from=2026-11-01&to=2026-11-30"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csv = r.text().await.unwrap();
    assert!(csv.contains(",办理中,2,"), "{csv}");

    // A wrong period is named at its field, and nothing is exported.
    let (status, html) = page(&m, &app, "/dashboard/work?from=2026-02-30").await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"from-error\""), "{html}");
    let r = m
        .get(app.url("/dashboard/work.xlsx?from=2026-02-30"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let b = signed_in(&app, "builder").await;
    assert_eq!(page(&b, &app, "/dashboard/work").await.0, 403);
    assert_eq!(
        b.get(app.url("/dashboard/work.xlsx"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

/// Page titles are plain text (issue 18: the filing page's and the signed-in guide's tab titles
/// showed raw HTML); the guide's 在线申请 button is in the page, once.
#[actix_web::test]
async fn tab_titles_are_plain_text_and_the_apply_button_is_in_the_page() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(
            &builder,
            "construction-permit",
            crate::helpers::construction_form(),
        )
        .await;
    let b = signed_in(&app, "builder").await;
    let title = |html: &str| {
        let at = html.find("<title>").unwrap() + 7;
        html[at..at + html[at..].find("</title>").unwrap()].to_owned()
    };
    let (status, html) = page(&b, &app, &format!("/filings/{}", f["id"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    let t = title(&html);
    assert!(!t.contains('<') && !t.contains("&lt;"), "{t}");
    assert!(t.starts_with("建筑工程施工许可证核发 · "), "{t}");
    let (_, html) = page(&b, &app, "/items/construction-permit").await;
    let t = title(&html);
    assert!(!t.contains('<') && !t.contains("&lt;"), "{t}");
    let body = &html[html.find("<body").unwrap()..];
    assert!(
        body.contains("id=\"apply\""),
        "the apply button is in the page"
    );
}

/// The front database unreachable: the admin page says how many rows wait and why.
#[actix_web::test]
async fn the_admin_page_says_how_many_exchange_rows_wait_and_why() {
    let port = crate::helpers::free_port();
    let app = TestApp::spawn_with(move |s| {
        s.exchange.spgl_url = format!("postgres://postgres@127.0.0.1:{port}/spgl");
    })
    .await;
    at(&app, "2026-11-23");
    app.staff("admin", "window", &[Role::Admin]).await;
    let builder = app.applicant("builder").await;
    fire_filing(&app, &builder).await;
    app.allow_unsent_mail();
    let r = app.run_job("exchange").await;
    assert_eq!(r["exported"], 0, "{r}");
    let a = signed_in(&app, "admin").await;
    let (status, html) = page(&a, &app, "/admin").await;
    assert_eq!(status, 200);
    let section = &html[html.find("id=\"exchange\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(section.contains("待推送 1 条"), "{section}");
    assert!(section.contains("其中推送失败、等待重试 1"), "{section}");
    // Why, in words; the driver's own text (and its OS error) is in the log only.
    assert!(
        section.contains("最近一次失败：工改系统前置库拒绝连接"),
        "{section}"
    );
    assert!(!section.contains("connecting to the front database"));
    assert!(!section.contains("os error"), "{section}");
    // Where to, as configured.
    assert!(section.contains(&format!("127.0.0.1:{port}")), "{section}");
}

pub(crate) async fn post_form(
    c: &Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let r = c.post(app.url(path)).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// A fire filing submitted by `builder` on the app's clock; its JSON.
async fn fire_filing(app: &TestApp, builder: &crate::helpers::User) -> serde_json::Value {
    let f = app
        .create(builder, "fire-acceptance-filing", fire_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(builder, &id, FIRE_MATERIALS).await;
    let f = app.filing(builder, &id).await;
    app.act(builder, &f, "submit", json!({})).await
}

#[actix_web::test]
async fn a_manager_extends_the_limit_from_the_filing_page_where_the_item_allows_it() {
    // 行政许可法 §42 (20 days, +10): a test item, as no seeded item is extendable.
    let app = crate::helpers::spawn_with_extendable_licence(|_| {}).await;
    at(&app, "2026-11-23");
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    app.staff("head", "housing", &[Role::Manager]).await;
    let f = app
        .create(
            &resident,
            "extendable-licence",
            json!({ "subject": "测试事项" }),
        )
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&resident, &id, &["application"]).await;
    let f = app.filing(&resident, &id).await;
    app.act(&resident, &f, "submit", json!({})).await;
    let f = app.filing(&clerk, &id).await;
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    let version = f["version"].as_i64().unwrap().to_string();

    let m = signed_in(&app, "head").await;
    let (status, html) = page(&m, &app, &format!("/filings/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"extend\""), "the manager may extend");
    assert!(html.contains("max=\"10\""), "up to the item's 10 days");
    let token = csrf(&html);
    // Without reasons: refused, and the page says why.
    let (status, html) = post_form(
        &m,
        &app,
        &format!("/filings/{id}/extend"),
        &[
            ("_csrf", &token),
            ("version", &version),
            ("days", "3"),
            ("reason", ""),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("请写明延期理由"), "{html}");
    let (status, _) = post_form(
        &m,
        &app,
        &format!("/filings/{id}/extend"),
        &[
            ("_csrf", &token),
            ("version", &version),
            ("days", "4"),
            ("reason", "结构安全需专家论证，经负责人批准延长"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let f = app.filing(&clerk, &id).await;
    assert_eq!(f["clocks"]["statutory"]["extended"], 4);
    let (_, html) = page(&m, &app, &format!("/filings/{id}")).await;
    assert!(html.contains("max=\"6\""), "6 days are left to grant");
    // Neither the clerk nor the applicant is offered it.
    let c = signed_in(&app, "clerk").await;
    let (_, html) = page(&c, &app, &format!("/filings/{id}")).await;
    assert!(!html.contains("id=\"extend\""));
}

#[actix_web::test]
async fn a_manager_gives_a_task_only_to_staff_of_the_department_with_its_role() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let builder = app.applicant("builder").await;
    app.staff("manager", "fire", &[Role::Manager]).await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;
    let f = fire_filing(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let m = signed_in(&app, "manager").await;
    let (status, html) = page(&m, &app, &format!("/filings/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"assign\""));
    assert!(
        !html.contains("id=\"extend\""),
        "fire filings are not extended"
    );
    let token = csrf(&html);
    let task = app.filing(&clerk, &id).await["tasks"][0]["id"]
        .as_i64()
        .unwrap();
    let (status, _) = post_form(
        &m,
        &app,
        &format!("/tasks/{task}/assign"),
        &[("_csrf", &token), ("user_id", &clerk.id.to_string())],
    )
    .await;
    assert_eq!(status, 303);
    let f = app.filing(&clerk, &id).await;
    assert_eq!(f["tasks"][0]["claimed_by"], clerk.id.to_string());
    let other = app.staff("planner", "planning", &[Role::Clerk]).await;
    let (status, html) = post_form(
        &m,
        &app,
        &format!("/tasks/{task}/assign"),
        &[("_csrf", &token), ("user_id", &other.id.to_string())],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("该人员不属于本部门"), "{html}");
}

#[actix_web::test]
async fn the_applicant_rates_a_decided_filing_once() {
    let app = TestApp::spawn_with(crate::helpers::fire_draws(false)).await;
    at(&app, "2026-11-23");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;
    let f = fire_filing(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    // Not before it is decided.
    let r = app
        .post(
            &builder,
            &format!("/api/v1/filings/{id}/rating"),
            json!({ "score": 5 }),
        )
        .await;
    assert_eq!(r.status(), 409);
    // Drawn at once, and not selected: decided.
    app.act(&clerk, &f, "issue_receipt", json!({})).await;

    let c = signed_in(&app, "builder").await;
    let (_, html) = page(&c, &app, &format!("/filings/{id}")).await;
    assert!(html.contains("id=\"rating\""));
    let token = csrf(&html);
    let (status, html) = post_form(
        &c,
        &app,
        &format!("/filings/{id}/rating"),
        &[("_csrf", &token), ("score", "9")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("请选择 1 到 5 分"));
    let (status, _) = post_form(
        &c,
        &app,
        &format!("/filings/{id}/rating"),
        &[
            ("_csrf", &token),
            ("score", "4"),
            ("comment", "窗口服务周到"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = page(&c, &app, &format!("/filings/{id}")).await;
    assert!(html.contains("id=\"rated\">4<"), "{html}");
    assert_eq!(app.filing(&builder, &id).await["rating"], 4);
    // As the national 好差评 system codes it (GB/T 39046 A.8): 4 of 5 stars is 2 满意.
    assert_eq!(app.filing(&builder, &id).await["satisfaction_code"], 2);
    // A second rating from a page left open: the page again, saying it was rated already.
    let (status, html) = post_form(
        &c,
        &app,
        &format!("/filings/{id}/rating"),
        &[("_csrf", &token), ("score", "1")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(html.contains("您已评价过此办件。"), "{html}");
    assert_eq!(app.filing(&builder, &id).await["rating"], 4);
    // Once only, and only by the applicant.
    let r = app
        .post(
            &builder,
            &format!("/api/v1/filings/{id}/rating"),
            json!({ "score": 1 }),
        )
        .await;
    assert_eq!(r.status(), 409);
    let r = app
        .post(
            &clerk,
            &format!("/api/v1/filings/{id}/rating"),
            json!({ "score": 1 }),
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[actix_web::test]
async fn an_admin_creates_staff_loads_a_calendar_notice_and_verifies_the_audit_log() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    app.staff("admin", "window", &[Role::Admin]).await;
    app.staff("auditor", "window", &[Role::Auditor]).await;
    let a = signed_in(&app, "admin").await;
    let (status, html) = page(&a, &app, "/admin").await;
    assert_eq!(status, 200);
    let token = csrf(&html);
    // Every problem at once.
    let (status, html) = post_form(
        &a,
        &app,
        "/admin/users",
        &[
            ("_csrf", &token),
            ("username", "x"),
            ("department", "fire"),
            ("password", "short"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    for msg in [
        "用户名须为 3 到 64 个字符",
        "请填写姓名",
        "初始密码至少 10 个字符",
        "请至少选择一个角色",
    ] {
        assert!(html.contains(msg), "{msg}");
    }
    let (status, _) = post_form(
        &a,
        &app,
        "/admin/users",
        &[
            ("_csrf", &token),
            ("username", "inspector2"),
            ("display_name", "消防检查员 赵检"),
            ("department", "fire"),
            ("role", "inspector"),
            ("password", "correct-horse-battery"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    signed_in(&app, "inspector2").await;

    // The new inspector is deactivated from the users table (no button on one's own line),
    // and can no longer sign in; a form without the right token changes nothing.
    let (_, html) = page(&a, &app, "/admin").await;
    let admin_id = scalar_uuid(&app, "SELECT id AS u FROM users WHERE username = 'admin'");
    let inspector = scalar_uuid(
        &app,
        "SELECT id AS u FROM users WHERE username = 'inspector2'",
    );
    assert!(!html.contains(&format!("/admin/users/{admin_id}/active")));
    assert!(html.contains(&format!("/admin/users/{inspector}/active")));
    let path = format!("/admin/users/{inspector}/active");
    let (status, _) = post_form(&a, &app, &path, &[("_csrf", "forged"), ("active", "false")]).await;
    assert_eq!(status, 403);
    let (status, _) = post_form(&a, &app, &path, &[("_csrf", &token), ("active", "false")]).await;
    assert_eq!(status, 303);
    let r = client()
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": "inspector2", "password": "correct-horse-battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (_, html) = page(&a, &app, "/admin").await;
    assert!(html.contains("aria-label=\"启用 inspector2\""), "{html}");

    // The admin changes their own password on the page: a wrong current one is named, and
    // nothing changes; the right one changes it.
    let (status, html) = page(&a, &app, "/account/password").await;
    assert_eq!(status, 200);
    let token = csrf(&html);
    let (status, html) = post_form(
        &a,
        &app,
        "/account/password",
        &[
            ("_csrf", &token),
            ("current_password", "wrong-one"),
            ("new_password", "another-good-one"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("当前密码不正确"), "{html}");
    let (status, html) = post_form(
        &a,
        &app,
        "/account/password",
        &[
            ("_csrf", &token),
            ("current_password", "correct-horse-battery"),
            ("new_password", "another-good-one"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("密码已修改"), "{html}");
    assert_eq!(
        page(&a, &app, "/admin").await.0,
        200,
        "this session goes on"
    );

    // The 2027 calendar: a bad date is shown; a good notice is loaded.
    let (status, html) = page(&a, &app, "/admin/calendar?year=2027").await;
    assert_eq!(status, 200);
    assert!(html.contains("尚未公布"));
    let (status, html) = post_form(
        &a,
        &app,
        "/admin/calendar/2027",
        &[
            ("_csrf", &token),
            ("notice", "国办发明电〔2026〕X号"),
            ("holidays", "2027-02-30"),
            ("workdays", ""),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("未载入"));
    let (status, html) = post_form(
        &a,
        &app,
        "/admin/calendar/2027",
        &[
            ("_csrf", &token),
            ("notice", "国办发明电〔2026〕X号"),
            ("holidays", "2027-01-01\n2027-02-06..2027-02-13"),
            ("workdays", "2027-02-14"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("已载入 2027 年放假安排"), "{html}");
    assert!(html.contains("调休上班"));

    // The auditor verifies (a button on the page); a clerk may not.
    let au = signed_in(&app, "auditor").await;
    let (status, html) = page(&au, &app, "/admin/audit").await;
    assert_eq!(status, 200);
    assert!(html.contains("尚未封存"), "{html}");
    let (status, html) =
        post_form(&au, &app, "/admin/audit/verify", &[("_csrf", &csrf(&html))]).await;
    assert_eq!(status, 200);
    assert!(html.contains("校验通过"));
    // After a seal the page shows its hash, to be kept outside the system.
    let sealed = app.run_job("audit_seal").await;
    let hash = sealed["last_seal"]["hash"].as_str().unwrap().to_owned();
    let (_, html) = page(&au, &app, "/admin/audit").await;
    assert!(
        html.contains(&format!("<pre id=\"seal-hash\">{hash}</pre>")),
        "{html}"
    );
    assert_eq!(page(&au, &app, "/admin").await.0, 403);
}

/// The numbers of the filings a drill-down page lists, in order.
fn listed(html: &str) -> Vec<String> {
    let table = match html.find("id=\"filings\"") {
        Some(at) => &html[at..],
        None => return Vec::new(),
    };
    table
        .split("<a href=\"/filings/")
        .skip(1)
        .map(|s| {
            let start = s.find('>').unwrap() + 1;
            let end = s.find("</a>").unwrap();
            s[start..end].to_owned()
        })
        .collect()
}

#[actix_web::test]
async fn the_dashboard_figures_lead_to_the_filings_behind_them_within_the_viewers_department() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    // Two fire filings submitted three weeks ago are overdue today; one submitted today is not.
    at(&app, "2026-11-02");
    let late: Vec<String> = [
        fire_filing(&app, &builder).await,
        fire_filing(&app, &builder).await,
    ]
    .iter()
    .map(|f| f["number"].as_str().unwrap().to_owned())
    .collect();
    at(&app, "2026-11-23");
    let fresh = fire_filing(&app, &builder).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    app.staff("fire_head", "fire", &[Role::Manager]).await;
    app.staff("housing_head", "housing", &[Role::Manager]).await;
    app.staff("admin", "window", &[Role::Admin]).await;

    let m = signed_in(&app, "fire_head").await;
    let (status, html) = page(&m, &app, "/dashboard").await;
    assert_eq!(status, 200);
    // The overdue count by item links to its list, and the new charts are drawn.
    let links = html.replace("&#38;", "&").replace("&amp;", "&");
    assert!(
        links.contains(
            "/dashboard/filings?item=fire-acceptance-filing&department=fire&due=overdue\">2</a>"
        ),
        "{html}"
    );
    assert!(links.contains("/dashboard/filings?department=fire&due=open\">3</a>"));
    assert!(html.contains("已超期（按事项）"));
    assert!(html.contains("已超期（按部门）"));
    assert!(html.contains("<rect"), "bars drawn");
    // A manager does not choose among departments.
    assert!(!html.contains("id=\"department\""));

    let (status, html) = page(
        &m,
        &app,
        "/dashboard/filings?item=fire-acceptance-filing&department=fire&due=overdue",
    )
    .await;
    assert_eq!(status, 200);
    let mut got = listed(&html);
    got.sort();
    let mut want = late.clone();
    want.sort();
    assert_eq!(got, want, "exactly the overdue ones");
    assert!(html.contains("共 2 件。"), "{html}");
    let (_, html) = page(&m, &app, "/dashboard/filings?due=open").await;
    let open = listed(&html);
    assert_eq!(open.len(), 3, "{open:?}");
    assert!(html.contains("共 3 件。"), "{html}");
    assert!(open.contains(&fresh));
    assert_eq!(open.last(), Some(&fresh), "most urgent first");

    // Another department's manager sees none of it, and may not ask for it.
    let h = signed_in(&app, "housing_head").await;
    let (status, html) = page(&h, &app, "/dashboard/filings?due=open").await;
    assert_eq!(status, 200);
    assert!(listed(&html).is_empty(), "{html}");
    let (status, _) = page(&h, &app, "/dashboard/filings?department=fire&due=open").await;
    assert_eq!(status, 403);

    // An administrator sees every department and may choose one.
    let a = signed_in(&app, "admin").await;
    let (status, html) = page(&a, &app, "/dashboard").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"department\""));
    assert!(html.contains("消防审验科"), "departments by name");
    let (_, html) = page(&a, &app, "/dashboard/filings?department=housing&due=open").await;
    assert!(listed(&html).is_empty());
    let (_, html) = page(&a, &app, "/dashboard/filings?department=fire&due=overdue").await;
    assert_eq!(listed(&html).len(), 2);

    // Applicants may not look.
    let b = signed_in(&app, "builder").await;
    assert_eq!(page(&b, &app, "/dashboard/filings").await.0, 403);
}

#[actix_web::test]
async fn a_wrong_dashboard_period_is_named_at_its_field_and_nothing_is_exported() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    app.staff("manager", "fire", &[Role::Manager]).await;
    let m = signed_in(&app, "manager").await;
    let (status, html) = page(&m, &app, "/dashboard?from=2026-13-01&to=2026-11-23").await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"from-error\""), "{html}");
    assert!(html.contains("请填写有效日期，如 2026-12-04。"));
    assert!(
        html.contains("value=\"2026-13-01\""),
        "what was typed is kept"
    );
    let (status, html) = page(&m, &app, "/dashboard?from=2026-11-20&to=2026-11-01").await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"to-error\""));
    assert!(html.contains("结束日期不能早于开始日期。"));
    let (status, _) = page(&m, &app, "/dashboard?from=2026-11-01&to=2026-11-20").await;
    assert_eq!(status, 200);
    let r = m
        .get(app.url("/dashboard/sla.csv?from=nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = m
        .get(app.url("/dashboard/sla.csv?from=2026-11-01&to=2026-11-20"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[actix_web::test]
async fn a_pdf_may_be_previewed_in_place_and_anything_else_is_always_a_download() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-23");
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "fire-acceptance-filing", fire_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &id, &["filing_form"]).await;
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&[0; 64]);
    let r = app
        .upload(&builder, &id, "as_built_drawings", "drawings.zip", zip)
        .await;
    assert_eq!(r.status(), 201);

    let b = signed_in(&app, "builder").await;
    let (status, html) = page(&b, &app, &format!("/filings/{id}")).await;
    assert_eq!(status, 200);
    let link = |name: &str| {
        let at = html.find(&format!(">{name}</a>")).unwrap();
        let start = html[..at].rfind("href=\"").unwrap() + 6;
        let end = start + html[start..].find('"').unwrap();
        html[start..end].to_owned()
    };
    let pdf = link("filing_form.pdf");
    let zip = link("drawings.zip");
    // Only the PDF is offered a preview.
    assert!(html.contains(&format!("{pdf}?preview=1")), "{html}");
    assert!(!html.contains(&format!("{zip}?preview=1")));

    let get = |path: String| {
        let b = b.clone();
        let url = app.url(&path);
        async move { b.get(url).send().await.unwrap() }
    };
    let r = get(format!("{pdf}?preview=1")).await;
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("inline"), "{disposition}");
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
    let r = get(pdf.clone()).await;
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    // Asking to preview a ZIP still downloads it.
    let r = get(format!("{zip}?preview=1")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    // Someone else's file: not found, preview or not.
    app.applicant("other").await;
    let o = signed_in(&app, "other").await;
    let r = o
        .get(app.url(&format!("{pdf}?preview=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

fn scalar_uuid(app: &TestApp, sql: &str) -> uuid::Uuid {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct U {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        u: uuid::Uuid,
    }
    diesel::sql_query(sql)
        .get_result::<U>(&mut app.conn())
        .unwrap()
        .u
}

#[actix_web::test]
async fn a_bad_query_parameter_is_a_page_that_names_it() {
    let app = TestApp::spawn().await;
    app.staff("clerk", "fire", &[Role::Clerk]).await;
    let clerk = signed_in(&app, "clerk").await;
    for (path, param) in [
        ("/queue?per=abc", "per"),
        ("/queue?per=1&empty=300", "empty"),
    ] {
        let r = clerk.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/html"), "{path}: a page, not {ct}");
        let html = r.text().await.unwrap();
        assert!(html.contains("地址有误"), "{path}: {html}");
        assert!(html.contains(param), "{path}: names {param}: {html}");
    }
    let (status, _) = page(&clerk, &app, "/queue?per=20").await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn a_form_with_a_control_character_is_a_page_that_names_the_field() {
    let app = TestApp::spawn().await;
    let c = client();
    let (_, html) = page(&c, &app, "/login").await;
    let users = app.count("users");
    for (path, body) in [
        (
            "/login",
            format!("_csrf={}&username=bu%00ilder&password=x&next=", csrf(&html)),
        ),
        (
            "/register",
            format!(
                "_csrf={}&kind=person&username=nul&display_name=a%01b&password=long-enough-password",
                csrf(&html)
            ),
        ),
    ] {
        let r = c
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains("控制字符"), "{path}: {html}");
    }
    assert_eq!(app.count("users"), users, "no account made");
}

/// The new-draft form carries a key of its own: the form sent twice (a second press, a resend)
/// makes one draft; the form changed and sent again (Back, edit, Save) makes another.
#[actix_web::test]
async fn the_new_draft_form_sent_twice_makes_one_draft() {
    let app = TestApp::spawn().await;
    app.applicant("builder").await;
    let c = signed_in(&app, "builder").await;
    let (status, html) = page(&c, &app, "/filings/new/fire-acceptance-filing").await;
    assert_eq!(status, 200);
    let at = html
        .find("name=\"_key\" value=\"")
        .expect("the form has a key")
        + 19;
    let key = html[at..at + 36].to_owned();
    let (_, other) = page(&c, &app, "/filings/new/fire-acceptance-filing").await;
    assert!(!other.contains(&key), "each form its own key");
    let send = |name: &'static str| {
        let (c, html, key) = (c.clone(), html.clone(), key.clone());
        let url = app.url("/filings/new/fire-acceptance-filing");
        async move {
            let r = c
                .post(url)
                .form(&[
                    ("_csrf", csrf(&html).as_str()),
                    ("_key", key.as_str()),
                    ("project_name", name),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
            r.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    let before = app.count("filings");
    let first = send("示范工程").await;
    assert_eq!(send("示范工程").await, first);
    assert_eq!(app.count("filings"), before + 1);
    let changed = send("另一个工程").await;
    assert_ne!(changed, first);
    assert_eq!(app.count("filings"), before + 2);
}

/// A joint-review department refuses from the filing page: the page asks for the reasons a
/// refusal needs (the action declares them), refuses a refusal without them at the field, and
/// once the filing is decided every department's answer stays on it, in the API and on the
/// page, for the applicant as for staff.
#[actix_web::test]
async fn a_department_refuses_from_the_page_with_reasons_and_the_answers_stay_on_the_decided_filing()
 {
    use crate::helpers::{ELEVATOR_MATERIALS, elevator_form};
    let app = TestApp::spawn().await;
    at(&app, "2026-11-02");
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;
    let f = app
        .create(&resident, "elevator-installation", elevator_form(10, 12))
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&resident, &id, ELEVATOR_MATERIALS).await;
    let f = app.filing(&resident, &id).await;
    let f = app.act(&resident, &f, "submit", json!({})).await;
    let f = app.act(&window, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "forwarding");
    let housing = app.staff("housing-clerk", "housing", &[Role::Clerk]).await;
    let f = app
        .act(&housing, &f, "forward", json!({ "opinion": "同意转送" }))
        .await;
    assert_eq!(f["state"]["code"], "joint_review");
    let departments: Vec<String> = f["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["department"].as_str().unwrap().to_owned())
        .collect();
    let (last, first) = departments.split_last().unwrap();
    let mut f = f;
    for d in first {
        let reviewer = app
            .staff(&format!("{d}-reviewer"), d, &[Role::Reviewer])
            .await;
        f = app
            .act(
                &reviewer,
                &f,
                "review",
                json!({ "verdict": "approve", "opinion": format!("{d}：同意") }),
            )
            .await;
    }
    assert_eq!(f["state"]["code"], "joint_review");

    // The last department's reviewer works from the page.
    app.staff(&format!("{last}-reviewer"), last, &[Role::Reviewer])
        .await;
    let c = signed_in(&app, &format!("{last}-reviewer")).await;
    let (status, html) = page(&c, &app, &format!("/filings/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"verdict\""), "{html}");
    assert!(
        html.contains("不同意的理由（结论为不同意时必填）"),
        "the review form asks for the reasons of a refusal"
    );
    let version = f["version"].as_i64().unwrap().to_string();
    let path = format!("/filings/{id}/actions/review");
    let (status, html) = post_form(
        &c,
        &app,
        &path,
        &[
            ("_csrf", &csrf(&html)),
            ("version", &version),
            ("verdict", "refuse"),
            ("opinion", "不符合条件"),
        ],
    )
    .await;
    assert_eq!(status, 422, "a refusal without reasons is refused");
    assert!(html.contains("请填写不同意的理由"), "{html}");
    let (status, _) = post_form(
        &c,
        &app,
        &path,
        &[
            ("_csrf", &csrf(&html)),
            ("version", &version),
            ("verdict", "refuse"),
            ("opinion", "不符合条件"),
            ("reason", "电梯井占用消防通道"),
        ],
    )
    .await;
    assert_eq!(status, 303);

    // Decided: the answers are still on the filing, each with its opinion, the refusal with
    // its reasons, and none pending.
    let resident = app.relogin(&resident).await;
    let f = app.filing(&resident, &id).await;
    assert_eq!(f["state"]["kind"], "refused");
    let reviews = f["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), departments.len(), "{reviews:?}");
    assert!(reviews.iter().all(|r| !r["verdict"].is_null()));
    let refusal = reviews.iter().find(|r| r["department"] == *last).unwrap();
    assert_eq!(refusal["verdict"], "refuse");
    assert_eq!(refusal["reason"], "电梯井占用消防通道");
    let (_, html) = page(
        &signed_in(&app, "resident").await,
        &app,
        &format!("/filings/{id}"),
    )
    .await;
    assert!(html.contains("id=\"reviews\""));
    assert!(html.contains("电梯井占用消防通道"));
    assert_eq!(html.matches("review-approve").count(), first.len());
    assert_eq!(html.matches("review-refuse").count(), 1);
}

/// A table field on the pages: typed one row per line (cells separated by commas, or by tabs as
/// pasted from a spreadsheet), every bad cell told by row and column in Chinese with what was
/// typed kept; the filing page shows the table under its column headers, and the edit form gives
/// the rows back as they were typed.
#[actix_web::test]
async fn a_roster_is_typed_one_row_per_line_and_shown_as_a_table_under_its_headers() {
    let app = TestApp::spawn().await;
    app.user("resident", "person", None, &[Role::Applicant])
        .await;
    let c = signed_in(&app, "resident").await;
    let new = "/filings/new/elevator-installation";
    let (status, html) = page(&c, &app, new).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<textarea id=\"owners\" name=\"owners\""),
        "{html}"
    );
    assert!(
        html.contains(
            "依次填写：房号、业主（产权人）、专有部分面积（㎡）、表决意见（同意/反对/弃权/未参与）、已签字（是/否）"
        ),
        "the help gives the columns in order"
    );

    let bad = "101, 张三, 89.5, 同意, 是\n\
               102, 李四, 八十, 同意, 是\n\
               201, 王五, 80, 赞成, 否\n\
               202, 赵六, 80, 同意, 是, 多余\n";
    let (status, html) =
        post_form(&c, &app, new, &[("_csrf", &csrf(&html)), ("owners", bad)]).await;
    assert_eq!(status, 422);
    for message in [
        "「业主名册及表决情况」第 2 行：「专有部分面积（㎡）」不是有效的数字",
        "「业主名册及表决情况」第 3 行：「表决意见」只能选择：同意、反对、弃权、未参与",
        "「业主名册及表决情况」第 4 行应依次填写：房号、业主（产权人）、专有部分面积（㎡）、表决意见、已签字",
    ] {
        assert!(html.contains(message), "{message} missing: {html}");
    }
    assert!(html.contains("id=\"owners-error\""));
    // What was typed is kept, the unreadable cells as typed.
    assert!(
        html.contains(
            "101, 张三, 89.5, 同意, 是\n102, 李四, 八十, 同意, 是\n201, 王五, 80, 赞成, 否\n\
             202, 赵六, 80, 同意, 是, 多余"
        ),
        "{html}"
    );
    assert_eq!(app.count("filings"), 0);

    // Tabs from a spreadsheet, option values or labels, a co-owned unit with a comma.
    let good = "101\t张三\t89.5\t同意\t是\n\
                102, 李四, 80.5, agree, yes\n\
                201\t张三，李四\t70\t反对\t否\n";
    let r = c
        .post(app.url(new))
        .form(&[("_csrf", csrf(&html).as_str()), ("owners", good)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let filing = r.headers()["location"].to_str().unwrap().to_owned();
    let (status, html) = page(&c, &app, &filing).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"fact-owners\""), "{html}");
    assert!(html.contains("<caption>共 3 行</caption>"), "{html}");
    for header in [
        "房号",
        "业主（产权人）",
        "专有部分面积（㎡）",
        "表决意见",
        "已签字",
    ] {
        assert!(
            html.contains(&format!("<th scope=\"col\">{header}</th>")),
            "{header}"
        );
    }
    assert!(
        html.contains("<tr><td data-label=\"房号：\">102</td><td data-label=\"业主（产权人）：\">李四</td><td data-label=\"专有部分面积（㎡）：\">80.5</td><td data-label=\"表决意见：\">同意</td><td data-label=\"已签字：\">是</td></tr>")
    );
    let (_, html) = page(&c, &app, &format!("{filing}/edit")).await;
    assert!(
        html.contains(
            "101, 张三, 89.5, 同意, 是\n102, 李四, 80.5, 同意, 是\n201\t张三，李四\t70\t反对\t否</textarea>"
        ),
        "{html}"
    );
}

/// The filing page shows what the item derives and what the applicant owes: a late fire filing
/// carries its flag, and an issued permit the three months to start works with the extensions.
#[actix_web::test]
async fn the_filing_page_shows_a_late_filing_and_the_start_of_works_deadline() {
    let app = TestApp::spawn().await;
    at(&app, "2026-11-12");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let mut form = crate::helpers::fire_form();
    form["completion_acceptance_date"] = json!("2026-11-02");
    let f = app.create(&builder, "fire-acceptance-filing", form).await;
    let fire = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &fire, crate::helpers::FIRE_MATERIALS)
        .await;
    let f = app.filing(&builder, &fire).await;
    app.act(&builder, &f, "submit", json!({})).await;

    let f = app
        .create(
            &builder,
            "construction-permit",
            crate::helpers::construction_form(),
        )
        .await;
    let permit = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &permit, crate::helpers::CONSTRUCTION_MATERIALS)
        .await;
    let f = app.filing(&builder, &permit).await;
    app.act(&builder, &f, "submit", json!({})).await;
    let f = app.filing(&clerk, &permit).await;
    app.act(&clerk, &f, "accept", json!({})).await;
    let f = app.filing(&reviewer, &permit).await;
    app.act(&reviewer, &f, "approve", json!({ "opinion": "同意" }))
        .await;

    let c = signed_in(&app, "builder").await;
    let (status, html) = page(&c, &app, &format!("/filings/{fire}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(
            "<span class=\"badge red\">逾期备案（竣工验收合格之日起超过5个工作日）</span>"
        ),
        "{html}"
    );
    let (status, html) = page(&c, &app, &format!("/filings/{permit}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("id=\"flags\""));
    // Issued on Thursday 12 November 2026: three months to Friday 12 February 2027.
    assert!(
        html.contains("<td>自领取施工许可证之日起三个月内开工</td><td data-label=\"截止日期：\">2027-02-12</td>"),
        "{html}"
    );
    assert!(html.contains("已延期 0 次，最多 2 次"), "{html}");
    // The decided permit's clocks are its record, with no days left to count.
    assert!(
        html.contains("<td data-label=\"截止日期：\">2026-11-12 办结</td><td><span class=\"badge green\">按时办结</span></td><td>用时 0 个工作日（时限 7 个工作日），暂停 0 个工作日</td>"),
        "{html}"
    );
    assert!(!html.contains("剩余"), "{html}");
    assert!(html.contains("报告开工") && html.contains("申请延期开工"));
}

/// The clerk corrects the declared class from the filing page: the receipt's form offers the
/// class with the builder's value chosen, and what is posted is written.
#[actix_web::test]
async fn the_clerk_corrects_the_class_on_the_receipt_from_the_page() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    app.staff("clerk", "fire", &[Role::Clerk]).await;
    let f = app
        .create(
            &builder,
            "fire-acceptance-filing",
            crate::helpers::fire_form(),
        )
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &id, crate::helpers::FIRE_MATERIALS)
        .await;
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "submit", json!({})).await;

    let c = signed_in(&app, "clerk").await;
    let (status, html) = page(&c, &app, &format!("/filings/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<select id=\"issue_receipt-set-project_class\" name=\"set.project_class\"><option value=\"general\" selected>一般项目</option><option value=\"key\">重点项目</option></select>"),
        "{html}"
    );
    let token = csrf(&html);
    let version = f["version"].as_i64().unwrap().to_string();
    let (status, _) = post_form(
        &c,
        &app,
        &format!("/filings/{id}/actions/issue_receipt"),
        &[
            ("_csrf", &token),
            ("version", &version),
            ("set.project_class", "key"),
        ],
    )
    .await;
    assert!(status == 200 || status == 303, "{status}");
    let f = app.filing(&builder, &id).await;
    assert!(f["draw"]["selected"].is_boolean(), "filed and drawn: {f}");
    assert_eq!(f["form"]["project_class"], "key");
}

/// "我的办件" (issue 18 #1): every row links to its filing and names its project; the list is
/// paged, searched by number or project, and filtered to what waits on the applicant.
#[actix_web::test]
async fn my_filings_are_links_with_their_project_paged_searched_and_filtered() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("list_builder").await;
    let mut ids = Vec::new();
    for n in 0..24 {
        let mut form = fire_form();
        form["project_name"] = json!(format!("示范项目{n:02}号楼"));
        let f = app.create(&builder, "fire-acceptance-filing", form).await;
        ids.push(f["id"].as_str().unwrap().to_owned());
        app.clock.advance(chrono::Duration::minutes(1));
    }
    // One more, submitted: it waits on the bureau, not on the applicant.
    let mut form = fire_form();
    form["project_name"] = json!("滨江独特综合体");
    let sent = app.create(&builder, "fire-acceptance-filing", form).await;
    let sent_id = sent["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &sent_id, FIRE_MATERIALS).await;
    let sent = app.filing(&builder, &sent_id).await;
    let sent = app.act(&builder, &sent, "submit", json!({})).await;
    let number = sent["number"].as_str().unwrap().to_owned();

    let c = signed_in(&app, "list_builder").await;
    let rows = |html: &str| html.matches("<tr>\n  <td><a href=\"/filings/").count();
    let (status, first) = page(&c, &app, "/filings").await;
    assert_eq!(status, 200);
    assert_eq!(rows(&first), 20, "{first}");
    assert!(first.contains("共 25 件"), "{first}");
    // Newest first: the submitted one leads, linked by number and by project.
    assert!(first.contains(&format!("<a href=\"/filings/{sent_id}\">{number}</a>")));
    assert!(first.contains(&format!(
        "<a href=\"/filings/{sent_id}\">滨江独特综合体</a>"
    )));
    assert!(first.contains("rel=\"next\""));
    let (_, second) = page(&c, &app, "/filings?page=2").await;
    assert_eq!(rows(&second), 5, "{second}");
    assert!(second.contains(&format!("/filings/{}", ids[0])));
    assert!(second.contains("rel=\"prev\"") && !second.contains("rel=\"next\""));

    // Found by project name and by number.
    for q in ["%E7%8B%AC%E7%89%B9", number.as_str()] {
        let (_, found) = page(&c, &app, &format!("/filings?q={q}")).await;
        assert_eq!(rows(&found), 1, "{q}: {found}");
        assert!(found.contains(&sent_id));
    }
    // A search's % is a character, not a wildcard.
    let (_, none) = page(&c, &app, "/filings?q=%25%25%25").await;
    assert!(none.contains("id=\"none-found\""), "{none}");

    // Waiting on me: the 24 drafts (to submit), not the submitted one; open has all 25.
    let (_, waiting) = page(&c, &app, "/filings?show=waiting&page=2").await;
    assert_eq!(rows(&waiting), 4, "{waiting}");
    assert!(waiting.contains("共 24 件"));
    assert!(!waiting.contains(&sent_id));
    let (_, open) = page(&c, &app, "/filings?show=open").await;
    assert!(open.contains("共 25 件"));
    let (_, closed) = page(&c, &app, "/filings?show=closed").await;
    assert!(closed.contains("id=\"none-found\""));
    // A page past the end, or not a number, is the first or an empty one, never an error.
    let (status, _) = page(&c, &app, "/filings?page=abc").await;
    assert_eq!(status, 200);
}

/// Staff land on their workbench after signing in, not on the public home page (issue 18);
/// a page they were sent from still wins.
#[actix_web::test]
async fn each_person_lands_where_their_day_starts_after_signing_in() {
    let app = TestApp::spawn().await;
    app.applicant("land_builder").await;
    app.staff("land_clerk", "fire", &[Role::Clerk]).await;
    app.staff("land_manager", "fire", &[Role::Manager]).await;
    app.staff("land_admin", "fire", &[Role::Admin]).await;
    app.staff("land_auditor", "fire", &[Role::Auditor]).await;
    for (user, to) in [
        ("land_builder", "/filings"),
        ("land_clerk", "/queue"),
        ("land_manager", "/dashboard"),
        ("land_admin", "/admin"),
        ("land_auditor", "/admin/audit"),
    ] {
        assert_eq!(landing(&app, user, "").await, to, "{user}");
    }
    assert_eq!(
        landing(&app, "land_clerk", "/calculator").await,
        "/calculator"
    );
}

/// Where signing in through the page sends `user`, coming from `next`.
async fn landing(app: &TestApp, user: &str, next: &str) -> String {
    let c = client();
    let (_, html) = page(&c, app, "/login").await;
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf(&html).as_str()),
            ("username", user),
            ("password", crate::helpers::PASSWORD),
            ("next", next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{user}");
    r.headers()["location"].to_str().unwrap().to_owned()
}
