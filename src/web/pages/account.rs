//! Signing in and out, the language switch, and the applicant's own filings.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use super::{LANG_COOKIE, PageError, SESSION_COOKIE, Ui, Viewer, safe_next, see_other};
use crate::app::AppState;
use crate::domain::Text;
use crate::domain::definition::{Role, StateKind};
use crate::error::AppError;
use crate::services::{auth, filings};
use crate::web::extract::{Form, Query};

#[derive(Debug, Deserialize)]
pub struct Next {
    pub next: Option<String>,
}

/// Switch the language and remember it for a year.
#[get("/lang/{lang}")]
pub async fn switch_lang(
    v: Viewer,
    lang: web::Path<String>,
    q: Query<Next>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    let Some(lang) = crate::domain::Lang::parse(&lang) else {
        return Err(PageError::from_app(&v, AppError::NotFound));
    };
    let to = q.next.as_deref().and_then(safe_next).unwrap_or("/");
    let mut r = see_other(to);
    r.add_cookie(&v.cookie(LANG_COOKIE, lang.as_str().to_owned(), 365 * 24 * 3600))
        .map_err(|e| PageError::internal(&v, e.into()))?;
    Ok(r)
}

#[derive(Template)]
#[template(path = "pages/login.html", config = "config/askama.toml")]
struct LoginPage {
    ui: Ui,
    error: Option<String>,
    username: String,
    next: String,
}

impl LoginPage {
    /// `next` for the link to registering.
    fn next_encoded(&self) -> String {
        super::encoded(&self.next)
    }
}

