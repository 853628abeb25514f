//! The pages: server-rendered HTML through askama (auto-escaped, checked at compile time),
//! working without JavaScript. Chinese by default; English by `Accept-Language` or the language
//! link, remembered in a cookie.
//!
//! Sessions are the same opaque, hashed, expiring, revocable tokens as the API's, carried in an
//! HttpOnly, SameSite=Lax cookie. Every form that changes something carries a CSRF token: for a
//! signed-in user one derived from the session token; before sign-in a random one also set as a
//! cookie (double submit).

pub mod account;
pub mod admin;
pub mod audit;
pub mod draws;
pub mod filing;
pub mod public;
pub mod verify;
pub mod window;
pub mod words;
pub mod work;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use diesel::PgConnection;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::domain::definition::{Requirement, Role};
use crate::domain::{Lang, Text};
use crate::error::AppError;
use crate::services::Ctx;
use crate::services::auth::{self, Principal, Token};

pub const SESSION_COOKIE: &str = "permits_session";
pub const LANG_COOKIE: &str = "permits_lang";
pub const CSRF_COOKIE: &str = "permits_csrf";

/// Who is looking, in which language, and the CSRF token their forms carry.
///
/// The extractor reads only the request: the session cookie is checked inside the page's use
/// case, on its connection ([`Viewer::run`], [`Viewer::run_public`]), so a page costs one trip
/// to the pool, and a form's POST and the page it leads to two. `principal` is known once that
/// has run.
pub struct Viewer {
    pub lang: Lang,
    /// The signed-in person, once a use case has checked the session.
    pub principal: Option<Principal>,
    /// The session cookie as presented (not yet checked).
    pub session: Option<Token>,
    pub csrf: String,
    /// A fresh anonymous CSRF token to set as a cookie with the response.
    new_csrf: Option<String>,
    pub path: String,
    pub authority: Text,
    pub secure: bool,
    /// The request's id, shown on error pages (the same as in the log).
    pub request_id: Option<String>,
}

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn session_csrf(token: &str) -> String {
    digest(&format!("csrf:{token}"))[..32].to_owned()
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// The language chosen with the language link (a cookie), else the one the browser asks for
/// (the same negotiation as the API's problem documents).
fn lang_from(req: &HttpRequest) -> Lang {
    req.cookie(LANG_COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .unwrap_or_else(|| crate::error::lang_of(req))
}

impl FromRequest for Viewer {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return std::future::ready(Err(AppError::Internal(anyhow::anyhow!(
                "app state missing"
            ))));
        };
        let session = req
            .cookie(SESSION_COOKIE)
            .and_then(|c| Token::presented(c.value()));
        let anon_csrf = req
            .cookie(CSRF_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()));
        // Forms of a session carry a token derived from it (the cookie is HttpOnly: another
        // site can read neither); before sign-in, a random one also set as a cookie (double
        // submit). A stale session cookie still derives its token: the form it rendered and
        // the POST it sends agree, and the use case then finds the session ended.
        let (csrf, new_csrf) = match (&session, anon_csrf) {
            (Some(t), _) => (session_csrf(t), None),
            (None, Some(c)) => (c, None),
            (None, None) => {
                let c = random_token();
                (c.clone(), Some(c))
            }
        };
        std::future::ready(Ok(Viewer {
            lang: lang_from(req),
            principal: None,
            session,
            csrf,
            new_csrf,
            path: req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into()),
            authority: Text {
                zh: state.settings.authority.name_zh.clone(),
                en: state.settings.authority.name_en.clone(),
            },
            secure: state.settings.server.secure_cookies,
            request_id: crate::web::telemetry::RequestId::of(req).map(|id| id.to_string()),
        }))
    }
}

