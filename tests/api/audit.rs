//! The audit log is evidence (DESIGN principle 5): one entry per change, written in the
//! change's own transaction; append-only by trigger; hash-chained so that whoever gets past the
//! trigger is still caught, by the API and by `permits audit verify`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use permits::domain::definition::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::bad_input::problem;
use crate::concurrency::{scalar, submitted_permit};
use crate::helpers::*;

#[derive(Debug, Queryable)]
struct Entry {
    id: i64,
    seq: i64,
    actor_id: Option<Uuid>,
    action: String,
    prev_hash: String,
    hash: String,
}

fn chain_of(app: &TestApp, filing: &str) -> Vec<Entry> {
    use permits::db::schema::audit_log::dsl::*;
    audit_log
        .filter(chain.eq(format!("filing:{filing}")))
        .order(seq)
        .select((id, seq, actor_id, action, prev_hash, hash))
        .load(&mut app.conn())
        .unwrap()
}

async fn verify(app: &TestApp, auditor: &User) -> Value {
    let r = app.get(auditor, "/api/v1/audit/verify").await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Run SQL past the append-only trigger, as a superuser could.
fn behind_the_trigger(app: &TestApp, sql: &str) {
    app.conn()
        .batch_execute(&format!(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete;
             {sql};
             ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete;"
        ))
        .unwrap();
}

#[actix_web::test]
async fn every_change_of_a_lifecycle_writes_exactly_one_chained_audit_entry() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let task = f["tasks"][0]["id"].as_i64().unwrap();

    // Refusals along the way write nothing.
    let before = app.count("audit_log");
    let r = app
        .act_raw(
            &builder,
            &id,
            "accept",
            f["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = app.act_raw(&clerk, &id, "accept", 1, json!({})).await;
    assert_eq!(r.status(), 409);
    let r = app
        .act_raw(
            &clerk,
            &id,
            "request_supplement",
            f["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(app.count("audit_log"), before);

    let r = app
        .post(&clerk, &format!("/api/v1/tasks/{task}/claim"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let f = app.filing(&clerk, &id).await;
    app.act(&clerk, &f, "accept", json!({})).await;
    let f = app.filing(&reviewer, &id).await;
    app.act(&reviewer, &f, "approve", json!({ "opinion": "符合条件" }))
        .await;

    let entries = chain_of(&app, &id);
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    let mut expected = vec!["create"];
    expected.extend(std::iter::repeat_n(
        "upload_material",
        CONSTRUCTION_MATERIALS.len(),
    ));
    expected.extend(["action:submit", "claim", "action:accept", "action:approve"]);
    assert_eq!(actions, expected);
    let mut prev = permits::domain::audit::GENESIS.to_owned();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
        assert_eq!(
            e.prev_hash, prev,
            "entry {} links to its predecessor",
            e.seq
        );
        prev = e.hash.clone();
    }
    let actors: Vec<Uuid> = entries.iter().map(|e| e.actor_id.unwrap()).collect();
    // Created, every material uploaded and submitted by the builder; then the staff.
    let by_builder = 2 + CONSTRUCTION_MATERIALS.len();
    assert!(actors[..by_builder].iter().all(|a| *a == builder.id));
    assert_eq!(actors[by_builder..], [clerk.id, clerk.id, reviewer.id]);
    // The chain's head record points at its last entry.
    let (head_seq, head_hash): (i64, String) = {
        use permits::db::schema::audit_heads::dsl::*;
        audit_heads
            .find(format!("filing:{id}"))
            .select((seq, hash))
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(head_seq, entries.len() as i64);
    assert_eq!(head_hash, prev);

    // The history the applicant reads is that chain.
    let h: Value = app
        .get(&builder, &format!("/api/v1/filings/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let h: Vec<(&str, &str)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["hash"].as_str().unwrap()))
        .collect();
    let stored: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.hash.as_str()))
        .collect();
    assert_eq!(h, stored);
}

#[actix_web::test]
async fn an_action_whose_audit_entry_cannot_be_written_changes_nothing() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    // Take the chain's next sequence number, so that the accept's audit append fails on
    // UNIQUE (chain, seq) after the state, clock and task changes were already made.
    app.conn()
        .batch_execute(&format!(
            "INSERT INTO audit_log (chain, seq, filing_id, action, at, entry, prev_hash, hash)
             SELECT chain, seq + 1, '{id}', 'squatter', now(), '{{}}', hash, repeat('0', 64)
             FROM audit_heads WHERE chain = 'filing:{id}'"
        ))
        .unwrap();
    let audit_before = app.count("audit_log");

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
    assert_eq!(problem(r, 500).await["code"], "internal");

    let after = app.filing(&clerk, &id).await;
    assert_eq!(after["state"]["code"], "intake");
    assert_eq!(after["version"], f["version"]);
    assert!(after["accepted_at"].is_null());
    assert_eq!(
        after["tasks"], f["tasks"],
        "the intake task is still open, no review task"
    );
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT count(*) AS n FROM clock_events WHERE filing_id = '{id}' AND event <> 'start'"
            )
        ),
        0,
        "the clock (running from receipt) did not move"
    );
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT count(*) AS n FROM tasks WHERE filing_id = '{id}' AND role = 'reviewer'"
            )
        ),
        0
    );
    assert_eq!(app.count("audit_log"), audit_before);
}

