//! One change type, two doors (SPEC §1). The workers apply source-neutral member and group
//! changes; a Stytch webhook ([`crate::StytchWebhook`]) and a write to the SCIM service are two
//! adapters into them. The workers care which door a change came through only to record it
//! in the event log.
//!
//! A member's attributes travel as a [`Member`]: the Stytch member body is SCIM 2.0's core and
//! enterprise User in snake case, so the SCIM service writes its resources into the same shape
//! and R5/R6 map both alike.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::idp_group::GroupAction;
use crate::stytch::{Action, Member};
use crate::{Envelope, SchemaError, StytchWebhook};

/// The door a change came in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Door {
    /// A Stytch webhook, signed by Svix, received by ingest.
    Stytch,
    /// A write to the SCIM service, relayed from its outbox.
    Scim,
}

impl Door {
    /// The door a member key belongs to.
    pub fn of_member(member_key: &str) -> Self {
        if member_key.starts_with(SCIM_MEMBER_PREFIX) {
            Self::Scim
        } else {
            Self::Stytch
        }
    }

    /// As the event log writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stytch => "stytch",
            Self::Scim => "scim",
        }
    }
}

/// The prefix of a SCIM-door member key: the member is known by the SCIM id the SCIM service
/// assigned, and `scim:<id>` can never be a Stytch member id (ingest refuses those).
pub const SCIM_MEMBER_PREFIX: &str = "scim:";

/// The member key of a SCIM-door user.
pub fn scim_member_key(scim_id: &str) -> String {
    format!("{SCIM_MEMBER_PREFIX}{scim_id}")
}

/// The Stytch member id a member key is, if it is one (a SCIM-door key is not).
pub fn stytch_member_id(member_key: &str) -> Option<&str> {
    (!member_key.starts_with(SCIM_MEMBER_PREFIX)).then_some(member_key)
}

impl ChangeAction {
    /// As the stored events write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }
}

/// Which company a change belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "id")]
pub enum Tenant {
    /// The company registered with this Stytch organisation id (R2).
    Organization(String),
    /// The company with this id: the SCIM door knows it from the bearer token.
    Company(String),
    /// The change names none (a Stytch DELETE carries no body): it belongs to the companies
    /// that hold its member.
    Unnamed,
}

/// What every change carries, whichever door it came through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeMeta {
    pub door: Door,
    /// The idempotency key, unique within its company.
    pub event_id: String,
    /// `scim.member.create` and friends: the routing key, and what the event log shows.
    pub event_type: String,
    /// The change's version: the ordering key for R17 (the Stytch event timestamp; for the SCIM
    /// door, the resource's last modification, strictly increasing per resource).
    pub timestamp: DateTime<Utc>,
    /// When the door accepted it.
    pub received_at: DateTime<Utc>,
}

/// A member created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberChange {
    pub meta: ChangeMeta,
    pub tenant: Tenant,
    /// The member key: a Stytch member id, or `scim:<SCIM id>` ([`scim_member_key`]).
    pub member_id: Option<String>,
    pub action: ChangeAction,
    /// Whether the change provisions: SCIM changes do; Stytch's DIRECT and DASHBOARD member
    /// events are logged and otherwise ignored (SPEC §5).
    pub provisioning: bool,
    /// Full state for a create or update; none for a delete.
    pub member: Option<Member>,
}

/// What a member change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Create,
    Update,
    Delete,
}

impl ChangeAction {
    pub fn as_action(self) -> Action {
        match self {
            Self::Create => Action::Create,
            Self::Update => Action::Update,
            Self::Delete => Action::Delete,
        }
    }
}

/// A group created, renamed or deleted, or a member added to or removed from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupChange {
    pub meta: ChangeMeta,
    pub tenant: Tenant,
    pub action: GroupChangeAction,
    /// The group's id at the IdP (Stytch), or the SCIM id the SCIM service assigned.
    pub group_id: String,
    pub group_name: Option<String>,
    /// The member key, for a membership change.
    pub member_id: Option<String>,
}

/// What a group change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupChangeAction {
    Upsert,
    Delete,
    MemberAdd,
    MemberRemove,
}

impl From<&GroupAction> for GroupChangeAction {
    fn from(action: &GroupAction) -> Self {
        match action {
            GroupAction::Upsert => Self::Upsert,
            GroupAction::Delete => Self::Delete,
            GroupAction::MemberAdd => Self::MemberAdd,
            GroupAction::MemberRemove => Self::MemberRemove,
        }
    }
}

/// A queue message as the workers see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Member(Box<MemberChange>),
    Group(Box<GroupChange>),
    /// A group event whose body cannot be understood (SPEC §5 keeps group bodies lenient):
    /// logged with the reason and the raw body, not dead-lettered.
    UnparseableGroup {
        meta: ChangeMeta,
        organization_id: Option<String>,
        reason: String,
        raw: String,
    },
    /// An event no worker acts on (an organisation update, ...).
    Other(ChangeMeta),
}

impl Change {
    /// What the change carries whatever its kind.
    pub fn meta(&self) -> &ChangeMeta {
        match self {
            Self::Member(m) => &m.meta,
            Self::Group(g) => &g.meta,
            Self::UnparseableGroup { meta, .. } | Self::Other(meta) => meta,
        }
    }
}

impl StytchWebhook {
    fn meta(&self) -> ChangeMeta {
        ChangeMeta {
            door: Door::Stytch,
            event_id: self.event_id.clone(),
            event_type: self.event_type.clone(),
            timestamp: self.timestamp,
            received_at: self.received_at,
        }
    }

