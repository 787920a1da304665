//! Changing who reports to whom, safely: one company's hierarchy changes are serialised by a
//! transaction-scoped advisory lock, and the cycle check runs inside the same transaction,
//! after the lock, so two concurrent assignments A→B and B→A cannot both succeed (R14).

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
