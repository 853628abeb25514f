//! The owners' roster on the filing page (issue 18, item 5): staff are shown the count of the
//! vote under the roster, with each threshold of the item's guard met or not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::helpers::{ELEVATOR_MATERIALS, TestApp, elevator_form};
use crate::pages::{page, signed_in};

/// A roster with an owner of two units, an unsigned agreement, an abstention and an absence.
fn mixed_roster() -> Value {
    json!([
        { "unit": "101", "owner": "张三", "area": "90", "vote": "agree", "signed": true },
        { "unit": "102", "owner": "张三", "area": "60.5", "vote": "agree", "signed": true },
        { "unit": "201", "owner": "张四", "area": "90", "vote": "agree", "signed": true },
        { "unit": "202", "owner": "王五", "area": "80", "vote": "object", "signed": true },
        { "unit": "301", "owner": "赵六", "area": "70", "vote": "abstain", "signed": false },
        { "unit": "302", "owner": "钱七", "area": "90", "vote": "agree", "signed": false },
        { "unit": "401", "owner": "孙八", "area": "90", "vote": "absent", "signed": false },
    ])
}

async fn submitted(app: &TestApp, resident: &crate::helpers::User, form: Value) -> String {
    let f = app.create(resident, "elevator-installation", form).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(resident, &id, ELEVATOR_MATERIALS).await;
    let f = app.filing(resident, &id).await;
    app.act(resident, &f, "submit", json!({})).await;
    id
}

#[actix_web::test]
async fn staff_see_the_count_of_the_vote_under_the_roster_with_each_threshold_met_or_not() {
    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    app.staff("window-clerk", "window", &[Role::Clerk]).await;
    app.staff("admin", "window", &[Role::Admin]).await;
    let mut form = elevator_form(0, 0);
    form["owners"] = mixed_roster();
    let short = submitted(&app, &resident, form).await;
    let carried = submitted(&app, &resident, elevator_form(10, 12)).await;

    let clerk = signed_in(&app, "window-clerk").await;
    let (status, html) = page(&clerk, &app, &format!("/filings/{short}")).await;
    assert_eq!(status, 200);
    // Each row's vote and signature in words.
    assert!(
        html.contains("<tr><td>301</td><td>赵六</td><td>70</td><td>弃权</td><td>否</td></tr>"),
        "{html}"
    );
    let at = html.find("id=\"count-owners\"").expect("the count");
    let count = &html[at..at + html[at..].find("</div>").unwrap()];
    for line in [
        // 7 units, 6 owners: 张三's two units are one head with both areas.
        "<th scope=\"row\">专有部分（户）</th><td>7</td><td></td>",
        "<th scope=\"row\">业主（一人多套按一人计）</th><td>6</td><td>570.5</td>",
        "<th scope=\"row\">同意</th><td>3</td><td>330.5</td>",
        "<th scope=\"row\">其中同意但未签字</th><td>1</td><td>90</td>",
        "<th scope=\"row\">反对</th><td>1</td><td>80</td>",
        "<th scope=\"row\">弃权</th><td>1</td><td>70</td>",
        "<th scope=\"row\">未参与</th><td>1</td><td>90</td>",
        // Changsha: shares of all the owners and all the area.
        "<td>参与表决的专有部分面积占总面积 ≥ 2/3</td><td>480.5 / 570.5 ㎡（84.2%）</td><td><span class=\"badge green\">达到</span>",
        "<td>参与表决的业主人数占业主总人数 ≥ 2/3</td><td>5 / 6 人（83.3%）</td><td><span class=\"badge green\">达到</span>",
        "<td>同意（已签字）的专有部分面积占总面积 ≥ 2/3</td><td>240.5 / 570.5 ㎡（42.2%）</td><td><span class=\"badge red\">未达到</span>",
        "<td>同意（已签字）的业主人数占业主总人数 ≥ 2/3</td><td>2 / 6 人（33.3%）</td><td><span class=\"badge red\">未达到</span>",
        "<p class=\"verdict failed\">表决未通过：未达到本事项规定的业主共同决定要求（民法典第二百七十八条）</p>",
    ] {
        assert!(count.contains(line), "{line} missing: {count}");
    }

    let (_, html) = page(&clerk, &app, &format!("/filings/{carried}")).await;
    assert!(
        html.contains(
            "<td>同意（已签字）的业主人数占业主总人数 ≥ 2/3</td><td>10 / 12 人（83.3%）</td>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<p class=\"verdict carried\">表决通过"),
        "{html}"
    );

    // An administrator sees the owners masked (张* twice), but the count is made from the
    // names: still six owners, not five.
    let admin = signed_in(&app, "admin").await;
    let (status, html) = page(&admin, &app, &format!("/filings/{short}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("<td>201</td><td>张*</td>"), "{html}");
    assert!(
        html.contains("<th scope=\"row\">业主（一人多套按一人计）</th><td>6</td><td>570.5</td>"),
        "{html}"
    );

    // In English.
    clerk
        .get(app.url(&format!("/lang/en?next=/filings/{short}")))
        .send()
        .await
        .unwrap();
    let (_, html) = page(&clerk, &app, &format!("/filings/{short}")).await;
    assert!(
        html.contains("<td>Area of the owners agreeing (signed), of all the area ≥ 2/3</td><td>240.5 / 570.5 m² (42.2%)</td>"),
        "{html}"
    );
    assert!(html.contains("Not carried"), "{html}");
}

#[actix_web::test]
async fn a_roster_that_cannot_be_counted_says_why_and_names_no_owner_to_a_masked_viewer() {
    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    app.staff("admin", "window", &[Role::Admin]).await;
    let mut form = elevator_form(0, 0);
    form["owners"] = json!([
        { "unit": "101", "owner": "张三", "area": "90", "vote": "agree", "signed": true },
        { "unit": "102", "owner": "张三", "area": "90", "vote": "object", "signed": true },
    ]);
    // Submitted: the count is the window's to check when it accepts.
    let id = submitted(&app, &resident, form).await;
    let c = signed_in(&app, "resident").await;
    let (_, html) = page(&c, &app, &format!("/filings/{id}")).await;
    assert!(html.contains("名册有误，无法计票："), "{html}");
    assert!(
        html.contains("业主「张三」在第 1、2 行的表决意见或签字不一致"),
        "{html}"
    );
    let admin = signed_in(&app, "admin").await;
    let (_, html) = page(&admin, &app, &format!("/filings/{id}")).await;
    assert!(html.contains("名册有误，无法计票："), "{html}");
    assert!(!html.contains("张三"), "{html}");
    assert!(
        html.contains("中有业主在不同行的表决意见或签字不一致"),
        "{html}"
    );
}
