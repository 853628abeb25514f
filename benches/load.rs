//! The load benchmark: `cargo bench --bench load` (builds in release).
//!
//! It starts the release `permits` binary on a free loopback port against a fresh database
//! `permits_bench` (dropped and recreated on the local PostgreSQL server), logs in the demo
//! staff and applicant, and creates, fills and submits fire-acceptance filings (not timed).
//! Then, for 8 and then 32 concurrent clients, each client drives its own filings through
//! actions (`POST /api/v1/filings/{id}/actions/{action}` with `If-Match`) for a fixed time and
//! the run reports actions/s and latency percentiles. Beside each level, pgbench does the same
//! work: it replays the statements one action of the measured cycle sends (the pool's check,
//! the token, the read with the facts, the guarded write), as captured from the
//! service itself at the start of the run (`benches/support/same_work.rs`: the service runs once
//! with `log_statement = 'all'`, so the script follows the code and cannot drift), on filings of
//! its own brought into the same cycle, with the same number of clients, once just before the
//! level and once just after; the ratio is to the mean of the two. Beside the CPU each takes,
//! the run reports the write-ahead log each writes per action (bytes and records): the work
//! asked of the server, whatever the machine's speed that minute. Reading the captured
//! statements needs PostgreSQL's log file (found by the server, or LOAD_PG_LOG).

//! The service's outbox sender is off (`PERMITS__JOBS__CRON__OUTBOX=""`): the actions' letters are
//! written to the outbox, as in production, and left there; `cargo bench --bench jobs`
//! measures sending them.
//!
//! After the levels, the floor: the same number of clients as the ratio's level sending an
//! authenticated GET of the caller (`/api/v1/me`: one query) and of `/healthz` (none), with the
//! CPU per request, to show what any request costs before an action does anything.
//!
//! Each filing goes through its life: one round of the one-time notice (clerk
//! `request_supplement`, applicant `supplement`), then clerk `issue_receipt` (the service draws
//! the filing at once: filed late, it is always selected), inspector `fail_inspection`, and from then on the re-check cycle
//! (applicant `request_recheck` ⇄ inspector `fail_recheck`), a repeatable cycle whose per-action
//! cost does not grow with the filing's history. (The notice cycle does: every round adds two
//! clock events, and every action loads and evaluates the whole clock ledger; set
//! LOAD_SUPPLEMENT_ROUNDS high to see it.) The early steps mostly fall in the warm-up; the mix
//! of timed actions is printed. Every non-200 answer is an error and is reported.
//!
//! Knobs (environment): LOAD_SECONDS (10) per level, LOAD_WARMUP_SECONDS (2),
//! LOAD_POOL_SIZE (8, the service's database pool; README has a sweep: more backends than about
//! four per core only add switching),
//! LOAD_WORKERS (0: one HTTP worker per core), LOAD_FILINGS_PER_CLIENT (4),
//! LOAD_SUPPLEMENT_ROUNDS (1), LOAD_RUST_LOG (info: the service's log filter; the access log
//! writes a line per request), PERMITS__TELEMETRY__METRICS (true; false turns the metrics off),
//! LOAD_SQL (none: SQL run on the database after the setup and before the levels, to measure a
//! change of schema or setting against the same binary, e.g. dropping an index),
//! LOAD_DOCUMENTS (0: the service runs on a copy of the items without their `[[documents]]`, so
//! the typical action issues nothing; 1 keeps them, to measure what documents cost: the
//! same-work script cannot replay an issuing action, whose document ids are new each time, so
//! that run has no pgbench ceiling),
//! LOAD_WAL_DETAIL (unset; set: each level's write-ahead log records per action by kind and
//! relation, from `pg_walinspect`),
//! LOAD_CALLGRIND (unset; N: count instead of time, see below),
//! LOAD_CLIENTS ("8,32"), LOAD_GENERATOR_THREADS (1: the load generator's threads), PGHOST (/var/run/postgresql), PGPORT (5432), PGUSER (postgres).
//!
//! `LOAD_CALLGRIND=N` counts instead of timing: the service runs under valgrind's callgrind
//! with instrumentation off, one client brings its filings into the re-check cycle and turns it
//! 40 times, then N actions of the cycle are counted, one after another, and the run prints the
//! service's user-space instructions per action (`target/load-callgrind.out`, for
//! `callgrind_annotate`). The same binary and inputs give the same count to within a fraction
//! of a per cent whatever else the machine does, where the timed levels move by several per
//! cent from minute to minute: it is how a change to the service's own work is measured
//! (README, Benchmarks). No pgbench, no levels; kernel time is not counted.
//!
//! Results: a table on stdout and `target/load-report.json`; the service's log is
//! `target/load-server.log`. The database `permits_bench` is left in place for inspection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH};
use serde_json::{Value, json};

#[path = "support/same_work.rs"]
mod same_work;

const DB: &str = "permits_bench";
const ITEM: &str = "fire-acceptance-filing";
const DEMO_PASSWORD: &str = "permits-demo-2026";
const RATIO_TARGET: f64 = 0.7;
const RATIO_TARGET_CLIENTS: usize = 8;
const P99_TARGET_MS: f64 = 50.0;
/// The scheduled jobs (config/base.toml `[jobs.cron]`), all off while statements are captured.
const JOBS: &[&str] = &[
    "deadline_scan",
    "digest",
    "outbox",
    "release_stale_claims",
    "documents",
    "audit_seal",
    "draw",
    "exchange",
    "platform",
];
/// A hard bound on any client's loop, whatever the clock says.
const MAX_REQUESTS_PER_CLIENT: usize = 1_000_000;

/// The filing's materials, and the re-check's written request and rectification report (原第三十七条:
/// asked for by `request_recheck`), uploaded once with the rest.
const MATERIALS: &[&str] = &[
    "filing_form",
    "completion_report",
    "as_built_drawings",
    "recheck_application",
    "rectification_report",
];
const NOTICE: &str = r#"{"notice_items":["请补充消防设施检测报告（加盖检测机构公章）"]}"#;
const FAIL: &str = r#"{"reason":"疏散指示标志不连续","opinion":"三层东侧疏散走道缺少疏散指示标志，责令整改后申请复查"}"#;
const RECHECK: &str = r#"{"reason":"已按检查意见补设疏散指示标志并完成自检"}"#;
const EMPTY: &str = "{}";

#[derive(Clone)]
struct Config {
    seconds: u64,
    warmup: u64,
    pool_size: u32,
    workers: u32,
    filings_per_client: usize,
    supplement_rounds: u32,
    sql: Option<String>,
    /// Items issue their documents (LOAD_DOCUMENTS=1); 0, the default, strips them.
    documents: bool,
    levels: Vec<usize>,
    /// LOAD_CALLGRIND: count the service's instructions over this many actions.
    callgrind: Option<usize>,
    pg_host: String,
    pg_port: String,
    pg_user: String,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v:?} is not valid")),
        _ => Ok(default),
    }
}

impl Config {
    fn from_env() -> Result<Config> {
        let levels = std::env::var("LOAD_CLIENTS")
            .unwrap_or_else(|_| "8,32".into())
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .context("LOAD_CLIENTS must be a comma-separated list of client counts")?;
        if levels.is_empty() || levels.iter().any(|&c| c == 0 || c > 256) {
            bail!("LOAD_CLIENTS: each level must be between 1 and 256 clients");
        }
        let cfg = Config {
            seconds: env_or("LOAD_SECONDS", 10)?,
            warmup: env_or("LOAD_WARMUP_SECONDS", 2)?,
            pool_size: env_or("LOAD_POOL_SIZE", 8)?,
            workers: env_or("LOAD_WORKERS", 0)?,
            filings_per_client: env_or("LOAD_FILINGS_PER_CLIENT", 4)?,
            supplement_rounds: env_or("LOAD_SUPPLEMENT_ROUNDS", 1)?,
            sql: std::env::var("LOAD_SQL")
                .ok()
                .filter(|s| !s.trim().is_empty()),
            documents: env_or("LOAD_DOCUMENTS", 0u8)? != 0,
            callgrind: Some(env_or("LOAD_CALLGRIND", 0usize)?).filter(|&n| n > 0),
            levels,
            pg_host: env_or("PGHOST", "/var/run/postgresql".to_owned())?,
            pg_port: env_or("PGPORT", "5432".to_owned())?,
            pg_user: env_or("PGUSER", "postgres".to_owned())?,
        };
        if !(1..=120).contains(&cfg.seconds) || cfg.warmup > 30 {
            bail!("LOAD_SECONDS must be 1..=120 and LOAD_WARMUP_SECONDS at most 30");
        }
        if !(1..=64).contains(&cfg.filings_per_client) {
            bail!("LOAD_FILINGS_PER_CLIENT must be 1..=64");
        }
        if cfg.supplement_rounds > 100_000 {
            bail!("LOAD_SUPPLEMENT_ROUNDS must be at most 100000");
        }
        if cfg.callgrind.is_some_and(|n| n > 100_000) {
            bail!("LOAD_CALLGRIND must be at most 100000 actions");
        }
        let mut cfg = cfg;
        if cfg.callgrind.is_some() {
            // One client, counted; no documents (an issuing action is not the cycle's).
            cfg.levels = vec![1];
            cfg.documents = false;
        }
        Ok(cfg)
    }

