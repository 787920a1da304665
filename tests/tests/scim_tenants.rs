//! Tenants of the SCIM door (SPEC §7, R18, R4): a token speaks for one company, and nothing it
//! sends reads or changes another's; userName is unique per company, case-insensitively; a
//! token that does not authenticate gets one answer whatever exists; each company has its own
//! rate; a company's email domains are enforced at once.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::Method;
use scimsync_tests::scim::{
    new_token, outbox_depth, patch_op, start, start_with, tenant, ScimClient, GROUP_SCHEMA,
    USER_SCHEMA,
};
use scimsync_tests::wait_until;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn two_tenants_with_colliding_user_names_and_external_ids_each_see_only_their_own() {
    let (app, scim) = start().await;
    let a = scim.client(&app, &tenant(&app, "A", &[]).await);
    let b = scim.client(&app, &tenant(&app, "B", &[]).await);
    let body = json!({"schemas": [USER_SCHEMA], "userName": "same@example.com",
                      "externalId": "ext-1", "title": "in A"});
    let in_a = a.post("/Users", &body).await.expect(201).id();
    let mut other = body.clone();
    other["title"] = json!("in B");
    // The same userName in another company is another user.
    let in_b = b.post("/Users", &other).await.expect(201).id();
    assert_ne!(in_a, in_b);

    for (client, mine) in [(&a, &in_a), (&b, &in_b)] {
        for filter in [
            "userName eq \"SAME@example.com\"",
            "externalId eq \"ext-1\"",
            "title sw \"in\"",
            "userName pr",
        ] {
            assert_eq!(
                &client.find("/Users", filter).await,
                &vec![mine.clone()],
                "{filter}"
            );
        }
        let all = client.get("/Users").await.expect(200);
        assert_eq!(all.body["totalResults"], 1);
    }

    // Another company's id is unknown here, whatever the method.
    let theirs = format!("/Users/{in_b}");
    a.get(&theirs).await.expect_error(404, None);
    let unknown_id = uuid::Uuid::now_v7().to_string();
    let unknown = a
        .get(&format!("/Users/{unknown_id}"))
        .await
        .expect_error(404, None);
    let theirs_answer = a.get(&theirs).await;
    assert_eq!(
        theirs_answer.body.to_string().replace(&in_b, "ID"),
        unknown.body.to_string().replace(&unknown_id, "ID"),
        "the same answer as for an id that does not exist"
    );
    a.put(&theirs, &body).await.expect_error(404, None);
    a.patch(
        &theirs,
        &patch_op(json!([{"op": "replace", "path": "title", "value": "x"}])),
    )
    .await
    .expect_error(404, None);
    a.delete(&theirs).await.expect_error(404, None);
    a.get(&format!("/Users?filter=id%20eq%20%22{in_b}%22"))
        .await
        .expect(200);
    assert!(a
        .find("/Users", &format!("id eq \"{in_b}\""))
        .await
        .is_empty());
    // Nor can it be made a member of one of A's groups.
    a.post(
        "/Groups",
        &json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": in_b}]}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    // B's user is untouched.
    let still = b.get(&theirs).await.expect(200);
    assert_eq!(still.body["title"], "in B");
    assert_eq!(still.body["meta"]["version"], "W/\"1\"");
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn user_name_is_unique_per_company_case_insensitively_and_never_a_500() {
    let (app, scim) = start().await;
    let c = scim.client(&app, &tenant(&app, "A", &[]).await);
    let first = c.create_user("Ada@Example.com").await;
    c.post("/Users", &json!({"userName": "ada@EXAMPLE.COM"}))
        .await
        .expect_error(409, Some("uniqueness"));
    let second = c.create_user("bob@example.com").await;
    c.patch(
        &format!("/Users/{second}"),
        &patch_op(json!([{"op": "replace", "path": "userName", "value": "ADA@example.com"}])),
    )
    .await
    .expect_error(409, Some("uniqueness"));
    c.put(
        &format!("/Users/{second}"),
        &json!({"userName": "ada@example.com"}),
    )
    .await
    .expect_error(409, Some("uniqueness"));
    // A user may change the case of its own userName.
    c.patch(
        &format!("/Users/{first}"),
        &patch_op(json!([{"op": "replace", "path": "userName", "value": "ada@example.com"}])),
    )
    .await
    .expect(200);
    // Concurrent creations of one userName: one wins, the others are told why.
    let mut racing = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = c.clone();
        racing.spawn(async move {
            c.post("/Users", &json!({"userName": "race@example.com"}))
                .await
                .status
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = racing.join_next().await {
        statuses.push(status.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(
        app.env
            .count("SELECT count(*) AS n FROM directory_users WHERE user_name = 'race@example.com'")
            .await,
        1
    );
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_missing_wrong_or_revoked_token_gets_the_same_401() {
    let (app, scim) = start().await;
    let t = tenant(&app, "A", &[]).await;
    let c = scim.client(&app, &t);
    c.get("/Users").await.expect(200);
    let revoked = {
        let (id, token) = new_token(&app, t.company_id).await;
        let client = ScimClient {
            token: Some(token),
            ..c.clone()
        };
        client.get("/Users").await.expect(200);
        let status = app
            .http
            .delete(format!(
                "{}/api/v1/companies/{}/scim/tokens/{id}",
                app.admin_url, t.company_id
            ))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 204);
        // Every replica forgets the token when the revocation's notification reaches it:
        // within moments, not at the next cache expiry.
        wait_until(
            "the revoked token to be refused",
            Duration::from_secs(5),
            || async { (client.get("/Users").await.status == 401).then_some(()) },
        )
        .await;
        client
    };
    let wrong = ScimClient {
        token: Some(format!("scimsync_{}", "A".repeat(43))),
        ..c.clone()
    };
    let garbage = ScimClient {
        token: Some("not a token at all".into()),
        ..c.clone()
    };
    let missing = ScimClient {
        token: None,
        ..c.clone()
    };
    let mut answers = Vec::new();
    for client in [&revoked, &wrong, &garbage, &missing] {
        for (method, path) in [
            (Method::GET, "/Users".to_owned()),
            (Method::GET, format!("/Users/{}", uuid::Uuid::now_v7())),
            (Method::DELETE, "/Groups/x".to_owned()),
        ] {
            let a = ScimClient::send(client.request(method, &path)).await;
            answers.push((
                a.status,
                a.header("www-authenticate").map(str::to_owned),
                a.body,
            ));
        }
    }
    let first = answers[0].clone();
    assert_eq!(first.0, 401);
    assert_eq!(first.1.as_deref(), Some("Bearer realm=\"scimsync\""));
    assert_eq!(
        first.2["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    for answer in &answers {
        assert_eq!(answer, &first);
    }
    // The token that works still does.
    c.get("/Users").await.expect(200);
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_company_over_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let (app, scim) = start_with(|s| {
        s.scim.rate_per_second = 1;
        s.scim.rate_burst = 3;
    })
    .await;
    let a = scim.client(&app, &tenant(&app, "A", &[]).await);
    let b = scim.client(&app, &tenant(&app, "B", &[]).await);
    let mut throttled = None;
    for _ in 0..10 {
        let answer = a.get("/Users").await;
        if answer.status == 429 {
            throttled = Some(answer);
            break;
        }
        assert_eq!(answer.status, 200);
    }
    let throttled = throttled.expect("a 429 within 10 requests at a burst of 3");
    let retry: u64 = throttled
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let throttled = throttled.expect_error(429, None);
    assert!(throttled.body["detail"]
        .as_str()
        .unwrap()
        .contains("Retry-After"));
    b.get("/Users").await.expect(200);
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_user_outside_the_company_s_email_domains_is_refused_at_once_and_nothing_is_stored() {
    let (app, scim) = start().await;
    let c = scim.client(&app, &tenant(&app, "Contoso", &["contoso.com"]).await);
    let refused = c
        .post(
            "/Users",
            &json!({"userName": "ada", "emails": [{"value": "ada@fabrikam.com", "type": "work"}]}),
        )
        .await
        .expect_error(400, Some("invalidValue"));
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("fabrikam.com"),
        "{}",
        refused.body
    );
    // userName is the email when there is no other.
    c.post("/Users", &json!({"userName": "bob@fabrikam.com"}))
        .await
        .expect_error(400, Some("invalidValue"));
    assert_eq!(
        app.env
            .count("SELECT count(*) AS n FROM directory_users")
            .await,
        0
    );
    assert_eq!(outbox_depth(&app).await, 0);

    let id = c.create_user("ada@Contoso.com").await;
    let before = c.get(&format!("/Users/{id}")).await.expect(200);
    c.patch(
        &format!("/Users/{id}"),
        &patch_op(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value",
                          "value": "ada@fabrikam.com"}]),
        ),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    c.put(
        &format!("/Users/{id}"),
        &json!({"userName": "ada@fabrikam.com"}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    let after = c.get(&format!("/Users/{id}")).await.expect(200);
    assert_eq!(after.body, before.body);
    scim.stop().await;
    app.stop().await;
}
