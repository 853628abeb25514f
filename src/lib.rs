//! `permits`: a workflow and approval service for administrative permits.
//!
//! Layers point inwards: `web` → `services` → `repo` / `domain`; `domain` depends on nothing of
//! ours and does no I/O. [`Application::build`] assembles the whole service for `main` and for
//! the tests, which run the real application on port 0.

pub mod app;
pub mod clock;
pub mod config;
pub mod db;
pub mod documents;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod logging;
pub mod mail;
pub mod metrics;
pub mod repo;
pub mod services;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, web as aweb};
use anyhow::Context;

pub use crate::app::AppState;
use crate::clock::{Clock, ManualClock, SystemClock};
use crate::config::Settings;
use crate::db::DbPool;
use crate::db::discovery::{self, Discovered};
use crate::services::calendars::{self as calendar_service, Calendars};
use crate::services::items::Registry;

/// The database found, migrated and loaded with reference data and item definitions.
pub struct Prepared {
    pub database: Discovered,
    pub pool: DbPool,
    pub items: Arc<Registry>,
    pub calendars: Arc<Calendars>,
    pub departments: Vec<String>,
}

/// The database URL: the configured one, else DATABASE_URL, else discovered.
pub fn find_database(settings: &Settings) -> anyhow::Result<Discovered> {
    let explicit = Some(settings.database.url.clone())
        .filter(|u| !u.trim().is_empty())
        .or_else(|| {
            std::env::var("DATABASE_URL")
                .ok()
                .filter(|u| !u.trim().is_empty())
        });
    discovery::discover(
        explicit.as_deref(),
        &settings.database.name,
        &settings.storage.var_dir,
    )
}

/// Find the database, run migrations, store departments and item definitions.
pub fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    let database = find_database(settings)?;
    let pool = db::build_pool(&database.url, &settings.database)?;
    let mut conn = pool.get().context("connecting to the database")?;
    let applied = db::migrate(&mut conn)?;
    for m in &applied {
        tracing::info!(migration = %m, "applied");
    }
    let departments = services::seed::departments(&mut conn, &settings.root.join("seeds"))?;
    let now = SystemClock.now();
    let rules = services::items::Rules::load(&settings.rules_dir(), &settings.authority.rules)?;
    let items = Registry::sync(&mut conn, &settings.items_dir(), &rules, &departments, now)?;
    calendar_service::sync_seeds(&mut conn, &settings.root.join("seeds/calendars"), now)?;
    let calendars = Calendars::load(&mut conn)?;
    if calendars.get(&settings.authority.region).is_none() {
        anyhow::bail!(
            "authority.region = {} has no calendar (known: {})",
            settings.authority.region,
            calendars.regions().join(", ")
        );
    }
    if settings.demo.seed {
        let created = services::seed::demo_users(&mut conn, now)?;
        if created > 0 {
            tracing::info!(created, "demo users created");
        }
    }
    Ok(Prepared {
        database,
        pool,
        items: Arc::new(items),
        calendars: Arc::new(calendars),
        departments,
    })
}

/// Make the demo office's year (`services::demo`) if the database holds no filing: at the
/// service's time, or on `demo.today` at 09:00 when set. `None` when filings exist.
pub fn demo_office(state: &AppState) -> anyhow::Result<Option<services::demo::Made>> {
    let calendar = state.calendar().map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = match state.settings.demo.today {
        Some(day) => day
            .and_hms_opt(9, 0, 0)
            .and_then(|t| t.and_local_timezone(state.offset).single())
            .map(|t| t.with_timezone(&chrono::Utc))
            .context("demo.today has no 09:00")?,
        None => state.clock.now(),
    };
    let ctx = services::Ctx {
        items: &state.items,
        calendar: &calendar.calendar,
        now,
        offset: state.offset,
        mail: &state.mail,
        issuer: &state.issuer,
    };
    let setup = services::demo::Setup {
        uploads: state.settings.upload_dir(),
        jobs: state.settings.jobs.clone(),
        platform_files: (state.settings.exchange.platform_url == "file")
            .then(|| state.settings.storage.var_dir.join("platform")),
    };
    let mut conn = state.pool.get().context("connecting to the database")?;
    services::demo::make_if_empty(&mut conn, &ctx, &setup)
        .map_err(|e| anyhow::anyhow!("making the demo office: {e:?}"))
}

pub struct Application {
    port: u16,
    server: Server,
    /// `/metrics` on an address of its own (`telemetry.metrics_bind`), with its port.
    metrics_server: Option<(u16, Server)>,
    pub state: AppState,
    /// Set when the clock is manual (test and demo): move it to exercise deadlines.
    pub manual_clock: Option<Arc<ManualClock>>,
    pub database_url: String,
    /// The listening socket, shared with the server: on SIGTERM it turns new connections away
    /// before the server stops (see `turn_connections_away`).
    listening: TcpListener,
}

