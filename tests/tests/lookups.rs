//! The workers' lookups by identity provider key stay index lookups for a company the planner
//! has no statistics for yet: every company during its first sync. Filtering by company first
//! reads every user of the company per lookup, which made a first sync quadratic.
//!
//! Each query runs under `EXPLAIN (ANALYZE, BUFFERS)` against a company of 5,000 users inserted
//! after the last ANALYZE, next to a big analysed company; the assertion is on the buffers read,
//! which a walk over the company's users multiplies by hundreds. The new company's manager links
//! are all pending while the last ANALYZE saw none, as in a first sync in random order: a lookup
//! the planner may answer from a partial index on pending links reads all of them.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_manager_linker::links::{people, waiting};
use scimsync_tests::env::TestEnv;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use uuid::Uuid;

const NEW_COMPANY_USERS: i64 = 5_000;
/// An index lookup reads a handful of pages per branch; the company walk reads hundreds.
const MAX_BUFFERS: i64 = 60;

/// A manager link with `status` for each of the company's first `n` members, each waiting for
/// the next member's SCIM id.
async fn links(env: &TestEnv, company: Uuid, prefix: &str, status: &str, n: i64) {
    env.db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO manager_links (company_id, stytch_member_id, manager_value, event_timestamp,
                                        event_id, event_type, received_at, status, first_seen_at)
             SELECT $1, $2 || '-member-' || i, $2 || '-scim-' || (i + 1), now(),
                    'event-' || i, 'member.create', now(), $3, now()
             FROM generate_series(1, $4) AS i",
            [company.into(), prefix.into(), status.into(), n.into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("insert links: {e:?}"));
}

/// Three memberships per user and thousands of org entries per kind, in the company's first
/// sync's shape.
async fn memberships_and_entries(env: &TestEnv, company: Uuid, prefix: &str) {
    for sql in [
        "INSERT INTO scim_group_memberships (company_id, idp_group_id, stytch_member_id, present, version)
         SELECT $1, 'group-' || g, $2 || '-member-' || i, true, now()
         FROM generate_series(1, 5000) AS i, generate_series(1, 3) AS g",
        "INSERT INTO org_schema_entries (id, company_id, kind, value)
         SELECT gen_random_uuid(), $1, k, k || '-' || i
         FROM generate_series(1, 3000) AS i, unnest(ARRAY['job_title', 'country', 'city']) AS k
         WHERE $2 <> ''",
    ] {
        env.db
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                [company.into(), prefix.into()],
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
}

/// Shared buffers (hit + read) the statement touched, from its plan's root node.
async fn buffers(env: &TestEnv, sql: &str, values: Vec<Value>) -> i64 {
    let row = env
        .db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}"),
            values,
        ))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"))
        .unwrap_or_else(|| panic!("no plan"));
    let plan: serde_json::Value = row
        .try_get("", "QUERY PLAN")
        .unwrap_or_else(|e| panic!("plan json: {e:?}"));
    let root = &plan[0]["Plan"];
    let hit = root["Shared Hit Blocks"].as_i64().unwrap_or(0);
    let read = root["Shared Read Blocks"].as_i64().unwrap_or(0);
    hit + read
}

#[tokio::test]
async fn key_lookups_stay_index_lookups_for_a_company_without_statistics() {
    let env = TestEnv::new().await;
    let old = env.insert_company("org-old").await;
    env.insert_users(old, "old", 20_000).await;
    links(&env, old, "old", "linked", 20_000).await;
    env.db
        .execute_unprepared("ANALYZE")
        .await
        .unwrap_or_else(|e| panic!("analyze: {e:?}"));
    let new = env.insert_company("org-new").await;
    env.insert_users(new, "new", NEW_COMPANY_USERS).await;
    memberships_and_entries(&env, new, "new").await;
    // The last ANALYZE saw no pending link: every partial index on them looks empty.
    links(&env, new, "new", "pending", NEW_COMPANY_USERS).await;
    let last = format!("new-member-{NEW_COMPANY_USERS}");

    let members = buffers(
        &env,
        scimsync_db::access::USERS_OF_MEMBERS,
        vec![new.into(), vec![last.clone()].into()],
    )
    .await;
    let reports = buffers(
        &env,
        people::REPORTS,
        vec![vec![new].into(), vec![last.clone()].into()],
    )
    .await;
    let manager = buffers(
        &env,
        people::MANAGERS,
        vec![
            vec![new].into(),
            vec![format!("new-ext-{NEW_COMPANY_USERS}")].into(),
        ],
    )
    .await;
    let matched = buffers(
        &env,
        scimsync_user_upsert::store::matching::MATCH,
        vec![
            new.into(),
            last.clone().into(),
            "no-such-external-id".into(),
            "nobody@example.com".into(),
            false.into(),
        ],
    )
    .await;
    // A SCIM-door member also looks for a record its IdP deleted and created again.
    let matched_scim = buffers(
        &env,
        scimsync_user_upsert::store::matching::MATCH,
        vec![
            new.into(),
            "scim:0193-no-such-id".into(),
            "no-such-external-id".into(),
            "nobody@example.com".into(),
            true.into(),
        ],
    )
    .await;
    let awaiting = buffers(
        &env,
        waiting::AWAITING,
        vec![
            vec![0_i32].into(),
            vec![new].into(),
            vec!["new-scim-7".to_owned()].into(),
            vec![0_i32].into(),
            vec![new].into(),
            vec![last.clone()].into(),
        ],
    )
    .await;
    let groups = buffers(
        &env,
        scimsync_group_resolver::memberships::CURRENT_GROUPS_OF,
        vec![new.into(), vec![last.clone()].into()],
    )
    .await;
    let leave = buffers(
        &env,
        scimsync_group_resolver::memberships::LEAVE,
        vec![
            new.into(),
            serde_json::json!([{ "member": last, "version": "2030-01-01T00:00:00Z", "group_ids": [] }])
                .into(),
        ],
    )
    .await;
    let user: Uuid = env
        .db
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM users WHERE stytch_member_id = $1",
            [last.clone().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    let attach = buffers(
        &env,
        scimsync_user_upsert::org::ATTACH,
        vec![
            vec![new, new].into(),
            vec![user, user].into(),
            vec!["job_title".to_owned(), "country".to_owned()].into(),
            vec!["job_title-7".to_owned(), "country-7".to_owned()].into(),
        ],
    )
    .await;
    for (what, n) in [
        ("users of members", members),
        ("current groups", groups),
        ("left groups", leave),
        ("org attributes", attach),
        ("reports", reports),
        ("manager lookup", manager),
        ("user match", matched),
        ("user match, SCIM door", matched_scim),
        ("pending links", awaiting),
    ] {
        assert!(
            n <= MAX_BUFFERS,
            "{what} read {n} buffers for one key in a company of {NEW_COMPANY_USERS} users: it walks the company"
        );
    }
    env.cleanup().await;
}
