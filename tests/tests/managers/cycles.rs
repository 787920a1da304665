//! R14 when the two halves of a cycle really meet: their transactions are both open at once.

use scimsync_schema::Concern;
use scimsync_tests::app::Services;
use scimsync_tests::env::insert_scim_user;
use scimsync_tests::events::{create, event_id, t, update, with_manager};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::Value;

use super::{manager_of, LINKER};

/// A already reports to C and B to D. B→A and A→B arrive at once: the test holds row locks on
/// A's and B's records, which each assignment writes, until manager-linker has both in open
/// transactions (each has read the hierarchy or waits to). Released, exactly one applies; the
/// other is skipped as circular, its user keeps the manager it had, and the log says so. No
/// cycle is left.
#[tokio::test]
async fn opposite_assignments_in_overlapping_transactions_skip_one_and_keep_its_manager() {
    let app = TestApp::spawn_with(
        Services {
            workers: &[Concern::ManagerLinker],
            ..Services::INGEST_ONLY
        },
        |_| {},
    )
    .await;
    let company = app.register_company("org-r14", &[]).await;
    let mut ids = std::collections::HashMap::new();
    for m in ["a", "b", "c", "d"] {
        let id = insert_scim_user(
            &app.env.db,
            company,
            &format!("m-{m}"),
            &format!("{m}@example.com"),
        )
        .await;
        ids.insert(m, Value::String(id.to_string()));
    }
    // A reports to C, B to D.
    for (report, manager) in [("a", "c"), ("b", "d")] {
        let e = with_manager(
            create(
                "org-r14",
                &format!("m-{report}"),
                &format!("{report}@example.com"),
                t(0),
            ),
            &format!("m-{manager}"),
        );
        app.accept(&e).await;
        let log = app.logged_by(company, &event_id(&e), LINKER).await;
        assert_eq!(log["outcome"], "manager_linked", "{log}");
    }

    let held = app.env.db.begin().await.unwrap();
    held.execute_unprepared(
        "SELECT id FROM users WHERE stytch_member_id IN ('m-a', 'm-b') FOR UPDATE",
    )
    .await
    .unwrap();
    let b_to_a = with_manager(update("org-r14", "m-b", "b@example.com", t(1)), "m-a");
    let a_to_b = with_manager(update("org-r14", "m-a", "a@example.com", t(1)), "m-b");
    // One at a time, so each has a transaction of its own (a batch would check them in turn).
    for (waiting, e) in [(1, &b_to_a), (2, &a_to_b)] {
        app.accept(e).await;
        app.env.wait_for_lock_waiters(waiting).await;
    }
    held.rollback().await.unwrap();
    app.wait_settled().await;

    let b_log = app.logged_by(company, &event_id(&b_to_a), LINKER).await;
    let a_log = app.logged_by(company, &event_id(&a_to_b), LINKER).await;
    let outcomes = [b_log["outcome"].clone(), a_log["outcome"].clone()];
    let (skipped, linked) = match outcomes.each_ref().map(|o| o.as_str().unwrap_or_default()) {
        ["manager_linked", "skipped_circular_manager"] => (("a", "c", &a_log), ("b", "a")),
        ["skipped_circular_manager", "manager_linked"] => (("b", "d", &b_log), ("a", "b")),
        other => panic!("one applies and one is skipped, got {other:?}: {b_log} {a_log}"),
    };
    let (user, previous, log) = skipped;
    assert_eq!(
        manager_of(&app, company, &format!("{user}@example.com")).await,
        ids[previous],
        "{user} keeps its manager: {log}"
    );
    assert!(
        log["detail"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("previous manager kept"),
        "{log}"
    );
    let (user, manager) = linked;
    assert_eq!(
        manager_of(&app, company, &format!("{user}@example.com")).await,
        ids[manager]
    );
    let cycles = app
        .env
        .count(
            "SELECT count(*) AS n FROM users a JOIN users b ON b.id = a.manager_id
             WHERE b.manager_id = a.id",
        )
        .await;
    assert_eq!(cycles, 0);
    app.stop().await;
}
