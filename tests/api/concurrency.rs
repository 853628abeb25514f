//! Concurrency: optimistic versions on actions (DESIGN principle 2), atomic queue claims
//! (`FOR UPDATE SKIP LOCKED`), claims that keep other staff's hands off a filing, and managers'
//! reassignment.
//!
//! The helpers at the top (`submitted_permit`, `permit_in_review`, `scalar`) are shared with
//! the other test modules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use futures::future::join_all;
use permits::domain::definition::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::bad_input::problem;
use crate::helpers::*;

/// A construction permit with every material, submitted: in `intake`, in the window's queue.
pub(crate) async fn submitted_permit(app: &TestApp, builder: &User) -> Value {
    let f = app
        .create(builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(builder, &id, CONSTRUCTION_MATERIALS).await;
    let f = app.filing(builder, &id).await;
    let f = app.act(builder, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");
    f
}

/// A construction permit accepted by `clerk`: in `review`, in the construction reviewers' queue.
pub(crate) async fn permit_in_review(app: &TestApp, builder: &User, clerk: &User) -> Value {
    let f = submitted_permit(app, builder).await;
    let f = app.filing(clerk, f["id"].as_str().unwrap()).await;
    let f = app.act(clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");
    f
}

/// One `bigint` from a query written as `SELECT ... AS n`.
pub(crate) fn scalar(app: &TestApp, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(&mut app.conn())
        .unwrap()
        .n
}

/// Twenty signed-in clients for a race: four staff of `department` with `role`, each signed
/// in five times, each token on its own connection, connected and used once beforehand, so
/// that their requests arrive together rather than as one queue.
async fn twenty_racers(
    app: &TestApp,
    prefix: &str,
    department: &str,
    role: Role,
) -> Vec<(reqwest::Client, String)> {
    let mut tokens = Vec::new();
    for i in 0..4 {
        let u = app
            .staff(&format!("{prefix}{i}"), department, &[role])
            .await;
        tokens.push(u.token.clone());
        for _ in 0..4 {
            tokens.push(app.login(&u.username, PASSWORD).await);
        }
    }
    let mut racers = Vec::new();
    for token in tokens {
        let client = reqwest::Client::new();
        let r = client
            .get(app.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        racers.push((client, token));
    }
    racers
}

/// Every racer posts `body` to `url` at once; the statuses and answers.
async fn race(racers: &[(reqwest::Client, String)], url: &str, body: &Value) -> Vec<(u16, Value)> {
    join_all(racers.iter().map(|(client, token)| async move {
        let r = client
            .post(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap())
    }))
    .await
}

/// Exactly one racer got 200 and every other one 409 `stale_version`; the winner's answer.
fn the_one_winner(responses: &[(u16, Value)], round: usize) -> &Value {
    let outcomes: Vec<(u16, &Value)> = responses.iter().map(|(s, b)| (*s, &b["code"])).collect();
    let ok: Vec<&Value> = responses
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        ok.len(),
        1,
        "round {round}: exactly one through: {outcomes:?}"
    );
    for (status, body) in responses.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 409, "round {round}: {body}");
        assert_eq!(body["code"], "stale_version", "round {round}: {body}");
    }
    ok[0]
}

fn task_of(filing: &Value) -> i64 {
    let tasks = filing["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "one open task: {filing}");
    tasks[0]["id"].as_i64().unwrap()
}

#[actix_web::test]
async fn twenty_simultaneous_approvals_of_one_version_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let racers = twenty_racers(&app, "reviewer", "construction", Role::Reviewer).await;

    // A race is won or lost by scheduling: three of them, so that a missing lock shows.
    for round in 0..3 {
        let f = permit_in_review(&app, &builder, &clerk).await;
        let id = f["id"].as_str().unwrap().to_owned();
        let version = f["version"].as_i64().unwrap();
        let url = app.url(&format!("/api/v1/filings/{id}/actions/approve"));
        let body = json!({ "expected_version": version, "opinion": "符合施工许可条件" });
        let responses = race(&racers, &url, &body).await;

        let ok: Vec<&Value> = responses
            .iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, b)| b)
            .collect();
        let outcomes: Vec<(u16, &Value)> =
            responses.iter().map(|(s, b)| (*s, &b["code"])).collect();
        assert_eq!(
            ok.len(),
            1,
            "round {round}: exactly one approval wins: {outcomes:?}"
        );
        assert_eq!(ok[0]["state"]["code"], "issued");
        for (status, body) in responses.iter().filter(|(s, _)| *s != 200) {
            assert_eq!(*status, 409, "round {round}: {body}");
            let code = body["code"].as_str().unwrap();
            assert!(
                ["stale_version", "action_not_allowed"].contains(&code),
                "round {round}: {body}"
            );
        }

        let after = app.filing(&builder, &id).await;
        assert_eq!(after["version"].as_i64().unwrap(), version + 1);
        assert_eq!(after["state"]["code"], "issued");
        let count = |sql: String| scalar(&app, &sql);
        assert_eq!(
            count(format!(
                "SELECT count(*) AS n FROM audit_log WHERE filing_id = '{id}' AND action = 'action:approve'"
            )),
            1,
            "round {round}"
        );
        assert_eq!(
            count(format!(
                "SELECT count(*) AS n FROM clock_events WHERE filing_id = '{id}' AND event = 'stop'"
            )),
            1,
            "round {round}"
        );
        assert_eq!(
            count(format!(
                "SELECT count(*) AS n FROM tasks WHERE filing_id = '{id}' AND closed_at IS NULL"
            )),
            0,
            "round {round}: an issued permit leaves no open task"
        );
    }
}

