//! SLA reports on a built data set, checked against figures computed by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::helpers::*;

struct People {
    builder: User,
    clerk: User,
    reviewer: User,
}

/// A construction permit submitted on `submitted` and accepted on `accepted` (if any).
async fn permit(app: &TestApp, p: &People, submitted: &str, accepted: Option<&str>) -> String {
    at(app, submitted);
    let f = app
        .create(&p.builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&p.builder, &id, CONSTRUCTION_MATERIALS)
        .await;
    let f = app.filing(&p.builder, &id).await;
    app.act(&p.builder, &f, "submit", json!({})).await;
    if let Some(day) = accepted {
        at(app, day);
        let f = app.filing(&p.clerk, &id).await;
        app.act(&p.clerk, &f, "accept", json!({})).await;
    }
    id
}

/// (item, due day, open filings) in order, from a query with those three columns.
fn open_due_days(app: &TestApp, sql: &str) -> Vec<(String, String, i64)> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Day {
        #[diesel(sql_type = diesel::sql_types::Text)]
        item_code: String,
        #[diesel(sql_type = diesel::sql_types::Date)]
        due_on: chrono::NaiveDate,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut days: Vec<(String, String, i64)> = diesel::sql_query(sql)
        .load::<Day>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|d| (d.item_code, d.due_on.to_string(), d.n))
        .collect();
    days.sort();
    days
}

async fn act_on(app: &TestApp, who: &User, id: &str, day: &str, action: &str, body: Value) {
    at(app, day);
    let f = app.filing(who, id).await;
    app.act(who, &f, action, body).await;
}

