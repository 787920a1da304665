//! Headers on every console answer: a strict Content-Security-Policy (scripts, styles and
//! images from the console itself only, no inline script or style, no frames, forms posted only
//! to the console), no MIME sniffing, no referrer, and no caching of pages (they show data that
//! changes, and some, such as a new SCIM token, a secret).

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every page. The sign-in page, which has no session to load the stylesheet
/// with, adds its inline style's hash to `style-src` (see [`super::sign_in`]).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'none'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

pub async fn secure_page(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
