//! Deletes dead letters for good (all of a queue, or those matching, or at most so many of them).

use chrono::Utc;

use super::filter::Filter;
use super::reader::Reader;
use super::{DeadLetterQueue, Error};

/// Deletes every dead letter of `queue` the filter selects; returns how many.
pub async fn purge(url: &str, queue: &DeadLetterQueue, filter: &Filter) -> Result<u64, Error> {
    purge_at_most(url, queue, filter, None).await
}

/// [`purge`], stopping after `limit` deletions: a person who confirmed "purge 12" purges no more
/// than 12, even if more arrived meanwhile.
pub async fn purge_at_most(
    url: &str,
    queue: &DeadLetterQueue,
    filter: &Filter,
    limit: Option<u64>,
) -> Result<u64, Error> {
    let mut reader = Reader::open(url, &queue.name).await?;
    if filter.is_everything() && limit.is_none() {
        return Ok(reader.purge_all().await?);
    }
    let now = Utc::now();
    let mut purged = 0;
    while limit.is_none_or(|limit| purged < limit) {
        let Some(letter) = reader.next().await? else {
            break;
        };
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
