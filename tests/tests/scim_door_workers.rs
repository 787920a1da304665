//! The workers apply the SCIM door's changes with the rules they apply to Stytch's (SPEC §1: one
//! change type, two doors): messages shaped as the scim service's outbox publishes them, put on
//! the events exchange, become users, memberships, levels and manager links of a company with no
//! Stytch organisation, and the event log says which door they came through.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use scimsync_schema::change::{
    scim_member_key, ChangeAction, ChangeMeta, Door, GroupChange, GroupChangeAction, MemberChange,
    Tenant,
};
use scimsync_schema::stytch::{
    EnterpriseExtension, ManagerRef, Member, ScimAttributes, ScimName, ScimRegistration,
};
use scimsync_schema::topology::EVENTS_EXCHANGE;
use scimsync_schema::Concern;
use scimsync_schema::QueueMessage;
use scimsync_tests::app::DEADLINE;
use scimsync_tests::broker::Broker;
use scimsync_tests::events::t;
use scimsync_tests::TestApp;
use serde_json::{json, Value};
use uuid::Uuid;

fn meta(event_type: &str, at: DateTime<Utc>) -> ChangeMeta {
    ChangeMeta {
        door: Door::Scim,
        event_id: format!("scim-{}", Uuid::now_v7()),
        event_type: event_type.into(),
        timestamp: at,
        received_at: Utc::now(),
    }
}

/// A member as the scim service maps a User resource.
fn member(scim_id: &str, email: &str, manager: Option<&str>) -> Member {
    Member {
        member_id: Some(scim_member_key(scim_id)),
        email_address: Some(email.into()),
        scim_registration: Some(ScimRegistration {
            scim_attributes: Some(ScimAttributes {
                id: Some(scim_id.into()),
                user_name: Some(email.into()),
                active: Some(true),
                name: Some(ScimName {
                    given_name: Some("Grace".into()),
                    family_name: Some("Hopper".into()),
                    ..ScimName::default()
                }),
                title: Some("Rear Admiral".into()),
                enterprise_extension: manager.map(|m| EnterpriseExtension {
                    manager: Some(ManagerRef {
                        value: Some(m.into()),
                        ..ManagerRef::default()
                    }),
                    ..EnterpriseExtension::default()
                }),
                ..ScimAttributes::default()
            }),
            ..ScimRegistration::default()
        }),
        ..Member::default()
    }
}

async fn send_member(
    broker: &Broker,
    company: &str,
    scim_id: &str,
    action: ChangeAction,
    member: Option<Member>,
    at: DateTime<Utc>,
) -> String {
    let event_type = format!("scim.member.{}", action.as_str().to_ascii_lowercase());
    let change = MemberChange {
        meta: meta(&event_type, at),
        tenant: Tenant::Company(company.into()),
        member_id: Some(scim_member_key(scim_id)),
        action,
        provisioning: true,
        member,
    };
    let event_id = change.meta.event_id.clone();
    let bytes = QueueMessage::MemberChangeV1(Box::new(change)).to_bytes();
    broker.publish(EVENTS_EXCHANGE, &event_type, &bytes).await;
    event_id
}

async fn send_group(
    broker: &Broker,
    company: &str,
    action: GroupChangeAction,
    group: (&str, &str),
    member: Option<&str>,
    at: DateTime<Utc>,
) -> String {
    let event_type = match action {
        GroupChangeAction::Upsert => "scim.idp_group.update",
        GroupChangeAction::Delete => "scim.idp_group.delete",
        GroupChangeAction::MemberAdd => "scim.idp_group.member_add",
        GroupChangeAction::MemberRemove => "scim.idp_group.member_delete",
    };
    let change = GroupChange {
        meta: meta(event_type, at),
        tenant: Tenant::Company(company.into()),
        action,
        group_id: group.0.into(),
        group_name: Some(group.1.into()),
        member_id: member.map(scim_member_key),
    };
    let event_id = change.meta.event_id.clone();
    let bytes = QueueMessage::GroupChangeV1(Box::new(change)).to_bytes();
    broker.publish(EVENTS_EXCHANGE, event_type, &bytes).await;
    event_id
}

