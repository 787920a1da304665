//! `scimctl dlq show`: dead letters with their headers and body. Looking loses nothing: each
//! message read is kept (see [`super::reader`]).

use chrono::Utc;

use super::filter::Filter;
use super::letter::DeadLetter;
use super::reader::Reader;
use super::DeadLetterQueue;

/// Up to `limit` dead letters matching `filter`, oldest first.
pub async fn show(
    url: &str,
    queue: &DeadLetterQueue,
    filter: &Filter,
    limit: u64,
) -> anyhow::Result<Vec<DeadLetter>> {
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

/// Prints one dead letter for a person.
pub fn print(index: usize, total: usize, letter: &DeadLetter) {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("--- {}/{} in {}", index + 1, total, letter.queue);
    println!("reason        {}", letter.reason);
    println!("detail        {}", or_dash(&letter.detail));
    println!(
        "failed at     {}",
        letter
            .failed_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "original      exchange {} routing key {}",
        or_dash(&letter.original_exchange),
        or_dash(&letter.original_routing_key)
    );
    println!(
        "attempts      {}",
        letter
            .attempts
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "event         {} ({})",
        or_dash(&letter.event_id),
        or_dash(&letter.event_type)
    );
    println!("organization  {}", or_dash(&letter.organization_id));
    println!("message id    {}", or_dash(&letter.message_id));
    println!("dead-lettered by {:?}", letter.dead_lettered_by);
    println!("headers");
    for (key, value) in &letter.headers {
        println!("  {key}: {value}");
    }
    println!("body");
    let body = serde_json::to_string_pretty(&letter.body).unwrap_or_default();
    for line in body.lines() {
        println!("  {line}");
    }
}
