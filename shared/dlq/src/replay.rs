//! Puts selected dead letters back to work (SPEC A6).
//!
//! Where to: the failed worker's own queue (default exchange, routing key = queue name), not
//! the original exchange. The events exchange is a topic exchange every worker binds to, so
//! republishing there would hand a second copy to every other worker that already processed
//! the event successfully; the dead letter belongs to one worker only. The original exchange and
//! routing key stay in the `x-original-*` headers, which the consumer runtime reads as the
//! message's origin (spans, logs).
//!
//! Order per message: publish the copy, wait for the broker's confirm, and only then remove the
//! dead letter. A crash in between leaves the event both at work and in the DLQ; handlers are
//! idempotent (keyed on the event id), so a second replay of it is a no-op, never a loss.

use std::time::Duration;

use chrono::Utc;
use lapin::types::{FieldTable, ShortString};
use scimsync_platform::amqp::headers::set_str;
use scimsync_schema::headers as h;
use serde::Serialize;

use super::filter::Filter;
use super::letter::{DeadLetter, X_DEATH};
use super::reader::{Letter, Reader};
use super::{DeadLetterQueue, Error};

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub filter: Filter,
    /// Replay at most this many (the rest stay untouched).
    pub limit: Option<u64>,
    /// At most this many republishes per second.
    pub rate: Option<f64>,
    /// Report what would be replayed; change nothing.
    pub dry_run: bool,
    /// For tests: stop like a crash right after the first confirmed republish, before the
    /// dead letter is removed.
    pub crash_after_publish: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplaySummary {
    pub queue: String,
    /// Dead letters read.
    pub walked: u64,
    /// Selected by the filter (in a dry run: what would be replayed).
    pub matched: u64,
    pub replayed: u64,
    pub skipped: u64,
    /// Not confirmed by the broker; these dead letters are still in the queue.
    pub failed: u64,
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("simulated crash after the first republish (--crash-after-publish)")]
pub struct SimulatedCrash;

/// How far a replay is, for whoever watches it (a progress bar on a terminal).
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// The walk starts and will read at most this many dead letters.
    Started { snapshot: u64 },
    /// One more dead letter was read; the counts so far.
    Read(&'a ReplaySummary),
    /// The walk is over.
    Finished,
}

/// Headers our workers or the broker add when dead-lettering or retrying: dropped from the
/// replayed copy so it starts afresh (first attempt, no retry age).
const RESET: &[&str] = &[
    h::DL_REASON,
    h::DL_DETAIL,
    h::DL_FAILED_AT,
    h::DL_QUEUE,
    h::ATTEMPTS,
    h::FIRST_FAILED_AT,
    X_DEATH,
    "x-delivery-count",
];

/// The headers of the copy put back to work: attempts reset, dead-letter and retry headers
/// dropped; the event id, organization, trace context and the original exchange and routing
/// key kept (taken from `x-death` for broker dead letters, the organization from the body when
/// no header named it).
pub fn replay_headers(original: &FieldTable, info: &DeadLetter) -> FieldTable {
    let mut map = original.inner().clone();
    map.retain(|key, _| {
        let key = key.as_str();
        !RESET.contains(&key)
            && !key.starts_with("x-first-death-")
            && !key.starts_with("x-last-death-")
    });
    let mut headers = FieldTable::from(map);
    // Found by company from its body (an older message): the copy says it, and so do its own
    // retries and dead letters.
    if let Some(organization) = &info.organization_id {
        set_str(&mut headers, h::ORGANIZATION_ID, organization.clone());
    }
    if let Some(exchange) = &info.original_exchange {
        set_str(&mut headers, h::DL_ORIGINAL_EXCHANGE, exchange.clone());
    }
    if let Some(key) = &info.original_routing_key {
        set_str(&mut headers, h::DL_ORIGINAL_ROUTING_KEY, key.clone());
    }
    set_str(&mut headers, h::REPLAYED_AT, Utc::now().to_rfc3339());
    headers
}

