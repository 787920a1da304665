//! Signing in to the console: an admin token is exchanged, once, for a session cookie. The
//! session lives in PostgreSQL (`admin_sessions`), keyed by the SHA-256 of a random 256-bit id
//! the cookie holds, so signing out ends it at once on every replica and a copy of the table
//! signs nobody in. It names its token, not a role: each request takes the role the settings
//! give that token now, and a token removed from the settings ends its sessions.
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
//! sends it), `Path=/`, expires with the session, and is `Secure` behind TLS. Every form also
//! carries the session's CSRF token, checked before any handler runs ([`super::guard`]).

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use sha2::{Digest, Sha256};

use crate::auth::Actor;
use crate::SharedState;

/// The session cookie's name.
pub const COOKIE: &str = "scimsync_session";
/// The sign-in form's own CSRF cookie (double submit: there is no session yet to hold it).
pub const SIGN_IN_COOKIE: &str = "scimsync_sign_in";

/// A signed-in person, as the pages see them.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    /// The token every form of this session carries.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn id_hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether cookies set in answer to this request carry `Secure`.
pub fn secure(state: &SharedState, headers: &HeaderMap) -> bool {
    match state.console.secure_cookies {
        super::SecureCookies::Always => true,
        super::SecureCookies::Never => false,
        super::SecureCookies::Auto => headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https")),
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for the whole console.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Starts a session for `actor`; returns the cookie's value (the session id).
pub async fn start(state: &SharedState, actor: &Actor) -> Result<String, DbErr> {
    let id = random_token();
    let ttl = chrono::Duration::seconds(state.console.session_ttl_secs());
    // Expired sessions are swept at each sign-in: sign-ins are rare, and the sweep is an index
    // range.
    state
        .db
        .execute(Statement::from_string(
            DbBackend::Postgres,
            "DELETE FROM admin_sessions WHERE expires_at < now()",
        ))
        .await?;
    state
        .db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO admin_sessions (id_hash, token_name, csrf_token, expires_at)
             VALUES ($1, $2, $3, $4)",
            [
                id_hash(&id).into(),
                actor.name.clone().into(),
                random_token().into(),
                (Utc::now() + ttl).into(),
            ],
        ))
        .await?;
    Ok(id)
}

/// The live session the request's cookie names, if any.
pub async fn find(state: &SharedState, headers: &HeaderMap) -> Result<Option<Session>, DbErr> {
    let Some(id) = cookie(headers, COOKIE).filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    let row = state
        .db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT token_name, csrf_token, expires_at FROM admin_sessions
             WHERE id_hash = $1 AND expires_at > now()",
            [id_hash(id).into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let name: String = row.try_get("", "token_name")?;
    let Some(actor) = state.access.by_name(&name) else {
        return Ok(None);
    };
    Ok(Some(Session {
        actor,
        csrf: row.try_get("", "csrf_token")?,
        expires_at: row.try_get("", "expires_at")?,
    }))
}

/// Ends the session the request's cookie names.
pub async fn end(state: &SharedState, headers: &HeaderMap) -> Result<(), DbErr> {
    if let Some(id) = cookie(headers, COOKIE) {
        state
            .db
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "DELETE FROM admin_sessions WHERE id_hash = $1",
                [id_hash(id).into()],
            ))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; scimsync_session=xyz"),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "b"), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_strict_and_secure_when_asked() {
        let set = set_cookie(COOKIE, "v", 60, true);
        let text = set.to_str().unwrap_or_default();
        assert!(
            text.contains("HttpOnly") && text.contains("SameSite=Strict"),
            "{text}"
        );
        assert!(text.ends_with("; Secure"), "{text}");
        assert!(!set_cookie(COOKIE, "v", 60, false)
            .to_str()
            .unwrap_or_default()
            .contains("Secure"));
    }
}
