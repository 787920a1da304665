//! Who may do what: a user's activity and permission level, derived from every input that
//! feeds them (R9, R12). Any worker that changes an input calls [`refresh`] for the users it
//! touched, inside its transaction and holding the member locks ([`lock_members`]), so the
//! result never depends on which worker ran first.
//!
//! Lock order, everywhere: a concern's own member locks ([`lock_concern`]), group locks, member
//! locks ([`lock_members`]), the company's hierarchy lock.
//!
//! - active = the member's own events say active (`scim_active`, R9 a/b, R10) and the member has
//!   not lost every group membership it had (`groups_lost_at`, R9 c/d). A member that never had
//!   a group stays active.
//! - level = the highest of: Admin (default admin group), Full Access (default full-access
//!   group), each custom group's level, Manager (at least one active direct report), Basic.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};
use uuid::Uuid;

mod locks;

pub use locks::{
    lock_concern, lock_concern_of, lock_group, lock_groups_shared, lock_members, lock_members_of,
    lock_stytch_members,
};

/// What changed for one user.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult, serde::Serialize)]
pub struct Change {
    pub user_id: Uuid,
    pub active_before: bool,
    pub active_after: bool,
    pub level_before: String,
    pub level_after: String,
}

impl Change {
    pub fn deactivated(&self) -> bool {
        self.active_before && !self.active_after
    }

    pub fn reactivated(&self) -> bool {
        !self.active_before && self.active_after
    }

    pub fn level_changed(&self) -> bool {
        self.level_before != self.level_after
    }
}

/// What a group grants as a rank, for the highest to win (R12): the default groups by their
/// kind, a custom group by its level. `$g` is the SQL alias of `scim_groups`. Written once for
/// both statements below; [`level_of!`] turns the highest rank back into the level's name.
macro_rules! group_rank {
    ($g:literal) => {
        concat!(
            "CASE WHEN ",
            $g,
            ".kind = 'default_admin' THEN 4",
            " WHEN ",
            $g,
            ".kind = 'default_full_access' THEN 3",
            " WHEN ",
            $g,
            ".permission_level = 'admin' THEN 4",
            " WHEN ",
            $g,
            ".permission_level = 'full_access' THEN 3",
            " WHEN ",
            $g,
            ".permission_level = 'manager' THEN 2",
            " ELSE 1 END"
        )
    };
}

/// The level of a user whose best group ranks `$group_rank` (SQL, NULL for no group): the
/// highest of that rank, Manager for a user with an active direct report (alias `u`), and Basic.
macro_rules! level_of {
    ($group_rank:expr) => {
        concat!(
            "CASE GREATEST(COALESCE(",
            $group_rank,
            ", 1),",
            " CASE WHEN EXISTS (SELECT 1 FROM users r WHERE r.manager_id = u.id AND r.active)",
            " THEN 2 ELSE 1 END)",
            " WHEN 4 THEN 'admin' WHEN 3 THEN 'full_access' WHEN 2 THEN 'manager' ELSE 'basic' END"
        )
    };
}

