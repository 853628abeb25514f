//! The demo office that lives (issue 17 §3): a year of the district's work made through the
//! real use cases before the service listens, whose work report reads as the bureau's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::services::seed::DEMO_PASSWORD;
use serde_json::Value;

use crate::helpers::*;

/// Demo users, the demo office on, its year ending on Friday 4 December 2026.
fn office(s: &mut permits::config::Settings) {
    s.demo.seed = true;
    s.demo.office = true;
    s.demo.today = Some(chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
    // Staff and applicants act over a year: their sessions outlive the manual clock's moves.
    s.auth.token_ttl_hours = 24 * 400;
}

async fn spawn_office() -> (TestApp, std::time::Duration) {
    let started = std::time::Instant::now();
    let app = TestApp::spawn_with(office).await;
    let took = started.elapsed();
    at(&app, "2026-12-04");
    // The year's letters wait in the outbox for the sender, as on a first start.
    app.allow_unsent_mail();
    (app, took)
}

async fn as_demo(app: &TestApp, username: &str) -> User {
    User {
        id: uuid::Uuid::nil(),
        username: username.to_owned(),
        token: app.login(username, DEMO_PASSWORD).await,
    }
}

fn item<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == code)
        .unwrap_or_else(|| panic!("no {code} in {report}"))
}

