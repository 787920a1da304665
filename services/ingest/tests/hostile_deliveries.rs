//! No header and no body makes ingest panic or answer as if it had a bug (SPEC A1, R18).
//!
//! Arbitrary `svix-*` (and `webhook-*`) headers and arbitrary bodies, unsigned and correctly
//! signed, go through [`judge`], which is everything ingest does before the broker. Signed
//! bodies are mostly events, whole or mutated at known paths with arbitrary JSON, odd unicode,
//! huge numbers and deep nesting, so the code past verification is what gets exercised.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use scimsync_ingest::verdict::{judge, Now, Verdict};
use scimsync_platform::amqp::publisher::MAX_SHORT_STRING;
use scimsync_platform::http::ApiError;
use scimsync_platform::svix::Verifier;
use scimsync_schema::duplicate_keys::check_unique_keys;
use scimsync_schema::topology::WEBHOOK_SOURCES;
use scimsync_schema::QueueMessage;
use secrecy::SecretString;
use serde_json::{json, Map, Value};

const SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
/// 2026-01-01T00:00:00Z: the clock every delivery is judged at.
const NOW: i64 = 1_767_225_600;
const CASES: u32 = 3000;

fn verifier() -> Verifier {
    Verifier::new(&[SecretString::from(SECRET.to_owned())], 300).expect("secret")
}

fn now() -> Now {
    Now {
        unix_secs: NOW,
        received_at: DateTime::<Utc>::from_timestamp(NOW, 0).expect("time"),
    }
}

/// Signs the header texts exactly as sent, whatever they hold (the verifier signs the
/// timestamp's text, not its value).
fn sign(id: &[u8], timestamp: &[u8], body: &[u8]) -> String {
    let key = STANDARD
        .decode(SECRET.trim_start_matches("whsec_"))
        .expect("key");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("hmac");
    for part in [id, b".", timestamp, b".", body] {
        mac.update(part);
    }
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

// ---- Text and JSON ----------------------------------------------------------------------------

/// Strings a hostile sender might try: arbitrary unicode, and pieces chosen to trip lowercasing,
/// routing keys, trimming and lengths.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => prop::sample::select(vec![
            "", " ", "SCIM", "scim", "DIRECT", "DASHBOARD", "internal", "member", "idp_group",
            "CREATE", "UPDATE", "DELETE", "MEMBER_ADD", "member-add", "provisioned", "user",
            "scim.member", "a.b", "#", "*", "İ", "\u{212a}", "\u{202e}evil", "\u{feff}", "ǅ",
            "\u{10ffff}", "ﬀ", "\u{0}", "\u{7f}", "é\u{301}", "ß", "\t\n", "null", "true",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z0-9_.\\-*# ]{0,40}",
        1 => (1usize..3000).prop_map(|n| "x".repeat(n)),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(PATHS.iter().map(|p| p[p.len() - 1]).collect::<Vec<_>>())
            .prop_map(str::to_owned),
        1 => text(),
    ]
}

/// Raw JSON texts serde_json never writes: escapes PostgreSQL refuses, numbers beyond f64,
/// nesting beyond the parser's limit, duplicate keys.
fn raw_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""a\u0000b""#,
            r#""\ud83d\ude00""#,
            r#""\u0061""#,
            "1e400",
            "-1e400",
            "123456789012345678901234567890",
            "-0",
            "0.0000000000000000001e-400",
            "18446744073709551616",
            "-9223372036854775809",
            r#""\\""#,
            "[]",
            "{}",
            r#"{"a":1,"a":2}"#,
            r#"[{"k":1},{"k":1,"\u006b":2}]"#,
        ])
        .prop_map(str::to_owned),
        (1usize..400).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        (1usize..400).prop_map(|n| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n))),
    ]
}

// ---- Events -----------------------------------------------------------------------------------

