//! Administration pages: users and roles, departments, calendars (view a year, load a notice),
//! item versions, failed mail (retry), jobs, and audit verification (auditors too).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use chrono::Datelike;
use serde::Deserialize;

use super::{PageError, Ui, Viewer, form_value, see_other, words};
use crate::app::AppState;
use crate::domain::Lang;
use crate::domain::calendar::{DayKind, YearEntry};
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::services::staff::{self, NewStaff};
use crate::services::{admin, auth};
use crate::web::extract::{Form, Query};

pub struct UserLine {
    pub id: uuid::Uuid,
    pub username: String,
    pub name: String,
    /// Person, company or staff, in words.
    pub kind: &'static str,
    /// The department's name.
    pub department: String,
    pub roles: String,
    pub active: bool,
    /// The administrator looking (who cannot deactivate themselves).
    pub is_me: bool,
}

pub struct ItemLine {
    pub code: String,
    pub name: String,
    pub version: i32,
    pub digest: String,
    pub loaded: String,
}

pub struct FailedMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub created: String,
    /// Why it failed, in words (the server's answer is in the log).
    pub why: String,
}

/// A job's last run: times in the office's zone, the result in words.
pub struct JobLine {
    pub name: String,
    /// Which instance ran it (host:pid), shown as a detail.
    pub instance: String,
    pub started: String,
    pub ended: Option<String>,
    pub running: bool,
    pub result: String,
    pub failed: bool,
}

#[derive(Template)]
#[template(path = "pages/admin.html", config = "config/askama.toml")]
struct AdminPage {
    ui: Ui,
    users: Vec<UserLine>,
    departments: Vec<(String, String)>,
    roles: Vec<(String, String)>,
    items: Vec<ItemLine>,
    failed: Vec<FailedMail>,
    /// The outbox by status, in words.
    outbox: Vec<String>,
    jobs: Vec<JobLine>,
    /// The office's zone (`UTC+8`), said beside the times.
    zone: String,
    /// The data exchange: how many rows and uploads wait, and why (in words below).
    exchange: crate::services::exchange::ExchangeStatus,
    spgl_error: Option<String>,
    upload_error: Option<String>,
    message: Option<String>,
    problems: Vec<String>,
}

