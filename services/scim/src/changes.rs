//! What a write tells the workers (SPEC §1, §7): the SCIM door's adapter into the source-neutral
//! changes of the schema crate, written to the outbox in the write's transaction.
//!
//! - A user: a `MemberChange` with the full state the workers fold (R5/R6), keyed
//!   `scim:<SCIM id>`; created, updated (also `active: false`, R9b) or deleted (R9a).
//! - A group: a `GroupChange` when it is created or renamed (upsert), deleted, and one per
//!   member added or removed.
//!
//! Each carries a fresh event id and, as its timestamp, the resource's new `lastModified`,
//! which grows strictly per resource: the workers order a resource's changes by it (R17).

use chrono::{DateTime, Utc};
use scimsync_schema::change::{
    scim_member_key, ChangeAction, ChangeMeta, Door, GroupChange, GroupChangeAction, MemberChange,
    Tenant,
};
use scimsync_schema::QueueMessage;
use serde_json::Value;
use uuid::Uuid;

use crate::mapping;
use crate::outbox::Pending;

/// The routing key (and event type) of each change the SCIM door sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    MemberCreate,
    MemberUpdate,
    MemberDelete,
    GroupCreate,
    GroupUpdate,
    GroupDelete,
    GroupMemberAdd,
    GroupMemberDelete,
}

impl EventType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MemberCreate => "scim.member.create",
            Self::MemberUpdate => "scim.member.update",
            Self::MemberDelete => "scim.member.delete",
            Self::GroupCreate => "scim.idp_group.create",
            Self::GroupUpdate => "scim.idp_group.update",
            Self::GroupDelete => "scim.idp_group.delete",
            Self::GroupMemberAdd => "scim.idp_group.member_add",
            Self::GroupMemberDelete => "scim.idp_group.member_delete",
        }
    }
}

fn meta(event_type: EventType, timestamp: DateTime<Utc>) -> ChangeMeta {
    ChangeMeta {
        door: Door::Scim,
        event_id: format!("scim-{}", Uuid::now_v7()),
        event_type: event_type.as_str().to_owned(),
        timestamp,
        received_at: Utc::now(),
    }
}

/// A user created, updated or deleted; `resource` is its stored state (none for a delete).
pub fn member(
    company_id: Uuid,
    user_id: Uuid,
    action: ChangeAction,
    timestamp: DateTime<Utc>,
    resource: Option<&Value>,
) -> Pending {
    let event_type = match action {
        ChangeAction::Create => EventType::MemberCreate,
        ChangeAction::Update => EventType::MemberUpdate,
        ChangeAction::Delete => EventType::MemberDelete,
    };
    let id = user_id.to_string();
    let change = MemberChange {
        meta: meta(event_type, timestamp),
        tenant: Tenant::Company(company_id.to_string()),
        member_id: Some(scim_member_key(&id)),
        action,
        provisioning: true,
        member: resource.map(|r| mapping::member(&id, r)),
    };
    Pending {
        routing_key: event_type.as_str().to_owned(),
        message: QueueMessage::MemberChangeV1(Box::new(change)),
    }
}

/// What happened to a group in one write.
#[derive(Debug, Clone, Default)]
pub struct GroupWrite {
    /// Created (`Some(true)`), renamed (`Some(false)`), neither (`None`).
    pub upsert: Option<bool>,
    pub deleted: bool,
    pub added: Vec<Uuid>,
    pub removed: Vec<Uuid>,
}

/// The group changes of one write, in the order the workers would want them: the group, then
/// its members.
pub fn group(
    company_id: Uuid,
    group_id: Uuid,
    name: &str,
    timestamp: DateTime<Utc>,
    write: &GroupWrite,
) -> Vec<Pending> {
    let one = |event_type: EventType, action: GroupChangeAction, member: Option<Uuid>| {
        let change = GroupChange {
            meta: meta(event_type, timestamp),
            tenant: Tenant::Company(company_id.to_string()),
            action,
            group_id: group_id.to_string(),
            group_name: Some(name.to_owned()),
            member_id: member.map(|m| scim_member_key(&m.to_string())),
        };
        Pending {
            routing_key: event_type.as_str().to_owned(),
            message: QueueMessage::GroupChangeV1(Box::new(change)),
        }
    };
    let mut out = Vec::new();
    match write.upsert {
        Some(true) => out.push(one(EventType::GroupCreate, GroupChangeAction::Upsert, None)),
        Some(false) => out.push(one(EventType::GroupUpdate, GroupChangeAction::Upsert, None)),
        None => {}
    }
    for user in &write.added {
        out.push(one(
            EventType::GroupMemberAdd,
            GroupChangeAction::MemberAdd,
            Some(*user),
        ));
    }
    for user in &write.removed {
        out.push(one(
            EventType::GroupMemberDelete,
            GroupChangeAction::MemberRemove,
            Some(*user),
        ));
    }
    if write.deleted {
        out.push(one(EventType::GroupDelete, GroupChangeAction::Delete, None));
    }
    out
}
