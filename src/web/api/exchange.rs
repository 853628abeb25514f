//! The data exchange as administrators, managers and auditors watch it: the SPGL backlog and
//! why it waits, the permit uploads against their five-working-day limit, and a filing's
//! reported rows.

use actix_web::{HttpResponse, get, web};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::repo::exchange::{ExchangeRow, UploadRow};
use crate::services::exchange::{self, ExchangeStatus};
use crate::web::extract::Bearer;

/// How the exchange stands: rows waiting for the front database (and the last reason), permit
/// uploads pending and late (admins, managers, auditors).
#[utoipa::path(tag = "exchange", responses((status = 200, body = ExchangeStatus), (status = 401), (status = 403)), security(("bearer" = [])))]
#[get("/exchange")]
pub async fn status(state: web::Data<AppState>, who: Bearer) -> Result<HttpResponse, AppError> {
    let front = state.front.clone();
    let platform = state.settings.exchange.platform_url.clone();
    let s = state
        .run_as(who, move |conn, ctx, p| {
            exchange::status(conn, ctx, p, &front, &platform)
        })
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// The permit uploads to the 建筑市场监管 platform, pending first by their last day.
#[utoipa::path(tag = "exchange", responses((status = 200, body = [UploadRow]), (status = 401), (status = 403)), security(("bearer" = [])))]
#[get("/exchange/uploads")]
pub async fn uploads(state: web::Data<AppState>, who: Bearer) -> Result<HttpResponse, AppError> {
    let rows = state
        .run_as(who, move |conn, _, p| exchange::uploads(conn, p))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// A filing's rows reported to the province (BLZT codes), in order, with their export state.
#[utoipa::path(tag = "exchange", params(("id" = Uuid, Path)), responses((status = 200, body = [ExchangeRow]), (status = 401), (status = 403, description = "not staff"), (status = 404)), security(("bearer" = [])))]
#[get("/filings/{id}/exchange")]
pub async fn of_filing(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let rows = state
        .run_as(who, move |conn, ctx, p| {
            if p.kind != crate::domain::definition::UserKind::Staff {
                return Err(AppError::Forbidden);
            }
            exchange::of_filing(conn, ctx, p, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}
