//! R17: the same member events in any order, with any duplicates, end in the state processing
//! them once in timestamp order gives. That state is computed from the generated history by an
//! independent model of the SPEC's rules (`model`), not taken from a run of the product, so a
//! rule the product gets wrong in every order fails here too.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod history;
mod model;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use history::{history, Change, Event, NOBODY, ORG};
use model::Member;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use scimsync_tests::TestApp;
use serde_json::Value;
use uuid::Uuid;

const SEED: u64 = 7;

/// The members as the admin API shows them, in the model's terms.
async fn shown(app: &TestApp, company: Uuid) -> BTreeMap<String, Member> {
    let users = app.users(company).await;
    let text = |u: &Value, field: &str| u[field].as_str().map(str::to_owned);
    let member_of: HashMap<String, String> = users
        .iter()
        .map(|u| (text(u, "id").unwrap(), text(u, "stytch_member_id").unwrap()))
        .collect();
    users
        .iter()
        .map(|u| {
            let level = match u["permission_level"].as_str() {
                Some("admin") => "admin",
                Some("full_access") => "full_access",
                Some("manager") => "manager",
                Some("basic") => "basic",
                other => panic!("unknown level {other:?}: {u}"),
            };
            let member = Member {
                email: text(u, "email").unwrap(),
                title: text(u, "job_title"),
                active: u["active"].as_bool().unwrap(),
                level,
                manager: text(u, "manager_id").map(|id| member_of[&id].clone()),
                date_added: text(u, "date_added")
                    .and_then(|d| d.parse::<DateTime<Utc>>().ok())
                    .unwrap(),
            };
            (text(u, "stytch_member_id").unwrap(), member)
        })
        .collect()
}

/// Plays the history into a fresh system with `deliver`, waits until every delivery is
/// handled, and compares every member with the model.
async fn check<F, Fut>(how: &str, deliver: F)
where
    F: FnOnce(TestApp, Vec<Event>) -> Fut,
    Fut: std::future::Future<Output = TestApp>,
{
    let events = history(SEED);
    let expected = model::expected(&events);
    let app = TestApp::spawn().await;
    let company = app.register_company(ORG, &[]).await;
    let app = deliver(app, events).await;
    app.wait_settled().await;
    let shown = shown(&app, company).await;
    app.stop().await;
    let mut differ = Vec::new();
    for member in expected.keys().chain(shown.keys()) {
        let (want, got) = (expected.get(member), shown.get(member));
        if want != got && !differ.iter().any(|(m, _, _)| m == member) {
            differ.push((member.clone(), want.cloned(), got.cloned()));
        }
    }
    let report: Vec<String> = differ
        .iter()
        .map(|(m, want, got)| format!("{m}:\n  model   {want:?}\n  product {got:?}"))
        .collect();
    assert!(
        differ.is_empty(),
        "{how}: {} of {} members differ from the model:\n{}",
        differ.len(),
        expected.len(),
        report.join("\n")
    );
}

/// The history covers what it is meant to: without these, the comparison would prove less.
#[test]
fn the_history_exercises_every_rule_it_is_meant_to() {
    let events = history(SEED);
    let expected = model::expected(&events);
    let count = |f: &dyn Fn(&Member) -> bool| expected.values().filter(|m| f(m)).count();
    assert!(count(&|m| !m.active) >= 3, "deactivations");
    assert!(count(&|m| m.level == "admin") >= 1, "admins");
    assert!(count(&|m| m.level == "full_access") >= 1, "full access");
    assert!(count(&|m| m.level == "manager") >= 1, "managers by reports");
    assert!(count(&|m| m.manager.is_some()) >= 5, "manager links");
    assert!(count(&|m| m.title.is_some()) >= 5, "titles");
    assert!(
        count(&|m| m.email.contains(".v0@")) >= 1,
        "unchanged emails"
    );
    assert!(count(&|m| !m.email.contains(".v0@")) >= 1, "email changes");
    // The rules that only some histories reach.
    let last_events: BTreeMap<&str, &Event> =
        events.iter().map(|e| (e.member.as_str(), e)).collect();
    let left_every_group = last_events.iter().filter(|(member, e)| {
        let Change::State(s) = &e.change else {
            return false;
        };
        s.active && s.groups.as_ref().is_some_and(Vec::is_empty) && !expected[**member].active
    });
    assert!(left_every_group.count() >= 1, "R9c: lost every group");
    // R10: active in the end although deleted or deactivated on the way.
    let reprovisioned = expected.iter().filter(|(member, m)| {
        m.active
            && events.iter().any(|e| {
                e.member == **member
                    && match &e.change {
                        Change::Delete => true,
                        Change::State(s) => !s.active,
                    }
            })
    });
    assert!(
        reprovisioned.count() >= 1,
        "R10: reactivation after a delete"
    );
    let pending = events
        .iter()
        .any(|e| matches!(&e.change, Change::State(s) if s.manager.as_deref() == Some(NOBODY)));
    assert!(pending, "a manager who never arrives");
}

#[tokio::test]
async fn in_timestamp_order_every_member_ends_as_its_history_says() {
    check("in timestamp order", |app, events| async move {
        for event in &events {
            app.accept(&event.body).await;
            app.wait_settled().await;
        }
        app
    })
    .await;
}

#[tokio::test]
async fn newest_first_with_duplicates_every_member_ends_as_its_history_says() {
    check("newest first", |app, events| async move {
        let mut deliveries: Vec<Value> = events.iter().rev().map(|e| e.body.clone()).collect();
        deliveries.extend(events.iter().rev().step_by(3).map(|e| e.body.clone()));
        for body in &deliveries {
            app.accept(body).await;
        }
        app
    })
    .await;
}

/// Shuffled, a third of the events twice, sent by 25 senders at once.
async fn shuffled(seed: u64) {
    check(
        &format!("shuffled with seed {seed}"),
        |app, events| async move {
            let mut deliveries: Vec<Value> = events.iter().map(|e| e.body.clone()).collect();
            deliveries.extend(events.iter().step_by(3).map(|e| e.body.clone()));
            deliveries.shuffle(&mut StdRng::seed_from_u64(seed));
            let mut sends = tokio::task::JoinSet::new();
            for chunk in deliveries.chunks(deliveries.len().div_ceil(25)) {
                let (sender, chunk) = (app.sender(), chunk.to_vec());
                sends.spawn(async move {
                    for body in chunk {
                        assert_eq!(sender.post(&body).await, 202);
                    }
                });
            }
            while let Some(done) = sends.join_next().await {
                done.expect("sender");
            }
            app
        },
    )
    .await;
}

#[tokio::test]
async fn shuffled_and_duplicated_every_member_ends_as_its_history_says() {
    shuffled(99).await;
}

#[tokio::test]
async fn shuffled_otherwise_every_member_ends_as_its_history_says() {
    shuffled(5).await;
}
