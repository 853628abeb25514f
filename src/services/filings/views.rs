//! What a caller sees of a filing: the view, rendered once from the filing's row, its facts and
//! its clocks, with what the caller may do now.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::facts::Facts;
use super::{actor, rules, stands_for_applicant, state_of};
use crate::domain::Text;
use crate::domain::definition::{Action, Input, Role, StateKind};
use crate::domain::engine::{self, Verdict};
use crate::domain::forms;
use crate::error::AppError;
use crate::repo::filings::{self as repo, FilingRow, MaterialRow};
use crate::repo::tasks::TaskRow;
use crate::services::Ctx;
use crate::services::auth::Principal;
use crate::services::deadlines::{self, Clocks};
use crate::services::items::Item;

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
    /// Fields of the form the action may change (send them in `fields`).
    pub sets: Vec<String>,
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
    /// The state visit the answer belongs to: a filing reviewed again after a correction has
    /// the answers of each round.
    pub visit: i32,
    pub department: String,
    pub label: Option<Text>,
    /// Null while the department has not answered.
    pub verdict: Option<Verdict>,
    pub opinion: Option<String>,
    /// The written reasons of a refusal.
    pub reason: Option<String>,
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
    /// Whether the caller sees the personal data whole ([`super::privacy`]); the form is
    /// masked otherwise.
    #[serde(skip)]
    pub personal_whole: bool,
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
    /// The one-time notice (一次性告知) while a supplement is requested; null otherwise.
    #[schema(value_type = Option<Object>)]
    pub notice: Option<Value>,
    pub materials: Vec<MaterialView>,
    pub reviews: Vec<ReviewView>,
    pub objections: i64,
    pub tasks: Vec<TaskBrief>,
    /// The actions the caller may take now (guards are checked when acting).
    pub actions: Vec<ActionView>,
    /// Statutory, promised and step clocks as of today.
    pub clocks: Clocks,
    /// The item's flags that hold for the filing (a late filing), derived as it is shown.
    pub flags: Vec<FlagView>,
    /// Deadlines on the applicant still running (the start of works, a rectification, a
    /// promised material), with their extensions.
    pub deadlines: Vec<DeadlineView>,
    pub entered_state_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// How it was submitted (GB/T 39046 A.5): window, online or mobile; none while a draft.
    pub channel: Option<crate::domain::exchange::Channel>,
    /// The clerk who filed it at the window for the applicant (窗口收件 / 代办); none when the
    /// applicant made it.
    pub filed_by: Option<FiledBy>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The applicant's rating of a closed filing (好差评), 1 (very dissatisfied) to 5 (very
    /// satisfied).
    pub rating: Option<i16>,
    /// The rating as GB/T 39046 A.8 满意度 code for the national 好差评 system: 1 非常满意 … 5
    /// 非常不满意.
    pub satisfaction_code: Option<i16>,
    /// What the caller may do now besides the actions, by the rules that enforce it.
    pub may: Capabilities,
    /// The spot-check draw that holds the filing (抽中 / 未抽中), for an item that draws.
    pub draw: Option<crate::services::draw::FilingDraw>,
}

/// Who filed a filing at the window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FiledBy {
    pub id: Uuid,
    pub display_name: String,
}

/// A flag the item raises on the filing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlagView {
    pub code: String,
    pub label: Text,
}

/// A deadline on the applicant.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadlineView {
    pub code: String,
    /// The item's words for it (a promised material: the material's name).
    pub label: Option<Text>,
    pub due_on: chrono::NaiveDate,
    pub extensions: u32,
    /// How many extensions the item allows, when it can be extended.
    pub max_extensions: Option<u32>,
}

