//! The consumer runtime (SPEC A3, A4). A worker decodes each message and applies a batch of
//! them (the deliveries that were waiting, up to `batch_size`), returning one [`Outcome`] per
//! item; the runtime maps the outcomes back to their messages and turns each into broker
//! operations, in this order: publish any retry or dead-letter copy, wait for its confirm, then
//! ack the original. A crash between the two at worst duplicates a message, which workers
//! tolerate; nothing is ever lost.
//!
//! Batches form on their own: when the queue is short every delivery is handled as it comes
//! (a batch of one, no added latency); when a backlog builds, the deliveries that arrived while
//! the previous batches ran are taken together, so a worker can apply them in one database
//! transaction with a few multi-row statements instead of a few statements each.

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

use super::batch::Batch;
use super::headers::{adopt_trace_context, get_str};
use super::message::{Incoming, Outcome};
use super::settle::{InFlight, Settler};
use super::topology::{declare, Plan};
use super::worker::Worker;
use crate::metrics::metrics;
use crate::telemetry::record_trace_id;

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
    pub plan: Plan,
}

/// Consumes until `shutdown`, reconnecting with backoff when the broker goes away. On shutdown
/// it cancels the consumer, lets in-flight messages finish (up to the grace period) and returns.
pub async fn run<W: Worker>(
    config: ConsumerConfig,
    worker: Arc<W>,
    settler: Settler,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match consume(&config, &worker, &settler, &shutdown).await {
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

async fn consume<W: Worker>(
    config: &ConsumerConfig,
    worker: &Arc<W>,
    settler: &Settler,
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
        let (worker, settler) = (worker.clone(), settler.clone());
        let queue = config.queue.name;
        tracker.spawn(async move {
            process(queue, worker, &settler, batch).await;
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

fn open(queue: &'static str, delivery: Delivery) -> InFlight {
    let mut incoming = Incoming::from_delivery(&delivery);
    let gauge = metrics().in_flight(queue);
    // The event type labels metrics; older messages without the header fall back to the
    // routing key, which ingest sets to the event type.
    let event_type =
        get_str(&incoming.headers, h::EVENT_TYPE).unwrap_or_else(|| incoming.routing_key.clone());
    let span = tracing::info_span!(
        "process",
        otel.kind = "consumer",
        // OpenTelemetry messaging conventions: "{operation} {destination}".
        otel.name = %format!("process {queue}"),
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = queue,
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

async fn process<W: Worker>(
    queue: &'static str,
    worker: Arc<W>,
    settler: &Settler,
    deliveries: Vec<Delivery>,
) {
    metrics().batch_handled(queue, deliveries.len());
    let batch: Vec<InFlight> = deliveries.into_iter().map(|d| open(queue, d)).collect();
    let messages: Vec<Incoming> = batch.iter().map(|m| m.incoming.clone()).collect();
    let started = Instant::now();
    // In its own task, so a panicking worker is caught here, not fatal to the consumer.
    let outcomes = tokio::spawn(handle(worker, messages)).await;
    let elapsed = started.elapsed();
    let outcomes: Vec<Result<Outcome, String>> = match outcomes {
        Ok(Ok(outcomes)) => outcomes.into_iter().map(Ok).collect(),
        Ok(Err(problem)) => vec![Err(problem); batch.len()],
        Err(panic) => vec![Err(format!("handler panicked: {panic}")); batch.len()],
    };
    let settles = batch.into_iter().zip(outcomes).map(|(message, outcome)| {
        let label = outcome.as_ref().map_or("panic", Outcome::label);
        let span = message.incoming.span.clone();
        async move {
            let event_type = message.event_type.clone();
            let gauge = settler.settle(message, outcome).await;
            // No longer in flight, then counted once settled: a scrape never sees a message
            // counted as handled and still in flight.
            drop(gauge);
            metrics().event_handled(queue, &event_type, label, elapsed);
        }
        .instrument(span)
    });
    futures_util::future::join_all(settles).await;
}

/// Decodes each message in its own span, applies the decoded ones as one batch, and puts each
/// outcome back at its message's place. The batch runs in its message's span when it is one
/// message, else in a span of its own.
async fn handle<W: Worker>(
    worker: Arc<W>,
    messages: Vec<Incoming>,
) -> Result<Vec<Outcome>, String> {
    let decoded = futures_util::future::join_all(
        messages
            .iter()
            .map(|m| worker.decode(m).instrument(m.span.clone())),
    )
    .await;
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(messages.len());
    let (mut items, mut places) = (Vec::new(), Vec::new());
    for (message, decoded) in messages.iter().zip(decoded) {
        match decoded {
            Ok(item) => {
                places.push(outcomes.len());
                items.push((item, message.span.clone()));
                outcomes.push(None);
            }
            Err(outcome) => outcomes.push(Some(outcome)),
        }
    }
    if !items.is_empty() {
        let span = match &items[..] {
            [(_, span)] => span.clone(),
            _ => tracing::info_span!("batch", size = items.len()),
        };
        let size = items.len();
        let applied = worker.apply(Batch::new(items)).instrument(span).await;
        if applied.len() != size {
            return Err(format!(
                "{} returned {} outcomes for {size} messages",
                W::NAME,
                applied.len()
            ));
        }
        for (place, outcome) in places.into_iter().zip(applied) {
            outcomes[place] = Some(outcome);
        }
    }
    Ok(outcomes.into_iter().flatten().collect())
}
