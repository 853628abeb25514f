//! Data exchange with the approval platforms (LAW.md §7).
//!
//! **SPGL (工改 system).** Every reported transition wrote its rows (`exchange_rows`) in the
//! action's own transaction. The `exchange` job ([`export`]) copies them, oldest first, to the
//! province's front database (前置库) in the SPGL layout:
//! - `spgl_xmspsxblxxb`, the item-handling record: one row per filing, upserted with its
//!   latest state;
//! - `spgl_xmspsxblxxxxb`, the handling detail: one row per transition, keyed by our row's id
//!   (LSH);
//! - `spgl_xmspsxbltbcxxxb`, special procedures: opened by a BLZT 9, closed by the next 10.
//!
//! A batch is one transaction on the front database, then marked exported on ours. If the
//! process dies between the two, the batch goes again and the front database's keys (LSH; the
//! filing's DFSJZJ) make the second write change nothing: never lost, never written twice. A
//! batch that fails waits (30 s, doubling up to `exchange.backoff_max_seconds`) with its
//! reason, and holds back the rows after it, so that a filing's rows arrive in order.
//!
//! **建筑市场监管 platform.** Each issued permit is tracked from its issue (`platform_uploads`,
//! due five working days later, 建办市〔2020〕25号). The `platform` job ([`upload_due`]) posts the
//! certificate's data and sealed file, signed with the bureau's SM2 key, to
//! `exchange.platform_url` (or writes it under `<var_dir>/platform/` in the demo).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, SmallInt, Text as SqlText, Timestamptz};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Ctx;
use super::auth::Principal;
use super::items::Item;
use crate::config::{Exchange as ExchangeSettings, Settings};
use crate::db::discovery;
use crate::domain::definition::Role;
use crate::domain::exchange::{self as codes};
use crate::error::AppError;
use crate::repo::documents as documents_repo;
use crate::repo::exchange::{self as repo, Backlog, NewUpload, Pending, UploadBacklog, UploadRow};

/// 建办市〔2020〕25号: a permit is uploaded within five working days of its issue.
pub const UPLOAD_WORKING_DAYS: u32 = 5;

/// Track an issued permit's upload (in the issuing action's transaction).
pub fn track_upload(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    certificate: Uuid,
    filing: Uuid,
) -> Result<(), AppError> {
    let due_on = ctx
        .calendar
        .add_working_days(ctx.today(), UPLOAD_WORKING_DAYS)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("the upload's last day: {e}")))?
        .value;
    repo::insert_upload(
        conn,
        &NewUpload {
            certificate_id: certificate,
            filing_id: filing,
            issued_at: ctx.now,
            due_on,
            next_attempt_at: ctx.now,
        },
    )?;
    Ok(())
}

// ---- The front database ----

/// Where the SPGL rows go.
#[derive(Debug, Clone)]
pub struct Front {
    pub url: String,
    pub create_tables: bool,
    /// The database to make when it does not exist (the demo's and the tests' own).
    pub create_database: Option<String>,
    /// The administrative division (XZQHDM) of every row.
    pub division_code: String,
    pub batch_size: i64,
    pub backoff_max_seconds: u64,
}

impl Front {
    /// The configured front database, else (demo and test) `<database>_spgl` beside ours.
    pub fn of(settings: &Settings, database_url: &str) -> anyhow::Result<Front> {
        let x: &ExchangeSettings = &settings.exchange;
        let (url, create_database) = if x.spgl_url.trim().is_empty() {
            let ours = discovery::database_of(database_url)?
                .context("the database URL names no database")?;
            let name = format!("{ours}_spgl");
            (discovery::with_database(database_url, &name)?, Some(name))
        } else {
            (x.spgl_url.clone(), None)
        };
        Ok(Front {
            url,
            create_tables: x.create_tables,
            create_database,
            division_code: settings.authority.division_code.clone(),
            batch_size: i64::from(x.batch_size),
            backoff_max_seconds: x.backoff_max_seconds,
        })
    }
}

/// What one run of the exporter did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ExportReport {
    pub exported: usize,
    /// Rows still waiting after the run.
    pub waiting: i64,
    /// Why the run stopped early (the rows wait and are tried again).
    pub error: Option<String>,
}

