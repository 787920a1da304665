//! The `user-upsert` worker: applies member changes to user records (SPEC R1-R11, R16, R17).
//! Consumes its own queue with prefetch-bounded concurrency; every effect of a message commits
//! before the message is acknowledged.

pub mod history;
pub mod org;
pub mod store;
pub mod worker;

use scimsync_platform::Settings;
use tokio_util::sync::CancellationToken;

pub use worker::UserUpsert;

/// Runs until `shutdown`, then drains in-flight messages (SPEC A4).
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let db = scimsync_db::connect_worker(&settings.database).await?;
    let worker = |publisher| UserUpsert {
        store: store::Store::new(db.clone()),
        publisher,
    };
    scimsync_platform::amqp::runtime::run(&settings, worker, shutdown).await?;
    db.close().await?;
    Ok(())
}
