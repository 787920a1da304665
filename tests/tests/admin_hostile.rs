//! The admin API against hostile input: every writable field keeps the bounds ingest applies,
//! the database's own error text never reaches the client, and requests refused before any
//! route reads them (a URI too long, a head that is not HTTP, JSON nested too deep) get the
//! same JSON error body as every other refusal.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::limits::MAX_KEY_BYTES;
use scimsync_tests::app::{status_and_json, Services};
use scimsync_tests::raw;
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};
use uuid::Uuid;

/// Text fields of a user an admin may edit.
const USER_TEXT_FIELDS: [&str; 9] = [
    "first_name",
    "last_name",
    "street_address",
    "region",
    "postal_code",
    "business_phone",
    "mobile_phone",
    "fax_phone",
    "employee_number",
];

/// A user the product owns (not SCIM's), and the URL that edits it.
async fn local_user(app: &TestApp, company: Uuid) -> String {
    let id = Uuid::now_v7();
    app.env
        .db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO users (id, company_id, email, first_name, last_name)
             VALUES ($1, $2, 'local@example.com', 'Local', 'User')",
            [id.into(), company.into()],
        ))
        .await
        .expect("a user the product owns");
    format!("{}/api/v1/companies/{company}/users/{id}", app.admin_url)
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    status_and_json(request.send().await.expect("send")).await
}

/// Asserts a refusal: its status, code and field.
fn refused(got: &(u16, Value), status: u16, code: &str, field: Option<&str>, what: &str) {
    let (got_status, body) = got;
    assert_eq!(
        (*got_status, body["error"].as_str(), body["field"].as_str()),
        (status, Some(code), field),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn every_writable_field_keeps_the_bounds_ingest_applies() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let company = app.register_company("org-bounds", &[]).await;
    let user = local_user(&app, company).await;
    let too_long = "x".repeat(MAX_KEY_BYTES + 1);
    let longest = "x".repeat(MAX_KEY_BYTES);
    for field in USER_TEXT_FIELDS {
        let got = send(app.http.patch(&user).json(&json!({ field: too_long }))).await;
        refused(&got, 400, "invalid_field", Some(field), field);
        let message = got.1["message"].as_str().unwrap_or_default();
        assert!(message.contains(&MAX_KEY_BYTES.to_string()), "{message}");
        let got = send(app.http.patch(&user).json(&json!({ field: "a\u{0}b" }))).await;
        refused(&got, 400, "invalid_value", Some(field), field);
        let (status, view) = send(app.http.patch(&user).json(&json!({ field: longest }))).await;
        assert_eq!(
            (status, view[field].as_str()),
            (200, Some(&*longest)),
            "{field}"
        );
    }
    // The two million characters the hostile run sent: refused whole, nothing changed.
    let huge = "x".repeat(2_000_000);
    let got = send(app.http.patch(&user).json(&json!({ "first_name": huge }))).await;
    refused(&got, 413, "payload_too_large", None, "a 2 MB body");
    let (_, view) = send(app.http.get(&user)).await;
    assert_eq!(view["first_name"].as_str(), Some(&*longest));

    let companies = format!("{}/api/v1/companies", app.admin_url);
    let domains: Vec<String> = (0..1001).map(|i| format!("d{i}.example.com")).collect();
    #[rustfmt::skip]
    let registrations = [
        (json!({"name": "A\u{0}B", "stytch_organization_id": "org-x"}), "invalid_value", "name"),
        (json!({"name": "A", "stytch_organization_id": "org\u{0}x"}), "invalid_value", "stytch_organization_id"),
        (json!({"name": "A", "stytch_organization_id": "org-x", "allowed_email_domains": ["exa\u{0}mple.com"]}), "invalid_value", "allowed_email_domains"),
        (json!({"name": "A", "stytch_organization_id": "org-x", "allowed_email_domains": domains}), "invalid_field", "allowed_email_domains"),
    ];
    for (body, code, field) in registrations {
        let got = send(app.http.post(&companies).json(&body)).await;
        refused(&got, 400, code, Some(field), field);
    }

    let group = Uuid::now_v7();
    app.env
        .db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO scim_groups (id, company_id, idp_group_id, display_name) VALUES ($1, $2, 'g-1', 'Custom')",
            [group.into(), company.into()],
        ))
        .await
        .expect("a custom group");
    let group_url = format!(
        "{}/api/v1/companies/{company}/groups/{group}",
        app.admin_url
    );
    let automations = format!("{group_url}/career-automations");
    let got = send(
        app.http
            .post(&automations)
            .json(&json!({"name": "a\u{0}b"})),
    )
    .await;
    refused(&got, 400, "invalid_value", Some("name"), "automation name");
    let got = send(
        app.http
            .post(&automations)
            .json(&json!({"name": "n".repeat(257)})),
    )
    .await;
    refused(&got, 400, "invalid_field", Some("name"), "automation name");
    let level = "admin".repeat(400);
    let got = send(
        app.http
            .put(&group_url)
            .json(&json!({ "permission_level": level })),
    )
    .await;
    refused(
        &got,
        400,
        "invalid_field",
        Some("permission_level"),
        "level",
    );
    assert!(!got.1.to_string().contains(&level), "not echoed: {}", got.1);
    app.stop().await;
}

