//! Groups and permission levels: SPEC R9 c/d, R12, R16, R17, through the group-resolver.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::Concern;
use scimsync_tests::events::{create, event_id, group, t, with_groups};
use scimsync_tests::TestApp;
use serde_json::{json, Value};
use uuid::Uuid;

const ADMINS: (&str, &str) = ("g-admins", "SkillsdbGlobalAdmins");
const FULL: (&str, &str) = ("g-full", "SkillsdbFullAccess");

async fn send_and_wait(app: &TestApp, company: Uuid, event: &Value, concern: Concern) -> Value {
    app.accept(event).await;
    app.logged_by(company, &event_id(event), concern).await
}

/// Sends a member event and waits until both user-upsert and group-resolver logged it: the two
/// workers apply it independently, so one's log line says nothing about the other's write.
/// Returns group-resolver's log row.
async fn send_and_wait_both(app: &TestApp, company: Uuid, event: &Value) -> Value {
    send_and_wait(app, company, event, Concern::UserUpsert).await;
    app.logged_by(company, &event_id(event), Concern::GroupResolver)
        .await
}

async fn user(app: &TestApp, company: Uuid, email: &str) -> Value {
    app.user_by_email(company, email)
        .await
        .unwrap_or_else(|| panic!("{email} exists"))
}

async fn group_row(app: &TestApp, company: Uuid, idp_group_id: &str) -> Value {
    let list = app
        .get(&format!("/api/v1/companies/{company}/groups"))
        .await;
    list["groups"]
        .as_array()
        .and_then(|g| {
            g.iter()
                .find(|g| g["idp_group_id"] == idp_group_id)
                .cloned()
        })
        .expect("group listed")
}

