//! The outbox's two use cases around a send: claim the due rows for a sender, and record what
//! the sending did. The sending itself happens between them, outside any transaction
//! ([`crate::mail::Mailer::send_all`]); the outbox job strings the three together.
//!
//! Exactly-once is impossible over SMTP; this gives at-least-once with a bounded window. A
//! sender that dies after the server accepted a message and before marking it sent leaves the
//! row claimed; when the lease ends another sender sends it again. The copy carries the same
//! Message-ID (assigned when the row was written), so mail clients and relays that de-duplicate
//! on it show it once. Rows are never sent twice otherwise: claims are exclusive
//! (`FOR UPDATE SKIP LOCKED`) and a row is sent only within its lease.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use rand::Rng;
use serde::Serialize;

use super::Ctx;
use crate::config::Mail;
use crate::error::AppError;
use crate::mail::{Outgoing, SendError};
use crate::repo::outbox;

#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxReport {
    pub claimed: usize,
    pub sent: usize,
    /// Failed this time, to be tried again later.
    pub retrying: usize,
    /// Failed for good (a permanent refusal, or the last attempt): parked for an administrator.
    pub parked: usize,
    /// Claimed but not sent because the lease was running out (sent at the next claim).
    pub left: usize,
}

/// A claimed row, ready to leave, with the attempts made so far (this one included).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub mail: Outgoing,
    pub attempts: i32,
}

/// The result of trying one claimed row.
#[derive(Debug)]
pub struct Attempt {
    pub id: i64,
    pub attempts: i32,
    pub result: Result<String, SendError>,
}

/// How long a claim lasts.
pub fn lease(mail: &Mail) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(mail.lease_seconds).unwrap_or(i64::MAX / 2))
}

/// The wait before attempt `attempts + 1`: base × 2^(attempts-1), at most the maximum, times a
/// random factor in [0.5, 1.5) so that senders that failed together do not retry together.
pub fn backoff(mail: &Mail, attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = mail
        .backoff_base_seconds
        .saturating_mul(1u64 << exp)
        .min(mail.backoff_max_seconds);
    let jitter: f64 = rand::rng().random_range(0.5..1.5);
    chrono::Duration::milliseconds((base as f64 * 1000.0 * jitter) as i64)
}

/// Claim a batch of due rows for the sender `instance`, for one lease.
pub fn claim(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    mail: &Mail,
    instance: &str,
) -> Result<Vec<Claimed>, AppError> {
    let rows = outbox::claim(
        conn,
        ctx.now,
        lease(mail),
        i64::from(mail.batch_size),
        instance,
    )?;
    rows.into_iter()
        .map(|row| {
            let (text, html) = row
                .parts()
                .map_err(|e| AppError::Internal(anyhow::anyhow!("outbox row {}: {e}", row.id)))?;
            Ok(Claimed {
                attempts: row.attempts,
                mail: Outgoing {
                    id: row.id,
                    to: row.to_address,
                    subject: row.subject,
                    text,
                    html,
                    message_id: row.message_id,
                },
            })
        })
        .collect()
}

/// Record what happened: sent rows in one statement, failures one by one.
pub fn record(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    mail: &Mail,
    attempts: Vec<Attempt>,
) -> Result<OutboxReport, AppError> {
    let mut report = OutboxReport::default();
    let mut sent = Vec::new();
    for a in attempts {
        match a.result {
            Ok(response) => sent.push((a.id, response)),
            Err(e) => {
                let last = u32::try_from(a.attempts).unwrap_or(u32::MAX) >= mail.max_attempts;
                let retry_at: Option<DateTime<Utc>> = if e.is_permanent() || last {
                    report.parked += 1;
                    None
                } else {
                    report.retrying += 1;
                    Some(ctx.now + backoff(mail, a.attempts))
                };
                tracing::warn!(outbox = a.id, attempts = a.attempts, error = %e, parked = retry_at.is_none(), "sending mail failed");
                outbox::mark_failed(conn, a.id, &e.to_string(), retry_at)?;
            }
        }
    }
    report.sent = outbox::mark_sent(conn, &sent, ctx.now)?;
    Ok(report)
}

/// Give back the rows `instance` claimed and has not tried (on the way out, after its sends
/// ended), so that another instance sends them now rather than when the lease ends.
pub fn release(conn: &mut PgConnection, ctx: &Ctx<'_>, instance: &str) -> Result<usize, AppError> {
    Ok(outbox::release(conn, instance, ctx.now)?)
}

/// Which outgoing mail to list: by status and filing, newest first, after a keyset cursor.
pub struct MailFilter {
    pub status: Option<crate::domain::notify::MailStatus>,
    pub filing: Option<uuid::Uuid>,
    /// Messages with a smaller id.
    pub before: Option<i64>,
    pub limit: i64,
}

pub use crate::repo::outbox::MailRow;

/// Outgoing mail (administrators). Failed messages carry the last error.
pub fn list(
    conn: &mut PgConnection,
    p: &super::auth::Principal,
    f: &MailFilter,
) -> Result<Vec<MailRow>, AppError> {
    p.require(&[crate::domain::definition::Role::Admin])?;
    Ok(outbox::list(conn, f.status, f.filing, f.before, f.limit)?)
}

/// How many messages stand in each status.
pub fn counts(
    conn: &mut PgConnection,
) -> Result<Vec<(crate::domain::notify::MailStatus, i64)>, AppError> {
    Ok(outbox::counts(conn)?)
}
