//! `scimctl simulate` end to end: a small organisation, its first sync sent reports first,
//! churn, duplicates and the deliberate cycle, against the in-process services. The simulator
//! must find the product's state equal to its generated truth.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimctl::simulate::{Args, Order};
use scimsync_tests::TestApp;

#[tokio::test]
async fn a_simulated_organisation_converges_to_the_generated_truth() {
    let app = TestApp::spawn().await;
    let args = Args {
        users: 100,
        order: Order::ReportsFirst,
        churn: 60,
        duplicates: 0.1,
        concurrency: 16,
        rate: None,
        seed: 7,
        company_org: None,
        ingest_url: app.ingest_url.clone(),
        admin_url: app.admin_url.clone(),
        timeout: 60,
        json: false,
        secret: None,
    };
    let report = scimctl::simulate::simulate(&app.env.settings, &args)
        .await
        .expect("the simulation runs");
    assert!(
        report.ok(),
        "{}",
        scimctl::simulate::report::render(&report)
    );
    assert_eq!(report.mismatch_count, 0);
    assert_eq!(report.expected.skipped_cycles, 1);
    assert!(report
        .webhooks
        .by_status
        .keys()
        .all(|s| (200..300).contains(s)));
    app.stop().await;
}
