//! The deadline scan's use cases: escalate filings that turned yellow or red to their
//! department's managers, remind applicants of their deadlines, and fold the reports' `open_due`
//! aggregate. The `deadline_scan` job runs them (the escalations and the reminders side by side
//! when the pool has a connection to spare: they lock different rows, `escalations` and
//! `applicant_deadlines`, and neither locks the filings).
//!
//! Each reads what is due from the database with `FOR UPDATE SKIP LOCKED`, writes outbox rows
//! whose keys make them unique, and marks what it did, in one transaction per page: two
//! instances scanning at once take disjoint rows, and a crash rolls a page back whole.

use std::collections::{BTreeMap, HashMap};

use sha2::Digest;

use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::Ctx;
use super::notify::{Recipient, managers_of, render};
use crate::domain::Text;
use crate::domain::definition::Escalation;
use crate::domain::notify;
use crate::error::AppError;
use crate::mail::letters::{self, FilingFacts};
use crate::repo::reminders;

/// Rows handled per transaction.
pub(super) const PAGE: i64 = 200;

#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ScanReport {
    /// Today is not a working day and reminders go out on working days only.
    pub rest_day: bool,
    pub yellow_filings: usize,
    pub red_filings: usize,
    pub reminders: usize,
    /// Messages written to the outbox.
    pub mails: usize,
    /// Rows of the `open_due` aggregate after folding (one per item and due day).
    pub open_due_rows: i64,
    /// Deadlines that passed and moved their filings.
    pub expired: ExpiryReport,
}

/// Housekeeping for the reports, on every tick and rest days too: fold the `open_due`
/// aggregate (one row per item and due day). The rows left.
pub fn fold_open_due(conn: &mut PgConnection) -> Result<i64, AppError> {
    Ok(crate::repo::reports::compact_open_due(conn)?)
}

/// Cards to managers for filings that turned red or yellow, a page at a time.
pub fn escalate(conn: &mut PgConnection, ctx: &Ctx<'_>) -> Result<ScanReport, AppError> {
    let mut report = ScanReport::default();
    let today = ctx.today();
    let mut managers: HashMap<String, Vec<Recipient>> = HashMap::new();
    // Red first: a filing both past its due day and never warned gets the red card alone.
    for level in [Escalation::Red, Escalation::Yellow] {
        loop {
            let (n, mails) = conn.transaction::<_, AppError, _>(|conn| {
                let rows = match level {
                    Escalation::Red => reminders::turned_red(conn, today, PAGE)?,
                    Escalation::Yellow => reminders::turned_yellow(conn, today, PAGE)?,
                };
                // The page's filings by department, each with what its card says.
                let mut by_dept: BTreeMap<String, Vec<(Uuid, letters::CardLine, Text)>> =
                    BTreeMap::new();
                for f in &rows {
                    let item = ctx.items.by_id(conn, f.item_version_id)?;
                    if !item.def.notifications.managers.contains(&level) {
                        continue;
                    }
                    let state = item
                        .def
                        .state(&f.state)
                        .map(|s| s.label.clone())
                        .unwrap_or_else(|| plain(&f.state));
                    by_dept.entry(f.department.clone()).or_default().push((
                        f.id,
                        letters::CardLine {
                            number: f.number.clone().unwrap_or_default(),
                            item: item.def.name.clone(),
                            state,
                            due: f.due_on,
                        },
                        item.def.name.clone(),
                    ));
                }
                let mut out = Vec::new();
                let kind = format!("manager.{}", level.as_str());
                for (dept, cards) in &by_dept {
                    if !managers.contains_key(dept) {
                        let m = managers_of(conn, dept)?;
                        managers.insert(dept.clone(), m);
                    }
                    // What makes the letter unique: the filings and due days it tells of.
                    let mut told: Vec<String> = cards
                        .iter()
                        .map(|(id, c, _)| format!("{id}@{}", c.due))
                        .collect();
                    told.sort();
                    let digest = hex::encode(sha2::Sha256::digest(told.join(",").as_bytes()));
                    for m in managers.get(dept).into_iter().flatten() {
                        let (letter, filing) = match cards.as_slice() {
                            [(id, c, name)] => {
                                let facts = FilingFacts {
                                    number: Some(c.number.as_str()).filter(|n| !n.is_empty()),
                                    item: name,
                                    state: &c.state,
                                    url: ctx.mail.filing_url(*id),
                                };
                                let l = letters::escalation(
                                    m.lang,
                                    &m.name,
                                    &ctx.mail.authority,
                                    level,
                                    c.due,
                                    &facts,
                                );
                                (l, Some(*id))
                            }
                            _ => {
                                let lines: Vec<letters::CardLine> =
                                    cards.iter().map(|(_, c, _)| c.clone()).collect();
                                let l = letters::escalations(
                                    m.lang,
                                    &m.name,
                                    &ctx.mail.authority,
                                    level,
                                    &lines,
                                    ctx.mail.dashboard_url(),
                                );
                                (l, None)
                            }
                        };
                        let key = format!("{}:{}:{}", level.as_str(), m.id, &digest[..32]);
                        out.extend(render(ctx.mail, ctx.now, key, &kind, filing, m, &letter)?);
                    }
                }
                // One statement for the page's letters, in the transaction that marks them.
                let mails = crate::repo::outbox::insert_many(conn, &out)?;
                let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
                reminders::mark_escalated(conn, &ids, level == Escalation::Red)?;
                Ok((rows.len(), mails))
            })?;
            match level {
                Escalation::Red => report.red_filings += n,
                Escalation::Yellow => report.yellow_filings += n,
            }
            report.mails += mails;
            if i64::try_from(n).unwrap_or(i64::MAX) < PAGE {
                break;
            }
        }
    }
    Ok(report)
}

