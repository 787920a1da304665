//! Which events ingest may publish: known event types, and those a worker can apply.
//!
//! The routing key is the event type, `source.object_type.action`, all three written by the
//! sender. The source must be one a webhook has (SPEC §5: SCIM, DIRECT, DASHBOARD), and object
//! type and action may hold only `[a-z0-9_]` once lower-cased: no dot to add a segment, no
//! wildcard, no look-alike letter, no space for `is_member` and the key to read differently.
//! So every key ingest publishes has three segments and starts with a webhook source, outside
//! the internal namespace the services publish on ([`INTERNAL_SOURCE`]).
//!
//! A member event names its member (R1 matches on it) and asks for CREATE, UPDATE or DELETE;
//! a group event asks for something group-resolver understands ([`GroupAction`]). Anything
//! else would be answered 202 and then dead-lettered, or worse applied as something it is not,
//! so ingest refuses it with the field's name instead.

use crate::change::SCIM_MEMBER_PREFIX;
use crate::idp_group::GroupAction;
use crate::stytch::{Action, Envelope, Member, SchemaError};
#[cfg(doc)]
use crate::topology::INTERNAL_SOURCE;
use crate::topology::WEBHOOK_SOURCES;

/// The longest object type or action: Stytch's are a few words; with the longest source the
/// routing key stays far below AMQP's 255 bytes.
pub const MAX_TYPE_PART_BYTES: usize = 64;

impl Envelope {
    /// Refuses an event whose type is not a webhook's, or that no worker could apply.
    /// `member` is this envelope's [`Envelope::member`], already parsed.
    pub fn check_publishable(&self, member: Option<&Member>) -> Result<(), SchemaError> {
        self.check_event_type()?;
        if self.is_member() {
            if let Action::Other(_) = self.action() {
                return Err(refusal(
                    "action",
                    format!(
                        "{:?} is not a member action; expected CREATE, UPDATE or DELETE",
                        self.action
                    ),
                ));
            }
            let named = self.id.is_some() || member.is_some_and(|m| m.member_id.is_some());
            if !named {
                return Err(refusal(
                    "id",
                    "a member event must name its member (`id` or `member.member_id`)",
                ));
            }
            let ids = [
                ("id", self.id.as_deref()),
                (
                    "member.member_id",
                    member.and_then(|m| m.member_id.as_deref()),
                ),
            ];
            if let Some((path, _)) = ids.iter().find(|(_, id)| id.is_some_and(reserved)) {
                return Err(reserved_refusal(path));
            }
        }
        if self.is_idp_group() {
            let member = self.rest.get("idp_group").and_then(|g| g.get("member_id"));
            if member
                .and_then(serde_json::Value::as_str)
                .is_some_and(reserved)
            {
                return Err(reserved_refusal("idp_group.member_id"));
            }
        }
        if self.is_idp_group() && GroupAction::parse(&self.action).is_none() {
            return Err(refusal(
                "action",
                format!(
                    "{:?} is not a group action; expected CREATE, UPDATE, DELETE, MEMBER_ADD or \
                     MEMBER_DELETE",
                    self.action
                ),
            ));
        }
        Ok(())
    }

