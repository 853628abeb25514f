//! One error type for the whole service, mapped once to RFC 9457 problem+json.
//!
//! Policy: the status follows the meaning (NotFound 404, Forbidden 403, Validation 422, Conflict
//! 409, Unavailable 503, Internal 500). Messages are bilingual and chosen by Accept-Language in
//! [`localize`]; an internal error's cause is logged with its whole chain and never sent.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::domain::{Lang, Problem, Text};

/// How many problems a problem document lists at the most. A real form has a few dozen fields;
/// a body with thousands of bad members is garbage, and answering it in full would send back
/// more than it sent. The rest are counted in `errors_omitted` (the detail gives the total).
pub const MAX_LISTED_PROBLEMS: usize = 200;

/// The problem document every error answers with (`application/problem+json`), as the OpenAPI
/// document describes it. Documentation only: [`AppError::problem`] writes the document, and
/// the contract test (tests/api/contract.rs) holds real answers to this schema. Extension
/// members (a conflict's `current`, `allowed_actions`, ...) are allowed beside these.
#[derive(Debug, utoipa::ToSchema)]
pub struct ProblemDetails {
    /// `/problems/<code>`.
    #[schema(rename = "type")]
    pub kind: String,
    /// The kind of problem, in the request's language (Accept-Language; Chinese by default).
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// A stable code to branch on: `not_found`, `validation`, `stale_version`, ...
    pub code: String,
    /// This occurrence, in the request's language.
    pub detail: Option<String>,
    /// The request's path.
    pub instance: Option<String>,
    /// The request's id, as in the `X-Request-Id` header and every log line of the request:
    /// quote it in a complaint.
    pub request_id: Option<String>,
    /// Every field problem found (422, and a 400 that names its members).
    pub errors: Option<Vec<FieldProblem>>,
    /// Problems found beyond the first [`MAX_LISTED_PROBLEMS`] listed.
    pub errors_omitted: Option<usize>,
}

/// One field problem of a [`ProblemDetails`]: where, a stable code, and a message in the
/// request's language.
#[derive(Debug, utoipa::ToSchema)]
pub struct FieldProblem {
    /// `form.investment`, `materials.drawings`, `If-Match`, ...
    pub path: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Not found, saying what was looked for (a public look-up: "no such certificate").
    #[error("not found: {}", .0.en)]
    NoSuch(Text),
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    /// Malformed input; `Vec<Problem>` names the place when it is known (a field of the wrong
    /// type).
    #[error("bad request: {}", .0.en)]
    BadRequest(Text, Vec<Problem>),
    #[error("validation failed: {} problems", .0.len())]
    Validation(Vec<Problem>),
    #[error("conflict: {code}")]
    Conflict {
        code: &'static str,
        message: Text,
        /// Extension members: the current state, the allowed actions, ...
        extra: Value,
    },
    #[error("precondition required")]
    PreconditionRequired,
    #[error("payload too large")]
    PayloadTooLarge(Text),
    #[error("unsupported media type")]
    UnsupportedMediaType(Text),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable")]
    Unavailable,
    /// The path is a route's, the method none of its: `allow` lists the methods it takes
    /// (the `Allow` header; empty when unknown).
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn bad_request(zh: impl Into<String>, en: impl Into<String>) -> Self {
        AppError::BadRequest(
            Text {
                zh: zh.into(),
                en: en.into(),
            },
            Vec::new(),
        )
    }

    pub fn invalid(problems: Vec<Problem>) -> Self {
        AppError::Validation(problems)
    }

    pub fn one_invalid(
        path: &str,
        code: &str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        AppError::Validation(vec![Problem::new(path, code, zh, en)])
    }

    pub fn conflict(
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
        extra: Value,
    ) -> Self {
        AppError::Conflict {
            code,
            message: Text {
                zh: zh.into(),
                en: en.into(),
            },
            extra,
        }
    }

    /// The stable problem type code.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound | AppError::NoSuch(_) => "not_found",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden => "forbidden",
            AppError::BadRequest(..) => "bad_request",
            AppError::Validation(_) => "validation",
            AppError::Conflict { code, .. } => code,
            AppError::PreconditionRequired => "version_required",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::TooManyRequests { .. } => "too_many_requests",
            AppError::Unavailable => "unavailable",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> Text {
        let t = |zh: &str, en: &str| Text {
            zh: zh.into(),
            en: en.into(),
        };
        match self {
            AppError::NotFound | AppError::NoSuch(_) => t("未找到", "Not found"),
            AppError::Unauthenticated => t(
                "未登录或登录已过期",
                "Not signed in, or the session expired",
            ),
            AppError::Forbidden => t("无权进行此操作", "Not allowed"),
            AppError::BadRequest(..) => t("请求格式有误", "Malformed request"),
            AppError::Validation(_) => t("填写内容有误", "Some input is not valid"),
            AppError::Conflict { .. } => t("操作冲突", "Conflict"),
            AppError::PreconditionRequired => t("缺少版本号", "Version required"),
            AppError::PayloadTooLarge(_) => t("内容过大", "Payload too large"),
            AppError::UnsupportedMediaType(_) => t("不支持的文件类型", "Unsupported media type"),
            AppError::TooManyRequests { .. } => t("请求过于频繁", "Too many requests"),
            AppError::Unavailable => t("服务繁忙，请稍后重试", "Service busy, try again shortly"),
            AppError::MethodNotAllowed { .. } => t("不支持该请求方法", "Method not allowed"),
            AppError::Internal(_) => t("服务内部错误", "Internal error"),
        }
    }

