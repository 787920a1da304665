//! The SCIM sync status of a company (R16): when it last synced, and who is active in each
//! default group.

use chrono::{DateTime, Duration, Utc};
use scimsync_tests::events::{create, delete, set_scim, t, with_groups};
use scimsync_tests::{wait_until, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

const ADMINS: (&str, &str) = ("g-admins", "SkillsdbGlobalAdmins");
const FULL: (&str, &str) = ("g-full", "SkillsdbFullAccess");

async fn last_sync_at(app: &TestApp, company: Uuid) -> Option<DateTime<Utc>> {
    let status = app
        .get(&format!("/api/v1/companies/{company}/scim/status"))
        .await;
    status["last_sync_at"].as_str().map(|s| s.parse().unwrap())
}

/// `last_sync_at` is when the company's latest event was applied, by the database's clock
/// (the same machine's). The product writes it at most once a second per company, so it may be
/// up to a second older than the last event's commit, never older.
#[tokio::test]
async fn last_sync_at_is_when_the_latest_event_was_applied() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-sync", &[]).await;
    assert_eq!(last_sync_at(&app, company).await, None, "never synced");

    let first_sent = Utc::now();
    for i in 0..3 {
        let member = format!("m-{i}");
        app.accept(&create(
            "org-sync",
            &member,
            &format!("{member}@example.com"),
            t(i),
        ))
        .await;
    }
    app.wait_settled().await;
    let first = last_sync_at(&app, company).await.expect("synced");
    assert!(
        first_sent <= first && first <= Utc::now(),
        "{first} is not between the first send ({first_sent}) and now"
    );

    // Once the once-a-second limit has passed, the next event moves it again.
    wait_until(
        "a second after the last sync",
        Duration::seconds(5).to_std().unwrap(),
        || async { (Utc::now() > first + Duration::milliseconds(1_100)).then_some(()) },
    )
    .await;
    let second_sent = Utc::now();
    app.accept(&create("org-sync", "m-3", "m-3@example.com", t(3)))
        .await;
    let last_sent = Utc::now();
    app.accept(&create("org-sync", "m-4", "m-4@example.com", t(4)))
        .await;
    app.wait_settled().await;
    let settled = Utc::now();
    let second = last_sync_at(&app, company).await.expect("synced");
    assert!(
        second_sent <= second && second <= settled,
        "{second} is not between the second round's first send ({second_sent}) and {settled}"
    );
    assert!(
        second > last_sent - Duration::seconds(1),
        "{second} is more than a second older than the last event ({last_sent})"
    );
    app.stop().await;
}

/// Members of the default groups who are inactive (deleted, `active: false`, or deactivated
/// with their data kept) are not counted, in the status or in the group list.
#[tokio::test]
async fn default_group_counts_leave_inactive_members_out() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-count", &[]).await;
    let member = |id: &str, groups: &[(&str, &str)]| {
        with_groups(
            create("org-count", id, &format!("{id}@example.com"), t(0)),
            groups,
        )
    };
    let mut switched_off = member("m-f2", &[FULL]);
    set_scim(&mut switched_off, "active", json!(false));
    for event in [
        member("m-a1", &[ADMINS]),
        member("m-a2", &[ADMINS]),
        member("m-a3", &[ADMINS]),
        member("m-f1", &[FULL]),
        switched_off,
        member("m-f3", &[FULL, ("g-eng", "Engineering")]),
        member("m-both", &[ADMINS, FULL]),
        delete("m-a3", t(1)),
        delete("m-f3", t(1)),
    ] {
        app.accept(&event).await;
    }
    app.wait_settled().await;
    let inactive: Vec<Value> = app
        .users(company)
        .await
        .into_iter()
        .filter(|u| u["active"] == false)
        .map(|u| u["stytch_member_id"].clone())
        .collect();
    assert_eq!(
        inactive.len(),
        3,
        "m-a3, m-f2 and m-f3 are inactive: {inactive:?}"
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
    assert_eq!(
        counts,
        [("SkillsdbGlobalAdmins", 3), ("SkillsdbFullAccess", 2)],
        "admins: a1, a2, both; full access: f1, both: {status}"
    );
    let groups = app
        .get(&format!("/api/v1/companies/{company}/groups"))
        .await;
    let mut members: Vec<(String, i64)> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let id = g["idp_group_id"].as_str().unwrap().to_owned();
            (id, g["active_members"].as_i64().unwrap())
        })
        .collect();
    members.sort();
    assert_eq!(
        members,
        [
            ("g-admins".to_owned(), 3),
            ("g-eng".to_owned(), 0),
            ("g-full".to_owned(), 2)
        ]
    );
    app.stop().await;
}
