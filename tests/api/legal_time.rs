//! Legal time through the API: calendars, clocks on filings, suspension, extension, colours,
//! loading a new year's notice, urgency in the queue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::helpers::*;

/// These tests move the clock by days: tokens must outlive that.
async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| s.auth.token_ttl_hours = 24 * 365 * 3).await
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[actix_web::test]
async fn a_year_of_the_calendar_lists_its_special_days_and_an_unpublished_year_is_provisional() {
    let app = spawn().await;
    let (status, y) = json_of(
        app.client
            .get(app.url("/api/v1/calendars/CN/2025"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(y["provisional"], false);
    assert_eq!(y["notice"], "国办发明电〔2024〕12号");
    let days = y["days"].as_array().unwrap();
    let kind_of = |date: &str| {
        days.iter()
            .find(|d| d["date"] == date)
            .map(|d| d["kind"].clone())
    };
    assert_eq!(kind_of("2025-10-08"), Some(json!("holiday")));
    assert_eq!(kind_of("2025-09-28"), Some(json!("makeup_workday")));
    assert_eq!(kind_of("2025-10-09"), None);

    let (_, y) = json_of(
        app.client
            .get(app.url("/api/v1/calendars/CN/2027"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(y["provisional"], true);
    assert_eq!(y["days"].as_array().unwrap().len(), 13);

    let r = app
        .client
        .get(app.url("/api/v1/calendars/XX/2025"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[actix_web::test]
async fn the_working_day_calculator_answers_and_refuses_bad_input_with_every_problem() {
    let app = spawn().await;
    let (status, a) = json_of(
        app.client
            .get(app.url("/api/v1/calendars/CN/working-days/add?from=2025-09-26&days=15"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(a, json!({ "date": "2025-10-23", "provisional": false }));

    let (_, a) = json_of(
        app.client
            .get(app.url("/api/v1/calendars/CN/working-days/add?from=2026-12-28&days=5"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a["provisional"], true);

    let (status, p) = json_of(
        app.client
            .get(app.url("/api/v1/calendars/CN/working-days/add?from=2025-02-30&days=-1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(error_paths(&p), ["from", "days"]);
    let r = app
        .client
        .get(app.url("/api/v1/calendars/CN/working-days/add?from=1999-01-01&days=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

/// A construction permit submitted and accepted on `date` (clerk and reviewer returned).
async fn accepted_permit(app: &TestApp, date: &str) -> (User, User, User, Value) {
    at(app, date);
    let builder = app.applicant("builder").await;
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
    let f = app.act(&clerk, &f, "accept", json!({})).await;
    (builder, clerk, reviewer, f)
}

#[actix_web::test]
async fn an_accepted_filing_shows_its_due_dates_and_turns_yellow_then_red() {
    let app = spawn().await;
    let (_, _, reviewer, f) = accepted_permit(&app, "2025-09-26").await;
    let id = f["id"].as_str().unwrap().to_owned();
    let c = &f["clocks"];
    assert_eq!(c["statutory"]["phase"], "running");
    assert_eq!(c["statutory"]["started_on"], "2025-09-26");
    // 7 working days after Friday 09-26: 09-28 (make-up Sunday), 09-29, 09-30, 10-09, 10-10,
    // 10-11 (make-up Saturday), 10-13.
    assert_eq!(c["statutory"]["due_on"], "2025-10-13");
    assert_eq!(c["promised"]["due_on"], "2025-09-30");
    assert_eq!(c["statutory"]["status"], "green");
    assert_eq!(c["next_due_on"], "2025-09-30");

    at(&app, "2025-09-29");
    let f = app.filing(&reviewer, &id).await;
    assert_eq!(f["clocks"]["promised"]["status"], "yellow");
    at(&app, "2025-10-09");
    let f = app.filing(&reviewer, &id).await;
    assert_eq!(f["clocks"]["promised"]["status"], "red");
    assert_eq!(f["clocks"]["statutory"]["status"], "green");
    assert_eq!(f["clocks"]["statutory"]["used"], 4);
    at(&app, "2025-10-14");
    let f = app.filing(&reviewer, &id).await;
    assert_eq!(f["clocks"]["statutory"]["status"], "red");
    assert_eq!(f["clocks"]["statutory"]["remaining"], -1);

    // Deciding late is recorded as late.
    app.act(&reviewer, &f, "approve", json!({ "opinion": "同意" }))
        .await;
    let on_time: Option<bool> = {
        use diesel::prelude::*;
        use permits::db::schema::filings::dsl as fl;
        fl::filings
            .select(fl::on_time_statutory)
            .first(&mut app.conn())
            .unwrap()
    };
    let (used, counted_late): (i32, bool) = {
        use diesel::prelude::*;
        use permits::db::schema::sla_closed::dsl as sc;
        sc::sla_closed
            .select((sc::used_days, sc::on_time_statutory))
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(on_time, Some(false));
    assert_eq!((used, counted_late), (8, false));
}

#[actix_web::test]
async fn a_correction_suspends_the_clock_and_the_remaining_budget_is_kept() {
    let app = spawn().await;
    let (builder, _, reviewer, f) = accepted_permit(&app, "2025-11-03").await;
    let id = f["id"].as_str().unwrap().to_owned();
    at(&app, "2025-11-05");
    let f = app.filing(&reviewer, &id).await;
    let f = app
        .act(
            &reviewer,
            &f,
            "request_correction",
            json!({ "notice_items": ["补充质量安全措施"] }),
        )
        .await;
    let s = &f["clocks"]["statutory"];
    assert_eq!(s["phase"], "suspended");
    assert_eq!(s["used"], 2);
    assert_eq!(s["remaining"], 5);
    assert_eq!(s["suspended_reason"], "supplement");
    assert!(s["due_on"].is_null());

    at(&app, "2025-11-17");
    let f = app.filing(&builder, &id).await;
    let f = app.act(&builder, &f, "submit_correction", json!({})).await;
    let s = &f["clocks"]["statutory"];
    assert_eq!(s["phase"], "running");
    assert_eq!(s["remaining"], 5);
    assert_eq!(s["suspended"], 8);
    // Five working days after 11-17.
    assert_eq!(s["due_on"], "2025-11-24");
    // The queue's copy follows the ledger.
    let due: Option<chrono::NaiveDate> = {
        use diesel::prelude::*;
        use permits::db::schema::filings::dsl as fl;
        fl::filings
            .select(fl::statutory_due_on)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(due.map(|d| d.to_string()), Some("2025-11-24".to_owned()));
}

#[actix_web::test]
async fn a_manager_extends_within_the_item_s_maximum_and_others_may_not() {
    // 行政许可法 §42 (20 days, +10): a test item, as no seeded item is extendable.
    let app = spawn_with_extendable_licence(|s| s.auth.token_ttl_hours = 24 * 365 * 3).await;
    at(&app, "2025-11-03");
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let manager = app.staff("head", "housing", &[Role::Manager]).await;
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
    // The clock runs from the day after acceptance: nothing used yet.
    assert_eq!(f["clocks"]["statutory"]["phase"], "running");
    assert_eq!(f["clocks"]["statutory"]["remaining"], 20);
    let version = f["version"].as_i64().unwrap();

    let r = app
        .post(
            &clerk,
            &format!("/api/v1/filings/{id}/extend"),
            json!({ "expected_version": version, "days": 5, "reason": "需要专家论证" }),
        )
        .await;
    assert_eq!(r.status(), 403, "only managers extend");
    let (status, p) = json_of(
        app.post(
            &manager,
            &format!("/api/v1/filings/{id}/extend"),
            json!({ "expected_version": version, "days": 11, "reason": "x" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["path"], "days");
    let (status, f) = json_of(
        app.post(
            &manager,
            &format!("/api/v1/filings/{id}/extend"),
            json!({ "expected_version": version, "days": 10, "reason": "结构安全需专家论证，经负责人批准延长" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["clocks"]["statutory"]["extended"], 10);
    assert_eq!(f["clocks"]["statutory"]["remaining"], 30);
    // The allowance is used up.
    let (status, _) = json_of(
        app.post(
            &manager,
            &format!("/api/v1/filings/{id}/extend"),
            json!({ "expected_version": f["version"], "days": 1, "reason": "再延" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let h: Value = app
        .get(&manager, &format!("/api/v1/filings/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        h.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "extend" && e["payload"]["days"] == 10)
    );
}

#[actix_web::test]
async fn loading_a_new_year_s_notice_recomputes_open_deadlines_and_is_audited() {
    let app = spawn().await;
    let (_, _, reviewer, f) = accepted_permit(&app, "2026-12-28").await;
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["clocks"]["statutory"]["provisional"], true);
    // Provisional 2027: only 01-01 is off, so 7 working days after Mon 12-28 end on 01-07.
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2027-01-07");

    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let body = json!({
        "notice": "国务院办公厅关于2027年部分节假日安排的通知（测试）",
        "holidays": ["2027-01-01..2027-01-05", "2027-02-05..2027-02-12"],
        "workdays": ["2027-02-20"]
    });
    let r = app
        .client
        .put(app.url("/api/v1/calendars/CN/2027"))
        .bearer_auth(&reviewer.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let bad = json!({ "notice": "", "holidays": ["2027-13-01"], "workdays": [] });
    let r = app
        .client
        .put(app.url("/api/v1/calendars/CN/2027"))
        .bearer_auth(&admin.token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    let (status, loaded) = json_of(
        app.client
            .put(app.url("/api/v1/calendars/CN/2027"))
            .bearer_auth(&admin.token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{loaded}");
    assert_eq!(loaded["recomputed"], 1);

    let f = app.filing(&reviewer, &id).await;
    assert_eq!(f["clocks"]["statutory"]["provisional"], false);
    // 01-04 and 01-05 are now holidays too: 12-29, 12-30, 12-31, 01-06, 01-07, 01-08, 01-11.
    assert_eq!(f["clocks"]["statutory"]["due_on"], "2027-01-11");
    let stored: Option<chrono::NaiveDate> = {
        use diesel::prelude::*;
        use permits::db::schema::filings::dsl as fl;
        fl::filings
            .select(fl::statutory_due_on)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(stored.map(|d| d.to_string()), Some("2027-01-11".to_owned()));
    let y: Value = app
        .client
        .get(app.url("/api/v1/calendars/CN/2027"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(y["provisional"], false);
    let provisional: bool = {
        use diesel::prelude::*;
        use permits::db::schema::filings::dsl as fl;
        fl::filings
            .select(fl::clock_provisional)
            .first(&mut app.conn())
            .unwrap()
    };
    assert!(!provisional);
    let actions: Vec<String> = {
        use diesel::prelude::*;
        use permits::db::schema::audit_log::dsl as al;
        al::audit_log
            .filter(al::chain.eq("admin"))
            .select(al::action)
            .load(&mut app.conn())
            .unwrap()
    };
    assert!(actions.contains(&"load_calendar_year".to_owned()));
    assert!(actions.contains(&"recompute_deadlines".to_owned()));
}

#[actix_web::test]
async fn the_queue_serves_the_most_urgent_filing_first() {
    let app = spawn().await;
    at(&app, "2025-11-03");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let mut ids = Vec::new();
    for day in ["2025-11-03", "2025-11-04", "2025-11-05"] {
        at(&app, day);
        let f = app
            .create(&builder, "construction-permit", construction_form())
            .await;
        let id = f["id"].as_str().unwrap().to_owned();
        app.upload_all(&builder, &id, CONSTRUCTION_MATERIALS).await;
        let f = app.filing(&builder, &id).await;
        app.act(&builder, &f, "submit", json!({})).await;
        ids.push(id);
    }
    // Accept them in reverse order: the one accepted first is due first.
    at(&app, "2025-11-06");
    let f = app.filing(&clerk, &ids[2]).await;
    app.act(&clerk, &f, "accept", json!({})).await;
    at(&app, "2025-11-07");
    for id in &ids[..2] {
        let f = app.filing(&clerk, id).await;
        app.act(&clerk, &f, "accept", json!({})).await;
    }
    let r = app
        .post(&reviewer, "/api/v1/queue/claim-next", json!({}))
        .await;
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["filing_id"], ids[2].as_str());
}

#[actix_web::test]
async fn an_admin_moves_the_manual_clock_and_nobody_else_may() {
    let app = spawn().await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let before = app.clock_now();
    let r = app
        .post(&clerk, "/api/v1/admin/clock", json!({ "advance_days": 3 }))
        .await;
    assert_eq!(r.status(), 403);
    let (status, c) = json_of(
        app.post(&admin, "/api/v1/admin/clock", json!({ "advance_days": 3 }))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(c["mode"], "manual");
    assert_eq!((app.clock_now() - before).num_days(), 3);
    let r = app.post(&admin, "/api/v1/admin/clock", json!({})).await;
    assert_eq!(r.status(), 422);
}

#[actix_web::test]
async fn the_command_line_loads_a_notice_file_and_refuses_a_bad_one() {
    let app = spawn().await;
    let dir = std::env::temp_dir().join(format!("permits-cal-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("CN-2027.toml");
    std::fs::write(
        &good,
        r#"region = "CN"
name = { zh = "中国大陆", en = "Mainland China" }
[[years]]
year = 2027
notice = "国务院办公厅关于2027年部分节假日安排的通知"
holidays = ["2027-01-01..2027-01-03", "2027-02-05..2027-02-12"]
workdays = ["2027-02-20"]
"#,
    )
    .unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "region = \"CN\"\nname = { zh = \"x\", en = \"x\" }\n[[years]]\nyear = 2027\nnotice = \"x\"\nholidays = [\"2027-02-30\"]\nworkdays = []\n",
    )
    .unwrap();
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_permits"))
            .args(["calendar", "load"])
            .arg(file)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DATABASE_URL", &app.db_url)
            .env("PERMITS_ENV", "test")
            .env("RUST_LOG", "warn")
            .env_remove("PERMITS__DATABASE__URL")
            .output()
            .unwrap()
    };
    let out = run(&bad);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2027-02-30"),
        "{out:?}"
    );
    let out = run(&good);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("loaded CN 2027"));
    std::fs::remove_dir_all(&dir).unwrap();
    let (notice, source): (String, String) = {
        use diesel::prelude::*;
        use permits::db::schema::calendar_years::dsl as cy;
        cy::calendar_years
            .filter(cy::year.eq(2027))
            .select((cy::notice, cy::source))
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(
        (notice.as_str(), source.as_str()),
        ("国务院办公厅关于2027年部分节假日安排的通知", "admin")
    );
}

#[actix_web::test]
async fn an_instance_picks_up_a_notice_another_instance_loaded() {
    let app = spawn().await;
    let before = app.state.calendars.get("CN").unwrap();
    assert!(before.calendar.is_provisional(2027));
    // Another instance (here: a direct store) loads 2027.
    let entry = permits::domain::calendar::YearEntry {
        year: 2027,
        notice: "通知".into(),
        holidays: vec!["2027-01-01".into()],
        workdays: vec![],
    };
    permits::services::calendars::store_year(&mut app.conn(), None, "CN", &entry, app.clock_now())
        .unwrap();
    let mut conn = app.conn();
    assert!(app.state.calendars.refresh_if_changed(&mut conn).unwrap());
    assert!(
        !app.state
            .calendars
            .get("CN")
            .unwrap()
            .calendar
            .is_provisional(2027)
    );
    // Nothing changed since: no reload.
    assert!(!app.state.calendars.refresh_if_changed(&mut conn).unwrap());
}
