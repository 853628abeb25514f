//! Staff pages: the workbench queue (most urgent first, with yellow and red marks and filters,
//! claim next, claim, release) and the manager's dashboard (SLA figures with charts drawn as
//! SVG on the server, what is overdue or due soon, workload per person, CSV export).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::{PageError, Ui, Viewer, see_other};
use crate::domain::Lang;
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::services::auth::Principal;
use crate::services::queues::{self, Scope};
use crate::services::reports;
use crate::web::AppState;

fn staff(v: &Viewer) -> Result<Principal, Option<PageError>> {
    match &v.principal {
        None => Err(None),
        Some(p) if p.works_filings() => Ok(p.clone()),
        Some(_) => Err(Some(PageError::from_app(v, AppError::Forbidden))),
    }
}

pub struct QueueLine {
    pub task: i64,
    pub filing: uuid::Uuid,
    pub number: String,
    pub item: String,
    pub state: String,
    pub due: String,
    pub colour: &'static str,
    pub colour_label: String,
    /// mine, other, open
    pub claim: &'static str,
}

#[derive(Template)]
#[template(path = "pages/queue.html", config = "config/askama.toml")]
struct QueuePage {
    ui: Ui,
    scope: &'static str,
    item: String,
    items: Vec<(String, String)>,
    lines: Vec<QueueLine>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    pub scope: Option<String>,
    pub item: Option<String>,
    pub empty: Option<u8>,
    /// Lines shown: 100 by default, at most 1000.
    pub per: Option<i64>,
}

fn colour(
    lang: Lang,
    today: NaiveDate,
    due: Option<NaiveDate>,
    warn: Option<NaiveDate>,
) -> (&'static str, String) {
    let t = |zh: &str, en: &str| match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    };
    match (due, warn) {
        (Some(d), _) if today > d => ("red", t("已超期", "overdue")),
        (Some(d), w) if w.is_some_and(|w| today >= w) || today == d => {
            ("yellow", t("临近期限", "due soon"))
        }
        (Some(_), _) => ("green", t("正常", "on time")),
        (None, _) => ("", String::new()),
    }
}

