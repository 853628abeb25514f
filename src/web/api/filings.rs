//! Filings: create a draft, list, read, edit, act, history.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;
use validator::Validate;

use crate::app::AppState;
use crate::domain::engine::Verdict;
use crate::error::AppError;
use crate::services::filings::{self, ActInput, FilingSummary, FilingView, HistoryEntry};
use crate::web::extract::{Bearer, Body, BodyOrDefault, IfMatch, Page, Query, paged, validated};

#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFiling {
    /// The item's code, e.g. `construction-permit`.
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64, example = "construction-permit")]
    pub item: String,
    /// Field code → value; may be partial in a draft.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub form: Map<String, Value>,
    /// 容缺: tolerable material code → promised date (YYYY-MM-DD).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub promises: Map<String, Value>,
    /// Window filing (窗口收件 / 代办), clerks only: the username of the applicant who came to
    /// the counter. The draft is theirs; the clerk is recorded as `filed_by`, may carry it to
    /// submission, and the submission records the window channel.
    #[validate(length(min = 1, max = 64))]
    pub on_behalf_of: Option<String>,
}

/// Create a draft (applicants; a clerk with `on_behalf_of`, at the window). With `Idempotency-Key`, the same create sent again (a retry
/// after an answer that was lost) is answered with the filing the first one made, as it is
/// now, with `Idempotent-Replayed: true`, and writes nothing; the key with another request is
/// 422.
#[utoipa::path(tag = "filings", request_body = CreateFiling,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 64 visible ASCII characters, new for each new draft (a UUID, say); kept per applicant")),
    responses((status = 201, body = FilingView), (status = 403, description = "not an applicant, or `on_behalf_of` from anyone but a clerk"), (status = 422, description = "unknown item, invalid fields, an `on_behalf_of` naming no applicant, or an Idempotency-Key used for another request")),
    security(("bearer" = [])))]
#[post("/filings")]
pub async fn create(
    state: web::Data<AppState>,
    who: Bearer,
    req: HttpRequest,
    body: Body<CreateFiling>,
) -> Result<HttpResponse, AppError> {
    let key = idempotency_key(&req);
    let created = state
        .run_as(who, move |conn, ctx, p| {
            // The body is judged after the token: a signed-out client is told to sign in.
            let body = validated(body.into_inner()?)?;
            let key = key?;
            filings::create(
                conn,
                ctx,
                p,
                &body.item,
                body.form,
                body.promises,
                body.on_behalf_of.as_deref(),
                key.as_deref(),
            )
        })
        .await?;
    let (view, replayed) = match created {
        filings::Created::New(v) => (v, false),
        filings::Created::Replayed(v) => (v, true),
    };
    let mut r = HttpResponse::Created();
    r.insert_header(("ETag", format!("\"{}\"", view.version)));
    if replayed {
        r.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(r.json(view))
}

/// The `Idempotency-Key` header, if sent: 1 to 64 visible ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(v) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    match v.to_str().map(str::trim) {
        Ok(k) if filings::is_idempotency_key(k) => Ok(Some(k.to_owned())),
        _ => Err(AppError::one_invalid(
            "Idempotency-Key",
            "invalid_format",
            "Idempotency-Key 须为 1 到 64 个可见 ASCII 字符（如 UUID）",
            "Idempotency-Key must be 1 to 64 visible ASCII characters (a UUID, say)",
        )),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub state: Option<String>,
    pub item: Option<String>,
    /// Filings a page holds: 1 to 200 (50 by default).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// The next page's cursor, from the previous page's `Link`.
    pub cursor: Option<String>,
}

/// Filings the caller may see: an applicant's own, a department's, or all (admins, auditors).
#[utoipa::path(tag = "filings", params(ListQuery), responses((status = 200, body = [FilingSummary],
        headers(("X-Total-Count" = i64, description = "filings in the whole list"),
                ("Link" = String, description = "the next page, `<…>; rel=\"next\"`, when there is one"))),
    (status = 422, description = "limit outside 1 to 200, a negative offset, a cursor not given by this list")),
    security(("bearer" = [])))]
#[get("/filings")]
pub async fn list(
    state: web::Data<AppState>,
    who: Bearer,
    q: Query<ListQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner()?;
    let page = Page {
        limit: q.limit,
        offset: q.offset,
        cursor: q.cursor,
    }
    .request()?;
    let rows = state
        .run_as(who, move |conn, _, p| {
            filings::list(conn, p, q.state.as_deref(), q.item.as_deref(), &page)
        })
        .await?;
    Ok(paged(&req, rows))
}

/// One filing, with the actions the caller may take now.
#[utoipa::path(tag = "filings", params(("id" = Uuid, Path)), responses((status = 200, body = FilingView), (status = 404)), security(("bearer" = [])))]
#[get("/filings/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let view = state
        .run_as(who, move |conn, ctx, p| filings::get(conn, ctx, p, id))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", view.version)))
        .json(view))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditFiling {
    /// Or send `If-Match`.
    pub expected_version: Option<i32>,
    /// Field code → new value; `null` clears a field.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub form: Map<String, Value>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub promises: Map<String, Value>,
}

/// Edit the form where the state allows it (draft, supplement).
#[utoipa::path(tag = "filings", params(("id" = Uuid, Path)), request_body = EditFiling,
    responses((status = 200, body = FilingView), (status = 403, description = "the caller does not stand for the applicant"), (status = 409, description = "stale version or not editable"), (status = 422), (status = 428)),
    security(("bearer" = [])))]