/// Reminders to applicants of their deadlines, a page at a time.
pub fn remind(conn: &mut PgConnection, ctx: &Ctx<'_>) -> Result<ScanReport, AppError> {
    let mut report = ScanReport::default();
    let today = ctx.today();
    loop {
        let (n, mails) = conn.transaction::<_, AppError, _>(|conn| {
            let rows = reminders::due_with_applicants(conn, today, PAGE)?;
            let mut out = Vec::new();
            let mut advanced = Vec::with_capacity(rows.len());
            for d in &rows {
                let days: Vec<_> = d.remind_on.iter().flatten().copied().collect();
                let (next, passed) = notify::next_reminder(&days, today);
                let sent = i32::try_from(passed).unwrap_or(i32::MAX);
                advanced.push((d.id, sent, next));
                if !d.active {
                    continue;
                }
                let to = Recipient {
                    id: d.applicant_id,
                    email: d.email.clone(),
                    lang: d.lang,
                    name: d.display_name.clone(),
                };
                let item = ctx.items.by_id(conn, d.item_version_id)?;
                let what = deadline_label(&item.def, &d.code);
                let state = item
                    .def
                    .state(&d.state)
                    .map(|s| s.label.clone())
                    .unwrap_or_else(|| plain(&d.state));
                let facts = FilingFacts {
                    number: d.number.as_deref(),
                    item: &item.def.name,
                    state: &state,
                    url: ctx.mail.filing_url(d.filing_id),
                };
                let letter = letters::applicant_reminder(
                    to.lang,
                    &to.name,
                    &ctx.mail.authority,
                    &what,
                    d.due_on,
                    today,
                    &facts,
                );
                // One reminder per (filing, deadline, reminder day).
                let key = format!("reminder:{}:{}:{}:{}", d.filing_id, d.code, d.due_on, sent);
                out.extend(render(
                    ctx.mail,
                    ctx.now,
                    key,
                    "applicant.reminder",
                    Some(d.filing_id),
                    &to,
                    &letter,
                )?);
            }
            reminders::advance_many(conn, &advanced)?;
            let mails = crate::repo::outbox::insert_many(conn, &out)?;
            Ok((rows.len(), mails))
        })?;
        report.reminders += n;
        report.mails += mails;
        if i64::try_from(n).unwrap_or(i64::MAX) < PAGE {
            break;
        }
    }
    Ok(report)
}

pub(super) fn plain(s: &str) -> Text {
    Text {
        zh: s.to_owned(),
        en: s.to_owned(),
    }
}

fn deadline_label(def: &crate::domain::definition::Definition, code: &str) -> Text {
    if let Some(material) = code.strip_prefix("promise:") {
        let m = def
            .material(material)
            .map(|m| m.label.clone())
            .unwrap_or_else(|| plain(material));
        return Text {
            zh: format!("承诺补交「{}」", m.zh),
            en: format!("supplying the promised {}", m.en),
        };
    }
    def.deadlines
        .iter()
        .find(|d| d.code == code)
        .map(|d| d.label.clone())
        .unwrap_or_else(|| plain(code))
}

/// What the expiry of deadlines did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ExpiryReport {
    /// Filings the service moved (a permit lapsed), by number or id.
    pub moved: Vec<String>,
    /// Deadlines whose action was refused or raced, with why: tried again at the next scan.
    pub failed: Vec<String>,
}

/// Deadlines that passed still open and that the item ends by an action of the service's own
/// (`on_expiry`: a permit whose works did not start and were not extended lapses, 废止): take
/// it, as `system`, one filing per transaction, audited like any action, and the applicant told
/// as the item says. A deadline's day itself is still within it: it expires the day after.
pub fn expire(conn: &mut PgConnection, ctx: &Ctx<'_>) -> Result<ExpiryReport, AppError> {
    let system = super::auth::Principal::system();
    let today = ctx.today();
    let mut report = ExpiryReport::default();
    let mut after = None;
    loop {
        let page = reminders::expired(conn, today, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some((last.due_on, last.id));
        for d in &page {
            let Some(action) = d.expires_with.as_deref() else {
                continue;
            };
            let Some(row) = crate::repo::filings::find(conn, d.filing_id)? else {
                continue;
            };
            let input = super::filings::ActInput::default();
            match super::filings::act(conn, ctx, &system, row.id, action, row.version, &input) {
                Ok(view) => report
                    .moved
                    .push(view.number.unwrap_or_else(|| row.id.to_string())),
                Err(
                    e @ (AppError::Conflict { .. } | AppError::Validation(_) | AppError::Forbidden),
                ) => {
                    tracing::warn!(filing = %row.id, deadline = %d.code, action, error = %e, "expiry not taken");
                    report.failed.push(format!("{}: {e}", row.id));
                }
                Err(e) => return Err(e),
            }
        }
        if page.len() < usize::try_from(PAGE).unwrap_or(usize::MAX) {
            break;
        }
    }
    Ok(report)
}
