//! Everything the filing's page shows, read once: the view, the timeline, and for a manager
//! the staff each task of their department may be assigned to.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::prelude::*;
use uuid::Uuid;

use super::history::{self, HistoryEntry};
use super::{FilingView, find_visible, views};
use crate::domain::Problem;
use crate::domain::consent::{self, Tally};
use crate::domain::definition::{Role, Text, UserKind};
use crate::error::AppError;
use crate::repo::users;
use crate::services::Ctx;
use crate::services::auth::Principal;
use crate::services::items::Item;

pub struct FilingPage {
    pub view: FilingView,
    /// The item version the filing runs under (labels of fields, materials, actions).
    pub item: Arc<Item>,
    pub history: Vec<HistoryEntry>,
    pub assignable: Vec<Assignable>,
    /// The documents issued on it.
    pub documents: Vec<crate::services::documents::DocumentView>,
    /// Who acted in the timeline, by id: their name and department.
    pub actors: HashMap<Uuid, ActorName>,
    /// The departments' names, by code.
    pub departments: HashMap<String, Text>,
    /// The owners' votes the item's guards count (民法典 §278), by table field: the count, or
    /// why the table cannot be counted.
    pub tallies: Vec<(String, Result<Tally, Vec<Problem>>)>,
}

/// A person who acted on the filing, as the timeline names them.
pub struct ActorName {
    pub name: String,
    /// The department of a member of staff.
    pub department: Option<Text>,
}

/// A task a manager may assign, with the active staff of its department holding its role.
pub struct Assignable {
    pub task: i64,
    pub role: Role,
    pub claimed_by: Option<Uuid>,
    pub staff: Vec<(Uuid, String)>,
}

/// The filing's page, if the caller may see the filing.
pub fn page(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    id: Uuid,
) -> Result<FilingPage, AppError> {
    let row = find_visible(conn, p, id)?;
    let item = ctx.items.by_id(conn, row.item_version_id)?;
    let form = row.form.clone();
    let applicant = row.applicant_id;
    let view = views::view(conn, ctx, p, &item, row)?;
    let tallies = tallies(&item, &form, view.personal_whole);
    let history = history::entries(conn, id)?;
    let mut assignable = Vec::new();
    if p.has(Role::Manager) {
        for t in &view.tasks {
            if p.department.as_deref() != Some(t.department.as_str()) {
                continue;
            }
            let staff = users::with_role_in(conn, t.role, &t.department)?
                .into_iter()
                .map(|u| (u.id, u.display_name))
                .collect();
            assignable.push(Assignable {
                task: t.id,
                role: t.role,
                claimed_by: t.claimed_by,
                staff,
            });
        }
    }
    let documents = crate::services::documents::list(conn, p, id)?;
    let mut ids: Vec<Uuid> = history.iter().filter_map(|h| h.actor_id).collect();
    ids.sort_unstable();
    ids.dedup();
    // A person applicant's name is personal data too ([`super::privacy`]); a company's is not.
    let masked_applicant = !view.personal_whole
        && ids.contains(&applicant)
        && users::by_id(conn, applicant)?.is_some_and(|u| u.kind == UserKind::Person);
    let actors = users::names_of(conn, &ids)?
        .into_iter()
        .map(|(id, name, d)| {
            let name = if masked_applicant && id == applicant {
                crate::domain::forms::mask_name(&name)
            } else {
                name
            };
            let department = d.map(|d| Text {
                zh: d.name_zh,
                en: d.name_en,
            });
            (id, ActorName { name, department })
        })
        .collect();
    let departments = users::departments(conn)?
        .into_iter()
        .map(|d| {
            (
                d.code,
                Text {
                    zh: d.name_zh,
                    en: d.name_en,
                },
            )
        })
        .collect();
    Ok(FilingPage {
        departments,
        actors,
        view,
        item,
        history,
        assignable,
        documents,
        tallies,
    })
}

/// Each filled table an `owner_consent` guard counts, counted from the form as filed: the
/// view may mask the owners' names, and two masked names (张*) would be one head. Problems
/// that name an owner are not told to a viewer who sees names masked.
fn tallies(
    item: &Item,
    form: &serde_json::Value,
    sees_personal: bool,
) -> Vec<(String, Result<Tally, Vec<Problem>>)> {
    let Some(form) = form.as_object() else {
        return Vec::new();
    };
    item.def
        .fields
        .iter()
        .filter(|f| form.get(&f.code).is_some_and(|v| v.is_array()))
        .filter_map(|f| {
            let guard = consent::guard_for(&item.def, &f.code)?;
            let count = consent::tally(&item.def, guard, form).map_err(|problems| {
                problems
                    .into_iter()
                    .map(|p| match p.code.as_str() {
                        "owner_votes_differ" if !sees_personal => Problem::new(
                            p.path,
                            "owner_votes_differ",
                            format!("「{}」中有业主在不同行的表决意见或签字不一致", f.label.zh),
                            format!(
                                "In {}, an owner votes or signs differently on two rows",
                                f.label.en
                            ),
                        ),
                        _ => p,
                    })
                    .collect()
            });
            Some((f.code.clone(), count))
        })
        .collect()
}
