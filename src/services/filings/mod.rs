//! Filings: drafts, edits, materials and actions. Each public function is one use case and one
//! transaction.
//!
//! Policy (DESIGN principle 2): an action reads the filing with its facts, checks the version
//! the caller saw, asks the pure engine, builds the action's writes as one value (an
//! `ActionPlan`: the new state, the clock events, the tasks, the audit entry, the letter, the
//! deadlines) and hands it to `repo::actions::write_action`, which writes all of it or none of
//! it. A filing the caller may not see is reported as not found, so other applicants' filings
//! do not leak. What a caller may do with a filing is computed by the same rules that enforce it
//! ([`rules`]) and shown on the filing ([`FilingView`]), so no page re-derives them.

mod act;
mod create;
mod edit;
mod extend;
mod facts;
mod history;
mod materials;
mod page;
mod plan;
mod privacy;
mod rate;
mod rules;
mod views;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Ctx;
use super::auth::Principal;
use super::items::Item;
use super::paging::{PageRequest, Paged};
use crate::domain::Problem;
use crate::domain::definition::{Role, State, StateKind};
use crate::domain::engine::Actor;
use crate::error::AppError;
use crate::repo::filings::{self as repo, FilingRow};

pub use act::{ActInput, act};
pub use create::{Created, create, is_idempotency_key};
pub use edit::edit;
pub use extend::extend;
pub use history::{HistoryEntry, history};
pub use materials::{
    Added, Upload, UploadPolicy, add_material, material_for_download, remove_material,
    upload_policy,
};
pub use page::{ActorName, Assignable, FilingPage, page};
pub use privacy::needs_personal;
pub use rate::rate;
pub use views::{
    ActionView, FiledBy, FilingSummary, FilingView, MaterialView, ReviewView, StateView, TaskBrief,
};

fn not_found() -> AppError {
    AppError::NotFound
}

/// May `p` see this filing? Drafts are the applicant's alone, and a draft filed at the window
/// also theirs who stand for the applicant ([`stands_for_applicant`]); staff see their
/// department's filings and those their department worked on; admins and auditors see all.
pub fn can_see(conn: &mut PgConnection, p: &Principal, f: &FilingRow) -> Result<bool, AppError> {
    if f.applicant_id == p.user_id {
        return Ok(true);
    }
    if f.state_kind == StateKind::Draft {
        return stands_for_applicant(conn, p, f);
    }
    if p.has(Role::Admin) || p.has(Role::Auditor) || p.has(Role::System) {
        return Ok(true);
    }
    match &p.department {
        Some(d) if p.works_filings() => {
            Ok(f.department == *d || repo::department_touched(conn, f.id, d)?)
        }
        _ => Ok(false),
    }
}

/// The filing, if the caller may see it; not found otherwise (whether or not it exists).
pub fn find_visible(
    conn: &mut PgConnection,
    p: &Principal,
    id: Uuid,
) -> Result<FilingRow, AppError> {
    let row = repo::find(conn, id)?.ok_or_else(not_found)?;
    if !can_see(conn, p, &row)? {
        return Err(not_found());
    }
    Ok(row)
}

/// Lock a filing the caller may see, or 404.
fn lock_visible(conn: &mut PgConnection, p: &Principal, id: Uuid) -> Result<FilingRow, AppError> {
    let row = repo::lock(conn, id)?.ok_or_else(not_found)?;
    if !can_see(conn, p, &row)? {
        return Err(not_found());
    }
    Ok(row)
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

/// Does `p` stand for the filing's applicant: edit it, upload its materials and take the
/// applicant's actions? The applicant always. And while a filing made at the window (窗口收件 /
/// 代办: `filed_by` set) is still a draft, the clerk who filed it and the clerks of that clerk's
/// department: the applicant is at the counter, and any clerk of the window may carry on where
/// a colleague left off. Once submitted, the filing is the applicant's alone, and staff work it
/// as any other; the clerk's department is the window's, not the item's, so it is read from the
/// filer's account (one query, only for a window draft seen by another clerk).
fn stands_for_applicant(
    conn: &mut PgConnection,
    p: &Principal,
    row: &FilingRow,
) -> Result<bool, AppError> {
    if row.applicant_id == p.user_id {
        return Ok(true);
    }
    let Some(filer) = row.filed_by else {
        return Ok(false);
    };
    if row.state_kind != StateKind::Draft || !p.has(Role::Clerk) {
        return Ok(false);
    }
    if filer == p.user_id {
        return Ok(true);
    }
    let Some(dept) = p.department.as_deref() else {
        return Ok(false);
    };
    Ok(crate::repo::users::by_id(conn, filer)?
        .and_then(|u| u.department)
        .is_some_and(|d| d == dept))
}

/// The engine's actor. A clerk standing for the applicant of a window draft acts with the
/// applicant's role alone, as the applicant would (the draft's actions are the applicant's).
fn actor<'a>(p: &'a Principal, row: &FilingRow, for_applicant: bool) -> Actor<'a> {
    const APPLICANT: &[Role] = &[Role::Applicant];
    let window = for_applicant && row.applicant_id != p.user_id;
    Actor {
        roles: if window { APPLICANT } else { &p.roles },
        department: p.department.as_deref(),
        is_owner: for_applicant,
    }
}

