//! Notifications, written into the outbox inside the transaction that causes them, and the
//! deadlines on applicants that the deadline scan reminds of.
//!
//! Policy: a recipient without an email address is skipped (and logged); every message has a
//! key that makes it unique (filing, kind, version or deadline), so replaying a transaction's
//! cause never writes it twice.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use lettre::message::Mailbox;
use uuid::Uuid;

use super::deadlines::Clocks;
use super::items::Item;
use crate::domain::calendar::Calendar;
use crate::domain::definition::{Lang, Role, State, StateKind};
use crate::domain::engine::{ClockChange, Effect, Notice, Outcome};
use crate::domain::notify;
use crate::domain::{Problem, Text};
use crate::error::AppError;
use crate::mail::letters::{self, EventDetail, FilingFacts, Letter};
use crate::repo::actions::OpenDeadline;
use crate::repo::filings::FilingRow;
use crate::repo::outbox;
use crate::repo::reminders::{self, Closing, NewDeadline};
use crate::repo::users;

/// What every message needs besides its content: who sends, where links point, who signs.
#[derive(Debug, Clone)]
pub struct MailContext {
    pub from: Mailbox,
    pub public_url: String,
    pub authority: Text,
}

impl MailContext {
    pub fn filing_url(&self, id: Uuid) -> String {
        format!("{}/filings/{id}", self.public_url.trim_end_matches('/'))
    }

    pub fn dashboard_url(&self) -> String {
        format!("{}/dashboard", self.public_url.trim_end_matches('/'))
    }

    pub fn queue_url(&self) -> String {
        format!("{}/queue", self.public_url.trim_end_matches('/'))
    }
}

/// Someone a message goes to.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub id: Uuid,
    pub email: Option<String>,
    pub lang: Lang,
    pub name: String,
}

impl From<crate::repo::filings::ApplicantContact> for Recipient {
    fn from(c: crate::repo::filings::ApplicantContact) -> Recipient {
        Recipient {
            id: c.id,
            email: c.email,
            lang: c.lang,
            name: c.display_name,
        }
    }
}

/// Active managers of a department.
pub fn managers_of(conn: &mut PgConnection, department: &str) -> Result<Vec<Recipient>, AppError> {
    Ok(users::with_role_in(conn, Role::Manager, department)?
        .into_iter()
        .map(|u| Recipient {
            id: u.id,
            email: u.email,
            lang: u.lang,
            name: u.display_name,
        })
        .collect())
}

/// Render a letter into an outbox row to be written with others (a scan's page); `None` for a
/// recipient without an email address.
#[allow(clippy::too_many_arguments)]
pub fn render(
    mail: &MailContext,
    now: DateTime<Utc>,
    key: String,
    kind: &str,
    filing: Option<Uuid>,
    to: &Recipient,
    letter: &Letter,
) -> Result<Option<outbox::OwnedMail>, AppError> {
    let Some(address) = to.email.as_deref().filter(|a| !a.trim().is_empty()) else {
        tracing::info!(recipient = %to.id, kind, "no email address: not told");
        return Ok(None);
    };
    let r = letter
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering {kind}: {e}")))?;
    Ok(Some(outbox::OwnedMail {
        dedupe_key: key,
        kind: kind.to_owned(),
        filing_id: filing,
        recipient_id: Some(to.id),
        to_address: format!("{} <{address}>", to.name.replace(['<', '>', '"'], "")),
        lang: to.lang,
        subject: r.subject,
        body_text: String::new(),
        body_html: String::new(),
        message_id: crate::mail::new_message_id(&mail.from),
        next_attempt_at: now,
        created_at: now,
        bodies: Some(
            crate::mail::bodies::pack(&r.text, &r.html)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("storing {kind}: {e}")))?,
        ),
    }))
}

/// Render a letter into the outbox unless the key is taken. True when a row was written.
#[allow(clippy::too_many_arguments)]
pub fn enqueue(
    conn: &mut PgConnection,
    mail: &MailContext,
    now: DateTime<Utc>,
    key: &str,
    kind: &str,
    filing: Option<Uuid>,
    to: &Recipient,
    letter: &Letter,
) -> Result<bool, AppError> {
    let Some(row) = render(mail, now, key.to_owned(), kind, filing, to, letter)? else {
        return Ok(false);
    };
    let inserted = outbox::insert_one(conn, &row)? == 1;
    Ok(inserted)
}

