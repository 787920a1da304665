//! Microsoft Entra ID's provisioning, replayed as Microsoft publishes it ("Develop and plan
//! provisioning for a SCIM endpoint": user and group operations, and the SCIM 2.0 compliance
//! notes for the `aadOptscim062020` dialect), against the scim service (SPEC §6).

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::scim::{
    patch_op, start, tenant, urlencode, ENTERPRISE, GROUP_SCHEMA, USER_SCHEMA,
};
use serde_json::json;
use uuid::Uuid;

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

#[tokio::test]
async fn test_connection_filters_on_a_random_guid_and_gets_an_empty_list() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Contoso", &[]).await;
    let c = scim.client(&app, &t);
    let guid = Uuid::new_v4();
    let filter = urlencode(&format!("userName eq \"{guid}\""));
    let answer = c.get(&format!("/Users?filter={filter}")).await.expect(200);
    assert_eq!(answer.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        answer.body,
        json!({"schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0,
               "Resources": []})
    );
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn entra_user_operations_replay_as_microsoft_publishes_them() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Contoso", &[]).await;
    let c = scim.client(&app, &t);

    // Create User.
    let created = c
        .post(
            "/Users",
            &json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
                "active": true,
                "emails": [{"primary": true, "type": "work",
                            "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "givenName familyName", "familyName": "familyName",
                         "givenName": "givenName"},
                "roles": []
            }),
        )
        .await
        .expect(201);
    let id = created.id();
    let user = &created.body;
    assert_eq!(
        user["schemas"],
        json!([USER_SCHEMA]),
        "no extension attributes"
    );
    assert_eq!(user["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    assert_eq!(
        user["userName"],
        "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
    );
    assert_eq!(user["active"], true);
    assert_eq!(user["name"]["formatted"], "givenName familyName");
    assert_eq!(
        user["emails"],
        json!([{"primary": true, "type": "work",
                "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}])
    );
    assert!(user.get("roles").is_none(), "an empty list is unassigned");
    assert_eq!(user["meta"]["resourceType"], "User");
    assert_eq!(user["meta"]["created"], user["meta"]["lastModified"]);
    let location = format!("{}/Users/{id}", c.base);
    assert_eq!(user["meta"]["location"], location);
    assert_eq!(created.header("location"), Some(location.as_str()));
    assert_eq!(created.header("etag"), user["meta"]["version"].as_str());

    // Get User.
    let got = c.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(got.body, created.body);

    // Get User by query, and by query with zero results.
    let filter = urlencode("userName eq \"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1\"");
    let list = c.get(&format!("/Users?filter={filter}")).await.expect(200);
    assert_eq!(list.body["schemas"], json!([LIST]));
    assert_eq!(list.body["totalResults"], 1);
    assert_eq!(list.body["itemsPerPage"], 1);
    assert_eq!(list.body["startIndex"], 1);
    assert_eq!(list.body["Resources"][0], created.body);
    assert_eq!(
        c.find("/Users", "userName eq \"non-existent user\"").await,
        Vec::<String>::new()
    );
    // Entra may match on externalId instead.
    assert_eq!(
        c.find(
            "/Users",
            "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\""
        )
        .await,
        vec![id.clone()]
    );

    // Update User [Multi-valued properties].
    let patched = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value",
                 "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
            ])),
        )
        .await
        .expect(200);
    assert_eq!(
        patched.body["emails"],
        json!([{"primary": true, "type": "work", "value": "updatedEmail@microsoft.com"}])
    );
    assert_eq!(patched.body["name"]["familyName"], "updatedFamilyName");
    assert_ne!(patched.body["meta"]["version"], user["meta"]["version"]);

    // Update User [Single-valued properties].
    let patched = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "Replace", "path": "userName",
                              "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}])),
        )
        .await
        .expect(200);
    assert_eq!(
        patched.body["userName"],
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );

    // Disable User, in the default dialect: a capitalised op and a "False" string.
    let patched = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await
        .expect(200);
    assert_eq!(patched.body["active"], false);

    // Add a manager as a bare id (the default dialect), then read it back as {value}.
    let manager = c.create_user("manager@testuser.com").await;
    let patched = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(
                json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"),
                              "value": manager}]),
            ),
        )
        .await
        .expect(200);
    assert_eq!(
        patched.body[ENTERPRISE]["manager"],
        json!({"value": manager})
    );
    assert_eq!(patched.body["schemas"], json!([USER_SCHEMA, ENTERPRISE]));

    // Delete User.
    let deleted = c.delete(&format!("/Users/{id}")).await.expect(204);
    assert_eq!(deleted.body, serde_json::Value::Null);
    c.get(&format!("/Users/{id}")).await.expect_error(404, None);
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn entra_compliant_dialect_replaces_several_attributes_in_one_path_less_operation() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Contoso", &[]).await;
    let c = scim.client(&app, &t);
    let id = c.create_user("Test_User_dialect@testuser.com").await;
    let manager = c.create_user("boss@testuser.com").await;

    let patched = c
        .patch(
            &format!("/Users/{id}?aadOptscim062020"),
            &patch_op(json!([{
                "op": "replace",
                "value": {
                    "displayName": "Pvlo",
                    "emails[type eq \"work\"].value": "TestBcwqnm@test.microsoft.com",
                    "name.givenName": "Gtfd",
                    "name.familyName": "Pkqf",
                    "externalId": "Eqpj",
                    format!("{ENTERPRISE}:employeeNumber"): "Eqpj",
                    format!("{ENTERPRISE}:manager"): {"value": manager},
                    "active": false
                }
            }])),
        )
        .await
        .expect(200);
    let u = &patched.body;
    assert_eq!(u["displayName"], "Pvlo");
    assert_eq!(u["emails"][0]["value"], "TestBcwqnm@test.microsoft.com");
    assert_eq!(
        u["name"],
        json!({"givenName": "Gtfd", "familyName": "Pkqf"})
    );
    assert_eq!(u["externalId"], "Eqpj");
    assert_eq!(
        u[ENTERPRISE],
        json!({"employeeNumber": "Eqpj", "manager": {"value": manager}})
    );
    assert_eq!(u["active"], false);
    // Real booleans and lower-case ops, the same result as the default dialect.
    let again = c
        .patch(
            &format!("/Users/{id}"),
            &patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await
        .expect(200);
    assert_eq!(
        again.body["meta"]["version"], u["meta"]["version"],
        "no change, no new version"
    );
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn entra_group_operations_replay_in_both_dialects_and_answer_204() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Contoso", &[]).await;
    let c = scim.client(&app, &t);
    let ada = c.create_user("ada@testuser.com").await;
    let bob = c.create_user("bob@testuser.com").await;

    // Create Group: created empty, with Microsoft's own schema URN beside the core one.
    let created = c
        .post(
            "/Groups",
            &json!({
                "schemas": [GROUP_SCHEMA,
                            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": "displayName",
                "meta": {"resourceType": "Group"}
            }),
        )
        .await
        .expect(201);
    let id = created.id();
    assert_eq!(created.body["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(
        created.body["externalId"],
        "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    );
    assert_eq!(created.body["displayName"], "displayName");
    assert_eq!(created.body["meta"]["resourceType"], "Group");

    // Get Group, and Get Group by displayName, without members.
    let got = c
        .get(&format!("/Groups/{id}?excludedAttributes=members"))
        .await
        .expect(200);
    assert_eq!(got.body["displayName"], "displayName");
    assert!(got.body.get("members").is_none());
    let filter = urlencode("displayName eq \"displayName\"");
    let list = c
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={filter}"
        ))
        .await
        .expect(200);
    assert_eq!(list.body["totalResults"], 1);
    assert_eq!(list.body["Resources"][0]["id"], id.as_str());

    // Update Group [Non-member attributes].
    let renamed = c
        .patch(
            &format!("/Groups/{id}"),
            &patch_op(json!([{"op": "Replace", "path": "displayName",
                              "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])),
        )
        .await
        .expect(204);
    assert!(renamed.header("etag").is_some());

    // Update Group [Add Members].
    c.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "Add", "path": "members",
                          "value": [{"$ref": null, "value": ada}, {"$ref": null, "value": bob}]}])),
    )
    .await
    .expect(204);
    let got = c.get(&format!("/Groups/{id}")).await.expect(200);
    assert_eq!(
        got.body["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    let mut members = got.body["members"].as_array().expect("members").clone();
    members.sort_by_key(|m| m["display"].as_str().map(str::to_owned));
    assert_eq!(
        members[0],
        json!({"value": ada, "display": "ada@testuser.com", "type": "User",
               "$ref": format!("{}/Users/{ada}", c.base)})
    );
    assert_eq!(members.len(), 2);

    // Update Group [Remove Members], default dialect: the targets in `value` (an empty list
    // removes nothing, never everyone).
    c.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "Remove", "path": "members", "value": []}])),
    )
    .await
    .expect(204);
    assert_eq!(
        c.get(&format!("/Groups/{id}")).await.body["members"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    c.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "Remove", "path": "members",
                          "value": [{"$ref": null, "value": ada}]}])),
    )
    .await
    .expect(204);
    let got = c.get(&format!("/Groups/{id}")).await.expect(200);
    assert_eq!(got.body["members"][0]["value"], bob.as_str());
    assert_eq!(got.body["members"].as_array().map(Vec::len), Some(1));

    // The compliant dialect removes by path filter; removing again is harmless.
    for _ in 0..2 {
        c.patch(
            &format!("/Groups/{id}"),
            &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}])),
        )
        .await
        .expect(204);
    }
    let got = c.get(&format!("/Groups/{id}")).await.expect(200);
    assert!(got.body.get("members").is_none(), "{}", got.body);

    // Delete Group.
    c.delete(&format!("/Groups/{id}")).await.expect(204);
    c.get(&format!("/Groups/{id}"))
        .await
        .expect_error(404, None);
    scim.stop().await;
    app.stop().await;
}
