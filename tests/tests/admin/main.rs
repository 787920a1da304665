//! The admin API: what it reads (pages and filters in `reads`, sync status in `status`),
//! authentication, OpenAPI and refusals (its writes: admin_writes.rs).

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod reads;
mod status;

use scimsync_tests::app::Services;
use scimsync_tests::proxy::Proxy;
use scimsync_tests::TestApp;
use serde_json::{json, Value};

/// With no token, the API may listen only where nobody else can reach it.
#[tokio::test]
async fn without_a_token_the_api_refuses_to_listen_beyond_loopback() {
    let env = scimsync_tests::env::TestEnv::new().await;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let refused = scimsync_admin_api::run(
        env.settings.clone(),
        listener,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .expect_err("no token on a reachable address");
    assert!(
        refused.to_string().contains("SCIMSYNC__ADMIN__TOKEN"),
        "{refused}"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn a_configured_token_is_required_and_openapi_documents_every_endpoint() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |s| {
        s.admin.token = "s3cret-token".to_owned().into();
    })
    .await;
    let url = format!("{}/api/v1/companies", app.admin_url);
    assert_eq!(app.http.get(&url).send().await.expect("get").status(), 401);
    assert_eq!(
        app.http
            .get(&url)
            .bearer_auth("wrong")
            .send()
            .await
            .expect("get")
            .status(),
        401
    );
    assert_eq!(
        app.http
            .get(&url)
            .bearer_auth("s3cret-token")
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    assert_eq!(
        app.http
            .get(format!("{}/healthz", app.admin_url))
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    let doc = app.get("/openapi.json").await;
    for path in [
        "/api/v1/companies",
        "/api/v1/companies/{company_id}/users",
        "/api/v1/companies/{company_id}/users/{user_id}",
        "/api/v1/companies/{company_id}/events",
        "/api/v1/companies/{company_id}/scim/status",
        "/api/v1/companies/{company_id}/scim/tokens",
        "/api/v1/companies/{company_id}/scim/tokens/{token_id}",
        "/api/v1/companies/{company_id}",
        "/api/v1/audit",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    // Every operation documents its refusals, each with the error body.
    let error = json!({"$ref": "#/components/schemas/Error"});
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            assert!(responses.contains_key("401"), "{method} {path}: 401");
            assert!(responses.contains_key("503"), "{method} {path}: 503");
            if method != "get" {
                assert!(responses.contains_key("403"), "{method} {path}: 403");
            }
            if operation["parameters"]
                .as_array()
                .is_some_and(|p| !p.is_empty())
            {
                assert!(responses.contains_key("400"), "{method} {path}: 400");
            }
            for (code, response) in responses {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.is_empty(),
                    "{method} {path} {code}: description"
                );
            }
            for (code, response) in responses.iter().filter(|(c, _)| !c.starts_with('2')) {
                let schema = &response["content"]["application/json"]["schema"];
                assert_eq!(schema, &error, "{method} {path} {code}");
            }
            operations += 1;
        }
    }
    assert_eq!(operations, 19, "every handler is in the document");
    assert!(doc["components"]["schemas"]["Error"]["properties"]["error"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn malformed_ids_bad_queries_unknown_paths_and_methods_are_refused_as_json() {
    use reqwest::Method;
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let company = app.register_company("org-refusals", &[]).await;
    let c = format!("/api/v1/companies/{company}");
    // (method, path, status, error code, what the message names)
    #[rustfmt::skip]
    let cases = [
        (Method::GET, "/api/v1/companies/x/users".into(), 400, "invalid_path", "company_id"),
        (Method::GET, format!("{c}/users/42"), 400, "invalid_path", "user_id"),
        (Method::GET, format!("{c}/users?active=maybe"), 400, "invalid_query", "active"),
        (Method::GET, format!("{c}/events?limit=-1"), 400, "invalid_query", "limit"),
        (Method::GET, format!("{c}/users?email=a%00b"), 400, "invalid_value", "refused"),
        (Method::GET, format!("{c}/users?activ=false"), 400, "invalid_query", "activ"),
        (Method::GET, format!("{c}/events?type=x"), 400, "invalid_query", "type"),
        (Method::GET, "/api/v1/nothing".into(), 404, "not_found", "/api/v1/nothing"),
        (Method::GET, "/nothing".into(), 404, "not_found", "/nothing"),
        (Method::DELETE, "/api/v1/companies".into(), 405, "method_not_allowed", "DELETE"),
    ];
    for (method, path, status, code, names) in cases {
        let url = format!("{}{path}", app.admin_url);
        let (got, allow, body) = app.refusal(method, &url).await;
        let refused = (got, body["error"].as_str());
        assert_eq!(refused, (status, Some(code)), "{path}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{path}: {body}");
        if status == 405 {
            assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
        }
    }
    app.stop().await;
}

/// A database that cannot be reached is "try again later", with the usual JSON body, and the
/// same requests succeed once it is back.
#[tokio::test]
async fn an_unreachable_database_is_a_503_to_retry_then_answers_again() {
    let proxy = Proxy::database().await;
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |s| proxy.reroute(&mut s.database)).await;
    let company = app.register_company("org-outage", &[]).await;
    let pages = [
        "/api/v1/companies".to_owned(),
        format!("/api/v1/companies/{company}/users"),
        format!("/api/v1/companies/{company}/events"),
    ];

    proxy.cut();
    for page in &pages {
        let r = app
            .http
            .get(format!("{}{page}", app.admin_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{page}");
        assert!(r.headers().contains_key("retry-after"), "{page}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "database_unavailable", "{page}: {body}");
    }
    assert!(proxy.refused() > 0, "the admin API did try to connect");

    proxy.restore();
    for page in &pages {
        let body = app.get(page).await;
        assert!(body.is_object(), "{page}: {body}");
    }
    app.stop().await;
}
