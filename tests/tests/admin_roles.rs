//! Who may do what through the JSON API: named admin tokens with roles (a viewer reads, an
//! operator changes), the single token of earlier versions still an operator, and the audit
//! trail of every change people make, never with a secret in it.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::app::Services;
use scimsync_tests::console::{self, OPERATOR_TOKEN, VIEWER_TOKEN};
use scimsync_tests::TestApp;
use serde_json::{json, Value};

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", app.admin_url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn register(app: &TestApp, name: &str) -> String {
    let (status, body) = call(
        app,
        reqwest::Method::POST,
        "/api/v1/companies",
        OPERATOR_TOKEN,
        Some(json!({"name": name, "allowed_email_domains": ["example.com"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_viewer_token_reads_everything_and_is_refused_every_change() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let company = register(&app, "Readable").await;
    use reqwest::Method;
    let (status, body) = call(&app, Method::GET, "/api/v1/companies", VIEWER_TOKEN, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["companies"][0]["name"], "Readable");
    let (status, _) = call(&app, Method::GET, "/api/v1/audit", VIEWER_TOKEN, None).await;
    assert_eq!(status, 200);
    let group = uuid::Uuid::nil();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/companies".to_owned(),
            Some(json!({"name": "No"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/companies/{company}"),
            Some(json!({"name": "No"})),
        ),
        (
            Method::POST,
            format!("/api/v1/companies/{company}/scim/tokens"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/companies/{company}/groups/{group}"),
            Some(json!({"permission_level": "admin"})),
        ),
    ] {
        let (status, refusal) = call(&app, method.clone(), &path, VIEWER_TOKEN, body).await;
        assert_eq!(status, 403, "{method} {path}: {refusal}");
        assert_eq!(refusal["error"], "forbidden", "{method} {path}");
    }
    let (_, company_now) = call(&app, Method::GET, "/api/v1/companies", VIEWER_TOKEN, None).await;
    assert_eq!(
        company_now["companies"][0]["name"], "Readable",
        "nothing changed"
    );
    let (status, _) = call(&app, Method::GET, "/api/v1/companies", "not-a-token", None).await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test]
async fn the_single_token_of_earlier_versions_still_works_as_an_operator_named_admin() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |s| {
        s.admin.token = "legacy-single-token".to_owned().into();
        s.admin.tokens = console::tokens_setting().into();
    })
    .await;
    let (status, body) = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/companies",
        "legacy-single-token",
        Some(json!({"name": "Legacy"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (_, audit) = call(
        &app,
        reqwest::Method::GET,
        "/api/v1/audit",
        OPERATOR_TOKEN,
        None,
    )
    .await;
    assert_eq!(audit["entries"][0]["actor"], "admin");
    assert_eq!(audit["entries"][0]["role"], "operator");
    app.stop().await;
}

#[tokio::test]
async fn a_company_is_edited_with_patch_validated_as_a_registration() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let company = register(&app, "Before").await;
    let path = format!("/api/v1/companies/{company}");
    let (status, body) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        OPERATOR_TOKEN,
        Some(
            json!({"name": "  After  ", "allowed_email_domains": ["@Example.org", "example.org"]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "After");
    assert_eq!(body["allowed_email_domains"], json!(["example.org"]));
    let (status, body) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        OPERATOR_TOKEN,
        Some(json!({"allowed_email_domains": ["not a domain"]})),
    )
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (400, json!("allowed_email_domains")),
        "{body}"
    );
    let (status, body) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        OPERATOR_TOKEN,
        Some(json!({"name": ""})),
    )
    .await;
    assert_eq!(
        (status, body["field"].clone()),
        (400, json!("name")),
        "{body}"
    );
    let (status, body) = call(
        &app,
        reqwest::Method::PATCH,
        &path,
        OPERATOR_TOKEN,
        Some(json!({"stytch_organization_id": "x"})),
    )
    .await;
    assert_eq!(status, 422, "unknown fields are refused: {body}");
    let missing = format!("/api/v1/companies/{}", uuid::Uuid::now_v7());
    let (status, _) = call(
        &app,
        reqwest::Method::PATCH,
        &missing,
        OPERATOR_TOKEN,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn every_change_is_audited_with_who_and_what_and_never_a_secret() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let company = register(&app, "Audited").await;
    let (status, created) = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/companies/{company}/scim/tokens"),
        OPERATOR_TOKEN,
        Some(json!({"label": "Entra"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["token"].as_str().expect("token").to_owned();
    let (status, _) = call(
        &app,
        reqwest::Method::DELETE,
        &format!(
            "/api/v1/companies/{company}/scim/tokens/{}",
            created["id"].as_str().expect("id")
        ),
        OPERATOR_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/companies/{company}"),
        OPERATOR_TOKEN,
        Some(json!({"name": "Audited Ltd"})),
    )
    .await;
    assert_eq!(status, 200);

    let (status, trail) = call(
        &app,
        reqwest::Method::GET,
        "/api/v1/audit",
        VIEWER_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200, "{trail}");
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        actions,
        [
            "company.update",
            "scim_token.revoke",
            "scim_token.create",
            "company.register"
        ],
        "newest first"
    );
    let update = &trail["entries"][0];
    assert_eq!(update["actor"], "alice");
    assert_eq!(update["role"], "operator");
    assert_eq!(update["via"], "api");
    assert_eq!(update["company_id"], company.as_str());
    assert_eq!(update["before"]["name"], "Audited");
    assert_eq!(update["after"]["name"], "Audited Ltd");
    assert_eq!(trail["entries"][2]["after"]["label"], "Entra");
    assert!(
        !trail.to_string().contains(&secret),
        "the token never appears: {trail}"
    );
    assert!(
        !trail.to_string().contains(&secret[9..]),
        "not even its secret part"
    );

    // Filters and pages.
    let (_, only) = call(
        &app,
        reqwest::Method::GET,
        "/api/v1/audit?action=scim_token.create",
        OPERATOR_TOKEN,
        None,
    )
    .await;
    assert_eq!(only["entries"].as_array().map(Vec::len), Some(1));
    let (_, first) = call(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/audit?company_id={company}&limit=3"),
        OPERATOR_TOKEN,
        None,
    )
    .await;
    assert_eq!(first["entries"].as_array().map(Vec::len), Some(3));
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (_, rest) = call(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/audit?company_id={company}&limit=3&cursor={cursor}"),
        OPERATOR_TOKEN,
        None,
    )
    .await;
    assert_eq!(rest["entries"][0]["action"], "company.register");
    assert_eq!(rest["next_cursor"], Value::Null);
    let (status, body) = call(
        &app,
        reqwest::Method::GET,
        "/api/v1/audit?who=alice",
        OPERATOR_TOKEN,
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_query"))
    );
    app.stop().await;
}
