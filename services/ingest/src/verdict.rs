//! What ingest makes of one delivery before the broker sees it (SPEC A1, R18): verify the
//! signature, then validate the body, and either refuse it with the answer the sender needs or
//! hand back the message to publish.
//!
//! Pure (no I/O, no clock of its own), so every refusal is tested directly, and a property
//! test drives arbitrary headers and bodies, signed or not, through all of it.

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use scimsync_platform::amqp::publisher::MAX_SHORT_STRING;
use scimsync_platform::http::ApiError;
use scimsync_platform::svix::Verifier;
use scimsync_schema::duplicate_keys::check_unique_keys;
use scimsync_schema::{limits, Envelope, QueueMessage, SchemaError, StytchWebhook};

/// What to do with a delivery ingest does not refuse.
#[derive(Debug)]
pub enum Verdict {
    /// A Svix retry of a delivery published recently: answered 200, not published again.
    Duplicate {
        svix_id: String,
    },
    Publish(Publication),
}

/// A message ready for the broker.
#[derive(Debug)]
pub struct Publication {
    pub svix_id: String,
    pub event_id: String,
    /// Also the routing key.
    pub event_type: String,
    /// The member's organization; empty when the event names none.
    pub organization_id: String,
    /// The queue message, serialised.
    pub bytes: Vec<u8>,
}

/// When a delivery is judged.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Unix seconds: the signature's window and the bound on the event's timestamp.
    pub unix_secs: i64,
    /// When ingest received the delivery, as the queue message records it.
    pub received_at: DateTime<Utc>,
}

/// Verifies, then validates. `seen` says whether a `svix-id` was published recently; it is
/// asked only once the signature holds, so an unsigned request learns nothing from it.
pub fn judge(
    verifier: &Verifier,
    headers: &HeaderMap,
    body: &[u8],
    now: Now,
    seen: impl Fn(&str) -> bool,
) -> Result<Verdict, ApiError> {
    let verified = verifier
        .verify(headers, body, now.unix_secs)
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
    if seen(&verified.message_id) {
        return Ok(Verdict::Duplicate {
            svix_id: verified.message_id,
        });
    }
    // Checked as JSON and kept as received: no tree is built for the envelope, and the queue
    // message carries these bytes as they are.
    let raw: Box<serde_json::value::RawValue> = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("body is not valid JSON: {e}"),
        )
    })?;
    // Valid JSON that PostgreSQL cannot store could never be applied: refused here, where the
    // sender learns of it, rather than dead-lettered by a worker.
    limits::check_storable(raw.get().as_bytes()).map_err(schema_violation)?;
    // A key twice in one object reads as whichever the reader keeps (serde_json: the last), so
    // one body could mean two events: refused as malformed, naming the key. After the check
    // above, which names a lone surrogate that this full parse would call a syntax error.
    check_unique_keys(raw.get().as_bytes()).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()).with_field(e.path())
    })?;
    let envelope = Envelope::parse(raw.get().as_bytes()).map_err(schema_violation)?;
    // The member body is part of the contract: refuse a malformed one now, not in a worker.
    let member = envelope.member().map_err(schema_violation)?;
    // So is its type, and what it asks for: an event no worker can apply is refused, not
    // dead-lettered, and no sender picks a routing key outside the webhook namespace.
    envelope
        .check_publishable(member.as_ref())
        .map_err(schema_violation)?;
    envelope
        .check_lengths(member.as_ref())
        .map_err(schema_violation)?;
    let clock = DateTime::from_timestamp(now.unix_secs, 0).unwrap_or(now.received_at);
    envelope.check_timestamp(clock).map_err(schema_violation)?;
    // A webhook source and two plain words (`check_publishable`): a key in the webhook
    // namespace, short enough for AMQP.
    let event_type = envelope.event_type();
    // Every event that names its company carries it (members and groups alike), so dead
    // letters can be found by company; a member DELETE has no body and names none.
    let organization_id = envelope.organization_id().unwrap_or_default().to_owned();
    let event_id = envelope.event_id.clone();
    let bytes = QueueMessage::StytchWebhookV1(StytchWebhook::new(
        verified.message_id.clone(),
        &envelope,
        raw,
        now.received_at,
    ))
    .to_bytes();
    Ok(Verdict::Publish(Publication {
        svix_id: verified.message_id,
        event_id,
        event_type,
        organization_id,
        bytes,
    }))
}

fn schema_violation(error: SchemaError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "schema_violation",
        error.to_string(),
    )
    .with_field(error.path())
}
