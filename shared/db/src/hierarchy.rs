//! Changing who reports to whom, safely: one company's hierarchy changes are serialised by a
//! transaction-scoped advisory lock, and the cycle check runs inside the same transaction,
//! after the lock, so two concurrent assignments A→B and B→A cannot both succeed (R14).
//! A first sync is mostly first assignments of people nobody reports to yet, which cannot
//! close a loop: those take row locks only ([`unlinked_leaf`]), so one company's links do not
//! all queue on its lock.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::access;
use crate::entity::manager_link;

/// Serialises hierarchy changes of one company until the transaction ends. Always taken after
/// the member locks, never before, so lock order is the same everywhere.
pub async fn lock(txn: &DatabaseTransaction, company_id: Uuid) -> Result<(), DbErr> {
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [format!("hierarchy:{company_id}").into()],
    ))
    .await?;
    Ok(())
}

/// The fast path of a first assignment, without the company lock: `user` has no manager yet
/// and nobody reports to it, so no assignment of it can close a loop (R14), and no previous
/// manager's level needs recomputing. Returns false when the caller must take [`lock`] and run
/// [`would_cycle`] instead.
///
/// Why it is safe next to concurrent assignments: the user's row is locked `FOR UPDATE` first,
/// and giving anyone a report takes `FOR KEY SHARE` on that manager's row (the foreign key
/// check of `users.manager_id`, and [`hold_manager`] before a cycle check), so no report can
/// appear for `user` between this check and the commit. The check runs after the row lock, in
/// a statement of its own, so it sees whatever committed while it waited.
pub async fn unlinked_leaf(
    txn: &DatabaseTransaction,
    user: Uuid,
    manager: Uuid,
) -> Result<bool, DbErr> {
    if user == manager {
        return Ok(false);
    }
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT manager_id IS NULL AS unlinked FROM users WHERE id = $1 FOR UPDATE",
            [user.into()],
        ))
        .await?;
    let unlinked = match row {
        Some(row) => row.try_get::<bool>("", "unlinked")?,
        None => return Ok(false),
    };
    if !unlinked {
        return Ok(false);
    }
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT NOT EXISTS (SELECT 1 FROM users WHERE manager_id = $1) AS leaf",
            [user.into()],
        ))
        .await?;
    match row {
        Some(row) => row.try_get::<bool>("", "leaf"),
        None => Ok(false),
    }
}

/// Before a cycle check under [`lock`]: the new manager's row `FOR KEY SHARE`, so an
/// [`unlinked_leaf`] fast path for that manager cannot run at the same time (it would not see
/// the report about to be added, nor this check its new link).
pub async fn hold_manager(txn: &DatabaseTransaction, manager: Uuid) -> Result<(), DbErr> {
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE",
        [manager.into()],
    ))
    .await?;
    Ok(())
}

/// True if making `manager` the manager of `user` would close a loop: `user` is `manager` or
/// one of its (indirect) managers. `UNION` stops the walk even on pre-existing bad data.
pub async fn would_cycle(
    txn: &DatabaseTransaction,
    user: Uuid,
    manager: Uuid,
) -> Result<bool, DbErr> {
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH RECURSIVE up(id) AS (
                 SELECT $1::uuid
                 UNION
                 SELECT u.manager_id FROM users u JOIN up ON u.id = up.id WHERE u.manager_id IS NOT NULL
             )
             SELECT EXISTS (SELECT 1 FROM up WHERE id = $2) AS cycle",
            [manager.into(), user.into()],
        ))
        .await?;
    match row {
        Some(row) => row.try_get::<bool>("", "cycle"),
        None => Ok(false),
    }
}

/// Sets the manager; returns the previous one.
pub async fn set_manager(
    txn: &DatabaseTransaction,
    user: Uuid,
    manager: Option<Uuid>,
) -> Result<Option<Uuid>, DbErr> {
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE users u SET manager_id = $2, updated_at = now()
             FROM (SELECT id, manager_id FROM users WHERE id = $1 FOR UPDATE) old
             WHERE u.id = old.id
             RETURNING old.manager_id AS previous",
            [user.into(), manager.into()],
        ))
        .await?;
    match row {
        Some(row) => row.try_get::<Option<Uuid>>("", "previous"),
        None => Ok(None),
    }
}

/// `DELETE .../users/{id}/manager`: the admin's local clear, which later events carrying the
/// same (stale) value leave alone. Returns the previous manager.
pub async fn clear_locally(
    db: &DatabaseConnection,
    company_id: Uuid,
    user_id: Uuid,
    member_id: Option<&str>,
) -> Result<Option<Uuid>, DbErr> {
    let txn = db.begin().await?;
    if let Some(member_id) = member_id {
        access::lock_members(&txn, &[member_id.to_owned()]).await?;
    }
    lock(&txn, company_id).await?;
    let previous = set_manager(&txn, user_id, None).await?;
    if let Some(member_id) = member_id {
        manager_link::Entity::update_many()
            .col_expr(
                manager_link::Column::Status,
                sea_orm::sea_query::Expr::value("cleared_locally"),
            )
            .filter(manager_link::Column::CompanyId.eq(company_id))
            .filter(manager_link::Column::StytchMemberId.eq(member_id))
            .exec(&txn)
            .await?;
    }
    if let Some(previous) = previous {
        access::refresh(&txn, &[previous]).await?;
    }
    txn.commit().await?;
    Ok(previous)
}
