//! Hostile input at the webhook endpoint (SPEC A1, R18): headers and bodies no worker could
//! apply are refused at ingest, with the status the sender needs, and never crash it.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use scimsync_platform::amqp::topology::UNROUTED_QUEUE;
use scimsync_schema::topology::WORK_QUEUES;
use scimsync_tests::app::{status_and_json, Services, SECRET};
use scimsync_tests::events::{create, delete, group, t, update};
use scimsync_tests::{wait_until, TestApp};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One request on an open connection, and its answer: status and body.
async fn exchange(
    stream: &mut BufReader<TcpStream>,
    host: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let mut request = format!(
        "POST /webhooks/stytch HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let stream_out = stream.get_mut();
    stream_out
        .write_all(request.as_bytes())
        .await
        .expect("write head");
    stream_out.write_all(body).await.expect("write body");
    let answer = async {
        let mut status_line = String::new();
        stream.read_line(&mut status_line).await.expect("read");
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "the connection was dropped instead of answered: {status_line:?}"
        );
        let status: u16 = status_line[9..12].parse().expect("status");
        let mut length = 0;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.expect("read header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.expect("read body");
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(30), answer)
        .await
        .expect("an answer in time")
}

fn signed_headers(svix_id: &str, timestamp: &str, signature: &str) -> Vec<(&'static str, String)> {
    vec![
        ("svix-id", svix_id.to_owned()),
        ("svix-timestamp", timestamp.to_owned()),
        ("svix-signature", signature.to_owned()),
    ]
}

/// `now - timestamp` overflowed for a timestamp near the ends of i64: the handler panicked and
/// the connection dropped (a release build wrapped the difference instead).
#[tokio::test]
async fn a_timestamp_at_the_end_of_i64_is_a_401_on_a_connection_that_stays_open() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let host = app.ingest_url.trim_start_matches("http://").to_owned();
    let mut stream = BufReader::new(TcpStream::connect(&host).await.expect("connect"));
    let body = serde_json::to_vec(&create("org", "m-1", "a@x.io", t(0))).expect("json");

    for timestamp in [i64::MIN, i64::MAX] {
        // Signed as Svix would sign it, so nothing but the timestamp is wrong.
        let signature =
            scimsync_platform::svix::sign(SECRET, "msg_edge", timestamp, &body).expect("sign");
        let headers = signed_headers("msg_edge", &timestamp.to_string(), &signature);
        let (status, answer) = exchange(&mut stream, &host, &headers, &body).await;
        assert_eq!(status, 401, "{timestamp}: {answer}");
        assert!(answer.contains("invalid_signature"), "{answer}");
    }
    let (status, answer) = exchange(
        &mut stream,
        &host,
        &signed_headers("msg_edge", "-9223372036854775809", "v1,AAAA"),
        &body,
    )
    .await;
    assert_eq!(status, 401, "{answer}");

    // The same connection still serves a good delivery.
    let now = chrono::Utc::now().timestamp();
    let signature = scimsync_platform::svix::sign(SECRET, "msg_good", now, &body).expect("sign");
    let headers = signed_headers("msg_good", &now.to_string(), &signature);
    let (status, answer) = exchange(&mut stream, &host, &headers, &body).await;
    assert_eq!(status, 202, "{answer}");
    app.stop().await;
}

/// A 400 with this code, naming this field.
async fn refused(app: &TestApp, body: &Value, code: &str, field: &str) {
    let (status, error) = status_and_json(app.send(body).await).await;
    assert_eq!(
        (status, error["error"].as_str(), error["field"].as_str()),
        (400, Some(code), Some(field)),
        "{body}: {error}"
    );
}

/// Messages waiting in every queue an event can reach: the work queues and the unrouted one.
async fn queued(app: &TestApp) -> Vec<(&'static str, Option<u64>)> {
    let mut depths = Vec::new();
    for queue in WORK_QUEUES.iter().map(|q| q.name).chain([UNROUTED_QUEUE]) {
        depths.push((queue, app.env.queue_depth(queue).await));
    }
    depths
}

/// Sends one event every work queue takes and waits until it is there: whatever was refused
/// before it would have been queued by then.
async fn assert_only_the_control_event_was_published(app: &TestApp) {
    let control = create("org", "m-control", "control@x.io", t(0));
    assert_eq!(app.send(&control).await.status(), 202);
    let expected: Vec<(&str, Option<u64>)> = WORK_QUEUES
        .iter()
        .map(|q| (q.name, Some(1)))
        .chain([(UNROUTED_QUEUE, Some(0))])
        .collect();
    wait_until(
        "the control event queued",
        Duration::from_secs(10),
        || async {
            let depths = queued(app).await;
            depths[..WORK_QUEUES.len()]
                .iter()
                .all(|(_, n)| n.unwrap_or(0) >= 1)
                .then_some(())
        },
    )
    .await;
    assert_eq!(queued(app).await, expected, "nothing refused was published");
}