impl Viewer {
    /// Run a page's use case for the signed-in viewer: the session is checked on the use
    /// case's connection, in the same hop. The use case's own result comes back as it is (a
    /// form's page shows its problems); not signed in (no session, or one that ended) is the
    /// sign-in page, coming back here.
    pub async fn attempt<T, F>(
        &mut self,
        state: &AppState,
        f: F,
    ) -> Result<Result<T, AppError>, PageError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>, &Principal) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let Some(token) = self.session.clone() else {
            return Err(PageError::to_login(self));
        };
        let ran = state
            .run_as(token, move |conn, ctx, p| Ok((p.clone(), f(conn, ctx, p))))
            .await;
        match ran {
            Ok((p, result)) => {
                self.principal = Some(p);
                Ok(result)
            }
            Err(AppError::Unauthenticated) => Err(PageError::to_login(self)),
            Err(e) => Err(PageError::from_app(self, e)),
        }
    }

    /// [`Viewer::run`] for a page that only reads (the dashboards): on the read replica when
    /// one is configured ([`AppState::run_read_as`]), with how far behind it is.
    pub async fn run_read<T, F>(
        &mut self,
        state: &AppState,
        f: F,
    ) -> Result<(T, Option<f64>), PageError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>, &Principal) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let Some(token) = self.session.clone() else {
            return Err(PageError::to_login(self));
        };
        let ran = state
            .run_read_as(token, move |conn, ctx, p| Ok((p.clone(), f(conn, ctx, p))))
            .await;
        match ran {
            Ok(((p, result), lag)) => {
                self.principal = Some(p);
                result
                    .map(|v| (v, lag))
                    .map_err(|e| PageError::from_app(self, e))
            }
            Err(AppError::Unauthenticated) => Err(PageError::to_login(self)),
            Err(e) => Err(PageError::from_app(self, e)),
        }
    }

    /// [`Viewer::attempt`], with the use case's failure shown as a page.
    pub async fn run<T, F>(&mut self, state: &AppState, f: F) -> Result<T, PageError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>, &Principal) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.attempt(state, f)
            .await?
            .map_err(|e| PageError::from_app(self, e))
    }

    /// Run a use case of a page anyone may see, identifying the viewer (if signed in) in the
    /// same hop; a session that ended is simply no one.
    pub async fn run_public<T, F>(&mut self, state: &AppState, f: F) -> Result<T, PageError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>, Option<&Principal>) -> Result<T, AppError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let token = self.session.clone();
        let ran = state
            .run(move |conn, ctx| {
                let p = match token {
                    Some(t) => match auth::principal(conn, &t, ctx.now) {
                        Ok(p) => Some(p),
                        Err(AppError::Unauthenticated) => None,
                        Err(e) => return Err(e),
                    },
                    None => None,
                };
                let result = f(conn, ctx, p.as_ref());
                Ok((p, result))
            })
            .await;
        match ran {
            Ok((p, result)) => {
                self.principal = p;
                result.map_err(|e| PageError::from_app(self, e))
            }
            Err(e) => Err(PageError::from_app(self, e)),
        }
    }

    /// The signed-in viewer, who must hold one of `roles` (a page that needs nothing else from
    /// the database); 403 as a page otherwise.
    pub async fn require_any(
        &mut self,
        state: &AppState,
        roles: &[Role],
    ) -> Result<Principal, PageError> {
        let p = self.run(state, |_, _, p| Ok(p.clone())).await?;
        if roles.iter().any(|r| p.has(*r)) {
            Ok(p)
        } else {
            Err(PageError::from_app(self, AppError::Forbidden))
        }
    }

    /// [`Viewer::require_any`] with one role.
    pub async fn require(&mut self, state: &AppState, role: Role) -> Result<Principal, PageError> {
        self.require_any(state, &[role]).await
    }

    /// Who is looking, for a page that needs nothing else from the database: no trip to the
    /// pool without a session cookie.
    pub async fn identify(&mut self, state: &AppState) -> Result<(), PageError> {
        if self.session.is_none() {
            return Ok(());
        }
        self.run_public(state, |_, _, _| Ok(())).await
    }

    /// The posted form, or a page that says which field is wrong.
    pub fn form<T>(&self, f: crate::web::extract::Form<T>) -> Result<T, PageError> {
        f.into_inner().map_err(|e| PageError::from_app(self, e))
    }

    /// A posted form as its fields, once its CSRF token (`_csrf`) is the viewer's.
    pub fn posted(
        &self,
        f: crate::web::extract::Form<Vec<(String, String)>>,
    ) -> Result<Vec<(String, String)>, PageError> {
        let pairs = self.form(f)?;
        self.check_csrf(&form_value(&pairs, "_csrf").unwrap_or_default())?;
        Ok(pairs)
    }

    /// The page's query string, or a page that says which parameter is wrong.
    pub fn query<T>(&self, q: crate::web::extract::Query<T>) -> Result<T, PageError> {
        q.into_inner().map_err(|e| PageError::from_app(self, e))
    }

    /// A form's CSRF token must match the viewer's (compared as digests, in constant time as
    /// far as the comparison of two equal-length hex strings goes).
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        if !sent.is_empty() && digest(sent) == digest(&self.csrf) && self.new_csrf.is_none() {
            Ok(())
        } else {
            Err(PageError::new(
                self,
                StatusCode::FORBIDDEN,
                Text {
                    zh: "表单已过期".into(),
                    en: "The form has expired".into(),
                },
                Text {
                    zh: "请返回上一页，刷新后重新提交。".into(),
                    en: "Go back, reload the page and submit again.".into(),
                },
            ))
        }
    }

    pub fn ui(&self) -> Ui {
        Ui {
            lang: self.lang,
            user: self.principal.as_ref().map(|p| UserBrief {
                name: p.display_name.clone(),
                applicant: p.has(Role::Applicant),
                clerk: p.has(Role::Clerk),
                staff: p.has(Role::Clerk) || p.has(Role::Reviewer) || p.has(Role::Inspector),
                manager: p.has(Role::Manager) || p.has(Role::Admin) || p.has(Role::Auditor),
                admin: p.has(Role::Admin),
                auditor: p.has(Role::Auditor),
            }),
            csrf: self.csrf.clone(),
            path: self.path.clone(),
            authority: self.authority.clone(),
        }
    }

    pub fn cookie<'c>(&self, name: &'c str, value: String, max_age_secs: i64) -> Cookie<'c> {
        Cookie::build(name, value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
            .finish()
    }

    /// Render a page: HTML, never cached, with the anonymous CSRF cookie when it is new.
    pub fn render(&self, status: StatusCode, t: &impl Template) -> Result<HttpResponse, PageError> {
        let body = t
            .render()
            .map_err(|e| PageError::internal(self, anyhow::anyhow!("rendering: {e}")))?;
        let mut r = HttpResponse::build(status);
        r.content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            ))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        if let Some(c) = &self.new_csrf {
            r.cookie(self.cookie(CSRF_COOKIE, c.clone(), 24 * 3600));
        }
        Ok(r.body(body))
    }

    /// Send the viewer to the sign-in page, coming back here afterwards.
    pub fn to_login(&self) -> HttpResponse {
        see_other(&self.login_path())
    }

    fn login_path(&self) -> String {
        format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(self.path.as_bytes()).collect::<String>()
        )
    }
}

