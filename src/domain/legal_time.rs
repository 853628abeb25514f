//! Legal clocks: a budget of days and an append-only ledger of start, suspend, resume, extend
//! and stop events, evaluated against a working-day calendar.
//!
//! Policy (day granularity, in the authority's time zone):
//! - 民法典 §201: the start day is not counted; a clock that runs from day A to day B has used
//!   the days in (A, B]. So the day a clock is suspended counts (it ran that day) and the day it
//!   resumes does not (it was stopped at the start of that day).
//! - 行政许可法 §45: suspended days are not counted; they are reported separately.
//! - §42: an extension adds days to the budget.
//! - A calendar-day budget ends on the last day, moved to the next working day if that is a
//!   holiday (§203).
//! - Due dates, warning dates and the colour are derived here from the ledger every time; the
//!   database keeps copies only so that queues and reports can use indexes.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::calendar::{Calendar, CalendarError};
use super::definition::{DayUnit, Fraction, Limit, SuspendReason, Warning};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerKind {
    Start,
    Suspend(SuspendReason),
    Resume,
    Extend(u32),
    Stop,
}

/// What a stored clock event says happened (the ledger's words; a suspension's reason and an
/// extension's days are stored beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockEvent {
    Start,
    Suspend,
    Resume,
    Extend,
    Stop,
}

impl ClockEvent {
    pub const ALL: [ClockEvent; 5] = [
        ClockEvent::Start,
        ClockEvent::Suspend,
        ClockEvent::Resume,
        ClockEvent::Extend,
        ClockEvent::Stop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClockEvent::Start => "start",
            ClockEvent::Suspend => "suspend",
            ClockEvent::Resume => "resume",
            ClockEvent::Extend => "extend",
            ClockEvent::Stop => "stop",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerEntry {
    pub kind: LedgerKind,
    /// The authority's local date of the event.
    pub on: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    NotStarted,
    Running,
    Suspended,
    Stopped,
}

/// 绿牌 / 黄牌 / 红牌.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Green,
    Yellow,
    Red,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Green => "green",
            Status::Yellow => "yellow",
            Status::Red => "red",
        }
    }
}

/// A clock evaluated on a given day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClockView {
    pub days: u32,
    pub unit: DayUnit,
    pub phase: Phase,
    pub started_on: Option<NaiveDate>,
    pub stopped_on: Option<NaiveDate>,
    /// Days counted so far (to today, or to the stop).
    pub used: i64,
    /// Days not counted because the clock was suspended.
    pub suspended: i64,
    pub suspended_since: Option<NaiveDate>,
    pub suspended_reason: Option<SuspendReason>,
    /// Days added by extensions.
    pub extended: u32,
    /// Budget (with extensions) minus used; negative when overdue.
    pub remaining: i64,
    /// The last day of the limit while the clock runs (none while suspended or not started).
    pub due_on: Option<NaiveDate>,
    pub warn_on: Option<NaiveDate>,
    pub status: Status,
    /// The answer depends on a year whose holiday schedule is not yet published.
    pub provisional: bool,
}

/// Where a clock stands against its last day, as the pages word it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Within the limit: this many days left (0 on the last day).
    Left(i64),
    /// Past its last day with no day of the limit's unit overdue yet (a Friday's limit seen on
    /// Saturday): overdue by its status, so never "0 left".
    PastLastDay,
    /// This many days (of the limit's unit) overdue.
    Overdue(i64),
}

impl ClockView {
    /// Stopped within the budget (with extensions).
    pub fn on_time(&self) -> bool {
        self.remaining >= 0
    }

    /// Days left, past the last day, or days overdue.
    pub fn standing(&self) -> Standing {
        match self.remaining {
            n if n < 0 => Standing::Overdue(-n),
            _ if self.status == Status::Red => Standing::PastLastDay,
            n => Standing::Left(n),
        }
    }
}

