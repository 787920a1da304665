//! Starts a [`Worker`]: the topology, its publisher, its health endpoint and the consumer that
//! feeds it, until shutdown (SPEC A2, A4).

use std::sync::Arc;
use std::time::Duration;

use scimsync_schema::topology::WORK_QUEUES;
use tokio_util::sync::CancellationToken;

use super::consumer::{self, ConsumerConfig};
use super::publisher::{Publisher, PublisherConfig};
use super::settle::Settler;
use super::topology::plan;
use super::worker::Worker;
use crate::Settings;

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
