//! Administrators watch the outbox: failed mail is listed with its error and sent again on
//! request.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::definition::Role;
use crate::domain::notify::MailStatus;
use crate::error::AppError;
use crate::services::outbox::{self, MailFilter, MailRow};
use crate::web::extract::{Bearer, Query};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MailQuery {
    /// pending, sent or failed.
    pub status: Option<String>,
    pub filing: Option<uuid::Uuid>,
    /// Keyset paging: messages with a smaller id.
    pub before: Option<i64>,
    /// 1 to 200 (50 by default); outside that range it is refused.
    pub limit: Option<i64>,
}

/// Outgoing mail, newest first (admins). Failed messages carry the last error.
#[utoipa::path(tag = "admin", params(MailQuery), responses((status = 200, body = [MailRow]), (status = 403), (status = 422)), security(("bearer" = [])))]
#[get("/admin/mail")]
pub async fn list(
    state: web::Data<AppState>,
    who: Bearer,
    q: Query<MailQuery>,
) -> Result<HttpResponse, AppError> {
    let rows = state
        .run_as(who, move |conn, _, p| {
            p.require(&[Role::Admin])?;
            let q = q.into_inner()?;
            let status = match q.status.as_deref() {
                None => None,
                Some(s) => Some(MailStatus::parse(s).ok_or_else(|| {
                    AppError::one_invalid(
                        "status",
                        "unknown_status",
                        "status 只能是 pending、sent 或 failed",
                        "status is one of pending, sent, failed",
                    )
                })?),
            };
            let filter = MailFilter {
                status,
                filing: q.filing,
                before: q.before,
                limit: crate::services::paging::PageRequest {
                    limit: q.limit,
                    ..Default::default()
                }
                .checked()?
                .limit(),
            };
            outbox::list(conn, p, &filter)
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
    who: Bearer,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let row = state
        .run_as(who, move |conn, ctx, p| {
            crate::services::notify::retry_mail(conn, p, id, ctx.now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(row))
}
