//! Staff pages: the workbench queue (most urgent first, with yellow and red marks and filters,
//! claim next, claim, release) and the manager's dashboard (SLA figures with charts drawn as
//! SVG on the server, what is overdue or due soon, workload per person, CSV export).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::{PageError, Ui, Viewer, see_other};
use crate::app::AppState;
use crate::domain::Lang;
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::services::queues::{self, Scope};
use crate::services::{reports, staff};
use crate::web::extract::{Form, Query};

pub struct QueueLine {
    pub task: i64,
    pub filing: uuid::Uuid,
    pub number: String,
    pub item: String,
    pub state: String,
    /// The project (what names the filing) and the applicant.
    pub project: String,
    pub applicant: String,
    /// This step's due day (the promised limit's share), painted.
    pub due: String,
    /// The statutory and promised limits' last days.
    pub statutory: String,
    pub promised: String,
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
    search: String,
    page: i64,
    /// The query of the previous and next pages, when there are such pages.
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    pub scope: Option<String>,
    pub item: Option<String>,
    pub empty: Option<u8>,
    /// Lines shown: 100 by default, at most 1000.
    pub per: Option<i64>,
    /// Search by number, applicant or project.
    pub q: Option<String>,
    /// The page, from 1.
    pub page: Option<i64>,
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
    mut v: Viewer,
    q: Query<QueueQuery>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    let (scope, scope_name) = match q.scope.as_deref() {
        Some("mine") => (Scope::Mine, "mine"),
        Some("unclaimed") => (Scope::Unclaimed, "unclaimed"),
        _ => (Scope::All, "all"),
    };
    let item = q.item.filter(|i| state.items.latest(i).is_some());
    let lang = v.lang;
    let filter = item.clone();
    let per = q.per.unwrap_or(100).clamp(1, 1000);
    let page = q.page.unwrap_or(1).clamp(1, 10_000);
    let search =
        q.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(100).collect::<String>())
            .unwrap_or_default();
    let pattern = (!search.is_empty()).then(|| crate::repo::filings::contains_pattern(&search));
    let (lines, more) = v
        .run(&state, move |conn, ctx, p| {
            let today = ctx.today();
            let me = p.user_id;
            let find = crate::repo::tasks::QueueSearch {
                pattern: pattern.as_deref(),
                offset: (page - 1) * per,
            };
            let mut rows = queues::urgent(conn, p, scope, filter.as_deref(), per + 1, &find)?;
            let more = rows.len() as i64 > per;
            rows.truncate(usize::try_from(per).unwrap_or(0));
            let mut out = Vec::with_capacity(rows.len());
            for t in rows {
                let it = ctx.items.by_id(conn, t.item_version_id)?;
                let (c, label) = colour(lang, today, t.due_on, t.warn_on);
                let day =
                    |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "—".into());
                out.push(QueueLine {
                    project: it.def.title_of(&t.form),
                    applicant: t.applicant.clone(),
                    statutory: day(t.statutory_due_on),
                    promised: day(t.promised_due_on),
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
            Ok((out, more))
        })
        .await?;
    let link = |page: i64| {
        query_string(&[
            ("scope", scope_name),
            ("item", item.as_deref().unwrap_or("")),
            ("q", &search),
            ("per", &per.to_string()),
            ("page", &page.to_string()),
        ])
    };
    let prev = (page > 1).then(|| link(page - 1));
    let next = more.then(|| link(page + 1));
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
            search,
            page,
            prev,
            next,
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
    mut v: Viewer,
    form: Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    v.check_csrf(&form.csrf)?;
    let claimed = v
        .run(&state, move |conn, ctx, p| {
            queues::claim_next(conn, p, None, ctx.now)
        })
        .await?;
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
    mut v: Viewer,
    path: web::Path<(i64, String)>,
    form: Form<TaskForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    v.check_csrf(&form.csrf)?;
    let (id, what) = path.into_inner();
    let to = form.user_id;
    let result = v
        .attempt(&state, move |conn, ctx, p| match what.as_str() {
            "assign" => match to {
                Some(to) => queues::assign(conn, p, id, to, ctx.now),
                None => Err(AppError::one_invalid(
                    "user_id",
                    "required",
                    "请选择人员",
                    "Choose someone",
                )),
            },
            "claim" => queues::claim(conn, p, id, ctx.now),
            "release" => queues::release(conn, p, id, ctx.now),
            _ => Err(AppError::NotFound),
        })
        .await?;
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
    /// Where the bar's figures lead (a drill-down list), if anywhere.
    pub href: Option<String>,
    /// Top edge and width in the chart's units (a 300 wide drawing area).
    pub y: i32,
    pub width: f64,
    pub colour: &'static str,
}

pub struct Chart {
    pub title: String,
    pub height: i32,
    pub bars: Vec<Bar>,
    /// Said when there are no bars.
    pub empty: String,
    /// Some bars are links: the drawing is a group of controls, not one image.
    pub linked: bool,
}

/// How a chart's bars are coloured.
#[derive(Clone, Copy)]
enum Paint {
    /// A rate: green, yellow or red by the usual thresholds (95%, 80%).
    Rate,
    /// A plain quantity.
    Plain,
    /// Something gone wrong (overdue): red.
    Alarm,
}

/// One bar's source: label, length in 0..=1, the figure written beside it, a link.
type BarRow = (String, f64, String, Option<String>);

/// A horizontal bar chart as SVG geometry.
fn chart(title: String, empty: String, rows: Vec<BarRow>, paint: Paint) -> Chart {
    let bars: Vec<Bar> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, ratio, value, href))| Bar {
            label,
            value,
            href,
            y: 10 + 30 * i as i32,
            width: (ratio.clamp(0.0, 1.0) * 300.0).max(1.0),
            colour: match paint {
                Paint::Plain => "#0b5cad",
                Paint::Alarm => "#cf222e",
                Paint::Rate if ratio >= 0.95 => "#1a7f37",
                Paint::Rate if ratio >= 0.8 => "#9a6700",
                Paint::Rate => "#cf222e",
            },
        })
        .collect();
    Chart {
        title,
        height: 20 + 30 * bars.len() as i32,
        linked: bars.iter().any(|b| b.href.is_some()),
        bars,
        empty,
    }
}