/// When a conditional material or field is asked for, in words: 「工程类别」为新建、改建、扩建时.
pub fn condition_text(
    def: &crate::domain::definition::Definition,
    c: &crate::domain::definition::Condition,
    lang: Lang,
) -> String {
    use crate::domain::definition::FieldType;
    let Some(f) = def.field(&c.field) else {
        return String::new();
    };
    let values: Vec<String> = c
        .values
        .iter()
        .map(|v| match &f.ty {
            FieldType::Select { options } => options
                .iter()
                .find(|o| &o.value == v)
                .map_or_else(|| v.clone(), |o| o.label.get(lang).to_owned()),
            _ => match (v.as_str(), lang) {
                ("true", Lang::Zh) => "是".into(),
                ("false", Lang::Zh) => "否".into(),
                ("true", Lang::En) => "yes".into(),
                ("false", Lang::En) => "no".into(),
                _ => v.clone(),
            },
        })
        .collect();
    match lang {
        Lang::Zh => format!("「{}」为{}时", f.label.zh, values.join("、")),
        Lang::En => format!("when {} is {}", f.label.en, values.join(" or ")),
    }
}

/// Departments as (code, name in the viewer's language).
pub fn department_names(
    departments: Vec<crate::services::staff::Department>,
    lang: Lang,
) -> Vec<(String, String)> {
    departments
        .into_iter()
        .map(|d| {
            let name = match lang {
                Lang::Zh => d.name_zh,
                Lang::En => d.name_en,
            };
            (d.code, name)
        })
        .collect()
}

