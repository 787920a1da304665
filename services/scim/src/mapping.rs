//! A SCIM User resource as the product's member (SPEC §7, R5/R6 with SCIM names): the workers
//! apply the SCIM door's changes with the same rules as Stytch's, so the resource is written
//! into the member shape they fold.
//!
//! - email: the `work` email, then the primary one, then the first, then `userName` if it is an
//!   address;
//! - names: `name.givenName` / `name.familyName`, with `displayName` as the fallback the
//!   workers apply (R5);
//! - address: the `work` one, then the primary, then the first (the workers read the first);
//! - phones, title, active, the enterprise extension's employee number, department, division
//!   and manager (whose value is a SCIM id of this service, or an externalId: R13).

use scimsync_schema::change::scim_member_key;
use scimsync_schema::stytch::{
    Address, EnterpriseExtension, ManagerRef, Member, MultiValue, ScimAttributes, ScimName,
    ScimRegistration,
};
use serde_json::Value;

/// The enterprise User extension's schema URN: its attributes sit under this key.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn field(value: &Value, name: &str) -> Option<String> {
    text(value.get(name))
}

fn flag(value: &Value, name: &str) -> Option<bool> {
    value.get(name).and_then(Value::as_bool)
}

fn items(resource: &Value, name: &str) -> Vec<Value> {
    resource
        .get(name)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn is_type(item: &Value, kind: &str) -> bool {
    field(item, "type").is_some_and(|t| t.eq_ignore_ascii_case(kind))
}

/// The element of a multi-valued attribute to use: the one of `kind`, then the primary, then
/// the first.
fn preferred<'a>(list: &'a [Value], kind: &str) -> Option<&'a Value> {
    list.iter()
        .find(|i| is_type(i, kind))
        .or_else(|| list.iter().find(|i| flag(i, "primary") == Some(true)))
        .or_else(|| list.first())
}

fn multi(item: &Value) -> MultiValue {
    MultiValue {
        value: field(item, "value"),
        kind: field(item, "type"),
        primary: flag(item, "primary"),
        ..MultiValue::default()
    }
}

fn address(item: &Value) -> Address {
    Address {
        formatted: field(item, "formatted"),
        street_address: field(item, "streetAddress"),
        locality: field(item, "locality"),
        region: field(item, "region"),
        postal_code: field(item, "postalCode"),
        country: field(item, "country"),
        kind: field(item, "type"),
        primary: flag(item, "primary"),
        ..Address::default()
    }
}

/// The email the product keeps for this user, if any.
pub fn email(resource: &Value) -> Option<String> {
    let emails = items(resource, "emails");
    preferred(&emails, "work")
        .and_then(|e| field(e, "value"))
        .or_else(|| field(resource, "userName").filter(|u| u.contains('@')))
}

