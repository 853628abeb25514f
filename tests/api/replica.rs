//! Reports and dashboards on a streaming replica (`database.read_url`): a real primary and
//! standby, each a private cluster on its own port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::helpers::{FIRE_MATERIALS, TestApp, User, fire_form};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A PostgreSQL program, run as `postgres` when we are root (the server refuses root).
fn pg(program: &str) -> Command {
    let bin = ["/usr/local/bin", "/usr/bin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .or_else(|| {
            let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .flatten()
                .map(|e| e.path().join("bin").join(program))
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            found.pop()
        })
        .unwrap_or_else(|| panic!("{program} is not installed"));
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A primary and its streaming standby, stopped and removed when dropped.
struct Pair {
    base: PathBuf,
    primary: u16,
    replica: u16,
}

impl Pair {
    fn start() -> Pair {
        let base = std::env::temp_dir().join(format!("permits-replica-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&base).unwrap();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["postgres:postgres"]).arg(&base);
                    c
                },
                "chown",
            );
        }
        let (primary, replica) = (free_port(), free_port());
        let pair = Pair {
            base,
            primary,
            replica,
        };
        let p = pair.base.join("primary");
        let mut c = pg("initdb");
        c.args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-D",
        ])
        .arg(&p);
        run(c, "initdb");
        let settings = |port: u16| {
            format!(
                "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
                 wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = off\n",
                pair.base.display()
            )
        };
        append(&p.join("postgresql.conf"), &settings(primary));
        pair.pg_ctl(&p, "start");
        let r = pair.base.join("replica");
        let mut c = pg("pg_basebackup");
        c.args([
            "-h",
            "127.0.0.1",
            "-p",
            &primary.to_string(),
            "-U",
            "postgres",
        ])
        .args(["-X", "stream", "-R", "-D"])
        .arg(&r);
        run(c, "pg_basebackup");
        append(&r.join("postgresql.conf"), &settings(replica));
        pair.pg_ctl(&r, "start");
        pair
    }

    fn pg_ctl(&self, dir: &Path, what: &str) {
        let mut c = pg("pg_ctl");
        c.arg("-D")
            .arg(dir)
            .arg("-l")
            .arg(dir.with_extension("log"));
        c.args(["-w", "-m", "fast", what]);
        run(c, &format!("pg_ctl {what} {}", dir.display()));
    }

    fn url(&self, port: u16, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/{db}")
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for dir in ["replica", "primary"] {
            let mut c = pg("pg_ctl");
            c.arg("-D")
                .arg(self.base.join(dir))
                .args(["-m", "immediate", "stop"]);
            let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[derive(QueryableByName)]
struct State {
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
}

fn replay(replica: &str, what: &str) {
    let mut c = PgConnection::establish(replica).unwrap();
    diesel::sql_query(format!("SELECT pg_wal_replay_{what}()::text AS state"))
        .execute(&mut c)
        .unwrap();
    let want = if what == "pause" {
        "paused"
    } else {
        "not paused"
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = diesel::sql_query("SELECT pg_get_wal_replay_pause_state() AS state")
            .get_result::<State>(&mut c)
            .unwrap()
            .state;
        if s == want {
            return;
        }
        assert!(Instant::now() < deadline, "replay still {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The SLA report's received count and the replica's lag header.
async fn report(app: &TestApp, who: &User) -> (u16, i64, Option<f64>) {
    let r = app.get(who, "/api/v1/reports/sla").await;
    let status = r.status().as_u16();
    let lag = r
        .headers()
        .get("x-replica-lag-seconds")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, v["total"]["received"].as_i64().unwrap_or(-1), lag)
}

async fn submit_one(app: &TestApp, applicant: &User) {
    let filing = app
        .create(applicant, "fire-acceptance-filing", fire_form())
        .await;
    let id = filing["id"].as_str().unwrap().to_owned();
    app.upload_all(applicant, &id, FIRE_MATERIALS).await;
    let filing = app.filing(applicant, &id).await;
    app.act(applicant, &filing, "submit", json!({})).await;
}

#[actix_web::test]
async fn reports_read_from_the_replica_show_its_lag_and_writes_go_to_the_primary() {
    let pair = Pair::start();
    let db = "permits_replicated";
    let (primary, replica) = (pair.url(pair.primary, db), pair.url(pair.replica, db));
    let (p, r) = (primary.clone(), replica.clone());
    let app = TestApp::spawn_with(move |s| {
        s.database.url = p;
        s.database.read_url = r;
    })
    .await;
    let applicant = app.applicant("replica_applicant").await;
    let admin = app
        .user(
            "replica_admin",
            "staff",
            Some("construction"),
            &[Role::Admin],
        )
        .await;
    submit_one(&app, &applicant).await;

    // The replica catches up: the report, read there, counts the filing and says it is current.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, received, lag) = report(&app, &admin).await;
        assert_eq!(status, 200);
        assert!(lag.is_some(), "no X-Replica-Lag-Seconds from a replica");
        if received == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never caught up");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }

    // Replay paused: the primary takes a second filing (writes never need the replica) and
    // the report, still read on the replica, does not have it yet and says how far behind.
    replay(&replica, "pause");
    submit_one(&app, &applicant).await;
    // A member of staff who signs in now has a token the replica has not seen: checked on
    // the primary, it works at once.
    let newcomer = app
        .user(
            "replica_newcomer",
            "staff",
            Some("construction"),
            &[Role::Admin],
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let behind = loop {
        let (status, received, lag) = report(&app, &newcomer).await;
        assert_eq!(status, 200);
        assert_eq!(received, 1, "read on the primary, not the paused replica");
        if let Some(lag) = lag.filter(|l| *l > 0.0) {
            break lag;
        }
        assert!(Instant::now() < deadline, "no lag shown: {lag:?}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(behind > 0.0);
    let page = app
        .client
        .get(app.url("/dashboard"))
        .header("Cookie", format!("permits_session={}", admin.token))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"replica-lag\""), "{html}");
    assert!(
        html.contains("数据来自只读副本，") && html.contains("落后"),
        "{html}"
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = metrics
        .lines()
        .find_map(|l| l.strip_prefix("permits_db_replica_lag_seconds "))
        .expect("the replica's lag in /metrics");
    assert!(gauge.parse::<f64>().unwrap() > 0.0);

    // Replay resumed: the report catches up.
    replay(&replica, "resume");
    let deadline = Instant::now() + Duration::from_secs(30);
    while report(&app, &admin).await.1 != 2 {
        assert!(Instant::now() < deadline, "the replica never caught up");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }

    // The replica stops: reports answer 503 (try again), actions go on.
    pair.pg_ctl(&pair.base.join("replica"), "stop");
    let r = app.get(&admin, "/api/v1/reports/sla").await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    submit_one(&app, &applicant).await;
    drop(app);
    drop(pair);
}
