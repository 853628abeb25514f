//! An action's writes, planned: from the engine's outcome to a plain [`ActionPlan`] value, with
//! no I/O. `repo::actions::write_action` writes it; the caller's answer is rendered from it.

use serde_json::{Map, Value, json};

use super::ActInput;
use super::facts::Facts;
use crate::domain::definition::{
    BLZT_SPECIAL_END, BLZT_SPECIAL_START, Role, State, StateKind, UserKind,
};
use crate::domain::engine::{ClockChange, Effect, Outcome};
use crate::domain::exchange::{self, Channel};
use crate::domain::legal_time::{ClockEvent, LedgerEntry, LedgerKind};
use crate::error::AppError;
use crate::repo::actions::{ActionPlan, EnterState, NewClockEvent, NewObjection, NewReview};
use crate::repo::exchange::NewExchangeRow;
use crate::repo::filings::{DeadlineColumns, FilingChanges, FilingRow};
use crate::repo::reports::{Closed, Received};
use crate::services::Ctx;
use crate::services::auth::Principal;
use crate::services::deadlines::{self, Clocks};
use crate::services::items::Item;
use crate::services::notify::{self, ActionFacts};

/// An action planned: what it writes, and the filing as it will be (for the caller's answer).
pub(super) struct Planned {
    pub plan: ActionPlan,
    /// The filing's row after the writes.
    pub row: FilingRow,
    /// Its clocks as of today after the action (evaluated once, here).
    pub clocks: Clocks,
    /// Its clock ledger with the action's events.
    pub ledger: Vec<LedgerEntry>,
}

/// Everything an action is decided on.
pub(super) struct Decided<'a> {
    pub p: &'a Principal,
    pub item: &'a Item,
    pub from: &'a State,
    pub row: &'a FilingRow,
    pub facts: &'a Facts,
    pub outcome: &'a Outcome,
    pub input: &'a ActInput,
    /// The public number the filing takes with this action, when it takes one: taken from the
    /// counter under the filing's lock before planning, because the letter announcing the
    /// receipt carries it.
    pub number: Option<String>,
}