impl Application {
    /// Build the service and bind its listener (port 0 picks a free port).
    pub fn build(settings: Settings, bind: &str) -> anyhow::Result<Application> {
        let prepared = prepare(&settings)?;
        Self::build_with(settings, prepared, bind)
    }

    pub fn build_with(
        settings: Settings,
        prepared: Prepared,
        bind: &str,
    ) -> anyhow::Result<Application> {
        jobs::check_schedule(&settings)?;
        let database_url = prepared.database.url.clone();
        let (state, manual_clock) = AppState::new(settings, prepared)?;
        // Before listening, so that no client ever races the making of the demo year.
        if state.settings.demo.office {
            demo_office(&state)?;
        }
        let listener = TcpListener::bind(bind).with_context(|| format!("binding {bind}"))?;
        let port = listener.local_addr()?.port();
        let listening = listener
            .try_clone()
            .context("sharing the listening socket")?;
        let json_limit = state.settings.server.json_limit_kib * 1024;
        let workers = match state.settings.server.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let data = aweb::Data::new(state.clone());
        let telemetry = &state.settings.telemetry;
        if telemetry.metrics {
            metrics::install();
        }
        // /metrics on the service's own address, or on one of its own (production).
        let metrics_here = telemetry.metrics && telemetry.metrics_bind.trim().is_empty();
        let server = HttpServer::new(move || {
            let app = App::new()
                .app_data(data.clone())
                .app_data(web::extract::json_config(json_limit))
                .app_data(web::extract::path_config())
                .app_data(aweb::PayloadConfig::new(json_limit))
                .wrap(from_fn(web::allow::head_as_get))
                .wrap(from_fn(localize_errors))
                .wrap(tracing_actix_web::TracingLogger::<
                    web::telemetry::RequestSpan,
                >::new())
                .wrap(from_fn(web::telemetry::observe));
            let app = if metrics_here {
                app.route("/metrics", aweb::get().to(web::telemetry::metrics))
            } else {
                app
            };
            app.configure(web::configure)
                .default_service(aweb::to(not_found))
        })
        .workers(workers)
        // SIGTERM and SIGINT are handled in `run_until_stopped`, which stops the jobs too.
        .disable_signals()
        .shutdown_timeout(state.settings.server.shutdown_timeout_seconds)
        .listen(listener)?
        .run();
        let metrics_server = match telemetry.metrics_bind.trim() {
            bind if telemetry.metrics && !bind.is_empty() => {
                let data = aweb::Data::new(state.clone());
                let listener =
                    TcpListener::bind(bind).with_context(|| format!("binding {bind} (metrics)"))?;
                let metrics_port = listener.local_addr()?.port();
                tracing::info!(bind, port = metrics_port, "serving /metrics");
                Some((
                    metrics_port,
                    HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .route("/metrics", aweb::get().to(web::telemetry::metrics))
                    })
                    .workers(1)
                    .disable_signals()
                    .listen(listener)?
                    .run(),
                ))
            }
            _ => None,
        };
        Ok(Application {
            port,
            server,
            metrics_server,
            state,
            manual_clock,
            database_url,
            listening,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `/metrics` when it has an address of its own.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(port, _)| *port)
    }

    /// Serve and run the jobs until SIGTERM or SIGINT, then shut down gracefully: `/readyz`
    /// fails at once, new connections are turned away (which a proxy retries elsewhere: nothing
    /// was sent on them), requests in flight and a running job get
    /// `server.shutdown_timeout_seconds` to finish, and this instance's untried outbox claims
    /// and job leases are released. A second signal exits at once (status 1). Each step is
    /// logged.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let state = self.state;
        actix_web::rt::spawn(state.clone().watch_calendars());
        actix_web::rt::spawn(metrics::upkeep());
        if let Some((_, metrics_server)) = self.metrics_server {
            // Ends with the process (its own signal handling is off).
            actix_web::rt::spawn(metrics_server);
        }
        let scheduler = jobs::start(state.clone()).await?;
        let handle = self.server.handle();
        let mut server = self.server;
        let signal = tokio::select! {
            served = &mut server => {
                jobs::wind_down(&state, scheduler, std::time::Instant::now()).await;
                return Ok(served?);
            }
            signal = stop_requested() => signal?,
        };
        let timeout = state.settings.server.shutdown_timeout_seconds;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout);
        tracing::info!(
            signal,
            timeout_seconds = timeout,
            "shutdown: begun; /readyz fails"
        );
        state.shutdown.begin();
        actix_web::rt::spawn(async move {
            if let Ok(again) = stop_requested().await {
                // The operator means it: requests and job runs still going are cut off, and
                // their transactions roll back as their connections close with the process.
                tracing::warn!(signal = again, "shutdown: second signal, exiting now");
                std::process::exit(1);
            }
        });
        // The drain: serve on while the proxy notices `/readyz` and every answer closes its
        // connection (`web::telemetry::observe`), so that no kept-alive connection is idle
        // and open when the server closes it, when a request may be on its way on it.
        let drain = state.settings.server.drain_seconds;
        if drain > 0 {
            tracing::info!(
                drain_seconds = drain,
                "shutdown: draining; still serving, every answer closes its connection"
            );
            tokio::time::sleep(std::time::Duration::from_secs(drain)).await;
        }
        // actix stops its acceptor and its workers at once: a stopping worker drops the
        // connections accepted but not yet handed to it, and closing the listener resets those
        // the kernel has queued; either way a client that sent its request sees it cut off. So
        // turn new connections away first, let the acceptor take the queued ones into workers,
        // which finish them, and only then stop (see `turn_connections_away`).
        match turn_connections_away(&self.listening) {
            Ok(()) => tracing::info!("shutdown: new connections are turned away"),
            Err(e) => tracing::warn!(error = %e, "shutdown: turning new connections away failed"),
        }
        // The acceptor takes a queued connection within microseconds and hands it to a worker
        // at once; this is ample even on a loaded machine.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // Our copy of the socket must not keep it listening (silently dropping connection
        // attempts) once the server has closed its own: closed, it refuses them.
        drop(self.listening);
        let serving = async {
            let (_, served) = futures_util::future::join(handle.stop(true), &mut server).await;
            tracing::info!(
                "shutdown: the HTTP server stopped; every request was answered or the timeout ran out"
            );
            served
        };
        let (served, ()) =
            futures_util::future::join(serving, jobs::wind_down(&state, scheduler, deadline)).await;
        tracing::info!("shutdown: done");
        Ok(served?)
    }

    /// Run the server in the background; the handle stops it.
    pub fn spawn(
        self,
    ) -> (
        u16,
        AppState,
        Option<Arc<ManualClock>>,
        actix_web::dev::ServerHandle,
    ) {
        let handle = self.server.handle();
        let port = self.port;
        let state = self.state.clone();
        let clock = self.manual_clock.clone();
        actix_web::rt::spawn(self.state.clone().watch_calendars());
        actix_web::rt::spawn(metrics::upkeep());
        if let Some((_, metrics_server)) = self.metrics_server {
            actix_web::rt::spawn(metrics_server);
        }
        let jobs_state = self.state.clone();
        actix_web::rt::spawn(async move {
            match jobs::start(jobs_state).await {
                Ok(Some(scheduler)) => {
                    // Keep the scheduler alive as long as the runtime runs.
                    let _keep = scheduler;
                    std::future::pending::<()>().await;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "the scheduler did not start"),
            }
        });
        actix_web::rt::spawn(self.server);
        (port, state, clock, handle)
    }
}

