//! How the tables are laid out for the way the workers write them.

// Test support: a failed expectation is the test failing, so unwrap/expect/panic are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scimsync_tests::env::TestEnv;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait};

/// Updates of `users` in this transaction so far, and how many of them were heap-only (HOT).
async fn user_updates(txn: &DatabaseTransaction) -> (i64, i64) {
    let row = txn
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_stat_get_xact_tuples_updated('users'::regclass) AS updated,
                    pg_stat_get_xact_tuples_hot_updated('users'::regclass) AS hot",
        ))
        .await
        .unwrap()
        .unwrap();
    (
        row.try_get("", "updated").unwrap(),
        row.try_get("", "hot").unwrap(),
    )
}

/// The refreshes of activity and level that follow a user's creation change no indexed column,
/// so they update the record in its own page (HOT) and write no index entry, even in pages
/// filled by a first sync's inserts.
#[tokio::test]
async fn refreshes_of_freshly_inserted_users_are_heap_only_updates() {
    let env = TestEnv::new().await;
    let company = env.insert_company("org-hot").await;
    // Enough users, in one statement, to fill several pages as a first sync's batches do. They
    // are stored as Managers with no reports, so each refresh has a level to correct (a refresh
    // that changes nothing writes nothing).
    env.insert_users_at_level(company, "hot", 400, "manager")
        .await;
    let pages = env
        .count("SELECT count(DISTINCT (ctid::text::point)[0])::bigint AS n FROM users")
        .await;
    assert!(pages >= 4, "the users fill {pages} pages");
    // A third of each page's records, refreshed in one transaction: the room a page leaves
    // must hold that many new versions, since none of the old ones can be pruned meanwhile.
    let ids = env
        .ids(
            "SELECT id FROM (SELECT id, row_number() OVER (ORDER BY ctid) AS n FROM users) r
             WHERE n % 3 = 1",
        )
        .await;

    let txn = env.db.begin().await.unwrap();
    scimsync_db::access::refresh(&txn, &ids).await.unwrap();
    let (updated, hot) = user_updates(&txn).await;
    txn.rollback().await.unwrap();
    assert_eq!(
        updated,
        ids.len() as i64,
        "every refreshed record was updated"
    );
    assert_eq!(hot, updated, "and every update stayed in its page");
    env.cleanup().await;
}

/// A refresh that changes nothing writes nothing: most refreshes of a first sync (a new record,
/// a manager gaining another report, a member of default groups only) leave the record as it
/// is, and each would otherwise be a new version of it.
#[tokio::test]
async fn a_refresh_that_changes_nothing_writes_no_new_version() {
    let env = TestEnv::new().await;
    let company = env.insert_company("org-noop").await;
    env.insert_users(company, "noop", 20).await;
    env.insert_users_at_level(company, "stale", 5, "admin")
        .await;
    let ids = env.ids("SELECT id FROM users ORDER BY email").await;
    assert_eq!(ids.len(), 25);

    let txn = env.db.begin().await.unwrap();
    let changes = scimsync_db::access::refresh(&txn, &ids).await.unwrap();
    let (updated, _) = user_updates(&txn).await;
    txn.commit().await.unwrap();
    assert_eq!(
        updated, 5,
        "only the five records whose level was wrong were written"
    );
    assert_eq!(changes.len(), 5);
    assert!(changes
        .iter()
        .all(|c| c.level_before == "admin" && c.level_after == "basic"));
    assert_eq!(
        env.count("SELECT count(*) AS n FROM users WHERE permission_level = 'basic'")
            .await,
        25
    );
    env.cleanup().await;
}

/// A worker acknowledges a message once its commit returns (A3), so the services' connections
/// commit durably even where the database was told not to (`synchronous_commit = off` lost
/// acknowledged manager links in a crash drill).
#[tokio::test]
async fn the_services_commit_durably_whatever_the_database_default() {
    let env = TestEnv::new().await;
    env.db
        .execute(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "ALTER DATABASE \"{}\" SET synchronous_commit = off",
                env.name
            ),
        ))
        .await
        .unwrap();
    let db = scimsync_db::connect(&env.settings.database).await.unwrap();
    let row = db
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('synchronous_commit') AS setting",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "setting").unwrap(), "on");
    env.cleanup().await;
}

async fn setting(db: &sea_orm::DatabaseConnection, name: &str) -> String {
    let row = db
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT current_setting('{name}') AS setting"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<String>("", "setting").unwrap()
}

/// Companies differ in size by orders of magnitude, so the admin API plans each read for the
/// company it reads instead of settling on one plan for all; the workers keep PostgreSQL's
/// default. Its connections commit durably too.
#[tokio::test]
async fn the_admin_api_plans_each_statement_for_its_parameters() {
    let env = TestEnv::new().await;
    let admin = scimsync_admin_api::connect(&env.settings.database)
        .await
        .unwrap();
    assert_eq!(
        setting(&admin, "plan_cache_mode").await,
        "force_custom_plan"
    );
    assert_eq!(setting(&admin, "synchronous_commit").await, "on");
    let worker = scimsync_db::connect_worker(&env.settings.database)
        .await
        .unwrap();
    assert_eq!(setting(&worker, "plan_cache_mode").await, "auto");
    env.cleanup().await;
}

async fn plan(db: &sea_orm::DatabaseConnection, sql: &str) -> String {
    let rows = db
        .query_all(Statement::from_string(
            DbBackend::Postgres,
            format!("EXPLAIN {sql}"),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A first sync fills tables whose statistics say they hold almost nothing, and PostgreSQL
/// answers a lookup in a table that small with a scan of the whole table, which it keeps doing
/// as the table grows until autovacuum analyses it again. The workers' connections probe the
/// index whatever the statistics say.
#[tokio::test]
async fn worker_pools_probe_indexes_of_tables_analysed_when_small() {
    let env = TestEnv::new().await;
    let company = env.insert_company("org-small-stats").await;
    env.insert_users_at_level(company, "few", 3, "basic").await;
    env.db
        .execute(Statement::from_string(DbBackend::Postgres, "ANALYZE users"))
        .await
        .unwrap();
    let lookup = "SELECT id FROM users WHERE stytch_member_id = ANY(ARRAY['few-member-1'])";

    let plain = scimsync_db::connect(&env.settings.database).await.unwrap();
    let scanned = plan(&plain, lookup).await;
    assert!(
        scanned.contains("Seq Scan on users"),
        "the premise: a table analysed with three rows is scanned\n{scanned}"
    );

    let worker = scimsync_db::connect_worker(&env.settings.database)
        .await
        .unwrap();
    assert_eq!(setting(&worker, "enable_seqscan").await, "off");
    assert_eq!(setting(&worker, "synchronous_commit").await, "on");
    let probed = plan(&worker, lookup).await;
    assert!(
        probed.contains("Index") && !probed.contains("Seq Scan"),
        "a worker probes the index\n{probed}"
    );
    env.cleanup().await;
}
