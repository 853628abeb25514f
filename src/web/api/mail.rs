//! Administrators watch the outbox and the jobs: failed mail is listed with its error and sent
//! again on request; a job can be run now.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::json;

use crate::domain::definition::Role;
use crate::error::AppError;
use crate::jobs::{self, Job, JobRun};
use crate::repo::outbox::{self, MailRow};
use crate::web::AppState;
use crate::web::extract::{Authed, Query};

fn admin(who: &Authed) -> Result<(), AppError> {
    if who.principal.has(Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MailQuery {
    /// pending, sent or failed.
    pub status: Option<String>,
    pub filing: Option<uuid::Uuid>,
    /// Keyset paging: messages with a smaller id.
    pub before: Option<i64>,
    /// At most 200; 50 by default.
    pub limit: Option<i64>,
}

/// Outgoing mail, newest first (admins). Failed messages carry the last error.
#[utoipa::path(tag = "admin", params(MailQuery), responses((status = 200, body = [MailRow]), (status = 403), (status = 422)), security(("bearer" = [])))]
#[get("/admin/mail")]
pub async fn list(
    state: web::Data<AppState>,
    who: Authed,
    q: Query<MailQuery>,
) -> Result<HttpResponse, AppError> {
    admin(&who)?;
    let q = q.into_inner()?;
    if let Some(s) = q.status.as_deref()
        && !matches!(s, "pending" | "sent" | "failed")
    {
        return Err(AppError::one_invalid(
            "status",
            "unknown_status",
            "status 只能是 pending、sent 或 failed",
            "status is one of pending, sent, failed",
        ));
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let rows = state
        .run(move |conn, _| {
            Ok(outbox::list(
                conn,
                q.status.as_deref(),
                q.filing,
                q.before,
                limit,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Send a failed message again (admins): it becomes pending, due now, with its attempts reset.
/// 409 unless it failed.
#[utoipa::path(tag = "admin", params(("id" = i64, Path)), responses((status = 200, body = MailRow), (status = 403), (status = 404), (status = 409)), security(("bearer" = [])))]
#[post("/admin/mail/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    who: Authed,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    admin(&who)?;
    let id = id.into_inner();
    let by = who.principal.user_id;
    let row = state
        .run(move |conn, ctx| crate::services::notify::retry_mail(conn, by, id, ctx.now))
        .await?;
    Ok(HttpResponse::Ok().json(row))
}

/// When each job last ran, where, and what it did (admins).
#[utoipa::path(tag = "admin", responses((status = 200, body = [JobRun]), (status = 403)), security(("bearer" = [])))]
#[get("/admin/jobs")]
pub async fn runs(state: web::Data<AppState>, who: Authed) -> Result<HttpResponse, AppError> {
    admin(&who)?;
    let rows = state.run(|conn, _| Ok(jobs::runs(conn)?)).await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Run a job now (admins): deadline_scan, digest, outbox or release_stale_claims.
#[utoipa::path(tag = "admin", params(("job" = String, Path)), responses((status = 200, body = Object), (status = 403), (status = 404)), security(("bearer" = [])))]
#[post("/admin/jobs/{job}/run")]
pub async fn run(
    state: web::Data<AppState>,
    who: Authed,
    job: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    admin(&who)?;
    let job = Job::parse(&job).ok_or(AppError::NotFound)?;
    let result = jobs::run(&state, job).await?;
    Ok(HttpResponse::Ok().json(json!({ "job": job, "result": result })))
}
