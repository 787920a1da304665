//! The SCIM service's log lines say which company and which request they are about, and never
//! carry a token (SPEC A5, R18).
//!
//! One test only: it installs the process-wide subscriber.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::Method;
use scimsync_tests::app::DEADLINE;
use scimsync_tests::observe::capture;
use scimsync_tests::scim::{start, tenant, ScimClient, SCIM_JSON};
use scimsync_tests::wait_until;
use serde_json::json;

/// Whether `text` holds `scimsync_` followed by a token's 43 URL-safe characters.
fn looks_like_a_token(text: &str) -> bool {
    text.match_indices("scimsync_").any(|(at, prefix)| {
        let rest = &text[at + prefix.len()..];
        rest.len() >= 43
            && rest
                .bytes()
                .take(43)
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[tokio::test]
async fn log_lines_name_the_company_and_the_request_and_never_the_token() {
    let (_spans, logs, _telemetry) = capture(false);
    let (app, scim) = start().await;
    let t = tenant(&app, "Logged", &[]).await;
    let c = scim.client(&app, &t);

    let created = ScimClient::send(
        c.request(Method::POST, "/Users")
            .header("content-type", SCIM_JSON)
            .header("x-request-id", "entra-req-0001")
            .body(json!({"userName": "ada@example.com"}).to_string()),
    )
    .await
    .expect(201);
    assert_eq!(created.header("x-request-id"), Some("entra-req-0001"));
    let line = wait_until("the creation's log line", DEADLINE, || async {
        logs.json_lines()
            .into_iter()
            .find(|l| l["fields"]["message"] == "user created")
    })
    .await;
    assert_eq!(line["span"]["request_id"], "entra-req-0001", "{line}");
    assert_eq!(
        line["span"]["company_id"],
        t.company_id.to_string(),
        "{line}"
    );
    assert_eq!(line["fields"]["user_id"], created.id(), "{line}");
    // The request's span names the path the client asked for, base path included.
    let request = line["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|s| s["name"] == "request"))
        .unwrap_or_else(|| panic!("no request span: {line}"));
    assert_eq!(request["url.path"], "/scim/v2/Users", "{line}");
    assert_eq!(request["http.route"], "/scim/v2/Users", "{line}");

    // A request without an id of its own gets one, and answers with it.
    let listed = c.get("/Users").await.expect(200);
    let generated = listed.header("x-request-id").expect("a request id");
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");

    // Refused tokens are not logged either.
    let wrong = ScimClient {
        token: Some(format!("scimsync_{}", "B".repeat(43))),
        ..c.clone()
    };
    wrong.get("/Users").await.expect_error(401, None);
    scim.stop().await;
    let text: String = logs.json_lines().iter().map(ToString::to_string).collect();
    assert!(!text.contains(&t.token), "a token was logged");
    assert!(
        !text.contains(&"B".repeat(43)),
        "a refused token was logged"
    );
    let shown: Vec<String> = logs
        .json_lines()
        .iter()
        .map(ToString::to_string)
        .filter(|l| looks_like_a_token(l))
        .collect();
    assert!(
        shown.is_empty(),
        "something like a token was logged: {shown:#?}"
    );
    app.stop().await;
}
