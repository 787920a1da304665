//! User records from member events: SPEC R1-R7, end to end through ingest, RabbitMQ,
//! user-upsert and PostgreSQL, observed through the admin API.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::Concern;
use scimsync_tests::events::{create, event_id, set_scim, t, update};
use scimsync_tests::TestApp;
use sea_orm::ConnectionTrait;
use serde_json::json;

#[tokio::test]
async fn signed_create_becomes_a_user_visible_through_the_admin_api() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-a", &[]).await;
    let event = create("org-a", "member-1", "ada.lovelace@example.com", t(0));
    app.accept(&event).await;
    let log = app.logged(company, &event_id(&event)).await;
    assert_eq!(log["outcome"], "created");
    assert_eq!(log["event_type"], "scim.member.create");
    let user = app
        .user_by_email(company, "ADA.LOVELACE@example.com")
        .await
        .expect("user exists");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["active"], true);
    assert_eq!(user["scim_provisioned"], true);
    assert_eq!(user["stytch_member_id"], "member-1");
    assert_eq!(user["stytch_organization_id"], "org-a");
    assert_eq!(user["permission_level"], "basic");
    assert_eq!(log["user_id"], user["id"]);
    app.stop().await;
}

#[tokio::test]
async fn r1_members_match_by_member_id_then_external_id_then_email_adoption() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-r1", &[]).await;
    // A product user created by hand (not SCIM) and a record known only by external id.
    app.env
        .db
        .execute_unprepared(&format!(
            "INSERT INTO users (id, company_id, email, first_name, last_name, date_added)
             VALUES (gen_random_uuid(), '{company}', 'Grace@Example.com', 'G', 'H', '2020-01-01T00:00:00Z');
             INSERT INTO users (id, company_id, email, external_id, scim_provisioned, date_added)
             VALUES (gen_random_uuid(), '{company}', 'old.ext@example.com', 'ext-7', true, '2020-01-01T00:00:00Z')"
        ))
        .await
        .expect("seed users");

    let adopt = create("org-r1", "m-grace", "grace@example.com", t(0));
    app.accept(&adopt).await;
    assert_eq!(
        app.logged(company, &event_id(&adopt)).await["outcome"],
        "adopted"
    );
    let grace = app
        .user_by_email(company, "grace@example.com")
        .await
        .expect("grace");
    assert_eq!(grace["scim_provisioned"], true);
    assert_eq!(grace["stytch_member_id"], "m-grace");
    assert_eq!(
        grace["date_added"], "2020-01-01T00:00:00Z",
        "adoption keeps the record's history"
    );

    let mut by_ext = create("org-r1", "m-ext", "new.ext@example.com", t(1));
    set_scim(&mut by_ext, "external_id", json!("ext-7"));
    app.accept(&by_ext).await;
    app.logged(company, &event_id(&by_ext)).await;
    let ext = app
        .user_by_email(company, "new.ext@example.com")
        .await
        .expect("matched by external id");
    assert_eq!(ext["external_id"], "ext-7");
    assert_eq!(ext["stytch_member_id"], "m-ext");

    let again = update("org-r1", "m-grace", "grace@example.com", t(2));
    app.accept(&again).await;
    app.logged(company, &event_id(&again)).await;
    assert_eq!(
        app.users(company).await.len(),
        2,
        "no new records: every event matched"
    );
    app.stop().await;
}

