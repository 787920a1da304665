//! PATCH requests as Microsoft Entra ID sends them, in both dialects (Microsoft's
//! "Develop and plan provisioning for a SCIM endpoint" tutorial and its SCIM compliance notes):
//! the default one (capitalised ops, booleans as "False" strings, member removal with a value
//! list) and the `aadOptscim062020` one (lower-case ops, real booleans, one path-less replace
//! whose keys are dotted, URN-qualified or value-filter paths, member removal by filter).
//! Then Okta's SCIM 2.0 habits: path-less replace for `active`, group rename with `id` in the
//! value, member pushes with `display`.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_scim_proto::filter::FilterLimits;
use scimsync_scim_proto::patch::{PatchRequest, Patched};
use scimsync_scim_proto::{ResourceType, GROUP_RESOURCE, USER_RESOURCE};
use serde_json::{json, Value};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn apply(rt: &'static ResourceType, stored: &Value, body: Value) -> Patched {
    PatchRequest::from_json(&body, &FilterLimits::default())
        .and_then(|r| r.apply(rt, stored))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The user of the tutorial's "Create User" request, as stored.
fn test_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "id": "48af03ac28ad4fb88478",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        ENT: {"department": "Sales"},
        "meta": {"resourceType": "User", "created": "2018-03-27T19:59:26.000Z", "lastModified": "2018-03-27T19:59:26.000Z"}
    })
}

fn test_group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "927fa2c08dcb4a7fae9e",
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"}
    })
}

#[test]
fn entra_default_dialect_updates_multi_valued_and_single_valued_properties() {
    let p = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
            ]
        }),
    );
    assert_eq!(
        p.resource["emails"][0]["value"],
        "updatedEmail@microsoft.com"
    );
    assert_eq!(p.resource["emails"][0]["primary"], true);
    assert_eq!(p.resource["name"]["familyName"], "updatedFamilyName");
    assert_eq!(p.changed_attributes, vec!["emails", "name"]);

    let p = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]
        }),
    );
    assert_eq!(
        p.resource["userName"],
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );
}

#[test]
fn entra_default_dialect_disables_a_user_with_a_false_string() {
    let p = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        }),
    );
    assert_eq!(p.resource["active"], false);
    assert!(p.changed);
}

#[test]
fn entra_default_dialect_adds_a_nickname_with_a_capitalised_op() {
    let p = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "nickName", "value": "Babs"}]
        }),
    );
    assert_eq!(p.resource["nickName"], "Babs");
}

#[test]
fn entra_sets_the_manager_as_a_bare_id_or_as_an_object_and_clears_it() {
    let path = format!("{ENT}:manager");
    let bare = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": path, "value": "2819c223-7f76-453a-919d-413861904646"}]
        }),
    );
    let object = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": path, "value": {"value": "2819c223-7f76-453a-919d-413861904646"}}]
        }),
    );
    assert_eq!(bare.resource, object.resource);
    assert_eq!(
        bare.resource[ENT]["manager"],
        json!({"value": "2819c223-7f76-453a-919d-413861904646"})
    );
    let cleared = apply(
        &USER_RESOURCE,
        &bare.resource,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Remove", "path": path}]
        }),
    );
    assert_eq!(cleared.resource[ENT], json!({"department": "Sales"}));
}

#[test]
fn entra_compliant_dialect_sends_one_path_less_replace_with_path_keys() {
    let p = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "replace",
                "value": {
                    "displayName": "Pvlo",
                    "emails[type eq \"work\"].value": "TestBcwqnm@test.microsoft.com",
                    "name.givenName": "Gtfd",
                    "name.familyName": "Pkqf",
                    "externalId": "Eqpj",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Eqpj",
                    "active": false
                }
            }]
        }),
    );
    let u = &p.resource;
    assert_eq!(u["displayName"], "Pvlo");
    assert_eq!(u["emails"][0]["value"], "TestBcwqnm@test.microsoft.com");
    assert_eq!(u["name"]["givenName"], "Gtfd");
    assert_eq!(u["name"]["familyName"], "Pkqf");
    assert_eq!(u["externalId"], "Eqpj");
    assert_eq!(
        u[ENT],
        json!({"department": "Sales", "employeeNumber": "Eqpj"})
    );
    assert_eq!(u["active"], false);
}

