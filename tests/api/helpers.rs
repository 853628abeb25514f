//! The test harness: the real application on port 0 against a real PostgreSQL database cloned
//! per test from a migrated template, and verbs for the tests (`submit`, `act`, `advance_days`).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::{Arc, OnceLock};

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use mailparse::MailHeaderMap;
use permits::app::AppState;
use permits::clock::ManualClock;
use permits::config::{Environment, Settings};
use permits::db::discovery;
use permits::domain::Lang;
use permits::domain::definition::{Role, UserKind};
use permits::services::auth::{self, Registration};
use reqwest::Response;
use serde_json::{Value, json};
use uuid::Uuid;

pub const PASSWORD: &str = "correct-horse-battery";

/// The template database: migrated, with departments and item definitions, built once per
/// test process (and shared across processes by name: the name carries a digest of the
/// migrations and seeds, so a changed schema gets a fresh template).
struct Template {
    server_url: String,
    name: String,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(build_template)
}

fn settings() -> Settings {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Settings::load(&root, Environment::Test).expect("test settings")
}

fn fingerprint(root: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for dir in ["migrations", "seeds"] {
        let mut files = Vec::new();
        collect(&root.join(dir), &mut files);
        files.sort();
        for f in files {
            h.update(f.to_string_lossy().as_bytes());
            h.update(std::fs::read(&f).unwrap());
        }
    }
    hex::encode(h.finalize())[..12].to_owned()
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The URL of the tests' PostgreSQL server (found once per process; its database is
/// `permits_test_maint`, created if missing).
pub fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let mut s = settings();
        s.database.name = "permits_test_maint".into();
        permits::find_database(&s)
            .expect("a PostgreSQL server for the tests")
            .url
    })
}

fn build_template() -> Template {
    let s = settings();
    let name = format!("permits_tpl_{}", fingerprint(&s.root));
    let server_url = server_url().to_owned();
    let maint = discovery::maintenance_url(&server_url).unwrap();
    let mut admin = PgConnection::establish(&maint).unwrap();
    // One builder at a time across processes; the others find it done.
    admin
        .batch_execute("SELECT pg_advisory_lock(7012100)")
        .unwrap();
    let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
    )))
    .get_result(&mut admin)
    .unwrap();
    if !exists {
        let building = format!("{name}_building");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .unwrap();
        {
            let mut s3 = s.clone();
            s3.database.url = discovery::with_database(&server_url, &building).unwrap();
            s3.database.pool_size = 1;
            let prepared = permits::prepare(&s3).expect("preparing the template");
            drop(prepared);
        }
        admin
            .batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{building}' AND pid <> pg_backend_pid()"
            ))
            .unwrap();
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .unwrap();
    }
    admin
        .batch_execute("SELECT pg_advisory_unlock(7012100)")
        .unwrap();
    Template { server_url, name }
}

/// An empty database of its own (created from `template1`: no migrations, nothing loaded),
/// dropped afterwards: for the tests of the migrations themselves.
pub struct BareDb {
    pub name: String,
    pub url: String,
    maint_url: String,
}

impl BareDb {
    pub fn create() -> BareDb {
        let name = format!("permits_bare_{}", Uuid::new_v4().simple());
        let maint_url = discovery::maintenance_url(server_url()).unwrap();
        PgConnection::establish(&maint_url)
            .unwrap()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let url = discovery::with_database(server_url(), &name).unwrap();
        BareDb {
            name,
            url,
            maint_url,
        }
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }
}

impl Drop for BareDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.maint_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

pub struct User {
    pub id: Uuid,
    pub username: String,
    pub token: String,
}

