//! What keeps ingest answering under a flood: a bound on webhooks in flight, beyond which a
//! request is answered 503 at once (Svix delivers it again later) instead of queueing in memory,
//! and a deadline per request, so a client that sends its body a byte at a time does not hold
//! a slot and its buffer for ever.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scimsync_platform::http::ApiError;
use scimsync_platform::metrics::metrics;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
    deadline: Duration,
}

impl Admission {
    pub fn new(max_in_flight: usize, deadline: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight.max(1))),
            deadline,
        }
    }
}

pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let Ok(_slot) = admission.slots.clone().try_acquire_owned() else {
        // Per request, and a flood is many: counted, not logged.
        metrics().webhook_refused("overloaded");
        tracing::debug!("too many webhooks in flight; answering 503");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many webhooks in flight; retry later",
        )
        .into_response();
    };
    match tokio::time::timeout(admission.deadline, next.run(request)).await {
        Ok(response) => response,
        // Abandoned mid-publish, the event may still reach the broker: its redelivery is then
        // a duplicate, which every worker ignores.
        Err(_) => {
            // At most max_in_flight lines per deadline, even under a slow-client attack.
            metrics().webhook_refused("request_timeout");
            tracing::warn!(status = 408, error = "request_timeout", "webhook refused");
            let seconds = admission.deadline.as_secs();
            let message = format!(
                "the request took longer than {seconds} s; nothing is promised about it, send it again"
            );
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", message).into_response()
        }
    }
}
