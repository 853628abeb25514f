//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};
use diesel::RunQueryDsl;
use serde_json::json;

use crate::app::AppState;

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers and every migration is applied, and the process is not shutting down:
/// from SIGTERM on this is 503, so that a proxy polling it stops routing here while the
/// requests in flight finish.
#[utoipa::path(tag = "health", responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.shutdown.begun() {
        return HttpResponse::ServiceUnavailable().json(json!({ "status": "shutting_down" }));
    }
    let result = state
        .run(|conn, _| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(crate::db::migrations_current(conn)?)
        })
        .await;
    match result {
        Ok(true) => HttpResponse::Ok()
            .json(json!({ "status": "ready", "database": "ok", "migrations": "current" })),
        Ok(false) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not_ready", "database": "ok", "migrations": "pending" })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "not_ready", "database": "unreachable" })),
    }
}
