//! The SCIM door's transactional outbox (SPEC §7): each write that changes something commits its
//! change for the workers with it, keyed and ordered as they need (R17); the relay publishes it
//! to the events exchange; with the broker down writes are still answered and the changes flow
//! once it is back; a change whose relay died after publishing is published again, not lost.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use scimsync_schema::change::{ChangeAction, Door, GroupChangeAction, Tenant as ChangeTenant};
use scimsync_schema::QueueMessage;
use scimsync_tests::proxy::Proxy;
use scimsync_tests::scim::{
    amqp_via, broker_address, outbox, outbox_depth, patch_op, start, tenant, ScimService, Tap,
    USER_SCHEMA,
};
use scimsync_tests::wait::wait_until;
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

/// The scim service with its broker connection through a proxy, and a tap on what it publishes;
/// the proxy is then cut, so every change stays in the outbox for the test to read.
async fn with_broker_cut(app: &TestApp) -> (Proxy, ScimService, Tap) {
    let proxy = Proxy::start(broker_address()).await;
    let url = amqp_via(app, proxy.port);
    let scim = ScimService::start_with(app, |s| {
        s.amqp.url = url;
        s.scim.relay_poll_ms = 100;
    })
    .await;
    // Connected once: the exchange the tap binds to is declared.
    scim.wait_broker(&app.http).await;
    let tap = Tap::bind(app).await;
    proxy.cut();
    scim.wait_broker_down(&app.http).await;
    (proxy, scim, tap)
}