/// Plan what an action writes.
pub(super) fn plan(ctx: &Ctx<'_>, d: &Decided<'_>) -> Result<Planned, AppError> {
    let (item, row, outcome, input) = (d.item, d.row, d.outcome, d.input);
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
    let mut clock_events = Vec::new();
    let mut ledger = d.facts.ledger.clone();
    let mut received = None;
    let mut objection = None;
    let mut review = None;
    let mut close_task_of = None;
    let mut extend_deadline = None;
    for effect in &outcome.effects {
        match effect {
            Effect::AssignNumber => {
                if row.number.is_none() {
                    let number = d.number.clone().ok_or_else(|| {
                        anyhow::anyhow!(
                            "an action numbering {} was planned without a number",
                            row.id
                        )
                    })?;
                    audit_extra.insert("number".into(), json!(number));
                    changes.number = Some(number);
                }
                if row.submitted_at.is_none() {
                    changes.submitted_at = Some(ctx.now);
                    changes.channel = Some(channel_of(d.p, input).code());
                    received = Some(Received {
                        filing: row.id,
                        day: ctx.today(),
                        item: def.code.clone(),
                        department: def.department.clone(),
                    });
                }
            }
            Effect::IssueNotice(notice) => {
                let v = serde_json::to_value(notice).map_err(anyhow::Error::from)?;
                audit_extra.insert("notice".into(), v.clone());
                changes.notice = Some(Some(v));
            }
            Effect::RecordObjection(text) => {
                objection = Some(NewObjection {
                    visit: row.state_visit,
                    body: text.clone(),
                });
                audit_extra.insert("objection".into(), json!(text));
            }
            Effect::RecordReview {
                department,
                verdict,
            } => {
                review = Some(NewReview {
                    visit: row.state_visit,
                    department: department.clone(),
                    verdict: *verdict,
                    opinion: input.opinion.clone(),
                    reason: input.reason.clone(),
                });
                if !outcome.changes_state() {
                    close_task_of = Some(department.clone());
                }
                audit_extra.insert(
                    "review".into(),
                    json!({ "department": department, "verdict": verdict }),
                );
            }
            Effect::OpenReviews(_) => {}
            Effect::SetFields(set) => {
                let mut form = row.form.as_object().cloned().unwrap_or_default();
                let mut told = Map::new();
                for (k, v) in set {
                    if v.is_null() {
                        form.remove(k);
                    } else {
                        form.insert(k.clone(), v.clone());
                    }
                    // The audit log keeps what changed, personal data masked.
                    let shown = def
                        .field(k)
                        .map(|f| crate::domain::forms::mask(f, v))
                        .unwrap_or_else(|| v.clone());
                    told.insert(k.clone(), shown);
                }
                changes.form = Some(Value::Object(form));
                audit_extra.insert("set".into(), Value::Object(told));
            }
            Effect::ExtendDeadline {
                code,
                from,
                to,
                extensions,
            } => {
                let deadline = def
                    .deadlines
                    .iter()
                    .find(|d| d.code == *code)
                    .ok_or_else(|| {
                        anyhow::anyhow!("an extension of `{code}`, which the item does not declare")
                    })?;
                let moved =
                    notify::extended_deadline(ctx.calendar, ctx.today(), row.id, deadline, *to)?;
                extend_deadline = Some((moved, i32::try_from(*extensions).unwrap_or(i32::MAX)));
                audit_extra.insert(
                    "extended".into(),
                    json!({ "deadline": code, "from": from, "to": to, "extensions": extensions }),
                );
            }
            Effect::Clock(change) => {
                let (event, reason, kind) = match change {
                    ClockChange::Start => (ClockEvent::Start, None, LedgerKind::Start),
                    ClockChange::Suspend { reason } => (
                        ClockEvent::Suspend,
                        Some(*reason),
                        LedgerKind::Suspend(*reason),
                    ),
                    ClockChange::Resume => (ClockEvent::Resume, None, LedgerKind::Resume),
                    ClockChange::Stop => (ClockEvent::Stop, None, LedgerKind::Stop),
                };
                clock_events.push(NewClockEvent { event, reason });
                ledger.push(LedgerEntry {
                    kind,
                    on: ctx.today(),
                });
                clock_log.push(json!({
                    "event": event.as_str(),
                    "reason": reason.map(|r| r.as_str()),
                }));
            }
        }
    }

    if row.accepted_at.is_none() && crate::domain::notify::is_acceptance(d.from, to, outcome) {
        changes.accepted_at = Some(ctx.now);
    }

    // The row as it will be, to derive its deadlines before writing it once.
    let mut next = row.clone();
    if outcome.changes_state() {
        changes.state = Some(to.code.clone());
        changes.state_kind = Some(to.kind);
        changes.department = Some(def.department_of(to).to_owned());
        changes.state_visit = Some(version);
        changes.entered_state_at = Some(ctx.now);
        // A filing closes once, at its decision; moving on after it (works started, the
        // permit lapsed) keeps that day.
        if to.kind.is_final() && row.closed_at.is_none() {
            changes.closed_at = Some(ctx.now);
        }
        // The notice is answered once the filing leaves the applicant's hands.
        if d.from.kind == StateKind::WaitingApplicant && to.kind != StateKind::WaitingApplicant {
            changes.notice = Some(None);
        }
        next.state = to.code.clone();
        next.entered_state_at = ctx.now;
        next.closed_at = changes.closed_at.or(row.closed_at);
    }
    let clocks = deadlines::clocks(ctx.calendar, item, &next, &ledger, ctx.today(), ctx.offset)?;
    let after = row.clone().with_changes(&changes);
    let exchange = exchange_rows(ctx, d, to, &after);
    let columns: DeadlineColumns = deadlines::columns(&clocks);
    let enter = outcome.changes_state().then(|| EnterState {
        state: to.code.clone(),
        any_open: !d.facts.tasks.is_empty(),
        work: queue_work(item, to),
        due_on: clocks.next_due_on,
    });
    let closed = (outcome.changes_state() && to.kind.is_final() && row.closed_at.is_none())
        .then(|| closing(ctx, d.p, item, row, to.kind, &clocks));

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

    let mail = notify::after_action(
        ctx.mail,
        ctx.calendar,
        ctx.now,
        ctx.today(),
        &ActionFacts {
            item,
            from: d.from,
            to,
            outcome,
            before: row,
            after: &after,
            clocks: &clocks,
            reason: input.reason.as_deref(),
            opinion: input.opinion.as_deref(),
            materials_on_file: &|code: &str| d.facts.on_file(code),
            applicant: d.facts.applicant.as_ref(),
            open_deadlines: !d.facts.deadlines.is_empty(),
        },
    )?;

    Ok(Planned {
        plan: ActionPlan {
            filing: row.id,
            actor: d.p.user_id,
            at: ctx.now,
            changes,
            deadlines: columns,
            objection,
            review,
            close_task_of,
            clock_events,
            enter,
            audit_action: format!("action:{}", outcome.action),
            audit_payload: payload,
            letter: mail.letter,
            close_deadlines: mail.close_deadlines,
            open_deadlines: mail.open_deadlines,
            extend_deadline,
            received,
            closed,
            exchange,
        },
        row: after,
        clocks,
        ledger,
    })
}

