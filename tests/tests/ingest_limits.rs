//! The webhook endpoint's limits (SPEC A1): values PostgreSQL cannot store, an id AMQP cannot
//! carry, and a flood of requests, refused at ingest rather than failing later.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chrono::Datelike;
use scimsync_tests::app::{status_and_json, Services, SECRET};
use scimsync_tests::events::{create, t};
use scimsync_tests::{wait_until, TestApp};
use serde_json::json;

/// A 400 `schema_violation` whose message says `names`.
async fn refused_naming(response: reqwest::Response, names: &str) {
    let (status, error) = status_and_json(response).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("schema_violation"))
    );
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(names), "{error}");
}

#[tokio::test]
async fn values_postgresql_cannot_store_are_refused_with_400() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    // Valid JSON, but PostgreSQL can store U+0000 neither in text nor in jsonb.
    let mut event = create("org", "m-1", "a@x.io", t(0));
    event["member"]["name"] = json!("Ada\u{0}Lovelace");
    refused_naming(app.send(&event).await, "NUL").await;
    // Longer than an index entry can hold.
    let long = format!("{}@example.com", "a".repeat(2000));
    let event = create("org", "m-3", &long, t(0));
    let (status, error) = status_and_json(app.send(&event).await).await;
    assert_eq!(
        (status, error["field"].as_str()),
        (400, Some("member.email_address"))
    );

    // Stamped far ahead, it would win every member's fold until then; PostgreSQL has no year 0.
    let ahead = chrono::Utc::now() + chrono::Duration::hours(2);
    for at in [ahead, t(0).with_year(0).expect("year 0")] {
        let event = create("org", "m-4", "c@x.io", at);
        let (status, error) = status_and_json(app.send(&event).await).await;
        assert_eq!(
            (status, error["field"].as_str()),
            (400, Some("timestamp")),
            "{at}"
        );
    }

    // Half a surrogate pair: serde_json keeps it in a raw value, PostgreSQL's jsonb refuses it.
    let mut event = create("org", "m-2", "b@x.io", t(0));
    event["member"]["name"] = json!("HALF");
    let body = serde_json::to_string(&event)
        .expect("json")
        .replace("HALF", r"\ud800");
    let now = chrono::Utc::now().timestamp();
    let response = app.send_raw("msg_half", now, body.as_bytes(), SECRET).await;
    refused_naming(response, "surrogate").await;
    assert_eq!(
        app.env.queue_depth("scimsync.user-upsert").await,
        Some(0),
        "no refused event was published"
    );
    app.stop().await;
}

/// A client that sends its body a byte at a time holds one slot, and only until the deadline;
/// beyond the bound on webhooks in flight, requests are refused at once rather than queued.
#[tokio::test]
async fn a_flood_is_shed_with_503_and_a_trickling_body_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |s| {
        s.ingest.max_in_flight = 1;
        // Long enough that a loaded machine still sends the second request in time.
        s.ingest.request_timeout_secs = 10;
    })
    .await;
    let address = app.ingest_url.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    slow.write_all(
        format!(
            "POST /webhooks/stytch HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .expect("a first byte of the body");
    let event = create("org", "m-1", "a@x.io", t(0));
    let refusal = wait_until("a refusal", Duration::from_secs(30), || async {
        let (status, body) = status_and_json(app.send(&event).await).await;
        (status == 503).then_some(body)
    })
    .await;
    assert_eq!(refusal["error"], "overloaded", "{refusal}");

    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(30), slow.read_to_string(&mut answer))
        .await
        .expect("an answer before the test's own deadline")
        .expect("read");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    // The slot is free again.
    assert_eq!(app.send(&event).await.status(), 202);
    app.stop().await;
}

/// An id the broker cannot take is refused before it reaches the channel: sent, it would close
/// the channel and fail every publish in flight on it.
#[tokio::test]
async fn an_over_long_svix_id_is_refused_and_breaks_nothing() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let body = serde_json::to_vec(&create("org", "m-1", "a@x.io", t(0))).expect("json");
    let now = chrono::Utc::now().timestamp();
    let long = format!("msg_{}", "a".repeat(300));
    let (status, error) = status_and_json(app.send_raw(&long, now, &body, SECRET).await).await;
    assert_eq!(
        (status, error["error"].as_str(), error["field"].as_str()),
        (400, Some("invalid_header"), Some("svix-id"))
    );

    let settings = &app.env.settings;
    let publisher = scimsync_platform::amqp::Publisher::start(
        scimsync_platform::amqp::publisher::PublisherConfig {
            url: settings.amqp.url.clone(),
            name: "test".into(),
            channels: 1,
            confirm_timeout: Duration::from_secs(5),
            plan: scimsync_platform::amqp::topology::full_plan(settings.amqp.delivery_limit),
        },
        tokio_util::sync::CancellationToken::new(),
    );
    assert!(publisher.wait_ready(Duration::from_secs(30)).await);
    let outgoing = |message_id| scimsync_platform::amqp::Outgoing {
        exchange: scimsync_schema::topology::EVENTS_EXCHANGE,
        routing_key: "scim.member.create",
        body: &body,
        message_id: Some(message_id),
        headers: Default::default(),
    };
    let refused = publisher.publish(outgoing(&long)).await;
    assert!(
        matches!(
            refused,
            Err(scimsync_platform::amqp::publisher::PublishError::Invalid(_))
        ),
        "{refused:?}"
    );
    publisher
        .publish(outgoing("msg_short"))
        .await
        .expect("the channel is still open");
    publisher.close().await;
    app.stop().await;
}
