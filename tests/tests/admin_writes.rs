//! The admin API's writes: company registration and user edits, and the rules they keep.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::app::{status_and_json, Services};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    let request = app
        .http
        .post(format!("{}/api/v1/companies", app.admin_url))
        .json(&body);
    status_and_json(request.send().await.expect("post")).await
}

#[tokio::test]
async fn company_registration_validates_fields_and_refuses_duplicates() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let (status, body) = post(&app, json!({"name": "", "stytch_organization_id": "org"})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("name")));
    let (status, body) = post(&app, json!({"name": "A", "stytch_organization_id": "org", "allowed_email_domains": ["not a domain"]})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("allowed_email_domains"))
    );
    let (status, body) = post(
        &app,
        json!({"name": "A", "stytch_organization_id": "org", "surprise": 1}),
    )
    .await;
    assert_eq!(status, 422, "unknown fields are refused");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("surprise"),
        "{body}"
    );
    let long = "n".repeat(257);
    let (status, body) = post(&app, json!({"name": long, "stytch_organization_id": "org"})).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("name")));
    let long = "o".repeat(1025);
    let (status, body) = post(&app, json!({"name": "A", "stytch_organization_id": long})).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("stytch_organization_id"))
    );
    let (status, body) = post(
        &app,
        json!({"name": "Nul\u{0}Corp", "stytch_organization_id": "org"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_value")),
        "PostgreSQL stores no NUL: {body}"
    );
    let (status, body) = post(&app, json!({"name": "A", "stytch_organization_id": "org", "allowed_email_domains": ["@Example.COM"]})).await;
    assert_eq!(status, 201);
    assert_eq!(body["allowed_email_domains"], json!(["example.com"]));
    let (status, body) = post(&app, json!({"name": "B", "stytch_organization_id": "org"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("organization_exists"))
    );
    let list = app.get("/api/v1/companies").await;
    assert_eq!(list["companies"].as_array().map(Vec::len), Some(1));
    let missing = app
        .http
        .get(format!(
            "{}/api/v1/companies/{}/users",
            app.admin_url,
            uuid::Uuid::new_v4()
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn an_admin_edit_keeps_the_company_rules() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let company = app.register_company("org-edits", &["example.com"]).await;
    let id = uuid::Uuid::now_v7();
    app.env
        .db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO users (id, company_id, email, last_name) VALUES ($1, $2, 'local@example.com', 'Local')",
            [id.into(), company.into()],
        ))
        .await
        .expect("a user the product owns");
    let url = format!("{}/api/v1/companies/{company}/users/{id}", app.admin_url);
    let patch = |body: Value| {
        let request = app.http.patch(&url).json(&body);
        async move {
            let response = request.send().await.expect("patch");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let long = format!("{}@example.com", "a".repeat(1100));
    #[rustfmt::skip]
    let refused = [
        (json!({"email": "local@elsewhere.org"}), "email", "example.com"),
        (json!({"email": long}), "email", "1024"),
        (json!({"email": "no-at-sign"}), "email", "email address"),
        (json!({"last_name": "  "}), "last_name", "empty"),
    ];
    for (body, field, names) in refused {
        let (status, error) = patch(body.clone()).await;
        assert_eq!(
            (status, error["field"].as_str()),
            (400, Some(field)),
            "{body}: {error}"
        );
        assert!(
            error["message"]
                .as_str()
                .unwrap_or_default()
                .contains(names),
            "{error}"
        );
    }
    let (status, user) = patch(json!({"email": "moved@Example.com", "last_name": "Moved"})).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        (user["email"].as_str(), user["last_name"].as_str()),
        (Some("moved@Example.com"), Some("Moved"))
    );
    app.stop().await;
}