/// GB/T 39046 A.5: staff file at the window for an applicant; an applicant files online, or
/// from a phone when the client says so.
fn channel_of(p: &Principal, input: &ActInput) -> Channel {
    if p.kind == UserKind::Staff {
        Channel::Window
    } else {
        match input.channel {
            Some(Channel::Mobile) => Channel::Mobile,
            _ => Channel::Online,
        }
    }
}

/// The rows the transition is reported with to the province's front database (its BLZT codes
/// in the item's `[exchange]`): none for an item without one, for a filing never submitted, or
/// for an action not reported. A code 9 starts a special procedure (特别程序), a 10 ends it.
fn exchange_rows(
    ctx: &Ctx<'_>,
    d: &Decided<'_>,
    to: &State,
    after: &FilingRow,
) -> Vec<NewExchangeRow> {
    let def = &d.item.def;
    let (Some(x), Some(number), Some(_)) = (&def.exchange, &after.number, after.submitted_at)
    else {
        return Vec::new();
    };
    let tolerated = !after.promise_dates().is_empty();
    let action = &d.outcome.action;
    let label = def
        .actions
        .iter()
        .find(|a| &a.code == action)
        .map(|a| a.label.zh.clone());
    x.codes(action, &to.code, tolerated)
        .iter()
        .map(|&code| NewExchangeRow {
            filing_id: after.id,
            filing_number: number.clone(),
            action: action.clone(),
            blzt: i16::from(code),
            // The office that acted: the staff member's department; for the applicant's own
            // steps, the office receiving the filing.
            department: d
                .p
                .department
                .clone()
                .unwrap_or_else(|| d.row.department.clone()),
            actor_id: d.p.user_id,
            actor_name: d.p.display_name.clone(),
            opinion: d.input.opinion.clone().or_else(|| d.input.reason.clone()),
            at: ctx.now,
            special: match code {
                BLZT_SPECIAL_START => Some(json!({
                    "kind": exchange::special_kind(false),
                    "name": label.clone().unwrap_or_else(|| to.label.zh.clone()),
                    "limit_days": to.step_limit.as_ref().map(|l| l.days),
                })),
                BLZT_SPECIAL_END => Some(json!({ "end": true })),
                _ => None,
            },
            next_attempt_at: ctx.now,
        })
        .collect()
}

/// The tasks a state's queue needs: one per department of a joint review, or one for the
/// state's queue role in the department that holds the filing there.
fn queue_work(item: &Item, state: &State) -> Vec<(Role, String)> {
    let role = state.queue.unwrap_or(Role::Reviewer);
    match (&state.parallel, state.queue) {
        (Some(parallel), _) => parallel
            .tasks
            .iter()
            .map(|t| (role, t.department.clone()))
            .collect(),
        (None, Some(q)) => vec![(q, item.def.department_of(state).to_owned())],
        (None, None) => Vec::new(),
    }
}

/// A closed filing's row in the SLA aggregates.
fn closing(
    ctx: &Ctx<'_>,
    p: &Principal,
    item: &Item,
    row: &FilingRow,
    kind: StateKind,
    clocks: &Clocks,
) -> Closed {
    let s = &clocks.statutory;
    let started = s.started_on.is_some();
    let days = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    Closed {
        filing: row.id,
        day: ctx.today(),
        item: item.def.code.clone(),
        department: item.def.department.clone(),
        closer: p.user_id,
        outcome: kind,
        used_days: if started { days(s.used) } else { -1 },
        suspended_days: if started { days(s.suspended) } else { -1 },
        on_time_statutory: started && s.on_time(),
        on_time_promised: started && clocks.promised.as_ref().is_some_and(|c| c.on_time()),
    }
}