    /// The Stytch adapter: this webhook as a change (the envelope validated again: the queue
    /// is a trust boundary too).
    pub fn change(&self) -> Result<Change, SchemaError> {
        let envelope = self.envelope()?;
        let meta = self.meta();
        if envelope.is_member() {
            let action = match envelope.action() {
                Action::Create => ChangeAction::Create,
                Action::Update => ChangeAction::Update,
                Action::Delete => ChangeAction::Delete,
                Action::Other(other) => {
                    return Err(SchemaError::Field {
                        path: "action".into(),
                        message: format!("{other:?} is not CREATE, UPDATE or DELETE"),
                    })
                }
            };
            let member = envelope.member()?;
            let tenant = match member.as_ref().and_then(|m| m.organization_id.clone()) {
                Some(org) => Tenant::Organization(org),
                None => Tenant::Unnamed,
            };
            return Ok(Change::Member(Box::new(MemberChange {
                meta,
                tenant,
                member_id: envelope.member_id(),
                action,
                provisioning: envelope.is_scim(),
                member,
            })));
        }
        if envelope.is_idp_group() {
            return Ok(group_change(&envelope, meta));
        }
        Ok(Change::Other(meta))
    }
}

fn group_change(envelope: &Envelope, meta: ChangeMeta) -> Change {
    match envelope.group_event() {
        Ok(event) => Change::Group(Box::new(GroupChange {
            meta,
            tenant: Tenant::Organization(event.organization_id),
            action: GroupChangeAction::from(&event.action),
            group_id: event.group_id,
            group_name: event.group_name,
            member_id: event.member_id,
        })),
        Err(reason) => Change::UnparseableGroup {
            meta,
            organization_id: envelope
                .rest
                .get("idp_group")
                .and_then(|g| g.get("organization_id"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            reason,
            raw: serde_json::to_string(envelope).unwrap_or_default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn webhook(body: serde_json::Value) -> StytchWebhook {
        let raw = serde_json::value::to_raw_value(&body).expect("raw");
        let envelope = Envelope::parse(raw.get().as_bytes()).expect("envelope");
        StytchWebhook::new("msg_1".into(), &envelope, raw, Utc::now())
    }

    #[test]
    fn a_member_webhook_is_a_member_change_of_its_organisation() {
        let w = webhook(json!({
            "event_id": "e1", "action": "UPDATE", "object_type": "member", "source": "SCIM",
            "id": "member-1", "timestamp": "2026-01-01T00:00:00.000000Z",
            "member": {"organization_id": "org-1", "email_address": "a@example.com"}
        }));
        let Ok(Change::Member(change)) = w.change() else {
            panic!("a member change");
        };
        assert_eq!(change.meta.door, Door::Stytch);
        assert_eq!(change.meta.event_type, "scim.member.update");
        assert_eq!(change.tenant, Tenant::Organization("org-1".into()));
        assert_eq!(change.member_id.as_deref(), Some("member-1"));
        assert_eq!(change.action, ChangeAction::Update);
        assert!(change.provisioning);
    }

    #[test]
    fn a_delete_names_no_tenant() {
        let w = webhook(json!({
            "event_id": "e2", "action": "DELETE", "object_type": "member", "source": "SCIM",
            "id": "member-1", "timestamp": "2026-01-01T00:00:00.000000Z"
        }));
        let Ok(Change::Member(change)) = w.change() else {
            panic!("a member change");
        };
        assert_eq!(change.tenant, Tenant::Unnamed);
        assert_eq!(change.action, ChangeAction::Delete);
        assert!(change.member.is_none());
    }

    #[test]
    fn group_webhooks_are_group_changes_or_say_why_not() {
        let w = webhook(json!({
            "event_id": "e3", "action": "MEMBER_ADD", "object_type": "idp_group", "source": "SCIM",
            "id": "g-1", "timestamp": "2026-01-01T00:00:00.000000Z",
            "idp_group": {"group_id": "g-1", "organization_id": "org-1", "member_id": "member-1"}
        }));
        let Ok(Change::Group(change)) = w.change() else {
            panic!("a group change");
        };
        assert_eq!(change.action, GroupChangeAction::MemberAdd);
        assert_eq!(change.member_id.as_deref(), Some("member-1"));
        assert_eq!(change.tenant, Tenant::Organization("org-1".into()));
        let w = webhook(json!({
            "event_id": "e4", "action": "CREATE", "object_type": "idp_group", "source": "SCIM",
            "timestamp": "2026-01-01T00:00:00.000000Z", "idp_group": {"group_id": "g-1"}
        }));
        let Ok(Change::UnparseableGroup { reason, .. }) = w.change() else {
            panic!("unparseable");
        };
        assert!(reason.contains("organization"), "{reason}");
    }

    #[test]
    fn a_scim_change_round_trips_as_json() {
        let change = MemberChange {
            meta: ChangeMeta {
                door: Door::Scim,
                event_id: "scim-1".into(),
                event_type: "scim.member.create".into(),
                timestamp: Utc::now(),
                received_at: Utc::now(),
            },
            tenant: Tenant::Company("7f1c7c44-53c5-4a51-9d8b-9a1f1f4c2a10".into()),
            member_id: Some(scim_member_key("u-1")),
            action: ChangeAction::Create,
            provisioning: true,
            member: Some(Member {
                email_address: Some("a@example.com".into()),
                ..Member::default()
            }),
        };
        let text = serde_json::to_string(&change).expect("json");
        assert!(text.contains(r#""tenant":{"by":"company","#), "{text}");
        let back: MemberChange = serde_json::from_str(&text).expect("back");
        assert_eq!(back, change);
    }
}
