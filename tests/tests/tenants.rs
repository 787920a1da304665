//! Tenant walls (SPEC §7: identifiers are scoped to their company everywhere): a member id, an
//! event id, a group id or a manager value one company uses never reads or changes another
//! company's records, and nothing a company is told names another's.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::Concern;
use scimsync_tests::app::DEADLINE;
use scimsync_tests::events::{
    create, delete, event_id, group, set_scim, t, update, with_groups, with_manager,
};
use scimsync_tests::TestApp;
use serde_json::{json, Value};
use uuid::Uuid;

/// A create from `org` carrying a title, a mobile number and an employee number.
fn rich_create(org: &str, member_id: &str, email: &str, at: i64) -> Value {
    let mut event = create(org, member_id, email, t(at));
    set_scim(&mut event, "title", json!("Principal Engineer"));
    set_scim(
        &mut event,
        "phone_numbers",
        json!([{"value": "+1 555 0100", "type": "mobile"}]),
    );
    set_scim(
        &mut event,
        "enterprise_extension",
        json!({"employee_number": "E-1001"}),
    );
    event
}

async fn user(app: &TestApp, company: Uuid, email: &str) -> Value {
    app.user_by_email(company, email)
        .await
        .unwrap_or_else(|| panic!("{email} has no user in company {company}"))
}

