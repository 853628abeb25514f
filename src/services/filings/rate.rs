//! The applicant rates a decided filing (好差评).

use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::{lock_visible, rules};
use crate::domain::Problem;
use crate::error::AppError;
use crate::repo::audit::{self, Event};
use crate::repo::filings as repo;
use crate::services::Ctx;
use crate::services::auth::Principal;

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
        rules::ensure_may_rate(p, &row)?;
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
