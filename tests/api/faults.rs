//! Restarts and faults (issue 19 §2, and §3's multi-host URL): real `permits serve` processes
//! stopped with SIGTERM and restarted under load, killed with SIGKILL, and cut off from a
//! private PostgreSQL cluster that is stopped and started under them.
//!
//! The load's clients act as a proxy would: a connection refused, or not made within the connect
//! timeout, is tried on the other instance (nothing was sent); any other failure (a reset, an
//! incomplete response) is a fault of the service. Each request goes on a fresh connection, as nginx sends upstream
//! requests by default: a request written to a kept-alive connection the server is closing at
//! that moment is a race no server can win, and proxies only retry it when it is idempotent.
//! Only correctness is asserted; the bounds on time are generous correctness bounds (a 503
//! must come, not a hang).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use permits::domain::Lang;
use permits::domain::definition::{Role, UserKind};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{FIRE_MATERIALS, PASSWORD, SmtpSink, TestApp, fire_form, free_port};

// ---------------------------------------------------------------------------------------------
// Processes

/// A `permits serve` process on a fixed port, so that a restart comes back where the clients
/// expect it. Killed when dropped.
struct Instance {
    child: Option<Child>,
    port: u16,
    name: String,
    db_url: String,
    env: Vec<(String, String)>,
    log: PathBuf,
}

impl Instance {
    /// The test environment with the system clock, the audit seal every second (an exclusive
    /// job: leases in `job_runs`), small pool, two workers, `env` on top.
    fn start(name: &str, db_url: &str, env: &[(&str, &str)]) -> Instance {
        let log =
            std::env::temp_dir().join(format!("permits-faults-{}-{name}.log", std::process::id()));
        let _ = std::fs::remove_file(&log);
        let mut i = Instance {
            child: None,
            port: free_port(),
            name: name.to_owned(),
            db_url: db_url.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            log,
        };
        i.restart();
        i
    }

    /// Start the process again (after it exited), with the same settings and port.
    fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_permits"));
        cmd.args(["serve", "--bind", &format!("127.0.0.1:{}", self.port)])
            .env("PERMITS_ENV", "test")
            .env("PERMITS_ROOT", env!("CARGO_MANIFEST_DIR"))
            .env("PERMITS__DATABASE__URL", &self.db_url)
            .env("PERMITS__DATABASE__POOL_SIZE", "4")
            .env("PERMITS__SERVER__WORKERS", "2")
            .env("PERMITS__SERVER__SHUTDOWN_TIMEOUT_SECONDS", "20")
            .env("PERMITS__CLOCK__MODE", "system")
            .env(
                "PERMITS__STORAGE__VAR_DIR",
                std::env::temp_dir().join(format!(
                    "permits-faults-var-{}-{}",
                    std::process::id(),
                    self.name
                )),
            )
            .env("PERMITS__JOBS__CRON__AUDIT_SEAL", "* * * * * *")
            .env("PERMITS__JOBS__WORKING_DAYS_ONLY", "false")
            .env("RUST_LOG", "warn,permits=info")
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("starting permits serve"));
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// `/readyz` answers 200 (within `limit`, or the test fails with the log).
    async fn wait_ready(&mut self, limit: Duration) {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            assert!(self.running(), "{} exited:\n{}", self.name, self.log());
            if let Ok(r) = client.get(format!("{}/readyz", self.base())).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "{} not ready:\n{}",
                self.name,
                self.log()
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {}", self.pid());
    }

    /// Wait for the process to exit (within `limit`).
    async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "{} did not exit:\n{}",
                self.name,
                self.log()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no chance to do anything.
    fn kill9(&mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!(
            "permits-faults-var-{}-{}",
            std::process::id(),
            self.name
        )));
        // The log stays when the test failed, to read.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL cluster of the test's own on a TCP port of its own (trust authentication,
