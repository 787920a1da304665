//! A POST or PUT body as the resource to store (RFC 7644 §3.3, §3.5.1), read with the same rules
//! as PATCH values (scim-proto): attribute names in any case, dotted or URN-qualified, Entra's
//! `"True"` strings, a bare manager id, duplicate multi-values folded, one `primary`.
//!
//! - `readOnly` attributes (`id`, `meta`, `schemas`, a user's `groups`) are the server's:
//!   whatever the client sends for them is ignored, as the RFC says, so a client may PUT back
//!   what it read.
//! - `password` is never stored (this service does not authenticate users).
//! - Names that are no attribute of the resource type are ignored (an IdP's custom extension
//!   this service does not speak); a value of the wrong type is 400 `invalidValue`.
//! - `userName` (User) and `displayName` (Group) are required: 400 `invalidValue` without one.
//! - A Group's `members` are Users: any other `type` is 400 `invalidValue`.

use scimsync_scim_proto::patch::{OpKind, PatchOperation, PatchRequest};
use scimsync_scim_proto::schema::{Mutability, GROUP_RESOURCE, USER_RESOURCE};
use scimsync_scim_proto::{ResourceType, ScimError};
use serde_json::{json, Map, Value};

/// The stored form of a User.
pub fn user(body: &Value) -> Result<Value, ScimError> {
    let resource = canonical(&USER_RESOURCE, body)?;
    required(&resource, "userName")?;
    Ok(resource)
}

/// The stored form of a Group (without members) and the ids of its members, in order.
pub fn group(body: &Value) -> Result<(Value, Vec<String>), ScimError> {
    let mut resource = canonical(&GROUP_RESOURCE, body)?;
    required(&resource, "displayName")?;
    let members = match resource.as_object_mut().and_then(|r| r.remove("members")) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let ids = members
        .iter()
        .map(member_id)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((resource, ids))
}

/// The user id of one element of a Group's `members`: a `value`, of `type` User if it says.
pub fn member_id(member: &Value) -> Result<String, ScimError> {
    if let Some(kind) = member.get("type").and_then(Value::as_str) {
        if !kind.eq_ignore_ascii_case("User") {
            return Err(ScimError::invalid_value(format!(
                "a member of type {kind:?}: only Users can be members (groups do not nest here)"
            )));
        }
    }
    member
        .get("value")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ScimError::invalid_value("every member needs a `value`: a User's id"))
}

/// A PUT may not change an `immutable` attribute that already has a value (RFC 7644 §3.5.1):
/// 400 `mutability`. (Neither User nor Group has one at the top level today; a member's `value`
/// is immutable, but members are added and removed whole.)
pub fn check_immutable(rt: &ResourceType, stored: &Value, new: &Value) -> Result<(), ScimError> {
    for schema in rt.schemas() {
        let holder = |doc: &Value| -> Option<Value> {
            if std::ptr::eq(schema, rt.schema) {
                Some(doc.clone())
            } else {
                doc.get(schema.id).cloned()
            }
        };
        let immutable = schema
            .attributes
            .iter()
            .filter(|a| a.mutability == Mutability::Immutable);
        for attr in immutable {
            let value = |doc: &Value| {
                holder(doc)
                    .and_then(|h| h.get(attr.name).cloned())
                    .filter(|v| !v.is_null())
            };
            let old = value(stored);
            if old.is_some() && old != value(new) {
                return Err(ScimError::mutability(format!(
                    "`{}` is immutable and already set",
                    attr.name
                )));
            }
        }
    }
    Ok(())
}

fn required(resource: &Value, name: &str) -> Result<(), ScimError> {
    let present = resource
        .get(name)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty());
    if present {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!("`{name}` is required")))
    }
}

/// Whether the server keeps this top-level key for itself (or never stores it).
fn ignored(rt: &ResourceType, key: &str) -> bool {
    match rt.attribute(key) {
        Ok(attr) => {
            attr.attr.mutability == Mutability::ReadOnly
                || attr.attr.mutability == Mutability::WriteOnly
        }
        // Not an attribute of this type: ignored, unless it is one of its schema URNs.
        Err(_) => rt.schema_by_urn(key).is_none(),
    }
}

