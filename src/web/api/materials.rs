//! Material uploads and downloads (the streaming and storing is `web::files`, shared with the
//! pages).

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use serde::Serialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::services::filings::{self, MaterialView};
use crate::web::extract::Bearer;
use crate::web::files;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    pub material: MaterialView,
    /// The filing's version after the upload.
    pub filing_version: i32,
}

/// The upload's body, as the OpenAPI document describes it (the handler streams the parts).
#[derive(utoipa::ToSchema)]
pub struct UploadForm {
    /// The file, named with its extension (`drawings.pdf`); its first bytes must match it.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Upload one file for a material (multipart/form-data, part `file`).
#[utoipa::path(tag = "materials", params(("id" = Uuid, Path), ("material" = String, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Uploaded),
        (status = 200, body = Uploaded, description = "the same file (by SHA-256) was already on file for this material, as when an upload is sent again: answered with it, with `Idempotent-Replayed: true`; nothing written"),
        (status = 413, description = "too large"), (status = 415, description = "wrong type"),
        (status = 403, description = "the caller does not stand for the applicant"),
        (status = 409, description = "not editable now"), (status = 422, description = "unknown material")),
    security(("bearer" = [])))]
#[post("/filings/{id}/materials/{material}")]
pub async fn upload(
    state: web::Data<AppState>,
    who: Bearer,
    path: web::Path<(Uuid, String)>,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let (id, material) = path.into_inner();
    let added = files::store(&state, who.0, id, material, &req, payload).await?;
    let body = Uploaded {
        material: added.material,
        filing_version: added.filing_version,
    };
    Ok(if added.replayed {
        HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(body)
    } else {
        HttpResponse::Created().json(body)
    })
}

/// Remove (supersede) an uploaded file where the state allows edits.
#[utoipa::path(tag = "materials", params(("id" = Uuid, Path), ("material_id" = Uuid, Path)),
    responses((status = 204), (status = 403, description = "the caller does not stand for the applicant"), (status = 404), (status = 409, description = "not editable now")), security(("bearer" = [])))]
#[delete("/filings/{id}/materials/{material_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    who: Bearer,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AppError> {
    let (id, material_id) = path.into_inner();
    let version = state
        .run_as(who, move |conn, ctx, p| {
            filings::remove_material(conn, ctx, p, id, material_id)
        })
        .await?;
    Ok(HttpResponse::NoContent()
        .insert_header(("ETag", format!("\"{version}\"")))
        .finish())
}

/// Download an uploaded file, with the type its extension gives; ranges and conditional
/// requests are answered as RFC 9110 says (the file's SHA-256 is not its ETag here: the ETag is
/// the stored file's, from its size and time).
#[utoipa::path(tag = "materials", params(("id" = Uuid, Path), ("material_id" = Uuid, Path),
        ("Range" = Option<String>, Header, description = "one byte range, `bytes=0-1023`"),
        ("If-None-Match" = Option<String>, Header, description = "the ETag of a copy the client holds")),
    responses(
        (status = 200, description = "the file", content(
            ("application/pdf"), ("image/png"), ("image/jpeg"), ("application/zip"), ("application/ofd"),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("application/msword"), ("application/vnd.ms-excel"), ("image/vnd.dwg"),
            ("application/octet-stream"))),
        (status = 206, description = "the range asked for", content(
            ("application/pdf"), ("image/png"), ("image/jpeg"), ("application/zip"), ("application/ofd"),
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("application/msword"), ("application/vnd.ms-excel"), ("image/vnd.dwg"),
            ("application/octet-stream"))),
        (status = 304, description = "the copy the client holds (`If-None-Match`) is current; no body"),
        (status = 400, description = "a `Range` header that does not read"),
        (status = 412, description = "`If-Match` or `If-Unmodified-Since` does not hold; no body"),
        (status = 416, description = "the range lies outside the file; `Content-Range` gives its size; no body"),
        (status = 404)),
    security(("bearer" = [])))]
#[get("/filings/{id}/materials/{material_id}/content")]
pub async fn download(
    state: web::Data<AppState>,
    who: Bearer,
    path: web::Path<(Uuid, Uuid)>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let (id, material_id) = path.into_inner();
    let m = state
        .run_as(who, move |conn, _, p| {
            filings::material_for_download(conn, p, id, material_id)
        })
        .await?;
    let answer = files::send(&state, m, &req, false).await?;
    // The file server answers a `Range` header that is not visible ASCII with a bare 400 (no
    // body, the file's content type): every error of the API is a problem document.
    if answer.status() == actix_web::http::StatusCode::BAD_REQUEST {
        return Err(AppError::bad_request(
            "Range 头格式有误",
            "The Range header does not read",
        ));
    }
    Ok(answer)
}