/// user `postgres`), in a temporary directory removed when dropped. As root, its programs run
/// as the `postgres` OS user.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = std::env::temp_dir().join(format!("permits-pg-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres", &dir.to_string_lossy()])
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown {}", dir.display());
        }
        let c = Cluster {
            dir,
            port: free_port(),
        };
        let data = c.data();
        let out = c
            .pg("initdb")
            .args(["-D", &data, "-U", "postgres", "--auth=trust"])
            .args(["-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        c.start_server();
        c
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn pg(&self, program: &str) -> Command {
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        self.pg("pg_ctl")
            .args(["-D", &self.data(), "-w", "-t", "60"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").to_string_lossy().into_owned();
        assert!(
            self.pg_ctl(&["-l", &log, "-o", &options, "start"]),
            "pg_ctl start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn stop_server(&self) {
        assert!(self.pg_ctl(&["-m", "fast", "stop"]), "pg_ctl stop");
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An applicant made directly in the database at `db_url`, signed in through `base`: its
/// token.
async fn applicant_on(db_url: &str, base: &str, username: &str) -> String {
    let mut conn = PgConnection::establish(db_url).unwrap();
    permits::services::auth::create_user(
        &mut conn,
        &permits::services::auth::Registration {
            username,
            password: PASSWORD,
            display_name: username,
            kind: UserKind::Company,
            email: None,
            phone: None,
            credit_code: Some("91350100M000100Y43"),
            lang: Lang::Zh,
            department: None,
            roles: &[Role::Applicant],
        },
        None,
        chrono::Utc::now(),
    )
    .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login of {username}");
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `permits audit verify` on the database: every chain and seal checks.
fn audit_verifies(db_url: &str) -> (bool, String) {
    let var = std::env::temp_dir().join(format!("permits-faults-verify-{}", Uuid::new_v4()));
    let out = Command::new(env!("CARGO_BIN_EXE_permits"))
        .args(["audit", "verify"])
        .env("PERMITS_ENV", "test")
        .env("PERMITS_ROOT", env!("CARGO_MANIFEST_DIR"))
        .env("PERMITS__DATABASE__URL", db_url)
        .env("PERMITS__STORAGE__VAR_DIR", &var)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&var);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

// ---------------------------------------------------------------------------------------------
// Load

/// An action the service acknowledged with a 2xx.
#[derive(Debug, Clone)]
struct Ack {
    filing: Uuid,
    action: &'static str,
    version: i64,
}

#[derive(Debug, Default)]
struct Tally {
    acks: Vec<Ack>,
    /// Connections refused or not made in time, before anything was sent (tried elsewhere, as a
    /// proxy does).
    refused: usize,
    /// Requests that failed after they were sent: a reset, an incomplete response.
    broken: Vec<String>,
    /// Answers that were not 2xx: status and body.
    other: Vec<(u16, String)>,
}

struct Load {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    clients: Vec<actix_web::rt::task::JoinHandle<()>>,
}

impl Load {
    /// One client per token, each creating fire filings and editing each a few times, on the
    /// instances at `ports` in turn.
    fn start(ports: Vec<u16>, tokens: Vec<String>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let clients = tokens
            .into_iter()
            .enumerate()
            .map(|(n, token)| {
                actix_web::rt::spawn(client(ports.clone(), token, n, stop.clone(), tally.clone()))
            })
            .collect();
        Load {
            stop,
            tally,
            clients,
        }
    }

    fn acks(&self) -> usize {
        self.tally.lock().unwrap().acks.len()
    }

    async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        for c in self.clients {
            c.await.unwrap();
        }
        Arc::try_unwrap(self.tally).unwrap().into_inner().unwrap()
    }
}

enum Sent {
    Answered(reqwest::Response),
    Broken(String),
    Stopped,
}

/// Send on the instance whose turn it is; a connection refused or not made in time goes to the
/// next one (after a short wait when every instance refused).
async fn send(
    ports: &[u16],
    turn: usize,
    stop: &AtomicBool,
    tally: &Mutex<Tally>,
    request: &dyn Fn(&str) -> reqwest::RequestBuilder,
) -> Sent {
    let started = Instant::now();
    for attempt in 0.. {
        let port = ports[(turn + attempt) % ports.len()];
        match request(&format!("http://127.0.0.1:{port}")).send().await {
            Ok(r) => return Sent::Answered(r),
            Err(e) if e.is_connect() => {
                tally.lock().unwrap().refused += 1;
                if stop.load(Ordering::SeqCst) {
                    return Sent::Stopped;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(90),
                    "no instance took a connection for 90 s"
                );
                if (attempt + 1) % ports.len() == 0 {
                    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Err(e) => return Sent::Broken(format!("{e:?}")),
        }
    }
    unreachable!()
}

async fn client(
    ports: Vec<u16>,
    token: String,
    n: usize,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    // Even clients open a fresh connection per request, as nginx does upstream by default;
    // odd ones keep their connections alive, as nginx with `keepalive` does (deploy/nginx).
    let builder = reqwest::Client::builder();
    let builder = if n.is_multiple_of(2) {
        builder.pool_max_idle_per_host(0)
    } else {
        builder
    };
    let http = builder
        // A stopping instance leaves new connections unanswered (then refuses them): a proxy
        // gives up after its connect timeout and tries another instance, as nginx does.
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut current: Option<(Uuid, i64)> = None;
    let mut turn = n;
    while !stop.load(Ordering::SeqCst) {
        turn += 1;
        let (action, sent) = match current {
            Some((id, version)) if version < 4 => {
                let body = json!({
                    "expected_version": version,
                    "form": { "contact_phone": format!("1380013{:04}", turn % 10_000) },
                });
                let request = |base: &str| {
                    http.patch(format!("{base}/api/v1/filings/{id}"))
                        .bearer_auth(&token)
                        .json(&body)
                };
                ("edit", send(&ports, turn, &stop, &tally, &request).await)
            }
            _ => {
                let body = json!({ "item": "fire-acceptance-filing", "form": fire_form() });
                let request = |base: &str| {
                    http.post(format!("{base}/api/v1/filings"))
                        .bearer_auth(&token)
                        .json(&body)
                };
                ("create", send(&ports, turn, &stop, &tally, &request).await)
            }
        };
        let r = match sent {
            Sent::Answered(r) => r,
            Sent::Stopped => break,
            Sent::Broken(e) => {
                tally.lock().unwrap().broken.push(format!("{action}: {e}"));
                current = None;
                continue;
            }
        };
        let status = r.status().as_u16();
        let body = r.text().await;
        let mut t = tally.lock().unwrap();
        match body {
            Ok(body) if (200..300).contains(&status) => {
                let v: Value = serde_json::from_str(&body).unwrap();
                let filing: Uuid = v["id"].as_str().unwrap().parse().unwrap();
                let version = v["version"].as_i64().unwrap();
                t.acks.push(Ack {
                    filing,
                    action,
                    version,
                });
                current = Some((filing, version));
            }
            Ok(body) => {
                t.other.push((status, body));
                current = None;
            }
            Err(e) => {
                t.broken
                    .push(format!("{action}: reading the response: {e:?}"));
                current = None;
            }
        }
    }
}

/// Every acknowledged action is in the database: the filing at least at the version returned,
/// and an audit entry for each acknowledged create and edit. `exact`: nothing more either
/// (when no request's outcome is unknown).
fn assert_acknowledged_are_stored(db_url: &str, acks: &[Ack], exact: bool) {
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        version: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        creates: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        edits: i64,
    }
    let mut conn = PgConnection::establish(db_url).unwrap();
    let mut by_filing: HashMap<Uuid, Vec<&Ack>> = HashMap::new();
    for a in acks {
        by_filing.entry(a.filing).or_default().push(a);
    }
    for (id, acked) in &by_filing {
        let stored: Stored = diesel::sql_query(
            "SELECT f.version::bigint AS version, \
             (SELECT count(*) FROM audit_log a WHERE a.filing_id = f.id AND a.action = 'create') AS creates, \
             (SELECT count(*) FROM audit_log a WHERE a.filing_id = f.id AND a.action = 'edit') AS edits \
             FROM filings f WHERE f.id = $1",
        )
        .bind::<diesel::sql_types::Uuid, _>(id)
        .get_result(&mut conn)
        .unwrap_or_else(|e| panic!("acknowledged filing {id} is not stored: {e}"));
        let version = acked.iter().map(|a| a.version).max().unwrap();
        let creates = acked.iter().filter(|a| a.action == "create").count() as i64;
        let edits = acked.iter().filter(|a| a.action == "edit").count() as i64;
        assert!(
            stored.version >= version,
            "{id}: version {}",
            stored.version
        );
        assert!(stored.creates >= creates, "{id}: creates audited");
        assert!(stored.edits >= edits, "{id}: edits audited");
        if exact {
            assert_eq!(
                (stored.version, stored.creates, stored.edits),
                (version, creates, edits),
                "{id}: exactly what was acknowledged"
            );
        }
    }
}

fn outbox(db_url: &str) -> Vec<permits::repo::outbox::MailRow> {
    use permits::db::schema::outbox::dsl as o;
    o::outbox
        .order(o::id)
        .select(permits::repo::outbox::MailRow::as_select())
        .load(&mut PgConnection::establish(db_url).unwrap())
        .unwrap()
}

/// Fire filings submitted by an applicant with an address: each queues a "received" letter.
async fn letters_queued(app: &TestApp, n: usize) -> usize {
    let builder = app
        .mail_user("builder", None, &[Role::Applicant], Lang::Zh)
        .await;
    for _ in 0..n {
        let f = app
            .create(&builder, "fire-acceptance-filing", fire_form())
            .await;
        let id = f["id"].as_str().unwrap().to_owned();
        app.upload_all(&builder, &id, FIRE_MATERIALS).await;
        let f = app.filing(&builder, &id).await;
        app.act(&builder, &f, "submit", json!({})).await;
    }
    let queued = app.outbox().len();
    assert!(queued >= n, "{queued} letters");
    queued
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn scalar(db_url: &str, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(&mut PgConnection::establish(db_url).unwrap())
        .unwrap()
        .n
}

// ---------------------------------------------------------------------------------------------
// Tests

/// Once shutdown has begun, readiness fails (a proxy polling it stops routing here) while
/// liveness still holds, and no job run starts, whoever asks (503 to an administrator).
#[actix_web::test]
async fn readiness_fails_and_no_job_starts_once_shutdown_has_begun() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.state.shutdown.begin();
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "shutting_down");
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let refused = permits::jobs::run(&app.state, "audit_seal").await;
    assert!(
        matches!(refused, Err(permits::error::AppError::Unavailable)),
        "{refused:?}"
    );
    assert_eq!(app.count("job_runs"), 0);
}

/// An exclusive job whose end cannot be recorded (here its `job_runs` row is held locked past
/// the statement timeout, as when the database goes away between the work and the record)
/// keeps trying to record it, and its lease ends as soon as that works: it does not keep the
/// job from running, on any instance, until the lease expires ten minutes later.
#[actix_web::test]
async fn a_job_whose_end_could_not_be_recorded_releases_its_lease_when_the_database_answers() {
    let app = TestApp::spawn_with(|s| s.database.statement_timeout_ms = 1000).await;
    let lease =
        "SELECT count(*) AS n FROM job_runs WHERE job = 'audit_seal' AND running_until IS NOT NULL";
    // The job's work waits here, after it took its lease...
    let mut work = app.conn();
    work.batch_execute("BEGIN; LOCK TABLE audit_seals IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let state = app.state.clone();
    let run = actix_web::rt::spawn(async move { permits::jobs::run(&state, "audit_seal").await });
    let db = app.db_url.clone();
    wait_until("the job at work", Duration::from_secs(20), || {
        scalar(
            &db,
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        ) == 1
    })
    .await;
    assert_eq!(scalar(&app.db_url, lease), 1, "the lease taken");
    // ...and its record cannot be written until this ends.
    let mut record = app.conn();
    record
        .batch_execute("BEGIN; SELECT * FROM job_runs WHERE job = 'audit_seal' FOR UPDATE")
        .unwrap();
    work.batch_execute("COMMIT").unwrap();
    let result = run.await.unwrap();
    assert!(result.is_ok(), "the work was done: {result:?}");
    assert_eq!(scalar(&app.db_url, lease), 1, "not recorded yet");
    // A retry or two fail while the row stays locked.
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(scalar(&app.db_url, lease), 1);
    record.batch_execute("COMMIT").unwrap();
    wait_until("the lease released", Duration::from_secs(20), || {
        scalar(&db, lease) == 0
    })
    .await;
    // The job runs again at once.
    let again = permits::jobs::run(&app.state, "audit_seal").await.unwrap();
    assert!(again.get("skipped").is_none(), "{again}");
}

/// SIGTERM with a request held in flight (at a lock) and a letter being sent: new connections
/// are turned away at once, the process waits for the request, which is answered 201 and stored;
/// the letter in flight goes out, no other starts, and the letters the instance had claimed
/// and not tried are given back (due now, the attempt uncounted, claimed by no one); the
/// process exits 0 having logged each step.
#[actix_web::test]
async fn sigterm_finishes_the_request_in_flight_and_gives_back_untried_letters() {
    let sink = SmtpSink::start();
    sink.delay(Duration::from_millis(1500));
    let app = TestApp::spawn().await;
    app.allow_unsent_mail();
    let queued = letters_queued(&app, 5).await;
    let token = app.applicant("latecomer").await.token;
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let mut instance = Instance::start(
        "sigterm",
        &app.db_url,
        &[
            ("PERMITS__MAIL__BACKEND", "smtp"),
            ("PERMITS__MAIL__SMTP_URL", &smtp),
            ("PERMITS__MAIL__TIMEOUT_SECONDS", "10"),
            ("PERMITS__MAIL__POOL_SIZE", "1"),
            ("PERMITS__MAIL__BATCH_SIZE", "10"),
            ("PERMITS__MAIL__LEASE_SECONDS", "120"),
            ("PERMITS__JOBS__CRON__OUTBOX", "* * * * * *"),
        ],
    );
    instance.wait_ready(Duration::from_secs(60)).await;

    // A request held in flight: new filings wait for this transaction's lock.
    let mut gate = app.conn();
    gate.batch_execute("BEGIN; LOCK TABLE filings IN SHARE MODE")
        .unwrap();
    let base = instance.base();
    let held = actix_web::rt::spawn(async move {
        reqwest::Client::new()
            .post(format!("{base}/api/v1/filings"))
            .bearer_auth(&token)
            .json(&json!({ "item": "fire-acceptance-filing", "form": fire_form() }))
            .send()
            .await
    });
    let db = app.db_url.clone();
    wait_until(
        "the request waiting at the lock and a letter claimed",
        Duration::from_secs(60),
        || {
            scalar(
                &db,
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            ) == 1
                && scalar(
                    &db,
                    "SELECT count(*) AS n FROM outbox WHERE claimed_by IS NOT NULL AND status = 'pending'",
                ) > 0
        },
    )
    .await;

    instance.signal("-TERM");
    // New connections are turned away: not answered, then refused (a proxy tries another
    // instance).
    let probe = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let url = format!("{}/healthz", instance.base());
    let started = Instant::now();
    loop {
        match probe.get(&url).send().await {
            Err(e) if e.is_connect() => break,
            _ => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "still accepting"
                );
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    assert!(
        instance.running(),
        "the process waits for the request in flight"
    );

    gate.batch_execute("COMMIT").unwrap();
    let answered = held.await.unwrap().expect("answered, not reset");
    assert_eq!(answered.status(), 201);
    let created: Value = answered.json().await.unwrap();
    let status = instance.wait_exit(Duration::from_secs(40)).await;
    let log = instance.log();
    assert!(status.success(), "{status}:\n{log}");
    for step in [
        "shutdown: begun",
        "shutdown: the scheduler stopped",
        "shutdown: the HTTP server stopped",
        "shutdown: no job run in progress",
        "shutdown: this instance's claims and leases released",
        "shutdown: done",
    ] {
        assert!(log.contains(step), "{step:?} not logged:\n{log}");
    }
    let filing: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        scalar(
            &app.db_url,
            &format!("SELECT count(*) AS n FROM filings WHERE id = '{filing}'")
        ),
        1
    );

    let rows = outbox(&app.db_url);
    assert_eq!(rows.len(), queued);
    let received: HashSet<String> = sink.received().into_iter().map(|m| m.message_id).collect();
    let sent: Vec<_> = rows.iter().filter(|r| r.status == "sent").collect();
    let left: Vec<_> = rows.iter().filter(|r| r.status != "sent").collect();
    assert!(!sent.is_empty(), "the letter in flight went out");
    assert!(
        !left.is_empty(),
        "no other letter started: {} sent",
        sent.len()
    );
    assert_eq!(sink.count(), sent.len(), "each sent letter once");
    for r in &sent {
        assert!(received.contains(&r.message_id));
    }
    let now = chrono::Utc::now();
    for r in &left {
        assert_eq!(r.status, "pending");
        assert_eq!(r.claimed_by, None, "row {} given back", r.id);
        assert_eq!(
            r.attempts, 0,
            "row {}: the claim's attempt is not counted",
            r.id
        );
        assert!(r.next_attempt_at <= now, "row {} due now", r.id);
        assert!(!received.contains(&r.message_id));
    }
}

/// A second SIGTERM while the first waits for a request: the process exits at once (status 1)
/// instead of waiting out the shutdown timeout.
#[actix_web::test]
async fn a_second_sigterm_exits_at_once() {
    let app = TestApp::spawn().await;
    let token = app.applicant("impatient").await.token;
    let mut instance = Instance::start("twice", &app.db_url, &[]);
    instance.wait_ready(Duration::from_secs(60)).await;
    let mut gate = app.conn();
    gate.batch_execute("BEGIN; LOCK TABLE filings IN SHARE MODE")
        .unwrap();
    let base = instance.base();
    let held = actix_web::rt::spawn(async move {
        reqwest::Client::new()
            .post(format!("{base}/api/v1/filings"))
            .bearer_auth(&token)
            .json(&json!({ "item": "fire-acceptance-filing", "form": fire_form() }))
            .send()
            .await
    });
    let db = app.db_url.clone();
    wait_until("the request at the lock", Duration::from_secs(30), || {
        scalar(
            &db,
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        ) == 1
    })
    .await;
    instance.signal("-TERM");
    wait_until("shutdown to begin", Duration::from_secs(10), || {
        instance.log().contains("shutdown: begun")
    })
    .await;
    instance.signal("-TERM");
    // Well within the 20 s the request would otherwise be given.
    let status = instance.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(1), "{}", instance.log());
    assert!(held.await.unwrap().is_err(), "the held request was cut off");
    // Its transaction rolled back with the connection.
    gate.batch_execute("COMMIT").unwrap();
    assert_eq!(app.count("filings"), 0);
}

/// Two instances under load, each in turn stopped with SIGTERM and started again: every
/// acknowledged action is stored exactly once and audited, the chains verify, and no request
/// saw a reset or an incomplete response (connections refused or not made in time were tried on
/// the other instance), whether its client opened a connection per request or kept them alive.
#[actix_web::test]
async fn a_rolling_restart_under_load_loses_no_acknowledged_request_and_resets_none() {
    let app = TestApp::spawn().await;
    let mut tokens = Vec::new();
    for n in 0..4 {
        tokens.push(app.applicant(&format!("roller{n}")).await.token);
    }
    // A second's drain: long enough for every kept-alive connection to carry one more
    // request, whose answer closes it.
    let drain = [("PERMITS__SERVER__DRAIN_SECONDS", "1")];
    let mut one = Instance::start("roll-1", &app.db_url, &drain);
    let mut two = Instance::start("roll-2", &app.db_url, &drain);
    one.wait_ready(Duration::from_secs(60)).await;
    two.wait_ready(Duration::from_secs(60)).await;

    let load = Load::start(vec![one.port, two.port], tokens);
    let mut restarts = Vec::new();
    for instance in [&mut one, &mut two] {
        let before = load.acks();
        wait_until("the load to run", Duration::from_secs(60), || {
            load.acks() >= before + 60
        })
        .await;
        instance.signal("-TERM");
        let status = instance.wait_exit(Duration::from_secs(40)).await;
        assert!(status.success(), "{status}:\n{}", instance.log());
        restarts.push(instance.log());
        instance.restart();
        instance.wait_ready(Duration::from_secs(60)).await;
    }
    let before = load.acks();
    wait_until(
        "the load to run after the restarts",
        Duration::from_secs(60),
        || load.acks() >= before + 60,
    )
    .await;
    let tally = load.finish().await;
    eprintln!(
        "rolling restart: {} acknowledged, {} connections refused or timed out and tried elsewhere",
        tally.acks.len(),
        tally.refused
    );
    assert!(tally.broken.is_empty(), "broken: {:?}", tally.broken);
    assert!(tally.other.is_empty(), "not 2xx: {:?}", tally.other);
    assert!(tally.refused > 0, "the load met a stopped instance");
    for log in restarts {
        assert!(log.contains("shutdown: done"), "{log}");
    }

    for i in [&mut one, &mut two] {
        i.signal("-TERM");
        assert!(i.wait_exit(Duration::from_secs(40)).await.success());
    }
    assert_acknowledged_are_stored(&app.db_url, &tally.acks, true);
    let (ok, out) = audit_verifies(&app.db_url);
    assert!(ok, "permits audit verify: {out}");
}

/// With `server.drain_seconds`, SIGTERM first fails `/readyz` while the instance serves on:
/// a kept-alive connection gets its answer with `Connection: close` (so no client writes a
/// request to it as the server closes it), new connections are still served, and only after
/// the drain are they turned away.
#[actix_web::test]
async fn sigterm_drains_first_serving_on_and_closing_each_connection_after_its_answer() {
    let app = TestApp::spawn().await;
    let mut instance = Instance::start(
        "drain",
        &app.db_url,
        &[("PERMITS__SERVER__DRAIN_SECONDS", "4")],
    );
    instance.wait_ready(Duration::from_secs(60)).await;
    let kept = reqwest::Client::new();
    let r = kept
        .get(format!("{}/healthz", instance.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("connection").is_none(), "kept alive before");
    r.bytes().await.unwrap();

    let signalled = Instant::now();
    instance.signal("-TERM");
    wait_until("the drain to begin", Duration::from_secs(10), || {
        instance.log().contains("shutdown: draining")
    })
    .await;
    // Readiness fails; liveness and every other request are served, on the kept-alive
    // connection and on new ones, and each answer closes its connection.
    let r = kept
        .get(format!("{}/readyz", instance.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["connection"], "close");
    for _ in 0..3 {
        let fresh = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let r = fresh
            .get(format!("{}/api/v1/items", instance.base()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["connection"], "close");
    }
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "the checks ran past the drain"
    );
    assert!(instance.running(), "exited during the drain");
    let status = instance.wait_exit(Duration::from_secs(40)).await;
    assert!(status.success(), "{status}:\n{}", instance.log());
    assert!(
        signalled.elapsed() >= Duration::from_secs(4),
        "exited before the drain ended"
    );
    let log = instance.log();
    let at = |line: &str| {
        log.find(line)
            .unwrap_or_else(|| panic!("no {line:?} in\n{log}"))
    };
    assert!(at("shutdown: draining") < at("shutdown: new connections are turned away"));
}

/// kill -9 under load while letters are being sent: after a restart every acknowledged action
/// is in the database and its audit chain, the chains verify, and the letters queued before
/// the kill (some claimed by the dead process) are all sent.
#[actix_web::test]
async fn after_kill_9_under_load_every_acknowledged_action_is_stored_and_the_outbox_resumes() {
    let sink = SmtpSink::start();
    sink.delay(Duration::from_millis(500));
    let app = TestApp::spawn().await;
    letters_queued(&app, 6).await;
    let mut tokens = Vec::new();
    for n in 0..4 {
        tokens.push(app.applicant(&format!("killed{n}")).await.token);
    }
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let mut instance = Instance::start(
        "kill9",
        &app.db_url,
        &[
            ("PERMITS__MAIL__BACKEND", "smtp"),
            ("PERMITS__MAIL__SMTP_URL", &smtp),
            ("PERMITS__MAIL__TIMEOUT_SECONDS", "2"),
            ("PERMITS__MAIL__POOL_SIZE", "1"),
            ("PERMITS__MAIL__BATCH_SIZE", "3"),
            // The dead process's claims come back after this.
            ("PERMITS__MAIL__LEASE_SECONDS", "8"),
            ("PERMITS__MAIL__BACKOFF_BASE_SECONDS", "1"),
            ("PERMITS__MAIL__BACKOFF_MAX_SECONDS", "2"),
            ("PERMITS__JOBS__CRON__OUTBOX", "* * * * * *"),
        ],
    );
    instance.wait_ready(Duration::from_secs(60)).await;
    let load = Load::start(vec![instance.port], tokens);
    wait_until(
        "the load and the sending to run",
        Duration::from_secs(60),
        || load.acks() >= 20 && sink.count() >= 1,
    )
    .await;
    let at_kill = outbox(&app.db_url);
    instance.kill9();
    let unsent_at_kill: Vec<String> = at_kill
        .iter()
        .filter(|r| r.status != "sent")
        .map(|r| r.message_id.clone())
        .collect();
    let now = chrono::Utc::now();
    assert!(
        at_kill
            .iter()
            .any(|r| r.status == "pending" && r.claimed_by.is_some() && r.next_attempt_at > now),
        "the dead process held claims"
    );
    let tally = load.finish().await;
    assert!(
        !unsent_at_kill.is_empty(),
        "letters were still waiting when the process died"
    );
    assert!(tally.other.is_empty(), "not 2xx: {:?}", tally.other);

    instance.restart();
    instance.wait_ready(Duration::from_secs(60)).await;
    let db = app.db_url.clone();
    wait_until(
        "every letter sent after the restart",
        Duration::from_secs(90),
        || outbox(&db).iter().all(|r| r.status == "sent"),
    )
    .await;
    let received: HashSet<String> = sink.received().into_iter().map(|m| m.message_id).collect();
    for id in &unsent_at_kill {
        assert!(received.contains(id), "{id} sent after the restart");
    }
    eprintln!(
        "kill -9: {} acknowledged, {} requests cut off, {} letters unsent at the kill",
        tally.acks.len(),
        tally.broken.len(),
        unsent_at_kill.len()
    );
    assert_acknowledged_are_stored(&app.db_url, &tally.acks, false);
    let (ok, out) = audit_verifies(&app.db_url);
    assert!(ok, "permits audit verify: {out}");
}

/// PostgreSQL stopped under load: requests get 503 with Retry-After (not 500) within the
/// checkout timeout (twice: the connection gate, then the pool) and a margin, /readyz 503, the
/// process lives on; started again, requests succeed and the jobs run again without a
/// restart of the service.
#[actix_web::test]
async fn while_the_database_is_down_requests_get_503_and_all_recovers_when_it_returns() {
    let cluster = Cluster::start();
    let url = cluster.url("permits");
    let checkout = Duration::from_millis(1500);
    let mut instance = Instance::start(
        "dbdown",
        &url,
        &[
            ("PERMITS__DATABASE__CHECKOUT_TIMEOUT_MS", "1500"),
            ("PERMITS__JOBS__CRON__OUTBOX", "* * * * * *"),
        ],
    );
    // The service migrates the empty database itself.
    instance.wait_ready(Duration::from_secs(120)).await;
    let mut tokens = Vec::new();
    for n in 0..3 {
        tokens.push(applicant_on(&url, &instance.base(), &format!("patient{n}")).await);
    }
    let probe_token = applicant_on(&url, &instance.base(), "prober").await;
    let load = Load::start(vec![instance.port], tokens);
    wait_until("the load to run", Duration::from_secs(60), || {
        load.acks() >= 10
    })
    .await;

    cluster.stop_server();
    let http = reqwest::Client::new();
    let base = instance.base();
    let create = || {
        http.post(format!("{base}/api/v1/filings"))
            .bearer_auth(&probe_token)
            .json(&json!({ "item": "fire-acceptance-filing", "form": fire_form() }))
    };
    for _ in 0..3 {
        let started = Instant::now();
        let r = create()
            .send()
            .await
            .expect("answered while the database is down");
        let took = started.elapsed();
        assert_eq!(r.status(), 503);
        assert!(
            r.headers().get("retry-after").is_some(),
            "{:?}",
            r.headers()
        );
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["code"], "unavailable", "{problem}");
        assert!(
            took < checkout * 2 + Duration::from_secs(5),
            "answered after {took:?}"
        );
        eprintln!("database down: 503 after {took:?}");
    }
    let r = http
        .get(format!("{}/readyz", instance.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    // Jobs fail a few ticks meanwhile.
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    assert!(instance.running(), "{}", instance.log());

    cluster.start_server();
    let back = {
        let mut conn = PgConnection::establish(&url).unwrap();
        #[derive(QueryableByName)]
        struct Now {
            #[diesel(sql_type = diesel::sql_types::Timestamptz)]
            now: chrono::DateTime<chrono::Utc>,
        }
        diesel::sql_query("SELECT now() AS now")
            .get_result::<Now>(&mut conn)
            .unwrap()
            .now
    };
    let started = Instant::now();
    loop {
        let r = create().send().await.unwrap();
        if r.status() == 201 {
            break;
        }
        assert_eq!(r.status(), 503, "{}", r.text().await.unwrap());
        assert!(started.elapsed() < Duration::from_secs(30), "not recovered");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    let r = http
        .get(format!("{}/readyz", instance.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The audit seal (an exclusive job) ran again since the database came back.
    let db = url.clone();
    wait_until("the jobs to run again", Duration::from_secs(30), || {
        use permits::db::schema::job_runs::dsl as j;
        j::job_runs
            .filter(j::job.eq("audit_seal"))
            .filter(j::last_finished_at.gt(back))
            .filter(j::last_error.is_null())
            .count()
            .get_result::<i64>(&mut PgConnection::establish(&db).unwrap())
            .unwrap()
            == 1
    })
    .await;
    let before = load.acks();
    wait_until("the load to run again", Duration::from_secs(60), || {
        load.acks() >= before + 10
    })
    .await;
    let tally = load.finish().await;
    assert!(instance.running(), "{}", instance.log());
    assert!(tally.broken.is_empty(), "broken: {:?}", tally.broken);
    let statuses: HashSet<u16> = tally.other.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.iter().all(|s| *s == 503),
        "only 503 while down: {:?}",
        tally.other
    );
    assert!(!instance.log().contains("panicked"), "{}", instance.log());
    assert_acknowledged_are_stored(&url, &tally.acks, true);
}

/// `database.url` with two hosts, the first down: libpq tries the next, the service migrates,
/// starts and serves.
#[actix_web::test]
async fn a_two_host_url_whose_first_host_is_down_reaches_the_second() {
    let cluster = Cluster::start();
    let dead = free_port();
    let url = format!(
        "postgres://postgres@127.0.0.1:{dead},127.0.0.1:{}/permits?target_session_attrs=read-write",
        cluster.port
    );
    let mut instance = Instance::start("twohosts", &url, &[]);
    instance.wait_ready(Duration::from_secs(120)).await;
    let token = applicant_on(&cluster.url("permits"), &instance.base(), "twice").await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/filings", instance.base()))
        .bearer_auth(&token)
        .json(&json!({ "item": "fire-acceptance-filing", "form": fire_form() }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        scalar(&cluster.url("permits"), "SELECT count(*) AS n FROM filings"),
        1
    );
}