#[get("/login")]
pub async fn login_page(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<Next>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    v.identify(&state).await?;
    let next = q
        .next
        .as_deref()
        .and_then(safe_next)
        .unwrap_or("")
        .to_owned();
    v.render(
        StatusCode::OK,
        &LoginPage {
            ui: v.ui(),
            error: None,
            username: String::new(),
            next,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub next: String,
}

/// Sign in: the session cookie carries a new token; wrong names and passwords are throttled as
/// in the API, and the page says what went wrong without saying which of the two it was.
#[post("/login")]
pub async fn login(
    state: web::Data<AppState>,
    v: Viewer,
    form: Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    v.check_csrf(&form.csrf)?;
    let settings = state.settings.auth.clone();
    let (name, password) = (form.username.clone(), form.password.clone());
    let result = state
        .run(move |conn, ctx| auth::login(conn, &settings, &name, &password, ctx.now))
        .await;
    let again = |status: StatusCode, error: Text| {
        v.render(
            status,
            &LoginPage {
                ui: v.ui(),
                error: Some(error.get(v.lang).to_owned()),
                username: form.username.clone(),
                next: safe_next(&form.next).unwrap_or("").to_owned(),
            },
        )
    };
    match result {
        Ok(login) => {
            // Where each person starts their day: applicants their filings, staff their
            // workbench, managers the time limits, administrators and auditors their pages.
            let to = safe_next(&form.next).map(str::to_owned).unwrap_or_else(|| {
                let u = &login.user;
                if u.has(Role::Applicant) {
                    "/filings"
                } else if u.has(Role::Clerk) || u.has(Role::Reviewer) || u.has(Role::Inspector) {
                    "/queue"
                } else if u.has(Role::Manager) {
                    "/dashboard"
                } else if u.has(Role::Admin) {
                    "/admin"
                } else if u.has(Role::Auditor) {
                    "/admin/audit"
                } else {
                    "/"
                }
                .into()
            });
            let ttl = (login.expires_at - state.clock.now()).num_seconds().max(60);
            let mut r = see_other(&to);
            r.add_cookie(&v.cookie(SESSION_COOKIE, login.token, ttl))
                .map_err(|e| PageError::internal(&v, e.into()))?;
            Ok(r)
        }
        Err(AppError::Unauthenticated) => again(
            StatusCode::UNAUTHORIZED,
            Text {
                zh: "用户名或密码不正确。".into(),
                en: "The user name or password is not right.".into(),
            },
        ),
        Err(AppError::TooManyRequests { retry_after_secs }) => again(
            StatusCode::TOO_MANY_REQUESTS,
            Text {
                zh: format!(
                    "登录失败次数过多，账号已暂时锁定，请 {} 分钟后再试。",
                    retry_after_secs.div_ceil(60)
                ),
                en: format!(
                    "Too many failed sign-ins: try again in {} minutes.",
                    retry_after_secs.div_ceil(60)
                ),
            },
        ),
        Err(AppError::Validation(_)) | Err(AppError::BadRequest(..)) => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            Text {
                zh: "请填写用户名和密码。".into(),
                en: "Enter your user name and password.".into(),
            },
        ),
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
}

/// Sign out: the session's token is revoked, not just forgotten by the browser.
#[post("/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    mut v: Viewer,
    form: Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    v.check_csrf(&form.csrf)?;
    if let Some(token) = v.session.clone() {
        // A session that has ended already has nothing to revoke.
        v.run_public(&state, move |conn, ctx, p| match p {
            Some(p) => auth::logout(conn, p, &token, ctx.now),
            None => Ok(()),
        })
        .await?;
    }
    let mut r = see_other("/");
    let mut gone = v.cookie(SESSION_COOKIE, String::new(), 0);
    gone.make_removal();
    r.add_cookie(&gone)
        .map_err(|e| PageError::internal(&v, e.into()))?;
    Ok(r)
}

pub struct FilingLine {
    pub id: uuid::Uuid,
    pub number: String,
    /// What names the filing (its project, its building), from the item's `title` fields.
    pub title: String,
    pub item: String,
    pub state: String,
    /// The nearest limit's last day (its colour below), and the promised and statutory ones.
    pub due: Option<NaiveDate>,
    pub promised: Option<NaiveDate>,
    pub statutory: Option<NaiveDate>,
    pub colour: &'static str,
    pub colour_label: &'static str,
    pub next: String,
    /// The applicant has something to do.
    pub yours: bool,
}

#[derive(Template)]
#[template(path = "pages/filings.html", config = "config/askama.toml")]
struct MyFilings {
    ui: Ui,
    rows: Vec<FilingLine>,
    search: String,
    /// (value, label, chosen) of the filter tabs.
    shows: Vec<(&'static str, &'static str, bool)>,
    show: &'static str,
    total: i64,
    page: i64,
    pages: i64,
    /// The query string of the previous and next pages.
    prev: Option<String>,
    next: Option<String>,
}

/// Filings on a page of "我的办件".
const PER_PAGE: i64 = 20;

#[derive(Debug, Deserialize)]
pub struct MyFilingsQuery {
    pub q: Option<String>,
    pub show: Option<String>,
    pub page: Option<String>,
}

/// The applicant's filings, newest first, a page at a time: each a link to the filing, with
/// its project, status, due date and what they can do next; searched by number or any value
/// of the form, and filtered to those waiting on them, open or closed.
#[get("/filings")]
pub async fn my_filings(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<MyFilingsQuery>,
) -> Result<HttpResponse, PageError> {
    use crate::repo::filings::{ApplicantQuery, Shown};
    let q = v.query(q)?;
    let search: String = q.q.unwrap_or_default().trim().chars().take(100).collect();
    let (shown, show) = match q.show.as_deref() {
        Some("waiting") => (Shown::Waiting, "waiting"),
        Some("open") => (Shown::Open, "open"),
        Some("closed") => (Shown::Closed, "closed"),
        _ => (Shown::All, "all"),
    };
    let page = q
        .page
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=10_000).contains(p))
        .unwrap_or(1);
    let query = ApplicantQuery {
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        shown,
        limit: PER_PAGE,
        offset: (page - 1) * PER_PAGE,
    };
    let (lines, total) = v
        .run(&state, move |conn, ctx, p| {
            filings::applicant_lines(conn, ctx, p, query)
        })
        .await?;
    let lang = v.lang;
    let ui = v.ui();
    let today = state.today();
    let rows = lines
        .into_iter()
        .map(|l| {
            let def = &l.item.def;
            let f = &l.filing;
            let state = def.state(&f.state);
            let final_ = state.is_some_and(|s| s.kind.is_final());
            let (colour, colour_label) = match (l.due_on, l.warn_on) {
                (Some(d), _) if today > d => ("red", ui.t("已超期", "overdue")),
                (Some(_), Some(w)) if today >= w => ("yellow", ui.t("临近期限", "due soon")),
                _ => ("green", ui.t("正常", "on time")),
            };
            let mine: Vec<&str> = def
                .actions_from(&f.state)
                .filter(|a| a.roles.contains(&Role::Applicant))
                .map(|a| a.label.get(lang))
                .collect();
            // The applicant's turn: a draft, or a state waiting on them (补正, 整改). Elsewhere
            // their only actions are optional (撤回): the filing is with the bureau.
            let yours = !final_
                && !mine.is_empty()
                && state.is_some_and(|s| {
                    matches!(s.kind, StateKind::Draft | StateKind::WaitingApplicant)
                });
            let next = if final_ {
                ui.t("已办结", "Closed").to_owned()
            } else if yours {
                mine.join(lang_sep(lang))
            } else {
                ui.t("等待办理", "With the bureau").to_owned()
            };
            FilingLine {
                id: f.id,
                number: f
                    .number
                    .clone()
                    .unwrap_or_else(|| ui.t("（草稿）", "(draft)").to_owned()),
                title: l.title.clone(),
                item: def.name.get(lang).to_owned(),
                state: state
                    .map(|s| s.label.get(lang).to_owned())
                    .unwrap_or_else(|| f.state.clone()),
                due: if final_ { None } else { l.due_on },
                promised: l.promised_on.filter(|_| !final_),
                statutory: l.statutory_on.filter(|_| !final_),
                colour,
                colour_label,
                yours,
                next,
            }
        })
        .collect();
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let link = |p: i64| {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        if !search.is_empty() {
            pairs.append_pair("q", &search);
        }
        if show != "all" {
            pairs.append_pair("show", show);
        }
        pairs.append_pair("page", &p.to_string());
        pairs.finish()
    };
    let shows = vec![
        ("all", ui.t("全部", "All"), show == "all"),
        (
            "waiting",
            ui.t("待我处理", "Waiting on me"),
            show == "waiting",
        ),
        ("open", ui.t("办理中", "In progress"), show == "open"),
        ("closed", ui.t("已办结", "Closed"), show == "closed"),
    ];
    v.render(
        StatusCode::OK,
        &MyFilings {
            ui,
            rows,
            shows,
            show,
            total,
            page,
            pages,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
            search,
        },
    )
}

