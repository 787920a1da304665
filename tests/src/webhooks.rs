//! Webhooks signed the way Svix signs them, from the wire format in SPEC §5 rather than with
//! the product's own signer: a mistake shared by the product's signer and its verifier would
//! otherwise pass every test that goes through ingest.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;

use crate::app::SECRET;

/// Microsecond ISO-8601, as Stytch writes timestamps.
pub fn stytch_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The `svix-signature` value for a delivery (SPEC §5): HMAC-SHA256 over
/// `{id}.{timestamp}.{raw body}`, keyed with the base64 decoding of the secret after its `whsec_`
/// prefix, written `v1,<base64 of the MAC>`.
pub fn svix_signature(secret: &str, svix_id: &str, timestamp: i64, body: &[u8]) -> String {
    let encoded = secret
        .strip_prefix("whsec_")
        .unwrap_or_else(|| panic!("a Svix secret starts with whsec_: {secret:?}"));
    let key = STANDARD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("the secret after whsec_ is base64: {e}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(svix_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

pub(crate) fn signed_request(
    http: &reqwest::Client,
    ingest_url: &str,
    svix_id: &str,
    timestamp: i64,
    bytes: &[u8],
    secret: &str,
) -> reqwest::RequestBuilder {
    let signature = svix_signature(secret, svix_id, timestamp, bytes);
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
