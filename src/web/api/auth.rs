//! Registration, login, logout, and who am I.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use validator::Validate;

use crate::app::AppState;
use crate::domain::definition::{Role, UserKind};
use crate::domain::forms;
use crate::domain::{Lang, Problem};
use crate::error::AppError;
use crate::services::auth::{self, Login, Principal, Registration};
use crate::web::extract::{Authed, Body, validated};

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3–64 characters: lower-case letters, digits and `_ . @ -`.
    #[validate(length(min = 3, max = 64), regex(path = *USERNAME))]
    pub username: String,
    #[validate(length(min = 10, max = 128))]
    pub password: String,
    #[validate(length(min = 1, max = 100))]
    pub display_name: String,
    /// `person` (a resident) or `company`.
    pub kind: ApplicantKind,
    #[validate(email, length(max = 254))]
    pub email: Option<String>,
    #[validate(length(max = 20))]
    pub phone: Option<String>,
    /// Required for companies: 统一社会信用代码.
    pub credit_code: Option<String>,
    pub lang: Option<Lang>,
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    Person,
    Company,
}

impl ApplicantKind {
    pub fn user_kind(self) -> UserKind {
        match self {
            ApplicantKind::Person => UserKind::Person,
            ApplicantKind::Company => UserKind::Company,
        }
    }
}

impl RegisterRequest {
    /// Everything wrong with a registration, at once (the API and the page share it).
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = match self.validate() {
            Ok(()) => Vec::new(),
            Err(e) => crate::web::extract::problems(&e),
        };
        if let Some(phone) = self.phone.as_deref().filter(|p| !PHONE.is_match(p)) {
            problems.push(Problem::new(
                "phone",
                "invalid_format",
                format!("手机号码「{phone}」格式不正确"),
                format!("The phone number `{phone}` is not valid"),
            ));
        }
        match (&self.kind, &self.credit_code) {
            (ApplicantKind::Company, None) => problems.push(Problem::new(
                "credit_code",
                "required",
                "企业须填写统一社会信用代码",
                "A company must give its unified social credit code",
            )),
            (_, Some(code)) if !forms::credit_code_valid(code) => problems.push(Problem::new(
                "credit_code",
                "check_character",
                "统一社会信用代码无效（长度、字符或校验位不正确）",
                "The unified social credit code is not valid (length, characters or check character)",
            )),
            _ => {}
        }
        problems
    }
}

static PHONE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")
        .unwrap_or_else(|_| unreachable!())
});

static USERNAME: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[a-z0-9_.@-]+$").unwrap_or_else(|_| unreachable!())
});

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub user_id: uuid::Uuid,
}

/// Register an applicant account (a resident or a company).
#[utoipa::path(tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = Registered), (status = 422, description = "invalid fields"), (status = 409, description = "username taken")))]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    body: Body<RegisterRequest>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner()?;
    let problems = body.problems();
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let kind = body.kind.user_kind();
    let id = state
        .run(move |conn, ctx| {
            auth::create_user(
                conn,
                &Registration {
                    username: &body.username,
                    password: &body.password,
                    display_name: &body.display_name,
                    kind,
                    email: body.email.as_deref(),
                    phone: body.phone.as_deref(),
                    credit_code: body.credit_code.as_deref(),
                    lang: body.lang.unwrap_or_default(),
                    department: None,
                    roles: &[Role::Applicant],
                },
                None,
                ctx.now,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(Registered { user_id: id }))
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[validate(length(min = 1, max = 64))]
    pub username: String,
    #[validate(length(min = 1, max = 128))]
    pub password: String,
}

/// Log in: a bearer token, shown once.
#[utoipa::path(tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Login), (status = 401, description = "wrong name or password"), (status = 429, description = "locked after repeated failures")))]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: Body<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    let body = validated(body.into_inner()?)?;
    let settings = state.settings.auth.clone();
    let login = state
        .run(move |conn, ctx| auth::login(conn, &settings, &body.username, &body.password, ctx.now))
        .await?;
    Ok(HttpResponse::Ok().json(login))
}

/// Revoke the token used for this request.
#[utoipa::path(tag = "auth", responses((status = 204)), security(("bearer" = [])))]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, who: Authed) -> Result<HttpResponse, AppError> {
    state
        .run(move |conn, ctx| auth::logout(conn, &who.principal, &who.token, ctx.now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller.
#[utoipa::path(tag = "auth", responses((status = 200, body = Principal)), security(("bearer" = [])))]
#[get("/me")]
pub async fn me(who: Authed) -> HttpResponse {
    HttpResponse::Ok().json(who.principal)
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[validate(length(min = 1, max = 128))]
    pub current_password: String,
    /// 10 to 128 characters, not the current one.
    pub new_password: String,
}

/// Change one's own password. The other sessions and tokens of the account end; this one stays.
#[utoipa::path(tag = "auth", request_body = ChangePassword,
    responses((status = 200, body = auth::PasswordChanged), (status = 401), (status = 422), (status = 429)),
    security(("bearer" = [])))]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    who: Authed,
    body: Body<ChangePassword>,
) -> Result<HttpResponse, AppError> {
    let body = validated(body.into_inner()?)?;
    let settings = state.settings.auth.clone();
    let done = state
        .run(move |conn, ctx| {
            auth::change_password(
                conn,
                &settings,
                &who.principal,
                &who.token,
                &body.current_password,
                &body.new_password,
                ctx.now,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(done))
}
