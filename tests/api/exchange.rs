//! Data exchange: every reported transition reaches the province's front database (a real
//! PostgreSQL database) once, in order, through outages; permits are uploaded to a platform
//! (a local HTTP server standing in for it), signed, and tracked against their five working
//! days.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use permits::db::discovery;
use permits::domain::definition::Role;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;
use crate::lifecycle::issued_permit;

/// A front database that does not exist until [`Front::bring_up`], dropped afterwards.
struct Front {
    name: String,
    url: String,
    maint: String,
}

impl Front {
    fn absent() -> Front {
        let name = format!("permits_front_{}", uuid::Uuid::new_v4().simple());
        Front {
            url: discovery::with_database(server_url(), &name).unwrap(),
            maint: discovery::maintenance_url(server_url()).unwrap(),
            name,
        }
    }

    fn bring_up(&self) {
        PgConnection::establish(&self.maint)
            .unwrap()
            .batch_execute(&format!("CREATE DATABASE {}", self.name))
            .unwrap();
    }

    fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }

    /// The detail rows, in order: (LSH, SPSXSLBM, BLZT, BLR, BLYJ).
    fn details(&self) -> Vec<(i64, String, i16, String, Option<String>)> {
        diesel::sql_query(
            "SELECT lsh, spsxslbm, blzt, blr, blyj FROM spgl_xmspsxblxxxxb ORDER BY lsh",
        )
        .load::<Detail>(&mut self.conn())
        .unwrap()
        .into_iter()
        .map(|d| (d.lsh, d.spsxslbm, d.blzt, d.blr, d.blyj))
        .collect()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&self.maint) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[derive(QueryableByName)]
struct Detail {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    lsh: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    spsxslbm: String,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    blzt: i16,
    #[diesel(sql_type = diesel::sql_types::Text)]
    blr: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    blyj: Option<String>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Handling {
    #[diesel(sql_type = diesel::sql_types::Text)]
    xzqhdm: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    xmdm: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    spsxbm: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    spsxslbm: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::SmallInt>)]
    slfs: Option<i16>,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    blzt: i16,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    sjsczt: i16,
}

fn handling(front: &Front) -> Vec<Handling> {
    diesel::sql_query(
        "SELECT xzqhdm, xmdm, spsxbm, spsxslbm, slfs, blzt, sjsczt FROM spgl_xmspsxblxxb ORDER BY spsxslbm",
    )
    .load(&mut front.conn())
    .unwrap()
}

/// `GET /api/v1/exchange` as `who`.
async fn exchange_status(app: &TestApp, who: &User) -> Value {
    app.get(who, "/api/v1/exchange").await.json().await.unwrap()
}

fn move_seconds(app: &TestApp, s: i64) {
    app.clock
        .set(app.clock_now() + chrono::Duration::seconds(s));
}

/// Submit, accept, approve: each transition is an exchange row with its BLZT code (1, 3, 11),
/// written with the action. While the front database is missing the rows wait with the reason
/// (admins see how many and why); once it is up they arrive once, in order; a batch sent again
/// (the process died after the front database's commit) changes nothing there.
#[actix_web::test]
async fn every_transition_reaches_the_front_database_once_even_after_it_was_down() {
    let front = Front::absent();
    let url = front.url.clone();
    let app = TestApp::spawn_with(move |s| {
        s.exchange.spgl_url = url;
        s.exchange.batch_size = 2;
    })
    .await;
    app.allow_unsent_mail();
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    let (_builder, reviewer, id) = issued_permit(&app, "2026-03-02").await;
    let f = app.filing(&reviewer, &id).await;
    let number = f["number"].as_str().unwrap().to_owned();

    let rows = app
        .get(&reviewer, &format!("/api/v1/filings/{id}/exchange"))
        .await;
    assert_eq!(rows.status(), 200);
    let rows: Value = rows.json().await.unwrap();
    let codes: Vec<(&str, i64, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["blzt"].as_i64().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("submit", 1, "pending"),
            ("accept", 3, "pending"),
            ("approve", 11, "pending")
        ]
    );
    assert_eq!(rows[2]["opinion"], "符合条件");

    // The front database is not there: the rows wait, with the reason.
    let r = app.run_job("exchange").await;
    assert_eq!(r["exported"], 0, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("front database"),
        "{r}"
    );
    let s = exchange_status(&app, &admin).await;
    assert_eq!(s["spgl"]["pending"], 3, "{s}");
    assert_eq!(s["spgl"]["failing"], 2, "{s}"); // the first batch of two was tried
    assert!(
        s["spgl"]["last_error"]
            .as_str()
            .unwrap()
            .contains(&front.name),
        "{s}"
    );
    // Before the wait is over nothing is tried again.
    front.bring_up();
    let r = app.run_job("exchange").await;
    assert_eq!(r["exported"], 0, "{r}");
    assert_eq!(r["error"], Value::Null, "{r}");

    move_seconds(&app, 31);
    let r = app.run_job("exchange").await;
    assert_eq!(r["exported"], 3, "{r}");
    assert_eq!(r["waiting"], 0, "{r}");
    let details = front.details();
    let ours: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        details
            .iter()
            .map(|d| (d.0, d.1.as_str(), d.2))
            .collect::<Vec<_>>(),
        vec![
            (ours[0], number.as_str(), 1),
            (ours[1], number.as_str(), 3),
            (ours[2], number.as_str(), 11)
        ]
    );
    assert_eq!(details[2].4.as_deref(), Some("符合条件"));
    assert_eq!(
        handling(&front),
        vec![Handling {
            xzqhdm: "430104".into(),
            xmdm: construction_form()["project_code"]
                .as_str()
                .unwrap_or_default()
                .into(),
            spsxbm: "11430104MB1234567Y-000117006000".into(),
            spsxslbm: number.clone(),
            slfs: Some(2),
            blzt: 11,
            sjsczt: 0,
        }]
    );

    // The process died after the front database's commit and before ours: the batch goes
    // again and the front database still holds each row once.
    app.conn()
        .batch_execute("UPDATE exchange_rows SET status = 'pending', exported_at = NULL")
        .unwrap();
    let r = app.run_job("exchange").await;
    assert_eq!(r["exported"], 3, "{r}");
    assert_eq!(front.details().len(), 3);
    assert_eq!(handling(&front).len(), 1);
    assert_eq!(handling(&front)[0].blzt, 11);

    let s = exchange_status(&app, &admin).await;
    assert_eq!(s["spgl"]["pending"], 0, "{s}");
    assert_eq!(s["spgl"]["exported"], 3, "{s}");
    // Applicants see none of it.
    let applicant = app.applicant("someone").await;
    assert_eq!(app.get(&applicant, "/api/v1/exchange").await.status(), 403);
}

