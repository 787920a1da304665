//! The `group-resolver` worker: owns SCIM groups, memberships and what they decide, namely
//! permission levels and group-driven deactivation (SPEC R9 c/d, R12, R16, R17).
//!
//! Memberships come from two sources that converge: full-state group lists in member events
//! and `scim.idp_group.*` events. Each membership is last-writer-wins by event timestamp, with
//! tombstones, and a member's newest full-state list stops older membership events from
//! re-adding a group it no longer names.

mod batch;
mod change;
pub mod groups;
pub mod handler;
mod idp_groups;
pub mod kind;
pub mod memberships;

use scimsync_platform::amqp::worker;
use scimsync_platform::Settings;
use scimsync_schema::topology::GROUP_RESOLVER;
use tokio_util::sync::CancellationToken;

pub const CONCERN: &str = "group-resolver";

/// Runs until `shutdown`, then drains in-flight messages (SPEC A4).
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let db = scimsync_db::connect_worker(&settings.database).await?;
    let handler =
        handler::GroupResolver::new(db.clone(), kind::DefaultGroups::from(&settings.groups));
    worker::run(&settings, CONCERN, GROUP_RESOLVER, |_| handler, shutdown).await?;
    db.close().await?;
    Ok(())
}
