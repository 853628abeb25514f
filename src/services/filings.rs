//! Filings: drafts, edits, materials and actions. Each public function is one use case and one
//! transaction.
//!
//! Policy (DESIGN principle 2): an action locks the filing row, checks the version the caller
//! saw, asks the pure engine, and writes the new state, the clock events, the tasks and the
//! audit entry in the same transaction; either all of it commits or none of it. A filing the
//! caller may not see is reported as not found, so other applicants' filings do not leak.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Ctx;
use super::auth::Principal;
use super::deadlines::{self, Clocks};
use super::items::Item;
use crate::clock::local_date;
use crate::db::batch::{self, Batch, Raw};
use crate::domain::definition::{Action, Input, Role, State, StateKind};
use crate::domain::engine::{
    self, Actor, Effect, Outcome, Refusal, ReviewRecord, Snapshot, Verdict,
};
use crate::domain::forms::{self, Mode};
use crate::domain::legal_time::{LedgerEntry, LedgerKind};
use crate::domain::{Problem, Text};
use crate::error::AppError;
use crate::repo::audit::{self, Event};
use crate::repo::filings::{
    self as repo, FilingChanges, FilingRow, MaterialRow, NewFiling, NewMaterial,
};
use crate::repo::{reports, tasks};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StateView {
    pub code: String,
    pub kind: StateKind,
    pub label: Text,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionView {
    pub code: String,
    pub label: Text,
    pub inputs: Vec<Input>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MaterialView {
    pub id: Uuid,
    pub material: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
}

impl From<MaterialRow> for MaterialView {
    fn from(m: MaterialRow) -> Self {
        MaterialView {
            id: m.id,
            material: m.material,
            file_name: m.file_name,
            content_type: m.content_type,
            size_bytes: m.size_bytes,
            sha256: m.sha256,
            uploaded_at: m.uploaded_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReviewView {
    pub department: String,
    pub label: Option<Text>,
    /// Null while the department has not answered.
    pub verdict: Option<Verdict>,
    pub opinion: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskBrief {
    pub id: i64,
    pub role: Role,
    pub department: String,
    pub claimed_by: Option<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FilingView {
    pub id: Uuid,
    pub number: Option<String>,
    pub item: String,
    pub item_version: i32,
    pub item_name: Text,
    pub state: StateView,
    /// Send it back as `If-Match` or `expected_version` with the next change.
    pub version: i32,
    pub applicant_id: Uuid,
    pub department: String,
    #[schema(value_type = Object)]
    pub form: Value,
    #[schema(value_type = Object)]
    pub promises: Value,
    /// The one-time notice (一次性告知) while a supplement is requested.
    #[schema(value_type = Object)]
    pub notice: Option<Value>,
    pub materials: Vec<MaterialView>,
    pub reviews: Vec<ReviewView>,
    pub objections: i64,
    pub tasks: Vec<TaskBrief>,
    /// The actions the caller may take now (guards are checked when acting).
    pub actions: Vec<ActionView>,
    /// Statutory, promised and step clocks as of today.
    pub clocks: Clocks,
    pub entered_state_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The applicant's rating of a closed filing (好差评), 1 to 5.
    pub rating: Option<i16>,
}

/// A short line per filing, for lists.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FilingSummary {
    pub id: Uuid,
    pub number: Option<String>,
    pub item: String,
    pub state: String,
    pub state_kind: StateKind,
    pub version: i32,
    pub department: String,
    pub created_at: DateTime<Utc>,
    pub entered_state_at: DateTime<Utc>,
}

impl From<FilingRow> for FilingSummary {
    fn from(f: FilingRow) -> Self {
        FilingSummary {
            id: f.id,
            number: f.number,
            item: f.item_code,
            state: f.state,
            state_kind: f.state_kind,
            version: f.version,
            department: f.department,
            created_at: f.created_at,
            entered_state_at: f.entered_state_at,
        }
    }
}

/// What the caller sends with an action.
#[derive(Debug, Default, Clone)]
pub struct ActInput {
    pub reason: Option<String>,
    pub opinion: Option<String>,
    pub verdict: Option<Verdict>,
    pub notice_items: Vec<String>,
    pub objection: Option<String>,
}

fn not_found() -> AppError {
    AppError::NotFound
}

/// May `p` see this filing? Drafts are the applicant's alone; staff see their department's
/// filings and those their department worked on; admins and auditors see all.
pub fn can_see(conn: &mut PgConnection, p: &Principal, f: &FilingRow) -> Result<bool, AppError> {
    if f.applicant_id == p.user_id {
        return Ok(true);
    }
    if f.state_kind == StateKind::Draft {
        return Ok(false);
    }
    if p.has(Role::Admin) || p.has(Role::Auditor) {
        return Ok(true);
    }
    match &p.department {
        Some(d) if p.works_filings() => {
            Ok(f.department == *d || repo::department_touched(conn, f.id, d)?)
        }
        _ => Ok(false),
    }
}

fn check_version(f: &FilingRow, expected: i32, def_state: &str) -> Result<(), AppError> {
    if f.version != expected {
        return Err(AppError::conflict(
            "stale_version",
            format!(
                "办件已被他人更新（您看到的是第 {expected} 版，当前为第 {} 版），请刷新后重试",
                f.version
            ),
            format!(
                "The filing changed since you saw it (you saw version {expected}, it is now {}); reload and retry",
                f.version
            ),
            json!({ "current": { "state": def_state, "version": f.version } }),
        ));
    }
    Ok(())
}

fn parse_promises(
    v: &Map<String, Value>,
    item: &Item,
) -> Result<BTreeMap<String, NaiveDate>, Vec<Problem>> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for (k, v) in v {
        let path = format!("promises.{k}");
        match item.def.material(k) {
            Some(m) if m.requirement == crate::domain::definition::Requirement::Tolerable => {}
            Some(m) => {
                problems.push(Problem::new(
                    path,
                    "not_tolerable",
                    format!("材料「{}」不适用容缺受理", m.label.zh),
                    format!("{} cannot be tolerated", m.label.en),
                ));
                continue;
            }
            None => {
                problems.push(Problem::new(
                    path,
                    "unknown_material",
                    "没有这项材料",
                    "No such material",
                ));
                continue;
            }
        }
        match v
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        {
            Some(d) => {
                out.insert(k.clone(), d);
            }
            None => problems.push(Problem::new(
                path,
                "invalid_date",
                "承诺日期须为 YYYY-MM-DD 格式的有效日期",
                "A promise date must be a valid YYYY-MM-DD date",
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn promises_of(f: &FilingRow) -> BTreeMap<String, NaiveDate> {
    f.promises
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    v.as_str()
                        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                        .map(|d| (k.clone(), d))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn state_of<'a>(item: &'a Item, f: &FilingRow) -> Result<&'a State, AppError> {
    item.def.state(&f.state).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "filing {} is in state `{}` which {} v{} does not define",
            f.id,
            f.state,
            item.def.code,
            item.version
        ))
    })
}

/// An idempotency key as a create takes it: 1 to 64 visible ASCII characters.
pub fn is_idempotency_key(k: &str) -> bool {
    (1..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
}

/// How a create answered: a new draft, or the draft an earlier create with the same
/// idempotency key made.
pub enum Created {
    New(Box<FilingView>),
    Replayed(Box<FilingView>),
}

/// Create a draft of an item's newest version. With an idempotency key, a create sent again
/// (the same item, form and promises: a retry after an answer that was lost) is answered with
/// the filing the first one made, as it is now, and writes nothing; the same key with another
/// request is refused.
#[allow(clippy::too_many_arguments)]
pub fn create(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    item_code: &str,
    form: Map<String, Value>,
    promises: Map<String, Value>,
    idempotency_key: Option<&str>,
) -> Result<Created, AppError> {
    if !p.has(Role::Applicant) {
        return Err(AppError::Forbidden);
    }
    let keyed = idempotency_key.map(|key| {
        let request = json!({ "item": item_code, "form": form, "promises": promises });
        let digest = Sha256::digest(crate::domain::audit::canonical(&request).as_bytes());
        (key, hex::encode(digest))
    });
    if let Some((key, sha)) = &keyed
        && let Some(done) = replay(conn, ctx, p, key, sha)?
    {
        return Ok(Created::Replayed(Box::new(done)));
    }
    let item = ctx.items.latest(item_code).ok_or_else(|| {
        AppError::one_invalid(
            "item",
            "unknown_item",
            format!("没有编码为「{item_code}」的事项"),
            format!("There is no item with code `{item_code}`"),
        )
    })?;
    let mut problems = forms::validate(&item.def, &form, Mode::Draft);
    let promises = match parse_promises(&promises, &item) {
        Ok(p) => p,
        Err(more) => {
            problems.extend(more);
            BTreeMap::new()
        }
    };
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let initial = item
        .def
        .state(&item.def.initial)
        .ok_or_else(|| anyhow::anyhow!("{} has no initial state", item.def.code))?;
    let id = Uuid::new_v4();
    let made = conn.transaction(|conn| {
        let row = repo::insert(
            conn,
            &NewFiling {
                id,
                item_version_id: item.id,
                item_code: &item.def.code,
                applicant_id: p.user_id,
                state: &initial.code,
                state_kind: initial.kind.as_str(),
                department: item.def.department_of(initial),
                form: Value::Object(form),
                promises: serde_json::to_value(&promises).map_err(|e| AppError::Internal(e.into()))?,
                entered_state_at: ctx.now,
                created_at: ctx.now,
                updated_at: ctx.now,
            },
        )?;
        audit::append(conn, Event::filing(id, p.user_id, "create", ctx.now, json!({ "item": item.def.code, "item_version": item.version, "state": initial.code })))?;
        if let Some((key, sha)) = &keyed {
            match repo::remember_key(conn, p.user_id, key, sha, id, ctx.now) {
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => return Err(NotMade::KeyTaken),
                other => other?,
            }
        }
        Ok(view(conn, ctx, p, &item, row)?)
    });
    match made {
        Ok(v) => Ok(Created::New(Box::new(v))),
        // A create with the same key committed while this one waited: this one wrote nothing.
        Err(NotMade::KeyTaken) => {
            let found = match &keyed {
                Some((key, sha)) => replay(conn, ctx, p, key, sha)?,
                None => None,
            };
            found
                .map(|v| Created::Replayed(Box::new(v)))
                .ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!(
                        "an idempotency key taken, its filing not found"
                    ))
                })
        }
        Err(NotMade::Failed(e)) => Err(e),
    }
}

/// Why a create's transaction did not commit: the key was taken by a concurrent create with
/// the same key, or anything else.
enum NotMade {
    KeyTaken,
    Failed(AppError),
}

impl From<AppError> for NotMade {
    fn from(e: AppError) -> Self {
        NotMade::Failed(e)
    }
}

impl From<diesel::result::Error> for NotMade {
    fn from(e: diesel::result::Error) -> Self {
        NotMade::Failed(e.into())
    }
}

/// The filing an earlier create with this key made, if any; the key used for another
/// request is refused.
fn replay(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    key: &str,
    sha: &str,
) -> Result<Option<FilingView>, AppError> {
    let Some((filing, earlier)) = repo::created_for_key(conn, p.user_id, key)? else {
        return Ok(None);
    };
    if earlier != sha {
        return Err(AppError::one_invalid(
            "Idempotency-Key",
            "key_reused",
            "此 Idempotency-Key 已用于另一份不同的申请，请为新申请使用新的键",
            "This Idempotency-Key was used for a different create: use a new key for a new request",
        ));
    }
    get(conn, ctx, p, filing).map(Some)
}

/// Load a filing for reading.
pub fn get(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
) -> Result<FilingView, AppError> {
    let row = repo::find(conn, id)?.ok_or_else(not_found)?;
    if !can_see(conn, p, &row)? {
        return Err(not_found());
    }
    let item = ctx.items.by_id(conn, row.item_version_id)?;
    view(conn, ctx, p, &item, row)
}

/// Lock a filing the caller may see, or 404.
fn lock_visible(conn: &mut PgConnection, p: &Principal, id: Uuid) -> Result<FilingRow, AppError> {
    let row = repo::lock(conn, id)?.ok_or_else(not_found)?;
    if !can_see(conn, p, &row)? {
        return Err(not_found());
    }
    Ok(row)
}

/// The applicant edits the form or the 容缺 promises where the state allows it. `null` removes
/// a key. Values are type-checked now; completeness is checked on submission.
pub fn edit(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
    expected_version: i32,
    form_patch: Map<String, Value>,
    promises_patch: Map<String, Value>,
) -> Result<FilingView, AppError> {
    conn.transaction(|conn| {
        let row = lock_visible(conn, p, id)?;
        let item = ctx.items.by_id(conn, row.item_version_id)?;
        let state = state_of(&item, &row)?;
        ensure_applicant_may_edit(p, &row, state)?;
        check_version(&row, expected_version, &row.state)?;

        let mut form = row.form.as_object().cloned().unwrap_or_default();
        let changed: Vec<String> = form_patch.keys().cloned().collect();
        for (k, v) in form_patch {
            if v.is_null() {
                form.remove(&k);
            } else {
                form.insert(k, v);
            }
        }
        let mut promises = row.promises.as_object().cloned().unwrap_or_default();
        for (k, v) in &promises_patch {
            if v.is_null() {
                promises.remove(k);
            } else {
                promises.insert(k.clone(), v.clone());
            }
        }
        let mut problems = forms::validate(&item.def, &form, Mode::Draft);
        if let Err(more) = parse_promises(&promises, &item) {
            problems.extend(more);
        }
        if !problems.is_empty() {
            return Err(AppError::Validation(problems));
        }
        let row = repo::update(
            conn,
            id,
            &FilingChanges {
                version: Some(row.version + 1),
                form: Some(Value::Object(form)),
                promises: Some(Value::Object(promises)),
                updated_at: Some(ctx.now),
                ..Default::default()
            },
        )?;
        // Field codes, not values: the form may hold personal data.
        let payload =
            json!({ "fields": changed, "promises": promises_patch.keys().collect::<Vec<_>>() });
        audit::append(conn, Event::filing(id, p.user_id, "edit", ctx.now, payload))?;
        view(conn, ctx, p, &item, row)
    })
}

fn ensure_applicant_may_edit(
    p: &Principal,
    row: &FilingRow,
    state: &State,
) -> Result<(), AppError> {
    if row.applicant_id != p.user_id {
        return Err(AppError::Forbidden);
    }
    if !state.applicant_edits {
        return Err(AppError::conflict(
            "not_editable",
            format!("办件处于「{}」状态，不能修改", state.label.zh),
            format!(
                "The filing cannot be changed while it is {}",
                state.label.en.to_lowercase()
            ),
            json!({ "current": { "state": state.code, "version": row.version } }),
        ));
    }
    Ok(())
}

/// The applicant uploads while the filing is theirs to edit, or, for a material accepted
/// missing on a promise (容缺), while it is being examined. True for a promised material.
fn ensure_may_upload(
    p: &Principal,
    row: &FilingRow,
    state: &State,
    material: &str,
) -> Result<bool, AppError> {
    let promised = promises_of(row).contains_key(material);
    let after_acceptance = promised
        && row.accepted_at.is_some()
        && !state.kind.is_final()
        && row.applicant_id == p.user_id;
    if !after_acceptance {
        ensure_applicant_may_edit(p, row, state)?;
    }
    Ok(promised)
}

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
    let row = repo::find(conn, id)?.ok_or_else(not_found)?;
    if !can_see(conn, p, &row)? {
        return Err(not_found());
    }
    let item = ctx.items.by_id(conn, row.item_version_id)?;
    ensure_may_upload(p, &row, state_of(&item, &row)?, material)?;
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
        format!("This item has no material `{code}`"),
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
        let promised = ensure_may_upload(p, &row, state_of(&item, &row)?, material)?;
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
            super::notify::material_supplied(conn, id, material, ctx.now)?;
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
        ensure_applicant_may_edit(p, &row, state_of(&item, &row)?)?;
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
) -> Result<MaterialRow, AppError> {
    let row = repo::find(conn, id)?.ok_or_else(not_found)?;
    if !can_see(conn, p, &row)? {
        return Err(not_found());
    }
    repo::find_material(conn, id, material_id)?.ok_or_else(not_found)
}

fn actor<'a>(p: &'a Principal, row: &FilingRow) -> Actor<'a> {
    Actor {
        roles: &p.roles,
        department: p.department.as_deref(),
        is_owner: row.applicant_id == p.user_id,
    }
}

