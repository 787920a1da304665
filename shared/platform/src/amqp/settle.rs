//! Settling a handled message with the broker (SPEC A3): ack, or publish the retry or
//! dead-letter copy, wait for its confirm, then ack the original.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::FieldTable;
use scimsync_schema::headers as h;
use scimsync_schema::topology::{delay_for_attempt, WorkQueue, DEAD_LETTER_EXCHANGE};
use scimsync_schema::{DeadLetterReason, QueueMessage};

use super::headers::{get_str, set_str, set_u64};
use super::message::{Incoming, Outcome};
use super::publisher::{Outgoing, PublishError, Publisher};
use crate::metrics::metrics;

/// One message of a batch, held until it is settled: its delivery, what the worker sees, the
/// event type that labels its metrics, and its in-flight gauge.
pub(super) struct InFlight {
    pub(super) delivery: Delivery,
    pub(super) incoming: Incoming,
    pub(super) event_type: String,
    pub(super) gauge: crate::metrics::InFlight,
}

/// Settles a queue's messages: where their retry and dead-letter copies go, and for how long a
/// failing message is retried.
#[derive(Clone)]
pub(super) struct Settler {
    pub(super) queue: WorkQueue,
    pub(super) retry_max_age: Duration,
    pub(super) publisher: Publisher,
}

impl Settler {
    /// Settles one message with the broker; returns its in-flight gauge guard. `Err` is a
    /// handler that failed to decide (it panicked, or lost count of its batch).
    pub(super) async fn settle(
        &self,
        message: InFlight,
        outcome: Result<Outcome, String>,
    ) -> crate::metrics::InFlight {
        let (delivery, incoming) = (&message.delivery, &message.incoming);
        match outcome {
            Ok(Outcome::Ack) => ack(delivery).await,
            Ok(Outcome::Retry { reason }) => self.retry(delivery, incoming, reason).await,
            Ok(Outcome::DeadLetter { reason, detail }) => {
                self.dead_letter(delivery, incoming, reason, &detail).await
            }
            Err(problem) => {
                tracing::error!(error = %problem, "returning the message to the queue");
                // The quorum queue's delivery limit bounds how often this can repeat.
                requeue(delivery).await;
            }
        }
        message.gauge
    }

    async fn retry(&self, delivery: &Delivery, incoming: &Incoming, reason: String) {
        let first = first_failed_at(incoming);
        let age = (Utc::now() - first).to_std().unwrap_or_default();
        if age > self.retry_max_age {
            let detail = format!("still failing after {age:?}: {reason}");
            let exhausted = DeadLetterReason::RetriesExhausted;
            return self
                .dead_letter(delivery, incoming, exhausted, &detail)
                .await;
        }
        let delay = delay_for_attempt(u32::try_from(incoming.attempts).unwrap_or(u32::MAX));
        let queue = self.queue.delay_queue(delay);
        let mut headers = copy_headers(incoming);
        set_str(&mut headers, h::FIRST_FAILED_AT, first.to_rfc3339());
        tracing::info!(%reason, attempt = incoming.attempts, ?delay, "transient failure; retrying later");
        if publish_then_ack(&self.publisher, delivery, incoming, "", &queue, headers).await {
            metrics().retried(self.queue.name);
        }
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        incoming: &Incoming,
        reason: DeadLetterReason,
        detail: &str,
    ) {
        let mut headers = copy_headers(incoming);
        mark_dead(&mut headers, self.queue.name, reason, detail);
        tracing::warn!(%reason, detail, "dead-lettering message");
        let (exchange, routing_key) = (DEAD_LETTER_EXCHANGE, self.queue.name);
        let publisher = &self.publisher;
        if publish_then_ack(
            publisher,
            delivery,
            incoming,
            exchange,
            routing_key,
            headers,
        )
        .await
        {
            metrics().dead_lettered(self.queue.name, reason.as_str());
        }
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(error) = delivery.ack(BasicAckOptions::default()).await {
        tracing::warn!(%error, "ack failed; the message will be redelivered");
    }
}

async fn requeue(delivery: &Delivery) {
    // requeue = true: only for failures that may pass (the publish of a retry copy failed).
    let options = BasicNackOptions {
        requeue: true,
        ..Default::default()
    };
    if let Err(error) = delivery.nack(options).await {
        tracing::warn!(%error, "nack failed; the message will be redelivered");
    }
}

fn first_failed_at(incoming: &Incoming) -> DateTime<Utc> {
    get_str(&incoming.headers, h::FIRST_FAILED_AT)
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
}

/// The message's headers plus where it first came from and how often it was tried.
fn copy_headers(incoming: &Incoming) -> FieldTable {
    let mut headers = incoming.headers.clone();
    set_u64(&mut headers, h::ATTEMPTS, incoming.attempts);
    set_str(
        &mut headers,
        h::DL_ORIGINAL_EXCHANGE,
        incoming.exchange.clone(),
    );
    set_str(
        &mut headers,
        h::DL_ORIGINAL_ROUTING_KEY,
        incoming.routing_key.clone(),
    );
    headers
}

/// Publishes a copy (retry or dead letter) and acknowledges the original only once the broker
/// confirmed the copy; if it cannot, the original goes back to the queue. Returns whether the
/// copy was confirmed.
async fn publish_then_ack(
    publisher: &Publisher,
    delivery: &Delivery,
    incoming: &Incoming,
    exchange: &str,
    routing_key: &str,
    headers: FieldTable,
) -> bool {
    let outgoing = Outgoing {
        exchange,
        routing_key,
        body: &incoming.body,
        message_id: incoming.message_id.as_deref(),
        headers,
    };
    match publisher.publish(outgoing).await {
        Ok(()) => {
            ack(delivery).await;
            true
        }
        Err(error) => {
            tracing::warn!(%error, exchange, routing_key, "could not publish the copy; returning the message to the queue");
            tokio::time::sleep(Duration::from_millis(500)).await;
            requeue(delivery).await;
            false
        }
    }
}

/// Adds why, when and from which queue a message is dead-lettered.
fn mark_dead(headers: &mut FieldTable, queue: &str, reason: DeadLetterReason, detail: &str) {
    set_str(headers, h::DL_REASON, reason.as_str());
    set_str(headers, h::DL_DETAIL, detail);
    set_str(headers, h::DL_FAILED_AT, Utc::now().to_rfc3339());
    set_str(headers, h::DL_QUEUE, queue);
}

/// A message the worker acknowledged but kept, to dead-letter later if it comes to that (a
/// pending manager link keeps its event's message in the database until the age limit).
#[derive(Debug, Clone, Copy)]
pub struct Kept<'a> {
    pub body: &'a [u8],
    /// Where the message was first published (its dead letter's replay target).
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub message_id: Option<&'a str>,
}

