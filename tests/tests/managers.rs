//! Manager linking: SPEC R13, R14, R15 and the Manager level of R12.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use scimsync_platform::metrics::{metrics, EventLabels};
use scimsync_schema::topology::MANAGER_LINKER;
use scimsync_tests::broker::Broker;
use scimsync_tests::events::{create, event_id, set_scim, t, update, with_manager};
use scimsync_tests::{wait_until, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

const LINKER: &str = "manager-linker";

async fn user(app: &TestApp, company: Uuid, email: &str) -> Value {
    app.user_by_email(company, email)
        .await
        .unwrap_or_else(|| panic!("{email} exists"))
}

async fn manager_of(app: &TestApp, company: Uuid, email: &str) -> Value {
    user(app, company, email).await["manager_id"].clone()
}

/// Waits until the user with this email reports to `manager` (a user id).
async fn wait_linked(app: &TestApp, company: Uuid, email: &str, manager: &Value) {
    wait_until(
        &format!("{email} to be linked"),
        Duration::from_secs(30),
        || async {
            let user = app.user_by_email(company, email).await;
            user.is_some_and(|u| u["manager_id"] == *manager)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_report_sent_before_its_manager_is_linked_without_any_manual_step() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-m", &[]).await;
    let report = with_manager(
        create("org-m", "m-report", "report@example.com", t(0)),
        "m-boss",
    );
    app.accept(&report).await;
    let pending = app.logged_by(company, &event_id(&report), LINKER).await;
    assert_eq!(pending["outcome"], "manager_pending");
    let boss = create("org-m", "m-boss", "boss@example.com", t(1));
    app.accept(&boss).await;
    app.logged(company, &event_id(&boss)).await;
    let boss_id = user(&app, company, "boss@example.com").await["id"].clone();
    wait_linked(&app, company, "report@example.com", &boss_id).await;
    let log = app.logged_by(company, &event_id(&report), LINKER).await;
    assert_eq!(
        log["outcome"], "manager_linked",
        "the report's own event now says linked: {log}"
    );
    assert_eq!(
        user(&app, company, "boss@example.com").await["permission_level"],
        "manager"
    );
    let reports = app
        .get(&format!(
            "/api/v1/companies/{company}/users/{}/reports",
            boss_id.as_str().unwrap()
        ))
        .await;
    assert_eq!(reports["users"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

/// The manager value names an external id the manager's record gains only in a later update:
/// the update announces the new id, which wakes the pending link at once (the link's own
/// message comes back only after `manager.pending_retry_secs`, two minutes by default).
#[tokio::test]
async fn a_pending_link_resolves_when_its_manager_gains_the_awaited_external_id() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-x", &[]).await;
    let boss = create("org-x", "m-boss", "boss@example.com", t(0));
    app.accept(&boss).await;
    app.logged(company, &event_id(&boss)).await;
    let report = with_manager(
        create("org-x", "m-report", "report@example.com", t(1)),
        "ext-boss",
    );
    app.accept(&report).await;
    let pending = app.logged_by(company, &event_id(&report), LINKER).await;
    assert_eq!(pending["outcome"], "manager_pending");

    let mut renamed = update("org-x", "m-boss", "boss@example.com", t(2));
    set_scim(&mut renamed, "external_id", json!("ext-boss"));
    app.accept(&renamed).await;
    let boss_id = user(&app, company, "boss@example.com").await["id"].clone();
    wait_linked(&app, company, "report@example.com", &boss_id).await;
    let log = app.logged_by(company, &event_id(&report), LINKER).await;
    assert_eq!(log["outcome"], "manager_linked", "{log}");

    // The report's event again (a redelivery, or its own message back from the delay tier):
    // the log keeps what the event did.
    let handled = || {
        metrics()
            .events
            .get_or_create(&EventLabels {
                queue: MANAGER_LINKER.name.into(),
                event_type: "scim.member.create".into(),
                outcome: "ack",
            })
            .get()
    };
    let before = handled();
    app.accept(&report).await;
    wait_until(
        "the redelivery to be handled",
        Duration::from_secs(30),
        || async { (handled() > before).then_some(()) },
    )
    .await;
    let log = app.logged_by(company, &event_id(&report), LINKER).await;
    assert_eq!(
        log["outcome"], "manager_linked",
        "a redelivery rewrote the log: {log}"
    );
    assert_eq!(
        manager_of(&app, company, "report@example.com").await,
        boss_id
    );
    app.stop().await;
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
    wait_until("49 links", Duration::from_secs(60), || async {
        let linked = app
            .env
            .count("SELECT count(*) AS n FROM users WHERE manager_id IS NOT NULL")
            .await;
        (linked == 49).then_some(())
    })
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

#[tokio::test]
async fn a_manager_that_never_arrives_is_dead_lettered_after_the_age_limit() {
    let app = TestApp::spawn_with(Default::default(), |s| {
        s.manager.max_pending_age_secs = 3600;
        // The message's own return is what gives up; no need to wait two minutes for it.
        s.manager.pending_retry_secs = 1;
    })
    .await;
    let company = app.register_company("org-n", &[]).await;
    let e = with_manager(
        create("org-n", "m-1", "orphan@example.com", t(0)),
        "m-nobody",
    );
    app.accept(&e).await;
    assert_eq!(
        app.logged_by(company, &event_id(&e), LINKER).await["outcome"],
        "manager_pending"
    );
    app.clock_offset_secs.store(7200, Ordering::Relaxed);
    let broker = Broker::connect(&app.env.amqp_url).await;
    let dead = wait_until("the dead letter", Duration::from_secs(30), || async {
        broker.take("scimsync.manager-linker.dlq").await
    })
    .await;
    assert_eq!(
        dead.header("x-dead-letter-reason").as_deref(),
        Some("manager_not_found")
    );
    let log = app.logged_by(company, &event_id(&e), LINKER).await;
    assert_eq!(log["outcome"], "manager_not_found");
    assert!(manager_of(&app, company, "orphan@example.com")
        .await
        .is_null());
    app.stop().await;
}

/// An announcement in the one-user shape earlier versions published (`user_provisioned.v1`),
/// still queued or replayed from a dead-letter queue, wakes its links as before.
#[tokio::test]
async fn a_single_user_announcement_of_an_earlier_version_still_wakes_links() {
    use scimsync_schema::message::UserProvisioned;
    use scimsync_schema::QueueMessage;
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn_with(
        scimsync_tests::app::Services {
            manager_linker: true,
            ..scimsync_tests::app::Services::INGEST_ONLY
        },
        |_| {},
    )
    .await;
    let company = app.register_company("org-v1", &[]).await;
    let report = with_manager(
        create("org-v1", "m-report", "report@example.com", t(0)),
        "m-boss",
    );
    app.accept(&report).await;
    let pending = app.logged_by(company, &event_id(&report), LINKER).await;
    assert_eq!(pending["outcome"], "manager_pending");
    // The two records, written without user-upsert (which announces in the batch shape).
    let (report_id, boss_id) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, member, email) in [
        (report_id, "m-report", "report@example.com"),
        (boss_id, "m-boss", "boss@example.com"),
    ] {
        app.env
            .db
            .execute_unprepared(&format!(
                "INSERT INTO users (id, company_id, email, stytch_member_id, scim_provisioned)
                 VALUES ('{id}', '{company}', '{email}', '{member}', true)"
            ))
            .await
            .unwrap();
    }
    let broker = Broker::connect(&app.env.amqp_url).await;
    for (id, member) in [(boss_id, "m-boss"), (report_id, "m-report")] {
        let message = QueueMessage::UserProvisionedV1(UserProvisioned {
            event_id: format!("evt-{member}:user_provisioned"),
            timestamp: t(1),
            company_id: company.to_string(),
            user_id: id.to_string(),
            stytch_member_id: member.into(),
            scim_id: None,
            external_id: None,
        });
        broker.put(MANAGER_LINKER.name, &message.to_bytes()).await;
    }
    wait_linked(&app, company, "report@example.com", &json!(boss_id)).await;
    let log = app.logged_by(company, &event_id(&report), LINKER).await;
    assert_eq!(log["outcome"], "manager_linked", "{log}");
    app.stop().await;
}
