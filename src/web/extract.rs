//! Request extractors and input helpers: the bearer-token principal, the expected version,
//! JSON and query errors as problem documents, and `validator` errors as field problems.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::Deserialize;
use validator::{ValidationErrors, ValidationErrorsKind};

use super::AppState;
use crate::domain::Problem;
use crate::error::AppError;
use crate::services::auth::{self, Principal};

/// The bearer token of a request, not yet checked: handlers on hot paths pass it to
/// [`AppState::run_as`](super::AppState::run_as), which checks it on the same connection and
/// thread as the use case (one blocking hop instead of two). A missing token is 401 at once.
pub struct Bearer(pub String);

fn bearer_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 200)
}

impl FromRequest for Bearer {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            bearer_token(req)
                .map(Bearer)
                .ok_or(AppError::Unauthenticated),
        )
    }
}

/// The caller, authenticated by `Authorization: Bearer <token>`.
pub struct Authed {
    pub principal: Principal,
    pub token: String,
}

impl FromRequest for Authed {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token
                .filter(|t| !t.is_empty() && t.len() <= 200)
                .ok_or(AppError::Unauthenticated)?;
            let state =
                state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("app state missing")))?;
            let t = token.clone();
            let principal = state
                .run(move |conn, ctx| auth::principal(conn, &t, ctx.now))
                .await?;
            Ok(Authed { principal, token })
        })
    }
}

/// The raw `If-Match` header, read now and judged later (after the token is checked).
pub struct IfMatch(Option<String>);

impl IfMatch {
    pub fn of(req: &HttpRequest) -> IfMatch {
        IfMatch(
            req.headers()
                .get(header::IF_MATCH)
                .map(|h| h.to_str().unwrap_or("").trim().to_owned()),
        )
    }

    /// The version the caller saw: `If-Match: "7"` (or `7`, `W/"7"`) or a body field.
    pub fn expected(&self, body: Option<i32>) -> Result<i32, AppError> {
        expected_from(self.0.as_deref(), body)
    }
}

fn expected_from(header: Option<&str>, body: Option<i32>) -> Result<i32, AppError> {
    if let Some(raw) = header {
        let raw = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
        return raw.parse::<i32>().map_err(|_| {
            AppError::one_invalid(
                "If-Match",
                "invalid_format",
                "If-Match 须为办件版本号，如 \"3\"",
                "If-Match must be the filing's version, e.g. \"3\"",
            )
        });
    }
    body.ok_or(AppError::PreconditionRequired)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// At most 200; 50 by default.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl Page {
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(50).clamp(1, 200)
    }
    pub fn offset(&self) -> i64 {
        self.offset.unwrap_or(0).max(0)
    }
}

/// A JSON request body whose problems are reported only when the handler asks, after the
/// other extractors (the bearer token above all) have run: a signed-out client with a bad body
/// is told to sign in (401), not that its body is bad. Oversize bodies (PayloadConfig), a
/// wrong content type, malformed JSON and wrong types become problem documents; a wrong type
/// names its field's path.
pub struct Body<T>(Result<T, AppError>);

impl<T> Body<T> {
    pub fn into_inner(self) -> Result<T, AppError> {
        self.0
    }
}

/// Like [`Body`], but an empty body is the default value (actions whose version travels in
/// If-Match need no body at all).
pub struct BodyOrDefault<T>(Result<T, AppError>);

impl<T> BodyOrDefault<T> {
    pub fn into_inner(self) -> Result<T, AppError> {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

fn payload_error(e: actix_web::Error) -> AppError {
    if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge(crate::domain::Text {
            zh: "请求内容过大".into(),
            en: "The request body is too large".into(),
        })
    } else {
        AppError::bad_request(
            format!("无法读取请求内容：{e}"),
            format!("Could not read the request body: {e}"),
        )
    }
}

/// Parse JSON, naming the path of a field of the wrong type.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let problems = if path.is_empty() || path == "." || inner.is_syntax() || inner.is_eof() {
            Vec::new()
        } else {
            vec![Problem::new(
                &path,
                "wrong_type",
                format!("{path}：{inner}"),
                format!("{path}: {inner}"),
            )]
        };
        AppError::BadRequest(
            crate::domain::Text {
                zh: format!("JSON 格式或字段类型有误：{inner}"),
                en: format!("Malformed JSON or wrong field type: {inner}"),
            },
            problems,
        )
    })
}

