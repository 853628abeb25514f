//! Administrators watch the outbox: failed mail is listed with its error and sent again on
//! request.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::repo::outbox::{self, MailRow};
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
