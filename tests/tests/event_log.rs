//! The event log's multi-row writes: a batch larger than one statement's share of rows is
//! written in several statements, and every row lands, whether new or replacing the latest.
//! And its retention: `scimctl event-log prune` deletes old rows only.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Duration, Utc};
use scimsync_db::event_log::{self, Door, Entry};
use scimsync_db::ROWS_PER_STATEMENT;
use scimsync_schema::{Concern, EventOutcome};
use scimsync_tests::app::{status_and_json, Services};
use scimsync_tests::env::TestEnv;
use scimsync_tests::TestApp;
use serde_json::{json, Value};

#[tokio::test]
async fn writes_larger_than_one_statement_keep_every_row() {
    let env = TestEnv::new().await;
    let n = ROWS_PER_STATEMENT * 2 + 7;
    let ids: Vec<String> = (0..n).map(|i| format!("event-chunked-{i}")).collect();
    let entries = |outcome: EventOutcome| -> Vec<Entry<'_>> {
        ids.iter()
            .map(|id| Entry {
                company_id: None,
                door: Door::Stytch,
                received_at: Utc::now(),
                event_id: id,
                event_type: "scim.member.create",
                concern: Concern::ManagerLinker,
                user_id: None,
                user_ids: Vec::new(),
                stytch_member_id: Some("m-chunked"),
                outcome,
                detail: json!({}),
            })
            .collect()
    };
    event_log::record_all(&env.db, &entries(EventOutcome::ManagerPending))
        .await
        .unwrap();
    let count = |outcome: EventOutcome| {
        format!(
            "SELECT count(*) AS n FROM scim_event_log WHERE event_id LIKE 'event-chunked-%' AND outcome = '{outcome}'"
        )
    };
    assert_eq!(
        env.count(&count(EventOutcome::ManagerPending)).await,
        n as i64
    );
    // The latest outcome replaces the earlier one in every chunk.
    event_log::record_latest_all(&env.db, &entries(EventOutcome::ManagerLinked))
        .await
        .unwrap();
    assert_eq!(
        env.count(&count(EventOutcome::ManagerLinked)).await,
        n as i64
    );
    assert_eq!(env.count(&count(EventOutcome::ManagerPending)).await, 0);
    env.cleanup().await;
}

#[tokio::test]
async fn pruning_deletes_the_rows_older_than_the_cutoff_and_no_other() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    // Ids in time order, but for one old event logged last (a late replay): time alone would
    // be no bookmark for the batches.
    let ages = [100, 95, 91, 40, 2, 0, 120];
    let ids: Vec<String> = (0..ages.len()).map(|i| format!("event-aged-{i}")).collect();
    for (id, days) in ids.iter().zip(ages) {
        let entry = Entry {
            company_id: None,
            door: Door::Stytch,
            received_at: now - Duration::days(days),
            event_id: id,
            event_type: "scim.member.create",
            concern: Concern::UserUpsert,
            user_id: None,
            user_ids: Vec::new(),
            stytch_member_id: Some("m-aged"),
            outcome: EventOutcome::Created,
            detail: json!({}),
        };
        event_log::record_all(&env.db, &[entry]).await.unwrap();
    }
    let cutoff = now - Duration::days(90);
    assert_eq!(scimctl::event_log::count(&env.db, cutoff).await.unwrap(), 4);
    let mut batches = Vec::new();
    let deleted = scimctl::event_log::prune(&env.db, cutoff, 2, |n| batches.push(n))
        .await
        .unwrap();
    assert_eq!(deleted, 4);
    assert_eq!(batches, [2, 4], "two rows a batch");
    let left = env
        .count("SELECT count(*) AS n FROM scim_event_log WHERE event_id LIKE 'event-aged-%'")
        .await;
    assert_eq!(left, 3, "the 40, 2 and 0 days old rows stay");
    assert_eq!(
        scimctl::event_log::prune(&env.db, cutoff, 2, |_| {})
            .await
            .unwrap(),
        0
    );
    env.cleanup().await;
}

/// The admin API's event log filters name workers and outcomes from closed sets: a value outside
/// them is a mistake to say so, not a filter that matches nothing.
#[tokio::test]
async fn an_unknown_outcome_or_concern_filter_is_refused_naming_the_parameter_and_the_valid_values()
{
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let company = app.register_company("org-event-filters", &[]).await;
    let row = |event_id: &'static str, concern, outcome| Entry {
        company_id: Some(company),
        door: Door::Stytch,
        received_at: Utc::now(),
        event_id,
        event_type: "scim.member.create",
        concern,
        user_id: None,
        user_ids: Vec::new(),
        stytch_member_id: Some("m-filters"),
        outcome,
        detail: json!({}),
    };
    event_log::record_all(
        &app.env.db,
        &[
            row("e-created", Concern::UserUpsert, EventOutcome::Created),
            row(
                "e-pending",
                Concern::ManagerLinker,
                EventOutcome::ManagerPending,
            ),
        ],
    )
    .await
    .unwrap();
    let events = format!("/api/v1/companies/{company}/events");
    let outcomes: Vec<&str> = EventOutcome::ALL.iter().map(|o| o.as_str()).collect();
    let concerns: Vec<&str> = Concern::ALL.iter().map(|c| c.as_str()).collect();
    for (param, names) in [("outcome", outcomes), ("concern", concerns)] {
        let url = format!("{}{events}?{param}=bogus", app.admin_url);
        let (status, body) = status_and_json(app.http.get(&url).send().await.unwrap()).await;
        assert_eq!(
            (status, body["error"].as_str(), body["field"].as_str()),
            (400, Some("invalid_query"), Some(param)),
            "{url}: {body}"
        );
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(param), "{message}");
        for name in &names {
            assert!(message.contains(name), "{name} missing from: {message}");
        }
        // The document clients are built from lists the same values.
        let document = app.get("/openapi.json").await;
        let parameters =
            &document["paths"]["/api/v1/companies/{company_id}/events"]["get"]["parameters"];
        let declared = parameters
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == param)
            .unwrap_or_else(|| panic!("{param} not declared: {parameters}"));
        assert_eq!(declared["schema"]["enum"], json!(names), "{declared}");
    }
    // A known value filters; an empty one does not.
    let ids = |page: Value| -> Vec<String> {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(app.get(&format!("{events}?concern=manager-linker")).await),
        ["e-pending"]
    );
    assert_eq!(
        ids(app.get(&format!("{events}?outcome=created")).await),
        ["e-created"]
    );
    assert_eq!(
        ids(app.get(&format!("{events}?outcome=&concern=")).await).len(),
        2
    );
    app.stop().await;
}