fn lang_sep(lang: crate::domain::Lang) -> &'static str {
    match lang {
        crate::domain::Lang::Zh => "、",
        crate::domain::Lang::En => ", ",
    }
}

/// A field of the registration form.
pub struct RegisterField {
    pub name: String,
    pub label: String,
    /// The input's type: text, email, tel, password.
    pub ty: String,
    pub value: String,
    pub error: Option<String>,
    pub autocomplete: String,
    /// The keyboard a phone shows: digits for a phone number.
    pub inputmode: &'static str,
}

#[derive(Template)]
#[template(path = "pages/register.html", config = "config/askama.toml")]
struct RegisterPage {
    ui: Ui,
    /// Where to go once registered (the new filing's form, from 在线办理).
    next: String,
    has_errors: bool,
    kind: String,
    lang: String,
    fields: Vec<RegisterField>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub credit_code: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub password2: String,
    #[serde(default)]
    pub lang: String,
    #[serde(default)]
    pub next: String,
}

fn register_page(
    v: &Viewer,
    f: &RegisterForm,
    problems: &[crate::domain::Problem],
) -> RegisterPage {
    let ui = v.ui();
    let err = |name: &str| {
        let msgs: Vec<&str> = problems
            .iter()
            .filter(|p| p.path == name)
            .map(|p| p.message.get(v.lang))
            .collect();
        (!msgs.is_empty()).then(|| msgs.join("；"))
    };
    let field = |name: &str, zh: &str, en: &str, ty: &str, value: &str, auto: &str| RegisterField {
        name: name.to_owned(),
        label: ui.t(zh, en).to_owned(),
        ty: ty.to_owned(),
        value: value.to_owned(),
        error: err(name),
        autocomplete: auto.to_owned(),
        inputmode: match ty {
            "tel" => "tel",
            "email" => "email",
            _ => "text",
        },
    };

    let fields = vec![
        field(
            "username",
            "用户名（小写字母、数字和 _ . @ -）",
            "User name (lower-case letters, digits, _ . @ -)",
            "text",
            &f.username,
            "username",
        ),
        field(
            "display_name",
            "名称（企业全称或姓名）",
            "Name (the company's full name, or yours)",
            "text",
            &f.display_name,
            "name",
        ),
        field(
            "credit_code",
            "统一社会信用代码（企业必填）",
            "Unified social credit code (companies)",
            "text",
            &f.credit_code,
            "off",
        ),
        field(
            "email",
            "电子邮箱（接收办件通知）",
            "Email (for notifications)",
            "email",
            &f.email,
            "email",
        ),
        field("phone", "手机号码", "Mobile phone", "tel", &f.phone, "tel"),
        field(
            "password",
            "密码（至少 10 个字符）",
            "Password (at least 10 characters)",
            "password",
            "",
            "new-password",
        ),
        field(
            "password2",
            "再次输入密码",
            "Password again",
            "password",
            "",
            "new-password",
        ),
    ];
    RegisterPage {
        next: safe_next(&f.next).unwrap_or("").to_owned(),
        has_errors: !problems.is_empty(),
        kind: f.kind.clone(),
        lang: f.lang.clone(),
        fields,
        ui,
    }
}

