//! The Manager level (R12) as links change: who has active direct reports, and a manager's
//! level refreshed while another worker changes its groups.

use scimsync_schema::Concern;
use std::time::Duration;

use scimsync_tests::events::{create, event_id, t, update, with_manager};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

use super::{create_users, user, wait_linked, LINKER};

#[tokio::test]
async fn the_manager_level_follows_active_direct_reports() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-p", &[]).await;
    create_users(
        &app,
        company,
        "org-p",
        &[("m-a", "a@example.com"), ("m-b", "b@example.com")],
    )
    .await;
    let r = with_manager(create("org-p", "m-r", "r@example.com", t(1)), "m-a");
    app.accept(&r).await;
    // manager-linker may see the event before r's record exists: the link then waits for
    // user-upsert's announcement.
    let a_id = user(&app, company, "a@example.com").await["id"].clone();
    wait_linked(&app, company, "r@example.com", &a_id).await;
    assert_eq!(
        user(&app, company, "a@example.com").await["permission_level"],
        "manager"
    );

    let moved = with_manager(update("org-p", "m-r", "r@example.com", t(2)), "m-b");
    app.accept(&moved).await;
    assert_eq!(
        app.logged_by(company, &event_id(&moved), LINKER).await["outcome"],
        "manager_linked"
    );
    assert_eq!(
        user(&app, company, "a@example.com").await["permission_level"],
        "basic",
        "lost the last report"
    );
    assert_eq!(
        user(&app, company, "b@example.com").await["permission_level"],
        "manager"
    );

    let gone = scimsync_tests::events::delete("m-r", t(3));
    app.accept(&gone).await;
    app.logged(company, &event_id(&gone)).await;
    assert_eq!(
        user(&app, company, "b@example.com").await["permission_level"],
        "basic",
        "the only report is deactivated"
    );
    app.stop().await;
}

/// A manager's level is refreshed with its other inputs committed. The test plays
/// group-resolver's part by hand: holding the manager's member lock, it makes the manager a
/// member of the admins group and refreshes it (Admin), and commits only once manager-linker,
/// linking a report to that manager, is waiting on the manager's record. That refresh read the
/// groups before the commit and writes Manager over Admin; manager-linker then refreshes the
/// manager again under its member lock, which makes it an Admin. Without that second refresh
/// the manager stays a Manager (checked).
#[tokio::test]
async fn a_manager_refreshed_while_its_groups_change_keeps_the_level_they_give() {
    use scimsync_tests::app::Services;

    let app = TestApp::spawn_with(
        Services {
            workers: &[Concern::UserUpsert, Concern::ManagerLinker],
            ..Services::INGEST_ONLY
        },
        |_| {},
    )
    .await;
    let company = app.register_company("org-lv", &[]).await;
    create_users(
        &app,
        company,
        "org-lv",
        &[("m-boss", "boss@example.com"), ("m-rep", "rep@example.com")],
    )
    .await;
    let boss = user(&app, company, "boss@example.com").await;
    let boss_id: Uuid = boss["id"].as_str().unwrap().parse().unwrap();

    let groups = app.env.db.begin().await.unwrap();
    scimsync_db::access::lock_members(&groups, company, &["m-boss".to_owned()])
        .await
        .unwrap();
    // The admins group and the manager's membership of it, as group-resolver writes them.
    groups
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH admins AS (
                 INSERT INTO scim_groups (id, company_id, idp_group_id, display_name, kind)
                 VALUES (gen_random_uuid(), $1, 'g-admins', 'SkillsdbGlobalAdmins', 'default_admin')
             )
             INSERT INTO scim_group_memberships (company_id, idp_group_id, stytch_member_id, present, version)
             VALUES ($1, 'g-admins', 'm-boss', true, now())",
            [company.into()],
        ))
        .await
        .unwrap();
    let changes = scimsync_db::access::refresh(&groups, &[boss_id])
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].level_after, "admin");

    let link = with_manager(update("org-lv", "m-rep", "rep@example.com", t(1)), "m-boss");
    app.accept(&link).await;
    // manager-linker gets as far as the manager's record (or its member lock) and waits.
    app.env.wait_for_lock_waiters(1).await;
    groups.commit().await.unwrap();

    wait_linked(&app, company, "rep@example.com", &boss["id"]).await;
    app.logged_by(company, &event_id(&link), LINKER).await;
    // The link's own transaction may write Manager from what it read; the second refresh, under
    // the manager's member lock once the link is committed, makes it right.
    scimsync_tests::wait::wait_until(
        "the manager to be an Admin",
        Duration::from_secs(30),
        || async {
            let boss = user(&app, company, "boss@example.com").await;
            (boss["permission_level"] == "admin").then_some(())
        },
    )
    .await;
    app.stop().await;
}
