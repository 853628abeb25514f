//! Typed settings: `config/base.toml`, then `config/<env>.toml`, then `PERMITS__SECTION__KEY`
//! variables. A bad value stops the start with the key's name; rules that span keys (production
//! refuses the manual clock and demo users) are checked in [`Settings::validate`].

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Demo,
    Test,
    Production,
}

impl Environment {
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("PERMITS_ENV").as_deref() {
            Err(_) | Ok("") | Ok("demo") => Ok(Environment::Demo),
            Ok("test") => Ok(Environment::Test),
            Ok("production") => Ok(Environment::Production),
            Ok(other) => bail!("PERMITS_ENV=`{other}` is not one of demo, test, production"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Demo => "demo",
            Environment::Test => "test",
            Environment::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip, default = "default_env")]
    pub env: Environment,
    /// The folder holding config/, seeds/ and migrations/ (the crate root by default).
    #[serde(skip)]
    pub root: PathBuf,
    pub server: Server,
    pub database: Database,
    pub auth: Auth,
    pub storage: Storage,
    pub authority: Authority,
    pub clock: ClockSettings,
    pub demo: Demo,
    pub mail: Mail,
    pub jobs: Jobs,
    pub documents: Documents,
    pub exchange: Exchange,
    pub telemetry: Telemetry,
}

/// Logs, metrics and traces (operations).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Telemetry {
    /// `text` (for people: the demo) or `json` (one object a line, for a log shipper:
    /// production).
    pub log_format: LogFormat,
    /// Serve Prometheus metrics at `/metrics`.
    pub metrics: bool,
    /// Where `/metrics` is served: empty, on the service's own address (the demo); else an
    /// address of its own (production requires one, off the public port).
    pub metrics_bind: String,
    /// Where traces go: an OTLP/HTTP endpoint (JSON), e.g.
    /// `http://127.0.0.1:4318/v1/traces` (an OpenTelemetry collector). Empty: no traces.
    pub otlp_endpoint: String,
    /// The traces' `service.name`.
    pub service_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Data exchange with the approval platforms (LAW.md §7).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// The province's front database (前置库) the SPGL rows are written to. Empty: the demo and
    /// test write to a database of their own, `<database.name>_spgl` on the same server, made
    /// on the first export; production requires it.
    pub spgl_url: String,
    /// Create the SPGL tables when they are missing (demo and test: the province's front
    /// database has its own).
    pub create_tables: bool,
    /// Rows per front-database transaction.
    pub batch_size: u32,
    /// A failed export is tried again after 30 s, doubling up to this.
    pub backoff_max_seconds: u64,
    /// Where issued permits are uploaded (建筑市场监管 platform): an http(s) URL the signed
    /// upload is POSTed to, or "file" (demo): each upload is written under
    /// `<var_dir>/platform/`.
    pub platform_url: String,
    pub platform_timeout_seconds: u64,
}

/// Documents and their seal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Documents {
    /// The SM2 private key (PKCS#8 PEM) that seals documents. Empty: in demo and test a key is
    /// made under `<var_dir>/seal/` on first start; production refuses to start without one.
    pub key_file: String,
}

