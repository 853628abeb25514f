//! The shared state of a running service (the pool, the settings, the item registry, the
//! calendars, the clock, the mailer) and the one way a use case gets a connection:
//! [`AppState::run`] and [`AppState::run_as`].
//!
//! Both outer layers use it: `web` for requests, `jobs` for scheduled runs. It knows nothing of
//! HTTP, so the jobs do not depend on the web layer.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use chrono::FixedOffset;
use diesel::PgConnection;

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::config::{ClockMode, Settings};
use crate::db::DbPool;
use crate::error::AppError;
use crate::services::Ctx;
use crate::services::auth::{self, Principal, Token};
use crate::services::calendars::{Calendars, RegionCalendar};
use crate::services::items::Registry;
use crate::services::notify::MailContext;

/// Shared, immutable after start (the registry loads versions stored by other instances).
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    /// The read replica's pool (`database.read_url`), for reports and dashboards.
    pub read_pool: Option<DbPool>,
    read_gate: Option<Arc<tokio::sync::Semaphore>>,
    pub items: Arc<Registry>,
    pub calendars: Arc<Calendars>,
    pub clock: Arc<dyn Clock>,
    /// Present in the demo and test environments: the clock administrators may move.
    pub manual_clock: Option<Arc<ManualClock>>,
    pub settings: Arc<Settings>,
    pub offset: FixedOffset,
    /// Sender, links and signature of outgoing mail.
    pub mail: Arc<MailContext>,
    /// Where the outbox job sends mail.
    pub mailer: Arc<crate::mail::Mailer>,
    /// This process among several on one database (host, pid and a random suffix).
    pub instance: Arc<str>,
    /// As many permits as the pool has connections: use cases wait here, in arrival order,
    /// rather than on a blocking thread inside the pool's checkout, whose wake-ups favour no
    /// one (at 32 clients on 8 connections that unfairness was the tail of the latency).
    pub db_gate: Arc<tokio::sync::Semaphore>,
    /// The bureau as it issues and seals documents.
    pub issuer: Arc<crate::services::documents::Issuer>,
    /// Where the SPGL rows go (services::exchange).
    pub front: Arc<crate::services::exchange::Front>,
    /// The HTTP client of the permit uploads.
    pub http: reqwest::Client,
    /// Begun on SIGTERM: readiness fails and no new job run starts (see [`Shutdown`]).
    pub shutdown: Arc<Shutdown>,
}

/// The process's way out. Once begun, `/readyz` answers 503 (a proxy stops routing here) and
/// the scheduler starts no new run; shutdown then waits for the runs in progress, which hold a
/// read guard each, by taking the write side.
#[derive(Debug, Default)]
pub struct Shutdown {
    begun: std::sync::atomic::AtomicBool,
    runs: Arc<tokio::sync::RwLock<()>>,
}

