//! The scim service's own figures, in the process-wide registry (see
//! `scimsync_platform::metrics`): requests by resource, method and status; 429s; the relay's
//! publishes; the outbox's depth and oldest age, sampled.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use scimsync_platform::metrics::{metrics, RelayLabels, ScimRequestLabels};

/// Middleware: counts each answered request by the resource its route names.
pub async fn count(request: Request, next: Next) -> Response {
    let resource = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| p.as_str().strip_prefix("/scim/v2/"))
        .map(|rest| rest.split('/').next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let _ = started.elapsed();
    metrics()
        .scim_requests
        .get_or_create(&ScimRequestLabels {
            resource,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

pub fn throttled() {
    metrics().scim_throttled.inc();
}

pub fn relayed(confirmed: usize, failed: usize) {
    let m = metrics();
    m.outbox_relayed
        .get_or_create(&RelayLabels {
            outcome: "confirmed",
        })
        .inc_by(confirmed as u64);
    if failed > 0 {
        m.outbox_relayed
            .get_or_create(&RelayLabels { outcome: "failed" })
            .inc_by(failed as u64);
    }
}

/// The outbox's depth (rows waiting) and its oldest row's age in seconds, as last sampled.
pub fn outbox_depth(rows: i64, oldest_seconds: f64) {
    metrics().outbox_rows.set(rows);
    metrics().outbox_oldest_seconds.set(oldest_seconds);
}
