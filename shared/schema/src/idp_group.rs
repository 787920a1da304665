//! `scim.idp_group.*` events. Stytch does not publish their body, so parsing is lenient: the
//! group is expected under `idp_group` with `group_id`, `group_name`, `organization_id`,
//! `connection_id` and, on membership events, `member_id`; a few plausible aliases are
//! accepted, and anything unparseable is reported with the raw body rather than guessed at.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::lenient::non_empty;
use crate::stytch::Envelope;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct IdpGroup {
    #[serde(
        default,
        deserialize_with = "non_empty",
        alias = "id",
        alias = "idp_group_id"
    )]
    pub group_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "non_empty",
        alias = "name",
        alias = "display_name",
        alias = "display"
    )]
    pub group_name: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    pub organization_id: Option<String>,
    #[serde(default, deserialize_with = "non_empty")]
    pub connection_id: Option<String>,
    #[serde(default, deserialize_with = "non_empty", alias = "member")]
    pub member_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a group event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupAction {
    Upsert,
    Delete,
    MemberAdd,
    MemberRemove,
}

impl GroupAction {
    pub fn parse(action: &str) -> Option<Self> {
        match action
            .trim()
            .to_ascii_uppercase()
            .replace('-', "_")
            .as_str()
        {
            "CREATE" | "UPDATE" => Some(Self::Upsert),
            "DELETE" => Some(Self::Delete),
            "MEMBER_ADD" | "ADD_MEMBER" | "MEMBER_ADDED" => Some(Self::MemberAdd),
            "MEMBER_DELETE" | "MEMBER_REMOVE" | "REMOVE_MEMBER" | "MEMBER_REMOVED" => {
                Some(Self::MemberRemove)
            }
            _ => None,
        }
    }
}

/// A group event understood well enough to act on.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupEvent {
    pub action: GroupAction,
    pub group_id: String,
    pub group_name: Option<String>,
    pub organization_id: String,
    pub member_id: Option<String>,
}

impl Envelope {
    pub fn is_idp_group(&self) -> bool {
        self.object_type.eq_ignore_ascii_case("idp_group")
    }

    /// The group event, or why it could not be understood.
    pub fn group_event(&self) -> Result<GroupEvent, String> {
        let action = GroupAction::parse(&self.action)
            .ok_or_else(|| format!("unknown group action {:?}", self.action))?;
        let body = self
            .rest
            .get("idp_group")
            .or_else(|| self.rest.get("group"))
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let group: IdpGroup =
            serde_json::from_value(body).map_err(|e| format!("group body: {e}"))?;
        let group_id = group
            .group_id
            .or_else(|| self.id.clone())
            .ok_or_else(|| "no group id (`idp_group.group_id`, `id`)".to_owned())?;
        // Read where ingest reads it for the message's header, so the two never disagree.
        let organization_id = self
            .organization_id()
            .map(str::to_owned)
            .ok_or_else(|| "no organization id (`idp_group.organization_id`)".to_owned())?;
        let member_id = group.member_id.or_else(|| {
            self.rest
                .get("member_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if matches!(action, GroupAction::MemberAdd | GroupAction::MemberRemove)
            && member_id.is_none()
        {
            return Err("a membership event names no member (`idp_group.member_id`)".into());
        }
        Ok(GroupEvent {
            action,
            group_id,
            group_name: group.group_name,
            organization_id,
            member_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(action: &str, body: Value) -> Envelope {
        Envelope::from_value(json!({
            "event_id": "e", "action": action, "object_type": "idp_group", "source": "SCIM",
            "id": "grp-from-envelope", "timestamp": "2026-01-01T00:00:00.000000Z", "idp_group": body
        }))
        .expect("envelope")
    }

    #[test]
    fn reads_the_expected_shape() {
        let e = envelope(
            "MEMBER_ADD",
            json!({"group_id": "g1", "group_name": "Eng", "organization_id": "o", "member_id": "m"}),
        );
        let g = e.group_event().expect("understood");
        assert_eq!(g.action, GroupAction::MemberAdd);
        assert_eq!(
            (
                g.group_id.as_str(),
                g.group_name.as_deref(),
                g.member_id.as_deref()
            ),
            ("g1", Some("Eng"), Some("m"))
        );
    }

    #[test]
    fn falls_back_to_aliases_and_the_envelope_id() {
        let e = envelope(
            "UPDATE",
            json!({"display_name": "Eng", "organization_id": "o"}),
        );
        let g = e.group_event().expect("understood");
        assert_eq!(g.group_id, "grp-from-envelope");
        assert_eq!(g.group_name.as_deref(), Some("Eng"));
    }

    #[test]
    fn says_why_it_cannot_act() {
        let e = envelope(
            "MEMBER_DELETE",
            json!({"group_id": "g1", "organization_id": "o"}),
        );
        assert!(e.group_event().expect_err("no member").contains("member"));
        let e = envelope("EXPLODE", json!({}));
        assert!(e.group_event().expect_err("unknown").contains("EXPLODE"));
        let e = envelope("CREATE", json!({"group_id": "g1"}));
        assert!(e
            .group_event()
            .expect_err("no org")
            .contains("organization"));
    }
}
