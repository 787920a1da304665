//! R17: the same events in any order, with any duplicates, end in the in-order state.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use scimsync_tests::events::{create, delete, event_id, set_scim, t, update};
use scimsync_tests::TestApp;
use serde_json::{json, Value};
use uuid::Uuid;

/// 200 events over 30 members: creates, attribute updates, internal email changes, deletes,
/// deactivations and re-provisionings, each with a distinct timestamp.
fn history(seed: u64) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut events = Vec::new();
    let mut created = [false; 30];
    let mut version = [0u32; 30];
    for i in 0..200i64 {
        let m = rng.random_range(0..30usize);
        let member = format!("m-{m}");
        let email = |v: u32| format!("user{m}.v{v}@example.com");
        let event = if !created[m] {
            created[m] = true;
            create("org-o", &member, &email(0), t(i))
        } else {
            match rng.random_range(0..10) {
                0 => delete(&member, t(i)),
                1 => {
                    version[m] += 1;
                    update("org-o", &member, &email(version[m]), t(i))
                }
                2 => {
                    let mut e = update("org-o", &member, &email(version[m]), t(i));
                    set_scim(&mut e, "active", json!(false));
                    e
                }
                _ => {
                    let mut e = update("org-o", &member, &email(version[m]), t(i));
                    set_scim(
                        &mut e,
                        "title",
                        json!(format!("Title {}", rng.random_range(0..5))),
                    );
                    set_scim(
                        &mut e,
                        "phone_numbers",
                        json!([{"value": format!("+1 {i}"), "type": "work"}]),
                    );
                    if rng.random_bool(0.3) {
                        set_scim(
                            &mut e,
                            "enterprise_extension",
                            json!({"department": format!("Dept {}", rng.random_range(0..4))}),
                        );
                    }
                    e
                }
            }
        };
        events.push(event);
    }
    events
}

/// The users as the admin API shows them, keyed by member, without store-assigned ids.
async fn snapshot(app: &TestApp, company: Uuid) -> Vec<Value> {
    let mut users = app.users(company).await;
    for u in &mut users {
        if let Some(o) = u.as_object_mut() {
            o.remove("id");
        }
    }
    users.sort_by_key(|u| {
        u["stytch_member_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    });
    users
}

#[tokio::test]
async fn the_same_200_events_shuffled_and_duplicated_end_in_the_in_order_state() {
    let events = history(7);

    let in_order = TestApp::spawn().await;
    let company = in_order.register_company("org-o", &[]).await;
    for e in &events {
        in_order.accept(e).await;
        in_order.logged(company, &event_id(e)).await;
    }
    let expected = snapshot(&in_order, company).await;
    in_order.stop().await;
    assert_eq!(expected.len(), 30);
    assert!(
        expected.iter().any(|u| u["active"] == false),
        "the history deactivates someone"
    );

    let shuffled = TestApp::spawn().await;
    let company = shuffled.register_company("org-o", &[]).await;
    let mut deliveries: Vec<Value> = events.clone();
    deliveries.extend(events.iter().step_by(3).cloned());
    deliveries.shuffle(&mut StdRng::seed_from_u64(99));
    let mut sends = tokio::task::JoinSet::new();
    for chunk in deliveries.chunks(25) {
        let url = shuffled.ingest_url.clone();
        let chunk = chunk.to_vec();
        let http = shuffled.http.clone();
        sends.spawn(async move {
            for e in chunk {
                assert_eq!(scimsync_tests::app::post_signed(&http, &url, &e).await, 202);
            }
        });
    }
    while let Some(done) = sends.join_next().await {
        done.expect("sender");
    }
    shuffled.wait_logged_count(events.len() as i64).await;
    let actual = snapshot(&shuffled, company).await;
    shuffled.stop().await;
    for (want, got) in expected.iter().zip(&actual) {
        assert_eq!(want, got, "member {}", want["stytch_member_id"]);
    }
    assert_eq!(expected.len(), actual.len());
}
