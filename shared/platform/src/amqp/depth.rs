//! Queue depth for the metrics (SPEC A5: queue lag). A worker samples its own work queue, its
//! DLQ and its delay queues with passive declares, which report exact ready-message and consumer
//! counts without the management plugin (whose figures lag and which may not be reachable).

use std::sync::Arc;
use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::Connection;
use scimsync_schema::topology::{WorkQueue, DELAY_TIERS};
use tokio_util::sync::CancellationToken;

use crate::metrics::metrics;

/// How often queue depths are sampled: often enough for a lag alert, rare enough to be free.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// The queues a worker reports on.
pub fn watched_queues(queue: &WorkQueue) -> Vec<String> {
    let mut names = vec![queue.name.to_owned(), queue.dead_letter_queue()];
    names.extend(DELAY_TIERS.iter().map(|tier| queue.delay_queue(*tier)));
    names
}

/// Samples the queues `every` so often until `stop`, starting at once.
pub async fn watch(
    connection: Arc<Connection>,
    queues: Vec<String>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(error) = sample(&connection, &queues).await {
            tracing::debug!(%error, "could not sample queue depths");
        }
    }
}

async fn sample(connection: &Connection, queues: &[String]) -> Result<(), lapin::Error> {
    // A fresh channel each time: a failed passive declare (queue deleted) closes its channel.
    let channel = connection.create_channel().await?;
    let mut result = Ok(());
    for queue in queues {
        let options = QueueDeclareOptions {
            // Passive: only inspect, never create or change the queue.
            passive: true,
            ..Default::default()
        };
        match channel
            .queue_declare(queue, options, FieldTable::default())
            .await
        {
            Ok(declared) => {
                metrics().queue_sampled(queue, declared.message_count(), declared.consumer_count())
            }
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    let _ = channel.close(200, "sampled").await;
    result
}