#[actix_web::test]
async fn verification_passes_on_an_untouched_database_and_after_a_lifecycle() {
    let app = TestApp::spawn().await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;
    let v = verify(&app, &auditor).await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["first_break"].is_null());
    assert_eq!(v["entries"].as_i64().unwrap(), app.count("audit_log"));
    assert_eq!(
        v["chains"].as_i64().unwrap(),
        scalar(&app, "SELECT count(DISTINCT chain) AS n FROM audit_log")
    );

    let builder = app.applicant("builder").await;
    submitted_permit(&app, &builder).await;
    let v = verify(&app, &auditor).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"].as_i64().unwrap(), app.count("audit_log"));
}

#[actix_web::test]
async fn an_altered_entry_is_reported_with_its_id_seq_and_chain() {
    let app = TestApp::spawn().await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;
    let builder = app.applicant("builder").await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let entries = chain_of(&app, &id);
    let victim = &entries[1];
    assert_eq!(victim.action, "upload_material");

    behind_the_trigger(
        &app,
        &format!(
            "UPDATE audit_log SET entry = replace(entry, 'application_form.pdf', 'forged.pdf') WHERE id = {}",
            victim.id
        ),
    );
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT count(*) AS n FROM audit_log WHERE id = {} AND entry LIKE '%forged.pdf%'",
                victim.id
            )
        ),
        1,
        "the forgery took"
    );
    let v = verify(&app, &auditor).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(
        v["first_break"],
        json!({ "chain": format!("filing:{id}"), "id": victim.id, "seq": 2, "reason": "hash_mismatch" })
    );

    // A forger who also rewrites that entry's hash breaks the next link instead.
    let entry: String = {
        use permits::db::schema::audit_log::dsl;
        dsl::audit_log
            .find(victim.id)
            .select(dsl::entry)
            .first(&mut app.conn())
            .unwrap()
    };
    let forged = permits::domain::audit::link(&victim.prev_hash, &entry);
    behind_the_trigger(
        &app,
        &format!(
            "UPDATE audit_log SET hash = '{forged}' WHERE id = {}",
            victim.id
        ),
    );
    let v = verify(&app, &auditor).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(
        v["first_break"],
        json!({ "chain": format!("filing:{id}"), "id": entries[2].id, "seq": 3, "reason": "broken_link" })
    );
}

#[actix_web::test]
async fn a_deleted_last_entry_is_reported_as_a_head_mismatch() {
    let app = TestApp::spawn().await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;
    let builder = app.applicant("builder").await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let entries = chain_of(&app, &id);
    let (last, before_last) = (&entries[entries.len() - 1], &entries[entries.len() - 2]);
    assert_eq!(last.action, "action:submit");

    behind_the_trigger(
        &app,
        &format!("DELETE FROM audit_log WHERE id = {}", last.id),
    );
    let v = verify(&app, &auditor).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(
        v["first_break"],
        json!({ "chain": format!("filing:{id}"), "id": before_last.id, "seq": before_last.seq,
                "reason": "head_mismatch" })
    );
}

#[actix_web::test]
async fn the_database_refuses_to_update_delete_or_truncate_the_audit_log() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    app.create(&builder, "construction-permit", construction_form())
        .await;
    let before = app.count("audit_log");
    assert!(before > 0);
    for sql in [
        "UPDATE audit_log SET action = 'nothing happened'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = app
            .conn()
            .batch_execute(sql)
            .expect_err(&format!("{sql} must be refused"));
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(app.count("audit_log"), before);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM audit_log WHERE action = 'nothing happened'"
        ),
        0
    );
}

fn cli_verify(app: &TestApp) -> std::process::Output {
    cli_verify_with(app, &[])
}

fn cli_verify_with(app: &TestApp, more: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_permits"))
        .args(["audit", "verify"])
        .args(more)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DATABASE_URL", &app.db_url)
        .env("PERMITS_ENV", "test")
        .env("RUST_LOG", "warn")
        .env_remove("PERMITS__DATABASE__URL")
        .output()
        .unwrap()
}

