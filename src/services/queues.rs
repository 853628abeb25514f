//! Staff work queues: list, claim the next, claim one, release, reassign.
//!
//! Policy: a task belongs to a department and a role. Staff see and claim the tasks of their own
//! department for the roles they hold. Claiming is atomic (`FOR UPDATE SKIP LOCKED` in
//! [`crate::repo::tasks::claim_next`]). Managers of the department release and reassign. Every
//! change is audited in the filing's chain.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::Ctx;
use super::auth::Principal;
use super::paging::{PageRequest, Paged};
use crate::config::Jobs;
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::repo::audit::{self, Event};
use crate::repo::tasks::{self, TaskRow};
use crate::repo::users;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub id: i64,
    pub filing_id: Uuid,
    pub number: Option<String>,
    pub item: String,
    pub state: String,
    pub role: Role,
    pub department: String,
    pub created_at: DateTime<Utc>,
    pub claimed_by: Option<Uuid>,
    pub claimed_at: Option<DateTime<Utc>>,
}

fn view(t: TaskRow, number: Option<String>, item: String, state: String) -> TaskView {
    TaskView {
        id: t.id,
        filing_id: t.filing_id,
        number,
        item,
        state,
        role: t.role,
        department: t.department,
        created_at: t.created_at,
        claimed_by: t.claimed_by,
        claimed_at: t.claimed_at,
    }
}

/// The queue roles the caller works, optionally narrowed to one.
fn work_roles(p: &Principal, only: Option<Role>) -> Result<(String, Vec<String>), AppError> {
    let dept = p.department.clone().ok_or(AppError::Forbidden)?;
    let roles: Vec<String> = p
        .roles
        .iter()
        .filter(|r| matches!(r, Role::Clerk | Role::Reviewer | Role::Inspector))
        .filter(|r| only.is_none_or(|o| o == **r))
        .map(|r| r.as_str().to_owned())
        .collect();
    if roles.is_empty() {
        return Err(AppError::Forbidden);
    }
    Ok((dept, roles))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every open task of the department.
    All,
    /// Open tasks nobody has claimed.
    Unclaimed,
    /// Tasks the caller has claimed.
    Mine,
}

pub fn list(
    conn: &mut PgConnection,
    p: &Principal,
    role: Option<Role>,
    scope: Scope,
    page: &PageRequest,
) -> Result<Paged<TaskView>, AppError> {
    let (dept, roles) = work_roles(p, role)?;
    let filter = tasks::QueueFilter {
        department: &dept,
        roles: &roles,
        only_unclaimed: scope == Scope::Unclaimed,
        claimed_by: (scope == Scope::Mine).then_some(p.user_id),
    };
    let after: Option<tasks::QueueKey> = page.after()?;
    let rows = tasks::queue(conn, &filter, after, page.limit() + 1, page.offset())?;
    let total = tasks::queue_count(conn, &filter)?;
    Ok(
        Paged::from_probe(rows, page.limit(), total, |(t, ..)| (t.created_at, t.id))
            .map(|(t, n, i, s)| view(t, n, i, s)),
    )
}

fn record(
    conn: &mut PgConnection,
    t: &TaskRow,
    p: &Principal,
    action: &str,
    at: DateTime<Utc>,
    extra: serde_json::Value,
) -> Result<(), AppError> {
    let payload =
        json!({ "task_id": t.id, "role": t.role, "department": t.department, "detail": extra });
    audit::append(
        conn,
        Event::filing(t.filing_id, p.user_id, action, at, payload),
    )?;
    Ok(())
}

pub fn claim_next(
    conn: &mut PgConnection,
    p: &Principal,
    role: Option<Role>,
    now: DateTime<Utc>,
) -> Result<Option<TaskView>, AppError> {
    let (dept, roles) = work_roles(p, role)?;
    conn.transaction(|conn| {
        hold_claimant(conn, p.user_id)?;
        let Some(t) = tasks::claim_next(conn, &dept, &roles, p.user_id, now)? else {
            return Ok(None);
        };
        record(conn, &t, p, "claim", now, json!({}))?;
        Ok(Some(with_filing(conn, t)?))
    })
}

/// Share-lock the person a task is to be claimed by, before any task, and refuse (401) one no
/// longer active. A deactivation locks the person and then releases their claims: it either
/// waits for this claim's transaction and releases the claim with the rest, or has committed
/// and this claim sees the person inactive. Without the lock, a claim checked against the
/// person as they were when the request came in could land after the deactivation released
/// their claims, and the task would sit claimed by nobody able to work it.
fn hold_claimant(conn: &mut PgConnection, user: Uuid) -> Result<(), AppError> {
    match users::lock_shared(conn, user)? {
        Some(u) if u.active => Ok(()),
        _ => Err(AppError::Unauthenticated),
    }
}

fn with_filing(conn: &mut PgConnection, t: TaskRow) -> Result<TaskView, AppError> {
    let f = crate::repo::filings::find(conn, t.filing_id)?.ok_or(AppError::NotFound)?;
    Ok(view(t, f.number, f.item_code, f.state))
}

