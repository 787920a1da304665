//! Layered settings: embedded defaults, then an optional file (`SCIMSYNC_CONFIG`), then
//! `SCIMSYNC__SECTION__KEY` environment variables. Validated once at start-up with messages
//! that name the setting.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;

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

#[derive(Debug, Clone, Deserialize)]
pub struct AdminSettings {
    pub listen: String,
    /// The single token of earlier versions: an operator token named `admin`.
    pub token: SecretString,
    /// Named tokens, comma-separated `name:role:sha256-hex`; see [`AdminSettings::named_tokens`].
    pub tokens: SecretString,
    /// A file of named tokens, one `name:role:sha256-hex` a line (`#` starts a comment).
    pub tokens_file: String,
    /// Comma-separated host names; see [`AdminSettings::allowed_hosts`].
    pub allowed_hosts: String,
    /// How long a console session lasts after sign-in.
    pub session_ttl_secs: u64,
    /// `auto` (Secure when the request came over TLS, as `X-Forwarded-Proto` says), `always`
    /// or `never`: whether the console's cookies carry `Secure`.
    pub secure_cookies: String,
}

/// What a holder of an admin token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Everything.
    Operator,
    /// Read only.
    Viewer,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "operator" => Some(Self::Operator),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }
}

/// A named admin token: who holds it, what they may do, and the SHA-256 of the token (never
/// the token itself: a token is a long random secret, so one fast hash is enough, as for SCIM
/// tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedToken {
    pub name: String,
    pub role: AdminRole,
    pub sha256: [u8; 32],
}

/// The name the legacy single `admin.token` is known by.
pub const LEGACY_TOKEN_NAME: &str = "admin";

/// One `name:role:sha256-hex` entry, or why it is not one.
fn named_token(entry: &str) -> Result<NamedToken, String> {
    let mut parts = entry.splitn(3, ':');
    let (name, role, hash) = match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(role), Some(hash)) => (name.trim(), role.trim(), hash.trim()),
        _ => {
            return Err(format!(
                "has an entry {:?} that is not name:role:sha256-hex",
                shown(entry)
            ))
        }
    };
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
    {
        return Err(format!(
            "has a token name {:?}: use 1-64 letters, digits, '.', '_', '@' or '-'",
            shown(name)
        ));
    }
    let role = AdminRole::parse(role).ok_or_else(|| {
        format!("gives token {name:?} the role {role:?}: the roles are operator and viewer")
    })?;
    let hash = hash.strip_prefix("sha256:").unwrap_or(hash);
    let sha256 = hex32(hash).ok_or_else(|| {
        format!(
            "gives token {name:?} a hash that is not 64 hexadecimal digits (the SHA-256 of the \
             token: printf %s \"$TOKEN\" | sha256sum)"
        )
    })?;
    Ok(NamedToken {
        name: name.to_owned(),
        role,
        sha256,
    })
}

/// The first characters of a value, for an error message that must not print a secret whole.
fn shown(text: &str) -> String {
    let head: String = text.chars().take(12).collect();
    if head.len() < text.len() {
        format!("{head}...")
    } else {
        head
    }
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        let value = digit(pair[0])? * 16 + digit(pair[1])?;
        out[i] = u8::try_from(value).ok()?;
    }
    Some(out)
}

impl AdminSettings {
    pub fn token(&self) -> Option<&str> {
        Some(self.token.expose_secret()).filter(|t| !t.is_empty())
    }

