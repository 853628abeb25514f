//! SLA reports for managers (their department), admins and auditors: JSON, or CSV with
//! `format=csv`.

use actix_web::{HttpResponse, get, web};
use chrono::{Datelike, Days, NaiveDate};
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::Problem;
use crate::error::AppError;
use crate::services::reports::{self, SlaQuery, SlaReport, WorkloadRow};
use crate::services::reports::{DueRow, GroupBy};
use crate::web::extract::{Bearer, Query};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlaParams {
    /// First day of the period (YYYY-MM-DD); the first of this month by default.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day of the period, inclusive; today by default.
    #[param(format = Date)]
    pub to: Option<String>,
    /// item (default), department, clerk or month.
    pub group_by: Option<GroupBy>,
    pub item: Option<String>,
    pub department: Option<String>,
    /// "Due soon" means due within this many days (0–60, default 3).
    #[param(maximum = 60)]
    pub soon_days: Option<u32>,
    /// json (default) or csv.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

fn date(name: &str, v: Option<&str>, default: NaiveDate, problems: &mut Vec<Problem>) -> NaiveDate {
    match v.map(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")) {
        None => default,
        Some(Ok(d)) => d,
        Some(Err(_)) => {
            problems.push(Problem::new(
                name,
                "invalid_date",
                format!("{name} 须为 YYYY-MM-DD 格式的有效日期"),
                format!("{name} must be a valid YYYY-MM-DD date"),
            ));
            default
        }
    }
}

/// A report's period from its `from` and `to` (defaults when absent), each bad date and a `to`
/// before `from` added to `problems`.
fn period(
    from: &Option<String>,
    to: &Option<String>,
    default_from: NaiveDate,
    default_to: NaiveDate,
    problems: &mut Vec<Problem>,
) -> (NaiveDate, NaiveDate) {
    let from = date("from", from.as_deref(), default_from, problems);
    let to = date("to", to.as_deref(), default_to, problems);
    if from > to {
        problems.push(Problem::new(
            "to",
            "before_from",
            "to 不能早于 from",
            "to must not be before from",
        ));
    }
    (from, to)
}

fn csv_wanted(format: Option<&str>) -> Result<bool, AppError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(AppError::one_invalid(
            "format",
            "not_an_option",
            "format 须为 json 或 csv",
            "format must be json or csv",
        )),
    }
}

/// A spreadsheet to download.
pub fn xlsx_response(name: &str, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.xlsx\""),
        ))
        .body(bytes)
}

/// A report read from the replica says how far behind it was (`X-Replica-Lag-Seconds`).
fn lagged(mut res: HttpResponse, lag: Option<f64>) -> HttpResponse {
    if let Some(lag) = lag
        && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!("{lag:.1}"))
    {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-replica-lag-seconds"),
            v,
        );
    }
    res
}

fn csv_response(name: &str, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(bytes)
}

fn write_csv<T: serde::Serialize>(rows: &[T]) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    for r in rows {
        w.serialize(r)
            .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))?;
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing CSV: {e}")))
}

/// Received, closed, on time and late, processing times, overdue and due soon.
#[utoipa::path(tag = "reports", params(SlaParams),
    responses((status = 200, description = "the report; CSV (UTF-8 with a BOM) with `format=csv`",
            content((SlaReport = "application/json"), ("text/csv"))),
        (status = 403), (status = 422)), security(("bearer" = [])))]
#[get("/reports/sla")]
pub async fn sla(
    state: web::Data<AppState>,
    who: Bearer,
    q: Query<SlaParams>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner()?;
    let csv = csv_wanted(q.format.as_deref())?;
    let today = crate::clock::local_date(state.clock.now(), state.offset);
    let first = today.with_day(1).unwrap_or(today);
    let mut problems = Vec::new();
    let (from, to) = period(&q.from, &q.to, first, today, &mut problems);
    let soon_days = q.soon_days.unwrap_or(3);
    if soon_days > 60 {
        problems.push(Problem::new(
            "soon_days",
            "too_large",
            "soon_days 不能超过 60",
            "soon_days must be at most 60",
        ));
    }
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let query = SlaQuery {
        from,
        to,
        group_by: q.group_by.unwrap_or(GroupBy::Item),
        item: q.item,
        department: q.department,
        soon_days,
    };
    let (report, lag) = state
        .run_read_as(who, move |conn, ctx, p| {
            reports::sla(conn, p, query, today, &reports::owners(ctx.items))
        })
        .await?;
    if csv {
        return Ok(lagged(csv_response("sla", reports::to_csv(&report)?), lag));
    }
    Ok(lagged(HttpResponse::Ok().json(report), lag))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DueParams {
    /// Open filings due within this many days from today, overdue ones first (default 3).
    pub days: Option<u32>,
    pub department: Option<String>,
    /// At most 1000 (default 200).
    pub limit: Option<i64>,
    /// json (default) or csv.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// Open filings overdue or due soon, most urgent first.
#[utoipa::path(tag = "reports", params(DueParams), responses((status = 200, description = "the rows; CSV with `format=csv`",
        content((Vec<DueRow> = "application/json"), ("text/csv"))),
    (status = 403), (status = 422, description = "an unknown format")), security(("bearer" = [])))]