async fn company_of_the_scim_door(app: &TestApp) -> Uuid {
    let response = app
        .http
        .post(format!("{}/api/v1/companies", app.admin_url))
        .json(&json!({"name": "Direct Corp"}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("id").parse().expect("uuid")
}

#[tokio::test]
async fn scim_door_changes_become_users_levels_and_managers_of_a_company_without_stytch() {
    let app = TestApp::spawn().await;
    let broker = Broker::connect(&app.env.amqp_url).await;
    let company = company_of_the_scim_door(&app).await;
    let c = company.to_string();
    let (boss, report) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());

    // The report first, naming its manager by the manager's SCIM id (R13).
    let report_created = send_member(
        &broker,
        &c,
        &report,
        ChangeAction::Create,
        Some(member(&report, "report@direct.example", Some(&boss))),
        t(1),
    )
    .await;
    let boss_created = send_member(
        &broker,
        &c,
        &boss,
        ChangeAction::Create,
        Some(member(&boss, "boss@direct.example", None)),
        t(2),
    )
    .await;
    let logged = app
        .logged_by(company, &boss_created, Concern::UserUpsert)
        .await;
    assert_eq!(logged["outcome"], "created", "{logged}");
    assert_eq!(logged["door"], "scim", "{logged}");
    let linked = app
        .logged_by(company, &report_created, Concern::ManagerLinker)
        .await;
    let boss_user = app
        .user_by_email(company, "boss@direct.example")
        .await
        .expect("boss");
    assert!(boss_user["stytch_member_id"].is_null(), "{boss_user}");
    assert!(boss_user["stytch_organization_id"].is_null(), "{boss_user}");
    assert_eq!(boss_user["scim_provisioned"], true);
    assert_eq!(boss_user["job_title"], "Rear Admiral");

    // Admins by the default group's name, through a group and a membership of the SCIM door.
    send_group(
        &broker,
        &c,
        GroupChangeAction::Upsert,
        ("g-admins", "SkillsdbGlobalAdmins"),
        None,
        t(3),
    )
    .await;
    let added = send_group(
        &broker,
        &c,
        GroupChangeAction::MemberAdd,
        ("g-admins", "SkillsdbGlobalAdmins"),
        Some(&boss),
        t(4),
    )
    .await;
    let logged = app.logged_by(company, &added, Concern::GroupResolver).await;
    assert_eq!(logged["door"], "scim");
    scimsync_tests::wait::wait_until(
        "the manager link and the admin level",
        std::time::Duration::from_secs(30),
        || async {
            let boss = app.user_by_email(company, "boss@direct.example").await?;
            let report = app.user_by_email(company, "report@direct.example").await?;
            (report["manager_id"] == boss["id"] && boss["permission_level"] == "admin")
                .then_some(())
        },
    )
    .await;
    assert!(
        ["manager_linked", "manager_pending"].contains(&linked["outcome"].as_str().unwrap()),
        "{linked}"
    );

    // A DELETE is a soft delete in the product (R9a).
    let deleted = send_member(&broker, &c, &report, ChangeAction::Delete, None, t(5)).await;
    let logged = app.logged_by(company, &deleted, Concern::UserUpsert).await;
    assert_eq!(logged["outcome"], "deactivated", "{logged}");
    let report_user = app
        .user_by_email(company, "report@direct.example")
        .await
        .expect("kept");
    assert_eq!(report_user["active"], false);
    app.stop().await;
}

/// The user rows of `company` with `email`: (scim id, active), oldest first.
async fn users_with_email(app: &TestApp, company: Uuid, email: &str) -> Vec<(String, bool)> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    app.env
        .db
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT scim_id, active FROM users
             WHERE company_id = $1 AND lower(email) = lower($2) ORDER BY created_at",
            [company.into(), email.into()],
        ))
        .await
        .expect("users")
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "scim_id").expect("scim_id"),
                row.try_get::<bool>("", "active").expect("active"),
            )
        })
        .collect()
}

/// How many of `company`'s event log rows have this outcome.
async fn logged(app: &TestApp, company: Uuid, outcome: &str) -> i64 {
    app.env
        .count(&format!(
            "SELECT count(*) AS n FROM scim_event_log
             WHERE company_id = '{company}' AND outcome = '{outcome}'"
        ))
        .await
}

fn user_upsert_retries() -> u64 {
    scimsync_platform::metrics::metrics()
        .retries
        .get_or_create(&scimsync_platform::metrics::QueueLabels {
            queue: scimsync_schema::topology::USER_UPSERT.name.into(),
        })
        .get()
}

