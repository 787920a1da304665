//! Group rows: created on first sight (from any event that names the group), renamed and
//! deleted by `scim.idp_group.*` events, last writer wins by event timestamp.

use chrono::{DateTime, Utc};
use scimsync_db::entity::scim_group;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, QuerySelect, Set, Statement,
};
use uuid::Uuid;

use crate::kind::DefaultGroups;

/// Makes sure rows exist for these groups (sorted, so concurrent inserts never deadlock) and
/// fills a missing display name. Returns the groups whose kind changed (a default group first
/// recognised by name): their members' levels need a refresh.
pub async fn ensure(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    groups: &[(String, Option<String>)],
    names: &DefaultGroups,
) -> Result<Vec<String>, DbErr> {
    let mut sorted: Vec<&(String, Option<String>)> = groups.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    // Almost always every group exists and has its name: then a plain read is enough. The
    // upsert below locks the group's row even when it changes nothing, and every member of a
    // company names the same few groups, so locking them serialised the company's events.
    let ids: Vec<String> = sorted.iter().map(|(id, _)| id.clone()).collect();
    let settled: std::collections::HashSet<String> = txn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT idp_group_id, display_name IS NOT NULL AS named FROM scim_groups
             WHERE company_id = $1 AND idp_group_id = ANY($2)",
            [company_id.into(), ids.into()],
        ))
        .await?
        .into_iter()
        .filter_map(|row| {
            let id: String = row.try_get("", "idp_group_id").ok()?;
            let named: bool = row.try_get("", "named").ok()?;
            Some((id, named))
        })
        .filter(|(id, named)| {
            // Nothing to do unless the row lacks a name this event can give it.
            *named || !sorted.iter().any(|(g, n)| g == id && n.is_some())
        })
        .map(|(id, _)| id)
        .collect();
    let mut kind_changed = Vec::new();
    for (group_id, name) in sorted.into_iter().filter(|(g, _)| !settled.contains(g)) {
        let kind = names.kind(name.as_deref());
        let result = txn
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO scim_groups (id, company_id, idp_group_id, display_name, kind) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (company_id, idp_group_id) DO UPDATE
                     SET display_name = EXCLUDED.display_name, kind = EXCLUDED.kind
                     WHERE scim_groups.display_name IS NULL AND EXCLUDED.display_name IS NOT NULL",
                [Uuid::now_v7().into(), company_id.into(), group_id.clone().into(), name.clone().into(), kind.into()],
            ))
            .await?;
        if result.rows_affected() > 0 && kind != "custom" {
            kind_changed.push(group_id.clone());
        }
    }
    Ok(kind_changed)
}

/// The group row, created if needed, locked for the rest of the transaction.
pub async fn lock(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    group_id: &str,
    name: Option<&str>,
    names: &DefaultGroups,
) -> Result<scim_group::Model, DbErr> {
    ensure(
        txn,
        company_id,
        &[(group_id.to_owned(), name.map(str::to_owned))],
        names,
    )
    .await?;
    scim_group::Entity::find()
        .filter(scim_group::Column::CompanyId.eq(company_id))
        .filter(scim_group::Column::IdpGroupId.eq(group_id))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("group {group_id} vanished")))
}

/// What a group event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    Created,
    Updated { members_need_refresh: bool },
    Deleted { automations_removed: u64 },
    IgnoredDefaultDelete,
    Stale,
}

/// `scim.idp_group.create|update`: rename (and undelete) if this is the newest event.
pub async fn upsert(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    group_id: &str,
    name: Option<&str>,
    at: DateTime<Utc>,
    names: &DefaultGroups,
) -> Result<GroupChange, DbErr> {
    let group = lock(txn, company_id, group_id, name, names).await?;
    if group.version.is_some_and(|v| v >= at) {
        return Ok(GroupChange::Stale);
    }
    let first = group.version.is_none();
    let display_name = name.map(str::to_owned).or(group.display_name.clone());
    let kind = names.kind(display_name.as_deref());
    let members_need_refresh = kind != group.kind || group.deleted;
    let mut row: scim_group::ActiveModel = group.into();
    row.display_name = Set(display_name);
    row.kind = Set(kind.to_owned());
    row.deleted = Set(false);
    row.deleted_at = Set(None);
    row.version = Set(Some(at));
    row.update(txn).await?;
    Ok(if first {
        GroupChange::Created
    } else {
        GroupChange::Updated {
            members_need_refresh,
        }
    })
}

/// `scim.idp_group.delete`: a ghost group (R12). Default groups are never deleted this way;
/// a custom group's career automations go with it.
pub async fn delete(
    txn: &DatabaseTransaction,
    company_id: Uuid,
    group_id: &str,
    name: Option<&str>,
    at: DateTime<Utc>,
    names: &DefaultGroups,
) -> Result<GroupChange, DbErr> {
    let group = lock(txn, company_id, group_id, name, names).await?;
    if names.kind(group.display_name.as_deref().or(name)) != "custom" {
        return Ok(GroupChange::IgnoredDefaultDelete);
    }
    if group.version.is_some_and(|v| v > at) {
        return Ok(GroupChange::Stale);
    }
    let id = group.id;
    let mut row: scim_group::ActiveModel = group.into();
    row.deleted = Set(true);
    row.deleted_at = Set(Some(at));
    row.version = Set(Some(at));
    row.update(txn).await?;
    let removed = txn
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM career_automations WHERE group_id = $1",
            [id.into()],
        ))
        .await?;
    Ok(GroupChange::Deleted {
        automations_removed: removed.rows_affected(),
    })
}
