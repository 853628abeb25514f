//! The outbox sender: claim due rows, send them outside any transaction, record the outcome.
//!
//! Exactly-once is impossible over SMTP; this gives at-least-once with a bounded window. A
//! sender that dies after the server accepted a message and before marking it sent leaves the
//! row claimed; when the lease ends another sender sends it again. The copy carries the same
//! Message-ID (assigned when the row was written), so mail clients and relays that de-duplicate
//! on it show it once. Rows are never sent twice otherwise: claims are exclusive
//! (`FOR UPDATE SKIP LOCKED`) and a row is sent only within its lease.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream;
use lettre::message::Mailbox;
use rand::Rng;
use serde::Serialize;

use crate::config::Mail;
use crate::error::AppError;
use crate::mail::{Outgoing, SendError};
use crate::repo::outbox::{self, MailRow};
use crate::web::AppState;

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

/// The result of trying one row.
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

/// Claim a batch of due rows for this instance.
pub async fn claim(state: &AppState) -> Result<Vec<MailRow>, AppError> {
    let mail = &state.settings.mail;
    let lease = lease(mail);
    let batch = i64::from(mail.batch_size);
    let instance = state.instance.clone();
    state
        .run(move |conn, ctx| Ok(outbox::claim(conn, ctx.now, lease, batch, &instance)?))
        .await
}

/// Send claimed rows, `pool_size` at a time. A row whose lease is about to end is left alone:
/// another sender may claim it, and two sends must not overlap.
pub async fn send(state: &AppState, rows: Vec<MailRow>, claimed_at: Instant) -> Vec<Attempt> {
    let mail = &state.settings.mail;
    let from: Mailbox = match mail.from.parse() {
        Ok(m) => m,
        Err(e) => {
            // Settings::validate checks this at start; keep the rows for a fixed configuration.
            tracing::error!(error = %e, "mail.from is not a mailbox");
            return Vec::new();
        }
    };
    let timeout = Duration::from_secs(mail.timeout_seconds);
    let usable = Duration::from_secs(mail.lease_seconds).saturating_sub(timeout);
    let mailer = state.mailer.clone();
    stream::iter(rows)
        .map(|row| {
            let from = from.clone();
            let mailer = mailer.clone();
            async move {
                if claimed_at.elapsed() > usable {
                    return None;
                }
                let out = Outgoing {
                    id: row.id,
                    to: row.to_address,
                    subject: row.subject,
                    text: row.body_text,
                    html: row.body_html,
                    message_id: row.message_id,
                };
                let result = mailer.send(&from, &out).await;
                Some(Attempt {
                    id: row.id,
                    attempts: row.attempts,
                    result,
                })
            }
        })
        .buffer_unordered(mail.pool_size.max(1) as usize)
        .filter_map(|a| async move { a })
        .collect()
        .await
}

/// Record what happened: sent rows in one statement, failures one by one.
pub async fn record(state: &AppState, attempts: Vec<Attempt>) -> Result<OutboxReport, AppError> {
    let mail = state.settings.mail.clone();
    state
        .run(move |conn, ctx| {
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
                            Some(ctx.now + backoff(&mail, a.attempts))
                        };
                        tracing::warn!(outbox = a.id, attempts = a.attempts, error = %e, parked = retry_at.is_none(), "sending mail failed");
                        outbox::mark_failed(conn, a.id, &e.to_string(), retry_at)?;
                    }
                }
            }
            report.sent = outbox::mark_sent(conn, &sent, ctx.now)?;
            Ok(report)
        })
        .await
}

/// Send everything due, batch after batch, until nothing is due.
pub async fn send_due(state: &AppState) -> Result<OutboxReport, AppError> {
    let batch = state.settings.mail.batch_size as usize;
    let mut total = OutboxReport::default();
    loop {
        let claimed_at = Instant::now();
        let rows = claim(state).await?;
        let n = rows.len();
        if n == 0 {
            break;
        }
        let attempts = send(state, rows, claimed_at).await;
        let tried = attempts.len();
        let r = record(state, attempts).await?;
        total.claimed += n;
        total.sent += r.sent;
        total.retrying += r.retrying;
        total.parked += r.parked;
        total.left += n - tried;
        if n < batch || tried < n {
            break;
        }
    }
    Ok(total)
}