/// Lock a task of the caller's department, or 404.
fn lock_own(conn: &mut PgConnection, p: &Principal, id: i64) -> Result<TaskRow, AppError> {
    let t = tasks::lock(conn, id)?.ok_or(AppError::NotFound)?;
    if p.department.as_deref() != Some(t.department.as_str()) || !p.works_filings() {
        return Err(AppError::NotFound);
    }
    if t.closed_at.is_some() {
        return Err(AppError::conflict(
            "task_closed",
            "该任务已办结",
            "The task is closed",
            json!({ "task_id": id }),
        ));
    }
    Ok(t)
}

pub fn claim(
    conn: &mut PgConnection,
    p: &Principal,
    id: i64,
    now: DateTime<Utc>,
) -> Result<TaskView, AppError> {
    conn.transaction(|conn| {
        hold_claimant(conn, p.user_id)?;
        let t = lock_own(conn, p, id)?;
        let holds_role = p.has(t.role);
        if !holds_role {
            return Err(AppError::Forbidden);
        }
        match t.claimed_by {
            Some(u) if u == p.user_id => return with_filing(conn, t),
            Some(u) => {
                return Err(AppError::conflict(
                    "claimed_by_other",
                    "该任务已由其他工作人员认领",
                    "Another member of staff has claimed this task",
                    json!({ "task_id": id, "claimed_by": u }),
                ));
            }
            None => {}
        }
        let t = tasks::set_claim(conn, id, Some(p.user_id), Some(now))?;
        record(conn, &t, p, "claim", now, json!({}))?;
        with_filing(conn, t)
    })
}

pub fn release(
    conn: &mut PgConnection,
    p: &Principal,
    id: i64,
    now: DateTime<Utc>,
) -> Result<TaskView, AppError> {
    conn.transaction(|conn| {
        let t = lock_own(conn, p, id)?;
        let mine = t.claimed_by == Some(p.user_id);
        if !mine && !p.has(Role::Manager) {
            return Err(AppError::Forbidden);
        }
        if t.claimed_by.is_none() {
            return with_filing(conn, t);
        }
        let previous = t.claimed_by;
        let t = tasks::set_claim(conn, id, None, None)?;
        record(conn, &t, p, "release", now, json!({ "previous": previous }))?;
        with_filing(conn, t)
    })
}

/// A manager gives a task to a member of staff of the department who holds the task's role.
pub fn assign(
    conn: &mut PgConnection,
    p: &Principal,
    id: i64,
    to: Uuid,
    now: DateTime<Utc>,
) -> Result<TaskView, AppError> {
    if !p.has(Role::Manager) {
        return Err(AppError::Forbidden);
    }
    conn.transaction(|conn| {
        // The assignee first, as in a claim (see `hold_claimant`); the check below then reads
        // them as they are now.
        users::lock_shared(conn, to)?;
        let t = lock_own(conn, p, id)?;
        if !users::staff_has_role(conn, to, &t.department, t.role)? {
            return Err(AppError::one_invalid(
                "user_id",
                "not_eligible",
                "该人员不属于本部门或不具备此任务所需的角色",
                "That person is not staff of this department with the task's role",
            ));
        }
        let previous = t.claimed_by;
        let t = tasks::set_claim(conn, id, Some(to), Some(now))?;
        record(
            conn,
            &t,
            p,
            "assign",
            now,
            json!({ "previous": previous, "assignee": to }),
        )?;
        with_filing(conn, t)
    })
}

/// The caller's queue, most urgent first (the workbench page).
pub fn urgent(
    conn: &mut PgConnection,
    p: &Principal,
    scope: Scope,
    item: Option<&str>,
    limit: i64,
    search: &tasks::QueueSearch<'_>,
) -> Result<Vec<tasks::UrgentTask>, AppError> {
    let (dept, roles) = work_roles(p, None)?;
    Ok(tasks::urgent(
        conn,
        &dept,
        &roles,
        item,
        scope == Scope::Unclaimed,
        (scope == Scope::Mine).then_some(p.user_id),
        limit,
        search,
    )?)
}

#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ReleaseReport {
    pub released: usize,
}

/// Return tasks claimed long ago and not acted on to their queue, each release audited.
pub fn release_stale_claims(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    jobs: &Jobs,
) -> Result<ReleaseReport, AppError> {
    let before = ctx.now - chrono::Duration::hours(i64::from(jobs.stale_claim_hours));
    let mut report = ReleaseReport::default();
    loop {
        let n = conn.transaction::<_, AppError, _>(|conn| {
            let stale = tasks::stale_claims(conn, before, super::scan::PAGE)?;
            for t in &stale {
                tasks::set_claim(conn, t.id, None, None)?;
                audit::append(
                    conn,
                    Event {
                        chain: format!("filing:{}", t.filing_id),
                        filing_id: Some(t.filing_id),
                        actor_id: None,
                        action: "release_stale_claim",
                        at: ctx.now,
                        payload: json!({
                            "task_id": t.id, "role": t.role, "department": t.department,
                            "previous": t.claimed_by, "claimed_at": t.claimed_at,
                            "stale_claim_hours": jobs.stale_claim_hours,
                        }),
                    },
                )?;
            }
            Ok(stale.len())
        })?;
        report.released += n;
        if i64::try_from(n).unwrap_or(i64::MAX) < super::scan::PAGE {
            break;
        }
    }
    Ok(report)
}