/// The keys of an extension object that are attributes of that extension.
fn known_in_extension(rt: &ResourceType, urn: &str, value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    rt.attribute(&format!("{urn}:{k}"))
                        .is_ok_and(|a| a.attr.mutability != Mutability::ReadOnly)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn canonical(rt: &'static ResourceType, body: &Value) -> Result<Value, ScimError> {
    let Value::Object(map) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "a {} must be a JSON object",
            rt.name
        )));
    };
    let mut attributes = Map::new();
    for (key, value) in map {
        if ignored(rt, key) {
            continue;
        }
        let value = match rt.schema_by_urn(key) {
            Some(schema) if !std::ptr::eq(schema, rt.schema) => {
                known_in_extension(rt, schema.id, value)
            }
            // The core schema's URN holding core attributes: read them as such.
            Some(_) => match canonical(rt, value)? {
                Value::Object(inner) => {
                    for (k, v) in inner {
                        if k != "schemas" {
                            attributes.insert(k, v);
                        }
                    }
                    continue;
                }
                _ => continue,
            },
            None => value.clone(),
        };
        attributes.insert(key.clone(), value);
    }
    let request = PatchRequest {
        operations: vec![PatchOperation {
            op: OpKind::Replace,
            path: None,
            value: Some(Value::Object(attributes)),
        }],
    };
    let base = json!({ "schemas": [rt.schema.id] });
    let patched = request.apply(rt, &base).map_err(|mut e| {
        // Said of the one operation a body becomes; the client sent no operations.
        if let Some(rest) = e.detail.strip_prefix("operation 1: ") {
            e.detail = rest.to_owned();
        }
        e
    })?;
    Ok(patched.resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn a_user_body_is_stored_canonical_without_what_the_server_owns() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "id": "client-chosen", "meta": {"version": "W/\"9\""}, "password": "hunter2",
            "USERNAME": "ada@example.com", "Active": "True",
            "name": {"GivenName": "Ada"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "groups": [{"value": "g"}],
            "urn:example:custom:1.0": {"badge": 7},
            ENT: {"employeeNumber": "7", "manager": "m-1", "unknown": 1}
        });
        let user = user(&body).expect("a user");
        assert_eq!(
            user,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
                "userName": "ada@example.com", "active": true,
                "name": {"givenName": "Ada"},
                "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
                ENT: {"employeeNumber": "7", "manager": {"value": "m-1"}}
            })
        );
    }

    #[test]
    fn a_user_needs_a_user_name_and_values_of_the_right_type() {
        let e = user(&json!({"displayName": "x"})).expect_err("no userName");
        assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidValue"));
        let e = user(&json!({"userName": "a", "active": "maybe"})).expect_err("bad type");
        assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidValue"));
        assert!(!e.detail.starts_with("operation"), "{}", e.detail);
        let e = user(&json!(["not", "an", "object"])).expect_err("not an object");
        assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidSyntax"));
    }

    #[test]
    fn a_put_may_not_change_an_immutable_attribute_once_set() {
        use scimsync_scim_proto::schema::{Attribute, Schema};
        static ATTRIBUTES: [Attribute; 2] = [
            Attribute::string("serial").mutability(Mutability::Immutable),
            Attribute::string("note"),
        ];
        static SCHEMA: Schema = Schema {
            id: "urn:example:Device",
            name: "Device",
            description: "",
            attributes: &ATTRIBUTES,
        };
        static DEVICE: ResourceType = ResourceType {
            name: "Device",
            endpoint: "/Devices",
            description: "",
            schema: &SCHEMA,
            extensions: &[],
        };
        let stored = json!({"serial": "A1", "note": "x"});
        assert!(check_immutable(&DEVICE, &stored, &json!({"serial": "A1", "note": "y"})).is_ok());
        let e = check_immutable(&DEVICE, &stored, &json!({"serial": "B2"})).expect_err("changed");
        assert_eq!(e.scim_type.map(|t| t.as_str()), Some("mutability"));
        assert!(check_immutable(&DEVICE, &json!({}), &json!({"serial": "B2"})).is_ok());
    }

    #[test]
    fn a_group_body_gives_its_members_apart_and_refuses_nested_groups() {
        let (group, members) = group(&json!({
            "displayName": "Eng",
            "members": [{"value": "u1", "display": "Ada"}, {"value": "u2", "type": "User"},
                        {"value": "u1"}]
        }))
        .expect("a group");
        assert_eq!(
            group,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"})
        );
        assert_eq!(members, vec!["u1".to_owned(), "u2".to_owned()]);
        let e = super::group(
            &json!({"displayName": "X", "members": [{"value": "g", "type": "Group"}]}),
        )
        .expect_err("nested");
        assert_eq!(e.scim_type.map(|t| t.as_str()), Some("invalidValue"));
    }
}
