//! Knowing when the work is done, so a test reads the final state and not a state on the way:
//! every delivery the test's webhooks made has been handled and acknowledged, and nothing waits
//! in a work queue, a delay queue or a worker's hands.
//!
//! Waiting for each event id to appear in the event log is not enough: a duplicate, a retry or
//! a second worker's share of the event may still be on its way and change the state after the
//! test looked. RabbitMQ's management API would say how many messages are unacknowledged, but
//! its figures lag by seconds, so a reading can predate the last publish. The readings here are
//! exact instead: what the test published (counted at the source), what each worker of this
//! process handled (its `scimsync_events_total`, process-wide and so sound only with one test
//! per process, as nextest runs them), what is in flight in it, and the ready messages of every
//! queue from a passive declare.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use scimsync_platform::metrics::{metrics, EventLabels, QueueLabels};
use scimsync_schema::topology::{WorkQueue, DELAY_TIERS, WORK_QUEUES};
use serde_json::Value;

use crate::broker::Broker;

/// How long the work of a test may take to settle, on a loaded machine.
pub const SETTLE_DEADLINE: Duration = Duration::from_secs(120);

/// Every outcome the consumer runtime counts a handled message under.
const OUTCOMES: [&str; 5] = ["ack", "retry", "wait", "dead_letter", "panic"];

/// The webhooks a test published, by event type.
#[derive(Debug, Default)]
pub struct Deliveries(Mutex<HashMap<String, Sent>>);

#[derive(Debug)]
struct Sent {
    /// Webhooks of this type ingest accepted (published and confirmed).
    accepted: u64,
    /// For each work queue the type is routed to, the messages of this type its worker had
    /// handled in this process before the first of them was sent.
    handled_before: Vec<(&'static str, u64)>,
}

/// The event type of a webhook body (`lower(source).lower(object_type).lower(action)`), which
/// ingest uses as the routing key; `None` if the body does not say.
pub fn event_type(body: &[u8]) -> Option<String> {
    let body: Value = serde_json::from_slice(body).ok()?;
    let part = |key: &str| body[key].as_str().map(str::to_lowercase);
    Some(format!(
        "{}.{}.{}",
        part("source")?,
        part("object_type")?,
        part("action")?
    ))
}

/// Whether an AMQP topic binding matches a routing key: `*` is one word, `#` zero or more.
pub fn topic_matches(binding: &str, key: &str) -> bool {
    fn matches(pattern: &[&str], words: &[&str]) -> bool {
        match (pattern.split_first(), words.split_first()) {
            (None, None) => true,
            (Some((&"#", rest)), _) => {
                matches(rest, words) || (!words.is_empty() && matches(pattern, &words[1..]))
            }
            (Some((&"*", rest)), Some((_, others))) => matches(rest, others),
            (Some((p, rest)), Some((w, others))) => p == w && matches(rest, others),
            _ => false,
        }
    }
    let pattern: Vec<&str> = binding.split('.').collect();
    let words: Vec<&str> = key.split('.').collect();
    matches(&pattern, &words)
}

/// The work queues a message of this type reaches.
fn routes(event_type: &str) -> Vec<&'static WorkQueue> {
    WORK_QUEUES
        .iter()
        .filter(|q| q.bindings.iter().any(|b| topic_matches(b, event_type)))
        .collect()
}

/// Messages of this type the worker of `queue` handled in this process, whatever it decided.
fn handled(queue: &str, event_type: &str) -> u64 {
    OUTCOMES
        .iter()
        .map(|outcome| {
            metrics()
                .events
                .get_or_create(&EventLabels {
                    queue: queue.to_owned(),
                    event_type: event_type.to_owned(),
                    outcome,
                })
                .get()
        })
        .sum()
}

fn in_flight(queue: &str) -> i64 {
    metrics()
        .in_flight
        .get_or_create(&QueueLabels {
            queue: queue.to_owned(),
        })
        .get()
}

