//! HTTP/1.1 written by hand, for requests no well-behaved client sends: a chosen `Host`, a URI
//! longer than a client allows, a request line that is not HTTP.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What came back: the status, the head's header lines (lower-cased) and the body as JSON
/// (`Null` if it is not JSON).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<String>,
    pub body: Value,
}

impl RawResponse {
    /// The value of a header, if the response has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.headers
            .iter()
            .find_map(|line| line.strip_prefix(&prefix))
            .map(str::trim)
    }
}

/// Sends `request` as it is to `base` (`http://host:port`) and reads until the server closes
/// the connection: send `Connection: close`, or a request the server refuses.
pub async fn exchange(base: &str, request: &[u8]) -> RawResponse {
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(request).await.expect("write request");
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut bytes))
        .await
        .expect("the server answers and closes within 30 s")
        .expect("read response");
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    RawResponse {
        status,
        headers: lines.map(str::to_ascii_lowercase).collect(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// A GET of `target` with this `Host` header, closing the connection after the answer.
pub fn get(target: &str, host: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}