/// Acceptance neither numbers nor closes the filing, so it takes the optimistic way (read
/// without a lock, then one statement that writes only if the row is unchanged): twenty clerks
/// accepting one version at once must still let exactly one through, with one clock start, one
/// audit entry and one review task. (Without the guard on the write, every clerk that read the
/// version before the first commit would write its own acceptance.)
#[actix_web::test]
async fn twenty_simultaneous_acceptances_of_one_version_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let racers = twenty_racers(&app, "clerk", "window", Role::Clerk).await;
    for round in 0..3 {
        let f = submitted_permit(&app, &builder).await;
        let id = f["id"].as_str().unwrap().to_owned();
        let version = f["version"].as_i64().unwrap();
        let url = app.url(&format!("/api/v1/filings/{id}/actions/accept"));
        let responses = race(&racers, &url, &json!({ "expected_version": version })).await;
        assert_eq!(the_one_winner(&responses, round)["state"]["code"], "review");
        let count = |sql: String| scalar(&app, &sql);
        for (sql, what) in [
            (
                format!(
                    "SELECT count(*) AS n FROM audit_log WHERE filing_id = '{id}' AND action = 'action:accept'"
                ),
                "one audit entry",
            ),
            (
                format!(
                    "SELECT count(*) AS n FROM clock_events WHERE filing_id = '{id}' AND event = 'start'"
                ),
                "one clock start",
            ),
            (
                format!(
                    "SELECT count(*) AS n FROM tasks WHERE filing_id = '{id}' AND closed_at IS NULL"
                ),
                "one open task, the review's",
            ),
            (
                format!(
                    "SELECT count(*) AS n FROM filings WHERE id = '{id}' AND version = {}",
                    version + 1
                ),
                "one version step",
            ),
        ] {
            assert_eq!(count(sql), 1, "round {round}: {what}");
        }
    }
}

/// The same race on a step whose new state has no queue (the one-time notice: the filing goes
/// back to the applicant), where the action's statement ends in the guard's own SELECT rather
/// than in the INSERT of the new state's tasks.
#[actix_web::test]
async fn twenty_simultaneous_notices_of_one_version_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let racers = twenty_racers(&app, "clerk", "window", Role::Clerk).await;
    for round in 0..3 {
        let f = submitted_permit(&app, &builder).await;
        let id = f["id"].as_str().unwrap().to_owned();
        let version = f["version"].as_i64().unwrap();
        let url = app.url(&format!("/api/v1/filings/{id}/actions/request_supplement"));
        let body = json!({ "expected_version": version, "notice_items": ["施工合同缺少骑缝章"] });
        let responses = race(&racers, &url, &body).await;
        assert_eq!(
            the_one_winner(&responses, round)["state"]["code"],
            "supplement"
        );
        let count = |sql: String| scalar(&app, &sql);
        assert_eq!(
            count(format!(
                "SELECT count(*) AS n FROM audit_log WHERE filing_id = '{id}' \
                 AND action = 'action:request_supplement'"
            )),
            1,
            "round {round}: one audit entry"
        );
        assert_eq!(
            count(format!(
                "SELECT count(*) AS n FROM filings WHERE id = '{id}' AND version = {}",
                version + 1
            )),
            1,
            "round {round}: one version step"
        );
    }
}