    fn check_event_type(&self) -> Result<(), SchemaError> {
        let source = self.source.to_ascii_lowercase();
        if !WEBHOOK_SOURCES.contains(&source.as_str()) {
            return Err(refusal(
                "source",
                format!(
                    "{:?} is not a webhook source; expected SCIM, DIRECT or DASHBOARD",
                    self.source
                ),
            ));
        }
        for (path, value) in [("object_type", &self.object_type), ("action", &self.action)] {
            let plain = value
                .bytes()
                .all(|b| matches!(b.to_ascii_lowercase(), b'a'..=b'z' | b'0'..=b'9' | b'_'));
            if !plain || value.len() > MAX_TYPE_PART_BYTES {
                return Err(refusal(
                    path,
                    format!(
                        "{value:?}: at most {MAX_TYPE_PART_BYTES} letters, digits and '_' \
                         (it becomes part of the routing key)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn refusal(path: &str, message: impl Into<String>) -> SchemaError {
    SchemaError::Field {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Member keys of the SCIM door (`scim:<id>`) are the workers' own namespace: a Stytch member
/// id may not enter it, or a webhook could name a SCIM-door member.
fn reserved(member_id: &str) -> bool {
    member_id.starts_with(SCIM_MEMBER_PREFIX)
}

fn reserved_refusal(path: &str) -> SchemaError {
    refusal(
        path,
        format!("member ids starting {SCIM_MEMBER_PREFIX:?} are reserved for the SCIM door"),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::Envelope;

    fn event(object_type: &str, action: &str, entity: Value) -> Value {
        let mut body = json!({
            "event_id": "e-1", "action": action, "object_type": object_type, "source": "SCIM",
            "id": "x-1", "timestamp": "2026-01-01T00:00:00.000000Z"
        });
        body[object_type] = entity;
        body
    }

    /// The field a body is refused for, or `None` when it may be published.
    fn refused(body: Value) -> Option<String> {
        let envelope = Envelope::from_value(body).expect("a valid envelope");
        let member = envelope.member().expect("a valid member");
        envelope
            .check_publishable(member.as_ref())
            .err()
            .map(|e| e.path().unwrap_or("?").to_owned())
    }

    #[test]
    fn member_ids_of_the_scim_door_cannot_come_through_a_webhook() {
        let mut member = event("member", "UPDATE", json!({"organization_id": "o"}));
        member["id"] = json!("scim:0190-0000");
        assert_eq!(refused(member.clone()).as_deref(), Some("id"));
        member["id"] = json!("member-1");
        member["member"]["member_id"] = json!("scim:x");
        assert_eq!(refused(member).as_deref(), Some("member.member_id"));
        let group = event(
            "idp_group",
            "MEMBER_ADD",
            json!({"group_id": "g", "organization_id": "o", "member_id": "scim:x"}),
        );
        assert_eq!(refused(group).as_deref(), Some("idp_group.member_id"));
        let fine = event(
            "idp_group",
            "MEMBER_ADD",
            json!({"group_id": "g", "organization_id": "o", "member_id": "member-scim:x"}),
        );
        assert_eq!(refused(fine), None);
    }

    #[test]
    fn only_webhook_sources_and_plain_words_make_an_event_type() {
        let plain = || event("organization", "UPDATE", json!({}));
        assert_eq!(refused(plain()), None);
        let cases = [
            ("source", "Dashboard", None),
            ("source", "direct", None),
            ("source", "internal", Some("source")),
            ("source", " SCIM", Some("source")),
            ("source", "scim.x", Some("source")),
            ("object_type", "Org_Unit_2", None),
            ("object_type", "org.unit", Some("object_type")),
            ("object_type", "org unit", Some("object_type")),
            ("object_type", "\u{212a}ey", Some("object_type")),
            ("action", "MEMBER_ADD", None),
            ("action", "member-add", Some("action")),
            ("action", "#", Some("action")),
        ];
        for (field, value, expected) in cases {
            let mut body = plain();
            body[field] = json!(value);
            assert_eq!(refused(body).as_deref(), expected, "{field}: {value:?}");
        }
        let mut long = plain();
        long["action"] = json!("a".repeat(super::MAX_TYPE_PART_BYTES + 1));
        assert_eq!(refused(long).as_deref(), Some("action"));
    }

    /// Whatever key an internal binding listens on, a webhook spelling it is refused.
    #[test]
    fn no_webhook_reaches_an_internal_binding() {
        let internal = crate::topology::WORK_QUEUES
            .iter()
            .flat_map(|q| q.bindings)
            .filter(|b| b.starts_with(&format!("{}.", crate::topology::INTERNAL_SOURCE)));
        let mut seen = 0;
        for binding in internal {
            let parts: Vec<&str> = binding.split('.').collect();
            let mut body = event(parts[1], parts[2], json!({}));
            body["source"] = json!(parts[0]);
            assert_eq!(refused(body).as_deref(), Some("source"), "{binding}");
            seen += 1;
        }
        assert!(seen > 0, "the internal key is bound somewhere");
    }

    #[test]
    fn member_events_need_a_known_action_and_a_member_id() {
        let member = || json!({"member_id": "m-1", "organization_id": "org"});
        for action in ["CREATE", "update", "Delete"] {
            assert_eq!(refused(event("member", action, member())), None, "{action}");
        }
        for action in ["PROVISION", "MEMBER_ADD", "CREATED"] {
            let refusal = refused(event("member", action, member()));
            assert_eq!(refusal.as_deref(), Some("action"), "{action}");
        }
        let mut only_in_body = event("member", "CREATE", member());
        only_in_body.as_object_mut().expect("object").remove("id");
        assert_eq!(refused(only_in_body.clone()), None);
        only_in_body["member"]["member_id"] = json!("");
        assert_eq!(refused(only_in_body).as_deref(), Some("id"));
    }

    #[test]
    fn group_events_need_an_action_group_resolver_understands() {
        let group = || json!({"group_id": "g-1", "organization_id": "org", "member_id": "m"});
        for action in [
            "CREATE",
            "DELETE",
            "MEMBER_ADD",
            "member_delete",
            "MEMBER_REMOVED",
        ] {
            assert_eq!(
                refused(event("idp_group", action, group())),
                None,
                "{action}"
            );
        }
        for action in ["EXPLODE", "UPSERT", "MEMBER"] {
            let refusal = refused(event("idp_group", action, group()));
            assert_eq!(refusal.as_deref(), Some("action"), "{action}");
        }
        // Other object types are not ours to judge: logged or kept unrouted.
        assert_eq!(refused(event("organization", "RENAME", json!({}))), None);
    }
}