/// A field of a posted form, trimmed; `None` when absent or empty.
pub fn form_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// A value for a query string.
pub fn encoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A path on this site to go to after signing in: never another host.
pub fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') && next.len() < 512)
        .then_some(next)
}

pub struct UserBrief {
    pub name: String,
    pub applicant: bool,
    /// Files for applicants at the window (窗口收件).
    pub clerk: bool,
    /// Works a queue (clerk, reviewer, inspector).
    pub staff: bool,
    /// Sees the dashboard (managers, admins, auditors).
    pub manager: bool,
    pub admin: bool,
    pub auditor: bool,
}

/// What every page template knows: the language, the viewer, the CSRF token.
pub struct Ui {
    pub lang: Lang,
    pub user: Option<UserBrief>,
    pub csrf: String,
    pub path: String,
    authority: Text,
}

impl Ui {
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn tx<'a>(&self, text: &'a Text) -> &'a str {
        text.get(self.lang)
    }

    pub fn authority(&self) -> &str {
        self.authority.get(self.lang)
    }

    pub fn lang_attr(&self) -> &'static str {
        self.lang.tag()
    }

    pub fn other_lang(&self) -> &'static str {
        self.lang.other().as_str()
    }

    pub fn other_lang_attr(&self) -> &'static str {
        self.lang.other().tag()
    }

    pub fn other_lang_label(&self) -> &'static str {
        match self.lang {
            Lang::Zh => "English",
            Lang::En => "中文",
        }
    }

    pub fn is_applicant(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.applicant)
    }

    /// Where 在线办理 leads for an item: an applicant straight to the new filing's form, a
    /// visitor to sign in (or register) and then to it; staff do not apply (none).
    pub fn apply_href(&self, item: &str) -> Option<String> {
        let form = format!("/filings/new/{item}");
        match &self.user {
            None => Some(format!("/login?next={}", encoded(&form))),
            Some(u) if u.applicant => Some(form),
            Some(_) => None,
        }
    }

    /// For a visitor: registering, then to the new filing's form.
    pub fn register_href(&self, item: &str) -> Option<String> {
        self.user.is_none().then(|| {
            format!(
                "/register?next={}",
                encoded(&format!("/filings/new/{item}"))
            )
        })
    }

    /// A role in words (never its code).
    pub fn role(&self, r: &Role) -> &'static str {
        words::role(self.lang, *r)
    }

    /// `n` things: "3 条" in Chinese (with its measure word), "1 row", "3 rows" in English.
    pub fn count(&self, n: &i64, zh_unit: &str, one: &str, many: &str) -> String {
        match self.lang {
            Lang::Zh => format!("{n} {zh_unit}"),
            Lang::En => words::en_count(*n, one, many),
        }
    }

    /// The colon after a label: full-width in Chinese, `: ` in English.
    pub fn colon(&self) -> &'static str {
        self.t("：", ": ")
    }

    /// A remark after something: （…） in Chinese, ` (…)` in English.
    pub fn paren(&self, s: impl std::fmt::Display) -> String {
        match self.lang {
            Lang::Zh => format!("（{s}）"),
            Lang::En => format!(" ({s})"),
        }
    }

    /// The hint beside a date input: what to type where the browser shows no calendar, and
    /// what the calendar's own text means where it does (it follows the browser's language,
    /// 01/12/2026 or 12/01/2026). The server takes 2026/12/04 and 2026年12月4日 as well.
    pub fn date_format(&self) -> &'static str {
        self.t("格式：2026-12-04", "Format: 2026-12-04")
    }

    pub fn requirement(&self, r: &Requirement) -> &'static str {
        match r {
            Requirement::Required => self.t("必须提交", "Required"),
            Requirement::Tolerable => self.t("可容缺（承诺补交）", "May follow (on a promise)"),
            Requirement::Optional => self.t("视情况提交", "If applicable"),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/error.html", config = "config/askama.toml")]
struct ErrorPage<'a> {
    ui: Ui,
    title: &'a str,
    detail: &'a str,
    request_id: Option<&'a str>,
}