/// A write to the filing between an action's read and its write is not overwritten, even one
/// that does not bump the version (a calendar reload's recomputed deadlines are such a write;
/// here the test itself closes the filing that way, to make the difference visible): the
/// action's statement writes nothing, and the action is decided again on the new row.
#[actix_web::test]
async fn an_action_is_decided_again_when_its_filing_changes_between_its_read_and_its_write() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let version = f["version"].as_i64().unwrap();

    // The other writer: holds its change to the row, uncommitted, until the action waits for it.
    let mut other = app.conn();
    other
        .batch_execute(&format!(
            "BEGIN; UPDATE filings SET state = 'not_accepted', state_kind = 'not_accepted' \
             WHERE id = '{id}'"
        ))
        .unwrap();
    let action = app.act_raw(&clerk, &id, "accept", version, json!({}));
    let release = async {
        let mut waiting = false;
        for _ in 0..200 {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
            if scalar(
                &app,
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock'",
            ) > 0
            {
                waiting = true;
                break;
            }
        }
        other.batch_execute("COMMIT").unwrap();
        waiting
    };
    let (r, waiting) = futures::join!(action, release);
    assert!(
        waiting,
        "the action's write waited for the other writer's row"
    );

    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "action_not_allowed", "{body}");
    let count = |sql: String| scalar(&app, &sql);
    assert_eq!(
        count(format!(
            "SELECT count(*) AS n FROM filings WHERE id = '{id}' AND state = 'not_accepted' AND version = {version}"
        )),
        1,
        "the other writer's change stands"
    );
    // The permit's clock ran from receipt; the acceptance left no mark of its own.
    for (what, sql) in [
        (
            "a review task",
            format!(
                "SELECT count(*) AS n FROM tasks WHERE filing_id = '{id}' AND state = 'review'"
            ),
        ),
        (
            "an acceptance day",
            format!(
                "SELECT count(*) AS n FROM filings WHERE id = '{id}' AND accepted_at IS NOT NULL"
            ),
        ),
        (
            "a clock event after the receipt's start",
            format!(
                "SELECT count(*) AS n FROM clock_events WHERE filing_id = '{id}' AND event <> 'start'"
            ),
        ),
    ] {
        assert_eq!(count(sql), 0, "nothing of the acceptance: {what}");
    }
    assert_eq!(
        count(format!(
            "SELECT count(*) AS n FROM audit_log WHERE filing_id = '{id}' AND action = 'action:accept'"
        )),
        0
    );
}

/// Staff accounts with live tokens, written straight into the database: 32 password hashes and
/// logins would cost more than the test itself.
fn insert_staff_with_tokens(
    app: &TestApp,
    n: usize,
    department: &str,
    role: &str,
) -> Vec<(Uuid, String)> {
    let mut sql = String::new();
    let mut out = Vec::new();
    for i in 0..n {
        let id = Uuid::new_v4();
        let token = format!("pt_bulk_{}", Uuid::new_v4().simple());
        let hash = permits::services::auth::token_hash(&token);
        sql.push_str(&format!(
            "INSERT INTO users (id, username, display_name, kind, password_hash, department, created_at) \
             VALUES ('{id}', 'bulk{i}', 'bulk{i}', 'staff', 'not-a-hash', '{department}', now());
             INSERT INTO user_roles (user_id, role) VALUES ('{id}', '{role}');
             INSERT INTO api_tokens (id, user_id, token_hash, created_at, expires_at)
             VALUES ('{}', '{id}', '{hash}', now(), now() + interval '1 day');\n",
            Uuid::new_v4()
        ));
        out.push((id, token));
    }
    app.conn().batch_execute(&sql).unwrap();
    out
}

#[actix_web::test]
async fn thirty_two_clerks_claim_a_queue_of_a_thousand_without_claiming_any_task_twice() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    // A thousand filings awaiting acceptance, each with its open clerk task at the window, as
    // `submit` leaves them (built in SQL: through HTTP this would take minutes).
    app.conn()
        .batch_execute(&format!(
            "INSERT INTO filings (id, item_version_id, item_code, applicant_id, state, state_kind,
                 department, form, entered_state_at, submitted_at, created_at, updated_at)
             SELECT gen_random_uuid(),
                    (SELECT id FROM item_versions WHERE code = 'construction-permit'
                     ORDER BY version DESC LIMIT 1),
                    'construction-permit', '{}', 'intake', 'intake', 'window', '{{}}',
                    now(), now(), now(), now()
             FROM generate_series(1, 1000);
             INSERT INTO tasks (filing_id, state, role, department, created_at)
             SELECT id, 'intake', 'clerk', 'window', now() FROM filings;",
            builder.id
        ))
        .unwrap();
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM tasks WHERE claimed_by IS NULL AND closed_at IS NULL"
        ),
        1000
    );
    let clerks = insert_staff_with_tokens(&app, 32, "window", "clerk");

    let started = Instant::now();
    let url = app.url("/api/v1/queue/claim-next");
    let per_clerk = join_all(clerks.iter().map(|(_, token)| {
        let url = url.clone();
        async move {
            let client = reqwest::Client::new();
            let mut mine = Vec::new();
            loop {
                let r = client.post(&url).bearer_auth(token).send().await.unwrap();
                match r.status().as_u16() {
                    200 => {
                        let t: Value = r.json().await.unwrap();
                        mine.push(t["id"].as_i64().unwrap());
                    }
                    204 => break,
                    other => panic!("claim-next: {other} {}", r.text().await.unwrap()),
                }
            }
            mine
        }
    }))
    .await;
    eprintln!("1,000 claims by 32 clerks in {:?}", started.elapsed());

    let mut owner: HashMap<i64, Uuid> = HashMap::new();
    for ((clerk, _), claimed) in clerks.iter().zip(&per_clerk) {
        for task in claimed {
            assert!(
                owner.insert(*task, *clerk).is_none(),
                "task {task} was handed out twice"
            );
        }
    }
    assert_eq!(owner.len(), 1000, "every task claimed once");
    assert!(
        per_clerk.iter().filter(|c| !c.is_empty()).count() > 1,
        "the clerks worked side by side"
    );

    // The database agrees with what each clerk was told.
    let rows: Vec<(i64, Option<Uuid>)> = {
        use permits::db::schema::tasks::dsl::*;
        tasks
            .select((id, claimed_by))
            .load(&mut app.conn())
            .unwrap()
    };
    assert_eq!(rows.len(), 1000);
    for (task, claimer) in rows {
        assert_eq!(claimer, owner.get(&task).copied(), "task {task}");
    }
    // One `claim` entry per task in its filing's chain.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM audit_log WHERE action = 'claim'"
        ),
        1000
    );
}