/// Counts as bars scaled to the largest; zeros dropped unless `keep_zeros` (a distribution).
fn counts(
    rows: impl Iterator<Item = (String, i64, Option<String>)>,
    keep_zeros: bool,
) -> Vec<BarRow> {
    let rows: Vec<_> = rows.filter(|(_, n, _)| keep_zeros || *n > 0).collect();
    let most = rows.iter().map(|(_, n, _)| *n).max().unwrap_or(1).max(1) as f64;
    rows.into_iter()
        .map(|(label, n, href)| (label, n as f64 / most, n.to_string(), href))
        .collect()
}

pub struct DueLine {
    pub filing: uuid::Uuid,
    pub number: String,
    pub item: String,
    pub state: String,
    pub department: String,
    pub due: String,
    /// The promised limit's last day, or "—".
    pub promised: String,
    /// What names the filing, and its applicant (masked for a person): on the drill-down.
    pub project: String,
    pub applicant: String,
    pub colour: &'static str,
    pub colour_label: String,
}

/// A row of the by-item or by-department table, with where its figures lead.
pub struct FigureRow {
    pub name: String,
    pub row: reports::SlaRow,
    /// The drill-down query for this row (`item=…` or `department=…`).
    pub query: String,
}

#[derive(Template)]
#[template(path = "pages/dashboard.html", config = "config/askama.toml")]
struct Dashboard {
    ui: Ui,
    /// Read from the replica: how far behind it was (see [`replica_note`]).
    replica: Option<String>,
    from: String,
    to: String,
    /// What is wrong with the period asked for, field by field.
    problems: Vec<(&'static str, String)>,
    /// Departments to choose from (admins and auditors), and the one shown.
    departments: Vec<(String, String)>,
    department: String,
    total: reports::SlaRow,
    by_item: Vec<FigureRow>,
    by_department: Vec<FigureRow>,
    charts: Vec<Chart>,
    due: Vec<DueLine>,
    workload: Vec<reports::WorkloadRow>,
    /// The data exchange: SPGL rows waiting, permit uploads pending and late.
    exchange: crate::services::exchange::ExchangeStatus,
}

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub department: Option<String>,
}