/// An error shown as a page that says what happened and what to do, in the viewer's language;
/// or, for a viewer who must sign in first, the way to the sign-in page.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    html: String,
    /// Where a 303 sends the viewer instead of a page.
    location: Option<String>,
}

impl PageError {
    /// The sign-in page, coming back to where the viewer was.
    pub fn to_login(v: &Viewer) -> PageError {
        PageError {
            status: StatusCode::SEE_OTHER,
            html: String::new(),
            location: Some(v.login_path()),
        }
    }

    pub fn new(v: &Viewer, status: StatusCode, title: Text, detail: Text) -> PageError {
        let ui = v.ui();
        let page = ErrorPage {
            title: title.get(v.lang),
            detail: detail.get(v.lang),
            request_id: v.request_id.as_deref(),
            ui,
        };
        PageError {
            status,
            html: page
                .render()
                .unwrap_or_else(|_| "<!DOCTYPE html><title>Error</title><p>Error</p>".into()),
            location: None,
        }
    }

    pub fn internal(v: &Viewer, e: anyhow::Error) -> PageError {
        tracing::error!(error = %e, "page failed");
        PageError::new(
            v,
            StatusCode::INTERNAL_SERVER_ERROR,
            Text {
                zh: "系统出错了".into(),
                en: "Something went wrong".into(),
            },
            Text {
                zh: "请稍后再试；如果问题持续，请联系窗口工作人员。".into(),
                en: "Please try again later; if it persists, contact the service window.".into(),
            },
        )
    }

    pub fn from_app(v: &Viewer, e: AppError) -> PageError {
        let fixed = |zh: &str, en: &str| Text {
            zh: zh.into(),
            en: en.into(),
        };
        let status = actix_web::ResponseError::status_code(&e);
        let (title, detail) = match e {
            AppError::Validation(problems) => {
                let list = |lang: Lang| {
                    problems
                        .iter()
                        .map(|p| p.message.get(lang).to_owned())
                        .collect::<Vec<_>>()
                        .join("；")
                };
                (
                    fixed("未能办理", "Not done"),
                    Text {
                        zh: list(Lang::Zh),
                        en: list(Lang::En),
                    },
                )
            }
            AppError::BadRequest(what, _) => (
                fixed("地址有误", "Bad address"),
                Text {
                    zh: format!("{}。请返回上一页重新打开。", what.zh),
                    en: format!("{}. Go back and open the page again.", what.en),
                },
            ),
            AppError::PayloadTooLarge(what) => (fixed("内容过大", "Too large"), what),
            AppError::UnsupportedMediaType(what) => {
                (fixed("格式不支持", "Unsupported format"), what)
            }
            AppError::Conflict { .. } => (
                fixed("状态已变化", "Changed meanwhile"),
                fixed(
                    "办件已被他人处理或修改，请返回刷新后再操作。",
                    "Someone else acted first: go back, reload and try again.",
                ),
            ),
            AppError::NoSuch(what) => (fixed("未找到", "Not found"), what),
            AppError::NotFound => (
                fixed("页面不存在", "Not found"),
                fixed(
                    "您要找的内容不存在，或者您无权查看。",
                    "What you asked for does not exist, or you may not see it.",
                ),
            ),
            AppError::Forbidden => (
                fixed("无权访问", "Not allowed"),
                fixed("您的账号不能进行此操作。", "Your account may not do this."),
            ),
            AppError::Unauthenticated => (
                fixed("请先登录", "Please sign in"),
                fixed(
                    "您的登录已失效，请重新登录后再试。",
                    "Your session has ended: sign in again and retry.",
                ),
            ),
            AppError::Unavailable | AppError::TooManyRequests { .. } => (
                fixed("系统繁忙", "Busy"),
                fixed("请稍后再试。", "Please try again in a moment."),
            ),
            AppError::PreconditionRequired | AppError::MethodNotAllowed { .. } => (
                fixed("请求有误", "Bad request"),
                fixed(
                    "请使用页面上的按钮和链接进行操作。",
                    "Please use the buttons and links on the page.",
                ),
            ),
            AppError::Internal(e) => return PageError::internal(v, e),
        };
        PageError::new(v, status, title, detail)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "page error {}", self.status)
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(to) = &self.location {
            return see_other(to);
        }
        HttpResponse::build(self.status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(self.html.clone())
    }
}

