//! User records through their lifecycle: SPEC R8-R11 and R17, end to end through ingest, RabbitMQ,
//! user-upsert and PostgreSQL, observed through the admin API.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::events::{create, delete, event_id, set_scim, t, update};
use scimsync_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn r8_internal_email_change_updates_the_record_and_guest_readd_creates_a_new_one() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-e", &[]).await;
    let c = create("org-e", "m-int", "before@example.com", t(0));
    let u = update("org-e", "m-int", "after@example.com", t(1));
    app.accept(&c).await;
    app.accept(&u).await;
    app.logged(company, &event_id(&u)).await;
    let users = app.users(company).await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "after@example.com");

    let guest = create("org-e", "m-guest-1", "guest@partner.io", t(2));
    app.accept(&guest).await;
    app.logged(company, &event_id(&guest)).await;
    let old = app
        .user_by_email(company, "guest@partner.io")
        .await
        .expect("guest");
    let removed = delete("m-guest-1", t(3));
    let readded = create("org-e", "m-guest-2", "guest.renamed@partner.io", t(3));
    app.accept(&removed).await;
    app.accept(&readded).await;
    app.logged(company, &event_id(&readded)).await;
    app.logged(company, &event_id(&removed)).await;
    let old_now = app
        .user_by_email(company, "guest@partner.io")
        .await
        .expect("old guest kept");
    let new = app
        .user_by_email(company, "guest.renamed@partner.io")
        .await
        .expect("new guest");
    assert_eq!(old_now["id"], old["id"]);
    assert_eq!(old_now["active"], false);
    assert_ne!(new["id"], old["id"]);
    assert_eq!(new["active"], true);
    app.stop().await;
}

#[tokio::test]
async fn r9_r10_deactivation_is_soft_and_reprovisioning_reactivates_the_same_record() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-l", &[]).await;
    let c = create("org-l", "m-1", "life@example.com", t(0));
    app.accept(&c).await;
    app.logged(company, &event_id(&c)).await;
    let id = app
        .user_by_email(company, "life@example.com")
        .await
        .expect("user")["id"]
        .clone();

    let d = delete("m-1", t(10));
    app.accept(&d).await;
    assert_eq!(
        app.logged(company, &event_id(&d)).await["outcome"],
        "deactivated"
    );
    let u = app
        .user_by_email(company, "life@example.com")
        .await
        .expect("kept");
    assert_eq!(u["active"], false);
    assert_eq!(u["deactivated_at"], "2026-01-01T00:00:10Z");
    assert_eq!(u["first_name"], "Ada", "data kept");

    let back = update("org-l", "m-1", "life@example.com", t(20));
    app.accept(&back).await;
    assert_eq!(
        app.logged(company, &event_id(&back)).await["outcome"],
        "reactivated"
    );
    let u = app
        .user_by_email(company, "life@example.com")
        .await
        .expect("user");
    assert_eq!(u["id"], id);
    assert_eq!(u["active"], true);
    assert_eq!(u["deactivated_at"], serde_json::Value::Null);

    let mut off = update("org-l", "m-1", "life@example.com", t(30));
    set_scim(&mut off, "active", json!(false));
    app.accept(&off).await;
    assert_eq!(
        app.logged(company, &event_id(&off)).await["outcome"],
        "deactivated"
    );
    assert_eq!(app.users(company).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn r11_admins_cannot_change_activation_of_scim_users() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-p", &[]).await;
    let c = create("org-p", "m-1", "scim@example.com", t(0));
    app.accept(&c).await;
    app.logged(company, &event_id(&c)).await;
    let id = app
        .user_by_email(company, "scim@example.com")
        .await
        .expect("user")["id"]
        .as_str()
        .map(str::to_owned);
    let url = format!(
        "{}/api/v1/companies/{company}/users/{}",
        app.admin_url,
        id.unwrap_or_default()
    );
    let refused = app
        .http
        .patch(&url)
        .json(&json!({"active": false}))
        .send()
        .await
        .expect("patch");
    assert_eq!(refused.status(), 409);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["error"], "scim_managed_activation");
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("identity provider"));
    let allowed = app
        .http
        .patch(&url)
        .json(&json!({"mobile_phone": "+44 1"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(allowed.status(), 200);
    let u = app
        .user_by_email(company, "scim@example.com")
        .await
        .expect("user");
    assert_eq!(
        (u["active"].as_bool(), u["mobile_phone"].as_str()),
        (Some(true), Some("+44 1"))
    );
    app.stop().await;
}

#[tokio::test]
async fn r17_stale_events_never_overwrite_newer_state_nor_resurrect_a_deleted_user() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-s", &[]).await;
    let mut newer = update("org-s", "m-1", "stale@example.com", t(10));
    set_scim(&mut newer, "title", json!("Director"));
    let mut older = create("org-s", "m-1", "stale@example.com", t(5));
    set_scim(&mut older, "title", json!("Intern"));
    app.accept(&newer).await;
    app.logged(company, &event_id(&newer)).await;
    app.accept(&older).await;
    let log = app.logged(company, &event_id(&older)).await;
    assert_eq!(log["detail"]["out_of_order"], true);
    assert_eq!(
        log["detail"]["changed_fields"],
        json!(["date_added"]),
        "only the creation time moves: {log}"
    );
    let mut also_older = update("org-s", "m-1", "stale@example.com", t(7));
    set_scim(&mut also_older, "title", json!("Manager"));
    app.accept(&also_older).await;
    assert_eq!(
        app.logged(company, &event_id(&also_older)).await["outcome"],
        "stale_ignored"
    );
    let u = app
        .user_by_email(company, "stale@example.com")
        .await
        .expect("user");
    assert_eq!(u["job_title"], "Director");
    assert_eq!(
        u["date_added"], "2026-01-01T00:00:05Z",
        "the creating event's time, even when it came late"
    );

    let gone = delete("m-2", t(50));
    let late_create = create("org-s", "m-2", "gone@example.com", t(40));
    app.accept(&gone).await;
    app.wait_logged_count(4).await;
    app.accept(&late_create).await;
    app.logged(company, &event_id(&late_create)).await;
    let early_delete = app.logged(company, &event_id(&gone)).await;
    assert_eq!(
        early_delete["outcome"], "member_not_found",
        "the early delete is attributed once the company is known"
    );
    let u = app
        .user_by_email(company, "gone@example.com")
        .await
        .expect("recorded");
    assert_eq!(
        u["active"], false,
        "a create older than the delete does not resurrect"
    );
    assert_eq!(u["deactivated_at"], "2026-01-01T00:00:50Z");
    app.stop().await;
}

#[tokio::test]
async fn duplicates_are_no_ops_and_non_scim_sources_are_only_logged() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-n", &[]).await;
    let c = create("org-n", "m-1", "dup@example.com", t(0));
    for _ in 0..3 {
        app.accept(&c).await;
    }
    let mut dashboard = update("org-n", "m-1", "changed@example.com", t(5));
    dashboard["source"] = json!("DASHBOARD");
    app.accept(&dashboard).await;
    assert_eq!(
        app.logged(company, &event_id(&dashboard)).await["outcome"],
        "ignored_non_scim_source"
    );
    app.wait_logged_count(2).await;
    let log = app
        .get(&format!("/api/v1/companies/{company}/events"))
        .await;
    assert_eq!(
        log["events"].as_array().map(Vec::len),
        Some(2),
        "one row per event: {log}"
    );
    let users = app.users(company).await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "dup@example.com");
    app.stop().await;
}
