//! The fire filing's spot-check draw (双随机、一公开): made by the service after the receipt,
//! committed before its seed, published and verifiable by anyone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::prelude::*;
use permits::domain::definition::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::*;

async fn submitted_fire(app: &TestApp, builder: &User, form: Value) -> Value {
    let f = app.create(builder, "fire-acceptance-filing", form).await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(builder, &id, FIRE_MATERIALS).await;
    let f = app.filing(builder, &id).await;
    let f = app.act(builder, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
    f
}

async fn anon(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn anon_json(app: &TestApp, path: &str) -> Value {
    let (status, body) = anon(app, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn draw_id(f: &Value) -> String {
    f["draw"]["draw_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no draw on {f}"))
        .to_owned()
}

/// Rules drawing in the daily batch (the `draw` job), at the item's shares.
fn daily(s: &mut permits::config::Settings) {
    with_rules(
        "draw-daily",
        "[items.fire-acceptance-filing]\nspot_check_draw = \"daily\"\nspot_check_rule_version = \"test: daily\"\n",
    )(s)
}

#[actix_web::test]
async fn a_receipt_is_drawn_at_once_and_anyone_can_read_and_verify_the_draw() {
    let app = TestApp::spawn().await;
    // Two days after completion acceptance: on time, drawn at the class's share.
    at(&app, "2026-11-20");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    app.staff("inspector-a", "fire", &[Role::Inspector]).await;
    app.staff("inspector-b", "fire", &[Role::Inspector]).await;
    let f = submitted_fire(&app, &builder, fire_form()).await;
    let number = f["number"].as_str().unwrap().to_owned();

    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    let selected = f["draw"]["selected"].as_bool().unwrap();
    assert_eq!(
        f["state"]["code"],
        if selected {
            "inspection"
        } else {
            "not_selected"
        }
    );
    assert_eq!(
        f["draw"]["label"]["zh"],
        if selected { "抽中" } else { "未抽中" }
    );
    // The applicant sees it too.
    let seen = app.filing(&builder, f["id"].as_str().unwrap()).await;
    assert_eq!(seen["draw"], f["draw"]);
    let id = draw_id(&f);

    // Public, without a login: the list, the draw's recorded inputs, its verification.
    let (status, _) = anon(&app, "/api/v1/draws").await;
    assert_eq!(status, 200);
    let list = anon_json(&app, "/api/v1/draws").await;
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["filings"], 1);
    let d = anon_json(&app, &format!("/api/v1/draws/{id}")).await;
    assert_eq!(d["mode"], "at_receipt");
    assert_eq!(
        d["inputs"]["ratios"],
        json!({ "general": "1/10", "key": "1/2" })
    );
    assert_eq!(d["inputs"]["late_ratio"], "1/1");
    assert_eq!(d["inputs"]["pool"][0]["number"], number.as_str());
    assert_eq!(d["inputs"]["pool"][0]["class"], "general");
    assert_eq!(d["inputs"]["pool"][0]["late"], false);
    assert_eq!(d["inputs"]["roster"].as_array().unwrap().len(), 2);
    assert!(
        d["rule_version"]
            .as_str()
            .unwrap()
            .contains("建设工程竣工验收消防备案第 1 版，摘要 ")
    );
    // No personal data: neither the builder, nor the phone, nor staff names.
    let text = d.to_string();
    for private in [
        "示范建设集团",
        "13800138000",
        "91350100M000100Y43",
        "inspector-a",
    ] {
        assert!(!text.contains(private), "{private} in {text}");
    }

    // The seed is the hash of the first seal after the commitment, and anyone can redo it.
    let seal_seq = d["seal_seq"].as_i64().unwrap();
    let seed = d["seed"].as_str().unwrap().to_owned();
    let (sealed_hash, recorded_draw): (String, i64) = {
        use permits::db::schema::{audit_seal_heads, audit_seals};
        let mut c = app.conn();
        let hash = audit_seals::table
            .find(seal_seq)
            .select(audit_seals::hash)
            .first(&mut c)
            .unwrap();
        let head = audit_seal_heads::table
            .filter(audit_seal_heads::seal_seq.eq(seal_seq))
            .filter(audit_seal_heads::chain.eq(format!("draw:{id}")))
            .select(audit_seal_heads::seq)
            .first(&mut c)
            .unwrap();
        (hash, head)
    };
    assert_eq!(seed, sealed_hash);
    assert!(recorded_draw >= d["commit_seq"].as_i64().unwrap());
    let h = {
        use sha2::{Digest, Sha256};
        Sha256::digest(format!("{seed}{number}").as_bytes())
    };
    let ratio = permits::domain::draw::Ratio { num: 1, den: 10 };
    assert_eq!(
        permits::domain::draw::below(&h.into(), ratio),
        selected,
        "SHA-256(seed ‖ number) against 1/10"
    );
    let v = anon_json(&app, &format!("/api/v1/draws/{id}/verify")).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["drawn"], true);
}

#[actix_web::test]
async fn a_clerk_cannot_select_a_filing_or_pass_it_over() {
    let app = TestApp::spawn_with(daily).await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    let f = submitted_fire(&app, &builder, fire_form()).await;
    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    // Drawn by the day's batch: waiting until then, with no draw yet.
    assert_eq!(f["state"]["code"], "filed");
    assert!(f["draw"].is_null());
    assert_eq!(f["actions"], json!([]));
    for action in ["select_for_check", "mark_not_selected"] {
        let (status, body) = app.attempt(&clerk, &f, action, json!({})).await;
        assert_eq!(status, 403, "{action}: {body}");
    }

    // A second filing of the day: one batch draws both.
    let g = submitted_fire(&app, &builder, fire_form()).await;
    app.act(&clerk, &g, "issue_receipt", json!({})).await;

    let report = app.run_job("draw").await;
    assert_eq!(report["committed"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["drawn"], 1, "{report}");
    assert_eq!(report["moved"], 2, "{report}");
    let f = app.filing(&builder, f["id"].as_str().unwrap()).await;
    assert!(["inspection", "not_selected"].contains(&f["state"]["code"].as_str().unwrap()));
    let g = app.filing(&builder, g["id"].as_str().unwrap()).await;
    assert_eq!(draw_id(&g), draw_id(&f));
    let d = anon_json(&app, &format!("/api/v1/draws/{}", draw_id(&f))).await;
    assert_eq!(d["mode"], "daily");
    // The pool in the order of the numbers.
    let pool: Vec<&str> = d["inputs"]["pool"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap())
        .collect();
    assert_eq!(
        pool,
        [f["number"].as_str().unwrap(), g["number"].as_str().unwrap()]
    );
    let v = anon_json(&app, &format!("/api/v1/draws/{}/verify", draw_id(&f))).await;
    assert_eq!(v["ok"], true, "{v}");
    // Run again: nothing left to do.
    let again = app.run_job("draw").await;
    assert_eq!(again["committed"], json!([]));
    assert_eq!(again["drawn"], 0);
}

/// 吉林 draws works filed late at 100 %: a filing eight working days after completion
/// acceptance is always drawn, whatever the seed.
#[actix_web::test]
async fn a_late_filing_is_always_drawn() {
    let app = TestApp::spawn_with(|s| s.auth.token_ttl_hours = 24 * 60).await;
    at(&app, "2026-11-30");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    for _ in 0..3 {
        let f = submitted_fire(&app, &builder, fire_form()).await;
        let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
        assert!(
            f["flags"].to_string().contains("late_filing"),
            "{}",
            f["flags"]
        );
        assert_eq!(f["state"]["code"], "inspection");
        assert_eq!(f["draw"]["selected"], true);
        let d = anon_json(&app, &format!("/api/v1/draws/{}", draw_id(&f))).await;
        assert_eq!(d["inputs"]["pool"][0]["late"], true);
    }
}

/// Changing the record after the fact, in SQL, is found and named.
#[actix_web::test]
async fn a_tampered_draw_fails_verification_naming_what_differs() {
    let app = TestApp::spawn_with(fire_draws(true)).await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    app.staff("inspector-a", "fire", &[Role::Inspector]).await;
    let f = submitted_fire(&app, &builder, fire_form()).await;
    let number = f["number"].as_str().unwrap().to_owned();
    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    let id = draw_id(&f);
    let verify = format!("/api/v1/draws/{id}/verify");
    assert_eq!(anon_json(&app, &verify).await["ok"], true);

    let sql = |q: String| {
        diesel::sql_query(q).execute(&mut app.conn()).unwrap();
    };
    // The recorded pool now says the filing was a key project.
    sql(format!(
        "UPDATE draws SET inputs = jsonb_set(inputs, '{{pool,0,class}}', '\"key\"') WHERE id = '{id}'"
    ));
    let v = anon_json(&app, &verify).await;
    assert_eq!(v["ok"], false, "{v}");
    assert!(v["differences"].to_string().contains("inputs.pool"), "{v}");
    sql(format!(
        "UPDATE draws SET inputs = jsonb_set(inputs, '{{pool,0,class}}', '\"general\"') WHERE id = '{id}'"
    ));
    assert_eq!(anon_json(&app, &verify).await["ok"], true);

    // The recorded result now says it was not selected.
    sql(format!(
        "UPDATE draws SET result = jsonb_set(result, '{{0,selected}}', 'false') WHERE id = '{id}'"
    ));
    let v = anon_json(&app, &verify).await;
    assert_eq!(v["ok"], false);
    let diffs = v["differences"].to_string();
    assert!(
        diffs.contains(&format!(
            "result: {number}: recorded not selected, recomputed selected"
        )),
        "{v}"
    );
    // And a seed that is not the seal's.
    sql(format!(
        "UPDATE draws SET seed = repeat('0', 64) WHERE id = '{id}'"
    ));
    let v = anon_json(&app, &verify).await;
    assert!(v["differences"].to_string().contains("seed"), "{v}");

    // The command line says the same, for an id it does not know too.
    let missing = app
        .state
        .run(move |conn, _| permits::services::draw::verify(conn, Uuid::nil()))
        .await;
    assert!(matches!(missing, Err(permits::error::AppError::NotFound)));
    let (status, _) = anon(&app, &format!("/api/v1/draws/{}/verify", Uuid::nil())).await;
    assert_eq!(status, 404);
}

/// The inspectors are drawn too, without those in conflict: the receiving clerk (who acted on
/// the filing) and an inspector who declared a conflict with the builder. The lead drawn
/// inspector holds the task; another inspector may not pass it.
#[actix_web::test]
async fn the_drawn_inspector_gets_the_task_and_another_cannot_pass_it() {
    let app = TestApp::spawn_with(fire_draws(true)).await;
    let builder = app.applicant("builder").await;
    // A clerk who is also an inspector: the receipt is theirs, so the inspection is not.
    let clerk = app
        .staff("fire-clerk", "fire", &[Role::Clerk, Role::Inspector])
        .await;
    let related = app
        .staff("inspector-related", "fire", &[Role::Inspector])
        .await;
    let drawn = app
        .staff("inspector-free", "fire", &[Role::Inspector])
        .await;
    app.state
        .run(move |conn, ctx| {
            permits::services::draw::declare_conflict(
                conn,
                ctx.now,
                "inspector-related",
                "91350100M000100Y43",
                "亲属任职于建设单位",
            )
        })
        .await
        .unwrap();

    let f = submitted_fire(&app, &builder, fire_form()).await;
    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    assert_eq!(f["state"]["code"], "inspection");
    let d = anon_json(&app, &format!("/api/v1/draws/{}", draw_id(&f))).await;
    let excluded = d["inputs"]["pool"][0]["excluded"].to_string();
    assert!(excluded.contains(&clerk.id.to_string()), "{excluded}");
    assert!(excluded.contains(&related.id.to_string()), "{excluded}");
    assert_eq!(
        d["result"][0]["inspectors"],
        json!([drawn.id.to_string()]),
        "only one inspector is free of conflicts"
    );
    // The task is the drawn inspector's, with the 15 working days of the step.
    let f = app.filing(&drawn, f["id"].as_str().unwrap()).await;
    assert_eq!(f["tasks"][0]["claimed_by"], drawn.id.to_string());
    assert_eq!(f["clocks"]["step"]["days"], 15);
    // The history says the service assigned it, with the draw.
    let h: Value = app
        .get(
            &drawn,
            &format!("/api/v1/filings/{}/history", f["id"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    let assigned = h
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "assign")
        .unwrap_or_else(|| panic!("no assignment in {h}"));
    assert_eq!(
        assigned["payload"]["detail"]["assignee"],
        drawn.id.to_string()
    );
    assert_eq!(assigned["payload"]["detail"]["draw"], f["draw"]["draw_id"]);

    for other in [&related, &clerk] {
        let (status, body) = app
            .attempt(other, &f, "pass_inspection", json!({ "opinion": "合格" }))
            .await;
        assert_eq!(status, 403, "{}: {body}", other.username);
    }
    let f = app
        .act(&drawn, &f, "pass_inspection", json!({ "opinion": "合格" }))
        .await;
    assert_eq!(f["state"]["code"], "passed");

    // Published with the inspection's result.
    let d = anon_json(&app, &format!("/api/v1/draws/{}", draw_id(&f))).await;
    assert_eq!(d["filings_now"][0]["inspection"], "passed");
}

#[actix_web::test]
async fn the_public_page_shows_the_ratios_and_the_draws_without_login() {
    let app = TestApp::spawn_with(fire_draws(false)).await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    let f = submitted_fire(&app, &builder, fire_form()).await;
    let number = f["number"].as_str().unwrap().to_owned();
    app.act(&clerk, &f, "issue_receipt", json!({})).await;

    let (status, html) = anon(&app, "/draws").await;
    assert_eq!(status, 200);
    assert!(html.contains("双随机"), "{html}");
    assert!(html.contains("现行抽取比例"));
    assert!(html.contains("0/1"));
    assert!(html.contains(&number));
    assert!(html.contains("未抽中"));
    assert!(
        // Filed more than five working days after completion acceptance (the test's clock
        // stands in December): late, drawn here at the rules' 0/1.
        html.contains(&format!(
            "<td>{number}</td>\n        <td>一般项目（逾期）</td>"
        )),
        "the filing's class by its name: {html}"
    );
    assert!(!html.contains("示范建设集团"));

    // In English when asked.
    let r = app
        .client
        .get(app.url("/draws"))
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Ratios in force"), "{html}");
    assert!(html.contains("General"));
    assert!(html.contains("Not selected"));
}

/// A process that stopped after the commitment leaves the draw undrawn: the job finishes it
/// from the same recorded inputs, with the first seal after the commitment as the seed.
#[actix_web::test]
async fn a_draw_committed_but_not_drawn_is_finished_by_the_job() {
    let app = TestApp::spawn_with(daily).await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
    let f = submitted_fire(&app, &builder, fire_form()).await;
    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    let filing = Uuid::parse_str(f["id"].as_str().unwrap()).unwrap();
    // The commitment alone, as a process that stopped right after it would leave it.
    let id = app
        .state
        .run(move |conn, ctx| {
            let row = permits::repo::filings::find(conn, filing)?.unwrap();
            let item = ctx.items.by_id(conn, row.item_version_id)?;
            permits::services::draw::commit(
                conn,
                ctx,
                &item,
                &[(row, Vec::new())],
                permits::services::auth::SYSTEM_USER,
            )
        })
        .await
        .unwrap();
    let d = anon_json(&app, &format!("/api/v1/draws/{id}")).await;
    assert!(d["seed"].is_null());
    let f = app.filing(&builder, &filing.to_string()).await;
    assert_eq!(f["draw"]["label"]["zh"], "待抽取");
    let v = anon_json(&app, &format!("/api/v1/draws/{id}/verify")).await;
    assert_eq!(
        v,
        json!({ "ok": true, "draw": id, "drawn": false, "differences": [] })
    );

    let report = app.run_job("draw").await;
    assert_eq!(
        report["committed"],
        json!([]),
        "the filing is in a draw already"
    );
    assert_eq!(report["drawn"], 1, "{report}");
    assert_eq!(report["moved"], 1, "{report}");
    let v = anon_json(&app, &format!("/api/v1/draws/{id}/verify")).await;
    assert_eq!(v["ok"], true, "{v}");
    let f = app.filing(&builder, &filing.to_string()).await;
    assert!(["inspection", "not_selected"].contains(&f["state"]["code"].as_str().unwrap()));
}

/// The builder hears the result: 抽中 (the inspection's state) or 未抽中 (the decision).
#[actix_web::test]
async fn the_builder_is_told_whether_the_filing_was_drawn() {
    for (every, told) in [(true, "被抽中，待检查"), (false, "已备案（未抽中）")] {
        let app = TestApp::spawn_with(fire_draws(every)).await;
        at(&app, "2026-11-20");
        let builder = app
            .mail_user(
                "builder",
                None,
                &[Role::Applicant],
                permits::domain::Lang::Zh,
            )
            .await;
        let clerk = app.staff("fire-clerk", "fire", &[Role::Clerk]).await;
        let f = submitted_fire(&app, &builder, fire_form()).await;
        let number = f["number"].as_str().unwrap().to_owned();
        app.act(&clerk, &f, "issue_receipt", json!({})).await;
        app.run_job("outbox").await;
        let mail = app.sent_mail();
        assert!(
            mail.iter()
                .any(|m| m.subject.contains(&number) && m.subject.contains(told)),
            "{:?}",
            mail.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    }
}
