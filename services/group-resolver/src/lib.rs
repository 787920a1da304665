//! The `group-resolver` worker: owns SCIM groups, memberships and what they decide, namely
//! permission levels and group-driven deactivation (SPEC R9 c/d, R12, R16, R17).
//!
//! Memberships come from two sources that converge: full-state group lists in member events
//! and `scim.idp_group.*` events. Each membership is last-writer-wins by event timestamp, with
//! tombstones, and a member's newest full-state list stops older membership events from
//! re-adding a group it no longer names.

mod change;
pub mod groups;
mod idp_groups;
pub mod kind;
mod lists;
pub mod memberships;
mod resolver;
pub mod worker;

use scimsync_platform::Settings;
use scimsync_schema::Concern;
use tokio_util::sync::CancellationToken;

pub use resolver::GroupResolver;

pub const CONCERN: Concern = Concern::GroupResolver;

/// Runs until `shutdown`, then drains in-flight messages (SPEC A4).
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let db = scimsync_db::connect_worker(&settings.database).await?;
    let worker = GroupResolver::new(db.clone(), kind::DefaultGroups::from(&settings.groups));
    scimsync_platform::amqp::runtime::run(&settings, |_| worker, shutdown).await?;
    db.close().await?;
    Ok(())
}
