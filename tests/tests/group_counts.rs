//! What the admin API counts per group (R16): a group the identity provider deleted counts no
//! active member, whatever memberships it still holds.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::Concern;
use scimsync_tests::events::{create, event_id, group, t, with_groups};
use scimsync_tests::TestApp;
use serde_json::Value;
use uuid::Uuid;

async fn groups(app: &TestApp, company: Uuid) -> Vec<Value> {
    app.get(&format!("/api/v1/companies/{company}/groups"))
        .await["groups"]
        .as_array()
        .cloned()
        .expect("groups")
}

fn by_id<'a>(groups: &'a [Value], idp_group_id: &str) -> &'a Value {
    groups
        .iter()
        .find(|g| g["idp_group_id"] == idp_group_id)
        .unwrap_or_else(|| panic!("{idp_group_id} listed: {groups:?}"))
}

#[tokio::test]
async fn a_deleted_group_counts_no_active_members() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-counts", &[]).await;
    // Both members stay active after the delete: each has another group.
    for (member, email) in [("m-1", "one@example.com"), ("m-2", "two@example.com")] {
        let event = with_groups(
            create("org-counts", member, email, t(0)),
            &[
                ("g-ghost", "Ghosts"),
                ("g-other", "Others"),
                ("g-admins", "SkillsdbGlobalAdmins"),
            ],
        );
        app.accept(&event).await;
        app.logged_by(company, &event_id(&event), Concern::GroupResolver)
            .await;
        app.logged_by(company, &event_id(&event), Concern::UserUpsert)
            .await;
    }
    let before = groups(&app, company).await;
    assert_eq!(by_id(&before, "g-ghost")["active_members"], 2, "{before:?}");

    let deleted = group("DELETE", "org-counts", "g-ghost", "Ghosts", None, t(10));
    app.accept(&deleted).await;
    let log = app
        .logged_by(company, &event_id(&deleted), Concern::GroupResolver)
        .await;
    assert_eq!(log["outcome"], "group_deleted", "{log}");

    let after = groups(&app, company).await;
    let ghost = by_id(&after, "g-ghost");
    assert_eq!(ghost["deleted"], true, "{ghost}");
    assert_eq!(
        ghost["active_members"], 0,
        "a deleted group counts none: {ghost}"
    );
    assert_eq!(by_id(&after, "g-other")["active_members"], 2, "{after:?}");
    // The same count for one group, as a level change answers it.
    let url = format!(
        "{}/api/v1/companies/{company}/groups/{}",
        app.admin_url,
        ghost["id"].as_str().expect("id")
    );
    let one: Value = app
        .http
        .put(url)
        .json(&serde_json::json!({"permission_level": "manager"}))
        .send()
        .await
        .expect("put")
        .json()
        .await
        .expect("json");
    assert_eq!(one["active_members"], 0, "{one}");
    let status = app
        .get(&format!("/api/v1/companies/{company}/scim/status"))
        .await;
    assert_eq!(status["groups"][0]["active_users"], 2, "{status}");
    for user in app.users(company).await {
        assert_eq!(user["active"], true, "{user}");
        let names: Vec<&str> = user["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .filter_map(|g| g["idp_group_id"].as_str())
            .collect();
        assert!(!names.contains(&"g-ghost"), "{user}");
    }
    app.stop().await;
}
