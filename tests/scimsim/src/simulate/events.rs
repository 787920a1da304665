//! Stytch webhook bodies (SPEC §5) as an identity provider's changes arrive through Stytch:
//! full-state member events, member deletes without a body, and `idp_group` events.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::org::{Attrs, GroupDef};

const PROJECT: &str = "project-sim";
const CONNECTION: &str = "scim-connection-sim";

/// Microsecond ISO-8601, as Stytch writes timestamps.
pub fn stytch_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Everything a full-state member event says about one member.
pub struct MemberView<'a> {
    pub organization_id: &'a str,
    pub member_id: &'a str,
    pub external_id: &'a str,
    pub email: &'a str,
    pub attrs: &'a Attrs,
    pub active: bool,
    /// The manager's member id, as Stytch relays `enterprise_extension.manager.value`.
    pub manager: Option<&'a str>,
    pub groups: Vec<&'a GroupDef>,
}

/// `scim.member.create` / `scim.member.update`: the member's whole state.
pub fn member(event_id: &str, action: &str, at: DateTime<Utc>, m: &MemberView<'_>) -> Value {
    let a = m.attrs;
    let display = format!("{} {}", a.given, a.family);
    let mut phones = vec![
        json!({"value": a.work_phone, "type": "work", "primary": true}),
        json!({"value": a.mobile_phone, "type": "mobile", "primary": false}),
    ];
    if let Some(fax) = &a.fax {
        phones.push(json!({"value": fax, "type": "fax", "primary": false}));
    }
    let mut enterprise = json!({
        "employee_number": a.employee_number,
        "department": a.department,
        "division": a.division,
        "cost_center": format!("CC-{}", a.department.len() * 100),
        "organization": m.organization_id,
    });
    if let Some(manager) = m.manager {
        enterprise["manager"] = json!({ "value": manager });
    }
    let groups: Vec<Value> = m
        .groups
        .iter()
        .map(|g| json!({"value": g.id, "display": g.name}))
        .collect();
    json!({
        "project_id": PROJECT,
        "event_id": event_id,
        "action": action,
        "object_type": "member",
        "source": "SCIM",
        "id": m.member_id,
        "timestamp": stytch_time(at),
        "vertical": "B2B",
        "member": {
            "organization_id": m.organization_id,
            "member_id": m.member_id,
            "email_address": m.email,
            "status": if m.active { "active" } else { "inactive" },
            "name": display,
            "scim_registration": {
                "connection_id": CONNECTION,
                "registration_id": format!("scim-registration-{}", m.member_id),
                "external_id": m.external_id,
                "scim_attributes": {
                    "user_name": m.email,
                    "id": format!("scim-{}", m.member_id),
                    "external_id": m.external_id,
                    "active": m.active,
                    "display_name": display,
                    "title": a.title,
                    "name": {"given_name": a.given, "family_name": a.family, "formatted": display},
                    "emails": [{"value": m.email, "type": "work", "primary": true}],
                    "phone_numbers": phones,
                    "addresses": [{
                        "formatted": format!("{}, {} {}, {}", a.street, a.city, a.postal_code, a.country),
                        "street_address": a.street,
                        "locality": a.city,
                        "region": a.region,
                        "postal_code": a.postal_code,
                        "country": a.country,
                        "type": "work",
                        "primary": true
                    }],
                    "groups": groups,
                    "enterprise_extension": enterprise
                }
            }
        }
    })
}

/// `scim.member.delete`: deprovisioned; no body, only the member id.
pub fn member_delete(event_id: &str, at: DateTime<Utc>, member_id: &str) -> Value {
    json!({
        "project_id": PROJECT,
        "event_id": event_id,
        "action": "DELETE",
        "object_type": "member",
        "source": "SCIM",
        "id": member_id,
        "timestamp": stytch_time(at),
        "vertical": "B2B"
    })
}

/// `scim.idp_group.{create,delete,member_add,member_delete}`.
pub fn group(
    event_id: &str,
    action: &str,
    at: DateTime<Utc>,
    organization_id: &str,
    g: &GroupDef,
    member_id: Option<&str>,
) -> Value {
    let mut body = json!({
        "group_id": g.id,
        "group_name": g.name,
        "organization_id": organization_id,
        "connection_id": CONNECTION,
    });
    if let Some(member_id) = member_id {
        body["member_id"] = json!(member_id);
    }
    json!({
        "project_id": PROJECT,
        "event_id": event_id,
        "action": action,
        "object_type": "idp_group",
        "source": "SCIM",
        "id": g.id,
        "timestamp": stytch_time(at),
        "vertical": "B2B",
        "idp_group": body
    })
}