    fn detail(&self) -> Option<Text> {
        let t = |zh: &str, en: &str| {
            Some(Text {
                zh: zh.into(),
                en: en.into(),
            })
        };
        match self {
            AppError::BadRequest(m, _)
            | AppError::NoSuch(m)
            | AppError::PayloadTooLarge(m)
            | AppError::UnsupportedMediaType(m) => Some(m.clone()),
            AppError::Conflict { message, .. } => Some(message.clone()),
            AppError::Validation(p) => Some(Text {
                zh: format!("共 {} 处需要修改，见 errors", p.len()),
                en: format!("{} problems, listed in errors", p.len()),
            }),
            AppError::PreconditionRequired => t(
                "请在 If-Match 头或 expected_version 字段中给出您看到的版本号",
                "Send the version you saw in If-Match or expected_version",
            ),
            AppError::Internal(_) => t(
                "请稍后重试；如问题持续，请联系管理员",
                "Try again later; if it persists, contact the administrator",
            ),
            _ => None,
        }
    }

    /// The problem document in one language.
    pub fn problem(&self, lang: Lang) -> Value {
        let status = self.status_code().as_u16();
        let mut body = json!({
            "type": format!("/problems/{}", self.code()),
            "title": self.title().get(lang),
            "status": status,
            "code": self.code(),
        });
        if let Some(d) = self.detail() {
            body["detail"] = Value::String(d.get(lang).to_owned());
        }
        match self {
            AppError::Validation(problems) | AppError::BadRequest(_, problems)
                if !problems.is_empty() =>
            {
                body["errors"] = Value::Array(
                    problems
                        .iter()
                        .take(MAX_LISTED_PROBLEMS)
                        .map(|p| json!({"path": p.path, "code": p.code, "message": p.message.get(lang)}))
                        .collect(),
                );
                if let Some(more) = problems.len().checked_sub(MAX_LISTED_PROBLEMS)
                    && more > 0
                {
                    body["errors_omitted"] = json!(more);
                }
            }
            AppError::Conflict { extra, .. } => {
                if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), extra) {
                    for (k, v) in extra {
                        obj.insert(k.clone(), localize_value(v, lang));
                    }
                }
            }
            _ => {}
        }
        body
    }
}

/// Conflict extensions may carry `{"zh": .., "en": ..}` texts (a refusal's problems): pick one.
fn localize_value(v: &Value, lang: Lang) -> Value {
    match v {
        Value::Object(m) if m.len() == 2 && m.contains_key("zh") && m.contains_key("en") => {
            m.get(lang.as_str()).cloned().unwrap_or(Value::Null)
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), localize_value(v, lang)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| localize_value(v, lang)).collect()),
        other => other.clone(),
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound | AppError::NoSuch(_) => StatusCode::NOT_FOUND,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::BadRequest(..) => StatusCode::BAD_REQUEST,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        if let AppError::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
        render(self, Lang::Zh)
    }
}

/// What a 503 asks the client to wait before trying again.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

fn render(err: &AppError, lang: Lang) -> HttpResponse<BoxBody> {
    let mut res = HttpResponse::build(err.status_code());
    res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
    res.insert_header((header::CONTENT_LANGUAGE, lang.tag()));
    if matches!(err, AppError::Unauthenticated) {
        res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    if let AppError::MethodNotAllowed { allow } = err
        && !allow.is_empty()
    {
        res.insert_header((header::ALLOW, allow.as_str()));
    }
    if let AppError::TooManyRequests { retry_after_secs } = err {
        res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
    }
    if matches!(err, AppError::Unavailable) {
        // The pool was busy or the database away: both pass in seconds (a restart, a
        // failover), and a client that waits a little spares the recovering server.
        res.insert_header((
            header::RETRY_AFTER,
            UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
        ));
    }
    res.body(err.problem(lang).to_string())
}

/// The language a request asks for: English when its first Accept-Language preference is
/// English, Chinese otherwise (the bureau's language).
pub fn lang_of(req: &actix_web::HttpRequest) -> Lang {
    let header = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|h: &HeaderValue| h.to_str().ok())
        .unwrap_or("");
    Lang::negotiate(header)
}