#[actix_web::test]
async fn the_cli_verifier_exits_zero_on_a_clean_log_and_non_zero_on_a_tampered_one() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();

    let clean = cli_verify(&app);
    let out = String::from_utf8_lossy(&clean.stdout);
    assert!(
        clean.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(out.contains("\"ok\": true"), "{out}");

    let victim = &chain_of(&app, &id)[0];
    behind_the_trigger(
        &app,
        &format!(
            "UPDATE audit_log SET entry = replace(entry, 'construction-permit', 'fire-acceptance') WHERE id = {}",
            victim.id
        ),
    );
    let tampered = cli_verify(&app);
    let out = String::from_utf8_lossy(&tampered.stdout);
    assert!(!tampered.status.success(), "{out}");
    assert!(out.contains("\"ok\": false"), "{out}");
    assert!(out.contains("hash_mismatch"), "{out}");
}

#[actix_web::test]
async fn an_entry_whose_columns_disagree_with_its_hashed_text_is_reported() {
    let app = TestApp::spawn().await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;
    let builder = app.applicant("builder").await;
    let intruder = app.applicant("intruder").await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let entries = chain_of(&app, &id);
    let submit = entries.last().unwrap();
    assert_eq!(submit.action, "action:submit");

    // Pin the submission on someone else, and call it something else.
    behind_the_trigger(
        &app,
        &format!(
            "UPDATE audit_log SET action = 'action:withdraw', actor_id = '{}' WHERE id = {}",
            intruder.id, submit.id
        ),
    );
    // The history is read from the hashed entry, so it still tells the truth...
    let h: Value = app
        .get(&builder, &format!("/api/v1/filings/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "action:submit");
    assert_eq!(last["actor_id"], json!(builder.id));
    // ... and verification names the rewritten row.
    let v = verify(&app, &auditor).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_break"]["id"], submit.id);
    assert_eq!(v["first_break"]["reason"], "column_mismatch");
    assert_eq!(v["first_break"]["chain"], format!("filing:{id}"));
}

/// Rewrite a chain from `from_seq` on as a careful forger would: change an entry's text and
/// recompute every hash after it and the chain's head, so that the chain verifies on its own.
fn rewrite_chain_consistently(app: &TestApp, chain_key: &str, from_seq: i64) {
    use permits::db::schema::audit_log::dsl;
    let rows: Vec<(i64, i64, String, String)> = dsl::audit_log
        .filter(dsl::chain.eq(chain_key))
        .order(dsl::seq)
        .select((dsl::id, dsl::seq, dsl::entry, dsl::prev_hash))
        .load(&mut app.conn())
        .unwrap();
    let mut sql = String::new();
    let mut prev = rows[0].3.clone();
    for (id, seq, entry, _) in rows {
        let entry = if seq == from_seq {
            entry.replace("\"action\":\"", "\"action\":\"forged-")
        } else {
            entry
        };
        let hash = permits::domain::audit::link(&prev, &entry);
        if seq >= from_seq {
            sql.push_str(&format!(
                "UPDATE audit_log SET entry = $${entry}$$, action = (($${entry}$$)::jsonb)->>'action', \
                 prev_hash = '{prev}', hash = '{hash}' WHERE id = {id};"
            ));
        }
        prev = hash;
    }
    sql.push_str(&format!(
        "UPDATE audit_heads SET hash = '{prev}' WHERE chain = '{chain_key}'"
    ));
    behind_the_trigger(app, &sql);
}

/// Run SQL past the seals' append-only triggers.
fn behind_the_seal_triggers(app: &TestApp, sql: &str) {
    app.conn()
        .batch_execute(&format!(
            "ALTER TABLE audit_seals DISABLE TRIGGER audit_seals_no_update_delete;
             ALTER TABLE audit_seal_heads DISABLE TRIGGER audit_seal_heads_no_update_delete;
             {sql};
             ALTER TABLE audit_seals ENABLE TRIGGER audit_seals_no_update_delete;
             ALTER TABLE audit_seal_heads ENABLE TRIGGER audit_seal_heads_no_update_delete;"
        ))
        .unwrap();
}

#[actix_web::test]
async fn seals_catch_a_chain_rewritten_consistently_after_it_was_sealed() {
    let app = TestApp::spawn().await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;
    let builder = app.applicant("builder").await;
    let f = submitted_permit(&app, &builder).await;
    let id = f["id"].as_str().unwrap().to_owned();
    let chain_key = format!("filing:{id}");

    // The first seal records every chain's head; with nothing new, the next writes nothing.
    let chains = scalar(&app, "SELECT count(*) AS n FROM audit_heads");
    let r = app.run_job("audit_seal").await;
    assert_eq!(r["sealed"], true, "{r}");
    assert_eq!(r["heads"].as_i64().unwrap(), chains);
    assert_eq!(r["last_seal"]["seq"], 1);
    let r = app.run_job("audit_seal").await;
    assert_eq!(r["sealed"], false, "{r}");
    assert_eq!(app.count("audit_seals"), 1);

    // One more entry in the filing's chain: the next seal records that chain alone.
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let g = app.filing(&clerk, &id).await;
    app.act(&clerk, &g, "accept", json!({})).await;
    let moved = scalar(
        &app,
        "SELECT count(*) AS n FROM audit_heads WHERE sealed_seq <> seq",
    );
    let r = app.run_job("audit_seal").await;
    assert_eq!(r["sealed"], true, "{r}");
    assert_eq!(r["heads"].as_i64().unwrap(), moved);
    assert_eq!(
        scalar(
            &app,
            &format!(
                "SELECT count(*) AS n FROM audit_seal_heads WHERE seal_seq = 2 AND chain = '{chain_key}'"
            )
        ),
        1
    );
    let v = verify(&app, &auditor).await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["seals"], 2);
    let last_hash = v["last_seal"]["hash"].as_str().unwrap().to_owned();
    assert_eq!(last_hash.len(), 64);
    // A seal hash kept outside: present (the first seal's too), absent, or not a hash at all.
    let first_hash = scalar_text(&app, "SELECT hash AS t FROM audit_seals WHERE seq = 1");
    for kept in [&last_hash, &first_hash] {
        let r = app
            .get(&auditor, &format!("/api/v1/audit/verify?seal={kept}"))
            .await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["ok"], true, "{v}");
    }
    let other = "0".repeat(63) + "1";
    let r = app
        .get(&auditor, &format!("/api/v1/audit/verify?seal={other}"))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["first_break"]["reason"], "kept_seal_missing");
    let p = problem(
        app.get(&auditor, "/api/v1/audit/verify?seal=xyz").await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["path"], "seal", "{p}");
    let out = cli_verify_with(&app, &["--seal", &other]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("kept_seal_missing"));
    assert_eq!(
        cli_verify_with(&app, &["--seal", &last_hash]).status.code(),
        Some(0)
    );

    // A forger rewrites the chain from its second entry on, hashes and head included: the
    // chain alone verifies, but its sealed head is no longer the entry at that place.
    rewrite_chain_consistently(&app, &chain_key, 2);
    let sealed_seq = scalar(
        &app,
        &format!(
            "SELECT max(seq) AS n FROM audit_seal_heads WHERE chain = '{chain_key}' AND seal_seq = 1"
        ),
    );
    let entry_id = scalar(
        &app,
        &format!(
            "SELECT id AS n FROM audit_log WHERE chain = '{chain_key}' AND seq = {sealed_seq}"
        ),
    );
    let v = verify(&app, &auditor).await;
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(
        v["entries"].as_i64().unwrap(),
        app.count("audit_log"),
        "every chain verified: {v}"
    );
    assert_eq!(
        v["first_break"],
        json!({ "chain": chain_key, "id": entry_id, "seq": sealed_seq, "reason": "sealed_entry_changed" })
    );
    // The CLI says the same and fails.
    let out = cli_verify(&app);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sealed_entry_changed"));
}

