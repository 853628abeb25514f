//! The test harness: the real application on port 0 against a real PostgreSQL database cloned
//! per test from a migrated template, and verbs for the tests (`submit`, `act`, `advance_days`).

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::{Arc, OnceLock};

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use permits::clock::ManualClock;
use permits::config::{Environment, Settings};
use permits::db::discovery;
use permits::domain::Lang;
use permits::domain::definition::Role;
use permits::services::auth::{self, Registration};
use permits::web::AppState;
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

fn build_template() -> Template {
    let s = settings();
    let name = format!("permits_tpl_{}", fingerprint(&s.root));
    let mut s2 = s.clone();
    s2.database.name = "permits_test_maint".into();
    let found = permits::find_database(&s2).expect("a PostgreSQL server for the tests");
    let maint = discovery::maintenance_url(&found.url).unwrap();
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
            s3.database.url = discovery::with_database(&found.url, &building).unwrap();
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
    Template {
        server_url: found.url,
        name,
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
    db_name: String,
    maint_url: String,
    handle: actix_web::dev::ServerHandle,
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
        let (port, state, clock, handle) = app.spawn();
        TestApp {
            addr: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            state,
            clock: clock.expect("the test environment uses a manual clock"),
            db_url,
            db_name,
            maint_url,
            handle,
        }
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.db_url).unwrap()
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
        let mut conn = self.conn();
        let credit = (kind == "company").then_some("91350100M000100Y43");
        let id = auth::create_user(
            &mut conn,
            &Registration {
                username,
                password: PASSWORD,
                display_name: username,
                kind,
                email: None,
                phone: None,
                credit_code: credit,
                lang: Lang::Zh,
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

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        drop(handle.stop(false));
        if let Ok(mut admin) = PgConnection::establish(&self.maint_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.db_name
            ));
        }
        let _ = std::fs::remove_dir_all(&self.state.settings.storage.var_dir);
    }
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
        "project_manager_phone": "13800138000"
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
];

pub fn elevator_form(agree: usize, total: usize) -> Value {
    let owners: Vec<Value> = (0..total)
        .map(|i| {
            json!({
                "unit": format!("{}0{}", i / 2 + 1, i % 2 + 1),
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
        "owners": owners,
        "representative": "刘业主",
        "representative_phone": "13912345678",
        "representative_id": "11010519491231002X",
        "design_unit": "示范建筑设计院",
        "estimated_cost": "580000",
        "funding": "owners_and_subsidy"
    })
}

pub const ELEVATOR_MATERIALS: &[&str] = &[
    "application",
    "owners_consent",
    "design_plan",
    "structural_assessment",
    "cost_sharing",
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
