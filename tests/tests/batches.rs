//! Workers apply a backlog in batches (one transaction per batch): the outcome of every event
//! must be what applying them one by one gives, including the events a batch cannot carry
//! (rejections that roll back only their own writes, a member's second event, links between
//! members of the same batch).
//!
//! The events are queued with the workers stopped, then the workers start with one batch slot,
//! so the backlog is handed to them in batches; the batch-size histogram proves it was.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::Concern;
use scimsync_tests::app::Services;
use scimsync_tests::events::{create, event_id, set_scim, t, update, with_groups, with_manager};
use scimsync_tests::TestApp;
use serde_json::json;

/// The events are queued first; the workers started later take them in batches, one at a time.
async fn backlog_app() -> TestApp {
    TestApp::spawn_with(Services::INGEST_ONLY, |s| {
        s.worker.concurrency = 1;
        s.worker.batch_size = 32;
    })
    .await
}

/// The chosen workers, without ingest.
fn only(workers: &'static [Concern]) -> Services {
    Services {
        workers,
        ..Services::ADMIN_ONLY
    }
}

#[tokio::test]
async fn a_backlog_applied_in_batches_ends_as_if_applied_one_by_one() {
    let mut app = backlog_app().await;
    let company = app.register_company("org-batch", &["example.com"]).await;
    let groups = [
        ("g-admins", "SkillsdbGlobalAdmins"),
        ("g-eng", "Engineering"),
    ];

    let boss = with_groups(
        create("org-batch", "m-boss", "boss@example.com", t(0)),
        &groups[..1],
    );
    let mut events = vec![boss.clone()];
    for i in 1..=12 {
        let email = format!("report{i}@example.com");
        let mut report = create("org-batch", &format!("m-{i}"), &email, t(i));
        set_scim(&mut report, "title", json!("Engineer"));
        events.push(with_manager(with_groups(report, &groups[1..]), "m-boss"));
    }
    // A domain the company does not allow, in the middle of the batch.
    let outsider = create("org-batch", "m-out", "eve@elsewhere.org", t(20));
    // Another member claiming report 3's email.
    let twin = create("org-batch", "m-twin", "report3@example.com", t(21));
    // Report 4 again in the same backlog: a newer title.
    let mut again = update("org-batch", "m-4", "report4@example.com", t(22));
    set_scim(&mut again, "title", json!("Staff Engineer"));
    // A manager who arrives after the people who report to them.
    let late = with_manager(
        create("org-batch", "m-13", "report13@example.com", t(23)),
        "m-late",
    );
    let late_boss = create("org-batch", "m-late", "late@example.com", t(24));
    events.extend([
        outsider.clone(),
        twin.clone(),
        again.clone(),
        late.clone(),
        late_boss,
    ]);
    for event in &events {
        app.accept(event).await;
    }

    app.start_workers(Services::default()).await;

    let expect = |event: &serde_json::Value, outcome: &'static str| {
        let id = event_id(event);
        let app = &app;
        async move {
            let logged = app.logged_by(company, &id, Concern::UserUpsert).await;
            assert_eq!(logged["outcome"], outcome, "{id}: {logged}");
        }
    };
    expect(&boss, "created").await;
    for event in &events[1..13] {
        expect(event, "created").await;
    }
    expect(&outsider, "rejected_email_domain").await;
    expect(&twin, "rejected_duplicate_email").await;
    // The twin's email belongs to report 3, a record of the same batch.
    let three = app
        .user_by_email(company, "report3@example.com")
        .await
        .unwrap();
    let twin_logged = app
        .logged_by(company, &event_id(&twin), Concern::UserUpsert)
        .await;
    assert_eq!(
        twin_logged["detail"]["conflicting_user_id"], three["id"],
        "{twin_logged}"
    );
    expect(&again, "updated").await;

    // Rejected events wrote nothing; the others wrote all they had to.
    assert!(app
        .user_by_email(company, "eve@elsewhere.org")
        .await
        .is_none());
    let twins = app
        .env
        .count("SELECT count(*) AS n FROM users WHERE lower(email) = 'report3@example.com'")
        .await;
    assert_eq!(twins, 1);
    let four = app
        .user_by_email(company, "report4@example.com")
        .await
        .unwrap();
    let boss_user = app
        .user_by_email(company, "boss@example.com")
        .await
        .unwrap();
    assert_eq!(boss_user["permission_level"], "admin");
    // Every report linked to the boss, and the late manager to their report.
    app.env
        .wait_count(
            &format!(
                "SELECT count(*) AS n FROM users WHERE company_id = '{company}' AND manager_id IS NOT NULL"
            ),
            13,
            scimsync_tests::app::DEADLINE,
        )
        .await;
    let title = app
        .env
        .count(&format!(
            "SELECT count(*) AS n FROM user_org_attributes a JOIN org_schema_entries e ON e.id = a.entry_id
             WHERE a.user_id = '{}' AND e.kind = 'job_title' AND e.value = 'Staff Engineer'",
            four["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(title, 1, "report 4 carries the title of its second event");
    // The batch attached its new records' titles together, before its commit.
    let engineers = app
        .env
        .count(&format!(
            "SELECT count(*) AS n FROM user_org_attributes a JOIN org_schema_entries e ON e.id = a.entry_id
             JOIN users u ON u.id = a.user_id
             WHERE u.company_id = '{company}' AND e.kind = 'job_title' AND e.value = 'Engineer'"
        ))
        .await;
    assert_eq!(engineers, 11, "every report but report 4 is an Engineer");
    let memberships = app
        .env
        .count("SELECT count(*) AS n FROM scim_group_memberships WHERE present")
        .await;
    assert_eq!(
        memberships, 13,
        "the boss in one group, twelve reports in one each"
    );

    // The workers did take the backlog in batches.
    let text = scimsync_platform::metrics::render();
    let batched = text.lines().any(|line| {
        line.starts_with("scimsync_batch_messages_bucket{")
            && line.contains("queue=\"scimsync.user-upsert\"")
            && line.contains("le=\"1.0\"")
            && {
                // Fewer batches of one message than messages: some batch held several.
                let ones: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
                ones < events.len() as f64
            }
    });
    assert!(batched, "no batch of several messages in:\n{text}");
    app.stop().await;
}

/// New records of a batch get their activity and level in one refresh before the commit: the
/// memberships applied before them count, and each event's log entry shows its own change.
#[tokio::test]
async fn new_records_of_a_batch_take_the_memberships_that_arrived_first() {
    let mut app = backlog_app().await;
    let company = app.register_company("org-first", &["example.com"]).await;
    let admins = [("g-admins", "SkillsdbGlobalAdmins")];
    let mut events = Vec::new();
    for i in 0..8 {
        let event = create(
            "org-first",
            &format!("m-{i}"),
            &format!("p{i}@example.com"),
            t(i),
        );
        // Even members are admins; odd ones never had a group.
        events.push(if i % 2 == 0 {
            with_groups(event, &admins)
        } else {
            event
        });
    }
    for event in &events {
        app.accept(event).await;
    }
    // The memberships first, for members who have no record yet.
    app.start_workers(only(&[Concern::GroupResolver])).await;
    for event in events.iter().step_by(2) {
        app.logged_by(company, &event_id(event), Concern::GroupResolver)
            .await;
    }
    app.start_workers(only(&[Concern::UserUpsert])).await;
    for (i, event) in events.iter().enumerate() {
        let logged = app
            .logged_by(company, &event_id(event), Concern::UserUpsert)
            .await;
        assert_eq!(logged["outcome"], "created", "{logged}");
        let user = app
            .user_by_email(company, &format!("p{i}@example.com"))
            .await
            .unwrap();
        let level = if i % 2 == 0 { "admin" } else { "basic" };
        assert_eq!(user["permission_level"], level, "{user}");
        assert_eq!(user["active"], true, "{user}");
        // The log shows what changed, for its own user only: the admins' level.
        let changes = logged["detail"]["access_changes"].as_array().unwrap();
        if i % 2 == 0 {
            assert_eq!(changes.len(), 1, "only its own user: {logged}");
            assert_eq!(changes[0]["user_id"], user["id"], "{logged}");
            assert_eq!(changes[0]["level_after"], "admin", "{logged}");
        } else {
            assert!(changes.is_empty(), "nothing changed: {logged}");
        }
    }
    app.stop().await;
}

/// A batch announces its new users to manager-linker in one message, not one per user: every
/// user is announced, and there are fewer announcement messages than users.
#[tokio::test]
async fn a_batch_announces_its_new_users_in_one_message() {
    use scimsync_schema::topology::MANAGER_LINKER;
    use scimsync_schema::QueueMessage;

    let mut app = backlog_app().await;
    let company = app.register_company("org-announce", &["example.com"]).await;
    let events: Vec<_> = (0..10)
        .map(|i| {
            create(
                "org-announce",
                &format!("m-{i}"),
                &format!("a{i}@example.com"),
                t(i),
            )
        })
        .collect();
    for event in &events {
        app.accept(event).await;
    }
    app.start_workers(only(&[Concern::UserUpsert])).await;
    for event in &events {
        let logged = app
            .logged_by(company, &event_id(event), Concern::UserUpsert)
            .await;
        assert_eq!(logged["outcome"], "created", "{logged}");
    }
    // The events are acknowledged only after their announcement is confirmed, so it is queued.
    let broker = scimsync_tests::broker::Broker::connect(&app.env.amqp_url).await;
    let (mut announcements, mut announced) = (0, Vec::new());
    while let Some(taken) = broker.take(MANAGER_LINKER.name).await {
        match QueueMessage::from_bytes(&taken.body).unwrap() {
            QueueMessage::StytchWebhookV1(_) => {}
            QueueMessage::UsersProvisionedV1(batch) => {
                announcements += 1;
                assert_eq!(
                    taken.header(scimsync_schema::headers::EVENT_ID).as_deref(),
                    Some(batch.event_id.as_str())
                );
                announced.extend(batch.users.into_iter().map(|u| u.stytch_member_id));
            }
            other => panic!("unexpected message {other:?}"),
        }
    }
    announced.sort();
    let expected: Vec<String> = (0..10).map(|i| format!("m-{i}")).collect();
    assert_eq!(announced, expected, "every new user announced once");
    assert!(
        announcements < expected.len(),
        "{announcements} announcement messages for {} users",
        expected.len()
    );
    app.stop().await;
}

/// A batch inserts its new records together before its commit, after its own email checks. If
/// another writer takes one of their emails in between, the unique index decides at that insert:
/// that event is rejected as the single path rejects it (R3), and the rest of the batch commits.
#[tokio::test]
async fn a_new_email_taken_while_the_batch_runs_rejects_only_that_event() {
    use scimsync_tests::env::insert_scim_user;
    use sea_orm::TransactionTrait;

    let mut app = backlog_app().await;
    let company = app.register_company("org-race", &["example.com"]).await;
    let events: Vec<serde_json::Value> = (0..6)
        .map(|i| {
            let (member, email) = (format!("m-{i}"), format!("p{i}@example.com"));
            create("org-race", &member, &email, t(i))
        })
        .collect();
    for event in &events {
        app.accept(event).await;
    }
    // Another member's record (SCIM's, so not one to adopt by email) takes p3's email, not
    // committed yet: the batch's checks cannot see it.
    let other = app.env.db.begin().await.unwrap();
    let other_id = insert_scim_user(&other, company, "m-other", "P3@example.com").await;
    app.start_workers(only(&[Concern::UserUpsert])).await;
    // The insert of the batch's new records waits on the other writer's row.
    app.env.wait_for_lock_waiters(1).await;
    other.commit().await.unwrap();

    for (i, event) in events.iter().enumerate() {
        let logged = app
            .logged_by(company, &event_id(event), Concern::UserUpsert)
            .await;
        let outcome = if i == 3 {
            "rejected_duplicate_email"
        } else {
            "created"
        };
        assert_eq!(logged["outcome"], outcome, "{logged}");
    }
    let holders = app
        .env
        .ids("SELECT id FROM users WHERE lower(email) = 'p3@example.com'")
        .await;
    assert_eq!(holders, vec![other_id]);
    let created = app
        .env
        .count(&format!(
            "SELECT count(*) AS n FROM users WHERE company_id = '{company}' AND stytch_member_id <> 'm-other'"
        ))
        .await;
    assert_eq!(created, 5);
    app.stop().await;
}
