//! HTTP: every route in one place ([`configure`]), the shared state, the auth extractor and the
//! input helpers. Handlers parse input, call one service inside one `web::block`, and shape the
//! output; they hold no business rules.

pub mod allow;
pub mod api;
pub mod extract;
pub mod fields;
pub mod files;
pub mod pages;
pub mod requests;
pub mod shape;
pub mod telemetry;

use actix_web::web::{self, ServiceConfig};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// Every route of the service.
///
/// A request goes to the first route whose pattern matches, tried in the order below. A pattern
/// with a `{segment}` is a regular expression run against the path (a static one is a string
/// comparison), so the routes staff and applicants call all day come first: before this order
/// an action's path was tried against six patterns before its own (a measurable share of the
/// service's CPU per action under load). No two patterns here match the same path, so the
/// order is free.
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
                .service(api::reports::work)
                .service(api::admin::create_user)
                .service(api::admin::list_users)
                .service(api::admin::deactivate_user)
                .service(api::admin::activate_user)
                .service(api::admin::reset_password)
                .service(api::admin::verify_audit)
                .service(api::admin::get_clock)
                .service(api::admin::move_clock)
                .service(api::mail::list)
                .service(api::exchange::status)
                .service(api::exchange::uploads)
                .service(api::exchange::of_filing)
                .service(api::mail::retry)
                .service(api::jobs::runs)
                .service(api::jobs::run)
                .service(api::documents::list)
                .service(api::documents::download)
                // `key` before `{identifier}`, which would match it.
                .service(api::documents::key)
                .service(api::documents::certificate)
                .service(api::documents::check)
                .service(api::draws::verify)
                .service(api::draws::get)
                .service(api::draws::list),
        )
        .service(api::documents::well_known_key)
        .service(
            SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", api::ApiDoc::openapi()),
        )
        .configure(pages::configure);
}
