//! Lists and searches (RFC 7644 §3.4.2, §3.4.3): the RFC's filter, paging and sorting examples.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::scim::{start, tenant, urlencode, USER_SCHEMA};
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
    c.post("/.search", &json!({"filter": "userName pr"}))
        .await
        .expect_error(501, None);
    scim.stop().await;
    app.stop().await;
}
