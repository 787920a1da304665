//! Dead-letter tooling (SPEC A6) against a real broker: `scimctl dlq` driven in-process.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lapin::options::{BasicGetOptions, BasicNackOptions};
use scimctl::dlq::filter::Filter;
use scimctl::dlq::letter::DeadLetteredBy;
use scimctl::dlq::replay::{replay, ReplayOptions, ReplaySummary, SimulatedCrash};
use scimctl::dlq::{list, resolve, show, DeadLetterQueue};
use scimsync_platform::metrics::metrics;
use scimsync_schema::topology::USER_UPSERT;
use scimsync_schema::DeadLetterReason;
use scimsync_tests::app::{Services, DEADLINE};
use scimsync_tests::broker::Broker;
use scimsync_tests::events::{create, event_id, t};
use scimsync_tests::{wait_until, TestApp};

const DLQ: &str = "scimsync.user-upsert.dlq";

fn dlq() -> DeadLetterQueue {
    resolve(DLQ).expect("known queue")
}

fn replay_options(filter: Filter) -> ReplayOptions {
    ReplayOptions {
        filter,
        limit: None,
        rate: None,
        dry_run: false,
        crash_after_publish: false,
    }
}

async fn run_replay(app: &TestApp, options: &ReplayOptions) -> ReplaySummary {
    replay(&app.env.amqp_url, &dlq(), options, &|_| {})
        .await
        .expect("replay")
}

async fn wait_depth(app: &TestApp, queue: &str, depth: u64) {
    wait_until(&format!("{queue} to hold {depth}"), DEADLINE, || async {
        (app.env.queue_depth(queue).await == Some(depth)).then_some(())
    })
    .await;
}

/// Sends a member create for an organization nobody registered and waits for its dead letter.
async fn dead_letter_an_unknown_organization(app: &TestApp, org: &str) -> String {
    let event = create(org, "m-1", "ada@example.com", t(0));
    app.accept(&event).await;
    wait_depth(app, DLQ, 1).await;
    event_id(&event)
}

async fn users(app: &TestApp) -> i64 {
    app.env.count("SELECT count(*) AS n FROM users").await
}

#[tokio::test]
async fn an_unknown_organization_is_dead_lettered_then_replayed_once_the_company_exists() {
    let app = TestApp::spawn().await;
    let event_id = dead_letter_an_unknown_organization(&app, "org-late").await;

    // Listing and showing read every message and lose none.
    let counts = list::list(&app.env.amqp_url, &[dlq()]).await.expect("list");
    assert_eq!(counts[0].messages, 1);
    assert_eq!(
        counts[0].groups[0].reason,
        DeadLetterReason::UnknownOrganization.as_str()
    );
    assert_eq!(counts[0].groups[0].event_type, "scim.member.create");
    for _ in 0..3 {
        let shown = show::show(&app.env.amqp_url, &dlq(), &Filter::default(), 20)
            .await
            .expect("show");
        assert_eq!(shown.len(), 1, "each message is seen once per walk");
        let letter = &shown[0];
        assert_eq!(
            letter.reason,
            DeadLetterReason::UnknownOrganization.as_str()
        );
        assert_eq!(letter.dead_lettered_by, DeadLetteredBy::Worker);
        assert_eq!(letter.original_exchange.as_deref(), Some("scimsync.events"));
        assert_eq!(
            letter.original_routing_key.as_deref(),
            Some("scim.member.create")
        );
        assert_eq!(letter.event_id.as_deref(), Some(event_id.as_str()));
        assert_eq!(letter.organization_id.as_deref(), Some("org-late"));
        assert_eq!(letter.attempts, Some(1));
        assert!(letter.failed_at.is_some() && letter.message_id.is_some());
        assert_eq!(letter.body["event_id"], event_id.as_str());
    }
    assert_eq!(app.env.queue_depth(DLQ).await, Some(1));

    let company = app.register_company("org-late", &[]).await;

    // A dry run and a filter that matches nothing change nothing.
    let dry = run_replay(
        &app,
        &ReplayOptions {
            dry_run: true,
            ..replay_options(Filter::reason(DeadLetterReason::UnknownOrganization))
        },
    )
    .await;
    assert_eq!((dry.matched, dry.replayed, dry.failed), (1, 0, 0));
    let other = run_replay(
        &app,
        &replay_options(Filter::reason(DeadLetterReason::Undecodable)),
    )
    .await;
    assert_eq!((other.matched, other.skipped), (0, 1));
    assert_eq!(app.env.queue_depth(DLQ).await, Some(1));
    assert_eq!(app.env.queue_depth(USER_UPSERT.name).await, Some(0));
    assert_eq!(users(&app).await, 0, "nothing was applied");

    let summary = run_replay(
        &app,
        &replay_options(Filter::reason(DeadLetterReason::UnknownOrganization)),
    )
    .await;
    assert_eq!(
        (summary.replayed, summary.skipped, summary.failed),
        (1, 0, 0)
    );
    wait_until("the replayed member to be applied", DEADLINE, || async {
        app.user_by_email(company, "ada@example.com").await
    })
    .await;
    assert_eq!(app.env.queue_depth(DLQ).await, Some(0));
    app.stop().await;
}

