//! Which company an event belongs to, whatever its kind: what ingest writes into the
//! `x-organization-id` header and what `scimctl dlq --company` selects on.

use serde_json::Value;

use super::Envelope;

impl Envelope {
    /// The Stytch organization id the event names: the entity's `organization_id` (a member's
    /// body, a group's body under `idp_group`, or `group` as group events also accept), else
    /// one at the envelope's top level. `None` when it names none: a member DELETE carries no
    /// body, only the member id.
    pub fn organization_id(&self) -> Option<&str> {
        let entity = self.entity().filter(|v| v.is_object()).or_else(|| {
            self.is_idp_group()
                .then(|| self.rest.get("group"))
                .flatten()
                .filter(|v| v.is_object())
        });
        named(entity.and_then(|e| e.get("organization_id")))
            .or_else(|| named(self.rest.get("organization_id")))
    }
}

/// A string value that is not blank (`""` means unset, as everywhere in the payload).
fn named(value: Option<&Value>) -> Option<&str> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Envelope;

    fn envelope(object_type: &str, action: &str, extra: serde_json::Value) -> Envelope {
        let mut body = json!({
            "event_id": "e", "action": action, "object_type": object_type, "source": "SCIM",
            "id": "x-1", "timestamp": "2026-01-01T00:00:00Z"
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        Envelope::from_value(body).expect("valid")
    }

    #[test]
    fn members_and_groups_name_their_organization() {
        let member = envelope(
            "member",
            "CREATE",
            json!({"member": {"organization_id": "org-m", "email_address": "a@example.com"}}),
        );
        assert_eq!(member.organization_id(), Some("org-m"));
        let group = envelope(
            "idp_group",
            "MEMBER_ADD",
            json!({"idp_group": {"group_id": "g", "organization_id": "org-g", "member_id": "m"}}),
        );
        assert_eq!(group.organization_id(), Some("org-g"));
        let aliased = envelope(
            "idp_group",
            "CREATE",
            json!({"group": {"group_id": "g", "organization_id": "org-a"}}),
        );
        assert_eq!(aliased.organization_id(), Some("org-a"));
        let top_level = envelope(
            "idp_group",
            "DELETE",
            json!({"organization_id": "org-t", "idp_group": {"group_id": "g"}}),
        );
        assert_eq!(top_level.organization_id(), Some("org-t"));
        let other = envelope(
            "organization",
            "UPDATE",
            json!({"organization": {"organization_id": "org-o"}}),
        );
        assert_eq!(other.organization_id(), Some("org-o"));
    }

    #[test]
    fn a_member_delete_or_a_blank_value_names_none() {
        assert_eq!(
            envelope("member", "DELETE", json!({})).organization_id(),
            None
        );
        let blank = envelope(
            "idp_group",
            "CREATE",
            json!({"idp_group": {"group_id": "g", "organization_id": " "}}),
        );
        assert_eq!(blank.organization_id(), None);
    }
}
