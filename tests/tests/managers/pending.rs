//! Links whose manager, or whose report, has no record yet (R13): woken by user-upsert's
//! announcements, given up after the age limit.

use std::sync::atomic::Ordering;
use std::time::Duration;

use scimsync_platform::metrics::{metrics, EventLabels};
use scimsync_schema::topology::{DELAY_TIERS, MANAGER_LINKER};
use scimsync_schema::{EventOutcome, QueueMessage};
use scimsync_tests::app::DEADLINE;
use scimsync_tests::broker::Broker;
use scimsync_tests::events::{create, event_id, set_scim, t, update, with_manager};
use scimsync_tests::{wait_until, TestApp};
use serde_json::json;
use uuid::Uuid;

use super::{manager_of, user, wait_linked, LINKER};

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
/// the update announces the new id, which wakes the pending link at once (the sweep would look
/// at it only after `manager.pending_retry_secs`, two minutes by default).
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

    // The report's event again (a redelivery, or a replay):
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
async fn a_manager_that_never_arrives_is_dead_lettered_after_the_age_limit() {
    let app = TestApp::spawn_with(Default::default(), |s| {
        s.set_override("manager.max_pending_age_secs", 3600)
            .expect("a setting");
        // The sweep is what gives up; no need to wait two minutes for it.
        s.set_override("manager.pending_retry_secs", 1)
            .expect("a setting");
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
    // The link keeps the message in the database: nothing waits on the delay tiers.
    let broker = Broker::connect(&app.env.amqp_url).await;
    for tier in DELAY_TIERS {
        let queue = MANAGER_LINKER.delay_queue(*tier);
        assert_eq!(broker.depth(&queue).await, Some(0), "{queue}");
    }
    app.clock_offset_secs.store(7200, Ordering::Relaxed);
    let dead = wait_until("the dead letter", Duration::from_secs(30), || async {
        broker.take("scimsync.manager-linker.dlq").await
    })
    .await;
    assert_eq!(
        dead.header("x-dead-letter-reason").as_deref(),
        Some("manager_not_found")
    );
    // The dead letter is the event's own message, so a replay sends the event again.
    match QueueMessage::from_bytes(&dead.body) {
        Ok(QueueMessage::StytchWebhookV1(webhook)) => {
            assert_eq!(webhook.event_id, event_id(&e));
        }
        _ => panic!("the dead letter is not the event's message"),
    }
    assert!(dead.header("x-original-routing-key").is_some());
    // The sweep publishes the dead letter before its transaction commits the log's new outcome
    // (a crash in between dead-letters again, never loses it): wait for the row.
    let id = event_id(&e);
    wait_until("the log to say manager_not_found", DEADLINE, || async {
        let log = app.logged_by(company, &id, LINKER).await;
        (log["outcome"] == EventOutcome::ManagerNotFound).then_some(())
    })
    .await;
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

    let (app, company, report, [report_id, boss_id]) =
        report_pending_then_written("org-v1", |_| {}).await;
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

/// Both users exist but no announcement ever came (a crash between a commit and its
/// announcement): the sweep looks at the pending link again and makes it.
#[tokio::test]
async fn the_sweep_settles_a_link_whose_announcement_was_missed() {
    let (app, company, report, [_, boss_id]) = report_pending_then_written("org-sweep", |s| {
        s.set_override("manager.pending_retry_secs", 1)
            .expect("a setting")
    })
    .await;
    wait_linked(&app, company, "report@example.com", &json!(boss_id)).await;
    let log = app.logged_by(company, &event_id(&report), LINKER).await;
    assert_eq!(log["outcome"], "manager_linked", "{log}");
    assert_eq!(log["detail"]["settled_by"], "sweep", "{log}");
    app.stop().await;
}

/// manager-linker alone (no user-upsert, so nobody announces users): a report whose manager
/// (`m-boss`) has no record is pending; then both records are written directly. Returns the
/// app, the company, the report's event and the ids of the report and the boss.
async fn report_pending_then_written(
    org: &str,
    tweak: impl FnOnce(&mut scimsync_platform::Settings),
) -> (TestApp, Uuid, serde_json::Value, [Uuid; 2]) {
    let app = TestApp::spawn_with(
        scimsync_tests::app::Services {
            workers: &[scimsync_schema::Concern::ManagerLinker],
            ..scimsync_tests::app::Services::INGEST_ONLY
        },
        tweak,
    )
    .await;
    let company = app.register_company(org, &[]).await;
    let report = with_manager(
        create(org, "m-report", "report@example.com", t(0)),
        "m-boss",
    );
    app.accept(&report).await;
    let pending = app.logged_by(company, &event_id(&report), LINKER).await;
    assert_eq!(pending["outcome"], "manager_pending");
    let ids = insert_users(
        &app,
        company,
        &[
            ("m-report", "report@example.com"),
            ("m-boss", "boss@example.com"),
        ],
    )
    .await;
    (app, company, report, [ids[0], ids[1]])
}

/// Writes user records directly (without user-upsert, so nobody announces them).
async fn insert_users(app: &TestApp, company: Uuid, users: &[(&str, &str)]) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for (member, email) in users {
        ids.push(scimsync_tests::env::insert_scim_user(&app.env.db, company, member, email).await);
    }
    ids
}

/// A manager who arrives after 600 reports wakes them all at once: more links than one
/// transaction settles (500), so the wake-up goes in two, and every report is linked.
#[tokio::test]
async fn a_manager_arriving_after_600_reports_links_every_one() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    const REPORTS: usize = 600;
    let app = TestApp::spawn().await;
    let company = app.register_company("org-wide", &[]).await;
    for n in 0..REPORTS {
        let report = with_manager(
            create(
                "org-wide",
                &format!("m-r{n}"),
                &format!("r{n}@example.com"),
                t(0),
            ),
            "m-boss",
        );
        app.accept(&report).await;
    }
    let pending = || async {
        let row = app
            .env
            .db
            .query_one(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM manager_links WHERE company_id = $1 AND status = 'pending'",
                [company.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    wait_until("every link pending", Duration::from_secs(60), || async {
        (pending().await == REPORTS as i64).then_some(())
    })
    .await;
    app.accept(&create("org-wide", "m-boss", "boss@example.com", t(1)))
        .await;
    wait_until("every link made", Duration::from_secs(60), || async {
        (pending().await == 0).then_some(())
    })
    .await;
    let boss_id = user(&app, company, "boss@example.com").await["id"].clone();
    let users = app.users(company).await;
    let linked = users.iter().filter(|u| u["manager_id"] == boss_id).count();
    assert_eq!(linked, REPORTS);
    assert_eq!(
        user(&app, company, "boss@example.com").await["permission_level"],
        "manager"
    );
    app.stop().await;
}
