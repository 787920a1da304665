//! The hierarchy links build: long chains, cycles under concurrency (R14), local clears
//! (R15) and the Manager level (R12).

use std::time::Duration;

use scimsync_db::hierarchy::{self, Connected};
use scimsync_tests::env::TestEnv;
use scimsync_tests::events::{create, event_id, t, update, with_manager};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::Value;
use uuid::Uuid;

use super::{manager_of, user, wait_linked, LINKER};

/// A batch's hierarchy changes are one read and one write: each pair's cycle check sees the
/// records in the database and the pairs set before it in the same call.
#[tokio::test]
async fn connect_all_checks_each_pair_against_the_database_and_the_pairs_before_it() {
    let env = TestEnv::new().await;
    let company = env.insert_company("org-connect-all").await;
    env.insert_users(company, "ca", 5).await;
    let id = |n: u32| {
        let env = &env;
        async move {
            let row = env
                .db
                .query_one(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT id FROM users WHERE stytch_member_id = $1",
                    [format!("ca-member-{n}").into()],
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<Uuid>("", "id").unwrap()
        }
    };
    let (a, b, c, d, e) = (
        id(1).await,
        id(2).await,
        id(3).await,
        id(4).await,
        id(5).await,
    );

    // Already in the database: a reports to b, b to c.
    let txn = env.db.begin().await.unwrap();
    hierarchy::lock(&txn, company).await.unwrap();
    let done = hierarchy::connect_all(&txn, &[(a, b), (b, c)])
        .await
        .unwrap();
    assert_eq!(done, [Connected::Set { previous: None }; 2]);
    txn.commit().await.unwrap();

    // c under a would close c → a → b → c (read from the database); d under c, then c under
    // d, closes a loop made in this very call; e moves from nobody to a, then to d.
    let txn = env.db.begin().await.unwrap();
    hierarchy::lock(&txn, company).await.unwrap();
    let done = hierarchy::connect_all(&txn, &[(c, a), (d, c), (c, d), (e, a), (e, d), (a, b)])
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(
        done,
        [
            Connected::Cycle,
            Connected::Set { previous: None },
            Connected::Cycle,
            Connected::Set { previous: None },
            Connected::Set { previous: Some(a) },
            Connected::Set { previous: Some(b) },
        ]
    );
    let managers: Vec<(String, Option<String>)> = env
        .db
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            "SELECT u.stytch_member_id AS member, m.stytch_member_id AS manager
             FROM users u LEFT JOIN users m ON m.id = u.manager_id
             WHERE u.stytch_member_id LIKE 'ca-%' ORDER BY 1",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get("", "member").unwrap(),
                row.try_get("", "manager").unwrap(),
            )
        })
        .collect();
    let expected = [
        ("1", Some("2")),
        ("2", Some("3")),
        ("3", None),
        ("4", Some("3")),
        ("5", Some("4")),
    ]
    .map(|(m, by)| {
        (
            format!("ca-member-{m}"),
            by.map(|by| format!("ca-member-{by}")),
        )
    });
    assert_eq!(managers, expected);
    env.cleanup().await;
}

#[tokio::test]
async fn a_chain_of_depth_50_sent_leaf_first_converges() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-c", &[]).await;
    for i in (0..50).rev() {
        let mut e = create(
            "org-c",
            &format!("m-{i}"),
            &format!("c{i}@example.com"),
            t(i),
        );
        if i > 0 {
            e = with_manager(e, &format!("m-{}", i - 1));
        }
        app.accept(&e).await;
    }
    app.env
        .wait_count(
            "SELECT count(*) AS n FROM users WHERE manager_id IS NOT NULL",
            49,
            Duration::from_secs(60),
        )
        .await;
    for i in 1..50 {
        let expected = user(&app, company, &format!("c{}@example.com", i - 1)).await["id"].clone();
        assert_eq!(
            manager_of(&app, company, &format!("c{i}@example.com")).await,
            expected
        );
    }
    assert_eq!(
        user(&app, company, "c49@example.com").await["permission_level"],
        "basic"
    );
    assert_eq!(
        user(&app, company, "c0@example.com").await["permission_level"],
        "manager"
    );
    app.stop().await;
}

