//! Material uploads and downloads.
//!
//! Policy: the file is streamed to a temporary file while its SHA-256 and size are computed;
//! it is refused (and the temporary file removed) as soon as it exceeds the material's limit,
//! when its extension is not accepted, or when its first bytes do not match its extension. Kept
//! files are content-addressed (`uploads/ab/abcdef…`), so a retried upload stores nothing twice,
//! and a row is written only after the file is safely in place. A file already on file for the
//! same material (the same SHA-256) is not recorded again: the upload is answered with the one
//! on file (200, `Idempotent-Replayed: true`).

use std::path::{Path, PathBuf};

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::Text;
use crate::error::AppError;
use crate::services::filings::{self, Added, MaterialView, Upload};
use crate::web::extract::{Authed, Bearer};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    pub material: MaterialView,
    /// The filing's version after the upload.
    pub filing_version: i32,
}

/// Magic numbers of the accepted types. Types without a reliable signature are accepted by
/// extension alone.
fn sniff_ok(ext: &str, head: &[u8]) -> bool {
    match ext {
        "pdf" => head.starts_with(b"%PDF-"),
        "png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "jpg" | "jpeg" => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        // OFD, DOCX and XLSX are ZIP containers.
        "zip" | "ofd" | "docx" | "xlsx" => head.starts_with(b"PK\x03\x04"),
        "doc" | "xls" => head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]),
        "dwg" => head.starts_with(b"AC10"),
        _ => false,
    }
}

fn content_type(ext: &str) -> &'static str {
    match ext {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "zip" => "application/zip",
        "ofd" => "application/ofd",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "dwg" => "image/vnd.dwg",
        _ => "application/octet-stream",
    }
}

fn too_large(max: u64) -> AppError {
    let mb = max / (1024 * 1024);
    AppError::PayloadTooLarge(Text {
        zh: format!("文件超过 {mb} MB 的上限"),
        en: format!("The file exceeds the {mb} MB limit"),
    })
}

fn wrong_type(types: &[String]) -> AppError {
    AppError::UnsupportedMediaType(Text {
        zh: format!(
            "文件类型不符，只接受：{}（且文件内容须与扩展名一致）",
            types.join("、")
        ),
        en: format!(
            "Wrong file type; accepted: {} (the content must match the extension)",
            types.join(", ")
        ),
    })
}

fn stored_path(dir: &Path, sha: &str) -> PathBuf {
    dir.join(&sha[..2]).join(sha)
}

/// Upload one file for a material (multipart/form-data, part `file`).
#[utoipa::path(tag = "materials", params(("id" = Uuid, Path), ("material" = String, Path)),
    responses((status = 201, body = Uploaded),
        (status = 200, body = Uploaded, description = "the same file (by SHA-256) was already on file for this material, as when an upload is sent again: answered with it, with `Idempotent-Replayed: true`; nothing written"),
        (status = 413, description = "too large"), (status = 415, description = "wrong type"),
        (status = 409, description = "not editable now"), (status = 422, description = "unknown material")),
    security(("bearer" = [])))]
#[post("/filings/{id}/materials/{material}")]
pub async fn upload(
    state: web::Data<AppState>,
    who: Authed,
    path: web::Path<(Uuid, String)>,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let (id, material) = path.into_inner();
    let added = store(&state, who.principal, id, material, &req, payload).await?;
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

/// Receive one file for a material of a filing (the part named `file`), check and store it,
/// and record it: shared by the API and the pages.
pub async fn store(
    state: &AppState,
    who: crate::services::auth::Principal,
    id: Uuid,
    material: String,
    req: &HttpRequest,
    mut payload: Multipart,
) -> Result<Added, AppError> {
    let global_max = u64::from(state.settings.storage.max_upload_mb) * 1024 * 1024;
    // Refuse an announced oversize body before reading it.
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let p = who.clone();
    let m = material.clone();
    let policy = state
        .run(move |conn, ctx| filings::upload_policy(conn, ctx, &p, id, &m, global_max))
        .await?;
    if declared.is_some_and(|n| n > policy.max_bytes + 64 * 1024) {
        return Err(too_large(policy.max_bytes));
    }

    let dir = state.settings.upload_dir();
    let tmp_dir = dir.join("tmp");
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", tmp_dir.display()))?;

    let mut stored: Option<(Upload, PathBuf)> = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| {
            AppError::bad_request(
                format!("上传内容有误：{e}"),
                format!("Bad multipart body: {e}"),
            )
        })?;
        if field.name() != Some("file") || stored.is_some() {
            // Drain parts we do not use.
            while let Some(chunk) = field.next().await {
                chunk.map_err(|e| {
                    AppError::bad_request(
                        format!("上传内容有误：{e}"),
                        format!("Bad multipart body: {e}"),
                    )
                })?;
            }
            continue;
        }
        let file_name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_owned))
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or("").trim().to_owned())
            .filter(|n| !n.is_empty() && n.chars().count() <= 255)
            .ok_or_else(|| {
                AppError::one_invalid(
                    "file",
                    "file_name",
                    "请提供文件名（不超过 255 个字符）",
                    "The file needs a name (at most 255 characters)",
                )
            })?;
        // A name is shown on pages and sent back in Content-Disposition: no control
        // characters at all (not even line breaks), and NUL cannot be stored.
        if file_name.chars().any(char::is_control) {
            return Err(AppError::one_invalid(
                "file",
                "control_character",
                "文件名含有不可见的控制字符，请改名后重新上传",
                "The file name contains invisible control characters: rename the file and upload it again",
            ));
        }
        let ext = file_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if !policy.file_types.contains(&ext) {
            return Err(wrong_type(&policy.file_types));
        }
        let tmp = tmp_dir.join(Uuid::new_v4().to_string());
        let result = receive(&mut field, &tmp, policy.max_bytes, &ext).await;
        let (size, sha) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(match e {
                    Receive::TooLarge => too_large(policy.max_bytes),
                    Receive::WrongType => wrong_type(&policy.file_types),
                    Receive::Empty => {
                        AppError::one_invalid("file", "empty", "文件为空", "The file is empty")
                    }
                    Receive::Failed(e) => e,
                });
            }
        };
        stored = Some((
            Upload {
                file_name,
                content_type: content_type(&ext).to_owned(),
                size_bytes: size as i64,
                sha256: sha,
            },
            tmp,
        ));
    }
    let (file, tmp) = stored.ok_or_else(|| {
        AppError::one_invalid(
            "file",
            "required",
            "请在 file 字段中上传文件",
            "Send the file in the multipart part `file`",
        )
    })?;
    let target = stored_path(&dir, &file.sha256);
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", parent.display()))?;
    }
    tokio::fs::rename(&tmp, &target)
        .await
        .map_err(|e| anyhow::anyhow!("storing upload {}: {e}", target.display()))?;

    let p = who;
    state
        .run(move |conn, ctx| filings::add_material(conn, ctx, &p, id, &material, &file))
        .await
}