#[get("/reports/due")]
pub async fn due(
    state: web::Data<AppState>,
    who: Bearer,
    q: Query<DueParams>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner()?;
    let csv = csv_wanted(q.format.as_deref())?;
    let today = crate::clock::local_date(state.clock.now(), state.offset);
    let until = today
        .checked_add_days(Days::new(u64::from(q.days.unwrap_or(3).min(366))))
        .unwrap_or(today);
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let (rows, lag) = state
        .run_read_as(who, move |conn, ctx, p| {
            reports::due(
                conn,
                p,
                q.department,
                until,
                limit,
                &reports::owners(ctx.items),
            )
        })
        .await?;
    if csv {
        return Ok(lagged(csv_response("due", write_csv(&rows)?), lag));
    }
    Ok(lagged(HttpResponse::Ok().json(rows), lag))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorkloadParams {
    pub department: Option<String>,
    /// json (default) or csv.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// Open work claimed per member of staff.
#[utoipa::path(tag = "reports", params(WorkloadParams), responses((status = 200, description = "the rows; CSV with `format=csv`",
        content((Vec<WorkloadRow> = "application/json"), ("text/csv"))),
    (status = 403), (status = 422, description = "an unknown format")), security(("bearer" = [])))]
#[get("/reports/workload")]
pub async fn workload(
    state: web::Data<AppState>,
    who: Bearer,
    q: Query<WorkloadParams>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner()?;
    let csv = csv_wanted(q.format.as_deref())?;
    let (rows, lag) = state
        .run_read_as(who, move |conn, _, p| {
            reports::workload(conn, p, q.department)
        })
        .await?;
    if csv {
        return Ok(lagged(csv_response("workload", write_csv(&rows)?), lag));
    }
    Ok(lagged(HttpResponse::Ok().json(rows), lag))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorkParams {
    /// First day of the period (YYYY-MM-DD); 1 January of this year by default.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, inclusive; today by default.
    #[param(format = Date)]
    pub to: Option<String>,
    /// json (default), csv (one line per item and category) or xlsx (the same lines, and a sheet
    /// of the sentences).
    #[param(pattern = "^(json|csv|xlsx)$")]
    pub format: Option<String>,
    /// The spreadsheet's language: zh (default) or en.
    #[param(pattern = "^(zh|en)$")]
    pub lang: Option<String>,
}

/// The office's work report (工作报告): per item, the filings received in the period, decided and
/// open, the item's categories (抽中 / 未抽中 …, elevators by 台), and its sentence in the
/// bureau's wording. Managers see their department's items; admins and auditors all.
#[utoipa::path(tag = "reports", params(WorkParams),
    responses((status = 200, description = "the report; CSV with `format=csv`, a spreadsheet with `format=xlsx`",
            content((reports::WorkReportView = "application/json"), ("text/csv"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 403), (status = 422)), security(("bearer" = [])))]
#[get("/reports/work")]
pub async fn work(
    state: web::Data<AppState>,
    who: Bearer,
    q: Query<WorkParams>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner()?;
    let (csv, xlsx) = match q.format.as_deref() {
        Some("xlsx") => (false, true),
        other => (
            csv_wanted(other).map_err(|_| {
                AppError::one_invalid(
                    "format",
                    "not_an_option",
                    "format 须为 json、csv 或 xlsx",
                    "format must be json, csv or xlsx",
                )
            })?,
            false,
        ),
    };
    let lang = match q.lang.as_deref() {
        None | Some("zh") => crate::domain::Lang::Zh,
        Some("en") => crate::domain::Lang::En,
        Some(_) => {
            return Err(AppError::one_invalid(
                "lang",
                "not_an_option",
                "lang 须为 zh 或 en",
                "lang must be zh or en",
            ));
        }
    };
    let today = crate::clock::local_date(state.clock.now(), state.offset);
    let first = today.with_ordinal(1).unwrap_or(today);
    let mut problems = Vec::new();
    let (from, to) = period(&q.from, &q.to, first, today, &mut problems);
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let (report, lag) = state
        .run_read_as(who, move |conn, ctx, p| {
            reports::work(conn, ctx, p, from, to)
        })
        .await?;
    let res = if xlsx {
        xlsx_response(
            &format!("work-report-{from}-{to}"),
            reports::work_xlsx(&report, lang)?,
        )
    } else if csv {
        csv_response(
            &format!("work-report-{from}-{to}"),
            reports::work_csv(&report, lang)?,
        )
    } else {
        HttpResponse::Ok().json(report)
    };
    Ok(lagged(res, lag))
}
