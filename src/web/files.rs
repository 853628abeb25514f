//! Files in and out, shared by the API and the pages: an upload streamed to disk and recorded,
//! a stored material sent back.
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
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::Text;
use crate::error::AppError;
use crate::services::auth::Token;
use crate::services::filings::{self, Added, MaterialView, Upload};

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

/// Receive one file for a material of a filing (the part named `file`), check and store it,
/// and record it: shared by the API and the pages.
pub async fn store(
    state: &AppState,
    who: Token,
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
    let m = material.clone();
    let policy = state
        .run_as(who.clone(), move |conn, ctx, p| {
            filings::upload_policy(conn, ctx, p, id, &m, global_max)
        })
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

    // The caller is checked again with the record: a session may end during a long upload.
    state
        .run_as(who, move |conn, ctx, p| {
            filings::add_material(conn, ctx, p, id, &material, &file)
        })
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

/// Types a browser shows without running anything of the file's: these may be opened in place
/// (a preview); everything else is always a download.
pub fn previewable(content_type: &str) -> bool {
    matches!(content_type, "application/pdf" | "image/png" | "image/jpeg")
}

/// Send a stored material: as a download, or shown in place when `inline` is asked and its type
/// is [`previewable`]. Either way the browser may not sniff another type, and the file may not
/// be framed by another site.
pub async fn send(
    state: &AppState,
    m: MaterialView,
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