fn read_body<T: serde::de::DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    empty_is_default: Option<fn() -> T>,
) -> Pin<Box<dyn Future<Output = Result<T, AppError>>>> {
    let json = is_json(req);
    let bytes = web::Bytes::from_request(req, payload);
    Box::pin(async move {
        let bytes = bytes.await.map_err(payload_error)?;
        if let Some(default) = empty_is_default
            && bytes.iter().all(u8::is_ascii_whitespace)
        {
            return Ok(default());
        }
        if !json {
            return Err(AppError::UnsupportedMediaType(crate::domain::Text {
                zh: "请求须为 application/json".into(),
                en: "The request must be application/json".into(),
            }));
        }
        parse_json(&bytes)
    })
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = read_body::<T>(req, payload, None);
        Box::pin(async move { Ok(Body(fut.await)) })
    }
}

impl<T: serde::de::DeserializeOwned + Default + 'static> FromRequest for BodyOrDefault<T> {
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = read_body::<T>(req, payload, Some(T::default));
        Box::pin(async move { Ok(BodyOrDefault(fut.await)) })
    }
}

/// Malformed JSON, wrong types and oversize bodies become problem documents.
pub fn json_config(limit_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit_bytes)
        .content_type_required(true)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError as E;
            let app = match &err {
                E::OverflowKnownLength { .. } | E::Overflow { .. } => {
                    AppError::PayloadTooLarge(crate::domain::Text {
                        zh: "请求内容过大".into(),
                        en: "The request body is too large".into(),
                    })
                }
                E::ContentType => AppError::UnsupportedMediaType(crate::domain::Text {
                    zh: "请求须为 application/json".into(),
                    en: "The request must be application/json".into(),
                }),
                E::Deserialize(e) => AppError::bad_request(
                    format!("JSON 格式或字段类型有误：{e}"),
                    format!("Malformed JSON or wrong field type: {e}"),
                ),
                other => AppError::bad_request(
                    format!("无法读取请求内容：{other}"),
                    format!("Could not read the request body: {other}"),
                ),
            };
            app.into()
        })
}

/// The query string, parsed. Its problem is reported when the handler asks, so that a page can
/// answer with a page (`Viewer::query`) and an API call with a problem document; a value of
/// the wrong type names its parameter.
pub struct Query<T>(Result<T, AppError>);

impl<T> Query<T> {
    pub fn into_inner(self) -> Result<T, AppError> {
        self.0
    }
}

/// Parse a query string, naming the parameter whose value is of the wrong type.
pub fn parse_query<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let name = e.path().to_string();
        let inner = e.into_inner();
        let problems = if name.is_empty() || name == "." {
            Vec::new()
        } else {
            vec![Problem::new(
                &name,
                "wrong_type",
                format!("查询参数 {name} 的值有误：{inner}"),
                format!("Query parameter {name}: {inner}"),
            )]
        };
        let (zh, en) = match problems.first() {
            Some(p) => (p.message.zh.clone(), p.message.en.clone()),
            None => (
                format!("查询参数有误：{inner}"),
                format!("Bad query parameters: {inner}"),
            ),
        };
        AppError::BadRequest(crate::domain::Text { zh, en }, problems)
    })
}

impl<T: serde::de::DeserializeOwned> FromRequest for Query<T> {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Query(parse_query(req.query_string()))))
    }
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let _ = err;
        AppError::NotFound.into()
    })
}

/// Every field problem `validator` found, in both languages.
pub fn problems(errors: &ValidationErrors) -> Vec<Problem> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<Problem>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let param =
                        |k: &str| e.params.get(k).map(|v| v.to_string()).unwrap_or_default();
                    let (zh, en) = match e.code.as_ref() {
                        "length" => (
                            format!("长度须在 {} 到 {} 之间", param("min"), param("max")),
                            format!(
                                "must be {} to {} characters long",
                                param("min"),
                                param("max")
                            ),
                        ),
                        "range" => (
                            format!("须在 {} 到 {} 之间", param("min"), param("max")),
                            format!("must be between {} and {}", param("min"), param("max")),
                        ),
                        "email" => (
                            "不是有效的电子邮箱".to_owned(),
                            "is not a valid email address".to_owned(),
                        ),
                        "regex" => ("格式不正确".to_owned(), "has the wrong format".to_owned()),
                        "required" => ("必填".to_owned(), "is required".to_owned()),
                        _ => {
                            let msg = e
                                .message
                                .as_ref()
                                .map(|m| m.to_string())
                                .unwrap_or_else(|| e.code.to_string());
                            match msg.split_once('|') {
                                Some((zh, en)) => (zh.to_owned(), en.to_owned()),
                                None => (msg.clone(), msg),
                            }
                        }
                    };
                    out.push(Problem::new(
                        &path,
                        &e.code,
                        format!("{path}：{zh}"),
                        format!("{path} {en}"),
                    ));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

/// Validate a DTO; every problem at once.
pub fn validated<T: validator::Validate>(dto: T) -> Result<T, AppError> {
    dto.validate()
        .map_err(|e| AppError::Validation(problems(&e)))?;
    Ok(dto)
}
