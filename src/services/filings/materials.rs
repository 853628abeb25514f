//! Materials: what may be uploaded, uploading (once per file), removing, downloading.

use diesel::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    MaterialView, find_visible, lock_visible, not_found, rules, stands_for_applicant, state_of,
};
use crate::error::AppError;
use crate::repo::audit::{self, Event};
use crate::repo::filings::{self as repo, FilingChanges, FilingRow, NewMaterial};
use crate::services::Ctx;
use crate::services::auth::Principal;

/// Limits for an upload, checked before the file is stored.
pub struct UploadPolicy {
    pub max_bytes: u64,
    pub file_types: Vec<String>,
}

pub fn upload_policy(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
    material: &str,
    global_max_bytes: u64,
) -> Result<UploadPolicy, AppError> {
    let row = find_visible(conn, p, id)?;
    let item = ctx.items.by_id(conn, row.item_version_id)?;
    let for_applicant = stands_for_applicant(conn, p, &row)?;
    rules::ensure_may_upload(for_applicant, &row, state_of(&item, &row)?, material)?;
    let m = item
        .def
        .material(material)
        .ok_or_else(|| unknown_material(material))?;
    Ok(UploadPolicy {
        max_bytes: (u64::from(m.max_mb) * 1024 * 1024).min(global_max_bytes),
        file_types: m.file_types.clone(),
    })
}

fn unknown_material(code: &str) -> AppError {
    AppError::one_invalid(
        &format!("materials.{code}"),
        "unknown_material",
        format!("本事项没有「{code}」这项材料"),
        format!("This item has no material “{code}”"),
    )
}

/// A stored upload to record.
pub struct Upload {
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
}

/// What an upload did.
pub struct Added {
    pub material: MaterialView,
    /// The filing's version after the upload.
    pub filing_version: i32,
    /// The same file (by its SHA-256) was already on file for this material: an upload sent
    /// again after a lost answer, or twice at once. It is answered with the file on file, and
    /// nothing was written.
    pub replayed: bool,
}

pub fn add_material(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
    material: &str,
    upload: &Upload,
) -> Result<Added, AppError> {
    conn.transaction(|conn| {
        let row = lock_visible(conn, p, id)?;
        let item = ctx.items.by_id(conn, row.item_version_id)?;
        let for_applicant = stands_for_applicant(conn, p, &row)?;
        let promised =
            rules::ensure_may_upload(for_applicant, &row, state_of(&item, &row)?, material)?;
        item.def
            .material(material)
            .ok_or_else(|| unknown_material(material))?;
        // Under the filing's lock, so two copies sent at once find each other.
        if let Some(m) = repo::material_on_file(conn, id, material, &upload.sha256)? {
            return Ok(Added {
                material: m.into(),
                filing_version: row.version,
                replayed: true,
            });
        }
        if promised {
            crate::services::notify::material_supplied(conn, id, material, ctx.now)?;
        }
        let m = repo::insert_material(
            conn,
            &NewMaterial {
                id: Uuid::new_v4(),
                filing_id: id,
                material,
                file_name: &upload.file_name,
                content_type: &upload.content_type,
                size_bytes: upload.size_bytes,
                sha256: &upload.sha256,
                uploaded_by: p.user_id,
                uploaded_at: ctx.now,
            },
        )?;
        let payload = json!({
            "material": material, "material_id": m.id, "file_name": m.file_name,
            "size_bytes": m.size_bytes, "sha256": m.sha256,
        });
        let version = record_material_change(conn, ctx, p, &row, "upload_material", payload)?;
        Ok(Added {
            material: m.into(),
            filing_version: version,
            replayed: false,
        })
    })
}

pub fn remove_material(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
    material_id: Uuid,
) -> Result<i32, AppError> {
    conn.transaction(|conn| {
        let row = lock_visible(conn, p, id)?;
        let item = ctx.items.by_id(conn, row.item_version_id)?;
        let for_applicant = stands_for_applicant(conn, p, &row)?;
        rules::ensure_applicant_may_edit(for_applicant, &row, state_of(&item, &row)?)?;
        let m = repo::find_material(conn, id, material_id)?.ok_or_else(not_found)?;
        if repo::supersede_material(conn, m.id, ctx.now)? == 0 {
            return Err(not_found());
        }
        let payload = json!({ "material": m.material, "material_id": m.id, "sha256": m.sha256 });
        record_material_change(conn, ctx, p, &row, "remove_material", payload)
    })
}

/// A material change is a change of the filing: bump its version and audit it.
fn record_material_change(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    row: &FilingRow,
    action: &str,
    payload: Value,
) -> Result<i32, AppError> {
    let version = row.version + 1;
    repo::update(
        conn,
        row.id,
        &FilingChanges {
            version: Some(version),
            updated_at: Some(ctx.now),
            ..Default::default()
        },
    )?;
    audit::append(
        conn,
        Event::filing(row.id, p.user_id, action, ctx.now, payload),
    )?;
    Ok(version)
}

/// A material's metadata for download, if the caller may see the filing.
pub fn material_for_download(
    conn: &mut PgConnection,
    p: &Principal,
    id: Uuid,
    material_id: Uuid,
) -> Result<MaterialView, AppError> {
    find_visible(conn, p, id)?;
    Ok(repo::find_material(conn, id, material_id)?
        .ok_or_else(not_found)?
        .into())
}