#[actix_web::test]
async fn altered_seals_are_reported_and_the_database_refuses_to_change_them() {
    let app = TestApp::spawn().await;
    let auditor = app.staff("auditor", "window", &[Role::Auditor]).await;
    let builder = app.applicant("builder").await;
    submitted_permit(&app, &builder).await;
    app.run_job("audit_seal").await;
    for sql in [
        "UPDATE audit_seals SET heads = 0",
        "DELETE FROM audit_seal_heads",
        "TRUNCATE audit_seals CASCADE",
    ] {
        let err = app
            .conn()
            .batch_execute(sql)
            .expect_err(&format!("{sql} must be refused"));
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(verify(&app, &auditor).await["ok"], true);

    // A recorded head changed: the seal's digest no longer matches its heads.
    behind_the_seal_triggers(
        &app,
        "UPDATE audit_seal_heads SET hash = repeat('f', 64) \
         WHERE chain = (SELECT min(chain) FROM audit_seal_heads)",
    );
    let v = verify(&app, &auditor).await;
    assert_eq!(
        v["first_break"],
        json!({ "chain": "seals", "id": 1, "seq": 1, "reason": "seal_heads_mismatch" }),
        "{v}"
    );
    // The seal's own text changed: it no longer hashes to its hash.
    behind_the_seal_triggers(
        &app,
        "UPDATE audit_seals SET entry = replace(entry, '\"heads\":', '\"heads\": ')",
    );
    let v = verify(&app, &auditor).await;
    assert_eq!(
        v["first_break"],
        json!({ "chain": "seals", "id": 1, "seq": 1, "reason": "seal_broken" }),
        "{v}"
    );
}

fn scalar_text(app: &TestApp, sql: &str) -> String {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    diesel::sql_query(sql)
        .get_result::<T>(&mut app.conn())
        .unwrap()
        .t
}