fn category(item: &Value, code: &str) -> i64 {
    item["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
        .unwrap_or_else(|| panic!("no category {code} in {item}"))["value"]
        .as_i64()
        .unwrap()
}

fn scalar(app: &TestApp, sql: &str) -> i64 {
    crate::concurrency::scalar(app, sql)
}

#[actix_web::test]
async fn the_demo_year_reads_as_the_bureau_s_report_verifies_has_work_in_flight_and_is_made_once() {
    let (app, took) = spawn_office().await;
    eprintln!("the demo office's year made and the service started in {took:.1?}");
    let admin = as_demo(&app, "admin").await;
    let r = app
        .get(&admin, "/api/v1/reports/work?from=2026-01-01&to=2027-01-01")
        .await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();

    let fire = item(&report, "fire-acceptance-filing");
    let drawn = category(fire, "selected");
    // The draw is fair and its seed unchosen: the general filings it happens to select before
    // 19 were not drawn may exceed 7 (services::demo says so and the log warns); late filings
    // top the drawn up to 7 otherwise. The year's figures then follow the draw.
    assert!(drawn >= 7, "{fire}");
    if drawn > 7 {
        eprintln!("the draw selected {drawn} general fire filings, more than the figures' 7");
    }
    assert_eq!(category(fire, "not_selected"), 19, "{fire}");
    assert_eq!(category(fire, "pending"), 6, "{fire}");
    assert_eq!(fire["received"], drawn + 19 + 6, "{fire}");
    assert_eq!(
        fire["sentence"]["zh"],
        format!(
            "受理建设工程竣工验收消防备案{}件（其中{drawn}件抽中，19件未抽中，办理中6件）",
            drawn + 19 + 6
        )
    );

    let permits = item(&report, "construction-permit");
    assert_eq!(category(permits, "issued"), 18, "{permits}");
    // 今年已全流程网络办理18件施工许可证: applied for online and issued as e-certificates.
    assert_eq!(category(permits, "online"), 18, "{permits}");
    assert!(
        permits["sentence"]["zh"]
            .as_str()
            .unwrap()
            .contains("核发施工许可证18件（其中全流程网络办理18件）"),
        "{permits}"
    );
    // Each permit went to the 建筑市场监管 platform within its five working days (the demo's
    // file platform, delivered each simulated morning).
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM platform_uploads WHERE status = 'sent' \
             AND (sent_at + interval '8 hours')::date <= due_on"
        ),
        18
    );
    // Every reported transition waits for the exchange job, and goes once it runs.
    let waiting = scalar(
        &app,
        "SELECT count(*) AS n FROM exchange_rows WHERE status = 'pending'",
    );
    assert!(waiting > 100, "{waiting}");
    let r = app.run_job("exchange").await;
    assert_eq!(r["exported"].as_i64().unwrap(), waiting, "{r}");
    // Each issued permit holds its electronic certificate, applied for online.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(DISTINCT c.filing_id) AS n FROM certificates c JOIN filings f ON f.id = c.filing_id \
             WHERE f.item_code = 'construction-permit'"
        ),
        18
    );
    let design = item(&report, "special-fire-design-review");
    assert_eq!(category(design, "passed"), 5, "{design}");
    let acceptance = item(&report, "special-fire-acceptance");
    assert_eq!(category(acceptance, "passed"), 3, "{acceptance}");
    let elevators = item(&report, "elevator-installation");
    assert_eq!(elevators["received"], 24, "{elevators}");
    assert_eq!(category(elevators, "filed"), 20, "{elevators}");
    assert!(category(elevators, "elevators_filed") > 20, "{elevators}");
    assert!(
        category(elevators, "elevators_completed") > 0,
        "{elevators}"
    );

    // Refusals and refusals to accept, so the report and the SLA have them.
    assert!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM filings WHERE state_kind = 'refused'"
        ) >= 2
    );
    assert!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM filings WHERE state_kind = 'not_accepted'"
        ) >= 2
    );
    // One drawn filing awaits its inspection (the last of the late filings topping the drawn up
    // to 7: none when the draw alone selected 7 or more); no permit
    // lapsed unstarted.
    let inspecting = scalar(
        &app,
        "SELECT count(*) AS n FROM filings WHERE state = 'inspection'",
    );
    let topped_up = scalar(&app, "SELECT count(*) AS n FROM draw_filings WHERE late");
    assert_eq!(
        inspecting,
        i64::from(topped_up > 0),
        "drawn {drawn}, late {topped_up}"
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM filings WHERE state = 'lapsed'"
        ),
        0
    );
    // Everything lies in the demo year, before today.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM filings WHERE created_at < '2026-01-01' OR created_at >= '2026-12-04'"
        ),
        0
    );

    // Every chain verifies: the filings', the draws', the seals.
    let v = permits::services::audit::verify(&mut app.conn()).unwrap();
    assert!(v.ok, "{:?}", v.first_break);
    assert!(v.seals > 100, "sealed every morning: {}", v.seals);
    let filings = scalar(&app, "SELECT count(*) AS n FROM filings");
    let chains = scalar(
        &app,
        "SELECT count(DISTINCT filing_id) AS n FROM audit_log WHERE filing_id IS NOT NULL",
    );
    assert_eq!(chains, filings);
    // Every document the actions issued was rendered and sealed.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM documents WHERE pdf IS NULL"
        ),
        0
    );

    // Work in flight (in this test too: making the year takes most of a test's time, rendering
    // and sealing every document the year issued). Work waiting at the window, in the construction section, with the joint-review
    // departments and the fire section.
    for user in [
        "clerk",
        "reviewer",
        "housing",
        "market",
        "fire",
        "inspector",
        "inspector2",
    ] {
        if user.starts_with("inspector") && inspecting == 0 {
            continue;
        }
        let u = as_demo(&app, user).await;
        let r = app.get(&u, "/api/v1/queue").await;
        assert_eq!(r.status(), 200);
        let total: i64 = r.headers()["x-total-count"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(total > 0, "{user}'s queue is empty");
    }
    // Overdue and due soon: the clocks show every colour.
    let due: Vec<Value> = app
        .get(&admin, "/api/v1/reports/due?days=3")
        .await
        .json()
        .await
        .unwrap();
    let overdue = due
        .iter()
        .filter(|d| d["statutory_due_on"].as_str().unwrap() < "2026-12-04")
        .count();
    assert!(overdue > 0, "{due:?}");
    assert!(
        overdue < due.len(),
        "some due soon, not yet overdue: {due:?}"
    );
    // The manager's dashboard: processing times and on-time rates over the year.
    let manager = as_demo(&app, "manager").await;
    let sla: Value = app
        .get(
            &manager,
            "/api/v1/reports/sla?from=2026-01-01&to=2026-12-04&group_by=month",
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(sla.to_string().len() > 200, "{sla}");
    // Reminders, escalations and digests written; a supplement and suspensions waiting.
    for kind in [
        "applicant.reminder",
        "manager.yellow",
        "manager.red",
        "staff.digest",
    ] {
        assert!(
            scalar(
                &app,
                &format!("SELECT count(*) AS n FROM outbox WHERE kind = '{kind}'")
            ) > 0,
            "no {kind} in the outbox"
        );
    }
    assert!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM filings WHERE state = 'supplement'"
        ) > 0
    );
    assert!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM filings WHERE state IN ('correction', 'expert_review', 'site_assessment')"
        ) >= 3
    );

    // The service started again on the same database makes nothing more.
    let filings = scalar(&app, "SELECT count(*) AS n FROM filings");
    let again = permits::demo_office(&app.state).unwrap();
    assert!(again.is_none());
    let settings = (*app.state.settings).clone();
    let second = permits::Application::build(settings, "127.0.0.1:0").unwrap();
    drop(second);
    assert_eq!(scalar(&app, "SELECT count(*) AS n FROM filings"), filings);
}

#[actix_web::test]
async fn instances_making_the_demo_office_at_once_make_it_once() {
    let app = TestApp::spawn_with(|s| {
        office(s);
        s.demo.office = false;
    })
    .await;
    app.allow_unsent_mail();
    assert_eq!(scalar(&app, "SELECT count(*) AS n FROM filings"), 0);
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let state = app.state.clone();
            std::thread::spawn(move || permits::demo_office(&state))
        })
        .collect();
    let made: Vec<_> = runs
        .into_iter()
        .map(|h| h.join().unwrap().expect("no instance fails"))
        .collect();
    let makers: Vec<_> = made.iter().flatten().collect();
    assert_eq!(makers.len(), 1, "made once: {made:?}");
    assert_eq!(
        scalar(&app, "SELECT count(*) AS n FROM filings"),
        makers[0].filings as i64
    );
    // The office's applicants were made once too.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM users WHERE username = 'xiangjiang'"
        ),
        1
    );
}