/// Where mutations land: every field ingest or a worker reads.
const PATHS: &[&[&str]] = &[
    &["event_id"],
    &["action"],
    &["object_type"],
    &["source"],
    &["id"],
    &["timestamp"],
    &["project_id"],
    &["vertical"],
    &["member"],
    &["member", "member_id"],
    &["member", "organization_id"],
    &["member", "email_address"],
    &["member", "name"],
    &["member", "status"],
    &["member", "scim_registration"],
    &["member", "scim_registration", "external_id"],
    &["member", "scim_registration", "scim_attributes"],
    &["member", "scim_registration", "scim_attributes", "active"],
    &["member", "scim_registration", "scim_attributes", "groups"],
    &["member", "scim_registration", "scim_attributes", "emails"],
    &[
        "member",
        "scim_registration",
        "scim_attributes",
        "addresses",
    ],
    &[
        "member",
        "scim_registration",
        "scim_attributes",
        "phone_numbers",
    ],
    &["member", "scim_registration", "scim_attributes", "name"],
    &["member", "scim_registration", "scim_attributes", "title"],
    &[
        "member",
        "scim_registration",
        "scim_attributes",
        "enterprise_extension",
    ],
    &["idp_group"],
    &["idp_group", "group_id"],
    &["idp_group", "organization_id"],
    &["idp_group", "member_id"],
    &["organization"],
];

fn event_template() -> impl Strategy<Value = Value> {
    let member = json!({
        "organization_id": "org-1", "member_id": "m-1", "email_address": "ada@x.io",
        "status": "active", "name": "Ada Lovelace",
        "scim_registration": {"connection_id": "c", "scim_attributes": {
            "user_name": "ada@x.io", "active": true, "title": "Engineer",
            "groups": [{"value": "g-1", "display": "Eng"}],
            "emails": [{"value": "ada@x.io", "type": "work", "primary": true}],
            "addresses": [{"locality": "Paris", "country": "FR", "street_address": "1 rue"}],
            "phone_numbers": [{"value": "+33 1", "type": "work"}],
            "name": {"given_name": "Ada", "family_name": "Lovelace"},
            "enterprise_extension": {"department": "R&D", "manager": {"value": "m-0"}}
        }}
    });
    let group = json!({"group_id": "g-1", "group_name": "Eng", "organization_id": "org-1",
        "member_id": "m-1"});
    (
        prop::sample::select(vec!["member", "member", "idp_group", "organization"]),
        prop::sample::select(vec![
            "CREATE",
            "UPDATE",
            "DELETE",
            "MEMBER_ADD",
            "MEMBER_DELETE",
            "create",
            "PROVISIONED",
        ]),
        prop::sample::select(vec![
            "SCIM",
            "SCIM",
            "SCIM",
            "SCIM",
            "DIRECT",
            "DASHBOARD",
            "internal",
        ]),
        -7200i64..4000,
    )
        .prop_map(move |(object_type, action, source, offset)| {
            let at = DateTime::<Utc>::from_timestamp(NOW + offset, 0).expect("time");
            let mut event = json!({
                "project_id": "p", "event_id": format!("e-{offset}"), "action": action,
                "object_type": object_type, "source": source, "id": "m-1",
                "timestamp": at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(), "vertical": "B2B",
            });
            match object_type {
                "member" if action != "DELETE" => event["member"] = member.clone(),
                "idp_group" => event["idp_group"] = group.clone(),
                "organization" => event["organization"] = json!({"organization_id": "org-1"}),
                _ => {}
            }
            event
        })
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, Value),
    Remove(usize),
}

fn apply(event: &mut Value, mutation: &Mutation) {
    let (index, value) = match mutation {
        Mutation::Set(i, v) => (*i, Some(v.clone())),
        Mutation::Remove(i) => (*i, None),
    };
    let path = PATHS[index % PATHS.len()];
    let (last, parents) = path.split_last().expect("non-empty");
    let mut node = event;
    for part in parents {
        if !node[*part].is_object() {
            node[*part] = json!({});
        }
        node = &mut node[*part];
    }
    let Some(object) = node.as_object_mut() else {
        return;
    };
    match value {
        Some(value) => {
            object.insert((*last).to_owned(), value);
        }
        None => {
            object.remove(*last);
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), json()).prop_map(|(i, v)| Mutation::Set(i, v)),
        1 => any::<usize>().prop_map(Mutation::Remove),
    ]
}

