//! Registration, login, logout, and who am I.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use validator::Validate;

use crate::app::AppState;
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::services::auth::{self, Login, Principal, Registration};
use crate::web::extract::{Bearer, Body, validated};
pub use crate::web::requests::{ApplicantKind, RegisterRequest};

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
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    #[validate(length(min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
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
pub async fn logout(state: web::Data<AppState>, who: Bearer) -> Result<HttpResponse, AppError> {
    let token = who.0.clone();
    state
        .run_as(who, move |conn, ctx, p| {
            auth::logout(conn, p, &token, ctx.now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller.
#[utoipa::path(tag = "auth", responses((status = 200, body = Principal)), security(("bearer" = [])))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, who: Bearer) -> Result<HttpResponse, AppError> {
    let p = state.run_as(who, |_, _, p| Ok(p.clone())).await?;
    Ok(HttpResponse::Ok().json(p))
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[validate(length(min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    pub current_password: String,
    /// 10 to 128 characters, not the current one.
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

/// Change one's own password. The other sessions and tokens of the account end; this one stays.
#[utoipa::path(tag = "auth", request_body = ChangePassword,
    responses((status = 200, body = auth::PasswordChanged), (status = 401), (status = 422), (status = 429)),
    security(("bearer" = [])))]
#[post("/me/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    who: Bearer,
    body: Body<ChangePassword>,
) -> Result<HttpResponse, AppError> {
    let settings = state.settings.auth.clone();
    let token = who.0.clone();
    let done = state
        .run_as(who, move |conn, ctx, p| {
            let body = validated(body.into_inner()?)?;
            auth::change_password(
                conn,
                &settings,
                p,
                &token,
                &body.current_password,
                &body.new_password,
                ctx.now,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(done))
}
