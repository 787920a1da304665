//! `scimctl dlq list`: every dead-letter queue with its count, by reason and event type.

use std::collections::BTreeMap;

use serde::Serialize;

use super::reader::{OpenError, Reader};
use super::DeadLetterQueue;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Group {
    pub reason: String,
    pub event_type: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueCount {
    pub queue: String,
    /// False when no worker has declared the queue on this virtual host yet.
    pub exists: bool,
    pub messages: u64,
    pub groups: Vec<Group>,
}

/// Reads every message of each queue once (kept, see [`super::reader`]) to break the counts
/// down; an empty queue is not read at all.
pub async fn list(url: &str, queues: &[DeadLetterQueue]) -> anyhow::Result<Vec<QueueCount>> {
    let mut counts = Vec::with_capacity(queues.len());
    for queue in queues {
        let mut reader = match Reader::open(url, &queue.name).await {
            Ok(reader) => reader,
            Err(OpenError::Missing(_)) => {
                counts.push(QueueCount {
                    queue: queue.name.clone(),
                    exists: false,
                    messages: 0,
                    groups: Vec::new(),
                });
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let mut groups: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut messages = 0;
        while let Some(letter) = reader.next().await? {
            messages += 1;
            let key = (
                letter.info.reason.clone(),
                letter
                    .info
                    .event_type
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
            );
            *groups.entry(key).or_default() += 1;
            reader.keep(letter).await?;
        }
        reader.finish().await?;
        counts.push(QueueCount {
            queue: queue.name.clone(),
            exists: true,
            messages,
            groups: groups
                .into_iter()
                .map(|((reason, event_type), count)| Group {
                    reason,
                    event_type,
                    count,
                })
                .collect(),
        });
    }
    Ok(counts)
}

pub fn print(counts: &[QueueCount]) {
    println!(
        "{:<36} {:<28} {:<28} {:>8}",
        "QUEUE", "REASON", "EVENT TYPE", "COUNT"
    );
    for queue in counts {
        if !queue.exists {
            println!("{:<36} (not declared yet)", queue.queue);
            continue;
        }
        println!(
            "{:<36} {:<28} {:<28} {:>8}",
            queue.queue, "(all)", "", queue.messages
        );
        for group in &queue.groups {
            println!(
                "{:<36} {:<28} {:<28} {:>8}",
                "", group.reason, group.event_type, group.count
            );
        }
    }
}