/// Take an action on a filing.
///
/// An action is one transaction (DESIGN principle 2), taken in one of two ways:
/// - **Read, then one guarded statement** (most actions): the filing and its facts are read in
///   one statement without a lock; the engine decides; everything the action writes goes to
///   the database as one statement whose first part updates the filing only if the row is
///   still the version read (its `xmin`), and which fails as a whole otherwise
///   (`db::batch::expect_one`). That is two round trips after the sign-in check, and the
///   filing's row lock is held only while that statement runs. A write in between (another
///   action, an edit, a calendar reload) makes it fail without writing anything; the action is
///   then read and decided again, and a changed version gets the usual 409.
/// - **Under the filing's lock** (an action that takes a filing number or closes the filing,
///   whose report rows and gapless number must be written in the same transaction before the
///   rest; or one that lost the race `OPTIMISTIC_TRIES` times): BEGIN, lock the row with its
///   facts, write, COMMIT.
///
/// Either way the writes take their locks in the same order (the filing's row first), so the
/// two ways cannot deadlock with each other.
pub fn act(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
    action: &str,
    expected_version: i32,
    input: &ActInput,
) -> Result<FilingView, AppError> {
    let req = ActRequest {
        id,
        action,
        expected_version,
        input,
    };
    for _ in 0..OPTIMISTIC_TRIES {
        match act_once(conn, ctx, p, &req, Read::Optimistic)? {
            Acted::Done(view) => return Ok(*view),
            Acted::Changed => continue,
            Acted::NeedsLock => break,
        }
    }
    conn.transaction(|conn| match act_once(conn, ctx, p, &req, Read::Locked)? {
        Acted::Done(view) => Ok(*view),
        Acted::Changed | Acted::NeedsLock => Err(AppError::Internal(anyhow::anyhow!(
            "an action under the filing's lock asked to be taken again"
        ))),
    })
}

