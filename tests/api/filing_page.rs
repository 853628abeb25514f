//! The filing page as its users read it (issue 18, items 2, 3, 9 and 10): where the filing
//! stands and what comes next by when, a decision with its reasons and the applicant's
//! remedies, actions by tone with a refusal confirmed and its problems at its own form, a
//! success notice, clocks in words, a timeline that says who did what and why, files removed
//! before submission and an upload's failure named at its material.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::json;

use crate::helpers::{CONSTRUCTION_MATERIALS, TestApp, User, at, construction_form};
use crate::pages::{csrf, page, signed_in};

/// Text of the element with this id (tags stripped, whitespace collapsed).
pub(crate) fn section(html: &str, id: &str) -> String {
    let open = format!("id=\"{id}\"");
    let at = html
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let start = html[..at].rfind('<').unwrap();
    let tag: String = html[start + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    // The element ends at its matching close tag (same-name tags nested inside are counted).
    let (mut depth, mut i) = (0usize, start);
    let (o, c) = (format!("<{tag}"), format!("</{tag}>"));
    loop {
        let next_open = html[i + 1..].find(&o).map(|n| n + i + 1);
        let next_close = html[i + 1..].find(&c).map(|n| n + i + 1).unwrap();
        match next_open {
            Some(n) if n < next_close => {
                depth += 1;
                i = n;
            }
            _ if depth > 0 => {
                depth -= 1;
                i = next_close;
            }
            _ => {
                i = next_close;
                break;
            }
        }
    }
    let mut text = String::new();
    let mut in_tag = false;
    for ch in html[start..i].chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(ch),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

struct Office {
    app: TestApp,
    builder: User,
    clerk: User,
    reviewer: User,
}

async fn office() -> Office {
    let app = TestApp::spawn().await;
    at(&app, "2026-12-03");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    Office {
        app,
        builder,
        clerk,
        reviewer,
    }
}

/// A construction permit submitted and accepted, under review.
async fn under_review(o: &Office) -> String {
    let app = &o.app;
    let f = app
        .create(&o.builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&o.builder, &id, CONSTRUCTION_MATERIALS)
        .await;
    let f = app.filing(&o.builder, &id).await;
    app.act(&o.builder, &f, "submit", json!({})).await;
    let f = app.filing(&o.clerk, &id).await;
    app.act(&o.clerk, &f, "accept", json!({})).await;
    id
}

#[actix_web::test]
async fn a_refusal_is_confirmed_at_its_own_form_and_the_applicant_reads_its_reasons_and_remedies() {
    let o = office().await;
    let app = &o.app;
    let id = under_review(&o).await;
    let path = format!("/filings/{id}");

    // The reviewer sees where it stands, what comes next by when, and the actions by tone:
    // granting first, refusing last and red.
    let reviewer = signed_in(app, "reviewer").await;
    let (status, html) = page(&reviewer, app, &path).await;
    assert_eq!(status, 200);
    let progress = section(&html, "progress");
    assert!(html.contains("<li class=\"done\">受理</li>"), "{progress}");
    assert!(
        html.contains("<li class=\"current\" aria-current=\"step\">审查</li>"),
        "{progress}"
    );
    let next = section(&html, "outlook");
    assert!(next.contains("审查，作出决定"), "{next}");
    assert!(next.contains("法定办理时限至"), "{next}");
    assert!(next.contains("个工作日"), "{next}");
    let approve = html.find("id=\"action-approve\"").unwrap();
    let refuse = html.find("id=\"action-refuse\"").unwrap();
    assert!(approve < refuse, "granting comes before refusing");
    assert!(html.contains("class=\"action danger\" id=\"action-refuse\""));
    assert!(html.contains("class=\"action primary\" id=\"action-approve\""));
    // Each opinion box says which action it belongs to.
    assert!(html.contains("<legend>不予许可</legend>"), "{html}");

    // Not confirmed: refused at the refusal's own form, what was typed kept, nothing changed.
    let version = app.filing(&o.reviewer, &id).await["version"]
        .as_i64()
        .unwrap();
    let r = reviewer
        .post(app.url(&format!("/filings/{id}/actions/refuse")))
        .form(&[
            ("_csrf", csrf(&html).as_str()),
            ("version", &version.to_string()),
            ("reason", "施工图未经审查合格"),
            ("opinion", "不符合法定条件"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let error = section(&html, "action-refuse-error");
    assert!(error.contains("请勾选确认"), "{error}");
    let form = section(&html, "action-refuse");
    assert!(
        form.contains("施工图未经审查合格"),
        "what was typed is kept: {form}"
    );
    assert!(!html.contains("id=\"action-approve-error\""));
    assert_eq!(
        app.filing(&o.reviewer, &id).await["state"]["code"],
        "review"
    );

    // Confirmed: done, and the page says so.
    let r = reviewer
        .post(app.url(&format!("/filings/{id}/actions/refuse")))
        .form(&[
            ("_csrf", csrf(&html).as_str()),
            ("version", &version.to_string()),
            ("reason", "施工图未经审查合格"),
            ("opinion", "不符合法定条件"),
            ("confirm", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(next, format!("{path}?done=refuse"));
    let (_, html) = page(&reviewer, app, &next).await;
    assert!(
        section(&html, "done").contains("已办理：不予许可"),
        "{html}"
    );

    // The applicant reads the decision on the page: the reasons, the opinion, the remedies and
    // the decision to print; the steps stop at the refusal.
    let builder = signed_in(app, "builder").await;
    let (_, html) = page(&builder, app, &path).await;
    let outcome = section(&html, "outlook");
    assert!(outcome.contains("办理结果：不予许可"), "{outcome}");
    assert!(outcome.contains("理由 施工图未经审查合格"), "{outcome}");
    assert!(outcome.contains("审查意见 不符合法定条件"), "{outcome}");
    assert!(
        outcome.contains("由 建筑业管理科"),
        "who decided: {outcome}"
    );
    let remedy = section(&html, "remedy");
    assert!(remedy.contains("六十日内依法申请行政复议"), "{remedy}");
    assert!(
        remedy.contains("六个月内依法向人民法院提起行政诉讼"),
        "{remedy}"
    );
    assert!(
        section(&html, "decision-document").contains("不予行政许可决定书"),
        "{html}"
    );
    let progress = section(&html, "progress");
    assert!(
        progress.ends_with("不予许可"),
        "nothing follows the refusal: {progress}"
    );
    assert!(!progress.contains("出证"), "{progress}");
    // Money reads as money, in yuan grouped by thousands.
    assert!(html.contains("12,500,000 元"), "{html}");
    // The timeline says who did what and why.
    let timeline = section(&html, "timeline");
    assert!(timeline.contains("不予许可 建筑业管理科"), "{timeline}");
    assert!(timeline.contains("理由：施工图未经审查合格"), "{timeline}");
    assert!(timeline.contains("审查中 → 不予许可"), "{timeline}");
    assert!(timeline.contains("办理时限停止（办结）"), "{timeline}");
    assert!(timeline.contains("出具：不予行政许可决定书"), "{timeline}");

    // The same in English.
    builder.get(app.url("/lang/en")).send().await.unwrap();
    let (_, html) = page(&builder, app, &path).await;
    let outcome = section(&html, "outlook");
    assert!(outcome.starts_with("Outcome:"), "{outcome}");
    assert!(
        section(&html, "remedy").contains("administrative reconsideration within 60 days"),
        "{html}"
    );
}

#[actix_web::test]
async fn the_applicant_submits_below_the_materials_is_told_it_worked_and_may_remove_a_file_first() {
    let o = office().await;
    let app = &o.app;
    let f = app
        .create(&o.builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&o.builder, &id, CONSTRUCTION_MATERIALS)
        .await;
    let path = format!("/filings/{id}");
    let builder = signed_in(app, "builder").await;
    let (_, html) = page(&builder, app, &path).await;
    // The applicant's turn: the materials and the application first, the actions after them.
    let materials = html.find("id=\"materials\"").unwrap();
    let actions = html.find("id=\"actions\"").unwrap();
    assert!(materials < actions, "submit comes after the materials");
    assert!(section(&html, "outlook").contains("下一步：请填写申请内容、上传材料，然后提交申请"));
    // Withdrawing a draft is not offered beside submitting as an equal blue button.
    assert!(!html.contains("class=\"action \" id=\"action-withdraw\""));

    // A file removed before submission: gone, told, and the upload form is there again.
    let material_id = app.filing(&o.builder, &id).await["materials"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.filing(&o.builder, &id).await["materials"][0]["material"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = app.filing(&o.builder, &id).await["materials"]
        .as_array()
        .unwrap()
        .len();
    let r = builder
        .post(app.url(&format!("/filings/{id}/materials/{material_id}/remove")))
        .form(&[("_csrf", csrf(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        next.starts_with(&format!("{path}?done=remove&material={code}")),
        "{next}"
    );
    assert_eq!(
        app.filing(&o.builder, &id).await["materials"]
            .as_array()
            .unwrap()
            .len(),
        before - 1
    );
    let (_, html) = page(&builder, app, &next).await;
    assert!(
        section(&html, "done").contains("的文件，可重新上传"),
        "{html}"
    );
    assert!(section(&html, "timeline").contains("删除材料"), "{html}");
    // Put it back, then submit: the page says the number and what comes next.
    app.upload_all(&o.builder, &id, &[code.as_str()]).await;
    let (_, html) = page(&builder, app, &path).await;
    let version = app.filing(&o.builder, &id).await["version"]
        .as_i64()
        .unwrap();
    let r = builder
        .post(app.url(&format!("/filings/{id}/actions/submit")))
        .form(&[
            ("_csrf", csrf(&html).as_str()),
            ("version", &version.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let next = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = page(&builder, app, &next).await;
    let done = section(&html, "done");
    assert!(done.contains("申请已提交，办件编号 SGXK-2026-"), "{done}");
    assert!(
        section(&html, "outlook").contains("审核材料，决定是否受理"),
        "{html}"
    );
    // Submitted: no file may be removed any more.
    assert!(!html.contains("/remove\""), "{html}");
    let r = builder
        .post(app.url(&format!(
            "/filings/{id}/materials/{}/remove",
            app.filing(&o.builder, &id).await["materials"][0]["id"]
                .as_str()
                .unwrap()
        )))
        .form(&[("_csrf", csrf(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 303, "a submitted filing's file stays");
}

#[actix_web::test]
async fn an_upload_that_fails_is_named_at_its_material() {
    let o = office().await;
    let app = &o.app;
    let f = app
        .create(&o.builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let builder = signed_in(app, "builder").await;
    let (_, html) = page(&builder, app, &format!("/filings/{id}")).await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"MZ not a pdf".to_vec())
            .file_name("virus.exe")
            .mime_str("application/octet-stream")
            .unwrap(),
    );
    let r = builder
        .post(app.url(&format!(
            "/filings/{id}/materials/application_form?_csrf={}",
            csrf(&html)
        )))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let error = section(&html, "upload-application_form-error");
    assert!(
        error.contains("「建筑工程施工许可证申请表」未能上传"),
        "{error}"
    );
    assert!(html.contains("aria-describedby=\"upload-application_form-error\""));
}

#[actix_web::test]
async fn clocks_say_overdue_and_paused_in_working_days() {
    let o = office().await;
    let app = &o.app;
    let id = under_review(&o).await;
    // Past the statutory limit: overdue by a number of working days, not "剩余 -n".
    app.advance_days(30);
    let reviewer = signed_in(app, "reviewer").await;
    let (_, html) = page(&reviewer, app, &format!("/filings/{id}")).await;
    let clocks = section(&html, "clocks");
    assert!(clocks.contains("已超期"), "{clocks}");
    assert!(!clocks.contains("剩余 -"), "{clocks}");
    assert!(clocks.contains("暂停 0 个工作日"), "{clocks}");
    assert!(section(&html, "outlook").contains("已超期"), "{html}");

    // Paused for a correction: the clock says paused, since when and why, not 正常.
    // Sessions end with the days; the reviewer signs in again.
    let api = app.relogin(&o.reviewer).await;
    let f = app.filing(&api, &id).await;
    app.act(
        &api,
        &f,
        "request_correction",
        json!({ "notice_items": ["请补充深基坑支护专项施工方案"] }),
    )
    .await;
    let (_, html) = page(&reviewer, app, &format!("/filings/{id}")).await;
    let clocks = section(&html, "clocks");
    assert!(clocks.contains("已暂停"), "{clocks}");
    assert!(clocks.contains("暂停中（自"), "{clocks}");
    assert!(!clocks.contains("正常"), "{clocks}");
    let timeline = section(&html, "timeline");
    assert!(
        timeline.contains("告知补正：请补充深基坑支护专项施工方案"),
        "{timeline}"
    );
    assert!(timeline.contains("办理时限暂停（补正材料）"), "{timeline}");
    // The applicant is told it is their turn, by when if there is a deadline.
    let builder = signed_in(app, "builder").await;
    let (_, html) = page(&builder, app, &format!("/filings/{id}")).await;
    assert!(
        section(&html, "outlook").contains("下一步：请您按告知内容补正或整改"),
        "{html}"
    );
}

#[actix_web::test]
async fn the_dashboard_counts_filings_past_the_promised_limit_beside_the_statutory_one() {
    let o = office().await;
    let app = &o.app;
    app.staff("manager", "construction", &[Role::Manager]).await;
    let id = under_review(&o).await;
    // Accepted Thursday 3 December: promised 3 working days (Tuesday 8 December), statutory 7.
    at(app, "2026-12-10");
    let manager = signed_in(app, "manager").await;
    let (status, html) = page(&manager, app, "/dashboard").await;
    assert_eq!(status, 200);
    assert_eq!(
        section(&html, "overdue"),
        "0",
        "not past the statutory limit"
    );
    assert_eq!(
        section(&html, "overdue-promised"),
        "1",
        "past the promised limit, as the workbench paints it"
    );
    assert!(
        html.contains("在办超承诺时限"),
        "the columns say which limit"
    );
    let (status, html) = page(&manager, app, "/dashboard/filings?due=overdue_promised").await;
    assert_eq!(status, 200);
    assert!(html.contains("超过承诺时限的办件"), "{html}");
    assert!(html.contains(&format!("/filings/{id}")), "{html}");
    // Each line names its project and applicant and both limits, as the workbench does.
    let lines = section(&html, "filings");
    assert!(lines.contains("示范小学教学楼"), "{lines}");
    assert!(lines.contains("builder"), "{lines}");
    assert!(lines.contains("承诺 2026-12-08"), "{lines}");
    assert!(lines.contains("法定 "), "{lines}");
    let (_, html) = page(&manager, app, "/dashboard/filings?due=overdue").await;
    assert!(!html.contains(&format!("/filings/{id}")), "{html}");
}

#[actix_web::test]
async fn the_workbench_names_project_and_applicant_shows_both_limits_searches_and_pages() {
    let o = office().await;
    let app = &o.app;
    let other = app.applicant("yuelu").await;
    // Two filings waiting at the window: the builder's school, and another's library.
    let mut ids = Vec::new();
    for (who, project) in [(&o.builder, "示范小学教学楼"), (&other, "岳麓区图书馆")] {
        let mut form = construction_form();
        form["project_name"] = json!(project);
        let f = app.create(who, "construction-permit", form).await;
        let id = f["id"].as_str().unwrap().to_owned();
        app.upload_all(who, &id, CONSTRUCTION_MATERIALS).await;
        let f = app.filing(who, &id).await;
        app.act(who, &f, "submit", json!({})).await;
        ids.push(id);
    }
    let clerk = signed_in(app, "clerk").await;
    let (status, html) = page(&clerk, app, "/queue").await;
    assert_eq!(status, 200);
    let queue = section(&html, "queue");
    assert!(queue.contains("示范小学教学楼 builder"), "{queue}");
    assert!(queue.contains("岳麓区图书馆 yuelu"), "{queue}");
    assert!(
        queue.contains("承诺时限 / 法定时限"),
        "both limits, labelled: {queue}"
    );
    assert!(
        queue.contains("承诺 ") && queue.contains("法定 "),
        "{queue}"
    );

    // Search by the applicant, by the project, by the number; a LIKE wildcard is literal.
    let (_, html) = page(&clerk, app, "/queue?q=yuelu").await;
    let queue = section(&html, "queue");
    assert!(
        queue.contains("岳麓区图书馆") && !queue.contains("示范小学"),
        "{queue}"
    );
    let (_, html) = page(&clerk, app, "/queue?q=%E5%B0%8F%E5%AD%A6").await;
    let queue = section(&html, "queue");
    assert!(
        queue.contains("示范小学") && !queue.contains("岳麓区"),
        "{queue}"
    );
    let (_, html) = page(&clerk, app, "/queue?q=%25").await;
    assert!(html.contains("没有符合搜索条件的办件。"), "{html}");

    // One a page: the first, then the next, each page linking to the other.
    let (_, html) = page(&clerk, app, "/queue?per=1").await;
    let first = section(&html, "queue");
    assert!(html.contains("per=1&#38;page=2\" rel=\"next\""), "{html}");
    assert!(!html.contains("rel=\"prev\""));
    let (_, html) = page(&clerk, app, "/queue?per=1&page=2").await;
    let second = section(&html, "queue");
    assert_ne!(first, second);
    assert!(
        html.contains("rel=\"prev\"") && !html.contains("rel=\"next\""),
        "{html}"
    );
}

/// A limit whose last day has passed while no working day is yet overdue (its last day a
/// Friday, seen on the Saturday) reads as past, beside its red badge: not "剩余 0 个工作日".
#[actix_web::test]
async fn a_limit_past_its_last_day_on_a_weekend_says_so_not_zero_left() {
    use chrono::{Datelike, NaiveDate, Weekday};
    let o = office().await;
    let app = &o.app;
    // Accepted on successive working days until the statutory limit ends on a Friday.
    let mut found = None;
    for day in [
        "2026-11-30",
        "2026-12-01",
        "2026-12-02",
        "2026-12-03",
        "2026-12-04",
    ] {
        at(app, day);
        let id = under_review(&o).await;
        let f = app.filing(&o.reviewer, &id).await;
        let due: NaiveDate = f["clocks"]["statutory"]["due_on"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        if due.weekday() == Weekday::Fri {
            found = Some((id, due));
            break;
        }
    }
    let (id, due) = found.expect("one of five working days ends its limit on a Friday");
    at(app, &(due + chrono::Days::new(1)).to_string());
    let reviewer = signed_in(app, "reviewer").await;
    let (_, html) = page(&reviewer, app, &format!("/filings/{id}")).await;
    let clocks = section(&html, "clocks");
    assert!(clocks.contains("已超期"), "the badge: {clocks}");
    assert!(clocks.contains("截止日期已过"), "{clocks}");
    assert!(!clocks.contains("剩余 0 个工作日"), "{clocks}");
    let outlook = section(&html, "outlook");
    assert!(
        outlook.contains(&format!("法定办理时限 {due} 已过")),
        "{outlook}"
    );
    assert!(!outlook.contains("剩余 0"), "{outlook}");
}

/// 我的办件 names both limits, labelled, as the staff's workbench does: before, one unlabelled
/// date (the nearest limit's) stood under 办结期限.
#[actix_web::test]
async fn my_filings_show_the_promised_and_the_statutory_limit_labelled() {
    let o = office().await;
    let app = &o.app;
    let id = under_review(&o).await;
    let f = app.filing(&o.builder, &id).await;
    let promised = f["clocks"]["promised"]["due_on"]
        .as_str()
        .unwrap()
        .to_owned();
    let statutory = f["clocks"]["statutory"]["due_on"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(promised, statutory);
    let builder = signed_in(app, "builder").await;
    let (_, html) = page(&builder, app, "/filings").await;
    let text = section(&html, "main");
    assert!(text.contains(&format!("承诺 {promised}")), "{text}");
    assert!(text.contains(&format!("法定 {statutory}")), "{text}");
    assert!(text.contains("办理时限"), "{text}");
}

/// A material with no file says 未上传 in its row, rather than an empty 已上传： on a phone's
/// card.
#[actix_web::test]
async fn a_material_without_a_file_says_so() {
    let o = office().await;
    let app = &o.app;
    let f = app
        .create(&o.builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&o.builder, &id, &CONSTRUCTION_MATERIALS[..1])
        .await;
    let builder = signed_in(app, "builder").await;
    let (_, html) = page(&builder, app, &format!("/filings/{id}")).await;
    let uploaded = section(&html, &format!("material-{}", CONSTRUCTION_MATERIALS[0]));
    assert!(!uploaded.contains("未上传"), "{uploaded}");
    let missing = section(&html, &format!("material-{}", CONSTRUCTION_MATERIALS[1]));
    assert!(missing.contains("未上传"), "{missing}");
}

/// A permit in its later life (the applicant reported the start of works) still says who
/// decided it, when, and what, with the opinion; the report comes after, as what happened
/// since. Before, the outcome read "由 <the applicant> 办结", the last action's.
#[actix_web::test]
async fn a_permits_outcome_names_its_decision_not_the_latest_report() {
    let app = TestApp::spawn().await;
    let (builder, _reviewer, id) = crate::lifecycle::issued_permit(&app, "2026-11-02").await;
    app.allow_unsent_mail();
    at(&app, "2026-11-09");
    let builder = app.relogin(&builder).await;
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "report_start", json!({})).await;
    assert_eq!(f["state"]["code"], "under_construction");
    let page_user = signed_in(&app, "builder").await;
    let (_, html) = page(&page_user, &app, &format!("/filings/{id}")).await;
    let outlook = section(&html, "outlook");
    assert!(outlook.contains("办理结果：已开工"), "{outlook}");
    assert!(outlook.contains("reviewer 办结"), "{outlook}");
    assert!(outlook.contains("办结：准予许可（已发证）"), "{outlook}");
    assert!(
        outlook.contains("符合条件"),
        "the decision's opinion: {outlook}"
    );
    assert!(outlook.contains("此后："), "{outlook}");
    assert!(outlook.contains("报告开工"), "{outlook}");
}
