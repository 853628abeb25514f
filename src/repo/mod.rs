//! Diesel queries. Every function takes `&mut PgConnection`, never the pool, so that callers
//! compose them inside one transaction. Rows, inserts and changes are separate structs.

pub mod actions;
pub mod audit;
pub mod calendars;
pub mod documents;
pub mod draws;
pub mod exchange;
pub mod filings;
pub mod items;
pub mod jobs;
pub mod metrics;
pub mod outbox;
pub mod reminders;
pub mod reports;
pub mod tasks;
pub mod users;