/// The period a dashboard shows: asked for, or this year so far; what was wrong with the ask.
struct Period {
    from: NaiveDate,
    to: NaiveDate,
    problems: Vec<(&'static str, String)>,
}

/// What a period field shows again: what was typed when something was wrong, else the date
/// used.
fn period_input(typed: Option<String>, used: NaiveDate, problems: &[(&str, String)]) -> String {
    typed
        .filter(|_| !problems.is_empty())
        .unwrap_or_else(|| used.to_string())
}

/// 422 when the period asked for was wrong (the page shows this year so far and says why).
fn period_status(problems: &[(&str, String)]) -> StatusCode {
    if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

fn period(ui: &Ui, q: &DashboardQuery, today: NaiveDate) -> Period {
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let mut problems: Vec<(&'static str, String)> = Vec::new();
    let mut date = |field: &'static str, raw: Option<&str>, default: NaiveDate| match raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => default,
        Some(s) => crate::domain::calendar::parse_typed_date(s).unwrap_or_else(|| {
            problems.push((
                field,
                ui.t(
                    "请填写有效日期，如 2026-12-04。",
                    "Enter a real date, such as 2026-12-04.",
                )
                .to_owned(),
            ));
            default
        }),
    };
    let from = date("from", q.from.as_deref(), year_start);
    let to = date("to", q.to.as_deref(), today);
    if from > to {
        problems.push((
            "to",
            ui.t(
                "结束日期不能早于开始日期。",
                "The end cannot come before the start.",
            )
            .to_owned(),
        ));
        return Period {
            from: year_start,
            to: today,
            problems,
        };
    }
    Period { from, to, problems }
}

/// Who may see the dashboard: managers (their department), admins and auditors (every one).
const OVERSEERS: [Role; 3] = [Role::Manager, Role::Admin, Role::Auditor];

/// The name of `code` in a (code, name) list, or the code itself.
pub(super) fn name_in(list: &[(String, String)], code: &str) -> String {
    list.iter()
        .find(|(c, _)| c == code)
        .map_or_else(|| code.to_owned(), |(_, n)| n.clone())
}

/// A query string of `key=value` pairs, each value escaped.
fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The manager's dashboard: a period (this year so far unless asked), by item and department.
#[get("/dashboard")]
pub async fn dashboard(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<DashboardQuery>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    let lang = v.lang;
    let today = state.today();
    let Period { from, to, problems } = period(&v.ui(), &q, today);
    let wanted = q.department.clone().filter(|d| !d.is_empty());
    let owners = reports::owners(&state.items);
    let front = state.front.clone();
    let platform = state.settings.exchange.platform_url.clone();
    let ((asked, chooses, report, months, by_dept, due, workload, departments, exchange), lag) = v
        .run_read(&state, move |conn, ctx, p| {
            p.require(&OVERSEERS)?;
            // A manager sees their own department whatever is asked; others choose or see all.
            let chooses = p.has(Role::Admin) || p.has(Role::Auditor);
            let asked = if chooses {
                wanted
            } else {
                p.department.clone()
            };
            let department = asked.clone();
            let today = ctx.today();
            let query = |group_by| reports::SlaQuery {
                from,
                to,
                group_by,
                item: None,
                department: department.clone(),
                soon_days: 3,
            };
            use reports::GroupBy;
            let report = reports::sla(conn, p, query(GroupBy::Item), today, &owners)?;
            let months = reports::sla(conn, p, query(GroupBy::Month), today, &owners)?;
            let by_dept = reports::sla(conn, p, query(GroupBy::Department), today, &owners)?;
            let until = today
                .checked_add_days(chrono::Days::new(3))
                .unwrap_or(today);
            let due = reports::due(conn, p, department.clone(), until, 50, &owners)?;
            let workload = reports::workload(conn, p, department.clone())?;
            let departments = staff::departments(conn)?;
            let exchange = crate::services::exchange::status(conn, ctx, p, &front, &platform)?;
            Ok((
                asked,
                chooses,
                report,
                months,
                by_dept,
                due,
                workload,
                departments,
                exchange,
            ))
        })
        .await?;
    let ui = v.ui();
    // A failure said in words; the raw text is in the log.
    let mut exchange = exchange;
    {
        use super::words::{Failing, failure};
        exchange.uploads.last_error = exchange
            .uploads
            .last_error
            .map(|e| failure(lang, Failing::Platform, &e));
        exchange.spgl.last_error = exchange
            .spgl
            .last_error
            .map(|e| failure(lang, Failing::FrontDatabase, &e));
    }
    let departments = super::department_names(departments, lang);
    let items: std::collections::BTreeMap<String, String> = state
        .items
        .all_latest()
        .iter()
        .map(|i| (i.def.code.clone(), i.def.name.get(lang).to_owned()))
        .collect();
    let item_name = |k: &str| items.get(k).cloned().unwrap_or_else(|| k.to_owned());
    let dept_name = |k: &str| name_in(&departments, k);
    let dept = asked.clone().unwrap_or_default();
    let item_query = |code: &str| query_string(&[("item", code), ("department", &dept)]);
    let drill_to = |query: &str, due: &str| format!("/dashboard/filings?{query}&due={due}");
    let none_decided = ui.t(
        "这段时间没有办结的办件。",
        "Nothing decided in this period.",
    );
    let none_overdue = ui.t("没有超期的办件。", "Nothing is overdue.");
    let on_time = chart(
        ui.t("按时办结率（法定时限）", "On time (statutory limit)")
            .to_owned(),
        none_decided.to_owned(),
        report
            .rows
            .iter()
            .filter_map(|r| {
                r.on_time_rate_statutory
                    .map(|x| (item_name(&r.key), x, format!("{:.1}%", x * 100.0), None))
            })
            .collect(),
        Paint::Rate,
    );
    let on_time_promised = chart(
        ui.t("按时办结率（承诺时限）", "On time (promised limit)")
            .to_owned(),
        none_decided.to_owned(),
        report
            .rows
            .iter()
            .filter_map(|r| {
                r.on_time_rate_promised
                    .map(|x| (item_name(&r.key), x, format!("{:.1}%", x * 100.0), None))
            })
            .collect(),
        Paint::Rate,
    );
    let by_month = chart(
        ui.t(
            "按月按时办结率（法定时限）",
            "On time by month (statutory limit)",
        )
        .to_owned(),
        none_decided.to_owned(),
        months
            .rows
            .iter()
            .filter_map(|r| {
                r.on_time_rate_statutory
                    .map(|x| (r.key.clone(), x, format!("{:.1}%", x * 100.0), None))
            })
            .collect(),
        Paint::Rate,
    );
    let longest = report
        .rows
        .iter()
        .filter_map(|r| r.p90_working_days)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let times = chart(
        ui.t(
            "办理用时 P90（工作日）",
            "Processing time, 90th percentile (working days)",
        )
        .to_owned(),
        none_decided.to_owned(),
        report
            .rows
            .iter()
            .filter_map(|r| {
                r.p90_working_days.map(|d| {
                    let median = r.median_working_days.unwrap_or(0);
                    (
                        item_name(&r.key),
                        f64::from(d) / longest,
                        match lang {
                            Lang::Zh => format!("中位 {median} / P90 {d}"),
                            Lang::En => format!("median {median} / p90 {d}"),
                        },
                        None,
                    )
                })
            })
            .collect(),
        Paint::Plain,
    );
    let spread = chart(
        ui.t(
            "办理用时分布（工作日，已办结）",
            "Processing time, decided filings (working days)",
        )
        .to_owned(),
        none_decided.to_owned(),
        if report.total.decided == 0 {
            Vec::new()
        } else {
            counts(
                report.distribution.iter().map(|b| {
                    let label = match (b.to_days, lang) {
                        (Some(t), _) if t == b.from_days => t.to_string(),
                        (Some(t), _) => format!("{}–{t}", b.from_days),
                        (None, Lang::Zh) => format!("{} 及以上", b.from_days),
                        (None, Lang::En) => format!("{} or more", b.from_days),
                    };
                    (label, b.filings, None)
                }),
                true,
            )
        },
        Paint::Plain,
    );
    let overdue_items = chart(
        ui.t("已超期（按事项）", "Overdue now, by item").to_owned(),
        none_overdue.to_owned(),
        counts(
            report.rows.iter().map(|r| {
                (
                    item_name(&r.key),
                    r.overdue_now,
                    Some(drill_to(&item_query(&r.key), "overdue")),
                )
            }),
            false,
        ),
        Paint::Alarm,
    );
    let overdue_depts = chart(
        ui.t("已超期（按部门）", "Overdue now, by department")
            .to_owned(),
        none_overdue.to_owned(),
        counts(
            by_dept.rows.iter().map(|r| {
                (
                    dept_name(&r.key),
                    r.overdue_now,
                    Some(drill_to(
                        &query_string(&[("department", &r.key)]),
                        "overdue",
                    )),
                )
            }),
            false,
        ),
        Paint::Alarm,
    );
    let load = chart(
        ui.t("人员在办量（已认领）", "Claimed work per person")
            .to_owned(),
        ui.t("没有已认领的在办件。", "Nothing claimed.").to_owned(),
        counts(
            workload
                .iter()
                .map(|w| (w.display_name.clone(), w.claimed, None)),
            false,
        ),
        Paint::Plain,
    );
    let due = due
        .into_iter()
        .map(|d| due_line(lang, today, &state, &item_name, &dept_name, d))
        .collect();
    let by_item = report
        .rows
        .into_iter()
        .map(|r| FigureRow {
            name: item_name(&r.key),
            query: item_query(&r.key),
            row: r,
        })
        .collect();
    let by_department = by_dept
        .rows
        .into_iter()
        .map(|r| FigureRow {
            name: dept_name(&r.key),
            query: query_string(&[("department", &r.key)]),
            row: r,
        })
        .collect();
    v.render(
        period_status(&problems),
        &Dashboard {
            replica: replica_note(&ui, lag),
            ui,
            from: period_input(q.from, from, &problems),
            to: period_input(q.to, to, &problems),
            problems,
            departments: if chooses { departments } else { Vec::new() },
            department: dept,
            total: report.total,
            by_item,
            by_department,
            charts: vec![
                on_time,
                on_time_promised,
                by_month,
                times,
                spread,
                overdue_items,
                overdue_depts,
                load,
            ],
            due,
            workload,
            exchange,
        },
    )
}

fn due_line(
    lang: Lang,
    today: NaiveDate,
    state: &AppState,
    item_name: &impl Fn(&str) -> String,
    dept_name: &impl Fn(&str) -> String,
    d: reports::DueRow,
) -> DueLine {
    let (c, label) = colour(lang, today, Some(d.statutory_due_on), None);
    let step = state
        .items
        .latest(&d.item_code)
        .and_then(|i| i.def.state(&d.state).map(|s| s.label.get(lang).to_owned()))
        .unwrap_or_else(|| d.state.clone());
    DueLine {
        filing: d.id,
        number: d.number.unwrap_or_default(),
        item: item_name(&d.item_code),
        state: step,
        department: dept_name(&d.department),
        due: d.statutory_due_on.to_string(),
        promised: d
            .promised_due_on
            .map(|p| p.to_string())
            .unwrap_or_else(|| "—".into()),
        project: String::new(),
        applicant: String::new(),
        colour: c,
        colour_label: label,
    }
}

#[derive(Template)]
#[template(path = "pages/drill.html", config = "config/askama.toml")]
struct DrillPage {
    ui: Ui,
    title: String,
    window: &'static str,
    item: String,
    department: String,
    items: Vec<(String, String)>,
    departments: Vec<(String, String)>,
    lines: Vec<DueLine>,
    count: String,
}

#[derive(Debug, Deserialize)]
pub struct DrillQuery {
    pub item: Option<String>,
    pub department: Option<String>,
    pub due: Option<String>,
}

/// Lines a drill-down list shows; the rest are counted.
const DRILL_LINES: i64 = 500;

/// The open filings behind a dashboard figure: overdue, due soon or all open, by item and
/// department, most urgent first.
#[get("/dashboard/filings")]
pub async fn drill(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<DrillQuery>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    let lang = v.lang;
    let (window, window_name) = match q.due.as_deref() {
        Some("soon") => (reports::DueWindow::Soon, "soon"),
        Some("open") => (reports::DueWindow::Open, "open"),
        Some("overdue_promised") => (reports::DueWindow::OverduePromised, "overdue_promised"),
        _ => (reports::DueWindow::Overdue, "overdue"),
    };
    let item = q
        .item
        .filter(|i| state.items.latest(i).is_some())
        .unwrap_or_default();
    // A manager asking for another department is refused (scope), not silently redirected.
    let department = q.department.filter(|d| !d.is_empty());
    let owners = reports::owners(&state.items);
    let (wanted_item, wanted_dept) = (item.clone(), department.clone());
    let (chooses, rows, total, named, departments) = v
        .run(&state, move |conn, ctx, p| {
            p.require(&OVERSEERS)?;
            let chooses = p.has(Role::Admin) || p.has(Role::Auditor);
            let today = ctx.today();
            let item = Some(wanted_item.as_str()).filter(|i| !i.is_empty());
            let (rows, total) = reports::drill(
                conn,
                p,
                wanted_dept,
                item,
                window,
                today,
                3,
                DRILL_LINES,
                &owners,
            )?;
            // Each line's project and applicant. Overseers supervise and do not handle: a
            // person applicant's name is masked (services::filings::privacy).
            let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
            let mut named = std::collections::HashMap::new();
            for (id, version, form, name, kind) in crate::repo::filings::heads(conn, &ids)? {
                let project = ctx.items.by_id(conn, version)?.def.title_of(&form);
                let applicant = if kind == "person" {
                    crate::domain::forms::mask_name(&name)
                } else {
                    name
                };
                named.insert(id, (project, applicant));
            }
            Ok((chooses, rows, total, named, staff::departments(conn)?))
        })
        .await?;
    let ui = v.ui();
    let departments = super::department_names(departments, lang);
    let today = state.today();
    let items: Vec<(String, String)> = state
        .items
        .all_latest()
        .iter()
        .map(|i| (i.def.code.clone(), i.def.name.get(lang).to_owned()))
        .collect();
    let item_name = |k: &str| name_in(&items, k);
    let dept_name = |k: &str| name_in(&departments, k);
    let lines: Vec<DueLine> = rows
        .into_iter()
        .map(|d| {
            let (project, applicant) = named.get(&d.id).cloned().unwrap_or_default();
            DueLine {
                project,
                applicant,
                ..due_line(lang, today, &state, &item_name, &dept_name, d)
            }
        })
        .collect();
    let title = match window {
        reports::DueWindow::Overdue => {
            ui.t("超过法定时限的办件", "Filings past the statutory limit")
        }
        reports::DueWindow::OverduePromised => {
            ui.t("超过承诺时限的办件", "Filings past the promised limit")
        }
        reports::DueWindow::Soon => ui.t("临近期限的办件", "Filings due soon"),
        reports::DueWindow::Open => ui.t("在办件", "Open filings"),
    }
    .to_owned();
    let shown = lines.len();
    let count = match (lang, i64::try_from(shown).unwrap_or(i64::MAX) < total) {
        (Lang::Zh, true) => format!("共 {total} 件，按期限先后显示前 {shown} 件。"),
        (Lang::Zh, false) => format!("共 {total} 件。"),
        (Lang::En, true) => format!("{total} filings; the first {shown} by due day are shown."),
        (Lang::En, false) if total == 1 => "1 filing.".to_owned(),
        (Lang::En, false) => format!("{total} filings."),
    };
    v.render(
        StatusCode::OK,
        &DrillPage {
            ui,
            title,
            count,
            window: window_name,
            item,
            department: department.unwrap_or_default(),
            items,
            departments: if chooses { departments } else { Vec::new() },
            lines,
        },
    )
}

/// The dashboard's figures as CSV (the same report as the API's, for a signed-in manager).
#[get("/dashboard/sla.csv")]
pub async fn sla_csv(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<DashboardQuery>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    let ui = v.ui();
    let Period { from, to, problems } = period(&ui, &q, state.today());
    if !problems.is_empty() {
        // Already in the viewer's language.
        let detail = problems
            .iter()
            .map(|(field, m)| {
                let named = match *field {
                    "from" => ui.t("开始日期", "Start"),
                    _ => ui.t("结束日期", "End"),
                };
                format!("{named}{}{m}", ui.colon())
            })
            .collect::<Vec<_>>()
            .join(ui.t("；", "; "));
        return Err(PageError::new(
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            crate::domain::Text {
                zh: "统计期间有误".into(),
                en: "The period is wrong".into(),
            },
            crate::domain::Text {
                zh: detail.clone(),
                en: detail,
            },
        ));
    }
    let department = q.department.filter(|d| !d.is_empty());
    let owners = reports::owners(&state.items);
    let owners_by_item = owners.clone();
    let (report, departments) = v
        .run(&state, move |conn, ctx, p| {
            let today = ctx.today();
            let report = reports::sla(
                conn,
                p,
                reports::SlaQuery {
                    from,
                    to,
                    group_by: reports::GroupBy::Item,
                    item: None,
                    department,
                    soon_days: 3,
                },
                today,
                &owners,
            )?;
            Ok((report, staff::departments(conn)?))
        })
        .await?;
    let departments = super::department_names(departments, v.lang);
    let names = |code: &str| {
        let item = state
            .items
            .latest(code)
            .map_or_else(|| code.to_owned(), |i| i.def.name.get(v.lang).to_owned());
        let dept = owners_by_item
            .get(code)
            .map(|d| name_in(&departments, d))
            .unwrap_or_default();
        (item, dept)
    };
    let body = sla_table(&report, v.lang, names)
        .map_err(|e| PageError::from_app(&v, AppError::Internal(e)))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"sla.csv\"",
        ))
        .body(body))
}