#[tokio::test]
async fn a_replay_killed_between_republish_and_removal_loses_nothing() {
    let app = TestApp::spawn().await;
    let event_id = dead_letter_an_unknown_organization(&app, "org-crash").await;
    let company = app.register_company("org-crash", &[]).await;

    let crashed = replay(
        &app.env.amqp_url,
        &dlq(),
        &ReplayOptions {
            crash_after_publish: true,
            ..replay_options(Filter::reason(DeadLetterReason::UnknownOrganization))
        },
        &|_| {},
    )
    .await
    .expect_err("the replay stops like a crash");
    assert!(
        matches!(crashed, scimsync_dlq::Error::Crash(SimulatedCrash)),
        "{crashed}"
    );

    // The copy reached the worker, and the dead letter is still there: the broker returned it.
    wait_until("the republished copy to be applied", DEADLINE, || async {
        app.user_by_email(company, "ada@example.com").await
    })
    .await;
    wait_depth(&app, DLQ, 1).await;

    // Replaying again is harmless: the handler sees a duplicate event id.
    let duplicates = || {
        metrics()
            .results
            .get_or_create(&scimsync_platform::metrics::ResultLabels {
                queue: USER_UPSERT.name.into(),
                event_type: "scim.member.create".into(),
                result: "duplicate".into(),
            })
            .get()
    };
    let before = duplicates();
    let summary = run_replay(&app, &replay_options(Filter::default())).await;
    assert_eq!((summary.replayed, summary.failed), (1, 0));
    wait_until(
        "the second copy to be seen as a duplicate",
        DEADLINE,
        || async { (duplicates() > before).then_some(()) },
    )
    .await;
    assert_eq!(app.env.queue_depth(DLQ).await, Some(0));
    assert_eq!(users(&app).await, 1, "exactly one user");
    let logged = app
        .env
        .count(&format!(
            "SELECT count(*) AS n FROM scim_event_log WHERE event_id = '{event_id}' AND concern = 'user-upsert'"
        ))
        .await;
    assert_eq!(logged, 1, "applied once");
    app.stop().await;
}

