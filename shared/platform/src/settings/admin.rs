//! The admin API's settings: where it listens, the Host names it answers, and its named tokens
//! with their roles (operator, viewer), from the list, a file, or the single token of earlier
//! versions.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::SettingsError;

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
pub(super) fn host_name_problem(name: &str) -> Option<String> {
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
