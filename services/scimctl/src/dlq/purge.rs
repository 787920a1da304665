//! `scimctl dlq purge`: deletes dead letters for good (all of a queue, or those matching).

use chrono::Utc;

use super::filter::Filter;
use super::reader::Reader;
use super::DeadLetterQueue;

/// Returns how many dead letters were deleted.
pub async fn purge(url: &str, queue: &DeadLetterQueue, filter: &Filter) -> anyhow::Result<u64> {
    let mut reader = Reader::open(url, &queue.name).await?;
    let everything = filter.reason.is_none()
        && filter.event_type.is_none()
        && filter.company.is_none()
        && filter.older_than.is_none();
    if everything {
        return Ok(reader.purge_all().await?);
    }
    let now = Utc::now();
    let mut purged = 0;
    while let Some(letter) = reader.next().await? {
        if filter.matches(&letter.info, now) {
            reader.remove(letter).await?;
            purged += 1;
        } else {
            reader.keep(letter).await?;
        }
    }
    reader.finish().await?;
    Ok(purged)
}