/// A member event names its member (R1 matches on it) and asks for one of the three things
/// user-upsert does; before, such events got 202 and were dead-lettered, or worse, an unknown
/// action created a user.
#[tokio::test]
async fn member_events_without_a_member_id_or_a_known_action_are_refused_with_400() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    for action in ["CREATE", "UPDATE"] {
        let mut event = create("org", "m-1", "a@x.io", t(0));
        event["action"] = json!(action);
        event.as_object_mut().expect("object").remove("id");
        event["member"]["member_id"] = json!("");
        refused(&app, &event, "schema_violation", "id").await;
    }
    let mut nameless = delete("m-1", t(0));
    nameless.as_object_mut().expect("object").remove("id");
    refused(&app, &nameless, "schema_violation", "id").await;
    for action in ["PROVISION", "ACTIVATE", "MEMBER_ADD", "delete-all"] {
        let mut event = update("org", "m-1", "a@x.io", t(0));
        event["action"] = json!(action);
        refused(&app, &event, "schema_violation", "action").await;
    }
    // Group events ask for what group-resolver understands.
    for action in ["EXPLODE", "RENAME", "UPSERT"] {
        let event = group(action, "org", "g-1", "Eng", Some("m-1"), t(0));
        refused(&app, &event, "schema_violation", "action").await;
    }
    assert_only_the_control_event_was_published(&app).await;

    // Still accepted: the member id from the body alone, lower-case actions, every group action.
    let mut event = create("org", "m-2", "b@x.io", t(0));
    event.as_object_mut().expect("object").remove("id");
    event["action"] = json!("create");
    assert_eq!(app.send(&event).await.status(), 202);
    for action in ["CREATE", "UPDATE", "DELETE", "MEMBER_ADD", "MEMBER_DELETE"] {
        let event = group(action, "org", "g-1", "Eng", Some("m-1"), t(0));
        assert_eq!(app.send(&event).await.status(), 202, "{action}");
    }
    app.stop().await;
}

/// The routing key is `source.object_type.action`, written by the sender: before, a signed
/// `internal`/`user`/`provisioned` body was published on `internal.user.provisioned`, the key
/// user-upsert announces new users on, and manager-linker consumed it.
#[tokio::test]
async fn no_sender_text_reaches_a_routing_key_outside_the_webhook_namespace() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let mut internal = create("org", "m-1", "a@x.io", t(0));
    internal["source"] = json!("internal");
    internal["object_type"] = json!("user");
    internal["action"] = json!("provisioned");
    internal["user"] = json!({"user_id": "00000000-0000-0000-0000-000000000001"});
    refused(&app, &internal, "schema_violation", "source").await;

    let cases = [
        ("source", "INTERNAL", "source"),
        ("source", "scim.member", "source"),
        ("source", "SCIM ", "source"),
        ("source", "TEST", "source"),
        // Dots add segments; anything else outside [a-z0-9_] could be a wildcard or a
        // look-alike.
        ("object_type", "user.provisioned", "object_type"),
        ("object_type", " member", "object_type"),
        ("object_type", "#", "object_type"),
        ("object_type", "org-unit", "object_type"),
        ("object_type", "\u{442}est", "object_type"),
        ("action", "create.internal", "action"),
        ("action", "*", "action"),
        ("action", "cr\u{e9}ate", "action"),
    ];
    for (field, value, named) in cases {
        let mut event = create("org", "m-1", "a@x.io", t(0));
        event[field] = json!(value);
        refused(&app, &event, "schema_violation", named).await;
    }
    assert_only_the_control_event_was_published(&app).await;

    // Every source a webhook may name, in any case, and any plain object type.
    for source in ["SCIM", "direct", "Dashboard"] {
        let mut event = create("org", "m-2", "b@x.io", t(0));
        event["source"] = json!(source);
        assert_eq!(app.send(&event).await.status(), 202, "{source}");
    }
    let mut event = create("org", "m-3", "c@x.io", t(0));
    event["object_type"] = json!("sso_connection_2");
    assert_eq!(app.send(&event).await.status(), 202);
    app.stop().await;
}

/// JSON with a key twice means whatever the reader picks: serde kept the last
/// `email_address`, another parser the first. Before, only a duplicate the envelope's own
/// fields caught (`event_id`) was refused.
#[tokio::test]
async fn a_body_with_a_duplicate_key_anywhere_is_malformed_json() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let plain = serde_json::to_string(&create("org", "m-1", "a@x.io", t(0))).expect("json");
    let body = &plain;
    let cases = [
        (
            body.replacen(
                r#""email_address":"a@x.io""#,
                r#""email_address":"a@x.io","email_address":"admin@victim.io""#,
                1,
            ),
            "member.email_address",
        ),
        (
            body.replacen(r#""active":true"#, r#""active":true,"active":false"#, 1),
            "member.scim_registration.scim_attributes.active",
        ),
        // The same key, spelt with an escape.
        (
            body.replacen(
                r#""source":"SCIM""#,
                r#""source":"SCIM","sourc\u0065":"SCIM""#,
                1,
            ),
            "source",
        ),
        (
            body.replacen(r#""event_id":"#, r#""event_id":"e-0","event_id":"#, 1),
            "event_id",
        ),
        (
            body.replacen(
                r#""user_name":"#,
                r#""emails":[{"value":"x@x.io","value":"y@x.io"}],"user_name":"#,
                1,
            ),
            "member.scim_registration.scim_attributes.emails[0].value",
        ),
    ];
    for (i, (body, path)) in cases.iter().enumerate() {
        assert_ne!(body, &plain, "the case changes the body: {path}");
        let now = chrono::Utc::now().timestamp();
        let response = app
            .send_raw(&format!("msg_dup_{i}"), now, body.as_bytes(), SECRET)
            .await;
        let (status, error) = status_and_json(response).await;
        assert_eq!(
            (status, error["error"].as_str(), error["field"].as_str()),
            (400, Some("malformed_json"), Some(*path)),
            "{body}: {error}"
        );
        let key = path.rsplit('.').next().unwrap_or_default();
        let key = key.split('[').next().unwrap_or_default();
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("`{key}`")), "{error}");
    }
    // The same key in two different objects is no duplicate.
    let twice = body.replacen(
        r#""user_name":"#,
        r#""emails":[{"value":"x@x.io"},{"value":"y@x.io"}],"user_name":"#,
        1,
    );
    let now = chrono::Utc::now().timestamp();
    let response = app
        .send_raw("msg_twice", now, twice.as_bytes(), SECRET)
        .await;
    assert_eq!(response.status(), 202);
    app.stop().await;
}
