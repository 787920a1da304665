//! DNS rebinding: a web page in an operator's browser, whose name an attacker then points at
//! 127.0.0.1, may call the admin API as its own origin, token or not. Every such request names
//! the attacker's host, so the API answers only the host names it is configured with
//! (`admin.allowed_hosts`, loopback by default) and refuses any other with 421. Health and
//! metrics answer any host: probes and scrapers ask by the pod's address, and neither reads or
//! changes data.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scimsync_platform::http::ApiError;

/// Paths any host may ask.
const ANY_HOST: [&str; 2] = ["/healthz", "/metrics"];

pub async fn require_allowed_host(
    State(allowed): State<Arc<Vec<String>>>,
    request: Request,
    next: Next,
) -> Response {
    if ANY_HOST.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let host = named_host(&request);
    if host
        .as_deref()
        .is_some_and(|host| allowed.iter().any(|name| name == host))
    {
        return next.run(request).await;
    }
    let named = host.map_or_else(|| "no host".to_owned(), |h| format!("host {h:?}"));
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        "host_not_allowed",
        format!(
            "the request names {named}, not one of the names this API answers \
             (SCIMSYNC__ADMIN__ALLOWED_HOSTS)"
        ),
    )
    .into_response()
}

/// The host the request names, lower-cased and without its port: the request target's when it
/// carries one (absolute form), else the `Host` header's. `None` for no host, or one with user
/// information, which no browser sends.
fn named_host(request: &Request) -> Option<String> {
    let authority = match request.uri().authority() {
        Some(authority) => authority.clone(),
        None => request
            .headers()
            .get(header::HOST)?
            .to_str()
            .ok()?
            .parse::<Authority>()
            .ok()?,
    };
    if authority.as_str().contains('@') {
        return None;
    }
    Some(authority.host().to_ascii_lowercase())
}
