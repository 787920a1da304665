//! Changing who reports to whom, safely: one company's hierarchy changes are serialised by a
//! transaction-scoped advisory lock, and the cycle check runs inside the same transaction,
//! after the lock, so two concurrent assignments A→B and B→A cannot both succeed (R14).

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, Statement, TransactionTrait,
};
use uuid::Uuid;

use scimsync_schema::Concern;

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

/// What [`connect`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connected {
    /// `user` is `manager` or one of its (indirect) managers: nothing changed.
    Cycle,
    /// `manager` is now the manager of `user`; `previous` was.
    Set { previous: Option<Uuid> },
}

/// The manager of each of `$1`'s users and of every user above them, up to the top. `UNION`
/// stops the walk even on pre-existing bad data (a loop).
const CHAINS: &str = "
WITH RECURSIVE up(id, manager_id) AS (
    SELECT id, manager_id FROM users WHERE id = ANY($1::uuid[])
    UNION
    SELECT u.id, u.manager_id FROM users u JOIN up ON u.id = up.manager_id
)
SELECT id, manager_id FROM up";

/// The new managers, written in one statement. The update takes each record's
/// `FOR NO KEY UPDATE` lock: it changes no key, so other workers' foreign-key checks on the
/// user (an event log row, an org value) need not wait for the commit.
const SET_MANAGERS: &str = "
UPDATE users u SET manager_id = v.manager_id, updated_at = now()
FROM unnest($1::uuid[], $2::uuid[]) AS v(id, manager_id)
WHERE u.id = v.id";

/// Makes each pair's manager the manager of its user, in order, unless that would close a loop
/// (R14): one read of the hierarchy above the pairs, the cycle checks in memory (each one sees
/// the pairs set before it), one write. Call it under the company's hierarchy [`lock`], which
/// every change of a manager takes, so the hierarchy read cannot change before the write.
pub async fn connect_all(
    txn: &DatabaseTransaction,
    pairs: &[(Uuid, Uuid)],
) -> Result<Vec<Connected>, DbErr> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let mut starts: Vec<Uuid> = pairs.iter().flat_map(|(u, m)| [*u, *m]).collect();
    starts.sort_unstable();
    starts.dedup();
    let rows = txn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            CHAINS,
            [starts.into()],
        ))
        .await?;
    let mut managers: HashMap<Uuid, Option<Uuid>> = HashMap::with_capacity(rows.len());
    for row in rows {
        managers.insert(row.try_get("", "id")?, row.try_get("", "manager_id")?);
    }
    let (connected, writes) = plan(&mut managers, pairs);
    if !writes.is_empty() {
        let (ids, new): (Vec<Uuid>, Vec<Uuid>) = writes.into_iter().unzip();
        txn.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            SET_MANAGERS,
            [ids.into(), new.into()],
        ))
        .await?;
    }
    Ok(connected)
}

/// The cycle checks of [`connect_all`] over `managers` (user → manager, for every user the
/// walks can meet), which it updates as pairs are set; and the records to write, one per user.
fn plan(
    managers: &mut HashMap<Uuid, Option<Uuid>>,
    pairs: &[(Uuid, Uuid)],
) -> (Vec<Connected>, Vec<(Uuid, Uuid)>) {
    let mut connected = Vec::with_capacity(pairs.len());
    let mut writes: Vec<(Uuid, Uuid)> = Vec::new();
    for &(user, manager) in pairs {
        if closes_loop(managers, user, manager) {
            connected.push(Connected::Cycle);
            continue;
        }
        // A user with no record has nothing to change (the statement before this one updated
        // no row for it either).
        let Some(previous) = managers.get(&user).copied() else {
            connected.push(Connected::Set { previous: None });
            continue;
        };
        if previous != Some(manager) {
            managers.insert(user, Some(manager));
            writes.retain(|(id, _)| *id != user);
            writes.push((user, manager));
        }
        connected.push(Connected::Set { previous });
    }
    (connected, writes)
}