/// How many times an action is read and decided again when its filing changed in between,
/// before it is taken under the filing's lock.
const OPTIMISTIC_TRIES: usize = 3;

struct ActRequest<'a> {
    id: Uuid,
    action: &'a str,
    expected_version: i32,
    input: &'a ActInput,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Optimistic,
    Locked,
}

enum Acted {
    Done(Box<FilingView>),
    /// The filing changed after it was read (optimistic only): nothing was written.
    Changed,
    /// The action must be taken under the filing's lock (optimistic only): nothing was written.
    NeedsLock,
}

fn act_once(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    r: &ActRequest<'_>,
    how: Read,
) -> Result<Acted, AppError> {
    let (id, action, expected_version, input) = (r.id, r.action, r.expected_version, r.input);
    // The row and its facts in one round trip (see `repo::lock_with_facts` on why the version
    // check below makes that safe under the lock; without it, the guard on the write does).
    let (row, facts, xmin) = match how {
        Read::Locked => {
            let (row, facts) = repo::lock_with_facts(conn, id)?.ok_or_else(not_found)?;
            (row, facts, None)
        }
        Read::Optimistic => {
            let (row, facts, xmin) = repo::read_with_facts(conn, id)?.ok_or_else(not_found)?;
            (row, facts, Some(xmin))
        }
    };
    if !can_see(conn, p, &row)? {
        return Err(not_found());
    }
    let item = ctx.items.by_id(conn, row.item_version_id)?;
    let from = state_of(&item, &row)?;
    check_version(&row, expected_version, &row.state)?;
    let facts = Facts::from_rows(&row, facts, ctx.offset)?;
    // Someone else holds this department's task: acting behind their back is a conflict.
    if let Some(dept) = p.department.as_deref()
        && let Some(t) = facts
            .tasks
            .iter()
            .find(|t| t.department == dept && t.claimed_by.is_some_and(|u| u != p.user_id))
    {
        return Err(AppError::conflict(
            "claimed_by_other",
            "该办件已由其他工作人员认领",
            "Another member of staff has claimed this filing",
            json!({ "task_id": t.id, "claimed_by": t.claimed_by }),
        ));
    }

    let snap = facts.snapshot(&row, ctx.offset);
    let req = engine::Request {
        action,
        reason: input.reason.as_deref(),
        opinion: input.opinion.as_deref(),
        verdict: input.verdict,
        notice_items: &input.notice_items,
        objection: input.objection.as_deref(),
    };
    let outcome = engine::decide(&item.def, &snap, &actor(p, &row), &req, ctx.today())
        .map_err(|r| refusal(r, &item, &row))?;
    if how == Read::Optimistic && needs_lock(&item, &row, &outcome) {
        return Ok(Acted::NeedsLock);
    }
    let before = row.clone();
    // The action's writes go to the database together, in one statement at the end (see
    // `db::batch`); only those whose result the action needs at once (a filing number, a
    // closing's report row) are sent on their own.
    let mut batch = Batch::new();
    let applied = apply(
        conn, &mut batch, xmin, ctx, p, &item, from, row, &facts, &outcome, input,
    )?;
    let (row, clocks) = (applied.row, applied.clocks);
    let to = state_of(&item, &row)?;
    if outcome.changes_state() && to.kind.is_final() {
        record_closing(conn, ctx, p, &item, &row, to.kind, &clocks)?;
    }
    let on_file = |code: &str| facts.materials.get(code).is_some_and(|n| *n > 0);
    super::notify::after_action(
        &mut batch,
        ctx.mail,
        ctx.calendar,
        ctx.now,
        ctx.today(),
        &super::notify::ActionFacts {
            item: &item,
            from,
            to,
            outcome: &outcome,
            before: &before,
            after: &row,
            clocks: &clocks,
            reason: input.reason.as_deref(),
            opinion: input.opinion.as_deref(),
            materials_on_file: &on_file,
            applicant: facts.applicant.as_ref(),
            open_deadlines: facts.open_deadlines > 0,
        },
    )?;
    let written = match (applied.tasks, &applied.guard) {
        (Some(Some(insert)), _) => {
            batch
                .flush_returning::<tasks::TaskRow>(conn, insert)
                .map(|mut opened| {
                    opened.sort_by_key(|t| t.id);
                    Some(opened)
                })
        }
        (tasks, Some(guard)) => batch
            .flush_returning::<Checked>(conn, Raw::new(format!("SELECT {guard} AS ok")))
            .map(|_| tasks.map(|_| Vec::new())),
        (tasks, None) => batch.flush(conn).map(|()| tasks.map(|_| Vec::new())),
    };
    let opened = match written {
        Ok(opened) => opened,
        Err(e) if how == Read::Optimistic && batch::is_changed(&e) => return Ok(Acted::Changed),
        Err(e) => return Err(e.into()),
    };
    let facts = facts.after(ctx, p, &outcome, input, &row, applied.ledger, opened);
    Ok(Acted::Done(Box::new(render(
        conn, ctx, p, &item, row, facts,
    )?)))
}