/// The workbench queue.
#[get("/queue")]
pub async fn queue(
    state: web::Data<AppState>,
    v: Viewer,
    q: web::Query<QueueQuery>,
) -> Result<HttpResponse, PageError> {
    let p = match staff(&v) {
        Ok(p) => p,
        Err(e) => return e.map_or_else(|| Ok(v.to_login()), Err),
    };
    let q = q.into_inner();
    let (scope, scope_name) = match q.scope.as_deref() {
        Some("mine") => (Scope::Mine, "mine"),
        Some("unclaimed") => (Scope::Unclaimed, "unclaimed"),
        _ => (Scope::All, "all"),
    };
    let item = q.item.filter(|i| state.items.latest(i).is_some());
    let lang = v.lang;
    let me = p.user_id;
    let filter = item.clone();
    let per = q.per.unwrap_or(100).clamp(1, 1000);
    let lines = state
        .run(move |conn, ctx| {
            let today = ctx.today();
            let rows = queues::urgent(conn, &p, scope, filter.as_deref(), per)?;
            let mut out = Vec::with_capacity(rows.len());
            for t in rows {
                let it = ctx.items.by_id(conn, t.item_version_id)?;
                let (c, label) = colour(lang, today, t.due_on, t.warn_on);
                out.push(QueueLine {
                    task: t.id,
                    filing: t.filing_id,
                    number: t.number.unwrap_or_default(),
                    item: it.def.name.get(lang).to_owned(),
                    state: it
                        .def
                        .state(&t.state)
                        .map(|s| s.label.get(lang).to_owned())
                        .unwrap_or(t.state),
                    due: t
                        .due_on
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "—".into()),
                    colour: c,
                    colour_label: label,
                    claim: match t.claimed_by {
                        Some(u) if u == me => "mine",
                        Some(_) => "other",
                        None => "open",
                    },
                });
            }
            Ok(out)
        })
        .await
        .map_err(|e| PageError::from_app(&v, e))?;
    let items = state
        .items
        .all_latest()
        .iter()
        .map(|i| (i.def.code.clone(), i.def.name.get(lang).to_owned()))
        .collect();
    let ui = v.ui();
    let message = q.empty.map(|_| {
        ui.t("没有可认领的办件。", "Nothing is waiting to be claimed.")
            .to_owned()
    });
    v.render(
        StatusCode::OK,
        &QueuePage {
            ui,
            scope: scope_name,
            item: item.unwrap_or_default(),
            items,
            lines,
            message,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

/// Claim the most urgent unclaimed task and open its filing.
#[post("/queue/claim-next")]
pub async fn claim_next(
    state: web::Data<AppState>,
    v: Viewer,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let p = match staff(&v) {
        Ok(p) => p,
        Err(e) => return e.map_or_else(|| Ok(v.to_login()), Err),
    };
    v.check_csrf(&form.csrf)?;
    let claimed = state
        .run(move |conn, ctx| queues::claim_next(conn, &p, None, ctx.now))
        .await
        .map_err(|e| PageError::from_app(&v, e))?;
    Ok(match claimed {
        Some(t) => see_other(&format!("/filings/{}", t.filing_id)),
        None => see_other("/queue?empty=1"),
    })
}

#[derive(Debug, Deserialize)]
pub struct TaskForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    pub user_id: Option<uuid::Uuid>,
}

/// Claim or release one task from the queue; a manager assigns it to someone.
#[post("/tasks/{id}/{what}")]
pub async fn task(
    state: web::Data<AppState>,
    v: Viewer,
    path: web::Path<(i64, String)>,
    form: web::Form<TaskForm>,
) -> Result<HttpResponse, PageError> {
    let Some(p) = v.principal.clone() else {
        return Ok(v.to_login());
    };
    v.check_csrf(&form.csrf)?;
    let (id, what) = path.into_inner();
    let to = form.user_id;
    let result = match what.as_str() {
        "assign" => match to {
            Some(to) => {
                state
                    .run(move |conn, ctx| queues::assign(conn, &p, id, to, ctx.now))
                    .await
            }
            None => Err(AppError::one_invalid(
                "user_id",
                "required",
                "请选择人员",
                "Choose someone",
            )),
        },
        "claim" => {
            state
                .run(move |conn, ctx| queues::claim(conn, &p, id, ctx.now))
                .await
        }
        "release" => {
            state
                .run(move |conn, ctx| queues::release(conn, &p, id, ctx.now))
                .await
        }
        _ => Err(AppError::NotFound),
    };
    match result {
        Ok(t) => Ok(see_other(&format!("/filings/{}", t.filing_id))),
        Err(AppError::Conflict { .. }) => Ok(see_other("/queue?scope=all")),
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}

/// One bar of a chart.
pub struct Bar {
    pub label: String,
    pub value: String,
    /// Left edge and width in the chart's units (0..=100 wide drawing area).
    pub y: i32,
    pub width: f64,
    pub colour: &'static str,
}

pub struct Chart {
    pub title: String,
    pub height: i32,
    pub bars: Vec<Bar>,
}

/// A horizontal bar chart as SVG geometry: `ratio` in 0..=1 per bar; `rated` colours a rate
/// green, yellow or red by the usual thresholds (95%, 80%).
fn chart(title: String, rows: Vec<(String, f64, String)>, rated: bool) -> Chart {
    let bars: Vec<Bar> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, ratio, value))| Bar {
            label,
            value,
            y: 10 + 30 * i as i32,
            width: (ratio.clamp(0.0, 1.0) * 300.0).max(1.0),
            colour: if !rated {
                "#0b5cad"
            } else if ratio >= 0.95 {
                "#1a7f37"
            } else if ratio >= 0.8 {
                "#9a6700"
            } else {
                "#cf222e"
            },
        })
        .collect();
    Chart {
        title,
        height: 20 + 30 * bars.len() as i32,
        bars,
    }
}

pub struct DueLine {
    pub filing: uuid::Uuid,
    pub number: String,
    pub item: String,
    pub due: String,
    pub colour: &'static str,
    pub colour_label: String,
}

#[derive(Template)]
#[template(path = "pages/dashboard.html", config = "config/askama.toml")]
struct Dashboard {
    ui: Ui,
    from: String,
    to: String,
    rows: Vec<reports::SlaRow>,
    total: reports::SlaRow,
    names: std::collections::BTreeMap<String, String>,
    charts: Vec<Chart>,
    due: Vec<DueLine>,
    workload: Vec<reports::WorkloadRow>,
}