/// The stylesheet, from the binary.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../static/app.css"))
}

/// The upload-progress script, from the binary.
pub async fn upload_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../static/upload.js"))
}

/// The table editor (an owners' roster as a table with its live count), from the binary.
pub async fn roster_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../static/roster.js"))
}

/// Every page route's method and pattern, for the `Allow` header of a 405
/// ([`crate::web::allow`]); a test holds it to the route attributes in `src/web/pages`.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/static/app.css"),
    ("GET", "/static/upload.js"),
    ("GET", "/static/roster.js"),
    ("GET", "/"),
    ("GET", "/account/password"),
    ("POST", "/account/password"),
    ("GET", "/admin"),
    ("GET", "/admin/audit"),
    ("POST", "/admin/audit/verify"),
    ("GET", "/admin/calendar"),
    ("POST", "/admin/calendar/{year}"),
    ("POST", "/admin/mail/{id}/retry"),
    ("POST", "/admin/users"),
    ("POST", "/admin/users/{id}/active"),
    ("GET", "/calculator"),
    ("GET", "/dashboard"),
    ("GET", "/dashboard/filings"),
    ("GET", "/dashboard/sla.csv"),
    ("GET", "/dashboard/work"),
    ("GET", "/dashboard/work.{ext}"),
    ("GET", "/draws"),
    ("GET", "/filings"),
    ("GET", "/filings/new/{item}"),
    ("POST", "/filings/new/{item}"),
    ("POST", "/filings/new/{item}/import/{field}"),
    ("GET", "/filings/{id}"),
    ("POST", "/filings/{id}/actions/{action}"),
    ("GET", "/filings/{id}/documents/{document}"),
    ("GET", "/filings/{id}/edit"),
    ("POST", "/filings/{id}/edit"),
    ("POST", "/filings/{id}/edit/import/{field}"),
    ("POST", "/filings/{id}/extend"),
    ("GET", "/filings/{id}/materials/{material_id}"),
    ("POST", "/filings/{id}/materials/{material_id}/remove"),
    ("POST", "/filings/{id}/materials/{material}"),
    ("POST", "/filings/{id}/rating"),
    ("GET", "/items/{code}"),
    ("GET", "/lang/{lang}"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/queue"),
    ("POST", "/queue/claim-next"),
    ("GET", "/register"),
    ("POST", "/register"),
    ("POST", "/tasks/{id}/{what}"),
    ("GET", "/verify"),
    ("GET", "/window"),
    ("POST", "/window"),
];

/// Every page route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/app.css", web::get().to(stylesheet))
        .route("/static/upload.js", web::get().to(upload_script))
        .route("/static/roster.js", web::get().to(roster_script))
        .service(public::index)
        .service(public::item)
        .service(public::calculator)
        .service(verify::verify)
        .service(draws::index)
        .service(account::switch_lang)
        .service(account::login_page)
        .service(account::login)
        .service(account::logout)
        .service(account::my_filings)
        .service(account::register_form)
        .service(account::register)
        .service(filing::new_form)
        .service(filing::create)
        .service(filing::edit_form)
        .service(filing::edit)
        .service(filing::import_new)
        .service(filing::import_edit)
        .service(filing::show)
        .service(filing::act)
        .service(filing::upload)
        .service(filing::remove)
        .service(filing::download)
        .service(filing::document)
        .service(filing::extend)
        .service(filing::rate)
        .service(window::form)
        .service(window::file)
        .service(work::queue)
        .service(work::claim_next)
        .service(work::task)
        .service(work::dashboard)
        .service(work::sla_csv)
        .service(work::work_report)
        .service(work::work_report_file)
        .service(work::drill)
        .service(admin::index)
        .service(admin::create_user)
        .service(admin::retry_mail)
        .service(admin::set_active)
        .service(account::password_page)
        .service(account::change_password)
        .service(audit::audit_log)
        .service(audit::run_verification)
        .service(admin::calendar)
        .service(admin::load_notice);
}
