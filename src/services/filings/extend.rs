//! A manager extends a filing's statutory limit.

use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::{FilingView, check_version, lock_visible, rules, views};
use crate::domain::Problem;
use crate::domain::engine;
use crate::error::AppError;
use crate::repo::audit::{self, Event};
use crate::repo::filings::{self as repo, FilingChanges};
use crate::services::Ctx;
use crate::services::auth::Principal;
use crate::services::deadlines;

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
        rules::ensure_may_extend(p, &item, &row)?;
        check_version(&row, expected_version, &row.state)?;
        let ledger = deadlines::ledger(conn, id, ctx.offset)?;
        let before =
            deadlines::clocks(ctx.calendar, &item, &row, &ledger, ctx.today(), ctx.offset)?;
        let allowed = rules::extension_left(&item, &row, &before.statutory)?;
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
        views::view(conn, ctx, p, &item, row)
    })
}