    fn database_url(&self) -> String {
        if self.pg_host.starts_with('/') {
            format!(
                "postgres://{}@/{DB}?host={}&port={}",
                self.pg_user, self.pg_host, self.pg_port
            )
        } else {
            format!(
                "postgres://{}@{}:{}/{DB}",
                self.pg_user, self.pg_host, self.pg_port
            )
        }
    }

    fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                &self.pg_host,
                "-p",
                &self.pg_port,
                "-U",
                &self.pg_user,
            ])
            .args(["-d", db, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .context("running psql (is the PostgreSQL client installed?)")?;
        if !out.status.success() {
            bail!(
                "psql -d {db} -c {sql:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/` (or CARGO_TARGET_DIR): the binary lives in `<target>/release/permits`.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_permits"))
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir().join("target"))
}

/// The service under test; killed when dropped, also on a panic or an early error.
struct Server {
    child: Child,
    log: PathBuf,
    var_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.var_dir);
    }
}

/// A copy of config/ and seeds/ whose items issue no documents (LOAD_DOCUMENTS=0): the same
/// actions without rendering and sealing, to measure what documents add.
fn root_without_documents(target: &Path) -> Result<PathBuf> {
    fn copy(from: &Path, to: &Path) -> Result<()> {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            let dest = to.join(e.file_name());
            if e.file_type()?.is_dir() {
                copy(&e.path(), &dest)?;
            } else {
                std::fs::copy(e.path(), &dest)?;
            }
        }
        Ok(())
    }
    let root = target.join("load-root-without-documents");
    let _ = std::fs::remove_dir_all(&root);
    for dir in ["config", "seeds"] {
        copy(&manifest_dir().join(dir), &root.join(dir))?;
    }
    for e in std::fs::read_dir(root.join("seeds/items"))? {
        let path = e?.path();
        let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path)?.parse()?;
        doc.remove("documents");
        std::fs::write(&path, doc.to_string())?;
    }
    Ok(root)
}

impl Server {
    /// Start the service; `capture`: the short run whose statements are logged for the
    /// same-work script, with every scheduled job off so that nothing else runs meanwhile.
    fn start(cfg: &Config, port: u16, capture: bool) -> Result<Server> {
        let target = target_dir();
        let log = target.join(if capture {
            "load-capture-server.log"
        } else {
            "load-server.log"
        });
        let var_dir = target.join("load-bench-var");
        let _ = std::fs::remove_dir_all(&var_dir);
        std::fs::create_dir_all(&var_dir)?;
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let root = if cfg.documents {
            manifest_dir()
        } else {
            root_without_documents(&target)?
        };
        let mut command = match cfg.callgrind {
            Some(_) if !capture => {
                let mut c = Command::new("valgrind");
                c.args(["--tool=callgrind", "--instr-atstart=no"])
                    .arg(format!(
                        "--callgrind-out-file={}",
                        target.join("load-callgrind.out").display()
                    ))
                    .arg(env!("CARGO_BIN_EXE_permits"));
                c
            }
            _ => Command::new(env!("CARGO_BIN_EXE_permits")),
        };
        // Counting: no job may run among the counted actions either.
        if capture || cfg.callgrind.is_some() {
            for job in JOBS {
                command.env(format!("PERMITS__JOBS__CRON__{}", job.to_uppercase()), "");
            }
        }
        let child = command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .current_dir(manifest_dir())
            .env_remove("DATABASE_URL")
            .env_remove("PERMITS_BIND")
            .env("PERMITS_ENV", "demo")
            // The demo office (a year of work) is not the load the benchmark measures.
            .env("PERMITS__DEMO__OFFICE", "false")
            .env("PERMITS_ROOT", &root)
            .env("PERMITS__DATABASE__URL", cfg.database_url())
            .env("PERMITS__DATABASE__NAME", DB)
            .env("PERMITS__DATABASE__POOL_SIZE", cfg.pool_size.to_string())
            .env("PERMITS__SERVER__WORKERS", cfg.workers.to_string())
            .env("PERMITS__STORAGE__VAR_DIR", &var_dir)
            // Actions write their letters to the outbox (that is part of an action); sending
            // them is the jobs benchmark's business. The demo's file mailer would otherwise
            // create a file per letter during the run, ~10% of the machine's CPU in a profile.
            .env("PERMITS__JOBS__CRON__OUTBOX", "")
            // As the demo logs: one access line a request (LOAD_RUST_LOG changes it, e.g.
            // `info,permits::access=warn` to measure what the access log costs).
            .env(
                "RUST_LOG",
                std::env::var("LOAD_RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting the permits binary")?;
        Ok(Server {
            child,
            log,
            var_dir,
        })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    async fn wait_ready(&mut self, base: &str, http: &reqwest::Client) -> Result<()> {
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "permits exited early ({status}); log {}:\n{}",
                    self.log.display(),
                    self.log_tail()
                );
            }
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "permits was not ready within 60 s; log {}:\n{}",
            self.log.display(),
            self.log_tail()
        )
    }
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Tokens of one client: the fire department's clerk, its inspectors (user id and token: the
/// draw gives each selected filing to one of them) and the applicant.
#[derive(Clone)]
struct Tokens {
    clerk: String,
    inspectors: Vec<(String, String)>,
    applicant: String,
}

/// An inspector's user id and token.
async fn inspector(http: &reqwest::Client, base: &str, user: &str) -> Result<(String, String)> {
    let token = login(http, base, user).await?;
    let me: Value = http
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let id = me["user_id"]
        .as_str()
        .with_context(|| format!("the user id of {user} in {me}"))?
        .to_owned();
    Ok((id, token))
}