/// Everything about an action the notifications need.
pub struct ActionFacts<'a> {
    pub item: &'a Item,
    pub from: &'a State,
    pub to: &'a State,
    pub outcome: &'a Outcome,
    pub before: &'a FilingRow,
    pub after: &'a FilingRow,
    pub clocks: &'a Clocks,
    pub reason: Option<&'a str>,
    pub opinion: Option<&'a str>,
    /// Materials on file now, by code (for 容缺 promises still open).
    pub materials_on_file: &'a dyn Fn(&str) -> bool,
    /// The applicant, when their account is active (read with the action's facts).
    pub applicant: Option<&'a Recipient>,
    /// Whether any deadline on the applicant was open before the action.
    pub open_deadlines: bool,
}

/// What an action tells the applicant, and the deadlines on them it ends and starts: parts of
/// the action's plan, written with it.
#[derive(Debug, Default)]
pub struct ActionMail {
    pub letter: Option<outbox::OwnedMail>,
    pub close_deadlines: Option<Closing>,
    pub open_deadlines: Vec<OpenDeadline>,
}

/// Tell the applicant about an action and open or close the deadlines it starts or ends.
pub fn after_action(
    mail: &MailContext,
    cal: &Calendar,
    now: DateTime<Utc>,
    today: NaiveDate,
    a: &ActionFacts<'_>,
) -> Result<ActionMail, AppError> {
    let mut out = ActionMail::default();
    let def = &a.item.def;
    let first_submission = a.before.submitted_at.is_none();
    if let Some(event) = notify::applicant_event(def, a.from, a.to, a.outcome, first_submission)
        && let Some(to) = a.applicant.cloned()
    {
        let notice: Option<Notice> = a.outcome.effects.iter().find_map(|e| match e {
            Effect::IssueNotice(n) => Some(n.clone()),
            _ => None,
        });
        let empty: Vec<Problem> = Vec::new();
        let empty_items: Vec<String> = Vec::new();
        let suspend_reason = a.outcome.effects.iter().find_map(|e| match e {
            Effect::Clock(ClockChange::Suspend { reason }) => Some(*reason),
            _ => None,
        });
        let s = &a.clocks.statutory;
        let entered = a.outcome.changes_state().then_some(a.to.code.as_str());
        let documents: Vec<Text> = def
            .documents_on(&a.outcome.action, entered)
            .map(crate::services::documents::title_of)
            .collect();
        let detail = EventDetail {
            documents: &documents,
            statutory_due: s.due_on,
            promised_due: a.clocks.promised.as_ref().and_then(|p| p.due_on),
            remaining_working_days: s.started_on.map(|_| s.remaining),
            suspend_reason,
            notice_problems: notice.as_ref().map_or(&empty, |n| &n.problems),
            notice_items: notice.as_ref().map_or(&empty_items, |n| &n.items),
            reason: a.reason,
            opinion: a.opinion,
            approved: a.to.kind == StateKind::Approved,
            clock_from_receipt: s.started_on.is_some()
                && !a
                    .outcome
                    .effects
                    .contains(&Effect::Clock(ClockChange::Start)),
        };
        let facts = FilingFacts {
            number: a.after.number.as_deref(),
            item: &def.name,
            state: &a.to.label,
            url: mail.filing_url(a.after.id),
        };
        let letter =
            letters::applicant_event(to.lang, &to.name, &mail.authority, event, &facts, &detail);
        let key = format!("{}:{}:v{}", event.as_str(), a.after.id, a.after.version);
        let kind = format!("applicant.{}", event.as_str());
        out.letter = render(mail, now, key, &kind, Some(a.after.id), &to, &letter)?;
    }

    if a.outcome.changes_state() {
        // Leaving a state ends the deadlines bound to that visit (a rectification period ends
        // with the re-check request); a filing closed without approval ends all of them.
        // (One closing or the other: two parts of one statement must not change one row.)
        out.close_deadlines = a.open_deadlines.then(|| {
            if a.to.kind.is_final() && a.to.kind != StateKind::Approved {
                Closing::All
            } else {
                Closing::Visit(a.before.state_visit)
            }
        });
        for d in def.deadlines.iter().filter(|d| d.on_entering == a.to.code) {
            let due = notify::period_end(cal, today, d.within).map_err(calendar)?;
            out.open_deadlines.push(OpenDeadline {
                deadline: new_deadline(
                    cal,
                    today,
                    a.after.id,
                    &d.code,
                    due.value,
                    d.ends_on_leaving.then_some(a.after.state_visit),
                    &d.remind_before,
                )
                .map(|n| NewDeadline {
                    expires_with: d.on_expiry.clone(),
                    ..n
                })?,
                after_closing: out.close_deadlines.is_some(),
            });
        }
    }
    // 容缺: accepted with a material missing on a promise of a date; remind of the date until
    // the material is on file.
    let accepted = notify::is_acceptance(a.from, a.to, a.outcome);
    if accepted && !def.notifications.promise_reminders.is_empty() {
        for (material, date) in a.after.promise_dates() {
            if !(a.materials_on_file)(&material) {
                out.open_deadlines.push(OpenDeadline {
                    deadline: new_deadline(
                        cal,
                        today,
                        a.after.id,
                        &format!("promise:{material}"),
                        date,
                        None,
                        &def.notifications.promise_reminders,
                    )?,
                    after_closing: false,
                });
            }
        }
    }
    Ok(out)
}

