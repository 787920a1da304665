//! Webhooks signed the way Svix signs them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::app::SECRET;

/// Microsecond ISO-8601, as Stytch writes timestamps.
pub fn stytch_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(crate) fn signed_request(
    http: &reqwest::Client,
    ingest_url: &str,
    svix_id: &str,
    timestamp: i64,
    bytes: &[u8],
    secret: &str,
) -> reqwest::RequestBuilder {
    let signature = scimsync_platform::svix::sign(secret, svix_id, timestamp, bytes).expect("sign");
    http.post(format!("{ingest_url}/webhooks/stytch"))
        .header("svix-id", svix_id)
        .header("svix-timestamp", timestamp.to_string())
        .header("svix-signature", signature)
        .header("content-type", "application/json")
        .body(bytes.to_vec())
}

/// Signs and posts from a spawned task; returns the status (0 if the request itself failed).
pub async fn post_signed(http: &reqwest::Client, ingest_url: &str, body: &Value) -> u16 {
    let bytes = serde_json::to_vec(body).expect("serialize");
    let id = format!("msg_{}", Uuid::new_v4().simple());
    match signed_request(
        http,
        ingest_url,
        &id,
        Utc::now().timestamp(),
        &bytes,
        SECRET,
    )
    .send()
    .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}
