//! The `user-upsert` worker: applies Stytch member events to user records (SPEC R1-R11, R16,
//! R17). Consumes its own queue with prefetch-bounded concurrency; every effect of a message
//! commits before the message is acknowledged.

pub mod fold;
pub mod handler;
pub mod org;
pub mod store;

use scimsync_platform::amqp::worker;
use scimsync_platform::Settings;
use scimsync_schema::topology::USER_UPSERT;
use tokio_util::sync::CancellationToken;

/// Runs until `shutdown`, then drains in-flight messages (SPEC A4).
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let db = scimsync_db::connect_worker(&settings.database).await?;
    let handler = |publisher| handler::UserUpsert {
        store: store::Store::new(db.clone()),
        publisher,
    };
    worker::run(&settings, "user-upsert", USER_UPSERT, handler, shutdown).await?;
    db.close().await?;
    Ok(())
}
