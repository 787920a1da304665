//! Lists and searches (RFC 7644 §3.4.2, §3.4.3): the RFC's filter, paging and sorting examples,
//! `meta` timestamps as filters, and a search at the root across Users and Groups.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::scim::{patch_op, start, tenant, urlencode, Answer, USER_SCHEMA};
use serde_json::{json, Value};

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
    scim.stop().await;
    app.stop().await;
}

/// The ids of a ListResponse's resources, in order.
fn ids_of(answer: &Answer) -> Vec<String> {
    answer.body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources in {}", answer.body))
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn filters_on_meta_created_and_last_modified_compare_the_timestamps_shown() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    let mut users = Vec::new();
    for name in ["a@example.com", "b@example.com", "c@example.com"] {
        let id = c.create_user(name).await;
        let read = c.get(&format!("/Users/{id}")).await.expect(200);
        users.push((id, read.body["meta"].clone()));
    }
    let ids =
        |picked: &[usize]| -> Vec<String> { picked.iter().map(|&i| users[i].0.clone()).collect() };
    let created = users[1].1["created"].as_str().unwrap().to_owned();
    for (filter, expected) in [
        (format!("meta.created eq \"{created}\""), ids(&[1])),
        (format!("meta.created ge \"{created}\""), ids(&[1, 2])),
        (format!("meta.created gt \"{created}\""), ids(&[2])),
        (format!("meta.created lt \"{created}\""), ids(&[0])),
        (
            format!("meta.created le \"{created}\" and meta.created pr"),
            ids(&[0, 1]),
        ),
    ] {
        assert_eq!(c.find("/Users", &filter).await, expected, "{filter}");
    }

    // A change moves lastModified, not created.
    let patched = c
        .patch(
            &format!("/Users/{}", users[0].0),
            &patch_op(json!([{"op": "replace", "path": "title", "value": "Boss"}])),
        )
        .await
        .expect(200);
    let modified = patched.body["meta"]["lastModified"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(patched.body["meta"]["created"], users[0].1["created"]);
    let last_of_c = users[2].1["lastModified"].as_str().unwrap();
    assert_eq!(
        c.find("/Users", &format!("meta.lastModified gt \"{last_of_c}\""))
            .await,
        ids(&[0])
    );
    assert_eq!(
        c.find("/Users", &format!("meta.lastModified eq \"{modified}\""))
            .await,
        ids(&[0])
    );
    let sorted = c
        .get("/Users?sortBy=meta.lastModified&sortOrder=descending")
        .await
        .expect(200);
    assert_eq!(ids_of(&sorted), ids(&[0, 2, 1]));

    // Groups have them too.
    let group = c
        .post("/Groups", &json!({"displayName": "Ops"}))
        .await
        .expect(201);
    let group_created = group.body["meta"]["created"].as_str().unwrap();
    assert_eq!(
        c.find("/Groups", &format!("meta.created ge \"{group_created}\""))
            .await,
        vec![group.id()]
    );
    assert!(c
        .find(
            "/Groups",
            &format!("meta.lastModified lt \"{group_created}\"")
        )
        .await
        .is_empty());
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_search_at_the_root_finds_users_then_groups_paged_across_both() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    let ada = c.create_user("ada@example.com").await;
    let opal = c
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "opal@example.com",
                    "displayName": "Opal Jones"}),
        )
        .await
        .expect(201)
        .id();
    let ops = c
        .post(
            "/Groups",
            &json!({"displayName": "Ops", "members": [{"value": ada}]}),
        )
        .await
        .expect(201)
        .id();
    let admins = c
        .post("/Groups", &json!({"displayName": "Admins"}))
        .await
        .expect(201)
        .id();
    // Another company's resources are not found.
    let other = tenant(&app, "Other", &[]).await;
    scim.client(&app, &other)
        .create_user("ada@example.com")
        .await;

    let search = |body: Value| {
        let c = c.clone();
        async move { c.post("/.search", &body).await }
    };
    let request = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    let all = search(json!({"schemas": [request]})).await.expect(200);
    assert_eq!(all.body["totalResults"], 4);
    assert_eq!(
        ids_of(&all),
        [ada.clone(), opal.clone(), ops.clone(), admins.clone()]
    );
    let types: Vec<&str> = all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["User", "User", "Group", "Group"]);
    assert_eq!(
        all.body["Resources"][2]["members"][0]["value"],
        ada.as_str()
    );

    // A page across the two types.
    let page = search(json!({"startIndex": 2, "count": 2}))
        .await
        .expect(200);
    assert_eq!(page.body["totalResults"], 4);
    assert_eq!(page.body["startIndex"], 2);
    assert_eq!(ids_of(&page), [opal.clone(), ops.clone()]);
    let last = search(json!({"startIndex": 4, "count": 10}))
        .await
        .expect(200);
    assert_eq!(ids_of(&last), vec![admins.clone()]);
    let total = search(json!({"count": 0})).await.expect(200);
    assert_eq!(total.body["totalResults"], 4);
    assert_eq!(total.body["Resources"], json!([]));

    // A filter applies to each type that has its attributes; a type without them has no match.
    let named = search(json!({"filter": "displayName sw \"Op\""}))
        .await
        .expect(200);
    assert_eq!(ids_of(&named), [opal.clone(), ops.clone()]);
    let users_only = search(json!({"filter": "userName sw \"ada\""}))
        .await
        .expect(200);
    assert_eq!(ids_of(&users_only), vec![ada.clone()]);
    assert_eq!(users_only.body["totalResults"], 1);
    let projected =
        search(json!({"attributes": ["displayName"], "filter": "displayName eq \"Ops\""}))
            .await
            .expect(200);
    let group = &projected.body["Resources"][0];
    assert_eq!(group["displayName"], "Ops");
    assert!(group.get("members").is_none(), "{group}");

    search(json!({"filter": "nope eq 1"}))
        .await
        .expect_error(400, Some("invalidFilter"));
    search(json!({"filter": "displayName eq"}))
        .await
        .expect_error(400, Some("invalidFilter"));
    // Sorting across types is not offered (each type's own search sorts).
    search(json!({"sortBy": "displayName"}))
        .await
        .expect_error(400, Some("invalidValue"));
    scim.stop().await;
    app.stop().await;
}
