//! `docs/adding-a-worker.md` kept true: a fourth worker, defined here with the `Worker` trait and
//! nothing else, gets its queue and bindings, its retries through the delay tiers and its dead
//! letters from the runtime. Nothing outside this file knows it exists.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use scimsync_platform::amqp::{runtime, Batch, Incoming, Outcome, Worker};
use scimsync_schema::headers as h;
use scimsync_schema::topology::{WorkQueue, EVENTS_EXCHANGE};
use scimsync_schema::DeadLetterReason;
use scimsync_tests::app::DEADLINE;
use scimsync_tests::broker::Broker;
use scimsync_tests::env::TestEnv;
use scimsync_tests::wait_until;
use tokio_util::sync::CancellationToken;

/// Words published on `internal.toy.*`, written down; "flaky" fails once, "poison" never works.
struct Toy {
    /// Each word applied, with the delivery attempt that applied it.
    applied: Arc<Mutex<Vec<(String, u64)>>>,
}

/// A word and the attempt it came on.
struct Word {
    text: String,
    attempt: u64,
}

impl Worker for Toy {
    const NAME: &'static str = "toy";
    const QUEUE: WorkQueue = WorkQueue {
        name: "scimsync.toy",
        bindings: &["internal.toy.*"],
    };
    type Item = Word;

    async fn decode(&self, message: &Incoming) -> Result<Word, Outcome> {
        let text = String::from_utf8(message.body.clone()).map_err(|error| {
            Outcome::dead_letter(DeadLetterReason::Undecodable, error.to_string())
        })?;
        Ok(Word {
            text,
            attempt: message.attempts,
        })
    }

    async fn apply(&self, batch: Batch<Word>) -> Vec<Outcome> {
        let mut applied = self.applied.lock().unwrap();
        batch
            .items()
            .iter()
            .map(|word| match (word.text.as_str(), word.attempt) {
                ("poison", _) => Outcome::dead_letter(DeadLetterReason::InvalidEvent, "poison"),
                ("flaky", 1) => Outcome::Retry {
                    reason: "flaky the first time".into(),
                },
                (text, attempt) => {
                    applied.push((text.to_owned(), attempt));
                    Outcome::Ack
                }
            })
            .collect()
    }
}

#[tokio::test]
async fn a_worker_defined_with_the_trait_alone_gets_its_queue_retries_and_dead_letters() {
    let env = TestEnv::new().await;
    let applied = Arc::new(Mutex::new(Vec::new()));
    let shutdown = CancellationToken::new();
    let toy = Toy {
        applied: applied.clone(),
    };
    let settings = env.settings.clone();
    let stop = shutdown.clone();
    let running = tokio::spawn(async move { runtime::run(&settings, |_| toy, stop).await });
    let broker = Broker::connect(&env.amqp_url).await;
    wait_until("the toy worker to consume", DEADLINE, || async {
        (broker.consumers(Toy::QUEUE.name).await? > 0).then_some(())
    })
    .await;

    // Routed by its bindings, as any worker's events are.
    for word in ["hello", "flaky", "poison"] {
        broker
            .publish(EVENTS_EXCHANGE, "internal.toy.word", word.as_bytes())
            .await;
    }
    broker
        .publish(EVENTS_EXCHANGE, "internal.toy.word", &[0xff, 0xfe])
        .await;

    let dlq = Toy::QUEUE.dead_letter_queue();
    let mut reasons = Vec::new();
    for _ in 0..2 {
        let letter = wait_until("a dead letter", DEADLINE, || broker.take(&dlq)).await;
        reasons.push((letter.header(h::DL_REASON), letter.header(h::DL_QUEUE)));
    }
    reasons.sort();
    let queue = Some(Toy::QUEUE.name.to_owned());
    assert_eq!(
        reasons,
        [
            (
                Some(DeadLetterReason::InvalidEvent.to_string()),
                queue.clone()
            ),
            (Some(DeadLetterReason::Undecodable.to_string()), queue),
        ]
    );
    // "flaky" comes back from the first delay tier, on its second attempt.
    wait_until("the retried word", DEADLINE, || async {
        (applied.lock().unwrap().len() == 2).then_some(())
    })
    .await;
    let mut words = applied.lock().unwrap().clone();
    words.sort();
    assert_eq!(
        words,
        [("flaky".to_owned(), 2), ("hello".to_owned(), 1)],
        "each word applied once, the flaky one on its retry"
    );

    shutdown.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(broker.depth(Toy::QUEUE.name).await, Some(0));
    drop(broker);
    env.cleanup().await;
}