#[tokio::test]
async fn a_message_dead_lettered_by_the_broker_is_read_from_x_death_and_replayed_to_its_queue() {
    let app = TestApp::spawn_with(Services::INGEST_ONLY, |_| {}).await;
    let event = create("org-x", "m-1", "ada@example.com", t(0));
    app.accept(&event).await;
    wait_depth(&app, USER_UPSERT.name, 1).await;

    // A consumer that keeps failing the message (as a crashing handler would) until the
    // queue's delivery limit makes the broker dead-letter it.
    let connection = scimsync_platform::amqp::connect(&app.env.amqp_url, "test-rejecter")
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    for _ in 0..100 {
        let Some(got) = channel
            .basic_get(USER_UPSERT.name, BasicGetOptions::default())
            .await
            .expect("get")
        else {
            break;
        };
        let requeue = BasicNackOptions {
            requeue: true,
            ..Default::default()
        };
        got.delivery.nack(requeue).await.expect("nack");
    }
    wait_depth(&app, DLQ, 1).await;

    let shown = show::show(&app.env.amqp_url, &dlq(), &Filter::default(), 5)
        .await
        .expect("show");
    let letter = &shown[0];
    assert_eq!(letter.dead_lettered_by, DeadLetteredBy::Broker);
    assert_eq!(letter.reason, DeadLetterReason::DeliveryLimit.as_str());
    assert_eq!(letter.original_exchange.as_deref(), Some("scimsync.events"));
    assert_eq!(
        letter.original_routing_key.as_deref(),
        Some("scim.member.create")
    );
    assert!(letter.failed_at.is_some());
    // Once kept by a walk, it reads the same from our own headers.
    let again = show::show(&app.env.amqp_url, &dlq(), &Filter::default(), 5)
        .await
        .expect("show again");
    assert_eq!(again[0].reason, DeadLetterReason::DeliveryLimit.as_str());
    assert_eq!(again[0].original_routing_key, letter.original_routing_key);
    assert_eq!(again[0].failed_at, letter.failed_at);

    let summary = run_replay(
        &app,
        &replay_options(Filter::reason(DeadLetterReason::DeliveryLimit)),
    )
    .await;
    assert_eq!(summary.replayed, 1);
    assert_eq!(app.env.queue_depth(DLQ).await, Some(0));
    let broker = Broker::connect(&app.env.amqp_url).await;
    let replayed = broker
        .take(USER_UPSERT.name)
        .await
        .expect("the copy is on the work queue");
    assert_eq!(replayed.header("x-event-id"), Some(event_id(&event)));
    assert_eq!(
        replayed.header("x-original-routing-key").as_deref(),
        Some("scim.member.create")
    );
    assert!(replayed.header("x-replayed-at").is_some());
    assert!(!replayed.headers.contains_key("x-death"));
    app.stop().await;
}

#[tokio::test]
async fn purge_needs_yes_and_deletes_only_what_the_filter_selects() {
    let app = TestApp::spawn().await;
    dead_letter_an_unknown_organization(&app, "org-gone").await;
    let broker = Broker::connect(&app.env.amqp_url).await;
    broker.put(USER_UPSERT.name, b"not a queue message").await;
    wait_depth(&app, DLQ, 2).await;

    let operator = scimctl::audit::Operator::named("dlq-test").unwrap();
    let refused = scimctl::dlq::run(
        &app.env.settings,
        &operator,
        scimctl::dlq::Command::Purge {
            queue: scimctl::dlq::QueuesArg {
                queue: Some(DLQ.into()),
            },
            filter: scimctl::dlq::FilterArgs::default(),
            yes: false,
        },
    )
    .await
    .expect_err("purge without --yes");
    assert!(refused.to_string().contains("--yes"), "{refused}");
    assert_eq!(app.env.queue_depth(DLQ).await, Some(2));

    let purged = scimctl::dlq::purge::purge(
        &app.env.amqp_url,
        &dlq(),
        &Filter::reason(DeadLetterReason::Undecodable),
    )
    .await
    .expect("purge");
    assert_eq!(purged, 1);
    let left = show::show(&app.env.amqp_url, &dlq(), &Filter::default(), 20)
        .await
        .expect("show");
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0].reason,
        DeadLetterReason::UnknownOrganization.as_str()
    );
    app.stop().await;
}
