//! The service's clock, as administrators see and move it (demo and test environments only:
//! production refuses the manual clock).

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Serialize;

use super::auth::Principal;
use crate::clock::{Clock, ManualClock};
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::repo::audit::{self, Event};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockState {
    pub now: DateTime<Utc>,
    /// `manual` in the demo and test environments; production refuses it.
    pub mode: String,
}

/// How to move the clock: to an instant, or forward by days and hours.
pub enum Move {
    To(DateTime<Utc>),
    Forward { days: u32, hours: u32 },
}

/// The clock now (administrators).
pub fn state(
    p: &Principal,
    now: DateTime<Utc>,
    manual: Option<&ManualClock>,
) -> Result<ClockState, AppError> {
    p.require(&[Role::Admin])?;
    Ok(ClockState {
        now,
        mode: if manual.is_some() { "manual" } else { "system" }.into(),
    })
}

/// Move the manual clock (administrators), audited in the admin chain with where it was and
/// where it went. 409 when the clock is the system's, whatever was asked; `how` is the
/// request as read (its problems are told only to someone who may move the clock).
pub fn move_clock(
    conn: &mut PgConnection,
    p: &Principal,
    manual: Option<&ManualClock>,
    how: Result<Move, AppError>,
) -> Result<ClockState, AppError> {
    p.require(&[Role::Admin])?;
    let Some(manual) = manual else {
        return Err(AppError::conflict(
            "system_clock",
            "本环境使用系统时钟，不能调整",
            "This environment uses the system clock; it cannot be moved",
            serde_json::json!({}),
        ));
    };
    let how = how?;
    let before = manual.now();
    match how {
        Move::To(t) => manual.set(t),
        Move::Forward { days, hours } => {
            let days = i64::from(days.min(3650));
            let hours = i64::from(hours.min(24 * 3650));
            manual.advance(chrono::Duration::days(days) + chrono::Duration::hours(hours));
        }
    }
    let after = manual.now();
    audit::append(
        conn,
        Event {
            chain: "admin".to_owned(),
            filing_id: None,
            actor_id: Some(p.user_id),
            action: "move_clock",
            at: after,
            payload: serde_json::json!({ "from": before, "to": after }),
        },
    )?;
    Ok(ClockState {
        now: after,
        mode: "manual".into(),
    })
}