/// Load a filing for reading.
pub fn get(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
) -> Result<FilingView, AppError> {
    let row = find_visible(conn, p, id)?;
    let item = ctx.items.by_id(conn, row.item_version_id)?;
    views::view(conn, ctx, p, &item, row)
}

/// The codes of the item's flags that hold for a filing (a late filing): what a draw reads.
pub fn flag_codes(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    item: &Item,
    row: &FilingRow,
) -> Result<Vec<String>, AppError> {
    let rows = repo::facts(conn, row.id, row.state_visit, row.applicant_id)?;
    let facts = facts::Facts::from_rows(row, rows, ctx.offset)?;
    let snap = facts.snapshot(row, ctx.offset, ctx.calendar);
    Ok(crate::domain::engine::flags(&item.def, &snap, ctx.today())
        .into_iter()
        .map(|f| f.code.clone())
        .collect())
}

/// Filings the caller may list: an applicant's own; a department's; all for admins and auditors.
pub fn list(
    conn: &mut PgConnection,
    p: &Principal,
    state: Option<&str>,
    item: Option<&str>,
    page: &PageRequest,
) -> Result<Paged<FilingSummary>, AppError> {
    let scope = if p.has(Role::Admin) || p.has(Role::Auditor) {
        repo::ListScope::All
    } else if let (true, Some(d)) = (p.works_filings(), p.department.as_deref()) {
        repo::ListScope::Department(d)
    } else {
        repo::ListScope::Applicant(p.user_id)
    };
    let filter = repo::ListFilter { scope, state, item };
    let after: Option<repo::ListKey> = page.after()?;
    let rows = repo::list(conn, &filter, after, page.limit() + 1, page.offset())?;
    let total = repo::count(conn, &filter)?;
    Ok(Paged::from_probe(rows, page.limit(), total, |f| (f.created_at, f.id)).map(Into::into))
}

/// The filing with the item version it runs under (a form page needs the item's fields).
pub fn with_item(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
) -> Result<(FilingView, std::sync::Arc<Item>), AppError> {
    let row = find_visible(conn, p, id)?;
    let item = ctx.items.by_id(conn, row.item_version_id)?;
    Ok((views::view(conn, ctx, p, &item, row)?, item))
}

/// The item version a filing the caller may see runs under.
pub fn item_of(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
) -> Result<std::sync::Arc<Item>, AppError> {
    let row = find_visible(conn, p, id)?;
    Ok(ctx.items.by_id(conn, row.item_version_id)?)
}

/// One of an applicant's filings, for their list: with its item version and the running
/// clock's due and warning days.
pub struct ApplicantLine {
    pub filing: FilingSummary,
    pub item: std::sync::Arc<Item>,
    pub due_on: Option<NaiveDate>,
    pub warn_on: Option<NaiveDate>,
    /// The promised and the statutory limit's last days, where they run.
    pub promised_on: Option<NaiveDate>,
    pub statutory_on: Option<NaiveDate>,
    /// What names the filing in a list (the item's `title` fields).
    pub title: String,
}

/// A page of the applicant's own filings, newest first, and how many match in all.
pub fn applicant_lines(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    q: repo::ApplicantQuery,
) -> Result<(Vec<ApplicantLine>, i64), AppError> {
    if !p.has(Role::Applicant) {
        return Err(AppError::Forbidden);
    }
    let (lines, total) = repo::applicant_lines(conn, p.user_id, &q)?;
    let lines = lines
        .into_iter()
        .map(|(row, due_on, warn_on, promised_on, statutory_on)| {
            let item = ctx.items.by_id(conn, row.item_version_id)?;
            Ok(ApplicantLine {
                title: item.def.title_of(&row.form),
                item,
                filing: row.into(),
                due_on,
                warn_on,
                promised_on,
                statutory_on,
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok((lines, total))
}
