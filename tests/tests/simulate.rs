//! `scimsim simulate` end to end: a small organisation, its first sync sent reports first,
//! churn, duplicates and the deliberate cycle, against the in-process services. The simulator
//! must find the product's state equal to its generated truth.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use scimsim::simulate::scim::translate::Dialect;
use scimsim::simulate::{Args, Order, Via};
use scimsync_schema::topology::{GROUP_RESOLVER, MANAGER_LINKER, USER_UPSERT};
use scimsync_tests::broker::Broker;
use scimsync_tests::proxy::Proxy;
use scimsync_tests::wait::wait_until;
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

fn args(app: &TestApp, users: usize, churn: usize) -> Args {
    Args {
        via: Via::Stytch,
        dialect: Dialect::Entra,
        scim_url: String::new(),
        users,
        order: Order::ReportsFirst,
        churn,
        duplicates: 0.1,
        concurrency: 16,
        rate: None,
        seed: 7,
        company_org: None,
        ingest_url: app.ingest_url.clone(),
        admin_url: app.admin_url.clone(),
        retry_for: 30,
        timeout: 60,
        json: false,
        secret: None,
    }
}

/// Runs the simulation and requires the product to end equal to the generated truth.
async fn converged(app: &TestApp, args: &Args) -> scimsim::simulate::report::Report {
    let report = scimsim::simulate::simulate(&app.env.settings, args)
        .await
        .expect("the simulation runs");
    assert!(
        report.ok(),
        "{}",
        scimsim::simulate::report::render(&report)
    );
    assert_eq!(report.mismatch_count, 0);
    report
}

#[tokio::test]
async fn a_simulated_organisation_converges_to_the_generated_truth() {
    let app = TestApp::spawn().await;
    let report = converged(&app, &args(&app, 100, 60)).await;
    assert_eq!(report.expected.skipped_cycles, 1);
    assert!(report
        .webhooks
        .by_status
        .keys()
        .all(|s| (200..300).contains(s)));
    app.stop().await;
}

/// The same organisation and churn through the SCIM door, as Entra provisions it, in each of
/// Entra's PATCH dialects: the product ends equal to the same truth (SPEC §1: two doors, one
/// set of rules).
#[tokio::test]
async fn a_simulated_entra_tenant_converges_through_the_scim_door_in_both_dialects() {
    let app = TestApp::spawn().await;
    let scim = scimsync_tests::scim::ScimService::start(&app).await;
    for (dialect, seed) in [(Dialect::Entra, 21), (Dialect::Entra2020, 22)] {
        let mut args = args(&app, 80, 60);
        args.via = Via::Scim;
        args.dialect = dialect;
        args.scim_url = format!("{}/scim/v2", scim.url);
        args.seed = seed;
        let report = converged(&app, &args).await;
        assert_eq!(report.expected.skipped_cycles, 1, "{dialect:?}");
        assert!(
            report.webhooks.by_status.keys().all(|s| *s < 500),
            "{dialect:?}: {:?}",
            report.webhooks.by_status
        );
    }
    scim.stop().await;
    app.stop().await;
}

/// Each worker scales on its own: with two replicas of every worker taking the same queues,
/// deliveries in random order, churn and duplicates still end in the generated truth.
#[tokio::test]
async fn two_replicas_of_every_worker_converge_to_the_generated_truth() {
    let mut app = TestApp::spawn().await;
    let broker = Broker::connect(&app.env.amqp_url).await;
    let queues = [USER_UPSERT.name, GROUP_RESOLVER.name, MANAGER_LINKER.name];
    let mut one = Vec::new();
    for queue in queues {
        // A worker's queue exists before its consumer is registered.
        let count = wait_until(
            "the first replica to consume",
            Duration::from_secs(30),
            || async { broker.consumers(queue).await.filter(|n| *n > 0) },
        )
        .await;
        one.push(count);
    }
    app.start_workers(scimsync_tests::app::Services::default())
        .await;
    for (queue, one) in queues.into_iter().zip(one) {
        wait_until(
            "the second replica to consume",
            Duration::from_secs(30),
            || async { (broker.consumers(queue).await == Some(2 * one)).then_some(()) },
        )
        .await;
    }
    let mut args = args(&app, 150, 120);
    args.order = Order::Random;
    args.concurrency = 32;
    args.seed = 11;
    converged(&app, &args).await;
    app.stop().await;
}

/// The simulator polls PostgreSQL directly while it waits for convergence. Losing that
/// connection (a database restart) must not end the run: it shows the failure and reads again
/// until the database answers or its timeout passes.
#[tokio::test]
async fn the_simulator_waits_out_a_database_outage_while_it_polls() {
    let app = TestApp::spawn().await;
    let proxy = Proxy::database().await;
    let mut settings = app.env.settings.clone();
    proxy.reroute(&mut settings.database);
    // No idle connection kept up in the background: every connection the proxy refuses is
    // one the simulator asked for.
    settings.database.min_connections = 0;
    let org = "sim-outage";
    let args = Args {
        company_org: Some(org.to_owned()),
        ..args(&app, 30, 0)
    };
    let simulation =
        tokio::spawn(async move { scimsim::simulate::simulate(&settings, &args).await });

    // Cut once the simulator has registered its company through the admin API: it holds its
    // database connection by then, and has not sent anything yet. Keep the outage until the
    // product has applied every create (the services' own connections do not go through the
    // proxy) and the simulator has tried to read through the cut at least once.
    let count = |sql: &'static str| {
        let db = &app.env.db;
        async move {
            let row = db
                .query_one(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    [org.into()],
                ))
                .await
                .ok()??;
            row.try_get::<i64>("", "n").ok()
        }
    };
    wait_until(
        "the simulator to register its company",
        Duration::from_secs(30),
        || async {
            (count("SELECT count(*) AS n FROM companies WHERE stytch_organization_id = $1").await
                == Some(1))
            .then_some(())
        },
    )
    .await;
    proxy.cut();
    wait_until(
        "the product to apply every create, and the simulator to read, during the outage",
        Duration::from_secs(60),
        || async {
            let linked = count(
                "SELECT count(u.manager_id) AS n FROM users u \
                 JOIN companies c ON c.id = u.company_id WHERE c.stytch_organization_id = $1",
            )
            .await;
            (linked == Some(29) && proxy.refused() > 0).then_some(())
        },
    )
    .await;
    proxy.restore();

    let report = simulation
        .await
        .expect("the simulation task")
        .expect("the simulation outlasts the outage");
    assert!(report.converged);
    assert_eq!(
        report.mismatch_count,
        0,
        "{}",
        scimsim::simulate::report::render(&report)
    );
    app.stop().await;
}