#[tokio::test]
async fn a_member_id_in_two_companies_is_two_members_with_their_own_history() {
    let app = TestApp::spawn().await;
    let a = app.register_company("org-wall-a", &[]).await;
    let b = app.register_company("org-wall-b", &[]).await;

    let from_a = rich_create("org-wall-a", "m-1", "ada@a.example.com", 0);
    app.accept(&from_a).await;
    app.logged_by(a, &event_id(&from_a), Concern::UserUpsert)
        .await;

    // B's create for the same member id carries only an email and a name.
    let from_b = create("org-wall-b", "m-1", "bob@b.example.com", t(5));
    app.accept(&from_b).await;
    let logged = app
        .logged_by(b, &event_id(&from_b), Concern::UserUpsert)
        .await;
    assert_eq!(logged["outcome"], "created", "{logged}");

    let in_b = user(&app, b, "bob@b.example.com").await;
    assert_eq!(in_b["stytch_organization_id"], "org-wall-b");
    for field in ["job_title", "mobile_phone", "employee_number"] {
        assert!(
            in_b[field].is_null(),
            "B's user took {field} from A's history: {in_b}"
        );
    }
    let in_a = user(&app, a, "ada@a.example.com").await;
    assert_eq!(in_a["job_title"], "Principal Engineer");
    assert_eq!(in_a["mobile_phone"], "+1 555 0100");
    assert_eq!(in_a["employee_number"], "E-1001");
    assert_eq!(app.users(a).await.len(), 1);
    assert_eq!(app.users(b).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn an_older_event_from_another_company_never_changes_this_companys_member() {
    let app = TestApp::spawn().await;
    let a = app.register_company("org-old-a", &[]).await;
    let b = app.register_company("org-old-b", &[]).await;
    let from_a = rich_create("org-old-a", "m-shared", "ada@a.example.com", 10);
    app.accept(&from_a).await;
    app.logged_by(a, &event_id(&from_a), Concern::UserUpsert)
        .await;

    // Older than A's create, and inactive: in A's history it would be folded in first, and
    // A's create would win; it must not be in A's history at all.
    let mut stale_b = update("org-old-b", "m-shared", "mallory@b.example.com", t(5));
    set_scim(&mut stale_b, "active", json!(false));
    set_scim(&mut stale_b, "title", json!("Intruder"));
    app.accept(&stale_b).await;
    app.logged_by(b, &event_id(&stale_b), Concern::UserUpsert)
        .await;
    // And a newer one, active again, which would win in a shared history.
    let newer_b = update("org-old-b", "m-shared", "mallory@b.example.com", t(20));
    app.accept(&newer_b).await;
    app.logged_by(b, &event_id(&newer_b), Concern::UserUpsert)
        .await;

    let in_a = user(&app, a, "ada@a.example.com").await;
    assert_eq!(in_a["active"], true, "{in_a}");
    assert_eq!(in_a["job_title"], "Principal Engineer", "{in_a}");
    assert_eq!(in_a["email"], "ada@a.example.com");
    let in_b = user(&app, b, "mallory@b.example.com").await;
    assert_eq!(in_b["job_title"], "Intruder", "B's own history: {in_b}");
    assert!(in_b["employee_number"].is_null(), "{in_b}");
    app.stop().await;
}

#[tokio::test]
async fn an_event_id_another_company_used_is_not_a_duplicate() {
    let app = TestApp::spawn().await;
    let a = app.register_company("org-eid-a", &[]).await;
    let b = app.register_company("org-eid-b", &[]).await;
    let mut from_a = create("org-eid-a", "m-a", "ada@a.example.com", t(0));
    from_a["event_id"] = json!("event-shared-0001");
    app.accept(&from_a).await;
    app.logged_by(a, "event-shared-0001", Concern::UserUpsert)
        .await;

    let mut from_b = with_groups(
        create("org-eid-b", "m-b", "bob@b.example.com", t(1)),
        &[("g-b", "Engineering")],
    );
    from_b["event_id"] = json!("event-shared-0001");
    app.accept(&from_b).await;
    let logged = app
        .logged_by(b, "event-shared-0001", Concern::UserUpsert)
        .await;
    assert_eq!(logged["outcome"], "created", "{logged}");
    // Found through B's own event log: logged for B, not dropped as A's duplicate.
    app.logged_by(b, "event-shared-0001", Concern::GroupResolver)
        .await;
    user(&app, b, "bob@b.example.com").await;
    // A's own redelivery of its event id is still a duplicate.
    app.accept(&from_a).await;
    let after = create("org-eid-a", "m-a2", "after@a.example.com", t(2));
    app.accept(&after).await;
    app.logged_by(a, &event_id(&after), Concern::UserUpsert)
        .await;
    assert_eq!(
        app.env
            .count(&format!(
                "SELECT count(*) AS n FROM scim_event_log
                 WHERE event_id = 'event-shared-0001' AND concern = 'user-upsert' AND company_id = '{a}'"
            ))
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_duplicate_email_rejection_never_names_the_other_companys_user() {
    let app = TestApp::spawn().await;
    let a = app.register_company("org-email-a", &[]).await;
    let b = app.register_company("org-email-b", &[]).await;
    let from_a = create("org-email-a", "m-a", "taken@example.com", t(0));
    app.accept(&from_a).await;
    app.logged_by(a, &event_id(&from_a), Concern::UserUpsert)
        .await;
    let a_user = user(&app, a, "taken@example.com").await;
    let a_id = a_user["id"].as_str().expect("id").to_owned();

    let from_b = create("org-email-b", "m-b", "TAKEN@example.com", t(1));
    app.accept(&from_b).await;
    let logged = app
        .logged_by(b, &event_id(&from_b), Concern::UserUpsert)
        .await;
    assert_eq!(logged["outcome"], "rejected_duplicate_email");
    let text = logged.to_string();
    assert!(
        !text.contains(&a_id),
        "B's event log names A's user {a_id}: {text}"
    );
    assert!(!text.contains(&a.to_string()), "names A: {text}");

    // Within one company, naming the record that holds the email helps the admin.
    let again_a = create("org-email-a", "m-a-twin", "taken@example.com", t(2));
    app.accept(&again_a).await;
    let logged = app
        .logged_by(a, &event_id(&again_a), Concern::UserUpsert)
        .await;
    assert_eq!(logged["outcome"], "rejected_duplicate_email");
    assert_eq!(logged["detail"]["conflicting_user_id"], a_id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn a_group_id_another_company_uses_grants_nothing_here() {
    let app = TestApp::spawn().await;
    let a = app.register_company("org-grp-a", &[]).await;
    let b = app.register_company("org-grp-b", &[]).await;
    let admin_a = with_groups(
        create("org-grp-a", "m-a", "ada@a.example.com", t(0)),
        &[("g-1", "SkillsdbGlobalAdmins")],
    );
    app.accept(&admin_a).await;
    app.logged_by(a, &event_id(&admin_a), Concern::GroupResolver)
        .await;
    // B's member is in B's own "g-1", a custom group.
    let in_b = with_groups(
        create("org-grp-b", "m-b", "bob@b.example.com", t(1)),
        &[("g-1", "Engineering")],
    );
    app.accept(&in_b).await;
    app.logged_by(b, &event_id(&in_b), Concern::GroupResolver)
        .await;
    app.logged_by(b, &event_id(&in_b), Concern::UserUpsert)
        .await;
    // B deletes its g-1.
    let gone = group("DELETE", "org-grp-b", "g-1", "Engineering", None, t(2));
    app.accept(&gone).await;
    app.logged_by(b, &event_id(&gone), Concern::GroupResolver)
        .await;

    let bob = user(&app, b, "bob@b.example.com").await;
    assert_eq!(bob["permission_level"], "basic", "{bob}");
    assert_eq!(bob["active"], false, "B's only group was deleted: {bob}");
    let ada = user(&app, a, "ada@a.example.com").await;
    assert_eq!(ada["permission_level"], "admin", "{ada}");
    assert_eq!(ada["active"], true, "{ada}");
    app.stop().await;
}

#[tokio::test]
async fn a_manager_value_resolves_only_within_the_company() {
    let app = TestApp::spawn().await;
    let a = app.register_company("org-mgr-a", &[]).await;
    let b = app.register_company("org-mgr-b", &[]).await;
    let boss = create("org-mgr-a", "m-boss", "boss@a.example.com", t(0));
    app.accept(&boss).await;
    app.logged_by(a, &event_id(&boss), Concern::UserUpsert)
        .await;
    let report = with_manager(
        create("org-mgr-b", "m-report", "report@b.example.com", t(1)),
        "m-boss",
    );
    app.accept(&report).await;
    let logged = app
        .logged_by(b, &event_id(&report), Concern::ManagerLinker)
        .await;
    assert_eq!(logged["outcome"], "manager_pending", "{logged}");
    app.logged_by(b, &event_id(&report), Concern::UserUpsert)
        .await;
    let r = user(&app, b, "report@b.example.com").await;
    assert!(r["manager_id"].is_null(), "{r}");
    let boss_user = user(&app, a, "boss@a.example.com").await;
    assert_eq!(boss_user["permission_level"], "basic");
    app.stop().await;
}

#[tokio::test]
async fn a_delete_without_an_organisation_applies_to_the_company_holding_the_member() {
    let app = TestApp::spawn().await;
    let a = app.register_company("org-del-a", &[]).await;
    let b = app.register_company("org-del-b", &[]).await;
    let in_a = create("org-del-a", "m-del", "ada@a.example.com", t(0));
    app.accept(&in_a).await;
    app.logged_by(a, &event_id(&in_a), Concern::UserUpsert)
        .await;
    let other = create("org-del-b", "m-other", "bob@b.example.com", t(0));
    app.accept(&other).await;
    app.logged_by(b, &event_id(&other), Concern::UserUpsert)
        .await;

    let gone = delete("m-del", t(5));
    app.accept(&gone).await;
    let logged = app
        .logged_by(a, &event_id(&gone), Concern::UserUpsert)
        .await;
    assert_eq!(logged["outcome"], "deactivated", "{logged}");
    assert_eq!(user(&app, a, "ada@a.example.com").await["active"], false);
    assert_eq!(user(&app, b, "bob@b.example.com").await["active"], true);

    // A delete that arrives before its member's create waits for it, and then belongs to the
    // company the create names.
    let early = delete("m-late", t(10));
    app.accept(&early).await;
    // Kept before the create is sent: two worker slots could otherwise take the create first.
    let kept = format!(
        "SELECT count(*) AS n FROM scim_event_log WHERE event_id = '{}'",
        event_id(&early)
    );
    app.env.wait_count(&kept, 1, DEADLINE).await;
    let late = create("org-del-b", "m-late", "late@b.example.com", t(9));
    app.accept(&late).await;
    app.logged_by(b, &event_id(&late), Concern::UserUpsert)
        .await;
    let late_user = user(&app, b, "late@b.example.com").await;
    assert_eq!(late_user["active"], false, "{late_user}");
    // The delete's log row moved to B's event log with it.
    let early_logged = app
        .logged_by(b, &event_id(&early), Concern::UserUpsert)
        .await;
    assert_eq!(early_logged["outcome"], "member_not_found");
    app.stop().await;
}

#[tokio::test]
async fn every_event_log_row_that_changed_a_user_names_the_user() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-why", &[]).await;
    let joined = with_groups(
        create("org-why", "m-why", "why@example.com", t(0)),
        &[("g-only", "Engineering")],
    );
    app.accept(&joined).await;
    app.logged_by(company, &event_id(&joined), Concern::GroupResolver)
        .await;
    app.logged_by(company, &event_id(&joined), Concern::UserUpsert)
        .await;
    let left = group(
        "MEMBER_DELETE",
        "org-why",
        "g-only",
        "Engineering",
        Some("m-why"),
        t(5),
    );
    app.accept(&left).await;
    let logged = app
        .logged_by(company, &event_id(&left), Concern::GroupResolver)
        .await;
    assert_eq!(logged["outcome"], "deactivated", "{logged}");
    let user_id = user(&app, company, "why@example.com").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(logged["user_id"], user_id.as_str(), "{logged}");

    // The user's own history answers "why was this user deactivated?".
    let history = app
        .get(&format!(
            "/api/v1/companies/{company}/events?user_id={user_id}&limit=50"
        ))
        .await;
    let rows = history["events"].as_array().expect("events");
    assert!(
        rows.iter()
            .any(|e| e["event_id"] == event_id(&left).as_str() && e["outcome"] == "deactivated"),
        "{history}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_group_deleted_under_many_users_is_in_each_users_history() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-ghost", &[]).await;
    let mut ids = Vec::new();
    for (member, email) in [("m-g1", "g1@example.com"), ("m-g2", "g2@example.com")] {
        let joined = with_groups(
            create("org-ghost", member, email, t(0)),
            &[("g-ghost", "Engineering")],
        );
        app.accept(&joined).await;
        app.logged_by(company, &event_id(&joined), Concern::GroupResolver)
            .await;
        app.logged_by(company, &event_id(&joined), Concern::UserUpsert)
            .await;
    }
    for email in ["g1@example.com", "g2@example.com"] {
        ids.push(
            user(&app, company, email).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let gone = group("DELETE", "org-ghost", "g-ghost", "Engineering", None, t(5));
    app.accept(&gone).await;
    let logged = app
        .logged_by(company, &event_id(&gone), Concern::GroupResolver)
        .await;
    assert_eq!(logged["outcome"], "group_deleted", "{logged}");
    for id in &ids {
        let history = app
            .get(&format!(
                "/api/v1/companies/{company}/events?user_id={id}&limit=50"
            ))
            .await;
        let row = history["events"]
            .as_array()
            .expect("events")
            .iter()
            .find(|e| e["event_id"] == event_id(&gone).as_str())
            .cloned()
            .unwrap_or_else(|| panic!("the deletion is not in {id}'s history: {history}"));
        assert!(
            row["user_ids"]
                .as_array()
                .is_some_and(|u| u.iter().any(|u| u == id.as_str())),
            "{row}"
        );
        assert_eq!(
            user(
                &app,
                company,
                if id == &ids[0] {
                    "g1@example.com"
                } else {
                    "g2@example.com"
                }
            )
            .await["active"],
            false
        );
    }
    app.stop().await;
}
