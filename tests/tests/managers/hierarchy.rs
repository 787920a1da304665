//! The hierarchy links build: one batch's changes, long chains, cycles under concurrency (R14)
//! and local clears (R15). The levels they give are in `levels`.

use std::time::Duration;

use scimsync_db::hierarchy::{self, Connected};
use scimsync_tests::env::TestEnv;
use scimsync_tests::events::{create, event_id, t, update, with_manager};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::Value;

use super::{create_users, manager_of, user, wait_linked, LINKER};

/// A batch's hierarchy changes are one read and one write: each pair's cycle check sees the
/// records in the database and the pairs set before it in the same call.
#[tokio::test]
async fn connect_all_checks_each_pair_against_the_database_and_the_pairs_before_it() {
    let env = TestEnv::new().await;
    let company = env.insert_company("org-connect-all").await;
    env.insert_users(company, "ca", 5).await;
    let ids = env
        .ids("SELECT id FROM users WHERE stytch_member_id LIKE 'ca-member-%' ORDER BY stytch_member_id")
        .await;
    let [a, b, c, d, e] = ids[..] else {
        panic!("five users, got {ids:?}")
    };

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
    create_users(
        &app,
        company,
        "org-l",
        &[("m-old", "old@example.com"), ("m-new", "new@example.com")],
    )
    .await;
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
