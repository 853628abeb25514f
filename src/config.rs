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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: String,
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
    /// The working-day calendar (a region in seeds/calendars).
    pub region: String,
    pub time_zone: String,
    pub utc_offset_minutes: i32,
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
        if self.env == Environment::Production {
            if self.clock.mode == ClockMode::Manual {
                errors.push("clock.mode = \"manual\" is refused in production".to_owned());
            }
            if self.demo.seed {
                errors.push("demo.seed = true is refused in production".to_owned());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            bail!("bad configuration:\n  {}", errors.join("\n  "))
        }
    }

    pub fn upload_dir(&self) -> PathBuf {
        self.storage.var_dir.join("uploads")
    }

    pub fn items_dir(&self) -> PathBuf {
        self.root.join("seeds/items")
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
        for env in [
            Environment::Demo,
            Environment::Test,
            Environment::Production,
        ] {
            Settings::load(&root(), env).unwrap();
        }
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