/// Export every due row, batch after batch.
pub fn export(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    front: &Front,
) -> Result<ExportReport, AppError> {
    let mut report = ExportReport::default();
    let mut target: Option<PgConnection> = None;
    let mut items: HashMap<i32, Arc<Item>> = HashMap::new();
    loop {
        let rows = repo::due(conn, ctx.now, front.batch_size)?;
        if rows.is_empty() {
            break;
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut shaped = Vec::with_capacity(rows.len());
        for r in &rows {
            let item = match items.get(&r.item_version_id) {
                Some(i) => i.clone(),
                None => {
                    let i = ctx.items.by_id(conn, r.item_version_id)?;
                    items.insert(r.item_version_id, i.clone());
                    i
                }
            };
            shaped.push(shape(r, &item, &front.division_code)?);
        }
        let written = connect(conn, front, &mut target).and_then(|c| write(c, front, &shaped));
        match written {
            Ok(()) => {
                repo::mark_exported(conn, &ids, ctx.now)?;
                report.exported += rows.len();
            }
            Err(e) => {
                let attempts = rows.first().map_or(0, |r| r.attempts) + 1;
                let wait = backoff(attempts, front.backoff_max_seconds);
                let message = format!("{e:#}");
                tracing::warn!(error = %message, rows = rows.len(), retry_in_s = wait.num_seconds(), "the SPGL export failed; the rows wait");
                repo::mark_failed(conn, &ids, &message, ctx.now + wait)?;
                report.error = Some(message);
                break;
            }
        }
        if (rows.len() as i64) < front.batch_size {
            break;
        }
    }
    report.waiting = repo::backlog(conn)?.pending;
    Ok(report)
}

/// 30 s, then twice as long each time, at most `max` seconds.
fn backoff(attempts: i32, max: u64) -> chrono::Duration {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let secs = 30u64.saturating_mul(1u64 << exp).min(max);
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn connect<'c>(
    ours: &mut PgConnection,
    front: &Front,
    target: &'c mut Option<PgConnection>,
) -> anyhow::Result<&'c mut PgConnection> {
    if target.is_none() {
        let url = discovery::with_connect_timeout(&front.url, 10)?;
        let conn = match PgConnection::establish(&url) {
            Ok(c) => c,
            Err(e)
                if front.create_database.is_some() && e.to_string().contains("does not exist") =>
            {
                let name = front.create_database.as_deref().unwrap_or_default();
                tracing::info!(database = name, "making the demo's SPGL front database");
                match diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(ours) {
                    Ok(_) => {}
                    // Another instance made it meanwhile.
                    Err(e) if e.to_string().contains("already exists") => {}
                    Err(e) => return Err(e).context("making the front database"),
                }
                PgConnection::establish(&url).context("connecting to the front database")?
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "connecting to the front database ({}): {e}",
                    discovery::masked(&front.url)
                ));
            }
        };
        let mut conn = conn;
        if front.create_tables {
            conn.batch_execute(FRONT_TABLES)
                .context("creating the SPGL tables")?;
        }
        *target = Some(conn);
    }
    target
        .as_mut()
        .ok_or_else(|| anyhow::anyhow!("no front connection"))
}

