//! Versions as ETags (RFC 7644 §3.14): a resource's `meta.version` is `W/"<version>"`, sent as
//! the `ETag` header of every single-resource answer. `If-Match` on a write that does not name
//! the current version is 412 (another client changed it meanwhile); `If-None-Match` on a read
//! that names it is 304. Tags compare weakly (`W/` ignored), and `*` matches any version.

use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ScimFailure;

/// The ETag of a version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Whether a list of entity tags (`If-Match` / `If-None-Match`) names `version`.
fn names(list: &str, version: i64) -> bool {
    let current = version.to_string();
    list.split(',').map(str::trim).any(|tag| {
        tag == "*"
            || tag
                .strip_prefix("W/")
                .unwrap_or(tag)
                .trim_matches('"')
                .eq(&current)
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &axum::http::HeaderName) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or_default())
}

/// A write's precondition: 412 when `If-Match` is given and does not name `version`.
pub fn check_if_match(headers: &HeaderMap, version: i64) -> Result<(), ScimFailure> {
    match header(headers, &IF_MATCH) {
        Some(list) if !names(list, version) => Err(ScimFailure::new(
            412,
            None,
            format!(
                "the resource is at version {}, not the one If-Match names; read it again",
                etag(version)
            ),
        )),
        _ => Ok(()),
    }
}

/// A read's shortcut: 304 when `If-None-Match` names the current version.
pub fn not_modified(headers: &HeaderMap, version: i64) -> Option<Response> {
    let list = header(headers, &IF_NONE_MATCH)?;
    if !names(list, version) {
        return None;
    }
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    set_etag(&mut response, version);
    Some(response)
}

pub fn set_etag(response: &mut Response, version: i64) {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(ETAG, value);
    }
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn tags_compare_weakly_in_lists_and_star_matches_any() {
        assert!(names("W/\"3\"", 3));
        assert!(names("\"3\"", 3));
        assert!(names("W/\"1\", W/\"3\"", 3));
        assert!(names("*", 9));
        assert!(!names("W/\"2\"", 3));
        assert!(!names("W/\"33\"", 3));
        assert!(!names("", 3));
    }
}
