//! Dead letters found by company (SPEC A6): every message names its company, so the documented
//! recovery for an organisation registered late, `scimctl dlq replay --company ORG`, brings
//! back its members, its groups and its managers alike.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimctl::dlq::filter::Filter;
use scimctl::dlq::{self, all_queues, show, Command, FilterArgs, QueuesArg, ReplayArgs};
use scimsync_schema::topology::{GROUP_RESOLVER, MANAGER_LINKER, USER_UPSERT};
use scimsync_schema::Concern;
use scimsync_tests::app::{Services, DEADLINE};
use scimsync_tests::broker::Broker;
use scimsync_tests::events::{create, group, t, with_groups, with_manager};
use scimsync_tests::{wait_until, TestApp};
use serde_json::Value;
use uuid::Uuid;

const LATE: &str = "org-late";
const OTHER: &str = "org-other";

fn dlq(work_queue: &str) -> String {
    format!("{work_queue}.dlq")
}

/// How many dead letters each queue should hold: user-upsert, group-resolver, manager-linker.
async fn wait_dead_letters(app: &TestApp, expected: [u64; 3]) {
    let queues = [USER_UPSERT.name, GROUP_RESOLVER.name, MANAGER_LINKER.name];
    wait_until(
        &format!("dead letters {expected:?} in {queues:?}"),
        DEADLINE,
        || async {
            for (queue, depth) in queues.iter().zip(expected) {
                if app.env.queue_depth(&dlq(queue)).await != Some(depth) {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
}

/// Every dead letter of every queue, as `scimctl dlq show` reads them.
async fn every_dead_letter(app: &TestApp) -> Vec<scimctl::dlq::letter::DeadLetter> {
    let mut letters = Vec::new();
    for queue in all_queues() {
        letters.extend(
            show::show(&app.env.amqp_url, &queue, &Filter::default(), 100)
                .await
                .expect("show"),
        );
    }
    letters
}

/// `scimctl dlq replay --company ORG [--dry-run]`: no `--queue`, so every dead-letter queue.
async fn replay_company(app: &TestApp, org: &str, dry_run: bool) {
    let args = ReplayArgs {
        queue: QueuesArg::default(),
        filter: FilterArgs {
            company: Some(org.into()),
            ..FilterArgs::default()
        },
        limit: None,
        rate: None,
        dry_run,
        crash_after_publish: false,
    };
    dlq::run(&app.env.settings, &operator(), Command::Replay(args))
        .await
        .expect("replay");
}

/// Who the replays and purges are recorded as.
fn operator() -> scimctl::audit::Operator {
    scimctl::audit::Operator::named("dlq-company-test").expect("a valid name")
}

/// `scimctl dlq purge [--yes]`: no `--queue`, no filter.
async fn purge_everything(app: &TestApp, yes: bool) -> anyhow::Result<()> {
    let purge = Command::Purge {
        queue: QueuesArg::default(),
        filter: FilterArgs::default(),
        yes,
    };
    dlq::run(&app.env.settings, &operator(), purge).await
}

async fn member(app: &TestApp, company: Uuid, email: &str) -> Option<Value> {
    app.user_by_email(company, email).await
}

fn group_ids(user: &Value) -> Vec<String> {
    user["groups"]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| g["idp_group_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_company_registered_late_gets_its_members_groups_and_managers_back_by_one_replay() {
    let app = TestApp::spawn().await;
    // Nobody registered either organisation yet: every worker that needs the company
    // dead-letters its copy of each event.
    let events = [
        // user-upsert, and group-resolver for its list.
        with_groups(
            create(LATE, "m-1", "ada@example.com", t(0)),
            &[("g-eng", "Engineering")],
        ),
        // user-upsert, and manager-linker for its manager.
        with_manager(create(LATE, "m-2", "grace@example.com", t(1)), "m-1"),
        // group-resolver alone.
        group("CREATE", LATE, "g-sales", "Sales", None, t(2)),
        group("MEMBER_ADD", LATE, "g-sales", "Sales", Some("m-2"), t(3)),
        // Another late organisation, whose dead letters stay where they are.
        with_groups(
            create(OTHER, "m-9", "other@example.com", t(0)),
            &[("g-x", "Other")],
        ),
        group("CREATE", OTHER, "g-y", "Other too", None, t(1)),
    ];
    for event in &events {
        app.accept(event).await;
    }
    wait_dead_letters(&app, [3, 5, 1]).await;

    // Each dead letter says why and whose it is, group events included.
    let letters = every_dead_letter(&app).await;
    assert_eq!(letters.len(), 9);
    for letter in &letters {
        assert_eq!(letter.reason, "unknown_organization", "{letter:?}");
        assert!(
            [Some(LATE), Some(OTHER)].contains(&letter.organization_id.as_deref()),
            "{} in {} names no company: {:?}",
            letter.event_type.as_deref().unwrap_or("?"),
            letter.queue,
            letter.organization_id
        );
    }

    let company = app.register_company(LATE, &[]).await;
    // A dry run changes nothing.
    replay_company(&app, LATE, true).await;
    wait_dead_letters(&app, [3, 5, 1]).await;
    assert_eq!(app.users(company).await.len(), 0);

    replay_company(&app, LATE, false).await;
    wait_dead_letters(&app, [1, 2, 0]).await;
    let (ada, grace) = wait_until(
        "the late company's members, groups and manager link",
        DEADLINE,
        || async {
            let ada = member(&app, company, "ada@example.com").await?;
            let grace = member(&app, company, "grace@example.com").await?;
            let done = group_ids(&ada) == ["g-eng"]
                && group_ids(&grace) == ["g-sales"]
                && grace["manager_id"] == ada["id"];
            done.then_some((ada, grace))
        },
    )
    .await;
    assert!(ada["active"].as_bool().unwrap_or_default(), "{ada}");
    assert!(grace["active"].as_bool().unwrap_or_default(), "{grace}");
    let groups = app
        .get(&format!("/api/v1/companies/{company}/groups"))
        .await;
    let mut names: Vec<&str> = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Engineering", "Sales"], "{groups}");

    // What is left is the other organisation's, each still naming it.
    let left = every_dead_letter(&app).await;
    assert_eq!(left.len(), 3);
    assert!(left
        .iter()
        .all(|l| l.organization_id.as_deref() == Some(OTHER)));

    // Purging every queue asks for confirmation first, naming them all.
    let refused = purge_everything(&app, false)
        .await
        .expect_err("purge without --yes")
        .to_string();
    for queue in all_queues() {
        assert!(refused.contains(&queue.name), "{refused}");
    }
    assert!(refused.contains("--yes"), "{refused}");
    wait_dead_letters(&app, [1, 2, 0]).await;
    purge_everything(&app, true).await.expect("purge");
    wait_dead_letters(&app, [0, 0, 0]).await;
    app.stop().await;
}

#[tokio::test]
async fn every_message_names_its_company_events_and_announcements_alike() {
    // No group-resolver or manager-linker: what is published for them stays on their queues.
    let services = Services {
        workers: &[Concern::UserUpsert],
        ..Services::default()
    };
    let app = TestApp::spawn_with(services, |_| {}).await;
    app.register_company(LATE, &[]).await;
    app.accept(&create(LATE, "m-1", "ada@example.com", t(0)))
        .await;
    app.accept(&group("MEMBER_ADD", LATE, "g-1", "Eng", Some("m-1"), t(1)))
        .await;
    // manager-linker's queue: the member create, and user-upsert's announcement of its user.
    wait_until("the announcement", DEADLINE, || async {
        (app.env.queue_depth(MANAGER_LINKER.name).await == Some(2)).then_some(())
    })
    .await;

    let broker = Broker::connect(&app.env.amqp_url).await;
    let mut kinds = Vec::new();
    while let Some(message) = broker.take(MANAGER_LINKER.name).await {
        let body: Value = serde_json::from_slice(&message.body).expect("json");
        kinds.push(body["kind"].as_str().unwrap_or_default().to_owned());
        assert_eq!(
            message.header("x-organization-id").as_deref(),
            Some(LATE),
            "{body}"
        );
    }
    kinds.sort_unstable();
    assert_eq!(kinds, ["stytch_webhook.v1", "users_provisioned.v1"]);
    let group_event = broker
        .take(GROUP_RESOLVER.name)
        .await
        .expect("the group event waits for group-resolver");
    assert_eq!(
        group_event.header("x-organization-id").as_deref(),
        Some(LATE)
    );
    app.stop().await;
}
