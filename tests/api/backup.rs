//! The restore drill: `permits backup`, `permits restore` into a new database, the audit log
//! checked against the kept seal, and the service started on the restored database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use permits::db::discovery;
use serde_json::{Value, json};

use crate::helpers::{FIRE_MATERIALS, Served, TestApp, fire_form};

fn permits(db_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_permits"))
        .args(args)
        .env("PERMITS_ENV", "test")
        .env("PERMITS_ROOT", env!("CARGO_MANIFEST_DIR"))
        .env("PERMITS__DATABASE__URL", db_url)
        .env("PERMITS__DATABASE__POOL_SIZE", "2")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Drops the restored database whatever happens.
struct Restored {
    maintenance: String,
    name: String,
}

impl Drop for Restored {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&self.maintenance) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[actix_web::test]
async fn a_backup_restores_into_a_new_database_verifies_against_its_seal_and_serves() {
    let app = TestApp::spawn().await;
    let applicant = app.applicant("backup_applicant").await;
    let filing = app
        .create(&applicant, "fire-acceptance-filing", fire_form())
        .await;
    let id = filing["id"].as_str().unwrap().to_owned();
    app.upload_all(&applicant, &id, FIRE_MATERIALS).await;
    let filing = app.filing(&applicant, &id).await;
    let submitted = app.act(&applicant, &filing, "submit", json!({})).await;
    app.run_job("audit_seal").await;

    let dir = std::env::temp_dir().join(format!("permits-backup-{}", uuid::Uuid::new_v4()));
    let dump = dir.join("nightly.dump");
    let made = permits(&app.db_url, &["backup", "--out", dump.to_str().unwrap()]);
    assert!(made.status.success(), "{}", text(&made));
    let said = text(&made);
    let kept = std::fs::read_to_string(dir.join("nightly.dump.seal")).unwrap();
    let kept = kept.split_whitespace().nth(1).unwrap().to_owned();
    assert!(said.contains(&kept), "{said}");
    assert!(!dir.join("nightly.partial").exists());

    // The live database goes on and seals again after the dump: that seal is not in the backup.
    app.create(&applicant, "fire-acceptance-filing", fire_form())
        .await;
    app.advance_days(1);
    app.run_job("audit_seal").await;
    #[derive(diesel::QueryableByName)]
    struct Hash {
        #[diesel(sql_type = diesel::sql_types::Text)]
        hash: String,
    }
    let newest = diesel::RunQueryDsl::get_result::<Hash>(
        diesel::sql_query("SELECT hash FROM audit_seals ORDER BY seq DESC LIMIT 1"),
        &mut app.conn(),
    )
    .unwrap()
    .hash;

    let name = format!("permits_t_restored_{}", uuid::Uuid::new_v4().simple());
    let restored = Restored {
        maintenance: discovery::maintenance_url(&app.db_url).unwrap(),
        name: name.clone(),
    };
    let back = permits(
        &app.db_url,
        &["restore", dump.to_str().unwrap(), "--into", &name],
    );
    assert!(back.status.success(), "{}", text(&back));
    let restored_url = discovery::with_database(&app.db_url, &restored.name).unwrap();
    // Restoring over a database that exists is refused.
    let again = permits(
        &app.db_url,
        &["restore", dump.to_str().unwrap(), "--into", &name],
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("exists"), "{}", text(&again));

    // The kept seal is in the restored log; the live one made after the dump is not.
    let ok = permits(&restored_url, &["audit", "verify", "--seal", &kept]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert_ne!(newest, kept);
    let missing = permits(&restored_url, &["audit", "verify", "--seal", &newest]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));

    // The service starts on the restored database and serves the filing as it was.
    let served = Served::start(
        &restored_url,
        &[(
            "PERMITS__STORAGE__VAR_DIR",
            dir.join("var").display().to_string(),
        )],
        Stdio::null(),
    );
    let addr = served.addr.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = app
            .client
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok();
        if ready == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "not ready: {ready:?}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let r = app
        .client
        .get(format!("http://{addr}/api/v1/filings/{id}"))
        .bearer_auth(&applicant.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"]["code"], submitted["state"]["code"]);
    assert_eq!(v["version"], submitted["version"]);

    // A rewritten entry in the restored log is found.
    let mut c = PgConnection::establish(&restored_url).unwrap();
    c.batch_execute(
        "ALTER TABLE audit_log DISABLE TRIGGER USER; \
         UPDATE audit_log SET entry = replace(entry, 'submit', 'withdraw') \
           WHERE id = (SELECT min(id) FROM audit_log WHERE entry LIKE '%submit%'); \
         ALTER TABLE audit_log ENABLE TRIGGER USER;",
    )
    .unwrap();
    let broken = permits(&restored_url, &["audit", "verify", "--seal", &kept]);
    assert_eq!(broken.status.code(), Some(2), "{}", text(&broken));
    let _ = std::fs::remove_dir_all(&dir);
}