/// The manager's dashboard: this year so far, by item.
#[get("/dashboard")]
pub async fn dashboard(state: web::Data<AppState>, v: Viewer) -> Result<HttpResponse, PageError> {
    let p = match &v.principal {
        None => return Ok(v.to_login()),
        Some(p) if p.has(Role::Manager) || p.has(Role::Admin) || p.has(Role::Auditor) => p.clone(),
        Some(_) => return Err(PageError::from_app(&v, AppError::Forbidden)),
    };
    let owners = reports::owners(&state.items);
    let lang = v.lang;
    let (report, months, due, workload, today) = state
        .run(move |conn, ctx| {
            let today = ctx.today();
            let from = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
            let query = |group_by| reports::SlaQuery {
                from,
                to: today,
                group_by,
                item: None,
                department: None,
                soon_days: 3,
            };
            let report = reports::sla(
                conn,
                &p,
                query(crate::repo::reports::GroupBy::Item),
                today,
                &owners,
            )?;
            let months = reports::sla(
                conn,
                &p,
                query(crate::repo::reports::GroupBy::Month),
                today,
                &owners,
            )?;
            let until = today
                .checked_add_days(chrono::Days::new(3))
                .unwrap_or(today);
            let due = reports::due(conn, &p, None, until, 50, &owners)?;
            let workload = reports::workload(conn, &p, None)?;
            Ok((report, months, due, workload, today))
        })
        .await
        .map_err(|e| PageError::from_app(&v, e))?;
    let names: std::collections::BTreeMap<String, String> = state
        .items
        .all_latest()
        .iter()
        .map(|i| (i.def.code.clone(), i.def.name.get(lang).to_owned()))
        .collect();
    let name = |k: &str| names.get(k).cloned().unwrap_or_else(|| k.to_owned());
    let on_time = chart(
        v.ui()
            .t("按时办结率（法定时限）", "On time (statutory limit)")
            .to_owned(),
        report
            .rows
            .iter()
            .filter_map(|r| {
                r.on_time_rate_statutory
                    .map(|x| (name(&r.key), x, format!("{:.1}%", x * 100.0)))
            })
            .collect(),
        true,
    );
    let by_month = chart(
        v.ui()
            .t("按月按时办结率", "On time, month by month")
            .to_owned(),
        months
            .rows
            .iter()
            .filter_map(|r| {
                r.on_time_rate_statutory
                    .map(|x| (r.key.clone(), x, format!("{:.1}%", x * 100.0)))
            })
            .collect(),
        true,
    );
    let longest = report
        .rows
        .iter()
        .filter_map(|r| r.p90_working_days)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let times = chart(
        v.ui()
            .t(
                "办理用时 P90（工作日）",
                "Processing time, 90th percentile (working days)",
            )
            .to_owned(),
        report
            .rows
            .iter()
            .filter_map(|r| {
                r.p90_working_days.map(|d| {
                    let median = r.median_working_days.unwrap_or(0);
                    (
                        name(&r.key),
                        f64::from(d) / longest,
                        match lang {
                            Lang::Zh => format!("中位 {median} / P90 {d}"),
                            Lang::En => format!("median {median} / p90 {d}"),
                        },
                    )
                })
            })
            .collect(),
        false,
    );
    let due = due
        .into_iter()
        .map(|d| {
            let (c, label) = colour(lang, today, Some(d.statutory_due_on), None);
            DueLine {
                filing: d.id,
                number: d.number.unwrap_or_default(),
                item: name(&d.item_code),
                due: d.statutory_due_on.to_string(),
                colour: c,
                colour_label: label,
            }
        })
        .collect();
    v.render(
        StatusCode::OK,
        &Dashboard {
            ui: v.ui(),
            from: report.from.to_string(),
            to: report.to.to_string(),
            total: report.total,
            rows: report.rows,
            names,
            charts: vec![on_time, by_month, times],
            due,
            workload,
        },
    )
}

/// The dashboard's figures as CSV (the same report as the API's, for a signed-in manager).
#[get("/dashboard/sla.csv")]
pub async fn sla_csv(state: web::Data<AppState>, v: Viewer) -> Result<HttpResponse, PageError> {
    let p = match &v.principal {
        None => return Ok(v.to_login()),
        Some(p) => p.clone(),
    };
    let owners = reports::owners(&state.items);
    let body = state
        .run(move |conn, ctx| {
            let today = ctx.today();
            let from = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
            let report = reports::sla(
                conn,
                &p,
                reports::SlaQuery {
                    from,
                    to: today,
                    group_by: crate::repo::reports::GroupBy::Item,
                    item: None,
                    department: None,
                    soon_days: 3,
                },
                today,
                &owners,
            )?;
            reports::to_csv(&report)
        })
        .await
        .map_err(|e| PageError::from_app(&v, e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"sla.csv\"",
        ))
        .body(body))
}
