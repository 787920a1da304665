//! `POST /webhooks/stytch` (SPEC A1): verify, validate, publish with a confirm, then answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::Utc;
use lapin::types::FieldTable;
use scimsync_platform::amqp::headers::set_str;
use scimsync_platform::amqp::{Outgoing, Publisher};
use scimsync_schema::headers as h;
use scimsync_schema::topology::EVENTS_EXCHANGE;
use serde_json::json;
use tracing::Instrument;

use crate::dedupe::RecentIds;
use crate::verdict::{judge, Now, Publication, Verdict};
use scimsync_platform::http::ApiError;
use scimsync_platform::metrics::metrics;
use scimsync_platform::svix::Verifier;

pub struct AppState {
    pub verifier: Verifier,
    pub publisher: Publisher,
    pub recent: RecentIds,
    /// Unix seconds; a function so tests can pin the clock.
    pub clock: fn() -> i64,
}

pub async fn receive(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    // A refused webhook is retried by Svix, then dropped: the log says why, for whoever looks
    // for an event that never arrived (a 503 logs its own cause), and a counter by code says
    // how often.
    handle(state, headers, body).await.inspect_err(|refusal| {
        metrics().webhook_refused(refusal.code);
        if refusal.status.is_client_error() {
            tracing::warn!(
                status = refusal.status.as_u16(),
                error = refusal.code,
                field = refusal.field.as_deref(),
                reason = %refusal.message,
                "webhook refused"
            );
        }
    })
}

async fn handle(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "payload_too_large"
        } else {
            "bad_body"
        };
        ApiError::new(status, code, rejection.body_text())
    })?;
    let now = Now {
        unix_secs: (state.clock)(),
        received_at: Utc::now(),
    };
    let verdict = judge(&state.verifier, &headers, &body, now, |id| {
        state.recent.contains(id)
    })?;
    // Only the bytes to publish live on while the broker confirms: the request body (and the
    // parsed trees, gone with `judge`) are freed first, so a slow broker with a thousand
    // requests waiting does not hold a thousand copies.
    drop(body);
    drop(headers);
    let publication = match verdict {
        Verdict::Duplicate { svix_id } => {
            return Ok((
                StatusCode::OK,
                Json(json!({ "status": "duplicate", "svix_id": svix_id })),
            ));
        }
        Verdict::Publish(publication) => publication,
    };
    let Publication {
        svix_id,
        event_id,
        event_type,
        organization_id,
        bytes,
    } = publication;
    // The request span (see `scimsync_platform::observe`) declares these, so the request's log
    // lines carry them too.
    let request_span = tracing::Span::current();
    request_span.record("event_id", event_id.as_str());
    request_span.record("organization_id", organization_id.as_str());
    let span = tracing::info_span!(
        "publish",
        otel.kind = "producer",
        // OpenTelemetry messaging conventions: "{operation} {destination}".
        otel.name = %format!("publish {EVENTS_EXCHANGE}"),
        messaging.system = "rabbitmq",
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.destination.name = EVENTS_EXCHANGE,
        messaging.rabbitmq.destination.routing_key = %event_type,
        messaging.message.id = %svix_id,
        event_id = %event_id,
        organization_id = %organization_id,
    );
    let mut amqp_headers = FieldTable::default();
    set_str(&mut amqp_headers, h::EVENT_ID, event_id.clone());
    set_str(&mut amqp_headers, h::EVENT_TYPE, event_type.clone());
    if !organization_id.is_empty() {
        set_str(&mut amqp_headers, h::ORGANIZATION_ID, organization_id);
    }
    state
        .publisher
        .publish(Outgoing {
            exchange: EVENTS_EXCHANGE,
            routing_key: &event_type,
            body: &bytes,
            message_id: Some(&svix_id),
            headers: amqp_headers,
        })
        .instrument(span)
        .await
        .map_err(|error| {
            tracing::warn!(%error, %svix_id, "publish failed; answering 503");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "broker_unavailable",
                format!("the event was not stored, retry later: {error}"),
            )
        })?;
    state.recent.insert(&svix_id);
    tracing::info!(%svix_id, %event_id, %event_type, "event accepted");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "status": "accepted", "event_id": event_id, "event_type": event_type })),
    ))
}
