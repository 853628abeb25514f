//! Use cases. Each public function is one transaction over `repo` and `domain`; handlers call
//! exactly one of them inside one `web::block`.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod calendars;
pub mod clock;
pub mod deadlines;
pub mod demo;
pub mod digest;
pub mod documents;
pub mod draw;
pub mod exchange;
pub mod filings;
pub mod items;
pub mod job_runs;
pub mod notify;
pub mod outbox;
pub mod paging;
pub mod queues;
pub mod reports;
pub mod scan;
pub mod seed;
pub mod staff;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::clock::local_date;
use crate::domain::calendar::Calendar;
use items::Registry;

/// What a use case needs besides its arguments.
pub struct Ctx<'a> {
    pub items: &'a Registry,
    /// The authority's working-day calendar.
    pub calendar: &'a Calendar,
    pub now: DateTime<Utc>,
    pub offset: FixedOffset,
    /// Sender, links and signature of the mail this use case writes into the outbox.
    pub mail: &'a notify::MailContext,
    /// Who issues and seals documents.
    pub issuer: &'a documents::Issuer,
}

impl Ctx<'_> {
    pub fn today(&self) -> NaiveDate {
        local_date(self.now, self.offset)
    }

    /// Today is not a working day and `jobs.working_days_only` keeps letters to working days.
    pub fn is_rest_day(&self, jobs: &crate::config::Jobs) -> Result<bool, crate::error::AppError> {
        if !jobs.working_days_only {
            return Ok(false);
        }
        let working = self
            .calendar
            .is_working(self.today())
            .map_err(|e| crate::error::AppError::Internal(anyhow::anyhow!("calendar: {e}")))?;
        Ok(!working)
    }
}