async fn login(http: &reqwest::Client, base: &str, user: &str) -> Result<String> {
    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": user, "password": DEMO_PASSWORD }))
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await?;
    if status != 200 {
        bail!("login of {user}: {status} {body}");
    }
    body["token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("login of {user}: no token in {body}"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Intake,
    Supplement,
    Inspection,
    Rectification,
    Recheck,
}

impl St {
    fn from_code(code: &str) -> Option<St> {
        Some(match code {
            "intake" => St::Intake,
            "supplement" => St::Supplement,
            "inspection" => St::Inspection,
            "rectification" => St::Rectification,
            "recheck" => St::Recheck,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy)]
enum Who {
    Clerk,
    Inspector,
    Applicant,
}

/// A filing as its client last saw it.
#[derive(Clone, Debug)]
struct Flow {
    id: String,
    version: i64,
    state: St,
    /// One-time notices still to request before the filing is receipted.
    supplements_left: u32,
    /// The drawn inspector holding the inspection (user id), from the receipt's answer.
    inspector: Option<String>,
    dead: bool,
}

/// The next action for a filing: who takes it, with what body, and where it leads.
fn next_step(f: &Flow) -> (Who, &'static str, &'static str, St) {
    match f.state {
        St::Intake if f.supplements_left > 0 => {
            (Who::Clerk, "request_supplement", NOTICE, St::Supplement)
        }
        St::Intake => (Who::Clerk, "issue_receipt", EMPTY, St::Inspection),
        St::Supplement => (Who::Applicant, "supplement", EMPTY, St::Intake),
        St::Inspection => (Who::Inspector, "fail_inspection", FAIL, St::Rectification),
        St::Rectification => (Who::Applicant, "request_recheck", RECHECK, St::Recheck),
        St::Recheck => (Who::Inspector, "fail_recheck", FAIL, St::Rectification),
    }
}

fn pdf(seed: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {seed}\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").into_bytes()
}

fn fire_form(i: usize) -> Value {
    json!({
        "project_name": format!("压测商业综合体 {i}"),
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

/// Create a fire-acceptance filing, upload its materials and submit it: it ends in `intake`.
async fn prepare_filing(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    i: usize,
    supplement_rounds: u32,
) -> Result<Flow> {
    let r = http
        .post(format!("{base}/api/v1/filings"))
        .bearer_auth(token)
        .json(&json!({ "item": ITEM, "form": fire_form(i) }))
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await?;
    if status != 201 {
        bail!("creating filing {i}: {status} {body}");
    }
    let id = body["id"].as_str().context("filing id")?.to_owned();
    let mut version = body["version"].as_i64().context("filing version")?;
    for m in MATERIALS {
        let part = reqwest::multipart::Part::bytes(pdf(m)).file_name(format!("{m}.pdf"));
        let r = http
            .post(format!("{base}/api/v1/filings/{id}/materials/{m}"))
            .bearer_auth(token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if status != 201 {
            bail!("uploading {m} to filing {i}: {status} {body}");
        }
        version = body["filing_version"].as_i64().context("filing_version")?;
    }
    let r = http
        .post(format!("{base}/api/v1/filings/{id}/actions/submit"))
        .bearer_auth(token)
        .header(IF_MATCH, format!("\"{version}\""))
        .header(CONTENT_TYPE, "application/json")
        .body(EMPTY)
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await?;
    if status != 200 || body["state"]["code"] != "intake" {
        bail!("submitting filing {i}: {status} {body}");
    }
    Ok(Flow {
        id,
        version: body["version"].as_i64().context("version")?,
        state: St::Intake,
        supplements_left: supplement_rounds,
        inspector: None,
        dead: false,
    })
}

/// The token for the next action on `f`.
fn token_for<'a>(tokens: &'a Tokens, f: &Flow) -> &'a str {
    match next_step(f).0 {
        Who::Clerk => &tokens.clerk,
        Who::Inspector => tokens
            .inspectors
            .iter()
            .find(|(id, _)| f.inspector.as_deref() == Some(id.as_str()))
            .map_or(&tokens.inspectors[0].1, |(_, t)| t),
        Who::Applicant => &tokens.applicant,
    }
}

/// Take the next action on `f` (not timed); anything but 200 is an error. The action's name.
async fn take_step(
    http: &reqwest::Client,
    base: &str,
    tokens: &Tokens,
    f: &mut Flow,
) -> Result<&'static str> {
    let (_, action, body, to) = next_step(f);
    let r = http
        .post(format!("{base}/api/v1/filings/{}/actions/{action}", f.id))
        .bearer_auth(token_for(tokens, f))
        .header(IF_MATCH, format!("\"{}\"", f.version))
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if status != 200 {
        bail!("{action} on filing {}: {status} {v}", f.id);
    }
    f.version = v["version"].as_i64().context("version")?;
    f.state = to;
    if action == "request_supplement" {
        f.supplements_left = f.supplements_left.saturating_sub(1);
    }
    if action == "issue_receipt" {
        f.inspector = v["tasks"].as_array().and_then(|ts| {
            ts.iter()
                .find(|t| t["role"] == "inspector")
                .and_then(|t| t["claimed_by"].as_str())
                .map(str::to_owned)
        });
    }
    Ok(action)
}

/// Drive a submitted filing into the re-check cycle: through the notice rounds, the receipt,
/// the failed inspection and one whole cycle, to `rectification`, where the captured cycle
/// starts. Every filing the same-work script replays on has this same history.
async fn into_cycle(
    http: &reqwest::Client,
    base: &str,
    tokens: &Tokens,
    f: &mut Flow,
) -> Result<()> {
    for _ in 0..10_000 {
        let action = take_step(http, base, tokens, f).await?;
        if action == "fail_recheck" {
            return Ok(());
        }
    }
    bail!("filing {} did not reach the re-check cycle", f.id)
}

/// `LOAD_CALLGRIND=n`: the service's user-space instructions over `n` actions of the re-check
/// cycle, taken one after another after the cycle is warm (see the module's documentation).
async fn count_instructions(
    mut server: Server,
    http: &reqwest::Client,
    base: &str,
    tokens: &Tokens,
    mut flows: Vec<Flow>,
    n: usize,
) -> Result<()> {
    let started = Instant::now();
    for f in flows.iter_mut() {
        into_cycle(http, base, tokens, f).await?;
    }
    // Warm: every statement prepared on the connections the actions use, every cache filled.
    for i in 0..40 {
        let k = i % flows.len();
        take_step(http, base, tokens, &mut flows[k]).await?;
    }
    let pid = server.child.id().to_string();
    let control = |on: &str| -> Result<()> {
        let out = Command::new("callgrind_control")
            .args(["-i", on, &pid])
            .output()
            .context("running callgrind_control (valgrind's)")?;
        if !out.status.success() {
            bail!(
                "callgrind_control -i {on}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    control("on")?;
    let mut mix: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..n {
        let k = i % flows.len();
        *mix.entry(take_step(http, base, tokens, &mut flows[k]).await?)
            .or_default() += 1;
    }
    control("off")?;
    // SIGTERM: the service stops cleanly and valgrind writes the counts out.
    Command::new("kill").args(["-TERM", &pid]).status()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            bail!("the service under valgrind did not stop within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = target_dir().join("load-callgrind.out");
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    let total: u64 = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("totals:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no totals in {}", out.display()))?;
    let mix: Vec<String> = mix.iter().map(|(k, v)| format!("{v} × {k}")).collect();
    println!(
        "  counted {n} actions ({}) in {:.0} s",
        mix.join(", "),
        started.elapsed().as_secs_f64()
    );
    println!(
        "  service, user space: {} instructions per action ({total} in all; callgrind_annotate {})",
        total / n as u64,
        out.display()
    );
    Ok(())
}

/// What one client measured in the timed window.
#[derive(Default)]
struct ClientResult {
    latencies_us: Vec<u64>,
    ok_by_action: BTreeMap<&'static str, u64>,
    errors: BTreeMap<String, (u64, String)>,
    warmup_ok: u64,
}

/// Re-read a filing after an error so the client can go on (not timed).
async fn resync(http: &reqwest::Client, base: &str, token: &str, f: &mut Flow) {
    let got = async {
        let r = http
            .get(format!("{base}/api/v1/filings/{}", f.id))
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        let v: Value = r.json().await.ok()?;
        Some((
            v["version"].as_i64()?,
            St::from_code(v["state"]["code"].as_str()?),
        ))
    }
    .await;
    match got {
        Some((version, Some(state))) => {
            f.version = version;
            f.state = state;
        }
        _ => f.dead = true,
    }
}

async fn run_client(
    base: String,
    tokens: Tokens,
    mut flows: Vec<Flow>,
    measure_from: Instant,
    end: Instant,
) -> Result<ClientResult> {
    let http = http_client()?;
    let mut out = ClientResult::default();
    for n in 0..MAX_REQUESTS_PER_CLIENT {
        if Instant::now() >= end || flows.iter().all(|f| f.dead) {
            break;
        }
        let i = n % flows.len();
        if flows[i].dead {
            continue;
        }
        let (_, action, body, to) = next_step(&flows[i]);
        let token = token_for(&tokens, &flows[i]);
        let url = format!("{base}/api/v1/filings/{}/actions/{action}", flows[i].id);
        let if_match = format!("\"{}\"", flows[i].version);
        let started = Instant::now();
        let sent = http
            .post(url)
            .bearer_auth(token)
            .header(IF_MATCH, if_match)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let (status, etag, bytes) = match sent {
            Ok(r) => {
                let status = r.status();
                let etag = r
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim_matches('"').parse::<i64>().ok());
                match r.bytes().await {
                    Ok(b) => (Some(status), etag, b),
                    Err(e) => (None, None, e.to_string().into_bytes().into()),
                }
            }
            Err(e) => (None, None, e.to_string().into_bytes().into()),
        };
        let finished = Instant::now();
        let in_window = finished >= measure_from && finished <= end;
        match (status, etag) {
            (Some(s), Some(v)) if s == 200 => {
                flows[i].version = v;
                flows[i].state = to;
                if action == "request_supplement" {
                    flows[i].supplements_left = flows[i].supplements_left.saturating_sub(1);
                }
                if action == "issue_receipt" {
                    // The draw gave the inspection to one of the inspectors: note whom.
                    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    flows[i].inspector = v["tasks"].as_array().and_then(|ts| {
                        ts.iter()
                            .find(|t| t["role"] == "inspector")
                            .and_then(|t| t["claimed_by"].as_str())
                            .map(str::to_owned)
                    });
                }
                if in_window {
                    out.latencies_us
                        .push(u64::try_from((finished - started).as_micros()).unwrap_or(u64::MAX));
                    *out.ok_by_action.entry(action).or_insert(0) += 1;
                } else if finished < measure_from {
                    out.warmup_ok += 1;
                }
            }
            _ => {
                // Errors are counted wherever they happen: the warm-up is part of the run.
                let key = format!(
                    "{action}: {}",
                    status.map_or("transport error".to_owned(), |s| s.to_string())
                );
                let sample: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
                out.errors.entry(key).or_insert((0, sample)).0 += 1;
                resync(&http, &base, &tokens.applicant, &mut flows[i]).await;
            }
        }
    }
    Ok(out)
}

/// The floor under an action: the same clients sending a request that does next to nothing
/// (`path`, a GET with the token), for the same time. Requests/s and CPU per request.
async fn floor(
    cfg: &Config,
    service_pid: u32,
    base: &str,
    path: &str,
    token: &str,
    clients: usize,
) -> Result<(f64, CpuSplit)> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(cfg.warmup);
    let end = measure_from + Duration::from_secs(cfg.seconds);
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (url, token) = (format!("{base}{path}"), token.to_owned());
            tokio::spawn(async move {
                let http = http_client()?;
                let mut n = 0u64;
                while Instant::now() < end {
                    let r = http.get(&url).bearer_auth(&token).send().await?;
                    if r.status() != 200 {
                        bail!("GET {url}: {}", r.status());
                    }
                    r.bytes().await?;
                    let now = Instant::now();
                    if now >= measure_from && now <= end {
                        n += 1;
                    }
                }
                Ok::<_, anyhow::Error>(n)
            })
        })
        .collect();
    let window = cpu_window(service_pid, measure_from, end);
    let mut n = 0;
    for h in handles {
        n += h.await.context("a client task panicked")??;
    }
    let (a, b) = window.await.context("the CPU sampler")?;
    Ok((
        n as f64 / cfg.seconds as f64,
        cpu_split(a, b, n, cfg.seconds as f64),
    ))
}

#[derive(Debug)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

/// Nearest-rank percentiles, in milliseconds.
fn percentiles(mut us: Vec<u64>) -> Percentiles {
    if us.is_empty() {
        return Percentiles {
            p50: f64::NAN,
            p90: f64::NAN,
            p99: f64::NAN,
            max: f64::NAN,
        };
    }
    us.sort_unstable();
    let at = |p: f64| {
        let rank = ((p * us.len() as f64).ceil() as usize).clamp(1, us.len());
        us[rank - 1] as f64 / 1000.0
    };
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: at(1.0),
    }
}

struct PermitsLevel {
    actions: u64,
    per_s: f64,
    lat: Percentiles,
    errors: u64,
    error_kinds: BTreeMap<String, (u64, String)>,
    mix: BTreeMap<&'static str, u64>,
    warmup_actions: u64,
    cpu: CpuSplit,
    /// WAL bytes, records and bytes of full-page images per action.
    wal: (f64, f64, f64),
}

async fn drive(
    cfg: &Config,
    service_pid: u32,
    base: &str,
    tokens: &[Tokens],
    per_client: Vec<Vec<Flow>>,
) -> Result<PermitsLevel> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(cfg.warmup);
    let end = measure_from + Duration::from_secs(cfg.seconds);
    let handles: Vec<_> = per_client
        .into_iter()
        .zip(tokens.iter().cycle())
        .map(|(flows, t)| {
            tokio::spawn(run_client(
                base.to_owned(),
                t.clone(),
                flows,
                measure_from,
                end,
            ))
        })
        .collect();
    let hold = WalHold::new(cfg);
    let window = cpu_window(service_pid, measure_from, end);
    let wal = wal_window(cfg, measure_from, end);
    let mut latencies = Vec::new();
    let mut mix = BTreeMap::new();
    let mut error_kinds: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut warmup_actions = 0;
    for h in handles {
        let r = h.await.context("a client task panicked")??;
        latencies.extend(r.latencies_us);
        warmup_actions += r.warmup_ok;
        for (k, n) in r.ok_by_action {
            *mix.entry(k).or_insert(0) += n;
        }
        for (k, (n, sample)) in r.errors {
            error_kinds.entry(k).or_insert((0, sample)).0 += n;
        }
    }
    let actions = latencies.len() as u64;
    let (a, b) = window.await.context("the CPU sampler")?;
    let (wal_a, wal_b) = wal.await.context("the WAL sampler")?;
    Ok(PermitsLevel {
        cpu: cpu_split(a, b, actions, cfg.seconds as f64),
        wal: {
            let per = wal_per(cfg, &wal_a, &wal_b, actions);
            drop(hold);
            per
        },
        actions,
        per_s: actions as f64 / cfg.seconds as f64,
        lat: percentiles(latencies),
        errors: error_kinds.values().map(|(n, _)| n).sum(),
        error_kinds,
        mix,
        warmup_actions,
    })
}

struct PgbenchLevel {
    /// The mean of the runs before and after the service's level (see [`bracketing`]).
    tps: f64,
    /// Each run's figure.
    tps_runs: Vec<f64>,
    /// Machine CPU per transaction (µs), pgbench's own included.
    cpu_us: f64,
    /// WAL bytes, records and bytes of full-page images per action.
    wal: (f64, f64, f64),
    latency_avg_ms: Option<f64>,
    transactions: Option<u64>,
    failed: Option<u64>,
    command: String,
}

fn number_after(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix(prefix)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// pgbench's figures from a run just before the service's level and one just after it: the
/// machine's ceiling drifts by several per cent within a minute here, and the mean of the two
/// brackets the service's run in time.
fn bracketing(before: PgbenchLevel, after: PgbenchLevel) -> PgbenchLevel {
    let mean = |a: f64, b: f64| (a + b) / 2.0;
    PgbenchLevel {
        tps: mean(before.tps, after.tps),
        tps_runs: before.tps_runs.into_iter().chain(after.tps_runs).collect(),
        cpu_us: mean(before.cpu_us, after.cpu_us),
        wal: (
            mean(before.wal.0, after.wal.0),
            mean(before.wal.1, after.wal.1),
            mean(before.wal.2, after.wal.2),
        ),
        latency_avg_ms: before
            .latency_avg_ms
            .zip(after.latency_avg_ms)
            .map(|(a, b)| mean(a, b)),
        transactions: before
            .transactions
            .zip(after.transactions)
            .map(|(a, b)| a + b),
        failed: before.failed.zip(after.failed).map(|(a, b)| a + b),
        command: before.command,
    }
}

/// The same-work ceiling for `clients` clients: one pgbench process per client (pgbench's
/// variables are per run, not per client, and each client replays on filings of its own, as
/// the HTTP clients do), each with a script per filing of the client (`-f` picks one at random
/// per transaction), all started together for the same time; `-M prepared`, as the service's
/// statements are. Figures per action (a script is [`same_work::Replay::actions`] actions).
fn pgbench(
    cfg: &Config,
    replay: Option<&same_work::Replay>,
    pool: &[Vec<String>],
    clients: usize,
) -> Result<PgbenchLevel> {
    let Some(replay) = replay else {
        return Ok(PgbenchLevel {
            tps: f64::NAN,
            tps_runs: Vec::new(),
            cpu_us: f64::NAN,
            wal: (f64::NAN, f64::NAN, f64::NAN),
            latency_avg_ms: None,
            transactions: None,
            failed: None,
            command: "none (LOAD_DOCUMENTS=1)".into(),
        });
    };
    let dir = target_dir().join("load-same-work");
    std::fs::create_dir_all(&dir)?;
    let slots = pool.first().map_or(0, Vec::len);
    let mut scripts = Vec::new();
    for s in 0..slots {
        let path = dir.join(format!("filing-{s}.sql"));
        std::fs::write(&path, replay.script(s))?;
        scripts.push(path);
    }
    let common: Vec<String> = {
        let mut v: Vec<String> = vec!["-n".into(), "-M".into(), "prepared".into()];
        v.extend(["-c", "1", "-j", "1"].map(String::from));
        v.extend(["-T".into(), cfg.seconds.to_string()]);
        v.extend([
            "-h".into(),
            cfg.pg_host.clone(),
            "-p".into(),
            cfg.pg_port.clone(),
        ]);
        v.extend(["-U".into(), cfg.pg_user.clone()]);
        for p in &scripts {
            v.extend(["-f".into(), p.display().to_string()]);
        }
        for (name, value) in &replay.globals {
            v.extend(["-D".into(), format!("{name}={value}")]);
        }
        v
    };
    let command = format!(
        "{clients} × pgbench -n -M prepared -c 1 -j 1 -T {} -f {}/filing-{{0..{}}}.sql -D <captured values> {DB}",
        cfg.seconds,
        dir.display(),
        slots.saturating_sub(1)
    );
    let hold = WalHold::new(cfg);
    let before = cpu_sample(0);
    let wal_before = cfg.wal();
    let children: Vec<std::process::Child> = pool[..clients]
        .iter()
        .map(|filings| {
            let mut args = common.clone();
            for (s, f) in filings.iter().enumerate() {
                for (name, value) in replay.filing_vars(s, f) {
                    args.extend(["-D".into(), format!("{name}={value}")]);
                }
            }
            args.push(DB.into());
            Command::new("pgbench")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("running pgbench (is it installed?)")
        })
        .collect::<Result<_>>()?;
    let mut tps = 0.0;
    let mut transactions = 0.0;
    let mut failed = 0.0;
    let mut latencies = Vec::new();
    for child in children {
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "{command} failed: {}{}",
                stdout,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tps += stdout
            .lines()
            .find(|l| l.starts_with("tps = ") && l.contains("without initial connection time"))
            .and_then(|l| {
                l.strip_prefix("tps = ")?
                    .split_whitespace()
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
            .with_context(|| {
                format!("no `tps = … (without initial connection time)` in:\n{stdout}")
            })?;
        transactions +=
            number_after(&stdout, "number of transactions actually processed: ").unwrap_or(0.0);
        failed += number_after(&stdout, "number of failed transactions: ").unwrap_or(0.0);
        latencies.extend(number_after(&stdout, "latency average = "));
    }
    let after = cpu_sample(0);
    let wal_after = cfg.wal();
    let per = replay.actions as f64;
    let actions = transactions * per;
    let busy = after.machine.saturating_sub(before.machine) as f64 * 10_000.0;
    let per_s = tps * per;
    Ok(PgbenchLevel {
        cpu_us: busy / actions.max(1.0),
        wal: {
            let per = wal_per(cfg, &wal_before, &wal_after, actions as u64);
            drop(hold);
            per
        },
        tps: per_s,
        tps_runs: vec![per_s],
        latency_avg_ms: (!latencies.is_empty())
            .then(|| latencies.iter().sum::<f64>() / latencies.len() as f64 / per),
        transactions: Some(actions as u64),
        failed: Some(failed as u64),
        command,
    })
}

fn prepare_database(cfg: &Config) -> Result<()> {
    cfg.psql(
        "postgres",
        &format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"),
    )?;
    cfg.psql("postgres", &format!("CREATE DATABASE {DB}"))?;
    // To count this database's share of the log (`Config::database_wal`); without it the run
    // reports the whole server's.
    if let Err(e) = cfg.psql(DB, "CREATE EXTENSION IF NOT EXISTS pg_walinspect") {
        println!("  pg_walinspect unavailable ({e}): WAL figures are the whole server's");
    }
    Ok(())
}

/// Where PostgreSQL's server writes its log: `pg_current_logfile()` when its collector runs,
/// LOAD_PG_LOG, or Debian's place for a cluster (`/var/log/postgresql/postgresql-15-main.log`).
fn pg_log_path(cfg: &Config) -> Result<String> {
    if let Ok(p) = std::env::var("LOAD_PG_LOG")
        && !p.trim().is_empty()
    {
        return Ok(p.trim().to_owned());
    }
    let current = cfg.psql(
        "postgres",
        "SELECT coalesce(pg_current_logfile('stderr'), '')",
    )?;
    if !current.trim().is_empty() {
        let dir = cfg.psql("postgres", "SHOW data_directory")?;
        let current = current.trim();
        return Ok(if current.starts_with('/') {
            current.to_owned()
        } else {
            format!("{}/{current}", dir.trim())
        });
    }
    let cluster = cfg.psql("postgres", "SHOW cluster_name")?;
    let cluster = cluster.trim();
    if cluster.is_empty() {
        bail!("cannot tell where PostgreSQL logs: set LOAD_PG_LOG to its log file");
    }
    Ok(format!(
        "/var/log/postgresql/postgresql-{}.log",
        cluster.replace('/', "-")
    ))
}

fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn pg_log_size(cfg: &Config, path: &str) -> Result<u64> {
    cfg.psql(
        "postgres",
        &format!("SELECT size FROM pg_stat_file({})", sql_quote(path)),
    )?
    .trim()
    .parse()
    .with_context(|| format!("the size of PostgreSQL's log {path}"))
}

/// The log between two offsets, read by the server (it may be readable by it alone).
fn pg_log_read(cfg: &Config, path: &str, from: u64, to: u64) -> Result<String> {
    let hex = cfg.psql(
        "postgres",
        &format!(
            "SELECT encode(pg_read_binary_file({}, {from}, {}), 'hex')",
            sql_quote(path),
            to.saturating_sub(from)
        ),
    )?;
    let hex = hex.trim().as_bytes();
    let bytes: Vec<u8> = hex
        .chunks(2)
        .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The filing's row as it is now: version, state visit and `xmin`.
fn filing_row(cfg: &Config, id: &str) -> Result<same_work::Before> {
    let out = cfg.psql(
        DB,
        &format!(
            "SELECT version, state_visit, xmin::text FROM filings WHERE id = {}",
            sql_quote(id)
        ),
    )?;
    let v: Vec<&str> = out.trim().split('|').collect();
    if v.len() != 3 {
        bail!("filing {id}: {out}");
    }
    Ok(same_work::Before {
        filing: id.to_owned(),
        version: v[0].parse()?,
        visit: v[1].parse()?,
        xmin: v[2].to_owned(),
    })
}

/// Capture the statements of the re-check cycle's two actions, as the service sends them: the
/// service runs with `log_statement = 'all'` on the bench database and no scheduled job, one
/// filing is driven into the cycle, and PostgreSQL's log is cut at each action's boundaries.
async fn capture(cfg: &Config) -> Result<Vec<same_work::Captured>> {
    let log = pg_log_path(cfg)?;
    pg_log_size(cfg, &log).with_context(|| {
        format!("reading PostgreSQL's log {log} (set LOAD_PG_LOG to where the server logs)")
    })?;
    cfg.psql(
        "postgres",
        &format!("ALTER DATABASE {DB} SET log_statement = 'all'"),
    )?;
    let result = async {
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let http = http_client()?;
        let mut server = Server::start(cfg, port, true)?;
        server.wait_ready(&base, &http).await?;
        let tokens = Tokens {
            clerk: login(&http, &base, "fire").await?,
            inspectors: vec![
                inspector(&http, &base, "inspector").await?,
                inspector(&http, &base, "inspector2").await?,
            ],
            applicant: login(&http, &base, "builder").await?,
        };
        let mut f = prepare_filing(&http, &base, &tokens.applicant, 0, cfg.supplement_rounds).await?;
        into_cycle(&http, &base, &tokens, &mut f).await?;
        let mut captured = Vec::new();
        for _ in 0..2 {
            let before = filing_row(cfg, &f.id)?;
            let from = pg_log_size(cfg, &log)?;
            let action = take_step(&http, &base, &tokens, &mut f).await?;
            let to = pg_log_size(cfg, &log)?;
            let statements = same_work::parse_log(&pg_log_read(cfg, &log, from, to)?);
            if !statements.iter().any(|s| s.sql.contains("xmin::text = ")) {
                bail!(
                    "the log of {action} ({log}, bytes {from}..{to}) has no guarded write: {} statements",
                    statements.len()
                );
            }
            captured.push(same_work::Captured {
                action: action.to_owned(),
                before,
                statements,
            });
        }
        drop(server);
        Ok::<_, anyhow::Error>(captured)
    }
    .await;
    cfg.psql(
        "postgres",
        &format!("ALTER DATABASE {DB} RESET log_statement"),
    )?;
    result
}

/// CPU time in clock ticks (Linux `/proc`): the whole machine busy, the service, this process.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    machine: u64,
    service: u64,
    generator: u64,
}

/// utime + stime of a process, from `/proc/<pid>/stat` (fields 14 and 15, after the command).
fn process_ticks(pid: &str) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0;
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // After ") ": state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    n(11) + n(12)
}

fn cpu_sample(service_pid: u32) -> Cpu {
    let machine = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().next()?.to_owned();
            let v: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
            Some(
                v.iter().take(8).sum::<u64>()
                    - v.get(3).copied().unwrap_or(0)
                    - v.get(4).copied().unwrap_or(0),
            )
        })
        .unwrap_or(0);
    Cpu {
        machine,
        service: process_ticks(&service_pid.to_string()),
        generator: process_ticks("self"),
    }
}

/// CPU samples at the start and the end of the measured window only.
fn cpu_window(
    service_pid: u32,
    from: Instant,
    end: Instant,
) -> tokio::task::JoinHandle<(Cpu, Cpu)> {
    tokio::spawn(async move {
        tokio::time::sleep_until(from.into()).await;
        let a = cpu_sample(service_pid);
        tokio::time::sleep_until(end.into()).await;
        (a, cpu_sample(service_pid))
    })
}

/// PostgreSQL's write-ahead log so far: bytes (exact, from the insert position), records (from
/// `pg_stat_wal`, which each backend updates about once a second under load: over a window of
/// seconds the lag at its two ends mostly cancels) and the position, to read the records between
/// two samples back. What a transaction writes to the log is the work it asks of the server, on
/// any machine: every row version, index entry, row lock and commit is a record.
#[derive(Debug, Clone, Default)]
struct Wal {
    bytes: u64,
    records: u64,
    lsn: String,
}

impl Config {
    fn wal(&self) -> Wal {
        let out = self
            .psql(
                "postgres",
                "SELECT pg_current_wal_insert_lsn() - '0/0', wal_records, pg_current_wal_insert_lsn() FROM pg_stat_wal",
            )
            .unwrap_or_default();
        let v: Vec<&str> = out.trim().split('|').collect();
        let n = |i: usize| {
            v.get(i)
                .and_then(|x| x.split('.').next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Wal {
            bytes: n(0),
            records: n(1),
            lsn: v.get(2).map_or(String::new(), |s| (*s).to_owned()),
        }
    }

    /// This database's share of the log between two samples (`pg_walinspect`): the records of
    /// the transactions that wrote to it, and the records without a transaction (pruning) on
    /// its relations; (records, bytes, of which full-page images). The server's other databases
    /// (other builds' tests, here) write to the same log, so the totals of [`Config::wal`] are
    /// only right on a quiet server.
    fn database_wal(&self, a: &Wal, b: &Wal) -> Option<(u64, u64, u64)> {
        let oid = self.database_oid()?;
        let out = self
            .psql(
                DB,
                &format!(
                    "WITH r AS (SELECT xid, record_length, fpi_length, block_ref \
                       FROM pg_get_wal_records_info('{}', least('{}'::pg_lsn, pg_current_wal_flush_lsn()))), \
                     ours AS (SELECT DISTINCT xid FROM r WHERE xid <> 0 AND block_ref LIKE '%/{oid}/%') \
                     SELECT count(*), coalesce(sum(record_length), 0), coalesce(sum(fpi_length), 0) FROM r \
                     WHERE xid IN (SELECT xid FROM ours) OR (xid = 0 AND block_ref LIKE '%/{oid}/%')",
                    a.lsn, b.lsn
                ),
            )
            .ok()?;
        let v: Vec<u64> = out
            .trim()
            .split('|')
            .filter_map(|x| x.parse().ok())
            .collect();
        (v.len() == 3).then(|| (v[0], v[1], v[2]))
    }

    /// The bench database's oid, as the log's block references name it.
    fn database_oid(&self) -> Option<String> {
        let oid = self
            .psql(
                "postgres",
                &format!("SELECT oid FROM pg_database WHERE datname = '{DB}'"),
            )
            .ok()?;
        Some(oid.trim().to_owned())
    }

    /// LOAD_WAL_DETAIL: this database's records between two samples by kind and relation, per
    /// unit of work (where the records of an action come from).
    fn print_wal_detail(&self, a: &Wal, b: &Wal, units: f64) {
        let Some(oid) = self.database_oid() else {
            return;
        };
        let sql = format!(
            "WITH r AS (SELECT xid, resource_manager, record_type, record_length, block_ref \
               FROM pg_get_wal_records_info('{}', least('{}'::pg_lsn, pg_current_wal_flush_lsn()))), \
             ours AS (SELECT DISTINCT xid FROM r WHERE xid <> 0 AND block_ref LIKE '%/{oid}/%') \
             SELECT resource_manager || ' ' || record_type, \
                    coalesce((SELECT relname FROM pg_class WHERE relfilenode = \
                      substring(block_ref from 'rel [0-9]+/[0-9]+/([0-9]+)')::oid), '-'), \
                    round(count(*) / {units}::numeric, 2), round(sum(record_length) / {units}::numeric) \
             FROM r WHERE xid IN (SELECT xid FROM ours) OR (xid = 0 AND block_ref LIKE '%/{oid}/%') \
             GROUP BY 1, 2 ORDER BY 3 DESC",
            a.lsn, b.lsn
        );
        match self.psql(DB, &sql) {
            Ok(out) => {
                println!("  WAL records per action by kind and relation (records | bytes):");
                for line in out.lines().filter(|l| !l.trim().is_empty()) {
                    println!("    {line}");
                }
            }
            Err(e) => println!("  WAL detail unavailable: {e}"),
        }
    }
}

/// Keeps the server from removing the log written from now on until dropped, so that a
/// window's records can be read back (the server's other databases write gigabytes, and a
/// checkpoint recycles segments within seconds): a temporary physical replication slot,
/// reserving the log at once, held by a `psql` session of its own. The slot goes with the
/// session, also when this process dies.
struct WalHold {
    child: Child,
}

impl WalHold {
    fn new(cfg: &Config) -> Option<WalHold> {
        use std::io::Write as _;
        let name = format!("permits_load_{}_{:?}", std::process::id(), Instant::now())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(60)
            .collect::<String>()
            .to_lowercase();
        let mut child = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-h",
                &cfg.pg_host,
                "-p",
                &cfg.pg_port,
                "-U",
                &cfg.pg_user,
            ])
            .args(["-d", "postgres"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let hold = |child: &mut Child| -> Option<()> {
            let stdin = child.stdin.as_mut()?;
            writeln!(
                stdin,
                "SELECT pg_create_physical_replication_slot('{name}', true, true);"
            )
            .ok()?;
            stdin.flush().ok()?;
            for _ in 0..100 {
                let n = cfg
                    .psql(
                        "postgres",
                        &format!(
                            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{name}'"
                        ),
                    )
                    .ok()?;
                if n.trim() == "1" {
                    return Some(());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            None
        };
        match hold(&mut child) {
            Some(()) => Some(WalHold { child }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }
}

impl Drop for WalHold {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log written per unit of work between two samples: (bytes, records, bytes of full-page
/// images), this database's alone when `pg_walinspect` can be used, else the whole server's
/// (images then unknown).
fn wal_per(cfg: &Config, a: &Wal, b: &Wal, units: u64) -> (f64, f64, f64) {
    let n = units.max(1) as f64;
    if std::env::var_os("LOAD_WAL_DETAIL").is_some() {
        cfg.print_wal_detail(a, b, n);
    }
    match cfg.database_wal(a, b) {
        Some((records, bytes, fpi)) => (bytes as f64 / n, records as f64 / n, fpi as f64 / n),
        None => (
            b.bytes.saturating_sub(a.bytes) as f64 / n,
            b.records.saturating_sub(a.records) as f64 / n,
            f64::NAN,
        ),
    }
}

/// WAL samples at the start and the end of the measured window.
fn wal_window(cfg: &Config, from: Instant, end: Instant) -> tokio::task::JoinHandle<(Wal, Wal)> {
    let cfg = std::sync::Arc::new(cfg.clone());
    tokio::spawn(async move {
        tokio::time::sleep_until(from.into()).await;
        let c = cfg.clone();
        let a = tokio::task::spawn_blocking(move || c.wal())
            .await
            .unwrap_or_default();
        tokio::time::sleep_until(end.into()).await;
        let b = tokio::task::spawn_blocking(move || cfg.wal())
            .await
            .unwrap_or_default();
        (a, b)
    })
}

/// Where the CPU went over a measured window, per action (µs): the service, this load
/// generator, and everything else (PostgreSQL's backends, mostly).
#[derive(Debug, Clone, Copy, Default)]
struct CpuSplit {
    service_us: f64,
    generator_us: f64,
    rest_us: f64,
    /// The machine's busy share of all its cores over the window.
    busy: f64,
}

fn cpu_split(a: Cpu, b: Cpu, actions: u64, seconds: f64) -> CpuSplit {
    // USER_HZ is 100 on Linux.
    let us = |ticks: u64| ticks as f64 * 10_000.0 / actions.max(1) as f64;
    let machine = b.machine.saturating_sub(a.machine);
    let service = b.service.saturating_sub(a.service);
    let generator = b.generator.saturating_sub(a.generator);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    CpuSplit {
        service_us: us(service),
        generator_us: us(generator),
        rest_us: us(machine.saturating_sub(service + generator)),
        busy: machine as f64 / 100.0 / (seconds * cpus),
    }
}

/// The one-minute load average (Linux), to tell a quiet machine from a busy one.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The ratio the run would show if the service and the load generator took no CPU: with the
/// machine saturated both ways, throughput goes as the inverse of the CPU per unit of work, so
/// this is pgbench's CPU per replayed action over what PostgreSQL and the kernel take per action.
fn database_bound(pgbench_us: f64, rest_us: f64) -> f64 {
    if rest_us > 0.0 {
        pgbench_us / rest_us
    } else {
        0.0
    }
}

fn fmt_ms(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{v:.1}")
    }
}

fn yes_no(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

fn main() -> Result<()> {
    // The generator's own threads (LOAD_GENERATOR_THREADS, 1): one thread drives every client's
    // connection from one event loop, with no wake-ups across threads; its CPU is measured and
    // shared with the service and PostgreSQL, so the leaner the better.
    let threads: usize = env_or("LOAD_GENERATOR_THREADS", 1)?;
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(run())
}

async fn run() -> Result<()> {
    let cfg = Config::from_env()?;
    let run_started = Instant::now();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("load: permits (release) vs pgbench, {cpus} CPUs, database {DB}");
    let load_before = load_average();
    if let Some(l) = load_before
        && l > 1.0
    {
        println!(
            "  warning: load average {l:.2} before the run: other work on this machine skews the figures"
        );
    }

    prepare_database(&cfg)?;
    // The same-work script cannot replay an action that issues a document (the document's id
    // and number are new each time): with documents, the run has no pgbench ceiling.
    let replay = if cfg.callgrind.is_some() {
        // Migrate and seed at full speed first: under valgrind the start would take minutes.
        let port = free_port()?;
        let mut plain = Server::start(&cfg, port, true)?;
        plain
            .wait_ready(&format!("http://127.0.0.1:{port}"), &http_client()?)
            .await?;
        drop(plain);
        None
    } else if cfg.documents {
        println!("  LOAD_DOCUMENTS=1: no same-work ceiling (an issuing action cannot be replayed)");
        None
    } else {
        let captured = capture(&cfg).await?;
        let replay = same_work::Replay::new(&captured).map_err(anyhow::Error::msg)?;
        println!(
            "  captured {} ({} statements, {} values the same for every filing), after {:.1} s",
            captured
                .iter()
                .map(|c| format!("{} ({} statements)", c.action, c.statements.len()))
                .collect::<Vec<_>>()
                .join(" + "),
            replay.statements,
            replay.globals.len(),
            run_started.elapsed().as_secs_f64()
        );
        Some(replay)
    };
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let http = http_client()?;
    let mut server = Server::start(&cfg, port, false)?;
    server.wait_ready(&base, &http).await?;
    println!(
        "  service on {base} (pool_size {}, workers {}), ready after {:.1} s",
        cfg.pool_size,
        if cfg.workers == 0 {
            format!("{cpus} (one per core)")
        } else {
            cfg.workers.to_string()
        },
        run_started.elapsed().as_secs_f64()
    );

    // Setup (not timed): tokens for every client, then the filings, all submitted.
    let setup_started = Instant::now();
    let max_clients = cfg.levels.iter().copied().max().unwrap_or(1);
    let tokens: Vec<Tokens> = futures::stream::iter(0..max_clients)
        .map(|_| {
            let http = http.clone();
            let base = base.clone();
            async move {
                Ok::<_, anyhow::Error>(Tokens {
                    clerk: login(&http, &base, "fire").await?,
                    inspectors: vec![
                        inspector(&http, &base, "inspector").await?,
                        inspector(&http, &base, "inspector2").await?,
                    ],
                    applicant: login(&http, &base, "builder").await?,
                })
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let total_filings: usize = cfg.levels.iter().sum::<usize>() * cfg.filings_per_client;
    let applicant = tokens[0].applicant.clone();
    let mut flows: Vec<Flow> = futures::stream::iter(0..total_filings)
        .map(|i| {
            let http = http.clone();
            let base = base.clone();
            let token = applicant.clone();
            let rounds = cfg.supplement_rounds;
            async move { prepare_filing(&http, &base, &token, i, rounds).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    println!(
        "  setup: {} logins, {total_filings} filings created, {} uploads, submitted in {:.1} s",
        max_clients * 3,
        total_filings * MATERIALS.len(),
        setup_started.elapsed().as_secs_f64()
    );
    // The filings the same-work script replays on: as many per client as the HTTP clients
    // drive, each brought into the re-check cycle as the captured one was.
    let pool_started = Instant::now();
    let pool_size = if replay.is_some() {
        max_clients * cfg.filings_per_client
    } else {
        0
    };
    let mut pool_flows: Vec<Flow> = futures::stream::iter(0..pool_size)
        .map(|i| {
            let http = http.clone();
            let base = base.clone();
            let token = applicant.clone();
            let rounds = cfg.supplement_rounds;
            async move { prepare_filing(&http, &base, &token, 100_000 + i, rounds).await }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    futures::stream::iter(pool_flows.iter_mut())
        .map(|f| {
            let (http, base, t) = (http.clone(), base.clone(), tokens[0].clone());
            async move { into_cycle(&http, &base, &t, f).await }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<()>>()?;
    let pool: Vec<Vec<String>> = pool_flows
        .chunks(cfg.filings_per_client)
        .map(|c| c.iter().map(|f| f.id.clone()).collect())
        .collect();
    println!(
        "  same-work pool: {} filings in the re-check cycle in {:.1} s",
        pool_flows.len(),
        pool_started.elapsed().as_secs_f64()
    );
    if let Some(sql) = &cfg.sql {
        cfg.psql(DB, sql).context("LOAD_SQL")?;
        println!("  LOAD_SQL run: {sql}");
    }

    if let Some(n) = cfg.callgrind {
        return count_instructions(server, &http, &base, &tokens[0], flows, n).await;
    }

    let mut rows = Vec::new();
    for &clients in &cfg.levels {
        let shares: Vec<Vec<Flow>> = flows
            .drain(..clients * cfg.filings_per_client)
            .collect::<Vec<_>>()
            .chunks(cfg.filings_per_client)
            .map(<[Flow]>::to_vec)
            .collect();
        cfg.psql(DB, "CHECKPOINT")?;
        let pg = pgbench(&cfg, replay.as_ref(), &pool, clients)?;
        println!(
            "  {clients:>2} clients: pgbench, the same work: {:.0} actions/s (avg latency {} ms per action)",
            pg.tps,
            pg.latency_avg_ms.map_or("-".into(), fmt_ms)
        );
        cfg.psql(DB, "CHECKPOINT")?;
        let p = drive(&cfg, server.child.id(), &base, &tokens[..clients], shares).await?;
        println!(
            "  {clients:>2} clients: permits {:.0} actions/s, p50 {} ms, p99 {} ms, {} errors",
            p.per_s,
            fmt_ms(p.lat.p50),
            fmt_ms(p.lat.p99),
            p.errors
        );
        println!(
            "  {clients:>2} clients: CPU per action {:.0} µs = service {:.0} + load generator {:.0} + PostgreSQL and the rest {:.0} (machine {:.0}% busy); pgbench, the same work, {:.0} µs per action",
            p.cpu.service_us + p.cpu.generator_us + p.cpu.rest_us,
            p.cpu.service_us,
            p.cpu.generator_us,
            p.cpu.rest_us,
            p.cpu.busy * 100.0,
            pg.cpu_us
        );
        println!(
            "  {clients:>2} clients: WAL per action {:.0} bytes ({:.0} without full-page images) in {:.1} records; pgbench, the same work, {:.0} bytes ({:.0}) in {:.1} records per action",
            p.wal.0,
            p.wal.0 - p.wal.2,
            p.wal.1,
            pg.wal.0,
            pg.wal.0 - pg.wal.2,
            pg.wal.1
        );
        println!(
            "  {clients:>2} clients: the ratio if the service and the load generator cost nothing: {:.2} (pgbench's CPU per action over PostgreSQL's and the rest's per action)",
            database_bound(pg.cpu_us, p.cpu.rest_us)
        );
        cfg.psql(DB, "CHECKPOINT")?;
        let again = pgbench(&cfg, replay.as_ref(), &pool, clients)?;
        println!(
            "  {clients:>2} clients: pgbench, the same work, again: {:.0} actions/s (avg latency {} ms); the ratio uses the mean",
            again.tps,
            again.latency_avg_ms.map_or("-".into(), fmt_ms)
        );
        rows.push((clients, p, bracketing(pg, again)));
    }
    // The floor at the ratio's level: an authenticated GET of the caller (one query) and of the
    // health check (none), with as many clients.
    let floor_clients = RATIO_TARGET_CLIENTS.min(tokens.len());
    let mut floors = Vec::new();
    for (label, path) in [
        ("GET /api/v1/me", "/api/v1/me"),
        ("GET /healthz", "/healthz"),
    ] {
        let (per_s, cpu) = floor(
            &cfg,
            server.child.id(),
            &base,
            path,
            &tokens[0].clerk,
            floor_clients,
        )
        .await?;
        println!(
            "  floor, {floor_clients} clients, {label}: {per_s:.0} requests/s; CPU per request {:.0} µs = service {:.0} + load generator {:.0} + PostgreSQL and the rest {:.0}",
            cpu.service_us + cpu.generator_us + cpu.rest_us,
            cpu.service_us,
            cpu.generator_us,
            cpu.rest_us
        );
        floors.push(json!({
            "request": label, "clients": floor_clients, "per_s": per_s,
            "cpu_us": { "service": cpu.service_us, "load_generator": cpu.generator_us, "postgres_and_rest": cpu.rest_us },
        }));
    }
    if let Some(status) = server.child.try_wait()? {
        bail!(
            "permits exited during the run ({status}):\n{}",
            server.log_tail()
        );
    }
    drop(server);

    // The table.
    println!();
    println!(
        "command: cargo bench --bench load   ({}s per level after {}s warm-up, pool_size {}, {cpus} CPUs)",
        cfg.seconds, cfg.warmup, cfg.pool_size
    );
    println!(
        "{:>7} | {:>16} | {:>7} | {:>7} | {:>7} | {:>7} | {:>6} | {:>11} | {:>5} | targets",
        "clients",
        "permits actions/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "same-work/s",
        "ratio"
    );
    println!("{}", "-".repeat(118));
    let mut levels_json = Vec::new();
    let mut all_met = true;
    for (clients, p, pg) in &rows {
        let ratio = if pg.tps > 0.0 {
            p.per_s / pg.tps
        } else {
            f64::NAN
        };
        let p99_ok = p.lat.p99 < P99_TARGET_MS;
        let ratio_ok = (*clients == RATIO_TARGET_CLIENTS).then_some(ratio >= RATIO_TARGET);
        let errors_ok = p.errors == 0;
        let targets = match ratio_ok {
            Some(r) => format!(
                "ratio>={RATIO_TARGET}: {}, p99<{P99_TARGET_MS}ms: {}",
                yes_no(r),
                yes_no(p99_ok)
            ),
            None => format!("p99<{P99_TARGET_MS}ms: {}", yes_no(p99_ok)),
        };
        all_met &= p99_ok && ratio_ok.unwrap_or(true) && errors_ok;
        println!(
            "{:>7} | {:>16.0} | {:>7} | {:>7} | {:>7} | {:>7} | {:>6} | {:>11.0} | {:>5.2} | {targets}",
            clients,
            p.per_s,
            fmt_ms(p.lat.p50),
            fmt_ms(p.lat.p90),
            fmt_ms(p.lat.p99),
            fmt_ms(p.lat.max),
            p.errors,
            pg.tps,
            ratio
        );
        levels_json.push(json!({
            "clients": clients,
            "permits": {
                "actions": p.actions,
                "actions_per_s": p.per_s,
                "latency_ms": { "p50": p.lat.p50, "p90": p.lat.p90, "p99": p.lat.p99, "max": p.lat.max },
                "errors": p.errors,
                "error_kinds": p.error_kinds.iter().map(|(k, (n, s))| json!({ "kind": k, "count": n, "sample": s })).collect::<Vec<_>>(),
                "action_mix": p.mix,
                "warmup_actions": p.warmup_actions,
                "cpu_us_per_action": {
                    "service": p.cpu.service_us,
                    "load_generator": p.cpu.generator_us,
                    "postgres_and_rest": p.cpu.rest_us,
                    "machine_busy": p.cpu.busy,
                },
                "wal_per_action": { "bytes": p.wal.0, "records": p.wal.1, "full_page_image_bytes": p.wal.2 },
            },
            "pgbench_same_work": {
                "actions_per_s": pg.tps,
                "actions_per_s_before_and_after": pg.tps_runs,
                "latency_avg_ms_per_action": pg.latency_avg_ms,
                "actions": pg.transactions,
                "failed_transactions": pg.failed,
                "cpu_us_per_action": pg.cpu_us,
                "wal_per_action": { "bytes": pg.wal.0, "records": pg.wal.1, "full_page_image_bytes": pg.wal.2 },
                "command": pg.command,
            },
            "ratio": ratio,
            "ratio_if_service_free": database_bound(pg.cpu_us, p.cpu.rest_us),
            "targets": {
                "ratio_at_least_0_7": ratio_ok,
                "p99_under_50ms": p99_ok,
                "no_errors": errors_ok,
            },
        }));
    }
    for (clients, p, _) in &rows {
        let mix: Vec<String> = p.mix.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!("  mix at {clients:>2} clients: {}", mix.join(", "));
        for (k, (n, sample)) in &p.error_kinds {
            println!("  errors at {clients:>2} clients: {n} × {k}: {sample}");
        }
    }
    // The ratio is judged at its level only: a run without that level cannot meet the targets.
    let ratio_run = rows.iter().any(|(c, _, _)| *c == RATIO_TARGET_CLIENTS);
    let verdict = match (all_met, ratio_run) {
        (false, _) => "NOT met".to_owned(),
        (true, true) => "met".to_owned(),
        (true, false) => {
            format!("not judged (no level of {RATIO_TARGET_CLIENTS} clients, where the ratio is)")
        }
    };
    let all_met = all_met && ratio_run;
    println!(
        "targets: {verdict} (ratio >= {RATIO_TARGET} of pgbench at {RATIO_TARGET_CLIENTS} clients, p99 < {P99_TARGET_MS} ms, no errors)"
    );

    let report = json!({
        "command": "cargo bench --bench load",
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        "cpus": cpus,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "floor": floors,
        "config": {
            "seconds_per_level": cfg.seconds,
            "warmup_seconds": cfg.warmup,
            "pool_size": cfg.pool_size,
            "workers": cfg.workers,
            "filings_per_client": cfg.filings_per_client,
            "supplement_rounds": cfg.supplement_rounds,
            "item": ITEM,
            "database": DB,
        },
        "levels": levels_json,
        "targets_met": all_met,
        "run_seconds": run_started.elapsed().as_secs_f64(),
    });
    let path = target_dir().join("load-report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "report: {} (whole run {:.0} s)",
        path.display(),
        run_started.elapsed().as_secs_f64()
    );
    Ok(())
}