impl Shutdown {
    pub fn begin(&self) {
        self.begun.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn begun(&self) -> bool {
        self.begun.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Permission to start a job run: the guard keeps shutdown waiting until the run ends.
    /// `None` once shutdown has begun (or is waiting for the runs: the lock prefers its
    /// writer). The flag is read after the guard is taken: a run that gets its guard after
    /// [`Shutdown::runs_finished`] returned sees the flag set, so none slips through.
    pub fn job_run(&self) -> Option<tokio::sync::OwnedRwLockReadGuard<()>> {
        let guard = self.runs.clone().try_read_owned().ok()?;
        (!self.begun()).then_some(guard)
    }

    /// Wait for every run in progress to end (call after [`Shutdown::begin`]).
    pub async fn runs_finished(&self) {
        drop(self.runs.write().await);
    }
}

impl AppState {
    /// Build the shared state from the settings and the prepared database.
    pub fn new(
        settings: Settings,
        prepared: crate::Prepared,
    ) -> anyhow::Result<(AppState, Option<Arc<ManualClock>>)> {
        let (clock, manual_clock): (Arc<dyn Clock>, _) = match settings.clock.mode {
            ClockMode::System => (Arc::new(SystemClock), None),
            ClockMode::Manual => {
                let c = ManualClock::new(SystemClock.now());
                (c.clone() as Arc<dyn Clock>, Some(c))
            }
        };
        let offset = FixedOffset::east_opt(settings.authority.utc_offset_minutes * 60)
            .context("authority.utc_offset_minutes is out of range")?;
        let mailer = Arc::new(crate::mail::Mailer::from_settings(&settings)?);
        let mail_context = Arc::new(MailContext {
            from: settings
                .mail
                .from
                .parse()
                .context("mail.from is not a mailbox")?,
            public_url: settings.mail.public_url.clone(),
            authority: crate::domain::Text {
                zh: settings.authority.name_zh.clone(),
                en: settings.authority.name_en.clone(),
            },
        });
        let issuer = Arc::new(crate::services::documents::Issuer {
            name_zh: settings.authority.name_zh.clone(),
            credit_code: settings.authority.credit_code.clone(),
            division_code: settings.authority.division_code.clone(),
            seal_role: settings.authority.seal_role.clone(),
            key: seal_key(&settings)?,
            public_url: settings.mail.public_url.clone(),
        });
        let front = Arc::new(crate::services::exchange::Front::of(
            &settings,
            &prepared.database.url,
        )?);
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .context("the HTTP client")?;
        let read_pool = crate::db::build_read_pool(&settings.database)?;
        let state = AppState {
            read_gate: read_pool
                .as_ref()
                .map(|p| Arc::new(tokio::sync::Semaphore::new(p.max_size() as usize))),
            read_pool,
            issuer,
            front,
            http,
            mail: mail_context,
            mailer,
            instance: instance_name().into(),
            db_gate: Arc::new(tokio::sync::Semaphore::new(
                prepared.pool.max_size() as usize
            )),
            shutdown: Arc::new(Shutdown::default()),
            pool: prepared.pool,
            items: prepared.items,
            calendars: prepared.calendars,
            clock,
            manual_clock: manual_clock.clone(),
            settings: Arc::new(settings),
            offset,
        };
        Ok((state, manual_clock))
    }

    /// Today in the authority's time zone, by the service's clock.
    pub fn today(&self) -> chrono::NaiveDate {
        crate::clock::local_date(self.clock.now(), self.offset)
    }

    /// Run one use case on a pooled connection off the async workers. The connection is taken
    /// inside the blocking closure and returned when it ends: never held across an `.await`.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_named(use_case_name::<F>(), f).await
    }

    /// [`AppState::run`], naming the use case's span.
    async fn run_named<T, F>(&self, name: &'static str, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        // No longer than a pool checkout may take: then 503, as when the pool is exhausted.
        let wait = std::time::Duration::from_millis(self.settings.database.checkout_timeout_ms);
        let queued = std::time::Instant::now();
        let _turn = tokio::time::timeout(wait, self.db_gate.acquire())
            .await
            .map_err(|_| AppError::Unavailable)?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("the database gate closed: {e}")))?;
        self.clone().blocking(queued, name, false, f).await
    }

    /// How far behind the read replica is (`None` with no replica configured).
    pub async fn replica_lag(&self) -> Result<Option<f64>, AppError> {
        let Some(gate) = self.read_gate.clone() else {
            return Ok(None);
        };
        let wait = std::time::Duration::from_millis(self.settings.database.checkout_timeout_ms);
        let queued = std::time::Instant::now();
        let _turn = tokio::time::timeout(wait, gate.acquire())
            .await
            .map_err(|_| AppError::Unavailable)?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("the read gate closed: {e}")))?;
        self.clone()
            .blocking(
                queued,
                "permits::repo::metrics::replica_lag",
                true,
                |conn, _| Ok(crate::repo::metrics::replica_lag(conn)?),
            )
            .await
    }

    /// Like [`AppState::run_as`], for a use case that only reads (reports, dashboards): on the
    /// read replica when one is configured, with how far behind it is (`None` when reading
    /// from the primary). The token is checked on the primary first, so a session that just
    /// began or just ended counts at once, not when the replica catches up.
    pub async fn run_read_as<T, F>(
        &self,
        token: impl Into<Token>,
        f: F,
    ) -> Result<(T, Option<f64>), AppError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>, &Principal) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let name = use_case_name::<F>();
        let token = token.into();
        let Some(gate) = self.read_gate.clone() else {
            return self
                .run_named(name, move |conn, ctx| {
                    let p = auth::principal(conn, &token, ctx.now)?;
                    Ok((f(conn, ctx, &p)?, None))
                })
                .await;
        };
        let p = self
            .run_named("permits::services::auth::principal", move |conn, ctx| {
                auth::principal(conn, &token, ctx.now)
            })
            .await?;
        let wait = std::time::Duration::from_millis(self.settings.database.checkout_timeout_ms);
        let queued = std::time::Instant::now();
        let _turn = tokio::time::timeout(wait, gate.acquire())
            .await
            .map_err(|_| AppError::Unavailable)?
            .map_err(|e| AppError::Internal(anyhow::anyhow!("the read gate closed: {e}")))?;
        self.clone()
            .blocking(queued, name, true, move |conn, ctx| {
                let value = f(conn, ctx, &p)?;
                let lag = crate::repo::metrics::replica_lag(conn)?;
                Ok((value, lag))
            })
            .await
    }

    /// Like [`AppState::run`] if a connection is free now; `None` (and nothing run) otherwise.
    /// For work that may run beside other work or after it, and should not wait to run beside.
    pub fn try_run<T, F>(
        &self,
        f: F,
    ) -> Option<impl Future<Output = Result<T, AppError>> + use<T, F>>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let queued = std::time::Instant::now();
        let turn = self.db_gate.clone().try_acquire_owned().ok()?;
        let state = self.clone();
        Some(async move {
            let _turn = turn;
            state.blocking(queued, use_case_name::<F>(), false, f).await
        })
    }

    /// The use case on a blocking thread, with a connection taken there. `queued`: when it
    /// began to wait for its turn (the metrics' wait for a connection ends at the checkout).
    async fn blocking<T, F>(
        self,
        queued: std::time::Instant,
        name: &'static str,
        read: bool,
        f: F,
    ) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        // The use case's span, a child of the caller's (the request's, with its id), goes along
        // to the blocking thread: what the use case logs is found with the request, and its
        // statements are its children in a trace.
        let span = tracing::debug_span!(
            target: "permits::use_case",
            "use case",
            otel.name = name,
            code.function = name,
        );
        actix_web::web::block(move || {
            let _entered = span.enter();
            let calendar = self.calendar()?;
            let pool = match (&self.read_pool, read) {
                (Some(replica), true) => replica,
                _ => &self.pool,
            };
            let mut conn = pool.get()?;
            crate::metrics::pool_wait(queued.elapsed());
            let ctx = Ctx {
                items: &self.items,
                calendar: &calendar.calendar,
                now: self.clock.now(),
                offset: self.offset,
                mail: &self.mail,
                issuer: &self.issuer,
            };
            f(&mut conn, &ctx)
        })
        .await?
    }

    /// Like [`AppState::run`], for a caller who presented a token: the token is checked on the
    /// use case's connection, in the same blocking call (one hop, not two). A token that is
    /// not live is 401 before the use case runs.
    pub async fn run_as<T, F>(&self, token: impl Into<Token>, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut PgConnection, &Ctx<'_>, &Principal) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let token = token.into();
        self.run_named(use_case_name::<F>(), move |conn, ctx| {
            let p = auth::principal(conn, &token, ctx.now)?;
            f(conn, ctx, &p)
        })
        .await
    }

    /// The authority's calendar (a notice loaded meanwhile is picked up on the next request).
    pub fn calendar(&self) -> Result<Arc<RegionCalendar>, AppError> {
        let region = &self.settings.authority.region;
        self.calendars
            .get(region)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no calendar for region {region}")))
    }

    /// Several instances share one database: pick up a notice another instance loaded.
    /// Loading through this instance reloads at once; this bounds the delay elsewhere to a
    /// minute.
    pub async fn watch_calendars(self) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let st = self.clone();
            let result = self
                .run(move |conn, _| Ok(st.calendars.refresh_if_changed(conn)?))
                .await;
            match result {
                Ok(true) => tracing::info!("calendars reloaded: another instance loaded a notice"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "checking the calendars failed"),
            }
        }
    }
}

