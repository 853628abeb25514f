//! The clerks' digest: each member of queue staff gets the day's work list once a day.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use serde::Serialize;

use super::Ctx;
use super::notify::{Recipient, enqueue};
use super::scan::plain;
use crate::config::Jobs;
use crate::domain::Text;
use crate::error::AppError;
use crate::mail::letters::{self, DigestLine};
use crate::repo::tasks;

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
    if ctx.is_rest_day(jobs)? {
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
            lang: u.lang,
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