/// The SPGL tables as the demo's front database has them (LAW.md §7.1; lower-case names, as
/// PostgreSQL folds them). A province's front database has its own, with these columns.
pub const FRONT_TABLES: &str = "
CREATE TABLE IF NOT EXISTS spgl_xmspsxblxxb (
    dfsjzj   text PRIMARY KEY,
    xzqhdm   text NOT NULL,
    xmdm     text NOT NULL,
    gcdm     text NOT NULL,
    spsxbm   text NOT NULL,
    spsxbbh  text NOT NULL,
    spsxslbm text NOT NULL,
    spbmbm   text NOT NULL,
    spbmmc   text NOT NULL,
    slfs     smallint,
    bjlx     smallint NOT NULL,
    sxblsx   integer NOT NULL,
    blzt     smallint NOT NULL,
    lsh      bigint NOT NULL,
    sjyxbs   smallint NOT NULL DEFAULT 1,
    sjwxyy   text,
    sjsczt   smallint NOT NULL DEFAULT 0,
    sbyy     text,
    gxsj     timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS spgl_xmspsxblxxxxb (
    lsh      bigint PRIMARY KEY,
    dfsjzj   text NOT NULL,
    xzqhdm   text NOT NULL,
    spsxslbm text NOT NULL,
    blcs     text NOT NULL,
    blr      text NOT NULL,
    blzt     smallint NOT NULL,
    blyj     text,
    blsj     timestamptz NOT NULL,
    sjyxbs   smallint NOT NULL DEFAULT 1,
    sjwxyy   text,
    sjsczt   smallint NOT NULL DEFAULT 0,
    sbyy     text
);
CREATE TABLE IF NOT EXISTS spgl_xmspsxbltbcxxxb (
    lsh      bigint PRIMARY KEY,
    dfsjzj   text NOT NULL,
    xzqhdm   text NOT NULL,
    spsxslbm text NOT NULL,
    tbcx     smallint NOT NULL,
    tbcxmc   text NOT NULL,
    tbcxkssj timestamptz NOT NULL,
    tbcxsxlx smallint NOT NULL,
    tbcxsx   integer,
    tbcxjssj timestamptz,
    sjyxbs   smallint NOT NULL DEFAULT 1,
    sjsczt   smallint NOT NULL DEFAULT 0,
    sbyy     text
);
";

/// One exchange row as the front database's rows need it.
struct Shaped {
    lsh: i64,
    dfsjzj: String,
    xzqhdm: String,
    xmdm: String,
    spsxbm: String,
    spsxbbh: String,
    spsxslbm: String,
    spbmbm: String,
    spbmmc: String,
    slfs: Option<i16>,
    bjlx: i16,
    sxblsx: i32,
    blcs: String,
    blr: String,
    blzt: i16,
    blyj: Option<String>,
    blsj: DateTime<Utc>,
    special: Option<Value>,
}

fn shape(r: &Pending, item: &Item, division: &str) -> Result<Shaped, AppError> {
    let x = item.def.exchange.as_ref().ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "exchange row {} of item {}, which has no [exchange]",
            r.id,
            item.def.code
        ))
    })?;
    let project = r
        .form
        .get("project_code")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let days = item.def.limits.statutory.days;
    Ok(Shaped {
        lsh: r.id,
        dfsjzj: r.filing_id.to_string(),
        xzqhdm: division.to_owned(),
        xmdm: project.clone(),
        spsxbm: x.item_code.clone(),
        spsxbbh: x.item_version.clone(),
        spsxslbm: r.filing_number.clone(),
        spbmbm: r.filing_department.clone(),
        spbmmc: r.filing_department_name.clone(),
        slfs: r.channel,
        bjlx: codes::case_type(days),
        sxblsx: i32::try_from(days).unwrap_or(i32::MAX),
        blcs: r.department_name.clone(),
        blr: r.actor_name.clone(),
        blzt: r.blzt,
        blyj: r.opinion.clone(),
        blsj: r.at,
        special: r.special.clone(),
    })
}

