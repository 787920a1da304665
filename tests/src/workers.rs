//! The test system's side of the one list of workers (`Concern::ALL`): how each is started
//! in-process. A new concern does not compile here until the test system can start it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::Utc;
use scimsync_platform::Settings;
use scimsync_schema::Concern;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Starts the worker of `concern` until `shutdown`. `clock_offset_secs` moves the clock of the
/// workers that read one (manager-linker's age limit), to play the passage of days.
pub fn start(
    concern: Concern,
    settings: Settings,
    clock_offset_secs: Arc<AtomicI64>,
    shutdown: CancellationToken,
) -> JoinHandle<anyhow::Result<()>> {
    match concern {
        Concern::UserUpsert => tokio::spawn(scimsync_user_upsert::run(settings, shutdown)),
        Concern::GroupResolver => tokio::spawn(scimsync_group_resolver::run(settings, shutdown)),
        Concern::ManagerLinker => {
            let clock: scimsync_manager_linker::Clock = Arc::new(move || {
                Utc::now() + chrono::Duration::seconds(clock_offset_secs.load(Ordering::Relaxed))
            });
            let run = scimsync_manager_linker::run_with_clock(settings, clock, shutdown);
            tokio::spawn(run)
        }
    }
}