    /// Every admin token: the legacy `admin.token` (an operator named `admin`), the entries of
    /// `admin.tokens`, then those of `admin.tokens_file`. Empty: no authentication, which
    /// admin-api allows only on a loopback address.
    pub fn named_tokens(&self) -> Result<Vec<NamedToken>, SettingsError> {
        use sha2::Digest;
        let mut tokens = Vec::new();
        if let Some(token) = self.token() {
            tokens.push(NamedToken {
                name: LEGACY_TOKEN_NAME.to_owned(),
                role: AdminRole::Operator,
                sha256: sha2::Sha256::digest(token.as_bytes()).into(),
            });
        }
        let invalid = |key, problem| SettingsError::Invalid { key, problem };
        for entry in self.tokens.expose_secret().split(',') {
            if !entry.trim().is_empty() {
                tokens.push(named_token(entry).map_err(|p| invalid("admin.tokens", p))?);
            }
        }
        if !self.tokens_file.trim().is_empty() {
            let text = std::fs::read_to_string(self.tokens_file.trim()).map_err(|error| {
                invalid(
                    "admin.tokens_file",
                    format!(
                        "names {:?}, which cannot be read: {error}",
                        self.tokens_file
                    ),
                )
            })?;
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or_default().trim();
                if !line.is_empty() {
                    tokens.push(named_token(line).map_err(|p| invalid("admin.tokens_file", p))?);
                }
            }
        }
        let mut names: Vec<&str> = tokens.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(invalid(
                "admin.tokens",
                format!("names two tokens {:?}: each name must be unique", pair[0]),
            ));
        }
        Ok(tokens)
    }

    /// The host names the admin API answers, lower-cased (`[::1]` keeps its brackets, as a
    /// `Host` header writes it).
    pub fn allowed_hosts(&self) -> Vec<String> {
        self.allowed_hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    }
}