/// The headers its publisher gave the message (event id, type, organization or company), read
/// again from its body: a kept message keeps no headers, and its dead letter must be found by
/// company like any other (`scimctl dlq replay --company`).
fn identity_headers(body: &[u8]) -> FieldTable {
    let mut headers = FieldTable::default();
    let Ok(message) = QueueMessage::from_bytes(body) else {
        return headers;
    };
    set_str(&mut headers, h::EVENT_ID, message.event_id());
    if let Some(event_type) = message.event_type() {
        set_str(&mut headers, h::EVENT_TYPE, event_type);
    }
    if let Some(organization) = message.organization_id() {
        set_str(&mut headers, h::ORGANIZATION_ID, organization);
    }
    if let Some(company) = message.company_id() {
        set_str(&mut headers, h::COMPANY_ID, company);
    }
    headers
}

/// Dead-letters a kept message from `queue` with the same headers as a held one, and waits
/// for the broker's confirm.
pub async fn dead_letter_kept(
    publisher: &Publisher,
    queue: &str,
    kept: Kept<'_>,
    reason: DeadLetterReason,
    detail: &str,
) -> Result<(), PublishError> {
    let mut headers = identity_headers(kept.body);
    set_u64(&mut headers, h::ATTEMPTS, 1);
    set_str(&mut headers, h::DL_ORIGINAL_EXCHANGE, kept.exchange);
    set_str(&mut headers, h::DL_ORIGINAL_ROUTING_KEY, kept.routing_key);
    mark_dead(&mut headers, queue, reason, detail);
    tracing::warn!(%reason, detail, "dead-lettering a kept message");
    publisher
        .publish(Outgoing {
            exchange: DEAD_LETTER_EXCHANGE,
            routing_key: queue,
            body: kept.body,
            message_id: kept.message_id,
            headers,
        })
        .await?;
    metrics().dead_lettered(queue, reason.as_str());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_message_is_dead_lettered_under_its_event_and_company() {
        let body = br#"{"kind":"stytch_webhook.v1","svix_id":"msg_1","event_id":"e-1","event_type":"scim.member.create","timestamp":"2026-01-01T00:00:00Z","received_at":"2026-01-01T00:00:01Z","envelope":{"event_id":"e-1","action":"CREATE","object_type":"member","source":"SCIM","id":"m-1","timestamp":"2026-01-01T00:00:00Z","member":{"organization_id":"org-1","member_id":"m-1"}}}"#;
        let headers = identity_headers(body);
        assert_eq!(get_str(&headers, h::EVENT_ID).as_deref(), Some("e-1"));
        assert_eq!(
            get_str(&headers, h::EVENT_TYPE).as_deref(),
            Some("scim.member.create")
        );
        assert_eq!(
            get_str(&headers, h::ORGANIZATION_ID).as_deref(),
            Some("org-1")
        );
        assert!(identity_headers(b"not a message").inner().is_empty());
    }
}
