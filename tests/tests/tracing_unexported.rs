//! Telemetry without an OTLP endpoint (the default): spans are not exported, yet every log line
//! still carries the trace id, and the trace still crosses the queue (SPEC A5).
//!
//! One test only: it installs the process-wide subscriber.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::app::DEADLINE;
use scimsync_tests::events::{create, event_id, t, with_manager};
use scimsync_tests::observe::{capture, post_traced};
use scimsync_tests::TestApp;

#[tokio::test]
async fn without_export_log_lines_still_carry_the_trace_across_the_queue() {
    let (spans, logs, _telemetry) = capture(false);
    let app = TestApp::spawn().await;
    app.register_company("org-quiet", &[]).await;

    let caller_trace = "0af7651916cd43dd8448eb211c80319c";
    // A manager who is not there yet: manager-linker writes a line for it too.
    let body = with_manager(
        create("org-quiet", "m-1", "ada@example.com", t(0)),
        "m-boss",
    );
    let id = event_id(&body);
    post_traced(
        &app,
        &body,
        Some(&format!("00-{caller_trace}-b7ad6b7169203331-01")),
    )
    .await;

    // Ingest's line and each worker's line name the event and the caller's trace.
    let accepted = logs.line("event accepted", &id).await;
    assert_eq!(accepted["span"]["trace_id"], caller_trace, "{accepted}");
    assert_eq!(accepted["span"]["event_id"], id.as_str(), "{accepted}");
    assert_eq!(
        accepted["span"]["organization_id"], "org-quiet",
        "{accepted}"
    );
    for message in [
        "member event processed",
        "manager not there yet; the link waits",
    ] {
        let line = logs.line(message, &id).await;
        assert_eq!(line["span"]["trace_id"], caller_trace, "{line}");
        assert_eq!(line["span"]["event_type"], "scim.member.create", "{line}");
    }

    // A refusal is logged with its reason: Svix drops a webhook after its retries, and the log
    // is where an operator finds why.
    let mut bad = create("org-quiet", "m-2", "bad@example.com", t(0));
    bad["member"]["scim_registration"]["scim_attributes"]["active"] = "sometimes".into();
    assert_eq!(app.send(&bad).await.status(), 400);
    let refused = scimsync_tests::wait_until("the refusal's log line", DEADLINE, || async {
        logs.json_lines()
            .into_iter()
            .find(|line| line["fields"]["message"] == "webhook refused")
    })
    .await;
    assert_eq!(refused["level"], "WARN", "{refused}");
    assert_eq!(refused["fields"]["error"], "schema_violation", "{refused}");
    assert_eq!(
        refused["fields"]["field"], "member.scim_registration.scim_attributes.active",
        "{refused}"
    );

    // The spans' OpenTelemetry fields name the span for a trace; log lines leave them out.
    for line in logs.json_lines() {
        let spans = line["spans"].as_array().into_iter().flatten();
        for span in spans.chain([&line["span"]]) {
            for field in span.as_object().into_iter().flat_map(|s| s.keys()) {
                assert!(
                    !field.starts_with("otel.") && !field.starts_with("messaging."),
                    "{field} in {line}"
                );
            }
        }
    }

    // What only an exported span shows is left out: the log lines are not copied into spans.
    let finished = spans.finished();
    assert!(
        finished.iter().any(|s| s.name == "POST /webhooks/stytch"),
        "spans still end"
    );
    for span in &finished {
        assert!(span.events.is_empty(), "{}: {:?}", span.name, span.events);
    }
    app.stop().await;
}
