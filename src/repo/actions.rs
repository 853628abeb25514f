//! An action's writes as one plain value ([`ActionPlan`], built by the service from the
//! engine's outcome) and the one function that writes it ([`write_action`]).
//!
//! How it is written is this module's business alone (DESIGN principle 2): the report rows
//! first, as statements of their own (an action that writes them runs under the filing's row
//! lock, see `services::filings::act`); then everything else as one statement of data-modifying
//! `WITH` parts ([`crate::db::batch`]) whose first part updates the filing, guarded by the row
//! version read when the action was decided. The parts are pushed in one fixed order, so the
//! statement's text depends only on which parts an action has: a small set of prepared texts.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::audit::{self, Event};
use super::filings::{self, DeadlineColumns, FilingChanges};
use super::outbox::{self, OwnedMail};
use super::reminders::{self, Closing, NewDeadline};
use super::reports::{self, Closed, Received};
use super::tasks::{self, TaskRow};
use crate::db::batch::{self, Batch, Raw};
use crate::domain::definition::{Role, SuspendReason};
use crate::domain::engine::Verdict;
use crate::domain::legal_time::ClockEvent;

/// Everything one action writes.
#[derive(Debug)]
pub struct ActionPlan {
    pub filing: Uuid,
    /// Who acts, and when.
    pub actor: Uuid,
    pub at: DateTime<Utc>,
    /// The filing's new columns (its version always) and the recomputed deadline copies.
    pub changes: FilingChanges,
    pub deadlines: DeadlineColumns,
    /// The objection recorded during a public notice, in the current state visit.
    pub objection: Option<NewObjection>,
    /// A joint-review department's answer, in the current state visit.
    pub review: Option<NewReview>,
    /// The department whose task the review closes (the state does not change).
    pub close_task_of: Option<String>,
    /// Clock events, in order.
    pub clock_events: Vec<NewClockEvent>,
    /// The filing enters a new state: its open tasks close and the new state's open.
    pub enter: Option<EnterState>,
    /// The audit entry, in the filing's chain.
    pub audit_action: String,
    pub audit_payload: Value,
    /// The letter to the applicant.
    pub letter: Option<OwnedMail>,
    /// Deadlines on the applicant the action ends, and those it starts.
    pub close_deadlines: Option<Closing>,
    pub open_deadlines: Vec<OpenDeadline>,
    /// A deadline moved to a new day, with the times it has now been extended.
    pub extend_deadline: Option<(NewDeadline, i32)>,
    /// A first submission, counted received.
    pub received: Option<Received>,
    /// The filing closes: counted closed.
    pub closed: Option<Closed>,
    /// The rows reported to the province's front database (its BLZT codes), in order.
    pub exchange: Vec<super::exchange::NewExchangeRow>,
}