/// The fire filing's spot check is a special procedure: the draw's selection opens it (BLZT 9,
/// a row in the special-procedure table), passing the inspection closes it (10) and ends the
/// filing (11). A mobile submission is recorded as channel 3.
#[actix_web::test]
async fn a_drawn_fire_filing_reports_its_inspection_as_a_special_procedure() {
    let app = TestApp::spawn_with(|s| {
        fire_draws(true)(s);
        s.auth.token_ttl_hours = 24 * 30;
    })
    .await;
    app.allow_unsent_mail();
    at(&app, "2026-03-02");
    let owner = app.applicant("owner").await;
    let clerk = app.staff("clerk", "fire", &[Role::Clerk]).await;
    let a = app.staff("inspector", "fire", &[Role::Inspector]).await;
    let b = app.staff("inspector2", "fire", &[Role::Inspector]).await;
    let f = app
        .create(&owner, "fire-acceptance-filing", fire_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&owner, &id, FIRE_MATERIALS).await;
    let f = app.filing(&owner, &id).await;
    app.act(&owner, &f, "submit", json!({ "channel": "mobile" }))
        .await;
    let f = app.filing(&clerk, &id).await;
    let f = app.act(&clerk, &f, "issue_receipt", json!({})).await;
    assert_eq!(f["state"]["code"], "inspection", "{f}");
    // The draw made one of the two the lead, who inspects two days later.
    at(&app, "2026-03-04");
    let f = app.filing(&a, &id).await;
    let (status, _) = app
        .attempt(&a, &f, "pass_inspection", json!({ "opinion": "合格" }))
        .await;
    if status != 200 {
        let f = app.filing(&b, &id).await;
        app.act(&b, &f, "pass_inspection", json!({ "opinion": "合格" }))
            .await;
    }

    let rows: Value = app
        .get(&clerk, &format!("/api/v1/filings/{id}/exchange"))
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["blzt"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [1, 3, 9, 10, 11], "{rows}");

    let r = app.run_job("exchange").await;
    assert_eq!(r["exported"], 5, "{r}");
    // The demo's own front database, made on the first export.
    let name = format!(
        "{}_spgl",
        discovery::database_of(&app.db_url).unwrap().unwrap()
    );
    let mut front =
        PgConnection::establish(&discovery::with_database(server_url(), &name).unwrap()).unwrap();
    #[derive(QueryableByName)]
    struct Special {
        #[diesel(sql_type = diesel::sql_types::SmallInt)]
        tbcx: i16,
        #[diesel(sql_type = diesel::sql_types::Text)]
        tbcxmc: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ended: bool,
    }
    let sp: Vec<Special> = diesel::sql_query(
        "SELECT tbcx, tbcxmc, tbcxjssj > tbcxkssj AS ended FROM spgl_xmspsxbltbcxxxb",
    )
    .load(&mut front)
    .unwrap();
    assert_eq!(sp.len(), 1);
    assert_eq!(sp[0].tbcx, 2);
    assert!(sp[0].tbcxmc.contains("抽"), "{}", sp[0].tbcxmc);
    assert!(sp[0].ended);
    #[derive(QueryableByName)]
    struct Slfs {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::SmallInt>)]
        slfs: Option<i16>,
    }
    let s: Vec<Slfs> = diesel::sql_query("SELECT slfs FROM spgl_xmspsxblxxb")
        .load(&mut front)
        .unwrap();
    assert_eq!(s.iter().map(|s| s.slfs).collect::<Vec<_>>(), [Some(3)]);
}

