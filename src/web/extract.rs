//! Request extractors and input helpers: the bearer-token principal, the expected version,
//! JSON and query errors as problem documents, and `validator` errors as field problems.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use validator::{ValidationErrors, ValidationErrorsKind};

use crate::domain::Problem;
use crate::domain::forms::{has_control, is_forbidden_char};
use crate::error::AppError;
use crate::services::auth::Token;
use crate::services::paging::{PageRequest, Paged};

/// The bearer token of a request, not yet checked: handlers pass it to
/// [`AppState::run_as`](crate::app::AppState::run_as), which checks it on the same connection and thread as the use case
/// (one blocking hop instead of two). A missing token is 401 at once.
pub struct Bearer(pub Token);

impl From<Bearer> for Token {
    fn from(b: Bearer) -> Token {
        b.0
    }
}

fn bearer_token(req: &HttpRequest) -> Option<Token> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(Token::presented)
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
    /// Items a page holds: 1 to 200 (50 by default); outside that range it is refused.
    pub limit: Option<i64>,
    /// Items to skip; the next page is better reached by `cursor`.
    pub offset: Option<i64>,
    /// Where the previous page ended: the `cursor` of its `Link: <…>; rel="next"`.
    pub cursor: Option<String>,
}

impl Page {
    /// The page asked for, or 422 naming every bad parameter.
    pub fn request(self) -> Result<PageRequest, AppError> {
        PageRequest {
            limit: self.limit,
            offset: self.offset,
            cursor: self.cursor,
        }
        .checked()
    }
}

/// A page of a list as the answer: its items as the body, the whole list's count in
/// `X-Total-Count`, and the next page (when there is one) in `Link: <…>; rel="next"` (RFC 8288):
/// this request's address with the next page's cursor in place of any `offset` or `cursor`.
pub fn paged<T: serde::Serialize>(req: &HttpRequest, page: Paged<T>) -> HttpResponse {
    let mut r = HttpResponse::Ok();
    r.insert_header(("X-Total-Count", page.total.to_string()));
    if let Some(next) = &page.next {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
            if k != "offset" && k != "cursor" {
                query.append_pair(&k, &v);
            }
        }
        query.append_pair("cursor", next);
        r.insert_header((
            header::LINK,
            format!("<{}?{}>; rel=\"next\"", req.path(), query.finish()),
        ));
    }
    r.json(page.items)
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

/// The request's media type, lower case, without parameters.
fn media_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
}

fn is_json(req: &HttpRequest) -> bool {
    media_type(req).is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    })
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

/// A name as it may be shown: its forbidden characters replaced.
fn shown(name: &str) -> String {
    name.chars()
        .map(|c| {
            if is_forbidden_char(c) {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

fn forbidden_problem(path: &str) -> Problem {
    let (zh, en) = crate::web::fields::named(path);
    Problem::new(
        path,
        "control_character",
        format!("{zh}：含有不可见的控制字符，请删除"),
        format!("{en} contains invisible control characters: remove them"),
    )
}

/// Whether raw JSON may hold a string with a forbidden character: in JSON such a character is
/// written as an escape (`\u00XX`, `\b`, `\f`) or raw as DEL or a C1 control (UTF-8
/// `C2 80`..`C2 9F`). A cheap test that lets the common body skip the walk below.
fn may_hold_control(bytes: &[u8]) -> bool {
    bytes.contains(&0x7F)
        || bytes
            .windows(2)
            .any(|w| matches!(w, [b'\\', b'u' | b'b' | b'f'] | [0xC2, 0x80..=0x9F]))
}

/// The paths (as `serde_path_to_error` writes them) of every key or string holding a
/// forbidden character.
fn control_paths(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::String(s) if has_control(s) => out.push(path.to_owned()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                control_paths(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let k = shown(k);
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k.contains(char::REPLACEMENT_CHARACTER) {
                    out.push(here);
                } else {
                    control_paths(item, &here, out);
                }
            }
        }
        _ => {}
    }
}

/// Parse JSON, naming the path of a field of the wrong type, and refusing (422, every place
/// named) a string with a control character.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if may_hold_control(bytes)
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes)
    {
        let mut paths = Vec::new();
        control_paths(&v, "", &mut paths);
        if !paths.is_empty() {
            let path = |p: &String| {
                if p.is_empty() {
                    ".".to_owned()
                } else {
                    p.clone()
                }
            };
            return Err(AppError::Validation(
                paths.iter().map(|p| forbidden_problem(&path(p))).collect(),
            ));
        }
    }
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

/// Parse a request body as [`parse_json`] does; a body that does not read is then checked
/// against `T`'s schema, so that every missing member and every member of the wrong type is
/// named at once, not only the first serde met (see [`super::shape`]).
pub fn parse_body<T: serde::de::DeserializeOwned + utoipa::ToSchema>(
    bytes: &[u8],
) -> Result<T, AppError> {
    parse_json(bytes).map_err(|e| {
        let AppError::BadRequest(text, first) = e else {
            return e;
        };
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return AppError::BadRequest(text, first); // not JSON at all
        };
        let mut all = super::shape::problems::<T>(&body);
        if all.is_empty() {
            return AppError::BadRequest(text, first);
        }
        for p in first {
            if !all.iter().any(|q| q.path == p.path) {
                all.push(p);
            }
        }
        AppError::BadRequest(
            crate::domain::Text {
                zh: format!("请求内容有 {} 处不符合要求，见 errors", all.len()),
                en: format!(
                    "The request body has {} member(s) missing or of the wrong type: see errors",
                    all.len()
                ),
            },
            all,
        )
    })
}

fn read_body<T: serde::de::DeserializeOwned + utoipa::ToSchema + 'static>(
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
        parse_body(&bytes)
    })
}

