//! What a dead letter says about itself, read from its headers.
//!
//! Workers dead-letter with our own headers (`x-dead-letter-reason` and friends, see
//! `scimsync_schema::headers`). The broker dead-letters on its own when a quorum queue's
//! delivery limit is exceeded (a handler that crashes the process on one message); those carry
//! only RabbitMQ's `x-death`, so the same facts are taken from there.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use scimsync_platform::amqp::headers::{get_str, get_u64};
use scimsync_schema::headers as h;
use scimsync_schema::QueueMessage;
use serde::Serialize;
use serde_json::{json, Value};

/// RabbitMQ's own dead-lettering header: a list of tables, the most recent death first.
pub const X_DEATH: &str = "x-death";

/// Who dead-lettered the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetteredBy {
    /// A worker, with our headers.
    Worker,
    /// The broker (delivery limit, rejection), with `x-death` only.
    Broker,
    /// Neither: something published straight to the DLQ.
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// The dead-letter queue it was read from.
    pub queue: String,
    pub reason: String,
    pub detail: Option<String>,
    pub failed_at: Option<DateTime<Utc>>,
    pub original_exchange: Option<String>,
    pub original_routing_key: Option<String>,
    pub attempts: Option<u64>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub organization_id: Option<String>,
    /// The company by id (`x-company-id`): the SCIM door's messages and the workers'
    /// announcements carry it.
    pub company_id: Option<String>,
    pub message_id: Option<String>,
    pub dead_lettered_by: DeadLetteredBy,
    /// Every header, as JSON (including `traceparent` and `x-death`).
    pub headers: BTreeMap<String, Value>,
    /// The body: JSON when it is JSON, otherwise text (lossy UTF-8).
    pub body: Value,
}