#[tokio::test]
async fn r2_unknown_organization_is_dead_lettered_with_its_reason() {
    let app = TestApp::spawn().await;
    app.register_company("org-known", &[]).await;
    let event = create("org-unknown", "m-1", "a@example.com", t(0));
    app.accept(&event).await;
    let broker = scimsync_tests::broker::Broker::connect(&app.env.amqp_url).await;
    let dead =
        scimsync_tests::wait_until("a dead letter", scimsync_tests::app::DEADLINE, || async {
            broker.take("scimsync.user-upsert.dlq").await
        })
        .await;
    assert_eq!(
        dead.header("x-dead-letter-reason").as_deref(),
        Some("unknown_organization")
    );
    assert!(dead
        .header("x-dead-letter-detail")
        .unwrap_or_default()
        .contains("org-unknown"));
    assert_eq!(
        dead.header("x-original-exchange").as_deref(),
        Some("scimsync.events")
    );
    assert_eq!(
        dead.header("x-original-routing-key").as_deref(),
        Some("scim.member.create")
    );
    assert!(dead.header("x-dead-letter-failed-at").is_some());
    assert_eq!(dead.header("x-event-id"), Some(event_id(&event)));
    assert_eq!(app.env.count("SELECT count(*) AS n FROM users").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn r3_an_email_owned_by_another_user_is_rejected_without_any_write() {
    let app = TestApp::spawn().await;
    let a = app.register_company("org-a", &[]).await;
    let b = app.register_company("org-b", &[]).await;
    let first = create("org-a", "m-a", "Shared@Example.com", t(0));
    app.accept(&first).await;
    app.logged(a, &event_id(&first)).await;

    let other_company = create("org-b", "m-b", "shared@example.com", t(1));
    app.accept(&other_company).await;
    let log = app.logged(b, &event_id(&other_company)).await;
    assert_eq!(log["outcome"], "rejected_duplicate_email");
    assert!(app.users(b).await.is_empty());

    let same_company = create("org-a", "m-a2", "SHARED@example.com", t(2));
    app.accept(&same_company).await;
    assert_eq!(
        app.logged(a, &event_id(&same_company)).await["outcome"],
        "rejected_duplicate_email"
    );
    assert_eq!(app.users(a).await.len(), 1);
    assert_eq!(
        app.env.queue_depth("scimsync.user-upsert.dlq").await,
        Some(0),
        "acknowledged, not dead-lettered"
    );
    app.stop().await;
}

#[tokio::test]
async fn r4_members_outside_the_allowed_domains_are_rejected() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-d", &["example.com"]).await;
    let outside = create("org-d", "m-1", "someone@elsewhere.org", t(0));
    let inside = create("org-d", "m-2", "someone@EXAMPLE.com", t(1));
    app.accept(&outside).await;
    app.accept(&inside).await;
    assert_eq!(
        app.logged(company, &event_id(&outside)).await["outcome"],
        "rejected_email_domain"
    );
    assert_eq!(
        app.logged(company, &event_id(&inside)).await["outcome"],
        "created"
    );
    let users = app.users(company).await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "someone@EXAMPLE.com");
    app.stop().await;
}

#[tokio::test]
async fn r5_r6_attributes_map_to_fields_and_org_schema_entries() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-m", &[]).await;
    let mut event = create("org-m", "m-1", "grace.b_hopper@example.com", t(0));
    set_scim(&mut event, "name", json!({}));
    set_scim(&mut event, "display_name", json!("Grace Brewster Hopper"));
    set_scim(&mut event, "title", json!("Rear Admiral"));
    set_scim(
        &mut event,
        "addresses",
        json!([
            {"street_address": "1 Navy Way", "locality": "Arlington", "region": "VA", "postal_code": "22202", "country": "US"},
            {"street_address": "ignored", "locality": "Ignored City"}
        ]),
    );
    set_scim(
        &mut event,
        "phone_numbers",
        json!([
            {"value": "+1 111", "type": "work"}, {"value": "+1 222", "type": "mobile"},
            {"value": "+1 333", "type": "fax"}, {"value": "+1 444", "type": "work"}
        ]),
    );
    set_scim(
        &mut event,
        "enterprise_extension",
        json!({"employee_number": "E-42", "department": "Computing", "division": "Navy"}),
    );
    app.accept(&event).await;
    app.logged(company, &event_id(&event)).await;
    let u = app
        .user_by_email(company, "grace.b_hopper@example.com")
        .await
        .expect("user");
    let expect = [
        ("first_name", "Grace"),
        ("last_name", "Brewster Hopper"),
        ("job_title", "Rear Admiral"),
        ("street_address", "1 Navy Way"),
        ("city", "Arlington"),
        ("region", "VA"),
        ("postal_code", "22202"),
        ("country", "US"),
        ("business_phone", "+1 111"),
        ("mobile_phone", "+1 222"),
        ("fax_phone", "+1 333"),
        ("employee_number", "E-42"),
        ("department", "Computing"),
        ("division", "Navy"),
    ];
    for (field, value) in expect {
        assert_eq!(u[field], value, "{field}");
    }

    // Empty strings and absent fields never clear stored values.
    let mut sparse = update("org-m", "m-1", "grace.b_hopper@example.com", t(1));
    set_scim(
        &mut sparse,
        "name",
        json!({"given_name": "", "family_name": ""}),
    );
    set_scim(&mut sparse, "title", json!(""));
    app.accept(&sparse).await;
    app.logged(company, &event_id(&sparse)).await;
    let u = app
        .user_by_email(company, "grace.b_hopper@example.com")
        .await
        .expect("user");
    assert_eq!(u["job_title"], "Rear Admiral");
    assert_eq!(u["last_name"], "Brewster Hopper");
    assert_eq!(u["mobile_phone"], "+1 222");

    // Last-name fallbacks: email segments, then the literal Missing.
    let mut derived = create("org-m", "m-2", "john_smith@example.com", t(2));
    set_scim(&mut derived, "name", json!({"given_name": "John"}));
    let mut missing = create("org-m", "m-3", "prince@example.com", t(3));
    set_scim(&mut missing, "name", json!({"given_name": "Prince"}));
    app.accept(&derived).await;
    app.accept(&missing).await;
    app.logged(company, &event_id(&derived)).await;
    app.logged(company, &event_id(&missing)).await;
    assert_eq!(
        app.user_by_email(company, "john_smith@example.com")
            .await
            .expect("u")["last_name"],
        "Smith"
    );
    assert_eq!(
        app.user_by_email(company, "prince@example.com")
            .await
            .expect("u")["last_name"],
        "Missing"
    );
    app.stop().await;
}