/// Whether `user` is `manager` or one of its (indirect) managers.
fn closes_loop(managers: &HashMap<Uuid, Option<Uuid>>, user: Uuid, manager: Uuid) -> bool {
    let mut seen = HashSet::new();
    let mut at = Some(manager);
    while let Some(node) = at {
        if node == user {
            return true;
        }
        if !seen.insert(node) {
            // A loop already in the data, which `user` is not on.
            return false;
        }
        at = managers.get(&node).copied().flatten();
    }
    false
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
        access::lock_concern(&txn, Concern::ManagerLinker, company_id, &members).await?;
        access::lock_members(&txn, company_id, &members).await?;
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
    // The previous manager's level, again under its member lock: this transaction did not hold
    // it, and a worker may have changed that user's groups meanwhile (see
    // `access::refresh_under_locks`). The clear is committed either way, so a failure here is
    // logged, not returned.
    if let Some(previous) = previous {
        if let Err(error) = access::refresh_under_locks(db, &[previous]).await {
            tracing::warn!(%error, user_id = %previous, "could not refresh the previous manager again");
        }
    }
    Ok(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids<const N: usize>() -> [Uuid; N] {
        std::array::from_fn(|_| Uuid::new_v4())
    }

    #[test]
    fn each_pair_sees_the_pairs_set_before_it() {
        let [a, b, c] = ids();
        let mut managers = HashMap::from([(a, None), (b, None), (c, None)]);
        // a → b, b → c, then c → a would close a → b → c → a.
        let (connected, writes) = plan(&mut managers, &[(a, b), (b, c), (c, a)]);
        assert_eq!(
            connected,
            [
                Connected::Set { previous: None },
                Connected::Set { previous: None },
                Connected::Cycle
            ]
        );
        assert_eq!(writes, [(a, b), (b, c)]);
        assert_eq!(managers[&c], None, "the skipped pair changed nothing");
    }

    #[test]
    fn opposite_pairs_in_one_batch_set_only_the_first() {
        let [a, b] = ids();
        let mut managers = HashMap::from([(a, None), (b, None)]);
        let (connected, writes) = plan(&mut managers, &[(a, b), (b, a)]);
        assert_eq!(connected[1], Connected::Cycle);
        assert_eq!(writes, [(a, b)]);
    }

    #[test]
    fn a_user_cannot_manage_themselves_or_a_manager_above() {
        let [a, b, top] = ids();
        let mut managers = HashMap::from([(a, Some(b)), (b, Some(top)), (top, None)]);
        let (connected, writes) = plan(&mut managers, &[(a, a), (top, a)]);
        assert_eq!(connected, [Connected::Cycle, Connected::Cycle]);
        assert!(writes.is_empty());
    }

    #[test]
    fn the_previous_manager_is_returned_and_an_unchanged_one_is_not_written() {
        let [a, b, c] = ids();
        let mut managers = HashMap::from([(a, Some(b)), (b, None), (c, None)]);
        let (connected, writes) = plan(&mut managers, &[(a, b)]);
        assert_eq!(connected, [Connected::Set { previous: Some(b) }]);
        assert!(writes.is_empty());
        let (connected, writes) = plan(&mut managers, &[(a, c)]);
        assert_eq!(connected, [Connected::Set { previous: Some(b) }]);
        assert_eq!(writes, [(a, c)]);
    }

    #[test]
    fn a_user_set_twice_is_written_once_with_the_last_manager() {
        let [a, b, c] = ids();
        let mut managers = HashMap::from([(a, None), (b, None), (c, None)]);
        let (connected, writes) = plan(&mut managers, &[(a, b), (a, c)]);
        assert_eq!(connected[1], Connected::Set { previous: Some(b) });
        assert_eq!(writes, [(a, c)]);
    }

    #[test]
    fn a_loop_already_in_the_data_ends_the_walk() {
        let [a, b, c] = ids();
        // b and c manage each other (bad data from before); a joins under b.
        let mut managers = HashMap::from([(a, None), (b, Some(c)), (c, Some(b))]);
        let (connected, writes) = plan(&mut managers, &[(a, b)]);
        assert_eq!(connected, [Connected::Set { previous: None }]);
        assert_eq!(writes, [(a, b)]);
    }

    #[test]
    fn a_user_without_a_record_changes_nothing() {
        let [a, b] = ids();
        let mut managers = HashMap::from([(b, None)]);
        let (connected, writes) = plan(&mut managers, &[(a, b)]);
        assert_eq!(connected, [Connected::Set { previous: None }]);
        assert!(writes.is_empty());
    }
}