fn default_env() -> Environment {
    Environment::Demo
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub bind: String,
    pub workers: usize,
    pub json_limit_kib: usize,
    /// Session cookies only over HTTPS (production, behind TLS).
    pub secure_cookies: bool,
    /// On SIGTERM, how long requests in flight and a running job's page have to finish
    /// before the process exits anyway (an unfinished transaction then rolls back).
    pub shutdown_timeout_seconds: u64,
    /// On SIGTERM, how long to go on serving as before, new connections included, while
    /// `/readyz` fails and every answer closes its connection (`Connection: close`), before
    /// turning new connections away: a proxy that polls `/readyz` stops sending here, and
    /// kept-alive connections are closed after an answer rather than while idle.
    pub drain_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: String,
    /// A read replica (streaming standby) the reports and dashboards read from; empty: they
    /// read from `url`. Nothing is ever written there (its connections are read-only), and
    /// what is shown says how far behind the replica is.
    pub read_url: String,
    pub name: String,
    pub pool_size: u32,
    pub checkout_timeout_ms: u64,
    pub statement_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub token_ttl_hours: u32,
    pub max_failed_logins: u32,
    pub lockout_minutes: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub var_dir: PathBuf,
    pub max_upload_mb: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authority {
    /// Who signs the mail: the bureau's name.
    pub name_zh: String,
    pub name_en: String,
    /// The working-day calendar (a region in seeds/calendars).
    pub region: String,
    /// The rule set the items take values from (a file of seeds/rules without `.toml`: a
    /// province's thresholds, a city's consent shares and notice lengths); empty for none.
    pub rules: String,
    /// The authority's time zone as minutes east of UTC: it decides when a day ends and when
    /// the jobs' cron strings fire (China keeps no daylight saving, so a fixed offset is exact).
    pub utc_offset_minutes: i32,
    /// The bureau's unified social credit code (18 characters): the issuer in certificate
    /// identifiers.
    pub credit_code: String,
    /// The 6-digit administrative division code: the start of construction permit numbers.
    pub division_code: String,
    /// The seal's lower line.
    pub seal_role: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    System,
    Manual,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    pub mode: ClockMode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demo {
    pub seed: bool,
    /// On a database with no filings, make a year of the office's work before listening
    /// (`services::demo`). Needs the demo users (`seed`).
    pub office: bool,
    /// The day the demo year ends on (the office's "today"); by default the clock's date.
    #[serde(default)]
    pub today: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailBackend {
    /// A real SMTP server (production).
    Smtp,
    /// One .eml file per message under `<var_dir>/mail/` (the demo default).
    File,
    /// Kept in memory (tests).
    Memory,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    pub backend: MailBackend,
    /// smtp://user:pass@host:587?tls=required (STARTTLS), smtps://user:pass@host:465 (TLS),
    /// smtp://host:25 (plain).
    pub smtp_url: String,
    /// The From header, e.g. `某区住房和城乡建设局 <noreply@example.gov.cn>`.
    pub from: String,
    /// Every SMTP call (connect, greeting, each command) must finish within this time.
    pub timeout_seconds: u64,
    /// Pooled SMTP connections, and messages sent at once.
    pub pool_size: u32,
    /// Rows claimed per round.
    pub batch_size: u32,
    /// Attempts before a message is parked as failed for an administrator.
    pub max_attempts: u32,
    /// Retry n waits about base × 2^(n-1) seconds (with jitter), at most `backoff_max_seconds`.
    pub backoff_base_seconds: u64,
    pub backoff_max_seconds: u64,
    /// A claimed row is left alone this long; a sender that died mid-send leaves it to be
    /// claimed again afterwards (at most one duplicate, with the same Message-ID).
    pub lease_seconds: u64,
    /// The address of the pages, for links in mail.
    pub public_url: String,
    /// A PEM file of the CA that signed the relay's certificate (an internal CA); empty: the
    /// public web roots.
    pub tls_root_cert: String,
}

/// Cron strings with seconds (`sec min hour day-of-month month day-of-week`), in the authority's
/// time zone. An empty string disables the job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jobs {
    /// Each job's cron string by its name (`jobs::JOBS`); an empty string disables the job.
    pub cron: std::collections::BTreeMap<String, String>,
    /// Reminders, escalations and digests go out on working days only.
    pub working_days_only: bool,
    /// A claim not acted on for this many hours returns the task to the queue.
    pub stale_claim_hours: u32,
    /// The clerk's digest lists unclaimed work due within this many working days.
    pub digest_horizon_working_days: u32,
}

impl Settings {
    /// Load the settings of `env` from `root/config`.
    pub fn load(root: &Path, env: Environment) -> anyhow::Result<Settings> {
        let dir = root.join("config");
        let base = dir.join("base.toml");
        if !base.is_file() {
            bail!(
                "{} is missing: run permits from the project folder or set PERMITS_ROOT",
                base.display()
            );
        }
        let figment = Figment::new()
            .merge(Toml::file(&base))
            .merge(Toml::file(dir.join(format!("{}.toml", env.as_str()))))
            .merge(Env::prefixed("PERMITS__").split("__").lowercase(true));
        Self::extract(figment, root, env)
    }

    /// Typed settings from a figment; every error names the key (`database.pool_size`).
    pub fn extract(figment: Figment, root: &Path, env: Environment) -> anyhow::Result<Settings> {
        let mut settings: Settings = figment.extract().map_err(|e| {
            let mut lines = Vec::new();
            for err in e {
                let key = err.path.join(".");
                lines.push(if key.is_empty() {
                    err.to_string()
                } else {
                    format!("{key}: {err}")
                });
            }
            anyhow::anyhow!("bad configuration:\n  {}", lines.join("\n  "))
        })?;
        settings.env = env;
        settings.root = root.to_path_buf();
        if settings.storage.var_dir.is_relative() {
            settings.storage.var_dir = root.join(&settings.storage.var_dir);
        }
        settings.validate()?;
        Ok(settings)
    }

    /// The project folder: PERMITS_ROOT, else the current folder if it holds config/, else the
    /// folder the crate was built from (so `cargo run` and tests work from anywhere in it).
    pub fn root() -> PathBuf {
        if let Ok(r) = std::env::var("PERMITS_ROOT") {
            return PathBuf::from(r);
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        if cwd.join("config/base.toml").is_file() {
            return cwd;
        }
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        let mut errors = Vec::new();
        if self.database.pool_size == 0 {
            errors.push("database.pool_size must be at least 1".to_owned());
        }
        if !self
            .database
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || self.database.name.is_empty()
        {
            errors.push("database.name must be lower-case letters, digits and _".to_owned());
        }
        if self.auth.token_ttl_hours == 0 {
            errors.push("auth.token_ttl_hours must be at least 1".to_owned());
        }
        if self.auth.max_failed_logins == 0 {
            errors.push("auth.max_failed_logins must be at least 1".to_owned());
        }
        if self.storage.max_upload_mb == 0 || self.storage.max_upload_mb > 1024 {
            errors.push("storage.max_upload_mb must be between 1 and 1024".to_owned());
        }
        if !(-12 * 60..=14 * 60).contains(&self.authority.utc_offset_minutes) {
            errors.push("authority.utc_offset_minutes must be between -720 and 840".to_owned());
        }
        if self.server.json_limit_kib == 0 {
            errors.push("server.json_limit_kib must be at least 1".to_owned());
        }
        if self.mail.backend == MailBackend::Smtp && self.mail.smtp_url.trim().is_empty() {
            errors.push("mail.smtp_url is required when mail.backend = \"smtp\"".to_owned());
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            errors.push(format!(
                "mail.from = {:?} is not a mailbox (`Name <address@domain>`)",
                self.mail.from
            ));
        }
        if self.mail.timeout_seconds == 0 {
            errors.push("mail.timeout_seconds must be at least 1".to_owned());
        }
        if self.mail.pool_size == 0 || self.mail.batch_size == 0 || self.mail.max_attempts == 0 {
            errors.push(
                "mail.pool_size, mail.batch_size and mail.max_attempts must be at least 1"
                    .to_owned(),
            );
        }
        if self.mail.backoff_base_seconds == 0
            || self.mail.backoff_max_seconds < self.mail.backoff_base_seconds
        {
            errors.push(
                "mail.backoff_base_seconds must be at least 1 and at most mail.backoff_max_seconds"
                    .to_owned(),
            );
        }
        // A claimed batch must be sent within its lease, or a second sender sends it too.
        let rounds = u64::from(self.mail.batch_size.div_ceil(self.mail.pool_size.max(1)));
        let needed = (rounds + 1) * self.mail.timeout_seconds;
        if self.mail.lease_seconds < needed {
            errors.push(format!(
                "mail.lease_seconds must be at least {needed}: (batch_size / pool_size + 1) x timeout_seconds"
            ));
        }
        for (name, cron) in &self.jobs.cron {
            if !cron.trim().is_empty() && cron.split_whitespace().count() != 6 {
                errors.push(format!(
                    "jobs.cron.{name} = {cron:?}: a cron string has six fields, seconds first (\"0 */5 * * * *\")"
                ));
            }
        }
        let x = &self.exchange;
        if x.platform_url != "file"
            && !x.platform_url.starts_with("https://")
            && !x.platform_url.starts_with("http://")
        {
            errors.push(format!(
                "exchange.platform_url = {:?} must be an http(s) address or \"file\"",
                x.platform_url
            ));
        }
        if x.batch_size == 0 || x.platform_timeout_seconds == 0 || x.backoff_max_seconds < 30 {
            errors.push(
                "exchange.batch_size and exchange.platform_timeout_seconds must be at least 1, exchange.backoff_max_seconds at least 30"
                    .to_owned(),
            );
        }
        let credit = &self.authority.credit_code;
        if !crate::domain::forms::credit_code_valid(credit) {
            errors.push(format!(
                "authority.credit_code = {credit:?} is not a unified social credit code (GB 32100: 18 characters and its check character)"
            ));
        }
        let division = &self.authority.division_code;
        if division.len() != 6 || !division.chars().all(|c| c.is_ascii_digit()) {
            errors.push(format!(
                "authority.division_code = {division:?} must be the 6-digit administrative division code"
            ));
        }
        if self.demo.office && !self.demo.seed {
            errors.push(
                "demo.office = true needs demo.seed = true: the office's staff are the demo users"
                    .to_owned(),
            );
        }
        if self.env == Environment::Production {
            if self.documents.key_file.trim().is_empty() {
                errors.push(
                    "documents.key_file is required in production: the SM2 key that seals documents (PKCS#8 PEM)"
                        .to_owned(),
                );
            }
            if self.mail.backend != MailBackend::Smtp {
                errors.push("mail.backend must be \"smtp\" in production".to_owned());
            }
            if self.exchange.spgl_url.trim().is_empty() {
                errors.push(
                    "exchange.spgl_url is required in production: the province's front database (前置库) for the SPGL tables"
                        .to_owned(),
                );
            }
            if !self.exchange.platform_url.starts_with("https://")
                && !self.exchange.platform_url.starts_with("http://")
            {
                errors.push(
                    "exchange.platform_url must be the 建筑市场监管 platform's http(s) address in production"
                        .to_owned(),
                );
            }
            if self.clock.mode == ClockMode::Manual {
                errors.push("clock.mode = \"manual\" is refused in production".to_owned());
            }
            if self.demo.seed {
                errors.push("demo.seed = true is refused in production".to_owned());
            }
            if self.demo.office {
                errors.push("demo.office = true is refused in production".to_owned());
            }
            if !self.server.secure_cookies {
                errors.push("server.secure_cookies = false is refused in production".to_owned());
            }
            if self.telemetry.metrics && self.telemetry.metrics_bind.trim().is_empty() {
                errors.push(
                    "telemetry.metrics_bind is required in production when telemetry.metrics = true: /metrics is served off the public port, e.g. 127.0.0.1:9464"
                        .to_owned(),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            bail!("bad configuration:\n  {}", errors.join("\n  "))
        }
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.storage.var_dir.join("mail")
    }

    pub fn upload_dir(&self) -> PathBuf {
        self.storage.var_dir.join("uploads")
    }

    pub fn items_dir(&self) -> PathBuf {
        self.root.join("seeds/items")
    }

    pub fn rules_dir(&self) -> PathBuf {
        self.root.join("seeds/rules")
    }
}

/// Read settings for `env` with the root discovered as usual.
pub fn load(env: Environment) -> anyhow::Result<Settings> {
    let root = Settings::root();
    Settings::load(&root, env).with_context(|| format!("loading settings from {}", root.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn figment(extra: &str) -> Figment {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Figment::new()
            .merge(Toml::file(root.join("config/base.toml")))
            .merge(Toml::string(extra))
    }

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn the_shipped_files_load_in_every_environment() {
        for env in [Environment::Demo, Environment::Test] {
            Settings::load(&root(), env).unwrap();
        }
        // Production needs its relay and its seal key, given by the operator.
        let err = Settings::load(&root(), Environment::Production)
            .unwrap_err()
            .to_string();
        assert!(err.contains("mail.smtp_url is required"), "{err}");
        assert!(err.contains("documents.key_file is required"), "{err}");
        assert!(err.contains("exchange.spgl_url is required"), "{err}");
        assert!(err.contains("exchange.platform_url must be"), "{err}");
        let dir = root().join("config");
        Settings::extract(
            Figment::new()
                .merge(Toml::file(dir.join("base.toml")))
                .merge(Toml::file(dir.join("production.toml")))
                .merge(Toml::string(
                    "[mail]\nsmtp_url = \"smtp://relay.example.gov.cn:25\"\n[documents]\nkey_file = \"/etc/permits/seal.pem\"\n[exchange]\nspgl_url = \"postgres://spgl@front.example.gov.cn/spgl\"\nplatform_url = \"https://jzsc.example.gov.cn/api/permits\"",
                )),
            &root(),
            Environment::Production,
        )
        .unwrap();
    }

    #[test]
    fn a_lease_shorter_than_a_batch_and_a_short_cron_are_refused() {
        let err = Settings::extract(
            figment("[mail]\nlease_seconds = 20\n[jobs.cron]\noutbox = \"*/5 * * * *\""),
            &root(),
            Environment::Demo,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("mail.lease_seconds must be at least 140"),
            "{err}"
        );
        assert!(err.contains("jobs.cron.outbox"), "{err}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Settings::extract(
            figment("[database]\npool_size = \"many\""),
            &root(),
            Environment::Demo,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("database.pool_size"), "{err}");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let err = Settings::extract(
            figment("[database]\npool_sise = 3"),
            &root(),
            Environment::Demo,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("pool_sise"), "{err}");
    }

    #[test]
    fn production_refuses_the_manual_clock_and_demo_users() {
        let err = Settings::extract(
            figment("[clock]\nmode = \"manual\"\n[demo]\nseed = true"),
            &root(),
            Environment::Production,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("clock.mode") && err.contains("demo.seed"),
            "{err}"
        );
        assert!(
            Settings::extract(
                figment("[clock]\nmode = \"manual\""),
                &root(),
                Environment::Demo
            )
            .is_ok()
        );
    }

    #[test]
    fn production_keeps_metrics_off_the_public_port() {
        let err = Settings::extract(
            figment("[telemetry]\nmetrics_bind = \"\""),
            &root(),
            Environment::Production,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("telemetry.metrics_bind"), "{err}");
        let err = Settings::extract(
            figment("[telemetry]\nmetrics = false\nmetrics_bind = \"\""),
            &root(),
            Environment::Production,
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("telemetry.metrics_bind"), "{err}");
        let demo = Settings::extract(figment(""), &root(), Environment::Demo).unwrap();
        assert!(demo.telemetry.metrics && demo.telemetry.metrics_bind.is_empty());
        assert_eq!(demo.telemetry.log_format, LogFormat::Text);
    }

    #[test]
    fn the_demo_office_needs_the_demo_users_and_production_refuses_it() {
        let err = Settings::extract(
            figment("[demo]\nseed = false\noffice = true"),
            &root(),
            Environment::Demo,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("demo.office = true needs demo.seed"), "{err}");
        let err = Settings::extract(
            figment("[demo]\nseed = true\noffice = true\ntoday = \"2026-12-04\""),
            &root(),
            Environment::Production,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("demo.office = true is refused"), "{err}");
        let s = Settings::extract(
            figment("[demo]\nseed = true\noffice = true\ntoday = \"2026-12-04\""),
            &root(),
            Environment::Demo,
        )
        .unwrap();
        assert_eq!(
            s.demo.today.map(|d| d.to_string()).as_deref(),
            Some("2026-12-04")
        );
        assert!(
            Settings::load(&root(), Environment::Demo)
                .unwrap()
                .demo
                .office
        );
        assert!(
            !Settings::load(&root(), Environment::Test)
                .unwrap()
                .demo
                .office
        );
    }

    #[test]
    fn a_zero_pool_is_refused() {
        let err = Settings::extract(
            figment("[database]\npool_size = 0"),
            &root(),
            Environment::Demo,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("database.pool_size must be at least 1"),
            "{err}"
        );
    }
}
