//! Administrators watch the jobs: when each last ran, where, and what it did; a job can be run
//! now.

use actix_web::{HttpResponse, get, post, web};
use serde_json::json;

use crate::app::AppState;
use crate::error::AppError;
use crate::jobs;
use crate::services::job_runs::{self, JobRun};
use crate::web::extract::Bearer;

/// When each job last ran, where, and what it did (admins).
#[utoipa::path(tag = "admin", responses((status = 200, body = [JobRun]), (status = 403)), security(("bearer" = [])))]
#[get("/admin/jobs")]
pub async fn runs(state: web::Data<AppState>, who: Bearer) -> Result<HttpResponse, AppError> {
    let rows = state
        .run_as(who, |conn, _, p| job_runs::list(conn, p))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Run a job now (admins): deadline_scan, digest, outbox, release_stale_claims or audit_seal.
#[utoipa::path(tag = "admin", params(("job" = String, Path)), responses((status = 200, body = Object), (status = 403), (status = 404)), security(("bearer" = [])))]
#[post("/admin/jobs/{job}/run")]
pub async fn run(
    state: web::Data<AppState>,
    who: Bearer,
    job: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    state.run_as(who, |_, _, p| job_runs::may_run(p)).await?;
    let job = jobs::find(&job).ok_or(AppError::NotFound)?;
    let result = jobs::run(&state, job.name).await?;
    Ok(HttpResponse::Ok().json(json!({ "job": job.name, "result": result })))
}