pub struct TestApp {
    pub addr: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub db_url: String,
    /// `/metrics`'s port when it has an address of its own (`telemetry.metrics_bind`).
    pub metrics_port: Option<u16>,
    db_name: String,
    maint_url: String,
    handle: actix_web::dev::ServerHandle,
    /// Set by tests that leave mail unsent on purpose; otherwise dropping the app with unsent
    /// outbox rows fails the test (STYLE: no unexpected mail).
    unsent_ok: std::sync::atomic::AtomicBool,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let tpl = template();
        let db_name = format!("permits_t_{}", Uuid::new_v4().simple());
        let maint_url = discovery::maintenance_url(&tpl.server_url).unwrap();
        {
            let mut admin = PgConnection::establish(&maint_url).unwrap();
            // Cloning needs the template idle; retry briefly while another clone finishes.
            let mut tries = 0;
            loop {
                match admin
                    .batch_execute(&format!("CREATE DATABASE {db_name} TEMPLATE {}", tpl.name))
                {
                    Ok(()) => break,
                    Err(e) if tries < 50 => {
                        tries += 1;
                        let _ = e;
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    Err(e) => panic!("cloning the template: {e}"),
                }
            }
        }
        let mut s = settings();
        s.database.url = discovery::with_database(&tpl.server_url, &db_name).unwrap();
        s.server.workers = 4;
        s.storage.var_dir = std::env::temp_dir().join(format!("permits-test-{db_name}"));
        tweak(&mut s);
        let db_url = s.database.url.clone();
        let app = permits::Application::build(s, "127.0.0.1:0").expect("building the app");
        let metrics_port = app.metrics_port();
        let (port, state, clock, handle) = app.spawn();
        TestApp {
            addr: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            state,
            clock: clock.expect("the test environment uses a manual clock"),
            db_url,
            metrics_port,
            db_name,
            maint_url,
            handle,
            unsent_ok: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.db_url).unwrap()
    }

    /// A transaction held open on a connection of its own with the locks `sql` takes, so
    /// that requests queue behind it every time rather than by chance (see [`Gate`]).
    pub fn gate(&self, sql: &str) -> Gate {
        let mut conn = self.conn();
        conn.batch_execute(&format!("BEGIN; {sql}")).unwrap();
        Gate(conn)
    }

    /// Rows in a table (to prove nothing was written).
    pub fn count(&self, table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result::<N>(&mut self.conn())
            .unwrap()
            .n
    }

    pub fn advance_days(&self, days: i64) {
        self.clock.advance(Duration::days(days));
    }

    /// Create an account directly and log in through the API.
    pub async fn user(
        &self,
        username: &str,
        kind: &str,
        department: Option<&str>,
        roles: &[Role],
    ) -> User {
        let kind = UserKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .expect("person, company or staff");
        self.user_with(username, kind, department, roles, None, Lang::Zh)
            .await
    }

    /// A user with an email address (`<username>@example.test`) and a language.
    pub async fn mail_user(
        &self,
        username: &str,
        department: Option<&str>,
        roles: &[Role],
        lang: Lang,
    ) -> User {
        let kind = if department.is_some() {
            UserKind::Staff
        } else {
            UserKind::Company
        };
        let email = format!("{username}@example.test");
        self.user_with(username, kind, department, roles, Some(&email), lang)
            .await
    }

    pub async fn user_with(
        &self,
        username: &str,
        kind: UserKind,
        department: Option<&str>,
        roles: &[Role],
        email: Option<&str>,
        lang: Lang,
    ) -> User {
        let mut conn = self.conn();
        let credit = (kind == UserKind::Company).then_some("91350100M000100Y43");
        let id = auth::create_user(
            &mut conn,
            &Registration {
                username,
                password: PASSWORD,
                display_name: username,
                kind,
                email,
                phone: None,
                credit_code: credit,
                lang,
                department,
                roles,
            },
            None,
            self.clock_now(),
        )
        .unwrap();
        let token = self.login(username, PASSWORD).await;
        User {
            id,
            username: username.to_owned(),
            token,
        }
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use permits::clock::Clock;
        self.clock.now()
    }

    pub async fn applicant(&self, username: &str) -> User {
        self.user(username, "company", None, &[Role::Applicant])
            .await
    }

