//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) applied to a resource
//! according to each attribute's `returned` (RFC 7643 §7): `always` attributes (`id`,
//! `schemas`, `meta`) stay whatever is asked, `never` ones (`password`) never appear,
//! `request` ones only when named in `attributes`.
//!
//! Names are comma-separated, case-insensitive, optionally URN-qualified or dotted
//! (`name.givenName` keeps only that sub-attribute); an extension URN alone names the whole
//! extension. A name that is not an attribute of the resource type is ignored: Entra's
//! `excludedAttributes=members` on a User search must not fail.

use serde_json::{Map, Value};

use crate::schema::{AttrRef, Attribute, ResourceType, Returned, Schema};

/// One name of an `attributes` / `excludedAttributes` list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Selector {
    Extension(&'static Schema),
    Attr(AttrRef),
}

fn selectors(list: Option<&str>, rt: &ResourceType) -> Vec<Selector> {
    list.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|name| match rt.schema_by_urn(name) {
            Some(schema) if !std::ptr::eq(schema, rt.schema) => Some(Selector::Extension(schema)),
            _ => rt.attribute(name).ok().map(Selector::Attr),
        })
        .collect()
}

/// The resource as it should be returned for these `attributes` / `excludedAttributes`
/// values (either may be absent; `attributes` wins when both are given, as the RFC allows
/// only one).
pub fn project(
    resource: &Value,
    rt: &ResourceType,
    attributes: Option<&str>,
    excluded_attributes: Option<&str>,
) -> Value {
    let Value::Object(root) = resource else {
        return resource.clone();
    };
    let wanted = selectors(attributes, rt);
    let excluded = selectors(excluded_attributes, rt);
    let mode = if wanted.is_empty() {
        Mode::Exclude(&excluded)
    } else {
        Mode::Include(&wanted)
    };
    let mut out = Map::new();
    for (key, value) in root {
        if let Some(schema) = rt
            .extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(key))
        {
            let kept = project_extension(value, schema, mode);
            if kept.as_object().is_some_and(|m| !m.is_empty()) {
                out.insert(key.clone(), kept);
            }
            continue;
        }
        match core_attr(rt, key) {
            Some(attr) => {
                if let Some(v) = project_attr(value, attr, mode) {
                    out.insert(key.clone(), v);
                }
            }
            // Not in the schema (nothing canonical stores such keys): default-returned.
            None if matches!(mode, Mode::Exclude(_)) => {
                out.insert(key.clone(), value.clone());
            }
            None => {}
        }
    }
    Value::Object(out)
}

#[derive(Clone, Copy)]
enum Mode<'a> {
    Include(&'a [Selector]),
    Exclude(&'a [Selector]),
}

fn core_attr(rt: &ResourceType, key: &str) -> Option<AttrRef> {
    let attr = rt.attribute(key).ok()?;
    (!attr.extension && attr.sub.is_none()).then_some(attr)
}

fn project_extension(value: &Value, schema: &'static Schema, mode: Mode<'_>) -> Value {
    let Value::Object(map) = value else {
        return Value::Null;
    };
    let mut out = Map::new();
    for (key, v) in map {
        let Some(attr) = schema.attribute(key) else {
            continue;
        };
        let r = AttrRef {
            schema,
            extension: true,
            attr,
            sub: None,
        };
        let mode = match mode {
            // The whole extension named: every attribute of it.
            Mode::Include(sel) if sel.contains(&Selector::Extension(schema)) => Mode::Exclude(&[]),
            Mode::Exclude(sel) if sel.contains(&Selector::Extension(schema)) => continue,
            m => m,
        };
        if let Some(kept) = project_attr(v, r, mode) {
            out.insert(key.clone(), kept);
        }
    }
    Value::Object(out)
}

/// The attribute's value as returned, or `None` to leave it out.
fn project_attr(value: &Value, attr: AttrRef, mode: Mode<'_>) -> Option<Value> {
    let a = attr.attr;
    match a.returned {
        Returned::Never => return None,
        Returned::Always => return Some(value.clone()),
        Returned::Default | Returned::Request => {}
    }
    let named: Vec<Option<&'static Attribute>> = match mode {
        Mode::Include(sel) | Mode::Exclude(sel) => sel
            .iter()
            .filter_map(|s| match s {
                Selector::Attr(r) if r.attr == a && r.schema == attr.schema => Some(r.sub),
                _ => None,
            })
            .collect(),
    };
    match mode {
        Mode::Include(_) if named.is_empty() => None,
        Mode::Include(_) if named.contains(&None) => Some(value.clone()),
        Mode::Include(_) => Some(keep_subs(value, &named, true)),
        Mode::Exclude(_) if a.returned == Returned::Request || named.contains(&None) => None,
        Mode::Exclude(_) if named.is_empty() => Some(value.clone()),
        Mode::Exclude(_) => Some(keep_subs(value, &named, false)),
    }
}