#[derive(Debug, Clone)]
pub struct NewObjection {
    pub visit: i32,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct NewReview {
    pub visit: i32,
    pub department: String,
    pub verdict: Verdict,
    pub opinion: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewClockEvent {
    pub event: ClockEvent,
    pub reason: Option<SuspendReason>,
}

/// A deadline on the applicant the action starts.
#[derive(Debug, Clone)]
pub struct OpenDeadline {
    pub deadline: NewDeadline,
    /// Opened after the action's closing of deadlines has run: one it closes (the same code
    /// and day, bound to the visit the filing leaves) would still sit in the unique index of
    /// open deadlines and keep this one from opening.
    pub after_closing: bool,
}

/// The queue work of a state the filing enters.
#[derive(Debug, Clone)]
pub struct EnterState {
    pub state: String,
    /// Whether the filing has open tasks to close (read with its facts).
    pub any_open: bool,
    /// One task per (role, department).
    pub work: Vec<(Role, String)>,
    /// The date the new tasks sort by.
    pub due_on: Option<NaiveDate>,
}

/// Under which condition the plan is written.
#[derive(Debug, Clone, Copy)]
pub enum Guard<'a> {
    /// The caller holds the filing's row lock (taken with the read).
    Locked,
    /// Only if the filing's row is still the version read (its `xmin`): any write to the row
    /// since, whether or not it bumped the version, makes the whole statement write nothing.
    Unchanged { xmin: &'a str },
}

/// What writing a plan did.
#[derive(Debug)]
pub enum Written {
    /// Written: the tasks the new state opened (`None` when the state did not change).
    Done(Option<Vec<TaskRow>>),
    /// The filing changed after it was read: nothing was written.
    Changed,
}

/// Write an action's plan in the caller's transaction (or as one statement of its own).
pub fn write_action(
    conn: &mut PgConnection,
    plan: &ActionPlan,
    guard: Guard<'_>,
) -> QueryResult<Written> {
    // The report rows first, each its own statement: only actions taken under the filing's
    // lock have them (see `services::filings::act`).
    if let Some(r) = &plan.received {
        reports::record_received(conn, r)?;
    }
    if let Some(c) = &plan.closed {
        reports::record_closed(conn, c)?;
    }

    let mut batch = Batch::new();
    if let Some(o) = &plan.objection {
        filings::insert_objection_in(
            &mut batch,
            plan.filing,
            o.visit,
            o.body.clone(),
            plan.actor,
            plan.at,
        );
    }
    if let Some(r) = &plan.review {
        filings::insert_review_in(&mut batch, plan.filing, r, plan.actor, plan.at);
    }
    if let Some(department) = &plan.close_task_of {
        tasks::close_for_department_in(&mut batch, plan.filing, department.clone(), plan.at);
    }
    filings::insert_clock_events_in(
        &mut batch,
        plan.filing,
        &plan.clock_events,
        plan.at,
        Some(plan.actor),
    );
    let changes = plan.changes.clone();
    let deadlines = plan.deadlines.clone();
    let guarded = match guard {
        Guard::Unchanged { xmin } => Some(batch::expect_one(&filings::update_guarded_in(
            &mut batch,
            plan.filing,
            xmin.to_owned(),
            changes,
            deadlines,
        ))),
        Guard::Locked => {
            filings::update_in(&mut batch, plan.filing, changes, deadlines);
            None
        }
    };
    let opening = plan.enter.as_ref().map(|e| {
        tasks::replace_open_in(
            &mut batch,
            guarded.clone(),
            plan.filing,
            e.any_open,
            &e.state,
            &e.work,
            e.due_on,
            plan.at,
        )
    });
    audit::append_in(
        &mut batch,
        &Event::filing(
            plan.filing,
            plan.actor,
            &plan.audit_action,
            plan.at,
            plan.audit_payload.clone(),
        ),
    );
    if let Some(letter) = &plan.letter {
        outbox::insert_one_in(&mut batch, letter.clone());
    }
    super::exchange::insert_in(&mut batch, &plan.exchange);
    let closed = plan
        .close_deadlines
        .as_ref()
        .map(|which| reminders::close_in(&mut batch, plan.filing, which, plan.at));
    for d in &plan.open_deadlines {
        let after = closed.as_deref().filter(|_| d.after_closing);
        reminders::open_in(&mut batch, after, &d.deadline, plan.at);
    }
    if let Some((d, extensions)) = &plan.extend_deadline {
        reminders::extend_in(&mut batch, d, *extensions);
    }

    // The statement's last word: the new tasks (reading the closing of the old ones and the
    // guard), else the guard's check, else nothing.
    let written = match (opening, &guarded) {
        (Some(Some(insert)), _) => {
            batch
                .flush_returning::<TaskRow>(conn, insert)
                .map(|mut opened| {
                    opened.sort_by_key(|t| t.id);
                    Some(opened)
                })
        }
        (opening, Some(guard)) => batch
            .flush_returning::<Checked>(conn, Raw::new(format!("SELECT {guard} AS ok")))
            .map(|_| opening.map(|_| Vec::new())),
        (opening, None) => batch.flush(conn).map(|()| opening.map(|_| Vec::new())),
    };
    match written {
        Ok(opened) => Ok(Written::Done(opened)),
        Err(e) if guarded.is_some() && batch::is_changed(&e) => Ok(Written::Changed),
        Err(e) => Err(e),
    }
}

/// The answer of the guard's `SELECT` (see `db::batch::expect_one`).
#[derive(QueryableByName)]
struct Checked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    #[allow(dead_code)]
    ok: bool,
}
