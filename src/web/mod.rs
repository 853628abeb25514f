//! HTTP: every route in one place ([`configure`]), the shared state, the auth extractor and the
//! input helpers. Handlers parse input, call one service inside one `web::block`, and shape the
//! output; they hold no business rules.

pub mod api;
pub mod extract;
pub mod pages;
pub mod shape;
pub mod telemetry;

use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use chrono::FixedOffset;
use diesel::PgConnection;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::DbPool;
use crate::error::AppError;
use crate::services::calendars::Calendars;
use crate::services::filings::Ctx;
use crate::services::items::Registry;

/// Shared, immutable after start (the registry loads versions stored by other instances).
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub items: Arc<Registry>,
    pub calendars: Arc<Calendars>,
    pub clock: Arc<dyn Clock>,
    /// Present in the demo and test environments: the clock administrators may move.
    pub manual_clock: Option<Arc<crate::clock::ManualClock>>,
    pub settings: Arc<Settings>,
    pub offset: FixedOffset,
    /// Sender, links and signature of outgoing mail.
    pub mail: Arc<crate::services::notify::MailContext>,
    /// Where the outbox job sends mail.
    pub mailer: Arc<crate::mail::Mailer>,
    /// This process among several on one database (host, pid and a random suffix).
    pub instance: Arc<str>,
    /// As many permits as the pool has connections: use cases wait here, in arrival order,
    /// rather than on a blocking thread inside the pool's checkout, whose wake-ups favour no
    /// one (at 32 clients on 8 connections that unfairness was the tail of the latency).
    pub db_gate: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Today in the authority's time zone, by the service's clock.
    pub fn today(&self) -> chrono::NaiveDate {
        crate::clock::local_date(self.clock.now(), self.offset)
    }

    /// Run one use case on a pooled connection off the async workers. The connection is taken
    /// inside the blocking closure and returned when it ends: never held across an `.await`.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let state = self.clone();
        // No longer than a pool checkout may take: then 503, as when the pool is exhausted.
        let wait = std::time::Duration::from_millis(self.settings.database.checkout_timeout_ms);
        let _turn = tokio::time::timeout(wait, self.db_gate.acquire())
            .await
            .map_err(|_| AppError::Unavailable)?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("the database gate closed: {e}")))?;
        web::block(move || {
            let calendar = state.calendar()?;
            let mut conn = state.pool.get()?;
            let ctx = Ctx {
                items: &state.items,
                calendar: &calendar.calendar,
                now: state.clock.now(),
                offset: state.offset,
                mail: &state.mail,
            };
            f(&mut conn, &ctx)
        })
        .await?
    }
}

impl AppState {
    /// Like [`AppState::run`], for a caller identified by a bearer token: the token is checked
    /// on the use case's connection, in the same blocking call.
    pub async fn run_as<T, F>(&self, who: extract::Bearer, f: F) -> Result<T, AppError>
    where
        F: FnOnce(
                &mut PgConnection,
                &Ctx<'_>,
                &crate::services::auth::Principal,
            ) -> Result<T, AppError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        self.run(move |conn, ctx| {
            let p = crate::services::auth::principal(conn, &who.0, ctx.now)?;
            f(conn, ctx, &p)
        })
        .await
    }

    /// The authority's calendar (a notice loaded meanwhile is picked up on the next request).
    pub fn calendar(&self) -> Result<Arc<crate::services::calendars::RegionCalendar>, AppError> {
        let region = &self.settings.authority.region;
        self.calendars
            .get(region)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no calendar for region {region}")))
    }
}

/// Every route of the service.
///
/// A request goes to the first route whose pattern matches, tried in the order below. A pattern
/// with a `{segment}` is a regular expression run against the path (a static one is a string
/// comparison), so the routes staff and applicants call all day come first: before this order
/// an action's path was tried against six patterns before its own (~4% of the service's CPU
/// per action under load). No two patterns here match the same path, so the order is free.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(api::health::healthz)
        .service(api::health::readyz)
        .service(
            web::scope("/api/v1")
                .service(api::filings::act)
                .service(api::filings::get)
                .service(api::queue::list)
                .service(api::queue::claim_next)
                .service(api::queue::claim)
                .service(api::queue::release)
                .service(api::filings::list)
                .service(api::filings::create)
                .service(api::filings::edit)
                .service(api::filings::history)
                .service(api::materials::upload)
                .service(api::materials::remove)
                .service(api::materials::download)
                .service(api::auth::register)
                .service(api::auth::login)
                .service(api::auth::logout)
                .service(api::auth::me)
                .service(api::auth::change_password)
                .service(api::items::list)
                .service(api::items::get)
                .service(api::items::graph)
                .service(api::filings::extend)
                .service(api::filings::rate)
                .service(api::calendars::regions)
                .service(api::calendars::add)
                .service(api::calendars::get_year)
                .service(api::calendars::load)
                .service(api::queue::assign)
                .service(api::reports::sla)
                .service(api::reports::due)
                .service(api::reports::workload)
                .service(api::admin::create_user)
                .service(api::admin::list_users)
                .service(api::admin::deactivate_user)
                .service(api::admin::activate_user)
                .service(api::admin::reset_password)
                .service(api::admin::verify_audit)
                .service(api::admin::get_clock)
                .service(api::admin::move_clock)
                .service(api::mail::list)
                .service(api::mail::retry)
                .service(api::mail::runs)
                .service(api::mail::run),
        )
        .service(
            SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", api::ApiDoc::openapi()),
        )
        .configure(pages::configure);
}