/// Keeps (or drops) the named sub-attributes of an object, or of each element of an array.
fn keep_subs(value: &Value, named: &[Option<&'static Attribute>], keep: bool) -> Value {
    let names: Vec<&str> = named.iter().flatten().map(|s| s.name).collect();
    let filter = |v: &Value| match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| names.iter().any(|n| n.eq_ignore_ascii_case(k)) == keep)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    };
    match value {
        Value::Array(items) => Value::Array(items.iter().map(filter).collect()),
        other => filter(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{GROUP_RESOURCE, USER_RESOURCE};
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "id": "u1", "userName": "ada", "password": "secret", "title": "Eng",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "a@x", "type": "work"}],
            ENT: {"department": "R&D", "manager": {"value": "m"}},
            "meta": {"resourceType": "User"}
        })
    }

    #[test]
    fn password_is_never_returned() {
        assert!(project(&user(), &USER_RESOURCE, None, None)
            .get("password")
            .is_none());
        let asked = project(&user(), &USER_RESOURCE, Some("password"), None);
        assert!(asked.get("password").is_none());
    }

    #[test]
    fn attributes_keeps_what_is_named_and_what_is_always_returned() {
        let p = project(
            &user(),
            &USER_RESOURCE,
            Some("USERNAME, name.givenName,emails.value"),
            None,
        );
        assert_eq!(
            p,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
                "id": "u1", "userName": "ada",
                "name": {"givenName": "Ada"},
                "emails": [{"value": "a@x"}],
                "meta": {"resourceType": "User"}
            })
        );
    }

    #[test]
    fn urn_qualified_names_select_extension_attributes_or_the_whole_extension() {
        let p = project(
            &user(),
            &USER_RESOURCE,
            Some(&format!("{ENT}:department")),
            None,
        );
        assert_eq!(p[ENT], json!({"department": "R&D"}));
        let p = project(&user(), &USER_RESOURCE, Some(ENT), None);
        assert_eq!(p[ENT], user()[ENT]);
        let p = project(&user(), &USER_RESOURCE, None, Some(ENT));
        assert!(p.get(ENT).is_none());
    }

    #[test]
    fn excluded_attributes_drops_them_but_never_the_always_returned() {
        let p = project(
            &user(),
            &USER_RESOURCE,
            None,
            Some("emails,name.familyName,id,meta,nope"),
        );
        assert!(p.get("emails").is_none());
        assert_eq!(p["name"], json!({"givenName": "Ada"}));
        assert_eq!(p["id"], "u1");
        assert_eq!(p["meta"], json!({"resourceType": "User"}));
        assert_eq!(p["title"], "Eng");
    }

    #[test]
    fn entra_reads_groups_without_members() {
        let g = json!({"id": "g", "displayName": "Eng", "members": [{"value": "u1"}], "meta": {}});
        let p = project(&g, &GROUP_RESOURCE, None, Some("members"));
        assert_eq!(p, json!({"id": "g", "displayName": "Eng", "meta": {}}));
    }
}
