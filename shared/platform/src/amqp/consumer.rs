//! The consumer runtime (SPEC A3, A4). A handler looks at a batch of messages (the deliveries
//! that were waiting, up to `batch_size`) and returns one [`Outcome`] each; the runtime turns
//! each into broker operations, in this order: publish any retry or dead-letter copy, wait for
//! its confirm, then ack the original. A crash between the two at worst duplicates a message,
//! which handlers tolerate; nothing is ever lost.
//!
//! Batches form on their own: when the queue is short every delivery is handled as it comes
//! (a batch of one, no added latency); when a backlog builds, the deliveries that arrived while
//! the previous batches ran are taken together, so a handler can apply them in one database
//! transaction with a few multi-row statements instead of a few statements each.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use scimsync_schema::headers as h;
use scimsync_schema::topology::WorkQueue;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::headers::{adopt_trace_context, get_str, get_u64};
use super::publisher::Publisher;
use super::settle::settle;
use super::topology::{declare, Plan};
use crate::metrics::metrics;
use crate::telemetry::record_trace_id;

/// What the handler decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Effects are committed: acknowledge.
    Ack,
    /// Transient failure (database down, broker hiccup): try again after a growing delay.
    Retry { reason: String },
    /// Not a failure: the message waits for what another message brings, which normally
    /// settles it sooner through another path (a pending manager link is woken when its
    /// manager arrives). Tried again like [`Outcome::Retry`], but never sooner than `at_least`:
    /// the quick tiers would only replay it as a no-op.
    Wait { reason: String, at_least: Duration },
    /// Permanent failure: move to this queue's DLQ now, with the reason in headers.
    DeadLetter { reason: String, detail: String },
}

/// One delivered message, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The message's own span (its trace context adopted): batch handlers run each message's
    /// work inside it, so traces and logs stay per message.
    pub span: tracing::Span,
    pub body: Vec<u8>,
    pub exchange: String,
    pub routing_key: String,
    pub headers: FieldTable,
    pub message_id: Option<String>,
    /// 1 on the first delivery, incremented on every retry through a delay queue.
    pub attempts: u64,
    pub redelivered: bool,
}

impl Incoming {
    fn from_delivery(delivery: &Delivery) -> Self {
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

/// A message handler. Implementations must be idempotent: delivery is at least once.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, message: &Incoming) -> impl Future<Output = Outcome> + Send;

    /// Handles several messages delivered together and returns one outcome per message, in
    /// order. The default handles them one by one, concurrently; handlers that can group the
    /// work (one transaction for the batch) override it.
    fn handle_batch(&self, messages: &[Incoming]) -> impl Future<Output = Vec<Outcome>> + Send {
        futures_util::future::join_all(
            messages
                .iter()
                .map(|m| self.handle(m).instrument(m.span.clone())),
        )
    }
}

#[derive(Clone)]
pub struct ConsumerConfig {
    pub url: SecretString,
    pub name: String,
    pub queue: WorkQueue,
    pub prefetch: u16,
    /// The most deliveries handed to the handler at once.
    pub batch_size: usize,
    /// How many batches are handled at once.
    pub concurrency: usize,
    pub shutdown_grace: Duration,
    pub retry_max_age: Duration,
    pub plan: Plan,
}

/// Consumes until `shutdown`, reconnecting with backoff when the broker goes away. On shutdown
/// it cancels the consumer, lets in-flight messages finish (up to the grace period) and returns.
pub async fn run<H: Handler>(
    config: ConsumerConfig,
    handler: Arc<H>,
    publisher: Publisher,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match consume(&config, &handler, &publisher, &shutdown).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, queue = config.queue.name, retry_in = ?backoff, "consumer lost its connection");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn consume<H: Handler>(
    config: &ConsumerConfig,
    handler: &Arc<H>,
    publisher: &Publisher,
    shutdown: &CancellationToken,
) -> Result<(), lapin::Error> {
    let connection = Arc::new(super::connect(config.url.expose_secret(), &config.name).await?);
    let channel = connection.create_channel().await?;
    declare(&channel, &config.plan).await?;
    // Prefetch bounds how many unacknowledged messages this process holds: its concurrency.
    channel
        .basic_qos(config.prefetch, BasicQosOptions::default())
        .await?;
    let tag = format!("{}-{}", config.name, uuid_like());
    let mut consumer = channel
        .basic_consume(
            config.queue.name,
            &tag,
            // Manual acks (no_ack = false): a message is removed only after its effects commit.
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(
        queue = config.queue.name,
        prefetch = config.prefetch,
        "consuming"
    );
    // Queue depths for the metrics, sampled while this connection lives: the guard stops the
    // sampler on every return path.
    let sampling = CancellationToken::new();
    let _stop_sampling = sampling.clone().drop_guard();
    tokio::spawn(super::depth::watch(
        connection.clone(),
        super::depth::watched_queues(&config.queue),
        super::depth::SAMPLE_EVERY,
        sampling,
    ));
    let tracker = TaskTracker::new();
    let batch_size = config.batch_size.max(1);
    // Batches in flight at once. While they all run, deliveries wait in the prefetch window
    // and the next free slot takes them together.
    let slots = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    let result = loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = channel.basic_cancel(&tag, BasicCancelOptions::default()).await;
                break Ok(());
            }
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break Ok(()),
            },
        };
        let first = tokio::select! {
            _ = shutdown.cancelled() => {
                // Stop taking messages; unstarted prefetched ones return to the queue.
                let _ = channel.basic_cancel(&tag, BasicCancelOptions::default()).await;
                break Ok(());
            }
            next = consumer.next() => next,
        };
        let mut batch = match first {
            None => {
                break Err(lapin::Error::InvalidChannelState(
                    lapin::ChannelState::Closed,
                ))
            }
            Some(Err(error)) => break Err(error),
            Some(Ok(delivery)) => vec![delivery],
        };
        // Whatever else has already arrived joins the batch; nothing waits for more.
        let mut ended = None;
        while batch.len() < batch_size {
            match futures_lite::future::poll_once(consumer.next()).await {
                Some(Some(Ok(delivery))) => batch.push(delivery),
                Some(None) => {
                    ended = Some(lapin::Error::InvalidChannelState(
                        lapin::ChannelState::Closed,
                    ));
                    break;
                }
                Some(Some(Err(error))) => {
                    ended = Some(error);
                    break;
                }
                None => break,
            }
        }
        let handler = handler.clone();
        let publisher = publisher.clone();
        let config = config.clone();
        tracker.spawn(async move {
            process(&config, handler, &publisher, batch).await;
            drop(slot);
        });
        if let Some(error) = ended {
            break Err(error);
        }
    };
    tracker.close();
    if tokio::time::timeout(config.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            in_flight = tracker.len(),
            "grace period over; unfinished messages will be redelivered"
        );
    }
    let _ = channel.close(200, "bye").await;
    let _ = connection.close(200, "bye").await;
    result
}

