//! R1 and R13 when the candidates disagree: each key finds a different record, and the
//! documented order decides which one the event means.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_schema::Concern;
use scimsync_tests::events::{create, event_id, set_scim, t, update, with_manager};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};
use uuid::Uuid;

/// A record written straight to the database: `member` and `external_id` as given, SCIM
/// provisioned or not.
async fn record(app: &TestApp, company: Uuid, email: &str, external_id: &str, scim: bool) -> Value {
    let id = Uuid::now_v7();
    app.env
        .db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO users (id, company_id, email, last_name, external_id, scim_provisioned)
             VALUES ($1, $2, $3, 'Before', NULLIF($4, ''), $5)",
            [
                id.into(),
                company.into(),
                email.into(),
                external_id.into(),
                scim.into(),
            ],
        ))
        .await
        .unwrap();
    json!(id)
}

async fn user(app: &TestApp, company: Uuid, email: &str) -> Value {
    app.user_by_email(company, email)
        .await
        .unwrap_or_else(|| panic!("{email} exists"))
}

/// R1: by Stytch member id, then external id, then email. A member whose id matches record A
/// and whose external id matches record B updates A only; a new member whose external id matches
/// record D and whose email is that of product user C means D, so the email is taken (R3) and
/// nothing is written: C is not adopted.
#[tokio::test]
async fn r1_member_id_beats_external_id_and_external_id_beats_email() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-r1", &[]).await;
    let a = create("org-r1", "m-a", "a@example.com", t(0));
    app.accept(&a).await;
    app.wait_settled().await;
    let a_id = user(&app, company, "a@example.com").await["id"].clone();
    let b_id = record(&app, company, "b@example.com", "ext-b", true).await;

    let mut both = update("org-r1", "m-a", "a@example.com", t(1));
    set_scim(&mut both, "external_id", json!("ext-b"));
    set_scim(&mut both, "title", json!("Matched by member id"));
    app.accept(&both).await;
    app.wait_settled().await;
    let log = app
        .logged_by(company, &event_id(&both), Concern::UserUpsert)
        .await;
    assert_eq!(
        (
            &log["outcome"],
            &log["detail"]["matched_by"],
            &log["user_id"]
        ),
        (&json!("updated"), &json!("stytch_member_id"), &a_id),
        "{log}"
    );
    let a_now = user(&app, company, "a@example.com").await;
    assert_eq!(a_now["job_title"], "Matched by member id");
    let b_now = user(&app, company, "b@example.com").await;
    assert_eq!(
        (
            &b_now["id"],
            &b_now["stytch_member_id"],
            &b_now["job_title"],
            &b_now["last_name"]
        ),
        (&b_id, &Value::Null, &Value::Null, &json!("Before")),
        "B untouched: {b_now}"
    );

    let c_id = record(&app, company, "c@example.com", "", false).await;
    let d_id = record(&app, company, "d@example.com", "ext-d", true).await;
    let mut disagree = create("org-r1", "m-new", "c@example.com", t(2));
    set_scim(&mut disagree, "external_id", json!("ext-d"));
    app.accept(&disagree).await;
    app.wait_settled().await;
    let log = app
        .logged_by(company, &event_id(&disagree), Concern::UserUpsert)
        .await;
    assert_eq!(log["outcome"], "rejected_duplicate_email", "{log}");
    let c_now = user(&app, company, "c@example.com").await;
    assert_eq!(
        (
            &c_now["id"],
            &c_now["scim_provisioned"],
            &c_now["stytch_member_id"]
        ),
        (&c_id, &json!(false), &Value::Null),
        "C not adopted: {c_now}"
    );
    let d_now = user(&app, company, "d@example.com").await;
    assert_eq!(
        (&d_now["id"], &d_now["stytch_member_id"]),
        (&d_id, &Value::Null),
        "D unchanged: {d_now}"
    );
    assert_eq!(app.users(company).await.len(), 4, "no new record");
    app.stop().await;
}

/// R13: a manager value is looked up as a Stytch member id, then a SCIM id, then an external
/// id. `v1` is X's member id, Y's SCIM id and Z's external id: X. `v2` is Y2's SCIM id and Z2's
/// external id: Y2. `v3` is only Z3's external id: Z3.
#[tokio::test]
async fn r13_a_manager_value_means_a_member_id_then_a_scim_id_then_an_external_id() {
    let app = TestApp::spawn().await;
    let company = app.register_company("org-r13", &[]).await;
    // (member id, SCIM id, external id) of the candidates.
    let candidates = [
        ("v1", "", ""),
        ("m-y", "v1", ""),
        ("m-z", "", "v1"),
        ("m-y2", "v2", ""),
        ("m-z2", "", "v2"),
        ("m-z3", "", "v3"),
    ];
    for (member, scim_id, external_id) in candidates {
        let mut e = create("org-r13", member, &format!("{member}@example.com"), t(0));
        if !scim_id.is_empty() {
            set_scim(&mut e, "id", json!(scim_id));
        }
        if !external_id.is_empty() {
            set_scim(&mut e, "external_id", json!(external_id));
        }
        app.accept(&e).await;
    }
    app.wait_settled().await;
    for (report, value) in [("r-1", "v1"), ("r-2", "v2"), ("r-3", "v3")] {
        let e = with_manager(
            create("org-r13", report, &format!("{report}@example.com"), t(1)),
            value,
        );
        app.accept(&e).await;
    }
    app.wait_settled().await;
    for (report, manager) in [("r-1", "v1"), ("r-2", "m-y2"), ("r-3", "m-z3")] {
        let expected = user(&app, company, &format!("{manager}@example.com")).await["id"].clone();
        let got = user(&app, company, &format!("{report}@example.com")).await["manager_id"].clone();
        assert_eq!(got, expected, "{report} reports to {manager}");
    }
    app.stop().await;
}
