//! Which events ingest may publish: those a worker can apply.
//!
//! A member event names its member (R1 matches on it) and asks for CREATE, UPDATE or DELETE;
//! a group event asks for something group-resolver understands ([`GroupAction`]). Anything
//! else would be answered 202 and then dead-lettered, or worse applied as something it is not,
//! so ingest refuses it with the field's name instead.

use crate::idp_group::GroupAction;
use crate::stytch::{Action, Envelope, Member, SchemaError};

impl Envelope {
    /// Refuses an event no worker could apply. `member` is this envelope's
    /// [`Envelope::member`], already parsed.
    pub fn check_publishable(&self, member: Option<&Member>) -> Result<(), SchemaError> {
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
}

fn refusal(path: &str, message: impl Into<String>) -> SchemaError {
    SchemaError::Field {
        path: path.to_owned(),
        message: message.into(),
    }
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
    fn member_events_need_a_known_action_and_a_member_id() {
        let member = || json!({"member_id": "m-1", "organization_id": "org"});
        for action in ["CREATE", "update", " Delete "] {
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