impl Deliveries {
    /// Call before sending a webhook with this body: the first of its type notes what the
    /// workers had handled so far. Returns its event type.
    pub fn sending(&self, body: &[u8]) -> Option<String> {
        let kind = event_type(body)?;
        let mut sent = self.0.lock().expect("deliveries");
        sent.entry(kind.clone()).or_insert_with(|| Sent {
            accepted: 0,
            handled_before: routes(&kind)
                .into_iter()
                .map(|q| (q.name, handled(q.name, &kind)))
                .collect(),
        });
        Some(kind)
    }

    /// Call once ingest accepted (202) a webhook of this type: it was published.
    pub fn accepted(&self, event_type: &str) {
        if let Some(sent) = self.0.lock().expect("deliveries").get_mut(event_type) {
            sent.accepted += 1;
        }
    }

    /// What the running workers have not handled yet of what was published, if anything.
    fn outstanding(&self, running: &[WorkQueue]) -> Option<String> {
        let sent = self.0.lock().expect("deliveries");
        for (kind, sent) in sent.iter() {
            for (queue, before) in &sent.handled_before {
                if !running.iter().any(|q| q.name == *queue) {
                    continue;
                }
                let done = handled(queue, kind) - before;
                if done < sent.accepted {
                    return Some(format!(
                        "{queue} handled {done} of the {} {kind} webhooks accepted",
                        sent.accepted
                    ));
                }
            }
        }
        None
    }
}

/// What still keeps these workers busy, if anything: a delivery not yet handled, a message in
/// a worker's hands, or one ready in a work or delay queue.
async fn busy(deliveries: &Deliveries, running: &[WorkQueue], broker: &Broker) -> Option<String> {
    if let Some(outstanding) = deliveries.outstanding(running) {
        return Some(outstanding);
    }
    let in_hands = || {
        running
            .iter()
            .find(|q| in_flight(q.name) != 0)
            .map(|q| format!("{} has messages in flight", q.name))
    };
    if let Some(busy) = in_hands() {
        return Some(busy);
    }
    for queue in running {
        let delays = DELAY_TIERS.iter().map(|tier| queue.delay_queue(*tier));
        for name in std::iter::once(queue.name.to_owned()).chain(delays) {
            match broker.depth(&name).await {
                Some(0) => {}
                Some(n) => return Some(format!("{name} holds {n} ready messages")),
                None => return Some(format!("{name} cannot be read")),
            }
        }
    }
    // A message taken from a queue between the two looks is in flight by now, or handled.
    in_hands()
}

/// Waits until the running workers have handled every delivery of the webhooks in
/// `deliveries` and nothing else waits for them; fails the test after [`SETTLE_DEADLINE`],
/// naming what was still outstanding.
pub async fn wait_settled(deliveries: &Deliveries, running: &[WorkQueue], broker: &Broker) {
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    // Two quiet looks in a row: a delivery on its way from the broker to a worker's buffer is
    // in neither a queue nor a worker's hands for a moment.
    let mut quiet = 0;
    loop {
        tick.tick().await;
        match busy(deliveries, running, broker).await {
            None => quiet += 1,
            Some(reason) => {
                quiet = 0;
                assert!(
                    started.elapsed() < SETTLE_DEADLINE,
                    "the work did not settle within {SETTLE_DEADLINE:?}: {reason}"
                );
            }
        }
        if quiet >= 2 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_bindings_match_as_rabbitmq_does() {
        assert!(topic_matches("*.member.*", "scim.member.create"));
        assert!(!topic_matches("*.member.*", "scim.idp_group.create"));
        assert!(topic_matches(
            "scim.idp_group.*",
            "scim.idp_group.member_add"
        ));
        assert!(topic_matches("#", "a.b.c"));
        assert!(topic_matches("a.#.c", "a.c"));
        assert!(!topic_matches("scim.member.create", "scim.member.update"));
    }
}
