//! SCIM tenants and tokens (SPEC §7): a company needs no Stytch organisation to provision through
//! the SCIM door; its bearer tokens are shown once, stored as hashes, several active for
//! rotation, revocable at once, and each speaks only for its own company.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_db::scim_tokens;
use scimsync_tests::app::status_and_json;
use scimsync_tests::TestApp;
use serde_json::{json, Value};

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    status_and_json(
        app.http
            .post(format!("{}{path}", app.admin_url))
            .json(&body)
            .send()
            .await
            .expect("post"),
    )
    .await
}

async fn delete(app: &TestApp, path: &str) -> (u16, Value) {
    status_and_json(
        app.http
            .delete(format!("{}{path}", app.admin_url))
            .send()
            .await
            .expect("delete"),
    )
    .await
}

async fn company_without_organisation(app: &TestApp, name: &str) -> String {
    let (status, body) = post(
        app,
        "/api/v1/companies",
        json!({"name": name, "allowed_email_domains": ["example.com"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["stytch_organization_id"].is_null(), "{body}");
    body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_company_of_the_scim_door_needs_no_stytch_organisation() {
    let app = TestApp::spawn().await;
    let first = company_without_organisation(&app, "Direct One").await;
    // Several companies without one: no uniqueness clash on the missing id.
    let second = company_without_organisation(&app, "Direct Two").await;
    assert_ne!(first, second);
    let list = app.get("/api/v1/companies").await;
    assert_eq!(list["companies"].as_array().expect("list").len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_token_is_shown_once_listed_by_prefix_and_revoked_at_once() {
    let app = TestApp::spawn().await;
    let company = company_without_organisation(&app, "Tokens Inc").await;
    let path = format!("/api/v1/companies/{company}/scim/tokens");

    let (status, created) = post(&app, &path, json!({"label": "Entra production"})).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("scimsync_"), "{token}");
    assert_eq!(token.len(), "scimsync_".len() + 43, "256 random bits");
    assert!(token.starts_with(created["prefix"].as_str().expect("prefix")));
    // Stored only as a hash: the secret is nowhere in the database.
    assert_eq!(
        app.env
            .count(&format!(
                "SELECT count(*) AS n FROM scim_tokens
                 WHERE token_prefix = '{token}' OR label = '{token}'
                    OR encode(token_hash, 'escape') LIKE '%{token}%'"
            ))
            .await,
        0
    );
    let listed = app.get(&path).await;
    let text = listed.to_string();
    assert!(
        !text.contains(&token),
        "a listing never shows the secret: {text}"
    );
    assert_eq!(listed["tokens"][0]["label"], "Entra production");
    assert!(listed["tokens"][0]["revoked_at"].is_null());

    let found = scim_tokens::authenticate(&app.env.db, &token)
        .await
        .expect("lookup")
        .expect("the token authenticates");
    assert_eq!(found.company_id.to_string(), company);

    let id = created["id"].as_str().expect("id");
    let (status, _) = delete(&app, &format!("{path}/{id}")).await;
    assert_eq!(status, 204);
    assert!(scim_tokens::authenticate(&app.env.db, &token)
        .await
        .expect("lookup")
        .is_none());
    let (status, body) = delete(&app, &format!("{path}/{id}")).await;
    assert_eq!(status, 404, "revoked already: {body}");
    let listed = app.get(&path).await;
    assert!(listed["tokens"][0]["revoked_at"].is_string(), "{listed}");
    app.stop().await;
}

#[tokio::test]
async fn tokens_rotate_stay_bounded_and_belong_to_one_company() {
    let app = TestApp::spawn().await;
    let a = company_without_organisation(&app, "A").await;
    let b = company_without_organisation(&app, "B").await;
    let path = |c: &str| format!("/api/v1/companies/{c}/scim/tokens");

    let mut tokens = Vec::new();
    for _ in 0..scim_tokens::MAX_ACTIVE {
        // An empty POST creates an unlabelled token.
        let response = app
            .http
            .post(format!("{}{}", app.admin_url, path(&a)))
            .send()
            .await
            .expect("post");
        let (status, created) = status_and_json(response).await;
        assert_eq!(status, 201, "{created}");
        tokens.push(created);
    }
    // Every one of them works at once (rotation).
    for created in &tokens {
        let found = scim_tokens::authenticate(&app.env.db, created["token"].as_str().unwrap())
            .await
            .unwrap();
        assert!(found.is_some());
    }
    let (status, body) = post(&app, &path(&a), json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "too_many_tokens");

    // B cannot revoke A's token, nor learn whether it exists.
    let id = tokens[0]["id"].as_str().unwrap();
    let (status, _) = delete(&app, &format!("{}/{id}", path(&b))).await;
    assert_eq!(status, 404);
    assert!(app.get(&path(&b)).await["tokens"]
        .as_array()
        .unwrap()
        .is_empty());

    let (status, body) = post(&app, &path(&b), json!({"label": "x".repeat(257)})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "label");
    let (status, body) = post(&app, &path(&b), json!({"labl": "typo"})).await;
    assert_eq!(
        status, 422,
        "an unknown field, as everywhere in the API: {body}"
    );
    let unknown = uuid::Uuid::now_v7();
    let (status, _) = post(&app, &path(&unknown.to_string()), json!({})).await;
    assert_eq!(status, 404);
    app.stop().await;
}
