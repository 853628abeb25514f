//! A filing's legal clocks: evaluated from its ledger, shown live, and copied onto the row.
//!
//! Policy (DESIGN principle 4): due dates, warning dates and colours are derived from the clock
//! ledger and the calendar every time they are shown. The copies on `filings` and `tasks` exist
//! so that queues sort by urgency and reports find overdue filings through indexes; they are
//! rewritten in the same transaction as every clock event and whenever a calendar changes.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::items::Item;
use crate::clock::local_date;
use crate::domain::calendar::{Calendar, CalendarError};
use crate::domain::definition::Warning;
use crate::domain::definition::{Limit, SuspendReason};
use crate::domain::legal_time::{
    self, ClockEvent, ClockView, LedgerEntry, LedgerKind, Phase, Status,
};
use crate::error::AppError;
use crate::repo::filings::{self as repo, DeadlineColumns, FilingRow};

/// A step's own clock (a spot-check inspection within 15 working days of selection, ...).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepClock {
    pub state: String,
    pub days: u32,
    pub unit: crate::domain::definition::DayUnit,
    pub started_on: NaiveDate,
    pub due_on: NaiveDate,
    pub warn_on: NaiveDate,
    pub status: Status,
    pub provisional: bool,
}

/// Every clock of a filing as of one day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Clocks {
    /// 法定时限
    pub statutory: ClockView,
    /// 承诺时限, when the item publishes one.
    pub promised: Option<ClockView>,
    pub step: Option<StepClock>,
    /// The date the queues sort by: the earliest of the step's, the promised and the
    /// statutory due dates.
    pub next_due_on: Option<NaiveDate>,
}

/// A stored suspension's reason. (The column is free text because an extension's written
/// reasons share it; a suspension's must be one of the reasons the law knows.)
fn suspend_reason(e: &repo::ClockEventRow) -> Result<SuspendReason, AppError> {
    let stored = e.reason.as_deref().unwrap_or_default();
    SuspendReason::parse(stored).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "unknown suspend reason `{stored}` stored in a clock event at {}",
            e.at
        ))
    })
}

/// The ledger in the authority's local dates.
pub fn ledger(
    conn: &mut PgConnection,
    filing: uuid::Uuid,
    offset: FixedOffset,
) -> Result<Vec<LedgerEntry>, AppError> {
    to_ledger(&repo::clock_events_for(conn, filing)?, offset)
}

/// Stored clock events as a ledger in the authority's local dates.
pub fn to_ledger(
    events: &[repo::ClockEventRow],
    offset: FixedOffset,
) -> Result<Vec<LedgerEntry>, AppError> {
    events
        .iter()
        .map(|e| {
            let kind = match e.event {
                ClockEvent::Start => LedgerKind::Start,
                ClockEvent::Suspend => LedgerKind::Suspend(suspend_reason(e)?),
                ClockEvent::Resume => LedgerKind::Resume,
                ClockEvent::Extend => {
                    LedgerKind::Extend(u32::try_from(e.days.unwrap_or(0)).unwrap_or(0))
                }
                ClockEvent::Stop => LedgerKind::Stop,
            };
            Ok(LedgerEntry {
                kind,
                on: local_date(e.at, offset),
            })
        })
        .collect()
}

fn calendar_error(e: CalendarError) -> AppError {
    AppError::Internal(anyhow::anyhow!("calendar: {e}"))
}

