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

use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, Required};
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
    components(schemas(crate::error::ProblemDetails, crate::error::FieldProblem)),
    modifiers(&Bearer, &CommonResponses),
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

/// The answers operations share because they come from the extractors and the error type, not
/// from the handler's own logic: added here, once, from what each operation declares (its
/// security, parameters and body), so that no handler has to list them and none can forget
/// one. Operation-specific answers (403, 409 and its codes, a 422 with its reasons) stay on
/// the handlers; an answer a handler lists keeps its own description.
///
/// - a bearer token required: 401 (none, or one expired, revoked or unknown);
/// - query parameters: 400 (`Query` refuses an unknown parameter, a value of the wrong type,
///   a control character);
/// - a path parameter: 404 (the path extractor answers a malformed id as not found, and the
///   thing named may not exist or not be the caller's to see);
/// - a request body: 400 (malformed, a member missing or of the wrong type), 413 (over the
///   body limit), 415 (not the declared media type); a JSON body also 422 (a string with a
///   control character, or a value outside its rules);
/// - a body with `expected_version`: the handler takes the version from `If-Match` instead,
///   so the header is a parameter, 428 when neither is sent, 422 when the header is not a
///   version;
/// - every operation: 500 and 503 (the database busy or away).
///
/// Every answer with a status [`crate::error::AppError`] gives is `application/problem+json`
/// with the [`crate::error::ProblemDetails`] schema.
struct CommonResponses;

const PROBLEM_TYPE: &str = "application/problem+json";

/// Every status [`crate::error::AppError`] maps to (its `status_code`).
const PROBLEM_STATUSES: &[&str] = &[
    "400", "401", "403", "404", "405", "409", "413", "415", "422", "428", "429", "500", "503",
];

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let versioned: Vec<String> = openapi
            .components
            .as_ref()
            .map(|c| {
                c.schemas
                    .iter()
                    .filter(|(_, s)| {
                        matches!(s, RefOr::T(Schema::Object(o))
                            if o.properties.contains_key("expected_version"))
                    })
                    .map(|(name, _)| format!("#/components/schemas/{name}"))
                    .collect()
            })
            .unwrap_or_default();
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_common(op, &versioned);
            }
        }
    }
}

fn add_common(op: &mut Operation, versioned: &[String]) {
    let has_param = |op: &Operation, place: ParameterIn| {
        op.parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let secured = op
        .security
        .as_ref()
        .is_some_and(|s| !s.is_empty() && s.iter().any(|r| *r != Default::default()));
    let query = has_param(op, ParameterIn::Query);
    let path = has_param(op, ParameterIn::Path);
    let body = op.request_body.as_ref().map(|b| &b.content);
    let json_body = body.is_some_and(|c| c.contains_key("application/json"));
    let needs_version = body.is_some_and(|c| {
        c.values().any(|content| {
            matches!(&content.schema, Some(RefOr::Ref(r)) if versioned.contains(&r.ref_location))
        })
    });

    let mut add = |status: u16, description: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(Response::new(description)));
    };
    if secured {
        add(401, "no bearer token, or one expired, revoked or unknown");
    }
    if query {
        add(
            400,
            "a query parameter this operation does not know, of the wrong type, or holding a control character",
        );
    }
    if path {
        add(
            404,
            "nothing by that identifier that the caller may see (a malformed identifier too)",
        );
    }
    if body.is_some() {
        add(
            400,
            "a body that does not read: malformed, or a member missing or of the wrong type (each named in `errors`)",
        );
        add(413, "the body is over the size limit");
        add(415, "the body is not of the declared media type");
    }
    if json_body {
        add(
            422,
            "a value outside its rules, or a string holding a control character (each named in `errors`)",
        );
    }
    if needs_version {
        add(
            428,
            "no version: send the one last seen in `If-Match` or `expected_version`",
        );
        add(422, "`If-Match` is not a version");
        let if_match = ParameterBuilder::new()
            .name("If-Match")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The filing's version last seen (its ETag, `\"7\"`); or `expected_version` in the body",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build();
        op.parameters.get_or_insert_with(Vec::new).push(if_match);
    }
    add(500, "an internal error; its cause is logged, never sent");
    add(
        503,
        "the service is busy or its database is away: try again shortly",
    );

    for (status, answer) in op.responses.responses.iter_mut() {
        let RefOr::T(answer) = answer else { continue };
        // The statuses `AppError` answers with; others (a file's 412 and 416) have no body.
        if !PROBLEM_STATUSES.contains(&status.as_str()) {
            continue;
        }
        if answer.description.is_empty() {
            answer.description = default_description(status).to_owned();
        }
        if answer.content.is_empty() {
            answer.content.insert(
                PROBLEM_TYPE.to_owned(),
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ProblemDetails")))
                    .build(),
            );
        }
        // The headers `error::render` and `web::telemetry::observe` add to these answers.
        let mut headers = vec![(
            "X-Request-Id",
            Type::String,
            "the request's id, also the problem's `request_id` and in every log line of it",
        )];
        match status.as_str() {
            "401" => headers.push(("WWW-Authenticate", Type::String, "`Bearer`")),
            "429" | "503" => headers.push((
                "Retry-After",
                Type::Integer,
                "seconds until a new try may succeed",
            )),
            _ => {}
        }
        for (name, kind, description) in headers {
            if answer.headers.contains_key(name) {
                continue;
            }
            let header = HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(kind))
                .description(Some(description))
                .build();
            answer.headers.insert(name.to_owned(), header);
        }
    }
}

/// What an error status means when the handler listed it without saying.
fn default_description(status: &str) -> &'static str {
    match status {
        "400" => "the request does not read",
        "401" => "not signed in",
        "403" => "the caller's roles do not allow it",
        "404" => "not found",
        "409" => "a conflict with the current state (its `code` says which)",
        "413" => "too large",
        "415" => "unsupported media type",
        "422" => "input outside its rules (each problem named in `errors`)",
        "428" => "no version given",
        "429" => "too many attempts: try again after `Retry-After` seconds",
        "503" => "the service is busy: try again shortly",
        _ => "an error",
    }
}
