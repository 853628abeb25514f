//! What the administration page shows at once: accounts, departments, item versions, failed
//! mail, the outbox by status, and the jobs' last runs.

use diesel::PgConnection;

use super::auth::Principal;
use super::job_runs::{self, JobRun};
use super::outbox::{self, MailFilter, MailRow};
use super::paging::PageRequest;
use super::staff::{self, Department, UserSummary};
use crate::domain::definition::Role;
use crate::domain::notify::MailStatus;
use crate::error::AppError;
pub use crate::repo::items::ItemVersionRow as ItemVersion;

pub struct Overview {
    pub users: Vec<UserSummary>,
    pub departments: Vec<Department>,
    pub items: Vec<ItemVersion>,
    /// The latest failed messages (at most 100).
    pub failed: Vec<MailRow>,
    pub outbox: Vec<(MailStatus, i64)>,
    pub jobs: Vec<JobRun>,
}

/// The administration page's data (administrators).
pub fn overview(conn: &mut PgConnection, p: &Principal) -> Result<Overview, AppError> {
    p.require(&[Role::Admin])?;
    Ok(Overview {
        users: staff::users(
            conn,
            p,
            &PageRequest {
                limit: Some(super::paging::MAX_LIMIT),
                ..Default::default()
            },
        )?
        .items,
        departments: staff::departments(conn)?,
        items: crate::repo::items::all(conn)?,
        failed: outbox::list(
            conn,
            p,
            &MailFilter {
                status: Some(MailStatus::Failed),
                filing: None,
                before: None,
                limit: 100,
            },
        )?,
        outbox: outbox::counts(conn)?,
        jobs: job_runs::list(conn, p)?,
    })
}
