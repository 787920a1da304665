//! `directory_groups` and `directory_group_members`: Group resources (with `displayName` and
//! `externalId` in columns of their own) and their members, one row per membership, so adding
//! a member to a large group never rewrites the group.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};
use serde_json::Value;
use uuid::Uuid;

use super::{text, Lock, Row, NEXT_MODIFIED, ROW};

/// A group's Group resource (without members), if it is one of the company's.
pub async fn get(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
    lock: Lock,
) -> Result<Option<Row>, DbErr> {
    let sql = format!(
        "SELECT {ROW} FROM directory_groups WHERE id = $1 AND company_id = $2{}",
        lock.sql()
    );
    Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [id.into(), company_id.into()],
    ))
    .one(conn)
    .await
}

fn columns(resource: &Value) -> (String, Option<String>) {
    (
        text(resource, "displayName").unwrap_or_default(),
        text(resource, "externalId"),
    )
}

pub async fn insert(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
    resource: &Value,
) -> Result<Row, DbErr> {
    let (display_name, external_id) = columns(resource);
    let sql = format!(
        "INSERT INTO directory_groups (id, company_id, display_name, external_id, resource)
         VALUES ($1, $2, $3, $4, $5) RETURNING {ROW}"
    );
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            id.into(),
            company_id.into(),
            display_name.into(),
            external_id.into(),
            resource.clone().into(),
        ],
    ))
    .one(conn)
    .await?;
    row.ok_or_else(|| DbErr::RecordNotInserted)
}

/// Replaces a group's resource (its members are written apart), with a new version and
/// modification time: also when only its members changed.
pub async fn update(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
    resource: &Value,
) -> Result<Row, DbErr> {
    let (display_name, external_id) = columns(resource);
    let sql = format!(
        "UPDATE directory_groups SET display_name = $3, external_id = $4, resource = $5,
                version = version + 1, last_modified = {NEXT_MODIFIED}
         WHERE id = $1 AND company_id = $2 RETURNING {ROW}"
    );
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            id.into(),
            company_id.into(),
            display_name.into(),
            external_id.into(),
            resource.clone().into(),
        ],
    ))
    .one(conn)
    .await?;
    row.ok_or_else(|| DbErr::RecordNotFound(format!("group {id}")))
}

/// Deletes a group (its memberships go with it); returns the deletion's timestamp.
pub async fn delete(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    id: Uuid,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let row = conn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "DELETE FROM directory_groups WHERE id = $1 AND company_id = $2
                 RETURNING {NEXT_MODIFIED} AS at"
            ),
            [id.into(), company_id.into()],
        ))
        .await?;
    row.map(|r| r.try_get("", "at")).transpose()
}

/// The ids of a group's members, in id order.
pub async fn member_ids(conn: &impl ConnectionTrait, group_id: Uuid) -> Result<Vec<Uuid>, DbErr> {
    let rows = conn
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT user_id FROM directory_group_members WHERE group_id = $1 ORDER BY user_id",
            [group_id.into()],
        ))
        .await?;
    rows.iter().map(|r| r.try_get("", "user_id")).collect()
}

/// Adds members (users of the company, checked by the caller).
pub async fn add_members(
    conn: &impl ConnectionTrait,
    company_id: Uuid,
    group_id: Uuid,
    user_ids: &[Uuid],
) -> Result<(), DbErr> {
    if user_ids.is_empty() {
        return Ok(());
    }
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO directory_group_members (group_id, user_id, company_id)
         SELECT $1, u, $2 FROM unnest($3::uuid[]) AS u ON CONFLICT DO NOTHING",
        [group_id.into(), company_id.into(), user_ids.to_vec().into()],
    ))
    .await?;
    Ok(())
}

pub async fn remove_members(
    conn: &impl ConnectionTrait,
    group_id: Uuid,
    user_ids: &[Uuid],
) -> Result<(), DbErr> {
    if user_ids.is_empty() {
        return Ok(());
    }
    conn.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "DELETE FROM directory_group_members WHERE group_id = $1 AND user_id = ANY($2)",
        [group_id.into(), user_ids.to_vec().into()],
    ))
    .await?;
    Ok(())
}

/// A member as a Group's `members` attribute shows it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct MemberRef {
    pub group_id: Uuid,
    pub user_id: Uuid,
    /// The user's displayName, else its userName.
    pub display: String,
}

/// The members of each of these groups, in user id order.
pub async fn members_of(
    conn: &impl ConnectionTrait,
    group_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<MemberRef>>, DbErr> {
    if group_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = MemberRef::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT m.group_id, u.id AS user_id,
                COALESCE(NULLIF(u.resource->>'displayName', ''), u.user_name) AS display
         FROM directory_group_members m JOIN directory_users u ON u.id = m.user_id
         WHERE m.group_id = ANY($1) ORDER BY m.group_id, u.id",
        [group_ids.to_vec().into()],
    ))
    .all(conn)
    .await?;
    let mut out: HashMap<Uuid, Vec<MemberRef>> = HashMap::new();
    for row in rows {
        out.entry(row.group_id).or_default().push(row);
    }
    Ok(out)
}