fn uuid_like() -> String {
    format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or_default())
}

/// One message of a batch: its delivery, what the handler sees, its span and labels.
pub(super) struct InFlight {
    pub(super) delivery: Delivery,
    pub(super) incoming: Incoming,
    pub(super) event_type: String,
    pub(super) gauge: crate::metrics::InFlight,
}

fn open(config: &ConsumerConfig, delivery: Delivery) -> InFlight {
    let mut incoming = Incoming::from_delivery(&delivery);
    let gauge = metrics().in_flight(config.queue.name);
    // The event type labels metrics; older messages without the header fall back to the
    // routing key, which ingest sets to the event type.
    let event_type =
        get_str(&incoming.headers, h::EVENT_TYPE).unwrap_or_else(|| incoming.routing_key.clone());
    let span = tracing::info_span!(
        "process",
        otel.kind = "consumer",
        // OpenTelemetry messaging conventions: "{operation} {destination}".
        otel.name = %format!("process {}", config.queue.name),
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = config.queue.name,
        messaging.rabbitmq.destination.routing_key = %incoming.routing_key,
        messaging.message.id = incoming.message_id.as_deref().unwrap_or(""),
        messaging.rabbitmq.message.delivery_tag = delivery.delivery_tag,
        event_id = get_str(&incoming.headers, h::EVENT_ID).unwrap_or_default(),
        event_type = %event_type,
        organization_id = get_str(&incoming.headers, h::ORGANIZATION_ID).unwrap_or_default(),
        attempt = incoming.attempts,
        trace_id = tracing::field::Empty,
    );
    adopt_trace_context(&incoming.headers, &span);
    record_trace_id(&span);
    incoming.span = span;
    InFlight {
        delivery,
        incoming,
        event_type,
        gauge,
    }
}

async fn process<H: Handler>(
    config: &ConsumerConfig,
    handler: Arc<H>,
    publisher: &Publisher,
    deliveries: Vec<Delivery>,
) {
    metrics().batch_handled(config.queue.name, deliveries.len());
    let batch: Vec<InFlight> = deliveries.into_iter().map(|d| open(config, d)).collect();
    let messages: Arc<[Incoming]> = batch.iter().map(|m| m.incoming.clone()).collect();
    let started = Instant::now();
    let outcomes = {
        let messages = messages.clone();
        // Run in its own task so a panicking handler is caught here, not fatal to the consumer.
        tokio::spawn(async move {
            if let [message] = &messages[..] {
                let outcome = handler
                    .handle(message)
                    .instrument(message.span.clone())
                    .await;
                vec![outcome]
            } else {
                let size = messages.len();
                handler
                    .handle_batch(&messages)
                    .instrument(tracing::info_span!("batch", size))
                    .await
            }
        })
        .await
    };
    let elapsed = started.elapsed();
    let outcomes: Vec<Result<Outcome, String>> = match outcomes {
        Ok(outcomes) if outcomes.len() == batch.len() => outcomes.into_iter().map(Ok).collect(),
        Ok(outcomes) => {
            let problem = format!(
                "handler returned {} outcomes for {} messages",
                outcomes.len(),
                batch.len()
            );
            vec![Err(problem); batch.len()]
        }
        Err(panic) => vec![Err(format!("handler panicked: {panic}")); batch.len()],
    };
    let settles = batch.into_iter().zip(outcomes).map(|(message, outcome)| {
        let label = match &outcome {
            Ok(Outcome::Ack) => "ack",
            Ok(Outcome::Retry { .. }) => "retry",
            Ok(Outcome::Wait { .. }) => "wait",
            Ok(Outcome::DeadLetter { .. }) => "dead_letter",
            Err(_) => "panic",
        };
        let span = message.incoming.span.clone();
        async move {
            let event_type = message.event_type.clone();
            let gauge = settle(config, publisher, message, outcome).await;
            // No longer in flight, then counted once settled: a scrape never sees a message
            // counted as handled and still in flight.
            drop(gauge);
            metrics().event_handled(config.queue.name, &event_type, label, elapsed);
        }
        .instrument(span)
    });
    futures_util::future::join_all(settles).await;
}
