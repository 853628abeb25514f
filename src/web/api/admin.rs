//! Administration: staff accounts; audit verification (admins and auditors).

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use validator::Validate;

use crate::app::AppState;
use crate::domain::Lang;
use crate::domain::definition::{Role, UserKind};
use crate::error::AppError;
use crate::services::audit::{self, Verification};
use crate::services::auth::{self, Registration};
use crate::web::extract::{Authed, Body, Page, Query, validated};

fn require(who: &Authed, roles: &[Role]) -> Result<(), AppError> {
    if roles.iter().any(|r| who.principal.has(*r)) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

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
#[utoipa::path(tag = "admin", request_body = CreateStaff, responses((status = 201, body = Created), (status = 403), (status = 422)), security(("bearer" = [])))]
#[post("/admin/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    who: Authed,
    body: Body<CreateStaff>,
) -> Result<HttpResponse, AppError> {
    require(&who, &[Role::Admin])?;
    let body = validated(body.into_inner()?)?;
    if body.roles.contains(&Role::Applicant) {
        return Err(AppError::one_invalid(
            "roles",
            "applicant_role",
            "工作人员账号不能具有申请人角色",
            "A staff account cannot have the applicant role",
        ));
    }
    let admin = who.principal.user_id;
    let id = state
        .run(move |conn, ctx| {
            let known = crate::repo::users::departments(conn)?
                .iter()
                .any(|d| d.code == body.department);
            if !known {
                return Err(AppError::one_invalid(
                    "department",
                    "unknown_department",
                    format!("没有「{}」这个部门", body.department),
                    format!("There is no department `{}`", body.department),
                ));
            }
            auth::create_user(
                conn,
                &Registration {
                    username: &body.username,
                    password: &body.password,
                    display_name: &body.display_name,
                    kind: UserKind::Staff,
                    email: body.email.as_deref(),
                    phone: None,
                    credit_code: None,
                    lang: body.lang.unwrap_or_default(),
                    department: Some(&body.department),
                    roles: &body.roles,
                },
                Some(admin),
                ctx.now,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(Created { user_id: id }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub kind: UserKind,
    pub department: Option<String>,
    pub roles: Vec<Role>,
    pub active: bool,
}

/// Deactivate an account (admins): its tokens and sessions are revoked at once, its claimed
/// tasks go back to their queues, and it gets no more mail. Repeating it changes nothing.
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), responses((status = 200, body = auth::AccessChange), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
#[post("/admin/users/{id}/deactivate")]
pub async fn deactivate_user(
    state: web::Data<AppState>,
    who: Authed,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    set_active(state, who, id.into_inner(), false).await
}

/// Reactivate an account (admins). Its old tokens stay revoked: the person signs in again.
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), responses((status = 200, body = auth::AccessChange), (status = 403), (status = 404)), security(("bearer" = [])))]
#[post("/admin/users/{id}/activate")]
pub async fn activate_user(
    state: web::Data<AppState>,
    who: Authed,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    set_active(state, who, id.into_inner(), true).await
}

async fn set_active(
    state: web::Data<AppState>,
    who: Authed,
    user: Uuid,
    active: bool,
) -> Result<HttpResponse, AppError> {
    require(&who, &[Role::Admin])?;
    let admin = who.principal;
    let change = state
        .run(move |conn, ctx| auth::set_active(conn, &admin, user, active, ctx.now))
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
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), request_body = ResetPassword, responses((status = 200, body = auth::PasswordChanged), (status = 403), (status = 404), (status = 422)), security(("bearer" = [])))]
#[post("/admin/users/{id}/password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    who: Authed,
    id: web::Path<Uuid>,
    body: Body<ResetPassword>,
) -> Result<HttpResponse, AppError> {
    require(&who, &[Role::Admin])?;
    let body = validated(body.into_inner()?)?;
    let (admin, user) = (who.principal, id.into_inner());
    let done = state
        .run(move |conn, ctx| auth::reset_password(conn, &admin, user, &body.password, ctx.now))
        .await?;
    Ok(HttpResponse::Ok().json(done))
}

