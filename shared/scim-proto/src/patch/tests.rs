use serde_json::{json, Value};

use super::*;
use crate::filter::FilterLimits;
use crate::schema::{GROUP_RESOURCE, USER_RESOURCE};
use crate::{ScimError, ScimType};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

fn patch_user(stored: &Value, ops: Value) -> Result<Patched, ScimError> {
    PatchRequest::from_json(&body(ops), &FilterLimits::default())?.apply(&USER_RESOURCE, stored)
}

fn patch_group(stored: &Value, ops: Value) -> Result<Patched, ScimError> {
    PatchRequest::from_json(&body(ops), &FilterLimits::default())?.apply(&GROUP_RESOURCE, stored)
}

fn ada() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1", "userName": "ada@example.com", "active": true,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

#[test]
fn a_body_without_the_patch_op_schema_or_operations_is_invalid_syntax() {
    let limits = FilterLimits::default();
    for b in [
        json!([]),
        json!({"Operations": []}),
        json!({"schemas": [PATCH_OP_SCHEMA]}),
    ] {
        let e = PatchRequest::from_json(&b, &limits).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{b}");
    }
    let e = patch_user(&ada(), json!([{"op": "move", "path": "title"}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
}

#[test]
fn remove_without_a_path_is_no_target() {
    let e = patch_user(&ada(), json!([{"op": "remove"}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    assert_eq!(e.status, 400);
}

#[test]
fn a_bad_path_is_invalid_path_naming_the_operation() {
    let e = patch_user(&ada(), json!([{"op": "add", "path": "title", "value": "x"}, {"op": "add", "path": "nope", "value": 1}]))
        .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    assert!(e.detail.starts_with("operation 2:"), "{}", e.detail);
}

#[test]
fn read_only_attributes_refuse_changes_but_accept_their_own_value() {
    let e = patch_user(
        &ada(),
        json!([{"op": "replace", "path": "id", "value": "other"}]),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let e = patch_user(
        &ada(),
        json!([{"op": "replace", "path": "meta.version", "value": "x"}]),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let e = patch_user(
        &ada(),
        json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let same = patch_user(
        &ada(),
        json!([{"op": "replace", "value": {"id": "u1", "active": false}}]),
    )
    .unwrap();
    assert_eq!(same.resource["active"], false);
}

#[test]
fn immutable_sub_values_do_not_block_adding_members() {
    let g = json!({"displayName": "Eng", "members": [{"value": "a"}]});
    let p = patch_group(
        &g,
        json!([{"op": "add", "path": "members", "value": [{"value": "b", "type": "User"}]}]),
    )
    .unwrap();
    assert_eq!(p.members.added, vec!["b"]);
}

#[test]
fn wrong_types_are_invalid_value() {
    for (path, value) in [
        ("active", json!("maybe")),
        ("title", json!(3)),
        ("name", json!("Ada")),
        ("emails", json!([{"value": "x", "kind": "work"}])),
        ("meta.lastModified", json!("yesterday")),
    ] {
        let e = patch_user(
            &ada(),
            json!([{"op": "replace", "path": path, "value": value}]),
        )
        .unwrap_err();
        assert!(
            matches!(
                e.scim_type,
                Some(ScimType::InvalidValue | ScimType::Mutability)
            ),
            "{path}: {e}"
        );
    }
}

#[test]
fn removing_a_required_attribute_is_invalid_value() {
    let e = patch_user(&ada(), json!([{"op": "remove", "path": "userName"}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn a_failed_operation_leaves_nothing_applied() {
    let stored = ada();
    let e = patch_user(
        &stored,
        json!([{"op": "replace", "path": "title", "value": "CEO"}, {"op": "replace", "path": "id", "value": "x"}]),
    );
    assert!(e.is_err());
    assert_eq!(stored, ada());
}

#[test]
fn booleans_arrive_as_strings_in_any_case() {
    for s in ["False", "false", "FALSE"] {
        let p = patch_user(
            &ada(),
            json!([{"op": "Replace", "path": "active", "value": s}]),
        )
        .unwrap();
        assert_eq!(p.resource["active"], false);
        assert!(p.changed);
    }
    let p = patch_user(
        &ada(),
        json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "True"}]),
    )
    .unwrap();
    assert!(!p.changed, "primary was already true");
}

#[test]
fn null_clears_with_replace_and_is_a_no_op_with_add() {
    let p = patch_user(
        &ada(),
        json!([{"op": "replace", "path": "name.givenName", "value": null}]),
    )
    .unwrap();
    assert_eq!(p.resource["name"], json!({"familyName": "Lovelace"}));
    let p = patch_user(
        &ada(),
        json!([{"op": "add", "path": "title", "value": null}]),
    )
    .unwrap();
    assert!(!p.changed);
    let p = patch_user(
        &ada(),
        json!([{"op": "replace", "path": "emails", "value": null}]),
    )
    .unwrap();
    assert!(p.resource.get("emails").is_none());
}

#[test]
fn add_on_a_complex_attribute_merges_its_sub_attributes() {
    let p = patch_user(
        &ada(),
        json!([{"op": "add", "path": "name", "value": {"middleName": "King"}}]),
    )
    .unwrap();
    assert_eq!(
        p.resource["name"],
        json!({"givenName": "Ada", "familyName": "Lovelace", "middleName": "King"})
    );
    assert_eq!(p.changed_attributes, vec!["name"]);
}

#[test]
fn adding_a_primary_email_makes_the_others_not_primary() {
    let p = patch_user(&ada(), json!([{"op": "add", "path": "emails", "value": [{"value": "a@home", "type": "home", "primary": true}]}])).unwrap();
    assert_eq!(p.resource["emails"][0]["primary"], false);
    assert_eq!(p.resource["emails"][1]["primary"], true);
}

#[test]
fn a_filter_that_matches_nothing_creates_the_element_it_describes() {
    let p = patch_user(&ada(), json!([{"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "London"}])).unwrap();
    assert_eq!(
        p.resource["addresses"],
        json!([{"type": "work", "locality": "London"}])
    );
    let e = patch_user(&ada(), json!([{"op": "replace", "path": "addresses[type ne \"work\"].locality", "value": "London"}])).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    let p = patch_user(
        &ada(),
        json!([{"op": "remove", "path": "addresses[type eq \"work\"]"}]),
    )
    .unwrap();
    assert!(
        !p.changed,
        "removing what is not there succeeds and changes nothing"
    );
}

#[test]
fn extension_attributes_are_stored_under_their_urn_and_listed_in_schemas() {
    let p = patch_user(
        &ada(),
        json!([{"op": "add", "path": format!("{ENT}:department"), "value": "R&D"}]),
    )
    .unwrap();
    assert_eq!(p.resource[ENT], json!({"department": "R&D"}));
    assert_eq!(p.resource["schemas"][1], ENT);
    let back = patch_user(
        &p.resource,
        json!([{"op": "remove", "path": format!("{ENT}:department")}]),
    )
    .unwrap();
    assert!(back.resource.get(ENT).is_none());
    assert_eq!(
        back.resource["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
    let whole = patch_user(&p.resource, json!([{"op": "remove", "path": ENT}])).unwrap();
    assert_eq!(whole.resource, ada());
}

#[test]
fn member_removal_by_value_list_removes_exactly_those_never_all() {
    let g =
        json!({"displayName": "Eng", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]});
    let p = patch_group(
        &g,
        json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "zz"}]}]),
    )
    .unwrap();
    assert_eq!(
        p.resource["members"],
        json!([{"value": "b"}, {"value": "c"}])
    );
    assert_eq!(
        p.members,
        MemberChanges {
            added: vec![],
            removed: vec!["a".into()]
        }
    );
    let p = patch_group(
        &g,
        json!([{"op": "Remove", "path": "members", "value": []}]),
    )
    .unwrap();
    assert!(!p.changed, "an empty list removes nothing");
    let all = patch_group(&g, json!([{"op": "remove", "path": "members"}])).unwrap();
    assert_eq!(all.members.removed, vec!["a", "b", "c"]);
}

#[test]
fn member_add_skips_members_already_there() {
    let g = json!({"displayName": "Eng", "members": [{"value": "a"}]});
    let p = patch_group(&g, json!([{"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "b"}]}])).unwrap();
    assert_eq!(
        p.resource["members"],
        json!([{"value": "a"}, {"value": "b"}])
    );
    assert_eq!(p.members.added, vec!["b"]);
    let again = patch_group(
        &p.resource,
        json!([{"op": "Add", "path": "members", "value": [{"value": "b"}]}]),
    )
    .unwrap();
    assert!(!again.changed);
    assert_eq!(again.members, MemberChanges::default());
}