/// Make the listening socket take no new connection while those the kernel already completed
/// are still accepted. On Linux a socket filter that drops every packet does it: a new
/// connection's SYN goes unanswered, the client sends it again a second later and by then the
/// listener is closed and refuses it (a proxy tries another instance; nothing was sent), while
/// connections already queued are sockets of their own, made before the filter, and are
/// accepted and served. Elsewhere the listener is shut down, which refuses new connections at
/// once but resets the queued ones.
fn turn_connections_away(listener: &TcpListener) -> std::io::Result<()> {
    let socket = socket2::SockRef::from(listener);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // BPF_RET | BPF_K with 0: keep no byte of any packet.
        const DROP_EVERY_PACKET: u16 = 0x06;
        socket.attach_filter(&[socket2::SockFilter::new(DROP_EVERY_PACKET, 0, 0, 0)])
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        socket.shutdown(std::net::Shutdown::Read)
    }
}

/// The first SIGTERM or SIGINT (Ctrl-C), by name.
async fn stop_requested() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
    }
}

async fn not_found(
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, error::AppError> {
    use actix_web::HttpMessage;
    req.extensions_mut().insert(web::telemetry::Unmatched);
    // A route's path with a method none of its routes takes: 405 with what they take.
    if let Some(pattern) = req.resource_map().match_pattern(req.path()) {
        let allow = web::allow::methods(&pattern).unwrap_or_else(|| {
            tracing::warn!(pattern, "a route missing from web::allow's table");
            String::new()
        });
        return Err(error::AppError::MethodNotAllowed { allow });
    }
    Err(error::AppError::NotFound)
}

async fn localize_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    Ok(error::localize(res.map_into_boxed_body()))
}
