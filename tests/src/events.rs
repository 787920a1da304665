//! Stytch webhook bodies for tests, shaped like SPEC §5.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::app::stytch_time;

/// A fixed origin for event timestamps, so tests control ordering exactly.
pub fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600, 0)
        .single()
        .unwrap_or_default()
        + Duration::seconds(seconds)
}

/// A full-state SCIM member create/update.
pub fn member(action: &str, org: &str, member_id: &str, email: &str, at: DateTime<Utc>) -> Value {
    json!({
        "project_id": "project-test",
        "event_id": format!("event-{}", Uuid::new_v4()),
        "action": action,
        "object_type": "member",
        "source": "SCIM",
        "id": member_id,
        "timestamp": stytch_time(at),
        "vertical": "B2B",
        "member": {
            "organization_id": org,
            "member_id": member_id,
            "email_address": email,
            "status": "active",
            "name": "",
            "scim_registration": {
                "connection_id": "scim-connection-test",
                "scim_attributes": {
                    "user_name": email,
                    "active": true,
                    "name": {"given_name": "Ada", "family_name": "Lovelace"}
                }
            }
        }
    })
}

pub fn create(org: &str, member_id: &str, email: &str, at: DateTime<Utc>) -> Value {
    member("CREATE", org, member_id, email, at)
}

pub fn update(org: &str, member_id: &str, email: &str, at: DateTime<Utc>) -> Value {
    member("UPDATE", org, member_id, email, at)
}

/// A deprovisioning: no body, only the member id.
pub fn delete(member_id: &str, at: DateTime<Utc>) -> Value {
    json!({
        "project_id": "project-test",
        "event_id": format!("event-{}", Uuid::new_v4()),
        "action": "DELETE",
        "object_type": "member",
        "source": "SCIM",
        "id": member_id,
        "timestamp": stytch_time(at),
        "vertical": "B2B"
    })
}

/// Sets a value at a dotted path (`member.scim_registration.scim_attributes.title`), creating
/// objects on the way.
pub fn set(body: &mut Value, path: &str, value: Value) {
    let mut node = body;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !node[*part].is_object() {
            node[*part] = json!({});
        }
        node = &mut node[*part];
    }
    node[parts[parts.len() - 1]] = value;
}

/// Shorthand for a SCIM attribute path.
pub fn set_scim(body: &mut Value, attribute: &str, value: Value) {
    set(
        body,
        &format!("member.scim_registration.scim_attributes.{attribute}"),
        value,
    );
}

pub fn event_id(body: &Value) -> String {
    body["event_id"].as_str().unwrap_or_default().to_owned()
}

/// A `scim.idp_group.*` event in the shape we expect from Stytch.
pub fn group(
    action: &str,
    org: &str,
    group_id: &str,
    name: &str,
    member_id: Option<&str>,
    at: DateTime<Utc>,
) -> Value {
    let mut body = json!({"group_id": group_id, "group_name": name, "organization_id": org, "connection_id": "scim-connection-test"});
    if let Some(member_id) = member_id {
        body["member_id"] = json!(member_id);
    }
    json!({
        "project_id": "project-test",
        "event_id": format!("event-{}", Uuid::new_v4()),
        "action": action,
        "object_type": "idp_group",
        "source": "SCIM",
        "id": group_id,
        "timestamp": stytch_time(at),
        "idp_group": body
    })
}

/// A member create with its full-state group list.
pub fn with_groups(mut event: Value, groups: &[(&str, &str)]) -> Value {
    let list: Vec<Value> = groups
        .iter()
        .map(|(id, name)| json!({"value": id, "display": name}))
        .collect();
    set_scim(&mut event, "groups", Value::Array(list));
    event
}

/// Sets the manager value (`enterprise_extension.manager.value`).
pub fn with_manager(mut event: Value, manager: &str) -> Value {
    set_scim(
        &mut event,
        "enterprise_extension",
        json!({"manager": {"value": manager}}),
    );
    event
}