/// The administration page, read in one hop (which also checks the session).
async fn admin_page(
    state: &AppState,
    v: &mut Viewer,
    message: Option<String>,
    problems: Vec<String>,
) -> Result<AdminPage, PageError> {
    let front = state.front.clone();
    let platform = state.settings.exchange.platform_url.clone();
    let (o, exchange) = v
        .run(state, move |conn, ctx, p| {
            let o = admin::overview(conn, p)?;
            let x = crate::services::exchange::status(conn, ctx, p, &front, &platform)?;
            Ok((o, x))
        })
        .await?;
    let lang = v.lang;
    let offset = state.offset;
    let me = v.principal.as_ref().map(|p| p.user_id);
    let departments = super::department_names(o.departments, lang);
    let users = o
        .users
        .into_iter()
        .map(|u| UserLine {
            roles: u
                .roles
                .iter()
                .map(|r| words::role(lang, *r))
                .collect::<Vec<_>>()
                .join(if lang == Lang::Zh { "、" } else { ", " }),
            id: u.id,
            is_me: Some(u.id) == me,
            username: u.username,
            name: u.display_name,
            kind: words::user_kind(lang, u.kind),
            department: u
                .department
                .map(|d| super::work::name_in(&departments, &d))
                .unwrap_or_default(),
            active: u.active,
        })
        .collect();
    let items = o
        .items
        .into_iter()
        .map(|i| ItemLine {
            name: state
                .items
                .latest(&i.code)
                .map_or_else(|| i.code.clone(), |it| it.def.name.get(lang).to_owned()),
            version: i.version,
            digest: i.digest[..12.min(i.digest.len())].to_owned(),
            loaded: words::local_minute(i.loaded_at, offset),
            code: i.code,
        })
        .collect();
    let failed = o
        .failed
        .into_iter()
        .map(|m| FailedMail {
            id: m.id,
            to: m.to_address,
            subject: m.subject,
            created: words::local_minute(m.created_at, offset),
            why: words::failure(
                lang,
                words::Failing::MailServer,
                m.last_error.as_deref().unwrap_or_default(),
            ),
        })
        .collect();
    let jobs = o
        .jobs
        .into_iter()
        .map(|j| {
            let running = j
                .running_until
                .is_some_and(|_| j.last_finished_at.is_none_or(|f| f < j.last_started_at));
            let result = match (&j.last_error, &j.last_result) {
                (Some(e), _) => words::failure(lang, words::Failing::Job, e),
                (None, Some(r)) => words::job_result(lang, &j.job, r),
                (None, None) => String::new(),
            };
            JobLine {
                name: words::job_name(lang, &j.job),
                instance: j.last_instance,
                started: words::local_minute(j.last_started_at, offset),
                ended: j
                    .last_finished_at
                    .filter(|_| !running)
                    .map(|t| words::local_minute(t, offset)),
                running,
                failed: j.last_error.is_some(),
                result,
            }
        })
        .collect();
    let spgl_error = exchange
        .spgl
        .last_error
        .as_deref()
        .map(|e| words::failure(lang, words::Failing::FrontDatabase, e));
    let upload_error = exchange
        .uploads
        .last_error
        .as_deref()
        .map(|e| words::failure(lang, words::Failing::Platform, e));
    Ok(AdminPage {
        ui: v.ui(),
        exchange,
        spgl_error,
        upload_error,
        users,
        departments,
        roles: [
            Role::Clerk,
            Role::Reviewer,
            Role::Inspector,
            Role::Manager,
            Role::Admin,
            Role::Auditor,
        ]
        .into_iter()
        .map(|r| (r.as_str().to_owned(), words::role(lang, r).to_owned()))
        .collect(),
        items,
        failed,
        outbox: o
            .outbox
            .into_iter()
            .map(|(s, n)| words::mail_count(lang, s, n))
            .collect(),
        jobs,
        zone: words::zone(offset),
        message,
        problems,
    })
}

/// The administration page.
#[get("/admin")]
pub async fn index(state: web::Data<AppState>, mut v: Viewer) -> Result<HttpResponse, PageError> {
    let page = admin_page(&state, &mut v, None, Vec::new()).await?;
    v.render(StatusCode::OK, &page)
}