struct Counter<'a> {
    cal: &'a Calendar,
    unit: DayUnit,
    provisional: bool,
}

impl Counter<'_> {
    /// Days in (a, b] in the clock's unit.
    fn between(&mut self, a: NaiveDate, b: NaiveDate) -> Result<i64, CalendarError> {
        match self.unit {
            DayUnit::Working => {
                let ans = self.cal.working_days_between(a, b)?;
                self.provisional |= ans.provisional;
                Ok(ans.value)
            }
            DayUnit::Calendar => Ok((b - a).num_days()),
        }
    }

    /// The day `n` days after `from` (n ≥ 1), where the clock's budget ends.
    fn end(&mut self, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let ans = match self.unit {
            DayUnit::Working => self.cal.add_working_days(from, n)?,
            DayUnit::Calendar => self.cal.calendar_period_end(from, n)?,
        };
        self.provisional |= ans.provisional;
        Ok(ans.value)
    }

    fn back(&mut self, to: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        match self.unit {
            DayUnit::Working => {
                let ans = self.cal.sub_working_days(to, n)?;
                self.provisional |= ans.provisional;
                Ok(ans.value)
            }
            DayUnit::Calendar => to
                .checked_sub_days(chrono::Days::new(u64::from(n)))
                .ok_or(CalendarError::OutOfRange(to)),
        }
    }
}

/// Evaluate a clock with budget `limit` over `ledger` (in order) as of `today`.
pub fn evaluate(
    cal: &Calendar,
    limit: Limit,
    ledger: &[LedgerEntry],
    today: NaiveDate,
    warning: Warning,
) -> Result<ClockView, CalendarError> {
    evaluate_capped(cal, limit, ledger, today, warning, &BTreeMap::new())
}

/// Days of a suspension from `since` to `until` split into (not counted, counted): at most
/// `cap` days of it are not counted, the rest counts as running.
fn split_suspension(
    c: &mut Counter<'_>,
    since: NaiveDate,
    until: NaiveDate,
    cap: Option<u32>,
) -> Result<(i64, i64), CalendarError> {
    let days = c.between(since, until)?.max(0);
    Ok(match cap {
        Some(cap) if days > i64::from(cap) => (i64::from(cap), days - i64::from(cap)),
        _ => (days, 0),
    })
}

