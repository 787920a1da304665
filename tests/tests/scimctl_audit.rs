//! The operator CLI's changes are in the audit trail beside the admin API's and the console's:
//! `scimctl companies add`, `scim-tokens create|revoke`, `dlq purge` and `event-log prune`,
//! each recorded as the operator who ran it (`--actor`, else login@host), `via: cli`, never
//! with a secret; reads are not recorded. scimctl is driven in-process against the real
//! PostgreSQL and RabbitMQ, and the trail is read back through the admin API.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimctl::audit::Operator;
use scimctl::{companies, dlq, event_log, scim_tokens, Command};
use scimsync_tests::app::Services;
use scimsync_tests::console::{self, VIEWER_TOKEN};
use scimsync_tests::TestApp;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::Value;

async fn run(app: &TestApp, operator: &Operator, command: Command) {
    scimctl::run(&app.env.settings, operator, command)
        .await
        .expect("scimctl");
}

async fn trail(app: &TestApp, query: &str) -> Vec<Value> {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/audit{query}", app.admin_url))
        .bearer_auth(VIEWER_TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 200);
    let page: Value = response.json().await.expect("json");
    page["entries"].as_array().cloned().unwrap_or_default()
}

async fn one_string(app: &TestApp, sql: &str) -> String {
    let row = app
        .env
        .db
        .query_one(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index::<String>(0).expect("text")
}

#[tokio::test]
async fn every_change_scimctl_makes_is_audited_as_the_operator_and_never_with_a_secret() {
    // Ingest declares the queues, the dead-letter queue the purge empties among them.
    let app = console::spawn(Services::INGEST_ONLY).await;
    let alice = Operator::named("alice@bastion-1").unwrap();

    run(
        &app,
        &alice,
        Command::Companies(companies::Command::Add {
            name: "Audited from a shell".into(),
            stytch_organization_id: Some("org-cli-audit".into()),
            allowed_email_domains: vec!["example.com".into()],
        }),
    )
    .await;
    let company: uuid::Uuid = one_string(
        &app,
        "SELECT id::text FROM companies WHERE stytch_organization_id = 'org-cli-audit'",
    )
    .await
    .parse()
    .unwrap();
    run(
        &app,
        &alice,
        Command::ScimTokens(scim_tokens::Command::Create {
            company,
            label: Some("Entra".into()),
        }),
    )
    .await;
    let token = scimsync_db::scim_tokens::list(&app.env.db, company)
        .await
        .unwrap()
        .remove(0);
    // What only the stored token could leak: its hash (the token itself is never stored).
    let hash = one_string(
        &app,
        &format!(
            "SELECT encode(token_hash, 'hex') FROM scim_tokens WHERE id = '{}'",
            token.id
        ),
    )
    .await;
    // Reads change nothing and leave no entry.
    run(
        &app,
        &alice,
        Command::ScimTokens(scim_tokens::Command::List {
            company,
            json: true,
        }),
    )
    .await;
    run(
        &app,
        &alice,
        Command::ScimTokens(scim_tokens::Command::Revoke {
            company,
            id: token.id,
        }),
    )
    .await;
    let bob = Operator::named("bob").unwrap();
    run(
        &app,
        &bob,
        Command::Dlq(dlq::Command::Purge {
            queue: dlq::QueuesArg {
                queue: Some("scimsync.user-upsert.dlq".into()),
            },
            filter: dlq::FilterArgs::default(),
            yes: true,
        }),
    )
    .await;
    run(
        &app,
        &bob,
        Command::EventLog(event_log::Command::Prune {
            older_than: std::time::Duration::from_secs(30 * 86_400),
            dry_run: false,
            batch: 100,
        }),
    )
    .await;

    // Newest first.
    let entries = trail(&app, "").await;
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "event_log.prune",
            "dead_letters.purge",
            "scim_token.revoke",
            "scim_token.create",
            "company.register"
        ]
    );
    for entry in &entries {
        assert_eq!(entry["via"], "cli", "{entry}");
        assert_eq!(entry["role"], "operator", "{entry}");
    }
    let actors: Vec<&str> = entries.iter().filter_map(|e| e["actor"].as_str()).collect();
    assert_eq!(
        actors,
        [
            "bob",
            "bob",
            "alice@bastion-1",
            "alice@bastion-1",
            "alice@bastion-1"
        ]
    );
    assert_eq!(entries[4]["company_id"], company.to_string());
    assert_eq!(
        entries[4]["after"]["stytch_organization_id"],
        "org-cli-audit"
    );
    assert_eq!(entries[3]["target"], token.id.to_string());
    assert_eq!(entries[3]["after"]["prefix"], token.prefix);
    assert_eq!(entries[2]["after"]["revoked"], true);
    assert_eq!(entries[1]["target"], "scimsync.user-upsert.dlq");
    assert_eq!(entries[1]["after"]["purged"], 0);
    assert_eq!(entries[0]["after"]["deleted"], 0);
    let text = Value::Array(entries.clone()).to_string();
    assert!(
        !text.contains(&hash),
        "the token's hash is in the trail: {text}"
    );

    // The trail filters a company's and an actor's changes like the API's own.
    let company_entries = trail(&app, &format!("?company_id={company}")).await;
    assert_eq!(company_entries.len(), 3);
    assert_eq!(trail(&app, "?actor=bob").await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_change_refused_by_scimctl_leaves_no_entry() {
    let app = console::spawn(Services::ADMIN_ONLY).await;
    let alice = Operator::named("alice").unwrap();
    let missing = uuid::Uuid::now_v7();
    let refused = scimctl::run(
        &app.env.settings,
        &alice,
        Command::ScimTokens(scim_tokens::Command::Revoke {
            company: missing,
            id: uuid::Uuid::now_v7(),
        }),
    )
    .await
    .expect_err("no such token");
    assert!(
        refused.to_string().contains("no active SCIM token"),
        "{refused}"
    );
    let refused = scimctl::run(
        &app.env.settings,
        &alice,
        Command::Dlq(dlq::Command::Purge {
            queue: dlq::QueuesArg {
                queue: Some("scimsync.user-upsert.dlq".into()),
            },
            filter: dlq::FilterArgs::default(),
            yes: false,
        }),
    )
    .await
    .expect_err("purge without --yes");
    assert!(refused.to_string().contains("--yes"), "{refused}");
    assert_eq!(trail(&app, "").await, Vec::<Value>::new());
    app.stop().await;
}
