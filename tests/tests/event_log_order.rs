//! The event log reads newest first by receive time (R16), not in the order rows were written:
//! an event replayed from a dead-letter queue days later is logged last but was received long
//! before. Pages walk every row once, in that order, filtered or not.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, Utc};
use scimsync_db::event_log::{self, Door, Entry};
use scimsync_schema::{Concern, EventOutcome};
use scimsync_tests::app::Services;
use scimsync_tests::TestApp;
use serde_json::json;
use uuid::Uuid;

/// One log row as the test writes it; rows are written in the order of their index.
struct Row {
    event_id: String,
    received_at: DateTime<Utc>,
    outcome: EventOutcome,
    user_id: Option<Uuid>,
}

/// Walks every page of `query` with `limit=2`; returns the event ids in the order served.
async fn walk(app: &TestApp, company: Uuid, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..50 {
        let page = app
            .get(&format!(
                "/api/v1/companies/{company}/events?limit=2&cursor={cursor}{query}"
            ))
            .await;
        let events = page["events"].as_array().expect("events");
        assert!(events.len() <= 2, "{page}");
        seen.extend(
            events
                .iter()
                .map(|e| e["event_id"].as_str().expect("event_id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return seen,
        }
    }
    panic!("more than 50 pages: {seen:?}");
}

#[tokio::test]
async fn event_log_pages_walk_every_row_once_newest_received_first() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let company = app.register_company("org-order", &[]).await;
    let user = Uuid::now_v7();
    let base: DateTime<Utc> = Utc::now() - Duration::days(3);
    // Written in this order (row ids ascending), received at these offsets: late replays,
    // two rows received in the same microsecond (ties go by row id) and two a microsecond apart.
    let micros = [
        30_000_000, 10_000_000, 50_000_000, 20_000_000, 50_000_000, 40_000_001, 40_000_000, 0,
        35_000_000,
    ];
    let rows: Vec<Row> = micros
        .iter()
        .enumerate()
        .map(|(i, offset)| Row {
            event_id: format!("event-order-{i}"),
            received_at: base + Duration::microseconds(*offset),
            outcome: if i % 2 == 0 {
                EventOutcome::Created
            } else {
                EventOutcome::Updated
            },
            user_id: (i % 3 == 0).then_some(user),
        })
        .collect();
    for row in &rows {
        let entry = Entry {
            company_id: Some(company),
            door: Door::Stytch,
            received_at: row.received_at,
            event_id: &row.event_id,
            event_type: "scim.member.update",
            concern: Concern::UserUpsert,
            user_id: row.user_id,
            user_ids: Vec::new(),
            stytch_member_id: Some("m-order"),
            outcome: row.outcome,
            detail: json!({}),
        };
        event_log::record_all(&app.env.db, &[entry]).await.unwrap();
    }
    // Newest received first; rows received at the same instant, the later written first.
    let expected = |keep: &dyn Fn(&Row) -> bool| {
        let mut order: Vec<(usize, &Row)> =
            rows.iter().enumerate().filter(|(_, r)| keep(r)).collect();
        order.sort_by(|(i, a), (j, b)| b.received_at.cmp(&a.received_at).then(j.cmp(i)));
        order
            .into_iter()
            .map(|(_, r)| r.event_id.clone())
            .collect::<Vec<_>>()
    };

    assert_eq!(walk(&app, company, "").await, expected(&|_| true));
    assert_eq!(
        walk(&app, company, "&outcome=created").await,
        expected(&|r| r.outcome == EventOutcome::Created)
    );
    assert_eq!(
        walk(&app, company, &format!("&user_id={user}")).await,
        expected(&|r| r.user_id == Some(user))
    );
    let since = base + Duration::seconds(20);
    let since_query = format!(
        "&since={}",
        since
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .replace('+', "%2B")
    );
    assert_eq!(
        walk(&app, company, &since_query).await,
        expected(&|r| r.received_at >= since)
    );
    app.stop().await;
}