/// Create a staff account.
#[post("/admin/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    mut v: Viewer,
    pairs: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let pairs = v.posted(pairs)?;
    let get = |k: &str| form_value(&pairs, k).unwrap_or_default();
    let roles: Vec<Role> = pairs
        .iter()
        .filter(|(k, _)| k == "role")
        .filter_map(|(_, r)| Role::parse(r))
        .filter(|r| *r != Role::Applicant)
        .collect();
    let (username, name, department, email, password) = (
        get("username").to_lowercase(),
        get("display_name"),
        get("department"),
        get("email"),
        get("password"),
    );
    let mut problems = Vec::new();
    let lang = v.lang;
    let t = |zh: &str, en: &str| match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    };
    if username.len() < 3 || username.len() > 64 {
        problems.push(t(
            "用户名须为 3 到 64 个字符",
            "The user name needs 3 to 64 characters",
        ));
    }
    if name.is_empty() {
        problems.push(t("请填写姓名", "Give the person's name"));
    }
    if password.chars().count() < 10 {
        problems.push(t(
            "初始密码至少 10 个字符",
            "The first password needs at least 10 characters",
        ));
    }
    if roles.is_empty() {
        problems.push(t("请至少选择一个角色", "Choose at least one role"));
    }
    if !problems.is_empty() {
        let page = admin_page(
            &state,
            &mut v,
            Some(t("账号未创建：", "Not created:")),
            problems,
        )
        .await?;
        return v.render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let result = v
        .attempt(&state, move |conn, ctx, p| {
            staff::create(
                conn,
                p,
                &NewStaff {
                    username: &username,
                    password: &password,
                    display_name: &name,
                    department: &department,
                    roles: &roles,
                    email: Some(email.as_str()).filter(|e| !e.is_empty()),
                    lang: Lang::Zh,
                },
                ctx.now,
            )
        })
        .await?;
    match result {
        Ok(_) => Ok(see_other("/admin#users")),
        Err(AppError::Validation(ps)) => {
            let problems = ps.iter().map(|p| p.message.get(lang).to_owned()).collect();
            let page = admin_page(
                &state,
                &mut v,
                Some(t("账号未创建：", "Not created:")),
                problems,
            )
            .await?;
            v.render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(AppError::Conflict { .. }) => {
            let page = admin_page(
                &state,
                &mut v,
                Some(t("账号未创建：", "Not created:")),
                vec![t("该用户名已被使用", "That user name is taken")],
            )
            .await?;
            v.render(StatusCode::CONFLICT, &page)
        }
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    pub active: bool,
}

/// Deactivate or reactivate an account (see `services::auth::set_active`).
#[post("/admin/users/{id}/active")]
pub async fn set_active(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<uuid::Uuid>,
    form: Form<ActiveForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    v.check_csrf(&form.csrf)?;
    let (id, active) = (id.into_inner(), form.active);
    v.run(&state, move |conn, ctx, p| {
        auth::set_active(conn, p, id, active, ctx.now)
    })
    .await?;
    Ok(see_other("/admin#users"))
}

/// Send a failed message again.
#[post("/admin/mail/{id}/retry")]
pub async fn retry_mail(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<i64>,
    form: Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    v.check_csrf(&form.csrf)?;
    let id = id.into_inner();
    match v
        .attempt(&state, move |conn, ctx, p| {
            crate::services::notify::retry_mail(conn, p, id, ctx.now)
        })
        .await?
    {
        Ok(_) | Err(AppError::Conflict { .. }) => Ok(see_other("/admin#mail")),
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}

pub struct DayLine {
    pub date: String,
    pub kind: String,
    pub name: String,
    pub source: String,
}

#[derive(Template)]
#[template(path = "pages/calendar.html", config = "config/askama.toml")]
struct CalendarPage {
    ui: Ui,
    region: String,
    year: i32,
    notice: Option<String>,
    provisional: bool,
    days: Vec<DayLine>,
    message: Option<String>,
    problems: Vec<String>,
    form_notice: String,
    form_holidays: String,
    form_workdays: String,
}

#[derive(Debug, Deserialize)]
pub struct YearQuery {
    pub year: Option<i32>,
}

fn kind_label(lang: Lang, k: DayKind) -> String {
    let (zh, en) = match k {
        DayKind::Workday => ("工作日", "working day"),
        DayKind::Weekend => ("周末", "weekend"),
        DayKind::Holiday => ("放假", "holiday"),
        DayKind::MakeupWorkday => ("调休上班", "make-up working day"),
        DayKind::StatutoryHoliday => ("法定节假日（推算）", "statutory holiday (computed)"),
        DayKind::LocalHoliday => ("地方假日", "local holiday"),
    };
    match lang {
        Lang::Zh => zh.into(),
        Lang::En => en.into(),
    }
}

fn calendar_page(
    state: &AppState,
    v: &Viewer,
    year: i32,
    message: Option<String>,
    problems: Vec<String>,
    form: (String, String, String),
) -> Result<CalendarPage, PageError> {
    let rc = state.calendar().map_err(|e| PageError::from_app(v, e))?;
    let days = rc
        .calendar
        .special_days(year)
        .map_err(|_| {
            PageError::from_app(
                v,
                AppError::one_invalid(
                    "year",
                    "out_of_range",
                    "年份须在 2000 至 2099 之间",
                    "The year must be between 2000 and 2099",
                ),
            )
        })?
        .into_iter()
        .map(|d| DayLine {
            date: d.date.to_string(),
            kind: kind_label(v.lang, d.kind),
            name: d.name.map(|n| n.get(v.lang).to_owned()).unwrap_or_default(),
            // The notice's own name, or where a day without one comes from.
            source: match d.source.as_str() {
                "statutory" => super::filing::pick(
                    v.lang,
                    "按法定节假日推算",
                    "computed from the statutory holidays",
                ),
                "local" => super::filing::pick(v.lang, "地方规定", "local rule"),
                notice => notice.to_owned(),
            },
        })
        .collect();
    Ok(CalendarPage {
        ui: v.ui(),
        region: state.settings.authority.region.clone(),
        year,
        notice: rc.calendar.notice(year).map(str::to_owned),
        provisional: rc.calendar.is_provisional(year),
        days,
        message,
        problems,
        form_notice: form.0,
        form_holidays: form.1,
        form_workdays: form.2,
    })
}

/// A year of the authority's calendar, and the form to load its notice.
#[get("/admin/calendar")]
pub async fn calendar(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<YearQuery>,
) -> Result<HttpResponse, PageError> {
    v.require(&state, Role::Admin).await?;
    let q = v.query(q)?;
    let year = q
        .year
        .unwrap_or_else(|| crate::clock::local_date(state.clock.now(), state.offset).year() + 1)
        .clamp(
            crate::domain::calendar::FIRST_YEAR,
            crate::domain::calendar::LAST_YEAR,
        );
    let page = calendar_page(&state, &v, year, None, Vec::new(), Default::default())?;
    v.render(StatusCode::OK, &page)
}

#[derive(Debug, Deserialize)]
pub struct NoticeForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub notice: String,
    #[serde(default)]
    pub holidays: String,
    #[serde(default)]
    pub workdays: String,
}

/// Load a year's notice: open filings' deadlines are recomputed, and it is audited.
#[post("/admin/calendar/{year}")]
pub async fn load_notice(
    state: web::Data<AppState>,
    mut v: Viewer,
    year: web::Path<i32>,
    form: Form<NoticeForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    v.check_csrf(&form.csrf)?;
    let year = year.into_inner();
    let lines = |s: &str| {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let entry = YearEntry {
        year,
        notice: form.notice.clone(),
        holidays: lines(&form.holidays),
        workdays: lines(&form.workdays),
    };
    let st = state.clone();
    let result = v
        .attempt(&state, move |conn, ctx, p| {
            p.require(&[Role::Admin])?;
            crate::services::calendars::load_year(
                conn,
                &st.calendars,
                ctx.items,
                &st.settings.authority.region,
                Some(p.user_id),
                &st.settings.authority.region,
                &entry,
                ctx.now,
                ctx.offset,
            )
        })
        .await?;
    let lang = v.lang;
    match result {
        Ok(loaded) => {
            let msg = match lang {
                Lang::Zh => format!(
                    "已载入 {} 年放假安排（{} 天放假、{} 天调休上班），重新计算了 {} 件在办件的期限。",
                    loaded.year, loaded.holidays, loaded.workdays, loaded.recomputed
                ),
                Lang::En => format!(
                    "Loaded {}: {}, {}; deadlines of {} recomputed.",
                    loaded.year,
                    words::en_count(loaded.holidays as i64, "holiday", "holidays"),
                    words::en_count(
                        loaded.workdays as i64,
                        "make-up working day",
                        "make-up working days"
                    ),
                    words::en_count(loaded.recomputed as i64, "open filing", "open filings"),
                ),
            };
            let page = calendar_page(&state, &v, year, Some(msg), Vec::new(), Default::default())?;
            v.render(StatusCode::OK, &page)
        }
        Err(AppError::Validation(ps)) => {
            let problems = ps.iter().map(|p| p.message.get(lang).to_owned()).collect();
            let msg = match lang {
                Lang::Zh => "未载入：".to_owned(),
                Lang::En => "Not loaded:".to_owned(),
            };
            let page = calendar_page(
                &state,
                &v,
                year,
                Some(msg),
                problems,
                (form.notice, form.holidays, form.workdays),
            )?;
            v.render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}
