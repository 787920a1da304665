//! A queue-fed worker is one implementation of [`Worker`]: its name, its queue and bindings, how
//! it reads a message, how it applies a batch. [`run`] does everything else: the topology (its
//! queue, dead-letter queue and delay tiers), its publisher (retries, dead letters, follow-up
//! messages), its health endpoint, prefetch, batching, settlement, trace context, metrics and
//! shutdown.
//!
//! Like crates.io's `BackgroundJob`, a job kind is one trait implementation; unlike it, the
//! trait also carries what the broker needs (the queue and the routing keys bound to it), and
//! the only way to apply messages is a batch (an idle worker applies a batch of one), so a
//! worker has one code path. The system's own workers are listed once, as
//! `scimsync_schema::Concern`; `docs/adding-a-worker.md` says what else names them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use scimsync_schema::topology::{WorkQueue, WORK_QUEUES};
use tokio_util::sync::CancellationToken;

use super::batch::Batch;
use super::consumer::{self, ConsumerConfig};
use super::message::{Incoming, Outcome};
use super::publisher::{Publisher, PublisherConfig};
use super::settle::Settler;
use super::topology::plan;
use crate::Settings;

/// A worker fed by its own queue. Implementations must be idempotent: delivery is at least
/// once, and a batch that fails may be applied again item by item.
pub trait Worker: Send + Sync + 'static {
    /// Its name, in connection names and logs (a system worker's concern name).
    const NAME: &'static str;
    /// Its queue and the routing keys bound to it, declared at start with the queue's
    /// dead-letter queue and delay tiers (SPEC A2).
    const QUEUE: WorkQueue;
    /// A message as the worker applies it.
    type Item: Send + Sync + 'static;

    /// Reads one message, inside its span: the item to apply, or the outcome the message
    /// already has (a dead letter for one it cannot read, an ack for one that asks nothing of
    /// it).
    fn decode(
        &self,
        message: &Incoming,
    ) -> impl Future<Output = Result<Self::Item, Outcome>> + Send;

    /// Applies the items of the messages that were waiting together (one, when the queue is
    /// idle) and returns one outcome per item, in order: the runtime gives each its message's.
    /// Effects must be committed before it returns (SPEC A3).
    fn apply(&self, batch: Batch<Self::Item>) -> impl Future<Output = Vec<Outcome>> + Send;
}

/// Consumes `W::QUEUE` until `shutdown`, then drains in-flight messages (SPEC A4). `make`
/// receives the worker's publisher, for workers that publish follow-up messages.
pub async fn run<W: Worker>(
    settings: &Settings,
    make: impl FnOnce(Publisher) -> W,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Every work queue, not only this one: a worker may be the first service up, and what it
    // publishes (a follow-up, a retry) must find the other workers' queues bound already.
    let mut queues = WORK_QUEUES.to_vec();
    if !queues.contains(&W::QUEUE) {
        queues.push(W::QUEUE);
    }
    let plan = plan(&queues, settings.amqp.delivery_limit);
    let publisher_shutdown = CancellationToken::new();
    let publisher = Publisher::start(
        PublisherConfig {
            url: settings.amqp.url.clone(),
            name: format!("{}-publisher", W::NAME),
            channels: 2,
            confirm_timeout: settings.amqp.publish_timeout(),
            plan: plan.clone(),
        },
        publisher_shutdown.clone(),
    );
    let health = crate::http::serve_health(&settings.worker.listen, shutdown.clone()).await?;
    let config = ConsumerConfig {
        url: settings.amqp.url.clone(),
        name: W::NAME.into(),
        queue: W::QUEUE,
        prefetch: settings.amqp.prefetch,
        batch_size: settings.worker.batch_size,
        concurrency: settings.worker.concurrency,
        shutdown_grace: Duration::from_secs(settings.worker.shutdown_grace_secs),
        plan,
    };
    let settler = Settler {
        queue: W::QUEUE,
        retry_max_age: Duration::from_secs(settings.worker.retry_max_age_secs),
        publisher: publisher.clone(),
    };
    let worker = Arc::new(make(publisher.clone()));
    consumer::run(config, worker, settler, shutdown).await;
    publisher.close().await;
    publisher_shutdown.cancel();
    if let Some(health) = health {
        let _ = health.await;
    }
    tracing::info!(worker = W::NAME, "stopped");
    Ok(())
}