/// List accounts (admins).
#[utoipa::path(tag = "admin", params(Page), responses((status = 200, body = [UserSummary]), (status = 403)), security(("bearer" = [])))]
#[get("/admin/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    who: Authed,
    page: Query<Page>,
) -> Result<HttpResponse, AppError> {
    require(&who, &[Role::Admin])?;
    let page = page.into_inner()?;
    let users = state
        .run(move |conn, _| {
            let rows = crate::repo::users::list(conn, page.limit(), page.offset())?;
            rows.into_iter()
                .map(|u| {
                    let roles = crate::repo::users::roles_of(conn, u.id)?;
                    Ok(UserSummary {
                        id: u.id,
                        username: u.username,
                        display_name: u.display_name,
                        kind: u.kind,
                        department: u.department,
                        roles,
                        active: u.active,
                    })
                })
                .collect::<Result<Vec<_>, AppError>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(users))
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
    who: Authed,
    q: Query<VerifyQuery>,
) -> Result<HttpResponse, AppError> {
    require(&who, &[Role::Auditor, Role::Admin])?;
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
    let v = state
        .run(move |conn, _| match &kept {
            Some(s) => audit::verify_kept(conn, s),
            None => audit::verify(conn),
        })
        .await?;
    Ok(HttpResponse::Ok().json(v))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockState {
    pub now: chrono::DateTime<chrono::Utc>,
    /// `manual` in the demo and test environments; production refuses it.
    pub mode: String,
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
pub async fn get_clock(state: web::Data<AppState>, who: Authed) -> Result<HttpResponse, AppError> {
    require(&who, &[Role::Admin])?;
    Ok(HttpResponse::Ok().json(ClockState {
        now: state.clock.now(),
        mode: if state.manual_clock.is_some() {
            "manual"
        } else {
            "system"
        }
        .into(),
    }))
}

/// Set or advance the manual clock, to exercise deadlines without waiting (admins; demo and
/// test environments only: 409 when the clock is the system's).
#[utoipa::path(tag = "admin", request_body = MoveClock, responses((status = 200, body = ClockState), (status = 403), (status = 409), (status = 422)), security(("bearer" = [])))]
#[post("/admin/clock")]
pub async fn move_clock(
    state: web::Data<AppState>,
    who: Authed,
    body: Body<MoveClock>,
) -> Result<HttpResponse, AppError> {
    require(&who, &[Role::Admin])?;
    let Some(manual) = state.manual_clock.clone() else {
        return Err(AppError::conflict(
            "system_clock",
            "本环境使用系统时钟，不能调整",
            "This environment uses the system clock; it cannot be moved",
            serde_json::json!({}),
        ));
    };
    let body = body.into_inner()?;
    let before = state.clock.now();
    match (body.set, body.advance_days, body.advance_hours) {
        (Some(t), None, None) => manual.set(t),
        (None, d, h) if d.is_some() || h.is_some() => {
            let days = i64::from(d.unwrap_or(0).min(3650));
            let hours = i64::from(h.unwrap_or(0).min(24 * 3650));
            manual.advance(chrono::Duration::days(days) + chrono::Duration::hours(hours));
        }
        _ => {
            return Err(AppError::one_invalid(
                "set",
                "required",
                "请给出 set，或 advance_days / advance_hours（二者择一）",
                "Give either `set` or `advance_days`/`advance_hours`",
            ));
        }
    }
    let after = state.clock.now();
    let admin = who.principal.user_id;
    state
        .run(move |conn, _| {
            crate::repo::audit::append(
                conn,
                crate::repo::audit::Event {
                    chain: "admin".to_owned(),
                    filing_id: None,
                    actor_id: Some(admin),
                    action: "move_clock",
                    at: after,
                    payload: serde_json::json!({ "from": before, "to": after }),
                },
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(ClockState {
        now: after,
        mode: "manual".into(),
    }))
}