/// A request as received: its headers (names in lower case) and body.
type Received = (Vec<(String, String)>, Vec<u8>);

/// What the stand-in platform received, and whether it is answering.
#[derive(Default)]
struct Platform {
    requests: Vec<Received>,
    up: bool,
}

/// A local HTTP server standing in for the 建筑市场监管 platform: 503 while down, 200 with a
/// receipt when up.
async fn platform() -> (u16, Arc<Mutex<Platform>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Platform::default()));
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let s = s.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                let (head, len) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        buf.drain(..end + 4);
                        break (head, len);
                    }
                };
                while buf.len() < len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let up = {
                    let mut p = s.lock().unwrap();
                    p.requests.push((headers, buf));
                    p.up
                };
                let (status, body) = if up {
                    ("200 OK", "{\"receipt\":\"JZSC-0001\"}")
                } else {
                    ("503 Service Unavailable", "maintenance")
                };
                let _ = sock
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    (port, seen)
}

/// An issued permit is due at the platform five working days after issue. The platform is down:
/// the upload waits with the reason and, past its last day, is counted late; once the platform
/// answers it is sent once, signed with the bureau's SM2 key (checked with the published key)
/// and carrying the sealed file.
#[actix_web::test]
async fn an_issued_permit_is_uploaded_signed_and_counted_late_past_five_working_days() {
    let (port, seen) = platform().await;
    let app = TestApp::spawn_with(move |s| {
        s.exchange.platform_url = format!("http://127.0.0.1:{port}/permits");
    })
    .await;
    app.allow_unsent_mail();
    let admin = app.staff("admin", "window", &[Role::Admin]).await;
    // Issued on Friday 2026-03-06: five working days on is Friday 2026-03-13.
    let (_builder, _reviewer, id) = issued_permit(&app, "2026-03-06").await;
    let uploads: Value = app
        .get(&admin, "/api/v1/exchange/uploads")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(uploads.as_array().unwrap().len(), 1, "{uploads}");
    assert_eq!(uploads[0]["due_on"], "2026-03-13");
    assert_eq!(uploads[0]["filing_id"], id.as_str());

    let r = app.run_job("platform").await;
    assert_eq!(r["failed"], 1, "{r}");
    assert!(r["error"].as_str().unwrap().contains("503"), "{r}");
    at(&app, "2026-03-13");
    let s = exchange_status(&app, &admin).await;
    assert_eq!(s["uploads"]["pending"], 1, "{s}");
    assert_eq!(
        s["uploads"]["late"], 0,
        "on its last day it is not late yet: {s}"
    );
    at(&app, "2026-03-16");
    let s = exchange_status(&app, &admin).await;
    assert_eq!(s["uploads"]["late"], 1, "{s}");
    assert!(
        s["uploads"]["last_error"].as_str().unwrap().contains("503"),
        "{s}"
    );

    seen.lock().unwrap().up = true;
    let r = app.run_job("platform").await;
    assert_eq!(r["sent"], 1, "{r}");
    let r = app.run_job("platform").await;
    assert_eq!(r["sent"], 0, "sent once: {r}");
    let s = exchange_status(&app, &admin).await;
    assert_eq!(s["uploads"]["pending"], 0, "{s}");
    assert_eq!(s["uploads"]["sent_late"], 1, "{s}");

    let (headers, body) = {
        let p = seen.lock().unwrap();
        assert_eq!(p.requests.len(), 2);
        p.requests[1].clone()
    };
    let header = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let pem = app
        .client
        .get(app.url("/.well-known/permits-seal.pem"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = permits::documents::seal::PublicSealKey::from_pem(&pem).unwrap();
    let sig = header("x-permits-signature");
    let sig = sig.strip_prefix("SM2-SM3 ").unwrap();
    assert!(key.verifies(&body, sig), "the upload's signature verifies");
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert!(!key.verifies(&tampered, sig));
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["permit_number"].as_str().unwrap().len(), 18, "{json}");
    assert_eq!(
        header("idempotency-key"),
        json["identifier"].as_str().unwrap()
    );
    use base64::Engine;
    let file = base64::engine::general_purpose::STANDARD
        .decode(json["file"]["content"].as_str().unwrap())
        .unwrap();
    assert!(file.starts_with(b"%PDF"));
    assert!(matches!(
        permits::documents::seal::verify(&file, &key),
        permits::documents::seal::Verdict::Valid(_)
    ));
}
