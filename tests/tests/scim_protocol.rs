//! The RFC 7644 examples that apply to this service: creating, reading, replacing and deleting a
//! User, Group members by PATCH, and their errors (lists and searches: `scim_search.rs`).

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::scim::{
    patch_op, start, tenant, ScimClient, ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA,
};
use serde_json::{json, Value};

fn bjensen() -> Value {
    // RFC 7644 §3.3.
    json!({
        "schemas": [USER_SCHEMA],
        "userName": "bjensen",
        "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen",
                 "givenName": "Barbara"}
    })
}

#[tokio::test]
async fn rfc7644_create_get_replace_and_delete_a_user() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);

    let created = c.post("/Users", &bjensen()).await.expect(201);
    let id = created.id();
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert_eq!(created.body["meta"]["version"], "W/\"1\"");

    // §3.4.1 with `attributes`: what is named, and what is always returned.
    let got = c
        .get(&format!("/Users/{id}?attributes=userName"))
        .await
        .expect(200);
    let mut keys: Vec<&str> = got
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "meta", "schemas", "userName"]);

    // §3.5.1: PUT replaces everything; what is not sent is gone.
    let replaced = c
        .put(
            &format!("/Users/{id}"),
            &json!({
                "schemas": [USER_SCHEMA], "id": id, "userName": "bjensen",
                "externalId": "bjensen",
                "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen",
                         "givenName": "Barbara", "middleName": "Jane"},
                "roles": [], "emails": [{"value": "bjensen@example.com"},
                                        {"value": "babs@jensen.org"}]
            }),
        )
        .await
        .expect(200);
    assert_eq!(replaced.header("etag"), Some("W/\"2\""));
    assert_eq!(replaced.body["name"]["middleName"], "Jane");
    assert_eq!(replaced.body["emails"].as_array().map(Vec::len), Some(2));
    let replaced = c.put(&format!("/Users/{id}"), &bjensen()).await.expect(200);
    assert!(replaced.body.get("emails").is_none());
    assert!(replaced.body["name"].get("middleName").is_none());
    // The same again: no change, the same version.
    let same = c.put(&format!("/Users/{id}"), &bjensen()).await.expect(200);
    assert_eq!(same.header("etag"), replaced.header("etag"));

    // §3.6.
    c.delete(&format!("/Users/{id}")).await.expect(204);
    c.get(&format!("/Users/{id}")).await.expect_error(404, None);
    c.delete(&format!("/Users/{id}"))
        .await
        .expect_error(404, None);
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn rfc7644_group_members_are_added_removed_and_replaced_by_patch() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    let babs = c.create_user("babs@example.com").await;
    let mandy = c.create_user("mandy@example.com").await;
    let gid = c
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Tour Guides"}),
        )
        .await
        .expect(201)
        .id();
    let path = format!("/Groups/{gid}");
    let members = |c: ScimClient, path: String| async move {
        let g = c.get(&path).await.expect(200);
        let mut ids: Vec<String> = g.body["members"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![babs.clone(), mandy.clone()];
    both.sort();

    // §3.5.2.1.
    c.patch(
        &path,
        &patch_op(json!([{"op": "add", "path": "members", "value": [
            {"display": "Babs Jensen", "$ref": format!("{}/Users/{babs}", c.base), "value": babs}]}])),
    )
    .await
    .expect(204);
    assert_eq!(members(c.clone(), path.clone()).await, vec![babs.clone()]);
    // §3.5.2.3: replace all members.
    c.patch(
        &path,
        &patch_op(json!([{"op": "replace", "path": "members", "value": [
            {"value": babs}, {"value": mandy}]}])),
    )
    .await
    .expect(204);
    assert_eq!(members(c.clone(), path.clone()).await, both);
    // §3.5.2.2: remove one by filter, then all.
    c.patch(
        &path,
        &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{babs}\"]")}])),
    )
    .await
    .expect(204);
    assert_eq!(members(c.clone(), path.clone()).await, vec![mandy.clone()]);
    c.patch(
        &path,
        &patch_op(json!([{"op": "remove", "path": "members"}])),
    )
    .await
    .expect(204);
    assert!(members(c.clone(), path.clone()).await.is_empty());

    // A member must be a User of this company.
    for bad in [
        json!({"value": "not-a-uuid"}),
        json!({"value": gid}),
        json!({"value": babs, "type": "Group"}),
    ] {
        c.patch(
            &path,
            &patch_op(json!([{"op": "add", "path": "members", "value": [bad]}])),
        )
        .await
        .expect_error(400, Some("invalidValue"));
        c.post("/Groups", &json!({"displayName": "Bad", "members": [bad]}))
            .await
            .expect_error(400, Some("invalidValue"));
    }
    c.patch(&path, &patch_op(json!([{"op": "remove"}])))
        .await
        .expect_error(400, Some("noTarget"));
    c.patch(
        &path,
        &patch_op(json!([{"op": "replace", "path": "meta.version", "value": "x"}])),
    )
    .await
    .expect_error(400, Some("mutability"));
    c.patch(&path, &json!({"Operations": []}))
        .await
        .expect_error(400, Some("invalidSyntax"));
    // Groups do not nest: none of the refusals left a trace.
    assert!(members(c.clone(), path.clone()).await.is_empty());
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_patch_of_the_whole_enterprise_extension_ignores_the_schemas_it_carries() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    let id = c.create_user("ada@example.com").await;
    let path = format!("/Users/{id}");
    // The extension's object as a client library serialises it: with its own `schemas`, which
    // is the resource's (server-owned) attribute, not one of the extension's.
    let patched = c
        .patch(
            &path,
            &patch_op(json!([{"op": "add", "path": ENTERPRISE,
                              "value": {"schemas": [ENTERPRISE], "department": "Ops"}}])),
        )
        .await
        .expect(200);
    assert_eq!(patched.body[ENTERPRISE]["department"], "Ops");
    let replaced = c
        .patch(
            &path,
            &patch_op(json!([{"op": "replace", "value": {
                ENTERPRISE: {"schemas": [ENTERPRISE], "costCenter": "4130"}}}])),
        )
        .await
        .expect(200);
    assert_eq!(replaced.body[ENTERPRISE]["department"], "Ops");
    assert_eq!(replaced.body[ENTERPRISE]["costCenter"], "4130");
    assert!(replaced.body[ENTERPRISE].get("schemas").is_none());
    assert_eq!(replaced.body["schemas"], json!([USER_SCHEMA, ENTERPRISE]));
    // Anything else the extension does not define is still refused.
    c.patch(
        &path,
        &patch_op(json!([{"op": "add", "path": ENTERPRISE, "value": {"nope": 1}}])),
    )
    .await
    .expect_error(400, Some("invalidPath"));
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_group_patch_asking_for_attributes_answers_200_with_them() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    let ada = c.create_user("ada@example.com").await;
    let gid = c
        .post("/Groups", &json!({"displayName": "Ops"}))
        .await
        .expect(201)
        .id();
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": ada}]}]));
    // RFC 7644 §3.5.2: "The server MUST return a 200 OK if the "attributes" parameter is
    // specified in the request."
    let answered = c
        .patch(&format!("/Groups/{gid}?attributes=members"), &add)
        .await
        .expect(200);
    assert_eq!(answered.body["id"], gid.as_str());
    assert_eq!(answered.body["members"][0]["value"], ada.as_str());
    assert!(
        answered.body.get("displayName").is_none(),
        "{}",
        answered.body
    );
    assert_eq!(answered.header("etag"), Some("W/\"2\""));
    let renamed = c
        .patch(
            &format!("/Groups/{gid}?attributes=displayName"),
            &patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ops team"}])),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["displayName"], "Ops team");
    assert!(renamed.body.get("members").is_none(), "{}", renamed.body);
    // Without it, 204 as Entra expects.
    let quiet = c
        .patch(
            &format!("/Groups/{gid}"),
            &patch_op(json!([{"op": "remove", "path": "members"}])),
        )
        .await
        .expect(204);
    assert_eq!(quiet.header("etag"), Some("W/\"4\""));
    scim.stop().await;
    app.stop().await;
}
