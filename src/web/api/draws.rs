//! The spot-check draws (双随机、一公开), public: no login. What is shown is what the draw was
//! made of (filing numbers, classes, ratios, staff ids, the seal) and its result, never a
//! builder's or applicant's data.

use actix_web::{HttpRequest, HttpResponse, get, web};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::services::draw::{self, DrawDetail, DrawSummary, DrawVerification};
use crate::web::extract::{Page, Query, paged};

/// Draws, newest first.
#[utoipa::path(tag = "draws", params(Page), responses((status = 200, body = [DrawSummary],
        headers(("X-Total-Count" = i64, description = "draws in the whole list"),
                ("Link" = String, description = "the next page, `<…>; rel=\"next\"`, when there is one"))),
    (status = 422, description = "limit outside 1 to 200, a negative offset, a cursor not given by this list")))]
#[get("/draws")]
pub async fn list(
    state: web::Data<AppState>,
    q: Query<Page>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let page = q.into_inner()?.request()?;
    let rows = state.run(move |conn, _| draw::list(conn, &page)).await?;
    Ok(paged(&req, rows))
}

/// One draw with its recorded inputs (as committed), its seed and its result.
#[utoipa::path(tag = "draws", params(("id" = Uuid, Path)), responses((status = 200, body = DrawDetail), (status = 404)))]
#[get("/draws/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let d = state.run(move |conn, ctx| draw::get(conn, ctx, id)).await?;
    Ok(HttpResponse::Ok().json(d))
}

/// Recompute a draw from its commitment and its seal: `ok`, or what differs.
#[utoipa::path(tag = "draws", params(("id" = Uuid, Path)), responses((status = 200, body = DrawVerification), (status = 404)))]
#[get("/draws/{id}/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let v = state.run(move |conn, _| draw::verify(conn, id)).await?;
    Ok(HttpResponse::Ok().json(v))
}
