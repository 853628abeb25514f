//! Use cases. Each public function is one transaction over `repo` and `domain`; handlers call
//! exactly one of them inside one `web::block`.

pub mod audit;
pub mod auth;
pub mod calendars;
pub mod deadlines;
pub mod filings;
pub mod items;
pub mod notify;
pub mod queues;
pub mod reports;
pub mod seed;