#[tokio::test]
async fn the_highest_level_wins_and_a_user_in_both_default_groups_counts_in_both() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-g", &[]).await;
    let both = with_groups(
        create("org-g", "m-1", "both@example.com", t(0)),
        &[ADMINS, FULL],
    );
    let log = send_and_wait_both(&app, company, &both).await;
    assert!(
        ["level_changed", "memberships_synced"]
            .contains(&log["outcome"].as_str().unwrap_or_default()),
        "{log}"
    );
    let full = with_groups(create("org-g", "m-2", "full@example.com", t(1)), &[FULL]);
    send_and_wait_both(&app, company, &full).await;
    let custom = with_groups(
        create("org-g", "m-3", "custom@example.com", t(2)),
        &[("g-eng", "Engineering")],
    );
    send_and_wait_both(&app, company, &custom).await;

    assert_eq!(
        user(&app, company, "both@example.com").await["permission_level"],
        "admin"
    );
    assert_eq!(
        user(&app, company, "full@example.com").await["permission_level"],
        "full_access"
    );
    assert_eq!(
        user(&app, company, "custom@example.com").await["permission_level"],
        "basic"
    );
    let groups = user(&app, company, "both@example.com").await["groups"].clone();
    assert_eq!(groups.as_array().map(Vec::len), Some(2), "{groups}");

    let status = app
        .get(&format!("/api/v1/companies/{company}/scim/status"))
        .await;
    let counts: Vec<i64> = status["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["active_users"].as_i64().unwrap())
        .collect();
    assert_eq!(
        counts,
        [1, 2],
        "admins: both; full access: both + full: {status}"
    );

    // The group list counts each group's active members.
    for (group, members) in [("g-admins", 1), ("g-full", 2), ("g-eng", 1)] {
        let row = group_row(&app, company, group).await;
        assert_eq!(row["active_members"], members, "{row}");
    }

    // An admin gives the custom group a level: its members are recomputed at once.
    let eng = group_row(&app, company, "g-eng").await;
    assert_eq!(eng["kind"], "custom");
    let url = format!(
        "{}/api/v1/companies/{company}/groups/{}",
        app.admin_url,
        eng["id"].as_str().unwrap()
    );
    let r = app
        .http
        .put(&url)
        .json(&json!({"permission_level": "full_access"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (&body["permission_level"], &body["active_members"]),
        (&json!("full_access"), &json!(1)),
        "the group as it is now: {body}"
    );
    assert_eq!(
        user(&app, company, "custom@example.com").await["permission_level"],
        "full_access"
    );
    let admins = group_row(&app, company, "g-admins").await;
    let url = format!(
        "{}/api/v1/companies/{company}/groups/{}",
        app.admin_url,
        admins["id"].as_str().unwrap()
    );
    let r = app
        .http
        .put(&url)
        .json(&json!({"permission_level": "basic"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "default groups have fixed levels");
    app.stop().await;
}

#[tokio::test]
async fn losing_the_last_membership_deactivates_but_never_having_one_does_not() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-g", &[]).await;
    let grouped = with_groups(
        create("org-g", "m-1", "grouped@example.com", t(0)),
        &[("g-eng", "Engineering")],
    );
    let loner = with_groups(create("org-g", "m-2", "loner@example.com", t(0)), &[]);
    send_and_wait_both(&app, company, &grouped).await;
    send_and_wait_both(&app, company, &loner).await;
    assert_eq!(
        user(&app, company, "loner@example.com").await["active"],
        true,
        "never had a group: stays active"
    );

    let removed = group(
        "MEMBER_DELETE",
        "org-g",
        "g-eng",
        "Engineering",
        Some("m-1"),
        t(5),
    );
    let log = send_and_wait(&app, company, &removed, Concern::GroupResolver).await;
    assert_eq!(log["outcome"], "deactivated");
    let eng = group_row(&app, company, "g-eng").await;
    assert_eq!(eng["active_members"], 0, "{eng}");
    let u = user(&app, company, "grouped@example.com").await;
    assert_eq!(
        (u["active"].as_bool(), u["deactivated_at"].as_str()),
        (Some(false), Some("2026-01-01T00:00:05Z"))
    );

    // Back in a group: active again (R10 through the IdP).
    let back = group(
        "MEMBER_ADD",
        "org-g",
        "g-eng",
        "Engineering",
        Some("m-1"),
        t(9),
    );
    assert_eq!(
        send_and_wait(&app, company, &back, Concern::GroupResolver).await["outcome"],
        "reactivated"
    );
    assert_eq!(
        user(&app, company, "grouped@example.com").await["active"],
        true
    );
    let eng = group_row(&app, company, "g-eng").await;
    assert_eq!(eng["active_members"], 1, "{eng}");
    app.stop().await;
}

#[tokio::test]
async fn memberships_arriving_before_their_group_and_their_user_converge() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-g", &[]).await;
    let add = group("MEMBER_ADD", "org-g", "g-x", "", Some("m-early"), t(1));
    let log = send_and_wait(&app, company, &add, Concern::GroupResolver).await;
    assert_eq!(log["detail"]["user_pending"], true);
    let named = group("CREATE", "org-g", "g-x", "SkillsdbGlobalAdmins", None, t(0));
    send_and_wait(&app, company, &named, Concern::GroupResolver).await;
    assert_eq!(
        group_row(&app, company, "g-x").await["kind"],
        "default_admin"
    );
    let person = create("org-g", "m-early", "early@example.com", t(2));
    send_and_wait(&app, company, &person, Concern::UserUpsert).await;
    let u = user(&app, company, "early@example.com").await;
    assert_eq!(u["permission_level"], "admin");
    assert_eq!(u["active"], true);
    app.stop().await;
}

#[tokio::test]
async fn a_deleted_group_removes_only_that_membership_and_its_career_automations() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-g", &[]).await;
    let only = with_groups(
        create("org-g", "m-1", "only@example.com", t(0)),
        &[("g-ghost", "Ghosts")],
    );
    let many = with_groups(
        create("org-g", "m-2", "many@example.com", t(0)),
        &[("g-ghost", "Ghosts"), ("g-other", "Others")],
    );
    for e in [&only, &many] {
        send_and_wait_both(&app, company, e).await;
    }
    let ghost = group_row(&app, company, "g-ghost").await;
    let base = format!(
        "{}/api/v1/companies/{company}/groups/{}",
        app.admin_url,
        ghost["id"].as_str().unwrap()
    );
    app.http
        .put(&base)
        .json(&json!({"permission_level": "manager"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        user(&app, company, "many@example.com").await["permission_level"],
        "manager"
    );
    for (name, status) in [
        ("  ", 400),
        (&*"n".repeat(257), 400),
        ("Onboarding path", 201),
    ] {
        let r = app
            .http
            .post(format!("{base}/career-automations"))
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{name:?}");
    }

    let deleted = group("DELETE", "org-g", "g-ghost", "Ghosts", None, t(10));
    let log = send_and_wait(&app, company, &deleted, Concern::GroupResolver).await;
    assert_eq!(log["outcome"], "group_deleted");
    assert_eq!(log["detail"]["career_automations_removed"], 1);
    let only_now = user(&app, company, "only@example.com").await;
    assert_eq!(only_now["active"], false, "its only group is gone");
    let many_now = user(&app, company, "many@example.com").await;
    assert_eq!(many_now["active"], true);
    assert_eq!(
        many_now["permission_level"], "basic",
        "level recomputed without the deleted group"
    );
    assert_eq!(many_now["groups"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        app.env
            .count("SELECT count(*) AS n FROM career_automations")
            .await,
        0
    );

    let default_delete = group(
        "DELETE",
        "org-g",
        "g-admins",
        "SkillsdbGlobalAdmins",
        None,
        t(11),
    );
    assert_eq!(
        send_and_wait(&app, company, &default_delete, Concern::GroupResolver).await["outcome"],
        "ignored_default_group_delete"
    );
    app.stop().await;
}

/// A user record committed while group-resolver applies the member's list (after it looked for
/// the user, before the list's memberships were visible to the user's own refresh) still gets
/// the level the list gives. The test plays user-upsert's part by hand: it holds the member lock
/// every worker takes before writing a user record, inserts the record (at the default basic
/// level, as a refresh that saw no memberships would leave it), lets group-resolver apply the
/// list, and only then commits.
#[tokio::test]
async fn a_user_committed_while_its_list_is_applied_still_gets_the_lists_level() {
    use scimsync_tests::app::Services;
    use scimsync_tests::env::insert_scim_user;
    use sea_orm::TransactionTrait;

    let app = TestApp::spawn_with(
        Services {
            workers: &[Concern::GroupResolver],
            ..Services::INGEST_ONLY
        },
        |_| {},
    )
    .await;
    let company = app.register_company("org-race", &["example.com"]).await;
    let upsert = app.env.db.begin().await.unwrap();
    scimsync_db::access::lock_members(&upsert, company, &["m-race".to_owned()])
        .await
        .unwrap();
    let user_id = insert_scim_user(&upsert, company, "m-race", "race@example.com").await;

    let event = with_groups(
        create("org-race", "m-race", "race@example.com", t(1)),
        &[ADMINS],
    );
    app.accept(&event).await;
    // The list's memberships commit while the record is still uncommitted (group-resolver
    // waits for the member lock only after its own commit).
    app.env
        .wait_count(
            "SELECT count(*) AS n FROM scim_group_memberships WHERE stytch_member_id = 'm-race' AND present",
            1,
            std::time::Duration::from_secs(30),
        )
        .await;
    upsert.commit().await.unwrap();

    let logged = scimsync_tests::wait::wait_until(
        "group-resolver to log the level it gave",
        std::time::Duration::from_secs(30),
        || async {
            let entry = app
                .logged_by(company, &event_id(&event), Concern::GroupResolver)
                .await;
            (entry["outcome"] == "level_changed").then_some(entry)
        },
    )
    .await;
    let u = user(&app, company, "race@example.com").await;
    assert_eq!(u["permission_level"], "admin", "{u}");
    assert_eq!(u["id"], json!(user_id), "{u}");
    let changes = logged["detail"]["level_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{logged}");
    assert_eq!(changes[0]["to"], "admin", "{logged}");
    assert!(logged["detail"].get("user_pending").is_none(), "{logged}");
    app.stop().await;
}
