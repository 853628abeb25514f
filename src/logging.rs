//! The process's log (and trace) output, chosen by `telemetry.log_format`: human text for the
//! demo, one JSON object a line for production's log shipper. Each line of a request carries
//! the request's span, and with it its `request_id` (see `web::telemetry`).
//!
//! `RUST_LOG` filters as usual (default: `info`, the scheduler's chatter at `warn`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, Telemetry};

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn"))
}

/// Install the global subscriber. Called once, by `main`; a second call does nothing.
pub fn init(telemetry: &Telemetry) {
    let registry = tracing_subscriber::registry().with(filter());
    let installed = match telemetry.log_format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    // The request's fields (request_id, method, path) on every line, flat.
                    .with_current_span(true)
                    .with_span_list(false)
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    if let Err(e) = installed {
        eprintln!("logging was set up already: {e}");
    }
}

/// Logging before the settings are read (their errors): plain text.
pub fn init_plain() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter())
        .try_init();
}
