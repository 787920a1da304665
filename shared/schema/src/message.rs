//! Messages on the queue: a versioned, internally tagged enum. New shapes are new variants;
//! an old variant never changes meaning, so a dead letter from last month still replays.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::change::{Change, GroupChange, MemberChange};
use crate::stytch::{Envelope, SchemaError};

/// Decoded by [`QueueMessage::from_bytes`]: serde's derive for internally tagged enums buffers
/// the fields, which a raw envelope cannot go through.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind")]
pub enum QueueMessage {
    /// A verified Stytch webhook, exactly as received (the envelope is kept whole).
    #[serde(rename = "stytch_webhook.v1")]
    StytchWebhookV1(StytchWebhook),
    /// A user record now exists (created or adopted): wakes manager links waiting for it.
    /// No longer published (see [`QueueMessage::UsersProvisionedV1`]); still handled, so a
    /// message already queued or dead-lettered replays.
    #[serde(rename = "user_provisioned.v1")]
    UserProvisionedV1(UserProvisioned),
    /// Every user one batch of member events provisioned: one message per batch rather than
    /// one per user.
    #[serde(rename = "users_provisioned.v1")]
    UsersProvisionedV1(UsersProvisioned),
    /// A member change from the SCIM door (the Stytch door's arrive as webhooks, adapted by
    /// [`StytchWebhook::change`]).
    #[serde(rename = "member_change.v1")]
    MemberChangeV1(Box<MemberChange>),
    /// A group or membership change from the SCIM door.
    #[serde(rename = "group_change.v1")]
    GroupChangeV1(Box<GroupChange>),
}

impl QueueMessage {
    /// The idempotency key every handler dedupes on.
    pub fn event_id(&self) -> &str {
        match self {
            Self::StytchWebhookV1(w) => &w.event_id,
            Self::UserProvisionedV1(u) => &u.event_id,
            Self::UsersProvisionedV1(u) => &u.event_id,
            Self::MemberChangeV1(c) => &c.meta.event_id,
            Self::GroupChangeV1(c) => &c.meta.event_id,
        }
    }

    pub fn timestamp(&self) -> DateTime<Utc> {
        match self {
            Self::StytchWebhookV1(w) => w.timestamp,
            Self::UserProvisionedV1(u) => u.timestamp,
            Self::UsersProvisionedV1(u) => u.timestamp,
            Self::MemberChangeV1(c) => c.meta.timestamp,
            Self::GroupChangeV1(c) => c.meta.timestamp,
        }
    }

    /// The change a worker applies, whichever door it came through; `None` for the
    /// announcements between workers.
    pub fn change(&self) -> Option<Result<Change, SchemaError>> {
        match self {
            Self::StytchWebhookV1(w) => Some(w.change()),
            Self::MemberChangeV1(c) => Some(Ok(Change::Member(c.clone()))),
            Self::GroupChangeV1(c) => Some(Ok(Change::Group(c.clone()))),
            Self::UserProvisionedV1(_) | Self::UsersProvisionedV1(_) => None,
        }
    }

    /// The Stytch organization a message is about, read from its body: for a webhook, the
    /// organization its event names (the value ingest puts in `x-organization-id`). `None` for
    /// an announcement (it carries company ids; its publisher sets the header) and for an event
    /// that names none.
    pub fn organization_id(&self) -> Option<String> {
        match self {
            Self::StytchWebhookV1(w) => w.envelope().ok()?.organization_id().map(str::to_owned),
            // The SCIM door's changes name their company by id (`x-company-id`).
            Self::UserProvisionedV1(_)
            | Self::UsersProvisionedV1(_)
            | Self::MemberChangeV1(_)
            | Self::GroupChangeV1(_) => None,
        }
    }

    /// The company a SCIM-door change belongs to, by id (the value its publisher puts in
    /// `x-company-id`).
    pub fn company_id(&self) -> Option<&str> {
        let tenant = match self {
            Self::MemberChangeV1(c) => &c.tenant,
            Self::GroupChangeV1(c) => &c.tenant,
            _ => return None,
        };
        match tenant {
            crate::change::Tenant::Company(id) => Some(id),
            _ => None,
        }
    }