/// Activity and level of the target users in one statement. A target's level counts its
/// reports' activity as it was before this statement: [`refresh`] recomputes the levels of the
/// managers of anyone whose activity flipped afterwards ([`LEVELS`]). Only records whose values
/// change are written: most refreshes (a new record, a manager gaining another report, a list
/// of default groups) change nothing, and an unchanged record is not given a new version.
const ACCESS: &str = concat!(
    "
WITH computed AS (
    SELECT u.id, u.active AS active_before, u.permission_level AS level_before, u.scim_active,
           u.scim_deactivated_at,
           CASE WHEN g.had_any AND g.effective = 0 THEN g.last_change END AS lost_at,
           ",
    level_of!("g.group_level"),
    " AS level_after
    FROM users u
    CROSS JOIN LATERAL (
        SELECT count(*) > 0 AS had_any,
               count(*) FILTER (WHERE m.present AND NOT COALESCE(sg.deleted, false)) AS effective,
               GREATEST(max(m.version), max(sg.deleted_at)) AS last_change,
               max(CASE WHEN m.present AND sg.id IS NOT NULL AND NOT sg.deleted THEN ",
    group_rank!("sg"),
    " END) AS group_level
        FROM scim_group_memberships m
        LEFT JOIN scim_groups sg ON sg.company_id = m.company_id AND sg.idp_group_id = m.idp_group_id
        WHERE m.company_id = u.company_id AND m.stytch_member_id = u.member_key
    ) g
    WHERE u.id = ANY($1)
),
target AS (
    SELECT c.*, c.scim_active AND c.lost_at IS NULL AS active_after,
           CASE
               WHEN c.scim_active AND c.lost_at IS NULL THEN NULL
               ELSE LEAST(CASE WHEN NOT c.scim_active THEN c.scim_deactivated_at END, c.lost_at)
           END AS deactivated_after
    FROM computed c
)
UPDATE users u SET
    groups_lost_at = t.lost_at,
    active = t.active_after,
    deactivated_at = t.deactivated_after,
    permission_level = t.level_after,
    updated_at = CASE WHEN u.permission_level <> t.level_after THEN now() ELSE u.updated_at END
FROM target t
WHERE u.id = t.id
  AND (u.groups_lost_at IS DISTINCT FROM t.lost_at
       OR u.active IS DISTINCT FROM t.active_after
       OR u.deactivated_at IS DISTINCT FROM t.deactivated_after
       OR u.permission_level IS DISTINCT FROM t.level_after)
RETURNING u.id AS user_id, t.active_before, u.active AS active_after,
          t.level_before, u.permission_level AS level_after"
);

const LEVELS: &str = concat!(
    "
WITH target AS (
    SELECT u.id, u.permission_level AS level_before,
           ",
    level_of!(concat!(
        "(SELECT max(",
        group_rank!("g"),
        ")
                   FROM scim_group_memberships m
                   JOIN scim_groups g ON g.company_id = m.company_id AND g.idp_group_id = m.idp_group_id
                   WHERE m.company_id = u.company_id AND m.stytch_member_id = u.member_key
                     AND m.present AND NOT g.deleted)"
    )),
    " AS level_after
    FROM users u
    WHERE u.id = ANY($1)
)
UPDATE users u SET permission_level = t.level_after, updated_at = now()
FROM target t
WHERE u.id = t.id AND u.permission_level <> t.level_after
RETURNING u.id AS user_id, t.level_before, t.level_after"
);

#[derive(Debug, FromQueryResult)]
struct LevelRow {
    user_id: Uuid,
    level_before: String,
    level_after: String,
}

#[derive(Debug, FromQueryResult)]
struct IdRow {
    id: Uuid,
}

/// Recomputes activity and level for `user_ids` (one statement), then the level of the managers
/// of anyone whose activity changed (they may gain or lose their last active report). Returns
/// what changed.
pub async fn refresh(conn: &impl ConnectionTrait, user_ids: &[Uuid]) -> Result<Vec<Change>, DbErr> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut changes = Change::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        ACCESS,
        [user_ids.to_vec().into()],
    ))
    .all(conn)
    .await?;
    let flipped: Vec<Uuid> = changes
        .iter()
        .filter(|c| c.active_before != c.active_after)
        .map(|c| c.user_id)
        .collect();
    if flipped.is_empty() {
        changes.retain(|c| c.active_before != c.active_after || c.level_changed());
        return Ok(changes);
    }
    let managers: Vec<Uuid> = IdRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT DISTINCT manager_id AS id FROM users WHERE id = ANY($1) AND manager_id IS NOT NULL",
        [flipped.into()],
    ))
    .all(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect();
    let levels = refresh_levels(conn, &managers).await?;
    for row in levels {
        match changes.iter_mut().find(|c| c.user_id == row.user_id) {
            Some(change) => change.level_after = row.level_after,
            None => changes.push(Change {
                user_id: row.user_id,
                active_before: true,
                active_after: true,
                level_before: row.level_before,
                level_after: row.level_after,
            }),
        }
    }
    changes.retain(|c| c.active_before != c.active_after || c.level_changed());
    Ok(changes)
}

