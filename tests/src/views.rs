//! What an admin sees: users and the event log through the admin API.

use std::time::Duration;

use scimsync_schema::Concern;
use serde_json::Value;
use uuid::Uuid;

use crate::app::DEADLINE;
use crate::wait::wait_until;
use crate::TestApp;

impl TestApp {
    pub async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.admin_url))
            .send()
            .await
            .expect("get");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    /// Every item of a paginated list (`users`, `events`), walking `next_cursor` from the first
    /// page; `query` may hold filters and its own `limit`.
    pub async fn all_pages(&self, path: &str, query: &str, items: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self.get(&format!("{path}?{query}&cursor={cursor}")).await;
            all.extend(page[items].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_owned(),
                None => return all,
            }
        }
    }

    /// Users of a company, all pages.
    pub async fn users(&self, company: Uuid) -> Vec<Value> {
        self.all_pages(
            &format!("/api/v1/companies/{company}/users"),
            "limit=500",
            "users",
        )
        .await
    }

    pub async fn user_by_email(&self, company: Uuid, email: &str) -> Option<Value> {
        let page = self
            .get(&format!("/api/v1/companies/{company}/users?email={email}"))
            .await;
        page["users"].as_array().and_then(|u| u.first().cloned())
    }

    /// The newest event log entry of this company that `wanted` picks, looking through every
    /// page of the log (newest first), not only the first.
    async fn find_logged(&self, company: Uuid, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
        let mut cursor = String::new();
        loop {
            let page = self
                .get(&format!(
                    "/api/v1/companies/{company}/events?limit=500&cursor={cursor}"
                ))
                .await;
            if let Some(found) = page["events"].as_array()?.iter().find(|e| wanted(e)) {
                return Some(found.clone());
            }
            cursor = page["next_cursor"].as_str()?.to_owned();
        }
    }

    /// Waits until the event log holds an entry for `event_id` and returns it.
    pub async fn logged(&self, company: Uuid, event_id: &str) -> Value {
        wait_until(
            &format!("event {event_id} in the event log"),
            DEADLINE,
            || self.find_logged(company, |e| e["event_id"] == event_id),
        )
        .await
    }

    /// Waits until this concern logged the event in this company and returns the entry.
    pub async fn logged_by(&self, company: Uuid, event_id: &str, concern: Concern) -> Value {
        wait_until(
            &format!("{concern} to log event {event_id}"),
            DEADLINE,
            || {
                self.find_logged(company, |e| {
                    e["event_id"] == event_id && e["concern"] == concern
                })
            },
        )
        .await
    }

    /// Waits until `n` distinct events were logged by user-upsert in this database.
    pub async fn wait_logged_count(&self, n: i64) {
        wait_until(&format!("{n} events logged"), Duration::from_secs(60), || async {
            let logged = self
                .env
                .count("SELECT count(DISTINCT event_id) AS n FROM scim_event_log WHERE concern = 'user-upsert'")
                .await;
            (logged >= n).then_some(())
        })
        .await;
    }
}
