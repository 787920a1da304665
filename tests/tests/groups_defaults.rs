//! The two default groups (R12): recognised by their configured names in any case, and their
//! deletion in the IdP ignored, whoever is inside.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::Concern;
use scimsync_tests::events::{create, event_id, group, t, with_groups};
use scimsync_tests::TestApp;
use serde_json::{json, Value};
use uuid::Uuid;

/// Each member's (active, level), by email.
async fn access(app: &TestApp, company: Uuid) -> Vec<(String, bool, String)> {
    let mut users: Vec<_> = app
        .users(company)
        .await
        .iter()
        .map(|u| {
            (
                u["email"].as_str().unwrap().to_owned(),
                u["active"].as_bool().unwrap(),
                u["permission_level"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    users.sort();
    users
}

async fn group_outcome(app: &TestApp, company: Uuid, event: &Value) -> Value {
    app.logged_by(company, &event_id(event), Concern::GroupResolver)
        .await["outcome"]
        .clone()
}

/// Delete events for the default groups are ignored: their members, for whom it is the only
/// group, stay active with the level it grants, and the groups stay listed.
#[tokio::test]
async fn deleting_a_default_group_in_the_idp_changes_nobodys_access() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-dg", &[]).await;
    for (member, groups) in [
        ("m-admin", [("g-admins", "SkillsdbGlobalAdmins")]),
        ("m-full", [("g-full", "SkillsdbFullAccess")]),
    ] {
        let email = format!("{member}@example.com");
        app.accept(&with_groups(
            create("org-dg", member, &email, t(0)),
            &groups,
        ))
        .await;
    }
    app.wait_settled().await;
    let before = access(&app, company).await;
    assert_eq!(
        before,
        [
            ("m-admin@example.com".to_owned(), true, "admin".to_owned()),
            (
                "m-full@example.com".to_owned(),
                true,
                "full_access".to_owned()
            ),
        ]
    );

    let deletes = [
        group(
            "DELETE",
            "org-dg",
            "g-admins",
            "SkillsdbGlobalAdmins",
            None,
            t(5),
        ),
        group(
            "DELETE",
            "org-dg",
            "g-full",
            "SkillsdbFullAccess",
            None,
            t(5),
        ),
    ];
    for delete in &deletes {
        app.accept(delete).await;
    }
    app.wait_settled().await;
    for delete in &deletes {
        assert_eq!(
            group_outcome(&app, company, delete).await,
            "ignored_default_group_delete"
        );
    }
    assert_eq!(access(&app, company).await, before, "nobody's access moved");
    let groups = app
        .get(&format!("/api/v1/companies/{company}/groups"))
        .await;
    for listed in groups["groups"].as_array().unwrap() {
        assert_eq!(
            (&listed["deleted"], &listed["active_members"]),
            (&json!(false), &json!(1)),
            "{listed}"
        );
    }
    app.stop().await;
}

/// With the default groups configured as `Admins` and `Everyone Full`, groups sent as
/// `aDMINS` and `EVERYONE FULL` grant Admin and Full Access; a group named like the built-in
/// default is then a custom group like any other. The status names the configured groups.
#[tokio::test]
async fn configured_default_group_names_are_recognised_in_any_case() {
    let app = TestApp::spawn_with(Default::default(), |s| {
        s.groups.admin_group = "Admins".into();
        s.groups.full_access_group = "Everyone Full".into();
    })
    .await;
    let company = app.register_company("org-cfg", &[]).await;
    for (member, group_id, name) in [
        ("m-1", "g-1", "aDMINS"),
        ("m-2", "g-2", "EVERYONE FULL"),
        ("m-3", "g-3", "SkillsdbGlobalAdmins"),
    ] {
        let email = format!("{member}@example.com");
        let event = with_groups(create("org-cfg", member, &email, t(0)), &[(group_id, name)]);
        app.accept(&event).await;
    }
    app.wait_settled().await;
    assert_eq!(
        access(&app, company).await,
        [
            ("m-1@example.com".to_owned(), true, "admin".to_owned()),
            ("m-2@example.com".to_owned(), true, "full_access".to_owned()),
            ("m-3@example.com".to_owned(), true, "basic".to_owned()),
        ]
    );
    let status = app
        .get(&format!("/api/v1/companies/{company}/scim/status"))
        .await;
    let counts: Vec<(&str, i64)> = status["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap(),
                g["active_users"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("Admins", 1), ("Everyone Full", 1)], "{status}");

    // Its deletion, sent under yet another case, is ignored too.
    let delete = group("DELETE", "org-cfg", "g-1", "admins", None, t(5));
    app.accept(&delete).await;
    app.wait_settled().await;
    assert_eq!(
        group_outcome(&app, company, &delete).await,
        "ignored_default_group_delete"
    );
    let admin = app.user_by_email(company, "m-1@example.com").await.unwrap();
    assert_eq!(
        (&admin["active"], &admin["permission_level"]),
        (&json!(true), &json!("admin"))
    );
    app.stop().await;
}
