//! Observing HTTP requests (SPEC A5): a server span per request that joins the caller's trace
//! when the request carries W3C `traceparent`, and request metrics by route and status.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::Extractor;
use tracing::field::Empty;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::metrics;
use crate::telemetry::record_trace_id;

struct HttpHeaders<'a>(&'a HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Middleware (`Router::route_layer(axum::middleware::from_fn(observe))`): wraps the request in
/// an OpenTelemetry server span and counts it. As a route layer it sees only matched routes, so
/// a scan of random paths cannot grow the `route` label without bound.
pub async fn observe(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        otel.name = %format!("{method} {route}"),
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = %route,
        url.path = %request.uri().path(),
        http.response.status_code = Empty,
        trace_id = Empty,
        // Filled in by handlers that learn them (the webhook), so their log lines carry them.
        event_id = Empty,
        organization_id = Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HttpHeaders(request.headers()))
    });
    // Fails only when the span is disabled; then there is no trace to join.
    let _ = span.set_parent(parent);
    record_trace_id(&span);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
    metrics().http_request(&route, status.as_u16(), started.elapsed());
    response
}
