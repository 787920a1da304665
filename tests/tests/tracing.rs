//! One trace from the webhook request to the worker (SPEC A5), seen through the services' own
//! telemetry set-up with spans kept in memory and JSON log lines captured.
//!
//! One test only: it installs the process-wide subscriber.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::SpanData;
use scimsync_tests::app::DEADLINE;
use scimsync_tests::events::{create, event_id, t};
use scimsync_tests::observe::{capture, post_traced, Spans};
use scimsync_tests::{wait_until, TestApp};

const WORKER_SPAN: &str = "process scimsync.user-upsert";

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// The finished span called `name` that carries this event id.
async fn span_of(spans: &Spans, name: &str, event: &str) -> SpanData {
    wait_until(&format!("span {name:?} of {event}"), DEADLINE, || async {
        spans
            .named(name)
            .into_iter()
            .find(|s| attribute(s, "event_id").as_deref() == Some(event))
    })
    .await
}

#[tokio::test]
async fn one_trace_covers_the_webhook_request_and_the_worker_and_log_lines_carry_it() {
    let (spans, logs, _telemetry) = capture(true);
    let app = TestApp::spawn().await;
    let company = app.register_company("org-traced", &[]).await;

    // A caller with a trace of its own: ingest joins it.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let joined = create("org-traced", "m-1", "ada@example.com", t(0));
    let joined_id = event_id(&joined);
    post_traced(
        &app,
        &joined,
        Some(&format!("00-{caller_trace}-{caller_span}-01")),
    )
    .await;
    wait_until("the member to be applied", DEADLINE, || async {
        app.user_by_email(company, "ada@example.com").await
    })
    .await;

    let request = span_of(&spans, "POST /webhooks/stytch", &joined_id).await;
    let publish = span_of(&spans, "publish scimsync.events", &joined_id).await;
    let process = span_of(&spans, WORKER_SPAN, &joined_id).await;
    let trace = TraceId::from_hex(caller_trace).expect("trace id");
    assert_eq!(request.span_kind, SpanKind::Server);
    assert_eq!(request.span_context.trace_id(), trace);
    assert_eq!(
        request.parent_span_id,
        SpanId::from_hex(caller_span).expect("span id")
    );
    assert_eq!(publish.span_kind, SpanKind::Producer);
    assert_eq!(publish.span_context.trace_id(), trace);
    assert_eq!(publish.parent_span_id, request.span_context.span_id());
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(process.span_context.trace_id(), trace);
    assert_eq!(process.parent_span_id, publish.span_context.span_id());
    assert!(process.parent_span_is_remote, "the parent came over AMQP");
    // Exported spans carry the log lines written inside them.
    assert!(
        process
            .events
            .iter()
            .any(|e| e.name == "member event processed"),
        "{:?}",
        process.events
    );
    assert_eq!(
        attribute(&process, "messaging.system").as_deref(),
        Some("rabbitmq")
    );
    assert_eq!(
        attribute(&process, "messaging.rabbitmq.destination.routing_key").as_deref(),
        Some("scim.member.create")
    );
    // Every worker that handled the event joined the same trace.
    for span in spans.finished() {
        if span.name.starts_with("process ")
            && attribute(&span, "event_id").as_deref() == Some(joined_id.as_str())
        {
            assert_eq!(span.span_context.trace_id(), trace, "{}", span.name);
        }
    }

    // The worker's log lines carry the event id, the organization and the trace id.
    let line = logs.line("member event processed", &joined_id).await;
    assert_eq!(line["span"]["organization_id"], "org-traced", "{line}");
    assert_eq!(line["span"]["trace_id"], caller_trace, "{line}");
    assert!(
        line["spans"]
            .as_array()
            .is_some_and(|spans| spans.iter().any(|s| s["trace_id"] == caller_trace)),
        "{line}"
    );

    // Without a caller trace, the request starts one and the worker still joins it.
    let fresh = create("org-traced", "m-2", "grace@example.com", t(1));
    let fresh_id = event_id(&fresh);
    post_traced(&app, &fresh, None).await;
    let request = span_of(&spans, "POST /webhooks/stytch", &fresh_id).await;
    let process = span_of(&spans, WORKER_SPAN, &fresh_id).await;
    assert_ne!(request.span_context.trace_id(), trace);
    assert_eq!(
        process.span_context.trace_id(),
        request.span_context.trace_id()
    );
    app.stop().await;
}
