//! The applicant (or the clerk with a draft filed at the window) edits the form or the 容缺
//! promises.

use diesel::prelude::*;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    FilingView, check_version, lock_visible, parse_promises, rules, stands_for_applicant, state_of,
    views,
};
use crate::domain::forms::{self, Mode};
use crate::error::AppError;
use crate::repo::audit::{self, Event};
use crate::repo::filings::{self as repo, FilingChanges};
use crate::services::Ctx;
use crate::services::auth::Principal;

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
        rules::ensure_applicant_may_edit(stands_for_applicant(conn, p, &row)?, &row, state)?;
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
        views::view(conn, ctx, p, &item, row)
    })
}