/// As [`evaluate`], with `caps`: the most days a suspension for a reason is not counted
/// (expert review at most 20 working days, 51号令 原第二十二条); the days beyond count.
pub fn evaluate_capped(
    cal: &Calendar,
    limit: Limit,
    ledger: &[LedgerEntry],
    today: NaiveDate,
    warning: Warning,
    caps: &BTreeMap<SuspendReason, u32>,
) -> Result<ClockView, CalendarError> {
    let mut c = Counter {
        cal,
        unit: limit.unit,
        provisional: false,
    };
    let mut started_on = None;
    let mut stopped_on = None;
    let mut running_since: Option<NaiveDate> = None;
    let mut suspended_since: Option<NaiveDate> = None;
    let mut suspended_reason = None;
    let mut used = 0i64;
    let mut suspended = 0i64;
    let mut extended = 0u32;
    for e in ledger {
        if stopped_on.is_some() {
            break;
        }
        match e.kind {
            LedgerKind::Start if started_on.is_none() => {
                started_on = Some(e.on);
                running_since = Some(e.on);
            }
            LedgerKind::Suspend(reason) => {
                if let Some(since) = running_since.take() {
                    used += c.between(since, e.on)?;
                    suspended_since = Some(e.on);
                    suspended_reason = Some(reason);
                } else if suspended_since.is_some() {
                    suspended_reason = Some(reason);
                }
            }
            LedgerKind::Resume => {
                if let Some(since) = suspended_since.take() {
                    let cap = suspended_reason.and_then(|r| caps.get(&r).copied());
                    let (not_counted, counted) = split_suspension(&mut c, since, e.on, cap)?;
                    suspended += not_counted;
                    used += counted;
                    suspended_reason = None;
                    running_since = Some(e.on);
                }
            }
            LedgerKind::Extend(days) => extended = extended.saturating_add(days),
            LedgerKind::Stop if started_on.is_some() => {
                if let Some(since) = running_since.take() {
                    used += c.between(since, e.on)?;
                }
                if let Some(since) = suspended_since.take() {
                    let cap = suspended_reason.and_then(|r| caps.get(&r).copied());
                    let (not_counted, counted) = split_suspension(&mut c, since, e.on, cap)?;
                    suspended += not_counted;
                    used += counted;
                }
                stopped_on = Some(e.on);
            }
            LedgerKind::Start | LedgerKind::Stop => {}
        }
    }
    let budget = i64::from(limit.days) + i64::from(extended);
    let used_before_current = used;
    let phase = if stopped_on.is_some() {
        Phase::Stopped
    } else if let Some(since) = running_since {
        used += c.between(since, today)?.max(0);
        Phase::Running
    } else if let Some(since) = suspended_since {
        let cap = suspended_reason.and_then(|r| caps.get(&r).copied());
        let (not_counted, counted) = split_suspension(&mut c, since, today, cap)?;
        suspended += not_counted;
        used += counted;
        // Past its cap the suspension counts again: the clock runs from the cap's last day.
        if let (Some(cap), true) = (cap, counted > 0) {
            running_since = Some(c.end(since, cap)?);
        }
        Phase::Suspended
    } else {
        Phase::NotStarted
    };
    let remaining = budget - used;

    let (mut due_on, mut warn_on) = (None, None);
    if let (Phase::Running | Phase::Suspended, Some(since)) = (phase, running_since) {
        let left = budget - used_before_current;
        let due = if left >= 1 {
            c.end(since, u32::try_from(left).unwrap_or(u32::MAX))?
        } else {
            since
        };
        due_on = Some(due);
        warn_on = Some(match warning {
            Warning::DaysBefore(n) => c.back(due, n)?.max(since),
            Warning::Share(f) => {
                // The day on which `f` of the budget has been used.
                let threshold = share_of(budget, f);
                let left = threshold - used_before_current;
                if left >= 1 {
                    c.end(since, u32::try_from(left).unwrap_or(u32::MAX))?
                } else {
                    since
                }
            }
        });
    }

    let status = match phase {
        Phase::NotStarted => Status::Green,
        Phase::Stopped => {
            if remaining >= 0 {
                Status::Green
            } else {
                Status::Red
            }
        }
        Phase::Running => match (due_on, warn_on) {
            (Some(due), _) if today > due => Status::Red,
            (_, Some(warn)) if today >= warn => Status::Yellow,
            _ => Status::Green,
        },
        Phase::Suspended if due_on.is_some() => match (due_on, warn_on) {
            (Some(due), _) if today > due => Status::Red,
            (_, Some(warn)) if today >= warn => Status::Yellow,
            _ => Status::Green,
        },
        Phase::Suspended => {
            let warn_left = match warning {
                Warning::DaysBefore(n) => i64::from(n),
                Warning::Share(f) => budget - share_of(budget, f),
            };
            if remaining < 0 {
                Status::Red
            } else if remaining <= warn_left {
                Status::Yellow
            } else {
                Status::Green
            }
        }
    };

    Ok(ClockView {
        days: limit.days,
        unit: limit.unit,
        phase,
        started_on,
        stopped_on,
        used,
        suspended,
        suspended_since: if phase == Phase::Suspended {
            suspended_since
        } else {
            None
        },
        suspended_reason: if phase == Phase::Suspended {
            suspended_reason
        } else {
            None
        },
        extended,
        remaining,
        due_on,
        warn_on,
        status,
        provisional: c.provisional,
    })
}

