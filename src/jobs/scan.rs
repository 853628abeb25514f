//! The deadline scan, the clerks' digest and the release of stale claims: plain functions on a
//! connection, run by the scheduler, by `permits jobs run NAME` and by the tests.
//!
//! Each reads what is due from the database with `FOR UPDATE SKIP LOCKED`, writes outbox rows
//! whose keys make them unique, and marks what it did, in one transaction per page: two
//! instances scanning at once take disjoint rows, and a crash rolls a page back whole.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::Digest;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::config::Jobs;
use crate::domain::Text;
use crate::domain::definition::Escalation;
use crate::domain::notify;
use crate::error::AppError;
use crate::mail::letters::{self, DigestLine, FilingFacts};
use crate::repo::audit::{self, Event};
use crate::repo::reminders;
use crate::repo::tasks;
use crate::services::filings::Ctx;
use crate::services::notify::{Recipient, enqueue, managers_of, render};

/// Rows handled per transaction.
const PAGE: i64 = 200;

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
}

fn is_rest_day(ctx: &Ctx<'_>, jobs: &Jobs) -> Result<bool, AppError> {
    if !jobs.working_days_only {
        return Ok(false);
    }
    let working = ctx
        .calendar
        .is_working(ctx.today())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("calendar: {e}")))?;
    Ok(!working)
}

/// Fold the reports' `open_due` aggregate, escalate filings that turned red or yellow to their
/// department's managers, and remind applicants of their deadlines. Given a second connection, the reminders run on it in a
/// thread of their own beside the escalations: the two lock different rows (`escalations` and
/// `applicant_deadlines`; neither locks the filings), and each page is its own transaction
/// either way.
pub fn deadline_scan(
    conn: &mut PgConnection,
    second: Option<&mut PgConnection>,
    ctx: &Ctx<'_>,
    jobs: &Jobs,
) -> Result<ScanReport, AppError> {
    // Housekeeping for the reports, every tick, rest days too.
    let open_due_rows = crate::repo::reports::compact_open_due(conn)?;
    if is_rest_day(ctx, jobs)? {
        return Ok(ScanReport {
            rest_day: true,
            open_due_rows,
            ..ScanReport::default()
        });
    }
    let (escalated, reminded) = match second {
        Some(other) => std::thread::scope(|s| {
            let reminders = s.spawn(|| remind(other, ctx));
            let escalated = escalate(conn, ctx);
            let reminded = reminders
                .join()
                .unwrap_or_else(|_| Err(AppError::Internal(anyhow::anyhow!("reminders panicked"))));
            (escalated, reminded)
        }),
        None => (escalate(conn, ctx), remind(conn, ctx)),
    };
    let (escalated, reminded) = (escalated?, reminded?);
    Ok(ScanReport {
        rest_day: false,
        yellow_filings: escalated.yellow_filings,
        red_filings: escalated.red_filings,
        reminders: reminded.reminders,
        mails: escalated.mails + reminded.mails,
        open_due_rows,
    })
}

