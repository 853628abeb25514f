//! Documents on a filing (for those who may see it) and certificates (for anyone).

use actix_web::{HttpResponse, get, http::header, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::AppError;
use crate::services::documents::{self, CertificateView, DocumentCheck, DocumentView};
use crate::web::extract::Bearer;

/// The documents issued on a filing, oldest first (a superseded version names its successor).
#[utoipa::path(tag = "documents", params(("id" = Uuid, Path)),
    responses((status = 200, body = [DocumentView]), (status = 404)), security(("bearer" = [])))]
#[get("/filings/{id}/documents")]
pub async fn list(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let docs = state
        .run_as(who, move |conn, _, p| documents::list(conn, p, id))
        .await?;
    Ok(HttpResponse::Ok().json(docs))
}

/// One document as its sealed PDF (`application/pdf`); its SHA-256 is the ETag.
#[utoipa::path(tag = "documents", params(("id" = Uuid, Path), ("document_id" = Uuid, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404)),
    security(("bearer" = [])))]
#[get("/filings/{id}/documents/{document_id}")]
pub async fn download(
    state: web::Data<AppState>,
    who: Bearer,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, AppError> {
    let (id, doc) = path.into_inner();
    let (bytes, meta) = state
        .run_as(who, move |conn, ctx, p| {
            documents::file(conn, ctx, p, id, doc)
        })
        .await?;
    Ok(pdf_response(bytes, &meta, false))
}

/// The PDF answer: inline (the browser shows and prints it), named by its title and version.
pub fn pdf_response(
    bytes: Vec<u8>,
    meta: &crate::repo::documents::DocumentMeta,
    attachment: bool,
) -> HttpResponse {
    let name = format!("{}-v{}.pdf", meta.title_zh, meta.version);
    HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            header::CONTENT_DISPOSITION,
            header::ContentDisposition {
                disposition: if attachment {
                    header::DispositionType::Attachment
                } else {
                    header::DispositionType::Inline
                },
                parameters: vec![
                    header::DispositionParam::Filename(format!(
                        "{}-v{}.pdf",
                        meta.code, meta.version
                    )),
                    header::DispositionParam::FilenameExt(header::ExtendedValue {
                        charset: header::Charset::Ext("UTF-8".into()),
                        language_tag: None,
                        value: name.into_bytes(),
                    }),
                ],
            },
        ))
        .insert_header((
            header::ETAG,
            format!("\"{}\"", meta.sha256.as_deref().unwrap_or_default()),
        ))
        .insert_header((header::CACHE_CONTROL, "private, max-age=0"))
        .body(bytes)
}

/// A certificate by its identifier, for anyone: status (with its Chinese label), key fields
/// with personal data masked, the file's hash and whether its seal verifies. 400 names the
/// malformed part; 404 says there is no such certificate.
#[utoipa::path(tag = "documents", params(("identifier" = String, Path)),
    responses((status = 200, body = CertificateView), (status = 400), (status = 404)))]
#[get("/certificates/{identifier}")]
pub async fn certificate(
    state: web::Data<AppState>,
    identifier: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let identifier = identifier.into_inner();
    let view = state
        .run(move |conn, ctx| documents::certificate(conn, ctx, &identifier))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// A document by the verification code on it (its QR code): title, date, hash, seal.
#[utoipa::path(tag = "documents", params(("id" = Uuid, Path)),
    responses((status = 200, body = DocumentCheck), (status = 404)))]
#[get("/documents/{id}/check")]
pub async fn check(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let view = state
        .run(move |conn, ctx| documents::document_check(conn, ctx, id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SealKeyView {
    /// Always `SM2` (GB/T 32918) with SM3 digests, distinguishing ID 1234567812345678.
    pub algorithm: String,
    /// The first 16 hex digits of the SM3 of the public point, as sealed files name it.
    pub key_id: String,
    /// SubjectPublicKeyInfo PEM.
    pub pem: String,
}

/// The public key documents are sealed with.
#[utoipa::path(tag = "documents", responses((status = 200, body = SealKeyView)))]
#[get("/certificates/key")]
pub async fn key(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let public = state.issuer.key.public();
    Ok(HttpResponse::Ok().json(SealKeyView {
        algorithm: "SM2".into(),
        key_id: public.key_id(),
        pem: public.to_pem().map_err(anyhow::Error::from)?,
    }))
}

/// The same key at a well-known address, as a PEM file.
#[get("/.well-known/permits-seal.pem")]
pub async fn well_known_key(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let pem = state
        .issuer
        .key
        .public()
        .to_pem()
        .map_err(anyhow::Error::from)?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(pem))
}
