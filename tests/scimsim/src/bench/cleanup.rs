//! Each run's company is deleted once the run is over, with everything the workers wrote for
//! it, and the tables vacuumed: every run then meets the same database, instead of one grown by
//! the runs before it (a benchmark leaves about 4 GB otherwise, and the runs slow down with it).

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

/// Child tables first; `$1` is the company id.
const PURGE: &[&str] = &[
    "DELETE FROM member_events WHERE company_id = $1",
    "DELETE FROM scim_event_log WHERE company_id = $1",
    "DELETE FROM manager_links WHERE company_id = $1",
    "DELETE FROM member_group_lists WHERE company_id = $1",
    "DELETE FROM scim_group_memberships WHERE company_id = $1",
    "DELETE FROM career_automations WHERE company_id = $1",
    "DELETE FROM scim_groups WHERE company_id = $1",
    "DELETE FROM user_org_attributes WHERE user_id IN (SELECT id FROM users WHERE company_id = $1)",
    "UPDATE users SET manager_id = NULL WHERE company_id = $1 AND manager_id IS NOT NULL",
    "DELETE FROM users WHERE company_id = $1",
    "DELETE FROM org_schema_entries WHERE company_id = $1",
    // The SCIM service's rows (its directory goes with the company, ON DELETE CASCADE).
    "DELETE FROM scim_outbox WHERE company_id = $1",
    "DELETE FROM companies WHERE id = $1",
];

const TABLES: &[&str] = &[
    "member_events",
    "scim_event_log",
    "manager_links",
    "member_group_lists",
    "scim_group_memberships",
    "user_org_attributes",
    "users",
    "directory_users",
    "scim_outbox",
];

/// Deletes the company and all its rows, in one transaction, then vacuums.
pub async fn purge(db: &DatabaseConnection, company: Uuid) -> anyhow::Result<()> {
    delete(db, company).await?;
    vacuum(db).await
}

/// Deletes the company and all its rows, in one transaction (several companies, then one
/// [`vacuum`]).
pub async fn delete(db: &DatabaseConnection, company: Uuid) -> anyhow::Result<()> {
    let txn = db.begin().await?;
    for sql in PURGE {
        txn.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            *sql,
            [company.into()],
        ))
        .await
        .with_context(|| format!("purging company {company}: {sql}"))?;
    }
    txn.commit().await?;
    Ok(())
}

/// `VACUUM ANALYZE` of the tables a run fills, so autovacuum does not run during the next one.
pub async fn vacuum(db: &DatabaseConnection) -> anyhow::Result<()> {
    for table in TABLES {
        db.execute_unprepared(&format!("VACUUM ANALYZE {table}"))
            .await
            .with_context(|| format!("VACUUM ANALYZE {table}"))?;
    }
    Ok(())
}
