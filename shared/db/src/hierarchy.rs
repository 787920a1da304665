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

/// The concern that owns the manager links (`manager_links`): manager-linker's lock name and
/// event log concern.
pub const LINKER: &str = "manager-linker";

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

/// What [`connect`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connected {
    /// `user` is `manager` or one of its (indirect) managers: nothing changed.
    Cycle,
    /// `manager` is now the manager of `user`; `previous` was.
    Set { previous: Option<Uuid> },
}

/// The cycle check and the write in one statement: the walk up from the manager sees the
/// writes made earlier in the transaction. `UNION` stops the walk even on pre-existing bad data.
/// `FOR NO KEY UPDATE` is what the update itself takes: it changes no key, so other workers'
/// foreign-key checks on the user (an event log row, an org value) need not wait for the commit.
const CONNECT: &str = "
WITH RECURSIVE up(id) AS (
    SELECT $2::uuid
    UNION
    SELECT u.manager_id FROM users u JOIN up ON u.id = up.id WHERE u.manager_id IS NOT NULL
),
cycle AS (SELECT EXISTS (SELECT 1 FROM up WHERE id = $1) AS yes),
old AS (
    SELECT id, manager_id FROM users WHERE id = $1 AND NOT (SELECT yes FROM cycle)
    FOR NO KEY UPDATE
),
changed AS (
    UPDATE users u SET manager_id = $2, updated_at = now() FROM old WHERE u.id = old.id
    RETURNING old.manager_id AS previous
)
SELECT (SELECT yes FROM cycle) AS cycle, (SELECT previous FROM changed) AS previous";

/// Makes `manager` the manager of `user` unless that would close a loop (R14). Call it under
/// the company's hierarchy [`lock`].
pub async fn connect(
    txn: &DatabaseTransaction,
    user: Uuid,
    manager: Uuid,
) -> Result<Connected, DbErr> {
    let row = txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            CONNECT,
            [user.into(), manager.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the connect statement returned no row".into()))?;
    if row.try_get::<bool>("", "cycle")? {
        return Ok(Connected::Cycle);
    }
    Ok(Connected::Set {
        previous: row.try_get::<Option<Uuid>>("", "previous")?,
    })
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
             FROM (SELECT id, manager_id FROM users WHERE id = $1 FOR NO KEY UPDATE) old
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
        // The link's own lock first (manager-linker takes it to change the link), then the
        // member's.
        let members = [member_id.to_owned()];
        access::lock_concern(&txn, LINKER, &members).await?;
        access::lock_members(&txn, &members).await?;
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