#[tokio::test]
async fn database_errors_never_reach_the_client() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let company = app.register_company("org-db-errors", &[]).await;
    let c = format!("{}/api/v1/companies/{company}", app.admin_url);
    // Values only PostgreSQL checks: a NUL character in a filter.
    for url in [
        format!("{c}/users?email=a%00b"),
        format!("{c}/events?event_type=a%00b"),
    ] {
        let got = send(app.http.get(&url)).await;
        refused(&got, 400, "invalid_value", None, &url);
        let text = got.1.to_string();
        for internal in [
            "UTF8",
            "0x00",
            "byte sequence",
            "returned from database",
            "Error",
        ] {
            assert!(!text.contains(internal), "{url}: {text}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn an_over_long_uri_and_an_unreadable_head_are_refused_as_json() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    // Just over the API's bound, and past hyper's own (64 KiB), which it answers itself.
    for size in [9 * 1024, 100 * 1024] {
        let target = format!("/api/v1/companies?filler={}", "a".repeat(size));
        let got = raw::exchange(&app.admin_url, &raw::get(&target, "127.0.0.1")).await;
        assert_eq!(
            (got.status, got.body["error"].as_str()),
            (414, Some("uri_too_long")),
            "{size} bytes: {got:?}"
        );
        assert_eq!(got.header("content-type"), Some("application/json"));
    }
    let fits = format!(
        "/api/v1/companies/{}/users?email={}",
        Uuid::new_v4(),
        "a".repeat(7000)
    );
    let got = raw::exchange(&app.admin_url, &raw::get(&fits, "127.0.0.1")).await;
    assert_eq!(
        got.status, 404,
        "a long URI within the bound is read: {got:?}"
    );

    let garbled = b"GET /api/v1/companies HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n";
    let got = raw::exchange(&app.admin_url, garbled).await;
    assert_eq!(
        (got.status, got.body["error"].as_str()),
        (400, Some("malformed_request")),
        "{got:?}"
    );
    assert_eq!(got.header("content-type"), Some("application/json"));
    app.stop().await;
}

#[tokio::test]
async fn json_nested_too_deep_is_malformed_json() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let company = app.register_company("org-nesting", &[]).await;
    let user = local_user(&app, company).await;
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let bodies = [
        format!("{{\"first_name\": {}}}", nested(100_000)),
        format!("{{\"first_name\": {}", "[".repeat(100_000)),
        nested(200),
        "{\"first_name\": \"Ada\"".to_owned(),
    ];
    for body in bodies {
        let request = app
            .http
            .patch(&user)
            .header("content-type", "application/json")
            .body(body.clone());
        let got = send(request).await;
        let head: String = body.chars().take(40).collect();
        refused(&got, 400, "malformed_json", None, &head);
        let message = got.1["message"].as_str().unwrap_or_default();
        assert!(!message.contains("recursion"), "{message}");
    }
    // Valid JSON of the wrong shape is still told apart.
    let request = app
        .http
        .patch(&user)
        .header("content-type", "application/json")
        .body(format!("{{\"first_name\": {}}}", nested(3)));
    let got = send(request).await;
    refused(&got, 422, "invalid_body", None, "a list for a name");
    app.stop().await;
}