/// The most recent `x-death` entry, if any.
fn last_death(headers: &FieldTable) -> Option<&FieldTable> {
    match headers.inner().get(X_DEATH)? {
        AMQPValue::FieldArray(deaths) => deaths.as_slice().iter().find_map(|d| match d {
            AMQPValue::FieldTable(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

fn death_routing_key(death: &FieldTable) -> Option<String> {
    match death.inner().get("routing-keys")? {
        AMQPValue::FieldArray(keys) => keys.as_slice().iter().find_map(|k| match k {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
            _ => None,
        }),
        _ => None,
    }
}

fn timestamp(value: Option<&AMQPValue>) -> Option<DateTime<Utc>> {
    match value? {
        AMQPValue::Timestamp(secs) => Utc.timestamp_opt(i64::try_from(*secs).ok()?, 0).single(),
        _ => None,
    }
}

fn rfc3339(text: Option<String>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

impl DeadLetter {
    pub fn parse(queue: &str, properties: &BasicProperties, body: &[u8]) -> Self {
        let headers = properties.headers().clone().unwrap_or_default();
        let death = last_death(&headers);
        let ours = get_str(&headers, h::DL_REASON);
        let dead_lettered_by = match (&ours, death) {
            (Some(_), _) => DeadLetteredBy::Worker,
            (None, Some(_)) => DeadLetteredBy::Broker,
            (None, None) => DeadLetteredBy::Unknown,
        };
        let death_str = |key: &str| death.and_then(|d| get_str(d, key));
        // Our headers win: on a retried message `x-death` names the delay queue's hop, while
        // `x-original-*` still name where the event was first published.
        let reason = ours
            .or_else(|| death_str("reason"))
            .unwrap_or_else(|| "unknown".into());
        let detail = get_str(&headers, h::DL_DETAIL).or_else(|| {
            death.map(|d| {
                format!(
                    "dead-lettered by the broker from {} ({} time(s))",
                    get_str(d, "queue").unwrap_or_else(|| "?".into()),
                    get_u64(d, "count").unwrap_or(1)
                )
            })
        });
        Self {
            queue: queue.to_owned(),
            reason,
            detail,
            failed_at: rfc3339(get_str(&headers, h::DL_FAILED_AT))
                .or_else(|| timestamp(death.and_then(|d| d.inner().get("time")))),
            original_exchange: get_str(&headers, h::DL_ORIGINAL_EXCHANGE)
                .or_else(|| death_str("exchange")),
            original_routing_key: get_str(&headers, h::DL_ORIGINAL_ROUTING_KEY)
                .or_else(|| death.and_then(death_routing_key)),
            attempts: get_u64(&headers, h::ATTEMPTS)
                .or_else(|| get_u64(&headers, "x-delivery-count")),
            event_id: get_str(&headers, h::EVENT_ID),
            event_type: get_str(&headers, h::EVENT_TYPE),
            // A message published before every message carried its company (group events,
            // announcements) still names it in its body.
            organization_id: get_str(&headers, h::ORGANIZATION_ID)
                .or_else(|| QueueMessage::from_bytes(body).ok()?.organization_id()),
            company_id: get_str(&headers, h::COMPANY_ID),
            message_id: properties.message_id().as_ref().map(|s| s.to_string()),
            dead_lettered_by,
            headers: headers
                .inner()
                .iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
            body: serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned())),
        }
    }
}

/// An AMQP header value as JSON, for display.
pub fn to_json(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Float(n) => json!(n),
        AMQPValue::Double(n) => json!(n),
        AMQPValue::DecimalValue(d) => json!({ "scale": d.scale, "value": d.value }),
        AMQPValue::ShortString(s) => json!(s.as_str()),
        AMQPValue::LongString(s) => json!(String::from_utf8_lossy(s.as_bytes())),
        AMQPValue::FieldArray(items) => {
            Value::Array(items.as_slice().iter().map(to_json).collect())
        }
        AMQPValue::FieldTable(table) => Value::Object(
            table
                .inner()
                .iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
        AMQPValue::Timestamp(secs) => i64::try_from(*secs)
            .ok()
            .and_then(|s| Utc.timestamp_opt(s, 0).single())
            .map(|t| json!(t.to_rfc3339()))
            .unwrap_or_else(|| json!(secs)),
        AMQPValue::ByteArray(bytes) => json!(String::from_utf8_lossy(bytes.as_slice())),
        AMQPValue::Void => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::{FieldArray, LongString, ShortString};
    use scimsync_platform::amqp::headers::{set_str, set_u64};

    fn long(s: &str) -> AMQPValue {
        AMQPValue::LongString(LongString::from(s.to_owned()))
    }

    #[test]
    fn a_workers_dead_letter_is_read_from_our_headers() {
        let mut headers = FieldTable::default();
        set_str(&mut headers, h::DL_REASON, "unknown_organization");
        set_str(&mut headers, h::DL_DETAIL, "no company for org-1");
        set_str(&mut headers, h::DL_FAILED_AT, "2026-01-02T03:04:05+00:00");
        set_str(&mut headers, h::DL_ORIGINAL_EXCHANGE, "scimsync.events");
        set_str(
            &mut headers,
            h::DL_ORIGINAL_ROUTING_KEY,
            "scim.member.create",
        );
        set_str(&mut headers, h::EVENT_ID, "e-1");
        set_str(&mut headers, h::ORGANIZATION_ID, "org-1");
        set_u64(&mut headers, h::ATTEMPTS, 1);
        let props = BasicProperties::default()
            .with_headers(headers)
            .with_message_id(ShortString::from("msg_1"));
        let letter = DeadLetter::parse("q.dlq", &props, br#"{"kind":"x"}"#);
        assert_eq!(letter.dead_lettered_by, DeadLetteredBy::Worker);
        assert_eq!(letter.reason, "unknown_organization");
        assert_eq!(letter.original_exchange.as_deref(), Some("scimsync.events"));
        assert_eq!(letter.attempts, Some(1));
        assert_eq!(letter.message_id.as_deref(), Some("msg_1"));
        assert_eq!(
            letter.failed_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-01-02T03:04:05+00:00")
        );
        assert_eq!(letter.body["kind"], "x");
    }

    #[test]
    fn a_broker_dead_letter_is_read_from_x_death() {
        let mut death = FieldTable::default();
        death.insert("reason".into(), long("delivery_limit"));
        death.insert("queue".into(), long("scimsync.user-upsert"));
        death.insert("exchange".into(), long("scimsync.events"));
        death.insert(
            "routing-keys".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![long("scim.member.update")])),
        );
        death.insert("time".into(), AMQPValue::Timestamp(1_767_225_600));
        death.insert("count".into(), AMQPValue::LongLongInt(1));
        let mut headers = FieldTable::default();
        headers.insert(
            X_DEATH.into(),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
        );
        let props = BasicProperties::default().with_headers(headers);
        let letter = DeadLetter::parse("q.dlq", &props, b"not json");
        assert_eq!(letter.dead_lettered_by, DeadLetteredBy::Broker);
        assert_eq!(letter.reason, "delivery_limit");
        assert_eq!(letter.original_exchange.as_deref(), Some("scimsync.events"));
        assert_eq!(
            letter.original_routing_key.as_deref(),
            Some("scim.member.update")
        );
        assert_eq!(letter.failed_at.map(|t| t.timestamp()), Some(1_767_225_600));
        assert!(letter
            .detail
            .unwrap_or_default()
            .contains("scimsync.user-upsert"));
        assert_eq!(letter.body, json!("not json"));
        assert_eq!(
            letter.headers[X_DEATH][0]["time"],
            json!("2026-01-01T00:00:00+00:00")
        );
    }

    #[test]
    fn a_dead_letter_without_the_company_header_is_read_from_its_body() {
        let body = br#"{"kind":"stytch_webhook.v1","svix_id":"msg_1","event_id":"e-1","event_type":"scim.idp_group.create","timestamp":"2026-01-01T00:00:00Z","received_at":"2026-01-01T00:00:01Z","envelope":{"event_id":"e-1","action":"CREATE","object_type":"idp_group","source":"SCIM","timestamp":"2026-01-01T00:00:00Z","idp_group":{"group_id":"g-1","organization_id":"org-g"}}}"#;
        let mut headers = FieldTable::default();
        set_str(&mut headers, h::DL_REASON, "unknown_organization");
        let props = BasicProperties::default().with_headers(headers.clone());
        let letter = DeadLetter::parse("q.dlq", &props, body);
        assert_eq!(letter.organization_id.as_deref(), Some("org-g"));
        // The header, when there is one, is what the publisher said.
        set_str(&mut headers, h::ORGANIZATION_ID, "org-h");
        let props = BasicProperties::default().with_headers(headers);
        let letter = DeadLetter::parse("q.dlq", &props, body);
        assert_eq!(letter.organization_id.as_deref(), Some("org-h"));
    }

    #[test]
    fn a_message_with_no_dead_letter_headers_is_unknown() {
        let letter = DeadLetter::parse("q.dlq", &BasicProperties::default(), b"{}");
        assert_eq!(letter.dead_lettered_by, DeadLetteredBy::Unknown);
        assert_eq!(letter.reason, "unknown");
        assert_eq!(letter.failed_at, None);
    }
}
