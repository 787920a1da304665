//! The consumer runtime against a real broker (SPEC A3): poison messages and transient
//! failures (its shutdown: shutdown.rs).

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use scimsync_schema::{Envelope, QueueMessage, StytchWebhook};
use scimsync_tests::broker::Broker;
use scimsync_tests::events::{create, event_id, t, with_groups, with_manager};
use scimsync_tests::proxy::Proxy;
use scimsync_tests::{wait_until, TestApp};

const QUEUE: &str = "scimsync.user-upsert";
const DLQ: &str = "scimsync.user-upsert.dlq";

#[tokio::test]
async fn malformed_messages_are_dead_lettered_with_a_reason_while_others_keep_flowing() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-q", &[]).await;
    let broker = Broker::connect(&app.env.amqp_url).await;
    broker.put(QUEUE, b"\x00 definitely not json").await;
    broker
        .put(QUEUE, br#"{"kind":"stytch_webhook.v1","svix_id":"x"}"#)
        .await;
    let good = create("org-q", "m-1", "flows@example.com", t(0));
    app.accept(&good).await;
    assert_eq!(
        app.logged(company, &event_id(&good)).await["outcome"],
        "created"
    );

    let mut reasons = Vec::new();
    for _ in 0..2 {
        let dead = wait_until("a dead letter", Duration::from_secs(30), || async {
            broker.take(DLQ).await
        })
        .await;
        assert!(dead
            .header("x-dead-letter-detail")
            .is_some_and(|d| !d.is_empty()));
        assert_eq!(dead.header("x-dead-letter-queue").as_deref(), Some(QUEUE));
        reasons.push(dead.header("x-dead-letter-reason").unwrap_or_default());
    }
    reasons.sort();
    assert_eq!(reasons, ["undecodable", "undecodable"]);
    assert_eq!(app.env.queue_depth(QUEUE).await, Some(0));
    app.stop().await;
}

/// A queue message carrying this event, as ingest would have published it.
fn queued(event: &serde_json::Value, svix_id: &str) -> Vec<u8> {
    let text = serde_json::to_string(event).expect("json");
    let envelope = Envelope::parse(text.as_bytes()).expect("a valid envelope");
    let raw = serde_json::value::RawValue::from_string(text).expect("raw");
    QueueMessage::StytchWebhookV1(StytchWebhook::new(
        svix_id.into(),
        &envelope,
        raw,
        chrono::Utc::now(),
    ))
    .to_bytes()
}

#[tokio::test]
async fn values_the_database_refuses_are_dead_lettered_not_retried() {
    // Ingest refuses U+0000 (PostgreSQL stores it in neither text nor jsonb) and keys too long
    // for an index entry, so such messages can only come from elsewhere: an older ingest, or a
    // hand-made replay. Every worker must dead-letter them at once rather than retry them for
    // days (a retried one would reach the dead-letter queue only after `retry_max_age`, with
    // another reason).
    let app = TestApp::spawn().await;
    app.register_company("org-bad", &[]).await;
    let mut nul = with_manager(
        with_groups(
            create("org-bad", "m-1", "nul@example.com", t(0)),
            &[("g-\u{0}", "Nul\u{0}Group")],
        ),
        "boss\u{0}",
    );
    nul["member"]["name"] = serde_json::json!("Ada\u{0}Lovelace");
    // Random, so compression cannot bring it under the B-tree entry limit (about 2.7 kB).
    let long: String = (0..100)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    let long = with_manager(
        with_groups(
            create("org-bad", &format!("m-{long}"), "long@example.com", t(0)),
            &[(&long, "Long")],
        ),
        &long,
    );
    let broker = Broker::connect(&app.env.amqp_url).await;
    let queues = [QUEUE, "scimsync.group-resolver", "scimsync.manager-linker"];
    for (event, svix_id) in [(&nul, "msg_nul"), (&long, "msg_long")] {
        let bytes = queued(event, svix_id);
        for queue in queues {
            broker.put(queue, &bytes).await;
        }
        for queue in queues {
            let dead = wait_until("a dead letter", Duration::from_secs(30), || async {
                broker.take(&format!("{queue}.dlq")).await
            })
            .await;
            assert_eq!(
                dead.header("x-dead-letter-reason").as_deref(),
                Some("unstorable_value"),
                "{queue}, {svix_id}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_database_outage_is_retried_through_delay_queues_not_dead_lettered() {
    let proxy = Proxy::database().await;
    let app = TestApp::spawn_with(Default::default(), |s| proxy.reroute(&mut s.database)).await;
    let company = app.register_company("org-t", &[]).await;
    proxy.cut();
    let event = create("org-t", "m-1", "patient@example.com", t(0));
    app.accept(&event).await;
    wait_until(
        "the message to wait in a delay queue",
        Duration::from_secs(30),
        || async {
            for tier in ["1s", "5s"] {
                if app
                    .env
                    .queue_depth(&format!("{QUEUE}.delay.{tier}"))
                    .await
                    .unwrap_or(0)
                    > 0
                {
                    return Some(());
                }
            }
            None
        },
    )
    .await;
    proxy.restore();
    assert_eq!(
        app.logged(company, &event_id(&event)).await["outcome"],
        "created"
    );
    assert_eq!(app.env.queue_depth(DLQ).await, Some(0));
    app.stop().await;
}