#[actix_web::test]
async fn the_sla_report_matches_figures_computed_by_hand() {
    let app = TestApp::spawn_with(|s| s.auth.token_ttl_hours = 24 * 365 * 3).await;
    at(&app, "2025-11-03");
    let p = People {
        builder: app.applicant("builder").await,
        clerk: app.staff("clerk", "window", &[Role::Clerk]).await,
        reviewer: app
            .staff("reviewer", "construction", &[Role::Reviewer])
            .await,
    };
    let manager = app.staff("head", "construction", &[Role::Manager]).await;
    let fire_head = app.staff("fire-head", "fire", &[Role::Manager]).await;
    let opinion = json!({ "opinion": "同意" });

    // A: decided after 2 working days (on time against both limits).
    let a = permit(&app, &p, "2025-11-03", Some("2025-11-03")).await;
    act_on(
        &app,
        &p.reviewer,
        &a,
        "2025-11-05",
        "approve",
        opinion.clone(),
    )
    .await;
    // B: 6 working days: within the statutory 7, past the promised 3.
    let b = permit(&app, &p, "2025-11-03", Some("2025-11-03")).await;
    act_on(
        &app,
        &p.reviewer,
        &b,
        "2025-11-11",
        "approve",
        opinion.clone(),
    )
    .await;
    // C: 1 day, suspended for a correction 11-04 → 11-10 (4 working days not counted), then
    // 4 more: 5 used.
    let c = permit(&app, &p, "2025-11-03", Some("2025-11-03")).await;
    act_on(
        &app,
        &p.reviewer,
        &c,
        "2025-11-04",
        "request_correction",
        json!({ "notice_items": ["补充"] }),
    )
    .await;
    act_on(
        &app,
        &p.builder,
        &c,
        "2025-11-10",
        "submit_correction",
        json!({}),
    )
    .await;
    act_on(
        &app,
        &p.reviewer,
        &c,
        "2025-11-14",
        "approve",
        opinion.clone(),
    )
    .await;
    // D: refused after 8 working days: late against both.
    let d = permit(&app, &p, "2025-11-03", Some("2025-11-03")).await;
    act_on(
        &app,
        &p.reviewer,
        &d,
        "2025-11-13",
        "refuse",
        json!({ "reason": "不符合", "opinion": "不予许可" }),
    )
    .await;
    // E: withdrawn before acceptance, a working day after receipt: the permit's clock runs
    // from receipt (建筑法 §8), so it closed on time, with 1 day used.
    let e = permit(&app, &p, "2025-11-03", None).await;
    act_on(
        &app,
        &p.builder,
        &e,
        "2025-11-04",
        "withdraw",
        json!({ "reason": "重新申报" }),
    )
    .await;
    // F: accepted 11-03, still open: due 11-12, overdue on 11-14.
    permit(&app, &p, "2025-11-03", Some("2025-11-03")).await;
    // G: accepted 11-06, still open: due 11-17, due soon on 11-14.
    permit(&app, &p, "2025-11-06", Some("2025-11-06")).await;

    at(&app, "2025-11-14");
    let url = "/api/v1/reports/sla?from=2025-11-01&to=2025-11-30&soon_days=3";
    let r = app.get(&manager, url).await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["department"], "construction");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{report}");
    let row = &rows[0];
    assert_eq!(row["key"], "construction-permit");
    let expect = json!({
        "received": 7, "closed": 5, "approved": 3, "refused": 1, "withdrawn": 1, "not_accepted": 0,
        "decided": 5, "on_time_statutory": 4, "late_statutory": 1, "on_time_promised": 2, "late_promised": 3,
        // Used 1, 2, 5, 6, 8: the median is the 3rd value, the 90th percentile the 5th.
        "median_working_days": 5, "p90_working_days": 8,
        "median_suspended_days": 0, "suspended_days_total": 4,
        "open": 2, "overdue_now": 1, "due_soon": 1,
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&row[k], v, "{k}: {row}");
    }
    assert_eq!(row["on_time_rate_statutory"], 0.8);
    // The aggregate behind the overdue and due-soon counts agrees, day by day, with the open
    // filings themselves after submissions, acceptances, a suspension and its resumption,
    // decisions and a withdrawal.
    assert_eq!(
        open_due_days(
            &app,
            "SELECT item_code, due_on, sum(n)::bigint AS n FROM open_due GROUP BY 1, 2 HAVING sum(n) <> 0"
        ),
        open_due_days(
            &app,
            "SELECT item_code, statutory_due_on AS due_on, count(*) AS n FROM filings \
             WHERE closed_at IS NULL AND statutory_due_on IS NOT NULL GROUP BY 1, 2"
        ),
    );
    assert_eq!(
        open_due_days(
            &app,
            "SELECT item_code, due_on, sum(n)::bigint AS n FROM open_due GROUP BY 1, 2 HAVING sum(n) <> 0"
        ),
        vec![
            ("construction-permit".to_owned(), "2025-11-12".to_owned(), 1),
            ("construction-permit".to_owned(), "2025-11-17".to_owned(), 1),
        ]
    );
    // The triggers append signed rows; folding leaves one row per day with the same sums.
    assert!(app.count("open_due") > 2);
    let left = permits::repo::reports::compact_open_due(&mut app.conn()).unwrap();
    assert_eq!((left, app.count("open_due")), (2, 2));
    assert_eq!(
        open_due_days(
            &app,
            "SELECT item_code, due_on, n::bigint AS n FROM open_due"
        ),
        open_due_days(
            &app,
            "SELECT item_code, statutory_due_on AS due_on, count(*) AS n FROM filings \
             WHERE closed_at IS NULL AND statutory_due_on IS NOT NULL GROUP BY 1, 2"
        ),
    );
    assert_eq!(report["total"]["closed"], 5);
    // Used 1, 2, 5, 6, 8 working days: two in 1–2, one in 3–5, two in 6–10, none elsewhere.
    let bands: Vec<(i64, i64)> = report["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["filings"].as_i64().unwrap() > 0)
        .map(|b| {
            (
                b["from_days"].as_i64().unwrap(),
                b["filings"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(bands, vec![(1, 2), (3, 1), (6, 2)], "{report}");

    // By member of staff: the reviewer closed four, the applicant withdrew one.
    let by_clerk: Value = app
        .get(&manager, &format!("{url}&group_by=clerk"))
        .await
        .json()
        .await
        .unwrap();
    let mut closed: Vec<(String, i64)> = by_clerk["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap_or("").to_owned(),
                r["closed"].as_i64().unwrap(),
            )
        })
        .collect();
    closed.sort();
    assert_eq!(
        closed,
        [("builder".to_owned(), 1), ("reviewer".to_owned(), 4)]
    );
    let by_month: Value = app
        .get(&manager, &format!("{url}&group_by=month"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_month["rows"][0]["key"], "2025-11");

    // A period that ends on 11-04 sees only the withdrawal closed.
    let early: Value = app
        .get(
            &manager,
            "/api/v1/reports/sla?from=2025-11-01&to=2025-11-04",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(early["total"]["closed"], 1);
    // A to F were received on 11-03; G on 11-06.
    assert_eq!(early["total"]["received"], 6);

    // CSV: a header and one line per row plus the total.
    let r = app.get(&manager, &format!("{url}&format=csv")).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("key,label,received,closed"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[2].starts_with("total,"));

    // Due and overdue, most urgent first.
    let due: Value = app
        .get(&manager, "/api/v1/reports/due?days=3")
        .await
        .json()
        .await
        .unwrap();
    let dates: Vec<&str> = due
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["statutory_due_on"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2025-11-12", "2025-11-17"]);

    // Who may see what.
    assert_eq!(app.get(&p.reviewer, url).await.status(), 403);
    assert_eq!(
        app.get(&manager, &format!("{url}&department=fire"))
            .await
            .status(),
        403
    );
    let fire: Value = app.get(&fire_head, url).await.json().await.unwrap();
    assert!(fire["rows"].as_array().unwrap().is_empty());
    let r = app
        .get(
            &manager,
            "/api/v1/reports/sla?from=2025-13-01&to=x&soon_days=99",
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_paths(&body), ["from", "to", "soon_days"]);
}

#[actix_web::test]
async fn the_workload_report_counts_claimed_work_per_member_of_staff() {
    let app = TestApp::spawn().await;
    let p = People {
        builder: app.applicant("builder").await,
        clerk: app.staff("clerk", "window", &[Role::Clerk]).await,
        reviewer: app
            .staff("reviewer", "construction", &[Role::Reviewer])
            .await,
    };
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    for _ in 0..2 {
        let today = app.clock_now().date_naive().to_string();
        permit(&app, &p, &today, None).await;
    }
    app.post(&p.clerk, "/api/v1/queue/claim-next", json!({}))
        .await;
    let rows: Value = app
        .get(&admin, "/api/v1/reports/workload?department=window")
        .await
        .json()
        .await
        .unwrap();
    let clerk = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["display_name"] == "clerk")
        .unwrap();
    assert_eq!(clerk["claimed"], 1);
}

/// The work report counts the filings received in the period by the item's own categories and
/// writes its sentence in the bureau's wording: here a key project drawn (抽中), a general one
/// not drawn, one still at the window, under rules that draw key projects only; a filing
/// received before the period is not counted.
#[actix_web::test]
async fn the_work_report_counts_the_fire_filings_by_draw_outcome_in_the_bureaus_words() {
    let app = TestApp::spawn_with(with_rules(
        "key-only",
        "[items.fire-acceptance-filing]\nspot_check_ratios = { general = \"0/1\", key = \"1/1\" }\nspot_check_ratio_late = \"0/1\"\nspot_check_rule_version = \"test: key projects\"\n",
    ))
    .await;
    app.allow_unsent_mail();
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    let manager = app.staff("fire-head", "fire", &[Role::Manager]).await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let submit = |day: &'static str| {
        let (app, builder) = (&app, &builder);
        async move {
            at(app, day);
            // Completed the same day: filed in time, so the class alone decides the draw.
            let mut form = fire_form();
            form["completion_acceptance_date"] = json!(day);
            let f = app.create(builder, "fire-acceptance-filing", form).await;
            let id = f["id"].as_str().unwrap().to_owned();
            app.upload_all(builder, &id, FIRE_MATERIALS).await;
            let f = app.filing(builder, &id).await;
            app.act(builder, &f, "submit", json!({})).await;
            id
        }
    };
    // Received in November, before the period.
    let before = submit("2026-11-19").await;
    let drawn = submit("2026-12-01").await;
    let not_drawn = submit("2026-12-01").await;
    let _waiting = submit("2026-12-02").await;
    let f = app.filing(&clerk, &before).await;
    app.act(&clerk, &f, "issue_receipt", json!({})).await;
    let f = app.filing(&clerk, &drawn).await;
    let f = app
        .act(
            &clerk,
            &f,
            "issue_receipt",
            json!({ "fields": { "project_class": "key" } }),
        )
        .await;
    assert_eq!(f["state"]["code"], "inspection");
    let f = app.filing(&clerk, &not_drawn).await;
    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    assert_eq!(f["state"]["code"], "not_selected");

    let r = app
        .get(
            &manager,
            "/api/v1/reports/work?from=2026-12-01&to=2026-12-31",
        )
        .await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    let items = report["items"].as_array().unwrap();
    // The fire department's manager sees its items only.
    let codes: Vec<&str> = items.iter().map(|i| i["item"].as_str().unwrap()).collect();
    assert!(codes.contains(&"fire-acceptance-filing"), "{codes:?}");
    assert!(!codes.contains(&"construction-permit"), "{codes:?}");
    let fire = items
        .iter()
        .find(|i| i["item"] == "fire-acceptance-filing")
        .unwrap();
    assert_eq!(fire["received"], 3);
    assert_eq!(fire["decided"], 1, "not drawn: filed and closed");
    assert_eq!(fire["open"], 2);
    let value = |code: &str| {
        fire["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == code)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(value("selected"), 1);
    assert_eq!(value("not_selected"), 1);
    assert_eq!(value("pending"), 1);
    assert_eq!(
        fire["sentence"]["zh"],
        "受理建设工程竣工验收消防备案3件（其中1件抽中，1件未抽中，办理中1件）"
    );

    // November alone holds the one received then; an admin sees every item.
    let r = app
        .get(&admin, "/api/v1/reports/work?from=2026-11-01&to=2026-11-30")
        .await;
    let report: Value = r.json().await.unwrap();
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "every item");
    let fire = items
        .iter()
        .find(|i| i["item"] == "fire-acceptance-filing")
        .unwrap();
    assert_eq!(fire["received"], 1);
    let permits = items
        .iter()
        .find(|i| i["item"] == "construction-permit")
        .unwrap();
    assert_eq!(
        permits["sentence"]["zh"],
        "受理建筑工程施工许可证核发申请0件，核发施工许可证0件（其中全流程网络办理0件），办理中0件"
    );

    // CSV for the spreadsheet, with the BOM Excel needs for Chinese.
    let r = app
        .get(
            &manager,
            "/api/v1/reports/work?from=2026-12-01&to=2026-12-31&format=csv",
        )
        .await;
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = String::from_utf8_lossy(&bytes[3..]).into_owned();
    assert!(text.contains("抽中,1"), "{text}");
    assert!(text.contains("未抽中,1"), "{text}");

    // XLSX: a sheet of the figures and one of the sentences, in Chinese (or English if asked).
    let r = app
        .get(
            &manager,
            "/api/v1/reports/work?from=2026-12-01&to=2026-12-31&format=xlsx",
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let (sheets, strings) = xlsx_text(&r.bytes().await.unwrap());
    assert!(
        sheets.contains("统计") && sheets.contains("报告表述"),
        "{sheets}"
    );
    assert!(
        strings.contains("受理建设工程竣工验收消防备案3件（其中1件抽中，1件未抽中，办理中1件）"),
        "{strings}"
    );
    assert!(strings.contains("未抽中"), "{strings}");
    let r = app
        .get(
            &manager,
            "/api/v1/reports/work?from=2026-12-01&to=2026-12-31&format=xlsx&lang=en",
        )
        .await;
    let (sheets, strings) = xlsx_text(&r.bytes().await.unwrap());
    assert!(sheets.contains("Sentences"), "{sheets}");
    assert!(strings.contains("Not drawn"), "{strings}");
    let r = app
        .get(
            &manager,
            "/api/v1/reports/work?from=2026-12-01&to=2026-12-31&format=pdf",
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_paths(&body), ["format"]);

    // Bad input is named; an applicant may not read it.
    let r = app
        .get(
            &manager,
            "/api/v1/reports/work?from=2026-13-01&to=2026-12-01",
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_paths(&body), ["from"]);
    let r = app
        .get(
            &manager,
            "/api/v1/reports/work?from=2026-12-31&to=2026-12-01",
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app.get(&builder, "/api/v1/reports/work").await;
    assert_eq!(r.status(), 403);
}

/// 全流程网络办理 counts permits applied for online or from a phone and issued as electronic
/// certificates: a permit filed at the window is issued but not counted, nor is one still open.
#[actix_web::test]
async fn the_work_report_counts_permits_handled_wholly_online() {
    let app = TestApp::spawn().await;
    app.allow_unsent_mail();
    let (builder, reviewer, online) = crate::lifecycle::issued_permit(&app, "2026-03-02").await;
    // The builder came to the counter: a clerk filed it at the window and submitted it there.
    let clerk = app.staff("clerk2", "window", &[Role::Clerk]).await;
    let r = app
        .post(
            &clerk,
            "/api/v1/filings",
            json!({ "item": "construction-permit", "form": construction_form(),
                    "on_behalf_of": builder.username }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let f: Value = r.json().await.unwrap();
    let window = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&clerk, &window, CONSTRUCTION_MATERIALS)
        .await;
    let f = app.filing(&clerk, &window).await;
    let f = app.act(&clerk, &f, "submit", json!({})).await;
    assert_eq!(f["channel"], "window", "{f}");
    let f = app.filing(&clerk, &window).await;
    app.act(&clerk, &f, "accept", json!({})).await;
    let f = app.filing(&reviewer, &window).await;
    let f = app
        .act(&reviewer, &f, "approve", json!({ "opinion": "符合条件" }))
        .await;
    assert_eq!(f["state"]["code"], "issued", "{f}");
    assert_eq!(
        app.filing(&builder, &window).await["applicant_id"],
        json!(builder.id)
    );
    let f = app.filing(&reviewer, &online).await;
    assert_eq!(f["channel"], "online", "{f}");
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let report: Value = app
        .get(&admin, "/api/v1/reports/work?from=2026-01-01&to=2026-12-31")
        .await
        .json()
        .await
        .unwrap();
    let permit = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == "construction-permit")
        .unwrap();
    assert_eq!(
        permit["sentence"]["zh"],
        "受理建筑工程施工许可证核发申请2件，核发施工许可证2件（其中全流程网络办理1件），办理中0件",
        "{permit}"
    );
}

/// The sheet names (workbook.xml) and the shared strings of an XLSX file.
pub fn xlsx_text(bytes: &[u8]) -> (String, String) {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    (read("xl/workbook.xml"), read("xl/sharedStrings.xml"))
}