/// Why a host name is not one the admin API can be configured to answer, if it is not: it
/// must be a bare name or address, as a `Host` header carries it, without port or user.
fn host_name_problem(name: &str) -> Option<String> {
    let parsed = name.parse::<axum::http::uri::Authority>().ok();
    match parsed {
        Some(authority)
            if authority.port().is_none()
                && !authority.as_str().contains('@')
                && authority.host() == name =>
        {
            None
        }
        _ => Some(format!(
            "has {name:?}: list host names without scheme, port or path, e.g. admin-api,localhost"
        )),
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
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn runs_with_no_file_and_no_environment() {
        let s = Settings::load_from(Vec::new()).expect("defaults are valid");
        assert_eq!(s.ingest.listen, "127.0.0.1:8080");
        assert_eq!(s.ingest.secrets().len(), 1);
        assert_eq!(s.admin.token(), None);
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let s = Settings::load_from(env(&[
            (
                "SCIMSYNC__INGEST__WEBHOOK_SECRETS",
                "whsec_AAAA, whsec_BBBB",
            ),
            ("SCIMSYNC__AMQP__PREFETCH", "7"),
            ("SCIMSYNC__ADMIN__TOKEN", "s3cret"),
        ]))
        .expect("valid");
        assert_eq!(s.ingest.secrets().len(), 2);
        assert_eq!(s.amqp.prefetch, 7);
        assert_eq!(s.admin.token(), Some("s3cret"));
    }

    #[test]
    fn allowed_hosts_are_bare_names_and_default_to_loopback() {
        let s = Settings::load_from(Vec::new()).expect("defaults are valid");
        assert_eq!(s.admin.allowed_hosts(), ["localhost", "127.0.0.1", "[::1]"]);
        let s = Settings::load_from(env(&[(
            "SCIMSYNC__ADMIN__ALLOWED_HOSTS",
            " Admin-API , admin-api.scimsync.svc ",
        )]))
        .expect("valid");
        assert_eq!(
            s.admin.allowed_hosts(),
            ["admin-api", "admin-api.scimsync.svc"]
        );
        for bad in [
            "",
            " , ",
            "localhost:8081",
            "http://localhost",
            "a@localhost",
            "host/path",
        ] {
            let err = Settings::load_from(env(&[("SCIMSYNC__ADMIN__ALLOWED_HOSTS", bad)]))
                .expect_err(bad);
            assert!(
                err.to_string().contains("admin.allowed_hosts"),
                "{bad}: {err}"
            );
        }
    }

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn named_tokens_come_from_the_list_the_file_and_the_legacy_token() {
        let file = std::env::temp_dir().join(format!("tokens-{}", std::process::id()));
        std::fs::write(
            &file,
            format!("# people\ncarol:viewer:{HASH}  # support\n\n"),
        )
        .expect("write");
        let s = Settings::load_from(env(&[
            ("SCIMSYNC__ADMIN__TOKEN", "legacy"),
            (
                "SCIMSYNC__ADMIN__TOKENS",
                &format!("alice:operator:{HASH}, bob:viewer:sha256:{HASH}"),
            ),
            ("SCIMSYNC__ADMIN__TOKENS_FILE", file.to_str().expect("path")),
        ]))
        .expect("valid");
        // The file is read again each time the tokens are asked for: remove it only after.
        let tokens = s.admin.named_tokens().expect("tokens");
        let _ = std::fs::remove_file(&file);
        let named: Vec<(&str, AdminRole)> =
            tokens.iter().map(|t| (t.name.as_str(), t.role)).collect();
        assert_eq!(
            named,
            [
                ("admin", AdminRole::Operator),
                ("alice", AdminRole::Operator),
                ("bob", AdminRole::Viewer),
                ("carol", AdminRole::Viewer),
            ]
        );
        assert_eq!(tokens[1].sha256[0], 0x9f);
        assert!(Settings::load_from(Vec::new())
            .expect("defaults")
            .admin
            .named_tokens()
            .expect("none")
            .is_empty());
    }

    #[test]
    fn a_bad_named_token_is_refused_without_printing_it() {
        for (bad, says) in [
            ("alice:operator", "name:role:sha256-hex"),
            (
                &format!("alice:admin:{HASH}") as &str,
                "operator and viewer",
            ),
            ("alice:viewer:abcd", "64 hexadecimal"),
            (&format!("a b:viewer:{HASH}"), "token name"),
            (
                &format!("alice:viewer:{HASH},alice:operator:{HASH}"),
                "unique",
            ),
        ] {
            let err = Settings::load_from(env(&[("SCIMSYNC__ADMIN__TOKENS", bad)]))
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains("admin.tokens") && err.contains(says),
                "{bad}: {err}"
            );
        }
        let err = Settings::load_from(env(&[(
            "SCIMSYNC__ADMIN__TOKENS",
            "s3cret-token-value-that-must-not-show",
        )]))
        .expect_err("no colons")
        .to_string();
        assert!(!err.contains("must-not-show"), "{err}");
        let err = Settings::load_from(env(&[("SCIMSYNC__ADMIN__SECURE_COOKIES", "yes")]))
            .expect_err("bad value")
            .to_string();
        assert!(err.contains("admin.secure_cookies"), "{err}");
    }

    #[test]
    fn known_env_vars_cover_the_defaults() {
        let names = known_env_vars();
        assert!(
            names.contains(&"SCIMSYNC__INGEST__WEBHOOK_SECRETS".to_owned()),
            "{names:?}"
        );
        assert!(names.contains(&"SCIMSYNC__DATABASE__URL".to_owned()));
        assert!(!names.iter().any(|n| n.contains("__AMQP__NOPE")));
    }

    #[test]
    fn invalid_values_name_the_setting() {
        let err = Settings::load_from(env(&[("SCIMSYNC__INGEST__WEBHOOK_SECRETS", "nope")]))
            .expect_err("not a whsec secret");
        assert!(err.to_string().contains("ingest.webhook_secrets"), "{err}");
        let err = Settings::load_from(env(&[("SCIMSYNC__TELEMETRY__LOG_FORMAT", "xml")]))
            .expect_err("bad format");
        assert!(err.to_string().contains("telemetry.log_format"), "{err}");
        for key in ["MAX_IN_FLIGHT", "REQUEST_TIMEOUT_SECS"] {
            let variable = format!("SCIMSYNC__INGEST__{key}");
            let err =
                Settings::load_from(env(&[(variable.as_str(), "0")])).expect_err("zero is refused");
            let setting = format!("ingest.{}", key.to_ascii_lowercase());
            assert!(err.to_string().contains(&setting), "{err}");
        }
    }
}