/// A use case's name for its span: the function its closure is written in
/// (`permits::web::api::filings::act`), from the closure's type name.
fn use_case_name<F>() -> &'static str {
    let mut name = std::any::type_name::<F>();
    // A handler of actix's route macros is written inside
    // `<permits::web::api::filings::act as actix_web::service::HttpServiceFactory>::register`.
    if let Some(handler) = name
        .strip_prefix('<')
        .and_then(|n| n.split_once(" as "))
        .map(|(handler, _)| handler)
    {
        return handler;
    }
    while let Some(outer) = name.strip_suffix("::{{closure}}") {
        name = outer;
    }
    name
}

/// A name for this process among several on one database: host, pid and a random suffix.
pub fn instance_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let suffix: u32 = rand::random();
    format!("{host}:{}:{suffix:08x}", std::process::id())
}

/// The key that seals documents: the configured file; else (demo and test, production refuses
/// at validation) the one under `<var_dir>/seal/`, made on first start.
fn seal_key(settings: &Settings) -> anyhow::Result<crate::documents::seal::SealKey> {
    use crate::documents::seal::SealKey;
    let configured = settings.documents.key_file.trim();
    if !configured.is_empty() {
        let pem = std::fs::read_to_string(configured)
            .with_context(|| format!("documents.key_file {configured} cannot be read"))?;
        return SealKey::from_pem(&pem).with_context(|| format!("documents.key_file {configured}"));
    }
    let dir = settings.storage.var_dir.join("seal");
    let path = dir.join("sm2-private.pem");
    if let Ok(pem) = std::fs::read_to_string(&path) {
        return SealKey::from_pem(&pem).with_context(|| format!("{}", path.display()));
    }
    let key = SealKey::generate();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // Written whole under a private name, then linked into place: two instances starting on
    // one var/ at once both read the key that got there first.
    let tmp = dir.join(format!("sm2-private.pem.{}", uuid::Uuid::new_v4()));
    write_private(&tmp, key.to_pem()?.as_bytes())?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let pem = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            return SealKey::from_pem(&pem).with_context(|| format!("{}", path.display()));
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    }
    std::fs::write(dir.join("sm2-public.pem"), key.public().to_pem()?)
        .with_context(|| format!("writing the public key in {}", dir.display()))?;
    tracing::warn!(
        path = %path.display(),
        key = %key.public().key_id(),
        "made a demo seal key (SM2): documents are sealed with it; production needs documents.key_file"
    );
    Ok(key)
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}