/// What the caller may do with a filing now besides its actions. Each is computed by the rule
/// the use case enforces (a page shows a form only where it would be accepted).
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Capabilities {
    /// Change the form and the 容缺 promises, and remove materials.
    pub edit: bool,
    /// Upload a file for these materials (by code).
    pub upload: Vec<String>,
    /// Extend the statutory limit by up to this many days (managers).
    pub extend_up_to: Option<u32>,
    /// Rate the decided filing (好差评); see `rating` for a rating given.
    pub rate: bool,
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

/// Whether `p` sees this filing's personal data whole ([`super::privacy`]), its open tasks
/// as read with its facts.
pub(super) fn sees_personal(
    p: &Principal,
    row: &FilingRow,
    for_applicant: bool,
    tasks: &[TaskRow],
) -> bool {
    super::privacy::needs_personal(
        p,
        row.applicant_id,
        for_applicant,
        &row.department,
        tasks.iter().map(|t| t.department.as_str()),
    )
}

/// The caller's view of a filing: its facts read (one round trip) and its clocks evaluated.
pub(super) fn view(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    item: &Item,
    row: FilingRow,
) -> Result<FilingView, AppError> {
    let facts = Facts::load(conn, &row, ctx.offset)?;
    let clocks = deadlines::clocks(
        ctx.calendar,
        item,
        &row,
        &facts.ledger,
        ctx.today(),
        ctx.offset,
    )?;
    render(conn, ctx, p, item, row, facts, clocks)
}

/// The caller's view of a filing from its facts and clocks in hand.
pub(super) fn render(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    item: &Item,
    row: FilingRow,
    facts: Facts,
    clocks: Clocks,
) -> Result<FilingView, AppError> {
    let state = state_of(item, &row)?;
    let for_applicant = stands_for_applicant(conn, p, &row)?;
    let (actions, flags): (Vec<ActionView>, Vec<FlagView>) = {
        let snap = facts.snapshot(&row, ctx.offset, ctx.calendar);
        let actions = engine::available_actions(&item.def, &snap, &actor(p, &row, for_applicant))
            .into_iter()
            .map(|a: &Action| ActionView {
                code: a.code.clone(),
                label: a.label.clone(),
                inputs: a.inputs.clone(),
                sets: a.sets.clone(),
            })
            .collect();
        let flags = engine::flags(&item.def, &snap, ctx.today())
            .into_iter()
            .map(|f| FlagView {
                code: f.code.clone(),
                label: f.label.clone(),
            })
            .collect();
        (actions, flags)
    };
    let reviews = reviews(item, &row, state, &facts);
    let deadlines = facts
        .deadlines
        .iter()
        .map(|d| {
            let declared = item.def.deadlines.iter().find(|x| x.code == d.code);
            let label = declared.map(|x| x.label.clone()).or_else(|| {
                d.code
                    .strip_prefix("promise:")
                    .and_then(|m| item.def.material(m))
                    .map(|m| m.label.clone())
            });
            DeadlineView {
                code: d.code.clone(),
                label,
                due_on: d.due_on,
                extensions: d.extensions,
                max_extensions: declared.and_then(|x| x.extension.as_ref()).map(|e| e.max),
            }
        })
        .collect();
    let may = Capabilities {
        edit: rules::ensure_applicant_may_edit(for_applicant, &row, state).is_ok(),
        upload: item
            .def
            .materials
            .iter()
            .filter(|m| rules::ensure_may_upload(for_applicant, &row, state, &m.code).is_ok())
            .map(|m| m.code.clone())
            .collect(),
        extend_up_to: rules::ensure_may_extend(p, item, &row)
            .and_then(|()| rules::extension_left(item, &row, &clocks.statutory))
            .ok()
            .filter(|days| *days > 0),
        rate: rules::ensure_may_rate(p, &row).is_ok(),
    };
    let personal_whole = sees_personal(p, &row, for_applicant, &facts.tasks);
    let form = if personal_whole {
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
    // Only a closed filing can have been rated: no query on the hot path of open ones.
    let rating = if row.closed_at.is_some() {
        repo::rating_of(conn, row.id)?
    } else {
        None
    };
    Ok(FilingView {
        personal_whole,
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
        flags,
        deadlines,
        entered_state_at: row.entered_state_at,
        submitted_at: row.submitted_at,
        channel: row
            .channel
            .and_then(crate::domain::exchange::Channel::from_code),
        // Only a window filing has one: no query for the others.
        filed_by: match row.filed_by {
            Some(id) => Some(FiledBy {
                id,
                display_name: crate::repo::users::by_id(conn, id)?
                    .map(|u| u.display_name)
                    .unwrap_or_default(),
            }),
            None => None,
        },
        accepted_at: row.accepted_at,
        draw: crate::services::draw::of_filing(item, facts.draw.as_ref()),
        rating,
        satisfaction_code: rating.and_then(crate::domain::exchange::satisfaction_code),
        closed_at: row.closed_at,
        created_at: row.created_at,
        may,
    })
}

/// The joint reviews of the filing: every department's answer, of every visit, in order (they
/// are part of the decision and stay on the filing once it is decided); then, while the filing
/// is in a joint review, the departments that have not answered yet.
fn reviews(
    item: &Item,
    row: &FilingRow,
    state: &crate::domain::definition::State,
    facts: &Facts,
) -> Vec<ReviewView> {
    let label = |department: &str| {
        item.def
            .states
            .iter()
            .filter_map(|s| s.parallel.as_ref())
            .flat_map(|p| p.tasks.iter())
            .find(|t| t.department == department)
            .map(|t| t.label.clone())
    };
    let mut out: Vec<ReviewView> = facts
        .review_rows
        .iter()
        .map(|r| ReviewView {
            visit: r.visit,
            department: r.department.clone(),
            label: label(&r.department),
            verdict: Some(r.verdict),
            opinion: r.opinion.clone(),
            reason: r.reason.clone(),
            decided_at: Some(r.decided_at),
        })
        .collect();
    if let Some(parallel) = &state.parallel {
        for t in &parallel.tasks {
            let answered = facts
                .review_rows
                .iter()
                .any(|r| r.visit == row.state_visit && r.department == t.department);
            if !answered {
                out.push(ReviewView {
                    visit: row.state_visit,
                    department: t.department.clone(),
                    label: Some(t.label.clone()),
                    verdict: None,
                    opinion: None,
                    reason: None,
                    decided_at: None,
                });
            }
        }
    }
    out
}