/// An event, mutated; then maybe one value's text replaced by a raw fragment.
fn event_body() -> impl Strategy<Value = Vec<u8>> {
    (
        event_template(),
        prop::collection::vec(mutation(), 0..4),
        prop::option::weighted(0.3, raw_fragment()),
    )
        .prop_map(|(mut event, mutations, fragment)| {
            for m in &mutations {
                apply(&mut event, m);
            }
            let text = serde_json::to_string(&event).expect("json");
            match fragment {
                Some(fragment) => text.replacen("\"ada@x.io\"", &fragment, 1).into_bytes(),
                None => text.into_bytes(),
            }
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => event_body(),
        1 => json().prop_map(|v| serde_json::to_vec(&v).expect("json")),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => (raw_fragment(), text()).prop_map(|(f, t)| format!("{f}{t}").into_bytes()),
        1 => (1usize..5000).prop_map(|n| "[".repeat(n).into_bytes()),
    ]
}

// ---- Headers ----------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Signature {
    Correct,
    AmongOthers(String),
    Arbitrary(Vec<u8>),
    Missing,
}

#[derive(Debug, Clone)]
struct Delivery {
    webhook_names: bool,
    id: Option<Vec<u8>>,
    timestamp: Option<Vec<u8>>,
    signature: Signature,
    body: Vec<u8>,
}

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        text().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn timestamp() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => (NOW - 300..=NOW + 300).prop_map(|t| t.to_string().into_bytes()),
        1 => (NOW - 400..NOW + 400).prop_map(|t| t.to_string().into_bytes()),
        2 => any::<i64>().prop_map(|t| t.to_string().into_bytes()),
        1 => prop::sample::select(vec![
            "-9223372036854775808", "9223372036854775807", "-9223372036854775809",
            "99999999999999999999999", " 1767225600", "1767225600 ", "+1767225600", "0x10",
            "1767225600.5", "1e9", "",
        ])
        .prop_map(|t| t.as_bytes().to_vec()),
        1 => header_bytes(),
    ]
}

fn delivery() -> impl Strategy<Value = Delivery> {
    let id = prop_oneof![
        4 => "msg_[a-zA-Z0-9]{27}".prop_map(String::into_bytes),
        1 => (250usize..300).prop_map(|n| "i".repeat(n).into_bytes()),
        1 => header_bytes(),
    ];
    let signature = prop_oneof![
        6 => Just(Signature::Correct),
        1 => "[ -~]{0,60}".prop_map(Signature::AmongOthers),
        1 => header_bytes().prop_map(Signature::Arbitrary),
        1 => Just(Signature::Missing),
    ];
    (
        any::<bool>(),
        prop::option::weighted(0.97, id),
        prop::option::weighted(0.97, timestamp()),
        signature,
        body(),
    )
        .prop_map(|(webhook_names, id, timestamp, signature, body)| Delivery {
            webhook_names,
            id,
            timestamp,
            signature,
            body,
        })
}

impl Delivery {
    fn headers(&self) -> HeaderMap {
        let prefix = if self.webhook_names {
            "webhook"
        } else {
            "svix"
        };
        let mut headers = HeaderMap::new();
        let mut put = |name: &str, value: &[u8]| {
            // A value HTTP cannot carry never reaches the handler.
            if let Ok(value) = HeaderValue::from_bytes(value) {
                let name = HeaderName::from_bytes(format!("{prefix}-{name}").as_bytes());
                headers.insert(name.expect("name"), value);
            }
        };
        if let Some(id) = &self.id {
            put("id", id);
        }
        if let Some(timestamp) = &self.timestamp {
            put("timestamp", timestamp);
        }
        let correct = || {
            sign(
                self.id.as_deref().unwrap_or_default(),
                self.timestamp.as_deref().unwrap_or_default(),
                &self.body,
            )
        };
        match &self.signature {
            Signature::Correct => put("signature", correct().as_bytes()),
            Signature::AmongOthers(other) => put(
                "signature",
                format!("{other} {} v2,x", correct()).as_bytes(),
            ),
            Signature::Arbitrary(bytes) => put("signature", bytes),
            Signature::Missing => {}
        }
        headers
    }
}

// ---- Properties -------------------------------------------------------------------------------

