//! The process's logs and traces.
//!
//! - **Logs**, chosen by `telemetry.log_format`: human text for the demo, one JSON object a
//!   line for production's log shipper. Each line of a request carries the request's span, and
//!   with it its `request_id` (see `web::telemetry`). `RUST_LOG` filters them as usual
//!   (default: `info`, the scheduler's chatter at `warn`).
//! - **Traces**, when `telemetry.otlp_endpoint` is set: OpenTelemetry spans exported over
//!   OTLP/HTTP (JSON) in batches: a span for each request (`web::telemetry::RequestSpan`),
//!   each use case (`AppState::run`), each database statement (its SQL, never its values:
//!   [`DbSpans`]) and each job run. Use cases and statements are `debug` spans of `permits`:
//!   the traces see them whatever `RUST_LOG` says, the logs only when asked. Off, no span is
//!   made for a statement.
//!
//!   A request that arrives with a W3C `traceparent` header (from a proxy or a client that
//!   traces) continues that trace: its span's parent is the caller's span
//!   ([`remote_parent`]). Its log lines carry the caller's `trace_id` whether or not spans
//!   are exported.
//!
//! The batch's timing follows the SDK's environment variables (`OTEL_BSP_SCHEDULE_DELAY` ...).

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, Telemetry};

/// Whether spans are exported (an OTLP endpoint is set): only then is a caller's
/// `traceparent` read.
static EXPORTING: AtomicBool = AtomicBool::new(false);

pub fn traces_exported() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The caller's span from a request's W3C Trace Context headers (`traceparent`, and
/// `tracestate` carried along), when it sent a valid one: the request's span becomes its child.
pub fn remote_parent(
    headers: &actix_web::http::header::HeaderMap,
) -> Option<opentelemetry::Context> {
    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use opentelemetry::trace::TraceContextExt;

    struct Headers<'a>(&'a actix_web::http::header::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    // W3C Trace Context §3.2: version-traceid-parentid-flags, exactly 2, 32, 16 and 2 lowercase
    // hex digits (the SDK's parser also takes shorter ids).
    let value = headers.get("traceparent")?.to_str().ok()?;
    let shape_ok = value.split('-').map(str::len).eq([2, 32, 16, 2]);
    let hex_ok = value
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-');
    if !(shape_ok && hex_ok) {
        return None;
    }
    let cx =
        opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&Headers(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn"))
}

/// Flushes the traces not yet exported when dropped (at the end of `main`).
pub struct Guard(Option<SdkTracerProvider>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("exporting the last traces failed: {e}");
        }
    }
}

/// Install the global subscriber (logs, and traces when configured). Called once, by `main`.
pub fn init(telemetry: &Telemetry) -> anyhow::Result<Guard> {
    let logs = match telemetry.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            // The request's fields (request_id, method, path) on every line.
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
    };
    let endpoint = telemetry.otlp_endpoint.trim();
    let (traces, provider) = if endpoint.is_empty() {
        (None, None)
    } else {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(endpoint)
            .build()
            .with_context(|| format!("telemetry.otlp_endpoint = {endpoint}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(telemetry.service_name.clone())
                    .build(),
            )
            .build();
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("permits"))
            .with_filter(EnvFilter::new(
                "info,permits=debug,tokio_cron_scheduler=warn",
            ))
            .boxed();
        // Every connection made from now on (the pool is built after this) traces its
        // statements.
        diesel::connection::set_default_instrumentation(|| Some(Box::new(DbSpans::default())))
            .context("tracing the database statements")?;
        (Some(layer), Some(provider))
    };
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .try_init()
        .context("setting up logging")?;
    if provider.is_some() {
        EXPORTING.store(true, Ordering::Relaxed);
        tracing::info!(endpoint, "exporting traces over OTLP");
    }
    Ok(Guard(provider))
}

/// Logging before the settings are read (their errors): plain text.
pub fn init_plain() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter())
        .try_init();
}

/// A span for each statement a connection runs, a child of the span current when it starts
/// (the use case's), from start to finish. It records the SQL only: values are bound
/// separately and may be personal data.
#[derive(Default)]
pub struct DbSpans {
    open: Vec<tracing::Span>,
}

impl diesel::connection::Instrumentation for DbSpans {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        use diesel::connection::InstrumentationEvent as E;
        match event {
            E::StartQuery { query, .. } => {
                let text = query.to_string();
                // Diesel's display appends the bound values: keep the statement only.
                let sql = text.split(" -- binds:").next().unwrap_or("").trim();
                let verb = sql.split_whitespace().next().unwrap_or("").to_uppercase();
                self.open.push(tracing::debug_span!(
                    target: "permits::db",
                    "db",
                    otel.name = %format!("db {verb}"),
                    otel.kind = "client",
                    db.system = "postgresql",
                    db.statement = %sql,
                    otel.status_code = tracing::field::Empty,
                ));
            }
            E::FinishQuery { error, .. } => {
                if let Some(span) = self.open.pop()
                    && error.is_some()
                {
                    span.record("otel.status_code", "ERROR");
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
    use opentelemetry::trace::TraceContextExt;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("traceparent"),
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn a_valid_traceparent_names_the_callers_span_and_a_bad_one_is_ignored() {
        let cx = remote_parent(&with(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .expect("a valid traceparent");
        let span = cx.span().span_context().clone();
        assert_eq!(
            span.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span.span_id().to_string(), "00f067aa0ba902b7");
        // Malformed, all-zero ids, or no header: no parent, the request starts its own trace.
        for bad in [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(remote_parent(&with(bad)).is_none(), "{bad}");
        }
        assert!(remote_parent(&HeaderMap::new()).is_none());
    }
}
