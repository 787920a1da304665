//! Who is asking, and what they may do. Admin tokens are named, each an `operator`
//! (everything) or a `viewer` (read only); the JSON API reads the token from
//! `Authorization: Bearer`, the console from its session (see [`crate::console::session`]).
//! Tokens are compared by their SHA-256, in constant time against every configured token. With
//! no token configured nobody is asked for one (loopback development only, checked at start):
//! every caller is then the operator `local`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scimsync_platform::http::ApiError;
use scimsync_platform::settings::{AdminRole, NamedToken};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The name every caller has when no token is configured.
pub const LOCAL_ACTOR: &str = "local";

/// The person (or program) behind a request: their token's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub role: AdminRole,
}

impl Actor {
    pub fn may_change(&self) -> bool {
        self.role == AdminRole::Operator
    }
}

/// The configured admin tokens.
#[derive(Debug, Clone, Default)]
pub struct Access {
    tokens: Vec<NamedToken>,
}

impl Access {
    pub fn new(tokens: Vec<NamedToken>) -> Self {
        Self { tokens }
    }

    /// No token configured: nobody is asked for one.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The holder of `presented`, if it is a configured token. Every configured hash is
    /// compared, in constant time, whichever matches.
    pub fn authenticate(&self, presented: &str) -> Option<Actor> {
        if self.is_open() {
            return Some(local());
        }
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.sha256.ct_eq(&digest)) && !presented.is_empty() {
                found = Some(Actor {
                    name: token.name.clone(),
                    role: token.role,
                });
            }
        }
        found
    }

    /// The actor a token name stands for now (a session names its token): `None` once the
    /// token was removed from the settings, so removing a token ends its sessions.
    pub fn by_name(&self, name: &str) -> Option<Actor> {
        if self.is_open() {
            return (name == LOCAL_ACTOR).then(local);
        }
        self.tokens.iter().find(|t| t.name == name).map(|t| Actor {
            name: t.name.clone(),
            role: t.role,
        })
    }
}

fn local() -> Actor {
    Actor {
        name: LOCAL_ACTOR.to_owned(),
        role: AdminRole::Operator,
    }
}

/// Reads are `GET` and `HEAD`; anything else changes something.
pub fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// The JSON API's gate: a configured bearer token (401 otherwise), and a viewer only reads
/// (403 otherwise). The actor is handed to the handlers, which record it in the audit trail.
pub async fn require_token(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(actor) = access.authenticate(presented) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid `Authorization: Bearer <token>` header is required",
        )
        .into_response();
    };
    if !is_read(request.method()) && !actor.may_change() {
        return forbidden().into_response();
    }
    request.extensions_mut().insert(actor);
    next.run(request).await
}

/// A viewer asked to change something.
pub fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "this token's role is viewer: it may read, not change",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str, role: AdminRole, secret: &str) -> NamedToken {
        NamedToken {
            name: name.into(),
            role,
            sha256: Sha256::digest(secret.as_bytes()).into(),
        }
    }

    #[test]
    fn a_token_is_known_by_its_hash_and_names_its_holder() {
        let access = Access::new(vec![
            token("alice", AdminRole::Operator, "a-secret"),
            token("bob", AdminRole::Viewer, "b-secret"),
        ]);
        assert_eq!(
            access.authenticate("a-secret").map(|a| a.name),
            Some("alice".into())
        );
        assert_eq!(
            access.authenticate("b-secret").map(|a| a.role),
            Some(AdminRole::Viewer)
        );
        assert_eq!(access.authenticate("c-secret"), None);
        assert_eq!(access.authenticate(""), None);
        assert_eq!(
            access.by_name("bob").map(|a| a.role),
            Some(AdminRole::Viewer)
        );
        assert_eq!(access.by_name("local"), None);
    }

    #[test]
    fn with_no_token_everyone_is_the_local_operator() {
        let access = Access::default();
        assert_eq!(
            access.authenticate("").map(|a| a.name),
            Some("local".into())
        );
        assert!(access.by_name("local").is_some_and(|a| a.may_change()));
    }
}