fn parse_time(s: &serde_json::Value) -> DateTime<Utc> {
    s.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_write_that_changes_something_leaves_its_change_in_the_outbox_and_no_other_does() {
    let app = TestApp::spawn_with(scimsync_tests::app::Services::ADMIN_ONLY, |_| {}).await;
    let (_proxy, scim, _tap) = with_broker_cut(&app).await;
    let t = tenant(&app, "A", &[]).await;
    let c = scim.client(&app, &t);

    let created = c
        .post(
            "/Users",
            &json!({"schemas": [USER_SCHEMA], "userName": "ada@example.com",
                                "name": {"givenName": "Ada"}}),
        )
        .await
        .expect(201);
    let ada = created.id();
    let user_path = format!("/Users/{ada}");
    let title = |v: &str| patch_op(json!([{"op": "replace", "path": "title", "value": v}]));
    let patched = c.patch(&user_path, &title("Countess")).await.expect(200);
    // No change: the same version, nothing for the workers.
    let same = c.patch(&user_path, &title("Countess")).await.expect(200);
    assert_eq!(same.body["meta"], patched.body["meta"]);
    let mut full = patched.body.clone();
    let unchanged = c.put(&user_path, &full).await.expect(200);
    assert_eq!(unchanged.body["meta"], patched.body["meta"]);
    full["active"] = json!(false);
    let replaced = c.put(&user_path, &full).await.expect(200);

    let bob = c.create_user("bob@example.com").await;
    let group = c
        .post(
            "/Groups",
            &json!({"displayName": "Eng", "members": [{"value": ada}]}),
        )
        .await
        .expect(201)
        .id();
    let group_path = format!("/Groups/{group}");
    c.patch(
        &group_path,
        &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": bob}]}])),
    )
    .await
    .expect(204);
    c.patch(
        &group_path,
        &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": bob}]}])),
    )
    .await
    .expect(204);
    c.patch(
        &group_path,
        &patch_op(json!([
        {"op": "replace", "path": "displayName", "value": "Engineering"},
        {"op": "remove", "path": "members", "value": [{"value": ada}]}])),
    )
    .await
    .expect(204);
    c.delete(&group_path).await.expect(204);
    c.delete(&user_path).await.expect(204);

    let rows = outbox(&app).await;
    let summary: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            let who = match &r.message {
                QueueMessage::MemberChangeV1(m) => m.member_id.clone().unwrap(),
                QueueMessage::GroupChangeV1(g) => {
                    format!("{}/{}", g.group_id, g.member_id.clone().unwrap_or_default())
                }
                other => panic!("unexpected {other:?}"),
            };
            (r.routing_key.clone(), who)
        })
        .collect();
    let key = |id: &str| format!("scim:{id}");
    assert_eq!(
        summary,
        [
            ("scim.member.create".into(), key(&ada)),
            ("scim.member.update".into(), key(&ada)),
            ("scim.member.update".into(), key(&ada)),
            ("scim.member.create".into(), key(&bob)),
            ("scim.idp_group.create".into(), format!("{group}/")),
            (
                "scim.idp_group.member_add".into(),
                format!("{group}/{}", key(&ada))
            ),
            (
                "scim.idp_group.member_add".into(),
                format!("{group}/{}", key(&bob))
            ),
            ("scim.idp_group.update".into(), format!("{group}/")),
            (
                "scim.idp_group.member_delete".into(),
                format!("{group}/{}", key(&ada))
            ),
            ("scim.idp_group.delete".into(), format!("{group}/")),
            ("scim.member.delete".into(), key(&ada)),
        ]
    );

    let ids: BTreeSet<&str> = rows.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "every change has its own event id");
    let mut last: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for row in &rows {
        assert_eq!(row.company_id, t.company_id);
        assert_eq!(row.event_id, row.message.event_id());
        let (resource, meta, tenant) = match &row.message {
            QueueMessage::MemberChangeV1(m) => {
                assert!(m.provisioning);
                assert_eq!(m.member.is_none(), m.action == ChangeAction::Delete);
                (m.member_id.clone().unwrap(), &m.meta, &m.tenant)
            }
            QueueMessage::GroupChangeV1(g) => {
                let name = g.group_name.as_deref().unwrap();
                assert!(name == "Eng" || name == "Engineering", "{name}");
                (g.group_id.clone(), &g.meta, &g.tenant)
            }
            _ => unreachable!(),
        };
        assert_eq!(meta.door, Door::Scim);
        assert_eq!(meta.event_type, row.routing_key);
        assert!(meta.event_id.starts_with("scim-"));
        assert_eq!(tenant, &ChangeTenant::Company(t.company_id.to_string()));
        // A resource's changes are ordered by their timestamps (R17): they never go back.
        if let Some(previous) = last.insert(resource.clone(), meta.timestamp) {
            assert!(meta.timestamp >= previous, "{resource} went back in time");
        }
    }
    // The timestamps are the resource's lastModified, strictly increasing per write.
    let member_times: Vec<DateTime<Utc>> = rows
        .iter()
        .filter_map(|r| match &r.message {
            QueueMessage::MemberChangeV1(m) if m.member_id == Some(key(&ada)) => {
                Some(m.meta.timestamp)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        member_times[0],
        parse_time(&created.body["meta"]["lastModified"])
    );
    assert_eq!(
        member_times[1],
        parse_time(&patched.body["meta"]["lastModified"])
    );
    assert_eq!(
        member_times[2],
        parse_time(&replaced.body["meta"]["lastModified"])
    );
    assert!(
        member_times.windows(2).all(|w| w[0] < w[1]),
        "{member_times:?}"
    );
    // The member carries the resource in the shape the workers fold.
    let QueueMessage::MemberChangeV1(update) = &rows[2].message else {
        unreachable!()
    };
    let member = update.member.as_ref().unwrap();
    assert_eq!(member.email_address.as_deref(), Some("ada@example.com"));
    let attributes = member.scim().unwrap();
    assert_eq!(attributes.active, Some(false));
    assert_eq!(attributes.title.as_deref(), Some("Countess"));
    assert_eq!(attributes.id.as_deref(), Some(ada.as_str()));
    let QueueMessage::GroupChangeV1(rename) = &rows[7].message else {
        unreachable!()
    };
    assert_eq!(rename.action, GroupChangeAction::Upsert);
    assert_eq!(rename.group_name.as_deref(), Some("Engineering"));
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn the_relay_publishes_each_change_to_the_events_exchange() {
    let (app, scim) = start().await;
    scim.wait_broker(&app.http).await;
    let tap = Tap::bind(&app).await;
    let t = tenant(&app, "A", &[]).await;
    let c = scim.client(&app, &t);
    let id = c.create_user("ada@example.com").await;
    let (routing_key, message) = tap.next().await;
    assert_eq!(routing_key, "scim.member.create");
    let QueueMessage::MemberChangeV1(change) = message else {
        panic!("a member change: {message:?}");
    };
    assert_eq!(change.member_id, Some(format!("scim:{id}")));
    assert_eq!(change.action, ChangeAction::Create);
    wait_until(
        "the outbox to empty",
        scimsync_tests::app::DEADLINE,
        || async { (outbox_depth(&app).await == 0).then_some(()) },
    )
    .await;
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn with_the_broker_down_writes_are_answered_and_flow_once_it_is_back_even_after_a_restart() {
    let app = TestApp::spawn_with(scimsync_tests::app::Services::ADMIN_ONLY, |_| {}).await;
    let proxy = Proxy::start(broker_address()).await;
    let url = amqp_via(&app, proxy.port);
    let settings = |s: &mut scimsync_platform::Settings| {
        s.amqp.url = url.clone();
        s.scim.relay_poll_ms = 100;
    };
    let scim = ScimService::start_with(&app, settings).await;
    scim.wait_broker(&app.http).await;
    let tap = Tap::bind(&app).await;
    let t = tenant(&app, "A", &[]).await;
    let c = scim.client(&app, &t);

    proxy.cut();
    let mut created = BTreeSet::new();
    for i in 0..5 {
        created.insert(format!(
            "scim:{}",
            c.create_user(&format!("u{i}@example.com")).await
        ));
    }
    assert_eq!(outbox_depth(&app).await, 5);
    // The service goes away with the changes unpublished; a new one finds them.
    scim.stop().await;
    proxy.restore();
    let scim = ScimService::start_with(&app, settings).await;
    let published: BTreeSet<String> = tap
        .take(5)
        .await
        .into_iter()
        .map(|(_, m)| match m {
            QueueMessage::MemberChangeV1(c) => c.member_id.unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(published, created);
    wait_until(
        "the outbox to empty",
        scimsync_tests::app::DEADLINE,
        || async { (outbox_depth(&app).await == 0).then_some(()) },
    )
    .await;
    scim.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn a_change_whose_relay_died_after_publishing_is_published_again_after_its_lease() {
    let app = TestApp::spawn_with(scimsync_tests::app::Services::ADMIN_ONLY, |_| {}).await;
    let (proxy, scim, tap) = with_broker_cut(&app).await;
    let t = tenant(&app, "A", &[]).await;
    let c = scim.client(&app, &t);
    let id = c.create_user("ada@example.com").await;
    let row = outbox(&app).await.pop().unwrap();

    // Another relay claimed the row, published it, and died before deleting it: the row stays
    // leased to it for a while.
    let lease_end: DateTime<Utc> = app
        .env
        .db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE scim_outbox SET leased_until = now() + interval '2 seconds',
                    attempts = attempts + 1 WHERE id = $1 RETURNING leased_until",
            [row.id.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "leased_until")
        .unwrap();
    proxy.restore();
    let (_, republished) = tap.next().await;
    assert!(Utc::now() >= lease_end, "not before the lease ends");
    assert_eq!(republished.event_id(), row.event_id);
    let QueueMessage::MemberChangeV1(change) = republished else {
        panic!("a member change");
    };
    assert_eq!(change.member_id, Some(format!("scim:{id}")));
    wait_until(
        "the outbox to empty",
        scimsync_tests::app::DEADLINE,
        || async { (outbox_depth(&app).await == 0).then_some(()) },
    )
    .await;
    scim.stop().await;
    app.stop().await;
}
