//! The `manager-linker` worker: links users to their managers (SPEC R13-R15, and the Manager
//! level of R12).
//!
//! Identity providers send reports before their managers, so a manager value that resolves to
//! nobody yet stays pending: every new user record (or new id on one) announces itself
//! (`internal.user.provisioned`) and wakes the links waiting for it. A pending link keeps its
//! event's message, which is acknowledged; the sweep looks at pending links again from the
//! database, every `manager.pending_retry_secs`, to catch a missed announcement and the age
//! limit.
//! Cycles never form: hierarchy changes are serialised per company and checked inside the same
//! transaction.

pub mod links;
pub mod settings;
pub mod sweep;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use scimsync_platform::Settings;
use scimsync_schema::Concern;
use tokio_util::sync::CancellationToken;

pub const CONCERN: Concern = Concern::ManagerLinker;

/// Where "now" comes from: the wall clock in production, a controllable one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Runs until `shutdown`, then drains in-flight messages (SPEC A4).
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    run_with_clock(settings, Arc::new(Utc::now), shutdown).await
}

pub async fn run_with_clock(
    settings: Settings,
    clock: Clock,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let own = crate::settings::ManagerSettings::from_settings(&settings)?;
    let db = scimsync_db::connect_worker(&settings.database).await?;
    let max_pending_age = own.max_pending_age();
    let linker = worker::ManagerLinker {
        db: db.clone(),
        clock: clock.clone(),
        max_pending_age,
        companies: scimsync_db::companies::Cache::new(Duration::from_secs(30)),
    };
    let mut sweeping = None;
    let sweep_stop = shutdown.child_token();
    let with_sweep = |publisher| {
        let sweeper = sweep::Sweeper {
            db: db.clone(),
            clock,
            max_pending_age,
            every: own.pending_retry(),
            publisher,
        };
        sweeping = Some(tokio::spawn(sweeper.run(sweep_stop.clone())));
        linker
    };
    let result = scimsync_platform::amqp::runtime::run(&settings, with_sweep, shutdown).await;
    sweep_stop.cancel();
    if let Some(sweeping) = sweeping {
        let _ = sweeping.await;
    }
    result?;
    db.close().await?;
    Ok(())
}
