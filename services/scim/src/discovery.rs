//! The discovery endpoints (RFC 7644 §4): what this service supports, exactly, and the answer to
//! a path it does not serve.

use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use scimsync_scim_proto::schema::{
    resource_types_json, schemas_json, ServiceProviderConfig, ENTERPRISE_USER, GROUP,
    GROUP_RESOURCE, USER, USER_RESOURCE,
};
use serde_json::Value;

use crate::error::ScimFailure;
use crate::{SharedState, BASE_PATH, SCIM_JSON};

/// A JSON answer with the SCIM media type.
pub fn scim_json(status: axum::http::StatusCode, body: &Value) -> Response {
    let mut response = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

fn ok(body: &Value) -> Response {
    scim_json(axum::http::StatusCode::OK, body)
}

/// The tenant URL's base as the client reaches it: the configured public URL, else the
/// request's own host (the scheme is `https` unless the host is a loopback address).
pub fn base_url(state: &SharedState, headers: &HeaderMap) -> String {
    if !state.settings.public_url.is_empty() {
        return format!(
            "{}{BASE_PATH}",
            state.settings.public_url.trim_end_matches('/')
        );
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let local =
        host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
    let scheme = if local { "http" } else { "https" };
    format!("{scheme}://{host}{BASE_PATH}")
}

pub async fn service_provider_config(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Response {
    let max = u32::try_from(state.settings.max_page_size).unwrap_or(u32::MAX);
    ok(&ServiceProviderConfig::new(max)
        .sort(true)
        .to_json(&base_url(&state, &headers)))
}

pub async fn schemas(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    ok(&schemas_json(&base_url(&state, &headers)))
}

pub async fn schema(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimFailure> {
    [&USER, &ENTERPRISE_USER, &GROUP]
        .into_iter()
        .find(|s| s.id == id)
        .map(|s| ok(&s.to_json(&base_url(&state, &headers))))
        .ok_or_else(|| ScimFailure::not_found("schema", &id))
}

pub async fn resource_types(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    ok(&resource_types_json(&base_url(&state, &headers)))
}

pub async fn resource_type(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimFailure> {
    [&USER_RESOURCE, &GROUP_RESOURCE]
        .into_iter()
        .find(|r| r.name == id)
        .map(|r| ok(&r.to_json(&base_url(&state, &headers))))
        .ok_or_else(|| ScimFailure::not_found("resource type", &id))
}

/// Unknown paths and methods: a SCIM 404, like every other refusal.
pub async fn no_such_route(request: Request) -> ScimFailure {
    ScimFailure::new(
        404,
        None,
        format!(
            "no {} {}: the SCIM endpoints are under {BASE_PATH}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// A route asked with a method it does not serve: a SCIM 405 (axum adds `Allow`).
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ScimFailure {
    ScimFailure::new(
        405,
        None,
        format!("{method} is not served on {}", uri.path()),
    )
}