/// The SLA figures as a table for a spreadsheet: headers in the viewer's language, each item
/// by its name and department beside its code, rates as percentages; UTF-8 with a byte-order
/// mark, so that Excel reads the Chinese. (The API's CSV keeps its field names, for programs.)
fn sla_table(
    report: &reports::SlaReport,
    lang: Lang,
    names: impl Fn(&str) -> (String, String),
) -> anyhow::Result<Vec<u8>> {
    let headers: [(&str, &str); 23] = [
        ("事项代码", "Item code"),
        ("事项", "Item"),
        ("主办部门", "Department"),
        ("受理", "Received"),
        ("办结", "Closed"),
        ("准予", "Granted"),
        ("不予", "Refused"),
        ("撤回", "Withdrawn"),
        ("不予受理", "Not accepted"),
        (
            "作出决定（开始计时后）",
            "Decided (after the clock started)",
        ),
        ("法定时限内办结", "On time (statutory)"),
        ("超过法定时限", "Late (statutory)"),
        ("按时办结率（法定时限）", "On-time rate (statutory)"),
        ("承诺时限内办结", "On time (promised)"),
        ("超过承诺时限", "Late (promised)"),
        ("按时办结率（承诺时限）", "On-time rate (promised)"),
        ("办理用时中位数（工作日）", "Median working days"),
        ("办理用时90%分位（工作日）", "90th percentile working days"),
        ("暂停计时天数中位数", "Median days suspended"),
        ("暂停计时天数合计", "Days suspended in all"),
        ("在办", "Open"),
        ("已超期", "Overdue now"),
        ("即将到期", "Due soon"),
    ];
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    w.write_record(headers.iter().map(|(zh, en)| match lang {
        Lang::Zh => *zh,
        Lang::En => *en,
    }))?;
    let opt = |v: Option<i32>| v.map(|n| n.to_string()).unwrap_or_default();
    let rate = |v: Option<f64>| v.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_default();
    let rows = report
        .rows
        .iter()
        .map(|r| (r, Some(names(&r.key))))
        .chain(std::iter::once((&report.total, None)));
    for (r, named) in rows {
        let (key, item, dept) = match named {
            Some((item, dept)) => (r.key.clone(), item, dept),
            None => (
                String::new(),
                match lang {
                    Lang::Zh => "合计".to_owned(),
                    Lang::En => "Total".to_owned(),
                },
                String::new(),
            ),
        };
        w.write_record([
            key,
            item,
            dept,
            r.received.to_string(),
            r.closed.to_string(),
            r.approved.to_string(),
            r.refused.to_string(),
            r.withdrawn.to_string(),
            r.not_accepted.to_string(),
            r.decided.to_string(),
            r.on_time_statutory.to_string(),
            r.late_statutory.to_string(),
            rate(r.on_time_rate_statutory),
            r.on_time_promised.to_string(),
            r.late_promised.to_string(),
            rate(r.on_time_rate_promised),
            opt(r.median_working_days),
            opt(r.p90_working_days),
            opt(r.median_suspended_days),
            r.suspended_days_total.to_string(),
            r.open.to_string(),
            r.overdue_now.to_string(),
            r.due_soon.to_string(),
        ])?;
    }
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))
}

