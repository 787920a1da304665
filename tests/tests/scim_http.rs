//! The SCIM service over HTTP: bodies in either JSON media type, bounded, answered in SCIM's;
//! versions as ETags with `If-Match` and `If-None-Match`; the advertised page size; unknown
//! paths and methods refused as SCIM errors; a bound on requests in flight.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::Method;
use scimsync_tests::scim::{patch_op, start, start_with, tenant, ScimClient};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;

#[tokio::test]
async fn etags_guard_writes_and_spare_reads() {
    let (app, scim) = start().await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    let id = c.create_user("etag@example.com").await;
    let path = format!("/Users/{id}");
    let v1 = c.get(&path).await.expect(200);
    let etag = v1.header("etag").unwrap().to_owned();
    assert_eq!(v1.body["meta"]["version"], etag.as_str());

    // If-None-Match with the current version: 304, nothing to send.
    let unchanged =
        ScimClient::send(c.request(Method::GET, &path).header("if-none-match", &etag)).await;
    assert_eq!(unchanged.status, 304);
    assert_eq!(unchanged.header("etag"), Some(etag.as_str()));

    // A write with the current version passes and moves it; the old one is refused.
    let title = patch_op(json!([{"op": "replace", "path": "title", "value": "Boss"}]));
    let ok = ScimClient::send(
        c.request(Method::PATCH, &path)
            .header("content-type", "application/scim+json")
            .header("if-match", &etag)
            .body(title.to_string()),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let v2 = ok.header("etag").unwrap().to_owned();
    assert_ne!(v2, etag);
    for (method, body) in [
        (Method::PATCH, title.to_string()),
        (
            Method::PUT,
            json!({"userName": "etag@example.com"}).to_string(),
        ),
        (Method::DELETE, String::new()),
    ] {
        let stale = ScimClient::send(
            c.request(method, &path)
                .header("content-type", "application/scim+json")
                .header("if-match", &etag)
                .body(body),
        )
        .await;
        stale.expect_error(412, None);
    }
    let read = ScimClient::send(c.request(Method::GET, &path).header("if-none-match", &etag)).await;
    assert_eq!(read.status, 200, "an older version is not the current one");
    assert_eq!(read.body["title"], "Boss");
    let deleted = ScimClient::send(c.request(Method::DELETE, &path).header("if-match", "*")).await;
    assert_eq!(deleted.status, 204);
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn bodies_are_json_of_either_media_type_and_bounded() {
    let (app, scim) = start_with(|s| s.scim.max_body_bytes = 2048).await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    let plain_json = ScimClient::send(
        c.request(Method::POST, "/Users")
            .header("content-type", "application/json; charset=utf-8")
            .body(json!({"userName": "plain@example.com"}).to_string()),
    )
    .await
    .expect(201);
    assert_eq!(
        plain_json.header("content-type"),
        Some("application/scim+json"),
        "answered in SCIM's media type"
    );
    ScimClient::send(
        c.request(Method::POST, "/Users")
            .header("content-type", "text/plain")
            .body(json!({"userName": "text@example.com"}).to_string()),
    )
    .await
    .expect_error(415, None);
    ScimClient::send(c.request(Method::POST, "/Users").body("{}"))
        .await
        .expect_error(415, None);
    ScimClient::send(
        c.request(Method::POST, "/Users")
            .header("content-type", "application/scim+json")
            .body("{\"userName\": "),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    let big = json!({"userName": "big@example.com", "title": "x".repeat(4096)});
    c.post("/Users", &big).await.expect_error(413, None);
    c.post("/Users", &json!({"displayName": "no userName"}))
        .await
        .expect_error(400, Some("invalidValue"));
    c.post(
        "/Users",
        &json!({"userName": "x@example.com", "active": "maybe"}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    // Nothing of the refused ones was stored.
    assert_eq!(
        app.env
            .count("SELECT count(*) AS n FROM directory_users")
            .await,
        1
    );
    // Unknown paths and methods are SCIM errors too.
    let unknown = c.get("/Nope").await.expect_error(404, None);
    assert!(
        unknown.body["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("no GET /scim/v2/Nope")),
        "{}",
        unknown.body
    );
    let answer = ScimClient::send(c.request(Method::PATCH, "/Users")).await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        answer.body["detail"], "PATCH is not served on /scim/v2/Users",
        "{}",
        answer.body
    );
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn count_is_capped_at_the_advertised_page_size() {
    let (app, scim) = start_with(|s| s.scim.max_page_size = 2).await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    for i in 0..3 {
        c.create_user(&format!("u{i}@example.com")).await;
    }
    let config = c.get("/ServiceProviderConfig").await.expect(200);
    assert_eq!(config.body["filter"]["maxResults"], 2);
    let page = c.get("/Users?count=100").await.expect(200);
    assert_eq!(page.body["totalResults"], 3);
    assert_eq!(page.body["itemsPerPage"], 2);
    let rest = c.get("/Users?startIndex=3").await.expect(200);
    assert_eq!(rest.body["itemsPerPage"], 1);
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_request_beyond_the_in_flight_bound_is_answered_503_at_once() {
    let (app, scim) = start_with(|s| s.scim.max_in_flight = 1).await;
    let t = tenant(&app, "Example", &[]).await;
    let c = scim.client(&app, &t);
    let id = c.create_user("busy@example.com").await;

    // Another writer holds the user: the next write of it waits, holding the one slot.
    let holder = app.env.db.begin().await.unwrap();
    holder
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM directory_users WHERE id = $1 FOR UPDATE",
            [id.parse::<uuid::Uuid>().unwrap().into()],
        ))
        .await
        .unwrap();
    let waiting = {
        let c = c.clone();
        let path = format!("/Users/{id}");
        tokio::spawn(async move {
            c.patch(
                &path,
                &patch_op(json!([{"op": "replace", "path": "title", "value": "Busy"}])),
            )
            .await
        })
    };
    app.env.wait_for_lock_waiters(1).await;
    let refused = c.get("/Users").await.expect_error(503, None);
    assert_eq!(refused.header("retry-after"), Some("1"));
    holder.rollback().await.unwrap();
    let done = waiting.await.unwrap().expect(200);
    assert_eq!(done.body["title"], "Busy");
    c.get("/Users").await.expect(200);
    scim.stop().await;
    app.stop().await;
}
