//! The PATCH examples of RFC 7644 §3.5.2.1–§3.5.2.3, applied to the RFC's own resources.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_scim_proto::filter::FilterLimits;
use scimsync_scim_proto::patch::{PatchRequest, Patched};
use scimsync_scim_proto::{ResourceType, GROUP_RESOURCE, USER_RESOURCE};
use serde_json::{json, Value};

const BJENSEN: &str = "2819c223-7f76-453a-919d-413861904646";
const JSMITH: &str = "902c246b-6245-4190-8e05-00816be7344a";

fn apply(rt: &'static ResourceType, stored: &Value, ops: Value) -> Patched {
    let body =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    PatchRequest::from_json(&body, &FilterLimits::default())
        .and_then(|r| r.apply(rt, stored))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn tour_guides() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [
            {"value": BJENSEN, "$ref": format!("https://example.com/v2/Users/{BJENSEN}")},
            {"value": JSMITH, "$ref": format!("https://example.com/v2/Users/{JSMITH}")}
        ]
    })
}

fn bjensen() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": BJENSEN,
        "userName": "bjensen@example.com",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood"}]
    })
}

#[test]
fn add_a_member_to_a_group() {
    let p = apply(
        &GROUP_RESOURCE,
        &json!({"displayName": "Tour Guides"}),
        json!([{
            "op": "add", "path": "members",
            "value": [{"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BJENSEN}"), "value": BJENSEN}]
        }]),
    );
    assert_eq!(p.resource["members"][0]["value"], BJENSEN);
    assert_eq!(p.members.added, vec![BJENSEN]);
}

#[test]
fn add_without_a_path_takes_an_object_of_attributes() {
    let p = apply(
        &USER_RESOURCE,
        &bjensen(),
        json!([{
            "op": "add",
            "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "b@new.org", "type": "other"}], "nickname": "Babs"}
        }]),
    );
    assert_eq!(p.resource["nickName"], "Babs");
    assert_eq!(p.resource["emails"].as_array().map(Vec::len), Some(3));
}

#[test]
fn remove_all_members_of_a_group() {
    let p = apply(
        &GROUP_RESOURCE,
        &tour_guides(),
        json!([{"op": "remove", "path": "members"}]),
    );
    assert!(p.resource.get("members").is_none());
    assert_eq!(p.members.removed, vec![BJENSEN, JSMITH]);
}

#[test]
fn remove_one_member_by_filter() {
    let p = apply(
        &GROUP_RESOURCE,
        &tour_guides(),
        json!([{
            "op": "remove", "path": format!("members[value eq \"{BJENSEN}\"]")
        }]),
    );
    assert_eq!(p.resource["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(p.members.removed, vec![BJENSEN]);
}

#[test]
fn remove_one_member_and_add_another() {
    let p = apply(
        &GROUP_RESOURCE,
        &tour_guides(),
        json!([
            {"op": "remove", "path": format!("members[value eq \"{BJENSEN}\"]")},
            {"op": "add", "path": "members", "value": [{"display": "James Smith", "value": "08e1d05d"}]}
        ]),
    );
    assert_eq!(p.members.removed, vec![BJENSEN]);
    assert_eq!(p.members.added, vec!["08e1d05d"]);
}

#[test]
fn remove_emails_matching_a_complex_filter() {
    let p = apply(
        &USER_RESOURCE,
        &bjensen(),
        json!([{
            "op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"
        }]),
    );
    assert_eq!(
        p.resource["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );
}

#[test]
fn replace_all_members() {
    let p = apply(
        &GROUP_RESOURCE,
        &tour_guides(),
        json!([{
            "op": "replace", "path": "members",
            "value": [{"display": "Babs Jensen", "value": BJENSEN}, {"display": "James Smith", "value": "08e1d05d"}]
        }]),
    );
    assert_eq!(p.members.added, vec!["08e1d05d"]);
    assert_eq!(p.members.removed, vec![JSMITH]);
}

#[test]
fn replace_an_address_selected_by_filter() {
    let p = apply(
        &USER_RESOURCE,
        &bjensen(),
        json!([{
            "op": "replace", "path": "addresses[type eq \"work\"]",
            "value": {"type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood",
                      "region": "CA", "postalCode": "91608", "country": "US",
                      "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US", "primary": true}
        }]),
    );
    assert_eq!(
        p.resource["addresses"][0]["streetAddress"],
        "911 Universal City Plaza"
    );
    assert_eq!(p.resource["addresses"][0]["postalCode"], "91608");
}

#[test]
fn replace_a_sub_attribute_of_a_filtered_address() {
    let p = apply(
        &USER_RESOURCE,
        &bjensen(),
        json!([{
            "op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"
        }]),
    );
    assert_eq!(
        p.resource["addresses"][0]["streetAddress"],
        "1010 Broadway Ave"
    );
    assert_eq!(p.resource["addresses"][0]["locality"], "Hollywood");
}

#[test]
fn replace_without_a_path_replaces_each_attribute_given() {
    let p = apply(
        &USER_RESOURCE,
        &bjensen(),
        json!([{
            "op": "replace",
            "value": {
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                           {"value": "babs@jensen.org", "type": "home"}],
                "nickname": "Babs"
            }
        }]),
    );
    assert_eq!(p.changed_attributes, vec!["nickName"]);
}