pub async fn replay(
    url: &str,
    queue: &DeadLetterQueue,
    options: &ReplayOptions,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<ReplaySummary, Error> {
    if options
        .rate
        .is_some_and(|rate| !(rate.is_finite() && rate > 0.0))
    {
        return Err(Error::InvalidRate);
    }
    let mut reader = Reader::open(url, &queue.name).await?;
    progress(Progress::Started {
        snapshot: reader.snapshot(),
    });
    let mut pace = options.rate.map(|rate| {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    });
    let mut summary = ReplaySummary {
        queue: queue.name.clone(),
        dry_run: options.dry_run,
        ..Default::default()
    };
    let now = Utc::now();
    while options.limit.is_none_or(|limit| summary.matched < limit) {
        let Some(letter) = reader.next().await? else {
            break;
        };
        summary.walked += 1;
        if !options.filter.matches(&letter.info, now) {
            summary.skipped += 1;
            progress(Progress::Read(&summary));
            reader.keep(letter).await?;
            continue;
        }
        summary.matched += 1;
        if options.dry_run {
            progress(Progress::Read(&summary));
            reader.keep(letter).await?;
            continue;
        }
        if let Some(pace) = pace.as_mut() {
            pace.tick().await;
        }
        match put_back(&reader, queue, &letter).await {
            Ok(()) => {
                if options.crash_after_publish {
                    reader.abandon().await;
                    return Err(SimulatedCrash.into());
                }
                reader.remove(letter).await?;
                summary.replayed += 1;
            }
            Err(error) => {
                tracing::warn!(
                    error = %error,
                    event_id = letter.info.event_id.as_deref().unwrap_or(""),
                    "could not replay; the dead letter stays"
                );
                summary.failed += 1;
                reader.hold(letter);
            }
        }
        progress(Progress::Read(&summary));
    }
    reader.finish().await?;
    progress(Progress::Finished);
    Ok(summary)
}

async fn put_back(
    reader: &Reader,
    queue: &DeadLetterQueue,
    letter: &Letter,
) -> Result<(), super::reader::PublishFailure> {
    let original = letter.properties();
    let headers = replay_headers(
        &original.headers().clone().unwrap_or_default(),
        &letter.info,
    );
    let mut properties = original.clone().with_headers(headers);
    if original.message_id().is_none() {
        // Keep ids stable across replays when the worker set none: the event id is the key.
        if let Some(event_id) = &letter.info.event_id {
            properties = properties.with_message_id(ShortString::from(event_id.clone()));
        }
    }
    reader
        .publish("", &queue.work_queue, letter.body(), properties)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::AMQPValue;
    use lapin::BasicProperties;
    use scimsync_platform::amqp::headers::{get_str, set_u64};

    #[test]
    fn the_replayed_copy_starts_afresh_but_keeps_its_identity() {
        let mut headers = FieldTable::default();
        set_str(&mut headers, h::DL_REASON, "unknown_organization");
        set_str(&mut headers, h::DL_DETAIL, "no company");
        set_str(&mut headers, h::DL_FAILED_AT, "2026-01-01T00:00:00+00:00");
        set_str(&mut headers, h::DL_QUEUE, "scimsync.user-upsert");
        set_str(&mut headers, h::DL_ORIGINAL_EXCHANGE, "scimsync.events");
        set_str(
            &mut headers,
            h::DL_ORIGINAL_ROUTING_KEY,
            "scim.member.create",
        );
        set_str(
            &mut headers,
            h::FIRST_FAILED_AT,
            "2026-01-01T00:00:00+00:00",
        );
        set_u64(&mut headers, h::ATTEMPTS, 3);
        set_str(&mut headers, h::EVENT_ID, "e-1");
        set_str(&mut headers, "traceparent", "00-abc-def-01");
        headers.insert("x-first-death-reason".into(), AMQPValue::Boolean(true));
        let info = DeadLetter::parse(
            "scimsync.user-upsert.dlq",
            &BasicProperties::default().with_headers(headers.clone()),
            b"{}",
        );
        let copy = replay_headers(&headers, &info);
        for gone in [
            h::DL_REASON,
            h::DL_DETAIL,
            h::DL_FAILED_AT,
            h::DL_QUEUE,
            h::FIRST_FAILED_AT,
            h::ATTEMPTS,
            "x-first-death-reason",
        ] {
            assert!(!copy.contains_key(gone), "{gone} should be dropped");
        }
        assert_eq!(get_str(&copy, h::EVENT_ID).as_deref(), Some("e-1"));
        assert_eq!(
            get_str(&copy, "traceparent").as_deref(),
            Some("00-abc-def-01")
        );
        assert_eq!(
            get_str(&copy, h::DL_ORIGINAL_ROUTING_KEY).as_deref(),
            Some("scim.member.create")
        );
        assert!(copy.contains_key(h::REPLAYED_AT));
    }
}
