//! Svix webhook signature verification (SPEC §5, R18).
//!
//! Signed bytes are `{id}.{timestamp}.{body}`, HMAC-SHA256 keyed with the base64-decoded part
//! of each `whsec_` secret. The header may carry several space-separated `v1,<sig>` entries;
//! any match against any configured secret (rotation) accepts. Comparison is constant time
//! (`Mac::verify_slice`).

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("svix-timestamp is not a Unix timestamp")]
    BadTimestamp,
    #[error("svix-timestamp is outside the accepted window of ±{0} s")]
    StaleTimestamp(i64),
    #[error("no signature matches")]
    NoMatch,
}

#[derive(Debug, thiserror::Error)]
#[error("webhook secret number {index} is not valid base64 after the whsec_ prefix")]
pub struct BadSecret {
    pub index: usize,
}

/// The verified identity of a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub message_id: String,
    pub timestamp: i64,
}

pub struct Verifier {
    keys: Vec<Vec<u8>>,
    tolerance_secs: i64,
}

impl Verifier {
    pub fn new(secrets: &[SecretString], tolerance_secs: i64) -> Result<Self, BadSecret> {
        let keys = secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| {
                let raw = secret.expose_secret();
                let encoded = raw.strip_prefix("whsec_").unwrap_or(raw);
                STANDARD
                    .decode(encoded)
                    .map_err(|_| BadSecret { index: index + 1 })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            keys,
            tolerance_secs,
        })
    }

    /// Checks the headers and body; `now` is Unix seconds (injected for tests).
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, VerifyError> {
        let id = header(headers, "svix-id", "webhook-id")?;
        let timestamp = header(headers, "svix-timestamp", "webhook-timestamp")?;
        let signatures = header(headers, "svix-signature", "webhook-signature")?;
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        // `abs_diff` cannot overflow: a hostile timestamp near either end of i64 is far
        // outside the window, not a panic (or, wrapping in a release build, inside it).
        let tolerance = u64::try_from(self.tolerance_secs).unwrap_or(0);
        if now.abs_diff(ts) > tolerance {
            return Err(VerifyError::StaleTimestamp(self.tolerance_secs));
        }
        let candidates: Vec<Vec<u8>> = signatures
            .split_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|sig| STANDARD.decode(sig).ok())
            .collect();
        for key in &self.keys {
            for candidate in &candidates {
                let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
                    continue;
                };
                mac.update(id.as_bytes());
                mac.update(b".");
                mac.update(timestamp.as_bytes());
                mac.update(b".");
                mac.update(body);
                if mac.verify_slice(candidate).is_ok() {
                    return Ok(Verified {
                        message_id: id.to_owned(),
                        timestamp: ts,
                    });
                }
            }
        }
        Err(VerifyError::NoMatch)
    }
}

fn header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
    alias: &'static str,
) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .or_else(|| headers.get(alias))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(VerifyError::MissingHeader(name))
}