#[test]
fn entra_path_less_replace_may_nest_extension_attributes_under_the_urn() {
    let p = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {
                ENT: {"department": "Finance", "manager": {"value": "boss-1"}},
                "urn:ietf:params:scim:schemas:core:2.0:User:title": "Analyst"
            }}]
        }),
    );
    assert_eq!(
        p.resource[ENT],
        json!({"department": "Finance", "manager": {"value": "boss-1"}})
    );
    assert_eq!(p.resource["title"], "Analyst");
}

#[test]
fn entra_creates_a_work_address_through_a_filtered_path() {
    let p = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
                {"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "98052"},
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}
            ]
        }),
    );
    assert_eq!(
        p.resource["addresses"],
        json!([{"type": "work", "locality": "Redmond", "postalCode": "98052"}])
    );
    assert_eq!(
        p.resource["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
}

#[test]
fn entra_default_dialect_adds_and_removes_members_by_value_list() {
    let added = apply(
        &GROUP_RESOURCE,
        &test_group(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "members", "value": [
                {"$ref": null, "value": "f648f8d5ea4e4cd38e9c"},
                {"$ref": null, "value": "a2c1d4e5f6a7b8c9d0e1"}
            ]}]
        }),
    );
    assert_eq!(
        added.resource["members"],
        json!([{"value": "f648f8d5ea4e4cd38e9c"}, {"value": "a2c1d4e5f6a7b8c9d0e1"}])
    );
    assert_eq!(added.members.added.len(), 2);

    let removed = apply(
        &GROUP_RESOURCE,
        &added.resource,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]
        }),
    );
    assert_eq!(
        removed.resource["members"],
        json!([{"value": "a2c1d4e5f6a7b8c9d0e1"}])
    );
    assert_eq!(removed.members.removed, vec!["f648f8d5ea4e4cd38e9c"]);
    assert!(removed.members.added.is_empty());
}

#[test]
fn entra_compliant_dialect_removes_a_member_by_filter() {
    let stored = json!({"displayName": "g", "members": [{"value": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}, {"value": "other"}]});
    let p = apply(
        &GROUP_RESOURCE,
        &stored,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}]
        }),
    );
    assert_eq!(p.resource["members"], json!([{"value": "other"}]));
    let again = apply(
        &GROUP_RESOURCE,
        &p.resource,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}]
        }),
    );
    assert!(
        !again.changed,
        "a retried removal succeeds and changes nothing"
    );
}

#[test]
fn entra_renames_a_group() {
    let p = apply(
        &GROUP_RESOURCE,
        &test_group(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]
        }),
    );
    assert_eq!(p.changed_attributes, vec!["displayName"]);
}

#[test]
fn okta_deactivates_with_a_path_less_replace() {
    let p = apply(
        &USER_RESOURCE,
        &test_user(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}]
        }),
    );
    assert_eq!(p.resource["active"], false);
}

#[test]
fn okta_renames_a_group_with_its_id_in_the_value_and_pushes_members_with_display() {
    let renamed = apply(
        &GROUP_RESOURCE,
        &test_group(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"id": "927fa2c08dcb4a7fae9e", "displayName": "Test SCIMv2"}}]
        }),
    );
    assert_eq!(renamed.resource["displayName"], "Test SCIMv2");
    let pushed = apply(
        &GROUP_RESOURCE,
        &renamed.resource,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "test.user@okta.local"}]}]
        }),
    );
    assert_eq!(
        pushed.members.added,
        vec!["89bb1940-b905-4575-9e7f-6f887cfb368e"]
    );
}