#[get("/register")]
pub async fn register_form(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<Next>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    v.identify(&state).await?;
    let form = RegisterForm {
        next: q.next.unwrap_or_default(),
        ..RegisterForm::default()
    };
    v.render(StatusCode::OK, &register_page(&v, &form, &[]))
}

/// Register an applicant and sign them in.
#[post("/register")]
pub async fn register(
    state: web::Data<AppState>,
    v: Viewer,
    form: Form<RegisterForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    v.check_csrf(&form.csrf)?;
    let blank = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let request = crate::web::requests::RegisterRequest {
        username: form.username.trim().to_lowercase(),
        password: form.password.clone(),
        display_name: form.display_name.trim().to_owned(),
        kind: if form.kind == "person" {
            crate::web::requests::ApplicantKind::Person
        } else {
            crate::web::requests::ApplicantKind::Company
        },
        email: blank(&form.email),
        phone: blank(&form.phone),
        credit_code: blank(&form.credit_code).map(|c| c.to_uppercase()),
        lang: Some(crate::domain::Lang::parse(&form.lang).unwrap_or_default()),
    };
    let mut problems = request.problems();
    if form.password != form.password2 {
        problems.push(crate::domain::Problem::new(
            "password2",
            "mismatch",
            "两次输入的密码不一致",
            "The two passwords differ",
        ));
    }
    if !problems.is_empty() {
        return v.render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &register_page(&v, &form, &problems),
        );
    }
    let settings = state.settings.auth.clone();
    let result = state
        .run(move |conn, ctx| {
            auth::create_user(
                conn,
                &auth::Registration {
                    username: &request.username,
                    password: &request.password,
                    display_name: &request.display_name,
                    kind: request.kind.user_kind(),
                    email: request.email.as_deref(),
                    phone: request.phone.as_deref(),
                    credit_code: request.credit_code.as_deref(),
                    lang: request.lang.unwrap_or_default(),
                    department: None,
                    roles: &[Role::Applicant],
                },
                None,
                ctx.now,
            )?;
            auth::login(
                conn,
                &settings,
                &request.username,
                &request.password,
                ctx.now,
            )
        })
        .await;
    match result {
        Ok(session) => {
            let ttl = (session.expires_at - state.clock.now())
                .num_seconds()
                .max(60);
            let mut r = see_other(safe_next(&form.next).unwrap_or("/filings"));
            r.add_cookie(&v.cookie(SESSION_COOKIE, session.token, ttl))
                .map_err(|e| PageError::internal(&v, e.into()))?;
            Ok(r)
        }
        Err(AppError::Conflict { .. }) => v.render(
            StatusCode::CONFLICT,
            &register_page(
                &v,
                &form,
                &[crate::domain::Problem::new(
                    "username",
                    "taken",
                    "该用户名已被使用",
                    "That user name is taken",
                )],
            ),
        ),
        Err(AppError::Validation(problems)) => v.render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &register_page(&v, &form, &problems),
        ),
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}

#[derive(Template)]
#[template(path = "pages/password.html", config = "config/askama.toml")]
struct PasswordPage {
    ui: Ui,
    done: bool,
    problems: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(rename = "_csrf", default)]
    pub csrf: String,
    #[serde(default)]
    pub current_password: String,
    #[serde(default)]
    pub new_password: String,
}

/// Change one's own password (every signed-in person).
#[get("/account/password")]
pub async fn password_page(
    state: web::Data<AppState>,
    mut v: Viewer,
) -> Result<HttpResponse, PageError> {
    v.run(&state, |_, _, _| Ok(())).await?;
    v.render(
        StatusCode::OK,
        &PasswordPage {
            ui: v.ui(),
            done: false,
            problems: Vec::new(),
        },
    )
}

#[post("/account/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    mut v: Viewer,
    form: Form<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let form = v.form(form)?;
    let Some(token) = v.session.clone() else {
        return Ok(v.to_login());
    };
    v.check_csrf(&form.csrf)?;
    let settings = state.settings.auth.clone();
    let result = v
        .attempt(&state, move |conn, ctx, p| {
            auth::change_password(
                conn,
                &settings,
                p,
                &token,
                &form.current_password,
                &form.new_password,
                ctx.now,
            )
        })
        .await?;
    let (status, done, problems) = match result {
        Ok(_) => (StatusCode::OK, true, Vec::new()),
        Err(AppError::Validation(problems)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            problems
                .iter()
                .map(|p| p.message.get(v.lang).to_owned())
                .collect(),
        ),
        Err(e) => return Err(PageError::from_app(&v, e)),
    };
    v.render(
        status,
        &PasswordPage {
            ui: v.ui(),
            done,
            problems,
        },
    )
}