/// Write a batch in one transaction of the front database.
fn write(conn: &mut PgConnection, _front: &Front, rows: &[Shaped]) -> anyhow::Result<()> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        for s in rows {
            diesel::sql_query(
                "INSERT INTO spgl_xmspsxblxxxxb (lsh, dfsjzj, xzqhdm, spsxslbm, blcs, blr, blzt, blyj, blsj) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (lsh) DO NOTHING",
            )
            .bind::<BigInt, _>(s.lsh)
            .bind::<SqlText, _>(&s.dfsjzj)
            .bind::<SqlText, _>(&s.xzqhdm)
            .bind::<SqlText, _>(&s.spsxslbm)
            .bind::<SqlText, _>(&s.blcs)
            .bind::<SqlText, _>(&s.blr)
            .bind::<SmallInt, _>(s.blzt)
            .bind::<Nullable<SqlText>, _>(&s.blyj)
            .bind::<Timestamptz, _>(s.blsj)
            .execute(conn)?;
            // The handling record carries the latest row: a batch sent again leaves it as the
            // first sending did.
            diesel::sql_query(
                "INSERT INTO spgl_xmspsxblxxb (dfsjzj, xzqhdm, xmdm, gcdm, spsxbm, spsxbbh, spsxslbm, \
                    spbmbm, spbmmc, slfs, bjlx, sxblsx, blzt, lsh, gxsj) \
                 VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (dfsjzj) DO UPDATE SET xmdm = EXCLUDED.xmdm, gcdm = EXCLUDED.gcdm, \
                    spbmbm = EXCLUDED.spbmbm, spbmmc = EXCLUDED.spbmmc, slfs = EXCLUDED.slfs, \
                    blzt = EXCLUDED.blzt, lsh = EXCLUDED.lsh, gxsj = EXCLUDED.gxsj, sjsczt = 0, sbyy = NULL \
                 WHERE spgl_xmspsxblxxb.lsh < EXCLUDED.lsh",
            )
            .bind::<SqlText, _>(&s.dfsjzj)
            .bind::<SqlText, _>(&s.xzqhdm)
            .bind::<SqlText, _>(&s.xmdm)
            .bind::<SqlText, _>(&s.spsxbm)
            .bind::<SqlText, _>(&s.spsxbbh)
            .bind::<SqlText, _>(&s.spsxslbm)
            .bind::<SqlText, _>(&s.spbmbm)
            .bind::<SqlText, _>(&s.spbmmc)
            .bind::<Nullable<SmallInt>, _>(s.slfs)
            .bind::<SmallInt, _>(s.bjlx)
            .bind::<Integer, _>(s.sxblsx)
            .bind::<SmallInt, _>(s.blzt)
            .bind::<BigInt, _>(s.lsh)
            .bind::<Timestamptz, _>(s.blsj)
            .execute(conn)?;
            match s.blzt {
                9 => {
                    let sp = s.special.as_ref();
                    let kind = sp
                        .and_then(|v| v.get("kind"))
                        .and_then(Value::as_i64)
                        .and_then(|k| i16::try_from(k).ok())
                        .unwrap_or(codes::special_kind(false));
                    let name = sp
                        .and_then(|v| v.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or("特别程序")
                        .to_owned();
                    let limit = sp
                        .and_then(|v| v.get("limit_days"))
                        .and_then(Value::as_i64)
                        .and_then(|d| i32::try_from(d).ok());
                    diesel::sql_query(
                        "INSERT INTO spgl_xmspsxbltbcxxxb (lsh, dfsjzj, xzqhdm, spsxslbm, tbcx, tbcxmc, \
                            tbcxkssj, tbcxsxlx, tbcxsx) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8) \
                         ON CONFLICT (lsh) DO NOTHING",
                    )
                    .bind::<BigInt, _>(s.lsh)
                    .bind::<SqlText, _>(&s.dfsjzj)
                    .bind::<SqlText, _>(&s.xzqhdm)
                    .bind::<SqlText, _>(&s.spsxslbm)
                    .bind::<SmallInt, _>(kind)
                    .bind::<SqlText, _>(name)
                    .bind::<Timestamptz, _>(s.blsj)
                    .bind::<Nullable<Integer>, _>(limit)
                    .execute(conn)?;
                }
                10 => {
                    // The open procedure this row ends (the same end whenever it is written).
                    diesel::sql_query(
                        "UPDATE spgl_xmspsxbltbcxxxb SET tbcxjssj = $1, sjsczt = 0 \
                         WHERE lsh = (SELECT max(lsh) FROM spgl_xmspsxbltbcxxxb \
                                      WHERE dfsjzj = $2 AND lsh < $3) \
                           AND (tbcxjssj IS NULL OR tbcxjssj = $1)",
                    )
                    .bind::<Timestamptz, _>(s.blsj)
                    .bind::<SqlText, _>(&s.dfsjzj)
                    .bind::<BigInt, _>(s.lsh)
                    .execute(conn)?;
                }
                _ => {}
            }
        }
        Ok(())
    })
    .context("writing the SPGL rows")
}

// ---- What administrators see ----

/// The exchange's backlog, for administrators and the dashboard.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExchangeStatus {
    /// The front database (password masked).
    pub front_database: String,
    pub spgl: Backlog,
    /// Where permits are uploaded.
    pub platform: String,
    pub uploads: UploadBacklog,
}

pub fn status(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    front: &Front,
    platform_url: &str,
) -> Result<ExchangeStatus, AppError> {
    p.require(&[Role::Admin, Role::Manager, Role::Auditor])?;
    Ok(ExchangeStatus {
        front_database: discovery::masked(&front.url),
        spgl: repo::backlog(conn)?,
        platform: platform_url.to_owned(),
        uploads: repo::upload_backlog(conn, ctx.today(), ctx.offset.local_minus_utc() / 60)?,
    })
}

/// The permit uploads, pending and late first (administrators, managers, auditors).
pub fn uploads(conn: &mut PgConnection, p: &Principal) -> Result<Vec<UploadRow>, AppError> {
    p.require(&[Role::Admin, Role::Manager, Role::Auditor])?;
    Ok(repo::uploads(conn, 200)?)
}

/// A filing's reported rows (staff who may see it).
pub fn of_filing(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
) -> Result<Vec<repo::ExchangeRow>, AppError> {
    super::filings::get(conn, ctx, p, id)?;
    Ok(repo::of_filing(conn, id)?)
}

// ---- The permit upload ----

/// An upload ready to send: the request body and its signature.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: i64,
    pub identifier: String,
    pub attempts: i32,
    pub body: Vec<u8>,
    pub signature: String,
    pub key_id: String,
}

