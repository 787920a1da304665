//! Every dead-letter queue with its count, by reason and event type, and by company.

use std::collections::BTreeMap;

use serde::Serialize;

use chrono::Utc;

use super::filter::Filter;
use super::reader::{OpenError, Reader};
use super::{DeadLetterQueue, Error};

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
    /// Dead letters the filter selected (every one without a filter).
    pub messages: u64,
    pub groups: Vec<Group>,
    /// Selected dead letters per company, by the name the letter gives it: its Stytch
    /// organization id, else its company id, else `unknown` (a member DELETE names none).
    pub companies: BTreeMap<String, u64>,
}

/// Reads every message of each queue once (kept, see [`super::reader`]) to break the counts
/// down; an empty queue is not read at all.
pub async fn list(url: &str, queues: &[DeadLetterQueue]) -> Result<Vec<QueueCount>, Error> {
    list_matching(url, queues, &Filter::default()).await
}

/// [`list`], counting only the dead letters `filter` selects.
pub async fn list_matching(
    url: &str,
    queues: &[DeadLetterQueue],
    filter: &Filter,
) -> Result<Vec<QueueCount>, Error> {
    let now = Utc::now();
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
                    companies: BTreeMap::new(),
                });
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let mut groups: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut companies: BTreeMap<String, u64> = BTreeMap::new();
        let mut messages = 0;
        while let Some(letter) = reader.next().await? {
            if !filter.matches(&letter.info, now) {
                reader.keep(letter).await?;
                continue;
            }
            messages += 1;
            let company = letter
                .info
                .organization_id
                .clone()
                .or_else(|| letter.info.company_id.clone())
                .unwrap_or_else(|| "unknown".into());
            *companies.entry(company).or_default() += 1;
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
            companies,
        });
    }
    Ok(counts)
}
