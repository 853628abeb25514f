//! Staff queues.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::services::queues::{self, Scope, TaskView};
use crate::web::extract::{Bearer, Body, BodyOrDefault, Page, Query, paged};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// clerk, reviewer or inspector; all the caller's roles by default.
    pub role: Option<Role>,
    /// all (default), unclaimed, mine.
    #[param(inline)]
    pub scope: Option<Scope>,
    /// Tasks a page holds: 1 to 200 (50 by default).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// The next page's cursor, from the previous page's `Link`.
    pub cursor: Option<String>,
}

/// The caller's department queue, oldest first, a page at a time: the whole queue's count in
/// `X-Total-Count`, the next page in `Link: <…>; rel="next"`.
#[utoipa::path(tag = "queue", params(QueueQuery), responses((status = 200, body = [TaskView],
        headers(("X-Total-Count" = i64, description = "tasks in the whole queue"),
                ("Link" = String, description = "the next page, `<…>; rel=\"next\"`, when there is one"))),
    (status = 403), (status = 422, description = "limit outside 1 to 200, a negative offset, a cursor not given by this list")),
    security(("bearer" = [])))]
#[get("/queue")]
pub async fn list(
    state: web::Data<AppState>,
    who: Bearer,
    q: Query<QueueQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner()?;
    let page = Page {
        limit: q.limit,
        offset: q.offset,
        cursor: q.cursor,
    }
    .request()?;
    let tasks = state
        .run_as(who, move |conn, _, p| {
            queues::list(conn, p, q.role, q.scope.unwrap_or(Scope::All), &page)
        })
        .await?;
    Ok(paged(&req, tasks))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimNext {
    pub role: Option<Role>,
}

/// Claim the next unclaimed task; 204 when the queue is empty.
#[utoipa::path(tag = "queue", request_body = ClaimNext, responses((status = 200, body = TaskView), (status = 204, description = "queue empty"), (status = 403, description = "the caller works no queue (of that role)")), security(("bearer" = [])))]
#[post("/queue/claim-next")]
pub async fn claim_next(
    state: web::Data<AppState>,
    who: Bearer,
    body: BodyOrDefault<ClaimNext>,
) -> Result<HttpResponse, AppError> {
    let task = state
        .run_as(who, move |conn, ctx, p| {
            let role = body.into_inner()?.role;
            queues::claim_next(conn, p, role, ctx.now)
        })
        .await?;
    Ok(match task {
        Some(t) => HttpResponse::Ok().json(t),
        None => HttpResponse::NoContent().finish(),
    })
}

/// Claim a given task.
#[utoipa::path(tag = "queue", params(("id" = i64, Path)), responses((status = 200, body = TaskView), (status = 403, description = "the caller does not hold the task's role"), (status = 409, description = "claimed by another, or the task is closed")), security(("bearer" = [])))]
#[post("/tasks/{id}/claim")]
pub async fn claim(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let t = state
        .run_as(who, move |conn, ctx, p| queues::claim(conn, p, id, ctx.now))
        .await?;
    Ok(HttpResponse::Ok().json(t))
}

/// Release a claimed task (the claimer or a manager).
#[utoipa::path(tag = "queue", params(("id" = i64, Path)), responses((status = 200, body = TaskView), (status = 403, description = "neither the claimer nor a manager"), (status = 409, description = "the task is closed")), security(("bearer" = [])))]
#[post("/tasks/{id}/release")]
pub async fn release(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let t = state
        .run_as(who, move |conn, ctx, p| {
            queues::release(conn, p, id, ctx.now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(t))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    pub user_id: Uuid,
}

/// Reassign a task to a member of staff (managers).
#[utoipa::path(tag = "queue", params(("id" = i64, Path)), request_body = Assign, responses((status = 200, body = TaskView), (status = 403), (status = 409, description = "the task is closed"), (status = 422)), security(("bearer" = [])))]
#[post("/tasks/{id}/assign")]
pub async fn assign(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<i64>,
    body: Body<Assign>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let t = state
        .run_as(who, move |conn, ctx, p| {
            let to = body.into_inner()?.user_id;
            queues::assign(conn, p, id, to, ctx.now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(t))
}
