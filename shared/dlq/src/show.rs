//! Dead letters with their headers and body. Looking loses nothing: each
//! message read is kept (see [`super::reader`]).

use chrono::Utc;

use super::filter::Filter;
use super::letter::DeadLetter;
use super::reader::Reader;
use super::{DeadLetterQueue, Error};

/// Up to `limit` dead letters matching `filter`, oldest first.
pub async fn show(
    url: &str,
    queue: &DeadLetterQueue,
    filter: &Filter,
    limit: u64,
) -> Result<Vec<DeadLetter>, Error> {
    let mut reader = Reader::open(url, &queue.name).await?;
    let now = Utc::now();
    let mut shown = Vec::new();
    while (shown.len() as u64) < limit {
        let Some(letter) = reader.next().await? else {
            break;
        };
        if filter.matches(&letter.info, now) {
            shown.push(letter.info.clone());
        }
        reader.keep(letter).await?;
    }
    reader.finish().await?;
    Ok(shown)
}
