//! Reading users and the event log: every row once over small pages, newest first, and filters
//! that cut inside the data rather than around it.

use chrono::{DateTime, SecondsFormat, Utc};
use scimsync_db::event_log::{self, Door, Entry};
use scimsync_tests::app::Services;
use scimsync_tests::events::{create, event_id, t};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};
use uuid::Uuid;

/// The event log rows of a company straight from the database, newest first (by the time
/// ingest received each event, then by row).
async fn stored_log(app: &TestApp, company: Uuid) -> Vec<Value> {
    app.env
        .db
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM scim_event_log WHERE company_id = $1 ORDER BY received_at DESC, id DESC",
            [company.into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| json!(row.try_get::<i64>("", "id").unwrap()))
        .collect()
}

fn field(items: &[Value], name: &str) -> Vec<Value> {
    items.iter().map(|i| i[name].clone()).collect()
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Walks a list page by page with `limit=2`: every page holds at most two items.
async fn pages_of_two(app: &TestApp, path: &str, items: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app.get(&format!("{path}?limit=2&cursor={cursor}")).await;
        let got = page[items].as_array().cloned().unwrap_or_default();
        assert!(got.len() <= 2, "{path}: a page of {}", got.len());
        all.extend(got);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return all,
        }
    }
}

#[tokio::test]
async fn pages_hold_every_row_once_in_order_and_filters_cut_inside_the_data() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-p", &["example.com"]).await;
    let log = format!("/api/v1/companies/{company}/events");
    let send = |i: i64| {
        create(
            "org-p",
            &format!("m-{i}"),
            &format!("p{i}@example.com"),
            t(i),
        )
    };
    let mut before = Vec::new();
    for i in 0..3 {
        let e = send(i);
        app.accept(&e).await;
        before.push(event_id(&e));
    }
    app.wait_settled().await;
    // Every row so far was received before this instant, every later one after it.
    let boundary = Utc::now();
    let mut after = Vec::new();
    for i in 3..5 {
        let e = send(i);
        app.accept(&e).await;
        after.push(event_id(&e));
    }
    let rejected = create("org-p", "m-x", "x@elsewhere.org", t(9));
    app.accept(&rejected).await;
    after.push(event_id(&rejected));
    app.wait_settled().await;

    // The event log over pages of two: every row once, newest first.
    let stored = stored_log(&app, company).await;
    assert_eq!(stored.len(), 6, "one row per event");
    let paged = pages_of_two(&app, &log, "events").await;
    assert_eq!(field(&paged, "id"), stored, "every row once, newest first");

    // Time filters cut between the two rounds; `since` is inclusive, `until` exclusive.
    let ids_of = |rows: Vec<Value>| {
        let mut ids: Vec<String> = field(&rows, "event_id")
            .iter()
            .map(|e| e.as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    let since = app
        .all_pages(
            &log,
            &format!("limit=2&since={}", stamp(boundary)),
            "events",
        )
        .await;
    assert_eq!(ids_of(since), sorted(after.clone()));
    let until = app
        .all_pages(&log, &format!("until={}", stamp(boundary)), "events")
        .await;
    assert_eq!(ids_of(until.clone()), sorted(before.clone()));
    // From the second row's own time (kept) to the boundary (excluded).
    let second = until
        .iter()
        .find(|e| e["event_id"] == before[1].as_str())
        .unwrap();
    let from: DateTime<Utc> = second["received_at"].as_str().unwrap().parse().unwrap();
    let window = app
        .all_pages(
            &log,
            &format!("since={}&until={}", stamp(from), stamp(boundary)),
            "events",
        )
        .await;
    assert_eq!(ids_of(window), sorted(before[1..].to_vec()));

    // Other filters, alone and paged.
    let only_rejected = app
        .get(&format!("{log}?outcome=rejected_email_domain"))
        .await;
    assert_eq!(
        field(only_rejected["events"].as_array().unwrap(), "event_id"),
        [json!(event_id(&rejected))]
    );
    let user = app
        .user_by_email(company, "p0@example.com")
        .await
        .expect("user");
    let by_user = app
        .get(&format!("{log}?user_id={}", user["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        field(by_user["events"].as_array().unwrap(), "event_id"),
        [json!(before[0])]
    );
    let creates = app
        .all_pages(&log, "limit=4&event_type=scim.member.create", "events")
        .await;
    assert_eq!(field(&creates, "id"), stored, "all six are creates");

    // Users over pages of two: every user once, in id order.
    let users = pages_of_two(&app, &format!("/api/v1/companies/{company}/users"), "users").await;
    let mut expected = app
        .env
        .ids(&format!(
            "SELECT id FROM users WHERE company_id = '{company}' ORDER BY id"
        ))
        .await
        .iter()
        .map(|id| json!(id))
        .collect::<Vec<_>>();
    assert_eq!(expected.len(), 5);
    assert_eq!(field(&users, "id"), expected);
    expected.dedup();
    assert_eq!(expected.len(), 5, "no user twice");
    for bad in ["cursor=garbage", "limit=0", "limit=501"] {
        let url = format!("{}/api/v1/companies/{company}/users?{bad}", app.admin_url);
        let response = app.http.get(url).send().await.expect("get");
        assert_eq!(response.status(), 400, "{bad}");
    }
    app.stop().await;
}

/// More rows than the largest page (500): every one is reachable, and the harness's `logged`
/// finds the oldest.
#[tokio::test]
async fn the_event_log_pages_past_its_largest_page() {
    let app = TestApp::spawn_with(Services::ADMIN_ONLY, |_| {}).await;
    let company = app.register_company("org-big", &[]).await;
    let ids: Vec<String> = (0..1_100).map(|i| format!("event-big-{i:04}")).collect();
    let entries: Vec<Entry<'_>> = ids
        .iter()
        .map(|id| Entry {
            company_id: Some(company),
            door: Door::Stytch,
            received_at: Utc::now(),
            event_id: id,
            event_type: "scim.member.create",
            concern: scimsync_schema::Concern::UserUpsert,
            user_id: None,
            user_ids: Vec::new(),
            stytch_member_id: Some("m-big"),
            outcome: scimsync_schema::EventOutcome::Created,
            detail: json!({}),
        })
        .collect();
    event_log::record_all(&app.env.db, &entries).await.unwrap();
    let stored = stored_log(&app, company).await;
    assert_eq!(stored.len(), 1_100);
    let paged = app
        .all_pages(
            &format!("/api/v1/companies/{company}/events"),
            "limit=500",
            "events",
        )
        .await;
    assert_eq!(field(&paged, "id"), stored, "every row once, newest first");
    let oldest = app.logged(company, &ids[0]).await;
    assert_eq!(oldest["id"], stored[1_099]);
    app.stop().await;
}
