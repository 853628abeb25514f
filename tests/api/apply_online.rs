//! 在线办理 (issue 18, smaller items): the home page's item cards and the guide offer a visitor
//! who is not signed in a way to apply — sign in or register, then straight to the new filing's
//! form — and a signed-in applicant the form itself; staff are not offered it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;

use crate::helpers::TestApp;
use crate::pages::{client, csrf, page, signed_in};

/// The `href` of the element with this id, entities decoded.
fn href(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    let h = tag.find("href=\"")? + 6;
    let value = &tag[h..h + tag[h..].find('"')?];
    Some(decoded(value))
}

fn decoded(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#61;", "=")
        .replace("&amp;", "&")
}

const FORM: &str = "/filings/new/construction-permit";
const TO_FORM: &str = "next=%2Ffilings%2Fnew%2Fconstruction-permit";

#[actix_web::test]
async fn a_visitor_applies_online_from_a_card_signs_in_and_lands_on_the_new_filings_form() {
    let app = TestApp::spawn().await;
    app.applicant("builder").await;
    let c = client();

    // The home page's card and the guide offer it, leading to sign in (or register) first.
    let (_, home) = page(&c, &app, "/").await;
    let to_login = format!("/login?{TO_FORM}");
    assert_eq!(
        href(&home, "apply-construction-permit").as_deref(),
        Some(to_login.as_str()),
        "{home}"
    );
    assert!(home.contains(">在线办理</a>"), "{home}");
    assert!(
        decoded(&home).contains(&format!("href=\"/register?{TO_FORM}\">没有账号？注册</a>")),
        "{home}"
    );
    for id in ["apply", "apply-end"] {
        let (_, guide) = page(&c, &app, "/items/construction-permit").await;
        assert_eq!(href(&guide, id).as_deref(), Some(to_login.as_str()), "{id}");
    }

    // Sign-in comes back to the form; the sign-in page offers registering on the same way.
    let (status, login) = page(&c, &app, &to_login).await;
    assert_eq!(status, 200);
    assert!(
        decoded(&login).contains(&format!("/register?{TO_FORM}")),
        "registering keeps where to go: {login}"
    );
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("_csrf", csrf(&login).as_str()),
            ("username", "builder"),
            ("password", "correct-horse-battery"),
            ("next", FORM),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], FORM);
    let (status, form) = page(&c, &app, FORM).await;
    assert_eq!(status, 200, "{form}");
    assert!(
        form.contains("action=\"/filings"),
        "the new filing's form: {form}"
    );

    // Signed in as an applicant: the card and the guide lead to the form itself.
    let (_, home) = page(&c, &app, "/").await;
    assert_eq!(
        href(&home, "apply-construction-permit").as_deref(),
        Some(FORM)
    );
    assert!(
        !decoded(&home).contains("/register?next"),
        "no registering offered: {home}"
    );
    let (_, guide) = page(&c, &app, "/items/construction-permit").await;
    assert_eq!(href(&guide, "apply").as_deref(), Some(FORM));

    // In English.
    c.get(app.url("/lang/en")).send().await.unwrap();
    let (_, home) = page(&c, &app, "/").await;
    assert!(home.contains(">Apply online</a>"), "{home}");
}

#[actix_web::test]
async fn a_visitor_who_registers_from_the_guide_lands_on_the_new_filings_form() {
    let app = TestApp::spawn().await;
    let c = client();
    let (_, html) = page(&c, &app, &format!("/register?{TO_FORM}")).await;
    assert!(html.contains("name=\"next\""), "{html}");
    let r = c
        .post(app.url("/register"))
        .form(&[
            ("_csrf", csrf(&html).as_str()),
            ("kind", "company"),
            ("username", "newbuilder"),
            ("display_name", "示范建设集团有限公司"),
            ("credit_code", "91350100M000100Y43"),
            ("password", "correct-horse-battery"),
            ("password2", "correct-horse-battery"),
            ("lang", "zh"),
            ("next", FORM),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], FORM);
    // Another host is never where registering leads.
    let (_, html) = page(&client(), &app, "/register?next=//evil.example/").await;
    assert!(
        html.contains("<input type=\"hidden\" name=\"next\" value=\"\">"),
        "{html}"
    );
}

#[actix_web::test]
async fn staff_are_not_offered_to_apply_online() {
    let app = TestApp::spawn().await;
    app.staff("clerk", "window", &[Role::Clerk]).await;
    let clerk = signed_in(&app, "clerk").await;
    let (_, home) = page(&clerk, &app, "/").await;
    assert!(!home.contains("id=\"apply-"), "{home}");
    assert!(!home.contains("在线办理"), "{home}");
    let (_, guide) = page(&clerk, &app, "/items/construction-permit").await;
    assert!(!guide.contains("id=\"apply\""), "{guide}");
}