#[actix_web::test]
async fn a_stale_version_is_refused_with_409_and_the_current_state() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let v1 = f["version"].as_i64().unwrap();
    app.upload_all(&builder, &id, &["application_form"]).await;
    let audit_before = app.count("audit_log");

    // Acting on the version seen before the upload.
    let r = app
        .act_raw(&builder, &id, "withdraw", v1, json!({ "reason": "不建了" }))
        .await;
    let body = problem(r, 409).await;
    assert_eq!(body["code"], "stale_version");
    assert_eq!(body["current"]["version"].as_i64().unwrap(), v1 + 1);
    assert_eq!(body["current"]["state"], "draft");

    // Editing with it too.
    let r = app
        .patch(
            &builder,
            &format!("/api/v1/filings/{id}"),
            json!({ "expected_version": v1, "form": { "project_name": "新名称" } }),
        )
        .await;
    let body = problem(r, 409).await;
    assert_eq!(body["code"], "stale_version");
    assert_eq!(body["current"]["version"].as_i64().unwrap(), v1 + 1);

    let after = app.filing(&builder, &id).await;
    assert_eq!(after["version"].as_i64().unwrap(), v1 + 1);
    assert_eq!(after["state"]["code"], "draft");
    assert_eq!(after["form"]["project_name"], "示范小学教学楼");
    assert_eq!(
        app.count("audit_log"),
        audit_before,
        "refusals are not written"
    );
}

#[actix_web::test]
async fn an_action_without_a_version_is_refused_with_428() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();

    let r = app
        .post(
            &builder,
            &format!("/api/v1/filings/{id}/actions/withdraw"),
            json!({}),
        )
        .await;
    let body = problem(r, 428).await;
    assert_eq!(body["code"], "version_required");

    // An empty body too.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/filings/{id}/actions/withdraw")))
        .bearer_auth(&builder.token)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 428).await["code"], "version_required");

    let r = app
        .patch(
            &builder,
            &format!("/api/v1/filings/{id}"),
            json!({ "form": { "project_name": "新名称" } }),
        )
        .await;
    assert_eq!(problem(r, 428).await["code"], "version_required");
    assert_eq!(app.filing(&builder, &id).await["version"], f["version"]);
}