/// Signs the way Svix does; used by `scimctl webhook send`, the simulator and the tests.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let mut mac = HmacSha256::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
    const ID: &str = "msg_2vTestStytchScimMember0001";
    const TS: i64 = 1_735_689_600;
    const BODY: &str = r#"{"action":"DELETE","event_id":"webhook-event-test-00000000-0000-0000-0000-000000000001","id":"member-test-00000000-0000-0000-0000-000000000002","object_type":"member","project_id":"project-test-00000000-0000-0000-0000-000000000003","source":"SCIM","timestamp":"2025-01-01T00:00:00.000000Z","vertical":"B2B"}"#;
    const EXPECTED: &str = "v1,JAGYq25WtJWgCZIKpQbP9hkMFB0Ytg31wBeBao0yu1g=";

    fn headers(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("svix-id", ID.parse().expect("header"));
        h.insert("svix-timestamp", TS.to_string().parse().expect("header"));
        h.insert("svix-signature", signature.parse().expect("header"));
        h
    }

    fn verifier(secrets: &[&str]) -> Verifier {
        let secrets: Vec<SecretString> = secrets
            .iter()
            .map(|s| SecretString::from(s.to_string()))
            .collect();
        Verifier::new(&secrets, 300).expect("valid secrets")
    }

    #[test]
    fn spec_test_vector_signs_and_verifies() {
        assert_eq!(
            sign(SECRET, ID, TS, BODY.as_bytes()).as_deref(),
            Some(EXPECTED)
        );
        let v = verifier(&[SECRET]);
        let ok = v
            .verify(&headers(EXPECTED), BODY.as_bytes(), TS + 10)
            .expect("valid");
        assert_eq!(ok.message_id, ID);
    }

    #[test]
    fn any_v1_signature_and_any_secret_may_match() {
        let v = verifier(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SECRET]);
        let header = format!("v2,abc v1,bm90IGl0 {EXPECTED}");
        assert!(v.verify(&headers(&header), BODY.as_bytes(), TS).is_ok());
    }

    #[test]
    fn tampered_body_or_wrong_secret_is_refused() {
        let v = verifier(&[SECRET]);
        let tampered = BODY.replace("DELETE", "CREATE");
        assert_eq!(
            v.verify(&headers(EXPECTED), tampered.as_bytes(), TS),
            Err(VerifyError::NoMatch)
        );
        let other = verifier(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]);
        assert_eq!(
            other.verify(&headers(EXPECTED), BODY.as_bytes(), TS),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn timestamps_outside_five_minutes_are_refused() {
        let v = verifier(&[SECRET]);
        assert!(v
            .verify(&headers(EXPECTED), BODY.as_bytes(), TS + 300)
            .is_ok());
        assert_eq!(
            v.verify(&headers(EXPECTED), BODY.as_bytes(), TS + 301),
            Err(VerifyError::StaleTimestamp(300))
        );
        assert_eq!(
            v.verify(&headers(EXPECTED), BODY.as_bytes(), TS - 301),
            Err(VerifyError::StaleTimestamp(300))
        );
    }

    /// The distance to the clock is taken without overflow: before, `now - ts` panicked
    /// (debug) or wrapped into the window (release) for timestamps near the ends of i64.
    #[test]
    fn timestamps_at_the_ends_of_i64_are_refused_not_overflowed() {
        let v = verifier(&[SECRET]);
        for (timestamp, now) in [
            ("-9223372036854775808", TS),
            ("9223372036854775807", TS),
            ("9223372036854775807", -TS),
            ("-9223372036854775808", i64::MAX),
            ("9223372036854775807", i64::MIN),
        ] {
            let mut h = headers(EXPECTED);
            h.insert("svix-timestamp", timestamp.parse().expect("header"));
            assert_eq!(
                v.verify(&h, BODY.as_bytes(), now),
                Err(VerifyError::StaleTimestamp(300)),
                "{timestamp} at {now}"
            );
        }
        let mut h = headers(EXPECTED);
        h.insert(
            "svix-timestamp",
            "-9223372036854775809".parse().expect("header"),
        );
        assert_eq!(
            v.verify(&h, BODY.as_bytes(), TS),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn webhook_header_aliases_are_accepted_and_missing_headers_named() {
        let v = verifier(&[SECRET]);
        let mut h = HeaderMap::new();
        h.insert("webhook-id", ID.parse().expect("header"));
        h.insert("webhook-timestamp", TS.to_string().parse().expect("header"));
        h.insert("webhook-signature", EXPECTED.parse().expect("header"));
        assert!(v.verify(&h, BODY.as_bytes(), TS).is_ok());
        h.remove("webhook-signature");
        assert_eq!(
            v.verify(&h, BODY.as_bytes(), TS),
            Err(VerifyError::MissingHeader("svix-signature"))
        );
    }
}