#[derive(Template)]
#[template(path = "pages/work_report.html", config = "config/askama.toml")]
struct WorkReportPage {
    ui: Ui,
    replica: Option<String>,
    from: String,
    to: String,
    problems: Vec<(&'static str, String)>,
    items: Vec<WorkLine>,
    charts: Vec<Chart>,
}

struct WorkLine {
    name: String,
    received: i64,
    decided: i64,
    open: i64,
    categories: Vec<(String, i64)>,
    sentence: String,
}

/// The office's work report (工作报告) for a period: per item the filings received, decided and
/// open, the item's categories, the sentences ready to paste, charts, and the downloads.
#[get("/dashboard/work")]
pub async fn work_report(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<DashboardQuery>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    let lang = v.lang;
    let Period { from, to, problems } = period(&v.ui(), &q, state.today());
    let (report, lag) = v
        .run_read(&state, move |conn, ctx, p| {
            p.require(&OVERSEERS)?;
            reports::work(conn, ctx, p, from, to)
        })
        .await?;
    let ui = v.ui();
    let received = chart(
        ui.t("受理件数（按事项）", "Received, by item").to_owned(),
        ui.t(
            "这段时间没有受理的办件。",
            "Nothing received in this period.",
        )
        .to_owned(),
        counts(
            report
                .items
                .iter()
                .map(|i| (i.name.get(lang).to_owned(), i.received, None)),
            false,
        ),
        Paint::Plain,
    );
    let categories = chart(
        ui.t("各事项分类", "Each item's categories").to_owned(),
        ui.t(
            "这段时间没有可分类的办件。",
            "Nothing to count in this period.",
        )
        .to_owned(),
        counts(
            report.items.iter().flat_map(|i| {
                i.categories.iter().map(move |c| {
                    (
                        format!("{} · {}", short(i.name.get(lang)), c.label.get(lang)),
                        c.value,
                        None,
                    )
                })
            }),
            false,
        ),
        Paint::Plain,
    );
    let items = report
        .items
        .iter()
        .map(|i| WorkLine {
            name: i.name.get(lang).to_owned(),
            received: i.received,
            decided: i.decided,
            open: i.open,
            categories: i
                .categories
                .iter()
                .map(|c| (c.label.get(lang).to_owned(), c.value))
                .collect(),
            sentence: i.sentence.get(lang).to_owned(),
        })
        .collect();
    v.render(
        period_status(&problems),
        &WorkReportPage {
            replica: replica_note(&ui, lag),
            ui,
            from: period_input(q.from, from, &problems),
            to: period_input(q.to, to, &problems),
            problems,
            items,
            charts: vec![received, categories],
        },
    )
}

/// An item's name cut to fit beside a bar (the chart's label column is 200 units wide).
fn short(name: &str) -> String {
    let mut s: String = name.chars().take(8).collect();
    if name.chars().count() > 8 {
        s.push('…');
    }
    s
}

/// The work report as a spreadsheet or CSV, for a signed-in manager (the API's, by session).
#[get("/dashboard/work.{ext}")]
pub async fn work_report_file(
    state: web::Data<AppState>,
    mut v: Viewer,
    ext: web::Path<String>,
    q: Query<DashboardQuery>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    let lang = v.lang;
    let ext = ext.into_inner();
    let Period { from, to, problems } = period(&v.ui(), &q, state.today());
    if !problems.is_empty() || !(ext == "xlsx" || ext == "csv") {
        return Err(PageError::new(
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            crate::domain::Text {
                zh: "无法导出".into(),
                en: "Cannot export".into(),
            },
            crate::domain::Text {
                zh: "请检查统计期间（年-月-日），格式为 xlsx 或 csv。".into(),
                en: "Check the period (year-month-day); the format is xlsx or csv.".into(),
            },
        ));
    }
    let name = format!("work-report-{from}-{to}");
    let (bytes, xlsx) = v
        .run(&state, move |conn, ctx, p| {
            p.require(&OVERSEERS)?;
            let report = reports::work(conn, ctx, p, from, to)?;
            if ext == "xlsx" {
                Ok((reports::work_xlsx(&report, lang)?, true))
            } else {
                Ok((reports::work_csv(&report, lang)?, false))
            }
        })
        .await?;
    Ok(if xlsx {
        crate::web::api::reports::xlsx_response(&name, bytes)
    } else {
        HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                actix_web::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ))
            .body(bytes)
    })
}

/// What a page read from the replica says of it: how far behind the primary it was.
fn replica_note(ui: &Ui, lag: Option<f64>) -> Option<String> {
    lag.map(|secs| match secs {
        s if s <= 0.0 => ui
            .t(
                "数据来自只读副本，与主库同步。",
                "Read from the replica, up to date.",
            )
            .to_owned(),
        s if s < 1.0 => ui
            .t(
                "数据来自只读副本，落后不到 1 秒。",
                "Read from the replica, less than 1 s behind.",
            )
            .to_owned(),
        s => format!(
            "{}{:.0}{}",
            ui.t("数据来自只读副本，约落后 ", "Read from the replica, about "),
            s,
            ui.t(" 秒。", " s behind."),
        ),
    })
}
