//! User records through their lifecycle: SPEC R8-R11 and R17, end to end through ingest, RabbitMQ,
//! user-upsert and PostgreSQL, observed through the admin API.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::Concern;
use scimsync_tests::app::status_and_json;
use scimsync_tests::events::{create, delete, event_id, set_scim, t, update};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};
use uuid::Uuid;

/// Sends the event, waits until the workers are done with everything sent so far (a duplicate
/// or another worker's share included), and returns user-upsert's log entry for it.
async fn apply(app: &TestApp, company: Uuid, event: &Value) -> Value {
    app.accept(event).await;
    app.wait_settled().await;
    app.logged_by(company, &event_id(event), Concern::UserUpsert)
        .await
}

async fn user(app: &TestApp, company: Uuid, email: &str) -> Value {
    app.user_by_email(company, email)
        .await
        .unwrap_or_else(|| panic!("{email} exists"))
}

#[tokio::test]
async fn r8_internal_email_change_updates_the_record_and_guest_readd_creates_a_new_one() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-e", &[]).await;
    let c = create("org-e", "m-int", "before@example.com", t(0));
    let u = update("org-e", "m-int", "after@example.com", t(1));
    app.accept(&c).await;
    app.accept(&u).await;
    app.wait_settled().await;
    let users = app.users(company).await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "after@example.com");

    let guest = create("org-e", "m-guest-1", "guest@partner.io", t(2));
    app.accept(&guest).await;
    app.wait_settled().await;
    let old = app
        .user_by_email(company, "guest@partner.io")
        .await
        .expect("guest");
    let removed = delete("m-guest-1", t(3));
    let readded = create("org-e", "m-guest-2", "guest.renamed@partner.io", t(3));
    app.accept(&removed).await;
    app.accept(&readded).await;
    app.wait_settled().await;
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
    apply(
        &app,
        company,
        &create("org-l", "m-1", "life@example.com", t(0)),
    )
    .await;
    let id = user(&app, company, "life@example.com").await["id"].clone();

    let d = delete("m-1", t(10));
    assert_eq!(apply(&app, company, &d).await["outcome"], "deactivated");
    let u = user(&app, company, "life@example.com").await;
    assert_eq!(u["active"], false);
    assert_eq!(u["deactivated_at"], "2026-01-01T00:00:10Z");
    assert_eq!(u["first_name"], "Ada", "data kept");

    let back = update("org-l", "m-1", "life@example.com", t(20));
    assert_eq!(apply(&app, company, &back).await["outcome"], "reactivated");
    let u = user(&app, company, "life@example.com").await;
    assert_eq!(u["id"], id);
    assert_eq!(u["active"], true);
    assert_eq!(u["deactivated_at"], Value::Null);

    let mut off = update("org-l", "m-1", "life@example.com", t(30));
    set_scim(&mut off, "active", json!(false));
    assert_eq!(apply(&app, company, &off).await["outcome"], "deactivated");
    assert_eq!(app.users(company).await.len(), 1);
    app.stop().await;
}

/// PATCHes a user's fields; returns the status and the body.
async fn patch(app: &TestApp, company: Uuid, id: &str, body: Value) -> (u16, Value) {
    let url = format!("{}/api/v1/companies/{company}/users/{id}", app.admin_url);
    status_and_json(app.http.patch(url).json(&body).send().await.expect("patch")).await
}

/// R11 both ways: the identity provider deactivated a SCIM user, and an admin cannot bring them
/// back (nor deactivate an active one); a user the product owns is the admin's to activate.
#[tokio::test]
async fn r11_scim_users_activation_is_the_idps_and_other_users_the_admins() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-p", &[]).await;
    apply(
        &app,
        company,
        &create("org-p", "m-1", "scim@example.com", t(0)),
    )
    .await;
    let gone = delete("m-1", t(1));
    assert_eq!(apply(&app, company, &gone).await["outcome"], "deactivated");
    let scim = user(&app, company, "scim@example.com").await;
    let scim_id = scim["id"].as_str().unwrap().to_owned();

    let (status, refused) = patch(&app, company, &scim_id, json!({"active": true})).await;
    assert_eq!(
        (status, refused["error"].as_str(), refused["field"].as_str()),
        (409, Some("scim_managed_activation"), Some("active")),
        "{refused}"
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("identity provider"),
        "{refused}"
    );
    let still = user(&app, company, "scim@example.com").await;
    assert_eq!(
        (&still["active"], &still["deactivated_at"]),
        (&json!(false), &json!("2026-01-01T00:00:01Z")),
        "the refused PATCH changed nothing"
    );

    // Re-provisioned by the IdP: active again, and an admin cannot deactivate them either,
    // while the fields the product owns stay editable.
    let back = update("org-p", "m-1", "scim@example.com", t(2));
    assert_eq!(apply(&app, company, &back).await["outcome"], "reactivated");
    let (status, refused) = patch(&app, company, &scim_id, json!({"active": false})).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("scim_managed_activation"))
    );
    let (status, edited) = patch(&app, company, &scim_id, json!({"mobile_phone": "+44 1"})).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        (edited["active"].as_bool(), edited["mobile_phone"].as_str()),
        (Some(true), Some("+44 1"))
    );

    // A user the product owns, deactivated by an admin earlier: the same PATCH works.
    let local = Uuid::now_v7();
    app.env
        .db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO users (id, company_id, email, last_name, active, deactivated_at)
             VALUES ($1, $2, 'local@example.com', 'Local', false, now())",
            [local.into(), company.into()],
        ))
        .await
        .expect("a user the product owns");
    let (status, on) = patch(&app, company, &local.to_string(), json!({"active": true})).await;
    assert_eq!(status, 200, "{on}");
    assert_eq!(
        (&on["active"], &on["deactivated_at"]),
        (&json!(true), &Value::Null)
    );
    let (status, off) = patch(&app, company, &local.to_string(), json!({"active": false})).await;
    assert_eq!(status, 200, "{off}");
    assert_eq!(off["active"], false);
    assert!(off["deactivated_at"].is_string(), "{off}");
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
    apply(&app, company, &newer).await;
    let log = apply(&app, company, &older).await;
    assert_eq!(log["detail"]["out_of_order"], true);
    assert_eq!(
        log["detail"]["changed_fields"],
        json!(["date_added"]),
        "only the creation time moves: {log}"
    );
    let mut also_older = update("org-s", "m-1", "stale@example.com", t(7));
    set_scim(&mut also_older, "title", json!("Manager"));
    assert_eq!(
        apply(&app, company, &also_older).await["outcome"],
        "stale_ignored"
    );
    let u = user(&app, company, "stale@example.com").await;
    assert_eq!(u["job_title"], "Director");
    assert_eq!(
        u["date_added"], "2026-01-01T00:00:05Z",
        "the creating event's time, even when it came late"
    );

    // A delete for a member never seen: handled (and kept) before its older create comes.
    let gone = delete("m-2", t(50));
    app.accept(&gone).await;
    app.wait_settled().await;
    let late_create = create("org-s", "m-2", "gone@example.com", t(40));
    apply(&app, company, &late_create).await;
    let early_delete = app
        .logged_by(company, &event_id(&gone), Concern::UserUpsert)
        .await;
    assert_eq!(
        early_delete["outcome"], "member_not_found",
        "the early delete is attributed once the company is known"
    );
    let u = user(&app, company, "gone@example.com").await;
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
    let ignored = apply(&app, company, &dashboard).await;
    assert_eq!(ignored["outcome"], "ignored_non_scim_source");
    // Every copy was handled before this read: a copy that logged again would show here.
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
