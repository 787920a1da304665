//! Every log line of a SCIM request says which request and which company (never which token):
//! a span with the request id (the client's `X-Request-Id` if it sent a usable one, else a new
//! one, sent back in the answer) and the company id, which authentication fills in.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's request id is used only if it is short and plain (it goes into logs).
fn usable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Middleware, outside authentication: the request's span.
pub async fn request_span(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| usable(v))
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    let span = tracing::info_span!(
        "scim",
        request_id = %id,
        company_id = tracing::field::Empty
    );
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::usable;

    #[test]
    fn only_short_plain_request_ids_are_taken_from_the_client() {
        assert!(usable("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!usable(""));
        assert!(!usable("a b"));
        assert!(!usable("x\"}{"));
        assert!(!usable(&"a".repeat(129)));
    }
}
