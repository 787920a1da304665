//! Hostile input at the webhook endpoint (SPEC A1, R18): headers and bodies no worker could
//! apply are refused at ingest, with the status the sender needs, and never crash it.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use scimsync_tests::app::{Services, SECRET};
use scimsync_tests::events::{create, t};
use scimsync_tests::TestApp;
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