/// What may come out: a refusal the sender can act on (never a 5xx), or a message every worker
/// can read back, on a routing key and id the broker takes.
fn check(verdict: &Result<Verdict, ApiError>) -> Result<(), TestCaseError> {
    match verdict {
        Err(refusal) => {
            let expected = match refusal.code {
                "invalid_signature" => 401,
                "invalid_header" | "malformed_json" | "schema_violation" => 400,
                other => return Err(TestCaseError::fail(format!("unexpected code {other}"))),
            };
            prop_assert_eq!(refusal.status.as_u16(), expected, "{:?}", refusal);
        }
        Ok(Verdict::Duplicate { .. }) => {}
        Ok(Verdict::Publish(publication)) => {
            prop_assert!(publication.event_type.len() <= MAX_SHORT_STRING);
            // In the webhook namespace: a source of theirs and two plain words.
            let segments: Vec<&str> = publication.event_type.split('.').collect();
            prop_assert_eq!(segments.len(), 3, "{}", publication.event_type);
            prop_assert!(WEBHOOK_SOURCES.contains(&segments[0]));
            let plain = |s: &&str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
            };
            prop_assert!(
                segments[1..].iter().all(plain),
                "{}",
                publication.event_type
            );
            prop_assert!(publication.svix_id.len() <= MAX_SHORT_STRING);
            let message = QueueMessage::from_bytes(&publication.bytes);
            let Ok(QueueMessage::StytchWebhookV1(webhook)) = message else {
                return Err(TestCaseError::fail(format!("unreadable: {message:?}")));
            };
            prop_assert!(check_unique_keys(webhook.envelope.get().as_bytes()).is_ok());
            let envelope = webhook.envelope();
            prop_assert!(envelope.is_ok(), "a worker refuses it: {:?}", envelope);
            prop_assert_eq!(&webhook.event_type, &publication.event_type);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: CASES, ..Config::default() })]

    #[test]
    fn no_delivery_panics_or_gets_a_5xx(delivery in delivery()) {
        let verdict = judge(&verifier(), &delivery.headers(), &delivery.body, now(), |_| false);
        check(&verdict)?;
    }

    /// A correctly signed delivery inside the window is never refused as unsigned, whatever
    /// its body, so the body's checks are what the other property exercises.
    #[test]
    fn a_correct_signature_is_never_a_401(
        id in "msg_[a-zA-Z0-9]{27}",
        skew in -300i64..=300,
        body in body(),
    ) {
        let delivery = Delivery {
            webhook_names: false,
            id: Some(id.into_bytes()),
            timestamp: Some((NOW + skew).to_string().into_bytes()),
            signature: Signature::Correct,
            body,
        };
        let verdict = judge(&verifier(), &delivery.headers(), &delivery.body, now(), |_| false);
        check(&verdict)?;
        if let Err(refusal) = &verdict {
            prop_assert_ne!(refusal.status.as_u16(), 401, "{:?}", refusal);
        }
    }
}

/// The generator is not vacuous: a fair share of deliveries gets past every check, and each
/// kind of refusal is met.
#[test]
fn the_generated_deliveries_reach_every_stage() {
    let mut runner = TestRunner::deterministic();
    let strategy = delivery();
    let mut seen = std::collections::BTreeMap::<&str, u32>::new();
    for _ in 0..2000 {
        let delivery = strategy
            .new_tree(&mut runner)
            .expect("a delivery")
            .current();
        let verdict = judge(
            &verifier(),
            &delivery.headers(),
            &delivery.body,
            now(),
            |_| false,
        );
        let stage = match &verdict {
            Ok(Verdict::Publish(_)) => "published",
            Ok(Verdict::Duplicate { .. }) => "duplicate",
            Err(refusal) => refusal.code,
        };
        *seen.entry(stage).or_default() += 1;
    }
    for stage in [
        "published",
        "invalid_signature",
        "invalid_header",
        "malformed_json",
        "schema_violation",
    ] {
        assert!(seen.get(stage).copied().unwrap_or(0) >= 20, "{seen:?}");
    }
    assert!(seen["published"] >= 150, "{seen:?}");
}
