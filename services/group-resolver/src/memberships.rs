//! Memberships: last writer wins per (group, member) by event timestamp; at equal timestamps a
//! removal wins, so the outcome never depends on arrival order. Removed memberships stay as
//! tombstones so an older "add" cannot resurrect them.

use chrono::{DateTime, Utc};
use scimsync_db::json_time;
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

/// Members' full-state group lists, each at its time: each member is in exactly its list's
/// groups, unless a newer list was applied already (nothing changes for it). Lists of distinct
/// members, in three statements whatever their number. Returns the members whose list was
/// applied.
pub async fn sync_lists(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    lists: &[(&str, &[String], DateTime<Utc>)],
) -> Result<std::collections::HashSet<String>, DbErr> {
    /// A member's list, as `jsonb_to_recordset` reads it.
    #[derive(serde::Serialize)]
    struct List<'a> {
        member: &'a str,
        version: String,
        group_ids: &'a [String],
    }
    /// A membership to hold: group, member, version.
    #[derive(serde::Serialize)]
    struct Join<'a> {
        g: &'a str,
        m: &'a str,
        v: String,
    }
    fn list<'a>(&(member, group_ids, at): &(&'a str, &'a [String], DateTime<Utc>)) -> List<'a> {
        List {
            member,
            version: json_time(at),
            group_ids,
        }
    }
    let rows: Vec<List<'_>> = lists.iter().map(list).collect();
    let applied = txn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO member_group_lists (company_id, stytch_member_id, version, group_ids)
             SELECT $1, r.member, r.version, r.group_ids
             FROM jsonb_to_recordset($2::text::jsonb) AS r(member text, version timestamptz, group_ids text[])
             ORDER BY r.member
             ON CONFLICT (company_id, stytch_member_id) DO UPDATE
                 SET version = EXCLUDED.version, group_ids = EXCLUDED.group_ids
                 WHERE member_group_lists.version < EXCLUDED.version
             RETURNING stytch_member_id",
            [company_id.into(), scimsync_db::json_rows(&rows)?],
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "stytch_member_id"))
        .collect::<Result<std::collections::HashSet<String>, DbErr>>()?;
    // Only the applied lists' memberships, in one order (group, then member) for every
    // transaction: rows are locked in that order.
    let mut joins: Vec<(&str, &str, DateTime<Utc>)> = Vec::new();
    let mut kept = Vec::new();
    let mut stale: Vec<(&str, &str)> = Vec::new();
    for entry in lists {
        let (member, groups, at) = entry;
        if !applied.contains(*member) {
            stale.extend(groups.iter().map(|g| (g.as_str(), *member)));
            continue;
        }
        joins.extend(groups.iter().map(|g| (g.as_str(), *member, *at)));
        kept.push(list(entry));
    }
    record_stale_groups(txn, company_id, stale).await?;
    if kept.is_empty() {
        return Ok(applied);
    }
    joins.sort();
    joins.dedup();
    let joins: Vec<Join<'_>> = joins
        .into_iter()
        .map(|(g, m, at)| Join {
            g,
            m,
            v: json_time(at),
        })
        .collect();
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO scim_group_memberships (company_id, idp_group_id, stytch_member_id, present, version)
         SELECT $1, r.g, r.m, true, r.v
         FROM jsonb_to_recordset($2::text::jsonb) AS r(g text, m text, v timestamptz)
         ORDER BY r.g COLLATE \"C\", r.m COLLATE \"C\"
         ON CONFLICT (company_id, idp_group_id, stytch_member_id) DO UPDATE
             SET present = EXCLUDED.present, version = EXCLUDED.version
             WHERE (scim_group_memberships.version, NOT scim_group_memberships.present)
                 < (EXCLUDED.version, NOT EXCLUDED.present)",
        [company_id.into(), scimsync_db::json_rows(&joins)?],
    ))
    .await?;
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        LEAVE,
        [company_id.into(), scimsync_db::json_rows(&kept)?],
    ))
    .await?;
    Ok(applied)
}

/// Groups named only by lists older than the member's newest: in timestamp order the member
/// joined them, then the newest list decided. Where no membership row exists yet (the newest
/// list came first), the row the newest list's verdict gives is recorded: a tombstone when the
/// newest list leaves the group. Without it, a member whose newest list is empty but who had
/// groups before would look like one that never had a group, and stay active (R9c) whenever
/// that list arrived before the older ones (R17).
async fn record_stale_groups(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    mut stale: Vec<(&str, &str)>,
) -> Result<(), DbErr> {
    if stale.is_empty() {
        return Ok(());
    }
    #[derive(serde::Serialize)]
    struct Named<'a> {
        g: &'a str,
        m: &'a str,
    }
    stale.sort();
    stale.dedup();
    let rows: Vec<Named<'_>> = stale.into_iter().map(|(g, m)| Named { g, m }).collect();
    txn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO scim_group_memberships (company_id, idp_group_id, stytch_member_id, present, version)
         SELECT $1, r.g, r.m, r.g = ANY(l.group_ids), l.version
         FROM jsonb_to_recordset($2::text::jsonb) AS r(g text, m text)
         JOIN member_group_lists l ON l.company_id = $1 AND l.stytch_member_id = r.m
         ORDER BY r.g COLLATE \"C\", r.m COLLATE \"C\"
         ON CONFLICT DO NOTHING",
        [company_id.into(), scimsync_db::json_rows(&rows)?],
    ))
    .await?;
    Ok(())
}

/// Each member's memberships through the (company, member) index, one member at a time: the
/// `OFFSET 0` keeps the planner from turning the loop into one scan of the company's
/// memberships, which it does for a company it has no statistics for yet (every company during
/// its first sync), reading all of them for every batch.
pub const CURRENT_GROUPS_OF: &str = "
SELECT m.stytch_member_id, m.idp_group_id
FROM unnest($2::text[]) AS k(member)
CROSS JOIN LATERAL (
    SELECT stytch_member_id, idp_group_id FROM scim_group_memberships
    WHERE company_id = $1 AND stytch_member_id = k.member AND present
    OFFSET 0
) m";

/// The memberships an applied list leaves (`$2`: JSON rows `member`, `version`, `group_ids`),
/// found member by member as in [`CURRENT_GROUPS_OF`] and updated by row id.
pub const LEAVE: &str = "
UPDATE scim_group_memberships m SET present = false, version = r.version
FROM jsonb_to_recordset($2::text::jsonb) AS r(member text, version timestamptz, group_ids text[])
CROSS JOIN LATERAL (
    SELECT ctid AS row_id FROM scim_group_memberships
    WHERE company_id = $1 AND stytch_member_id = r.member
    OFFSET 0
) x
WHERE m.ctid = x.row_id
  AND NOT (m.idp_group_id = ANY(r.group_ids))
  AND (m.version, NOT m.present) < (r.version, true)";

/// Groups each of these members is currently in (present memberships), as (member, group).
pub async fn current_groups_of(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    member_ids: &[String],
) -> Result<Vec<(String, String)>, DbErr> {
    let rows = txn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            CURRENT_GROUPS_OF,
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