    pub async fn staff(&self, username: &str, department: &str, roles: &[Role]) -> User {
        self.user(username, "staff", Some(department), roles).await
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .client
            .post(format!("{}/api/v1/auth/login", self.addr))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login of {username}");
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A fresh token for a user (tokens expire when the clock moves past their time to live).
    pub async fn relogin(&self, user: &User) -> User {
        User {
            id: user.id,
            username: user.username.clone(),
            token: self.login(&user.username, PASSWORD).await,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    pub async fn get(&self, user: &User, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&user.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A JSON POST without a token (registration, sign-in).
    pub async fn post_anon(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, user: &User, path: &str, body: Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(&user.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Create a draft; returns the filing.
    pub async fn create(&self, user: &User, item: &str, form: Value) -> Value {
        let r = self
            .post(
                user,
                "/api/v1/filings",
                json!({ "item": item, "form": form }),
            )
            .await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "create {item}: {body}");
        body
    }

    pub async fn filing(&self, user: &User, id: &str) -> Value {
        let r = self.get(user, &format!("/api/v1/filings/{id}")).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Take an action with the filing's current version; returns the response.
    pub async fn act_raw(
        &self,
        user: &User,
        id: &str,
        action: &str,
        version: i64,
        mut body: Value,
    ) -> Response {
        body["expected_version"] = json!(version);
        self.post(
            user,
            &format!("/api/v1/filings/{id}/actions/{action}"),
            body,
        )
        .await
    }

    /// Try an action with the filing's version; returns the status and the body.
    pub async fn attempt(
        &self,
        user: &User,
        filing: &Value,
        action: &str,
        body: Value,
    ) -> (u16, Value) {
        let id = filing["id"].as_str().unwrap();
        let version = filing["version"].as_i64().unwrap();
        let r = self.act_raw(user, id, action, version, body).await;
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    }

    /// Take an action that must be refused as unprocessable (422); returns the problem.
    pub async fn refused(&self, user: &User, filing: &Value, action: &str, body: Value) -> Value {
        let (status, v) = self.attempt(user, filing, action, body).await;
        assert_eq!(status, 422, "{action} by {}: {v}", user.username);
        v
    }

    /// Take an action that must succeed; returns the new filing.
    pub async fn act(&self, user: &User, filing: &Value, action: &str, body: Value) -> Value {
        let id = filing["id"].as_str().unwrap();
        let version = filing["version"].as_i64().unwrap();
        let r = self.act_raw(user, id, action, version, body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{action} by {}: {v}", user.username);
        v
    }

    pub async fn upload(
        &self,
        user: &User,
        id: &str,
        material: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Response {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned());
        let form = reqwest::multipart::Form::new().part("file", part);
        self.client
            .post(self.url(&format!("/api/v1/filings/{id}/materials/{material}")))
            .bearer_auth(&user.token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Upload a small valid PDF for each listed material.
    pub async fn upload_all(&self, user: &User, id: &str, materials: &[&str]) {
        for m in materials {
            let r = self.upload(user, id, m, &format!("{m}.pdf"), pdf(m)).await;
            assert_eq!(r.status(), 201, "upload {m}: {}", r.text().await.unwrap());
        }
    }
}

impl TestApp {
    /// Run a job now, at the manual clock's time.
    pub async fn run_job(&self, job: &str) -> Value {
        permits::jobs::run(&self.state, job).await.unwrap()
    }

    /// The deadline scan, then the outbox sender.
    pub async fn run_due_jobs(&self) -> Value {
        let scan = self.run_job("deadline_scan").await;
        let sent = self.run_job("outbox").await;
        json!({ "scan": scan, "outbox": sent })
    }

    /// What the memory mailer has sent so far.
    pub fn sent_mail(&self) -> Vec<permits::mail::Kept> {
        self.state.mailer.kept()
    }

    /// Every outbox row, oldest first.
    /// The outbox's rows, each with its text and HTML in `body_text` and `body_html` (a row
    /// stores them deflated in `bodies`).
    pub fn outbox(&self) -> Vec<permits::repo::outbox::MailRow> {
        use permits::db::schema::outbox::dsl as o;
        let rows: Vec<permits::repo::outbox::MailRow> = o::outbox
            .order(o::id)
            .select(permits::repo::outbox::MailRow::as_select())
            .load(&mut self.conn())
            .unwrap();
        rows.into_iter()
            .map(|mut r| {
                (r.body_text, r.body_html) = r.parts().unwrap();
                r
            })
            .collect()
    }

    /// This test leaves mail unsent on purpose.
    pub fn allow_unsent_mail(&self) {
        self.unsent_ok
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn unsent_mail(&self) -> Vec<String> {
        use permits::db::schema::outbox::dsl as o;
        let Ok(mut conn) = PgConnection::establish(&self.db_url) else {
            return Vec::new();
        };
        o::outbox
            .filter(o::status.ne("sent"))
            .select((o::kind, o::status, o::to_address))
            .load::<(String, String, String)>(&mut conn)
            .map(|rows| {
                rows.into_iter()
                    .map(|(k, s, t)| format!("{k} to {t} ({s})"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let unsent = if std::thread::panicking()
            || self.unsent_ok.load(std::sync::atomic::Ordering::Relaxed)
        {
            Vec::new()
        } else {
            self.unsent_mail()
        };
        let handle = self.handle.clone();
        drop(handle.stop(false));
        if let Ok(mut admin) = PgConnection::establish(&self.maint_url) {
            for db in [self.db_name.clone(), format!("{}_spgl", self.db_name)] {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
            }
        }
        let _ = std::fs::remove_dir_all(&self.state.settings.storage.var_dir);
        assert!(
            unsent.is_empty(),
            "the test left mail in the outbox it did not send or expect: {unsent:?}"
        );
    }
}

/// Settings whose seeds are the project's with the item files of `tests/api/fixtures` named
/// here added (a copy of `seeds/` under the test's own var_dir, removed with it): an item the
/// tests need and the service does not ship.
pub fn with_fixture_items(files: &'static [&'static str]) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        let root = s.storage.var_dir.join("root");
        copy_dir(&s.root.join("seeds"), &root.join("seeds"));
        let fixtures = s.root.join("tests/api/fixtures");
        for f in files {
            std::fs::copy(fixtures.join(f), root.join("seeds/items").join(f)).unwrap();
        }
        s.root = root;
    }
}

/// A settings tweak: the service reads a copy of the seeds with a region rule set `name` of
/// `text` among them, and runs under it.
pub fn with_rules(name: &'static str, text: &'static str) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        let root = s.storage.var_dir.join("root");
        copy_dir(&s.root.join("seeds"), &root.join("seeds"));
        std::fs::write(root.join(format!("seeds/rules/{name}.toml")), text).unwrap();
        s.root = root;
        s.authority.rules = name.into();
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Rules under which the fire filing's draw selects every filing (`true`) or none (`false`),
/// for the tests of what follows the draw, which is random otherwise.
pub fn fire_draws(every: bool) -> impl FnOnce(&mut Settings) {
    if every {
        with_rules(
            "draw-every",
            "[items.fire-acceptance-filing]\nspot_check_ratios = { general = \"1/1\", key = \"1/1\" }\nspot_check_rule_version = \"test: every filing\"\n",
        )
    } else {
        with_rules(
            "draw-none",
            "[items.fire-acceptance-filing]\nspot_check_ratios = { general = \"0/1\", key = \"0/1\" }\nspot_check_ratio_late = \"0/1\"\nspot_check_rule_version = \"test: no filing\"\n",
        )
    }
}

/// The test app with the test item `extendable-licence` among its items (行政许可法 §42: 20
/// working days, extendable by 10 with the head's approval).
pub async fn spawn_with_extendable_licence(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    TestApp::spawn_with(|s| {
        tweak(s);
        with_fixture_items(&["extendable-licence.toml"])(s);
    })
    .await
}

/// Settings that send mail over SMTP to a local port, with short timeouts.
pub fn smtp_to(port: u16) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        s.mail.backend = permits::config::MailBackend::Smtp;
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.timeout_seconds = 2;
        s.mail.lease_seconds = 60;
    }
}

/// A message the SMTP sink received, parsed.
#[derive(Debug, Clone)]
pub struct Received {
    pub envelope_to: Vec<String>,
    pub to: String,
    pub message_id: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What the sink received: envelope recipients and the raw message.
type Inbox = Arc<std::sync::Mutex<Vec<(Vec<String>, Vec<u8>)>>>;

#[derive(Clone)]
struct SinkHandler {
    store: Inbox,
    refuse: Arc<std::sync::Mutex<Option<String>>>,
    delay: Arc<std::sync::Mutex<std::time::Duration>>,
    /// When set, the password AUTH PLAIN must give.
    password: Option<String>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin_embedded::Handler for SinkHandler {
    fn auth_plain(
        &mut self,
        _authorization_id: &str,
        _authentication_id: &str,
        password: &str,
    ) -> mailin_embedded::Response {
        if self.password.as_deref() == Some(password) {
            mailin_embedded::response::AUTH_OK
        } else {
            mailin_embedded::response::INVALID_CREDENTIALS
        }
    }

    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        let refuse = self.refuse.lock().unwrap().clone();
        if refuse.is_some_and(|r| to.contains(&r)) {
            return mailin_embedded::response::NO_MAILBOX;
        }
        mailin_embedded::response::OK
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let delay = *self.delay.lock().unwrap();
        std::thread::sleep(delay);
        let data = std::mem::take(&mut self.data);
        self.store
            .lock()
            .unwrap()
            .push((std::mem::take(&mut self.to), data));
        mailin_embedded::response::OK
    }
}

/// A real SMTP server in the test process (mailin-embedded on its own threads).
pub struct SmtpSink {
    pub port: u16,
    store: Inbox,
    refuse: Arc<std::sync::Mutex<Option<String>>>,
    delay: Arc<std::sync::Mutex<std::time::Duration>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        Self::on(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn on(listener: std::net::TcpListener) -> SmtpSink {
        Self::serve(listener, None)
    }

    /// A server that offers STARTTLS with this certificate and requires AUTH PLAIN with this
    /// password (mailin offers AUTH only over TLS).
    pub fn with_tls(cert: &std::path::Path, key: &std::path::Path, password: &str) -> SmtpSink {
        // mailin-embedded builds its TLS config with the process's default provider; two are
        // linked into the tests.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self::serve(
            std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            Some((
                cert.display().to_string(),
                key.display().to_string(),
                password.to_owned(),
            )),
        )
    }

    fn serve(listener: std::net::TcpListener, tls: Option<(String, String, String)>) -> SmtpSink {
        let port = listener.local_addr().unwrap().port();
        let store = Arc::new(std::sync::Mutex::new(Vec::new()));
        let refuse = Arc::new(std::sync::Mutex::new(None));
        let delay = Arc::new(std::sync::Mutex::new(std::time::Duration::ZERO));
        let handler = SinkHandler {
            store: store.clone(),
            refuse: refuse.clone(),
            delay: delay.clone(),
            password: tls.as_ref().map(|t| t.2.clone()),
            to: Vec::new(),
            data: Vec::new(),
        };
        std::thread::spawn(move || {
            let mut server = mailin_embedded::Server::new(handler);
            server
                .with_name("sink.example.test")
                .with_num_threads(32)
                .with_tcp_listener(listener);
            if let Some((cert_path, key_path, _)) = tls {
                server
                    .with_ssl(mailin_embedded::SslConfig::SelfSigned {
                        cert_path,
                        key_path,
                    })
                    .unwrap()
                    .with_auth(mailin_embedded::AuthMechanism::Plain);
            }
            let _ = server.serve();
        });
        SmtpSink {
            port,
            store,
            refuse,
            delay,
        }
    }

    /// Take this long over each message before answering its end of data.
    pub fn delay(&self, d: std::time::Duration) {
        *self.delay.lock().unwrap() = d;
    }

    /// Answer 550 to recipients containing `part` (None: accept everyone).
    pub fn refuse(&self, part: Option<&str>) {
        *self.refuse.lock().unwrap() = part.map(str::to_owned);
    }

    pub fn count(&self) -> usize {
        self.store.lock().unwrap().len()
    }

    pub fn received(&self) -> Vec<Received> {
        self.store
            .lock()
            .unwrap()
            .iter()
            .map(|(to, raw)| {
                let m = mailparse::parse_mail(raw).unwrap();
                let header = |h: &str| m.headers.get_first_value(h).unwrap_or_default();
                let part = |mime: &str| {
                    m.subparts
                        .iter()
                        .find(|p| p.ctype.mimetype == mime)
                        .map(|p| p.get_body().unwrap())
                        .unwrap_or_default()
                };
                Received {
                    envelope_to: to.clone(),
                    to: header("To"),
                    message_id: header("Message-ID"),
                    subject: header("Subject"),
                    text: part("text/plain"),
                    html: part("text/html"),
                }
            })
            .collect()
    }
}

/// TLS from the first byte in front of a plain sink, as an `smtps://` relay on port 465 speaks
/// it: each connection's handshake is completed here and the SMTP conversation inside it is
/// passed on to the sink (mailin-embedded offers only STARTTLS).
pub struct TlsFront {
    pub port: u16,
}

impl TlsFront {
    pub fn start(cert: &std::path::Path, key: &std::path::Path, upstream: u16) -> TlsFront {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let config = config.clone();
                std::thread::spawn(move || {
                    let _ = Self::relay(tcp, config, upstream);
                });
            }
        });
        TlsFront { port }
    }

    /// One connection: the handshake, then bytes each way until either side closes. SMTP takes
    /// turns, so polling both sides with short read timeouts is enough.
    fn relay(
        tcp: std::net::TcpStream,
        config: Arc<rustls::ServerConfig>,
        upstream: u16,
    ) -> std::io::Result<()> {
        use std::io::{ErrorKind, Read, Write};
        let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        let mut plain = std::net::TcpStream::connect(("127.0.0.1", upstream))?;
        let tick = Some(std::time::Duration::from_millis(5));
        plain.set_read_timeout(tick)?;
        tls.sock.set_read_timeout(tick)?;
        let idle =
            |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match plain.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    tls.write_all(&buf[..n])?;
                    tls.flush()?;
                }
                Err(e) if idle(&e) => {}
                Err(e) => return Err(e),
            }
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => plain.write_all(&buf[..n])?,
                Err(e) if idle(&e) => {}
                Err(e) => return Err(e),
            }
        }
        tls.conn.send_close_notify();
        let _ = tls.flush();
        Ok(())
    }
}

/// A port nothing listens on (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Set the manual clock to 10:00 in Beijing on a date.
pub fn at(app: &TestApp, date: &str) {
    use chrono::TimeZone;
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    app.clock
        .set(chrono::Utc.from_utc_datetime(&d.and_hms_opt(2, 0, 0).unwrap()));
}

/// A tiny but real PDF whose content varies with `seed`.
pub fn pdf(seed: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {seed}\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").into_bytes()
}

/// A valid form for each item.
pub fn construction_form() -> Value {
    json!({
        "project_name": "示范小学教学楼",
        "project_type": "new",
        "project_code": "2025-330108-47-01-123456",
        "builder_name": "示范建设集团有限公司",
        "builder_credit_code": "91350100M000100Y43",
        "contractor_name": "示范建工有限公司",
        "contractor_credit_code": "91110000600037341L",
        "site_address": "示范区文昌路 88 号",
        "investment": "12500000.00",
        "contract_price": 11800000,
        "floor_area": "8650.5",
        "planned_start": "2026-12-01",
        "planned_end": "2028-06-30",
        "project_manager": "王建国",
        "project_manager_phone": "13800138000",
        "project_manager_id": "11010519491231002X",
        "project_scale": "地上5层，建筑面积8650.5平方米",
        "contract_duration_days": 540,
        "safety_licence_no": "(闽)JZ安许证字[2024]000123",
        "survey_unit": "示范勘察院有限公司",
        "survey_unit_credit_code": "91350100M000100Y43",
        "design_unit": "示范建筑设计研究院有限公司",
        "design_unit_credit_code": "91110000600037341L",
        "drawing_review_no": "SCTS-2026-0088",
        "supervised": true,
        "supervision_unit": "示范工程监理有限公司",
        "supervision_unit_credit_code": "91350100M000100Y43",
        "chief_supervisor": "陈监理"
    })
}

pub const CONSTRUCTION_MATERIALS: &[&str] = &[
    "application_form",
    "land_use_approval",
    "planning_permit",
    "site_readiness",
    "construction_contract",
    "drawing_review",
    "quality_safety",
    "funds_commitment",
    "supervision_contract",
];

/// An elevator filing whose `total` units each have their own owner, of 89.50 m² each: the
/// first `agree` agree (signed), the others object. One elevator, paid by the owners with a
/// subsidy; the owners' notice ran from 1 to 25 August 2025 (15 working days end on the 22nd)
/// without objection, and no neighbour is affected.
pub fn elevator_form(agree: usize, total: usize) -> Value {
    let owners: Vec<Value> = (0..total)
        .map(|i| {
            json!({
                "unit": format!("{}0{}", i / 2 + 1, i % 2 + 1),
                "owner": format!("业主{}", i + 1),
                "area": "89.50",
                "vote": if i < agree { "agree" } else { "object" },
                "signed": true
            })
        })
        .collect();
    json!({
        "residential_area": "幸福里小区",
        "building_address": "幸福里 3 栋 2 单元",
        "floors": 6,
        "elevator_count": 1,
        "owners": owners,
        "representative": "刘业主",
        "representative_phone": "13912345678",
        "representative_id": "11010519491231002X",
        "notice_posted_on": "2025-08-01",
        "notice_removed_on": "2025-08-25",
        "notice_places": "本单元楼道口、小区公示栏",
        "notice_outcome": "no_objection",
        "affected_neighbours": false,
        "design_unit": "示范建筑设计院",
        "estimated_cost": "580000",
        "funding": "owners_and_subsidy"
    })
}

/// The materials every elevator filing needs (none of the conditional ones).
pub const ELEVATOR_MATERIALS: &[&str] = &[
    "application",
    "ownership_proof",
    "representative_authorisation",
    "owners_consent",
    "cost_sharing",
    "notice_result",
    "design_plan",
    "drawing_review",
    "structural_assessment",
    "installer_qualification",
];

pub fn fire_form() -> Value {
    json!({
        "project_name": "示范商业综合体",
        "builder_name": "示范建设集团有限公司",
        "builder_credit_code": "91350100M000100Y43",
        "project_address": "示范区湖滨路 1 号",
        "completion_acceptance_date": "2026-11-18",
        "project_class": "general",
        "building_area": 23000,
        "commitment": false,
        "contact_phone": "13800138000"
    })
}

pub const FIRE_MATERIALS: &[&str] = &["filing_form", "completion_report", "as_built_drawings"];

/// The paths of a validation problem's errors, in order.
pub fn error_paths(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect()
}

/// A transaction holding locks (from [`TestApp::gate`]) that requests are to queue behind.
pub struct Gate(PgConnection);

impl Gate {
    /// Wait until exactly `n` backends of the test's database wait on a lock (the requests
    /// held at the gate: asserted, within 20 s), then end the transaction with `end`:
    /// `ROLLBACK`, or writes and `COMMIT`.
    pub async fn end_when_waiting(mut self, app: &TestApp, n: i64, end: &str) {
        let waiting = "SELECT count(*) AS n FROM pg_stat_activity \
                       WHERE datname = current_database() AND wait_event_type = 'Lock'";
        let started = std::time::Instant::now();
        while crate::concurrency::scalar(app, waiting) < n && started.elapsed().as_secs() < 20 {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            crate::concurrency::scalar(app, waiting),
            n,
            "requests waiting at the gate"
        );
        self.0.batch_execute(end).unwrap();
    }
}

/// A `permits serve` process on `db_url` (the test environment, one worker, a pool of 2), with
/// `env` on top, its address read from the first line it prints; killed when dropped.
pub struct Served {
    pub addr: String,
    /// Its standard error, when asked for piped.
    pub stderr: Option<std::process::ChildStderr>,
    child: std::process::Child,
}

impl Served {
    pub fn start(db_url: &str, env: &[(&str, String)], stderr: std::process::Stdio) -> Served {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_permits"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("PERMITS_ENV", "test")
            .env("PERMITS_ROOT", env!("CARGO_MANIFEST_DIR"))
            .env("PERMITS__DATABASE__URL", db_url)
            .env("PERMITS__DATABASE__POOL_SIZE", "2")
            .env("PERMITS__SERVER__WORKERS", "1")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let stderr = child.stderr.take();
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        // Keep reading: a closed pipe would fail the service's next line.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = first
            .split("http://")
            .nth(1)
            .unwrap_or_else(|| panic!("not serving: {first:?}"))
            .trim()
            .to_owned();
        Served {
            addr,
            stderr,
            child,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
