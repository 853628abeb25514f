//! Who is told what, and when reminders fall due. Pure: the services turn these answers into
//! outbox rows inside the transaction that caused them.

use chrono::{Months, NaiveDate};

use super::calendar::{Answer, Calendar, CalendarError};
use super::definition::{ApplicantEvent, Definition, State, StateKind, SuspendReason, Within};
use super::engine::{ClockChange, Effect, Outcome};
use super::legal_time::step_due;

/// Where an outbox row stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    /// Waiting to be sent (or claimed by a sender now).
    Pending,
    Sent,
    /// Failed for good: parked for an administrator to send again.
    Failed,
}

impl MailStatus {
    pub const ALL: [MailStatus; 3] = [MailStatus::Pending, MailStatus::Sent, MailStatus::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<MailStatus> {
        MailStatus::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// `status == "sent"` reads as the column does.
impl PartialEq<&str> for MailStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What the applicant is told about one action, in the order it happened. One mail per action
/// at most: a filing accepted on receipt (its clock runs from receipt) is told "accepted", not
/// also "received"; a supplement request already says that the clock stops.
pub fn applicant_event(
    def: &Definition,
    from: &State,
    to: &State,
    outcome: &Outcome,
    first_submission: bool,
) -> Option<ApplicantEvent> {
    let wanted = &def.notifications.applicant;
    let has = |e: ApplicantEvent| wanted.contains(&e);
    let clock = |c: ClockChange| outcome.effects.contains(&Effect::Clock(c));
    let notice = outcome
        .effects
        .iter()
        .any(|e| matches!(e, Effect::IssueNotice(_)));
    let suspended_for_other = outcome.effects.iter().any(|e| {
        matches!(e, Effect::Clock(ClockChange::Suspend { reason }) if *reason != SuspendReason::Supplement)
    });
    // The decision, once: a decided filing moving on (works started, the permit lapsed) is
    // told as a state entered, if the item tells it at all.
    let decided = outcome.changes_state()
        && to.kind.is_final()
        && !from.kind.is_final()
        && to.kind != StateKind::Withdrawn
        && from.kind != StateKind::Draft;
    let received = first_submission
        && outcome
            .effects
            .iter()
            .any(|e| matches!(e, Effect::AssignNumber));
    let accepted = is_acceptance(from, to, outcome);
    // Most telling first. A first submission whose clock runs from receipt is told so in the
    // receipt.
    let candidates = [
        (decided, ApplicantEvent::Decided),
        (notice, ApplicantEvent::SupplementRequested),
        (received, ApplicantEvent::Received),
        (accepted, ApplicantEvent::Accepted),
        (suspended_for_other, ApplicantEvent::ClockSuspended),
        (clock(ClockChange::Resume), ApplicantEvent::ClockResumed),
    ];
    if let Some((_, e)) = candidates.iter().find(|(happened, e)| *happened && has(*e)) {
        return Some(*e);
    }
    if outcome.changes_state() && def.notifications.on_entering.contains(&to.code) {
        return Some(ApplicantEvent::StateEntered);
    }
    None
}

/// Whether an action accepts the filing (受理): it leaves the window's intake for anything but
/// the applicant's hands, a refusal to accept or a withdrawal. The clock starts with it, or
/// ran from receipt already (建筑法 §8: seven days from receipt).
pub fn is_acceptance(from: &State, to: &State, outcome: &Outcome) -> bool {
    outcome.changes_state()
        && from.kind == StateKind::Intake
        && !matches!(
            to.kind,
            StateKind::Intake
                | StateKind::WaitingApplicant
                | StateKind::NotAccepted
                | StateKind::Withdrawn
        )
}

/// The last day of a period counted from `from` (民法典 §201: that day not counted; §202: a
/// period of months ends on the same-numbered day of the last month, or its last day; §203: a
/// last day on a holiday moves to the next working day).
pub fn period_end(
    cal: &Calendar,
    from: NaiveDate,
    within: Within,
) -> Result<Answer<NaiveDate>, CalendarError> {
    match within {
        Within::Months(m) => {
            let end = from
                .checked_add_months(Months::new(m))
                .ok_or(CalendarError::OutOfRange(from))?;
            cal.next_working_day(end)
        }
        Within::Days(limit) => {
            let (value, provisional) = step_due(cal, limit, from)?;
            Ok(Answer { value, provisional })
        }
    }
}

/// The working days on which to remind of a deadline, `leads` working days before it, earliest
/// first, without repeats. A reminder "on the day" of a deadline that falls on a rest day goes
/// out on the last working day before it: never after the day it warns of.
pub fn reminder_days(
    cal: &Calendar,
    due: NaiveDate,
    leads: &[u32],
) -> Result<Vec<NaiveDate>, CalendarError> {
    let mut days = Vec::with_capacity(leads.len());
    for &n in leads {
        let d = if n == 0 {
            if cal.is_working(due)? {
                due
            } else {
                cal.sub_working_days(due, 1)?.value
            }
        } else {
            cal.sub_working_days(due, n)?.value
        };
        days.push(d);
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// The next reminder day after those already passed: reminders missed while the service was
/// down collapse into one (nobody wants three reminders in one morning).
pub fn next_reminder(days: &[NaiveDate], today: NaiveDate) -> (Option<NaiveDate>, usize) {
    let passed = days.iter().take_while(|d| **d <= today).count();
    (days.get(passed).copied(), passed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::definition::{DayUnit, Limit};

    fn cal() -> &'static Calendar {
        crate::domain::calendar::seed_cn()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn three_months_end_on_the_same_day_or_the_next_working_day() {
        let c = cal();
        // 2026-03-16 + 3 months = 2026-06-16, a Tuesday.
        assert_eq!(
            period_end(c, d("2026-03-16"), Within::Months(3))
                .unwrap()
                .value,
            d("2026-06-16")
        );
        // 2026-07-01 + 3 months = 2026-10-01, National Day: moves past the holiday (10-01–07)
        // to Thursday 10-08.
        assert_eq!(
            period_end(c, d("2026-07-01"), Within::Months(3))
                .unwrap()
                .value,
            d("2026-10-08")
        );
        // 2025-11-30 + 3 months: February has no 30th, so its last day (2026-02-28, a make-up
        // working Saturday).
        assert_eq!(
            period_end(c, d("2025-11-30"), Within::Months(3))
                .unwrap()
                .value,
            d("2026-02-28")
        );
    }

    #[test]
    fn a_day_period_counts_like_a_step_limit() {
        let c = cal();
        let w = Within::Days(Limit {
            days: 5,
            unit: DayUnit::Working,
        });
        // Friday 2026-09-18 + 5 working days, across 中秋 (09-25–27).
        assert_eq!(
            period_end(c, d("2026-09-18"), w).unwrap().value,
            c.add_working_days(d("2026-09-18"), 5).unwrap().value
        );
    }

    #[test]
    fn reminders_fall_on_working_days_before_the_deadline() {
        let c = cal();
        // Deadline Thursday 2026-10-08, right after National Day (10-01–07; 10-10 is worked).
        let days = reminder_days(c, d("2026-10-08"), &[3, 1, 0]).unwrap();
        assert_eq!(
            days,
            vec![d("2026-09-28"), d("2026-09-30"), d("2026-10-08")]
        );
        // On-the-day reminder of a deadline on a Sunday goes out on the Friday before.
        let days = reminder_days(c, d("2026-11-22"), &[0]).unwrap();
        assert_eq!(days, vec![d("2026-11-20")]);
    }

    #[test]
    fn missed_reminders_collapse_into_the_next_one() {
        let days = [d("2026-09-28"), d("2026-09-30"), d("2026-10-08")];
        assert_eq!(
            next_reminder(&days, d("2026-09-27")),
            (Some(d("2026-09-28")), 0)
        );
        assert_eq!(next_reminder(&days, d("2026-10-08")), (None, 3));
        assert_eq!(
            next_reminder(&days, d("2026-09-30")),
            (Some(d("2026-10-08")), 2)
        );
    }
}
