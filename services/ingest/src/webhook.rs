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
use scimsync_platform::amqp::publisher::MAX_SHORT_STRING;
use scimsync_platform::amqp::{Outgoing, Publisher};
use scimsync_schema::limits;
use scimsync_schema::topology::EVENTS_EXCHANGE;
use scimsync_schema::{headers as h, Envelope, QueueMessage, SchemaError, StytchWebhook};
use serde_json::json;
use tracing::Instrument;

use crate::dedupe::RecentIds;
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
    let verified = state
        .verifier
        .verify(&headers, &body, (state.clock)())
        .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string()))?;
    // Svix ids are short ("msg_" and 27 characters); the broker takes at most 255 bytes.
    if verified.message_id.len() > MAX_SHORT_STRING {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_header",
            format!("svix-id must be at most {MAX_SHORT_STRING} bytes"),
        )
        .with_field(Some("svix-id")));
    }
    if state.recent.contains(&verified.message_id) {
        return Ok((
            StatusCode::OK,
            Json(json!({ "status": "duplicate", "svix_id": verified.message_id })),
        ));
    }
    // Checked as JSON and kept as received: no tree is built for the envelope, and the queue
    // message carries these bytes as they are.
    let raw: Box<serde_json::value::RawValue> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("body is not valid JSON: {e}"),
        )
    })?;
    // Valid JSON that PostgreSQL cannot store could never be applied: refused here, where the
    // sender learns of it, rather than dead-lettered by a worker.
    limits::check_storable(raw.get().as_bytes()).map_err(schema_violation)?;
    let envelope = Envelope::parse(raw.get().as_bytes()).map_err(schema_violation)?;
    // The member body is part of the contract: refuse a malformed one now, not in a worker.
    let member = envelope.member().map_err(schema_violation)?;
    envelope
        .check_lengths(member.as_ref())
        .map_err(schema_violation)?;
    let now = chrono::DateTime::from_timestamp((state.clock)(), 0).unwrap_or_else(Utc::now);
    envelope.check_timestamp(now).map_err(schema_violation)?;
    let event_type = envelope.event_type();
    if event_type.len() > 255
        || !event_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "schema_violation",
            "source, object_type and action may hold only letters, digits, '_' and '-'",
        ));
    }
    // Every event that names its company carries it (members and groups alike), so dead
    // letters can be found by company; a member DELETE has no body and names none.
    let organization_id = envelope.organization_id().unwrap_or_default().to_owned();
    // The request span (see `scimsync_platform::observe`) declares these, so the request's log
    // lines carry them too.
    let request_span = tracing::Span::current();
    request_span.record("event_id", envelope.event_id.as_str());
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
        messaging.message.id = %verified.message_id,
        event_id = %envelope.event_id,
        organization_id = %organization_id,
    );
    let bytes = QueueMessage::StytchWebhookV1(StytchWebhook::new(
        verified.message_id.clone(),
        &envelope,
        raw,
        Utc::now(),
    ))
    .to_bytes();
    // Only the bytes to publish live on while the broker confirms: the request body and the
    // parsed trees (several times the body's size) are freed first, so a slow broker with a
    // thousand requests waiting does not hold a thousand parsed copies.
    let event_id = envelope.event_id.clone();
    drop(envelope);
    drop(body);
    drop(headers);
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
            message_id: Some(&verified.message_id),
            headers: amqp_headers,
        })
        .instrument(span)
        .await
        .map_err(|error| {
            tracing::warn!(%error, svix_id = %verified.message_id, "publish failed; answering 503");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "broker_unavailable",
                format!("the event was not stored, retry later: {error}"),
            )
        })?;
    state.recent.insert(&verified.message_id);
    tracing::info!(svix_id = %verified.message_id, %event_id, %event_type, "event accepted");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "status": "accepted", "event_id": event_id, "event_type": event_type })),
    ))
}

fn schema_violation(error: SchemaError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "schema_violation",
        error.to_string(),
    )
    .with_field(error.path())
}
