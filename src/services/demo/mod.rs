//! The demo office that lives (issue 17 §3): on a database with no filings, the demo
//! environment makes a year of the district's work before the service listens, by driving
//! filings through the real use cases (`filings::create`, `add_material`, `act`, the draw at
//! receipt, the deadline scan, the digest) at simulated times: a `Ctx` whose `now` is the
//! moment of each step. Nothing is written behind the engine's back, so every audit chain
//! verifies, and every document, certificate, letter and report row is the one the engine
//! made.
//!
//! Policy:
//! - **The year.** From the first working day of the year of today (the authority's date) to
//!   yesterday; today is left to the people who sign in. Before March the year before is
//!   taken too (a window of two months would be a thin year): the window then runs from the
//!   first working day of last year to today, and the figures lie in that window rather than
//!   in one calendar year.
//! - **The figures** (LAW.md §8) are those of the bureau's report: 18 permits issued, 32 fire
//!   filings of which 7 drawn, 19 not drawn and 6 open, 5 special design reviews and 3
//!   special acceptances passed, 24 elevator filings (20 filed, some installing or
//!   completed). The fire draw is the service's own, fair and unchosen: general filings are
//!   received in order until 19 were not drawn (whatever the draw selected among them), then
//!   late filings (drawn with certainty, ratio 1/1) top the drawn up to 7. Should the draw
//!   select more than 7 general filings, the year shows that and
//!   the log says so.
//! - **Deterministic**: one seeded RNG (`plan::SEED`) picks names, projects, amounts and
//!   timings; only the draw's outcome and the ids differ from one making to the next.
//! - **Once**: made in one transaction under the demo seeding lock (7012003, as
//!   `seed::demo_users`), after checking again under the lock that no filing exists. Several
//!   instances started at once on an empty database make it once; the others wait and find
//!   it made. A failure leaves nothing half made.
//! - **Reset** (`permits demo reset`): the schema is dropped and made again, then the service
//!   prepares the database and makes the year as on a first start. That is the one way to
//!   remove filings without breaking the audit log's chains and seals (which refuse deletes by
//!   design); accounts registered meanwhile go too.

mod pdf;
pub mod people;
pub mod plan;
mod run;

use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;

use super::Ctx;
use crate::error::AppError;

/// What the office needs besides the use cases' context.
pub struct Setup {
    /// Where uploads are kept (`Settings::upload_dir`).
    pub uploads: PathBuf,
    pub jobs: crate::config::Jobs,
    /// The demo's `"file"` platform: permits issued are delivered there each morning, as the
    /// `platform` job would (none when the platform is an address).
    pub platform_files: Option<PathBuf>,
}

/// What a making made.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Made {
    pub filings: usize,
    /// Actions taken by people (the draw's own are not counted).
    pub actions: usize,
    /// Fire filings drawn for a spot check, and not drawn.
    pub selected: usize,
    pub not_selected: usize,
    pub from: Option<NaiveDate>,
    pub seconds: f64,
}

/// The seeding lock of `seed::demo_users`: the office and the demo users are made one
/// instance at a time.
const DEMO_SEED_LOCK: i64 = 7_012_003;

/// The first day of the demo year for `today` (see the module's policy).
pub fn first_day(calendar: &crate::domain::calendar::Calendar, today: NaiveDate) -> NaiveDate {
    let year = if today.month() < 3 {
        today.year() - 1
    } else {
        today.year()
    };
    let mut d = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today);
    while d < today && !working(calendar, d) {
        d = d.succ_opt().unwrap_or(today);
    }
    d
}

/// A working day by the calendar; outside the years it knows, Monday to Friday.
fn working(calendar: &crate::domain::calendar::Calendar, d: NaiveDate) -> bool {
    calendar
        .is_working(d)
        .unwrap_or_else(|_| d.weekday().num_days_from_monday() < 5)
}

/// The working days of the demo year, today excluded.
pub fn working_days(
    calendar: &crate::domain::calendar::Calendar,
    today: NaiveDate,
) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = first_day(calendar, today);
    while d < today {
        if working(calendar, d) {
            out.push(d);
        }
        let Some(next) = d.succ_opt() else { break };
        d = next;
    }
    out
}

/// Make the demo year if the database holds no filing (see the module's policy). `ctx.now` is
/// the service's time: the year runs up to the day before, and the jobs run at it. `None`:
/// filings exist (made by another instance, or real work), nothing was made.
pub fn make_if_empty(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    setup: &Setup,
) -> Result<Option<Made>, AppError> {
    if any_filing(conn)? {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let made = conn.transaction(|conn| -> Result<Option<Made>, AppError> {
        // An instance waits here as long as another takes to make the year, longer than a
        // request's statement timeout: this transaction alone may wait.
        diesel::sql_query("SET LOCAL statement_timeout = 0").execute(conn)?;
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(DEMO_SEED_LOCK)
            .execute(conn)?;
        // Again under the lock: another instance may have made it while this one waited.
        if any_filing(conn)? {
            return Ok(None);
        }
        people::create_applicants(conn, ctx.now)?;
        let days = working_days(ctx.calendar, ctx.today());
        let from = days.first().copied();
        let mut made = run::year(conn, ctx, setup, days)?;
        made.from = from;
        Ok(Some(made))
    })?;
    Ok(made.map(|mut m| {
        m.seconds = started.elapsed().as_secs_f64();
        tracing::info!(
            filings = m.filings,
            actions = m.actions,
            selected = m.selected,
            not_selected = m.not_selected,
            "demo office: {} filings, {} actions in {:.1} s",
            m.filings,
            m.actions,
            m.seconds
        );
        m
    }))
}

/// Whether any filing exists (a draft included).
fn any_filing(conn: &mut PgConnection) -> Result<bool, AppError> {
    use crate::db::schema::filings;
    Ok(diesel::select(diesel::dsl::exists(filings::table.select(filings::id))).get_result(conn)?)
}

/// Drop the schema with everything in it and make it again, empty (the demo's reset: the
/// audit log refuses deletes, so its chains go with the schema rather than row by row).
pub fn drop_everything(conn: &mut PgConnection) -> Result<(), AppError> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_demo_year_starts_on_the_year_s_first_working_day_or_last_year_s_before_march() {
        let cn = crate::domain::calendar::seed_cn();
        // 2026: 1–3 January off, Sunday 4 January a make-up working day.
        assert_eq!(first_day(cn, day("2026-12-04")), day("2026-01-04"));
        assert_eq!(first_day(cn, day("2026-03-02")), day("2026-01-04"));
        // Before March, the year before as well.
        assert_eq!(first_day(cn, day("2026-02-27")), day("2025-01-02"));
        let days = working_days(cn, day("2026-12-04"));
        assert_eq!(days.first(), Some(&day("2026-01-04")));
        assert_eq!(days.last(), Some(&day("2026-12-03")));
        assert!(days.iter().all(|d| cn.is_working(*d).unwrap()));
    }
}
