//! The event log's multi-row writes: a batch larger than one statement's share of rows is
//! written in several statements, and every row lands, whether new or replacing the latest.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Utc;
use scimsync_db::event_log::{self, Entry};
use scimsync_db::ROWS_PER_STATEMENT;
use scimsync_tests::env::TestEnv;
use serde_json::json;

#[tokio::test]
async fn writes_larger_than_one_statement_keep_every_row() {
    let env = TestEnv::new().await;
    let n = ROWS_PER_STATEMENT * 2 + 7;
    let ids: Vec<String> = (0..n).map(|i| format!("event-chunked-{i}")).collect();
    let entries = |outcome: &'static str| -> Vec<Entry<'_>> {
        ids.iter()
            .map(|id| Entry {
                company_id: None,
                received_at: Utc::now(),
                event_id: id,
                event_type: "scim.member.create",
                concern: "manager-linker",
                user_id: None,
                stytch_member_id: Some("m-chunked"),
                outcome,
                detail: json!({}),
            })
            .collect()
    };
    event_log::record_all(&env.db, &entries("manager_pending"))
        .await
        .unwrap();
    let count = |outcome: &str| {
        format!(
            "SELECT count(*) AS n FROM scim_event_log WHERE event_id LIKE 'event-chunked-%' AND outcome = '{outcome}'"
        )
    };
    assert_eq!(env.count(&count("manager_pending")).await, n as i64);
    // The latest outcome replaces the earlier one in every chunk.
    event_log::record_latest_all(&env.db, &entries("manager_linked"))
        .await
        .unwrap();
    assert_eq!(env.count(&count("manager_linked")).await, n as i64);
    assert_eq!(env.count(&count("manager_pending")).await, 0);
    env.cleanup().await;
}