/// The answer of the guard's `SELECT` (see `db::batch::expect_one`).
#[derive(QueryableByName)]
struct Checked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    #[allow(dead_code)]
    ok: bool,
}

/// Whether an action must be taken under the filing's lock: it takes the filing's number
/// (gapless per item and year: the counter's row and the filing must commit together, in
/// that order) or closes the filing (its report row), writes whose results are needed before
/// the rest.
fn needs_lock(item: &Item, row: &FilingRow, outcome: &Outcome) -> bool {
    let numbers = outcome.effects.contains(&Effect::AssignNumber)
        && (row.number.is_none() || row.submitted_at.is_none());
    let closes = outcome.changes_state()
        && item
            .def
            .state(&outcome.to)
            .is_none_or(|s| s.kind.is_final());
    numbers || closes
}

/// A manager extends the statutory limit (行政许可法 §42: with the head's approval and written
/// reasons), within the item's `max_extension_days`.
pub fn extend(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
    expected_version: i32,
    days: u32,
    reason: &str,
) -> Result<FilingView, AppError> {
    conn.transaction(|conn| {
        let row = lock_visible(conn, p, id)?;
        let item = ctx.items.by_id(conn, row.item_version_id)?;
        let department_ok = p
            .department
            .as_deref()
            .is_some_and(|d| d == item.def.department || d == row.department);
        if !p.has(Role::Manager) || !department_ok {
            return Err(AppError::Forbidden);
        }
        check_version(&row, expected_version, &row.state)?;
        let ledger = deadlines::ledger(conn, id, ctx.offset)?;
        let before =
            deadlines::clocks(ctx.calendar, &item, &row, &ledger, ctx.today(), ctx.offset)?;
        let phase = before.statutory.phase;
        if !matches!(
            phase,
            crate::domain::legal_time::Phase::Running | crate::domain::legal_time::Phase::Suspended
        ) {
            return Err(AppError::conflict(
                "clock_not_running",
                "办件的法定时限尚未起算或已经停止，不能延期",
                "The statutory clock has not started or has stopped: nothing to extend",
                json!({ "current": { "state": row.state, "version": row.version } }),
            ));
        }
        let allowed = item
            .def
            .limits
            .max_extension_days
            .saturating_sub(before.statutory.extended);
        let mut problems = Vec::new();
        if days == 0 || days > allowed {
            problems.push(Problem::new(
                "days",
                "out_of_range",
                format!(
                    "延期天数须在 1 到 {allowed} 之间（本事项最多延期 {} 日）",
                    item.def.limits.max_extension_days
                ),
                format!(
                    "Days must be between 1 and {allowed} (this item allows {} in all)",
                    item.def.limits.max_extension_days
                ),
            ));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > engine::MAX_TEXT_CHARS {
            problems.push(Problem::new(
                "reason",
                "required",
                "请写明延期理由",
                "Give the reasons in writing",
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Validation(problems));
        }
        repo::insert_extension(conn, id, days as i32, reason, ctx.now, p.user_id)?;
        let row = repo::update(
            conn,
            id,
            &FilingChanges {
                version: Some(row.version + 1),
                updated_at: Some(ctx.now),
                ..Default::default()
            },
        )?;
        let payload = json!({ "days": days, "reason": reason, "version": row.version });
        audit::append(
            conn,
            Event::filing(id, p.user_id, "extend", ctx.now, payload),
        )?;
        deadlines::refresh(conn, ctx.calendar, &item, &row, ctx.now, ctx.offset)?;
        view(conn, ctx, p, &item, row)
    })
}

/// Count a closed filing in the SLA aggregates, in the closing transaction.
fn record_closing(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    item: &Item,
    row: &FilingRow,
    kind: StateKind,
    clocks: &Clocks,
) -> Result<(), AppError> {
    let s = &clocks.statutory;
    let started = s.started_on.is_some();
    let days = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    reports::record_closed(
        conn,
        &reports::Closed {
            filing: row.id,
            day: ctx.today(),
            item: &item.def.code,
            department: &item.def.department,
            closer: p.user_id,
            outcome: kind.as_str(),
            used_days: if started { days(s.used) } else { -1 },
            suspended_days: if started { days(s.suspended) } else { -1 },
            on_time_statutory: started && s.on_time(),
            on_time_promised: started && clocks.promised.as_ref().is_some_and(|c| c.on_time()),
        },
    )?;
    Ok(())
}

/// Map an engine refusal to the API's meaning.
fn refusal(r: Refusal, item: &Item, row: &FilingRow) -> AppError {
    match r {
        Refusal::UnknownAction(a) => AppError::one_invalid(
            "action",
            "unknown_action",
            format!("事项「{}」没有「{a}」操作", item.def.name.zh),
            format!("The item {} has no action `{a}`", item.def.code),
        ),
        Refusal::NotAllowedNow {
            action,
            state,
            allowed,
        } => AppError::conflict(
            "action_not_allowed",
            format!(
                "当前状态「{}」下不能进行「{action}」操作",
                label_of(item, &state).zh
            ),
            format!(
                "`{action}` is not allowed while the filing is {}",
                label_of(item, &state).en
            ),
            json!({ "current": { "state": state, "version": row.version }, "allowed_actions": allowed }),
        ),
        Refusal::Forbidden { .. } => AppError::Forbidden,
        Refusal::AlreadyAnswered { department } => AppError::conflict(
            "already_answered",
            "本部门已提交审查意见",
            "Your department has already given its verdict",
            json!({ "department": department, "current": { "state": row.state, "version": row.version } }),
        ),
        Refusal::Unprocessable(problems) => AppError::Validation(problems),
    }
}

fn label_of(item: &Item, state: &str) -> Text {
    item.def
        .state(state)
        .map(|s| s.label.clone())
        .unwrap_or(Text {
            zh: state.to_owned(),
            en: state.to_owned(),
        })
}

/// Facts about a filing the engine needs, read in the action's transaction.
struct Facts {
    material_rows: Vec<MaterialRow>,
    review_rows: Vec<repo::ReviewRow>,
    materials: BTreeMap<String, u32>,
    promises: BTreeMap<String, NaiveDate>,
    reviews: Vec<ReviewRecord>,
    objections: u32,
    ledger: Vec<LedgerEntry>,
    tasks: Vec<tasks::TaskRow>,
    /// Deadlines on the applicant still open (an action that leaves a state closes them).
    open_deadlines: i64,
    /// The applicant, when their account is active (the recipient of their letters).
    applicant: Option<super::notify::Recipient>,
}

impl Facts {
    /// One round trip: see [`repo::facts`].
    fn load(
        conn: &mut PgConnection,
        row: &FilingRow,
        offset: FixedOffset,
    ) -> Result<Facts, AppError> {
        let f = repo::facts(conn, row.id, row.state_visit, row.applicant_id)?;
        Self::from_rows(row, f, offset)
    }

    fn from_rows(
        row: &FilingRow,
        f: repo::FactsRows,
        offset: FixedOffset,
    ) -> Result<Facts, AppError> {
        let mut materials = BTreeMap::new();
        for m in &f.materials {
            *materials.entry(m.material.clone()).or_insert(0) += 1;
        }
        let reviews = f
            .reviews
            .iter()
            .map(|r| {
                let verdict = match r.verdict.as_str() {
                    "approve" => Verdict::Approve,
                    "refuse" => Verdict::Refuse,
                    other => return Err(anyhow::anyhow!("unknown verdict `{other}` stored")),
                };
                Ok(ReviewRecord {
                    department: r.department.clone(),
                    verdict,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ledger = deadlines::to_ledger(&f.ledger, offset)?;
        Ok(Facts {
            ledger,
            material_rows: f.materials,
            review_rows: f.reviews,
            tasks: f.tasks,
            open_deadlines: f.open_deadlines,
            applicant: f.applicant.map(super::notify::Recipient::from),
            materials,
            promises: promises_of(row),
            reviews,
            objections: u32::try_from(f.objections).unwrap_or(u32::MAX),
        })
    }

    /// The facts after an action, from those it was decided on and what it wrote, as a reload
    /// would read them in the same transaction: an action does not touch materials; a new
    /// state is a new visit (no reviews or objections yet) with the tasks just opened;
    /// otherwise a review adds itself and closes its department's task, an objection counts.
    #[allow(clippy::too_many_arguments)]
    fn after(
        mut self,
        ctx: &Ctx<'_>,
        p: &Principal,
        outcome: &Outcome,
        input: &ActInput,
        row: &FilingRow,
        ledger: Vec<LedgerEntry>,
        opened: Option<Vec<tasks::TaskRow>>,
    ) -> Facts {
        self.ledger = ledger;
        self.promises = promises_of(row);
        if let Some(opened) = opened {
            self.review_rows.clear();
            self.reviews.clear();
            self.objections = 0;
            self.tasks = opened;
            return self;
        }
        for effect in &outcome.effects {
            match effect {
                Effect::RecordReview {
                    department,
                    verdict,
                } => {
                    self.review_rows.push(repo::ReviewRow {
                        department: department.clone(),
                        verdict: *verdict,
                        opinion: input.opinion.clone(),
                        reason: input.reason.clone(),
                        decided_by: p.user_id,
                        decided_at: ctx.now,
                    });
                    self.reviews.push(ReviewRecord {
                        department: department.clone(),
                        verdict: *verdict,
                    });
                    self.tasks.retain(|t| t.department != *department);
                }
                Effect::RecordObjection(_) => {
                    self.objections = self.objections.saturating_add(1);
                }
                _ => {}
            }
        }
        self
    }

    fn snapshot<'a>(&'a self, row: &'a FilingRow, offset: FixedOffset) -> Snapshot<'a> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        Snapshot {
            state: &row.state,
            form: row
                .form
                .as_object()
                .unwrap_or_else(|| EMPTY.get_or_init(Map::new)),
            materials: &self.materials,
            promises: &self.promises,
            reviews: &self.reviews,
            objections: self.objections,
            entered_state_on: local_date(row.entered_state_at, offset),
            clock: crate::domain::legal_time::phase_of(&self.ledger),
        }
    }
}

/// Decide what an action writes: the writes whose results are needed now (a filing number,
/// the received-count of a first submission) are sent; the rest go into `batch`.
#[allow(clippy::too_many_arguments)]
fn apply(
    conn: &mut PgConnection,
    batch: &mut Batch,
    xmin: Option<String>,
    ctx: &Ctx<'_>,
    p: &Principal,
    item: &Item,
    from: &State,
    row: FilingRow,
    facts: &Facts,
    outcome: &Outcome,
    input: &ActInput,
) -> Result<Applied, AppError> {
    let def = &item.def;
    let to = def
        .state(&outcome.to)
        .ok_or_else(|| anyhow::anyhow!("engine chose unknown state `{}`", outcome.to))?;
    let version = row.version + 1;
    let mut changes = FilingChanges {
        version: Some(version),
        updated_at: Some(ctx.now),
        ..Default::default()
    };
    let mut audit_extra = Map::new();
    let mut clock_log = Vec::new();
    let mut clock_events: Vec<(&str, Option<&str>)> = Vec::new();
    let mut ledger = facts.ledger.clone();
    for effect in &outcome.effects {
        match effect {
            Effect::AssignNumber => {
                if row.number.is_none() {
                    let year = ctx.today().year();
                    let n = repo::next_number(conn, &def.prefix, year)?;
                    let number = format!("{}-{year}-{n:06}", def.prefix);
                    audit_extra.insert("number".into(), json!(number));
                    changes.number = Some(number);
                }
                if row.submitted_at.is_none() {
                    changes.submitted_at = Some(ctx.now);
                    reports::record_received(
                        conn,
                        row.id,
                        ctx.today(),
                        &def.code,
                        &def.department,
                    )?;
                }
            }
            Effect::IssueNotice(notice) => {
                let v = serde_json::to_value(notice).map_err(anyhow::Error::from)?;
                audit_extra.insert("notice".into(), v.clone());
                changes.notice = Some(Some(v));
            }
            Effect::RecordObjection(text) => {
                repo::insert_objection_in(
                    batch,
                    row.id,
                    row.state_visit,
                    text.clone(),
                    p.user_id,
                    ctx.now,
                );
                audit_extra.insert("objection".into(), json!(text));
            }
            Effect::RecordReview {
                department,
                verdict,
            } => {
                repo::insert_review_in(
                    batch,
                    row.id,
                    row.state_visit,
                    department.clone(),
                    verdict.as_str().to_owned(),
                    input.opinion.clone(),
                    input.reason.clone(),
                    p.user_id,
                    ctx.now,
                );
                if !outcome.changes_state() {
                    tasks::close_for_department_in(batch, row.id, department.clone(), ctx.now);
                }
                audit_extra.insert(
                    "review".into(),
                    json!({ "department": department, "verdict": verdict }),
                );
            }
            Effect::OpenReviews(_) => {}
            Effect::Clock(change) => {
                let (event, reason, kind) = match change {
                    engine::ClockChange::Start => ("start", None, LedgerKind::Start),
                    engine::ClockChange::Suspend { reason } => (
                        "suspend",
                        Some(reason.as_str()),
                        LedgerKind::Suspend(*reason),
                    ),
                    engine::ClockChange::Resume => ("resume", None, LedgerKind::Resume),
                    engine::ClockChange::Stop => ("stop", None, LedgerKind::Stop),
                };
                if event == "start" && row.accepted_at.is_none() {
                    changes.accepted_at = Some(ctx.now);
                }
                clock_events.push((event, reason));
                ledger.push(LedgerEntry {
                    kind,
                    on: ctx.today(),
                });
                clock_log.push(json!({ "event": event, "reason": reason }));
            }
        }
    }
    repo::insert_clock_events_in(batch, row.id, &clock_events, ctx.now, Some(p.user_id));

    // The row as it will be, to derive its deadlines before writing it once.
    let mut next = row.clone();
    if outcome.changes_state() {
        changes.state = Some(to.code.clone());
        changes.state_kind = Some(to.kind);
        changes.department = Some(def.department_of(to).to_owned());
        changes.state_visit = Some(version);
        changes.entered_state_at = Some(ctx.now);
        if to.kind.is_final() {
            changes.closed_at = Some(ctx.now);
        }
        // The notice is answered once the filing leaves the applicant's hands.
        if from.kind == StateKind::WaitingApplicant && to.kind != StateKind::WaitingApplicant {
            changes.notice = Some(None);
        }
        next.state = to.code.clone();
        next.entered_state_at = ctx.now;
        next.closed_at = changes.closed_at.or(row.closed_at);
    }
    let clocks = deadlines::clocks(ctx.calendar, item, &next, &ledger, ctx.today(), ctx.offset)?;
    let updated = row.clone().with_changes(&changes);
    let columns = deadlines::columns(&clocks);
    let guard = match xmin {
        Some(xmin) => Some(batch::expect_one(&repo::update_guarded_in(
            batch, row.id, xmin, changes, columns,
        ))),
        None => {
            repo::update_in(batch, row.id, changes, columns);
            None
        }
    };
    let tasks = outcome.changes_state().then(|| {
        enter_tasks(
            batch,
            guard.clone(),
            ctx,
            row.id,
            !facts.tasks.is_empty(),
            item,
            to,
            clocks.next_due_on,
        )
    });

    let mut payload = json!({
        "action": outcome.action,
        "from": outcome.from,
        "to": outcome.to,
        "version": version,
    });
    if let Some(obj) = payload.as_object_mut() {
        for (k, v) in [
            ("reason", input.reason.as_ref()),
            ("opinion", input.opinion.as_ref()),
        ] {
            if let Some(v) = v {
                obj.insert(k.into(), json!(v));
            }
        }
        if !clock_log.is_empty() {
            obj.insert("clock".into(), Value::Array(clock_log));
        }
        obj.extend(audit_extra);
    }
    let action = format!("action:{}", outcome.action);
    audit::append_in(
        batch,
        &Event::filing(row.id, p.user_id, &action, ctx.now, payload),
    );
    Ok(Applied {
        row: updated,
        clocks,
        ledger,
        tasks,
        guard,
    })
}

/// What [`apply`] wrote, for the notifications and the caller's view.
struct Applied {
    row: FilingRow,
    clocks: Clocks,
    /// The clock ledger with the action's events.
    ledger: Vec<LedgerEntry>,
    /// The new state's tasks, to be opened by the batch's last statement (`None`: the state
    /// did not change; `Some(None)`: the new state has no queue).
    tasks: Option<Option<Raw>>,
    /// The condition that the filing's UPDATE found the row as read (optimistic only).
    guard: Option<String>,
}

/// Enter a state's queue: close the filing's open tasks and open those the state needs, one
/// per department of a joint review or one for the state's queue role, sorting by the
/// filing's next due date, with the batch. The INSERT of the tasks, for the batch's last statement.
#[allow(clippy::too_many_arguments)]
fn enter_tasks(
    batch: &mut Batch,
    guard: Option<String>,
    ctx: &Ctx<'_>,
    filing: Uuid,
    any_open: bool,
    item: &Item,
    state: &State,
    due_on: Option<NaiveDate>,
) -> Option<Raw> {
    let role = state.queue.map(|r| r.as_str()).unwrap_or("reviewer");
    let work: Vec<(&str, &str)> = match (&state.parallel, state.queue) {
        (Some(parallel), _) => parallel
            .tasks
            .iter()
            .map(|t| (role, t.department.as_str()))
            .collect(),
        (None, Some(q)) => vec![(q.as_str(), item.def.department_of(state))],
        (None, None) => Vec::new(),
    };
    tasks::replace_open_in(
        batch,
        guard,
        filing,
        any_open,
        &state.code,
        &work,
        due_on,
        ctx.now,
    )
}

/// The caller's view of a filing.
fn view(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    item: &Item,
    row: FilingRow,
) -> Result<FilingView, AppError> {
    let facts = Facts::load(conn, &row, ctx.offset)?;
    render(conn, ctx, p, item, row, facts)
}

/// The caller's view of a filing from facts in hand.
fn render(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    item: &Item,
    row: FilingRow,
    facts: Facts,
) -> Result<FilingView, AppError> {
    let state = state_of(item, &row)?;
    let clocks = deadlines::clocks(
        ctx.calendar,
        item,
        &row,
        &facts.ledger,
        ctx.today(),
        ctx.offset,
    )?;
    let actions: Vec<ActionView> = {
        let snap = facts.snapshot(&row, ctx.offset);
        engine::available_actions(&item.def, &snap, &actor(p, &row))
            .into_iter()
            .map(|a: &Action| ActionView {
                code: a.code.clone(),
                label: a.label.clone(),
                inputs: a.inputs.clone(),
            })
            .collect()
    };
    let reviews = match &state.parallel {
        Some(parallel) => parallel
            .tasks
            .iter()
            .map(|t| {
                let done = facts
                    .review_rows
                    .iter()
                    .find(|r| r.department == t.department);
                ReviewView {
                    department: t.department.clone(),
                    label: Some(t.label.clone()),
                    verdict: done.map(|r| r.verdict),
                    opinion: done.and_then(|r| r.opinion.clone()),
                    decided_at: done.map(|r| r.decided_at),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    // 个人信息保护法: personal fields are shown to the applicant and to staff who work the
    // filing; admins and auditors see them masked.
    let full = row.applicant_id == p.user_id || p.works_filings();
    let form = if full {
        row.form.clone()
    } else {
        let masked: Map<String, Value> = row
            .form
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let v = item
                            .def
                            .field(k)
                            .map(|f| forms::mask(f, v))
                            .unwrap_or_else(|| v.clone());
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Value::Object(masked)
    };
    Ok(FilingView {
        id: row.id,
        number: row.number,
        item: item.def.code.clone(),
        item_version: item.version,
        item_name: item.def.name.clone(),
        state: StateView {
            code: state.code.clone(),
            kind: state.kind,
            label: state.label.clone(),
        },
        version: row.version,
        applicant_id: row.applicant_id,
        department: row.department,
        form,
        promises: row.promises,
        notice: row.notice,
        materials: facts.material_rows.into_iter().map(Into::into).collect(),
        reviews,
        objections: i64::from(facts.objections),
        tasks: facts
            .tasks
            .iter()
            .map(|t| TaskBrief {
                id: t.id,
                role: t.role,
                department: t.department.clone(),
                claimed_by: t.claimed_by,
            })
            .collect(),
        actions,
        clocks,
        entered_state_at: row.entered_state_at,
        submitted_at: row.submitted_at,
        accepted_at: row.accepted_at,
        // Only a closed filing can have been rated: no query on the hot path of open ones.
        rating: if row.closed_at.is_some() {
            repo::rating_of(conn, row.id)?
        } else {
            None
        },
        closed_at: row.closed_at,
        created_at: row.created_at,
    })
}

/// The applicant rates a closed filing (好差评) once: 1 very dissatisfied … 5 very satisfied.
pub fn rate(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
    score: i16,
    comment: Option<&str>,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let row = lock_visible(conn, p, id)?;
        if row.applicant_id != p.user_id {
            return Err(AppError::Forbidden);
        }
        let closed = row.closed_at.is_some() && row.state_kind != StateKind::Withdrawn;
        if !closed {
            return Err(AppError::conflict(
                "not_closed",
                "办件办结后才能评价",
                "A filing is rated once it is decided",
                json!({ "current": { "state": row.state, "version": row.version } }),
            ));
        }
        let mut problems = Vec::new();
        if !(1..=5).contains(&score) {
            problems.push(Problem::new(
                "score",
                "out_of_range",
                "请选择 1 到 5 分",
                "Choose a score from 1 to 5",
            ));
        }
        if comment.is_some_and(|c| c.chars().count() > 2000) {
            problems.push(Problem::new(
                "comment",
                "too_long",
                "评价内容不超过 2000 字",
                "The comment may have at most 2000 characters",
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Validation(problems));
        }
        if !repo::insert_rating(conn, id, score, comment, p.user_id, ctx.now)? {
            return Err(AppError::conflict(
                "already_rated",
                "您已评价过此办件",
                "You have rated this filing already",
                json!({}),
            ));
        }
        audit::append(
            conn,
            Event::filing(
                id,
                p.user_id,
                "rate",
                ctx.now,
                json!({ "score": score, "comment": comment }),
            ),
        )?;
        Ok(())
    })
}

/// Filings the caller may list: an applicant's own; a department's; all for admins and auditors.
pub fn list(
    conn: &mut PgConnection,
    p: &Principal,
    state: Option<&str>,
    item: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<FilingSummary>, AppError> {
    let scope = if p.has(Role::Admin) || p.has(Role::Auditor) {
        repo::ListScope::All
    } else if let (true, Some(d)) = (p.works_filings(), p.department.as_deref()) {
        repo::ListScope::Department(d)
    } else {
        repo::ListScope::Applicant(p.user_id)
    };
    let rows = repo::list(conn, scope, state, item, limit, offset)?;
    Ok(rows.into_iter().map(Into::into).collect())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub actor_id: Option<Uuid>,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub hash: String,
}

/// The timeline of a filing, from its audit chain.
pub fn history(
    conn: &mut PgConnection,
    p: &Principal,
    id: Uuid,
) -> Result<Vec<HistoryEntry>, AppError> {
    let row = repo::find(conn, id)?.ok_or_else(not_found)?;
    if !can_see(conn, p, &row)? {
        return Err(not_found());
    }
    audit::for_filing(conn, id)?
        .into_iter()
        .map(|a| {
            // Everything shown comes from the hashed entry text, not from the columns beside
            // it: what the timeline says is what verification checks.
            let entry: Value = serde_json::from_str(&a.entry).map_err(anyhow::Error::from)?;
            let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
            let at = text("at")
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(a.at);
            Ok(HistoryEntry {
                seq: entry.get("seq").and_then(Value::as_i64).unwrap_or(a.seq),
                at,
                action: text("action").unwrap_or(a.action),
                actor_id: text("actor_id").and_then(|u| u.parse().ok()),
                payload: entry.get("payload").cloned().unwrap_or(Value::Null),
                hash: a.hash,
            })
        })
        .collect()
}
