//! The webhook endpoint: SPEC A1 and R18, against a real broker.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use scimsync_tests::app::{status_and_json, Services, SECRET};
use scimsync_tests::events::{create, event_id, t};
use scimsync_tests::proxy::Proxy;
use scimsync_tests::{wait_until, TestApp};
use serde_json::json;

const OTHER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn bad_signatures_and_stale_timestamps_are_refused_with_401() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let body = serde_json::to_vec(&create("org", "m-1", "a@x.io", t(0))).expect("json");
    let now = chrono::Utc::now().timestamp();

    let (status, error) =
        status_and_json(app.send_raw("msg_a", now, &body, OTHER_SECRET).await).await;
    assert_eq!(status, 401);
    assert_eq!(error["error"], "invalid_signature");

    let (status, error) =
        status_and_json(app.send_raw("msg_b", now - 301, &body, SECRET).await).await;
    assert_eq!(status, 401);
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("window"),
        "{error}"
    );

    let unsigned = app
        .http
        .post(format!("{}/webhooks/stytch", app.ingest_url))
        .body(body.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status(), 401);

    assert_eq!(
        app.env.queue_depth("scimsync.user-upsert").await,
        Some(0),
        "nothing was published"
    );
    app.stop().await;
}

#[tokio::test]
async fn rotated_secrets_are_all_accepted() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |s| {
        s.ingest.webhook_secrets = format!("{OTHER_SECRET},{SECRET}").into();
    })
    .await;
    let body = serde_json::to_vec(&create("org", "m-1", "a@x.io", t(0))).expect("json");
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        app.send_raw("msg_1", now, &body, OTHER_SECRET)
            .await
            .status(),
        202
    );
    assert_eq!(
        app.send_raw("msg_2", now, &body, SECRET).await.status(),
        202
    );
    app.stop().await;
}

#[tokio::test]
async fn malformed_bodies_get_400_naming_the_problem() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let now = chrono::Utc::now().timestamp();
    let (status, error) =
        status_and_json(app.send_raw("msg_1", now, b"{not json", SECRET).await).await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("malformed_json"))
    );

    let mut event = create("org", "m-1", "a@x.io", t(0));
    event["member"]["scim_registration"]["scim_attributes"]["active"] = json!("sometimes");
    let (status, error) = status_and_json(app.send(&event).await).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "schema_violation");
    assert_eq!(
        error["field"],
        "member.scim_registration.scim_attributes.active"
    );

    let mut event = create("org", "m-1", "a@x.io", t(0));
    event.as_object_mut().expect("object").remove("event_id");
    let (status, error) = status_and_json(app.send(&event).await).await;
    assert_eq!(status, 400);
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("event_id"),
        "{error}"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_refusals() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let url = format!("{}/webhooks/okta", app.ingest_url);
    let (status, _, error) = app.refusal(reqwest::Method::POST, &url).await;
    assert_eq!((status, error["error"].as_str()), (404, Some("not_found")));

    let url = format!("{}/webhooks/stytch", app.ingest_url);
    let (status, allow, error) = app.refusal(reqwest::Method::GET, &url).await;
    assert_eq!(
        (status, error["error"].as_str(), allow.as_str()),
        (405, Some("method_not_allowed"), "POST")
    );
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_get_413() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let mut event = create("org", "m-1", "a@x.io", t(0));
    event["padding"] = json!("x".repeat(1024 * 1024));
    let (status, error) = status_and_json(app.send(&event).await).await;
    assert_eq!(status, 413);
    assert_eq!(error["error"], "payload_too_large");
    app.stop().await;
}

#[tokio::test]
async fn a_svix_retry_of_an_accepted_event_is_not_published_twice() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let event = create("org", "m-1", "a@x.io", t(0));
    assert_eq!(app.send_as("msg_same", &event).await.status(), 202);
    let (status, body) = status_and_json(app.send_as("msg_same", &event).await).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    wait_until("one message queued", Duration::from_secs(10), || async {
        (app.env.queue_depth("scimsync.user-upsert").await == Some(1)).then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn events_nobody_consumes_are_still_accepted_and_kept() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let mut event = create("org", "m-1", "a@x.io", t(0));
    event["object_type"] = json!("organization");
    event["source"] = json!("DASHBOARD");
    assert_eq!(app.send(&event).await.status(), 202);
    wait_until(
        "the event in the unrouted queue",
        Duration::from_secs(10),
        || async { (app.env.queue_depth("scimsync.unrouted").await == Some(1)).then_some(()) },
    )
    .await;
    app.stop().await;
}

fn broker_address() -> String {
    let url = reqwest::Url::parse(
        &scimsync_tests::env::amqp_base_url().replacen("amqp://", "http://", 1),
    )
    .expect("url");
    format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(5672)
    )
}

/// The broker goes away mid-stream: ingest answers 503 (so Svix retries) and every event it
/// answered 2xx for is applied once the broker is back.
#[tokio::test]
async fn with_the_broker_down_ingest_answers_503_and_loses_nothing_it_accepted() {
    let proxy = Proxy::start(broker_address()).await;
    let services = Services {
        ingest_broker_port: Some(proxy.port),
        ..Services::default()
    };
    let app = TestApp::spawn_with(services, |s| s.amqp.publish_timeout_ms = 2000).await;
    let company = app.register_company("org-o", &[]).await;
    let event = |i: usize| {
        create(
            "org-o",
            &format!("m-{i}"),
            &format!("user{i}@x.io"),
            t(i as i64),
        )
    };
    let mut accepted = Vec::new();

    for i in 0..5 {
        let e = event(i);
        assert_eq!(app.send(&e).await.status(), 202);
        accepted.push(event_id(&e));
    }

    proxy.cut();
    wait_until(
        "readyz to report the outage",
        Duration::from_secs(10),
        || async {
            let r = app
                .http
                .get(format!("{}/readyz", app.ingest_url))
                .send()
                .await
                .ok()?;
            (r.status() == 503).then_some(())
        },
    )
    .await;
    let refused = app.send(&event(5)).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));

    proxy.restore();
    app.wait_ready().await;

    // A burst with the broker cut in the middle: whatever got 2xx must survive.
    let mut burst = tokio::task::JoinSet::new();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let client = std::sync::Arc::new(app.http.clone());
    for i in 6..66 {
        let e = event(i);
        let url = app.ingest_url.clone();
        let (client, done) = (client.clone(), done_tx.clone());
        burst.spawn(async move {
            let status = scimsync_tests::app::post_signed(&client, &url, &e).await;
            let _ = done.send(());
            (event_id(&e), e, status)
        });
    }
    for _ in 0..20 {
        done_rx.recv().await;
    }
    proxy.cut();
    let mut to_retry = Vec::new();
    while let Some(result) = burst.join_next().await {
        let (id, e, status) = result.expect("task");
        if (200..300).contains(&status) {
            accepted.push(id);
        } else {
            assert_eq!(status, 503, "only 2xx or 503 are acceptable answers");
            to_retry.push(e);
        }
    }
    proxy.restore();
    app.wait_ready().await;
    // What Svix does with a 503: deliver again.
    for e in &to_retry {
        assert_eq!(app.send(e).await.status(), 202);
        accepted.push(event_id(e));
    }
    for id in &accepted {
        let log = app.logged(company, id).await;
        assert_eq!(log["outcome"], "created", "{log}");
    }
    assert_eq!(app.users(company).await.len(), accepted.len());
    app.stop().await;
}