/// Cards to managers for filings that turned red or yellow, a page at a time.
fn escalate(conn: &mut PgConnection, ctx: &Ctx<'_>) -> Result<ScanReport, AppError> {
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
fn remind(conn: &mut PgConnection, ctx: &Ctx<'_>) -> Result<ScanReport, AppError> {
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
                    lang: if d.lang == "en" {
                        crate::domain::Lang::En
                    } else {
                        crate::domain::Lang::Zh
                    },
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

fn plain(s: &str) -> Text {
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

#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct DigestReport {
    pub rest_day: bool,
    pub staff: usize,
    pub mails: usize,
}

/// Lines per digest; the rest are counted.
const DIGEST_LINES: usize = 50;

/// Each member of queue staff with an email address gets one digest a day: what they have
/// claimed, and what waits unclaimed in their department for their roles and is due soon.
pub fn digest(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    jobs: &Jobs,
) -> Result<DigestReport, AppError> {
    let mut report = DigestReport::default();
    if is_rest_day(ctx, jobs)? {
        report.rest_day = true;
        return Ok(report);
    }
    let today = ctx.today();
    let horizon = ctx
        .calendar
        .add_working_days(today, jobs.digest_horizon_working_days)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("calendar: {e}")))?
        .value;
    let staff = crate::repo::users::queue_staff(conn)?;
    let mut people: Vec<(crate::repo::users::UserRow, BTreeSet<String>)> = Vec::new();
    for (u, role) in staff {
        match people.last_mut() {
            Some((last, roles)) if last.id == u.id => {
                roles.insert(role);
            }
            _ => people.push((u, BTreeSet::from([role]))),
        }
    }
    report.staff = people.len();
    if people.is_empty() {
        return Ok(report);
    }
    let work = tasks::for_digest(conn, horizon)?;
    let mut labels: HashMap<(i32, String), (Text, Text, bool)> = HashMap::new();
    for t in &work {
        let key = (t.item_version_id, t.state.clone());
        if let std::collections::hash_map::Entry::Vacant(slot) = labels.entry(key) {
            let item = ctx.items.by_id(conn, t.item_version_id)?;
            let state = item
                .def
                .state(&t.state)
                .map(|s| s.label.clone())
                .unwrap_or_else(|| plain(&t.state));
            slot.insert((
                item.def.name.clone(),
                state,
                item.def.notifications.clerk_digest,
            ));
        }
    }
    for (u, roles) in &people {
        let dept = u.department.as_deref().unwrap_or_default();
        let mut lines = Vec::new();
        for t in &work {
            let Some((item, state, wanted)) = labels.get(&(t.item_version_id, t.state.clone()))
            else {
                continue;
            };
            let mine = t.claimed_by == Some(u.id);
            let open_here =
                t.claimed_by.is_none() && t.department == dept && roles.contains(&t.role);
            if *wanted && (mine || open_here) {
                lines.push(DigestLine {
                    number: t.number.clone().unwrap_or_default(),
                    item: item.clone(),
                    state: state.clone(),
                    due: t.due_on,
                    claimed: mine,
                });
            }
        }
        if lines.is_empty() {
            continue;
        }
        let more = lines.len().saturating_sub(DIGEST_LINES);
        lines.truncate(DIGEST_LINES);
        let to = Recipient {
            id: u.id,
            email: u.email.clone(),
            lang: if u.lang == "en" {
                crate::domain::Lang::En
            } else {
                crate::domain::Lang::Zh
            },
            name: u.display_name.clone(),
        };
        let letter = letters::digest(
            to.lang,
            &to.name,
            &ctx.mail.authority,
            today,
            &lines,
            more,
            ctx.mail.queue_url(),
        );
        let key = format!("digest:{}:{today}", u.id);
        if enqueue(
            conn,
            ctx.mail,
            ctx.now,
            &key,
            "staff.digest",
            None,
            &to,
            &letter,
        )? {
            report.mails += 1;
        }
    }
    Ok(report)
}

#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ReleaseReport {
    pub released: usize,
}

/// Return tasks claimed long ago and not acted on to their queue, each release audited.
pub fn release_stale_claims(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    jobs: &Jobs,
) -> Result<ReleaseReport, AppError> {
    let before = ctx.now - chrono::Duration::hours(i64::from(jobs.stale_claim_hours));
    let mut report = ReleaseReport::default();
    loop {
        let n = conn.transaction::<_, AppError, _>(|conn| {
            let stale = tasks::stale_claims(conn, before, PAGE)?;
            for t in &stale {
                tasks::set_claim(conn, t.id, None, None)?;
                audit::append(
                    conn,
                    Event {
                        chain: format!("filing:{}", t.filing_id),
                        filing_id: Some(t.filing_id),
                        actor_id: None,
                        action: "release_stale_claim",
                        at: ctx.now,
                        payload: json!({
                            "task_id": t.id, "role": t.role, "department": t.department,
                            "previous": t.claimed_by, "claimed_at": t.claimed_at,
                            "stale_claim_hours": jobs.stale_claim_hours,
                        }),
                    },
                )?;
            }
            Ok(stale.len())
        })?;
        report.released += n;
        if i64::try_from(n).unwrap_or(i64::MAX) < PAGE {
            break;
        }
    }
    Ok(report)
}
