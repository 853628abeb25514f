//! Administration: staff accounts; audit verification (admins and auditors).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::Validate;

use crate::app::AppState;
use crate::domain::Lang;
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::services::audit::{self, Verification};
use crate::services::auth;
use crate::services::clock::{self, ClockState};
use crate::services::staff::{self, NewStaff, UserSummary};
use crate::web::extract::{Bearer, Body, Page, Query, paged, validated};

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    #[validate(length(min = 3, max = 64))]
    pub username: String,
    #[validate(length(min = 10, max = 128))]
    pub password: String,
    #[validate(length(min = 1, max = 100))]
    pub display_name: String,
    #[validate(length(min = 1, max = 63))]
    pub department: String,
    #[validate(length(min = 1, max = 7))]
    pub roles: Vec<Role>,
    #[validate(email)]
    pub email: Option<String>,
    pub lang: Option<Lang>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    pub user_id: Uuid,
}

/// Create a staff account (admins).
#[utoipa::path(tag = "admin", request_body = CreateStaff, responses((status = 201, body = Created), (status = 403), (status = 409, description = "username taken"), (status = 422)), security(("bearer" = [])))]
#[post("/admin/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    who: Bearer,
    body: Body<CreateStaff>,
) -> Result<HttpResponse, AppError> {
    let id = state
        .run_as(who, move |conn, ctx, p| {
            p.require(&[Role::Admin])?;
            let body = validated(body.into_inner()?)?;
            staff::create(
                conn,
                p,
                &NewStaff {
                    username: &body.username,
                    password: &body.password,
                    display_name: &body.display_name,
                    department: &body.department,
                    roles: &body.roles,
                    email: body.email.as_deref(),
                    lang: body.lang.unwrap_or_default(),
                },
                ctx.now,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(Created { user_id: id }))
}

/// Deactivate an account (admins): its tokens and sessions are revoked at once, its claimed
/// tasks go back to their queues, and it gets no more mail. Repeating it changes nothing.
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), responses((status = 200, body = auth::AccessChange), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
#[post("/admin/users/{id}/deactivate")]
pub async fn deactivate_user(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    set_active(state, who, id.into_inner(), false).await
}

/// Reactivate an account (admins). Its old tokens stay revoked: the person signs in again.
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), responses((status = 200, body = auth::AccessChange), (status = 403), (status = 404)), security(("bearer" = [])))]
#[post("/admin/users/{id}/activate")]
pub async fn activate_user(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    set_active(state, who, id.into_inner(), true).await
}

async fn set_active(
    state: web::Data<AppState>,
    who: Bearer,
    user: Uuid,
    active: bool,
) -> Result<HttpResponse, AppError> {
    let change = state
        .run_as(who, move |conn, ctx, p| {
            auth::set_active(conn, p, user, active, ctx.now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(change))
}

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The new initial password, 10 to 128 characters, to be told to the person.
    pub password: String,
}

/// Set a new initial password for an account (admins); every session of it ends.
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), request_body = ResetPassword, responses((status = 200, body = auth::PasswordChanged), (status = 403), (status = 404), (status = 409, description = "one's own account: change it at /me/password"), (status = 422)), security(("bearer" = [])))]
#[post("/admin/users/{id}/password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<Uuid>,
    body: Body<ResetPassword>,
) -> Result<HttpResponse, AppError> {
    let user = id.into_inner();
    let done = state
        .run_as(who, move |conn, ctx, p| {
            p.require(&[Role::Admin])?;
            let body = validated(body.into_inner()?)?;
            auth::reset_password(conn, p, user, &body.password, ctx.now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(done))
}

/// List accounts (admins).
#[utoipa::path(tag = "admin", params(Page), responses((status = 200, body = [UserSummary],
        headers(("X-Total-Count" = i64, description = "accounts in all"),
                ("Link" = String, description = "the next page, `<…>; rel=\"next\"`, when there is one"))),
    (status = 403), (status = 422)), security(("bearer" = [])))]
#[get("/admin/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    who: Bearer,
    page: Query<Page>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let users = state
        .run_as(who, move |conn, _, p| {
            p.require(&[Role::Admin])?;
            let page = page.into_inner()?.request()?;
            staff::users(conn, p, &page)
        })
        .await?;
    Ok(paged(&req, users))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// A seal hash kept outside the system (from an earlier verification): it must still be
    /// among the seals, or the seals were rewritten.
    pub seal: Option<String>,
}

/// Recompute every audit chain and check the seals; report the first broken link (auditors
/// and admins).
#[utoipa::path(tag = "audit", params(VerifyQuery), responses((status = 200, body = Verification), (status = 403), (status = 422)), security(("bearer" = [])))]
#[get("/audit/verify")]
pub async fn verify_audit(
    state: web::Data<AppState>,
    who: Bearer,
    q: Query<VerifyQuery>,
) -> Result<HttpResponse, AppError> {
    let v = state
        .run_as(who, move |conn, _, p| {
            p.require(&[Role::Auditor, Role::Admin])?;
            let kept = q.into_inner()?.seal;
            if let Some(s) = &kept
                && !audit::is_seal_hash(s)
            {
                return Err(AppError::one_invalid(
                    "seal",
                    "seal_hash",
                    "封存哈希应为 64 位小写十六进制字符",
                    "A seal hash is 64 lower-case hexadecimal digits",
                ));
            }
            audit::verify_as(conn, p, kept.as_deref())
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveClock {
    /// Set the clock to this instant (RFC 3339).
    pub set: Option<chrono::DateTime<chrono::Utc>>,
    /// Or move it forward by this many days (and hours).
    pub advance_days: Option<u32>,
    pub advance_hours: Option<u32>,
}

/// The service's clock (admins).
#[utoipa::path(tag = "admin", responses((status = 200, body = ClockState), (status = 403)), security(("bearer" = [])))]
#[get("/admin/clock")]
pub async fn get_clock(state: web::Data<AppState>, who: Bearer) -> Result<HttpResponse, AppError> {
    let manual = state.manual_clock.clone();
    let now = state.clock.now();
    let s = state
        .run_as(who, move |_, _, p| clock::state(p, now, manual.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// Set or advance the manual clock, to exercise deadlines without waiting (admins; demo and
/// test environments only: 409 when the clock is the system's).
#[utoipa::path(tag = "admin", request_body = MoveClock, responses((status = 200, body = ClockState), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
#[post("/admin/clock")]
pub async fn move_clock(
    state: web::Data<AppState>,
    who: Bearer,
    body: Body<MoveClock>,
) -> Result<HttpResponse, AppError> {
    let manual = state.manual_clock.clone();
    let s = state
        .run_as(who, move |conn, _, p| {
            let how = body.into_inner().and_then(|b| match b {
                MoveClock {
                    set: Some(t),
                    advance_days: None,
                    advance_hours: None,
                } => Ok(clock::Move::To(t)),
                MoveClock {
                    set: None,
                    advance_days: d,
                    advance_hours: h,
                } if d.is_some() || h.is_some() => Ok(clock::Move::Forward {
                    days: d.unwrap_or(0),
                    hours: h.unwrap_or(0),
                }),
                _ => Err(AppError::one_invalid(
                    "set",
                    "required",
                    "请给出 set，或 advance_days / advance_hours（二者择一）",
                    "Give either `set` or `advance_days`/`advance_hours`",
                )),
            });
            clock::move_clock(conn, p, manual.as_deref(), how)
        })
        .await?;
    Ok(HttpResponse::Ok().json(s))
}