    /// The event type of a change (`scim.member.create`, ...); `None` for an announcement.
    pub fn event_type(&self) -> Option<&str> {
        match self {
            Self::StytchWebhookV1(w) => Some(&w.event_type),
            Self::MemberChangeV1(c) => Some(&c.meta.event_type),
            Self::GroupChangeV1(c) => Some(&c.meta.event_type),
            Self::UserProvisionedV1(_) | Self::UsersProvisionedV1(_) => None,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising these plain data types cannot fail (no maps with non-string keys).
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads the `kind` first (the other fields skipped, not decoded), then the message as
    /// that kind.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Kind<'a> {
            #[serde(borrow)]
            kind: Cow<'a, str>,
        }
        let Kind { kind } = serde_json::from_slice(bytes)?;
        match kind.as_ref() {
            "stytch_webhook.v1" => serde_json::from_slice(bytes).map(Self::StytchWebhookV1),
            "user_provisioned.v1" => serde_json::from_slice(bytes).map(Self::UserProvisionedV1),
            "users_provisioned.v1" => serde_json::from_slice(bytes).map(Self::UsersProvisionedV1),
            "member_change.v1" => serde_json::from_slice(bytes).map(Self::MemberChangeV1),
            "group_change.v1" => serde_json::from_slice(bytes).map(Self::GroupChangeV1),
            other => Err(serde::de::Error::custom(format!(
                "unknown message kind {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StytchWebhook {
    /// Svix message id (stable across Svix retries).
    pub svix_id: String,
    /// Stytch event id.
    pub event_id: String,
    /// `scim.member.create` and friends; also the routing key.
    pub event_type: String,
    /// When Stytch emitted the event: the ordering key for R17.
    pub timestamp: DateTime<Utc>,
    /// When ingest accepted it.
    pub received_at: DateTime<Utc>,
    /// The envelope as received, byte for byte, unknown fields included: carried through
    /// without being decoded into a tree and written out again.
    pub envelope: Box<RawValue>,
}

impl PartialEq for StytchWebhook {
    fn eq(&self, other: &Self) -> bool {
        self.svix_id == other.svix_id
            && self.event_id == other.event_id
            && self.event_type == other.event_type
            && self.timestamp == other.timestamp
            && self.received_at == other.received_at
            && self.envelope.get() == other.envelope.get()
    }
}

impl StytchWebhook {
    pub fn new(
        svix_id: String,
        envelope: &Envelope,
        raw: Box<RawValue>,
        received_at: DateTime<Utc>,
    ) -> Self {
        Self {
            svix_id,
            event_id: envelope.event_id.clone(),
            event_type: envelope.event_type(),
            timestamp: envelope.timestamp,
            received_at,
            envelope: raw,
        }
    }

    /// The typed envelope (validated again: the queue is a trust boundary too).
    pub fn envelope(&self) -> Result<Envelope, SchemaError> {
        Envelope::parse(self.envelope.get().as_bytes())
    }
}

/// Routing key of [`UserProvisioned`] on the events exchange.
pub const USER_PROVISIONED_ROUTING_KEY: &str = "internal.user.provisioned";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserProvisioned {
    /// `<origin event id>:user_provisioned`: unique per cause, so redeliveries dedupe.
    pub event_id: String,
    /// The origin event's timestamp.
    pub timestamp: DateTime<Utc>,
    /// Ids as text, so this crate needs no uuid dependency.
    pub company_id: String,
    pub user_id: String,
    pub stytch_member_id: String,
    pub scim_id: Option<String>,
    pub external_id: Option<String>,
}

/// Announcements of one batch, in one message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsersProvisioned {
    /// `<first announcement's event id>+<count>`: the message's id; each announcement keeps
    /// its own.
    pub event_id: String,
    /// The newest of the announcements' timestamps.
    pub timestamp: DateTime<Utc>,
    pub users: Vec<UserProvisioned>,
}

impl UsersProvisioned {
    /// `None` for no announcements: nothing to publish.
    pub fn of(users: Vec<UserProvisioned>) -> Option<Self> {
        let first = users.first()?;
        let event_id = match users.len() {
            1 => first.event_id.clone(),
            n => format!("{}+{}", first.event_id, n - 1),
        };
        let timestamp = users.iter().map(|u| u.timestamp).max()?;
        Some(Self {
            event_id,
            timestamp,
            users,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_a_version_tag() {
        let env = Envelope::parse(
            br#"{"action":"DELETE","event_id":"e1","id":"m1","object_type":"member","source":"SCIM","timestamp":"2025-01-01T00:00:00.000000Z"}"#,
        )
        .expect("valid");
        let raw = serde_json::value::to_raw_value(&env).expect("raw");
        let msg = QueueMessage::StytchWebhookV1(StytchWebhook::new(
            "msg_1".into(),
            &env,
            raw,
            Utc::now(),
        ));
        let bytes = msg.to_bytes();
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.contains(r#""kind":"stytch_webhook.v1""#), "{text}");
        let back = QueueMessage::from_bytes(&bytes).expect("decode");
        assert_eq!(back, msg);
        assert_eq!(back.event_id(), "e1");
    }

    fn webhook(body: &[u8]) -> QueueMessage {
        let env = Envelope::parse(body).expect("valid");
        let raw =
            RawValue::from_string(String::from_utf8(body.to_vec()).expect("utf8")).expect("raw");
        QueueMessage::StytchWebhookV1(StytchWebhook::new("msg".into(), &env, raw, Utc::now()))
    }

    #[test]
    fn a_message_names_the_organization_its_event_names() {
        let group = webhook(
            br#"{"action":"CREATE","event_id":"e1","object_type":"idp_group","source":"SCIM","timestamp":"2025-01-01T00:00:00Z","idp_group":{"group_id":"g","organization_id":"org-g"}}"#,
        );
        assert_eq!(group.organization_id().as_deref(), Some("org-g"));
        let delete = webhook(
            br#"{"action":"DELETE","event_id":"e2","id":"m1","object_type":"member","source":"SCIM","timestamp":"2025-01-01T00:00:00Z"}"#,
        );
        assert_eq!(delete.organization_id(), None);
        let announced = QueueMessage::UsersProvisionedV1(
            UsersProvisioned::of(vec![announcement(1, 0)]).expect("one"),
        );
        assert_eq!(announced.organization_id(), None);
    }

    fn announcement(n: u32, second: u32) -> UserProvisioned {
        UserProvisioned {
            event_id: format!("e{n}:user_provisioned"),
            timestamp: DateTime::from_timestamp(1_767_225_600 + i64::from(second), 0)
                .expect("time"),
            company_id: "c".into(),
            user_id: format!("u{n}"),
            stytch_member_id: format!("m{n}"),
            scim_id: None,
            external_id: Some(format!("x{n}")),
        }
    }

    #[test]
    fn a_batch_of_announcements_is_one_message_named_after_its_first() {
        assert_eq!(UsersProvisioned::of(Vec::new()), None);
        let one = UsersProvisioned::of(vec![announcement(1, 5)]).expect("one");
        assert_eq!(one.event_id, "e1:user_provisioned");
        let batch = UsersProvisioned::of(vec![
            announcement(1, 5),
            announcement(2, 9),
            announcement(3, 7),
        ])
        .expect("three");
        assert_eq!(batch.event_id, "e1:user_provisioned+2");
        assert_eq!(batch.timestamp, announcement(2, 9).timestamp);
        let msg = QueueMessage::UsersProvisionedV1(batch.clone());
        let bytes = msg.to_bytes();
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.contains(r#""kind":"users_provisioned.v1""#), "{text}");
        let back = QueueMessage::from_bytes(&bytes).expect("decode");
        assert_eq!(back, msg);
        assert_eq!(back.event_id(), "e1:user_provisioned+2");
        assert_eq!(back.timestamp(), batch.timestamp);
    }

    /// The kinds `from_bytes` matches are the ones serde writes: the one-user shape too (the
    /// other two round-trip above).
    #[test]
    fn the_one_user_announcement_still_decodes() {
        let msg = QueueMessage::UserProvisionedV1(announcement(4, 0));
        let bytes = msg.to_bytes();
        assert!(String::from_utf8_lossy(&bytes).contains(r#""kind":"user_provisioned.v1""#));
        assert_eq!(QueueMessage::from_bytes(&bytes).expect("decode"), msg);
    }

    #[test]
    fn scim_door_changes_round_trip_and_adapt() {
        use crate::change::{ChangeAction, ChangeMeta, Door, Tenant};
        let change = MemberChange {
            meta: ChangeMeta {
                door: Door::Scim,
                event_id: "scim-7".into(),
                event_type: "scim.member.delete".into(),
                timestamp: DateTime::from_timestamp(1_767_225_600, 5_000).expect("time"),
                received_at: DateTime::from_timestamp(1_767_225_601, 0).expect("time"),
            },
            tenant: Tenant::Company("c".into()),
            member_id: Some("scim:u-7".into()),
            action: ChangeAction::Delete,
            provisioning: true,
            member: None,
        };
        let msg = QueueMessage::MemberChangeV1(Box::new(change.clone()));
        let bytes = msg.to_bytes();
        assert!(String::from_utf8_lossy(&bytes).contains(r#""kind":"member_change.v1""#));
        let back = QueueMessage::from_bytes(&bytes).expect("decode");
        assert_eq!(back, msg);
        assert_eq!(back.event_id(), "scim-7");
        assert!(matches!(back.change(), Some(Ok(Change::Member(c))) if *c == change));
    }

    #[test]
    fn unknown_versions_are_refused() {
        assert!(QueueMessage::from_bytes(br#"{"kind":"stytch_webhook.v99"}"#).is_err());
    }
}
