//! Whole lifecycles of the three items through the HTTP API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::helpers::*;

#[actix_web::test]
async fn a_construction_permit_goes_from_draft_through_supplement_to_issue() {
    // Sessions that outlive the weeks the test moves the clock through.
    let app = TestApp::spawn_with(|s| s.auth.token_ttl_hours = 24 * 60).await;
    // Friday before National Day 2025 (1–8 October off; Sunday 28 September and Saturday 11
    // October are working days).
    at(&app, "2025-09-26");
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
    let paths = error_paths(&body);
    for m in [
        "materials.application_form",
        "materials.funds_commitment",
        "materials.site_readiness",
    ] {
        assert!(paths.iter().any(|p| p == m), "{m} missing from {paths:?}");
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
                "expected_version": f["version"], "promises": { "site_readiness": "2025-12-31" }
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
    let paths = error_paths(&body);
    assert_eq!(paths, vec!["materials.funds_commitment"]);

    app.upload_all(&builder, &id, &["funds_commitment"]).await;
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
    // 建筑法 §8: seven days from receipt, counted from the next day in working days: 28 and 29
    // September, 30 September, 9, 10, 11 (a working Saturday) and 13 October.
    assert_eq!(f["clocks"]["statutory"]["started_on"], "2025-09-26");
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2025-10-13");
    assert!(f["accepted_at"].is_null(), "received, not yet accepted");
    let number = f["number"].as_str().unwrap();
    assert!(
        number.starts_with("SGXK-") && number.ends_with("-000001"),
        "{number}"
    );

    // On Monday the clerk asks for a supplement: the one-time notice carries the clerk's items,
    // and the clock stops after two working days used (28 and 29 September).
    at(&app, "2025-09-29");
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
    assert_eq!(f["clocks"]["statutory"]["used"], 2);
    assert_eq!(f["clocks"]["statutory"]["phase"], "suspended");

    // The applicant supplements after the holiday, on Thursday 9 October: the five days left
    // run from the next day (10, 11, 13, 14 and 15 October). The time in supplement extends
    // the period (18号令 §5: 顺延).
    at(&app, "2025-10-09");

    // The applicant sends the contract with its seal page and supplements; the notice is
    // cleared.
    let r = app
        .upload(
            &builder,
            &id,
            "construction_contract",
            "contract-sealed.pdf",
            pdf("construction_contract with its seal page"),
        )
        .await;
    assert_eq!(r.status(), 201);
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "supplement", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
    assert!(f["notice"].is_null());
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2025-10-15");
    assert_eq!(f["clocks"]["statutory"]["used"], 2);

    // Accepted the next day with the tolerated material still missing: the clock, running
    // since receipt, does not start again.
    at(&app, "2025-10-10");
    let f = app.filing(&clerk, &id).await;
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");
    assert!(f["accepted_at"].is_string());
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2025-10-15");

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
    // The permit's life after issue: the applicant starts works or asks for more time; the
    // issuer approves changes, revokes or cancels.
    let codes = |f: &Value| -> Vec<String> {
        f["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(codes(&f), ["approve_change", "revoke", "cancel"]);
    let mine = app.filing(&builder, &id).await;
    assert_eq!(codes(&mine), ["report_start", "extend_start"]);
    // Three months from issue on 10 October 2025 end on Saturday 10 January 2026, a rest day:
    // the period runs to Monday 12 January (民法典 §203).
    assert_eq!(mine["deadlines"][0]["code"], "start_construction");
    assert_eq!(mine["deadlines"][0]["due_on"], "2026-01-12");
    assert_eq!(mine["deadlines"][0]["max_extensions"], 2);

    // The clock ledger: started on receipt, suspended for the supplement and the correction,
    // resumed after each, stopped.
    let events: Vec<String> = {
        use diesel::prelude::*;
        use permits::db::schema::clock_events::dsl::*;
        clock_events
            .order(id)
            .select(event)
            .load(&mut app.conn())
            .unwrap()
    };
    assert_eq!(
        events,
        ["start", "suspend", "resume", "suspend", "resume", "stop"]
    );

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
    form["contract_price"] = json!("260000");
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

/// Land-use and planning approvals are asked of new works, alterations and municipal works, not
/// of interior decoration (`required_when` on the project type): a decoration permit is submitted
/// and accepted without them; a new building is told both are missing, and the clerk's one-time
/// notice lists them.
#[actix_web::test]
async fn a_decoration_permit_needs_no_land_use_or_planning_approval_and_a_new_building_does() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let conditional = ["land_use_approval", "planning_permit"];
    let others: Vec<&str> = CONSTRUCTION_MATERIALS
        .iter()
        .copied()
        .filter(|m| !conditional.contains(m))
        .collect();

    let mut decoration = construction_form();
    decoration["project_type"] = json!("decoration");
    let f = submitted(&app, &builder, "construction-permit", decoration, &others).await;
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");

    let new = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = new["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &id, &others).await;
    let new = app.filing(&builder, &id).await;
    let (status, body) = app.attempt(&builder, &new, "submit", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_paths(&body),
        ["materials.land_use_approval", "materials.planning_permit"]
    );
    // Changed to decoration, the same draft goes in.
    let r = app
        .patch(
            &builder,
            &format!("/api/v1/filings/{id}"),
            json!({ "expected_version": new["version"], "form": { "project_type": "decoration" } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let new = app.filing(&builder, &id).await;
    let new = app.act(&builder, &new, "submit", json!({})).await;
    assert_eq!(new["state"]["code"], "intake");
    // Nothing is missing for decoration works, so the clerk's notice says what to correct: the
    // kind of works. Back to a new building, the supplement needs what a new building needs.
    let new = app
        .act(
            &clerk,
            &new,
            "request_supplement",
            json!({ "notice_items": ["工程类别应为新建"] }),
        )
        .await;
    let r = app
        .patch(
            &builder,
            &format!("/api/v1/filings/{id}"),
            json!({ "expected_version": new["version"], "form": { "project_type": "new" } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let new = app.filing(&builder, &id).await;
    let (status, body) = app.attempt(&builder, &new, "supplement", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_paths(&body),
        ["materials.land_use_approval", "materials.planning_permit"]
    );
    let guide: Value = app
        .get(&builder, "/api/v1/items/construction-permit")
        .await
        .json()
        .await
        .unwrap();
    let land = guide["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "land_use_approval")
        .unwrap();
    assert_eq!(
        land["required_when"],
        json!({ "field": "project_type", "in": ["new", "extension", "municipal"] })
    );
    app.allow_unsent_mail();
}

/// The thresholds come from the region's rules: an 800,000 CNY, 400 m² project needs a permit
/// under the national thresholds (the demo's 长沙 rules) and none in 湖北, which raised them to
/// 1,000,000 CNY or 500 m²; the service guide shows the values in force.
#[actix_web::test]
async fn the_regions_rules_decide_whether_a_project_needs_a_permit() {
    for (rules, needs_permit) in [("changsha", true), ("hubei", false)] {
        let app = TestApp::spawn_with(|s| s.authority.rules = rules.into()).await;
        let builder = app.applicant("builder").await;
        let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
        let mut form = construction_form();
        form["investment"] = json!("800000");
        form["contract_price"] = json!("760000");
        form["floor_area"] = json!("400");
        let f = submitted(
            &app,
            &builder,
            "construction-permit",
            form,
            CONSTRUCTION_MATERIALS,
        )
        .await;
        let (good, bad) = if needs_permit {
            ("accept", "not_required")
        } else {
            ("not_required", "accept")
        };
        let (status, body) = app.attempt(&clerk, &f, bad, json!({})).await;
        assert_eq!(status, 422, "{rules}: {body}");
        assert_eq!(body["errors"][0]["code"], "threshold", "{rules}: {body}");
        let f = app.act(&clerk, &f, good, json!({})).await;
        assert_eq!(
            f["state"]["code"],
            if needs_permit {
                "review"
            } else {
                "not_required"
            },
            "{rules}"
        );
        let item: Value = app
            .get(&builder, "/api/v1/items/construction-permit")
            .await
            .json()
            .await
            .unwrap();
        let expected = if needs_permit { 300000 } else { 1000000 };
        assert_eq!(
            item["settings"]["investment_threshold_cny"], expected,
            "{rules}: {item}"
        );
        // The guide's words say the same numbers.
        let (wan, m2) = if needs_permit { (30, 300) } else { (100, 500) };
        let said = format!("工程投资额在{wan}万元以下或者建筑面积在{m2}平方米以下");
        assert!(
            item["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["zh"].as_str().unwrap().starts_with(&said)),
            "{rules}: {}",
            item["conditions"]
        );
        app.allow_unsent_mail();
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers for the lifecycles below.

/// Create a draft, upload the materials and submit it; returns the filing, now in intake.
async fn submitted(
    app: &TestApp,
    applicant: &User,
    item: &str,
    form: Value,
    materials: &[&str],
) -> Value {
    let f = app.create(applicant, item, form).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(applicant, &id, materials).await;
    let f = app.filing(applicant, &id).await;
    let f = app.act(applicant, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
    f
}

/// The `code`s of a 422's errors.
fn error_codes(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect()
}

/// The filing's clock ledger: (event, reason), in order.
fn clock_ledger(app: &TestApp, filing: &Value) -> Vec<(String, Option<String>)> {
    use diesel::prelude::*;
    use permits::db::schema::clock_events;
    let id = uuid::Uuid::parse_str(filing["id"].as_str().unwrap()).unwrap();
    clock_events::table
        .filter(clock_events::filing_id.eq(id))
        .order(clock_events::id)
        .select((clock_events::event, clock_events::reason))
        .load(&mut app.conn())
        .unwrap()
}

fn ledger(events: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    events
        .iter()
        .map(|(e, r)| (e.to_string(), r.map(str::to_owned)))
        .collect()
}

/// The open tasks of a filing: (role, department), sorted.
fn open_tasks(filing: &Value) -> Vec<(String, String)> {
    let mut tasks: Vec<(String, String)> = filing["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["role"].as_str().unwrap().to_owned(),
                t["department"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    tasks.sort();
    tasks
}

/// An owners' roster of `total` owners of 89.50 m² each: the first `agree` agree, the last
/// `absent` did not take part, the others object.
fn roster_form(agree: usize, total: usize, absent: usize) -> Value {
    let mut form = elevator_form(agree, total);
    let owners = form["owners"].as_array_mut().unwrap();
    for row in owners.iter_mut().skip(total - absent) {
        row["vote"] = json!("absent");
    }
    form
}

/// 长沙's 并联备案: the departments that sign after the housing department forwards the file
/// (no fire department).
const JOINT_REVIEW: [&str; 2] = ["planning", "market"];

/// The test app counting the owners' vote by 民法典 §278 alone (the item's own settings, no
/// region's rules): at least 3/4 of the participating area and owners agree.
async fn under_the_civil_code() -> TestApp {
    TestApp::spawn_with(|s| s.authority.rules = String::new()).await
}

/// A filing whose clock dates are tested: sessions outlive the weeks the clock moves through.
async fn with_long_sessions() -> TestApp {
    TestApp::spawn_with(long_sessions).await
}

/// An applicant's deadline on the filing, by code.
fn deadline<'a>(f: &'a Value, code: &str) -> &'a Value {
    f["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or(&Value::Null)
}

// ---------------------------------------------------------------------------------------------
// 既有住宅增设电梯

/// The window accepts; the housing department (the lead) checks and forwards; planning and
/// market regulation sign in parallel, each once, and the last signature files it.
#[actix_web::test]
async fn an_elevator_filing_is_forwarded_and_filed_once_planning_and_market_sign() {
    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;
    let housing_clerk = app.staff("housing-clerk", "housing", &[Role::Clerk]).await;

    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        elevator_form(10, 12),
        ELEVATOR_MATERIALS,
    )
    .await;
    assert!(f["number"].as_str().unwrap().starts_with("JDDT-"));
    let f = app.act(&window, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "forwarding");
    assert_eq!(f["state"]["kind"], "review");
    assert_eq!(f["department"], "housing");
    // A filing, not a licence: no public notice by the bureau, so nothing suspends the clock.
    assert_eq!(clock_ledger(&app, &f), ledger(&[("start", None)]));

    // Only the lead forwards, with its opinion.
    let (status, _) = app
        .attempt(&window, &f, "forward", json!({ "opinion": "同意" }))
        .await;
    assert_eq!(status, 403);
    let (status, body) = app.attempt(&housing_clerk, &f, "forward", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_paths(&body), ["input.opinion"]);
    let f = app
        .act(
            &housing_clerk,
            &f,
            "forward",
            json!({ "opinion": "材料齐全，转送并联备案" }),
        )
        .await;

    // 并联备案: one open task per department, none answered yet; no fire department.
    assert_eq!(f["state"]["code"], "joint_review");
    assert_eq!(f["state"]["kind"], "review");
    let mut expected: Vec<(String, String)> = JOINT_REVIEW
        .iter()
        .map(|d| ("reviewer".to_owned(), d.to_string()))
        .collect();
    expected.sort();
    assert_eq!(open_tasks(&f), expected);
    let reviews = f["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 2);
    assert!(reviews.iter().all(|r| r["verdict"].is_null()));

    let mut reviewers = Vec::new();
    for d in JOINT_REVIEW.iter().chain(&["fire"]) {
        reviewers.push(
            app.staff(&format!("{d}-reviewer"), d, &[Role::Reviewer])
                .await,
        );
    }
    let approve = |dept: &str| json!({ "verdict": "approve", "opinion": format!("{dept}：同意") });

    let f = app
        .act(&reviewers[0], &f, "review", approve("planning"))
        .await;
    assert_eq!(f["state"]["code"], "joint_review");
    let planning = f["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["department"] == "planning")
        .unwrap();
    assert_eq!(planning["verdict"], "approve");
    assert_eq!(open_tasks(&f).len(), 1);

    // The same department cannot answer twice.
    let (status, body) = app
        .attempt(&reviewers[0], &f, "review", approve("planning"))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "already_answered");
    assert_eq!(body["department"], "planning");

    // A reviewer of a department without a task in the review may not answer: the window,
    // which worked the intake (so it sees the filing); the fire department, which 长沙 does not
    // ask, does not even see it.
    let outsider = app
        .staff("window-reviewer", "window", &[Role::Reviewer])
        .await;
    let (status, body) = app
        .attempt(&outsider, &f, "review", approve("window"))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app
        .attempt(&reviewers[2], &f, "review", approve("fire"))
        .await;
    assert_eq!(status, 404, "{body}");

    let f = app
        .act(&reviewers[1], &f, "review", approve("market"))
        .await;

    // The last answer joins: every department approved, so the filing is confirmed.
    assert_eq!(f["state"]["code"], "filed");
    assert_eq!(f["state"]["kind"], "approved");
    assert!(f["closed_at"].is_string());
    assert!(open_tasks(&f).is_empty());
    assert_eq!(
        clock_ledger(&app, &f),
        ledger(&[("start", None), ("stop", None)])
    );
    // The filing confirmation (备案证明) carries its number, issued as the join files it.
    let number = f["number"].as_str().unwrap().to_owned();
    let id = f["id"].as_str().unwrap().to_owned();
    let docs = crate::documents::issued_documents(&app, &resident, &id).await;
    crate::documents::assert_documents(
        &docs,
        &[
            ("acceptance_notice", &["受理通知书", "予以受理"]),
            (
                "filing_certificate",
                &["既有住宅增设电梯备案证明", "予以备案", &number, "使用登记"],
            ),
        ],
    );
    // Once closed, a department answering again is out of place; the owners report on.
    let (status, body) = app
        .attempt(&reviewers[1], &f, "review", approve("market"))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "action_not_allowed");
    assert_eq!(body["allowed_actions"], json!([]));
}

/// The owners mediated the objections to their notice before filing: the mediation agreement
/// is asked for, and an affected neighbour's written agreement; one department's written
/// refusal refuses the filing once every department has answered.
#[actix_web::test]
async fn a_mediated_notice_needs_its_agreement_and_one_refusal_refuses_once_all_have_answered() {
    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;
    let housing_clerk = app.staff("housing-clerk", "housing", &[Role::Clerk]).await;

    let mut form = elevator_form(10, 12);
    form["notice_outcome"] = json!("mediated");
    form["affected_neighbours"] = json!(true);
    let f = app.create(&resident, "elevator-installation", form).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&resident, &id, ELEVATOR_MATERIALS).await;
    let f = app.filing(&resident, &id).await;
    let (status, body) = app.attempt(&resident, &f, "submit", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_paths(&body),
        [
            "materials.mediation_agreement",
            "materials.affected_owners_agreement"
        ]
    );
    app.upload_all(
        &resident,
        &id,
        &["mediation_agreement", "affected_owners_agreement"],
    )
    .await;
    let f = app.filing(&resident, &id).await;
    let f = app.act(&resident, &f, "submit", json!({})).await;
    let f = app.act(&window, &f, "accept", json!({})).await;
    let f = app
        .act(
            &housing_clerk,
            &f,
            "forward",
            json!({ "opinion": "同意转送" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "joint_review");

    let mut reviewers = Vec::new();
    for d in JOINT_REVIEW {
        reviewers.push(
            app.staff(&format!("{d}-reviewer"), d, &[Role::Reviewer])
                .await,
        );
    }
    // A refusal needs its reasons in writing.
    let (status, body) = app
        .attempt(
            &reviewers[0],
            &f,
            "review",
            json!({ "verdict": "refuse", "opinion": "不符合规划" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_paths(&body), ["input.reason"]);
    let f = app
        .act(
            &reviewers[0],
            &f,
            "review",
            json!({ "verdict": "refuse", "opinion": "不符合规划", "reason": "电梯井占用规划道路红线" }),
        )
        .await;
    // refuse_immediately is false: the other still answers.
    assert_eq!(f["state"]["code"], "joint_review");
    let f = app
        .act(
            &reviewers[1],
            &f,
            "review",
            json!({ "verdict": "approve", "opinion": "同意" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "refused");
    assert_eq!(f["state"]["kind"], "refused");
    let refusal = f["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["department"] == "planning")
        .unwrap();
    assert_eq!(refusal["reason"], "电梯井占用规划道路红线");
    assert_eq!(
        clock_ledger(&app, &f),
        ledger(&[("start", None), ("stop", None)])
    );
    // The refusal is written, with the department's reason and the remedies (行政许可法 §38).
    let docs = crate::documents::issued_documents(&app, &resident, &id).await;
    crate::documents::assert_documents(
        &docs,
        &[
            ("acceptance_notice", &[]),
            (
                "refusal_to_file",
                &["不予备案通知书", "理由：电梯井占用规划道路红线", "行政复议"],
            ),
        ],
    );
}

/// 民法典 §278 (the item's own shares, without a city's rules): 2/3 of the area and of the
/// owners take part, and 3/4 of those taking part agree.
#[actix_web::test]
async fn an_elevator_filing_is_accepted_only_if_three_quarters_of_participating_owners_agree() {
    let app = under_the_civil_code().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;

    // 14 owners, 2 absent: 12 take part (≥ 2/3), and 9 of 12 is exactly 3/4.
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        roster_form(9, 14, 2),
        ELEVATOR_MATERIALS,
    )
    .await;
    let f = app.act(&window, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "forwarding");

    // 8 of 12 is less than 3/4, by head and by area.
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        roster_form(8, 14, 2),
        ELEVATOR_MATERIALS,
    )
    .await;
    let (status, body) = app.attempt(&window, &f, "accept", json!({})).await;
    assert_eq!(status, 422, "{body}");
    let mut codes = error_codes(&body);
    codes.sort();
    assert_eq!(codes, ["approval_area", "approval_headcount"]);
    assert!(error_paths(&body).iter().all(|p| *p == "form.owners"));
    assert_eq!(
        app.filing(&window, f["id"].as_str().unwrap()).await["state"]["code"],
        "intake"
    );

    // The same 9 agreeing owners are not enough when nobody is absent: 9 of 14 < 3/4.
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        roster_form(9, 14, 0),
        ELEVATOR_MATERIALS,
    )
    .await;
    let (status, body) = app.attempt(&window, &f, "accept", json!({})).await;
    assert_eq!(status, 422, "{body}");
    let mut codes = error_codes(&body);
    codes.sort();
    assert_eq!(codes, ["approval_area", "approval_headcount"]);

    // And all agreeing is not enough when too few take part: 9 of 14 < 2/3.
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        roster_form(9, 14, 5),
        ELEVATOR_MATERIALS,
    )
    .await;
    let (status, body) = app.attempt(&window, &f, "accept", json!({})).await;
    assert_eq!(status, 422, "{body}");
    let mut codes = error_codes(&body);
    codes.sort();
    assert_eq!(codes, ["participation_area", "participation_headcount"]);
}

/// 长沙 (the demo's and the tests' rules): 2/3 of ALL the area and of ALL the owners agree. Twelve
/// owners, eight of 100 m² taking part and four of 10 m² absent, six agreeing: 3/4 of those
/// taking part by area and by head, so 民法典 carries it; but six of twelve owners is less than
/// 2/3 of all of them (the area, 600 of 840 m², is enough).
#[actix_web::test]
async fn changsha_refuses_a_roster_the_civil_code_carries_where_too_few_of_all_owners_agree() {
    let mut form = elevator_form(0, 0);
    form["owners"] = (0..12)
        .map(|i| {
            let (area, vote) = match i {
                0..6 => ("100", "agree"),
                6..8 => ("100", "object"),
                _ => ("10", "absent"),
            };
            json!({ "unit": format!("{}0{}", i / 2 + 1, i % 2 + 1), "owner": format!("业主{}", i + 1),
                    "area": area, "vote": vote, "signed": true })
        })
        .collect();

    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;
    let guide: Value = app
        .get(&resident, "/api/v1/items/elevator-installation")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(guide["settings"]["consent_base"], "total");
    assert_eq!(guide["settings"]["consent_approval_headcount"], "2/3");
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        form.clone(),
        ELEVATOR_MATERIALS,
    )
    .await;
    let (status, body) = app.attempt(&window, &f, "accept", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_codes(&body), ["approval_headcount"]);
    assert_eq!(error_paths(&body), ["form.owners"]);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("6 人未达 12 人的 2/3"), "{message}");

    let app = under_the_civil_code().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        form,
        ELEVATOR_MATERIALS,
    )
    .await;
    let f = app.act(&window, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "forwarding");
}

/// An elevator filing's roster from (owner, exclusive area, vote) per unit, every vote signed.
fn owned_units(rows: &[(&str, &str, &str)]) -> Value {
    let mut form = elevator_form(0, 0);
    form["owners"] = rows
        .iter()
        .enumerate()
        .map(|(i, (owner, area, vote))| {
            json!({ "unit": format!("{}0{}", i / 2 + 1, i % 2 + 1), "owner": owner,
                    "area": area, "vote": vote, "signed": true })
        })
        .collect();
    form
}

/// 司法解释 on 建筑物区分所有权 §9: the headcount counts owners, not rows, so an owner of three
/// units is one head (their area still counts unit by unit). Each roster here is decided the
/// other way if rows were counted (by 民法典's 3/4 of those taking part).
#[actix_web::test]
async fn an_owner_of_three_units_is_counted_once_in_the_elevator_vote() {
    let app = under_the_civil_code().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;

    // Six of eight units agree: 3/4 by rows and by area. But 张三's three units are one
    // owner: four of six owners agree, less than 3/4.
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        owned_units(&[
            ("张三", "90", "agree"),
            ("张三", "90", "agree"),
            ("张三", "90", "agree"),
            ("李四", "90", "agree"),
            ("王五", "90", "agree"),
            ("赵六", "90", "agree"),
            ("钱七", "90", "object"),
            ("孙八", "90", "object"),
        ]),
        ELEVATOR_MATERIALS,
    )
    .await;
    let (status, body) = app.attempt(&window, &f, "accept", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_codes(&body), ["approval_headcount"]);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("4 人未达 6 人的 3/4"), "{message}");

    // 张三's three small units object and three owners of large units agree: three of six
    // rows (short of 3/4), but three of four owners and 270 of 300 m².
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        owned_units(&[
            ("张三", "10", "object"),
            ("张三", "10", "object"),
            ("张三", "10", "object"),
            ("李四", "90", "agree"),
            ("王五", "90", "agree"),
            ("赵六", "90", "agree"),
        ]),
        ELEVATOR_MATERIALS,
    )
    .await;
    let f = app.act(&window, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "forwarding");

    // One owner has one vote: 张三 agreeing on one unit and objecting on another is sent back
    // to be put right, naming the rows.
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        owned_units(&[
            ("张三", "90", "agree"),
            ("李四", "90", "agree"),
            ("张三", "90", "object"),
        ]),
        ELEVATOR_MATERIALS,
    )
    .await;
    let (status, body) = app.attempt(&window, &f, "accept", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_codes(&body), ["owner_votes_differ"]);
    assert_eq!(error_paths(&body), ["form.owners"]);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("「张三」在第 1、3 行"), "{message}");
}

/// An elevator filing in 长沙, its days on the calendar. The owners posted their notice on 30
/// September 2025, before National Day (1–8 October off, Saturday 11 October worked): taken down
/// on 28 October it lasted 14 working days and the submission is refused naming the posting
/// date; taken down on the 29th it lasted 15. Accepted on Thursday 30 October, the lead forwards
/// within 5 working days (by 6 November) and the departments sign within 5 of receiving it; the
/// filing's 10 working days end on 13 November. Filed, the owners report the works up to the
/// elevator in service, which must be registered for use within 30 days (特种设备安全法 §33):
/// the deadline is on the filing until the registration is reported.
#[actix_web::test]
async fn an_elevator_filing_runs_on_changsha_s_calendar_from_the_owners_notice_to_registration() {
    let app = with_long_sessions().await;
    at(&app, "2025-10-28");
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;
    let housing_clerk = app.staff("housing-clerk", "housing", &[Role::Clerk]).await;
    let planning = app
        .staff("planning-reviewer", "planning", &[Role::Reviewer])
        .await;
    let market = app
        .staff("market-reviewer", "market", &[Role::Reviewer])
        .await;

    let mut form = elevator_form(10, 12);
    form["elevator_count"] = json!(2);
    form["notice_posted_on"] = json!("2025-09-30");
    form["notice_removed_on"] = json!("2025-10-28");
    let f = app.create(&resident, "elevator-installation", form).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&resident, &id, ELEVATOR_MATERIALS).await;
    let f = app.filing(&resident, &id).await;
    let (status, body) = app.attempt(&resident, &f, "submit", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_paths(&body), ["form.notice_posted_on"]);
    assert_eq!(error_codes(&body), ["period_running"]);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("15 个工作日") && message.contains("2025-10-28"),
        "{message}"
    );
    assert_eq!(app.filing(&resident, &id).await["state"]["code"], "draft");

    // The notice stayed up one more working day.
    at(&app, "2025-10-29");
    let r = app
        .patch(
            &resident,
            &format!("/api/v1/filings/{id}"),
            json!({ "expected_version": f["version"], "form": { "notice_removed_on": "2025-10-29" } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let f: Value = r.json().await.unwrap();
    let f = app.act(&resident, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
    assert_eq!(f["clocks"]["statutory"]["phase"], "not_started");

    at(&app, "2025-10-30");
    let f = app.act(&window, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "forwarding");
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2025-11-13");
    assert_eq!(f["clocks"]["step"]["state"], "forwarding");
    assert_eq!(f["clocks"]["step"]["due_on"], "2025-11-06");

    at(&app, "2025-11-05");
    let f = app.filing(&housing_clerk, &id).await;
    let f = app
        .act(
            &housing_clerk,
            &f,
            "forward",
            json!({ "opinion": "材料齐全，转送并联备案" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "joint_review");
    assert_eq!(f["clocks"]["step"]["due_on"], "2025-11-12");
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2025-11-13");

    at(&app, "2025-11-10");
    let f = app.filing(&planning, &id).await;
    let f = app
        .act(
            &planning,
            &f,
            "review",
            json!({ "verdict": "approve", "opinion": "符合规划要求，同意备案" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "joint_review");
    assert_eq!(f["clocks"]["step"]["status"], "yellow");
    at(&app, "2025-11-12");
    let f = app.filing(&market, &id).await;
    let f = app
        .act(
            &market,
            &f,
            "review",
            json!({ "verdict": "approve", "opinion": "同意，安装前办理施工告知" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "filed");
    assert_eq!(f["state"]["label"]["zh"], "已备案");
    assert_eq!(f["clocks"]["statutory"]["phase"], "stopped");
    assert_eq!(f["clocks"]["statutory"]["stopped_on"], "2025-11-12");
    assert_eq!(f["clocks"]["statutory"]["used"], 9);
    assert!(f["clocks"]["step"].is_null());
    assert_eq!(f["form"]["elevator_count"], 2);
    assert_eq!(f["deadlines"], json!([]));

    // Life after the filing: the owners report each milestone; the filing stays decided.
    let steps = [
        ("2025-11-20", "report_start", "installing"),
        ("2026-01-15", "report_inspection", "inspected"),
        ("2026-01-20", "report_completion", "completed"),
        ("2026-01-26", "report_in_service", "in_service"),
    ];
    let mut f = f;
    for (on, action, state) in steps {
        at(&app, on);
        // Not the bureau's to report.
        let (status, _) = app.attempt(&housing_clerk, &f, action, json!({})).await;
        assert_eq!(status, 403, "{action}");
        f = app.act(&resident, &f, action, json!({})).await;
        assert_eq!(f["state"]["code"], state);
        assert_eq!(f["state"]["kind"], "approved");
    }
    assert_eq!(f["state"]["label"]["zh"], "已投入使用（待办理使用登记）");
    // 30 days from 26 January 2026.
    let registration = deadline(&f, "use_registration");
    assert_eq!(registration["due_on"], "2026-02-25", "{f}");
    assert_eq!(
        registration["label"]["zh"],
        "投入使用后三十日内办理特种设备使用登记"
    );

    at(&app, "2026-02-10");
    let f = app
        .act(&resident, &f, "report_registration", json!({}))
        .await;
    assert_eq!(f["state"]["code"], "registered");
    assert_eq!(f["deadlines"], json!([]));
    assert!(f["actions"].as_array().unwrap().is_empty());
    // Filed, then in use: the history keeps when each milestone was reported.
    let h: Value = app
        .get(&resident, &format!("/api/v1/filings/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let reported: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("action:report_"))
        .collect();
    assert_eq!(
        reported,
        [
            "action:report_start",
            "action:report_inspection",
            "action:report_completion",
            "action:report_in_service",
            "action:report_registration"
        ]
    );
}

/// 民法典 §278 (5): using the maintenance fund is a decision of its own, and more than half of the
/// participating area and owners must agree. Without the fund's vote the filing cannot be
/// submitted; with a tie it is not accepted; with one more owner agreeing it is.
#[actix_web::test]
async fn the_maintenance_fund_is_used_only_on_a_vote_of_its_own() {
    let app = TestApp::spawn().await;
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let window = app.staff("window-clerk", "window", &[Role::Clerk]).await;

    let mut form = elevator_form(12, 12);
    form["funding"] = json!("owners_and_fund");
    let f = app
        .create(&resident, "elevator-installation", form.clone())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&resident, &id, ELEVATOR_MATERIALS).await;
    let f = app.filing(&resident, &id).await;
    let (status, body) = app.attempt(&resident, &f, "submit", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_paths(&body),
        ["form.fund_owners", "materials.fund_consent"]
    );

    // Six of twelve agree to use the fund: half is not more than half.
    let fund_vote = |agree: usize| -> Value {
        (0..12)
            .map(|i| {
                json!({ "unit": format!("{}0{}", i / 2 + 1, i % 2 + 1), "owner": format!("业主{}", i + 1),
                        "area": "89.50", "vote": if i < agree { "agree" } else { "object" }, "signed": true })
            })
            .collect()
    };
    form["fund_owners"] = fund_vote(6);
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        form.clone(),
        &[ELEVATOR_MATERIALS, &["fund_consent"]].concat(),
    )
    .await;
    let (status, body) = app.attempt(&window, &f, "accept", json!({})).await;
    assert_eq!(status, 422, "{body}");
    let fund: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .filter(|(p, _)| *p == "form.fund_owners")
        .collect();
    assert_eq!(
        fund,
        [
            ("form.fund_owners", "approval_area"),
            ("form.fund_owners", "approval_headcount")
        ],
        "{body}"
    );
    let message = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "approval_headcount")
        .unwrap()["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("6 人未超过 12 人的 1/2"), "{message}");

    form["fund_owners"] = fund_vote(7);
    let f = submitted(
        &app,
        &resident,
        "elevator-installation",
        form,
        &[ELEVATOR_MATERIALS, &["fund_consent"]].concat(),
    )
    .await;
    let f = app.act(&window, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "forwarding");
}

// ---------------------------------------------------------------------------------------------
// 建设工程竣工验收消防备案

#[actix_web::test]
async fn a_fire_filing_is_received_drawn_failed_rectified_and_passed_on_recheck() {
    let app = TestApp::spawn_with(fire_draws(true)).await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    let inspector = app
        .staff("fire-inspector", "fire", &[Role::Inspector])
        .await;

    // A filing has no separate acceptance: the time counts from receipt.
    let f = submitted(
        &app,
        &builder,
        "fire-acceptance-filing",
        fire_form(),
        FIRE_MATERIALS,
    )
    .await;
    assert!(f["number"].as_str().unwrap().starts_with("XFBA-"));
    assert!(f["accepted_at"].is_null(), "received, not yet taken in");
    assert_eq!(clock_ledger(&app, &f), ledger(&[("start", None)]));

    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    assert!(
        f["accepted_at"].is_string(),
        "the filing receipt takes it in"
    );
    // The service drew it at once (under rules that draw every filing).
    assert_eq!(f["state"]["code"], "inspection");
    assert_eq!(f["draw"]["selected"], true);
    assert_eq!(
        clock_ledger(&app, &f),
        ledger(&[("start", None), ("stop", None)])
    );
    assert_eq!(
        open_tasks(&f),
        [("inspector".to_owned(), "fire".to_owned())]
    );
    // Inspecting is the inspector's, not the clerk's.
    let (status, _) = app
        .attempt(&clerk, &f, "pass_inspection", json!({ "opinion": "合格" }))
        .await;
    assert_eq!(status, 403);

    // A failed inspection needs both the reason and the opinion.
    let (status, body) = app
        .attempt(
            &inspector,
            &f,
            "fail_inspection",
            json!({ "reason": "疏散指示标志缺失" }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_paths(&body), ["input.opinion"]);
    let f = app
        .act(
            &inspector,
            &f,
            "fail_inspection",
            json!({ "reason": "疏散指示标志缺失", "opinion": "责令停止使用并整改" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "rectification");
    assert_eq!(f["state"]["kind"], "waiting_applicant");

    // The re-check follows a written request with the rectification report (原第三十七条).
    let (status, body) = app
        .attempt(&builder, &f, "request_recheck", json!({}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_paths(&body),
        [
            "input.reason",
            "materials.recheck_application",
            "materials.rectification_report"
        ]
    );
    app.upload_all(
        &builder,
        &id_of(&f),
        &["recheck_application", "rectification_report"],
    )
    .await;
    let f = app.filing(&builder, &id_of(&f)).await;
    let f = app
        .act(
            &builder,
            &f,
            "request_recheck",
            json!({ "reason": "已补设疏散指示标志" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "recheck");
    // Until the re-check passes, the filing says the building is not to be used
    // (51号令 原第三十七条), and the re-check has its seven working days.
    assert!(
        f["state"]["label"]["zh"]
            .as_str()
            .unwrap()
            .contains("复查合格前不得使用")
    );
    assert_eq!(f["clocks"]["step"]["days"], 7);

    let f = app
        .act(
            &inspector,
            &f,
            "pass_recheck",
            json!({ "opinion": "复查合格" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "passed");
    assert_eq!(f["state"]["kind"], "approved");
    assert!(f["closed_at"].is_string());
    // The spot check has its own step limits; the filing's clock stayed stopped.
    assert_eq!(
        clock_ledger(&app, &f),
        ledger(&[("start", None), ("stop", None)])
    );
    // The receipt marked 抽中, each result in writing (orig. §35–37).
    let number = f["number"].as_str().unwrap().to_owned();
    let docs = crate::documents::issued_documents(&app, &builder, &id_of(&f)).await;
    crate::documents::assert_documents(
        &docs,
        &[
            (
                "filing_receipt_selected",
                &[
                    "竣工验收消防备案凭证（抽中）",
                    &number,
                    "确定为检查对象",
                    "十五个工作日",
                ],
            ),
            (
                "check_failed",
                &["检查结果为不合格", "停止使用", "七个工作日"],
            ),
            ("check_passed", &["检查结果为合格", "第三十六条"]),
        ],
    );
}

#[actix_web::test]
async fn a_fire_filing_not_drawn_for_a_spot_check_closes_as_not_selected() {
    let app = TestApp::spawn_with(fire_draws(false)).await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    let f = submitted(
        &app,
        &builder,
        "fire-acceptance-filing",
        fire_form(),
        FIRE_MATERIALS,
    )
    .await;
    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    // The service drew it at once (under rules that draw no filing).
    assert_eq!(f["state"]["code"], "not_selected");
    assert_eq!(f["draw"]["selected"], false);
    assert_eq!(f["draw"]["label"]["zh"], "未抽中");
    assert_eq!(f["state"]["kind"], "approved");
    assert!(f["closed_at"].is_string());
    let f = app.filing(&builder, f["id"].as_str().unwrap()).await;
    assert_eq!(f["actions"], json!([]));
    // The filing receipt at once, marked 未抽中.
    let docs = crate::documents::issued_documents(&app, &builder, &id_of(&f)).await;
    crate::documents::assert_documents(
        &docs,
        &[(
            "filing_receipt_not_selected",
            &[
                "竣工验收消防备案凭证（未抽中）",
                "予以备案",
                "未被确定为检查对象",
            ],
        )],
    );
}

#[actix_web::test]
async fn a_fire_filing_is_told_at_once_what_to_supplement_and_the_notice_clears_after() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    let f = submitted(
        &app,
        &builder,
        "fire-acceptance-filing",
        fire_form(),
        FIRE_MATERIALS,
    )
    .await;
    let id = f["id"].as_str().unwrap().to_owned();

    // Nothing is missing, so a notice must say what to supplement.
    let (status, body) = app
        .attempt(&clerk, &f, "request_supplement", json!({}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_codes(&body), ["empty_notice"]);

    let item = "联系电话无法接通，请更正「联系电话」";
    let f = app
        .act(
            &clerk,
            &f,
            "request_supplement",
            json!({ "notice_items": [item] }),
        )
        .await;
    assert_eq!(f["state"]["code"], "supplement");
    assert_eq!(f["notice"]["items"], json!([item]));
    assert_eq!(f["notice"]["problems"], json!([]));
    assert_eq!(
        clock_ledger(&app, &f),
        ledger(&[("start", None), ("suspend", Some("supplement"))])
    );
    // The applicant sees the same notice.
    assert_eq!(
        app.filing(&builder, &id).await["notice"]["items"],
        json!([item])
    );

    // The applicant clears the field: the supplement is refused, naming it.
    let r = app
        .patch(
            &builder,
            &format!("/api/v1/filings/{id}"),
            json!({ "expected_version": f["version"], "form": { "contact_phone": null } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let f: Value = r.json().await.unwrap();
    let (status, body) = app.attempt(&builder, &f, "supplement", json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_paths(&body), ["form.contact_phone"]);

    let r = app
        .patch(
            &builder,
            &format!("/api/v1/filings/{id}"),
            json!({ "expected_version": f["version"], "form": { "contact_phone": "13900139000" } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let f: Value = r.json().await.unwrap();
    let f = app.act(&builder, &f, "supplement", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
    assert!(f["notice"].is_null());
    assert_eq!(
        clock_ledger(&app, &f),
        ledger(&[
            ("start", None),
            ("suspend", Some("supplement")),
            ("resume", None)
        ])
    );
    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    // Filed, and drawn at once: selected or not.
    assert!(f["draw"]["selected"].is_boolean(), "{f}");
}

// ---------------------------------------------------------------------------------------------
// 撤回

#[actix_web::test]
async fn an_applicant_withdraws_a_permit_under_review_with_a_reason_and_then_nothing_moves_it() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let f = submitted(
        &app,
        &builder,
        "construction-permit",
        construction_form(),
        CONSTRUCTION_MATERIALS,
    )
    .await;
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");

    for body in [json!({}), json!({ "reason": "   " })] {
        let (status, problem) = app.attempt(&builder, &f, "withdraw", body).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(error_paths(&problem), ["input.reason"]);
    }
    let f = app
        .act(
            &builder,
            &f,
            "withdraw",
            json!({ "reason": "项目设计方案调整，重新申报" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "withdrawn");
    assert_eq!(f["state"]["kind"], "withdrawn");
    assert!(f["closed_at"].is_string());
    assert_eq!(f["actions"], json!([]));
    assert_eq!(
        clock_ledger(&app, &f),
        ledger(&[("start", None), ("stop", None)])
    );

    let (status, body) = app
        .attempt(&builder, &f, "withdraw", json!({ "reason": "再次撤回" }))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "action_not_allowed");
    assert_eq!(body["allowed_actions"], json!([]));
    assert_eq!(body["current"]["state"], "withdrawn");
    let (status, body) = app
        .attempt(&reviewer, &f, "approve", json!({ "opinion": "同意" }))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "action_not_allowed");
    assert_eq!(body["allowed_actions"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// Filing numbers

#[actix_web::test]
async fn submissions_of_one_item_get_consecutive_numbers_and_a_refused_one_takes_none() {
    use chrono::Datelike;
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    // The number's year is the authority's (UTC+8).
    let year = app
        .clock_now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .year();
    let number = |f: &Value| f["number"].as_str().unwrap().to_owned();

    let first = submitted(
        &app,
        &builder,
        "fire-acceptance-filing",
        fire_form(),
        FIRE_MATERIALS,
    )
    .await;

    // A submission refused for missing materials gets no number and uses none up.
    let draft = app
        .create(&builder, "fire-acceptance-filing", fire_form())
        .await;
    let (status, body) = app.attempt(&builder, &draft, "submit", json!({})).await;
    assert_eq!(status, 422, "{body}");
    let id = draft["id"].as_str().unwrap();
    assert!(app.filing(&builder, id).await["number"].is_null());
    app.upload_all(&builder, id, FIRE_MATERIALS).await;
    let draft = app.filing(&builder, id).await;
    let second = app.act(&builder, &draft, "submit", json!({})).await;

    let third = submitted(
        &app,
        &builder,
        "fire-acceptance-filing",
        fire_form(),
        FIRE_MATERIALS,
    )
    .await;
    assert_eq!(
        [number(&first), number(&second), number(&third)],
        [1, 2, 3].map(|n| format!("XFBA-{year}-{n:06}"))
    );
}

/// A construction permit issued on `day` (a long session: the tests walk months on).
pub async fn issued_permit(app: &TestApp, day: &str) -> (User, User, String) {
    at(app, day);
    let builder = app
        .mail_user(
            "builder",
            None,
            &[Role::Applicant],
            permits::domain::Lang::Zh,
        )
        .await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &id, CONSTRUCTION_MATERIALS).await;
    let f = app.filing(&builder, &id).await;
    app.act(&builder, &f, "submit", json!({})).await;
    let f = app.filing(&clerk, &id).await;
    app.act(&clerk, &f, "accept", json!({})).await;
    let f = app.filing(&reviewer, &id).await;
    let f = app
        .act(&reviewer, &f, "approve", json!({ "opinion": "符合条件" }))
        .await;
    assert_eq!(f["state"]["code"], "issued");
    (builder, reviewer, id)
}

fn long_sessions(s: &mut permits::config::Settings) {
    s.auth.token_ttl_hours = 24 * 800;
}

/// The start-of-works deadline as the applicant sees it.
fn start_deadline(f: &Value) -> &Value {
    f["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "start_construction")
        .unwrap_or(&Value::Null)
}

/// 建筑法 §9, 18号令 §8: three months to start, two extensions of three months applied for
/// before the period ends, a third refused; when the last period passes with no start the
/// permit lapses (废止) by the scheduled scan, as the service's own audited action, and the
/// applicant is told.
#[actix_web::test]
async fn an_unstarted_permit_is_extended_twice_refused_a_third_time_and_lapses_by_the_scan() {
    let app = TestApp::spawn_with(long_sessions).await;
    let (builder, _reviewer, id) = issued_permit(&app, "2026-03-02").await;
    let f = app.filing(&builder, &id).await;
    assert_eq!(start_deadline(&f)["due_on"], "2026-06-02");

    // A scan on the deadline's last day moves nothing.
    at(&app, "2026-06-02");
    let r = app.run_job("deadline_scan").await;
    assert_eq!(r["expired"]["moved"], json!([]), "{r}");

    // Extended on its last day, and again: three months each, from the day it was due.
    let f = app.filing(&builder, &id).await;
    let f = app
        .act(
            &builder,
            &f,
            "extend_start",
            json!({ "reason": "征收未完成" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "issued");
    assert_eq!(start_deadline(&f)["due_on"], "2026-09-02");
    assert_eq!(start_deadline(&f)["extensions"], 1);
    at(&app, "2026-08-20");
    let f = app.filing(&builder, &id).await;
    let f = app
        .act(
            &builder,
            &f,
            "extend_start",
            json!({ "reason": "施工图变更" }),
        )
        .await;
    assert_eq!(start_deadline(&f)["due_on"], "2026-12-02");
    assert_eq!(start_deadline(&f)["extensions"], 2);

    // A third is refused, naming the rule.
    let body = app
        .refused(
            &builder,
            &f,
            "extend_start",
            json!({ "reason": "资金未到位" }),
        )
        .await;
    assert_eq!(body["errors"][0]["code"], "extensions_used", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("延期以2次为限"),
        "{body}"
    );

    // The day after the last day, the scan lapses it: the service's action, in the history.
    at(&app, "2026-12-03");
    let outbox_before = app.outbox().len();
    let r = app.run_job("deadline_scan").await;
    let number = f["number"].as_str().unwrap();
    assert_eq!(r["expired"]["moved"], json!([number]), "{r}");
    let f = app.filing(&builder, &id).await;
    assert_eq!(f["state"]["code"], "lapsed");
    assert_eq!(f["state"]["label"]["zh"], "施工许可证已废止");
    assert_eq!(f["deadlines"], json!([]));
    assert!(f["actions"].as_array().unwrap().is_empty());
    let h: Value = app
        .get(&builder, &format!("/api/v1/filings/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "action:lapse");
    assert_eq!(
        last["actor_id"],
        permits::services::auth::SYSTEM_USER.to_string()
    );
    let told: Vec<String> = app.outbox()[outbox_before..]
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(
        told,
        [format!(
            "【办件进度】{number} 建筑工程施工许可证核发：施工许可证已废止"
        )]
    );
    // A second scan finds nothing left to do.
    let r = app.run_job("deadline_scan").await;
    assert_eq!(r["expired"]["moved"], json!([]), "{r}");
    assert_eq!(r["expired"]["failed"], json!([]), "{r}");
    app.allow_unsent_mail();
}

/// An extension asked for after the period ended is refused; works reported started end the
/// deadline, so nothing lapses; a stoppage of a year or more needs the issuer's re-check (核验)
/// before works resume.
#[actix_web::test]
async fn a_late_extension_is_refused_and_a_started_permit_does_not_lapse() {
    let app = TestApp::spawn_with(long_sessions).await;
    let (builder, reviewer, id) = issued_permit(&app, "2026-03-02").await;

    at(&app, "2026-06-03");
    let f = app.filing(&builder, &id).await;
    let body = app
        .refused(
            &builder,
            &f,
            "extend_start",
            json!({ "reason": "征收未完成" }),
        )
        .await;
    assert_eq!(body["errors"][0]["code"], "deadline_passed", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("已于2026年6月2日届满"),
        "{body}"
    );

    // The start report, late but before the scan, ends the deadline: the scan leaves it be.
    let f = app.act(&builder, &f, "report_start", json!({})).await;
    assert_eq!(f["state"]["code"], "under_construction");
    assert_eq!(f["deadlines"], json!([]));
    let r = app.run_job("deadline_scan").await;
    assert_eq!(r["expired"]["moved"], json!([]), "{r}");
    assert_eq!(
        app.filing(&builder, &id).await["state"]["code"],
        "under_construction"
    );

    // Works stop; resumed within the year the applicant reports it alone.
    let f = app
        .act(
            &builder,
            &f,
            "report_suspension",
            json!({ "reason": "资金问题" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "works_suspended");
    at(&app, "2026-09-01");
    let f = app.act(&builder, &f, "report_resumption", json!({})).await;
    assert_eq!(f["state"]["code"], "under_construction");

    // After a year's stoppage the report is refused and the issuer re-checks the permit.
    let f = app
        .act(
            &builder,
            &f,
            "report_suspension",
            json!({ "reason": "诉讼" }),
        )
        .await;
    at(&app, "2027-09-02");
    app.refused(&builder, &f, "report_resumption", json!({}))
        .await;
    let f = app.filing(&reviewer, &id).await;
    let f = app
        .act(
            &reviewer,
            &f,
            "verify_resumption",
            json!({ "opinion": "经核验，仍符合施工条件" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "under_construction");

    // The issuer revokes it (行政许可法 §69): the applicant is told, with the reasons.
    let f = app
        .act(
            &reviewer,
            &f,
            "revoke",
            json!({ "reason": "以欺骗手段取得" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "revoked");
    let last = app.outbox().last().unwrap().clone();
    assert!(last.subject.ends_with("施工许可已撤销"), "{}", last.subject);
    assert!(
        last.body_text.contains("以欺骗手段取得"),
        "{}",
        last.body_text
    );
    app.allow_unsent_mail();
}

/// 特殊建设工程消防设计审查 with a special fire design (51号令 原第十七条至第二十二条): accepted
/// into the referral, sent to the province's expert review, whose time is not counted in the 15
/// working days (行政许可法 §45: the applicant is told in writing), then passed.
#[actix_web::test]
async fn a_special_fire_design_goes_through_expert_review_with_the_clock_suspended() {
    let app = TestApp::spawn_with(long_sessions).await;
    at(&app, "2026-03-02");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app.staff("fire-reviewer", "fire", &[Role::Reviewer]).await;
    let form = json!({
        "project_name": "示范商业综合体",
        "builder_name": "示范置业有限公司",
        "builder_credit_code": "91350100M000100Y43",
        "project_address": "示范区文昌路 99 号",
        "works_type": "new",
        "special_category": "hotel_commercial",
        "category_floor_area": "32000",
        "total_floor_area": "45000",
        "design_unit": "示范建筑设计研究院有限公司",
        "design_unit_credit_code": "91110000600037341L",
        "design_qualification_no": "A135000001",
        "special_design_case": "new_technology",
        "foreign_standard": false,
        "contact_name": "李工",
        "contact_phone": "13800138000"
    });
    // The special design needs its file and two cases: submission names them.
    let f = app
        .create(&builder, "special-fire-design-review", form)
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(
        &builder,
        &id,
        &[
            "application_form",
            "fire_design_documents",
            "planning_permit",
        ],
    )
    .await;
    let f = app.filing(&builder, &id).await;
    let body = app.refused(&builder, &f, "submit", json!({})).await;
    assert_eq!(
        error_paths(&body),
        [
            "materials.special_design_file",
            "materials.application_cases"
        ]
    );
    app.upload_all(&builder, &id, &["special_design_file", "application_cases"])
        .await;
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "submit", json!({})).await;
    assert!(f["number"].as_str().unwrap().starts_with("XFSJ-"));

    // A special design cannot go the plain way, which would skip the expert review.
    let f = app.filing(&clerk, &id).await;
    let body = app.refused(&clerk, &f, "accept", json!({})).await;
    assert_eq!(body["errors"][0]["code"], "field_not_in", "{body}");
    assert_eq!(
        body["errors"][0]["path"], "form.special_design_case",
        "{body}"
    );

    // Accepted into the referral on Monday 2 March: 15 working days, to 23 March.
    let f = app.act(&clerk, &f, "accept_special", json!({})).await;
    assert_eq!(f["state"]["code"], "referral");
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2026-03-23");

    // Sent to the province on Wednesday 4 March (2 days used): the clock stops for the review.
    at(&app, "2026-03-04");
    let f = app.filing(&reviewer, &id).await;
    let f = app.act(&reviewer, &f, "refer_to_province", json!({})).await;
    assert_eq!(f["state"]["code"], "expert_review");
    assert_eq!(f["clocks"]["statutory"]["phase"], "suspended");
    assert_eq!(
        f["clocks"]["statutory"]["suspended_reason"],
        "expert_review"
    );
    assert_eq!(f["clocks"]["statutory"]["used"], 2);
    // Its own limit: at most 20 working days, to 1 April.
    assert_eq!(f["clocks"]["step"]["due_on"], "2026-04-01");

    // The opinion comes back on Wednesday 18 March: 13 days left from the 19th, past the
    // Qingming holiday (4–6 April), to 7 April.
    at(&app, "2026-03-18");
    let f = app
        .act(
            &reviewer,
            &f,
            "resume_review",
            json!({ "opinion": "专家评审通过（7人中6人同意）" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "review");
    assert_eq!(f["clocks"]["statutory"]["used"], 2);
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2026-04-07");

    at(&app, "2026-03-20");
    let f = app
        .act(
            &reviewer,
            &f,
            "approve",
            json!({ "opinion": "消防设计审查合格" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "passed");
    assert_eq!(f["clocks"]["statutory"]["used"], 4);
    assert_eq!(
        clock_ledger(&app, &f),
        ledger(&[
            ("start", None),
            ("suspend", Some("expert_review")),
            ("resume", None),
            ("stop", None)
        ])
    );
    let docs = crate::documents::issued_documents(&app, &builder, &id_of(&f)).await;
    crate::documents::assert_documents(
        &docs,
        &[
            ("acceptance_notice", &["受理通知书"]),
            (
                "design_approved",
                &[
                    "特殊建设工程消防设计审查意见书（合格）",
                    "消防设计审查合格",
                    "第二十二条",
                ],
            ),
        ],
    );
}

/// 特殊建设工程消防验收: accepted, the site assessment (现场评定) and the opinion; a failed
/// acceptance says use is forbidden.
#[actix_web::test]
async fn a_special_fire_acceptance_goes_through_the_site_assessment_to_its_opinion() {
    let app = TestApp::spawn_with(long_sessions).await;
    at(&app, "2026-03-02");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app.staff("fire-reviewer", "fire", &[Role::Reviewer]).await;
    let inspector = app
        .staff("fire-inspector", "fire", &[Role::Inspector])
        .await;
    let item: Value = app
        .client
        .get(app.url("/api/v1/items/special-fire-acceptance"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A form from the item's own fields: every required text, date, select and number filled.
    let mut form = serde_json::Map::new();
    for fld in item["fields"].as_array().unwrap() {
        if fld["required"] != true {
            continue;
        }
        let code = fld["code"].as_str().unwrap().to_owned();
        let v = match fld["type"].as_str().unwrap() {
            "credit_code" => json!("91350100M000100Y43"),
            "phone" => json!("13800138000"),
            "date" => json!("2026-02-27"),
            "select" => fld["options"][0]["value"].clone(),
            "boolean" => json!(true),
            "area" | "amount" | "number" | "integer" => json!("12000"),
            _ => json!("示范商业综合体"),
        };
        form.insert(code, v);
    }
    let materials: Vec<String> = item["materials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["requirement"] == "required" && m.get("required_when").is_none_or(Value::is_null)
        })
        .map(|m| m["code"].as_str().unwrap().to_owned())
        .collect();
    let materials: Vec<&str> = materials.iter().map(String::as_str).collect();
    let f = submitted(
        &app,
        &builder,
        "special-fire-acceptance",
        Value::Object(form),
        &materials,
    )
    .await;
    assert!(f["number"].as_str().unwrap().starts_with("XFYS-"));
    let f = app.filing(&clerk, &id_of(&f)).await;
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");
    let f = app.filing(&reviewer, &id_of(&f)).await;
    let f = app
        .act(&reviewer, &f, "start_site_assessment", json!({}))
        .await;
    assert_eq!(f["state"]["code"], "site_assessment");
    assert_eq!(
        f["clocks"]["statutory"]["suspended_reason"],
        "site_inspection"
    );
    at(&app, "2026-03-05");
    let f = app.filing(&inspector, &id_of(&f)).await;
    let f = app
        .act(
            &inspector,
            &f,
            "record_site_assessment",
            json!({ "opinion": "现场评定：疏散宽度不足" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "opinion");
    let f = app.filing(&reviewer, &id_of(&f)).await;
    let f = app
        .act(
            &reviewer,
            &f,
            "refuse",
            json!({ "reason": "疏散宽度不符合规范", "opinion": "消防验收不合格" }),
        )
        .await;
    assert_eq!(f["state"]["code"], "failed");
    assert!(
        f["state"]["label"]["zh"]
            .as_str()
            .unwrap()
            .contains("禁止投入使用"),
        "{}",
        f["state"]["label"]
    );
    let docs = crate::documents::issued_documents(&app, &builder, &id_of(&f)).await;
    crate::documents::assert_documents(
        &docs,
        &[
            ("acceptance_notice", &["受理通知书"]),
            (
                "acceptance_failed",
                &[
                    "消防验收意见书（不合格）",
                    "理由：疏散宽度不符合规范",
                    "禁止投入使用",
                    "行政诉讼",
                ],
            ),
        ],
    );
}

fn id_of(f: &Value) -> String {
    f["id"].as_str().unwrap().to_owned()
}

/// The builder files within five working days after completion acceptance (51号令 原第三十四条):
/// that is the builder's deadline, not the bureau's. A filing submitted eight working days after
/// is shown as late (消防法 §58 ¶3), one on the fifth working day is not, and a draft shows
/// where it would stand if submitted today.
#[actix_web::test]
async fn a_fire_filing_submitted_eight_working_days_after_completion_is_marked_late() {
    let app = TestApp::spawn_with(long_sessions).await;
    at(&app, "2026-11-09");
    let builder = app.applicant("builder").await;
    let late_flag = |f: &Value| -> Vec<String> {
        f["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["code"].as_str().unwrap().to_owned())
            .collect()
    };
    // Completion acceptance on Monday 2 November 2026: the five working days end on Monday 9.
    let mut form = fire_form();
    form["completion_acceptance_date"] = json!("2026-11-02");
    let on_time = submitted(
        &app,
        &builder,
        "fire-acceptance-filing",
        form.clone(),
        FIRE_MATERIALS,
    )
    .await;
    assert_eq!(late_flag(&on_time), Vec::<String>::new());
    // The bureau's own limit is local configuration: one working day from receipt.
    assert_eq!(on_time["clocks"]["statutory"]["days"], 1);
    assert_eq!(on_time["clocks"]["statutory"]["due_on"], "2026-11-10");

    let draft = app
        .create(&builder, "fire-acceptance-filing", form.clone())
        .await;
    at(&app, "2026-11-12");
    let draft = app.filing(&builder, &id_of(&draft)).await;
    assert_eq!(
        late_flag(&draft),
        ["late_filing"],
        "as it would stand today"
    );
    let late = submitted(
        &app,
        &builder,
        "fire-acceptance-filing",
        form,
        FIRE_MATERIALS,
    )
    .await;
    assert_eq!(late_flag(&late), ["late_filing"]);
    assert_eq!(
        late["flags"][0]["label"]["zh"],
        "逾期备案（竣工验收合格之日起超过5个工作日）"
    );
    // It stays late: the flag reads the day of submission, not today.
    at(&app, "2027-01-04");
    let on_time = app.filing(&builder, &id_of(&on_time)).await;
    assert_eq!(late_flag(&on_time), Vec::<String>::new());
}

/// Where supervision is compulsory (建设工程质量管理条例 §12) the permit names the supervision
/// firm and its chief engineer and the supervision contract is filed; unsupervised works need
/// none of them.
#[actix_web::test]
async fn a_supervised_permit_names_its_supervisor_and_files_the_contract() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let mut form = construction_form();
    for k in [
        "supervision_unit",
        "supervision_unit_credit_code",
        "chief_supervisor",
    ] {
        form.as_object_mut().unwrap().remove(k);
    }
    let f = app
        .create(&builder, "construction-permit", form.clone())
        .await;
    let others: Vec<&str> = CONSTRUCTION_MATERIALS
        .iter()
        .copied()
        .filter(|m| *m != "supervision_contract")
        .collect();
    app.upload_all(&builder, &id_of(&f), &others).await;
    let f = app.filing(&builder, &id_of(&f)).await;
    let body = app.refused(&builder, &f, "submit", json!({})).await;
    assert_eq!(
        error_paths(&body),
        [
            "form.supervision_unit",
            "form.supervision_unit_credit_code",
            "form.chief_supervisor",
            "materials.supervision_contract"
        ]
    );

    form["supervised"] = json!(false);
    let f = app.create(&builder, "construction-permit", form).await;
    app.upload_all(&builder, &id_of(&f), &others).await;
    let f = app.filing(&builder, &id_of(&f)).await;
    let f = app.act(&builder, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
}

/// 告知承诺 (2023 §37): only a general project files on a written commitment, and then with the
/// 承诺书; a key project is told so, in the form's words.
#[actix_web::test]
async fn only_a_general_project_files_on_a_written_commitment_and_with_the_letter() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let mut form = fire_form();
    form["commitment"] = json!(true);
    form["commitment_excluded"] = json!(false);
    form["project_class"] = json!("key");
    let f = app
        .create(&builder, "fire-acceptance-filing", form.clone())
        .await;
    app.upload_all(&builder, &id_of(&f), FIRE_MATERIALS).await;
    let f = app.filing(&builder, &id_of(&f)).await;
    let body = app.refused(&builder, &f, "submit", json!({})).await;
    assert_eq!(
        error_paths(&body),
        [
            "materials.commitment_letter",
            "form.commitment",
            "form.project_class"
        ]
    );
    let messages: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages[1], "「采用告知承诺制（仅一般项目）」须为：否");
    assert_eq!(messages[2], "「工程类别」须为：一般项目");

    // Works that add floors cannot stand on a commitment.
    form["project_class"] = json!("general");
    form["commitment_excluded"] = json!(true);
    let f = app
        .create(&builder, "fire-acceptance-filing", form.clone())
        .await;
    app.upload_all(&builder, &id_of(&f), FIRE_MATERIALS).await;
    app.upload_all(&builder, &id_of(&f), &["commitment_letter"])
        .await;
    let f = app.filing(&builder, &id_of(&f)).await;
    let body = app.refused(&builder, &f, "submit", json!({})).await;
    assert_eq!(
        error_paths(&body),
        ["form.commitment", "form.commitment_excluded"]
    );

    form["commitment_excluded"] = json!(false);
    let f = app.create(&builder, "fire-acceptance-filing", form).await;
    app.upload_all(&builder, &id_of(&f), FIRE_MATERIALS).await;
    let f = app.filing(&builder, &id_of(&f)).await;
    let body = app.refused(&builder, &f, "submit", json!({})).await;
    assert_eq!(error_paths(&body), ["materials.commitment_letter"]);
    app.upload_all(&builder, &id_of(&f), &["commitment_letter"])
        .await;
    let f = app.filing(&builder, &id_of(&f)).await;
    let f = app.act(&builder, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
}

/// The clerk confirms the class a builder declared, or corrects it, with the filing receipt
/// (the class sets the draw's ratio): only the fields the action `sets`, each checked, the
/// guards judging the form as it will be, the change in the history.
#[actix_web::test]
async fn the_clerk_confirms_or_corrects_the_declared_class_with_the_receipt() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;
    let mut form = fire_form();
    form["commitment"] = json!(true);
    form["commitment_excluded"] = json!(false);
    let f = app.create(&builder, "fire-acceptance-filing", form).await;
    app.upload_all(&builder, &id_of(&f), FIRE_MATERIALS).await;
    app.upload_all(&builder, &id_of(&f), &["commitment_letter"])
        .await;
    let f = app.filing(&builder, &id_of(&f)).await;
    let f = app.act(&builder, &f, "submit", json!({})).await;
    let f = app.filing(&clerk, &id_of(&f)).await;
    let receipt = f["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "issue_receipt")
        .unwrap();
    assert_eq!(receipt["sets"], json!(["project_class"]));

    // A value the field cannot hold, and a field the action does not set: both named.
    let body = app
        .refused(
            &clerk,
            &f,
            "issue_receipt",
            json!({ "fields": { "project_class": "huge", "builder_name": "别人" } }),
        )
        .await;
    assert_eq!(
        error_paths(&body),
        ["input.fields.builder_name", "form.project_class"]
    );
    // A key project cannot stand on a commitment: the guards read the class as corrected.
    let body = app
        .refused(
            &clerk,
            &f,
            "issue_receipt",
            json!({ "fields": { "project_class": "key" } }),
        )
        .await;
    assert_eq!(
        error_paths(&body),
        ["form.commitment", "form.project_class"]
    );
    let after = app.filing(&clerk, &id_of(&f)).await;
    assert_eq!(after["form"]["project_class"], "general", "nothing written");
    assert_eq!(after["version"], f["version"]);

    // Confirmed as declared: the same value sent changes nothing and is not recorded.
    let g = app
        .act(
            &clerk,
            &f,
            "issue_receipt",
            json!({ "fields": { "project_class": "general" } }),
        )
        .await;
    assert!(g["draw"]["selected"].is_boolean(), "filed and drawn: {g}");
    let h: Value = app
        .get(&clerk, &format!("/api/v1/filings/{}/history", id_of(&g)))
        .await
        .json()
        .await
        .unwrap();
    // The receipt's entry (the draw's action follows it).
    let last = receipt_entry(&h);
    assert_eq!(last["action"], "action:issue_receipt");
    assert!(last["payload"].get("set").is_none(), "{last}");

    // Another filing, declared general without a commitment, corrected to key.
    let f = submitted(
        &app,
        &builder,
        "fire-acceptance-filing",
        fire_form(),
        FIRE_MATERIALS,
    )
    .await;
    let f = app.filing(&clerk, &id_of(&f)).await;
    let f = app
        .act(
            &clerk,
            &f,
            "issue_receipt",
            json!({ "fields": { "project_class": "key" } }),
        )
        .await;
    assert_eq!(f["form"]["project_class"], "key");
    let h: Value = app
        .get(&builder, &format!("/api/v1/filings/{}/history", id_of(&f)))
        .await
        .json()
        .await
        .unwrap();
    let last = receipt_entry(&h);
    assert_eq!(last["payload"]["set"], json!({ "project_class": "key" }));
}

fn receipt_entry(history: &Value) -> &Value {
    history
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["action"] == "action:issue_receipt")
        .unwrap()
}

/// 变更: the issuer approves a change of contractor's project manager on an issued permit; the
/// form takes the new values and the history keeps them, the ID number masked.
#[actix_web::test]
async fn the_issuer_approves_a_change_of_project_manager_and_the_history_keeps_it() {
    let app = TestApp::spawn_with(long_sessions).await;
    let (builder, reviewer, id) = issued_permit(&app, "2026-03-02").await;
    let f = app.filing(&reviewer, &id).await;
    let body = app
        .refused(
            &reviewer,
            &f,
            "approve_change",
            json!({ "reason": "原项目经理调离", "opinion": "同意变更",
                    "fields": { "project_manager_id": "123" } }),
        )
        .await;
    assert_eq!(error_paths(&body), ["form.project_manager_id"]);
    let f = app
        .act(
            &reviewer,
            &f,
            "approve_change",
            json!({ "reason": "原项目经理调离", "opinion": "同意变更",
                    "fields": { "project_manager": "李建设", "project_manager_id": "110101199003074477" } }),
        )
        .await;
    assert_eq!(
        f["state"]["code"], "issued",
        "a change keeps the permit where it is"
    );
    let mine = app.filing(&builder, &id).await;
    assert_eq!(mine["form"]["project_manager"], "李建设");
    assert_eq!(mine["form"]["project_manager_id"], "110101199003074477");
    let h: Value = app
        .get(&builder, &format!("/api/v1/filings/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let last = h.as_array().unwrap().last().unwrap();
    assert_eq!(last["action"], "action:approve_change");
    // Both are personal: the log says they changed, masked.
    let set = &last["payload"]["set"];
    assert_eq!(set["project_manager"], "李**", "{set}");
    let masked = set["project_manager_id"].as_str().unwrap();
    assert!(
        masked.starts_with("1101") && !masked.contains("19900307"),
        "{masked}"
    );
    app.allow_unsent_mail();
}

/// 建筑法 §7 ¶2: works whose start-of-works report was approved under the State Council's rules
/// need no permit, whatever their size: the window says so, and cannot accept them.
#[actix_web::test]
async fn works_with_an_approved_start_report_need_no_permit() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let mut form = construction_form();
    form["start_report_approved"] = json!(true);
    let f = submitted(
        &app,
        &builder,
        "construction-permit",
        form,
        CONSTRUCTION_MATERIALS,
    )
    .await;
    let f = app.filing(&clerk, &id_of(&f)).await;
    let body = app.refused(&clerk, &f, "accept", json!({})).await;
    assert_eq!(error_paths(&body), ["form.start_report_approved"], "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        "「已按国务院规定的权限和程序批准开工报告」为「是」，不能进行此操作"
    );
    let f = app.act(&clerk, &f, "not_required", json!({})).await;
    assert_eq!(f["state"]["code"], "not_required");
}

/// Lists a region sets whole: a province's project classes for the fire filing (吉林 draws
/// crowded places, other works and unfiled works at different ratios) and a city's departments
/// for the elevator's parallel filing.
#[actix_web::test]
async fn a_region_sets_the_fire_classes_and_the_elevator_departments() {
    let app = TestApp::spawn_with(with_rules(
        "testprovince",
        r#"
[region]
name = { zh = "测试省", en = "Test province" }

[items.fire-acceptance-filing]
project_classes = [
  { value = "crowded", label = { zh = "人员密集场所", en = "Crowded place" } },
  { value = "general", label = { zh = "其他建设工程", en = "Other works" } },
  { value = "unfiled", label = { zh = "未依法备案受处罚的工程", en = "Unfiled and penalised" } },
]

[items.elevator-installation]
joint_review_tasks = [
  { department = "planning", label = { zh = "规划部门会签", en = "Planning" } },
  { department = "market", label = { zh = "市场监管部门会签", en = "Market regulation" } },
  { department = "fire", label = { zh = "消防部门会签", en = "Fire" } },
]
"#,
    ))
    .await;
    let guide = |code: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(app.url(&format!("/api/v1/items/{code}")))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let fire = guide("fire-acceptance-filing").await;
    let class = fire["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "project_class")
        .unwrap();
    let values: Vec<&str> = class["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["crowded", "general", "unfiled"]);

    let elevator = guide("elevator-installation").await;
    let joint = elevator["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "joint_review")
        .unwrap();
    let departments: Vec<&str> = joint["parallel"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["department"].as_str().unwrap())
        .collect();
    assert_eq!(departments, ["planning", "market", "fire"]);

    // A filing declares one of the province's classes; one the province does not have is told.
    let builder = app.applicant("builder").await;
    let mut form = fire_form();
    form["project_class"] = json!("key");
    let r = app
        .post(
            &builder,
            "/api/v1/filings",
            json!({ "item": "fire-acceptance-filing", "form": form }),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_paths(&body), ["form.project_class"]);
}