/// The member a stored User resource (canonical attribute names) is, for the workers.
pub fn member(id: &str, resource: &Value) -> Member {
    let emails: Vec<MultiValue> = items(resource, "emails").iter().map(multi).collect();
    let phones: Vec<MultiValue> = items(resource, "phoneNumbers").iter().map(multi).collect();
    let mut addresses = items(resource, "addresses");
    // The workers take the first address (R5): put the chosen one first.
    if let Some(chosen) = preferred(&addresses, "work").cloned() {
        addresses.retain(|a| *a != chosen);
        addresses.insert(0, chosen);
    }
    let name = resource.get("name").map(|n| ScimName {
        formatted: field(n, "formatted"),
        family_name: field(n, "familyName"),
        given_name: field(n, "givenName"),
        middle_name: field(n, "middleName"),
        honorific_prefix: field(n, "honorificPrefix"),
        honorific_suffix: field(n, "honorificSuffix"),
        ..ScimName::default()
    });
    let enterprise = resource.get(ENTERPRISE).map(|e| EnterpriseExtension {
        employee_number: field(e, "employeeNumber"),
        cost_center: field(e, "costCenter"),
        division: field(e, "division"),
        department: field(e, "department"),
        organization: field(e, "organization"),
        manager: e.get("manager").and_then(|m| {
            // A bare id or `{value}` (Entra sends both).
            let value = text(Some(m)).or_else(|| field(m, "value"))?;
            Some(ManagerRef {
                value: Some(value),
                ..ManagerRef::default()
            })
        }),
        ..EnterpriseExtension::default()
    });
    let attributes = ScimAttributes {
        user_name: field(resource, "userName"),
        id: Some(id.to_owned()),
        external_id: field(resource, "externalId"),
        active: Some(flag(resource, "active").unwrap_or(true)),
        display_name: field(resource, "displayName"),
        nick_name: field(resource, "nickName"),
        title: field(resource, "title"),
        user_type: field(resource, "userType"),
        preferred_language: field(resource, "preferredLanguage"),
        locale: field(resource, "locale"),
        timezone: field(resource, "timezone"),
        emails,
        phone_numbers: phones,
        addresses: addresses.iter().map(address).collect(),
        name,
        enterprise_extension: enterprise,
        ..ScimAttributes::default()
    };
    Member {
        member_id: Some(scim_member_key(id)),
        email_address: email(resource),
        external_id: field(resource, "externalId"),
        scim_registration: Some(ScimRegistration {
            scim_attributes: Some(attributes),
            ..ScimRegistration::default()
        }),
        ..Member::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entra_user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "Test_User_ab6490ee@contoso.com",
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
            "displayName": "Ada L.",
            "title": "Analyst",
            "emails": [
                {"value": "ada.home@example.org", "type": "home"},
                {"value": "ada@contoso.com", "type": "work", "primary": false}
            ],
            "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
            "addresses": [
                {"type": "home", "locality": "Elsewhere"},
                {"type": "work", "streetAddress": "1 Analytical Way", "locality": "London",
                 "region": "LDN", "postalCode": "N1", "country": "GB"}
            ],
            ENTERPRISE: {
                "employeeNumber": "E-7", "department": "Research", "division": "Engines",
                "manager": {"value": "1f8ec3d2-64b5-4d53-a8a5-0fe4e8f0f3f6"}
            }
        })
    }

    #[test]
    fn a_user_becomes_the_member_the_workers_fold() {
        let m = member("4c7a3f7e-0000-4000-8000-000000000001", &entra_user());
        assert_eq!(
            m.member_id.as_deref(),
            Some("scim:4c7a3f7e-0000-4000-8000-000000000001")
        );
        assert_eq!(m.email_address.as_deref(), Some("ada@contoso.com"));
        assert!(m.organization_id.is_none(), "the tenant travels beside it");
        let s = m.scim().expect("attributes");
        assert_eq!(
            s.id.as_deref(),
            Some("4c7a3f7e-0000-4000-8000-000000000001")
        );
        assert_eq!(
            s.external_id.as_deref(),
            Some("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
        );
        assert_eq!(s.active, Some(true));
        assert_eq!(s.title.as_deref(), Some("Analyst"));
        let name = s.name.as_ref().expect("name");
        assert_eq!(name.given_name.as_deref(), Some("Ada"));
        assert_eq!(name.family_name.as_deref(), Some("Lovelace"));
        assert_eq!(s.addresses[0].locality.as_deref(), Some("London"));
        assert_eq!(s.addresses.len(), 2);
        assert_eq!(s.phone_numbers[0].kind.as_deref(), Some("mobile"));
        let e = s.enterprise_extension.as_ref().expect("enterprise");
        assert_eq!(e.employee_number.as_deref(), Some("E-7"));
        assert_eq!(e.department.as_deref(), Some("Research"));
        assert_eq!(e.division.as_deref(), Some("Engines"));
        assert_eq!(
            s.manager_value(),
            Some("1f8ec3d2-64b5-4d53-a8a5-0fe4e8f0f3f6")
        );
    }

    #[test]
    fn the_email_falls_back_from_work_to_primary_to_first_to_the_user_name() {
        let mut user = json!({"userName": "login@example.com", "emails": [
            {"value": "b@example.com"}, {"value": "p@example.com", "primary": true}]});
        assert_eq!(email(&user).as_deref(), Some("p@example.com"));
        user["emails"] = json!([{"value": "first@example.com", "type": "home"}]);
        assert_eq!(email(&user).as_deref(), Some("first@example.com"));
        user["emails"] = json!([]);
        assert_eq!(email(&user).as_deref(), Some("login@example.com"));
        user["userName"] = json!("not-an-address");
        assert_eq!(email(&user), None);
    }

    #[test]
    fn a_manager_may_be_a_bare_id_and_inactive_users_say_so() {
        let user = json!({"userName": "x@example.com", "active": false,
            ENTERPRISE: {"manager": "m-1"}});
        let m = member("id-1", &user);
        let s = m.scim().expect("attributes");
        assert_eq!(s.manager_value(), Some("m-1"));
        assert_eq!(s.active, Some(false));
    }
}
