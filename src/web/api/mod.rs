//! The JSON API under `/api/v1`, and its OpenAPI document.

pub mod admin;
pub mod auth;
pub mod calendars;
pub mod documents;
pub mod draws;
pub mod exchange;
pub mod filings;
pub mod health;
pub mod items;
pub mod jobs;
pub mod mail;
pub mod materials;
pub mod queue;
pub mod reports;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "permits", description = "Workflow and approval service for administrative permits (行政审批)."),
    servers((url = "/api/v1")),
    paths(
        auth::register, auth::login, auth::logout, auth::me, auth::change_password,
        items::list, items::get, items::graph,
        filings::create, filings::list, filings::get, filings::edit, filings::act, filings::history, filings::extend, filings::rate,
        calendars::regions, calendars::get_year, calendars::add, calendars::load,
        materials::upload, materials::remove, materials::download,
        queue::list, queue::claim_next, queue::claim, queue::release, queue::assign,
        reports::sla, reports::due, reports::workload, reports::work,
        admin::create_user, admin::list_users, admin::deactivate_user, admin::activate_user, admin::reset_password, admin::verify_audit, admin::get_clock, admin::move_clock,
        mail::list, mail::retry, jobs::runs, jobs::run,
        documents::list, documents::download, documents::certificate, documents::check, documents::key,
        draws::list, draws::get, draws::verify,
        exchange::status, exchange::uploads, exchange::of_filing,
    ),
    modifiers(&Bearer),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "items", description = "Approval items and their service guides (办事指南)"),
        (name = "filings", description = "Applications (办件) and their actions"),
        (name = "materials", description = "Uploaded materials"),
        (name = "queue", description = "Staff work queues"),
        (name = "calendars", description = "Working-day calendars and legal time"),
        (name = "reports", description = "SLA reports for managers"),
        (name = "admin", description = "Administration"),
        (name = "audit", description = "The tamper-evident audit log"),
        (name = "documents", description = "Written instruments, electronic certificates and their public verification"),
        (name = "draws", description = "Spot-check draws (双随机、一公开), public and verifiable"),
        (name = "exchange", description = "Data exchange with the province's approval platforms (SPGL front database, 建筑市场监管 uploads)"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