#[tokio::test]
async fn concurrent_opposite_assignments_never_leave_a_cycle() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-x", &[]).await;
    const PAIRS: i64 = 40;
    const ROUNDS: i64 = 3;
    for round in 0..ROUNDS {
        for i in 0..PAIRS {
            for side in ["a", "b"] {
                let e = create(
                    "org-x",
                    &format!("{side}-{round}-{i}"),
                    &format!("{side}{round}.{i}@example.com"),
                    t(i),
                );
                app.accept(&e).await;
            }
        }
    }
    app.wait_logged_count(PAIRS * ROUNDS * 2).await;
    for round in 0..ROUNDS {
        // Both directions of every pair at once, many in flight.
        let mut sends = tokio::task::JoinSet::new();
        let mut expected_events = Vec::new();
        for i in 0..PAIRS {
            let (a, b) = (format!("a-{round}-{i}"), format!("b-{round}-{i}"));
            let ab = with_manager(
                update("org-x", &a, &format!("a{round}.{i}@example.com"), t(100)),
                &b,
            );
            let ba = with_manager(
                update("org-x", &b, &format!("b{round}.{i}@example.com"), t(100)),
                &a,
            );
            for e in [ab, ba] {
                expected_events.push(event_id(&e));
                let (http, url) = (app.http.clone(), app.ingest_url.clone());
                sends.spawn(async move { scimsync_tests::app::post_signed(&http, &url, &e).await });
            }
        }
        while let Some(status) = sends.join_next().await {
            assert_eq!(status.unwrap(), 202);
        }
        for id in &expected_events {
            app.logged_by(company, id, LINKER).await;
        }
    }
    let cycles = app
        .env
        .count(
            "WITH RECURSIVE walk(start, id, depth) AS (
                 SELECT id, manager_id, 1 FROM users WHERE manager_id IS NOT NULL
                 UNION ALL
                 SELECT w.start, u.manager_id, w.depth + 1 FROM walk w JOIN users u ON u.id = w.id
                 WHERE u.manager_id IS NOT NULL AND w.depth < 200 AND w.id <> w.start)
             SELECT count(*) AS n FROM walk WHERE id = start",
        )
        .await;
    assert_eq!(cycles, 0);
    let outcomes = app
        .env
        .count("SELECT count(*) AS n FROM scim_event_log WHERE concern = 'manager-linker' AND outcome = 'skipped_circular_manager'")
        .await;
    assert_eq!(
        outcomes,
        PAIRS * ROUNDS,
        "exactly one side of every pair was skipped"
    );
    let linked = app
        .env
        .count("SELECT count(*) AS n FROM users WHERE manager_id IS NOT NULL")
        .await;
    assert_eq!(linked, PAIRS * ROUNDS, "and the other side was linked");
    app.stop().await;
}

#[tokio::test]
async fn a_local_clear_sticks_against_stale_values_and_yields_to_a_new_value() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-l", &[]).await;
    for (m, email) in [("m-old", "old@example.com"), ("m-new", "new@example.com")] {
        let e = create("org-l", m, email, t(0));
        app.accept(&e).await;
        app.logged(company, &event_id(&e)).await;
    }
    let first = with_manager(create("org-l", "m-r", "r@example.com", t(1)), "m-old");
    app.accept(&first).await;
    let old_id = user(&app, company, "old@example.com").await["id"].clone();
    wait_linked(&app, company, "r@example.com", &old_id).await;
    assert_eq!(
        app.logged_by(company, &event_id(&first), LINKER).await["outcome"],
        "manager_linked"
    );
    let report = user(&app, company, "r@example.com").await;
    let url = format!(
        "{}/api/v1/companies/{company}/users/{}/manager",
        app.admin_url,
        report["id"].as_str().unwrap()
    );
    let cleared: Value = app
        .http
        .delete(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(cleared["manager_id"].is_null());
    assert_eq!(
        user(&app, company, "old@example.com").await["permission_level"],
        "basic",
        "demoted with the clear"
    );

    let stale = with_manager(update("org-l", "m-r", "r@example.com", t(2)), "m-old");
    app.accept(&stale).await;
    assert_eq!(
        app.logged_by(company, &event_id(&stale), LINKER).await["outcome"],
        "manager_unchanged"
    );
    assert!(
        manager_of(&app, company, "r@example.com").await.is_null(),
        "the clear sticks"
    );

    let reassigned = with_manager(update("org-l", "m-r", "r@example.com", t(3)), "m-new");
    app.accept(&reassigned).await;
    assert_eq!(
        app.logged_by(company, &event_id(&reassigned), LINKER).await["outcome"],
        "manager_linked"
    );
    assert_eq!(
        manager_of(&app, company, "r@example.com").await,
        user(&app, company, "new@example.com").await["id"]
    );
    app.stop().await;
}

#[tokio::test]
async fn the_manager_level_follows_active_direct_reports() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-p", &[]).await;
    for (m, email) in [("m-a", "a@example.com"), ("m-b", "b@example.com")] {
        let e = create("org-p", m, email, t(0));
        app.accept(&e).await;
        app.logged(company, &event_id(&e)).await;
    }
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
            user_upsert: true,
            manager_linker: true,
            ..Services::INGEST_ONLY
        },
        |_| {},
    )
    .await;
    let company = app.register_company("org-lv", &[]).await;
    for (member, email) in [("m-boss", "boss@example.com"), ("m-rep", "rep@example.com")] {
        let e = create("org-lv", member, email, t(0));
        app.accept(&e).await;
        app.logged_by(company, &event_id(&e), "user-upsert").await;
    }
    let boss = user(&app, company, "boss@example.com").await;
    let boss_id: Uuid = boss["id"].as_str().unwrap().parse().unwrap();

    let groups = app.env.db.begin().await.unwrap();
    scimsync_db::access::lock_members(&groups, &["m-boss".to_owned()])
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
    app.env
        .wait_count(
            "SELECT count(*) AS n FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND datname = current_database()",
            1,
            Duration::from_secs(30),
        )
        .await;
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
