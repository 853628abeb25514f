//! Taking an action: read, decide, plan, write, answer.

use chrono::Datelike;
use diesel::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

use super::facts::Facts;
use super::plan::{self, Decided};
use super::{FilingView, actor, check_version, not_found, state_of, views};
use crate::domain::Text;
use crate::domain::engine::{self, Effect, Outcome, Refusal, Verdict};
use crate::error::AppError;
use crate::repo::actions::{self, Guard, Written};
use crate::repo::filings::{self as repo, FilingRow};
use crate::services::Ctx;
use crate::services::auth::Principal;
use crate::services::documents;
use crate::services::items::Item;

/// What the caller sends with an action.
#[derive(Debug, Default, Clone)]
pub struct ActInput {
    pub reason: Option<String>,
    pub opinion: Option<String>,
    pub verdict: Option<Verdict>,
    pub notice_items: Vec<String>,
    pub objection: Option<String>,
    /// Values for the fields the action `sets`.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// At submission: the applicant files from a phone (GB/T 39046 A.5 移动端); otherwise
    /// online, or at the window when staff file.
    pub channel: Option<crate::domain::exchange::Channel>,
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
        seen: std::cell::RefCell::new(None),
    };
    let result = act_recorded(conn, ctx, p, &req);
    // Metrics: the item as read (none when the filing was not found), the action when the
    // item has it (a made-up name would make the label set unbounded).
    let seen = req.seen.into_inner();
    crate::metrics::action(
        seen.as_ref().map(|(item, _)| item.as_str()),
        match &seen {
            Some((_, true)) => action,
            _ => "other",
        },
        &result,
    );
    result
}

fn act_recorded(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    req: &ActRequest<'_>,
) -> Result<FilingView, AppError> {
    let id = req.id;
    for _ in 0..OPTIMISTIC_TRIES {
        match act_once(conn, ctx, p, req, Read::Optimistic)? {
            Acted::Done(view, _) => return Ok(*view),
            Acted::Changed => continue,
            Acted::NeedsLock => break,
        }
    }
    let (view, draw) =
        conn.transaction(|conn| match act_once(conn, ctx, p, req, Read::Locked)? {
            Acted::Done(view, draw) => Ok((view, draw)),
            Acted::Changed | Acted::NeedsLock => Err(AppError::Internal(anyhow::anyhow!(
                "an action under the filing's lock asked to be taken again"
            ))),
        })?;
    // Documents the action issued are rendered now, after its commit and outside the filing's
    // lock (see `services::documents`). The action stands whatever happens here: a document
    // not rendered now is rendered by the `documents` job or when first downloaded.
    if let Err(e) = crate::services::documents::render_pending(conn, ctx, Some(id), 16) {
        tracing::error!(filing = %id, error = ?e, "rendering the action's documents failed; the documents job retries");
    }
    // 双随机: a draw committed with the receipt is sealed and drawn now, after the commit
    // (services::draw). The receipt stands whatever happens here: the `draw` job finishes a
    // draw left undone. (The draw's own actions issue and render the filing receipt.)
    if let Some(draw) = draw {
        match crate::services::draw::complete(conn, ctx, draw) {
            Ok(_) => return super::get(conn, ctx, p, id),
            Err(e) => tracing::warn!(%draw, filing = %id, error = %e, "draw left to the job"),
        }
    }
    Ok(*view)
}

/// How many times an action is read and decided again when its filing changed in between,
/// before it is taken under the filing's lock.
const OPTIMISTIC_TRIES: usize = 3;

struct ActRequest<'a> {
    id: Uuid,
    action: &'a str,
    expected_version: i32,
    input: &'a ActInput,
    /// The filing's item once read, and whether it has the action (for the metrics).
    seen: std::cell::RefCell<Option<(String, bool)>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Optimistic,
    Locked,
}

enum Acted {
    /// Taken; with the draw it committed (a receipt drawn at once).
    Done(Box<FilingView>, Option<Uuid>),
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
    // The row and its facts in one round trip (see `repo::lock_with_facts` on why the version
    // check below makes that safe under the lock; without it, the guard on the write does).
    let (row, facts, xmin) = match how {
        Read::Locked => {
            let (row, facts) = repo::lock_with_facts(conn, r.id)?.ok_or_else(not_found)?;
            (row, facts, None)
        }
        Read::Optimistic => {
            let (row, facts, xmin) = repo::read_with_facts(conn, r.id)?.ok_or_else(not_found)?;
            (row, facts, Some(xmin))
        }
    };
    if !super::can_see(conn, p, &row)? {
        return Err(not_found());
    }
    let item = ctx.items.by_id(conn, row.item_version_id)?;
    r.seen.replace(Some((
        item.def.code.clone(),
        item.def.action(r.action).is_some(),
    )));
    let from = state_of(&item, &row)?;
    check_version(&row, r.expected_version, &row.state)?;
    let facts = Facts::from_rows(&row, facts, ctx.offset)?;
    crate::services::draw::check_inspector(&item, &row.state, p, facts.draw.as_ref())?;
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

