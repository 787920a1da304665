//! User records from member events: SPEC R1-R11 and R17, end to end through ingest, RabbitMQ,
//! user-upsert and PostgreSQL, observed through the admin API.

use scimsync_tests::events::{create, delete, event_id, set, set_scim, t, update};
use scimsync_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn signed_create_becomes_a_user_visible_through_the_admin_api() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-a", &[]).await;
    let event = create("org-a", "member-1", "ada.lovelace@example.com", t(0));
    app.accept(&event).await;
    let log = app.logged(company, &event_id(&event)).await;
    assert_eq!(log["outcome"], "created");
    assert_eq!(log["event_type"], "scim.member.create");
    let user = app
        .user_by_email(company, "ADA.LOVELACE@example.com")
        .await
        .expect("user exists");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["active"], true);
    assert_eq!(user["scim_provisioned"], true);
    assert_eq!(user["stytch_member_id"], "member-1");
    assert_eq!(user["stytch_organization_id"], "org-a");
    assert_eq!(user["permission_level"], "basic");
    assert_eq!(log["user_id"], user["id"]);
    app.stop().await;
}
