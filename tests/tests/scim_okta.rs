//! Okta's SCIM 2.0 test sequence (the one Okta runs before an app integration is accepted), and
//! its habits: PUT for profile updates, PATCH for `active`, groups pushed by PATCH members.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::scim::{patch_op, start, tenant, urlencode, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn okta_scim2_test_sequence_passes() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Okta Co", &[]).await;
    let c = scim.client(&app, &t);

    // The first page, then a filter for a user that is not there yet.
    let first = c.get("/Users?count=1&startIndex=1").await.expect(200);
    assert_eq!(first.body["totalResults"], 0);
    let random = format!("{}@okta.local", Uuid::new_v4());
    assert!(c
        .find("/Users", &format!("userName eq \"{random}\""))
        .await
        .is_empty());

    // Create: Okta sends a password and an empty groups list.
    let body = json!({
        "schemas": [USER_SCHEMA],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    let created = c.post("/Users", &body).await.expect(201);
    let id = created.id();
    assert!(created.body.get("password").is_none(), "never returned");
    assert_eq!(created.body["displayName"], "Test User");
    assert_eq!(created.body["locale"], "en-US");
    // Not stored either.
    let stored = app
        .env
        .count("SELECT count(*) AS n FROM directory_users WHERE resource::text LIKE '%1mz050nq%'")
        .await;
    assert_eq!(stored, 0);

    // Read back by id and by filter (with the paging Okta adds).
    c.get(&format!("/Users/{id}")).await.expect(200);
    let filter = urlencode("userName eq \"test.user@okta.local\"");
    let found = c
        .get(&format!("/Users?filter={filter}&startIndex=1&count=100"))
        .await
        .expect(200);
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());

    // The same userName again, in another case: a conflict, not a second user.
    let mut duplicate = body.clone();
    duplicate["userName"] = json!("TEST.USER@okta.local");
    c.post("/Users", &duplicate)
        .await
        .expect_error(409, Some("uniqueness"));

    // Profile update by PUT, with what Okta read back (id, meta, groups are the server's).
    let mut profile = created.body.clone();
    profile["name"]["givenName"] = json!("Another");
    profile["title"] = json!("Engineer");
    profile["groups"] = json!([{"value": "not-a-group"}]);
    let put = c.put(&format!("/Users/{id}"), &profile).await.expect(200);
    assert_eq!(put.body["name"]["givenName"], "Another");
    assert_eq!(put.body["title"], "Engineer");
    assert_eq!(put.body["id"], id.as_str());
    assert_eq!(put.body["meta"]["created"], created.body["meta"]["created"]);
    assert_ne!(put.body["meta"]["version"], created.body["meta"]["version"]);
    assert!(put.body.get("groups").is_none());

    // Deactivation by PATCH, path-less.
    let deactivated = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await
        .expect(200);
    assert_eq!(deactivated.body["active"], false);

    // An unknown id.
    c.get(&format!("/Users/{}", Uuid::new_v4()))
        .await
        .expect_error(404, None);

    // Group push: create, add the member (with `display`), rename with the id in the value,
    // remove the member by filter, replace by PUT, delete.
    let group = c
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Test SCIMv2", "members": []}),
        )
        .await
        .expect(201);
    let gid = group.id();
    let found = c
        .get(&format!(
            "/Groups?filter={}&startIndex=1&count=100",
            urlencode("displayName eq \"Test SCIMv2\"")
        ))
        .await
        .expect(200);
    assert_eq!(found.body["Resources"][0]["id"], gid.as_str());
    c.patch(
        &format!("/Groups/{gid}"),
        &patch_op(json!([{"op": "add", "path": "members",
                          "value": [{"value": id, "display": "test.user@okta.local"}]}])),
    )
    .await
    .expect(204);
    c.patch(
        &format!("/Groups/{gid}"),
        &patch_op(
            json!([{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2 renamed"}}]),
        ),
    )
    .await
    .expect(204);
    let got = c.get(&format!("/Groups/{gid}")).await.expect(200);
    assert_eq!(got.body["displayName"], "Test SCIMv2 renamed");
    assert_eq!(got.body["members"][0]["value"], id.as_str());
    assert_eq!(got.body["members"][0]["display"], "Test User");
    // The user shows the group it is in.
    let user = c.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(user.body["groups"][0]["value"], gid.as_str());
    assert_eq!(user.body["groups"][0]["display"], "Test SCIMv2 renamed");

    c.patch(
        &format!("/Groups/{gid}"),
        &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])),
    )
    .await
    .expect(204);
    let put = c
        .put(
            &format!("/Groups/{gid}"),
            &json!({"schemas": [GROUP_SCHEMA], "id": gid, "displayName": "Test SCIMv2",
                    "members": [{"value": id, "display": "test.user@okta.local"}]}),
        )
        .await
        .expect(200);
    assert_eq!(put.body["displayName"], "Test SCIMv2");
    assert_eq!(put.body["members"][0]["value"], id.as_str());
    c.delete(&format!("/Groups/{gid}")).await.expect(204);
    let user = c.get(&format!("/Users/{id}")).await.expect(200);
    assert!(user.body.get("groups").is_none(), "{}", user.body);
    scim.stop().await;
    app.stop().await;
}