fn calendar(e: crate::domain::calendar::CalendarError) -> AppError {
    AppError::Internal(anyhow::anyhow!("calendar: {e}"))
}

fn new_deadline(
    cal: &Calendar,
    today: NaiveDate,
    filing: Uuid,
    code: &str,
    due: NaiveDate,
    state_visit: Option<i32>,
    leads: &[u32],
) -> Result<NewDeadline, AppError> {
    let days = notify::reminder_days(cal, due, leads).map_err(calendar)?;
    // Reminder days already past when the deadline opens are not sent late; one that is today
    // goes out at the next scan.
    let (next, passed) = notify::next_reminder(&days, today.pred_opt().unwrap_or(today));
    Ok(NewDeadline {
        filing,
        code: code.to_owned(),
        due_on: due,
        state_visit,
        remind_on: days,
        next_remind_on: next,
        reminders_sent: i32::try_from(passed).unwrap_or(i32::MAX),
        expires_with: None,
    })
}

/// An extended deadline with its reminders counted again to its new day (those already past
/// are not sent late).
pub fn extended_deadline(
    cal: &Calendar,
    today: NaiveDate,
    filing: Uuid,
    deadline: &crate::domain::definition::ApplicantDeadline,
    due: NaiveDate,
) -> Result<NewDeadline, AppError> {
    Ok(NewDeadline {
        expires_with: deadline.on_expiry.clone(),
        ..new_deadline(
            cal,
            today,
            filing,
            &deadline.code,
            due,
            None,
            &deadline.remind_before,
        )?
    })
}

/// A promised (容缺) material arrived: its reminders stop.
pub fn material_supplied(
    conn: &mut PgConnection,
    filing: Uuid,
    material: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    reminders::close(
        conn,
        filing,
        &Closing::Code(format!("promise:{material}")),
        now,
    )?;
    Ok(())
}

/// An administrator sends a failed message again: pending, due now, attempts from zero;
/// audited. 409 unless it failed.
pub fn retry_mail(
    conn: &mut PgConnection,
    p: &super::auth::Principal,
    id: i64,
    now: DateTime<Utc>,
) -> Result<outbox::MailRow, AppError> {
    p.require(&[Role::Admin])?;
    let by = p.user_id;
    conn.transaction(|conn| {
        let Some(current) = outbox::find(conn, id)? else {
            return Err(AppError::NotFound);
        };
        let Some(row) = outbox::retry(conn, id, now)? else {
            return Err(AppError::conflict(
                "not_failed",
                "只有发送失败的邮件才能重发",
                "Only a failed message can be sent again",
                serde_json::json!({ "status": current.status }),
            ));
        };
        crate::repo::audit::append(
            conn,
            crate::repo::audit::Event {
                chain: "admin".to_owned(),
                filing_id: None,
                actor_id: Some(by),
                action: "retry_mail",
                at: now,
                payload: serde_json::json!({
                    "outbox_id": id, "kind": row.kind,
                    "last_error": current.last_error, "attempts": current.attempts,
                }),
            },
        )?;
        Ok(row)
    })
}