/// The uploads due now, each as its signed request. An upload whose file is not rendered yet
/// waits for the `documents` job.
pub fn outgoing(conn: &mut PgConnection, ctx: &Ctx<'_>) -> Result<Vec<Outgoing>, AppError> {
    let mut out = Vec::new();
    for u in repo::uploads_due(conn, ctx.now, 20)? {
        let Some(cert) = documents_repo::certificate_by_id(conn, u.certificate_id)? else {
            continue;
        };
        let Some(doc) = documents_repo::of_certificate(conn, u.certificate_id)? else {
            continue;
        };
        let Some(pdf) = documents_repo::pdf(conn, doc.id)? else {
            repo::upload_failed(
                conn,
                u.id,
                "the permit's file is not rendered yet",
                ctx.now + chrono::Duration::seconds(60),
            )?;
            continue;
        };
        let number = documents_repo::filing_number(conn, u.filing_id)?;
        let body = json!({
            "issuer": {
                "name": ctx.issuer.name_zh,
                "credit_code": ctx.issuer.credit_code,
                "division_code": ctx.issuer.division_code,
            },
            "identifier": cert.identifier,
            "permit_number": cert.number,
            "version": cert.version,
            "status": cert.status,
            "issued_at": cert.issued_at,
            "valid_until": cert.valid_until,
            "filing_number": number,
            "fields": cert.public_fields,
            "file": {
                "name": format!("{}.pdf", cert.number),
                "media_type": "application/pdf",
                "sm3": crate::documents::seal::sm3_hex(&pdf),
                "content": base64::engine::general_purpose::STANDARD.encode(&pdf),
            },
        });
        let body = serde_json::to_vec(&body).map_err(anyhow::Error::from)?;
        out.push(Outgoing {
            id: u.id,
            identifier: cert.identifier,
            attempts: u.attempts,
            signature: ctx.issuer.key.sign(&body),
            key_id: ctx.issuer.key.public().key_id(),
            body,
        });
    }
    Ok(out)
}

/// Send one upload: the platform's receipt, or why not.
pub async fn send(
    client: &reqwest::Client,
    settings: &Settings,
    u: &Outgoing,
) -> anyhow::Result<String> {
    let x = &settings.exchange;
    if x.platform_url == "file" {
        let dir = settings.storage.var_dir.join("platform");
        tokio::fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{}.json", u.identifier));
        tokio::fs::write(&path, &u.body).await?;
        return Ok(format!("written to {}", path.display()));
    }
    let response = client
        .post(&x.platform_url)
        .timeout(Duration::from_secs(x.platform_timeout_seconds))
        .header("Content-Type", "application/json")
        .header("X-Permits-Key-Id", &u.key_id)
        .header("X-Permits-Signature", format!("SM2-SM3 {}", u.signature))
        .header("Idempotency-Key", &u.identifier)
        .body(u.body.clone())
        .send()
        .await
        .with_context(|| format!("posting to {}", x.platform_url))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let text: String = text.chars().take(500).collect();
    if status.is_success() {
        Ok(text)
    } else {
        Err(anyhow::anyhow!("the platform answered {status}: {text}"))
    }
}

/// Record an upload's result.
pub fn record(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    u: &Outgoing,
    result: &Result<String, String>,
    backoff_max: u64,
) -> Result<(), AppError> {
    match result {
        Ok(receipt) => repo::upload_sent(conn, u.id, ctx.now, receipt)?,
        Err(e) => repo::upload_failed(
            conn,
            u.id,
            e,
            ctx.now + backoff(u.attempts + 1, backoff_max),
        )?,
    };
    Ok(())
}

/// What one run of the uploader did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct UploadReport {
    pub sent: usize,
    pub failed: usize,
    pub error: Option<String>,
}

/// The uploads due, delivered to files under `dir` (the demo's `"file"` platform), each
/// recorded sent: the demo office runs this each simulated morning, as the `platform` job
/// would. The number delivered.
pub fn deliver_to_files(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    dir: &std::path::Path,
) -> Result<usize, AppError> {
    let mut n = 0;
    for u in outgoing(conn, ctx)? {
        std::fs::create_dir_all(dir).map_err(anyhow::Error::from)?;
        let path = dir.join(format!("{}.json", u.identifier));
        std::fs::write(&path, &u.body).map_err(anyhow::Error::from)?;
        record(
            conn,
            ctx,
            &u,
            &Ok(format!("written to {}", path.display())),
            60,
        )?;
        n += 1;
    }
    Ok(n)
}
