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
use scimsync_tests::{wait_until, TestApp};
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
    let event_series = |event_type: &str, outcome: &str| {
        format!(
            r#"scimsync_events_total{{queue="{queue}",event_type="{event_type}",outcome="{outcome}"}}"#
        )
    };

    app.register_company("org-metrics", &[]).await;
    app.accept(&create("org-metrics", "m-1", "ada@example.com", t(0)))
        .await;
    app.accept(&create("org-unknown", "m-2", "bob@example.com", t(0)))
        .await;

    let text = wait_until("the worker to count both events", DEADLINE, || async {
        let text = scrape(&app, &worker).await;
        let applied = sample(&text, &event_series("scim.member.create", "ack"))?;
        let dead = sample(&text, &event_series("scim.member.create", "dead_letter"))?;
        (applied >= 1.0 && dead >= 1.0).then_some(text)
    })
    .await;
    assert_eq!(
        sample(
            &text,
            &format!(
                r#"scimsync_dead_letters_total{{queue="{queue}",reason="unknown_organization"}}"#
            )
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                r#"scimsync_event_results_total{{queue="{queue}",event_type="scim.member.create",result="created"}}"#
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            &format!(
                r#"scimsync_handler_duration_seconds_count{{queue="{queue}",event_type="scim.member.create"}}"#
            )
        )
        .is_some_and(|n| n >= 2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"scimsync_in_flight_messages{{queue="{queue}"}}"#)
        ),
        Some(0.0)
    );
    // Sampled when the worker connected.
    assert!(
        sample(
            &text,
            &format!(r#"scimsync_queue_messages{{queue="{queue}"}}"#)
        )
        .is_some(),
        "{text}"
    );

    let ingest = scrape(&app, &app.ingest_url).await;
    assert_eq!(
        sample(
            &ingest,
            r#"scimsync_http_requests_total{route="/webhooks/stytch",status="202"}"#
        ),
        Some(2.0),
        "{ingest}"
    );
    assert!(
        sample(
            &ingest,
            r#"scimsync_publish_confirm_seconds_count{outcome="confirmed"}"#
        )
        .is_some_and(|n| n >= 2.0),
        "{ingest}"
    );
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
    let ingest = scrape(&app, &app.ingest_url).await;
    assert_eq!(
        sample(
            &ingest,
            r#"scimsync_webhooks_refused_total{error="malformed_json"}"#
        ),
        Some(1.0),
        "{ingest}"
    );
    let admin = scrape(&app, &app.admin_url).await;
    assert_eq!(
        sample(
            &admin,
            r#"scimsync_http_requests_total{route="/api/v1/companies",status="201"}"#
        ),
        Some(1.0),
        "{admin}"
    );

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
    wait_until(
        "the DLQ depth gauge to show the dead letter",
        DEADLINE,
        || async { (sample(&scrape(&app, &worker).await, &dlq) == Some(1.0)).then_some(()) },
    )
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
