//! `GET /metrics` on every service (SPEC A5): the counters move when events flow.
//!
//! The services run in one test process and so share one registry; each endpoint is still
//! scraped to show it serves the Prometheus text format.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use scimsync_platform::amqp::depth;
use scimsync_schema::topology::USER_UPSERT;
use scimsync_tests::app::DEADLINE;
use scimsync_tests::events::{create, t};
use scimsync_tests::observe::sample;
use scimsync_tests::TestApp;
use tokio_util::sync::CancellationToken;

async fn scrape(app: &TestApp, base: &str) -> String {
    let response = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200, "{base}/metrics");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.expect("text")
}

/// A port nothing listens on right now.
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Scrapes `base` until `series` satisfies `holds`, and returns that scrape. Each service
/// records its figures on its own schedule (a worker counts a message once it is settled, and
/// samples queue depths in a task of its own), so every assertion waits for what it asserts.
async fn wait_for(
    app: &TestApp,
    base: &str,
    series: &str,
    what: &str,
    holds: impl Fn(Option<f64>) -> bool,
) -> String {
    let mut last = String::new();
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            let text = scrape(app, base).await;
            if holds(sample(&text, series)) {
                return text;
            }
            last = text;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| {
        panic!(
            "timed out after {DEADLINE:?} waiting for {series} {what}; it is {:?} in\n{last}",
            sample(&last, series)
        )
    })
}

/// Waits for a counter to reach `expected`. Counters only grow, so it must then be exactly
/// that: one more is a double count, reported at once.
async fn wait_count(app: &TestApp, base: &str, series: &str, expected: f64) {
    let text = wait_for(app, base, series, &format!("to reach {expected}"), |n| {
        n.is_some_and(|n| n >= expected)
    })
    .await;
    assert_eq!(sample(&text, series), Some(expected), "{series} in\n{text}");
}

#[tokio::test]
async fn metrics_count_requests_events_outcomes_dead_letters_and_queue_depth() {
    let app = TestApp::spawn().await;
    // The workers' health listener, as each worker starts it (in-process workers would all
    // bind the same `worker.listen`, so the test starts one of its own).
    let port = free_port().await;
    let stop_health = CancellationToken::new();
    scimsync_platform::http::serve_health(&format!("127.0.0.1:{port}"), stop_health.clone())
        .await
        .expect("serve health");
    let worker = format!("http://127.0.0.1:{port}");
    let queue = USER_UPSERT.name;
    let event_series = |outcome: &str| {
        format!(
            r#"scimsync_events_total{{queue="{queue}",event_type="scim.member.create",outcome="{outcome}"}}"#
        )
    };

    app.register_company("org-metrics", &[]).await;
    app.accept(&create("org-metrics", "m-1", "ada@example.com", t(0)))
        .await;
    app.accept(&create("org-unknown", "m-2", "bob@example.com", t(0)))
        .await;

    // The worker: each event counted by its outcome once settled, the dead letter by reason,
    // the applied event by its result, both in the handler's latency histogram.
    wait_count(&app, &worker, &event_series("ack"), 1.0).await;
    wait_count(&app, &worker, &event_series("dead_letter"), 1.0).await;
    wait_count(
        &app,
        &worker,
        &format!(r#"scimsync_dead_letters_total{{queue="{queue}",reason="unknown_organization"}}"#),
        1.0,
    )
    .await;
    wait_count(
        &app,
        &worker,
        &format!(
            r#"scimsync_event_results_total{{queue="{queue}",event_type="scim.member.create",result="created"}}"#
        ),
        1.0,
    )
    .await;
    wait_count(
        &app,
        &worker,
        &format!(
            r#"scimsync_handler_duration_seconds_count{{queue="{queue}",event_type="scim.member.create"}}"#
        ),
        2.0,
    )
    .await;
    wait_for(
        &app,
        &worker,
        &format!(r#"scimsync_in_flight_messages{{queue="{queue}"}}"#),
        "to be 0 once both are settled",
        |n| n == Some(0.0),
    )
    .await;
    // Sampled by a task the worker starts when it connects.
    wait_for(
        &app,
        &worker,
        &format!(r#"scimsync_queue_messages{{queue="{queue}"}}"#),
        "to be sampled",
        |n| n.is_some(),
    )
    .await;

    // Ingest: both webhooks answered 202, each publish confirmed (workers' publishes share the
    // registry in this one process, so at least two).
    wait_count(
        &app,
        &app.ingest_url,
        r#"scimsync_http_requests_total{route="/webhooks/stytch",status="202"}"#,
        2.0,
    )
    .await;
    wait_for(
        &app,
        &app.ingest_url,
        r#"scimsync_publish_confirm_seconds_count{outcome="confirmed"}"#,
        "to reach 2",
        |n| n.is_some_and(|n| n >= 2.0),
    )
    .await;
    // Refusals are counted by the code the sender got.
    let now = chrono::Utc::now().timestamp();
    let refused = app
        .send_raw(
            "msg_metrics_bad",
            now,
            b"{not json",
            scimsync_tests::app::SECRET,
        )
        .await;
    assert_eq!(refused.status(), 400);
    wait_count(
        &app,
        &app.ingest_url,
        r#"scimsync_webhooks_refused_total{error="malformed_json"}"#,
        1.0,
    )
    .await;
    wait_count(
        &app,
        &app.admin_url,
        r#"scimsync_http_requests_total{route="/api/v1/companies",status="201"}"#,
        1.0,
    )
    .await;

    // Queue depth: the sampler reports the dead letter waiting in the DLQ.
    let connection = scimsync_platform::amqp::connect(&app.env.amqp_url, "test-sampler")
        .await
        .expect("connect");
    let stop = CancellationToken::new();
    tokio::spawn(depth::watch(
        Arc::new(connection),
        depth::watched_queues(&USER_UPSERT),
        Duration::from_millis(100),
        stop.clone(),
    ));
    let dlq = format!(
        r#"scimsync_queue_messages{{queue="{}"}}"#,
        USER_UPSERT.dead_letter_queue()
    );
    wait_for(&app, &worker, &dlq, "to show the dead letter", |n| {
        n == Some(1.0)
    })
    .await;
    // The workers' endpoint refuses like the others: JSON naming what is not there.
    let (status, _, body) = app
        .refusal(reqwest::Method::GET, &format!("{worker}/nothing"))
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    stop.cancel();
    stop_health.cancel();
    app.stop().await;
}
