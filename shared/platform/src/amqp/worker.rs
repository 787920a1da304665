//! Running a queue worker: its publisher (retries, dead letters), its health endpoint and the
//! consumer runtime, until shutdown. Each worker service is this plus its handler.

use std::sync::Arc;
use std::time::Duration;

use scimsync_schema::topology::WorkQueue;
use tokio_util::sync::CancellationToken;

use super::consumer::{self, ConsumerConfig, Handler};
use super::publisher::{Publisher, PublisherConfig};
use super::topology::full_plan;
use crate::Settings;

/// Consumes `queue` until `shutdown`, then drains in-flight messages (SPEC A4). `make_handler`
/// receives the worker's publisher, for handlers that publish follow-up messages.
pub async fn run<H: Handler>(
    settings: &Settings,
    name: &'static str,
    queue: WorkQueue,
    make_handler: impl FnOnce(Publisher) -> H,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let plan = full_plan(settings.amqp.delivery_limit);
    let publisher_shutdown = CancellationToken::new();
    let publisher = Publisher::start(
        PublisherConfig {
            url: settings.amqp.url.clone(),
            name: format!("{name}-publisher"),
            channels: 2,
            confirm_timeout: settings.amqp.publish_timeout(),
            plan: plan.clone(),
        },
        publisher_shutdown.clone(),
    );
    let health = crate::http::serve_health(&settings.worker.listen, shutdown.clone()).await?;
    let config = ConsumerConfig {
        url: settings.amqp.url.clone(),
        name: name.into(),
        queue,
        prefetch: settings.amqp.prefetch,
        batch_size: settings.worker.batch_size,
        concurrency: settings.worker.concurrency,
        shutdown_grace: Duration::from_secs(settings.worker.shutdown_grace_secs),
        retry_max_age: Duration::from_secs(settings.worker.retry_max_age_secs),
        plan,
    };
    consumer::run(
        config,
        Arc::new(make_handler(publisher.clone())),
        publisher.clone(),
        shutdown,
    )
    .await;
    publisher.close().await;
    publisher_shutdown.cancel();
    if let Some(health) = health {
        let _ = health.await;
    }
    tracing::info!(worker = name, "stopped");
    Ok(())
}
