//! Personal data masked for everyone who does not need it (issue 18; DESIGN; the policy is
//! `services::filings::privacy`): the applicant and the staff who handle the filing — a clerk,
//! reviewer or inspector of its department or of a department with an open task on it — see
//! ID numbers, phones and names whole; a manager, a department whose part is done, an
//! administrator and an auditor see them masked, on the page and through the API alike.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::json;

use crate::helpers::{
    CONSTRUCTION_MATERIALS, ELEVATOR_MATERIALS, TestApp, User, at, construction_form, elevator_form,
};
use crate::pages::{page, signed_in};

const ID: &str = "11010519491231002X";
const ID_MASKED: &str = "110105********002X";
const PHONE: &str = "13800138000";
const PHONE_MASKED: &str = "138****8000";

/// What `user` reads of the filing: on its page, and through the API.
async fn reads(app: &TestApp, user: &User, id: &str) -> (String, serde_json::Value) {
    let c = signed_in(app, &user.username).await;
    let (status, html) = page(&c, app, &format!("/filings/{id}")).await;
    assert_eq!(status, 200, "{}", user.username);
    (html, app.filing(user, id).await["form"].clone())
}

async fn sees_whole(app: &TestApp, user: &User, id: &str) {
    let (html, form) = reads(app, user, id).await;
    assert!(
        html.contains(ID),
        "{} should see the ID number",
        user.username
    );
    assert!(html.contains(PHONE), "{}", user.username);
    assert!(html.contains("王建国"), "{}", user.username);
    assert_eq!(form["project_manager_id"], ID, "{}", user.username);
    assert_eq!(form["project_manager_phone"], PHONE, "{}", user.username);
}

async fn sees_masked(app: &TestApp, user: &User, id: &str) {
    let (html, form) = reads(app, user, id).await;
    assert!(
        !html.contains(ID),
        "{} sees the whole ID number",
        user.username
    );
    assert!(
        !html.contains(PHONE),
        "{} sees the whole phone",
        user.username
    );
    assert!(!html.contains("王建国"), "{} sees the name", user.username);
    assert!(html.contains(ID_MASKED), "{}", user.username);
    assert!(html.contains(PHONE_MASKED), "{}", user.username);
    assert!(html.contains("王**"), "{}", user.username);
    assert_eq!(form["project_manager_id"], ID_MASKED, "{}", user.username);
    assert_eq!(
        form["project_manager_phone"], PHONE_MASKED,
        "{}",
        user.username
    );
}

#[actix_web::test]
async fn only_the_applicant_and_the_staff_handling_a_filing_see_its_personal_data_whole() {
    let app = TestApp::spawn().await;
    at(&app, "2026-12-03");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let manager = app.staff("manager", "construction", &[Role::Manager]).await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;

    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &id, CONSTRUCTION_MATERIALS).await;
    let f = app.filing(&builder, &id).await;
    app.act(&builder, &f, "submit", json!({})).await;

    // Awaiting acceptance: the window's clerk checks who applies.
    sees_whole(&app, &builder, &id).await;
    sees_whole(&app, &clerk, &id).await;
    sees_masked(&app, &admin, &id).await;
    sees_masked(&app, &auditor, &id).await;

    // Accepted: the reviewers' department handles it; the window's part is done.
    let f = app.filing(&clerk, &id).await;
    app.act(&clerk, &f, "accept", json!({})).await;
    sees_masked(&app, &clerk, &id).await;
    sees_whole(&app, &reviewer, &id).await;
    sees_whole(&app, &builder, &id).await;
    sees_masked(&app, &manager, &id).await;
}

#[actix_web::test]
async fn the_owners_and_a_person_applicants_name_are_masked_for_a_manager_and_whole_for_the_window()
{
    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;
    app.staff("boss", "housing", &[Role::Manager]).await;
    let f = app
        .create(&resident, "elevator-installation", elevator_form(10, 12))
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&resident, &id, ELEVATOR_MATERIALS).await;
    let f = app.filing(&resident, &id).await;
    app.act(&resident, &f, "submit", json!({})).await;

    let clerk = signed_in(&app, "window-clerk").await;
    let (_, html) = page(&clerk, &app, &format!("/filings/{id}")).await;
    assert!(
        html.contains("<td data-label=\"业主（产权人）：\">业主1</td>"),
        "{html}"
    );
    assert!(html.contains("刘业主"), "the representative: {html}");
    let timeline = &html[html.find("id=\"timeline\"").unwrap()..];
    assert!(timeline.contains("resident"), "who submitted: {timeline}");

    // Accepted: the housing department's manager supervises it.
    let f = app.filing(&window, &id).await;
    app.act(&window, &f, "accept", json!({})).await;
    let boss = signed_in(&app, "boss").await;
    let (status, html) = page(&boss, &app, &format!("/filings/{id}")).await;
    assert_eq!(status, 200);
    assert!(!html.contains("业主1<"), "{html}");
    assert!(
        html.contains("<td data-label=\"业主（产权人）：\">业**</td>"),
        "{html}"
    );
    assert!(!html.contains("刘业主"), "{html}");
    let timeline = &html[html.find("id=\"timeline\"").unwrap()..];
    assert!(!timeline.contains("resident"), "{timeline}");
    assert!(timeline.contains("r*******"), "{timeline}");

    // The dashboard's drill-down names each line's applicant: a person masked for the manager.
    let number = f["number"].as_str().unwrap();
    let (status, html) = page(&boss, &app, "/dashboard/filings?due=open").await;
    assert_eq!(status, 200);
    let line = &html[html
        .find(number)
        .unwrap_or_else(|| panic!("{number} listed: {html}"))..];
    let line = &line[..line.find("</tr>").unwrap()];
    assert!(line.contains("r*******"), "{line}");
    assert!(!line.contains("resident"), "{line}");
}
