//! Layered settings: embedded defaults, then an optional file (`SCIMSYNC_CONFIG`), then
//! `SCIMSYNC__SECTION__KEY` environment variables. Validated once at start-up with messages
//! that name the setting.

mod admin;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use self::admin::host_name_problem;
pub use self::admin::{AdminRole, AdminSettings, NamedToken};

/// The embedded defaults: every setting that exists has a default here.
pub const DEFAULTS: &str = include_str!("defaults.toml");

/// Every environment variable of the shared sections (`SCIMSYNC__SECTION__KEY`), from the
/// defaults; a service's own sections are listed by [`env_vars_of`] its defaults. Manifests are
/// checked against these lists, so a typo in a deployment cannot go unnoticed.
pub fn known_env_vars() -> Vec<String> {
    env_vars_of(DEFAULTS)
}

/// The environment variables of the sections `defaults` (TOML) declares.
pub fn env_vars_of(defaults: &str) -> Vec<String> {
    let parsed = config::Config::builder()
        .add_source(config::File::from_str(defaults, config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize::<std::collections::HashMap<String, std::collections::HashMap<String, config::Value>>>());
    let mut names: Vec<String> = parsed
        .unwrap_or_default()
        .into_iter()
        .flat_map(|(section, keys)| {
            keys.into_keys().map(move |key| {
                format!(
                    "SCIMSYNC__{}__{}",
                    section.to_uppercase(),
                    key.to_uppercase()
                )
            })
        })
        .collect();
    names.sort();
    names
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub amqp: AmqpSettings,
    pub database: DatabaseSettings,
    pub ingest: IngestSettings,
    pub admin: AdminSettings,
    pub scim: ScimSettings,
    pub worker: WorkerSettings,
    pub telemetry: TelemetrySettings,
    pub groups: GroupSettings,
    /// Everything loaded, for the sections a service owns ([`Settings::section`]).
    #[serde(skip)]
    sources: config::Config,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AmqpSettings {
    pub url: SecretString,
    pub prefetch: u16,
    pub publish_timeout_ms: u64,
    pub publisher_channels: usize,
    pub delivery_limit: u32,
}

impl AmqpSettings {
    pub fn publish_timeout(&self) -> Duration {
        Duration::from_millis(self.publish_timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    pub min_connections: u32,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IngestSettings {
    pub listen: String,
    /// Comma-separated `whsec_...` secrets; see [`IngestSettings::secrets`].
    pub webhook_secrets: SecretString,
    pub timestamp_tolerance_secs: i64,
    pub max_body_bytes: usize,
    pub dedupe_capacity: usize,
    /// Webhooks handled at once; more are answered 503 at once (Svix delivers them again).
    pub max_in_flight: usize,
    /// A request not answered within this many seconds (a body sent too slowly) gets 408.
    pub request_timeout_secs: u64,
}

impl IngestSettings {
    /// The configured Svix secrets, one per rotation slot.
    pub fn secrets(&self) -> Vec<SecretString> {
        self.webhook_secrets
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_owned()))
            .collect()
    }
}

/// The SCIM service (the direct door, SPEC §7).
#[derive(Debug, Clone, Deserialize)]
pub struct ScimSettings {
    pub listen: String,
    /// The tenant URL's scheme and host as the IdP reaches it (`https://scim.example.com`), for
    /// `meta.location`; empty uses the request's own `Host`.
    pub public_url: String,
    /// The most resources one list answer holds (`count` is capped to it; advertised in
    /// `/ServiceProviderConfig` as `filter.maxResults`).
    pub max_page_size: usize,
    /// Requests a second per company before 429, and the burst allowed above it.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    pub max_body_bytes: usize,
    /// Requests handled at once; more are answered 503 at once.
    pub max_in_flight: usize,
    /// Outbox rows the relay publishes per round, how long it holds them, and how often it
    /// looks when no notification comes.
    pub relay_batch: i64,
    pub relay_lease_secs: u64,
    pub relay_poll_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    pub listen: String,
    pub shutdown_grace_secs: u64,
    pub retry_max_age_secs: u64,
    pub batch_size: usize,
    pub concurrency: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GroupSettings {
    pub admin_group: String,
    pub full_access_group: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    pub log_format: String,
    pub log_level: String,
    pub otlp_endpoint: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("could not read settings: {0}")]
    Load(#[from] config::ConfigError),
    #[error("setting `{key}` {problem}")]
    Invalid { key: &'static str, problem: String },
}

impl Settings {
    /// Defaults, then `SCIMSYNC_CONFIG` (if set), then the environment.
    pub fn load() -> Result<Self, SettingsError> {
        Self::load_from(std::env::vars())
    }

    /// Same as [`Settings::load`] but with an explicit environment, for tests.
    pub fn load_from(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let vars: std::collections::HashMap<String, String> = vars.into_iter().collect();
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = vars.get("SCIMSYNC_CONFIG").filter(|p| !p.is_empty()) {
            builder = builder.add_source(config::File::with_name(path).required(true));
        }
        let env = config::Environment::with_prefix("SCIMSYNC")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(vars.into_iter().collect()));
        let sources = builder.add_source(env).build()?;
        let mut settings: Settings = sources.clone().try_deserialize()?;
        settings.sources = sources;
        settings.validate()?;
        Ok(settings)
    }

    /// Overrides one setting of a section a service owns (`"section.key"`), as the environment
    /// would: for tests, which start services with settings of their own.
    pub fn set_override(
        &mut self,
        key: &str,
        value: impl Into<config::Value>,
    ) -> Result<(), SettingsError> {
        self.sources = config::Config::builder()
            .add_source(self.sources.clone())
            .set_override(key, value)?
            .build()?;
        Ok(())
    }

    /// A section a service owns, with its own `defaults` (TOML), read from the same file and
    /// environment as the shared sections: it keeps its `SCIMSYNC__SECTION__KEY` names wherever
    /// its struct lives.
    pub fn section<T: DeserializeOwned>(
        &self,
        name: &str,
        defaults: &str,
    ) -> Result<T, SettingsError> {
        let merged = config::Config::builder()
            .add_source(config::File::from_str(defaults, config::FileFormat::Toml))
            .add_source(self.sources.clone())
            .build()?;
        Ok(merged.get(name)?)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |key, problem: &str| SettingsError::Invalid {
            key,
            problem: problem.to_owned(),
        };
        if self.ingest.secrets().is_empty() {
            return Err(invalid(
                "ingest.webhook_secrets",
                "needs at least one whsec_ secret",
            ));
        }
        if let Some(bad) = self
            .ingest
            .secrets()
            .iter()
            .find(|s| !s.expose_secret().starts_with("whsec_"))
        {
            let shown: String = bad.expose_secret().chars().take(3).collect();
            return Err(SettingsError::Invalid {
                key: "ingest.webhook_secrets",
                problem: format!(
                    "has a secret starting {shown:?}...; every secret must start with whsec_"
                ),
            });
        }
        if self.amqp.prefetch == 0 {
            return Err(invalid("amqp.prefetch", "must be at least 1"));
        }
        if self.worker.batch_size == 0 {
            return Err(invalid("worker.batch_size", "must be at least 1"));
        }
        if self.worker.concurrency == 0 {
            return Err(invalid("worker.concurrency", "must be at least 1"));
        }
        if self.amqp.publisher_channels == 0 {
            return Err(invalid("amqp.publisher_channels", "must be at least 1"));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if self.ingest.max_in_flight == 0 {
            return Err(invalid("ingest.max_in_flight", "must be at least 1"));
        }
        if self.ingest.request_timeout_secs == 0 {
            return Err(invalid(
                "ingest.request_timeout_secs",
                "must be at least 1 (0 would refuse every webhook)",
            ));
        }
        if self.ingest.max_body_bytes == 0 {
            return Err(invalid("ingest.max_body_bytes", "must be at least 1"));
        }
        let hosts = self.admin.allowed_hosts();
        if hosts.is_empty() {
            return Err(invalid(
                "admin.allowed_hosts",
                "needs at least one host name (every request would be refused)",
            ));
        }
        if let Some(problem) = hosts.iter().find_map(|h| host_name_problem(h)) {
            return Err(SettingsError::Invalid {
                key: "admin.allowed_hosts",
                problem,
            });
        }
        self.admin.named_tokens()?;
        if self.admin.session_ttl_secs == 0 {
            return Err(invalid("admin.session_ttl_secs", "must be at least 1"));
        }
        if !matches!(
            self.admin.secure_cookies.as_str(),
            "auto" | "always" | "never"
        ) {
            return Err(invalid(
                "admin.secure_cookies",
                "must be \"auto\", \"always\" or \"never\"",
            ));
        }
        if self.scim.max_page_size == 0 {
            return Err(invalid("scim.max_page_size", "must be at least 1"));
        }
        if self.scim.rate_per_second == 0 || self.scim.rate_burst == 0 {
            return Err(invalid(
                "scim.rate_per_second",
                "and scim.rate_burst must be at least 1 (0 would refuse every request)",
            ));
        }
        if self.scim.max_in_flight == 0 || self.scim.max_body_bytes == 0 {
            return Err(invalid(
                "scim.max_in_flight",
                "and scim.max_body_bytes must be at least 1",
            ));
        }
        if self.scim.relay_batch < 1 || self.scim.relay_lease_secs == 0 {
            return Err(invalid(
                "scim.relay_batch",
                "and scim.relay_lease_secs must be at least 1",
            ));
        }
        let url = &self.scim.public_url;
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid(
                "scim.public_url",
                "must be empty or start with https:// (or http:// behind a proxy)",
            ));
        }
        if !matches!(self.telemetry.log_format.as_str(), "json" | "pretty") {
            return Err(invalid(
                "telemetry.log_format",
                "must be \"json\" or \"pretty\"",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