impl<T: serde::de::DeserializeOwned + utoipa::ToSchema + 'static> FromRequest for Body<T> {
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let fut = read_body::<T>(req, payload, None);
        Box::pin(async move { Ok(Body(fut.await)) })
    }
}

impl<T: serde::de::DeserializeOwned + utoipa::ToSchema + Default + 'static> FromRequest
    for BodyOrDefault<T>
{
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

/// A form body (`application/x-www-form-urlencoded`), parsed. As with [`Query`], its problem
/// is reported when the handler asks (pages: `Viewer::form`), and a control character in any
/// field is refused by name before anything is looked up or stored.
pub struct Form<T>(Result<T, AppError>);

impl<T> Form<T> {
    pub fn into_inner(self) -> Result<T, AppError> {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = media_type(req).is_some_and(|m| m == "application/x-www-form-urlencoded");
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let parsed = async {
                let bytes = bytes.await.map_err(payload_error)?;
                if !is_form {
                    return Err(AppError::UnsupportedMediaType(crate::domain::Text {
                        zh: "表单须为 application/x-www-form-urlencoded".into(),
                        en: "The form must be application/x-www-form-urlencoded".into(),
                    }));
                }
                let text = std::str::from_utf8(&bytes).map_err(|_| {
                    AppError::bad_request("表单内容不是有效的 UTF-8", "The form is not valid UTF-8")
                })?;
                parse_query(text)
            };
            Ok(Form(parsed.await))
        })
    }
}

/// Parse a query string, naming the parameter whose value is of the wrong type.
pub fn parse_query<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let bad: Vec<Problem> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, v)| has_control(k) || has_control(v))
        .map(|(k, _)| forbidden_problem(&shown(&k)))
        .collect();
    if let Some(first) = bad.first() {
        return Err(AppError::BadRequest(first.message.clone(), bad));
    }
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
                    let param = |k: &str| e.params.get(k).map(|v| v.to_string());
                    let (min, max) = (param("min"), param("max"));
                    let (zh, en) = match e.code.as_ref() {
                        "length" => {
                            let list = e.params.get("value").is_some_and(|v| v.is_array());
                            let (zh_unit, en_unit) = if list {
                                ("项", "items")
                            } else {
                                ("个字符", "characters")
                            };
                            match (min, max) {
                                (Some(a), Some(b)) if a == b => (
                                    format!("须为 {a} {zh_unit}"),
                                    format!("must be {a} {en_unit}"),
                                ),
                                (Some(a), Some(b)) => (
                                    format!("须为 {a} 到 {b} {zh_unit}"),
                                    format!("must be {a} to {b} {en_unit}"),
                                ),
                                (Some(a), None) => (
                                    format!("至少 {a} {zh_unit}"),
                                    format!("must be at least {a} {en_unit}"),
                                ),
                                (None, Some(b)) => (
                                    format!("最多 {b} {zh_unit}"),
                                    format!("must be at most {b} {en_unit}"),
                                ),
                                (None, None) => {
                                    ("长度不符".to_owned(), "has the wrong length".to_owned())
                                }
                            }
                        }
                        "range" => match (min, max) {
                            (Some(a), Some(b)) => (
                                format!("须在 {a} 到 {b} 之间"),
                                format!("must be between {a} and {b}"),
                            ),
                            (Some(a), None) => {
                                (format!("不能小于 {a}"), format!("must be at least {a}"))
                            }
                            (None, Some(b)) => {
                                (format!("不能大于 {b}"), format!("must be at most {b}"))
                            }
                            (None, None) => ("超出范围".to_owned(), "is out of range".to_owned()),
                        },
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
                    // Named as the form names the field (its code when it has no label).
                    let (zh_name, en_name) = crate::web::fields::named(&path);
                    out.push(Problem::new(
                        &path,
                        &e.code,
                        format!("{zh_name}：{zh}"),
                        format!("{en_name} {en}"),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The cheap test never lets a forbidden character through, however JSON writes it.
    #[test]
    fn every_forbidden_character_is_caught_as_serde_json_or_a_client_writes_it() {
        let forbidden = (0u32..0x20).chain(0x7F..0xA0).filter_map(char::from_u32);
        for c in forbidden.filter(|c| is_forbidden_char(*c)) {
            let body = serde_json::to_vec(&serde_json::json!({ "a": format!("x{c}y") })).unwrap();
            assert!(may_hold_control(&body), "U+{:04X} in {body:?}", c as u32);
            let upper = format!(r#"{{"a":"x\u{:04X}y"}}"#, c as u32);
            assert!(may_hold_control(upper.as_bytes()), "{upper}");
            let problem = parse_json::<serde_json::Value>(&body).unwrap_err();
            assert!(matches!(problem, AppError::Validation(p) if p[0].path == "a"));
        }
        // Plain text, Chinese, tab and line breaks take the short way and parse.
        let plain = serde_json::to_vec(&serde_json::json!({ "a": "示范\n\t\r工程" })).unwrap();
        assert!(!may_hold_control(&plain));
        assert!(parse_json::<serde_json::Value>(&plain).is_ok());
        // An escaped character that is allowed passes the walk.
        assert!(parse_json::<serde_json::Value>(br#"{"a":"\u4e2d\u000a"}"#).is_ok());
    }
}
