//! Memberships: last writer wins per (group, member) by event timestamp; at equal timestamps a
//! removal wins, so the outcome never depends on arrival order. Removed memberships stay as
//! tombstones so an older "add" cannot resurrect them.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};
use uuid::Uuid;

/// Applies one membership change unless something newer is known.
pub async fn set(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    group_id: &str,
    member_id: &str,
    present: bool,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    // A newer full-state list already decided this membership: record its verdict first.
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO scim_group_memberships (company_id, idp_group_id, stytch_member_id, present, version)
         SELECT l.company_id, $2, l.stytch_member_id, $2 = ANY(l.group_ids), l.version
         FROM member_group_lists l
         WHERE l.company_id = $1 AND l.stytch_member_id = $3 AND l.version > $4
         ON CONFLICT DO NOTHING",
        [company_id.into(), group_id.into(), member_id.into(), at.into()],
    ))
    .await?;
    let result = txn
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO scim_group_memberships (company_id, idp_group_id, stytch_member_id, present, version)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (company_id, idp_group_id, stytch_member_id) DO UPDATE
                 SET present = EXCLUDED.present, version = EXCLUDED.version
                 WHERE (scim_group_memberships.version, NOT scim_group_memberships.present)
                     < (EXCLUDED.version, NOT EXCLUDED.present)",
            [company_id.into(), group_id.into(), member_id.into(), present.into(), at.into()],
        ))
        .await?;
    Ok(result.rows_affected() > 0)
}

/// A member's full-state group list at `at`: it is in exactly these groups. Returns false when
/// a newer list was already applied (nothing changes).
pub async fn sync_list(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    member_id: &str,
    group_ids: &[String],
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let newest = txn
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO member_group_lists (company_id, stytch_member_id, version, group_ids) VALUES ($1, $2, $3, $4)
             ON CONFLICT (company_id, stytch_member_id) DO UPDATE
                 SET version = EXCLUDED.version, group_ids = EXCLUDED.group_ids
                 WHERE member_group_lists.version < EXCLUDED.version",
            [company_id.into(), member_id.into(), at.into(), group_ids.to_vec().into()],
        ))
        .await?;
    if newest.rows_affected() == 0 {
        return Ok(false);
    }
    // Every group the list names, in one statement (sorted: rows are locked in that order).
    // No newer list exists (this one was just stored as the newest), so unlike `set` there is
    // no verdict of a newer list to record first.
    let mut sorted = group_ids.to_vec();
    sorted.sort();
    sorted.dedup();
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO scim_group_memberships (company_id, idp_group_id, stytch_member_id, present, version)
         SELECT $1, g.id, $2, true, $3 FROM unnest($4::text[]) WITH ORDINALITY AS g(id, n) ORDER BY g.n
         ON CONFLICT (company_id, idp_group_id, stytch_member_id) DO UPDATE
             SET present = EXCLUDED.present, version = EXCLUDED.version
             WHERE (scim_group_memberships.version, NOT scim_group_memberships.present)
                 < (EXCLUDED.version, NOT EXCLUDED.present)",
        [company_id.into(), member_id.into(), at.into(), sorted.into()],
    ))
    .await?;
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE scim_group_memberships SET present = false, version = $4
         WHERE company_id = $1 AND stytch_member_id = $2 AND NOT (idp_group_id = ANY($3))
           AND (version, NOT present) < ($4, true)",
        [
            company_id.into(),
            member_id.into(),
            group_ids.to_vec().into(),
            at.into(),
        ],
    ))
    .await?;
    Ok(true)
}

/// Groups each of these members is currently in (present memberships), as (member, group).
pub async fn current_groups_of(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    member_ids: &[String],
) -> Result<Vec<(String, String)>, DbErr> {
    let rows = txn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT stytch_member_id, idp_group_id FROM scim_group_memberships
             WHERE company_id = $1 AND stytch_member_id = ANY($2) AND present",
            [company_id.into(), member_ids.to_vec().into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("", "stytch_member_id")?,
                r.try_get("", "idp_group_id")?,
            ))
        })
        .collect()
}

/// Groups the member is currently in (present memberships).
pub async fn current_groups(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    member_id: &str,
) -> Result<Vec<String>, DbErr> {
    let rows = txn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT idp_group_id FROM scim_group_memberships WHERE company_id = $1 AND stytch_member_id = $2 AND present",
            [company_id.into(), member_id.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "idp_group_id"))
        .collect()
}
