//! The sweep: links left pending, looked at again from the database every
//! `manager.pending_retry_secs`. An announcement normally settles a link within moments of its
//! user's arrival; the sweep catches one that was missed (an announcement lost to a crash
//! between commit and publish), and gives up on links past the age limit (R13), dead-lettering
//! the message each one kept. Every replica sweeps; a link taken by one is skipped by the
//! others (it is no longer due once locked and looked at).

use std::time::Duration;

use chrono::{DateTime, Utc};
use scimsync_platform::amqp::Publisher;
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::links::{Linker, LINKS_PER_TRANSACTION};
use crate::Clock;

pub struct Sweeper {
    pub db: DatabaseConnection,
    pub clock: Clock,
    pub max_pending_age: Duration,
    /// How long after its last look a pending link is looked at again, and how often rounds run.
    pub every: Duration,
    /// Where dead letters go.
    pub publisher: Publisher,
}

impl Sweeper {
    /// Sweeps every `every` (the first round at once, for links left by an earlier run) until
    /// `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            self.round(&shutdown).await;
        }
    }

    /// Takes due links a transaction at a time until fewer than a full one are due.
    async fn round(&self, shutdown: &CancellationToken) {
        while !shutdown.is_cancelled() {
            let now = (self.clock)();
            let linker = Linker {
                db: &self.db,
                now,
                max_pending_age: self.max_pending_age,
            };
            match linker
                .sweep(&self.publisher, self.due_before(now), LINKS_PER_TRANSACTION)
                .await
            {
                Ok(swept) => {
                    if swept.due > 0 {
                        tracing::info!(
                            due = swept.due,
                            settled = swept.settled,
                            given_up = swept.given_up,
                            "pending links looked at again"
                        );
                    }
                    // A round goes on while it finds a full transaction's worth.
                    if swept.due < LINKS_PER_TRANSACTION {
                        return;
                    }
                }
                Err(error) => {
                    // The chain, not `{:?}`: with RUST_BACKTRACE set, the debug form resolves the
                    // backtrace, which keeps the binary's debug info resident (about 160 MiB).
                    tracing::warn!(error = %format_args!("{error:#}"), "sweep failed; trying again next round");
                    return;
                }
            }
        }
    }

    fn due_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::from_std(self.every).unwrap_or(chrono::Duration::MAX)
    }
}