enum Receive {
    TooLarge,
    WrongType,
    Empty,
    Failed(AppError),
}

async fn receive(
    field: &mut actix_multipart::Field,
    tmp: &Path,
    max: u64,
    ext: &str,
) -> Result<(u64, String), Receive> {
    let mut file = tokio::fs::File::create(tmp)
        .await
        .map_err(|e| Receive::Failed(anyhow::anyhow!("creating {}: {e}", tmp.display()).into()))?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(16);
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| {
            Receive::Failed(AppError::bad_request(
                format!("上传中断：{e}"),
                format!("The upload broke off: {e}"),
            ))
        })?;
        size += chunk.len() as u64;
        if size > max {
            return Err(Receive::TooLarge);
        }
        if head.len() < 16 {
            let take = (16 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| Receive::Failed(anyhow::anyhow!("writing upload: {e}").into()))?;
    }
    if size == 0 {
        return Err(Receive::Empty);
    }
    if !sniff_ok(ext, &head) {
        return Err(Receive::WrongType);
    }
    file.flush()
        .await
        .map_err(|e| Receive::Failed(anyhow::anyhow!("flushing upload: {e}").into()))?;
    file.sync_all()
        .await
        .map_err(|e| Receive::Failed(anyhow::anyhow!("syncing upload: {e}").into()))?;
    Ok((size, hex::encode(hasher.finalize())))
}

/// Remove (supersede) an uploaded file where the state allows edits.
#[utoipa::path(tag = "materials", params(("id" = Uuid, Path), ("material_id" = Uuid, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
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

/// Download an uploaded file.
#[utoipa::path(tag = "materials", params(("id" = Uuid, Path), ("material_id" = Uuid, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404)), security(("bearer" = [])))]
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
    send_file(&state, m, &req, false).await
}

/// A stored material as a download (its original name, UTF-8).
/// Types a browser shows without running anything of the file's: these may be opened in place
/// (a preview); everything else is always a download.
pub fn previewable(content_type: &str) -> bool {
    matches!(content_type, "application/pdf" | "image/png" | "image/jpeg")
}

/// Send a stored material: as a download, or shown in place when `inline` is asked and its type
/// is [`previewable`]. Either way the browser may not sniff another type, and the file may not
/// be framed by another site.
pub async fn send_file(
    state: &AppState,
    m: crate::repo::filings::MaterialRow,
    req: &HttpRequest,
    inline: bool,
) -> Result<HttpResponse, AppError> {
    let inline = inline && previewable(&m.content_type);
    let file_path = stored_path(&state.settings.upload_dir(), &m.sha256);
    let file = actix_files::NamedFile::open_async(&file_path)
        .await
        .map_err(|e| anyhow::anyhow!("opening stored material {}: {e}", m.id))?;
    let mime: mime::Mime = m
        .content_type
        .parse()
        .unwrap_or(mime::APPLICATION_OCTET_STREAM);
    let file = file.set_content_type(mime).set_content_disposition(
        actix_web::http::header::ContentDisposition {
            disposition: if inline {
                actix_web::http::header::DispositionType::Inline
            } else {
                actix_web::http::header::DispositionType::Attachment
            },
            parameters: vec![actix_web::http::header::DispositionParam::FilenameExt(
                actix_web::http::header::ExtendedValue {
                    charset: actix_web::http::header::Charset::Ext("UTF-8".into()),
                    language_tag: None,
                    value: m.file_name.into_bytes(),
                },
            )],
        },
    );
    let mut r = file.into_response(req);
    let h = r.headers_mut();
    h.insert(
        actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
        actix_web::http::header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        actix_web::http::header::CONTENT_SECURITY_POLICY,
        actix_web::http::header::HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'self'",
        ),
    );
    Ok(r)
}
