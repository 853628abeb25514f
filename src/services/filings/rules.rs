//! What a caller may do with a filing besides its actions: edit it, upload a material, extend
//! its limit, rate it. Each rule is one function, called by the use case that enforces it and
//! by the view that shows the caller what they may do ([`super::FilingView`]), so the two cannot
//! disagree.

use serde_json::json;

use crate::domain::definition::{Role, State, StateKind};
use crate::domain::legal_time::{ClockView, Phase};
use crate::error::AppError;
use crate::repo::filings::FilingRow;
use crate::services::auth::Principal;
use crate::services::items::Item;

/// The applicant edits their filing (its form, its promises, its materials) in the states
/// whose definition allows it: the draft, and while a supplement or correction is asked.
/// `for_applicant`: the caller stands for the applicant ([`super::stands_for_applicant`]: the
/// applicant, or a clerk with a draft filed at the window).
pub(super) fn ensure_applicant_may_edit(
    for_applicant: bool,
    row: &FilingRow,
    state: &State,
) -> Result<(), AppError> {
    if !for_applicant {
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
pub(super) fn ensure_may_upload(
    for_applicant: bool,
    row: &FilingRow,
    state: &State,
    material: &str,
) -> Result<bool, AppError> {
    let promised = row.promise_dates().contains_key(material);
    let after_acceptance =
        promised && row.accepted_at.is_some() && !state.kind.is_final() && for_applicant;
    if !after_acceptance {
        ensure_applicant_may_edit(for_applicant, row, state)?;
    }
    Ok(promised)
}

/// A manager of the item's department, or of the department holding the filing, extends its
/// statutory limit (行政许可法 §42).
pub(super) fn ensure_may_extend(
    p: &Principal,
    item: &Item,
    row: &FilingRow,
) -> Result<(), AppError> {
    let department_ok = p
        .department
        .as_deref()
        .is_some_and(|d| d == item.def.department || d == row.department);
    if p.has(Role::Manager) && department_ok {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// How many more days the statutory limit may be extended by: while its clock runs or is
/// suspended, up to the item's `max_extension_days` in all.
pub(super) fn extension_left(
    item: &Item,
    row: &FilingRow,
    statutory: &ClockView,
) -> Result<u32, AppError> {
    if !matches!(statutory.phase, Phase::Running | Phase::Suspended) {
        return Err(AppError::conflict(
            "clock_not_running",
            "办件的法定时限尚未起算或已经停止，不能延期",
            "The statutory clock has not started or has stopped: nothing to extend",
            json!({ "current": { "state": row.state, "version": row.version } }),
        ));
    }
    Ok(item
        .def
        .limits
        .max_extension_days
        .saturating_sub(statutory.extended))
}

/// The applicant rates their filing (好差评) once it is decided (not withdrawn).
pub(super) fn ensure_may_rate(p: &Principal, row: &FilingRow) -> Result<(), AppError> {
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
    Ok(())
}