/// Two workers' transactions bring the same new org values at the same time: the test holds the
/// event log (every transaction's last write) so both creators stay open at once, each having
/// made sure of the entries (a worker creates a batch's entries just before its transaction, so
/// the second finds the first's). Then both commit: one entry per value, both users attached to
/// it, nothing retried.
#[tokio::test]
async fn r6_overlapping_creators_of_the_same_org_values_make_one_entry_each() {
    use scimsync_platform::metrics::{metrics, QueueLabels};
    use scimsync_tests::app::Services;
    use sea_orm::TransactionTrait;

    let services = Services {
        workers: &[Concern::UserUpsert],
        ..Services::INGEST_ONLY
    };
    let app = TestApp::spawn_with(services, |_| {}).await;
    let company = app.register_company("org-c", &[]).await;
    let member = |i: i64| {
        let mut e = create(
            "org-c",
            &format!("m-{i}"),
            &format!("u{i}@example.com"),
            t(i),
        );
        set_scim(
            &mut e,
            "enterprise_extension",
            json!({"department": "Platform", "division": "Core"}),
        );
        set_scim(&mut e, "title", json!("Engineer"));
        e
    };
    let log = app.env.db.begin().await.unwrap();
    log.execute_unprepared("LOCK TABLE scim_event_log IN SHARE MODE")
        .await
        .unwrap();
    let waiting_on = |kind: &str| {
        format!(
            "SELECT count(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE NOT l.granted AND l.locktype = '{kind}' AND a.datname = current_database()"
        )
    };
    let deadline = std::time::Duration::from_secs(30);
    // The first creator: its entries written, its log row waiting on the test's lock.
    app.accept(&member(1)).await;
    app.env
        .wait_count(&waiting_on("relation"), 1, deadline)
        .await;
    // The second, in the worker's other slot, with the same entries: its log row waits too.
    app.accept(&member(2)).await;
    app.env
        .wait_count(&waiting_on("relation"), 2, deadline)
        .await;
    log.rollback().await.unwrap();
    app.wait_settled().await;

    let entries =
        |kind: &str| format!("SELECT count(*) AS n FROM org_schema_entries WHERE kind = '{kind}'");
    for kind in ["department", "division", "job_title"] {
        assert_eq!(app.env.count(&entries(kind)).await, 1, "{kind}");
    }
    for i in 1..=2 {
        let u = app
            .user_by_email(company, &format!("u{i}@example.com"))
            .await
            .expect("user");
        let attached = (&u["department"], &u["division"], &u["job_title"]);
        assert_eq!(
            attached,
            (&json!("Platform"), &json!("Core"), &json!("Engineer")),
            "{u}"
        );
    }
    let retried = metrics()
        .retries
        .get_or_create(&QueueLabels {
            queue: "scimsync.user-upsert".into(),
        })
        .get();
    assert_eq!(
        retried, 0,
        "the second creator waited, it did not fail and retry"
    );
    app.stop().await;
}

#[tokio::test]
async fn r7_identity_is_tracked_and_date_added_is_the_creating_events_time() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-i", &[]).await;
    let e = create("org-i", "m-9", "ident@example.com", t(-86_400));
    app.accept(&e).await;
    app.logged(company, &event_id(&e)).await;
    let u = app
        .user_by_email(company, "ident@example.com")
        .await
        .expect("user");
    assert_eq!(u["date_added"], "2025-12-31T00:00:00Z");
    assert_eq!(u["stytch_member_id"], "m-9");
    assert_eq!(u["stytch_organization_id"], "org-i");
    assert_eq!(u["scim_provisioned"], true);
    app.stop().await;
}