/// Evaluate a filing's clocks on `today`.
pub fn clocks(
    cal: &Calendar,
    item: &Item,
    row: &FilingRow,
    ledger: &[LedgerEntry],
    today: NaiveDate,
    offset: FixedOffset,
) -> Result<Clocks, AppError> {
    let limits = &item.def.limits;
    let warning = limits.warning;
    let eval = |limit: Limit| {
        legal_time::evaluate_capped(cal, limit, ledger, today, warning, &limits.suspension_caps)
            .map_err(calendar_error)
    };
    let statutory = eval(limits.statutory)?;
    let promised = limits.promised.map(eval).transpose()?;
    let state = item.def.state(&row.state);
    let step = match (state.and_then(|s| s.step_limit), row.closed_at) {
        (Some(limit), None) => {
            let started_on = local_date(row.entered_state_at, offset);
            let (due_on, provisional) =
                legal_time::step_due(cal, limit, started_on).map_err(calendar_error)?;
            let warn = match warning {
                Warning::DaysBefore(n) => cal
                    .sub_working_days(due_on, n)
                    .map(|a| a.value)
                    .unwrap_or(due_on),
                Warning::Share(_) => due_on,
            };
            let status = if today > due_on {
                Status::Red
            } else if today >= warn {
                Status::Yellow
            } else {
                Status::Green
            };
            Some(StepClock {
                state: row.state.clone(),
                days: limit.days,
                unit: limit.unit,
                started_on,
                due_on,
                warn_on: warn,
                status,
                provisional,
            })
        }
        _ => None,
    };
    let next_due_on = [
        step.as_ref().map(|s| s.due_on),
        promised.as_ref().and_then(|p| p.due_on),
        statutory.due_on,
    ]
    .into_iter()
    .flatten()
    .min();
    Ok(Clocks {
        statutory,
        promised,
        step,
        next_due_on,
    })
}

/// Recompute and store a filing's deadline copies (and its open tasks' due dates).
pub fn refresh(
    conn: &mut PgConnection,
    cal: &Calendar,
    item: &Item,
    row: &FilingRow,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Result<Clocks, AppError> {
    let ledger = ledger(conn, row.id, offset)?;
    let c = clocks(cal, item, row, &ledger, local_date(now, offset), offset)?;
    repo::set_deadlines(conn, row.id, &columns(&c), c.next_due_on)?;
    Ok(c)
}

/// The copies of a filing's deadlines kept on its row.
pub fn columns(c: &Clocks) -> DeadlineColumns {
    let stopped = c.statutory.phase == Phase::Stopped;
    // Managers are told when the running clock turns: the statutory one while it runs, else a
    // step's own limit (a spot check within 15 working days); nothing while suspended.
    let (escalation_warn_on, escalation_due_on) = match (&c.statutory, &c.step) {
        (s, _) if s.phase == Phase::Running => (s.warn_on, s.due_on),
        (s, Some(step)) if s.phase != Phase::Suspended => (Some(step.warn_on), Some(step.due_on)),
        _ => (None, None),
    };
    DeadlineColumns {
        escalation_warn_on,
        escalation_due_on,
        statutory_due_on: c.statutory.due_on,
        promised_due_on: c.promised.as_ref().and_then(|p| p.due_on),
        warn_on: [
            c.statutory.warn_on,
            c.promised.as_ref().and_then(|p| p.warn_on),
        ]
        .into_iter()
        .flatten()
        .min(),
        step_due_on: c.step.as_ref().map(|s| s.due_on),
        clock_suspended: c.statutory.phase == Phase::Suspended,
        clock_provisional: c.statutory.provisional
            || c.promised.as_ref().is_some_and(|p| p.provisional),
        on_time_statutory: stopped.then(|| c.statutory.on_time()),
        on_time_promised: if stopped {
            c.promised.as_ref().map(ClockView::on_time)
        } else {
            None
        },
    }
}

/// Recompute the deadline copies of every open filing whose clock has started (after a
/// calendar change). Pages through the filings so that no transaction grows large.
pub fn recompute_open(
    conn: &mut PgConnection,
    items: &super::items::Registry,
    cal: &Calendar,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Result<u64, AppError> {
    let mut after = None;
    let mut n = 0u64;
    loop {
        let ids = repo::open_started(conn, after, 500)?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        conn.transaction::<_, AppError, _>(|conn| {
            for id in &ids {
                // Locked, as an action locks it: an action committing meanwhile is waited for
                // and its clock events are read, instead of being overwritten with due dates
                // computed from the ledger before it.
                if let Some(row) = repo::lock(conn, *id)? {
                    let item = items.by_id(conn, row.item_version_id)?;
                    refresh(conn, cal, &item, &row, now, offset)?;
                    n += 1;
                }
            }
            Ok(())
        })?;
        after = Some(last);
    }
    Ok(n)
}
