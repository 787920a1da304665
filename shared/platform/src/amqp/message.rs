//! A delivered message as a worker sees it, and what the worker decided about it.

use lapin::message::Delivery;
use lapin::types::FieldTable;
use scimsync_schema::headers as h;
use scimsync_schema::DeadLetterReason;

use super::headers::{get_str, get_u64};

/// What a worker decided about one message; the runtime settles it with the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Effects are committed: acknowledge.
    Ack,
    /// Transient failure (database down, broker hiccup): try again after a growing delay.
    Retry { reason: String },
    /// Permanent failure: move to this queue's DLQ now, with the reason in headers.
    DeadLetter {
        reason: DeadLetterReason,
        detail: String,
    },
}

impl Outcome {
    /// A dead letter for this reason.
    pub fn dead_letter(reason: DeadLetterReason, detail: impl Into<String>) -> Self {
        Self::DeadLetter {
            reason,
            detail: detail.into(),
        }
    }

    /// Its metric label.
    pub(super) fn label(&self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Retry { .. } => "retry",
            Self::DeadLetter { .. } => "dead_letter",
        }
    }
}

/// One delivered message, as a worker sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The message's own span (its trace context adopted): its decoding, and its batch's work
    /// when the batch is this message alone, run inside it.
    pub span: tracing::Span,
    pub body: Vec<u8>,
    /// Where the message was first published (a retried copy keeps its origin in headers).
    pub exchange: String,
    pub routing_key: String,
    pub headers: FieldTable,
    pub message_id: Option<String>,
    /// 1 on the first delivery, incremented on every retry through a delay queue.
    pub attempts: u64,
    pub redelivered: bool,
}

impl Incoming {
    pub(super) fn from_delivery(delivery: &Delivery) -> Self {
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        let attempts = get_u64(&headers, h::ATTEMPTS).unwrap_or(0) + 1;
        Self {
            span: tracing::Span::none(),
            body: delivery.data.clone(),
            exchange: get_str(&headers, h::DL_ORIGINAL_EXCHANGE)
                .unwrap_or_else(|| delivery.exchange.as_str().to_owned()),
            routing_key: get_str(&headers, h::DL_ORIGINAL_ROUTING_KEY)
                .unwrap_or_else(|| delivery.routing_key.as_str().to_owned()),
            message_id: delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            headers,
            attempts,
            redelivered: delivery.redelivered,
        }
    }
}
