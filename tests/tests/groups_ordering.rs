//! Group events reordered and duplicated converge (R17 for groups).

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use scimsync_tests::events::{create, group, t, update, with_groups};
use scimsync_tests::TestApp;
use serde_json::Value;
use uuid::Uuid;

/// A history of group events and member lists, in timestamp order.
fn group_history() -> Vec<Value> {
    let mut events = Vec::new();
    for m in 0..6 {
        events.push(create(
            "org-h",
            &format!("m-{m}"),
            &format!("h{m}@example.com"),
            t(m),
        ));
    }
    events.push(group(
        "CREATE",
        "org-h",
        "g-a",
        "SkillsdbGlobalAdmins",
        None,
        t(10),
    ));
    events.push(group(
        "CREATE",
        "org-h",
        "g-f",
        "SkillsdbFullAccess",
        None,
        t(11),
    ));
    events.push(group("CREATE", "org-h", "g-c", "Contractors", None, t(12)));
    events.push(group("MEMBER_ADD", "org-h", "g-a", "", Some("m-0"), t(20)));
    events.push(group("MEMBER_ADD", "org-h", "g-f", "", Some("m-1"), t(21)));
    events.push(group("MEMBER_ADD", "org-h", "g-c", "", Some("m-2"), t(22)));
    events.push(group("MEMBER_ADD", "org-h", "g-c", "", Some("m-3"), t(23)));
    events.push(with_groups(
        update("org-h", "m-4", "h4@example.com", t(24)),
        &[("g-f", "SkillsdbFullAccess"), ("g-c", "Contractors")],
    ));
    events.push(group(
        "MEMBER_DELETE",
        "org-h",
        "g-a",
        "",
        Some("m-0"),
        t(30),
    ));
    events.push(group("MEMBER_ADD", "org-h", "g-a", "", Some("m-5"), t(31)));
    events.push(with_groups(
        update("org-h", "m-4", "h4@example.com", t(32)),
        &[("g-c", "Contractors")],
    ));
    events.push(group("DELETE", "org-h", "g-c", "Contractors", None, t(40)));
    events.push(group("MEMBER_ADD", "org-h", "g-f", "", Some("m-3"), t(41)));
    events
}

async fn state(app: &TestApp, company: Uuid) -> Vec<(String, bool, String, usize)> {
    let mut users: Vec<_> = app
        .users(company)
        .await
        .iter()
        .map(|u| {
            let groups = u["groups"].as_array().map(Vec::len).unwrap_or(0);
            (
                u["email"].as_str().unwrap().to_owned(),
                u["active"].as_bool().unwrap(),
                u["permission_level"].as_str().unwrap().to_owned(),
                groups,
            )
        })
        .collect();
    users.sort();
    users
}

#[tokio::test]
async fn group_events_reordered_and_duplicated_end_in_the_in_order_state() {
    let events = group_history();
    let in_order = TestApp::spawn().await;
    let company = in_order.register_company("org-h", &[]).await;
    for e in &events {
        in_order.accept(e).await;
        in_order.wait_settled().await;
    }
    let expected = state(&in_order, company).await;
    in_order.stop().await;
    let summary: Vec<_> = expected
        .iter()
        .map(|(e, a, l, _)| format!("{e}:{a}:{l}"))
        .collect();
    assert_eq!(
        summary,
        [
            "h0@example.com:false:basic",
            "h1@example.com:true:full_access",
            "h2@example.com:false:basic",
            "h3@example.com:true:full_access",
            "h4@example.com:false:basic",
            "h5@example.com:true:admin",
        ],
        "the in-order history itself"
    );

    for seed in [1u64, 2, 3] {
        let app = TestApp::spawn().await;
        let company = app.register_company("org-h", &[]).await;
        let mut shuffled = events.clone();
        shuffled.extend(events.iter().step_by(2).cloned());
        shuffled.shuffle(&mut StdRng::seed_from_u64(seed));
        for e in &shuffled {
            app.accept(e).await;
        }
        // Every delivery handled, duplicates included: a duplicate handled after the snapshot
        // could change what it shows.
        app.wait_settled().await;
        assert_eq!(state(&app, company).await, expected, "seed {seed}");
        app.stop().await;
    }
}