#[patch("/filings/{id}")]
pub async fn edit(
    state: web::Data<AppState>,
    who: Bearer,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: Body<EditFiling>,
) -> Result<HttpResponse, AppError> {
    let if_match = IfMatch::of(&req);
    let id = id.into_inner();
    let view = state
        .run_as(who, move |conn, ctx, p| {
            let body = body.into_inner()?;
            let expected = if_match.expected(body.expected_version)?;
            filings::edit(conn, ctx, p, id, expected, body.form, body.promises)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", view.version)))
        .json(view))
}

#[derive(Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActRequest {
    /// Or send `If-Match`.
    pub expected_version: Option<i32>,
    #[validate(length(max = 4000))]
    pub reason: Option<String>,
    #[validate(length(max = 4000))]
    pub opinion: Option<String>,
    pub verdict: Option<Verdict>,
    /// Items the clerk adds to a one-time notice.
    #[validate(length(max = 100))]
    #[serde(default)]
    pub notice_items: Vec<String>,
    #[validate(length(max = 4000))]
    pub objection: Option<String>,
    /// Values for the fields of the form the action may change (its `sets`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// At submission, how the applicant files (GB/T 39046 A.5): `online` (the default) or
    /// `mobile`. Staff filing for an applicant are recorded at the window whatever is sent.
    pub channel: Option<crate::domain::exchange::Channel>,
}

/// Take an action (submit, accept, request_supplement, approve, ... as the item defines).
#[utoipa::path(tag = "filings", params(("id" = Uuid, Path), ("action" = String, Path)), request_body = ActRequest,
    responses(
        (status = 200, body = FilingView),
        (status = 403, description = "the caller may not take this action"),
        (status = 404),
        (status = 409, description = "stale version, action not allowed now (with allowed_actions), claimed by another"),
        (status = 422, description = "missing inputs, failing guards: every problem listed"),
        (status = 428, description = "no expected version")),
    security(("bearer" = [])))]
#[post("/filings/{id}/actions/{action}")]
pub async fn act(
    state: web::Data<AppState>,
    who: Bearer,
    req: HttpRequest,
    path: web::Path<(Uuid, String)>,
    body: BodyOrDefault<ActRequest>,
) -> Result<HttpResponse, AppError> {
    let if_match = IfMatch::of(&req);
    let (id, action) = path.into_inner();
    let view = state
        .run_as(who, move |conn, ctx, p| {
            // An empty body is fine (If-Match carries the version); anything else must be
            // valid JSON. Judged after the token.
            let body = validated(body.into_inner()?)?;
            let expected = if_match.expected(body.expected_version)?;
            let input = ActInput {
                reason: body.reason,
                opinion: body.opinion,
                verdict: body.verdict,
                notice_items: body.notice_items,
                objection: body.objection,
                fields: body.fields,
                channel: body.channel,
            };
            filings::act(conn, ctx, p, id, &action, expected, &input)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", view.version)))
        .json(view))
}

/// The filing's timeline, from its audit chain.
#[utoipa::path(tag = "filings", params(("id" = Uuid, Path)), responses((status = 200, body = [HistoryEntry]), (status = 404)), security(("bearer" = [])))]
#[get("/filings/{id}/history")]
pub async fn history(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let h = state
        .run_as(who, move |conn, _, p| filings::history(conn, p, id))
        .await?;
    Ok(HttpResponse::Ok().json(h))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// Or send `If-Match`.
    pub expected_version: Option<i32>,
    /// Working days to add to the statutory limit.
    #[schema(minimum = 1)]
    pub days: u32,
    /// The written reasons (行政许可法 §42).
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Extend the statutory limit (managers of the department, within the item's maximum).
#[utoipa::path(tag = "filings", params(("id" = Uuid, Path)), request_body = ExtendRequest,
    responses((status = 200, body = FilingView), (status = 403), (status = 409, description = "stale, or the clock is not running"), (status = 422)),
    security(("bearer" = [])))]
#[post("/filings/{id}/extend")]
pub async fn extend(
    state: web::Data<AppState>,
    who: Bearer,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: Body<ExtendRequest>,
) -> Result<HttpResponse, AppError> {
    let if_match = IfMatch::of(&req);
    let id = id.into_inner();
    let view = state
        .run_as(who, move |conn, ctx, p| {
            let body = body.into_inner()?;
            let expected = if_match.expected(body.expected_version)?;
            filings::extend(conn, ctx, p, id, expected, body.days, &body.reason)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", format!("\"{}\"", view.version)))
        .json(view))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 1 very dissatisfied … 5 very satisfied (好差评).
    #[schema(minimum = 1, maximum = 5)]
    pub score: i16,
    pub comment: Option<String>,
}

/// The applicant rates a closed filing, once (好差评).
#[utoipa::path(tag = "filings", params(("id" = Uuid, Path)), request_body = RatingRequest,
    responses((status = 204), (status = 403), (status = 404), (status = 409, description = "not closed yet, or rated already"), (status = 422)),
    security(("bearer" = [])))]
#[post("/filings/{id}/rating")]
pub async fn rate(
    state: web::Data<AppState>,
    who: Bearer,
    id: web::Path<Uuid>,
    body: Body<RatingRequest>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state
        .run_as(who, move |conn, ctx, p| {
            let body = body.into_inner()?;
            filings::rate(conn, ctx, p, id, body.score, body.comment.as_deref())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