#[actix_web::test]
async fn an_if_match_header_carries_the_version_as_well_as_expected_version() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let v = f["version"].as_i64().unwrap();

    // PATCH with `If-Match: "v"` and no body version.
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/filings/{id}")))
        .bearer_auth(&builder.token)
        .header("If-Match", format!("\"{v}\""))
        .json(&json!({ "form": { "project_name": "新名称" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("etag").unwrap().to_str().unwrap(),
        format!("\"{}\"", v + 1)
    );
    let f: Value = r.json().await.unwrap();
    assert_eq!(f["form"]["project_name"], "新名称");

    // A stale If-Match is as stale as a stale body field.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/filings/{id}/actions/withdraw")))
        .bearer_auth(&builder.token)
        .header("If-Match", format!("\"{v}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 409).await["code"], "stale_version");

    // Not a number: a field problem naming the header.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/filings/{id}/actions/withdraw")))
        .bearer_auth(&builder.token)
        .header("If-Match", "\"latest\"")
        .send()
        .await
        .unwrap();
    let body = problem(r, 422).await;
    assert_eq!(body["errors"][0]["path"], "If-Match");

    // An action with a weak `W/"v+1"`: the version is taken (what is missing is the reason)...
    let url = app.url(&format!("/api/v1/filings/{id}/actions/withdraw"));
    let r = app
        .client
        .post(&url)
        .bearer_auth(&builder.token)
        .header("If-Match", format!("W/\"{}\"", v + 1))
        .send()
        .await
        .unwrap();
    let body = problem(r, 422).await;
    assert_eq!(error_paths(&body), ["input.reason"]);
    // ... and with the reason the action goes through on the header's version alone.
    let r = app
        .client
        .post(&url)
        .bearer_auth(&builder.token)
        .header("If-Match", format!("W/\"{}\"", v + 1))
        .json(&json!({ "reason": "项目取消" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let f: Value = r.json().await.unwrap();
    assert_eq!(f["state"]["code"], "withdrawn");
    assert_eq!(f["version"].as_i64().unwrap(), v + 2);
}

#[actix_web::test]
async fn a_clerk_cannot_act_on_a_filing_another_clerk_claimed_until_it_is_released() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let alice = app.staff("alice", "window", &[Role::Clerk]).await;
    let bob = app.staff("bob", "window", &[Role::Clerk]).await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let task = task_of(&f);

    let r = app
        .post(&alice, &format!("/api/v1/tasks/{task}/claim"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["claimed_by"], json!(alice.id));

    // Bob acts behind Alice's back: refused, and told who holds it.
    let f = app.filing(&bob, &id).await;
    let version = f["version"].as_i64().unwrap();
    let r = app.act_raw(&bob, &id, "accept", version, json!({})).await;
    let body = problem(r, 409).await;
    assert_eq!(body["code"], "claimed_by_other");
    assert_eq!(body["claimed_by"], json!(alice.id));
    assert_eq!(body["task_id"], task);
    // Nor may he take the task over, or release it for her.
    let r = app
        .post(&bob, &format!("/api/v1/tasks/{task}/claim"), json!({}))
        .await;
    assert_eq!(problem(r, 409).await["code"], "claimed_by_other");
    let r = app
        .post(&bob, &format!("/api/v1/tasks/{task}/release"), json!({}))
        .await;
    assert_eq!(problem(r, 403).await["code"], "forbidden");
    let unchanged = app.filing(&bob, &id).await;
    assert_eq!(unchanged["state"]["code"], "intake");
    assert_eq!(unchanged["version"].as_i64().unwrap(), version);

    // Alice releases; now Bob's action goes through.
    let r = app
        .post(&alice, &format!("/api/v1/tasks/{task}/release"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert!(t["claimed_by"].is_null());
    let f = app.act(&bob, &unchanged, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");
}

#[actix_web::test]
async fn a_manager_reassigns_a_task_only_to_staff_of_the_department_with_its_role() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let manager = app.staff("manager", "window", &[Role::Manager]).await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let other_clerk = app.staff("other", "window", &[Role::Clerk]).await;
    let inspector = app.staff("inspector", "window", &[Role::Inspector]).await;
    let fire_clerk = app.staff("fireclerk", "fire", &[Role::Clerk]).await;
    let f = submitted_permit(&app, &builder).await;
    let task = task_of(&f);
    let path = format!("/api/v1/tasks/{task}/assign");

    // A clerk is not a manager, even for a task of his own department.
    let r = app
        .post(&other_clerk, &path, json!({ "user_id": clerk.id }))
        .await;
    assert_eq!(problem(r, 403).await["code"], "forbidden");

    // Not eligible: staff of the department without the clerk role, a clerk of another
    // department, an applicant, nobody at all.
    let unknown = Uuid::new_v4();
    for to in [inspector.id, fire_clerk.id, builder.id, unknown] {
        let r = app.post(&manager, &path, json!({ "user_id": to })).await;
        let body = problem(r, 422).await;
        assert_eq!(body["errors"][0]["path"], "user_id", "{to}");
        assert_eq!(body["errors"][0]["code"], "not_eligible", "{to}");
    }
    let claimed: Option<Uuid> = {
        use permits::db::schema::tasks::dsl::*;
        tasks
            .find(task)
            .select(claimed_by)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(claimed, None, "refused reassignments change nothing");

    let r = app
        .post(&manager, &path, json!({ "user_id": clerk.id }))
        .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["claimed_by"], json!(clerk.id));
    // Reassign from one clerk to another.
    let r = app
        .post(&manager, &path, json!({ "user_id": other_clerk.id }))
        .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["claimed_by"], json!(other_clerk.id));
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT count(*) AS n FROM audit_log WHERE action = 'assign' AND filing_id = '{}'",
                f["id"].as_str().unwrap()
            )
        ),
        2
    );
    // The assignee's department mates now see the task as someone else's.
    let id = f["id"].as_str().unwrap();
    let f = app.filing(&clerk, id).await;
    let r = app
        .act_raw(
            &clerk,
            id,
            "accept",
            f["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(problem(r, 409).await["code"], "claimed_by_other");
    assert_eq!(f["state"]["code"], "intake");
}

async fn create_keyed(app: &TestApp, user: &User, key: &str, form: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/filings"))
        .bearer_auth(&user.token)
        .header("Idempotency-Key", key)
        .json(&json!({ "item": "fire-acceptance-filing", "form": form }))
        .send()
        .await
        .unwrap()
}

/// A create sent again with its Idempotency-Key (a retry after a lost answer), alone or many
/// at once, makes one draft; the key is the applicant's own and cannot be reused for another
/// request.
#[actix_web::test]
async fn a_create_repeated_with_its_idempotency_key_makes_one_draft() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let other = app.applicant("other").await;
    let (filings0, audit0) = (app.count("filings"), app.count("audit_log"));

    let first = create_keyed(&app, &builder, "retry-1", fire_form()).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("Idempotent-Replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = create_keyed(&app, &builder, "retry-1", fire_form()).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["Idempotent-Replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(app.count("filings"), filings0 + 1);
    assert_eq!(
        app.count("audit_log"),
        audit0 + 1,
        "a replay writes nothing"
    );

    // The same key for another request: refused, nothing written.
    let mut changed = fire_form();
    changed["project_name"] = json!("另一个工程");
    let body = problem(create_keyed(&app, &builder, "retry-1", changed).await, 422).await;
    assert_eq!(error_paths(&body), ["Idempotency-Key"], "{body}");
    assert_eq!(body["errors"][0]["code"], "key_reused");
    // A malformed key.
    for bad in ["", "has space", &"k".repeat(65)] {
        let body = problem(create_keyed(&app, &builder, bad, fire_form()).await, 422).await;
        assert_eq!(error_paths(&body), ["Idempotency-Key"], "{bad:?}: {body}");
    }
    assert_eq!(app.count("filings"), filings0 + 1);

    // Another applicant's key of the same name is theirs.
    let theirs = create_keyed(&app, &other, "retry-1", fire_form()).await;
    assert_eq!(theirs.status(), 201);
    assert!(theirs.headers().get("Idempotent-Replayed").is_none());
    assert_eq!(app.count("filings"), filings0 + 2);

    // Ten at once with a new key, held at the key until every one that holds a connection has
    // read it free: the first to commit makes the draft, the others then find the key taken
    // and answer with that draft.
    let gate = app.gate(&format!(
        "INSERT INTO create_requests VALUES ('{}', 'burst', repeat('0', 64), '{}', now())",
        builder.id,
        first["id"].as_str().unwrap()
    ));
    let burst = join_all((0..10).map(|_| create_keyed(&app, &builder, "burst", fire_form())));
    // Every pooled create waits at the key.
    let (answers, ()) = futures::join!(burst, gate.end_when_waiting(&app, 8, "ROLLBACK"));
    let mut ids = Vec::new();
    for r in answers {
        assert_eq!(r.status(), 201);
        ids.push(r.json::<Value>().await.unwrap()["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.count("filings"), filings0 + 3);
    assert_eq!(app.count("create_requests"), 3);
}

/// The same file uploaded again for the same material (a retry after a lost answer, or a
/// double press) is answered with the file on file and writes nothing; eight copies sent at
/// once, held at the filing's lock until all of them wait there, make one.
#[actix_web::test]
async fn an_upload_sent_again_is_answered_with_the_file_on_file() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "fire-acceptance-filing", fire_form())
        .await;
    let id = f["id"].as_str().unwrap();
    let uploaded = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let replayed = r.headers().get("Idempotent-Replayed").cloned();
        let body: Value = r.json().await.unwrap();
        (
            status,
            replayed.map(|h| h.to_str().unwrap().to_owned()),
            body,
        )
    };

    let (status, replayed, first) = uploaded(
        app.upload(&builder, id, "filing_form", "表.pdf", pdf("one"))
            .await,
    )
    .await;
    assert_eq!((status, replayed), (201, None), "{first}");
    let audit0 = app.count("audit_log");
    // Again, even under another name: the same content is the same document.
    for name in ["表.pdf", "copy.pdf"] {
        let (status, replayed, again) = uploaded(
            app.upload(&builder, id, "filing_form", name, pdf("one"))
                .await,
        )
        .await;
        assert_eq!(
            (status, replayed.as_deref()),
            (200, Some("true")),
            "{again}"
        );
        assert_eq!(again["material"]["id"], first["material"]["id"]);
        assert_eq!(again["material"]["file_name"], "表.pdf");
        assert_eq!(again["filing_version"], first["filing_version"]);
    }
    assert_eq!(app.count("materials"), 1);
    assert_eq!(app.count("audit_log"), audit0, "a replay writes nothing");
    assert_eq!(
        app.filing(&builder, id).await["version"],
        first["filing_version"]
    );

    // Other content, or the same content for another material, is a new file.
    let r = app
        .upload(&builder, id, "filing_form", "p2.pdf", pdf("two"))
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .upload(&builder, id, "completion_report", "表.pdf", pdf("one"))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(app.count("materials"), 3);

    // Removed, then uploaded again: on file anew.
    let m = first["material"]["id"].as_str().unwrap();
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/filings/{id}/materials/{m}")))
        .bearer_auth(&builder.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, _, anew) = uploaded(
        app.upload(&builder, id, "filing_form", "表.pdf", pdf("one"))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{anew}");
    assert_ne!(anew["material"]["id"], first["material"]["id"]);
    assert_eq!(app.count("materials"), 4);

    // Eight copies at once, held at the filing's row lock until all eight wait there.
    let gate = app.gate(&format!(
        "SELECT 1 FROM filings WHERE id = '{id}' FOR UPDATE"
    ));
    let names: Vec<String> = (0..8).map(|i| format!("{i}.pdf")).collect();
    let burst = join_all(
        names
            .iter()
            .map(|n| app.upload(&builder, id, "filing_form", n, pdf("burst"))),
    );
    let (answers, ()) = futures::join!(burst, gate.end_when_waiting(&app, 8, "ROLLBACK"));
    let mut statuses = Vec::new();
    let mut ids = Vec::new();
    for r in answers {
        let (status, _, body) = uploaded(r).await;
        statuses.push(status);
        ids.push(body["material"]["id"].clone());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 201]);
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.count("materials"), 5);
}

/// A claim, a claim of the next task or an assignment racing the deactivation of the person
/// who would hold the task leaves no task with them: each is held at the person's row while
/// the deactivation (done here in SQL) commits, and is then refused.
#[actix_web::test]
async fn no_task_is_left_claimed_by_someone_deactivated_meanwhile() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let boss = app.staff("boss", "window", &[Role::Manager]).await;
    let clerks = [
        app.staff("clerk1", "window", &[Role::Clerk]).await,
        app.staff("clerk2", "window", &[Role::Clerk]).await,
        app.staff("clerk3", "window", &[Role::Clerk]).await,
    ];
    let f = submitted_permit(&app, &builder).await;
    let task = scalar(
        &app,
        &format!(
            "SELECT id AS n FROM tasks WHERE filing_id = '{}' AND closed_at IS NULL",
            f["id"].as_str().unwrap()
        ),
    );
    let claimed = || {
        scalar(
            &app,
            &format!(
                "SELECT count(*) AS n FROM tasks WHERE id = {task} AND claimed_by IS NOT NULL"
            ),
        )
    };
    let deactivate = |u: &User| {
        format!(
            "UPDATE users SET active = false WHERE id = '{0}';
             UPDATE api_tokens SET revoked_at = now() WHERE user_id = '{0}';
             COMMIT",
            u.id
        )
    };
    let hold = |u: &User| {
        app.gate(&format!(
            "SELECT 1 FROM users WHERE id = '{}' FOR UPDATE",
            u.id
        ))
    };

    // A manager assigns the task to a clerk being deactivated.
    let gate = hold(&clerks[0]);
    let (path, end) = (
        format!("/api/v1/tasks/{task}/assign"),
        deactivate(&clerks[0]),
    );
    let assign = app.post(&boss, &path, json!({ "user_id": clerks[0].id }));
    let (r, ()) = futures::join!(assign, gate.end_when_waiting(&app, 1, &end));
    let p = problem(r, 422).await;
    assert_eq!(p["errors"][0]["code"], "not_eligible", "{p}");
    assert_eq!(claimed(), 0);

    // A clerk being deactivated claims the task, or the next one.
    for (clerk, path) in [
        (&clerks[1], format!("/api/v1/tasks/{task}/claim")),
        (&clerks[2], "/api/v1/queue/claim-next".to_owned()),
    ] {
        let gate = hold(clerk);
        let end = deactivate(clerk);
        let claim = app.post(clerk, &path, json!({}));
        let (r, ()) = futures::join!(claim, gate.end_when_waiting(&app, 1, &end));
        assert_eq!(problem(r, 401).await["code"], "unauthenticated", "{path}");
        assert_eq!(claimed(), 0, "{path}");
    }
}

/// A construction permit submitted by an applicant with mail, as the window's clerk sees it,
/// in a test app of its own: (app, applicant, clerk, filing).
async fn permit_at_the_window() -> (TestApp, User, User, Value) {
    let app = TestApp::spawn().await;
    let builder = app
        .mail_user(
            "builder",
            None,
            &[Role::Applicant],
            permits::domain::Lang::Zh,
        )
        .await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let f = submitted_permit(&app, &builder).await;
    let f = app.filing(&clerk, f["id"].as_str().unwrap()).await;
    (app, builder, clerk, f)
}

/// An action writes references to its actor (audit entry, clock events), the applicant (the
/// letter) and departments (tasks, the filing's move), checked without locking the rows
/// referred to (migration `references_without_row_locks`): an administrator holding every
/// account and every department locked, as a long edit would, does not hold actions up. With
/// foreign keys, each reference took a KEY SHARE lock on its row and the action waited.
#[actix_web::test]
async fn actions_do_not_wait_on_locks_held_on_people_or_departments() {
    let (app, _, clerk, f) = permit_at_the_window().await;
    app.allow_unsent_mail();
    let letters = app.count("outbox");
    let gate = app.gate(
        "SELECT 1 FROM users FOR UPDATE; SELECT 1 FROM departments FOR UPDATE; \
         SELECT 1 FROM user_roles FOR UPDATE",
    );
    let accepted = actix_web::rt::time::timeout(
        std::time::Duration::from_secs(15),
        app.act(&clerk, &f, "accept", json!({})),
    )
    .await
    .expect("the action waited on a lock on a person or a department");
    drop(gate);
    assert_eq!(accepted["state"]["code"], "review");
    // What it wrote refers to them as before.
    assert!(app.count("outbox") > letters);
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT count(*) AS n FROM tasks t JOIN departments d ON d.code = t.department \
                 WHERE t.filing_id = '{}' AND t.closed_at IS NULL",
                f["id"].as_str().unwrap()
            )
        ),
        1
    );
}

/// The references checked without a lock are still checked (SQLSTATE 23503, as a foreign key
/// fails), filings, people and departments are never deleted or re-keyed (what makes the lock needless),
/// and a filing's audit entries are its own chain's (what lets its chain's index find them).
#[actix_web::test]
async fn references_without_locks_are_checked_and_what_they_refer_to_is_kept() {
    let (app, builder, clerk, f) = permit_at_the_window().await;
    app.act(&clerk, &f, "accept", json!({})).await;
    let id = f["id"].as_str().unwrap();
    app.allow_unsent_mail();
    let refused = |sql: &str| {
        app.conn()
            .batch_execute(sql)
            .expect_err(&format!("{sql} must be refused"))
    };
    let kind = |e: &diesel::result::Error| match e {
        diesel::result::Error::DatabaseError(kind, _) => format!("{kind:?}"),
        other => format!("{other}"),
    };
    for sql in [
        format!(
            "INSERT INTO audit_log (chain, seq, filing_id, actor_id, action, at, entry, prev_hash, hash) \
             SELECT chain, seq + 1000, filing_id, gen_random_uuid(), action, at, entry, prev_hash, hash \
             FROM audit_log WHERE filing_id = '{id}' LIMIT 1"
        ),
        format!("UPDATE outbox SET recipient_id = gen_random_uuid() WHERE filing_id = '{id}'"),
        format!("UPDATE clock_events SET actor_id = gen_random_uuid() WHERE filing_id = '{id}'"),
        format!("UPDATE tasks SET department = 'nowhere' WHERE filing_id = '{id}'"),
        format!("UPDATE filings SET department = 'nowhere' WHERE id = '{id}'"),
        format!("UPDATE tasks SET filing_id = gen_random_uuid() WHERE filing_id = '{id}'"),
        format!("UPDATE outbox SET filing_id = gen_random_uuid() WHERE filing_id = '{id}'"),
        format!("UPDATE clock_events SET filing_id = gen_random_uuid() WHERE filing_id = '{id}'"),
    ] {
        let e = refused(&sql);
        assert_eq!(kind(&e), "ForeignKeyViolation", "{sql}: {e}");
    }
    let draft = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let draft = draft["id"].as_str().unwrap();
    // Someone nothing refers to yet (no role, no token), so that no foreign key speaks first.
    app.conn()
        .batch_execute(
            "INSERT INTO users (id, username, display_name, kind, password_hash, created_at) \
             VALUES (gen_random_uuid(), 'nobody', 'nobody', 'person', '-', now())",
        )
        .unwrap();
    for sql in [
        "DELETE FROM users WHERE username = 'nobody'".to_owned(),
        "UPDATE users SET id = gen_random_uuid() WHERE username = 'nobody'".to_owned(),
        "DELETE FROM departments WHERE code = 'construction'".to_owned(),
        "UPDATE departments SET code = 'elsewhere' WHERE code = 'construction'".to_owned(),
        format!("DELETE FROM filings WHERE id = '{id}'"),
        // A draft without uploads: no foreign key refers to it.
        format!("UPDATE filings SET id = gen_random_uuid() WHERE id = '{draft}'"),
    ] {
        let e = refused(&sql);
        assert!(
            e.to_string().contains("never deleted or re-keyed"),
            "{sql}: {e}"
        );
    }
    // An entry naming a filing belongs to that filing's chain.
    let e = refused(&format!(
        "INSERT INTO audit_log (chain, seq, filing_id, actor_id, action, at, entry, prev_hash, hash) \
         SELECT 'admin', seq + 1000, filing_id, actor_id, action, at, entry, prev_hash, hash \
         FROM audit_log WHERE filing_id = '{id}' LIMIT 1"
    ));
    assert_eq!(kind(&e), "CheckViolation", "{e}");
    // The filing's entries, found by its chain, all of them, as the auditor's log lists them.
    let lines = permits::repo::audit::browse(
        &mut app.conn(),
        Some(Uuid::parse_str(id).unwrap()),
        None,
        100,
        0,
    )
    .unwrap();
    assert!(lines.len() >= 3, "{lines:?}");
    assert_eq!(
        lines.len() as i64,
        scalar(
            &app,
            &format!("SELECT count(*) AS n FROM audit_log WHERE filing_id = '{id}'")
        )
    );
}