/// Refreshes `user_ids` in a transaction of its own that first takes their member locks, so the
/// refresh reads every input another worker committed under those locks. For users whose level
/// a transaction changed without holding their locks (a manager gaining or losing a report):
/// call it once that transaction has committed. A worker that changed the user's groups
/// meanwhile, and refreshed it from a snapshot without that transaction's change, has committed
/// by the time the lock is granted; one that takes the lock later sees the change.
pub async fn refresh_under_locks(
    db: &sea_orm::DatabaseConnection,
    user_ids: &[Uuid],
) -> Result<Vec<Change>, DbErr> {
    use sea_orm::TransactionTrait;
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let txn = db.begin().await?;
    let members: Vec<(Uuid, String)> =
        CompanyMemberRow::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT company_id, member_key AS stytch_member_id FROM users
             WHERE id = ANY($1) AND member_key IS NOT NULL",
            [user_ids.to_vec().into()],
        ))
        .all(&txn)
        .await?
        .into_iter()
        .map(|r| (r.company_id, r.stytch_member_id))
        .collect();
    lock_members_of(&txn, &members).await?;
    let changes = refresh(&txn, user_ids).await?;
    txn.commit().await?;
    Ok(changes)
}

/// Recomputes permission levels only (a custom group's level changed, a report moved).
async fn refresh_levels(
    conn: &impl ConnectionTrait,
    user_ids: &[Uuid],
) -> Result<Vec<LevelRow>, DbErr> {
    LevelRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        LEVELS,
        [user_ids.to_vec().into()],
    ))
    .all(conn)
    .await
}

/// Key first, company after (see migration 000003): a new company's lookups stay index lookups
/// before ANALYZE has seen it. `$1` company, `$2` member ids.
pub const USERS_OF_MEMBERS: &str =
    "WITH found AS MATERIALIZED (SELECT id, company_id, member_key AS stytch_member_id FROM users WHERE member_key = ANY($2))
     SELECT stytch_member_id, id FROM found WHERE company_id = $1";

/// The users of a company behind these Stytch member ids.
pub async fn users_of_members(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    member_ids: &[String],
) -> Result<Vec<Uuid>, DbErr> {
    let users = users_by_member(conn, company_id, member_ids).await?;
    Ok(users.into_iter().map(|(_, id)| id).collect())
}

#[derive(Debug, FromQueryResult)]
struct MemberUserRow {
    stytch_member_id: String,
    id: Uuid,
}

/// [`users_of_members`], each user with its member id.
pub async fn users_by_member(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    member_ids: &[String],
) -> Result<Vec<(String, Uuid)>, DbErr> {
    let rows = MemberUserRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        USERS_OF_MEMBERS,
        [company_id.into(), member_ids.to_vec().into()],
    ))
    .all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.stytch_member_id, r.id))
        .collect())
}

#[derive(Debug, FromQueryResult)]
struct MemberRow {
    stytch_member_id: String,
}

#[derive(Debug, FromQueryResult)]
struct CompanyMemberRow {
    company_id: Uuid,
    stytch_member_id: String,
}

/// Refreshes every user with a membership row in the group, in chunks, each chunk in its own
/// short transaction holding those members' locks. Call it after the group-level change (a
/// deletion, a rename, a new custom level) has committed: any member transaction that read the
/// old group state finishes before its member is refreshed here, so nothing stays stale, and
/// no transaction ever holds a group row while waiting for member locks (no deadlock).
pub async fn refresh_group_members(
    db: &sea_orm::DatabaseConnection,
    company_id: Uuid,
    idp_group_id: &str,
) -> Result<Vec<Change>, DbErr> {
    use sea_orm::TransactionTrait;
    let members: Vec<String> = MemberRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT DISTINCT stytch_member_id FROM scim_group_memberships
         WHERE company_id = $1 AND idp_group_id = $2 ORDER BY 1",
        [company_id.into(), idp_group_id.into()],
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|r| r.stytch_member_id)
    .collect();
    let mut changes = Vec::new();
    for chunk in members.chunks(500) {
        let txn = db.begin().await?;
        lock_members(&txn, company_id, chunk).await?;
        let users = users_of_members(&txn, company_id, chunk).await?;
        changes.extend(refresh(&txn, &users).await?);
        txn.commit().await?;
    }
    Ok(changes)
}
