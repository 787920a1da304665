//! The `user-upsert` worker: applies Stytch member events to user records (SPEC R1-R11, R16,
//! R17). Consumes its own queue with prefetch-bounded concurrency; every effect of a message
//! commits before the message is acknowledged.

pub mod fold;
pub mod handler;
pub mod org;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use scimsync_platform::amqp::consumer::{self, ConsumerConfig};
use scimsync_platform::amqp::publisher::PublisherConfig;
use scimsync_platform::amqp::topology::full_plan;
use scimsync_platform::amqp::Publisher;
use scimsync_platform::Settings;
use scimsync_schema::topology::USER_UPSERT;
use tokio_util::sync::CancellationToken;

/// Runs until `shutdown`, then drains in-flight messages (SPEC A4).
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let db = scimsync_db::connect(&settings.database).await?;
    let plan = full_plan(settings.amqp.delivery_limit);
    let publisher_shutdown = CancellationToken::new();
    let publisher = Publisher::start(
        PublisherConfig {
            url: settings.amqp.url.clone(),
            name: "user-upsert-publisher".into(),
            channels: 2,
            confirm_timeout: settings.amqp.publish_timeout(),
            plan: plan.clone(),
        },
        publisher_shutdown.clone(),
    );
    let health =
        scimsync_platform::http::serve_health(&settings.worker.listen, shutdown.clone()).await?;
    let config = ConsumerConfig {
        url: settings.amqp.url.clone(),
        name: "user-upsert".into(),
        queue: USER_UPSERT,
        prefetch: settings.amqp.prefetch,
        shutdown_grace: Duration::from_secs(settings.worker.shutdown_grace_secs),
        retry_max_age: Duration::from_secs(settings.worker.retry_max_age_secs),
        plan,
    };
    consumer::run(
        config,
        Arc::new(handler::UserUpsert { db: db.clone() }),
        publisher.clone(),
        shutdown,
    )
    .await;
    publisher.close().await;
    publisher_shutdown.cancel();
    if let Some(health) = health {
        let _ = health.await;
    }
    db.close().await?;
    tracing::info!("user-upsert stopped");
    Ok(())
}
