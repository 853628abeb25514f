//! What each request leaves behind for operations: its request id, its span, its metrics.
//!
//! - **Request id.** Taken from the proxy's `X-Request-Id` when it looks like one (letters,
//!   digits, `-`, `_`, `.`; 8 to 64 of them), else a new UUID. It is on every log line of the
//!   request (the span's `request_id`), in the `X-Request-Id` response header, in every problem
//!   document (`request_id`) and on error pages, so that a user's complaint can be found in the
//!   log.
//! - **Span.** `tracing-actix-web`'s default span also records `http.route`, which it finds by
//!   matching the path against every route's pattern once more, before routing (actix's
//!   resource map: one regex per route). Under load that was a measurable share of the
//!   service's CPU. This span keeps the method, the path, the request id and, at the end, the
//!   status and any error, as the default does.
//! - **Access log.** One line a request (`permits::access`): id, method, route, status, time,
//!   and the caller's trace id when it sent a W3C `traceparent`.
//! - **Metrics.** Requests by route template, method and status, with their latency
//!   ([`crate::metrics::http_request`]). The template is rebuilt from the path and the segments
//!   routing matched (`/api/v1/filings/{id}`), not by matching the patterns again; a path no
//!   route matched is `unmatched`, so the label set stays bounded whatever is asked.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// The request's id (see the module's documentation).
#[derive(Clone, Debug)]
pub struct RequestId(pub std::sync::Arc<str>);

impl RequestId {
    /// The id of a request that went through [`observe`] (every request of the service).
    pub fn of(req: &HttpRequest) -> Option<RequestId> {
        req.extensions().get::<RequestId>().cloned()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request id from a proxy is kept only if it is plainly an id: it goes into logs and
/// headers, so nothing that could forge a log line or a header.
fn acceptable(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The trace a caller's W3C `traceparent` header says this request is part of.
pub struct CallerTrace {
    pub context: opentelemetry::Context,
    pub trace_id: opentelemetry::trace::TraceId,
}

/// Marks a request no route matched (the default service), for the `route` label.
pub struct Unmatched;

/// The outermost middleware: the request id, then the metrics of the answer.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id: std::sync::Arc<str> = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(Into::into)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string().into());
    req.extensions_mut().insert(RequestId(id.clone()));
    let trace_id = crate::logging::remote_parent(req.headers()).map(|context| {
        use opentelemetry::trace::TraceContextExt;
        let trace_id = context.span().span_context().trace_id();
        req.extensions_mut()
            .insert(CallerTrace { context, trace_id });
        trace_id
    });
    // (Routing needs the request unshared: it cannot be cloned here for the error case. The
    // service inside turns every error into a response, so an `Err` here is not expected.)
    let mut res = next.call(req).await?.map_into_boxed_body();
    // Shutting down: this connection ends with this answer (see `server.drain_seconds`).
    if res
        .request()
        .app_data::<actix_web::web::Data<crate::AppState>>()
        .is_some_and(|state| state.shutdown.begun())
    {
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    let status = res.status().as_u16();
    let req = res.request();
    let route = route_of(req, status);
    let took = started.elapsed();
    crate::metrics::http_request(req.method().as_str(), &route, status, took);
    // The access log: one line a request (filter with RUST_LOG=permits::access=warn).
    tracing::info!(
        target: "permits::access",
        request_id = %id,
        trace_id = trace_id.map(tracing::field::display),
        method = %req.method(),
        route = %route,
        status,
        // Whole microseconds: `3.558905`, not the float noise of `3.5589049999999998`.
        ms = took.as_micros() as f64 / 1000.0,
        "request"
    );
    Ok(res)
}

/// The route template of a routed request: the path with each segment routing matched put
/// back as `{name}`.
fn route_of(req: &HttpRequest, status: u16) -> String {
    if req.extensions().get::<Unmatched>().is_some() {
        return "unmatched".into();
    }
    let info = req.match_info();
    let path = req.path();
    if info.segment_count() == 0 {
        // A static route; or, when nothing was found, a path anyone could make up.
        return if status == 404 {
            "unmatched".into()
        } else {
            path.to_owned()
        };
    }
    template(path, info.iter())
}

/// `path` with each matched value replaced by its `{name}`: the last segment matched first,
/// found as a whole segment (or several: a tail pattern's value) nearest the end. A value not
/// found as written (percent encoding) leaves the route `unmatched` rather than an id in a
/// label.
fn template<'a>(path: &str, matched: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = path.to_owned();
    let matched: Vec<_> = matched.collect();
    for (name, value) in matched.into_iter().rev() {
        if value.is_empty() {
            continue;
        }
        let found = out.rmatch_indices(value).find(|(at, _)| {
            let end = at + value.len();
            out[..*at].ends_with('/') && (end == out.len() || out[end..].starts_with('/'))
        });
        match found {
            Some((at, _)) => out.replace_range(at..at + value.len(), &format!("{{{name}}}")),
            None => return "unmatched".into(),
        }
    }
    out
}

pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().cloned();
        let span = tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.target = %request.path(),
            request_id = request_id.map(tracing::field::display),
            trace_id = tracing::field::Empty,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        );
        // A caller that traces (W3C `traceparent`, read by `observe`): the request's span
        // continues its trace when spans are exported, and names its trace id in any case.
        if let Some(caller) = request.extensions().get::<CallerTrace>() {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            span.record("trace_id", tracing::field::display(caller.trace_id));
            if crate::logging::traces_exported()
                && let Err(e) = span.set_parent(caller.context.clone())
            {
                tracing::debug!(error = %e, "continuing the caller's trace");
            }
        }
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// `GET /metrics`: Prometheus's scrape.
pub async fn metrics(
    state: actix_web::web::Data<crate::AppState>,
) -> Result<actix_web::HttpResponse, crate::error::AppError> {
    match crate::metrics::render(&state).await {
        Some(text) => Ok(actix_web::HttpResponse::Ok()
            .content_type(crate::metrics::CONTENT_TYPE)
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .body(text)),
        None => Err(crate::error::AppError::Unavailable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_template_puts_each_matched_segment_back_by_name() {
        let id = "7d9f2c1e-0000-4000-8000-000000000001";
        assert_eq!(
            template(
                &format!("/api/v1/filings/{id}/actions/approve"),
                [("id", id), ("action", "approve")].into_iter()
            ),
            "/api/v1/filings/{id}/actions/{action}"
        );
        // The same value twice: each name goes back to its own segment.
        assert_eq!(
            template(
                "/items/a/versions/a",
                [("code", "a"), ("v", "a")].into_iter()
            ),
            "/items/{code}/versions/{v}"
        );
        // Part of a segment is not a segment.
        assert_eq!(
            template("/filings/abc/x", [("id", "ab")].into_iter()),
            "unmatched"
        );
        // A tail spanning segments.
        assert_eq!(
            template(
                "/api/docs/swagger/index.css",
                [("_", "swagger/index.css")].into_iter()
            ),
            "/api/docs/{_}"
        );
    }

    #[test]
    fn only_plain_request_ids_from_a_proxy_are_kept() {
        assert!(acceptable("3f2a9c1e-77b0-4d5e-9a1b-0c2d3e4f5a6b"));
        assert!(acceptable("req_12345678.a"));
        for bad in [
            "short",
            "has space in it",
            "x\r\nSet-Cookie: a=b",
            &"a".repeat(65),
        ] {
            assert!(!acceptable(bad), "{bad:?}");
        }
    }
}