/// Where a ledger stands, from its events in order.
pub fn phase_of(ledger: &[LedgerEntry]) -> Phase {
    ledger
        .iter()
        .fold(Phase::NotStarted, |phase, e| match (phase, e.kind) {
            (Phase::NotStarted, LedgerKind::Start) => Phase::Running,
            (Phase::Running, LedgerKind::Suspend(_)) => Phase::Suspended,
            (Phase::Suspended, LedgerKind::Resume) => Phase::Running,
            (Phase::Running | Phase::Suspended, LedgerKind::Stop) => Phase::Stopped,
            (p, _) => p,
        })
}

/// ⌈budget · f⌉: the day count at which a share warning fires.
fn share_of(budget: i64, f: Fraction) -> i64 {
    let (num, den) = (budget * i64::from(f.num), i64::from(f.den.max(1)));
    (num + den - 1) / den
}

/// A step's own limit, running from the day the filing entered the step (no suspension).
pub fn step_due(
    cal: &Calendar,
    limit: Limit,
    entered_on: NaiveDate,
) -> Result<(NaiveDate, bool), CalendarError> {
    let ans = match limit.unit {
        DayUnit::Working => cal.add_working_days(entered_on, limit.days)?,
        DayUnit::Calendar => cal.calendar_period_end(entered_on, limit.days)?,
    };
    Ok((ans.value, ans.provisional))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cn() -> &'static Calendar {
        crate::domain::calendar::seed_cn()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn e(kind: LedgerKind, on: &str) -> LedgerEntry {
        LedgerEntry { kind, on: d(on) }
    }

    const FIFTEEN: Limit = Limit {
        days: 15,
        unit: DayUnit::Working,
    };

    /// 51号令 原第二十二条: the expert review is not counted for at most 20 working days. Started
    /// Monday 12 October 2026, suspended on the 14th (2 used): the cap ends on 11 November; resumed
    /// on the 16th, 3 days of the review count, and the 15 days end on 30 November, not on
    /// 3 December. Still under review on the 16th, the clock runs from the cap's end to the same
    /// day.
    #[test]
    fn an_expert_review_past_its_cap_counts_the_days_beyond() {
        let caps = BTreeMap::from([(SuspendReason::ExpertReview, 20)]);
        let suspended = [
            e(LedgerKind::Start, "2026-10-12"),
            e(
                LedgerKind::Suspend(SuspendReason::ExpertReview),
                "2026-10-14",
            ),
        ];
        let mut resumed = suspended.to_vec();
        resumed.push(e(LedgerKind::Resume, "2026-11-16"));
        let eval = |ledger: &[LedgerEntry], caps: &BTreeMap<SuspendReason, u32>| {
            evaluate_capped(
                cn(),
                FIFTEEN,
                ledger,
                d("2026-11-16"),
                Warning::DaysBefore(2),
                caps,
            )
            .unwrap()
        };
        let v = eval(&resumed, &caps);
        assert_eq!((v.used, v.suspended), (5, 20));
        assert_eq!(v.due_on, Some(d("2026-11-30")));
        let uncapped = eval(&resumed, &BTreeMap::new());
        assert_eq!((uncapped.used, uncapped.suspended), (2, 23));
        assert_eq!(uncapped.due_on, Some(d("2026-12-03")));

        let v = eval(&suspended, &caps);
        assert_eq!(v.phase, Phase::Suspended);
        assert_eq!((v.used, v.suspended), (5, 20));
        assert_eq!(v.due_on, Some(d("2026-11-30")));
        // Within its cap a review is not counted at all, and no due day is given.
        let within = evaluate_capped(
            cn(),
            FIFTEEN,
            &suspended,
            d("2026-11-11"),
            Warning::DaysBefore(2),
            &caps,
        )
        .unwrap();
        assert_eq!(
            (within.used, within.suspended, within.due_on),
            (2, 20, None)
        );
    }

    #[test]
    fn a_running_clock_is_due_on_the_nth_working_day_after_acceptance() {
        let v = evaluate(
            cn(),
            FIFTEEN,
            &[e(LedgerKind::Start, "2025-09-26")],
            d("2025-10-09"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert_eq!(v.phase, Phase::Running);
        assert_eq!(v.due_on, Some(d("2025-10-23")));
        // 09-28, 09-29, 09-30, 10-09.
        assert_eq!(v.used, 4);
        assert_eq!(v.remaining, 11);
        assert_eq!(v.warn_on, Some(d("2025-10-21")));
        assert_eq!(v.status, Status::Green);
    }

    /// A limit of 16 working days from Friday 26 September 2025 ends on Friday 24 October: on
    /// that day none is left, on the Saturday it is past but no working day is overdue, on the
    /// Monday one is.
    #[test]
    fn a_clock_stands_left_past_its_last_day_or_overdue() {
        let sixteen = Limit {
            days: 16,
            unit: DayUnit::Working,
        };
        let at = |day: &str| {
            let v = evaluate(
                cn(),
                sixteen,
                &[e(LedgerKind::Start, "2025-09-26")],
                d(day),
                Warning::DaysBefore(2),
            )
            .unwrap();
            assert_eq!(v.due_on, Some(d("2025-10-24")));
            v.standing()
        };
        assert_eq!(at("2025-10-09"), Standing::Left(12));
        assert_eq!(at("2025-10-24"), Standing::Left(0));
        assert_eq!(at("2025-10-25"), Standing::PastLastDay);
        assert_eq!(at("2025-10-26"), Standing::PastLastDay);
        assert_eq!(at("2025-10-27"), Standing::Overdue(1));
        assert_eq!(at("2025-10-29"), Standing::Overdue(3));
    }

    #[test]
    fn the_colour_turns_yellow_on_the_warning_day_and_red_after_the_due_day() {
        let ledger = [e(LedgerKind::Start, "2025-09-26")];
        let at = |day: &str| {
            evaluate(cn(), FIFTEEN, &ledger, d(day), Warning::DaysBefore(2))
                .unwrap()
                .status
        };
        assert_eq!(at("2025-10-20"), Status::Green);
        assert_eq!(at("2025-10-21"), Status::Yellow);
        assert_eq!(at("2025-10-23"), Status::Yellow);
        assert_eq!(at("2025-10-24"), Status::Red);
    }

    #[test]
    fn suspension_and_resumption_keep_the_remaining_budget() {
        // Start Mon 2025-11-03; suspend Wed 11-05 (used 11-04, 11-05 = 2); resume Mon 11-17.
        let ledger = [
            e(LedgerKind::Start, "2025-11-03"),
            e(
                LedgerKind::Suspend(SuspendReason::ExpertReview),
                "2025-11-05",
            ),
            e(LedgerKind::Resume, "2025-11-17"),
        ];
        let during = evaluate(
            cn(),
            FIFTEEN,
            &ledger[..2],
            d("2025-11-12"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert_eq!(during.phase, Phase::Suspended);
        assert_eq!(during.used, 2);
        assert_eq!(during.remaining, 13);
        assert_eq!(during.due_on, None);
        assert_eq!(during.suspended_reason, Some(SuspendReason::ExpertReview));
        assert_eq!(during.suspended, 5);

        let after = evaluate(
            cn(),
            FIFTEEN,
            &ledger,
            d("2025-11-17"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert_eq!(after.phase, Phase::Running);
        assert_eq!(after.used, 2);
        assert_eq!(after.remaining, 13);
        // 13 working days after 11-17.
        assert_eq!(after.due_on, Some(d("2025-12-04")));
        // Suspended 11-06 .. 11-17: 8 working days were not counted.
        assert_eq!(after.suspended, 8);
        // Without the suspension it would have been due 15 working days after 11-03.
        let plain = evaluate(
            cn(),
            FIFTEEN,
            &ledger[..1],
            d("2025-11-17"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert_eq!(plain.due_on, Some(d("2025-11-24")));
    }

    #[test]
    fn an_extension_adds_to_the_budget() {
        let ledger = [
            e(LedgerKind::Start, "2025-09-26"),
            e(LedgerKind::Extend(10), "2025-10-20"),
        ];
        let v = evaluate(
            cn(),
            FIFTEEN,
            &ledger,
            d("2025-10-20"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert_eq!(v.extended, 10);
        // Used by 10-20: 09-28..30, 10-09..11, 10-13..17, 10-20 = 12 of 25.
        assert_eq!(v.remaining, 25 - 12);
        assert_eq!(v.due_on, Some(d("2025-11-06")));
    }

    #[test]
    fn a_stopped_clock_reports_whether_it_was_on_time() {
        let on_time = [
            e(LedgerKind::Start, "2025-09-26"),
            e(LedgerKind::Stop, "2025-10-23"),
        ];
        let v = evaluate(
            cn(),
            FIFTEEN,
            &on_time,
            d("2025-12-01"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert_eq!(
            (v.phase, v.used, v.status),
            (Phase::Stopped, 15, Status::Green)
        );
        assert!(v.on_time());
        let late = [
            e(LedgerKind::Start, "2025-09-26"),
            e(LedgerKind::Stop, "2025-10-24"),
        ];
        let v = evaluate(
            cn(),
            FIFTEEN,
            &late,
            d("2025-12-01"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert_eq!((v.used, v.status), (16, Status::Red));
        assert!(!v.on_time());
    }

    #[test]
    fn a_share_warning_turns_yellow_when_that_share_is_used() {
        let ledger = [e(LedgerKind::Start, "2025-11-03")];
        let share = Warning::Share(Fraction {
            num: 4,
            den: 5,
            more_than: false,
        });
        let v = evaluate(cn(), FIFTEEN, &ledger, d("2025-11-03"), share).unwrap();
        // 12 of 15 working days used on 11-19.
        assert_eq!(v.warn_on, Some(d("2025-11-19")));
    }

    #[test]
    fn a_calendar_day_budget_ending_on_a_holiday_moves_to_the_next_working_day() {
        let ten = Limit {
            days: 7,
            unit: DayUnit::Calendar,
        };
        let v = evaluate(
            cn(),
            ten,
            &[e(LedgerKind::Start, "2025-09-24")],
            d("2025-09-25"),
            Warning::DaysBefore(1),
        )
        .unwrap();
        assert_eq!(v.due_on, Some(d("2025-10-09")));
    }

    #[test]
    fn a_clock_crossing_into_an_unpublished_year_is_provisional() {
        let v = evaluate(
            cn(),
            FIFTEEN,
            &[e(LedgerKind::Start, "2026-12-20")],
            d("2026-12-21"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert!(v.provisional);
        let v = evaluate(
            cn(),
            FIFTEEN,
            &[e(LedgerKind::Start, "2026-11-02")],
            d("2026-11-03"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert!(!v.provisional);
    }

    #[test]
    fn events_after_a_stop_and_a_second_start_are_ignored() {
        let ledger = [
            e(LedgerKind::Start, "2025-09-26"),
            e(LedgerKind::Start, "2025-10-20"),
            e(LedgerKind::Stop, "2025-10-23"),
            e(LedgerKind::Resume, "2025-10-24"),
        ];
        let v = evaluate(
            cn(),
            FIFTEEN,
            &ledger,
            d("2025-12-01"),
            Warning::DaysBefore(2),
        )
        .unwrap();
        assert_eq!(
            (v.phase, v.used, v.started_on),
            (Phase::Stopped, 15, Some(d("2025-09-26")))
        );
    }

    #[test]
    fn a_step_limit_runs_from_entering_the_step() {
        let fifteen = FIFTEEN;
        assert_eq!(
            step_due(cn(), fifteen, d("2025-09-26")).unwrap(),
            (d("2025-10-23"), false)
        );
    }
}