    let snap = facts.snapshot(&row, ctx.offset, ctx.calendar);
    let req = engine::Request {
        action: r.action,
        reason: r.input.reason.as_deref(),
        opinion: r.input.opinion.as_deref(),
        verdict: r.input.verdict,
        notice_items: &r.input.notice_items,
        objection: r.input.objection.as_deref(),
        fields: Some(&r.input.fields),
    };
    let for_applicant = super::stands_for_applicant(conn, p, &row)?;
    let outcome = engine::decide(
        &item.def,
        &snap,
        &actor(p, &row, for_applicant),
        &req,
        ctx.today(),
    )
    .map_err(|e| refusal(e, &item, &row))?;
    if how == Read::Optimistic && needs_lock(&item, &row, &outcome) {
        return Ok(Acted::NeedsLock);
    }
    let number = if takes_number(&row, &outcome) {
        Some(take_number(conn, ctx, &item)?)
    } else {
        None
    };
    let planned = plan::plan(
        ctx,
        &Decided {
            p,
            item: &item,
            from,
            row: &row,
            facts: &facts,
            outcome: &outcome,
            input: r.input,
            number,
        },
    )?;
    let guard = match &xmin {
        Some(xmin) => Guard::Unchanged { xmin },
        None => Guard::Locked,
    };
    let mut planned = planned;
    // Documents and certificates (taken under the filing's lock, see `needs_lock`): written
    // before the action's own rows, in the same transaction, and recorded in its audit entry.
    let entered = outcome.changes_state().then_some(outcome.to.as_str());
    if documents::touches(&item.def, r.action, entered) {
        let done = documents::on_action(
            conn,
            ctx,
            &documents::Issued {
                item: &item,
                row: &planned.row,
                action: r.action,
                input: r.input,
                actor: p.user_id,
                plan: &planned.plan,
                due_on: planned.clocks.statutory.due_on,
                entered,
                review_reasons: refusal_reasons(&facts, &row, &planned.plan),
            },
        )?;
        if let Value::Object(payload) = &mut planned.plan.audit_payload {
            payload.extend(done);
        }
    }
    let opened = match actions::write_action(conn, &planned.plan, guard)? {
        Written::Done(opened) => opened,
        Written::Changed => return Ok(Acted::Changed),
    };
    let mut facts = facts.after(&planned.plan, &planned.row, planned.ledger, opened);
    // At receipt the draw is committed in the receipt's transaction (under the filing's lock).
    let draw = if how == Read::Locked
        && crate::services::draw::draws_at_receipt(&item, &outcome.to, outcome.changes_state())
    {
        let snap = facts.snapshot(&planned.row, ctx.offset, ctx.calendar);
        let flags = engine::flags(&item.def, &snap, ctx.today())
            .into_iter()
            .map(|f| f.code.clone())
            .collect();
        let filing = (planned.row.clone(), flags);
        let draw = crate::services::draw::commit(conn, ctx, &item, &[filing], p.user_id)?;
        // The view shows the filing's place in the draw just committed (awaiting the draw).
        facts.draw = crate::repo::draws::for_filing(conn, planned.row.id)?;
        Some(draw)
    } else {
        None
    };
    let view = views::render(conn, ctx, p, &item, planned.row, facts, planned.clocks)?;
    Ok(Acted::Done(Box::new(view), draw))
}

/// The refusals' reasons of this round's joint review, the action's own answer included.
fn refusal_reasons(
    facts: &Facts,
    row: &FilingRow,
    plan: &crate::repo::actions::ActionPlan,
) -> Vec<String> {
    let earlier = facts
        .review_rows
        .iter()
        .filter(|r| r.visit == row.state_visit && r.verdict == Verdict::Refuse)
        .filter_map(|r| r.reason.clone());
    let this = plan
        .review
        .iter()
        .filter(|r| r.verdict == Verdict::Refuse)
        .filter_map(|r| r.reason.clone());
    earlier.chain(this).collect()
}

/// Whether the action gives the filing its public number now.
fn takes_number(row: &FilingRow, outcome: &Outcome) -> bool {
    row.number.is_none() && outcome.effects.contains(&Effect::AssignNumber)
}

/// The next public number of the item's prefix this year: gapless, because the counter's row
/// stays locked until the action's transaction ends (a rolled-back action returns it).
fn take_number(conn: &mut PgConnection, ctx: &Ctx<'_>, item: &Item) -> Result<String, AppError> {
    let prefix = &item.def.prefix;
    let year = ctx.today().year();
    let n = repo::next_number(conn, prefix, year)?;
    Ok(format!("{prefix}-{year}-{n:06}"))
}

/// Whether an action must be taken under the filing's lock: it takes the filing's number
/// (gapless per item and year: the counter's row and the filing must commit together) or
/// counts the filing received or closed (its report rows are written before the rest).
fn needs_lock(item: &Item, row: &FilingRow, outcome: &Outcome) -> bool {
    let numbers = outcome.effects.contains(&Effect::AssignNumber)
        && (row.number.is_none() || row.submitted_at.is_none());
    let closes = outcome.changes_state()
        && item
            .def
            .state(&outcome.to)
            .is_none_or(|s| s.kind.is_final());
    // Documents take gapless serials, and their certificates' statuses must change with the
    // action.
    let entered = outcome.changes_state().then_some(outcome.to.as_str());
    let documents = documents::touches(&item.def, &outcome.action, entered);
    let draws = crate::services::draw::draws_at_receipt(item, &outcome.to, outcome.changes_state());
    numbers || closes || documents || draws
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
