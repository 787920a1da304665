//! OTLP export (SPEC A5): with `telemetry.otlp_endpoint` set, the services' telemetry set-up
//! sends finished spans to `<endpoint>/v1/traces` as OTLP/HTTP protobuf.
//!
//! One test only: it installs the process-wide subscriber.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use scimsync_platform::settings::TelemetrySettings;
use scimsync_platform::telemetry;

type Received = Arc<Mutex<Vec<(String, usize)>>>;

// Multi-threaded: dropping the telemetry guard blocks this thread until the exporter's request
// is answered, and the collector below must keep running meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_http_when_an_endpoint_is_configured() {
    let received: Received = Arc::default();
    let seen = received.clone();
    let collector = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                seen.lock().expect("lock").push((content_type, body.len()));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let settings = TelemetrySettings {
        log_format: "json".into(),
        log_level: "warn".into(),
        otlp_endpoint: format!("{endpoint}/"),
    };
    let guard = telemetry::init("scimsync-otlp-test", &settings).expect("telemetry");
    tracing::info_span!("exported", otel.kind = "internal").in_scope(|| {
        tracing::info!("inside a span");
    });
    // Dropping the guard shuts the provider down, which flushes the batch.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .expect("shutdown");

    let received = received.lock().expect("lock").clone();
    assert!(
        !received.is_empty(),
        "no OTLP request reached the collector"
    );
    let (content_type, size) = &received[0];
    assert_eq!(content_type, "application/x-protobuf");
    assert!(*size > 0);
}