/// R10 at the SCIM door, with the IdP's DELETE and POST applied by two transactions at once:
/// the create of the new resource reaches user-upsert while the old resource's delete is still
/// being applied (held here behind the old member's lock). The create must not be rejected as
/// a duplicate email (that would lose the user for good): it waits, retried, for the delete,
/// and then takes the old record over, active, under its new SCIM id.
#[tokio::test]
async fn a_user_created_again_while_its_delete_is_applied_waits_for_the_delete() {
    use sea_orm::TransactionTrait;

    let app = TestApp::spawn().await;
    let broker = Broker::connect(&app.env.amqp_url).await;
    let company = company_of_the_scim_door(&app).await;
    let tenant = company.to_string();
    let email = "grace@example.com";
    let old = Uuid::now_v7().to_string();
    let create = ChangeAction::Create;
    send_member(
        &broker,
        &tenant,
        &old,
        create,
        Some(member(&old, email, None)),
        t(0),
    )
    .await;
    scimsync_tests::wait::wait_until("the first resource's user", DEADLINE, || async {
        (users_with_email(&app, company, email).await == [(old.clone(), true)]).then_some(())
    })
    .await;

    // The delete of the old resource is stopped behind its member's lock, mid-transaction.
    let held = app.env.db.begin().await.unwrap();
    scimsync_db::access::lock_members(&held, company, &[scim_member_key(&old)])
        .await
        .unwrap();
    send_member(&broker, &tenant, &old, ChangeAction::Delete, None, t(1)).await;
    app.env.wait_for_lock_waiters(1).await;

    let retried_before = user_upsert_retries();
    let new = Uuid::now_v7().to_string();
    send_member(
        &broker,
        &tenant,
        &new,
        create,
        Some(member(&new, email, None)),
        t(2),
    )
    .await;
    scimsync_tests::wait::wait_until("the new resource's create to wait", DEADLINE, || async {
        (user_upsert_retries() > retried_before).then_some(())
    })
    .await;
    assert_eq!(logged(&app, company, "rejected_duplicate_email").await, 0);

    held.commit().await.unwrap();
    scimsync_tests::wait::wait_until("the record under the new SCIM id", DEADLINE, || async {
        (users_with_email(&app, company, email).await == [(new.clone(), true)]).then_some(())
    })
    .await;
    assert_eq!(logged(&app, company, "rejected_duplicate_email").await, 0);
    let recreated = app
        .env
        .count(&format!(
            "SELECT count(*) AS n FROM scim_event_log
             WHERE company_id = '{company}' AND stytch_member_id = '{}'
               AND detail->>'matched_by' = 'scim_recreated'",
            scim_member_key(&new)
        ))
        .await;
    assert_eq!(recreated, 1);
    app.stop().await;
}

/// The wait above is for a resource the SCIM service deleted. Two live resources with one email
/// are R3's duplicate, rejected at once as before.
#[tokio::test]
async fn a_second_live_resource_with_the_same_email_is_still_rejected() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let app = TestApp::spawn().await;
    let broker = Broker::connect(&app.env.amqp_url).await;
    let company = company_of_the_scim_door(&app).await;
    let tenant = company.to_string();
    let email = "ada@example.com";
    let first = Uuid::now_v7();
    // The SCIM service holds the first resource.
    app.env
        .db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO directory_users (id, company_id, user_name, resource)
             VALUES ($1, $2, $3, '{}'::jsonb)",
            [first.into(), company.into(), email.into()],
        ))
        .await
        .unwrap();
    let first = first.to_string();
    let create = ChangeAction::Create;
    send_member(
        &broker,
        &tenant,
        &first,
        create,
        Some(member(&first, email, None)),
        t(0),
    )
    .await;
    scimsync_tests::wait::wait_until("the first resource's user", DEADLINE, || async {
        (users_with_email(&app, company, email).await == [(first.clone(), true)]).then_some(())
    })
    .await;
    let second = Uuid::now_v7().to_string();
    send_member(
        &broker,
        &tenant,
        &second,
        create,
        Some(member(&second, email, None)),
        t(1),
    )
    .await;
    scimsync_tests::wait::wait_until("the duplicate's rejection", DEADLINE, || async {
        (logged(&app, company, "rejected_duplicate_email").await == 1).then_some(())
    })
    .await;
    assert_eq!(
        users_with_email(&app, company, email).await,
        [(first, true)]
    );
    app.stop().await;
}
