//! The RFC 7644 examples that apply to this service: creating, reading, replacing and deleting a
//! User, filters, paging, sorting and `.search`, Group members by PATCH, and their errors.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::scim::{
    patch_op, start, tenant, urlencode, ScimClient, GROUP_SCHEMA, USER_SCHEMA,
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
async fn rfc7644_filters_page_sort_and_search() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    let people = [
        ("john", "Employee", "john@example.com", "O'Malley"),
        ("jsmith", "Employee", "smith@example.org", "Smith"),
        (
            "asmithers",
            "Contractor",
            "asmithers@example.com",
            "Smithers",
        ),
    ];
    let mut ids = Vec::new();
    for (user, kind, email, family) in people {
        let answer = c
            .post(
                "/Users",
                &json!({"schemas": [USER_SCHEMA], "userName": user, "userType": kind,
                        "displayName": format!("{user} {family}"),
                        "name": {"familyName": family},
                        "emails": [{"value": email, "type": "work"}],
                        "title": if user == "john" { json!("Tour Guide") } else { Value::Null }}),
            )
            .await
            .expect(201);
        ids.push(answer.id());
    }
    let find = |f: &'static str| {
        let c = c.clone();
        async move { c.find("/Users", f).await }
    };
    // §3.4.2.2's examples.
    assert_eq!(find("userName Eq \"john\"").await, vec![ids[0].clone()]);
    assert_eq!(find("title pr").await, vec![ids[0].clone()]);
    assert_eq!(
        find("name.familyName co \"O'Malley\"").await,
        vec![ids[0].clone()]
    );
    assert_eq!(find("userName sw \"J\"").await, ids[..2].to_vec());
    assert_eq!(
        find("meta.lastModified gt \"2011-05-13T04:42:34Z\"").await,
        ids
    );
    assert_eq!(
        find("emails[type eq \"work\" and value co \"@example.com\"]").await,
        vec![ids[0].clone(), ids[2].clone()]
    );
    assert_eq!(
        find("userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")")
            .await,
        ids[..2].to_vec()
    );
    assert_eq!(
        find("userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")")
            .await,
        Vec::<String>::new()
    );
    c.get(&format!("/Users?filter={}", urlencode("nope eq 1")))
        .await
        .expect_error(400, Some("invalidFilter"));
    c.get(&format!("/Users?filter={}", urlencode("userName eq")))
        .await
        .expect_error(400, Some("invalidFilter"));

    // §3.4.2.4 paging, and count=0 for the total only.
    let page = c.get("/Users?startIndex=2&count=1").await.expect(200);
    assert_eq!(page.body["totalResults"], 3);
    assert_eq!(page.body["startIndex"], 2);
    assert_eq!(page.body["itemsPerPage"], 1);
    assert_eq!(page.body["Resources"][0]["id"], ids[1].as_str());
    let total = c.get("/Users?count=0").await.expect(200);
    assert_eq!(total.body["totalResults"], 3);
    assert_eq!(total.body["Resources"], json!([]));
    let beyond = c.get("/Users?startIndex=10").await.expect(200);
    assert_eq!(beyond.body["totalResults"], 3);
    assert_eq!(beyond.body["itemsPerPage"], 0);

    // §3.4.2.3 sorting.
    let sorted = c
        .get("/Users?sortBy=name.familyName&sortOrder=descending&attributes=userName")
        .await
        .expect(200);
    let names: Vec<&str> = sorted.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["asmithers", "jsmith", "john"]);
    c.get("/Users?sortBy=nope")
        .await
        .expect_error(400, Some("invalidValue"));

    // §3.4.3 search by POST.
    let searched = c
        .post(
            "/Users/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "attributes": ["displayName", "userName"],
                    "filter": "displayName sw \"jsmith\"", "startIndex": 1, "count": 10}),
        )
        .await
        .expect(200);
    assert_eq!(searched.body["totalResults"], 1);
    let found = &searched.body["Resources"][0];
    assert_eq!(found["userName"], "jsmith");
    assert!(found.get("emails").is_none());
    c.post("/.search", &json!({"filter": "userName pr"}))
        .await
        .expect_error(501, None);
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