/// Middleware body: re-render an [`AppError`] response in the request's language and add the
/// request path as `instance` and the request's id as `request_id` (the same as the
/// `X-Request-Id` header and the log's), so that a complaint can be found in the log.
pub fn localize(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let Some(err) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
    else {
        return res;
    };
    let lang = lang_of(res.request());
    let mut body = err.problem(lang);
    body["instance"] = Value::String(res.request().path().to_owned());
    if let Some(id) = crate::web::telemetry::RequestId::of(res.request()) {
        body["request_id"] = Value::String(id.to_string());
    }
    let rendered = render(err, lang).set_body(BoxBody::new(body.to_string()));
    let (req, _) = res.into_parts();
    ServiceResponse::new(req, rendered)
}

impl AppError {
    /// The closest meaning of an error response that did not come from this service's code.
    pub fn from_status(status: StatusCode) -> AppError {
        let text = |zh: &str, en: &str| Text {
            zh: zh.into(),
            en: en.into(),
        };
        match status.as_u16() {
            401 => AppError::Unauthenticated,
            403 => AppError::Forbidden,
            404 => AppError::NotFound,
            405 => AppError::MethodNotAllowed {
                allow: String::new(),
            },
            413 => AppError::PayloadTooLarge(text("请求内容过大", "The request body is too large")),
            415 => {
                AppError::UnsupportedMediaType(text("不支持的内容类型", "Unsupported content type"))
            }
            429 => AppError::TooManyRequests {
                retry_after_secs: 1,
            },
            503 => AppError::Unavailable,
            400..=499 => AppError::bad_request("请求有误", "The request is not valid"),
            _ => AppError::Internal(anyhow::anyhow!("error response with status {status}")),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            // The database went away under the request (a restart, a failover, a dropped
            // connection): try again shortly, not an internal error.
            other if connection_lost(&other) => {
                tracing::warn!(error = %other, "the database connection was lost");
                AppError::Unavailable
            }
            other => AppError::Internal(anyhow::Error::new(other).context("database query")),
        }
    }
}

/// Whether a query failed because its connection was lost rather than because of the query:
/// the server closed it (SQLSTATE 57P01 admin shutdown, 57P02, 57P03) or the socket broke.
pub fn connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            [
                "terminating connection",
                "server closed the connection",
                "no connection to the server",
                "connection to server",
                "the database system is shutting down",
                "the database system is starting up",
                "could not receive data from server",
                "could not send data to server",
            ]
            .iter()
            .any(|needle| m.contains(needle))
        }
        _ => false,
    }
}

impl From<r2d2_error::PoolError> for AppError {
    fn from(_: r2d2_error::PoolError) -> Self {
        // The pool's checkout timeout ran out: the service is saturated, not broken.
        AppError::Unavailable
    }
}

mod r2d2_error {
    pub use diesel::r2d2::PoolError;
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Info(&'static str);

    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    /// A connection lost under a query is 503 (try again), whatever the query; a query's own
    /// failure stays 500.
    #[test]
    fn a_lost_connection_is_unavailable_and_a_failed_query_internal() {
        use diesel::result::{DatabaseErrorKind, Error};
        let db = |kind, m: &'static str| Error::DatabaseError(kind, Box::new(Info(m)));
        for lost in [
            db(DatabaseErrorKind::ClosedConnection, "closed"),
            db(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            db(
                DatabaseErrorKind::Unknown,
                "server closed the connection unexpectedly",
            ),
            db(DatabaseErrorKind::Unknown, "no connection to the server"),
        ] {
            assert!(matches!(AppError::from(lost), AppError::Unavailable));
        }
        let failed = db(DatabaseErrorKind::Unknown, "division by zero");
        assert!(matches!(AppError::from(failed), AppError::Internal(_)));
    }

    #[test]
    fn every_error_maps_to_its_status_once() {
        let cases: Vec<(AppError, u16)> = vec![
            (AppError::NotFound, 404),
            (AppError::Unauthenticated, 401),
            (AppError::Forbidden, 403),
            (AppError::bad_request("x", "x"), 400),
            (AppError::Validation(vec![]), 422),
            (
                AppError::conflict("stale_version", "x", "x", Value::Null),
                409,
            ),
            (AppError::PreconditionRequired, 428),
            (AppError::Unavailable, 503),
            (AppError::Internal(anyhow::anyhow!("secret detail")), 500),
        ];
        for (err, status) in cases {
            assert_eq!(err.status_code().as_u16(), status, "{err:?}");
            assert_eq!(err.problem(Lang::En)["status"], status);
        }
    }

    #[test]
    fn an_internal_error_never_shows_its_cause() {
        let body = AppError::Internal(anyhow::anyhow!("password=hunter2")).problem(Lang::En);
        assert!(!body.to_string().contains("hunter2"));
    }

    #[test]
    fn accept_language_prefers_the_highest_quality_known_language() {
        assert_eq!(Lang::negotiate("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::negotiate("fr, en;q=0.5, zh;q=0.4"), Lang::En);
        assert_eq!(Lang::negotiate(""), Lang::Zh);
    }
}
